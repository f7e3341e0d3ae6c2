/* cli/instance.c — what several commands do with a running instance: tell
 * whether any of its processes lives (by pid and start time, never by name),
 * and stop it the way an operator should (drain first). */
#include "cli/instance.h"

#include "agents/agents.h"
#include "watchdog/watchdog.h"

#include <dirent.h>
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
