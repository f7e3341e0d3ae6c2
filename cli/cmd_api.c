/* cli/cmd_api.c — `ark api`: the ingest API of a running instance (the
 * watchdog starts it when JWT_SECRET is set and API_ENABLED is not false). */
#include "api/api.h"
#include "cli/command.h"

#include "pipeline/pipeline.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int api_main(int argc, char **argv)
{
	if (ark_wants_help(argc, argv)) {
		printf("usage: ark api [--instance NAME] [--source N]\n\n"
		       "The ingest API on API_BIND:API_PORT (127.0.0.1:8000; TLS with API_TLS_CERT and\n"
		       "API_TLS_KEY), as source N of a running instance (started by ark run / ark watchdog\n"
		       "when JWT_SECRET is set):\n"
		       "  GET  /healthz                    200 when the pipeline runs\n"
		       "  POST /v1/signals                 a signal {\"symbol\",\"price\",\"size\",\"ts\"} or an array of\n"
		       "                                   up to API_MAX_BATCH (1000); 202 with their trace ids,\n"
		       "                                   503 + Retry-After when the pipeline is full\n"
		       "  GET  /v1/traces/{id}             the trace, as ark trace --json shows it\n"
		       "  POST /v1/agents/{name}/release   lift a quarantine (admin scope)\n"
		       "Bearer JWT (HS256, JWT_SECRET; ark token mints one) with scope signals:write or admin.\n"
		       "Errors are JSON: 400, 401, 403, 404, 405, 413, 415, 503.\n");
		return 0;
	}
	const char *instance = ark_pipeline_default_instance();
	int source = -1;
	static const struct option longopts[] = {{"instance", required_argument, NULL, 'i'},
						 {"source", required_argument, NULL, 's'},
						 {NULL, 0, NULL, 0}};
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		struct ark_err err;
		uint64_t v;
		switch (opt) {
		case 'i': instance = optarg; break;
		case 's':
			if (ark_parse_u64(optarg, 0, ARK_MAX_SOURCES - 1, "--source", &v, &err))
				return ark_cli_fail("api", &err, 2);
			source = (int)v;
			break;
		default: return ark_cli_option_error("api", opt, argv);
		}
	}
	if (ark_cli_no_operands("api", argc, argv))
		return 2;
	if (source < 0) {
		/* The instance's API source, whichever number it has. */
		struct ark_pipeline_map map;
		struct ark_err err = {0};
		if (ark_pipeline_attach(&map, instance, &err))
			return ark_cli_fail("api", &err, 1);
		for (int s = 0; s < map.pipeline->source_count; s++)
			if (map.pipeline->source_kinds[s] == ARK_SOURCE_API)
				source = s;
		ark_pipeline_detach(&map);
		if (source < 0) {
			fprintf(stderr, "ark api: instance %s has no API source (start it with JWT_SECRET set)\n", instance);
			return 2;
		}
	}
	return ark_api_run(instance, source);
}

ARK_COMMAND(api_command, "api", "the ingest API (POST /v1/signals, JWT) of a running instance", api_main)
