/* tests/feed/test_feed_parse.c — the line parser on its own: every field's
 * rules, every reason a line can be refused for, exact round trips of
 * prices, and a mutation loop that must never crash or misreport. */
#include "feed_test_util.h"

#include <math.h>

static enum ark_feed_reason parse(const char *line, struct ark_tick *t)
{
	char detail[160];
	memset(t, 0xa5, sizeof *t);
	enum ark_feed_reason r = ark_feed_parse_line(line, strlen(line), t, detail, sizeof detail);
	if (r)
		CHECK_MSG(detail[0] != '\0', "no detail for reason %s on %s", ark_feed_reason_name(r), line);
	return r;
}

static void expect(const char *line, enum ark_feed_reason want)
{
	struct ark_tick t;
	enum ark_feed_reason got = parse(line, &t);
	CHECK_MSG(got == want, "'%s': got %s, expected %s", line, ark_feed_reason_name(got),
		  ark_feed_reason_name(want));
}

static void expect_bytes(const char *line, size_t len, enum ark_feed_reason want)
{
	struct ark_tick t;
	enum ark_feed_reason got = ark_feed_parse_line(line, len, &t, NULL, 0);
	CHECK_MSG(got == want, "line of %zu bytes: got %s, expected %s", len, ark_feed_reason_name(got),
		  ark_feed_reason_name(want));
}

static void test_good(void)
{
	struct ark_tick t;
	CHECK(parse("{\"symbol\":\"AAPL\",\"price\":187.25,\"size\":100,\"ts\":1732800000123456789}", &t) == 0);
	CHECK(strcmp(t.symbol, "AAPL") == 0);
	for (size_t i = 4; i < sizeof t.symbol; i++)
		CHECK(t.symbol[i] == 0);  /* padded, so a tick compares byte for byte */
	CHECK(t.price == 187.25 && t.size == 100 && t.exchange_time_ns == 1732800000123456789ull);
	/* The parser fills only the market fields; the feed does the rest. */
	CHECK(t.source_seq == 0xa5a5a5a5a5a5a5a5ull);

	/* Any key order, blanks, CR, no ts. */
	CHECK(parse(" \t{ \"size\" : 0 , \"price\" : 1e-3, \"symbol\" : \"BRK.B\" } \r", &t) == 0);
	CHECK(strcmp(t.symbol, "BRK.B") == 0 && t.price == 1e-3 && t.size == 0 && t.exchange_time_ns == 0);
	CHECK(parse("{\"symbol\":\"BF-B\",\"price\":2,\"size\":-0}", &t) == 0);
	CHECK(t.size == 0 && !signbit(t.size));
	CHECK(parse("{\"symbol\":\"ABCDEFGHIJKLMN5\",\"price\":1,\"size\":1.5E+2}", &t) == 0);
	CHECK(strlen(t.symbol) == 15 && t.size == 150);
	CHECK(parse("{\"symbol\":\"X_1\",\"price\":0.5,\"size\":1,\"ts\":1}", &t) == 0 && t.exchange_time_ns == 1);
	CHECK(parse("{\"symbol\":\"X\",\"price\":1,\"size\":1,\"ts\":9223372036854775807}", &t) == 0 &&
	      t.exchange_time_ns == 9223372036854775807ull);

	/* ISO-8601 times. 2024-11-28T12:00:00Z is 1732795200 s. */
	CHECK(parse("{\"symbol\":\"X\",\"price\":1,\"size\":1,\"ts\":\"2024-11-28T12:00:00Z\"}", &t) == 0);
	CHECK_EQ_U64(t.exchange_time_ns, 1732795200ull * 1000000000ull);
	CHECK(parse("{\"symbol\":\"X\",\"price\":1,\"size\":1,\"ts\":\"2024-11-28T12:00:00.123456789+01:00\"}", &t) == 0);
	CHECK_EQ_U64(t.exchange_time_ns, 1732791600123456789ull);
	CHECK(parse("{\"symbol\":\"X\",\"price\":1,\"size\":1,\"ts\":\"2024-11-28T12:00:00.5-00:30\"}", &t) == 0);
	CHECK_EQ_U64(t.exchange_time_ns, (1732795200ull + 1800) * 1000000000ull + 500000000ull);
	CHECK(parse("{\"symbol\":\"X\",\"price\":1,\"size\":1,\"ts\":\"2024-02-29T00:00:00Z\"}", &t) == 0);
	CHECK_EQ_U64(t.exchange_time_ns, 1709164800ull * 1000000000ull);
	CHECK(parse("{\"symbol\":\"X\",\"price\":1,\"size\":1,\"ts\":\"1970-01-01T00:00:00.000000001Z\"}", &t) == 0);
	CHECK_EQ_U64(t.exchange_time_ns, 1);

	/* Prices survive text exactly (%.17g round trip). */
	srand48(7);
	for (int i = 0; i < 20000; i++) {
		double price = exp(drand48() * 40 - 20), size = floor(drand48() * 1e6) / 7;
		uint64_t ts = 1700000000000000000ull + (uint64_t)(drand48() * 1e17);
		char line[256];
		format_tick(line, sizeof line, "RT", price, size, ts);
		CHECK(parse(line, &t) == 0);
		CHECK_MSG(same_double(t.price, price) && same_double(t.size, size) && t.exchange_time_ns == ts,
			  "round trip of %s", line);
	}
}

