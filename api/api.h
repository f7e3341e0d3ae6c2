/* api/api.h — the ingest API's security core: JSON Web Tokens signed with
 * HMAC-SHA256 (JWT_SECRET), verified strictly, and minted for operators and
 * tests (`ark token`).
 *
 * The verifier accepts a token only when: it is at most max_bytes long; it has
 * exactly three non-empty parts of base64url characters, decoded strictly (no
 * padding, no stray bits); the header is a JSON object whose "alg" is exactly
 * "HS256" (never "none", never another algorithm: the key is never chosen by
 * the token), with no "crit"; the signature is exactly 32 bytes and equals the
 * HMAC over the bytes received, compared in constant time; only then is the
 * payload read: a JSON object with a numeric "exp" in the future, "nbf" (when
 * present) in the past, both with a small leeway, and "iss" and "aud" equal to
 * the configured ones when configured. Scopes are the space-separated "scope"
 * claim ("signals:write", "admin"). */
#ifndef ARK_API_H
#define ARK_API_H

#include "common/common.h"
#include "event/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARK_JWT_MIN_SECRET 32          /* bytes of JWT_SECRET */
#define ARK_JWT_DEFAULT_MAX_BYTES 4096

struct ark_jwt_config {
	uint8_t secret[512];
	size_t secret_len;
	char issuer[128];              /* JWT_ISSUER: "" = not checked */
	char audience[128];            /* JWT_AUDIENCE: "" = not checked */
	uint64_t leeway_s;             /* JWT_LEEWAY_S (default 30) */
	size_t max_bytes;              /* JWT_MAX_BYTES (default 4096) */
};
/* JWT_SECRET (required, at least 32 bytes), JWT_ISSUER, JWT_AUDIENCE,
 * JWT_LEEWAY_S, JWT_MAX_BYTES. The secret never appears in a message. */
int ark_jwt_config_from_env(struct ark_jwt_config *config, struct ark_err *err);

struct ark_jwt_claims {
	char sub[128];
	char scope[256];
	uint64_t exp, nbf, iat;
};

/* 0 and claims filled, or -EACCES with err saying why (safe to show the
 * client: it names the rule broken, never the secret or the expected MAC). */
int ark_jwt_verify(const struct ark_jwt_config *config, const char *token, size_t len, uint64_t now_s,
		   struct ark_jwt_claims *claims, struct ark_err *err);
/* A "Bearer <token>" Authorization header value to the token (case-
 * insensitive scheme); NULL when it is not one. */
const char *ark_jwt_bearer(const char *header, size_t len, size_t *token_len);
bool ark_jwt_has_scope(const struct ark_jwt_claims *claims, const char *scope);
/* Mint an HS256 token: sub, scope (space-separated), valid from now for ttl_s. */
int ark_jwt_mint(const struct ark_jwt_config *config, const char *sub, const char *scope, uint64_t now_s,
		 uint64_t ttl_s, char *out, size_t cap, struct ark_err *err);

/* base64url without padding (RFC 7515 §2), strict: -1 on any character
 * outside the alphabet, a length of 1 mod 4, or non-zero unused bits. */
int ark_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
size_t ark_base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* ---- POST /v1/signals bodies (api/signals.c) ----
 * One signal object, or an array of them (at most max): {"symbol": "AAPL",
 * "price": 187.3, "size": 100, "ts": 1732867200123456789} — the TCP feed's
 * fields, validated field by field by its parser. All or nothing: 0 with
 * *count ticks, or -EINVAL (400) / -E2BIG (413: more than max) with why
 * naming the signal (its index) and the field. */
#define ARK_API_DEFAULT_MAX_BATCH 1000
int ark_api_parse_signals(const char *body, size_t len, struct ark_tick *ticks, uint32_t max, uint32_t *count,
			  char *why, size_t why_len);

/* ---- POST /v1/synthetic bodies (api/synthetic.c): `ark synth --api-url` ----
 * An array of {"symbol", "price" (or "nan", "inf", "-inf"), "size" (signed),
 * "ts" (0: none), "kind" (an injected violation's reason), "lane", "burst"}:
 * the synthetic generator's ticks as they are, for a token with the
 * synthetic:write scope. All or nothing, like ark_api_parse_signals. */
int ark_api_parse_synthetic(const char *body, size_t len, struct ark_tick *ticks, uint32_t max, uint32_t *count,
			    char *why, size_t why_len);

/* ---- the API process (api/server.c) ----
 * `ark api`: the ingest API as source number `source` of a running instance:
 * API_BIND:API_PORT (127.0.0.1:8000), TLS with API_TLS_CERT/API_TLS_KEY. */
int ark_api_run(const char *instance, int source);

#endif /* ARK_API_H */
