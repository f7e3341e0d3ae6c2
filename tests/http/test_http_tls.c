/* tests/http/test_http_tls.c — the metrics server over TLS with a test CA from
 * make-test-certs.sh: a client trusting the CA gets 200 over HTTP/1.1 and over
 * HTTP/2 (ALPN); a client trusting another CA is refused; with
 * METRICS_TLS_CLIENT_CA a client without a certificate, or with one from
 * another CA, is refused and one with a valid certificate served; basic auth
 * from a bcrypt users file: right password 200, wrong 401, missing 401,
 * unknown user 401, with WWW-Authenticate; bad TLS configuration is refused
 * at create with the variable named. */
#include <crypt.h>

#include "http_test.h"
#include "perf/perf.h"

static char ca[300], cert[300], key[300], ccert[300], ckey[300], ca2[300], ccert2[300], ckey2[300];

static void paths(const char *d1, const char *d2)
{
	snprintf(ca, sizeof(ca), "%s/ca.crt", d1);
	snprintf(cert, sizeof(cert), "%s/server.crt", d1);
	snprintf(key, sizeof(key), "%s/server.key", d1);
	snprintf(ccert, sizeof(ccert), "%s/client.crt", d1);
	snprintf(ckey, sizeof(ckey), "%s/client.key", d1);
	snprintf(ca2, sizeof(ca2), "%s/ca.crt", d2);
	snprintf(ccert2, sizeof(ccert2), "%s/client.crt", d2);
	snprintf(ckey2, sizeof(ckey2), "%s/client.key", d2);
}

static void tls_config(struct ark_http_config *cfg)
{
	test_config(cfg);
	strcpy(cfg->tls_cert, cert);
	strcpy(cfg->tls_key, key);
	cfg->http2 = true;   /* opt-in (METRICS_HTTP2): these tests cover both protocols */
}

static void test_server_tls(void)
{
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	tls_config(&cfg);
	struct test_server ts;
	CHECK_MSG(ts_start(&ts, &cfg, &p) == 0, "%s", ts.err.msg);
	struct resp r;
	/* HTTP/1.1 over TLS, by IP and by name */
	do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca}, &r);
	CHECK_MSG(r.cc == CURLE_OK, "%s", curl_easy_strerror(r.cc));
	CHECK_EQ_U64(r.status, 200);
	CHECK_EQ_U64(r.version, CURL_HTTP_VERSION_1_1);
	CHECK_CONTAINS(r.body, "ark_pass_latency_ms_count 1234");
	resp_free(&r);
	do_req(ts.port, &(struct req){.scheme = "https", .host = "localhost", .path = "/healthz", .cainfo = ca}, &r);
	CHECK_MSG(r.cc == CURLE_OK, "%s", curl_easy_strerror(r.cc));
	CHECK_EQ_U64(r.status, 200);
	resp_free(&r);
	/* HTTP/2 through ALPN */
	do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .http2 = true,
				      .headers = {"Accept-Encoding: gzip"}}, &r);
	CHECK_MSG(r.cc == CURLE_OK, "%s", curl_easy_strerror(r.cc));
	CHECK_EQ_U64(r.status, 200);
	CHECK_EQ_U64(r.version, CURL_HTTP_VERSION_2_0);
	char v[64];
	CHECK(resp_header(&r, "content-length", v, sizeof(v)) && strtoull(v, NULL, 10) == r.len);
	CHECK(resp_header(&r, "content-encoding", v, sizeof(v)) && strcmp(v, "gzip") == 0);
	resp_free(&r);
	do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .http2 = true, .method = "HEAD"}, &r);
	CHECK_EQ_U64(r.status, 200);
	CHECK_EQ_U64(r.len, 0);
	CHECK(resp_header(&r, "content-length", v, sizeof(v)) && strtoull(v, NULL, 10) > 100);
	resp_free(&r);
	do_req(ts.port, &(struct req){.scheme = "https", .path = "/nope", .cainfo = ca, .http2 = true}, &r);
	CHECK_EQ_U64(r.status, 404);
	resp_free(&r);
	/* wrong CA: the client refuses the server */
	do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca2}, &r);
	CHECK_MSG(r.cc == CURLE_PEER_FAILED_VERIFICATION || r.cc == CURLE_SSL_CACERT, "wrong CA: %s",
		  curl_easy_strerror(r.cc));
	CHECK_EQ_U64(r.status, 0);
	resp_free(&r);
	/* the scrape benchmark: real scrapes, and an error (not a figure) with the wrong CA */
	double sps = 0;
	struct ark_err err = {0};
	uint64_t before = atomic_load(&tp.metrics_calls);
	CHECK_MSG(ark_perf_scrapes(ts.port, ca, NULL, NULL, 0.5, &sps, &err) == 0, "%s", err.msg);
	uint64_t done = atomic_load(&tp.metrics_calls) - before;
	CHECK_MSG(sps > 10 && done >= (uint64_t)(sps * 0.4), "%.0f scrapes/s, %llu rendered", sps, (unsigned long long)done);
	printf("  scrapes over TLS (HTTP/1.1 keep-alive): %.0f/s\n", sps);
	CHECK(ark_perf_scrapes(ts.port, ca2, NULL, NULL, 0.2, &sps, &err) < 0 && sps == 0);
	/* plain HTTP to the TLS port gets nothing useful */
	do_req(ts.port, &(struct req){.path = "/metrics"}, &r);
	CHECK(r.cc != CURLE_OK || r.status != 200);
	resp_free(&r);
	ts_stop(&ts);
}

