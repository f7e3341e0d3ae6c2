/* watchdog/process.c — the watchdog's processes: starting them (fork and
 * exec of this same binary, or the take-over of a warm standby), holding a
 * pidfd on each so a death wakes the watchdog at once, adopting processes a
 * dead watchdog left running, and reaping.
 *
 * A warm standby is `ark agent NAME --standby FD` (FD: its end of a socket
 * pair): it loads the binary, attaches the segment, reads its configuration,
 * says "r" (ready) and blocks reading FD. One byte makes it the agent; end
 * of file (the watchdog closed its end, or died) makes it exit. Replacing a dead agent thus costs a pipe write and the
 * agent's own recovery, not an exec and a dynamic link.
 *
 * A child is recorded in the segment (pid, start time, state STARTING) by
 * the watchdog itself right after fork, and before a standby is told to
 * take over; the child, which finds ARK_SUPERVISED_BY=<pid>:<start> in its
 * environment, waits for that record before it does anything, and leaves
 * when the watchdog that forked it died first (ark_process_claim). So a
 * watchdog killed between fork and record leaves no process its successor
 * cannot see: the successor either adopts it or it exits on its own.
 *
 * A start whose exec fails is known before the start returns: the child
 * writes execve's errno to a close-on-exec pipe (end of file: the exec
 * succeeded) and exits; the watchdog reaps it and reports the failure, the
 * program named, through struct ark_err and the log. The child between fork
 * and exec makes only async-signal-safe calls and never prints. */
#include "watchdog/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open_pid(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* argv for c's process; standby_fd >= 0 makes an agent a standby. */
static void build_argv(const struct ark_supervisor *sup, const struct ark_child *c, int standby_fd,
		       const char **argv, char bufs[3][16])
{
	int n = 0;
	argv[n++] = "ark";
	if (c->auxiliary) {
		argv[n++] = c->mirror ? "mirror" : "metrics-server";
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
	} else if (c->is_source && sup->map.pipeline->source_kinds[c->index] == ARK_SOURCE_API) {
		snprintf(bufs[0], 16, "%d", c->index);
		argv[n++] = "api";
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
		argv[n++] = "--source";
		argv[n++] = bufs[0];
	} else if (c->is_source) {
		uint32_t kind = sup->map.pipeline->source_kinds[c->index];
		snprintf(bufs[0], 16, "%d", c->index);
		argv[n++] = "source";
		argv[n++] = kind == ARK_SOURCE_ALPHA_VANTAGE ? "alpha-vantage" : kind == ARK_SOURCE_TCP ? "tcp" : "synthetic";
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
		argv[n++] = "--source";
		argv[n++] = bufs[0];
		if (kind == ARK_SOURCE_TCP && sup->feed_port >= 0) {
			snprintf(bufs[1], 16, "%d", sup->feed_port);
			argv[n++] = "--port";
			argv[n++] = bufs[1];
		}
		for (int i = 0; !c->endless && sup->source_args && sup->source_args[i] && n < 30; i++)
			argv[n++] = sup->source_args[i];
	} else {
		argv[n++] = "agent";
		argv[n++] = ark_agent_file_name((enum ark_agent)c->index);
		argv[n++] = "--instance";
		argv[n++] = sup->instance;
		if (c->lane == ARK_LANE_CANARY) {
			argv[n++] = "--lane";
			argv[n++] = "canary";
		}
		if (standby_fd >= 0) {
			snprintf(bufs[2], 16, "%d", standby_fd);
			argv[n++] = "--standby";
			argv[n++] = bufs[2];
		}
	}
	argv[n] = NULL;
}

/* The child's environment: envp plus ARK_SUPERVISED_BY=<our pid>:<our
 * start time> (built before fork: nothing in the child but exec). */
