/* tests/graveyard/test_graveyard_hostile.c — the gate under hostile values:
 * NaN and infinities never switch a limit off, a non-finite state latches
 * STATE_CORRUPT (and only an operator's release clears it), a far-future tick
 * cannot drag the market clock past the caller's ceiling, a price above the
 * ceiling is never marked, and the reproduction (a 1e308 print that
 * turned the day's loss into NaN) still ends in a daily_loss denial. */
#include "graveyard_test.h"

#include <stdlib.h>

static struct ark_graveyard_rules R;
static struct ark_graveyard_state S;

#define BUY ARK_SIDE_BUY
#define SELL ARK_SIDE_SELL

static void fresh(const char *const *replace, int count)
{
	make_rules(&R, replace, count);
	ark_graveyard_state_init(&S, &R);
	test_inputs = (struct ark_graveyard_inputs){UINT64_MAX, 0, false};
}

/* The reproduction, at the gate: long PX, short PA, PA jumps so the
 * day loses more than the limit; then PX prints 1e308 and 550. Before the
 * fix the 1e308 mark made equity inf, then inf - inf = NaN, every
 * `NaN > limit` was false and PB was allowed. */
static void poisoned_batch(void)
{
	const char *const loose[] = {"max_order_notional", "max_order_notional = 1000000 node",
				     "max_gross_exposure", "max_gross_exposure = 100000000 global",
				     "daily_loss_limit", "daily_loss_limit = 250000 global",
				     "max_position", "max_position = 50000 node",
				     "max_order_quantity", "max_order_quantity = 10000 node"};
	for (int poisoned = 0; poisoned < 2; poisoned++) {
		fresh(loose, 10);
		EXPECT_ALLOW(judge(&R, &S, order_at(1, "PX", 500, T0, BUY, 2000, 500)));
		EXPECT_ALLOW(judge(&R, &S, order_at(2, "PA", 100, T0 + 1, SELL, 4200, 100)));
		/* PA jumps 100 → 200 on a short of 4200: the day is down 420k. */
		EXPECT_ALLOW(judge(&R, &S, event_at(2, "PA", 150, T0 + 2)));
		EXPECT_ALLOW(judge(&R, &S, event_at(2, "PA", 200, T0 + 3)));
		CHECK(S.loss_latched);
		if (poisoned) {
			struct ark_graveyard_decision d = judge(&R, &S, event_at(1, "PX", 1e308, T0 + 4));
			EXPECT_ALLOW(d);   /* no intent: nothing to deny, and nothing marked */
			CHECK(S.symbols[1].mark == 500);
			EXPECT_ALLOW(judge(&R, &S, event_at(1, "PX", 550, T0 + 5)));
			CHECK(isfinite(S.gross_exposure) && isfinite(S.position_mark_sum));
			CHECK(isfinite(ark_graveyard_day_pnl(&S)));
		}
		struct ark_graveyard_decision d = judge(&R, &S, order_at(3, "PB", 10, T0 + 6, BUY, 10, 10));
		EXPECT_DENY(d, ARK_REASON_DAILY_LOSS);
		CHECK(!S.state_corrupt);
		CHECK_EQ_U64(S.denials[ARK_REASON_DAILY_LOSS], 1);
	}
}

/* Any price above the ceiling is no reference: never marked, and an intent
 * on it is denied REFERENCE_PRICE; NaN and infinities likewise. */
