/* synth/synth_plan.c — ark_synth_init: the symbol universe, the injection
 * symbols, and for every rule kind whether and how it can be injected under
 * these rules (prices and chunk sizes that respect every other cap).
 *
 * Invariants: no clean symbol is restricted or shared with an injection;
 * every order a plan sends as a setup step passes every rule on its own
 * (quantity, collar, notional, position, gross exposure); and the requested
 * violation fraction leaves at least 40 % of the stream clean. */
#include "synth/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BASE_PRICE 100.0

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A whole number of units when chunks are at least one unit. */
static double whole(double q)
{
	return q >= 1 ? floor(q) : q;
}

static bool name_taken(const struct ark_synth *gen, const char *name)
{
	for (uint32_t i = 0; i < gen->symbol_count; i++)
		if (strcasecmp(gen->symbols[i].name, name) == 0)
			return true;
	for (uint32_t i = 0; i < gen->pool_count; i++)
		if (strcasecmp(gen->pool[i].name, name) == 0)
			return true;
	return false;
}

static void set_status(struct ark_synth *gen, enum ark_reason kind, const char *fmt, const char *detail)
{
	snprintf(gen->kind_status[kind], sizeof gen->kind_status[kind], fmt, detail);
}

/* A symbol matching pattern p, restricted by no listed symbol, not in use. */
static bool make_pattern_symbol(const struct ark_synth *gen, const struct ark_graveyard_pattern *p, char out[ARK_SYMBOL_MAX])
{
	static const char *const fills[] = {"INJ", "X", "", "XX9"};
	for (size_t f = 0; f < ARK_ARRAY_LEN(fills); f++) {
		char cand[64];
		size_t n = 0;
		for (size_t i = 0; i < p->length && n < sizeof cand - 4; i++) {
			if (p->text[i] == '*') {
				n += (size_t)snprintf(cand + n, sizeof cand - n, "%s", fills[f]);
			} else {
				cand[n++] = p->text[i] == '?' ? 'Q' : p->text[i];
			}
		}
		cand[n] = '\0';
		if (n == 0 || n >= ARK_SYMBOL_MAX || !ark_graveyard_pattern_match(p, cand) || name_taken(gen, cand))
			continue;
		if (ark_graveyard_symbol_restriction(&gen->limits, cand) != ARK_REASON_RESTRICTED_PATTERN)
			continue;
		memset(out, 0, ARK_SYMBOL_MAX);
		memcpy(out, cand, n);
		return true;
	}
	return false;
}

static int make_universe(struct ark_synth *gen, const struct ark_synth_config *c, struct ark_err *err)
{
	uint32_t n = c->symbol_list_count ? c->symbol_list_count : c->symbol_count;
	if (n == 0 || n > ARK_SYNTH_MAX_SYMBOLS)
		return ark_err_set(err, -EINVAL, "synthetic source: expected 1 to %d symbols, got %u",
				   ARK_SYNTH_MAX_SYMBOLS, n);
	uint64_t sm = c->seed ^ 0x5bd1e9955bd1e995ull;
	for (uint32_t i = 0; i < n; i++) {
		struct ark_synth_symbol *s = &gen->symbols[i];
		memset(s->name, 0, sizeof s->name);
		if (c->symbol_list_count)
			memcpy(s->name, c->symbols[i], strnlen(c->symbols[i], ARK_SYMBOL_MAX - 1));
		else
			snprintf(s->name, sizeof s->name, "SYM%04u", i + 1);
		enum ark_reason r = ark_graveyard_symbol_restriction(&gen->limits, s->name);
		if (r != ARK_REASON_NONE)
			return ark_err_set(err, -EINVAL,
					   "synthetic source: symbol '%s' is restricted by the rules (%s); clean ticks "
					   "never carry a restricted symbol",
					   s->name, ark_reason_name(r));
		if (strncasecmp(s->name, "INJ", 3) == 0)
			return ark_err_set(err, -EINVAL,
					   "synthetic source: symbol '%s': names starting INJ are kept for injections",
					   s->name);
		/* p0 from 10 to 500, log-uniform; the walk stays within e^+-2 of it. */
		double u = (double)(splitmix64(&sm) >> 11) * 0x1.0p-53;
		double p0 = 10.0 * exp(u * log(50.0));
		s->log_price = log(p0);
		s->log_low = s->log_price - 2;
		s->log_high = s->log_price + 2;
		gen->symbol_count = i + 1;
	}
	return 0;
}

