/* mirror/url.c — REDIS_URL: redis://[[user]:password@]host[:port][/db] and
 * unix://[[user]:password@]/path[?db=N], strictly: every malformed part is an
 * error that names it, and the password is never part of a message.
 * Percent-escapes in the user and password are decoded (a password may hold
 * '@' or ':' as %40 and %3A). */
#include "mirror/mirror.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Decode [p, end) with %XX escapes into out; -1 on a bad escape or overflow. */
static int decode(const char *p, const char *end, char *out, size_t cap)
{
	size_t n = 0;
	while (p < end) {
		char c = *p++;
		if (c == '%') {
			if (end - p < 2 || ark_hex_digit(p[0]) < 0 || ark_hex_digit(p[1]) < 0)
				return -1;
			c = (char)(ark_hex_digit(p[0]) * 16 + ark_hex_digit(p[1]));
			p += 2;
			if (c == '\0')
				return -1;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static int parse_number(const char *p, const char *end, long min, long max, long *out)
{
	if (p == end || end - p > 10)
		return -1;
	long v = 0;
	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The whole text: not empty, at most 1024 characters, no space or control
 * character anywhere. */
static int check_text(const char *url, struct ark_err *err)
{
	if (!url || !*url)
		return ark_err_set(err, -EINVAL, "REDIS_URL is empty");
	size_t total = strlen(url);
	if (total > 1024)
		return ark_err_set(err, -EINVAL, "REDIS_URL is longer than 1024 characters");
	for (size_t i = 0; i < total; i++)
		if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] == 0x7f)
			return ark_err_set(err, -EINVAL, "REDIS_URL holds a space or control character at position %zu", i + 1);
	return 0;
}

/* The scheme: *rest is what follows it. */
static int parse_scheme(const char *url, const char **rest, struct ark_redis_url *out, struct ark_err *err)
{
	if (strncmp(url, "redis://", 8) == 0) {
		*rest = url + 8;
	} else if (strncmp(url, "unix://", 7) == 0) {
		*rest = url + 7;
		out->unix_socket = true;
	} else if (strncmp(url, "rediss://", 9) == 0) {
		return ark_err_set(err, -EINVAL,
				   "REDIS_URL: rediss:// (TLS) is not supported by this build's hiredis 0.14; use redis:// on a "
				   "trusted network or a local TLS tunnel");
	} else {
		return ark_err_set(err, -EINVAL, "REDIS_URL must start with redis:// or unix://");
	}
	return 0;
}

/* [[user]:password@] at *p, if there: decoded into out, *p moved past the
 * '@'. The userinfo runs up to the last '@' (a raw '@' in a password is
 * ambiguous and must be written %40, but the last '@' still ends it). */
static int parse_credentials(const char **p, struct ark_redis_url *out, struct ark_err *err)
{
	const char *at = strrchr(*p, '@');
	if (!at)
		return 0;
	const char *colon = memchr(*p, ':', (size_t)(at - *p));
	if (!colon)
		return ark_err_set(err, -EINVAL,
				   "REDIS_URL: credentials must be user:password@ or :password@ (the ':' is missing)");
	if (decode(*p, colon, out->user, sizeof out->user))
		return ark_err_set(err, -EINVAL, "REDIS_URL: the user name is too long or has a bad %%-escape");
	if (decode(colon + 1, at, out->password, sizeof out->password))
		return ark_err_set(err, -EINVAL, "REDIS_URL: the password is too long or has a bad %%-escape");
	if (!out->password[0])
		return ark_err_set(err, -EINVAL, "REDIS_URL: the password after ':' is empty");
	*p = at + 1;
	return 0;
}

/* unix: /path[?db=N] in [p, end). */
static int parse_unix(const char *p, const char *end, struct ark_redis_url *out, struct ark_err *err)
{
	const char *query = memchr(p, '?', (size_t)(end - p));
	const char *path_end = query ? query : end;
	if (p == path_end || *p != '/')
		return ark_err_set(err, -EINVAL, "REDIS_URL: unix:// needs an absolute socket path (unix:///run/redis.sock)");
	if ((size_t)(path_end - p) >= sizeof out->host)
		return ark_err_set(err, -EINVAL, "REDIS_URL: the socket path is too long");
	memcpy(out->host, p, (size_t)(path_end - p));
	out->host[path_end - p] = '\0';
	if (query) {
		long db;
		if (strncmp(query, "?db=", 4) != 0 || parse_number(query + 4, end, 0, 1000000, &db))
			return ark_err_set(err, -EINVAL, "REDIS_URL: after the socket path only ?db=N (a number) is understood");
		out->db = (int)db;
	}
	return 0;
}

/* The host of [p, hostport_end): [IPv6] or a name; *port_start is where a
 * ':port' after it begins, NULL when there is none. */
static int parse_host(const char *p, const char *hostport_end, const char **port_start, struct ark_redis_url *out,
		      struct ark_err *err)
{
	*port_start = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(hostport_end - p));
		if (!close || close == p + 1)
			return ark_err_set(err, -EINVAL, "REDIS_URL: an IPv6 address must be in brackets: redis://[::1]:6379");
		if ((size_t)(close - p - 1) >= sizeof out->host)
			return ark_err_set(err, -EINVAL, "REDIS_URL: the host is too long");
		memcpy(out->host, p + 1, (size_t)(close - p - 1));
		out->host[close - p - 1] = '\0';
		if (close + 1 < hostport_end) {
			if (close[1] != ':')
				return ark_err_set(err, -EINVAL, "REDIS_URL: expected ':port' after the IPv6 address");
			*port_start = close + 2;
		}
		return 0;
	}
	const char *colon = memchr(p, ':', (size_t)(hostport_end - p));
	const char *host_end = colon ? colon : hostport_end;
	if (colon)
		*port_start = colon + 1;
	if (host_end == p)
		return ark_err_set(err, -EINVAL, "REDIS_URL: the host is missing (redis://localhost:6379/0)");
	if ((size_t)(host_end - p) >= sizeof out->host)
		return ark_err_set(err, -EINVAL, "REDIS_URL: the host is too long");
	for (const char *q = p; q < host_end; q++)
		if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_')
			return ark_err_set(err, -EINVAL, "REDIS_URL: the host holds '%c', which no host name has", *q);
	memcpy(out->host, p, (size_t)(host_end - p));
	out->host[host_end - p] = '\0';
	return 0;
}

