/* pipeline/pipeline.h — a pipeline's layout in the shared segment: the
 * control blocks the supervisor and the tools read, the counters, the
 * canary lane's controls, every region's layout, create and attach, and
 * the Graveyard rules a pipeline runs (installed and pinned).
 *
 * The segment of an instance holds, as named regions:
 *   "pipeline"            struct ark_pipeline: configuration, one control
 *                         block per agent and per source
 *   "ring.source.<n>"     a source's ticks to Kyle (64-byte slots)
 *   "ring.<agent>"        each agent's output to the next (256-byte events;
 *                         "ring.aletheia" is the mirror ring)
 *   "state.<agent>"       each agent's working state (crash-only: a restarted
 *                         agent resumes from it)
 *   "undo.<agent>"        the undo log that makes each batch's state changes
 *                         atomic with its publication
 *   "state.broker"        the paper broker's venue book (never rolled back:
 *                         it stands for a venue outside ARK)
 *   "state.orders"        the orders Kenny sent to a network broker (Alpaca)
 *                         and where each stands (never rolled back either)
 *   "ring.reports"        Kenny's execution reports to Aletheia (256-byte
 *                         events marked ARK_EVENT_EXEC_REPORT)
 *   "<name>.canary"       with a canary lane (ark_pipeline_config.canary):
 *                         ring.kyle.canary, the canary Joey, HRM and Kenny's
 *                         rings, states and undo logs, and Kenny's venue book:
 *                         a second Joey → HRM → Kenny beside the stable one.
 *                         Kyle sends it a share of the events by trace hash;
 *                         Aletheia merges both lanes' output in seq order.
 *
 * Exactly-once effects: an agent releases its input only after it published
 * the output; a restarted agent drops every event whose seq it has already
 * published; state changed by a batch that was never published is rolled
 * back from the undo log before the batch is processed again. */
#ifndef ARK_PIPELINE_H
#define ARK_PIPELINE_H

#include "common/common.h"
#include "event/event.h"
#include "graveyard/graveyard.h"
#include "hist/hist.h"
#include "metrics/metrics.h"
#include "ring/ring.h"
#include "shm/shm.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define ARK_PIPELINE_MAGIC 0x31455049504b5241ull /* "ARKPIPE1" */
#define ARK_PIPELINE_VERSION 5u
#define ARK_MAX_SOURCES 4
#define ARK_MAX_SYMBOLS 4096
#define ARK_PIPELINE_BATCH 256
#define ARK_PATH_MAX 256

enum ark_process_state {
	ARK_PROC_NONE = 0,
	ARK_PROC_STARTING,
	ARK_PROC_RUNNING,
	ARK_PROC_DRAINING,
	ARK_PROC_EXITED,     /* stopped cleanly */
	ARK_PROC_FAILED,     /* exited with an error */
};

/* One per process. Each field has one writer: the process itself, except
 * `restarts` and `quarantined` (the supervisor). 256 bytes. */
struct ark_agent_control {
	char name[16];
	_Atomic int32_t pid;
	_Atomic int32_t cpu;               /* -1 when not pinned */
	_Atomic uint32_t state;            /* enum ark_process_state */
	_Atomic uint32_t quarantined;
	_Atomic uint64_t start_ticks;      /* of pid, against pid reuse */
	_Atomic uint64_t heartbeat_ns;     /* CLOCK_MONOTONIC, each loop */
	_Atomic uint64_t events;           /* published downstream (Aletheia: released, journaled) */
	_Atomic uint64_t errors;
	_Atomic uint64_t duplicates;       /* dropped: already published before a restart */
	/* Time per event of the last batch that published any: the batch's
	 * busy time (as busy_ns counts it) over its events. A batch of
	 * re-deliveries alone leaves it unchanged, and it is stored before
	 * `events` grows: the watchdog's quarantine samples it when `events`
	 * moves and holds it to WATCHDOG_MAX_LATENCY_MS. The same for the
	 * five agents (ark_agent_account). */
	_Atomic uint64_t last_latency_ns;
	_Atomic uint64_t worst_latency_ns; /* the largest last_latency_ns so far */
	_Atomic uint64_t restarts;
	_Atomic uint64_t last_seq;         /* highest seq published */
	_Atomic uint64_t busy_ns;          /* time spent on batches (Aletheia: appending and releasing) */
	_Atomic uint64_t rollbacks;        /* batches rolled back at a restart */
	char pad[256 - 16 - 4 * 4 - 11 * 8];
};
_Static_assert(sizeof(struct ark_agent_control) == 256, "control block is 256 bytes");

