/* cli/supervise.c — start, watch, restart and stop the processes of one
 * pipeline instance (see supervise.h).
 *
 * A child that dies after handling events is restarted at once; one that
 * dies before handling anything is crashing in a loop: it is restarted after
 * a back-off that doubles from 100 ms to 30 s, with +-20 % jitter, and more
 * than 5 such deaths within a minute stop the run (a crash loop is not
 * healed by restarting). A child that exits with status 2
 * reported a configuration error: it is not retried. An agent with input
 * waiting and no progress for WATCHDOG_HANG_MS is hung: SIGABRT, SIGKILL a
 * second later, restarted. An agent whose time per event passes
 * WATCHDOG_MAX_LATENCY_MS, or whose errors pass WATCHDOG_MAX_FAILURE_RATE of
 * its events, within a WATCHDOG_WINDOW_S window is quarantined (it fails
 * closed; `ark release` lifts it). Each child's pid is in
 * $ARK_RUN_DIR/<name>.pid. The run is complete when every source has
 * finished and Aletheia has journaled what Kyle published; then the agents
 * are asked to drain and stop. */
#include "cli/supervise.h"

#include "graveyard/graveyard.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BACKOFF_MIN_NS (100ull * 1000 * 1000)
#define BACKOFF_MAX_NS (30ull * 1000 * 1000 * 1000)
#define CRASH_WINDOW_NS (60ull * 1000 * 1000 * 1000)
#define CRASH_LIMIT 5      /* deaths before handling anything, per window */

static void reap(struct ark_supervisor *sup);
static int restart_due(struct ark_supervisor *sup, struct ark_err *err);

int ark_watchdog_config_from_env(struct ark_watchdog_config *c, struct ark_err *err)
{
	memset(c, 0, sizeof *c);
	uint64_t latency_ms, window_s, hang_ms;
	int rc = ark_env_bool("WATCHDOG_ENABLED", true, &c->enabled, err);
	if (!rc)
		rc = ark_env_bool("WATCHDOG_QUARANTINE_ENABLED", true, &c->quarantine_enabled, err);
	if (!rc)
		rc = ark_env_u64("WATCHDOG_MAX_LATENCY_MS", 5000, 1, 3600 * 1000, &latency_ms, err);
	if (!rc)
		rc = ark_env_u64("WATCHDOG_WINDOW_S", 10, 1, 3600, &window_s, err);
	if (!rc)
		rc = ark_env_u64("WATCHDOG_HANG_MS", 5000, 100, 3600 * 1000, &hang_ms, err);
	if (rc)
		return rc;
	const char *rate = getenv("WATCHDOG_MAX_FAILURE_RATE");
	c->max_failure_rate = 0.20;
	if (rate && *rate && (rc = ark_parse_double(rate, 0, 1, "WATCHDOG_MAX_FAILURE_RATE", &c->max_failure_rate, err)))
		return rc;
	c->max_latency_ns = latency_ms * 1000000ull;
	c->window_ns = window_s * 1000000000ull;
	c->hang_ns = hang_ms * 1000000ull;
	c->kill_grace_ns = 1000000000ull;
	const char *dir = getenv("ARK_RUN_DIR");
	const char *env = getenv("ARK_ENV");
	const char *data = getenv("ARK_DATA_DIR");
	if (dir && *dir)
		snprintf(c->run_dir, sizeof c->run_dir, "%s", dir);
	else if (env && strcmp(env, "prod") == 0)
		snprintf(c->run_dir, sizeof c->run_dir, "/var/run/ark");
	else
		snprintf(c->run_dir, sizeof c->run_dir, "%s/run", data && *data ? data : "./ark-data");
	return 0;
}

int ark_watchdog_record(const char *agent, const char *event, int pid, const char *reason, struct ark_err *err)
{
	struct ark_store_config cfg;
	int rc = ark_store_config_from_env(&cfg, err);
	if (rc)
		return rc;
	struct ark_core *core;
	rc = ark_core_open(&core, &cfg, ARK_CORE_NO_CHECKPOINTER, NULL, err);
	if (rc)
		return rc;
	rc = ark_core_record_agent_event(core, agent, event, pid, reason, ark_realtime_ns(), err);
	ark_core_close(core);
	return rc;
}

