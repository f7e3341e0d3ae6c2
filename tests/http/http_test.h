/* tests/http/http_test.h — helpers for the metrics server's tests: a test
 * provider whose counters change on every request, a server running in its
 * own thread (created there: the h2o loop belongs to its thread), a libcurl
 * request helper, raw sockets, and test certificates made by
 * deploy/prometheus/make-test-certs.sh. Header-only (static functions). */
#ifndef ARK_TESTS_HTTP_TEST_H
#define ARK_TESTS_HTTP_TEST_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "http/http.h"

/* ---- test provider ---- */

struct test_provider {
	atomic_uint_fast64_t metrics_calls;
	atomic_uint_fast64_t json_calls;
	atomic_uint_fast64_t pass_count;  /* ark_pass_latency_ms_count */
	atomic_bool healthy, ready, fail;
};

static __attribute__((unused)) int tp_metrics(void *ctx, enum ark_http_format f, struct ark_buf *out)
{
	struct test_provider *tp = ctx;
	if (atomic_load(&tp->fail))
		return -EIO;
	uint64_t n = atomic_fetch_add(&tp->metrics_calls, 1) + 1;
	uint64_t pc = atomic_load(&tp->pass_count);
	ark_buf_printf(out,
		"# HELP ark_pass_latency_ms End-to-end pass latency in milliseconds.\n"
		"# TYPE ark_pass_latency_ms histogram\n"
		"ark_pass_latency_ms_bucket{le=\"1\"} %llu\n"
		"ark_pass_latency_ms_bucket{le=\"+Inf\"} %llu\n"
		"ark_pass_latency_ms_sum %llu.5\n"
		"ark_pass_latency_ms_count %llu\n"
		"# HELP ark_availability Fraction of good events over the SLO window.\n"
		"# TYPE ark_availability gauge\n"
		"ark_availability 1\n",
		(unsigned long long)(pc / 2), (unsigned long long)pc, (unsigned long long)pc,
		(unsigned long long)pc);
	if (f == ARK_HTTP_FORMAT_OPENMETRICS)
		ark_buf_printf(out, "# HELP ark_test_scrapes Scrapes served.\n# TYPE ark_test_scrapes counter\n"
				    "ark_test_scrapes_total %llu\n# EOF\n", (unsigned long long)n);
	else
		ark_buf_printf(out, "# HELP ark_test_scrapes_total Scrapes served.\n# TYPE ark_test_scrapes_total counter\n"
				    "ark_test_scrapes_total %llu\n", (unsigned long long)n);
	return 0;
}

static __attribute__((unused)) int tp_json(void *ctx, struct ark_buf *out)
{
	struct test_provider *tp = ctx;
	uint64_t n = atomic_fetch_add(&tp->json_calls, 1) + 1;
	return ark_buf_printf(out, "{\"counters\":{\"json_calls\":%llu},\"histograms\":{}}\n", (unsigned long long)n);
}

static __attribute__((unused)) int tp_slos(void *ctx, struct ark_buf *out)
{
	struct test_provider *tp = ctx;
	return ark_buf_printf(out, "{\"slos\":[],\"violations\":[],\"calls\":%llu}\n",
				   (unsigned long long)atomic_load(&tp->json_calls));
}

static __attribute__((unused)) int tp_health(void *ctx, struct ark_buf *out, bool *healthy)
{
	struct test_provider *tp = ctx;
	*healthy = atomic_load(&tp->healthy);
	return ark_buf_puts(out, *healthy ? "{\"status\":\"ok\"}\n"
					       : "{\"status\":\"unhealthy\",\"reason\":\"agent joey quarantined\"}\n");
}

static __attribute__((unused)) int tp_ready(void *ctx, struct ark_buf *out, bool *ready)
{
	struct test_provider *tp = ctx;
	*ready = atomic_load(&tp->ready);
	return ark_buf_puts(out, *ready ? "{\"ready\":true}\n" : "{\"ready\":false,\"reason\":\"starting\"}\n");
}

static __attribute__((unused)) void tp_init(struct test_provider *tp, struct ark_http_provider *p)
{
	memset(tp, 0, sizeof(*tp));
	atomic_store(&tp->healthy, true);
	atomic_store(&tp->ready, true);
	atomic_store(&tp->pass_count, 1234);
	*p = (struct ark_http_provider){.ctx = tp, .metrics = tp_metrics, .metrics_json = tp_json,
					.slos_json = tp_slos, .health = tp_health, .ready = tp_ready};
}

/* ---- server in a thread ---- */

struct test_server {
	struct ark_http_config cfg;
	struct ark_http_provider prov;
	pthread_t th;
	atomic_bool stop;
	atomic_int state; /* 0 starting, 1 serving, -1 failed, 2 stopped */
	uint16_t port;
	struct ark_err err;
	struct ark_http_stats stats; /* at stop */
	pthread_mutex_t live_lock;
	struct ark_http_stats live; /* while it runs: copied after each loop pass (ts_live) */
};

static __attribute__((unused)) void *ts_main(void *arg)
{
	struct test_server *ts = arg;
	struct ark_http_server *srv;
	if (ark_http_server_create(&srv, &ts->cfg, &ts->prov, &ts->err) != 0) {
		atomic_store(&ts->state, -1);
		return NULL;
	}
	ts->port = ark_http_server_port(srv);
	atomic_store(&ts->state, 1);
	int rc = 0;
	while (!atomic_load(&ts->stop) && rc == 0) {
		rc = ark_http_server_poll(srv, 10);
		pthread_mutex_lock(&ts->live_lock);
		ark_http_server_stats(srv, &ts->live);
		pthread_mutex_unlock(&ts->live_lock);
	}
	/* clients have closed: the server must notice within a bounded time */
	uint64_t deadline = ark_now_ns() + 3000000000ull;
	do {
		ark_http_server_poll(srv, 10);
		ark_http_server_stats(srv, &ts->stats);
	} while (ts->stats.connections_open > 0 && ark_now_ns() < deadline);
	ark_http_server_destroy(srv);
	atomic_store(&ts->state, rc ? -1 : 2);
	return NULL;
}

