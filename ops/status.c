/* ops/status.c — `ark status`: one reading of a running instance from its
 * segment (and the Mutable Core's last backup), as the dashboard text or one
 * JSON object. It only reads: a dashboard never slows an agent. Rates are
 * the difference of two readings; latencies are the run's histograms. */
#include "ops/ops.h"

#include "brokers/brokers.h"
#include "graveyard/graveyard.h"
#include "hist/hist.h"
#include "store/store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *state_name(uint32_t state, bool alive)
{
	switch (state) {
	case ARK_PROC_STARTING: return alive ? "starting" : "dead";
	case ARK_PROC_RUNNING: return alive ? "running" : "dead";
	case ARK_PROC_DRAINING: return alive ? "draining" : "dead";
	case ARK_PROC_EXITED: return "exited";
	case ARK_PROC_FAILED: return "failed";
	default: return "absent";
	}
}

static void read_process(const struct ark_agent_control *c, const char *name, const struct ark_hist *hist,
			 uint64_t now, struct ark_status_process *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->pid = atomic_load(&c->pid);
	p->alive = p->pid > 0 && ark_shm_process_alive(p->pid, atomic_load(&c->start_ticks));
	p->state = state_name(atomic_load(&c->state), p->alive);
	p->cpu = atomic_load(&c->cpu);
	p->quarantined = atomic_load(&c->quarantined) != 0;
	p->events = atomic_load(&c->events);
	p->errors = atomic_load(&c->errors);
	p->restarts = atomic_load(&c->restarts);
	uint64_t beat = atomic_load(&c->heartbeat_ns);
	p->heartbeat_age_ms = beat && now > beat ? (double)(now - beat) / 1e6 : 0;
	if (hist && hist->count) {
		p->p50_us = (double)ark_hist_quantile(hist, 0.50) / 1e3;
		p->p95_us = (double)ark_hist_quantile(hist, 0.95) / 1e3;
		p->p99_us = (double)ark_hist_quantile(hist, 0.99) / 1e3;
	}
}

static void last_backup(struct ark_status *s)
{
	struct ark_store_config cfg;
	struct ark_err err = {0};
	if (ark_store_config_from_env(&cfg, &err) || strcmp(cfg.state_db, ":memory:") == 0)
		return;
	sqlite3 *db = NULL;
	if (ark_store_sqlite_open(cfg.state_db, SQLITE_OPEN_READONLY, &db, &err) == 0) {
		sqlite3_busy_timeout(db, 500);
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db, "SELECT path, taken_ns FROM backups ORDER BY taken_ns DESC LIMIT 1", -1, &q, NULL) ==
		    SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW) {
				snprintf(s->last_backup_path, sizeof s->last_backup_path, "%s", (const char *)sqlite3_column_text(q, 0));
				uint64_t taken = (uint64_t)sqlite3_column_int64(q, 1), now = ark_realtime_ns();
				s->last_backup_age_s = now > taken ? (double)(now - taken) / 1e9 : 0;
			}
			sqlite3_finalize(q);
		}
	}
	sqlite3_close(db);
}

/* The segment says only whether a broker read an account (account_known):
 * the registry names the broker that does (the one whose fills come back
 * as reports and which keeps the order book), or else the default broker. */
static const char *broker_name(bool account_known)
{
	const struct ark_broker_ops *ops;
	const char *name = NULL;
	for (size_t i = 0; account_known && (ops = ark_broker_at(i, &name)) != NULL; i++)
		if (ops->reports)
			return name;
	struct ark_err err = {0};
	return ark_broker_find(NULL, &ops, &err) == 0 ? ark_broker_name(ops) : "";
}

