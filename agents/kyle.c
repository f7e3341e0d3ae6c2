/* agents/kyle.c — Kyle, ingest: takes ticks from every source's inbound ring
 * (round robin, a batch at a time), turns each into an event with the
 * instance's next sequence number, its trace id and a symbol id, and
 * publishes it to Joey.
 *
 * With a canary lane, Kyle sends the canary's share of events (by a hash of
 * the trace id) to the canary Joey instead. The route is read once per batch
 * and kept in the state, so a batch redone after a crash goes the same way;
 * of the two rings, the one holding the batch's last seq is committed last,
 * so "published" (the higher last seq of the two) means the whole batch is.
 *
 * A network broker's execution reports (Kenny's ring.reports) are numbered
 * here like ticks, ahead of the sources, and always take the stable lane:
 * so each report reaches HRM and Kenny in a sequence order the journal
 * records, and HRM's view of confirmed positions is a function of the
 * journal alone. When the pipeline stops, Kyle stops only once Kenny has
 * settled its orders in flight (book.settling) and every report is taken.
 *
 * Kyle is also the backstop of the edges' bounds (event.h): a tick whose
 * price, size or time no edge should have let through is refused here,
 * counted (ticks_refused) and logged, never turned into an event, so that a
 * source that forgets the check cannot poison the agents' state.
 *
 * Invariants: sequence numbers are consecutive over Kyle's output ring(s); a
 * tick (or report) is taken at most once (its place on its ring is
 * remembered with the batch that published it); symbol ids never change
 * once given. */
#include "agents/agents_internal.h"

#include <errno.h>
#include <string.h>

#define OVERFLOW_SYMBOL_ID (ARK_MAX_SYMBOLS - 1)

static uint32_t symbol_hash(const char *symbol)
{
	uint64_t a, b;
	memcpy(&a, symbol, 8);
	memcpy(&b, symbol + 8, 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	return (uint32_t)(h >> 40);
}

/* The symbol's id, giving it the next one on first sight. Symbols are stored
 * NUL-padded to ARK_SYMBOL_MAX so a compare is two 64-bit compares. */
static uint32_t symbol_id(struct ark_agent_ctx *ctx, struct ark_kyle_state *s, const char *symbol)
{
	uint32_t slot = symbol_hash(symbol) & (ARK_SYMBOL_SLOTS - 1);
	for (;;) {
		uint16_t entry = s->slots[slot];
		if (entry == 0)
			break;
		if (memcmp(s->symbols[entry - 1], symbol, ARK_SYMBOL_MAX) == 0)
			return entry - 1u;
		slot = (slot + 1) & (ARK_SYMBOL_SLOTS - 1);
	}
	if (s->symbol_count >= OVERFLOW_SYMBOL_ID) {
		ark_undo_save(ctx, &s->symbol_table_full, sizeof s->symbol_table_full);
		if (s->symbol_table_full++ == 0)
			ark_log(ctx->log, "error", "symbol table full: further new symbols share id %u and are never traded symbol=%.15s",
				OVERFLOW_SYMBOL_ID, symbol);
		return OVERFLOW_SYMBOL_ID;
	}
	uint32_t id = s->symbol_count;
	ark_undo_save(ctx, &s->symbols[id], sizeof s->symbols[id]);
	ark_undo_save(ctx, &s->slots[slot], sizeof s->slots[slot]);
	ark_undo_save(ctx, &s->symbol_count, sizeof s->symbol_count);
	memcpy(s->symbols[id], symbol, ARK_SYMBOL_MAX);
	s->slots[slot] = (uint16_t)(id + 1);
	s->symbol_count = id + 1;
	return id;
}

/* Which lane an event takes: a stable hash of its trace id against the share. */
static bool routes_to_canary(uint64_t trace_id, uint32_t percent)
{
	uint64_t h = trace_id * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h % 100 < percent;
}

/* One batch of execution reports from Kenny: numbered after everything
 * published so far, stable lane. 0, or 1 when it could not publish (Kyle is
 * stopping). */
static int reports_batch(struct ark_agent_ctx *ctx, struct ark_ring_consumer *reports, uint32_t n)
{
	struct ark_kyle_state *s = ctx->state;
	struct ark_pipeline *p = ctx->pipeline;
	struct ark_agent_control *control = ctx->control;
	uint32_t room;
	while (ark_ring_reserve(&ctx->output, n, 100 * 1000 * 1000, &room) != 0) {
		atomic_store_explicit(&control->heartbeat_ns, ark_now_ns(), memory_order_relaxed);
		if (ark_agent_stop_requested(ctx) && atomic_load(&p->stop))
			return 1;
	}
	if (room < n)
		n = room;
	uint64_t start = ark_now_ns();
	ark_undo_begin(ctx, n);
	ark_undo_save(ctx, &s->last_seq, sizeof s->last_seq);
	ark_undo_save(ctx, &s->reports_next_index, sizeof s->reports_next_index);
	uint64_t first_index = reports->tail;
	uint32_t out = 0;
	uint64_t duplicates = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct ark_event *r = ark_ring_event(reports, i);
		if (first_index + i < s->reports_next_index && s->reports_next_index - (first_index + i) <= reports->capacity) {
			duplicates++;   /* numbered before a restart */
			continue;
		}
		struct ark_event *e = ark_ring_slot(&ctx->output, out++);
		memcpy(e, r, sizeof *e);
		e->seq = ++s->last_seq;
		e->trace_id = ark_trace_id(p->node_id, e->seq);
		e->node_id = p->node_id;
		e->source = ARK_SOURCE_BROKER;
		e->flags = (uint16_t)((e->flags | ARK_EVENT_EXEC_REPORT) & ~ARK_EVENT_CANARY);
		e->symbol[ARK_SYMBOL_MAX - 1] = '\0';
		if (e->symbol_id >= ARK_MAX_SYMBOLS)
			e->symbol_id = ARK_MAX_SYMBOLS - 1;
		memset(e->stamp_in_ns, 0, sizeof e->stamp_in_ns);
		memset(e->stamp_out_ns, 0, sizeof e->stamp_out_ns);
		e->stamp_in_ns[ARK_AGENT_KYLE] = ark_now_ns();
		s->reports_next_index = first_index + i + 1;
	}
	uint64_t end = ark_now_ns();
	if (out) {
		for (uint32_t i = 0; i < out; i++)
			((struct ark_event *)ark_ring_slot(&ctx->output, i))->stamp_out_ns[ARK_AGENT_KYLE] = end;
		ark_undo_set_commit(ctx, s->last_seq);
		ctx->last_published = s->last_seq;
		ark_ring_commit(&ctx->output, out);
	}
	ark_undo_end(ctx);
	ark_ring_release(reports, n);
	ark_control_add(&control->events, out);
	ark_control_add(&p->counters.broker_reports, out);
	ark_control_add(&control->duplicates, duplicates);
	ark_control_add(&control->busy_ns, end - start);
	atomic_store_explicit(&control->last_seq, s->last_seq, memory_order_relaxed);
	return 0;
}

