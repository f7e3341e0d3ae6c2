/* watchdog/supervise.c — start, watch, restart and stop the processes of one
 * pipeline instance (see watchdog.h).
 *
 * A process that dies after handling events is replaced at once (from its
 * warm standby when one is ready); one that dies before handling anything is
 * crashing in a loop: it is restarted after a back-off that doubles from
 * 100 ms to 30 s with +-20 % jitter, and more than ARK_WATCHDOG_CRASH_LIMIT
 * such deaths within a minute stop the instance (systemd's own restart limits
 * take over from there). A process that exits with status 2 reported a
 * configuration error: it is not retried. Each process's pid is in
 * $ARK_RUN_DIR/<name>.pid. A finite run (`ark run`) is complete when every
 * source has finished and Aletheia has journaled what Kyle published; a
 * service (`ark watchdog`) runs until it is stopped. */
#include "watchdog/internal.h"

#include "mirror/mirror.h"
#include "store/store.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_NS (100ull * 1000 * 1000)
#define BACKOFF_MAX_NS (30ull * 1000 * 1000 * 1000)
#define CRASH_WINDOW_NS (60ull * 1000 * 1000 * 1000)
/* A new standby is started once its agent has run this long: not while the
 * replacement it follows is still recovering on the same CPUs. */
#define STANDBY_AFTER_NS (25ull * 1000 * 1000)

static void reap(struct ark_supervisor *sup);
static int restart_due(struct ark_supervisor *sup, struct ark_err *err);

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

static struct ark_agent_control *control_of(struct ark_supervisor *sup, const struct ark_child *c)
{
	struct ark_pipeline *p = sup->map.pipeline;
	if (c->auxiliary)
		return NULL;
	return c->is_source ? &p->sources[c->index] : c->lane == ARK_LANE_CANARY ? &p->canary_agents[c->index]
									 : &p->agents[c->index];
}

/* A source process (not an agent of either lane, not an auxiliary). */
static bool is_source(const struct ark_child *c)
{
	return c->is_source;
}

/* The process a control block names, when it is alive and still running. */
static pid_t live_pid(const struct ark_agent_control *control, uint64_t *ticks)
{
	int32_t pid = atomic_load(&control->pid);
	uint32_t state = atomic_load(&control->state);
	*ticks = atomic_load(&control->start_ticks);
	if (pid <= 0 || (state != ARK_PROC_STARTING && state != ARK_PROC_RUNNING && state != ARK_PROC_DRAINING))
		return 0;
	return ark_shm_process_alive(pid, *ticks) ? pid : 0;
}

/* A process found running (a dead watchdog's, or a systemd unit's) is
 * adopted once /proc shows it is ours. -EPERM: alive, recorded, and not
 * ours (why says how): never adopted, never signalled. */
static int adopt_if_running(struct ark_supervisor *sup, struct ark_child *c, char *why, size_t why_len)
{
	pid_t pid = 0;
	uint64_t ticks = 0;
	struct ark_pipeline *p = sup->map.pipeline;
	if (c->auxiliary) {
		int32_t mpid = atomic_load(c->mirror ? &p->mirror_pid : &p->metrics_pid);
		ticks = atomic_load(c->mirror ? &p->mirror_start_ticks : &p->metrics_start_ticks);
		if (mpid > 0 && ark_shm_process_alive(mpid, ticks))
			pid = mpid;
	} else {
		pid = live_pid(control_of(sup, c), &ticks);
	}
	if (!pid)
		return 0;
	int rc = ark_watchdog_adopt(sup, c, pid, ticks, why, why_len);
	if (rc == 0)
		ark_log(sup->log, "info", "watching %s pid=%d (%s)", c->name, (int)pid,
			c->external ? "started by systemd" : "left running by the previous watchdog");
	else if (rc == -EPERM)
		ark_log(sup->log, "error", "not adopting %s: %s", c->name, why);
	return rc == -EPERM ? rc : 0;
}

