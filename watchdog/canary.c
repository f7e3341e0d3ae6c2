/* watchdog/canary.c — the canary lane's supervision: when its Joey, HRM and
 * Kenny run, Kyle is told to send them `percent` of the events; every check
 * interval (a minute) the seed's tripwires are judged from what Aletheia
 * counted per lane; a tripwire rolls the canary back, a clean window passes it.
 *
 * Tripwires:
 *   - denials: the canary's HRM denial rate over the interval is above the
 *     stable lane's baseline (the mean of its per-interval rates) by more
 *     than `sigma` standard deviations (the larger of the baseline's own
 *     spread and the binomial spread of the canary's sample) — or below it
 *     by as much: a canary that denies less than stable has loosened the
 *     gate;
 *   - an injected violation the canary's HRM allowed: at once, at the next
 *     poll, not at the next check (HRM counts each lane's injected outcomes
 *     in that lane's counters);
 *   - quarantine: the watchdog quarantined any agent during the window;
 *   - latency: the canary lane's p95 (Kyle in → Kenny out) over the
 *     interval is above SLO_P95_LATENCY_MS for `slow_checks` intervals in a row;
 *   - a canary process that dies (or cannot start) rolls it back at once.
 *
 * Ending (rolled back or passed) never loses or doubles an event: Kyle stops
 * routing at a batch boundary and says so (route_applied); what is already in
 * the lane's rings is processed there (after a rollback by the lane's
 * processes restarted with the stable configuration and binary: crash-only
 * recovery makes that a restart like any other) and merged by Aletheia in
 * seq order; only then are the lane's processes told to stop. The outcome
 * goes to the segment (metrics, `ark canary status`), watchdog.log and the
 * Mutable Core (canary_runs, and metadata `canary_last` for `ark canary
 * promote`), with the SHA-256 of the env file, binary and rules the canary
 * started with: promote refuses anything that hashes otherwise now. */
#include "watchdog/internal.h"

#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CANARY_START_TIMEOUT_NS (30ull * 1000 * 1000 * 1000)
#define CANARY_MAX_SAMPLES 4096
#define CANARY_MIN_EVENTS 20   /* fewer canary events in an interval: no denial verdict */

enum phase { PHASE_STARTING, PHASE_RUNNING, PHASE_ENDING, PHASE_DONE };

struct ark_canary_run {
	struct ark_canary_config config;
	enum phase phase;
	bool rolled_back;
	bool stable_config;          /* the lane's processes run the stable configuration now */
	uint64_t begin_ns;           /* CLOCK_MONOTONIC: the lane was asked to start */
	uint64_t routed_ns;          /* routing began */
	uint64_t window_end_ns;
	uint64_t next_check_ns;
	uint64_t quarantines_at_start;
	uint32_t slow_in_a_row;
	double last_p95_ms;
	struct ark_lane_stats prev[ARK_LANE_COUNT];
	struct ark_lane_stats delta;  /* scratch */
	double stable_rates[CANARY_MAX_SAMPLES];
	uint32_t stable_samples;
	uint64_t canary_events_at_start;
	uint64_t injected_allowed_at_start[ARK_REASON_COUNT];   /* the canary lane's, by kind */
};

