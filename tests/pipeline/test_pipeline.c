/* tests/pipeline/test_pipeline.c — the five-agent pipeline, end to end, with
 * real processes and real files: `ark run` in a temporary data directory.
 *
 * Runs that the test acts on last until it stops them (SIGINT, as an
 * operator's Ctrl-C): each step waits for what it needs to see in the
 * segment (events flowing, a replacement running, a flag set), with a
 * generous deadline, never for a fixed time.
 *
 *   test_pipeline ARK run          N ticks in, N complete traces out; journal
 *                                  and Mutable Core agree; every injected
 *                                  violation of every kind denied with its
 *                                  reason; no clean intent denied
 *   test_pipeline ARK determinism  the same seed twice: the same decisions,
 *                                  event for event
 *   test_pipeline ARK kill         kill -9 each agent (and the source) in
 *                                  turn mid-run: no seq missing or repeated,
 *                                  no order doubled, every trace complete
 *   test_pipeline ARK drift        change the rules file under a running ARK:
 *                                  everything after is denied, drift counted
 *   test_pipeline ARK watchdog     a SIGSTOPped agent is found hung, killed and
 *                                  replaced (pid file updated); a slow Kenny
 *                                  is quarantined and fails closed (by time:
 *                                  no order leaves it between the quarantine
 *                                  and the release, orders go out after it),
 *                                  `ark release` lifts it, both recorded in
 *                                  the log and the Mutable Core
 *   test_pipeline ARK metrics      the metrics server of a running pipeline:
 *                                  /metrics, /metrics/json, /slos (latency
 *                                  injected into Kenny violates the p95
 *                                  objective), /healthz
 *                                  turning 503 for a stopped agent and back
 *   test_pipeline ARK feed         the TCP line feed as a second source:
 *                                  malformed, oversized and hostile lines are
 *                                  counted and logged while good ticks flow
 *                                  into the journal, in order, none lost */
#include "pipeline_test.h"

#include "pipeline/pipeline.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

static const enum ark_reason injectable[] = {
	ARK_REASON_RESTRICTED_SYMBOL, ARK_REASON_RESTRICTED_PATTERN, ARK_REASON_REFERENCE_PRICE,
	ARK_REASON_MAX_QUANTITY,      ARK_REASON_PRICE_COLLAR,       ARK_REASON_MAX_NOTIONAL,
	ARK_REASON_DUPLICATE,         ARK_REASON_RATE_SYMBOL,        ARK_REASON_RATE_GLOBAL,
	ARK_REASON_POSITION_LIMIT,    ARK_REASON_GROSS_EXPOSURE,     ARK_REASON_DAILY_LOSS,
};

/* The run this test started last and the instance it runs as: when a CHECK
 * fails (exit), nothing it started may outlive the test (ctest would wait
 * on the pipe the processes still hold). */
static pid_t current_run;
static char current_instance[64];

static void kill_leftovers(void)
{
	if (current_run <= 0)
		return;
	kill(current_run, SIGKILL);
	waitpid(current_run, NULL, 0);
	struct ark_pipeline_map map;
	struct ark_err err;
	if (ark_pipeline_attach(&map, current_instance, &err) == 0) {
		const struct ark_pipeline *p = map.pipeline;
		for (int a = 0; a < ARK_AGENT_COUNT; a++) {
			int32_t pid = atomic_load(&p->agents[a].pid);
			if (pid > 0)
				kill(pid, SIGKILL);
		}
		for (int s = 0; s < ARK_MAX_SOURCES; s++) {
			int32_t pid = atomic_load(&p->sources[s].pid);
			if (pid > 0)
				kill(pid, SIGKILL);
		}
		int32_t pid = atomic_load(&p->metrics_pid);
		if (pid > 0)
			kill(pid, SIGKILL);
		char name[ARK_SHM_NAME_MAX];
		snprintf(name, sizeof name, "%s", map.shm.name);
		ark_pipeline_detach(&map);
		ark_shm_unlink(name, NULL);
	}
	current_run = 0;
}

static pid_t start_run(const struct pipeline_env *env, const char *out, const char *const *args)
{
	static bool registered;
	if (!registered) {
		atexit(kill_leftovers);
		registered = true;
	}
	current_run = pipeline_start(env, out, args);
	snprintf(current_instance, sizeof current_instance, "%s", env->instance);
	return current_run;
}

/* The Mutable Core agrees with the journal: one order per allowed intent,
 * one fill per filled order, one denial row per denied intent. */
static void check_core_matches_journal(const struct pipeline_env *env, const struct journal_events *j)
{
	uint64_t allowed = 0, filled = 0, denied = 0;
	for (size_t i = 0; i < j->count; i++) {
		const struct ark_event *e = &j->events[i];
		if (e->side == ARK_SIDE_NONE)
			continue;
		if (e->verdict == ARK_VERDICT_ALLOW) {
			allowed++;
			filled += e->exec_status == ARK_EXEC_FILLED;
		} else if (e->verdict == ARK_VERDICT_DENY) {
			denied++;
		}
	}
	CHECK_EQ_U64(sql_count(env, "SELECT COUNT(*) FROM orders"), allowed);
	CHECK_EQ_U64(sql_count(env, "SELECT COUNT(DISTINCT trace_id) FROM orders"), allowed);
	CHECK_EQ_U64(sql_count(env, "SELECT COUNT(*) FROM fills"), filled);
	CHECK_EQ_U64(sql_count(env, "SELECT COUNT(*) FROM hrm_denials"), denied);
	printf("  mutable core agrees: %llu orders, %llu fills, %llu denials\n", (unsigned long long)allowed,
	       (unsigned long long)filled, (unsigned long long)denied);
}

