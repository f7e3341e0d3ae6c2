/* tests/graveyard/test_graveyard_inflight.c — HRM's book with a network
 * broker (confirm_by_reports): the exposure, position and loss limits read
 * the confirmed positions plus the orders in flight at their worst, and the
 * broker's execution reports correct the view at their place in the
 * sequence. Every step also goes through `ark audit`'s own evaluator, which
 * must agree (no finding), and a random mix of ticks, intents and reports
 * is decided twice: the same record, the same decisions and state.
 *
 * What each case would catch:
 *   - an order the broker rejected still counted (a projection no report can
 *     correct): rejected_releases;
 *   - a fill at another price or of another size than the limit's not taken:
 *     partial_fills_and_price, loss_from_confirmed_fill;
 *   - an anomaly's claimed fill believed, or its order forgotten:
 *     anomaly_stays_in_flight;
 *   - pending sells netted against buys (the position limit passed if the
 *     buys fill and the sells do not): worst_case_not_netted;
 *   - REDUCING letting a sell flip the position once the sells in flight
 *     fill: reducing_counts_flight;
 *   - gross exposure ignoring orders in flight: gross_counts_flight;
 *   - a report with unusable numbers applied (NaN, 1e308, beyond the order):
 *     unusable_reports_held;
 *   - the sums drifting from the symbols, or decisions that depend on more
 *     than the record: random_mix. */
#include "audit/audit.h"
#include "graveyard_test.h"

#include <stdio.h>
#include <stdlib.h>

static struct ark_graveyard_state S, S2;
static struct ark_graveyard_rules R;
static struct ark_audit_rules AR;
static struct ark_audit *audit;
static uint64_t seq;
static int findings;

static const struct ark_graveyard_inputs reports_book = {.clock_ceiling_ns = UINT64_MAX, .confirm_by_reports = true};

static void on_finding(void *ctx, const struct ark_audit_finding *f)
{
	(void)ctx;
	if (f->kind == ARK_AUDIT_NON_FINITE)
		return;   /* a report's own NaN, on purpose */
	fprintf(stderr, "audit finding: %s seq %llu %s: %s\n", ark_audit_kind_name(f->kind), (unsigned long long)f->seq,
		f->symbol, f->detail);
	findings++;
}