/* Kenny settles a network broker's orders before it stops: until it says it
 * has (settling 2), their reports may still come (unless Kenny is gone or
 * silent). Without a network broker there is nothing to wait for. */
static bool broker_settling(const struct ark_agent_ctx *ctx, const struct ark_order_book *book)
{
	if (!book || !atomic_load(&book->broker_active) || atomic_load(&book->settling) == 2)
		return false;
	const struct ark_agent_control *kenny = &ctx->pipeline->agents[ARK_AGENT_KENNY];
	uint64_t beat = atomic_load_explicit(&kenny->heartbeat_ns, memory_order_relaxed);
	return atomic_load(&kenny->state) == ARK_PROC_RUNNING && ark_now_ns() < beat + 2000ull * 1000 * 1000;
}

int ark_kyle_main(struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	struct ark_kyle_state *s = ctx->state;
	struct ark_pipeline *p = ctx->pipeline;
	struct ark_agent_control *control = ctx->control;
	struct ark_ring_consumer sources[ARK_MAX_SOURCES];
	int source_count = p->source_count;
	for (int i = 0; i < source_count; i++) {
		if (ark_ring_consumer_open(&sources[i], ark_pipeline_source_ring(&ctx->map, i), &ctx->wait, &err)) {
			ark_log(ctx->log, "error", "cannot open source ring %d: %s", i, err.msg);
			return 1;
		}
	}
	struct ark_ring *report_ring = ark_pipeline_region(&ctx->map, "ring.reports", NULL);
	struct ark_order_book *book = ark_pipeline_region(&ctx->map, "state.orders", NULL);
	struct ark_ring_consumer reports;
	bool reports_open = report_ring && ark_ring_consumer_open(&reports, report_ring, &ctx->wait, &err) == 0;
	if (!reports_open)
		ark_log(ctx->log, "warn", "no execution report ring: a network broker's reports cannot be numbered");
	struct ark_ring *out_ring = ark_pipeline_output_ring(&ctx->map, ARK_AGENT_KYLE);
	if (ark_ring_producer_open(&ctx->output, out_ring, &ctx->wait, &err)) {
		ark_log(ctx->log, "error", "cannot open output ring: %s", err.msg);
		return 1;
	}
	struct ark_canary_control *canary = &p->canary;
	struct ark_ring *canary_ring = ark_pipeline_lane_ring(&ctx->map, ARK_LANE_CANARY, ARK_AGENT_KYLE);
	struct ark_ring_producer canary_out;
	bool has_canary = ark_pipeline_has_canary(&ctx->map) && canary_ring;
	if (has_canary && ark_ring_producer_open(&canary_out, canary_ring, &ctx->wait, &err)) {
		ark_log(ctx->log, "error", "cannot open the canary lane's ring: %s", err.msg);
		return 1;
	}
	if (s->two_ring_pending) {
		/* Died between the two commits of a batch: its other ring's slots
		 * are written; commit them, and the batch stands whole. */
		struct ark_ring_producer *rings[ARK_LANE_COUNT] = {&ctx->output, has_canary ? &canary_out : NULL};
		for (int l = 0; l < ARK_LANE_COUNT; l++) {
			if (!rings[l] || rings[l]->head >= s->two_ring_head[l])
				continue;
			uint32_t n = (uint32_t)(s->two_ring_head[l] - rings[l]->head);
			if (ark_ring_try_reserve(rings[l], n) == n) {
				ark_ring_commit(rings[l], n);
				ark_log(ctx->log, "warn", "committed the %s ring's %u events of a batch interrupted between its two commits",
					l ? "canary" : "stable", n);
			}
		}
		s->two_ring_pending = 0;
	}
	ctx->last_published = ark_agent_last_event_seq(out_ring);
	if (has_canary) {
		uint64_t c = ark_agent_last_event_seq(canary_ring);
		if (c > ctx->last_published)
			ctx->last_published = c;
	}
	if (ctx->last_published == 0)
		ctx->last_published = p->base_seq;   /* a new run continues the journal's sequence */
	bool redo = false;   /* the first batch is one a crash interrupted: route it as before */
	if (ark_undo_recover(ctx, ctx->last_published)) {
		redo = true;
		ark_control_add(&control->rollbacks, 1);
		ark_log(ctx->log, "warn", "rolled back an unpublished batch after a restart last_published=%llu",
			(unsigned long long)ctx->last_published);
	}
	if (s->last_seq != ctx->last_published) {
		/* Only possible if the state region was never written: a new run. */
		ark_log(ctx->log, "warn", "state seq %llu differs from the output ring's %llu; using the ring",
			(unsigned long long)s->last_seq, (unsigned long long)ctx->last_published);
		s->last_seq = ctx->last_published;
	}
	atomic_store(&control->last_seq, s->last_seq);
	atomic_store(&control->state, ARK_PROC_RUNNING);
	ark_log(ctx->log, "info", "running last_seq=%llu sources=%d symbols=%u", (unsigned long long)s->last_seq,
		source_count, s->symbol_count);
	ark_log_flush(ctx->log);

	struct ark_tick_bounds bounds;
	char bounds_why[256];
	if (ark_tick_bounds_from_env(&bounds, bounds_why, sizeof bounds_why)) {
		ark_log(ctx->log, "error", "configuration: %s", bounds_why);
		return 2;
	}
	int next_source = 0;
	for (;;) {
		uint64_t now = ark_now_ns();
		atomic_store_explicit(&control->heartbeat_ns, now, memory_order_relaxed);
		/* Execution reports first: they are few, and HRM's view of what
		 * the broker confirmed should trail it as little as possible. */
		uint32_t nr = reports_open ? ark_ring_try_peek(&reports, ARK_PIPELINE_BATCH) : 0;
		if (nr && !redo) {
			if (reports_batch(ctx, &reports, nr))
				goto out;
			continue;
		}
		/* Find a source with ticks, starting after the last one served. */
		int src = -1;
		uint32_t n = 0;
		for (int k = 0; k < source_count; k++) {
			int i = (next_source + k) % source_count;
			n = ark_ring_try_peek(&sources[i], ARK_PIPELINE_BATCH);
			if (n) {
				src = i;
				break;
			}
		}
		if (src < 0) {
			if (ark_agent_stop_requested(ctx) && (!reports_open || ark_ring_try_peek(&reports, 1) == 0) &&
			    !broker_settling(ctx, book))
				break;
			/* No batch in flight: the next one reads the route afresh,
			 * so the watchdog may count the switch as made. */
			if (has_canary && !redo) {
				uint32_t epoch = atomic_load(&canary->route_epoch);
				atomic_store(&canary->route_applied, atomic_load(&canary->route));
				atomic_store(&canary->applied_epoch, epoch);
			}
			/* Nothing anywhere: wait on the first source (timed, so the
			 * others are looked at again soon). */
			uint64_t wait_ns = source_count > 1 ? 1000 * 1000 : 100 * 1000 * 1000;
			if (ark_ring_peek(&sources[0], ARK_PIPELINE_BATCH, wait_ns, &n) != 0) {
				ark_log_flush(ctx->log);
				continue;
			}
			src = 0;
		}
		next_source = (src + 1) % source_count;
		if (has_canary && !redo) {
			/* The epoch first: a route read after it is at least that new. */
			uint32_t epoch = atomic_load(&canary->route_epoch);
			uint32_t route = atomic_load(&canary->route);
			uint32_t percent = atomic_load(&canary->percent);
			s->route_percent = route ? (percent > 100 ? 100 : percent) : 0;
			atomic_store(&canary->route_applied, route);
			atomic_store(&canary->applied_epoch, epoch);
		}
		redo = false;
		uint32_t percent = has_canary ? s->route_percent : 0;
		uint32_t room;
		while (ark_ring_reserve(&ctx->output, n, 100 * 1000 * 1000, &room) != 0) {
			atomic_store_explicit(&control->heartbeat_ns, ark_now_ns(), memory_order_relaxed);
			if (ark_agent_stop_requested(ctx) && atomic_load(&p->stop))
				goto out;
		}
		if (room < n)
			n = room;
		if (percent) {
			/* Room for the whole batch in either lane: the hash decides. */
			while (ark_ring_reserve(&canary_out, n, 100 * 1000 * 1000, &room) != 0) {
				atomic_store_explicit(&control->heartbeat_ns, ark_now_ns(), memory_order_relaxed);
				if (ark_agent_stop_requested(ctx) && atomic_load(&p->stop))
					goto out;
			}
			if (room < n)
				n = room;
		}
		uint64_t start = ark_now_ns();
		ark_undo_begin(ctx, n);
		ark_undo_save(ctx, &s->last_seq, sizeof s->last_seq);
		ark_undo_save(ctx, &s->source_next_index[src], sizeof s->source_next_index[src]);
		uint64_t first_index = sources[src].tail;
		uint32_t out = 0, out_canary = 0;
		bool last_in_canary = false;
		uint64_t last_canary_seq = 0;
		uint64_t duplicates = 0;
		const uint64_t wall = ark_realtime_ns();
		for (uint32_t i = 0; i < n; i++) {
			const struct ark_tick *tick = ark_ring_event(&sources[src], i);
			/* Taken before a restart (published, not yet released): by its
			 * place on the ring, whatever the source numbers its ticks. */
			if (first_index + i < s->source_next_index[src] &&
			    s->source_next_index[src] - (first_index + i) <= sources[src].capacity) {
				duplicates++;
				continue;
			}
			/* Injected violations carry absurd values on purpose (HRM
			 * denies them); no outside tick may carry a time ahead of
			 * the clock (ARK's own generator jumps its market clock
			 * past the rate windows on purpose). */
			unsigned checks = (tick->flags & ARK_EVENT_INJECTED) ? 0 : ARK_TICK_CHECK_VALUES;
			if (tick->source != ARK_SOURCE_SYNTHETIC)
				checks |= ARK_TICK_CHECK_FUTURE;
			const char *field = "";
			char detail[200];
			enum ark_tick_fault bad = ark_tick_check(&bounds, tick, wall, checks, &field, detail, sizeof detail);
			if (__builtin_expect(bad != ARK_TICK_OK, 0)) {
				uint64_t refused = atomic_load(&p->counters.ticks_refused[bad]);
				ark_control_add(&p->counters.ticks_refused[bad], 1);
				if (refused < 10 || refused % 1000 == 0)
					ark_log(ctx->log, "error", "tick refused: no edge should have let it through source=%s "
						"source_seq=%llu symbol=%.15s reason=%s field=%s detail=\"%s\"",
						ark_source_name((enum ark_source_kind)tick->source),
						(unsigned long long)tick->source_seq, tick->symbol, ark_tick_fault_name(bad), field,
						detail);
				s->source_next_index[src] = first_index + i + 1;
				continue;
			}
			uint64_t seq = s->last_seq + 1;
			/* A signal from the API already has the trace id its client was given. */
			uint64_t trace_id = tick->source == ARK_SOURCE_API ? ark_trace_id_api(p->node_id, tick->source_seq)
									   : ark_trace_id(p->node_id, seq);
			/* An injected violation is one test case made of several
			 * events (setup steps, then the violation) judged against
			 * state they share: the whole injection takes one lane. */
			last_in_canary = percent && routes_to_canary((tick->flags & ARK_EVENT_INJECTED)
									     ? 0x494e4a0000000000ull | tick->burst
									     : trace_id,
								     percent);
			struct ark_event *e = last_in_canary ? ark_ring_slot(&canary_out, out_canary++)
							     : ark_ring_slot(&ctx->output, out++);
			memset(e, 0, sizeof *e);
			e->seq = ++s->last_seq;
			e->trace_id = trace_id;
			if (last_in_canary)
				last_canary_seq = e->seq;
			e->node_id = p->node_id;
			e->exchange_time_ns = tick->exchange_time_ns;
			e->price = tick->price;
			e->size = tick->size;
			memcpy(e->symbol, tick->symbol, ARK_SYMBOL_MAX);
			e->symbol[ARK_SYMBOL_MAX - 1] = '\0';
			/* NUL-pad so the symbol compares as fixed-size bytes. */
			size_t len = strnlen(e->symbol, ARK_SYMBOL_MAX);
			memset(e->symbol + len, 0, ARK_SYMBOL_MAX - len);
			e->symbol_id = symbol_id(ctx, s, e->symbol);
			e->source = tick->source;
			e->flags = (uint16_t)(tick->flags | (last_in_canary ? ARK_EVENT_CANARY : 0));
			e->injected_kind = tick->injected_kind;
			e->lane = tick->lane;
			e->source_seq = tick->source_seq;
			e->stamp_in_ns[ARK_AGENT_KYLE] = ark_now_ns();
			s->source_next_index[src] = first_index + i + 1;
		}
		uint64_t end = ark_now_ns();
		if (out || out_canary) {
			for (uint32_t i = 0; i < out; i++)
				((struct ark_event *)ark_ring_slot(&ctx->output, i))->stamp_out_ns[ARK_AGENT_KYLE] = end;
			for (uint32_t i = 0; i < out_canary; i++)
				((struct ark_event *)ark_ring_slot(&canary_out, i))->stamp_out_ns[ARK_AGENT_KYLE] = end;
			ark_undo_set_commit(ctx, s->last_seq);
			ctx->last_published = s->last_seq;
			if (out && out_canary) {
				s->two_ring_head[ARK_LANE_STABLE] = ctx->output.head + out;
				s->two_ring_head[ARK_LANE_CANARY] = canary_out.head + out_canary;
				atomic_signal_fence(memory_order_seq_cst);
				s->two_ring_pending = 1;
			}
			/* The ring with the batch's last seq goes last (see the top). */
			if (last_in_canary) {
				if (out)
					ark_ring_commit(&ctx->output, out);
				ark_ring_commit(&canary_out, out_canary);
			} else {
				if (out_canary)
					ark_ring_commit(&canary_out, out_canary);
				ark_ring_commit(&ctx->output, out);
			}
			s->two_ring_pending = 0;
			if (out_canary) {
				ark_control_add(&canary->routed, out_canary);
				atomic_store(&canary->last_routed_seq, last_canary_seq);
			}
		}
		ark_undo_end(ctx);
		ark_ring_release(&sources[src], n);
		out += out_canary;
		ark_control_add(&control->events, out);
		ark_control_add(&control->duplicates, duplicates);
		ark_control_add(&control->busy_ns, end - start);
		uint64_t per_event = out ? (end - start) / out : 0;
		atomic_store_explicit(&control->last_latency_ns, per_event, memory_order_relaxed);
		if (per_event > atomic_load_explicit(&control->worst_latency_ns, memory_order_relaxed))
			atomic_store_explicit(&control->worst_latency_ns, per_event, memory_order_relaxed);
		atomic_store_explicit(&control->last_seq, s->last_seq, memory_order_relaxed);
	}
out:
	if (reports_open)
		ark_ring_consumer_close(&reports);
	if (has_canary)
		ark_ring_producer_close(&canary_out);
	ark_ring_producer_close(&ctx->output);
	for (int i = 0; i < source_count; i++)
		ark_ring_consumer_close(&sources[i]);
	return 0;
}
