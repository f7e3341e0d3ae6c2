/* tests/fuzz/fuzz_signals.c — libFuzzer target for the POST /v1/signals body
 * parser (api/signals.c over feed/parse.c): any body is refused with a
 * reason or gives 1..max ticks that hold together; never a crash or an
 * overread. */
#include "api/api.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ark_tick ticks[MAX];
	char why[256] = "";
	uint32_t n = 0;
	int rc = ark_api_parse_signals((const char *)data, size, ticks, MAX, &n, why, sizeof why);
	if (rc == 0) {
		if (n == 0 || n > MAX)
			abort();
		for (uint32_t i = 0; i < n; i++)
			if (!ticks[i].symbol[0] || !(ticks[i].price > 0) || !isfinite(ticks[i].price) || ticks[i].size < 0)
				abort();
	} else if ((rc != -EINVAL && rc != -E2BIG) || !why[0]) {
		abort();
	}
	return 0;
}
