/* perf/bench_pipeline.c — `ark perf pipeline`: the real pipeline (five agent
 * processes, the synthetic source, the journal and the Mutable Core on,
 * adaptive waits, agents pinned across the CPUs) at fixed rates and at the
 * maximum; and in the same run the transport comparison of perf/relay.h
 * (the same five-stage relay over rings, pipes, Unix sockets and Redis
 * streams, as the original ARK did it).
 *
 * Each pipeline case runs `ark run` (this executable) in a fresh temporary
 * data directory and instance, reads its JSON summary (end-to-end latency
 * from Aletheia's histogram of every event's own stamps), several runs per
 * rate, medians reported. */
#include "common/common.h"
#include "perf/perf.h"
#include "perf/relay.h"
#include "pipeline/pipeline.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RUNS 9
#define MAX_RATES 8

struct pipeline_case {
	double rate;              /* 0 = maximum */
	double eps[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS], p999[MAX_RUNS], max[MAX_RUNS];
	int runs;
	uint64_t events;
	bool ok;
};

static double json_field(const char *json, const char *key)
{
	char pattern[64];
	snprintf(pattern, sizeof pattern, "\"%s\":", key);
	const char *p = strstr(json, pattern);
	return p ? strtod(p + strlen(pattern), NULL) : NAN;
}

/* While `ark run` runs, GET /metrics `hz` times a second (a scraper). */
static void scrape_loop(const char *instance, double hz)
{
	struct ark_pipeline_map map;
	struct ark_err err;
	uint16_t port = 0;
	for (int i = 0; i < 500 && !port; i++) {
		if (ark_pipeline_attach(&map, instance, &err) == 0) {
			port = (uint16_t)atomic_load(&map.pipeline->metrics_port);
			ark_pipeline_detach(&map);
		}
		if (!port)
			usleep(10000);
	}
	if (!port)
		_exit(1);
	uint64_t period = (uint64_t)(1e9 / hz), next = ark_now_ns();
	char buf[65536];
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
			static const char request[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
			if (write(fd, request, sizeof request - 1) > 0)
				while (read(fd, buf, sizeof buf) > 0)
					;
		}
		if (fd >= 0)
			close(fd);
		next += period;
		uint64_t now = ark_now_ns();
		if (next > now)
			usleep((useconds_t)((next - now) / 1000));
	}
}

