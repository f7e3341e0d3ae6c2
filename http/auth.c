/* http/auth.c — HTTP basic auth against a file of `user:bcrypt-hash` lines,
 * verified with crypt_r (libxcrypt: $2b$, $2y$, $2a$).
 * Invariants: a password is never stored, logged or put in an error; the
 * crypt result is compared in constant time; an unknown user costs the same
 * bcrypt work as a known one; a success is remembered only as the SHA-256 of
 * the whole header value, so repeated scrapes do not pay bcrypt each time.
 * Every hash has a cost of at least ARK_HTTP_BCRYPT_MIN_COST (a weaker file
 * is refused at start). The check is split for the server: the cache and
 * the header's shape on the event loop (ark_http_auth_cached,
 * ark_http_auth_wellformed), bcrypt on a worker thread with its own
 * crypt_data (ark_http_auth_verify: reads only the immutable user table),
 * and the remembering back on the loop (ark_http_auth_remember). */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "http/internal.h"

#define AUTH_MAX_USERS 1024
#define AUTH_CACHE 16
#define AUTH_MAX_HEADER 1024

struct auth_user {
	char *name;
	char *hash;
};

struct ark_http_auth {
	struct auth_user *users;
	size_t n_users;
	struct crypt_data *cd;
	unsigned char cache[AUTH_CACHE][SHA256_DIGEST_LENGTH];
	bool cache_used[AUTH_CACHE];
	unsigned cache_next;
};

void ark_http_auth_free(struct ark_http_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_users; i++) {
		free(a->users[i].name);
		if (a->users[i].hash) {
			OPENSSL_cleanse(a->users[i].hash, strlen(a->users[i].hash));
			free(a->users[i].hash);
		}
	}
	free(a->users);
	if (a->cd) {
		OPENSSL_cleanse(a->cd, sizeof(*a->cd));
		free(a->cd);
	}
	OPENSSL_cleanse(a->cache, sizeof(a->cache));
	free(a);
}

