/* tests/store/test_store_guard.c — restores that cannot carry code or
 * silence the record (issue 22, point 2):
 *   inert     triggers added to a live Mutable Core by another program (the
 *             issue's four: a DELETE after each denial, orders rewritten to
 *             0.001 "canceled", the graveyard hash pinned, fills copied to a
 *             table of its own) never fire in ARK's connections: the rows
 *             ARK writes read back as written
 *   foreign   the same database as a backup is refused by restore, every
 *             foreign object named (and an altered table, a view, an index);
 *             ARK's own backup of a clean database is accepted
 * (The backups here are made by the test, without a checksum manifest:
 * restored with ARK_RESTORE_UNVERIFIED; the checksum is store_backup's.)
 *   pairing   a backup applied up to seq 6000 onto an empty journal is
 *             refused (-ESTALE), nothing replaced; with the re-base option it
 *             is restored, paired with this journal (metadata journal_id and
 *             journal_rebase) and the journal's numbering continues after
 *             6000 (journal/BASE); a backup of another journal is refused
 *             even when it is not ahead; one of this journal, not ahead, is
 *             restored without any option */
#include "store_test.h"

#include <sqlite3.h>

static struct ark_store_config cfg;

static void exec_raw(const char *path, const char *sql)
{
	/* Another program: a plain connection, no defensive settings. */
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
	char *msg = NULL;
	CHECK_MSG(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg);
	sqlite3_close(db);
}