static void add_child(struct ark_supervisor *sup, const char *name, int index, bool is_source)
{
	struct ark_child *c = &sup->children[sup->child_count++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->index = index;
	c->is_source = is_source;
	c->pidfd = c->standby_pidfd = c->standby_fd = -1;
}

static int fail_start(struct ark_supervisor *sup, struct ark_err *err, int rc, const char *what)
{
	char msg[sizeof err->msg];
	snprintf(msg, sizeof msg, "%s", what);
	ark_supervisor_stop(sup, true);
	ark_supervisor_close(sup);
	return ark_err_set(err, rc, "%s", msg);
}

/* A take-over refused (a live process in the segment is not ours): this
 * watchdog walks away as if it had never come. Nothing is signalled, not
 * even what it had adopted already, and the segment stays: whatever runs on
 * it keeps running, and the operator decides. */
static int abandon_start(struct ark_supervisor *sup, struct ark_err *err, int rc, const char *what)
{
	char msg[sizeof err->msg];
	snprintf(msg, sizeof msg, "%s", what);
	ark_log(sup->log, "error", "%s", msg);
	for (int i = 0; i < sup->child_count; i++)
		if (sup->children[i].pidfd >= 0) {
			close(sup->children[i].pidfd);
			sup->children[i].pidfd = -1;
			sup->children[i].pid = 0;
		}
	ark_watchdog_pid_file(sup, "watchdog", 0, 0);
	ark_canary_free(sup);
	ark_log_close(sup->log);
	sup->log = NULL;
	ark_pipeline_detach(&sup->map);
	return ark_err_set(err, rc, "%s", msg);
}

/* Standbys are started before the sources, while the CPUs are idle: an exec
 * and a dynamic link during the run would be latency the run pays. */
static void start_standbys(struct ark_supervisor *sup)
{
	if (!sup->watchdog.standby)
		return;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (!sup->children[a].external && !sup->children[a].standby_pid)
			ark_watchdog_standby_start(sup, &sup->children[a]);
	uint64_t deadline = ark_now_ns() + 5ull * 1000 * 1000 * 1000;
	for (;;) {
		int waiting = 0;
		for (int a = 0; a < ARK_AGENT_COUNT; a++) {
			struct ark_child *c = &sup->children[a];
			ark_watchdog_standby_check(sup, c, false);
			waiting += c->standby_pid && !ark_watchdog_standby_ready(c);
		}
		if (!waiting || ark_now_ns() > deadline)
			return;
		sleep_ns(2 * 1000 * 1000);
	}
}

/* Every process of the instance: the agents, the sources, the metrics
 * server and the mirror when enabled, and a canary lane's Joey, HRM and
 * Kenny (its configuration read, its run begun). *canary_first: the index
 * of the lane's first. */
static int add_children(struct ark_supervisor *sup, const struct ark_supervisor_options *options, bool metrics_enabled,
			bool mirror_enabled, int *canary_first, struct ark_err *err)
{
	int rc;
	struct ark_pipeline *p = sup->map.pipeline;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		add_child(sup, ark_agent_file_name((enum ark_agent)a), a, false);
		sup->children[a].external = options->external_agents;
	}
	for (int s = 0; s < p->source_count; s++) {
		char name[16];
		snprintf(name, sizeof name, "source%d", s);
		add_child(sup, name, s, true);
		sup->children[sup->child_count - 1].endless = p->source_kinds[s] != ARK_SOURCE_SYNTHETIC;
		if (atomic_load(&p->counters.source_done[s]))
			sup->children[sup->child_count - 1].finished = true;
	}
	if (metrics_enabled) {
		add_child(sup, "metrics_server", 0, false);
		sup->children[sup->child_count - 1].auxiliary = true;
	}
	if (mirror_enabled) {
		add_child(sup, "mirror", 0, false);
		sup->children[sup->child_count - 1].auxiliary = true;
		sup->children[sup->child_count - 1].mirror = true;
	} else {
		ark_log(sup->log, "info", "REDIS_URL is not set: the Redis mirror is off");
	}
	*canary_first = sup->child_count;
	if (ark_pipeline_has_canary(&sup->map)) {
		/* The canary lane's Joey, HRM and Kenny (never systemd units). */
		for (int a = ARK_AGENT_JOEY; a <= ARK_AGENT_KENNY; a++) {
			char name[24];
			snprintf(name, sizeof name, "%s.canary", ark_agent_file_name((enum ark_agent)a));
			add_child(sup, name, a, false);
			sup->children[sup->child_count - 1].lane = ARK_LANE_CANARY;
		}
		enum ark_canary_outcome outcome = atomic_load(&p->canary.outcome);
		if (sup->adopted && (outcome == ARK_CANARY_PASSED || outcome == ARK_CANARY_ROLLED_BACK ||
				     outcome == ARK_CANARY_STOPPED)) {
			for (int i = *canary_first; i < sup->child_count; i++)
				sup->children[i].finished = true;   /* the canary ended before: its lane stopped */
		} else {
			if (options->canary)
				sup->canary_config = *options->canary;
			else if ((rc = ark_canary_config_from_env(&sup->canary_config, err)))
				return fail_start(sup, err, rc, err->msg);
			if ((rc = ark_canary_begin(sup, &sup->canary_config, err)))
				return fail_start(sup, err, rc, err->msg);
		}
	}
	return 0;
}