/* Returns 0 when serving, else the create error (message in ts->err). */
static __attribute__((unused)) int ts_start(struct test_server *ts, const struct ark_http_config *cfg, const struct ark_http_provider *p)
{
	memset(ts, 0, sizeof(*ts));
	pthread_mutex_init(&ts->live_lock, NULL);
	ts->cfg = *cfg;
	ts->prov = *p;
	CHECK(pthread_create(&ts->th, NULL, ts_main, ts) == 0);
	while (atomic_load(&ts->state) == 0)
		usleep(1000);
	if (atomic_load(&ts->state) < 0) {
		pthread_join(ts->th, NULL);
		return ts->err.code ? ts->err.code : -1;
	}
	return 0;
}

/* The server's counters now (as of its last loop pass). */
static __attribute__((unused)) struct ark_http_stats ts_live(struct test_server *ts)
{
	pthread_mutex_lock(&ts->live_lock);
	struct ark_http_stats s = ts->live;
	pthread_mutex_unlock(&ts->live_lock);
	return s;
}

static __attribute__((unused)) void ts_stop(struct test_server *ts)
{
	atomic_store(&ts->stop, true);
	pthread_join(ts->th, NULL);
	CHECK_MSG(atomic_load(&ts->state) == 2, "server loop failed");
	CHECK_EQ_U64(ts->stats.connections_open, 0);
}

static __attribute__((unused)) void test_config(struct ark_http_config *cfg)
{
	ark_http_config_default(cfg);
	cfg->port = 0;
	cfg->request_timeout_ms = 2000;
}

/* ---- libcurl client ---- */

struct req {
	const char *method;     /* "GET" default, "HEAD", or any custom */
	const char *scheme;     /* "http" default */
	const char *host;       /* "127.0.0.1" default */
	const char *path;
	const char *headers[4]; /* raw "Name: value" */
	const char *cainfo, *cert, *key, *userpwd;
	bool http2;
};

struct resp {
	CURLcode cc;
	long status;
	long version; /* CURL_HTTP_VERSION_1_1 / _2_0 */
	char *body;
	size_t len;
	char head[8192];
	size_t hlen;
};

static __attribute__((unused)) size_t resp_body_cb(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t m = size * n;
	char *nb = realloc(r->body, r->len + m + 1);
	CHECK(nb);
	r->body = nb;
	memcpy(r->body + r->len, p, m);
	r->len += m;
	r->body[r->len] = '\0';
	return m;
}

static __attribute__((unused)) size_t resp_head_cb(char *p, size_t size, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t m = size * n;
	if (r->hlen + m < sizeof(r->head) - 1) {
		memcpy(r->head + r->hlen, p, m);
		r->hlen += m;
		r->head[r->hlen] = '\0';
	}
	return m;
}

static __attribute__((unused)) void resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static __attribute__((unused)) void do_req(uint16_t port, const struct req *q, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	CURL *c = curl_easy_init();
	CHECK(c);
	char url[1024];
	snprintf(url, sizeof(url), "%s://%s:%u%s", q->scheme ? q->scheme : "http", q->host ? q->host : "127.0.0.1",
		 port, q->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, resp_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, resp_head_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	const char *m = q->method ? q->method : "GET";
	if (strcmp(m, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(m, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	struct curl_slist *hl = NULL;
	for (int i = 0; i < 4 && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (q->cainfo) {
		curl_easy_setopt(c, CURLOPT_CAINFO, q->cainfo);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	if (q->cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, q->cert);
	if (q->key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, q->key);
	if (q->userpwd) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, q->userpwd);
	}
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, q->http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
	r->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r->version);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

/* Value of response header `name` (case-insensitive) into out; false if absent. */
static __attribute__((unused)) bool resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = r->head;
	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = (size_t)(p + ll - v);
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		p = eol ? eol + 2 : NULL;
	}
	return false;
}

/* ---- raw sockets ---- */

static __attribute__((unused)) int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_MSG(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s", strerror(errno));
	return fd;
}

/* Read until EOF/error or timeout; returns bytes read (into buf, NUL-terminated),
 * *closed set when the peer closed (EOF or reset). */
static __attribute__((unused)) size_t raw_read_until_close(int fd, char *buf, size_t cap, int timeout_ms, bool *closed)
{
	size_t n = 0;
	*closed = false;
	uint64_t deadline = ark_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (ark_now_ns() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left = (int)((deadline - ark_now_ns()) / 1000000ull) + 1;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		char tmp[4096];
		ssize_t m = recv(fd, tmp, sizeof(tmp), 0);
		if (m <= 0) {
			*closed = true;
			break;
		}
		size_t take = ARK_MIN((size_t)m, cap - 1 - n);
		memcpy(buf + n, tmp, take);
		n += take;
	}
	buf[n] = '\0';
	return n;
}

/* ---- certificates ---- */

/* Runs make-test-certs.sh into a fresh temp dir; returns the dir (static storage per slot). */
static __attribute__((unused)) const char *make_certs(const char *script, int slot)
{
	static char dirs[4][256];
	snprintf(dirs[slot], sizeof(dirs[slot]), "/tmp/ark-http-test-XXXXXX");
	CHECK(mkdtemp(dirs[slot]));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >/dev/null", script, dirs[slot]);
	CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
	return dirs[slot];
}

static __attribute__((unused)) void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

#endif
