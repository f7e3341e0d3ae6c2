/* brokers/paper.c — the paper venue: fills every valid order whole at its
 * limit price, rejects a configured share (ARK_PAPER_REJECT_RATE, the same
 * for an order however often it is sent), and recognises a resent client
 * order id by its book in the segment, answering with the original fill.
 * Invariant: a book entry is complete before its id is set, so a kill in
 * between never leaves a half-recorded order a resend would take for a fill. */
#include "brokers/brokers.h"

#include <math.h>

static enum ark_broker_result paper_submit(struct ark_broker_state *broker, uint64_t client_order_id, uint8_t side,
					  double quantity, double limit_price, double *fill_quantity, double *fill_price)
{
	if (!(quantity > 0) || !isfinite(quantity) || !(limit_price > 0) || !isfinite(limit_price) ||
	    (side != ARK_SIDE_BUY && side != ARK_SIDE_SELL) || client_order_id == 0)
		return ARK_BROKER_REJECTED;
	/* Simulated rejections, the same for an order however often it is sent. */
	if (broker->reject_per_10k && (client_order_id * 0x9e3779b97f4a7c15ull >> 32) % 10000 < broker->reject_per_10k)
		return ARK_BROKER_REJECTED;
	struct ark_broker_order *o = &broker->book[client_order_id & (ARK_BROKER_SLOTS - 1)];
	if (o->client_order_id == client_order_id) {
		broker->duplicates++;
		*fill_quantity = o->quantity;
		*fill_price = o->price;
		return ARK_BROKER_DUPLICATE;
	}
	/* The paper venue fills the whole order at its limit price. The record
	 * is complete before its id is set, so a kill in between leaves no
	 * half-recorded order that a resend would mistake for a fill. */
	o->client_order_id = 0;
	o->quantity = quantity;
	o->price = limit_price;
	o->side = side;
	atomic_signal_fence(memory_order_seq_cst);
	__atomic_store_n(&o->client_order_id, client_order_id, __ATOMIC_RELEASE);
	broker->orders++;
	*fill_quantity = quantity;
	*fill_price = limit_price;
	return ARK_BROKER_FILLED;
}

const struct ark_broker_ops ark_broker_paper = {.submit = paper_submit};
