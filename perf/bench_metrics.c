/* perf/bench_metrics.c — `ark perf metrics`: what the metrics registry costs.
 *
 * Hot path (one writer, a registry in a real /dev/shm segment): ns per
 * counter increment, gauge set and histogram record (values spread over many
 * buckets), against a plain volatile load+store baseline in the same run.
 * Each is a loop of N operations timed with CLOCK_MONOTONIC, after a warm-up;
 * the median over runs is reported. Render: /metrics (Prometheus text),
 * OpenMetrics and /metrics/json for registries of 1,000 and 10,000 series
 * (mostly labelled counters and gauges, 16 histograms with data), into a
 * reused buffer as the server does; plus the ticker's snapshot cost and one
 * SLO evaluation at 10,000 series. */
#include "common/common.h"
#include "metrics/metrics.h"
#include "perf/perf.h"
#include "http/http.h"
#include <pthread.h>
#include <stdatomic.h>
#include "shm/shm.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUNS 15
#define NVALUES 4096

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf metrics [--runs N] [--ops N] [--no-pipeline] [--quick] [--json]\n\n"
		"Hot-path cost of the metrics registry (ns per counter increment, gauge set,\n"
		"histogram record; one writer) against a plain load+store in the same run,\n"
		"and render time of /metrics, OpenMetrics and /metrics/json for 1,000 and\n"
		"10,000 series. Medians over runs.\n\n"
		"  --runs N   measured runs per case (default 7)\n"
		"  --ops N    operations per hot-path run (default 50000000)\n"
		"  --no-pipeline  skip the pipeline scraped 100/s against unscraped (3 x 2 runs of 3 s)\n"
		"  --quick    one run, 2000000 ops, no pipeline runs (a smoke test, not a measurement)\n"
		"  --json     print one JSON object (headline figures under \"headline\")\n");
}

static double now_s(void)
{
	return (double)ark_now_ns() / 1e9;
}

static uint64_t values[NVALUES];
static double dvalues[NVALUES];
static volatile uint64_t sink_word;

static double run_baseline(uint64_t ops)
{
	volatile uint64_t *p = &sink_word;
	double t0 = now_s();
	for (uint64_t i = 0; i < ops; i++)
		*p = *p + 1;
	return (now_s() - t0) * 1e9 / (double)ops;
}

static double run_counter(struct ark_metrics_handle h, uint64_t ops)
{
	double t0 = now_s();
	for (uint64_t i = 0; i < ops; i++)
		ark_metrics_counter_inc(h);
	return (now_s() - t0) * 1e9 / (double)ops;
}

static double run_gauge(struct ark_metrics_handle h, uint64_t ops)
{
	double t0 = now_s();
	for (uint64_t i = 0; i < ops; i++)
		ark_metrics_gauge_set(h, dvalues[i & (NVALUES - 1)]);
	return (now_s() - t0) * 1e9 / (double)ops;
}

static double run_hist_baseline(uint64_t ops)
{
	volatile uint64_t *p = &sink_word;
	double t0 = now_s();
	for (uint64_t i = 0; i < ops; i++)
		*p = *p + values[i & (NVALUES - 1)];
	return (now_s() - t0) * 1e9 / (double)ops;
}

static double run_hist(struct ark_metrics_hist_handle h, uint64_t ops)
{
	double t0 = now_s();
	for (uint64_t i = 0; i < ops; i++)
		ark_metrics_histogram_record_ns(h, values[i & (NVALUES - 1)]);
	return (now_s() - t0) * 1e9 / (double)ops;
}

static int populate(struct ark_metrics *reg, uint32_t series, struct ark_err *err)
{
	const uint32_t hists = 16;
	struct ark_metrics_hist_handle hh;
	for (uint32_t i = 0; i < hists; i++) {
		char name[64];
		snprintf(name, sizeof name, "bench_h%u_ms", i);
		int rc = ark_metrics_histogram(reg, name, "A benchmark latency, in milliseconds.", "agent=\"bench\"", &hh, err);
		if (rc)
			return rc;
		for (uint64_t v = 0; v < 20000; v++)
			ark_metrics_histogram_record_ns(hh, values[v & (NVALUES - 1)]);
	}
	for (uint32_t i = hists; i < series; i++) {
		char name[64], labels[96];
		struct ark_metrics_handle h;
		int rc;
		snprintf(labels, sizeof labels, "agent=\"a%u\",ring=\"r%u\"", i % 5, i);
		if (i % 10 < 7) {
			snprintf(name, sizeof name, "bench_c%u_total", i % 200);
			rc = ark_metrics_counter(reg, name, "A benchmark counter.", labels, &h, err);
			if (!rc)
				ark_metrics_counter_add(h, (uint64_t)i * 7919u);
		} else {
			snprintf(name, sizeof name, "bench_g%u", i % 100);
			rc = ark_metrics_gauge(reg, name, "A benchmark gauge.", labels, &h, err);
			if (!rc)
				ark_metrics_gauge_set(h, (double)i * 0.37);
		}
		if (rc)
			return rc;
	}
	return 0;
}

