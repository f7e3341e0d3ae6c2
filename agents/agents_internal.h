/* agents/agents_internal.h — what the agent files share inside agents/: the
 * undo log's protocol, the runtime context, the stages' operations and the
 * brokers Kenny drives (the working-state layouts are the segment's, in
 * pipeline/pipeline.h). Not part of the component's interface. */
#ifndef ARK_AGENTS_INTERNAL_H
#define ARK_AGENTS_INTERNAL_H

#include "agents/agents.h"
#include "brokers/brokers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- The runtime every agent loop shares ---- */
struct ark_agent_ctx {
	enum ark_agent agent;
	enum ark_lane lane;        /* Joey, HRM, Kenny: which lane this process serves */
	struct ark_pipeline_map map;
	struct ark_pipeline *pipeline;
	struct ark_agent_control *control;
	struct ark_pipeline_counters *counters;   /* this lane's */
	void *state;
	struct ark_undo *undo;
	struct ark_log *log;
	struct ark_ring_consumer input;
	struct ark_ring_producer output;
	struct ark_ring_wait_config wait;
	const struct ark_agent_ops *ops;
	uint64_t last_published;   /* highest seq already published downstream */
	uint32_t undo_entries_allowed;   /* this batch's undo budget (ark_undo_begin): */
	uint32_t undo_bytes_allowed;     /* a debug build holds every save to it */
};

/* A region of this process's lane ("state.orders", "state.broker", "ring.reports"). */
void *ark_agent_region(const struct ark_agent_ctx *ctx, const char *name);

/* Save bytes of this agent's state before changing them (inside a batch). */
void ark_undo_save(struct ark_agent_ctx *ctx, const void *ptr, size_t len);
/* Open the log for a batch of `events` events (at most the agent's
 * ARK_UNDO_BUDGET_*.events). */
void ark_undo_begin(struct ark_agent_ctx *ctx, uint32_t events);

/* ---- Undo budgets: the most one batch of each agent saves ----
 * Per agent: events in a batch at most, then entries and bytes saved once
 * per batch and at most per event (what the agent's files save, named
 * beside each). The log's size holds every agent's worst batch: checked at
 * compile time below, so no batch can run out of log (the runtime's
 * overflow check is a last resort that cannot fire). A debug build (no
 * NDEBUG) holds every batch to its budget as it saves, so a save added
 * without its budget stops the first test that makes it. */
#define ARK_UNDO_FITS(budget) ARK_UNDO_FITS_(budget)
#define ARK_UNDO_FITS_(events, batch_entries, event_entries, batch_bytes, event_bytes)         \
	((uint64_t)(batch_entries) + (uint64_t)(events) * (event_entries) <= ARK_UNDO_ENTRIES && \
	 (uint64_t)(batch_bytes) + (uint64_t)(events) * (event_bytes) <= ARK_UNDO_BYTES)
/* Kyle, per batch: last_seq and the input ring's next index; per tick: a
 * new symbol's name, its hash slot and the count (or the full-table count). */
#define ARK_UNDO_BUDGET_KYLE ARK_PIPELINE_BATCH, 2, 3, 2 * sizeof(uint64_t), \
	ARK_SYMBOL_MAX + sizeof(uint16_t) + sizeof(uint32_t)
/* Joey, per event: the symbol's statistics and the scalars. */
#define ARK_UNDO_BUDGET_JOEY ARK_PIPELINE_BATCH, 0, 2, 0, \
	sizeof(struct ark_joey_symbol) + sizeof(struct ark_joey_scalars)
/* HRM, per event: its scalars, the Graveyard's scalars, the rate window's
 * cursor and next slot, the symbol's state, an injection's setup flag, and
 * last_seq (a report it does not settle). */
#define ARK_UNDO_BUDGET_HRM ARK_PIPELINE_BATCH, 0, 7, 0,                                          \
	sizeof(struct ark_hrm_scalars) + sizeof(struct ark_graveyard_scalars) + 2 * sizeof(uint32_t) + \
		sizeof(uint64_t) + sizeof(struct ark_graveyard_symbol) + sizeof(uint8_t) + sizeof(uint64_t)
