/* store/core_schema.c — the Mutable Core's schema: numbered migrations, each
 * applied once in its own BEGIN IMMEDIATE transaction that also records it in
 * schema_migrations and PRAGMA user_version; and the checks that say what a
 * database file is (ARK's, empty, foreign, newer).
 *
 * Invariant: user_version == max(schema_migrations.version) == the version in
 * metadata, and every migration is idempotent only through that record —
 * never edit a released migration, add a new one. */
#include "store/core_internal.h"

#include <errno.h>
#include <stdio.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

static const struct migration migrations[] = {
	{1, "initial schema",
	 "CREATE TABLE schema_migrations("
	 "  version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ns INTEGER NOT NULL);"
	 "CREATE TABLE metadata("
	 "  key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at_ns INTEGER NOT NULL) WITHOUT ROWID;"
	 /* trace_id is the key: the broker's client order id derives from it,
	  * and a replayed event upserts instead of doubling the order. u64
	  * trace ids are stored as their two's-complement i64. */
	 "CREATE TABLE orders("
	 "  trace_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, symbol TEXT NOT NULL,"
	 "  side INTEGER NOT NULL CHECK (side IN (1, -1)), qty REAL NOT NULL,"
	 "  limit_price REAL NOT NULL, status TEXT NOT NULL,"
	 "  created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL);"
	 "CREATE TABLE fills("
	 "  fill_id INTEGER PRIMARY KEY, trace_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
	 "  qty REAL NOT NULL, price REAL NOT NULL, venue TEXT NOT NULL, filled_ns INTEGER NOT NULL,"
	 "  UNIQUE (trace_id, seq));"
	 "CREATE TABLE positions("
	 "  symbol TEXT PRIMARY KEY, qty REAL NOT NULL, avg_price REAL NOT NULL,"
	 "  realized_pnl REAL NOT NULL, updated_ns INTEGER NOT NULL) WITHOUT ROWID;"
	 "CREATE TABLE hrm_denials("
	 "  trace_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, symbol TEXT NOT NULL,"
	 "  rule TEXT NOT NULL, reason_code INTEGER NOT NULL, reason TEXT NOT NULL,"
	 "  denied_ns INTEGER NOT NULL);"
	 "CREATE TABLE agent_history("
	 "  id INTEGER PRIMARY KEY, agent TEXT NOT NULL,"
	 "  event TEXT NOT NULL CHECK (event IN ('start','restart','quarantine','release','stop','crash')),"
	 "  pid INTEGER, reason TEXT, at_ns INTEGER NOT NULL);"
	 "CREATE TABLE slo_snapshots("
	 "  id INTEGER PRIMARY KEY, slo TEXT NOT NULL, target REAL NOT NULL, value REAL NOT NULL,"
	 "  window_s INTEGER NOT NULL, met INTEGER NOT NULL, taken_ns INTEGER NOT NULL);"
	 "CREATE TABLE canary_runs("
	 "  id INTEGER PRIMARY KEY, started_ns INTEGER NOT NULL, finished_ns INTEGER,"
	 "  outcome TEXT NOT NULL, events INTEGER NOT NULL, p95_us REAL, detail TEXT);"
	 "CREATE TABLE backups("
	 "  id INTEGER PRIMARY KEY, path TEXT NOT NULL, taken_ns INTEGER NOT NULL,"
	 "  bytes INTEGER NOT NULL, pages INTEGER NOT NULL, schema_version INTEGER NOT NULL,"
	 "  journal_last_applied_seq INTEGER, duration_ns INTEGER NOT NULL, pruned_ns INTEGER);"},
	/* Indexes for the operator's questions, kept off the hot tables
	 * (orders and denials are written at a million rows a second). */
	{2, "operator indexes and views",
	 "CREATE INDEX agent_history_by_agent ON agent_history(agent, at_ns);"
	 "CREATE INDEX slo_snapshots_by_slo ON slo_snapshots(slo, taken_ns);"
	 "CREATE INDEX backups_by_time ON backups(taken_ns);"
	 "CREATE VIEW denials_by_rule AS"
	 "  SELECT rule, reason_code, count(*) AS denials, max(denied_ns) AS last_denied_ns"
	 "  FROM hrm_denials GROUP BY rule, reason_code;"},
	/* The Graveyard's approvals: the recorded rules hash changes only
	 * through one of these (ark graveyard install --approve), never by a
	 * start; and each backup's SHA-256, so a restore can prove the file. */
	{3, "graveyard approvals and backup checksums",
	 "CREATE TABLE graveyard_history("
	 "  id INTEGER PRIMARY KEY, approved_ns INTEGER NOT NULL, approved_by TEXT NOT NULL,"
	 "  previous_hash TEXT, new_hash TEXT NOT NULL, rules_path TEXT NOT NULL, note TEXT);"
	 "ALTER TABLE backups ADD COLUMN sha256 TEXT;"},
};
_Static_assert(sizeof migrations / sizeof migrations[0] == ARK_CORE_SCHEMA_VERSION,
	       "ARK_CORE_SCHEMA_VERSION is the number of migrations");

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int ark_core_identify(sqlite3 *db, const char *path, int *version, bool *empty, struct ark_err *err)
{
	int app = 0, uv = 0, objects = 0, has_migrations = 0;
	int rc = pragma_int(db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK)
		rc = pragma_int(db, "PRAGMA user_version", &uv);
	if (rc == SQLITE_OK)
		rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
	if (rc == SQLITE_OK)
		rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='schema_migrations'",
				&has_migrations);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_NOTADB)
			return ark_err_set(err, -EPROTOTYPE, "'%s' is not an SQLite database (%s)", path,
					   sqlite3_errmsg(db));
		return ark_err_set(err, -EBADMSG, "cannot read '%s': %s", path, sqlite3_errmsg(db));
	}
	*empty = objects == 0 && app == 0 && uv == 0;
	*version = uv;
	if (*empty)
		return 0;
	if (app != ARK_CORE_APPLICATION_ID || !has_migrations)
		return ark_err_set(err, -EPROTOTYPE,
				   "'%s' is an SQLite database but not ARK's (application_id 0x%x, %s)",
				   path, (unsigned)app,
				   has_migrations ? "has schema_migrations" : "no schema_migrations table");
	if (uv > ARK_CORE_SCHEMA_VERSION)
		return ark_err_set(err, -EPROTOTYPE,
				   "'%s' has ARK schema version %d, newer than this build's %d: upgrade ARK first",
				   path, uv, ARK_CORE_SCHEMA_VERSION);
	if (uv < 1)
		return ark_err_set(err, -EPROTOTYPE, "'%s' is marked as ARK's but has no schema version",
				   path);
	return 0;
}