struct render_result {
	double prom_ms, om_ms, json_ms, tick_us, slo_us;
	size_t prom_bytes;
};

static int bench_render(uint32_t series, uint64_t runs, struct render_result *out, struct ark_err *err)
{
	struct ark_metrics_config cfg;
	ark_metrics_config_default(&cfg);
	cfg.max_series = series + 64;
	cfg.max_histograms = 20;
	size_t size = ark_metrics_region_size(&cfg);
	void *mem = aligned_alloc(128, size);
	if (!mem)
		return ark_err_set(err, -12, "out of memory");
	struct ark_metrics reg;
	int rc = ark_metrics_init(&reg, mem, size, &cfg, err);
	if (!rc)
		rc = populate(&reg, series, err);
	if (rc) {
		free(mem);
		return rc;
	}
	struct ark_buf buf;
	ark_buf_init(&buf);
	double prom[MAX_RUNS], om[MAX_RUNS], js[MAX_RUNS], tick[MAX_RUNS], slo[MAX_RUNS];
	uint64_t t = 1000000ull * 1000000000ull;
	struct ark_metrics_slo_config sc;
	ark_metrics_slo_config_default(&sc);
	struct ark_metrics_slo_report report;
	ark_metrics_render_prometheus(&reg, &buf);  /* warm-up: buffer grown once */
	for (uint64_t r = 0; r < runs; r++) {
		ark_buf_reset(&buf);
		double t0 = now_s();
		rc = ark_metrics_render_prometheus(&reg, &buf);
		prom[r] = (now_s() - t0) * 1e3;
		out->prom_bytes = buf.len;
		ark_buf_reset(&buf);
		t0 = now_s();
		rc |= ark_metrics_render_openmetrics(&reg, &buf);
		om[r] = (now_s() - t0) * 1e3;
		ark_buf_reset(&buf);
		t0 = now_s();
		rc |= ark_metrics_render_json(&reg, 300, &buf);
		js[r] = (now_s() - t0) * 1e3;
		t += 10ull * 1000000000ull;
		t0 = now_s();
		ark_metrics_tick(&reg, t);
		tick[r] = (now_s() - t0) * 1e6;
		t0 = now_s();
		ark_metrics_slos_evaluate(&reg, &sc, &report);
		slo[r] = (now_s() - t0) * 1e6;
		if (rc) {
			ark_buf_free(&buf);
			free(mem);
			return ark_err_set(err, rc, "render failed");
		}
	}
	out->prom_ms = ark_perf_median(prom, (int)runs);
	out->om_ms = ark_perf_median(om, (int)runs);
	out->json_ms = ark_perf_median(js, (int)runs);
	out->tick_us = ark_perf_median(tick, (int)runs);
	out->slo_us = ark_perf_median(slo, (int)runs);
	ark_buf_free(&buf);
	free(mem);
	return 0;
}

/* ---- Scrapes per second over TLS: the metrics server (http/) rendering a
 * registry of the pipeline's size, a client in the same process. ---- */
struct scrape_server {
	struct ark_metrics *reg;
	struct ark_http_config config;
	struct ark_buf buf;
	_Atomic uint32_t port;
	_Atomic int failed;
	atomic_bool stop;
	struct ark_err err;
};

static int scrape_render(void *ctx, enum ark_http_format format, struct ark_buf *out)
{
	struct scrape_server *ss = ctx;
	ark_buf_reset(&ss->buf);
	int rc = format == ARK_HTTP_FORMAT_OPENMETRICS ? ark_metrics_render_openmetrics(ss->reg, &ss->buf)
						       : ark_metrics_render_prometheus(ss->reg, &ss->buf);
	return rc ? rc : ark_buf_append(out, ss->buf.data, ss->buf.len);
}