int ark_perf_run_pipeline(double rate, double duration, int cpus, double scrape_hz, double *eps, double *p50,
			  double *p99, double *p999, double *max, uint64_t *events, struct ark_err *err)
{
	char dir[] = "/tmp/ark-perf-pipeline-XXXXXX";
	if (!mkdtemp(dir))
		return ark_err_set(err, -errno, "cannot make a temporary directory: %s", strerror(errno));
	char exe[PATH_MAX], out[PATH_MAX], instance[64], rate_text[32], duration_text[32];
	int exe_rc = ark_self_exe(exe, sizeof exe, err);
	if (exe_rc)
		return exe_rc;
	snprintf(out, sizeof out, "%s/summary.json", dir);
	snprintf(instance, sizeof instance, "perf%d", (int)getpid());
	snprintf(rate_text, sizeof rate_text, "%g", rate);
	snprintf(duration_text, sizeof duration_text, "%g", duration);
	pid_t pid = fork();
	if (pid < 0)
		return ark_err_set(err, -errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		close(fd);
		setenv("ARK_DATA_DIR", dir, 1);
		setenv("ARK_INSTANCE", instance, 1);
		unsetenv("ARK_STATE_DB");
		unsetenv("ARK_GRAVEYARD_RULES");
		unsetenv("ARK_LOG_DIR");
		setenv("METRICS_PORT", "0", 1);
		if (!getenv("ARK_WAIT"))
			setenv("ARK_WAIT", "adaptive", 1);
		if (cpus > 1) {
			/* Across both cores: neighbours on the ring on different CPUs. */
			static const char *const vars[] = {"ARK_CPU_SOURCE", "ARK_CPU_KYLE", "ARK_CPU_JOEY", "ARK_CPU_HRM",
							   "ARK_CPU_KENNY", "ARK_CPU_ALETHEIA"};
			for (size_t i = 0; i < ARK_ARRAY_LEN(vars); i++) {
				char cpu[8];
				snprintf(cpu, sizeof cpu, "%zu", i % (size_t)cpus);
				setenv(vars[i], cpu, 1);
			}
		}
		execl(exe, "ark", "run", "--rate", rate_text, "--duration", duration_text, "--violations", "0.001",
		      "--json", "--quiet", (char *)NULL);
		_exit(127);
	}
	pid_t scraper = -1;
	if (scrape_hz > 0) {
		scraper = fork();
		if (scraper == 0)
			scrape_loop(instance, scrape_hz);
	}
	int status;
	waitpid(pid, &status, 0);
	if (scraper > 0) {
		kill(scraper, SIGKILL);
		waitpid(scraper, NULL, 0);
	}
	char json[8192] = "";
	FILE *f = fopen(out, "r");
	if (f) {
		size_t r = fread(json, 1, sizeof json - 1, f);
		json[r] = '\0';
		fclose(f);
	}
	if (ark_perf_remove_tree(dir) != 0)
		fprintf(stderr, "ark perf pipeline: could not remove %s\n", dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ark_err_set(err, -EIO, "ark run at rate %g ended with status 0x%x: %s", rate, status, json);
	*events = (uint64_t)json_field(json, "events");
	*eps = json_field(json, "sustained_eps");
	*p50 = json_field(json, "e2e_p50_us");
	*p99 = json_field(json, "e2e_p99_us");
	*p999 = json_field(json, "e2e_p999_us");
	*max = json_field(json, "e2e_max_us");
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf pipeline [--runs N] [--duration S] [--rates LIST] [--no-relay] [--quick] [--json]\n\n"
		"Sustained throughput and end-to-end latency (p50, p99, p99.9, max) of the real\n"
		"pipeline with the journal and Mutable Core on, adaptive waits, agents pinned across\n"
		"the CPUs, at fixed rates and at the maximum; then the transport comparison: the same\n"
		"five-stage relay over the rings, pipes, Unix sockets and Redis streams (its own\n"
		"redis-server on loopback).\n\n"
		"  --runs N       runs per rate (default 3; the median is reported)\n"
		"  --duration S   seconds per run (default 5)\n"
		"  --rates LIST   comma-separated Hz, 0 = maximum (default 1000,10000,100000,0)\n"
		"  --no-relay     skip the transport comparison\n"
		"  --quick        one short run per rate and a quick relay (a smoke test)\n"
		"  --json         one JSON object; headline: pipeline_max_eps, pipeline_10khz_p50_us,\n"
		"                 pipeline_10khz_p99_us, relay_rings_eps, relay_redis_eps,\n"
		"                 relay_rings_vs_redis_throughput_ratio, relay_redis_vs_rings_p99_ratio\n");
}

static const struct pipeline_case *find_rate(const struct pipeline_case *cases, int count, double rate)
{
	for (int i = 0; i < count; i++)
		if (cases[i].rate == rate && cases[i].ok)
			return &cases[i];
	return NULL;
}

struct options {
	uint64_t runs;
	double duration;
	double rates[MAX_RATES];
	int rate_count;
	bool relay, quick, json;
};

/* --rates 1000,10000,0: at most MAX_RATES rates, 0 the maximum. */
static int parse_rates(const char *arg, struct options *o, struct ark_err *err)
{
	char copy[256];
	int rc = 0;
	snprintf(copy, sizeof copy, "%s", arg);
	o->rate_count = 0;
	for (char *tok = strtok(copy, ","); tok && !rc; tok = strtok(NULL, ",")) {
		if (o->rate_count == MAX_RATES)
			rc = ark_err_set(err, -EINVAL, "--rates: at most %d rates", MAX_RATES);
		else
			rc = ark_parse_double(tok, 0, 1e9, "--rates", &o->rates[o->rate_count++], err);
	}
	if (!rc && o->rate_count == 0)
		rc = ark_err_set(err, -EINVAL, "--rates: expected a list such as 1000,10000,0");
	return rc;
}

