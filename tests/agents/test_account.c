/* tests/agents/test_account.c — the one accounting every agent's batch goes
 * through (ark_agent_account): what the control block says after batches
 * that published, and after one of re-deliveries alone.
 *
 * The watchdog's quarantine samples last_latency_ns whenever `events` has
 * moved (watchdog/watch.c), so the field must hold the time per event of
 * the last batch that published any: a batch that published nothing must
 * not overwrite it (the stages and Kyle once wrote 0 there, Aletheia did
 * not). Catches: a 0 written for an empty batch, the busy time not divided
 * by the batch's events, worst_latency_ns lowered, a counter not added. */
#include "agents/agents_internal.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
	struct ark_agent_control control;
	memset(&control, 0, sizeof control);
	struct ark_agent_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.control = &control;

	/* 4 events in 400 ns: 100 per event. */
	ctx.last_published = 10;
	ark_agent_account(&ctx, 4, 0, 400);
	CHECK_EQ_U64(atomic_load(&control.events), 4);
	CHECK_EQ_U64(atomic_load(&control.last_latency_ns), 100);
	CHECK_EQ_U64(atomic_load(&control.worst_latency_ns), 100);
	CHECK_EQ_U64(atomic_load(&control.busy_ns), 400);
	CHECK_EQ_U64(atomic_load(&control.last_seq), 10);

	/* Re-deliveries alone: counted, timed, but the last batch's time per
	 * event stays what the watchdog may still sample. */
	ark_agent_account(&ctx, 0, 3, 50);
	CHECK_EQ_U64(atomic_load(&control.events), 4);
	CHECK_EQ_U64(atomic_load(&control.duplicates), 3);
	CHECK_EQ_U64(atomic_load(&control.busy_ns), 450);
	CHECK_MSG(atomic_load(&control.last_latency_ns) == 100,
		  "a batch that published nothing changed last_latency_ns to %llu (want 100, the last batch's)",
		  (unsigned long long)atomic_load(&control.last_latency_ns));

	/* A faster batch: the latest value, the worst kept. */
	ctx.last_published = 12;
	ark_agent_account(&ctx, 2, 1, 20);
	CHECK_EQ_U64(atomic_load(&control.events), 6);
	CHECK_EQ_U64(atomic_load(&control.duplicates), 4);
	CHECK_EQ_U64(atomic_load(&control.last_latency_ns), 10);
	CHECK_EQ_U64(atomic_load(&control.worst_latency_ns), 100);
	CHECK_EQ_U64(atomic_load(&control.last_seq), 12);

	/* A slower one raises the worst. */
	ark_agent_account(&ctx, 1, 0, 250);
	CHECK_EQ_U64(atomic_load(&control.last_latency_ns), 250);
	CHECK_EQ_U64(atomic_load(&control.worst_latency_ns), 250);
	printf("accounting tests passed\n");
	return 0;
}
