/* tests/faults/faults.c — the fault-injection build of `ark` (ark-faults),
 * for tests that must show a check catches a failure no healthy build has:
 * ARK_FAULT_ALLOW_RULE=<reason> makes HRM let that rule kind through (see the
 * weak ark_hrm_fault_allows in agents/hrm.c). Never installed. */
#include "event/event.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

bool ark_hrm_fault_allows(enum ark_reason reason);
bool ark_hrm_fault_allows(enum ark_reason reason)
{
	const char *rule = getenv("ARK_FAULT_ALLOW_RULE");
	return rule && strcmp(rule, ark_reason_name(reason)) == 0;
}