static char **supervised_env(char *const *envp, char *mark, size_t mark_len)
{
	size_t n = 0;
	while (envp[n])
		n++;
	char **out = calloc(n + 2, sizeof *out);
	if (!out)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "ARK_SUPERVISED_BY=", 18) != 0)
			out[k++] = envp[i];
	int32_t self = (int32_t)getpid();
	snprintf(mark, mark_len, "ARK_SUPERVISED_BY=%d:%llu", (int)self,
		 (unsigned long long)ark_shm_process_start_ticks(self));
	out[k++] = mark;
	out[k] = NULL;
	return out;
}

/* The child between fork and exec: a fork of the watchdog, so only
 * async-signal-safe calls (no stdio, no allocation). When execve fails it
 * writes errno to status_fd (close-on-exec: the parent reads end of file
 * once the exec succeeded) and leaves; the parent reports, never the child. */
__attribute__((noreturn)) static void exec_child(const char *exe, const char **argv, char **child_env, int keep_fd,
						 int status_fd)
{
	sigset_t none;   /* the watchdog's blocked signals are its own */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
	execve(exe, (char *const *)argv, child_env);
	int e = errno;
	ssize_t n = write(status_fd, &e, sizeof e);
	(void)n;   /* nothing more a failed child can do: the parent sees a short read */
	_exit(127);
}

/* The errno of the child's failed execve, 0 when it ran (end of file on
 * the close-on-exec pipe, or nothing readable to say otherwise). */
static int exec_status(int status_fd)
{
	int e = 0;
	ssize_t n;
	while ((n = read(status_fd, &e, sizeof e)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof e)
		return 0;
	return e > 0 ? e : EIO;
}

/* The canary lane's processes run the canary's binary and environment
 * until the canary ends; everything else runs this binary as it is. Fails
 * with err (and *exec_failed, and a line in the log naming the program)
 * when the program cannot be run. */
static int fork_exec(const struct ark_supervisor *sup, const struct ark_child *c, const char **argv, int keep_fd,
		     pid_t *pid_out, bool *exec_failed, struct ark_err *err)
{
	*exec_failed = false;
	extern char **environ;
	const char *exe = sup->exe;
	char *const *envp = environ;
	if (c->lane == ARK_LANE_CANARY && ark_canary_uses_canary_config(sup)) {
		if (sup->canary_config.bin[0])
			exe = sup->canary_config.bin;
		if (sup->canary_config.envp)
			envp = sup->canary_config.envp;
	}
	char mark[64];
	char **child_env = supervised_env(envp, mark, sizeof mark);
	if (!child_env)
		return ark_err_set(err, -ENOMEM, "out of memory for the environment of %s", c->name);
	int status[2];
	if (pipe2(status, O_CLOEXEC) != 0) {
		int e = errno;
		free(child_env);
		return ark_err_set(err, -e, "cannot make a pipe for %s: %s", c->name, strerror(e));
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(status[0]);
		exec_child(exe, argv, child_env, keep_fd, status[1]);
	}
	int fork_errno = errno;
	close(status[1]);
	free(child_env);
	if (pid < 0) {
		close(status[0]);
		return ark_err_set(err, -fork_errno, "cannot fork for %s: %s", c->name, strerror(fork_errno));
	}
	int e = exec_status(status[0]);
	close(status[0]);
	if (e) {
		waitpid(pid, NULL, 0);
		*exec_failed = true;
		ark_log(sup->log, "error", "cannot run %s for %s: %s", exe, c->name, strerror(e));
		return ark_err_set(err, -e, "cannot run %s: %s", exe, strerror(e));
	}
	*pid_out = pid;
	return 0;
}

/* Write the child into its place in the segment before anything else: a
 * successor watchdog finds it there should this one die now. */
static void record(struct ark_supervisor *sup, const struct ark_child *c, pid_t pid)
{
	struct ark_pipeline *p = sup->map.pipeline;
	if (!p || c->external)
		return;
	uint64_t ticks = ark_shm_process_start_ticks((int32_t)pid);
	if (c->auxiliary) {
		atomic_store(c->mirror ? &p->mirror_start_ticks : &p->metrics_start_ticks, ticks);
		atomic_store(c->mirror ? &p->mirror_pid : &p->metrics_pid, (int32_t)pid);
		return;
	}
	struct ark_agent_control *control = c->is_source ? &p->sources[c->index]
					    : c->lane == ARK_LANE_CANARY ? &p->canary_agents[c->index]
					    : &p->agents[c->index];
	atomic_store(&control->start_ticks, ticks);
	atomic_store(&control->state, ARK_PROC_STARTING);
	atomic_store(&control->pid, (int32_t)pid);
}

static void running(struct ark_supervisor *sup, struct ark_child *c, pid_t pid, int pidfd, bool adopted)
{
	c->pid = pid;
	c->pidfd = pidfd;
	c->adopted = adopted;
	c->started_ns = ark_now_ns();
	c->progress_ns = c->started_ns;
	c->abort_sent_ns = 0;
	if (!c->auxiliary && sup->map.pipeline) {
		struct ark_pipeline *p = sup->map.pipeline;
		c->events_at_start = atomic_load(c->is_source ? &p->sources[c->index].events
						 : c->lane == ARK_LANE_CANARY ? &p->canary_agents[c->index].events
						 : &p->agents[c->index].events);
	}
	ark_watchdog_pid_file(sup, c->name, pid, ark_shm_process_start_ticks((int32_t)pid));
}

static bool pidfd_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

/* The wait status of our exited child behind pidfd, -1 if none is there. */
static int reap_pidfd(int pidfd)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0)
		return -1;
	if (si.si_code == CLD_EXITED)
		return W_EXITCODE(si.si_status, 0);
	return W_EXITCODE(0, si.si_status) | (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
}

