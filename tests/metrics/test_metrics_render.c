/* tests/metrics/test_metrics_render.c — the exposition the metrics server
 * serves. A structural checker of our own (what promtool misses): HELP and
 * TYPE once per family and before its samples, unique series, every label
 * value and HELP properly escaped, histogram `le` strictly ascending ending
 * in +Inf, buckets cumulative, +Inf == _count. Then `promtool check metrics`
 * when promtool is installed. OpenMetrics: `# EOF`, _total naming. JSON:
 * parses (jsmn) and has the documented shape and figures. Accept negotiation. */
#include "check.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#include <jsmn.h>

/* ------------------------------------------------ the structural checker -- */
#define MAX_SERIES 20000
#define MAX_FAMILIES 1024

struct checker {
	char families[MAX_FAMILIES][64];
	char types[MAX_FAMILIES][16];
	int nfam;
	char (*series)[256];
	int nseries;
	/* current histogram group */
	char hkey[256];
	double last_le;
	uint64_t last_cum;
	uint64_t inf;
	bool have_inf;
	int buckets_seen;
};

/* Parses `{...}` at *p into canonical text minus the le label; le returned
 * separately. Checks escapes. Returns false on a syntax error. */
static bool parse_labels(const char **pp, char *out, size_t outlen, char *le, size_t lelen)
{
	const char *p = *pp;
	size_t o = 0;
	le[0] = '\0';
	out[0] = '\0';
	if (*p != '{')
		return true;
	p++;
	while (*p != '}') {
		const char *k = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (p > k && *p >= '0' && *p <= '9'))
			p++;
		if (p == k || p[0] != '=' || p[1] != '"')
			return false;
		size_t klen = (size_t)(p - k);
		p += 2;
		char val[256];
		size_t v = 0;
		while (*p != '"') {
			if (*p == '\0' || *p == '\n')
				return false;
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return false;
				if (v + 2 >= sizeof val)
					return false;
				val[v++] = *p++;
			}
			if (v + 1 >= sizeof val)
				return false;
			val[v++] = *p++;
		}
		val[v] = '\0';
		p++;
		if (klen == 2 && strncmp(k, "le", 2) == 0) {
			CHECK(strlen(val) < lelen);
			memcpy(le, val, strlen(val) + 1);
		} else {
			int n = snprintf(out + o, outlen - o, "%s%.*s=\"%s\"", o ? "," : "", (int)klen, k, val);
			o += (size_t)n;
		}
		if (*p == ',')
			p++;
		else if (*p != '}')
			return false;
	}
	*pp = p + 1;
	return true;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a > b && strcmp(s + a - b, suf) == 0;
}

static void hist_group_end(struct checker *c)
{
	if (c->hkey[0]) {
		CHECK_MSG(c->have_inf, "histogram %s has no +Inf bucket", c->hkey);
		CHECK_MSG(c->buckets_seen >= 2, "histogram %s has too few buckets", c->hkey);
	}
	c->hkey[0] = '\0';
}

