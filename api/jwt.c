/* api/jwt.c — HS256 JSON Web Tokens, verified strictly (see api.h).
 *
 * Order matters: the header is checked (alg exactly HS256) and the signature
 * compared in constant time before a single byte of the payload is decoded,
 * so nothing an attacker writes in the claims is looked at unless the token
 * was signed with our key. The MAC covers the two parts exactly as received. */
#include "api/api.h"

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_MAX_TOKENS 64
#define JWT_MAX_PART 3072

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int ark_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (len % 4 == 1)
		return -1;
	size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (need > cap)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)   /* the unused low bits of the last character must be zero */
		return -1;
	*out_len = o;
	return 0;
}

size_t ark_base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			if (o + 1 < cap)
				out[o] = B64URL[(acc >> bits) & 63];
			o++;
		}
	}
	if (bits > 0) {
		if (o + 1 < cap)
			out[o] = B64URL[(acc << (6 - bits)) & 63];
		o++;
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
	return o;
}

int ark_jwt_config_from_env(struct ark_jwt_config *c, struct ark_err *err)
{
	memset(c, 0, sizeof *c);
	const char *secret = getenv("JWT_SECRET");
	if (!secret || !*secret)
		return ark_err_set(err, -EINVAL, "JWT_SECRET is not set (at least %d bytes of random data)", ARK_JWT_MIN_SECRET);
	size_t n = strlen(secret);
	if (n < ARK_JWT_MIN_SECRET)
		return ark_err_set(err, -EINVAL, "JWT_SECRET is %zu bytes; HS256 needs at least %d", n, ARK_JWT_MIN_SECRET);
	if (n > sizeof c->secret)
		return ark_err_set(err, -EINVAL, "JWT_SECRET is longer than %zu bytes", sizeof c->secret);
	memcpy(c->secret, secret, n);
	c->secret_len = n;
	const char *iss = getenv("JWT_ISSUER"), *aud = getenv("JWT_AUDIENCE");
	if (iss && strlen(iss) >= sizeof c->issuer)
		return ark_err_set(err, -EINVAL, "JWT_ISSUER is longer than %zu characters", sizeof c->issuer - 1);
	if (aud && strlen(aud) >= sizeof c->audience)
		return ark_err_set(err, -EINVAL, "JWT_AUDIENCE is longer than %zu characters", sizeof c->audience - 1);
	snprintf(c->issuer, sizeof c->issuer, "%s", iss ? iss : "");
	snprintf(c->audience, sizeof c->audience, "%s", aud ? aud : "");
	uint64_t leeway, max;
	int rc = ark_env_u64("JWT_LEEWAY_S", 30, 0, 600, &leeway, err);
	if (!rc)
		rc = ark_env_u64("JWT_MAX_BYTES", ARK_JWT_DEFAULT_MAX_BYTES, 128, 65536, &max, err);
	if (rc)
		return rc;
	c->leeway_s = leeway;
	c->max_bytes = (size_t)max;
	return 0;
}

static int deny(struct ark_err *err, const char *why)
{
	return ark_err_set(err, -EACCES, "invalid token: %s", why);
}

/* A JSON object of string, integer and string-array values, strictly. */
struct flat_json {
	const char *js;
	jsmntok_t tok[JWT_MAX_TOKENS];
	int ntok;
};

/* jsmn is lenient ({"a":1,} passes): the grammar of what we accept is
 * checked here first. Object of "key": value, value a string, a number, true,
 * false, null or an array of strings; whitespace anywhere JSON allows it. */
static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static size_t scan_string(const char *s, size_t i, size_t n)
{
	if (i >= n || s[i] != '"')
		return 0;
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++i >= n || !strchr("\"\\/bfnrtu", s[i]))
				return 0;
			if (s[i] == 'u') {
				for (int k = 0; k < 4; k++)
					if (++i >= n || !strchr("0123456789abcdefABCDEF", s[i]))
						return 0;
			}
		} else if (c == '"') {
			return i + 1;
		}
	}
	return 0;
}

