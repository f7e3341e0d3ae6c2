/* tests/graveyard/test_graveyard_inject.c — ark_graveyard_injected_intent for
 * every injectable kind, with setups built by hand (not by synth/): each
 * lane-0 intent is denied with its own kind's reason, each lane-1 setup step
 * is allowed; for the stateless kinds the same intent passes once the rule it
 * targets is relaxed (it violates that rule and nothing checked before it);
 * and the helper refuses what it cannot do. */
#include "graveyard_test.h"

static struct ark_graveyard_rules R;
static struct ark_graveyard_state S;
static uint64_t now = T0;

static struct ark_event injected(uint32_t id, const char *symbol, double price, double size, uint8_t kind, uint8_t lane)
{
	struct ark_event e = event_at(id, symbol, price, ++now);
	e.size = size;
	e.flags = ARK_EVENT_SYNTHETIC | ARK_EVENT_INJECTED;
	e.injected_kind = kind;
	e.lane = lane;
	return e;
}

/* Joey then HRM for one injected event. */
static struct ark_graveyard_decision step(const struct ark_graveyard_rules *r, struct ark_graveyard_state *s,
					  struct ark_event e)
{
	int rc = ark_graveyard_injected_intent(r, &e, &e.side, &e.quantity, &e.limit_price);
	CHECK_MSG(rc == 0, "injected_intent(%s, lane %u) = %d", ark_reason_name(e.injected_kind), e.lane, rc);
	return judge(r, s, e);
}

static void setup(uint32_t id, const char *symbol, double price, double size, uint8_t kind)
{
	struct ark_graveyard_decision d = step(&R, &S, injected(id, symbol, price, size, kind, 1));
	EXPECT_ALLOW(d);
	CHECK(d.has_intent == (size != 0));
}

static void violation(uint32_t id, const char *symbol, double price, double size, uint8_t kind)
{
	EXPECT_DENY(step(&R, &S, injected(id, symbol, price, size, kind, 0)), kind);
}

/* The stateless kind's intent, on rules with that kind's limit relaxed, passes. */
static void passes_when_relaxed(const char *key, const char *relaxed, uint32_t id, const char *symbol, double price,
				uint8_t kind)
{
	struct ark_graveyard_rules loose;
	static struct ark_graveyard_state fresh;
	const char *const replace[] = {key, relaxed};
	make_rules(&loose, replace, 2);
	ark_graveyard_state_init(&fresh, &loose);
	struct ark_event e = injected(id, symbol, price, 100, kind, 0);
	/* The intent is computed from the strict rules, judged by the loose ones. */
	CHECK(ark_graveyard_injected_intent(&R, &e, &e.side, &e.quantity, &e.limit_price) == 0);
	EXPECT_ALLOW(judge(&loose, &fresh, e));
}

