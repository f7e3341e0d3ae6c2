/* graveyard/rules_parse.c — compiles rules text (format in graveyard.h) into
 * struct ark_graveyard_limits.
 *
 * Invariant: a table comes out either complete — every key stated once, every
 * value in range, the whole struct zero-filled first so its bytes (and so its
 * hash) depend only on the rules — or not at all, with an error naming the
 * file, the line and what was expected there. */
#include "graveyard/graveyard.h"
#include "graveyard/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_BYTES 4096
#define NUMBER_MAX 1e15
#define QUANTITY_MAX 1e12

struct parse {
	const char *name;
	unsigned line;
	struct ark_graveyard_limits *limits;
	struct ark_err *err;
	const char *key;
	const char *value;      /* the whole value, for messages */
};

typedef int (*value_parser)(struct parse *p, const char *value);

struct key_def {
	const char *key;
	enum ark_reason kind;   /* the rule it states; NONE for settings */
	bool scoped;
	value_parser parse;
};

static int bad(struct parse *p, const char *expected, const char *got)
{
	return ark_err_set(p->err, -EINVAL, "%s:%u: %s: expected %s, got '%s'", p->name, p->line, p->key,
			   expected, got);
}

/* A positive finite number up to max, the whole text. */
static bool positive(const char *text, double max, double *out)
{
	if (!*text || !(isdigit((unsigned char)*text) || *text == '.') || text[strspn(text, "0123456789.eE+-")])
		return false;   /* decimal only: no hex, no inf/nan, no sign */
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* A duration with an explicit unit, in [min, max] ns. */
static bool duration(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t n = strlen(text);
	if (n == 0 || !isalpha((unsigned char)text[n - 1]))
		return false;
	if (ark_parse_duration_ns(text, 1, "duration", out, NULL))
		return false;
	return *out >= min && *out <= max;
}

static int parse_version(struct parse *p, const char *v)
{
	if (strcmp(v, "1") != 0)
		return bad(p, "1 (the only format version this ARK reads)", v);
	p->limits->format_version = ARK_GRAVEYARD_FORMAT_VERSION;
	return 0;
}

static int parse_state(struct parse *p, const char *v)
{
	static const char *const names[] = {"ACTIVE", "REDUCING", "HALTED"};
	for (unsigned i = 0; i < ARK_ARRAY_LEN(names); i++)
		if (strcasecmp(v, names[i]) == 0) {
			p->limits->trading_state = i;
			return 0;
		}
	return bad(p, "ACTIVE, REDUCING or HALTED followed by the scope", v);
}

/* A limit in units of the instrument. */
static int units(struct parse *p, const char *v, double *out)
{
	if (!positive(v, QUANTITY_MAX, out))
		return bad(p, "a positive number of units (at most 1e12) followed by the scope", v);
	return 0;
}

/* A limit in money. */
static int amount(struct parse *p, const char *v, double *out)
{
	if (!positive(v, NUMBER_MAX, out))
		return bad(p, "a positive amount (at most 1e15) followed by the scope", v);
	return 0;
}

static int parse_quantity(struct parse *p, const char *v)
{
	return units(p, v, &p->limits->max_order_quantity);
}

static int parse_notional(struct parse *p, const char *v)
{
	return amount(p, v, &p->limits->max_order_notional);
}

#define COLLAR_TEXT_MAX 64

/* The number before a unit of `unit_len` characters (n < COLLAR_TEXT_MAX),
 * up to max. */
static bool number_before_unit(const char *v, size_t n, size_t unit_len, double max, double *x)
{
	char num[COLLAR_TEXT_MAX];
	memcpy(num, v, n - unit_len);
	num[n - unit_len] = '\0';
	return positive(ark_trim(num), max, x);
}

static int parse_collar(struct parse *p, const char *v)
{
	const size_t n = strlen(v);
	double x;
	const char *expected = "a percentage such as 5% (at most 100%) or basis points such as 50bps "
			       "(at most 10000bps), followed by the scope";
	if (n > 1 && n < COLLAR_TEXT_MAX && v[n - 1] == '%') {
		if (!number_before_unit(v, n, 1, 100, &x))
			return bad(p, expected, v);
		p->limits->price_collar = x / 100.0;
		p->limits->price_collar_in_bps = 0;
		return 0;
	}
	if (n > 3 && n < COLLAR_TEXT_MAX && strcasecmp(v + n - 3, "bps") == 0) {
		if (!number_before_unit(v, n, 3, 10000, &x))
			return bad(p, expected, v);
		p->limits->price_collar = x / 10000.0;
		p->limits->price_collar_in_bps = 1;
		return 0;
	}
	return bad(p, expected, v);
}

static int parse_reference_age(struct parse *p, const char *v)
{
	if (!duration(v, 1000, ARK_GRAVEYARD_DAY_NS, &p->limits->reference_max_age_ns))
		return bad(p, "a duration with a unit from 1us to 24h, such as 5s or 250ms, followed by the scope", v);
	return 0;
}

static int parse_window(struct parse *p, const char *v, uint64_t *out)
{
	if (!duration(v, 1000, 3600ull * 1000000000ull, out))
		return bad(p, "a duration with a unit from 1us to 1h, such as 500ms or 2s, followed by the scope", v);
	return 0;
}

static int parse_duplicate(struct parse *p, const char *v)
{
	return parse_window(p, v, &p->limits->duplicate_window_ns);
}

static int parse_rate(struct parse *p, const char *v, uint32_t max_count, uint32_t *count, uint64_t *window)
{
	char buf[128], expected[160];
	snprintf(expected, sizeof expected,
		 "COUNT/DURATION such as 100/1s (COUNT 1 to %u, DURATION 1us to 1h), followed by the scope",
		 max_count);
	const char *slash = strchr(v, '/');
	if (!slash || (size_t)(slash - v) >= sizeof buf || strlen(slash + 1) >= sizeof buf)
		return bad(p, expected, v);
	memcpy(buf, v, (size_t)(slash - v));
	buf[slash - v] = '\0';
	uint64_t c;
	if (ark_parse_u64(ark_trim(buf), 1, max_count, "count", &c, NULL))
		return bad(p, expected, v);
	char wbuf[128];
	snprintf(wbuf, sizeof wbuf, "%s", slash + 1);
	if (!duration(ark_trim(wbuf), 1000, 3600ull * 1000000000ull, window))
		return bad(p, expected, v);
	*count = (uint32_t)c;
	return 0;
}

static int parse_rate_all(struct parse *p, const char *v)
{
	return parse_rate(p, v, ARK_GRAVEYARD_MAX_RATE, &p->limits->order_rate_count,
			  &p->limits->order_rate_window_ns);
}

static int parse_rate_symbol(struct parse *p, const char *v)
{
	return parse_rate(p, v, ARK_GRAVEYARD_MAX_RATE_PER_SYMBOL, &p->limits->order_rate_per_symbol_count,
			  &p->limits->order_rate_per_symbol_window_ns);
}

static int parse_position(struct parse *p, const char *v)
{
	return units(p, v, &p->limits->max_position);
}

static int parse_gross(struct parse *p, const char *v)
{
	return amount(p, v, &p->limits->max_gross_exposure);
}

static int parse_loss(struct parse *p, const char *v)
{
	return amount(p, v, &p->limits->daily_loss_limit);
}

/* Calls item() for each comma-separated entry; "none" alone is an empty list. */
static int each_item(struct parse *p, const char *v, const char *expected,
		     int (*item)(struct parse *p, char *entry))
{
	if (strcasecmp(v, "none") == 0)
		return 0;
	char buf[LINE_MAX_BYTES];
	snprintf(buf, sizeof buf, "%s", v);
	char *save = NULL;
	size_t n = strlen(buf);
	if (n == 0 || buf[0] == ',' || buf[n - 1] == ',' || strstr(buf, ",,"))
		return bad(p, expected, v);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *entry = ark_trim(tok);
		if (!*entry)
			return bad(p, expected, v);
		int rc = item(p, entry);
		if (rc)
			return rc;
	}
	return 0;
}

