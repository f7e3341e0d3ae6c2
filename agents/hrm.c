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
 * limit, not a Graveyard line) before it reaches the broker. */
#include "agents/agents_internal.h"

#include <stdlib.h>
#include <string.h>

#define DRIFT_CHECK_NS (100ull * 1000 * 1000)

static uint64_t last_drift_check_ns;
static struct ark_metrics metrics;
static struct ark_metrics_hist_handle eval_metric;
static bool metrics_on;
static struct ark_order_book *order_book;
/* The rules this HRM gates by and the hash they must keep: the instance's
 * installed Graveyard, or for the canary lane the rules its configuration
 * names (ARK_GRAVEYARD_RULES), held to the hash they had when it started. */
static const char *rules_path;
static const char *rules_hash;

/* A test seam, absent from `ark`: the fault-injection build of the tests
 * (tests/faults/) defines it to let one rule kind through, so that the
 * synthetic loop's criteria are shown to catch a gate that fails open. */
bool ark_hrm_fault_allows(enum ark_reason reason) __attribute__((weak));

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

static int hrm_start(struct ark_agent_ctx *ctx, struct ark_err *err)
{
	struct ark_hrm_state *s = ctx->state;
	static char canary_rules[ARK_GRAVEYARD_PATH_MAX];
	rules_path = ctx->pipeline->rules_path;
	rules_hash = ctx->pipeline->rules_hash[0] ? ctx->pipeline->rules_hash : NULL;
	if (ctx->lane == ARK_LANE_CANARY) {
		int rc = ark_graveyard_installed_path(canary_rules, sizeof canary_rules, err);
		if (rc)
			return rc;
		rules_path = canary_rules;
	}
	/* The canary lane's configuration may change under it (a rollback
	 * replaces the canary's with the stable one): other rules, compiled
	 * afresh, with their own windows. */
	bool other_rules = ctx->lane == ARK_LANE_CANARY && s->rules.file_sha256_hex[0] && strcmp(s->rules.path, rules_path) != 0;
	if (other_rules)
		ark_log(ctx->log, "warn", "the lane's rules changed from %s to %s: compiling them afresh", s->rules.path, rules_path);
	if (s->rules.file_sha256_hex[0] == '\0' || other_rules) {
		/* First start of this run: compile the installed rules into the
		 * segment. A restart keeps the table it had (drift is judged
		 * against it, not against whatever the file says now). */
		int rc = ark_graveyard_load(rules_path, &s->rules, err);
		if (rc)
			return rc;
	}
	if (ctx->lane == ARK_LANE_CANARY) {
		/* Held to the hash the watchdog recorded when the canary started
		 * (what promote checks): rules edited after that are drift. */
		const char *expected = getenv("ARK_CANARY_RULES_SHA256");
		rules_hash = expected && *expected ? expected : s->rules.file_sha256_hex;
	}
	if (!ark_graveyard_state_matches(&s->graveyard, &s->rules)) {
		ark_graveyard_state_init(&s->graveyard, &s->rules);
		ark_hist_reset(&s->eval_ns);
	}
	check_drift(ctx, ark_now_ns());
	order_book = ark_agent_region(ctx, "state.orders");
	struct ark_err merr = {0};
	/* hrm_eval_ms has one writer, the stable HRM; the canary's time per
	 * evaluation is in its own state (eval_ns). */
	metrics_on = ctx->lane == ARK_LANE_STABLE && ark_pipeline_metrics(&ctx->map, &metrics, &merr) == 0 &&
		     ark_metrics_histogram(&metrics, ARK_M_HRM_EVAL, NULL, NULL, &eval_metric, &merr) == 0;
	if (!metrics_on && ctx->lane == ARK_LANE_STABLE)
		ark_log(ctx->log, "warn", "hrm_eval_ms metric off: %s", merr.msg);
	ark_log(ctx->log, "info", "rules=%s sha256=%s trading_state=%s drift=%u", rules_path,
		s->rules.file_sha256_hex,
		ark_trading_state_name((enum ark_trading_state)s->graveyard.trading_state),
		(unsigned)atomic_load(&s->graveyard.drift.latched));
	return 0;
}

/* Save what one evaluation can change: the state's scalars, the overall rate
 * window's next slot, and the event's symbol. */