static int take_over_standby(struct ark_supervisor *sup, struct ark_child *c)
{
	if (!pidfd_readable(c->standby_pidfd))
		record(sup, c, c->standby_pid);   /* before it may act: see ark_process_claim */
	if (pidfd_readable(c->standby_pidfd) || write(c->standby_fd, "g", 1) != 1) {
		ark_log(sup->log, "warn", "standby of %s (pid %d) is gone; starting a new process", c->name,
			(int)c->standby_pid);
		ark_watchdog_standby_check(sup, c, true);
		return -1;
	}
	close(c->standby_fd);
	c->standby_failures = 0;
	running(sup, c, c->standby_pid, c->standby_pidfd, false);
	c->standby_pid = 0;
	c->standby_pidfd = -1;
	c->standby_fd = -1;
	sup->total_standby_takeovers++;
	return 0;
}

int ark_watchdog_spawn(struct ark_supervisor *sup, struct ark_child *c, struct ark_err *err)
{
	c->exec_failed = false;
	if (c->standby_pid && take_over_standby(sup, c) == 0)
		return 0;
	const char *argv[40];
	char bufs[3][16];
	build_argv(sup, c, -1, argv, bufs);
	pid_t pid = 0;
	bool canary_run = c->lane == ARK_LANE_CANARY && ark_canary_uses_canary_config(sup);
	int rc = fork_exec(sup, c, argv, -1, &pid, &c->exec_failed, err);
	if (rc == 0 || c->exec_failed)
		c->canary_config_run = canary_run;   /* whose program ran, or failed to */
	if (rc)
		return rc;
	record(sup, c, pid);
	int pidfd = pidfd_open_pid(pid);
	if (pidfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return ark_err_set(err, -e, "cannot open a pidfd on %s (pid %d): %s", c->name, (int)pid, strerror(e));
	}
	running(sup, c, pid, pidfd, false);
	return 0;
}

