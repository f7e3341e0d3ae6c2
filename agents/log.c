/* agents/log.c — one log file per process, `$ARK_LOG_DIR/<name>.log`, one
 * line per entry: `2026-11-29T07:00:00.123456Z level name message key=value`.
 * ark_log formats into a fixed buffer and never makes a system call; the
 * owner writes the buffer out with ark_log_flush from its idle path. When the
 * buffer is full, lines are dropped and counted, never the events. */
#include "agents/agents_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_BUFFER (256u << 10)

struct ark_log {
	int fd;
	char name[32];
	uint32_t used;
	uint64_t dropped;
	uint64_t dropped_reported;
	char buffer[LOG_BUFFER];
};

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

struct ark_log *ark_log_open(const char *name, struct ark_err *err)
{
	char dir[PATH_MAX - 64], path[PATH_MAX];
	ark_log_dir(dir, sizeof dir);
	int rc = make_dirs(dir);
	if (rc) {
		ark_err_set(err, rc, "cannot create log directory %s: %s", dir, strerror(-rc));
		return NULL;
	}
	snprintf(path, sizeof path, "%s/%s.log", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		ark_err_set(err, -errno, "cannot open log %s: %s", path, strerror(errno));
		return NULL;
	}
	struct ark_log *log = calloc(1, sizeof *log);
	if (!log) {
		close(fd);
		ark_err_set(err, -ENOMEM, "out of memory for the log buffer");
		return NULL;
	}
	log->fd = fd;
	snprintf(log->name, sizeof log->name, "%s", name);
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
	/* One entry, one line: newlines inside a message would forge entries. */
	for (size_t i = (size_t)n; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	if (log->used + len > LOG_BUFFER) {
		log->dropped++;
		return;
	}
	memcpy(log->buffer + log->used, line, len);
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
	for (size_t i = 0; i < len; i++)
		log->buffer[log->used + i] = line[i] == '\n' || line[i] == '\r' ? ' ' : line[i];
	log->buffer[log->used + len] = '\n';
	log->used += (uint32_t)len + 1;
}

void ark_log_flush(struct ark_log *log)
{
	if (!log)
		return;
	if (log->dropped != log->dropped_reported && log->used + 128 <= LOG_BUFFER) {
		uint64_t lost = log->dropped - log->dropped_reported;
		log->dropped_reported = log->dropped;
		ark_log(log, "warn", "log buffer was full lines_dropped=%llu", (unsigned long long)lost);
	}
	uint32_t done = 0;
	while (done < log->used) {
		ssize_t w = write(log->fd, log->buffer + done, log->used - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (uint32_t)w;
	}
	log->used = 0;
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
	close(log->fd);
	free(log);
}
