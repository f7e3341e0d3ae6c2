/* tests/agents/test_joey.c — Joey's decisions, through the agent's own start
 * and process functions on a real segment, on crafted series: no intent
 * during the warm-up however far the price moves; a drop far below the slow
 * average buys and a jump far above sells, at the current price, with the
 * documented quantity; a small move does nothing; the cooldown in market
 * time; a quarantined Joey emits nothing; a HALTED rules file stops every
 * intent, a REDUCING one every intent that would open a position; a bad
 * print (an outlier by Joey's own rule) ignored, eight in a row taken as a
 * new level. Then a random walk with jumps on several symbols, every event's
 * decision checked against a model written from the rule as README and
 * agents/joey.c state it. */
#include "agents_test.h"

#include <math.h>

static const char *rules_path;
static double base_quantity = 10;

/* ---- the documented rule, written independently of agents/joey.c ---- */

struct model_symbol {
	uint64_t count;
	double fast, slow, var;
	uint64_t last_intent_ns;
	double position;
	int outliers_in_a_row;
};

struct model {
	struct model_symbol sym[16];
	double gross;
	double max_qty, max_notional, max_position, max_gross;
	uint64_t cooldown_ns;
};

static void model_init(struct model *m, const struct ark_graveyard_limits *l)
{
	memset(m, 0, sizeof *m);
	m->max_qty = l->max_order_quantity / 2;
	m->max_notional = l->max_order_notional / 2;
	m->max_position = l->max_position / 2;
	m->max_gross = l->max_gross_exposure / 50;
	m->cooldown_ns = l->duplicate_window_ns + 1;
}

/* The side (ARK_SIDE_*) and quantity Joey should give this tick. The rate
 * budgets never bind in these series (at most a few intents a second per
 * symbol), so the model leaves them out. */
static uint8_t model_step(struct model *m, uint32_t id, double price, uint64_t t, double *qty)
{
	struct model_symbol *s = &m->sym[id];
	const double af = 2.0 / (8 + 1), as = 2.0 / (64 + 1);
	*qty = 0;
	/* After the warm-up, a price more than 10 deviations (at least 1 bp of
	 * the slow average) from the slow average is a bad print: not folded
	 * in, no intent; the 8th in a row is a new level: start over from it. */
	if (s->count >= 64 && !(fabs(price - s->slow) <= 10.0 * fmax(sqrt(s->var), 1e-4 * s->slow))) {
		if (++s->outliers_in_a_row >= 8) {
			s->outliers_in_a_row = 0;
			s->count = 0;
			s->fast = s->slow = price;
			s->var = 0;
			s->count = 1;
		}
		return ARK_SIDE_NONE;
	}
	s->outliers_in_a_row = 0;
	if (s->count == 0) {
		s->fast = s->slow = price;
		s->var = 0;
	} else {
		double d = price - s->slow;
		s->fast += af * (price - s->fast);
		s->slow += as * d;
		s->var = (1 - as) * (s->var + as * d * d);
	}
	s->count++;
	if (s->count < 64 || !(s->var > 0))
		return ARK_SIDE_NONE;
	double z = (price - s->slow) / sqrt(s->var);
	uint8_t side = ARK_SIDE_NONE;
	if (z <= -2.5 && s->fast < s->slow)
		side = ARK_SIDE_BUY;
	else if (z >= 2.5 && s->fast > s->slow)
		side = ARK_SIDE_SELL;
	if (side == ARK_SIDE_NONE)
		return side;
	if (s->last_intent_ns && t < s->last_intent_ns + m->cooldown_ns)
		return ARK_SIDE_NONE;
	double q = floor(base_quantity * fmin(fabs(z) / 2.5, 3.0));
	q = fmin(q, floor(m->max_qty));
	q = fmin(q, floor(m->max_notional / price));
	double sq = side == ARK_SIDE_BUY ? q : -q;
	double after = s->position + sq;
	if (fabs(after) > m->max_position && fabs(after) > fabs(s->position)) {
		q = fmin(q, floor(m->max_position - fabs(s->position)));
		sq = side == ARK_SIDE_BUY ? q : -q;
		after = s->position + sq;
	}
	double gross_change = (fabs(after) - fabs(s->position)) * price;
	if (gross_change > 0 && m->gross + gross_change > m->max_gross)
		return ARK_SIDE_NONE;
	if (q < 1)
		return ARK_SIDE_NONE;
	m->gross = fmax(0.0, m->gross + gross_change);
	s->position = after;
	s->last_intent_ns = t;
	*qty = q;
	return side;
}