/* The supervisor's one write to a control block. */
static inline void ark_control_restarts_add(struct ark_agent_control *control)
{
	atomic_store(&control->restarts, atomic_load(&control->restarts) + 1);
}

/* Add to a counter that has one writer (no read-modify-write). */
static inline void ark_control_add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Counters the pipeline as a whole reports (written by the agent named). */
struct ark_pipeline_counters {
	_Atomic uint64_t denials;                      /* HRM */
	_Atomic uint64_t denials_by_reason[ARK_REASON_COUNT];
	_Atomic uint64_t injected_denied;              /* HRM: injected and denied with their kind */
	_Atomic uint64_t injected_wrong_reason;        /* HRM: injected, denied for another reason */
	_Atomic uint64_t injected_allowed;             /* HRM: injected violation let through */
	_Atomic uint64_t injected_allowed_by_reason[ARK_REASON_COUNT];   /* HRM: ..., by the kind let through */
	_Atomic uint64_t injected_inconclusive;        /* HRM: allowed after this lane denied one of its setup steps */
	_Atomic uint64_t clean_denied;                 /* HRM: a clean intent denied */
	_Atomic uint64_t intents;                      /* Joey */
	_Atomic uint64_t fills;                        /* Kenny */
	_Atomic uint64_t trace_breaks;                 /* Aletheia */
	_Atomic uint64_t journaled;                    /* Aletheia */
	_Atomic uint64_t ethics_drift;                 /* HRM: events denied for drift */
	_Atomic uint64_t source_done[ARK_MAX_SOURCES]; /* each source: 1 when finished */
	_Atomic uint64_t source_published[ARK_MAX_SOURCES];
	_Atomic uint64_t source_started_ns[ARK_MAX_SOURCES]; /* first start, CLOCK_MONOTONIC */
	_Atomic uint64_t source_clock_start_ns[ARK_MAX_SOURCES]; /* the synthetic source's market clock origin
								   * (--start-now: CLOCK_REALTIME at its first
								   * start), kept for its restarts */
	_Atomic uint64_t quarantines[ARK_AGENT_COUNT];        /* supervisor: watchdog_quarantines_total */
	_Atomic uint64_t hangs[ARK_AGENT_COUNT];              /* supervisor: hung agents killed */
	_Atomic uint64_t ticks_refused[ARK_TICK_FAULT_COUNT]; /* Kyle: ticks beyond the bounds that an edge let
							       * through (by enum ark_tick_fault; never expected) */
	_Atomic uint64_t state_corrupt;                       /* HRM: 1 while halted for a non-finite state */
	_Atomic uint64_t broker_reports;               /* Kyle: a network broker's execution reports numbered */
};

/* The canary lane (watchdog/canary.c decides, Kyle routes, Aletheia
 * counts). Each field has one writer, named. */
