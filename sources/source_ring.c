/* sources/source_ring.c — where a restarted source resumes its numbering:
 * the source_seq of the last tick its ring carries. Reads the producer's
 * index with acquire, so the slot it names is fully written. */
#include "sources/sources.h"

uint64_t ark_source_ring_last_seq(struct ark_ring *ring)
{
	uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
	if (head == ring->initial_index)
		return 0;
	const struct ark_tick *t = (const struct ark_tick *)((const uint8_t *)ring + ring->slots_offset +
							       ((head - 1) & ring->mask) * ring->slot_size);
	return t->source_seq;
}

