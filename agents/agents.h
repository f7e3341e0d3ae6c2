/* agents/agents.h — the five-agent pipeline: its layout in the shared segment,
 * the control blocks the supervisor and the tools read, and the entry points
 * of each agent and source process.
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
#ifndef ARK_AGENTS_H
#define ARK_AGENTS_H

#include "common/common.h"
#include "event/event.h"
#include "hist/hist.h"
#include "metrics/metrics.h"
#include "ring/ring.h"
#include "shm/shm.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

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
	_Atomic uint64_t events;           /* published downstream */
	_Atomic uint64_t errors;
	_Atomic uint64_t duplicates;       /* dropped: already published before a restart */
	_Atomic uint64_t last_latency_ns;  /* time spent on the last event */
	_Atomic uint64_t worst_latency_ns;
	_Atomic uint64_t restarts;
	_Atomic uint64_t last_seq;         /* highest seq published */
	_Atomic uint64_t busy_ns;          /* time spent processing */
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
	_Atomic uint64_t clean_denied;                 /* HRM: a clean intent denied */
	_Atomic uint64_t intents;                      /* Joey */
	_Atomic uint64_t fills;                        /* Kenny */
	_Atomic uint64_t trace_breaks;                 /* Aletheia */
	_Atomic uint64_t journaled;                    /* Aletheia */
	_Atomic uint64_t ethics_drift;                 /* HRM: events denied for drift */
	_Atomic uint64_t source_done[ARK_MAX_SOURCES]; /* each source: 1 when finished */
	_Atomic uint64_t source_published[ARK_MAX_SOURCES];
	_Atomic uint64_t source_started_ns[ARK_MAX_SOURCES]; /* first start, CLOCK_MONOTONIC */
	_Atomic uint64_t quarantines[ARK_AGENT_COUNT];        /* supervisor: watchdog_quarantines_total */
	_Atomic uint64_t hangs[ARK_AGENT_COUNT];              /* supervisor: hung agents killed */
	_Atomic uint64_t ticks_refused[ARK_TICK_FAULT_COUNT]; /* Kyle: ticks beyond the bounds that an edge let
							       * through (by enum ark_tick_fault; never expected) */
	_Atomic uint64_t state_corrupt;                       /* HRM: 1 while halted for a non-finite state */
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
const char *ark_canary_outcome_name(enum ark_canary_outcome outcome);
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
struct ark_broker_counts {
	uint64_t submitted, posts, lookups, reports, refused_locally;
	uint64_t answers[ARK_BROKER_ANSWER_KINDS];   /* by enum ark_alpaca_answer */
	double buying_power;
	bool account_known;
	bool execution_stopped;
};
void ark_pipeline_broker_counts(const struct ark_pipeline_map *map, struct ark_broker_counts *counts);
/* HRM's own time per evaluation (ns), in its state region. */
const struct ark_hist *ark_pipeline_hrm_eval(const struct ark_pipeline_map *map);

/* ARK_INSTANCE, default "main". */
const char *ark_pipeline_default_instance(void);
/* ARK_NODE_ID (0-65535, default 0) and ARK_RING_CAPACITY (default 4096). */
int ark_pipeline_config_from_env(struct ark_pipeline_config *config, struct ark_err *err);

/* ---- The per-process log: lines go to a buffer, written out through
 * io_uring off the hot path (ark_log_flush in the idle loop); a full buffer
 * drops lines and counts them, never blocks. $ARK_LOG_DIR/<name>.log, mode
 * 0600; SIGHUP reopens it (logrotate). ---- */
struct ark_log;
struct ark_log *ark_log_open(const char *name, struct ark_err *err);
void ark_log_close(struct ark_log *log);
void ark_log(struct ark_log *log, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ark_log_flush(struct ark_log *log);
/* A line already formatted by a component ("ts level name message ..."). */
void ark_log_raw(struct ark_log *log, const char *line);
uint64_t ark_log_dropped(const struct ark_log *log);
/* Every log of this process reopens its file at its next flush (what SIGHUP
 * does; for a process that reads SIGHUP from a signalfd). */
void ark_log_reopen_all(void);
/* $ARK_LOG_DIR, default $ARK_DATA_DIR/logs, ./ark-data/logs, /var/log/ark in prod. */
void ark_log_dir(char *out, size_t len);

/* ---- Traces (agents/trace.c): one event from the journal by trace id ---- */
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

/* ---- Every process the watchdog runs ---- */
/* SIGTERM calls on_term (which sets the process's stop flag); SIGINT is
 * ignored (Ctrl-C reaches the whole process group: the watchdog decides how
 * the pipeline stops); SIGPIPE is ignored (a closed socket is an error
 * return, not a death). */
void ark_process_signals(void (*on_term)(int));
/* The source_seq of the last tick on a source ring, 0 when it carried none:
 * a restarted source continues its numbering after it. */
uint64_t ark_source_ring_last_seq(struct ark_ring *ring);

/* How an agent process starts. */
struct ark_agent_options {
	int standby_fd;          /* >= 0: a warm standby; block on this pipe until one byte
				    (take over) or end of file (exit 0) */
	double wait_segment_s;   /* wait this long for the instance's segment to appear
				    (agents started by systemd beside the watchdog) */
	enum ark_lane lane;      /* Joey, HRM, Kenny: the canary lane's (ARK_LANE_CANARY) */
};

/* Run one agent process until the pipeline asks it to stop (or SIGTERM):
 * attach, pin to ARK_CPU_<AGENT>, recover, loop. Returns the exit status. */
int ark_agent_run(enum ark_agent agent, const char *instance, const struct ark_agent_options *options);
/* ark_pipeline_attach, retried for up to wait_s while the segment does not
 * exist yet or is still being laid out; the last error after that. */
int ark_pipeline_attach_wait(struct ark_pipeline_map *map, const char *instance, double wait_s, struct ark_err *err);

/* Run the synthetic source as source number `source`. argv holds the
 * generator's options (--rate, --duration, --seed, --violations, --symbols). */
int ark_source_synthetic_run(const char *instance, int source, int argc, char **argv);

/* Run the TCP line feed (feed/) as source number `source`: ticks from
 * ARK_FEED_BIND:ARK_FEED_PORT (or `port` when >= 0) onto its inbound ring.
 * Runs until the pipeline stops or SIGTERM, then drains. */
int ark_source_tcp_run(const char *instance, int source, int port);
/* Alpha Vantage GLOBAL_QUOTE polling (ALPHA_VANTAGE_*) as source number `source`. */
int ark_source_alpha_vantage_run(const char *instance, int source);

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

#endif /* ARK_AGENTS_H */