static void make_pool(struct ark_synth *gen, uint32_t want)
{
	uint32_t number = 1;
	gen->pool_count = 0;
	while (gen->pool_count < want && number < 10000) {
		char name[ARK_SYMBOL_MAX] = {0};
		snprintf(name, sizeof name, "INJ%04u", number++);
		if (ark_graveyard_symbol_restriction(&gen->limits, name) != ARK_REASON_NONE || name_taken(gen, name))
			continue;
		struct ark_synth_pool_symbol *p = &gen->pool[gen->pool_count++];
		memset(p, 0, sizeof *p);
		memcpy(p->name, name, sizeof name);
	}
}

/* Decide, kind by kind, whether and how to inject; fill the plan. */
/* The kinds no tick can show, or these rules and this clock cannot; false
 * when the trading state is HALTED (every order is denied that first). */
static bool plan_reachable(struct ark_synth *gen, uint64_t start_ns)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	const bool halted = l->trading_state == ARK_TRADING_HALTED;
	for (int k = 0; k < ARK_REASON_COUNT; k++) {
		gen->kind_status[k][0] = '\0';
		gen->plan.burst_ticks[k] = 1;
	}
	set_status(gen, ARK_REASON_NONE, "%s", "not a rule kind");
	set_status(gen, ARK_REASON_ETHICS_DRIFT, "%s", "drift is a change of the rules, not a tick: tested by the graveyard tests");
	set_status(gen, ARK_REASON_QUARANTINED, "%s", "quarantine is the watchdog's input, not a tick");
	set_status(gen, ARK_REASON_STATE_CORRUPT, "%s", "a corrupt state is not a tick: the edges keep it out");
	if (!halted)
		set_status(gen, ARK_REASON_HALTED, "%s",
			   "needs trading state HALTED, which would deny every clean order after it");
	if (l->trading_state != ARK_TRADING_REDUCING)
		set_status(gen, ARK_REASON_REDUCING_ONLY, "%s",
			   "needs trading state REDUCING, which would deny clean orders after it");
	if (halted) {
		for (int k = ARK_REASON_REDUCING_ONLY; k <= ARK_REASON_DAILY_LOSS; k++)
			set_status(gen, (enum ark_reason)k, "%s", "every order is denied HALTED first");
		return false;
	}
	if (l->restricted_count == 0)
		set_status(gen, ARK_REASON_RESTRICTED_SYMBOL, "%s", "restricted_symbols is none");
	gen->pattern_symbol_count = 0;
	for (uint32_t i = 0; i < l->pattern_count; i++)
		if (make_pattern_symbol(gen, &l->patterns[i], gen->pattern_symbols[gen->pattern_symbol_count]))
			gen->pattern_symbol_count++;
	if (gen->pattern_symbol_count == 0)
		set_status(gen, ARK_REASON_RESTRICTED_PATTERN, "%s",
			   l->pattern_count ? "no symbol matches a pattern without a listed symbol" : "restricted_patterns is none");
	if (start_ns <= l->reference_max_age_ns + 2 * ARK_GRAVEYARD_DAY_NS)
		set_status(gen, ARK_REASON_REFERENCE_PRICE, "%s", "the market clock starts too early for a stale tick");
	return true;
}

