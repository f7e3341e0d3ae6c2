/* store/core.c — opening and closing the Mutable Core: file creation (0600),
 * the pragmas every open sets (Debian's SQLite defaults to synchronous=FULL
 * and busy_timeout=0), the integrity check at start, the ARK-database check,
 * migrations, and explicit BEGIN IMMEDIATE transactions.
 *
 * Invariant: a struct ark_core exists only for a database that passed its
 * integrity check (unless configured off), is ARK's and is at
 * ARK_CORE_SCHEMA_VERSION (read-only opens may be older). */
#include "store/core_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int ark_core_sql_error(struct ark_core *core, struct ark_err *err, int rc, const char *what)
{
	int code = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -EBUSY
		   : rc == SQLITE_CONSTRAINT ? -EEXIST
		   : rc == SQLITE_FULL ? -ENOSPC
		   : rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? -EUCLEAN
		   : rc == SQLITE_READONLY ? -EROFS
		   : -EIO;
	return ark_err_set(err, code, "%s: %s (SQLite %s)", what, sqlite3_errmsg(core->db),
			   sqlite3_errstr(rc));
}

int ark_core_exec(sqlite3 *db, const char *sql, const char *what, struct ark_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	int code = rc == SQLITE_BUSY ? -EBUSY : rc == SQLITE_FULL ? -ENOSPC : -EIO;
	ark_err_set(err, code, "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return code;
}

static const char *stmt_sql[ST_COUNT_] = {
	[ST_ORDER] = "INSERT INTO orders(trace_id, seq, symbol, side, qty, limit_price, status, created_ns, updated_ns)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"
		     " ON CONFLICT(trace_id) DO UPDATE SET status = excluded.status, updated_ns = excluded.updated_ns",
	[ST_FILL] = "INSERT OR IGNORE INTO fills(trace_id, seq, qty, price, venue, filled_ns)"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_POSITION] = "INSERT INTO positions(symbol, qty, avg_price, realized_pnl, updated_ns)"
			" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(symbol) DO UPDATE SET qty = excluded.qty,"
			" avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl,"
			" updated_ns = excluded.updated_ns",
	[ST_DENIAL] = "INSERT OR IGNORE INTO hrm_denials(trace_id, seq, symbol, rule, reason_code, reason, denied_ns)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_AGENT] = "INSERT INTO agent_history(agent, event, pid, reason, at_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_SLO] = "INSERT INTO slo_snapshots(slo, target, value, window_s, met, taken_ns)"
		   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_CANARY] = "INSERT INTO canary_runs(started_ns, finished_ns, outcome, events, p95_us, detail)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_META_SET] = "INSERT INTO metadata(key, value, updated_at_ns) VALUES (?1, ?2, ?3)"
			" ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at_ns = excluded.updated_at_ns",
	[ST_META_GET] = "SELECT value FROM metadata WHERE key = ?1",
};

int ark_core_harden(sqlite3 *db)
{
	/* Whatever a database file holds, ARK's connections run none of its
	 * code: no trigger fires (ARK's schema has none: a file that brings one
	 * is refused by restore, and here it stays inert), no function marked
	 * unsafe runs from the schema (trusted_schema off), and defensive mode
	 * keeps SQL from corrupting the file (writable_schema, raw page
	 * writes). Extensions stay unloadable. */
	int ok = 0, rc = 0;
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &ok);
	rc |= !ok;
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &ok);
	rc |= ok;
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &ok);
	rc |= ok;
	rc |= sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &ok);
	rc |= ok;
	rc |= sqlite3_exec(db, "PRAGMA trusted_schema=OFF", NULL, NULL, NULL);
	return rc ? -EPERM : 0;
}