static void test_reasons(void)
{
	const char *ok = "\"symbol\":\"A\",\"price\":1,\"size\":1";
	char line[4096];
	(void)ok;

	expect("", ARK_FEED_EMPTY_LINE);
	expect("   \t ", ARK_FEED_EMPTY_LINE);
	expect("\r", ARK_FEED_EMPTY_LINE);

	expect_bytes("{\"symbol\":\"A\0B\",\"price\":1,\"size\":1}", 35, ARK_FEED_CONTROL_CHAR);
	expect("{\"symbol\":\"A\x01\",\"price\":1,\"size\":1}", ARK_FEED_CONTROL_CHAR);
	expect("{\"symbol\":\"A\",\"price\":1,\r\"size\":1}", ARK_FEED_CONTROL_CHAR);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1}\x7f", ARK_FEED_CONTROL_CHAR);
	expect("\xff{}", ARK_FEED_BAD_UTF8);
	expect("{\"symbol\":\"\xc0\xaf\",\"price\":1,\"size\":1}", ARK_FEED_BAD_UTF8);      /* overlong */
	expect("{\"symbol\":\"\xed\xa0\x80\",\"price\":1,\"size\":1}", ARK_FEED_BAD_UTF8);  /* surrogate */
	expect("{\"symbol\":\"\xf4\x90\x80\x80\",\"price\":1,\"size\":1}", ARK_FEED_BAD_UTF8);
	expect("{\"symbol\":\"\xe2\x82\",\"price\":1,\"size\":1}", ARK_FEED_BAD_UTF8);      /* truncated */
	/* Valid UTF-8 is not the problem; the symbol is. */
	expect("{\"symbol\":\"\xe2\x82\xac\",\"price\":1,\"size\":1}", ARK_FEED_BAD_SYMBOL);

	const char *malformed[] = {
		"{\"symbol\":\"A\",\"price\":1,\"size\":1",
		"{\"symbol\":\"A\",\"price\":1,\"size\":1,}",
		"{,\"symbol\":\"A\",\"price\":1,\"size\":1}",
		"{\"symbol\":\"A\",,\"price\":1,\"size\":1}",
		"{\"symbol\" \"A\",\"price\":1,\"size\":1}",
		"{\"symbol\"::\"A\",\"price\":1,\"size\":1}",
		"{\"symbol\":\"A\" \"price\":1,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":1 \"size\":1}",
		"{symbol:\"A\",\"price\":1,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":01,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":1.,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":.5,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":+1,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":1e,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":0x10,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":tru,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":1,\"size\":1} x",
		"{\"symbol\":\"A\",\"price\":1,\"size\":1}}",
		"{\"symbol\":\"A\",\"price\":1,\"size\":1}{}",
		"{\"symbol\":\"A\\q\",\"price\":1,\"size\":1}",
		"{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":}",
		"{\"symbol\":\"A\":\"price\",\"size\":1}",
		"not json",
		"}",
		"{\"a\":[1,2}",
	};
	for (size_t i = 0; i < ARK_ARRAY_LEN(malformed); i++)
		expect(malformed[i], ARK_FEED_MALFORMED_JSON);

	/* Deep nesting and long arrays are refused without being walked. */
	int n = 0;
	n += sprintf(line + n, "{\"symbol\":");
	for (int i = 0; i < 400; i++)
		line[n++] = '[';
	for (int i = 0; i < 400; i++)
		line[n++] = ']';
	sprintf(line + n, ",\"price\":1,\"size\":1}");
	expect(line, ARK_FEED_TOO_COMPLEX);
	n = 0;
	for (int i = 0; i < 600; i++)  /* 3000 bytes: within line[] */
		n += sprintf(line + n, "{\"a\":");
	line[n] = '\0';
	expect(line, ARK_FEED_TOO_COMPLEX);
	n = sprintf(line, "{\"symbol\":\"A\",\"price\":1,\"size\":[");
	for (int i = 0; i < 100; i++)
		n += sprintf(line + n, "%d,", i);
	sprintf(line + n - 1, "]}");
	expect(line, ARK_FEED_TOO_COMPLEX);

	expect("[1,2,3]", ARK_FEED_NOT_OBJECT);
	expect("\"AAPL\"", ARK_FEED_NOT_OBJECT);
	expect("42", ARK_FEED_NOT_OBJECT);
	expect("true", ARK_FEED_NOT_OBJECT);
	expect("null", ARK_FEED_NOT_OBJECT);

	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1,\"venue\":\"X\"}", ARK_FEED_UNKNOWN_KEY);
	expect("{\"Symbol\":\"A\",\"price\":1,\"size\":1}", ARK_FEED_UNKNOWN_KEY);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1,\"extra\":{\"x\":[1,2]}}", ARK_FEED_UNKNOWN_KEY);
	expect("{\"symbol\":\"A\",\"symbol\":\"B\",\"price\":1,\"size\":1}", ARK_FEED_DUPLICATE_KEY);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1,\"price\":2}", ARK_FEED_DUPLICATE_KEY);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":1,\"ts\":1}", ARK_FEED_DUPLICATE_KEY);

	expect("{}", ARK_FEED_MISSING_FIELD);
	expect("{\"price\":1,\"size\":1}", ARK_FEED_MISSING_FIELD);
	expect("{\"symbol\":\"A\",\"size\":1}", ARK_FEED_MISSING_FIELD);
	expect("{\"symbol\":\"A\",\"price\":1}", ARK_FEED_MISSING_FIELD);
	expect("{\"symbol\":\"A\",\"price\":1,\"ts\":5}", ARK_FEED_MISSING_FIELD);

	expect("{\"symbol\":\"A\",\"price\":\"1.5\",\"size\":1}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":42,\"price\":1,\"size\":1}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":true}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":\"A\",\"price\":null,\"size\":1}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":[\"A\"],\"price\":1,\"size\":1}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":\"A\",\"price\":{\"v\":1},\"size\":1}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":[1]}", ARK_FEED_BAD_TYPE);
	expect("{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":false}", ARK_FEED_BAD_TYPE);

	const char *symbols[] = {"\"\"", "\"aapl\"", "\"Aapl\"", "\".A\"", "\"-A\"", "\"A B\"", "\"A/B\"",
				 "\"ABCDEFGHIJKLMNOP\"", "\"\\u0041\"", "\"A\\n\""};
	for (size_t i = 0; i < ARK_ARRAY_LEN(symbols); i++) {
		snprintf(line, sizeof line, "{\"symbol\":%s,\"price\":1,\"size\":1}", symbols[i]);
		expect(line, ARK_FEED_BAD_SYMBOL);
	}

	const char *prices[] = {"0", "-0", "-1", "-1e-300", "NaN", "nan", "Infinity", "-Infinity", "inf",
				"1e999", "-1e999", "0e5"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(prices); i++) {
		snprintf(line, sizeof line, "{\"symbol\":\"A\",\"price\":%s,\"size\":1}", prices[i]);
		expect(line, ARK_FEED_BAD_PRICE);
	}
	n = sprintf(line, "{\"symbol\":\"A\",\"price\":");
	for (int i = 0; i < 400; i++)
		line[n++] = '9';
	sprintf(line + n, ",\"size\":1}");
	expect(line, ARK_FEED_BAD_PRICE);  /* a 400-digit number */

	const char *sizes[] = {"-1", "-1e-300", "NaN", "-Infinity", "Infinity", "1e400"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(sizes); i++) {
		snprintf(line, sizeof line, "{\"symbol\":\"A\",\"price\":1,\"size\":%s}", sizes[i]);
		expect(line, ARK_FEED_BAD_SIZE);
	}

	const char *times[] = {"0", "-5", "1.5", "1e9", "99999999999999999999", "9223372036854775808",
			       "\"yesterday\"", "\"2024-13-01T00:00:00Z\"", "\"2023-02-29T00:00:00Z\"",
			       "\"1969-12-31T23:59:59Z\"", "\"2024-11-28T24:00:00Z\"", "\"2024-11-28T12:00:60Z\"",
			       "\"2024-11-28 12:00:00Z\"", "\"2024-11-28T12:00:00\"", "\"2024-11-28T12:00:00.Z\"",
			       "\"2024-11-28T12:00:00.1234567890Z\"", "\"2024-11-28T12:00:00+0100\"",
			       "\"2300-01-01T00:00:00Z\"", "\"2024-11-28T12:00:00Zjunk\"", "\"\""};
	for (size_t i = 0; i < ARK_ARRAY_LEN(times); i++) {
		snprintf(line, sizeof line, "{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":%s}", times[i]);
		expect(line, ARK_FEED_BAD_TIMESTAMP);
	}

	/* Structure errors win over field errors. */
	expect("{\"symbol\":\"aapl\",\"price\":-1,\"size\":1,}", ARK_FEED_MALFORMED_JSON);
}

