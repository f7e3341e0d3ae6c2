/* tests/common/test_common.c — the strict parsers and environment readers
 * every command relies on (common/): for each, valid input, the boundaries,
 * overflow, garbage, and the message that names what was wrong and what was
 * expected; errors (set, wrap, truncation), the JSON string escaper, the
 * executable's path, the growable buffer and the tolerance of amounts sent
 * as decimal text. */
#include "check.h"
#include "common/common.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct ark_err err;

static void reset_err(void)
{
	memset(&err, 0, sizeof err);
}

/* A refusal: the code, and a message that names the input, says what was
 * expected and quotes what was given. */
#define REFUSED(call, code_want, what, expect_text, given)                                   \
	do {                                                                                   \
		reset_err();                                                                   \
		int _rc = (call);                                                              \
		CHECK_MSG(_rc == (code_want), "%s returned %d, wanted %d", #call, _rc, code_want); \
		CHECK_EQ_U64(err.code, (uint64_t)(int64_t)(code_want));                        \
		CHECK_CONTAINS(err.msg, what);                                                 \
		CHECK_CONTAINS(err.msg, expect_text);                                          \
		char _q[256];                                                                  \
		snprintf(_q, sizeof _q, "'%s'", given);                                         \
		CHECK_CONTAINS(err.msg, _q);                                                   \
	} while (0)

static void test_u64(void)
{
	uint64_t v = 7;
	CHECK(ark_parse_u64("0", 0, 10, "--n", &v, &err) == 0 && v == 0);
	CHECK(ark_parse_u64("10", 0, 10, "--n", &v, &err) == 0 && v == 10);
	CHECK(ark_parse_u64("5", 5, 5, "--n", &v, &err) == 0 && v == 5);
	CHECK(ark_parse_u64("007", 0, 10, "--n", &v, &err) == 0 && v == 7);
	CHECK(ark_parse_u64("18446744073709551615", 0, UINT64_MAX, "--n", &v, &err) == 0 && v == UINT64_MAX);
	v = 42;
	REFUSED(ark_parse_u64("11", 0, 10, "--n", &v, &err), -ERANGE, "--n", "whole number from 0 to 10", "11");
	REFUSED(ark_parse_u64("4", 5, 10, "--n", &v, &err), -ERANGE, "--n", "from 5 to 10", "4");
	REFUSED(ark_parse_u64("18446744073709551616", 0, UINT64_MAX, "ARK_X", &v, &err), -ERANGE, "ARK_X",
		"whole number", "18446744073709551616");
	REFUSED(ark_parse_u64("99999999999999999999999", 0, UINT64_MAX, "ARK_X", &v, &err), -ERANGE, "ARK_X",
		"whole number", "99999999999999999999999");
	REFUSED(ark_parse_u64("-1", 0, 10, "--n", &v, &err), -EINVAL, "--n", "whole number", "-1");
	REFUSED(ark_parse_u64("+1", 0, 10, "--n", &v, &err), -EINVAL, "--n", "whole number", "+1");
	REFUSED(ark_parse_u64(" 1", 0, 10, "--n", &v, &err), -EINVAL, "--n", "whole number", " 1");
	REFUSED(ark_parse_u64("1 ", 0, 10, "--n", &v, &err), -ERANGE, "--n", "whole number", "1 ");
	REFUSED(ark_parse_u64("1x", 0, 10, "--n", &v, &err), -ERANGE, "--n", "whole number", "1x");
	REFUSED(ark_parse_u64("0x10", 0, 100, "--n", &v, &err), -ERANGE, "--n", "whole number", "0x10");
	REFUSED(ark_parse_u64("1.5", 0, 10, "--n", &v, &err), -ERANGE, "--n", "whole number", "1.5");
	REFUSED(ark_parse_u64("", 0, 10, "--n", &v, &err), -EINVAL, "--n", "whole number", "");
	REFUSED(ark_parse_u64(NULL, 0, 10, "--n", &v, &err), -EINVAL, "--n", "whole number", "");
	REFUSED(ark_parse_u64("abc", 0, 10, "--n", &v, &err), -EINVAL, "--n", "whole number", "abc");
	CHECK_EQ_U64(v, 42); /* a refusal leaves the output alone */
	CHECK(ark_parse_u64("x", 0, 1, "--n", &v, NULL) == -EINVAL); /* err may be NULL */
}

static void test_double(void)
{
	double v = 0;
	CHECK(ark_parse_double("0.25", 0, 1, "--v", &v, &err) == 0 && v == 0.25);
	CHECK(ark_parse_double("0", 0, 1, "--v", &v, &err) == 0 && v == 0);
	CHECK(ark_parse_double("1", 0, 1, "--v", &v, &err) == 0 && v == 1);
	CHECK(ark_parse_double("-2.5", -3, 3, "--v", &v, &err) == 0 && v == -2.5);
	CHECK(ark_parse_double("1e3", 0, 1e6, "--v", &v, &err) == 0 && v == 1000);
	CHECK(ark_parse_double("2.5E-1", 0, 1, "--v", &v, &err) == 0 && v == 0.25);
	CHECK(ark_parse_double(".5", 0, 1, "--v", &v, &err) == 0 && v == 0.5);
	v = 9;
	REFUSED(ark_parse_double("1.0001", 0, 1, "--v", &v, &err), -ERANGE, "--v", "a number from 0 to 1", "1.0001");
	REFUSED(ark_parse_double("-0.1", 0, 1, "--v", &v, &err), -ERANGE, "--v", "from 0 to 1", "-0.1");
	REFUSED(ark_parse_double("1e400", 0, 1e300, "--v", &v, &err), -ERANGE, "--v", "a number", "1e400");
	REFUSED(ark_parse_double("nan", 0, 1, "--v", &v, &err), -EINVAL, "--v", "a number", "nan");
	REFUSED(ark_parse_double("inf", 0, INFINITY, "--v", &v, &err), -EINVAL, "--v", "a number", "inf");
	REFUSED(ark_parse_double("-infinity", -INFINITY, 0, "--v", &v, &err), -EINVAL, "--v", "a number", "-infinity");
	/* hexadecimal floats are strtod's, not a number an operator writes */
	REFUSED(ark_parse_double("0x10", 0, 100, "--v", &v, &err), -EINVAL, "--v", "a number", "0x10");
	REFUSED(ark_parse_double("0x1p-2", 0, 1, "--v", &v, &err), -EINVAL, "--v", "a number", "0x1p-2");
	REFUSED(ark_parse_double(" 1", 0, 10, "--v", &v, &err), -EINVAL, "--v", "a number", " 1");
	REFUSED(ark_parse_double("1 ", 0, 10, "--v", &v, &err), -EINVAL, "--v", "a number", "1 ");
	REFUSED(ark_parse_double("1,5", 0, 10, "--v", &v, &err), -EINVAL, "--v", "a number", "1,5");
	REFUSED(ark_parse_double("1.2.3", 0, 10, "--v", &v, &err), -ERANGE, "--v", "a number", "1.2.3");
	REFUSED(ark_parse_double("e5", 0, 10, "--v", &v, &err), -EINVAL, "--v", "a number", "e5");
	REFUSED(ark_parse_double("", 0, 10, "--v", &v, &err), -EINVAL, "--v", "a number", "");
	REFUSED(ark_parse_double(NULL, 0, 10, "--v", &v, &err), -EINVAL, "--v", "a number", "");
	CHECK(v == 9);
}

static void test_bool(void)
{
	static const char *yes[] = {"1", "true", "TRUE", "yes", "Yes", "on", "ON"};
	static const char *no[] = {"0", "false", "False", "no", "NO", "off", "Off"};
	bool b;
	for (size_t i = 0; i < ARK_ARRAY_LEN(yes); i++) {
		b = false;
		CHECK_MSG(ark_parse_bool(yes[i], "X", &b, &err) == 0 && b, "%s", yes[i]);
	}
	for (size_t i = 0; i < ARK_ARRAY_LEN(no); i++) {
		b = true;
		CHECK_MSG(ark_parse_bool(no[i], "X", &b, &err) == 0 && !b, "%s", no[i]);
	}
	b = true;
	REFUSED(ark_parse_bool("2", "WATCHDOG_ENABLED", &b, &err), -EINVAL, "WATCHDOG_ENABLED", "true or false", "2");
	REFUSED(ark_parse_bool("y", "X", &b, &err), -EINVAL, "X", "1/0, yes/no, on/off", "y");
	REFUSED(ark_parse_bool("true ", "X", &b, &err), -EINVAL, "X", "true or false", "true ");
	REFUSED(ark_parse_bool("", "X", &b, &err), -EINVAL, "X", "true or false", "");
	REFUSED(ark_parse_bool(NULL, "X", &b, &err), -EINVAL, "X", "true or false", "");
	CHECK(b);
}

static void test_size(void)
{
	uint64_t v = 0;
	CHECK(ark_parse_size("64M", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 64ull << 20);
	CHECK(ark_parse_size("64m", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 64ull << 20);
	CHECK(ark_parse_size("64MB", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 64ull << 20);
	CHECK(ark_parse_size("4k", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 4096);
	CHECK(ark_parse_size("2G", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 2ull << 30);
	CHECK(ark_parse_size("4096", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 4096);
	CHECK(ark_parse_size("1024", 1024, 1024, "S", &v, &err) == 0 && v == 1024);
	CHECK(ark_parse_size("1K", 1024, 1024, "S", &v, &err) == 0 && v == 1024);
	/* the largest value each suffix can take without overflow */
	CHECK(ark_parse_size("17179869183G", 0, UINT64_MAX, "S", &v, &err) == 0 && v == 17179869183ull << 30);
	v = 5;
	REFUSED(ark_parse_size("17179869184G", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size from 0", "17179869184G");
	REFUSED(ark_parse_size("18446744073709551616", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "18446744073709551616");
	REFUSED(ark_parse_size("1023", 1024, 4096, "ARK_JOURNAL_SEGMENT_BYTES", &v, &err), -EINVAL,
		"ARK_JOURNAL_SEGMENT_BYTES", "a size from 1024 to 4096 bytes (suffix K, M or G allowed)", "1023");
	REFUSED(ark_parse_size("5K", 1024, 4096, "S", &v, &err), -EINVAL, "S", "from 1024 to 4096", "5K");
	REFUSED(ark_parse_size("1T", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "suffix K, M or G", "1T");
	REFUSED(ark_parse_size("1MiB", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "1MiB");
	REFUSED(ark_parse_size("1 M", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "1 M");
	REFUSED(ark_parse_size("M", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "M");
	REFUSED(ark_parse_size("-1", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "-1");
	REFUSED(ark_parse_size("1.5M", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "1.5M");
	REFUSED(ark_parse_size("", 0, UINT64_MAX, "S", &v, &err), -EINVAL, "S", "a size", "");
	CHECK_EQ_U64(v, 5);
}

static void test_duration(void)
{
	uint64_t v = 0;
	CHECK(ark_parse_duration_ns("500ms", 1, "D", &v, &err) == 0 && v == 500000000ull);
	CHECK(ark_parse_duration_ns("2s", 1, "D", &v, &err) == 0 && v == 2000000000ull);
	CHECK(ark_parse_duration_ns("10us", 1, "D", &v, &err) == 0 && v == 10000ull);
	CHECK(ark_parse_duration_ns("100ns", 1, "D", &v, &err) == 0 && v == 100ull);
	CHECK(ark_parse_duration_ns("1m", 1, "D", &v, &err) == 0 && v == 60000000000ull);
	CHECK(ark_parse_duration_ns("48h", 1, "D", &v, &err) == 0 && v == 48ull * 3600 * 1000000000ull);
	CHECK(ark_parse_duration_ns("1.5s", 1, "D", &v, &err) == 0 && v == 1500000000ull);
	CHECK(ark_parse_duration_ns("0", 1000000, "D", &v, &err) == 0 && v == 0);
	/* a bare number is in the caller's unit */
	CHECK(ark_parse_duration_ns("25", 1000000, "D", &v, &err) == 0 && v == 25000000ull);
	CHECK(ark_parse_duration_ns("25", 1000000000ull, "D", &v, &err) == 0 && v == 25000000000ull);
	/* the ceiling: 1e18 ns (about 31 years) */
	CHECK(ark_parse_duration_ns("1000000000s", 1, "D", &v, &err) == 0 && v == 1000000000000000000ull);
	v = 77;
	REFUSED(ark_parse_duration_ns("1000000001s", 1, "WATCHDOG_MAX_LATENCY_MS", &v, &err), -EINVAL,
		"WATCHDOG_MAX_LATENCY_MS", "a duration such as 500ms, 2s, 10us or 1m", "1000000001s");
	REFUSED(ark_parse_duration_ns("1e300s", 1, "D", &v, &err), -EINVAL, "D", "a duration", "1e300s");
	REFUSED(ark_parse_duration_ns("5 ms", 1, "D", &v, &err), -EINVAL, "D", "a duration", "5 ms");
	REFUSED(ark_parse_duration_ns("5sec", 1, "D", &v, &err), -EINVAL, "D", "a duration", "5sec");
	REFUSED(ark_parse_duration_ns("5MS", 1, "D", &v, &err), -EINVAL, "D", "a duration", "5MS");
	REFUSED(ark_parse_duration_ns("-1s", 1, "D", &v, &err), -EINVAL, "D", "a duration", "-1s");
	REFUSED(ark_parse_duration_ns("ms", 1, "D", &v, &err), -EINVAL, "D", "a duration", "ms");
	REFUSED(ark_parse_duration_ns("soon", 1, "D", &v, &err), -EINVAL, "D", "a duration", "soon");
	REFUSED(ark_parse_duration_ns("0x10s", 1, "D", &v, &err), -EINVAL, "D", "a duration", "0x10s");
	REFUSED(ark_parse_duration_ns("", 1, "D", &v, &err), -EINVAL, "D", "a duration", "");
	CHECK_EQ_U64(v, 77);
}

static void test_cpu_list(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	CHECK(ncpu >= 1);
	int cpus[8] = {0};
	int n = -1;
	CHECK(ark_parse_cpu_list("0", cpus, 8, &n, "C", &err) == 0 && n == 1 && cpus[0] == 0);
	char text[64];
	snprintf(text, sizeof text, "0-%ld", ncpu - 1);
	if (ncpu <= 8) {
		CHECK_MSG(ark_parse_cpu_list(text, cpus, 8, &n, "C", &err) == 0, "%s", err.msg);
		CHECK_EQ_U64(n, ncpu);
		for (int i = 0; i < n; i++)
			CHECK_EQ_U64(cpus[i], i);
	}
	CHECK(ark_parse_cpu_list("0,0", cpus, 8, &n, "C", &err) == 0 && n == 2);
	CHECK(ark_parse_cpu_list("0-0", cpus, 8, &n, "C", &err) == 0 && n == 1 && cpus[0] == 0);
	/* the CPU just past the machine's last one */
	snprintf(text, sizeof text, "%ld", ncpu);
	reset_err();
	CHECK(ark_parse_cpu_list(text, cpus, 8, &n, "ARK_CPU_KYLE", &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "ARK_CPU_KYLE");
	CHECK_CONTAINS(err.msg, "does not exist");
	char have[64];
	snprintf(have, sizeof have, "CPUs 0-%ld", ncpu - 1);
	CHECK_CONTAINS(err.msg, have);
	reset_err();
	CHECK(ark_parse_cpu_list("0,0,0", cpus, 2, &n, "C", &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "at most 2 CPUs");
	reset_err();
	CHECK(ark_parse_cpu_list("99999999999999999999999", cpus, 8, &n, "C", &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "does not exist");
	n = 99;
	REFUSED(ark_parse_cpu_list("1-0", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list such as 0,1 or 0-3", "1-0");
	REFUSED(ark_parse_cpu_list("0-", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "0-");
	REFUSED(ark_parse_cpu_list("-1", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "-1");
	REFUSED(ark_parse_cpu_list("0,", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "0,");
	REFUSED(ark_parse_cpu_list(",0", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", ",0");
	REFUSED(ark_parse_cpu_list("0,,0", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "0,,0");
	REFUSED(ark_parse_cpu_list("0 1", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "0 1");
	REFUSED(ark_parse_cpu_list("a", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "a");
	REFUSED(ark_parse_cpu_list("", cpus, 8, &n, "C", &err), -EINVAL, "C", "a CPU list", "");
	CHECK_EQ_U64(n, 99);
}

static void test_env(void)
{
	uint64_t v = 0;
	unsetenv("ARK_TEST_U64");
	CHECK(ark_env_u64("ARK_TEST_U64", 17, 1, 100, &v, &err) == 0 && v == 17);
	setenv("ARK_TEST_U64", "", 1);
	CHECK(ark_env_u64("ARK_TEST_U64", 17, 1, 100, &v, &err) == 0 && v == 17);
	setenv("ARK_TEST_U64", "100", 1);
	CHECK(ark_env_u64("ARK_TEST_U64", 17, 1, 100, &v, &err) == 0 && v == 100);
	/* an unparsable or out-of-range value is an error, never the default */
	v = 0;
	setenv("ARK_TEST_U64", "101", 1);
	REFUSED(ark_env_u64("ARK_TEST_U64", 17, 1, 100, &v, &err), -ERANGE, "ARK_TEST_U64", "from 1 to 100", "101");
	setenv("ARK_TEST_U64", "ten", 1);
	REFUSED(ark_env_u64("ARK_TEST_U64", 17, 1, 100, &v, &err), -EINVAL, "ARK_TEST_U64", "whole number", "ten");
	CHECK_EQ_U64(v, 0);
	unsetenv("ARK_TEST_U64");

	bool b = false;
	unsetenv("ARK_TEST_BOOL");
	CHECK(ark_env_bool("ARK_TEST_BOOL", true, &b, &err) == 0 && b);
	setenv("ARK_TEST_BOOL", "", 1);
	CHECK(ark_env_bool("ARK_TEST_BOOL", false, &b, &err) == 0 && !b);
	setenv("ARK_TEST_BOOL", "on", 1);
	CHECK(ark_env_bool("ARK_TEST_BOOL", false, &b, &err) == 0 && b);
	setenv("ARK_TEST_BOOL", "enabled", 1);
	REFUSED(ark_env_bool("ARK_TEST_BOOL", true, &b, &err), -EINVAL, "ARK_TEST_BOOL", "true or false", "enabled");
	unsetenv("ARK_TEST_BOOL");
}

static void test_err(void)
{
	reset_err();
	CHECK(ark_err_set(&err, -ENOENT, "no %s here", "file") == -ENOENT);
	CHECK(strcmp(err.msg, "no file here") == 0);
	CHECK(err.code == -ENOENT);
	CHECK(ark_err_set(NULL, -EIO, "x") == -EIO);
	CHECK(ark_err_wrap(&err, "journal %d", 3) == -ENOENT);
	CHECK(strcmp(err.msg, "journal 3: no file here") == 0);
	CHECK(ark_err_wrap(NULL, "x") == -EINVAL);
	/* a message too long for the buffer is cut, still terminated */
	char big[2 * ARK_ERR_MAX];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ark_err_set(&err, -E2BIG, "%s", big);
	CHECK_EQ_U64(strlen(err.msg), ARK_ERR_MAX - 1);
	ark_err_wrap(&err, "ctx");
	CHECK_EQ_U64(strlen(err.msg), ARK_ERR_MAX - 1);
	CHECK(strncmp(err.msg, "ctx: aaa", 8) == 0);
	ark_err_set(&err, -E2BIG, "tail");
	ark_err_wrap(&err, "%s", big); /* a prefix too long keeps room for the rest */
	CHECK(strlen(err.msg) < ARK_ERR_MAX);
	CHECK(err.code == -E2BIG);
}

static void test_json_string(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f);
	ark_json_write_string(f, "a\"b\\c\n\t\x01\x1f\x7f é");
	fclose(f);
	/* The one writer (common/json.c): short escapes where JSON has them,
	 * \u00XX for the other controls and DEL, UTF-8 kept. */
	CHECK_MSG(strcmp(buf, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\\u007f é\"") == 0, "got %s", buf);
	free(buf);
	f = open_memstream(&buf, &len);
	ark_json_write_string(f, "");
	fclose(f);
	CHECK(strcmp(buf, "\"\"") == 0);
	free(buf);
}

static void test_clocks(void)
{
	uint64_t a = ark_now_ns(), b = ark_now_ns();
	CHECK(b >= a);
	/* the real-time clock is in this century (2020..2100) */
	uint64_t r = ark_realtime_ns();
	CHECK(r > 1577836800ull * 1000000000ull && r < 4102444800ull * 1000000000ull);
	CHECK(ark_cpu_count() >= 1);
	reset_err();
	CHECK(ark_pin_cpu(-1, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "CPU -1 does not exist");
	CHECK(ark_pin_cpu(1 << 20, &err) == -EINVAL);
}

/* ark_self_exe: this test's own binary, an absolute path to a file that
 * is the running one; a buffer too small is refused, never cut. */
static void test_self_exe(void)
{
	char exe[4096];
	reset_err();
	CHECK_MSG(ark_self_exe(exe, sizeof exe, &err) == 0, "%s", err.msg);
	CHECK(exe[0] == '/');
	CHECK(strstr(exe, "test_common") != NULL);
	struct stat a, b;
	CHECK(stat(exe, &a) == 0 && stat("/proc/self/exe", &b) == 0);
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	char small[8];
	reset_err();
	CHECK(ark_self_exe(small, sizeof small, &err) == -ENAMETOOLONG);
	CHECK(small[0] == '\0');
	CHECK(strstr(err.msg, "longer than") != NULL);
	CHECK(ark_self_exe(small, 1, NULL) == -EINVAL);
}

/* struct ark_buf: appends, printf past the first reservation, the JSON
 * sink, and a failure (the limit) that sticks until reset, so the contents
 * stay a prefix of what was written. */
static void test_buf(void)
{
	struct ark_buf b;
	ark_buf_init(&b);
	CHECK(ark_buf_puts(&b, "ab") == 0 && b.len == 2 && strcmp(b.data, "ab") == 0);
	char long_text[5000];
	memset(long_text, 'x', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	CHECK(ark_buf_printf(&b, "[%s]%d", long_text, 7) == 0);
	CHECK(b.len == 2 + 1 + 4999 + 1 + 1 && b.data[b.len] == '\0' && strcmp(b.data + b.len - 2, "]7") == 0);
	ark_buf_reset(&b);
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, &b);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "k", "a\"b");
	ark_json_number(&j, "n", NAN);
	ark_json_object_end(&j);
	CHECK_MSG(strcmp(b.data, "{\"k\":\"a\\\"b\",\"n\":null}") == 0, "%s", b.data);
	size_t before = b.len;
	CHECK(ark_buf_reserve(&b, ARK_BUF_LIMIT) == -ENOMEM && b.failed);
	CHECK(ark_buf_puts(&b, "more") == -ENOMEM && b.len == before);   /* no hole */
	CHECK(ark_buf_json_string(&b, "x") == -ENOMEM && b.len == before);
	ark_buf_reset(&b);
	CHECK(!b.failed && b.len == 0 && ark_buf_puts(&b, "ok") == 0 && strcmp(b.data, "ok") == 0);
	ark_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0);
}

/* Amounts sent as decimal text: equal or within but for 1e-9 of the larger
 * (at least 1e-9); a limit with a cent of slack, 0.00005 below $1. */
static void test_amounts(void)
{
	CHECK(ark_amount_same(9000, 9000 * (1 + 9e-10)));
	CHECK(!ark_amount_same(9000, 9000 * (1 + 2e-9)));
	CHECK(ark_amount_same(0, 9e-10) && !ark_amount_same(0, 2e-9));   /* at least 1e-9 near zero */
	CHECK(ark_amount_within(9000 * (1 + 9e-10), 9000) && ark_amount_within(1, 9000));
	CHECK(!ark_amount_within(9000 * (1 + 2e-9), 9000));
	CHECK(ark_limit_price_ok(true, 100.004, 100) && !ark_limit_price_ok(true, 100.006, 100));
	CHECK(ark_limit_price_ok(false, 99.996, 100) && !ark_limit_price_ok(false, 99.994, 100));
	CHECK(ark_limit_price_ok(true, 0.50004, 0.5) && !ark_limit_price_ok(true, 0.50006, 0.5));
	CHECK(ark_limit_price_ok(false, 0.49996, 0.5) && !ark_limit_price_ok(false, 0.49994, 0.5));
	CHECK(ark_limit_price_ok(true, 1, 100) && ark_limit_price_ok(false, 1000, 100));   /* better is fine */
	CHECK(!ark_limit_price_ok(true, NAN, 100) && !ark_limit_price_ok(false, NAN, 100));
}

int main(void)
{
	test_u64();
	test_double();
	test_bool();
	test_size();
	test_duration();
	test_cpu_list();
	test_env();
	test_err();
	test_json_string();
	test_clocks();
	test_self_exe();
	test_buf();
	test_amounts();
	printf("test_common: ok\n");
	return 0;
}
