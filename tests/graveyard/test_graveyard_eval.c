/* tests/graveyard/test_graveyard_eval.c — ark_graveyard_evaluate: each rule
 * allows at its boundary and denies just past it with its own reason and
 * rule id (the line); the evaluation order when several rules are violated;
 * REDUCING and HALTED (from the file and tightened at run time); the daily-
 * loss latch and its reset at the trading-day boundary; sliding windows on
 * market time; out-of-order and stale ticks; the symbol cache; quarantine;
 * and determinism (same events → same decisions and the same state bytes). */
#include "graveyard_test.h"

#include <stdlib.h>

static struct ark_graveyard_rules R;
static struct ark_graveyard_state S;

static void fresh(const char *const *replace, int count)
{
	make_rules(&R, replace, count);
	ark_graveyard_state_init(&S, &R);
}

#define BUY ARK_SIDE_BUY
#define SELL ARK_SIDE_SELL

static void basics(void)
{
	fresh(NULL, 0);
	CHECK(ark_graveyard_state_matches(&S, &R));
	struct ark_graveyard_decision d = judge(&R, &S, event_at(1, "AAA", 10, T0));
	EXPECT_ALLOW(d);
	CHECK(!d.has_intent && d.rule_id == 0);
	d = judge(&R, &S, order_at(1, "AAA", 10, T0 + 1, BUY, 10, 10));
	EXPECT_ALLOW(d);
	CHECK(d.has_intent);
	CHECK_EQ_U64(S.evaluations, 2);
	CHECK_EQ_U64(S.intents, 1);
	CHECK_EQ_U64(S.allowed, 1);
	CHECK_EQ_U64(S.no_intent, 1);
	CHECK(S.symbols[1].position == 10);
	CHECK(fabs(S.gross_exposure - 100) < 1e-9);
	/* Another table's state does not match. */
	struct ark_graveyard_rules other;
	const char *const pos[] = {"max_position", "max_position = 201 node"};
	make_rules(&other, pos, 2);
	CHECK(!ark_graveyard_state_matches(&S, &other));
}

static void quantity_and_notional(void)
{
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 100, 10)));
	struct ark_graveyard_decision d = judge(&R, &S, order_at(2, "BBB", 10, T0, BUY, 100.001, 10));
	EXPECT_DENY(d, ARK_REASON_MAX_QUANTITY);
	CHECK_EQ_U64(d.rule_id, L_QUANTITY);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0, BUY, 0, 10)), ARK_REASON_MAX_QUANTITY);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0, BUY, -1, 10)), ARK_REASON_MAX_QUANTITY);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0, BUY, NAN, 10)), ARK_REASON_MAX_QUANTITY);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0, BUY, INFINITY, 10)), ARK_REASON_MAX_QUANTITY);
	/* Notional: 50 x 100 = 5000 exactly is allowed; 50 x 100.01 is not. */
	EXPECT_ALLOW(judge(&R, &S, order_at(3, "CCC", 100, T0, BUY, 50, 100)));
	d = judge(&R, &S, order_at(4, "DDD", 100, T0, BUY, 50, 100.01));
	EXPECT_DENY(d, ARK_REASON_MAX_NOTIONAL);
	CHECK_EQ_U64(d.rule_id, L_NOTIONAL);
	/* Notional uses the limit price, not the reference. */
	EXPECT_ALLOW(judge(&R, &S, order_at(4, "DDD", 100.01, T0, BUY, 50, 99.99)));
	CHECK_EQ_U64(S.denials[ARK_REASON_MAX_QUANTITY], 5);
	CHECK_EQ_U64(S.denials[ARK_REASON_MAX_NOTIONAL], 1);
}

