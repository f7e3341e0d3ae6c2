/* perf/bench_relay.c — `ark perf relay`: the five-stage relay over rings,
 * pipes, Unix sockets and Redis streams (perf/relay.h), measured and
 * reported. The relay itself is in relay_transports.c (the stages),
 * relay_run.c (a run), relay_options.c and relay_report.c. */
#include "perf/relay.h"
#include "perf/relay_internal.h"

#include "common/common.h"
#include "event/event.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "ring/ring.h"
#include "shm/shm.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- `ark perf relay` ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf relay [--cpus LIST] [--runs N] [--duration MS] [--rate HZ] [--latency-events N]\n"
		"                      [--low-rate HZ] [--low-rate-events N]\n"
		"                      [--capacity N] [--batch N] [--redis-count N] [--redis-window N]\n"
		"                      [--redis-server PATH] [--transports LIST] [--quick] [--json]\n\n"
		"The same five-stage relay of the 256-byte event (Kyle -> Joey -> HRM -> Kenny ->\n"
		"Aletheia, five processes, four hops) over the shm rings, pipes, Unix sockets and\n"
		"Redis streams (XADD, XREAD BLOCK per hop; a redis-server of its own on loopback,\n"
		"stopped at the end). Throughput at Aletheia, and end-to-end latency at a paced rate.\n"
		"Every baseline at its best: pipes and sockets write a batch per write(), Redis is\n"
		"also measured pipelined (the headline compares with the strongest Redis case).\n\n"
		"  --cpus LIST          pin stage i to the (i mod n)-th CPU of LIST, e.g. 0,1\n"
		"  --runs N             measured runs per measurement after a warm-up (default 3)\n"
		"  --duration MS        length of each throughput run (default 500)\n"
		"  --rate HZ            Kyle's rate in latency runs (default 10000)\n"
		"  --latency-events N   events per latency run (default 10000)\n"
		"  --low-rate HZ        also the latency of rings and redis_pipelined at this rate (default 1000; 0: off)\n"
		"  --low-rate-events N  events per low-rate run (default 1000)\n"
		"  --capacity N         ring capacity, a power of two (default 4096)\n"
		"  --batch N            most events a stage takes at once (default 64)\n"
		"  --redis-count N      XREAD COUNT of the redis cases, and the pipelined case's batch (default 100)\n"
		"  --redis-window N     events Kyle may have in flight over Redis (default 16384)\n"
		"  --redis-server PATH  the redis-server to start (default: redis-server on PATH)\n"
		"  --transports LIST    rings,pipes,unix,redis,redis_count1,redis_pipelined (default all)\n"
		"  --quick              one short run of each (a smoke test, not a measurement)\n"
		"  --json               print one JSON object (headline figures under \"headline\")\n"
		"ARK_WAIT and ARK_WAIT_SPIN_US choose the rings' wait strategy (default adaptive).\n"
		"Progress goes to stderr; the table or JSON to stdout.\n");
}

struct options {
	struct ark_perf_relay_options relay;
	bool json;
};

/* A count that the relay's options hold in 32 bits. */
static int parse_u32(const char *arg, uint64_t min, uint64_t max, const char *what, uint32_t *out,
		     struct ark_err *err)
{
	uint64_t v = 0;
	int rc = ark_parse_u64(arg, min, max, what, &v, err);
	if (!rc)
		*out = (uint32_t)v;
	return rc;
}

static int store_option(int opt, const char *arg, void *opts, struct ark_err *err)
{
	struct ark_perf_relay_options *o = &((struct options *)opts)->relay;
	uint64_t v = 0;
	int rc = 0;
	switch (opt) {
	case 'c': return ark_parse_cpu_list(arg, o->cpus, STAGES, &o->cpu_count, "--cpus", err);
	case 'r': return parse_u32(arg, 1, ARK_PERF_RELAY_MAX_RUNS, "--runs", &o->runs, err);
	case 'd':
		if (!(rc = ark_parse_u64(arg, 10, 600000, "--duration", &v, err)))
			o->duration_ns = v * MS;
		return rc;
	case 'R': return ark_parse_u64(arg, 1, 10000000, "--rate", &o->rate_hz, err);
	case 'n': return ark_parse_u64(arg, 10, 100000000, "--latency-events", &o->latency_events, err);
	case 'C': return parse_u32(arg, 2, 1u << 20, "--capacity", &o->ring_capacity, err);
	case 'b': return parse_u32(arg, 1, MAX_BATCH, "--batch", &o->batch, err);
	case 'k': return parse_u32(arg, 1, MAX_BATCH, "--redis-count", &o->redis_count, err);
	case 'w': return parse_u32(arg, 1, 1000000, "--redis-window", &o->redis_window, err);
	case 'L': return ark_parse_u64(arg, 0, 10000000, "--low-rate", &o->low_rate_hz, err);
	case 'N': return ark_parse_u64(arg, 10, 100000000, "--low-rate-events", &o->low_rate_events, err);
	case 's': o->redis_server = arg; return 0;
	case 't': return ark_perf_relay_parse_transports(arg, &o->transports, err);
	case 'q': return 0;
	case 'j': ((struct options *)opts)->json = true; return 0;
	default: return 1;
	}
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"cpus", required_argument, NULL, 'c'},           {"runs", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},       {"rate", required_argument, NULL, 'R'},
		{"latency-events", required_argument, NULL, 'n'}, {"capacity", required_argument, NULL, 'C'},
		{"batch", required_argument, NULL, 'b'},          {"redis-count", required_argument, NULL, 'k'},
		{"redis-window", required_argument, NULL, 'w'},   {"redis-server", required_argument, NULL, 's'},
		{"transports", required_argument, NULL, 't'},     {"quick", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},                 {"help", no_argument, NULL, 'h'},
		{"low-rate", required_argument, NULL, 'L'},       {"low-rate-events", required_argument, NULL, 'N'},
		{NULL, 0, NULL, 0}};
	static const struct ark_perf_cli cli = {
		.bench = "relay", .longopts = longopts, .usage = usage, .option = store_option};
	/* --quick changes the defaults, and explicit options override them:
	 * look for it first. */
	bool quick = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
	struct ark_err err = {0};
	o->json = false;
	if (ark_perf_relay_options_init(&o->relay, quick, &err)) {
		fprintf(stderr, "ark perf relay: %s\n", err.msg);
		return 2;
	}
	o->relay.progress = stderr;
	return ark_perf_parse_options(&cli, argc, argv, o);
}

static int relay_bench_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	struct ark_err err = {0};
	struct ark_perf_relay_result *r = calloc(1, sizeof *r);
	if (!r) {
		fprintf(stderr, "ark perf relay: out of memory\n");
		return 1;
	}
	rc = ark_perf_relay_run(&o.relay, r, &err);
	if (rc) {
		fprintf(stderr, "ark perf relay: %s\n", err.msg);
		free(r);
		return rc == -EINVAL ? 2 : 1;
	}
	if (o.json) {
		struct ark_json j;
		ark_perf_json_begin(&j, "relay");
		ark_json_object_begin(&j, "headline");
		ark_perf_relay_json_headline(&j, r);
		ark_json_object_end(&j);
		ark_perf_relay_json_details(&j, "relay", &o.relay, r);
		ark_perf_json_end(&j);
	} else {
		ark_perf_print_machine(stdout);
		printf("\n");
		ark_perf_relay_print_table(stdout, &o.relay, r);
	}
	free(r);
	return 0;
}

ARK_PERF_BENCH(relay_bench, "relay", "five-stage relay: rings vs pipes, Unix sockets and Redis streams",
	       relay_bench_main)
