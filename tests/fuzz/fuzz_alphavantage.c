/* tests/fuzz/fuzz_alphavantage.c — libFuzzer target for the reading of
 * Alpha Vantage's GLOBAL_QUOTE answers (alphavantage/quote.c): any body,
 * under any status, is one kind; a quote gives a tick with a finite
 * positive price, a finite non-negative size and a terminated symbol;
 * detail is always terminated. Never a crash or an overread. */
#include "alphavantage/alphavantage.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	static const int statuses[] = {200, 404, 500, 0};
	for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++) {
		struct ark_tick tick;
		memset(&tick, 0xa5, sizeof tick);
		char detail[128];
		enum ark_av_kind k = ark_av_parse_quote(statuses[i], body, size, "IBM", &tick, detail, sizeof detail);
		if ((unsigned)k >= ARK_AV_KIND_COUNT || !memchr(detail, '\0', sizeof detail))
			abort();
		if (k == ARK_AV_QUOTE || k == ARK_AV_QUOTE_DELAYED) {
			if (statuses[i] != 200 || !(tick.price > 0) || !isfinite(tick.price) || !(tick.size >= 0) ||
			    !isfinite(tick.size) || !memchr(tick.symbol, '\0', sizeof tick.symbol))
				abort();
		}
	}
	free(body);
	return 0;
}