/* After a watchdog's death (or with systemd's agents): take over each
 * process found running; one in its place that is not ours stops the start. */
static int take_over(struct ark_supervisor *sup, const struct ark_supervisor_options *options, struct ark_err *err)
{
	if (sup->adopted || options->external_agents)
		for (int i = 0; i < sup->child_count; i++) {
			char why[256], msg[400];
			if (sup->children[i].finished || (!sup->adopted && !sup->children[i].external) ||
			    adopt_if_running(sup, &sup->children[i], why, sizeof why) == 0)
				continue;
			/* A live process in its place that is not ours: starting a
			 * second one beside it would feed two consumers one ring. */
			snprintf(msg, sizeof msg, "cannot take over %s: %s; it is left alone (stop it, then start again)",
				 sup->children[i].name, why);
			return abandon_start(sup, err, -EPERM, msg);
		}
	return 0;
}

/* The agents, downstream first, and wait until every one runs. */
static int start_agents(struct ark_supervisor *sup, const struct ark_supervisor_options *options, struct ark_err *err)
{
	int rc;
	/* Downstream first, so every consumer is waiting when data arrives. */
	for (int i = ARK_AGENT_COUNT - 1; i >= 0; i--) {
		struct ark_child *c = &sup->children[i];
		if (c->pid || c->external)
			continue;
		if ((rc = ark_watchdog_spawn(sup, c, err))) {
			ark_err_wrap(err, "cannot start %s", c->name);
			return fail_start(sup, err, rc, err->msg);
		}
	}
	/* Sources start once every agent runs (state RUNNING): the first
	 * events must not queue behind an agent still opening its files. */
	uint64_t deadline = ark_now_ns() + 30ull * 1000 * 1000 * 1000;
	while (ark_supervisor_agents_running(sup) < ARK_AGENT_COUNT) {
		reap(sup);
		if (sup->failed)
			return fail_start(sup, err, -ECHILD, sup->failure);
		if (restart_due(sup, err))
			return fail_start(sup, err, -ECHILD, err->msg);
		if (ark_now_ns() > deadline)
			return fail_start(sup, err, -ETIMEDOUT,
					  options->external_agents
						  ? "the agents did not start within 30 s: are the ark-agent@ units running? (systemctl status 'ark-agent@*')"
						  : "the agents did not start within 30 s: see their logs in $ARK_LOG_DIR (default ./ark-data/logs)");
		ark_supervisor_wait(sup, -1, 2 * 1000 * 1000);
	}
	return 0;
}

/* Standbys, the canary lane, the metrics server, the mirror, the sources. */
static int start_the_rest(struct ark_supervisor *sup, int canary_first, struct ark_err *err)
{
	int rc;
	start_standbys(sup);
	for (int i = canary_first; sup->adopted && i < sup->child_count; i++)
		sup->children[i].canary_config_run = sup->children[i].pid != 0;   /* unknown: assume the canary's */
	if (sup->canary && sup->adopted) {
		/* A canary is judged by the watchdog that watched its whole window. */
		ark_canary_trip(sup, "the watchdog restarted during the canary window");
	}
	for (int i = canary_first; i < sup->child_count; i++) {
		struct ark_child *c = &sup->children[i];
		if (c->pid || c->finished)
			continue;
		if ((rc = ark_watchdog_spawn(sup, c, err))) {
			ark_err_wrap(err, "cannot start %s", c->name);
			return fail_start(sup, err, rc, err->msg);
		}
	}
	/* The metrics server first, then the sources: its start-up is not on
	 * the first events' path. */
	for (int k = 0; k < 2 * sup->child_count; k++) {
		struct ark_child *c = &sup->children[k % sup->child_count];
		bool auxiliary_pass = k < sup->child_count;
		if (k % sup->child_count < ARK_AGENT_COUNT || c->lane || c->pid || c->finished || c->auxiliary != auxiliary_pass)
			continue;
		if ((rc = ark_watchdog_spawn(sup, c, err))) {
			ark_err_wrap(err, "cannot start %s", c->name);
			return fail_start(sup, err, rc, err->msg);
		}
	}
	return 0;
}