static void stateless(void)
{
	make_rules(&R, NULL, 0);
	ark_graveyard_state_init(&S, &R);
	violation(1, "INJ1", 10, 100, ARK_REASON_MAX_QUANTITY);
	passes_when_relaxed("max_order_quantity", "max_order_quantity = 1000 node", 1, "INJ1", 10,
			    ARK_REASON_MAX_QUANTITY);
	violation(2, "INJ2", 10, 100, ARK_REASON_PRICE_COLLAR);
	passes_when_relaxed("price_collar", "price_collar = 11% node", 2, "INJ2", 10, ARK_REASON_PRICE_COLLAR);
	/* 2 x max_notional / max_quantity: 100 units at 100 = 10000 > 5000. */
	violation(3, "INJ3", 100, 100, ARK_REASON_MAX_NOTIONAL);
	passes_when_relaxed("max_order_notional", "max_order_notional = 10000 node", 3, "INJ3", 100,
			    ARK_REASON_MAX_NOTIONAL);
	violation(4, "BAD", 10, 100, ARK_REASON_RESTRICTED_SYMBOL);
	passes_when_relaxed("restricted_symbols", "restricted_symbols = none node", 4, "BAD", 10,
			    ARK_REASON_RESTRICTED_SYMBOL);
	violation(5, "INJ.OTC", 10, 100, ARK_REASON_RESTRICTED_PATTERN);
	passes_when_relaxed("restricted_patterns", "restricted_patterns = TEST* node", 5, "INJ.OTC", 10,
			    ARK_REASON_RESTRICTED_PATTERN);
	/* REFERENCE_PRICE: every variant of a bad reference. */
	const double prices[] = {0, NAN, INFINITY, -10};
	for (size_t i = 0; i < ARK_ARRAY_LEN(prices); i++)
		violation(6, "INJ6", prices[i], 100, ARK_REASON_REFERENCE_PRICE);
	struct ark_event e = injected(6, "INJ6", 10, 100, ARK_REASON_REFERENCE_PRICE, 0);
	e.exchange_time_ns = 0;
	EXPECT_DENY(step(&R, &S, e), ARK_REASON_REFERENCE_PRICE);
	e.exchange_time_ns = S.market_now_ns - R.limits.reference_max_age_ns - 1;
	EXPECT_DENY(step(&R, &S, e), ARK_REASON_REFERENCE_PRICE);
	/* None of it left any state: nothing allowed, nothing in a window. */
	CHECK_EQ_U64(S.allowed, 0);
	CHECK_EQ_U64(S.rate_count, 0);

	/* HALTED and REDUCING_ONLY, under the rules that state them. */
	const char *const halted[] = {"trading_state", "trading_state = HALTED node"};
	make_rules(&R, halted, 2);
	ark_graveyard_state_init(&S, &R);
	violation(1, "INJ1", 10, 100, ARK_REASON_HALTED);
	const char *const reducing[] = {"trading_state", "trading_state = REDUCING node"};
	make_rules(&R, reducing, 2);
	ark_graveyard_state_init(&S, &R);
	violation(1, "INJ1", 10, 1, ARK_REASON_REDUCING_ONLY);
	violation(1, "INJ1", 10, 0, ARK_REASON_REDUCING_ONLY);
	violation(1, "INJ1", 10, -1, ARK_REASON_REDUCING_ONLY);
}

static void stateful(void)
{
	make_rules(&R, NULL, 0);
	const double u = ark_graveyard_unit_quantity(&R.limits);
	CHECK(u == 1);

	/* DUPLICATE: buy u; the same again. */
	ark_graveyard_state_init(&S, &R);
	setup(1, "INJ1", 10, u, ARK_REASON_DUPLICATE);
	violation(1, "INJ1", 10, u, ARK_REASON_DUPLICATE);

	/* RATE_SYMBOL: 3 alternating orders fill the symbol's window. */
	ark_graveyard_state_init(&S, &R);
	for (int i = 0; i < 3; i++)
		setup(2, "INJ2", 10, i % 2 ? -u : u, ARK_REASON_RATE_SYMBOL);
	violation(2, "INJ2", 10, -u, ARK_REASON_RATE_SYMBOL);

	/* RATE_GLOBAL: 10 orders over 5 symbols (2 each), then one on a 6th. */
	ark_graveyard_state_init(&S, &R);
	const char *const names[] = {"INJ10", "INJ11", "INJ12", "INJ13", "INJ14", "INJ15"};
	for (int i = 0; i < 10; i++)
		setup(10 + (uint32_t)(i % 5), names[i % 5], 10, i / 5 ? -u : u, ARK_REASON_RATE_GLOBAL);
	violation(15, names[5], 10, u, ARK_REASON_RATE_GLOBAL);

	/* POSITION_LIMIT: 100 + 100 = 200 (the limit), then u more — priced
	 * half a collar away, so not a duplicate of the last setup step. */
	ark_graveyard_state_init(&S, &R);
	now += 2 * SEC;
	setup(20, "INJ20", 10, 100, ARK_REASON_POSITION_LIMIT);
	now += 2 * SEC;   /* past the duplicate window: the same order again */
	setup(20, "INJ20", 10, 100, ARK_REASON_POSITION_LIMIT);
	violation(20, "INJ20", 10, u, ARK_REASON_POSITION_LIMIT);
	struct ark_event e = injected(20, "INJ20", 10, u, ARK_REASON_POSITION_LIMIT, 0);
	CHECK(ark_graveyard_injected_intent(&R, &e, &e.side, &e.quantity, &e.limit_price) == 0);
	CHECK(fabs(e.limit_price - 10 * 1.025) < 1e-12);
	e.size = -u;
	CHECK(ark_graveyard_injected_intent(&R, &e, &e.side, &e.quantity, &e.limit_price) == 0);
	CHECK(e.side == ARK_SIDE_SELL && fabs(e.limit_price - 10 * 0.975) < 1e-12);
	/* The clean-up steps (sells) are allowed. */
	setup(20, "INJ20", 10, -100, ARK_REASON_POSITION_LIMIT);

	/* GROSS_EXPOSURE: 3 x 100 @ 50 and 75 @ 50 = 18750 on four symbols, all
	 * allowed; then 50 @ 50 on a fifth, flat one: 21250 > 20000. */
	ark_graveyard_state_init(&S, &R);
	now += 2 * SEC;
	setup(30, "INJ30", 50, 100, ARK_REASON_GROSS_EXPOSURE);
	setup(31, "INJ31", 50, 100, ARK_REASON_GROSS_EXPOSURE);
	setup(32, "INJ32", 50, 100, ARK_REASON_GROSS_EXPOSURE);
	setup(33, "INJ33", 50, 75, ARK_REASON_GROSS_EXPOSURE);
	violation(34, "INJ34", 50, 50, ARK_REASON_GROSS_EXPOSURE);

	/* DAILY_LOSS: short 10 @ 100; a mark at 201 loses 1010; any order. */
	ark_graveyard_state_init(&S, &R);
	setup(40, "INJ40", 100, -10, ARK_REASON_DAILY_LOSS);
	setup(40, "INJ40", 201, 0, ARK_REASON_DAILY_LOSS);   /* a mark: no intent */
	CHECK(S.loss_latched);
	violation(40, "INJ40", 201, u, ARK_REASON_DAILY_LOSS);
	violation(41, "INJ41", 10, u, ARK_REASON_DAILY_LOSS);
}