enum ark_lane { ARK_LANE_STABLE = 0, ARK_LANE_CANARY = 1, ARK_LANE_COUNT = 2 };
enum ark_canary_outcome {
	ARK_CANARY_NONE = 0,
	ARK_CANARY_RUNNING,        /* routed, tripwires checked */
	ARK_CANARY_ROLLING_BACK,   /* a tripwire fired: traffic back to stable, the lane draining */
	ARK_CANARY_ROLLED_BACK,
	ARK_CANARY_FINISHING,      /* the window passed clean: the lane draining */
	ARK_CANARY_PASSED,
	ARK_CANARY_STOPPED,        /* the instance stopped during the window: no verdict */
	ARK_CANARY_OUTCOME_COUNT
};
struct ark_canary_control {
	_Atomic uint32_t configured;     /* creator: the lane's regions exist */
	_Atomic uint32_t route;          /* watchdog: 1 = Kyle sends `percent` of events to the lane */
	_Atomic uint32_t percent;        /* watchdog: 1-100 */
	_Atomic uint32_t route_applied;  /* Kyle: the route its batches use now (its answer to `route`) */
	_Atomic uint32_t lane_stop;      /* watchdog: the lane's agents drain their input and exit */
	_Atomic uint32_t outcome;        /* watchdog: enum ark_canary_outcome */
	_Atomic uint64_t started_ns;     /* watchdog: CLOCK_REALTIME */
	_Atomic uint64_t ended_ns;
	_Atomic uint64_t routed;         /* Kyle: events sent to the canary lane */
	_Atomic uint64_t last_routed_seq;/* Kyle */
	_Atomic uint64_t rollbacks;      /* watchdog */
	_Atomic uint64_t checks;         /* watchdog: tripwire checks made */
	_Atomic uint32_t rollback_requested;   /* `ark canary rollback` (the operator): the watchdog rolls back */
	_Atomic uint32_t route_epoch;    /* watchdog: bumped after each change of route (release) */
	_Atomic uint32_t applied_epoch;  /* Kyle: the epoch of the route_applied it answered */
	uint32_t reserved;
	char reason[192];                /* watchdog: why it rolled back (NUL-terminated before outcome is set) */
	char spec[256];                  /* watchdog: what the canary runs (env file, binary) */
};

/* What Aletheia counted per lane (ark_pipeline_lane_stats). latency is
 * Kyle in → Kenny out: the lane's own time, not the merge's wait. */
struct ark_lane_stats {
	uint64_t events;
	uint64_t intents;
	uint64_t denials;
	struct ark_hist latency;
};

struct ark_pipeline {
	uint64_t magic;
	uint32_t version;
	uint16_t node_id;
	uint16_t source_count;
	uint32_t ring_capacity;
	uint32_t source_kinds[ARK_MAX_SOURCES];     /* enum ark_source_kind */
	uint64_t created_ns;
	uint64_t base_seq;                          /* the journal's last seq when the run began */
	_Atomic uint32_t stop;                      /* drain and stop */
	_Atomic uint32_t mirror_attached;           /* a mirror consumes ring.aletheia */
	_Atomic uint32_t feed_port;                 /* the TCP feed's bound port, 0 if none */
	_Atomic uint32_t metrics_port;              /* the metrics server's bound port, 0 if none */
	_Atomic int32_t metrics_pid;                /* the metrics server, for a watchdog adopting it */
	_Atomic uint64_t metrics_start_ticks;
	_Atomic uint32_t api_port;                  /* the ingest API's bound port, 0 if none */
	_Atomic int32_t mirror_pid;                 /* the Redis mirror, likewise */
	_Atomic uint64_t mirror_start_ticks;
	char instance[64];
	char rules_path[ARK_PATH_MAX];              /* the installed Graveyard */
	char rules_hash[72];                        /* its SHA-256, hex */
	struct ark_agent_control agents[ARK_AGENT_COUNT];
	struct ark_agent_control sources[ARK_MAX_SOURCES];
	struct ark_pipeline_counters counters;
	struct ark_agent_control canary_agents[ARK_AGENT_COUNT];   /* Joey, HRM, Kenny of the canary lane */
	struct ark_pipeline_counters canary_counters;              /* what the canary lane's agents count
								    * (single writer: each lane its own) */
	struct ark_canary_control canary;
	/* HRM's trading state as it stands (the stable HRM writes), for /slos,
	 * ark status and the metrics: effective state, why it halts, and with
	 * state_corrupt which value was not finite. */
	_Atomic uint32_t hrm_trading_state;        /* enum ark_trading_state */
	_Atomic uint32_t hrm_halt_cause;           /* enum ark_halt_cause */
	char hrm_halt_detail[64];                  /* written before hrm_halt_cause changes */
	/* `ark release hrm` asks the stable HRM to release a state_corrupt
	 * latch; HRM answers in its idle loop. */
	_Atomic uint32_t hrm_release_request;      /* the operator: bumped per request */
	_Atomic uint32_t hrm_release_answered;     /* HRM: the request it answered (after status and detail) */
	_Atomic int32_t hrm_release_status;        /* HRM: 0 released, negative errno otherwise */
	char hrm_release_detail[192];              /* HRM: what it did, or why it could not */
};

