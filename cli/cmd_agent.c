/* cli/cmd_agent.c — `ark agent <name>` and `ark source synthetic`: the
 * processes the supervisor starts. Each attaches to the running instance's
 * segment; an operator rarely runs them by hand. */
#include "pipeline/pipeline.h"
#include "agents/agents.h"
#include "sources/sources.h"
#include "cli/command.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int agent_main(int argc, char **argv)
{
	if (ark_wants_help(argc, argv) || argc < 2) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: ark agent kyle|joey|hrm|kenny|aletheia [--instance NAME] [--wait-segment SECONDS]\n"
			"                                             [--standby FD] [--lane stable|canary]\n\n"
			"Runs one agent of a running instance (started by `ark run` or `ark watchdog`,\n"
			"which supervise them, or by ark-agent@NAME.service). It attaches to\n"
			"/dev/shm/ark-<instance>, pins itself to ARK_CPU_<AGENT> when set, resumes from\n"
			"its state in the segment, and runs until the pipeline stops or it gets SIGTERM\n"
			"(it drains first). Exit status 2: configuration error.\n\n"
			"  --wait-segment S   wait up to S seconds for the segment to be created\n"
			"  --standby FD       a warm standby (the watchdog's): ready, it waits for one\n"
			"                     byte on FD to take over; end of file makes it exit\n"
			"  --lane canary      joey, hrm or kenny of the canary lane (ark start --canary);\n"
			"                     it drains and exits when the watchdog ends the canary\n");
		return argc < 2 ? 2 : 0;
	}
	int agent = ark_agent_parse(argv[1]);
	if (agent < 0) {
		fprintf(stderr, "ark agent: unknown agent '%s' (expected kyle, joey, hrm, kenny or aletheia)\n", argv[1]);
		return 2;
	}
	const char *instance = ark_pipeline_default_instance();
	struct ark_agent_options options = {.standby_fd = -1, .wait_segment_s = 0};
	for (int i = 2; i < argc; i++) {
		struct ark_err err;
		uint64_t fd;
		if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
			instance = argv[++i];
		} else if (strcmp(argv[i], "--wait-segment") == 0 && i + 1 < argc) {
			if (ark_parse_double(argv[++i], 0, 3600, "--wait-segment", &options.wait_segment_s, &err)) {
				fprintf(stderr, "ark agent: %s\n", err.msg);
				return 2;
			}
		} else if (strcmp(argv[i], "--lane") == 0 && i + 1 < argc) {
			const char *lane = argv[++i];
			if (strcmp(lane, "canary") == 0) {
				options.lane = ARK_LANE_CANARY;
			} else if (strcmp(lane, "stable") != 0) {
				fprintf(stderr, "ark agent: --lane: expected stable or canary, got '%.32s'\n", lane);
				return 2;
			}
		} else if (strcmp(argv[i], "--standby") == 0 && i + 1 < argc) {
			if (ark_parse_u64(argv[++i], 3, 65535, "--standby", &fd, &err)) {
				fprintf(stderr, "ark agent: %s\n", err.msg);
				return 2;
			}
			options.standby_fd = (int)fd;
		} else {
			fprintf(stderr, "ark agent: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	return ark_agent_run((enum ark_agent)agent, instance, &options);
}

ARK_COMMAND(agent_command, "agent", "run one agent process of a running instance (started by ark run)", agent_main)

static int source_main(int argc, char **argv)
{
	if (ark_wants_help(argc, argv) || argc < 2) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: ark source synthetic [--instance NAME] [--source N] [--rate HZ] [--duration S]\n"
			"                            [--seed N] [--violations FRACTION] [--symbols N]\n"
			"       ark source tcp [--instance NAME] [--source N] [--port PORT]\n"
			"       ark source alpha-vantage [--instance NAME] [--source N]\n\n"
			"Runs a source process feeding Kyle's inbound ring number N (default 0) of a\n"
			"running instance (ark run starts them). The synthetic source is deterministic\n"
			"for a seed; restarted, it resumes after the last tick it published. The tcp\n"
			"source is the line feed: one JSON tick per line on ARK_FEED_BIND:ARK_FEED_PORT.\n"
			"The alpha-vantage source polls GLOBAL_QUOTE (ALPHA_VANTAGE_* variables).\n");
		return argc < 2 ? 2 : 0;
	}
	bool tcp = strcmp(argv[1], "tcp") == 0, av = strcmp(argv[1], "alpha-vantage") == 0;
	if (strcmp(argv[1], "synthetic") != 0 && !tcp && !av) {
		fprintf(stderr, "ark source: unknown source '%s' (expected synthetic, tcp or alpha-vantage)\n", argv[1]);
		return 2;
	}
	const char *instance = ark_pipeline_default_instance();
	int source = 0, port = -1;
	char *rest[32];
	int nrest = 0;
	rest[nrest++] = argv[1];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
			instance = argv[++i];
		} else if (strcmp(argv[i], "--source") == 0 && i + 1 < argc) {
			struct ark_err err;
			uint64_t v;
			if (ark_parse_u64(argv[++i], 0, ARK_MAX_SOURCES - 1, "--source", &v, &err)) {
				fprintf(stderr, "ark source: %s\n", err.msg);
				return 2;
			}
			source = (int)v;
		} else if (tcp && strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			struct ark_err err;
			uint64_t v;
			if (ark_parse_u64(argv[++i], 0, 65535, "--port", &v, &err)) {
				fprintf(stderr, "ark source: %s\n", err.msg);
				return 2;
			}
			port = (int)v;
		} else if (tcp || av) {
			fprintf(stderr, "ark source %s: unexpected argument '%s'\n", argv[1], argv[i]);
			return 2;
		} else if (nrest < 31) {
			rest[nrest++] = argv[i];
		}
	}
	rest[nrest] = NULL;
	if (tcp)
		return ark_source_tcp_run(instance, source, port);
	if (av)
		return ark_source_alpha_vantage_run(instance, source);
	return ark_source_synthetic_run(instance, source, nrest, rest);
}

ARK_COMMAND(source_command, "source", "run a source process feeding Kyle (started by ark run)", source_main)
