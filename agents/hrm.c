/* agents/hrm.c — HRM, the ethics and risk gate: every event passes the
 * Graveyard (graveyard/) before Kenny may act on it; a denial carries the
 * rule's line and a fixed reason code.
 *
 * The compiled rules and the evaluation state live in HRM's state region, so
 * a restarted HRM resumes with the same windows, positions and latches. Off
 * the hot path (every 100 ms, and at start) HRM checks for ethics drift: the
 * installed rules file, the compiled table and the hash recorded when the run
 * began must all agree; any difference latches drift and every event is
 * denied from then on (ETHICS_DRIFT), counted. A quarantined HRM denies
 * everything (QUARANTINED).
 *
 * With a network broker (Alpaca), Kenny publishes the account's buying power
 * in the order book; a buy whose notional exceeds what is left of it since
 * the last reading is denied (reason MAX_NOTIONAL, rule 0: the broker's
 * limit, not a Graveyard line) before it reaches the broker.
 *
 * With a network broker HRM's book is the broker's: an allowed order stays
 * in flight until the broker's execution reports settle it, and the
 * exposure, position and loss limits read the confirmed positions plus what
 * is in flight at its worst (graveyard.h, IN FLIGHT). The reports reach HRM
 * as events Kyle numbered, in the journal's order, and each event records
 * the book HRM used (hrm_book), so the decisions are a function of the
 * record. */
#include "agents/agents_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DRIFT_CHECK_NS (100ull * 1000 * 1000)
#define CLOCK_REBASE_NS (100ull * 1000 * 1000)

static uint64_t last_drift_check_ns;
static struct ark_order_book *order_book;
/* The rules this HRM gates by and the hash they must keep: the installed
 * Graveyard its own configuration names, held to its pins (never a path or
 * a hash read from the segment: those are only compared), or for the canary
 * lane the rules its configuration names, held to the hash they had when
 * it started. */
static char rules_path[ARK_GRAVEYARD_PATH_MAX];
static char rules_hash[ARK_GRAVEYARD_HEX_LEN + 1];
/* The wall clock, read without a system call per event: a CLOCK_REALTIME
 * reading against a CLOCK_MONOTONIC one, taken again every 100 ms. It
 * bounds the market clock (a tick up to ARK_TICK_MAX_SKEW ahead of it is a
 * fresh reference, but cannot move it past the wall clock) and names the trading
 * day (in the rules' time zone). */
static struct ark_graveyard_zone *zone;
static uint64_t wall_base_ns, mono_base_ns, max_skew_ns;
static uint32_t wall_day;
static uint64_t wall_next_day_ns;
static bool corrupt_logged;
/* The broker reports fills (ARK_BROKER=alpaca, the stable lane): HRM's book
 * is confirmed fills plus orders in flight, not a projection. */
static bool book_by_reports;

/* A test seam, absent from `ark`: the fault-injection build of the tests
 * (tests/faults/) defines it to let one rule kind through, so that the
 * synthetic loop's criteria are shown to catch a gate that fails open. */
bool ark_hrm_fault_allows(enum ark_reason reason) __attribute__((weak));
/* Another: it may poison the state before an evaluation (a non-finite
 * value), so the tests can show the STATE_CORRUPT latch, its reporting and
 * its release end to end. */
void ark_hrm_fault_poison(struct ark_graveyard_state *state, const struct ark_event *event) __attribute__((weak));

static void check_drift(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	struct ark_hrm_state *s = ctx->state;
	struct ark_err err = {0};
	bool was = atomic_load(&s->graveyard.drift.latched) != 0;
	int rc = ark_graveyard_check_drift(&s->rules, &s->graveyard, rules_path, rules_hash, &err);
	s->drift_checks++;
	last_drift_check_ns = now_ns;
	if (rc == 1 && !was)
		ark_log(ctx->log, "error", "ETHICS DRIFT: every event is denied from now on cause=%s detail=\"%s\"",
			ark_graveyard_drift_cause_name((enum ark_graveyard_drift_cause)s->graveyard.drift.cause), err.msg);
}

static void rebase_clock(void)
{
	mono_base_ns = ark_now_ns();
	wall_base_ns = ark_realtime_ns();
}