static void absurd_prices(void)
{
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 10, 10)));
	const double bad[] = {ARK_TICK_PRICE_CEILING * 2, 1e308, INFINITY, -INFINITY, NAN, -5, 0};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad); i++) {
		EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", bad[i], T0 + 1 + i, SELL, 1, 10)), ARK_REASON_REFERENCE_PRICE);
		CHECK(S.symbols[1].mark == 10);
		CHECK(isfinite(S.gross_exposure) && !S.state_corrupt);
	}
	/* At the ceiling itself the price is valid and marked. */
	EXPECT_ALLOW(judge(&R, &S, event_at(2, "BBB", ARK_TICK_PRICE_CEILING, T0 + 20)));
	CHECK(S.symbols[2].mark == ARK_TICK_PRICE_CEILING);
	/* NaN quantities and limits deny, whatever comparison they meet. */
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 21, BUY, NAN, 10)), ARK_REASON_MAX_QUANTITY);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 22, BUY, 1, NAN)), ARK_REASON_PRICE_COLLAR);
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 23, BUY, INFINITY, 10)), ARK_REASON_MAX_QUANTITY);
}

/* A non-finite value in the state (a bug, a bit flip) latches STATE_CORRUPT:
 * every intent denied, the trading state reads HALTED, until a release. */
static void corrupt_state(void)
{
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, BUY, 10, 10)));
	S.position_mark_sum = NAN;
	/* The next mark finds it. */
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 11, T0 + 1)));
	CHECK(S.state_corrupt);
	CHECK_EQ_U64(S.corrupt_latches, 1);
	CHECK(strstr(S.corrupt_detail, "position_mark_sum") != NULL);
	CHECK_EQ_U64(ark_graveyard_effective_state(&S), ARK_TRADING_HALTED);
	CHECK_EQ_U64(ark_graveyard_halt_cause(&S), ARK_HALT_STATE_CORRUPT);
	struct ark_graveyard_decision d = judge(&R, &S, order_at(2, "BBB", 10, T0 + 2, BUY, 1, 10));
	EXPECT_DENY(d, ARK_REASON_STATE_CORRUPT);
	CHECK_EQ_U64(d.rule_id, 0);
	/* A fresh tick does not clear it; no further mark touches the NaN. */
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, T0 + 3, SELL, 1, 10)), ARK_REASON_STATE_CORRUPT);
	/* The release recomputes the sums from the symbols and clears it. */
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_release_corrupt(&S, &err) == 0, "%s", err.msg);
	CHECK(!S.state_corrupt && isfinite(S.position_mark_sum));
	CHECK(fabs(S.position_mark_sum - 10 * S.symbols[1].mark) < 1e-9);
	EXPECT_ALLOW(judge(&R, &S, order_at(2, "BBB", 10, T0 + 4, BUY, 1, 10)));
	/* A position that is not finite cannot be released: the book needs reconciling. */
	S.symbols[1].position = INFINITY;
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 12, T0 + 5)));
	CHECK(S.state_corrupt);
	CHECK(ark_graveyard_release_corrupt(&S, &err) == -EIO);
	CHECK(strstr(err.msg, "AAA") != NULL && strstr(err.msg, "reconcile") != NULL);
	CHECK(S.state_corrupt);
}

/* An order that would overflow the book is denied and latches, instead of
 * leaving an infinity in a limit's comparison. The rules file cannot state
 * such limits (the parser caps them): the table is widened by hand, as a
 * defect elsewhere would. */
static void overflowing_order(void)
{
	const char *const wide[] = {"price_collar", "price_collar = 50% node"};
	fresh(wide, 2);
	R.limits.max_order_quantity = 1e300;
	R.limits.max_order_notional = 1e308;
	R.limits.max_position = 1e308;
	R.limits.max_gross_exposure = INFINITY;
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 1e8, T0, BUY, 0.9e300, 1e8)));
	CHECK(isfinite(S.position_cost_sum));
	struct ark_graveyard_decision d = judge(&R, &S, order_at(1, "AAA", 1e8, T0 + 1, BUY, 0.9e300, 1.0001e8));
	EXPECT_DENY(d, ARK_REASON_STATE_CORRUPT);
	CHECK(S.state_corrupt);
	CHECK(isfinite(S.position_cost_sum) && isfinite(S.symbols[1].position));
	CHECK(S.allowed == 1);
}

/* The market clock never passes the caller's ceiling: a far-future tick does
 * not make every later tick stale. Without the ceiling it would. */
