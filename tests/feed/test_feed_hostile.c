/* tests/feed/test_feed_hostile.c — what a hostile or broken client can do to
 * the feed, while a good client keeps sending:
 *
 *   hostile    a 1 MB line, binary garbage, NUL bytes, deep nesting, huge
 *              numbers, NaN/Infinity, duplicate keys, missing fields, wrong
 *              types, empty lines, a close mid-line: each counted under its
 *              reason and logged; every good tick arrives, in order
 *   slowloris  clients holding half a line are cut off after line_timeout;
 *              the good client is not held up
 *   ratelimit  a flood of bad lines: the log holds at most the burst per
 *              second plus a summary, the counters hold everything
 *   fuzz       20k random lines over several connections: no crash, and
 *              the counters agree line for line with the parser's verdicts */
#include "feed_test_util.h"

#include <math.h>

/* ---- The good client, sending all along ---- */

struct good_client {
	uint16_t port;
	int lines;
	unsigned pause_every;   /* sleep 1 ms every so many lines */
	char symbol[16];
};

static double good_price(int i)
{
	return 50.0 + i * 0.25;
}

static void *good_main(void *arg)
{
	struct good_client *g = arg;
	int fd = client_connect(g->port);
	for (int i = 0; i < g->lines; i++) {
		char line[160];
		int n = format_tick(line, sizeof line - 1, g->symbol, good_price(i), i, test_ts_base() + (uint64_t)i);
		line[n++] = '\n';
		send_all(fd, line, (size_t)n);
		if (g->pause_every && i % g->pause_every == 0)
			sleep_ms(1);
	}
	close(fd);
	return NULL;
}

static void check_good_ticks(struct collector *got, const struct good_client *g)
{
	int next = 0;
	pthread_mutex_lock(&got->mu);
	for (size_t i = 0; i < got->count; i++) {
		const struct ark_tick *t = &got->ticks[i];
		if (strcmp(t->symbol, g->symbol) != 0)
			continue;
		CHECK_MSG(same_double(t->price, good_price(next)) && t->size == next &&
				  t->exchange_time_ns == test_ts_base() + (uint64_t)next,
			  "good tick %d out of order or altered", next);
		next++;
	}
	pthread_mutex_unlock(&got->mu);
	CHECK_EQ_U64(next, g->lines);
}

/* ---- hostile ---- */

struct hostile_line {
	const char *text;
	enum ark_feed_reason reason;
};

static const struct hostile_line hostile_lines[] = {
	{"", ARK_FEED_EMPTY_LINE},
	{"    ", ARK_FEED_EMPTY_LINE},
	{"\r", ARK_FEED_EMPTY_LINE},
	{"{\"symbol\":\"A\",\"price\":1e999,\"size\":1}", ARK_FEED_BAD_PRICE},
	{"{\"symbol\":\"A\",\"price\":NaN,\"size\":1}", ARK_FEED_BAD_PRICE},
	{"{\"symbol\":\"A\",\"price\":Infinity,\"size\":1}", ARK_FEED_BAD_PRICE},
	{"{\"symbol\":\"A\",\"price\":-3,\"size\":1}", ARK_FEED_BAD_PRICE},
	{"{\"symbol\":\"A\",\"price\":1,\"size\":-Infinity}", ARK_FEED_BAD_SIZE},
	{"{\"symbol\":\"A\",\"price\":1,\"size\":1e400}", ARK_FEED_BAD_SIZE},
	{"{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":99999999999999999999}", ARK_FEED_BAD_TIMESTAMP},
	{"{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":\"noon\"}", ARK_FEED_BAD_TIMESTAMP},
	{"{\"symbol\":\"A\",\"symbol\":\"B\",\"price\":1,\"size\":1}", ARK_FEED_DUPLICATE_KEY},
	{"{\"symbol\":\"A\",\"price\":1}", ARK_FEED_MISSING_FIELD},
	{"{}", ARK_FEED_MISSING_FIELD},
	{"{\"symbol\":\"A\",\"price\":\"1\",\"size\":1}", ARK_FEED_BAD_TYPE},
	{"{\"symbol\":7,\"price\":1,\"size\":1}", ARK_FEED_BAD_TYPE},
	{"{\"symbol\":\"A\",\"price\":1,\"size\":1,\"side\":\"buy\"}", ARK_FEED_UNKNOWN_KEY},
	{"{\"symbol\":\"a b\",\"price\":1,\"size\":1}", ARK_FEED_BAD_SYMBOL},
	{"{\"symbol\":\"A\",\"price\":1,", ARK_FEED_MALFORMED_JSON},
	{"this is not json", ARK_FEED_MALFORMED_JSON},
	{"[1,2,3]", ARK_FEED_NOT_OBJECT},
	{"\xff\xfe garbage \x80", ARK_FEED_BAD_UTF8},
	{"{\"symbol\":\"A\x01\",\"price\":1,\"size\":1}", ARK_FEED_CONTROL_CHAR},
};

