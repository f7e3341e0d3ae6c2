/* proc/log.c — one log file per process, `$ARK_LOG_DIR/<name>.log`, one
 * line per entry: `2026-11-29T07:00:00.123456Z level name message key=value`.
 *
 * ark_log formats into a fixed buffer and never makes a system call. The
 * owner calls ark_log_flush from its idle path: the filled buffer is handed
 * to io_uring as one write and the other buffer takes new lines, so a
 * process never waits for the disk (without io_uring — an old kernel or a
 * seccomp filter — flush falls back to write(2)). When both buffers are busy,
 * lines are dropped and counted, never the events; the count is logged once
 * there is room. SIGHUP (logrotate) reopens the file at the next flush. */
#include "proc/proc.h"

#include <stdarg.h>
#include <stdio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_BUFFER (256u << 10)

struct ark_log {
	int fd;
	char name[32];
	char path[PATH_MAX];
	unsigned generation;        /* of reopen requests, when last opened */
	bool ring_ok;               /* io_uring in use */
	struct io_uring ring;
	char *fill;                 /* lines go here */
	uint32_t used;
	char *flight;               /* being written by io_uring */
	uint32_t flight_len, flight_done;
	bool in_flight;
	uint64_t dropped;
	uint64_t dropped_reported;
	uint64_t write_errors;
	char buffers[2][LOG_BUFFER];
};

/* Bumped by SIGHUP (or ark_log_reopen_all): every log reopens its file. */
static _Atomic unsigned reopen_generation;

void ark_log_reopen_all(void)
{
	atomic_fetch_add(&reopen_generation, 1);
}

static void on_sighup(int sig)
{
	(void)sig;
	ark_log_reopen_all();
}

void ark_log_dir(char *out, size_t len)
{
	const char *dir = getenv("ARK_LOG_DIR");
	if (dir && *dir) {
		snprintf(out, len, "%s", dir);
		return;
	}
	const char *env = getenv("ARK_ENV");
	if (env && strcmp(env, "prod") == 0) {
		snprintf(out, len, "/var/log/ark");
		return;
	}
	const char *data = getenv("ARK_DATA_DIR");
	snprintf(out, len, "%s/logs", data && *data ? data : "./ark-data");
}

static int make_dirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int open_file(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

struct ark_log *ark_log_open(const char *name, struct ark_err *err)
{
	char dir[PATH_MAX - 64];
	ark_log_dir(dir, sizeof dir);
	int rc = make_dirs(dir);
	if (rc) {
		ark_err_set(err, rc, "cannot create log directory %s: %s", dir, strerror(-rc));
		return NULL;
	}
	struct ark_log *log = calloc(1, sizeof *log);
	if (!log) {
		ark_err_set(err, -ENOMEM, "out of memory for the log buffer");
		return NULL;
	}
	snprintf(log->path, sizeof log->path, "%s/%s.log", dir, name);
	log->generation = atomic_load(&reopen_generation);
	log->fd = open_file(log->path);
	if (log->fd < 0) {
		ark_err_set(err, -errno, "cannot open log %s: %s", log->path, strerror(errno));
		free(log);
		return NULL;
	}
	snprintf(log->name, sizeof log->name, "%s", name);
	log->fill = log->buffers[0];
	log->flight = log->buffers[1];
	log->ring_ok = io_uring_queue_init(4, &log->ring, 0) == 0;
	/* logrotate sends SIGHUP; a process that handles it itself (the
	 * watchdog reads it from a signalfd) calls ark_log_reopen_all. */
	struct sigaction old;
	if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sighup;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGHUP, &sa, NULL);
	}
	return log;
}

void ark_log(struct ark_log *log, const char *level, const char *fmt, ...)
{
	if (!log)
		return;
	char line[1024];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, level,
			 log->name);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	/* One entry, one line of valid UTF-8: newlines inside a message would
	 * forge entries, control characters move a terminal's cursor, and a
	 * message cut at the line's end (or quoting a client's bytes) may hold
	 * a broken character. */
	ark_utf8_sanitize(line + n, len - (size_t)n);
	line[len++] = '\n';
	if (log->used + len > LOG_BUFFER) {
		log->dropped++;
		return;
	}
	memcpy(log->fill + log->used, line, len);
	log->used += (uint32_t)len;
}