/* ---- Joey, in this process ---- */

struct joey {
	struct fixture f;
	struct ark_agent_ctx ctx;
	uint64_t seq;
};

static void joey_open(struct joey *j, const char *rules)
{
	fixture_create(&j->f, "joey", rules);
	fixture_ctx(&j->f, ARK_AGENT_JOEY, &j->ctx);
	struct ark_err err = {0};
	CHECK_MSG(ark_joey_ops.start(&j->ctx, &err) == 0, "%s", err.msg);
	j->seq = 0;
}

static void joey_close(struct joey *j)
{
	ark_joey_ops.stop(&j->ctx);
	ark_log_close(j->ctx.log);
	fixture_destroy(&j->f);
}

static struct ark_event tick(struct joey *j, uint32_t id, double price, uint64_t t)
{
	char symbol[16];
	snprintf(symbol, sizeof symbol, "S%u", id);
	struct ark_event e;
	make_event(&e, ++j->seq, id, symbol, price, t);
	ark_undo_begin(&j->ctx, 1);
	ark_joey_ops.process(&j->ctx, &e, ark_now_ns());
	ark_undo_end(&j->ctx);
	return e;
}

#define SEC 1000000000ull

/* n quiet ticks: 100.0 and 100.2 in turn (a deviation of about 0.1), one a
 * second from t. */
static uint64_t quiet(struct joey *j, uint32_t id, int n, uint64_t t)
{
	for (int i = 0; i < n; i++, t += SEC) {
		struct ark_event e = tick(j, id, i % 2 ? 100.2 : 100.0, t);
		CHECK_MSG(e.side == ARK_SIDE_NONE, "symbol %u: an intent on quiet tick %d", id, i);
	}
	return t;
}