static void test_hostile(void)
{
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	struct runner r;
	runner_start(&r, &cfg);
	uint16_t port = ark_feed_port(r.feed);
	uint64_t expect[ARK_FEED_REASON_COUNT] = {0};

	struct good_client g = {.port = port, .lines = (int)test_scaled(3000, 500), .pause_every = 20};
	strcpy(g.symbol, "GOOD");
	pthread_t good;
	CHECK(pthread_create(&good, NULL, good_main, &g) == 0);

	/* One connection sends every hostile line, interleaved with nothing
	 * good: it must not disturb the good client. */
	int fd = client_connect(port);
	for (size_t i = 0; i < ARK_ARRAY_LEN(hostile_lines); i++) {
		send_str(fd, hostile_lines[i].text);
		send_str(fd, "\n");
		expect[hostile_lines[i].reason]++;
	}
	/* NUL bytes inside a line. */
	static const char nul_line[] = "{\"symbol\":\"A\0\0\",\"price\":1,\"size\":1}\n";
	send_all(fd, nul_line, sizeof nul_line - 1);
	expect[ARK_FEED_CONTROL_CHAR]++;
	/* Deep nesting within the line limit, and beyond it. */
	char deep[4096];
	int n = sprintf(deep, "{\"symbol\":");
	for (int i = 0; i < 300; i++)
		deep[n++] = '[';
	for (int i = 0; i < 300; i++)
		deep[n++] = ']';
	n += sprintf(deep + n, ",\"price\":1,\"size\":1}\n");
	send_all(fd, deep, (size_t)n);
	expect[ARK_FEED_TOO_COMPLEX]++;
	/* A 400-digit price. */
	n = sprintf(deep, "{\"symbol\":\"A\",\"price\":");
	for (int i = 0; i < 400; i++)
		deep[n++] = '7';
	n += sprintf(deep + n, ",\"size\":1}\n");
	send_all(fd, deep, (size_t)n);
	expect[ARK_FEED_BAD_PRICE]++;
	/* A 1 MB line: skipped as it streams, counted once. */
	size_t big = 1u << 20;
	char *mb = malloc(big + 1);
	CHECK(mb);
	memset(mb, '[', big);
	mb[big] = '\n';
	send_all(fd, mb, big + 1);
	expect[ARK_FEED_LINE_TOO_LONG]++;
	/* A line just over the limit and one at it (1024 bytes + CRLF). */
	n = sprintf(deep, "{\"symbol\":\"A\",\"price\":1,\"size\":1,\"ts\":\"");
	memset(deep + n, 'x', 1100);
	sprintf(deep + n + 1100, "\"}\n");
	send_str(fd, deep);
	expect[ARK_FEED_LINE_TOO_LONG]++;
	n = sprintf(deep, "{\"symbol\":\"EDGE\",\"price\":1,\"size\":1}");
	memset(deep + n - 1, ' ', 1024 - (size_t)n + 1);
	sprintf(deep + 1023, "}\r\n");
	CHECK(strlen(deep) == 1026);
	send_str(fd, deep);
	expect[ARK_FEED_OK]++;  /* exactly at the limit: a good tick */
	/* Binary garbage: random bytes, newlines now and then. */
	unsigned seed = 99;
	size_t garbage_lines = 0;
	for (int i = 0; i < 64; i++) {
		char junk[300];
		size_t len = 1 + (size_t)(rand_r(&seed) % 299);
		for (size_t j = 0; j < len; j++) {
			junk[j] = (char)(rand_r(&seed) & 0xff);
			if (junk[j] == '\n')
				junk[j] = '\x80';
		}
		junk[0] = '\x80';  /* never valid: the line starts with a continuation byte */
		send_all(fd, junk, len);
		send_str(fd, "\n");
		garbage_lines++;
	}
	expect[ARK_FEED_BAD_UTF8] += garbage_lines;
	close(fd);

	/* Clients that close in the middle of a line, normal and oversized. */
	fd = client_connect(port);
	send_str(fd, "{\"symbol\":\"OTHER\",\"price\":1,\"size\":1}\n{\"symbol\":\"CUT\",\"pri");
	close(fd);
	expect[ARK_FEED_OK]++;
	expect[ARK_FEED_PARTIAL_LINE]++;
	fd = client_connect(port);
	send_all(fd, mb, 5000);
	close(fd);
	expect[ARK_FEED_LINE_TOO_LONG]++;
	free(mb);

	CHECK(pthread_join(good, NULL) == 0);
	uint64_t bad = 0;
	for (int i = 1; i < ARK_FEED_REASON_COUNT; i++)
		bad += expect[i];
	uint64_t ticks = (uint64_t)g.lines + expect[ARK_FEED_OK];
	struct ark_feed_counters k;
	WAIT_UNTIL(r.feed, k, k.lines == ticks + bad && k.connections_closed == 4, 20000);
	runner_stop(&r);
	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.ticks, ticks);
	CHECK_EQ_U64(k.bad, bad);
	for (int i = 1; i < ARK_FEED_REASON_COUNT; i++) {
		CHECK_MSG(k.bad_by_reason[i] == expect[i], "%s: counted %" PRIu64 ", expected %" PRIu64,
			  ark_feed_reason_name((enum ark_feed_reason)i), k.bad_by_reason[i], expect[i]);
		char needle[64];
		snprintf(needle, sizeof needle, " bad tick reason=%s ", ark_feed_reason_name((enum ark_feed_reason)i));
		CHECK_MSG(log_count(&got, needle, NULL) == expect[i], "%s logged %zu times, expected %" PRIu64,
			  needle, log_count(&got, needle, NULL), expect[i]);
	}
	check_good_ticks(&got, &g);
	CHECK(got.count == ticks);
	/* The log line's shape: ts level feed message key=value, the offending
	 * bytes escaped. */
	CHECK(log_count(&got, " warn feed bad tick reason=control_char conn=", "text=\"{\\\"symbol\\\":\\\"A\\x00\\x00") == 1);
	CHECK(log_count(&got, "reason=line_too_long", "detail=\"line of 1048576 bytes, at most 1024\"") == 1);
	CHECK(log_count(&got, "reason=partial_line", "text=\"{\\\"symbol\\\":\\\"CUT\\\",\\\"pri\"") == 1);
	pthread_mutex_lock(&got.mu);
	for (size_t i = 0; i < got.nlogs; i++) {
		const char *l = got.logs[i];
		CHECK_MSG(strlen(l) > 35 && l[4] == '-' && l[10] == 'T' && l[23] == 'Z' && l[24] == ' ' &&
				  (strncmp(l + 25, "info feed ", 10) == 0 || strncmp(l + 25, "warn feed ", 10) == 0),
			  "log line shape: %s", l);
	}
	pthread_mutex_unlock(&got.mu);
	ark_feed_destroy(r.feed);
	collector_free(&got);
	printf("feed hostile: %" PRIu64 " bad lines counted by reason, %" PRIu64 " good ticks intact\n", bad, ticks);
}