int ark_canary_config_from_env(struct ark_canary_config *config, struct ark_err *err)
{
	memset(config, 0, sizeof *config);
	uint64_t percent;
	int rc = ark_env_u64("ARK_CANARY_PERCENT", 10, 1, 100, &percent, err);
	if (rc)
		return rc;
	config->percent = (uint32_t)percent;
	const char *v = getenv("ARK_CANARY_WINDOW");
	config->window_ns = 600ull * 1000 * 1000 * 1000;
	if (v && *v && (rc = ark_parse_duration_ns(v, 1000ull * 1000 * 1000, "ARK_CANARY_WINDOW", &config->window_ns, err)))
		return rc;
	v = getenv("ARK_CANARY_CHECK_INTERVAL");
	config->check_ns = 60ull * 1000 * 1000 * 1000;
	if (v && *v && (rc = ark_parse_duration_ns(v, 1000ull * 1000 * 1000, "ARK_CANARY_CHECK_INTERVAL", &config->check_ns, err)))
		return rc;
	if (config->check_ns < 100ull * 1000 * 1000 || config->window_ns < config->check_ns)
		return ark_err_set(err, -EINVAL,
				   "ARK_CANARY_CHECK_INTERVAL must be at least 100ms and ARK_CANARY_WINDOW at least one interval");
	config->slow_checks = 3;
	config->sigma = 3.0;
	config->p95_slo_ms = 400;
	v = getenv("SLO_P95_LATENCY_MS");
	if (v && *v && (rc = ark_parse_double(v, 0.001, 100000, "SLO_P95_LATENCY_MS", &config->p95_slo_ms, err)))
		return rc;
	v = getenv("ARK_CANARY_BIN");
	if (v && *v) {
		if (access(v, X_OK) != 0)
			return ark_err_set(err, -errno, "ARK_CANARY_BIN: %s is not an executable file: %s", v, strerror(errno));
		snprintf(config->bin, sizeof config->bin, "%s", v);
	}
	v = getenv("ARK_CANARY_ENV_FILE");
	if (v && *v)
		snprintf(config->env_file, sizeof config->env_file, "%s", v);
	return 0;
}

static struct ark_canary_control *control(struct ark_supervisor *sup)
{
	return &sup->map.pipeline->canary;
}

/* Kyle answers a route change with the epoch it read (lane_drained). */
static void set_route(struct ark_canary_control *cc, uint32_t route)
{
	atomic_store(&cc->route, route);
	atomic_store(&cc->route_epoch, atomic_load(&cc->route_epoch) + 1);
}

static void snapshot(struct ark_supervisor *sup, struct ark_lane_stats out[ARK_LANE_COUNT])
{
	for (int l = 0; l < ARK_LANE_COUNT; l++)
		ark_pipeline_lane_stats(&sup->map, (enum ark_lane)l, &out[l]);
}

int ark_canary_begin(struct ark_supervisor *sup, const struct ark_canary_config *config, struct ark_err *err)
{
	struct ark_canary_run *run = calloc(1, sizeof *run);
	if (!run)
		return ark_err_set(err, -ENOMEM, "out of memory for the canary");
	run->config = *config;
	run->begin_ns = ark_now_ns();
	sup->canary = run;
	struct ark_canary_control *cc = control(sup);
	atomic_store(&cc->percent, config->percent);
	snprintf(cc->spec, sizeof cc->spec, "%s%.120s%s%.120s", config->env_file[0] ? "env=" : "", config->env_file,
		 config->bin[0] ? (config->env_file[0] ? " bin=" : "bin=") : "", config->bin);
	if (!cc->spec[0])
		snprintf(cc->spec, sizeof cc->spec, "the stable configuration");
	ark_log(sup->log, "info", "canary: starting the lane percent=%u window_s=%.0f check_s=%.1f %s env_sha256=%s "
		"bin=%s bin_sha256=%s rules=%s rules_sha256=%s", config->percent, (double)config->window_ns / 1e9,
		(double)config->check_ns / 1e9, cc->spec, config->env_sha256[0] ? config->env_sha256 : "-",
		config->bin_path[0] ? config->bin_path : "-", config->bin_sha256[0] ? config->bin_sha256 : "-",
		config->rules_path[0] ? config->rules_path : "-", config->rules_sha256[0] ? config->rules_sha256 : "-");
	if (config->looser[0])
		ark_log(sup->log, "warn", "canary: its rules are LOOSER than stable's (allowed by --canary-allow-looser): %s",
			config->looser);
	return 0;
}

bool ark_canary_uses_canary_config(const struct ark_supervisor *sup)
{
	return sup->canary && !sup->canary->stable_config;
}