/* What the instance shows of HRM's trading state (the stable HRM only). */
static void publish_state(struct ark_agent_ctx *ctx)
{
	if (ctx->lane != ARK_LANE_STABLE)
		return;
	struct ark_pipeline *p = ctx->pipeline;
	const struct ark_graveyard_state *g = &((struct ark_hrm_state *)ctx->state)->graveyard;
	uint32_t state = ark_graveyard_effective_state(g), cause = ark_graveyard_halt_cause(g);
	if (atomic_load_explicit(&p->hrm_trading_state, memory_order_relaxed) == state &&
	    atomic_load_explicit(&p->hrm_halt_cause, memory_order_relaxed) == cause)
		return;
	snprintf(p->hrm_halt_detail, sizeof p->hrm_halt_detail, "%s", g->state_corrupt ? g->corrupt_detail : "");
	/* The state before the cause: readers load the cause first, so the
	 * cause they see comes with its state. */
	atomic_store(&p->hrm_trading_state, state);
	atomic_store(&p->hrm_halt_cause, cause);
	atomic_store(&ctx->counters->state_corrupt, g->state_corrupt ? 1 : 0);
}

/* The rules this process's own configuration names, held to their pins,
 * before HRM touches its rings or its state. */
static struct ark_graveyard_rules *pinned;

static int hrm_preflight(struct ark_agent_ctx *ctx, struct ark_err *err)
{
	int rc = ark_graveyard_installed_path(rules_path, sizeof rules_path, err);
	if (rc)
		return -EINVAL;
	free(pinned);
	pinned = malloc(sizeof *pinned);
	if (!pinned)
		return ark_err_set(err, -ENOMEM, "out of memory");
	if (ctx->lane == ARK_LANE_STABLE) {
		/* Held to the pins of this process's own configuration, and
		 * the segment must say the same. */
		struct ark_rules_pin pin;
		rc = ark_pipeline_rules_pin(rules_path, false, pinned, &pin, err);
		if (!rc && (strcmp(rules_path, ctx->pipeline->rules_path) != 0 ||
			    strcmp(pinned->file_sha256_hex, ctx->pipeline->rules_hash) != 0))
			rc = ark_err_set(err, -EPERM,
					 "the instance's segment names the rules %s (sha256 %.64s), this HRM's configuration "
					 "%s (sha256 %s): refusing to gate by either",
					 ctx->pipeline->rules_path, ctx->pipeline->rules_hash, rules_path, pinned->file_sha256_hex);
	} else {
		rc = ark_graveyard_load(rules_path, pinned, err);
	}
	return rc;
}

static int hrm_start(struct ark_agent_ctx *ctx, struct ark_err *err)
{
	struct ark_hrm_state *s = ctx->state;
	int rc;
	/* The canary lane's configuration may change under it (a rollback
	 * replaces the canary's with the stable one): other rules, compiled
	 * afresh, with their own windows. */
	bool other_rules = ctx->lane == ARK_LANE_CANARY && s->rules.file_sha256_hex[0] && strcmp(s->rules.path, rules_path) != 0;
	if (other_rules)
		ark_log(ctx->log, "warn", "the lane's rules changed from %s to %s: compiling them afresh", s->rules.path, rules_path);
	if (s->rules.file_sha256_hex[0] == '\0' || other_rules) {
		/* First start of this run: the pinned rules go into the segment.
		 * A restart keeps the table it had (drift is judged against it,
		 * not against whatever the file says now). */
		s->rules = *pinned;
	}
	if (ctx->lane == ARK_LANE_CANARY) {
		/* Held to the hash the watchdog recorded when the canary started
		 * (what promote checks): rules edited after that are drift. */
		const char *expected = getenv("ARK_CANARY_RULES_SHA256");
		snprintf(rules_hash, sizeof rules_hash, "%s", expected && *expected ? expected : s->rules.file_sha256_hex);
	} else {
		snprintf(rules_hash, sizeof rules_hash, "%s", pinned->file_sha256_hex);
	}
	free(pinned);
	pinned = NULL;
	if (!ark_graveyard_state_matches(&s->graveyard, &s->rules)) {
		ark_graveyard_state_init(&s->graveyard, &s->rules);
		ark_hist_reset(&s->eval_ns);
	}
	const char *zone_name = s->rules.limits.trading_day_zone[0] ? s->rules.limits.trading_day_zone : "UTC";
	ark_graveyard_zone_free(zone);
	if ((rc = ark_graveyard_zone_load(zone_name, &zone, err)))
		return ark_err_wrap(err, "trading_day_reset");
	struct ark_tick_bounds bounds;
	char why[256];
	if (ark_tick_bounds_from_env(&bounds, why, sizeof why))
		return ark_err_set(err, -EINVAL, "%s", why);
	max_skew_ns = bounds.max_skew_ns;
	const struct ark_broker_ops *broker;   /* Kenny's: one whose fills come as reports keeps the book */
	struct ark_err berr = {0};
	book_by_reports = ctx->lane == ARK_LANE_STABLE && ark_broker_find(getenv("ARK_BROKER"), &broker, &berr) == 0 &&
			  broker->reports;
	rebase_clock();
	ark_graveyard_trading_day(&s->rules.limits, zone, wall_base_ns, &wall_day, &wall_next_day_ns);
	check_drift(ctx, ark_now_ns());
	order_book = ark_agent_region(ctx, "state.orders");
	corrupt_logged = s->graveyard.state_corrupt != 0;
	publish_state(ctx);
	ark_log(ctx->log, "info", "rules=%s sha256=%s trading_state=%s halt_cause=%s drift=%u trading_day=%u zone=%s "
		"next_day_in_s=%.0f max_skew_ms=%llu book=%s",
		rules_path, s->rules.file_sha256_hex,
		ark_trading_state_name(ark_graveyard_effective_state(&s->graveyard)),
		ark_halt_cause_name(ark_graveyard_halt_cause(&s->graveyard)),
		(unsigned)atomic_load(&s->graveyard.drift.latched), wall_day, zone_name,
		(double)(wall_next_day_ns - wall_base_ns) / 1e9, (unsigned long long)(max_skew_ns / 1000000),
		book_by_reports ? "confirmed_plus_in_flight" : "projected");
	return 0;
}