/* ---- slowloris ---- */

struct loris {
	uint16_t port;
	bool dribble;        /* one byte every 50 ms instead of holding still */
	bool cut_off;        /* the feed closed it */
	uint64_t held_ms;
};

static void *loris_main(void *arg)
{
	struct loris *l = arg;
	int fd = client_connect(l->port);
	const char *half = "{\"symbol\":\"SLOW\",\"price\":1,\"size\":1,\"ts\":\"2024";
	uint64_t t0 = ark_now_ns();
	if (l->dribble) {
		for (size_t i = 0; i < strlen(half); i++) {
			if (send(fd, half + i, 1, MSG_NOSIGNAL) != 1)
				break;
			sleep_ms(50);
		}
	} else {
		send_str(fd, half);
	}
	char buf[64];
	l->cut_off = read_until_closed(fd, buf, sizeof buf);  /* EOF from the feed */
	l->held_ms = (ark_now_ns() - t0) / 1000000;
	close(fd);
	return NULL;
}

static void test_slowloris(void)
{
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	cfg.line_timeout_ns = 300000000ull;
	struct runner r;
	runner_start(&r, &cfg);
	uint16_t port = ark_feed_port(r.feed);
	struct loris still = {.port = port}, dribbler = {.port = port, .dribble = true};
	pthread_t t1, t2, tg;
	CHECK(pthread_create(&t1, NULL, loris_main, &still) == 0);
	CHECK(pthread_create(&t2, NULL, loris_main, &dribbler) == 0);
	/* The good client trickles for about a second, well past the timeout. */
	struct good_client g = {.port = port, .lines = 400, .pause_every = 1};
	strcpy(g.symbol, "STEADY");
	CHECK(pthread_create(&tg, NULL, good_main, &g) == 0);
	CHECK(pthread_join(t1, NULL) == 0);
	CHECK(pthread_join(t2, NULL) == 0);
	CHECK(pthread_join(tg, NULL) == 0);
	CHECK_MSG(still.cut_off && still.held_ms >= 250 && still.held_ms < 5000, "held %" PRIu64 " ms", still.held_ms);
	CHECK_MSG(dribbler.cut_off && dribbler.held_ms >= 250 && dribbler.held_ms < 5000, "held %" PRIu64 " ms",
		  dribbler.held_ms);
	struct ark_feed_counters k;
	WAIT_UNTIL(r.feed, k, k.ticks == 400 && k.connections_closed == 3, 10000);
	runner_stop(&r);
	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.bad_by_reason[ARK_FEED_LINE_TIMEOUT], 2);
	CHECK_EQ_U64(k.connections_timed_out, 2);
	CHECK_EQ_U64(k.bad, 2);
	CHECK_EQ_U64(k.lines, 402);
	CHECK(log_count(&got, " bad tick reason=line_timeout ", "detail=\"half a line (") == 2);
	CHECK(log_count(&got, " bad tick reason=line_timeout ", "text=\"{\\\"symbol\\\":\\\"SLOW") >= 1);
	check_good_ticks(&got, &g);
	ark_feed_destroy(r.feed);
	collector_free(&got);
	printf("feed slowloris: 2 held half lines cut off, 400 good ticks on time\n");
}

