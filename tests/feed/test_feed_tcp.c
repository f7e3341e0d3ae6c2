/* tests/feed/test_feed_tcp.c — the feed as a server: real TCP clients on
 * loopback, an ephemeral port each run.
 *
 *   good callback|ring  many clients at once, lines split at every byte
 *                       boundary, CRLF, with and without ts: every tick
 *                       arrives exactly as sent, in each client's order
 *   limits              max_connections: the excess is told why and closed,
 *                       the others keep working, a freed slot is reused
 *   stop                clean stop delivers what was received, counts what
 *                       it could not, closes clients and the listener
 *   env                 ARK_FEED_* parsing and configuration errors
 *   no_io_uring         io_uring blocked by seccomp: a clear error */
#include "feed_test_util.h"

#include <linux/filter.h>
#include <math.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* ---- good ---- */

enum send_mode { MODE_CHUNKS, MODE_BYTES, MODE_CRLF, MODE_NO_TS };

struct plan {
	int id;
	enum send_mode mode;
	uint16_t port;
	char symbol[16];
	int lines;
	double *price, *size;
	uint64_t *ts;
	size_t bytes;
};

static void *sender_main(void *arg)
{
	struct plan *p = arg;
	size_t cap = (size_t)p->lines * 128 + 16, n = 0;
	char *text = malloc(cap);
	CHECK(text);
	for (int i = 0; i < p->lines; i++) {
		if (p->mode == MODE_NO_TS)
			n += (size_t)snprintf(text + n, cap - n, "{\"symbol\":\"%s\",\"price\":%.17g,\"size\":%.17g}\n",
					      p->symbol, p->price[i], p->size[i]);
		else
			n += (size_t)format_tick(text + n, cap - n, p->symbol, p->price[i], p->size[i], p->ts[i]);
		if (p->mode == MODE_CRLF)
			text[n++] = '\r';
		if (p->mode != MODE_NO_TS)
			text[n++] = '\n';
	}
	p->bytes = n;
	int fd = client_connect(p->port);
	unsigned seed = (unsigned)p->id * 7919u + 1;
	for (size_t off = 0; off < n;) {
		size_t chunk = p->mode == MODE_BYTES ? 1 : 1 + (size_t)(rand_r(&seed) % 300);
		chunk = ARK_MIN(chunk, n - off);
		send_all(fd, text + off, chunk);
		off += chunk;
		if (p->mode != MODE_BYTES && rand_r(&seed) % 16 == 0)
			sleep_ms(1);  /* let the feed see the stream in pieces */
	}
	close(fd);
	free(text);
	return NULL;
}

