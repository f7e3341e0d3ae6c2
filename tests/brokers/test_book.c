/* tests/brokers/test_book.c — brokers/book.c on its own: positions and
 * realised P&L worked out by hand (a buy that counted as a sell, an average
 * price carried across a flip, a close that forgot the short's sign each
 * give another figure), and every check of a fill against its order: a
 * non-finite or non-positive quantity or price, another symbol or side, a
 * partial fill counted twice (more than is left of the order), a price
 * beyond the limit, a position that would stop being finite. A refused fill
 * leaves the position and the order's filled quantity byte for byte. */
#include "brokers/book.h"
#include "check.h"

#include <math.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static struct ark_book_order order_of(uint8_t side, double qty, double limit)
{
	return (struct ark_book_order){.symbol = "AAPL", .side = side, .quantity = qty, .limit_price = limit};
}

static struct ark_book_fill fill_of(uint8_t side, double qty, double price)
{
	return (struct ark_book_fill){.symbol = "AAPL", .side = side, .quantity = qty, .price = price};
}

/* Apply and expect it taken, with the position after it. */
static void take(struct ark_kenny_position *pos, struct ark_book_order *o, uint8_t side, double qty, double price,
		 double want_qty, double want_avg, double want_pnl)
{
	struct ark_book_fill f = fill_of(side, qty, price);
	double before = pos->realized_pnl, delta = -1;
	enum ark_book_refusal r = ark_book_fill(pos, o, &f, &delta);
	CHECK_MSG(r == ARK_BOOK_OK, "%s %g @ %g refused: %s", side == ARK_SIDE_BUY ? "buy" : "sell", qty, price,
		  ark_book_refusal_name(r));
	CHECK_MSG(NEAR(pos->quantity, want_qty) && NEAR(pos->average_price, want_avg) && NEAR(pos->realized_pnl, want_pnl),
		  "after %s %g @ %g: %g @ %g, P&L %g; expected %g @ %g, P&L %g", side == ARK_SIDE_BUY ? "buy" : "sell",
		  qty, price, pos->quantity, pos->average_price, pos->realized_pnl, want_qty, want_avg, want_pnl);
	CHECK(NEAR(delta, pos->realized_pnl - before));
}

/* Expect the fill refused for `want`, nothing changed. */
static void refuse(struct ark_kenny_position *pos, struct ark_book_order *o, const struct ark_book_fill *f,
		   enum ark_book_refusal want)
{
	struct ark_kenny_position pos_before = *pos;
	struct ark_book_order order_before = *o;
	double delta = 42;
	enum ark_book_refusal r = ark_book_fill(pos, o, f, &delta);
	CHECK_MSG(r == want, "fill %g @ %g (%s %s): got %s, expected %s", f->quantity, f->price, f->symbol,
		  f->side == ARK_SIDE_BUY ? "buy" : "sell", ark_book_refusal_name(r), ark_book_refusal_name(want));
	CHECK(ark_book_check(pos, o, f) == want);
	CHECK(memcmp(pos, &pos_before, sizeof *pos) == 0);
	CHECK(memcmp(o, &order_before, sizeof *o) == 0);
	CHECK(delta == 0);
}

static void test_signs_and_flips(void)
{
	struct ark_kenny_position pos = {0};
	struct ark_book_order o = order_of(ARK_SIDE_BUY, 100, 10);
	take(&pos, &o, ARK_SIDE_BUY, 100, 10, 100, 10, 0);          /* a buy is +100 (a sign flip: -100) */
	o = order_of(ARK_SIDE_BUY, 50, 13);
	take(&pos, &o, ARK_SIDE_BUY, 50, 13, 150, 11, 0);           /* (1000 + 650) / 150 */
	o = order_of(ARK_SIDE_SELL, 60, 12);
	take(&pos, &o, ARK_SIDE_SELL, 60, 12, 90, 11, 60);          /* a sell closes at +1 each */
	/* a flip long 90 -> short 30: 90 x (9 - 11) = -180 closed; the 30 open at 9, not at 11 */
	o = order_of(ARK_SIDE_SELL, 120, 9);
	take(&pos, &o, ARK_SIDE_SELL, 120, 9, -30, 9, -120);
	/* the short covered above its price loses: 10 x (9 - 10) = -10 */
	o = order_of(ARK_SIDE_BUY, 10, 10);
	take(&pos, &o, ARK_SIDE_BUY, 10, 10, -20, 9, -130);
	/* a flip short 20 -> long 5 at 8: 20 x (9 - 8) = +20; the 5 open at 8 */
	o = order_of(ARK_SIDE_BUY, 25, 8);
	take(&pos, &o, ARK_SIDE_BUY, 25, 8, 5, 8, -110);
	CHECK_EQ_U64(pos.fills, 6);
	/* closed flat: no average left, and not a rounding residue */
	o = order_of(ARK_SIDE_SELL, 5, 8);
	take(&pos, &o, ARK_SIDE_SELL, 5, 8, 0, 0, -110);
	CHECK(pos.quantity == 0.0 && pos.average_price == 0.0);
}

