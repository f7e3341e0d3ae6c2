/* graveyard/evaluate.c — HRM's pre-trade decision for one event, and the
 * state it keeps (market clock, windows, projected positions, P&L, latches).
 *
 * Invariants: the decision depends only on the rules, the sequence of events
 * and the caller's inputs (clock ceiling, trading day), which HRM records in
 * each event, and the execution reports among the events (with
 * confirm_by_reports, also recorded); the rules are checked in the
 * documented order and the first violated rule decides; only allowed orders
 * enter the rate windows, the duplicate memory and the book (projected, or
 * in flight until reports settle them); the sums (position x mark, cost,
 * gross exposure) always equal the per-symbol contributions they summarise;
 * every accumulator is finite, or STATE_CORRUPT is latched and no intent is
 * allowed. Every comparison against a limit is written so that NaN denies.
 * Nothing here allocates, locks, logs or makes a system call. */
#include "graveyard/graveyard.h"
#include "graveyard/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
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

enum ark_trading_state ark_graveyard_effective_state(const struct ark_graveyard_state *st)
{
	return st->state_corrupt ? ARK_TRADING_HALTED : (enum ark_trading_state)st->trading_state;
}

enum ark_halt_cause ark_graveyard_halt_cause(const struct ark_graveyard_state *st)
{
	if (st->state_corrupt)
		return ARK_HALT_STATE_CORRUPT;
	if (st->trading_state == ARK_TRADING_HALTED)
		return ARK_HALT_RULES;
	if (st->loss_latched)
		return ARK_HALT_DAILY_LOSS;
	return ARK_HALT_NONE;
}

/* The first non-finite accumulator, or NULL. s may be NULL. The common
 * case first, without a branch per value: x * 0 is 0 for every finite x and
 * NaN for NaN and the infinities (no -ffast-math here, so it is not folded). */
static const char *non_finite_which(const struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s);

static inline const char *non_finite(const struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s)
{
	double z = st->realised_pnl * 0 + st->position_mark_sum * 0 + st->position_cost_sum * 0 +
		   st->gross_exposure * 0 + st->day_base_pnl * 0;
	if (s)
		z += s->position * 0 + s->average_price * 0 + s->mark * 0 + s->pending_buy * 0 + s->pending_sell * 0 +
		     s->pending_buy_cost * 0 + s->pending_sell_cost * 0;
	return LIKELY(z == 0) ? NULL : non_finite_which(st, s);
}

static const char *non_finite_which(const struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s)
{
	if (!isfinite(st->realised_pnl))
		return "realised_pnl";
	if (!isfinite(st->position_mark_sum))
		return "position_mark_sum";
	if (!isfinite(st->position_cost_sum))
		return "position_cost_sum";
	if (!isfinite(st->gross_exposure))
		return "gross_exposure";
	if (!isfinite(st->day_base_pnl))
		return "day_base_pnl";
	if (s && !isfinite(s->position))
		return "position";
	if (s && !isfinite(s->average_price))
		return "average_price";
	if (s && !isfinite(s->mark))
		return "mark";
	if (s && !(isfinite(s->pending_buy) && isfinite(s->pending_sell) && isfinite(s->pending_buy_cost) &&
		   isfinite(s->pending_sell_cost)))
		return "orders in flight";
	return NULL;
}

/* The worst |position| the orders in flight allow: every buy fills and no
 * sell, or the reverse. |position| when nothing is in flight. */
static inline double worst_position(double position, double pending_buy, double pending_sell)
{
	/* Not fmax: a library call here, and it would drop a NaN (this keeps
	 * it, so a limit compared with it denies). */
	const double a = fabs(position + pending_buy), b = fabs(position - pending_sell);
	return (a > b || a != a) ? a : b;
}

/* What one symbol adds to the state's sums. With nothing in flight: position
 * x mark, position x average price, |position| x mark. */
struct contribution {
	double mark, cost, gross;
};

static inline struct contribution contribution_of(const struct ark_graveyard_symbol *s)
{
	struct contribution c;
	c.mark = (s->position + s->pending_buy - s->pending_sell) * s->mark;
	c.cost = s->position * s->average_price + s->pending_buy_cost - s->pending_sell_cost;
	c.gross = worst_position(s->position, s->pending_buy, s->pending_sell) * s->mark;
	return c;
}

