/* feed/parse.c — one line of the TCP feed to one struct ark_tick.
 *
 * jsmn tokenises; jsmn alone is lenient (it accepts "{"a":1,}", keys without
 * colons, bare words), so the top level is checked again here: every byte
 * between tokens must be exactly the JSON punctuation a flat object needs,
 * every scalar must be a JSON literal. Invariant: a line is a tick only if it
 * is valid UTF-8 JSON, one object, with exactly the documented keys and
 * values in range; anything else gets exactly one reason, and structure
 * errors win over field errors. Nothing here allocates or keeps state, so
 * the parser is safe from any thread. This is the only file that includes
 * jsmn.h (header-only: its functions are compiled here, static). */
#include "feed/internal.h"

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tick is 9 tokens; the slack lets a few extra keys be reported as unknown
 * keys rather than as too complex. More (deep nesting, long arrays) is
 * refused without being walked. */
#define PARSE_MAX_TOKENS 48
#define NUMBER_MAX_LEN 63

static const char *const reason_names[ARK_FEED_REASON_COUNT] = {
	[ARK_FEED_OK] = "ok",
	[ARK_FEED_EMPTY_LINE] = "empty_line",
	[ARK_FEED_LINE_TOO_LONG] = "line_too_long",
	[ARK_FEED_CONTROL_CHAR] = "control_char",
	[ARK_FEED_BAD_UTF8] = "bad_utf8",
	[ARK_FEED_MALFORMED_JSON] = "malformed_json",
	[ARK_FEED_TOO_COMPLEX] = "too_complex",
	[ARK_FEED_NOT_OBJECT] = "not_object",
	[ARK_FEED_UNKNOWN_KEY] = "unknown_key",
	[ARK_FEED_DUPLICATE_KEY] = "duplicate_key",
	[ARK_FEED_MISSING_FIELD] = "missing_field",
	[ARK_FEED_BAD_TYPE] = "bad_type",
	[ARK_FEED_BAD_SYMBOL] = "bad_symbol",
	[ARK_FEED_BAD_PRICE] = "bad_price",
	[ARK_FEED_BAD_SIZE] = "bad_size",
	[ARK_FEED_BAD_TIMESTAMP] = "bad_timestamp",
	[ARK_FEED_PARTIAL_LINE] = "partial_line",
	[ARK_FEED_LINE_TIMEOUT] = "line_timeout",
	[ARK_FEED_PRICE_OUT_OF_BOUNDS] = "price_out_of_bounds",
	[ARK_FEED_SIZE_OUT_OF_BOUNDS] = "size_out_of_bounds",
	[ARK_FEED_TS_IN_FUTURE] = "ts_in_future",
	[ARK_FEED_TS_TOO_OLD] = "ts_too_old",
	[ARK_FEED_UNAUTHENTICATED] = "unauthenticated",
};

const char *ark_feed_reason_name(enum ark_feed_reason reason)
{
	if ((unsigned)reason >= ARK_FEED_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

__attribute__((format(printf, 4, 5))) static enum ark_feed_reason
fail(enum ark_feed_reason reason, char *detail, size_t detail_size, const char *fmt, ...)
{
	if (detail && detail_size) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(detail, detail_size, fmt, ap);
		va_end(ap);
		/* Cut short by the buffer: never in the middle of a character
		 * (the detail goes into logs and JSON error bodies). */
		if (n >= 0 && (size_t)n >= detail_size)
			detail[ark_utf8_cut(detail, strlen(detail))] = '\0';
	}
	return reason;
}

/* strtod in the "C" locale whatever the process set: a feed's decimal point
 * is '.', never the operator's locale's. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* ---- Bytes ---- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. Rejects
 * overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0;  /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0;  /* UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;  /* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;  /* above U+10FFFF */
		return 4;
	}
	return 0;
}