/* Checks a whole exposition; returns the number of samples. */
static int check_exposition(const char *text, bool om)
{
	struct checker *c = calloc(1, sizeof *c);
	c->series = calloc(MAX_SERIES, sizeof *c->series);
	int samples = 0, cur = -1;
	bool eof = false;
	const char *line = text;
	while (*line) {
		const char *nl = strchr(line, '\n');
		CHECK_MSG(nl, "last line not terminated");
		CHECK_MSG(!eof, "text after # EOF");
		char buf[1024];
		size_t len = (size_t)(nl - line);
		CHECK(len < sizeof buf);
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl + 1;
		if (strcmp(buf, "# EOF") == 0) {
			CHECK(om);
			eof = true;
			continue;
		}
		if (strncmp(buf, "# HELP ", 7) == 0) {
			hist_group_end(c);
			char name[64];
			CHECK(sscanf(buf + 7, "%63s", name) == 1);
			for (int i = 0; i < c->nfam; i++)
				CHECK_MSG(strcmp(c->families[i], name) != 0, "family %s appears twice", name);
			CHECK(c->nfam < MAX_FAMILIES);
			cur = c->nfam++;
			snprintf(c->families[cur], 64, "%s", name);
			/* HELP escapes: only \\ and \n (and \" in OpenMetrics) */
			for (const char *p = buf + 7 + strlen(name); *p; p++)
				if (*p == '\\') {
					CHECK_MSG(p[1] == '\\' || p[1] == 'n' || (om && p[1] == '"'), "bad HELP escape in %s", buf);
					p++;
				} else if (om) {
					CHECK_MSG(*p != '"', "unescaped quote in OpenMetrics HELP: %s", buf);
				}
			continue;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			char name[64], type[16];
			CHECK(sscanf(buf + 7, "%63s %15s", name, type) == 2);
			CHECK_MSG(cur >= 0 && strcmp(c->families[cur], name) == 0, "TYPE %s without its HELP first", name);
			CHECK_MSG(c->types[cur][0] == '\0', "second TYPE for %s", name);
			snprintf(c->types[cur], 16, "%s", type);
			continue;
		}
		CHECK_MSG(buf[0] != '#', "unexpected comment: %s", buf);
		/* sample */
		CHECK_MSG(cur >= 0 && c->types[cur][0], "sample before HELP/TYPE: %s", buf);
		const char *p = buf;
		char name[128];
		size_t n = 0;
		while (*p && *p != '{' && *p != ' ')
			name[n++] = *p++;
		name[n] = '\0';
		char labels[256], le[64];
		CHECK_MSG(parse_labels(&p, labels, sizeof labels, le, sizeof le), "bad labels: %s", buf);
		CHECK_MSG(*p == ' ', "no value: %s", buf);
		char *end;
		double value = strtod(p + 1, &end);
		CHECK_MSG(*end == '\0' && end != p + 1, "bad value: %s", buf);
		const char *fam = c->families[cur], *type = c->types[cur];
		char key[512];
		snprintf(key, sizeof key, "%s{%s}%s", name, labels, le);
		CHECK(c->nseries < MAX_SERIES);
		CHECK(strlen(key) < 256);
		memcpy(c->series[c->nseries++], key, strlen(key) + 1);
		samples++;
		char expect[128];
		if (strcmp(type, "counter") == 0) {
			snprintf(expect, sizeof expect, om ? "%s_total" : "%s", fam);
			CHECK_MSG(strcmp(name, expect) == 0, "counter sample %s in family %s", name, fam);
			if (!om)
				CHECK(has_suffix(fam, "_total"));
			CHECK(value >= 0);
		} else if (strcmp(type, "gauge") == 0) {
			CHECK_MSG(strcmp(name, fam) == 0, "gauge sample %s in family %s", name, fam);
		} else {
			CHECK(strcmp(type, "histogram") == 0);
			char hk[256];
			snprintf(hk, sizeof hk, "%s{%s}", fam, labels);
			snprintf(expect, sizeof expect, "%s_bucket", fam);
			if (strcmp(name, expect) == 0) {
				CHECK_MSG(le[0], "bucket without le: %s", buf);
				if (strcmp(hk, c->hkey) != 0) {
					hist_group_end(c);
					snprintf(c->hkey, sizeof c->hkey, "%s", hk);
					c->last_le = -INFINITY;
					c->last_cum = 0;
					c->have_inf = false;
					c->buckets_seen = 0;
				}
				CHECK_MSG(!c->have_inf, "bucket after +Inf: %s", buf);
				double lev = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
				CHECK_MSG(lev > c->last_le, "le not ascending at %s", buf);
				CHECK_MSG((uint64_t)value >= c->last_cum, "buckets not cumulative at %s", buf);
				c->last_le = lev;
				c->last_cum = (uint64_t)value;
				c->buckets_seen++;
				if (isinf(lev)) {
					c->have_inf = true;
					c->inf = (uint64_t)value;
				}
			} else {
				CHECK_MSG(le[0] == '\0', "le on a non-bucket sample: %s", buf);
				CHECK_MSG(strcmp(hk, c->hkey) == 0 && c->have_inf, "%s before its buckets", buf);
				snprintf(expect, sizeof expect, "%s_count", fam);
				if (strcmp(name, expect) == 0) {
					CHECK_MSG((uint64_t)value == c->inf, "+Inf bucket %lu != _count %.0f for %s",
						  (unsigned long)c->inf, value, hk);
				} else {
					snprintf(expect, sizeof expect, "%s_sum", fam);
					CHECK_MSG(strcmp(name, expect) == 0, "unexpected histogram sample %s", buf);
				}
			}
		}
	}
	hist_group_end(c);
	CHECK(om == eof);
	/* unique series: sort the keys, no two neighbours equal */
	qsort(c->series, (size_t)c->nseries, sizeof *c->series, cmp_key);
	for (int i = 1; i < c->nseries; i++)
		CHECK_MSG(strcmp(c->series[i - 1], c->series[i]) != 0, "duplicate series %s", c->series[i]);
	free(c->series);
	free(c);
	return samples;
}

/* A broken exposition must fail the checker: run it in a child. */
static void expect_checker_rejects(const char *text, bool om)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		check_exposition(text, om);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 1, "checker accepted:\n%s", text);
}

