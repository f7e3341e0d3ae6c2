/* perf/bench_graveyard.c — `ark perf graveyard`: what HRM's rule check costs
 * per event, on the allow path (every rule checked, windows and book
 * updated), a deny path (quantity, mid-way), and the no-intent path (price
 * mark and P&L only), against copying the 256-byte event (the least any stage
 * does with an event), measured in the same run.
 *
 * Timing: the TSC around batches of 16 evaluations, minus the timer's own
 * cost, divided by 16: per-evaluation percentiles at batch resolution (a
 * single call is too short to time alone). Events cycle over 256 symbols
 * with market time advancing, so windows slide and caches see a realistic
 * spread. Each case runs after a warm-up, several times; medians reported. */
#include "common/common.h"
#include "graveyard/graveyard.h"
#include "hist/hist.h"
#include "perf/perf.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 16
#define EVENTS 65536          /* a power of two: index masks */
#define SYMBOLS 256
#define MAX_RUNS 15
#define SCALE 10              /* histogram unit: 0.1 ns */
#define STEP_NS 100000ull     /* 100 us of market time per event */

static const char bench_rules[] =
	"version = 1\n"
	"trading_state = ACTIVE node\n"
	"max_order_quantity = 10000 node\n"
	"max_order_notional = 1000000 node\n"
	"price_collar = 5% node\n"
	"reference_max_age = 5s node\n"
	"restricted_symbols = ZVZZT, ZWZZT, ZXZZT node\n"
	"restricted_patterns = *.OTC, TEST* node\n"
	"order_rate = 16384/1s global\n"
	"order_rate_per_symbol = 64/1s node\n"
	"duplicate_window = 500ms node\n"
	"max_position = 50000 node\n"
	"max_gross_exposure = 1e12 global\n"
	"daily_loss_limit = 1e12 global\n"
	"trading_day_reset = 00:00 UTC\n";

enum bench_case { C_ALLOW, C_DENY, C_NO_INTENT, C_COPY, C_COUNT };
static const char *const case_names[C_COUNT] = {"allow", "deny_quantity", "no_intent", "event_copy"};

struct result {
	double p50, p90, p99, p999, max, mean;
};

static struct ark_graveyard_rules rules;
static struct ark_graveyard_state *state;
/* What HRM passes beside each event: a far ceiling (the bench's market clock
 * runs ahead of the wall clock), one trading day, not quarantined. */
static const struct ark_graveyard_inputs inputs = {.clock_ceiling_ns = UINT64_MAX};
static struct ark_event *events;
static struct ark_event sink[BATCH];
static uint64_t market_ns;

static void make_events(enum bench_case c)
{
	for (uint32_t i = 0; i < EVENTS; i++) {
		struct ark_event *e = &events[i];
		memset(e, 0, sizeof *e);
		e->symbol_id = i % SYMBOLS;
		snprintf(e->symbol, sizeof e->symbol, "SYM%04u", e->symbol_id);
		e->price = 100 + (double)(i % 97) / 100.0;
		e->size = 100;
		if (c == C_ALLOW || c == C_DENY) {
			/* Alternating sides per symbol: never a duplicate, positions stay small. */
			e->side = (i / SYMBOLS) % 2 ? ARK_SIDE_SELL : ARK_SIDE_BUY;
			e->quantity = c == C_DENY ? 1e9 : 1 + (double)(i % 5);
			e->limit_price = e->price;
		}
	}
}

/* Market times for the next batch: always advancing. */
static inline void stamp(uint32_t at)
{
	for (uint32_t k = 0; k < BATCH; k++)
		events[(at + k) & (EVENTS - 1)].exchange_time_ns = (market_ns += STEP_NS);
}

/* Marks move money only with positions open: one per symbol. */
static void open_positions(void)
{
	struct ark_graveyard_decision d;
	for (uint32_t i = 0; i < SYMBOLS; i++) {
		struct ark_event e = events[i];
		e.exchange_time_ns = (market_ns += STEP_NS);
		e.side = ARK_SIDE_BUY;
		e.quantity = 10;
		e.limit_price = e.price;
		ark_graveyard_evaluate(&rules, state, &e, &inputs, &d);
	}
}

static uint64_t timer_overhead(void)
{
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 10000; i++) {
		uint64_t t0 = ark_tsc();
		__asm__ __volatile__("" ::: "memory");
		uint64_t t1 = ark_tsc();
		best = ARK_MIN(best, t1 - t0);
	}
	return best;
}

