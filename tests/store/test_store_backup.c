/* tests/store/test_store_backup.c — backups and restore: a backup taken while
 * another process keeps writing opens, passes integrity_check and holds a
 * consistent prefix of the writes (whole transactions, no holes, at least
 * what was committed before it began); names, modes and keep-N pruning;
 * restore refuses missing, empty, truncated, corrupt, foreign and newer files
 * and a running instance, each with a message that says which, and restores
 * a good one keeping the replaced database beside it. */
#include "store_test.h"
#include "shm/shm.h"

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#define TX_ROWS 100

static char root[256];

static void writer(const struct ark_store_config *cfg, _Atomic uint64_t *committed)
{
	/* A parent that fails a check exits at once: the writer must not
	 * outlive it (it would hold the test open until ctest's timeout). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(32);
	struct ark_err err = {0};
	struct ark_core *core;
	if (ark_core_open(&core, cfg, 0, NULL, &err) != 0) {
		fprintf(stderr, "writer: %s\n", err.msg);
		_exit(30);
	}
	struct ark_core_order rows[TX_ROWS];
	uint64_t next = 1;
	for (;;) {
		for (int i = 0; i < TX_ROWS; i++) {
			memset(&rows[i], 0, sizeof rows[i]);
			rows[i].trace_id = next + (uint64_t)i;
			rows[i].seq = next + (uint64_t)i;
			snprintf(rows[i].symbol, sizeof rows[i].symbol, "S%d", i % 9);
			rows[i].side = ARK_CORE_SIDE_BUY;
			rows[i].qty = 1;
			snprintf(rows[i].status, sizeof rows[i].status, "new");
		}
		if (ark_core_begin(core, &err) || ark_core_insert_orders(core, rows, TX_ROWS, &err) ||
		    ark_core_set_journal_applied_seq(core, next + TX_ROWS - 1, &err) || ark_core_commit(core, &err)) {
			fprintf(stderr, "writer: %s\n", err.msg);
			_exit(31);
		}
		next += TX_ROWS;
		atomic_store(committed, next - 1);
		ark_core_checkpoint(core, false, NULL);
	}
}

static int64_t q(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	CHECK_MSG(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t count_in(const char *path)
{
	sqlite3 *db;
	CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
	int64_t n = q(db, "SELECT count(*) FROM orders");
	sqlite3_close(db);
	return n;
}

static size_t count_backups(const char *dir)
{
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	size_t n = 0;
	struct dirent *e;
	uint64_t t;
	while ((e = readdir(d)))
		if (ark_store_backup_name_time(e->d_name, &t) == 0)
			n++;
	closedir(d);
	return n;
}

static void test_backup_under_writer(struct ark_store_config *cfg)
{
	struct ark_err err = {0};
	struct ark_core *core;
	CHECK(ark_core_open(&core, cfg, 0, NULL, &err) == 0); /* create it */
	ark_core_close(core);
	_Atomic uint64_t *committed = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(committed != MAP_FAILED);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		writer(cfg, committed);
	uint64_t deadline = ark_now_ns() + 20ull * 1000000000ull;
	uint64_t want = test_scaled(20000, 3000);
	while (atomic_load(committed) < want) {
		CHECK_MSG(ark_now_ns() < deadline, "writer too slow");
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	for (int round = 0; round < 3; round++) {
		uint64_t before = atomic_load(committed);
		struct ark_backup_result res;
		CHECK_MSG(ark_store_backup(cfg, &res, &err) == 0, "backup: %s", err.msg);
		uint64_t after = atomic_load(committed);
		CHECK_MSG(after > before, "the writer did not write during the backup (%llu)",
			  (unsigned long long)before);
		/* valid, ARK's, and a consistent prefix */
		int version;
		CHECK_MSG(ark_store_backup_check(res.path, &version, &err) == ARK_BACKUP_OK, "%s", err.msg);
		CHECK_EQ_U64(version, ARK_CORE_SCHEMA_VERSION);
		sqlite3 *db;
		CHECK(sqlite3_open_v2(res.path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
		int64_t n = q(db, "SELECT count(*) FROM orders");
		int64_t maxid = q(db, "SELECT max(trace_id) FROM orders");
		int64_t minid = q(db, "SELECT min(trace_id) FROM orders");
		int64_t applied = q(db, "SELECT CAST(value AS INTEGER) FROM metadata WHERE key = 'journal_last_applied_seq'");
		sqlite3_close(db);
		CHECK_EQ_U64(minid, 1);
		CHECK_EQ_U64(maxid, n);              /* no holes */
		CHECK_EQ_U64(n % TX_ROWS, 0);        /* whole transactions */
		CHECK_EQ_U64(applied, n);            /* metadata from the same instant */
		CHECK_MSG((uint64_t)n >= before && (uint64_t)n <= after,
			  "backup holds %lld rows; %llu committed before, %llu after", (long long)n,
			  (unsigned long long)before, (unsigned long long)after);
		struct stat st;
		CHECK(stat(res.path, &st) == 0);
		CHECK_EQ_U64(st.st_mode & 0777, 0600);
		char wal[PATH_MAX + 8];
		snprintf(wal, sizeof wal, "%s-wal", res.path);
		CHECK(access(wal, F_OK) != 0); /* standalone file */
		uint64_t t;
		const char *base = strrchr(res.path, '/') + 1;
		CHECK_MSG(ark_store_backup_name_time(base, &t) == 0, "bad name %s", base);
		CHECK(t / 1000000000ull + 5 >= ark_realtime_ns() / 1000000000ull);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	munmap((void *)committed, 4096);
	/* every backup is in the backups table */
	CHECK(ark_core_open(&core, cfg, 0, NULL, &err) == 0);
	uint64_t n;
	CHECK(ark_core_count(core, "backups", &n, &err) == 0);
	CHECK_EQ_U64(n, 3);
	ark_core_close(core);
}

static void test_names_and_keep(struct ark_store_config *cfg)
{
	char name[128];
	/* 2025-11-10T10:00:00Z */
	uint64_t t = 1762768800ull * 1000000000ull;
	CHECK(ark_store_backup_name(t, false, name, sizeof name) == 0);
	CHECK(strcmp(name, "ark_state_backup_2025-11-10T10:00:00Z.db") == 0);
	uint64_t back;
	CHECK(ark_store_backup_name_time(name, &back) == 0);
	CHECK_EQ_U64(back, t);
	CHECK(ark_store_backup_name(t + 123000000ull, true, name, sizeof name) == 0);
	CHECK(strcmp(name, "ark_state_backup_2025-11-10T10:00:00.123Z.db") == 0);
	CHECK(ark_store_backup_name_time(name, &back) == 0);
	CHECK_EQ_U64(back, t + 123000000ull);
	CHECK(ark_store_backup_name_time("ark_state_backup_yesterday.db", &back) != 0);

	/* five backups in quick succession (same second): unique names, newest 3 kept */
	struct ark_store_config c = *cfg;
	c.backup_keep = 3;
	size_t had = count_backups(c.backup_dir);
	struct ark_err err = {0};
	uint32_t pruned = 0;
	for (int i = 0; i < 5; i++) {
		struct ark_backup_result res;
		CHECK_MSG(ark_store_backup(&c, &res, &err) == 0, "%s", err.msg);
		pruned += res.pruned;
	}
	CHECK_EQ_U64(count_backups(c.backup_dir), 3);
	CHECK_EQ_U64(pruned, had + 5 - 3);
	struct ark_core *core;
	CHECK(ark_core_open(&core, &c, 0, NULL, &err) == 0);
	CHECK_EQ_U64(q(ark_core_db(core), "SELECT count(*) FROM backups WHERE pruned_ns IS NULL"), 3);
	ark_core_close(core);
}

static void newest_backup(const char *dir, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	uint64_t best = 0, t;
	struct dirent *e;
	while ((e = readdir(d)))
		if (ark_store_backup_name_time(e->d_name, &t) == 0 && t >= best) {
			best = t;
			snprintf(out, cap, "%.200s/%.100s", dir, e->d_name);
		}
	closedir(d);
}

static void expect_refused(const struct ark_store_config *cfg, const char *file, int code,
			   enum ark_backup_check kind, const char *words)
{
	struct ark_err err = {0};
	int version;
	if (kind != ARK_BACKUP_OK) {
		enum ark_backup_check got = ark_store_backup_check(file, &version, &err);
		CHECK_MSG(got == kind, "%s: check says %s, expected %s (%s)", file, ark_backup_check_name(got),
			  ark_backup_check_name(kind), err.msg);
	}
	struct ark_restore_result res;
	int64_t rows_before = count_in(cfg->state_db);
	/* These files have no checksum manifest: the database checks are
	 * what is tested here (test_checksums tests the manifest). */
	int rc = ark_store_restore(cfg, file, ARK_RESTORE_UNVERIFIED, &res, &err);
	CHECK_MSG(rc == code, "restore of %s: %d, expected %d (%s)", file, rc, code, err.msg);
	CHECK_CONTAINS(err.msg, words);
	CHECK_EQ_U64(count_in(cfg->state_db), rows_before); /* untouched */
}

static void test_restore(struct ark_store_config *cfg)
{
	char good[512], path[600];
	newest_backup(cfg->backup_dir, good, sizeof good);
	uint64_t size = file_size_of(good);
	char dir[400];
	snprintf(dir, sizeof dir, "%s/bad", root);
	CHECK(mkdir(dir, 0700) == 0);

	snprintf(path, sizeof path, "%s/nope.db", dir);
	expect_refused(cfg, path, -ENOENT, ARK_BACKUP_MISSING, "missing");

	snprintf(path, sizeof path, "%s/empty.db", dir);
	fclose(fopen(path, "w"));
	expect_refused(cfg, path, -EBADMSG, ARK_BACKUP_TRUNCATED, "truncated");

	snprintf(path, sizeof path, "%s/half.db", dir);
	copy_file(good, path);
	CHECK(truncate(path, (off_t)(size / 2)) == 0);
	expect_refused(cfg, path, -EBADMSG, ARK_BACKUP_TRUNCATED, "truncated");

	snprintf(path, sizeof path, "%s/ragged.db", dir);
	copy_file(good, path);
	CHECK(truncate(path, (off_t)(size - 100)) == 0);
	expect_refused(cfg, path, -EBADMSG, ARK_BACKUP_TRUNCATED, "truncated");

	snprintf(path, sizeof path, "%s/corrupt.db", dir);
	copy_file(good, path);
	uint8_t junk[1024];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 29 + 3);
	write_at(path, size / 2 + 8, junk, sizeof junk);
	write_at(path, size / 3 + 8, junk, sizeof junk);
	expect_refused(cfg, path, -EBADMSG, ARK_BACKUP_CORRUPT, "corrupt");

	snprintf(path, sizeof path, "%s/notes.txt", dir);
	FILE *f = fopen(path, "w");
	for (int i = 0; i < 100; i++)
		fputs("not a database at all\n", f);
	fclose(f);
	expect_refused(cfg, path, -EPROTOTYPE, ARK_BACKUP_FOREIGN, "not an SQLite database");

	snprintf(path, sizeof path, "%s/other.db", dir);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	expect_refused(cfg, path, -EPROTOTYPE, ARK_BACKUP_FOREIGN, "not ARK's");

	snprintf(path, sizeof path, "%s/future.db", dir);
	copy_file(good, path);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	expect_refused(cfg, path, -EPROTOTYPE, ARK_BACKUP_TOO_NEW, "newer");

	/* a running instance: its segment exists and its creator is alive */
	struct ark_store_config running = *cfg;
	snprintf(running.instance, sizeof running.instance, "storetest%d", (int)getpid());
	char shm_name[64];
	struct ark_err err = {0};
	CHECK(ark_shm_name_for_instance(running.instance, shm_name, sizeof shm_name, &err) == 0);
	struct ark_shm shm;
	CHECK_MSG(ark_shm_create(&shm, shm_name, 1 << 16, 0, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(ark_store_instance_running(running.instance, &err), 1);
	expect_refused(&running, good, -EBUSY, ARK_BACKUP_OK, "running");
	ark_shm_detach(&shm);
	ark_shm_unlink(shm_name, &err);
	CHECK_EQ_U64(ark_store_instance_running(running.instance, &err), 0);

	/* a good one: the live database (with more rows) is replaced and kept */
	struct ark_core *core;
	CHECK(ark_core_open(&core, cfg, 0, NULL, &err) == 0);
	struct ark_core_order extra = {.trace_id = 1ull << 40, .symbol = "NEW", .side = ARK_CORE_SIDE_SELL,
				       .qty = 1, .status = "new"};
	CHECK(ark_core_insert_orders(core, &extra, 1, &err) == 0);
	ark_core_close(core);
	int64_t live_rows = count_in(cfg->state_db);
	int64_t backup_rows = count_in(good);
	CHECK(live_rows > backup_rows);
	struct ark_restore_result res;
	CHECK_MSG(ark_store_restore(cfg, good, 0, &res, &err) == 0, "restore: %s", err.msg);
	CHECK_EQ_U64(count_in(cfg->state_db), backup_rows);
	CHECK(res.replaced_kept_as[0] != '\0');
	CHECK_EQ_U64(count_in(res.replaced_kept_as), live_rows);
	struct stat st;
	CHECK(stat(cfg->state_db, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 0777, 0600);
	char shmfile[PATH_MAX + 8];
	snprintf(shmfile, sizeof shmfile, "%s-shm", cfg->state_db);
	CHECK(access(shmfile, F_OK) != 0);
	struct ark_core_open_info info;
	CHECK_MSG(ark_core_open(&core, cfg, 0, &info, &err) == 0, "%s", err.msg);
	CHECK(strcmp(info.integrity, "ok") == 0);
	ark_core_close(core);

	CHECK(res.verified && res.recorded);
	/* :memory: has nothing to restore into */
	struct ark_store_config mem = *cfg;
	snprintf(mem.state_db, sizeof mem.state_db, ":memory:");
	CHECK(ark_store_restore(&mem, good, 0, &res, &err) == -EINVAL);
}

static void expect_checksum_refused(const struct ark_store_config *cfg, const char *file, int code, const char *words)
{
	struct ark_err err = {0};
	struct ark_restore_result res;
	int64_t rows_before = count_in(cfg->state_db);
	int rc = ark_store_restore(cfg, file, 0, &res, &err);
	CHECK_MSG(rc == code, "restore of %s: %d, expected %d (%s)", file, rc, code, err.msg);
	CHECK_CONTAINS(err.msg, words);
	CHECK_EQ_U64(count_in(cfg->state_db), rows_before); /* untouched */
	struct ark_backup_verify proof;
	CHECK(ark_store_backup_verify(cfg, file, &proof, &err) == code);
}

/* Backups prove themselves: a flipped byte that integrity_check cannot see,
 * a missing or malformed manifest, a file swapped together with its manifest. */
static void test_checksums(struct ark_store_config *cfg)
{
	char good[512], path[600], manifest[640], line[800];
	newest_backup(cfg->backup_dir, good, sizeof good);
	struct ark_err err = {0};
	struct ark_backup_verify proof;
	CHECK_MSG(ark_store_backup_verify(cfg, good, &proof, &err) == 0, "%s", err.msg);
	CHECK(proof.has_manifest && proof.recorded && strcmp(proof.sha256, proof.recorded_sha256) == 0);
	char dir[400];
	snprintf(dir, sizeof dir, "%s/sums", root);
	CHECK(mkdir(dir, 0700) == 0);

	/* One flipped byte in a free-list or row page: integrity_check passes, the checksum does not. */
	snprintf(path, sizeof path, "%s/flipped.db", dir);
	copy_file(good, path);
	snprintf(manifest, sizeof manifest, "%s.sha256", good);
	char copy_manifest[700];
	snprintf(copy_manifest, sizeof copy_manifest, "%s.sha256", path);
	FILE *m = fopen(copy_manifest, "w");
	fprintf(m, "%s  flipped.db\n", proof.sha256);
	fclose(m);
	CHECK_MSG(ark_store_backup_verify(cfg, path, &proof, &err) == 0, "%s", err.msg);
	uint64_t size = file_size_of(path);
	uint8_t byte;
	FILE *f = fopen(path, "r+b");
	CHECK(fseek(f, (long)(size - 10), SEEK_SET) == 0 && fread(&byte, 1, 1, f) == 1);
	byte ^= 0x01;
	CHECK(fseek(f, (long)(size - 10), SEEK_SET) == 0 && fwrite(&byte, 1, 1, f) == 1);
	fclose(f);
	expect_checksum_refused(cfg, path, -EBADMSG, "flipped.db' hashes");

	/* No manifest: refused unless the operator says --unverified. */
	snprintf(path, sizeof path, "%s/bare.db", dir);
	copy_file(good, path);
	expect_checksum_refused(cfg, path, -ENODATA, "no checksum manifest");

	/* A manifest that is not one. */
	snprintf(copy_manifest, sizeof copy_manifest, "%s.sha256", path);
	m = fopen(copy_manifest, "w");
	fputs("deadbeef  bare.db\n", m);
	fclose(m);
	expect_checksum_refused(cfg, path, -EBADMSG, "is not \"<64 hex digits>");

	/* Another database with a manifest made for it, under the good one's
	 * name: the Mutable Core's record of the backup gives it away. */
	char swapped_dir[500];
	snprintf(swapped_dir, sizeof swapped_dir, "%s/swap", dir);
	CHECK(mkdir(swapped_dir, 0700) == 0);
	const char *base = strrchr(good, '/') + 1;
	snprintf(path, sizeof path, "%s/%s", swapped_dir, base);
	copy_file(good, path);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE orders SET qty = qty + 1", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	char forged[65];
	CHECK(ark_store_file_sha256(path, forged, NULL, &err) == 0);
	CHECK(ark_store_backup_manifest_write(path, forged, &err) == 0);
	snprintf(line, sizeof line, "%s", "recorded");
	expect_checksum_refused(cfg, path, -EBADMSG, "the Mutable Core recorded");
}

int main(void)
{
	make_tmpdir(root, sizeof root, "backup");
	struct ark_store_config cfg;
	test_config(&cfg, root);
	cfg.log = quiet_log;
	cfg.db_integrity = ARK_DB_INTEGRITY_QUICK;
	snprintf(cfg.instance, sizeof cfg.instance, "storetest-none-%d", (int)getpid());
	test_backup_under_writer(&cfg);
	test_names_and_keep(&cfg);
	test_checksums(&cfg);
	test_restore(&cfg);
	rm_rf(root);
	printf("test_store_backup: ok\n");
	return 0;
}
