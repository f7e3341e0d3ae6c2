/* tests/ring/ring_test_events.h — test events for the ring tests: every slot
 * is filled completely from its sequence number, so a consumer can tell a
 * whole, correctly ordered event from a torn, stale or misplaced one. */
#ifndef ARK_TESTS_RING_EVENTS_H
#define ARK_TESTS_RING_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Layout: word 0 = seq, words 1..n-2 = mix64(seq + k), last word = checksum. */
static inline void event_fill(void *slot, uint32_t slot_size, uint64_t seq)
{
	uint64_t *w = slot;
	uint32_t n = slot_size / 8;
	uint64_t sum = seq;
	w[0] = seq;
	for (uint32_t k = 1; k + 1 < n; k++) {
		w[k] = mix64(seq + k);
		sum = mix64(sum ^ w[k]);
	}
	w[n - 1] = sum;
}

static inline bool event_check(const void *slot, uint32_t slot_size, uint64_t expected_seq)
{
	const uint64_t *w = slot;
	uint32_t n = slot_size / 8;
	if (w[0] != expected_seq)
		return false;
	uint64_t sum = expected_seq;
	for (uint32_t k = 1; k + 1 < n; k++) {
		if (w[k] != mix64(expected_seq + k))
			return false;
		sum = mix64(sum ^ w[k]);
	}
	return w[n - 1] == sum;
}

/* xorshift64*: batch sizes that vary but repeat for a given seed. */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

#endif