static void collar(void)
{
	fresh(NULL, 0);
	const double ok[] = {105, 95, 100, 104.999};
	for (size_t i = 0; i < ARK_ARRAY_LEN(ok); i++)
		EXPECT_ALLOW(judge(&R, &S, order_at((uint32_t)i, "AAA", 100, T0 + i * SEC, i % 2 ? SELL : BUY,
						    1 + (double)i, ok[i])));
	const double bad[] = {105.01, 94.99, 0, -100, NAN, INFINITY};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad); i++) {
		struct ark_graveyard_decision d = judge(&R, &S, order_at(9, "EEE", 100, T0 + 10 * SEC, BUY, 1, bad[i]));
		EXPECT_DENY(d, ARK_REASON_PRICE_COLLAR);
		CHECK_EQ_U64(d.rule_id, L_COLLAR);
	}
	const char *const bps[] = {"price_collar", "price_collar = 50bps node"};
	fresh(bps, 2);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 100, T0, BUY, 1, 100.5)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 100, T0, SELL, 1, 99.5)));
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 100, T0, BUY, 1, 100.51)), ARK_REASON_PRICE_COLLAR);
}

static void reference(void)
{
	fresh(NULL, 0);
	/* The market clock reaches T0 + 10 s through another symbol. */
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 10, T0 + 10 * SEC)));
	const uint64_t now = T0 + 10 * SEC;
	/* Exactly reference_max_age old: fresh. One ns more: stale. */
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "BBB", 10, now - SEC, BUY, 1, 10)));
	struct ark_graveyard_decision d = judge(&R, &S, order_at(3, "CCC", 10, now - SEC - 1, BUY, 1, 10));
	EXPECT_DENY(d, ARK_REASON_REFERENCE_PRICE);
	CHECK_EQ_U64(d.rule_id, L_REFERENCE);
	EXPECT_DENY(judge(&R, &S, order_at(3, "CCC", 10, 0, BUY, 1, 10)), ARK_REASON_REFERENCE_PRICE);
	const double prices[] = {0, -10, NAN, INFINITY, -INFINITY};
	for (size_t i = 0; i < ARK_ARRAY_LEN(prices); i++)
		EXPECT_DENY(judge(&R, &S, order_at(3, "CCC", prices[i], now, BUY, 1, 10)), ARK_REASON_REFERENCE_PRICE);
	/* None of those moved the clock or marked a price. */
	CHECK_EQ_U64(S.market_now_ns, now);
	CHECK(S.symbols[3].mark == 0);
	/* An order on a stale tick of a symbol: denied even if the symbol's
	 * previous price was fresh; an older-but-fresh tick does not re-mark. */
	EXPECT_ALLOW(judge(&R, &S, event_at(4, "DDD", 20, now)));
	EXPECT_ALLOW(judge(&R, &S, order_at(4, "DDD", 19, now - 500 * MS, BUY, 1, 19)));
	CHECK(S.symbols[4].mark == 20);
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 19, now - 2 * SEC, BUY, 2, 19)), ARK_REASON_REFERENCE_PRICE);
}