int ark_supervisor_start(struct ark_supervisor *sup, const struct ark_supervisor_options *options,
			 struct ark_err *err)
{
	memset(sup, 0, sizeof *sup);
	sup->interrupt_fd = -1;
	sup->feed_port = options->feed_port;
	sup->service = options->service;
	sup->notice = options->notice;
	sup->notice_ctx = options->notice_ctx;
	for (int i = 0; i < ARK_SUPERVISOR_MAX_CHILDREN; i++)
		sup->children[i].pidfd = sup->children[i].standby_pidfd = sup->children[i].standby_fd = -1;
	if (ark_watchdog_config_from_env(&sup->watchdog, err))
		return -EINVAL;
	sup->rng = ark_now_ns() | 1;
	snprintf(sup->instance, sizeof sup->instance, "%s", options->instance);
	sup->source_args = options->source_args;
	int exe_rc = ark_self_exe(sup->exe, sizeof sup->exe, err);
	if (exe_rc)
		return exe_rc;
	/* A standby that died leaves its pipe closed: the write fails, no signal. */
	signal(SIGPIPE, SIG_IGN);

	struct ark_store_config store;
	int rc = ark_store_config_from_env(&store, err);
	if (rc)
		return -EINVAL;
	snprintf(sup->journal_dir, sizeof sup->journal_dir, "%s", store.journal_dir);
	rc = ark_store_mkdirs(store.data_dir, err);
	if (!rc)
		rc = ark_store_mkdirs(sup->watchdog.run_dir, err);
	if (rc)
		return rc;
	sup->log = ark_log_open("watchdog", err);
	if (!sup->log)
		return -EIO;
	ark_log(sup->log, "info", "starting instance=%s enabled=%d quarantine=%d max_latency_ms=%llu max_failure_rate=%g window_s=%llu hang_ms=%llu standby=%d run_dir=%s",
		options->instance, sup->watchdog.enabled, sup->watchdog.quarantine_enabled,
		(unsigned long long)(sup->watchdog.max_latency_ns / 1000000), sup->watchdog.max_failure_rate,
		(unsigned long long)(sup->watchdog.window_ns / 1000000000), (unsigned long long)(sup->watchdog.hang_ns / 1000000),
		sup->watchdog.standby, sup->watchdog.run_dir);
	ark_log_flush(sup->log);
	/* Every setting is checked before the segment is touched: a typo must
	 * not stop a running instance this watchdog was meant to take over. */
	bool metrics_enabled = true;
	struct ark_mirror_config mirror;
	if (ark_env_bool("METRICS_SERVER_ENABLED", true, &metrics_enabled, err) ||
	    ark_mirror_config_from_env(&mirror, err)) {
		ark_log(sup->log, "error", "configuration: %s", err->msg);
		ark_log_close(sup->log);
		sup->log = NULL;
		return -EINVAL;
	}
	rc = ark_watchdog_open_instance(sup, options, err);
	if (rc) {
		ark_log(sup->log, "error", "cannot start: %s", err->msg);
		ark_log_close(sup->log);
		sup->log = NULL;
		return rc == -EEXIST ? -EEXIST : rc;
	}
	ark_watchdog_pid_file(sup, "watchdog", getpid(), ark_shm_process_start_ticks((int32_t)getpid()));
	int canary_first = 0;
	if ((rc = add_children(sup, options, metrics_enabled, mirror.enabled, &canary_first, err)) ||
	    (rc = take_over(sup, options, err)) || (rc = start_agents(sup, options, err)) ||
	    (rc = start_the_rest(sup, canary_first, err)))
		return rc;
	sup->crash_window_start_ns = ark_now_ns();
	ark_log(sup->log, "info", "running instance=%s agents=%d adopted=%d", sup->instance,
		ark_supervisor_agents_running(sup), sup->adopted);
	ark_log_flush(sup->log);
	return 0;
}