static bool is_bcrypt(const char *h)
{
	return strlen(h) == 60 && h[0] == '$' && h[1] == '2' &&
	       (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$' && h[4] >= '0' && h[4] <= '9' &&
	       h[5] >= '0' && h[5] <= '9' && h[6] == '$';
}

static int bcrypt_cost(const char *h)
{
	return (h[4] - '0') * 10 + (h[5] - '0');
}

int ark_http_auth_load(struct ark_http_auth **out, const char *path, struct ark_err *err)
{
	*out = NULL;
	FILE *f = fopen(path, "r");
	if (!f)
		return ark_err_set(err, -errno, "METRICS_BASIC_AUTH_FILE: cannot open %s: %s", path, strerror(errno));
	struct ark_http_auth *a = calloc(1, sizeof(*a));
	int rc = 0;
	if (!a || !(a->cd = calloc(1, sizeof(*a->cd))) ||
	    !(a->users = calloc(AUTH_MAX_USERS, sizeof(*a->users)))) {
		rc = ark_err_set(err, -ENOMEM, "METRICS_BASIC_AUTH_FILE: out of memory");
		goto out;
	}
	char line[1024];
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			rc = ark_err_set(err, -EINVAL, "METRICS_BASIC_AUTH_FILE: %s:%u: line too long", path, lineno);
			goto out;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		char *colon = strchr(s, ':');
		if (!colon || colon == s) {
			rc = ark_err_set(err, -EINVAL, "METRICS_BASIC_AUTH_FILE: %s:%u: expected user:bcrypt-hash", path, lineno);
			goto out;
		}
		*colon = '\0';
		if (!is_bcrypt(colon + 1)) {
			rc = ark_err_set(err, -EINVAL,
					 "METRICS_BASIC_AUTH_FILE: %s:%u: user '%s' has no bcrypt hash ($2b$/$2y$, 60 characters)",
					 path, lineno, s);
			goto out;
		}
		if (bcrypt_cost(colon + 1) < ARK_HTTP_BCRYPT_MIN_COST) {
			/* A cheap hash turns the server into a fast password oracle. */
			rc = ark_err_set(err, -EINVAL,
					 "METRICS_BASIC_AUTH_FILE: %s:%u: user '%s' has a bcrypt hash of cost %d, below the minimum %d "
					 "(make a new one: htpasswd -nbB -C 12 USER PASSWORD)",
					 path, lineno, s, bcrypt_cost(colon + 1), ARK_HTTP_BCRYPT_MIN_COST);
			goto out;
		}
		if (a->n_users == AUTH_MAX_USERS) {
			rc = ark_err_set(err, -E2BIG, "METRICS_BASIC_AUTH_FILE: %s: more than %d users", path, AUTH_MAX_USERS);
			goto out;
		}
		struct auth_user *u = &a->users[a->n_users];
		u->name = strdup(s);
		u->hash = strdup(colon + 1);
		if (!u->name || !u->hash) {
			rc = ark_err_set(err, -ENOMEM, "METRICS_BASIC_AUTH_FILE: out of memory");
			goto out;
		}
		a->n_users++;
	}
	if (ferror(f)) {
		rc = ark_err_set(err, -EIO, "METRICS_BASIC_AUTH_FILE: error reading %s", path);
		goto out;
	}
	if (a->n_users == 0)
		rc = ark_err_set(err, -EINVAL, "METRICS_BASIC_AUTH_FILE: %s has no users", path);
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	if (rc)
		ark_http_auth_free(a);
	else
		*out = a;
	return rc;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Standard base64 with optional '=' padding; -1 on anything else. */
static long b64decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	size_t i = 0;
	for (; i < n && in[i] != '='; i++) {
		int v = b64val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	for (; i < n; i++)
		if (in[i] != '=')
			return -1;
	return (long)o;
}

/* The credentials of a header that starts "Basic " (any case), decoded into
 * cred (room for AUTH_MAX_HEADER bytes, one kept for a NUL): their length,
 * or -1 when the base64 is bad. */
static long basic_credentials(const char *hv, size_t len, char *cred)
{
	const char *p = hv + 6;
	size_t n = len - 6;
	while (n && *p == ' ')
		p++, n--;
	return b64decode(p, n, cred, AUTH_MAX_HEADER - 1);
}

bool ark_http_auth_wellformed(const char *hv, size_t len)
{
	if (!hv || len < 7 || len > AUTH_MAX_HEADER || strncasecmp(hv, "Basic ", 6) != 0)
		return false;
	char cred[AUTH_MAX_HEADER];
	long m = basic_credentials(hv, len, cred);
	bool ok = m > 0 && memchr(cred, ':', (size_t)m) && !memchr(cred, '\0', (size_t)m);
	OPENSSL_cleanse(cred, sizeof(cred));
	return ok;
}

bool ark_http_auth_cached(const struct ark_http_auth *a, const char *hv, size_t len)
{
	if (!hv || len > AUTH_MAX_HEADER)
		return false;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)hv, len, digest);
	bool hit = false;
	for (unsigned i = 0; i < AUTH_CACHE; i++)
		if (a->cache_used[i] && CRYPTO_memcmp(a->cache[i], digest, sizeof(digest)) == 0)
			hit = true;
	return hit;
}

void ark_http_auth_remember(struct ark_http_auth *a, const char *hv, size_t len)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)hv, len, digest);
	memcpy(a->cache[a->cache_next], digest, sizeof(digest));
	a->cache_used[a->cache_next] = true;
	a->cache_next = (a->cache_next + 1) % AUTH_CACHE;
}

bool ark_http_auth_verify(const struct ark_http_auth *a, const char *hv, size_t len, struct crypt_data *cd)
{
	if (!ark_http_auth_wellformed(hv, len))
		return false;
	char cred[AUTH_MAX_HEADER];
	long m = basic_credentials(hv, len, cred);
	bool ok = false;
	if (m > 0) {
		cred[m] = '\0';
		char *colon = memchr(cred, ':', (size_t)m);
		if (colon && strlen(cred) == (size_t)m) { /* no NUL inside */
			*colon = '\0';
			const char *password = colon + 1;
			const struct auth_user *u = NULL;
			for (size_t i = 0; i < a->n_users; i++)
				if (strcmp(a->users[i].name, cred) == 0)
					u = &a->users[i];
			/* Unknown user: hash against a real setting anyway (same cost). */
			const char *setting = u ? u->hash : a->users[0].hash;
			const char *res = crypt_r(password, setting, cd);
			if (res && u && res[0] != '*' && strlen(res) == strlen(u->hash) &&
			    CRYPTO_memcmp(res, u->hash, strlen(u->hash)) == 0)
				ok = true;
		}
	}
	OPENSSL_cleanse(cred, sizeof(cred));
	OPENSSL_cleanse(cd, sizeof(*cd));
	return ok;
}

bool ark_http_auth_check(struct ark_http_auth *a, const char *hv, size_t len)
{
	if (ark_http_auth_cached(a, hv, len))
		return true;
	bool ok = ark_http_auth_verify(a, hv, len, a->cd);
	if (ok)
		ark_http_auth_remember(a, hv, len);
	return ok;
}