static void restricted(void)
{
	fresh(NULL, 0);
	const char *const symbols[] = {"BAD", "bad", "Worse"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(symbols); i++) {
		struct ark_graveyard_decision d = judge(&R, &S, order_at((uint32_t)i, symbols[i], 10, T0, BUY, 1, 10));
		EXPECT_DENY(d, ARK_REASON_RESTRICTED_SYMBOL);
		CHECK_EQ_U64(d.rule_id, L_RESTRICTED);
	}
	const char *const patterned[] = {"X.OTC", "TEST", "test9"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(patterned); i++) {
		struct ark_graveyard_decision d = judge(&R, &S, order_at(10 + (uint32_t)i, patterned[i], 10, T0, BUY, 1, 10));
		EXPECT_DENY(d, ARK_REASON_RESTRICTED_PATTERN);
		CHECK_EQ_U64(d.rule_id, L_PATTERNS);
	}
	EXPECT_ALLOW(judge(&R, &S, order_at(20, "OTC", 10, T0, BUY, 1, 10)));
	/* A symbol id beyond the table: fail closed. */
	EXPECT_DENY(judge(&R, &S, order_at(ARK_GRAVEYARD_MAX_SYMBOLS, "AAA", 10, T0, BUY, 1, 10)),
		    ARK_REASON_RESTRICTED_SYMBOL);
	EXPECT_ALLOW(judge(&R, &S, event_at(UINT32_MAX, "AAA", 10, T0)));
	/* The cache is per id: the same id naming another symbol is re-checked,
	 * and its slot starts afresh. */
	uint64_t fills = S.symbol_cache_fills;
	EXPECT_ALLOW(judge(&R, &S, order_at(30, "GOOD", 10, T0, BUY, 5, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(30, "GOOD", 10, T0 + 1, BUY, 6, 10)));
	CHECK_EQ_U64(S.symbol_cache_fills, fills + 1);
	CHECK(S.symbols[30].position == 11);
	double gross = S.gross_exposure;
	EXPECT_DENY(judge(&R, &S, order_at(30, "BAD", 10, T0 + 2, BUY, 1, 10)), ARK_REASON_RESTRICTED_SYMBOL);
	CHECK_EQ_U64(S.symbol_cache_fills, fills + 2);
	CHECK(S.symbols[30].position == 0);
	CHECK(fabs(S.gross_exposure - (gross - 110)) < 1e-9);
	/* Bytes after the terminator do not defeat the cache. */
	struct ark_event e = order_at(31, "GOOD", 10, T0 + 3, BUY, 1, 10);
	EXPECT_ALLOW(judge(&R, &S, e));
	fills = S.symbol_cache_fills;
	e.symbol[10] = 'Z';
	e.quantity = 2;
	EXPECT_ALLOW(judge(&R, &S, e));
	CHECK_EQ_U64(S.symbol_cache_fills, fills);
}

static void duplicate(void)
{
	/* Rate limits out of the way: this is about the duplicate memory. */
	const char *const relaxed[] = {"order_rate_per_symbol", "order_rate_per_symbol = 64/1s node",
				       "order_rate", "order_rate = 1000/1s node"};
	fresh(relaxed, 4);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 5, 10)));
	struct ark_graveyard_decision d = judge(&R, &S, order_at(1, "AAA", 10, T0 + 500 * MS - 1, BUY, 5, 10));
	EXPECT_DENY(d, ARK_REASON_DUPLICATE);
	CHECK_EQ_U64(d.rule_id, L_DUPLICATE);
	/* Different side, quantity, price or symbol: not a duplicate. (Windows
	 * run on the market clock, now at T0 + 500 ms - 1.) */
	const uint64_t b = T0 + 500 * MS;
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "BBB", 10, b, BUY, 5, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, b + 1, BUY, 5.5, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, b + 2, BUY, 5, 10)));   /* last was 5.5 */
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, b + 3, SELL, 5, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, b + 4, SELL, 5, 10.1)));
	/* At exactly the window after the last allowed one, it is new again. */
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, b + 4 + 500 * MS - 1, SELL, 5, 10.1)), ARK_REASON_DUPLICATE);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, b + 4 + 500 * MS, SELL, 5, 10.1)));
	/* A denied order does not replace the last allowed one. */
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, b + 5 + 500 * MS, SELL, 500, 10.1)), ARK_REASON_MAX_QUANTITY);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, b + 6 + 500 * MS, SELL, 5, 10.1)), ARK_REASON_DUPLICATE);
}

