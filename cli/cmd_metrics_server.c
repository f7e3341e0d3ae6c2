/* cli/cmd_metrics_server.c — `ark metrics-server`: serves a running
 * instance's metrics (h2o, http/) from its segment, and is the one writer of
 * the metrics that summarise the pipeline: every second it copies the
 * control blocks' counters into the registry (events, errors, denials by
 * rule, trace breaks, drift, quarantines, queue depths, process metrics),
 * folds what the agents' latency histograms in the segment gained into
 * their series (the agents record each event once, there),
 * advances the registry's time slices, evaluates the SLOs and publishes
 * them; once a minute it writes the SLO snapshot to the Mutable Core. It only
 * reads the segment otherwise: a slow scrape never slows an agent.
 *
 * /healthz: 200 when every agent is alive, its heartbeat recent and it is not
 * quarantined, else 503 with the reasons; /readyz: 200 once every agent runs. */
#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "alpaca/alpaca.h"
#include "cli/command.h"
#include "graveyard/graveyard.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEARTBEAT_LIMIT_NS (2000ull * 1000 * 1000)

struct server {
	struct ark_pipeline_map map;
	struct ark_pipeline *p;
	struct ark_metrics reg;
	struct ark_metrics_slo_config slo_config;
	struct ark_metrics_slo_report slos;
	struct ark_buf buf;
	struct ark_log *log;
	struct ark_metrics_handle events[ARK_AGENT_COUNT], errors[ARK_AGENT_COUNT], quarantines[ARK_AGENT_COUNT];
	struct ark_metrics_handle denials[ARK_REASON_COUNT];
	struct ark_metrics_handle trace_breaks, drift, ops_allowed, ops_denied, ops_filled;
	struct ark_metrics_handle depth[ARK_AGENT_COUNT + ARK_MAX_SOURCES];
	struct ark_metrics_handle broker_answers[ARK_ALPACA_ANSWER_COUNT], broker_orders[5], buying_power, execution_stopped;
	struct ark_metrics_handle broker_anomalies[ARK_ALPACA_ANOMALY_COUNT];
	struct ark_metrics_handle canary_state[ARK_CANARY_OUTCOME_COUNT], canary_percent, canary_routed, canary_rollbacks;
	struct ark_metrics_handle lane_events[ARK_LANE_COUNT], lane_denials[ARK_LANE_COUNT];
	struct ark_metrics_handle lane_injected[ARK_LANE_COUNT][4];
	struct ark_metrics_handle trading_state[3], trading_halt[4], ticks_refused[ARK_TICK_FAULT_COUNT];
	/* The latency histograms, following the segment's (one record per
	 * event, by the agents): each agent's time, end to end, HRM's eval. */
	struct ark_metrics_hist_follower latency[ARK_AGENT_COUNT + 2];
	uint64_t last_snapshot_ns;
};

enum { FOLLOW_PASS = ARK_AGENT_COUNT, FOLLOW_HRM_EVAL = ARK_AGENT_COUNT + 1 };

static volatile sig_atomic_t stop_signal;

static void on_term(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static int copy_out(struct server *s, struct ark_buf *out, int rc)
{
	if (rc)
		return rc;
	return ark_buf_append(out, s->buf.data, s->buf.len);
}

static int provide_metrics(void *ctx, enum ark_http_format format, struct ark_buf *out)
{
	struct server *s = ctx;
	ark_buf_reset(&s->buf);
	int rc = format == ARK_HTTP_FORMAT_OPENMETRICS ? ark_metrics_render_openmetrics(&s->reg, &s->buf)
						       : ark_metrics_render_prometheus(&s->reg, &s->buf);
	return copy_out(s, out, rc);
}

static int provide_metrics_json(void *ctx, struct ark_buf *out)
{
	struct server *s = ctx;
	ark_buf_reset(&s->buf);
	return copy_out(s, out, ark_metrics_render_json(&s->reg, s->slo_config.window_seconds, &s->buf));
}

static int provide_slos(void *ctx, struct ark_buf *out)
{
	struct server *s = ctx;
	ark_buf_reset(&s->buf);
	return copy_out(s, out, ark_metrics_slos_render_json(&s->slos, &s->buf));
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case ARK_PROC_STARTING: return "starting";
	case ARK_PROC_RUNNING: return "running";
	case ARK_PROC_DRAINING: return "draining";
	case ARK_PROC_EXITED: return "exited";
	case ARK_PROC_FAILED: return "failed";
	default: return "none";
	}
}