static int store_option(int id, const char *arg, void *opts, struct ark_err *err)
{
	(void)id;   /* --rates, the one custom flag */
	return parse_rates(arg, opts, err);
}

#define OPT(member) offsetof(struct options, member)
static const struct ark_perf_flag flags[] = {
	{"runs", 'r', ARK_PERF_FLAG_U64, OPT(runs), 1, MAX_RUNS},
	{"duration", 'd', ARK_PERF_FLAG_DOUBLE, OPT(duration), 0.5, 600},
	{"rates", 'R', ARK_PERF_FLAG_CUSTOM, 0, 0, 0},
	{"no-relay", 'n', ARK_PERF_FLAG_FALSE, OPT(relay), 0, 0},
	{"quick", 'q', ARK_PERF_FLAG_TRUE, OPT(quick), 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct ark_perf_cli cli = {
		.bench = "pipeline", .flags = flags, .usage = usage, .option = store_option};
	*o = (struct options){.runs = 3, .duration = 5, .rates = {1000, 10000, 100000, 0}, .rate_count = 4,
			      .relay = true};
	int rc = ark_perf_parse_options(&cli, argc, argv, o);
	if (rc == ARK_PERF_RUN && o->quick) {
		o->runs = 1;
		o->duration = ARK_MIN(o->duration, 1.5);
	}
	return rc;
}

/* Every rate, o->runs times: 0, or 1 with the error printed. */
static int run_rates(const struct options *o, int cpus, struct pipeline_case cases[MAX_RATES])
{
	struct ark_err err = {0};
	memset(cases, 0, sizeof(struct pipeline_case) * MAX_RATES);
	for (int i = 0; i < o->rate_count; i++) {
		struct pipeline_case *c = &cases[i];
		c->rate = o->rates[i];
		for (uint64_t r = 0; r < o->runs; r++) {
			uint64_t events = 0;
			if (ark_perf_run_pipeline(c->rate, o->duration, cpus, 0, &c->eps[r], &c->p50[r], &c->p99[r], &c->p999[r], &c->max[r],
					 &events, &err)) {
				fprintf(stderr, "ark perf pipeline: %s\n", err.msg);
				return 1;
			}
			c->events += events;
			c->runs++;
			fprintf(stderr, "  pipeline %-10s run %llu: %10.0f events/s  p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %9.1f us\n",
				c->rate > 0 ? "" : "max", (unsigned long long)r + 1, c->eps[r], c->p50[r], c->p99[r], c->p999[r],
				c->max[r]);
		}
		c->ok = true;
	}
	return 0;
}

/* The relay comparison, on the first CPUs: 1 when it ran, 0 when it failed
 * (the error printed), -2 for bad relay options. */
static int run_relay(const struct options *o, int cpus, struct ark_perf_relay_options *relay_options,
		     struct ark_perf_relay_result *relay_result)
{
	struct ark_err err = {0};
	if (ark_perf_relay_options_init(relay_options, o->quick, &err)) {
		fprintf(stderr, "ark perf pipeline: %s\n", err.msg);
		return -2;
	}
	relay_options->progress = stderr;
	if (cpus > 1) {
		relay_options->cpu_count = cpus < ARK_PERF_RELAY_STAGES ? cpus : ARK_PERF_RELAY_STAGES;
		for (int i = 0; i < relay_options->cpu_count; i++)
			relay_options->cpus[i] = i;
	}
	if (ark_perf_relay_run(relay_options, relay_result, &err)) {
		fprintf(stderr, "ark perf pipeline: relay: %s\n", err.msg);
		return 0;
	}
	return 1;
}

static void report_json(const struct options *o, const struct pipeline_case *cases, bool relay_ok,
			const struct ark_perf_relay_options *relay_options,
			const struct ark_perf_relay_result *relay_result)
{
	const struct pipeline_case *max_case = find_rate(cases, o->rate_count, 0);
	const struct pipeline_case *k10 = find_rate(cases, o->rate_count, 10000);
	struct ark_json j;
	ark_perf_json_begin(&j, "pipeline");
	ark_json_number(&j, "runs", (double)o->runs);
	ark_json_number(&j, "duration_s", o->duration);
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "pipeline_max_eps", max_case ? ark_perf_median(max_case->eps, max_case->runs) : NAN);
	ark_json_number(&j, "pipeline_10khz_p50_us", k10 ? ark_perf_median(k10->p50, k10->runs) : NAN);
	ark_json_number(&j, "pipeline_10khz_p99_us", k10 ? ark_perf_median(k10->p99, k10->runs) : NAN);
	if (relay_ok)
		ark_perf_relay_json_headline(&j, relay_result);
	ark_json_object_end(&j);
	ark_json_array_begin(&j, "pipeline");
	for (int i = 0; i < o->rate_count; i++) {
		const struct pipeline_case *c = &cases[i];
		ark_json_object_begin(&j, NULL);
		ark_json_number(&j, "rate_hz", c->rate);
		ark_json_bool(&j, "maximum", c->rate == 0);
		ark_json_number(&j, "eps", ark_perf_median(c->eps, c->runs));
		ark_json_number(&j, "p50_us", ark_perf_median(c->p50, c->runs));
		ark_json_number(&j, "p99_us", ark_perf_median(c->p99, c->runs));
		ark_json_number(&j, "p999_us", ark_perf_median(c->p999, c->runs));
		ark_json_number(&j, "max_us", ark_perf_median(c->max, c->runs));
		ark_json_number(&j, "events", (double)c->events);
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	if (relay_ok)
		ark_perf_relay_json_details(&j, "relay", relay_options, relay_result);
	ark_perf_json_end(&j);
}

static void report_table(const struct options *o, const struct pipeline_case *cases, bool relay_ok,
			 const struct ark_perf_relay_options *relay_options,
			 const struct ark_perf_relay_result *relay_result)
{
	ark_perf_print_machine(stdout);
	printf("\n%-12s %14s %10s %10s %10s %10s\n", "rate", "events/s", "p50 us", "p99 us", "p99.9 us", "max us");
	for (int i = 0; i < o->rate_count; i++) {
		const struct pipeline_case *c = &cases[i];
		char label[32];
		snprintf(label, sizeof label, c->rate > 0 ? "%.0f Hz" : "maximum", c->rate);
		printf("%-12s %14.0f %10.1f %10.1f %10.1f %10.1f\n", label, ark_perf_median(c->eps, c->runs),
		       ark_perf_median(c->p50, c->runs), ark_perf_median(c->p99, c->runs),
		       ark_perf_median(c->p999, c->runs), ark_perf_median(c->max, c->runs));
	}
	if (relay_ok) {
		printf("\n");
		ark_perf_relay_print_table(stdout, relay_options, relay_result);
	}
}

static int pipeline_bench_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	int cpus = ark_cpu_count();
	struct pipeline_case cases[MAX_RATES];
	if (run_rates(&o, cpus, cases))
		return 1;
	struct ark_perf_relay_options relay_options;
	struct ark_perf_relay_result *relay_result = calloc(1, sizeof *relay_result);
	if (!relay_result)
		return 1;
	bool relay_ok = false;
	if (o.relay) {
		int relay = run_relay(&o, cpus, &relay_options, relay_result);
		if (relay < 0) {
			free(relay_result);
			return 2;
		}
		relay_ok = relay == 1;
	}
	if (o.json)
		report_json(&o, cases, relay_ok, &relay_options, relay_result);
	else
		report_table(&o, cases, relay_ok, &relay_options, relay_result);
	free(relay_result);
	return 0;
}

ARK_PERF_BENCH(pipeline_bench, "pipeline", "the five-agent pipeline at fixed rates and at the maximum, and the relay over rings/pipes/sockets/Redis",
	       pipeline_bench_main)