static void rates(void)
{
	fresh(NULL, 0);
	/* Per symbol: 3 per 1 s sliding window. */
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 1, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 100 * MS, SELL, 1, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 200 * MS, BUY, 1, 10)));
	struct ark_graveyard_decision d = judge(&R, &S, order_at(1, "AAA", 10, T0 + SEC - 1, SELL, 1, 10));
	EXPECT_DENY(d, ARK_REASON_RATE_SYMBOL);
	CHECK_EQ_U64(d.rule_id, L_RATE_SYMBOL);
	/* The oldest falls out at exactly t0 + 1 s; then the next at +1.1 s. */
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + SEC, SELL, 1, 10)));
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + SEC + 1, BUY, 2, 10)), ARK_REASON_RATE_SYMBOL);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 1100 * MS, BUY, 2, 10)));
	/* Overall: 10 per 1 s; AAA holds 2 in (t-1s, t] at t = 1.15 s... fill the rest. */
	fresh(NULL, 0);
	for (uint32_t i = 0; i < 10; i++)
		EXPECT_ALLOW(judge(&R, &S, order_at(i / 3, i / 3 == 0 ? "S0" : i / 3 == 1 ? "S1" : i / 3 == 2 ? "S2" : "S3",
						    10, T0 + i * MS, i % 2 ? SELL : BUY, 1, 10)));
	d = judge(&R, &S, order_at(9, "S9", 10, T0 + SEC - 1, BUY, 1, 10));
	EXPECT_DENY(d, ARK_REASON_RATE_GLOBAL);
	CHECK_EQ_U64(d.rule_id, L_RATE);
	EXPECT_ALLOW(judge(&R, &S, order_at(9, "S9", 10, T0 + SEC, BUY, 1, 10)));
	EXPECT_DENY(judge(&R, &S, order_at(8, "S8", 10, T0 + SEC, BUY, 1, 10)), ARK_REASON_RATE_GLOBAL);
	/* Windows run on market time: a stale-time order cannot reopen them
	 * (and is denied for its reference anyway). */
	EXPECT_DENY(judge(&R, &S, order_at(7, "S7", 10, T0 - 1, BUY, 1, 10)), ARK_REASON_REFERENCE_PRICE);
	/* Denied orders never enter a window: 1000 denials, then the window is
	 * just as full as before. */
	for (int i = 0; i < 1000; i++)
		judge(&R, &S, order_at(6, "S6", 10, T0 + SEC + 1, BUY, 1000, 10));
	EXPECT_ALLOW(judge(&R, &S, order_at(6, "S6", 10, T0 + SEC + 1 * MS, BUY, 1, 10)));
}

static void position_and_gross(void)
{
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 100, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 1, BUY, 99, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 2, BUY, 1, 10)));   /* exactly 200 */
	struct ark_graveyard_decision d = judge(&R, &S, order_at(1, "AAA", 10, T0 + 3 * SEC, BUY, 0.001, 10));
	EXPECT_DENY(d, ARK_REASON_POSITION_LIMIT);
	CHECK_EQ_U64(d.rule_id, L_POSITION);
	/* Reducing, and flipping to a smaller short, are allowed. */
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 4 * SEC, SELL, 100, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 5 * SEC, SELL, 100, 10.1)));
	CHECK(S.symbols[1].position == 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 6 * SEC, SELL, 100, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 7 * SEC, SELL, 100, 10.1)));
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 8 * SEC, SELL, 1, 10)), ARK_REASON_POSITION_LIMIT);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 9 * SEC, BUY, 100, 10)));   /* -200 → -100 */
	CHECK(S.symbols[1].position == -100);
	/* Realised P&L of the round trip: bought 200 @ 10, sold 100 @ 10 and 100 @ 10.1. */
	CHECK(fabs(S.realised_pnl - 15) < 1e-9);   /* +10 long, +5 short */

	/* Gross: 4 x 100 @ 50 = 20000 exactly, then 1 more unit anywhere is too much. */
	fresh(NULL, 0);
	const char *const names[] = {"A", "B", "C", "D", "E"};
	for (uint32_t i = 0; i < 4; i++)
		EXPECT_ALLOW(judge(&R, &S, order_at(i, names[i], 50, T0 + i, BUY, 100, 50)));
	CHECK(fabs(S.gross_exposure - 20000) < 1e-9);
	d = judge(&R, &S, order_at(4, "E", 50, T0 + 10, BUY, 1, 50));
	EXPECT_DENY(d, ARK_REASON_GROSS_EXPOSURE);
	CHECK_EQ_U64(d.rule_id, L_GROSS);
	EXPECT_ALLOW(judge(&R, &S, order_at(0, "A", 50, T0 + 11, SELL, 10, 50)));   /* reduces */
	EXPECT_ALLOW(judge(&R, &S, order_at(4, "E", 50, T0 + 12, BUY, 10, 50)));   /* room again */
	/* A rising price raises the exposure: then only reducing orders pass. */
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "B", 60, T0 + 13)));
	CHECK(fabs(S.gross_exposure - 21000) < 1e-9);
	EXPECT_DENY(judge(&R, &S, order_at(2, "C", 50, T0 + 14, BUY, 1, 50)), ARK_REASON_GROSS_EXPOSURE);
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "C", 50, T0 + 15, SELL, 1, 50)));
	/* Position before gross: both violated → POSITION_LIMIT. */
	const char *const small[] = {"max_position", "max_position = 50 node"};
	fresh(small, 2);
	for (uint32_t i = 0; i < 4; i++)
		EXPECT_ALLOW(judge(&R, &S, order_at(i, names[i], 100, T0 + i, BUY, 50, 100)));
	CHECK(fabs(S.gross_exposure - 20000) < 1e-9);
	EXPECT_DENY(judge(&R, &S, order_at(0, "A", 100, T0 + 9, BUY, 10, 100)), ARK_REASON_POSITION_LIMIT);
}