static void test_checker_catches(void)
{
	const char *ok = "# HELP h_ms x\n# TYPE h_ms histogram\nh_ms_bucket{le=\"1.0\"} 1\nh_ms_bucket{le=\"+Inf\"} 2\nh_ms_sum 3\nh_ms_count 2\n";
	CHECK(check_exposition(ok, false) == 4);
	expect_checker_rejects("# HELP h_ms x\n# TYPE h_ms histogram\nh_ms_bucket{le=\"1.0\"} 1\nh_ms_sum 3\nh_ms_count 1\n", false);
	expect_checker_rejects("# HELP h_ms x\n# TYPE h_ms histogram\nh_ms_bucket{le=\"2.0\"} 1\nh_ms_bucket{le=\"1.0\"} 1\nh_ms_bucket{le=\"+Inf\"} 2\nh_ms_sum 3\nh_ms_count 2\n", false);
	expect_checker_rejects("# HELP h_ms x\n# TYPE h_ms histogram\nh_ms_bucket{le=\"1.0\"} 1\nh_ms_bucket{le=\"+Inf\"} 2\nh_ms_sum 3\nh_ms_count 3\n", false);
	expect_checker_rejects("# HELP g x\n# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"1\"} 2\n", false);
	expect_checker_rejects("# HELP g x\n# TYPE g gauge\ng{a=\"\\t\"} 1\n", false);
	expect_checker_rejects("# HELP g x \\t\n# TYPE g gauge\ng 1\n", false);
	expect_checker_rejects("# HELP g x\n# TYPE g gauge\ng 1\n", true);  /* no # EOF */
}

/* ---------------------------------------------------------------- setup -- */
static struct ark_metrics make(uint32_t max_series, void **mem)
{
	struct ark_metrics_config cfg;
	ark_metrics_config_default(&cfg);
	cfg.max_series = max_series;
	cfg.max_families = 512;
	cfg.max_histograms = 16;
	cfg.max_windowed_counters = 64;
	cfg.retention_seconds = 600;
	size_t size = ark_metrics_region_size(&cfg);
	*mem = aligned_alloc(128, size);
	struct ark_metrics reg;
	struct ark_err err;
	CHECK_MSG(ark_metrics_init(&reg, *mem, size, &cfg, &err) == 0, "%s", err.msg);
	return reg;
}

static void populate(struct ark_metrics *reg)
{
	struct ark_err err;
	struct ark_metrics_handle h;
	struct ark_metrics_hist_handle hh;
	const char *agents[] = {"kyle", "joey", "hrm", "kenny", "aletheia"};
	for (int a = 0; a < 5; a++) {
		char l[64];
		snprintf(l, sizeof l, "agent=\"%s\"", agents[a]);
		CHECK(ark_metrics_counter(reg, ARK_M_EVENTS, ark_metrics_def_find(ARK_M_EVENTS)->help, l, &h, &err) == 0);
		ark_metrics_counter_add(h, 1000u * (unsigned)(a + 1));
		CHECK(ark_metrics_counter(reg, ARK_M_ERRORS, ark_metrics_def_find(ARK_M_ERRORS)->help, l, &h, &err) == 0);
		ark_metrics_counter_add(h, (unsigned)a);
		CHECK(ark_metrics_process_publish(reg, getpid(), l, &err) == 0);
	}
	CHECK(ark_metrics_histogram(reg, ARK_M_PASS_LATENCY, ark_metrics_def_find(ARK_M_PASS_LATENCY)->help, NULL, &hh, &err) == 0);
	for (uint64_t i = 1; i <= 1000; i++)
		ark_metrics_histogram_record_ns(hh, i * 1000000);   /* 1 .. 1000 ms */
	ark_metrics_histogram_record_ns(hh, 200ull * 1000000000);  /* 200 s: only in +Inf */
	CHECK(ark_metrics_histogram(reg, ARK_M_KYLE_PROCESS, ark_metrics_def_find(ARK_M_KYLE_PROCESS)->help, NULL, &hh, &err) == 0);
	CHECK(ark_metrics_histogram(reg, "x_latency_ms", "labelled", "agent=\"a\"", &hh, &err) == 0);
	ark_metrics_histogram_record_ns(hh, 1500);
	CHECK(ark_metrics_histogram(reg, "x_latency_ms", "labelled", "agent=\"b\"", &hh, &err) == 0);
	ark_metrics_histogram_record_ns(hh, 2500000);
	/* escaping: HELP with backslash, newline and quote; label value with all three */
	CHECK(ark_metrics_gauge(reg, "escape_value", "a \\ b\nc \"q\"", "path=\"C:\\\\dir\\\"x\\\"\\n2\"", &h, &err) == 0);
	ark_metrics_gauge_set(h, 0.1);
	CHECK(ark_metrics_gauge(reg, "special_value", "nan and inf", "v=\"nan\"", &h, &err) == 0);
	ark_metrics_gauge_set(h, NAN);
	CHECK(ark_metrics_gauge(reg, "special_value", "nan and inf", "v=\"inf\"", &h, &err) == 0);
	ark_metrics_gauge_set(h, INFINITY);
	CHECK(ark_metrics_gauge(reg, "special_value", "nan and inf", "v=\"neg\"", &h, &err) == 0);
	ark_metrics_gauge_set(h, -2.5e-7);
	CHECK(ark_metrics_counter(reg, "big_total", "a large counter", NULL, &h, &err) == 0);
	ark_metrics_counter_add(h, UINT64_MAX - 1);
	CHECK(ark_metrics_gauge(reg, "empty_family_value", "registered, no value", NULL, &h, &err) == 0);
}

