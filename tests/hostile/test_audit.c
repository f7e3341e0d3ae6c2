/* tests/hostile/test_audit.c — `ark audit` on hand-made records: every
 * known violation is found, where it is, as what it is; a record decided by a
 * correct gate (HRM's own evaluation, step by step) yields nothing; and the
 * command line reads a journal written with known violations (exit 1, the
 * findings in --json) and a clean one (exit 0).
 *
 *   test_audit ARK   (ARK: the ark binary, for the command-line part) */
#include "../store/store_test.h"
#include "audit/audit.h"
#include "graveyard/graveyard.h"
#include "../graveyard/base_rules.h"

#include <math.h>
#include <sys/wait.h>

static const char rules_text[] = ARK_TEST_BASE_RULES;

#define T0 1764950400000000000ull
#define MS 1000000ull
#define SEC 1000000000ull

struct seen {
	struct ark_audit_finding f[64];
	int n;
};

static void collect(void *ctx, const struct ark_audit_finding *finding)
{
	struct seen *s = ctx;
	if (s->n < 64)
		s->f[s->n++] = *finding;
}

static uint64_t next_seq, market;

static struct ark_event tick(const char *symbol, double price, uint64_t t)
{
	struct ark_event e;
	memset(&e, 0, sizeof e);
	e.seq = ++next_seq;
	e.trace_id = e.seq;
	snprintf(e.symbol, sizeof e.symbol, "%s", symbol);
	e.price = price;
	e.size = 100;
	e.exchange_time_ns = t;
	if (t > market)
		market = t;   /* what HRM records: the largest time seen */
	e.hrm_market_ns = market;
	e.verdict = ARK_VERDICT_ALLOW;
	return e;
}

/* An intent and what HRM is said to have decided (NONE: allowed and filled). */
static struct ark_event order(const char *symbol, double price, uint64_t t, uint8_t side, double q, double limit,
			      enum ark_reason recorded)
{
	struct ark_event e = tick(symbol, price, t);
	e.side = side;
	e.quantity = q;
	e.limit_price = limit;
	if (recorded == ARK_REASON_NONE) {
		e.exec_status = ARK_EXEC_FILLED;
		e.filled_quantity = q;
		e.fill_price = limit;
	} else {
		e.verdict = ARK_VERDICT_DENY;
		e.reason = recorded;
		e.exec_status = ARK_EXEC_FORWARDED;
	}
	return e;
}

static const struct ark_audit_finding *find(const struct seen *s, enum ark_audit_kind kind, uint64_t seq)
{
	for (int i = 0; i < s->n; i++)
		if (s->f[i].kind == kind && s->f[i].seq == seq)
			return &s->f[i];
	return NULL;
}

#define EXPECT(seen, kind, seq, expected)                                                                   \
	do {                                                                                                \
		const struct ark_audit_finding *_f = find(seen, kind, seq);                                 \
		CHECK_MSG(_f != NULL, "no %s finding at seq %llu", ark_audit_kind_name(kind), (unsigned long long)(seq)); \
		CHECK_MSG(_f->expected_reason == (expected), "seq %llu: expected %s, the audit says %s",    \
			  (unsigned long long)(seq), ark_reason_name(expected),                             \
			  ark_reason_name((enum ark_reason)_f->expected_reason));                          \
	} while (0)

static uint64_t feed(struct ark_audit *a, struct ark_event *slot, struct ark_event e)
{
	*slot = e;
	ark_audit_event(a, slot);
	return slot->seq;
}

