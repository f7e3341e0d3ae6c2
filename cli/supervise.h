/* cli/supervise.h — the simple supervisor behind `ark run`: starts the agent
 * and source processes of one instance, restarts what dies (with back-off),
 * notices when the run is complete, stops everything in order, and sums the
 * run up. The watchdog (its own issue) deepens this: hang detection,
 * quarantine, pid files, systemd. */
#ifndef ARK_CLI_SUPERVISE_H
#define ARK_CLI_SUPERVISE_H

#include "agents/agents.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define ARK_SUPERVISOR_MAX_CHILDREN (ARK_AGENT_COUNT + ARK_MAX_SOURCES)

struct ark_child {
	char name[24];
	bool is_source;
	bool endless;              /* a source that runs until told to stop (tcp) */
	bool auxiliary;            /* the metrics server: its failure does not stop the run */
	int index;                 /* agent id or source number */
	pid_t pid;                 /* 0 when not running */
	bool finished;             /* exited cleanly and is not to be restarted */
	int restarts;
	uint64_t backoff_ns;
	uint64_t restart_at_ns;    /* when a dead child is due to start again */
	uint64_t started_ns;
	uint64_t events_at_start;  /* its control block's events when it started */
	int last_status;
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
	char run_dir[PATH_MAX];       /* ARK_RUN_DIR: <name>.pid files */
};

struct ark_supervisor {
	char instance[64];
	char exe[PATH_MAX];
	char journal_dir[PATH_MAX];
	struct ark_pipeline_map map;
	struct ark_child children[ARK_SUPERVISOR_MAX_CHILDREN];
	int child_count;
	const char *const *source_args;
	int feed_port;             /* -1: no TCP feed; 0: any free port; else the port */
	bool endless_stopped;
	bool stopping;             /* pipeline->stop set: agents drain and exit */
	bool sources_stopped;
	bool failed;
	char failure[256];
	uint64_t crash_window_start_ns;
	int crashes_in_window;
	uint64_t total_restarts;
	uint64_t total_hangs;
	uint64_t total_quarantines;
	struct ark_watchdog_config watchdog;
	struct ark_log *log;       /* $ARK_LOG_DIR/watchdog.log */
	uint64_t rng;              /* back-off jitter */
};

int ark_watchdog_config_from_env(struct ark_watchdog_config *config, struct ark_err *err);
/* Record an agent history event ("start", "restart", "quarantine",
 * "release", "hang", ...) in the Mutable Core; best effort, returns 0 or
 * a negative code with err filled. */
int ark_watchdog_record(const char *agent, const char *event, int pid, const char *reason, struct ark_err *err);

struct ark_run_summary {
	double elapsed_s;
	double sustained_eps;           /* events / (last Aletheia out - first Kyle in) */
	uint64_t ticks;                 /* published by the source(s) */
	uint64_t events;                /* journaled by Aletheia */
	uint64_t intents, denials, fills;
	uint64_t denials_by_reason[ARK_REASON_COUNT];
	uint64_t injected_denied, injected_allowed, injected_wrong_reason, clean_denied;
	uint64_t errors, trace_breaks, restarts, duplicates_dropped, rollbacks, hangs, quarantines;
	double e2e_p50_us, e2e_p99_us, e2e_p999_us, e2e_max_us;
	double agent_p50_us[ARK_AGENT_COUNT], agent_p99_us[ARK_AGENT_COUNT];
	double hrm_eval_p50_ns, hrm_eval_p99_ns;
	char journal_dir[PATH_MAX];
	char failure[256];
	bool ok;
};

/* feed_port: -1 for no TCP line feed, 0 for any free port, else the port. */
int ark_supervisor_start(struct ark_supervisor *sup, const char *instance, const char *const *source_args,
			 int feed_port, struct ark_err *err);
/* Reap, restart, and detect the end of the run; non-zero when the run
 * cannot go on (crash loop, configuration error). */
int ark_supervisor_poll(struct ark_supervisor *sup, struct ark_err *err);
bool ark_supervisor_finished(const struct ark_supervisor *sup);
void ark_supervisor_stop_sources(struct ark_supervisor *sup);
/* Stop the agents: drained (now=false: wait for Aletheia to catch up first,
 * bounded) or at once. Waits for every child. */
void ark_supervisor_stop(struct ark_supervisor *sup, bool now);
void ark_supervisor_summary(struct ark_supervisor *sup, double elapsed_s, struct ark_run_summary *summary);
/* Detach and remove the segment. */
void ark_supervisor_close(struct ark_supervisor *sup);

void ark_run_summary_print(const struct ark_run_summary *summary, FILE *out);
void ark_run_summary_print_json(const struct ark_run_summary *summary, FILE *out);

#endif /* ARK_CLI_SUPERVISE_H */