static void pid_file(const struct ark_supervisor *sup, const char *name, pid_t pid)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s.pid", sup->watchdog.run_dir, name);
	if (pid <= 0) {
		unlink(path);
		return;
	}
	char tmp[PATH_MAX + 48];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	char text[24];
	int n = snprintf(text, sizeof text, "%d\n", (int)pid);
	if (write(fd, text, (size_t)n) == n)
		rename(tmp, path);
	else
		unlink(tmp);
	close(fd);
}

/* A back-off with +-20 % jitter, so crashed agents do not restart in step. */
static uint64_t jittered(struct ark_supervisor *sup, uint64_t ns)
{
	sup->rng ^= sup->rng << 13;
	sup->rng ^= sup->rng >> 7;
	sup->rng ^= sup->rng << 17;
	double f = 0.8 + 0.4 * (double)(sup->rng % 10000) / 10000.0;
	return (uint64_t)((double)ns * f);
}

static int spawn(struct ark_supervisor *sup, struct ark_child *c)
{
	const char *argv[32];
	int n = 0;
	argv[n++] = "ark";
	char index[16], port[16];
	if (c->auxiliary) {
		argv[n++] = "metrics-server";
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
	} else if (c->is_source && c->endless) {
		snprintf(index, sizeof index, "%d", c->index);
		argv[n++] = "source";
		argv[n++] = "tcp";
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
		argv[n++] = "--source";
		argv[n++] = index;
		if (sup->feed_port >= 0) {
			snprintf(port, sizeof port, "%d", sup->feed_port);
			argv[n++] = "--port";
			argv[n++] = port;
		}
	} else if (c->is_source) {
		snprintf(index, sizeof index, "%d", c->index);
		argv[n++] = "source";
		argv[n++] = "synthetic";
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
		argv[n++] = "--source";
		argv[n++] = index;
		for (int i = 0; sup->source_args && sup->source_args[i] && n < 30; i++)
			argv[n++] = sup->source_args[i];
	} else {
		argv[n++] = "agent";
		argv[n++] = ark_agent_file_name((enum ark_agent)c->index);
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
	}
	argv[n] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;   /* ark run blocks SIGCHLD to wait on it: not for the children */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(sup->exe, (char *const *)argv);
		fprintf(stderr, "ark: cannot run %s: %s\n", sup->exe, strerror(errno));
		_exit(127);
	}
	c->pid = pid;
	c->started_ns = ark_now_ns();
	c->progress_ns = c->started_ns;
	if (!c->auxiliary && sup->map.pipeline) {
		struct ark_pipeline *p = sup->map.pipeline;
		c->events_at_start = atomic_load(c->is_source ? &p->sources[c->index].events : &p->agents[c->index].events);
	}
	c->abort_sent_ns = 0;
	pid_file(sup, c->name, pid);
	return 0;
}

/* The last seq in the journal (0 when empty): a new run continues after it,
 * so sequence numbers stay monotonic for the instance's whole record. */
static int journal_last_seq(const char *dir, uint64_t *last, struct ark_err *err)
{
	*last = 0;
	uint64_t firsts[1];
	size_t count = 0;
	int rc = ark_journal_list(dir, firsts, 0, &count, err);
	if (rc == -ENOENT || (rc == 0 && count == 0))
		return 0;
	if (rc)
		return rc;
	uint64_t *all = calloc(count, sizeof *all);
	if (!all)
		return ark_err_set(err, -ENOMEM, "out of memory");
	rc = ark_journal_list(dir, all, count, &count, err);
	struct ark_journal_reader *reader = NULL;
	if (!rc)
		rc = ark_journal_reader_open(&reader, dir, err);
	if (!rc)
		rc = ark_journal_reader_seek(reader, all[count - 1], err);
	while (!rc) {
		struct ark_journal_record rec;
		int r = ark_journal_reader_next(reader, &rec, err);
		if (r == -EAGAIN)
			break;
		if (r) {
			rc = r;
			break;
		}
		*last = rec.seq;
	}
	if (reader)
		ark_journal_reader_close(reader);
	free(all);
	(void)firsts;
	return rc;
}

static int rules_setup(struct ark_pipeline_config *config, struct ark_err *err)
{
	const char *path = getenv("ARK_GRAVEYARD_RULES");
	char buf[ARK_PATH_MAX];
	if (!path || !*path) {
		if (ark_graveyard_installed_path(buf, sizeof buf, err))
			return -EINVAL;
		path = buf;
	}
	snprintf(config->rules_path, sizeof config->rules_path, "%s", path);
	struct stat st;
	if (stat(path, &st) != 0) {
		int rc = ark_pipeline_install_rules(path, err);
		if (rc)
			return rc;
	}
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	if (!rules)
		return ark_err_set(err, -ENOMEM, "out of memory");
	int rc = ark_graveyard_load(path, rules, err);
	if (!rc)
		snprintf(config->rules_hash, sizeof config->rules_hash, "%s", rules->file_sha256_hex);
	free(rules);
	return rc;
}

