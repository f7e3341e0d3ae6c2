/* alphavantage/quote.c — the poller's settings, and one GLOBAL_QUOTE answer
 * classified (see alphavantage.h). The body is the server's: every length is
 * checked, nothing is trusted to be a number until it parses as one. */
#include "alphavantage/alphavantage.h"

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX_TOKENS 128

static const char *const kind_names[ARK_AV_KIND_COUNT] = {
	[ARK_AV_QUOTE] = "quote",		[ARK_AV_QUOTE_DELAYED] = "quote_delayed",
	[ARK_AV_EMPTY] = "unknown_symbol",	[ARK_AV_ERROR_MESSAGE] = "error_message",
	[ARK_AV_INFORMATION] = "information",	[ARK_AV_NOTE] = "note",
	[ARK_AV_MALFORMED] = "malformed",	[ARK_AV_HTTP_ERROR] = "http_error",
	[ARK_AV_NETWORK] = "network",		[ARK_AV_OUT_OF_BOUNDS] = "out_of_bounds",
};

const char *ark_av_kind_name(enum ark_av_kind kind)
{
	return (unsigned)kind < ARK_AV_KIND_COUNT ? kind_names[kind] : "unknown";
}

static int parse_symbols(const char *list, struct ark_av_config *c, struct ark_err *err)
{
	c->symbol_count = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p;
		while (n && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (n == 0 || n >= ARK_SYMBOL_MAX)
			return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_SYMBOLS: each symbol is 1 to %d characters", ARK_SYMBOL_MAX - 1);
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
				return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_SYMBOLS: '%.*s' holds '%c' (letters, digits, '.', '-')",
						   (int)n, s, s[i]);
		if (c->symbol_count == ARK_AV_MAX_SYMBOLS)
			return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_SYMBOLS: more than %d symbols", ARK_AV_MAX_SYMBOLS);
		memcpy(c->symbols[c->symbol_count], s, n);
		c->symbols[c->symbol_count][n] = '\0';
		c->symbol_count++;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (!c->symbol_count)
		return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_SYMBOLS: no symbol");
	return 0;
}

int ark_av_config_from_env(struct ark_av_config *c, struct ark_err *err)
{
	memset(c, 0, sizeof *c);
	bool enabled = true;
	int rc = ark_env_bool("ALPHA_VANTAGE_ENABLED", true, &enabled, err);
	if (rc)
		return rc;
	const char *key = getenv("ALPHA_VANTAGE_API_KEY");
	c->enabled = enabled && key && *key;
	if (key && *key) {
		if (strlen(key) >= sizeof c->api_key)
			return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_API_KEY is longer than %zu characters", sizeof c->api_key - 1);
		for (const char *p = key; *p; p++)
			if (!isalnum((unsigned char)*p))
				return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_API_KEY holds a character other than a letter or digit");
		snprintf(c->api_key, sizeof c->api_key, "%s", key);
	}
	const char *base = getenv("ALPHA_VANTAGE_BASE_URL");
	if (!base || !*base)
		base = "https://www.alphavantage.co";
	if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
		return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_BASE_URL must start with https:// or http://");
	if (strlen(base) >= sizeof c->base_url - 1 || strpbrk(base, " ?#\"'\\"))
		return ark_err_set(err, -EINVAL, "ALPHA_VANTAGE_BASE_URL is too long or holds a space, '?', '#' or a quote");
	snprintf(c->base_url, sizeof c->base_url, "%s", base);
	size_t bl = strlen(c->base_url);
	if (bl && c->base_url[bl - 1] == '/')
		c->base_url[bl - 1] = '\0';
	const char *symbols = getenv("ALPHA_VANTAGE_SYMBOLS");
	if ((rc = parse_symbols(symbols && *symbols ? symbols : "AAPL,MSFT,GOOGL,AMZN,NVDA", c, err)))
		return rc;
	uint64_t interval, rate, backoff, timeout;
	if ((rc = ark_env_u64("ALPHA_VANTAGE_INTERVAL_S", 60, 1, 86400, &interval, err)) ||
	    (rc = ark_env_u64("ALPHA_VANTAGE_RATE_PER_MIN", 5, 1, 6000, &rate, err)) ||
	    (rc = ark_env_u64("ALPHA_VANTAGE_BACKOFF_S", 60, 1, 3600, &backoff, err)) ||
	    (rc = ark_env_u64("ALPHA_VANTAGE_TIMEOUT_MS", 10000, 100, 120000, &timeout, err)))
		return rc;
	c->interval_ns = interval * 1000000000ull;
	c->spacing_ns = 60000000000ull / rate;
	c->backoff_ns = backoff * 1000000000ull;
	c->timeout_ms = timeout;
	return 0;
}

