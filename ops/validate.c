/* ops/validate.c — `ark config validate`: every check of a production
 * configuration, one line each, in the seed's order (variables, secrets,
 * settings, directories, SQLite, Redis) and then ARK's own (TLS, ports, CPUs,
 * the Graveyard). Each check runs whatever the others found, so one pass
 * shows every problem. A secret's value never enters a message. */
#include "ops/internal.h"

#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "brokers/brokers.h"
#include "alphavantage/alphavantage.h"
#include "api/api.h"
#include "feed/feed.h"
#include "graveyard/graveyard.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "mirror/mirror.h"
#include "store/store.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


void ark_ops_add(struct ark_validation *v, enum ark_check_status status, const char *hint, const char *fmt, ...)
{
	if (v->count == ARK_VALIDATION_MAX_CHECKS) {
		if (status == ARK_CHECK_FAIL)
			v->valid = false;
		return;
	}
	struct ark_check *c = &v->checks[v->count++];
	c->status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof c->message, fmt, ap);
	va_end(ap);
	snprintf(c->hint, sizeof c->hint, "%s", hint ? hint : "");
	if (status == ARK_CHECK_FAIL)
		v->valid = false;
}

/* The secrets, in the seed's order: ARK's own two (they sign things), every
 * registered broker's credentials, then the market data key. */
#define MAX_SECRETS 32
static size_t secrets_list(const char **out, const char *const *head, size_t n_head)
{
	size_t n = 0;
	for (size_t i = 0; i < n_head; i++)
		out[n++] = head[i];
	const struct ark_broker_ops *broker;
	for (size_t b = 0; (broker = ark_broker_at(b, NULL)) != NULL; b++)
		for (const char *const *c = broker->credentials; c && *c && n < MAX_SECRETS - 1; c++)
			out[n++] = *c;
	out[n++] = "ALPHA_VANTAGE_API_KEY";
	return n;
}

static bool set(const char *name)
{
	const char *v = getenv(name);
	return v && *v;
}

static void check_env_file(struct ark_validation *v, const struct ark_validate_options *o)
{
	if (o->env_file_error) {
		ark_ops_add(v, ARK_CHECK_FAIL, "fix that line: KEY=VALUE, values with spaces or # in quotes",
			    "Env file: %s", o->env_file_error);
		return;
	}
	if (!o->file)
		return;
	size_t both = 0;
	for (size_t i = 0; i < o->file->count; i++) {
		const char *now = getenv(o->file->entries[i].key);
		both += now && strcmp(now, o->file->entries[i].value) != 0;
	}
	ark_ops_add(v, ARK_CHECK_OK, NULL, "Env file: %s (%zu variables%s)", o->file->path, o->file->count,
		    both ? "; some are set differently in the environment, which wins" : "");
	struct ark_err err = {0};
	if (ark_env_file_check_private(o->file, &err)) {
		char hint[sizeof o->file->path + 16];
		snprintf(hint, sizeof hint, "chmod 600 %s", o->file->path);
		if (o->file->mode & 077)
			ark_ops_add(v, ARK_CHECK_FAIL, hint, "Env file: %s holds secrets and is readable by %s (mode %04o)",
				    o->file->path, (o->file->mode & 007) ? "everyone" : "its group", o->file->mode);
		else
			ark_ops_add(v, ARK_CHECK_FAIL, "chown it to the service user", "Env file: %s", err.msg);
	}
}

static void check_required(struct ark_validation *v)
{
	static const char *const head[] = {"ARK_ENV", "ARK_STATE_DB", "REDIS_URL", "METRICS_PORT", "SESSION_SECRET",
					   "JWT_SECRET"};
	const char *required[MAX_SECRETS];
	size_t n_required = secrets_list(required, head, sizeof head / sizeof *head);
	if (!v->production) {
		ark_ops_add(v, ARK_CHECK_OK, NULL,
			    "All required environment variables present (ARK_ENV is not prod: embedded defaults, nothing required)");
		return;
	}
	char missing[512] = "";
	for (size_t i = 0; i < n_required; i++)
		if (!set(required[i]))
			snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", missing[0] ? ", " : "",
				 required[i]);
	if (missing[0])
		ark_ops_add(v, ARK_CHECK_FAIL, "set them in the env file (deploy/.env.production.template lists every variable)",
			    "Missing required environment variables: %s", missing);
	else
		ark_ops_add(v, ARK_CHECK_OK, NULL, "All required environment variables present");
}

