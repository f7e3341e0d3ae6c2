/* tests/metrics/test_metrics_registry.c — the registry in a real shared
 * segment: a forked child registers and records while the parent reads
 * (values never go backwards, never tear), then the parent sees exactly what
 * the child wrote; two children registering concurrently get distinct,
 * findable series; registration rules (names, labels, types, restart
 * re-claim, full tables); attach refusing a bad region; the seed's verbs and
 * /proc process metrics; sizes. */
#include "check.h"
#include "metrics/metrics.h"
#include "shm/shm.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static char name[64];

static struct ark_metrics_config small_config(void)
{
	struct ark_metrics_config c;
	ark_metrics_config_default(&c);
	c.max_series = 1024;
	c.max_families = 64;
	c.max_histograms = 8;
	c.max_windowed_counters = 256;
	c.retention_seconds = 600;
	return c;
}

static void child_attach(struct ark_metrics *reg)
{
	struct ark_err err;
	struct ark_shm shm;
	if (ark_shm_attach(&shm, name, 0, &err) != 0) {
		fprintf(stderr, "child attach: %s\n", err.msg);
		_exit(2);
	}
	uint64_t off, size;
	if (ark_shm_find(&shm, "metrics", &off, &size) != 0 || ark_metrics_attach(reg, ark_shm_at(&shm, off), size, &err) != 0) {
		fprintf(stderr, "child metrics attach: %s\n", err.msg);
		_exit(3);
	}
}

