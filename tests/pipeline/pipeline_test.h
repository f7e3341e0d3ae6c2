/* tests/pipeline/pipeline_test.h — helpers for the pipeline's integration
 * tests: run the real `ark` binary in a temporary data directory with its
 * own instance name, read back its journal and Mutable Core, and check what
 * every test checks (gap-free sequence, complete traces, verdicts). */
#ifndef ARK_TESTS_PIPELINE_H
#define ARK_TESTS_PIPELINE_H

#include "check.h"
#include "event/event.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct pipeline_env {
	const char *ark;          /* path of the ark binary */
	char data_dir[256];
	char instance[64];
};

static inline void pipeline_env_init(struct pipeline_env *env, const char *ark, const char *name)
{
	env->ark = ark;
	snprintf(env->data_dir, sizeof env->data_dir, "/tmp/ark-test-%s-XXXXXX", name);
	CHECK(mkdtemp(env->data_dir) != NULL);
	snprintf(env->instance, sizeof env->instance, "t%s%d", name, (int)getpid());
	setenv("ARK_DATA_DIR", env->data_dir, 1);
	setenv("ARK_INSTANCE", env->instance, 1);
	setenv("ARK_JOURNAL_SYNC", "none", 1);
	setenv("METRICS_PORT", "0", 1);   /* any free port: the tests never collide */
	unsetenv("ARK_STATE_DB");
	unsetenv("ARK_GRAVEYARD_RULES");
	unsetenv("ARK_LOG_DIR");
}

static inline void pipeline_env_cleanup(struct pipeline_env *env)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", env->data_dir, env->data_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", env->data_dir);
}

/* Start `ark run ARGS... --json --quiet`, stdout to `out_path`. */
static inline pid_t pipeline_start(const struct pipeline_env *env, const char *out_path, const char *const *args)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		close(fd);
		const char *argv[40];
		int n = 0;
		argv[n++] = env->ark;
		argv[n++] = "run";
		for (int i = 0; args[i] && n < 36; i++)
			argv[n++] = args[i];
		argv[n++] = "--json";
		argv[n++] = "--quiet";
		argv[n] = NULL;
		execv(env->ark, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static inline int pipeline_wait(pid_t pid, int timeout_s)
{
	for (int i = 0; i < timeout_s * 20; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK_MSG(false, "ark run did not finish within %d s", timeout_s);
	return -1;
}

/* The value of "key": in a one-line JSON object (numbers and booleans). */
static inline double json_number(const char *json, const char *key)
{
	char pattern[96];
	snprintf(pattern, sizeof pattern, "\"%s\":", key);
	const char *p = strstr(json, pattern);
	CHECK_MSG(p != NULL, "no %s in %s", key, json);
	p += strlen(pattern);
	if (strncmp(p, "true", 4) == 0)
		return 1;
	if (strncmp(p, "false", 5) == 0)
		return 0;
	return strtod(p, NULL);
}

static inline void read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	CHECK_MSG(f != NULL, "cannot open %s", path);
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Every journal record, in order, as events. */
struct journal_events {
	struct ark_event *events;
	size_t count;
};

static inline void journal_load(const struct pipeline_env *env, struct journal_events *out)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/journal", env->data_dir);
	struct ark_err err = {0};
	struct ark_journal_reader *reader;
	CHECK_MSG(ark_journal_reader_open(&reader, dir, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_journal_reader_seek(reader, 0, &err) == 0, "%s", err.msg);
	size_t cap = 1 << 16;
	out->events = malloc(cap * sizeof *out->events);
	out->count = 0;
	for (;;) {
		struct ark_journal_record rec;
		int rc = ark_journal_reader_next(reader, &rec, &err);
		if (rc == -EAGAIN)
			break;
		CHECK_MSG(rc == 0, "journal read: %s", err.msg);
		CHECK_EQ_U64(rec.len, sizeof(struct ark_event));
		if (out->count == cap) {
			cap *= 2;
			out->events = realloc(out->events, cap * sizeof *out->events);
			CHECK(out->events != NULL);
		}
		memcpy(&out->events[out->count], rec.payload, sizeof(struct ark_event));
		CHECK_EQ_U64(out->events[out->count].seq, rec.seq);
		CHECK_EQ_U64(out->events[out->count].trace_id, rec.trace_id);
		out->count++;
	}
	ark_journal_reader_close(reader);
}

static inline bool trace_is_complete(const struct ark_event *e)
{
	uint64_t previous = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		if (!e->stamp_in_ns[a] || !e->stamp_out_ns[a] || e->stamp_in_ns[a] < previous ||
		    e->stamp_out_ns[a] < e->stamp_in_ns[a])
			return false;
		previous = e->stamp_out_ns[a];
	}
	return true;
}

/* Sequence 1..count with no gap or repeat, every trace complete. */
static inline void check_journal_whole(const struct journal_events *j)
{
	for (size_t i = 0; i < j->count; i++) {
		CHECK_MSG(j->events[i].seq == i + 1, "journal record %zu has seq %llu (gap or repeat)", i,
			  (unsigned long long)j->events[i].seq);
		CHECK_MSG(trace_is_complete(&j->events[i]), "trace of seq %llu is incomplete",
			  (unsigned long long)j->events[i].seq);
	}
}

static inline uint64_t sql_count(const struct pipeline_env *env, const char *query)
{
	char path[512];
	snprintf(path, sizeof path, "%s/ark_state.db", env->data_dir);
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK_MSG(sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK, "%s: %s", query, sqlite3_errmsg(db));
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	uint64_t n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

#endif