static void check_secrets(struct ark_validation *v)
{
	static const char *const head[] = {"SESSION_SECRET", "JWT_SECRET"};
	const char *secrets[MAX_SECRETS];
	size_t n_secrets = secrets_list(secrets, head, sizeof head / sizeof *head);
	int bad = 0, present = 0;
	for (size_t i = 0; i < n_secrets; i++) {
		const char *value = getenv(secrets[i]);
		if (!value || !*value)
			continue;
		present++;
		bool strong = i < 2;   /* SESSION_SECRET, JWT_SECRET sign things */
		const char *why = ark_secret_weakness(value, strong);
		if (why) {
			bad++;
			ark_ops_add(v, ARK_CHECK_FAIL,
				    strong ? "generate one: openssl rand -hex 32" : "use the real key from the provider's dashboard",
				    "Security: %s is %s", secrets[i], why);
		}
	}
	if (!bad)
		ark_ops_add(v, ARK_CHECK_OK, NULL, present ? "Security: All secrets configured (not placeholders)"
							   : "Security: no secrets set (none needed outside production)");
}

/* Every component's own reading of its variables: the errors name them. */
static void check_settings(struct ark_validation *v)
{
	struct ark_err err = {0};
	int failures = 0;
#define SETTING(call)                                                                                  \
	do {                                                                                           \
		memset(&err, 0, sizeof err);                                                           \
		if ((call) != 0) {                                                                     \
			failures++;                                                                    \
			ark_ops_add(v, ARK_CHECK_FAIL, "README's Environment variables section gives each range", \
				    "Settings: %s", err.msg);                                          \
		}                                                                                      \
	} while (0)
	struct ark_pipeline_config pipeline;
	SETTING(ark_pipeline_config_from_env(&pipeline, &err));
	struct ark_ring_wait_config wait;
	SETTING(ark_ring_wait_from_env(&wait, &err));
	struct ark_store_config store;
	SETTING(ark_store_config_from_env(&store, &err));
	struct ark_metrics_config metrics;
	SETTING(ark_metrics_config_from_env(&metrics, &err));
	struct ark_metrics_slo_config slo;
	SETTING(ark_metrics_slo_config_from_env(&slo, &err));
	struct ark_http_config http;
	SETTING(ark_http_config_from_env(&http, &err));
	SETTING(ark_http_config_from_env_prefix(&http, "API", "API_ENABLED", 8000, &err));
	struct ark_watchdog_config watchdog;
	SETTING(ark_watchdog_config_from_env(&watchdog, &err));
	struct ark_feed_config feed;
	SETTING(ark_feed_config_from_env(&feed, &err));
	struct ark_av_config av;
	SETTING(ark_av_config_from_env(&av, &err));
	if (set("REDIS_URL")) {
		struct ark_mirror_config mirror;
		SETTING(ark_mirror_config_from_env(&mirror, &err));
	}
	if (set("JWT_SECRET")) {
		struct ark_jwt_config jwt;
		SETTING(ark_jwt_config_from_env(&jwt, &err));
		explicit_bzero(&jwt, sizeof jwt);
	}
	/* The broker ARK_BROKER names, and its own settings (the registry's). */
	const struct ark_broker_ops *broker;
	memset(&err, 0, sizeof err);
	if (ark_broker_find(getenv("ARK_BROKER"), &broker, &err) != 0) {
		char names[160];
		ark_broker_names(names, sizeof names, true);
		failures++;
		ark_ops_add(v, ARK_CHECK_FAIL, names, "Settings: %s", err.msg);
	} else if (broker->check_settings) {
		SETTING(broker->check_settings(&err));
	}
	struct ark_canary_config canary;
	SETTING(ark_canary_config_from_env(&canary, &err));
	const char *canary_env = getenv("ARK_CANARY_ENV_FILE");
	if (canary_env && *canary_env) {
		struct ark_env_file file;
		int crc = ark_env_file_parse(canary_env, &file, &err);
		if (crc == 0) {
			crc = ark_env_file_check_private(&file, &err);
			ark_env_file_free(&file);
		}
		if (crc) {
			failures++;
			ark_ops_add(v, ARK_CHECK_FAIL, "the canary's env file must exist and parse",
				    "Settings: ARK_CANARY_ENV_FILE: %s", err.msg);
		}
	}
	static const char *const booleans[] = {"TRACE_ID_ENABLED", "WATCHDOG_ENABLED", "WATCHDOG_QUARANTINE_ENABLED",
					       "METRICS_SERVER_ENABLED", "API_ENABLED"};
	for (size_t i = 0; i < sizeof booleans / sizeof *booleans; i++) {
		bool b;
		SETTING(ark_env_bool(booleans[i], true, &b, &err));
	}
	uint64_t u;
	SETTING(ark_env_u64("ARK_DB_CHECKPOINT_INTERVAL", 0, 0, 86400, &u, &err));
	SETTING(ark_env_u64("METRICS_RETENTION_SECONDS", 3600, 60, 7 * 86400, &u, &err));
#undef SETTING
	if (!failures)
		ark_ops_add(v, ARK_CHECK_OK, NULL, "Settings: every value parses and is in range");
}

