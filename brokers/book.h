/* brokers/book.h — the position and P&L arithmetic of execution, on its own:
 * a fill checked against the order it fills (symbol, side, what is left of
 * the order, the limit, finite values), then applied to the symbol's
 * position (average cost, realised P&L, flips). Pure functions over the
 * caller's records: no I/O, no state, no allocation, so Kenny calls them on
 * the hot path and inside its undo bracket (it saves the position first). */
#ifndef ARK_BROKERS_BOOK_H
#define ARK_BROKERS_BOOK_H

#include "pipeline/pipeline.h"   /* struct ark_kenny_position: the segment's layout */

#include <stdint.h>

/* The largest fill quantity and price a position takes (and the largest
 * position a fill may build). */
#define ARK_BOOK_MAX_FILL_QTY 1e12
#define ARK_BOOK_MAX_FILL_PRICE 1e9

/* An order as the book judges a fill against it. */
struct ark_book_order {
	const char *symbol;
	uint8_t side;            /* ARK_SIDE_BUY or ARK_SIDE_SELL */
	double quantity;         /* ordered */
	double limit_price;      /* 0: no limit (a market order: the broker judges its price) */
	double filled;           /* filled before this fill; ark_book_fill adds what it applies */
};

/* One fill: what it adds to the order (not the cumulative). */
struct ark_book_fill {
	const char *symbol;
	uint8_t side;
	double quantity;
	double price;
};

enum ark_book_refusal {
	ARK_BOOK_OK = 0,
	ARK_BOOK_NOT_FINITE,     /* quantity or price not finite and positive, or beyond the largest */
	ARK_BOOK_SYMBOL,         /* another symbol than the order's */
	ARK_BOOK_SIDE,           /* another side than the order's */
	ARK_BOOK_OVERFILL,       /* more than is left of the order (e.g. a partial fill counted twice) */
	ARK_BOOK_PRICE,          /* beyond the order's limit (a buy above, a sell below; a cent's rounding allowed) */
	ARK_BOOK_POSITION,       /* the position, notional or P&L after it would stop being finite */
};
const char *ark_book_refusal_name(enum ark_book_refusal refusal);

/* Whether fill may be applied to pos as a fill of order (nothing changes). */
enum ark_book_refusal ark_book_check(const struct ark_kenny_position *pos, const struct ark_book_order *order,
				     const struct ark_book_fill *fill);
/* Check, then apply: the position takes the fill and order->filled grows
 * by it. Refused: nothing changes. *pnl_delta: what the realised P&L moved. */
enum ark_book_refusal ark_book_fill(struct ark_kenny_position *pos, struct ark_book_order *order,
				    const struct ark_book_fill *fill, double *pnl_delta);
/* The arithmetic alone (signed quantity: + buys, - sells), unchecked:
 * average cost while a position grows, realised P&L on what a fill closes,
 * the rest opened at the fill's price when it flips the position. */
void ark_book_apply(struct ark_kenny_position *pos, double signed_qty, double price);

#endif /* ARK_BROKERS_BOOK_H */
