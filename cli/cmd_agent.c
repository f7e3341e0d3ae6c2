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

/* Without a name: the usage on stderr and 2; with --help: on stdout and 0;
 * else -1 to go on. */
static int answer_usage(int argc, char **argv, const char *text)
{
	if (argc >= 2 && !ark_wants_help(argc, argv))
		return -1;
	fputs(text, argc < 2 ? stderr : stdout);
	return argc < 2 ? 2 : 0;
}

static int agent_main(int argc, char **argv)
{
	int rc = answer_usage(argc, argv,
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
	if (rc >= 0)
		return rc;
	int agent = ark_agent_parse(argv[1]);
	if (agent < 0) {
		fprintf(stderr, "ark agent: unknown agent '%s' (expected kyle, joey, hrm, kenny or aletheia)\n", argv[1]);
		return 2;
	}
	const char *instance = ark_pipeline_default_instance();
	struct ark_agent_options options = {.standby_fd = -1, .wait_segment_s = 0};
	static const struct option longopts[] = {
		{"instance", required_argument, NULL, 'i'}, {"wait-segment", required_argument, NULL, 'w'},
		{"lane", required_argument, NULL, 'l'},     {"standby", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0}};
	struct ark_err err;
	uint64_t fd;
	int opt;
	optind = 2;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (opt) {
		case 'i': instance = optarg; break;
		case 'w':
			if (ark_parse_double(optarg, 0, 3600, "--wait-segment", &options.wait_segment_s, &err))
				return ark_cli_fail("agent", &err, 2);
			break;
		case 'l':
			if (strcmp(optarg, "canary") == 0) {
				options.lane = ARK_LANE_CANARY;
			} else if (strcmp(optarg, "stable") != 0) {
				fprintf(stderr, "ark agent: --lane: expected stable or canary, got '%.32s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (ark_parse_u64(optarg, 3, 65535, "--standby", &fd, &err))
				return ark_cli_fail("agent", &err, 2);
			options.standby_fd = (int)fd;
			break;
		default: return ark_cli_option_error("agent", opt, argv);
		}
	}
	if (ark_cli_no_operands("agent", argc, argv))
		return 2;
	return ark_agent_run((enum ark_agent)agent, instance, &options);
}

ARK_COMMAND(agent_command, "agent", "run one agent process of a running instance (started by ark run)", agent_main)

static int source_main(int argc, char **argv)
{
	int rc = answer_usage(argc, argv,
			"usage: ark source synthetic [--instance NAME] [--source N] [--rate HZ] [--duration S]\n"
			"                            [--seed N] [--violations FRACTION] [--symbols N]\n"
			"       ark source tcp [--instance NAME] [--source N] [--port PORT]\n"
			"       ark source alpha-vantage [--instance NAME] [--source N]\n\n"
			"Runs a source process feeding Kyle's inbound ring number N (default 0) of a\n"
			"running instance (ark run starts them). The synthetic source is deterministic\n"
			"for a seed; restarted, it resumes after the last tick it published. The tcp\n"
			"source is the line feed: one JSON tick per line on ARK_FEED_BIND:ARK_FEED_PORT.\n"
			"The alpha-vantage source polls GLOBAL_QUOTE (ALPHA_VANTAGE_* variables).\n");
	if (rc >= 0)
		return rc;
	bool tcp = strcmp(argv[1], "tcp") == 0, av = strcmp(argv[1], "alpha-vantage") == 0;
	if (strcmp(argv[1], "synthetic") != 0 && !tcp && !av) {
		fprintf(stderr, "ark source: unknown source '%s' (expected synthetic, tcp or alpha-vantage)\n", argv[1]);
		return 2;
	}
	const char *instance = ark_pipeline_default_instance();
	int source = 0, port = -1;
	/* The synthetic source's own options ('p' with a value, 'P' without)
	 * are handed on to it as they came; it checks them. */
	static const struct option longopts[] = {
		{"instance", required_argument, NULL, 'i'}, {"source", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 't'},     {"rate", required_argument, NULL, 'p'},
		{"duration", required_argument, NULL, 'p'}, {"seed", required_argument, NULL, 'p'},
		{"violations", required_argument, NULL, 'p'}, {"symbols", required_argument, NULL, 'p'},
		{"api-url", required_argument, NULL, 'p'},  {"start-now", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0}};
	char *rest[32];
	char names[16][24];
	int nrest = 0, nnames = 0;
	rest[nrest++] = argv[1];
	struct ark_err err;
	uint64_t v;
	int opt, which;
	optind = 2;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, &which)) != -1) {
		switch (opt) {
		case 'i': instance = optarg; break;
		case 's':
			if (ark_parse_u64(optarg, 0, ARK_MAX_SOURCES - 1, "--source", &v, &err))
				return ark_cli_fail("source", &err, 2);
			source = (int)v;
			break;
		case 't':
			if (!tcp)
				goto unexpected;
			if (ark_parse_u64(optarg, 0, 65535, "--port", &v, &err))
				return ark_cli_fail("source", &err, 2);
			port = (int)v;
			break;
		case 'p':
		case 'P':
			if (tcp || av)
				goto unexpected;
			if (nrest < 30 && nnames < 16) {
				snprintf(names[nnames], sizeof names[nnames], "--%s", longopts[which].name);
				rest[nrest++] = names[nnames++];
				if (opt == 'p')
					rest[nrest++] = optarg;
			}
			break;
		default: return ark_cli_option_error(argv[0], opt, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark source %s: unexpected argument '%s'\n", argv[1], argv[optind]);
		return 2;
	}
	rest[nrest] = NULL;
	if (tcp)
		return ark_source_tcp_run(instance, source, port);
	if (av)
		return ark_source_alpha_vantage_run(instance, source);
	return ark_source_synthetic_run(instance, source, nrest, rest);
unexpected:
	fprintf(stderr, "ark source %s: unexpected argument '--%s'\n", argv[1], longopts[which].name);
	return 2;
}

ARK_COMMAND(source_command, "source", "run a source process feeding Kyle (started by ark run)", source_main)
