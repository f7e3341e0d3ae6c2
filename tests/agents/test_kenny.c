/* tests/agents/test_kenny.c — Kenny's position keeping and realised P&L
 * (ark_book_apply) against fills computed by hand: opening, adding at
 * another price (average cost), partial closes at a gain and at a loss, a
 * close to flat, shorts, a flip from short to long and from long to short
 * (the rest opens at the fill price), fractional quantities that leave a
 * rounding residue. Then Kenny's process function on the paper venue:
 * what it writes into each event (fill, position after, P&L after), what it
 * forwards untouched, what it suppresses when quarantined, the broker's
 * rejection, a resent order recognised as such. The paper venue and Alpaca
 * charge no fees here, so P&L is price difference times quantity. */
#include "agents_test.h"

#include <math.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

struct step {
	double signed_qty, price;
	double want_qty, want_avg, want_pnl;
};

static void test_apply_fill(void)
{
	/* every line worked out by hand; P&L = closed units x (exit - entry),
	 * the sign of the closed position's side */
	static const struct step steps[] = {
		{+100, 10, 100, 10, 0},    /* open long 100 @ 10 */
		{+50, 13, 150, 11, 0},     /* add 50 @ 13: (1000 + 650) / 150 = 11 */
		{-60, 12, 90, 11, 60},     /* partial close, gain: 60 x (12 - 11) = +60 */
		{-90, 10, 0, 0, -30},      /* close at a loss: 90 x (10 - 11) = -90 → -30; flat: no average */
		{-40, 20, -40, 20, -30},   /* open short 40 @ 20 */
		{-10, 25, -50, 21, -30},   /* add 10 @ 25: (800 + 250) / 50 = 21 */
		{+20, 19, -30, 21, 10},    /* cover 20 @ 19, gain: 20 x (21 - 19) = +40 → 10 */
		{+50, 18, 20, 18, 100},    /* flip: cover 30 x (21 - 18) = +90 → 100; long 20 @ 18 */
		{-70, 16, -50, 16, 60},    /* flip: sell 20 x (16 - 18) = -40 → 60; short 50 @ 16 */
		{+50, 16, 0, 0, 60},       /* cover at cost: 0 */
		{+0.1, 100.25, 0.1, 100.25, 60},
		{+0.2, 100.25, 0.3, 100.25, 60},
		{-0.3, 101.25, 0, 0, 60.3}, /* 0.1 + 0.2 - 0.3 is 5.6e-17: flat, 0.3 x 1 = +0.3 */
	};
	struct ark_kenny_position pos;
	memset(&pos, 0, sizeof pos);
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		const struct step *s = &steps[i];
		ark_book_apply(&pos, s->signed_qty, s->price);
		CHECK_MSG(NEAR(pos.quantity, s->want_qty) && NEAR(pos.average_price, s->want_avg) &&
				  NEAR(pos.realized_pnl, s->want_pnl),
			  "fill %zu (%+g @ %g): position %g @ %g, P&L %g; expected %g @ %g, P&L %g", i + 1,
			  s->signed_qty, s->price, pos.quantity, pos.average_price, pos.realized_pnl, s->want_qty,
			  s->want_avg, s->want_pnl);
		CHECK_EQ_U64(pos.fills, i + 1);
	}
	CHECK(pos.quantity == 0.0); /* snapped, not a residue */

	/* A short covered at a loss, to the cent. */
	memset(&pos, 0, sizeof pos);
	ark_book_apply(&pos, -3, 45.10);
	ark_book_apply(&pos, +3, 47.35);
	CHECK_MSG(NEAR(pos.realized_pnl, -6.75), "P&L %g", pos.realized_pnl);
	CHECK(pos.quantity == 0 && pos.average_price == 0);

	/* A flip in one fill, long to short, with the P&L of the closed part only. */
	memset(&pos, 0, sizeof pos);
	ark_book_apply(&pos, +10, 50);
	ark_book_apply(&pos, -25, 55);
	CHECK(NEAR(pos.realized_pnl, 50) && NEAR(pos.quantity, -15) && NEAR(pos.average_price, 55));
	ark_book_apply(&pos, +15, 60); /* the short lost 15 x 5 */
	CHECK(NEAR(pos.realized_pnl, -25) && pos.quantity == 0);
}

