/* agents/runtime.c — what every agent process does the same way: attach,
 * pin, recover, heartbeat, the one batch loop of the five agents (each
 * agent's differences in its operations table, agents_internal.h), the
 * undo log that keeps a batch's state changes atomic with its publication,
 * the accounting of a batch in the control block, and stopping on request.
 *
 * Loop invariant: an agent's input is released only after its output was
 * published (Aletheia: journaled, and its release is its publication);
 * last_published is the highest seq on its output ring, and any input at
 * or below it is a re-delivery after a restart and is dropped. The runtime
 * never asks which agent it runs: the table says. */
#include "agents/agents_internal.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* ---- Undo log ---- */

/* A test seam, absent from `ark`: tests/agents/test_undo.c defines it to
 * kill the agent at the n-th step of a batch (each write of the undo
 * protocol, each event processed, the publication and the release), then
 * checks that the restarted agent ends where a run never interrupted does. */
void ark_agent_fault_point(enum ark_agent agent, const char *step) __attribute__((weak));

static inline void fault_point(const struct ark_agent_ctx *ctx, const char *step)
{
	if (ark_agent_fault_point)
		ark_agent_fault_point(ctx->agent, step);
}

/* Each agent's budget (agents_internal.h), as numbers. */
struct undo_budget {
	uint32_t events, batch_entries, event_entries;
	uint64_t batch_bytes, event_bytes;
};
static const struct undo_budget undo_budgets[ARK_AGENT_COUNT] = {
	[ARK_AGENT_KYLE] = {ARK_UNDO_BUDGET_KYLE},
	[ARK_AGENT_JOEY] = {ARK_UNDO_BUDGET_JOEY},
	[ARK_AGENT_HRM] = {ARK_UNDO_BUDGET_HRM},
	[ARK_AGENT_KENNY] = {ARK_UNDO_BUDGET_KENNY},
	[ARK_AGENT_ALETHEIA] = {ARK_UNDO_BUDGET_ALETHEIA},
};

void ark_undo_begin(struct ark_agent_ctx *ctx, uint32_t events)
{
	const struct undo_budget *b = &undo_budgets[ctx->agent];
	assert(events <= b->events && "a batch larger than its undo budget");
	ctx->undo_entries_allowed = (uint32_t)(b->batch_entries + (uint64_t)events * b->event_entries);
	ctx->undo_bytes_allowed = (uint32_t)(b->batch_bytes + (uint64_t)events * b->event_bytes);
	struct ark_undo *u = ctx->undo;
	atomic_store_explicit(&u->count, 0, memory_order_relaxed);
	u->used = 0;
	atomic_store_explicit(&u->commit_seq, 0, memory_order_relaxed);
	atomic_store_explicit(&u->active, 1, memory_order_release);
	fault_point(ctx, "undo.begin");
}

void ark_undo_save(struct ark_agent_ctx *ctx, const void *ptr, size_t len)
{
	struct ark_undo *u = ctx->undo;
	uint32_t n = atomic_load_explicit(&u->count, memory_order_relaxed);
	/* Within the batch's budget (a debug build stops at the first save
	 * beyond it: the budget is wrong, or the save is), and so within the
	 * log (the budgets fit it, checked at compile time). The overflow check
	 * stays as a last resort: memory safety must not depend on a budget. */
	assert(n < ctx->undo_entries_allowed && u->used + len <= ctx->undo_bytes_allowed &&
	       "an undo save beyond the batch's budget (agents_internal.h)");
	if (n >= ARK_UNDO_ENTRIES || u->used + len > ARK_UNDO_BYTES) {
		fprintf(stderr, "ark %s: undo log overflow (%u entries, %u bytes)\n",
			ark_agent_name(ctx->agent), n, u->used);
		abort();
	}
	struct ark_undo_entry *e = &u->entries[n];
	e->offset = (uint64_t)((const char *)ptr - (const char *)ctx->map.shm.base);
	e->len = (uint32_t)len;
	e->data_offset = u->used;
	memcpy(u->data + u->used, ptr, len);
	u->used += (uint32_t)len;
	/* The entry is complete before it counts, and counts before the state
	 * it guards changes: a kill at any instruction leaves a usable log. */
	atomic_store_explicit(&u->count, n + 1, memory_order_release);
	atomic_signal_fence(memory_order_seq_cst);
	fault_point(ctx, "undo.save");
}

