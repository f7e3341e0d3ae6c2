/* perf/bench_recovery.c — `ark perf recovery`: how fast a killed agent is
 * back at work, and that nothing is lost or doubled while it happens.
 *
 * Runs the real pipeline (`ark run`, paced, journal and Mutable Core on) and,
 * every --interval, SIGKILLs a random agent and times from the kill to its
 * replacement handling its first event (a new pid, state running, its event
 * counter moving). Afterwards it reads the whole journal: every sequence
 * number from the first to the last must be there exactly once. */
#include "pipeline/pipeline.h"
#include "common/common.h"
#include "perf/perf.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_KILLS 1000

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double percentile(double *sorted, int n, double q)
{
	if (n == 0)
		return NAN;
	int i = (int)ceil(q * n) - 1;
	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

#define RECOVERY_DEADLINE_NS (120ull * 1000 * 1000 * 1000)

static void usage(FILE *out)
{
	fprintf(out, "usage: ark perf recovery [--kills N] [--interval MS] [--rate HZ] [--quick] [--json]\n\n"
		     "Runs the pipeline and SIGKILLs a random agent every interval; reports the time\n"
		     "from each kill to the replacement handling its first event (p50, p99, max), and\n"
		     "reads the journal for events lost or duplicated (both must be 0).\n\n"
		     "  --kills N       agents killed (default 40)\n"
		     "  --interval MS   between kills (default 250)\n"
		     "  --rate HZ       the synthetic source's rate (default 5000)\n"
		     "  --quick         6 kills (a smoke test)\n"
		     "  --json          one JSON object; headline: restart_p50_ms, restart_p99_ms,\n"
		     "                  events_lost, events_duplicated\n");
}

static int attach_running(const char *instance, struct ark_pipeline_map *map)
{
	struct ark_err err;
	for (int i = 0; i < 1000; i++) {
		if (ark_pipeline_attach(map, instance, &err) == 0) {
			bool all = true;
			for (int a = 0; a < ARK_AGENT_COUNT; a++)
				all &= atomic_load(&map->pipeline->agents[a].state) == ARK_PROC_RUNNING;
			if (all && atomic_load(&map->pipeline->agents[ARK_AGENT_ALETHEIA].events) > 0)
				return 0;
			ark_pipeline_detach(map);
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* Sequence numbers in the journal: how many are missing from first..last,
 * and how many records repeat a seq already seen. */
static int journal_audit(const char *dir, uint64_t *records, uint64_t *lost, uint64_t *duplicated, uint64_t *filled,
			 struct ark_err *err)
{
	*filled = 0;
	struct ark_journal_reader *reader;
	int rc = ark_journal_reader_open(&reader, dir, err);
	if (!rc)
		rc = ark_journal_reader_seek(reader, 0, err);
	uint64_t first = 0, last = 0, n = 0, dups = 0, expect = 0;
	while (!rc) {
		struct ark_journal_record rec;
		int r = ark_journal_reader_next(reader, &rec, err);
		if (r == -EAGAIN)
			break;
		if (r) {
			rc = r;
			break;
		}
		if (n == 0)
			first = expect = rec.seq;
		if (rec.seq < expect) {
			dups++;                 /* the journal refuses this; counted all the same */
		} else {
			expect = rec.seq + 1;
			const struct ark_event *e = (const struct ark_event *)rec.payload;
			if (rec.len == sizeof *e && e->exec_status == ARK_EXEC_FILLED)
				(*filled)++;
		}
		last = rec.seq > last ? rec.seq : last;
		n++;
	}
	ark_journal_reader_close(reader);
	*records = n;
	*duplicated = dups;
	*lost = n ? (last - first + 1) - (n - dups) : 0;
	return rc;
}

static int recovery_main(int argc, char **argv)
{
	static const struct option options[] = {
		{"kills", required_argument, NULL, 'k'}, {"interval", required_argument, NULL, 'i'},
		{"rate", required_argument, NULL, 'r'},  {"quick", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},        {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct ark_err err = {0};
	uint64_t kills = 40, interval_ms = 250, rate = 5000;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'k': rc = ark_parse_u64(optarg, 1, MAX_KILLS, "--kills", &kills, &err); break;
		case 'i': rc = ark_parse_u64(optarg, 50, 60000, "--interval", &interval_ms, &err); break;
		case 'r': rc = ark_parse_u64(optarg, 10, 1000000, "--rate", &rate, &err); break;
		case 'q': kills = 6; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (rc) {
			fprintf(stderr, "ark perf recovery: %s\n", err.msg);
			return 2;
		}
	}
	char dir[] = "/tmp/ark-perf-recovery-XXXXXX";
	if (!mkdtemp(dir)) {
		fprintf(stderr, "ark perf recovery: cannot make a temporary directory: %s\n", strerror(errno));
		return 1;
	}
	char exe[PATH_MAX], out[PATH_MAX], instance[64], rate_text[32], duration_text[32], journal[PATH_MAX];
	struct ark_err exe_err = {0};
	if (ark_self_exe(exe, sizeof exe, &exe_err)) {
		fprintf(stderr, "ark perf recovery: %s\n", exe_err.msg);
		return 1;
	}
	snprintf(out, sizeof out, "%s/summary.json", dir);
	snprintf(journal, sizeof journal, "%s/journal", dir);
	snprintf(instance, sizeof instance, "recovery%d", (int)getpid());
	snprintf(rate_text, sizeof rate_text, "%llu", (unsigned long long)rate);
	/* The run lasts until the kills are done (then Ctrl-C, as an operator
	 * stops it): a slow recovery on a loaded machine never outlasts it. */
	snprintf(duration_text, sizeof duration_text, "%d", 86400);
	pid_t run = fork();
	if (run == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		setenv("ARK_DATA_DIR", dir, 1);
		setenv("ARK_INSTANCE", instance, 1);
		setenv("METRICS_SERVER_ENABLED", "false", 1);
		unsetenv("ARK_STATE_DB");
		unsetenv("ARK_GRAVEYARD_RULES");
		unsetenv("ARK_LOG_DIR");
		execl(exe, "ark", "run", "--rate", rate_text, "--duration", duration_text, "--violations", "0.01", "--json",
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	struct ark_pipeline_map map;
	if (attach_running(instance, &map)) {
		fprintf(stderr, "ark perf recovery: the pipeline did not start\n");
		kill(run, SIGKILL);
		waitpid(run, NULL, 0);
		return 1;
	}
	static double samples[MAX_KILLS];
	static double by_agent[ARK_AGENT_COUNT][MAX_KILLS];
	int counts[ARK_AGENT_COUNT] = {0}, done = 0, timeouts = 0;
	uint64_t rng = ark_now_ns() | 1;
	for (uint64_t k = 0; k < kills; k++) {
		usleep((useconds_t)(interval_ms * 1000));
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		int a = (int)(rng % ARK_AGENT_COUNT);
		struct ark_agent_control *c = &map.pipeline->agents[a];
		pid_t old = atomic_load(&c->pid);
		uint64_t events = atomic_load(&c->events);
		if (old <= 0 || kill(old, SIGKILL) != 0)
			continue;
		/* A replacement that is slow to come is a figure (restart_max_ms);
		 * one that never comes (within two minutes) is a failure. */
		uint64_t t0 = ark_now_ns(), t1 = 0;
		while (ark_now_ns() - t0 < RECOVERY_DEADLINE_NS) {
			pid_t now_pid = atomic_load(&c->pid);
			if (now_pid > 0 && now_pid != old && atomic_load(&c->state) == ARK_PROC_RUNNING &&
			    atomic_load(&c->events) > events) {
				t1 = ark_now_ns();
				break;
			}
			usleep(50);
		}
		if (!t1) {
			timeouts++;
			t1 = ark_now_ns();
		}
		double ms = (double)(t1 - t0) / 1e6;
		samples[done++] = ms;
		by_agent[a][counts[a]++] = ms;
		if (!json)
			fprintf(stderr, "  kill %2llu: %-8s back at work in %7.2f ms\n", (unsigned long long)k + 1,
				ark_agent_name((enum ark_agent)a), ms);
	}
	int status;
	kill(run, SIGINT);
	waitpid(run, &status, 0);
	/* The venue's own record (the paper broker, in the segment, which stays
	 * mapped here after the run removed it): every order it executed once. */
	uint64_t venue_orders = 0, venue_resends = 0;
	ark_pipeline_venue_counts(&map, &venue_orders, &venue_resends);
	ark_pipeline_detach(&map);
	static char summary[1 << 20];
	summary[0] = '\0';
	FILE *f = fopen(out, "r");
	if (f) {
		size_t r = fread(summary, 1, sizeof summary - 1, f);
		summary[r] = '\0';
		fclose(f);
	}
	uint64_t records = 0, lost = 0, duplicated = 0, filled = 0;
	int audit = journal_audit(journal, &records, &lost, &duplicated, &filled, &err);
	if (ark_perf_remove_tree(dir) != 0)
		fprintf(stderr, "ark perf recovery: could not remove %s\n", dir);
	if (audit) {
		fprintf(stderr, "ark perf recovery: journal: %s\n", err.msg);
		return 1;
	}
	const char *t = strstr(summary, "\"ticks\":");
	uint64_t ticks = t ? strtoull(t + 8, NULL, 10) : 0;
	if (ticks > records - duplicated)
		lost += ticks - (records - duplicated);   /* published by the source, never journaled */
	qsort(samples, (size_t)done, sizeof samples[0], cmp_double);
	double p50 = percentile(samples, done, 0.50), p99 = percentile(samples, done, 0.99);
	double max = done ? samples[done - 1] : NAN;
	bool run_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "benchmark", "recovery");
		ark_perf_json_machine(&j);
		ark_json_object_begin(&j, "headline");
		ark_json_number(&j, "restart_p50_ms", p50);
		ark_json_number(&j, "restart_p99_ms", p99);
		ark_json_number(&j, "events_lost", (double)lost);
		ark_json_number(&j, "events_duplicated", (double)duplicated);
		ark_json_object_end(&j);
		ark_json_number(&j, "kills", done);
		ark_json_number(&j, "timeouts", timeouts);
		ark_json_number(&j, "restart_max_ms", max);
		ark_json_number(&j, "journal_records", (double)records);
		ark_json_number(&j, "ticks", (double)ticks);
		ark_json_bool(&j, "run_ok", run_ok);
		ark_json_number(&j, "orders_filled", (double)filled);
		ark_json_number(&j, "venue_orders", (double)venue_orders);
		ark_json_number(&j, "orders_executed_twice", venue_orders > filled ? (double)(venue_orders - filled) : 0);
		ark_json_number(&j, "resends_refused_by_venue", (double)venue_resends);
		ark_json_object_begin(&j, "by_agent_p50_ms");
		for (int a = 0; a < ARK_AGENT_COUNT; a++) {
			qsort(by_agent[a], (size_t)counts[a], sizeof(double), cmp_double);
			ark_json_number(&j, ark_agent_name((enum ark_agent)a), percentile(by_agent[a], counts[a], 0.5));
		}
		ark_json_object_end(&j);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		ark_perf_print_machine(stdout);
		printf("%d kills: back at work p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d timeouts)\n", done, p50, p99, max,
		       timeouts);
		printf("journal: %llu records for %llu ticks: %llu lost, %llu duplicated; run %s\n",
		       (unsigned long long)records, (unsigned long long)ticks, (unsigned long long)lost,
		       (unsigned long long)duplicated, run_ok ? "OK" : "FAILED");
		printf("orders: %llu filled in the journal, %llu executed by the venue (%llu resends refused as duplicates)\n",
		       (unsigned long long)filled, (unsigned long long)venue_orders, (unsigned long long)venue_resends);
	}
	return run_ok && lost == 0 && duplicated == 0 && venue_orders == filled && timeouts == 0 ? 0 : 1;
}

ARK_PERF_BENCH(recovery_bench, "recovery", "time from an agent's death to its replacement's first event; events lost or duplicated",
	       recovery_main)
