/* tests/store/test_store_cli.c — the commands as an operator runs them:
 * `ark journal verify` (exit 0 when intact, 1 naming segment, offset and seq
 * on damage, valid JSON with --json), `ark journal tail`, `ark backup`,
 * `ark restore` (each refusal says which kind), `--help` everywhere, and the
 * shape of `ark perf store --quick --json` (one JSON object with the headline
 * figures the issue names). The ark binary's path is argv[1]. */
#include "store_test.h"

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>
#include <stdarg.h>
#include <sys/wait.h>

static char root[256];
static const char *ark;

struct run {
	int status;
	char out[1 << 16];
};

/* Run "ark <args>" with the environment prefix env; capture stdout+stderr. */
static void run(struct run *r, const char *env, const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "env ARK_DATA_DIR='%s' ARK_INSTANCE=clitest%d %s '%s' %s 2>&1", root,
		 (int)getpid(), env, ark, args);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	size_t n = fread(r->out, 1, sizeof r->out - 1, p);
	r->out[n] = '\0';
	int st = pclose(p);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run "ark <fmt ...>" with the environment prefix env: it must exit with
 * status and, when want is not NULL, say want. */
__attribute__((format(printf, 5, 6))) static void expect(struct run *r, const char *env, int status, const char *want,
							 const char *fmt, ...)
{
	char args[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	run(r, env, args);
	CHECK_MSG(r->status == status, "ark %s: exit %d, expected %d: %s", args, r->status, status, r->out);
	if (want)
		CHECK_CONTAINS(r->out, want);
}

/* Valid JSON, one top-level object; returns the token count. */
static int json_ok(const char *text, jsmntok_t *toks, int max)
{
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, text, strlen(text), toks, (unsigned)max);
	CHECK_MSG(n > 0 && toks[0].type == JSMN_OBJECT, "not a JSON object: %s", text);
	CHECK_MSG((size_t)toks[0].end == strlen(text) || text[toks[0].end] == '\n', "trailing text: %s", text);
	return n;
}

/* The value token of key inside the object starting at token obj (flat
 * search over its direct members). */
static const jsmntok_t *member(const char *text, const jsmntok_t *toks, int n, int obj, const char *key)
{
	int end = toks[obj].end;
	for (int i = obj + 1; i < n && toks[i].start < end; i++) {
		if (toks[i].type == JSMN_STRING && toks[i].parent == obj &&
		    (size_t)(toks[i].end - toks[i].start) == strlen(key) &&
		    strncmp(text + toks[i].start, key, strlen(key)) == 0)
			return &toks[i + 1];
	}
	return NULL;
}

static void make_journal(uint64_t n)
{
	struct ark_store_config cfg;
	test_config(&cfg, root);
	cfg.log = quiet_log;
	struct ark_err err = {0};
	struct ark_journal *j;
	CHECK_MSG(ark_journal_open(&j, &cfg, NULL, &err) == 0, "%s", err.msg);
	for (uint64_t s = 1; s <= n; s++)
		append_std(j, s);
	CHECK(ark_journal_close(j, &err) == 0);
}

static void test_journal_commands(void)
{
	struct run *r = malloc(sizeof *r);
	static jsmntok_t toks[4096];
	expect(r, "", 0, "usage: ark journal verify", "journal --help");
	expect(r, "", 2, "frobnicate", "journal frobnicate");

	make_journal(300);
	expect(r, "", 0, "300 records", "journal verify");
	expect(r, "", 0, NULL, "journal verify --json");
	int n = json_ok(r->out, toks, 4096);
	const jsmntok_t *t = member(r->out, toks, n, 0, "records");
	CHECK(t && strncmp(r->out + t->start, "300", 3) == 0);
	t = member(r->out, toks, n, 0, "ok");
	CHECK(t && strncmp(r->out + t->start, "true", 4) == 0);

	expect(r, "", 0, "\"seq\":5,", "journal tail --from 5 --count 3 --json");
	CHECK_CONTAINS(r->out, "\"seq\":7,");
	CHECK(strstr(r->out, "\"seq\":8,") == NULL);
	expect(r, "", 0, "seq=299 ", "journal tail --count 2");
	CHECK_CONTAINS(r->out, "seq=300 ");
	CHECK(strstr(r->out, "seq=298 ") == NULL);
	expect(r, "", 2, "--from", "journal tail --from abc");

	/* damage: exit 1, naming the segment, the offset and the seq */
	char dir[512];
	snprintf(dir, sizeof dir, "%s/journal", root);
	struct ark_journal_record rec;
	uint8_t buf[1024];
	struct ark_err err = {0};
	uint64_t target = 150;
	while (payload_len(target) < 8)
		target++;
	CHECK(ark_journal_find_seq(dir, target, &rec, buf, sizeof buf, &err) == 0);
	char seg[700];
	snprintf(seg, sizeof seg, "%s/%s", dir, rec.segment);
	flip_bit(seg, rec.offset + ARK_JOURNAL_RECORD_HEADER_BYTES + 2, 6);
	char want[256];
	snprintf(want, sizeof want, "%s offset %llu seq %llu", rec.segment, (unsigned long long)rec.offset,
		 (unsigned long long)target);
	expect(r, "", 1, want, "journal verify");
	CHECK_CONTAINS(r->out, "CRC32C mismatch");
	CHECK_CONTAINS(r->out, "FAILED");
	expect(r, "", 1, NULL, "journal verify --json");
	n = json_ok(r->out, toks, 4096);
	t = member(r->out, toks, n, 0, "damaged");
	CHECK(t && strncmp(r->out + t->start, "1", 1) == 0);
	CHECK_CONTAINS(r->out, "\"kind\":\"bad_record\"");
	free(r);
}

