/* common/json.c — the one JSON writer every ARK output goes through, and the
 * UTF-8 checks that keep text from outside (a journal record, a client's
 * key, a broker's message) valid wherever it is shown.
 *
 * Invariant: whatever bytes and doubles it is given, the writer emits valid
 * JSON in valid UTF-8: strings escaped, invalid UTF-8 replaced by U+FFFD,
 * non-finite numbers as null (JSON has no NaN or infinity), and a string
 * read from a fixed-size field never beyond the field's bytes. */
#include "common/common.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---- */

size_t ark_utf8_sequence(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;   /* the second byte's range */
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;   /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;   /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;   /* nothing above U+10FFFF */
	} else {
		return 0;    /* a continuation byte, C0/C1 (overlong) or F5-FF */
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

void ark_utf8_sanitize(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t k = ark_utf8_sequence(p + i, len - i);
		if (k == 0) {
			p[i++] = '?';
			continue;
		}
		if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\t')
			p[i] = ' ';
		i += k;
	}
}

size_t ark_utf8_cut(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	/* A lead byte among the last three whose sequence runs past len. */
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = u[len - back];
		if ((c & 0xc0) == 0x80)
			continue;   /* a continuation byte: look further back */
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

size_t ark_text_copy(char *out, size_t cap, const char *s, size_t max)
{
	if (cap == 0)
		return 0;
	size_t n = s ? strnlen(s, max) : 0;
	if (n > cap - 1)
		n = cap - 1;
	/* Cut before a character that would not fit whole. */
	const unsigned char *u = (const unsigned char *)s;
	size_t end = 0;
	while (end < n) {
		size_t k = ark_utf8_sequence(u + end, n - end);
		if (k == 0) {
			/* Invalid here; keep the byte only if it is not the
			 * start of a character the cut split. */
			size_t whole = ark_utf8_sequence(u + end, strnlen(s + end, max - end));
			if (whole > n - end)
				break;
			k = 1;
		}
		end += k;
	}
	if (end)
		memmove(out, s, end);   /* (out may be s: shortening in place) */
	out[end] = '\0';
	return end;
}

/* ---- Emitting ---- */

static void file_sink(void *ctx, const char *bytes, size_t len)
{
	fwrite(bytes, 1, len, (FILE *)ctx);
}

void ark_json_emit_string(ark_json_sink sink, void *ctx, const char *s, size_t max)
{
	char buf[256];
	size_t used = 0;
	buf[used++] = '"';
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = s ? strnlen(s, max) : 0;
	for (size_t i = 0; i < n;) {
		if (used > sizeof buf - 8) {
			sink(ctx, buf, used);
			used = 0;
		}
		unsigned char c = p[i];
		size_t k = ark_utf8_sequence(p + i, n - i);
		if (k == 0) {
			memcpy(buf + used, "\\ufffd", 6);   /* not UTF-8: the replacement character */
			used += 6;
			i++;
			continue;
		}
		if (k > 1) {
			memcpy(buf + used, p + i, k);
			used += k;
			i += k;
			continue;
		}
		i++;
		switch (c) {
		case '"': buf[used++] = '\\'; buf[used++] = '"'; break;
		case '\\': buf[used++] = '\\'; buf[used++] = '\\'; break;
		case '\n': buf[used++] = '\\'; buf[used++] = 'n'; break;
		case '\r': buf[used++] = '\\'; buf[used++] = 'r'; break;
		case '\t': buf[used++] = '\\'; buf[used++] = 't'; break;
		default:
			if (c < 0x20 || c == 0x7f)
				used += (size_t)snprintf(buf + used, sizeof buf - used, "\\u%04x", c);
			else
				buf[used++] = (char)c;
		}
	}
	buf[used++] = '"';
	sink(ctx, buf, used);
}

void ark_json_emit_number(ark_json_sink sink, void *ctx, double value)
{
	char text[40];
	int n;
	if (!isfinite(value)) {
		n = snprintf(text, sizeof text, "null");
	} else if (value == 0) {
		n = snprintf(text, sizeof text, "0");   /* -0 too */
	} else if (value == floor(value) && fabs(value) < 1e15) {
		n = snprintf(text, sizeof text, "%.0f", value);
	} else {
		/* The shortest of 15..17 significant digits that reads back exact. */
		n = 0;
		for (int digits = 15; digits <= 17; digits++) {
			n = snprintf(text, sizeof text, "%.*g", digits, value);
			if (strtod(text, NULL) == value)
				break;
		}
	}
	sink(ctx, text, (size_t)n);
}

void ark_json_text_sink(void *ctx, const char *bytes, size_t len)
{
	struct ark_json_text *t = ctx;
	if (t->cap == 0)
		return;
	size_t room = t->cap - 1 - t->len;
	if (len > room) {
		len = room;
		t->truncated = true;
	}
	memcpy(t->buf + t->len, bytes, len);
	t->len += len;
	t->buf[t->len] = '\0';
}

size_t ark_json_error_text(char *buf, size_t cap, const char *message, const char *key, int64_t value)
{
	struct ark_json_text text = {buf, cap, 0, false};
	struct ark_json j;
	ark_json_init_sink(&j, ark_json_text_sink, &text);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "error", message);
	ark_json_int(&j, key, value);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return text.len;
}