static void test_crafted(void)
{
	struct joey j;
	joey_open(&j, rules_path);
	struct ark_joey_state *s = j.ctx.state;
	uint64_t intents0 = atomic_load(&j.ctx.counters->intents);

	/* warm-up: 63 observations, then the price halves: still no intent */
	uint64_t t = quiet(&j, 1, 62, 1000 * SEC);
	struct ark_event e = tick(&j, 1, 50.0, t);
	CHECK_EQ_U64(s->symbols[1].count, 63);
	CHECK_MSG(e.side == ARK_SIDE_NONE, "an intent during the warm-up");

	/* a drop far below the slow average (six deviations: a move, not a bad
	 * print), fast below slow: buy. Worked out: slow 100.10, deviation
	 * 0.0998; with the tick folded in, z = -4.05, so the quantity is
	 * floor(10 x 4.05 / 2.5) = 16 at the tick's price. */
	t = quiet(&j, 2, 80, 1000 * SEC);
	e = tick(&j, 2, 99.5, t);
	CHECK_MSG(e.side == ARK_SIDE_BUY, "drop: side %u, wanted buy", e.side);
	CHECK(e.limit_price == 99.5);
	CHECK(e.strategy == 1);
	CHECK_MSG(e.quantity == 16, "drop: quantity %g, wanted 16", e.quantity);
	CHECK_MSG(e.strength > 4.0 && e.strength < 4.1, "strength %g", (double)e.strength);
	CHECK_EQ_U64(atomic_load(&j.ctx.counters->intents), intents0 + 1);
	CHECK(s->symbols[2].position_view == 16);

	/* the next tick, lower still (z -4.3) but inside the cooldown (500 ms
	 * + 1 ns of market time) */
	e = tick(&j, 2, 99.4, t + 400 * 1000000ull);
	CHECK_MSG(e.side == ARK_SIDE_NONE, "an intent inside the cooldown");

	/* a jump far above: sell, the same size */
	t = quiet(&j, 3, 80, 1000 * SEC);
	e = tick(&j, 3, 100.7, t);
	CHECK_MSG(e.side == ARK_SIDE_SELL, "jump: side %u, wanted sell", e.side);
	CHECK_MSG(e.quantity == 16 && e.limit_price == 100.7, "jump: %g at %g", e.quantity, e.limit_price);
	CHECK(s->symbols[3].position_view == -16);

	/* a move of under 2.5 deviations (z 1.9): nothing */
	t = quiet(&j, 4, 80, 1000 * SEC);
	e = tick(&j, 4, 100.3, t);
	CHECK_MSG(e.side == ARK_SIDE_NONE, "a small move fired");

	/* far below, but the fast average above the slow one (a rise just
	 * before): z <= -2.5 alone does not buy */
	t = quiet(&j, 5, 80, 1000 * SEC);
	for (int i = 0; i < 6; i++, t += SEC)
		e = tick(&j, 5, 100.5 + 0.1 * i, t);
	CHECK(s->symbols[5].ema_fast > s->symbols[5].ema_slow);
	e = tick(&j, 5, 99.3, t);
	CHECK(s->symbols[5].ema_fast > s->symbols[5].ema_slow);
	double z = (99.3 - s->symbols[5].ema_slow) / sqrt(s->symbols[5].variance);
	CHECK_MSG(z <= -2.5, "z %g", z);
	CHECK_MSG(e.side == ARK_SIDE_NONE, "bought with fast above slow");

	/* an invalid price is no observation */
	uint64_t c = s->symbols[4].count;
	e = tick(&j, 4, NAN, t);
	e = tick(&j, 4, -1, t);
	e = tick(&j, 4, 0, t);
	CHECK_EQ_U64(s->symbols[4].count, c);
	CHECK(e.side == ARK_SIDE_NONE);

	/* quarantined: statistics go on, no intent, the event says why */
	t = quiet(&j, 6, 80, 1000 * SEC);
	atomic_store(&j.ctx.control->quarantined, 1);
	e = tick(&j, 6, 99.5, t);
	CHECK(e.side == ARK_SIDE_NONE);
	CHECK(e.flags & ARK_EVENT_QUARANTINED);
	CHECK_EQ_U64(s->symbols[6].count, 81);
	atomic_store(&j.ctx.control->quarantined, 0);

	/* a bad print after the warm-up (ten times the price): Joey's own rule
	 * marks it an outlier: not folded into the statistics, no intent */
	t = quiet(&j, 7, 80, 1000 * SEC);
	struct ark_joey_symbol before = s->symbols[7];
	e = tick(&j, 7, 1001.0, t);
	CHECK(e.side == ARK_SIDE_NONE);
	CHECK_EQ_U64(s->symbols[7].count, before.count);
	CHECK(s->symbols[7].ema_slow == before.ema_slow && s->symbols[7].variance == before.variance);
	CHECK_EQ_U64(s->symbols[7].outliers, before.outliers + 1);
	/* and the next ordinary move still trades on the undamaged statistics */
	e = tick(&j, 7, 99.5, t + SEC);
	CHECK_MSG(e.side == ARK_SIDE_BUY && e.quantity == 16, "after a bad print: %s %g", ark_side_name(e.side),
		  e.quantity);
	/* eight in a row are a new level, not a bad print: the statistics start
	 * over from it, with a new warm-up */
	t = quiet(&j, 8, 80, 1000 * SEC);
	for (int i = 0; i < 8; i++, t += SEC) {
		e = tick(&j, 8, 150.0, t);
		CHECK(e.side == ARK_SIDE_NONE);
	}
	CHECK_EQ_U64(s->symbols[8].count, 1);
	CHECK(s->symbols[8].ema_slow == 150.0);
	e = tick(&j, 8, 150.1, t);
	CHECK_EQ_U64(s->symbols[8].count, 2);

	/* the overflow symbol id is never traded */
	e = tick(&j, ARK_MAX_SYMBOLS - 1, 1.0, t);
	CHECK(e.side == ARK_SIDE_NONE);
	joey_close(&j);
}