static void run_case(enum bench_case c, uint64_t batches, uint64_t overhead, double ns_per_tick, struct result *r)
{
	static struct ark_hist h;
	ark_hist_reset(&h);
	struct ark_graveyard_decision d;
	uint64_t total_ticks = 0, allowed_before = state->allowed;
	uint32_t at = 0;
	for (uint64_t b = 0; b < batches + batches / 10; b++) {
		bool warm = b < batches / 10;
		stamp(at);
		uint64_t t0 = ark_tsc();
		if (c == C_COPY) {
			for (uint32_t k = 0; k < BATCH; k++)
				memcpy(&sink[k], &events[(at + k) & (EVENTS - 1)], sizeof sink[k]);
			__asm__ __volatile__("" : : "r"(sink) : "memory");
		} else {
			for (uint32_t k = 0; k < BATCH; k++)
				ark_graveyard_evaluate(&rules, state, &events[(at + k) & (EVENTS - 1)], &inputs, &d);
		}
		uint64_t t1 = ark_tsc();
		at = (at + BATCH) & (EVENTS - 1);
		if (warm)
			continue;
		uint64_t ticks = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
		total_ticks += ticks;
		ark_hist_record(&h, (uint64_t)((double)ticks * ns_per_tick * SCALE / BATCH + 0.5));
	}
	if (c == C_ALLOW && state->allowed - allowed_before < batches * BATCH) {
		fprintf(stderr, "ark perf graveyard: the allow case had denials (a benchmark bug)\n");
		exit(1);
	}
	r->p50 = (double)ark_hist_quantile(&h, 0.5) / SCALE;
	r->p90 = (double)ark_hist_quantile(&h, 0.9) / SCALE;
	r->p99 = (double)ark_hist_quantile(&h, 0.99) / SCALE;
	r->p999 = (double)ark_hist_quantile(&h, 0.999) / SCALE;
	r->max = (double)h.max / SCALE;
	r->mean = (double)total_ticks * ns_per_tick / (double)(batches * BATCH);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf graveyard [--runs N] [--batches N] [--quick] [--json]\n\n"
		"Nanoseconds per ark_graveyard_evaluate call — allow path (every rule,\n"
		"windows and book updated), deny path (max quantity), no-intent path (price\n"
		"mark and P&L) — against copying the 256-byte event, in the same run.\n"
		"Batches of 16 calls are timed with the TSC (timer cost subtracted);\n"
		"percentiles are per call at batch resolution, medians over runs.\n\n"
		"  --runs N      measured runs per case (default 5)\n"
		"  --batches N   timed batches per run (default 200000)\n"
		"  --quick       one run, 20000 batches (a smoke test, not a measurement)\n"
		"  --json        print one JSON object (headline figures under \"headline\")\n");
}

struct options {
	uint64_t runs, batches;
	bool quick, json;
};