static void read_once(const struct ark_pipeline_map *map, struct ark_status *s, uint64_t *taken_ns)
{
	const struct ark_pipeline *p = map->pipeline;
	uint64_t now = ark_now_ns();
	*taken_ns = now;
	snprintf(s->instance, sizeof s->instance, "%s", p->instance);
	s->uptime_s = (double)(ark_realtime_ns() - p->created_ns) / 1e9;
	s->journaled = atomic_load(&p->counters.journaled);
	struct ark_latency_record *lat = ark_pipeline_latency(map);
	s->running = false;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		read_process(&p->agents[a], ark_agent_name((enum ark_agent)a), lat ? &lat->agent[a] : NULL, now, &s->agents[a]);
		s->agents[a].hangs = atomic_load(&p->counters.hangs[a]);
		s->running |= s->agents[a].alive;
	}
	s->source_count = p->source_count < ARK_MAX_SOURCES ? p->source_count : ARK_MAX_SOURCES;
	for (int i = 0; i < p->source_count && i < ARK_MAX_SOURCES; i++) {
		char name[24];
		snprintf(name, sizeof name, "source%d (%s)", i, ark_source_name((enum ark_source_kind)p->source_kinds[i]));
		read_process(&p->sources[i], name, NULL, now, &s->sources[i]);
		s->sources[i].events = atomic_load(&p->counters.source_published[i]);
		s->running |= s->sources[i].alive;
	}
	s->ring_count = 0;
	for (int i = 0; i < p->source_count && i < ARK_MAX_SOURCES; i++) {
		struct ark_status_ring *r = &s->rings[s->ring_count++];
		snprintf(r->name, sizeof r->name, "source%d", i);
		r->depth = ark_ring_depth(ark_pipeline_source_ring(map, i));
		r->capacity = p->ring_capacity;
	}
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		struct ark_status_ring *r = &s->rings[s->ring_count++];
		snprintf(r->name, sizeof r->name, "%s", ark_agent_file_name((enum ark_agent)a));
		r->depth = ark_ring_depth(ark_pipeline_output_ring(map, (enum ark_agent)a));
		r->capacity = p->ring_capacity;
	}
	if (lat && lat->end_to_end.count) {
		s->e2e_p50_us = (double)ark_hist_quantile(&lat->end_to_end, 0.50) / 1e3;
		s->e2e_p95_us = (double)ark_hist_quantile(&lat->end_to_end, 0.95) / 1e3;
		s->e2e_p99_us = (double)ark_hist_quantile(&lat->end_to_end, 0.99) / 1e3;
	}
	s->intents = atomic_load(&p->counters.intents) + atomic_load(&p->canary_counters.intents);
	s->fills = atomic_load(&p->counters.fills) + atomic_load(&p->canary_counters.fills);
	s->denials = atomic_load(&p->counters.denials) + atomic_load(&p->canary_counters.denials);
	s->trace_breaks = atomic_load(&p->counters.trace_breaks);
	for (int r = 0; r < ARK_REASON_COUNT; r++)
		s->denials_by_reason[r] = atomic_load(&p->counters.denials_by_reason[r]) +
					  atomic_load(&p->canary_counters.denials_by_reason[r]);
	s->mirror_enabled = atomic_load(&p->mirror_attached) != 0;
	s->mirror_lag_events = -1;
	struct ark_metrics reg;
	struct ark_err err = {0};
	s->slos_known = false;
	if (ark_pipeline_metrics(map, &reg, &err) == 0) {
		uint32_t series;
		if (ark_metrics_find(&reg, "mirror_lag_events", NULL, &series) == 0)
			s->mirror_lag_events = ark_metrics_gauge_value(&reg, series);
		struct ark_metrics_slo_config slo;
		s->slos_known = ark_metrics_slo_config_from_env(&slo, &err) == 0 &&
				ark_metrics_slos_evaluate(&reg, &slo, &s->slos) == 0;
	}
	ark_pipeline_broker_counts(map, &s->broker);
	s->broker_name = broker_name(s->broker.account_known);
	s->metrics_port = atomic_load(&p->metrics_port);
	/* The cause first: HRM stores the state before it (see publish_state). */
	s->halt_cause = ark_halt_cause_name((enum ark_halt_cause)atomic_load(&p->hrm_halt_cause));
	s->trading_state = ark_trading_state_name((enum ark_trading_state)atomic_load(&p->hrm_trading_state));
	memcpy(s->halt_detail, p->hrm_halt_detail, sizeof s->halt_detail);
	s->halt_detail[sizeof s->halt_detail - 1] = '\0';
	s->canary_configured = ark_pipeline_has_canary(map);
	s->canary_state = ark_pipeline_canary_outcome_name((enum ark_canary_outcome)atomic_load(&p->canary.outcome));
	s->canary_percent = atomic_load(&p->canary.percent);
	s->canary_routing = atomic_load(&p->canary.route_applied) != 0;
	memcpy(s->canary_reason, p->canary.reason, sizeof s->canary_reason);
	s->canary_reason[sizeof s->canary_reason - 1] = '\0';
	static struct ark_lane_stats lane;   /* a histogram: not on the stack */
	for (int l = 0; l < ARK_LANE_COUNT; l++) {
		ark_pipeline_lane_stats(map, (enum ark_lane)l, &lane);
		s->canary_lane_events[l] = lane.events;
		s->canary_lane_denials[l] = lane.denials;
	}
}