static void plan_rates(struct ark_synth *gen)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	struct ark_synth_plan *pl = &gen->plan;
	const uint32_t n = l->order_rate_count, m = l->order_rate_per_symbol_count;
	/* RATE_SYMBOL: m orders on one symbol fill its window; lane 0 is one more. */
	if (m > n)
		set_status(gen, ARK_REASON_RATE_SYMBOL, "%s", "order_rate_per_symbol exceeds order_rate: the overall limit denies first");
	else if ((uint64_t)m + 2 >= l->order_rate_per_symbol_window_ns)
		set_status(gen, ARK_REASON_RATE_SYMBOL, "%s", "the per-symbol window is shorter than a burst of 1 ns steps");
	pl->burst_ticks[ARK_REASON_RATE_SYMBOL] = m + 1 + (m & 1);

	/* RATE_GLOBAL: n orders over enough symbols that none fills its own window. */
	if (pl->global_symbols + 1 > ARK_SYNTH_POOL_MAX)
		set_status(gen, ARK_REASON_RATE_GLOBAL, "%s", "filling order_rate needs more symbols than the injection pool holds");
	else if ((uint64_t)n + 2 >= l->order_rate_window_ns)
		set_status(gen, ARK_REASON_RATE_GLOBAL, "%s", "the order_rate window is shorter than a burst of 1 ns steps");
	pl->burst_ticks[ARK_REASON_RATE_GLOBAL] = n + 1 + fmin(pl->global_symbols, n);
}

/* A kind shown by building a book up to `limit` in `steps` allowed orders
 * and taking it back: not injected when that takes too many orders, or when
 * the order past the limit is too small to pass it visibly. */
static void plan_build_up(struct ark_synth *gen, enum ark_reason kind, const char *limit, double steps,
			  bool too_many, bool too_small)
{
	if (too_many)
		set_status(gen, kind, "%s takes too many allowed orders to reach", limit);
	else if (too_small)
		set_status(gen, kind, "no allowed order is big enough to pass %s visibly", limit);
	gen->plan.burst_ticks[kind] = 2 * steps + 1;
}

/* POSITION_LIMIT: build exactly max_position, then u more. */
static void plan_position(struct ark_synth *gen)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	struct ark_synth_plan *pl = &gen->plan;
	const double qmax = l->max_order_quantity, nmax = l->max_order_notional, pmax = l->max_position;
	pl->position_price = fmin(BASE_PRICE, 0.5 * l->max_gross_exposure / pmax);
	pl->position_chunk = whole(fmin(fmin(qmax, 0.9 * nmax / pl->position_price), pmax));
	pl->position_lane0 = fmin(pl->unit, 0.9 * nmax / (pl->position_price * (1 + l->price_collar / 2)));
	double steps = ceil(pmax / pl->position_chunk);
	plan_build_up(gen, ARK_REASON_POSITION_LIMIT, "max_position", steps, steps > ARK_SYNTH_MAX_STEPS,
		      pl->position_lane0 <= pmax * 1e-6);
}

/* GROSS_EXPOSURE: positions worth max - n0/2, then an order worth n0. */
static void plan_gross(struct ark_synth *gen)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	struct ark_synth_plan *pl = &gen->plan;
	const double qmax = l->max_order_quantity, nmax = l->max_order_notional, pmax = l->max_position;
	const double gmax = l->max_gross_exposure;
	double price = BASE_PRICE, chunk = 0, lane0 = 0, setup = 0, symbols = 0;
	for (int iter = 0; iter < 3; iter++) {
		chunk = whole(fmin(fmin(qmax, 0.9 * nmax / price), pmax));
		lane0 = chunk * price;
		setup = fmax(0, gmax - lane0 / 2);
		symbols = ceil(setup / (pmax * price));
		if (symbols <= 16)
			break;
		price = setup / (pmax * 16) * 1.001;
	}
	pl->gross_price = price;
	pl->gross_chunk = chunk;
	pl->gross_lane0 = chunk;
	pl->gross_setup_quantity = setup / price;
	pl->gross_symbols = (uint32_t)symbols;
	double gross_steps = ceil(pl->gross_setup_quantity / chunk) + symbols;
	plan_build_up(gen, ARK_REASON_GROSS_EXPOSURE, "max_gross_exposure", gross_steps,
		      symbols > 16 || gross_steps > ARK_SYNTH_MAX_STEPS, lane0 / 2 <= gmax * 1e-6);
}