static int restricted_item(struct parse *p, char *entry)
{
	struct ark_graveyard_limits *l = p->limits;
	if (!ark_graveyard_symbol_valid(entry))
		return bad(p, "symbols of 1 to 15 characters A-Z a-z 0-9 . - _ / separated by commas, or none", entry);
	char up[ARK_SYMBOL_MAX];
	ark_graveyard_symbol_upper(entry, up);
	for (uint32_t i = 0; i < l->restricted_count; i++)
		if (memcmp(l->restricted[i], up, ARK_SYMBOL_MAX) == 0)
			return bad(p, "each symbol once", entry);
	if (l->restricted_count == ARK_GRAVEYARD_MAX_RESTRICTED)
		return ark_err_set(p->err, -E2BIG, "%s:%u: %s: at most %d symbols", p->name, p->line, p->key,
				   ARK_GRAVEYARD_MAX_RESTRICTED);
	memcpy(l->restricted[l->restricted_count++], up, ARK_SYMBOL_MAX);
	return 0;
}

static int parse_restricted(struct parse *p, const char *v)
{
	return each_item(p, v, "symbols separated by commas, or none, followed by the scope", restricted_item);
}

static int pattern_item(struct parse *p, char *entry)
{
	struct ark_graveyard_limits *l = p->limits;
	const char *why = NULL;
	struct ark_graveyard_pattern pat;
	if (ark_graveyard_pattern_compile(entry, &pat, &why))
		return bad(p, why, entry);
	for (uint32_t i = 0; i < l->pattern_count; i++)
		if (strcmp(l->patterns[i].text, pat.text) == 0)
			return bad(p, "each pattern once", entry);
	if (l->pattern_count == ARK_GRAVEYARD_MAX_PATTERNS)
		return ark_err_set(p->err, -E2BIG, "%s:%u: %s: at most %d patterns", p->name, p->line, p->key,
				   ARK_GRAVEYARD_MAX_PATTERNS);
	l->patterns[l->pattern_count++] = pat;
	return 0;
}