static void save_for_undo(struct ark_agent_ctx *ctx, const struct ark_event *e)
{
	struct ark_hrm_state *s = ctx->state;
	struct ark_graveyard_state *g = &s->graveyard;
	ark_undo_save(ctx, s, offsetof(struct ark_hrm_state, rules));
	ark_undo_save(ctx, g, offsetof(struct ark_graveyard_state, drift));
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

static void hrm_process(struct ark_agent_ctx *ctx, struct ark_event *e, uint64_t now_ns)
{
	(void)now_ns;
	struct ark_hrm_state *s = ctx->state;
	struct ark_pipeline_counters *counters = ctx->counters;
	if (e->flags & ARK_EVENT_EXEC_REPORT) {
		/* A broker's report on an order HRM allowed: no market data, no
		 * decision (its verdict stays the order's). */
		ark_undo_save(ctx, &s->last_seq, sizeof s->last_seq);
		s->last_seq = e->seq;
		return;
	}
	save_for_undo(ctx, e);
	s->last_seq = e->seq;
	bool quarantined = atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed) != 0;
	struct ark_graveyard_decision d;
	uint64_t t0 = ark_now_ns();
	if (beyond_buying_power(s, e)) {
		/* The market clock and marks still advance; the intent is not
		 * counted as allowed anywhere in the Graveyard's view. */
		struct ark_event no_intent = *e;
		no_intent.side = ARK_SIDE_NONE;
		ark_graveyard_evaluate(&s->rules, &s->graveyard, &no_intent, quarantined, &d);
		if (d.verdict == ARK_VERDICT_ALLOW) {
			d.verdict = ARK_VERDICT_DENY;
			d.reason = ARK_REASON_MAX_NOTIONAL;
			d.rule_id = 0;
			s->buying_power_denials++;
			ark_log(ctx->log, "warn", "intent beyond the broker's buying power trace=%016llx symbol=%s notional=%.2f "
				"left=%.2f", (unsigned long long)e->trace_id, e->symbol, e->quantity * e->limit_price,
				buying_power_left(s));
		}
		d.has_intent = true;
	} else {
		ark_graveyard_evaluate(&s->rules, &s->graveyard, e, quarantined, &d);
		if (d.verdict == ARK_VERDICT_ALLOW && d.has_intent && e->side == ARK_SIDE_BUY && s->buying_power_version)
			s->buying_power_spent += e->quantity * e->limit_price;
	}
	if (ark_hrm_fault_allows && d.verdict == ARK_VERDICT_DENY && ark_hrm_fault_allows((enum ark_reason)d.reason))
		d.verdict = ARK_VERDICT_ALLOW, d.reason = ARK_REASON_NONE, d.rule_id = 0;
	uint64_t spent = ark_now_ns() - t0;
	ark_hist_record(&s->eval_ns, spent);
	if (metrics_on)
		ark_metrics_histogram_record_ns(eval_metric, spent);
	e->verdict = d.verdict;
	e->reason = d.reason;
	e->rule_id = d.rule_id;
	if (quarantined)
		e->flags |= ARK_EVENT_QUARANTINED;
	if (d.verdict == ARK_VERDICT_DENY) {
		ark_control_add(&counters->denials, 1);
		if (d.reason < ARK_REASON_COUNT)
			ark_control_add(&counters->denials_by_reason[d.reason], 1);
		if (d.reason == ARK_REASON_ETHICS_DRIFT)
			ark_control_add(&counters->ethics_drift, 1);
	}
	if (!d.has_intent)
		return;
	bool injected = (e->flags & ARK_EVENT_INJECTED) != 0;
	uint32_t sid = e->symbol_id < ARK_MAX_SYMBOLS ? e->symbol_id : ARK_MAX_SYMBOLS - 1;
	if (injected && e->lane == 0) {
		bool setup_denied = s->injection_setup_denied[sid] != 0;
		if (setup_denied) {
			ark_undo_save(ctx, &s->injection_setup_denied[sid], 1);
			s->injection_setup_denied[sid] = 0;
		}
		if (d.verdict == ARK_VERDICT_DENY && d.reason == e->injected_kind) {
			ark_control_add(&counters->injected_denied, 1);
		} else if (d.verdict == ARK_VERDICT_DENY) {
			ark_control_add(&counters->injected_wrong_reason, 1);
			if (d.reason != ARK_REASON_ETHICS_DRIFT && d.reason != ARK_REASON_QUARANTINED)
				ark_log(ctx->log, "warn", "injected violation denied for another reason trace=%016llx kind=%s reason=%s",
					(unsigned long long)e->trace_id, ark_reason_name((enum ark_reason)e->injected_kind),
					ark_reason_name((enum ark_reason)d.reason));
		} else if (setup_denied) {
			ark_control_add(&counters->injected_inconclusive, 1);
			ark_log(ctx->log, "warn", "injected violation allowed after its setup was denied (inconclusive) trace=%016llx "
				"kind=%s symbol=%s", (unsigned long long)e->trace_id,
				ark_reason_name((enum ark_reason)e->injected_kind), e->symbol);
		} else {
			/* Counted in this lane's counters, by kind: a canary lane
			 * that lets one through is rolled back at once. */
			ark_control_add(&counters->injected_allowed, 1);
			if (e->injected_kind < ARK_REASON_COUNT)
				ark_control_add(&counters->injected_allowed_by_reason[e->injected_kind], 1);
			ark_control_add(&ctx->control->errors, 1);
			ark_log(ctx->log, "error", "injected violation ALLOWED trace=%016llx kind=%s symbol=%s",
				(unsigned long long)e->trace_id, ark_reason_name((enum ark_reason)e->injected_kind), e->symbol);
		}
	} else if (d.verdict == ARK_VERDICT_DENY && d.reason != ARK_REASON_ETHICS_DRIFT &&
		   d.reason != ARK_REASON_QUARANTINED) {
		ark_control_add(&counters->clean_denied, 1);
		ark_log(ctx->log, "warn", "clean intent denied trace=%016llx symbol=%s reason=%s rule_line=%u%s",
			(unsigned long long)e->trace_id, e->symbol, ark_reason_name((enum ark_reason)d.reason), d.rule_id,
			injected ? " (injection setup step)" : "");
		if (injected && !s->injection_setup_denied[sid]) {
			ark_undo_save(ctx, &s->injection_setup_denied[sid], 1);
			s->injection_setup_denied[sid] = 1;
		}
	}
}

static void hrm_idle(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	if (now_ns - last_drift_check_ns >= DRIFT_CHECK_NS)
		check_drift(ctx, now_ns);
}

const struct ark_stage_ops ark_hrm_ops = {
	.start = hrm_start,
	.process = hrm_process,
	.idle = hrm_idle,
};
