/* cli/cmd_run.c — `ark run`, the main job: creates the instance's segment,
 * starts the five agents and the synthetic source as separate processes
 * (`ark agent <name>`, `ark source synthetic`), restarts any that dies, shows
 * a live progress line, and when the source has finished and every event has
 * reached Aletheia, stops the pipeline and prints a summary.
 *
 * Ctrl-C stops the source, lets the pipeline drain (nothing accepted is
 * lost), then stops the agents; a second Ctrl-C stops them at once (events
 * still on the rings stay in the segment until it is removed). Exit status 0
 * only with zero errors and zero trace breaks. */
#include "pipeline/pipeline.h"
#include "cli/command.h"
#include "cli/instance.h"
#include "ops/ops.h"
#include "watchdog/watchdog.h"
#include "common/common.h"
#include "hist/hist.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark run [--rate HZ] [--duration SECONDS] [--seed N] [--violations FRACTION]\n"
		"               [--symbols N] [--instance NAME] [--feed] [--feed-port PORT] [--quiet] [--json]\n\n"
		"Runs the pipeline on the synthetic source: Kyle -> Joey -> HRM -> Kenny -> Aletheia,\n"
		"each a process pinned to ARK_CPU_<AGENT> when set, on rings in /dev/shm/ark-<instance>.\n"
		"Every event leaves Aletheia with a complete trace, a verdict and a journal record.\n\n"
		"  --rate HZ              synthetic ticks per second, 0.1 to as fast as the pipeline\n"
		"                         goes (0 = unpaced; default 10000)\n"
		"  --duration SECONDS     how long the source runs (default 10)\n"
		"  --seed N               generator seed, for repeatable runs (default 1)\n"
		"  --violations FRACTION  share of ticks that inject a Graveyard violation (default 0.01)\n"
		"  --symbols N            size of the symbol universe (default 64)\n"
		"  --instance NAME        instance name (default $ARK_INSTANCE or 'main')\n"
		"  --feed                 also take ticks from the TCP line feed (a second source) on\n"
		"                         ARK_FEED_BIND:ARK_FEED_PORT (default 127.0.0.1:7070), one JSON\n"
		"                         tick per line; it stops when the synthetic source is done\n"
		"  --feed-port PORT       the same on PORT (0: any free port, printed at start)\n"
		"  --quiet                no progress line\n"
		"  --json                 print the summary as one JSON object\n\n"
		"Exit status 0 only with zero errors and zero trace breaks. Ctrl-C drains and stops;\n"
		"a second Ctrl-C stops at once. Environment: see README (ARK_DATA_DIR, ARK_WAIT,\n"
		"ARK_CPU_<AGENT>, ARK_JOURNAL_SYNC, ARK_STATE_DB, ARK_GRAVEYARD_RULES, ...).\n");
}

static void print_progress(const struct ark_pipeline *p, double elapsed, double rate, const struct ark_hist *window)
{
	uint64_t errors = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		errors += atomic_load(&p->agents[a].errors);
	printf("  %6.1f s %10.0f events/s  p50 %7.1f us  p99 %7.1f us  events %llu  denials %llu  errors %llu  breaks %llu\n",
	       elapsed, rate, window->count ? (double)ark_hist_quantile(window, 0.5) / 1e3 : 0.0,
	       window->count ? (double)ark_hist_quantile(window, 0.99) / 1e3 : 0.0,
	       (unsigned long long)atomic_load(&p->agents[ARK_AGENT_ALETHEIA].events),
	       (unsigned long long)atomic_load(&p->counters.denials), (unsigned long long)errors,
	       (unsigned long long)atomic_load(&p->counters.trace_breaks));
	fflush(stdout);
}

/* window = now - before, bucket by bucket. */
static void hist_diff(struct ark_hist *window, const struct ark_hist *now, const struct ark_hist *before)
{
	ark_hist_reset(window);
	for (uint32_t b = 0; b < ARK_HIST_BUCKETS; b++) {
		uint64_t d = now->buckets[b] - before->buckets[b];
		if (!d)
			continue;
		window->buckets[b] = d;
		window->count += d;
		if (window->min == UINT64_MAX)
			window->min = ark_hist_bucket_low(b);
		window->max = ark_hist_bucket_high(b);
	}
}

/* What `ark run` was asked for. */
struct run_options {
	double rate, duration, violations;
	uint64_t seed, symbols;
	bool quiet, json;
	int feed_port;        /* -1: no feed */
	const char *instance;
};

