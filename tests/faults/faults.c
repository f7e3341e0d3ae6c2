/* tests/faults/faults.c — the fault-injection build of `ark` (ark-faults),
 * for tests that must show a check catches a failure no healthy build has:
 *   ARK_FAULT_ALLOW_RULE=<reason>  HRM lets that rule kind through (see the
 *                                  weak ark_hrm_fault_allows in agents/hrm.c)
 *   ARK_FAULT_POISON_SEQ=<seq>     before the event with that seq, HRM's state
 *                                  gets a non-finite value (NaN in the sum of
 *                                  positions x marks), as a bug or a bit flip
 *                                  would leave it: HRM must latch state_corrupt
 * Never installed. */
#include "event/event.h"
#include "graveyard/graveyard.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

bool ark_hrm_fault_allows(enum ark_reason reason);
bool ark_hrm_fault_allows(enum ark_reason reason)
{
	const char *rule = getenv("ARK_FAULT_ALLOW_RULE");
	return rule && strcmp(rule, ark_reason_name(reason)) == 0;
}

void ark_hrm_fault_poison(struct ark_graveyard_state *state, const struct ark_event *event);
void ark_hrm_fault_poison(struct ark_graveyard_state *state, const struct ark_event *event)
{
	static long long poison_seq = -1;
	if (poison_seq < 0) {
		const char *v = getenv("ARK_FAULT_POISON_SEQ");
		poison_seq = v && *v ? atoll(v) : 0;
	}
	if (poison_seq > 0 && event->seq == (uint64_t)poison_seq)
		state->position_mark_sum = NAN;
}
