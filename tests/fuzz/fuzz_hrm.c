/* tests/fuzz/fuzz_hrm.c — libFuzzer target: HRM's evaluation with its state,
 * held to the independent evaluator of `ark audit`.
 *
 * Each input is a sequence of events (a dozen bytes each): symbols among a
 * few clean, restricted and pattern-matched names; sides; prices, quantities
 * and limits from the ordinary to the hostile (0, negatives, NaN, the
 * infinities, 1e308, denormals, the price ceiling and just past it); times
 * that step forward, repeat, go back, vanish (0) or leap to 2^63-1; the wall
 * clock's ceiling and the trading day advancing now and then. An input whose
 * length leaves 5 or more bytes over a whole number of events runs with a
 * network broker's book (confirm_by_reports): allowed orders stay in flight
 * and execution reports among the events settle them — partial and final
 * fills at prices near the limit, rejections, anomalies and hostile values
 * (NaN, 1e308, beyond the order). After every event:
 *   - every accumulator of the state is finite, or STATE_CORRUPT is latched;
 *   - the audit's evaluator agrees with the decision (no allowed violation,
 *     no wrong reason, no denial of a clean intent, no clock it cannot
 *     explain). Findings about the input's own non-finite values are expected. */
#include "audit/audit.h"
#include "graveyard/graveyard.h"
#include "../graveyard/base_rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rules_text[] = ARK_TEST_BASE_RULES;

static const char *const symbols[] = {"AAA", "BBB", "CCC", "DDD", "BAD", "X.OTC", "TEST1", "worse"};

static double pick(uint8_t sel, double base)
{
	static const double hostile[] = {0, -1, NAN, INFINITY, -INFINITY, 1e308, -1e308, 5e-324, 1e-308,
					 ARK_TICK_PRICE_CEILING, ARK_TICK_PRICE_CEILING * 1.0000001, 1e12, 1e-9, 0.5};
	if (sel < 200)
		return base * (0.5 + sel / 200.0);
	return hostile[(sel - 200) % (sizeof hostile / sizeof hostile[0])];
}

static int findings;
static void on_finding(void *ctx, const struct ark_audit_finding *f)
{
	(void)ctx;
	if (f->kind == ARK_AUDIT_NON_FINITE)
		return;   /* the input's own NaNs and infinities */
	fprintf(stderr, "audit disagrees: %s seq %llu %s: %s\n", ark_audit_kind_name(f->kind), (unsigned long long)f->seq,
		f->symbol, f->detail);
	findings++;
}

static void check_finite(const struct ark_graveyard_state *st)
{
	if (st->state_corrupt)
		return;
	if (!isfinite(st->realised_pnl) || !isfinite(st->position_mark_sum) || !isfinite(st->position_cost_sum) ||
	    !isfinite(st->gross_exposure) || !isfinite(st->day_base_pnl))
		abort();
	for (int i = 0; i < 8; i++) {
		const struct ark_graveyard_symbol *s = &st->symbols[i];
		if (!isfinite(s->position) || !isfinite(s->average_price) || !isfinite(s->mark) ||
		    !(s->pending_buy >= 0) || !(s->pending_sell >= 0) || !isfinite(s->pending_buy) || !isfinite(s->pending_sell))
			abort();
	}
}