static void *scrape_server_main(void *arg)
{
	struct scrape_server *ss = arg;
	struct ark_http_provider provider = {.ctx = ss, .metrics = scrape_render};
	struct ark_http_server *server;
	/* h2o's loop is per thread: the server is made where it runs. */
	if (ark_http_server_create(&server, &ss->config, &provider, &ss->err)) {
		atomic_store(&ss->failed, 1);
		return NULL;
	}
	atomic_store(&ss->port, ark_http_server_port(server));
	ark_http_server_run(server, &ss->stop);
	ark_http_server_destroy(server);
	return NULL;
}

/* NAN when the test certificates cannot be made (openssl, the script). */
static double bench_tls_scrapes(struct ark_metrics *reg, double seconds)
{
	char dir[] = "/tmp/ark-perf-scrape-XXXXXX", cmd[1024];
	if (!mkdtemp(dir))
		return NAN;
	snprintf(cmd, sizeof cmd, "sh '%s/deploy/prometheus/make-test-certs.sh' '%s' >/dev/null 2>&1", ARK_SOURCE_DIR, dir);
	double sps = NAN;
	if (system(cmd) == 0) {
		static struct scrape_server ss;
		memset(&ss, 0, sizeof ss);
		ss.reg = reg;
		ark_buf_init(&ss.buf);
		ark_http_config_default(&ss.config);
		ss.config.port = 0;
		snprintf(ss.config.tls_cert, sizeof ss.config.tls_cert, "%s/server.crt", dir);
		snprintf(ss.config.tls_key, sizeof ss.config.tls_key, "%s/server.key", dir);
		pthread_t thread;
		if (pthread_create(&thread, NULL, scrape_server_main, &ss) == 0) {
			for (int i = 0; i < 500 && !atomic_load(&ss.port) && !atomic_load(&ss.failed); i++)
				usleep(10000);
			char ca[600];
			snprintf(ca, sizeof ca, "%s/ca.crt", dir);
			struct ark_err err = {0};
			if (atomic_load(&ss.port) && ark_perf_scrapes((uint16_t)atomic_load(&ss.port), ca, NULL, NULL, seconds, &sps, &err))
				fprintf(stderr, "ark perf metrics: scrapes: %s\n", err.msg);
			atomic_store(&ss.stop, true);
			pthread_join(thread, NULL);
			if (atomic_load(&ss.failed))
				fprintf(stderr, "ark perf metrics: scrape server: %s\n", ss.err.msg);
		}
		ark_buf_free(&ss.buf);
	}
	if (ark_perf_remove_tree(dir) != 0)
		fprintf(stderr, "ark perf metrics: could not remove %s\n", dir);
	return sps;
}

struct options {
	uint64_t runs, ops;
	bool quick, json, pipeline;
};

#define OPT(member) offsetof(struct options, member)
static const struct ark_perf_flag flags[] = {
	{"runs", 'r', ARK_PERF_FLAG_U64, OPT(runs), 1, MAX_RUNS},
	{"ops", 'o', ARK_PERF_FLAG_U64, OPT(ops), 1000, 10000000000.0},
	{"quick", 'q', ARK_PERF_FLAG_TRUE, OPT(quick), 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{"no-pipeline", 'n', ARK_PERF_FLAG_FALSE, OPT(pipeline), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct ark_perf_cli cli = {.bench = "metrics", .flags = flags, .usage = usage};
	*o = (struct options){.runs = 7, .ops = 50000000, .pipeline = true};
	int rc = ark_perf_parse_options(&cli, argc, argv, o);
	if (rc == ARK_PERF_RUN && o->quick) {
		o->runs = 1;
		o->ops = ARK_MIN(o->ops, 2000000);
	}
	return rc;
}

/* log-uniform latencies from 100 ns to 10 ms: many buckets, no pattern */
static void fill_values(void)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < NVALUES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		values[i] = (uint64_t)pow(10, 2 + (double)(x % 1000000) / 1000000.0 * 5);
		dvalues[i] = (double)values[i] / 7.0;
	}
}

/* The hot path writes into a registry in a real shared segment. */
struct hot_registry {
	struct ark_shm shm;
	struct ark_metrics reg;
	struct ark_metrics_handle counter, gauge;
	struct ark_metrics_hist_handle hist;
};