/* Injected lane-0 intents denied with their kind; nothing else denied. */
static void check_verdicts(const struct journal_events *j, bool require_every_kind)
{
	uint64_t by_kind[ARK_REASON_COUNT] = {0};
	uint64_t intents = 0;
	for (size_t i = 0; i < j->count; i++) {
		const struct ark_event *e = &j->events[i];
		bool injected = (e->flags & ARK_EVENT_INJECTED) != 0;
		if (injected && e->lane == 0) {
			CHECK_MSG(e->side != ARK_SIDE_NONE, "injected seq %llu (%s) has no intent", (unsigned long long)e->seq,
				  ark_reason_name((enum ark_reason)e->injected_kind));
			CHECK_MSG(e->verdict == ARK_VERDICT_DENY && e->reason == e->injected_kind,
				  "injected %s at seq %llu: verdict %s reason %s", ark_reason_name((enum ark_reason)e->injected_kind),
				  (unsigned long long)e->seq, ark_verdict_name((enum ark_verdict)e->verdict),
				  ark_reason_name((enum ark_reason)e->reason));
			CHECK(e->exec_status == ARK_EXEC_FORWARDED);
			by_kind[e->injected_kind]++;
		} else if (e->side != ARK_SIDE_NONE) {
			intents++;
			CHECK_MSG(e->verdict == ARK_VERDICT_ALLOW, "clean intent at seq %llu denied: %s", (unsigned long long)e->seq,
				  ark_reason_name((enum ark_reason)e->reason));
			CHECK_MSG(e->exec_status == ARK_EXEC_FILLED, "allowed intent at seq %llu not filled (%s)",
				  (unsigned long long)e->seq, ark_exec_status_name((enum ark_exec_status)e->exec_status));
		} else {
			CHECK(e->verdict == ARK_VERDICT_ALLOW);
			CHECK(e->exec_status == ARK_EXEC_FORWARDED);
		}
	}
	CHECK_MSG(intents > 0, "no clean intent at all: Joey's rule never fired");
	for (size_t k = 0; require_every_kind && k < ARK_ARRAY_LEN(injectable); k++)
		CHECK_MSG(by_kind[injectable[k]] > 0, "no injected %s violation in the run",
			  ark_reason_name(injectable[k]));
	printf("  verdicts: %llu clean intents allowed and filled; injected kinds denied with their reason:",
	       (unsigned long long)intents);
	for (int k = 1; k < ARK_REASON_COUNT; k++)
		if (by_kind[k])
			printf(" %s=%llu", ark_reason_name((enum ark_reason)k), (unsigned long long)by_kind[k]);
	printf("\n");
}

static void test_run(const char *ark)
{
	struct pipeline_env env;
	pipeline_env_init(&env, ark, "run");
	char out[512], json[8192];
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	const char *args[] = {"--rate", "0", "--duration", "3", "--seed", "7", "--violations", "0.02", NULL};
	int status = pipeline_wait(start_run(&env, out, args), 120);
	current_run = 0;
	read_file(out, json, sizeof json);
	CHECK_MSG(status == 0, "ark run exited %d: %s", status, json);
	CHECK(json_number(json, "ok") == 1);
	uint64_t ticks = (uint64_t)json_number(json, "ticks");
	CHECK(ticks > 10000);
	CHECK_EQ_U64(json_number(json, "events"), ticks);
	CHECK_EQ_U64(json_number(json, "trace_breaks"), 0);
	CHECK_EQ_U64(json_number(json, "injected_allowed"), 0);
	CHECK_EQ_U64(json_number(json, "injected_wrong_reason"), 0);
	CHECK_EQ_U64(json_number(json, "clean_denied"), 0);
	struct journal_events j;
	journal_load(&env, &j);
	CHECK_EQ_U64(j.count, ticks);
	check_journal_whole(&j);
	check_verdicts(&j, true);
	check_core_matches_journal(&env, &j);
	printf("run: %llu ticks in, %zu complete traces out\n", (unsigned long long)ticks, j.count);
	free(j.events);
	pipeline_env_cleanup(&env);
}

