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

struct options {
	uint64_t kills, interval_ms, rate;
	bool json;
};

/* --quick is 6 kills, where it stands among the flags. */
static int quick_kills(int id, const char *arg, void *opts, struct ark_err *err)
{
	(void)id, (void)arg, (void)err;
	((struct options *)opts)->kills = 6;
	return 0;
}

#define OPT(member) offsetof(struct options, member)
static const struct ark_perf_flag flags[] = {
	{"kills", 'k', ARK_PERF_FLAG_U64, OPT(kills), 1, MAX_KILLS},
	{"interval", 'i', ARK_PERF_FLAG_U64, OPT(interval_ms), 50, 60000},
	{"rate", 'r', ARK_PERF_FLAG_U64, OPT(rate), 10, 1000000},
	{"quick", 'q', ARK_PERF_FLAG_CUSTOM0, 0, 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	/* Operands have always been ignored here. */
	static const struct ark_perf_cli cli = {
		.bench = "recovery", .flags = flags, .usage = usage, .option = quick_kills, .operands_ok = true};
	*o = (struct options){.kills = 40, .interval_ms = 250, .rate = 5000};
	return ark_perf_parse_options(&cli, argc, argv, o);
}

/* `ark run` in dir as a child, its summary JSON going to out; the pid or -1. */
static pid_t start_run(const char *exe, const char *dir, const char *out, const char *instance, uint64_t rate)
{
	char rate_text[32], duration_text[32];
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
	return run;
}

/* Times of each kill to the replacement at work, in ms, all and per agent. */
struct kill_times {
	double samples[MAX_KILLS];
	double by_agent[ARK_AGENT_COUNT][MAX_KILLS];
	int counts[ARK_AGENT_COUNT];
	int done, timeouts;
};

/* Kill agent a once and wait for its replacement: the time in ms, or a
 * negative value when it was not running; *timeout when none came. */
static double kill_one(struct ark_agent_control *c, bool *timeout)
{
	pid_t old = atomic_load(&c->pid);
	uint64_t events = atomic_load(&c->events);
	if (old <= 0 || kill(old, SIGKILL) != 0)
		return -1;
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
	*timeout = !t1;
	if (!t1)
		t1 = ark_now_ns();
	return (double)(t1 - t0) / 1e6;
}

static void kill_agents(const struct options *o, struct ark_pipeline_map *map, struct kill_times *kt)
{
	uint64_t rng = ark_now_ns() | 1;
	for (uint64_t k = 0; k < o->kills; k++) {
		usleep((useconds_t)(o->interval_ms * 1000));
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		int a = (int)(rng % ARK_AGENT_COUNT);
		bool timeout = false;
		double ms = kill_one(&map->pipeline->agents[a], &timeout);
		if (ms < 0)
			continue;
		kt->timeouts += timeout;
		kt->samples[kt->done++] = ms;
		kt->by_agent[a][kt->counts[a]++] = ms;
		if (!o->json)
			fprintf(stderr, "  kill %2llu: %-8s back at work in %7.2f ms\n", (unsigned long long)k + 1,
				ark_agent_name((enum ark_agent)a), ms);
	}
}

/* What the run left behind: the journal audited, the source's ticks, the
 * venue's own record of the orders it executed. */
struct outcome {
	uint64_t records, lost, duplicated, filled, ticks, venue_orders, venue_resends;
	bool run_ok;
};

static uint64_t summary_ticks(const char *out)
{
	static char summary[1 << 20];
	summary[0] = '\0';
	FILE *f = fopen(out, "r");
	if (f) {
		size_t r = fread(summary, 1, sizeof summary - 1, f);
		summary[r] = '\0';
		fclose(f);
	}
	const char *t = strstr(summary, "\"ticks\":");
	return t ? strtoull(t + 8, NULL, 10) : 0;
}

static void report_json(const struct outcome *oc, struct kill_times *kt)
{
	double max = kt->done ? kt->samples[kt->done - 1] : NAN;
	struct ark_json j;
	ark_perf_json_begin(&j, "recovery");
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "restart_p50_ms", ark_perf_sorted_quantile(kt->samples, kt->done, 0.50));
	ark_json_number(&j, "restart_p99_ms", ark_perf_sorted_quantile(kt->samples, kt->done, 0.99));
	ark_json_number(&j, "events_lost", (double)oc->lost);
	ark_json_number(&j, "events_duplicated", (double)oc->duplicated);
	ark_json_object_end(&j);
	ark_json_number(&j, "kills", kt->done);
	ark_json_number(&j, "timeouts", kt->timeouts);
	ark_json_number(&j, "restart_max_ms", max);
	ark_json_number(&j, "journal_records", (double)oc->records);
	ark_json_number(&j, "ticks", (double)oc->ticks);
	ark_json_bool(&j, "run_ok", oc->run_ok);
	ark_json_number(&j, "orders_filled", (double)oc->filled);
	ark_json_number(&j, "venue_orders", (double)oc->venue_orders);
	ark_json_number(&j, "orders_executed_twice",
			oc->venue_orders > oc->filled ? (double)(oc->venue_orders - oc->filled) : 0);
	ark_json_number(&j, "resends_refused_by_venue", (double)oc->venue_resends);
	ark_json_object_begin(&j, "by_agent_p50_ms");
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		ark_perf_sort(kt->by_agent[a], kt->counts[a]);
		ark_json_number(&j, ark_agent_name((enum ark_agent)a),
				ark_perf_sorted_quantile(kt->by_agent[a], kt->counts[a], 0.5));
	}
	ark_json_object_end(&j);
	ark_perf_json_end(&j);
}

