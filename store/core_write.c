/* store/core_write.c — the Mutable Core's writers: batch inserts for orders,
 * fills, positions and denials (one persistent prepared statement each,
 * inside the caller's BEGIN IMMEDIATE transaction or one of their own), the
 * operator tables, metadata and counts.
 *
 * Invariant: a batch is all or nothing — a failing row rolls back the
 * transaction the function opened, or leaves the caller's transaction for
 * the caller to roll back (the error says which row). Replays are safe:
 * orders upsert by trace id, fills and denials ignore a row they have. */
#include "store/core_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int bind_text(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
	return sqlite3_bind_text(st, i, s, (int)strnlen(s, cap), SQLITE_STATIC);
}

typedef int (*bind_row_fn)(sqlite3_stmt *st, const void *row);

static int run_batch(struct ark_core *core, enum ark_core_stmt which, const void *rows, size_t size,
		     size_t n, bind_row_fn bind, const char *what, struct ark_err *err)
{
	if (core->flags & ARK_CORE_READONLY)
		return ark_err_set(err, -EROFS, "Mutable Core opened read-only");
	int rc = ark_core_prepare(core, which, err);
	if (rc)
		return rc;
	bool own = !core->in_tx;
	if (own && (rc = ark_core_begin(core, err)))
		return rc;
	sqlite3_stmt *st = core->st[which];
	for (size_t i = 0; i < n; i++) {
		int src = bind(st, (const char *)rows + i * size);
		if (src == SQLITE_OK)
			src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src != SQLITE_DONE) {
			char ctx[96];
			snprintf(ctx, sizeof ctx, "%s: row %zu of %zu", what, i, n);
			rc = ark_core_sql_error(core, err, src, ctx);
			if (own)
				ark_core_rollback(core);
			return rc;
		}
	}
	sqlite3_clear_bindings(st);
	if (own)
		return ark_core_commit(core, err);
	return 0;
}

static int bind_order(sqlite3_stmt *st, const void *p)
{
	const struct ark_core_order *o = p;
	if (o->side != ARK_CORE_SIDE_BUY && o->side != ARK_CORE_SIDE_SELL)
		return SQLITE_CONSTRAINT;
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)o->trace_id);
	rc |= sqlite3_bind_int64(st, 2, (sqlite3_int64)o->seq);
	rc |= bind_text(st, 3, o->symbol, sizeof o->symbol);
	rc |= sqlite3_bind_int(st, 4, o->side);
	rc |= sqlite3_bind_double(st, 5, o->qty);
	rc |= sqlite3_bind_double(st, 6, o->limit_price);
	rc |= bind_text(st, 7, o->status[0] ? o->status : "new", sizeof o->status);
	rc |= sqlite3_bind_int64(st, 8, (sqlite3_int64)o->created_ns);
	return rc;
}

static int bind_fill(sqlite3_stmt *st, const void *p)
{
	const struct ark_core_fill *f = p;
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)f->trace_id);
	rc |= sqlite3_bind_int64(st, 2, (sqlite3_int64)f->seq);
	rc |= sqlite3_bind_double(st, 3, f->qty);
	rc |= sqlite3_bind_double(st, 4, f->price);
	rc |= bind_text(st, 5, f->venue, sizeof f->venue);
	rc |= sqlite3_bind_int64(st, 6, (sqlite3_int64)f->filled_ns);
	return rc;
}

static int bind_position(sqlite3_stmt *st, const void *p)
{
	const struct ark_core_position *x = p;
	int rc = bind_text(st, 1, x->symbol, sizeof x->symbol);
	rc |= sqlite3_bind_double(st, 2, x->qty);
	rc |= sqlite3_bind_double(st, 3, x->avg_price);
	rc |= sqlite3_bind_double(st, 4, x->realized_pnl);
	rc |= sqlite3_bind_int64(st, 5, (sqlite3_int64)x->updated_ns);
	return rc;
}

static int bind_denial(sqlite3_stmt *st, const void *p)
{
	const struct ark_core_denial *d = p;
	int rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)d->trace_id);
	rc |= sqlite3_bind_int64(st, 2, (sqlite3_int64)d->seq);
	rc |= bind_text(st, 3, d->symbol, sizeof d->symbol);
	rc |= bind_text(st, 4, d->rule, sizeof d->rule);
	rc |= sqlite3_bind_int64(st, 5, d->reason_code);
	rc |= bind_text(st, 6, d->reason, sizeof d->reason);
	rc |= sqlite3_bind_int64(st, 7, (sqlite3_int64)d->denied_ns);
	return rc;
}

