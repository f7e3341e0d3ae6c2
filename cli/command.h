/* cli/command.h — the registry of `ark` subcommands.
 *
 * Each subcommand lives in its own cli/cmd_<name>.c and registers itself with
 * ARK_COMMAND; cli/main.c dispatches `ark <name> ...` to it. A command's main
 * receives argv with argv[0] == its name, parses its own options (and answers
 * --help), and returns the process exit code. Only cli/ may call exit(). */
#ifndef ARK_CLI_COMMAND_H
#define ARK_CLI_COMMAND_H

#include <stdio.h>

/* A command that reads the env file itself (`ark config validate` reports
 * on it line by line, `ark rollback` replaces it): main does not load it. */
#define ARK_COMMAND_OWN_ENV_FILE 1u

struct ark_command {
	const char *name;     /* "run", "perf", "journal", ... */
	const char *summary;  /* one line for `ark --help` */
	int (*main)(int argc, char **argv);
	unsigned flags;       /* ARK_COMMAND_* */
};

void ark_command_register(const struct ark_command *command);

#define ARK_COMMAND_FLAGS(ident, cmd_name, cmd_summary, cmd_main, cmd_flags)   \
	static const struct ark_command ident = {                              \
		.name = (cmd_name), .summary = (cmd_summary), .main = (cmd_main), \
		.flags = (cmd_flags)                                           \
	};                                                                     \
	__attribute__((constructor)) static void ident##_register(void)        \
	{                                                                      \
		ark_command_register(&ident);                                  \
	}
#define ARK_COMMAND(ident, cmd_name, cmd_summary, cmd_main)                    \
	ARK_COMMAND_FLAGS(ident, cmd_name, cmd_summary, cmd_main, 0u)

/* True when argv holds -h or --help before any "--". */
int ark_wants_help(int argc, char **argv);

struct option;
/* getopt_long without its own messages: shortopts should begin with ':' so
 * that a missing value (':') is told from an unknown option ('?'). Reset
 * optind = 1 before the first call. */
int ark_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* The word of the option getopt returned last (for "unexpected argument"). */
const char *ark_cli_last_option(char **argv);
/* For getopt's '?' or ':': prints "ark COMMAND: unknown option 'X'" (or
 * "option 'X' needs a value") and returns 2, the usage-error status. */
int ark_cli_option_error(const char *command, int opt, char **argv);
/* --help or a bad option, for a command whose usage text is usage(FILE *):
 * opt 'h' prints it on stdout and returns help_status (0 from a main, 1
 * from a parse_args that tells "answered" from "go on"); any other opt
 * prints it on stderr and returns 2. */
int ark_cli_usage(void (*usage)(FILE *), int opt, int help_status);
/* "ark COMMAND: <err's message>" on stderr; returns status, the exit code
 * the command returns for it (2 a setting or usage, 1 a failure). */
struct ark_err;
int ark_cli_fail(const char *command, const struct ark_err *err, int status);
/* After the options: 0 when getopt took every word, else "ark COMMAND:
 * unexpected argument 'X'" (the first word left) and 2. */
int ark_cli_no_operands(const char *command, int argc, char **argv);

#endif /* ARK_CLI_COMMAND_H */