/* Exists (or is made) and a file can be created in it. */
static void check_directory(struct ark_validation *v, const char *what, const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s", dir);
	bool created = false;
	struct stat st;
	if (stat(path, &st) != 0) {
		for (char *p = path + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(path, 0750);
				*p = '/';
			}
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			char hint[4300];
			snprintf(hint, sizeof hint, "create it for the service's user: install -d -m 750 -o ark %s", dir);
			ark_ops_add(v, ARK_CHECK_FAIL, hint, "Directories: %s (%s) does not exist and cannot be created: %s", dir,
				    what, strerror(errno));
			return;
		}
		created = true;
	} else if (!S_ISDIR(st.st_mode)) {
		ark_ops_add(v, ARK_CHECK_FAIL, "point the variable at a directory", "Directories: %s (%s) is not a directory",
			    dir, what);
		return;
	}
	snprintf(path, sizeof path, "%s/.ark-validate-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0) {
		char hint[4300];
		snprintf(hint, sizeof hint, "give the service's user write access: chown -R ark %s", dir);
		ark_ops_add(v, ARK_CHECK_FAIL, hint, "Directories: %s (%s) is not writable: %s", dir, what, strerror(errno));
		return;
	}
	close(fd);
	unlink(path);
	ark_ops_add(v, ARK_CHECK_OK, NULL, "Directories: %s %s and writable", dir, created ? "created" : "exists");
}

static void check_directories(struct ark_validation *v)
{
	struct ark_store_config store;
	struct ark_err err = {0};
	if (ark_store_config_from_env(&store, &err) == 0) {
		check_directory(v, "ARK_DATA_DIR", store.data_dir);
		check_directory(v, "ARK_BACKUP_DIR", store.backup_dir);
	}
	char logs[4096];
	ark_log_dir(logs, sizeof logs);
	check_directory(v, "ARK_LOG_DIR", logs);
	struct ark_watchdog_config watchdog;
	if (ark_watchdog_config_from_env(&watchdog, &err) == 0)
		check_directory(v, "ARK_RUN_DIR", watchdog.run_dir);
}

