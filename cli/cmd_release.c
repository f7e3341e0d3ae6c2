/* cli/cmd_release.c — `ark release <agent>`: the seed's
 * watchdog.release_agent("Kenny"). Lifts a quarantine the watchdog set on a
 * running instance's agent, and records the release in watchdog.log and the
 * Mutable Core's agent history. For HRM it also lifts the state_corrupt
 * halt: HRM recomputes its sums and clears the latch if its state is finite
 * again, and says what it did. */
#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "cli/command.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Ask the stable HRM to release its state_corrupt latch, and wait (5 s) for
 * its answer. 0 released, 1 refused or no answer. */
static int release_corrupt(struct ark_pipeline_map *map)
{
	struct ark_pipeline *p = map->pipeline;
	uint32_t request = atomic_load(&p->hrm_release_request) + 1;
	atomic_store(&p->hrm_release_request, request);
	for (int i = 0; i < 500 && atomic_load(&p->hrm_release_answered) != request; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&p->hrm_release_answered) != request) {
		fprintf(stderr, "ark release: HRM did not answer within 5 s (is it running?)\n");
		return 1;
	}
	int status = atomic_load(&p->hrm_release_status);
	char detail[sizeof p->hrm_release_detail];
	memcpy(detail, p->hrm_release_detail, sizeof detail);
	detail[sizeof detail - 1] = '\0';
	if (status) {
		fprintf(stderr, "ark release: HRM's state_corrupt halt stays: %s\n", detail);
		return 1;
	}
	printf("HRM: %s\n", detail);
	struct ark_err err = {0};
	struct ark_log *log = ark_log_open("watchdog", &err);
	if (log) {
		ark_log(log, "warn", "HRM state_corrupt released by operator by_pid=%d detail=\"%s\"", (int)getpid(), detail);
		ark_log_close(log);
	}
	int pid = (int)atomic_load(&p->agents[ARK_AGENT_HRM].pid);
	if (ark_watchdog_record("HRM", "release", pid, "state_corrupt released by operator (ark release hrm)", &err))
		fprintf(stderr, "ark release: released, but could not record it in the mutable core: %s\n", err.msg);
	return 0;
}

static int release_main(int argc, char **argv)
{
	if (ark_wants_help(argc, argv)) {
		printf("usage: ark release kyle|joey|hrm|kenny|aletheia [--instance NAME]\n\n"
		       "Lifts the watchdog's quarantine of an agent of the running instance (the seed's\n"
		       "watchdog.release_agent(\"Kenny\")): it acts again (Joey emits intents, HRM judges,\n"
		       "Kenny sends orders). For HRM it also lifts a state_corrupt halt (a non-finite value\n"
		       "in HRM's state): HRM recomputes its sums, forgets marks that are not finite and\n"
		       "resumes if everything is finite again; otherwise it says what still is not. The\n"
		       "release is logged in watchdog.log and recorded in the Mutable Core. Exit 0\n"
		       "released, 1 nothing to release, refused or not running, 2 bad usage.\n");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: ark release kyle|joey|hrm|kenny|aletheia [--instance NAME]\n");
		return 2;
	}
	int agent = ark_agent_parse(argv[1]);
	if (agent < 0) {
		fprintf(stderr, "ark release: unknown agent '%s' (expected kyle, joey, hrm, kenny or aletheia)\n", argv[1]);
		return 2;
	}
	const char *instance = ark_pipeline_default_instance();
	static const struct option longopts[] = {{"instance", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0}};
	int opt;
	optind = 2;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (opt != 'i') {
			fprintf(stderr, "ark release: unexpected argument '%s'\n", ark_cli_last_option(argv));
			return 2;
		}
		instance = optarg;
	}
	if (ark_cli_no_operands("release", argc, argv))
		return 2;
	struct ark_err err = {0};
	struct ark_pipeline_map map;
	if (ark_pipeline_attach(&map, instance, &err))
		return ark_cli_fail("release", &err, 1);
	struct ark_agent_control *control = &map.pipeline->agents[agent];
	const char *name = ark_agent_name((enum ark_agent)agent);
	if (agent == ARK_AGENT_HRM && atomic_load(&map.pipeline->hrm_halt_cause) == ARK_HALT_STATE_CORRUPT &&
	    !atomic_load(&control->quarantined)) {
		int rc = release_corrupt(&map);
		ark_pipeline_detach(&map);
		return rc;
	}
	if (!atomic_load(&control->quarantined)) {
		printf("%s is not quarantined\n", name);
		ark_pipeline_detach(&map);
		return 1;
	}
	atomic_store(&control->quarantined, 0);
	int pid = (int)atomic_load(&control->pid);
	ark_pipeline_detach(&map);
	struct ark_log *log = ark_log_open("watchdog", &err);
	if (log) {
		ark_log(log, "info", "agent released by operator name=%s pid=%d by_pid=%d", ark_agent_file_name((enum ark_agent)agent),
			pid, (int)getpid());
		ark_log_close(log);
	}
	if (ark_watchdog_record(name, "release", pid, "released by operator (ark release)", &err))
		fprintf(stderr, "ark release: released, but could not record it in the mutable core: %s\n", err.msg);
	printf("released %s (pid %d)\n", name, pid);
	return 0;
}

ARK_COMMAND(release_command, "release", "lift the watchdog's quarantine of an agent (watchdog.release_agent)", release_main)
