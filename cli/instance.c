/* cli/instance.c — what several commands do with a running instance: tell
 * whether any of its processes lives (by pid and start time, never by name),
 * and stop it the way an operator should (drain first). */
#include "cli/instance.h"

#include "agents/agents.h"
#include "common/common.h"
#include "graveyard/graveyard.h"
#include "ops/ops.h"
#include "store/store.h"
#include "watchdog/watchdog.h"

#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool ark_cli_instance_alive(const char *instance)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err))
		return false;
	bool alive = false;
	const struct ark_pipeline *p = map.pipeline;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		alive |= ark_shm_process_alive(atomic_load(&p->agents[a].pid), atomic_load(&p->agents[a].start_ticks));
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		alive |= ark_shm_process_alive(atomic_load(&p->canary_agents[a].pid), atomic_load(&p->canary_agents[a].start_ticks));
	for (int s = 0; s < p->source_count; s++)
		alive |= ark_shm_process_alive(atomic_load(&p->sources[s].pid), atomic_load(&p->sources[s].start_ticks));
	alive |= ark_shm_process_alive(atomic_load(&p->metrics_pid), atomic_load(&p->metrics_start_ticks));
	alive |= ark_shm_process_alive(atomic_load(&p->mirror_pid), atomic_load(&p->mirror_start_ticks));
	ark_pipeline_detach(&map);
	return alive;
}

static pid_t read_pid(const char *run_dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s.pid", run_dir, name);
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* The pid file's process really is an `ark watchdog` of this instance (a
 * stale file's pid may belong to anything by now, and instances may share a
 * run directory). */
static bool is_watchdog(pid_t pid, const char *instance)
{
	char path[64], cmd[4096];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	cmd[n] = '\0';
	/* argv[0] is "ark" or a path ending in ark; argv[1] "watchdog". */
	const char *arg0 = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	const char *arg1 = cmd + strlen(cmd) + 1;
	if (strncmp(arg0, "ark", 3) != 0 || arg1 >= cmd + n || strcmp(arg1, "watchdog") != 0)
		return false;
	/* --instance NAME, else the default it would have taken. */
	for (const char *a = arg1; a < cmd + n; a += strlen(a) + 1)
		if (strcmp(a, "--instance") == 0 && a + strlen(a) + 1 < cmd + n)
			return strcmp(a + strlen(a) + 1, instance) == 0;
	return strcmp(ark_pipeline_default_instance(), instance) == 0;
}

/* Every process recorded in the segment, by pid and start time. */
static void signal_recorded(const char *instance, int sig)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err))
		return;
	const struct ark_pipeline *p = map.pipeline;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (ark_shm_process_alive(atomic_load(&p->agents[a].pid), atomic_load(&p->agents[a].start_ticks)))
			kill(atomic_load(&p->agents[a].pid), sig);
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (ark_shm_process_alive(atomic_load(&p->canary_agents[a].pid), atomic_load(&p->canary_agents[a].start_ticks)))
			kill(atomic_load(&p->canary_agents[a].pid), sig);
	for (int i = 0; i < p->source_count; i++)
		if (ark_shm_process_alive(atomic_load(&p->sources[i].pid), atomic_load(&p->sources[i].start_ticks)))
			kill(atomic_load(&p->sources[i].pid), sig);
	if (ark_shm_process_alive(atomic_load(&p->metrics_pid), atomic_load(&p->metrics_start_ticks)))
		kill(atomic_load(&p->metrics_pid), sig);
	if (ark_shm_process_alive(atomic_load(&p->mirror_pid), atomic_load(&p->mirror_start_ticks)))
		kill(atomic_load(&p->mirror_pid), sig);
	ark_pipeline_detach(&map);
}

int ark_cli_stop_instance(const char *instance, pid_t watchdog, double timeout_s, bool quiet)
{
	struct ark_watchdog_config wc;
	struct ark_err err = {0};
	if (watchdog <= 0 && ark_watchdog_config_from_env(&wc, &err) == 0) {
		watchdog = read_pid(wc.run_dir, "watchdog");
		if (watchdog > 0 && !is_watchdog(watchdog, instance))
			watchdog = 0;
	}
	if (watchdog > 0 && kill(watchdog, 0) == 0) {
		if (!quiet)
			printf("    stopping the watchdog (pid %d): draining, then stopping every process\n", (int)watchdog);
		kill(watchdog, SIGTERM);
	} else {
		/* No watchdog (it died, or another run directory): each process
		 * drains and stops on SIGTERM itself. */
		if (!quiet)
			printf("    no watchdog found: stopping the instance's processes one by one\n");
		watchdog = 0;
		signal_recorded(instance, SIGTERM);
	}
	uint64_t deadline = ark_now_ns() + (uint64_t)(timeout_s * 1e9);
	while (ark_now_ns() < deadline) {
		int status;
		if (watchdog > 0)
			waitpid(watchdog, &status, WNOHANG);   /* our child when we started it */
		if ((watchdog <= 0 || kill(watchdog, 0) != 0) && !ark_cli_instance_alive(instance))
			return 0;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "ark: the instance did not stop within %.0f s; killing what is left\n", timeout_s);
	if (watchdog > 0)
		kill(watchdog, SIGKILL);
	signal_recorded(instance, SIGKILL);
	return 1;
}

