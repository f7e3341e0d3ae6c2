/* tests/metrics/test_metrics_slo.c — the SLO engine on injected counts and
 * latencies over simulated time slices: attainment, error budget, burn rates
 * over 5m/30m/1h, states (ok, warning, violated) and the violations array;
 * a latency injection that turns the pass-latency SLO violated while the
 * longer burn windows lag; ethics drift; the published slo_* gauges and
 * Mutable Core rows; /slos JSON shape (jsmn); strict env parsing. */
#include "check.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#define SEC 1000000000ull
#define SLICE (10 * SEC)

struct fixture {
	void *mem;
	struct ark_metrics reg;
	struct ark_metrics_handle journaled, hrm_events, errors, breaks, drift;
	struct ark_metrics_hist_handle pass, hrm;
	uint64_t epoch;
};

static void setup(struct fixture *f)
{
	struct ark_metrics_config cfg;
	ark_metrics_config_default(&cfg);
	cfg.max_series = 256;
	cfg.max_families = 64;
	cfg.max_histograms = 4;
	cfg.max_windowed_counters = 64;
	cfg.retention_seconds = 3600;
	size_t size = ark_metrics_region_size(&cfg);
	f->mem = aligned_alloc(128, size);
	struct ark_err err;
	CHECK(ark_metrics_init(&f->reg, f->mem, size, &cfg, &err) == 0);
	CHECK(ark_metrics_counter(&f->reg, ARK_M_EVENTS, "e", "agent=\"aletheia\"", &f->journaled, &err) == 0);
	CHECK(ark_metrics_counter(&f->reg, ARK_M_EVENTS, "e", "agent=\"hrm\"", &f->hrm_events, &err) == 0);
	CHECK(ark_metrics_counter(&f->reg, ARK_M_ERRORS, "e", "agent=\"joey\"", &f->errors, &err) == 0);
	CHECK(ark_metrics_counter(&f->reg, ARK_M_TRACE_BREAKS, "b", NULL, &f->breaks, &err) == 0);
	CHECK(ark_metrics_counter(&f->reg, ARK_M_ETHICS_DRIFT, "d", NULL, &f->drift, &err) == 0);
	CHECK(ark_metrics_histogram(&f->reg, ARK_M_PASS_LATENCY, "p", NULL, &f->pass, &err) == 0);
	CHECK(ark_metrics_histogram(&f->reg, ARK_M_HRM_EVAL, "h", NULL, &f->hrm, &err) == 0);
	f->epoch = 777000;
	ark_metrics_tick(&f->reg, f->epoch * SLICE);
}

/* One 10 s slice of traffic, then the clock moves into the next slice. */
static void slice(struct fixture *f, uint64_t events, uint64_t errors, uint64_t breaks, uint64_t pass_fast,
		  uint64_t pass_ms_fast, uint64_t pass_slow, uint64_t pass_ms_slow, uint64_t hrm_fast, uint64_t hrm_slow)
{
	ark_metrics_counter_add(f->journaled, events);
	ark_metrics_counter_add(f->hrm_events, events);
	ark_metrics_counter_add(f->errors, errors);
	ark_metrics_counter_add(f->breaks, breaks);
	for (uint64_t i = 0; i < pass_fast; i++)
		ark_metrics_histogram_record_ns(f->pass, pass_ms_fast * 1000000);
	for (uint64_t i = 0; i < pass_slow; i++)
		ark_metrics_histogram_record_ns(f->pass, pass_ms_slow * 1000000);
	for (uint64_t i = 0; i < hrm_fast; i++)
		ark_metrics_histogram_record_ns(f->hrm, 1000000);
	for (uint64_t i = 0; i < hrm_slow; i++)
		ark_metrics_histogram_record_ns(f->hrm, 200000000);
	f->epoch++;
	CHECK_EQ_U64(ark_metrics_tick(&f->reg, f->epoch * SLICE + 3 * SEC), 1);
}

static bool near(double a, double b)
{
	return fabs(a - b) <= 1e-9 * (fabs(b) > 1 ? fabs(b) : 1);
}