static void test_good(bool ring_mode)
{
	enum { CLIENTS = 8 };
	struct collector got;
	struct ark_feed_config cfg;
	struct consumer consumer;
	struct ark_ring *ring = feed_setup(&cfg, &got, ring_mode, 1024, &consumer, false);
	struct runner r;
	uint64_t t0 = ark_now_ns(), rt0 = ark_realtime_ns();
	runner_start(&r, &cfg);

	struct plan plans[CLIENTS];
	pthread_t threads[CLIENTS];
	int lines = (int)test_scaled(3000, 300);
	uint64_t total = 0;
	srand48(3);
	for (int c = 0; c < CLIENTS; c++) {
		struct plan *p = &plans[c];
		memset(p, 0, sizeof *p);
		p->id = c;
		p->mode = c == 0 ? MODE_BYTES : c == 1 ? MODE_CRLF : c == 2 ? MODE_NO_TS : MODE_CHUNKS;
		p->port = ark_feed_port(r.feed);
		snprintf(p->symbol, sizeof p->symbol, "C%d.X_%d-Z", c, c * 11);
		p->lines = p->mode == MODE_BYTES ? (int)test_scaled(400, 100) : lines;
		p->price = malloc(sizeof(double) * (size_t)p->lines);
		p->size = malloc(sizeof(double) * (size_t)p->lines);
		p->ts = malloc(sizeof(uint64_t) * (size_t)p->lines);
		CHECK(p->price && p->size && p->ts);
		for (int i = 0; i < p->lines; i++) {
			p->price[i] = 100.0 + c + i * 0.01 + drand48() * 1e-9;  /* increasing: order is visible */
			p->size[i] = (i % 5 == 0) ? 0 : floor(drand48() * 10000) / 4;
			p->ts[i] = test_ts_base() + (uint64_t)c * 1000000000ull + (uint64_t)i;
		}
		total += (uint64_t)p->lines;
	}
	for (int c = 0; c < CLIENTS; c++)
		CHECK(pthread_create(&threads[c], NULL, sender_main, &plans[c]) == 0);
	uint64_t bytes = 0;
	for (int c = 0; c < CLIENTS; c++) {
		CHECK(pthread_join(threads[c], NULL) == 0);
		bytes += plans[c].bytes;
	}
	struct ark_feed_counters k;
	WAIT_UNTIL(r.feed, k, k.ticks == total && k.connections_closed == CLIENTS, 20000);
	if (ring_mode) {
		uint64_t deadline = ark_now_ns() + 10000000000ull;
		while (collector_count(&got) < total && ark_now_ns() < deadline)
			sleep_ms(1);
	}
	runner_stop(&r);
	if (ring_mode)
		consumer_stop(&consumer);
	uint64_t t1 = ark_now_ns(), rt1 = ark_realtime_ns();

	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.lines, total);
	CHECK_EQ_U64(k.ticks, total);
	CHECK_EQ_U64(k.bad, 0);
	CHECK_EQ_U64(k.bytes, bytes);
	CHECK_EQ_U64(k.connections_accepted, CLIENTS);
	CHECK_EQ_U64(k.connections_open, 0);
	CHECK_EQ_U64(k.abandoned_at_stop, 0);
	CHECK_EQ_U64(got.count, total);

	/* Delivery order is source_seq order; each client's ticks in its order,
	 * every field exactly as sent. */
	int next[CLIENTS] = {0};
	for (size_t i = 0; i < got.count; i++) {
		const struct ark_tick *t = &got.ticks[i];
		CHECK_EQ_U64(t->source_seq, i + 1);
		CHECK(t->source == ARK_SOURCE_TCP && t->flags == 0 && t->lane == 0 && t->injected_kind == 0);
		CHECK(t->received_ns >= t0 && t->received_ns <= t1);
		int c = -1;
		for (int j = 0; j < CLIENTS; j++)
			if (strcmp(t->symbol, plans[j].symbol) == 0)
				c = j;
		CHECK_MSG(c >= 0, "unexpected symbol '%.16s'", t->symbol);
		struct plan *p = &plans[c];
		int n = next[c]++;
		CHECK(n < p->lines);
		CHECK_MSG(same_double(t->price, p->price[n]) && same_double(t->size, p->size[n]),
			  "client %d line %d: price %.17g size %.17g, sent %.17g %.17g", c, n, t->price, t->size,
			  p->price[n], p->size[n]);
		if (p->mode == MODE_NO_TS)
			CHECK(t->exchange_time_ns >= rt0 && t->exchange_time_ns <= rt1);
		else
			CHECK_EQ_U64(t->exchange_time_ns, p->ts[n]);
	}
	for (int c = 0; c < CLIENTS; c++) {
		CHECK_EQ_U64(next[c], plans[c].lines);
		free(plans[c].price);
		free(plans[c].size);
		free(plans[c].ts);
	}
	CHECK(log_count(&got, " info feed listening ", "port=") == 1);
	CHECK(log_count(&got, " info feed connection accepted ", "peer=127.0.0.1:") == CLIENTS);
	CHECK(log_count(&got, " info feed stopped ", "ticks=") == 1);
	ark_feed_destroy(r.feed);
	free(ring);
	collector_free(&got);
	printf("feed good (%s): %" PRIu64 " ticks from %d clients exact\n", ring_mode ? "ring" : "callback", total,
	       CLIENTS);
}

/* ---- limits ---- */

static void test_limits(void)
{
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	cfg.max_connections = 3;
	struct runner r;
	runner_start(&r, &cfg);
	uint16_t port = ark_feed_port(r.feed);
	struct ark_feed_counters k;

	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = client_connect(port);
	WAIT_UNTIL(r.feed, k, k.connections_accepted == 3, 5000);
	int extra = client_connect(port);  /* the kernel accepts; the feed refuses */
	char reply[256];
	CHECK(read_until_closed(extra, reply, sizeof reply));
	CHECK_CONTAINS(reply, "{\"error\":\"too many connections\",\"max_connections\":3}\n");
	close(extra);
	WAIT_UNTIL(r.feed, k, k.connections_refused == 1, 5000);
	CHECK(log_count(&got, " warn feed connection refused ", "max_connections=3") == 1);

	char line[128];
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof line, "{\"symbol\":\"L%d\",\"price\":1,\"size\":%d}\n", i, i);
		send_str(fds[i], line);
	}
	WAIT_UNTIL(r.feed, k, k.ticks == 3, 5000);
	close(fds[0]);
	WAIT_UNTIL(r.feed, k, k.connections_closed == 1 && k.connections_open == 2, 5000);
	fds[0] = client_connect(port);  /* the freed slot is usable again */
	send_str(fds[0], "{\"symbol\":\"L9\",\"price\":1,\"size\":9}\n");
	WAIT_UNTIL(r.feed, k, k.ticks == 4 && k.connections_accepted == 4, 5000);
	CHECK_EQ_U64(k.connections_refused, 1);
	CHECK_EQ_U64(k.bad, 0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	runner_stop(&r);
	CHECK(strcmp(got.ticks[3].symbol, "L9") == 0);
	ark_feed_destroy(r.feed);
	collector_free(&got);
	printf("feed limits: ok\n");
}