static void fresh(const char *const *replace, int count)
{
	char text[8192];
	struct ark_err err = {0};
	rules_text(text, sizeof text, replace, count);
	CHECK_MSG(ark_graveyard_parse(text, strlen(text), "test.rules", &R, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_audit_rules_parse(text, strlen(text), &AR, &err) == 0, "%s", err.msg);
	ark_graveyard_state_init(&S, &R);
	ark_audit_destroy(audit);
	audit = NULL;
	CHECK_MSG(ark_audit_create(&audit, &AR, on_finding, NULL, &err) == 0, "%s", err.msg);
	seq = 0;
	findings = 0;
}

static void stamp(struct ark_event *e, const struct ark_graveyard_state *st)
{
	e->hrm_market_ns = st->market_now_ns;
	e->hrm_trading_day = (uint32_t)st->trading_day;
	e->hrm_state = (uint8_t)ark_graveyard_effective_state(st);
	e->hrm_halt_cause = (uint8_t)ark_graveyard_halt_cause(st);
	e->hrm_book = ARK_HRM_BOOK_REPORTS;
}

/* One event through HRM's evaluation and the audit; the decision. */
static struct ark_graveyard_decision step(struct ark_event e)
{
	struct ark_graveyard_decision d;
	e.seq = ++seq;
	e.trace_id = e.seq;
	ark_graveyard_evaluate(&R, &S, &e, &reports_book, &d);
	e.verdict = d.verdict;
	e.reason = d.reason;
	e.rule_id = d.rule_id;
	e.exec_status = d.verdict == ARK_VERDICT_ALLOW && d.has_intent ? ARK_EXEC_SUBMITTED : ARK_EXEC_FORWARDED;
	e.client_order_id = e.trace_id;
	stamp(&e, &S);
	ark_audit_event(audit, &e);
	CHECK_MSG(findings == 0, "the audit disagrees at seq %llu", (unsigned long long)e.seq);
	return d;
}

static uint64_t order_id;   /* the trace id of the last order stepped */

static struct ark_graveyard_decision order(uint32_t id, const char *symbol, double mark, uint64_t t, uint8_t side,
					   double q, double limit)
{
	struct ark_graveyard_decision d = step(order_at(id, symbol, mark, t, side, q, limit));
	order_id = seq;
	return d;
}

enum { PARTIAL = 0, FINAL = 1, ANOMALY = 2 };

/* A broker's report on an order: it adds `fill` units at `price`;
 * `cumulative` is the order's filled quantity after it. */
static void report(uint32_t id, const char *symbol, uint8_t side, double q, double limit, double fill, double price,
		   double cumulative, int kind)
{
	struct ark_event e;
	memset(&e, 0, sizeof e);
	e.seq = ++seq;
	e.trace_id = e.seq;
	e.symbol_id = id;
	snprintf(e.symbol, sizeof e.symbol, "%s", symbol);
	e.source = ARK_SOURCE_BROKER;
	e.flags = ARK_EVENT_EXEC_REPORT | (kind != PARTIAL ? ARK_EVENT_ORDER_FINAL : 0) |
		  (kind == ANOMALY ? ARK_EVENT_BROKER_ANOMALY : 0);
	e.side = side;
	e.quantity = q;
	e.limit_price = limit;
	e.verdict = ARK_VERDICT_ALLOW;
	e.client_order_id = order_id;
	e.size = kind == ANOMALY ? 0 : fill;
	e.price = kind == ANOMALY ? 0 : price;
	e.filled_quantity = cumulative;
	e.fill_price = price;
	e.exec_status = kind == ANOMALY ? ARK_EXEC_ANOMALY : cumulative > 0 ? ARK_EXEC_FILLED : kind == FINAL ? ARK_EXEC_REJECTED : ARK_EXEC_ACCEPTED;
	ark_graveyard_apply_report(&R, &S, &e, &reports_book);
	stamp(&e, &S);
	ark_audit_event(audit, &e);
	CHECK_MSG(findings == 0, "the audit disagrees at report seq %llu", (unsigned long long)e.seq);
}

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) <= 1e-6 * (1 + fabs((double)(b))))

/* The sums equal what the symbols hold. */
static void check_sums(const struct ark_graveyard_state *st)
{
	double mark = 0, cost = 0, gross = 0;
	for (uint32_t i = 0; i < ARK_GRAVEYARD_MAX_SYMBOLS; i++) {
		const struct ark_graveyard_symbol *s = &st->symbols[i];
		if (!s->known)
			continue;
		mark += (s->position + s->pending_buy - s->pending_sell) * s->mark;
		cost += s->position * s->average_price + s->pending_buy_cost - s->pending_sell_cost;
		gross += fmax(fabs(s->position + s->pending_buy), fabs(s->position - s->pending_sell)) * s->mark;
		CHECK(s->pending_buy >= 0 && s->pending_sell >= 0 && s->pending_buy_cost >= 0 && s->pending_sell_cost >= 0);
	}
	CHECK_MSG(NEAR(st->position_mark_sum, mark), "mark sum %.17g, symbols %.17g", st->position_mark_sum, mark);
	CHECK_MSG(NEAR(st->position_cost_sum, cost), "cost sum %.17g, symbols %.17g", st->position_cost_sum, cost);
	CHECK_MSG(NEAR(st->gross_exposure, gross), "gross %.17g, symbols %.17g", st->gross_exposure, gross);
}

