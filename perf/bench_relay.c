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

/* The flags that are not a plain value: --cpus, --duration (ms), --transports;
 * --quick was seen before the loop. */
static int store_option(int id, const char *arg, void *opts, struct ark_err *err)
{
	struct ark_perf_relay_options *o = &((struct options *)opts)->relay;
	uint64_t v = 0;
	int rc = 0;
	switch (id) {
	case 'c': return ark_parse_cpu_list(arg, o->cpus, STAGES, &o->cpu_count, "--cpus", err);
	case 'd':
		if (!(rc = ark_parse_u64(arg, 10, 600000, "--duration", &v, err)))
			o->duration_ns = v * MS;
		return rc;
	case 't': return ark_perf_relay_parse_transports(arg, &o->transports, err);
	default: return 0;
	}
}

#define OPT(member) offsetof(struct options, relay.member)
static const struct ark_perf_flag flags[] = {
	{"cpus", 'c', ARK_PERF_FLAG_CUSTOM, 0, 0, 0},
	{"runs", 'r', ARK_PERF_FLAG_U32, OPT(runs), 1, ARK_PERF_RELAY_MAX_RUNS},
	{"duration", 'd', ARK_PERF_FLAG_CUSTOM, 0, 0, 0},
	{"rate", 'R', ARK_PERF_FLAG_U64, OPT(rate_hz), 1, 10000000},
	{"latency-events", 'n', ARK_PERF_FLAG_U64, OPT(latency_events), 10, 100000000},
	{"capacity", 'C', ARK_PERF_FLAG_U32, OPT(ring_capacity), 2, 1u << 20},
	{"batch", 'b', ARK_PERF_FLAG_U32, OPT(batch), 1, MAX_BATCH},
	{"redis-count", 'k', ARK_PERF_FLAG_U32, OPT(redis_count), 1, MAX_BATCH},
	{"redis-window", 'w', ARK_PERF_FLAG_U32, OPT(redis_window), 1, 1000000},
	{"redis-server", 's', ARK_PERF_FLAG_STRING, OPT(redis_server), 0, 0},
	{"transports", 't', ARK_PERF_FLAG_CUSTOM, 0, 0, 0},
	{"quick", 'q', ARK_PERF_FLAG_CUSTOM0, 0, 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, offsetof(struct options, json), 0, 0},
	{"low-rate", 'L', ARK_PERF_FLAG_U64, OPT(low_rate_hz), 0, 10000000},
	{"low-rate-events", 'N', ARK_PERF_FLAG_U64, OPT(low_rate_events), 10, 100000000},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct ark_perf_cli cli = {
		.bench = "relay", .flags = flags, .usage = usage, .option = store_option};
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