/* ---- stop ---- */

static void poll_until_bytes(struct ark_feed *feed, uint64_t bytes)
{
	struct ark_err err = {0};
	uint64_t deadline = ark_now_ns() + 5000000000ull;
	struct ark_feed_counters k;
	do {
		CHECK_MSG(ark_feed_poll(feed, 2000000ull, &err) == 0, "%s", err.msg);
		ark_feed_counters(feed, &k);
		CHECK_MSG(ark_now_ns() < deadline, "feed received %" PRIu64 " of %" PRIu64 " bytes", k.bytes, bytes);
	} while (k.bytes < bytes);
}

static void test_stop_case(bool drains)
{
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	struct ark_feed *feed;
	struct ark_err err = {0};
	CHECK_MSG(ark_feed_create(&feed, &cfg, &err) == 0, "%s", err.msg);
	uint16_t port = ark_feed_port(feed);
	/* Driven from this thread with ark_feed_poll: the step-function form. */
	atomic_store(&got.refuse, drains ? 0 : 1);
	atomic_store(&got.refuse_first, drains ? 5 : 0);
	int fd = client_connect(port);
	char text[8192];
	size_t n = 0;
	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "{\"symbol\":\"S\",\"price\":%d,\"size\":1}\n", i + 1);
	n += (size_t)snprintf(text + n, sizeof text - n, "{\"symbol\":\"S\",\"pri");  /* half a line */
	send_all(fd, text, n);  /* one send: one segment on loopback, one recv */
	poll_until_bytes(feed, n);
	struct ark_feed_counters k;
	ark_feed_counters(feed, &k);
	CHECK(k.ticks == 0 && k.backpressure_episodes == 1);  /* the callback refused: waiting */

	ark_feed_stop(feed, drains ? 2000000000ull : 20000000ull);
	ark_feed_counters(feed, &k);
	CHECK_EQ_U64(k.ticks, drains ? 50 : 0);
	CHECK_EQ_U64(k.abandoned_at_stop, drains ? 1 : 51);
	CHECK_EQ_U64(k.lines, k.ticks);
	CHECK_EQ_U64(k.connections_open, 0);
	CHECK(k.backpressure_ns > 0);
	for (size_t i = 0; i < got.count; i++)
		CHECK(got.ticks[i].price == (double)(i + 1));
	char reply[64];
	CHECK(read_until_closed(fd, reply, sizeof reply));  /* the client was closed */
	close(fd);
	/* The listener is gone. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK(connect(s, (struct sockaddr *)&a, sizeof a) < 0 && errno == ECONNREFUSED);
	close(s);
	CHECK(ark_feed_poll(feed, 0, &err) == -ESHUTDOWN);
	ark_feed_stop(feed, 0);  /* idempotent */
	CHECK(log_count(&got, " info feed stopped ", drains ? "abandoned=1 " : "abandoned=51 ") == 1);
	ark_feed_destroy(feed);
	collector_free(&got);
}

static void test_stop(void)
{
	test_stop_case(true);
	test_stop_case(false);
	printf("feed stop: ok\n");
}

/* ---- env and configuration errors ---- */

static void expect_env_error(const char *name, const char *value)
{
	struct ark_feed_config cfg;
	struct ark_err err = {0};
	setenv(name, value, 1);
	int rc = ark_feed_config_from_env(&cfg, &err);
	CHECK_MSG(rc == -EINVAL || rc == -ERANGE, "%s=%s accepted", name, value);
	CHECK_CONTAINS(err.msg, name);
	unsetenv(name);
}