/* Aletheia's latency record, in its state region: per agent (in → out) and
 * end to end (Kyle in → Aletheia out), nanoseconds. */
struct ark_latency_record {
	struct ark_hist agent[ARK_AGENT_COUNT];
	struct ark_hist end_to_end;
};

struct ark_pipeline_config {
	char instance[64];
	uint16_t node_id;
	uint32_t ring_capacity;     /* per ring, a power of two */
	uint16_t source_count;
	uint32_t source_kinds[ARK_MAX_SOURCES];
	char rules_path[ARK_PATH_MAX];
	char rules_hash[72];
	uint64_t base_seq;          /* sequence numbers continue after this one */
	bool canary;                /* lay out a canary lane */
};

/* A pipeline mapped into this process. */
struct ark_pipeline_map {
	struct ark_shm shm;
	struct ark_pipeline *pipeline;
};

/* Create the segment with every region laid out and every ring initialised
 * (the supervisor). Replaces a stale segment of the same instance; refuses a
 * live one. */
int ark_pipeline_create(struct ark_pipeline_map *map, const struct ark_pipeline_config *config,
			struct ark_err *err);
/* Attach an existing pipeline (agents, tools). */
int ark_pipeline_attach(struct ark_pipeline_map *map, const char *instance, struct ark_err *err);
void ark_pipeline_detach(struct ark_pipeline_map *map);
/* ark_pipeline_attach, retried for up to wait_s while the segment does not
 * exist yet or is still being laid out (and no stop signal came:
 * proc/); the last error after that. */
int ark_pipeline_attach_wait(struct ark_pipeline_map *map, const char *instance, double wait_s, struct ark_err *err);
/* A named region: "ring.joey", "state.hrm", ... NULL if absent. */
void *ark_pipeline_region(const struct ark_pipeline_map *map, const char *name, uint64_t *size);
/* The ring an agent publishes to (ARK_AGENT_ALETHEIA: the mirror ring). */
struct ark_ring *ark_pipeline_output_ring(const struct ark_pipeline_map *map, enum ark_agent agent);
struct ark_ring *ark_pipeline_source_ring(const struct ark_pipeline_map *map, int source);
/* True when the pipeline has a canary lane laid out. */
bool ark_pipeline_has_canary(const struct ark_pipeline_map *map);
/* The ring `agent` of `lane` publishes to (the canary lane: Kyle's share to
 * the canary Joey, then the canary Joey, HRM, Kenny); NULL when absent. */
struct ark_ring *ark_pipeline_lane_ring(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent);
/* A named region of a lane ("state.broker" → "state.broker.canary"). */
void *ark_pipeline_lane_region(const struct ark_pipeline_map *map, enum ark_lane lane, const char *name, uint64_t *size);
/* The control block of an agent in a lane. */
struct ark_agent_control *ark_pipeline_lane_control(const struct ark_pipeline_map *map, enum ark_lane lane,
						    enum ark_agent agent);
/* What Aletheia counted for a lane so far (a copy). */
void ark_pipeline_lane_stats(const struct ark_pipeline_map *map, enum ark_lane lane, struct ark_lane_stats *stats);
const char *ark_pipeline_canary_outcome_name(enum ark_canary_outcome outcome);
struct ark_latency_record *ark_pipeline_latency(const struct ark_pipeline_map *map);
/* Kyle's stamp on the run's first event and Aletheia's on its last: the
 * span over which the pipeline sustained its throughput. */
void ark_pipeline_span(const struct ark_pipeline_map *map, uint64_t *first_in_ns, uint64_t *last_out_ns);
/* The metrics registry in the segment ("metrics" region), this process's view. */
int ark_pipeline_metrics(const struct ark_pipeline_map *map, struct ark_metrics *reg, struct ark_err *err);
/* The paper venue's record: orders it executed, and resends it refused as
 * duplicates of a client order id it had (after Kenny restarted). */
void ark_pipeline_venue_counts(const struct ark_pipeline_map *map, uint64_t *orders, uint64_t *resends);

