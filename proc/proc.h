/* proc/proc.h — what every ARK process needs, whatever its role: the
 * per-process log, the signals that stop it, the claim of its slot when a
 * watchdog forked it, and a warm standby's wait. Knows nothing of the
 * pipeline's layout (it uses shm/ and common/ only), so the agents, the
 * sources, the mirror, the API, the metrics server and the watchdog all
 * share it without reaching into each other. */
#ifndef ARK_PROC_H
#define ARK_PROC_H

#include "common/common.h"
#include "shm/shm.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- The per-process log: lines go to a buffer, written out through
 * io_uring off the hot path (ark_log_flush in the idle loop); a full buffer
 * drops lines and counts them, never blocks. $ARK_LOG_DIR/<name>.log, mode
 * 0600; SIGHUP reopens it (logrotate). ---- */
struct ark_log;
struct ark_log *ark_log_open(const char *name, struct ark_err *err);
void ark_log_close(struct ark_log *log);
void ark_log(struct ark_log *log, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ark_log_flush(struct ark_log *log);
/* A line already formatted by a component ("ts level name message ..."). */
void ark_log_raw(struct ark_log *log, const char *line);
uint64_t ark_log_dropped(const struct ark_log *log);
/* Every log of this process reopens its file at its next flush (what SIGHUP
 * does; for a process that reads SIGHUP from a signalfd). */
void ark_log_reopen_all(void);
/* $ARK_LOG_DIR, default $ARK_DATA_DIR/logs, ./ark-data/logs, /var/log/ark in prod. */
void ark_log_dir(char *out, size_t len);

/* ---- Signals ---- */
/* SIGTERM calls on_term (which sets the process's stop flag); SIGINT is
 * ignored (Ctrl-C reaches the whole process group: the watchdog decides how
 * the pipeline stops); SIGPIPE is ignored (a closed socket is an error
 * return, not a death). */
void ark_process_signals(void (*on_term)(int));
/* The same, with this module's own handler: SIGTERM raises the flag that
 * ark_process_stop_signalled reads (the agents). */
void ark_process_stop_signals(void);
bool ark_process_stop_signalled(void);

/* ---- Starting under a watchdog ---- */
/* Pin to ARK_CPU_<NAME> (upper_name upper-cased) when set and record the
 * CPU in cpu_slot (-1 when not set). */
int ark_process_pin(const char *upper_name, _Atomic int32_t *cpu_slot, struct ark_err *err);
/* A process the watchdog forked (ARK_SUPERVISED_BY=<pid>:<start> in its
 * environment) waits until its slot (pid_slot, in the segment `shm`) names
 * it: 0 then, or at once when it was not forked by a watchdog. -ESRCH: the
 * watchdog that forked it died (or lost the segment) before recording it,
 * so nobody knows of this process: it must exit without touching the
 * segment. */
int ark_process_claim(const struct ark_shm *shm, _Atomic int32_t *pid_slot);
/* A warm standby waits on `fd` (its end of the watchdog's socket pair):
 * true when the watchdog sent the byte that makes it take over, false at
 * end of file (not needed: exit 0) or on a stop signal. Logs to `log`. */
bool ark_process_standby_wait(struct ark_log *log, int fd);

#endif /* ARK_PROC_H */