static void test_client_ca(void)
{
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	tls_config(&cfg);
	strcpy(cfg.tls_client_ca, ca);
	struct test_server ts;
	CHECK_MSG(ts_start(&ts, &cfg, &p) == 0, "%s", ts.err.msg);
	struct resp r;
	for (int h2 = 0; h2 < 2; h2++) {
		do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .http2 = h2}, &r);
		CHECK_MSG(r.cc != CURLE_OK && r.status == 0, "no client cert: cc=%d status %ld", r.cc, r.status);
		resp_free(&r);
		do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .http2 = h2,
					      .cert = ccert2, .key = ckey2}, &r);
		CHECK_MSG(r.cc != CURLE_OK && r.status == 0, "client cert from another CA: cc=%d status %ld", r.cc, r.status);
		resp_free(&r);
		do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .http2 = h2,
					      .cert = ccert, .key = ckey}, &r);
		CHECK_MSG(r.cc == CURLE_OK, "%s", curl_easy_strerror(r.cc));
		CHECK_EQ_U64(r.status, 200);
		CHECK_CONTAINS(r.body, "ark_availability 1");
		resp_free(&r);
	}
	ts_stop(&ts);
	CHECK_EQ_U64(ts.stats.status_2xx, 2);
}

static void test_basic_auth(const char *dir)
{
	char users[300];
	snprintf(users, sizeof(users), "%s/users", dir);
	char salt[64];
	CHECK(crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof(salt)));   /* the minimum cost */
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	char *h = crypt_r("s3cret pass", salt, &cd);
	CHECK(h && strncmp(h, "$2b$10$", 7) == 0);
	FILE *f = fopen(users, "w");
	CHECK(f);
	fprintf(f, "# scrapers\n\nprometheus:%s\n", h);
	CHECK(crypt_gensalt_rn("$2y$", 10, NULL, 0, salt, sizeof(salt)));
	memset(&cd, 0, sizeof(cd));
	h = crypt_r("other", salt, &cd);
	CHECK(h && strncmp(h, "$2y$", 4) == 0);
	fprintf(f, "ops:%s\n", h);
	fclose(f);

	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	tls_config(&cfg);
	strcpy(cfg.basic_auth_file, users);
	struct test_server ts;
	CHECK_MSG(ts_start(&ts, &cfg, &p) == 0, "%s", ts.err.msg);
	struct resp r;
	char v[128];
	for (int round = 0; round < 2; round++) { /* the second round hits the success cache */
		do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca,
					      .userpwd = "prometheus:s3cret pass"}, &r);
		CHECK_EQ_U64(r.status, 200);
		CHECK_CONTAINS(r.body, "ark_pass_latency_ms_count");
		resp_free(&r);
	}
	do_req(ts.port, &(struct req){.scheme = "https", .path = "/healthz", .cainfo = ca, .http2 = true,
				      .userpwd = "ops:other"}, &r);
	CHECK_EQ_U64(r.status, 200);
	resp_free(&r);
	const char *bad[] = {"prometheus:s3cret pas", "prometheus:", "ops:s3cret pass", "nobody:s3cret pass",
			     "prometheus:s3cret pass ", NULL};
	for (int i = 0; i <= (int)ARK_ARRAY_LEN(bad) - 1; i++) {
		do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .userpwd = bad[i]}, &r);
		CHECK_MSG(r.status == 401, "%s -> %ld", bad[i] ? bad[i] : "(none)", r.status);
		CHECK(resp_header(&r, "www-authenticate", v, sizeof(v)));
		CHECK_CONTAINS(v, "Basic realm=\"ark-metrics\"");
		CHECK(resp_header(&r, "content-length", v, sizeof(v)) && strtoull(v, NULL, 10) == r.len);
		CHECK_CONTAINS(r.body, "\"error\":\"unauthorized\"");
		CHECK(strstr(r.body, "ark_") == NULL);
		resp_free(&r);
	}
	/* malformed Authorization headers */
	const char *hdrs[] = {"Authorization: Basic", "Authorization: Basic !!!!", "Authorization: Bearer abc",
			      "Authorization: Basic cHJvbWV0aGV1cw==" /* "prometheus", no colon */};
	for (size_t i = 0; i < ARK_ARRAY_LEN(hdrs); i++) {
		do_req(ts.port, &(struct req){.scheme = "https", .path = "/metrics", .cainfo = ca, .headers = {hdrs[i]}}, &r);
		CHECK_MSG(r.status == 401, "%s -> %ld", hdrs[i], r.status);
		resp_free(&r);
	}
	ts_stop(&ts);
	CHECK_EQ_U64(ts.stats.auth_failures, ARK_ARRAY_LEN(bad) + ARK_ARRAY_LEN(hdrs));
}

static void test_bad_config(void)
{
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	struct ark_http_server *srv = NULL;
	struct ark_err err = {0};
	tls_config(&cfg);
	strcpy(cfg.tls_key, ckey); /* key of another certificate */
	CHECK(ark_http_server_create(&srv, &cfg, &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "METRICS_TLS_KEY");
	tls_config(&cfg);
	strcpy(cfg.tls_cert, key); /* not a certificate */
	CHECK(ark_http_server_create(&srv, &cfg, &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "METRICS_TLS_CERT");
	tls_config(&cfg);
	strcpy(cfg.tls_client_ca, "/nonexistent/ca.crt");
	CHECK(ark_http_server_create(&srv, &cfg, &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "METRICS_TLS_CLIENT_CA");
	CHECK(srv == NULL);
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_http_tls make-test-certs.sh");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *d1 = make_certs(argv[1], 0), *d2 = make_certs(argv[1], 1);
	paths(d1, d2);
	test_server_tls();
	test_client_ca();
	test_basic_auth(d1);
	test_bad_config();
	rm_rf(d1);
	rm_rf(d2);
	curl_global_cleanup();
	printf("http tls: OK\n");
	return 0;
}
