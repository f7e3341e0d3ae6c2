/* brokers/book.c — the position and P&L arithmetic (brokers/book.h): a fill
 * is checked against its order before it touches a position, and applied
 * only whole. Invariant: a position is only ever changed by a fill that
 * passed ark_book_check, so quantity, average price and realised P&L stay
 * finite, and an order's fills never add up to more than was ordered. */
#include "brokers/book.h"

#include <math.h>
#include <string.h>

const char *ark_book_refusal_name(enum ark_book_refusal refusal)
{
	switch (refusal) {
	case ARK_BOOK_OK: return "ok";
	case ARK_BOOK_NOT_FINITE: return "not_finite";
	case ARK_BOOK_SYMBOL: return "symbol";
	case ARK_BOOK_SIDE: return "side";
	case ARK_BOOK_OVERFILL: return "overfill";
	case ARK_BOOK_PRICE: return "price";
	case ARK_BOOK_POSITION: return "position";
	}
	return "unknown";
}

enum ark_book_refusal ark_book_check(const struct ark_kenny_position *pos, const struct ark_book_order *order,
				     const struct ark_book_fill *fill)
{
	double qty = fill->quantity, price = fill->price;
	if (!isfinite(qty) || !(qty > 0) || qty > ARK_BOOK_MAX_FILL_QTY || !isfinite(price) || !(price > 0) ||
	    price > ARK_BOOK_MAX_FILL_PRICE)
		return ARK_BOOK_NOT_FINITE;
	if (!order->symbol || !fill->symbol || strncmp(order->symbol, fill->symbol, ARK_SYMBOL_MAX) != 0)
		return ARK_BOOK_SYMBOL;
	if ((order->side != ARK_SIDE_BUY && order->side != ARK_SIDE_SELL) || fill->side != order->side)
		return ARK_BOOK_SIDE;
	/* Overfill and limit with the tolerance of Alpaca's check of an answer
	 * (common/): a fill it let through is never refused here for a last digit. */
	if (!isfinite(order->quantity) || !isfinite(order->filled) || order->filled < 0 ||
	    !ark_amount_within(order->filled + qty, order->quantity))
		return ARK_BOOK_OVERFILL;
	if (order->limit_price > 0 && !ark_limit_price_ok(order->side == ARK_SIDE_BUY, price, order->limit_price))
		return ARK_BOOK_PRICE;
	/* What applying it would make must stay finite (and the position
	 * within the largest one a fill may build). */
	double signed_qty = fill->side == ARK_SIDE_BUY ? qty : -qty;
	double q = pos->quantity + signed_qty;
	double notional = fabs(q) * fmax(price, fabs(pos->average_price));
	double pnl = pos->realized_pnl + qty * (price + fabs(pos->average_price));
	if (!isfinite(q) || fabs(q) > ARK_BOOK_MAX_FILL_QTY || !isfinite(notional) || !isfinite(pnl))
		return ARK_BOOK_POSITION;
	return ARK_BOOK_OK;
}

void ark_book_apply(struct ark_kenny_position *pos, double signed_qty, double price)
{
	double q = pos->quantity;
	if (q == 0 || (q > 0) == (signed_qty > 0)) {
		double total = fabs(q) + fabs(signed_qty);
		pos->average_price = total > 0 ? (pos->average_price * fabs(q) + price * fabs(signed_qty)) / total : 0;
		pos->quantity = q + signed_qty;
	} else {
		double closed = fmin(fabs(signed_qty), fabs(q));
		pos->realized_pnl += closed * (price - pos->average_price) * (q > 0 ? 1 : -1);
		pos->quantity = q + signed_qty;
		if (fabs(pos->quantity) < 1e-9)
			pos->quantity = 0, pos->average_price = 0;
		else if ((pos->quantity > 0) != (q > 0))
			pos->average_price = price;   /* flipped: the rest opened at this price */
	}
	pos->fills++;
}

enum ark_book_refusal ark_book_fill(struct ark_kenny_position *pos, struct ark_book_order *order,
				    const struct ark_book_fill *fill, double *pnl_delta)
{
	*pnl_delta = 0;
	enum ark_book_refusal r = ark_book_check(pos, order, fill);
	if (r != ARK_BOOK_OK)
		return r;
	double before = pos->realized_pnl;
	ark_book_apply(pos, fill->side == ARK_SIDE_BUY ? fill->quantity : -fill->quantity, fill->price);
	order->filled += fill->quantity;
	*pnl_delta = pos->realized_pnl - before;
	return ARK_BOOK_OK;
}