static size_t scan_scalar(const char *s, size_t i, size_t n)
{
	static const char *const words[] = {"true", "false", "null"};
	for (int w = 0; w < 3; w++) {
		size_t l = strlen(words[w]);
		if (n - i >= l && memcmp(s + i, words[w], l) == 0)
			return i + l;
	}
	size_t start = i;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	if (i < n && s[i] == '.') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i > start ? i : 0;
}

/* After an array's element or an object's member at *i: a ',' (1: another
 * follows, *i at it), the closing `close` (0: *i just after it), or anything
 * else (-1). */
static int after_item(const char *s, size_t *i, size_t n, char close)
{
	size_t k = skip_ws(s, *i, n);
	if (k < n && s[k] == ',') {
		*i = skip_ws(s, k + 1, n);
		return 1;
	}
	if (k >= n || s[k] != close)
		return -1;
	*i = k + 1;
	return 0;
}

static bool strict_flat_object(const char *s, size_t n)
{
	size_t i = skip_ws(s, 0, n);
	if (i >= n || s[i++] != '{')
		return false;
	i = skip_ws(s, i, n);
	if (i < n && s[i] == '}')
		return skip_ws(s, i + 1, n) == n;
	for (;;) {
		if (!(i = scan_string(s, i, n)))
			return false;
		i = skip_ws(s, i, n);
		if (i >= n || s[i++] != ':')
			return false;
		i = skip_ws(s, i, n);
		if (i < n && s[i] == '[') {
			i = skip_ws(s, i + 1, n);
			if (i < n && s[i] == ']') {
				i++;
			} else {
				int another = 1;
				while (another) {
					if (!(i = scan_string(s, i, n)) || (another = after_item(s, &i, n, ']')) < 0)
						return false;
				}
			}
		} else if (i < n && s[i] == '"') {
			if (!(i = scan_string(s, i, n)))
				return false;
		} else if (!(i = scan_scalar(s, i, n))) {
			return false;
		}
		int more = after_item(s, &i, n, '}');
		if (more < 0)
			return false;
		if (!more)
			return skip_ws(s, i, n) == n;
	}
}

static int parse_object(struct flat_json *j, const char *js, size_t len)
{
	if (!strict_flat_object(js, len))
		return -1;
	jsmn_parser p;
	jsmn_init(&p);
	j->js = js;
	j->ntok = jsmn_parse(&p, js, len, j->tok, JWT_MAX_TOKENS);
	if (j->ntok < 1 || j->tok[0].type != JSMN_OBJECT)
		return -1;
	/* keys: strings with one value each, never repeated */
	for (int i = 1; i < j->ntok; i++) {
		if (j->tok[i].parent != 0)
			continue;
		if (j->tok[i].type != JSMN_STRING || j->tok[i].size != 1)
			return -1;
		for (int k = 1; k < i; k++)
			if (j->tok[k].parent == 0 && j->tok[k].end - j->tok[k].start == j->tok[i].end - j->tok[i].start &&
			    memcmp(js + j->tok[k].start, js + j->tok[i].start, (size_t)(j->tok[i].end - j->tok[i].start)) == 0)
				return -1;
		const jsmntok_t *v = &j->tok[i + 1];
		if (v->type == JSMN_OBJECT)
			return -1;   /* no nested objects in a JWT we accept */
		if (v->type == JSMN_ARRAY)
			for (int e = 0; e < v->size; e++)
				if (i + 2 + e >= j->ntok || j->tok[i + 2 + e].type != JSMN_STRING)
					return -1;   /* arrays of strings only ("aud") */
	}
	return 0;
}