/* Each known violation, found where it is, as what it is; nothing else. */
static void known_violations(const struct ark_audit_rules *rules)
{
	static struct seen seen;
	memset(&seen, 0, sizeof seen);
	struct ark_audit *a = NULL;
	struct ark_err err = {0};
	CHECK(ark_audit_create(&a, rules, collect, &seen, &err) == 0);
	next_seq = 0;
	market = 0;
	struct ark_event e;
	uint64_t t = T0;
#define FEED(ev) feed(a, &e, (ev))
	(void)FEED(order("AAA", 10, t, ARK_SIDE_BUY, 10, 10, ARK_REASON_NONE));                        /* clean */
	uint64_t over_quantity = FEED(order("AAA", 10, t + 1, ARK_SIDE_BUY, 101, 10, ARK_REASON_NONE));
	uint64_t restricted = FEED(order("BAD", 10, t + 2, ARK_SIDE_BUY, 200, 10, ARK_REASON_MAX_QUANTITY));
	uint64_t pattern = FEED(order("ABC.OTC", 10, t + 3, ARK_SIDE_BUY, 1, 10, ARK_REASON_NONE));
	uint64_t clean_denied = FEED(order("CCC", 10, t + 4, ARK_SIDE_BUY, 1, 10, ARK_REASON_DUPLICATE));
	uint64_t collar = FEED(order("DDD", 10, t + 5, ARK_SIDE_SELL, 1, 11, ARK_REASON_NONE));
	/* Per-symbol rate: 3 per second allowed; the 4th within the window is a violation. */
	(void)FEED(order("EEE", 10, t + 6, ARK_SIDE_BUY, 1, 10, ARK_REASON_NONE));
	(void)FEED(order("EEE", 10, t + 7, ARK_SIDE_SELL, 1, 10, ARK_REASON_NONE));
	(void)FEED(order("EEE", 10, t + 8, ARK_SIDE_BUY, 2, 10, ARK_REASON_NONE));
	uint64_t rate = FEED(order("EEE", 10, t + 9, ARK_SIDE_SELL, 2, 10, ARK_REASON_NONE));
	/* A stale reference: the clock moved 2 s past this symbol's tick. */
	t += 2 * SEC;
	(void)FEED(tick("FFF", 10, t));
	uint64_t stale = FEED(order("GGG", 10, t - 1500 * MS, ARK_SIDE_BUY, 1, 10, ARK_REASON_NONE));
	/* Daily loss: long 100 AAA at 10 (the first order, plus 10 more), a mark at 0.5. */
	(void)FEED(order("HHH", 40, t + 1, ARK_SIDE_BUY, 100, 40, ARK_REASON_NONE));
	(void)FEED(tick("HHH", 29, t + 2));   /* 100 x -11 = -1100 with AAA flat-ish: the latch */
	uint64_t loss = FEED(order("III", 10, t + 3, ARK_SIDE_BUY, 1, 10, ARK_REASON_NONE));
	uint64_t loss_ok = FEED(order("III", 10, t + 4, ARK_SIDE_BUY, 2, 10, ARK_REASON_DAILY_LOSS));   /* correct */
	/* A new trading day (recorded): the latch clears; clean again. */
	e = order("III", 10, t + 5, ARK_SIDE_BUY, 3, 10, ARK_REASON_NONE);
	e.hrm_trading_day = 1;
	ark_audit_event(a, &e);
	/* A fill larger than its order. */
	e = order("JJJ", 10, t + 6, ARK_SIDE_BUY, 5, 10, ARK_REASON_NONE);
	e.filled_quantity = 5000;
	uint64_t overfill = e.seq;
	e.hrm_trading_day = 1;
	ark_audit_event(a, &e);
	/* Non-finite values in HRM's and Kenny's outputs. */
	e = tick("KKK", 10, t + 7);
	e.position_after = NAN;
	e.hrm_trading_day = 1;
	uint64_t nonfinite = e.seq;
	ark_audit_event(a, &e);
	/* The market clock going back, and ahead of every tick. */
	e = tick("LLL", 10, t + 8);
	e.hrm_market_ns = t - SEC;
	e.hrm_trading_day = 1;
	uint64_t back = e.seq;
	ark_audit_event(a, &e);
	e = tick("LLL", 10, t + 9);
	e.hrm_market_ns = t + 1000 * SEC;
	e.hrm_trading_day = 1;
	uint64_t ahead = e.seq;
	ark_audit_event(a, &e);
	/* HRM halted for a corrupt state: reported once. */
	e = order("MMM", 10, t + 1000 * SEC, ARK_SIDE_BUY, 1, 10, ARK_REASON_STATE_CORRUPT);
	e.hrm_halt_cause = ARK_HALT_STATE_CORRUPT;
	e.hrm_market_ns = t + 1000 * SEC;
	e.hrm_trading_day = 1;
	uint64_t corrupt = e.seq;
	ark_audit_event(a, &e);
	/* A canary-lane event without the canary's rules: counted, not judged. */
	e = order("BAD", 10, t + 1000 * SEC, ARK_SIDE_BUY, 1, 10, ARK_REASON_NONE);
	e.flags |= ARK_EVENT_CANARY;
	ark_audit_event(a, &e);
#undef FEED
	EXPECT(&seen, ARK_AUDIT_ALLOWED_VIOLATION, over_quantity, ARK_REASON_MAX_QUANTITY);
	EXPECT(&seen, ARK_AUDIT_WRONG_REASON, restricted, ARK_REASON_RESTRICTED_SYMBOL);
	EXPECT(&seen, ARK_AUDIT_ALLOWED_VIOLATION, pattern, ARK_REASON_RESTRICTED_PATTERN);
	EXPECT(&seen, ARK_AUDIT_DENIED_CLEAN, clean_denied, ARK_REASON_NONE);
	EXPECT(&seen, ARK_AUDIT_ALLOWED_VIOLATION, collar, ARK_REASON_PRICE_COLLAR);
	EXPECT(&seen, ARK_AUDIT_ALLOWED_VIOLATION, rate, ARK_REASON_RATE_SYMBOL);
	EXPECT(&seen, ARK_AUDIT_ALLOWED_VIOLATION, stale, ARK_REASON_REFERENCE_PRICE);
	EXPECT(&seen, ARK_AUDIT_ALLOWED_VIOLATION, loss, ARK_REASON_DAILY_LOSS);
	CHECK(find(&seen, ARK_AUDIT_WRONG_REASON, loss_ok) == NULL && find(&seen, ARK_AUDIT_DENIED_CLEAN, loss_ok) == NULL);
	CHECK(find(&seen, ARK_AUDIT_OVERFILL, overfill) != NULL);
	CHECK(find(&seen, ARK_AUDIT_NON_FINITE, nonfinite) != NULL);
	CHECK(find(&seen, ARK_AUDIT_CLOCK, back) != NULL);
	CHECK(find(&seen, ARK_AUDIT_CLOCK, ahead) != NULL);
	CHECK(find(&seen, ARK_AUDIT_STATE_CORRUPT, corrupt) != NULL);
	struct ark_audit_counts c;
	ark_audit_counts(a, &c);
	CHECK_MSG(c.findings_total == 13, "%llu findings, expected 13", (unsigned long long)c.findings_total);
	CHECK_EQ_U64(c.unaudited_canary, 1);
	ark_audit_destroy(a);
}

