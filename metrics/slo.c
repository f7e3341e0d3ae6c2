/* metrics/slo.c — the SLO engine: the seed's four objectives computed from
 * the registry's windowed counters and histograms, their error budgets and
 * burn rates, /slos JSON, the slo_* gauges and the Mutable Core rows.
 *
 * Definitions (README carries the same text):
 *  availability      total = events Aletheia journaled (ark_events_total{agent="aletheia"})
 *                            + events any agent failed (sum of ark_errors_total);
 *                    bad   = sum of ark_errors_total + ark_trace_breaks_total
 *                            (a journaled event with an incomplete trace is bad);
 *                    good  = total - bad. Target SLO_AVAILABILITY_TARGET (0.995).
 *  pass_latency_p95  total = ark_pass_latency_ms observations, good = those at most
 *                    SLO_P95_LATENCY_MS (400); met when p95 <= 400 ms, i.e. good/total >= 0.95.
 *  hrm_eval_p95      the same on hrm_eval_ms with SLO_HRM_P95_MS (120).
 *  ethics_drift      total = ark_events_total{agent="hrm"}, bad = ark_ethics_drift_total;
 *                    met only when the drift is exactly 0 (target ratio 1, no budget).
 * All over SLO_WINDOW_SECONDS (300). With no traffic an SLO is met (attainment 1).
 * Invariant: everything here is read-only on the registry except publish(),
 * whose gauges the evaluating process alone writes. */
#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ark_metrics_slo_config_default(struct ark_metrics_slo_config *c)
{
	c->availability_target = 0.995;
	c->p95_latency_ms = 400;
	c->hrm_p95_ms = 120;
	c->window_seconds = 300;
}

static int env_double(const char *name, double dflt, double min, double max, double *out, struct ark_err *err)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		*out = dflt;
		return 0;
	}
	return ark_parse_double(v, min, max, name, out, err);
}

int ark_metrics_slo_config_from_env(struct ark_metrics_slo_config *c, struct ark_err *err)
{
	ark_metrics_slo_config_default(c);
	int rc = env_double("SLO_AVAILABILITY_TARGET", 0.995, 0.0, 1.0, &c->availability_target, err);
	if (rc)
		return rc;
	if (!(c->availability_target > 0 && c->availability_target < 1))
		return ark_err_set(err, -ERANGE, "SLO_AVAILABILITY_TARGET: expected a ratio strictly between 0 and 1, got '%s'",
				   getenv("SLO_AVAILABILITY_TARGET"));
	if ((rc = env_double("SLO_P95_LATENCY_MS", 400, 0.001, 100000, &c->p95_latency_ms, err)) ||
	    (rc = env_double("SLO_HRM_P95_MS", 120, 0.001, 100000, &c->hrm_p95_ms, err)) ||
	    (rc = ark_env_u64("SLO_WINDOW_SECONDS", 300, 1, 604800, &c->window_seconds, err)))
		return rc;
	return 0;
}

static const char *burn_label(uint64_t s)
{
	switch (s) {
	case 300: return "5m";
	case 1800: return "30m";
	case 3600: return "1h";
	case 21600: return "6h";
	default: return "?";
	}
}

struct counts {
	uint64_t good, total;
	double value;
};

static struct counts availability(const struct ark_metrics *reg, uint64_t w)
{
	uint64_t journaled = ark_metrics_family_window(reg, ARK_M_EVENTS, "agent=\"aletheia\"", w);
	uint64_t errors = ark_metrics_family_window(reg, ARK_M_ERRORS, NULL, w);
	uint64_t breaks = ark_metrics_family_window(reg, ARK_M_TRACE_BREAKS, NULL, w);
	struct counts c;
	c.total = journaled + errors;
	uint64_t bad = errors + breaks;
	if (bad > c.total)
		bad = c.total;
	c.good = c.total - bad;
	c.value = c.total ? (double)c.good / (double)c.total : 1.0;
	return c;
}

static struct counts latency(const struct ark_metrics *reg, const char *name, double threshold_ms, uint64_t w,
			     struct ark_metrics_hist_view *view)
{
	struct counts c = {0, 0, 0};
	uint32_t s;
	if (ark_metrics_find(reg, name, NULL, &s) != 0 || ark_metrics_histogram_window(reg, s, w, view) != 0)
		return c;
	c.total = view->count;
	c.good = ark_metrics_view_count_le(view, threshold_ms * 1e6);
	c.value = ark_metrics_view_quantile_ns(view, 0.95) / 1e6;
	return c;
}

static struct counts drift(const struct ark_metrics *reg, uint64_t w)
{
	uint64_t decisions = ark_metrics_family_window(reg, ARK_M_EVENTS, "agent=\"hrm\"", w);
	uint64_t bad = ark_metrics_family_window(reg, ARK_M_ETHICS_DRIFT, NULL, w);
	struct counts c;
	c.total = decisions > bad ? decisions : bad;
	c.good = c.total - bad;
	c.value = (double)bad;
	return c;
}

