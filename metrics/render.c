/* metrics/render.c — what the metrics server serves: the Prometheus text
 * format 0.0.4, OpenMetrics 1.0 and the JSON of /metrics/json, and
 * Accept-header negotiation. They write into the one growable buffer
 * (struct ark_buf, common/).
 *
 * Invariants of the output: HELP and TYPE once per family, every series of a
 * family right after them; histogram buckets cumulative with `le` ascending
 * and a +Inf bucket equal to _count (both computed from the same bucket
 * copy); label values and HELP escaped per the format; the JSON written
 * by the one JSON writer (common/json.c), structure and all. Rendering only reads
 * the region, so any process may render while the writers record. */
#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* `le` as written (OpenMetrics canonical floats, also valid 0.0.4). */
static const char *const le_text[ARK_METRICS_LE_COUNT] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0",
	"25.0", "50.0", "100.0", "250.0", "500.0", "1000.0", "2500.0", "5000.0", "10000.0", "25000.0", "50000.0",
	"100000.0",
};
/* le_cut[i]: the number of log-linear buckets whose lowest value is <= le i
 * (so a value equal to le always counts; one up to a bucket width, 1.6 %,
 * above it may too). */
static uint32_t le_cut[ARK_METRICS_LE_COUNT];
static pthread_once_t le_once = PTHREAD_ONCE_INIT;

static void le_init(void)
{
	uint32_t b = 0;
	for (int i = 0; i < ARK_METRICS_LE_COUNT; i++) {
		double limit = ARK_METRICS_LE_MS[i] * 1e6;
		while (b < ARK_METRICS_HIST_BUCKETS && (double)ark_metrics_hist_bucket_low(b) <= limit)
			b++;
		le_cut[i] = b;
	}
}

/* ---------------------------------------------------------------- output -- */
static inline void puts_(struct ark_buf *b, const char *s)
{
	ark_buf_append(b, s, strlen(s));
}

static void put_u64(struct ark_buf *b, uint64_t v)
{
	char tmp[24];
	int i = 24;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ark_buf_append(b, tmp + i, (size_t)(24 - i));
}

/* Shortest %g that reads back as the same double; NaN/+Inf/-Inf as the
 * exposition formats spell them (JSON goes through the one writer). */
static void put_double(struct ark_buf *b, double v)
{
	if (isnan(v) || isinf(v)) {
		puts_(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		if (v < 0) {
			puts_(b, "-");
			v = -v;
		}
		put_u64(b, (uint64_t)v);
		return;
	}
	char tmp[40];
	snprintf(tmp, sizeof tmp, "%.15g", v);
	if (strtod(tmp, NULL) != v)
		snprintf(tmp, sizeof tmp, "%.17g", v);
	puts_(b, tmp);
}

/* HELP escaping: \ and newline (0.0.4); also " for OpenMetrics. */
static void put_help(struct ark_buf *b, const char *s, bool om)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			puts_(b, "\\\\");
		else if (*p == '\n')
			puts_(b, "\\n");
		else if (om && *p == '"')
			puts_(b, "\\\"");
		else
			ark_buf_append(b, p, 1);
	}
}

/* Series indices grouped by family, in registration order (counting sort).
 * Returns a malloc'd array of n entries, NULL on failure. */
static uint32_t *group_by_family(const struct ark_metrics *reg, uint32_t n, uint32_t nfam, uint32_t **starts_out)
{
	uint32_t *order = malloc(sizeof(uint32_t) * (n ? n : 1));
	uint32_t *starts = calloc(nfam + 1, sizeof(uint32_t));
	if (!order || !starts) {
		free(order);
		free(starts);
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++)
		starts[M_SERIES(reg, i)->family + 1]++;
	for (uint32_t f = 0; f < nfam; f++)
		starts[f + 1] += starts[f];
	uint32_t *fill = malloc(sizeof(uint32_t) * (nfam + 1));
	if (!fill) {
		free(order);
		free(starts);
		return NULL;
	}
	memcpy(fill, starts, sizeof(uint32_t) * (nfam + 1));
	for (uint32_t i = 0; i < n; i++)
		order[fill[M_SERIES(reg, i)->family]++] = i;
	free(fill);
	*starts_out = starts;
	return order;
}

static bool seconds_counter(const char *name)
{
	size_t n = strlen(name);
	return n > 14 && strcmp(name + n - 14, "_seconds_total") == 0;
}

static void put_sample(struct ark_buf *b, const char *name, const char *suffix, const char *labels,
		       const char *extra_label)
{
	puts_(b, name);
	puts_(b, suffix);
	if (labels[0] || extra_label) {
		puts_(b, "{");
		puts_(b, labels);
		if (extra_label) {
			if (labels[0])
				puts_(b, ",");
			puts_(b, extra_label);
		}
		puts_(b, "}");
	}
	puts_(b, " ");
}

static void put_counter_value(struct ark_buf *b, const char *fam, uint64_t v)
{
	if (seconds_counter(fam))
		put_double(b, (double)v / 1e6);
	else
		put_u64(b, v);
}

