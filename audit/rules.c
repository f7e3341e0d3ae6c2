/* audit/rules.c — the audit's own reading of a Graveyard rules file.
 *
 * Deliberately not graveyard/'s parser: an auditor that shares the code it
 * audits shares its mistakes. This reader takes the same documented format
 * (key = value SCOPE, # comments) in a few lines per key, and refuses a file
 * that lacks a rule the evaluator needs. It does not re-validate every
 * corner the real parser refuses: HRM would not have started on such a file. */
#include "audit/audit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Drop a trailing scope word ("node" / "global"). */
static void drop_scope(char *v)
{
	size_t n = strlen(v);
	if (n >= 5 && strcmp(v + n - 5, " node") == 0)
		v[n - 5] = '\0';
	else if (n >= 7 && strcmp(v + n - 7, " global") == 0)
		v[n - 7] = '\0';
	ark_trim(v);
}

static int number(const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *ark_trim(end) != '\0' || !isfinite(d) || d <= 0)
		return -EINVAL;
	*out = d;
	return 0;
}

static int duration(const char *v, uint64_t *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || !(d > 0))
		return -EINVAL;
	static const struct {
		const char *unit;
		double ns;
	} units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i].unit) == 0) {
			*out = (uint64_t)llround(d * units[i].ns);
			return 0;
		}
	return -EINVAL;
}

static int rate(char *v, uint32_t *count, uint64_t *window)
{
	char *slash = strchr(v, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	char *end;
	unsigned long c = strtoul(v, &end, 10);
	if (end == v || *end || c == 0)
		return -EINVAL;
	*count = (uint32_t)c;
	return duration(ark_trim(slash + 1), window);
}

static void upper(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)in[i]);
	out[i] = '\0';
}

static int list(char *v, char (*items)[ARK_SYMBOL_MAX], int cap_items, size_t item_size, int *count)
{
	*count = 0;
	if (strcasecmp(v, "none") == 0)
		return 0;
	for (char *save = NULL, *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = ark_trim(tok);
		if (!*tok || *count >= cap_items || strlen(tok) >= item_size)
			return -EINVAL;
		upper(tok, (char *)items + (size_t)*count * item_size, item_size);
		(*count)++;
	}
	return 0;
}

enum rule_key { K_STATE, K_QTY, K_NOTIONAL, K_COLLAR, K_AGE, K_SYMBOLS, K_PATTERNS, K_RATE, K_RATE_SYMBOL, K_DUP,
		K_POS, K_GROSS, K_LOSS, K_COUNT };
static const char *const key_names[K_COUNT] = {"trading_state", "max_order_quantity", "max_order_notional",
					       "price_collar", "reference_max_age", "restricted_symbols",
					       "restricted_patterns", "order_rate", "order_rate_per_symbol",
					       "duplicate_window", "max_position", "max_gross_exposure",
					       "daily_loss_limit"};
static const int key_kinds[K_COUNT] = {ARK_REASON_HALTED, ARK_REASON_MAX_QUANTITY, ARK_REASON_MAX_NOTIONAL,
				       ARK_REASON_PRICE_COLLAR, ARK_REASON_REFERENCE_PRICE,
				       ARK_REASON_RESTRICTED_SYMBOL, ARK_REASON_RESTRICTED_PATTERN,
				       ARK_REASON_RATE_GLOBAL, ARK_REASON_RATE_SYMBOL, ARK_REASON_DUPLICATE,
				       ARK_REASON_POSITION_LIMIT, ARK_REASON_GROSS_EXPOSURE, ARK_REASON_DAILY_LOSS};

/* "5%" or "50bps" as a fraction. */
static int collar(const char *value, double *out)
{
	char *end;
	double d = strtod(value, &end);
	if (end == value || !(d > 0))
		return 1;
	if (strcmp(end, "%") == 0)
		*out = d / 100;
	else if (strcmp(end, "bps") == 0)
		*out = d / 10000;
	else
		return 1;
	return 0;
}