int ark_supervisor_start(struct ark_supervisor *sup, const char *instance, const char *const *source_args,
			 int feed_port, struct ark_err *err)
{
	memset(sup, 0, sizeof *sup);
	sup->feed_port = feed_port;
	int wrc = ark_watchdog_config_from_env(&sup->watchdog, err);
	if (wrc)
		return -EINVAL;
	sup->rng = ark_now_ns() | 1;
	snprintf(sup->instance, sizeof sup->instance, "%s", instance);
	sup->source_args = source_args;
	ssize_t n = readlink("/proc/self/exe", sup->exe, sizeof sup->exe - 1);
	if (n <= 0)
		return ark_err_set(err, -errno, "cannot find the ark executable: %s", strerror(errno));
	sup->exe[n] = '\0';

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
	pid_file(sup, "watchdog", getpid());
	ark_log(sup->log, "info", "starting instance=%s enabled=%d quarantine=%d max_latency_ms=%llu max_failure_rate=%g window_s=%llu hang_ms=%llu run_dir=%s",
		instance, sup->watchdog.enabled, sup->watchdog.quarantine_enabled,
		(unsigned long long)(sup->watchdog.max_latency_ns / 1000000), sup->watchdog.max_failure_rate,
		(unsigned long long)(sup->watchdog.window_ns / 1000000000), (unsigned long long)(sup->watchdog.hang_ns / 1000000),
		sup->watchdog.run_dir);
	ark_log_flush(sup->log);
	struct ark_pipeline_config config;
	rc = ark_pipeline_config_from_env(&config, err);
	if (rc)
		return -EINVAL;
	snprintf(config.instance, sizeof config.instance, "%s", instance);
	if (feed_port >= 0) {
		config.source_count = 2;
		config.source_kinds[1] = ARK_SOURCE_TCP;
	}
	rc = rules_setup(&config, err);
	if (rc)
		return rc;
	rc = journal_last_seq(store.journal_dir, &config.base_seq, err);
	if (rc)
		return ark_err_wrap(err, "reading the journal in %s", store.journal_dir);
	rc = ark_pipeline_create(&sup->map, &config, err);
	if (rc)
		return rc;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		struct ark_child *c = &sup->children[sup->child_count++];
		snprintf(c->name, sizeof c->name, "%s", ark_agent_file_name((enum ark_agent)a));
		c->index = a;
		c->backoff_ns = 0;
	}
	for (int s = 0; s < config.source_count; s++) {
		struct ark_child *c = &sup->children[sup->child_count++];
		snprintf(c->name, sizeof c->name, "source%d", s);
		c->is_source = true;
		c->endless = config.source_kinds[s] == ARK_SOURCE_TCP;
		c->index = s;
		c->backoff_ns = 0;
	}
	bool metrics_enabled = true;
	if (ark_env_bool("METRICS_SERVER_ENABLED", true, &metrics_enabled, err)) {
		ark_pipeline_detach(&sup->map);
		return -EINVAL;
	}
	if (metrics_enabled) {
		struct ark_child *c = &sup->children[sup->child_count++];
		snprintf(c->name, sizeof c->name, "metrics_server");
		c->auxiliary = true;
		c->backoff_ns = 0;
	}
	/* Downstream first, so every consumer is waiting when data arrives. */
	for (int i = ARK_AGENT_COUNT - 1; i >= 0; i--) {
		rc = spawn(sup, &sup->children[i]);
		if (rc) {
			ark_supervisor_stop(sup, true);
			ark_supervisor_close(sup);
			return ark_err_set(err, rc, "cannot start %s: %s", sup->children[i].name, strerror(-rc));
		}
	}
	/* Sources start once every agent runs (state RUNNING): the first
	 * events must not queue behind an agent still opening its files. */
	uint64_t deadline = ark_now_ns() + 30ull * 1000 * 1000 * 1000;
	for (;;) {
		reap(sup);
		if (sup->failed) {
			ark_supervisor_stop(sup, true);
			ark_supervisor_close(sup);
			return ark_err_set(err, -ECHILD, "%s", sup->failure);
		}
		if (restart_due(sup, err)) {
			ark_supervisor_stop(sup, true);
			ark_supervisor_close(sup);
			return -ECHILD;
		}
		int running = 0;
		for (int a = 0; a < ARK_AGENT_COUNT; a++)
			running += atomic_load(&sup->map.pipeline->agents[a].state) == ARK_PROC_RUNNING &&
				   sup->children[a].pid != 0;
		if (running == ARK_AGENT_COUNT)
			break;
		if (ark_now_ns() > deadline) {
			ark_supervisor_stop(sup, true);
			ark_supervisor_close(sup);
			return ark_err_set(err, -ECHILD, "the agents did not start within 30 s: see their logs in $ARK_LOG_DIR (default ./ark-data/logs)");
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++) {
		rc = spawn(sup, &sup->children[i]);
		if (rc) {
			ark_supervisor_stop(sup, true);
			ark_supervisor_close(sup);
			return ark_err_set(err, rc, "cannot start %s: %s", sup->children[i].name, strerror(-rc));
		}
	}
	sup->crash_window_start_ns = ark_now_ns();
	return 0;
}

