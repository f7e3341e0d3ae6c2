/* graveyard/evaluate.c — HRM's pre-trade decision for one event, and the
 * state it keeps (market clock, windows, projected positions, P&L, latches).
 *
 * Invariants: the decision depends only on the rules and the sequence of
 * events (market time, never the wall clock); the rules are checked in the
 * documented order and the first violated rule decides; only allowed orders
 * enter the rate windows, the duplicate memory and the positions; the sums
 * (position x mark, position x cost, gross exposure) always equal the
 * per-symbol sums they summarise. Nothing here allocates, locks, logs or
 * makes a system call. */
#include "graveyard/graveyard.h"
#include "graveyard/internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

void ark_graveyard_state_init(struct ark_graveyard_state *state, const struct ark_graveyard_rules *rules)
{
	memset(state, 0, sizeof *state);
	state->magic = ARK_GRAVEYARD_STATE_MAGIC;
	state->version = ARK_GRAVEYARD_STATE_VERSION;
	memcpy(state->table_sha256, rules->table_sha256, 32);
	state->trading_state = rules->limits.trading_state;
	atomic_init(&state->drift.latched, 0);
}

bool ark_graveyard_state_matches(const struct ark_graveyard_state *state, const struct ark_graveyard_rules *rules)
{
	return state->magic == ARK_GRAVEYARD_STATE_MAGIC && state->version == ARK_GRAVEYARD_STATE_VERSION &&
	       memcmp(state->table_sha256, rules->table_sha256, 32) == 0;
}

int ark_graveyard_tighten(struct ark_graveyard_state *state, enum ark_trading_state to, struct ark_err *err)
{
	if ((unsigned)to > ARK_TRADING_HALTED)
		return ark_err_set(err, -EINVAL, "unknown trading state %d", (int)to);
	if ((uint32_t)to < state->trading_state)
		return ark_err_set(err, -EPERM,
				   "cannot move from %s to %s: the Graveyard only tightens at run time "
				   "(loosening takes a new rules file and a new run)",
				   ark_trading_state_name(state->trading_state), ark_trading_state_name(to));
	state->trading_state = to;
	return 0;
}

static inline double equity(const struct ark_graveyard_state *st)
{
	return st->realised_pnl + st->position_mark_sum - st->position_cost_sum;
}

double ark_graveyard_day_pnl(const struct ark_graveyard_state *state)
{
	return equity(state) - state->day_base_pnl;
}

/* A new trading day: re-base the day's P&L, clear the daily-loss latch. */
static void roll_day(const struct ark_graveyard_limits *l, struct ark_graveyard_state *st)
{
	uint64_t now = st->market_now_ns, reset = l->trading_day_reset_ns;
	uint64_t day = now >= reset ? (now - reset) / ARK_GRAVEYARD_DAY_NS : 0;
	if (st->day_started)
		st->day_rolls++;
	st->day_started = 1;
	st->trading_day = day;
	st->next_day_ns = reset + (day + 1) * ARK_GRAVEYARD_DAY_NS;
	st->day_base_pnl = equity(st);
	st->loss_latched = 0;
}

static inline void check_loss(const struct ark_graveyard_limits *l, struct ark_graveyard_state *st)
{
	if (!st->loss_latched &&
	    equity(st) - st->day_base_pnl < -l->daily_loss_limit * (1 + ARK_GRAVEYARD_EPSILON)) {
		st->loss_latched = 1;
		st->loss_latches++;
	}
}

/* First sight of a symbol id (or the id now names another symbol): cache its
 * restriction, and start the slot afresh. */
static void fill_symbol(const struct ark_graveyard_limits *l, struct ark_graveyard_state *st,
			struct ark_graveyard_symbol *s, const char *symbol)
{
	if (s->known && s->position != 0) {
		st->position_mark_sum -= s->position * s->mark;
		st->position_cost_sum -= s->position * s->average_price;
		st->gross_exposure -= fabs(s->position) * s->mark;
	}
	memset(s, 0, offsetof(struct ark_graveyard_symbol, rate_ns));
	size_t n = strnlen(symbol, ARK_SYMBOL_MAX - 1);
	memcpy(s->symbol, symbol, n);
	s->known = 1;
	s->restriction = (uint8_t)ark_graveyard_symbol_restriction(l, s->symbol);
	st->symbol_cache_fills++;
}

