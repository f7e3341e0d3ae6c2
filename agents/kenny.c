/* agents/kenny.c — Kenny, execution: sends each allowed intent to the broker
 * and records the fill, its position and realised P&L; passes denied and
 * no-action events on untouched (marked forwarded).
 *
 * Kenny knows brokers only through struct ark_broker_ops (brokers/brokers.h;
 * ARK_BROKER picks one, ark_broker_find): it submits an order and turns the
 * status into the event's exec_status and its own counters, polls the
 * broker between batches, and lets it settle when stopping. A broker that
 * fills at once (paper) answers with the fill; one that answers later
 * (Alpaca) says ACCEPTED and its answers, checked against the order, follow
 * as execution reports that Kyle numbers; when a report reaches Kenny (in
 * sequence order, under the undo log like any event) its fill goes into the
 * position. So the network never holds a ring, and Kenny's positions, like
 * HRM's view, are a function of the journal's order.
 *
 * The client order id is the trace id, so an order resent after a restart
 * (its batch rolled back) is recognised by the broker, never filled twice:
 * Kenny applies the original fill to its restored position instead. A
 * quarantined Kenny sends nothing (fail closed).
 *
 * No fill is applied that could not be one: brokers/book.c checks it against
 * the order (symbol, side, what is left of it, the limit, finite values, a
 * position and P&L that stay finite) before it touches the position; a
 * refused fill is counted as an error. Kenny's state changes only inside the
 * undo bracket: every counter and position is saved before it changes. */
#include "agents/agents_internal.h"

#include <stdlib.h>

static const struct ark_broker_ops *broker;   /* ARK_BROKER's */
static struct ark_broker_host host;           /* what Kenny lends it */

static int kenny_start(struct ark_agent_ctx *ctx, struct ark_err *err)
{
	int rc = ark_broker_find(getenv("ARK_BROKER"), &broker, err);
	if (rc)
		return rc;
	host = (struct ark_broker_host){.log = ctx->log, .map = &ctx->map, .lane = ctx->lane, .wait = &ctx->wait,
				       .control = ctx->control};
	return broker->start(&host, err);
}

static struct ark_kenny_position *position_of(struct ark_kenny_state *s, const struct ark_event *e)
{
	return &s->positions[e->symbol_id < ARK_MAX_SYMBOLS ? e->symbol_id : ARK_MAX_SYMBOLS - 1];
}

/* A fill checked and applied (the position and the scalars saved first);
 * false: refused, nothing applied, counted as an error and logged. */
static bool take_fill(struct ark_agent_ctx *ctx, struct ark_event *e, struct ark_book_order *order,
		      const struct ark_book_fill *fill)
{
	struct ark_kenny_state *s = ctx->state;
	struct ark_kenny_position *pos = position_of(s, e);
	double pnl;
	enum ark_book_refusal why = ark_book_fill(pos, order, fill, &pnl);
	if (why != ARK_BOOK_OK) {
		ark_control_add(&ctx->control->errors, 1);
		ark_log(ctx->log, "error", "fill refused (%s: not a fill of this order a position can take) trace=%016llx "
			"order=%016llx qty=%g price=%g", ark_book_refusal_name(why), (unsigned long long)e->trace_id,
			(unsigned long long)e->client_order_id, fill->quantity, fill->price);
		return false;
	}
	s->fills++;
	s->realized_pnl += pnl;
	ark_control_add(&ctx->counters->fills, 1);
	return true;
}

/* A network broker's execution report, in sequence order: its fill (what it
 * adds to the order's) goes into the position. An anomaly's report applies
 * nothing. */