/* The server's words for a log line: printable ASCII only, shortened. */
static void words(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap && o < 160; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[o] = '\0';
}

static bool key_is(const char *js, const jsmntok_t *t, const char *key)
{
	size_t n = strlen(key);
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n && memcmp(js + t->start, key, n) == 0;
}

/* A numbered string field of the quote object as a finite number. */
static int number_field(const char *js, const jsmntok_t *tok, int ntok, int object, const char *key, double *out)
{
	for (int i = object + 1; i + 1 < ntok; i++) {
		if (tok[i].parent != object || !key_is(js, &tok[i], key))
			continue;
		const jsmntok_t *v = &tok[i + 1];
		size_t n = (size_t)(v->end - v->start);
		char text[64];
		if (v->type != JSMN_STRING || n == 0 || n >= sizeof text)
			return -1;
		memcpy(text, js + v->start, n);
		text[n] = '\0';
		char *end;
		errno = 0;
		double d = strtod(text, &end);
		if (*end || errno || !isfinite(d))
			return -1;
		*out = d;
		return 0;
	}
	return -1;
}

enum ark_av_kind ark_av_parse_quote(int status, const char *body, size_t len, const char *symbol, struct ark_tick *tick,
				    char *detail, size_t detail_len)
{
	detail[0] = '\0';
	if (status != 200) {
		snprintf(detail, detail_len, "HTTP status %d", status);
		return ARK_AV_HTTP_ERROR;
	}
	static __thread jsmntok_t tok[QUOTE_MAX_TOKENS];
	jsmn_parser p;
	jsmn_init(&p);
	int ntok = jsmn_parse(&p, body, len, tok, QUOTE_MAX_TOKENS);
	if (ntok < 1 || tok[0].type != JSMN_OBJECT) {
		snprintf(detail, detail_len, "not a JSON object (%zu bytes)", len);
		return ARK_AV_MALFORMED;
	}
	for (int i = 1; i + 1 < ntok; i++) {
		if (tok[i].parent != 0)
			continue;
		const jsmntok_t *v = &tok[i + 1];
		static const struct { const char *key; enum ark_av_kind kind; } messages[] = {
			{"Error Message", ARK_AV_ERROR_MESSAGE}, {"Information", ARK_AV_INFORMATION}, {"Note", ARK_AV_NOTE}};
		for (size_t m = 0; m < sizeof messages / sizeof messages[0]; m++)
			if (key_is(body, &tok[i], messages[m].key)) {
				if (v->type == JSMN_STRING)
					words(body + v->start, (size_t)(v->end - v->start), detail, detail_len);
				return messages[m].kind;
			}
		bool delayed = key_is(body, &tok[i], "Global Quote - DATA DELAYED");
		if (!delayed && !key_is(body, &tok[i], "Global Quote"))
			continue;
		if (v->type != JSMN_OBJECT) {
			snprintf(detail, detail_len, "\"Global Quote\" is not an object");
			return ARK_AV_MALFORMED;
		}
		if (v->size == 0) {
			snprintf(detail, detail_len, "no quote for %s (an unknown symbol)", symbol);
			return ARK_AV_EMPTY;
		}
		int object = i + 1;
		const jsmntok_t *sym = NULL;
		for (int k = object + 1; k + 1 < ntok; k++)
			if (tok[k].parent == object && key_is(body, &tok[k], "01. symbol"))
				sym = &tok[k + 1];
		size_t sl = sym ? (size_t)(sym->end - sym->start) : 0;
		if (!sym || sym->type != JSMN_STRING || sl != strlen(symbol) || strncasecmp(body + sym->start, symbol, sl) != 0) {
			snprintf(detail, detail_len, "the quote is not for %s", symbol);
			return ARK_AV_MALFORMED;
		}
		double price, volume = 0;
		if (number_field(body, tok, ntok, object, "05. price", &price) || !(price > 0)) {
			snprintf(detail, detail_len, "no positive \"05. price\"");
			return ARK_AV_MALFORMED;
		}
		if (number_field(body, tok, ntok, object, "06. volume", &volume) == 0 && volume < 0) {
			snprintf(detail, detail_len, "a negative \"06. volume\"");
			return ARK_AV_MALFORMED;
		}
		memset(tick, 0, sizeof *tick);
		snprintf(tick->symbol, sizeof tick->symbol, "%s", symbol);
		tick->price = price;
		tick->size = volume;
		return delayed ? ARK_AV_QUOTE_DELAYED : ARK_AV_QUOTE;
	}
	snprintf(detail, detail_len, "neither a quote nor a message");
	return ARK_AV_MALFORMED;
}
