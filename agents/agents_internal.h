/* agents/agents_internal.h — what the agent files share inside agents/: the
 * working-state layouts kept in the segment, the undo log, the runtime
 * context and the per-process log. Not part of the component's interface. */
#ifndef ARK_AGENTS_INTERNAL_H
#define ARK_AGENTS_INTERNAL_H

#include "agents/agents.h"
#include "graveyard/graveyard.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- The undo log: one batch's state changes, atomic with publication ----
 *
 * Before a batch, the agent opens the log; before changing any bytes of its
 * state it saves them; after processing it records the last seq the batch
 * publishes (commit_seq), publishes, then closes the log. A restart finding
 * the log open compares commit_seq with what was really published: if the
 * batch went out, its changes stand; if not, they are undone, newest first,
 * and the batch comes again from the input ring (never released). */
#define ARK_UNDO_ENTRIES 16384
#define ARK_UNDO_BYTES (4u << 20)

struct ark_undo_entry {
	uint64_t offset;     /* from the segment's start */
	uint32_t len;
	uint32_t data_offset;
};

struct ark_undo {
	_Atomic uint32_t active;
	_Atomic uint32_t count;
	_Atomic uint64_t commit_seq;
	uint32_t used;
	uint32_t reserved;
	struct ark_undo_entry entries[ARK_UNDO_ENTRIES];
	uint8_t data[ARK_UNDO_BYTES];
};

/* ---- Working state of each agent ---- */

#define ARK_SYMBOL_SLOTS (2 * ARK_MAX_SYMBOLS)

struct ark_kyle_state {
	uint64_t last_seq;                          /* last seq assigned and published */
	uint64_t source_next_index[ARK_MAX_SOURCES]; /* per source ring: index after the last tick
						      * taken (re-deliveries lie below it) */
	uint32_t symbol_count;
	uint32_t route_percent;                     /* the canary share the last batch used (0: none); */
	uint64_t symbol_table_full;                 /* written before its batch, never undone: a
						     * batch redone after a crash routes the same way */                 /* ticks refused: no symbol id left */
	char symbols[ARK_MAX_SYMBOLS][ARK_SYMBOL_MAX];
	uint16_t slots[ARK_SYMBOL_SLOTS];           /* open addressing: id + 1, 0 = empty */
	/* A batch published on both lanes' rings takes two commits: set before
	 * the first (never undone), cleared after the second. A Kyle that died
	 * in between finds the other ring's slots written and commits them. */
	uint64_t two_ring_pending;
	uint64_t two_ring_head[ARK_LANE_COUNT];
	uint64_t reports_next_index;                /* ring.reports: index after the last report taken */
};

/* Joey's per-symbol statistics. Documented rule (README, "Joey"): */
#define ARK_JOEY_FAST 8            /* fast EMA span, events */
#define ARK_JOEY_SLOW 64           /* slow EMA span, events */
#define ARK_JOEY_WARMUP 64         /* observations before any intent */
#define ARK_JOEY_Z 2.5             /* |z| that fires */
#define ARK_JOEY_OUTLIER_Z 10.0    /* |price - slow| beyond this many deviations: a bad print, ignored */
#define ARK_JOEY_OUTLIER_FLOOR 1e-4 /* ... with the deviation at least this share of the price (1 bp) */
#define ARK_JOEY_OUTLIER_RUN 8     /* this many outliers in a row are a new level: start over from it */
struct ark_joey_symbol {
	uint64_t count;
	double ema_fast;
	double ema_slow;
	double variance;           /* exponentially weighted variance around ema_slow */
	double last_price;
	uint64_t last_intent_ns;   /* market time of the last intent */
	double position_view;      /* net quantity of the intents Joey emitted */
	uint64_t window_start_ns;  /* Joey's own per-symbol intent budget window */
	uint32_t window_count;
	uint32_t outliers_in_a_row;
	uint64_t outliers;         /* ticks ignored as outliers */
	uint8_t restriction_known; /* the rules' restriction of this symbol id was looked up */
	uint8_t restricted;        /* ... and it is restricted: Joey never trades it */
	uint8_t reserved[6];
};