static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK_MSG(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void query_text(const char *path, const char *sql, char *out, size_t cap)
{
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	sqlite3_stmt *st;
	CHECK_MSG(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
	out[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void make_core(const char *path, uint64_t applied_seq, const char *journal_id)
{
	struct ark_store_config c = cfg;
	snprintf(c.state_db, sizeof c.state_db, "%s", path);
	struct ark_core *core;
	struct ark_err err = {0};
	CHECK_MSG(ark_core_open(&core, &c, ARK_CORE_NO_CHECKPOINTER, NULL, &err) == 0, "%s", err.msg);
	CHECK(ark_core_set_journal_applied_seq(core, applied_seq, &err) == 0);
	if (journal_id)
		CHECK(ark_core_meta_set(core, "journal_id", journal_id, &err) == 0);
	ark_core_close(core);
}

static const char *const triggers =
	"CREATE TRIGGER wipe_denials AFTER INSERT ON hrm_denials BEGIN DELETE FROM hrm_denials WHERE trace_id = new.trace_id; END;"
	"CREATE TRIGGER cancel_orders AFTER INSERT ON orders BEGIN"
	"  UPDATE orders SET qty = 0.001, status = 'canceled' WHERE trace_id = new.trace_id; END;"
	"CREATE TRIGGER pin_hash AFTER UPDATE ON metadata WHEN new.key = 'graveyard_hash' BEGIN"
	"  UPDATE metadata SET value = 'forged' WHERE key = 'graveyard_hash'; END;"
	"CREATE TABLE fills_copy(trace_id INTEGER, qty REAL);"
	"CREATE TRIGGER copy_fills AFTER INSERT ON fills BEGIN INSERT INTO fills_copy VALUES (new.trace_id, new.qty); END;";

static void test_inert(const char *dir, char *tampered, size_t cap)
{
	snprintf(tampered, cap, "%s/tampered.db", dir);
	make_core(tampered, 10, NULL);
	exec_raw(tampered, triggers);
	/* ARK's connection to the tampered file: the triggers stay inert. */
	struct ark_store_config c = cfg;
	snprintf(c.state_db, sizeof c.state_db, "%s", tampered);
	struct ark_core *core;
	struct ark_err err = {0};
	CHECK_MSG(ark_core_open(&core, &c, ARK_CORE_NO_CHECKPOINTER, NULL, &err) == 0, "%s", err.msg);
	struct ark_core_denial d = {.trace_id = 7, .seq = 7, .symbol = "AAPL", .rule = "3", .reason_code = 3,
				    .reason = "max_quantity", .denied_ns = 1};
	struct ark_core_order o = {.trace_id = 8, .seq = 8, .symbol = "MSFT", .side = ARK_CORE_SIDE_BUY, .qty = 100,
				   .limit_price = 10, .status = "filled", .created_ns = 1};
	struct ark_core_fill f = {.trace_id = 8, .seq = 8, .qty = 100, .price = 10, .venue = "paper", .filled_ns = 1};
	CHECK(ark_core_insert_denials(core, &d, 1, &err) == 0);
	CHECK(ark_core_insert_orders(core, &o, 1, &err) == 0);
	CHECK(ark_core_insert_fills(core, &f, 1, &err) == 0);
	CHECK(ark_core_meta_set(core, "graveyard_hash", "aaaa", &err) == 0);
	CHECK(ark_core_meta_set(core, "graveyard_hash", "bbbb", &err) == 0);
	ark_core_close(core);
	CHECK_MSG(query_int(tampered, "SELECT count(*) FROM hrm_denials WHERE trace_id = 7") == 1, "the denial was deleted");
	CHECK_MSG(query_int(tampered, "SELECT count(*) FROM orders WHERE trace_id = 8 AND qty = 100 AND status = 'filled'") == 1,
		  "the order was rewritten");
	CHECK_MSG(query_int(tampered, "SELECT count(*) FROM fills_copy") == 0, "a fill was copied");
	char hash[64];
	query_text(tampered, "SELECT value FROM metadata WHERE key = 'graveyard_hash'", hash, sizeof hash);
	CHECK_MSG(strcmp(hash, "bbbb") == 0, "the recorded hash is %s", hash);
	/* Any ARK connection, not only the core's: */
	sqlite3 *db;
	CHECK(ark_store_sqlite_open(tampered, SQLITE_OPEN_READWRITE, &db, &err) == 0);
	CHECK(sqlite3_exec(db, "INSERT INTO hrm_denials VALUES (9, 9, 'X', '1', 1, 'halted', 1)", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET sql = 'x' WHERE name = 'orders'", NULL, NULL,
			   NULL) != SQLITE_OK);   /* defensive: the schema is not writable */
	sqlite3_close(db);
	CHECK(query_int(tampered, "SELECT count(*) FROM hrm_denials WHERE trace_id = 9") == 1);
	printf("inert: ok\n");
}

static void expect_foreign(const char *path, const char *const *names)
{
	int version;
	struct ark_err err = {0};
	enum ark_backup_check c = ark_store_backup_check(path, &version, &err);
	CHECK_MSG(c == ARK_BACKUP_FOREIGN, "%s: %s (%s)", path, ark_backup_check_name(c), err.msg);
	for (; *names; names++)
		CHECK_MSG(strstr(err.msg, *names), "the refusal does not name %s: %s", *names, err.msg);
	struct ark_restore_result res;
	struct ark_store_config c2 = cfg;
	snprintf(c2.state_db, sizeof c2.state_db, "%s.target", path);
	CHECK(ark_store_restore(&c2, path, ARK_RESTORE_UNVERIFIED, &res, &err) == -EPROTOTYPE);
	CHECK_MSG(access(c2.state_db, F_OK) != 0, "a refused backup was put in place");
	printf("  refused: %s\n", err.msg);
}

static void test_foreign(const char *dir, const char *tampered)
{
	static const char *const tampered_names[] = {"trigger wipe_denials (on hrm_denials)", "trigger cancel_orders (on orders)",
						     "trigger pin_hash (on metadata)", "trigger copy_fills (on fills)",
						     "table fills_copy", NULL};
	expect_foreign(tampered, tampered_names);
	char path[600];
	snprintf(path, sizeof path, "%s/altered.db", dir);
	make_core(path, 1, NULL);
	exec_raw(path, "ALTER TABLE orders ADD COLUMN note TEXT; CREATE VIEW everything AS SELECT * FROM orders;"
		       "CREATE INDEX orders_by_symbol ON orders(symbol); DROP INDEX backups_by_time;");
	static const char *const altered_names[] = {"view everything", "index orders_by_symbol (on orders)",
						    "altered: table orders", "missing: index backups_by_time (on backups)", NULL};
	expect_foreign(path, altered_names);
	/* ARK's own, untouched: accepted. */
	snprintf(path, sizeof path, "%s/clean.db", dir);
	make_core(path, 1, NULL);
	int version;
	struct ark_err err = {0};
	CHECK_MSG(ark_store_backup_check(path, &version, &err) == ARK_BACKUP_OK, "%s", err.msg);
	CHECK_EQ_U64(version, ARK_CORE_SCHEMA_VERSION);
	printf("foreign: ok\n");
}

static uint64_t base_of(void)
{
	uint64_t base;
	struct ark_err err = {0};
	CHECK(ark_journal_base_seq(cfg.journal_dir, &base, &err) == 0);
	return base;
}

static void test_pairing(const char *dir)
{
	struct ark_err err = {0};
	struct ark_restore_result res;
	char backup[600];
	/* A backup applied up to 6000; the journal is empty (lost with its disk). */
	snprintf(backup, sizeof backup, "%s/ahead.db", dir);
	make_core(backup, 6000, "0123456789abcdef0123456789abcdef");
	CHECK(ark_store_restore(&cfg, backup, ARK_RESTORE_UNVERIFIED, &res, &err) == -ESTALE);
	CHECK_CONTAINS(err.msg, "ahead of the journal");
	CHECK_CONTAINS(err.msg, "--rebase");
	CHECK_MSG(access(cfg.state_db, F_OK) != 0, "a refused backup was put in place");
	CHECK_EQ_U64(base_of(), 0);
	CHECK_MSG(ark_store_restore(&cfg, backup, ARK_RESTORE_UNVERIFIED | ARK_RESTORE_REBASE, &res, &err) == 0, "%s", err.msg);
	CHECK(res.rebased && res.backup_applied_seq == 6000);
	CHECK_EQ_U64(base_of(), 6000);
	char id[ARK_JOURNAL_ID_LEN + 1], recorded[64], note[300];
	CHECK(ark_journal_identity(cfg.journal_dir, false, id, &err) == 0);
	query_text(cfg.state_db, "SELECT value FROM metadata WHERE key = 'journal_id'", recorded, sizeof recorded);
	CHECK_MSG(strcmp(recorded, id) == 0, "journal_id %s, the journal is %s", recorded, id);
	query_text(cfg.state_db, "SELECT value FROM metadata WHERE key = 'journal_rebase'", note, sizeof note);
	CHECK_CONTAINS(note, "applied from journal 0123456789abcdef0123456789abcdef up to seq 6000");
	CHECK_MSG(query_int(cfg.state_db, "SELECT value FROM metadata WHERE key = 'journal_last_applied_seq'") == 6000, "applied seq changed");

	/* Now a journal with records 6001..6010 of this identity: a backup of
	 * another journal is refused though it is not ahead. */
	struct ark_journal *j;
	CHECK_MSG(ark_journal_open(&j, &cfg, NULL, &err) == 0, "%s", err.msg);
	for (uint64_t s = 6001; s <= 6010; s++)
		append_std(j, s);
	CHECK(ark_journal_close(j, &err) == 0);
	snprintf(backup, sizeof backup, "%s/other.db", dir);
	make_core(backup, 100, "fedcba9876543210fedcba9876543210");
	CHECK(ark_store_restore(&cfg, backup, ARK_RESTORE_UNVERIFIED, &res, &err) == -ESTALE);
	CHECK_CONTAINS(err.msg, "was applied from journal fedcba9876543210fedcba9876543210");
	/* One of this journal, not ahead: restored without any option. */
	snprintf(backup, sizeof backup, "%s/ours.db", dir);
	make_core(backup, 6005, id);
	CHECK_MSG(ark_store_restore(&cfg, backup, ARK_RESTORE_UNVERIFIED, &res, &err) == 0, "%s", err.msg);
	CHECK(!res.rebased && res.journal_last_seq == 6010);
	/* And one of this journal beyond its last record: refused. */
	snprintf(backup, sizeof backup, "%s/beyond.db", dir);
	make_core(backup, 6011, id);
	CHECK(ark_store_restore(&cfg, backup, ARK_RESTORE_UNVERIFIED, &res, &err) == -ESTALE);
	printf("pairing: ok\n");
}

int main(void)
{
	char dir[256], tampered[600];
	make_tmpdir(dir, sizeof dir, "guard");
	test_config(&cfg, dir);
	snprintf(cfg.instance, sizeof cfg.instance, "guard%d", (int)getpid());
	test_inert(dir, tampered, sizeof tampered);
	test_foreign(dir, tampered);
	test_pairing(dir);
	rm_rf(dir);
	printf("store guard: ok\n");
	return 0;
}
