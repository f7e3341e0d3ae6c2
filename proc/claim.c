/* proc/claim.c — a process the watchdog forked takes its place in the
 * segment only once the watchdog has recorded it there.
 *
 * The watchdog writes a child's pid and start time into its slot right
 * after fork (and before it tells a standby to take over). Should the
 * watchdog die in between, the child would run unrecorded and its
 * successor would start a second copy beside it. So a child that finds
 * ARK_SUPERVISED_BY=<pid>:<start> in its environment waits for its slot to
 * name it; if instead that watchdog is gone, or is no longer the segment's
 * owner, it leaves without touching anything. Processes started any other
 * way (systemd units, by hand) record themselves as before. */
#include "proc/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int ark_process_claim(const struct ark_shm *shm, _Atomic int32_t *pid_slot)
{
	const char *mark = getenv("ARK_SUPERVISED_BY");
	if (!mark || !*mark)
		return 0;
	int supervisor = 0;
	unsigned long long ticks = 0;
	bool parsed = sscanf(mark, "%d:%llu", &supervisor, &ticks) == 2 && supervisor > 0 && ticks > 0;
	unsetenv("ARK_SUPERVISED_BY");   /* not passed on to anything this process starts */
	if (!parsed)
		return -EINVAL;
	int32_t self = (int32_t)getpid();
	/* Normally recorded long before this runs (the watchdog writes right
	 * after fork; this process has exec'd and attached since). */
	uint64_t deadline = ark_now_ns() + 30ull * 1000 * 1000 * 1000;
	for (;;) {
		if (atomic_load(pid_slot) == self)
			return 0;
		if (!ark_shm_process_alive(supervisor, ticks) || shm->header->creator_pid != supervisor)
			return -ESRCH;
		if (ark_now_ns() > deadline)
			return -ETIMEDOUT;
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
