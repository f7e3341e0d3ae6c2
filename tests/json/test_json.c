/* tests/json/test_json.c — every output valid (issue 22, point 4):
 *   writer    the one JSON writer (common/json.c): NaN and infinities as
 *             null, strings escaped, bytes that are not UTF-8 replaced by
 *             U+FFFD, a fixed-size field never read past its bytes; each
 *             document it makes passes a strict checker (tests/json_check.h)
 *   utf8      sequences judged as RFC 3629 says (overlong, surrogates,
 *             beyond U+10FFFF, cut short), cutting and sanitising for logs
 *   feed      an unknown key of 24+ bytes whose 24th byte is inside a
 *             two-byte character: the feed's error detail is valid UTF-8
 *             (it used to end in a lone 0xC3)
 *   trace     a CRC-valid journal record with a NaN price, an infinite
 *             limit and a symbol of 16 bytes without a NUL (and bytes that
 *             are not UTF-8): ark_trace_lookup + ark_trace_write_json (what
 *             `ark trace --json` and GET /v1/traces/{id} print) give valid
 *             JSON with null for the non-finite numbers and the symbol cut
 *             at its 16 bytes; `ark trace ID --json` and `ark trace ID` too
 *             (under ASan an over-read of the symbol fails the run)
 *   canary    `ark canary status --json --instance NAME` with a quote, a
 *             backslash and control characters in NAME: valid JSON, and
 *             the name reads back escaped, byte for byte */
#include "check.h"
#include "json_check.h"

#include "trace/trace.h"
#include "common/common.h"
#include "event/event.h"
#include "feed/feed.h"
#include "store/store.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

static char *doc;
static size_t doc_len;

static FILE *open_doc(void)
{
	free(doc);
	doc = NULL;
	doc_len = 0;
	FILE *f = open_memstream(&doc, &doc_len);
	CHECK(f);
	return f;
}

static void close_doc(FILE *f, const char *what)
{
	fclose(f);
	const char *why = json_check(doc, doc_len);
	CHECK_MSG(why == NULL, "%s: not valid JSON (%s): %s", what, why, doc);
}

static void test_writer(void)
{
	FILE *f = open_doc();
	struct ark_json j;
	ark_json_init(&j, f);
	ark_json_object_begin(&j, NULL);
	ark_json_number(&j, "nan", NAN);
	ark_json_number(&j, "inf", INFINITY);
	ark_json_number(&j, "minus_inf", -INFINITY);
	ark_json_number(&j, "big", 1e308);
	ark_json_number(&j, "tenth", 0.1);
	ark_json_number(&j, "third", 1.0 / 3);
	ark_json_number(&j, "whole", 42);
	ark_json_number(&j, "negative_zero", -0.0);
	ark_json_fixed(&j, "fixed_nan", NAN, 3);
	ark_json_fixed(&j, "fixed", 2.5, 3);
	ark_json_fixed(&j, "fixed_negative_zero", -0.0001, 2);
	ark_json_string(&j, "quote", "a\"b\\c\n\t\x01");
	ark_json_string(&j, "lone_c3", "ab\xc3");
	ark_json_string(&j, "overlong", "\xc0\xaf");
	ark_json_string(&j, "surrogate", "\xed\xa0\x80");
	ark_json_string(&j, "euro", "\xe2\x82\xac");
	ark_json_string(&j, "del", "\x7f");
	ark_json_string_n(&j, "field", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4);
	ark_json_string(&j, "null_string", NULL);
	ark_json_array_begin(&j, "list");
	ark_json_uint(&j, NULL, UINT64_MAX);
	ark_json_int(&j, NULL, INT64_MIN);
	ark_json_bool(&j, NULL, true);
	ark_json_null(&j, NULL);
	ark_json_array_end(&j);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	close_doc(f, "writer");
	static const char *const expect[] = {
		"\"nan\":null", "\"inf\":null", "\"minus_inf\":null", "\"big\":1e+308", "\"tenth\":0.1",
		"\"third\":0.3333333333333333", "\"whole\":42", "\"negative_zero\":0", "\"fixed_nan\":null",
		"\"fixed\":2.500", "\"fixed_negative_zero\":0.00", "\"quote\":\"a\\\"b\\\\c\\n\\t\\u0001\"",
		"\"lone_c3\":\"ab\\ufffd\"", "\"overlong\":\"\\ufffd\\ufffd\"", "\"surrogate\":\"\\ufffd\\ufffd\\ufffd\"",
		"\"euro\":\"\xe2\x82\xac\"", "\"del\":\"\\u007f\"", "\"field\":\"ABCD\"", "\"null_string\":\"\"",
		"[18446744073709551615,-9223372036854775808,true,null]"};
	for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
		CHECK_MSG(strstr(doc, expect[i]), "writer output lacks %s: %s", expect[i], doc);
	/* A sink into a fixed buffer: cut, flagged, terminated. */
	char small[16];
	struct ark_json_text t = {small, sizeof small, 0, false};
	ark_json_init_sink(&j, ark_json_text_sink, &t);
	ark_json_string(&j, NULL, "0123456789abcdefghij");
	CHECK(t.truncated && t.len == 15 && small[15] == '\0');
	/* ark_json_write_string is the same escaper. */
	f = open_doc();
	ark_json_write_string(f, "x\xff\xfey");
	close_doc(f, "write_string");
	CHECK(strcmp(doc, "\"x\\ufffd\\ufffdy\"") == 0);
	printf("writer: ok\n");
}