static void test_math(void)
{
	struct fixture f;
	setup(&f);
	struct ark_metrics_slo_config cfg;
	ark_metrics_slo_config_default(&cfg);
	/* 40 slices: 1000 events, 1 error, 2 trace breaks; latency 96 at 50 ms and
	 * 4 at 500 ms; HRM 90 at 1 ms and 10 at 200 ms */
	for (int i = 0; i < 40; i++)
		slice(&f, 1000, 1, 2, 96, 50, 4, 500, 90, 10);
	struct ark_metrics_slo_report r;
	CHECK(ark_metrics_slos_evaluate(&f.reg, &cfg, &r) == 0);
	const struct ark_metrics_slo *av = &r.slos[0], *lat = &r.slos[1], *hrm = &r.slos[2], *dr = &r.slos[3];
	CHECK(strcmp(av->name, "availability") == 0);
	/* availability over 5 min = the last 30 slices */
	CHECK_EQ_U64(av->total, 30 * 1001);
	CHECK_EQ_U64(av->good, 30 * 1001 - 30 * 3);
	CHECK(near(av->attainment, 29940.0 / 30030.0));
	CHECK(near(av->value, av->attainment));
	CHECK(near(av->error_budget_remaining, 1 - (90.0 / 30030.0) / 0.005));
	CHECK(av->met && av->state == ARK_SLO_OK);
	CHECK(av->burn_count == 3);   /* 6h is beyond the 1 h retention */
	CHECK(av->burn_window_s[0] == 300 && av->burn_window_s[1] == 1800 && av->burn_window_s[2] == 3600);
	CHECK(near(av->burn_rate[0], (90.0 / 30030.0) / 0.005));
	CHECK(near(av->burn_rate[2], (120.0 / 40040.0) / 0.005));  /* all 40 slices */
	/* pass latency: p95 50 ms, 4 % slow of a 5 % budget */
	CHECK_EQ_U64(lat->total, 30 * 100);
	CHECK_EQ_U64(lat->good, 30 * 96);
	CHECK(fabs(lat->value - 50) <= 0.5);
	CHECK(lat->met);
	CHECK(near(lat->error_budget_remaining, 1 - 0.04 / 0.05));
	CHECK(near(lat->burn_rate[0], 0.8));
	CHECK_MSG(lat->state == ARK_SLO_WARNING, "state %d", lat->state);   /* 20 % budget left */
	/* HRM: 10 % slow: p95 200 ms > 120 ms */
	CHECK(fabs(hrm->value - 200) <= 2);
	CHECK(!hrm->met && hrm->state == ARK_SLO_VIOLATED);
	CHECK(near(hrm->attainment, 0.9));
	CHECK(hrm->error_budget_remaining == 0);
	CHECK(near(hrm->burn_rate[0], 2.0));
	/* drift */
	CHECK(dr->met && dr->value == 0 && dr->error_budget_remaining == 1 && dr->burn_rate[0] == 0);
	CHECK(r.violations == 1);

	/* JSON */
	struct ark_buf b;
	ark_buf_init(&b);
	CHECK(ark_metrics_slos_render_json(&r, &b) == 0);
	jsmntok_t t[1024];
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, b.data, b.len, t, 1024);
	CHECK_MSG(n > 0 && t[0].type == JSMN_OBJECT, "bad JSON: %s", b.data);
	int slos = -1, viol = -1;
	for (int i = 1; i < n; i++)
		if (t[i].parent == 0 && t[i].type == JSMN_STRING) {
			if (strncmp(b.data + t[i].start, "slos\"", 5) == 0)
				slos = i + 1;
			if (strncmp(b.data + t[i].start, "violations\"", 11) == 0)
				viol = i + 1;
		}
	CHECK(slos > 0 && t[slos].type == JSMN_ARRAY && t[slos].size == 4);
	CHECK(viol > 0 && t[viol].type == JSMN_ARRAY && t[viol].size == 1);
	CHECK_CONTAINS(b.data, "\"violations\":[{\"slo\":\"hrm_eval_p95\"");
	const char *fields[] = {"\"definition\":", "\"target\":", "\"window_seconds\":300", "\"good\":", "\"total\":",
				"\"attainment\":", "\"error_budget_remaining\":", "\"burn_rates\":{\"5m\":", "\"30m\":",
				"\"1h\":", "\"state\":\"warning\"", "\"state\":\"violated\"", "\"state\":\"ok\""};
	for (size_t i = 0; i < ARK_ARRAY_LEN(fields); i++)
		CHECK_CONTAINS(b.data, fields[i]);
	CHECK(strstr(b.data, "\"6h\"") == NULL);

	/* publish as gauges, then render */
	struct ark_err err;
	CHECK_MSG(ark_metrics_slos_publish(&f.reg, &r, &err) == 0, "%s", err.msg);
	uint32_t s;
	CHECK(ark_metrics_find(&f.reg, ARK_M_AVAILABILITY, NULL, &s) == 0);
	CHECK(near(ark_metrics_gauge_value(&f.reg, s), av->attainment));
	CHECK(ark_metrics_find(&f.reg, ARK_M_SLO_BUDGET, "slo=\"pass_latency_p95\"", &s) == 0);
	CHECK(near(ark_metrics_gauge_value(&f.reg, s), 0.2));
	CHECK(ark_metrics_find(&f.reg, ARK_M_SLO_BURN, "slo=\"hrm_eval_p95\",window=\"5m\"", &s) == 0);
	CHECK(near(ark_metrics_gauge_value(&f.reg, s), 2.0));
	CHECK(ark_metrics_find(&f.reg, ARK_M_SLO_OBJECTIVE, "slo=\"hrm_eval_p95\"", &s) == 0);
	CHECK(near(ark_metrics_gauge_value(&f.reg, s), 0.9));

	/* rows for the Mutable Core */
	struct ark_metrics_slo_row rows[8];
	CHECK(ark_metrics_slo_rows(&r, rows, 8) == 4);
	CHECK(strcmp(rows[1].name, "pass_latency_p95") == 0 && rows[1].target == 400 && rows[1].met);
	CHECK(strcmp(rows[2].name, "hrm_eval_p95") == 0 && rows[2].target == 120 && !rows[2].met);
	CHECK(rows[0].target == 0.995 && rows[0].window_seconds == 300);
	CHECK(ark_metrics_slo_rows(&r, rows, 2) == 2);

	/* latency injection: 5 minutes of 600 ms passes */
	for (int i = 0; i < 30; i++)
		slice(&f, 1000, 0, 0, 0, 0, 100, 600, 100, 0);
	CHECK(ark_metrics_slos_evaluate(&f.reg, &cfg, &r) == 0);
	CHECK(fabs(lat->value - 600) <= 6);
	CHECK(!lat->met && lat->state == ARK_SLO_VIOLATED);
	CHECK(lat->attainment == 0 && lat->error_budget_remaining == 0);
	CHECK(near(lat->burn_rate[0], 20.0));                 /* all bad */
	CHECK(lat->burn_rate[2] < lat->burn_rate[0]);          /* the hour still has the good 40 slices */
	CHECK(near(lat->burn_rate[2], ((160.0 + 3000.0) / 7000.0) / 0.05));
	CHECK(hrm->met && hrm->state != ARK_SLO_VIOLATED);     /* HRM recovered in the 5m window */
	CHECK(near(hrm->burn_rate[2], (400.0 / 7000.0) / 0.05));
	CHECK(av->met && av->attainment == 1.0);
	CHECK(r.violations == 1);
	ark_buf_reset(&b);
	CHECK(ark_metrics_slos_render_json(&r, &b) == 0);
	CHECK_CONTAINS(b.data, "\"violations\":[{\"slo\":\"pass_latency_p95\"");

	/* availability drop and ethics drift */
	slice(&f, 1000, 200, 0, 100, 1, 0, 0, 100, 0);
	ark_metrics_counter_add(f.drift, 1);
	CHECK(ark_metrics_slos_evaluate(&f.reg, &cfg, &r) == 0);
	CHECK(!av->met && av->state == ARK_SLO_VIOLATED);
	CHECK_EQ_U64(av->total, 30 * 1000 + 200);
	CHECK_EQ_U64(av->good, 30000);
	CHECK(!dr->met && dr->value == 1 && dr->error_budget_remaining == 0 && isinf(dr->burn_rate[0]));
	CHECK(r.violations == 3);
	ark_buf_reset(&b);
	CHECK(ark_metrics_slos_render_json(&r, &b) == 0);
	jsmn_init(&p);
	CHECK(jsmn_parse(&p, b.data, b.len, t, 1024) > 0);   /* +Inf burn rate written as null */
	CHECK_CONTAINS(b.data, "\"5m\":null");
	CHECK(ark_metrics_slos_publish(&f.reg, &r, &err) == 0);
	ark_buf_reset(&b);
	CHECK(ark_metrics_render_prometheus(&f.reg, &b) == 0);
	CHECK_CONTAINS(b.data, "slo_burn_rate{slo=\"ethics_drift\",window=\"5m\"} +Inf\n");
	CHECK_CONTAINS(b.data, "ark_availability ");
	ark_buf_free(&b);

	/* a stricter configured target changes the verdict on the same data */
	cfg.availability_target = 0.9999;
	cfg.hrm_p95_ms = 0.5;
	CHECK(ark_metrics_slos_evaluate(&f.reg, &cfg, &r) == 0);
	CHECK(!hrm->met);
	free(f.mem);
}

