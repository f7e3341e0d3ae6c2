/* tests/event/test_event.c — event/: trace ids (node and sequence packed,
 * the API's bit, the text form round-tripping, every refusal), agent names
 * both ways, the names of every enumeration, and the layout the journal and
 * the rings depend on. */
#include "check.h"
#include "event/event.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static void test_trace_id_pack(void)
{
	CHECK_EQ_U64(ark_trace_id(0, 42), 42);
	CHECK_EQ_U64(ark_trace_id(1, 42), (1ull << 48) | 42);
	CHECK_EQ_U64(ark_trace_id(0xffff, 0xffffffffffffull), UINT64_MAX);
	/* the sequence number keeps its 48 bits; the node its 16 */
	CHECK_EQ_U64(ark_trace_id(2, (1ull << 48) | 5), (2ull << 48) | 5);
	CHECK_EQ_U64(ark_trace_id(7, 9) >> 48, 7);
	uint64_t api = ark_trace_id_api(3, 10);
	CHECK_EQ_U64(api >> 48, 3);
	CHECK(api & ARK_TRACE_API_BIT);
	CHECK_EQ_U64(api & (ARK_TRACE_API_BIT - 1), 10);
	/* an API id never equals a Kyle id of the same node */
	CHECK(ark_trace_id_api(3, 10) != ark_trace_id(3, 10));
	CHECK_EQ_U64(ark_trace_id_api(0, ARK_TRACE_API_BIT | 4), ARK_TRACE_API_BIT | 4);
}

static void test_trace_id_text(void)
{
	char text[24];
	ark_trace_id_format(ark_trace_id(1, 42), text);
	CHECK(strcmp(text, "0001-00000000002a") == 0);
	ark_trace_id_format(0, text);
	CHECK(strcmp(text, "0000-000000000000") == 0);
	ark_trace_id_format(UINT64_MAX, text);
	CHECK(strcmp(text, "ffff-ffffffffffff") == 0);

	/* round trip through the text form, also with the API bit */
	uint64_t ids[] = {0, 1, 42, ark_trace_id(1, 42), ark_trace_id_api(65535, 123456789),
			  0x0123456789abcdefull, UINT64_MAX, 1ull << 47, 1ull << 48};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		uint64_t back = 0xdead;
		ark_trace_id_format(ids[i], text);
		CHECK_EQ_U64(strlen(text), 17);
		CHECK_MSG(ark_trace_id_parse(text, &back) == 0, "%s", text);
		CHECK_EQ_U64(back, ids[i]);
	}
	uint64_t x = 0;
	/* the bare 16-digit hex form, either case */
	CHECK(ark_trace_id_parse("000100000000002a", &x) == 0 && x == ark_trace_id(1, 42));
	CHECK(ark_trace_id_parse("000100000000002A", &x) == 0 && x == ark_trace_id(1, 42));
	CHECK(ark_trace_id_parse("0001-00000000002A", &x) == 0 && x == ark_trace_id(1, 42));
	/* a decimal sequence number: node 0 */
	CHECK(ark_trace_id_parse("42", &x) == 0 && x == 42);
	CHECK(ark_trace_id_parse("0", &x) == 0 && x == 0);
	CHECK(ark_trace_id_parse("281474976710655", &x) == 0 && x == 0xffffffffffffull); /* 2^48 - 1 */

	static const struct {
		const char *text;
		int rc;
	} bad[] = {
		{"", -EINVAL},
		{"-1", -EINVAL},
		{"+1", -EINVAL},
		{"4 2", -EINVAL},
		{"42 ", -EINVAL},
		{"0x2a", -EINVAL},
		{"abc", -EINVAL},
		{"0001_00000000002a", -EINVAL},   /* 17 characters, no hyphen at 4 */
		{"00010-0000000002a", -EINVAL},   /* hyphen elsewhere */
		{"000g-00000000002a", -EINVAL},   /* not hex in the node */
		{"0001-00000000002g", -EINVAL},   /* not hex in the seq */
		{"0001-0000000002a", -EINVAL},    /* seq one digit short */
		{"0001--00000000002a", -EINVAL},
		{"000100000000002g", -EINVAL},    /* 16 characters, not hex */
		{" 00100000000002a", -EINVAL},
		{"281474976710656", -ERANGE},     /* 2^48: beyond a sequence number */
		{"999999999999999", -ERANGE},
		{"12345678901234567", -ERANGE},   /* 17 digits: too many for a seq */
		{"1234567890123456789", -ERANGE}, /* too many digits for a seq */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		x = 0x77;
		int rc = ark_trace_id_parse(bad[i].text, &x);
		CHECK_MSG(rc == bad[i].rc, "'%s': %d, wanted %d", bad[i].text, rc, bad[i].rc);
		CHECK_EQ_U64(x, 0x77);
	}
	CHECK(ark_trace_id_parse(NULL, &x) == -EINVAL);
}