/* A missing tool fails the test: a check that can be skipped silently can
 * stop checking (quickstart.sh installs both; CI runs it). */
static void promtool_check(const char *text, const char *what)
{
	CHECK_MSG(system("command -v promtool >/dev/null 2>&1") == 0,
		  "promtool is not installed (Debian package prometheus; quickstart.sh installs it)");
	char path[] = "/tmp/ark-metrics-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	char cmd[256];
	/* promtool exits 1 on a parse error and 3 on lint problems. The only
	 * lint accepted is the one the seed's names cause on purpose:
	 * "<name>_ms metric names should not contain abbreviated units". */
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	CHECK(p);
	char out[8192] = "";
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	unlink(path);
	CHECK_MSG(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3),
		  "promtool check metrics (%s) failed:\n%s", what, out);
	int accepted = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128];
		CHECK_MSG(sscanf(line, "%127s metric names should not contain abbreviated units", name) == 1 &&
				  strstr(line, " metric names should not contain abbreviated units") &&
				  strlen(name) > 3 && strcmp(name + strlen(name) - 3, "_ms") == 0,
			  "promtool lint (%s): %s", what, line);
		accepted++;
	}
	CHECK(WEXITSTATUS(status) == 0 || accepted > 0);
	printf("promtool check metrics (%s): OK\n", what);
}

/* The official Python client's strict parsers (OpenMetrics and Prometheus
 * text). */
static void python_parse(const char *text, const char *format, int want_samples)
{
	CHECK_MSG(system("/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1") == 0,
		  "python3-prometheus-client is not installed (Debian package python3-prometheus-client; "
		  "quickstart.sh installs it): its %s parser cannot check the output", format);
	char path[] = "/tmp/ark-metrics-py-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/check_openmetrics.py %s < %s 2>&1", ARK_METRICS_TEST_DIR, format, path);
	FILE *p = popen(cmd, "r");
	CHECK(p);
	char out[4096] = "";
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	int status = pclose(p);
	unlink(path);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s parser: %s", format, out);
	int fams = 0, samples = 0;
	CHECK(sscanf(out, "%d families, %d samples", &fams, &samples) == 2);
	CHECK_MSG(samples == want_samples, "%s parser read %d samples, we wrote %d", format, samples, want_samples);
	printf("prometheus_client %s parser: %s", format, out);
}

