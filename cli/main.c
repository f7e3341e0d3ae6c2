/* cli/main.c — the `ark` executable: loads the env file, finds the
 * subcommand and runs it. Unknown commands and options, and an env file
 * that cannot be read, end with a message naming them and exit 2. */
#include "cli/command.h"
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COMMANDS 64

static const struct ark_command *commands[MAX_COMMANDS];
static int command_count;

void ark_command_register(const struct ark_command *command)
{
	if (command_count == MAX_COMMANDS) {
		fprintf(stderr, "ark: too many subcommands (raise MAX_COMMANDS)\n");
		abort();
	}
	commands[command_count++] = command;
}

int ark_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct ark_command *const *)a)->name,
		      (*(const struct ark_command *const *)b)->name);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: ark <command> [options]\n\n"
		     "ARK: a low-latency multi-agent trading-signal pipeline.\n\ncommands:\n");
	for (int i = 0; i < command_count; i++)
		fprintf(out, "  %-16s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out, "\n`ark <command> --help` describes each command.\n");
}

/* --env-file F (or $ARK_ENV_FILE, or .env.production when ARK_ENV=prod),
 * for every command but those that read it themselves. */
static int load_env_file(int *argc, char **argv)
{
	char loaded[4096];
	struct ark_err err = {0};
	if (ark_env_file_load_for_command(argc, argv, loaded, sizeof loaded, &err)) {
		fprintf(stderr, "ark %s: %s\n", argv[0], err.msg);
		return -1;
	}
	if (loaded[0]) {
		/* For ark start's record of the configuration it ran. */
		char *full = realpath(loaded, NULL);
		setenv("ARK_ENV_FILE_LOADED", full ? full : loaded, 1);
		free(full);
	}
	return 0;
}

int main(int argc, char **argv)
{
	qsort(commands, (size_t)command_count, sizeof commands[0], by_name);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (int i = 0; i < command_count; i++) {
		if (strcmp(argv[1], commands[i]->name) != 0)
			continue;
		int n = argc - 1;
		if (!(commands[i]->flags & ARK_COMMAND_OWN_ENV_FILE) && load_env_file(&n, argv + 1))
			return 2;
		return commands[i]->main(n, argv + 1);
	}
	fprintf(stderr, "ark: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
