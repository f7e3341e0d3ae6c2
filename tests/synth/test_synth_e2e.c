/* tests/synth/test_synth_e2e.c — the generator and the Graveyard together,
 * without the agents: a Kyle-like step (symbol ids, tick → event), a
 * Joey-like step (ark_graveyard_injected_intent for injected ticks; no intent,
 * or a small legal one, for clean ticks) and HRM's ark_graveyard_evaluate.
 * Over >= 1e6 ticks with >= 1% violations, for several seeds and rules
 * (shipped defaults; tight limits; REDUCING; HALTED): every lane-0 injection
 * is denied with its own kind's reason, no clean or setup tick is denied,
 * every injectable kind shows up, and the same seed gives the same ticks and
 * decisions. argv[1] is deploy/graveyard.rules. */
#include "check.h"
#include "graveyard/graveyard.h"
#include "synth/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* HRM's inputs beside each event: the synthetic source is exempt from the
 * clock ceiling, and the whole run is one trading day. */
static const struct ark_graveyard_inputs inputs = {UINT64_MAX, 0, false};
static const char *deploy_rules;

/* Kyle's symbol table: ids in order of first sight. */
struct symtab {
	char names[8192][ARK_SYMBOL_MAX];
	uint32_t ids[8192];
	uint8_t used[8192];
	uint32_t count;
};

static uint32_t symbol_id(struct symtab *t, const char *symbol)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < ARK_SYMBOL_MAX && symbol[i]; i++)
		h = (h ^ (uint8_t)symbol[i]) * 1099511628211ull;
	for (uint32_t k = (uint32_t)h & 8191;; k = (k + 1) & 8191) {
		if (!t->used[k]) {
			t->used[k] = 1;
			memcpy(t->names[k], symbol, ARK_SYMBOL_MAX);
			t->ids[k] = t->count++;
			return t->ids[k];
		}
		if (strncmp(t->names[k], symbol, ARK_SYMBOL_MAX) == 0)
			return t->ids[k];
	}
}