/* DAILY_LOSS, the finale: short Q, mark a loss of 4 x the limit, lane 0.
 * The latch holds until the next trading day by the wall clock, so it
 * ends the stream: nothing is bought back, nothing clean follows. */
static void plan_loss(struct ark_synth *gen)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	struct ark_synth_plan *pl = &gen->plan;
	const double qmax = l->max_order_quantity, nmax = l->max_order_notional, pmax = l->max_position;
	pl->loss_price = BASE_PRICE;
	pl->loss_quantity = whole(fmin(fmin(qmax, pmax), fmin(0.5 * nmax, 0.25 * l->max_gross_exposure) / pl->loss_price));
	pl->loss_mark = pl->loss_price + 4 * l->daily_loss_limit / pl->loss_quantity;
	if (!isfinite(pl->loss_mark) || !(pl->loss_mark <= ARK_TICK_PRICE_CEILING))
		set_status(gen, ARK_REASON_DAILY_LOSS, "%s", "a mark that loses the limit would be no valid price");
	pl->burst_ticks[ARK_REASON_DAILY_LOSS] = 3;
}

static void plan_kinds(struct ark_synth *gen, uint64_t start_ns)
{
	const struct ark_graveyard_limits *l = &gen->limits;
	struct ark_synth_plan *pl = &gen->plan;
	const double nmax = l->max_order_notional, gmax = l->max_gross_exposure;
	const uint32_t n = l->order_rate_count, m = l->order_rate_per_symbol_count;

	pl->unit = ark_graveyard_unit_quantity(l);
	pl->global_symbols = m >= 2 ? (n + m - 2) / (m - 1) : n + 1;
	pl->small_price = fmin(BASE_PRICE, fmin(0.25 * nmax / pl->unit, 0.5 * gmax / (pl->unit * (pl->global_symbols + 1))));
	pl->notional_price = 2 * nmax / l->max_order_quantity;

	if (!plan_reachable(gen, start_ns))
		return;
	const enum ark_reason stateful[] = {ARK_REASON_DUPLICATE, ARK_REASON_RATE_SYMBOL, ARK_REASON_RATE_GLOBAL,
					    ARK_REASON_POSITION_LIMIT, ARK_REASON_GROSS_EXPOSURE, ARK_REASON_DAILY_LOSS};
	if (l->trading_state != ARK_TRADING_ACTIVE) {
		for (size_t i = 0; i < ARK_ARRAY_LEN(stateful); i++)
			set_status(gen, stateful[i], "needs setup orders, which the rules' trading state %s denies",
				   ark_trading_state_name(l->trading_state));
		return;
	}
	/* DUPLICATE: buy u, the same again, sell u. */
	pl->burst_ticks[ARK_REASON_DUPLICATE] = 3;
	plan_rates(gen);
	plan_position(gen);
	plan_gross(gen);
	plan_loss(gen);
}

int ark_synth_init(struct ark_synth *gen, const struct ark_synth_config *c, const struct ark_graveyard_rules *rules,
		   struct ark_err *err)
{
	memset(gen, 0, sizeof *gen);
	if (!(c->rate_hz == 0 || (c->rate_hz >= 0.1 && c->rate_hz <= 1e9)))
		return ark_err_set(err, -EINVAL, "synthetic source: rate %g outside 0.1 .. 1e9 (or 0, unpaced)", c->rate_hz);
	if (!(c->violations >= 0 && c->violations <= ARK_SYNTH_MAX_VIOLATIONS))
		return ark_err_set(err, -EINVAL, "synthetic source: violations %g outside 0 .. %g", c->violations,
				   ARK_SYNTH_MAX_VIOLATIONS);
	if (c->unpaced_period_ns == 0 && c->rate_hz == 0)
		return ark_err_set(err, -EINVAL, "synthetic source: the unpaced market-clock period must be at least 1 ns");
	gen->limits = rules->limits;
	gen->rate_hz = c->rate_hz;
	gen->violations = c->violations;
	gen->period_ns = c->rate_hz > 0 ? (uint64_t)fmax(1, llround(1e9 / c->rate_hz)) : c->unpaced_period_ns;
	gen->max_ticks = c->rate_hz > 0 && c->duration_ns ? (uint64_t)ceil(c->rate_hz * (double)c->duration_ns / 1e9) : 0;
	gen->now_ns = c->start_ns ? c->start_ns : ARK_SYNTH_DEFAULT_START_NS;
	const struct ark_graveyard_limits *l = &gen->limits;
	gen->gap_ns = ARK_MAX(ARK_MAX(l->order_rate_window_ns, l->order_rate_per_symbol_window_ns),
			      l->duplicate_window_ns) + 1000;