/* Save what one evaluation can change: the state's scalars, the overall rate
 * window's next slot, and the event's symbol. */
static void save_for_undo(struct ark_agent_ctx *ctx, const struct ark_event *e)
{
	struct ark_hrm_state *s = ctx->state;
	struct ark_graveyard_state *g = &s->graveyard;
	ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
	ark_undo_save(ctx, &g->scalars, sizeof g->scalars);
	ark_undo_save(ctx, &g->rate_head, sizeof g->rate_head + sizeof g->rate_count);
	uint32_t cap = s->rules.limits.order_rate_count;
	if (cap) {
		uint32_t at = g->rate_count < cap ? (g->rate_head + g->rate_count) % cap : g->rate_head;
		ark_undo_save(ctx, &g->rate_ns[at], sizeof g->rate_ns[at]);
	}
	if (e->symbol_id < ARK_GRAVEYARD_MAX_SYMBOLS)
		ark_undo_save(ctx, &g->symbols[e->symbol_id], sizeof g->symbols[e->symbol_id]);
}

static double buying_power_left(const struct ark_hrm_state *s)
{
	uint64_t version;
	double power = ark_order_book_buying_power(order_book, &version);
	return power - s->buying_power_spent;
}

/* A buy that would spend more than the broker's buying power has left. A new
 * reading of the account starts the count again. */
static bool beyond_buying_power(struct ark_hrm_state *s, const struct ark_event *e)
{
	if (!order_book || e->side != ARK_SIDE_BUY)
		return false;
	uint64_t version;
	double power = ark_order_book_buying_power(order_book, &version);
	if (!version)
		return false;   /* the paper broker: no account */
	if (version != s->buying_power_version) {
		s->buying_power_version = version;
		s->buying_power_spent = 0;
	}
	double notional = e->quantity * e->limit_price;
	return notional > 0 && s->buying_power_spent + notional > power;
}

/* What HRM saw beside the event: a replay or an audit reads it here. */
static void stamp(struct ark_agent_ctx *ctx, struct ark_event *e)
{
	const struct ark_graveyard_state *g = &((struct ark_hrm_state *)ctx->state)->graveyard;
	e->hrm_market_ns = g->market_now_ns;
	e->hrm_trading_day = (uint32_t)g->trading_day;
	e->hrm_state = (uint8_t)ark_graveyard_effective_state(g);
	e->hrm_halt_cause = (uint8_t)ark_graveyard_halt_cause(g);
	e->hrm_book = book_by_reports ? ARK_HRM_BOOK_REPORTS : ARK_HRM_BOOK_PROJECTED;
	if (__builtin_expect(e->hrm_halt_cause != atomic_load_explicit(&ctx->pipeline->hrm_halt_cause, memory_order_relaxed) ||
			     e->hrm_state != atomic_load_explicit(&ctx->pipeline->hrm_trading_state, memory_order_relaxed), 0))
		publish_state(ctx);
	if (__builtin_expect(g->state_corrupt && !corrupt_logged, 0)) {
		corrupt_logged = true;
		ark_control_add(&ctx->control->errors, 1);
		ark_log(ctx->log, "error", "STATE CORRUPT: a non-finite value in HRM's state (%s); trading HALTED, every intent "
			"denied (reason state_corrupt) until an operator runs `ark release hrm` trace=%016llx",
			g->corrupt_detail, (unsigned long long)e->trace_id);
	}
}