int ark_core_insert_orders(struct ark_core *core, const struct ark_core_order *rows, size_t n,
			   struct ark_err *err)
{
	return run_batch(core, ST_ORDER, rows, sizeof *rows, n, bind_order, "insert orders", err);
}

int ark_core_insert_fills(struct ark_core *core, const struct ark_core_fill *rows, size_t n,
			  struct ark_err *err)
{
	return run_batch(core, ST_FILL, rows, sizeof *rows, n, bind_fill, "insert fills", err);
}

int ark_core_upsert_positions(struct ark_core *core, const struct ark_core_position *rows, size_t n,
			      struct ark_err *err)
{
	return run_batch(core, ST_POSITION, rows, sizeof *rows, n, bind_position, "upsert positions", err);
}

int ark_core_insert_denials(struct ark_core *core, const struct ark_core_denial *rows, size_t n,
			    struct ark_err *err)
{
	return run_batch(core, ST_DENIAL, rows, sizeof *rows, n, bind_denial, "insert denials", err);
}

/* One-row writers for the operator tables share this. */
static int run_one(struct ark_core *core, enum ark_core_stmt which, const char *what, struct ark_err *err)
{
	sqlite3_stmt *st = core->st[which];
	int src = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (src != SQLITE_DONE)
		return ark_core_sql_error(core, err, src, what);
	return 0;
}

int ark_core_record_agent_event(struct ark_core *core, const char *agent, const char *event, int pid,
				const char *reason, uint64_t at_ns, struct ark_err *err)
{
	static const char *events[] = {"start", "restart", "quarantine", "release", "stop", "crash"};
	bool known = false;
	for (size_t i = 0; event && i < ARK_ARRAY_LEN(events); i++)
		known |= strcmp(event, events[i]) == 0;
	if (!known)
		return ark_err_set(err, -EINVAL,
				   "agent event '%s': expected start, restart, quarantine, release, stop or crash",
				   event ? event : "");
	if (!agent || !*agent)
		return ark_err_set(err, -EINVAL, "agent event: agent name is empty");
	int rc = ark_core_prepare(core, ST_AGENT, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = core->st[ST_AGENT];
	sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
	if (pid > 0)
		sqlite3_bind_int(st, 3, pid);
	if (reason)
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)at_ns);
	return run_one(core, ST_AGENT, "record agent event", err);
}

int ark_core_record_slo_snapshot(struct ark_core *core, const char *slo, double target, double value,
				 uint64_t window_s, bool met, uint64_t taken_ns, struct ark_err *err)
{
	if (!slo || !*slo)
		return ark_err_set(err, -EINVAL, "SLO snapshot: SLO name is empty");
	int rc = ark_core_prepare(core, ST_SLO, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = core->st[ST_SLO];
	sqlite3_bind_text(st, 1, slo, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, target);
	sqlite3_bind_double(st, 3, value);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)window_s);
	sqlite3_bind_int(st, 5, met ? 1 : 0);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)taken_ns);
	return run_one(core, ST_SLO, "record SLO snapshot", err);
}

int ark_core_record_canary_run(struct ark_core *core, uint64_t started_ns, uint64_t finished_ns,
			       const char *outcome, uint64_t events, double p95_us, const char *detail,
			       struct ark_err *err)
{
	if (!outcome || !*outcome)
		return ark_err_set(err, -EINVAL, "canary run: outcome is empty");
	int rc = ark_core_prepare(core, ST_CANARY, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = core->st[ST_CANARY];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)started_ns);
	if (finished_ns)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)finished_ns);
	sqlite3_bind_text(st, 3, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)events);
	sqlite3_bind_double(st, 5, p95_us);
	if (detail)
		sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	return run_one(core, ST_CANARY, "record canary run", err);
}

int ark_core_meta_set(struct ark_core *core, const char *key, const char *value, struct ark_err *err)
{
	if (!key || !*key || !value)
		return ark_err_set(err, -EINVAL, "metadata: key and value are required");
	int rc = ark_core_prepare(core, ST_META_SET, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = core->st[ST_META_SET];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ark_realtime_ns());
	return run_one(core, ST_META_SET, "set metadata", err);
}

