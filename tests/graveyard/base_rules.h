/* tests/graveyard/base_rules.h — the Graveyard's rules the tests start
 * from, as one text: small, round limits, one key per line (so a key's line
 * is its rule id: graveyard_test.h's L_* numbers). Shared by the Graveyard's
 * tests (graveyard_test.h builds variants from it), the audit's
 * (tests/hostile) and HRM's fuzz target (tests/fuzz). */
#ifndef ARK_TESTS_GRAVEYARD_BASE_RULES_H
#define ARK_TESTS_GRAVEYARD_BASE_RULES_H

#define ARK_TEST_BASE_RULES \
	"version = 1\n" \
	"trading_state = ACTIVE node\n" \
	"max_order_quantity = 100 node\n" \
	"max_order_notional = 5000 node\n" \
	"price_collar = 5% node\n" \
	"reference_max_age = 1s node\n" \
	"restricted_symbols = BAD, WORSE node\n" \
	"restricted_patterns = *.OTC, TEST* node\n" \
	"order_rate = 10/1s global\n" \
	"order_rate_per_symbol = 3/1s node\n" \
	"duplicate_window = 500ms node\n" \
	"max_position = 200 node\n" \
	"max_gross_exposure = 20000 global\n" \
	"daily_loss_limit = 1000 global\n" \
	"trading_day_reset = 00:00 UTC\n"

#endif /* ARK_TESTS_GRAVEYARD_BASE_RULES_H */
