/* tests/fuzz/fuzz_alpaca.c — libFuzzer target for the reading of Alpaca's
 * answers (alpaca/order.c): any body, as a 200 and as other statuses, is
 * classified into one kind; an order object that parses has finite,
 * non-negative numbers and terminated strings; checked against an order,
 * an answer judged sound never fills more than was ordered, never goes
 * down, and never prices a buy above its limit; the account and error
 * readers never read past the body. Never a crash or an overread. */
#include "alpaca/alpaca.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void terminated(const char *s, size_t cap)
{
	if (!memchr(s, '\0', cap))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The body as libcurl hands it over: bytes, then a NUL the readers
	 * may not rely on (a copy without one, exactly size bytes). */
	char *body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	struct ark_alpaca_order o;
	char detail[160];
	uint32_t code;
	static const long statuses[] = {200, 201, 401, 403, 404, 422, 429, 500, 503, 302, 0};
	for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
		enum ark_alpaca_answer a = ark_alpaca_classify(statuses[i], body, size, &o, &code, detail, sizeof detail);
		if ((unsigned)a >= ARK_ALPACA_ANSWER_COUNT)
			abort();
		terminated(detail, sizeof detail);
		if (a != ARK_ALPACA_ORDER)
			continue;
		if (!isfinite(o.qty) || !isfinite(o.filled_qty) || !isfinite(o.filled_avg_price) || !isfinite(o.limit_price) ||
		    o.qty < 0 || o.filled_qty < 0 || o.filled_avg_price < 0 || o.limit_price < 0 ||
		    (o.filled_qty > 0 && !(o.filled_avg_price > 0)))
			abort();
		terminated(o.id, sizeof o.id);
		terminated(o.client_order_id, sizeof o.client_order_id);
		terminated(o.symbol, sizeof o.symbol);
		terminated(o.status, sizeof o.status);
		terminated(o.side, sizeof o.side);
		terminated(o.type, sizeof o.type);
		/* Against an order: what passes is sound. */
		struct ark_alpaca_expect e = {.run_id = 0x6789abcdefull, .trace_id = 0x2a, .symbol = "AAPL", .buy = true,
					      .quantity = 10, .limit_price = 187.25, .reference_price = 187,
					      .market_price_band = 0.05, .order_id = "", .filled_before = 4,
					      .avg_before = 187};
		char why[160];
		enum ark_alpaca_anomaly an = ark_alpaca_check_order(&o, &e, why, sizeof why);
		if ((unsigned)an >= ARK_ALPACA_ANOMALY_COUNT)
			abort();
		terminated(why, sizeof why);
		if (an == ARK_ALPACA_ANOMALY_NONE &&
		    (o.filled_qty > e.quantity * (1 + 1e-9) || o.filled_qty < e.filled_before * (1 - 1e-9) ||
		     (o.filled_qty > 0 && o.filled_avg_price > e.limit_price + 0.005) || strcmp(o.symbol, "AAPL") != 0 ||
		     strcmp(o.side, "buy") != 0))
			abort();
	}
	struct ark_alpaca_account account;
	if (ark_alpaca_parse_account(body, size, &account, detail, sizeof detail) == 0 &&
	    (!isfinite(account.buying_power) || account.buying_power < 0))
		abort();
	char message[128];
	ark_alpaca_parse_error(body, size, &code, message, sizeof message);
	terminated(message, sizeof message);
	for (const char *p = message; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();   /* the server's words reach logs printable only */
	uint64_t reset;
	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (ark_alpaca_parse_reset(text, &reset) == 0 && (reset < 1000000000ull || reset > 9999999999ull))
			abort();
		free(text);
	}
	free(body);
	return 0;
}
