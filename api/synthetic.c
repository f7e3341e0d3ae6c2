/* api/synthetic.c — a POST /v1/synthetic body to ticks: the synthetic
 * validation loop's signals (`ark synth --api-url`), which carry what a
 * market signal never may — injected violations (their kind, the step of the
 * injection, the injection's number), prices that are zero, negative or not
 * finite ("nan", "inf", "-inf"), a signed size (an order's side) and a
 * missing time (ts 0) — so that the API path is checked with the very signals
 * the direct path gets. Only a token with the synthetic:write scope may post
 * them; each is marked synthetic (and injected) like the generator's own.
 * All or nothing, with the signal's index and field named on any error. */
#include "api/api.h"

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool tok_is(const char *body, const jsmntok_t *t, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(t->end - t->start) == n && memcmp(body + t->start, s, n) == 0;
}

/* A number token (or, for a price, one of the strings nan, inf, -inf). */
static int number(const char *body, const jsmntok_t *t, bool non_finite_ok, double *out)
{
	char text[64];
	int n = t->end - t->start;
	if (n <= 0 || n >= (int)sizeof text)
		return -1;
	memcpy(text, body + t->start, (size_t)n);
	text[n] = '\0';
	if (t->type == JSMN_STRING) {
		if (!non_finite_ok)
			return -1;
		if (strcmp(text, "nan") == 0)
			*out = NAN;
		else if (strcmp(text, "inf") == 0)
			*out = INFINITY;
		else if (strcmp(text, "-inf") == 0)
			*out = -INFINITY;
		else
			return -1;
		return 0;
	}
	if (t->type != JSMN_PRIMITIVE || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
		return -1;
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (*end || errno || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int unsigned_int(const char *body, const jsmntok_t *t, uint64_t max, uint64_t *out)
{
	char text[32];
	int n = t->end - t->start;
	if (t->type != JSMN_PRIMITIVE || n <= 0 || n >= (int)sizeof text)
		return -1;
	memcpy(text, body + t->start, (size_t)n);
	text[n] = '\0';
	for (int i = 0; i < n; i++)
		if (text[i] < '0' || text[i] > '9')
			return -1;
	errno = 0;
	unsigned long long v = strtoull(text, NULL, 10);
	if (errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int one(const char *body, const jsmntok_t *tok, int count, int at, uint32_t index, struct ark_tick *tick,
	       char *why, size_t why_len)
{
	const jsmntok_t *obj = &tok[at];
	if (obj->type != JSMN_OBJECT)
		return bad(why, why_len, "signal %u: expected an object", index);
	memset(tick, 0, sizeof *tick);
	tick->flags = ARK_EVENT_SYNTHETIC;
	unsigned seen = 0;
	int i = at + 1;
	for (int m = 0; m < obj->size; m++) {
		/* jsmn is lenient: insist on key, then its value, inside this object. */
		if (i + 1 >= count || tok[i].type != JSMN_STRING || tok[i].parent != at || tok[i + 1].parent != i ||
		    tok[i + 1].end > obj->end)
			return bad(why, why_len, "signal %u: expected \"key\": value pairs", index);
		const jsmntok_t *k = &tok[i], *v = &tok[i + 1];
		if (v->type == JSMN_OBJECT || v->type == JSMN_ARRAY)
			return bad(why, why_len, "signal %u: \"%.*s\" must be a plain value", index, k->end - k->start > 16 ? 16 : k->end - k->start,
				   body + k->start);
		uint64_t u;
		if (tok_is(body, k, "symbol")) {
			int n = v->end - v->start;
			if (v->type != JSMN_STRING || n < 1 || n >= ARK_SYMBOL_MAX)
				return bad(why, why_len, "signal %u: symbol must be a string of 1 to %d characters", index,
					   ARK_SYMBOL_MAX - 1);
			for (int c = 0; c < n; c++)
				if ((unsigned char)body[v->start + c] < 0x21 || body[v->start + c] == '"' || body[v->start + c] == '\\')
					return bad(why, why_len, "signal %u: symbol holds a character that is not allowed", index);
			memcpy(tick->symbol, body + v->start, (size_t)n);
			seen |= 1;
		} else if (tok_is(body, k, "price")) {
			if (number(body, v, true, &tick->price))
				return bad(why, why_len, "signal %u: price must be a number, \"nan\", \"inf\" or \"-inf\"", index);
			seen |= 2;
		} else if (tok_is(body, k, "size")) {
			if (number(body, v, false, &tick->size))
				return bad(why, why_len, "signal %u: size must be a finite number", index);
			seen |= 4;
		} else if (tok_is(body, k, "ts")) {
			if (unsigned_int(body, v, UINT64_MAX, &tick->exchange_time_ns))
				return bad(why, why_len, "signal %u: ts must be nanoseconds since 1970 (0: none)", index);
		} else if (tok_is(body, k, "kind")) {
			int kind = -1;
			for (int r = 1; r < ARK_REASON_COUNT; r++)
				if (v->type == JSMN_STRING && tok_is(body, v, ark_reason_name((enum ark_reason)r)))
					kind = r;
			if (kind < 0)
				return bad(why, why_len, "signal %u: kind must name a Graveyard reason (max_quantity, ...)", index);
			tick->flags |= ARK_EVENT_INJECTED;
			tick->injected_kind = (uint8_t)kind;
		} else if (tok_is(body, k, "lane")) {
			if (unsigned_int(body, v, 1, &u))
				return bad(why, why_len, "signal %u: lane must be 0 (the violation) or 1 (a setup step)", index);
			tick->lane = (uint8_t)u;
		} else if (tok_is(body, k, "burst")) {
			if (unsigned_int(body, v, UINT16_MAX, &u))
				return bad(why, why_len, "signal %u: burst must be 0 to 65535", index);
			tick->burst = (uint16_t)u;
		} else {
			return bad(why, why_len, "signal %u: unknown key \"%.*s\": expected symbol, price, size, ts, kind, lane, burst",
				   index, k->end - k->start > 24 ? 24 : k->end - k->start, body + k->start);
		}
		i += 2;
	}
	if (seen != 7)
		return bad(why, why_len, "signal %u: missing \"%s\"", index,
			   !(seen & 1) ? "symbol" : !(seen & 2) ? "price" : "size");
	return 0;
}

int ark_api_parse_synthetic(const char *body, size_t len, struct ark_tick *ticks, uint32_t max, uint32_t *count,
			    char *why, size_t why_len)
{
	*count = 0;
	/* Each signal is at most 8 tokens of its own plus the object. */
	size_t cap = (size_t)max * 16 + 2;
	jsmntok_t *tok = malloc(cap * sizeof *tok);
	if (!tok)
		return bad(why, why_len, "out of memory");
	jsmn_parser parser;
	jsmn_init(&parser);
	int n = jsmn_parse(&parser, body, len, tok, (unsigned)cap);
	int rc = 0;
	if (n == JSMN_ERROR_NOMEM)
		rc = -E2BIG, snprintf(why, why_len, "more than %u signals in one request", max);
	else if (n < 0)
		rc = bad(why, why_len, "the body is not JSON (%s)", n == JSMN_ERROR_PART ? "truncated" : "invalid");
	else if (n == 0 || tok[0].type != JSMN_ARRAY)
		rc = bad(why, why_len, "expected an array of synthetic signals");
	else if (tok[0].size == 0)
		rc = bad(why, why_len, "an empty array: expected at least one signal");
	else if ((uint32_t)tok[0].size > max)
		rc = -E2BIG, snprintf(why, why_len, "%d signals: at most %u per request", tok[0].size, max);
	int at = 1;
	for (uint32_t s = 0; !rc && s < (uint32_t)tok[0].size; s++) {
		if (at >= n || tok[at].parent != 0) {
			rc = bad(why, why_len, "signal %u: expected an object", s);
			break;
		}
		rc = one(body, tok, n, at, s, &ticks[s], why, why_len);
		/* Next signal: past every token inside this one. */
		int end = tok[at].end;
		for (at++; at < n && tok[at].start < end; at++)
			;
	}
	if (!rc && at != n)
		rc = bad(why, why_len, "text after the array of signals");
	if (!rc)
		*count = (uint32_t)tok[0].size;
	free(tok);
	return rc;
}
