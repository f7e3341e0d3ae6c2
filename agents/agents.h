/* agents/agents.h — the five agents (Kyle, Joey, HRM, Kenny, Aletheia): how
 * an agent process is started. Everything else an agent keeps is in the
 * segment (pipeline/pipeline.h lays it out); its log and signals come from
 * proc/.
 *
 * Exactly-once effects: an agent releases its input only after it published
 * the output; a restarted agent drops every event whose seq it has already
 * published; state changed by a batch that was never published is rolled
 * back from the undo log before the batch is processed again. */
#ifndef ARK_AGENTS_H
#define ARK_AGENTS_H

#include "pipeline/pipeline.h"
#include "proc/proc.h"

/* How an agent process starts. */
struct ark_agent_options {
	int standby_fd;          /* >= 0: a warm standby; block on this pipe until one byte
				    (take over) or end of file (exit 0) */
	double wait_segment_s;   /* wait this long for the instance's segment to appear
				    (agents started by systemd beside the watchdog) */
	enum ark_lane lane;      /* Joey, HRM, Kenny: the canary lane's (ARK_LANE_CANARY) */
};

/* Run one agent process until the pipeline asks it to stop (or SIGTERM):
 * attach, pin to ARK_CPU_<AGENT>, recover, loop. Returns the exit status. */
int ark_agent_run(enum ark_agent agent, const char *instance, const struct ark_agent_options *options);

#endif /* ARK_AGENTS_H */
