/* hist/hist.c — bucket bounds and quantiles of the log-linear histogram.
 * Invariant: count == sum of buckets; min <= every recorded value <= max. */
#include "hist/hist.h"

#include <string.h>

void ark_hist_reset(struct ark_hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

uint64_t ark_hist_bucket_low(uint32_t bucket)
{
	return ark_hist_loglin_low(bucket, ARK_HIST_SUB_BITS);
}

uint64_t ark_hist_bucket_high(uint32_t bucket)
{
	return ark_hist_loglin_high(bucket, ARK_HIST_SUB_BITS);
}

uint64_t ark_hist_quantile(const struct ark_hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < ARK_HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t low = ark_hist_bucket_low(b), high = ark_hist_bucket_high(b);
			uint64_t mid = low + (high - low) / 2;
			if (mid < h->min)
				mid = h->min;
			if (mid > h->max)
				mid = h->max;
			return mid;
		}
	}
	return h->max;
}