static int provide_health(void *ctx, struct ark_buf *out, bool *healthy)
{
	struct server *s = ctx;
	uint64_t now = ark_now_ns();
	const char *why[ARK_AGENT_COUNT];
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, out);
	ark_json_object_begin(&j, NULL);
	ark_json_object_begin(&j, "agents");
	*healthy = true;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		struct ark_agent_control *c = &s->p->agents[a];
		int32_t pid = atomic_load(&c->pid);
		bool alive = pid > 0 && ark_shm_process_alive(pid, atomic_load(&c->start_ticks));
		uint64_t beat = atomic_load(&c->heartbeat_ns);
		uint64_t age = beat && now > beat ? now - beat : 0;
		bool quarantined = atomic_load(&c->quarantined) != 0;
		uint32_t state = atomic_load(&c->state);
		why[a] = !alive ? "not running" : age > HEARTBEAT_LIMIT_NS ? "no heartbeat" : quarantined ? "quarantined" : NULL;
		*healthy &= why[a] == NULL;
		ark_json_object_begin(&j, ark_agent_name((enum ark_agent)a));
		ark_json_bool(&j, "alive", alive);
		ark_json_int(&j, "pid", pid);
		ark_json_string(&j, "state", state_name(state));
		ark_json_fixed(&j, "heartbeat_age_ms", (double)age / 1e6, 1);
		ark_json_bool(&j, "quarantined", quarantined);
		ark_json_bool(&j, "healthy", why[a] == NULL);
		ark_json_object_end(&j);
	}
	ark_json_object_end(&j);
	/* Execution on the broker stopped (an anomaly, the keys, the account):
	 * the instance is not healthy, and says why. */
	static struct ark_broker_counts broker;
	ark_pipeline_broker_counts(&s->map, &broker);
	uint64_t anomalies = 0;
	for (int k = 0; k < ARK_BROKER_ANOMALY_KINDS; k++)
		anomalies += broker.anomalies[k];
	ark_json_object_begin(&j, "broker");
	ark_json_bool(&j, "execution_stopped", broker.execution_stopped);
	ark_json_string(&j, "stop_reason", broker.stop_reason);
	ark_json_uint(&j, "anomalies", anomalies);
	ark_json_object_end(&j);
	*healthy &= !broker.execution_stopped;
	/* A gate halted for a corrupt state is not healthy: it waits for an operator. */
	uint32_t halt = atomic_load(&s->p->hrm_halt_cause);
	*healthy &= halt != ARK_HALT_STATE_CORRUPT;
	ark_json_object_begin(&j, "trading");
	ark_json_string(&j, "state", ark_trading_state_name((enum ark_trading_state)atomic_load(&s->p->hrm_trading_state)));
	ark_json_string(&j, "halt_cause", ark_halt_cause_name((enum ark_halt_cause)halt));
	ark_json_object_end(&j);
	ark_json_string(&j, "status", *healthy ? "healthy" : "unhealthy");
	ark_json_array_begin(&j, "reasons");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (why[a]) {
			char reason[64];
			snprintf(reason, sizeof reason, "%s: %s", ark_agent_name((enum ark_agent)a), why[a]);
			ark_json_string(&j, NULL, reason);
		}
	if (halt == ARK_HALT_STATE_CORRUPT)
		ark_json_string(&j, NULL, "HRM: trading halted: state_corrupt (ark release hrm)");
	if (broker.execution_stopped) {
		char reason[300];
		snprintf(reason, sizeof reason, "broker: execution stopped: %s", broker.stop_reason[0] ? broker.stop_reason : "(no reason recorded)");
		ark_json_string(&j, NULL, reason);
	}
	ark_json_array_end(&j);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return out->failed ? -ENOMEM : 0;
}

static int provide_ready(void *ctx, struct ark_buf *out, bool *ready)
{
	struct server *s = ctx;
	*ready = true;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		*ready &= atomic_load(&s->p->agents[a].state) == ARK_PROC_RUNNING;
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, out);
	ark_json_object_begin(&j, NULL);
	ark_json_bool(&j, "ready", *ready);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return out->failed ? -ENOMEM : 0;
}