static struct ark_child *child_of(struct ark_supervisor *sup, pid_t pid)
{
	for (int i = 0; i < sup->child_count; i++)
		if (sup->children[i].pid == pid)
			return &sup->children[i];
	return NULL;
}

static void describe_status(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, len, "status 0x%x", status);
}

static void reap(struct ark_supervisor *sup)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct ark_child *c = child_of(sup, pid);
		if (!c)
			continue;
		c->pid = 0;
		c->last_status = status;
		pid_file(sup, c->name, 0);
		bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (c->auxiliary && (clean || (WIFEXITED(status) && WEXITSTATUS(status) == 2))) {
			c->finished = true;
			if (!clean && !sup->stopping) {
				printf("  the metrics server could not start (see metrics_server.log); running without it\n");
				fflush(stdout);
				ark_log(sup->log, "error", "metrics server exited with a configuration error; not restarting it");
			}
			continue;
		}
		if (clean && (sup->stopping || c->is_source)) {
			c->finished = true;
			continue;
		}
		if (sup->stopping)
			continue;
		char why[96];
		describe_status(status, why, sizeof why);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
			sup->failed = true;
			snprintf(sup->failure, sizeof sup->failure,
				 "%s stopped with a configuration error (see its log); not restarting", c->name);
			continue;
		}
		uint64_t now = ark_now_ns();
		if (now - sup->crash_window_start_ns > CRASH_WINDOW_NS) {
			sup->crash_window_start_ns = now;
			sup->crashes_in_window = 0;
		}
		/* A process that handled events before it died was healthy: it is
		 * replaced at once and its back-off starts over. One that died
		 * before handling anything is crashing in a loop: it backs off,
		 * and more than CRASH_LIMIT of those within a minute stop the run
		 * (systemd's own restart limits take over from there). */
		struct ark_pipeline *pl = sup->map.pipeline;
		bool worked = !c->auxiliary && pl &&
			      atomic_load(c->is_source ? &pl->sources[c->index].events : &pl->agents[c->index].events) >
				      c->events_at_start;
		if (worked) {
			c->backoff_ns = 0;
		} else if (!c->auxiliary && ++sup->crashes_in_window > CRASH_LIMIT) {
			sup->failed = true;
			snprintf(sup->failure, sizeof sup->failure,
				 "more than %d processes died before handling anything within a minute (last: %s, %s): stopping",
				 CRASH_LIMIT, c->name, why);
			continue;
		}
		uint64_t delay = jittered(sup, c->backoff_ns);
		c->restart_at_ns = now + delay;
		printf("  %s (pid %d) died: %s; restarting in %.2f s\n", c->name, (int)pid, why, (double)delay / 1e9);
		fflush(stdout);
		ark_log(sup->log, "warn", "agent died name=%s pid=%d why=\"%s\" restart_in_ms=%llu", c->name, (int)pid, why,
			(unsigned long long)(delay / 1000000));
		/* The first crash restarts at once; repeated ones back off. */
		c->backoff_ns = c->backoff_ns < BACKOFF_MIN_NS ? BACKOFF_MIN_NS
			      : c->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : c->backoff_ns * 2;
		if (worked)
			c->backoff_ns = 0;   /* the next death of a working process is again restarted at once */
	}
}

