/* tests/fuzz/fuzz_jwt.c — libFuzzer target for the JWT verifier
 * (api/jwt.c): any input is refused with a message or accepted with claims
 * that satisfy the rules; never a crash or an overread. The first byte picks
 * whether iss/aud are configured, so both paths are explored. */
#include "api/api.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct ark_jwt_config c;
	memset(&c, 0, sizeof c);
	memcpy(c.secret, "fuzz-secret-0123456789abcdefghijklmnop", 38);
	c.secret_len = 38;
	c.leeway_s = 30;
	c.max_bytes = 4096;
	if (data[0] & 1) {
		strcpy(c.issuer, "ark");
		strcpy(c.audience, "ark-api");
	}
	struct ark_jwt_claims claims;
	struct ark_err err = {0};
	const char *token = (const char *)data + 1;
	size_t token_len = size - 1;
	static char signed_token[16384];
	if ((data[0] & 2) && size < 4000) {
		/* "header JSON\npayload JSON", signed here with the key: the claims
		 * parser behind the signature check gets fuzzed too. */
		const char *nl = memchr(token, '\n', token_len);
		if (!nl)
			return 0;
		size_t o = ark_base64url_encode((const uint8_t *)token, (size_t)(nl - token), signed_token, 8000);
		signed_token[o++] = '.';
		o += ark_base64url_encode((const uint8_t *)nl + 1, token_len - (size_t)(nl + 1 - token), signed_token + o,
					  8000);
		uint8_t mac[32];
		unsigned int mlen = 32;
		HMAC(EVP_sha256(), c.secret, (int)c.secret_len, (unsigned char *)signed_token, o, mac, &mlen);
		signed_token[o++] = '.';
		o += ark_base64url_encode(mac, 32, signed_token + o, 100);
		token = signed_token;
		token_len = o;
	}
	int rc = ark_jwt_verify(&c, token, token_len, NOW, &claims, &err);
	if (rc == 0) {
		if (NOW > claims.exp + c.leeway_s || claims.nbf > NOW + c.leeway_s)
			abort();
	} else if (rc != -EACCES || !err.msg[0]) {
		abort();
	}
	size_t n;
	const char *t = ark_jwt_bearer((const char *)data, size, &n);
	if (t && (t < (const char *)data || t + n > (const char *)data + size))
		abort();
	return 0;
}