/* A record a correct gate decided: HRM's own evaluation, event by event, over
 * a long random stream with every rule binding; the audit finds nothing. */
static void correct_gate(const struct ark_audit_rules *audit_rules, const char *journal_dir, bool write)
{
	static struct ark_graveyard_rules rules;
	static struct ark_graveyard_state state;
	struct ark_err err = {0};
	CHECK(ark_graveyard_parse(rules_text, sizeof rules_text - 1, "test", &rules, &err) == 0);
	ark_graveyard_state_init(&state, &rules);
	static struct seen seen;
	memset(&seen, 0, sizeof seen);
	struct ark_audit *a = NULL;
	CHECK(ark_audit_create(&a, audit_rules, collect, &seen, &err) == 0);
	struct ark_journal *j = NULL;
	if (write) {
		struct ark_store_config cfg;
		test_config(&cfg, journal_dir);
		snprintf(cfg.journal_dir, sizeof cfg.journal_dir, "%s", journal_dir);
		struct ark_journal_recovery rec;
		CHECK_MSG(ark_journal_open(&j, &cfg, &rec, &err) == 0, "%s", err.msg);
	}
	srand48(11);
	const char *names[] = {"AAA", "BBB", "CCC", "BAD", "X.OTC", "DDD"};
	double px[6] = {10, 20, 30, 40, 50, 60};
	uint64_t t = T0;
	uint32_t day = 0;
	uint64_t allowed = 0, denied = 0;
	for (uint64_t seq = 1; seq <= 20000; seq++) {
		int k = (int)(drand48() * 6);
		px[k] *= 1 + (drand48() - 0.5) * 0.02;
		t += (uint64_t)(drand48() * 60 * MS);
		if (seq % 7000 == 0)
			day++;
		struct ark_event e;
		memset(&e, 0, sizeof e);
		e.seq = seq;
		e.trace_id = seq;
		e.symbol_id = (uint32_t)k;
		snprintf(e.symbol, sizeof e.symbol, "%s", names[k]);
		e.price = px[k];
		/* Some ticks late, some from a clock ahead of HRM's (fresh within
		 * the skew), a few ahead by more than the skew (no reference). */
		double when = drand48();
		e.exchange_time_ns = when < 0.05 ? t - 2 * SEC : when < 0.10 ? t + 3 * SEC : when < 0.12 ? t + 7 * SEC : t;
		static uint8_t last_side[6];
		static double last_q[6], last_limit[6];
		if (drand48() < 0.6) {
			e.side = drand48() < 0.5 ? ARK_SIDE_BUY : ARK_SIDE_SELL;
			e.quantity = floor(drand48() * 130);
			e.limit_price = px[k] * (1 + (drand48() - 0.5) * 0.12);
			if (last_side[k] && drand48() < 0.1) {   /* the same order again: a duplicate, soon */
				e.side = last_side[k];
				e.quantity = last_q[k];
				e.limit_price = last_limit[k];
			}
			last_side[k] = e.side;
			last_q[k] = e.quantity;
			last_limit[k] = e.limit_price;
		}
		struct ark_graveyard_inputs in = {.clock_ceiling_ns = t, .trading_day = day, .fresh_ahead_ns = 5 * SEC};
		struct ark_graveyard_decision d;
		ark_graveyard_evaluate(&rules, &state, &e, &in, &d);
		e.verdict = d.verdict;
		e.reason = d.reason;
		e.rule_id = d.rule_id;
		e.hrm_market_ns = state.market_now_ns;
		e.hrm_trading_day = (uint32_t)state.trading_day;
		if (d.has_intent && d.verdict == ARK_VERDICT_ALLOW) {
			e.exec_status = ARK_EXEC_FILLED;
			e.filled_quantity = e.quantity;
			e.fill_price = e.limit_price;
			allowed++;
		} else if (d.has_intent) {
			denied++;
		}
		ark_audit_event(a, &e);
		if (j)
			CHECK_MSG(ark_journal_append(j, e.seq, e.trace_id, &e, sizeof e, &err) == 0, "%s", err.msg);
	}
	for (int i = 0; i < seen.n && i < 5; i++)
		fprintf(stderr, "  %s seq %llu: %s\n", ark_audit_kind_name(seen.f[i].kind), (unsigned long long)seen.f[i].seq,
			seen.f[i].detail);
	CHECK_MSG(seen.n == 0, "%d findings on a correct record", seen.n);
	CHECK(allowed > 1000 && denied > 1000);
	for (int r = ARK_REASON_RESTRICTED_SYMBOL; r <= ARK_REASON_DAILY_LOSS; r++)
		if (r != ARK_REASON_REDUCING_ONLY)
			CHECK_MSG(state.denials[r] > 0, "the stream never hit %s", ark_reason_name(r));
	ark_audit_destroy(a);
	if (j) {
		CHECK(ark_journal_sync(j, &err) == 0);
		CHECK(ark_journal_close(j, &err) == 0);
	}
}