static void daily_loss(void)
{
	fresh(NULL, 0);
	/* Long 100 @ 40; a mark at 30 loses exactly 1000: not past the limit. */
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 40, T0, BUY, 100, 40)));
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 30, T0 + 1)));
	CHECK(fabs(ark_graveyard_day_pnl(&S) + 1000) < 1e-9);
	CHECK(!S.loss_latched);
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "BBB", 10, T0 + 2, BUY, 1, 10)));
	/* 29.99: the limit is passed on a price mark alone; it latches. */
	struct ark_graveyard_decision d = judge(&R, &S, event_at(1, "AAA", 29.99, T0 + 3));
	EXPECT_ALLOW(d);
	CHECK(S.loss_latched);
	CHECK_EQ_U64(S.loss_latches, 1);
	d = judge(&R, &S, order_at(2, "BBB", 10, T0 + 4, SELL, 1, 10));
	EXPECT_DENY(d, ARK_REASON_DAILY_LOSS);
	CHECK_EQ_U64(d.rule_id, L_LOSS);
	/* A recovery does not unlatch; price events still pass (no intent). */
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 45, T0 + 5)));
	CHECK(ark_graveyard_day_pnl(&S) > 0);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 45, T0 + 6, SELL, 100, 45)), ARK_REASON_DAILY_LOSS);
	/* The latch holds until the caller's (wall-clock) trading day changes,
	 * whatever the ticks' times say; then it clears. */
	const uint64_t midnight = T0 + (9 * 3600 + 30 * 60) * SEC;
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 45, midnight - 1, SELL, 100, 45)), ARK_REASON_DAILY_LOSS);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 45, midnight + 3 * 86400 * SEC, SELL, 100, 45)), ARK_REASON_DAILY_LOSS);
	CHECK_EQ_U64(S.day_rolls, 0);
	double equity_before = ark_graveyard_day_pnl(&S) + S.day_base_pnl;
	test_inputs.trading_day = 1;
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 45, midnight + 3 * 86400 * SEC + 1, SELL, 100, 45)));
	CHECK(!S.loss_latched);
	CHECK_EQ_U64(S.day_rolls, 1);
	CHECK(fabs(S.day_base_pnl - equity_before) < 1e-9);
	CHECK(fabs(ark_graveyard_day_pnl(&S)) < 1e-9);
	CHECK(fabs(S.realised_pnl - 500) < 1e-9);
	/* Realised losses count too: buy 100 @ 50; at a price of 40 (a mark
	 * losing exactly 1000) sell @ 39.99: -1001 realised latches after the fill. */
	const uint64_t later = midnight + 3 * 86400 * SEC + 1;
	EXPECT_ALLOW(judge(&R, &S, order_at(3, "CCC", 50, later + SEC, BUY, 100, 50)));
	EXPECT_ALLOW(judge(&R, &S, order_at(3, "CCC", 40, later + 2 * SEC, SELL, 100, 39.99)));
	CHECK(S.loss_latched);
	EXPECT_DENY(judge(&R, &S, order_at(3, "CCC", 40, later + 3 * SEC, BUY, 1, 40)), ARK_REASON_DAILY_LOSS);
	CHECK(fabs(S.realised_pnl - (500 - 1001)) < 1e-6);
	test_inputs.trading_day = 0;
	/* A tick one day ahead no longer rolls the day (it used to clear the
	 * latch): only the caller's trading day does, and never backwards. */
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 40, T0, BUY, 100, 40)));
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 20, T0 + 1)));
	CHECK(S.loss_latched);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0 + 86400 * SEC + 1, BUY, 1, 10)), ARK_REASON_DAILY_LOSS);
	test_inputs.trading_day = 7;
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "BBB", 10, T0 + 86400 * SEC + 2, BUY, 1, 10)));
	CHECK(!S.loss_latched);
	CHECK_EQ_U64(S.trading_day, 7);
	test_inputs.trading_day = 6;   /* the wall clock stepped back: no roll, no un-roll */
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "BBB", 10, T0 + 86400 * SEC + 3, SELL, 1, 10)));
	CHECK_EQ_U64(S.trading_day, 7);
	CHECK_EQ_U64(S.day_rolls, 1);
	test_inputs.trading_day = 0;
}

