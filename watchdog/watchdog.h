/* watchdog/watchdog.h — the watchdog: owns an instance's segment, starts
 * each agent, source and the metrics server as its own process, learns of a
 * death at once (a pidfd per process, no polling loop), restarts what dies
 * (from a warm standby when one is ready), finds hung agents by their
 * progress, quarantines slow or failing ones, and stops everything in order.
 * `ark run` (a finite run with a summary) and `ark watchdog` (the service,
 * which re-attaches to its segment after its own death) are both built on it.
 *
 * Guarantees: a restarted agent resumes from its state in the segment, so
 * nothing accepted is lost or doubled; a configuration error (exit status 2)
 * is not retried; more than ARK_WATCHDOG_CRASH_LIMIT deaths before handling
 * anything within a minute stop the whole instance with an error. */
#ifndef ARK_WATCHDOG_H
#define ARK_WATCHDOG_H

#include "proc/proc.h"
#include "pipeline/pipeline.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define ARK_SUPERVISOR_MAX_CHILDREN (ARK_AGENT_COUNT + ARK_MAX_SOURCES + 2 + 3)
#define ARK_WATCHDOG_CRASH_LIMIT 5

struct ark_child {
	char name[24];
	bool is_source;
	bool endless;              /* a source that runs until told to stop (tcp) */
	bool auxiliary;            /* the metrics server or the mirror: its failure does not stop the run */
	bool mirror;               /* the auxiliary is the Redis mirror (else the metrics server) */
	bool external;             /* started by systemd (ark-agent@.service): watched, not spawned */
	bool adopted;              /* not our child (found running after a watchdog restart) */
	int index;                 /* agent id or source number */
	int lane;                  /* ARK_LANE_CANARY: Joey, HRM or Kenny of the canary lane */
	bool canary_config_run;    /* this process runs the canary's binary and environment */
	bool exec_failed;          /* its last start failed in exec: the program could not be run */
	pid_t pid;                 /* 0 when not running */
	int pidfd;                 /* -1 when not running */
	bool finished;             /* exited cleanly and is not to be restarted */
	int restarts;
	uint64_t backoff_ns;
	uint64_t restart_at_ns;    /* when a dead child is due to start again */
	uint64_t died_ns;          /* when its death was seen */
	uint64_t started_ns;
	uint64_t events_at_start;  /* its control block's events when it started */
	int last_status;
	/* a warm standby: `ark agent NAME --standby FD`, exec'd and attached,
	 * blocked on a pipe until it is told to take over */
	pid_t standby_pid;
	int standby_pidfd;
	int standby_fd;            /* our end: one byte = take over, EOF = exit */
	bool standby_ready;        /* it said "r": attached and waiting */
	uint32_t standby_failures; /* standbys that died waiting, in a row */
	uint64_t standby_retry_at_ns;
	/* hang detection: progress seen, and when */
	uint64_t progress_value;
	uint64_t progress_ns;
	uint64_t abort_sent_ns;    /* SIGABRT sent to a hung agent, 0 if not */
	/* quarantine window */
	uint64_t window_start_ns;
	uint64_t window_events;
	uint64_t window_errors;
	uint64_t window_max_latency_ns;
	uint64_t latency_sampled_events;  /* events when last_latency was last sampled */
	bool quarantined;
};

/* The watchdog's limits (seed names), read once at start. */
struct ark_watchdog_config {
	bool enabled;                 /* WATCHDOG_ENABLED (default true) */
	bool quarantine_enabled;      /* WATCHDOG_QUARANTINE_ENABLED (default true) */
	uint64_t max_latency_ns;      /* WATCHDOG_MAX_LATENCY_MS (default 5000) */
	double max_failure_rate;      /* WATCHDOG_MAX_FAILURE_RATE (default 0.20) */
	uint64_t window_ns;           /* WATCHDOG_WINDOW_S (default 10) */
	uint64_t hang_ns;             /* WATCHDOG_HANG_MS (default 5000) */
	uint64_t kill_grace_ns;       /* after SIGABRT, SIGKILL (1 s) */
	bool standby;                 /* WATCHDOG_STANDBY (default true): warm standbys */
	char run_dir[PATH_MAX];       /* ARK_RUN_DIR: <name>.pid files */
};

