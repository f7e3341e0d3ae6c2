/* tests/alpaca/test_alpaca_check.c — a well-formed answer checked against
 * the order it answers (alpaca/order.c, ark_alpaca_check_order): the honest
 * answers of an order's life pass (accepted, partial fills at or better
 * than the limit, filled); each hostile one is named by its kind — another
 * client order id, the broker's id changing, another symbol or side, another
 * quantity, an overfill (9,000 ordered, 9,000,000 filled; 1e308), a
 * cumulative fill that goes down, a price the limit forbids (also hidden in
 * an average that stays inside), "filled" with part of the order; a market
 * order's price is judged by the band around the reference price. The
 * parser itself reads side, type, qty and limit_price and refuses numbers
 * that are not finite. */
#include "alpaca/alpaca.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const uint64_t RUN = 0x6789abcdefull, TRACE = 0x2a;

static struct ark_alpaca_order answer(const char *status, const char *symbol, const char *side, double qty,
				      double filled, double avg)
{
	char body[1024];
	char coid[ARK_ALPACA_COID_MAX];
	ark_alpaca_client_order_id(RUN, TRACE, coid);
	char avg_text[64];
	if (avg > 0)
		snprintf(avg_text, sizeof avg_text, "\"%.17g\"", avg);
	else
		snprintf(avg_text, sizeof avg_text, "null");
	snprintf(body, sizeof body,
		 "{\"id\":\"broker-1\",\"client_order_id\":\"%s\",\"symbol\":\"%s\",\"side\":\"%s\",\"type\":\"limit\","
		 "\"qty\":\"%.17g\",\"limit_price\":\"100\",\"filled_qty\":\"%.17g\",\"filled_avg_price\":%s,\"status\":\"%s\"}",
		 coid, symbol, side, qty, filled, avg_text, status);
	struct ark_alpaca_order o;
	char detail[200];
	CHECK_MSG(ark_alpaca_parse_order(body, strlen(body), &o, detail, sizeof detail) == 0, "%s: %s", body, detail);
	return o;
}

static struct ark_alpaca_expect order(double filled_before, double avg_before)
{
	struct ark_alpaca_expect e = {.run_id = RUN, .trace_id = TRACE, .symbol = "AAPL", .buy = true, .quantity = 9000,
				      .limit_price = 100, .reference_price = 99.5, .market_price_band = 0.05,
				      .order_id = "", .filled_before = filled_before, .avg_before = avg_before};
	return e;
}

static void expect_kind(const struct ark_alpaca_order *a, const struct ark_alpaca_expect *e, enum ark_alpaca_anomaly kind,
			const char *words)
{
	char why[200];
	enum ark_alpaca_anomaly got = ark_alpaca_check_order(a, e, why, sizeof why);
	CHECK_MSG(got == kind, "expected %s, got %s (%s)", ark_alpaca_anomaly_name(kind), ark_alpaca_anomaly_name(got), why);
	if (words)
		CHECK_MSG(strstr(why, words), "'%s' does not say '%s'", why, words);
}