static enum ark_feed_reason check_bytes(const unsigned char *s, size_t n, bool *blank, char *detail,
					size_t detail_size)
{
	*blank = true;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f) {
			if (c != ' ')
				*blank = false;
			i++;
			continue;
		}
		if (c == '\t') {
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			return fail(ARK_FEED_CONTROL_CHAR, detail, detail_size,
				    "control byte 0x%02x at offset %zu", c, i);
		size_t len = utf8_sequence(s + i, n - i);
		if (len == 0)
			return fail(ARK_FEED_BAD_UTF8, detail, detail_size,
				    "invalid UTF-8 byte 0x%02x at offset %zu", c, i);
		*blank = false;
		i += len;
	}
	return ARK_FEED_OK;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- JSON scalars ---- */

/* The index after the run of decimal digits at s[i]. */
static inline size_t skip_digits(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s, size_t n, bool *integer)
{
	size_t i = 0;
	*integer = true;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return false;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		i = skip_digits(s, n, i);
	else
		return false;
	if (i < n && s[i] == '.') {
		*integer = false;
		size_t from = i + 1;
		if ((i = skip_digits(s, n, from)) == from)
			return false;   /* a '.' needs a digit after it */
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		*integer = false;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t from = i;
		if ((i = skip_digits(s, n, from)) == from)
			return false;   /* so does an exponent */
	}
	return i == n;
}

static bool literal_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* NaN and Infinity in the spellings producers emit (Python's json module,
 * printf). Not JSON, but worth a precise reason: the field's. */
static bool non_finite_word(const char *s, size_t n)
{
	if (n && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	return (n == 3 && strncasecmp(s, "nan", 3) == 0) || (n == 3 && strncasecmp(s, "inf", 3) == 0) ||
	       (n == 8 && strncasecmp(s, "infinity", 8) == 0);
}

enum scalar { SCALAR_INVALID, SCALAR_NUMBER, SCALAR_LITERAL, SCALAR_NON_FINITE };

static enum scalar classify_primitive(const char *s, size_t n)
{
	bool integer;
	if (json_number(s, n, &integer))
		return SCALAR_NUMBER;
	if (literal_is(s, n, "true") || literal_is(s, n, "false") || literal_is(s, n, "null"))
		return SCALAR_LITERAL;
	if (non_finite_word(s, n))
		return SCALAR_NON_FINITE;
	return SCALAR_INVALID;
}

static const char *json_type_name(const jsmntok_t *t, const char *line)
{
	switch (t->type) {
	case JSMN_OBJECT: return "an object";
	case JSMN_ARRAY: return "an array";
	case JSMN_STRING: return "a string";
	case JSMN_PRIMITIVE:
		if (line[t->start] == 't' || line[t->start] == 'f')
			return "a boolean";
		if (line[t->start] == 'n')
			return "null";
		return "a number";
	default: return "nothing";
	}
}

/* ---- Fields ---- */

struct field_ctx {
	const char *line;
	char *detail;
	size_t detail_size;
};

static enum ark_feed_reason parse_number(const struct field_ctx *f, const jsmntok_t *t, const char *name,
					 enum ark_feed_reason bad, double *out)
{
	const char *s = f->line + t->start;
	size_t n = (size_t)(t->end - t->start);
	if (t->type != JSMN_PRIMITIVE || classify_primitive(s, n) == SCALAR_LITERAL)
		return fail(ARK_FEED_BAD_TYPE, f->detail, f->detail_size, "%s must be a number, not %s",
			    name, json_type_name(t, f->line));
	if (classify_primitive(s, n) == SCALAR_NON_FINITE)
		return fail(bad, f->detail, f->detail_size, "%s must be finite: NaN/Infinity is not a JSON number",
			    name);
	if (n > NUMBER_MAX_LEN)
		return fail(bad, f->detail, f->detail_size, "%s is a number of %zu characters (at most %d)",
			    name, n, NUMBER_MAX_LEN);
	char buf[NUMBER_MAX_LEN + 1];
	memcpy(buf, s, n);
	buf[n] = '\0';
	pthread_once(&c_locale_once, c_locale_init);
	double v = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
	if (!isfinite(v))
		return fail(bad, f->detail, f->detail_size, "%s %s is out of range (not a finite double)", name,
			    buf);
	*out = v;
	return ARK_FEED_OK;
}

static enum ark_feed_reason parse_symbol(const struct field_ctx *f, const jsmntok_t *t, struct ark_tick *tick)
{
	if (t->type != JSMN_STRING)
		return fail(ARK_FEED_BAD_TYPE, f->detail, f->detail_size, "symbol must be a string, not %s",
			    json_type_name(t, f->line));
	const char *s = f->line + t->start;
	size_t n = (size_t)(t->end - t->start);
	if (n == 0 || n > ARK_FEED_SYMBOL_MAX_LEN)
		return fail(ARK_FEED_BAD_SYMBOL, f->detail, f->detail_size,
			    "symbol has %zu characters, expected 1 to %u", n, ARK_FEED_SYMBOL_MAX_LEN);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return fail(ARK_FEED_BAD_SYMBOL, f->detail, f->detail_size,
				    "symbol character %zu is not allowed: expected A-Z 0-9 (and . _ - after the first)",
				    i + 1);
	}
	memset(tick->symbol, 0, sizeof tick->symbol);
	memcpy(tick->symbol, s, n);
	return ARK_FEED_OK;
}

