/* tests/http/test_http_plain.c — the metrics server over plain HTTP on
 * loopback with a provider whose counters change per request: each route's
 * status, Content-Type and Content-Length, Accept negotiation (text 0.0.4 vs
 * OpenMetrics), gzip (decompressed and compared), HEAD, 404, 405 with Allow,
 * 503 from /healthz and /readyz, 500 when the provider fails, and
 * METRICS_SERVER_ENABLED=false refusing to create a server. */
#include <zlib.h>

#include "http_test.h"

static uint16_t port;

static void expect_len(const struct resp *r, size_t want)
{
	char v[64];
	CHECK_MSG(resp_header(r, "content-length", v, sizeof(v)), "no Content-Length in:\n%s", r->head);
	CHECK_MSG(strtoull(v, NULL, 10) == want, "Content-Length %s, expected %zu", v, want);
}

static void expect_ctype(const struct resp *r, const char *want)
{
	char v[256];
	CHECK_MSG(resp_header(r, "content-type", v, sizeof(v)), "no Content-Type in:\n%s", r->head);
	CHECK_MSG(strcmp(v, want) == 0, "Content-Type '%s', expected '%s'", v, want);
}

static unsigned long long scrapes_in(const char *body)
{
	const char *p = strstr(body, "\nark_test_scrapes_total ");
	CHECK_MSG(p, "no ark_test_scrapes_total in:\n%s", body);
	return strtoull(p + strlen("\nark_test_scrapes_total "), NULL, 10);
}

static void test_routes(struct test_provider *tp)
{
	struct resp r;
	/* /metrics, default text format, counter moves between requests */
	do_req(port, &(struct req){.path = "/metrics"}, &r);
	CHECK_MSG(r.cc == CURLE_OK, "%s", curl_easy_strerror(r.cc));
	CHECK_EQ_U64(r.status, 200);
	expect_ctype(&r, "text/plain; version=0.0.4; charset=utf-8");
	expect_len(&r, r.len);
	CHECK_CONTAINS(r.body, "ark_pass_latency_ms_count 1234\n");
	CHECK(strstr(r.body, "# EOF") == NULL);
	unsigned long long first = scrapes_in(r.body);
	resp_free(&r);
	atomic_store(&tp->pass_count, 5678);
	do_req(port, &(struct req){.path = "/metrics"}, &r);
	CHECK_EQ_U64(r.status, 200);
	CHECK_EQ_U64(scrapes_in(r.body), first + 1);
	CHECK_CONTAINS(r.body, "ark_pass_latency_ms_count 5678\n");
	resp_free(&r);

	/* query strings do not change the route */
	do_req(port, &(struct req){.path = "/metrics?x=1"}, &r);
	CHECK_EQ_U64(r.status, 200);
	resp_free(&r);

	/* JSON routes */
	do_req(port, &(struct req){.path = "/metrics/json"}, &r);
	CHECK_EQ_U64(r.status, 200);
	expect_ctype(&r, "application/json");
	expect_len(&r, r.len);
	CHECK_CONTAINS(r.body, "{\"counters\":{\"json_calls\":1}");
	resp_free(&r);
	do_req(port, &(struct req){.path = "/metrics/json"}, &r);
	CHECK_CONTAINS(r.body, "{\"counters\":{\"json_calls\":2}");
	resp_free(&r);
	do_req(port, &(struct req){.path = "/slos"}, &r);
	CHECK_EQ_U64(r.status, 200);
	expect_ctype(&r, "application/json");
	CHECK_CONTAINS(r.body, "\"violations\":[]");
	resp_free(&r);

	/* health and readiness, both ways */
	do_req(port, &(struct req){.path = "/healthz"}, &r);
	CHECK_EQ_U64(r.status, 200);
	expect_ctype(&r, "application/json");
	expect_len(&r, r.len);
	CHECK_CONTAINS(r.body, "\"ok\"");
	resp_free(&r);
	atomic_store(&tp->healthy, false);
	do_req(port, &(struct req){.path = "/healthz"}, &r);
	CHECK_EQ_U64(r.status, 503);
	CHECK_CONTAINS(r.body, "\"reason\":\"agent joey quarantined\"");
	expect_len(&r, r.len);
	resp_free(&r);
	atomic_store(&tp->healthy, true);
	do_req(port, &(struct req){.path = "/healthz"}, &r);
	CHECK_EQ_U64(r.status, 200);
	resp_free(&r);
	do_req(port, &(struct req){.path = "/readyz"}, &r);
	CHECK_EQ_U64(r.status, 200);
	resp_free(&r);
	atomic_store(&tp->ready, false);
	do_req(port, &(struct req){.path = "/readyz"}, &r);
	CHECK_EQ_U64(r.status, 503);
	CHECK_CONTAINS(r.body, "\"ready\":false");
	resp_free(&r);
	atomic_store(&tp->ready, true);
}

