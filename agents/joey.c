/* agents/joey.c — Joey, analysis: keeps rolling statistics per symbol in the
 * segment and emits an intent when its rule fires, otherwise "no action".
 *
 * The rule (strategy 1, mean reversion on a z-score), per symbol, in order of
 * the events: fast and slow exponential moving averages of the price (spans
 * ARK_JOEY_FAST and ARK_JOEY_SLOW events), an exponentially weighted variance
 * around the slow average, z = (price - slow) / sqrt(variance). After
 * ARK_JOEY_WARMUP observations: z <= -ARK_JOEY_Z with fast < slow buys, z >=
 * +ARK_JOEY_Z with fast > slow sells, at the current price, quantity
 * base * min(|z| / Z, 3), but never more than half of any Graveyard limit
 * Joey can see (quantity, notional, position, its own share of the rate
 * limits, and a cooldown no shorter than the duplicate window; a fiftieth of
 * the gross exposure), all in market time. Deterministic for a given input sequence.
 *
 * A bad print cannot destroy the statistics: after the warm-up, a price
 * further than ARK_JOEY_OUTLIER_Z deviations from the slow average (the
 * deviation floored at 1 bp of it, so a flat series does not make every
 * move an outlier) is an outlier by Joey's own rule: it is not folded in and
 * fires no intent. ARK_JOEY_OUTLIER_RUN outliers in a row are a new price
 * level, not a bad print: the statistics start over from it (a new warm-up).
 * Prices above ARK_TICK_PRICE_CEILING are never valid, so the sums stay
 * finite; a statistic that is not finite anyway starts the symbol over.
 *
 * Joey acts only where HRM could allow: never on a restricted symbol or
 * pattern, never on a tick HRM would find stale (older than the rules'
 * reference age against the latest exchange time Joey has seen, which is
 * never behind HRM's market clock), so a clean intent is never denied.
 *
 * An injected violation (a synthetic tick flagged by the source) gets the
 * intent the Graveyard says violates its rule kind; HRM must deny it. A
 * quarantined Joey emits no intent (fail closed). */
#include "agents/agents_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STRATEGY_MEAN_REVERSION 1
#define STRATEGY_INJECTED 99

struct joey_runtime {
	struct ark_graveyard_rules *rules;
	struct ark_joey_limits limits;
};

static struct joey_runtime joey;

/* Half of every limit Joey can see: its clean intents never need denying. */
static void limits_from_rules(const struct ark_graveyard_limits *l, struct ark_joey_limits *out)
{
	memset(out, 0, sizeof *out);
	out->max_quantity = l->max_order_quantity / 2;
	out->max_notional = l->max_order_notional / 2;
	out->max_position = l->max_position / 2;
	/* Gross exposure: a fiftieth, leaving the synthetic source's injections
	 * (which build positions up to the limit on their own symbols) room. */
	out->max_gross = l->max_gross_exposure / 50;
	out->symbol_window_ns = l->order_rate_per_symbol_window_ns;
	out->symbol_budget = l->order_rate_per_symbol_count / 2;
	out->global_window_ns = l->order_rate_window_ns;
	out->global_budget = l->order_rate_count / 2;
	out->cooldown_ns = l->duplicate_window_ns + 1;
	out->trading_state = l->trading_state;
}

static int joey_start(struct ark_agent_ctx *ctx, struct ark_err *err)
{
	joey.rules = malloc(sizeof *joey.rules);
	if (!joey.rules)
		return ark_err_set(err, -ENOMEM, "out of memory");
	/* The stable lane's Joey sizes its intents by the rules of its own
	 * configuration (the ones HRM is pinned to), never a path read from the
	 * segment. A canary lane's Joey sizes them by the stable rules, as the
	 * segment records them: the canary's own rules are its HRM's to judge
	 * with, and a tighter canary must see the stable stream's intents. */
	char path[ARK_GRAVEYARD_PATH_MAX];
	int rc = 0;
	if (ctx->lane == ARK_LANE_CANARY)
		snprintf(path, sizeof path, "%s", ctx->pipeline->rules_path);
	else
		rc = ark_graveyard_installed_path(path, sizeof path, err);
	if (!rc)
		rc = ark_graveyard_load(path, joey.rules, err);
	if (rc)
		return rc;
	limits_from_rules(&joey.rules->limits, &joey.limits);
	uint64_t base;
	rc = ark_env_u64("ARK_JOEY_BASE_QUANTITY", 10, 1, 1000000, &base, err);
	if (rc)
		return rc;
	joey.limits.base_quantity = (double)base;
	ark_log(ctx->log, "info",
		"rules=%s max_quantity=%g max_notional=%g max_position=%g max_gross=%g symbol_budget=%u/%llums global_budget=%u/%llums cooldown_ms=%llu",
		path, joey.limits.max_quantity, joey.limits.max_notional, joey.limits.max_position,
		joey.limits.max_gross, joey.limits.symbol_budget, (unsigned long long)(joey.limits.symbol_window_ns / 1000000),
		joey.limits.global_budget, (unsigned long long)(joey.limits.global_window_ns / 1000000),
		(unsigned long long)(joey.limits.cooldown_ns / 1000000));
	return 0;
}

