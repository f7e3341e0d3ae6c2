/* graveyard/rules_describe.c — a compiled rule back as text, in the file's
 * own syntax ("100/1s", "5%", "ZVZZT, ZWZZT"), for `ark graveyard check`,
 * denial messages and traces.
 *
 * Invariant: describing a table never changes it; the text parses back to the
 * same values. */
#include "graveyard/graveyard.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void duration_text(uint64_t ns, char *out, size_t cap)
{
	static const struct { uint64_t ns; const char *unit; } units[] = {
		{3600000000000ull, "h"}, {60000000000ull, "m"}, {1000000000ull, "s"},
		{1000000ull, "ms"},      {1000ull, "us"},       {1ull, "ns"},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (ns % units[i].ns == 0 && ns) {
			snprintf(out, cap, "%" PRIu64 "%s", ns / units[i].ns, units[i].unit);
			return;
		}
	snprintf(out, cap, "0s");
}

static void list_text(const struct ark_graveyard_limits *l, bool patterns, char *out, size_t cap)
{
	uint32_t n = patterns ? l->pattern_count : l->restricted_count;
	size_t used = 0;
	out[0] = '\0';
	if (n == 0) {
		snprintf(out, cap, "none");
		return;
	}
	for (uint32_t i = 0; i < n && used < cap; i++) {
		const char *item = patterns ? l->patterns[i].text : l->restricted[i];
		int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", item);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

int ark_graveyard_describe_rule(const struct ark_graveyard_limits *l, enum ark_reason kind, char *out, size_t cap)
{
	char a[32];
	switch (kind) {
	case ARK_REASON_HALTED:
	case ARK_REASON_REDUCING_ONLY:
		return snprintf(out, cap, "%s", ark_trading_state_name(l->trading_state));
	case ARK_REASON_MAX_QUANTITY: return snprintf(out, cap, "%.17g", l->max_order_quantity);
	case ARK_REASON_MAX_NOTIONAL: return snprintf(out, cap, "%.17g", l->max_order_notional);
	case ARK_REASON_PRICE_COLLAR:
		return l->price_collar_in_bps ? snprintf(out, cap, "%.15gbps", l->price_collar * 10000)
					      : snprintf(out, cap, "%.15g%%", l->price_collar * 100);
	case ARK_REASON_REFERENCE_PRICE:
		duration_text(l->reference_max_age_ns, out, cap);
		return 0;
	case ARK_REASON_RESTRICTED_SYMBOL: list_text(l, false, out, cap); return 0;
	case ARK_REASON_RESTRICTED_PATTERN: list_text(l, true, out, cap); return 0;
	case ARK_REASON_RATE_GLOBAL:
		duration_text(l->order_rate_window_ns, a, sizeof a);
		return snprintf(out, cap, "%u/%s", l->order_rate_count, a);
	case ARK_REASON_RATE_SYMBOL:
		duration_text(l->order_rate_per_symbol_window_ns, a, sizeof a);
		return snprintf(out, cap, "%u/%s", l->order_rate_per_symbol_count, a);
	case ARK_REASON_DUPLICATE:
		duration_text(l->duplicate_window_ns, out, cap);
		return 0;
	case ARK_REASON_POSITION_LIMIT: return snprintf(out, cap, "%.17g", l->max_position);
	case ARK_REASON_GROSS_EXPOSURE: return snprintf(out, cap, "%.17g", l->max_gross_exposure);
	case ARK_REASON_DAILY_LOSS: return snprintf(out, cap, "%.17g", l->daily_loss_limit);
	default:
		snprintf(out, cap, "-");
		return -1;
	}
}

void ark_graveyard_describe_reset(const struct ark_graveyard_limits *l, char *out, size_t cap)
{
	uint64_t s = l->trading_day_reset_ns / 1000000000ull;
	snprintf(out, cap, "%02u:%02u:%02u %s", (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60),
		 l->trading_day_zone[0] ? l->trading_day_zone : "UTC");
}
