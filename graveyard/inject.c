/* graveyard/inject.c — the intent Joey emits for an injected tick: lane 0
 * violates the named rule kind (and no rule checked before it), lane 1 is
 * the allowed setup step the tick spells out.
 *
 * Invariant: the result depends only on the rules and the event, so Joey
 * stays deterministic and needs no view of HRM's state; the stateful kinds
 * get their state from the setup steps the generator (synth/) plans. */
#include "graveyard/graveyard.h"

#include <errno.h>
#include <math.h>

double ark_graveyard_unit_quantity(const struct ark_graveyard_limits *limits)
{
	return fmin(1.0, fmin(limits->max_order_quantity, limits->max_position));
}

/* side and quantity from the tick's signed size; size 0 is a mark only. */
static int from_size(double size, uint8_t *side, double *quantity)
{
	if (!isfinite(size))
		return -ERANGE;
	if (size == 0) {
		*side = ARK_SIDE_NONE;
		*quantity = 0;
		return 0;
	}
	*side = size > 0 ? ARK_SIDE_BUY : ARK_SIDE_SELL;
	*quantity = fabs(size);
	return 0;
}

int ark_graveyard_injected_intent(const struct ark_graveyard_rules *rules, const struct ark_event *event,
				  uint8_t *side, double *quantity, double *limit_price)
{
	const struct ark_graveyard_limits *l = &rules->limits;
	const double price = event->price;
	const bool price_ok = price > 0 && price < INFINITY;
	*side = ARK_SIDE_NONE;
	*quantity = 0;
	*limit_price = 0;
	if (!(event->flags & ARK_EVENT_INJECTED))
		return -EINVAL;
	if (event->lane != 0) {
		*limit_price = price;
		return from_size(event->size, side, quantity);
	}
	const double unit = ark_graveyard_unit_quantity(l);
	int rc;
	switch ((enum ark_reason)event->injected_kind) {
	case ARK_REASON_HALTED:
	case ARK_REASON_RESTRICTED_SYMBOL:
	case ARK_REASON_RESTRICTED_PATTERN:
	case ARK_REASON_REFERENCE_PRICE:
		/* Any order will do; the limit needs no valid reference. */
		*side = ARK_SIDE_BUY;
		*quantity = unit;
		*limit_price = price_ok ? price : 1.0;
		return 0;
	case ARK_REASON_REDUCING_ONLY:
		/* Grows the position: a buy when flat, or the side the tick names. */
		if (event->size != 0 && (rc = from_size(event->size, side, quantity)) == 0) {
			*limit_price = price;
			return 0;
		}
		*side = ARK_SIDE_BUY;
		*quantity = unit;
		*limit_price = price;
		return 0;
	case ARK_REASON_MAX_QUANTITY:
		*side = ARK_SIDE_BUY;
		*quantity = l->max_order_quantity * 2;
		*limit_price = price;
		return 0;
	case ARK_REASON_PRICE_COLLAR:
		if (!price_ok)
			return -ERANGE;
		*side = ARK_SIDE_BUY;
		*quantity = unit;
		*limit_price = price * (1 + 2 * l->price_collar);
		return 0;
	case ARK_REASON_MAX_NOTIONAL:
		/* The largest allowed quantity, at a price where it is too much. */
		if (!price_ok || l->max_order_quantity * price <= l->max_order_notional * (1 + 1e-6))
			return -ERANGE;
		*side = ARK_SIDE_BUY;
		*quantity = l->max_order_quantity;
		*limit_price = price;
		return 0;
	case ARK_REASON_DUPLICATE:
	case ARK_REASON_RATE_SYMBOL:
	case ARK_REASON_RATE_GLOBAL:
	case ARK_REASON_GROSS_EXPOSURE:
	case ARK_REASON_DAILY_LOSS:
		/* The generator planned it: the tick's size is the order. */
		if (event->size == 0 || (rc = from_size(event->size, side, quantity)))
			return -ERANGE;
		*limit_price = price;
		return 0;
	case ARK_REASON_POSITION_LIMIT:
		/* The planned order, priced half a collar away so it never repeats
		 * the last setup step (which would be a duplicate). */
		if (event->size == 0 || (rc = from_size(event->size, side, quantity)))
			return -ERANGE;
		*limit_price = price * (*side == ARK_SIDE_BUY ? 1 + l->price_collar / 2 : 1 - l->price_collar / 2);
		return 0;
	case ARK_REASON_NONE:
	case ARK_REASON_ETHICS_DRIFT:
	case ARK_REASON_QUARANTINED:
	case ARK_REASON_STATE_CORRUPT:
	case ARK_REASON_COUNT:
		break;
	}
	return -EINVAL;
}