static void test_env(void)
{
	const char *vars[] = {"ARK_FEED_BIND", "ARK_FEED_PORT", "ARK_FEED_MAX_CONNECTIONS", "ARK_FEED_MAX_LINE",
			      "ARK_FEED_LINE_TIMEOUT_MS", "ARK_FEED_LOG_BURST", "ARK_WAIT"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);
	struct ark_feed_config cfg;
	struct ark_err err = {0};
	CHECK(ark_feed_config_from_env(&cfg, &err) == 0);
	CHECK(strcmp(cfg.bind, "127.0.0.1") == 0 && cfg.port == 7070 && cfg.max_connections == 64 &&
	      cfg.max_line == 1024 && cfg.line_timeout_ns == 10000000000ull && cfg.log_burst == 20);

	setenv("ARK_FEED_BIND", "::1", 1);
	setenv("ARK_FEED_PORT", "0", 1);
	setenv("ARK_FEED_MAX_CONNECTIONS", "5", 1);
	setenv("ARK_FEED_MAX_LINE", "4096", 1);
	setenv("ARK_FEED_LINE_TIMEOUT_MS", "0", 1);
	setenv("ARK_FEED_LOG_BURST", "3", 1);
	CHECK_MSG(ark_feed_config_from_env(&cfg, &err) == 0, "%s", err.msg);
	CHECK(strcmp(cfg.bind, "::1") == 0 && cfg.port == 0 && cfg.max_connections == 5 && cfg.max_line == 4096 &&
	      cfg.line_timeout_ns == 0 && cfg.log_burst == 3);
	for (size_t i = 0; i < ARK_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);

	expect_env_error("ARK_FEED_BIND", "localhost");
	expect_env_error("ARK_FEED_BIND", "127.0.0.1:80");
	expect_env_error("ARK_FEED_PORT", "abc");
	expect_env_error("ARK_FEED_PORT", "65536");
	expect_env_error("ARK_FEED_MAX_CONNECTIONS", "0");
	expect_env_error("ARK_FEED_MAX_CONNECTIONS", "100000");
	expect_env_error("ARK_FEED_MAX_LINE", "10");
	expect_env_error("ARK_FEED_LINE_TIMEOUT_MS", "-1");
	expect_env_error("ARK_FEED_LOG_BURST", "lots");

	/* Configuration errors from ark_feed_create. */
	struct collector got;
	collector_init(&got);
	struct ark_feed *feed = NULL;
	test_config(&cfg, &got);
	cfg.on_tick = NULL;
	CHECK(ark_feed_create(&feed, &cfg, &err) == -EINVAL && feed == NULL);
	CHECK_CONTAINS(err.msg, "exactly one output");
	struct ark_ring *wide = malloc(ark_ring_size(128, 16) + 128);
	void *aligned = (void *)(((uintptr_t)wide + 127) & ~(uintptr_t)127);
	CHECK(ark_ring_init(aligned, ark_ring_size(128, 16), 128, 16, 0, &err) == 0);
	test_config(&cfg, &got);
	cfg.on_tick = NULL;
	cfg.ring = aligned;
	CHECK(ark_feed_create(&feed, &cfg, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "128-byte slots");
	free(wide);

	/* A port already taken: the error names the address and the variables. */
	test_config(&cfg, &got);
	struct ark_feed *first;
	CHECK(ark_feed_create(&first, &cfg, &err) == 0);
	cfg.port = ark_feed_port(first);
	CHECK(ark_feed_create(&feed, &cfg, &err) == -EADDRINUSE);
	CHECK_CONTAINS(err.msg, "ARK_FEED_PORT");
	ark_feed_destroy(first);
	/* IPv6 loopback works when the machine has it. */
	test_config(&cfg, &got);
	strcpy(cfg.bind, "::1");
	if (ark_feed_create(&feed, &cfg, &err) == 0) {
		CHECK(ark_feed_port(feed) != 0);
		ark_feed_destroy(feed);
	}
	collector_free(&got);
	printf("feed env: ok\n");
}

/* ---- io_uring blocked ---- */

static void test_no_io_uring(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* What a container's seccomp profile does: io_uring_setup fails
		 * with EPERM. */
		struct sock_filter filter[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = ARK_ARRAY_LEN(filter), .filter = filter};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(2);
		struct collector got;
		collector_init(&got);
		struct ark_feed_config cfg;
		test_config(&cfg, &got);
		struct ark_feed *feed = NULL;
		struct ark_err err = {0};
		int rc = ark_feed_create(&feed, &cfg, &err);
		fprintf(stderr, "expected error: %s\n", err.msg);
		bool ok = rc == -EPERM && feed == NULL && strstr(err.msg, "io_uring is unavailable") &&
			  strstr(err.msg, "seccomp") && strstr(err.msg, "kernel.io_uring_disabled=");
		_exit(ok ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) != 2, "could not install the seccomp filter");
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ark_feed_create did not explain the failure");
	printf("feed no_io_uring: ok\n");
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (strcmp(what, "good") == 0)
		test_good(argc > 2 && strcmp(argv[2], "ring") == 0);
	else if (strcmp(what, "limits") == 0)
		test_limits();
	else if (strcmp(what, "stop") == 0)
		test_stop();
	else if (strcmp(what, "env") == 0)
		test_env();
	else if (strcmp(what, "no_io_uring") == 0)
		test_no_io_uring();
	else {
		fprintf(stderr, "usage: test_feed_tcp good [callback|ring] | limits | stop | env | no_io_uring\n");
		return 2;
	}
	return 0;
}