/* One key's value into the rules; nonzero when the audit cannot read it. */
static int read_value(struct ark_audit_rules *r, enum rule_key k, char *value)
{
	switch (k) {
	case K_STATE:
		r->trading_state = strcmp(value, "ACTIVE") == 0 ? 0 : strcmp(value, "REDUCING") == 0 ? 1
				 : strcmp(value, "HALTED") == 0 ? 2 : -1;
		return r->trading_state < 0;
	case K_QTY: return number(value, &r->max_order_quantity);
	case K_NOTIONAL: return number(value, &r->max_order_notional);
	case K_COLLAR: return collar(value, &r->price_collar);
	case K_AGE: return duration(value, &r->reference_max_age_ns);
	case K_SYMBOLS:
		return list(value, r->restricted, ARK_AUDIT_MAX_RESTRICTED, ARK_SYMBOL_MAX, &r->restricted_count);
	case K_PATTERNS:
		return list(value, (char(*)[ARK_SYMBOL_MAX])r->patterns, ARK_AUDIT_MAX_PATTERNS, sizeof r->patterns[0],
			    &r->pattern_count);
	case K_RATE: return rate(value, &r->order_rate_count, &r->order_rate_window_ns);
	case K_RATE_SYMBOL: return rate(value, &r->order_rate_per_symbol_count, &r->order_rate_per_symbol_window_ns);
	case K_DUP: return duration(value, &r->duplicate_window_ns);
	case K_POS: return number(value, &r->max_position);
	case K_GROSS: return number(value, &r->max_gross_exposure);
	case K_LOSS: return number(value, &r->daily_loss_limit);
	case K_COUNT: break;
	}
	return 1;
}

/* Every line of the (NUL-terminated, writable) copy; keys the audit does not
 * judge are passed over, every key it judges must be there. */
static int read_lines(char *copy, struct ark_audit_rules *r, struct ark_err *err)
{
	bool seen[K_COUNT] = {0};
	int line_no = 0, rc = 0;
	for (char *line = copy, *next; line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line_no++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *eq = strchr(line, '=');
		char *key = ark_trim(line);
		if (!*key)
			continue;
		if (!eq) {
			rc = ark_err_set(err, -EINVAL, "rules line %d: expected key = value", line_no);
			break;
		}
		*eq = '\0';
		key = ark_trim(key);
		char *value = ark_trim(eq + 1);
		int k = -1;
		for (int i = 0; i < K_COUNT; i++)
			if (strcmp(key, key_names[i]) == 0)
				k = i;
		if (k < 0)
			continue;   /* version, trading_day_reset: not the audit's to judge */
		drop_scope(value);
		seen[k] = true;
		r->line[key_kinds[k]] = line_no;
		if (read_value(r, (enum rule_key)k, value))
			rc = ark_err_set(err, -EINVAL, "rules line %d: %s: the audit cannot read '%s'", line_no,
					 key_names[k], value);
	}
	for (int k = 0; !rc && k < K_COUNT; k++)
		if (!seen[k])
			rc = ark_err_set(err, -EINVAL, "rules: no %s", key_names[k]);
	return rc;
}

int ark_audit_rules_parse(const char *text, size_t length, struct ark_audit_rules *r, struct ark_err *err)
{
	memset(r, 0, sizeof *r);
	/* Not in the rules file: the edges' skew, which HRM reads from the
	 * same environment (a tick this far ahead of its clock is fresh). */
	struct ark_tick_bounds bounds;
	char bounds_error[160];
	if (ark_tick_bounds_from_env(&bounds, bounds_error, sizeof bounds_error))
		return ark_err_set(err, -EINVAL, "%s", bounds_error);
	r->fresh_ahead_ns = bounds.max_skew_ns;
	char *copy = malloc(length + 1);
	if (!copy)
		return ark_err_set(err, -ENOMEM, "out of memory");
	memcpy(copy, text, length);
	copy[length] = '\0';
	int rc = read_lines(copy, r, err);
	r->line[ARK_REASON_REDUCING_ONLY] = r->line[ARK_REASON_HALTED];
	free(copy);
	if (rc)
		return rc;
	unsigned char digest[32];
	unsigned int n = 0;
	EVP_Digest(text, length, digest, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(r->sha256 + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

int ark_audit_rules_load(const char *path, struct ark_audit_rules *rules, struct ark_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return ark_err_set(err, -errno, "cannot read the rules %s: %s", path, strerror(errno));
	char *text = malloc(1u << 20);
	if (!text) {
		fclose(f);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	size_t n = fread(text, 1, 1u << 20, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	int rc = more ? ark_err_set(err, -EFBIG, "the rules %s are larger than 1 MiB", path)
		      : ark_audit_rules_parse(text, n, rules, err);
	free(text);
	return rc ? ark_err_wrap(err, "%s", path) : 0;
}