static int by_name_descending(const void *a, const void *b)
{
	return -strcmp(*(char *const *)a, *(char *const *)b);
}

int ark_cli_newest_env_snapshot(const char *dir, char *path, size_t len, int skip)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char *names[4096];
	int n = 0;
	struct dirent *e;
	/* env_<ISO-8601 UTC>.env: the names sort as the times do. */
	while ((e = readdir(d)) && n < 4096)
		if (strncmp(e->d_name, "env_", 4) == 0 && strlen(e->d_name) > 8 &&
		    strcmp(e->d_name + strlen(e->d_name) - 4, ".env") == 0)
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, by_name_descending);
	int rc = -1;
	if (skip < n && names[skip]) {
		snprintf(path, len, "%s/%s", dir, names[skip]);
		rc = 0;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

/* Write text to path through a temporary file and a rename (0600). */
int ark_cli_write_atomic(const char *path, const char *text, size_t len, struct ark_err *err)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", path);
	int fd = mkstemp(tmp);   /* O_EXCL: never through a planted file or link; 0600 */
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot write beside %s: %s", path, strerror(errno));
	struct stat st;
	if (stat(path, &st) == 0 && fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) {
		close(fd);
		unlink(tmp);
		return ark_err_set(err, -errno, "cannot give %s its owner: %s", tmp, strerror(errno));
	}
	bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return ark_err_set(err, -EIO, "cannot replace %s: %s", path, strerror(errno));
	}
	return 0;
}

/* The env file this start ran on, kept under $ARK_BACKUP_DIR/env/ (0600)
 * for `ark rollback`; an unchanged file is not kept twice. */
void ark_cli_keep_env_snapshot(void)
{
	const char *path = getenv("ARK_ENV_FILE_LOADED");
	struct ark_store_config store;
	struct ark_err err = {0};
	if (!path || !*path || ark_store_config_from_env(&store, &err))
		return;
	struct ark_env_file now;
	if (ark_env_file_parse(path, &now, &err))
		return;
	ark_env_file_free(&now);
	FILE *in = fopen(path, "r");
	if (!in)
		return;
	static char text[1 << 20], last[1 << 20];
	size_t len = fread(text, 1, sizeof text, in);
	fclose(in);
	char dir[4200], name[128], file[4400], newest[4400] = "";
	snprintf(dir, sizeof dir, "%s/env", store.backup_dir);
	mkdir(store.backup_dir, 0750);
	mkdir(dir, 0700);
	if (ark_cli_newest_env_snapshot(dir, newest, sizeof newest, 0) == 0) {
		FILE *f = fopen(newest, "r");
		size_t last_len = f ? fread(last, 1, sizeof last, f) : 0;
		if (f)
			fclose(f);
		if (f && last_len == len && memcmp(last, text, len) == 0) {
			printf("    configuration unchanged since %s\n", newest);
			return;
		}
	}
	ark_store_backup_name(ark_realtime_ns(), true, name, sizeof name);
	/* ark_state_backup_<time>.db -> env_<time>.env */
	char *t = strstr(name, "backup_");
	char *dot = strrchr(name, '.');
	if (!t || !dot)
		return;
	*dot = '\0';
	snprintf(file, sizeof file, "%s/env_%s.env", dir, t + strlen("backup_"));
	/* Whole or not at all: a partial snapshot must never be rolled back to. */
	char tmp[4500];
	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (ok && rename(tmp, file) == 0)
		printf("    configuration kept for ark rollback: %s\n", file);
	else
		unlink(tmp);
}

int ark_cli_read_hashed(const char *path, size_t max, char **data, size_t *len, char sha256_hex[65], struct ark_err *err)
{
	if (data)
		*data = NULL;
	*len = 0;
	sha256_hex[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ark_err_set(err, -EINVAL, "%s is not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return ark_err_set(err, -EFBIG, "%s is larger than %zu bytes", path, max);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return ark_err_set(err, -ENOMEM, "out of memory reading %s", path);
	}
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == (size_t)st.st_size)
			break;
	}
	char extra;
	bool longer = got == (size_t)st.st_size && read(fd, &extra, 1) > 0;
	close(fd);
	if (got != (size_t)st.st_size || longer) {
		free(buf);
		return ark_err_set(err, -EIO, "%s changed while it was read", path);
	}
	buf[got] = '\0';
	uint8_t digest[32];
	ark_graveyard_sha256(buf, got, digest);
	ark_graveyard_hex(digest, sha256_hex);
	*len = got;
	if (data)
		*data = buf;
	else
		free(buf);
	return 0;
}
