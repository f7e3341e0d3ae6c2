/* cli/options.c — what every command's option parsing shares: getopt_long
 * run quietly (opterr = 0, optstring led by ':') so that each command words
 * its own usage errors the one way ARK always has ("ark CMD: unknown option
 * 'X'"), and exits 2 for them. */
#include "cli/command.h"
#include "common/common.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

int ark_cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	opterr = 0;
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

const char *ark_cli_last_option(char **argv)
{
	/* "--name VALUE" took two words: the option is the first of them. */
	if (optarg && optind >= 2 && optarg == argv[optind - 1])
		return argv[optind - 2];
	return optind >= 1 ? argv[optind - 1] : "";
}

int ark_cli_option_error(const char *command, int opt, char **argv)
{
	/* A long option is the word getopt stepped past; a short one is optopt
	 * (it may sit inside a cluster, so the word would mislead). */
	char shortname[3] = {'-', (char)optopt, '\0'};
	const char *last = optind > 0 ? argv[optind - 1] : "";
	const char *word = strncmp(last, "--", 2) == 0 || !optopt ? last : shortname;
	if (opt == ':')
		fprintf(stderr, "ark %s: option '%s' needs a value\n", command, word);
	else
		fprintf(stderr, "ark %s: unknown option '%s'\n", command, word);
	return 2;
}

int ark_cli_fail(const char *command, const struct ark_err *err, int status)
{
	fprintf(stderr, "ark %s: %s\n", command, err->msg);
	return status;
}

int ark_cli_no_operands(const char *command, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "ark %s: unexpected argument '%s'\n", command, argv[optind]);
	return 2;
}

int ark_cli_usage(void (*usage)(FILE *), int opt, int help_status)
{
	usage(opt == 'h' ? stdout : stderr);
	return opt == 'h' ? help_status : 2;
}