static void trading_states(void)
{
	const char *const reducing[] = {"trading_state", "trading_state = REDUCING node"};
	fresh(reducing, 2);
	struct ark_graveyard_decision d = judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 1, 10));
	EXPECT_DENY(d, ARK_REASON_REDUCING_ONLY);
	CHECK_EQ_U64(d.rule_id, L_STATE);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0, SELL, 1, 10)), ARK_REASON_REDUCING_ONLY);

	/* ACTIVE, build +50, tighten to REDUCING: only reductions pass. */
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 50, 10)));
	struct ark_err err = {0};
	CHECK(ark_graveyard_tighten(&S, ARK_TRADING_REDUCING, &err) == 0);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + SEC, BUY, 1, 10)), ARK_REASON_REDUCING_ONLY);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0 + SEC, SELL, 1, 10)), ARK_REASON_REDUCING_ONLY);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 2 * SEC, SELL, 20, 10)));
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 3 * SEC, SELL, 40, 10)), ARK_REASON_REDUCING_ONLY);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0 + 4 * SEC, SELL, 30, 10)));
	CHECK(S.symbols[1].position == 0);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 5 * SEC, SELL, 1, 10)), ARK_REASON_REDUCING_ONLY);
	/* Loosening is refused; tightening to HALTED works. */
	CHECK(ark_graveyard_tighten(&S, ARK_TRADING_ACTIVE, &err) == -EPERM);
	CHECK_CONTAINS(err.msg, "only tightens");
	CHECK(ark_graveyard_tighten(&S, ARK_TRADING_HALTED, &err) == 0);
	d = judge(&R, &S, order_at(1, "AAA", 10, T0 + 6 * SEC, SELL, 1, 10));
	EXPECT_DENY(d, ARK_REASON_HALTED);
	CHECK_EQ_U64(d.rule_id, L_STATE);
	CHECK(ark_graveyard_tighten(&S, ARK_TRADING_REDUCING, &err) == -EPERM);

	const char *const halted[] = {"trading_state", "trading_state = HALTED global"};
	fresh(halted, 2);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 1, 10)), ARK_REASON_HALTED);
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 10, T0)));   /* prices still flow */
	CHECK(S.symbols[1].mark == 10);
}