static void test_backup_commands(void)
{
	struct run *r = malloc(sizeof *r);
	static jsmntok_t toks[1024];
	expect(r, "", 0, "ARK_BACKUP_KEEP", "backup --help");
	/* no database yet: says so */
	expect(r, "", 1, "does not exist", "backup");
	struct ark_store_config cfg;
	test_config(&cfg, root);
	struct ark_err err = {0};
	struct ark_core *core;
	CHECK(ark_core_open(&core, &cfg, 0, NULL, &err) == 0);
	struct ark_core_order o = {.trace_id = 9, .symbol = "AAPL", .side = ARK_CORE_SIDE_BUY, .qty = 1, .status = "new"};
	CHECK(ark_core_insert_orders(core, &o, 1, &err) == 0);
	ark_core_close(core);

	expect(r, "", 0, NULL, "backup --json");
	int n = json_ok(r->out, toks, 1024);
	const jsmntok_t *t = member(r->out, toks, n, 0, "path");
	CHECK(t != NULL);
	char path[600];
	snprintf(path, sizeof path, "%.*s", t->end - t->start, r->out + t->start);
	CHECK_CONTAINS(path, "/backups/ark_state_backup_");
	CHECK(access(path, F_OK) == 0);
	expect(r, "", 0, "integrity_check ok", "backup");

	expect(r, "", 2, NULL, "restore");
	expect(r, "", 1, "missing", "restore /nonexistent/x.db");
	char bad[600];
	snprintf(bad, sizeof bad, "%s/half.db", root);
	copy_file(path, bad);
	CHECK(truncate(bad, (off_t)(file_size_of(path) / 2)) == 0);
	/* No manifest beside it: refused before anything else. */
	expect(r, "", 1, "no checksum manifest", "restore '%s'", bad);
	expect(r, "", 1, "\"refused\":\"unverified\"", "restore --json '%s'", bad);
	n = json_ok(r->out, toks, 1024);
	/* --unverified lets the database checks speak: truncated. */
	expect(r, "", 1, "truncated", "restore --unverified '%s'", bad);
	expect(r, "", 1, "\"refused\":\"damaged\"", "restore --unverified --json '%s'", bad);
	n = json_ok(r->out, toks, 1024);
	/* ark backup --verify: the good one verifies, the truncated one does not. */
	expect(r, "", 0, "verified", "backup --verify '%s'", path);
	CHECK_CONTAINS(r->out, "Mutable Core's record");
	expect(r, "", 1, "no checksum manifest", "backup --verify '%s'", bad);
	expect(r, "", 0, "restored", "restore '%s'", path);
	CHECK_CONTAINS(r->out, "kept as");
	expect(r, "ARK_BACKUP_KEEP=zero", 2, "ARK_BACKUP_KEEP", "backup");
	free(r);
}

static void test_perf_shape(void)
{
	struct run *r = malloc(sizeof *r);
	static jsmntok_t toks[4096];
	expect(r, "", 0, NULL, "perf store --quick --json --seconds 0.05 --dir '%s'", root);
	int n = json_ok(r->out, toks, 4096);
	const jsmntok_t *h = member(r->out, toks, n, 0, "headline");
	CHECK(h && h->type == JSMN_OBJECT);
	int hi = (int)(h - toks);
	static const char *keys[] = {"journal_256B_interval_eps", "journal_256B_batch_eps",
				     "journal_vs_write_ratio", "journal_append_p99_ns",
				     "sqlite_batch1000_rows_per_s"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(keys); i++) {
		const jsmntok_t *v = member(r->out, toks, n, hi, keys[i]);
		CHECK_MSG(v && v->type == JSMN_PRIMITIVE, "headline lacks %s", keys[i]);
		double x = strtod(r->out + v->start, NULL);
		CHECK_MSG(x > 0, "%s = %g", keys[i], x);
	}
	CHECK(member(r->out, toks, n, 0, "journal") != NULL);
	CHECK(member(r->out, toks, n, 0, "sqlite") != NULL);
	free(r);
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_store_cli PATH_TO_ARK");
	ark = argv[1];
	make_tmpdir(root, sizeof root, "cli");
	test_journal_commands();
	test_backup_commands();
	test_perf_shape();
	rm_rf(root);
	printf("test_store_cli: ok\n");
	return 0;
}