int ark_core_meta_get(struct ark_core *core, const char *key, char *value, size_t cap,
		      struct ark_err *err)
{
	int rc = ark_core_prepare(core, ST_META_GET, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = core->st[ST_META_GET];
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int src = sqlite3_step(st);
	if (src == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(value, cap, "%s", t ? (const char *)t : "");
		rc = 0;
	} else if (src == SQLITE_DONE) {
		rc = ark_err_set(err, -ENOENT, "metadata: no key '%s'", key);
	} else {
		rc = ark_core_sql_error(core, err, src, "get metadata");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int ark_core_set_journal_applied_seq(struct ark_core *core, uint64_t seq, struct ark_err *err)
{
	char v[32];
	snprintf(v, sizeof v, "%" PRIu64, seq);
	return ark_core_meta_set(core, "journal_last_applied_seq", v, err);
}

int ark_core_journal_applied_seq(struct ark_core *core, uint64_t *seq, struct ark_err *err)
{
	char v[64];
	int rc = ark_core_meta_get(core, "journal_last_applied_seq", v, sizeof v, err);
	if (rc == -ENOENT) {
		*seq = 0;
		return 0;
	}
	if (rc)
		return rc;
	return ark_parse_u64(v, 0, UINT64_MAX, "metadata journal_last_applied_seq", seq, err);
}

int ark_core_graveyard_hash(struct ark_core *core, char hex[72], struct ark_err *err)
{
	return ark_core_meta_get(core, "graveyard_hash", hex, 72, err);
}

int ark_core_graveyard_approve(struct ark_core *core, const char *new_hash, const char *approved_by,
			       const char *rules_path, const char *note, struct ark_err *err)
{
	if (!new_hash || strlen(new_hash) != 64 || !approved_by || !*approved_by || !rules_path)
		return ark_err_set(err, -EINVAL, "graveyard approval: a 64-digit hash, who approves and the file are required");
	bool own_tx = !core->in_tx;
	int rc = own_tx ? ark_core_begin(core, err) : 0;
	if (rc)
		return rc;
	char previous[72] = "";
	struct ark_err ignore;
	bool had = ark_core_graveyard_hash(core, previous, &ignore) == 0;
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(core->db,
				     "INSERT INTO graveyard_history(approved_ns, approved_by, previous_hash, new_hash, rules_path, note)"
				     " VALUES (?, ?, ?, ?, ?, ?)",
				     -1, &st, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)ark_realtime_ns());
		sqlite3_bind_text(st, 2, approved_by, -1, SQLITE_STATIC);
		if (had)
			sqlite3_bind_text(st, 3, previous, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_text(st, 4, new_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, rules_path, -1, SQLITE_STATIC);
		if (note)
			sqlite3_bind_text(st, 6, note, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 6);
		src = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		rc = ark_core_sql_error(core, err, src, "record the graveyard approval");
	if (!rc)
		rc = ark_core_meta_set(core, "graveyard_hash", new_hash, err);
	if (own_tx) {
		if (rc)
			ark_core_rollback(core);
		else
			rc = ark_core_commit(core, err);
	}
	return rc;
}

int ark_core_count(struct ark_core *core, const char *table, uint64_t *count, struct ark_err *err)
{
	static const char *tables[] = {"orders", "fills", "positions", "hrm_denials", "agent_history",
				       "slo_snapshots", "canary_runs", "backups", "metadata",
				       "schema_migrations", "graveyard_history"};
	bool ok = false;
	for (size_t i = 0; table && i < ARK_ARRAY_LEN(tables); i++)
		ok |= strcmp(table, tables[i]) == 0;
	if (!ok)
		return ark_err_set(err, -EINVAL, "count: '%s' is not a Mutable Core table", table ? table : "");
	char sql[96];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	sqlite3_stmt *st;
	int src = sqlite3_prepare_v2(core->db, sql, -1, &st, NULL);
	if (src != SQLITE_OK)
		return ark_core_sql_error(core, err, src, "count");
	src = sqlite3_step(st);
	int rc = 0;
	if (src == SQLITE_ROW)
		*count = (uint64_t)sqlite3_column_int64(st, 0);
	else
		rc = ark_core_sql_error(core, err, src, "count");
	sqlite3_finalize(st);
	return rc;
}
