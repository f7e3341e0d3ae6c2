/* synth/synth.c — ark_synth_next: clean random-walk ticks and, when the
 * violation credit comes due, an injection burst played op by op.
 *
 * Invariants: the output depends only on the seed, the config and the rules;
 * the market clock never runs backwards (only a REFERENCE_PRICE tick may
 * carry an older or zero time, and it does not move the clock); a setup step
 * is sent only when the generator's model of HRM's windows says it will pass
 * (otherwise the clock jumps past every window first); every injection
 * leaves its symbols flat. No I/O, allocation or system call. */
#include "synth/synth.h"

#include <math.h>
#include <string.h>

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t next_u64(struct ark_synth *gen)
{
	uint64_t *s = gen->rng;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static inline double uniform(struct ark_synth *gen)
{
	return (double)(next_u64(gen) >> 11) * 0x1.0p-53;
}

static inline uint32_t bounded(struct ark_synth *gen, uint32_t n)
{
	return (uint32_t)(((next_u64(gen) >> 32) * (uint64_t)n) >> 32);
}

static void tick_base(struct ark_tick *out, const char *symbol, double price, double size, uint64_t t)
{
	memset(out, 0, sizeof *out);
	memcpy(out->symbol, symbol, ARK_SYMBOL_MAX);
	out->symbol[ARK_SYMBOL_MAX - 1] = '\0';
	out->price = price;
	out->size = size;
	out->exchange_time_ns = t;
	out->source = ARK_SOURCE_SYNTHETIC;
	out->flags = ARK_EVENT_SYNTHETIC;
}

static void clean_tick(struct ark_synth *gen, struct ark_tick *out)
{
	struct ark_synth_symbol *s = &gen->symbols[bounded(gen, gen->symbol_count)];
	/* A near-normal step (sum of four uniforms, unit variance), 2 bp sigma. */
	double z = (uniform(gen) + uniform(gen) + uniform(gen) + uniform(gen) - 2.0) * 1.7320508075688772;
	double lp = s->log_price + 2e-4 * z;
	if (lp > s->log_high)
		lp = 2 * s->log_high - lp;
	if (lp < s->log_low)
		lp = 2 * s->log_low - lp;
	s->log_price = lp;
	gen->now_ns += gen->period_ns;
	tick_base(out, s->name, exp(lp), 100.0 * (1 + bounded(gen, 10)), gen->now_ns);
	gen->clean++;
}

/* ---- the generator's model of HRM's rate windows and duplicate memory ---- */

static void jump(struct ark_synth *gen)
{
	gen->now_ns += gen->gap_ns;
	gen->window_epoch++;
	gen->window_total = 0;
}

static uint32_t window_count(const struct ark_synth *gen, const struct ark_synth_pool_symbol *p)
{
	return p->window_epoch == gen->window_epoch ? p->window_count : 0;
}

/* Jump first when HRM would deny this setup order for a full window or as a
 * duplicate (the model over-counts, never under-counts: it forgets nothing
 * until a jump). */
static void space_order(struct ark_synth *gen, const struct ark_synth_pool_symbol *p, uint8_t side, double q,
			double price, bool check_duplicate)
{
	bool duplicate = check_duplicate && p->window_epoch == gen->window_epoch && p->last_side == side &&
			 p->last_quantity == q && p->last_price == price;
	if (gen->window_total >= gen->limits.order_rate_count ||
	    window_count(gen, p) >= gen->limits.order_rate_per_symbol_count || duplicate)
		jump(gen);
}

static void record_order(struct ark_synth *gen, struct ark_synth_pool_symbol *p, uint8_t side, double q, double price)
{
	if (p->window_epoch != gen->window_epoch) {
		p->window_epoch = gen->window_epoch;
		p->window_count = 0;
	}
	p->window_count++;
	gen->window_total++;
	p->last_side = side;
	p->last_quantity = q;
	p->last_price = price;
}

/* A lane-1 order on a pool symbol: signed quantity in the size. */
static void setup_order(struct ark_synth *gen, struct ark_tick *out, uint32_t symbol, double price, double signed_q,
			bool space)
{
	struct ark_synth_pool_symbol *p = &gen->pool[symbol];
	uint8_t side = signed_q > 0 ? ARK_SIDE_BUY : ARK_SIDE_SELL;
	if (space)
		space_order(gen, p, side, fabs(signed_q), price, true);
	gen->now_ns += 1;
	tick_base(out, p->name, price, signed_q, gen->now_ns);
	record_order(gen, p, side, fabs(signed_q), price);
}

static void mark_injected(struct ark_synth *gen, struct ark_tick *out, uint8_t lane)
{
	out->flags |= ARK_EVENT_INJECTED;
	out->injected_kind = (uint8_t)gen->burst_kind;
	out->lane = lane;
	out->burst = (uint16_t)gen->bursts;
	if (lane == 0)
		gen->lane0[gen->burst_kind]++;
	else
		gen->lane1[gen->burst_kind]++;
}

static void violation(struct ark_synth *gen, const struct ark_synth_op *op, struct ark_tick *out)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	const char *name;
	if (op->source == 1)
		name = l->restricted[op->symbol];
	else if (op->source == 2)
		name = gen->pattern_symbols[op->symbol];
	else
		name = gen->pool[op->symbol].name;
	if (op->space) {
		struct ark_synth_pool_symbol *p = &gen->pool[op->symbol];
		space_order(gen, p, op->quantity > 0 ? ARK_SIDE_BUY : ARK_SIDE_SELL, fabs(op->quantity), op->price, false);
	}
	double price = op->price;
	uint64_t t;
	switch (op->variant) {
	case 1: price = 0; break;
	case 2: price = NAN; break;
	case 3: price = INFINITY; break;
	case 4: price = -price; break;
	default: break;
	}
	if (op->variant == 5) {
		t = 0;                                          /* missing time */
	} else if (op->variant == 6) {
		t = gen->now_ns - l->reference_max_age_ns - 1000;  /* stale */
	} else {
		gen->now_ns += gen->burst_stateless ? gen->period_ns : 1;
		t = gen->now_ns;
	}
	tick_base(out, name, price, op->quantity != 0 ? op->quantity : 100.0, t);
}

