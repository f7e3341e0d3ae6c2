/* graveyard/compare.c — is one rule table looser than another? Used before a
 * canary starts (watchdog): a canary whose rules let through anything the
 * stable rules deny needs the operator's explicit word to run at all.
 *
 * Invariant: "looser" errs on the side of saying so: every limit raised,
 * every window that admits more orders, every restriction removed, a less
 * strict trading state; a change in how a rule is stated (5% as 500bps)
 * that admits nothing more is not looser. */
#include "graveyard/internal.h"

#include <stdio.h>
#include <string.h>

static void note(char *why, size_t cap, int *count, const char *fmt, const char *a, const char *b)
{
	size_t used = strlen(why);
	if (used + 8 < cap)
		snprintf(why + used, cap - used, "%s", *count ? "; " : "");
	used = strlen(why);
	if (used + 8 < cap)
		snprintf(why + used, cap - used, fmt, a, b);
	(*count)++;
}

/* Does count per (sliding) window admit more than stable_count per
 * stable_window: a higher long-run rate, or more orders inside one stable
 * window (a shorter window lets count through in each of its pieces)? */
static bool rate_looser(uint32_t stable_count, uint64_t stable_window, uint32_t count, uint64_t window)
{
	if ((double)count * (double)stable_window > (double)stable_count * (double)window)
		return true;   /* a higher rate */
	if (window == 0)
		return true;
	uint64_t pieces = window >= stable_window ? 1 : (stable_window + window - 1) / window;
	return (double)count * (double)pieces > (double)stable_count;   /* a bigger burst */
}

int ark_graveyard_looser(const struct ark_graveyard_limits *stable, const struct ark_graveyard_limits *candidate,
			 char *why, size_t why_cap)
{
	int count = 0;
	if (why_cap)
		why[0] = '\0';
	char a[64], b[64];
#define DESCRIBE(kind)                                                        \
	do {                                                                  \
		ark_graveyard_describe_rule(stable, kind, a, sizeof a);       \
		ark_graveyard_describe_rule(candidate, kind, b, sizeof b);    \
	} while (0)
	if (candidate->trading_state < stable->trading_state) {
		note(why, why_cap, &count, "trading_state %s -> %s",
		     ark_trading_state_name((enum ark_trading_state)stable->trading_state),
		     ark_trading_state_name((enum ark_trading_state)candidate->trading_state));
	}
	static const struct {
		enum ark_reason kind;
		size_t offset;
	} caps[] = {
		{ARK_REASON_MAX_QUANTITY, offsetof(struct ark_graveyard_limits, max_order_quantity)},
		{ARK_REASON_MAX_NOTIONAL, offsetof(struct ark_graveyard_limits, max_order_notional)},
		{ARK_REASON_PRICE_COLLAR, offsetof(struct ark_graveyard_limits, price_collar)},
		{ARK_REASON_POSITION_LIMIT, offsetof(struct ark_graveyard_limits, max_position)},
		{ARK_REASON_GROSS_EXPOSURE, offsetof(struct ark_graveyard_limits, max_gross_exposure)},
		{ARK_REASON_DAILY_LOSS, offsetof(struct ark_graveyard_limits, daily_loss_limit)},
	};
	for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
		double s, c;
		memcpy(&s, (const char *)stable + caps[i].offset, sizeof s);
		memcpy(&c, (const char *)candidate + caps[i].offset, sizeof c);
		if (!(c <= s * (1 + ARK_GRAVEYARD_EPSILON))) {   /* NaN in the candidate is looser too */
			DESCRIBE(caps[i].kind);
			char what[96];
			snprintf(what, sizeof what, "%s %%s -> %%s", ark_graveyard_rule_key(caps[i].kind));
			note(why, why_cap, &count, what, a, b);
		}
	}
	if (candidate->reference_max_age_ns > stable->reference_max_age_ns) {
		DESCRIBE(ARK_REASON_REFERENCE_PRICE);
		note(why, why_cap, &count, "reference_max_age %s -> %s", a, b);
	}
	if (candidate->duplicate_window_ns < stable->duplicate_window_ns) {
		DESCRIBE(ARK_REASON_DUPLICATE);
		note(why, why_cap, &count, "duplicate_window %s -> %s", a, b);
	}
	if (rate_looser(stable->order_rate_count, stable->order_rate_window_ns, candidate->order_rate_count,
			candidate->order_rate_window_ns)) {
		DESCRIBE(ARK_REASON_RATE_GLOBAL);
		note(why, why_cap, &count, "order_rate %s -> %s", a, b);
	}
	if (rate_looser(stable->order_rate_per_symbol_count, stable->order_rate_per_symbol_window_ns,
			candidate->order_rate_per_symbol_count, candidate->order_rate_per_symbol_window_ns)) {
		DESCRIBE(ARK_REASON_RATE_SYMBOL);
		note(why, why_cap, &count, "order_rate_per_symbol %s -> %s", a, b);
	}
	/* Every restriction of the stable rules must still hold. */
	for (uint32_t i = 0; i < stable->restricted_count && i < ARK_GRAVEYARD_MAX_RESTRICTED; i++) {
		bool kept = false;
		for (uint32_t j = 0; j < candidate->restricted_count && j < ARK_GRAVEYARD_MAX_RESTRICTED && !kept; j++)
			kept = memcmp(stable->restricted[i], candidate->restricted[j], ARK_SYMBOL_MAX) == 0;
		if (!kept) {
			char symbol[ARK_SYMBOL_MAX + 1];
			memcpy(symbol, stable->restricted[i], ARK_SYMBOL_MAX);
			symbol[ARK_SYMBOL_MAX] = '\0';
			note(why, why_cap, &count, "restricted_symbols without %s%s", symbol, "");
		}
	}
	for (uint32_t i = 0; i < stable->pattern_count && i < ARK_GRAVEYARD_MAX_PATTERNS; i++) {
		bool kept = false;
		for (uint32_t j = 0; j < candidate->pattern_count && j < ARK_GRAVEYARD_MAX_PATTERNS && !kept; j++)
			kept = strncmp(stable->patterns[i].text, candidate->patterns[j].text, ARK_GRAVEYARD_PATTERN_MAX) == 0;
		if (!kept) {
			char pattern[ARK_GRAVEYARD_PATTERN_MAX + 1];
			memcpy(pattern, stable->patterns[i].text, ARK_GRAVEYARD_PATTERN_MAX);
			pattern[ARK_GRAVEYARD_PATTERN_MAX] = '\0';
			note(why, why_cap, &count, "restricted_patterns without %s%s", pattern, "");
		}
	}
#undef DESCRIBE
	return count;
}
