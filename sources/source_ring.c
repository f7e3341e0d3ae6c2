/* sources/source_ring.c — what every source process shares: where a
 * restarted source resumes its numbering (the source_seq of the last tick
 * its ring carries, ark_ring_last_committed), and its opening (its log and
 * its SIGTERM handler, in that order). */
#include "sources/sources.h"

#include <stdio.h>

uint64_t ark_source_ring_last_seq(struct ark_ring *ring)
{
	const struct ark_tick *t = ark_ring_last_committed(ring);
	return t ? t->source_seq : 0;
}

struct ark_log *ark_source_open_log(int source, const char *who, void (*on_term)(int))
{
	struct ark_err err = {0};
	char name[32];
	snprintf(name, sizeof name, "source%d", source);
	struct ark_log *log = ark_log_open(name, &err);
	if (!log) {
		fprintf(stderr, "%s: %s\n", who, err.msg);
		return NULL;
	}
	ark_process_signals(on_term);
	return log;
}