/* A network broker's (Alpaca) record, for the metrics server and tools. */
#define ARK_BROKER_ANSWER_KINDS 16
#define ARK_BROKER_ANOMALY_KINDS 16
/* Why a network broker's execution stopped. */
enum ark_broker_stop {
	ARK_BROKER_STOP_NONE = 0,
	ARK_BROKER_STOP_ACCOUNT,   /* the keys refused or the account cannot trade (a restart with good ones lifts it) */
	ARK_BROKER_STOP_ANOMALY,   /* an answer failed its checks: only `ark broker resume` lifts it */
};
struct ark_broker_counts {
	uint64_t submitted, posts, lookups, reports, refused_locally;
	uint64_t answers[ARK_BROKER_ANSWER_KINDS];   /* by enum ark_alpaca_answer */
	uint64_t anomalies[ARK_BROKER_ANOMALY_KINDS];   /* by enum ark_alpaca_anomaly */
	double buying_power;
	bool account_known;
	bool execution_stopped;
	uint32_t stop_kind;          /* enum ark_broker_stop */
	char stop_reason[224];
};
void ark_pipeline_broker_counts(const struct ark_pipeline_map *map, struct ark_broker_counts *counts);
/* The operator's act after an anomaly (`ark broker resume`): execution on the
 * venue may go on. Clears the stop in a running instance's segment; returns
 * the enum ark_broker_stop it lifted. */
uint32_t ark_pipeline_broker_resume(const struct ark_pipeline_map *map);
/* HRM's own time per evaluation (ns), in its state region. */
const struct ark_hist *ark_pipeline_hrm_eval(const struct ark_pipeline_map *map);

/* ARK_INSTANCE, default "main". */
const char *ark_pipeline_default_instance(void);
/* ARK_NODE_ID (0-65535, default 0) and ARK_RING_CAPACITY (default 4096). */
int ark_pipeline_config_from_env(struct ark_pipeline_config *config, struct ark_err *err);

/* Pinned rules: what ark_pipeline_rules_pin found. */
struct ark_rules_pin {
	bool env_pinned;          /* ARK_GRAVEYARD_SHA256 was set (and matched) */
	bool recorded;            /* the Mutable Core records an approved hash (and it matched) */
	bool recorded_now;        /* ... recorded by this call: the instance's first start */
	char recorded_hash[72];
};
struct ark_graveyard_rules;
/* Load the installed rules at `path` and hold them to their pins: the file's
 * SHA-256 must equal ARK_GRAVEYARD_SHA256 when it is set, and the hash the
 * Mutable Core (ARK_STATE_DB) records when one is recorded. -EPERM naming
 * the file and both hashes otherwise. With record_first (the supervisor),
 * a Mutable Core that records none records these (a graveyard_history row
 * "first start"); without it (an agent) the database is only read. */
int ark_pipeline_rules_pin(const char *path, bool record_first, struct ark_graveyard_rules *rules,
			   struct ark_rules_pin *pin, struct ark_err *err);

/* The default Graveyard rules shipped with ARK (deploy/graveyard.rules),
 * installed read-only by `ark run` when none is installed yet. */
int ark_pipeline_install_rules(const char *installed_path, struct ark_err *err);
/* The embedded default rules (what install_rules writes). */
const unsigned char *ark_pipeline_default_rules(size_t *length);

/* ---- Region layouts: what the agents keep in the segment. The owner of a
 * region (the agent named, brokers in Kenny) writes it; others read it
 * through the accessors above. ----
 *
 * The undo log: one batch's state changes, atomic with publication
 * (agents/runtime.c writes it). Before a batch, the agent opens the log; before changing any bytes of its
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
	uint32_t route_percent;                     /* the canary share the last batch used (0: none);
						     * written before its batch, never undone: a
						     * batch redone after a crash routes the same way */
	uint64_t symbol_table_full;                 /* ticks refused: no symbol id left */
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

/* An agent's scalars are declared once and reachable two ways: field by
 * field (s->last_seq) and whole (s->scalars), which is what a batch saves
 * to its undo log (sizeof s->scalars) before it changes any of them. A new
 * scalar goes into the list and is rolled back with the others; what lies
 * outside the list is saved element by element where it changes. */
