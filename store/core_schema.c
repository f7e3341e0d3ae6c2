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
#include <stdlib.h>

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

/* ---- The schema a file must have: exactly ARK's for its version ---- */

struct schema_object {
	char type[12];
	char name[96];
	char table[96];
	char *sql;           /* whitespace collapsed; NULL for automatic indexes */
};

struct schema {
	struct schema_object *o;
	size_t n, cap;
};

static void schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->o[i].sql);
	free(s->o);
	memset(s, 0, sizeof *s);
}

/* SQL with every run of whitespace one space, trimmed: the form two
 * CREATE statements are compared in. */
static char *normalise(const char *sql)
{
	if (!sql)
		return NULL;
	size_t n = strlen(sql);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	bool space = false;
	for (size_t i = 0; i < n; i++) {
		char c = sql[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			space = o > 0;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

static int schema_read(sqlite3 *db, struct schema *s, struct ark_err *err)
{
	memset(s, 0, sizeof *s);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name", -1, &st,
			       NULL) != SQLITE_OK)
		return ark_err_set(err, -EBADMSG, "cannot read the schema: %s", sqlite3_errmsg(db));
	int rc = 0, step;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 32;
			struct schema_object *o = realloc(s->o, cap * sizeof *o);
			if (!o) {
				rc = ark_err_set(err, -ENOMEM, "out of memory reading the schema");
				break;
			}
			s->o = o;
			s->cap = cap;
		}
		struct schema_object *o = &s->o[s->n++];
		memset(o, 0, sizeof *o);
		/* Names come from the file: text, bounded, printable. */
		const char *t = (const char *)sqlite3_column_text(st, 0), *name = (const char *)sqlite3_column_text(st, 1),
			   *table = (const char *)sqlite3_column_text(st, 2), *sql = (const char *)sqlite3_column_text(st, 3);
		ark_utf8_sanitize(o->type, ark_text_copy(o->type, sizeof o->type, t, SIZE_MAX));
		ark_utf8_sanitize(o->name, ark_text_copy(o->name, sizeof o->name, name, SIZE_MAX));
		ark_utf8_sanitize(o->table, ark_text_copy(o->table, sizeof o->table, table, SIZE_MAX));
		o->sql = normalise(sql);
		if (sql && !o->sql) {
			rc = ark_err_set(err, -ENOMEM, "out of memory reading the schema");
			break;
		}
	}
	if (!rc && step != SQLITE_DONE)
		rc = ark_err_set(err, -EBADMSG, "cannot read the schema: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (rc)
		schema_free(s);
	return rc;
}

static const struct schema_object *schema_find(const struct schema *s, const struct schema_object *like)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->o[i].type, like->type) == 0 && strcmp(s->o[i].name, like->name) == 0)
			return &s->o[i];
	return NULL;
}

static bool same_sql(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* "trigger t (on orders)" or "table x" into the list. */
static void name_object(char *list, size_t cap, const struct schema_object *o)
{
	size_t used = strlen(list);
	if (used + 4 >= cap)
		return;
	bool on = strcmp(o->type, "table") != 0 && strcmp(o->type, "view") != 0;
	snprintf(list + used, cap - used, "%s%s %.48s%s%.48s%s", used ? ", " : "", o->type, o->name, on ? " (on " : "",
		 on ? o->table : "", on ? ")" : "");
}

int ark_core_schema_check(sqlite3 *db, int version, const char *path, struct ark_err *err)
{
	if (version < 1 || version > ARK_CORE_SCHEMA_VERSION)
		return ark_err_set(err, -EPROTOTYPE, "'%s' has schema version %d, not one this build knows", path, version);
	/* What ARK creates at that version: the migrations, afresh. */
	sqlite3 *ref;
	int rc = ark_store_sqlite_open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &ref, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < ARK_ARRAY_LEN(migrations) && migrations[i].version <= version && !rc; i++)
		rc = ark_core_exec(ref, migrations[i].sql, migrations[i].name, err);
	struct schema want = {0}, have = {0};
	if (!rc)
		rc = schema_read(ref, &want, err);
	sqlite3_close_v2(ref);
	if (!rc)
		rc = schema_read(db, &have, err);
	if (rc) {
		schema_free(&want);
		return rc;
	}
	char foreign[320] = "", altered[160] = "", missing[160] = "";
	for (size_t i = 0; i < have.n; i++) {
		const struct schema_object *w = schema_find(&want, &have.o[i]);
		if (!w)
			name_object(foreign, sizeof foreign, &have.o[i]);
		else if (!same_sql(w->sql, have.o[i].sql) || strcmp(w->table, have.o[i].table) != 0)
			name_object(altered, sizeof altered, &have.o[i]);
	}
	for (size_t i = 0; i < want.n; i++)
		if (!schema_find(&have, &want.o[i]))
			name_object(missing, sizeof missing, &want.o[i]);
	schema_free(&want);
	schema_free(&have);
	if (!foreign[0] && !altered[0] && !missing[0])
		return 0;
	return ark_err_set(err, -EPROTOTYPE, "'%s' is not the schema ARK creates at v%d:%s%s%s%s%s%s", path, version,
			   foreign[0] ? " foreign objects: " : "", foreign, altered[0] ? "; altered: " : "", altered,
			   missing[0] ? "; missing: " : "", missing);
}
