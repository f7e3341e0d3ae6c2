/* api/signals.c — a POST /v1/signals body to ticks. The body is one JSON
 * object or an array of objects; each object is validated by the TCP feed's
 * strict parser (the same fields, the same rules, the same reasons), and the
 * array's own punctuation is checked here, since jsmn alone is lenient. */
#include "api/api.h"

#include "feed/feed.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGNAL_MAX_BYTES 1024   /* one signal object, as the feed's longest line */

static bool ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int bad(char *why, size_t len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int bad(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* Where a JSON text is inside a string, byte by byte: escapes included, so
 * an escaped quote does not end it. */
struct string_state {
	bool in, escaped;
};

/* Takes c; true when c is part of a string's inside or its closing quote
 * (where braces and whitespace are text), false outside (an opening quote
 * included). */
static bool in_string(struct string_state *st, char c)
{
	if (st->in) {
		if (st->escaped)
			st->escaped = false;
		else if (c == '\\')
			st->escaped = true;
		else if (c == '"')
			st->in = false;
		return true;
	}
	if (c == '"')
		st->in = true;
	return false;
}

/* One object's text through the feed's parser (whitespace outside strings
 * flattened: JSON allows it anywhere, the line parser wants one line). */
static int one(const char *text, size_t n, uint32_t index, bool in_array, struct ark_tick *tick, char *why,
	       size_t why_len)
{
	char line[SIGNAL_MAX_BYTES + 1];
	if (n > SIGNAL_MAX_BYTES)
		return bad(why, why_len, -EINVAL, "signal %u: longer than %d bytes", index, SIGNAL_MAX_BYTES);
	struct string_state st = {false, false};
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (in_string(&st, c))
			line[i] = c;   /* a raw control character in a string stays: the parser refuses it */
		else
			line[i] = c == '\n' || c == '\r' || c == '\t' ? ' ' : c;
	}
	line[n] = '\0';
	memset(tick, 0, sizeof *tick);
	char detail[160];
	enum ark_feed_reason r = ark_feed_parse_line(line, n, tick, detail, sizeof detail);
	if (r != ARK_FEED_OK) {
		if (in_array)
			return bad(why, why_len, -EINVAL, "signal %u: %s: %s", index, ark_feed_reason_name(r), detail);
		return bad(why, why_len, -EINVAL, "%s: %s", ark_feed_reason_name(r), detail);
	}
	return 0;
}

int ark_api_parse_signals(const char *body, size_t len, struct ark_tick *ticks, uint32_t max, uint32_t *count,
			  char *why, size_t why_len)
{
	*count = 0;
	size_t i = 0;
	while (i < len && ws(body[i]))
		i++;
	size_t end = len;
	while (end > i && ws(body[end - 1]))
		end--;
	if (i == end)
		return bad(why, why_len, -EINVAL, "empty body: expected a signal object or an array of them");
	if (memchr(body, '\0', len))
		return bad(why, why_len, -EINVAL, "the body holds a NUL byte");
	if (body[i] == '{')
		return one(body + i, end - i, 0, false, &ticks[0], why, why_len) ? -EINVAL : (*count = 1, 0);
	if (body[i] != '[')
		return bad(why, why_len, -EINVAL, "expected a signal object or an array of them, not '%c'", body[i]);
	if (body[end - 1] != ']')
		return bad(why, why_len, -EINVAL, "the array is not closed (truncated body?)");
	/* Walk the array: '[' ws object ws (',' ws object ws)* ']' — objects are
	 * found by matching braces outside strings; their insides are the
	 * feed parser's business. */
	size_t p = i + 1;
	uint32_t n = 0;
	for (;;) {
		while (p < end && ws(body[p]))
			p++;
		if (p == end - 1 && n == 0)
			break;   /* [] */
		if (p >= end - 1 || body[p] != '{')
			return bad(why, why_len, -EINVAL, "signal %u: expected an object", n);
		size_t start = p;
		int depth = 0;
		struct string_state st = {false, false};
		for (; p < end; p++) {
			char c = body[p];
			if (in_string(&st, c))
				continue;
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				break;
			if (depth > 2)
				return bad(why, why_len, -EINVAL, "signal %u: nested too deeply", n);
		}
		if (p >= end)
			return bad(why, why_len, -EINVAL, "signal %u: not closed (truncated body?)", n);
		if (n >= max)
			return bad(why, why_len, -E2BIG, "more than %u signals in one request", max);
		int rc = one(body + start, p + 1 - start, n, true, &ticks[n], why, why_len);
		if (rc)
			return rc;
		n++;
		p++;
		while (p < end && ws(body[p]))
			p++;
		if (p == end - 1)
			break;
		if (body[p] != ',')
			return bad(why, why_len, -EINVAL, "after signal %u: expected ',' or ']'", n - 1);
		p++;
	}
	if (n == 0)
		return bad(why, why_len, -EINVAL, "an empty array: no signals");
	*count = n;
	return 0;
}