struct ark_joey_state {
	uint64_t last_seq;
	uint64_t market_ns;        /* the latest exchange time seen: a tick older than the
				    * reference age is stale to HRM, so Joey does not act on it */
	double gross_view;         /* sum of |quantity| * price of open intents (upper bound) */
	uint64_t window_start_ns;  /* Joey's own global intent budget window */
	uint64_t window_count;
	struct ark_joey_symbol symbols[ARK_MAX_SYMBOLS];
};

/* The limits Joey keeps its own intents within (half of each Graveyard limit),
 * so that HRM never has to deny a clean intent. */
struct ark_joey_limits {
	double max_quantity;
	double max_notional;
	double max_position;
	double max_gross;
	uint64_t symbol_window_ns;
	uint32_t symbol_budget;
	uint64_t global_window_ns;
	uint32_t global_budget;
	uint64_t cooldown_ns;       /* at least the duplicate window */
	double base_quantity;
	uint32_t trading_state;     /* HALTED: no intents; REDUCING: only reducing ones */
};

struct ark_hrm_state {
	uint64_t last_seq;
	uint64_t drift_checks;
	/* The broker's buying power (Alpaca's account, via Kenny) spent by the
	 * buys HRM allowed since Kenny last read it: an intent that would spend
	 * more than is left is denied. Saved with the scalars for undo. */
	uint64_t buying_power_version;
	double buying_power_spent;
	uint64_t buying_power_denials;
	struct ark_graveyard_rules rules;
	struct ark_graveyard_state graveyard;
	struct ark_hist eval_ns;   /* time in the Graveyard per event (a measurement:
				    * not rolled back with a batch) */
	/* Per symbol: a setup step of the injection under way was denied in
	 * this lane, so its violation no longer tests what it was made to (a
	 * tighter canary denies the steps that build a position): an injected
	 * violation allowed then is counted inconclusive, not allowed. After
	 * the scalars (saved for undo byte by byte, not with them). */
	uint8_t injection_setup_denied[ARK_MAX_SYMBOLS];
};

struct ark_kenny_position {
	double quantity;
	double average_price;
	double realized_pnl;
	uint64_t fills;
};

struct ark_kenny_state {
	uint64_t last_seq;
	uint64_t orders;
	uint64_t fills;
	uint64_t duplicates;       /* resent orders the broker recognised */
	double realized_pnl;
	struct ark_kenny_position positions[ARK_MAX_SYMBOLS];
};

struct ark_aletheia_state {
	uint64_t last_seq;         /* last journaled */
	struct ark_journal_position journal_position;  /* for a fast restart (store.h) */
	uint64_t trace_breaks;
	uint64_t complete;
	uint64_t first_in_ns;      /* Kyle's stamp on the first event of the run */
	uint64_t last_out_ns;      /* Aletheia's stamp on the last one */
	uint64_t lane_events[ARK_LANE_COUNT];    /* journaled, by the lane they took */
	uint64_t lane_intents[ARK_LANE_COUNT];
	uint64_t lane_denials[ARK_LANE_COUNT];
	/* Histograms from here on: undone bucket by bucket (not as a block). */
	struct ark_latency_record latency;
	struct ark_hist lane_latency[ARK_LANE_COUNT];   /* Kyle in → Kenny out */
	/* Releasing a merged batch from both lanes' rings takes two stores: set
	 * before the first, cleared after the second (never undone); an
	 * Aletheia that died in between finishes the release at its start. */
	uint64_t two_ring_pending;
	uint64_t two_ring_tail[ARK_LANE_COUNT];
};

/* The paper broker's venue: every order it ever took, by client order id.
 * Kenny never rolls this back: it stands for a venue outside ARK, which
 * recognises a resent order instead of filling it twice. */
#define ARK_BROKER_SLOTS (1u << 20)  /* client order ids are trace ids: the last
					    * million sequence numbers never collide */
struct ark_broker_order {
	uint64_t client_order_id;  /* 0 = empty */
	double quantity;
	double price;
	uint8_t side;
	uint8_t reserved[7];
};
struct ark_broker_state {
	uint64_t orders;
	uint64_t duplicates;
	uint64_t latency_ns;       /* simulated acknowledgement latency */
	uint32_t reject_per_10k;   /* simulated rejections (ARK_PAPER_REJECT_RATE), per 10,000 orders */
	uint32_t reserved;
	struct ark_broker_order book[ARK_BROKER_SLOTS];
};

