/* tests/store/test_store_core.c — the Mutable Core: schema and migrations,
 * pragmas on open, batch writers and their atomicity, replays, the operator
 * tables and metadata, :memory:, refusal of foreign / newer / corrupt
 * databases at open, and the checkpointer reporting a starving reader. */
#include "store_test.h"

#include <sqlite3.h>

static char root[256];
static int starved_logs;

static void count_starved(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	if (strstr(msg, "starved"))
		starved_logs++;
}

static void cfg_for(struct ark_store_config *cfg, const char *name)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/%s", root, name);
	test_config(cfg, dir);
	cfg->log = quiet_log;
}

static struct ark_core *open_ok(const struct ark_store_config *cfg, struct ark_core_open_info *info)
{
	struct ark_err err = {0};
	struct ark_core *core;
	CHECK_MSG(ark_core_open(&core, cfg, 0, info, &err) == 0, "open: %s", err.msg);
	return core;
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	CHECK_MSG(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	CHECK_MSG(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *query_text(sqlite3 *db, const char *sql, char *buf, size_t cap)
{
	sqlite3_stmt *st;
	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

static void fill_orders(struct ark_core_order *o, size_t n, uint64_t first)
{
	for (size_t i = 0; i < n; i++) {
		memset(&o[i], 0, sizeof o[i]);
		o[i].trace_id = first + i;
		o[i].seq = first + i;
		snprintf(o[i].symbol, sizeof o[i].symbol, "SYM%zu", i % 7);
		o[i].side = i % 2 ? ARK_CORE_SIDE_SELL : ARK_CORE_SIDE_BUY;
		o[i].qty = 10.0 * (double)(i + 1);
		o[i].limit_price = 100.25;
		snprintf(o[i].status, sizeof o[i].status, "new");
		o[i].created_ns = 1700000000000000000ull + i;
	}
}

static void test_schema_and_pragmas(void)
{
	struct ark_store_config cfg;
	cfg_for(&cfg, "schema");
	struct ark_core_open_info info;
	struct ark_core *core = open_ok(&cfg, &info);
	CHECK_EQ_U64(info.schema_version_found, 0);
	CHECK_EQ_U64(info.migrations_applied, ARK_CORE_SCHEMA_VERSION);
	CHECK(strcmp(info.integrity, "ok") == 0);
	CHECK_EQ_U64(ark_core_schema_version(core), ARK_CORE_SCHEMA_VERSION);
	sqlite3 *db = ark_core_db(core);
	char buf[64];
	CHECK(strcmp(query_text(db, "PRAGMA journal_mode", buf, sizeof buf), "wal") == 0);
	CHECK_EQ_U64(query_int(db, "PRAGMA synchronous"), 1);
	CHECK_EQ_U64(query_int(db, "PRAGMA busy_timeout"), ARK_STORE_DEFAULT_BUSY_TIMEOUT_MS);
	CHECK_EQ_U64(query_int(db, "PRAGMA application_id"), ARK_CORE_APPLICATION_ID);
	CHECK_EQ_U64(query_int(db, "PRAGMA user_version"), ARK_CORE_SCHEMA_VERSION);
	CHECK_EQ_U64(query_int(db, "SELECT count(*) FROM schema_migrations"), ARK_CORE_SCHEMA_VERSION);
	struct ark_err err = {0};
	char v[64];
	CHECK(ark_core_meta_get(core, "schema_version", v, sizeof v, &err) == 0);
	CHECK_EQ_U64(strtoull(v, NULL, 10), ARK_CORE_SCHEMA_VERSION);
	ark_core_close(core);
	struct stat st;
	CHECK(stat(cfg.state_db, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 0777, 0600);

	/* ARK_DB_SYNCHRONOUS is applied on every open; reopening migrates nothing */
	cfg.db_synchronous = 2;
	core = open_ok(&cfg, &info);
	CHECK_EQ_U64(info.migrations_applied, 0);
	CHECK_EQ_U64(query_int(ark_core_db(core), "PRAGMA synchronous"), 2);
	/* an older database is migrated: undo migrations 2 and 3 by hand */
	CHECK(sqlite3_exec(ark_core_db(core),
			   "DROP INDEX agent_history_by_agent; DROP INDEX slo_snapshots_by_slo;"
			   "DROP INDEX backups_by_time; DROP VIEW denials_by_rule;"
			   "DROP TABLE graveyard_history; ALTER TABLE backups DROP COLUMN sha256;"
			   "DELETE FROM schema_migrations WHERE version IN (2, 3); PRAGMA user_version = 1;",
			   NULL, NULL, NULL) == SQLITE_OK);
	ark_core_close(core);
	core = open_ok(&cfg, &info);
	CHECK_EQ_U64(info.schema_version_found, 1);
	CHECK_EQ_U64(info.migrations_applied, 2);
	CHECK_EQ_U64(query_int(ark_core_db(core), "SELECT count(*) FROM sqlite_schema WHERE name = 'denials_by_rule'"), 1);
	CHECK_EQ_U64(query_int(ark_core_db(core), "SELECT count(*) FROM sqlite_schema WHERE name = 'graveyard_history'"), 1);
	ark_core_close(core);
}

static void test_writers(void)
{
	struct ark_store_config cfg;
	cfg_for(&cfg, "writers");
	struct ark_core *core = open_ok(&cfg, NULL);
	struct ark_err err = {0};
	static struct ark_core_order orders[1000];
	fill_orders(orders, 1000, 1);
	CHECK_MSG(ark_core_insert_orders(core, orders, 1000, &err) == 0, "%s", err.msg);
	uint64_t n;
	CHECK(ark_core_count(core, "orders", &n, &err) == 0);
	CHECK_EQ_U64(n, 1000);
	/* a replay upserts: no doubled orders, status updated */
	for (int i = 0; i < 1000; i++)
		snprintf(orders[i].status, sizeof orders[i].status, "sent");
	CHECK(ark_core_insert_orders(core, orders, 1000, &err) == 0);
	CHECK(ark_core_count(core, "orders", &n, &err) == 0);
	CHECK_EQ_U64(n, 1000);
	CHECK_EQ_U64(query_int(ark_core_db(core), "SELECT count(*) FROM orders WHERE status = 'sent'"), 1000);
	/* a bad row fails the whole batch, naming the row */
	fill_orders(orders, 10, 5000);
	orders[7].side = 3;
	CHECK(ark_core_insert_orders(core, orders, 10, &err) < 0);
	CHECK_CONTAINS(err.msg, "row 7 of 10");
	CHECK(ark_core_count(core, "orders", &n, &err) == 0);
	CHECK_EQ_U64(n, 1000);
	/* u64 trace ids survive the round trip */
	fill_orders(orders, 1, 0);
	orders[0].trace_id = UINT64_MAX - 5;
	CHECK(ark_core_insert_orders(core, orders, 1, &err) == 0);
	CHECK_EQ_U64((uint64_t)query_int(ark_core_db(core), "SELECT trace_id FROM orders WHERE seq = 0"),
		     UINT64_MAX - 5);

	/* explicit transactions: the batch and the applied seq move together */
	fill_orders(orders, 100, 10000);
	CHECK(ark_core_begin(core, &err) == 0);
	CHECK(ark_core_begin(core, &err) == -EINVAL);
	CHECK(ark_core_insert_orders(core, orders, 100, &err) == 0);
	CHECK(ark_core_set_journal_applied_seq(core, 10099, &err) == 0);
	ark_core_rollback(core);
	uint64_t applied;
	CHECK(ark_core_journal_applied_seq(core, &applied, &err) == 0);
	CHECK_EQ_U64(applied, 0);
	CHECK(ark_core_begin(core, &err) == 0);
	CHECK(ark_core_insert_orders(core, orders, 100, &err) == 0);
	CHECK(ark_core_set_journal_applied_seq(core, 10099, &err) == 0);
	CHECK(ark_core_commit(core, &err) == 0);
	CHECK(ark_core_journal_applied_seq(core, &applied, &err) == 0);
	CHECK_EQ_U64(applied, 10099);
	CHECK(ark_core_count(core, "orders", &n, &err) == 0);
	CHECK_EQ_U64(n, 1101);

	struct ark_core_fill fills[3] = {
		{.trace_id = 1, .seq = 1, .qty = 5, .price = 100.5, .venue = "SIM", .filled_ns = 1},
		{.trace_id = 1, .seq = 2, .qty = 5, .price = 100.6, .venue = "SIM", .filled_ns = 2},
		{.trace_id = 2, .seq = 3, .qty = 1, .price = 99, .venue = "SIM", .filled_ns = 3},
	};
	CHECK(ark_core_insert_fills(core, fills, 3, &err) == 0);
	CHECK(ark_core_insert_fills(core, fills, 3, &err) == 0); /* replay ignored */
	CHECK(ark_core_count(core, "fills", &n, &err) == 0);
	CHECK_EQ_U64(n, 3);
	struct ark_core_position pos[2] = {
		{.symbol = "AAPL", .qty = 10, .avg_price = 180, .realized_pnl = 0, .updated_ns = 1},
		{.symbol = "MSFT", .qty = -5, .avg_price = 400, .realized_pnl = 3, .updated_ns = 1},
	};
	CHECK(ark_core_upsert_positions(core, pos, 2, &err) == 0);
	pos[0].qty = 25;
	CHECK(ark_core_upsert_positions(core, pos, 1, &err) == 0);
	CHECK(ark_core_count(core, "positions", &n, &err) == 0);
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(query_int(ark_core_db(core), "SELECT qty FROM positions WHERE symbol = 'AAPL'"), 25);
	struct ark_core_denial den = {.trace_id = 77, .seq = 77, .symbol = "TSLA", .rule = "max_order_value",
				      .reason_code = 7, .reason = "order value above limit", .denied_ns = 5};
	CHECK(ark_core_insert_denials(core, &den, 1, &err) == 0);
	char buf[128];
	CHECK(strcmp(query_text(ark_core_db(core), "SELECT rule || '/' || reason_code || '/' || reason FROM hrm_denials",
				buf, sizeof buf), "max_order_value/7/order value above limit") == 0);
	CHECK_EQ_U64(query_int(ark_core_db(core), "SELECT denials FROM denials_by_rule WHERE rule = 'max_order_value'"), 1);

	CHECK(ark_core_record_agent_event(core, "joey", "restart", 1234, "heartbeat missed", 9, &err) == 0);
	CHECK(ark_core_record_agent_event(core, "joey", "exploded", 1, NULL, 9, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "exploded");
	CHECK(ark_core_record_slo_snapshot(core, "p95_latency", 400, 0.12, 300, true, 10, &err) == 0);
	CHECK(ark_core_record_canary_run(core, 1, 2, "pass", 1000, 35.5, "{}", &err) == 0);
	CHECK(ark_core_meta_set(core, "graveyard_hash", "sha256:abc", &err) == 0);
	CHECK(ark_core_meta_get(core, "graveyard_hash", buf, sizeof buf, &err) == 0);
	CHECK(strcmp(buf, "sha256:abc") == 0);
	CHECK(ark_core_meta_get(core, "nope", buf, sizeof buf, &err) == -ENOENT);
	CHECK(ark_core_count(core, "sqlite_schema; DROP TABLE orders", &n, &err) == -EINVAL);
	uint64_t c1, c2, c3;
	CHECK(ark_core_count(core, "agent_history", &c1, &err) == 0);
	CHECK(ark_core_count(core, "slo_snapshots", &c2, &err) == 0);
	CHECK(ark_core_count(core, "canary_runs", &c3, &err) == 0);
	CHECK(c1 == 1 && c2 == 1 && c3 == 1);
	ark_core_close(core);

	/* :memory: works the same */
	struct ark_store_config mem;
	cfg_for(&mem, "memory");
	snprintf(mem.state_db, sizeof mem.state_db, ":memory:");
	core = open_ok(&mem, NULL);
	fill_orders(orders, 50, 1);
	CHECK(ark_core_insert_orders(core, orders, 50, &err) == 0);
	CHECK(ark_core_count(core, "orders", &n, &err) == 0);
	CHECK_EQ_U64(n, 50);
	CHECK(ark_core_checkpoint(core, true, &err) == 0);
	ark_core_close(core);
}

static void test_refusals(void)
{
	struct ark_err err = {0};
	struct ark_core *core;
	/* a foreign SQLite database is refused and left untouched */
	struct ark_store_config cfg;
	cfg_for(&cfg, "foreign");
	CHECK(ark_store_mkdirs(cfg.data_dir, &err) == 0);
	sqlite3 *db;
	CHECK(sqlite3_open(cfg.state_db, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE recipes(name TEXT); INSERT INTO recipes VALUES ('soup');", NULL,
			   NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(ark_core_open(&core, &cfg, 0, NULL, &err) == -EPROTOTYPE);
	CHECK_CONTAINS(err.msg, "not ARK's");
	uint8_t hdr[20];
	FILE *f = fopen(cfg.state_db, "rb");
	CHECK(fread(hdr, 1, sizeof hdr, f) == sizeof hdr);
	fclose(f);
	CHECK_EQ_U64(hdr[18], 1); /* still in rollback-journal mode: not switched to WAL */

	/* not SQLite at all */
	cfg_for(&cfg, "text");
	CHECK(ark_store_mkdirs(cfg.data_dir, &err) == 0);
	f = fopen(cfg.state_db, "w");
	fputs("this is not a database, it is a shopping list with enough text to fill a header......", f);
	fclose(f);
	CHECK(ark_core_open(&core, &cfg, 0, NULL, &err) == -EPROTOTYPE);
	CHECK_CONTAINS(err.msg, "not an SQLite database");

	/* a newer schema than this build */
	cfg_for(&cfg, "newer");
	core = open_ok(&cfg, NULL);
	CHECK(sqlite3_exec(ark_core_db(core), "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
	ark_core_close(core);
	CHECK(ark_core_open(&core, &cfg, 0, NULL, &err) == -EPROTOTYPE);
	CHECK_CONTAINS(err.msg, "newer");

	/* corruption found by integrity_check stops the open with a clear message */
	cfg_for(&cfg, "corrupt");
	core = open_ok(&cfg, NULL);
	static struct ark_core_order orders[2000];
	fill_orders(orders, 2000, 1);
	CHECK(ark_core_insert_orders(core, orders, 2000, &err) == 0);
	CHECK(ark_core_checkpoint(core, true, &err) == 0);
	int64_t pages = query_int(ark_core_db(core), "PRAGMA page_count");
	int64_t psize = query_int(ark_core_db(core), "PRAGMA page_size");
	ark_core_close(core);
	CHECK(pages > 20);
	/* scribble over the middle of a b-tree page (not its header) */
	uint8_t junk[512];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	write_at(cfg.state_db, (uint64_t)((pages / 2) * psize + 16), junk, 8);
	write_at(cfg.state_db, (uint64_t)((pages / 2 + 1) * psize + 8), junk, sizeof junk);
	int rc = ark_core_open(&core, &cfg, 0, NULL, &err);
	CHECK_MSG(rc == -EUCLEAN, "corrupt database opened: rc %d %s", rc, err.msg);
	CHECK_CONTAINS(err.msg, "integrity");
	CHECK_CONTAINS(err.msg, "ark restore");
}

static void test_checkpointer(void)
{
	struct ark_store_config cfg;
	cfg_for(&cfg, "checkpoint");
	cfg.db_wal_max_bytes = 1 << 20; /* 256 pages */
	cfg.log = count_starved;
	struct ark_core *core = open_ok(&cfg, NULL);
	struct ark_err err = {0};
	static struct ark_core_order orders[500];
	uint64_t trace = 1;
	/* without readers the WAL stays bounded */
	for (int i = 0; i < 40; i++) {
		fill_orders(orders, 500, trace);
		trace += 500;
		CHECK(ark_core_insert_orders(core, orders, 500, &err) == 0);
		int rc = ark_core_checkpoint(core, false, &err);
		CHECK_MSG(rc == 0, "checkpoint: %s", err.msg);
	}
	struct ark_core_checkpoint_stats st;
	ark_core_get_checkpoint_stats(core, &st);
	CHECK(st.checkpoints > 0);
	CHECK_EQ_U64(st.starved, 0);
	CHECK_MSG(st.wal_bytes <= 2 * cfg.db_wal_max_bytes, "WAL %llu bytes", (unsigned long long)st.wal_bytes);

	/* a reader holding an old snapshot starves it: reported, not waited for */
	sqlite3 *reader;
	CHECK(sqlite3_open(cfg.state_db, &reader) == SQLITE_OK);
	CHECK(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM orders;", NULL, NULL, NULL) == SQLITE_OK);
	int starved_rc = 0;
	uint64_t t0 = ark_now_ns();
	for (int i = 0; i < 40; i++) {
		fill_orders(orders, 500, trace);
		trace += 500;
		CHECK(ark_core_insert_orders(core, orders, 500, &err) == 0);
		int rc = ark_core_checkpoint(core, false, &err);
		if (rc == -EAGAIN)
			starved_rc++;
	}
	CHECK_MSG(ark_now_ns() - t0 < 3000000000ull, "writer waited for the reader");
	ark_core_get_checkpoint_stats(core, &st);
	CHECK(starved_rc > 0);
	CHECK(st.starved > 0);
	CHECK_CONTAINS(err.msg, "starved");
	CHECK_EQ_U64(starved_logs, 1); /* logged once, rate-limited */
	CHECK(st.wal_bytes > cfg.db_wal_max_bytes);
	/* the reader goes: the next checkpoint catches up and the WAL shrinks */
	CHECK(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(reader);
	CHECK_MSG(ark_core_checkpoint(core, true, &err) == 0, "%s", err.msg);
	ark_core_get_checkpoint_stats(core, &st);
	CHECK_EQ_U64(st.wal_bytes, 0);
	ark_core_close(core);
}

int main(void)
{
	make_tmpdir(root, sizeof root, "core");
	test_schema_and_pragmas();
	test_writers();
	test_refusals();
	test_checkpointer();
	rm_rf(root);
	printf("test_store_core: ok\n");
	return 0;
}