int main(void)
{
	/* An honest life: accepted, half filled under the limit, filled. */
	struct ark_alpaca_order a = answer("accepted", "AAPL", "buy", 9000, 0, 0);
	struct ark_alpaca_expect e = order(0, 0);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);
	a = answer("partially_filled", "AAPL", "buy", 9000, 4500, 99.9);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);
	e = order(4500, 99.9);
	e.order_id = "broker-1";
	a = answer("filled", "AAPL", "buy", 9000, 9000, 99.95);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);
	a = answer("filled", "AAPL", "buy", 9000, 9000, 100.004);   /* the limit's cent of rounding */
	e = order(0, 0);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);

	/* The overfill and 1e308. */
	a = answer("filled", "AAPL", "buy", 9000, 9000000, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_OVERFILL, "filled_qty 9000000 of an order for 9000");
	a = answer("filled", "AAPL", "buy", 9000, 1e308, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_OVERFILL, "filled_qty 1e+308 of an order for 9000");
	/* Another symbol, side, quantity, client order id, broker id. */
	a = answer("filled", "MSFT", "buy", 9000, 9000, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_SYMBOL, "symbol 'MSFT'");
	a = answer("filled", "AAPL", "sell", 9000, 9000, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_SIDE, "side 'sell'");
	a = answer("filled", "AAPL", "buy", 90000, 9000, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_QUANTITY, "qty 90000");
	a = answer("filled", "AAPL", "buy", 9000, 9000, 100);
	snprintf(a.client_order_id, sizeof a.client_order_id, "ark-6789abcdef-000000000000002b");
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_CLIENT_ORDER_ID, "000000000000002b");
	snprintf(a.client_order_id, sizeof a.client_order_id, "ark-6789abcdee-000000000000002a");   /* another run */
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_CLIENT_ORDER_ID, NULL);
	a = answer("filled", "AAPL", "buy", 9000, 9000, 100);
	e.order_id = "broker-0";
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_ORDER_ID, "'broker-0', now 'broker-1'");
	/* A cumulative fill that goes down. */
	e = order(4500, 100);
	a = answer("partially_filled", "AAPL", "buy", 9000, 2250, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_FILL_DECREASED, "below the 4500");
	/* A last digit of rounding (amounts travel as decimal text) is none of
	 * these: the tolerance the book applies to fills too (common/). */
	a = answer("partially_filled", "AAPL", "buy", 9000, 4500 * (1 - 5e-10), 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);
	a = answer("partially_filled", "AAPL", "buy", 9000, 4500 * (1 - 5e-9), 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_FILL_DECREASED, NULL);
	e = order(0, 0);
	a = answer("filled", "AAPL", "buy", 9000 * (1 + 5e-10), 9000 * (1 + 5e-10), 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);
	a = answer("filled", "AAPL", "buy", 9000, 9000 * (1 + 5e-9), 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_OVERFILL, NULL);
	/* Prices: a buy above its limit, a sell below; an average inside
	 * whose new shares came outside. */
	e = order(0, 0);
	a = answer("filled", "AAPL", "buy", 9000, 9000, 150);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_PRICE, "filled_avg_price 150");
	struct ark_alpaca_expect sell = order(0, 0);
	sell.buy = false;
	a = answer("filled", "AAPL", "sell", 9000, 9000, 50);
	expect_kind(&a, &sell, ARK_ALPACA_ANOMALY_PRICE, NULL);
	a = answer("filled", "AAPL", "sell", 9000, 9000, 100.5);   /* better than the limit: fine */
	expect_kind(&a, &sell, ARK_ALPACA_ANOMALY_NONE, NULL);
	e = order(4500, 90);   /* half at 90; the rest at 109.9 averages 99.95 */
	a = answer("filled", "AAPL", "buy", 9000, 9000, 99.95);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_PRICE, "came at 109.9");
	/* "filled" with part of the order. */
	e = order(0, 0);
	a = answer("filled", "AAPL", "buy", 9000, 10, 100);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_STATUS, "status filled with 10 of 9000");
	/* A market order: the band around the reference price (99.5, 5%). */
	e = order(0, 0);
	e.limit_price = 0;
	a = answer("filled", "AAPL", "buy", 9000, 9000, 104);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_NONE, NULL);
	a = answer("filled", "AAPL", "buy", 9000, 9000, 105);
	expect_kind(&a, &e, ARK_ALPACA_ANOMALY_PRICE, "market order, reference 99.5");

	/* The parser: side, type, qty and limit read; not finite refused. */
	const char *body = "{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"side\":\"sell\",\"type\":\"limit\","
			   "\"qty\":\"12\",\"limit_price\":\"3.5\",\"filled_qty\":\"0\",\"filled_avg_price\":null}";
	struct ark_alpaca_order o;
	char detail[200];
	CHECK(ark_alpaca_parse_order(body, strlen(body), &o, detail, sizeof detail) == 0);
	CHECK(strcmp(o.side, "sell") == 0 && strcmp(o.type, "limit") == 0 && o.qty == 12 && o.limit_price == 3.5);
	static const char *const not_finite[] = {
		"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"1e309\",\"filled_avg_price\":null}",
		"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"filled_qty\":\"inf\",\"filled_avg_price\":null}",
		"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"qty\":\"nan\",\"filled_qty\":\"0\",\"filled_avg_price\":null}",
		"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"new\",\"limit_price\":\"-1\",\"filled_qty\":\"0\",\"filled_avg_price\":null}",
		"{\"id\":\"x\",\"client_order_id\":\"c\",\"status\":\"filled\",\"filled_qty\":\"1\",\"filled_avg_price\":\"Infinity\"}",
	};
	for (size_t i = 0; i < sizeof not_finite / sizeof *not_finite; i++)
		CHECK_MSG(ark_alpaca_parse_order(not_finite[i], strlen(not_finite[i]), &o, detail, sizeof detail) == -1,
			  "%s parsed", not_finite[i]);
	for (int k = 0; k < ARK_ALPACA_ANOMALY_COUNT; k++)
		CHECK(strcmp(ark_alpaca_anomaly_name((enum ark_alpaca_anomaly)k), "unknown") != 0);
	printf("alpaca check: ok\n");
	return 0;
}