static inline bool same_symbol(const struct ark_graveyard_symbol *s, const char *symbol)
{
	if (LIKELY(s->known && memcmp(s->symbol, symbol, ARK_SYMBOL_MAX) == 0))
		return true;
	/* Same string with different bytes after the terminator (or none). */
	return s->known && strncmp(s->symbol, symbol, ARK_SYMBOL_MAX - 1) == 0 &&
	       strnlen(symbol, ARK_SYMBOL_MAX) < ARK_SYMBOL_MAX;
}

static inline void mark(struct ark_graveyard_state *st, struct ark_graveyard_symbol *s, double price, uint64_t t)
{
	if (s->position != 0) {
		double change = price - s->mark;
		st->position_mark_sum += s->position * change;
		st->gross_exposure += fabs(s->position) * change;
	}
	s->mark = price;
	s->mark_time_ns = t;
}

/* The pre-trade view: the allowed order fills at its limit price. */
static void fill(struct ark_graveyard_state *st, struct ark_graveyard_symbol *s, double change, double price)
{
	double pos = s->position, avg = s->average_price, next = pos + change, next_avg;
	if (fabs(next) <= 1e-9 * (fabs(pos) + fabs(change)))
		next = 0;
	if (pos == 0 || (pos > 0) == (change > 0)) {
		next_avg = (fabs(pos) * avg + fabs(change) * price) / (fabs(pos) + fabs(change));
	} else {
		double closing = fmin(fabs(change), fabs(pos));
		st->realised_pnl += closing * (price - avg) * (pos > 0 ? 1 : -1);
		if (next == 0)
			next_avg = 0;
		else if ((next > 0) != (pos > 0))
			next_avg = price;
		else
			next_avg = avg;
	}
	st->position_mark_sum += (next - pos) * s->mark;
	st->position_cost_sum += next * next_avg - pos * avg;
	st->gross_exposure += (fabs(next) - fabs(pos)) * s->mark;
	s->position = next;
	s->average_price = next_avg;
}

static inline void ring_push(uint64_t *ring, uint32_t *head, uint32_t *count, uint32_t cap, uint64_t t)
{
	if (*count < cap) {
		uint32_t at = *head + *count;
		ring[at >= cap ? at - cap : at] = t;
		(*count)++;
	} else {
		ring[*head] = t;
		*head = *head + 1 == cap ? 0 : *head + 1;
	}
}

/* True when `cap` allowed orders already lie in the window (now - W, now]. */
static inline bool ring_full(const uint64_t *ring, uint32_t head, uint32_t count, uint32_t cap, uint64_t now,
			     uint64_t window)
{
	return count >= cap && now - ring[head] < window;
}

static inline void decide(struct ark_graveyard_state *st, struct ark_graveyard_decision *d,
			  const struct ark_graveyard_limits *l, enum ark_reason reason)
{
	d->verdict = ARK_VERDICT_DENY;
	d->reason = (uint16_t)reason;
	d->rule_id = reason == ARK_REASON_ETHICS_DRIFT || reason == ARK_REASON_QUARANTINED ? 0 : l->rules[reason].line;
	st->denials[reason]++;
}

#define DENY(reason)                      \
	do {                              \
		decide(st, d, l, (reason)); \
		return;                   \
	} while (0)