static int run_audit(const char *ark, const char *journal, const char *rules, char *out, size_t cap)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "'%s' audit --journal '%s' --rules '%s' --json 2>&1", ark, journal, rules);
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The command line on a journal with known violations, and on a clean one. */
static void command_line(const char *ark, const char *root)
{
	char rules_path[600], bad[600], good[600];
	snprintf(rules_path, sizeof rules_path, "%s/audit.rules", root);
	FILE *f = fopen(rules_path, "w");
	fputs(rules_text, f);
	fclose(f);
	snprintf(bad, sizeof bad, "%s/bad-journal", root);
	snprintf(good, sizeof good, "%s/good-journal", root);
	struct ark_store_config cfg;
	test_config(&cfg, root);
	snprintf(cfg.journal_dir, sizeof cfg.journal_dir, "%s", bad);
	struct ark_journal *j = NULL;
	struct ark_journal_recovery rec;
	struct ark_err err = {0};
	CHECK_MSG(ark_journal_open(&j, &cfg, &rec, &err) == 0, "%s", err.msg);
	next_seq = 0;
	market = 0;
	struct ark_event events[] = {
		order("AAA", 10, T0, ARK_SIDE_BUY, 10, 10, ARK_REASON_NONE),
		order("AAA", 10, T0 + 1, ARK_SIDE_BUY, 150, 10, ARK_REASON_NONE),          /* max_quantity, allowed */
		order("WORSE", 10, T0 + 2, ARK_SIDE_SELL, 1, 10, ARK_REASON_NONE),        /* restricted, allowed */
		order("AAA", 10, T0 + 3, ARK_SIDE_SELL, 1, 10, ARK_REASON_PRICE_COLLAR),  /* clean, denied */
	};
	for (size_t i = 0; i < ARK_ARRAY_LEN(events); i++)
		CHECK(ark_journal_append(j, events[i].seq, events[i].trace_id, &events[i], sizeof events[i], &err) == 0);
	CHECK(ark_journal_sync(j, &err) == 0 && ark_journal_close(j, &err) == 0);
	static char out[65536];
	int rc = run_audit(ark, bad, rules_path, out, sizeof out);
	CHECK_MSG(rc == 1, "ark audit of a bad journal: exit %d: %s", rc, out);
	CHECK_MSG(strstr(out, "\"findings_total\":3") && strstr(out, "\"allowed_violation\":2") &&
			  strstr(out, "\"denied_clean\":1") && strstr(out, "\"expected\":\"max_quantity\"") &&
			  strstr(out, "\"expected\":\"restricted_symbol\"") && strstr(out, "\"ok\":false"),
		  "ark audit --json: %s", out);
	static struct ark_audit_rules audit_rules;
	CHECK(ark_audit_rules_load(rules_path, &audit_rules, &err) == 0);
	correct_gate(&audit_rules, good, true);
	rc = run_audit(ark, good, rules_path, out, sizeof out);
	CHECK_MSG(rc == 0 && strstr(out, "\"ok\":true") && strstr(out, "\"findings_total\":0") &&
			  strstr(out, "\"events\":20000"),
		  "ark audit of a clean journal: exit %d: %s", rc, out);
	/* A rules file the audit cannot read is a usage problem, named. */
	f = fopen(rules_path, "w");
	fputs("version = 1\nmax_order_quantity = lots node\n", f);
	fclose(f);
	rc = run_audit(ark, good, rules_path, out, sizeof out);
	CHECK_MSG(rc == 1 && strstr(out, "max_order_quantity"), "unreadable rules: exit %d: %s", rc, out);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	static struct ark_audit_rules rules;
	struct ark_err err = {0};
	CHECK_MSG(ark_audit_rules_parse(rules_text, sizeof rules_text - 1, &rules, &err) == 0, "%s", err.msg);
	CHECK(rules.max_order_quantity == 100 && fabs(rules.price_collar - 0.05) < 1e-12 && rules.restricted_count == 2 &&
	      rules.pattern_count == 2 && rules.order_rate_per_symbol_count == 3 &&
	      rules.order_rate_per_symbol_window_ns == SEC && rules.duplicate_window_ns == 500 * MS &&
	      rules.line[ARK_REASON_DAILY_LOSS] == 14);
	known_violations(&rules);
	correct_gate(&rules, NULL, false);
	char root[256];
	make_tmpdir(root, sizeof root, "audit");
	command_line(argv[1], root);
	rm_rf(root);
	printf("audit: ok\n");
	return 0;
}