/* The broker's word on an order HRM allowed, at its place in the sequence:
 * it settles what was in flight. No decision (the report's verdict stays
 * its order's), whatever the gate's state: a fill happened or it did not. */
static void settle_report(struct ark_agent_ctx *ctx, struct ark_hrm_state *s, struct ark_event *e,
			  const struct ark_graveyard_inputs *inputs)
{
	uint64_t held = s->graveyard.reports_held;
	ark_graveyard_apply_report(&s->rules, &s->graveyard, e, inputs);
	stamp(ctx, e);
	if (s->graveyard.reports_held != held && !(e->flags & ARK_EVENT_BROKER_ANOMALY))
		ark_log(ctx->log, "error", "execution report not applied (its fill is not one a book can take): the order "
			"stays in flight trace=%016llx order=%016llx size=%g price=%g", (unsigned long long)e->trace_id,
			(unsigned long long)e->client_order_id, e->size, e->price);
}

/* The Graveyard's decision on the event (timed into eval_ns), and the
 * broker's buying power over it. */
static void decide(struct ark_agent_ctx *ctx, struct ark_hrm_state *s, struct ark_event *e,
		   const struct ark_graveyard_inputs *inputs, struct ark_graveyard_decision *d)
{
	uint64_t t0 = ark_now_ns();
	if (beyond_buying_power(s, e)) {
		/* The market clock and marks still advance; the intent is not
		 * counted as allowed anywhere in the Graveyard's view. */
		struct ark_event no_intent = *e;
		no_intent.side = ARK_SIDE_NONE;
		ark_graveyard_evaluate(&s->rules, &s->graveyard, &no_intent, inputs, d);
		if (d->verdict == ARK_VERDICT_ALLOW) {
			d->verdict = ARK_VERDICT_DENY;
			d->reason = ARK_REASON_MAX_NOTIONAL;
			d->rule_id = 0;
			s->buying_power_denials++;
			ark_log(ctx->log, "warn", "intent beyond the broker's buying power trace=%016llx symbol=%s notional=%.2f "
				"left=%.2f", (unsigned long long)e->trace_id, e->symbol, e->quantity * e->limit_price,
				buying_power_left(s));
		}
		d->has_intent = true;
	} else {
		ark_graveyard_evaluate(&s->rules, &s->graveyard, e, inputs, d);
		if (d->verdict == ARK_VERDICT_ALLOW && d->has_intent && e->side == ARK_SIDE_BUY && s->buying_power_version)
			s->buying_power_spent += e->quantity * e->limit_price;
	}
	if (ark_hrm_fault_allows && d->verdict == ARK_VERDICT_DENY && ark_hrm_fault_allows((enum ark_reason)d->reason))
		d->verdict = ARK_VERDICT_ALLOW, d->reason = ARK_REASON_NONE, d->rule_id = 0;
	uint64_t spent = ark_now_ns() - t0;
	ark_hist_record(&s->eval_ns, spent);   /* once: hrm_eval_ms follows the stable lane's (metrics server) */
}

/* An injected violation's verdict against its kind (the setup steps of an
 * injection that were denied make its outcome inconclusive). */