/* Bitwise: an injected NaN price must repeat as the same NaN. */
static bool same(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static void test_determinism(const char *ark)
{
	struct journal_events runs[2];
	for (int r = 0; r < 2; r++) {
		struct pipeline_env env;
		pipeline_env_init(&env, ark, r ? "det2" : "det1");
		char out[512];
		snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
		/* Unpaced: decisions depend on the event sequence only, not on timing. */
		const char *args[] = {"--rate", "0", "--duration", "1.5", "--seed", "42", "--violations", "0.02", NULL};
		CHECK_EQ_U64(pipeline_wait(start_run(&env, out, args), 120), 0);
		current_run = 0;
		journal_load(&env, &runs[r]);
		check_journal_whole(&runs[r]);
		pipeline_env_cleanup(&env);
	}
	/* Each run ends with the synthetic stream's finale (the daily loss: 3
	 * events), at a place that depends on when its time was up. */
	size_t n = ARK_MIN(runs[0].count, runs[1].count) - 3;
	CHECK(n > 1000);
	for (int r = 0; r < 2; r++) {
		const struct ark_event *last = &runs[r].events[runs[r].count - 1];
		CHECK(last->injected_kind == ARK_REASON_DAILY_LOSS && last->lane == 0 && last->reason == ARK_REASON_DAILY_LOSS);
	}
	for (size_t i = 0; i < n; i++) {
		const struct ark_event *a = &runs[0].events[i], *b = &runs[1].events[i];
		CHECK_MSG(strcmp(a->symbol, b->symbol) == 0 && same(a->price, b->price) && a->side == b->side &&
				  same(a->quantity, b->quantity) && same(a->limit_price, b->limit_price) &&
				  a->verdict == b->verdict && a->reason == b->reason && a->exec_status == b->exec_status &&
				  same(a->fill_price, b->fill_price) && a->flags == b->flags,
			  "runs differ at seq %llu: %s/%s price %.17g/%.17g side %u/%u qty %g/%g limit %g/%g verdict %u/%u reason %u/%u exec %u/%u flags %x/%x",
			  (unsigned long long)a->seq, a->symbol, b->symbol, a->price, b->price, a->side, b->side, a->quantity,
			  b->quantity, a->limit_price, b->limit_price, a->verdict, b->verdict, a->reason, b->reason,
			  a->exec_status, b->exec_status, a->flags, b->flags);
	}
	printf("determinism: %zu events, identical decisions\n", n);
	free(runs[0].events);
	free(runs[1].events);
}

/* What a running instance's segment says now (all zero while it is not
 * there yet or any more). */
struct live {
	int32_t pid[ARK_AGENT_COUNT + 1];      /* the agents, then source 0 */
	uint32_t state[ARK_AGENT_COUNT + 1];
	uint64_t events[ARK_AGENT_COUNT + 1];  /* published by each */
	uint32_t quarantined[ARK_AGENT_COUNT];
	uint64_t errors[ARK_AGENT_COUNT];
	uint64_t fills, ethics_drift, hangs[ARK_AGENT_COUNT];
};

static struct live live_read(const char *instance)
{
	struct live l;
	memset(&l, 0, sizeof l);
	struct ark_pipeline_map map;
	struct ark_err err;
	if (ark_pipeline_attach(&map, instance, &err) != 0)
		return l;
	const struct ark_pipeline *p = map.pipeline;
	for (int a = 0; a <= ARK_AGENT_COUNT; a++) {
		const struct ark_agent_control *c = a < ARK_AGENT_COUNT ? &p->agents[a] : &p->sources[0];
		l.pid[a] = atomic_load(&c->pid);
		l.state[a] = atomic_load(&c->state);
		l.events[a] = atomic_load(&c->events);
		if (a < ARK_AGENT_COUNT) {
			l.quarantined[a] = atomic_load(&c->quarantined);
			l.errors[a] = atomic_load(&c->errors);
			l.hangs[a] = atomic_load(&p->counters.hangs[a]);
		}
	}
	l.fills = atomic_load(&p->counters.fills);
	l.ethics_drift = atomic_load(&p->counters.ethics_drift);
	ark_pipeline_detach(&map);
	return l;
}

/* Wait for a condition on the live instance, with a deadline generous
 * enough for a loaded machine and a sanitizer build. */
#define WAIT_LIVE(instance, l, cond, ...)                                                      \
	do {                                                                                    \
		uint64_t _deadline = ark_now_ns() + 180ull * 1000000000ull;                     \
		for (;;) {                                                              \
			(l) = live_read(instance);                                              \
			if (cond)                                                               \
				break;                                                          \
			CHECK_MSG(ark_now_ns() < _deadline, __VA_ARGS__);                       \
			usleep(20000);                                                          \
		}                                                                               \
	} while (0)

/* The running pid of an agent (or, with source, of source 0). */
static pid_t agent_pid(const char *instance, int agent, bool source)
{
	int a = source ? ARK_AGENT_COUNT : agent;
	struct live l;
	WAIT_LIVE(instance, l, l.pid[a] > 0 && l.state[a] == ARK_PROC_RUNNING, "%s never ran",
		  source ? "the source" : ark_agent_name((enum ark_agent)agent));
	return l.pid[a];
}

/* Stop `ark run` the way an operator does (Ctrl-C: drain, then summary). */
static int pipeline_interrupt(pid_t run, int timeout_s)
{
	CHECK(kill(run, SIGINT) == 0);
	int status = pipeline_wait(run, timeout_s);
	current_run = 0;   /* reaped: nothing left to clean up */
	return status;
}

static void test_kill(const char *ark)
{
	struct pipeline_env env;
	pipeline_env_init(&env, ark, "kill");
	char out[512], json[8192];
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	/* Runs until interrupted: each kill waits for the pipeline to flow again,
	 * however long that takes on a loaded machine. */
	const char *args[] = {"--rate", "20000", "--duration", "3600", "--seed", "3", "--violations", "0.02", NULL};
	pid_t run = start_run(&env, out, args);
	struct live l;
	WAIT_LIVE(env.instance, l, l.events[ARK_AGENT_ALETHEIA] >= 2000, "the pipeline never journaled 2000 events");
	int killed = 0;
	for (int a = 0; a <= ARK_AGENT_COUNT; a++) {
		bool source = a == ARK_AGENT_COUNT;
		const char *name = source ? "the source" : ark_agent_name((enum ark_agent)a);
		pid_t pid = agent_pid(env.instance, a, source);
		CHECK(kill(pid, SIGKILL) == 0);
		killed++;
		uint64_t journaled = live_read(env.instance).events[ARK_AGENT_ALETHEIA];
		/* replaced, and events flow through the replacement again */
		WAIT_LIVE(env.instance, l,
			  l.pid[a] > 0 && l.pid[a] != pid && l.state[a] == ARK_PROC_RUNNING &&
				  l.events[ARK_AGENT_ALETHEIA] >= journaled + 2000,
			  "%s (pid %d) was not replaced, or nothing flowed after", name, (int)pid);
	}
	int status = pipeline_interrupt(run, 180);
	read_file(out, json, sizeof json);
	CHECK_MSG(status == 0, "ark run exited %d after the kills: %s", status, json);
	CHECK(json_number(json, "restarts") >= killed);
	uint64_t ticks = (uint64_t)json_number(json, "ticks");
	struct journal_events j;
	journal_load(&env, &j);
	CHECK_EQ_U64(j.count, ticks);
	check_journal_whole(&j);
	check_verdicts(&j, false);
	check_core_matches_journal(&env, &j);
	/* No order doubled: the venue took each client order id once. */
	CHECK_EQ_U64(sql_count(&env, "SELECT COUNT(*) - COUNT(DISTINCT trace_id) FROM fills"), 0);
	printf("kill: %d processes killed with SIGKILL, %llu restarts, %zu events, none missing or repeated\n", killed,
	       (unsigned long long)json_number(json, "restarts"), j.count);
	free(j.events);
	pipeline_env_cleanup(&env);
}

static void test_drift(const char *ark)
{
	struct pipeline_env env;
	pipeline_env_init(&env, ark, "drift");
	char out[512], json[8192], rules[512];
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	snprintf(rules, sizeof rules, "%s/graveyard.rules", env.data_dir);
	const char *args[] = {"--rate", "5000", "--duration", "3600", "--seed", "5", "--violations", "0.01", NULL};
	pid_t run = start_run(&env, out, args);
	struct live l;
	WAIT_LIVE(env.instance, l, l.events[ARK_AGENT_ALETHEIA] >= 2000, "the pipeline never journaled 2000 events");
	struct stat st;
	CHECK(stat(rules, &st) == 0);
	CHECK_MSG((st.st_mode & 0777) == 0444, "installed rules have mode %o, expected 0444", st.st_mode & 0777);
	/* Someone loosens a limit under the running ARK. */
	CHECK(chmod(rules, 0644) == 0);
	FILE *f = fopen(rules, "a");
	CHECK(f != NULL);
	fprintf(f, "# loosened by hand\n");
	fclose(f);
	WAIT_LIVE(env.instance, l, l.ethics_drift >= 500, "HRM never denied 500 events for the drift");
	int status = pipeline_interrupt(run, 120);
	read_file(out, json, sizeof json);
	CHECK_MSG(status != 0, "a run with ethics drift must not end OK: %s", json);
	struct journal_events j;
	journal_load(&env, &j);
	check_journal_whole(&j);
	size_t first_drift = 0;
	for (size_t i = 0; i < j.count; i++)
		if (j.events[i].reason == ARK_REASON_ETHICS_DRIFT) {
			first_drift = i + 1;
			break;
		}
	CHECK_MSG(first_drift > 0, "no event was denied for ethics drift");
	for (size_t i = first_drift - 1; i < j.count; i++) {
		CHECK_MSG(j.events[i].verdict == ARK_VERDICT_DENY && j.events[i].reason == ARK_REASON_ETHICS_DRIFT,
			  "seq %llu after the drift was not denied for drift", (unsigned long long)j.events[i].seq);
		CHECK(j.events[i].exec_status != ARK_EXEC_FILLED);
	}
	uint64_t drift_count = j.count - first_drift + 1;
	CHECK(drift_count > 100);
	CHECK(strstr(json, "\"ethics_drift\":") != NULL);
	CHECK_EQ_U64(json_number(json, "ethics_drift"), drift_count);
	printf("drift: from seq %zu on, all %llu events denied for ethics drift\n", first_drift,
	       (unsigned long long)drift_count);
	free(j.events);
	pipeline_env_cleanup(&env);
}

/* Kenny's verdicts around a quarantine, by time (Kenny's own stamps,
 * CLOCK_MONOTONIC like the test's): every allowed intent Kenny took after
 * the test saw the flag set and passed on before it asked for the release
 * was held back, none sent; after the release returned, orders went out
 * again. (Kenny reads the flag between its two stamps.) */
static void check_quarantine_window(const struct journal_events *j, uint64_t quarantined_ns, uint64_t release_ns,
				    uint64_t released_ns, const char *what)
{
	uint64_t held = 0, sent_after = 0;
	for (size_t i = 0; i < j->count; i++) {
		const struct ark_event *e = &j->events[i];
		if (e->side == ARK_SIDE_NONE || e->verdict != ARK_VERDICT_ALLOW)
			continue;
		uint64_t t = e->stamp_in_ns[ARK_AGENT_KENNY], t_out = e->stamp_out_ns[ARK_AGENT_KENNY];
		bool sent = e->exec_status != ARK_EXEC_SUPPRESSED;
		if (!sent)
			CHECK_MSG(e->client_order_id == 0 && e->filled_quantity == 0 && e->fill_price == 0 &&
					  (e->flags & ARK_EVENT_QUARANTINED),
				  "%s: held-back seq %llu carries an order", what, (unsigned long long)e->seq);
		if (t >= quarantined_ns && t_out <= release_ns) {
			CHECK_MSG(!sent, "%s: seq %llu left Kenny as %s %.3f s into its quarantine", what,
				  (unsigned long long)e->seq, ark_exec_status_name((enum ark_exec_status)e->exec_status),
				  (double)(t - quarantined_ns) / 1e9);
			held++;
		}
		sent_after += t > released_ns && sent;
	}
	CHECK_MSG(held > 0, "%s: no allowed intent reached Kenny while it was quarantined", what);
	CHECK_MSG(sent_after > 0, "%s: no order left Kenny after the release", what);
	printf("watchdog: %s: %llu orders held back while quarantined, none sent; %llu sent after the release\n", what,
	       (unsigned long long)held, (unsigned long long)sent_after);
}

/* No fill row for an order Kenny held back. */
static void check_no_fill_for_held(const struct pipeline_env *env, const struct journal_events *j)
{
	for (size_t i = 0; i < j->count; i++) {
		if (j->events[i].exec_status != ARK_EXEC_SUPPRESSED)
			continue;
		char q[128];
		snprintf(q, sizeof q, "SELECT COUNT(*) FROM fills WHERE trace_id = %lld", (long long)j->events[i].trace_id);
		CHECK_MSG(sql_count(env, q) == 0, "a fill recorded for held-back seq %llu", (unsigned long long)j->events[i].seq);
	}
}

/* How many times the last quarantine_and_release ran `ark release kenny`. */
static int kenny_releases;

/* An allowed intent that Kenny took after `since` (its own stamp) and sent
 * to the venue, among the journal's records from *next_seq on (the records
 * read are not read again: under TSan a whole journal takes seconds). */
static bool orders_sent_since(const struct pipeline_env *env, uint64_t since, uint64_t *next_seq)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/journal", env->data_dir);
	struct ark_err err = {0};
	struct ark_journal_reader *reader;
	CHECK_MSG(ark_journal_reader_open(&reader, dir, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_journal_reader_seek(reader, *next_seq, &err) == 0, "%s", err.msg);
	bool sent = false;
	while (!sent) {
		struct ark_journal_record rec;
		int rc = ark_journal_reader_next(reader, &rec, &err);
		if (rc == -EAGAIN)
			break;
		CHECK_MSG(rc == 0, "journal read: %s", err.msg);
		CHECK_EQ_U64(rec.len, sizeof(struct ark_event));
		struct ark_event e;
		memcpy(&e, rec.payload, sizeof e);
		*next_seq = rec.seq + 1;
		sent = e.side != ARK_SIDE_NONE && e.verdict == ARK_VERDICT_ALLOW && e.exec_status != ARK_EXEC_SUPPRESSED &&
		       e.stamp_in_ns[ARK_AGENT_KENNY] > since;
	}
	ark_journal_reader_close(reader);
	return sent;
}

/* Quarantine Kenny (by the environment given), keep it quarantined until it
 * has taken `held_events` more events, release it with `ark release`, wait
 * for orders to go out again, stop the run. */
static void quarantine_and_release(const struct pipeline_env *env, pid_t run, uint64_t held_events,
				   uint64_t *quarantined_ns, uint64_t *release_ns, uint64_t *released_ns)
{
	struct live l;
	WAIT_LIVE(env->instance, l, l.quarantined[ARK_AGENT_KENNY], "Kenny was never quarantined");
	*quarantined_ns = ark_now_ns();
	uint64_t seen = l.events[ARK_AGENT_KENNY];
	WAIT_LIVE(env->instance, l, l.events[ARK_AGENT_KENNY] >= seen + held_events,
		  "Kenny took no events while quarantined");
	*release_ns = ark_now_ns();
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' release kenny --instance %s > '%s/release.out' 2>&1", env->ark, env->instance,
		 env->data_dir);
	/* An order leaves Kenny again (filled, or rejected by the venue), as
	 * the journal shows: an allowed intent Kenny took after the release and
	 * did not hold back. The cause of the quarantine is still there, so the
	 * watchdog may quarantine Kenny again before any allowed intent reached
	 * it (on a slow machine, before it took a single order): then it is
	 * released again. */
	*released_ns = 0;
	uint64_t next_seq = 0;
	kenny_releases = 0;
	for (int releases = 1;; releases++) {
		CHECK_MSG(system(cmd) == 0, "ark release kenny failed");
		kenny_releases = releases;
		if (!*released_ns)
			*released_ns = ark_now_ns();
		uint64_t deadline = ark_now_ns() + 180ull * 1000000000ull;
		for (;;) {
			if (orders_sent_since(env, *released_ns, &next_seq))
				return;
			l = live_read(env->instance);
			if (l.quarantined[ARK_AGENT_KENNY])
				break;
			CHECK_MSG(ark_now_ns() < deadline, "after release %d Kenny neither sent an order nor was quarantined again",
				  releases);
			usleep(50000);
		}
		CHECK_MSG(releases < 50, "no order left Kenny after %d releases", releases);
	}
	(void)run;
}