/* Start again every dead child whose back-off has passed. */
static int restart_due(struct ark_supervisor *sup, struct ark_err *err)
{
	uint64_t now = ark_now_ns();
	struct ark_pipeline *p = sup->map.pipeline;
	for (int i = 0; i < sup->child_count && !sup->stopping; i++) {
		struct ark_child *c = &sup->children[i];
		if (c->pid || c->finished || !c->restart_at_ns || now < c->restart_at_ns)
			continue;
		if (c->is_source && (sup->sources_stopped || (c->endless && sup->endless_stopped)))
			continue;
		c->restart_at_ns = 0;
		c->restarts++;
		sup->total_restarts++;
		if (!c->auxiliary)
			ark_control_restarts_add(c->is_source ? &p->sources[c->index] : &p->agents[c->index]);
		int rc = spawn(sup, c);
		if (rc)
			return ark_err_set(err, rc, "cannot restart %s: %s", c->name, strerror(-rc));
	}
	return 0;
}

/* Events waiting for an agent: its input ring(s). */
static uint64_t input_depth(const struct ark_supervisor *sup, int agent)
{
	if (agent == ARK_AGENT_KYLE) {
		uint64_t depth = 0;
		for (int s = 0; s < sup->map.pipeline->source_count; s++)
			depth += ark_ring_depth(ark_pipeline_source_ring(&sup->map, s));
		return depth;
	}
	return ark_ring_depth(ark_pipeline_output_ring(&sup->map, (enum ark_agent)(agent - 1)));
}

static void quarantine(struct ark_supervisor *sup, struct ark_child *c, struct ark_agent_control *control,
		       const char *reason)
{
	atomic_store(&control->quarantined, 1);
	c->quarantined = true;
	sup->total_quarantines++;
	ark_control_add(&sup->map.pipeline->counters.quarantines[c->index], 1);
	printf("  %s quarantined: %s (it fails closed; `ark release %s` lifts it)\n", c->name, reason, c->name);
	fflush(stdout);
	ark_log(sup->log, "error", "agent quarantined name=%s pid=%d reason=\"%s\"", c->name, (int)c->pid, reason);
	struct ark_err err;
	if (ark_watchdog_record(ark_agent_name((enum ark_agent)c->index), "quarantine", (int)c->pid, reason, &err))
		ark_log(sup->log, "warn", "cannot record the quarantine in the mutable core: %s", err.msg);
}

