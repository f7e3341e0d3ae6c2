/* cli/cmd_broker.c — `ark broker status|resume`: the operator's side of a
 * network broker's stop.
 *
 * When an answer from the broker fails its checks against the order it
 * answers (another order's id, another symbol or side, an overfill, a fill
 * that shrinks, a price the limit forbids), Kenny applies nothing of it,
 * journals it and stops execution on the venue; the stop is kept in the
 * segment and in $ARK_DATA_DIR/broker.stopped, so neither a restart of Kenny
 * nor a new run lifts it. Only this command does, once the operator has
 * looked at the venue: `ark broker resume --reason TEXT` (logged in
 * watchdog.log and recorded in the Mutable Core's agent history). */
#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "brokers/brokers.h"
#include "alpaca/alpaca.h"
#include "cli/command.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark broker status [--instance NAME] [--json]\n"
		"       ark broker resume --reason TEXT [--instance NAME]\n\n"
		"status  whether execution on the broker is stopped, why, and the anomalies\n"
		"        counted by kind (exit 0; 1 when stopped)\n"
		"resume  after an anomaly (an answer that failed its checks against the order;\n"
		"        see kenny.log and ark trace) and a look at the venue: execution may go on.\n"
		"        Removes $ARK_DATA_DIR/broker.stopped and lifts the stop in the running\n"
		"        instance; logged in watchdog.log and recorded in the Mutable Core.\n"
		"        Exit 0 resumed, 1 nothing was stopped, 2 usage.\n");
}

static int status_main(const char *instance, bool json)
{
	struct ark_err err = {0};
	char latch[4200], kept[300] = "";
	if (ark_broker_latch_path(latch, sizeof latch, &err) == 0) {
		FILE *f = fopen(latch, "r");
		if (f) {
			size_t n = fread(kept, 1, sizeof kept - 1, f);
			kept[n] = '\0';
			fclose(f);
			ark_utf8_sanitize(kept, n);
			kept[strcspn(kept, "\n")] = '\0';
		}
	}
	struct ark_pipeline_map map;
	static struct ark_broker_counts c;
	bool live = ark_pipeline_attach(&map, instance, &err) == 0;
	if (live) {
		ark_pipeline_broker_counts(&map, &c);
		ark_pipeline_detach(&map);
	}
	bool stopped = (live && c.execution_stopped) || kept[0];
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "instance", instance);
		ark_json_bool(&j, "live", live);
		ark_json_bool(&j, "execution_stopped", stopped);
		ark_json_string(&j, "stop_reason", live && c.execution_stopped ? c.stop_reason : kept);
		ark_json_string(&j, "kept_in", kept[0] ? latch : "");
		ark_json_object_begin(&j, "anomalies");
		for (int k = 1; k < ARK_ALPACA_ANOMALY_COUNT && k < ARK_BROKER_ANOMALY_KINDS; k++)
			ark_json_uint(&j, ark_alpaca_anomaly_name((enum ark_alpaca_anomaly)k), live ? c.anomalies[k] : 0);
		ark_json_object_end(&j);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		printf("broker of instance %s%s: %s\n", instance, live ? "" : " (not running)",
		       stopped ? "EXECUTION STOPPED" : "executing");
		if (live && c.execution_stopped)
			printf("  why        %s\n", c.stop_reason);
		if (kept[0])
			printf("  kept in    %s: %s\n", latch, kept);
		if (live)
			for (int k = 1; k < ARK_ALPACA_ANOMALY_COUNT && k < ARK_BROKER_ANOMALY_KINDS; k++)
				if (c.anomalies[k])
					printf("  anomalies  %s: %llu\n", ark_alpaca_anomaly_name((enum ark_alpaca_anomaly)k),
					       (unsigned long long)c.anomalies[k]);
		if (stopped)
			printf("  check the venue and the orders named in kenny.log, then: ark broker resume --reason TEXT\n");
	}
	return stopped ? 1 : 0;
}

static int resume_main(const char *instance, const char *reason)
{
	struct ark_err err = {0};
	char latch[4200];
	if (ark_broker_latch_path(latch, sizeof latch, &err))
		return ark_cli_fail("broker resume", &err, 2);
	bool kept = unlink(latch) == 0;
	if (!kept && errno != ENOENT) {
		fprintf(stderr, "ark broker resume: cannot remove %s: %s (nothing changed)\n", latch, strerror(errno));
		return 1;
	}
	uint32_t lifted = ARK_BROKER_STOP_NONE;
	int pid = 0;
	struct ark_pipeline_map map;
	if (ark_pipeline_attach(&map, instance, &err) == 0) {
		lifted = ark_pipeline_broker_resume(&map);
		pid = (int)atomic_load(&map.pipeline->agents[ARK_AGENT_KENNY].pid);
		ark_pipeline_detach(&map);
	}
	if (!kept && lifted == ARK_BROKER_STOP_NONE) {
		printf("ark broker resume: execution was not stopped\n");
		return 1;
	}
	char what[512];
	snprintf(what, sizeof what, "broker execution resumed by the operator (ark broker resume): %.300s", reason);
	struct ark_log *log = ark_log_open("watchdog", &err);
	if (log) {
		ark_log(log, "warn", "%s by_pid=%d", what, (int)getpid());
		ark_log_close(log);
	}
	if (ark_watchdog_record("Kenny", "release", pid, what, &err))
		fprintf(stderr, "ark broker resume: resumed, but could not record it in the mutable core: %s\n", err.msg);
	printf("ark broker resume: execution on the broker may go on%s%s\n", kept ? " (removed " : "", kept ? latch : "");
	if (kept)
		printf(")\n");
	return 0;
}

static int broker_main(int argc, char **argv)
{
	if (argc < 2 || ark_wants_help(argc, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1], *instance = ark_pipeline_default_instance(), *reason = NULL;
	bool json = false;
	/* --json belongs to status, --reason to resume. */
	static const struct option longopts[] = {{"instance", required_argument, NULL, 'i'},
						 {"json", no_argument, NULL, 'j'},
						 {"reason", required_argument, NULL, 'r'},
						 {NULL, 0, NULL, 0}};
	int opt;
	optind = 2;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (opt == 'i')
			instance = optarg;
		else if (opt == 'j' && strcmp(sub, "status") == 0)
			json = true;
		else if (opt == 'r' && strcmp(sub, "resume") == 0)
			reason = optarg;
		else {
			fprintf(stderr, "ark broker: unexpected argument '%s'\n\n", ark_cli_last_option(argv));
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark broker: unexpected argument '%s'\n\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (strcmp(sub, "status") == 0)
		return status_main(instance, json);
	if (strcmp(sub, "resume") == 0) {
		if (!reason || !*reason) {
			fprintf(stderr, "ark broker resume: say why with --reason TEXT (it is recorded)\n");
			return 2;
		}
		return resume_main(instance, reason);
	}
	fprintf(stderr, "ark broker: unknown subcommand '%s'\n\n", sub);
	usage(stderr);
	return 2;
}

ARK_COMMAND(broker_command, "broker", "a network broker's stop: status, and resume after an anomaly", broker_main)
