/* tests/metrics/test_metrics_window.c — the log-linear histogram and the
 * time slices: every value from 1 ns to 100 s lands in a bucket that holds it
 * and whose midpoint is within 1 %; quantiles of a wide distribution within
 * 1 % of the exact ones; windows merged across slices, through slot reuse
 * (more slices than slots), over a ticker gap, before the first tick and for
 * windows longer than the retention; a writer thread, a ticker thread and a
 * reader thread at once (for TSan). */
#include "check.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#define SEC 1000000000ull

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_buckets(void)
{
	for (uint32_t b = 0; b + 1 < ARK_METRICS_HIST_BUCKETS; b++)
		CHECK_EQ_U64(ark_metrics_hist_bucket_high(b) + 1, ark_metrics_hist_bucket_low(b + 1));
	CHECK_EQ_U64(ark_metrics_hist_bucket_high(ARK_METRICS_HIST_BUCKETS - 1), (1ull << 37) - 1);
	double worst = 0;
	uint64_t checked = 0;
	for (double x = 1; x <= 100.0 * SEC; x *= 1.0007) {
		for (int d = -1; d <= 1; d++) {
			uint64_t v = (uint64_t)x + (uint64_t)(int64_t)d;
			if (v == 0)
				continue;
			uint32_t b = ark_metrics_hist_bucket_of(v);
			CHECK(b < ARK_METRICS_HIST_BUCKETS);
			CHECK_MSG(ark_metrics_hist_bucket_low(b) <= v && v <= ark_metrics_hist_bucket_high(b), "v=%lu b=%u",
				  (unsigned long)v, b);
			double err = fabs(ark_metrics_hist_bucket_mid(b) - (double)v) / (double)v;
			if (err > worst)
				worst = err;
			checked++;
		}
	}
	for (uint64_t v = 1; v < 64; v++)
		CHECK(ark_metrics_hist_bucket_mid(ark_metrics_hist_bucket_of(v)) == (double)v);
	CHECK(ark_metrics_hist_bucket_of(1ull << 40) == ARK_METRICS_HIST_BUCKETS - 1);
	CHECK(ark_metrics_hist_bucket_of(UINT64_MAX) == ARK_METRICS_HIST_BUCKETS - 1);
	CHECK_MSG(worst <= 0.01, "worst relative error %.5f", worst);
	printf("buckets: %lu values from 1 ns to 100 s, worst relative error %.4f %%\n", (unsigned long)checked,
	       worst * 100);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct ark_metrics make(uint64_t retention, uint64_t slice, void **mem)
{
	struct ark_metrics_config cfg;
	ark_metrics_config_default(&cfg);
	cfg.max_series = 64;
	cfg.max_families = 32;
	cfg.max_histograms = 4;
	cfg.max_windowed_counters = 16;
	cfg.retention_seconds = retention;
	cfg.slice_seconds = slice;
	size_t size = ark_metrics_region_size(&cfg);
	*mem = aligned_alloc(128, size);
	struct ark_metrics reg;
	struct ark_err err;
	CHECK_MSG(ark_metrics_init(&reg, *mem, size, &cfg, &err) == 0, "%s", err.msg);
	return reg;
}

static void test_quantiles(void)
{
	void *mem;
	struct ark_metrics reg = make(600, 10, &mem);
	struct ark_err err;
	struct ark_metrics_hist_handle h;
	CHECK(ark_metrics_histogram(&reg, "q_ms", "", NULL, &h, &err) == 0);
	const int n = 200000;
	uint64_t *vals = malloc(sizeof(uint64_t) * n);
	for (int i = 0; i < n; i++) {
		/* log-uniform from 1 ns to 100 s */
		double e = (double)(next_rand() % 1000000) / 1000000.0 * 11.0;
		vals[i] = (uint64_t)pow(10, e);
		if (vals[i] == 0)
			vals[i] = 1;
		ark_metrics_histogram_record_ns(h, vals[i]);
	}
	qsort(vals, n, sizeof *vals, cmp_u64);
	struct ark_metrics_hist_view *v = malloc(sizeof *v);
	CHECK(ark_metrics_histogram_window(&reg, h.series, 0, v) == 0);
	CHECK_EQ_U64(v->count, n);
	const double qs[] = {0.001, 0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0};
	for (size_t i = 0; i < ARK_ARRAY_LEN(qs); i++) {
		uint64_t rank = (uint64_t)ceil(qs[i] * n);
		double exact = (double)vals[rank - 1];
		double got = ark_metrics_view_quantile_ns(v, qs[i]);
		CHECK_MSG(fabs(got - exact) / exact <= 0.01, "q=%g exact %.0f got %.0f", qs[i], exact, got);
	}
	/* count_le agrees with the exact count up to the bucket holding the limit */
	uint64_t le = ark_metrics_view_count_le(v, 1e6);
	uint64_t lo = 0, hi = 0;
	for (int i = 0; i < n; i++) {
		lo += vals[i] <= 1000000;
		hi += vals[i] <= 1020000;
	}
	CHECK(le >= lo && le <= hi);
	free(v);
	free(vals);
	free(mem);
}

static uint64_t cwin(struct ark_metrics *reg, uint32_t s, uint64_t w)
{
	uint64_t d = 0;
	CHECK(ark_metrics_counter_window(reg, s, w, &d) == 0);
	return d;
}

static void test_windows(void)
{
	void *mem;
	struct ark_metrics reg = make(600, 10, &mem);   /* 61 slots */
	struct ark_err err;
	struct ark_metrics_handle c;
	struct ark_metrics_hist_handle h;
	CHECK(ark_metrics_counter(&reg, "w_total", "", NULL, &c, &err) == 0);
	CHECK(ark_metrics_histogram(&reg, "w_ms", "", NULL, &h, &err) == 0);
	/* before the first tick every window is "since start" */
	ark_metrics_counter_add(c, 7);
	CHECK_EQ_U64(cwin(&reg, c.series, 60), 7);
	uint64_t t0 = 123456 * SEC + 3;  /* mid-slice */
	CHECK_EQ_U64(ark_metrics_tick(&reg, t0), 1);
	uint64_t e0 = ark_metrics_epoch(&reg);
	CHECK_EQ_U64(e0, t0 / (10 * SEC));
	ark_metrics_counter_add(c, 3);
	/* the window reaches back before the first tick: since start */
	CHECK_EQ_U64(cwin(&reg, c.series, 60), 10);
	CHECK_EQ_U64(cwin(&reg, c.series, 0), 10);
	CHECK_EQ_U64(ark_metrics_tick(&reg, t0 + 1 * SEC), 0);   /* same slice */
	/* 100 slices: slice k gets counter += k+1 and one latency of (k+1) ms */
	for (uint64_t k = 0; k < 100; k++) {
		CHECK_EQ_U64(ark_metrics_tick(&reg, (e0 + 1 + k) * 10 * SEC), 1);
		ark_metrics_counter_add(c, k + 1);
		ark_metrics_histogram_record_ns(h, (k + 1) * 1000000);
	}
	CHECK_EQ_U64(ark_metrics_tick(&reg, (e0 + 101) * 10 * SEC + 5 * SEC), 1);  /* current slice empty */
	CHECK_EQ_U64(cwin(&reg, c.series, 10), 100);
	CHECK_EQ_U64(cwin(&reg, c.series, 1), 100);     /* rounded up to one slice */
	CHECK_EQ_U64(cwin(&reg, c.series, 50), 96 + 97 + 98 + 99 + 100);
	CHECK_EQ_U64(cwin(&reg, c.series, 600), (41 + 100) * 60 / 2);   /* slices 41..100 */
	CHECK_EQ_U64(cwin(&reg, c.series, 3600), (41 + 100) * 60 / 2);  /* clamped to the retention */
	CHECK_EQ_U64(cwin(&reg, c.series, 0), 10 + 5050);
	struct ark_metrics_hist_view *v = malloc(sizeof *v);
	CHECK(ark_metrics_histogram_window(&reg, h.series, 50, v) == 0);
	CHECK_EQ_U64(v->count, 5);
	CHECK_EQ_U64(v->sum_ns, (96 + 97 + 98 + 99 + 100) * 1000000ull);
	CHECK(fabs(ark_metrics_view_quantile_ns(v, 0.5) - 98e6) <= 98e6 * 0.01);
	CHECK(fabs(ark_metrics_view_quantile_ns(v, 0.0) - 96e6) <= 96e6 * 0.01);
	CHECK(ark_metrics_histogram_window(&reg, h.series, 0, v) == 0);
	CHECK_EQ_U64(v->count, 100);
	/* the current, partial slice counts */
	ark_metrics_counter_add(c, 1000);
	ark_metrics_histogram_record_ns(h, 5);
	CHECK_EQ_U64(cwin(&reg, c.series, 10), 1100);
	CHECK(ark_metrics_histogram_window(&reg, h.series, 10, v) == 0);
	CHECK_EQ_U64(v->count, 2);
	/* a ticker gap longer than the ring: every slot now holds today's totals */
	uint64_t e1 = ark_metrics_epoch(&reg);
	CHECK_EQ_U64(ark_metrics_tick(&reg, (e1 + 1000) * 10 * SEC), 1000);
	CHECK_EQ_U64(cwin(&reg, c.series, 600), 0);
	CHECK(ark_metrics_histogram_window(&reg, h.series, 600, v) == 0);
	CHECK_EQ_U64(v->count, 0);
	ark_metrics_counter_add(c, 2);
	CHECK_EQ_U64(cwin(&reg, c.series, 600), 2);
	/* a family sum over a window */
	CHECK_EQ_U64(ark_metrics_family_window(&reg, "w_total", NULL, 600), 2);
	CHECK_EQ_U64(ark_metrics_family_window(&reg, "w_total", "x=\"1\"", 600), 0);
	CHECK(ark_metrics_counter_window(&reg, h.series, 10, &e1) == -EINVAL);
	CHECK(ark_metrics_counter_window(&reg, 999, 10, &e1) == -ENOENT);
	free(v);
	free(mem);
}

/* ---- threads: one writer, one ticker, one reader ---- */
struct shared {
	struct ark_metrics reg;
	struct ark_metrics_handle c;
	struct ark_metrics_hist_handle h;
	uint64_t n;
	_Atomic int done;
};

static void *writer(void *arg)
{
	struct shared *s = arg;
	for (uint64_t i = 0; i < s->n; i++) {
		ark_metrics_counter_inc(s->c);
		ark_metrics_histogram_record_ns(s->h, 1000 + i % 5000);
	}
	atomic_store(&s->done, 1);
	return NULL;
}

static void *ticker(void *arg)
{
	struct shared *s = arg;
	uint64_t t = 1000 * SEC;
	while (!atomic_load(&s->done)) {
		ark_metrics_tick(&s->reg, t);
		t += SEC;
	}
	return NULL;
}

static void test_threads(void)
{
	void *mem;
	struct shared *s = calloc(1, sizeof *s);
	s->reg = make(60, 1, &mem);
	struct ark_err err;
	CHECK(ark_metrics_counter(&s->reg, "t_total", "", NULL, &s->c, &err) == 0);
	CHECK(ark_metrics_histogram(&s->reg, "t_ms", "", NULL, &s->h, &err) == 0);
	s->n = test_scaled(3000000, 100000);
	pthread_t w, t;
	pthread_create(&w, NULL, writer, s);
	pthread_create(&t, NULL, ticker, s);
	struct ark_metrics_hist_view *v = malloc(sizeof *v);
	uint64_t last = 0, reads = 0;
	while (!atomic_load(&s->done)) {
		uint64_t d;
		int rc = ark_metrics_counter_window(&s->reg, s->c.series, 0, &d);
		CHECK(rc == 0 && d >= last && d <= s->n);
		last = d;
		rc = ark_metrics_counter_window(&s->reg, s->c.series, 10, &d);
		CHECK(rc == 0 || rc == -EAGAIN);
		CHECK(d <= s->n);
		rc = ark_metrics_histogram_window(&s->reg, s->h.series, 5, v);
		CHECK(rc == 0 || rc == -EAGAIN);
		CHECK(v->count <= s->n);
		reads++;
	}
	pthread_join(w, NULL);
	pthread_join(t, NULL);
	CHECK(ark_metrics_histogram_window(&s->reg, s->h.series, 0, v) == 0);
	CHECK_EQ_U64(v->count, s->n);
	CHECK_EQ_U64(ark_metrics_counter_value(&s->reg, s->c.series), s->n);
	printf("threads: %lu records, %lu window reads meanwhile\n", (unsigned long)s->n, (unsigned long)reads);
	free(v);
	free(mem);
	free(s);
}

int main(void)
{
	test_buckets();
	test_quantiles();
	test_windows();
	test_threads();
	printf("metrics windows: OK\n");
	return 0;
}
