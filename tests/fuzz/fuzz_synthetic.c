/* tests/fuzz/fuzz_synthetic.c — libFuzzer target for the POST /v1/synthetic
 * body parser (api/synthetic.c): any body is refused with a reason or gives
 * 1..max ticks that hold together (a symbol, a finite size, the synthetic
 * flag, an injected kind only with the injected flag); never a crash or an
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
	int rc = ark_api_parse_synthetic((const char *)data, size, ticks, MAX, &n, why, sizeof why);
	if (rc == 0) {
		if (n == 0 || n > MAX)
			abort();
		for (uint32_t i = 0; i < n; i++) {
			const struct ark_tick *t = &ticks[i];
			if (!t->symbol[0] || !isfinite(t->size) || !(t->flags & ARK_EVENT_SYNTHETIC) || t->lane > 1 ||
			    (t->injected_kind && !(t->flags & ARK_EVENT_INJECTED)) || t->injected_kind >= ARK_REASON_COUNT)
				abort();
		}
	} else if ((rc != -EINVAL && rc != -E2BIG) || !why[0]) {
		abort();
	}
	return 0;
}