/* Record the outcome: segment, log, the operator's notice, Mutable Core. */
static void record(struct ark_supervisor *sup, const char *outcome, const char *reason)
{
	struct ark_canary_run *run = sup->canary;
	struct ark_canary_control *cc = control(sup);
	uint64_t started = atomic_load(&cc->started_ns), ended = ark_realtime_ns();
	atomic_store(&cc->ended_ns, ended);
	struct ark_lane_stats now;
	ark_pipeline_lane_stats(&sup->map, ARK_LANE_CANARY, &now);
	double p95_us = (double)ark_hist_quantile(&now.latency, 0.95) / 1e3;
	uint64_t events = now.events - run->canary_events_at_start;
	char detail[5 * PATH_MAX + 1024];
	const struct ark_pipeline_counters *lanes[ARK_LANE_COUNT] = {&sup->map.pipeline->counters,
								      &sup->map.pipeline->canary_counters};
	snprintf(detail, sizeof detail,
		 "outcome=%s\npercent=%u\nwindow_s=%.0f\nenv_file=%s\nbin=%s\nreason=%s\nevents=%llu\n"
		 "env_sha256=%s\nbin_path=%s\nbin_sha256=%s\nrules=%s\nrules_sha256=%s\nlooser=%s\n"
		 "injected_stable=denied:%llu,wrong_reason:%llu,allowed:%llu,inconclusive:%llu\n"
		 "injected_canary=denied:%llu,wrong_reason:%llu,allowed:%llu,inconclusive:%llu\n",
		 outcome, run->config.percent, (double)run->config.window_ns / 1e9, run->config.env_file,
		 run->config.bin, reason, (unsigned long long)events, run->config.env_sha256, run->config.bin_path,
		 run->config.bin_sha256, run->config.rules_path, run->config.rules_sha256, run->config.looser,
		 (unsigned long long)atomic_load(&lanes[0]->injected_denied),
		 (unsigned long long)atomic_load(&lanes[0]->injected_wrong_reason),
		 (unsigned long long)atomic_load(&lanes[0]->injected_allowed),
		 (unsigned long long)atomic_load(&lanes[0]->injected_inconclusive),
		 (unsigned long long)atomic_load(&lanes[1]->injected_denied),
		 (unsigned long long)atomic_load(&lanes[1]->injected_wrong_reason),
		 (unsigned long long)atomic_load(&lanes[1]->injected_allowed),
		 (unsigned long long)atomic_load(&lanes[1]->injected_inconclusive));
	ark_watchdog_notice(sup, ARK_NOTICE_EVENT, "canary %s: %s (%llu events in the canary lane, p95 %.1f us)", outcome,
			    reason, (unsigned long long)events, p95_us);
	ark_log(sup->log, strcmp(outcome, "passed") == 0 ? "info" : "error",
		"canary %s reason=\"%s\" events=%llu p95_us=%.1f %s", outcome, reason, (unsigned long long)events,
		p95_us, cc->spec);
	struct ark_store_config cfg;
	struct ark_err err = {0};
	struct ark_core *core = NULL;
	int rc = ark_store_config_from_env(&cfg, &err);
	if (!rc)
		rc = ark_core_open(&core, &cfg, ARK_CORE_NO_CHECKPOINTER, NULL, &err);
	if (!rc)
		rc = ark_core_record_canary_run(core, started, ended, outcome, events, p95_us, detail, &err);
	if (!rc)
		rc = ark_core_meta_set(core, "canary_last", detail, &err);
	if (core)
		ark_core_close(core);
	if (rc)
		ark_log(sup->log, "error", "canary: cannot record the outcome in the mutable core: %s", err.msg);
}

void ark_canary_trip(struct ark_supervisor *sup, const char *reason)
{
	struct ark_canary_run *run = sup->canary;
	/* Once it rolled back, or the lane is closed, there is nothing to undo;
	 * a canary still draining after a clean window can still fail. */
	if (!run || run->phase == PHASE_DONE || run->rolled_back)
		return;
	struct ark_canary_control *cc = control(sup);
	snprintf(cc->reason, sizeof cc->reason, "%s", reason);
	set_route(cc, 0);
	atomic_store(&cc->outcome, ARK_CANARY_ROLLING_BACK);
	ark_control_add(&cc->rollbacks, 1);
	run->rolled_back = true;
	run->phase = PHASE_ENDING;
	ark_watchdog_notice(sup, ARK_NOTICE_EVENT, "canary tripwire: %s: rolling back (all traffic to stable)", reason);
	ark_log(sup->log, "error", "canary tripwire reason=\"%s\": rolling back", reason);
	/* The lane's processes are replaced by the stable configuration and
	 * binary, which finish what the lane already holds. */
	run->stable_config = true;
	for (int i = 0; i < sup->child_count; i++) {
		struct ark_child *c = &sup->children[i];
		if (c->lane == ARK_LANE_CANARY && c->pid)
			ark_watchdog_signal(c, SIGKILL);
	}
}