/* When several rules are violated, the earliest in the documented order wins. */
static void order(void)
{
	fresh(NULL, 0);
	/* restricted + too big + outside the collar */
	EXPECT_DENY(judge(&R, &S, order_at(1, "BAD", 10, T0, BUY, 1000, 20)), ARK_REASON_RESTRICTED_SYMBOL);
	/* pattern + bad reference */
	EXPECT_DENY(judge(&R, &S, order_at(2, "A.OTC", 0, T0, BUY, 1, 20)), ARK_REASON_RESTRICTED_PATTERN);
	/* bad reference + too big */
	EXPECT_DENY(judge(&R, &S, order_at(3, "CCC", NAN, T0, BUY, 1000, 20)), ARK_REASON_REFERENCE_PRICE);
	/* too big + outside the collar + notional */
	EXPECT_DENY(judge(&R, &S, order_at(3, "CCC", 100, T0, BUY, 1000, 200)), ARK_REASON_MAX_QUANTITY);
	/* outside the collar + notional */
	EXPECT_DENY(judge(&R, &S, order_at(3, "CCC", 100, T0, BUY, 99, 200)), ARK_REASON_PRICE_COLLAR);
	/* notional + position (max_position 200 by 2 orders of 100...) */
	EXPECT_ALLOW(judge(&R, &S, order_at(4, "DDD", 10, T0, BUY, 100, 10)));
	EXPECT_ALLOW(judge(&R, &S, order_at(4, "DDD", 10, T0 + 1, BUY, 100, 10.1)));
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 60, T0 + 2, BUY, 100, 60)), ARK_REASON_MAX_NOTIONAL);
	/* duplicate + per-symbol rate full + overall rate: DUPLICATE */
	EXPECT_ALLOW(judge(&R, &S, order_at(4, "DDD", 10, T0 + 3, SELL, 1, 10)));   /* 3rd on DDD */
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 10, T0 + 4, SELL, 1, 10)), ARK_REASON_DUPLICATE);
	/* per-symbol full + position: RATE_SYMBOL */
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 10, T0 + 5, BUY, 50, 10)), ARK_REASON_RATE_SYMBOL);
	/* overall full (10) + per-symbol full: RATE_SYMBOL; overall + position: RATE_GLOBAL */
	for (uint32_t i = 0; i < 7; i++)
		EXPECT_ALLOW(judge(&R, &S, order_at(10 + i, "E", 10, T0 + 6 + i, BUY, 1, 10)));
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 10, T0 + 20, BUY, 2, 10)), ARK_REASON_RATE_SYMBOL);
	EXPECT_DENY(judge(&R, &S, order_at(30, "F", 10, T0 + 20, BUY, 100, 10)), ARK_REASON_RATE_GLOBAL);
	/* REDUCING: a reducing repeat is still a duplicate, a growing order is
	 * REDUCING_ONLY; then HALTED + restricted: HALTED */
	struct ark_err err = {0};
	CHECK(ark_graveyard_tighten(&S, ARK_TRADING_REDUCING, &err) == 0);
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 10, T0 + 21, SELL, 1, 10)), ARK_REASON_DUPLICATE);
	EXPECT_DENY(judge(&R, &S, order_at(4, "DDD", 10, T0 + 21, BUY, 1, 10)), ARK_REASON_REDUCING_ONLY);
	CHECK(ark_graveyard_tighten(&S, ARK_TRADING_HALTED, &err) == 0);
	EXPECT_DENY(judge(&R, &S, order_at(1, "BAD", 10, T0 + 22, BUY, 1000, 20)), ARK_REASON_HALTED);
	/* daily-loss latch + restricted: DAILY_LOSS */
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 40, T0, BUY, 100, 40)));
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 1, T0 + 1)));
	EXPECT_DENY(judge(&R, &S, order_at(2, "BAD", 10, T0 + 2, BUY, 1000, 20)), ARK_REASON_DAILY_LOSS);
	/* quarantine denies everything, intent or not, and changes nothing */
	struct ark_graveyard_decision d;
	struct ark_event e = event_at(1, "AAA", 50, T0 + 3);
	uint64_t evals = S.evaluations;
	struct ark_graveyard_inputs quarantined = {UINT64_MAX, 0, true};
	ark_graveyard_evaluate(&R, &S, &e, &quarantined, &d);
	EXPECT_DENY(d, ARK_REASON_QUARANTINED);
	CHECK(d.rule_id == 0 && S.symbols[1].mark == 1 && S.market_now_ns == T0 + 2);
	CHECK_EQ_U64(S.denials[ARK_REASON_QUARANTINED], 1);
	CHECK_EQ_U64(S.evaluations, evals + 1);
	/* drift first of all: even before quarantine */
	atomic_store(&S.drift.latched, 1);
	ark_graveyard_evaluate(&R, &S, &e, &quarantined, &d);
	EXPECT_DENY(d, ARK_REASON_ETHICS_DRIFT);
	EXPECT_DENY(judge(&R, &S, order_at(2, "BBB", 10, T0 + 4, BUY, 1, 10)), ARK_REASON_ETHICS_DRIFT);
	CHECK_EQ_U64(S.denials[ARK_REASON_ETHICS_DRIFT], 2);
}

