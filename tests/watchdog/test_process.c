/* tests/watchdog/test_process.c — starting a process reports a failed exec
 * to the watchdog, not by the child (watchdog/process.c):
 *   missing     a program that does not exist: -ENOENT, err names the
 *               program, no pid kept, exec_failed set (the restart path
 *               treats it as a death), the child reaped and silent
 *   not_exec    a program without the execute bit: -EACCES, err names it
 *   runs        a program that runs: 0, a pid and a pidfd, the pid file
 *               written, and the process is the program (exit 0, not 127)
 *   standby     a standby whose program cannot run: none kept, and the
 *               next one backs off (failures counted, retry later) */
#include "check.h"

#include "watchdog/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/ark-test-process-XXXXXX";

static struct ark_supervisor *new_supervisor(const char *exe)
{
	struct ark_supervisor *sup = calloc(1, sizeof *sup);
	CHECK(sup);
	snprintf(sup->instance, sizeof sup->instance, "test");
	snprintf(sup->exe, sizeof sup->exe, "%s", exe);
	snprintf(sup->watchdog.run_dir, sizeof sup->watchdog.run_dir, "%s", dir);
	struct ark_child *c = &sup->children[0];
	snprintf(c->name, sizeof c->name, "joey");
	c->index = ARK_AGENT_JOEY;
	c->pidfd = -1;
	c->standby_pidfd = -1;
	c->standby_fd = -1;
	sup->child_count = 1;
	return sup;
}

/* Spawn sup's first child with stderr captured; returns what was printed. */
static int spawn_captured(struct ark_supervisor *sup, struct ark_err *err, char *printed, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "%s/stderr", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	CHECK(saved >= 0 && dup2(fd, 2) == 2);
	int rc = ark_watchdog_spawn(sup, &sup->children[0], err);
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	ssize_t n = pread(fd, printed, len - 1, 0);
	printed[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static void test_missing(void)
{
	char exe[128], printed[256];
	snprintf(exe, sizeof exe, "%s/no-such-ark", dir);
	struct ark_supervisor *sup = new_supervisor(exe);
	struct ark_err err = {0};
	int rc = spawn_captured(sup, &err, printed, sizeof printed);
	CHECK_EQ_U64(rc, -ENOENT);
	CHECK_EQ_U64(err.code, -ENOENT);
	CHECK_CONTAINS(err.msg, "cannot run ");
	CHECK_CONTAINS(err.msg, exe);
	CHECK_CONTAINS(err.msg, strerror(ENOENT));
	CHECK_EQ_U64(sup->children[0].pid, 0);
	CHECK_EQ_U64(sup->children[0].pidfd, -1);
	CHECK(sup->children[0].exec_failed);
	CHECK_MSG(printed[0] == '\0', "the child printed: %s", printed);
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);   /* the failed child was reaped */
	free(sup);
}

static void test_not_executable(void)
{
	char exe[128], printed[256];
	snprintf(exe, sizeof exe, "%s/not-executable", dir);
	int fd = open(exe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, "#!/bin/sh\nexit 0\n", 17) == 17);
	close(fd);
	struct ark_supervisor *sup = new_supervisor(exe);
	struct ark_err err = {0};
	int rc = spawn_captured(sup, &err, printed, sizeof printed);
	CHECK_EQ_U64(rc, -EACCES);
	CHECK(sup->children[0].exec_failed);
	CHECK_CONTAINS(err.msg, exe);
	CHECK_CONTAINS(err.msg, strerror(EACCES));
	CHECK_EQ_U64(sup->children[0].pid, 0);
	CHECK_MSG(printed[0] == '\0', "the child printed: %s", printed);
	free(sup);
}

static void test_runs(void)
{
	struct ark_supervisor *sup = new_supervisor("/bin/true");
	struct ark_err err = {0};
	struct ark_child *c = &sup->children[0];
	CHECK_MSG(ark_watchdog_spawn(sup, c, &err) == 0, "%s", err.msg);
	CHECK(c->pid > 0);
	CHECK(c->pidfd >= 0);
	CHECK(!c->exec_failed);
	char path[128], text[64] = "";
	snprintf(path, sizeof path, "%s/joey.pid", dir);
	FILE *f = fopen(path, "r");
	CHECK(f && fgets(text, sizeof text, f));
	fclose(f);
	CHECK_EQ_U64(atoi(text), c->pid);
	int status = 0;
	CHECK(waitpid(c->pid, &status, 0) == c->pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	ark_watchdog_forget(sup, c);
	CHECK(access(path, F_OK) != 0);
	free(sup);
}

static void test_standby(void)
{
	char exe[128];
	snprintf(exe, sizeof exe, "%s/no-such-ark", dir);
	struct ark_supervisor *sup = new_supervisor(exe);
	struct ark_child *c = &sup->children[0];
	uint64_t before = ark_now_ns();
	ark_watchdog_standby_start(sup, c);
	CHECK_EQ_U64(c->standby_pid, 0);
	CHECK_EQ_U64(c->standby_fd, -1);
	CHECK_EQ_U64(c->standby_failures, 1);
	CHECK(c->standby_retry_at_ns > before);
	ark_watchdog_standby_start(sup, c);
	CHECK_EQ_U64(c->standby_failures, 2);
	free(sup);
}

int main(void)
{
	CHECK(mkdtemp(dir));
	test_missing();
	test_not_executable();
	test_runs();
	test_standby();
	char path[128];
	const char *files[] = {"stderr", "not-executable"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	printf("watchdog process: ok\n");
	return 0;
}