/* The orders Kenny sent to a network broker (Alpaca), by sequence number:
 * what it sent, where each order stands, and what of the broker's word has
 * been published as execution reports. Never rolled back (like the paper
 * venue's book): it says what happened outside ARK. Each slot belongs to
 * one thread at a time, handed over by its state: Kenny's main thread
 * writes QUEUED and takes ANSWERED; the broker thread takes QUEUED and OPEN
 * (polls) and hands back ANSWERED. Kenny checks an answer against the order
 * and publishes it as an execution report on ring.reports, which Kyle
 * numbers like a tick: the report goes through every agent in sequence
 * order (HRM's view, Kenny's position) and into the journal. A restarted
 * Kenny looks up every order that was SENT before it POSTs anything again,
 * and finishes a publication caught REPORTING (by the ring's head). */
#define ARK_ORDER_SLOTS 4096u
enum ark_order_state {
	ARK_ORDER_FREE = 0,
	ARK_ORDER_QUEUED,     /* to send (or look up, when `lookup`): broker thread */
	ARK_ORDER_SENT,       /* a request about it is in flight: broker thread */
	ARK_ORDER_ANSWERED,   /* the broker's word is in the slot: Kenny checks and reports it */
	ARK_ORDER_REPORTING,  /* its report is being committed (report_head: the ring's head after it) */
	ARK_ORDER_OPEN,       /* reported, still working at the broker: polled */
	ARK_ORDER_DONE,       /* final and reported (or stopped by an anomaly) */
};
struct ark_order_slot {
	_Atomic uint32_t state;
	uint32_t attempts;         /* POSTs made (each after the broker said it has no such order) */
	uint8_t lookup;            /* the next request is GET by client_order_id, never a POST */
	uint8_t answer;            /* enum ark_alpaca_answer of the last answer */
	uint8_t venue_final;       /* the order is done at the broker */
	uint8_t suppressed;        /* never sent: Kenny was quarantined (reported as such, final) */
	uint16_t http_status;
	uint16_t reserved2;
	uint32_t error_code;
	uint32_t failures;         /* lookups in a row that got no answer */
	uint64_t client_order_id;  /* the trace id */
	uint64_t next_request_ns;  /* CLOCK_MONOTONIC: not before */
	double venue_filled_qty;   /* cumulative, as the broker says (checked against the order) */
	double venue_avg_price;
	double reported_qty;       /* of that, what execution reports have carried */
	double reported_avg_price;
	char order_id[48];
	char venue_status[24];
	char message[96];
	uint8_t seen_at_venue;     /* Alpaca showed it (an order object, or 422 "must be unique"):
				    * a later 404 never leads to a POST */
	uint8_t anomaly;           /* enum ark_alpaca_anomaly of the answer now in the slot */
	uint8_t reserved3[6];
	uint64_t report_head;      /* REPORTING: ring.reports' head once its report is committed */
	double claimed_filled_qty; /* with anomaly: what the broker claimed (recorded, never applied) */
	double claimed_avg_price;
	struct ark_event event;    /* the order's event as Kenny passed it on */
};
struct ark_order_book {
	_Atomic uint64_t buying_power_bits;   /* a double, valid once account_version > 0 */
	_Atomic uint64_t account_version;     /* 0: no account read (paper broker): HRM does not check */
	_Atomic uint32_t execution_stopped;   /* account unusable or keys refused: no new order goes out */
	uint32_t reserved;
	_Atomic uint64_t rate_limited_until_ns;   /* CLOCK_MONOTONIC, from X-RateLimit-Reset */
	_Atomic uint64_t answered;            /* bumped at every ANSWERED: Kenny looks then */
	_Atomic uint64_t answers[ARK_BROKER_ANSWER_KINDS];   /* by enum ark_alpaca_answer */
	_Atomic uint64_t submitted;           /* orders handed to the broker thread */
	_Atomic uint64_t posts;               /* POST /v2/orders made */
	_Atomic uint64_t lookups;             /* GET by client_order_id made */
	_Atomic uint64_t reports;             /* execution reports published */
	_Atomic uint64_t refused_locally;     /* not sent: book full or execution stopped */
	/* Why execution stopped (with execution_stopped): the keys or account,
	 * or an anomaly, which only an operator lifts (ark broker resume). */
	_Atomic uint32_t stop_kind;           /* enum ark_broker_stop */
	_Atomic uint32_t broker_active;       /* a network broker runs in Kenny (its start to its stop) */
	_Atomic uint32_t settling;            /* Kenny stopping: 0 not yet, 1 settling the orders in flight,
					       * 2 settled (every report taken): Kyle, told to stop, waits
					       * for 2 while the broker is active, so no report is left */
	char stop_reason[224];                /* NUL-terminated before stop_kind is set */
	_Atomic uint64_t anomalies[ARK_BROKER_ANOMALY_KINDS];   /* by enum ark_alpaca_anomaly */
	struct ark_order_slot slots[ARK_ORDER_SLOTS];
};