void ark_json_write_string(FILE *out, const char *s)
{
	ark_json_emit_string(file_sink, out, s, SIZE_MAX);
}

/* ---- The streaming writer ---- */

void ark_json_init(struct ark_json *j, FILE *out)
{
	memset(j, 0, sizeof *j);
	j->out = out;
	j->sink = file_sink;
	j->ctx = out;
}

void ark_json_init_sink(struct ark_json *j, ark_json_sink sink, void *ctx)
{
	memset(j, 0, sizeof *j);
	j->sink = sink;
	j->ctx = ctx;
}

static void put(struct ark_json *j, const char *s)
{
	j->sink(j->ctx, s, strlen(s));
}

static void prefix(struct ark_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		put(j, ",");
	j->need_comma[j->depth] = true;
	if (key) {
		ark_json_emit_string(j->sink, j->ctx, key, SIZE_MAX);
		put(j, ":");
	}
}

static void open_nested(struct ark_json *j, const char *key, const char *bracket)
{
	prefix(j, key);
	put(j, bracket);
	if (j->depth < ARK_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_nested(struct ark_json *j, const char *bracket)
{
	put(j, bracket);
	if (j->depth > 0)
		j->depth--;
}

void ark_json_object_begin(struct ark_json *j, const char *key) { open_nested(j, key, "{"); }
void ark_json_object_end(struct ark_json *j) { close_nested(j, "}"); }
void ark_json_array_begin(struct ark_json *j, const char *key) { open_nested(j, key, "["); }
void ark_json_array_end(struct ark_json *j) { close_nested(j, "]"); }

void ark_json_string(struct ark_json *j, const char *key, const char *value)
{
	prefix(j, key);
	ark_json_emit_string(j->sink, j->ctx, value ? value : "", SIZE_MAX);
}

void ark_json_string_n(struct ark_json *j, const char *key, const char *value, size_t max)
{
	prefix(j, key);
	ark_json_emit_string(j->sink, j->ctx, value ? value : "", value ? max : 0);
}

void ark_json_number(struct ark_json *j, const char *key, double value)
{
	prefix(j, key);
	ark_json_emit_number(j->sink, j->ctx, value);
}

void ark_json_fixed(struct ark_json *j, const char *key, double value, int decimals)
{
	prefix(j, key);
	if (!isfinite(value)) {
		put(j, "null");
		return;
	}
	char text[64];
	int n = snprintf(text, sizeof text, "%.*f", decimals < 0 ? 0 : decimals > 17 ? 17 : decimals, value);
	if (n < 0 || (size_t)n >= sizeof text) {
		ark_json_emit_number(j->sink, j->ctx, value);   /* beyond %f's width: as a number */
		return;
	}
	if (strcmp(text, "-0") == 0 || (text[0] == '-' && strspn(text + 1, "0.") == strlen(text + 1)))
		memmove(text, text + 1, strlen(text));   /* -0.000 is 0.000 */
	j->sink(j->ctx, text, strlen(text));
}

void ark_json_uint(struct ark_json *j, const char *key, uint64_t value)
{
	prefix(j, key);
	char text[24];
	int n = snprintf(text, sizeof text, "%" PRIu64, value);
	j->sink(j->ctx, text, (size_t)n);
}

void ark_json_int(struct ark_json *j, const char *key, int64_t value)
{
	prefix(j, key);
	char text[24];
	int n = snprintf(text, sizeof text, "%" PRId64, value);
	j->sink(j->ctx, text, (size_t)n);
}

void ark_json_bool(struct ark_json *j, const char *key, bool value)
{
	prefix(j, key);
	put(j, value ? "true" : "false");
}

void ark_json_null(struct ark_json *j, const char *key)
{
	prefix(j, key);
	put(j, "null");
}

void ark_json_finish(struct ark_json *j)
{
	put(j, "\n");
	if (j->out)
		fflush(j->out);
}