static int register_latency(struct server *s, struct ark_err *err)
{
	static const char *const names[ARK_AGENT_COUNT + 2] = {ARK_M_KYLE_PROCESS, ARK_M_JOEY_PROCESS, ARK_M_HRM_PROCESS,
							       ARK_M_KENNY_PROCESS, ARK_M_ALETHEIA_PROCESS,
							       ARK_M_PASS_LATENCY, ARK_M_HRM_EVAL};
	int rc = 0;
	for (int i = 0; i < ARK_AGENT_COUNT + 2 && !rc; i++)
		rc = ark_metrics_histogram_follower(&s->reg, names[i], NULL, NULL, &s->latency[i], err);
	return rc;
}

/* What the agents recorded since the last call (the stable HRM's eval). */
static void follow_latency(struct server *s)
{
	const struct ark_latency_record *lat = ark_pipeline_latency(&s->map);
	const struct ark_hist *eval = ark_pipeline_hrm_eval(&s->map);
	for (int a = 0; lat && a < ARK_AGENT_COUNT; a++)
		ark_metrics_histogram_follow(&s->latency[a], &lat->agent[a]);
	if (lat)
		ark_metrics_histogram_follow(&s->latency[FOLLOW_PASS], &lat->end_to_end);
	if (eval)
		ark_metrics_histogram_follow(&s->latency[FOLLOW_HRM_EVAL], eval);
}