void ark_undo_set_commit(struct ark_agent_ctx *ctx, uint64_t seq)
{
	atomic_store_explicit(&ctx->undo->commit_seq, seq, memory_order_release);
	fault_point(ctx, "undo.commit_seq");
}

void ark_undo_end(struct ark_agent_ctx *ctx)
{
	atomic_store_explicit(&ctx->undo->active, 0, memory_order_release);
	fault_point(ctx, "undo.end");
}

bool ark_undo_recover(struct ark_agent_ctx *ctx, uint64_t published_seq)
{
	struct ark_undo *u = ctx->undo;
	if (!atomic_load_explicit(&u->active, memory_order_acquire))
		return false;
	uint64_t commit = atomic_load_explicit(&u->commit_seq, memory_order_acquire);
	bool published = commit != 0 && published_seq >= commit;
	uint32_t n = atomic_load_explicit(&u->count, memory_order_acquire);
	if (!published) {
		for (uint32_t i = n; i-- > 0;) {
			const struct ark_undo_entry *e = &u->entries[i];
			if (e->offset + e->len > ctx->map.shm.size || e->data_offset + e->len > ARK_UNDO_BYTES)
				continue;
			memcpy((char *)ctx->map.shm.base + e->offset, u->data + e->data_offset, e->len);
		}
	}
	atomic_store_explicit(&u->active, 0, memory_order_release);
	return !published && n > 0;
}

uint64_t ark_agent_last_event_seq(struct ark_ring *ring)
{
	const struct ark_event *last = ark_ring_last_committed(ring);
	return last ? last->seq : 0;
}

/* ---- Stopping ---- */

void *ark_agent_region(const struct ark_agent_ctx *ctx, const char *name)
{
	return ark_pipeline_lane_region(&ctx->map, ctx->lane, name, NULL);
}

bool ark_agent_stop_requested(const struct ark_agent_ctx *ctx)
{
	return ark_process_stop_signalled() || atomic_load_explicit(&ctx->pipeline->stop, memory_order_relaxed) ||
	       (ctx->lane == ARK_LANE_CANARY &&
		atomic_load_explicit(&ctx->pipeline->canary.lane_stop, memory_order_relaxed));
}

/* ---- Accounting ---- */

void ark_agent_account(struct ark_agent_ctx *ctx, uint32_t events, uint64_t duplicates, uint64_t busy_ns)
{
	struct ark_agent_control *control = ctx->control;
	ark_control_add(&control->duplicates, duplicates);
	ark_control_add(&control->busy_ns, busy_ns);
	if (events) {
		/* The time per event of the last batch that published any
		 * (pipeline.h): a batch of re-deliveries alone leaves it, so the
		 * watchdog, which samples it when `events` moves, never reads a
		 * 0 in place of the batch it counted. Stored before `events`. */
		uint64_t per_event = busy_ns / events;
		atomic_store_explicit(&control->last_latency_ns, per_event, memory_order_relaxed);
		if (per_event > atomic_load_explicit(&control->worst_latency_ns, memory_order_relaxed))
			atomic_store_explicit(&control->worst_latency_ns, per_event, memory_order_relaxed);
		atomic_store_explicit(&control->events,
				      atomic_load_explicit(&control->events, memory_order_relaxed) + events,
				      memory_order_release);
	}
	atomic_store_explicit(&control->last_seq, ctx->last_published, memory_order_relaxed);
}

/* ---- The batch loop ---- */

int ark_agent_reserve(struct ark_agent_ctx *ctx, struct ark_ring_producer *out, uint32_t *n)
{
	uint32_t room;
	while (ark_ring_reserve(out, *n, 100 * 1000 * 1000, &room) != 0) {
		/* Full: downstream is slow, or gone. The pipeline's stop alone
		 * does not end the wait (what is downstream drains it, and
		 * stops after this agent); the supervisor's SIGTERM with it does. */
		atomic_store_explicit(&ctx->control->heartbeat_ns, ark_now_ns(), memory_order_relaxed);
		if (ark_process_stop_signalled() && atomic_load(&ctx->pipeline->stop))
			return -ECANCELED;
	}
	if (room < *n)
		*n = room;
	return 0;
}

/* When the whole pipeline stops, a stage stops after the one before it: a
 * network broker's execution reports, numbered by Kyle after the sources
 * are done, still go through every stage. A predecessor that is gone (or
 * silent for 2 s) holds nothing up. A lane told to stop, or a process told
 * alone (SIGTERM without the pipeline's stop): its input empty is enough. */