static void report_table(const struct outcome *oc, const struct kill_times *kt)
{
	double max = kt->done ? kt->samples[kt->done - 1] : NAN;
	ark_perf_print_machine(stdout);
	printf("%d kills: back at work p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d timeouts)\n", kt->done,
	       ark_perf_sorted_quantile(kt->samples, kt->done, 0.50),
	       ark_perf_sorted_quantile(kt->samples, kt->done, 0.99), max, kt->timeouts);
	printf("journal: %llu records for %llu ticks: %llu lost, %llu duplicated; run %s\n",
	       (unsigned long long)oc->records, (unsigned long long)oc->ticks, (unsigned long long)oc->lost,
	       (unsigned long long)oc->duplicated, oc->run_ok ? "OK" : "FAILED");
	printf("orders: %llu filled in the journal, %llu executed by the venue (%llu resends refused as duplicates)\n",
	       (unsigned long long)oc->filled, (unsigned long long)oc->venue_orders,
	       (unsigned long long)oc->venue_resends);
}

/* Stop the run, read what it left and remove dir: 0 or 1 (the journal
 * could not be read). */
static int finish_run(pid_t run, struct ark_pipeline_map *map, const char *dir, struct outcome *oc)
{
	char out[PATH_MAX], journal[PATH_MAX];
	snprintf(out, sizeof out, "%s/summary.json", dir);
	snprintf(journal, sizeof journal, "%s/journal", dir);
	int status;
	kill(run, SIGINT);
	waitpid(run, &status, 0);
	/* The venue's own record (the paper broker, in the segment, which stays
	 * mapped here after the run removed it): every order it executed once. */
	ark_pipeline_venue_counts(map, &oc->venue_orders, &oc->venue_resends);
	ark_pipeline_detach(map);
	oc->ticks = summary_ticks(out);
	struct ark_err err = {0};
	int audit = journal_audit(journal, &oc->records, &oc->lost, &oc->duplicated, &oc->filled, &err);
	if (ark_perf_remove_tree(dir) != 0)
		fprintf(stderr, "ark perf recovery: could not remove %s\n", dir);
	if (audit) {
		fprintf(stderr, "ark perf recovery: journal: %s\n", err.msg);
		return 1;
	}
	if (oc->ticks > oc->records - oc->duplicated)
		oc->lost += oc->ticks - (oc->records - oc->duplicated);   /* published by the source, never journaled */
	oc->run_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return 0;
}

static int recovery_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	char dir[] = "/tmp/ark-perf-recovery-XXXXXX";
	if (!mkdtemp(dir)) {
		fprintf(stderr, "ark perf recovery: cannot make a temporary directory: %s\n", strerror(errno));
		return 1;
	}
	char exe[PATH_MAX], out[PATH_MAX], instance[64];
	struct ark_err exe_err = {0};
	if (ark_self_exe(exe, sizeof exe, &exe_err)) {
		fprintf(stderr, "ark perf recovery: %s\n", exe_err.msg);
		return 1;
	}
	snprintf(out, sizeof out, "%s/summary.json", dir);
	snprintf(instance, sizeof instance, "recovery%d", (int)getpid());
	pid_t run = start_run(exe, dir, out, instance, o.rate);
	struct ark_pipeline_map map;
	if (attach_running(instance, &map)) {
		fprintf(stderr, "ark perf recovery: the pipeline did not start\n");
		kill(run, SIGKILL);
		waitpid(run, NULL, 0);
		return 1;
	}
	static struct kill_times kt;
	kill_agents(&o, &map, &kt);
	struct outcome oc = {0};
	if (finish_run(run, &map, dir, &oc))
		return 1;
	ark_perf_sort(kt.samples, kt.done);
	if (o.json)
		report_json(&oc, &kt);
	else
		report_table(&oc, &kt);
	return oc.run_ok && oc.lost == 0 && oc.duplicated == 0 && oc.venue_orders == oc.filled && kt.timeouts == 0 ? 0
														: 1;
}

ARK_PERF_BENCH(recovery_bench, "recovery", "time from an agent's death to its replacement's first event; events lost or duplicated",
	       recovery_main)