static void rejected_releases(void)
{
	fresh(NULL, 0);
	uint64_t t = T0;
	EXPECT_ALLOW(order(0, "AAA", 10, t, ARK_SIDE_BUY, 100, 10));
	uint64_t first = order_id;
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 100, 10.1));
	/* Nothing confirmed, 200 in flight: the position limit is reached. */
	CHECK(S.symbols[0].position == 0 && S.symbols[0].pending_buy == 200);
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 1, 10), ARK_REASON_POSITION_LIMIT);
	/* The broker refuses the first: it is no longer in flight, and the
	 * room it held is free again (a projection would keep it). */
	order_id = first;
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 0, 0, 0, FINAL);
	CHECK(S.symbols[0].pending_buy == 100 && S.symbols[0].position == 0);
	CHECK(NEAR(S.symbols[0].pending_buy_cost, 1010));
	check_sums(&S);
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 100, 10));
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 1, 9.9), ARK_REASON_POSITION_LIMIT);
	CHECK(S.reports == 1 && S.reports_held == 0);
	printf("ok rejected_releases\n");
}

static void partial_fills_and_price(void)
{
	fresh(NULL, 0);
	uint64_t t = T0;
	EXPECT_ALLOW(order(0, "AAA", 10, t, ARK_SIDE_BUY, 100, 10));
	/* While in flight, P&L counts it as filled at its limit. */
	CHECK(NEAR(ark_graveyard_day_pnl(&S), 0));
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 40, 9.5, 40, PARTIAL);
	CHECK(S.symbols[0].position == 40 && NEAR(S.symbols[0].average_price, 9.5));
	CHECK(NEAR(S.symbols[0].pending_buy, 60) && NEAR(S.symbols[0].pending_buy_cost, 600));
	/* Bought 40 for 0.5 less than the limit: +20 against the mark of 10. */
	CHECK_MSG(NEAR(ark_graveyard_day_pnl(&S), 20), "day P&L %g", ark_graveyard_day_pnl(&S));
	check_sums(&S);
	/* Cancelled after 70 filled in all: 30 more at 9.8, the rest (30) leaves. */
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 30, 9.8, 70, FINAL);
	CHECK(S.symbols[0].position == 70 && S.symbols[0].pending_buy == 0 && S.symbols[0].pending_buy_cost == 0);
	CHECK(NEAR(S.symbols[0].average_price, (40 * 9.5 + 30 * 9.8) / 70));
	check_sums(&S);
	/* 130 more fit under max_position (200), 131 do not. */
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 100, 10.2));
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 31, 10.1), ARK_REASON_POSITION_LIMIT);
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 30, 10.1));
	printf("ok partial_fills_and_price\n");
}

static void anomaly_stays_in_flight(void)
{
	fresh(NULL, 0);
	uint64_t t = T0;
	EXPECT_ALLOW(order(0, "AAA", 10, t, ARK_SIDE_BUY, 100, 10));
	/* An answer that failed Kenny's checks (it claimed 150 filled): not
	 * believed, and the order stays in flight — the worst case. */
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 150, 10, 150, ANOMALY);
	CHECK(S.symbols[0].position == 0 && S.symbols[0].pending_buy == 100);
	CHECK(S.reports_held == 1 && S.reports == 0);
	check_sums(&S);
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 100, 10.1));
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 1, 10), ARK_REASON_POSITION_LIMIT);
	printf("ok anomaly_stays_in_flight\n");
}

static void worst_case_not_netted(void)
{
	fresh(NULL, 0);
	uint64_t t = T0;
	EXPECT_ALLOW(order(0, "AAA", 10, t, ARK_SIDE_BUY, 100, 10));
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 100, 10, 100, FINAL);
	CHECK(S.symbols[0].position == 100);
	/* Sell 100 in flight: if it fills the position is 0, if it does not
	 * it stays 100. A buy of 100 more reaches 200 if the sell never
	 * fills; one more unit is beyond max_position (a projection netting
	 * the sell would say 0 + 101). */
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 100, 10));
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 100, 10));
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 1, 10), ARK_REASON_POSITION_LIMIT);
	CHECK(S.symbols[0].pending_buy == 100 && S.symbols[0].pending_sell == 100);
	/* And the other way: sells down to -200 if the buy never fills. */
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 100, 10.1));
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 100, 9.9));
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 1, 10), ARK_REASON_POSITION_LIMIT);
	check_sums(&S);
	printf("ok worst_case_not_netted\n");
}