static void check_sqlite(struct ark_validation *v)
{
	struct ark_store_config store;
	struct ark_err err = {0};
	if (ark_store_config_from_env(&store, &err) != 0)
		return;
	if (strcmp(store.state_db, ":memory:") == 0) {
		ark_ops_add(v, ARK_CHECK_INFO, NULL, "SQLite: ARK_STATE_DB is :memory: (nothing kept across restarts; WAL not used)");
		return;
	}
	struct stat st;
	bool existed = stat(store.state_db, &st) == 0;
	sqlite3 *db = NULL;
	int rc = ark_store_sqlite_open(store.state_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, NULL) == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
	char mode[16] = "";
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(db, 2000);
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &q, NULL) == SQLITE_OK) {
			if (sqlite3_step(q) == SQLITE_ROW)
				snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(q, 0));
			sqlite3_finalize(q);
		}
	}
	if (rc != SQLITE_OK || strcmp(mode, "wal") != 0) {
		ark_ops_add(v, ARK_CHECK_FAIL, "ARK_STATE_DB must be on a local file system the service can write (WAL needs shared memory)",
			    "SQLite: cannot enable WAL mode on %s: %s", store.state_db,
			    rc != SQLITE_OK ? sqlite3_errmsg(db) : mode[0] ? mode : sqlite3_errmsg(db));
		sqlite3_close(db);
		return;
	}
	sqlite3_close(db);
	if (!existed)
		chmod(store.state_db, 0600);
	else if (st.st_mode & 077) {
		char hint[4200];
		snprintf(hint, sizeof hint, "chmod 600 %s", store.state_db);
		ark_ops_add(v, ARK_CHECK_FAIL, hint, "SQLite: %s is readable by others (mode %04o)", store.state_db,
			    (unsigned)(st.st_mode & 07777));
		return;
	}
	ark_ops_add(v, ARK_CHECK_OK, NULL, "SQLite WAL mode enabled successfully (%s)", store.state_db);
}

static void check_graveyard(struct ark_validation *v)
{
	struct ark_err err = {0};
	char installed[4096];
	const char *path = getenv("ARK_GRAVEYARD_RULES");
	if (!path || !*path) {
		if (ark_graveyard_installed_path(installed, sizeof installed, &err)) {
			ark_ops_add(v, ARK_CHECK_FAIL, NULL, "Graveyard: %s", err.msg);
			return;
		}
		path = installed;
	}
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	if (!rules)
		return;
	bool installed_yet = access(path, F_OK) == 0;
	size_t embedded_len;
	const unsigned char *embedded = ark_pipeline_default_rules(&embedded_len);
	if (installed_yet ? ark_graveyard_load(path, rules, &err)
			  : ark_graveyard_parse((const char *)embedded, embedded_len, "embedded rules", rules, &err)) {
		ark_ops_add(v, ARK_CHECK_FAIL, "restore the rules file (ark graveyard check shows what is wrong)", "Graveyard: %s",
			    err.msg);
		free(rules);
		return;
	}
	char hash[80];
	snprintf(hash, sizeof hash, "%s", rules->file_sha256_hex);
	free(rules);
	const char *pinned = getenv("ARK_GRAVEYARD_SHA256");
	if (pinned && *pinned && strcmp(pinned, hash) != 0) {
		ark_ops_add(v, ARK_CHECK_FAIL, "restore the approved rules file, or pin its new hash after review",
			    "Graveyard: %s has sha256 %.16s..., not ARK_GRAVEYARD_SHA256 %.16s...", path, hash, pinned);
		return;
	}
	/* The hash the Mutable Core recorded when the rules were last run. */
	struct ark_store_config store;
	char recorded[80] = "";
	if (ark_store_config_from_env(&store, &err) == 0 && strcmp(store.state_db, ":memory:") != 0 &&
	    access(store.state_db, F_OK) == 0) {
		sqlite3 *db = NULL;
		if (ark_store_sqlite_open(store.state_db, SQLITE_OPEN_READONLY, &db, NULL) == 0) {
			sqlite3_busy_timeout(db, 2000);
			sqlite3_stmt *q;
			if (sqlite3_prepare_v2(db, "SELECT value FROM metadata WHERE key = 'graveyard_hash'", -1, &q, NULL) == SQLITE_OK) {
				if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
					snprintf(recorded, sizeof recorded, "%s", (const char *)sqlite3_column_text(q, 0));
				sqlite3_finalize(q);
			}
		}
		sqlite3_close(db);
	}
	if (recorded[0] && strcmp(recorded, hash) != 0) {
		ark_ops_add(v, ARK_CHECK_FAIL,
			    "the rules changed since ARK last ran them: restore the file, or install the reviewed rules with ark graveyard install",
			    "Graveyard: %s has sha256 %.16s..., the Mutable Core recorded %.16s... (ethics drift)", path, hash,
			    recorded);
		return;
	}
	if (!installed_yet)
		ark_ops_add(v, ARK_CHECK_OK, NULL,
			    "Graveyard: %s is not installed yet; the embedded rules (sha256 %.16s...%s) are installed at the first start",
			    path, hash, pinned && *pinned ? ", matching ARK_GRAVEYARD_SHA256" : "");
	else
		ark_ops_add(v, ARK_CHECK_OK, NULL, "Graveyard: rules hash %s (sha256 %.16s...)",
			    recorded[0] ? "matches the Mutable Core's record" : pinned && *pinned ? "matches ARK_GRAVEYARD_SHA256" : "computed",
			    hash);
}