static int register_series(struct server *s, struct ark_err *err)
{
	char labels[96];
	int rc = register_latency(s, err);
	for (int a = 0; a < ARK_AGENT_COUNT && !rc; a++) {
		snprintf(labels, sizeof labels, "agent=\"%s\"", ark_agent_file_name((enum ark_agent)a));
		rc = ark_metrics_counter(&s->reg, ARK_M_EVENTS, NULL, labels, &s->events[a], err);
		if (!rc)
			rc = ark_metrics_counter(&s->reg, ARK_M_ERRORS, NULL, labels, &s->errors[a], err);
		if (!rc)
			rc = ark_metrics_counter(&s->reg, ARK_M_WATCHDOG_QUARANTINES, NULL, labels, &s->quarantines[a], err);
		snprintf(labels, sizeof labels, "ring=\"%s\"", ark_agent_file_name((enum ark_agent)a));
		if (!rc)
			rc = ark_metrics_gauge(&s->reg, ARK_M_QUEUE_DEPTH, NULL, labels, &s->depth[a], err);
	}
	for (int i = 0; i < s->p->source_count && !rc; i++) {
		snprintf(labels, sizeof labels, "ring=\"source%d\"", i);
		rc = ark_metrics_gauge(&s->reg, ARK_M_QUEUE_DEPTH, NULL, labels, &s->depth[ARK_AGENT_COUNT + i], err);
	}
	for (int r = 1; r < ARK_REASON_COUNT && !rc; r++) {
		snprintf(labels, sizeof labels, "rule=\"%s\"", ark_reason_name((enum ark_reason)r));
		rc = ark_metrics_counter(&s->reg, ARK_M_DENIALS, NULL, labels, &s->denials[r], err);
	}
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_TRACE_BREAKS, NULL, NULL, &s->trace_breaks, err);
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_ETHICS_DRIFT, NULL, NULL, &s->drift, err);
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_OPERATIONS, NULL, "status=\"allowed\"", &s->ops_allowed, err);
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_OPERATIONS, NULL, "status=\"denied\"", &s->ops_denied, err);
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_OPERATIONS, NULL, "status=\"filled\"", &s->ops_filled, err);
	for (int a = 0; a < ARK_ALPACA_ANSWER_COUNT && !rc; a++) {
		snprintf(labels, sizeof labels, "answer=\"%s\"", ark_alpaca_answer_name((enum ark_alpaca_answer)a));
		rc = ark_metrics_counter(&s->reg, ARK_M_BROKER_ANSWERS, NULL, labels, &s->broker_answers[a], err);
	}
	static const char *const stages[5] = {"submitted", "posted", "looked_up", "reported", "refused_locally"};
	for (int i = 0; i < 5 && !rc; i++) {
		snprintf(labels, sizeof labels, "stage=\"%s\"", stages[i]);
		rc = ark_metrics_counter(&s->reg, ARK_M_BROKER_ORDERS, NULL, labels, &s->broker_orders[i], err);
	}
	if (!rc)
		rc = ark_metrics_gauge(&s->reg, ARK_M_BROKER_BUYING_POWER, NULL, NULL, &s->buying_power, err);
	if (!rc)
		rc = ark_metrics_gauge(&s->reg, ARK_M_BROKER_EXECUTION_STOPPED, NULL, NULL, &s->execution_stopped, err);
	for (int k = 1; k < ARK_ALPACA_ANOMALY_COUNT && !rc; k++) {
		snprintf(labels, sizeof labels, "kind=\"%s\"", ark_alpaca_anomaly_name((enum ark_alpaca_anomaly)k));
		rc = ark_metrics_counter(&s->reg, ARK_M_BROKER_ANOMALIES, NULL, labels, &s->broker_anomalies[k], err);
	}
	for (int o = 0; o < ARK_CANARY_OUTCOME_COUNT && !rc; o++) {
		snprintf(labels, sizeof labels, "state=\"%s\"", ark_pipeline_canary_outcome_name((enum ark_canary_outcome)o));
		rc = ark_metrics_gauge(&s->reg, ARK_M_CANARY_STATE, NULL, labels, &s->canary_state[o], err);
	}
	if (!rc)
		rc = ark_metrics_gauge(&s->reg, ARK_M_CANARY_PERCENT, NULL, NULL, &s->canary_percent, err);
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_CANARY_ROUTED, NULL, NULL, &s->canary_routed, err);
	if (!rc)
		rc = ark_metrics_counter(&s->reg, ARK_M_CANARY_ROLLBACKS, NULL, NULL, &s->canary_rollbacks, err);
	for (int t = 0; t < 3 && !rc; t++) {
		snprintf(labels, sizeof labels, "state=\"%s\"", ark_trading_state_name((enum ark_trading_state)t));
		rc = ark_metrics_gauge(&s->reg, ARK_M_TRADING_STATE, NULL, labels, &s->trading_state[t], err);
	}
	for (int c = 0; c < 4 && !rc; c++) {
		snprintf(labels, sizeof labels, "cause=\"%s\"", ark_halt_cause_name((enum ark_halt_cause)c));
		rc = ark_metrics_gauge(&s->reg, ARK_M_TRADING_HALT, NULL, labels, &s->trading_halt[c], err);
	}
	for (int f = 1; f < ARK_TICK_FAULT_COUNT && !rc; f++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"", ark_tick_fault_name((enum ark_tick_fault)f));
		rc = ark_metrics_counter(&s->reg, ARK_M_TICKS_REFUSED, NULL, labels, &s->ticks_refused[f], err);
	}
	for (int l = 0; l < ARK_LANE_COUNT && !rc; l++) {
		snprintf(labels, sizeof labels, "lane=\"%s\"", l == ARK_LANE_CANARY ? "canary" : "stable");
		rc = ark_metrics_counter(&s->reg, ARK_M_CANARY_LANE_EVENTS, NULL, labels, &s->lane_events[l], err);
		if (!rc)
			rc = ark_metrics_counter(&s->reg, ARK_M_CANARY_LANE_DENIALS, NULL, labels, &s->lane_denials[l], err);
		static const char *const outcomes[4] = {"denied", "wrong_reason", "allowed", "inconclusive"};
		for (int o = 0; o < 4 && !rc; o++) {
			char both[96];
			snprintf(both, sizeof both, "lane=\"%s\",outcome=\"%s\"", l == ARK_LANE_CANARY ? "canary" : "stable",
				 outcomes[o]);
			rc = ark_metrics_counter(&s->reg, ARK_M_CANARY_LANE_INJECTED, NULL, both, &s->lane_injected[l][o], err);
		}
	}
	return rc;
}

/* Once a second: the pipeline's totals into the registry, the time slice,
 * the SLOs; once a minute, the SLO snapshot into the Mutable Core. */