void ark_graveyard_evaluate(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *st,
			    const struct ark_event *ev, bool quarantined, struct ark_graveyard_decision *d)
{
	const struct ark_graveyard_limits *l = &rules->limits;
	const bool intent = ev->side == ARK_SIDE_BUY || ev->side == ARK_SIDE_SELL;
	st->evaluations++;
	d->has_intent = intent;
	d->reserved = 0;
	d->verdict = ARK_VERDICT_ALLOW;
	d->reason = ARK_REASON_NONE;
	d->rule_id = 0;

	if (UNLIKELY(atomic_load_explicit(&st->drift.latched, memory_order_relaxed)))
		DENY(ARK_REASON_ETHICS_DRIFT);
	if (UNLIKELY(quarantined))
		DENY(ARK_REASON_QUARANTINED);

	/* The market clock, the trading day, the mark. */
	const uint64_t t = ev->exchange_time_ns;
	if (t > st->market_now_ns) {
		st->market_now_ns = t;
		if (UNLIKELY(t >= st->next_day_ns))
			roll_day(l, st);
	}
	const uint64_t now = st->market_now_ns;
	const double price = ev->price;
	const bool price_ok = price > 0 && price < INFINITY;   /* false for NaN */
	const bool fresh = t != 0 && now - t <= l->reference_max_age_ns;
	struct ark_graveyard_symbol *s = NULL;
	if (LIKELY(ev->symbol_id < ARK_GRAVEYARD_MAX_SYMBOLS)) {
		s = &st->symbols[ev->symbol_id];
		if (UNLIKELY(!same_symbol(s, ev->symbol)))
			fill_symbol(l, st, s, ev->symbol);
		if (price_ok && fresh && t >= s->mark_time_ns) {
			mark(st, s, price, t);
			check_loss(l, st);
		}
	}
	if (!intent) {
		st->no_intent++;
		return;
	}
	st->intents++;

	if (st->trading_state == ARK_TRADING_HALTED)
		DENY(ARK_REASON_HALTED);
	if (st->loss_latched)
		DENY(ARK_REASON_DAILY_LOSS);
	if (UNLIKELY(!s))
		DENY(ARK_REASON_RESTRICTED_SYMBOL);
	if (s->restriction != ARK_REASON_NONE)
		DENY((enum ark_reason)s->restriction);
	if (!price_ok || !fresh)
		DENY(ARK_REASON_REFERENCE_PRICE);
	const double q = ev->quantity, limit = ev->limit_price;
	const double slack = 1 + ARK_GRAVEYARD_EPSILON;
	if (!(q > 0 && q <= l->max_order_quantity * slack))
		DENY(ARK_REASON_MAX_QUANTITY);
	if (!(limit > 0 && fabs(limit - price) <= l->price_collar * price * slack))
		DENY(ARK_REASON_PRICE_COLLAR);
	if (!(q * limit <= l->max_order_notional * slack))
		DENY(ARK_REASON_MAX_NOTIONAL);
	const double change = ev->side == ARK_SIDE_BUY ? q : -q;
	const double pos = s->position, next = pos + change;
	if (st->trading_state == ARK_TRADING_REDUCING &&
	    !(pos != 0 && (pos > 0) != (change > 0) && q <= fabs(pos) * slack))
		DENY(ARK_REASON_REDUCING_ONLY);
	if (s->last_side == ev->side && s->last_quantity == q && s->last_limit_price == limit &&
	    now - s->last_intent_ns < l->duplicate_window_ns)
		DENY(ARK_REASON_DUPLICATE);
	if (ring_full(s->rate_ns, s->rate_head, s->rate_count, l->order_rate_per_symbol_count, now,
		      l->order_rate_per_symbol_window_ns))
		DENY(ARK_REASON_RATE_SYMBOL);
	if (ring_full(st->rate_ns, st->rate_head, st->rate_count, l->order_rate_count, now, l->order_rate_window_ns))
		DENY(ARK_REASON_RATE_GLOBAL);
	const double grows = fabs(next) - fabs(pos);
	if (grows > 0 && fabs(next) > l->max_position * slack)
		DENY(ARK_REASON_POSITION_LIMIT);
	if (grows > 0 && st->gross_exposure + grows * s->mark > l->max_gross_exposure * slack)
		DENY(ARK_REASON_GROSS_EXPOSURE);

	/* Allowed: it enters the windows and the projected book. */
	st->allowed++;
	ring_push(s->rate_ns, &s->rate_head, &s->rate_count, l->order_rate_per_symbol_count, now);
	ring_push(st->rate_ns, &st->rate_head, &st->rate_count, l->order_rate_count, now);
	s->last_side = ev->side;
	s->last_quantity = q;
	s->last_limit_price = limit;
	s->last_intent_ns = now;
	fill(st, s, change, limit);
	check_loss(l, st);
}