static void judge_injection(struct ark_agent_ctx *ctx, struct ark_hrm_state *s, const struct ark_event *e,
			    const struct ark_graveyard_decision *d, uint32_t sid)
{
	struct ark_pipeline_counters *counters = ctx->counters;
	bool setup_denied = s->injection_setup_denied[sid] != 0;
	if (setup_denied) {
		ark_undo_save(ctx, &s->injection_setup_denied[sid], sizeof s->injection_setup_denied[sid]);
		s->injection_setup_denied[sid] = 0;
	}
	if (d->verdict == ARK_VERDICT_DENY && d->reason == e->injected_kind) {
		ark_control_add(&counters->injected_denied, 1);
	} else if (d->verdict == ARK_VERDICT_DENY) {
		ark_control_add(&counters->injected_wrong_reason, 1);
		if (d->reason != ARK_REASON_ETHICS_DRIFT && d->reason != ARK_REASON_QUARANTINED)
			ark_log(ctx->log, "warn", "injected violation denied for another reason trace=%016llx kind=%s reason=%s",
				(unsigned long long)e->trace_id, ark_reason_name((enum ark_reason)e->injected_kind),
				ark_reason_name((enum ark_reason)d->reason));
	} else if (setup_denied) {
		ark_control_add(&counters->injected_inconclusive, 1);
		ark_log(ctx->log, "warn", "injected violation allowed after its setup was denied (inconclusive) trace=%016llx "
			"kind=%s symbol=%s", (unsigned long long)e->trace_id,
			ark_reason_name((enum ark_reason)e->injected_kind), e->symbol);
	} else {
		/* Counted in this lane's counters, by kind: a canary lane that
		 * lets one through is rolled back at once. */
		ark_control_add(&counters->injected_allowed, 1);
		if (e->injected_kind < ARK_REASON_COUNT)
			ark_control_add(&counters->injected_allowed_by_reason[e->injected_kind], 1);
		ark_control_add(&ctx->control->errors, 1);
		ark_log(ctx->log, "error", "injected violation ALLOWED trace=%016llx kind=%s symbol=%s",
			(unsigned long long)e->trace_id, ark_reason_name((enum ark_reason)e->injected_kind), e->symbol);
	}
}

/* An intent's verdict in the counters and the log. */
static void count_intent(struct ark_agent_ctx *ctx, struct ark_hrm_state *s, const struct ark_event *e,
			 const struct ark_graveyard_decision *d)
{
	bool injected = (e->flags & ARK_EVENT_INJECTED) != 0;
	uint32_t sid = e->symbol_id < ARK_MAX_SYMBOLS ? e->symbol_id : ARK_MAX_SYMBOLS - 1;
	if (injected && e->lane == 0) {
		judge_injection(ctx, s, e, d, sid);
	} else if (d->verdict == ARK_VERDICT_DENY) {
		/* Whatever the cause (drift, quarantine and a corrupt state
		 * included): a run that denied a clean intent has failed. Those
		 * three deny everything, so they are logged once, elsewhere. */
		ark_control_add(&ctx->counters->clean_denied, 1);
		if (d->reason != ARK_REASON_ETHICS_DRIFT && d->reason != ARK_REASON_QUARANTINED &&
		    d->reason != ARK_REASON_STATE_CORRUPT)
			ark_log(ctx->log, "warn", "clean intent denied trace=%016llx symbol=%s reason=%s rule_line=%u%s",
				(unsigned long long)e->trace_id, e->symbol, ark_reason_name((enum ark_reason)d->reason),
				d->rule_id, injected ? " (injection setup step)" : "");
		if (injected && !s->injection_setup_denied[sid]) {
			ark_undo_save(ctx, &s->injection_setup_denied[sid], sizeof s->injection_setup_denied[sid]);
			s->injection_setup_denied[sid] = 1;
		}
	}
}

static void hrm_process(struct ark_agent_ctx *ctx, struct ark_event *e, uint64_t now_ns)
{
	struct ark_hrm_state *s = ctx->state;
	struct ark_pipeline_counters *counters = ctx->counters;
	bool report = (e->flags & ARK_EVENT_EXEC_REPORT) != 0;
	if (report && !book_by_reports) {
		/* No book kept by reports here: nothing to settle, no decision
		 * (a report's verdict stays its order's). */
		ark_undo_save(ctx, &s->last_seq, sizeof s->last_seq);
		s->last_seq = e->seq;
		return;
	}
	save_for_undo(ctx, e);
	s->last_seq = e->seq;
	bool quarantined = atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed) != 0;
	/* The wall clock: the market clock's ceiling and the trading day. */
	uint64_t wall = wall_base_ns + (now_ns - mono_base_ns);
	if (__builtin_expect(wall >= wall_next_day_ns, 0))
		ark_graveyard_trading_day(&s->rules.limits, zone, wall, &wall_day, &wall_next_day_ns);
	/* ARK's own synthetic generator runs its market clock ahead of the
	 * wall clock on purpose (it jumps past the rate windows between
	 * injections); every outside source is held to the wall clock. */
	const struct ark_graveyard_inputs inputs = {
		.clock_ceiling_ns = e->source == ARK_SOURCE_SYNTHETIC ? UINT64_MAX : wall,
		.fresh_ahead_ns = max_skew_ns,
		.trading_day = wall_day,
		.quarantined = quarantined,
		.confirm_by_reports = book_by_reports};
	if (report) {
		settle_report(ctx, s, e, &inputs);
		return;
	}
	if (ark_hrm_fault_poison)
		ark_hrm_fault_poison(&s->graveyard, e);
	struct ark_graveyard_decision d;
	decide(ctx, s, e, &inputs, &d);
	e->verdict = d.verdict;
	e->reason = d.reason;
	e->rule_id = d.rule_id;
	stamp(ctx, e);
	if (quarantined)
		e->flags |= ARK_EVENT_QUARANTINED;
	if (d.verdict == ARK_VERDICT_DENY) {
		ark_control_add(&counters->denials, 1);
		if (d.reason < ARK_REASON_COUNT)
			ark_control_add(&counters->denials_by_reason[d.reason], 1);
		if (d.reason == ARK_REASON_ETHICS_DRIFT)
			ark_control_add(&counters->ethics_drift, 1);
	}
	if (d.has_intent)
		count_intent(ctx, s, e, &d);
}