int ark_status_read(const struct ark_pipeline_map *map, const struct ark_status *previous, uint64_t interval_ns,
		    struct ark_status *s, struct ark_err *err)
{
	(void)err;
	static struct ark_status first;
	static uint64_t previous_ns;
	uint64_t t0, t1;
	if (!previous) {
		memset(&first, 0, sizeof first);
		read_once(map, &first, &t0);
		struct timespec ts = {(time_t)(interval_ns / 1000000000ull), (long)(interval_ns % 1000000000ull)};
		nanosleep(&ts, NULL);
		previous = &first;
	} else {
		t0 = previous_ns;
	}
	memset(s, 0, sizeof *s);
	read_once(map, s, &t1);
	previous_ns = t1;
	double dt = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	if (dt > 0) {
		s->events_per_s = (double)(s->journaled - previous->journaled) / dt;
		for (int a = 0; a < ARK_AGENT_COUNT; a++)
			s->agents[a].events_per_s = s->agents[a].events >= previous->agents[a].events
							    ? (double)(s->agents[a].events - previous->agents[a].events) / dt
							    : 0;
		for (int i = 0; i < s->source_count; i++)
			s->sources[i].events_per_s = s->sources[i].events >= previous->sources[i].events
							     ? (double)(s->sources[i].events - previous->sources[i].events) / dt
							     : 0;
	}
	last_backup(s);
	return 0;
}