static enum ark_feed_reason parse_timestamp(const struct field_ctx *f, const jsmntok_t *t, uint64_t *out)
{
	const char *s = f->line + t->start;
	size_t n = (size_t)(t->end - t->start);
	if (t->type == JSMN_STRING) {
		int64_t ns;
		if (!feed_parse_iso8601(s, n, &ns))
			return fail(ARK_FEED_BAD_TIMESTAMP, f->detail, f->detail_size,
				    "ts string is not ISO-8601 YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM) "
				    "in 1970..2262");
		*out = (uint64_t)ns;
		return ARK_FEED_OK;
	}
	bool integer;
	if (t->type != JSMN_PRIMITIVE || classify_primitive(s, n) == SCALAR_LITERAL)
		return fail(ARK_FEED_BAD_TYPE, f->detail, f->detail_size,
			    "ts must be an integer (ns since the epoch) or an ISO-8601 string, not %s",
			    json_type_name(t, f->line));
	if (!json_number(s, n, &integer) || !integer || s[0] == '-' || n > 19)
		return fail(ARK_FEED_BAD_TIMESTAMP, f->detail, f->detail_size,
			    "ts must be an integer count of ns since the epoch, 1 to 2^63-1");
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');  /* 19 digits cannot overflow 64 bits */
	if (v == 0 || v > (uint64_t)INT64_MAX)
		return fail(ARK_FEED_BAD_TIMESTAMP, f->detail, f->detail_size,
			    "ts must be an integer count of ns since the epoch, 1 to 2^63-1");
	*out = v;
	return ARK_FEED_OK;
}

/* ---- Structure ---- */

/* The text between two tokens must be blanks around exactly `want` (or
 * nothing but blanks when want is 0). */
static bool gap_is(const char *s, size_t from, size_t to, char want)
{
	bool seen = want == 0;
	for (size_t i = from; i < to; i++) {
		if (is_blank(s[i]))
			continue;
		if (s[i] == want && !seen) {
			seen = true;
			continue;
		}
		return false;
	}
	return seen;
}

/* Where a token's text begins and ends in the line, quotes included. */
static size_t tok_open(const jsmntok_t *t)
{
	return (size_t)t->start - (t->type == JSMN_STRING);
}
static size_t tok_close(const jsmntok_t *t)
{
	return (size_t)t->end + (t->type == JSMN_STRING);
}

/* Index of the token after t's subtree. */
static int skip_subtree(const jsmntok_t *tok, int count, int i)
{
	int end = tok[i].end;
	int j = i + 1;
	while (j < count && tok[j].start < end)
		j++;
	return j;
}