static void reducing_counts_flight(void)
{
	static const char *const reducing[] = {"trading_state", "trading_state = REDUCING node"};
	fresh(reducing, 2);
	uint64_t t = T0;
	/* A long of 100 confirmed by the broker (an order from before). */
	order_id = 999;
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 100, 10, 100, FINAL);
	CHECK(S.symbols[0].position == 100);
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 60, 10));
	/* 40 left to reduce once the 60 in flight fill: 60 more would flip. */
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 60, 10.1), ARK_REASON_REDUCING_ONLY);
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 40, 10.1));
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 1, 9.9), ARK_REASON_REDUCING_ONLY);
	EXPECT_DENY(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_BUY, 1, 10), ARK_REASON_REDUCING_ONLY);
	/* The 40 is rejected: room for 40 again. */
	report(0, "AAA", ARK_SIDE_SELL, 40, 10.1, 0, 0, 0, FINAL);
	EXPECT_ALLOW(order(0, "AAA", 10, t += 600 * MS, ARK_SIDE_SELL, 40, 9.95));
	check_sums(&S);
	printf("ok reducing_counts_flight\n");
}

static void gross_counts_flight(void)
{
	static const char *const gross[] = {"max_gross_exposure", "max_gross_exposure = 16000 global"};
	fresh(gross, 2);
	uint64_t t = T0;
	/* 200 units at 40 in flight on each of two symbols fill the 16000. */
	EXPECT_ALLOW(order(0, "AAA", 40, t, ARK_SIDE_BUY, 100, 40));
	uint64_t aaa = order_id;
	EXPECT_ALLOW(order(0, "AAA", 40, t += 600 * MS, ARK_SIDE_BUY, 100, 40.4));
	EXPECT_ALLOW(order(1, "BBB", 40, t += 600 * MS, ARK_SIDE_BUY, 100, 40));
	EXPECT_ALLOW(order(1, "BBB", 40, t += 600 * MS, ARK_SIDE_BUY, 100, 40.4));
	CHECK(NEAR(S.gross_exposure, 16000));
	EXPECT_DENY(order(2, "CCC", 40, t += 600 * MS, ARK_SIDE_BUY, 1, 40), ARK_REASON_GROSS_EXPOSURE);
	/* A sell in flight does not lower the worst case. */
	EXPECT_ALLOW(order(0, "AAA", 40, t += 600 * MS, ARK_SIDE_SELL, 50, 40));
	EXPECT_DENY(order(2, "CCC", 40, t += 600 * MS, ARK_SIDE_BUY, 1, 40.1), ARK_REASON_GROSS_EXPOSURE);
	/* One of AAA's buys is rejected: its 100 x 40 are room again. */
	order_id = aaa;
	report(0, "AAA", ARK_SIDE_BUY, 100, 40, 0, 0, 0, FINAL);
	CHECK_MSG(NEAR(S.gross_exposure, 12000), "%g", S.gross_exposure);
	EXPECT_ALLOW(order(2, "CCC", 40, t += 600 * MS, ARK_SIDE_BUY, 100, 40));
	EXPECT_DENY(order(2, "CCC", 40, t += 600 * MS, ARK_SIDE_BUY, 1, 39.9), ARK_REASON_GROSS_EXPOSURE);
	check_sums(&S);
	printf("ok gross_counts_flight\n");
}