	uint64_t sm = c->seed;
	for (int i = 0; i < 4; i++)
		gen->rng[i] = splitmix64(&sm);

	int rc = make_universe(gen, c, err);
	if (rc)
		return rc;
	plan_kinds(gen, gen->now_ns);
	uint32_t pool = 16;
	if (!gen->kind_status[ARK_REASON_RATE_GLOBAL][0])
		pool = ARK_MAX(pool, gen->plan.global_symbols + 1);
	if (!gen->kind_status[ARK_REASON_GROSS_EXPOSURE][0])
		pool = ARK_MAX(pool, gen->plan.gross_symbols + 2);
	make_pool(gen, ARK_MIN(pool, ARK_SYNTH_POOL_MAX));
	if (gen->pool_count < ARK_MIN(pool, ARK_SYNTH_POOL_MAX))
		return ark_err_set(err, -EINVAL, "synthetic source: the rules restrict too many INJnnnn names");
	/* Pattern symbols were made before the pool: re-check they stay unique. */
	for (uint32_t i = 0; i < gen->pattern_symbol_count; i++)
		for (uint32_t j = 0; j < gen->pool_count; j++)
			if (strcasecmp(gen->pattern_symbols[i], gen->pool[j].name) == 0)
				return ark_err_set(err, -EINVAL, "synthetic source: pattern symbol %s collides with the pool",
						   gen->pattern_symbols[i]);

	double ticks = 0;
	/* DAILY_LOSS halts trading until the next trading day (by the wall
	 * clock): it is the stream's finale, played once at its end. */
	gen->finale_pending = gen->violations > 0 && !gen->kind_status[ARK_REASON_DAILY_LOSS][0];
	for (int k = 0; k < ARK_REASON_COUNT; k++)
		if (!gen->kind_status[k][0] && k != ARK_REASON_DAILY_LOSS) {
			gen->kinds[gen->kind_count++] = (uint8_t)k;
			ticks += gen->plan.burst_ticks[k];
		}
	if (gen->violations > 0 && gen->kind_count == 0 && !gen->finale_pending)
		return ark_err_set(err, -EINVAL, "synthetic source: the rules leave no rule kind that can be injected");
	if (gen->kind_count && gen->violations * ticks / gen->kind_count > 0.6)
		return ark_err_set(err, -EINVAL,
				   "synthetic source: violations %g is too many for these rules: an injection takes "
				   "%.1f ticks on average, so at most %.4f leaves 40 %% of the stream clean",
				   gen->violations, ticks / gen->kind_count, 0.6 * gen->kind_count / ticks);
	return 0;
}

const char *ark_synth_kind_status(const struct ark_synth *gen, enum ark_reason kind)
{
	if ((unsigned)kind >= ARK_REASON_COUNT)
		return "not a rule kind";
	return gen->kind_status[kind][0] ? gen->kind_status[kind] : NULL;
}

bool ark_synth_injects(const struct ark_synth *gen, enum ark_reason kind)
{
	return ark_synth_kind_status(gen, kind) == NULL;
}

uint32_t ark_synth_symbol_budget(const struct ark_synth *gen)
{
	return gen->symbol_count + gen->pool_count + gen->limits.restricted_count + gen->pattern_symbol_count;
}