int ark_supervisor_agents_running(const struct ark_supervisor *sup)
{
	int running = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		running += sup->children[a].pid != 0 &&
			   atomic_load(&sup->map.pipeline->agents[a].state) == ARK_PROC_RUNNING;
	return running;
}

bool ark_supervisor_wait(struct ark_supervisor *sup, int extra_fd, uint64_t timeout_ns)
{
	struct pollfd fds[2 * ARK_SUPERVISOR_MAX_CHILDREN + 1];
	nfds_t n = 0;
	if (extra_fd >= 0)
		fds[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
	for (int i = 0; i < sup->child_count; i++) {
		if (sup->children[i].pidfd >= 0)
			fds[n++] = (struct pollfd){.fd = sup->children[i].pidfd, .events = POLLIN};
		if (sup->children[i].standby_pidfd >= 0)
			fds[n++] = (struct pollfd){.fd = sup->children[i].standby_pidfd, .events = POLLIN};
	}
	/* An agent without its standby: look again soon, to start one. */
	uint64_t now = ark_now_ns();
	for (int a = 0; a < ARK_AGENT_COUNT && sup->watchdog.standby && !sup->stopping; a++)
		if (sup->children[a].pid && !sup->children[a].standby_pid && !sup->children[a].external &&
		    now >= sup->children[a].standby_retry_at_ns && timeout_ns > STANDBY_AFTER_NS)
			timeout_ns = STANDBY_AFTER_NS;
	struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
	int rc = ppoll(fds, n, &ts, NULL);
	return rc > 0 && extra_fd >= 0 && (fds[0].revents & POLLIN);
}

static void describe_status(int status, char *out, size_t len)
{
	if (status == -1)
		snprintf(out, len, "exited (status unknown: not this watchdog's child)");
	else if (WIFEXITED(status))
		snprintf(out, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "status 0x%x", status);
}

/* A crashed process: restarted after its back-off, unless processes keep
 * dying before handling anything (then the instance stops). */
static void schedule_restart(struct ark_supervisor *sup, struct ark_child *c, pid_t pid, const char *why)
{
	uint64_t now = c->died_ns;
	if (now - sup->crash_window_start_ns > CRASH_WINDOW_NS) {
		sup->crash_window_start_ns = now;
		sup->crashes_in_window = 0;
	}
	/* A process that handled events before it died was healthy: it is
	 * replaced at once and its back-off starts over. One that died before
	 * handling anything is crashing in a loop: it backs off. */
	/* Healthy: it handled events, or it ran for a minute (an idle feed). */
	struct ark_agent_control *control = control_of(sup, c);
	bool worked = (control && atomic_load(&control->events) > c->events_at_start) ||
		      now - c->started_ns >= CRASH_WINDOW_NS;
	if (worked) {
		c->backoff_ns = 0;
	} else if (!c->auxiliary && ++sup->crashes_in_window > ARK_WATCHDOG_CRASH_LIMIT) {
		sup->failed = true;
		snprintf(sup->failure, sizeof sup->failure,
			 "more than %d processes died before handling anything within a minute (last: %s, %s): stopping",
			 ARK_WATCHDOG_CRASH_LIMIT, c->name, why);
		ark_log(sup->log, "error", "%s", sup->failure);
		return;
	}
	uint64_t delay = ark_watchdog_jittered(sup, c->backoff_ns);
	c->restart_at_ns = now + delay;
	ark_watchdog_notice(sup, ARK_NOTICE_WARNING, "%s (pid %d) died: %s; restarting in %.2f s", c->name, (int)pid, why,
			    (double)delay / 1e9);
	ark_log(sup->log, "warn", "agent died name=%s pid=%d why=\"%s\" restart_in_ms=%llu", c->name, (int)pid, why,
		(unsigned long long)(delay / 1000000));
	/* The first crash restarts at once; repeated ones back off. */
	c->backoff_ns = worked ? 0
		      : c->backoff_ns < BACKOFF_MIN_NS ? BACKOFF_MIN_NS
		      : c->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : c->backoff_ns * 2;
}

static void reap_one(struct ark_supervisor *sup, struct ark_child *c, int status)
{
	pid_t pid = c->pid;
	ark_watchdog_forget(sup, c);
	c->last_status = status;
	c->died_ns = ark_now_ns();
	bool clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (status == -1) {
		/* Not our child: its own last word in the segment tells a clean exit. */
		struct ark_agent_control *last = control_of(sup, c);
		clean = last ? atomic_load(&last->state) == ARK_PROC_EXITED
			     : atomic_load(c->mirror ? &sup->map.pipeline->mirror_pid : &sup->map.pipeline->metrics_pid) == 0;
	}
	bool config_error = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 2;
	if (c->auxiliary && (clean || config_error)) {
		c->finished = true;
		if (!clean && !sup->stopping) {
			ark_watchdog_notice(sup, ARK_NOTICE_WARNING, "%s could not start (see %s.log); running without it",
					    c->name, c->name);
			ark_log(sup->log, "error", "%s exited with a configuration error; not restarting it", c->name);
		}
		return;
	}
	if (c->lane == ARK_LANE_CANARY && clean && atomic_load(&sup->map.pipeline->canary.lane_stop)) {
		c->finished = true;   /* the canary ended and its lane drained */
		ark_log(sup->log, "info", "%s stopped: the canary lane is closed", c->name);
		return;
	}
	if (clean && (sup->stopping || (c->is_source && (!c->endless || sup->endless_stopped || sup->sources_stopped)))) {
		c->finished = true;
		return;
	}
	if (sup->stopping)
		return;
	char why[96];
	describe_status(status, why, sizeof why);
	if (c->lane == ARK_LANE_CANARY && c->canary_config_run) {
		/* The canary's own process died (or was replaced at a rollback):
		 * the canary is over; the stable configuration takes the lane at
		 * once and finishes what it holds. Not a crash of ARK's own. */
		ark_canary_child_died(sup, c, why);
		c->restart_at_ns = c->died_ns;
		c->backoff_ns = 0;
		ark_log(sup->log, "warn", "canary process died name=%s pid=%d why=\"%s\": restarting it with the stable configuration",
			c->name, (int)pid, why);
		return;
	}
	if (c->is_source && (sup->sources_stopped || (c->endless && sup->endless_stopped))) {
		/* Told to stop, it ended badly: it is done all the same (restarting
		 * it would hold the drain up forever). */
		c->finished = true;
		ark_log(sup->log, "warn", "%s (pid %d) ended badly while stopping: %s", c->name, (int)pid, why);
		return;
	}
	if (config_error && c->is_source && sup->map.pipeline->source_kinds[c->index] == ARK_SOURCE_API) {
		/* The port is taken or the TLS files are wrong: trading goes on without the API. */
		c->finished = true;
		ark_watchdog_notice(sup, ARK_NOTICE_WARNING, "the ingest API could not start (see api.log); running without it");
		ark_log(sup->log, "error", "the ingest API exited with a configuration error; running without it");
		return;
	}
	if (config_error) {
		sup->failed = true;
		sup->config_failed = true;
		snprintf(sup->failure, sizeof sup->failure,
			 "%s stopped with a configuration error (see its log); not restarting", c->name);
		ark_log(sup->log, "error", "%s", sup->failure);
		return;
	}
	if (c->external) {
		/* systemd restarts it (Restart=, with its own limits). */
		ark_log(sup->log, "warn", "agent died name=%s pid=%d why=\"%s\" (systemd restarts it)", c->name, (int)pid, why);
		return;
	}
	schedule_restart(sup, c, pid, why);
}

static void reap(struct ark_supervisor *sup)
{
	for (int i = 0; i < sup->child_count; i++) {
		struct ark_child *c = &sup->children[i];
		int status;
		if (c->pid && ark_watchdog_exited(c, &status))
			reap_one(sup, c, status);
		ark_watchdog_standby_check(sup, c, false);
	}
}

/* Start again every dead process whose back-off has passed. */
static int restart_due(struct ark_supervisor *sup, struct ark_err *err)
{
	uint64_t now = ark_now_ns();
	for (int i = 0; i < sup->child_count && !sup->stopping; i++) {
		struct ark_child *c = &sup->children[i];
		if (c->external && !c->pid) {
			char why[256];
			adopt_if_running(sup, c, why, sizeof why);
			continue;
		}
		if (c->pid || c->finished || !c->restart_at_ns || now < c->restart_at_ns)
			continue;
		if (c->is_source && (sup->sources_stopped || (c->endless && sup->endless_stopped)))
			continue;
		c->restart_at_ns = 0;
		c->restarts++;
		sup->total_restarts++;
		struct ark_agent_control *control = control_of(sup, c);
		if (control)
			ark_control_restarts_add(control);
		int rc = ark_watchdog_spawn(sup, c, err);
		if (rc && c->exec_failed) {
			/* Its program cannot be run now (replaced, removed): a death
			 * at once, as when the exec'd child exited 127 — restarted after
			 * its back-off, counted in a crash loop, a canary judged on it. */
			reap_one(sup, c, W_EXITCODE(127, 0));
			continue;
		}
		if (rc)
			return ark_err_wrap(err, "cannot restart %s", c->name);
		ark_log(sup->log, "info", "restarted name=%s pid=%d after_ms=%.1f", c->name, (int)c->pid,
			(double)(c->started_ns - c->died_ns) / 1e6);
	}
	return 0;
}

/* Keep a warm standby beside every agent that has settled. */
static void tend_standbys(struct ark_supervisor *sup, uint64_t now)
{
	if (!sup->watchdog.standby || sup->stopping)
		return;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		struct ark_child *c = &sup->children[a];
		if (c->external || c->standby_pid || !c->pid || now - c->started_ns < STANDBY_AFTER_NS ||
		    now < c->standby_retry_at_ns ||
		    atomic_load(&sup->map.pipeline->agents[a].state) != ARK_PROC_RUNNING)
			continue;
		ark_watchdog_standby_start(sup, c);
		return;   /* one per pass: exec'ing five at once would steal the pipeline's CPUs */
	}
}

