/* cli/command.h — the registry of `ark` subcommands.
 *
 * Each subcommand lives in its own cli/cmd_<name>.c and registers itself with
 * ARK_COMMAND; cli/main.c dispatches `ark <name> ...` to it. A command's main
 * receives argv with argv[0] == its name, parses its own options (and answers
 * --help), and returns the process exit code. Only cli/ may call exit(). */
#ifndef ARK_CLI_COMMAND_H
#define ARK_CLI_COMMAND_H

struct ark_command {
	const char *name;     /* "run", "perf", "journal", ... */
	const char *summary;  /* one line for `ark --help` */
	int (*main)(int argc, char **argv);
};

void ark_command_register(const struct ark_command *command);

#define ARK_COMMAND(ident, cmd_name, cmd_summary, cmd_main)                    \
	static const struct ark_command ident = {                              \
		.name = (cmd_name), .summary = (cmd_summary), .main = (cmd_main) \
	};                                                                     \
	__attribute__((constructor)) static void ident##_register(void)        \
	{                                                                      \
		ark_command_register(&ident);                                  \
	}

/* True when argv holds -h or --help before any "--". */
int ark_wants_help(int argc, char **argv);

#endif /* ARK_CLI_COMMAND_H */