/* The value token of key, or NULL. */
static const jsmntok_t *field(const struct flat_json *j, const char *key)
{
	size_t kl = strlen(key);
	for (int i = 1; i + 1 < j->ntok; i++)
		if (j->tok[i].parent == 0 && (size_t)(j->tok[i].end - j->tok[i].start) == kl &&
		    memcmp(j->js + j->tok[i].start, key, kl) == 0)
			return &j->tok[i + 1];
	return NULL;
}

static bool string_is(const struct flat_json *j, const jsmntok_t *t, const char *want)
{
	size_t n = strlen(want);
	if (t->type != JSMN_STRING || (size_t)(t->end - t->start) != n)
		return false;
	/* no escapes in the values we compare: the raw bytes must match */
	return memcmp(j->js + t->start, want, n) == 0;
}

static int copy_string(const struct flat_json *j, const jsmntok_t *t, char *out, size_t cap)
{
	size_t n = (size_t)(t->end - t->start);
	if (t->type != JSMN_STRING || n >= cap || memchr(j->js + t->start, '\\', n))
		return -1;
	memcpy(out, j->js + t->start, n);
	out[n] = '\0';
	return 0;
}

static int integer(const struct flat_json *j, const jsmntok_t *t, uint64_t *out)
{
	size_t n = (size_t)(t->end - t->start);
	const char *s = j->js + t->start;
	if (t->type != JSMN_PRIMITIVE || n == 0 || n > 15)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;   /* NumericDate: whole seconds, no sign, fraction or exponent */
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static bool mac(const struct ark_jwt_config *c, const char *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	return HMAC(EVP_sha256(), c->secret, (int)c->secret_len, (const unsigned char *)data, len, out, &n) && n == 32;
}

int ark_jwt_verify(const struct ark_jwt_config *c, const char *token, size_t len, uint64_t now_s,
		   struct ark_jwt_claims *claims, struct ark_err *err)
{
	memset(claims, 0, sizeof *claims);
	if (!token || len == 0)
		return deny(err, "no token");
	if (len > c->max_bytes)
		return deny(err, "token too large");
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return deny(err, "a JWT has exactly three parts");
	size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1), slen = len - (size_t)(dot2 + 1 - token);
	if (!hlen || !plen || !slen)
		return deny(err, slen ? "empty part" : "empty signature");
	if (hlen > JWT_MAX_PART || plen > JWT_MAX_PART)
		return deny(err, "token too large");
	char header[JWT_MAX_PART], payload[JWT_MAX_PART];
	uint8_t sig[64];
	size_t header_len, sig_len, payload_len;
	if (ark_base64url_decode(token, hlen, (uint8_t *)header, sizeof header, &header_len))
		return deny(err, "header is not base64url");
	struct flat_json hj;
	if (parse_object(&hj, header, header_len))
		return deny(err, "header is not a JSON object");
	const jsmntok_t *alg = field(&hj, "alg");
	if (!alg || !string_is(&hj, alg, "HS256"))
		return deny(err, "alg must be HS256");
	const jsmntok_t *typ = field(&hj, "typ");
	if (typ && !string_is(&hj, typ, "JWT"))
		return deny(err, "typ must be JWT");
	if (field(&hj, "crit"))
		return deny(err, "critical header extensions are not supported");
	if (ark_base64url_decode(dot2 + 1, slen, sig, sizeof sig, &sig_len))
		return deny(err, "signature is not base64url");
	if (sig_len != 32)
		return deny(err, "signature must be 32 bytes");
	uint8_t want[32];
	if (!mac(c, token, (size_t)(dot2 - token), want))
		return deny(err, "cannot compute the signature");   /* fail closed */
	if (CRYPTO_memcmp(want, sig, 32) != 0)
		return deny(err, "bad signature");
	/* Signed by us: now the claims. */
	if (ark_base64url_decode(dot1 + 1, plen, (uint8_t *)payload, sizeof payload, &payload_len))
		return deny(err, "payload is not base64url");
	struct flat_json pj;
	if (parse_object(&pj, payload, payload_len))
		return deny(err, "payload is not a JSON object");
	const jsmntok_t *t = field(&pj, "exp");
	if (!t || integer(&pj, t, &claims->exp))
		return deny(err, "exp (a NumericDate) is required");
	if (now_s > claims->exp + c->leeway_s)
		return deny(err, "expired");
	if ((t = field(&pj, "nbf"))) {
		if (integer(&pj, t, &claims->nbf))
			return deny(err, "nbf must be a NumericDate");
		if (claims->nbf > now_s + c->leeway_s)
			return deny(err, "not yet valid");
	}
	if ((t = field(&pj, "iat")) && integer(&pj, t, &claims->iat))
		return deny(err, "iat must be a NumericDate");
	if (c->issuer[0] && (!(t = field(&pj, "iss")) || !string_is(&pj, t, c->issuer)))
		return deny(err, "wrong issuer");
	if (c->audience[0]) {
		t = field(&pj, "aud");
		bool ok = t && string_is(&pj, t, c->audience);
		for (int e = 0; t && t->type == JSMN_ARRAY && e < t->size && !ok; e++)
			ok = string_is(&pj, t + 1 + e, c->audience);
		if (!ok)
			return deny(err, "wrong audience");
	}
	if ((t = field(&pj, "sub")) && copy_string(&pj, t, claims->sub, sizeof claims->sub))
		return deny(err, "sub must be a short plain string");
	if ((t = field(&pj, "scope")) && copy_string(&pj, t, claims->scope, sizeof claims->scope))
		return deny(err, "scope must be a short plain string");
	return 0;
}

