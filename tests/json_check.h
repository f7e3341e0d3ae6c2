/* tests/json_check.h — a strict JSON checker for the tests (RFC 8259: one
 * value, no NaN/Infinity, no trailing commas, strings of valid UTF-8 with
 * only the standard escapes, no raw control characters). Independent of the
 * writer it checks: it shares no code with common/json.c. */
#ifndef ARK_TESTS_JSON_CHECK_H
#define ARK_TESTS_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct json_check {
	const unsigned char *p, *end;
	const char *error;
	int depth;
};

static void jc_ws(struct json_check *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool jc_fail(struct json_check *c, const char *why)
{
	if (!c->error)
		c->error = why;
	return false;
}

static bool jc_value(struct json_check *c);

static bool jc_string(struct json_check *c)
{
	if (c->p >= c->end || *c->p != '"')
		return jc_fail(c, "expected a string");
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = *c->p;
		if (ch < 0x20)
			return jc_fail(c, "raw control character in a string");
		if (ch == '\\') {
			c->p++;
			if (c->p >= c->end)
				return jc_fail(c, "string ends in an escape");
			if (*c->p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (c->p + i >= c->end || !strchr("0123456789abcdefABCDEF", c->p[i]) || !c->p[i])
						return jc_fail(c, "bad \\u escape");
				c->p += 5;
			} else if (strchr("\"\\/bfnrt", *c->p) && *c->p) {
				c->p++;
			} else {
				return jc_fail(c, "unknown escape");
			}
			continue;
		}
		if (ch < 0x80) {
			c->p++;
			continue;
		}
		/* UTF-8, strictly */
		size_t len = ch >= 0xc2 && ch <= 0xdf ? 2 : ch >= 0xe0 && ch <= 0xef ? 3 : ch >= 0xf0 && ch <= 0xf4 ? 4 : 0;
		if (!len || c->p + len > c->end)
			return jc_fail(c, "invalid UTF-8 in a string");
		unsigned char lo = 0x80, hi = 0xbf;
		if (ch == 0xe0) lo = 0xa0;
		if (ch == 0xed) hi = 0x9f;
		if (ch == 0xf0) lo = 0x90;
		if (ch == 0xf4) hi = 0x8f;
		if (c->p[1] < lo || c->p[1] > hi)
			return jc_fail(c, "invalid UTF-8 in a string");
		for (size_t i = 2; i < len; i++)
			if ((c->p[i] & 0xc0) != 0x80)
				return jc_fail(c, "invalid UTF-8 in a string");
		c->p += len;
	}
	if (c->p >= c->end)
		return jc_fail(c, "unterminated string");
	c->p++;
	return true;
}

static bool jc_number(struct json_check *c)
{
	const unsigned char *s = c->p;
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (c->p < c->end && *c->p >= '1' && *c->p <= '9')
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	else
		return jc_fail(c, "expected a value (NaN and Infinity are not JSON)");
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return jc_fail(c, "digits expected after '.'");
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return jc_fail(c, "digits expected in the exponent");
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	return c->p > s;
}

static bool jc_literal(struct json_check *c, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return jc_fail(c, "expected a value");
	c->p += n;
	return true;
}

static bool jc_value(struct json_check *c)
{
	jc_ws(c);
	if (c->p >= c->end)
		return jc_fail(c, "expected a value, found the end");
	if (++c->depth > 64)
		return jc_fail(c, "nested too deep");
	bool ok;
	unsigned char ch = *c->p;
	if (ch == '{' || ch == '[') {
		unsigned char close = ch == '{' ? '}' : ']';
		c->p++;
		jc_ws(c);
		ok = true;
		if (c->p < c->end && *c->p == close) {
			c->p++;
		} else {
			for (;;) {
				if (ch == '{') {
					jc_ws(c);
					if (!jc_string(c))
						return false;
					jc_ws(c);
					if (c->p >= c->end || *c->p != ':')
						return jc_fail(c, "expected ':'");
					c->p++;
				}
				if (!jc_value(c))
					return false;
				jc_ws(c);
				if (c->p < c->end && *c->p == ',') {
					c->p++;
					continue;
				}
				if (c->p < c->end && *c->p == close) {
					c->p++;
					break;
				}
				return jc_fail(c, "expected ',' or a closing bracket");
			}
		}
	} else if (ch == '"') {
		ok = jc_string(c);
	} else if (ch == 't') {
		ok = jc_literal(c, "true");
	} else if (ch == 'f') {
		ok = jc_literal(c, "false");
	} else if (ch == 'n') {
		ok = jc_literal(c, "null");
	} else {
		ok = jc_number(c);
	}
	c->depth--;
	return ok;
}

/* NULL when text[0..len) is exactly one valid JSON value (whitespace
 * around it allowed), else what is wrong. */
static inline const char *json_check(const char *text, size_t len)
{
	struct json_check c = {(const unsigned char *)text, (const unsigned char *)text + len, NULL, 0};
	if (!jc_value(&c))
		return c.error ? c.error : "invalid";
	jc_ws(&c);
	return c.p == c.end ? NULL : "text after the value";
}

#endif /* ARK_TESTS_JSON_CHECK_H */
