/* brokers/brokers.h — the brokers Kenny sends orders to (ARK_BROKER): the
 * paper venue (fills at the limit, recognises a resent client order id and
 * answers with the original fill) and Alpaca (asynchronous: an order goes
 * out from a broker thread, its answers come back as execution reports that
 * Kyle numbers). The books both keep are regions of the segment (struct
 * ark_broker_state, struct ark_order_book in pipeline/pipeline.h). */
#ifndef ARK_BROKERS_H
#define ARK_BROKERS_H

#include "pipeline/pipeline.h"
#include "proc/proc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What Kenny lends a broker: its log, the segment and its lane, its wait
 * strategy and control block, and the counters the broker changes in
 * Kenny's state (orders sent, re-deliveries recognised) with the save that
 * puts them under Kenny's undo log first. */
struct ark_broker_host {
	struct ark_log *log;
	const struct ark_pipeline_map *map;
	enum ark_lane lane;
	const struct ark_ring_wait_config *wait;
	struct ark_agent_control *control;
	uint64_t *orders;
	uint64_t *duplicates;
	void (*save)(void *kenny, const void *ptr, size_t len);
	void *kenny;
};

/* The paper venue: a broker must recognise a resent client order id and
 * answer with the original fill. */
enum ark_broker_result { ARK_BROKER_FILLED, ARK_BROKER_DUPLICATE, ARK_BROKER_REJECTED };
struct ark_broker_ops {
	enum ark_broker_result (*submit)(struct ark_broker_state *venue, uint64_t client_order_id, uint8_t side,
					 double quantity, double limit_price, double *fill_quantity,
					 double *fill_price);
};
extern const struct ark_broker_ops ark_broker_paper;

/* Alpaca (brokers/alpaca_client.c): a broker thread with libcurl's multi
 * interface; Kenny's main thread only fills a slot and wakes it. */
int ark_broker_alpaca_start(const struct ark_broker_host *host, struct ark_err *err);
/* An allowed intent: queue its order (the event leaves SUBMITTED).
 * quarantined: send nothing, but report the order final and unfilled
 * (SUPPRESSED) so that HRM's book lets go of it. */
void ark_broker_alpaca_submit(const struct ark_broker_host *host, struct ark_event *event, bool quarantined);
/* Publish the answers that came in as execution reports (Kyle numbers them). */
void ark_broker_alpaca_poll(const struct ark_broker_host *host, uint64_t now_ns);
/* Stopping: true while orders in flight are being settled (within twice
 * the request timeout) and their reports have not all been taken by Kyle;
 * Kenny's loop runs on meanwhile, so the reports come back through it. */
bool ark_broker_alpaca_busy(const struct ark_broker_host *host, uint64_t now_ns);
/* Finish what is in flight (bounded by the request timeout), then stop. */
void ark_broker_alpaca_stop(const struct ark_broker_host *host);

/* Where an anomaly's stop is kept across restarts and runs:
 * $ARK_DATA_DIR/broker.stopped. */
int ark_broker_latch_path(char *out, size_t cap, struct ark_err *err);

#endif /* ARK_BROKERS_H */