struct flight {
	int sym;
	uint8_t side;
	double q, limit, filled;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ark_graveyard_rules rules;
	static struct ark_audit_rules audit_rules;
	static struct ark_graveyard_state state;
	static bool ready;
	struct ark_err err = {0};
	if (!ready) {
		if (ark_graveyard_parse(rules_text, sizeof rules_text - 1, "fuzz", &rules, &err) ||
		    ark_audit_rules_parse(rules_text, sizeof rules_text - 1, &audit_rules, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			abort();
		}
		ready = true;
	}
	ark_graveyard_state_init(&state, &rules);
	struct ark_audit *audit = NULL;
	if (ark_audit_create(&audit, &audit_rules, on_finding, NULL, &err))
		abort();
	findings = 0;
	uint64_t t = 1704205800000000000ull, wall = t;
	uint32_t day = 0;
	double base[8] = {10, 20, 30, 40, 50, 60, 70, 80};
	struct ark_event e;
	const bool by_reports = size % 10 >= 5;
	struct flight open[32];
	int n_open = 0;
	for (size_t at = 0, seq = 1; at + 10 <= size; at += 10, seq++) {
		const uint8_t *b = data + at;
		if (by_reports && n_open && b[9] < 100) {
			/* The broker's word on an order in flight, first. */
			int k = b[9] % n_open;
			struct flight *f = &open[k];
			int kind = b[8] >> 6;   /* 0 partial, 1 final, 2 anomaly, 3 hostile */
			double rest = f->q - f->filled;
			double fill = kind == 2 ? 0 : rest * (b[8] & 63) / 63.0;
			double price = f->limit * (0.97 + (b[8] & 7) / 100.0);
			if (kind == 3) {
				fill = pick((uint8_t)(200 + (b[8] & 15)), 1);
				price = pick((uint8_t)(200 + (b[9] & 15)), f->limit);
			}
			memset(&e, 0, sizeof e);
			e.seq = seq++;
			e.trace_id = e.seq;
			e.symbol_id = (uint32_t)f->sym;
			snprintf(e.symbol, sizeof e.symbol, "%s", symbols[f->sym]);
			e.source = ARK_SOURCE_BROKER;
			e.flags = ARK_EVENT_EXEC_REPORT | ARK_EVENT_INJECTED | (kind ? ARK_EVENT_ORDER_FINAL : 0) |
				  (kind == 2 ? ARK_EVENT_BROKER_ANOMALY : 0);
			e.side = f->side;
			e.quantity = f->q;
			e.limit_price = f->limit;
			e.verdict = ARK_VERDICT_ALLOW;
			e.size = fill;
			e.price = fill != 0 ? price : 0;
			e.filled_quantity = kind == 3 ? f->filled : f->filled + fill;
			struct ark_graveyard_inputs in = {.clock_ceiling_ns = wall, .trading_day = day, .confirm_by_reports = true,
							  .fresh_ahead_ns = 5000000000ull};
			ark_graveyard_apply_report(&rules, &state, &e, &in);
			check_finite(&state);
			e.hrm_market_ns = state.market_now_ns;
			e.hrm_trading_day = (uint32_t)state.trading_day;
			e.hrm_state = (uint8_t)ark_graveyard_effective_state(&state);
			e.hrm_halt_cause = (uint8_t)ark_graveyard_halt_cause(&state);
			e.hrm_book = ARK_HRM_BOOK_REPORTS;
			ark_audit_event(audit, &e);
			if (findings)
				abort();
			f->filled = e.filled_quantity;
			if (kind)
				open[k] = open[--n_open];
		}
		int sym = b[0] % 8;
		memset(&e, 0, sizeof e);
		e.seq = seq;
		e.trace_id = seq;
		e.symbol_id = (uint32_t)sym;
		snprintf(e.symbol, sizeof e.symbol, "%s", symbols[sym]);
		e.flags = ARK_EVENT_INJECTED;   /* the audit does not report the input's own non-finite price */
		e.side = b[1] % 3;
		e.price = pick(b[2], base[sym]);
		if (isfinite(e.price) && e.price > 0 && e.price < 1e6 && b[2] < 200)
			base[sym] = e.price;   /* a random walk, mostly */
		e.quantity = b[3] < 220 ? (double)(b[3] % 120) : pick(b[3], 50);
		e.limit_price = b[4] < 200 ? e.price * (0.9 + b[4] / 1000.0) : pick(b[4], e.price);
		switch (b[5] % 10) {
		case 0: break;                                     /* the same time again */
		case 1: t += 1; break;
		case 2: t += 1000000; break;                       /* 1 ms */
		case 3: t += 300000000; break;                     /* 300 ms */
		case 4: t += 2000000000ull; break;                 /* past the reference age */
		case 5: t -= 500000000; break;                     /* half a second back */
		default: t += 50000; break;
		}
		uint64_t ts = t;
		if (b[6] == 255)
			ts = 0;
		else if (b[6] == 254)
			ts = 9223372036854775807ull;   /* the far future */
		e.exchange_time_ns = ts;
		if (b[7] & 1)
			wall = t > wall ? t : wall;    /* the wall clock follows the ticks, mostly */
		if (b[7] == 0x80)
			day++;                          /* a new trading day by the wall clock */
		struct ark_graveyard_inputs in = {.clock_ceiling_ns = wall, .trading_day = day,
						  .confirm_by_reports = by_reports, .fresh_ahead_ns = 5000000000ull};
		struct ark_graveyard_decision d;
		ark_graveyard_evaluate(&rules, &state, &e, &in, &d);
		check_finite(&state);
		e.verdict = d.verdict;
		e.reason = d.reason;
		e.rule_id = d.rule_id;
		e.hrm_market_ns = state.market_now_ns;
		e.hrm_trading_day = (uint32_t)state.trading_day;
		e.hrm_state = (uint8_t)ark_graveyard_effective_state(&state);
		e.hrm_halt_cause = (uint8_t)ark_graveyard_halt_cause(&state);
		e.hrm_book = by_reports ? ARK_HRM_BOOK_REPORTS : ARK_HRM_BOOK_PROJECTED;
		if (d.verdict == ARK_VERDICT_ALLOW && d.has_intent && by_reports) {
			e.exec_status = ARK_EXEC_SUBMITTED;   /* its reports follow */
			if (n_open < 32)
				open[n_open++] = (struct flight){sym, e.side, e.quantity, e.limit_price, 0};
		} else if (d.verdict == ARK_VERDICT_ALLOW && d.has_intent) {
			e.exec_status = ARK_EXEC_FILLED;   /* the paper venue fills at the limit */
			e.filled_quantity = e.quantity;
			e.fill_price = e.limit_price;
		}
		ark_audit_event(audit, &e);
		if (findings)
			abort();
	}
	ark_audit_destroy(audit);
	return 0;
}