static struct counts measure(const struct ark_metrics *reg, const struct ark_metrics_slo_config *cfg, int which,
			     uint64_t w, struct ark_metrics_hist_view *view)
{
	switch (which) {
	case 0: return availability(reg, w);
	case 1: return latency(reg, ARK_M_PASS_LATENCY, cfg->p95_latency_ms, w, view);
	case 2: return latency(reg, ARK_M_HRM_EVAL, cfg->hrm_p95_ms, w, view);
	default: return drift(reg, w);
	}
}

static double burn(const struct counts *c, double target)
{
	if (c->total == 0)
		return 0;
	double bad_ratio = (double)(c->total - c->good) / (double)c->total;
	if (target >= 1)
		return bad_ratio > 0 ? INFINITY : 0;
	return bad_ratio / (1 - target);
}

int ark_metrics_slos_evaluate(const struct ark_metrics *reg, const struct ark_metrics_slo_config *cfg,
			      struct ark_metrics_slo_report *r)
{
	struct ark_metrics_hist_view *view = malloc(sizeof *view);
	if (!view)
		return -ENOMEM;
	memset(r, 0, sizeof *r);
	r->evaluated_epoch = ark_metrics_epoch(reg);
	uint64_t retention = reg->hdr->cfg.retention_seconds;
	static const char *const names[4] = {"availability", "pass_latency_p95", "hrm_eval_p95", "ethics_drift"};
	static const char *const units[4] = {"ratio", "ms", "ms", "events"};
	const char *definitions[4] = {
		"good = events journaled with a complete trace and no agent error; bad = agent errors (ark_errors_total) + trace breaks (ark_trace_breaks_total); total = events journaled by Aletheia + agent errors",
		"p95 of ark_pass_latency_ms within the threshold: good = events at most the threshold, total = all events",
		"p95 of hrm_eval_ms within the threshold: good = evaluations at most the threshold, total = all evaluations",
		"no ethics drift: bad = ark_ethics_drift_total, total = HRM decisions (ark_events_total{agent=\"hrm\"}); met only at exactly 0",
	};
	const double targets[4] = {cfg->availability_target, 0.95, 0.95, 1.0};
	const double thresholds[4] = {cfg->availability_target, cfg->p95_latency_ms, cfg->hrm_p95_ms, 0};
	for (int i = 0; i < ARK_METRICS_SLO_COUNT; i++) {
		struct ark_metrics_slo *s = &r->slos[i];
		s->name = names[i];
		s->definition = definitions[i];
		s->unit = units[i];
		s->target = targets[i];
		s->threshold = thresholds[i];
		s->window_seconds = cfg->window_seconds;
		struct counts c = measure(reg, cfg, i, cfg->window_seconds, view);
		s->good = c.good;
		s->total = c.total;
		s->value = c.value;
		s->attainment = c.total ? (double)c.good / (double)c.total : 1.0;
		double bad = c.total ? (double)(c.total - c.good) / (double)c.total : 0;
		if (i == 3) {
			s->met = c.good == c.total;
			s->error_budget_remaining = s->met ? 1 : 0;
		} else if (i == 0) {
			s->met = s->attainment >= s->target;
			s->error_budget_remaining = 1 - bad / (1 - s->target);
		} else {
			s->met = c.total == 0 || c.value <= s->threshold;
			s->error_budget_remaining = 1 - bad / (1 - s->target);
		}
		if (s->error_budget_remaining < 0)
			s->error_budget_remaining = 0;
		if (s->error_budget_remaining > 1)
			s->error_budget_remaining = 1;
		double burn_1h = -1;
		for (int b = 0; b < ARK_METRICS_BURN_WINDOWS; b++) {
			if (ARK_METRICS_BURN_WINDOW_S[b] > retention)
				break;
			struct counts bc = measure(reg, cfg, i, ARK_METRICS_BURN_WINDOW_S[b], view);
			s->burn_window_s[s->burn_count] = ARK_METRICS_BURN_WINDOW_S[b];
			s->burn_rate[s->burn_count] = burn(&bc, s->target);
			if (ARK_METRICS_BURN_WINDOW_S[b] == 3600)
				burn_1h = s->burn_rate[s->burn_count];
			s->burn_count++;
		}
		if (!s->met)
			s->state = ARK_SLO_VIOLATED;
		else if (s->error_budget_remaining < 0.25 || burn_1h >= 14.4)
			s->state = ARK_SLO_WARNING;
		else
			s->state = ARK_SLO_OK;
		if (s->state == ARK_SLO_VIOLATED)
			r->violations++;
	}
	free(view);
	return 0;
}

static const char *state_name(enum ark_metrics_slo_state s)
{
	return s == ARK_SLO_OK ? "ok" : s == ARK_SLO_WARNING ? "warning" : "violated";
}