static void test_partial_fills(void)
{
	struct ark_kenny_position pos = {0};
	struct ark_book_order o = order_of(ARK_SIDE_BUY, 10, 20);
	take(&pos, &o, ARK_SIDE_BUY, 6, 19.5, 6, 19.5, 0);
	CHECK(NEAR(o.filled, 6));
	/* the same partial fill counted twice would be 12 of 10 */
	struct ark_book_fill again = fill_of(ARK_SIDE_BUY, 6, 19.5);
	refuse(&pos, &o, &again, ARK_BOOK_OVERFILL);
	CHECK(NEAR(pos.quantity, 6) && NEAR(o.filled, 6));
	/* the rest exactly (within rounding) is taken */
	take(&pos, &o, ARK_SIDE_BUY, 4 + 1e-12, 20, 10 + 1e-12, (6 * 19.5 + 4 * 20) / 10, 0);
	CHECK(NEAR(o.filled, 10));
	/* and after it, not a share more */
	again.quantity = 1e-6;
	refuse(&pos, &o, &again, ARK_BOOK_OVERFILL);
	/* one share beyond an order at once */
	struct ark_book_order big = order_of(ARK_SIDE_SELL, 9000, 100);
	struct ark_book_fill over = fill_of(ARK_SIDE_SELL, 9000000, 100);
	refuse(&pos, &big, &over, ARK_BOOK_OVERFILL);
	over.quantity = 9001;
	refuse(&pos, &big, &over, ARK_BOOK_OVERFILL);
	/* an order that reports more filled before than it has */
	big.filled = NAN;
	over.quantity = 1;
	refuse(&pos, &big, &over, ARK_BOOK_OVERFILL);
}

static void test_refusals(void)
{
	struct ark_kenny_position pos = {.quantity = 100, .average_price = 10, .realized_pnl = 5, .fills = 1};
	struct ark_book_order o = order_of(ARK_SIDE_BUY, 50, 12);
	static const double bad_qty[] = {NAN, INFINITY, -INFINITY, 0, -1, 1e308, 2e12};
	for (size_t i = 0; i < sizeof bad_qty / sizeof bad_qty[0]; i++) {
		struct ark_book_fill f = fill_of(ARK_SIDE_BUY, bad_qty[i], 11);
		refuse(&pos, &o, &f, ARK_BOOK_NOT_FINITE);
	}
	static const double bad_price[] = {NAN, INFINITY, 0, -11, 1e308, 2e9};
	for (size_t i = 0; i < sizeof bad_price / sizeof bad_price[0]; i++) {
		struct ark_book_fill f = fill_of(ARK_SIDE_BUY, 10, bad_price[i]);
		refuse(&pos, &o, &f, ARK_BOOK_NOT_FINITE);
	}
	struct ark_book_fill f = fill_of(ARK_SIDE_BUY, 10, 11);
	f.symbol = "MSFT";
	refuse(&pos, &o, &f, ARK_BOOK_SYMBOL);
	f.symbol = "AAPLX";   /* a prefix is not the symbol */
	refuse(&pos, &o, &f, ARK_BOOK_SYMBOL);
	f = fill_of(ARK_SIDE_SELL, 10, 11);
	refuse(&pos, &o, &f, ARK_BOOK_SIDE);
	f = fill_of(ARK_SIDE_NONE, 10, 11);
	refuse(&pos, &o, &f, ARK_BOOK_SIDE);
	/* the limit: a buy at 12 fills at 12.005 at most, a sell at 12 at 11.995 at least */
	f = fill_of(ARK_SIDE_BUY, 10, 12.01);
	refuse(&pos, &o, &f, ARK_BOOK_PRICE);
	struct ark_book_order sell = order_of(ARK_SIDE_SELL, 50, 12);
	f = fill_of(ARK_SIDE_SELL, 10, 11.99);
	refuse(&pos, &sell, &f, ARK_BOOK_PRICE);
	f = fill_of(ARK_SIDE_SELL, 10, 11.996);
	CHECK(ark_book_check(&pos, &sell, &f) == ARK_BOOK_OK);
	f = fill_of(ARK_SIDE_BUY, 10, 12.004);
	CHECK(ark_book_check(&pos, &o, &f) == ARK_BOOK_OK);
	/* a market order (no limit): the broker judged the price */
	struct ark_book_order market = order_of(ARK_SIDE_BUY, 50, 0);
	f = fill_of(ARK_SIDE_BUY, 10, 500);
	CHECK(ark_book_check(&pos, &market, &f) == ARK_BOOK_OK);
	/* each fill is fine, but the position it would build is not */
	struct ark_kenny_position huge = {.quantity = 9e11, .average_price = 1};
	struct ark_book_order big = order_of(ARK_SIDE_BUY, 5e11, 0);
	f = fill_of(ARK_SIDE_BUY, 2e11, 1);
	refuse(&huge, &big, &f, ARK_BOOK_POSITION);
	struct ark_kenny_position rich = {.quantity = 1, .average_price = 1e308, .realized_pnl = 1.7e308};
	struct ark_book_order small = order_of(ARK_SIDE_SELL, 1, 0);
	f = fill_of(ARK_SIDE_SELL, 1, 1e9);
	refuse(&rich, &small, &f, ARK_BOOK_POSITION);
	/* nothing above changed the position */
	CHECK(pos.quantity == 100 && pos.average_price == 10 && pos.realized_pnl == 5 && pos.fills == 1);
}

int main(void)
{
	test_signs_and_flips();
	test_partial_fills();
	test_refusals();
	printf("test_book: ok\n");
	return 0;
}