static bool upstream_stopped(const struct ark_agent_ctx *ctx)
{
	if (!atomic_load_explicit(&ctx->pipeline->stop, memory_order_relaxed))
		return true;
	const struct ark_agent_control *up = ctx->agent == ARK_AGENT_JOEY
						     ? &ctx->pipeline->agents[ARK_AGENT_KYLE]
						     : ark_pipeline_lane_control(&ctx->map, ctx->lane, (enum ark_agent)(ctx->agent - 1));
	if (atomic_load(&up->state) != ARK_PROC_RUNNING)
		return true;
	uint64_t beat = atomic_load_explicit(&up->heartbeat_ns, memory_order_relaxed), now = ark_now_ns();
	return now > beat + 2000ull * 1000 * 1000;
}

/* The middle stages' hooks: the defaults of the table. */

static int stage_open(struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	struct ark_ring *in_ring = ark_pipeline_lane_ring(&ctx->map, ctx->lane, (enum ark_agent)(ctx->agent - 1));
	struct ark_ring *out_ring = ark_pipeline_lane_ring(&ctx->map, ctx->lane, ctx->agent);
	if (!in_ring || !out_ring) {
		ark_log(ctx->log, "error", "this instance has no %s lane", ctx->lane == ARK_LANE_CANARY ? "canary" : "stable");
		return 2;
	}
	if (ark_ring_consumer_open(&ctx->input, in_ring, &ctx->wait, &err) ||
	    ark_ring_producer_open(&ctx->output, out_ring, &ctx->wait, &err)) {
		ark_log(ctx->log, "error", "cannot open rings: %s", err.msg);
		return 1;
	}
	ctx->last_published = ark_agent_last_event_seq(out_ring);
	if (ark_undo_recover(ctx, ctx->last_published)) {
		ark_control_add(&ctx->control->rollbacks, 1);
		ark_log(ctx->log, "warn", "rolled back an unpublished batch after a restart last_published=%llu",
			(unsigned long long)ctx->last_published);
	}
	return 0;
}

static int stage_take(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	b->input = &ctx->input;
	if (ark_ring_peek(&ctx->input, ARK_PIPELINE_BATCH, ctx->ops->poll ? 10 * 1000 * 1000 : 100 * 1000 * 1000, &b->n))
		b->n = 0;
	return 0;
}

static int stage_reserve(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	return ark_agent_reserve(ctx, &ctx->output, &b->n);
}

static void stage_events(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	void (*process)(struct ark_agent_ctx *, struct ark_event *, uint64_t) = ctx->ops->process;
	uint32_t out = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct ark_event *src = ark_ring_event(&ctx->input, i);
		if (src->seq <= ctx->last_published) {
			b->duplicates++;
			continue;
		}
		struct ark_event *event = ark_ring_slot(&ctx->output, out);
		memcpy(event, src, sizeof *event);
		uint64_t t = ark_now_ns();
		event->stamp_in_ns[ctx->agent] = t;
		process(ctx, event, t);
		out++;
		fault_point(ctx, "event.processed");
	}
	b->out = out;
}

static bool stage_publish(struct ark_agent_ctx *ctx, struct ark_agent_batch *b, uint64_t end_ns)
{
	if (!b->out)
		return false;
	for (uint32_t i = 0; i < b->out; i++)
		((struct ark_event *)ark_ring_slot(&ctx->output, i))->stamp_out_ns[ctx->agent] = end_ns;
	uint64_t last = ((const struct ark_event *)ark_ring_slot(&ctx->output, b->out - 1))->seq;
	ark_undo_set_commit(ctx, last);
	ctx->last_published = last;
	ark_ring_commit(&ctx->output, b->out);
	return true;
}

static bool stage_drained(struct ark_agent_ctx *ctx)
{
	return ark_ring_try_peek(&ctx->input, 1) == 0 && upstream_stopped(ctx);
}

void ark_agent_batch_run(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	const struct ark_agent_ops *ops = ctx->ops;
	uint64_t start = ark_now_ns();
	ark_undo_begin(ctx, b->n);
	ops->events(ctx, b);
	uint64_t end = ark_now_ns();
	if (ops->publish(ctx, b, end))
		fault_point(ctx, "ring.commit");
	ark_undo_end(ctx);
	if (b->input) {
		ark_ring_release(b->input, b->n);
		fault_point(ctx, "ring.release");
	}
	ark_agent_account(ctx, b->out, b->duplicates, end - start + b->busy_ns);
}