static int hot_registry_open(struct hot_registry *h, struct ark_err *err)
{
	struct ark_metrics_config cfg;
	ark_metrics_config_default(&cfg);
	cfg.max_series = 1024;
	cfg.max_histograms = 4;
	size_t rsize = ark_metrics_region_size(&cfg);
	char name[64];
	snprintf(name, sizeof name, "ark-bench-metrics-%d", (int)getpid());
	uint64_t off;
	int rc = 0;
	if (ark_shm_create(&h->shm, name, rsize + (1 << 20), 0, err) ||
	    ark_shm_alloc(&h->shm, "metrics", rsize, &off, err) ||
	    ark_metrics_init(&h->reg, ark_shm_at(&h->shm, off), rsize, &cfg, err) ||
	    ark_metrics_counter(&h->reg, ARK_M_EVENTS, "events", "agent=\"bench\"", &h->counter, err) ||
	    ark_metrics_gauge(&h->reg, ARK_M_QUEUE_DEPTH, "depth", "ring=\"bench\"", &h->gauge, err) ||
	    ark_metrics_histogram(&h->reg, ARK_M_PASS_LATENCY, "latency", NULL, &h->hist, err))
		rc = -1;
	ark_shm_unlink(name, NULL);   /* mapped: gone when we exit */
	return rc;
}

/* Every figure of one `ark perf metrics`. */
struct figures {
	double m_base, m_cnt, m_gau, m_hbase, m_his;
	struct render_result r1k, r10k;
	double scrapes_per_s;
	double scraped[MAX_RUNS], unscraped[MAX_RUNS], ratio;
	int pipeline_runs;
};

static void run_hot_path(const struct options *o, const struct hot_registry *h, struct figures *f)
{
	uint64_t runs = o->runs, ops = o->ops;
	fprintf(stderr, "ark perf metrics: %llu runs x %llu ops per hot-path case\n", (unsigned long long)runs,
		(unsigned long long)ops);
	double base[MAX_RUNS], cnt[MAX_RUNS], gau[MAX_RUNS], hbase[MAX_RUNS], his[MAX_RUNS];
	run_baseline(ops / 10);
	run_counter(h->counter, ops / 10);
	run_hist(h->hist, ops / 10);
	for (uint64_t r = 0; r < runs; r++) {
		base[r] = run_baseline(ops);
		cnt[r] = run_counter(h->counter, ops);
		gau[r] = run_gauge(h->gauge, ops);
		hbase[r] = run_hist_baseline(ops);
		his[r] = run_hist(h->hist, ops);
	}
	f->m_base = ark_perf_median(base, (int)runs), f->m_cnt = ark_perf_median(cnt, (int)runs);
	f->m_gau = ark_perf_median(gau, (int)runs), f->m_hbase = ark_perf_median(hbase, (int)runs);
	f->m_his = ark_perf_median(his, (int)runs);
}

/* The pipeline's throughput while /metrics is scraped 100 times a second,
 * against the same pipeline unscraped, alternating, medians. */
static int run_scraped_pipeline(const struct options *o, struct figures *f, struct ark_err *err)
{
	f->ratio = NAN;
	f->pipeline_runs = o->quick || !o->pipeline ? 0 : 3;
	for (int r = 0; r < f->pipeline_runs; r++) {
		double p50, p99, p999, max;
		uint64_t events;
		int cpus = ark_cpu_count();
		if (ark_perf_run_pipeline(0, 3, cpus, 0, &f->unscraped[r], &p50, &p99, &p999, &max, &events, err) ||
		    ark_perf_run_pipeline(0, 3, cpus, 100, &f->scraped[r], &p50, &p99, &p999, &max, &events, err))
			return -1;
		fprintf(stderr, "  pipeline run %d: %.0f events/s unscraped, %.0f scraped 100/s\n", r + 1, f->unscraped[r],
			f->scraped[r]);
	}
	if (f->pipeline_runs)
		f->ratio = ark_perf_median(f->scraped, f->pipeline_runs) / ark_perf_median(f->unscraped, f->pipeline_runs);
	return 0;
}

