/* tests/api/test_jwt.c — the JWT verifier against the attack set (each must
 * be refused), tokens built here independently of the minting code (OpenSSL's
 * HMAC and base64, translated to base64url), the leeway, iss/aud, scopes,
 * Bearer parsing, and mint/verify round trips. */
#include "api/api.h"
#include "check.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

#define NOW 1800000000ull
static const char SECRET[] = "test-secret-0123456789-abcdefghijklmnop";

/* base64url without padding, from OpenSSL's base64. */
static void b64url(const void *in, size_t len, char *out)
{
	unsigned char tmp[8192];
	int n = EVP_EncodeBlock(tmp, in, (int)len);
	int o = 0;
	for (int i = 0; i < n; i++) {
		if (tmp[i] == '=')
			break;
		out[o++] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char)tmp[i];
	}
	out[o] = '\0';
}

/* header.payload.HMAC(md, key) */
static void make(char *out, const char *header, const char *payload, const char *key, const EVP_MD *md)
{
	char h[4096], p[8192];
	b64url(header, strlen(header), h);
	b64url(payload, strlen(payload), p);
	sprintf(out, "%s.%s", h, p);
	unsigned char mac[64];
	unsigned int n = sizeof mac;
	HMAC(md ? md : EVP_sha256(), key, (int)strlen(key), (unsigned char *)out, strlen(out), mac, &n);
	char s[128];
	b64url(mac, n, s);
	strcat(out, ".");
	strcat(out, s);
}

static struct ark_jwt_config config(void)
{
	struct ark_jwt_config c;
	memset(&c, 0, sizeof c);
	memcpy(c.secret, SECRET, strlen(SECRET));
	c.secret_len = strlen(SECRET);
	c.leeway_s = 30;
	c.max_bytes = 4096;
	return c;
}

static void refused(const struct ark_jwt_config *c, const char *token, const char *why, const char *name)
{
	struct ark_jwt_claims claims;
	struct ark_err err = {0};
	int rc = ark_jwt_verify(c, token, strlen(token), NOW, &claims, &err);
	CHECK_MSG(rc == -EACCES, "%s: accepted", name);
	CHECK_MSG(strstr(err.msg, why), "%s: '%s' lacks '%s'", name, err.msg, why);
	CHECK_MSG(!strstr(err.msg, SECRET), "%s: the secret is in the message", name);
}

static void accepted(const struct ark_jwt_config *c, const char *token, struct ark_jwt_claims *claims, const char *name)
{
	struct ark_err err = {0};
	CHECK_MSG(ark_jwt_verify(c, token, strlen(token), NOW, claims, &err) == 0, "%s: %s", name, err.msg);
}