static void test_prometheus(void)
{
	void *mem;
	struct ark_metrics reg = make(1024, &mem);
	populate(&reg);
	struct ark_buf b;
	ark_buf_init(&b);
	CHECK(ark_metrics_render_prometheus(&reg, &b) == 0);
	int samples = check_exposition(b.data, false);
	CHECK(samples > 100);
	CHECK_CONTAINS(b.data, "# HELP escape_value a \\\\ b\\nc \"q\"\n");
	CHECK_CONTAINS(b.data, "escape_value{path=\"C:\\\\dir\\\"x\\\"\\n2\"} 0.1\n");
	CHECK_CONTAINS(b.data, "special_value{v=\"nan\"} NaN\n");
	CHECK_CONTAINS(b.data, "special_value{v=\"inf\"} +Inf\n");
	CHECK_CONTAINS(b.data, "special_value{v=\"neg\"} -2.5e-07\n");
	CHECK_CONTAINS(b.data, "big_total 18446744073709551614\n");
	CHECK_CONTAINS(b.data, "# TYPE ark_pass_latency_ms histogram\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_bucket{le=\"1.0\"} 1\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_bucket{le=\"100.0\"} 100\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_bucket{le=\"1000.0\"} 1000\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_bucket{le=\"100000.0\"} 1000\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_bucket{le=\"+Inf\"} 1001\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_count 1001\n");
	CHECK_CONTAINS(b.data, "ark_pass_latency_ms_sum 700500\n");
	CHECK_CONTAINS(b.data, "x_latency_ms_bucket{agent=\"a\",le=\"0.0025\"} 1\n");
	CHECK_CONTAINS(b.data, "x_latency_ms_bucket{agent=\"b\",le=\"2.5\"} 1\n");
	CHECK_CONTAINS(b.data, "kyle_process_ms_count 0\n");
	CHECK_CONTAINS(b.data, "ark_events_total{agent=\"hrm\"} 3000\n");
	CHECK_CONTAINS(b.data, "# TYPE process_cpu_seconds_total counter\n");
	CHECK(strstr(b.data, "# EOF") == NULL);
	/* one HELP per family even though its series were registered interleaved */
	const char *first = strstr(b.data, "# HELP ark_errors_total");
	CHECK(first && strstr(first + 1, "# HELP ark_errors_total") == NULL);
	promtool_check(b.data, "Prometheus text 0.0.4");
	python_parse(b.data, "prometheus", samples);

	/* OpenMetrics */
	ark_buf_reset(&b);
	CHECK(ark_metrics_render(&reg, ARK_METRICS_FORMAT_OPENMETRICS, &b) == 0);
	CHECK(check_exposition(b.data, true) == samples);
	CHECK(b.len > 6 && strcmp(b.data + b.len - 6, "# EOF\n") == 0);
	CHECK_CONTAINS(b.data, "# TYPE ark_events counter\n");
	CHECK_CONTAINS(b.data, "ark_events_total{agent=\"hrm\"} 3000\n");
	CHECK_CONTAINS(b.data, "# HELP escape_value a \\\\ b\\nc \\\"q\\\"\n");
	CHECK(strstr(b.data, "# TYPE ark_events_total") == NULL);
	python_parse(b.data, "openmetrics", samples);
	ark_buf_free(&b);
	free(mem);
}

/* ------------------------------------------------------------------ JSON -- */
static int jget(const char *js, const jsmntok_t *t, int n, int obj, const char *key)
{
	for (int i = obj + 1; i < n; i++)
		if (t[i].parent == obj && t[i].type == JSMN_STRING && (int)strlen(key) == t[i].end - t[i].start &&
		    strncmp(js + t[i].start, key, (size_t)(t[i].end - t[i].start)) == 0)
			return i + 1;
	return -1;
}

static double jnum(const char *js, const jsmntok_t *t)
{
	CHECK(t->type == JSMN_PRIMITIVE);
	return strtod(js + t->start, NULL);
}

static void test_json(void)
{
	void *mem;
	struct ark_metrics reg = make(1024, &mem);
	populate(&reg);
	struct ark_buf b;
	ark_buf_init(&b);
	CHECK(ark_metrics_render_json(&reg, 0, &b) == 0);
	jsmntok_t *t = malloc(sizeof(jsmntok_t) * 8192);
	jsmn_parser p;
	jsmn_init(&p);
	int n = jsmn_parse(&p, b.data, b.len, t, 8192);
	CHECK_MSG(n > 0 && t[0].type == JSMN_OBJECT, "JSON does not parse (%d):\n%s", n, b.data);
	int counters = jget(b.data, t, n, 0, "counters"), gauges = jget(b.data, t, n, 0, "gauges");
	int hists = jget(b.data, t, n, 0, "histograms");
	CHECK(counters > 0 && t[counters].type == JSMN_OBJECT);
	CHECK(gauges > 0 && t[gauges].type == JSMN_OBJECT);
	CHECK(hists > 0 && t[hists].type == JSMN_OBJECT);
	CHECK(jget(b.data, t, n, 0, "window_seconds") > 0);
	int ev = jget(b.data, t, n, counters, "ark_events_total{agent=\"hrm\"}");
	CHECK(ev < 0);  /* the key is JSON-escaped: look it up escaped */
	ev = jget(b.data, t, n, counters, "ark_events_total{agent=\\\"hrm\\\"}");
	CHECK(ev > 0 && jnum(b.data, &t[ev]) == 3000);
	int nanv = jget(b.data, t, n, gauges, "special_value{v=\\\"nan\\\"}");
	CHECK(nanv > 0 && strncmp(b.data + t[nanv].start, "null", 4) == 0);
	int h = jget(b.data, t, n, hists, "ark_pass_latency_ms");
	CHECK(h > 0 && t[h].type == JSMN_OBJECT);
	const char *keys[] = {"count", "sum", "p50", "p95", "p99", "buckets"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(keys); i++)
		CHECK_MSG(jget(b.data, t, n, h, keys[i]) > 0, "histogram lacks %s", keys[i]);
	CHECK(jnum(b.data, &t[jget(b.data, t, n, h, "count")]) == 1001);
	double p50 = jnum(b.data, &t[jget(b.data, t, n, h, "p50")]);
	double p95 = jnum(b.data, &t[jget(b.data, t, n, h, "p95")]);
	double p99 = jnum(b.data, &t[jget(b.data, t, n, h, "p99")]);
	CHECK_MSG(fabs(p50 - 501) <= 5.01 && fabs(p95 - 951) <= 9.51 && fabs(p99 - 991) <= 9.91, "p50 %g p95 %g p99 %g", p50, p95, p99);
	int bk = jget(b.data, t, n, h, "buckets");
	CHECK(t[bk].type == JSMN_OBJECT && t[bk].size == ARK_METRICS_LE_COUNT + 1);
	CHECK(jnum(b.data, &t[jget(b.data, t, n, bk, "+Inf")]) == 1001);
	CHECK(jnum(b.data, &t[jget(b.data, t, n, bk, "10.0")]) == 10);
	CHECK(jget(b.data, t, n, hists, "x_latency_ms{agent=\\\"a\\\"}") > 0);
	/* windowed: after a tick and new records, a 10 s window holds only them */
	ark_metrics_tick(&reg, 5000ull * 1000000000);
	ark_metrics_tick(&reg, 5010ull * 1000000000);
	uint32_t s;
	CHECK(ark_metrics_find(&reg, ARK_M_PASS_LATENCY, NULL, &s) == 0);
	ark_record_latency(&reg, ARK_M_PASS_LATENCY, 3.0, NULL);
	ark_buf_reset(&b);
	CHECK(ark_metrics_render_json(&reg, 10, &b) == 0);
	jsmn_init(&p);
	n = jsmn_parse(&p, b.data, b.len, t, 8192);
	CHECK(n > 0);
	hists = jget(b.data, t, n, 0, "histograms");
	h = jget(b.data, t, n, hists, "ark_pass_latency_ms");
	CHECK(jnum(b.data, &t[jget(b.data, t, n, h, "count")]) == 1);
	CHECK(fabs(jnum(b.data, &t[jget(b.data, t, n, h, "p99")]) - 3.0) <= 0.03);
	free(t);
	ark_buf_free(&b);
	free(mem);
}