static int render_text(const struct ark_metrics *reg, struct ark_buf *buf, bool om)
{
	pthread_once(&le_once, le_init);
	uint32_t n = ark_metrics_series_count(reg);
	uint32_t nfam = atomic_load_explicit(&reg->hdr->family_count, memory_order_acquire);
	/* a series registered after we read n belongs to a family below nfam or
	 * is skipped; families without series are skipped */
	uint32_t *starts;
	uint32_t *order = group_by_family(reg, n, nfam, &starts);
	if (!order)
		return -ENOMEM;
	struct ark_metrics_hist_view *view = NULL;
	char le_label[32];
	for (uint32_t f = 0; f < nfam; f++) {
		if (starts[f] == starts[f + 1])
			continue;
		const struct ark_metrics_family *fam = M_FAMILY(reg, f);
		char famname[ARK_METRICS_NAME_MAX];
		snprintf(famname, sizeof famname, "%s", fam->name);
		if (om && fam->type == ARK_METRICS_COUNTER)
			famname[strlen(famname) - 6] = '\0';   /* strip _total */
		puts_(buf, "# HELP ");
		puts_(buf, famname);
		puts_(buf, " ");
		put_help(buf, fam->help, om);
		puts_(buf, "\n# TYPE ");
		puts_(buf, famname);
		puts_(buf, fam->type == ARK_METRICS_COUNTER ? " counter\n" :
			   fam->type == ARK_METRICS_GAUGE ? " gauge\n" : " histogram\n");
		for (uint32_t k = starts[f]; k < starts[f + 1]; k++) {
			uint32_t i = order[k];
			const struct ark_metrics_series *s = M_SERIES(reg, i);
			if (fam->type == ARK_METRICS_COUNTER) {
				put_sample(buf, famname, om ? "_total" : "", s->labels, NULL);
				put_counter_value(buf, fam->name, ark_metrics_counter_value(reg, i));
				puts_(buf, "\n");
			} else if (fam->type == ARK_METRICS_GAUGE) {
				put_sample(buf, famname, "", s->labels, NULL);
				put_double(buf, ark_metrics_gauge_value(reg, i));
				puts_(buf, "\n");
			} else {
				if (!view && !(view = malloc(sizeof *view))) {
					free(order);
					free(starts);
					return -ENOMEM;
				}
				if (ark_metrics_histogram_window(reg, i, 0, view) != 0)
					continue;
				uint64_t cum = 0;
				uint32_t b = 0;
				for (int l = 0; l < ARK_METRICS_LE_COUNT; l++) {
					for (; b < le_cut[l]; b++)
						cum += view->buckets[b];
					snprintf(le_label, sizeof le_label, "le=\"%s\"", le_text[l]);
					put_sample(buf, famname, "_bucket", s->labels, le_label);
					put_u64(buf, cum);
					puts_(buf, "\n");
				}
				put_sample(buf, famname, "_bucket", s->labels, "le=\"+Inf\"");
				put_u64(buf, view->count);
				puts_(buf, "\n");
				put_sample(buf, famname, "_sum", s->labels, NULL);
				put_double(buf, (double)view->sum_ns / 1e6);
				puts_(buf, "\n");
				put_sample(buf, famname, "_count", s->labels, NULL);
				put_u64(buf, view->count);
				puts_(buf, "\n");
			}
		}
	}
	if (om)
		puts_(buf, "# EOF\n");
	free(view);
	free(order);
	free(starts);
	return buf->failed ? -ENOMEM : 0;
}

int ark_metrics_render_prometheus(const struct ark_metrics *reg, struct ark_buf *buf)
{
	return render_text(reg, buf, false);
}

int ark_metrics_render_openmetrics(const struct ark_metrics *reg, struct ark_buf *buf)
{
	return render_text(reg, buf, true);
}

int ark_metrics_render(const struct ark_metrics *reg, enum ark_metrics_format f, struct ark_buf *buf)
{
	return render_text(reg, buf, f == ARK_METRICS_FORMAT_OPENMETRICS);
}

/* The JSON key of a series: "name", or "name{labels}". */
static const char *series_key(const char *name, const char *labels, char *key, size_t cap)
{
	if (!labels[0])
		return name;
	snprintf(key, cap, "%s{%s}", name, labels);
	return key;
}

/* A histogram over the window: count, sum and quantiles in ms, cumulative
 * buckets at the exposition's `le` values. */
static void json_histogram(struct ark_json *j, const char *key, const struct ark_metrics_hist_view *view)
{
	ark_json_object_begin(j, key);
	ark_json_uint(j, "count", view->count);
	ark_json_number(j, "sum", (double)view->sum_ns / 1e6);
	static const double qs[3] = {0.5, 0.95, 0.99};
	static const char *const qn[3] = {"p50", "p95", "p99"};
	for (int q = 0; q < 3; q++)
		ark_json_number(j, qn[q], ark_metrics_view_quantile_ns(view, qs[q]) / 1e6);
	ark_json_object_begin(j, "buckets");
	uint64_t cum = 0;
	uint32_t b = 0;
	for (int l = 0; l < ARK_METRICS_LE_COUNT; l++) {
		for (; b < le_cut[l]; b++)
			cum += view->buckets[b];
		ark_json_uint(j, le_text[l], cum);
	}
	ark_json_uint(j, "+Inf", view->count);
	ark_json_object_end(j);
	ark_json_object_end(j);
}