struct outcome {
	uint64_t ticks, clean, clean_intents, lane0[ARK_REASON_COUNT], lane1[ARK_REASON_COUNT];
	uint64_t digest;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Run `ticks` ticks through Kyle → Joey → HRM; check every decision. */
static void run(const struct ark_graveyard_rules *rules, uint64_t seed, double violations, uint64_t ticks,
		bool clean_intents, struct outcome *o)
{
	static struct ark_synth gen;
	static struct ark_synth_config cfg;
	static struct ark_graveyard_state state;
	static struct symtab tab;
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	cfg.seed = seed;
	cfg.violations = violations;
	CHECK_MSG(ark_synth_init(&gen, &cfg, rules, &err) == 0, "%s", err.msg);
	ark_graveyard_state_init(&state, rules);
	memset(&tab, 0, sizeof tab);
	memset(o, 0, sizeof *o);
	o->digest = 1469598103934665603ull;
	uint64_t last_time = 0;
	uint32_t clean_side = 0;
	/* Past `ticks`, finish the injection in progress so its symbols end
	 * flat; then the stream's finale (the daily loss, which nothing follows). */
	uint64_t n;
	bool finishing = false;
	for (n = 0;; n++) {
		if (n >= ticks && !gen.in_burst && !finishing) {
			/* Every injection left its symbols flat; nothing else traded but clean 1-unit orders. */
			CHECK_MSG(fabs(state.gross_exposure) < 1e-3 + (clean_intents ? 1e5 : 0), "gross exposure left: %g",
				  state.gross_exposure);
			ark_synth_finish(&gen);
			finishing = true;
		}
		struct ark_tick t;
		int more = ark_synth_next(&gen, &t);
		if (finishing && !more)
			break;
		CHECK(more == 1);
		struct ark_event e;
		memset(&e, 0, sizeof e);
		e.seq = n + 1;
		e.exchange_time_ns = t.exchange_time_ns;
		e.price = t.price;
		e.size = t.size;
		memcpy(e.symbol, t.symbol, ARK_SYMBOL_MAX);
		e.symbol_id = symbol_id(&tab, t.symbol);
		CHECK(e.symbol_id < ARK_GRAVEYARD_MAX_SYMBOLS);
		e.source = t.source;
		e.flags = t.flags;
		e.injected_kind = t.injected_kind;
		e.lane = t.lane;
		e.source_seq = t.source_seq;
		bool injected = t.flags & ARK_EVENT_INJECTED;
		if (injected) {
			int rc = ark_graveyard_injected_intent(rules, &e, &e.side, &e.quantity, &e.limit_price);
			CHECK_MSG(rc == 0, "tick %" PRIu64 ": injected_intent(kind %s lane %u) = %d", n,
				  ark_reason_name(t.injected_kind), t.lane, rc);
		} else {
			/* Clean: a valid price, a fresh monotonic time, no restricted symbol. */
			CHECK(isfinite(t.price) && t.price > 0);
			CHECK(t.exchange_time_ns >= last_time);
			CHECK(ark_graveyard_symbol_restriction(&rules->limits, t.symbol) == ARK_REASON_NONE);
			o->clean++;
			/* A small legal order now and then: 1 unit, sides alternating. */
			if (clean_intents && n % 10007 == 0) {
				e.side = clean_side++ % 2 ? ARK_SIDE_SELL : ARK_SIDE_BUY;
				e.quantity = 1;
				e.limit_price = t.price;
				o->clean_intents++;
			}
		}
		if (t.exchange_time_ns > last_time)
			last_time = t.exchange_time_ns;
		struct ark_graveyard_decision d;
		ark_graveyard_evaluate(rules, &state, &e, &inputs, &d);
		if (injected && t.lane == 0) {
			CHECK_MSG(d.verdict == ARK_VERDICT_DENY && d.reason == t.injected_kind,
				  "seed %" PRIu64 " tick %" PRIu64 ": injected %s (%s %g @ %g on %s) got %s/%s", seed, n,
				  ark_reason_name(t.injected_kind), ark_side_name(e.side), e.quantity, e.limit_price,
				  t.symbol, ark_verdict_name(d.verdict), ark_reason_name(d.reason));
			o->lane0[t.injected_kind]++;
		} else {
			CHECK_MSG(d.verdict == ARK_VERDICT_ALLOW,
				  "seed %" PRIu64 " tick %" PRIu64 ": %s tick (%s lane %u, %s %g @ %g on %s, price %g) "
				  "denied %s",
				  seed, n, injected ? "setup" : "clean", ark_reason_name(t.injected_kind), t.lane,
				  ark_side_name(e.side), e.quantity, e.limit_price, t.symbol, t.price,
				  ark_reason_name(d.reason));
			if (injected)
				o->lane1[t.injected_kind]++;
		}
		o->digest = mix(o->digest, &t, sizeof t);
		o->digest = mix(o->digest, &d, sizeof d);
	}
	o->ticks = n;
	CHECK(state.loss_latched == (violations > 0 && gen.kind_status[ARK_REASON_DAILY_LOSS][0] == '\0'));
	CHECK_EQ_U64(state.denials[ARK_REASON_ETHICS_DRIFT], 0);
}

static void check_coverage(const struct ark_graveyard_rules *rules, const struct outcome *o, double violations,
			   const char *what)
{
	static struct ark_synth gen;
	static struct ark_synth_config cfg;
	struct ark_err err = {0};
	ark_synth_config_defaults(&cfg);
	cfg.violations = violations;
	CHECK_MSG(ark_synth_init(&gen, &cfg, rules, &err) == 0, "%s", err.msg);
	uint64_t total = 0, lo = UINT64_MAX, hi = 0;
	for (int k = 0; k < ARK_REASON_COUNT; k++) {
		if (!ark_synth_injects(&gen, (enum ark_reason)k)) {
			CHECK_MSG(o->lane0[k] == 0, "%s: %s injected though not injectable", what, ark_reason_name(k));
			continue;
		}
		if (k == ARK_REASON_DAILY_LOSS) {   /* the finale: once */
			CHECK_MSG(o->lane0[k] == 1, "%s: the daily-loss finale came %" PRIu64 " times", what, o->lane0[k]);
			continue;
		}
		CHECK_MSG(o->lane0[k] > 0, "%s: no %s injected", what, ark_reason_name(k));
		total += o->lane0[k];
		lo = ARK_MIN(lo, o->lane0[k]);
		hi = ARK_MAX(hi, o->lane0[k]);
	}
	/* Round-robin: the kinds differ by at most one injection. */
	CHECK_MSG(hi - lo <= 1, "%s: uneven kinds (%" PRIu64 " .. %" PRIu64 ")", what, lo, hi);
	double fraction = (double)total / (double)o->ticks;
	CHECK_MSG(fabs(fraction - violations) <= violations * 0.01 + 2.0 / (double)o->ticks,
		  "%s: violation fraction %g, asked %g", what, fraction, violations);
	printf("%-28s %8" PRIu64 " ticks, %6" PRIu64 " violations over %u kinds, %" PRIu64 " clean\n", what, o->ticks,
	       total, gen.kind_count, o->clean);
}

static char *read_text(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	CHECK_MSG(f != NULL, "cannot open %s", path);
	static char buf[1 << 16];
	*n = fread(buf, 1, sizeof buf - 1, f);
	buf[*n] = '\0';
	fclose(f);
	char *copy = malloc(*n + 1);
	memcpy(copy, buf, *n + 1);
	return copy;
}

/* The shipped rules with one key's line replaced. */
static void rules_with(struct ark_graveyard_rules *rules, const char *const *replace, int count)
{
	size_t n;
	char *text = read_text(deploy_rules, &n);
	static char out[1 << 16];
	out[0] = '\0';
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		const char *use = line;
		for (int i = 0; i < count; i += 2)
			if (strncmp(line, replace[i], strlen(replace[i])) == 0 && line[strlen(replace[i])] == ' ')
				use = replace[i + 1];
		strcat(out, use);
		strcat(out, "\n");
	}
	free(text);
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_parse(out, strlen(out), "variant", rules, &err) == 0, "%s", err.msg);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	deploy_rules = argv[1];
	static struct ark_graveyard_rules rules;
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_load(deploy_rules, &rules, &err) == 0, "%s", err.msg);
	const uint64_t ticks = test_scaled(1000000, 200000);
	static struct outcome o, again;

	/* The shipped rules, several seeds, 1 % and 2 % violations. */
	const uint64_t seeds[] = {1, 42, 0xdeadbeefcafe};
	for (size_t i = 0; i < ARK_ARRAY_LEN(seeds); i++) {
		double v = i == 2 ? 0.02 : 0.01;
		run(&rules, seeds[i], v, ticks, i == 1, &o);
		char what[64];
		snprintf(what, sizeof what, "defaults seed %" PRIu64 "%s", seeds[i], i == 1 ? " +clean" : "");
		check_coverage(&rules, &o, v, what);
	}
	/* Determinism: the same seed gives the same ticks and decisions. */
	run(&rules, 42, 0.01, ticks / 4, true, &o);
	run(&rules, 42, 0.01, ticks / 4, true, &again);
	CHECK(o.digest == again.digest);
	run(&rules, 43, 0.01, ticks / 4, true, &again);
	CHECK(o.digest != again.digest);

	/* Tight limits: one order per symbol per window, tiny caps, bps collar,
	 * no restricted list, a day reset at 21:30. */
	static struct ark_graveyard_rules tight;
	const char *const tight_keys[] = {
		"order_rate", "order_rate = 7/1ms node",
		"order_rate_per_symbol", "order_rate_per_symbol = 1/2ms node",
		"max_order_quantity", "max_order_quantity = 3 node",
		"max_position", "max_position = 7.5 node",
		"max_order_notional", "max_order_notional = 250 node",
		"max_gross_exposure", "max_gross_exposure = 2000 node",
		"daily_loss_limit", "daily_loss_limit = 5000 node",
		"price_collar", "price_collar = 25bps node",
		"restricted_symbols", "restricted_symbols = none node",
		"duplicate_window", "duplicate_window = 3s node",
		"trading_day_reset", "trading_day_reset = 21:30 UTC",
	};
	rules_with(&tight, tight_keys, (int)ARK_ARRAY_LEN(tight_keys));
	run(&tight, 7, 0.01, ticks / 2, false, &o);
	check_coverage(&tight, &o, 0.01, "tight limits");

	/* REDUCING and HALTED: their own kinds become injectable. */
	static struct ark_graveyard_rules reducing, halted;
	const char *const reducing_keys[] = {"trading_state", "trading_state = REDUCING node"};
	rules_with(&reducing, reducing_keys, 2);
	run(&reducing, 9, 0.05, ticks / 4, false, &o);
	check_coverage(&reducing, &o, 0.05, "REDUCING");
	CHECK(o.lane0[ARK_REASON_REDUCING_ONLY] > 0);
	const char *const halted_keys[] = {"trading_state", "trading_state = HALTED global"};
	rules_with(&halted, halted_keys, 2);
	run(&halted, 9, 0.05, ticks / 4, false, &o);
	check_coverage(&halted, &o, 0.05, "HALTED");
	CHECK(o.lane0[ARK_REASON_HALTED] > 0);
	printf("synth e2e passed\n");
	return 0;
}