/* A pseudo-random stream of orders and prices over few symbols, so every
 * rule fires; run twice on fresh state: the same decisions, the same bytes. */
static uint64_t stream(struct ark_graveyard_state *s, uint64_t seed, uint64_t *denials)
{
	uint64_t x = seed, digest = 1469598103934665603ull, t = T0;
	ark_graveyard_state_init(s, &R);
	*denials = 0;
	const char *const names[] = {"A", "B", "C", "D", "BAD", "X.OTC", "E", "F"};
	for (int i = 0; i < 200000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t r = (uint32_t)(x >> 33);
		uint32_t id = r % 8;
		t += (r >> 3) % (20 * MS);
		double price = 20 + (double)((r >> 8) % 1000) / 20.0;
		struct ark_event e = event_at(id, names[id], price, (r >> 20) % 97 == 0 ? t - 2 * SEC : t);
		if ((r >> 12) % 3 == 0) {
			e.side = (r >> 14) % 2 ? ARK_SIDE_BUY : ARK_SIDE_SELL;
			e.quantity = 1 + (double)((r >> 16) % 120);
			e.limit_price = price * (1 + ((double)((r >> 18) % 13) - 6) / 100.0);
		}
		struct ark_graveyard_decision d = judge(&R, s, e);
		*denials += d.verdict == ARK_VERDICT_DENY;
		digest = (digest ^ ((uint64_t)d.verdict << 32 | (uint64_t)d.reason << 16 | d.rule_id)) * 1099511628211ull;
	}
	return digest;
}

static void determinism(void)
{
	const char *const no_loss_limit[] = {"daily_loss_limit", "daily_loss_limit = 1e12 global"};
	make_rules(&R, no_loss_limit, 2);
	static struct ark_graveyard_state a, b;
	uint64_t denials_a, denials_b;
	uint64_t da = stream(&a, 7, &denials_a), db = stream(&b, 7, &denials_b);
	CHECK(da == db);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	CHECK(denials_a > 1000);
	/* Every reason that a stream of plain orders can produce did occur. */
	const enum ark_reason seen[] = {ARK_REASON_MAX_QUANTITY, ARK_REASON_PRICE_COLLAR, ARK_REASON_REFERENCE_PRICE,
					ARK_REASON_RESTRICTED_SYMBOL, ARK_REASON_RESTRICTED_PATTERN,
					ARK_REASON_RATE_SYMBOL, ARK_REASON_POSITION_LIMIT, ARK_REASON_MAX_NOTIONAL};
	for (size_t i = 0; i < ARK_ARRAY_LEN(seen); i++)
		CHECK_MSG(a.denials[seen[i]] > 0, "no %s in the stream", ark_reason_name(seen[i]));
	uint64_t dc = stream(&b, 8, &denials_b);
	CHECK(dc != da);
	/* The sums always equal what they summarise. */
	double mark = 0, cost = 0, gross = 0;
	for (int i = 0; i < ARK_GRAVEYARD_MAX_SYMBOLS; i++) {
		mark += a.symbols[i].position * a.symbols[i].mark;
		cost += a.symbols[i].position * a.symbols[i].average_price;
		gross += fabs(a.symbols[i].position) * a.symbols[i].mark;
	}
	CHECK(fabs(mark - a.position_mark_sum) < 1e-6 * (1 + fabs(mark)));
	CHECK(fabs(cost - a.position_cost_sum) < 1e-6 * (1 + fabs(cost)));
	CHECK(fabs(gross - a.gross_exposure) < 1e-6 * (1 + gross));
}

int main(void)
{
	basics();
	quantity_and_notional();
	collar();
	reference();
	restricted();
	duplicate();
	rates();
	position_and_gross();
	daily_loss();
	trading_states();
	order();
	determinism();
	printf("graveyard evaluation tests passed\n");
	return 0;
}
