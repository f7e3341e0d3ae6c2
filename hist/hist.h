/* hist/hist.h — a log-linear latency histogram (HdrHistogram-like).
 *
 * Values are unsigned 64-bit integers (nanoseconds, usually). Each power of two
 * is split into ARK_HIST_SUB_BUCKETS linear sub-buckets, so any recorded value
 * is known to within 1/128 (< 0.8 %) relative error; values below 128 are
 * exact. Values above ARK_HIST_MAX_VALUE (~1.1e12, i.e. 18 minutes in ns) land
 * in the last bucket and still count. A histogram is plain memory with no
 * pointers: it may live in a shared segment and be copied.
 * Recording is a few instructions and never allocates; one writer at a time. */
#ifndef ARK_HIST_H
#define ARK_HIST_H

#include <stddef.h>
#include <stdint.h>

#define ARK_HIST_SUB_BITS 7
#define ARK_HIST_SUB_BUCKETS (1u << ARK_HIST_SUB_BITS)
#define ARK_HIST_MAX_EXPONENT 40
#define ARK_HIST_BUCKETS (ARK_HIST_SUB_BUCKETS * (ARK_HIST_MAX_EXPONENT - ARK_HIST_SUB_BITS + 2))
#define ARK_HIST_MAX_VALUE ((1ull << (ARK_HIST_MAX_EXPONENT + 1)) - 1)

/* What a record changes besides its one bucket. Declared once, reachable
 * two ways: field by field (h->count) and whole (h->totals), so an undo log
 * saves sizeof h->totals and a new total cannot be left out of it. */
#define ARK_HIST_TOTALS \
	uint64_t count; \
	uint64_t sum; \
	uint64_t min; \
	uint64_t max;
struct ark_hist_totals {
	ARK_HIST_TOTALS
};
struct ark_hist {
	union {
		struct { ARK_HIST_TOTALS };
		struct ark_hist_totals totals;
	};
	uint64_t buckets[ARK_HIST_BUCKETS];
};
_Static_assert(offsetof(struct ark_hist, buckets) == sizeof(struct ark_hist_totals),
	       "a histogram is its totals, then its buckets");

void ark_hist_reset(struct ark_hist *h);

/* ---- The log-linear bucket arithmetic, once ----
 * For a precision of sub_bits (2^sub_bits linear sub-buckets per power of
 * two; values below 2^sub_bits exact) and values up to the power of two
 * 2^top_exponent (a larger value counts in the last bucket). struct ark_hist
 * uses it with ARK_HIST_SUB_BITS / ARK_HIST_MAX_EXPONENT; the metrics
 * registry's shared-memory histograms (metrics/) with 6 bits up to 2^36 ns,
 * so that their per-slice snapshots stay half the size. The bucket of a
 * value, and the lowest and highest value a bucket stands for. */
static inline uint32_t ark_hist_loglin_bucket(uint64_t value, uint32_t sub_bits, uint32_t top_exponent)
{
	uint64_t top = (2ull << top_exponent) - 1;
	if (value > top)
		value = top;
	uint64_t subs = 1ull << sub_bits;
	if (value < subs)
		return (uint32_t)value;
	uint32_t exponent = 63u - (uint32_t)__builtin_clzll(value);     /* >= sub_bits */
	uint32_t sub = (uint32_t)(value >> (exponent - sub_bits)) & (uint32_t)(subs - 1);
	return (exponent - sub_bits + 1) * (uint32_t)subs + sub;
}

static inline uint64_t ark_hist_loglin_low(uint32_t bucket, uint32_t sub_bits)
{
	uint32_t subs = 1u << sub_bits;
	if (bucket < subs)
		return bucket;
	uint32_t exponent = bucket / subs + sub_bits - 1;
	uint64_t sub = bucket % subs;
	return (sub | subs) << (exponent - sub_bits);
}

static inline uint64_t ark_hist_loglin_high(uint32_t bucket, uint32_t sub_bits)
{
	uint32_t subs = 1u << sub_bits;
	if (bucket < subs)
		return bucket;
	uint32_t exponent = bucket / subs + sub_bits - 1;
	return ark_hist_loglin_low(bucket, sub_bits) + (1ull << (exponent - sub_bits)) - 1;
}

static inline uint32_t ark_hist_bucket_of(uint64_t value)
{
	return ark_hist_loglin_bucket(value, ARK_HIST_SUB_BITS, ARK_HIST_MAX_EXPONENT);
}

static inline void ark_hist_record(struct ark_hist *h, uint64_t value)
{
	h->buckets[ark_hist_bucket_of(value)]++;
	h->count++;
	h->sum += value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

/* The smallest and largest value a bucket stands for. */
uint64_t ark_hist_bucket_low(uint32_t bucket);
uint64_t ark_hist_bucket_high(uint32_t bucket);

/* The value at quantile q in [0, 1]: the midpoint of the bucket holding the
 * q-th ranked value, clamped to [min, max]. 0 when empty. */
uint64_t ark_hist_quantile(const struct ark_hist *h, double q);

#endif /* ARK_HIST_H */
