/* common/buf.c — the one growable byte buffer: HTTP bodies, metrics
 * expositions, JSON documents rendered to memory (through ark_buf_sink).
 *
 * Invariant: data[len] == '\0' whenever data != NULL, len < cap, and the
 * buffer never grows past ARK_BUF_LIMIT. A failed growth (or the limit) sets
 * `failed`, which stays set until ark_buf_reset: later appends do nothing, so
 * the contents are always a prefix of what was written, never one with a
 * hole in it, and the earlier contents stay intact. */
#include "common/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void ark_buf_init(struct ark_buf *b)
{
	memset(b, 0, sizeof *b);
}

void ark_buf_free(struct ark_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof *b);
}

void ark_buf_reset(struct ark_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

int ark_buf_reserve(struct ark_buf *b, size_t extra)
{
	if (b->failed)
		return -ENOMEM;
	if (extra >= ARK_BUF_LIMIT || b->len + extra >= ARK_BUF_LIMIT) {
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

int ark_buf_append(struct ark_buf *b, const void *data, size_t n)
{
	int rc = ark_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ark_buf_puts(struct ark_buf *b, const char *s)
{
	return ark_buf_append(b, s, strlen(s));
}

int ark_buf_printf(struct ark_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc = ark_buf_reserve(b, 128);
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
		rc = ark_buf_reserve(b, (size_t)n);
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

void ark_buf_sink(void *ctx, const char *bytes, size_t len)
{
	ark_buf_append(ctx, bytes, len);
}

int ark_buf_json_string(struct ark_buf *b, const char *s)
{
	ark_json_emit_string(ark_buf_sink, b, s, SIZE_MAX);
	return b->failed ? -ENOMEM : 0;
}