/* --------------------------------------- a series following a struct ark_hist -- */
/* The exposition line `name_bucket{le="LE"} N`'s N, or -1. */
static long long bucket_line(const char *text, const char *name, const char *le)
{
	char want[160];
	snprintf(want, sizeof want, "\n%s_bucket{le=\"%s\"} ", name, le);
	const char *at = strstr(text, want);
	return at ? strtoll(at + strlen(want), NULL, 10) : -1;
}

static long long sample_line(const char *text, const char *name, const char *suffix)
{
	char want[160];
	snprintf(want, sizeof want, "\n%s%s ", name, suffix);
	const char *at = strstr(text, want);
	return at ? strtoll(at + strlen(want), NULL, 10) : -1;
}

static void record_both(struct ark_hist *src, struct ark_metrics_hist_handle direct, uint64_t ns)
{
	ark_hist_record(src, ns);                       /* the agent's one record */
	ark_metrics_histogram_record_ns(direct, ns);    /* what recording in the registry directly would give */
}

/* The series must hold exactly what the source recorded, bucket for bucket
 * as a directly recorded series: once each, none dropped. */
static void expect_same(const struct ark_metrics *reg, const struct ark_metrics_hist_follower *f,
			struct ark_metrics_hist_handle direct, uint64_t want_count)
{
	CHECK_EQ_U64(atomic_load(f->h.count), want_count);
	CHECK_EQ_U64(atomic_load(direct.count), want_count);
	CHECK_EQ_U64(atomic_load(f->h.sum), atomic_load(direct.sum));
	for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++)
		CHECK_MSG(atomic_load(&f->h.buckets[b]) == atomic_load(&direct.buckets[b]), "bucket %u: %llu followed, %llu direct", b,
			  (unsigned long long)atomic_load(&f->h.buckets[b]), (unsigned long long)atomic_load(&direct.buckets[b]));
	(void)reg;
}