static int parse_patterns(struct parse *p, const char *v)
{
	return each_item(p, v, "globs such as *.OTC or TEST* separated by commas, or none, followed by the scope",
			 pattern_item);
}

/* Two decimal digits at s, or -1. */
static int two_digits(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static int parse_reset(struct parse *p, const char *v)
{
	const char *expected = "a time of day HH:MM or HH:MM:SS followed by its time zone, UTC or an IANA name, "
			       "such as 00:00 UTC or 17:00 America/New_York";
	int h = two_digits(v), m = -1, s = 0;
	const char *rest = v + 2;
	if (h >= 0 && *rest == ':') {
		m = two_digits(rest + 1);
		rest += 3;
		if (m >= 0 && *rest == ':') {
			s = two_digits(rest + 1);
			rest += 3;
		}
	}
	if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59 || !isspace((unsigned char)*rest))
		return bad(p, expected, v);
	while (isspace((unsigned char)*rest))
		rest++;
	if (!ark_graveyard_zone_name_valid(rest))
		return bad(p, expected, v);
	/* The zone must exist here and now: HRM reads it at every start. */
	struct ark_graveyard_zone *zone = NULL;
	struct ark_err why = {0};
	if (ark_graveyard_zone_load(rest, &zone, &why))
		return ark_err_set(p->err, -EINVAL, "%s:%u: %s: expected %s, got '%s' (%s)", p->name, p->line, p->key,
				   expected, v, why.msg);
	ark_graveyard_zone_free(zone);
	snprintf(p->limits->trading_day_zone, sizeof p->limits->trading_day_zone, "%s", rest);
	p->limits->trading_day_reset_ns = ((uint64_t)h * 3600 + (uint64_t)m * 60 + (uint64_t)s) * 1000000000ull;
	return 0;
}

