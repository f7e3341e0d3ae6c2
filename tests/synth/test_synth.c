/* tests/synth/test_synth.c — the synthetic generator on its own: option
 * parsing (every option, every bad value), determinism (same seed → the same
 * ticks byte for byte; another seed → others), the price walk (positive,
 * finite, moving, bounded), the market clock (monotonic for every tick but
 * the deliberately stale or timeless REFERENCE_PRICE ones; the paced and
 * unpaced periods), clean ticks (never restricted, never injected, from the
 * universe), the violation fraction and kind coverage over a long run, paced
 * runs ending after rate x duration ticks, the due times, and init refusing
 * what it cannot do. argv[1]: deploy/graveyard.rules. */
#include "check.h"
#include "synth/synth.h"

#include <math.h>
#include <string.h>
#include <strings.h>

static struct ark_graveyard_rules rules;
static struct ark_synth gen, gen2;
static struct ark_synth_config cfg;

static void options(void)
{
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	CHECK(cfg.rate_hz == 0 && cfg.seed == 1 && cfg.violations == 0.01 && cfg.symbol_count == 64);
	CHECK(cfg.start_ns == ARK_SYNTH_DEFAULT_START_NS && cfg.unpaced_period_ns == 1000);
	CHECK(ark_synth_config_parse_rate(&cfg, "1000", &err) == 0 && cfg.rate_hz == 1000);
	CHECK(ark_synth_config_parse_rate(&cfg, "0.1", &err) == 0 && cfg.rate_hz == 0.1);
	CHECK(ark_synth_config_parse_rate(&cfg, "max", &err) == 0 && cfg.rate_hz == 0);
	CHECK(ark_synth_config_parse_rate(&cfg, "unpaced", &err) == 0 && cfg.rate_hz == 0);
	const char *const bad_rates[] = {"0.05", "abc", "", "-5", "2e9", "10Hz"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_rates); i++) {
		cfg.rate_hz = 7;
		CHECK(ark_synth_config_parse_rate(&cfg, bad_rates[i], &err) < 0);
		CHECK_CONTAINS(err.msg, "--rate");
		CHECK(cfg.rate_hz == 7);
	}
	CHECK(ark_synth_config_parse_duration(&cfg, "10", &err) == 0 && cfg.duration_ns == 10000000000ull);
	CHECK(ark_synth_config_parse_duration(&cfg, "250ms", &err) == 0 && cfg.duration_ns == 250000000ull);
	CHECK(ark_synth_config_parse_duration(&cfg, "soon", &err) < 0);
	CHECK_CONTAINS(err.msg, "--duration");
	CHECK(ark_synth_config_parse_seed(&cfg, "18446744073709551615", &err) == 0 && cfg.seed == UINT64_MAX);
	CHECK(ark_synth_config_parse_seed(&cfg, "-1", &err) < 0);
	CHECK_CONTAINS(err.msg, "--seed");
	CHECK(ark_synth_config_parse_violations(&cfg, "0.02", &err) == 0 && cfg.violations == 0.02);
	CHECK(ark_synth_config_parse_violations(&cfg, "1%", &err) == 0 && fabs(cfg.violations - 0.01) < 1e-15);
	CHECK(ark_synth_config_parse_violations(&cfg, "0", &err) == 0 && cfg.violations == 0);
	const char *const bad_violations[] = {"0.6", "60%", "-0.1", "x", "%", ""};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_violations); i++) {
		CHECK(ark_synth_config_parse_violations(&cfg, bad_violations[i], &err) < 0);
		CHECK_CONTAINS(err.msg, "--violations");
	}
	CHECK(ark_synth_config_parse_symbols(&cfg, "16", &err) == 0 && cfg.symbol_count == 16 &&
	      cfg.symbol_list_count == 0);
	CHECK(ark_synth_config_parse_symbols(&cfg, "AAPL, MSFT,BRK.B", &err) == 0 && cfg.symbol_list_count == 3);
	CHECK(strcmp(cfg.symbols[0], "AAPL") == 0 && strcmp(cfg.symbols[2], "BRK.B") == 0);
	const char *const bad_symbols[] = {"0", "3000", "AAPL,,MSFT", "AAPL,aapl", "WAYTOOLONGSYMBOL1", "A B", "", "A$"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_symbols); i++) {
		CHECK_MSG(ark_synth_config_parse_symbols(&cfg, bad_symbols[i], &err) < 0, "%s", bad_symbols[i]);
		CHECK_CONTAINS(err.msg, "--symbols");
	}
	CHECK(cfg.symbol_list_count == 3);   /* unchanged by the failures */
}

