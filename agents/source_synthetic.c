/* agents/source_synthetic.c — the synthetic source as a process: runs the
 * deterministic generator (synth/) and publishes its ticks on its inbound
 * ring to Kyle, paced or as fast as Kyle takes them.
 *
 * Crash-only: a restarted source finds the last tick it published on its
 * ring (source_seq) and fast-forwards the generator to it, so the stream
 * continues exactly where it stopped: nothing skipped, nothing repeated. A
 * paced run ends after rate x duration ticks; an unpaced one after
 * `duration` of wall time counted from the first start. */
#include "agents/agents_internal.h"
#include "synth/synth.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int parse_options(struct ark_synth_config *config, uint64_t *duration_ns, int argc, char **argv,
			 struct ark_err *err)
{
	static const struct option options[] = {
		{"rate", required_argument, NULL, 'r'},       {"duration", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},       {"violations", required_argument, NULL, 'v'},
		{"symbols", required_argument, NULL, 'y'},    {"start-now", no_argument, NULL, 'n'},
		{NULL, 0, NULL, 0}};
	ark_synth_config_defaults(config);
	*duration_ns = 10ull * 1000 * 1000 * 1000;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'r': rc = ark_synth_config_parse_rate(config, optarg, err); break;
		case 'd':
			rc = ark_synth_config_parse_duration(config, optarg, err);
			*duration_ns = config->duration_ns;
			break;
		case 's': rc = ark_synth_config_parse_seed(config, optarg, err); break;
		case 'v': rc = ark_synth_config_parse_violations(config, optarg, err); break;
		case 'y': rc = ark_synth_config_parse_symbols(config, optarg, err); break;
		case 'n':
			/* Share a timeline with real sources: the market clock starts
			 * at the wall clock instead of the fixed default. */
			config->start_ns = ark_realtime_ns();
			break;
		default: rc = ark_err_set(err, -EINVAL, "unknown option '%s'", argv[optind - 1]);
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return ark_err_set(err, -EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

static volatile sig_atomic_t source_stop;

static void on_term(int sig)
{
	(void)sig;
	source_stop = 1;
}

int ark_source_synthetic_run(const char *instance, int source, int argc, char **argv)
{
	struct ark_err err = {0};
	char name[32];
	snprintf(name, sizeof name, "source%d", source);
	struct ark_log *log = ark_log_open(name, &err);
	if (!log) {
		fprintf(stderr, "ark source: %s\n", err.msg);
		return 1;
	}
	ark_process_signals(on_term);
	/* Precise pacing: wake within a microsecond, not the default 50. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	struct ark_synth_config *config = malloc(sizeof *config);
	struct ark_synth *gen = malloc(sizeof *gen);
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	struct ark_pipeline_map map;
	memset(&map, 0, sizeof map);
	int status = 1;
	uint64_t duration_ns;
	if (!config || !gen || !rules) {
		ark_log(log, "error", "out of memory");
		goto done;
	}
	if (parse_options(config, &duration_ns, argc, argv, &err)) {
		ark_log(log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
		status = 2;
		goto done;
	}
	if (ark_pipeline_attach(&map, instance, &err)) {
		ark_log(log, "error", "cannot attach: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
		goto done;
	}
	struct ark_pipeline *p = map.pipeline;
	struct ark_agent_control *control = &p->sources[source];
	struct ark_ring_wait_config wait;
	if (source >= p->source_count || ark_ring_wait_from_env(&wait, &err) ||
	    ark_agent_pin("SOURCE", control, &err) || ark_graveyard_load(p->rules_path, rules, &err) ||
	    ark_synth_init(gen, config, rules, &err)) {
		if (source >= p->source_count)
			ark_err_set(&err, -EINVAL, "the pipeline has %u sources, not %d", p->source_count, source + 1);
		ark_log(log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
		status = 2;
		goto detach;
	}
	struct ark_ring *ring = ark_pipeline_source_ring(&map, source);
	struct ark_ring_producer producer;
	if (ark_ring_producer_open(&producer, ring, &wait, &err)) {
		ark_log(log, "error", "cannot open ring: %s", err.msg);
		goto detach;
	}
	atomic_store(&control->pid, (int32_t)getpid());
	atomic_store(&control->start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	uint64_t now = ark_now_ns();
	uint64_t expected_zero = 0;
	atomic_compare_exchange_strong(&p->counters.source_started_ns[source], &expected_zero, now);
	uint64_t first_start = atomic_load(&p->counters.source_started_ns[source]);

	/* Resume after the last tick this source published. */
	uint64_t resume = ark_source_ring_last_seq(ring);
	struct ark_tick scratch;
	for (uint64_t i = 0; i < resume; i++)
		if (!ark_synth_next(gen, &scratch))
			break;
	ark_log(log, "info", "running pid=%d seed=%llu rate=%g resume_after=%llu violations=%g", (int)getpid(),
		(unsigned long long)config->seed, config->rate_hz, (unsigned long long)resume, config->violations);
	for (int k = 1; k < ARK_REASON_COUNT; k++) {
		const char *why = ark_synth_kind_status(gen, (enum ark_reason)k);
		if (why && k != ARK_REASON_ETHICS_DRIFT && k != ARK_REASON_QUARANTINED)
			ark_log(log, "info", "not injected kind=%s why=\"%s\"", ark_reason_name((enum ark_reason)k), why);
	}
	ark_log_flush(log);
	atomic_store(&control->state, ARK_PROC_RUNNING);

	bool paced = config->rate_hz > 0;
	uint64_t pace_start = paced ? now - (uint64_t)((double)gen->emitted * 1e9 / config->rate_hz) : 0;
	bool finished = false;
	while (!source_stop && !finished && !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		now = ark_now_ns();
		atomic_store_explicit(&control->heartbeat_ns, now, memory_order_relaxed);
		if (!paced && duration_ns && now - first_start >= duration_ns)
			break;
		uint32_t want = ARK_PIPELINE_BATCH;
		if (paced) {
			uint64_t due = ark_synth_due_ns(gen, pace_start);
			if (due > now) {
				ark_ring_flush();
				ark_synth_wait_due(gen, pace_start);
				continue;
			}
			uint64_t owed = (uint64_t)((double)(now - pace_start) * config->rate_hz / 1e9) + 1;
			want = owed > gen->emitted ? (uint32_t)ARK_MIN(owed - gen->emitted, ARK_PIPELINE_BATCH) : 1;
		}
		uint32_t n;
		if (ark_ring_reserve(&producer, want, 100 * 1000 * 1000, &n) != 0)
			continue;
		uint32_t made = 0;
		uint64_t received = ark_now_ns();
		for (; made < n; made++) {
			struct ark_tick *t = ark_ring_slot(&producer, made);
			if (!ark_synth_next(gen, t)) {
				finished = true;
				break;
			}
			t->received_ns = received;
		}
		if (made)
			ark_ring_commit(&producer, made);
		ark_control_add(&control->events, made);
		atomic_store_explicit(&p->counters.source_published[source], gen->emitted, memory_order_relaxed);
		atomic_store_explicit(&control->last_seq, gen->emitted, memory_order_relaxed);
	}
	ark_ring_producer_close(&producer);
	atomic_store(&p->counters.source_published[source], gen->emitted);
	atomic_store(&p->counters.source_done[source], 1);
	atomic_store(&control->state, ARK_PROC_EXITED);
	ark_log(log, "info", "finished ticks=%llu clean=%llu", (unsigned long long)gen->emitted,
		(unsigned long long)gen->clean);
	status = 0;
detach:
	ark_pipeline_detach(&map);
done:
	free(config);
	free(gen);
	free(rules);
	ark_log_close(log);
	return status;
}