static void report_json(const struct options *o, const struct figures *f)
{
	struct ark_json j;
	ark_perf_json_begin(&j, "metrics");
	ark_json_number(&j, "runs", (double)o->runs);
	ark_json_number(&j, "ops_per_run", (double)o->ops);
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "counter_inc_ns", f->m_cnt);
	ark_json_number(&j, "gauge_set_ns", f->m_gau);
	ark_json_number(&j, "histogram_record_ns", f->m_his);
	ark_json_number(&j, "store_baseline_ns", f->m_base);
	ark_json_number(&j, "render_1k_series_ms", f->r1k.prom_ms);
	ark_json_number(&j, "render_10k_series_ms", f->r10k.prom_ms);
	ark_json_number(&j, "pipeline_scraped_vs_unscraped_ratio", f->ratio);
	ark_json_number(&j, "tls_scrapes_per_s", f->scrapes_per_s);
	ark_json_object_end(&j);
	ark_json_object_begin(&j, "detail");
	ark_json_number(&j, "histogram_baseline_ns", f->m_hbase);
	ark_json_number(&j, "render_10k_openmetrics_ms", f->r10k.om_ms);
	ark_json_number(&j, "render_10k_json_ms", f->r10k.json_ms);
	ark_json_number(&j, "render_1k_openmetrics_ms", f->r1k.om_ms);
	ark_json_number(&j, "render_1k_json_ms", f->r1k.json_ms);
	ark_json_number(&j, "render_10k_bytes", (double)f->r10k.prom_bytes);
	ark_json_number(&j, "tick_10k_series_us", f->r10k.tick_us);
	ark_json_number(&j, "slo_evaluate_10k_series_us", f->r10k.slo_us);
	ark_json_number(&j, "region_default_bytes", (double)ark_metrics_region_size(&(struct ark_metrics_config){
		10240, 512, 32, 1024, 3600, 10}));
	ark_json_object_end(&j);
	ark_perf_json_end(&j);
}

static void report_table(const struct options *o, const struct figures *f)
{
	ark_perf_print_machine(stdout);
	printf("hot path, one writer, ns per op (median of %llu runs of %llu ops)\n", (unsigned long long)o->runs,
	       (unsigned long long)o->ops);
	printf("  plain load+store       %6.2f\n", f->m_base);
	printf("  counter increment      %6.2f   (target <= 2)\n", f->m_cnt);
	printf("  gauge set              %6.2f\n", f->m_gau);
	printf("  plain load+add (array) %6.2f\n", f->m_hbase);
	printf("  histogram record       %6.2f   (target <= 10)\n", f->m_his);
	printf("render, ms            1k series   10k series\n");
	printf("  Prometheus 0.0.4   %9.3f   %9.3f   (target <= 10 at 10k; %zu bytes)\n", f->r1k.prom_ms,
	       f->r10k.prom_ms, f->r10k.prom_bytes);
	printf("  OpenMetrics 1.0    %9.3f   %9.3f\n", f->r1k.om_ms, f->r10k.om_ms);
	printf("  JSON (5 min)       %9.3f   %9.3f\n", f->r1k.json_ms, f->r10k.json_ms);
	printf("ticker snapshot %.1f us, SLO evaluation %.1f us at 10k series\n", f->r10k.tick_us, f->r10k.slo_us);
	printf("scrapes over TLS (HTTP/1.1 keep-alive): %.0f per second\n", f->scrapes_per_s);
	if (f->pipeline_runs)
		printf("pipeline scraped 100/s vs unscraped: %.3f (%.0f vs %.0f events/s)\n", f->ratio,
		       ark_perf_median(f->scraped, f->pipeline_runs), ark_perf_median(f->unscraped, f->pipeline_runs));
}

static int metrics_bench_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	struct ark_err err = {0};
	fill_values();
	static struct hot_registry h;
	if (hot_registry_open(&h, &err)) {
		fprintf(stderr, "ark perf metrics: %s\n", err.msg);
		return 1;
	}
	static struct figures f;
	run_hot_path(&o, &h, &f);
	if (bench_render(1000, o.quick ? 1 : o.runs, &f.r1k, &err) ||
	    bench_render(10000, o.quick ? 1 : o.runs, &f.r10k, &err)) {
		fprintf(stderr, "ark perf metrics: %s\n", err.msg);
		return 1;
	}
	f.scrapes_per_s = bench_tls_scrapes(&h.reg, o.quick ? 0.5 : 3);
	ark_shm_detach(&h.shm);
	if (run_scraped_pipeline(&o, &f, &err)) {
		fprintf(stderr, "ark perf metrics: %s\n", err.msg);
		return 1;
	}
	if (o.json)
		report_json(&o, &f);
	else
		report_table(&o, &f);
	return 0;
}

ARK_PERF_BENCH(metrics_bench, "metrics", "metrics registry: hot-path ns per op and render time for 1k/10k series",
	       metrics_bench_main)