/* By Joey's own rule, is this price a bad print for the symbol? */
static bool outlier(const struct ark_joey_symbol *sym, double price)
{
	if (sym->count < ARK_JOEY_WARMUP)
		return false;
	double deviation = fmax(sqrt(sym->variance), ARK_JOEY_OUTLIER_FLOOR * sym->ema_slow);
	return !(fabs(price - sym->ema_slow) <= ARK_JOEY_OUTLIER_Z * deviation);
}

static void update_stats(struct ark_joey_symbol *sym, double price)
{
	const double fast = 2.0 / (ARK_JOEY_FAST + 1), slow = 2.0 / (ARK_JOEY_SLOW + 1);
	if (sym->count == 0) {
		sym->ema_fast = sym->ema_slow = price;
		sym->variance = 0;
	} else {
		double deviation = price - sym->ema_slow;
		sym->ema_fast += fast * (price - sym->ema_fast);
		sym->ema_slow += slow * deviation;
		sym->variance = (1 - slow) * (sym->variance + slow * deviation * deviation);
	}
	sym->last_price = price;
	sym->count++;
	if (!isfinite(sym->ema_fast) || !isfinite(sym->ema_slow) || !isfinite(sym->variance)) {
		sym->count = 0;   /* never reached with bounded prices; if it is, start over */
		sym->variance = 0;
		sym->ema_fast = sym->ema_slow = price;
	}
}

/* Whether a budget window (fixed, in market time) has room, rolling it over. */
static bool window_room(uint64_t *start, uint64_t now, uint64_t length, uint64_t count, uint64_t budget)
{
	if (length == 0)
		return true;
	if (now >= *start + length || now < *start)
		return budget > 0;
	return count < budget;
}

static void window_take(uint64_t *start, uint64_t now, uint64_t length, uint64_t *count)
{
	if (length && (now >= *start + length || now < *start)) {
		*start = now;
		*count = 0;
	}
	(*count)++;
}

static void emit(struct ark_agent_ctx *ctx, struct ark_event *e, uint8_t side, double quantity, double price,
		 uint8_t strategy, float strength)
{
	e->side = side;
	e->quantity = quantity;
	e->limit_price = price;
	e->strategy = strategy;
	e->strength = strength;
	ark_control_add(&ctx->counters->intents, 1);
}