static void test_empty(void)
{
	struct fixture f;
	setup(&f);
	struct ark_metrics_slo_config cfg;
	ark_metrics_slo_config_default(&cfg);
	struct ark_metrics_slo_report r;
	CHECK(ark_metrics_slos_evaluate(&f.reg, &cfg, &r) == 0);
	for (int i = 0; i < ARK_METRICS_SLO_COUNT; i++) {
		CHECK(r.slos[i].total == 0 && r.slos[i].met && r.slos[i].attainment == 1);
		CHECK(r.slos[i].state == ARK_SLO_OK && r.slos[i].error_budget_remaining == 1);
	}
	CHECK(r.violations == 0);
	free(f.mem);
}

static void expect_env_error(const char *var, const char *value, bool slo)
{
	setenv(var, value, 1);
	struct ark_err err = {0};
	int rc;
	if (slo) {
		struct ark_metrics_slo_config c;
		rc = ark_metrics_slo_config_from_env(&c, &err);
	} else {
		struct ark_metrics_config c;
		rc = ark_metrics_config_from_env(&c, &err);
	}
	CHECK_MSG(rc < 0, "%s=%s accepted", var, value);
	CHECK_CONTAINS(err.msg, var);
	unsetenv(var);
}

static void test_env(void)
{
	struct ark_err err;
	struct ark_metrics_slo_config c;
	struct ark_metrics_config m;
	unsetenv("SLO_AVAILABILITY_TARGET");
	unsetenv("SLO_P95_LATENCY_MS");
	unsetenv("METRICS_RETENTION_SECONDS");
	unsetenv("METRICS_SLICE_SECONDS");
	CHECK(ark_metrics_slo_config_from_env(&c, &err) == 0);
	CHECK(c.availability_target == 0.995 && c.p95_latency_ms == 400 && c.hrm_p95_ms == 120 && c.window_seconds == 300);
	CHECK(ark_metrics_config_from_env(&m, &err) == 0);
	CHECK(m.retention_seconds == 3600 && m.slice_seconds == 10);
	setenv("SLO_AVAILABILITY_TARGET", "0.999", 1);
	setenv("SLO_P95_LATENCY_MS", "250.5", 1);
	setenv("METRICS_RETENTION_SECONDS", "7200", 1);
	CHECK(ark_metrics_slo_config_from_env(&c, &err) == 0);
	CHECK(c.availability_target == 0.999 && c.p95_latency_ms == 250.5);
	CHECK(ark_metrics_config_from_env(&m, &err) == 0 && m.retention_seconds == 7200);
	unsetenv("SLO_AVAILABILITY_TARGET");
	unsetenv("SLO_P95_LATENCY_MS");
	unsetenv("METRICS_RETENTION_SECONDS");
	const char *bad_target[] = {"abc", "1", "0", "1.5", "-0.1", " 0.99", "0.99x", "nan"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_target); i++)
		expect_env_error("SLO_AVAILABILITY_TARGET", bad_target[i], true);
	const char *bad_latency[] = {"-5", "0", "400ms", "fast", "1e9"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_latency); i++)
		expect_env_error("SLO_P95_LATENCY_MS", bad_latency[i], true);
	expect_env_error("SLO_HRM_P95_MS", "x", true);
	expect_env_error("SLO_WINDOW_SECONDS", "5m", true);
	const char *bad_retention[] = {"10", "3600x", "-1", "1h", "99999999999"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_retention); i++)
		expect_env_error("METRICS_RETENTION_SECONDS", bad_retention[i], false);
	expect_env_error("METRICS_SLICE_SECONDS", "0", false);
	expect_env_error("METRICS_SLICE_SECONDS", "7200", false);   /* longer than the retention */
}

int main(void)
{
	test_empty();
	test_math();
	test_env();
	printf("metrics SLOs: OK\n");
	return 0;
}
