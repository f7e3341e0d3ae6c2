/* perf/redis_server.h — a private redis-server for the benchmarks that
 * compare against Redis (relay, edges): start it on a free loopback port,
 * connect to it, stop it. Not part of perf.h's public surface: only the
 * benchmarks in perf/ use it. */
#ifndef ARK_PERF_REDIS_SERVER_H
#define ARK_PERF_REDIS_SERVER_H

#include "common/common.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ark_perf_redis {
	pid_t pid;
	int port;
	char dir[64];
	char log[96];
	redisContext *c;      /* the benchmark's own connection: resets between runs, SHUTDOWN */
	char version[32];
};

/* Start `program` (a name on PATH or a path) on 127.0.0.1 at a free port,
 * wait until it answers PING as the process started. interrupted (may be
 * NULL) aborts the wait when it becomes non-zero. */
int ark_perf_redis_start(struct ark_perf_redis *rs, const char *program, const volatile sig_atomic_t *interrupted,
			 struct ark_err *err);
/* Stop it and remove its directory; *stopped set when a server was stopped. */
void ark_perf_redis_stop(struct ark_perf_redis *rs, bool *stopped);
/* A connection to 127.0.0.1:port with I/O timeouts; NULL with why filled. */
redisContext *ark_perf_redis_connect(int port, char *why, size_t why_len);
/* The path of an executable on PATH (or the path given); -ENOENT if none. */
int ark_perf_find_program(const char *name, char *out, size_t len);

#endif /* ARK_PERF_REDIS_SERVER_H */