static const struct key_def keys[] = {
	{"version", ARK_REASON_NONE, false, parse_version},
	{"trading_state", ARK_REASON_HALTED, true, parse_state},
	{"max_order_quantity", ARK_REASON_MAX_QUANTITY, true, parse_quantity},
	{"max_order_notional", ARK_REASON_MAX_NOTIONAL, true, parse_notional},
	{"price_collar", ARK_REASON_PRICE_COLLAR, true, parse_collar},
	{"reference_max_age", ARK_REASON_REFERENCE_PRICE, true, parse_reference_age},
	{"restricted_symbols", ARK_REASON_RESTRICTED_SYMBOL, true, parse_restricted},
	{"restricted_patterns", ARK_REASON_RESTRICTED_PATTERN, true, parse_patterns},
	{"order_rate", ARK_REASON_RATE_GLOBAL, true, parse_rate_all},
	{"order_rate_per_symbol", ARK_REASON_RATE_SYMBOL, true, parse_rate_symbol},
	{"duplicate_window", ARK_REASON_DUPLICATE, true, parse_duplicate},
	{"max_position", ARK_REASON_POSITION_LIMIT, true, parse_position},
	{"max_gross_exposure", ARK_REASON_GROSS_EXPOSURE, true, parse_gross},
	{"daily_loss_limit", ARK_REASON_DAILY_LOSS, true, parse_loss},
	{"trading_day_reset", ARK_REASON_NONE, false, parse_reset},
};

const char *ark_graveyard_rule_key(enum ark_reason kind)
{
	if (kind == ARK_REASON_REDUCING_ONLY)
		kind = ARK_REASON_HALTED;
	for (size_t i = 0; i < ARK_ARRAY_LEN(keys); i++)
		if (keys[i].kind == kind && kind != ARK_REASON_NONE)
			return keys[i].key;
	return NULL;
}

static int parse_line(struct parse *p, char *line, unsigned seen[])
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *text = ark_trim(line);
	if (!*text)
		return 0;
	char *eq = strchr(text, '=');
	if (!eq)
		return ark_err_set(p->err, -EINVAL, "%s:%u: expected 'key = value', got '%s'", p->name, p->line, text);
	*eq = '\0';
	char *key = ark_trim(text), *value = ark_trim(eq + 1);
	size_t def = ARK_ARRAY_LEN(keys);
	for (size_t i = 0; i < ARK_ARRAY_LEN(keys); i++)
		if (strcmp(key, keys[i].key) == 0)
			def = i;
	if (def == ARK_ARRAY_LEN(keys)) {
		char known[512] = "";
		for (size_t i = 0; i < ARK_ARRAY_LEN(keys); i++)
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", keys[i].key);
		return ark_err_set(p->err, -EINVAL, "%s:%u: unknown key '%s' (expected one of: %s)", p->name, p->line,
				   key, known);
	}
	const struct key_def *k = &keys[def];
	p->key = k->key;
	if (seen[def])
		return ark_err_set(p->err, -EINVAL, "%s:%u: %s stated again (first at line %u); each key once",
				   p->name, p->line, k->key, seen[def]);
	seen[def] = p->line;
	if (!*value)
		return bad(p, k->scoped ? "a value followed by the scope (node or global)" : "a value", "");
	uint8_t scope = ARK_GRAVEYARD_SCOPE_NONE;
	if (k->scoped) {
		char *space = value + strlen(value);
		while (space > value && !isspace((unsigned char)space[-1]))
			space--;
		const char *word = space;
		if (strcmp(word, "node") == 0)
			scope = ARK_GRAVEYARD_SCOPE_NODE;
		else if (strcmp(word, "global") == 0)
			scope = ARK_GRAVEYARD_SCOPE_GLOBAL;
		if (!scope || space == value) {
			char expected[96];
			snprintf(expected, sizeof expected, "the value then its scope, node or global (as in '%s = ... node')",
				 k->key);
			return bad(p, expected, value);
		}
		space[-1] = '\0';
		value = ark_trim(value);
		if (!*value)
			return bad(p, "a value before the scope", "");
	}
	int rc = k->parse(p, value);
	if (rc)
		return rc;
	if (k->kind != ARK_REASON_NONE) {
		p->limits->rules[k->kind].line = (uint16_t)p->line;
		p->limits->rules[k->kind].scope = scope;
		if (k->kind == ARK_REASON_HALTED)
			p->limits->rules[ARK_REASON_REDUCING_ONLY] = p->limits->rules[k->kind];
	}
	return 0;
}