#define OPT(member) offsetof(struct options, member)
static const struct ark_perf_flag flags[] = {
	{"runs", 'r', ARK_PERF_FLAG_U64, OPT(runs), 1, MAX_RUNS},
	{"batches", 'b', ARK_PERF_FLAG_U64, OPT(batches), 1000, 100000000},
	{"quick", 'q', ARK_PERF_FLAG_TRUE, OPT(quick), 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct ark_perf_cli cli = {.bench = "graveyard", .flags = flags, .usage = usage};
	*o = (struct options){.runs = 5, .batches = 200000};
	int rc = ark_perf_parse_options(&cli, argc, argv, o);
	if (rc == ARK_PERF_RUN && o->quick) {
		o->runs = 1;
		o->batches = ARK_MIN(o->batches, 20000);
	}
	return rc;
}

/* Every case, `runs` times each; the medians per case in med. */
static void run_cases(const struct options *o, uint64_t overhead, double ns_per_tick, struct result med[C_COUNT])
{
	static struct result results[C_COUNT][MAX_RUNS];
	fprintf(stderr, "ark perf graveyard: %llu runs x %llu batches of %d per case\n", (unsigned long long)o->runs,
		(unsigned long long)o->batches, BATCH);
	for (int c = 0; c < C_COUNT; c++) {
		make_events((enum bench_case)c);
		for (uint64_t r = 0; r < o->runs; r++) {
			/* Each run starts from a fresh state on a new trading day. */
			ark_graveyard_state_init(state, &rules);
			market_ns = 1704205800000000000ull + r * ARK_GRAVEYARD_DAY_NS;
			if (c == C_NO_INTENT)
				open_positions();
			run_case((enum bench_case)c, o->batches, overhead, ns_per_tick, &results[c][r]);
		}
	}
	static const size_t members[] = {offsetof(struct result, p50),  offsetof(struct result, p90),
					 offsetof(struct result, p99),  offsetof(struct result, p999),
					 offsetof(struct result, max),  offsetof(struct result, mean)};
	for (int c = 0; c < C_COUNT; c++)
		for (size_t m = 0; m < ARK_ARRAY_LEN(members); m++) {
			double v = ark_perf_median_member(results[c], (int)o->runs, sizeof(struct result), members[m]);
			memcpy((char *)&med[c] + members[m], &v, sizeof v);
		}
}

static void report_json(const struct options *o, double overhead_ns, const struct result med[C_COUNT], double copy)
{
	struct ark_json j;
	ark_perf_json_begin(&j, "graveyard");
	ark_json_number(&j, "runs", (double)o->runs);
	ark_json_number(&j, "batch", BATCH);
	ark_json_number(&j, "batches_per_run", (double)o->batches);
	ark_json_number(&j, "timer_overhead_ns", overhead_ns);
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "graveyard_eval_p50_ns", med[C_ALLOW].p50);
	ark_json_number(&j, "graveyard_eval_p99_ns", med[C_ALLOW].p99);
	ark_json_number(&j, "graveyard_deny_p50_ns", med[C_DENY].p50);
	ark_json_number(&j, "graveyard_no_intent_p50_ns", med[C_NO_INTENT].p50);
	ark_json_number(&j, "graveyard_eval_vs_event_copy_ratio", med[C_ALLOW].mean / copy);
	ark_json_object_end(&j);
	ark_json_array_begin(&j, "cases");
	for (int c = 0; c < C_COUNT; c++) {
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "name", case_names[c]);
		ark_json_number(&j, "p50_ns", med[c].p50);
		ark_json_number(&j, "p90_ns", med[c].p90);
		ark_json_number(&j, "p99_ns", med[c].p99);
		ark_json_number(&j, "p999_ns", med[c].p999);
		ark_json_number(&j, "max_ns", med[c].max);
		ark_json_number(&j, "mean_ns", med[c].mean);
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	ark_perf_json_end(&j);
}

static void report_table(double overhead_ns, const struct result med[C_COUNT], double copy)
{
	ark_perf_print_machine(stdout);
	printf("timer overhead subtracted: %.1f ns per batch of %d\n\n", overhead_ns, BATCH);
	printf("%-16s %9s %9s %9s %9s %9s %9s\n", "case", "mean ns", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns",
	       "max ns");
	for (int c = 0; c < C_COUNT; c++)
		printf("%-16s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", case_names[c], med[c].mean, med[c].p50,
		       med[c].p90, med[c].p99, med[c].p999, med[c].max);
	printf("\nallow path / event copy: %.1fx\n", med[C_ALLOW].mean / copy);
}

static int graveyard_bench_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	struct ark_err err = {0};
	if (ark_graveyard_parse(bench_rules, sizeof bench_rules - 1, "bench", &rules, &err)) {
		fprintf(stderr, "ark perf graveyard: %s\n", err.msg);
		return 1;
	}
	state = calloc(1, sizeof *state);
	events = aligned_alloc(64, sizeof *events * EVENTS);
	if (!state || !events) {
		fprintf(stderr, "ark perf graveyard: out of memory\n");
		return 1;
	}
	double ns_per_tick = ark_tsc_ns_per_tick();
	uint64_t overhead = timer_overhead();
	struct result med[C_COUNT];
	run_cases(&o, overhead, ns_per_tick, med);
	double copy = med[C_COPY].mean > 0 ? med[C_COPY].mean : 0.1;
	if (o.json)
		report_json(&o, (double)overhead * ns_per_tick, med, copy);
	else
		report_table((double)overhead * ns_per_tick, med, copy);
	free(state);
	free(events);
	return 0;
}

ARK_PERF_BENCH(graveyard_bench, "graveyard", "ns per Graveyard evaluation: allow, deny and no-intent paths",
	       graveyard_bench_main)