static void test_follow(void)
{
	void *mem;
	struct ark_metrics reg = make(1024, &mem);
	struct ark_err err;
	static struct ark_metrics_hist_follower f, restarted;
	static struct ark_hist src, saved;
	struct ark_metrics_hist_handle direct;
	CHECK_MSG(ark_metrics_histogram_follower(&reg, ARK_M_PASS_LATENCY, NULL, NULL, &f, &err) == 0, "%s", err.msg);
	CHECK(ark_metrics_histogram(&reg, "direct_latency_ms", "the same values recorded directly", NULL, &direct, &err) == 0);
	ark_hist_reset(&src);
	/* Known latencies (ns): exact small values, the 1 us and 1 ms bounds,
	 * both precisions' edges, past the registry's top (2^37 ns) and past
	 * struct ark_hist's (2^41 ns). */
	static const uint64_t values[] = {0, 1, 63, 64, 127, 128, 500, 500, 500, 1000, 1000, 1001, 2400000,
					  7000000, 7000000, 7000000, 7000000, 1000000, 1000000000ull, (1ull << 37) - 1,
					  1ull << 37, (1ull << 41) + 5, 200000000000ull};
	const uint64_t n = ARK_ARRAY_LEN(values);
	for (uint64_t i = 0; i < n; i++)
		record_both(&src, direct, values[i]);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&f, &src), n);
	expect_same(&reg, &f, direct, n);
	/* ... and in the segment's histogram, once each. */
	CHECK_EQ_U64(src.count, n);
	CHECK_EQ_U64(src.buckets[ark_hist_bucket_of(500)], 3);
	CHECK_EQ_U64(src.buckets[ark_hist_bucket_of(7000000)], 4);
	CHECK_EQ_U64(src.buckets[ARK_HIST_BUCKETS - 1], 1);   /* 2^41 + 5 */
	/* At /metrics: the exact cumulative counts. */
	struct ark_buf b;
	ark_buf_init(&b);
	CHECK(ark_metrics_render_prometheus(&reg, &b) == 0);
	CHECK(check_exposition(b.data, false) > 0);
	CHECK_EQ_U64((uint64_t)sample_line(b.data, ARK_M_PASS_LATENCY, "_count"), n);
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "+Inf"), n);
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "0.001"), 12);   /* <= 1000 ns, and 1001 in 1000's bucket */
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "1.0"), 13);
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "2.5"), 14);
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "10.0"), 18);
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "1000.0"), 19);
	CHECK_EQ_U64((uint64_t)bucket_line(b.data, ARK_M_PASS_LATENCY, "100000.0"), 19);
	static const char *const les[] = {"0.001", "0.0025", "0.01", "0.1", "1.0", "2.5", "10.0", "1000.0", "100000.0", "+Inf"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(les); i++)
		CHECK_MSG(bucket_line(b.data, ARK_M_PASS_LATENCY, les[i]) == bucket_line(b.data, "direct_latency_ms", les[i]),
			  "le=%s: %lld followed, %lld direct", les[i], bucket_line(b.data, ARK_M_PASS_LATENCY, les[i]),
			  bucket_line(b.data, "direct_latency_ms", les[i]));
	/* Following again without new records adds nothing (no double count). */
	CHECK_EQ_U64(ark_metrics_histogram_follow(&f, &src), 0);
	expect_same(&reg, &f, direct, n);
	/* A batch rolled back before the writer looked: re-delivered, counted once. */
	memcpy(&saved, &src, sizeof src);
	ark_hist_record(&src, 3000);
	ark_hist_record(&src, 4000000);
	memcpy(&src, &saved, sizeof src);
	record_both(&src, direct, 3000);
	record_both(&src, direct, 4000000);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&f, &src), 2);
	expect_same(&reg, &f, direct, n + 2);
	/* One rolled back after the writer looked: the exported counts never go down. */
	memcpy(&saved, &src, sizeof src);
	ark_hist_record(&src, 5000);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&f, &src), 1);
	memcpy(&src, &saved, sizeof src);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&f, &src), 0);
	CHECK_EQ_U64(atomic_load(f.h.count), n + 3);
	CHECK(atomic_load(f.h.sum) >= atomic_load(direct.sum) + 5000);
	/* A restarted writer (a new follower on the same series) counts nothing twice. */
	CHECK(ark_metrics_histogram_follower(&reg, ARK_M_PASS_LATENCY, NULL, NULL, &restarted, &err) == 0);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&restarted, &src), 0);
	CHECK_EQ_U64(atomic_load(restarted.h.count), n + 3);
	ark_hist_record(&src, 6000);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&restarted, &src), 1);
	CHECK_EQ_U64(atomic_load(restarted.h.count), n + 4);
	/* Records the writer did not see before it restarted are added. */
	ark_hist_record(&src, 7000);
	ark_hist_record(&src, 7000);
	memset(&restarted, 0, sizeof restarted);
	CHECK(ark_metrics_histogram_follower(&reg, ARK_M_PASS_LATENCY, NULL, NULL, &restarted, &err) == 0);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&restarted, &src), 2);
	CHECK_EQ_U64(atomic_load(restarted.h.count), n + 6);
	/* A reset source (HRM's, on new rules): nothing lost, nothing goes down. */
	ark_hist_reset(&src);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&restarted, &src), 0);
	ark_hist_record(&src, 8000);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&restarted, &src), 1);
	CHECK_EQ_U64(atomic_load(restarted.h.count), n + 7);
	/* Windows: what was followed after a slice began is that window's. */
	ark_metrics_tick(&reg, 7000ull * 1000000000);
	ark_metrics_tick(&reg, 7010ull * 1000000000);
	for (int i = 0; i < 4; i++)
		ark_hist_record(&src, 9000);
	CHECK_EQ_U64(ark_metrics_histogram_follow(&restarted, &src), 4);
	uint32_t s;
	CHECK(ark_metrics_find(&reg, ARK_M_PASS_LATENCY, NULL, &s) == 0);
	static struct ark_metrics_hist_view view;
	CHECK(ark_metrics_histogram_window(&reg, s, 10, &view) == 0);
	CHECK_EQ_U64(view.count, 4);
	CHECK_EQ_U64(view.buckets[ark_metrics_hist_bucket_of(9000)], 4);
	CHECK(ark_metrics_histogram_window(&reg, s, 0, &view) == 0);
	CHECK_EQ_U64(view.count, n + 11);
	ark_buf_free(&b);
	free(mem);
}

