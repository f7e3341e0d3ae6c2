/* agents/kenny.c — Kenny, execution: sends each allowed intent to the broker
 * and records the fill, its position and realised P&L; passes denied and
 * no-action events on untouched (marked forwarded).
 *
 * The client order id is the trace id, so an order resent after a restart
 * (its batch rolled back) is recognised by the broker, never filled twice:
 * Kenny applies the original fill to its restored position instead. A
 * quarantined Kenny sends nothing (fail closed).
 *
 * ARK_BROKER=alpaca sends orders to Alpaca instead (brokers/alpaca_client.c):
 * the event goes on SUBMITTED at once and the broker's answer, checked
 * against the order, follows as an execution report that Kyle numbers; when
 * the report reaches Kenny (in sequence order, under the undo log like any
 * event) its fill goes into the position. So the network never holds a
 * ring, and Kenny's positions, like HRM's view, are a function of the
 * journal's order.
 *
 * No fill is applied that could not be one: a quantity or price that is not
 * finite and positive, or a position, notional or P&L that would stop being
 * finite (ark_kenny_fill_acceptable), is refused and counted as an error. */
#include "agents/agents_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool ark_kenny_fill_acceptable(const struct ark_kenny_position *pos, double signed_qty, double price)
{
	if (!isfinite(signed_qty) || signed_qty == 0 || fabs(signed_qty) > ARK_KENNY_MAX_FILL_QTY ||
	    !isfinite(price) || !(price > 0) || price > ARK_KENNY_MAX_FILL_PRICE)
		return false;
	/* What applying it would make must stay finite (and the position
	 * within the largest one a fill may build). */
	double q = pos->quantity + signed_qty;
	double notional = fabs(q) * fmax(price, fabs(pos->average_price));
	double pnl = pos->realized_pnl + fabs(signed_qty) * (price + fabs(pos->average_price));
	return isfinite(q) && fabs(q) <= ARK_KENNY_MAX_FILL_QTY && isfinite(notional) && isfinite(pnl);
}

void ark_kenny_apply_fill(struct ark_kenny_position *pos, double signed_qty, double price)
{
	double q = pos->quantity;
	if (q == 0 || (q > 0) == (signed_qty > 0)) {
		double total = fabs(q) + fabs(signed_qty);
		pos->average_price = total > 0 ? (pos->average_price * fabs(q) + price * fabs(signed_qty)) / total : 0;
		pos->quantity = q + signed_qty;
	} else {
		double closed = fmin(fabs(signed_qty), fabs(q));
		pos->realized_pnl += closed * (price - pos->average_price) * (q > 0 ? 1 : -1);
		pos->quantity = q + signed_qty;
		if (fabs(pos->quantity) < 1e-9)
			pos->quantity = 0, pos->average_price = 0;
		else if ((pos->quantity > 0) != (q > 0))
			pos->average_price = price;   /* flipped: the rest opened at this price */
	}
	pos->fills++;
}

static const struct ark_broker_ops *broker_ops;
static struct ark_broker_state *paper_venue;   /* this lane's book */
static bool alpaca;
static struct ark_broker_host host;            /* what Kenny lends the Alpaca broker */

static void kenny_undo_save(void *kenny, const void *ptr, size_t len)
{
	ark_undo_save(kenny, ptr, len);
}

static int kenny_start(struct ark_agent_ctx *ctx, struct ark_err *err)
{
	const char *name = getenv("ARK_BROKER");
	if (name && strcmp(name, "alpaca") == 0) {
		alpaca = true;
		struct ark_kenny_state *s = ctx->state;
		host = (struct ark_broker_host){.log = ctx->log, .map = &ctx->map, .lane = ctx->lane, .wait = &ctx->wait,
					       .control = ctx->control, .orders = &s->orders,
					       .duplicates = &s->duplicates, .save = kenny_undo_save, .kenny = ctx};
		return ark_broker_alpaca_start(&host, err);
	}
	if (!name || !*name || strcmp(name, "paper") == 0)
		broker_ops = &ark_broker_paper;
	else
		return ark_err_set(err, -EINVAL, "ARK_BROKER: expected paper or alpaca, got '%.32s'", name);
	struct ark_broker_state *broker = paper_venue = ark_agent_region(ctx, "state.broker");
	if (!broker)
		return ark_err_set(err, -EPROTO, "the segment has no paper venue for this lane");
	uint64_t latency_us;
	int rc = ark_env_u64("ARK_PAPER_LATENCY_US", 0, 0, 10 * 1000 * 1000, &latency_us, err);
	if (rc)
		return rc;
	broker->latency_ns = latency_us * 1000;
	double reject = 0;
	const char *rate = getenv("ARK_PAPER_REJECT_RATE");
	if (rate && *rate && (rc = ark_parse_double(rate, 0, 1, "ARK_PAPER_REJECT_RATE", &reject, err)))
		return rc;
	broker->reject_per_10k = (uint32_t)(reject * 10000 + 0.5);
	ark_log(ctx->log, "info", "broker=paper latency_us=%llu reject_rate=%g orders_on_book=%llu",
		(unsigned long long)latency_us, reject, (unsigned long long)broker->orders);
	return 0;
}

/* A network broker's execution report, in sequence order: its fill (what it
 * adds to the order's) goes into the position. An anomaly's report applies
 * nothing. */