static void test_shm_fork(void)
{
	struct ark_err err;
	struct ark_metrics_config cfg = small_config();
	size_t rsize = ark_metrics_region_size(&cfg);
	CHECK(rsize > 0);
	struct ark_shm shm;
	CHECK_MSG(ark_shm_create(&shm, name, rsize + (1 << 20), 0, &err) == 0, "%s", err.msg);
	uint64_t off;
	CHECK_MSG(ark_shm_alloc(&shm, "metrics", rsize, &off, &err) == 0, "%s", err.msg);
	struct ark_metrics reg;
	CHECK_MSG(ark_metrics_init(&reg, ark_shm_at(&shm, off), rsize, &cfg, &err) == 0, "%s", err.msg);

	const uint64_t n = test_scaled(2000000, 20000);
	uint64_t ctl;
	CHECK_MSG(ark_shm_alloc(&shm, "test.ctl", 128, &ctl, &err) == 0, "%s", err.msg);
	_Atomic int *go = (_Atomic int *)ark_shm_at(&shm, ctl);
	atomic_store(go, 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ark_metrics r;
		child_attach(&r);
		struct ark_metrics_handle c, g;
		struct ark_metrics_hist_handle h;
		if (ark_metrics_counter(&r, ARK_M_EVENTS, "events", "agent=\"kyle\"", &c, &err) ||
		    ark_metrics_gauge(&r, ARK_M_QUEUE_DEPTH, "depth", "ring=\"kyle\"", &g, &err) ||
		    ark_metrics_histogram(&r, ARK_M_PASS_LATENCY, "latency", NULL, &h, &err)) {
			fprintf(stderr, "child register: %s\n", err.msg);
			_exit(4);
		}
		atomic_store(go, 1);
		for (uint64_t i = 1; i <= n; i++) {
			ark_metrics_counter_inc(c);
			ark_metrics_gauge_set(g, (double)i);
			ark_metrics_histogram_record_ns(h, i % 1000000);
		}
		_exit(0);
	}
	while (atomic_load(go) == 0)
		usleep(100);
	uint32_t cs, gs, hs;
	CHECK(ark_metrics_find(&reg, ARK_M_EVENTS, "agent=\"kyle\"", &cs) == 0);
	CHECK(ark_metrics_find(&reg, ARK_M_QUEUE_DEPTH, "ring=\"kyle\"", &gs) == 0);
	CHECK(ark_metrics_find(&reg, ARK_M_PASS_LATENCY, "", &hs) == 0);
	CHECK(ark_metrics_find(&reg, ARK_M_EVENTS, "agent=\"joey\"", &cs) == -ENOENT);
	CHECK(ark_metrics_find(&reg, ARK_M_EVENTS, "agent=\"kyle\"", &cs) == 0);
	/* read while the child writes: monotonic, and gauge values are whole numbers it wrote */
	uint64_t last = 0, reads = 0;
	int status;
	for (;;) {
		uint64_t v = ark_metrics_counter_value(&reg, cs);
		CHECK_MSG(v >= last, "counter went back from %lu to %lu", (unsigned long)last, (unsigned long)v);
		CHECK(v <= n);
		last = v;
		double gv = ark_metrics_gauge_value(&reg, gs);
		CHECK(gv >= 0 && gv <= (double)n && gv == floor(gv));
		reads++;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	CHECK_EQ_U64(ark_metrics_counter_value(&reg, cs), n);
	CHECK(ark_metrics_gauge_value(&reg, gs) == (double)n);
	struct ark_metrics_hist_view *v = malloc(sizeof *v);
	CHECK(ark_metrics_histogram_window(&reg, hs, 0, v) == 0);
	CHECK_EQ_U64(v->count, n);
	uint64_t sum = 0;
	for (uint64_t i = 1; i <= n; i++)
		sum += i % 1000000;
	CHECK_EQ_U64(v->sum_ns, sum);
	free(v);
	printf("shm fork: %lu values by the child, %lu reads by the parent meanwhile\n", (unsigned long)n,
	       (unsigned long)reads);

	/* two children register concurrently: 2 x 200 distinct series */
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork();
		CHECK(kids[k] >= 0);
		if (kids[k] == 0) {
			struct ark_metrics r;
			child_attach(&r);
			for (int i = 0; i < 200; i++) {
				char labels[64];
				snprintf(labels, sizeof labels, "agent=\"k%d\",ring=\"r%d\"", k, i);
				struct ark_metrics_handle c;
				if (ark_metrics_counter(&r, ARK_M_ERRORS, "errors", labels, &c, &err) != 0) {
					fprintf(stderr, "%s\n", err.msg);
					_exit(5);
				}
				ark_metrics_counter_add(c, (uint64_t)(k * 1000 + i));
			}
			_exit(0);
		}
	}
	for (int k = 0; k < 2; k++) {
		CHECK(waitpid(kids[k], &status, 0) == kids[k]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_EQ_U64(ark_metrics_series_count(&reg), 3 + 400);
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 200; i++) {
			char labels[64];
			snprintf(labels, sizeof labels, "agent=\"k%d\",ring=\"r%d\"", k, i);
			uint32_t s;
			CHECK(ark_metrics_find(&reg, ARK_M_ERRORS, labels, &s) == 0);
			CHECK_EQ_U64(ark_metrics_counter_value(&reg, s), (uint64_t)(k * 1000 + i));
		}
	ark_shm_detach(&shm);
	CHECK(ark_shm_unlink(name, &err) == 0);
}

static void test_rules(void)
{
	struct ark_err err;
	struct ark_metrics_config cfg = small_config();
	cfg.max_series = 8;
	cfg.max_families = 6;
	cfg.max_histograms = 1;
	cfg.max_windowed_counters = 2;
	size_t size = ark_metrics_region_size(&cfg);
	void *mem = aligned_alloc(128, size);
	struct ark_metrics reg;
	CHECK(ark_metrics_init(&reg, mem, size - 1, &cfg, &err) == -EINVAL);
	CHECK(ark_metrics_init(&reg, mem, size, &cfg, &err) == 0);
	uint32_t s, s2;
	struct ark_metrics_handle h;
	/* names */
	CHECK(ark_metrics_register(&reg, ARK_METRICS_COUNTER, "9bad_total", "", NULL, &s, &err) == -EINVAL);
	CHECK(ark_metrics_register(&reg, ARK_METRICS_COUNTER, "bad-name_total", "", NULL, &s, &err) == -EINVAL);
	CHECK(ark_metrics_register(&reg, ARK_METRICS_COUNTER, "no_suffix", "", NULL, &s, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "_total");
	CHECK(ark_metrics_register(&reg, ARK_METRICS_HISTOGRAM, "x_count", "", NULL, &s, &err) == -EINVAL);
	/* labels */
	const char *bad_labels[] = {"agent=kyle", "agent=\"kyle", "agent=\"a\",agent=\"b\"", "__x=\"1\"", "a=\"1\",",
				    "a=\"\\q\"", "=\"1\"", "a=\"1\" ", "1a=\"x\""};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad_labels); i++)
		CHECK_MSG(ark_metrics_register(&reg, ARK_METRICS_GAUGE, "g", "", bad_labels[i], &s, &err) == -EINVAL,
			  "accepted labels %s", bad_labels[i]);
	CHECK(ark_metrics_register(&reg, ARK_METRICS_HISTOGRAM, "h_ms", "", "le=\"1\"", &s, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "le");
	CHECK(ark_metrics_register(&reg, ARK_METRICS_GAUGE, "g", "help", "a=\"x\\\"y\\\\z\\n\"", &s, &err) == 0);
	CHECK(ark_metrics_find(&reg, "g", "a=\"x\\\"y\\\\z\\n\"", &s2) == 0 && s2 == s);
	/* same series again: same index (a restarted writer takes it back) */
	CHECK(ark_metrics_register(&reg, ARK_METRICS_GAUGE, "g", "help", "a=\"x\\\"y\\\\z\\n\"", &s2, &err) == 0 && s2 == s);
	/* type fixed by the family */
	CHECK(ark_metrics_register(&reg, ARK_METRICS_HISTOGRAM, "g", "", "a=\"2\"", &s, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "is a gauge");
	/* histogram table full */
	struct ark_metrics_hist_handle hh;
	CHECK(ark_metrics_histogram(&reg, "h1_ms", "", NULL, &hh, &err) == 0);
	CHECK(ark_metrics_histogram(&reg, "h2_ms", "", NULL, &hh, &err) == -ENOSPC);
	/* windowed counters beyond capacity still count, but have no window */
	CHECK(ark_metrics_counter(&reg, "a_total", "", NULL, &h, &err) == 0);
	CHECK(ark_metrics_counter(&reg, "b_total", "", NULL, &h, &err) == 0);
	CHECK(ark_metrics_counter(&reg, "c_total", "", NULL, &h, &err) == 0);
	ark_metrics_counter_add(h, 5);
	ark_metrics_tick(&reg, 1000000000000ull);
	uint64_t d;
	CHECK(ark_metrics_counter_window(&reg, h.series, 0, &d) == 0 && d == 5);
	CHECK(ark_metrics_counter_window(&reg, h.series, 60, &d) == 0 && d == 5);  /* reaches before the first tick */
	ark_metrics_tick(&reg, 1000000000000ull + 120000000000ull);
	CHECK(ark_metrics_counter_window(&reg, h.series, 60, &d) == -EOPNOTSUPP);
	/* families full (6: g, h1_ms, a, b, c + 1) then series full (8) */
	CHECK(ark_metrics_gauge(&reg, "f6", "", NULL, &h, &err) == 0);
	CHECK(ark_metrics_gauge(&reg, "f7", "", NULL, &h, &err) == -ENOSPC);
	CHECK(ark_metrics_gauge(&reg, "f6", "", "x=\"1\"", &h, &err) == 0);
	CHECK(ark_metrics_gauge(&reg, "f6", "", "x=\"2\"", &h, &err) == 0);
	CHECK_EQ_U64(ark_metrics_series_count(&reg), 8);
	CHECK(ark_metrics_gauge(&reg, "f6", "", "x=\"3\"", &h, &err) == -ENOSPC);
	CHECK_CONTAINS(err.msg, "full");
	/* attach checks */
	struct ark_metrics r2;
	CHECK(ark_metrics_attach(&r2, mem, size, &err) == 0);
	CHECK(ark_metrics_attach(&r2, mem, size - 128, &err) == -EPROTO);
	char *junk = calloc(1, 4096);
	CHECK(ark_metrics_attach(&r2, junk, 4096, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "magic");
	free(junk);
	free(mem);
}

static void test_verbs_and_process(void)
{
	struct ark_err err;
	struct ark_metrics_config cfg = small_config();
	size_t size = ark_metrics_region_size(&cfg);
	void *mem = aligned_alloc(128, size);
	struct ark_metrics reg;
	CHECK(ark_metrics_init(&reg, mem, size, &cfg, &err) == 0);
	CHECK(ark_record_latency(&reg, ARK_M_PASS_LATENCY, 12.5, NULL) == 0);
	CHECK(ark_record_latency(&reg, ARK_M_PASS_LATENCY, 0.5, NULL) == 0);
	CHECK(ark_increment_counter(&reg, ARK_M_EVENTS, "agent=\"kyle\"") == 0);
	CHECK(ark_increment_counter(&reg, ARK_M_EVENTS, "agent=\"kyle\"") == 0);
	CHECK(ark_set_gauge(&reg, ARK_M_AVAILABILITY, 0.75) == 0);
	CHECK(ark_increment_counter(&reg, ARK_M_AVAILABILITY, NULL) == -EINVAL);  /* a gauge */
	CHECK(ark_record_latency(&reg, ARK_M_EVENTS, 1, NULL) == -EINVAL);       /* table says counter */
	uint32_t s;
	CHECK(ark_metrics_find(&reg, ARK_M_EVENTS, "agent=\"kyle\"", &s) == 0);
	CHECK_EQ_U64(ark_metrics_counter_value(&reg, s), 2);
	CHECK(ark_metrics_find(&reg, ARK_M_AVAILABILITY, NULL, &s) == 0);
	CHECK(ark_metrics_gauge_value(&reg, s) == 0.75);
	CHECK(ark_metrics_find(&reg, ARK_M_PASS_LATENCY, NULL, &s) == 0);
	struct ark_metrics_hist_view *v = malloc(sizeof *v);
	CHECK(ark_metrics_histogram_window(&reg, s, 0, v) == 0);
	CHECK_EQ_U64(v->count, 2);
	CHECK_EQ_U64(v->sum_ns, 13000000);
	CHECK(fabs(ark_metrics_view_quantile_ns(v, 1.0) - 12.5e6) <= 12.5e6 * 0.01);
	free(v);
	/* every table entry registers under its type and label names */
	for (size_t i = 0; i < ark_metrics_table_len; i++) {
		const struct ark_metrics_def *d = &ark_metrics_table[i];
		CHECK(d->help[0] != '\0');
		CHECK(ark_metrics_def_find(d->name) == d);
	}
	/* process metrics of this process */
	struct ark_metrics_process p;
	CHECK_MSG(ark_metrics_process_read(getpid(), &p, &err) == 0, "%s", err.msg);
	CHECK(p.resident_bytes > 1e5);
	CHECK(p.open_fds >= 3);
	double now = (double)ark_realtime_ns() / 1e9;
	CHECK(p.start_time_seconds > now - 3600 && p.start_time_seconds <= now + 1);
	CHECK(p.cpu_seconds >= 0);
	CHECK(ark_metrics_process_read(999999999, &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "/proc/999999999");
	CHECK_MSG(ark_metrics_process_publish(&reg, getpid(), "agent=\"test\"", &err) == 0, "%s", err.msg);
	CHECK(ark_metrics_find(&reg, ARK_M_PROCESS_RSS, "agent=\"test\"", &s) == 0);
	CHECK(ark_metrics_gauge_value(&reg, s) > 1e5);
	CHECK(ark_metrics_find(&reg, ARK_M_PROCESS_FDS, "agent=\"test\"", &s) == 0);
	CHECK(ark_metrics_gauge_value(&reg, s) >= 3);
	free(mem);
}

static void test_sizes(void)
{
	struct ark_metrics_config cfg;
	ark_metrics_config_default(&cfg);
	size_t size = ark_metrics_region_size(&cfg);
	printf("default region: %zu bytes (%.1f MiB)\n", size, (double)size / 1048576.0);
	CHECK(size > 0 && size < 128u * 1048576u);
	cfg.max_histograms = cfg.max_series + 1;
	CHECK(ark_metrics_region_size(&cfg) == 0);
}

int main(void)
{
	snprintf(name, sizeof name, "ark-test-metrics-%d", (int)getpid());
	test_sizes();
	test_rules();
	test_verbs_and_process();
	test_shm_fork();
	printf("metrics registry: OK\n");
	return 0;
}