static void test_names(void)
{
	for (int a = 0; a < ARK_FEED_REASON_COUNT; a++) {
		const char *name = ark_feed_reason_name((enum ark_feed_reason)a);
		CHECK(name && *name && strcmp(name, "unknown") != 0);
		for (int b = 0; b < a; b++)
			CHECK(strcmp(name, ark_feed_reason_name((enum ark_feed_reason)b)) != 0);
	}
	CHECK(strcmp(ark_feed_reason_name(ARK_FEED_REASON_COUNT), "unknown") == 0);
	CHECK(strcmp(ark_feed_reason_name(ARK_FEED_BAD_PRICE), "bad_price") == 0);
}

/* Random mutations of good lines: the parser must stay in bounds (ASan),
 * always give a known reason with a detail, and accept only lines whose
 * tick is within the documented rules. */
static void test_mutations(void)
{
	static const char alphabet[] = "{}[]\":,.-+eE0123456789 \tabcdefnrtulsAZ\\\x01\xff\xc3\xa9";
	uint64_t count = test_scaled(200000, 20000);
	srand48(11);
	uint64_t good = 0;
	for (uint64_t i = 0; i < count; i++) {
		char line[512];
		int n = format_tick(line, sizeof line, "MUT", 1 + drand48() * 100, floor(drand48() * 100),
				    1700000000000000000ull + i);
		int edits = 1 + (int)(drand48() * 4);
		for (int e = 0; e < edits && n > 0; e++) {
			int at = (int)(drand48() * n);
			switch ((int)(drand48() * 4)) {
			case 0: line[at] = alphabet[(int)(drand48() * (sizeof alphabet - 1))]; break;
			case 1: memmove(line + at, line + at + 1, (size_t)(n - at)); n--; break;
			case 2:
				if (n < 500) {
					memmove(line + at + 1, line + at, (size_t)(n - at + 1));
					line[at] = alphabet[(int)(drand48() * (sizeof alphabet - 1))];
					n++;
				}
				break;
			default: n = at; line[n] = '\0'; break;
			}
		}
		struct ark_tick t;
		char detail[160];
		enum ark_feed_reason r = ark_feed_parse_line(line, (size_t)n, &t, detail, sizeof detail);
		CHECK(r < ARK_FEED_REASON_COUNT && r != ARK_FEED_LINE_TOO_LONG && r != ARK_FEED_PARTIAL_LINE &&
		      r != ARK_FEED_LINE_TIMEOUT);
		if (r) {
			CHECK(detail[0]);
			continue;
		}
		good++;
		size_t len = strnlen(t.symbol, sizeof t.symbol);
		CHECK(len >= 1 && len <= ARK_FEED_SYMBOL_MAX_LEN);
		CHECK(isfinite(t.price) && t.price > 0 && isfinite(t.size) && t.size >= 0);
	}
	CHECK(good > 0 && good < count);  /* both outcomes were exercised */
}

int main(void)
{
	test_good();
	test_reasons();
	test_names();
	test_mutations();
	printf("feed parse: ok\n");
	return 0;
}