static void test_watchdog(const char *ark)
{
	/* A hung agent. */
	struct pipeline_env env;
	pipeline_env_init(&env, ark, "hang");
	setenv("WATCHDOG_HANG_MS", "1500", 1);
	char out[512], json[8192], path[512], text[64];
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	const char *args[] = {"--rate", "2000", "--duration", "3600", "--seed", "11", "--violations", "0.01", NULL};
	pid_t run = start_run(&env, out, args);
	pid_t joey = agent_pid(env.instance, ARK_AGENT_JOEY, false);
	snprintf(path, sizeof path, "%s/run/joey.pid", env.data_dir);
	read_file(path, text, sizeof text);
	CHECK_EQ_U64(strtoul(text, NULL, 10), joey);
	struct live l;
	WAIT_LIVE(env.instance, l, l.events[ARK_AGENT_JOEY] >= 1000, "Joey never took 1000 events");
	CHECK(kill(joey, SIGSTOP) == 0);
	uint64_t journaled = l.events[ARK_AGENT_ALETHEIA];
	WAIT_LIVE(env.instance, l,
		  l.hangs[ARK_AGENT_JOEY] >= 1 && l.pid[ARK_AGENT_JOEY] != joey && l.state[ARK_AGENT_JOEY] == ARK_PROC_RUNNING &&
			  l.events[ARK_AGENT_ALETHEIA] >= journaled + 1000,
		  "the stopped Joey was not found hung and replaced");
	int status = pipeline_interrupt(run, 120);
	read_file(out, json, sizeof json);
	CHECK_MSG(status == 0, "ark run with a hung agent exited %d: %s", status, json);
	CHECK(json_number(json, "hangs") >= 1);
	CHECK(json_number(json, "restarts") >= 1);
	struct journal_events j;
	journal_load(&env, &j);
	check_journal_whole(&j);
	CHECK_EQ_U64(j.count, json_number(json, "ticks"));
	char log[1 << 16];
	snprintf(path, sizeof path, "%s/logs/watchdog.log", env.data_dir);
	read_file(path, log, sizeof log);
	CHECK_CONTAINS(log, "agent hung name=joey");
	printf("watchdog: SIGSTOPped Joey found hung, replaced; %zu events, none missing\n", j.count);
	free(j.events);
	unsetenv("WATCHDOG_HANG_MS");
	pipeline_env_cleanup(&env);

	/* A slow Kenny: quarantined, fails closed, released. */
	pipeline_env_init(&env, ark, "quar");
	setenv("ARK_PAPER_LATENCY_US", "3000", 1);
	setenv("WATCHDOG_MAX_LATENCY_MS", "1", 1);
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	const char *args2[] = {"--rate", "2000", "--duration", "3600", "--seed", "12", "--violations", "0.01", NULL};
	run = start_run(&env, out, args2);
	uint64_t quarantined_ns, release_ns, released_ns;
	quarantine_and_release(&env, run, 2000, &quarantined_ns, &release_ns, &released_ns);
	status = pipeline_interrupt(run, 120);
	read_file(out, json, sizeof json);
	CHECK_MSG(status == 0, "ark run with a quarantine exited %d: %s", status, json);
	CHECK(json_number(json, "quarantines") >= 1);
	journal_load(&env, &j);
	check_journal_whole(&j);
	check_quarantine_window(&j, quarantined_ns, release_ns, released_ns, "slow Kenny");
	check_no_fill_for_held(&env, &j);
	check_core_matches_journal(&env, &j);
	CHECK(sql_count(&env, "SELECT COUNT(*) FROM agent_history WHERE agent = 'Kenny' AND event = 'quarantine'") >= 1);
	/* one row per `ark release` the test ran */
	CHECK_EQ_U64(sql_count(&env, "SELECT COUNT(*) FROM agent_history WHERE agent = 'Kenny' AND event = 'release'"),
		     (uint64_t)kenny_releases);
	snprintf(path, sizeof path, "%s/logs/watchdog.log", env.data_dir);
	read_file(path, log, sizeof log);
	CHECK_CONTAINS(log, "agent quarantined name=kenny");
	CHECK_CONTAINS(log, "agent released by operator name=kenny");
	free(j.events);
	unsetenv("ARK_PAPER_LATENCY_US");
	unsetenv("WATCHDOG_MAX_LATENCY_MS");
	pipeline_env_cleanup(&env);

	/* A failing Kenny (the venue rejects half its orders): quarantined for
	 * its failure rate, fails closed, released. */
	pipeline_env_init(&env, ark, "fail");
	setenv("ARK_PAPER_REJECT_RATE", "0.5", 1);
	setenv("WATCHDOG_MAX_FAILURE_RATE", "0.05", 1);   /* of all its events; about 1 in 5 is an order */
	setenv("WATCHDOG_WINDOW_S", "1", 1);
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	const char *args3[] = {"--rate", "2000", "--duration", "3600", "--seed", "13", "--violations", "0.01", NULL};
	run = start_run(&env, out, args3);
	quarantine_and_release(&env, run, 2000, &quarantined_ns, &release_ns, &released_ns);
	status = pipeline_interrupt(run, 120);
	read_file(out, json, sizeof json);
	/* The rejected orders are errors: the run reports them and fails. */
	CHECK_MSG(status == 1 && json_number(json, "errors") > 0, "exit %d: %s", status, json);
	CHECK(json_number(json, "quarantines") >= 1 && json_number(json, "trace_breaks") == 0);
	journal_load(&env, &j);
	check_journal_whole(&j);
	uint64_t rejected = 0;
	for (size_t i = 0; i < j.count; i++)
		rejected += j.events[i].exec_status == ARK_EXEC_REJECTED;
	CHECK_MSG(rejected > 0, "no order was rejected");
	check_quarantine_window(&j, quarantined_ns, release_ns, released_ns, "failing Kenny");
	check_no_fill_for_held(&env, &j);
	snprintf(path, sizeof path, "%s/logs/watchdog.log", env.data_dir);
	read_file(path, log, sizeof log);
	CHECK_CONTAINS(log, "over WATCHDOG_MAX_FAILURE_RATE");
	CHECK(sql_count(&env, "SELECT COUNT(*) FROM agent_history WHERE agent = 'Kenny' AND event = 'quarantine' AND reason LIKE 'failure rate%'") >= 1);
	free(j.events);
	unsetenv("ARK_PAPER_REJECT_RATE");
	unsetenv("WATCHDOG_MAX_FAILURE_RATE");
	unsetenv("WATCHDOG_WINDOW_S");
	pipeline_env_cleanup(&env);
}