int ark_watchdog_adopt(struct ark_supervisor *sup, struct ark_child *c, pid_t pid, uint64_t start_ticks, char *why,
		       size_t why_len)
{
	char canary[PATH_MAX];
	const char *exes[3];
	ark_watchdog_expected_exes(sup, canary, exes);
	struct ark_shm_process_expect expect = {.instance = sup->instance, .exe = exes};
	int pidfd = ark_shm_process_open((int32_t)pid, start_ticks, &expect, why, why_len);
	if (pidfd < 0)
		return pidfd;
	running(sup, c, pid, pidfd, true);
	return 0;
}

void ark_watchdog_signal(struct ark_child *c, int sig)
{
	/* Only through the pidfd: a bare pid may be someone else's by now. */
	if (c->pid && c->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0);
}

bool ark_watchdog_exited(struct ark_child *c, int *status)
{
	if (c->pidfd < 0 || !pidfd_readable(c->pidfd))
		return false;
	*status = c->adopted ? -1 : reap_pidfd(c->pidfd);
	return true;
}

void ark_watchdog_forget(struct ark_supervisor *sup, struct ark_child *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	c->adopted = false;
	ark_watchdog_pid_file(sup, c->name, 0, 0);
}

/* A standby that could not start or died waiting (a failed exec after an
 * upgrade, no file descriptors...): the next one waits longer, up to 30 s.
 * Returns the wait in seconds. */
static double standby_back_off(struct ark_child *c)
{
	c->standby_failures++;
	uint64_t delay = 100ull * 1000 * 1000 << (c->standby_failures < 9 ? c->standby_failures : 9);
	if (delay > 30ull * 1000 * 1000 * 1000)
		delay = 30ull * 1000 * 1000 * 1000;
	c->standby_retry_at_ns = ark_now_ns() + delay;
	return (double)delay / 1e9;
}

void ark_watchdog_standby_start(struct ark_supervisor *sup, struct ark_child *c)
{
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
		return;
	const char *argv[40];
	char bufs[3][16];
	build_argv(sup, c, fds[0], argv, bufs);
	pid_t pid = 0;
	int pidfd = -1;
	struct ark_err err = {0};
	bool exec_failed;
	if (fork_exec(sup, c, argv, fds[0], &pid, &exec_failed, &err) != 0) {
		double s = standby_back_off(c);
		ark_log(sup->log, "warn", "standby of %s cannot start (%s); the next one in %.1f s", c->name, err.msg, s);
	} else if ((pidfd = pidfd_open_pid(pid)) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(fds[0]);
	if (pidfd < 0) {
		close(fds[1]);
		return;
	}
	c->standby_pid = pid;
	c->standby_pidfd = pidfd;
	c->standby_fd = fds[1];
	c->standby_ready = false;
}

bool ark_watchdog_standby_ready(struct ark_child *c)
{
	if (c->standby_ready || c->standby_fd < 0)
		return c->standby_ready;
	char r;
	if (recv(c->standby_fd, &r, 1, MSG_DONTWAIT) == 1 && r == 'r')
		c->standby_ready = true;
	return c->standby_ready;
}

void ark_watchdog_standby_check(struct ark_supervisor *sup, struct ark_child *c, bool close_it)
{
	if (!c->standby_pid)
		return;
	if (close_it && c->standby_fd >= 0) {
		close(c->standby_fd);   /* end of file: the standby exits */
		c->standby_fd = -1;
		struct pollfd p = {.fd = c->standby_pidfd, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			kill(c->standby_pid, SIGKILL);
	} else if (!pidfd_readable(c->standby_pidfd)) {
		return;
	}
	if (!close_it) {
		double s = standby_back_off(c);
		ark_log(sup->log, "warn", "standby of %s (pid %d) exited; the next one in %.1f s", c->name,
			(int)c->standby_pid, s);
	}
	waitpid(c->standby_pid, NULL, 0);
	close(c->standby_pidfd);
	if (c->standby_fd >= 0)
		close(c->standby_fd);
	c->standby_pid = 0;
	c->standby_pidfd = -1;
	c->standby_fd = -1;
}