/* Play the burst until it yields a tick (1) or ends (0). */
static int burst_step(struct ark_synth *gen, struct ark_tick *out)
{
	while (gen->op_index < gen->op_count) {
		struct ark_synth_op *op = &gen->ops[gen->op_index];
		switch ((enum ark_synth_op_kind)op->kind) {
		case ARK_SYNTH_OP_JUMP:
			jump(gen);
			break;
		case ARK_SYNTH_OP_INTENT:
			setup_order(gen, out, op->symbol, op->price, op->quantity, true);
			gen->op_index++;
			mark_injected(gen, out, 1);
			return 1;
		case ARK_SYNTH_OP_MARK:
			gen->now_ns += 1;
			tick_base(out, gen->pool[op->symbol].name, op->price, 0, gen->now_ns);
			gen->op_index++;
			mark_injected(gen, out, 1);
			return 1;
		case ARK_SYNTH_OP_CHUNKS: {
			double total = fabs(op->quantity), left = total - gen->op_done;
			if (left > total * 1e-12) {
				double q = left - op->chunk > total * 1e-12 ? op->chunk : left;
				gen->op_done += q;
				setup_order(gen, out, op->symbol, op->price, op->quantity > 0 ? q : -q, true);
				mark_injected(gen, out, 1);
				return 1;
			}
			gen->op_done = 0;
			break;
		}
		case ARK_SYNTH_OP_ALTERNATE:
			if (gen->op_step < op->count) {
				uint32_t i = gen->op_step++;
				uint32_t nth = i / op->symbol_span;   /* the nth order on its symbol */
				double q = nth % 2 == 0 ? op->quantity : -op->quantity;
				setup_order(gen, out, op->symbol + i % op->symbol_span, op->price, q, false);
				mark_injected(gen, out, 1);
				return 1;
			}
			break;
		case ARK_SYNTH_OP_FLATTEN_ALTERNATE:
			/* A symbol that got an odd number of orders holds +quantity. */
			while (gen->op_step < op->symbol_span) {
				uint32_t j = gen->op_step++;
				uint32_t got = op->count / op->symbol_span + (j < op->count % op->symbol_span);
				if (got % 2 == 1) {
					setup_order(gen, out, op->symbol + j, op->price, -op->quantity, true);
					mark_injected(gen, out, 1);
					return 1;
				}
			}
			break;
		case ARK_SYNTH_OP_VIOLATION:
			violation(gen, op, out);
			gen->op_index++;
			mark_injected(gen, out, 0);
			return 1;
		}
		gen->op_index++;
		gen->op_step = 0;
	}
	gen->in_burst = 0;
	return 0;
}

/* ---- composing bursts ---- */

static struct ark_synth_op *add(struct ark_synth *gen, enum ark_synth_op_kind kind)
{
	struct ark_synth_op *op = &gen->ops[gen->op_count++];
	memset(op, 0, sizeof *op);
	op->kind = (uint8_t)kind;
	return op;
}

static void add_order(struct ark_synth *gen, enum ark_synth_op_kind kind, uint32_t symbol, double price, double q,
		      double chunk)
{
	struct ark_synth_op *op = add(gen, kind);
	op->symbol = symbol;
	op->price = price;
	op->quantity = q;
	op->chunk = chunk;
}

