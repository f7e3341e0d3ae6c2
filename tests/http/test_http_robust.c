/* tests/http/test_http_robust.c — nothing a client sends crashes or stalls
 * the metrics server: a flood of garbage bytes (HTTP/1, HTTP/2 preface, TLS),
 * half-open connections up to and past max_connections (extra ones closed at
 * once, idle ones timed out), oversized and too many headers, and a slowloris
 * client (closed after request_timeout_ms although it keeps sending, while
 * others are served). After each, /healthz still answers 200. What must
 * happen is waited for with generous deadlines (a loaded machine and a
 * sanitizer build are slow); what must happen first is checked by order,
 * not by a time bound: an extra connection is refused while the idle ones
 * are still open, and /healthz is answered while the slowloris is still
 * connected. How fast the server answers is `ark perf`'s business.
 * Everything opened is closed. */
#include <fcntl.h>

#include "http_test.h"

#define TIMEOUT_MS 3000
#define MAX_CONN 16
#define WAIT_MS 60000   /* deadline for what must happen */

static void healthz_ok(uint16_t port, const char *scheme, const char *ca, const char *after)
{
	struct resp r;
	do_req(port, &(struct req){.scheme = scheme, .path = "/healthz", .cainfo = ca}, &r);
	CHECK_MSG(r.cc == CURLE_OK && r.status == 200, "after %s: /healthz cc=%s status %ld", after,
		  curl_easy_strerror(r.cc), r.status);
	resp_free(&r);
}

/* Whether the server has closed fd (without waiting). */
static bool peer_closed(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};
	if (poll(&pfd, 1, 0) <= 0)
		return false;
	char c;
	return (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) || recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void send_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t m = send(fd, p, n, MSG_NOSIGNAL);
		if (m <= 0)
			return; /* the server may close on us: fine */
		p = (const char *)p + m;
		n -= (size_t)m;
	}
}

static void garbage_flood(uint16_t port, int conns, const char *prefix)
{
	char buf[4096];
	for (int i = 0; i < conns; i++) {
		int fd = raw_connect(port);
		size_t pl = prefix ? strlen(prefix) : 0;
		if (pl)
			memcpy(buf, prefix, pl);
		for (size_t j = pl; j < sizeof(buf); j++)
			buf[j] = (char)xorshift();
		send_all(fd, buf, (size_t)(xorshift() % sizeof(buf)) + pl + 1 > sizeof(buf) ? sizeof(buf)
											 : (size_t)(xorshift() % sizeof(buf)) + pl + 1);
		if (i % 4 == 0) { /* wait for the verdict on some, drop the rest at once */
			char in[512];
			bool closed;
			raw_read_until_close(fd, in, sizeof(in), WAIT_MS, &closed);
			CHECK_MSG(closed, "garbage connection %d not closed by the server", i);
			CHECK(strstr(in, " 200 ") == NULL);
		}
		close(fd);
	}
}

