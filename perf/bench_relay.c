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

static int relay_bench_main(int argc, char **argv)
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
	/* --quick changes the defaults, and explicit options override them:
	 * look for it first. */
	bool quick = false, json = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
	struct ark_err err = {0};
	struct ark_perf_relay_options o;
	if (ark_perf_relay_options_init(&o, quick, &err)) {
		fprintf(stderr, "ark perf relay: %s\n", err.msg);
		return 2;
	}
	o.progress = stderr;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int rc = 0;
		uint64_t v = 0;
		switch (opt) {
		case 'c': rc = ark_parse_cpu_list(optarg, o.cpus, STAGES, &o.cpu_count, "--cpus", &err); break;
		case 'r':
			rc = ark_parse_u64(optarg, 1, ARK_PERF_RELAY_MAX_RUNS, "--runs", &v, &err);
			o.runs = (uint32_t)v;
			break;
		case 'd':
			rc = ark_parse_u64(optarg, 10, 600000, "--duration", &v, &err);
			o.duration_ns = v * MS;
			break;
		case 'R': rc = ark_parse_u64(optarg, 1, 10000000, "--rate", &o.rate_hz, &err); break;
		case 'n': rc = ark_parse_u64(optarg, 10, 100000000, "--latency-events", &o.latency_events, &err); break;
		case 'C':
			rc = ark_parse_u64(optarg, 2, 1u << 20, "--capacity", &v, &err);
			o.ring_capacity = (uint32_t)v;
			break;
		case 'b':
			rc = ark_parse_u64(optarg, 1, MAX_BATCH, "--batch", &v, &err);
			o.batch = (uint32_t)v;
			break;
		case 'k':
			rc = ark_parse_u64(optarg, 1, MAX_BATCH, "--redis-count", &v, &err);
			o.redis_count = (uint32_t)v;
			break;
		case 'w':
			rc = ark_parse_u64(optarg, 1, 1000000, "--redis-window", &v, &err);
			o.redis_window = (uint32_t)v;
			break;
		case 'L': rc = ark_parse_u64(optarg, 0, 10000000, "--low-rate", &o.low_rate_hz, &err); break;
		case 'N': rc = ark_parse_u64(optarg, 10, 100000000, "--low-rate-events", &o.low_rate_events, &err); break;
		case 's': o.redis_server = optarg; break;
		case 't': rc = ark_perf_relay_parse_transports(optarg, &o.transports, &err); break;
		case 'q': break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (rc) {
			fprintf(stderr, "ark perf relay: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark perf relay: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	struct ark_perf_relay_result *r = calloc(1, sizeof *r);
	if (!r) {
		fprintf(stderr, "ark perf relay: out of memory\n");
		return 1;
	}
	int rc = ark_perf_relay_run(&o, r, &err);
	if (rc) {
		fprintf(stderr, "ark perf relay: %s\n", err.msg);
		free(r);
		return rc == -EINVAL ? 2 : 1;
	}
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "benchmark", "relay");
		ark_perf_json_machine(&j);
		ark_json_object_begin(&j, "headline");
		ark_perf_relay_json_headline(&j, r);
		ark_json_object_end(&j);
		ark_perf_relay_json_details(&j, "relay", &o, r);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		ark_perf_print_machine(stdout);
		printf("\n");
		ark_perf_relay_print_table(stdout, &o, r);
	}
	free(r);
	return 0;
}

ARK_PERF_BENCH(relay_bench, "relay", "five-stage relay: rings vs pipes, Unix sockets and Redis streams",
	       relay_bench_main)