int ark_supervisor_poll(struct ark_supervisor *sup, struct ark_err *err)
{
	reap(sup);
	if (sup->failed)
		return ark_err_set(err, -ECHILD, "%s", sup->failure);
	uint64_t now = ark_now_ns();
	struct ark_pipeline *p = sup->map.pipeline;
	if (restart_due(sup, err))
		return -ECHILD;
	if (sup->watchdog.enabled && !sup->stopping)
		ark_watchdog_watch_agents(sup, now);
	ark_canary_poll(sup, now);
	tend_standbys(sup, now);
	sup->loops++;
	ark_log_flush(sup->log);
	if (sup->service)
		return 0;
	if (!sup->stopping && !sup->endless_stopped) {
		/* The finite sources are done: the endless ones (the TCP feed) are
		 * told to stop; they deliver what clients sent, then exit. */
		bool finite_done = true, any_endless = false;
		for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++) {
			if (!is_source(&sup->children[i]))
				continue;
			if (sup->children[i].endless)
				any_endless = true;
			else
				finite_done &= sup->children[i].finished;
		}
		if (finite_done && any_endless) {
			sup->endless_stopped = true;
			for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++)
				if (sup->children[i].endless && sup->children[i].pid)
					ark_watchdog_signal(&sup->children[i], SIGTERM);
		}
	}
	if (!sup->stopping) {
		bool sources_done = true;
		for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++)
			sources_done &= sup->children[i].finished || !is_source(&sup->children[i]);
		uint64_t kyle = atomic_load(&p->agents[ARK_AGENT_KYLE].last_seq);
		uint64_t aletheia = atomic_load(&p->agents[ARK_AGENT_ALETHEIA].last_seq);
		bool sources_empty = true;
		for (int s = 0; s < p->source_count; s++)
			sources_empty &= ark_ring_depth(ark_pipeline_source_ring(&sup->map, s)) == 0;
		if (sources_done && sources_empty && aletheia == kyle) {
			sup->stopping = true;
			atomic_store(&p->stop, 1);
		}
	}
	return 0;
}