static void test_plain(void)
{
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	test_config(&cfg);
	cfg.request_timeout_ms = TIMEOUT_MS;
	cfg.max_connections = MAX_CONN;
	cfg.max_connections_per_address = MAX_CONN;   /* the total cap, from one address (the per-address one: tests/security) */
	struct test_server ts;
	CHECK_MSG(ts_start(&ts, &cfg, &p) == 0, "%s", ts.err.msg);
	uint16_t port = ts.port;
	healthz_ok(port, NULL, NULL, "start");

	garbage_flood(port, 200, NULL);
	healthz_ok(port, NULL, NULL, "garbage flood");
	garbage_flood(port, 50, "GET /metrics HTTP/1.1\r\nHost: x\r\n");
	healthz_ok(port, NULL, NULL, "garbage after a request line");
	garbage_flood(port, 50, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	healthz_ok(port, NULL, NULL, "garbage after the HTTP/2 preface");

	/* half-open: connections that never send a byte, below the limit */
	int idle[MAX_CONN + 8];
	for (int i = 0; i < MAX_CONN / 2; i++)
		idle[i] = raw_connect(port);
	healthz_ok(port, NULL, NULL, "half-open connections");
	/* past the limit: the extra connections are closed at once */
	for (int i = MAX_CONN / 2; i < MAX_CONN + 8; i++)
		idle[i] = raw_connect(port);
	char in[256];
	bool closed;
	raw_read_until_close(idle[MAX_CONN + 7], in, sizeof(in), WAIT_MS, &closed);
	CHECK_MSG(closed, "a connection past max_connections was kept open");
	/* at once: before the idle ones below the limit time out */
	CHECK_MSG(!peer_closed(idle[0]), "the connection past the limit was closed only by the request timeout");
	/* and the idle ones are timed out: then the server serves again */
	raw_read_until_close(idle[0], in, sizeof(in), WAIT_MS, &closed);
	CHECK_MSG(closed, "an idle connection outlived request_timeout_ms");
	for (int i = 0; i < MAX_CONN + 8; i++)
		close(idle[i]);
	healthz_ok(port, NULL, NULL, "connection limit");

	/* oversized headers: one 64 KiB header (431 from the server's own limit),
	 * one of 600 KiB (past h2o's limit), then very many headers */
	static char big[700000];
	int n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'a', 65536);
	n += 65536;
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n\r\n");
	int fd = raw_connect(port);
	send_all(fd, big, (size_t)n);
	raw_read_until_close(fd, in, sizeof(in), 3000, &closed);
	CHECK_MSG(strncmp(in, "HTTP/1.1 431 ", 13) == 0, "64 KiB header: '%.60s'", in);
	close(fd);
	n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + n, 'a', 600000);
	n += 600000;
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n\r\n");
	fd = raw_connect(port);
	send_all(fd, big, (size_t)n);
	raw_read_until_close(fd, in, sizeof(in), 3000, &closed);
	CHECK_MSG(closed || strncmp(in, "HTTP/1.1 4", 10) == 0, "600 KiB header: '%.60s'", in);
	CHECK_MSG(strstr(in, " 200 ") == NULL, "600 KiB header answered 200");
	close(fd);
	n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 500; i++)
		n += snprintf(big + n, sizeof(big) - (size_t)n, "X-H%d: v\r\n", i);
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
	fd = raw_connect(port);
	send_all(fd, big, (size_t)n);
	raw_read_until_close(fd, in, sizeof(in), 3000, &closed);
	CHECK_MSG(strstr(in, " 200 ") == NULL, "500 headers answered 200");
	close(fd);
	healthz_ok(port, NULL, NULL, "oversized headers");

	/* slowloris: one header byte every 100 ms; the server hangs up after the
	 * request timeout although bytes keep coming, and serves others while
	 * the slowloris is still connected */
	fd = raw_connect(port);
	send_all(fd, "GET /healthz HTTP/1.1\r\n", 23);
	uint64_t t0 = ark_now_ns();
	closed = false;
	int sent = 0, served_meanwhile = 0;
	while (!closed && ark_now_ns() - t0 < (uint64_t)WAIT_MS * 1000000ull) {
		if (send(fd, "X", 1, MSG_NOSIGNAL) != 1)
			break;
		sent++;
		if (sent % 3 == 0) {
			healthz_ok(port, NULL, NULL, "slowloris in progress");
			served_meanwhile += !peer_closed(fd);
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 100) > 0) {
			ssize_t m = recv(fd, in, sizeof(in), 0);
			if (m <= 0)
				closed = true;
			else
				CHECK_MSG(strstr(in, " 200 ") == NULL, "slowloris request answered 200");
		}
	}
	CHECK_MSG(closed || sent == 0 || send(fd, "X", 1, MSG_NOSIGNAL) != 1,
		  "a slowloris sending a byte every 100 ms was never closed (request timeout %d ms, waited %d ms)",
		  TIMEOUT_MS, WAIT_MS);
	CHECK_MSG(served_meanwhile > 0, "/healthz was never answered while the slowloris was connected");
	close(fd);
	healthz_ok(port, NULL, NULL, "slowloris");

	ts_stop(&ts);
	CHECK(ts.stats.connections_refused >= 8);
	printf("  plain: %llu connections accepted, %llu refused, %llu requests\n",
	       (unsigned long long)ts.stats.connections_accepted, (unsigned long long)ts.stats.connections_refused,
	       (unsigned long long)ts.stats.requests);
}

static void test_tls(const char *dir)
{
	char ca[300];
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	test_config(&cfg);
	cfg.request_timeout_ms = TIMEOUT_MS;
	cfg.max_connections = MAX_CONN;
	cfg.max_connections_per_address = MAX_CONN;   /* the total cap, from one address (the per-address one: tests/security) */
	snprintf(cfg.tls_cert, sizeof(cfg.tls_cert), "%s/server.crt", dir);
	snprintf(cfg.tls_key, sizeof(cfg.tls_key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	struct test_server ts;
	CHECK_MSG(ts_start(&ts, &cfg, &p) == 0, "%s", ts.err.msg);
	healthz_ok(ts.port, "https", ca, "TLS start");
	garbage_flood(ts.port, 100, NULL);
	/* a ClientHello-looking prefix followed by garbage */
	garbage_flood(ts.port, 50, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	healthz_ok(ts.port, "https", ca, "TLS garbage flood");
	/* a half-open TLS connection (no ClientHello) is dropped after the handshake timeout */
	int fd = raw_connect(ts.port);
	char in[64];
	bool closed;
	raw_read_until_close(fd, in, sizeof(in), WAIT_MS, &closed);
	CHECK_MSG(closed, "half-open TLS connection not closed by the handshake timeout");
	close(fd);
	healthz_ok(ts.port, "https", ca, "TLS half-open");
	ts_stop(&ts);
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_http_robust make-test-certs.sh");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_plain();
	const char *d = make_certs(argv[1], 0);
	test_tls(d);
	rm_rf(d);
	curl_global_cleanup();
	printf("http robust: OK\n");
	return 0;
}