static void kenny_report(struct ark_agent_ctx *ctx, struct ark_event *e)
{
	struct ark_kenny_state *s = ctx->state;
	struct ark_kenny_position *pos = position_of(s, e);
	if (e->size > 0 && !(e->flags & ARK_EVENT_BROKER_ANOMALY)) {
		/* The report carries the order, the fill it adds (size at price)
		 * and the order's cumulative fill after it. */
		struct ark_book_order order = {.symbol = e->symbol, .side = e->side, .quantity = e->quantity,
					       .limit_price = e->limit_price, .filled = e->filled_quantity - e->size};
		struct ark_book_fill fill = {.symbol = e->symbol, .side = e->side, .quantity = e->size, .price = e->price};
		ark_undo_save(ctx, pos, sizeof *pos);
		ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
		if (!take_fill(ctx, e, &order, &fill)) {
			/* The broker's answers are checked before they become
			 * reports: this is the last guard, never expected. */
			e->exec_status = ARK_EXEC_ANOMALY;
			e->flags |= ARK_EVENT_BROKER_ANOMALY;
		}
	}
	e->position_after = pos->quantity;
	e->realized_pnl_after = pos->realized_pnl;
}

static void count(struct ark_agent_ctx *ctx, uint64_t *counter)
{
	ark_undo_save(ctx, counter, sizeof *counter);
	(*counter)++;
}

static void kenny_process(struct ark_agent_ctx *ctx, struct ark_event *e, uint64_t now_ns)
{
	struct ark_kenny_state *s = ctx->state;
	(void)now_ns;
	if (e->flags & ARK_EVENT_EXEC_REPORT) {
		kenny_report(ctx, e);
		return;
	}
	if (e->verdict != ARK_VERDICT_ALLOW || e->side == ARK_SIDE_NONE) {
		e->exec_status = ARK_EXEC_FORWARDED;
		return;
	}
	bool quarantined = atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed) != 0;
	e->client_order_id = e->trace_id;
	struct ark_broker_answer answer;
	answer.replayed = false;
	switch (broker->submit(&host, e, quarantined, &answer)) {
	case ARK_BROKER_SUPPRESSED:
		e->exec_status = ARK_EXEC_SUPPRESSED;
		e->flags |= ARK_EVENT_QUARANTINED;
		return;
	case ARK_BROKER_WOULD_BLOCK:
		/* Nothing sent: a failed execution, but no order. */
		e->exec_status = ARK_EXEC_REJECTED;
		ark_control_add(&ctx->control->errors, 1);
		return;
	case ARK_BROKER_REJECTED:
		/* A failed execution: it counts toward Kenny's failure rate. */
		e->exec_status = ARK_EXEC_REJECTED;
		count(ctx, &s->orders);
		ark_control_add(&ctx->control->errors, 1);
		return;
	case ARK_BROKER_ACCEPTED:
		/* Its fills come back as reports. A re-delivered order the
		 * broker already has was counted when it was first sent. */
		e->exec_status = ARK_EXEC_SUBMITTED;
		if (answer.replayed) {
			e->flags |= ARK_EVENT_REPLAYED;
			count(ctx, &s->duplicates);
		} else {
			count(ctx, &s->orders);
		}
		return;
	case ARK_BROKER_FILLED:
		break;
	}
	struct ark_kenny_position *pos = position_of(s, e);
	ark_undo_save(ctx, pos, sizeof *pos);
	ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
	s->orders++;
	if (answer.replayed) {
		e->flags |= ARK_EVENT_REPLAYED;
		s->duplicates++;
	}
	struct ark_book_order order = {.symbol = e->symbol, .side = e->side, .quantity = e->quantity,
				       .limit_price = e->limit_price, .filled = 0};
	if (!take_fill(ctx, e, &order, &answer.fill)) {
		e->exec_status = ARK_EXEC_REJECTED;
		return;
	}
	e->exec_status = ARK_EXEC_FILLED;
	e->filled_quantity = answer.fill.quantity;
	e->fill_price = answer.fill.price;
	e->position_after = pos->quantity;
	e->realized_pnl_after = pos->realized_pnl;
}

static void kenny_poll(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	(void)ctx;
	if (broker && broker->poll)
		broker->poll(&host, now_ns);
}

static bool kenny_busy(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	(void)ctx;
	return broker && broker->busy && broker->busy(&host, now_ns);
}

static void kenny_stop(struct ark_agent_ctx *ctx)
{
	(void)ctx;
	if (broker && broker->stop)
		broker->stop(&host);
}

const struct ark_agent_ops ark_kenny_ops = {
	.canary_lane = true,
	.start = kenny_start,
	.process = kenny_process,
	.poll = kenny_poll,
	.busy = kenny_busy,
	.stop = kenny_stop,
};
