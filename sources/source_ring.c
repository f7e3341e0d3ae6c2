/* sources/source_ring.c — where a restarted source resumes its numbering:
 * the source_seq of the last tick its ring carries (ark_ring_last_committed). */
#include "sources/sources.h"

uint64_t ark_source_ring_last_seq(struct ark_ring *ring)
{
	const struct ark_tick *t = ark_ring_last_committed(ring);
	return t ? t->source_seq : 0;
}