/* Attach done: the loop, until stopped. Returns the process's exit status. */
static int agent_loop(struct ark_agent_ctx *ctx, const struct ark_agent_ops *table)
{
	/* The table with the stage's hooks where the agent has none. */
	struct ark_agent_ops ops = *table;
	ops.open = ops.open ? ops.open : stage_open;
	ops.take = ops.take ? ops.take : stage_take;
	ops.reserve = ops.reserve ? ops.reserve : stage_reserve;
	ops.events = ops.events ? ops.events : stage_events;
	ops.publish = ops.publish ? ops.publish : stage_publish;
	ops.drained = ops.drained ? ops.drained : stage_drained;
	ctx->ops = &ops;
	struct ark_err err = {0};
	struct ark_agent_control *control = ctx->control;
	if (ops.preflight && ops.preflight(ctx, &err)) {
		ark_log(ctx->log, "error", "refusing to start: %s", err.msg);
		fprintf(stderr, "ark agent %s: %s\n", ark_agent_file_name(ctx->agent), err.msg);
		return 2;
	}
	int status = ops.open(ctx);
	if (status)
		return status;
	int start_rc = ops.start ? ops.start(ctx, &err) : 0;
	if (start_rc) {
		ark_log(ctx->log, "error", "start failed: %s", err.msg);
		/* A setting or an account that is wrong stays wrong: exit 2, not
		 * retried; a server that did not answer may next time. */
		return start_rc == -EAGAIN || start_rc == -EHOSTUNREACH || start_rc == -ETIMEDOUT ? 1 : 2;
	}
	atomic_store(&control->last_seq, ctx->last_published);
	atomic_store(&control->state, ARK_PROC_RUNNING);
	ark_log(ctx->log, "info", "running last_published=%llu", (unsigned long long)ctx->last_published);
	ark_log_flush(ctx->log);

	uint64_t last_idle = ark_now_ns();
	for (;;) {
		uint64_t now = ark_now_ns();
		atomic_store_explicit(&control->heartbeat_ns, now, memory_order_relaxed);
		if (now - last_idle >= 50 * 1000 * 1000) {
			/* Periodic work also runs while events flow (drift checks,
			 * log write-out), off the per-event path. */
			if (ops.idle)
				ops.idle(ctx, now);
			ark_log_flush(ctx->log);
			last_idle = now;
		}
		if (ops.poll)
			ops.poll(ctx, now);
		struct ark_agent_batch b = {.input = NULL};
		if ((status = ops.take(ctx, &b)) != 0)
			break;
		if (!b.n) {
			if (b.pending)
				continue;
			if (ops.idle)
				ops.idle(ctx, ark_now_ns());
			ark_log_flush(ctx->log);
			/* Drained: the stop request is honoured once the input is empty,
			 * the agent before has stopped publishing and nothing of
			 * this agent's is still on its way (a broker's reports). */
			if (ark_agent_stop_requested(ctx) && !(ops.busy && ops.busy(ctx, ark_now_ns())) && ops.drained(ctx))
				break;
			continue;
		}
		if (ops.reserve(ctx, &b))
			break;
		ark_agent_batch_run(ctx, &b);
	}
	if (ops.stop)
		ops.stop(ctx);
	if (ctx->output.ring)
		ark_ring_producer_close(&ctx->output);
	if (ctx->input.ring)
		ark_ring_consumer_close(&ctx->input);
	ctx->ops = NULL;   /* the table with defaults lived on this stack */
	return status;
}

/* ---- Entry point of every agent process ---- */

static const struct ark_agent_ops *const agent_ops[ARK_AGENT_COUNT] = {
	[ARK_AGENT_KYLE] = &ark_kyle_ops,
	[ARK_AGENT_JOEY] = &ark_joey_ops,
	[ARK_AGENT_HRM] = &ark_hrm_ops,
	[ARK_AGENT_KENNY] = &ark_kenny_ops,
	[ARK_AGENT_ALETHEIA] = &ark_aletheia_ops,
};