#define ARK_JOEY_SCALARS \
	uint64_t last_seq; \
	uint64_t market_ns;        /* the latest exchange time seen: a tick older than the \
				    * reference age is stale to HRM, so Joey does not act on it */ \
	double gross_view;         /* sum of |quantity| * price of open intents (upper bound) */ \
	uint64_t window_start_ns;  /* Joey's own global intent budget window */ \
	uint64_t window_count;
struct ark_joey_scalars {
	ARK_JOEY_SCALARS
};
struct ark_joey_state {
	union {
		struct { ARK_JOEY_SCALARS };
		struct ark_joey_scalars scalars;
	};
	struct ark_joey_symbol symbols[ARK_MAX_SYMBOLS];   /* saved one by one */
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

/* HRM's scalars. buying_power_*: the broker's buying power (Alpaca's
 * account, via Kenny) spent by the buys HRM allowed since Kenny last read
 * it: an intent that would spend more than is left is denied. */
#define ARK_HRM_SCALARS \
	uint64_t last_seq; \
	uint64_t drift_checks; \
	uint64_t buying_power_version; \
	double buying_power_spent; \
	uint64_t buying_power_denials;
struct ark_hrm_scalars {
	ARK_HRM_SCALARS
};
struct ark_hrm_state {
	union {
		struct { ARK_HRM_SCALARS };
		struct ark_hrm_scalars scalars;   /* saved whole for undo */
	};
	struct ark_graveyard_rules rules;         /* never changed by a batch */
	struct ark_graveyard_state graveyard;
	struct ark_hist eval_ns;   /* time in the Graveyard per event (a measurement:
				    * not rolled back with a batch) */
	/* Per symbol: a setup step of the injection under way was denied in
	 * this lane, so its violation no longer tests what it was made to (a
	 * tighter canary denies the steps that build a position): an injected
	 * violation allowed then is counted inconclusive, not allowed. Saved
	 * for undo byte by byte where it changes. */
	uint8_t injection_setup_denied[ARK_MAX_SYMBOLS];
};

struct ark_kenny_position {
	double quantity;
	double average_price;
	double realized_pnl;
	uint64_t fills;
};

#define ARK_KENNY_SCALARS \
	uint64_t last_seq; \
	uint64_t orders; \
	uint64_t fills; \
	uint64_t duplicates;       /* resent orders the broker recognised */ \
	double realized_pnl;
struct ark_kenny_scalars {
	ARK_KENNY_SCALARS
};
struct ark_kenny_state {
	union {
		struct { ARK_KENNY_SCALARS };
		struct ark_kenny_scalars scalars;   /* saved whole for undo */
	};
	struct ark_kenny_position positions[ARK_MAX_SYMBOLS];   /* saved one by one */
};

#define ARK_ALETHEIA_SCALARS \
	uint64_t last_seq;         /* last journaled */ \
	struct ark_journal_position journal_position;  /* for a fast restart (store.h) */ \
	uint64_t trace_breaks; \
	uint64_t complete; \
	uint64_t first_in_ns;      /* Kyle's stamp on the first event of the run */ \
	uint64_t last_out_ns;      /* Aletheia's stamp on the last one */ \
	uint64_t lane_events[ARK_LANE_COUNT];    /* journaled, by the lane they took */ \
	uint64_t lane_intents[ARK_LANE_COUNT]; \
	uint64_t lane_denials[ARK_LANE_COUNT];
struct ark_aletheia_scalars {
	ARK_ALETHEIA_SCALARS
};
struct ark_aletheia_state {
	union {
		struct { ARK_ALETHEIA_SCALARS };
		struct ark_aletheia_scalars scalars;   /* saved whole for undo */
	};
	/* Histograms: each record saves the histogram's totals and its one
	 * bucket (ark_hist.totals), not the whole histogram. */
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

size_t ark_pipeline_state_size(enum ark_agent agent);
void *ark_pipeline_agent_state(const struct ark_pipeline_map *map, enum ark_agent agent);
void *ark_pipeline_lane_agent_state(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent);
struct ark_undo *ark_pipeline_lane_agent_undo(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent);

#endif /* ARK_PIPELINE_H */
