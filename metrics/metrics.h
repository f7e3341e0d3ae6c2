/* metrics/metrics.h — the metrics registry in the shared segment, its
 * exposition (Prometheus 0.0.4, OpenMetrics 1.0, JSON) and the SLO engine.
 *
 * Registry. One region (placed anywhere, e.g. an ark_shm region) holds a
 * header, a family table, a series table, a hash index, one 64-byte value line
 * per series, the live log-linear histograms and the time-slice snapshots. It
 * contains no pointers (offsets only). Every series (a family name plus a
 * FIXED label set) has exactly one writing process, so recording is a relaxed
 * load and a relaxed store: no lock, no read-modify-write. Registration (slow
 * path, start-up) takes a robust process-shared mutex inside the region.
 *
 * Time slices. One process, the "ticker" (the segment's owner: `ark run` or
 * the metrics server), calls ark_metrics_tick() about once a second. When the
 * monotonic clock enters a new slice (METRICS_SLICE_SECONDS, default 10) the
 * ticker copies, into that slice's snapshot slot, the running total of every
 * windowed counter and the running buckets, count and sum of every histogram.
 * The hot path therefore never looks at the clock: a window [now - W, now] is
 * the live value minus the snapshot taken at the start of the slice W ago, so
 * windows are exact to one slice. The ring holds retention/slice + 1 slots.
 * Histogram bucket snapshots keep the low 32 bits of the running count: a
 * window difference is exact while one bucket gains fewer than 2^32 values in
 * one window (at 1 M events/s that is 71 minutes).
 *
 * Histograms: values in nanoseconds, 64 exact buckets below 64 ns and 64
 * linear sub-buckets per power of two up to 2^37 ns (137 s): 2048 buckets,
 * quantiles reported at bucket midpoints, relative error <= 1/128 (0.78 %).
 * Values above 2^37 ns are counted in the last bucket. The arithmetic is
 * hist/'s (ark_hist_loglin_*) at 6 bits instead of struct ark_hist's 7, so
 * the time-slice snapshots are half the size. Exposed in
 * milliseconds (names end in _ms) with the fixed `le` set ARK_METRICS_LE_MS.
 *
 * Memory (ark_metrics_region_size): the defaults (10240 series, 512
 * families, 32 histograms, 1024 windowed counters, 3600 s retention, 10 s
 * slices = 361 slots) come to 101,441,280 bytes (96.7 MiB), of which 90 MiB
 * are the 32 histograms' slice snapshots (361 x 2048 x 4 bytes = 2.8 MiB
 * each). Per series 288 bytes (entry 216, value line 64, index 8); per
 * histogram 16.1 KiB live + 8 KiB per slot; per windowed counter 8 bytes per
 * slot; per family 264 bytes. With METRICS_SLICE_SECONDS=60 the same
 * registry needs 19.2 MiB. The ticker's snapshot costs ~30 us at 10k series.
 *
 * Threads and processes: hot-path functions are for the series' one writer;
 * registration may run in any process or thread (it locks); tick in one
 * process only; everything else (find, windows, render, SLO evaluation) is
 * read-only and may run anywhere, concurrently.
 *
 * Errors follow common/common.h: 0 or negative errno plus struct ark_err. */
#ifndef ARK_METRICS_H
#define ARK_METRICS_H

#include "common/common.h"
#include "hist/hist.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---------------------------------------------------------------- limits -- */
#define ARK_METRICS_NAME_MAX 64      /* incl. NUL; [a-zA-Z_:][a-zA-Z0-9_:]* */
#define ARK_METRICS_HELP_MAX 192     /* incl. NUL */
#define ARK_METRICS_LABELS_MAX 192   /* canonical `k="v",k2="v2"` incl. NUL */
#define ARK_METRICS_HIST_SUB_BITS 6
#define ARK_METRICS_HIST_SUB 64u
#define ARK_METRICS_HIST_MAX_EXP 36  /* top power of two: [2^36, 2^37) ns */
#define ARK_METRICS_HIST_BUCKETS 2048u
_Static_assert(ARK_METRICS_HIST_BUCKETS == ARK_METRICS_HIST_SUB * (ARK_METRICS_HIST_MAX_EXP - ARK_METRICS_HIST_SUB_BITS + 2),
	       "the registry's buckets: hist/'s log-linear layout at 6 bits up to 2^36 ns");