static void clock_ceiling(void)
{
	const uint64_t wall = T0 + 100 * SEC;
	for (int bounded = 0; bounded < 2; bounded++) {
		fresh(NULL, 0);
		test_inputs.clock_ceiling_ns = bounded ? wall + 5 * SEC : UINT64_MAX;
		EXPECT_ALLOW(judge(&R, &S, event_at(9, "ZZZQ", 100, 9223372036854775807ull)));
		if (bounded)
			CHECK_EQ_U64(S.market_now_ns, wall + 5 * SEC);
		else
			CHECK_EQ_U64(S.market_now_ns, 9223372036854775807ull);
		/* The far-future tick itself is no reference: it is ahead of the
		 * (bounded) clock. Unbounded, it was the clock. */
		struct ark_graveyard_decision far = judge(&R, &S, order_at(9, "ZZZQ", 100, 9223372036854775807ull, BUY, 1, 100));
		if (bounded)
			EXPECT_DENY(far, ARK_REASON_REFERENCE_PRICE);
		else
			EXPECT_ALLOW(far);
		struct ark_graveyard_decision d = judge(&R, &S, order_at(1, "AAA", 10, wall + 4 * SEC + 1, BUY, 1, 10));
		if (bounded)
			EXPECT_ALLOW(d);
		else
			EXPECT_DENY(d, ARK_REASON_REFERENCE_PRICE);
	}
}

/* Days come from the caller, so a tick one day ahead clears nothing. */
static void day_from_wall_clock(void)
{
	fresh(NULL, 0);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 40, T0, BUY, 100, 40)));
	EXPECT_ALLOW(judge(&R, &S, event_at(1, "AAA", 20, T0 + 1)));
	CHECK(S.loss_latched);
	EXPECT_ALLOW(judge(&R, &S, event_at(2, "BBB", 10, T0 + 86400 * SEC + 1)));
	CHECK(S.loss_latched && S.day_rolls == 0);
	test_inputs.trading_day = 1;
	EXPECT_ALLOW(judge(&R, &S, event_at(2, "BBB", 10, T0 + 86400 * SEC + 2)));
	CHECK(!S.loss_latched && S.day_rolls == 1);
}

/* ---- the trading day's calendar ---- */

static uint64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
	return (uint64_t)timegm(&tm) * SEC;
}