static void finish(struct ark_supervisor *sup)
{
	struct ark_canary_run *run = sup->canary;
	struct ark_canary_control *cc = control(sup);
	set_route(cc, 0);
	atomic_store(&cc->outcome, ARK_CANARY_FINISHING);
	run->phase = PHASE_ENDING;
	ark_log(sup->log, "info", "canary: the window passed clean; traffic back to stable, the lane draining");
}

/* The lane holds nothing any more: Kyle routes nothing to it and each of
 * its rings has been consumed. */
static bool lane_drained(struct ark_supervisor *sup)
{
	struct ark_canary_control *cc = control(sup);
	if (atomic_load(&cc->applied_epoch) != atomic_load(&cc->route_epoch) || atomic_load(&cc->route_applied) != 0)
		return false;
	for (int a = ARK_AGENT_KYLE; a <= ARK_AGENT_KENNY; a++)
		if (ark_ring_depth(ark_pipeline_lane_ring(&sup->map, ARK_LANE_CANARY, (enum ark_agent)a)) != 0)
			return false;
	return true;
}

static double stddev(const double *v, uint32_t n, double *mean_out)
{
	double mean = 0;
	for (uint32_t i = 0; i < n; i++)
		mean += v[i];
	mean = n ? mean / n : 0;
	double var = 0;
	for (uint32_t i = 0; i < n; i++)
		var += (v[i] - mean) * (v[i] - mean);
	*mean_out = mean;
	return n > 1 ? sqrt(var / (n - 1)) : 0;
}

int ark_canary_denial_verdict(const double *stable_rates, uint32_t samples, double stable_rate_now,
			      uint64_t stable_events_total, uint64_t canary_events, uint64_t canary_denials, double sigma_k,
			      char *reason, size_t reason_cap)
{
	if (canary_events < CANARY_MIN_EVENTS)
		return 0;
	double mean;
	double spread = stddev(stable_rates, samples, &mean);
	if (!samples)
		mean = stable_rate_now;   /* first interval: this interval's stable rate */
	/* The canary's own sampling noise: a binomial around the baseline
	 * (never below one denial in all the stable events seen). */
	double floor_p = 1.0 / (double)(stable_events_total ? stable_events_total : 1);
	double p = mean > floor_p ? mean : floor_p;
	double binomial = sqrt(p * (1 - p) / (double)canary_events);
	double sigma = spread > binomial ? spread : binomial;
	double canary_rate = (double)canary_denials / (double)canary_events;
	if (canary_rate > mean + sigma_k * sigma) {
		snprintf(reason, reason_cap, "canary HRM denials %.2f%% of %llu events, stable baseline %.2f%% + %.0f sigma (%.2f%%)",
			 canary_rate * 100, (unsigned long long)canary_events, mean * 100, sigma_k, sigma * 100);
		return 1;
	}
	/* The same band below: a canary that denies less than stable lets
	 * through what stable stops. */
	if (canary_rate < mean - sigma_k * sigma) {
		snprintf(reason, reason_cap,
			 "canary HRM denials %.2f%% of %llu events, below the stable baseline %.2f%% - %.0f sigma (%.2f%%)",
			 canary_rate * 100, (unsigned long long)canary_events, mean * 100, sigma_k, sigma * 100);
		return -1;
	}
	return 0;
}