/* Through the one JSON writer (common/): non-finite numbers are null, text
 * is escaped and valid UTF-8. */
int ark_metrics_slos_render_json(const struct ark_metrics_slo_report *r, struct ark_buf *b)
{
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, b);
	ark_json_object_begin(&j, NULL);
	ark_json_uint(&j, "evaluated_epoch", r->evaluated_epoch);
	ark_json_array_begin(&j, "slos");
	for (int i = 0; i < ARK_METRICS_SLO_COUNT; i++) {
		const struct ark_metrics_slo *s = &r->slos[i];
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "name", s->name);
		ark_json_string(&j, "definition", s->definition);
		ark_json_string(&j, "unit", s->unit);
		ark_json_number(&j, "target", s->target);
		ark_json_number(&j, "threshold", s->threshold);
		ark_json_number(&j, "value", s->value);
		ark_json_uint(&j, "window_seconds", s->window_seconds);
		ark_json_uint(&j, "good", s->good);
		ark_json_uint(&j, "total", s->total);
		ark_json_number(&j, "attainment", s->attainment);
		ark_json_number(&j, "error_budget_remaining", s->error_budget_remaining);
		ark_json_bool(&j, "met", s->met);
		ark_json_string(&j, "state", state_name(s->state));
		ark_json_object_begin(&j, "burn_rates");
		for (int w = 0; w < s->burn_count; w++)
			ark_json_number(&j, burn_label(s->burn_window_s[w]), s->burn_rate[w]);
		ark_json_object_end(&j);
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	ark_json_array_begin(&j, "violations");
	for (int i = 0; i < ARK_METRICS_SLO_COUNT; i++) {
		const struct ark_metrics_slo *s = &r->slos[i];
		if (s->state != ARK_SLO_VIOLATED)
			continue;
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "slo", s->name);
		ark_json_number(&j, "threshold", s->threshold);
		ark_json_number(&j, "value", s->value);
		ark_json_number(&j, "attainment", s->attainment);
		ark_json_number(&j, "target", s->target);
		ark_json_uint(&j, "window_seconds", s->window_seconds);
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	if (r->trading_state[0]) {
		ark_json_object_begin(&j, "trading");
		ark_json_string(&j, "state", r->trading_state);
		ark_json_string(&j, "halt_cause", r->halt_cause);
		ark_json_string(&j, "detail", r->halt_detail);
		ark_json_object_end(&j);
	}
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return b->failed ? -ENOMEM : 0;
}

int ark_metrics_slos_publish(struct ark_metrics *reg, const struct ark_metrics_slo_report *r, struct ark_err *err)
{
	struct ark_metrics_handle h;
	int rc = ark_metrics_gauge(reg, ARK_M_AVAILABILITY, ark_metrics_def_find(ARK_M_AVAILABILITY)->help, NULL, &h, err);
	if (rc)
		return rc;
	ark_metrics_gauge_set(h, r->slos[0].attainment);
	for (int i = 0; i < ARK_METRICS_SLO_COUNT; i++) {
		const struct ark_metrics_slo *s = &r->slos[i];
		char labels[128];
		snprintf(labels, sizeof labels, "slo=\"%s\"", s->name);
		if ((rc = ark_metrics_gauge(reg, ARK_M_SLO_OBJECTIVE, ark_metrics_def_find(ARK_M_SLO_OBJECTIVE)->help, labels, &h, err)))
			return rc;
		ark_metrics_gauge_set(h, s->attainment);
		if ((rc = ark_metrics_gauge(reg, ARK_M_SLO_BUDGET, ark_metrics_def_find(ARK_M_SLO_BUDGET)->help, labels, &h, err)))
			return rc;
		ark_metrics_gauge_set(h, s->error_budget_remaining);
		for (int w = 0; w < s->burn_count; w++) {
			snprintf(labels, sizeof labels, "slo=\"%s\",window=\"%s\"", s->name, burn_label(s->burn_window_s[w]));
			if ((rc = ark_metrics_gauge(reg, ARK_M_SLO_BURN, ark_metrics_def_find(ARK_M_SLO_BURN)->help, labels, &h, err)))
				return rc;
			ark_metrics_gauge_set(h, s->burn_rate[w]);
		}
	}
	return 0;
}

int ark_metrics_slo_rows(const struct ark_metrics_slo_report *r, struct ark_metrics_slo_row *rows, int max)
{
	int n = 0;
	for (int i = 0; i < ARK_METRICS_SLO_COUNT && n < max; i++, n++) {
		rows[n].name = r->slos[i].name;
		rows[n].target = r->slos[i].threshold;
		rows[n].value = r->slos[i].value;
		rows[n].window_seconds = r->slos[i].window_seconds;
		rows[n].met = r->slos[i].met;
	}
	return n;
}
