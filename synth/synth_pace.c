/* synth/synth_pace.c — pacing the synthetic source: when, on CLOCK_MONOTONIC,
 * the next tick is due, and a sleep until then.
 *
 * Invariant: tick k of a paced run is due at start + k / rate, computed from
 * k (never by adding periods), so pacing error does not accumulate. The
 * generator itself never sleeps or reads a clock; this is the only place. */
#include "synth/synth.h"

#include <errno.h>
#include <time.h>

uint64_t ark_synth_due_ns(const struct ark_synth *gen, uint64_t start_ns)
{
	if (gen->rate_hz <= 0)
		return 0;
	long double offset = (long double)gen->emitted * 1e9L / (long double)gen->rate_hz;
	return start_ns + (uint64_t)(offset + 0.5L);
}

int ark_synth_wait_due(const struct ark_synth *gen, uint64_t start_ns)
{
	uint64_t due = ark_synth_due_ns(gen, start_ns);
	if (due == 0)
		return 0;
	struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
	int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	return rc == 0 ? 0 : -rc;
}