static void kenny_report(struct ark_agent_ctx *ctx, struct ark_event *e)
{
	struct ark_kenny_state *s = ctx->state;
	uint32_t id = e->symbol_id < ARK_MAX_SYMBOLS ? e->symbol_id : ARK_MAX_SYMBOLS - 1;
	struct ark_kenny_position *pos = &s->positions[id];
	if (e->size > 0 && !(e->flags & ARK_EVENT_BROKER_ANOMALY)) {
		double signed_qty = e->side == ARK_SIDE_BUY ? e->size : -e->size;
		if (ark_kenny_fill_acceptable(pos, signed_qty, e->price)) {
			ark_undo_save(ctx, pos, sizeof *pos);
			ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
			double before = pos->realized_pnl;
			ark_kenny_apply_fill(pos, signed_qty, e->price);
			s->fills++;
			s->realized_pnl += pos->realized_pnl - before;
			ark_control_add(&ctx->counters->fills, 1);
		} else {
			/* The broker's answers are checked before they become
			 * reports: this is the last guard, never expected. */
			e->exec_status = ARK_EXEC_ANOMALY;
			e->flags |= ARK_EVENT_BROKER_ANOMALY;
			ark_control_add(&ctx->control->errors, 1);
			ark_log(ctx->log, "error", "fill refused (not a fill a position can take) trace=%016llx order=%016llx "
				"qty=%g price=%g", (unsigned long long)e->trace_id, (unsigned long long)e->client_order_id,
				e->size, e->price);
		}
	}
	e->position_after = pos->quantity;
	e->realized_pnl_after = pos->realized_pnl;
}

static void kenny_process(struct ark_agent_ctx *ctx, struct ark_event *e, uint64_t now_ns)
{
	struct ark_kenny_state *s = ctx->state;
	if (e->flags & ARK_EVENT_EXEC_REPORT) {
		kenny_report(ctx, e);
		return;
	}
	if (e->verdict != ARK_VERDICT_ALLOW || e->side == ARK_SIDE_NONE) {
		e->exec_status = ARK_EXEC_FORWARDED;
		return;
	}
	bool quarantined = atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed) != 0;
	if (quarantined && !alpaca) {
		e->exec_status = ARK_EXEC_SUPPRESSED;
		e->flags |= ARK_EVENT_QUARANTINED;
		return;
	}
	e->client_order_id = e->trace_id;
	if (alpaca) {
		ark_broker_alpaca_submit(&host, e, quarantined);
		return;
	}
	struct ark_broker_state *broker = paper_venue;
	if (broker->latency_ns) {
		/* The paper venue acknowledges after its simulated latency. */
		struct timespec ts = {(time_t)(broker->latency_ns / 1000000000u), (long)(broker->latency_ns % 1000000000u)};
		nanosleep(&ts, NULL);
	}
	(void)now_ns;
	double qty = 0, price = 0;
	enum ark_broker_result r = broker_ops->submit(broker, e->client_order_id, e->side, e->quantity,
						      e->limit_price, &qty, &price);
	if (r == ARK_BROKER_REJECTED) {
		/* A failed execution: it counts toward Kenny's failure rate. */
		e->exec_status = ARK_EXEC_REJECTED;
		ark_undo_save(ctx, &s->orders, sizeof s->orders);
		s->orders++;
		ark_control_add(&ctx->control->errors, 1);
		ark_log(ctx->log, "warn", "order rejected by the paper broker trace=%016llx symbol=%s",
			(unsigned long long)e->trace_id, e->symbol);
		return;
	}
	if (r == ARK_BROKER_DUPLICATE) {
		e->flags |= ARK_EVENT_REPLAYED;
		ark_undo_save(ctx, &s->duplicates, sizeof s->duplicates);
		s->duplicates++;
	}
	uint32_t id = e->symbol_id < ARK_MAX_SYMBOLS ? e->symbol_id : ARK_MAX_SYMBOLS - 1;
	struct ark_kenny_position *pos = &s->positions[id];
	double signed_qty = e->side == ARK_SIDE_BUY ? qty : -qty;
	if (!ark_kenny_fill_acceptable(pos, signed_qty, price)) {
		e->exec_status = ARK_EXEC_REJECTED;
		ark_undo_save(ctx, &s->orders, sizeof s->orders);
		s->orders++;
		ark_control_add(&ctx->control->errors, 1);
		ark_log(ctx->log, "error", "fill refused (not a fill a position can take) trace=%016llx qty=%g price=%g",
			(unsigned long long)e->trace_id, qty, price);
		return;
	}
	ark_undo_save(ctx, pos, sizeof *pos);
	ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
	double before = pos->realized_pnl;
	ark_kenny_apply_fill(pos, signed_qty, price);
	s->orders++;
	s->fills++;
	s->realized_pnl += pos->realized_pnl - before;
	e->exec_status = ARK_EXEC_FILLED;
	e->filled_quantity = qty;
	e->fill_price = price;
	e->position_after = pos->quantity;
	e->realized_pnl_after = pos->realized_pnl;
	ark_control_add(&ctx->counters->fills, 1);
}

static void kenny_poll(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	if (alpaca)
		ark_broker_alpaca_poll(&host, now_ns);
}

static bool kenny_busy(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	return alpaca && ark_broker_alpaca_busy(&host, now_ns);
}

static void kenny_stop(struct ark_agent_ctx *ctx)
{
	if (alpaca)
		ark_broker_alpaca_stop(&host);
}

const struct ark_agent_ops ark_kenny_ops = {
	.canary_lane = true,
	.start = kenny_start,
	.process = kenny_process,
	.poll = kenny_poll,
	.busy = kenny_busy,
	.stop = kenny_stop,
};