static void loss_from_confirmed_fill(void)
{
	fresh(NULL, 0);
	uint64_t t = T0;
	EXPECT_ALLOW(order(0, "AAA", 50, t, ARK_SIDE_BUY, 100, 50));
	/* Marked down to 45 while in flight (at its limit): -500. */
	step(event_at(0, "AAA", 45, t += 100 * MS));
	CHECK_MSG(NEAR(ark_graveyard_day_pnl(&S), -500), "%g", ark_graveyard_day_pnl(&S));
	/* Filled at 52, above the limit (Kenny would stop a price outside the
	 * limit as an anomaly; the book takes what it is given): -700. */
	report(0, "AAA", ARK_SIDE_BUY, 100, 50, 100, 52, 100, FINAL);
	CHECK_MSG(NEAR(ark_graveyard_day_pnl(&S), -700), "%g", ark_graveyard_day_pnl(&S));
	CHECK(!S.loss_latched);
	step(event_at(0, "AAA", 41, t += 100 * MS));
	CHECK_MSG(S.loss_latched, "day P&L %g", ark_graveyard_day_pnl(&S));
	EXPECT_DENY(order(1, "BBB", 10, t += 100 * MS, ARK_SIDE_BUY, 1, 10), ARK_REASON_DAILY_LOSS);
	check_sums(&S);
	printf("ok loss_from_confirmed_fill\n");
}

static void unusable_reports_held(void)
{
	fresh(NULL, 0);
	uint64_t t = T0;
	EXPECT_ALLOW(order(0, "AAA", 10, t, ARK_SIDE_BUY, 100, 10));
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, NAN, 10, 50, PARTIAL);
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 50, 1e308, 50, PARTIAL);
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 150, 10, 100, FINAL);      /* beyond the order */
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, -5, 10, 95, PARTIAL);
	report(0, "AAA", ARK_SIDE_BUY, 100, 10, 5, -10, 5, PARTIAL);
	CHECK_MSG(S.reports_held == 5 && S.reports == 0, "held %llu applied %llu", (unsigned long long)S.reports_held,
		  (unsigned long long)S.reports);
	CHECK(S.symbols[0].position == 0 && S.symbols[0].pending_buy == 100 && !S.state_corrupt);
	check_sums(&S);
	/* A report for a symbol id never seen takes the slot, applies its
	 * fill, and leaves nothing in flight below zero. */
	report(7, "ZZZ", ARK_SIDE_SELL, 10, 5, 10, 5, 10, FINAL);
	CHECK(S.symbols[7].position == -10 && S.symbols[7].pending_sell == 0);
	check_sums(&S);
	printf("ok unusable_reports_held\n");
}

/* ---- a random mix, decided twice ---- */

struct flight {
	uint32_t id;
	uint8_t side;
	double q, limit, filled;
	uint64_t order;
};

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *const syms[] = {"AAA", "BBB", "CCC", "DDD"};