static void test_large(void)
{
	void *mem;
	struct ark_metrics reg = make(10240, &mem);
	struct ark_err err;
	for (int i = 0; i < 10000; i++) {
		char name[64], labels[64];
		snprintf(name, sizeof name, "fam%d_total", i % 400);
		snprintf(labels, sizeof labels, "shard=\"%d\"", i);
		struct ark_metrics_handle h;
		CHECK_MSG(ark_metrics_counter(&reg, name, "a family", labels, &h, &err) == 0, "%s", err.msg);
		ark_metrics_counter_add(h, (uint64_t)i);
	}
	struct ark_buf b;
	ark_buf_init(&b);
	CHECK(ark_metrics_render_prometheus(&reg, &b) == 0);
	CHECK(check_exposition(b.data, false) == 10000);
	promtool_check(b.data, "10000 series");
	ark_buf_free(&b);
	free(mem);
}

static void test_accept(void)
{
	const struct {
		const char *accept;
		enum ark_metrics_format want;
	} cases[] = {
		{NULL, ARK_METRICS_FORMAT_PROMETHEUS},
		{"", ARK_METRICS_FORMAT_PROMETHEUS},
		{"text/plain", ARK_METRICS_FORMAT_PROMETHEUS},
		{"*/*", ARK_METRICS_FORMAT_PROMETHEUS},
		{"application/openmetrics-text", ARK_METRICS_FORMAT_OPENMETRICS},
		{"APPLICATION/OpenMetrics-Text; Version=1.0.0", ARK_METRICS_FORMAT_OPENMETRICS},
		{"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
		 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", ARK_METRICS_FORMAT_OPENMETRICS},
		{"text/plain;version=0.0.4;q=1, application/openmetrics-text;q=0.5", ARK_METRICS_FORMAT_PROMETHEUS},
		{"application/openmetrics-text; q=0.9, */*; q=0.8", ARK_METRICS_FORMAT_OPENMETRICS},
		{"application/openmetrics-text;version=2.0.0", ARK_METRICS_FORMAT_PROMETHEUS},
		{"application/openmetrics-text;q=0", ARK_METRICS_FORMAT_PROMETHEUS},
		{"application/openmetrics-text;q=abc", ARK_METRICS_FORMAT_PROMETHEUS},
		{"application/openmetrics-text;q=1.5", ARK_METRICS_FORMAT_PROMETHEUS},
		{"text/html, application/openmetrics-text;q=0.2", ARK_METRICS_FORMAT_OPENMETRICS},
		{"application/json", ARK_METRICS_FORMAT_PROMETHEUS},
		{",,;;==", ARK_METRICS_FORMAT_PROMETHEUS},
	};
	for (size_t i = 0; i < ARK_ARRAY_LEN(cases); i++)
		CHECK_MSG(ark_metrics_choose_format(cases[i].accept) == cases[i].want, "Accept: %s",
			  cases[i].accept ? cases[i].accept : "(none)");
	CHECK_CONTAINS(ark_metrics_content_type(ARK_METRICS_FORMAT_OPENMETRICS), "application/openmetrics-text; version=1.0.0");
	CHECK_CONTAINS(ark_metrics_content_type(ARK_METRICS_FORMAT_PROMETHEUS), "text/plain; version=0.0.4");
}

int main(void)
{
	test_checker_catches();
	test_accept();
	test_prometheus();
	test_json();
	test_follow();
	test_large();
	printf("metrics exposition: OK\n");
	return 0;
}