/* redis: host[:port][/db] in [p, end). */
static int parse_tcp(const char *p, const char *end, struct ark_redis_url *out, struct ark_err *err)
{
	const char *slash = memchr(p, '/', (size_t)(end - p));
	const char *hostport_end = slash ? slash : end;
	if (memchr(p, '?', (size_t)(end - p)) || memchr(p, '#', (size_t)(end - p)))
		return ark_err_set(err, -EINVAL, "REDIS_URL: query strings and fragments are not understood (redis://host:port/db)");
	const char *port_start;
	int rc = parse_host(p, hostport_end, &port_start, out, err);
	if (rc)
		return rc;
	if (port_start) {
		long port;
		if (parse_number(port_start, hostport_end, 1, 65535, &port))
			return ark_err_set(err, -EINVAL, "REDIS_URL: the port must be a number from 1 to 65535");
		out->port = (int)port;
	}
	if (slash && slash + 1 < end) {
		long db;
		if (parse_number(slash + 1, end, 0, 1000000, &db))
			return ark_err_set(err, -EINVAL, "REDIS_URL: the database after '/' must be a number (redis://host:6379/0)");
		out->db = (int)db;
	}
	return 0;
}

int ark_redis_url_parse(const char *url, struct ark_redis_url *out, struct ark_err *err)
{
	memset(out, 0, sizeof *out);
	out->port = 6379;
	const char *p = url;
	int rc;
	if ((rc = check_text(url, err)) || (rc = parse_scheme(url, &p, out, err)) ||
	    (rc = parse_credentials(&p, out, err)))
		return rc;
	const char *end = p + strlen(p);   /* p lies inside url: what follows the credentials */
	return out->unix_socket ? parse_unix(p, end, out, err) : parse_tcp(p, end, out, err);
}

void ark_redis_url_describe(const struct ark_redis_url *url, char *out, size_t len)
{
	const char *cred = url->password[0] ? "***@" : "";
	if (url->unix_socket)
		snprintf(out, len, "unix://%s%s%s%s?db=%d", url->user[0] ? url->user : "", url->password[0] ? ":" : "",
			 cred, url->host, url->db);
	else
		snprintf(out, len, "redis://%s%s%s%s%s%s:%d/%d", url->user[0] ? url->user : "", url->password[0] ? ":" : "",
			 cred, strchr(url->host, ':') ? "[" : "", url->host, strchr(url->host, ':') ? "]" : "", url->port,
			 url->db);
}