static void refusals(void)
{
	make_rules(&R, NULL, 0);
	uint8_t side;
	double q, limit;
	struct ark_event e = injected(1, "INJ1", 10, 1, ARK_REASON_MAX_QUANTITY, 0);
	e.flags = ARK_EVENT_SYNTHETIC;   /* not injected */
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -EINVAL);
	CHECK(side == ARK_SIDE_NONE && q == 0 && limit == 0);
	e.flags |= ARK_EVENT_INJECTED;
	const uint8_t never[] = {ARK_REASON_NONE, ARK_REASON_ETHICS_DRIFT, ARK_REASON_QUARANTINED, ARK_REASON_COUNT, 200};
	for (size_t i = 0; i < ARK_ARRAY_LEN(never); i++) {
		e.injected_kind = never[i];
		CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -EINVAL);
	}
	/* A notional violation needs a price at which max quantity is too much. */
	e.injected_kind = ARK_REASON_MAX_NOTIONAL;
	e.price = 50;
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -ERANGE);
	e.price = NAN;
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -ERANGE);
	e.injected_kind = ARK_REASON_PRICE_COLLAR;
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -ERANGE);
	/* Stateful kinds need the planned order in the size. */
	e.price = 10;
	const uint8_t planned[] = {ARK_REASON_DUPLICATE, ARK_REASON_RATE_SYMBOL, ARK_REASON_RATE_GLOBAL,
				   ARK_REASON_POSITION_LIMIT, ARK_REASON_GROSS_EXPOSURE, ARK_REASON_DAILY_LOSS};
	for (size_t i = 0; i < ARK_ARRAY_LEN(planned); i++) {
		e.injected_kind = planned[i];
		e.size = 0;
		CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -ERANGE);
		e.size = NAN;
		CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -ERANGE);
	}
	/* Lane 1 spells its intent: size > 0 buys, < 0 sells, 0 is a mark. */
	e.lane = 1;
	e.size = -7;
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == 0);
	CHECK(side == ARK_SIDE_SELL && q == 7 && limit == 10);
	e.size = 0;
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == 0 && side == ARK_SIDE_NONE);
	e.size = INFINITY;
	CHECK(ark_graveyard_injected_intent(&R, &e, &side, &q, &limit) == -ERANGE);
}

int main(void)
{
	stateless();
	stateful();
	refusals();
	printf("graveyard injected-intent tests passed\n");
	return 0;
}