/* ---- ratelimit ---- */

static void test_ratelimit(void)
{
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	cfg.log_burst = 5;
	struct runner r;
	runner_start(&r, &cfg);
	int fd = client_connect(ark_feed_port(r.feed));
	enum { FLOOD = 2000 };
	char *flood = malloc(FLOOD * 8);
	CHECK(flood);
	for (int i = 0; i < FLOOD; i++)
		memcpy(flood + i * 8, "garbage\n", 8);
	uint64_t t0 = ark_now_ns();
	send_all(fd, flood, FLOOD * 8);
	free(flood);
	struct ark_feed_counters k;
	WAIT_UNTIL(r.feed, k, k.lines == FLOOD, 10000);
	uint64_t elapsed_windows = (ark_now_ns() - t0) / 1000000000ull + 2;
	/* Let the window close: the summary is written when the next opens. */
	sleep_ms(1100);
	send_str(fd, "{\"symbol\":\"AFTER\",\"price\":1,\"size\":1}\n");
	WAIT_UNTIL(r.feed, k, k.ticks == 1, 5000);
	close(fd);
	runner_stop(&r);
	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.bad_by_reason[ARK_FEED_MALFORMED_JSON], FLOOD);
	size_t logged = log_count(&got, " bad tick reason=malformed_json ", NULL);
	size_t accepted_logs = log_count(&got, " connection accepted ", NULL);
	size_t closed_logs = log_count(&got, " connection closed ", NULL);
	/* The first window's five went to the accept line and four bad ticks. */
	CHECK_MSG(logged + accepted_logs >= 5 && logged <= 5 * elapsed_windows, "%zu bad-tick lines logged", logged);
	/* Every limited line was either written or counted as suppressed. */
	CHECK_EQ_U64(logged + accepted_logs + closed_logs + k.log_suppressed, FLOOD + 2);
	CHECK(log_count(&got, " warn feed log lines suppressed by the rate limit count=", "burst_per_s=5") >= 1);
	ark_feed_destroy(r.feed);
	collector_free(&got);
	printf("feed ratelimit: %zu of %d bad lines logged, %" PRIu64 " suppressed and summarised\n", logged, FLOOD,
	       k.log_suppressed);
}