/* Options: 0, 1 after --help (answered), 2 on a usage error (said). */
static int parse_args(struct run_options *o, int argc, char **argv)
{
	static const struct option options[] = {
		{"rate", required_argument, NULL, 'r'},       {"duration", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},       {"violations", required_argument, NULL, 'v'},
		{"symbols", required_argument, NULL, 'y'},    {"instance", required_argument, NULL, 'i'},
		{"quiet", no_argument, NULL, 'q'},            {"json", no_argument, NULL, 'j'},
		{"feed", no_argument, NULL, 'f'},             {"feed-port", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		uint64_t port;
		switch (opt) {
		case 'r': rc = ark_parse_double(optarg, 0, 1e9, "--rate", &o->rate, &err); break;
		case 'd': rc = ark_parse_double(optarg, 0.1, 86400 * 365.0, "--duration", &o->duration, &err); break;
		case 's': rc = ark_parse_u64(optarg, 0, UINT64_MAX, "--seed", &o->seed, &err); break;
		case 'v': rc = ark_parse_double(optarg, 0, 0.5, "--violations", &o->violations, &err); break;
		case 'y': rc = ark_parse_u64(optarg, 1, 4000, "--symbols", &o->symbols, &err); break;
		case 'i': o->instance = optarg; break;
		case 'q': o->quiet = true; break;
		case 'j': o->json = true; break;
		case 'f':
			if (o->feed_port < 0) {
				rc = ark_env_u64("ARK_FEED_PORT", 7070, 0, 65535, &port, &err);
				o->feed_port = (int)port;
			}
			break;
		case 'p':
			rc = ark_parse_u64(optarg, 0, 65535, "--feed-port", &port, &err);
			o->feed_port = (int)port;
			break;
		default: return ark_cli_usage(usage, opt, 1);
		}
		if (rc)
			return ark_cli_fail("run", &err, 2);
	}
	if (ark_cli_no_operands("run", argc, argv))
		return 2;
	if (o->rate > 0 && o->rate < 0.1) {
		fprintf(stderr, "ark run: --rate: expected 0 (unpaced) or from 0.1 to 1e9, got '%g'\n", o->rate);
		return 2;
	}
	return 0;
}

/* Up to tries × 10 ms for a port the process publishes in the segment. */
static unsigned wait_port(_Atomic uint32_t *port, int tries, bool (*go_on)(const struct ark_supervisor *),
			  const struct ark_supervisor *sup)
{
	for (int i = 0; i < tries && !atomic_load(port) && (!go_on || go_on(sup)); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return (unsigned)atomic_load(port);
}

/* The metrics server is among the children (it is not when disabled). */
static bool metrics_child(const struct ark_supervisor *sup)
{
	return sup->child_count > ARK_AGENT_COUNT + sup->map.pipeline->source_count;
}

/* Where the instance runs and where to look at it (not with --quiet or
 * --json; the api's and the feed's ports go to stderr then). */
static void print_start(const struct run_options *o, struct ark_supervisor *sup, bool api, const char *rate_text)
{
	struct ark_pipeline *p = sup->map.pipeline;
	bool talk = !o->quiet && !o->json;
	if (talk) {
		printf("ark run: instance %s, synthetic source at %s, %g s, seed %llu, violations %g\n", o->instance,
		       o->rate > 0 ? rate_text : "full speed", o->duration, (unsigned long long)o->seed, o->violations);
		printf("  agents: Kyle -> Joey -> HRM -> Kenny -> Aletheia (pids");
		for (int a = 0; a < ARK_AGENT_COUNT; a++)
			printf(" %d", (int)sup->children[a].pid);
		printf("), journal %s\n", sup->journal_dir);
		fflush(stdout);
	}
	unsigned metrics = wait_port(&p->metrics_port, 200, metrics_child, sup);
	if (metrics && talk) {
		printf("  metrics: %s://%s:%u/metrics  (/metrics/json, /slos, /healthz, /readyz)\n",
		       getenv("METRICS_TLS_CERT") && *getenv("METRICS_TLS_CERT") ? "https" : "http",
		       getenv("METRICS_BIND") && *getenv("METRICS_BIND") ? getenv("METRICS_BIND") : "127.0.0.1", metrics);
		fflush(stdout);
	}
	if (api) {
		unsigned port = wait_port(&p->api_port, 500, NULL, sup);
		if (talk)
			printf("  api: %s://%s:%u/v1/signals (Bearer JWT: ark token)\n",
			       getenv("API_TLS_CERT") && *getenv("API_TLS_CERT") ? "https" : "http",
			       getenv("API_BIND") && *getenv("API_BIND") ? getenv("API_BIND") : "127.0.0.1", port);
		else
			fprintf(stderr, "ark run: api listening on port %u\n", port);
		fflush(stdout);
	}
	if (o->feed_port >= 0) {
		/* The feed publishes its bound port once it listens. */
		unsigned port = wait_port(&p->feed_port, 500, NULL, sup);
		if (!o->json)
			printf("  tcp feed: listening on %s:%u\n", getenv("ARK_FEED_BIND") ? getenv("ARK_FEED_BIND") : "127.0.0.1",
			       port);
		else
			fprintf(stderr, "ark run: tcp feed listening on port %u\n", port);
		fflush(stdout);
	}
}

/* Until the run is over: restarts and limits (the supervisor), Ctrl-C
 * (drain; twice: stop now), the progress line once a second. */
static int supervise(const struct run_options *o, struct ark_supervisor *sup)
{
	struct ark_pipeline *p = sup->map.pipeline;
	struct ark_latency_record *lat = ark_pipeline_latency(&sup->map);
	struct ark_hist *before = malloc(sizeof *before), *window = malloc(sizeof *window);
	struct ark_err err = {0};
	if (!before || !window) {
		free(before);
		free(window);
		fprintf(stderr, "ark run: out of memory\n");
		ark_supervisor_stop(sup, true);
		return -1;
	}
	*before = lat->end_to_end;
	uint64_t start = ark_now_ns(), last_tick = start, last_events = 0;
	int handled_interrupts = 0;
	const char *interrupted =
		o->quiet || o->json ? NULL
				    : "  interrupted: stopping the source and draining the pipeline (Ctrl-C again to stop now)\n";
	/* A death wakes the loop at once (each process's pidfd), so a crashed
	 * agent is replaced within milliseconds; otherwise it looks every 100 ms. */
	while (!ark_supervisor_finished(sup)) {
		ark_supervisor_wait(sup, -1, 100 * 1000 * 1000);
		if (ark_cli_act_on_interrupts(sup, &handled_interrupts, interrupted))
			break;
		if (ark_supervisor_poll(sup, &err) != 0) {
			fprintf(stderr, "ark run: %s\n", err.msg);
			break;
		}
		uint64_t now = ark_now_ns();
		if (!o->quiet && !o->json && now - last_tick >= 1000 * 1000 * 1000) {
			uint64_t events = atomic_load(&p->agents[ARK_AGENT_ALETHEIA].events);
			hist_diff(window, &lat->end_to_end, before);
			*before = lat->end_to_end;
			print_progress(p, (double)(now - start) / 1e9,
				       (double)(events - last_events) * 1e9 / (double)(now - last_tick), window);
			last_tick = now;
			last_events = events;
		}
	}
	free(before);
	free(window);
	return 0;
}

static int run_main(int argc, char **argv)
{
	struct run_options o = {.rate = 10000, .duration = 10, .violations = 0.01, .seed = 1, .symbols = 64,
				.feed_port = -1, .instance = ark_pipeline_default_instance()};
	int rc = parse_args(&o, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	/* Settings every agent reads: refuse bad ones here, before anything starts. */
	struct ark_err err = {0};
	struct ark_preflight pre;
	if (ark_preflight_check(&pre, &err))
		return ark_cli_fail("run", &err, 2);

	char rate_text[32], duration_text[32], seed_text[32], violations_text[32], symbols_text[32];
	snprintf(rate_text, sizeof rate_text, "%.17g", o.rate);
	snprintf(duration_text, sizeof duration_text, "%.17g", o.duration);
	snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)o.seed);
	snprintf(violations_text, sizeof violations_text, "%.17g", o.violations);
	snprintf(symbols_text, sizeof symbols_text, "%llu", (unsigned long long)o.symbols);
	/* The synthetic market clock starts at the wall clock, so its ticks
	 * share one market timeline with any real source beside it (the TCP
	 * feed, the ingest API, Alpha Vantage) and HRM's reference ages mean
	 * the same for all of them. Decisions depend on the times' differences
	 * only, so a seed still repeats its decisions. */
	const char *source_args[] = {"--rate", rate_text, "--duration", duration_text, "--seed", seed_text,
				     "--violations", violations_text, "--symbols", symbols_text, "--start-now", NULL};
	struct ark_supervisor_options run_options = {
		.notice = ark_cli_print_notice, .instance = o.instance, .source_args = source_args,
		.feed_port = o.feed_port, .api = pre.api, .alpha_vantage = pre.alpha_vantage};
	struct ark_supervisor sup;
	rc = ark_supervisor_start(&sup, &run_options, &err);
	if (rc)
		return ark_cli_fail("run", &err, ark_supervisor_start_status(&sup, rc));
	ark_cli_catch_interrupts();
	print_start(&o, &sup, pre.api, rate_text);
	uint64_t start = ark_now_ns();
	if (supervise(&o, &sup))
		return 1;
	ark_supervisor_stop(&sup, false);
	double elapsed = (double)(ark_now_ns() - start) / 1e9;

	struct ark_run_summary summary;
	ark_supervisor_summary(&sup, elapsed, &summary);
	if (o.json)
		ark_run_summary_print_json(&summary, stdout);
	else
		ark_run_summary_print(&summary, stdout);
	int status = summary.ok ? 0 : sup.config_failed ? 2 : 1;
	ark_supervisor_close(&sup);
	return status;
}

ARK_COMMAND(run_command, "run", "run the pipeline on the synthetic source, with live progress and a summary",
	    run_main)
