/* tests/canary/test_canary_rules.c — the pieces of "canaries that cannot
 * loosen the gate" that are plain arithmetic (issue 22, point 3):
 *   looser    ark_graveyard_looser names every limit raised, every window
 *             admitting more orders (a higher rate, or a bigger burst in a
 *             shorter window), every restriction removed and a less strict
 *             trading state, and nothing for rules as strict or stricter
 *   verdict   the denial tripwire fires above the stable baseline by more
 *             than the band and, as well, below it by as much; not inside
 *             the band, nor on fewer than 20 canary events */
#include "check.h"

#include "graveyard/graveyard.h"
#include "watchdog/watchdog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_rules =
	"version = 1\n"
	"trading_state = ACTIVE node\n"
	"max_order_quantity = 10000 node\n"
	"max_order_notional = 1000000 node\n"
	"price_collar = 5% node\n"
	"reference_max_age = 5s node\n"
	"restricted_symbols = ZVZZT, ZWZZT, ZXZZT node\n"
	"restricted_patterns = *.OTC, TEST* node\n"
	"order_rate = 200/1s global\n"
	"order_rate_per_symbol = 20/1s node\n"
	"duplicate_window = 500ms node\n"
	"max_position = 50000 node\n"
	"max_gross_exposure = 10000000 global\n"
	"daily_loss_limit = 250000 global\n"
	"trading_day_reset = 00:00 UTC\n";

static struct ark_graveyard_rules base, other;

/* The base rules with one line replaced (key = the text before " = "). */
static void with(const char *line)
{
	char text[4096] = "";
	char key[64];
	snprintf(key, sizeof key, "%.*s", (int)(strchr(line, '=') - line), line);
	for (const char *p = base_rules; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p) + 1;
		if (strncmp(p, key, strlen(key)) == 0)
			strcat(text, line), strcat(text, "\n");
		else
			strncat(text, p, n);
		p += n;
	}
	struct ark_err err = {0};
	CHECK_MSG(ark_graveyard_parse(text, strlen(text), "other", &other, &err) == 0, "%s: %s", line, err.msg);
}

static void expect(const char *line, int count, const char *words)
{
	with(line);
	char why[512];
	int n = ark_graveyard_looser(&base.limits, &other.limits, why, sizeof why);
	CHECK_MSG(n == count, "%s: %d loosened (expected %d): %s", line, n, count, why);
	if (words)
		CHECK_MSG(strstr(why, words), "%s: '%s' does not say '%s'", line, why, words);
}

static void test_looser(void)
{
	struct ark_err err = {0};
	CHECK(ark_graveyard_parse(base_rules, strlen(base_rules), "base", &base, &err) == 0);
	char why[512];
	CHECK(ark_graveyard_looser(&base.limits, &base.limits, why, sizeof why) == 0 && why[0] == '\0');
	expect("max_order_quantity = 20000 node", 1, "max_order_quantity 10000 -> 20000");
	expect("max_order_quantity = 5000 node", 0, NULL);
	expect("max_order_notional = 1000001 node", 1, "max_order_notional");
	expect("price_collar = 600bps node", 1, "price_collar");
	expect("price_collar = 500bps node", 0, NULL);   /* the same collar, stated otherwise */
	expect("reference_max_age = 6s node", 1, "reference_max_age");
	expect("restricted_symbols = none node", 3, "restricted_symbols without ZVZZT");
	expect("restricted_symbols = ZVZZT, ZWZZT, ZXZZT, ABCD node", 0, NULL);
	expect("restricted_patterns = TEST* node", 1, "restricted_patterns without *.OTC");
	expect("order_rate = 400/1s global", 1, "order_rate 200/1s -> 400/1s");
	expect("order_rate = 200/2s global", 0, NULL);
	expect("order_rate = 150/900ms global", 1, "order_rate");   /* lower rate, but 300 fit in one second */
	expect("order_rate = 1000/10s global", 1, "order_rate");    /* lower rate, bigger burst */
	expect("order_rate_per_symbol = 21/1s node", 1, "order_rate_per_symbol");
	expect("duplicate_window = 100ms node", 1, "duplicate_window");
	expect("duplicate_window = 1s node", 0, NULL);
	expect("max_position = 60000 node", 1, "max_position");
	expect("max_gross_exposure = 20000000 global", 1, "max_gross_exposure");
	expect("daily_loss_limit = 300000 global", 1, "daily_loss_limit");
	with("trading_state = REDUCING node");
	struct ark_graveyard_rules reducing = other;
	CHECK(ark_graveyard_looser(&reducing.limits, &base.limits, why, sizeof why) == 1 && strstr(why, "trading_state REDUCING -> ACTIVE"));
	CHECK(ark_graveyard_looser(&base.limits, &reducing.limits, why, sizeof why) == 0);
	printf("looser: ok\n");
}

static void test_verdict(void)
{
	double flat[10];
	for (int i = 0; i < 10; i++)
		flat[i] = 0.10 + (i % 2 ? 0.002 : -0.002);
	char reason[192];
	/* above by far */
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 1000, 300, 3, reason, sizeof reason) == 1);
	CHECK_CONTAINS(reason, "stable baseline 10.00% + 3 sigma");
	/* below by far: a canary that denies nothing */
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 1000, 0, 3, reason, sizeof reason) == -1);
	CHECK_CONTAINS(reason, "below the stable baseline 10.00% - 3 sigma");
	/* inside the band either way */
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 1000, 100, 3, reason, sizeof reason) == 0);
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 1000, 85, 3, reason, sizeof reason) == 0);
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 1000, 115, 3, reason, sizeof reason) == 0);
	/* a small sample: the binomial band is wide, no verdict below */
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 40, 0, 3, reason, sizeof reason) == 0);
	/* fewer than 20 events: no verdict at all */
	CHECK(ark_canary_denial_verdict(flat, 10, 0.10, 100000, 19, 19, 3, reason, sizeof reason) == 0);
	/* a rare-denial baseline (1%): a quiet canary interval is no verdict */
	double rare[5] = {0.01, 0.012, 0.008, 0.01, 0.011};
	CHECK(ark_canary_denial_verdict(rare, 5, 0.01, 10000, 90, 0, 3, reason, sizeof reason) == 0);
	printf("verdict: ok\n");
}

int main(void)
{
	test_looser();
	test_verdict();
	printf("canary rules: ok\n");
	return 0;
}
