/* http/buf.c — the growable byte buffer providers render bodies into.
 * Invariant: data[len] == '\0' whenever data != NULL, len < cap, and the
 * buffer never grows past ARK_HTTP_BUF_LIMIT; a failed growth sets `failed`
 * and leaves the earlier contents intact. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

void ark_http_buf_init(struct ark_http_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void ark_http_buf_free(struct ark_http_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void ark_http_buf_reset(struct ark_http_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

int ark_http_buf_reserve(struct ark_http_buf *b, size_t extra)
{
	if (extra >= ARK_HTTP_BUF_LIMIT || b->len + extra >= ARK_HTTP_BUF_LIMIT) {
		b->failed = true;
		return -ENOMEM;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	b->data[b->len] = '\0';
	return 0;
}

int ark_http_buf_append(struct ark_http_buf *b, const void *data, size_t n)
{
	int rc = ark_http_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ark_http_buf_puts(struct ark_http_buf *b, const char *s)
{
	return ark_http_buf_append(b, s, strlen(s));
}

int ark_http_buf_printf(struct ark_http_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc = ark_http_buf_reserve(b, 128);
	if (rc)
		return rc;
	va_start(ap, fmt);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		b->data[b->len] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= b->cap - b->len) {
		rc = ark_http_buf_reserve(b, (size_t)n);
		if (rc) {
			b->data[b->len] = '\0';
			return rc;
		}
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return 0;
}

static void json_sink(void *ctx, const char *bytes, size_t len)
{
	ark_http_buf_append(ctx, bytes, len);
}

/* Through the one JSON writer (common/): escaped, and valid UTF-8 whatever s holds. */
int ark_http_buf_json_string(struct ark_http_buf *b, const char *s)
{
	ark_json_emit_string(json_sink, b, s, SIZE_MAX);
	return b->failed ? -ENOMEM : 0;
}