/* Runs the mix from `seed` on S; returns a digest of the decisions. */
static uint64_t mix(uint64_t seed, int events)
{
	fresh(NULL, 0);
	rng = seed;
	struct flight open[64];
	int n_open = 0;
	double base[4] = {10, 20, 30, 40};
	uint64_t t = T0, digest = 1469598103934665603ull;
	int allowed = 0, denied = 0, reports = 0;
	for (int i = 0; i < events; i++) {
		uint32_t what = rnd(10);
		if (what < 4 && n_open) {
			int k = (int)rnd((uint32_t)n_open);
			struct flight *f = &open[k];
			int kind = rnd(12) == 0 ? ANOMALY : rnd(3) == 0 ? FINAL : PARTIAL;
			double rest = f->q - f->filled;
			double fill = rnd(4) == 0 ? 0 : (double)(1 + rnd((uint32_t)fmax(1, rest)));
			if (fill > rest)
				fill = rest;
			double price = f->limit * (0.98 + rnd(40) / 1000.0);
			order_id = f->order;
			report(f->id, syms[f->id], f->side, f->q, f->limit, fill, price, f->filled + fill, kind);
			f->filled += kind == ANOMALY ? 0 : fill;
			reports++;
			if (kind != PARTIAL || f->filled >= f->q)
				open[k] = open[--n_open];
			digest = (digest ^ (uint64_t)(S.symbols[f->id].pending_buy * 1000)) * 1099511628211ull;
		} else {
			uint32_t id = rnd(4);
			base[id] *= 0.99 + rnd(21) / 1000.0;
			t += (1 + rnd(400)) * MS;
			uint8_t side = what < 7 && n_open < 64 ? (uint8_t)(1 + rnd(2)) : ARK_SIDE_NONE;
			double q = 1 + rnd(60), limit = base[id] * (0.98 + rnd(40) / 1000.0);
			struct ark_graveyard_decision d = side ? order(id, syms[id], base[id], t, side, q, limit)
							       : step(event_at(id, syms[id], base[id], t));
			if (side && d.verdict == ARK_VERDICT_ALLOW) {
				open[n_open++] = (struct flight){id, side, q, limit, 0, order_id};
				allowed++;
			} else if (side) {
				denied++;
			}
			digest = (digest ^ ((uint64_t)d.verdict << 8 | d.reason)) * 1099511628211ull;
		}
		check_sums(&S);
		CHECK(!S.state_corrupt);
	}
	CHECK_MSG(allowed > 50 && denied > 50 && reports > 50, "allowed %d denied %d reports %d", allowed, denied, reports);
	return digest;
}

static void random_mix(void)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		uint64_t a = mix(seed * 0x9e3779b97f4a7c15ull, 3000);
		memcpy(&S2, &S, sizeof S);
		uint64_t b = mix(seed * 0x9e3779b97f4a7c15ull, 3000);
		CHECK_MSG(a == b, "seed %llu decided differently on the same record", (unsigned long long)seed);
		/* The state as well, but for the drift checker's fields. */
		CHECK(memcmp(&S, &S2, offsetof(struct ark_graveyard_state, drift)) == 0);
		CHECK(memcmp(&S.rate_head, &S2.rate_head, sizeof S - offsetof(struct ark_graveyard_state, rate_head)) == 0);
	}
	printf("ok random_mix\n");
}

/* Without reports (the paper venue) nothing is ever in flight: the book is
 * the projection, as before. */
static void projection_unchanged(void)
{
	fresh(NULL, 0);
	struct ark_graveyard_decision d;
	struct ark_event e = order_at(0, "AAA", 10, T0, ARK_SIDE_BUY, 100, 10);
	ark_graveyard_evaluate(&R, &S, &e, &test_inputs, &d);
	EXPECT_ALLOW(d);
	CHECK(S.symbols[0].position == 100 && S.symbols[0].pending_buy == 0);
	e = order_at(0, "AAA", 10, T0 + 600 * MS, ARK_SIDE_BUY, 100, 10.1);
	ark_graveyard_evaluate(&R, &S, &e, &test_inputs, &d);
	EXPECT_ALLOW(d);
	e = order_at(0, "AAA", 10, T0 + 1200 * MS, ARK_SIDE_BUY, 1, 10);
	ark_graveyard_evaluate(&R, &S, &e, &test_inputs, &d);
	EXPECT_DENY(d, ARK_REASON_POSITION_LIMIT);
	CHECK(S.symbols[0].position == 200 && S.symbols[0].pending_buy == 0);
	printf("ok projection_unchanged\n");
}

int main(void)
{
	rejected_releases();
	partial_fills_and_price();
	anomaly_stays_in_flight();
	worst_case_not_netted();
	reducing_counts_flight();
	gross_counts_flight();
	loss_from_confirmed_fill();
	unusable_reports_held();
	projection_unchanged();
	random_mix();
	ark_audit_destroy(audit);
	return 0;
}