static void publish(struct server *s, uint64_t now)
{
	struct ark_pipeline *p = s->p;
	struct ark_err err = {0};
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		ark_metrics_counter_set(s->events[a], atomic_load(&p->agents[a].events));
		ark_metrics_counter_set(s->errors[a], atomic_load(&p->agents[a].errors));
		ark_metrics_counter_set(s->quarantines[a], atomic_load(&p->counters.quarantines[a]));
		ark_metrics_gauge_set(s->depth[a], (double)ark_ring_depth(ark_pipeline_output_ring(&s->map, (enum ark_agent)a)));
		int32_t pid = atomic_load(&p->agents[a].pid);
		char labels[64];
		snprintf(labels, sizeof labels, "agent=\"%s\"", ark_agent_file_name((enum ark_agent)a));
		if (pid > 0 && ark_shm_process_alive(pid, atomic_load(&p->agents[a].start_ticks)))
			ark_metrics_process_publish(&s->reg, pid, labels, &err);
	}
	for (int i = 0; i < p->source_count; i++)
		ark_metrics_gauge_set(s->depth[ARK_AGENT_COUNT + i], (double)ark_ring_depth(ark_pipeline_source_ring(&s->map, i)));
	for (int r = 1; r < ARK_REASON_COUNT; r++)
		ark_metrics_counter_set(s->denials[r], atomic_load(&p->counters.denials_by_reason[r]) +
							   atomic_load(&p->canary_counters.denials_by_reason[r]));
	ark_metrics_counter_set(s->trace_breaks, atomic_load(&p->counters.trace_breaks));
	ark_metrics_counter_set(s->drift, atomic_load(&p->counters.ethics_drift));
	uint64_t intents = atomic_load(&p->counters.intents) + atomic_load(&p->canary_counters.intents);
	uint64_t denials = atomic_load(&p->counters.denials) + atomic_load(&p->canary_counters.denials);
	ark_metrics_counter_set(s->ops_denied, denials);
	ark_metrics_counter_set(s->ops_allowed, intents > denials ? intents - denials : 0);
	ark_metrics_counter_set(s->ops_filled, atomic_load(&p->counters.fills) + atomic_load(&p->canary_counters.fills));
	struct ark_broker_counts broker;
	ark_pipeline_broker_counts(&s->map, &broker);
	for (int a = 0; a < ARK_ALPACA_ANSWER_COUNT; a++)
		ark_metrics_counter_set(s->broker_answers[a], broker.answers[a]);
	const uint64_t stage_counts[5] = {broker.submitted, broker.posts, broker.lookups, broker.reports, broker.refused_locally};
	for (int i = 0; i < 5; i++)
		ark_metrics_counter_set(s->broker_orders[i], stage_counts[i]);
	ark_metrics_gauge_set(s->buying_power, broker.account_known ? broker.buying_power : 0);
	ark_metrics_gauge_set(s->execution_stopped, broker.execution_stopped ? 1 : 0);
	for (int k = 1; k < ARK_ALPACA_ANOMALY_COUNT && k < ARK_BROKER_ANOMALY_KINDS; k++)
		ark_metrics_counter_set(s->broker_anomalies[k], broker.anomalies[k]);
	uint32_t outcome = atomic_load(&p->canary.outcome);
	for (int o = 0; o < ARK_CANARY_OUTCOME_COUNT; o++)
		ark_metrics_gauge_set(s->canary_state[o], (uint32_t)o == outcome ? 1 : 0);
	ark_metrics_gauge_set(s->canary_percent, atomic_load(&p->canary.route_applied) ? atomic_load(&p->canary.percent) : 0);
	ark_metrics_counter_set(s->canary_routed, atomic_load(&p->canary.routed));
	ark_metrics_counter_set(s->canary_rollbacks, atomic_load(&p->canary.rollbacks));
	for (int l = 0; l < ARK_LANE_COUNT; l++) {
		static struct ark_lane_stats lane;   /* a histogram: not on the stack */
		ark_pipeline_lane_stats(&s->map, (enum ark_lane)l, &lane);
		ark_metrics_counter_set(s->lane_events[l], lane.events);
		ark_metrics_counter_set(s->lane_denials[l], lane.denials);
		const struct ark_pipeline_counters *c = l == ARK_LANE_CANARY ? &p->canary_counters : &p->counters;
		ark_metrics_counter_set(s->lane_injected[l][0], atomic_load(&c->injected_denied));
		ark_metrics_counter_set(s->lane_injected[l][1], atomic_load(&c->injected_wrong_reason));
		ark_metrics_counter_set(s->lane_injected[l][2], atomic_load(&c->injected_allowed));
		ark_metrics_counter_set(s->lane_injected[l][3], atomic_load(&c->injected_inconclusive));
	}
	/* The cause first: HRM stores the state before the cause, so a cause
	 * seen here comes with its state (never "halted: state_corrupt" beside
	 * the state from before it). */
	uint32_t halt = atomic_load(&p->hrm_halt_cause);
	uint32_t trading = atomic_load(&p->hrm_trading_state);
	for (uint32_t t = 0; t < 3; t++)
		ark_metrics_gauge_set(s->trading_state[t], t == trading ? 1 : 0);
	for (uint32_t c = 0; c < 4; c++)
		ark_metrics_gauge_set(s->trading_halt[c], c == halt ? 1 : 0);
	for (int f = 1; f < ARK_TICK_FAULT_COUNT; f++)
		ark_metrics_counter_set(s->ticks_refused[f], atomic_load(&p->counters.ticks_refused[f]));
	ark_metrics_process_publish(&s->reg, getpid(), "agent=\"metrics_server\"", &err);
	follow_latency(s);   /* before the tick: the slice's snapshot holds it */
	ark_metrics_tick(&s->reg, now);
	if (ark_metrics_slos_evaluate(&s->reg, &s->slo_config, &s->slos) == 0)
		ark_metrics_slos_publish(&s->reg, &s->slos, &err);
	snprintf(s->slos.trading_state, sizeof s->slos.trading_state, "%s", ark_trading_state_name((enum ark_trading_state)trading));
	snprintf(s->slos.halt_cause, sizeof s->slos.halt_cause, "%s", ark_halt_cause_name((enum ark_halt_cause)halt));
	memcpy(s->slos.halt_detail, p->hrm_halt_detail, sizeof s->slos.halt_detail);
	s->slos.halt_detail[sizeof s->slos.halt_detail - 1] = '\0';
	if (now - s->last_snapshot_ns >= 60ull * 1000 * 1000 * 1000) {
		s->last_snapshot_ns = now;
		struct ark_metrics_slo_row rows[ARK_METRICS_SLO_COUNT];
		int n = ark_metrics_slo_rows(&s->slos, rows, ARK_METRICS_SLO_COUNT);
		struct ark_store_config cfg;
		struct ark_core *core;
		if (ark_store_config_from_env(&cfg, &err) == 0 && ark_core_open(&core, &cfg, ARK_CORE_NO_CHECKPOINTER, NULL, &err) == 0) {
			for (int i = 0; i < n; i++)
				ark_core_record_slo_snapshot(core, rows[i].name, rows[i].target, rows[i].value, rows[i].window_seconds,
							     rows[i].met, ark_realtime_ns(), &err);
			ark_core_close(core);
		} else {
			ark_log(s->log, "warn", "cannot write the SLO snapshot: %s", err.msg);
		}
	}
}