/* ---- fuzz ---- */

struct fuzz_client {
	uint16_t port;
	char *text;
	size_t len;
};

static void *fuzz_main(void *arg)
{
	struct fuzz_client *fc = arg;
	int fd = client_connect(fc->port);
	unsigned seed = (unsigned)fc->len;
	for (size_t off = 0; off < fc->len;) {
		size_t chunk = ARK_MIN(fc->len - off, 1 + (size_t)(rand_r(&seed) % 4096));
		send_all(fd, fc->text + off, chunk);
		off += chunk;
	}
	close(fd);
	return NULL;
}

static void test_fuzz(void)
{
	enum { CLIENTS = 4 };
	static const char alphabet[] = "{}[]\":,.-+eE0123456789 \tabcdefnrtulsAZ\\\x01\x00\xff\xc3\xa9\r";
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	cfg.log_burst = 10;
	struct runner r;
	runner_start(&r, &cfg);
	uint64_t lines = test_scaled(20000, 4000);
	uint64_t expect[ARK_FEED_REASON_COUNT] = {0};
	struct fuzz_client fc[CLIENTS];
	for (int c = 0; c < CLIENTS; c++) {
		fc[c].port = ark_feed_port(r.feed);
		fc[c].text = malloc(lines / CLIENTS * 1400 + 64);
		fc[c].len = 0;
		CHECK(fc[c].text);
	}
	srand48(5);
	uint64_t t0 = ark_now_ns();
	for (uint64_t i = 0; i < lines; i++) {
		struct fuzz_client *f = &fc[i % CLIENTS];
		char *line = f->text + f->len;
		int n = format_tick(line, 200, "FZ", 1 + drand48() * 1000, floor(drand48() * 1000), test_ts_base() + i);
		int edits = (int)(drand48() * 5);  /* 0 edits: a good line */
		for (int e = 0; e < edits && n > 0; e++) {
			int at = (int)(drand48() * n);
			switch ((int)(drand48() * 5)) {
			case 0: line[at] = alphabet[(int)(drand48() * (sizeof alphabet - 1))]; break;
			case 1: memmove(line + at, line + at + 1, (size_t)(n - at - 1)); n--; break;
			case 2:
				memmove(line + at + 1, line + at, (size_t)(n - at));
				line[at] = alphabet[(int)(drand48() * (sizeof alphabet - 1))];
				n++;
				break;
			case 3: n = at; break;
			default:
				if (drand48() < 0.05) {  /* now and then, far too long */
					memset(line + n, '9', 1200);
					n += 1200;
				}
				break;
			}
		}
		for (int j = 0; j < n; j++)
			if (line[j] == '\n')
				line[j] = ' ';
		/* What the feed must conclude about this line. */
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\r')
			len--;
		struct ark_tick t;
		enum ark_feed_reason want = len > cfg.max_line ? ARK_FEED_LINE_TOO_LONG
							       : ark_feed_parse_line(line, (size_t)n, &t, NULL, 0);
		/* A line that parses must also be within the bounds (an edit
		 * may have moved its time or price out of them). */
		static const enum ark_feed_reason bound_reasons[ARK_TICK_FAULT_COUNT] = {
			[ARK_TICK_BAD_PRICE] = ARK_FEED_PRICE_OUT_OF_BOUNDS, [ARK_TICK_BAD_SIZE] = ARK_FEED_SIZE_OUT_OF_BOUNDS,
			[ARK_TICK_TS_FUTURE] = ARK_FEED_TS_IN_FUTURE, [ARK_TICK_TS_OLD] = ARK_FEED_TS_TOO_OLD};
		if (want == ARK_FEED_OK) {
			enum ark_tick_fault bound = ark_tick_check(&cfg.bounds, &t, ark_realtime_ns(), ARK_TICK_CHECK_ALL,
								   NULL, NULL, 0);
			if (bound != ARK_TICK_OK)
				want = bound_reasons[bound];
		}
		expect[want]++;
		line[n++] = '\n';
		f->len += (size_t)n;
	}
	pthread_t threads[CLIENTS];
	for (int c = 0; c < CLIENTS; c++)
		CHECK(pthread_create(&threads[c], NULL, fuzz_main, &fc[c]) == 0);
	for (int c = 0; c < CLIENTS; c++)
		CHECK(pthread_join(threads[c], NULL) == 0);
	struct ark_feed_counters k;
	WAIT_UNTIL(r.feed, k, k.lines == lines && k.connections_closed == CLIENTS, 10000);
	uint64_t elapsed_ms = (ark_now_ns() - t0) / 1000000;
	runner_stop(&r);
	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.lines, lines);
	CHECK_EQ_U64(k.ticks + k.bad, k.lines);
	CHECK_EQ_U64(k.ticks, expect[ARK_FEED_OK]);
	uint64_t sum = 0;
	for (int i = 1; i < ARK_FEED_REASON_COUNT; i++) {
		CHECK_MSG(k.bad_by_reason[i] == expect[i], "%s: counted %" PRIu64 ", parser says %" PRIu64,
			  ark_feed_reason_name((enum ark_feed_reason)i), k.bad_by_reason[i], expect[i]);
		sum += k.bad_by_reason[i];
	}
	CHECK_EQ_U64(sum, k.bad);
	CHECK(k.ticks > lines / 10 && k.bad > lines / 10);
	CHECK_EQ_U64(got.count, k.ticks);
	for (int c = 0; c < CLIENTS; c++)
		free(fc[c].text);
	ark_feed_destroy(r.feed);
	collector_free(&got);
	printf("feed fuzz: %" PRIu64 " lines (%" PRIu64 " good, %" PRIu64 " bad) in %" PRIu64 " ms\n", lines, k.ticks,
	       k.bad, elapsed_ms);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (strcmp(what, "hostile") == 0)
		test_hostile();
	else if (strcmp(what, "slowloris") == 0)
		test_slowloris();
	else if (strcmp(what, "ratelimit") == 0)
		test_ratelimit();
	else if (strcmp(what, "fuzz") == 0)
		test_fuzz();
	else {
		fprintf(stderr, "usage: test_feed_hostile hostile | slowloris | ratelimit | fuzz\n");
		return 2;
	}
	return 0;
}