/* One interval's verdict. */
static void check(struct ark_supervisor *sup)
{
	struct ark_canary_run *run = sup->canary;
	struct ark_canary_control *cc = control(sup);
	struct ark_lane_stats now[ARK_LANE_COUNT];
	snapshot(sup, now);
	ark_control_add(&cc->checks, 1);
	uint64_t ev[ARK_LANE_COUNT], den[ARK_LANE_COUNT];
	/* Aletheia may undo a batch the watchdog already read: never negative. */
#define GROWTH(a, b) ((a) > (b) ? (a) - (b) : 0)
	for (int l = 0; l < ARK_LANE_COUNT; l++) {
		ev[l] = GROWTH(now[l].events, run->prev[l].events);
		den[l] = GROWTH(now[l].denials, run->prev[l].denials);
	}
	/* The canary's latency over this interval: the histogram's growth. */
	struct ark_hist *d = &run->delta.latency;
	d->count = 0;
	d->min = 0;
	d->max = now[ARK_LANE_CANARY].latency.max;
	d->sum = 0;
	for (uint32_t b = 0; b < ARK_HIST_BUCKETS; b++) {
		d->buckets[b] = GROWTH(now[ARK_LANE_CANARY].latency.buckets[b], run->prev[ARK_LANE_CANARY].latency.buckets[b]);
		d->count += d->buckets[b];
	}
#undef GROWTH
	memcpy(run->prev, now, sizeof run->prev);

	char reason[192];
	uint64_t quarantines = sup->total_quarantines;
	if (quarantines > run->quarantines_at_start) {
		snprintf(reason, sizeof reason, "the watchdog quarantined an agent during the canary window (%llu quarantine%s)",
			 (unsigned long long)(quarantines - run->quarantines_at_start),
			 quarantines - run->quarantines_at_start == 1 ? "" : "s");
		ark_canary_trip(sup, reason);
		return;
	}
	double stable_rate = ev[ARK_LANE_STABLE] ? (double)den[ARK_LANE_STABLE] / (double)ev[ARK_LANE_STABLE] : 0;
	if (ark_canary_denial_verdict(run->stable_rates, run->stable_samples, stable_rate, now[ARK_LANE_STABLE].events,
				      ev[ARK_LANE_CANARY], den[ARK_LANE_CANARY], run->config.sigma, reason, sizeof reason)) {
		ark_canary_trip(sup, reason);
		return;
	}
	if (ev[ARK_LANE_STABLE] && run->stable_samples < CANARY_MAX_SAMPLES)
		run->stable_rates[run->stable_samples++] = stable_rate;
	if (d->count) {
		run->last_p95_ms = (double)ark_hist_quantile(d, 0.95) / 1e6;
		if (run->last_p95_ms > run->config.p95_slo_ms)
			run->slow_in_a_row++;
		else
			run->slow_in_a_row = 0;
		if (run->slow_in_a_row >= run->config.slow_checks) {
			snprintf(reason, sizeof reason, "canary p95 %.3f ms over the SLO (%.3f ms) for %u checks in a row",
				 run->last_p95_ms, run->config.p95_slo_ms, run->slow_in_a_row);
			ark_canary_trip(sup, reason);
			return;
		}
	}
	ark_log(sup->log, "info",
		"canary check %llu: stable events=%llu denials=%llu canary events=%llu denials=%llu p95_ms=%.3f slow_in_a_row=%u",
		(unsigned long long)atomic_load(&cc->checks), (unsigned long long)ev[ARK_LANE_STABLE],
		(unsigned long long)den[ARK_LANE_STABLE], (unsigned long long)ev[ARK_LANE_CANARY],
		(unsigned long long)den[ARK_LANE_CANARY], d->count ? run->last_p95_ms : 0.0, run->slow_in_a_row);
}

/* Any injected violation the canary's HRM let through since routing began:
 * rolls back at once (a gate that fails open is not judged by averages). */
static bool injected_allowed(struct ark_supervisor *sup)
{
	struct ark_canary_run *run = sup->canary;
	const struct ark_pipeline_counters *c = &sup->map.pipeline->canary_counters;
	for (int r = 1; r < ARK_REASON_COUNT; r++) {
		uint64_t now = atomic_load(&c->injected_allowed_by_reason[r]);
		if (now > run->injected_allowed_at_start[r]) {
			char reason[192];
			snprintf(reason, sizeof reason, "the canary lane's HRM allowed an injected %s violation (%llu since routing began)",
				 ark_reason_name((enum ark_reason)r), (unsigned long long)(now - run->injected_allowed_at_start[r]));
			ark_canary_trip(sup, reason);
			return true;
		}
	}
	return false;
}

static bool lane_running(struct ark_supervisor *sup)
{
	for (int a = ARK_AGENT_JOEY; a <= ARK_AGENT_KENNY; a++)
		if (atomic_load(&sup->map.pipeline->canary_agents[a].state) != ARK_PROC_RUNNING)
			return false;
	return true;
}