void ark_log_raw(struct ark_log *log, const char *line)
{
	if (!log)
		return;
	size_t len = strnlen(line, 2048);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (log->used + len + 1 > LOG_BUFFER) {
		log->dropped++;
		return;
	}
	memcpy(log->fill + log->used, line, len);
	ark_utf8_sanitize(log->fill + log->used, len);   /* one line, valid UTF-8 */
	log->fill[log->used + len] = '\n';
	log->used += (uint32_t)len + 1;
}

/* Collect a finished io_uring write; a short one continues. No system call
 * unless a write completed short. */
static void reap_write(struct ark_log *log, bool wait)
{
	while (log->in_flight) {
		struct io_uring_cqe *cqe;
		int rc = wait ? io_uring_wait_cqe(&log->ring, &cqe) : io_uring_peek_cqe(&log->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc)
			return;
		int res = cqe->res;
		io_uring_cqe_seen(&log->ring, cqe);
		if (res == -EINTR || res == -EAGAIN) {
			res = 0;
		} else if (res <= 0) {
			log->write_errors++;   /* the disk said no: these lines are lost, counted */
			log->dropped++;
			log->in_flight = false;
			return;
		}
		log->flight_done += (uint32_t)res;
		if (log->flight_done >= log->flight_len) {
			log->in_flight = false;
			return;
		}
		struct io_uring_sqe *sqe = io_uring_get_sqe(&log->ring);
		io_uring_prep_write(sqe, log->fd, log->flight + log->flight_done, log->flight_len - log->flight_done,
				    (uint64_t)-1);
		io_uring_submit(&log->ring);
	}
}

static void write_plain(struct ark_log *log, const char *buf, uint32_t len)
{
	uint32_t done = 0;
	while (done < len) {
		ssize_t w = write(log->fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log->write_errors++;
			break;
		}
		done += (uint32_t)w;
	}
}

/* logrotate moved the file away: write on in a new one at the same path. */
static void reopen(struct ark_log *log)
{
	unsigned generation = atomic_load(&reopen_generation);
	if (generation == log->generation || log->in_flight)
		return;
	int fd = open_file(log->path);
	if (fd < 0)
		return;   /* keep the old file; try again at the next flush */
	close(log->fd);
	log->fd = fd;
	log->generation = generation;
}

void ark_log_flush(struct ark_log *log)
{
	if (!log)
		return;
	if (log->ring_ok)
		reap_write(log, false);
	reopen(log);
	if (log->dropped != log->dropped_reported && log->used + 128 <= LOG_BUFFER) {
		uint64_t lost = log->dropped - log->dropped_reported;
		log->dropped_reported = log->dropped;
		ark_log(log, "warn", "log lines dropped (buffer full or write failed) lines_dropped=%llu",
			(unsigned long long)lost);
	}
	if (!log->used)
		return;
	if (!log->ring_ok) {
		write_plain(log, log->fill, log->used);
		log->used = 0;
		return;
	}
	if (log->in_flight)
		return;   /* the next flush hands this buffer over */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&log->ring);
	if (!sqe)
		return;
	char *full = log->fill;
	log->fill = log->flight;
	log->flight = full;
	log->flight_len = log->used;
	log->flight_done = 0;
	log->used = 0;
	log->in_flight = true;
	io_uring_prep_write(sqe, log->fd, log->flight, log->flight_len, (uint64_t)-1);
	if (io_uring_submit(&log->ring) != 1) {
		/* io_uring refused (a seccomp filter, a limit): write it directly from now on. */
		log->in_flight = false;
		io_uring_queue_exit(&log->ring);
		log->ring_ok = false;
		write_plain(log, log->flight, log->flight_len);
	}
}

uint64_t ark_log_dropped(const struct ark_log *log)
{
	return log ? log->dropped : 0;
}

void ark_log_close(struct ark_log *log)
{
	if (!log)
		return;
	ark_log_flush(log);
	if (log->ring_ok) {
		reap_write(log, true);
		ark_log_flush(log);   /* what filled while the last write ran */
		reap_write(log, true);
		io_uring_queue_exit(&log->ring);
	}
	if (log->used)
		write_plain(log, log->fill, log->used);
	close(log->fd);
	free(log);
}