static void init_errors(void)
{
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	ark_synth_config_parse_symbols(&cfg, "AAPL,ZVZZT", &err);
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "'ZVZZT' is restricted");
	ark_synth_config_parse_symbols(&cfg, "AAPL,FOO.OTC", &err);
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "restricted_pattern");
	ark_synth_config_parse_symbols(&cfg, "INJ0001", &err);
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "kept for injections");
	ark_synth_config_defaults(&cfg);
	cfg.violations = 0.3;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) < 0);
	CHECK_CONTAINS(err.msg, "too many for these rules");
	cfg.violations = 0.01;
	cfg.rate_hz = 0.01;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) < 0);
	ark_synth_config_defaults(&cfg);
	CHECK_MSG(ark_synth_init(&gen, &cfg, &rules, &err) == 0, "%s", err.msg);
	/* Which kinds, and why not the others. */
	for (int k = ARK_REASON_REDUCING_ONLY + 1; k <= ARK_REASON_DAILY_LOSS; k++)
		CHECK_MSG(ark_synth_injects(&gen, (enum ark_reason)k), "%s: %s", ark_reason_name(k),
			  ark_synth_kind_status(&gen, (enum ark_reason)k));
	CHECK_CONTAINS(ark_synth_kind_status(&gen, ARK_REASON_HALTED), "HALTED");
	CHECK_CONTAINS(ark_synth_kind_status(&gen, ARK_REASON_REDUCING_ONLY), "REDUCING");
	CHECK(!ark_synth_injects(&gen, ARK_REASON_ETHICS_DRIFT) && !ark_synth_injects(&gen, ARK_REASON_QUARANTINED));
	CHECK(!ark_synth_injects(&gen, ARK_REASON_NONE) && !ark_synth_injects(&gen, ARK_REASON_COUNT));
	/* DAILY_LOSS is injectable, as the stream's finale, not in the rotation. */
	CHECK(gen.kind_count == 11 && gen.finale_pending);
	CHECK(ark_synth_symbol_budget(&gen) < ARK_GRAVEYARD_MAX_SYMBOLS);
	CHECK(ark_synth_symbol_budget(&gen) >= 64 + 3);
}

static bool is_reference_oddity(const struct ark_tick *t)
{
	return (t->flags & ARK_EVENT_INJECTED) && t->injected_kind == ARK_REASON_REFERENCE_PRICE && t->lane == 0;
}