static void duration(double s, char *out, size_t len)
{
	if (s < 120)
		snprintf(out, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(out, len, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
	else if (s < 172800)
		snprintf(out, len, "%.0fh%02.0fm", floor(s / 3600), fmod(floor(s / 60), 60));
	else
		snprintf(out, len, "%.0fd%02.0fh", floor(s / 86400), fmod(floor(s / 3600), 24));
}

static const char *slo_state(const struct ark_metrics_slo *slo)
{
	return slo->state == ARK_SLO_OK ? "OK" : slo->state == ARK_SLO_WARNING ? "WARNING" : "VIOLATED";
}

void ark_status_render_text(const struct ark_status *s, FILE *o, int width)
{
	(void)width;
	char up[32];
	duration(s->uptime_s, up, sizeof up);
	fprintf(o, "ARK status - instance %s - %s, up %s, %.0f events/s journaled (%llu in all)\n\n", s->instance,
		s->running ? "running" : "NOT RUNNING", up, s->events_per_s, (unsigned long long)s->journaled);
	fprintf(o, "%-22s %-9s %8s %4s %12s %10s %10s %8s %8s %s\n", "PROCESS", "STATE", "PID", "CPU", "EVENTS/S", "P95 us",
		"P99 us", "ERRORS", "RESTARTS", "QUARANTINE");
	for (int i = 0; i < ARK_AGENT_COUNT + s->source_count; i++) {
		const struct ark_status_process *p = i < ARK_AGENT_COUNT ? &s->agents[i] : &s->sources[i - ARK_AGENT_COUNT];
		char cpu[16], p95[24], p99[24];
		snprintf(cpu, sizeof cpu, p->cpu >= 0 ? "%d" : "-", p->cpu);
		snprintf(p95, sizeof p95, i < ARK_AGENT_COUNT ? "%.1f" : "-", p->p95_us);
		snprintf(p99, sizeof p99, i < ARK_AGENT_COUNT ? "%.1f" : "-", p->p99_us);
		fprintf(o, "%-22s %-9s %8d %4s %12.1f %10s %10s %8llu %8llu %s\n", p->name, p->state, (int)p->pid, cpu,
			p->events_per_s, p95, p99, (unsigned long long)p->errors, (unsigned long long)p->restarts,
			p->quarantined ? "QUARANTINED" : "-");
	}
	fprintf(o, "\nRINGS      ");
	for (int i = 0; i < s->ring_count; i++)
		fprintf(o, "%s %llu/%u%s", s->rings[i].name, (unsigned long long)s->rings[i].depth, s->rings[i].capacity,
			i + 1 < s->ring_count ? "  " : "\n");
	fprintf(o, "LATENCY    end to end p50 %.1f us, p95 %.1f us, p99 %.1f us (since the run began)\n", s->e2e_p50_us,
		s->e2e_p95_us, s->e2e_p99_us);
	fprintf(o, "TRADING    %s%s%s%s%s%s\n", s->trading_state, strcmp(s->halt_cause, "none") ? " (" : "",
		strcmp(s->halt_cause, "none") ? s->halt_cause : "", s->halt_detail[0] ? ": " : "", s->halt_detail,
		strcmp(s->halt_cause, "state_corrupt") == 0 ? "; `ark release hrm` once the cause is understood)"
		: strcmp(s->halt_cause, "none") ? ")" : "");
	fprintf(o, "DENIALS    %llu of %llu intents", (unsigned long long)s->denials, (unsigned long long)s->intents);
	bool first = true;
	for (int r = 1; r < ARK_REASON_COUNT; r++)
		if (s->denials_by_reason[r]) {
			fprintf(o, "%s%s %llu", first ? ": " : ", ", ark_reason_name((enum ark_reason)r),
				(unsigned long long)s->denials_by_reason[r]);
			first = false;
		}
	fprintf(o, "; fills %llu; trace breaks %llu\n", (unsigned long long)s->fills, (unsigned long long)s->trace_breaks);
	if (s->slos_known) {
		for (int i = 0; i < ARK_METRICS_SLO_COUNT; i++) {
			const struct ark_metrics_slo *slo = &s->slos.slos[i];
			fprintf(o, "%s %-17s %-9s value %.6g %s (objective %.6g), budget left %.0f%%\n", i ? "          " : "SLOS      ",
				slo->name, slo_state(slo), slo->value, slo->unit, slo->threshold, slo->error_budget_remaining * 100);
		}
	}
	if (!s->mirror_enabled)
		fprintf(o, "MIRROR     off (no mirror attached)\n");
	else if (s->mirror_lag_events >= 0)
		fprintf(o, "MIRROR     lag %.0f events\n", s->mirror_lag_events);
	else
		fprintf(o, "MIRROR     attached (lag not reported yet)\n");
	if (s->broker.account_known) {
		uint64_t anomalies = 0;
		for (int k = 0; k < ARK_BROKER_ANOMALY_KINDS; k++)
			anomalies += s->broker.anomalies[k];
		fprintf(o, "BROKER     %s: %llu submitted, %llu reported, %llu refused here, %llu anomalies, buying power %.2f%s%s\n",
			s->broker_name, (unsigned long long)s->broker.submitted, (unsigned long long)s->broker.reports,
			(unsigned long long)s->broker.refused_locally, (unsigned long long)anomalies, s->broker.buying_power,
			s->broker.execution_stopped ? ", EXECUTION STOPPED: " : "",
			s->broker.execution_stopped ? s->broker.stop_reason : "");
		if (s->broker.stop_kind == ARK_BROKER_STOP_ANOMALY)
			fprintf(o, "           check the venue, then: ark broker resume\n");
	} else {
		fprintf(o, "BROKER     %s\n", s->broker_name);
	}
	if (s->canary_configured)
		fprintf(o, "CANARY     %s, %u%% %s; lane events stable %llu canary %llu, denied stable %llu canary %llu%s%s\n",
			s->canary_state, s->canary_percent, s->canary_routing ? "routed" : "not routed",
			(unsigned long long)s->canary_lane_events[0], (unsigned long long)s->canary_lane_events[1],
			(unsigned long long)s->canary_lane_denials[0], (unsigned long long)s->canary_lane_denials[1],
			s->canary_reason[0] ? ": " : "", s->canary_reason);
	if (s->last_backup_path[0]) {
		char age[32];
		duration(s->last_backup_age_s, age, sizeof age);
		fprintf(o, "BACKUP     %s ago: %s\n", age, s->last_backup_path);
	} else {
		fprintf(o, "BACKUP     none recorded (ark backup)\n");
	}
}

static void json_process(struct ark_json *j, const struct ark_status_process *p, bool agent)
{
	ark_json_object_begin(j, NULL);
	ark_json_string(j, "name", p->name);
	ark_json_string(j, "state", p->state);
	ark_json_int(j, "pid", p->pid);
	ark_json_int(j, "cpu", p->cpu);
	ark_json_bool(j, "alive", p->alive);
	ark_json_uint(j, "events", p->events);
	ark_json_fixed(j, "events_per_s", p->events_per_s, 3);
	ark_json_uint(j, "errors", p->errors);
	ark_json_uint(j, "restarts", p->restarts);
	ark_json_bool(j, "quarantined", p->quarantined);
	ark_json_fixed(j, "heartbeat_age_ms", p->heartbeat_age_ms, 3);
	if (agent) {
		ark_json_uint(j, "hangs", p->hangs);
		ark_json_fixed(j, "p50_us", p->p50_us, 3);
		ark_json_fixed(j, "p95_us", p->p95_us, 3);
		ark_json_fixed(j, "p99_us", p->p99_us, 3);
	}
	ark_json_object_end(j);
}

static void json_rings(struct ark_json *j, const struct ark_status *s)
{
	ark_json_array_begin(j, "rings");
	for (int i = 0; i < s->ring_count; i++) {
		ark_json_object_begin(j, NULL);
		ark_json_string(j, "name", s->rings[i].name);
		ark_json_uint(j, "depth", s->rings[i].depth);
		ark_json_uint(j, "capacity", s->rings[i].capacity);
		ark_json_object_end(j);
	}
	ark_json_array_end(j);
}

static void json_slos(struct ark_json *j, const struct ark_status *s)
{
	ark_json_array_begin(j, "slos");
	for (int i = 0; s->slos_known && i < ARK_METRICS_SLO_COUNT; i++) {
		const struct ark_metrics_slo *slo = &s->slos.slos[i];
		ark_json_object_begin(j, NULL);
		ark_json_string(j, "name", slo->name);
		ark_json_string(j, "state", slo_state(slo));
		ark_json_bool(j, "met", slo->met);
		ark_json_number(j, "value", slo->value);   /* no data yet: null */
		ark_json_string(j, "unit", slo->unit);
		ark_json_number(j, "objective", slo->threshold);
		ark_json_number(j, "target", slo->target);
		ark_json_number(j, "error_budget_remaining", slo->error_budget_remaining);
		ark_json_uint(j, "window_seconds", slo->window_seconds);
		ark_json_object_end(j);
	}
	ark_json_array_end(j);
}

static void json_broker(struct ark_json *j, const struct ark_status *s)
{
	ark_json_object_begin(j, "broker");
	ark_json_string(j, "name", s->broker_name);
	ark_json_uint(j, "submitted", s->broker.submitted);
	ark_json_uint(j, "reported", s->broker.reports);
	ark_json_uint(j, "refused_locally", s->broker.refused_locally);
	ark_json_fixed(j, "buying_power", s->broker.buying_power, 2);
	ark_json_bool(j, "execution_stopped", s->broker.execution_stopped);
	ark_json_string(j, "stop_reason", s->broker.stop_reason);
	uint64_t anomalies = 0;
	for (int k = 0; k < ARK_BROKER_ANOMALY_KINDS; k++)
		anomalies += s->broker.anomalies[k];
	ark_json_uint(j, "anomalies", anomalies);
	ark_json_object_end(j);
}

/* A count per lane: {"stable": n, "canary": n}. */
static void json_lanes(struct ark_json *j, const char *key, const uint64_t counts[ARK_LANE_COUNT])
{
	ark_json_object_begin(j, key);
	ark_json_uint(j, "stable", counts[0]);
	ark_json_uint(j, "canary", counts[1]);
	ark_json_object_end(j);
}

static void json_canary(struct ark_json *j, const struct ark_status *s)
{
	if (!s->canary_configured) {
		ark_json_null(j, "canary");
		return;
	}
	ark_json_object_begin(j, "canary");
	ark_json_string(j, "state", s->canary_state);
	ark_json_uint(j, "percent", s->canary_percent);
	ark_json_bool(j, "routing", s->canary_routing);
	json_lanes(j, "events", s->canary_lane_events);
	json_lanes(j, "denials", s->canary_lane_denials);
	ark_json_string(j, "reason", s->canary_reason);
	ark_json_object_end(j);
}

void ark_status_render_json(const struct ark_status *s, FILE *o)
{
	struct ark_json j;
	ark_json_init(&j, o);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "instance", s->instance);
	ark_json_bool(&j, "running", s->running);
	ark_json_fixed(&j, "uptime_s", s->uptime_s, 3);
	ark_json_uint(&j, "journaled", s->journaled);
	ark_json_fixed(&j, "events_per_s", s->events_per_s, 3);
	ark_json_array_begin(&j, "agents");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		json_process(&j, &s->agents[a], true);
	ark_json_array_end(&j);
	ark_json_array_begin(&j, "sources");
	for (int i = 0; i < s->source_count; i++)
		json_process(&j, &s->sources[i], false);
	ark_json_array_end(&j);
	json_rings(&j, s);
	ark_json_object_begin(&j, "latency_us");
	ark_json_fixed(&j, "p50", s->e2e_p50_us, 3);
	ark_json_fixed(&j, "p95", s->e2e_p95_us, 3);
	ark_json_fixed(&j, "p99", s->e2e_p99_us, 3);
	ark_json_object_end(&j);
	ark_json_uint(&j, "intents", s->intents);
	ark_json_uint(&j, "fills", s->fills);
	ark_json_uint(&j, "trace_breaks", s->trace_breaks);
	ark_json_object_begin(&j, "denials");
	ark_json_uint(&j, "total", s->denials);
	ark_json_object_begin(&j, "by_rule");
	for (int r = 1; r < ARK_REASON_COUNT; r++)
		ark_json_uint(&j, ark_reason_name((enum ark_reason)r), s->denials_by_reason[r]);
	ark_json_object_end(&j);
	ark_json_object_end(&j);
	json_slos(&j, s);
	ark_json_object_begin(&j, "mirror");
	ark_json_bool(&j, "attached", s->mirror_enabled);
	if (s->mirror_lag_events >= 0)
		ark_json_fixed(&j, "lag_events", s->mirror_lag_events, 0);
	else
		ark_json_null(&j, "lag_events");
	ark_json_object_end(&j);
	json_broker(&j, s);
	ark_json_object_begin(&j, "metrics");
	ark_json_uint(&j, "port", s->metrics_port);
	ark_json_object_end(&j);
	ark_json_object_begin(&j, "trading");
	ark_json_string(&j, "state", s->trading_state);
	ark_json_string(&j, "halt_cause", s->halt_cause);
	ark_json_string(&j, "detail", s->halt_detail);
	ark_json_object_end(&j);
	json_canary(&j, s);
	if (s->last_backup_path[0]) {
		ark_json_object_begin(&j, "last_backup");
		ark_json_string(&j, "path", s->last_backup_path);
		ark_json_fixed(&j, "age_s", s->last_backup_age_s, 1);
		ark_json_object_end(&j);
	} else {
		ark_json_null(&j, "last_backup");
	}
	ark_json_object_end(&j);
	ark_json_finish(&j);
}
