/* ops/ops.h — the operator's tools below the command line: env files, the
 * production configuration validator (`ark config validate`).
 *
 * An env file is KEY=VALUE lines as systemd's EnvironmentFile and the seed's
 * .env.production have them: blank lines and # comments, an optional
 * `export `, values bare (a " #" starts a comment), in single quotes (taken
 * as written) or in double quotes (\" \\ \n \t \$ understood); no variable
 * expansion. Every error names the file and line. A variable already in the
 * process's environment wins over the file (as an explicit setting should).
 *
 * The validator runs every check it can and reports each as one line; it
 * never prints a secret's value, only its name. */
#ifndef ARK_OPS_H
#define ARK_OPS_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- env files ---- */

struct ark_env_entry {
	char key[64];
	char *value;
	int line;
};
struct ark_env_file {
	char path[4096];
	struct ark_env_entry *entries;
	size_t count;
	unsigned mode;              /* the file's permission bits */
	unsigned uid;               /* its owner */
};
/* Parse a whole file; on error err says "<path> line N: ..." and nothing is kept. */
int ark_env_file_parse(const char *path, struct ark_env_file *file, struct ark_err *err);
/* Parse text (for tests and the fuzz target); name is used in errors. */
int ark_env_file_parse_text(const char *name, const char *text, size_t len, struct ark_env_file *file,
			    struct ark_err *err);
void ark_env_file_free(struct ark_env_file *file);
/* Whether it holds a secret: SESSION_SECRET, JWT_SECRET, ALPACA_API_KEY,
 * ALPACA_SECRET_KEY, ALPHA_VANTAGE_API_KEY, ARK_FEED_TOKEN, any key ending
 * in _SECRET, _SECRET_KEY, _API_KEY, _PASSWORD or _TOKEN, or a REDIS_URL
 * with a password in it. name (may be NULL) gets the first such key. */
bool ark_env_file_holds_secret(const struct ark_env_file *file, char *name, size_t name_len);
/* A file holding secrets must be owned by this user (or root) and not be
 * readable or writable by group or others: -EPERM otherwise, naming the
 * file, its mode and owner, and the fix (chmod 600 / chown). 0 for a file
 * holding no secret. Every command runs this on the files it loads. */
int ark_env_file_check_private(const struct ark_env_file *file, struct ark_err *err);

/* Set each entry in the environment unless it is already set there; returns
 * how many the environment kept (its own value won). */
size_t ark_env_file_apply(const struct ark_env_file *file);

/* The stable env file's text with the entries of overrides put in: every
 * line stays but those assigning a key overrides sets; then comment (a
 * "# ..." line, may be NULL) and overrides' assignments, quoted so that the
 * parser reads back each value exactly. -E2BIG when it would not fit in cap. */
int ark_env_file_merge(const char *stable_text, const struct ark_env_file *overrides, const char *comment,
		       char *out, size_t cap, size_t *len, struct ark_err *err);

/* What every `ark` command does first: `--env-file F` (taken out of argv),
 * else $ARK_ENV_FILE, else .env.production when ARK_ENV=prod and the file
 * exists. loaded gets the path used ("" when none). A file named explicitly
 * that cannot be read, any file with a syntax error, and a file holding
 * secrets that others may read (ark_env_file_check_private) are errors. */
int ark_env_file_load_for_command(int *argc, char **argv, char *loaded, size_t loaded_len, struct ark_err *err);

/* ---- secrets ---- */

/* Why a secret's value is not one: NULL when it is fine. Placeholders
 * (changeme, your_..., xxx, <...>, replace_me, example values, one repeated
 * character, runs like 123456); with strong, also fewer than 32 characters or
 * too little variety to hold 32 characters' worth of entropy. Never quotes
 * the value. */
const char *ark_secret_weakness(const char *value, bool strong);

/* ---- the validator ---- */

enum ark_check_status { ARK_CHECK_OK = 0, ARK_CHECK_FAIL, ARK_CHECK_INFO };

struct ark_check {
	enum ark_check_status status;
	char message[320];
	char hint[256];
};

#define ARK_VALIDATION_MAX_CHECKS 64
struct ark_validation {
	struct ark_check checks[ARK_VALIDATION_MAX_CHECKS];
	int count;
	bool valid;
	bool production;            /* ARK_ENV=prod */
	char env_file[4096];        /* the file loaded, "" if none */
};

struct ark_validate_options {
	const char *env_file;           /* loaded already (for the report and its own checks), or NULL */
	const struct ark_env_file *file;   /* its parsed entries, or NULL */
	const char *env_file_error;     /* a parse error of the env file, or NULL */
	uint32_t redis_timeout_ms;      /* PING's connect and reply timeout (2000) */
};