static void check_ports(struct ark_validation *v)
{
	struct ark_err err = {0};
	struct ark_pipeline_map map;
	unsigned running_metrics = 0, running_api = 0, running_feed = 0;
	if (ark_pipeline_attach(&map, ark_pipeline_default_instance(), &err) == 0) {
		/* Only a live instance's ports are its own (a stale segment's are not). */
		bool alive = false;
		for (int a = 0; a < ARK_AGENT_COUNT; a++)
			alive |= ark_shm_process_alive(atomic_load(&map.pipeline->agents[a].pid),
						       atomic_load(&map.pipeline->agents[a].start_ticks));
		if (alive) {
			running_metrics = atomic_load(&map.pipeline->metrics_port);
			running_api = atomic_load(&map.pipeline->api_port);
			running_feed = atomic_load(&map.pipeline->feed_port);
		}
		ark_pipeline_detach(&map);
	}
	struct ark_http_config http;
	if (ark_http_config_from_env(&http, &err) == 0 && ark_http_config_enabled(&http))
		ark_ops_check_port(v, "METRICS_PORT", http.bind, http.port, running_metrics);
	if (set("JWT_SECRET") && ark_http_config_from_env_prefix(&http, "API", "API_ENABLED", 8000, &err) == 0 &&
	    http.enabled)
		ark_ops_check_port(v, "API_PORT", http.bind, http.port, running_api);
	/* The TCP line feed: the default source of ark watchdog and ark start. */
	struct ark_feed_config feed;
	if (ark_feed_config_from_env(&feed, &err) == 0)
		ark_ops_check_port(v, "ARK_FEED_PORT", feed.bind, feed.port, running_feed);
}

static void check_tls(struct ark_validation *v)
{
	struct ark_err err = {0};
	struct ark_http_config http;
	if (ark_http_config_from_env(&http, &err) == 0 && ark_http_config_enabled(&http))
		ark_ops_check_tls(v, "METRICS", &http, v->production);
	if (set("JWT_SECRET") && ark_http_config_from_env_prefix(&http, "API", "API_ENABLED", 8000, &err) == 0 &&
	    http.enabled)
		ark_ops_check_tls(v, "API", &http, v->production);
}

void ark_config_validate(const struct ark_validate_options *o, struct ark_validation *v)
{
	memset(v, 0, sizeof *v);
	v->valid = true;
	const char *env = getenv("ARK_ENV");
	v->production = env && strcmp(env, "prod") == 0;
	if (o->env_file)
		snprintf(v->env_file, sizeof v->env_file, "%s", o->env_file);
	check_env_file(v, o);
	check_required(v);
	check_secrets(v);
	check_settings(v);
	check_directories(v);
	check_sqlite(v);
	ark_ops_check_redis(v, o->redis_timeout_ms ? o->redis_timeout_ms : 2000);
	check_tls(v);
	check_ports(v);
	ark_ops_check_cpus(v);
	check_graveyard(v);
}