int ark_graveyard_parse(const char *text, size_t length, const char *name, struct ark_graveyard_rules *rules,
			struct ark_err *err)
{
	memset(rules, 0, sizeof *rules);
	if (!name)
		name = "rules";
	if (length > ARK_GRAVEYARD_FILE_MAX)
		return ark_err_set(err, -EFBIG, "%s: %zu bytes; a rules file holds at most %u", name, length,
				   ARK_GRAVEYARD_FILE_MAX);
	struct parse p = {.name = name, .limits = &rules->limits, .err = err};
	unsigned seen[ARK_ARRAY_LEN(keys)] = {0};
	char line[LINE_MAX_BYTES + 1];
	size_t pos = 0;
	while (pos < length) {
		p.line++;
		if (p.line > UINT16_MAX)
			return ark_err_set(err, -EFBIG, "%s:%u: more than %u lines", name, p.line, UINT16_MAX);
		const char *nl = memchr(text + pos, '\n', length - pos);
		size_t end = nl ? (size_t)(nl - text) : length;
		size_t n = end - pos;
		if (n && text[pos + n - 1] == '\r')
			n--;
		if (n > LINE_MAX_BYTES)
			return ark_err_set(err, -EINVAL, "%s:%u: line longer than %d bytes", name, p.line, LINE_MAX_BYTES);
		if (memchr(text + pos, '\0', n))
			return ark_err_set(err, -EINVAL, "%s:%u: expected text, found a NUL byte", name, p.line);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		int rc = parse_line(&p, line, seen);
		if (rc) {
			memset(&rules->limits, 0, sizeof rules->limits);
			return rc;
		}
		pos = end + 1;
	}
	for (size_t i = 0; i < ARK_ARRAY_LEN(keys); i++)
		if (!seen[i]) {
			memset(&rules->limits, 0, sizeof rules->limits);
			return ark_err_set(err, -EINVAL, "%s:%u: end of file: missing '%s' (every key must be stated once)",
					   name, p.line + 1, keys[i].key);
		}
	ark_graveyard_sha256(text, length, rules->file_sha256);
	ark_graveyard_hex(rules->file_sha256, rules->file_sha256_hex);
	ark_graveyard_table_hash(&rules->limits, rules->table_sha256);
	ark_graveyard_hex(rules->table_sha256, rules->table_sha256_hex);
	rules->file_size = length;
	return 0;
}

const char *ark_trading_state_name(enum ark_trading_state state)
{
	switch (state) {
	case ARK_TRADING_ACTIVE: return "ACTIVE";
	case ARK_TRADING_REDUCING: return "REDUCING";
	case ARK_TRADING_HALTED: return "HALTED";
	}
	return "?";
}

const char *ark_graveyard_scope_name(enum ark_graveyard_scope scope)
{
	switch (scope) {
	case ARK_GRAVEYARD_SCOPE_NONE: return "-";
	case ARK_GRAVEYARD_SCOPE_NODE: return "node";
	case ARK_GRAVEYARD_SCOPE_GLOBAL: return "global";
	}
	return "?";
}