/* Run every check against the current environment. */
void ark_config_validate(const struct ark_validate_options *options, struct ark_validation *out);

/* ---- the status dashboard (`ark status`) ---- */

#include "pipeline/pipeline.h"
#include "metrics/metrics.h"

struct ark_status_process {
	char name[24];
	const char *state;          /* starting, running, draining, exited, failed, absent */
	int32_t pid;
	int32_t cpu;                /* -1: not pinned */
	bool alive;
	bool quarantined;
	uint64_t events, errors, restarts, hangs;
	double events_per_s;        /* between the two readings */
	double p50_us, p95_us, p99_us;   /* time in the agent, since the run began */
	double heartbeat_age_ms;
};

struct ark_status_ring {
	char name[24];
	uint64_t depth;
	uint32_t capacity;
};

struct ark_status {
	char instance[64];
	bool running;               /* some process of the instance is alive */
	double uptime_s;
	uint64_t journaled;
	double events_per_s;        /* journaled per second between the two readings */
	struct ark_status_process agents[ARK_AGENT_COUNT];
	struct ark_status_process sources[ARK_MAX_SOURCES];
	int source_count;
	struct ark_status_ring rings[ARK_AGENT_COUNT + ARK_MAX_SOURCES];
	int ring_count;
	double e2e_p50_us, e2e_p95_us, e2e_p99_us;
	uint64_t intents, fills, denials, trace_breaks;
	uint64_t denials_by_reason[ARK_REASON_COUNT];
	struct ark_metrics_slo_report slos;
	bool slos_known;
	bool mirror_enabled;        /* a mirror is attached */
	double mirror_lag_events;   /* -1: not known */
	char last_backup_path[512]; /* "" when none recorded */
	double last_backup_age_s;
	struct ark_broker_counts broker;
	const char *broker_name;    /* the registry's name: the broker that keeps the order book, or the default */
	unsigned metrics_port;      /* the metrics server's bound port, 0 if none */
	bool canary_configured;     /* the instance has a canary lane */
	const char *canary_state;   /* ark_pipeline_canary_outcome_name */
	unsigned canary_percent;
	bool canary_routing;
	uint64_t canary_lane_events[ARK_LANE_COUNT];
	uint64_t canary_lane_denials[ARK_LANE_COUNT];
	char canary_reason[192];
	const char *trading_state;  /* HRM's: ACTIVE, REDUCING, HALTED */
	const char *halt_cause;     /* none, rules, daily_loss, state_corrupt */
	char halt_detail[64];
};

/* Two readings interval_ns apart (rates are their difference); the map
 * stays attached. previous: an earlier reading (for --watch), or NULL. */
int ark_status_read(const struct ark_pipeline_map *map, const struct ark_status *previous, uint64_t interval_ns,
		    struct ark_status *status, struct ark_err *err);
/* The dashboard as text (width: the terminal's columns, 0 for 100). */
void ark_status_render_text(const struct ark_status *status, FILE *out, int width);
/* One JSON object and a newline. */
void ark_status_render_json(const struct ark_status *status, FILE *out);

/* ---- the canary's record ---- */

/* The last canary recorded (metadata canary_last): each field as it was
 * written, "" when the record lacks it. */
struct ark_canary_record {
	char outcome[32], env_file[4096], bin[4096], reason[256], percent[16], events[32];
	char env_sha256[72], bin_path[4096], bin_sha256[72], rules[4096], rules_sha256[72], looser[400];
	char injected_stable[96], injected_canary[96];
};
/* Read it from the Mutable Core; raw (up to 32 KiB is enough) keeps the
 * text for ark_canary_record_promoted. -ENOENT when no canary has run. */
int ark_canary_record_read(struct ark_canary_record *record, char *raw, size_t raw_cap, struct ark_err *err);
/* Record raw (as read) as promoted, with the hashes promoted ("" for what
 * the canary did not change): a canary run row and canary_last again. */
int ark_canary_record_promoted(const char *raw, const char *env_sha256, const char *bin_sha256,
			       const char *rules_sha256, struct ark_err *err);

/* ---- pre-flight ---- */

/* What the environment asks an instance to run, found by the check. */
struct ark_preflight {
	bool api;            /* the ingest API (JWT_SECRET set, API_ENABLED not false) */
	bool alpha_vantage;  /* Alpha Vantage polling (ALPHA_VANTAGE_API_KEY set) */
};
/* The settings every agent and source reads at its start (ARK_WAIT*,
 * ARK_CPU_<AGENT>, the API's JWT settings, Alpha Vantage's), checked before
 * `ark run` or `ark watchdog` starts anything: the first bad one is the
 * error, naming the variable and what it expects. */
int ark_preflight_check(struct ark_preflight *out, struct ark_err *err);

#endif /* ARK_OPS_H */