static void test_negotiation(void)
{
	struct resp r;
	/* what Prometheus 2.x sends: OpenMetrics preferred */
	do_req(port, &(struct req){.path = "/metrics", .headers = {
		"Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
		"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}}, &r);
	CHECK_EQ_U64(r.status, 200);
	expect_ctype(&r, "application/openmetrics-text; version=1.0.0; charset=utf-8");
	expect_len(&r, r.len);
	CHECK_CONTAINS(r.body, "# EOF\n");
	resp_free(&r);
	/* text preferred over OpenMetrics */
	do_req(port, &(struct req){.path = "/metrics", .headers = {
		"Accept: application/openmetrics-text;q=0.3, text/plain;version=0.0.4;q=0.9"}}, &r);
	expect_ctype(&r, "text/plain; version=0.0.4; charset=utf-8");
	resp_free(&r);
	/* OpenMetrics refused */
	do_req(port, &(struct req){.path = "/metrics", .headers = {"Accept: application/openmetrics-text;q=0"}}, &r);
	expect_ctype(&r, "text/plain; version=0.0.4; charset=utf-8");
	resp_free(&r);
	/* anything → text */
	do_req(port, &(struct req){.path = "/metrics", .headers = {"Accept: */*"}}, &r);
	expect_ctype(&r, "text/plain; version=0.0.4; charset=utf-8");
	resp_free(&r);
}

static void gunzip(const char *in, size_t n, char *out, size_t cap, size_t *outlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	CHECK(inflateInit2(&zs, 15 + 16) == Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	CHECK_MSG(inflate(&zs, Z_FINISH) == Z_STREAM_END, "not a complete gzip stream");
	*outlen = cap - zs.avail_out;
	inflateEnd(&zs);
}

static void test_gzip(struct test_provider *tp)
{
	struct resp r;
	do_req(port, &(struct req){.path = "/metrics", .headers = {"Accept-Encoding: gzip"}}, &r);
	CHECK_EQ_U64(r.status, 200);
	char v[64];
	CHECK_MSG(resp_header(&r, "content-encoding", v, sizeof(v)) && strcmp(v, "gzip") == 0, "%s", r.head);
	expect_len(&r, r.len);
	CHECK(r.len >= 18 && (unsigned char)r.body[0] == 0x1f && (unsigned char)r.body[1] == 0x8b);
	static char plain[65536];
	size_t pl;
	gunzip(r.body, r.len, plain, sizeof(plain), &pl);
	plain[pl] = '\0';
	unsigned long long n = scrapes_in(plain);
	/* the same render, uncompressed, by hand: only the scrape count differs */
	struct ark_buf b;
	ark_buf_init(&b);
	atomic_store(&tp->metrics_calls, n - 1);
	tp_metrics(tp, ARK_HTTP_FORMAT_PROMETHEUS, &b);
	CHECK_EQ_U64(b.len, pl);
	CHECK(memcmp(b.data, plain, pl) == 0);
	ark_buf_free(&b);
	resp_free(&r);
	/* gzip refused with q=0 → identity */
	do_req(port, &(struct req){.path = "/metrics", .headers = {"Accept-Encoding: gzip;q=0, identity"}}, &r);
	CHECK(!resp_header(&r, "content-encoding", v, sizeof(v)));
	CHECK_CONTAINS(r.body, "ark_pass_latency_ms_count");
	resp_free(&r);
	/* JSON gzip too */
	do_req(port, &(struct req){.path = "/healthz", .headers = {"Accept-Encoding: br, gzip"}}, &r);
	gunzip(r.body, r.len, plain, sizeof(plain), &pl);
	plain[pl] = '\0';
	CHECK_CONTAINS(plain, "\"status\":\"ok\"");
	resp_free(&r);
}

static void test_head_404_405_500(struct test_provider *tp)
{
	struct resp r, g;
	do_req(port, &(struct req){.path = "/metrics"}, &g);
	do_req(port, &(struct req){.path = "/metrics", .method = "HEAD"}, &r);
	CHECK_EQ_U64(r.status, 200);
	CHECK_EQ_U64(r.len, 0);
	expect_ctype(&r, "text/plain; version=0.0.4; charset=utf-8");
	expect_len(&r, g.len); /* same length as the GET (the counter has the same digit count) */
	resp_free(&r);
	resp_free(&g);

	const char *unknown[] = {"/", "/metric", "/metrics/", "/metrics/jsonx", "/../etc/passwd", "/healthz/x"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(unknown); i++) {
		do_req(port, &(struct req){.path = unknown[i]}, &r);
		CHECK_MSG(r.status == 404, "%s -> %ld", unknown[i], r.status);
		expect_ctype(&r, "application/json");
		expect_len(&r, r.len);
		CHECK_CONTAINS(r.body, "\"error\":\"not found\"");
		resp_free(&r);
	}
	const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(methods); i++) {
		do_req(port, &(struct req){.path = "/metrics", .method = methods[i]}, &r);
		CHECK_MSG(r.status == 405, "%s -> %ld", methods[i], r.status);
		char v[64];
		CHECK(resp_header(&r, "allow", v, sizeof(v)) && strcmp(v, "GET, HEAD") == 0);
		expect_len(&r, r.len);
		CHECK_CONTAINS(r.body, "\"error\":\"method not allowed\"");
		resp_free(&r);
	}
	atomic_store(&tp->fail, true);
	do_req(port, &(struct req){.path = "/metrics"}, &r);
	CHECK_EQ_U64(r.status, 500);
	CHECK_CONTAINS(r.body, "\"error\":\"provider failed\"");
	resp_free(&r);
	atomic_store(&tp->fail, false);
}

static void test_missing_callbacks(void)
{
	struct test_server ts;
	struct ark_http_config cfg;
	test_config(&cfg);
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	p.slos_json = NULL;
	CHECK(ts_start(&ts, &cfg, &p) == 0);
	struct resp r;
	do_req(ts.port, &(struct req){.path = "/slos"}, &r);
	CHECK_EQ_U64(r.status, 404);
	resp_free(&r);
	ts_stop(&ts);
}

static void test_disabled(void)
{
	struct ark_http_config cfg;
	test_config(&cfg);
	cfg.enabled = false;
	struct ark_http_server *srv = NULL;
	struct ark_err err = {0};
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	CHECK(ark_http_server_create(&srv, &cfg, &p, &err) < 0);
	CHECK(srv == NULL);
	CHECK_CONTAINS(err.msg, "METRICS_SERVER_ENABLED");
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	test_config(&cfg);
	struct test_server ts;
	int rc = ts_start(&ts, &cfg, &p);
	CHECK_MSG(rc == 0, "%s", ts.err.msg);
	port = ts.port;
	CHECK(port != 0);
	test_routes(&tp);
	test_negotiation();
	test_gzip(&tp);
	test_head_404_405_500(&tp);
	ts_stop(&ts);
	CHECK(ts.stats.requests >= 30);
	CHECK(ts.stats.status_4xx >= 11);
	test_missing_callbacks();
	test_disabled();
	curl_global_cleanup();
	printf("http plain: OK\n");
	return 0;
}
