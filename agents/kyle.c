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
 * Kyle runs in the runtime's batch loop (ark_kyle_ops): its hooks pick the
 * input (reports, then the sources in turn), reserve one or both lanes, and
 * commit them in the order above.
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

/* Kyle's inputs and outputs, beyond the runtime's ctx->output (the stable
 * lane's Joey). One Kyle per process. */
#define FROM_REPORTS (-1)   /* a batch's source: Kenny's execution reports */
static struct kyle {
	struct ark_ring_consumer sources[ARK_MAX_SOURCES];
	int source_count;
	int next_source;             /* round robin: the source looked at first */
	struct ark_ring_consumer reports;
	bool reports_open;
	struct ark_order_book *book;
	struct ark_ring_producer canary_out;
	bool has_canary;
	bool redo;                   /* the next batch is one a crash interrupted: route it as before */
	struct ark_tick_bounds bounds;
	/* The batch under way. */
	uint32_t percent;            /* its canary share */
	uint32_t out, out_canary;    /* events written to each lane */
	bool last_in_canary;         /* where its last seq went */
	uint64_t last_canary_seq;
} kyle;

/* Died between the two commits of a batch: its other ring's slots are
 * written; commit them, and the batch stands whole. */
static void finish_two_ring_batch(struct ark_agent_ctx *ctx, struct ark_kyle_state *s)
{
	struct ark_ring_producer *rings[ARK_LANE_COUNT] = {&ctx->output, kyle.has_canary ? &kyle.canary_out : NULL};
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

static int open_rings(struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	struct ark_pipeline *p = ctx->pipeline;
	kyle.source_count = p->source_count;
	for (int i = 0; i < kyle.source_count; i++) {
		if (ark_ring_consumer_open(&kyle.sources[i], ark_pipeline_source_ring(&ctx->map, i), &ctx->wait, &err)) {
			ark_log(ctx->log, "error", "cannot open source ring %d: %s", i, err.msg);
			return 1;
		}
	}
	struct ark_ring *report_ring = ark_pipeline_region(&ctx->map, "ring.reports", NULL);
	kyle.book = ark_pipeline_region(&ctx->map, "state.orders", NULL);
	kyle.reports_open = report_ring && ark_ring_consumer_open(&kyle.reports, report_ring, &ctx->wait, &err) == 0;
	if (!kyle.reports_open)
		ark_log(ctx->log, "warn", "no execution report ring: a network broker's reports cannot be numbered");
	if (ark_ring_producer_open(&ctx->output, ark_pipeline_output_ring(&ctx->map, ARK_AGENT_KYLE), &ctx->wait, &err)) {
		ark_log(ctx->log, "error", "cannot open output ring: %s", err.msg);
		return 1;
	}
	struct ark_ring *canary_ring = ark_pipeline_lane_ring(&ctx->map, ARK_LANE_CANARY, ARK_AGENT_KYLE);
	kyle.has_canary = ark_pipeline_has_canary(&ctx->map) && canary_ring;
	if (kyle.has_canary && ark_ring_producer_open(&kyle.canary_out, canary_ring, &ctx->wait, &err)) {
		kyle.has_canary = false;
		ark_log(ctx->log, "error", "cannot open the canary lane's ring: %s", err.msg);
		return 1;
	}
	return 0;
}

/* Rings open, an interrupted batch finished or rolled back, the seq to
 * continue from, the tick bounds. */
static int kyle_open(struct ark_agent_ctx *ctx)
{
	struct ark_kyle_state *s = ctx->state;
	struct ark_pipeline *p = ctx->pipeline;
	memset(&kyle, 0, sizeof kyle);
	int rc = open_rings(ctx);
	if (rc)
		return rc;
	if (s->two_ring_pending)
		finish_two_ring_batch(ctx, s);
	ctx->last_published = ark_agent_last_event_seq(ctx->output.ring);
	if (kyle.has_canary) {
		uint64_t c = ark_agent_last_event_seq(kyle.canary_out.ring);
		if (c > ctx->last_published)
			ctx->last_published = c;
	}
	if (ctx->last_published == 0)
		ctx->last_published = p->base_seq;   /* a new run continues the journal's sequence */
	kyle.redo = false;
	if (ark_undo_recover(ctx, ctx->last_published)) {
		kyle.redo = true;
		ark_control_add(&ctx->control->rollbacks, 1);
		ark_log(ctx->log, "warn", "rolled back an unpublished batch after a restart last_published=%llu",
			(unsigned long long)ctx->last_published);
	}
	if (s->last_seq != ctx->last_published) {
		/* Only possible if the state region was never written: a new run. */
		ark_log(ctx->log, "warn", "state seq %llu differs from the output ring's %llu; using the ring",
			(unsigned long long)s->last_seq, (unsigned long long)ctx->last_published);
		s->last_seq = ctx->last_published;
	}
	char bounds_why[256];
	if (ark_tick_bounds_from_env(&kyle.bounds, bounds_why, sizeof bounds_why)) {
		ark_log(ctx->log, "error", "configuration: %s", bounds_why);
		return 2;
	}
	ark_log(ctx->log, "info", "inputs sources=%d symbols=%u", kyle.source_count, s->symbol_count);
	return 0;
}

/* The canary share for the batch about to be taken (the epoch first: a
 * route read after it is at least that new); with `batch` false, no batch
 * is in flight and the next one reads the route afresh, so the watchdog may
 * count the switch as made. */
static void read_route(struct ark_agent_ctx *ctx, bool batch)
{
	struct ark_canary_control *canary = &ctx->pipeline->canary;
	struct ark_kyle_state *s = ctx->state;
	uint32_t epoch = atomic_load(&canary->route_epoch);
	uint32_t route = atomic_load(&canary->route);
	if (batch) {
		uint32_t percent = atomic_load(&canary->percent);
		s->route_percent = route ? (percent > 100 ? 100 : percent) : 0;
	}
	atomic_store(&canary->route_applied, route);
	atomic_store(&canary->applied_epoch, epoch);
}

/* Execution reports first: they are few, and HRM's view of what the broker
 * confirmed should trail it as little as possible. Then a source with
 * ticks, starting after the last one served; with none anywhere, a timed
 * wait on the first (so the others are looked at again soon). */
static int kyle_take(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	uint32_t nr = kyle.reports_open ? ark_ring_try_peek(&kyle.reports, ARK_PIPELINE_BATCH) : 0;
	if (nr && !kyle.redo) {
		b->input = &kyle.reports;
		b->source = FROM_REPORTS;
		b->n = nr;
		return 0;
	}
	int src = -1;
	uint32_t n = 0;
	for (int k = 0; k < kyle.source_count; k++) {
		int i = (kyle.next_source + k) % kyle.source_count;
		n = ark_ring_try_peek(&kyle.sources[i], ARK_PIPELINE_BATCH);
		if (n) {
			src = i;
			break;
		}
	}
	if (src < 0) {
		if (kyle.has_canary && !kyle.redo)
			read_route(ctx, false);
		uint64_t wait_ns = kyle.source_count > 1 ? 1000 * 1000 : 100 * 1000 * 1000;
		if (ark_ring_peek(&kyle.sources[0], ARK_PIPELINE_BATCH, wait_ns, &n) != 0)
			return 0;
		src = 0;
	}
	kyle.next_source = (src + 1) % kyle.source_count;
	if (kyle.has_canary && !kyle.redo)
		read_route(ctx, true);
	kyle.redo = false;
	kyle.percent = kyle.has_canary ? ((struct ark_kyle_state *)ctx->state)->route_percent : 0;
	b->input = &kyle.sources[src];
	b->source = src;
	b->n = n;
	return 0;
}

/* Room for the whole batch in the stable lane, and (with a canary share)
 * in the canary lane too: the hash decides where each event goes. */
static int kyle_reserve(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	if (ark_agent_reserve(ctx, &ctx->output, &b->n))
		return 1;
	if (b->source != FROM_REPORTS && kyle.percent && ark_agent_reserve(ctx, &kyle.canary_out, &b->n))
		return 1;
	return 0;
}

/* A network broker's execution reports: numbered after everything
 * published so far, stable lane. */
static void report_events(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	struct ark_kyle_state *s = ctx->state;
	struct ark_pipeline *p = ctx->pipeline;
	ark_undo_save(ctx, &s->last_seq, sizeof s->last_seq);
	ark_undo_save(ctx, &s->reports_next_index, sizeof s->reports_next_index);
	uint64_t first_index = kyle.reports.tail;
	uint32_t out = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct ark_event *r = ark_ring_event(&kyle.reports, i);
		if (first_index + i < s->reports_next_index && s->reports_next_index - (first_index + i) <= kyle.reports.capacity) {
			b->duplicates++;   /* numbered before a restart */
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
	kyle.out = out;
	kyle.out_canary = 0;
	kyle.last_in_canary = false;
}

/* A tick no edge should have let through: refused, counted and logged
 * (the first ten, then every thousandth of a kind). */
static void refuse_tick(struct ark_agent_ctx *ctx, const struct ark_tick *tick, enum ark_tick_fault bad,
			const char *field, const char *detail)
{
	struct ark_pipeline *p = ctx->pipeline;
	uint64_t refused = atomic_load(&p->counters.ticks_refused[bad]);
	ark_control_add(&p->counters.ticks_refused[bad], 1);
	if (refused < 10 || refused % 1000 == 0)
		ark_log(ctx->log, "error", "tick refused: no edge should have let it through source=%s "
			"source_seq=%llu symbol=%.15s reason=%s field=%s detail=\"%s\"",
			ark_source_name((enum ark_source_kind)tick->source), (unsigned long long)tick->source_seq,
			tick->symbol, ark_tick_fault_name(bad), field, detail);
}

/* Whether a tick may become an event: injected violations carry absurd
 * values on purpose (HRM denies them); no outside tick may carry a time
 * ahead of the clock (ARK's own generator jumps its market clock past the
 * rate windows on purpose). */
static bool tick_acceptable(struct ark_agent_ctx *ctx, const struct ark_tick *tick, uint64_t wall)
{
	unsigned checks = (tick->flags & ARK_EVENT_INJECTED) ? 0 : ARK_TICK_CHECK_VALUES;
	if (tick->source != ARK_SOURCE_SYNTHETIC)
		checks |= ARK_TICK_CHECK_FUTURE;
	const char *field = "";
	char detail[200];
	enum ark_tick_fault bad = ark_tick_check(&kyle.bounds, tick, wall, checks, &field, detail, sizeof detail);
	if (__builtin_expect(bad == ARK_TICK_OK, 1))
		return true;
	refuse_tick(ctx, tick, bad, field, detail);
	return false;
}

/* A tick becomes the event with the next seq, in the lane its hash picks. */
static void tick_event(struct ark_agent_ctx *ctx, struct ark_kyle_state *s, const struct ark_tick *tick)
{
	struct ark_pipeline *p = ctx->pipeline;
	uint64_t seq = s->last_seq + 1;
	/* A signal from the API already has the trace id its client was given. */
	uint64_t trace_id = tick->source == ARK_SOURCE_API ? ark_trace_id_api(p->node_id, tick->source_seq)
							   : ark_trace_id(p->node_id, seq);
	/* An injected violation is one test case made of several events (setup
	 * steps, then the violation) judged against state they share: the
	 * whole injection takes one lane. */
	bool canary = kyle.percent &&
		      routes_to_canary((tick->flags & ARK_EVENT_INJECTED) ? 0x494e4a0000000000ull | tick->burst : trace_id,
				       kyle.percent);
	kyle.last_in_canary = canary;
	struct ark_event *e = canary ? ark_ring_slot(&kyle.canary_out, kyle.out_canary++)
				     : ark_ring_slot(&ctx->output, kyle.out++);
	memset(e, 0, sizeof *e);
	e->seq = ++s->last_seq;
	e->trace_id = trace_id;
	if (canary)
		kyle.last_canary_seq = e->seq;
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
	e->flags = (uint16_t)(tick->flags | (canary ? ARK_EVENT_CANARY : 0));
	e->injected_kind = tick->injected_kind;
	e->lane = tick->lane;
	e->source_seq = tick->source_seq;
	e->stamp_in_ns[ARK_AGENT_KYLE] = ark_now_ns();
}

static void tick_events(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	struct ark_kyle_state *s = ctx->state;
	int src = b->source;
	struct ark_ring_consumer *in = &kyle.sources[src];
	ark_undo_save(ctx, &s->last_seq, sizeof s->last_seq);
	ark_undo_save(ctx, &s->source_next_index[src], sizeof s->source_next_index[src]);
	uint64_t first_index = in->tail;
	kyle.out = kyle.out_canary = 0;
	kyle.last_in_canary = false;
	kyle.last_canary_seq = 0;
	const uint64_t wall = ark_realtime_ns();
	for (uint32_t i = 0; i < b->n; i++) {
		const struct ark_tick *tick = ark_ring_event(in, i);
		/* Taken before a restart (published, not yet released): by its
		 * place on the ring, whatever the source numbers its ticks. */
		if (first_index + i < s->source_next_index[src] && s->source_next_index[src] - (first_index + i) <= in->capacity) {
			b->duplicates++;
			continue;
		}
		if (tick_acceptable(ctx, tick, wall))
			tick_event(ctx, s, tick);
		s->source_next_index[src] = first_index + i + 1;
	}
}

static void kyle_events(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	if (b->source == FROM_REPORTS)
		report_events(ctx, b);
	else
		tick_events(ctx, b);
	b->out = kyle.out + kyle.out_canary;
}

/* Stamp out and commit. With both lanes in the batch, the ring holding its
 * last seq goes last (see the top), and the heads both rings must reach
 * are noted first, so a crash between the two commits is finished at start. */
static bool kyle_publish(struct ark_agent_ctx *ctx, struct ark_agent_batch *b, uint64_t end_ns)
{
	struct ark_kyle_state *s = ctx->state;
	uint32_t out = kyle.out, out_canary = kyle.out_canary;
	if (!b->out)
		return false;
	for (uint32_t i = 0; i < out; i++)
		((struct ark_event *)ark_ring_slot(&ctx->output, i))->stamp_out_ns[ARK_AGENT_KYLE] = end_ns;
	for (uint32_t i = 0; i < out_canary; i++)
		((struct ark_event *)ark_ring_slot(&kyle.canary_out, i))->stamp_out_ns[ARK_AGENT_KYLE] = end_ns;
	ark_undo_set_commit(ctx, s->last_seq);
	ctx->last_published = s->last_seq;
	if (out && out_canary) {
		s->two_ring_head[ARK_LANE_STABLE] = ctx->output.head + out;
		s->two_ring_head[ARK_LANE_CANARY] = kyle.canary_out.head + out_canary;
		atomic_signal_fence(memory_order_seq_cst);
		s->two_ring_pending = 1;
	}
	if (kyle.last_in_canary) {
		if (out)
			ark_ring_commit(&ctx->output, out);
		ark_ring_commit(&kyle.canary_out, out_canary);
	} else {
		if (out_canary)
			ark_ring_commit(&kyle.canary_out, out_canary);
		ark_ring_commit(&ctx->output, out);
	}
	s->two_ring_pending = 0;
	if (b->source == FROM_REPORTS)
		ark_control_add(&ctx->pipeline->counters.broker_reports, out);
	if (out_canary) {
		ark_control_add(&ctx->pipeline->canary.routed, out_canary);
		atomic_store(&ctx->pipeline->canary.last_routed_seq, kyle.last_canary_seq);
	}
	return true;
}

/* Stopping: every report taken, and Kenny's orders in flight settled. */
static bool kyle_drained(struct ark_agent_ctx *ctx)
{
	return (!kyle.reports_open || ark_ring_try_peek(&kyle.reports, 1) == 0) && !broker_settling(ctx, kyle.book);
}

static void kyle_stop(struct ark_agent_ctx *ctx)
{
	(void)ctx;
	if (kyle.reports_open)
		ark_ring_consumer_close(&kyle.reports);
	if (kyle.has_canary)
		ark_ring_producer_close(&kyle.canary_out);
	for (int i = 0; i < kyle.source_count; i++)
		ark_ring_consumer_close(&kyle.sources[i]);
}

const struct ark_agent_ops ark_kyle_ops = {
	.open = kyle_open,
	.take = kyle_take,
	.reserve = kyle_reserve,
	.events = kyle_events,
	.publish = kyle_publish,
	.drained = kyle_drained,
	.stop = kyle_stop,
};