static void test_names(void)
{
	static const char *files[] = {"kyle", "joey", "hrm", "kenny", "aletheia"};
	static const char *names[] = {"Kyle", "Joey", "HRM", "Kenny", "Aletheia"};
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		CHECK(strcmp(ark_agent_file_name((enum ark_agent)a), files[a]) == 0);
		CHECK(strcmp(ark_agent_name((enum ark_agent)a), names[a]) == 0);
		CHECK_EQ_U64(ark_agent_parse(files[a]), a);
		CHECK_EQ_U64(ark_agent_parse(names[a]), a);
		char upper[16];
		size_t n = strlen(files[a]);
		for (size_t i = 0; i <= n; i++)
			upper[i] = (char)(files[a][i] >= 'a' ? files[a][i] - 32 : files[a][i]);
		CHECK_EQ_U64(ark_agent_parse(upper), a);
	}
	CHECK(ark_agent_parse("kyl") == -1);
	CHECK(ark_agent_parse("kyle ") == -1);
	CHECK(ark_agent_parse("") == -1);
	CHECK(ark_agent_parse(NULL) == -1);
	CHECK(strcmp(ark_agent_name(ARK_AGENT_COUNT), "?") == 0);
	CHECK(strcmp(ark_agent_file_name((enum ark_agent)-1), "?") == 0);

	/* reason names: each known, distinct, and what operators and the
	 * journal's readers use for the first ones */
	for (int r = 0; r < ARK_REASON_COUNT; r++) {
		const char *name = ark_reason_name((enum ark_reason)r);
		CHECK_MSG(name && *name && strcmp(name, "unknown") != 0, "reason %d has no name", r);
		for (int s = 0; s < r; s++)
			CHECK_MSG(strcmp(name, ark_reason_name((enum ark_reason)s)) != 0, "reasons %d and %d share '%s'", s, r, name);
	}
	CHECK(strcmp(ark_reason_name(ARK_REASON_NONE), "none") == 0);
	CHECK(strcmp(ark_reason_name(ARK_REASON_MAX_QUANTITY), "max_quantity") == 0);
	CHECK(strcmp(ark_reason_name(ARK_REASON_QUARANTINED), "quarantined") == 0);
	CHECK(strcmp(ark_reason_name(ARK_REASON_ETHICS_DRIFT), "ethics_drift") == 0);
	CHECK(strcmp(ark_reason_name(ARK_REASON_COUNT), "unknown") == 0);
	CHECK(strcmp(ark_side_name(ARK_SIDE_BUY), "buy") == 0);
	CHECK(strcmp(ark_side_name(ARK_SIDE_SELL), "sell") == 0);
	CHECK(strcmp(ark_side_name(ARK_SIDE_NONE), "none") == 0);
	CHECK(strcmp(ark_side_name((enum ark_side)9), "?") == 0);
	CHECK(strcmp(ark_verdict_name(ARK_VERDICT_ALLOW), "allow") == 0);
	CHECK(strcmp(ark_verdict_name(ARK_VERDICT_DENY), "deny") == 0);
	CHECK(strcmp(ark_exec_status_name(ARK_EXEC_FILLED), "filled") == 0);
	CHECK(strcmp(ark_exec_status_name(ARK_EXEC_SUBMITTED), "submitted") == 0);
	CHECK(strcmp(ark_exec_status_name((enum ark_exec_status)99), "?") == 0);
	CHECK(strcmp(ark_source_name(ARK_SOURCE_ALPHA_VANTAGE), "alpha_vantage") == 0);
	CHECK(strcmp(ark_source_name(ARK_SOURCE_API), "api") == 0);
}

static void test_layout(void)
{
	/* the journal stores events as they are: the layout is the format */
	CHECK_EQ_U64(sizeof(struct ark_event), 256);
	CHECK_EQ_U64(sizeof(struct ark_tick), 64);
	CHECK_EQ_U64(offsetof(struct ark_event, side), 64);
	CHECK_EQ_U64(offsetof(struct ark_event, stamp_in_ns), 128);
	CHECK_EQ_U64(ARK_SYMBOL_MAX, 16);
}

int main(void)
{
	test_trace_id_pack();
	test_trace_id_text();
	test_names();
	test_layout();
	printf("test_event: ok\n");
	return 0;
}