/* A canary lane (ark start --canary): its share, window and configuration. */
struct ark_canary_config {
	uint32_t percent;             /* ARK_CANARY_PERCENT (10): the share of signals, by trace hash */
	uint64_t window_ns;           /* ARK_CANARY_WINDOW (10m) */
	uint64_t check_ns;            /* ARK_CANARY_CHECK_INTERVAL (1m): tripwires checked this often */
	uint32_t slow_checks;         /* checks in a row with p95 over the SLO that roll back (3) */
	double sigma;                 /* denials above the stable baseline by this many sigma roll back (3) */
	double p95_slo_ms;            /* SLO_P95_LATENCY_MS (400) */
	char bin[PATH_MAX];           /* ARK_CANARY_BIN: the lane's binary ("" = this one) */
	char env_file[PATH_MAX];      /* ARK_CANARY_ENV_FILE: recorded; its values are in envp */
	char *const *envp;            /* the lane's environment (NULL = the watchdog's) */
	/* What the canary runs, as it was when it started (recorded; `ark
	 * canary promote` refuses anything that hashes otherwise now): */
	char env_sha256[65];          /* the env file's bytes ("" without one) */
	char bin_path[PATH_MAX];      /* the lane's binary: bin, else this ark */
	char bin_sha256[65];
	char rules_path[PATH_MAX];    /* the rules the canary's HRM enforces */
	char rules_sha256[65];        /* their file's hash (the canary HRM holds them to it) */
	char looser[384];             /* what those rules loosen against stable's ("" none): only
				       * with --canary-allow-looser */
};
int ark_canary_config_from_env(struct ark_canary_config *config, struct ark_err *err);

/* What the operator should see as it happens: a quarantine, a hang, a
 * release, a death and its restart, a canary's start, tripwire and end.
 * The watchdog never prints: it logs each and hands the line (no newline)
 * to the command that runs it, which prints it (ARK_NOTICE_WARNING lines
 * to stderr). */
enum ark_notice_kind { ARK_NOTICE_EVENT, ARK_NOTICE_WARNING };
typedef void (*ark_supervisor_notice_fn)(void *ctx, enum ark_notice_kind kind, const char *line);

/* How an instance is started. */
struct ark_supervisor_options {
	ark_supervisor_notice_fn notice;  /* NULL: the log only */
	void *notice_ctx;
	const char *instance;
	const char *const *source_args;  /* the synthetic source's arguments; NULL: no synthetic source */
	int feed_port;                   /* -1: no TCP feed; 0: any free port; else the port */
	bool service;                    /* runs until stopped (ark watchdog), not until the sources finish */
	bool adopt;                      /* take over the segment of a dead watchdog and its processes */
	bool external_agents;            /* agents are systemd units: watch them, do not spawn them */
	bool api;                        /* the ingest API is a source (JWT_SECRET set, API_ENABLED) */
	bool alpha_vantage;              /* Alpha Vantage polling is a source (ALPHA_VANTAGE_API_KEY set) */
	const struct ark_canary_config *canary;   /* a canary lane beside the stable one, or NULL */
};
/* Whether the environment asks for the ingest API: JWT_SECRET set and
 * API_ENABLED not false. */
int ark_watchdog_api_wanted(bool *wanted, struct ark_err *err);

struct ark_supervisor {
	char instance[64];
	char exe[PATH_MAX];
	char journal_dir[PATH_MAX];
	struct ark_pipeline_map map;
	struct ark_child children[ARK_SUPERVISOR_MAX_CHILDREN];
	int child_count;
	const char *const *source_args;
	int feed_port;
	bool service;
	bool adopted;              /* this watchdog took over a running instance */
	bool endless_stopped;
	bool stopping;             /* pipeline->stop set: agents drain and exit */
	bool sources_stopped;
	bool failed;
	bool config_failed;          /* ... because a process cannot run as configured (exit 2): the run exits 2 */
	char failure[256];
	uint64_t crash_window_start_ns;
	int crashes_in_window;
	uint64_t total_restarts;
	uint64_t total_hangs;
	uint64_t total_quarantines;
	uint64_t total_standby_takeovers;
	uint64_t loops;            /* main-loop passes (progress checks) */
	int interrupt_fd;          /* readable during a drain: stop at once (ark watchdog's signalfd); -1 none */
	struct ark_watchdog_config watchdog;
	struct ark_log *log;       /* $ARK_LOG_DIR/watchdog.log */
	struct ark_canary_run *canary;   /* watchdog/canary.c; NULL without a canary */
	struct ark_canary_config canary_config;
	uint64_t rng;              /* back-off jitter */
	ark_supervisor_notice_fn notice;
	void *notice_ctx;
};

int ark_watchdog_config_from_env(struct ark_watchdog_config *config, struct ark_err *err);
/* Record an agent history event ("start", "restart", "quarantine",
 * "release", "hang", ...) in the Mutable Core; best effort, returns 0 or
 * a negative code with err filled. */
int ark_watchdog_record(const char *agent, const char *event, int pid, const char *reason, struct ark_err *err);

/* The processes a segment records, at most: both lanes' agents, the
 * sources, the metrics server and the mirror. */
#define ARK_WATCHDOG_RECORDED_MAX (2 * ARK_AGENT_COUNT + ARK_MAX_SOURCES + 2)
/* Every process recorded in a segment (pid and start ticks, 0 where none
 * runs), in that order into arrays of ARK_WATCHDOG_RECORDED_MAX; their
 * count. What a watchdog taking over stops, and what `ark stop` signals. */