/* --instance NAME, --wait-segment S: 0, or -1 after a usage error (said). */
static int parse_args(int argc, char **argv, const char **instance, double *wait_segment_s)
{
	static const struct option longopts[] = {{"instance", required_argument, NULL, 'i'},
						 {"wait-segment", required_argument, NULL, 'w'},
						 {NULL, 0, NULL, 0}};
	struct ark_err err;
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (opt) {
		case 'i': *instance = optarg; break;
		case 'w':
			if (ark_parse_double(optarg, 0, 3600, "--wait-segment", wait_segment_s, &err))
				return ark_cli_fail("metrics-server", &err, -1);
			break;
		default: ark_cli_option_error("metrics-server", opt, argv); return -1;
		}
	}
	if (ark_cli_no_operands("metrics-server", argc, argv))
		return -1;
	return 0;
}

static int metrics_server_main(int argc, char **argv)
{
	if (ark_wants_help(argc, argv)) {
		printf("usage: ark metrics-server [--instance NAME] [--wait-segment SECONDS]\n\n"
		       "Serves a running instance's metrics over HTTP (TLS when METRICS_TLS_CERT and\n"
		       "METRICS_TLS_KEY are set): /metrics (Prometheus text 0.0.4, or OpenMetrics when the\n"
		       "scraper asks), /metrics/json, /slos, /healthz, /readyz. `ark run` starts it unless\n"
		       "METRICS_SERVER_ENABLED=false. Environment: METRICS_PORT (9090), METRICS_BIND\n"
		       "(127.0.0.1), METRICS_TLS_CLIENT_CA, METRICS_BASIC_AUTH_FILE, METRICS_RETENTION_SECONDS,\n"
		       "SLO_AVAILABILITY_TARGET, SLO_P95_LATENCY_MS, SLO_HRM_P95_MS, SLO_WINDOW_SECONDS.\n"
		       "--wait-segment S waits up to S seconds for the instance to be created (a unit\n"
		       "started beside ark-watchdog.service). Exit status 2: configuration error (the\n"
		       "port in use, a bad variable).\n");
		return 0;
	}
	const char *instance = ark_pipeline_default_instance();
	double wait_segment_s = 0;
	if (parse_args(argc, argv, &instance, &wait_segment_s))
		return 2;
	ark_process_signals(on_term);

	struct ark_err err = {0};
	static struct server s;
	memset(&s, 0, sizeof s);
	ark_buf_init(&s.buf);
	s.log = ark_log_open("metrics_server", &err);
	if (!s.log)
		return ark_cli_fail("metrics-server", &err, 1);
	struct ark_http_config config;
	int status = 2;
	struct ark_http_server *server = NULL;
	if (ark_http_config_from_env(&config, &err) || ark_metrics_slo_config_from_env(&s.slo_config, &err))
		goto fail;
	if (!ark_http_config_enabled(&config)) {
		ark_log(s.log, "info", "METRICS_SERVER_ENABLED=false: not serving");
		ark_log_close(s.log);
		return 0;
	}
	status = 1;
	if (ark_pipeline_attach_wait(&s.map, instance, wait_segment_s, &err))
		goto fail;
	s.p = s.map.pipeline;
	if (ark_process_claim(&s.map.shm, &s.p->metrics_pid)) {
		ark_log(s.log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving", (int)getpid());
		ark_pipeline_detach(&s.map);
		ark_log_close(s.log);
		return 0;
	}
	if (ark_pipeline_metrics(&s.map, &s.reg, &err) || register_series(&s, &err))
		goto fail;
	struct ark_http_provider provider = {.ctx = &s,
					     .metrics = provide_metrics,
					     .metrics_json = provide_metrics_json,
					     .slos_json = provide_slos,
					     .health = provide_health,
					     .ready = provide_ready};
	publish(&s, ark_now_ns());
	if (ark_http_server_create(&server, &config, &provider, &err)) {
		status = 2;   /* the port is taken or TLS files are wrong: restarting will not help */
		goto fail;
	}
	atomic_store(&s.p->metrics_start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	atomic_store(&s.p->metrics_pid, (int32_t)getpid());
	atomic_store(&s.p->metrics_port, ark_http_server_port(server));
	ark_log(s.log, "info", "serving bind=%s port=%u tls=%s", config.bind, (unsigned)ark_http_server_port(server),
		config.tls_cert[0] ? "on" : "off");
	ark_log_flush(s.log);
	uint64_t last = 0;
	while (!stop_signal && !atomic_load(&s.p->stop)) {
		ark_http_server_poll(server, 100);
		uint64_t now = ark_now_ns();
		if (now - last >= 1000ull * 1000 * 1000) {
			publish(&s, now);
			ark_log_flush(s.log);
			last = now;
		}
	}
	publish(&s, ark_now_ns());
	atomic_store(&s.p->metrics_port, 0);
	atomic_store(&s.p->metrics_pid, 0);
	ark_http_server_destroy(server);
	ark_buf_free(&s.buf);
	ark_pipeline_detach(&s.map);
	ark_log(s.log, "info", "stopped");
	ark_log_close(s.log);
	return 0;
fail:
	ark_log(s.log, "error", "%s", err.msg);
	fprintf(stderr, "ark metrics-server: %s\n", err.msg);
	if (s.map.pipeline)
		ark_pipeline_detach(&s.map);
	ark_buf_free(&s.buf);
	ark_log_close(s.log);
	return status;
}

ARK_COMMAND(metrics_server_command, "metrics-server", "serve a running instance's metrics, SLOs and health (h2o, TLS)",
	    metrics_server_main)