static void latch_corrupt(struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s, const char *what)
{
	if (!st->state_corrupt) {
		snprintf(st->corrupt_detail, sizeof st->corrupt_detail, "%s%s%.15s", what, s ? " of " : "",
			 s ? s->symbol : "");
		st->corrupt_latches++;
	}
	st->state_corrupt = 1;
}

/* A new trading day: re-base the day's P&L, clear the daily-loss latch. */
static void roll_day(struct ark_graveyard_state *st, uint32_t day)
{
	if (st->day_started)
		st->day_rolls++;
	st->day_started = 1;
	st->trading_day = day;
	st->day_base_pnl = equity(st);
	st->loss_latched = 0;
}

static inline void check_loss(const struct ark_graveyard_limits *l, struct ark_graveyard_state *st)
{
	if (!st->loss_latched && !(equity(st) - st->day_base_pnl >= -l->daily_loss_limit * (1 + ARK_GRAVEYARD_EPSILON))) {
		st->loss_latched = 1;
		st->loss_latches++;
	}
}

/* First sight of a symbol id (or the id now names another symbol): cache its
 * restriction, and start the slot afresh. */
static void fill_symbol(const struct ark_graveyard_limits *l, struct ark_graveyard_state *st,
			struct ark_graveyard_symbol *s, const char *symbol)
{
	if (s->known && (s->position != 0 || s->pending_buy != 0 || s->pending_sell != 0)) {
		struct contribution c = contribution_of(s);
		st->position_mark_sum -= c.mark;
		st->position_cost_sum -= c.cost;
		st->gross_exposure -= c.gross;
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
	if (s->position != 0 || s->pending_buy != 0 || s->pending_sell != 0) {
		double change = price - s->mark;
		st->position_mark_sum += (s->position + s->pending_buy - s->pending_sell) * change;
		st->gross_exposure += worst_position(s->position, s->pending_buy, s->pending_sell) * change;
	}
	s->mark = price;
	s->mark_time_ns = t;
}

/* What the book would be if an order filled `change` units at `price`
 * (the projection: an allowed order at its limit; with confirm_by_reports:
 * a confirmed fill, whose in-flight part the caller settles). The sums'
 * deltas hold while the symbol has nothing in flight. */
struct projection {
	double position, average_price;
	double realised_pnl, position_mark_sum, position_cost_sum, gross_exposure;
};

static void project_fill(const struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s, double change,
			 double price, struct projection *out)
{
	double pos = s->position, avg = s->average_price, next = pos + change, next_avg;
	double realised = st->realised_pnl;
	if (fabs(next) <= 1e-9 * (fabs(pos) + fabs(change)))
		next = 0;
	if (pos == 0 || (pos > 0) == (change > 0)) {
		next_avg = (fabs(pos) * avg + fabs(change) * price) / (fabs(pos) + fabs(change));
	} else {
		double closing = fmin(fabs(change), fabs(pos));
		realised += closing * (price - avg) * (pos > 0 ? 1 : -1);
		if (next == 0)
			next_avg = 0;
		else if ((next > 0) != (pos > 0))
			next_avg = price;
		else
			next_avg = avg;
	}
	out->position = next;
	out->average_price = next_avg;
	out->realised_pnl = realised;
	out->position_mark_sum = st->position_mark_sum + (next - pos) * s->mark;
	out->position_cost_sum = st->position_cost_sum + next * next_avg - pos * avg;
	out->gross_exposure = st->gross_exposure + (fabs(next) - fabs(pos)) * s->mark;
}

static bool projection_finite(const struct projection *p)
{
	return isfinite(p->position) && isfinite(p->average_price) && isfinite(p->realised_pnl) &&
	       isfinite(p->position_mark_sum) && isfinite(p->position_cost_sum) && isfinite(p->gross_exposure);
}

static void apply_projection(struct ark_graveyard_state *st, struct ark_graveyard_symbol *s, const struct projection *p)
{
	s->position = p->position;
	s->average_price = p->average_price;
	st->realised_pnl = p->realised_pnl;
	st->position_mark_sum = p->position_mark_sum;
	st->position_cost_sum = p->position_cost_sum;
	st->gross_exposure = p->gross_exposure;
}

/* The sums once symbol s becomes `next` (its position, average price and
 * orders in flight), with the realised P&L `realised`. */
static void rebook(const struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s,
		   const struct ark_graveyard_symbol *next, double realised, struct projection *out)
{
	struct contribution was = contribution_of(s), now = contribution_of(next);
	out->position = next->position;
	out->average_price = next->average_price;
	out->realised_pnl = realised;
	out->position_mark_sum = st->position_mark_sum - was.mark + now.mark;
	out->position_cost_sum = st->position_cost_sum - was.cost + now.cost;
	out->gross_exposure = st->gross_exposure - was.gross + now.gross;
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
	d->rule_id = reason == ARK_REASON_ETHICS_DRIFT || reason == ARK_REASON_QUARANTINED ||
				     reason == ARK_REASON_STATE_CORRUPT
			     ? 0
			     : l->rules[reason].line;
	st->denials[reason]++;
}

#define DENY(reason)                      \
	do {                              \
		decide(st, d, l, (reason)); \
		return;                   \
	} while (0)

/* A symbol's orders in flight (units, and units x limit), by side. */
struct in_flight {
	double buy, sell, buy_cost, sell_cost;
};

/* With confirm_by_reports: an allowed order joins the flight at its limit.
 * Out of line, with its copy of the symbol: the paper venue's path (the
 * projection) keeps a small frame. False when the flight would not be
 * finite. */
static __attribute__((noinline)) bool book_in_flight(const struct ark_graveyard_state *st,
						      const struct ark_graveyard_symbol *s, double change, double q,
						      double limit, struct in_flight *flight, struct projection *after)
{
	struct ark_graveyard_symbol next = *s;
	if (change > 0) {
		next.pending_buy += q;
		next.pending_buy_cost += q * limit;
	} else {
		next.pending_sell += q;
		next.pending_sell_cost += q * limit;
	}
	rebook(st, s, &next, st->realised_pnl, after);
	*flight = (struct in_flight){next.pending_buy, next.pending_sell, next.pending_buy_cost, next.pending_sell_cost};
	return non_finite(st, &next) == NULL;
}

/* Booked at once, beside orders still in flight from a book kept by
 * reports (the same state, another configuration). */
static __attribute__((noinline)) void book_beside_flight(const struct ark_graveyard_state *st,
							  const struct ark_graveyard_symbol *s, double change, double limit,
							  struct projection *after)
{
	struct ark_graveyard_symbol bare = *s;
	bare.pending_buy = bare.pending_sell = bare.pending_buy_cost = bare.pending_sell_cost = 0;
	project_fill(st, &bare, change, limit, after);
	struct ark_graveyard_symbol booked = *s;
	booked.position = after->position;
	booked.average_price = after->average_price;
	rebook(st, s, &booked, after->realised_pnl, after);
}

/* The rule families below are checked in the documented order; each returns
 * the first rule of its family the order breaks, or NONE. Always inlined:
 * splitting the gate into named steps must not cost a call on the hot path.
 * Every comparison against a limit is written so that NaN denies. */
#define RULE_CHECK static inline __attribute__((always_inline)) enum ark_reason

#define CHECK(family)                                  \
	do {                                           \
		const enum ark_reason found_ = (family); \
		if (found_ != ARK_REASON_NONE)         \
			DENY(found_);                  \
	} while (0)

/* The market clock (never past the ceiling), the trading day (the caller's:
 * a tick never ends one), the mark. Returns the event's symbol (NULL for an
 * id out of range); *reference_ok when its price is a valid, fresh
 * reference. */
static inline __attribute__((always_inline)) struct ark_graveyard_symbol *
observe(const struct ark_graveyard_limits *l, struct ark_graveyard_state *st, const struct ark_event *ev,
	const struct ark_graveyard_inputs *in, bool *reference_ok)
{
	const uint64_t t = ev->exchange_time_ns;
	const uint64_t advance = t < in->clock_ceiling_ns ? t : in->clock_ceiling_ns;
	if (advance > st->market_now_ns)
		st->market_now_ns = advance;
	if (UNLIKELY(!st->day_started || in->trading_day > st->trading_day))
		roll_day(st, in->trading_day);
	const uint64_t now = st->market_now_ns;
	const double price = ev->price;
	const bool price_ok = price > 0 && price <= ARK_TICK_PRICE_CEILING;   /* false for NaN */
	const bool fresh = t != 0 && (t <= now ? now - t <= l->reference_max_age_ns : t - now <= in->fresh_ahead_ns);
	*reference_ok = price_ok && fresh;
	if (UNLIKELY(ev->symbol_id >= ARK_GRAVEYARD_MAX_SYMBOLS))
		return NULL;
	struct ark_graveyard_symbol *s = &st->symbols[ev->symbol_id];
	if (UNLIKELY(!same_symbol(s, ev->symbol)))
		fill_symbol(l, st, s, ev->symbol);
	if (!st->state_corrupt && price_ok && fresh && t >= s->mark_time_ns) {
		mark(st, s, price, t);
		const char *bad = non_finite(st, s);
		if (UNLIKELY(bad))
			latch_corrupt(st, s, bad);
		else
			check_loss(l, st);
	}
	return s;
}

/* What the state and the symbol deny before the order is looked at. */
RULE_CHECK check_state(const struct ark_graveyard_state *st, const struct ark_graveyard_symbol *s)
{
	if (UNLIKELY(st->state_corrupt))
		return ARK_REASON_STATE_CORRUPT;
	if (st->trading_state == ARK_TRADING_HALTED)
		return ARK_REASON_HALTED;
	if (st->loss_latched)
		return ARK_REASON_DAILY_LOSS;
	if (UNLIKELY(!s))
		return ARK_REASON_RESTRICTED_SYMBOL;
	if (s->restriction != ARK_REASON_NONE)
		return (enum ark_reason)s->restriction;
	return ARK_REASON_NONE;
}

/* The order on its own: reference price, size, collar, notional. */
RULE_CHECK check_order(const struct ark_graveyard_limits *l, const struct ark_event *ev, bool reference_ok)
{
	if (!reference_ok)
		return ARK_REASON_REFERENCE_PRICE;
	const double q = ev->quantity, limit = ev->limit_price, price = ev->price;
	const double slack = 1 + ARK_GRAVEYARD_EPSILON;
	if (!(q > 0 && q <= l->max_order_quantity * slack))
		return ARK_REASON_MAX_QUANTITY;
	if (!(limit > 0 && fabs(limit - price) <= l->price_collar * price * slack))
		return ARK_REASON_PRICE_COLLAR;
	if (!(q * limit <= l->max_order_notional * slack))
		return ARK_REASON_MAX_NOTIONAL;
	return ARK_REASON_NONE;
}

/* The order among the orders before it: reducing only, duplicate, rates. */
RULE_CHECK check_flow(const struct ark_graveyard_limits *l, const struct ark_graveyard_state *st,
		      const struct ark_graveyard_symbol *s, const struct ark_event *ev, double change, uint64_t now)
{
	const double q = ev->quantity, slack = 1 + ARK_GRAVEYARD_EPSILON;
	if (st->trading_state == ARK_TRADING_REDUCING) {
		/* What may still be taken off without flipping, even if every
		 * order in flight on this side fills. */
		const double room = change < 0 ? s->position - s->pending_sell : -s->position - s->pending_buy;
		if (!(room > 0 && q <= room * slack))
			return ARK_REASON_REDUCING_ONLY;
	}
	if (s->last_side == ev->side && s->last_quantity == q && s->last_limit_price == ev->limit_price &&
	    now - s->last_intent_ns < l->duplicate_window_ns)
		return ARK_REASON_DUPLICATE;
	if (ring_full(s->rate_ns, s->rate_head, s->rate_count, l->order_rate_per_symbol_count, now,
		      l->order_rate_per_symbol_window_ns))
		return ARK_REASON_RATE_SYMBOL;
	if (ring_full(st->rate_ns, st->rate_head, st->rate_count, l->order_rate_count, now, l->order_rate_window_ns))
		return ARK_REASON_RATE_GLOBAL;
	return ARK_REASON_NONE;
}

/* The book the order would leave: position and gross exposure, at the worst
 * |position| before and after (|position| with nothing in flight: the
 * projection's own check). */
RULE_CHECK check_exposure(const struct ark_graveyard_limits *l, const struct ark_graveyard_state *st,
			  const struct ark_graveyard_symbol *s, double change, double q)
{
	const double pos = s->position, pb = s->pending_buy, ps = s->pending_sell;
	const double slack = 1 + ARK_GRAVEYARD_EPSILON;
	const double worst = worst_position(pos, pb, ps);
	const double worst_next = change > 0 ? worst_position(pos, pb + q, ps) : worst_position(pos, pb, ps + q);
	const double grows = worst_next - worst;
	if (!(grows <= 0 || worst_next <= l->max_position * slack))
		return ARK_REASON_POSITION_LIMIT;
	if (!(grows <= 0 || st->gross_exposure + grows * s->mark <= l->max_gross_exposure * slack))
		return ARK_REASON_GROSS_EXPOSURE;
	return ARK_REASON_NONE;
}

/* Allowed, if the book it leaves is finite: it enters the windows and the
 * book (projected, or in flight). False (STATE_CORRUPT latched, nothing
 * booked) when it would leave a non-finite book: fail closed, never a NaN
 * in a limit. */
static inline __attribute__((always_inline)) bool admit(const struct ark_graveyard_limits *l,
							 struct ark_graveyard_state *st, struct ark_graveyard_symbol *s,
							 const struct ark_event *ev, const struct ark_graveyard_inputs *in,
							 double change, uint64_t now)
{
	const double q = ev->quantity, limit = ev->limit_price;
	struct projection after;
	struct in_flight flight = {s->pending_buy, s->pending_sell, s->pending_buy_cost, s->pending_sell_cost};
	bool flight_ok = true;
	if (in->confirm_by_reports)
		flight_ok = book_in_flight(st, s, change, q, limit, &flight, &after);
	else if (UNLIKELY(s->pending_buy != 0 || s->pending_sell != 0))
		book_beside_flight(st, s, change, limit, &after);
	else
		project_fill(st, s, change, limit, &after);
	if (UNLIKELY(!projection_finite(&after) || !flight_ok)) {
		latch_corrupt(st, s, in->confirm_by_reports ? "order in flight" : "projected fill");
		return false;
	}
	st->allowed++;
	ring_push(s->rate_ns, &s->rate_head, &s->rate_count, l->order_rate_per_symbol_count, now);
	ring_push(st->rate_ns, &st->rate_head, &st->rate_count, l->order_rate_count, now);
	s->last_side = ev->side;
	s->last_quantity = q;
	s->last_limit_price = limit;
	s->last_intent_ns = now;
	s->pending_buy = flight.buy;
	s->pending_sell = flight.sell;
	s->pending_buy_cost = flight.buy_cost;
	s->pending_sell_cost = flight.sell_cost;
	apply_projection(st, s, &after);
	check_loss(l, st);
	return true;
}

void ark_graveyard_evaluate(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *st,
			    const struct ark_event *ev, const struct ark_graveyard_inputs *in,
			    struct ark_graveyard_decision *d)
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
	if (UNLIKELY(in->quarantined))
		DENY(ARK_REASON_QUARANTINED);
	bool reference_ok;
	struct ark_graveyard_symbol *s = observe(l, st, ev, in, &reference_ok);
	if (!intent) {
		st->no_intent++;
		return;
	}
	st->intents++;

