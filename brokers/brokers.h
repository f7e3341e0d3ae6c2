/* brokers/brokers.h — the brokers Kenny sends orders to, behind one
 * asynchronous interface (struct ark_broker_ops): start, submit an order
 * (answered at once with a status: filled, accepted with its reports to
 * follow, rejected, would block, suppressed), poll for execution reports,
 * busy while stopping, stop. Two implementations: the paper venue (fills
 * at the limit at once, recognises a resent client order id and answers
 * with the original fill) and Alpaca (asynchronous: an order goes out from
 * a broker thread, its answers come back as execution reports that Kyle
 * numbers). ark_broker_find names them (ARK_BROKER): adding a broker adds a
 * file here and a line to that table, and touches nothing in Kenny. The
 * books both keep are regions of the segment (struct ark_broker_state,
 * struct ark_order_book in pipeline/pipeline.h); the position arithmetic
 * and the fill checks are brokers/book.h. */
#ifndef ARK_BROKERS_H
#define ARK_BROKERS_H

#include "brokers/book.h"
#include "pipeline/pipeline.h"
#include "proc/proc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What Kenny lends a broker: its log, the segment and its lane, its wait
 * strategy (for a report ring) and control block (a broker counts its
 * failed reports in errors). */
struct ark_broker_host {
	struct ark_log *log;
	const struct ark_pipeline_map *map;
	enum ark_lane lane;
	const struct ark_ring_wait_config *wait;
	struct ark_agent_control *control;
};

/* What a submit says about the order. Kenny turns it into the event's
 * exec_status and its own counters; the broker never touches Kenny's state. */
enum ark_broker_status {
	ARK_BROKER_FILLED,       /* filled at once: answer->fill (Kenny checks it and applies it) */
	ARK_BROKER_ACCEPTED,     /* taken: what becomes of it comes back as execution reports */
	ARK_BROKER_REJECTED,     /* refused by the venue: a failed execution */
	ARK_BROKER_WOULD_BLOCK,  /* no room to take it now, nothing sent: a failed execution, not an order */
	ARK_BROKER_SUPPRESSED,   /* quarantined: nothing sent (fail closed) */
};

struct ark_broker_answer {
	/* A resent client order id the venue recognised (after a restart
	 * rolled the batch back): FILLED with the original fill, or ACCEPTED
	 * because the order is already in hand. */
	bool replayed;
	struct ark_book_fill fill;   /* FILLED: what the venue filled */
};

/* A broker. One per Kenny process: an implementation keeps its state in
 * its file and in the segment's regions. poll, busy and stop may be NULL. */
struct ark_broker_ops {
	/* Its fills come back as execution reports through the pipeline, so
	 * HRM keeps its book (positions, orders in flight) by the reports
	 * rather than by the allowed intents. */
	bool reports;
	/* A simulated venue: no money moves (the canary lane trades on one only). */
	bool simulated;
	/* The environment variables holding its credentials (NULL-terminated;
	 * NULL: none): `ark config validate` checks them as secrets and, in
	 * production, requires them. */
	const char *const *credentials;
	/* Read and check its own settings without starting (may be NULL):
	 * `ark config validate` reports err. Holds no secret afterwards. */
	int (*check_settings)(struct ark_err *err);
	int (*start)(const struct ark_broker_host *host, struct ark_err *err);
	/* An allowed intent whose client_order_id is set. quarantined: send
	 * nothing (a broker that keeps no record of it clears the event's
	 * client_order_id). A broker may mark the event; its exec_status and
	 * flags are Kenny's to set from the status, which it always does. */
	enum ark_broker_status (*submit)(const struct ark_broker_host *host, struct ark_event *order, bool quarantined,
					 struct ark_broker_answer *answer);
	/* Every turn of Kenny's loop: publish the answers that came in as
	 * execution reports (Kyle numbers them; they reach Kenny as events). */
	void (*poll)(const struct ark_broker_host *host, uint64_t now_ns);
	/* Stopping: true while orders in flight are being settled and their
	 * reports have not all been taken; Kenny's loop runs on meanwhile. */
	bool (*busy)(const struct ark_broker_host *host, uint64_t now_ns);
	/* Finish what is in flight (bounded), then stop. */
	void (*stop)(const struct ark_broker_host *host);
};
extern const struct ark_broker_ops ark_broker_paper, ark_broker_alpaca;

/* The broker ARK_BROKER names (NULL or empty: paper) into *ops; -EINVAL
 * and err naming the brokers there are for any other name. */
int ark_broker_find(const char *name, const struct ark_broker_ops **ops, struct ark_err *err);

/* The registry's i-th broker and its name (NULL past the last): for the
 * tools that ask every broker (the secrets they need). */
const struct ark_broker_ops *ark_broker_at(size_t i, const char **name);

/* The name ops is registered under ("" if none). */
const char *ark_broker_name(const struct ark_broker_ops *ops);

/* The names ARK_BROKER may take, "a, b or c" ("paper (the simulated venue)"
 * for a simulated one when describe), into out. */
void ark_broker_names(char *out, size_t cap, bool describe);

/* Where an anomaly's stop is kept across restarts and runs:
 * $ARK_DATA_DIR/broker.stopped. */
int ark_broker_latch_path(char *out, size_t cap, struct ark_err *err);

#endif /* ARK_BROKERS_H */