int main(void)
{
	struct ark_jwt_config c = config();
	static const char H[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char payload[8192], tok[16384], tampered[16384];
	struct ark_jwt_claims claims;
	snprintf(payload, sizeof payload, "{\"sub\":\"svc\",\"scope\":\"signals:write\",\"exp\":%llu}", NOW + 60);

	make(tok, H, payload, SECRET, NULL);
	accepted(&c, tok, &claims, "valid");
	CHECK(strcmp(claims.sub, "svc") == 0 && claims.exp == NOW + 60);
	CHECK(ark_jwt_has_scope(&claims, "signals:write") && !ark_jwt_has_scope(&claims, "admin") &&
	      !ark_jwt_has_scope(&claims, "signals"));

	/* The attack set. */
	refused(&c, "", "no token", "no token");
	char none[16384], h[512], p[8192];
	b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", strlen("{\"alg\":\"none\",\"typ\":\"JWT\"}"), h);
	b64url(payload, strlen(payload), p);
	snprintf(none, sizeof none, "%s.%s.", h, p);
	refused(&c, none, "empty signature", "alg none, no signature");
	make(tok, "{\"alg\":\"none\"}", payload, SECRET, NULL);
	refused(&c, tok, "alg must be HS256", "alg none, signed");
	make(tok, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, SECRET, EVP_sha512());
	refused(&c, tok, "alg must be HS256", "HS512");
	make(tok, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, SECRET, NULL);
	refused(&c, tok, "alg must be HS256", "RS256 with the secret as HMAC key");
	make(tok, "{\"alg\":\"hs256\"}", payload, SECRET, NULL);
	refused(&c, tok, "alg must be HS256", "alg in lower case");
	make(tok, "{\"alg\":\"HS256\",\"alg\":\"none\"}", payload, SECRET, NULL);
	refused(&c, tok, "not a JSON object", "duplicate alg");
	make(tok, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload, SECRET, NULL);
	refused(&c, tok, "critical", "crit header");
	make(tok, H, payload, "another-secret-0123456789-abcdefghijkl", NULL);
	refused(&c, tok, "bad signature", "wrong key");
	make(tok, H, payload, SECRET, NULL);
	snprintf(tampered, sizeof tampered, "%.*s", (int)(strrchr(tok, '.') - tok + 1), tok);
	refused(&c, tampered, "empty signature", "empty signature");
	snprintf(tampered, sizeof tampered, "%.*s", (int)strlen(tok) - 2, tok);
	refused(&c, tampered, "signature", "truncated signature");
	snprintf(tampered, sizeof tampered, "%.*s", (int)strlen(tok) - 4, tok);
	refused(&c, tampered, "signature", "signature shortened by 3 bytes");
	/* tampered payload: the same signature over other claims */
	char other[8192];
	snprintf(other, sizeof other, "{\"sub\":\"svc\",\"scope\":\"admin\",\"exp\":%llu}", NOW + 60);
	make(tampered, H, other, SECRET, NULL);
	snprintf(tampered + (strrchr(tampered, '.') - tampered), 200, "%s", strrchr(tok, '.'));
	refused(&c, tampered, "bad signature", "tampered payload");
	/* one character of the signed part flipped */
	snprintf(tampered, sizeof tampered, "%s", tok);
	tampered[strchr(tampered, '.') - tampered + 3] ^= 1;
	refused(&c, tampered, "", "flipped payload byte");
	/* padding and characters outside base64url */
	snprintf(tampered, sizeof tampered, "%s=", tok);
	refused(&c, tampered, "not base64url", "padding");
	snprintf(tampered, sizeof tampered, "%s", tok);
	*strchr(tampered, '.') = '+';
	refused(&c, tampered, "", "'+' in the token");
	snprintf(tampered, sizeof tampered, "%s", tok);
	tampered[2] = '/';
	refused(&c, tampered, "not base64url", "'/' in the header");
	snprintf(tampered, sizeof tampered, "%s.%s", tok, "abc");
	refused(&c, tampered, "three parts", "four parts");
	refused(&c, "abc.def", "three parts", "two parts");
	refused(&c, "..", "empty", "empty parts");
	/* time */
	snprintf(payload, sizeof payload, "{\"scope\":\"signals:write\",\"exp\":%llu}", NOW - 100);
	make(tok, H, payload, SECRET, NULL);
	refused(&c, tok, "expired", "expired");
	snprintf(payload, sizeof payload, "{\"scope\":\"signals:write\",\"exp\":%llu}", NOW - 10);
	make(tok, H, payload, SECRET, NULL);
	accepted(&c, tok, &claims, "expired within the leeway");
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"nbf\":%llu}", NOW + 600, NOW + 100);
	make(tok, H, payload, SECRET, NULL);
	refused(&c, tok, "not yet valid", "not yet valid");
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"nbf\":%llu}", NOW + 600, NOW + 10);
	make(tok, H, payload, SECRET, NULL);
	accepted(&c, tok, &claims, "nbf within the leeway");
	make(tok, H, "{\"sub\":\"x\"}", SECRET, NULL);
	refused(&c, tok, "exp", "no exp");
	make(tok, H, "{\"exp\":\"1900000000\"}", SECRET, NULL);
	refused(&c, tok, "exp", "exp as a string");
	make(tok, H, "{\"exp\":1.9e9}", SECRET, NULL);
	refused(&c, tok, "exp", "exp with an exponent");
	make(tok, H, "{\"exp\":1900000000,}", SECRET, NULL);
	refused(&c, tok, "not a JSON object", "trailing comma");
	make(tok, H, "[1900000000]", SECRET, NULL);
	refused(&c, tok, "not a JSON object", "payload an array");
	/* size */
	char big[6000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"pad\":\"%s\"}", NOW + 60, big);
	make(tok, H, payload, SECRET, NULL);
	refused(&c, tok, "too large", "oversized token");
	/* iss and aud */
	snprintf(c.issuer, sizeof c.issuer, "ark");
	snprintf(c.audience, sizeof c.audience, "ark-api");
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"iss\":\"ark\",\"aud\":[\"x\",\"ark-api\"]}", NOW + 60);
	make(tok, H, payload, SECRET, NULL);
	accepted(&c, tok, &claims, "iss and aud in an array");
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"iss\":\"evil\",\"aud\":\"ark-api\"}", NOW + 60);
	make(tok, H, payload, SECRET, NULL);
	refused(&c, tok, "issuer", "wrong issuer");
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"iss\":\"ark\",\"aud\":\"other\"}", NOW + 60);
	make(tok, H, payload, SECRET, NULL);
	refused(&c, tok, "audience", "wrong audience");
	snprintf(payload, sizeof payload, "{\"exp\":%llu,\"iss\":\"ark\"}", NOW + 60);
	make(tok, H, payload, SECRET, NULL);
	refused(&c, tok, "audience", "no audience");

	/* Mint, verify; Bearer parsing. */
	char minted[2048];
	struct ark_err err = {0};
	CHECK(ark_jwt_mint(&c, "ops", "signals:write admin", NOW, 300, minted, sizeof minted, &err) == 0);
	accepted(&c, minted, &claims, "minted");
	CHECK(ark_jwt_has_scope(&claims, "admin") && ark_jwt_has_scope(&claims, "signals:write"));
	CHECK(claims.exp == NOW + 300 && claims.iat == NOW);
	char header[2100];
	size_t n;
	snprintf(header, sizeof header, "bearer  %s ", minted);
	const char *t = ark_jwt_bearer(header, strlen(header), &n);
	CHECK(t && n == strlen(minted) && memcmp(t, minted, n) == 0);
	CHECK(!ark_jwt_bearer("Basic abc", 9, &n));
	CHECK(!ark_jwt_bearer("Bearer ", 7, &n));
	CHECK(ark_jwt_mint(&c, "a\"b", "x", NOW, 60, minted, sizeof minted, &err) != 0);

	/* base64url, strictly */
	uint8_t buf[16];
	CHECK(ark_base64url_decode("QQ", 2, buf, sizeof buf, &n) == 0 && n == 1 && buf[0] == 'A');
	CHECK(ark_base64url_decode("QR", 2, buf, sizeof buf, &n) != 0);   /* stray bits */
	CHECK(ark_base64url_decode("Q", 1, buf, sizeof buf, &n) != 0);
	CHECK(ark_base64url_decode("QQ==", 4, buf, sizeof buf, &n) != 0);

	/* JWT_SECRET from the environment */
	setenv("JWT_SECRET", "short", 1);
	CHECK(ark_jwt_config_from_env(&c, &err) != 0 && strstr(err.msg, "at least 32") && !strstr(err.msg, "short"));
	unsetenv("JWT_SECRET");
	CHECK(ark_jwt_config_from_env(&c, &err) != 0 && strstr(err.msg, "JWT_SECRET is not set"));
	printf("jwt: ok\n");
	return 0;
}
