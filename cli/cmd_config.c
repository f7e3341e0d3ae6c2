/* cli/cmd_config.c — `ark config validate`: the production configuration
 * check of the seed's deployment guide (ops/validate.c runs the checks).
 * One line per check, ✓ or ✗ with a hint, then the verdict; exit 0 only when
 * valid. The env file is read here, not by main.c, so that its own errors
 * are reported as a check rather than stopping everything. */
#include "cli/command.h"
#include "ops/ops.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(FILE *out, int code)
{
	fprintf(out,
		"usage: ark config validate [--env-file FILE] [--json]\n\n"
		"Checks a configuration before ARK starts on it, one line per check: required\n"
		"variables (ARK_ENV=prod: ARK_ENV, ARK_STATE_DB, REDIS_URL, METRICS_PORT and the five\n"
		"secrets), secrets that are real (not placeholders; SESSION_SECRET and JWT_SECRET at\n"
		"least 32 random characters), every setting parsing and in range, directories\n"
		"existing (or made) and writable, the state database in WAL mode, Redis answering\n"
		"PING, TLS certificates matching their keys and valid, ports free, ARK_CPU_* CPUs\n"
		"existing, the Graveyard rules' hash. Secrets are never printed.\n\n"
		"  --env-file FILE   read FILE first (default: $ARK_ENV_FILE, or .env.production when\n"
		"                    ARK_ENV=prod); variables already in the environment win\n"
		"  --json            one JSON object: valid, environment, env_file, checks\n\n"
		"Exit 0 when valid, 1 when not, 2 on a usage error.\n");
	return code;
}

static int validate_main(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;
	static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
						 {"env-file", required_argument, NULL, 'e'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":h", longopts)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'e': path = optarg; break;
		case 'h': return usage(stdout, 0);
		default:
			ark_cli_option_error("config validate", opt, argv);
			fputc('\n', stderr);
			return usage(stderr, 2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark config validate: unknown option '%s'\n\n", argv[optind]);
		return usage(stderr, 2);
	}
	if (!path) {
		const char *var = getenv("ARK_ENV_FILE");
		const char *env = getenv("ARK_ENV");
		if (var && *var)
			path = var;
		else if (env && strcmp(env, "prod") == 0 && access(".env.production", F_OK) == 0)
			path = ".env.production";
	}
	struct ark_env_file file;
	struct ark_err err = {0};
	struct ark_validate_options options = {0};
	bool parsed = false;
	if (path) {
		options.env_file = path;
		if (ark_env_file_parse(path, &file, &err) == 0) {
			ark_env_file_apply(&file);
			options.file = &file;
			parsed = true;
		} else {
			options.env_file_error = err.msg;
		}
	}
	static struct ark_validation v;
	ark_config_validate(&options, &v);
	if (parsed)
		ark_env_file_free(&file);
	const char *env = getenv("ARK_ENV");
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_bool(&j, "valid", v.valid);
		ark_json_string(&j, "environment", env && *env ? env : "development");
		if (path)
			ark_json_string(&j, "env_file", path);
		else
			ark_json_null(&j, "env_file");
		ark_json_array_begin(&j, "checks");
		for (int i = 0; i < v.count; i++) {
			const struct ark_check *c = &v.checks[i];
			ark_json_object_begin(&j, NULL);
			ark_json_string(&j, "status", c->status == ARK_CHECK_OK ? "ok" : c->status == ARK_CHECK_FAIL ? "fail" : "info");
			ark_json_string(&j, "message", c->message);
			ark_json_string(&j, "hint", c->hint);
			ark_json_object_end(&j);
		}
		ark_json_array_end(&j);
		ark_json_object_end(&j);
		ark_json_finish(&j);
		return v.valid ? 0 : 1;
	}
	for (int i = 0; i < v.count; i++) {
		const struct ark_check *c = &v.checks[i];
		printf("%s %s\n", c->status == ARK_CHECK_OK ? "✓" : c->status == ARK_CHECK_FAIL ? "✗" : "·", c->message);
		if (c->status == ARK_CHECK_FAIL && c->hint[0])
			printf("    hint: %s\n", c->hint);
	}
	const char *what = v.production ? "Production configuration" : "Configuration";
	if (v.valid)
		printf("\n%s is VALID ✓\n", what);
	else {
		int failed = 0;
		for (int i = 0; i < v.count; i++)
			failed += v.checks[i].status == ARK_CHECK_FAIL;
		printf("\n%s is INVALID ✗ (%d check%s failed)\n", what, failed, failed == 1 ? "" : "s");
	}
	return v.valid ? 0 : 1;
}

static int config_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		printf("usage: ark config validate [--env-file FILE] [--json]\n");
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "validate") == 0)
		return validate_main(argc - 1, argv + 1);
	fprintf(stderr, "ark config: unknown subcommand '%s' (expected validate)\n", argv[1]);
	return 2;
}

ARK_COMMAND_FLAGS(config_command, "config", "check a configuration: ark config validate [--env-file FILE] [--json]", config_main,
		  ARK_COMMAND_OWN_ENV_FILE)