int ark_agent_run(enum ark_agent agent, const char *instance, const struct ark_agent_options *options)
{
	struct ark_agent_ctx ctx;
	struct ark_err err = {0};
	memset(&ctx, 0, sizeof ctx);
	ctx.agent = agent;
	ctx.lane = options->lane;
	if (ctx.lane != ARK_LANE_STABLE && !agent_ops[agent]->canary_lane) {
		fprintf(stderr, "ark agent %s: only joey, hrm and kenny run in the canary lane\n", ark_agent_file_name(agent));
		return 2;
	}
	ark_process_stop_signals();
	/* Short waits (Aletheia's for a write to complete) wake within a
	 * microsecond of their time instead of the default 50. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	char log_name[32];
	snprintf(log_name, sizeof log_name, "%s%s", ark_agent_file_name(agent), ctx.lane == ARK_LANE_CANARY ? ".canary" : "");
	ctx.log = ark_log_open(log_name, &err);
	if (!ctx.log) {
		fprintf(stderr, "ark agent %s: %s\n", ark_agent_file_name(agent), err.msg);
		return 1;
	}
	int status = 1;
	if (ark_pipeline_attach_wait(&ctx.map, instance, options->wait_segment_s, &err)) {
		ark_log(ctx.log, "error", "cannot attach: %s", err.msg);
		fprintf(stderr, "ark agent %s: %s\n", ark_agent_file_name(agent), err.msg);
		goto done;
	}
	ctx.pipeline = ctx.map.pipeline;
	if (ctx.lane == ARK_LANE_CANARY && !ark_pipeline_has_canary(&ctx.map)) {
		ark_log(ctx.log, "error", "instance %s has no canary lane (start it with ark start --canary)", instance);
		fprintf(stderr, "ark agent %s: instance %s has no canary lane\n", ark_agent_file_name(agent), instance);
		status = 2;
		goto detach;
	}
	ctx.control = ark_pipeline_lane_control(&ctx.map, ctx.lane, agent);
	ctx.counters = ctx.lane == ARK_LANE_CANARY ? &ctx.pipeline->canary_counters : &ctx.pipeline->counters;
	ctx.state = ark_pipeline_lane_agent_state(&ctx.map, ctx.lane, agent);
	ctx.undo = ark_pipeline_lane_agent_undo(&ctx.map, ctx.lane, agent);
	if (ark_ring_wait_from_env(&ctx.wait, &err)) {
		ark_log(ctx.log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark agent %s: %s\n", ark_agent_file_name(agent), err.msg);
		status = 2;
		goto detach;
	}
	if (options->standby_fd >= 0 && !ark_process_standby_wait(ctx.log, options->standby_fd)) {
		status = 0;   /* not needed: the watchdog let it go */
		goto detach;
	}
	if (ark_process_claim(&ctx.map.shm, &ctx.control->pid)) {
		ark_log(ctx.log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving", (int)getpid());
		status = 0;
		goto detach;
	}
	/* The canary lane's agents have CPUs of their own (ARK_CPU_CANARY_JOEY,
	 * ...), unpinned by default: never the stable agent's core. */
	char pin_name[32];
	snprintf(pin_name, sizeof pin_name, "%s%s", ctx.lane == ARK_LANE_CANARY ? "CANARY_" : "", ark_agent_file_name(agent));
	if (ark_process_pin(pin_name, &ctx.control->cpu, &err)) {
		ark_log(ctx.log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark agent %s: %s\n", ark_agent_file_name(agent), err.msg);
		status = 2;
		goto detach;
	}
	atomic_store(&ctx.control->pid, (int32_t)getpid());
	atomic_store(&ctx.control->start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	atomic_store(&ctx.control->heartbeat_ns, ark_now_ns());
	atomic_store(&ctx.control->state, ARK_PROC_STARTING);
	ark_log(ctx.log, "info", "starting pid=%d instance=%s lane=%s cpu=%d wait=%s", (int)getpid(), instance,
		ctx.lane == ARK_LANE_CANARY ? "canary" : "stable", (int)atomic_load(&ctx.control->cpu),
		ark_ring_wait_name(ctx.wait.strategy));
	status = agent_loop(&ctx, agent_ops[agent]);
	atomic_store(&ctx.control->state, status == 0 ? ARK_PROC_EXITED : ARK_PROC_FAILED);
	ark_log(ctx.log, status == 0 ? "info" : "error", "stopped status=%d events=%llu", status,
		(unsigned long long)atomic_load(&ctx.control->events));
detach:
	ark_pipeline_detach(&ctx.map);
done:
	ark_log_flush(ctx.log);
	ark_log_close(ctx.log);
	return status;
}