static void test_utf8(void)
{
	static const struct {
		const char *bytes;
		size_t len, expect;
	} cases[] = {
		{"a", 1, 1}, {"\xc3\xa9", 2, 2}, {"\xc3", 1, 0}, {"\xc1\xbf", 2, 0}, {"\xe0\x9f\xbf", 3, 0},
		{"\xe0\xa0\x80", 3, 3}, {"\xed\x9f\xbf", 3, 3}, {"\xed\xa0\x80", 3, 0}, {"\xf0\x8f\xbf\xbf", 4, 0},
		{"\xf0\x90\x80\x80", 4, 4}, {"\xf4\x8f\xbf\xbf", 4, 4}, {"\xf4\x90\x80\x80", 4, 0}, {"\xf5\x80\x80\x80", 4, 0},
		{"\x80", 1, 0}, {"\xe2\x82", 2, 0}, {"\xe2\x28\xa1", 3, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		CHECK_MSG(ark_utf8_sequence((const unsigned char *)cases[i].bytes, cases[i].len) == cases[i].expect,
			  "case %zu", i);
	CHECK(ark_utf8_cut("abc\xc3", 4) == 3);
	CHECK(ark_utf8_cut("ab\xe2\x82", 4) == 2);
	CHECK(ark_utf8_cut("\xe2\x82\xac", 3) == 3);
	CHECK(ark_utf8_cut("abc", 3) == 3);
	CHECK(ark_utf8_cut("a\xf0\x90\x80", 4) == 1);
	char line[] = "ok \xc3\xa9 bad\xff\x80 ctl\x1b[2J\nnext\ttab";
	ark_utf8_sanitize(line, strlen(line));
	CHECK_MSG(strcmp(line, "ok \xc3\xa9 bad?? ctl [2J next\ttab") == 0, "%s", line);
	char out[8];
	CHECK(ark_text_copy(out, sizeof out, "ABCDEFGHIJKL", 12) == 7 && strcmp(out, "ABCDEFG") == 0);
	CHECK(ark_text_copy(out, sizeof out, "ABCDE\xc3\xa9X", 8) == 7 && strcmp(out, "ABCDE\xc3\xa9") == 0);
	CHECK(ark_text_copy(out, sizeof out, "ABCDEF\xc3\xa9", 8) == 6 && strcmp(out, "ABCDEF") == 0);
	char field[4] = {'W', 'X', 'Y', 'Z'};   /* no NUL in the field */
	CHECK(ark_text_copy(out, sizeof out, field, sizeof field) == 4 && strcmp(out, "WXYZ") == 0);
	printf("utf8: ok\n");
}

static void test_feed_split_key(void)
{
	/* 23 ASCII bytes, then "é" (C3 A9): the 24th byte is C3. */
	char line[256];
	snprintf(line, sizeof line, "{\"symbol\":\"AAPL\",\"price\":1,\"size\":1,\"%s\xc3\xa9tail\":1}", "abcdefghijklmnopqrstuvw");
	char detail[256];
	struct ark_tick tick;
	CHECK(ark_feed_parse_line(line, strlen(line), &tick, detail, sizeof detail) == ARK_FEED_UNKNOWN_KEY);
	for (size_t i = 0; detail[i];) {
		size_t k = ark_utf8_sequence((const unsigned char *)detail + i, strlen(detail + i));
		CHECK_MSG(k > 0, "the detail is not valid UTF-8 at byte %zu: %s", i, detail);
		i += k;
	}
	CHECK_CONTAINS(detail, "abcdefghijklmnopqrstuvw...");
	/* The detail cut by a small buffer: also whole characters only. */
	snprintf(line, sizeof line, "{\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\":1}");
	for (size_t cap = 12; cap < 40; cap++) {
		char d[40];
		ark_feed_parse_line(line, strlen(line), &tick, d, cap);
		for (size_t i = 0; d[i];) {
			size_t k = ark_utf8_sequence((const unsigned char *)d + i, strlen(d + i));
			CHECK_MSG(k > 0, "detail cut at %zu bytes is not valid UTF-8: %s", cap, d);
			i += k;
		}
	}
	printf("feed: ok (%s)\n", detail);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	CHECK(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_trace(const char *ark)
{
	char dir[] = "/tmp/ark-json-XXXXXX";
	CHECK(mkdtemp(dir));
	struct ark_store_config cfg;
	ark_store_config_defaults(&cfg, dir);
	cfg.buffer_bytes = 1 << 20;
	struct ark_journal *journal;
	struct ark_err err = {0};
	CHECK_MSG(ark_journal_open(&journal, &cfg, NULL, &err) == 0, "%s", err.msg);
	struct ark_event e;
	memset(&e, 0, sizeof e);
	e.seq = 1;
	e.trace_id = ark_trace_id(0, 1);
	e.price = NAN;
	e.size = INFINITY;
	e.side = ARK_SIDE_BUY;
	e.quantity = -INFINITY;
	e.limit_price = NAN;
	e.filled_quantity = 1e308 * 10;
	e.strength = NAN;
	/* 16 bytes, no NUL, ending in a cut character and bytes that are not UTF-8 */
	memcpy(e.symbol, "ABCDEFGHIJKLM\xff\xfe\xc3", 16);
	e.verdict = ARK_VERDICT_ALLOW;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		e.stamp_in_ns[a] = e.stamp_out_ns[a] = 1000 + (uint64_t)a;
	/* what follows the symbol in the record: not text */
	e.symbol_id = 0x41414141;
	CHECK_MSG(ark_journal_append(journal, e.seq, e.trace_id, &e, sizeof e, &err) == 0, "%s", err.msg);
	CHECK(ark_journal_close(journal, &err) == 0);

	struct ark_event got;
	CHECK_MSG(ark_trace_lookup(cfg.journal_dir, e.trace_id, &got, &err) == 0, "%s", err.msg);
	CHECK_MSG(memchr(got.symbol, '\0', sizeof got.symbol) != NULL, "the symbol is not terminated after lookup");
	FILE *f = open_doc();
	ark_trace_write_json(f, e.trace_id, &got, NULL);
	close_doc(f, "ark_trace_write_json");
	CHECK_CONTAINS(doc, "\"price\":null");
	CHECK_CONTAINS(doc, "\"limit_price\":null");
	CHECK_CONTAINS(doc, "\"quantity\":null");
	CHECK_CONTAINS(doc, "\"filled_quantity\":null");
	CHECK_CONTAINS(doc, "\"symbol\":\"ABCDEFGHIJKLM??\"");
	/* The event as read (no lookup): the writer itself stops at 16 bytes. */
	f = open_doc();
	ark_trace_write_json(f, e.trace_id, &e, NULL);
	close_doc(f, "ark_trace_write_json on the raw record");
	CHECK_MSG(!strstr(doc, "AAAA"), "the symbol ran into the next field: %s", doc);

	/* The command. */
	char cmd[1024], out[16384];
	snprintf(cmd, sizeof cmd, "env ARK_DATA_DIR=%s ARK_STATE_DB=:memory: %s trace 1 --json", dir, ark);
	int rc = run(cmd, out, sizeof out);
	CHECK_MSG(rc == 0, "ark trace --json: exit %d: %s", rc, out);
	const char *why = json_check(out, strlen(out));
	CHECK_MSG(why == NULL, "ark trace --json is not valid JSON (%s): %s", why, out);
	CHECK_CONTAINS(out, "\"price\":null");
	snprintf(cmd, sizeof cmd, "env ARK_DATA_DIR=%s ARK_STATE_DB=:memory: %s trace 1", dir, ark);
	rc = run(cmd, out, sizeof out);
	CHECK_MSG(rc == 0 && strstr(out, "symbol ABCDEFGHIJKLM?? "), "ark trace: exit %d: %s", rc, out);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	printf("trace: ok\n");
}

extern char **environ;

/* argv run directly (no shell: the name's bytes reach ark as they are);
 * stdout into out. The exit code. */
static int run_argv(char *const *argv, char *out, size_t cap)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	pid_t pid;
	CHECK(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_canary_instance(const char *ark)
{
	char dir[] = "/tmp/ark-json-canary-XXXXXX";
	CHECK(mkdtemp(dir));
	CHECK(setenv("ARK_DATA_DIR", dir, 1) == 0);
	CHECK(setenv("ARK_STATE_DB", ":memory:", 1) == 0);
	char name[] = "q\"b\\c\x01\td\x1f";
	char *argv[] = {(char *)ark, "canary", "status", "--json", "--instance", name, NULL};
	char out[4096];
	int rc = run_argv(argv, out, sizeof out);
	CHECK_MSG(rc == 0 || rc == 1, "ark canary status --json: exit %d: %s", rc, out);
	const char *why = json_check(out, strlen(out));
	CHECK_MSG(why == NULL, "ark canary status --json with a hostile instance name is not valid JSON (%s): %s", why, out);
	CHECK_CONTAINS(out, "\"instance\":\"q\\\"b\\\\c\\u0001\\td\\u001f\"");
	unsetenv("ARK_DATA_DIR");
	unsetenv("ARK_STATE_DB");
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	printf("canary: ok\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_json ARK\n");
		return 2;
	}
	test_writer();
	test_utf8();
	test_feed_split_key();
	test_trace(argv[1]);
	test_canary_instance(argv[1]);
	free(doc);
	printf("json: ok\n");
	return 0;
}
