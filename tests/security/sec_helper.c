/* tests/security/sec_helper.c — what the security scripts need done inside a
 * segment, as a real process would (or an attacker who got write access):
 *
 *   sec_helper orphan INSTANCE        create the instance's pipeline segment
 *                                     and exit without removing it: a stale
 *                                     segment of ours (its creator is dead)
 *   sec_helper hold INSTANCE          the same, then stay alive (its owner)
 *                                     until stdin closes
 *   sec_helper plant INSTANCE PID     record PID (and its real start time)
 *                                     as Kyle (state running) and as the
 *                                     metrics server: a pid that is not ours
 *   sec_helper record INSTANCE PID    record PID as Kyle (what the watchdog
 *                                     does right after fork)
 *   sec_helper show INSTANCE          print "kyle_pid=N state=S"
 *   sec_helper ticks PID              print the process's start time
 */
#include "pipeline/pipeline.h"
#include "graveyard/graveyard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int attach(const char *instance, struct ark_pipeline_map *map)
{
	struct ark_err err = {0};
	if (ark_pipeline_attach(map, instance, &err)) {
		fprintf(stderr, "sec_helper: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sec_helper orphan|hold|plant|record|show|ticks ARGS\n");
		return 2;
	}
	const char *cmd = argv[1];
	struct ark_err err = {0};
	struct ark_pipeline_map map;
	if (strcmp(cmd, "ticks") == 0) {
		printf("%llu\n", (unsigned long long)ark_shm_process_start_ticks(atoi(argv[2])));
		return 0;
	}
	if (strcmp(cmd, "orphan") == 0 || strcmp(cmd, "hold") == 0) {
		struct ark_pipeline_config config;
		if (ark_pipeline_config_from_env(&config, &err)) {
			fprintf(stderr, "sec_helper: %s\n", err.msg);
			return 1;
		}
		snprintf(config.instance, sizeof config.instance, "%s", argv[2]);
		/* The rules a watchdog of this environment would record. */
		struct ark_graveyard_rules *rules = malloc(sizeof *rules);
		if (!rules || ark_graveyard_installed_path(config.rules_path, sizeof config.rules_path, &err) ||
		    (access(config.rules_path, F_OK) != 0 && ark_pipeline_install_rules(config.rules_path, &err)) ||
		    ark_graveyard_load(config.rules_path, rules, &err)) {
			fprintf(stderr, "sec_helper: rules: %s\n", err.msg);
			return 1;
		}
		snprintf(config.rules_hash, sizeof config.rules_hash, "%s", rules->file_sha256_hex);
		free(rules);
		if (ark_pipeline_create(&map, &config, &err)) {
			fprintf(stderr, "sec_helper: %s\n", err.msg);
			return 1;
		}
		printf("created %s pid %d\n", map.shm.path, (int)getpid());
		fflush(stdout);
		if (strcmp(cmd, "hold") == 0) {
			char c;
			while (read(0, &c, 1) > 0)
				;
		}
		return 0;   /* mapped segment left behind: nobody unlinks it */
	}
	if (attach(argv[2], &map))
		return 1;
	struct ark_pipeline *p = map.pipeline;
	struct ark_agent_control *kyle = &p->agents[ARK_AGENT_KYLE];
	if (strcmp(cmd, "show") == 0) {
		printf("kyle_pid=%d state=%u\n", (int)atomic_load(&kyle->pid), (unsigned)atomic_load(&kyle->state));
		return 0;
	}
	if (argc < 4)
		return 2;
	int32_t pid = atoi(argv[3]);
	uint64_t ticks = ark_shm_process_start_ticks(pid);
	if (strcmp(cmd, "plant") == 0) {
		atomic_store(&kyle->start_ticks, ticks);
		atomic_store(&kyle->state, ARK_PROC_RUNNING);
		atomic_store(&kyle->pid, pid);
		atomic_store(&p->metrics_start_ticks, ticks);
		atomic_store(&p->metrics_pid, pid);
		return 0;
	}
	if (strcmp(cmd, "record") == 0) {
		atomic_store(&kyle->start_ticks, ticks);
		atomic_store(&kyle->state, ARK_PROC_STARTING);
		atomic_store(&kyle->pid, pid);
		return 0;
	}
	return 2;
}