/* `ark release hrm` while HRM is halted for a corrupt state: recompute what
 * can be recomputed and clear the latch, or say why not. */
static void answer_release(struct ark_agent_ctx *ctx)
{
	struct ark_pipeline *p = ctx->pipeline;
	uint32_t request = atomic_load(&p->hrm_release_request);
	if (ctx->lane != ARK_LANE_STABLE || request == atomic_load(&p->hrm_release_answered))
		return;
	struct ark_hrm_state *s = ctx->state;
	struct ark_err err = {0};
	int rc = 0;
	if (!s->graveyard.state_corrupt) {
		snprintf(p->hrm_release_detail, sizeof p->hrm_release_detail, "HRM's state is not corrupt: nothing to release");
		rc = -EALREADY;
	} else {
		char was[64];
		snprintf(was, sizeof was, "%s", s->graveyard.corrupt_detail);
		rc = ark_graveyard_release_corrupt(&s->graveyard, &err);
		if (rc == 0) {
			snprintf(p->hrm_release_detail, sizeof p->hrm_release_detail,
				 "released: the state is finite again (was: %s); trading resumes", was);
			corrupt_logged = false;
			ark_log(ctx->log, "warn", "state_corrupt released by the operator (was: %s): trading resumes", was);
		} else {
			snprintf(p->hrm_release_detail, sizeof p->hrm_release_detail, "%.191s", err.msg);
			ark_log(ctx->log, "error", "state_corrupt release refused: %s", err.msg);
		}
	}
	publish_state(ctx);
	atomic_store(&p->hrm_release_status, rc);
	atomic_store(&p->hrm_release_answered, request);
}

static void hrm_idle(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	if (now_ns - last_drift_check_ns >= DRIFT_CHECK_NS)
		check_drift(ctx, now_ns);
	if (now_ns - mono_base_ns >= CLOCK_REBASE_NS)
		rebase_clock();
	answer_release(ctx);
}

static void hrm_stop(struct ark_agent_ctx *ctx)
{
	if (book_by_reports) {
		/* What the broker's reports left of HRM's book: orders still in
		 * flight count against the limits until a report settles them. */
		const struct ark_graveyard_state *g = &((struct ark_hrm_state *)ctx->state)->graveyard;
		double buy = 0, sell = 0;
		uint32_t symbols = 0;
		for (uint32_t i = 0; i < ARK_GRAVEYARD_MAX_SYMBOLS; i++) {
			const struct ark_graveyard_symbol *s = &g->symbols[i];
			if (s->known && (s->pending_buy > 0 || s->pending_sell > 0)) {
				buy += s->pending_buy;
				sell += s->pending_sell;
				symbols++;
			}
		}
		ark_log(ctx->log, symbols ? "warn" : "info", "book: reports_applied=%llu reports_held=%llu in_flight_buy=%g "
			"in_flight_sell=%g symbols_in_flight=%u", (unsigned long long)g->reports,
			(unsigned long long)g->reports_held, buy, sell, symbols);
	}
	ark_graveyard_zone_free(zone);
	zone = NULL;
}

const struct ark_agent_ops ark_hrm_ops = {
	.canary_lane = true,
	.preflight = hrm_preflight,
	.start = hrm_start,
	.process = hrm_process,
	.idle = hrm_idle,
	.stop = hrm_stop,
};