/* Kenny, per event: the position and the scalars (a fill, a refused fill),
 * or one counter alone (a rejection, an order accepted or re-delivered);
 * one entry and a counter's bytes to spare. */
#define ARK_UNDO_BUDGET_KENNY ARK_PIPELINE_BATCH, 0, 3, 0, \
	sizeof(uint64_t) + sizeof(struct ark_kenny_position) + sizeof(struct ark_kenny_scalars)
/* Aletheia, per merged batch (both lanes: twice a batch): the scalars; per
 * event: totals and one bucket of each agent's, the end-to-end and the
 * lane's latency histograms. */
#define ARK_UNDO_ALETHEIA_HISTS (ARK_AGENT_COUNT + 2)
#define ARK_UNDO_BUDGET_ALETHEIA 2 * ARK_PIPELINE_BATCH, 1, 2 * ARK_UNDO_ALETHEIA_HISTS, \
	sizeof(struct ark_aletheia_scalars), ARK_UNDO_ALETHEIA_HISTS * (sizeof(struct ark_hist_totals) + sizeof(uint64_t))
_Static_assert(ARK_UNDO_FITS(ARK_UNDO_BUDGET_KYLE), "Kyle's worst batch fits the undo log");
_Static_assert(ARK_UNDO_FITS(ARK_UNDO_BUDGET_JOEY), "Joey's worst batch fits the undo log");
_Static_assert(ARK_UNDO_FITS(ARK_UNDO_BUDGET_HRM), "HRM's worst batch fits the undo log");
_Static_assert(ARK_UNDO_FITS(ARK_UNDO_BUDGET_KENNY), "Kenny's worst batch fits the undo log");
_Static_assert(ARK_UNDO_FITS(ARK_UNDO_BUDGET_ALETHEIA), "Aletheia's worst batch fits the undo log");
void ark_undo_set_commit(struct ark_agent_ctx *ctx, uint64_t seq);
void ark_undo_end(struct ark_agent_ctx *ctx);
/* At start: roll back an unpublished batch. Returns true if it did. */
bool ark_undo_recover(struct ark_agent_ctx *ctx, uint64_t published_seq);
/* Test seam (weak, absent from `ark`): called at each step of a batch —
 * "undo.begin", "undo.save", "event.processed", "undo.commit_seq",
 * "ring.commit", "undo.end", "ring.release". tests/agents/test_undo.c kills
 * the agent there. */
void ark_agent_fault_point(enum ark_agent agent, const char *step);

/* The seq of the last event committed on an event ring (0 if none yet). */
uint64_t ark_agent_last_event_seq(struct ark_ring *ring);

/* SIGTERM (proc/), the pipeline's stop, or the canary lane's stop. */
bool ark_agent_stop_requested(const struct ark_agent_ctx *ctx);



/* ---- The batch loop every agent runs (runtime.c) ----
 * One loop for the five agents: heartbeat, periodic work, take a batch,
 * reserve room for its output, the undo bracket around its events and
 * their publication, the release of its input, and one accounting. An
 * agent says what differs in its operations table; the middle stages
 * (Joey, HRM, Kenny) leave the batch hooks NULL and get the stage's: one
 * input ring (the previous agent's), one output ring, each event copied
 * to its output slot and processed there in place. */

/* One batch: what the agent took and what became of it. */
struct ark_agent_batch {
	struct ark_ring_consumer *input;  /* released by n after the bracket (NULL: publish released) */
	uint32_t n;                       /* input events in the batch; 0: none this turn */
	bool pending;                     /* none this turn, but work in flight: not idle */
	int source;                       /* the agent's own mark (Kyle: which input) */
	uint32_t out;                     /* events published, for the accounting */
	uint64_t duplicates;              /* re-deliveries dropped */
	uint64_t busy_ns;                 /* work on these events done before the batch (Aletheia's appends) */
};