int ark_store_sqlite_open(const char *path, int flags, struct sqlite3 **db, struct ark_err *err)
{
	*db = NULL;
	int rc = sqlite3_open_v2(path, db, flags, NULL);
	if (rc != SQLITE_OK) {
		ark_err_set(err, -EIO, "cannot open '%s': %s", path, *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close_v2(*db);
		*db = NULL;
		return -EIO;
	}
	if (ark_core_harden(*db)) {
		sqlite3_close_v2(*db);
		*db = NULL;
		return ark_err_set(err, -EPERM, "'%s': SQLite refused the defensive settings", path);
	}
	return 0;
}

int ark_core_prepare(struct ark_core *core, enum ark_core_stmt which, struct ark_err *err)
{
	if (core->st[which])
		return 0;
	int rc = sqlite3_prepare_v3(core->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
				    &core->st[which], NULL);
	if (rc != SQLITE_OK)
		return ark_core_sql_error(core, err, rc, "prepare");
	return 0;
}

/* Create the file 0600 (and its directory 0700) before SQLite does, so the
 * database and its -wal/-shm (SQLite copies the mode) are never readable by
 * others. */
static int create_private(const char *path, struct ark_err *err)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	int rc = ark_store_mkdirs(dirname(dir), err);
	if (rc)
		return ark_err_wrap(err, "ARK_STATE_DB");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return ark_err_set(err, -errno, "ARK_STATE_DB: cannot create '%s': %s", path,
				   strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static int set_pragmas(struct ark_core *core, struct ark_err *err)
{
	sqlite3_busy_timeout(core->db, (int)core->cfg.db_busy_timeout_ms);
	if (core->flags & ARK_CORE_READONLY)
		return 0;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(core->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);
		bool ok = mode && (strcmp(mode, "wal") == 0 || (core->memory && strcmp(mode, "memory") == 0));
		if (!ok) {
			ark_err_set(err, -EIO, "ARK_STATE_DB '%s': cannot switch to WAL mode (got '%s')",
				    core->cfg.state_db, mode ? mode : "?");
			sqlite3_finalize(st);
			return err ? err->code : -EIO;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return ark_core_sql_error(core, err, rc, "PRAGMA journal_mode=WAL");
	char sql[256];
	snprintf(sql, sizeof sql,
		 "PRAGMA synchronous=%d; PRAGMA journal_size_limit=%llu; PRAGMA temp_store=MEMORY;"
		 "PRAGMA cache_size=-16384; PRAGMA foreign_keys=OFF;",
		 core->cfg.db_synchronous, (unsigned long long)core->cfg.db_wal_max_bytes);
	return ark_core_exec(core->db, sql, "set pragmas", err);
}

int ark_core_open(struct ark_core **out, const struct ark_store_config *cfg, unsigned flags,
		  struct ark_core_open_info *info, struct ark_err *err)
{
	*out = NULL;
	struct ark_core_open_info local;
	if (!info)
		info = &local;
	memset(info, 0, sizeof *info);
	struct ark_core *core = calloc(1, sizeof *core);
	if (!core)
		return ark_err_set(err, -ENOMEM, "out of memory");
	core->cfg = *cfg;
	core->flags = flags;
	core->memory = strcmp(cfg->state_db, ":memory:") == 0;
	int rc;
	bool readonly = flags & ARK_CORE_READONLY;
	if (!core->memory && !readonly && (rc = create_private(cfg->state_db, err)))
		goto fail;
	if (!core->memory && readonly && access(cfg->state_db, F_OK) != 0) {
		rc = ark_err_set(err, -ENOENT, "ARK_STATE_DB '%s' does not exist", cfg->state_db);
		goto fail;
	}
	int oflags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		     SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	if ((rc = ark_store_sqlite_open(cfg->state_db, oflags, &core->db, err))) {
		ark_err_wrap(err, "ARK_STATE_DB");
		goto fail;
	}
	/* What is it? Before any pragma writes to it: a foreign database is
	 * left exactly as it was. */
	sqlite3_busy_timeout(core->db, (int)cfg->db_busy_timeout_ms);
	bool empty;
	if ((rc = ark_core_identify(core->db, cfg->state_db, &core->schema_version, &empty, err))) {
		ark_err_wrap(err, "ARK_STATE_DB");
		goto fail;
	}
	info->schema_version_found = core->schema_version;
	if ((rc = set_pragmas(core, err))) {
		if (sqlite3_errcode(core->db) == SQLITE_NOTADB)
			rc = ark_err_set(err, -EPROTOTYPE, "ARK_STATE_DB '%s' is not an SQLite database",
					 cfg->state_db);
		goto fail;
	}
	if (cfg->db_integrity != ARK_DB_INTEGRITY_OFF && !core->memory) {
		if ((rc = ark_core_integrity(core->db, cfg->state_db,
					     cfg->db_integrity == ARK_DB_INTEGRITY_QUICK, err))) {
			ark_err_wrap(err, "ARK_STATE_DB integrity check failed; restore a backup with `ark restore FILE`");
			goto fail;
		}
		snprintf(info->integrity, sizeof info->integrity, "ok");
	} else {
		snprintf(info->integrity, sizeof info->integrity, "skipped");
	}
	if (!readonly && (rc = ark_core_migrate(core, &info->migrations_applied, err)))
		goto fail;
	if (readonly && empty) {
		rc = ark_err_set(err, -ENOENT, "ARK_STATE_DB '%s' is empty (no ARK schema yet)", cfg->state_db);
		goto fail;
	}
	int page_size = 4096;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(core->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			page_size = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	core->page_size = page_size > 0 ? page_size : 4096;
	snprintf(core->wal_path, sizeof core->wal_path, "%s-wal", cfg->state_db);
	core->last_checkpoint_ns = ark_now_ns();
	if (!readonly && !core->memory) {
		uint64_t hard = cfg->db_wal_max_bytes / (uint64_t)core->page_size;
		core->hard_frames = (int)ARK_MAX(hard, 64);
		core->soft_frames = ARK_MAX(core->hard_frames / 4, 16);
		if (cfg->db_checkpoint_interval_ns == 0 || (flags & ARK_CORE_NO_CHECKPOINTER)) {
			/* SQLite's own: a PASSIVE checkpoint every 1000 pages */
			sqlite3_wal_autocheckpoint(core->db, 1000);
		} else {
			core->own_checkpointer = true;
			sqlite3_wal_hook(core->db, ark_core_wal_hook, core);
		}
	}
	*out = core;
	return 0;
fail:
	if (core->db)
		sqlite3_close_v2(core->db);
	free(core);
	return rc;
}

void ark_core_close(struct ark_core *core)
{
	if (!core)
		return;
	if (core->in_tx)
		ark_core_rollback(core);
	for (int i = 0; i < ST_COUNT_; i++)
		sqlite3_finalize(core->st[i]);
	/* The last connection to close checkpoints and removes the WAL. */
	sqlite3_close_v2(core->db);
	free(core);
}

struct sqlite3 *ark_core_db(struct ark_core *core)
{
	return core->db;
}

int ark_core_schema_version(struct ark_core *core)
{
	return core->schema_version;
}

int ark_core_begin(struct ark_core *core, struct ark_err *err)
{
	if (core->in_tx)
		return ark_err_set(err, -EINVAL, "Mutable Core: a transaction is already open");
	int rc = ark_core_exec(core->db, "BEGIN IMMEDIATE", "BEGIN IMMEDIATE", err);
	if (rc == 0)
		core->in_tx = true;
	return rc;
}

int ark_core_commit(struct ark_core *core, struct ark_err *err)
{
	if (!core->in_tx)
		return ark_err_set(err, -EINVAL, "Mutable Core: no transaction to commit");
	int rc = ark_core_exec(core->db, "COMMIT", "COMMIT", err);
	if (rc == 0)
		core->in_tx = false;
	else
		ark_core_rollback(core); /* never leave it half-open */
	return rc;
}

void ark_core_rollback(struct ark_core *core)
{
	if (sqlite3_get_autocommit(core->db) == 0)
		ark_core_exec(core->db, "ROLLBACK", "ROLLBACK", NULL);
	core->in_tx = false;
}