static void calendar(void)
{
	struct ark_err err = {0};
	struct ark_graveyard_zone *z = NULL;
	CHECK_MSG(ark_graveyard_zone_load("UTC", &z, &err) == 0, "%s", err.msg);
	struct ark_graveyard_limits l;
	memset(&l, 0, sizeof l);
	uint32_t day, day2;
	uint64_t next, next2;
	/* UTC, reset 00:00: the day is the date; the next begins at midnight. */
	ark_graveyard_trading_day(&l, z, utc(2026, 12, 5, 23, 59, 59), &day, &next);
	CHECK_EQ_U64(next, utc(2026, 12, 6, 0, 0, 0));
	ark_graveyard_trading_day(&l, z, utc(2026, 12, 6, 0, 0, 0), &day2, &next2);
	CHECK_EQ_U64(day2, day + 1);
	CHECK_EQ_U64(next2, utc(2026, 12, 7, 0, 0, 0));
	/* Reset 21:30 UTC: 21:29:59 belongs to the day before. */
	l.trading_day_reset_ns = (21 * 3600 + 30 * 60) * SEC;
	ark_graveyard_trading_day(&l, z, utc(2026, 12, 5, 21, 29, 59), &day, &next);
	CHECK_EQ_U64(next, utc(2026, 12, 5, 21, 30, 0));
	ark_graveyard_trading_day(&l, z, next, &day2, &next2);
	CHECK_EQ_U64(day2, day + 1);
	ark_graveyard_zone_free(z);

	/* New York, reset 17:00 local: EST (UTC-5) in winter, EDT (UTC-4) in summer. */
	CHECK_MSG(ark_graveyard_zone_load("America/New_York", &z, &err) == 0, "%s", err.msg);
	l.trading_day_reset_ns = 17 * 3600 * SEC;
	ark_graveyard_trading_day(&l, z, utc(2026, 1, 15, 12, 0, 0), &day, &next);
	CHECK_EQ_U64(next, utc(2026, 1, 15, 22, 0, 0));
	ark_graveyard_trading_day(&l, z, utc(2026, 7, 15, 12, 0, 0), &day, &next);
	CHECK_EQ_U64(next, utc(2026, 7, 15, 21, 0, 0));
	/* Across the spring change (2026-03-08): days stay consecutive. */
	ark_graveyard_trading_day(&l, z, utc(2026, 3, 7, 23, 0, 0), &day, &next);
	CHECK_EQ_U64(next, utc(2026, 3, 8, 21, 0, 0));
	ark_graveyard_trading_day(&l, z, next, &day2, &next2);
	CHECK_EQ_U64(day2, day + 1);
	CHECK_EQ_U64(next2, utc(2026, 3, 9, 21, 0, 0));
	/* Beyond the transition table: the file's POSIX rule (2045). */
	CHECK_EQ_U64(ark_graveyard_zone_offset(z, (int64_t)(utc(2045, 7, 1, 12, 0, 0) / SEC)), -4 * 3600);
	CHECK_EQ_U64(ark_graveyard_zone_offset(z, (int64_t)(utc(2045, 1, 1, 12, 0, 0) / SEC)), (uint64_t)(int64_t)(-5 * 3600));
	ark_graveyard_zone_free(z);
	/* The southern hemisphere: Sydney is on daylight time in January. */
	CHECK_MSG(ark_graveyard_zone_load("Australia/Sydney", &z, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(ark_graveyard_zone_offset(z, (int64_t)(utc(2045, 1, 15, 0, 0, 0) / SEC)), 11 * 3600);
	CHECK_EQ_U64(ark_graveyard_zone_offset(z, (int64_t)(utc(2045, 7, 15, 0, 0, 0) / SEC)), 10 * 3600);
	ark_graveyard_zone_free(z);
	/* A half-hour zone without DST. */
	CHECK_MSG(ark_graveyard_zone_load("Asia/Kolkata", &z, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(ark_graveyard_zone_offset(z, (int64_t)(utc(2026, 6, 1, 0, 0, 0) / SEC)), 5 * 3600 + 1800);
	ark_graveyard_zone_free(z);
	/* Every instant of a year: days consecutive, boundaries strictly ahead. */
	CHECK(ark_graveyard_zone_load("Europe/London", &z, &err) == 0);
	l.trading_day_reset_ns = (1 * 3600 + 30 * 60) * SEC;   /* inside London's DST change hour */
	uint64_t t = utc(2026, 1, 1, 0, 0, 0);
	ark_graveyard_trading_day(&l, z, t, &day, &next);
	for (int i = 0; i < 400; i++) {
		CHECK(next > t);
		ark_graveyard_trading_day(&l, z, next - SEC, &day2, &next2);
		CHECK_EQ_U64(day2, day);
		CHECK_EQ_U64(next2, next);
		ark_graveyard_trading_day(&l, z, next, &day2, &next2);
		CHECK_EQ_U64(day2, day + 1);
		t = next;
		day = day2;
		next = next2;
	}
	ark_graveyard_zone_free(z);
	/* Names that are not zones. */
	const char *const bad[] = {"", "../etc/passwd", "/etc/localtime", "Mars/Base", "America/../UTC", "A B"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad); i++) {
		CHECK(ark_graveyard_zone_load(bad[i], &z, &err) < 0);
		CHECK(z == NULL);
	}
}

int main(void)
{
	poisoned_batch();
	absurd_prices();
	corrupt_state();
	overflowing_order();
	clock_ceiling();
	day_from_wall_clock();
	calendar();
	printf("graveyard hostile: ok\n");
	return 0;
}