/* The broker's buying power and the version it was published under (0: none). */
static inline double ark_order_book_buying_power(struct ark_order_book *book, uint64_t *version)
{
	/* A seqlock: the writer makes the version odd while it writes. */
	uint64_t v1, v2, bits;
	do {
		v1 = atomic_load(&book->account_version);
		bits = atomic_load(&book->buying_power_bits);
		v2 = atomic_load(&book->account_version);
	} while (v1 != v2 || (v1 & 1));
	*version = v1 / 2;
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

size_t ark_agent_state_size(enum ark_agent agent);
void *ark_pipeline_agent_state(const struct ark_pipeline_map *map, enum ark_agent agent);
struct ark_undo *ark_pipeline_agent_undo(const struct ark_pipeline_map *map, enum ark_agent agent);
void *ark_pipeline_lane_agent_state(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent);
struct ark_undo *ark_pipeline_lane_agent_undo(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent);

/* ---- The runtime every agent loop shares ---- */
struct ark_agent_ctx {
	enum ark_agent agent;
	enum ark_lane lane;        /* Joey, HRM, Kenny: which lane this process serves */
	struct ark_pipeline_map map;
	struct ark_pipeline *pipeline;
	struct ark_agent_control *control;
	struct ark_pipeline_counters *counters;   /* this lane's */
	void *state;
	struct ark_undo *undo;
	struct ark_log *log;
	struct ark_ring_consumer input;
	struct ark_ring_producer output;
	struct ark_ring_wait_config wait;
	uint64_t last_published;   /* highest seq already published downstream */
};

/* A region of this process's lane ("state.orders", "state.broker", "ring.reports"). */
void *ark_agent_region(const struct ark_agent_ctx *ctx, const char *name);

/* Save bytes of this agent's state before changing them (inside a batch). */
void ark_undo_save(struct ark_agent_ctx *ctx, const void *ptr, size_t len);
void ark_undo_begin(struct ark_agent_ctx *ctx);
void ark_undo_set_commit(struct ark_agent_ctx *ctx, uint64_t seq);
void ark_undo_end(struct ark_agent_ctx *ctx);
/* At start: roll back an unpublished batch. Returns true if it did. */
bool ark_undo_recover(struct ark_agent_ctx *ctx, uint64_t published_seq);
/* Test seam (weak, absent from `ark`): called at each step of a batch —
 * "undo.begin", "undo.save", "event.processed", "undo.commit_seq",
 * "ring.commit", "undo.end", "ring.release". tests/agents/test_undo.c kills
 * the agent there. */
void ark_agent_fault_point(enum ark_agent agent, const char *step);

/* The seq of the last event committed on an event ring (0 if none yet). */
uint64_t ark_ring_last_event_seq(struct ark_ring *ring);

/* Signals: SIGTERM/SIGINT ask the loop to drain and stop. */
void ark_agent_install_signals(void);
bool ark_agent_stop_requested(const struct ark_agent_ctx *ctx);

/* Pin to ARK_CPU_<NAME> when set; records the CPU in the control block. */
int ark_agent_pin(const char *upper_name, struct ark_agent_control *control, struct ark_err *err);


/* Agent bodies. */
int ark_kyle_main(struct ark_agent_ctx *ctx);
int ark_stage_main(struct ark_agent_ctx *ctx);    /* Joey, HRM, Kenny */
int ark_aletheia_main(struct ark_agent_ctx *ctx);

/* Per-event processing of the middle stages (in place, on the output slot). */
struct ark_stage_ops {
	/* Before the agent touches its rings or its state (a process that
	 * must not run here leaves without a trace): e.g. HRM's pinned rules. */
	int (*preflight)(struct ark_agent_ctx *ctx, struct ark_err *err);
	int (*start)(struct ark_agent_ctx *ctx, struct ark_err *err);
	void (*process)(struct ark_agent_ctx *ctx, struct ark_event *event, uint64_t now_ns);
	void (*idle)(struct ark_agent_ctx *ctx, uint64_t now_ns);
	/* Every turn of the loop, between batches (Kenny: a network broker's
	 * answers); when set, an idle wait lasts at most 10 ms. */
	void (*poll)(struct ark_agent_ctx *ctx, uint64_t now_ns);
	/* Stopping: true while the stage still has work that must go through
	 * the pipeline before it stops (Kenny: a network broker's orders in
	 * flight); the loop keeps running. */
	bool (*busy)(struct ark_agent_ctx *ctx, uint64_t now_ns);
	void (*stop)(struct ark_agent_ctx *ctx);
};
extern const struct ark_stage_ops ark_joey_ops, ark_hrm_ops, ark_kenny_ops;

/* The broker Kenny sends orders to, behind one interface (ARK_BROKER): the
 * paper venue now, the Alpaca adapter with the edges issue. A broker must
 * recognise a resent client order id and answer with the original fill. */
enum ark_broker_result { ARK_BROKER_FILLED, ARK_BROKER_DUPLICATE, ARK_BROKER_REJECTED };
struct ark_broker_ops {
	const char *name;
	enum ark_broker_result (*submit)(struct ark_broker_state *venue, uint64_t client_order_id, uint8_t side,
					 double quantity, double limit_price, double *fill_quantity,
					 double *fill_price);
};
extern const struct ark_broker_ops ark_paper_broker;

/* Alpaca (agents/broker_alpaca.c): a broker thread with libcurl's multi
 * interface; Kenny's main thread only fills a slot and wakes it. */
int ark_alpaca_broker_start(struct ark_agent_ctx *ctx, struct ark_err *err);
/* An allowed intent: queue its order (the event leaves SUBMITTED). */
/* quarantined: send nothing, but report the order final and unfilled
 * (SUPPRESSED) so that HRM's book lets go of it. */
void ark_alpaca_broker_submit(struct ark_agent_ctx *ctx, struct ark_event *event, bool quarantined);
/* Publish the answers that came in as execution reports (Kyle numbers them). */
void ark_alpaca_broker_poll(struct ark_agent_ctx *ctx, uint64_t now_ns);
/* Stopping: true while orders in flight are being settled (within twice
 * the request timeout) and their reports have not all been taken by Kyle;
 * Kenny's loop runs on meanwhile, so the reports come back through it. */
bool ark_alpaca_broker_busy(struct ark_agent_ctx *ctx, uint64_t now_ns);
/* Finish what is in flight (bounded by the request timeout), then stop. */
void ark_alpaca_broker_stop(struct ark_agent_ctx *ctx);
/* Apply a fill to a position (shared by the paper and the Alpaca paths). */
void ark_kenny_apply_fill(struct ark_kenny_position *pos, double signed_qty, double price);
/* Whether a fill may be applied at all: quantity and price finite and
 * positive (quantity non-zero), at most these, and the position, notional
 * and P&L after it finite. The guard before ark_kenny_apply_fill. */
#define ARK_KENNY_MAX_FILL_QTY 1e12
#define ARK_KENNY_MAX_FILL_PRICE 1e9
bool ark_kenny_fill_acceptable(const struct ark_kenny_position *pos, double signed_qty, double price);

#endif /* ARK_AGENTS_INTERNAL_H */