#define ARK_METRICS_LE_COUNT 25      /* finite `le` values; +Inf is extra */
extern const double ARK_METRICS_LE_MS[ARK_METRICS_LE_COUNT];

enum ark_metrics_type {
	ARK_METRICS_COUNTER = 1,
	ARK_METRICS_GAUGE = 2,
	ARK_METRICS_HISTOGRAM = 3,
};

struct ark_metrics_config {
	uint32_t max_series;            /* all series of all types (default 10240) */
	uint32_t max_families;          /* distinct names (default 512) */
	uint32_t max_histograms;        /* histogram series (default 32) */
	uint32_t max_windowed_counters; /* counters with slice snapshots (default 1024) */
	uint64_t retention_seconds;     /* METRICS_RETENTION_SECONDS (default 3600) */
	uint64_t slice_seconds;         /* METRICS_SLICE_SECONDS (default 10) */
};

void ark_metrics_config_default(struct ark_metrics_config *cfg);
/* Defaults, then METRICS_RETENTION_SECONDS (60..604800) and
 * METRICS_SLICE_SECONDS (1..3600, at most the retention); a bad value is an
 * error naming the variable. */
int ark_metrics_config_from_env(struct ark_metrics_config *cfg, struct ark_err *err);
/* Bytes the region needs (a multiple of 128), 0 if cfg is invalid. */
size_t ark_metrics_region_size(const struct ark_metrics_config *cfg);

/* A process's view of a region: the region itself plus local addresses. */
struct ark_metrics {
	struct ark_metrics_hdr *hdr;
	void *base;
	size_t size;
};

/* Lay out a zeroed-or-not region of `size` >= ark_metrics_region_size(cfg). */
int ark_metrics_init(struct ark_metrics *reg, void *memory, size_t size,
		     const struct ark_metrics_config *cfg, struct ark_err *err);
/* Check magic, layout version and size of a region another process laid out. */
int ark_metrics_attach(struct ark_metrics *reg, void *memory, size_t size, struct ark_err *err);

/* ---------------------------------------------------------- registration -- */
/* Handles are process-local (they hold this process's address of the value)
 * and stay valid as long as the region stays mapped. */
struct ark_metrics_handle {
	_Atomic uint64_t *value;  /* counter total, or gauge bits (double) */
	uint32_t series;          /* index in the series table */
};
struct ark_metrics_hist_handle {
	_Atomic uint64_t *buckets; /* ARK_METRICS_HIST_BUCKETS running counts */
	_Atomic uint64_t *count;
	_Atomic uint64_t *sum;     /* nanoseconds */
	uint32_t series;
};

/* Register (or find) a series. `labels` is NULL/"" or Prometheus label syntax
 * without braces: `agent="kyle",ring="kyle"` (escapes \\ \" \n in values;
 * names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", no "le" on
 * histograms, no duplicates). Counter names must end in "_total". A family's
 * type and help are fixed by its first registration: re-registering with
 * another type is -EINVAL; an existing series is returned as it is (a
 * restarted writer takes its series back) and its writer pid updated.
 * -ENOSPC when a table is full. */
int ark_metrics_register(struct ark_metrics *reg, enum ark_metrics_type type, const char *name,
			 const char *help, const char *labels, uint32_t *series, struct ark_err *err);
int ark_metrics_counter(struct ark_metrics *reg, const char *name, const char *help,
			const char *labels, struct ark_metrics_handle *h, struct ark_err *err);
int ark_metrics_gauge(struct ark_metrics *reg, const char *name, const char *help,
		      const char *labels, struct ark_metrics_handle *h, struct ark_err *err);
int ark_metrics_histogram(struct ark_metrics *reg, const char *name, const char *help,
			  const char *labels, struct ark_metrics_hist_handle *h, struct ark_err *err);
/* Lock-free lookup (any process): -ENOENT when absent. */
int ark_metrics_find(const struct ark_metrics *reg, const char *name, const char *labels,
		     uint32_t *series);
uint32_t ark_metrics_series_count(const struct ark_metrics *reg);