/* Progress, hangs and quarantine limits of every running agent. */
static void watch_agents(struct ark_supervisor *sup, uint64_t now)
{
	struct ark_pipeline *p = sup->map.pipeline;
	const struct ark_watchdog_config *w = &sup->watchdog;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		struct ark_child *c = &sup->children[a];
		struct ark_agent_control *control = &p->agents[a];
		if (!c->pid || atomic_load(&control->state) != ARK_PROC_RUNNING)
			continue;
		uint64_t events = atomic_load(&control->events), errors = atomic_load(&control->errors);
		uint64_t progress = events + atomic_load(&control->duplicates) + atomic_load(&control->rollbacks);
		/* Waiting for a full output ring is backpressure from downstream,
		 * not a hang of this agent. */
		struct ark_ring *out = a < ARK_AGENT_ALETHEIA ? ark_pipeline_output_ring(&sup->map, (enum ark_agent)a) : NULL;
		bool blocked = out && ark_ring_depth(out) >= out->capacity;
		if (progress != c->progress_value || input_depth(sup, a) == 0 || blocked || now < c->progress_ns) {
			c->progress_value = progress;
			c->progress_ns = now;
		} else if (!c->abort_sent_ns && now - c->progress_ns > w->hang_ns) {
			char reason[128];
			snprintf(reason, sizeof reason, "no progress for %.1f s with %llu events waiting",
				 (double)(now - c->progress_ns) / 1e9, (unsigned long long)input_depth(sup, a));
			printf("  %s (pid %d) is hung: %s; SIGABRT\n", c->name, (int)c->pid, reason);
			fflush(stdout);
			ark_log(sup->log, "error", "agent hung name=%s pid=%d reason=\"%s\"", c->name, (int)c->pid, reason);
			kill(c->pid, SIGABRT);
			c->abort_sent_ns = now;
			sup->total_hangs++;
			ark_control_add(&p->counters.hangs[a], 1);
		} else if (c->abort_sent_ns && now > c->abort_sent_ns && now - c->abort_sent_ns > w->kill_grace_ns) {
			ark_log(sup->log, "error", "agent still there after SIGABRT name=%s pid=%d: SIGKILL", c->name, (int)c->pid);
			kill(c->pid, SIGKILL);
			c->abort_sent_ns = now + 3600ull * 1000000000ull;   /* once */
		}
		/* Quarantine window. A release by `ark release` starts a new one. */
		bool flagged = atomic_load(&control->quarantined) != 0;
		if (c->quarantined && !flagged) {
			c->quarantined = false;
			c->window_start_ns = 0;
			c->latency_sampled_events = events;
			ark_log(sup->log, "info", "agent released name=%s", c->name);
			printf("  %s released\n", c->name);
			fflush(stdout);
		}
		if (!w->quarantine_enabled || c->quarantined)
			continue;
		if (!c->window_start_ns || now - c->window_start_ns > w->window_ns) {
			c->window_start_ns = now;
			c->window_events = events;
			c->window_errors = errors;
			c->window_max_latency_ns = 0;
		}
		/* A latency sample counts once the agent has handled new events
		 * (not a stale one from before a release). */
		if (events != c->latency_sampled_events) {
			uint64_t latency = atomic_load(&control->last_latency_ns);
			if (latency > c->window_max_latency_ns)
				c->window_max_latency_ns = latency;
			c->latency_sampled_events = events;
		}
		uint64_t d_events = events - c->window_events, d_errors = errors - c->window_errors;
		char reason[160];
		if (c->window_max_latency_ns > w->max_latency_ns) {
			snprintf(reason, sizeof reason, "time per event %.3f ms over WATCHDOG_MAX_LATENCY_MS %.3f",
				 (double)c->window_max_latency_ns / 1e6, (double)w->max_latency_ns / 1e6);
			quarantine(sup, c, control, reason);
		} else if (d_events >= 20 && (double)d_errors / (double)d_events > w->max_failure_rate) {
			snprintf(reason, sizeof reason, "failure rate %.3f (%llu errors in %llu events) over WATCHDOG_MAX_FAILURE_RATE %.3f",
				 (double)d_errors / (double)d_events, (unsigned long long)d_errors,
				 (unsigned long long)d_events, w->max_failure_rate);
			quarantine(sup, c, control, reason);
		}
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
		watch_agents(sup, now);
	ark_log_flush(sup->log);
	if (!sup->stopping && !sup->endless_stopped) {
		/* The finite sources are done: the endless ones (the TCP feed) are
		 * told to stop; they deliver what clients sent, then exit. */
		bool finite_done = true, any_endless = false;
		for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++) {
			if (sup->children[i].auxiliary)
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
					kill(sup->children[i].pid, SIGTERM);
		}
	}
	if (!sup->stopping) {
		bool sources_done = true;
		for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++)
			sources_done &= sup->children[i].finished || sup->children[i].auxiliary;
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
		if (c->auxiliary)
			continue;   /* the metrics server serves until the end */
		if (c->pid)
			kill(c->pid, SIGTERM);
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
	if (!sup->sources_stopped)
		ark_supervisor_stop_sources(sup);
	uint64_t start = ark_now_ns();
	/* Drain: Aletheia catches up with Kyle (bounded: 30 s). */
	while (!now && p && any_running(sup) && ark_now_ns() - start < 30ull * 1000 * 1000 * 1000) {
		reap(sup);
		bool sources_running = false;
		for (int i = ARK_AGENT_COUNT; i < sup->child_count; i++)
			sources_running |= sup->children[i].pid != 0 && !sup->children[i].auxiliary;
		if (!sources_running && atomic_load(&p->agents[ARK_AGENT_ALETHEIA].last_seq) ==
						atomic_load(&p->agents[ARK_AGENT_KYLE].last_seq))
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	sup->stopping = true;
	if (p)
		atomic_store(&p->stop, 1);
	for (int i = 0; i < sup->child_count; i++)
		if (sup->children[i].pid)
			kill(sup->children[i].pid, SIGTERM);
	start = ark_now_ns();
	while (any_running(sup)) {
		reap(sup);
		if (ark_now_ns() - start > 10ull * 1000 * 1000 * 1000) {
			for (int i = 0; i < sup->child_count; i++)
				if (sup->children[i].pid)
					kill(sup->children[i].pid, SIGKILL);
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void ark_supervisor_close(struct ark_supervisor *sup)
{
	pid_file(sup, "watchdog", 0);
	if (sup->log) {
		ark_log(sup->log, "info", "stopped restarts=%llu hangs=%llu quarantines=%llu",
			(unsigned long long)sup->total_restarts, (unsigned long long)sup->total_hangs,
			(unsigned long long)sup->total_quarantines);
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

void ark_supervisor_summary(struct ark_supervisor *sup, double elapsed_s, struct ark_run_summary *s)
{
	memset(s, 0, sizeof *s);
	struct ark_pipeline *p = sup->map.pipeline;
	s->elapsed_s = elapsed_s;
	snprintf(s->journal_dir, sizeof s->journal_dir, "%s", sup->journal_dir);
	snprintf(s->failure, sizeof s->failure, "%s", sup->failure);
	for (int i = 0; i < p->source_count; i++)
		s->ticks += atomic_load(&p->counters.source_published[i]);
	s->events = atomic_load(&p->counters.journaled);
	uint64_t first_in, last_out;
	ark_pipeline_span(&sup->map, &first_in, &last_out);
	s->sustained_eps = last_out > first_in && s->events > 1 ? (double)(s->events - 1) * 1e9 / (double)(last_out - first_in) : 0;
	s->intents = atomic_load(&p->counters.intents);
	s->denials = atomic_load(&p->counters.denials);
	s->fills = atomic_load(&p->counters.fills);
	for (int r = 0; r < ARK_REASON_COUNT; r++)
		s->denials_by_reason[r] = atomic_load(&p->counters.denials_by_reason[r]);
	s->injected_denied = atomic_load(&p->counters.injected_denied);
	s->injected_allowed = atomic_load(&p->counters.injected_allowed);
	s->injected_wrong_reason = atomic_load(&p->counters.injected_wrong_reason);
	s->clean_denied = atomic_load(&p->counters.clean_denied);
	s->trace_breaks = atomic_load(&p->counters.trace_breaks);
	s->restarts = sup->total_restarts;
	s->hangs = sup->total_hangs;
	s->quarantines = sup->total_quarantines;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		s->errors += atomic_load(&p->agents[a].errors);
		s->duplicates_dropped += atomic_load(&p->agents[a].duplicates);
		s->rollbacks += atomic_load(&p->agents[a].rollbacks);
	}
	for (int i = 0; i < p->source_count; i++)
		s->errors += atomic_load(&p->sources[i].errors);
	if (sup->failed)
		s->errors++;
	struct ark_latency_record *lat = ark_pipeline_latency(&sup->map);
	s->e2e_p50_us = (double)ark_hist_quantile(&lat->end_to_end, 0.50) / 1e3;
	s->e2e_p99_us = (double)ark_hist_quantile(&lat->end_to_end, 0.99) / 1e3;
	s->e2e_p999_us = (double)ark_hist_quantile(&lat->end_to_end, 0.999) / 1e3;
	s->e2e_max_us = (double)lat->end_to_end.max / 1e3;
	const struct ark_hist *eval = ark_pipeline_hrm_eval(&sup->map);
	s->hrm_eval_p50_ns = (double)ark_hist_quantile(eval, 0.50);
	s->hrm_eval_p99_ns = (double)ark_hist_quantile(eval, 0.99);
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		s->agent_p50_us[a] = (double)ark_hist_quantile(&lat->agent[a], 0.50) / 1e3;
		s->agent_p99_us[a] = (double)ark_hist_quantile(&lat->agent[a], 0.99) / 1e3;
	}
	s->ok = s->errors == 0 && s->trace_breaks == 0 && !sup->failed && s->events == s->ticks &&
		s->denials_by_reason[ARK_REASON_ETHICS_DRIFT] == 0;
	if (s->denials_by_reason[ARK_REASON_ETHICS_DRIFT] && !s->failure[0])
		snprintf(s->failure, sizeof s->failure,
			 "ethics drift: the Graveyard rules changed under the running pipeline; every event after it was denied");
	else if (s->events != s->ticks && !s->failure[0])
		snprintf(s->failure, sizeof s->failure, "%llu ticks were published but %llu events journaled",
			 (unsigned long long)s->ticks, (unsigned long long)s->events);
}

void ark_run_summary_print(const struct ark_run_summary *s, FILE *out)
{
	fprintf(out, "summary: %llu ticks in, %llu events journaled in %.1f s (%.0f events/s sustained end to end)\n",
		(unsigned long long)s->ticks, (unsigned long long)s->events, s->elapsed_s, s->sustained_eps);
	fprintf(out, "  end to end: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", s->e2e_p50_us, s->e2e_p99_us,
		s->e2e_p999_us, s->e2e_max_us);
	fprintf(out, "  per agent p50/p99 us:");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		fprintf(out, " %s %.1f/%.1f", ark_agent_name((enum ark_agent)a), s->agent_p50_us[a], s->agent_p99_us[a]);
	fprintf(out, "\n  HRM evaluation: p50 %.0f ns, p99 %.0f ns per event\n", s->hrm_eval_p50_ns, s->hrm_eval_p99_ns);
	fprintf(out, "  intents %llu, fills %llu, denials %llu", (unsigned long long)s->intents,
		(unsigned long long)s->fills, (unsigned long long)s->denials);
	bool first = true;
	for (int r = 1; r < ARK_REASON_COUNT; r++) {
		if (!s->denials_by_reason[r])
			continue;
		fprintf(out, "%s%s %llu", first ? " (" : ", ", ark_reason_name((enum ark_reason)r),
			(unsigned long long)s->denials_by_reason[r]);
		first = false;
	}
	fprintf(out, "%s\n", first ? "" : ")");
	fprintf(out, "  injected violations: %llu denied with their reason, %llu denied for another, %llu allowed; clean intents denied: %llu\n",
		(unsigned long long)s->injected_denied, (unsigned long long)s->injected_wrong_reason,
		(unsigned long long)s->injected_allowed, (unsigned long long)s->clean_denied);
	fprintf(out, "  errors %llu, trace breaks %llu, restarts %llu (hung %llu), quarantines %llu, re-deliveries dropped %llu, batches rolled back %llu\n",
		(unsigned long long)s->errors, (unsigned long long)s->trace_breaks, (unsigned long long)s->restarts,
		(unsigned long long)s->hangs, (unsigned long long)s->quarantines, (unsigned long long)s->duplicates_dropped,
		(unsigned long long)s->rollbacks);
	fprintf(out, "  journal: %s (ark trace ID, ark journal verify)\n", s->journal_dir);
	if (s->failure[0])
		fprintf(out, "  failure: %s\n", s->failure);
	fprintf(out, "result: %s\n", s->ok ? "OK" : "FAILED");
}

void ark_run_summary_print_json(const struct ark_run_summary *s, FILE *out)
{
	fprintf(out, "{\"ok\":%s,\"elapsed_s\":%.3f,\"sustained_eps\":%.0f,\"ticks\":%llu,\"events\":%llu,\"intents\":%llu,\"fills\":%llu,"
		     "\"denials\":%llu,\"injected_denied\":%llu,\"injected_wrong_reason\":%llu,\"injected_allowed\":%llu,"
		     "\"clean_denied\":%llu,\"errors\":%llu,\"trace_breaks\":%llu,\"restarts\":%llu,\"hangs\":%llu,\"quarantines\":%llu,"
		     "\"duplicates_dropped\":%llu,\"rollbacks\":%llu,\"e2e_p50_us\":%.3f,\"e2e_p99_us\":%.3f,"
		     "\"e2e_p999_us\":%.3f,\"e2e_max_us\":%.3f,\"hrm_eval_p50_ns\":%.0f,\"hrm_eval_p99_ns\":%.0f,"
		     "\"denials_by_reason\":{",
		s->ok ? "true" : "false", s->elapsed_s, s->sustained_eps, (unsigned long long)s->ticks, (unsigned long long)s->events,
		(unsigned long long)s->intents, (unsigned long long)s->fills, (unsigned long long)s->denials,
		(unsigned long long)s->injected_denied, (unsigned long long)s->injected_wrong_reason,
		(unsigned long long)s->injected_allowed, (unsigned long long)s->clean_denied,
		(unsigned long long)s->errors, (unsigned long long)s->trace_breaks, (unsigned long long)s->restarts,
		(unsigned long long)s->hangs, (unsigned long long)s->quarantines,
		(unsigned long long)s->duplicates_dropped, (unsigned long long)s->rollbacks, s->e2e_p50_us, s->e2e_p99_us,
		s->e2e_p999_us, s->e2e_max_us, s->hrm_eval_p50_ns, s->hrm_eval_p99_ns);
	bool first = true;
	for (int r = 1; r < ARK_REASON_COUNT; r++) {
		fprintf(out, "%s\"%s\":%llu", first ? "" : ",", ark_reason_name((enum ark_reason)r),
			(unsigned long long)s->denials_by_reason[r]);
		first = false;
	}
	fprintf(out, "},\"journal_dir\":\"%s\"}\n", s->journal_dir);
}