int ark_watchdog_recorded_processes(const struct ark_pipeline *p, int32_t *pids, uint64_t *ticks);

/* systemd's notify protocol without libsystemd: one datagram ("READY=1",
 * "WATCHDOG=1", "STATUS=...", "STOPPING=1") to $NOTIFY_SOCKET, a path or an
 * abstract socket ('@' first). 0 when sent or when no NOTIFY_SOCKET is set. */
int ark_notify(const char *state);
/* $WATCHDOG_USEC when it is meant for this process ($WATCHDOG_PID unset or
 * ours), in ns; 0 when systemd does not expect keep-alives. */
uint64_t ark_notify_watchdog_interval_ns(void);

struct ark_run_summary {
	double elapsed_s;
	double sustained_eps;           /* events / (last Aletheia out - first Kyle in) */
	uint64_t ticks;                 /* published by the source(s) */
	uint64_t events;                /* journaled by Aletheia */
	uint64_t broker_reports;        /* a network broker's execution reports (events too) */
	uint64_t broker_anomalies;      /* answers that failed their checks */
	bool broker_stopped;            /* execution on the venue stopped */
	char broker_stop_reason[224];
	uint64_t intents, denials, fills;
	uint64_t denials_by_reason[ARK_REASON_COUNT];
	uint64_t injected_denied, injected_allowed, injected_wrong_reason, clean_denied;
	uint64_t ticks_refused;      /* at Kyle, beyond the bounds: an edge let them through */
	bool state_corrupt;          /* HRM halted for a non-finite value */
	uint64_t errors, trace_breaks, restarts, duplicates_dropped, rollbacks, hangs, quarantines;
	double e2e_p50_us, e2e_p99_us, e2e_p999_us, e2e_max_us;
	double agent_p50_us[ARK_AGENT_COUNT], agent_p99_us[ARK_AGENT_COUNT];
	double hrm_eval_p50_ns, hrm_eval_p99_ns;
	char journal_dir[PATH_MAX];
	char failure[256];
	bool ok;
};

int ark_supervisor_start(struct ark_supervisor *sup, const struct ark_supervisor_options *options,
			 struct ark_err *err);
/* The exit status for a start that failed with rc: 2 when no retry can help
 * (settings, pinned rules that differ, a corrupt or foreign Mutable Core, a
 * process that cannot run as configured), 1 otherwise. */
int ark_supervisor_start_status(const struct ark_supervisor *sup, int rc);
/* Sleep until a supervised process dies, extra_fd (>= 0) is readable, a
 * signal arrives or timeout_ns passes. Returns true when extra_fd is readable. */
bool ark_supervisor_wait(struct ark_supervisor *sup, int extra_fd, uint64_t timeout_ns);
/* Reap, restart, check progress and limits, and detect the end of the run;
 * non-zero when the run cannot go on (crash loop, configuration error). */
int ark_supervisor_poll(struct ark_supervisor *sup, struct ark_err *err);
bool ark_supervisor_finished(const struct ark_supervisor *sup);
/* Agents in state RUNNING, and the processes supervised. */
int ark_supervisor_agents_running(const struct ark_supervisor *sup);
void ark_supervisor_stop_sources(struct ark_supervisor *sup);
/* Stop the agents: drained (now=false: wait for Aletheia to catch up first,
 * bounded) or at once. Waits for every child. */
void ark_supervisor_stop(struct ark_supervisor *sup, bool now);
void ark_supervisor_summary(struct ark_supervisor *sup, double elapsed_s, struct ark_run_summary *summary);
/* Detach; remove the segment when the instance was stopped (not when the
 * watchdog leaves running processes behind for its successor). */
void ark_supervisor_close(struct ark_supervisor *sup);

/* The denial tripwire's verdict on one interval: +1 when the canary's
 * denial rate is above the stable baseline (the mean of its per-interval
 * rates, or stable_rate_now before there is one) by more than sigma_k
 * sigma, -1 when below it by as much (a canary that lets through what
 * stable stops), 0 otherwise or with fewer than 20 canary events; sigma is
 * the larger of the baseline's spread and the canary sample's binomial
 * spread. reason says which, with the figures. */
int ark_canary_denial_verdict(const double *stable_rates, uint32_t samples, double stable_rate_now,
			      uint64_t stable_events_total, uint64_t canary_events, uint64_t canary_denials, double sigma_k,
			      char *reason, size_t reason_cap);
/* Roll the canary back now (a tripwire, or an operator). */
void ark_canary_trip(struct ark_supervisor *sup, const char *reason);

void ark_run_summary_print(const struct ark_run_summary *summary, FILE *out);
void ark_run_summary_print_json(const struct ark_run_summary *summary, FILE *out);

#endif /* ARK_WATCHDOG_H */