static void long_run(void)
{
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	cfg.seed = 99;
	cfg.violations = 0.02;
	CHECK_MSG(ark_synth_init(&gen, &cfg, &rules, &err) == 0, "%s", err.msg);
	const uint64_t n = test_scaled(2000000, 200000);
	uint64_t last = 0, clean = 0, lane0[ARK_REASON_COUNT] = {0}, variants_zero_time = 0, variants_stale = 0;
	uint64_t bad_price = 0, jumps = 0;
	static double first_price[ARK_SYNTH_MAX_SYMBOLS], min_ratio = 1e9, max_ratio = 0;
	double last_clean_price[ARK_SYNTH_MAX_SYMBOLS] = {0};
	uint64_t moved = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct ark_tick t;
		CHECK(ark_synth_next(&gen, &t) == 1);
		CHECK_EQ_U64(t.source_seq, i + 1);
		CHECK(t.source == ARK_SOURCE_SYNTHETIC && (t.flags & ARK_EVENT_SYNTHETIC));
		CHECK(t.received_ns == 0 && t.symbol[ARK_SYMBOL_MAX - 1] == '\0');
		if (is_reference_oddity(&t)) {
			if (t.exchange_time_ns == 0)
				variants_zero_time++;
			else if (t.exchange_time_ns < last)
				variants_stale++;
			if (!(t.price > 0 && isfinite(t.price)))
				bad_price++;
			continue;
		}
		CHECK_MSG(t.exchange_time_ns >= last, "tick %" PRIu64 ": clock went back", i);
		if (t.exchange_time_ns - last > 100 * 1000000ull && last)
			jumps++;
		last = t.exchange_time_ns;
		CHECK(isfinite(t.price) && t.price > 0);
		if (t.flags & ARK_EVENT_INJECTED) {
			CHECK(t.injected_kind > 0 && t.injected_kind < ARK_REASON_COUNT && t.lane <= 1);
			CHECK(strncmp(t.symbol, "SYM", 3) != 0);   /* never a clean symbol */
			if (t.lane == 0)
				lane0[t.injected_kind]++;
			continue;
		}
		/* Clean: the universe, never restricted, size 100..1000, prices walking. */
		clean++;
		CHECK(t.injected_kind == 0 && t.lane == 0);
		CHECK(strncmp(t.symbol, "SYM", 3) == 0);
		CHECK(ark_graveyard_symbol_restriction(&rules.limits, t.symbol) == ARK_REASON_NONE);
		CHECK(t.size >= 100 && t.size <= 1000 && fmod(t.size, 100) == 0);
		unsigned id = (unsigned)atoi(t.symbol + 3) - 1;
		CHECK(id < 64);
		if (first_price[id] == 0)
			first_price[id] = t.price;
		double ratio = t.price / first_price[id];
		min_ratio = fmin(min_ratio, ratio);
		max_ratio = fmax(max_ratio, ratio);
		moved += last_clean_price[id] != 0 && last_clean_price[id] != t.price;
		last_clean_price[id] = t.price;
	}
	/* The walk moves, and stays within e^4 of where it began. */
	CHECK(moved > clean / 2);
	CHECK(min_ratio > exp(-4.01) && max_ratio < exp(4.01));
	CHECK(min_ratio < 0.99 && max_ratio > 1.01);
	/* The fraction, spread evenly over the 12 kinds. */
	uint64_t total = 0, lo = UINT64_MAX, hi = 0;
	for (int k = 0; k < ARK_REASON_COUNT; k++) {
		if (!ark_synth_injects(&gen, (enum ark_reason)k) || k == ARK_REASON_DAILY_LOSS) {
			CHECK(lane0[k] == 0 || k == ARK_REASON_REFERENCE_PRICE);
			continue;
		}
		uint64_t c = lane0[k] + (k == ARK_REASON_REFERENCE_PRICE ? variants_zero_time + variants_stale + bad_price : 0);
		total += c;
		lo = ARK_MIN(lo, c);
		hi = ARK_MAX(hi, c);
	}
	CHECK_MSG(hi - lo <= 1, "kinds uneven: %" PRIu64 " .. %" PRIu64, lo, hi);
	CHECK_MSG(fabs((double)total / (double)n - 0.02) < 0.0002, "fraction %g", (double)total / (double)n);
	/* Every REFERENCE_PRICE variant was sent. */
	CHECK(variants_zero_time > 0 && variants_stale > 0 && bad_price > 0);
	CHECK(jumps > 0);
	CHECK_EQ_U64(gen.clean, clean);
	/* The finale: the daily loss, once, at the end, and nothing after it
	 * (the latch holds until the wall clock's next trading day). */
	ark_synth_finish(&gen);
	struct ark_tick f[4];
	int got = 0;
	while (got < 4 && ark_synth_next(&gen, &f[got]) == 1)
		got++;
	CHECK_EQ_U64(got, 3);
	for (int i = 0; i < 3; i++)
		CHECK(f[i].flags & ARK_EVENT_INJECTED && f[i].injected_kind == ARK_REASON_DAILY_LOSS);
	CHECK(f[0].lane == 1 && f[0].size < 0);                   /* sell short */
	CHECK(f[1].lane == 1 && f[1].size == 0 && f[1].price > f[0].price);   /* the losing mark */
	CHECK(f[2].lane == 0);                                    /* the violation */
	CHECK(ark_synth_next(&gen, &f[3]) == 0 && ark_synth_next(&gen, &f[3]) == 0);
}

/* A paced run ends after rate x duration ticks and its finale. */
static void paced_end(void)
{
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	cfg.rate_hz = 1000;
	cfg.duration_ns = 2000000000ull;
	cfg.violations = 0.01;
	CHECK_MSG(ark_synth_init(&gen, &cfg, &rules, &err) == 0, "%s", err.msg);
	struct ark_tick t;
	uint64_t n = 0, finale = 0, last_lane0_daily = 0;
	while (ark_synth_next(&gen, &t) == 1) {
		n++;
		if ((t.flags & ARK_EVENT_INJECTED) && t.injected_kind == ARK_REASON_DAILY_LOSS) {
			finale++;
			CHECK(n > 1997);
			if (t.lane == 0)
				last_lane0_daily = n;
		}
	}
	CHECK_EQ_U64(finale, 3);
	CHECK_EQ_U64(n, 2000);
	CHECK_EQ_U64(last_lane0_daily, n);
	/* Without violations, no finale. */
	cfg.violations = 0;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) == 0);
	n = 0;
	while (ark_synth_next(&gen, &t) == 1)
		n++;
	CHECK_EQ_U64(n, 2000);
}

