/* perf/redis_server.c — a private redis-server for benchmarks: started on
 * 127.0.0.1 at a free port (a port lost to a race is retried), verified to be
 * the process we started, and stopped (SHUTDOWN NOSAVE, then signals) with
 * its directory removed, on every path. */
#include "perf/redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEC 1000000000ull
#define REDIS_IO_TIMEOUT_S 5         /* socket timeout of every command (> any BLOCK) */
#define REDIS_START_NS (10 * SEC)
#define REDIS_PORT_ATTEMPTS 5

redisContext *ark_perf_redis_connect(int port, char *why, size_t why_len)
{
	struct timeval tv = {REDIS_IO_TIMEOUT_S, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (!c) {
		snprintf(why, why_len, "cannot allocate a Redis context");
		return NULL;
	}
	if (c->err) {
		snprintf(why, why_len, "connect to 127.0.0.1:%d: %s", port, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(why, why_len, "set the socket timeout on 127.0.0.1:%d: %s", port, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

int ark_perf_find_program(const char *name, char *out, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(out, len, "%.*s/%s", (int)n, path, name);
		if (n > 0 && access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static int free_loopback_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int rc = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
		rc = -errno;
	close(fd);
	return rc ? rc : ntohs(a.sin_port);
}

/* The last non-empty line of redis-server's log, for error messages. */
static void log_tail(const char *path, char *out, size_t len)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(out, len, "%.200s", line);
	}
	fclose(f);
}

static bool reap_within(pid_t pid, uint64_t timeout_ns)
{
	uint64_t until = ark_now_ns() + timeout_ns;
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (ark_now_ns() > until)
			return false;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void ark_perf_redis_stop(struct ark_perf_redis *rs, bool *stopped)
{
	if (rs->pid > 0) {
		bool gone = false;
		if (rs->c) {
			/* The reply is the connection closing; hiredis reports that as NULL. */
			redisReply *r = redisCommand(rs->c, "SHUTDOWN NOSAVE");
			if (r)
				freeReplyObject(r);
			gone = reap_within(rs->pid, 3 * SEC);
		}
		if (!gone) {
			kill(rs->pid, SIGTERM);
			gone = reap_within(rs->pid, 3 * SEC);
		}
		if (!gone) {
			kill(rs->pid, SIGKILL);
			waitpid(rs->pid, NULL, 0);
		}
		*stopped = true;
		rs->pid = 0;
	}
	if (rs->c) {
		redisFree(rs->c);
		rs->c = NULL;
	}
	if (rs->dir[0]) {
		char path[128];
		unlink(rs->log);
		snprintf(path, sizeof path, "%s/dump.rdb", rs->dir);
		unlink(path);
		rmdir(rs->dir);
		rs->dir[0] = '\0';
	}
}

/* The child: redis-server on 127.0.0.1:port, its output in rs->log; never
 * returns. */
static void __attribute__((noreturn)) exec_server(const struct ark_perf_redis *rs, const char *binary,
						  const char *port_text, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(126);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	int devnull = open("/dev/null", O_RDONLY);
	int log = open(rs->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (devnull < 0 || log < 0)
		_exit(126);
	dup2(devnull, 0);
	dup2(log, 1);
	dup2(log, 2);
	/* Hold no descriptor of the caller's (a test's output pipe...). */
	if (close_range(3, ~0u, 0) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	execl(binary, binary, "--bind", "127.0.0.1", "--port", port_text, "--save", "", "--appendonly", "no",
	      "--daemonize", "no", "--dir", rs->dir, "--logfile", "", (char *)NULL);
	dprintf(2, "exec %s: %s\n", binary, strerror(errno));
	_exit(127);
}

static void pause_10ms(void)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* One look at the server on port: true when it is ours (pid) and answers
 * PING (rs->c keeps the connection); else why says what was seen. */
static bool server_answers(struct ark_perf_redis *rs, pid_t pid, int port, char *why, size_t why_len)
{
	redisContext *c = ark_perf_redis_connect(port, why, why_len);
	if (!c)
		return false;
	redisReply *r = redisCommand(c, "INFO server");
	if (r && r->type == REDIS_REPLY_STRING) {
		const char *p = strstr(r->str, "process_id:");
		const char *v = strstr(r->str, "redis_version:");
		if (v)
			snprintf(rs->version, sizeof rs->version, "%.*s", (int)strcspn(v + 14, "\r\n"), v + 14);
		if (!p || atol(p + 11) != (long)pid) {
			/* Someone else's server took the port; ours will fail
			 * to bind and exit: retried by the caller. */
			snprintf(why, why_len, "port %d answers, but not from pid %d", port, (int)pid);
			freeReplyObject(r);
			redisFree(c);
			return false;
		}
		freeReplyObject(r);
		r = redisCommand(c, "PING");
		if (r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0) {
			freeReplyObject(r);
			rs->c = c;
			return true;
		}
	}
	snprintf(why, why_len, "%s", r && r->type == REDIS_REPLY_ERROR ? r->str : "no PONG");
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return false;
}

/* Wait for the server just started (pid, port) to answer: 0, 1 when it
 * lost the port race and another port may be tried, or a negative errno. */
static int await_server(struct ark_perf_redis *rs, pid_t pid, int port, bool may_retry,
			const volatile sig_atomic_t *interrupted, struct ark_err *err)
{
	uint64_t until = ark_now_ns() + REDIS_START_NS;
	char why[256] = "";
	for (;;) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			rs->pid = 0;
			char tail[256];
			log_tail(rs->log, tail, sizeof tail);
			if (strstr(tail, "in use") && may_retry)
				return 1;   /* lost the port race: another port */
			return ark_err_set(err, -ECHILD, "redis-server exited at start (%s %d): %s",
					   WIFEXITED(status) ? "status" : "signal",
					   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
					   tail[0] ? tail : "no log");
		}
		if (interrupted && *interrupted)
			return ark_err_set(err, -EINTR, "interrupted while redis-server was starting");
		if (ark_now_ns() > until)
			return ark_err_set(err, -ETIMEDOUT, "redis-server on port %d did not answer PING in %llu s%s%s",
					   port, (unsigned long long)(REDIS_START_NS / SEC), why[0] ? ": " : "", why);
		if (server_answers(rs, pid, port, why, sizeof why))
			return 0;
		pause_10ms();
	}
}

int ark_perf_redis_start(struct ark_perf_redis *rs, const char *program, const volatile sig_atomic_t *interrupted,
			 struct ark_err *err)
{
	char binary[512];
	memset(rs, 0, sizeof *rs);
	if (ark_perf_find_program(program, binary, sizeof binary))
		return ark_err_set(err, -ENOENT, "%s not found%s (Debian package redis-server)", program,
				   strchr(program, '/') ? "" : " on PATH");
	snprintf(rs->dir, sizeof rs->dir, "%s/ark-relay-redis-XXXXXX",
		 getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 32 ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(rs->dir)) {
		int e = errno;
		rs->dir[0] = '\0';
		return ark_err_set(err, -e, "mkdtemp for redis-server: %s", strerror(e));
	}
	snprintf(rs->log, sizeof rs->log, "%s/redis.log", rs->dir);
	for (int attempt = 0; attempt < REDIS_PORT_ATTEMPTS; attempt++) {
		int port = free_loopback_port();
		if (port < 0)
			return ark_err_set(err, port, "find a free loopback port: %s", strerror(-port));
		char port_text[16];
		snprintf(port_text, sizeof port_text, "%d", port);
		pid_t parent = getpid();
		pid_t pid = fork();
		if (pid < 0)
			return ark_err_set(err, -errno, "fork for redis-server: %s", strerror(errno));
		if (pid == 0)
			exec_server(rs, binary, port_text, parent);
		rs->pid = pid;
		rs->port = port;
		int rc = await_server(rs, pid, port, attempt + 1 < REDIS_PORT_ATTEMPTS, interrupted, err);
		if (rc <= 0)
			return rc;
	}
	return ark_err_set(err, -EADDRINUSE, "redis-server could not bind a free port in %d attempts",
			   REDIS_PORT_ATTEMPTS);
}