int ark_supervisor_start_status(const struct ark_supervisor *sup, int rc)
{
	return rc == -EINVAL || rc == -EPERM || rc == -EUCLEAN || rc == -EPROTOTYPE || rc == -EBADMSG ||
			       sup->config_failed
		       ? 2
		       : 1;
}

bool ark_supervisor_finished(const struct ark_supervisor *sup)
{
	if (sup->failed)
		return true;
	for (int i = 0; i < sup->child_count; i++)
		if (sup->children[i].pid || (!sup->children[i].finished && !sup->stopping))
			return false;
	return true;
}

void ark_supervisor_stop_sources(struct ark_supervisor *sup)
{
	sup->sources_stopped = true;
	for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++) {
		struct ark_child *c = &sup->children[i];
		if (!is_source(c))
			continue;   /* the metrics server serves until the end; agents drain */
		if (c->pid)
			ark_watchdog_signal(c, SIGTERM);
		else
			c->finished = true;
	}
}

static bool any_running(const struct ark_supervisor *sup)
{
	for (int i = 0; i < sup->child_count; i++)
		if (sup->children[i].pid)
			return true;
	return false;
}

void ark_supervisor_stop(struct ark_supervisor *sup, bool now)
{
	struct ark_pipeline *p = sup->map.pipeline;
	for (int i = 0; i < sup->child_count; i++)
		ark_watchdog_standby_check(sup, &sup->children[i], true);
	if (!sup->sources_stopped)
		ark_supervisor_stop_sources(sup);
	uint64_t start = ark_now_ns();
	/* Drain: Aletheia catches up with Kyle (bounded: 30 s). A failed
	 * instance (a process that cannot run: nothing passes it) stops at once. */
	while (!now && !sup->failed && p && any_running(sup) && ark_now_ns() - start < 30ull * 1000 * 1000 * 1000) {
		reap(sup);
		bool sources_running = false;
		for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++)
			sources_running |= sup->children[i].pid != 0 && is_source(&sup->children[i]);
		if (!sources_running && atomic_load(&p->agents[ARK_AGENT_ALETHEIA].last_seq) ==
						atomic_load(&p->agents[ARK_AGENT_KYLE].last_seq))
			break;
		/* A canary lane keeps running (and is replaced if it dies) until
		 * it has handed Aletheia every event it holds. */
		struct ark_err err = {0};
		if (sup->canary && restart_due(sup, &err))
			ark_log(sup->log, "error", "during the drain: %s", err.msg);
		ark_canary_poll(sup, ark_now_ns());
		if (ark_supervisor_wait(sup, sup->interrupt_fd, 10 * 1000 * 1000)) {
			ark_log(sup->log, "warn", "stopping at once (a second stop request during the drain)");
			break;
		}
	}
	ark_canary_stopped(sup);
	sup->stopping = true;
	if (p)
		atomic_store(&p->stop, 1);
	for (int i = 0; i < sup->child_count; i++)
		ark_watchdog_signal(&sup->children[i], SIGTERM);
	start = ark_now_ns();
	bool killed = false;
	while (any_running(sup)) {
		reap(sup);
		if (!killed && ark_now_ns() - start > 10ull * 1000 * 1000 * 1000) {
			killed = true;
			for (int i = 0; i < sup->child_count; i++)
				if (sup->children[i].pid) {
					ark_log(sup->log, "error", "%s (pid %d) did not stop within 10 s: SIGKILL",
						sup->children[i].name, (int)sup->children[i].pid);
					ark_watchdog_signal(&sup->children[i], SIGKILL);
				}
		}
		ark_supervisor_wait(sup, -1, 5 * 1000 * 1000);
	}
}

void ark_supervisor_close(struct ark_supervisor *sup)
{
	for (int i = 0; i < sup->child_count; i++)
		ark_watchdog_standby_check(sup, &sup->children[i], true);
	ark_watchdog_pid_file(sup, "watchdog", 0, 0);
	ark_canary_free(sup);
	if (sup->log) {
		ark_log(sup->log, "info", "stopped restarts=%llu standby_takeovers=%llu hangs=%llu quarantines=%llu",
			(unsigned long long)sup->total_restarts, (unsigned long long)sup->total_standby_takeovers,
			(unsigned long long)sup->total_hangs, (unsigned long long)sup->total_quarantines);
		ark_log_close(sup->log);
		sup->log = NULL;
	}
	char name[ARK_SHM_NAME_MAX];
	if (sup->map.pipeline) {
		snprintf(name, sizeof name, "%s", sup->map.shm.name);
		ark_pipeline_detach(&sup->map);
		ark_shm_unlink(name, NULL);
	}
}
