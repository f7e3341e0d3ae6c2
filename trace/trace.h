/* trace/trace.h — reading one event's trace back: from the journal by
 * trace id, which agents stamped it, its latency, what a network broker
 * said later about its order (the Mutable Core), and the trace as JSON.
 * Read-only: `ark trace` and the ingest API's trace route use it. */
#ifndef ARK_TRACE_H
#define ARK_TRACE_H

#include "common/common.h"
#include "event/event.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One event from the journal by trace id. */
int ark_trace_lookup(const char *journal_dir, uint64_t trace_id, struct ark_event *event, struct ark_err *err);
/* Which agents stamped it (present[a]); true when all did, in order. */
bool ark_trace_agents(const struct ark_event *event, bool present[ARK_AGENT_COUNT]);
/* Kyle in to Aletheia out, 0 when either is missing. */
double ark_trace_end_to_end_us(const struct ark_event *event, const bool present[ARK_AGENT_COUNT]);
/* What a network broker said later about an order the journal shows
 * "submitted": Kenny's execution reports land in the Mutable Core's orders
 * and fills (read-only here). found is false when the database has no row. */
struct ark_trace_order {
	bool found;
	char status[24];            /* filled, accepted, rejected, submitted */
	double filled_quantity;
	double fill_price;
};
int ark_trace_order_outcome(const char *state_db, uint64_t trace_id, struct ark_trace_order *order, struct ark_err *err);
/* The trace as one JSON object and a newline (what `ark trace --json` prints);
 * order, when not NULL and found, is the broker's word on it. */
void ark_trace_write_json(FILE *out, uint64_t trace_id, const struct ark_event *event,
			  const struct ark_trace_order *order);

#endif /* ARK_TRACE_H */
