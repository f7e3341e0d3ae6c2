/* alphavantage/alphavantage.h — Alpha Vantage market data: the settings of
 * the poller and the reading of GLOBAL_QUOTE answers as they really come.
 *
 * Alpha Vantage answers HTTP 200 to almost everything; what happened is in
 * the body: a "Global Quote" object of numbered string fields ("05. price"),
 * the same under "Global Quote - DATA DELAYED", an empty object for a symbol
 * it does not know, or one of "Error Message" (a bad call), "Information"
 * and "Note" (the call frequency or the plan's limit: back off). Every
 * answer is classified into exactly one kind; only a quote becomes a tick. */
#ifndef ARK_ALPHAVANTAGE_H
#define ARK_ALPHAVANTAGE_H

#include "common/common.h"
#include "event/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARK_AV_MAX_SYMBOLS 256

enum ark_av_kind {
	ARK_AV_QUOTE = 0,         /* "Global Quote" with a price: a tick */
	ARK_AV_QUOTE_DELAYED,     /* "Global Quote - DATA DELAYED": a tick, marked delayed */
	ARK_AV_EMPTY,             /* "Global Quote": {} — an unknown symbol */
	ARK_AV_ERROR_MESSAGE,     /* {"Error Message": ...} — a bad call (the symbol, the key) */
	ARK_AV_INFORMATION,       /* {"Information": ...} — a limit of the plan: back off */
	ARK_AV_NOTE,              /* {"Note": ...} — the call frequency: back off */
	ARK_AV_MALFORMED,         /* not one of the above, or a field that does not parse */
	ARK_AV_HTTP_ERROR,        /* a status other than 200 */
	ARK_AV_NETWORK,           /* no answer: refused, reset, timed out */
	ARK_AV_OUT_OF_BOUNDS,     /* a quote whose price or volume is outside the tick bounds (ARK_TICK_*) */
	ARK_AV_KIND_COUNT
};
const char *ark_av_kind_name(enum ark_av_kind kind);

struct ark_av_config {
	bool enabled;                       /* ALPHA_VANTAGE_API_KEY set, ALPHA_VANTAGE_ENABLED not false */
	char api_key[128];                  /* never logged */
	char base_url[512];                 /* ALPHA_VANTAGE_BASE_URL (https://www.alphavantage.co) */
	char symbols[ARK_AV_MAX_SYMBOLS][ARK_SYMBOL_MAX];  /* ALPHA_VANTAGE_SYMBOLS (AAPL,MSFT,GOOGL,AMZN,NVDA) */
	int symbol_count;
	uint64_t interval_ns;               /* ALPHA_VANTAGE_INTERVAL_S: each symbol this often (60) */
	uint64_t spacing_ns;                /* from ALPHA_VANTAGE_RATE_PER_MIN (5): between two calls */
	uint64_t backoff_ns;                /* ALPHA_VANTAGE_BACKOFF_S: after Note/Information (60, doubling to 16x) */
	uint64_t timeout_ms;                /* ALPHA_VANTAGE_TIMEOUT_MS (10000) */
};
/* Every setting checked; errors name the variable (never the key). */
int ark_av_config_from_env(struct ark_av_config *config, struct ark_err *err);

/* Read one GLOBAL_QUOTE answer (status: the HTTP status) for `symbol` into
 * tick (symbol, price, size; the caller sets the times). detail says why for
 * everything but a quote (the server's own words, shortened). */
enum ark_av_kind ark_av_parse_quote(int status, const char *body, size_t len, const char *symbol, struct ark_tick *tick,
				    char *detail, size_t detail_len);

#endif /* ARK_ALPHAVANTAGE_H */