/* -------------------------------------------------- hot path (one writer) -- */
static inline void ark_metrics_counter_add(struct ark_metrics_handle h, uint64_t n)
{
	atomic_store_explicit(h.value, atomic_load_explicit(h.value, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
static inline void ark_metrics_counter_inc(struct ark_metrics_handle h)
{
	ark_metrics_counter_add(h, 1);
}
/* For counters mirrored from elsewhere (/proc): sets the running total.
 * Counters are integers: a family named *_seconds_total holds microseconds
 * and is rendered in seconds. */
static inline void ark_metrics_counter_set(struct ark_metrics_handle h, uint64_t total)
{
	atomic_store_explicit(h.value, total, memory_order_relaxed);
}
static inline void ark_metrics_gauge_set(struct ark_metrics_handle h, double v)
{
	union { double d; uint64_t u; } b = {.d = v};
	atomic_store_explicit(h.value, b.u, memory_order_relaxed);
}

/* The bucket of a value: hist/'s log-linear arithmetic at the registry's
 * precision (ARK_METRICS_HIST_SUB_BITS up to 2^ARK_METRICS_HIST_MAX_EXP). */
static inline uint32_t ark_metrics_hist_bucket_of(uint64_t ns)
{
	return ark_hist_loglin_bucket(ns, ARK_METRICS_HIST_SUB_BITS, ARK_METRICS_HIST_MAX_EXP);
}
/* Lowest and highest value (ns) a bucket stands for; its midpoint. */
uint64_t ark_metrics_hist_bucket_low(uint32_t bucket);
uint64_t ark_metrics_hist_bucket_high(uint32_t bucket);
double ark_metrics_hist_bucket_mid(uint32_t bucket);

static inline void ark_metrics_histogram_record_ns(struct ark_metrics_hist_handle h, uint64_t ns)
{
	_Atomic uint64_t *b = &h.buckets[ark_metrics_hist_bucket_of(ns)];
	atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1, memory_order_relaxed);
	atomic_store_explicit(h.count, atomic_load_explicit(h.count, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(h.sum, atomic_load_explicit(h.sum, memory_order_relaxed) + ns,
			      memory_order_relaxed);
}

/* ------------------------------------ histograms that follow a struct ark_hist -- */
/* One record per event. The pipeline's latency histograms are recorded once,
 * by the agent, into a struct ark_hist in its segment state (hist/: 7 bits,
 * undone with an unpublished batch); their registry series follow those
 * histograms. The series' one writer (the metrics server, before each tick)
 * calls ark_metrics_histogram_follow: struct ark_hist's 7-bit buckets nest in
 * the registry's 6-bit ones (and all from 2^37 ns up is the last), so every
 * value lands where recording it directly would have put it. Each call adds
 * what each bucket (and the sum) gained since the last one and ignores what
 * one lost (a batch rolled back after a crash, a reset): the exported counts
 * never go down, as Prometheus counters must not. A follower's first call (a
 * restarted writer) takes the registry's counts as already folded, up to
 * what the source holds now, so a restart counts nothing twice. The source
 * is read word by word while its writer may be recording (relaxed loads): a
 * value recorded meanwhile is added at the next call. */
struct ark_metrics_hist_follower {
	struct ark_metrics_hist_handle h;
	bool primed;
	uint64_t seen_sum;
	uint64_t seen[ARK_METRICS_HIST_BUCKETS];   /* the source, folded, at the last call */
	uint64_t now[ARK_METRICS_HIST_BUCKETS];    /* scratch: the source folded now */
};
/* Register (or find) the histogram series `name` and make f its follower. */
int ark_metrics_histogram_follower(struct ark_metrics *reg, const char *name, const char *help, const char *labels,
				   struct ark_metrics_hist_follower *f, struct ark_err *err);
/* Fold what src gained into f's series; returns the values added. */
uint64_t ark_metrics_histogram_follow(struct ark_metrics_hist_follower *f, const struct ark_hist *src);

/* ------------------------------------------------ the seed's verbs (slow) -- */
/* Look up or register, then record. Names in the ARK table below get their
 * help text from it; other names get a generic help. For the slow path only:
 * hot paths keep a handle. */
int ark_record_latency(struct ark_metrics *reg, const char *name, double value_ms, const char *labels);
int ark_increment_counter(struct ark_metrics *reg, const char *name, const char *labels);
int ark_set_gauge(struct ark_metrics *reg, const char *name, double value);
int ark_set_gauge_labels(struct ark_metrics *reg, const char *name, const char *labels, double value);

/* ------------------------------------------------------- the ARK metrics -- */
#define ARK_M_PASS_LATENCY "ark_pass_latency_ms"
#define ARK_M_KYLE_PROCESS "kyle_process_ms"
#define ARK_M_JOEY_PROCESS "joey_process_ms"
#define ARK_M_HRM_PROCESS "hrm_process_ms"
#define ARK_M_KENNY_PROCESS "kenny_process_ms"
#define ARK_M_ALETHEIA_PROCESS "aletheia_process_ms"
#define ARK_M_HRM_EVAL "hrm_eval_ms"
#define ARK_M_WATCHDOG_QUARANTINES "watchdog_quarantines_total"
#define ARK_M_AVAILABILITY "ark_availability"
#define ARK_M_OPERATIONS "operations_total"
#define ARK_M_QUEUE_DEPTH "queue_depth"
#define ARK_M_EVENTS "ark_events_total"
#define ARK_M_ERRORS "ark_errors_total"
#define ARK_M_DENIALS "ark_denials_total"
#define ARK_M_TRACE_BREAKS "ark_trace_breaks_total"
#define ARK_M_ETHICS_DRIFT "ark_ethics_drift_total"
#define ARK_M_JOURNAL_WRITE_LATENCY "ark_journal_write_latency_ms"
#define ARK_M_JOURNAL_LAG "ark_journal_lag_events"
#define ARK_M_DB_WRITE_LATENCY "ark_db_write_latency_ms"
#define ARK_M_DB_LAG "ark_db_lag_events"
#define ARK_M_PROCESS_CPU "process_cpu_seconds_total"
#define ARK_M_PROCESS_RSS "process_resident_memory_bytes"
#define ARK_M_PROCESS_FDS "process_open_fds"
#define ARK_M_PROCESS_START "process_start_time_seconds"
#define ARK_M_SLO_OBJECTIVE "slo_objective_ratio"
#define ARK_M_SLO_BUDGET "slo_error_budget_remaining_ratio"
#define ARK_M_SLO_BURN "slo_burn_rate"
#define ARK_M_BROKER_ANSWERS "ark_broker_answers_total"
#define ARK_M_BROKER_ORDERS "ark_broker_orders_total"
#define ARK_M_BROKER_BUYING_POWER "ark_broker_buying_power"
#define ARK_M_BROKER_EXECUTION_STOPPED "ark_broker_execution_stopped"
#define ARK_M_BROKER_ANOMALIES "ark_broker_anomalies_total"
#define ARK_M_CANARY_STATE "ark_canary_state"
#define ARK_M_TRADING_STATE "ark_trading_state"
#define ARK_M_TRADING_HALT "ark_trading_halt"
#define ARK_M_TICKS_REFUSED "ark_ticks_refused_total"
#define ARK_M_CANARY_PERCENT "ark_canary_traffic_percent"
#define ARK_M_CANARY_ROUTED "ark_canary_routed_events_total"
#define ARK_M_CANARY_ROLLBACKS "ark_canary_rollbacks_total"
#define ARK_M_CANARY_LANE_EVENTS "ark_lane_events_total"
#define ARK_M_CANARY_LANE_DENIALS "ark_lane_denials_total"
#define ARK_M_CANARY_LANE_INJECTED "ark_lane_injected_total"

struct ark_metrics_def {
	const char *name;
	enum ark_metrics_type type;
	const char *label_names;  /* "agent", "status", "slo,window", or "" */
	const char *help;
};
/* The table of every metric ARK registers (README lists it). */
extern const struct ark_metrics_def ark_metrics_table[];
extern const size_t ark_metrics_table_len;
const struct ark_metrics_def *ark_metrics_def_find(const char *name);

/* Process metrics from /proc/<pid>. */
struct ark_metrics_process {
	double cpu_seconds;        /* utime + stime */
	double resident_bytes;
	double open_fds;
	double start_time_seconds; /* since the Unix epoch */
};
int ark_metrics_process_read(pid_t pid, struct ark_metrics_process *out, struct ark_err *err);
/* Read /proc/<pid> and write the four process_* series with `labels`
 * (e.g. `agent="kyle"`); the caller is their one writer. */
int ark_metrics_process_publish(struct ark_metrics *reg, pid_t pid, const char *labels,
				struct ark_err *err);

/* ------------------------------------------------------------ time slices -- */
/* The ticker's call (one process): takes the snapshots when now_ns
 * (CLOCK_MONOTONIC) has entered a new slice. Returns the slices advanced. */
uint64_t ark_metrics_tick(struct ark_metrics *reg, uint64_t now_ns);
/* The current slice number (now_ns / slice), as last ticked. */
uint64_t ark_metrics_epoch(const struct ark_metrics *reg);

/* Values over a window: window_s 0 = since the region was created; otherwise
 * the last window_s seconds (rounded up to whole slices, plus the current
 * partial slice; clamped to the retention). Readers may run in any process. */
uint64_t ark_metrics_counter_value(const struct ark_metrics *reg, uint32_t series);
double ark_metrics_gauge_value(const struct ark_metrics *reg, uint32_t series);
int ark_metrics_counter_window(const struct ark_metrics *reg, uint32_t series, uint64_t window_s,
			       uint64_t *delta);
/* Sum of a counter family's series over a window; labels_filter NULL = all. */
uint64_t ark_metrics_family_window(const struct ark_metrics *reg, const char *name,
				   const char *labels_filter, uint64_t window_s);

/* A histogram merged over a window (a private copy, ns). */
struct ark_metrics_hist_view {
	uint64_t count;   /* == sum of buckets */
	uint64_t sum_ns;
	uint64_t buckets[ARK_METRICS_HIST_BUCKETS];
};
int ark_metrics_histogram_window(const struct ark_metrics *reg, uint32_t series, uint64_t window_s,
				 struct ark_metrics_hist_view *view);
/* Quantile q in [0,1] in ns (bucket midpoint), 0 when empty. */
double ark_metrics_view_quantile_ns(const struct ark_metrics_hist_view *v, double q);
/* Values <= limit_ns: buckets whose lowest value is <= limit_ns (a value
 * equal to the limit always counts; within one bucket width, 1.6 %). */
uint64_t ark_metrics_view_count_le(const struct ark_metrics_hist_view *v, double limit_ns);

/* -------------------------------------------------------------- rendering -- */
/* Renderers write into the one growable buffer, struct ark_buf
 * (common/common.h), which the caller owns (the server keeps one per worker
 * and reuses it: ark_buf_reset keeps the memory). When it failed (an
 * allocation or its limit) render functions return -ENOMEM. */

enum ark_metrics_format {
	ARK_METRICS_FORMAT_PROMETHEUS = 0, /* text/plain; version=0.0.4 */
	ARK_METRICS_FORMAT_OPENMETRICS = 1,
};
/* From an Accept header (NULL = none): OpenMetrics when the highest q among
 * application/openmetrics-text (version absent, 1.0.0 or 0.0.1) is > 0 and
 * at least the q text/plain, text/ * or * / * get; Prometheus text otherwise. */
enum ark_metrics_format ark_metrics_choose_format(const char *accept);
const char *ark_metrics_content_type(enum ark_metrics_format f);

/* Append the exposition of every series (running totals, as Prometheus
 * expects) to buf. HELP/TYPE once per family; histograms in ms with buckets
 * ARK_METRICS_LE_MS and +Inf (== _count), _sum, _count. */
int ark_metrics_render_prometheus(const struct ark_metrics *reg, struct ark_buf *buf);
/* OpenMetrics 1.0: counters as family `x` with sample `x_total`, `# EOF`. */
int ark_metrics_render_openmetrics(const struct ark_metrics *reg, struct ark_buf *buf);
int ark_metrics_render(const struct ark_metrics *reg, enum ark_metrics_format f,
		       struct ark_buf *buf);
/* JSON for /metrics/json:
 *   {"window_seconds":W,"counters":{"name{labels}":n,...},"gauges":{...},
 *    "histograms":{"name{labels}":{"count":n,"sum":ms,"p50":ms,"p95":ms,"p99":ms,
 *                   "buckets":{"0.001":n,...,"+Inf":n}}}}
 * Keys without labels are the bare name (jq '.histograms.ark_pass_latency_ms');
 * with labels `name{k="v"}`. Counters are running totals and gauges live
 * values (as in the exposition); histograms cover window_s (0 = since start).
 * Histogram buckets are cumulative like the exposition's. */
int ark_metrics_render_json(const struct ark_metrics *reg, uint64_t window_s, struct ark_buf *buf);

/* -------------------------------------------------------------------- SLOs -- */
struct ark_metrics_slo_config {
	double availability_target;   /* SLO_AVAILABILITY_TARGET (0.995), in (0, 1) */
	double p95_latency_ms;        /* SLO_P95_LATENCY_MS (400) for ark_pass_latency_ms */
	double hrm_p95_ms;            /* SLO_HRM_P95_MS (120) for hrm_eval_ms */
	uint64_t window_seconds;      /* SLO_WINDOW_SECONDS (300) */
};
void ark_metrics_slo_config_default(struct ark_metrics_slo_config *c);
int ark_metrics_slo_config_from_env(struct ark_metrics_slo_config *c, struct ark_err *err);

enum ark_metrics_slo_state { ARK_SLO_OK = 0, ARK_SLO_WARNING = 1, ARK_SLO_VIOLATED = 2 };
#define ARK_METRICS_SLO_COUNT 4
#define ARK_METRICS_BURN_WINDOWS 4   /* 5m, 30m, 1h, 6h */
extern const uint64_t ARK_METRICS_BURN_WINDOW_S[ARK_METRICS_BURN_WINDOWS];

struct ark_metrics_slo {
	const char *name;            /* "availability", "pass_latency_p95", "hrm_eval_p95", "ethics_drift" */
	const char *definition;
	const char *unit;            /* "ratio", "ms", "events" */
	double target;               /* the objective as a ratio of good to total */
	double threshold;            /* the operator's figure: 0.995, 400 ms, 120 ms, 0 */
	double value;                /* availability ratio, p95 in ms, or drift count */
	uint64_t window_seconds;
	uint64_t good, total;
	double attainment;           /* good / total, 1 when total == 0 */
	double error_budget_remaining; /* 1 - (bad/total)/(1-target), clamped to [0, 1] */
	bool met;
	enum ark_metrics_slo_state state;
	int burn_count;              /* windows within the retention */
	uint64_t burn_window_s[ARK_METRICS_BURN_WINDOWS];
	double burn_rate[ARK_METRICS_BURN_WINDOWS]; /* (bad/total)/(1-target); +Inf for drift */
};
struct ark_metrics_slo_report {
	uint64_t evaluated_epoch;
	struct ark_metrics_slo slos[ARK_METRICS_SLO_COUNT];
	int violations;
	/* The trading state beside the SLOs (the caller fills it: "" leaves it out). */
	char trading_state[16];      /* ACTIVE, REDUCING, HALTED */
	char halt_cause[24];         /* none, rules, daily_loss, state_corrupt */
	char halt_detail[64];
};
int ark_metrics_slos_evaluate(const struct ark_metrics *reg, const struct ark_metrics_slo_config *c,
			      struct ark_metrics_slo_report *r);
int ark_metrics_slos_render_json(const struct ark_metrics_slo_report *r, struct ark_buf *buf);
/* Write ark_availability, slo_objective_ratio{slo}, slo_error_budget_remaining_ratio{slo}
 * and slo_burn_rate{slo,window}; the calling process is their one writer. */
int ark_metrics_slos_publish(struct ark_metrics *reg, const struct ark_metrics_slo_report *r,
			     struct ark_err *err);
struct ark_metrics_slo_row {
	const char *name;
	double target;       /* the threshold as operators state it */
	double value;
	uint64_t window_seconds;
	bool met;
};
/* Rows for the Mutable Core's SLO snapshot; returns the number written. */
int ark_metrics_slo_rows(const struct ark_metrics_slo_report *r, struct ark_metrics_slo_row *rows, int max);

#endif /* ARK_METRICS_H */