const char *ark_jwt_bearer(const char *header, size_t len, size_t *token_len)
{
	if (!header || len < 8 || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	const char *t = header + 7;
	size_t n = len - 7;
	while (n && *t == ' ') {
		t++;
		n--;
	}
	while (n && t[n - 1] == ' ')
		n--;
	*token_len = n;
	return n ? t : NULL;
}

bool ark_jwt_has_scope(const struct ark_jwt_claims *c, const char *scope)
{
	size_t n = strlen(scope);
	for (const char *p = c->scope; *p;) {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && memcmp(p, scope, n) == 0)
			return true;
		p += len;
	}
	return false;
}

static bool plain(const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

int ark_jwt_mint(const struct ark_jwt_config *c, const char *sub, const char *scope, uint64_t now_s, uint64_t ttl_s,
		 char *out, size_t cap, struct ark_err *err)
{
	if (!plain(sub) || !plain(scope) || !plain(c->issuer) || !plain(c->audience))
		return ark_err_set(err, -EINVAL, "sub, scope, issuer and audience must not hold quotes, backslashes or control characters");
	char payload[1024];
	int n = snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"scope\":\"%s\",\"iat\":%" PRIu64 ",\"exp\":%" PRIu64 "%s%s%s%s%s%s}",
			 sub, scope, now_s, now_s + ttl_s, c->issuer[0] ? ",\"iss\":\"" : "", c->issuer,
			 c->issuer[0] ? "\"" : "", c->audience[0] ? ",\"aud\":\"" : "", c->audience, c->audience[0] ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof payload)
		return ark_err_set(err, -EINVAL, "claims too long");
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char buf[2048];
	size_t o = ark_base64url_encode((const uint8_t *)header, sizeof header - 1, buf, sizeof buf);
	buf[o++] = '.';
	o += ark_base64url_encode((const uint8_t *)payload, (size_t)n, buf + o, sizeof buf - o);
	uint8_t sig[32];
	if (!mac(c, buf, o, sig))
		return ark_err_set(err, -EIO, "cannot compute the signature");
	buf[o++] = '.';
	o += ark_base64url_encode(sig, sizeof sig, buf + o, sizeof buf - o);
	if (o + 1 > cap)
		return ark_err_set(err, -ENOSPC, "token buffer too small");
	memcpy(out, buf, o + 1);
	return 0;
}