static struct ark_event allowed(uint64_t seq, uint32_t symbol_id, const char *symbol, uint8_t side, double qty,
				double price)
{
	struct ark_event e;
	make_event(&e, seq, symbol_id, symbol, price, 1000000000ull * seq);
	e.side = side;
	e.quantity = qty;
	e.limit_price = price;
	e.verdict = ARK_VERDICT_ALLOW;
	return e;
}

static void process(struct ark_agent_ctx *ctx, struct ark_event *e)
{
	ark_undo_begin(ctx, 1);
	ark_kenny_ops.process(ctx, e, ark_now_ns());
	ark_undo_end(ctx);
}

static void test_process(const char *rules)
{
	struct fixture f;
	fixture_create(&f, "kenny", rules);
	struct ark_agent_ctx ctx;
	fixture_ctx(&f, ARK_AGENT_KENNY, &ctx);
	struct ark_err err = {0};
	CHECK_MSG(ark_kenny_ops.start(&ctx, &err) == 0, "%s", err.msg);
	struct ark_kenny_state *s = ctx.state;

	struct ark_event e = allowed(1, 3, "AAA", ARK_SIDE_BUY, 100, 10);
	process(&ctx, &e);
	CHECK_EQ_U64(e.exec_status, ARK_EXEC_FILLED);
	CHECK_EQ_U64(e.client_order_id, e.trace_id);
	CHECK(e.filled_quantity == 100 && e.fill_price == 10);
	CHECK(e.position_after == 100 && e.realized_pnl_after == 0);

	e = allowed(2, 3, "AAA", ARK_SIDE_SELL, 150, 12); /* close 100 at +2, open short 50 */
	process(&ctx, &e);
	CHECK_EQ_U64(e.exec_status, ARK_EXEC_FILLED);
	CHECK(e.filled_quantity == 150 && e.fill_price == 12);
	CHECK_MSG(e.position_after == -50 && NEAR(e.realized_pnl_after, 200), "after: %g, P&L %g", e.position_after,
		  e.realized_pnl_after);
	CHECK(NEAR(s->positions[3].average_price, 12));

	/* another symbol keeps its own position; the total adds up */
	e = allowed(3, 7, "BBB", ARK_SIDE_SELL, 10, 50);
	process(&ctx, &e);
	e = allowed(4, 7, "BBB", ARK_SIDE_BUY, 10, 47);
	process(&ctx, &e);
	CHECK(e.position_after == 0 && NEAR(e.realized_pnl_after, 30));
	CHECK(NEAR(s->positions[3].realized_pnl, 200) && NEAR(s->positions[7].realized_pnl, 30));
	CHECK(NEAR(s->realized_pnl, 230));
	CHECK_EQ_U64(s->orders, 4);
	CHECK_EQ_U64(s->fills, 4);

	/* denied and no-action events pass untouched */
	e = allowed(5, 3, "AAA", ARK_SIDE_BUY, 10, 12);
	e.verdict = ARK_VERDICT_DENY;
	e.reason = ARK_REASON_MAX_QUANTITY;
	process(&ctx, &e);
	CHECK_EQ_U64(e.exec_status, ARK_EXEC_FORWARDED);
	CHECK(e.filled_quantity == 0 && e.client_order_id == 0);
	e = allowed(6, 3, "AAA", ARK_SIDE_NONE, 0, 12);
	process(&ctx, &e);
	CHECK_EQ_U64(e.exec_status, ARK_EXEC_FORWARDED);
	CHECK_EQ_U64(s->orders, 4);
	CHECK(s->positions[3].quantity == -50);

	/* the venue refuses an order without a price: a failed execution */
	uint64_t errors = atomic_load(&ctx.control->errors);
	e = allowed(7, 3, "AAA", ARK_SIDE_BUY, 10, 0);
	process(&ctx, &e);
	CHECK_EQ_U64(e.exec_status, ARK_EXEC_REJECTED);
	CHECK_EQ_U64(atomic_load(&ctx.control->errors), errors + 1);
	CHECK(s->positions[3].quantity == -50);
	CHECK_EQ_U64(s->fills, 4);

	/* quarantined: nothing is sent (fail closed) */
	atomic_store(&ctx.control->quarantined, 1);
	uint64_t venue_orders, resends;
	ark_pipeline_venue_counts(&f.map, &venue_orders, &resends);
	e = allowed(8, 3, "AAA", ARK_SIDE_BUY, 50, 12);
	process(&ctx, &e);
	CHECK_EQ_U64(e.exec_status, ARK_EXEC_SUPPRESSED);
	CHECK(e.flags & ARK_EVENT_QUARANTINED);
	CHECK(e.client_order_id == 0 && e.filled_quantity == 0 && e.fill_price == 0); /* no order exists */
	uint64_t after_orders;
	ark_pipeline_venue_counts(&f.map, &after_orders, &resends);
	CHECK_EQ_U64(after_orders, venue_orders);
	CHECK(s->positions[3].quantity == -50);
	atomic_store(&ctx.control->quarantined, 0);

	/* A resend of order 8 after a restart rolled its batch back: the
	 * venue recognises the client order id and answers with the original
	 * fill, which Kenny applies to the restored position (once). */
	e = allowed(9, 3, "AAA", ARK_SIDE_BUY, 50, 11);
	struct ark_kenny_position before = s->positions[3];
	struct ark_kenny_state scalars;
	memcpy(&scalars, s, offsetof(struct ark_kenny_state, positions));
	process(&ctx, &e);
	CHECK(e.position_after == 0 && NEAR(e.realized_pnl_after, 250)); /* covered 50 @ 11 from 12 */
	s->positions[3] = before;                                         /* what a rollback restores */
	memcpy(s, &scalars, offsetof(struct ark_kenny_state, positions));
	struct ark_event again = allowed(9, 3, "AAA", ARK_SIDE_BUY, 50, 11);
	process(&ctx, &again);
	CHECK(again.flags & ARK_EVENT_REPLAYED);
	CHECK_EQ_U64(again.exec_status, ARK_EXEC_FILLED);
	CHECK(again.position_after == 0 && NEAR(again.realized_pnl_after, 250));
	CHECK_EQ_U64(s->duplicates, 1);
	ark_pipeline_venue_counts(&f.map, &after_orders, &resends);
	CHECK_EQ_U64(after_orders, venue_orders + 1); /* one order at the venue, not two */
	CHECK_EQ_U64(resends, 1);

	/* A network broker's execution report goes through the same checks of
	 * the fill against its order (brokers/book.c) before the position. */
	struct ark_event r = allowed(10, 5, "CCC", ARK_SIDE_BUY, 10, 20);
	r.flags |= ARK_EVENT_EXEC_REPORT;
	r.client_order_id = r.trace_id;
	r.size = 4, r.price = 19.9, r.filled_quantity = 4;
	process(&ctx, &r);
	CHECK(!(r.flags & ARK_EVENT_BROKER_ANOMALY) && r.position_after == 4 && s->positions[5].quantity == 4);
	errors = atomic_load(&ctx.control->errors);
	static const struct { double size, price, filled; } bad[] = {
		{8, 20, 12},      /* 4 + 8 of an order for 10 */
		{1, 25, 5},       /* a buy limited at 20 filled at 25 */
		{INFINITY, 20, INFINITY},
		{1, NAN, 5},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = allowed(11 + i, 5, "CCC", ARK_SIDE_BUY, 10, 20);
		r.flags |= ARK_EVENT_EXEC_REPORT;
		r.client_order_id = r.trace_id;
		r.size = bad[i].size, r.price = bad[i].price, r.filled_quantity = bad[i].filled;
		process(&ctx, &r);
		CHECK_MSG((r.flags & ARK_EVENT_BROKER_ANOMALY) && r.exec_status == ARK_EXEC_ANOMALY && r.position_after == 4,
			  "report %zu: flags %#x status %u position %g", i, r.flags, r.exec_status, r.position_after);
		CHECK_EQ_U64(atomic_load(&ctx.control->errors), errors + i + 1);
	}
	CHECK(s->positions[5].quantity == 4 && s->positions[5].average_price == 19.9);

	ark_kenny_ops.stop(&ctx);
	ark_log_close(ctx.log);
	fixture_destroy(&f);
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_kenny RULES_FILE");
	test_apply_fill();
	test_process(argv[1]);
	printf("test_kenny: ok\n");
	return 0;
}
