/* watchdog/internal.h — what the watchdog's files share (not public). */
#ifndef ARK_WATCHDOG_INTERNAL_H
#define ARK_WATCHDOG_INTERNAL_H

#include "watchdog/watchdog.h"

/* The binaries a process of this instance may run (for
 * ark_shm_process_expect): this ark, and the canary's when configured. */
void ark_watchdog_expected_exes(const struct ark_supervisor *sup, char canary[PATH_MAX], const char *exes[3]);
/* $ARK_RUN_DIR/<name>.pid ("<pid>\n<start ticks>\n": the pid alone on the first line), written atomically;
 * pid <= 0 removes it. */
void ark_watchdog_pid_file(const struct ark_supervisor *sup, const char *name, pid_t pid, uint64_t start_ticks);
/* A line for the operator (see ark_supervisor_notice_fn); the caller logs it. */
void ark_watchdog_notice(const struct ark_supervisor *sup, enum ark_notice_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A back-off with +-20 % jitter, so crashed agents do not restart in step. */
uint64_t ark_watchdog_jittered(struct ark_supervisor *sup, uint64_t ns);
/* Signal c's process through its pidfd (no pid-reuse race for an adopted
 * process that init reaped), by pid when it has none. */
void ark_watchdog_signal(struct ark_child *c, int sig);
/* Progress, hangs and quarantine limits of every running agent. */
void ark_watchdog_watch_agents(struct ark_supervisor *sup, uint64_t now);

/* The instance's segment: a new one (`ark run`, after killing what a dead
 * predecessor left running), or, with adopt, the one a dead watchdog left
 * (its processes carry on and are adopted). Fails when a live watchdog owns it. */
int ark_watchdog_open_instance(struct ark_supervisor *sup, const struct ark_supervisor_options *options,
			       struct ark_err *err);

/* Processes (process.c). A child's start: from its warm standby when one is
 * ready, else fork and exec `ark agent|source|metrics-server ...`. Fails
 * with err filled; when the program cannot be run ("cannot run <program>:
 * <why>", logged too) c->exec_failed is set: the exec's failure is known
 * before it returns, and no process is left. */
int ark_watchdog_spawn(struct ark_supervisor *sup, struct ark_child *c, struct ark_err *err);
/* Take over a process found running (its pid and start time in the
 * segment), once /proc shows it is ours; -EPERM with why when it is not. */
int ark_watchdog_adopt(struct ark_supervisor *sup, struct ark_child *c, pid_t pid, uint64_t start_ticks, char *why,
		       size_t why_len);
/* True when c's process has ended; *status is a wait status, or -1 when
 * it was not our child (adopted) and the status is unknown. */
bool ark_watchdog_exited(struct ark_child *c, int *status);
void ark_watchdog_forget(struct ark_supervisor *sup, struct ark_child *c);
void ark_watchdog_standby_start(struct ark_supervisor *sup, struct ark_child *c);
/* True once the standby said it is ready (non-blocking). */
bool ark_watchdog_standby_ready(struct ark_child *c);
/* Reap a standby that died, or (close_it) tell it to exit and wait for it. */
void ark_watchdog_standby_check(struct ark_supervisor *sup, struct ark_child *c, bool close_it);

/* The canary (canary.c). begin: the lane's processes are about to start;
 * poll: each pass of the loop; child_died: a lane process died. */
int ark_canary_begin(struct ark_supervisor *sup, const struct ark_canary_config *config, struct ark_err *err);
void ark_canary_poll(struct ark_supervisor *sup, uint64_t now);
void ark_canary_child_died(struct ark_supervisor *sup, struct ark_child *c, const char *why);
/* True while the lane's processes are to run the canary's binary and environment. */
bool ark_canary_uses_canary_config(const struct ark_supervisor *sup);
void ark_canary_free(struct ark_supervisor *sup);
/* The instance stops: a canary without a verdict yet is recorded "stopped". */
void ark_canary_stopped(struct ark_supervisor *sup);

#endif /* ARK_WATCHDOG_INTERNAL_H */
