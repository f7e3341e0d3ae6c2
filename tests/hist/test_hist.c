/* tests/hist/test_hist.c — the log-linear histogram (hist/) whose quantiles
 * drive `ark synth`'s p95 criterion, the canary's rollback, status and the
 * run summary: every bucket's bounds, values below 128 exact, quantiles
 * against the exact value of sorted data within the stated error (< 1/128
 * relative), min and max exact, the edges (0, the largest value, beyond
 * it), empty and reset, and the bucket arithmetic at another precision. */
#include "check.h"
#include "hist/hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct ark_hist a, b, all;

static int cmp_u64(const void *x, const void *y)
{
	uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
	return p < q ? -1 : p > q;
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_buckets(void)
{
	/* contiguous, non-overlapping, each value maps into its own bucket */
	CHECK_EQ_U64(ark_hist_bucket_low(0), 0);
	for (uint32_t bk = 0; bk < ARK_HIST_BUCKETS; bk++) {
		uint64_t lo = ark_hist_bucket_low(bk), hi = ark_hist_bucket_high(bk);
		CHECK_MSG(lo <= hi, "bucket %u: %llu > %llu", bk, (unsigned long long)lo, (unsigned long long)hi);
		CHECK_EQ_U64(ark_hist_bucket_of(lo), bk);
		CHECK_EQ_U64(ark_hist_bucket_of(hi), bk);
		if (bk + 1 < ARK_HIST_BUCKETS)
			CHECK_EQ_U64(ark_hist_bucket_low(bk + 1), hi + 1);
		/* the stated precision: a bucket is at most 1/128 of its low end wide */
		if (lo >= ARK_HIST_SUB_BUCKETS)
			CHECK_MSG((double)(hi - lo + 1) <= (double)lo / ARK_HIST_SUB_BUCKETS,
				  "bucket %u is %llu wide at %llu", bk, (unsigned long long)(hi - lo + 1),
				  (unsigned long long)lo);
		else
			CHECK_EQ_U64(lo, hi); /* below 128: exact */
	}
	CHECK_EQ_U64(ark_hist_bucket_high(ARK_HIST_BUCKETS - 1), ARK_HIST_MAX_VALUE);
	/* beyond the largest value: the last bucket */
	CHECK_EQ_U64(ark_hist_bucket_of(ARK_HIST_MAX_VALUE + 1), ARK_HIST_BUCKETS - 1);
	CHECK_EQ_U64(ark_hist_bucket_of(UINT64_MAX), ARK_HIST_BUCKETS - 1);
	/* the first buckets past the exact range */
	CHECK_EQ_U64(ark_hist_bucket_of(127), 127);
	CHECK_EQ_U64(ark_hist_bucket_of(128), 128);
	CHECK_EQ_U64(ark_hist_bucket_of(255), 255);
	CHECK_EQ_U64(ark_hist_bucket_of(256), 256);
	CHECK_EQ_U64(ark_hist_bucket_of(257), 256);
	CHECK_EQ_U64(ark_hist_bucket_of(258), 257);
}

static void test_empty_and_reset(void)
{
	ark_hist_reset(&a);
	CHECK_EQ_U64(a.count, 0);
	CHECK_EQ_U64(a.min, UINT64_MAX);
	CHECK_EQ_U64(a.max, 0);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.5), 0);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0), 0);
	CHECK_EQ_U64(ark_hist_quantile(&a, 1), 0);
	CHECK_EQ_U64(a.sum, 0);
	ark_hist_record(&a, 5);
	ark_hist_reset(&a);
	CHECK_EQ_U64(a.count, 0);
	for (uint32_t i = 0; i < ARK_HIST_BUCKETS; i++)
		CHECK_EQ_U64(a.buckets[i], 0);
}

static void test_exact_small(void)
{
	/* below 128 every quantile is the exact value */
	ark_hist_reset(&a);
	for (uint64_t v = 0; v < 100; v++)
		ark_hist_record(&a, v);
	CHECK_EQ_U64(a.count, 100);
	CHECK_EQ_U64(a.sum, 4950);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0), 0);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.01), 0);   /* rank 1 */
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.5), 49);   /* rank 50 */
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.95), 94);  /* rank 95 */
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.99), 98);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.991), 99); /* rank 100 (rounded up) */
	CHECK_EQ_U64(ark_hist_quantile(&a, 1), 99);
	CHECK_EQ_U64(ark_hist_quantile(&a, -1), 0);
	CHECK_EQ_U64(ark_hist_quantile(&a, 2), 99);
	/* one value: every quantile is it, clamped to min = max */
	ark_hist_reset(&a);
	ark_hist_record(&a, 1000003);
	for (double q = 0; q <= 1.0; q += 0.125)
		CHECK_EQ_U64(ark_hist_quantile(&a, q), 1000003);
}