int ark_core_integrity(sqlite3 *db, const char *path, bool quick, struct ark_err *err)
{
	sqlite3_stmt *st;
	const char *sql = quick ? "PRAGMA quick_check" : "PRAGMA integrity_check";
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return ark_err_set(err, -EUCLEAN, "'%s' failed %s: %s", path, sql + 7, sqlite3_errmsg(db));
	char first[256] = "";
	int rows = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		if (rows++ == 0)
			snprintf(first, sizeof first, "%s", t ? (const char *)t : "");
	}
	if (rc != SQLITE_DONE) {
		int code = sqlite3_errcode(db);
		snprintf(first, sizeof first, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		if (code == SQLITE_NOTADB)
			return ark_err_set(err, -EPROTOTYPE, "'%s' is not an SQLite database (%s)", path, first);
		return ark_err_set(err, -EUCLEAN, "'%s' failed %s: %s", path, sql + 7, first);
	}
	sqlite3_finalize(st);
	if (rows != 1 || strcmp(first, "ok") != 0)
		return ark_err_set(err, -EUCLEAN, "'%s' failed %s (%d problem%s), first: %s", path,
				   sql + 7, rows, rows == 1 ? "" : "s", first);
	return 0;
}

int ark_core_migrate(struct ark_core *core, int *applied, struct ark_err *err)
{
	*applied = 0;
	for (size_t i = 0; i < ARK_ARRAY_LEN(migrations); i++) {
		const struct migration *m = &migrations[i];
		if (m->version <= core->schema_version)
			continue;
		int rc = ark_core_exec(core->db, "BEGIN IMMEDIATE", "begin migration", err);
		if (rc)
			return rc;
		char sql[512];
		if ((rc = ark_core_exec(core->db, m->sql, m->name, err)))
			goto fail;
		snprintf(sql, sizeof sql,
			 "INSERT INTO schema_migrations(version, name, applied_at_ns) VALUES (%d, '%s', %llu);"
			 "INSERT INTO metadata(key, value, updated_at_ns) VALUES ('schema_version', '%d', %llu)"
			 "  ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at_ns = excluded.updated_at_ns;"
			 "PRAGMA user_version = %d; PRAGMA application_id = %d;",
			 m->version, m->name, (unsigned long long)ark_realtime_ns(), m->version,
			 (unsigned long long)ark_realtime_ns(), m->version, ARK_CORE_APPLICATION_ID);
		if ((rc = ark_core_exec(core->db, sql, "record migration", err)))
			goto fail;
		if ((rc = ark_core_exec(core->db, "COMMIT", "commit migration", err)))
			goto fail;
		core->schema_version = m->version;
		(*applied)++;
		continue;
fail:
		ark_core_exec(core->db, "ROLLBACK", "rollback", NULL);
		return ark_err_wrap(err, "migration %d (%s)", m->version, m->name);
	}
	return 0;
}