static void joey_process(struct ark_agent_ctx *ctx, struct ark_event *e, uint64_t now_ns)
{
	(void)now_ns;
	struct ark_joey_state *s = ctx->state;
	const struct ark_joey_limits *lim = &joey.limits;
	if (e->flags & ARK_EVENT_EXEC_REPORT)
		return;   /* a broker's report on an order: no market data, no intent of Joey's */
	e->side = ARK_SIDE_NONE;
	if (e->symbol_id >= ARK_MAX_SYMBOLS - 1)
		return;   /* the overflow id: never traded */
	struct ark_joey_symbol *sym = &s->symbols[e->symbol_id];
	ark_undo_save(ctx, sym, sizeof *sym);
	ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
	s->last_seq = e->seq;
	if (e->exchange_time_ns > s->market_ns)
		s->market_ns = e->exchange_time_ns;
	if (!sym->restriction_known) {
		sym->restriction_known = 1;   /* a string loop, once per symbol id */
		sym->restricted = ark_graveyard_symbol_restriction(&joey.rules->limits, e->symbol) != ARK_REASON_NONE;
	}
	double price = e->price;
	bool valid_price = price > 0 && price <= ARK_TICK_PRICE_CEILING;   /* false for NaN */
	bool ignored = false;
	if (valid_price && outlier(sym, price)) {
		sym->outliers++;
		if (++sym->outliers_in_a_row >= ARK_JOEY_OUTLIER_RUN) {
			sym->count = 0;   /* a new level: a new warm-up from it */
			sym->outliers_in_a_row = 0;
			update_stats(sym, price);
		}
		ignored = true;
	} else if (valid_price) {
		sym->outliers_in_a_row = 0;
		update_stats(sym, price);
	}
	bool quarantined = atomic_load_explicit(&ctx->control->quarantined, memory_order_relaxed) != 0;
	if (quarantined) {
		e->flags |= ARK_EVENT_QUARANTINED;
		return;
	}
	if (e->flags & ARK_EVENT_INJECTED) {
		uint8_t side;
		double quantity, limit;
		if (ark_graveyard_injected_intent(joey.rules, e, &side, &quantity, &limit) == 0 && side != ARK_SIDE_NONE)
			emit(ctx, e, side, quantity, limit, STRATEGY_INJECTED, 0);
		return;
	}
	if (!valid_price || ignored || sym->count < ARK_JOEY_WARMUP || !(sym->variance > 0) || sym->restricted)
		return;
	uint64_t t_tick = e->exchange_time_ns;
	if (t_tick == 0 || s->market_ns - t_tick > joey.rules->limits.reference_max_age_ns)
		return;   /* stale to HRM: no reference to trade on */
	double z = (price - sym->ema_slow) / sqrt(sym->variance);
	uint8_t side = ARK_SIDE_NONE;
	if (z <= -ARK_JOEY_Z && sym->ema_fast < sym->ema_slow)
		side = ARK_SIDE_BUY;
	else if (z >= ARK_JOEY_Z && sym->ema_fast > sym->ema_slow)
		side = ARK_SIDE_SELL;
	if (side == ARK_SIDE_NONE || lim->trading_state == ARK_TRADING_HALTED)
		return;
	if (lim->trading_state == ARK_TRADING_REDUCING &&
	    (sym->position_view == 0 || (sym->position_view > 0) == (side == ARK_SIDE_BUY)))
		return;   /* only intents that reduce the position */
	uint64_t t = e->exchange_time_ns;
	if (sym->last_intent_ns && t < sym->last_intent_ns + lim->cooldown_ns)
		return;
	uint64_t symbol_count = sym->window_count;
	if (!window_room(&sym->window_start_ns, t, lim->symbol_window_ns, symbol_count, lim->symbol_budget) ||
	    !window_room(&s->window_start_ns, t, lim->global_window_ns, s->window_count, lim->global_budget))
		return;
	double quantity = floor(lim->base_quantity * fmin(fabs(z) / ARK_JOEY_Z, 3.0));
	quantity = fmin(quantity, floor(lim->max_quantity));
	quantity = fmin(quantity, floor(lim->max_notional / price));
	double signed_qty = side == ARK_SIDE_BUY ? quantity : -quantity;
	double after = sym->position_view + signed_qty;
	if (fabs(after) > lim->max_position) {
		/* Only as much as keeps the position within Joey's half. */
		double room = lim->max_position - fabs(sym->position_view);
		if (fabs(after) > fabs(sym->position_view))
			quantity = fmin(quantity, floor(room));
		signed_qty = side == ARK_SIDE_BUY ? quantity : -quantity;
		after = sym->position_view + signed_qty;
	}
	double gross_change = (fabs(after) - fabs(sym->position_view)) * price;
	if (gross_change > 0 && s->gross_view + gross_change > lim->max_gross)
		return;
	if (quantity < 1)
		return;
	emit(ctx, e, side, quantity, price, STRATEGY_MEAN_REVERSION, (float)fabs(z));
	s->gross_view = fmax(0.0, s->gross_view + gross_change);
	sym->position_view = after;
	sym->last_intent_ns = t;
	window_take(&sym->window_start_ns, t, lim->symbol_window_ns, &symbol_count);
	sym->window_count = (uint32_t)symbol_count;
	window_take(&s->window_start_ns, t, lim->global_window_ns, &s->window_count);
}

static void joey_stop(struct ark_agent_ctx *ctx)
{
	(void)ctx;
	free(joey.rules);
	joey.rules = NULL;
}

const struct ark_agent_ops ark_joey_ops = {
	.canary_lane = true,
	.start = joey_start,
	.process = joey_process,
	.stop = joey_stop,
};