static struct ark_synth_op *add_violation(struct ark_synth *gen, uint32_t symbol, double price, double q, bool space)
{
	struct ark_synth_op *op = add(gen, ARK_SYNTH_OP_VIOLATION);
	op->symbol = symbol;
	op->price = price;
	op->quantity = q;
	op->space = space;
	return op;
}

/* `count` consecutive pool symbols, rotating through the pool. */
static uint32_t take_symbols(struct ark_synth *gen, uint32_t count)
{
	if (gen->pool_next + count > gen->pool_count)
		gen->pool_next = 0;
	uint32_t first = gen->pool_next;
	gen->pool_next += count;
	return first;
}

/* A burst whose violation is a single order: nothing to set up or undo. */
static void burst_stateless(struct ark_synth *gen, enum ark_reason kind)
{
	const struct ark_synth_plan *pl = &gen->plan;
	const double u = pl->unit, p = pl->small_price;
	struct ark_synth_op *op;
	gen->burst_stateless = 1;
	switch (kind) {
	case ARK_REASON_REDUCING_ONLY:
		add_violation(gen, take_symbols(gen, 1), p, u, false);
		break;
	case ARK_REASON_MAX_NOTIONAL:
		add_violation(gen, take_symbols(gen, 1), pl->notional_price, 0, false);
		break;
	case ARK_REASON_REFERENCE_PRICE:
		op = add_violation(gen, take_symbols(gen, 1), p, 0, false);
		op->variant = (uint8_t)(1 + gen->reference_variant++ % 6);
		break;
	case ARK_REASON_RESTRICTED_SYMBOL:
		op = add_violation(gen, gen->restricted_next++ % gen->limits.restricted_count, p, 0, false);
		op->source = 1;
		break;
	case ARK_REASON_RESTRICTED_PATTERN:
		op = add_violation(gen, gen->pattern_next++ % gen->pattern_symbol_count, p, 0, false);
		op->source = 2;
		break;
	default:   /* HALTED, MAX_QUANTITY, PRICE_COLLAR */
		add_violation(gen, take_symbols(gen, 1), p, 0, false);
		break;
	}
}

/* The alternating orders a rate burst fills its window with (or takes back). */
static void add_alternate(struct ark_synth *gen, enum ark_synth_op_kind kind, uint32_t s, uint32_t span,
			  uint32_t count)
{
	struct ark_synth_op *op = add(gen, kind);
	op->symbol = s;
	op->symbol_span = span;
	op->count = count;
	op->price = gen->plan.small_price;
	op->quantity = gen->plan.unit;
}

static void burst_rate(struct ark_synth *gen, enum ark_reason kind)
{
	const struct ark_synth_plan *pl = &gen->plan;
	const struct ark_graveyard_limits *l = &gen->limits;
	const double u = pl->unit, p = pl->small_price;
	uint32_t span = kind == ARK_REASON_RATE_SYMBOL ? 1 : pl->global_symbols;
	uint32_t count = kind == ARK_REASON_RATE_SYMBOL ? l->order_rate_per_symbol_count : l->order_rate_count;
	uint32_t s = take_symbols(gen, span);
	add(gen, ARK_SYNTH_OP_JUMP);
	add_alternate(gen, ARK_SYNTH_OP_ALTERNATE, s, span, count);
	/* One more order, on the next symbol in turn, the next side in turn. */
	uint32_t nth = count / span;
	add_violation(gen, s + count % span, p, nth % 2 == 0 ? u : -u, false);
	add(gen, ARK_SYNTH_OP_JUMP);
	add_alternate(gen, ARK_SYNTH_OP_FLATTEN_ALTERNATE, s, span, count);
	add(gen, ARK_SYNTH_OP_JUMP);
}

static void burst_gross(struct ark_synth *gen)
{
	const struct ark_synth_plan *pl = &gen->plan;
	uint32_t s = take_symbols(gen, pl->gross_symbols + 1);
	add(gen, ARK_SYNTH_OP_JUMP);
	double left = pl->gross_setup_quantity;
	for (uint32_t k = 0; k < pl->gross_symbols && left > 0; k++) {
		double q = fmin(gen->limits.max_position, left);
		add_order(gen, ARK_SYNTH_OP_CHUNKS, s + k, pl->gross_price, q, pl->gross_chunk);
		left -= q;
	}
	uint32_t built = gen->op_count;
	add_violation(gen, s + pl->gross_symbols, pl->gross_price, pl->gross_lane0, true);
	for (uint32_t k = 1; k < built; k++) {
		struct ark_synth_op *undo = &gen->ops[k];
		add_order(gen, ARK_SYNTH_OP_CHUNKS, undo->symbol, undo->price, -undo->quantity, undo->chunk);
	}
	add(gen, ARK_SYNTH_OP_JUMP);
}