	const uint64_t now = st->market_now_ns;
	const double change = ev->side == ARK_SIDE_BUY ? ev->quantity : -ev->quantity;
	CHECK(check_state(st, s));
	CHECK(check_order(l, ev, reference_ok));
	CHECK(check_flow(l, st, s, ev, change, now));
	CHECK(check_exposure(l, st, s, change, ev->quantity));
	if (UNLIKELY(!admit(l, st, s, ev, in, change, now)))
		DENY(ARK_REASON_STATE_CORRUPT);
}

void ark_graveyard_apply_report(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *st,
				const struct ark_event *ev, const struct ark_graveyard_inputs *in)
{
	const struct ark_graveyard_limits *l = &rules->limits;
	if (UNLIKELY(!st->day_started || in->trading_day > st->trading_day))
		roll_day(st, in->trading_day);
	if (!(ev->flags & ARK_EVENT_EXEC_REPORT) || ev->symbol_id >= ARK_GRAVEYARD_MAX_SYMBOLS ||
	    (ev->side != ARK_SIDE_BUY && ev->side != ARK_SIDE_SELL))
		return;
	struct ark_graveyard_symbol *s = &st->symbols[ev->symbol_id];
	if (UNLIKELY(!same_symbol(s, ev->symbol)))
		fill_symbol(l, st, s, ev->symbol);
	const bool buy = ev->side == ARK_SIDE_BUY;
	const double q = ev->quantity, limit = ev->limit_price, d = ev->size, price = ev->price;
	if (ev->flags & ARK_EVENT_BROKER_ANOMALY) {
		st->reports_held++;   /* nothing of it is believed: the order stays in flight */
		return;
	}
	const bool fills = d != 0;
	if (fills && !(d > 0 && d <= q * (1 + ARK_GRAVEYARD_EPSILON) && isfinite(d) && price > 0 &&
		       price <= ARK_TICK_PRICE_CEILING)) {
		st->reports_held++;
		return;
	}
	struct ark_graveyard_symbol next = *s;
	double realised = st->realised_pnl;
	if (fills) {
		/* The confirmed position takes the fill at the broker's price. */
		struct ark_graveyard_symbol bare = *s;
		bare.pending_buy = bare.pending_sell = bare.pending_buy_cost = bare.pending_sell_cost = 0;
		struct projection p;
		project_fill(st, &bare, buy ? d : -d, price, &p);
		next.position = p.position;
		next.average_price = p.average_price;
		realised = p.realised_pnl;
	}
	/* What leaves the flight: this fill, and with the final report what
	 * the order left unfilled (never below nothing: an order from before
	 * this book, or a fill beyond what was in flight). */
	double leaves = d;
	if (ev->flags & ARK_EVENT_ORDER_FINAL) {
		double rest = q - ev->filled_quantity;
		if (rest > 0 && isfinite(rest))
			leaves += rest;
	}
	double *pending = buy ? &next.pending_buy : &next.pending_sell;
	double *cost = buy ? &next.pending_buy_cost : &next.pending_sell_cost;
	if (leaves > 0 && isfinite(limit) && limit > 0) {
		if (leaves >= *pending * (1 - ARK_GRAVEYARD_EPSILON)) {
			*pending = 0;
			*cost = 0;
		} else {
			*pending -= leaves;
			*cost -= leaves * limit;
			if (!(*cost > 0))
				*cost = 0;
		}
	}
	struct projection after;
	rebook(st, s, &next, realised, &after);
	if (UNLIKELY(!projection_finite(&after) || non_finite(st, &next))) {
		latch_corrupt(st, s, "reported fill");
		st->reports_held++;
		return;
	}
	st->reports++;
	s->pending_buy = next.pending_buy;
	s->pending_sell = next.pending_sell;
	s->pending_buy_cost = next.pending_buy_cost;
	s->pending_sell_cost = next.pending_sell_cost;
	apply_projection(st, s, &after);
	if (!st->state_corrupt)
		check_loss(l, st);
}