/* The exact q-quantile of sorted data as the histogram ranks it: the
 * ceil(q * n)-th smallest value. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);
	if (rank == 0)
		rank = 1;
	return sorted[rank - 1];
}

static void check_quantiles(const struct ark_hist *h, const uint64_t *sorted, size_t n, const char *what)
{
	static const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		uint64_t want = exact_quantile(sorted, n, qs[i]);
		uint64_t got = ark_hist_quantile(h, qs[i]);
		double bound = want < ARK_HIST_SUB_BUCKETS ? 0 : (double)want / ARK_HIST_SUB_BUCKETS;
		double diff = fabs((double)got - (double)want);
		CHECK_MSG(diff <= bound, "%s: q%.4f = %llu, exact %llu (error %.0f > bound %.0f)", what, qs[i],
			  (unsigned long long)got, (unsigned long long)want, diff, bound);
	}
	CHECK_EQ_U64(ark_hist_quantile(h, 0), sorted[0]);
	CHECK_EQ_U64(ark_hist_quantile(h, 1), sorted[n - 1]);
	CHECK_EQ_U64(h->min, sorted[0]);
	CHECK_EQ_U64(h->max, sorted[n - 1]);
}

static void test_quantiles(void)
{
	const size_t n = (size_t)test_scaled(200000, 20000);
	uint64_t *vals = malloc(n * sizeof *vals);
	CHECK(vals);
	/* latencies spread over eight decades, log-uniform, plus a heavy tail */
	for (size_t i = 0; i < n; i++) {
		double e = (double)(next_rand() % 1000000) / 1000000.0 * 8.0;
		uint64_t v = (uint64_t)pow(10.0, e);
		if (i % 997 == 0)
			v = 5000000000ull + next_rand() % 1000000000ull; /* a few seconds */
		vals[i] = v;
	}
	ark_hist_reset(&a);
	ark_hist_reset(&b);
	ark_hist_reset(&all);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		ark_hist_record(i % 3 ? &a : &b, vals[i]);
		ark_hist_record(&all, vals[i]);
		sum += vals[i];
	}
	CHECK_EQ_U64(all.count, n);
	CHECK_EQ_U64(all.sum, sum);
	uint64_t total = 0;
	for (uint32_t i = 0; i < ARK_HIST_BUCKETS; i++)
		total += all.buckets[i];
	CHECK_EQ_U64(total, n);

	uint64_t *sorted = malloc(n * sizeof *sorted);
	CHECK(sorted);
	memcpy(sorted, vals, n * sizeof *vals);
	qsort(sorted, n, sizeof *sorted, cmp_u64);
	check_quantiles(&all, sorted, n, "all");

	/* a part on its own, against its own exact data */
	size_t nb = 0;
	for (size_t i = 0; i < n; i += 3)
		sorted[nb++] = vals[i];
	qsort(sorted, nb, sizeof *sorted, cmp_u64);
	check_quantiles(&b, sorted, nb, "part");
	free(sorted);
	free(vals);
}

static void test_edges(void)
{
	ark_hist_reset(&a);
	ark_hist_record(&a, 0);
	ark_hist_record(&a, ARK_HIST_MAX_VALUE);
	ark_hist_record(&a, UINT64_MAX / 4); /* beyond: counted in the last bucket */
	CHECK_EQ_U64(a.count, 3);
	CHECK_EQ_U64(a.buckets[0], 1);
	CHECK_EQ_U64(a.buckets[ARK_HIST_BUCKETS - 1], 2);
	CHECK_EQ_U64(a.min, 0);
	CHECK_EQ_U64(a.max, UINT64_MAX / 4);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.2), 0);
	/* the last bucket's midpoint, within its range */
	uint64_t q = ark_hist_quantile(&a, 0.5);
	CHECK(q >= ark_hist_bucket_low(ARK_HIST_BUCKETS - 1) && q <= ARK_HIST_MAX_VALUE);
	CHECK_EQ_U64(ark_hist_quantile(&a, 1), UINT64_MAX / 4);
	/* a quantile never leaves [min, max]: values at a bucket's low end */
	ark_hist_reset(&a);
	for (int i = 0; i < 10; i++)
		ark_hist_record(&a, 1u << 20);
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.5), 1u << 20);
	ark_hist_reset(&a);
	for (int i = 0; i < 10; i++)
		ark_hist_record(&a, ark_hist_bucket_high(2000));
	CHECK_EQ_U64(ark_hist_quantile(&a, 0.5), ark_hist_bucket_high(2000));
}

/* The shared arithmetic at another precision (the metrics registry's: 6
 * bits up to 2^36): every bucket's low and high map back to it, buckets
 * tile the values without gaps, values beyond the top land in the last. */
static void test_loglin_other_precision(void)
{
	const uint32_t bits = 6, top = 36, buckets = 64 * (top - bits + 2);
	for (uint32_t k = 0; k < buckets; k++) {
		uint64_t lo = ark_hist_loglin_low(k, bits), hi = ark_hist_loglin_high(k, bits);
		CHECK(lo <= hi);
		CHECK(ark_hist_loglin_bucket(lo, bits, top) == k);
		CHECK(ark_hist_loglin_bucket(hi, bits, top) == k);
		if (k + 1 < buckets)
			CHECK(ark_hist_loglin_low(k + 1, bits) == hi + 1);
	}
	CHECK(ark_hist_loglin_high(buckets - 1, bits) == (2ull << top) - 1);
	CHECK(ark_hist_loglin_bucket(2ull << top, bits, top) == buckets - 1);
	CHECK(ark_hist_loglin_bucket(UINT64_MAX, bits, top) == buckets - 1);
	CHECK(ark_hist_loglin_bucket(63, bits, top) == 63 && ark_hist_loglin_bucket(64, bits, top) == 64);
	CHECK(ark_hist_loglin_bucket(128, bits, top) == 128 && ark_hist_loglin_bucket(129, bits, top) == 128);
	/* struct ark_hist's own precision goes through the same functions */
	CHECK(ark_hist_bucket_of(1000003) == ark_hist_loglin_bucket(1000003, ARK_HIST_SUB_BITS, ARK_HIST_MAX_EXPONENT));
}

int main(void)
{
	test_buckets();
	test_empty_and_reset();
	test_exact_small();
	test_quantiles();
	test_edges();
	test_loglin_other_precision();
	printf("test_hist: ok\n");
	return 0;
}
