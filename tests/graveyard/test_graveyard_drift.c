/* tests/graveyard/test_graveyard_drift.c — hashes, installation and ethics
 * drift, on real files in a temporary directory:
 *  - SHA-256 is right (a known vector, and sha256sum on the shipped file),
 *    stable across loads, and changes with the bytes; the table hash follows
 *    the compiled values only;
 *  - install writes a 0444 copy atomically, refuses invalid rules (naming
 *    the line) and leaves nothing behind; the installed path follows
 *    ARK_GRAVEYARD_RULES, ARK_DATA_DIR and ARK_ENV=prod;
 *  - drift: an untouched file passes (re-hashed only when stat changes); a
 *    modified, replaced-with-different or missing file, a changed compiled
 *    table, or a recorded hash that differs latches drift; from then on every
 *    event is denied ETHICS_DRIFT and counted; restoring the file does not
 *    unlatch. argv[1]: deploy/graveyard.rules. */
#include "graveyard_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[256];
static const char *deploy;

static void write_file(const char *path, const char *text)
{
	chmod(path, 0644);
	FILE *f = fopen(path, "w");
	CHECK_MSG(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static void hashes(void)
{
	uint8_t d[32];
	char hex[65];
	ark_graveyard_sha256("abc", 3, d);
	ark_graveyard_hex(d, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	uint8_t back[32];
	struct ark_err err = {0};
	CHECK(ark_graveyard_parse_hex(hex, back, &err) == 0 && memcmp(back, d, 32) == 0);
	char upper[65];
	for (int i = 0; i < 65; i++)
		upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	CHECK(ark_graveyard_parse_hex(upper, back, &err) == 0 && memcmp(back, d, 32) == 0);
	CHECK(ark_graveyard_parse_hex("abc", back, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "64 hexadecimal digits");
	hex[10] = 'g';
	CHECK(ark_graveyard_parse_hex(hex, back, &err) == -EINVAL);

	/* The shipped file: our hash is sha256sum's. */
	static struct ark_graveyard_rules a, b;
	CHECK_MSG(ark_graveyard_load(deploy, &a, &err) == 0, "%s", err.msg);
	char cmd[512], line[256] = "";
	snprintf(cmd, sizeof cmd, "sha256sum '%s'", deploy);
	FILE *p = popen(cmd, "r");
	CHECK(p && fgets(line, sizeof line, p));
	pclose(p);
	CHECK_MSG(strncmp(line, a.file_sha256_hex, 64) == 0, "sha256sum %s vs %s", line, a.file_sha256_hex);
	CHECK(a.file_size > 100);
	/* Stable across loads; the table hash is the hash of the table bytes. */
	CHECK(ark_graveyard_load(deploy, &b, &err) == 0);
	CHECK(memcmp(a.file_sha256, b.file_sha256, 32) == 0 && memcmp(a.table_sha256, b.table_sha256, 32) == 0);
	ark_graveyard_table_hash(&a.limits, d);
	CHECK(memcmp(d, a.table_sha256, 32) == 0);
	/* One limit changed: both hashes change. A scope changed: the table too. */
	char text[8192];
	rules_text(text, sizeof text, NULL, 0);
	CHECK(ark_graveyard_parse(text, strlen(text), "t", &a, &err) == 0);
	const char *const quantity[] = {"max_order_quantity", "max_order_quantity = 101 node"};
	rules_text(text, sizeof text, quantity, 2);
	CHECK(ark_graveyard_parse(text, strlen(text), "t", &b, &err) == 0);
	CHECK(memcmp(a.file_sha256, b.file_sha256, 32) != 0 && memcmp(a.table_sha256, b.table_sha256, 32) != 0);
	const char *const scope[] = {"max_order_quantity", "max_order_quantity = 100 global"};
	rules_text(text, sizeof text, scope, 2);
	CHECK(ark_graveyard_parse(text, strlen(text), "t", &b, &err) == 0);
	CHECK(memcmp(a.table_sha256, b.table_sha256, 32) != 0);
	/* A trailing comment: the file hash changes, the table does not. */
	rules_text(text, sizeof text, NULL, 0);
	strcat(text, "# reviewed\n");
	CHECK(ark_graveyard_parse(text, strlen(text), "t", &b, &err) == 0);
	CHECK(memcmp(a.file_sha256, b.file_sha256, 32) != 0 && memcmp(a.table_sha256, b.table_sha256, 32) == 0);
}

static void install(void)
{
	static struct ark_graveyard_rules r;
	struct ark_err err = {0};
	char target[512], src[512], bad[512];
	snprintf(target, sizeof target, "%s/data/sub/graveyard.rules", dir);
	CHECK_MSG(ark_graveyard_install(deploy, target, &r, &err) == 0, "%s", err.msg);
	struct stat st;
	CHECK(stat(target, &st) == 0);
	CHECK_MSG((st.st_mode & 07777) == 0444, "mode %o", st.st_mode & 07777);
	CHECK(strcmp(r.path, target) == 0);
	static struct ark_graveyard_rules shipped;
	CHECK(ark_graveyard_load(deploy, &shipped, &err) == 0);
	CHECK(strcmp(r.file_sha256_hex, shipped.file_sha256_hex) == 0);
	/* Installing again replaces the read-only file (atomically). */
	snprintf(src, sizeof src, "%s/other.rules", dir);
	char text[8192];
	const char *const position[] = {"max_position", "max_position = 300 node"};
	rules_text(text, sizeof text, position, 2);
	write_file(src, text);
	CHECK_MSG(ark_graveyard_install(src, target, &r, &err) == 0, "%s", err.msg);
	CHECK(r.limits.max_position == 300);
	CHECK(stat(target, &st) == 0 && (st.st_mode & 07777) == 0444);
	/* Invalid rules are refused, naming the line; the installed file stays. */
	snprintf(bad, sizeof bad, "%s/bad.rules", dir);
	const char *const broken[] = {"max_position", "max_position = lots node"};
	rules_text(text, sizeof text, broken, 2);
	write_file(bad, text);
	CHECK(ark_graveyard_install(bad, target, &r, &err) < 0);
	CHECK_CONTAINS(err.msg, "bad.rules:12: max_position: expected");
	CHECK(ark_graveyard_load(target, &r, &err) == 0 && r.limits.max_position == 300);
	snprintf(bad, sizeof bad, "%s/missing.rules", dir);
	CHECK(ark_graveyard_install(bad, target, &r, &err) == -ENOENT);
	CHECK_CONTAINS(err.msg, "missing.rules");
	/* No temporary files left next to it. */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls '%s/data/sub' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int files = 0;
	CHECK(p && fscanf(p, "%d", &files) == 1);
	pclose(p);
	CHECK_EQ_U64(files, 1);
	/* A directory is not a rules file. */
	CHECK(ark_graveyard_load(dir, &r, &err) < 0);
	CHECK_CONTAINS(err.msg, "regular file");
}

static void installed_path(void)
{
	char path[ARK_GRAVEYARD_PATH_MAX];
	struct ark_err err = {0};
	unsetenv("ARK_GRAVEYARD_RULES");
	unsetenv("ARK_DATA_DIR");
	unsetenv("ARK_ENV");
	CHECK(ark_graveyard_installed_path(path, sizeof path, &err) == 0);
	CHECK(strcmp(path, "./ark-data/graveyard.rules") == 0);
	setenv("ARK_ENV", "prod", 1);
	CHECK(ark_graveyard_installed_path(path, sizeof path, &err) == 0);
	CHECK(strcmp(path, "/var/lib/ark/graveyard.rules") == 0);
	setenv("ARK_DATA_DIR", "/srv/ark", 1);
	CHECK(ark_graveyard_installed_path(path, sizeof path, &err) == 0);
	CHECK(strcmp(path, "/srv/ark/graveyard.rules") == 0);
	setenv("ARK_GRAVEYARD_RULES", "/etc/ark/rules", 1);
	CHECK(ark_graveyard_installed_path(path, sizeof path, &err) == 0);
	CHECK(strcmp(path, "/etc/ark/rules") == 0);
	char small[8];
	CHECK(ark_graveyard_installed_path(small, sizeof small, &err) == -ENAMETOOLONG);
	unsetenv("ARK_GRAVEYARD_RULES");
	unsetenv("ARK_DATA_DIR");
	unsetenv("ARK_ENV");
}

static struct ark_graveyard_rules R;
static struct ark_graveyard_state S;

static void all_denied(uint64_t t)
{
	uint64_t before = S.denials[ARK_REASON_ETHICS_DRIFT];
	EXPECT_DENY(judge(&R, &S, order_at(1, "AAA", 10, t, ARK_SIDE_BUY, 1, 10)), ARK_REASON_ETHICS_DRIFT);
	EXPECT_DENY(judge(&R, &S, event_at(1, "AAA", 10, t)), ARK_REASON_ETHICS_DRIFT);
	CHECK_EQ_U64(S.denials[ARK_REASON_ETHICS_DRIFT], before + 2);
}

static void fresh_install(const char *target)
{
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_install(deploy, target, &R, &err) == 0, "%s", err.msg);
	ark_graveyard_state_init(&S, &R);
}

static void drift(void)
{
	char target[512];
	struct ark_err err = {0};
	snprintf(target, sizeof target, "%s/drift/graveyard.rules", dir);
	fresh_install(target);

	/* Untouched: clean; the second check does not read the file again. */
	CHECK(ark_graveyard_check_drift(&R, &S, target, R.file_sha256_hex, &err) == 0);
	CHECK_EQ_U64(S.drift.rehashes, 1);
	CHECK(ark_graveyard_check_drift(&R, &S, target, R.file_sha256_hex, &err) == 0);
	CHECK_EQ_U64(S.drift.rehashes, 1);
	CHECK_EQ_U64(S.drift.checks, 2);
	EXPECT_ALLOW(judge(&R, &S, order_at(1, "AAA", 10, T0, ARK_SIDE_BUY, 1, 10)));
	/* Touched, same bytes: re-hashed, still clean. */
	struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000000, .tv_nsec = 0}};
	CHECK(utimensat(AT_FDCWD, target, times, 0) == 0);
	CHECK(ark_graveyard_check_drift(&R, &S, target, NULL, &err) == 0);
	CHECK_EQ_U64(S.drift.rehashes, 2);
	/* Replaced by an identical copy (new inode): clean. */
	fresh_install(target);
	CHECK(ark_graveyard_check_drift(&R, &S, target, NULL, &err) == 0);

	/* Modified under a running HRM: one appended comment is enough. */
	size_t n;
	FILE *f = fopen(target, "rb");
	static char text[1 << 16];
	n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	write_file(target, text);
	f = fopen(target, "a");
	fputs("# edited\n", f);
	fclose(f);
	CHECK(ark_graveyard_check_drift(&R, &S, target, R.file_sha256_hex, &err) == 1);
	CHECK_CONTAINS(err.msg, "ethics drift (file_changed)");
	CHECK_CONTAINS(err.msg, target);
	CHECK(atomic_load(&S.drift.latched) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_FILE_CHANGED);
	CHECK_EQ_U64(S.drift.detections, 1);
	all_denied(T0 + 1);
	all_denied(T0 + 2);
	/* Restored: still latched, still denying. */
	write_file(target, text);
	CHECK(ark_graveyard_check_drift(&R, &S, target, R.file_sha256_hex, &err) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_FILE_CHANGED);
	all_denied(T0 + 3);

	/* Missing file. */
	fresh_install(target);
	CHECK(unlink(target) == 0);
	CHECK(ark_graveyard_check_drift(&R, &S, target, NULL, &err) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_FILE_UNREADABLE);
	all_denied(T0);

	/* Replaced (rename) by different rules. */
	fresh_install(target);
	char other[600];
	snprintf(other, sizeof other, "%s/other2.rules", dir);
	char base[8192];
	rules_text(base, sizeof base, NULL, 0);
	write_file(other, base);
	CHECK(rename(other, target) == 0);
	CHECK(ark_graveyard_check_drift(&R, &S, target, NULL, &err) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_FILE_CHANGED);

	/* The compiled table changed in memory (the file is fine). */
	fresh_install(target);
	CHECK(ark_graveyard_check_drift(&R, &S, target, NULL, &err) == 0);
	R.limits.max_order_quantity *= 10;
	CHECK(ark_graveyard_check_drift(&R, &S, target, NULL, &err) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_TABLE_CHANGED);
	CHECK_CONTAINS(err.msg, "compiled rule table");
	all_denied(T0);
	/* ... also when the stored hash was "fixed up" along with it. */
	fresh_install(target);
	R.limits.max_position = 1e9;
	ark_graveyard_table_hash(&R.limits, R.table_sha256);
	CHECK(ark_graveyard_check_drift(&R, &S, NULL, NULL, &err) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_TABLE_CHANGED);

	/* The Mutable Core recorded another hash than the one loaded. */
	fresh_install(target);
	char wrong[65];
	memcpy(wrong, R.file_sha256_hex, 65);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	CHECK(ark_graveyard_check_drift(&R, &S, target, wrong, &err) == 1);
	CHECK_EQ_U64(S.drift.cause, ARK_GRAVEYARD_DRIFT_RECORDED_MISMATCH);
	all_denied(T0);
	/* A malformed recorded hash is the caller's error, not drift. */
	fresh_install(target);
	CHECK(ark_graveyard_check_drift(&R, &S, target, "xyz", &err) == -EINVAL);
	CHECK(atomic_load(&S.drift.latched) == 0);
	CHECK(strcmp(ark_graveyard_drift_cause_name(ARK_GRAVEYARD_DRIFT_TABLE_CHANGED), "table_changed") == 0);
}

/* HRM's drift checker may run on another thread than evaluation: the drift
 * latch is the only thing they share (TSan checks that claim). */
static _Atomic int evaluator_saw_drift;

static void *evaluator(void *arg)
{
	(void)arg;
	uint64_t t = T0;
	for (uint64_t i = 0; i < 200000000 && !atomic_load(&evaluator_saw_drift); i++) {
		struct ark_graveyard_decision d = judge(&R, &S, order_at((uint32_t)(i % 64), "AAA", 10, t += 1000000,
							   i % 2 ? ARK_SIDE_SELL : ARK_SIDE_BUY, 1, 10));
		if (d.reason == ARK_REASON_ETHICS_DRIFT)
			atomic_store(&evaluator_saw_drift, 1);
	}
	return NULL;
}

static void drift_across_threads(void)
{
	char target[512];
	struct ark_err err = {0};
	snprintf(target, sizeof target, "%s/threads/graveyard.rules", dir);
	fresh_install(target);
	pthread_t thread;
	CHECK(pthread_create(&thread, NULL, evaluator, NULL) == 0);
	for (int i = 0; i < 20; i++)
		CHECK(ark_graveyard_check_drift(&R, &S, target, R.file_sha256_hex, &err) == 0);
	CHECK(chmod(target, 0644) == 0);
	FILE *f = fopen(target, "a");
	fputs("# tampered\n", f);
	fclose(f);
	CHECK(ark_graveyard_check_drift(&R, &S, target, R.file_sha256_hex, &err) == 1);
	CHECK(pthread_join(thread, NULL) == 0);
	CHECK(atomic_load(&evaluator_saw_drift) == 1);
	CHECK(S.denials[ARK_REASON_ETHICS_DRIFT] >= 1);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	deploy = argv[1];
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/ark-graveyard-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	hashes();
	install();
	installed_path();
	drift();
	drift_across_threads();
	char cmd[700];
	snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' && rm -rf '%s'", dir, dir);
	CHECK(system(cmd) == 0);
	printf("graveyard hash, install and drift tests passed\n");
	return 0;
}
