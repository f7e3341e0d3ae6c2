/* cli/cmd_mirror.c — `ark mirror`: the Redis stream mirror of a running
 * instance (the watchdog starts it when REDIS_URL is set). */
#include "cli/command.h"
#include "mirror/mirror.h"

#include "pipeline/pipeline.h"
#include "store/store.h"

#include <errno.h>
#include <stdbool.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int mirror_main(int argc, char **argv)
{
	if (ark_wants_help(argc, argv)) {
		printf("usage: ark mirror [--instance NAME]\n"
		       "       ark mirror --backfill [--journal DIR]\n\n"
		       "Mirrors every event Aletheia journals into a Redis stream (XADD, pipelined),\n"
		       "entry ID <seq>-<node>, so a resend is refused by Redis, never doubled. When\n"
		       "Redis is down or slow the pipeline does not notice: the mirror lags\n"
		       "(mirror_lag_events), reconnects with back-off and catches up from the journal.\n"
		       "Started by ark run / ark watchdog when REDIS_URL is set.\n\n"
		       "Environment: REDIS_URL (redis://[[user]:password@]host[:port][/db] or\n"
		       "unix:///path[?db=N]), ARK_MIRROR_STREAM (ark:events), ARK_MIRROR_PER_TOPIC\n"
		       "(false: <stream>:fills, :denials, :signals when true), ARK_MIRROR_MAXLEN\n"
		       "(1000000, approximate trimming; 0 none), ARK_MIRROR_BATCH (256 XADDs per round\n"
		       "trip), ARK_MIRROR_TIMEOUT_MS (2000), REDIS_POOL_SIZE (10; the mirror uses one\n"
		       "connection, which keeps the entries in order). Exit status 2: configuration error.\n\n"
		       "--backfill mirrors the journal (default $ARK_DATA_DIR/journal) into REDIS_URL from\n"
		       "the stream's last entry to the journal's end, without a running instance, and\n"
		       "prints how many entries it added (a new or emptied Redis gets the whole record).\n");
		return 0;
	}
	const char *instance = ark_pipeline_default_instance();
	const char *journal = NULL;
	bool backfill = false;
	static const struct option longopts[] = {{"instance", required_argument, NULL, 'i'},
						 {"backfill", no_argument, NULL, 'b'},
						 {"journal", required_argument, NULL, 'j'},
						 {NULL, 0, NULL, 0}};
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		switch (opt) {
		case 'i': instance = optarg; break;
		case 'b': backfill = true; break;
		case 'j': journal = optarg; break;
		default: return ark_cli_option_error("mirror", opt, argv);
		}
	}
	if (ark_cli_no_operands("mirror", argc, argv))
		return 2;
	if (!backfill)
		return ark_mirror_run(instance);
	struct ark_err err = {0};
	struct ark_store_config store;
	if (!journal) {
		if (ark_store_config_from_env(&store, &err))
			return ark_cli_fail("mirror", &err, 2);
		journal = store.journal_dir;
	}
	struct ark_mirror_backfill_result r;
	int rc = ark_mirror_backfill(journal, &r, &err);
	if (rc)
		return ark_cli_fail("mirror", &err, rc == -EINVAL ? 2 : 1);
	printf("backfilled %llu entries (seq %llu..%llu) in %.3f s: %.0f entries/s; %llu already there\n",
	       (unsigned long long)r.entries, (unsigned long long)r.first_seq, (unsigned long long)r.last_seq, r.seconds,
	       r.seconds > 0 ? (double)r.entries / r.seconds : 0.0, (unsigned long long)r.refused_duplicates);
	return 0;
}

ARK_COMMAND(mirror_command, "mirror", "mirror the journaled events into a Redis stream (REDIS_URL)", mirror_main)