enum key { KEY_SYMBOL, KEY_PRICE, KEY_SIZE, KEY_TS, KEY_UNKNOWN };

static enum key key_of(const char *s, size_t n)
{
	if (literal_is(s, n, "symbol"))
		return KEY_SYMBOL;
	if (literal_is(s, n, "price"))
		return KEY_PRICE;
	if (literal_is(s, n, "size"))
		return KEY_SIZE;
	if (literal_is(s, n, "ts"))
		return KEY_TS;
	return KEY_UNKNOWN;
}

static const char *const key_names[] = {"symbol", "price", "size", "ts"};

/* jsmn's tokens of the line, and the top level checked: one value spanning
 * the whole line (blanks aside), and that an object. */
static inline enum ark_feed_reason tokenize(const char *line, size_t len, jsmntok_t *tok, int *count, char *detail,
					     size_t detail_size)
{
	jsmn_parser parser;
	jsmn_init(&parser);
	*count = jsmn_parse(&parser, line, len, tok, PARSE_MAX_TOKENS);
	if (*count == JSMN_ERROR_NOMEM)
		return fail(ARK_FEED_TOO_COMPLEX, detail, detail_size,
			    "more than %d JSON tokens (a tick has 9): nested or too many members", PARSE_MAX_TOKENS);
	if (*count < 0)
		return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "%s",
			    *count == JSMN_ERROR_PART ? "incomplete JSON" : "invalid JSON");
	if (*count == 0)
		return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "no JSON value");

	/* The first value must span the whole line (blanks aside). */
	size_t first = 0, last = len;
	while (first < len && is_blank(line[first]))
		first++;
	while (last > first && is_blank(line[last - 1]))
		last--;
	if (tok_open(&tok[0]) != first || tok_close(&tok[0]) != last)
		return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "text after the JSON value or invalid JSON");
	if (tok[0].type != JSMN_OBJECT) {
		if (tok[0].type == JSMN_PRIMITIVE &&
		    classify_primitive(line + tok[0].start, (size_t)(tok[0].end - tok[0].start)) == SCALAR_INVALID)
			return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "invalid JSON");
		return fail(ARK_FEED_NOT_OBJECT, detail, detail_size, "a tick is a JSON object, not %s",
			    json_type_name(&tok[0], line));
	}
	return ARK_FEED_OK;
}

/* Pass 1: the members of the top-level object (keys[]: each key's token)
 * and the punctuation between them. */
static inline enum ark_feed_reason find_members(const char *line, const jsmntok_t *tok, int count, int *keys,
						 int *members, char *detail, size_t detail_size)
{
	*members = 0;
	size_t pos = (size_t)tok[0].start + 1;  /* just after '{' */
	char sep = 0;                            /* no comma before the first member */
	int i = 1;
	while (i < count) {
		const jsmntok_t *k = &tok[i];
		if (k->type != JSMN_STRING || k->parent != 0 || k->size != 1 || i + 1 >= count ||
		    tok[i + 1].parent != i)
			return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "invalid JSON object member");
		const jsmntok_t *v = &tok[i + 1];
		if (!gap_is(line, pos, tok_open(k), sep) || !gap_is(line, tok_close(k), tok_open(v), ':'))
			return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "invalid JSON between members");
		if (v->type == JSMN_PRIMITIVE &&
		    classify_primitive(line + v->start, (size_t)(v->end - v->start)) == SCALAR_INVALID)
			return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "invalid JSON value");
		keys[(*members)++] = i;
		pos = tok_close(v);
		sep = ',';
		i = skip_subtree(tok, count, i + 1);
	}
	if (!gap_is(line, pos, (size_t)tok[0].end - 1, 0))
		return fail(ARK_FEED_MALFORMED_JSON, detail, detail_size, "invalid JSON at the end of the object");
	return ARK_FEED_OK;
}