static void start_burst(struct ark_synth *gen, enum ark_reason kind)
{
	const struct ark_synth_plan *pl = &gen->plan;
	const struct ark_graveyard_limits *l = &gen->limits;
	gen->in_burst = 1;
	gen->burst_kind = kind;
	gen->burst_stateless = 0;
	gen->op_count = gen->op_index = gen->op_step = 0;
	gen->op_done = 0;
	const double u = pl->unit, p = pl->small_price;
	uint32_t s;
	switch (kind) {
	case ARK_REASON_HALTED:
	case ARK_REASON_MAX_QUANTITY:
	case ARK_REASON_PRICE_COLLAR:
	case ARK_REASON_REDUCING_ONLY:
	case ARK_REASON_MAX_NOTIONAL:
	case ARK_REASON_REFERENCE_PRICE:
	case ARK_REASON_RESTRICTED_SYMBOL:
	case ARK_REASON_RESTRICTED_PATTERN:
		burst_stateless(gen, kind);
		break;
	case ARK_REASON_DUPLICATE:
		s = take_symbols(gen, 1);
		add(gen, ARK_SYNTH_OP_JUMP);
		add_order(gen, ARK_SYNTH_OP_INTENT, s, p, u, 0);
		add_violation(gen, s, p, u, false);
		add(gen, ARK_SYNTH_OP_JUMP);
		add_order(gen, ARK_SYNTH_OP_INTENT, s, p, -u, 0);
		add(gen, ARK_SYNTH_OP_JUMP);
		break;
	case ARK_REASON_RATE_SYMBOL:
	case ARK_REASON_RATE_GLOBAL:
		burst_rate(gen, kind);
		break;
	case ARK_REASON_POSITION_LIMIT:
		s = take_symbols(gen, 1);
		add(gen, ARK_SYNTH_OP_JUMP);
		add_order(gen, ARK_SYNTH_OP_CHUNKS, s, pl->position_price, l->max_position, pl->position_chunk);
		add_violation(gen, s, pl->position_price, pl->position_lane0, true);
		add_order(gen, ARK_SYNTH_OP_CHUNKS, s, pl->position_price, -l->max_position, pl->position_chunk);
		add(gen, ARK_SYNTH_OP_JUMP);
		break;
	case ARK_REASON_GROSS_EXPOSURE:
		burst_gross(gen);
		break;
	case ARK_REASON_DAILY_LOSS:   /* the finale: nothing after it */
		s = take_symbols(gen, 1);
		add(gen, ARK_SYNTH_OP_JUMP);
		add_order(gen, ARK_SYNTH_OP_INTENT, s, pl->loss_price, -pl->loss_quantity, 0);
		add_order(gen, ARK_SYNTH_OP_MARK, s, pl->loss_mark, 0, 0);
		add_violation(gen, s, pl->loss_mark, u, false);
		break;
	default:
		gen->in_burst = 0;   /* never planned: kinds[] holds only injectable kinds */
		break;
	}
}

void ark_synth_finish(struct ark_synth *gen)
{
	gen->finishing = 1;
}

/* After the stream's last tick: the finale's, then nothing. */
static int finale_next(struct ark_synth *gen, struct ark_tick *out)
{
	if (gen->finale_pending) {
		gen->finale_pending = 0;
		gen->bursts++;
		start_burst(gen, ARK_REASON_DAILY_LOSS);
	} else if (gen->in_burst && gen->burst_kind != ARK_REASON_DAILY_LOSS) {
		gen->in_burst = 0;   /* a burst the end cut short */
	}
	if (!gen->in_burst || !burst_step(gen, out))
		return 0;
	gen->emitted++;
	out->source_seq = gen->emitted;
	return 1;
}

int ark_synth_next(struct ark_synth *gen, struct ark_tick *out)
{
	/* A paced run's rate x duration ticks end with the finale's. */
	uint64_t finale = gen->finale_pending ? (uint64_t)gen->plan.burst_ticks[ARK_REASON_DAILY_LOSS] : 0;
	if (gen->finishing || (gen->max_ticks && gen->emitted + finale >= gen->max_ticks))
		return finale_next(gen, out);
	for (;;) {
		if (!gen->in_burst) {
			if (gen->kind_count && gen->credit >= 1.0) {
				enum ark_reason kind = (enum ark_reason)gen->kinds[gen->next_kind];
				gen->next_kind = (gen->next_kind + 1) % gen->kind_count;
				gen->credit -= 1;
				gen->bursts++;
				start_burst(gen, kind);
			} else {
				clean_tick(gen, out);
				break;
			}
		}
		if (burst_step(gen, out))
			break;
	}
	gen->emitted++;
	out->source_seq = gen->emitted;
	gen->credit += gen->violations;
	return 1;
}
