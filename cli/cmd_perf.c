/* cli/cmd_perf.c — `ark perf <bench> [options]`: runs one benchmark of the
 * harness in perf/. Benchmarks print a table, or one JSON object with --json. */
#include "cli/command.h"
#include "perf/perf.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: ark perf <bench> [options]\n\n"
		     "Runs a benchmark: a short table on stdout, or with --json one JSON object\n"
		     "whose \"headline\" member holds the figures the issues ask for.\n\nbenchmarks:\n");
	for (int i = 0; i < ark_perf_count(); i++)
		fprintf(out, "  %-12s %s\n", ark_perf_at(i)->name, ark_perf_at(i)->summary);
	fprintf(out, "\n`ark perf <bench> --help` lists each benchmark's options.\n");
}

static int perf_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	const struct ark_perf_bench *bench = ark_perf_find(argv[1]);
	if (!bench) {
		fprintf(stderr, "ark perf: unknown benchmark '%s'\n\n", argv[1]);
		usage(stderr);
		return 2;
	}
	return bench->main(argc - 1, argv + 1);
}

ARK_COMMAND(perf_command, "perf", "run a benchmark (ring, store, ...) and report medians and percentiles",
	    perf_main)