static uint64_t digest_of(uint64_t seed, uint64_t n, struct ark_synth *g)
{
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	cfg.seed = seed;
	CHECK(ark_synth_init(g, &cfg, &rules, &err) == 0);
	uint64_t h = 1469598103934665603ull;
	for (uint64_t i = 0; i < n; i++) {
		struct ark_tick t;
		CHECK(ark_synth_next(g, &t) == 1);
		const uint8_t *b = (const uint8_t *)&t;
		for (size_t k = 0; k < sizeof t; k++)
			h = (h ^ b[k]) * 1099511628211ull;
	}
	return h;
}

static void determinism(void)
{
	uint64_t n = test_scaled(300000, 50000);
	uint64_t a = digest_of(5, n, &gen), b = digest_of(5, n, &gen2);
	CHECK(a == b);
	CHECK(memcmp(&gen, &gen2, sizeof gen) == 0);
	CHECK(digest_of(6, n, &gen2) != a);
	/* The generator is plain data: a copy continues identically. */
	static struct ark_synth copy;
	memcpy(&copy, &gen, sizeof gen);
	for (int i = 0; i < 10000; i++) {
		struct ark_tick x, y;
		CHECK(ark_synth_next(&gen, &x) == 1 && ark_synth_next(&copy, &y) == 1);
		CHECK(memcmp(&x, &y, sizeof x) == 0);
	}
}

static void pacing(void)
{
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	cfg.rate_hz = 1000;
	cfg.duration_ns = 2500000000ull;   /* 2.5 s → 2500 ticks */
	cfg.violations = 0;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) == 0);
	CHECK_EQ_U64(ark_synth_due_ns(&gen, 5000), 5000);
	struct ark_tick t, prev = {0};
	uint64_t count = 0;
	while (ark_synth_next(&gen, &t) == 1) {
		if (count)
			CHECK_EQ_U64(t.exchange_time_ns - prev.exchange_time_ns, 1000000);   /* 1/rate */
		prev = t;
		count++;
	}
	CHECK_EQ_U64(count, 2500);
	CHECK(ark_synth_next(&gen, &t) == 0);
	CHECK_EQ_U64(ark_synth_due_ns(&gen, 5000), 5000 + 2500ull * 1000000);
	/* 0.1 Hz: a tick every 10 s of market time and wall time. */
	cfg.rate_hz = 0.1;
	cfg.duration_ns = 0;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) == 0);
	CHECK(ark_synth_next(&gen, &t) == 1 && ark_synth_next(&gen, &prev) == 1);
	CHECK_EQ_U64(prev.exchange_time_ns - t.exchange_time_ns, 10000000000ull);
	CHECK_EQ_U64(ark_synth_due_ns(&gen, 0), 20000000000ull);
	/* Unpaced: nothing is due, the clock steps 1 us, and waiting returns at once. */
	cfg.rate_hz = 0;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) == 0);
	CHECK(ark_synth_next(&gen, &t) == 1 && ark_synth_next(&gen, &prev) == 1);
	CHECK_EQ_U64(prev.exchange_time_ns - t.exchange_time_ns, 1000);
	CHECK_EQ_U64(ark_synth_due_ns(&gen, 123), 0);
	CHECK(ark_synth_wait_due(&gen, 123) == 0);
	/* A paced wait really waits until the tick is due (~5 ms here). */
	cfg.rate_hz = 200;
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) == 0);
	CHECK(ark_synth_next(&gen, &t) == 1);
	uint64_t start = ark_now_ns();
	CHECK(ark_synth_wait_due(&gen, start) == 0);
	CHECK(ark_now_ns() - start >= 5000000);
	/* A symbol list is used as given; start time as configured. */
	ark_synth_config_defaults(&cfg);
	cfg.violations = 0;
	cfg.start_ns = 1000000000000000000ull;
	CHECK(ark_synth_config_parse_symbols(&cfg, "AAPL,MSFT", &err) == 0);
	CHECK(ark_synth_init(&gen, &cfg, &rules, &err) == 0);
	for (int i = 0; i < 1000; i++) {
		CHECK(ark_synth_next(&gen, &t) == 1);
		CHECK(strcmp(t.symbol, "AAPL") == 0 || strcmp(t.symbol, "MSFT") == 0);
		CHECK_EQ_U64(t.exchange_time_ns, 1000000000000000000ull + (uint64_t)(i + 1) * 1000);
	}
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_load(argv[1], &rules, &err) == 0, "%s", err.msg);
	options();
	init_errors();
	long_run();
	paced_end();
	determinism();
	pacing();
	printf("synth unit tests passed\n");
	return 0;
}