struct ark_agent_ops {
	bool canary_lane;   /* may run in the canary lane */
	/* Before the agent touches its rings or its state (a process that
	 * must not run here leaves without a trace): e.g. HRM's pinned rules. */
	int (*preflight)(struct ark_agent_ctx *ctx, struct ark_err *err);
	/* Open the rings, finish or roll back a batch a crash interrupted, set
	 * ctx->last_published. 0, or the process's exit status. Default: the
	 * stage's rings. */
	int (*open)(struct ark_agent_ctx *ctx);
	int (*start)(struct ark_agent_ctx *ctx, struct ark_err *err);
	/* The next batch (waiting a bounded time when there is none): 0 with
	 * b->n events (0: none), or the process's exit status to stop now.
	 * Default: a peek of ctx->input. */
	int (*take)(struct ark_agent_ctx *ctx, struct ark_agent_batch *b);
	/* Room for the batch's output (it may lower b->n): 0, or nonzero when
	 * told to stop while waiting. Default: ctx->output (ark_agent_reserve). */
	int (*reserve)(struct ark_agent_ctx *ctx, struct ark_agent_batch *b);
	/* Inside the undo bracket: the batch's saves and events (b->out,
	 * b->duplicates). Default: each event copied to its output slot,
	 * stamped in, ->process'ed in place. */
	void (*events)(struct ark_agent_ctx *ctx, struct ark_agent_batch *b);
	/* Still inside it: stamp out, ark_undo_set_commit, commit (or, for
	 * Aletheia, release); true if it published anything. Default: ctx->output. */
	bool (*publish)(struct ark_agent_ctx *ctx, struct ark_agent_batch *b, uint64_t end_ns);
	/* The middle stages' per-event work (in place, on the output slot). */
	void (*process)(struct ark_agent_ctx *ctx, struct ark_event *event, uint64_t now_ns);
	/* Every 50 ms and whenever the input is empty (drift checks, log
	 * write-out), off the per-event path. */
	void (*idle)(struct ark_agent_ctx *ctx, uint64_t now_ns);
	/* Every turn of the loop, between batches (Kenny: a network broker's
	 * answers); when set, an idle wait lasts at most 10 ms. */
	void (*poll)(struct ark_agent_ctx *ctx, uint64_t now_ns);
	/* Stopping: true while the agent still has work that must go through
	 * the pipeline before it stops (Kenny: a network broker's orders in
	 * flight); the loop keeps running. */
	bool (*busy)(struct ark_agent_ctx *ctx, uint64_t now_ns);
	/* Idle and asked to stop: true when nothing more can come. Default: the
	 * input empty and the stage before stopped. */
	bool (*drained)(struct ark_agent_ctx *ctx);
	void (*stop)(struct ark_agent_ctx *ctx);
};
extern const struct ark_agent_ops ark_kyle_ops, ark_joey_ops, ark_hrm_ops, ark_kenny_ops, ark_aletheia_ops;

/* Wait for room for n events on an output ring (heartbeat kept): 0 with n
 * lowered to the room there is, or -ECANCELED when the pipeline and this
 * process are told to stop meanwhile. */
int ark_agent_reserve(struct ark_agent_ctx *ctx, struct ark_ring_producer *out, uint32_t *n);
/* Run one taken, reserved batch: the undo bracket, its publication, the
 * release and the accounting (also Aletheia's last release at its stop). */
void ark_agent_batch_run(struct ark_agent_ctx *ctx, struct ark_agent_batch *b);
/* The control block's accounting of a batch (pipeline.h): events
 * published, duplicates dropped, busy time and the time per event. */
void ark_agent_account(struct ark_agent_ctx *ctx, uint32_t events, uint64_t duplicates, uint64_t busy_ns);

#endif /* ARK_AGENTS_INTERNAL_H */
