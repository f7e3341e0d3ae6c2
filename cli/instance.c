/* cli/instance.c — what several commands do with a running instance: tell
 * whether any of its processes lives (by pid and start time, never by name),
 * and stop it the way an operator should (drain first). A pid from the
 * segment or a pid file is signalled only through a pidfd, and only once
 * /proc shows it is ours (ark_shm_process_open). */
#include "cli/instance.h"

#include "pipeline/pipeline.h"
#include "common/common.h"
#include "graveyard/graveyard.h"
#include "ops/ops.h"
#include "store/store.h"
#include "watchdog/watchdog.h"

#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
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

/* $ARK_RUN_DIR/<name>.pid: "<pid>\n<start ticks>\n". A file without a start
 * time (an older ARK) gives 0, which no check accepts. */
static pid_t read_pid(const char *run_dir, const char *name, uint64_t *start_ticks)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s.pid", run_dir, name);
	FILE *f = fopen(path, "r");
	long pid = 0;
	unsigned long long ticks = 0;
	if (f) {
		if (fscanf(f, "%ld %llu", &pid, &ticks) < 1)
			pid = 0;
		fclose(f);
	}
	*start_ticks = ticks;
	return (pid_t)pid;
}

/* The pid is an `ark watchdog` (or `ark run`, `ark start`'s child) of this
 * instance, as /proc shows it: ours, this ark, started at the recorded
 * time, naming the instance. A pidfd on it, or a negative code. */
static int open_watchdog(pid_t pid, uint64_t start_ticks, const char *instance, char *why, size_t why_len)
{
	char exe[PATH_MAX];
	if (ark_self_exe(exe, sizeof exe, NULL))
		return -ENOENT;
	const char *exes[] = {exe, NULL};
	struct ark_shm_process_expect expect = {.instance = instance, .exe = exes};
	return ark_shm_process_open((int32_t)pid, start_ticks, &expect, why, why_len);
}

/* Every process recorded in the segment that /proc shows is ours; the rest
 * are left alone (and named on stderr unless quiet). */
static void signal_recorded(const char *instance, int sig, bool quiet)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err))
		return;
	int32_t pids[ARK_WATCHDOG_RECORDED_MAX];
	uint64_t ticks[ARK_WATCHDOG_RECORDED_MAX];
	int n = ark_watchdog_recorded_processes(map.pipeline, pids, ticks);
	char exe[PATH_MAX], canary[PATH_MAX] = "";
	const char *exes[3] = {exe, NULL, NULL};
	const char *bin = getenv("ARK_CANARY_BIN");
	if (ark_self_exe(exe, sizeof exe, NULL)) {
		ark_pipeline_detach(&map);
		return;
	}
	if (bin && *bin && realpath(bin, canary))
		exes[1] = canary;
	struct ark_shm_process_expect expect = {.instance = instance, .exe = exes};
	for (int i = 0; i < n; i++) {
		char why[256];
		int fd = pids[i] > 0 ? ark_shm_process_open(pids[i], ticks[i], &expect, why, sizeof why) : -ESRCH;
		if (fd >= 0) {
			ark_shm_pidfd_signal(fd, sig);
			close(fd);
		} else if (fd == -EPERM && !quiet) {
			fprintf(stderr, "ark: left alone: %s\n", why);
		}
	}
	ark_pipeline_detach(&map);
}

/* The instance's watchdog: the segment's owner (its creator, or the
 * watchdog that took it over), else the pid file's; verified either way. */
static int find_watchdog(const char *instance, pid_t hint, char *why, size_t why_len, pid_t *pid_out)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	int fd = -ESRCH;
	if (hint > 0) {
		/* Our own child (ark start): its start time from /proc. */
		fd = open_watchdog(hint, ark_shm_process_start_ticks((int32_t)hint), instance, why, why_len);
		if (fd >= 0) {
			*pid_out = hint;
			return fd;
		}
	}
	if (ark_pipeline_attach(&map, instance, &err) == 0) {
		pid_t pid = map.shm.header->creator_pid;
		uint64_t ticks = map.shm.header->creator_start_ticks;
		ark_pipeline_detach(&map);
		fd = open_watchdog(pid, ticks, instance, why, why_len);
		if (fd >= 0) {
			*pid_out = pid;
			return fd;
		}
	}
	struct ark_watchdog_config wc;
	if (ark_watchdog_config_from_env(&wc, &err) == 0) {
		uint64_t ticks;
		pid_t pid = read_pid(wc.run_dir, "watchdog", &ticks);
		if (pid > 0) {
			fd = open_watchdog(pid, ticks, instance, why, why_len);
			if (fd >= 0)
				*pid_out = pid;
		}
	}
	return fd;
}