/* GET a path from the metrics server with curl; returns the HTTP status. */
static int http_get(uint16_t port, const char *path, char *body, size_t cap)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "curl -s -m 5 -w '\\n%%{http_code}' http://127.0.0.1:%u%s", port, path);
	FILE *f = popen(cmd, "r");
	CHECK(f != NULL);
	size_t n = fread(body, 1, cap - 1, f);
	body[n] = '\0';
	pclose(f);
	char *last = strrchr(body, '\n');
	CHECK_MSG(last != NULL, "no response from %s", path);
	int status = atoi(last + 1);
	*last = '\0';
	return status;
}

static void test_metrics(const char *ark)
{
	struct pipeline_env env;
	pipeline_env_init(&env, ark, "metrics");
	/* Latency injected into one agent: the paper venue takes 5 ms an order,
	 * so Kenny holds events up, and p95 passes a 2 ms objective. */
	setenv("ARK_PAPER_LATENCY_US", "5000", 1);
	setenv("SLO_P95_LATENCY_MS", "2", 1);
	char out[512], json[8192];
	static char body[1 << 20];
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	/* Few symbols: Joey's statistics warm up within a second, so orders
	 * (and the venue's latency) come early. */
	const char *args[] = {"--rate", "500", "--duration", "3600", "--seed", "13", "--violations", "0.01",
			      "--symbols", "4", NULL};
	pid_t run = start_run(&env, out, args);
	uint16_t port = 0;
	uint64_t deadline = ark_now_ns() + 180ull * 1000000000ull;
	while (!port) {
		struct ark_pipeline_map map;
		struct ark_err err;
		if (ark_pipeline_attach(&map, env.instance, &err) == 0) {
			port = (uint16_t)atomic_load(&map.pipeline->metrics_port);
			ark_pipeline_detach(&map);
		}
		CHECK_MSG(port || ark_now_ns() < deadline, "the metrics server never published its port");
		if (!port)
			usleep(20000);
	}
	/* until the histogram has counted 200 passes (not a fixed sleep) */
	const char *count = NULL;
	for (;;) {
		CHECK_EQ_U64(http_get(port, "/metrics", body, sizeof body), 200);
		count = strstr(body, "\nark_pass_latency_ms_count ");
		if (count && strtoull(count + 27, NULL, 10) > 200)
			break;
		CHECK_MSG(ark_now_ns() < deadline, "ark_pass_latency_ms_count never passed 200");
		usleep(50000);
	}
	CHECK_CONTAINS(body, "# TYPE ark_pass_latency_ms histogram");
	CHECK_CONTAINS(body, "ark_pass_latency_ms_bucket{le=\"+Inf\"}");
	CHECK_CONTAINS(body, "ark_events_total{agent=\"aletheia\"}");
	CHECK_CONTAINS(body, "hrm_eval_ms_count");
	CHECK_CONTAINS(body, "queue_depth{ring=\"kyle\"}");
	CHECK_CONTAINS(body, "watchdog_quarantines_total{agent=\"kenny\"} 0");
	CHECK_CONTAINS(body, "process_resident_memory_bytes{agent=\"hrm\"}");
	CHECK_CONTAINS(body, "ark_journal_write_latency_ms_count");
	CHECK_CONTAINS(body, "ark_db_write_latency_ms_count");
	CHECK_CONTAINS(body, "\nark_journal_lag_events ");
	CHECK_CONTAINS(body, "\nark_db_lag_events ");
	CHECK_CONTAINS(body, "ark_denials_total{rule=\"max_quantity\"}");
	CHECK_EQ_U64(http_get(port, "/metrics/json", body, sizeof body), 200);
	CHECK_CONTAINS(body, "\"histograms\"");
	CHECK_CONTAINS(body, "\"ark_pass_latency_ms\":{");
	const char *violations = NULL;
	for (;;) {   /* the SLOs are evaluated once a second */
		CHECK_EQ_U64(http_get(port, "/slos", body, sizeof body), 200);
		violations = strstr(body, "\"violations\":[");
		CHECK_MSG(violations != NULL, "no violations array in %s", body);
		if (strstr(violations, "pass_latency_p95"))
			break;
		CHECK_MSG(ark_now_ns() < deadline, "no latency violation in %s", violations);
		usleep(100 * 1000);
	}
	CHECK_EQ_U64(http_get(port, "/healthz", body, sizeof body), 200);
	CHECK_CONTAINS(body, "\"status\":\"healthy\"");
	CHECK_EQ_U64(http_get(port, "/readyz", body, sizeof body), 200);
	CHECK_EQ_U64(http_get(port, "/nosuch", body, sizeof body), 404);
	/* A stopped agent turns /healthz to 503, with the reason. */
	pid_t kenny = agent_pid(env.instance, ARK_AGENT_KENNY, false);
	CHECK(kill(kenny, SIGSTOP) == 0);
	int status = 200;
	while (status == 200 && ark_now_ns() < deadline) {
		usleep(100 * 1000);
		status = http_get(port, "/healthz", body, sizeof body);
	}
	CHECK(kill(kenny, SIGCONT) == 0);
	CHECK_EQ_U64(status, 503);
	CHECK_CONTAINS(body, "Kenny: no heartbeat");
	while (status != 200 && ark_now_ns() < deadline) {
		usleep(100 * 1000);
		status = http_get(port, "/healthz", body, sizeof body);
	}
	CHECK_EQ_U64(status, 200);
	status = pipeline_interrupt(run, 120);
	read_file(out, json, sizeof json);
	CHECK_MSG(status == 0, "ark run with the metrics server exited %d: %s", status, json);
	/* The SLO snapshot went to the Mutable Core (at start, then each minute). */
	CHECK(sql_count(&env, "SELECT COUNT(*) FROM slo_snapshots WHERE slo = 'availability'") >= 1);
	printf("metrics: /metrics, /metrics/json, /slos (latency violation), /healthz 200 -> 503 -> 200\n");
	unsetenv("SLO_P95_LATENCY_MS");
	unsetenv("ARK_PAPER_LATENCY_US");
	pipeline_env_cleanup(&env);
}

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_MSG(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "connect to the feed on port %u", port);
	return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		CHECK(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void test_feed(const char *ark)
{
	struct pipeline_env env;
	pipeline_env_init(&env, ark, "feed");
	char out[512], json[8192];
	snprintf(out, sizeof out, "%s/summary.json", env.data_dir);
	const char *args[] = {"--rate", "1000", "--duration", "3600", "--seed", "9", "--violations", "0.01",
			      "--feed-port", "0", NULL};
	pid_t run = start_run(&env, out, args);
	uint16_t port = 0;
	uint64_t deadline = ark_now_ns() + 180ull * 1000000000ull;   /* a loaded machine, a sanitizer build */
	while (!port) {
		struct ark_pipeline_map map;
		struct ark_err err;
		if (ark_pipeline_attach(&map, env.instance, &err) == 0) {
			port = (uint16_t)atomic_load(&map.pipeline->feed_port);
			ark_pipeline_detach(&map);
		}
		CHECK_MSG(port || ark_now_ns() < deadline, "the feed never published its port");
		if (!port)
			usleep(20000);
	}
	int good = connect_to(port), hostile = connect_to(port);
	const int good_ticks = 300;
	char line[256];
	uint64_t now = (uint64_t)time(NULL) * 1000000000ull;
	for (int i = 0; i < good_ticks; i++) {
		int n = snprintf(line, sizeof line, "{\"symbol\":\"TCP%02d\",\"price\":%d.25,\"size\":%d,\"ts\":%llu}\n",
				 i % 7, 100 + i, i + 1, (unsigned long long)(now + (uint64_t)i * 1000));
		send_all(good, line, (size_t)n);
		if (i % 50 == 0) {
			static const char *const bad[] = {
				"garbage\n", "{\"symbol\":\"X\",\"price\":-1,\"size\":1}\n",
				"{\"symbol\":\"X\",\"price\":NaN,\"size\":1}\n", "[1,2,3]\n",
				"{\"symbol\":\"X\",\"price\":1,\"size\":1,\"size\":2}\n", "{\"price\":1,\"size\":1}\n",
				"{\"symbol\":\"bad sym!\",\"price\":1,\"size\":1}\n", "\x01\x02\xff\xfe binary\n",
				"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\n"};
			for (size_t b = 0; b < ARK_ARRAY_LEN(bad); b++)
				send_all(hostile, bad[b], strlen(bad[b]));
			char big[70000];
			memset(big, 'A', sizeof big);
			big[sizeof big - 1] = '\n';
			send_all(hostile, big, sizeof big);   /* oversized: dropped, never buffered whole */
		}
	}
	close(good);
	close(hostile);
	/* until the feed has published every good tick, then stop */
	for (uint64_t published = 0; published < (uint64_t)good_ticks;) {
		struct ark_pipeline_map map;
		struct ark_err err;
		CHECK(ark_pipeline_attach(&map, env.instance, &err) == 0);
		published = atomic_load(&map.pipeline->counters.source_published[1]);
		ark_pipeline_detach(&map);
		CHECK_MSG(ark_now_ns() < deadline, "the feed published %llu of %d good ticks", (unsigned long long)published,
			  good_ticks);
		usleep(20000);
	}
	int status = pipeline_interrupt(run, 120);
	read_file(out, json, sizeof json);
	CHECK_MSG(status == 0, "ark run with the feed exited %d: %s", status, json);
	struct journal_events j;
	journal_load(&env, &j);
	check_journal_whole(&j);
	int seen = 0;
	for (size_t i = 0; i < j.count; i++) {
		const struct ark_event *e = &j.events[i];
		if (e->source != ARK_SOURCE_TCP)
			continue;
		char symbol[16];
		snprintf(symbol, sizeof symbol, "TCP%02d", seen % 7);
		CHECK_MSG(strcmp(e->symbol, symbol) == 0 && e->price == 100 + seen + 0.25 && e->size == seen + 1,
			  "tcp tick %d arrived as %s %g %g", seen, e->symbol, e->price, e->size);
		seen++;
	}
	CHECK_EQ_U64(seen, good_ticks);
	char log_path[512], log[1 << 16];
	snprintf(log_path, sizeof log_path, "%s/logs/source1.log", env.data_dir);
	read_file(log_path, log, sizeof log);
	static const char *const reasons[] = {"malformed_json", "bad_price", "not_object", "duplicate_key", "missing_field",
					      "bad_symbol", "line_too_long"};
	for (size_t r = 0; r < ARK_ARRAY_LEN(reasons); r++) {
		char needle[64];
		snprintf(needle, sizeof needle, "reason=%s", reasons[r]);
		CHECK_MSG(strstr(log, needle) != NULL, "the feed's log has no %s line", needle);
	}
	CHECK(strstr(log, "ticks=300") != NULL);
	printf("feed: %d good ticks journaled in order among %zu events; hostile lines counted and logged\n", seen, j.count);
	free(j.events);
	pipeline_env_cleanup(&env);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s ARK run|determinism|kill|drift|feed|watchdog|metrics\n", argv[0]);
		return 2;
	}
	const char *ark = argv[1];
	if (strcmp(argv[2], "run") == 0)
		test_run(ark);
	else if (strcmp(argv[2], "determinism") == 0)
		test_determinism(ark);
	else if (strcmp(argv[2], "kill") == 0)
		test_kill(ark);
	else if (strcmp(argv[2], "drift") == 0)
		test_drift(ark);
	else if (strcmp(argv[2], "feed") == 0)
		test_feed(ark);
	else if (strcmp(argv[2], "watchdog") == 0)
		test_watchdog(ark);
	else if (strcmp(argv[2], "metrics") == 0)
		test_metrics(ark);
	else
		return 2;
	printf("pipeline %s test passed\n", argv[2]);
	return 0;
}
