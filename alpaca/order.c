/* alpaca/order.c — Alpaca's settings, the order body Kenny sends, and every
 * answer read (see alpaca.h). The bodies are the server's: every length is
 * checked, nothing is a number until it parses as one, and a 200 that is not
 * an order object is malformed rather than guessed at. */
#include "alpaca/alpaca.h"

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 512

static int copy_secret(const char *name, char *out, size_t cap, struct ark_err *err)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return ark_err_set(err, -EINVAL, "%s is required with ARK_BROKER=alpaca", name);
	if (strlen(v) >= cap)
		return ark_err_set(err, -EINVAL, "%s is longer than %zu characters", name, cap - 1);
	for (const char *p = v; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return ark_err_set(err, -EINVAL, "%s holds a space or a character that cannot go in an HTTP header",
					   name);
	snprintf(out, cap, "%s", v);
	return 0;
}

int ark_alpaca_config_from_env(struct ark_alpaca_config *c, struct ark_err *err)
{
	memset(c, 0, sizeof *c);
	int rc = copy_secret("ALPACA_API_KEY", c->key_id, sizeof c->key_id, err);
	if (!rc)
		rc = copy_secret("ALPACA_SECRET_KEY", c->secret_key, sizeof c->secret_key, err);
	if (rc)
		return rc;
	const char *base = getenv("ALPACA_BASE_URL");
	if (!base || !*base)
		base = "https://paper-api.alpaca.markets";
	if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
		return ark_err_set(err, -EINVAL, "ALPACA_BASE_URL must start with https:// or http://, got '%.64s'", base);
	if (strncmp(base, "http://", 7) == 0 && strncmp(base + 7, "127.0.0.1", 9) != 0 && strncmp(base + 7, "localhost", 9) != 0 &&
	    strncmp(base + 7, "[::1]", 5) != 0)
		return ark_err_set(err, -EINVAL, "ALPACA_BASE_URL: http:// only to this machine (the keys would cross the network "
						 "in clear text); use https://");
	if (strlen(base) >= sizeof c->base_url - 1 || strpbrk(base, " ?#\"'\\"))
		return ark_err_set(err, -EINVAL, "ALPACA_BASE_URL is too long or holds a space, '?', '#' or a quote");
	snprintf(c->base_url, sizeof c->base_url, "%s", base);
	size_t bl = strlen(c->base_url);
	while (bl > 8 && c->base_url[bl - 1] == '/')
		c->base_url[--bl] = '\0';
	if (bl >= 3 && strcmp(c->base_url + bl - 3, "/v2") == 0)
		return ark_err_set(err, -EINVAL, "ALPACA_BASE_URL is the server, without /v2 (got '%s')", c->base_url);
	const char *tif = getenv("ALPACA_TIME_IN_FORCE");
	if (!tif || !*tif)
		tif = "day";
	if (strcmp(tif, "day") && strcmp(tif, "gtc") && strcmp(tif, "ioc") && strcmp(tif, "fok"))
		return ark_err_set(err, -EINVAL, "ALPACA_TIME_IN_FORCE: expected day, gtc, ioc or fok, got '%.16s'", tif);
	snprintf(c->time_in_force, sizeof c->time_in_force, "%s", tif);
	uint64_t attempts, connections;
	const char *band = getenv("ALPACA_MARKET_PRICE_BAND");
	c->market_price_band = 0.05;
	if (band && *band && (rc = ark_parse_double(band, 0.0001, 1, "ALPACA_MARKET_PRICE_BAND", &c->market_price_band, err)))
		return rc;
	if ((rc = ark_env_u64("ALPACA_TIMEOUT_MS", 5000, 100, 60000, &c->timeout_ms, err)) ||
	    (rc = ark_env_u64("ALPACA_POLL_MS", 1000, 100, 3600 * 1000, &c->poll_ms, err)) ||
	    (rc = ark_env_u64("ALPACA_ACCOUNT_REFRESH_S", 60, 1, 86400, &c->account_refresh_s, err)) ||
	    (rc = ark_env_u64("ALPACA_MAX_ATTEMPTS", 3, 1, 10, &attempts, err)) ||
	    (rc = ark_env_u64("ALPACA_MAX_CONNECTIONS", 8, 1, 64, &connections, err)))
		return rc;
	c->max_attempts = (uint32_t)attempts;
	c->max_connections = (uint32_t)connections;
	return 0;
}