static bool pidfd_exited(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

int ark_cli_stop_instance(const char *instance, pid_t hint, double timeout_s, bool quiet)
{
	char why[256] = "";
	pid_t watchdog = 0;
	int wfd = find_watchdog(instance, hint, why, sizeof why, &watchdog);
	if (wfd >= 0) {
		if (!quiet)
			printf("    stopping the watchdog (pid %d): draining, then stopping every process\n", (int)watchdog);
		ark_shm_pidfd_signal(wfd, SIGTERM);
	} else {
		/* No watchdog (it died, or another run directory): each process
		 * drains and stops on SIGTERM itself. */
		if (!quiet) {
			if (wfd == -EPERM)
				fprintf(stderr, "ark: the recorded watchdog was left alone: %s\n", why);
			printf("    no watchdog found: stopping the instance's processes one by one\n");
		}
		signal_recorded(instance, SIGTERM, quiet);
	}
	uint64_t deadline = ark_now_ns() + (uint64_t)(timeout_s * 1e9);
	int rc = 1;
	while (ark_now_ns() < deadline) {
		int status;
		if (wfd >= 0)
			waitpid(watchdog, &status, WNOHANG);   /* our child when we started it */
		if ((wfd < 0 || pidfd_exited(wfd)) && !ark_cli_instance_alive(instance)) {
			rc = 0;
			break;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc) {
		fprintf(stderr, "ark: the instance did not stop within %.0f s; killing what is left\n", timeout_s);
		if (wfd >= 0)
			ark_shm_pidfd_signal(wfd, SIGKILL);
		signal_recorded(instance, SIGKILL, quiet);
	}
	if (wfd >= 0)
		close(wfd);
	return rc;
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
	struct stat st;
	return ark_cli_read_hashed_stat(path, max, data, len, sha256_hex, &st, err);
}

int ark_cli_read_hashed_stat(const char *path, size_t max, char **data, size_t *len, char sha256_hex[65],
			     struct stat *st_out, struct ark_err *err)
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
	*st_out = st;
	if (data)
		*data = buf;
	else
		free(buf);
	return 0;
}

void ark_cli_print_notice(void *ctx, enum ark_notice_kind kind, const char *line)
{
	(void)ctx;
	FILE *out = kind == ARK_NOTICE_WARNING ? stderr : stdout;
	fprintf(out, "  %s\n", line);
	fflush(out);
}

/* Counted in the handler, acted on in the command's loop (a handler may
 * not stop children: the supervisor is not async-signal-safe). */
static volatile sig_atomic_t interrupts;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupts++;
}

void ark_cli_catch_interrupts(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool ark_cli_act_on_interrupts(struct ark_supervisor *sup, int *handled, const char *note)
{
	if (interrupts <= *handled)
		return false;
	*handled = interrupts;
	if (*handled > 1) {
		ark_supervisor_stop(sup, true);
		return true;
	}
	if (note)
		printf("%s", note);
	ark_supervisor_stop_sources(sup);
	return false;
}

int ark_cli_confirm(const char *command, bool yes, const char *prompt, bool type_yes)
{
	if (yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "ark %s: confirmation needed: run it on a terminal, or pass --yes\n", command);
		return 2;
	}
	printf("%s", prompt);
	fflush(stdout);
	char answer[16] = "";
	bool confirmed = fgets(answer, sizeof answer, stdin) &&
			 (type_yes ? strcmp(answer, "yes\n") == 0 : answer[0] == 'y' || answer[0] == 'Y');
	if (!confirmed) {
		printf("ark %s: not confirmed; nothing changed\n", command);
		return 1;
	}
	return 0;
}