int ark_metrics_render_json(const struct ark_metrics *reg, uint64_t window_s, struct ark_buf *buf)
{
	pthread_once(&le_once, le_init);
	uint32_t n = ark_metrics_series_count(reg);
	struct ark_metrics_hist_view *view = malloc(sizeof *view);
	if (!view)
		return -ENOMEM;
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, buf);
	ark_json_object_begin(&j, NULL);
	ark_json_uint(&j, "window_seconds", window_s);
	static const char *const sections[3] = {"counters", "gauges", "histograms"};
	for (uint32_t t = ARK_METRICS_COUNTER; t <= ARK_METRICS_HISTOGRAM; t++) {
		ark_json_object_begin(&j, sections[t - 1]);
		for (uint32_t i = 0; i < n; i++) {
			const struct ark_metrics_series *s = M_SERIES(reg, i);
			if (s->type != t)
				continue;
			const char *name = M_FAMILY(reg, s->family)->name;
			char text[ARK_METRICS_NAME_MAX + ARK_METRICS_LABELS_MAX + 4];
			const char *key = series_key(name, s->labels, text, sizeof text);
			if (t == ARK_METRICS_COUNTER) {
				uint64_t v = ark_metrics_counter_value(reg, i);
				if (seconds_counter(name))
					ark_json_number(&j, key, (double)v / 1e6);
				else
					ark_json_uint(&j, key, v);
			} else if (t == ARK_METRICS_GAUGE) {
				ark_json_number(&j, key, ark_metrics_gauge_value(reg, i));
			} else if (ark_metrics_histogram_window(reg, i, window_s, view) == 0) {
				json_histogram(&j, key, view);
			}
		}
		ark_json_object_end(&j);
	}
	ark_json_object_end(&j);
	ark_json_finish(&j);
	free(view);
	return buf->failed ? -ENOMEM : 0;
}

/* ------------------------------------------------------------ negotiation -- */
static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static bool token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

enum ark_metrics_format ark_metrics_choose_format(const char *accept)
{
	if (!accept)
		return ARK_METRICS_FORMAT_PROMETHEUS;
	double q_om = 0, q_text = 0;
	const char *p = accept;
	while (*p) {
		const char *end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		/* media range: type/subtype, then ;params */
		const char *m = skip_ws(p, end);
		const char *me = m;
		while (me < end && *me != ';' && *me != ' ' && *me != '\t')
			me++;
		double q = 1.0;
		bool version_ok = true;
		const char *param = me;
		while (param < end) {
			const char *semi = memchr(param, ';', (size_t)(end - param));
			if (!semi)
				break;
			const char *k = skip_ws(semi + 1, end);
			const char *next = memchr(k, ';', (size_t)(end - k));
			const char *ve = next ? next : end;
			const char *eq = memchr(k, '=', (size_t)(ve - k));
			if (eq) {
				const char *ke = eq;
				while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
					ke--;
				const char *v = skip_ws(eq + 1, ve);
				const char *vend = ve;
				while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
					vend--;
				if (token_is(k, (size_t)(ke - k), "q")) {
					char tmp[16];
					size_t len = (size_t)(vend - v);
					if (len == 0 || len >= sizeof tmp) {
						q = 0;
					} else {
						memcpy(tmp, v, len);
						tmp[len] = '\0';
						char *te;
						q = strtod(tmp, &te);
						if (*te || !(q >= 0 && q <= 1))
							q = 0;  /* malformed q: ignore this range */
					}
				} else if (token_is(k, (size_t)(ke - k), "version")) {
					version_ok = token_is(v, (size_t)(vend - v), "1.0.0") ||
						     token_is(v, (size_t)(vend - v), "0.0.1");
				}
			}
			param = ve;
		}
		size_t mlen = (size_t)(me - m);
		if (token_is(m, mlen, "application/openmetrics-text")) {
			if (version_ok && q > q_om)
				q_om = q;
		} else if (token_is(m, mlen, "text/plain") || token_is(m, mlen, "text/*") ||
			   token_is(m, mlen, "*/*")) {
			if (q > q_text)
				q_text = q;
		}
		p = *end ? end + 1 : end;
	}
	return q_om > 0 && q_om >= q_text ? ARK_METRICS_FORMAT_OPENMETRICS : ARK_METRICS_FORMAT_PROMETHEUS;
}

const char *ark_metrics_content_type(enum ark_metrics_format f)
{
	return f == ARK_METRICS_FORMAT_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
						   : "text/plain; version=0.0.4; charset=utf-8";
}