int ark_graveyard_release_corrupt(struct ark_graveyard_state *st, struct ark_err *err)
{
	double mark_sum = 0, cost_sum = 0, gross = 0;
	for (uint32_t i = 0; i < ARK_GRAVEYARD_MAX_SYMBOLS; i++) {
		struct ark_graveyard_symbol *s = &st->symbols[i];
		if (!s->known)
			continue;
		if (!isfinite(s->position) || !isfinite(s->average_price) || !isfinite(s->pending_buy) ||
		    !isfinite(s->pending_sell) || !isfinite(s->pending_buy_cost) || !isfinite(s->pending_sell_cost))
			return ark_err_set(err, -EIO,
					   "the position of %.15s is not finite (%g at %g, in flight +%g -%g): reconcile the "
					   "book with the broker and start a new run; a release cannot repair it",
					   s->symbol, s->position, s->average_price, s->pending_buy, s->pending_sell);
		if (!isfinite(s->mark) || !(s->mark >= 0 && s->mark <= ARK_TICK_PRICE_CEILING)) {
			s->mark = 0;            /* the next valid tick marks it again */
			s->mark_time_ns = 0;
		}
		struct contribution c = contribution_of(s);
		mark_sum += c.mark;
		cost_sum += c.cost;
		gross += c.gross;
	}
	if (!isfinite(st->realised_pnl))
		return ark_err_set(err, -EIO, "the realised P&L is not finite (%g): reconcile the book with the broker and "
					      "start a new run; a release cannot repair it", st->realised_pnl);
	st->position_mark_sum = mark_sum;
	st->position_cost_sum = cost_sum;
	st->gross_exposure = gross;
	if (!isfinite(st->day_base_pnl))
		st->day_base_pnl = equity(st);
	const char *bad = non_finite(st, NULL);
	if (bad || !isfinite(mark_sum) || !isfinite(gross))
		return ark_err_set(err, -EIO, "still not finite after recomputing: %s", bad ? bad : "the sums");
	st->state_corrupt = 0;
	st->corrupt_detail[0] = '\0';
	return 0;
}