void ark_canary_poll(struct ark_supervisor *sup, uint64_t now)
{
	struct ark_canary_run *run = sup->canary;
	if (!run || run->phase == PHASE_DONE || sup->stopping)
		return;
	struct ark_canary_control *cc = control(sup);
	if ((run->phase == PHASE_STARTING || run->phase == PHASE_RUNNING) && atomic_load(&cc->rollback_requested)) {
		if (run->phase == PHASE_STARTING)
			atomic_store(&cc->started_ns, ark_realtime_ns());
		ark_canary_trip(sup, "rolled back by the operator (ark canary rollback)");
	}
	switch (run->phase) {
	case PHASE_STARTING:
		if (lane_running(sup)) {
			snapshot(sup, run->prev);
			run->canary_events_at_start = run->prev[ARK_LANE_CANARY].events;
			for (int r = 0; r < ARK_REASON_COUNT; r++)
				run->injected_allowed_at_start[r] =
					atomic_load(&sup->map.pipeline->canary_counters.injected_allowed_by_reason[r]);
			run->quarantines_at_start = sup->total_quarantines;
			run->routed_ns = now;
			run->window_end_ns = now + run->config.window_ns;
			run->next_check_ns = now + run->config.check_ns;
			atomic_store(&cc->started_ns, ark_realtime_ns());
			atomic_store(&cc->outcome, ARK_CANARY_RUNNING);
			set_route(cc, 1);
			run->phase = PHASE_RUNNING;
			ark_watchdog_notice(sup, ARK_NOTICE_EVENT,
					    "canary: %u%% of signals to the canary lane (%s) for %.0f s, checked every %.1f s",
					    run->config.percent, cc->spec, (double)run->config.window_ns / 1e9,
					    (double)run->config.check_ns / 1e9);
			ark_log(sup->log, "info", "canary: routing percent=%u", run->config.percent);
		} else if (now - run->begin_ns > CANARY_START_TIMEOUT_NS) {
			atomic_store(&cc->started_ns, ark_realtime_ns());
			ark_canary_trip(sup, "the canary lane's agents did not start within 30 s");
		}
		break;
	case PHASE_RUNNING:
		if (injected_allowed(sup))
			break;
		if (now >= run->next_check_ns) {
			run->next_check_ns += run->config.check_ns;
			if (run->next_check_ns <= now)
				run->next_check_ns = now + run->config.check_ns;
			check(sup);
		}
		if (run->phase == PHASE_RUNNING && now >= run->window_end_ns)
			finish(sup);
		break;
	case PHASE_ENDING:
		/* Still draining after a clean window: what the lane holds may yet
		 * let an injected violation through. */
		if (!run->rolled_back && injected_allowed(sup))
			break;
		if (!lane_drained(sup))
			break;
		atomic_store(&cc->lane_stop, 1);
		atomic_store(&cc->outcome, run->rolled_back ? ARK_CANARY_ROLLED_BACK : ARK_CANARY_PASSED);
		record(sup, run->rolled_back ? "rolled_back" : "passed",
		       run->rolled_back ? cc->reason : "no tripwire fired during the window");
		run->phase = PHASE_DONE;
		break;
	case PHASE_DONE:
		break;
	}
}

void ark_canary_child_died(struct ark_supervisor *sup, struct ark_child *c, const char *why)
{
	struct ark_canary_run *run = sup->canary;
	if (!run || run->stable_config)
		return;
	/* Whatever happens next, the lane runs the stable configuration. */
	run->stable_config = true;
	char reason[192];
	snprintf(reason, sizeof reason, "canary %s died: %s", c->name, why);
	ark_canary_trip(sup, reason);
}

void ark_canary_stopped(struct ark_supervisor *sup)
{
	struct ark_canary_run *run = sup->canary;
	if (!run || run->phase == PHASE_DONE || !sup->map.pipeline)
		return;
	struct ark_canary_control *cc = control(sup);
	if (!cc->reason[0])
		snprintf(cc->reason, sizeof cc->reason, "the instance stopped during the canary window");
	atomic_store(&cc->outcome, ARK_CANARY_STOPPED);
	record(sup, "stopped", cc->reason);
	run->phase = PHASE_DONE;
}

void ark_canary_free(struct ark_supervisor *sup)
{
	free(sup->canary);
	sup->canary = NULL;
}