void ark_alpaca_client_order_id(uint64_t run_id, uint64_t trace_id, char out[ARK_ALPACA_COID_MAX])
{
	snprintf(out, ARK_ALPACA_COID_MAX, "ark-%010llx-%016llx", (unsigned long long)(run_id & 0xffffffffffull),
		 (unsigned long long)trace_id);
}

static int parse_hex(const char *text, size_t digits, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < digits; i++) {
		char ch = text[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int ark_alpaca_parse_client_order_id(const char *text, uint64_t *run_id, uint64_t *trace_id)
{
	if (strlen(text) != 31 || strncmp(text, "ark-", 4) != 0 || text[14] != '-')
		return -1;
	return parse_hex(text + 4, 10, run_id) || parse_hex(text + 15, 16, trace_id) ? -1 : 0;
}

int ark_alpaca_order_body(char *out, size_t cap, const char *symbol, const char *side, double quantity,
			  double limit_price, const char *time_in_force, const char *client_order_id)
{
	if (!(quantity > 0) || !isfinite(quantity) || !(limit_price > 0) || !isfinite(limit_price) || !*symbol)
		return -1;
	for (const char *p = symbol; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '/' && *p != '-')
			return -1;
	/* Alpaca takes amounts as strings; prices to the cent at $1 and above,
	 * to 1/100 of a cent below. Through the one JSON writer. */
	char qty[32], price[48];
	snprintf(qty, sizeof qty, "%.9g", quantity);
	snprintf(price, sizeof price, "%.*f", limit_price >= 1 ? 2 : 4, limit_price);
	struct ark_json_text text = {out, cap, 0, false};
	struct ark_json j;
	ark_json_init_sink(&j, ark_json_text_sink, &text);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "symbol", symbol);
	ark_json_string(&j, "qty", qty);
	ark_json_string(&j, "side", side);
	ark_json_string(&j, "type", "limit");
	ark_json_string(&j, "time_in_force", time_in_force);
	ark_json_string(&j, "limit_price", price);
	ark_json_string(&j, "client_order_id", client_order_id);
	ark_json_object_end(&j);
	return text.truncated ? -1 : (int)text.len;
}

/* ---- reading JSON ---- */

static bool key_is(const char *js, const jsmntok_t *t, const char *key)
{
	size_t n = strlen(key);
	return t->type == JSMN_STRING && (size_t)(t->end - t->start) == n && memcmp(js + t->start, key, n) == 0;
}

/* The value token of `key` in the object at index `object`, or -1. */
static int member(const char *js, const jsmntok_t *tok, int ntok, int object, const char *key)
{
	for (int i = object + 1; i + 1 < ntok; i++)
		if (tok[i].parent == object && key_is(js, &tok[i], key))
			return i + 1;
	return -1;
}

static int string_member(const char *js, const jsmntok_t *tok, int ntok, int object, const char *key, char *out,
			 size_t cap)
{
	int v = member(js, tok, ntok, object, key);
	if (v < 0 || tok[v].type != JSMN_STRING)
		return -1;
	size_t n = (size_t)(tok[v].end - tok[v].start);
	if (n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = js[tok[v].start + i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			return -1;
		out[i] = ch;
	}
	out[n] = '\0';
	return 0;
}

/* A decimal in a string ("12.5"), as Alpaca sends amounts; null reads as 0
 * when allowed. */
static int number_member(const char *js, const jsmntok_t *tok, int ntok, int object, const char *key,
			 bool null_is_zero, double *out)
{
	int v = member(js, tok, ntok, object, key);
	if (v < 0)
		return -1;
	size_t n = (size_t)(tok[v].end - tok[v].start);
	if (tok[v].type == JSMN_PRIMITIVE && n == 4 && memcmp(js + tok[v].start, "null", 4) == 0 && null_is_zero) {
		*out = 0;
		return 0;
	}
	char text[48];
	if ((tok[v].type != JSMN_STRING && tok[v].type != JSMN_PRIMITIVE) || n == 0 || n >= sizeof text)
		return -1;
	memcpy(text, js + tok[v].start, n);
	text[n] = '\0';
	char *end;
	errno = 0;
	double d = strtod(text, &end);
	/* Finite (1e308 parses, and is then judged against the order: no
	 * quantity Kenny sends is that large); inf, nan and overflow do not. */
	if (*end || errno || !isfinite(d) || end == text || isspace((unsigned char)text[0]))
		return -1;
	*out = d + 0.0;   /* -0 is 0 */
	return 0;
}

static int bool_member(const char *js, const jsmntok_t *tok, int ntok, int object, const char *key, bool *out)
{
	int v = member(js, tok, ntok, object, key);
	if (v < 0 || tok[v].type != JSMN_PRIMITIVE)
		return -1;
	size_t n = (size_t)(tok[v].end - tok[v].start);
	if (n == 4 && memcmp(js + tok[v].start, "true", 4) == 0)
		*out = true;
	else if (n == 5 && memcmp(js + tok[v].start, "false", 5) == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/* The body as one JSON object: the token count, or -1 with detail set. */
static int parse_object(const char *body, size_t len, jsmntok_t *tok, char *detail, size_t detail_len)
{
	jsmn_parser p;
	jsmn_init(&p);
	int ntok = jsmn_parse(&p, body, len, tok, MAX_TOKENS);
	if (ntok < 1 || tok[0].type != JSMN_OBJECT) {
		snprintf(detail, detail_len, "the body is not a JSON object (%zu bytes)", len);
		return -1;
	}
	return ntok;
}

static bool status_terminal(const char *status)
{
	static const char *const terminal[] = {"filled", "canceled", "expired", "rejected", "replaced"};
	for (size_t i = 0; i < sizeof terminal / sizeof *terminal; i++)
		if (strcmp(status, terminal[i]) == 0)
			return true;
	return false;
}

/* One member of an answer's object and where it goes in the record. An
 * amount must parse as a finite number; a required or if-present one must
 * also be at least 0. */
enum field_kind { FIELD_TEXT, FIELD_AMOUNT, FIELD_AMOUNT_OR_NULL, FIELD_FLAG };
enum field_need {
	FIELD_REQUIRED,     /* missing or not valid: the answer is malformed */
	FIELD_IF_PRESENT,   /* absent is fine (it stays 0); present and not valid: malformed */
	FIELD_OPTIONAL,     /* read when valid, else left as it is */
};
struct field {
	const char *key;
	enum field_kind kind;
	enum field_need need;
	size_t offset;
	size_t size;
};
#define FIELD(type, name, kind, need) {#name, kind, need, offsetof(type, name), sizeof(((type *)0)->name)}

static int read_field(const char *js, const jsmntok_t *tok, int ntok, const struct field *f, void *record)
{
	char *at = (char *)record + f->offset;
	if (f->kind == FIELD_TEXT)
		return string_member(js, tok, ntok, 0, f->key, at, f->size);
	if (f->kind == FIELD_FLAG)
		return bool_member(js, tok, ntok, 0, f->key, (bool *)at);
	double *d = (double *)at;
	if (number_member(js, tok, ntok, 0, f->key, f->kind == FIELD_AMOUNT_OR_NULL, d))
		return -1;
	return f->need != FIELD_OPTIONAL && *d < 0 ? -1 : 0;
}

/* Read n fields of the top-level object into record, in order: the key of
 * the first that makes the answer malformed, or NULL. */
static const char *read_fields(const char *js, const jsmntok_t *tok, int ntok, const struct field *f, size_t n,
			       void *record)
{
	for (size_t i = 0; i < n; i++) {
		if (f[i].need == FIELD_IF_PRESENT && member(js, tok, ntok, 0, f[i].key) < 0)
			continue;
		if (read_field(js, tok, ntok, &f[i], record) && f[i].need != FIELD_OPTIONAL)
			return f[i].key;
	}
	return NULL;
}

#define ORDER_FIELD(name, kind, need) FIELD(struct ark_alpaca_order, name, kind, need)
static const struct field order_required[] = {
	ORDER_FIELD(id, FIELD_TEXT, FIELD_REQUIRED),
	ORDER_FIELD(client_order_id, FIELD_TEXT, FIELD_REQUIRED),
	ORDER_FIELD(status, FIELD_TEXT, FIELD_REQUIRED),
	ORDER_FIELD(filled_qty, FIELD_AMOUNT, FIELD_REQUIRED),
	ORDER_FIELD(filled_avg_price, FIELD_AMOUNT_OR_NULL, FIELD_REQUIRED),
};
/* qty and limit_price absent or null: 0 (notional and market orders have
 * none; ours always have both, and the check against the order says so). */
static const struct field order_rest[] = {
	ORDER_FIELD(symbol, FIELD_TEXT, FIELD_OPTIONAL),
	ORDER_FIELD(side, FIELD_TEXT, FIELD_OPTIONAL),
	ORDER_FIELD(type, FIELD_TEXT, FIELD_OPTIONAL),
	ORDER_FIELD(qty, FIELD_AMOUNT_OR_NULL, FIELD_IF_PRESENT),
	ORDER_FIELD(limit_price, FIELD_AMOUNT_OR_NULL, FIELD_IF_PRESENT),
};

#define ACCOUNT_FIELD(name, kind, need) FIELD(struct ark_alpaca_account, name, kind, need)
static const struct field account_fields[] = {
	ACCOUNT_FIELD(status, FIELD_TEXT, FIELD_REQUIRED),
	ACCOUNT_FIELD(buying_power, FIELD_AMOUNT, FIELD_REQUIRED),
	ACCOUNT_FIELD(trading_blocked, FIELD_FLAG, FIELD_REQUIRED),
	ACCOUNT_FIELD(account_blocked, FIELD_FLAG, FIELD_REQUIRED),
	ACCOUNT_FIELD(trade_suspended_by_user, FIELD_FLAG, FIELD_OPTIONAL),
	ACCOUNT_FIELD(currency, FIELD_TEXT, FIELD_OPTIONAL),
	ACCOUNT_FIELD(cash, FIELD_AMOUNT, FIELD_OPTIONAL),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int ark_alpaca_parse_order(const char *body, size_t len, struct ark_alpaca_order *o, char *detail, size_t detail_len)
{
	static __thread jsmntok_t tok[MAX_TOKENS];
	memset(o, 0, sizeof *o);
	detail[0] = '\0';
	int ntok = parse_object(body, len, tok, detail, detail_len);
	if (ntok < 0)
		return -1;
	const char *bad = read_fields(body, tok, ntok, order_required, COUNT(order_required), o);
	if (!bad && o->filled_qty > 0 && !(o->filled_avg_price > 0))
		bad = "filled_avg_price";   /* a fill without a price */
	if (!bad)
		bad = read_fields(body, tok, ntok, order_rest, COUNT(order_rest), o);
	if (bad) {
		snprintf(detail, detail_len, "an order without a valid \"%s\"", bad);
		return -1;
	}
	o->terminal = status_terminal(o->status);
	return 0;
}

int ark_alpaca_parse_account(const char *body, size_t len, struct ark_alpaca_account *a, char *detail,
			     size_t detail_len)
{
	static __thread jsmntok_t tok[MAX_TOKENS];
	memset(a, 0, sizeof *a);
	detail[0] = '\0';
	int ntok = parse_object(body, len, tok, detail, detail_len);
	if (ntok < 0)
		return -1;
	const char *bad = read_fields(body, tok, ntok, account_fields, COUNT(account_fields), a);
	if (bad) {
		snprintf(detail, detail_len, "an account without a valid \"%s\"", bad);
		return -1;
	}
	return 0;
}

bool ark_alpaca_account_usable(const struct ark_alpaca_account *a, char *why, size_t why_len)
{
	if (strcmp(a->status, "ACTIVE") != 0)
		snprintf(why, why_len, "the account's status is %s, not ACTIVE", a->status);
	else if (a->account_blocked)
		snprintf(why, why_len, "the account is blocked (account_blocked)");
	else if (a->trading_blocked)
		snprintf(why, why_len, "trading is blocked on the account (trading_blocked)");
	else if (a->trade_suspended_by_user)
		snprintf(why, why_len, "trading is suspended by the account's owner (trade_suspended_by_user)");
	else {
		why[0] = '\0';
		return true;
	}
	return false;
}

/* The server's words for a log line: printable ASCII only, shortened. */
static void words(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap && o < 160; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[o] = '\0';
}

void ark_alpaca_parse_error(const char *body, size_t len, uint32_t *code, char *message, size_t message_len)
{
	static __thread jsmntok_t tok[MAX_TOKENS];
	*code = 0;
	message[0] = '\0';
	char detail[64];
	int ntok = parse_object(body, len, tok, detail, sizeof detail);
	if (ntok < 0) {
		words(body, len, message, message_len);   /* a proxy's HTML page, say */
		return;
	}
	double c;
	if (!number_member(body, tok, ntok, 0, "code", false, &c) && c >= 0 && c <= UINT32_MAX)
		*code = (uint32_t)c;
	int v = member(body, tok, ntok, 0, "message");
	if (v >= 0 && tok[v].type == JSMN_STRING)
		words(body + tok[v].start, (size_t)(tok[v].end - tok[v].start), message, message_len);
}

static const char *const answer_names[ARK_ALPACA_ANSWER_COUNT] = {
	"order", "unauthorized", "forbidden", "duplicate_client_order_id", "unprocessable",
	"not_found", "rate_limited", "server_error", "network", "malformed"};

const char *ark_alpaca_answer_name(enum ark_alpaca_answer answer)
{
	return (unsigned)answer < ARK_ALPACA_ANSWER_COUNT ? answer_names[answer] : "unknown";
}

enum ark_alpaca_answer ark_alpaca_classify(long status, const char *body, size_t len, struct ark_alpaca_order *order,
					   uint32_t *code, char *detail, size_t detail_len)
{
	*code = 0;
	detail[0] = '\0';
	if (status == 0) {
		snprintf(detail, detail_len, "no answer");
		return ARK_ALPACA_NETWORK;
	}
	if (status == 200 || status == 201) {
		struct ark_alpaca_order scratch;
		if (ark_alpaca_parse_order(body, len, order ? order : &scratch, detail, detail_len))
			return ARK_ALPACA_MALFORMED;
		return ARK_ALPACA_ORDER;
	}
	ark_alpaca_parse_error(body, len, code, detail, detail_len);
	if (!detail[0])
		snprintf(detail, detail_len, "HTTP status %ld", status);
	switch (status) {
	case 401: return ARK_ALPACA_UNAUTHORIZED;
	case 403: return ARK_ALPACA_FORBIDDEN;
	case 404: return ARK_ALPACA_NOT_FOUND;
	case 422:
		/* Alpaca's words for an id it already has (code 40010001 is
		 * shared with other 422s, so the message decides). */
		return strstr(detail, "client_order_id must be unique") ? ARK_ALPACA_DUPLICATE_ID : ARK_ALPACA_UNPROCESSABLE;
	case 429: return ARK_ALPACA_RATE_LIMITED;
	default: return status >= 500 && status <= 599 ? ARK_ALPACA_SERVER_ERROR : ARK_ALPACA_MALFORMED;
	}
}

int ark_alpaca_parse_reset(const char *value, uint64_t *unix_seconds)
{
	while (*value == ' ' || *value == '\t')
		value++;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	/* Between 2001 and 2286: anything else is not a Unix time in seconds. */
	if (end == value || *end || errno || v < 1000000000ull || v > 9999999999ull)
		return -1;
	*unix_seconds = v;
	return 0;
}

/* ---- An answer against its order ---- */

static const char *const anomaly_names[ARK_ALPACA_ANOMALY_COUNT] = {
	"none", "client_order_id", "order_id", "symbol", "side", "quantity", "overfill", "fill_decreased",
	"price", "status"};

const char *ark_alpaca_anomaly_name(enum ark_alpaca_anomaly anomaly)
{
	return (unsigned)anomaly < ARK_ALPACA_ANOMALY_COUNT ? anomaly_names[anomaly] : "unknown";
}

static bool price_ok(double price, const struct ark_alpaca_expect *o)
{
	if (!(price > 0) || !isfinite(price))
		return false;
	if (o->limit_price > 0)
		return ark_limit_price_ok(o->buy, price, o->limit_price);
	return o->reference_price > 0 && fabs(price - o->reference_price) <= o->market_price_band * o->reference_price;
}

enum ark_alpaca_anomaly ark_alpaca_check_order(const struct ark_alpaca_order *a, const struct ark_alpaca_expect *o,
					       char *why, size_t why_len)
{
	why[0] = '\0';
	uint64_t run, trace;
	if (ark_alpaca_parse_client_order_id(a->client_order_id, &run, &trace) || trace != o->trace_id ||
	    run != (o->run_id & 0xffffffffffull)) {
		snprintf(why, why_len, "answered for client_order_id '%.40s', not this order's", a->client_order_id);
		return ARK_ALPACA_ANOMALY_CLIENT_ORDER_ID;
	}
	if (o->order_id && o->order_id[0] && strcmp(o->order_id, a->id) != 0) {
		snprintf(why, why_len, "the order's id was '%.40s', now '%.40s'", o->order_id, a->id);
		return ARK_ALPACA_ANOMALY_ORDER_ID;
	}
	if (strcmp(a->symbol, o->symbol) != 0) {
		snprintf(why, why_len, "symbol '%.20s', the order's is '%.16s'", a->symbol[0] ? a->symbol : "(none)", o->symbol);
		return ARK_ALPACA_ANOMALY_SYMBOL;
	}
	if (strcmp(a->side, o->buy ? "buy" : "sell") != 0) {
		snprintf(why, why_len, "side '%.8s', the order's is %s", a->side[0] ? a->side : "(none)", o->buy ? "buy" : "sell");
		return ARK_ALPACA_ANOMALY_SIDE;
	}
	if (!ark_amount_same(a->qty, o->quantity)) {
		snprintf(why, why_len, "qty %.17g, the order's is %.17g", a->qty, o->quantity);
		return ARK_ALPACA_ANOMALY_QUANTITY;
	}
	if (!ark_amount_within(a->filled_qty, o->quantity)) {
		snprintf(why, why_len, "filled_qty %.17g of an order for %.17g", a->filled_qty, o->quantity);
		return ARK_ALPACA_ANOMALY_OVERFILL;
	}
	if (!ark_amount_within(o->filled_before, a->filled_qty)) {
		snprintf(why, why_len, "filled_qty %.17g, below the %.17g it reported before", a->filled_qty, o->filled_before);
		return ARK_ALPACA_ANOMALY_FILL_DECREASED;
	}
	if (a->filled_qty > 0) {
		if (!price_ok(a->filled_avg_price, o)) {
			snprintf(why, why_len, "filled_avg_price %.17g for a %s %s %.17g", a->filled_avg_price,
				 o->buy ? "buy" : "sell", o->limit_price > 0 ? "limited at" : "market order, reference",
				 o->limit_price > 0 ? o->limit_price : o->reference_price);
			return ARK_ALPACA_ANOMALY_PRICE;
		}
		/* What this answer adds must obey the limit too: an average that
		 * stays inside while the new shares came at any price is no
		 * better. */
		double delta = a->filled_qty - o->filled_before;
		if (delta > 1e-9 && o->filled_before > 0) {
			double increment = (a->filled_qty * a->filled_avg_price - o->filled_before * o->avg_before) / delta;
			if (!price_ok(increment, o)) {
				snprintf(why, why_len, "the %.17g filled since the last answer came at %.17g for a %s limited at %.17g",
					 delta, increment, o->buy ? "buy" : "sell", o->limit_price);
				return ARK_ALPACA_ANOMALY_PRICE;
			}
		}
	}
	if (strcmp(a->status, "filled") == 0 && !ark_amount_same(a->filled_qty, o->quantity)) {
		snprintf(why, why_len, "status filled with %.17g of %.17g filled", a->filled_qty, o->quantity);
		return ARK_ALPACA_ANOMALY_STATUS;
	}
	return ARK_ALPACA_ANOMALY_NONE;
}
