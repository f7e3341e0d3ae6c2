/* proc/pin.c — pinning a process to the CPU its ARK_CPU_<NAME> names, and
 * recording where it runs (-1: not pinned) in its control block, so the
 * watchdog and `ark status` show it. A bad value is an error, never a guess. */
#include "proc/proc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

int ark_process_pin(const char *upper_name, _Atomic int32_t *cpu_slot, struct ark_err *err)
{
	char var[64];
	snprintf(var, sizeof var, "ARK_CPU_%s", upper_name);
	for (char *p = var; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	const char *v = getenv(var);
	if (!v || !*v) {
		atomic_store(cpu_slot, -1);
		return 0;
	}
	uint64_t cpu;
	int rc = ark_parse_u64(v, 0, 4095, var, &cpu, err);
	if (!rc)
		rc = ark_pin_cpu((int)cpu, err);
	if (rc)
		return ark_err_wrap(err, "%s", var);
	atomic_store(cpu_slot, (int32_t)cpu);
	return 0;
}
