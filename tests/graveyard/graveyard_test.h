/* tests/graveyard/graveyard_test.h — shared by the Graveyard's tests: a base
 * rules text with small, round limits (one key per line, so a key's line is
 * its rule id), variants with keys replaced, and an event builder. */
#ifndef ARK_TESTS_GRAVEYARD_TEST_H
#define ARK_TESTS_GRAVEYARD_TEST_H

#include "check.h"
#include "base_rules.h"
#include "graveyard/graveyard.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* 2024-01-02T14:30:00Z */
#define T0 1704205800000000000ull
#define MS 1000000ull
#define SEC 1000000000ull

/* Line numbers of the keys of ARK_TEST_BASE_RULES (1-based). */
enum {
	L_VERSION = 1, L_STATE, L_QUANTITY, L_NOTIONAL, L_COLLAR, L_REFERENCE, L_RESTRICTED, L_PATTERNS,
	L_RATE, L_RATE_SYMBOL, L_DUPLICATE, L_POSITION, L_GROSS, L_LOSS, L_RESET
};


/* The base text with lines whose key matches replaced: pairs {key, line}. */
static inline void rules_text(char *out, size_t cap, const char *const *replace, int count)
{
	size_t used = 0;
	out[0] = '\0';
	for (const char *base = ARK_TEST_BASE_RULES, *end; *base; base = end + 1) {
		end = strchr(base, '\n');
		const char *line = base;
		int len = (int)(end - base);
		for (int r = 0; r < count; r += 2) {
			size_t n = strlen(replace[r]);
			if (strncmp(line, replace[r], n) == 0 && line[n] == ' ') {
				line = replace[r + 1];
				len = (int)strlen(line);
			}
		}
		used += (size_t)snprintf(out + used, cap - used, "%.*s\n", len, line);
	}
}

static inline void make_rules(struct ark_graveyard_rules *rules, const char *const *replace, int count)
{
	char text[8192];
	struct ark_err err = {0};
	rules_text(text, sizeof text, replace, count);
	CHECK_MSG(ark_graveyard_parse(text, strlen(text), "test.rules", rules, &err) == 0, "%s", err.msg);
}

static inline struct ark_event event_at(uint32_t id, const char *symbol, double price, uint64_t t)
{
	struct ark_event e;
	memset(&e, 0, sizeof e);
	e.symbol_id = id;
	snprintf(e.symbol, sizeof e.symbol, "%s", symbol);
	e.price = price;
	e.size = 100;
	e.exchange_time_ns = t;
	return e;
}

static inline struct ark_event order_at(uint32_t id, const char *symbol, double price, uint64_t t, uint8_t side,
					double quantity, double limit)
{
	struct ark_event e = event_at(id, symbol, price, t);
	e.side = side;
	e.quantity = quantity;
	e.limit_price = limit;
	return e;
}

/* What HRM would pass beside each event: no clock ceiling, trading day 0,
 * not quarantined. A test changes it to roll the day or bound the clock. */
static struct ark_graveyard_inputs test_inputs = {.clock_ceiling_ns = UINT64_MAX};

/* Evaluate and return the decision. */
static inline struct ark_graveyard_decision judge(const struct ark_graveyard_rules *r, struct ark_graveyard_state *s,
						  struct ark_event e)
{
	struct ark_graveyard_decision d;
	memset(&d, 0xee, sizeof d);
	ark_graveyard_evaluate(r, s, &e, &test_inputs, &d);
	return d;
}

#define EXPECT_ALLOW(d)                                                                                  \
	do {                                                                                             \
		struct ark_graveyard_decision _d = (d);                                                  \
		CHECK_MSG(_d.verdict == ARK_VERDICT_ALLOW && _d.reason == ARK_REASON_NONE,              \
			  "expected allow, got %s/%s", ark_verdict_name(_d.verdict), ark_reason_name(_d.reason)); \
	} while (0)

#define EXPECT_DENY(d, why)                                                                              \
	do {                                                                                             \
		struct ark_graveyard_decision _d = (d);                                                  \
		CHECK_MSG(_d.verdict == ARK_VERDICT_DENY && _d.reason == (why),                          \
			  "expected deny %s, got %s/%s", ark_reason_name(why), ark_verdict_name(_d.verdict),   \
			  ark_reason_name(_d.reason));                                                   \
	} while (0)

#endif /* ARK_TESTS_GRAVEYARD_TEST_H */
