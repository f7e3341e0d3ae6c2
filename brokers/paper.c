/* brokers/paper.c — the paper venue (ARK_BROKER=paper, the default): fills
 * every valid order whole at its limit price, at once (after its simulated
 * latency, ARK_PAPER_LATENCY_US), rejects a configured share
 * (ARK_PAPER_REJECT_RATE, the same for an order however often it is sent),
 * and recognises a resent client order id by its book in the segment,
 * answering with the original fill. It never sends reports: every answer is
 * the submit's. Invariant: a book entry is complete before its id is set, so
 * a kill in between never leaves a half-recorded order a resend would take
 * for a fill. No allocation, lock or syscall per order (the latency's sleep
 * only when one is configured). */
#include "brokers/brokers.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

static struct ark_broker_state *venue;   /* this lane's book (one venue per Kenny process) */

static int paper_start(const struct ark_broker_host *host, struct ark_err *err)
{
	struct ark_broker_state *broker = venue = ark_pipeline_lane_region(host->map, host->lane, "state.broker", NULL);
	if (!broker)
		return ark_err_set(err, -EPROTO, "the segment has no paper venue for this lane");
	uint64_t latency_us;
	int rc = ark_env_u64("ARK_PAPER_LATENCY_US", 0, 0, 10 * 1000 * 1000, &latency_us, err);
	if (rc)
		return rc;
	broker->latency_ns = latency_us * 1000;
	double reject = 0;
	const char *rate = getenv("ARK_PAPER_REJECT_RATE");
	if (rate && *rate && (rc = ark_parse_double(rate, 0, 1, "ARK_PAPER_REJECT_RATE", &reject, err)))
		return rc;
	broker->reject_per_10k = (uint32_t)(reject * 10000 + 0.5);
	ark_log(host->log, "info", "broker=paper latency_us=%llu reject_rate=%g orders_on_book=%llu",
		(unsigned long long)latency_us, reject, (unsigned long long)broker->orders);
	return 0;
}

static enum ark_broker_status paper_submit(const struct ark_broker_host *host, struct ark_event *e, bool quarantined,
					   struct ark_broker_answer *answer)
{
	if (quarantined) {
		e->client_order_id = 0;   /* no order exists: the event names none */
		return ARK_BROKER_SUPPRESSED;
	}
	struct ark_broker_state *broker = venue;
	if (broker->latency_ns) {
		/* The paper venue acknowledges after its simulated latency. */
		struct timespec ts = {(time_t)(broker->latency_ns / 1000000000u), (long)(broker->latency_ns % 1000000000u)};
		nanosleep(&ts, NULL);
	}
	uint64_t client_order_id = e->client_order_id;
	double quantity = e->quantity, limit_price = e->limit_price;
	uint8_t side = e->side;
	if (!(quantity > 0) || !isfinite(quantity) || !(limit_price > 0) || !isfinite(limit_price) ||
	    (side != ARK_SIDE_BUY && side != ARK_SIDE_SELL) || client_order_id == 0 ||
	    /* Simulated rejections, the same for an order however often it is sent. */
	    (broker->reject_per_10k &&
	     (client_order_id * 0x9e3779b97f4a7c15ull >> 32) % 10000 < broker->reject_per_10k)) {
		ark_log(host->log, "warn", "order rejected by the paper broker trace=%016llx symbol=%s",
			(unsigned long long)e->trace_id, e->symbol);
		return ARK_BROKER_REJECTED;
	}
	/* The venue knows the order it was sent: its fills are of that symbol. */
	answer->fill.symbol = e->symbol;
	struct ark_broker_order *o = &broker->book[client_order_id & (ARK_BROKER_SLOTS - 1)];
	if (o->client_order_id == client_order_id) {
		broker->duplicates++;
		answer->replayed = true;
		answer->fill.side = o->side;
		answer->fill.quantity = o->quantity;
		answer->fill.price = o->price;
		return ARK_BROKER_FILLED;
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
	answer->fill.side = side;
	answer->fill.quantity = quantity;
	answer->fill.price = limit_price;
	return ARK_BROKER_FILLED;
}

const struct ark_broker_ops ark_broker_paper = {.simulated = true, .start = paper_start, .submit = paper_submit};