/* The value of one known key into out, in range. */
static inline enum ark_feed_reason parse_field(const struct field_ctx *f, enum key key, const jsmntok_t *v,
						struct ark_tick *out)
{
	enum ark_feed_reason r = ARK_FEED_OK;
	switch (key) {
	case KEY_SYMBOL: r = parse_symbol(f, v, out); break;
	case KEY_PRICE:
		r = parse_number(f, v, "price", ARK_FEED_BAD_PRICE, &out->price);
		if (!r && !(out->price > 0))
			r = fail(ARK_FEED_BAD_PRICE, f->detail, f->detail_size, "price must be > 0");
		break;
	case KEY_SIZE:
		r = parse_number(f, v, "size", ARK_FEED_BAD_SIZE, &out->size);
		if (!r && out->size < 0)
			r = fail(ARK_FEED_BAD_SIZE, f->detail, f->detail_size, "size must be >= 0");
		out->size += 0.0;  /* -0 is 0: downstream never sees a negative zero */
		break;
	case KEY_TS: r = parse_timestamp(f, v, &out->exchange_time_ns); break;
	default: break;
	}
	return r;
}

/* Pass 2: the fields, each key known and given once, in the order given;
 * then the ones that must be there. */
static inline enum ark_feed_reason parse_fields(const struct field_ctx *f, const jsmntok_t *tok, const int *keys,
						 int members, struct ark_tick *out)
{
	const char *line = f->line;
	unsigned seen = 0;
	for (int m = 0; m < members; m++) {
		const jsmntok_t *k = &tok[keys[m]];
		const jsmntok_t *v = &tok[keys[m] + 1];
		enum key key = key_of(line + k->start, (size_t)(k->end - k->start));
		if (key == KEY_UNKNOWN) {
			/* Quoted up to 24 bytes, cut between characters (the line
			 * is valid UTF-8; its first 24 bytes need not end whole). */
			size_t n = (size_t)(k->end - k->start);
			size_t shown = n > 24 ? ark_utf8_cut(line + k->start, 24) : n;
			return fail(ARK_FEED_UNKNOWN_KEY, f->detail, f->detail_size,
				    "unknown key \"%.*s%s\": expected symbol, price, size, ts", (int)shown,
				    line + k->start, n > shown ? "..." : "");
		}
		if (seen & (1u << key))
			return fail(ARK_FEED_DUPLICATE_KEY, f->detail, f->detail_size, "key \"%s\" given twice",
				    key_names[key]);
		seen |= 1u << key;
		enum ark_feed_reason r = parse_field(f, key, v, out);
		if (r)
			return r;
	}
	for (int key = KEY_SYMBOL; key <= KEY_SIZE; key++)
		if (!(seen & (1u << key)))
			return fail(ARK_FEED_MISSING_FIELD, f->detail, f->detail_size, "missing \"%s\"", key_names[key]);
	return ARK_FEED_OK;
}

enum ark_feed_reason ark_feed_parse_line(const char *line, size_t len, struct ark_tick *tick, char *detail,
					 size_t detail_size)
{
	if (detail && detail_size)
		detail[0] = '\0';
	if (len && line[len - 1] == '\r')
		len--;
	bool blank;
	enum ark_feed_reason r = check_bytes((const unsigned char *)line, len, &blank, detail, detail_size);
	if (r)
		return r;
	if (blank)
		return fail(ARK_FEED_EMPTY_LINE, detail, detail_size, "empty line");

	jsmntok_t tok[PARSE_MAX_TOKENS];
	int count, keys[PARSE_MAX_TOKENS / 2], members;
	if ((r = tokenize(line, len, tok, &count, detail, detail_size)) ||
	    (r = find_members(line, tok, count, keys, &members, detail, detail_size)))
		return r;
	struct field_ctx f = {line, detail, detail_size};
	struct ark_tick out = {0};
	if ((r = parse_fields(&f, tok, keys, members, &out)))
		return r;

	memcpy(tick->symbol, out.symbol, sizeof tick->symbol);
	tick->price = out.price;
	tick->size = out.size;
	tick->exchange_time_ns = out.exchange_time_ns;
	return ARK_FEED_OK;
}