/* A copy of the rules with another trading state. */
static void rules_with_state(const char *state, char *out, size_t cap, const char *dir)
{
	FILE *in = fopen(rules_path, "r");
	CHECK(in);
	snprintf(out, cap, "%s/rules-%s", dir, state);
	FILE *o = fopen(out, "w");
	CHECK(o);
	char line[512];
	bool replaced = false;
	while (fgets(line, sizeof line, in)) {
		if (strncmp(line, "trading_state", 13) == 0) {
			fprintf(o, "trading_state = %s node\n", state);
			replaced = true;
		} else {
			fputs(line, o);
		}
	}
	fclose(in);
	fclose(o);
	CHECK(replaced);
}

static void test_trading_states(void)
{
	char dir[] = "/tmp/ark-test-joey-rules-XXXXXX";
	CHECK(mkdtemp(dir));
	char halted[256], reducing[256];
	rules_with_state("HALTED", halted, sizeof halted, dir);
	rules_with_state("REDUCING", reducing, sizeof reducing, dir);

	struct joey j;
	joey_open(&j, halted);
	uint64_t t = quiet(&j, 2, 80, 1000 * SEC);
	struct ark_event e = tick(&j, 2, 99.5, t);
	CHECK_MSG(e.side == ARK_SIDE_NONE, "an intent while HALTED");
	t = quiet(&j, 3, 80, 1000 * SEC);
	e = tick(&j, 3, 100.7, t);
	CHECK(e.side == ARK_SIDE_NONE);
	joey_close(&j);

	/* REDUCING: no position to reduce, so no intent either way */
	joey_open(&j, reducing);
	t = quiet(&j, 2, 80, 1000 * SEC);
	e = tick(&j, 2, 99.5, t);
	CHECK_MSG(e.side == ARK_SIDE_NONE, "REDUCING opened a position");
	/* with a long view (Joey's own earlier intents), a sell reduces it */
	struct ark_joey_state *s = j.ctx.state;
	s->symbols[3].position_view = 40;
	t = quiet(&j, 3, 80, 1000 * SEC);
	e = tick(&j, 3, 100.7, t);
	CHECK_MSG(e.side == ARK_SIDE_SELL, "REDUCING refused a reducing sell");
	joey_close(&j);
	unlink(halted);
	unlink(reducing);
	rmdir(dir);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static void test_against_model(void)
{
	struct joey j;
	joey_open(&j, rules_path);
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	struct ark_err err = {0};
	CHECK(rules && ark_graveyard_load(rules_path, rules, &err) == 0);
	struct model m;
	model_init(&m, &rules->limits);
	free(rules);
	double price[8];
	for (int i = 0; i < 8; i++)
		price[i] = 20.0 + 30.0 * i;
	uint64_t buys = 0, sells = 0, t = 5000 * SEC;
	const int n = (int)test_scaled(40000, 8000);
	for (int k = 0; k < n; k++) {
		uint32_t id = (uint32_t)(k % 8);
		double r = uniform();
		double step = (uniform() - 0.5) * 0.002 * price[id];
		if (r < 0.03)
			step = (uniform() < 0.5 ? -1 : 1) * (0.01 + 0.02 * uniform()) * price[id]; /* a jump */
		price[id] = fmax(1.0, price[id] + step);
		t += 100 * 1000000ull; /* ten ticks a second, over eight symbols */
		double want_qty;
		uint8_t want = model_step(&m, id, price[id], t, &want_qty);
		struct ark_event e = tick(&j, id, price[id], t);
		CHECK_MSG(e.side == want && e.quantity == want_qty,
			  "tick %d (symbol %u, price %.6f): Joey %s %g, the rule says %s %g", k, id, price[id],
			  ark_side_name(e.side), e.quantity, ark_side_name(want), want_qty);
		if (want != ARK_SIDE_NONE)
			CHECK(e.limit_price == price[id]);
		buys += want == ARK_SIDE_BUY;
		sells += want == ARK_SIDE_SELL;
	}
	/* the series exercised both sides and the cooldown */
	CHECK_MSG(buys >= 20 && sells >= 20, "buys %llu, sells %llu", (unsigned long long)buys,
		  (unsigned long long)sells);
	joey_close(&j);
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_joey RULES_FILE");
	rules_path = argv[1];
	test_crafted();
	test_trading_states();
	test_against_model();
	printf("test_joey: ok\n");
	return 0;
}
