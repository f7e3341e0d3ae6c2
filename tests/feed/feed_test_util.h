/* tests/feed/feed_test_util.h — what the feed's test programs share: a
 * collector for ticks and log lines, a feed running on its own thread, real
 * TCP clients on loopback, and waiting on the counters with a deadline. */
#ifndef ARK_TESTS_FEED_UTIL_H
#define ARK_TESTS_FEED_UTIL_H

#include "check.h"
#include "feed/feed.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- Collector: the tick callback and the log callback ---- */

struct collector {
	pthread_mutex_t mu;
	struct ark_tick *ticks;
	size_t count, cap;
	char **logs;
	size_t nlogs, logs_cap;
	_Atomic int refuse;          /* the tick callback answers -EAGAIN while set */
	_Atomic int refuse_first;    /* ... and for this many calls */
};

static inline void collector_init(struct collector *c)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
}

static inline void collector_free(struct collector *c)
{
	free(c->ticks);
	for (size_t i = 0; i < c->nlogs; i++)
		free(c->logs[i]);
	free(c->logs);
	pthread_mutex_destroy(&c->mu);
}

static inline void collector_add(struct collector *c, const struct ark_tick *t)
{
	pthread_mutex_lock(&c->mu);
	if (c->count == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->ticks = realloc(c->ticks, c->cap * sizeof *c->ticks);
		CHECK(c->ticks);
	}
	c->ticks[c->count++] = *t;
	pthread_mutex_unlock(&c->mu);
}

static inline int collect_tick(void *ctx, const struct ark_tick *t)
{
	struct collector *c = ctx;
	if (atomic_load(&c->refuse))
		return -EAGAIN;
	if (atomic_load(&c->refuse_first) > 0) {
		atomic_fetch_sub(&c->refuse_first, 1);
		return -EAGAIN;
	}
	collector_add(c, t);
	return 0;
}

static inline void collect_log(void *ctx, int level, const char *line)
{
	struct collector *c = ctx;
	(void)level;
	if (getenv("ARK_FEED_TEST_VERBOSE"))
		fprintf(stderr, "%s\n", line);
	pthread_mutex_lock(&c->mu);
	if (c->nlogs == c->logs_cap) {
		c->logs_cap = c->logs_cap ? c->logs_cap * 2 : 256;
		c->logs = realloc(c->logs, c->logs_cap * sizeof *c->logs);
		CHECK(c->logs);
	}
	c->logs[c->nlogs] = strdup(line);
	CHECK(c->logs[c->nlogs]);
	c->nlogs++;
	pthread_mutex_unlock(&c->mu);
}

static inline size_t collector_count(struct collector *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = c->count;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* Log lines containing every one of up to two needles (second may be NULL). */
static inline size_t log_count(struct collector *c, const char *needle, const char *and_needle)
{
	size_t n = 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->nlogs; i++)
		if (strstr(c->logs[i], needle) && (!and_needle || strstr(c->logs[i], and_needle)))
			n++;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* ---- A feed on its own thread ---- */

struct runner {
	struct ark_feed *feed;
	pthread_t thread;
	_Atomic bool stop;
	int rc;
	struct ark_err err;
};

static inline void *runner_main(void *arg)
{
	struct runner *r = arg;
	r->rc = ark_feed_run(r->feed, &r->stop, &r->err);
	return NULL;
}

static inline void runner_start(struct runner *r, const struct ark_feed_config *cfg)
{
	memset(r, 0, sizeof *r);
	struct ark_err err = {0};
	int rc = ark_feed_create(&r->feed, cfg, &err);
	CHECK_MSG(rc == 0, "ark_feed_create: %s", err.msg);
	CHECK(ark_feed_port(r->feed) != 0);
	CHECK(pthread_create(&r->thread, NULL, runner_main, r) == 0);
}

static inline void runner_stop(struct runner *r)
{
	atomic_store(&r->stop, true);
	CHECK(pthread_join(r->thread, NULL) == 0);
	CHECK_MSG(r->rc == 0, "ark_feed_run: %s", r->err.msg);
}

/* Exchange times for test ticks: ten minutes ago, so that they pass the
 * feed's bounds (not ahead of the clock, not older than ARK_TICK_MAX_AGE). */
static inline uint64_t test_ts_base(void)
{
	static uint64_t base;
	if (!base)
		base = ark_realtime_ns() - 600ull * 1000000000ull;
	return base;
}

/* A config for tests: ephemeral port, callback output into c. */
static inline void test_config(struct ark_feed_config *cfg, struct collector *c)
{
	ark_feed_config_init(cfg);
	cfg->port = 0;
	cfg->on_tick = collect_tick;
	cfg->tick_ctx = c;
	cfg->log = collect_log;
	cfg->log_ctx = c;
	cfg->log_burst = 100000;
}

/* ---- Clients ---- */

static inline int client_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_MSG(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = {10, 0};  /* a hung test fails instead of hanging */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static inline void send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		CHECK_MSG(n > 0, "send: %s", n < 0 ? strerror(errno) : "0");
		p += n;
		len -= (size_t)n;
	}
}

static inline void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Read until EOF (or error); true when the peer closed (0, ECONNRESET). */
static inline bool read_until_closed(int fd, char *out, size_t out_size)
{
	size_t n = 0;
	for (;;) {
		char buf[512];
		ssize_t r = recv(fd, buf, sizeof buf, 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			break;
		if (r < 0)
			return false;  /* timeout */
		size_t take = ARK_MIN((size_t)r, out_size - 1 - n);
		memcpy(out + n, buf, take);
		n += take;
	}
	if (out_size)
		out[n] = '\0';
	return true;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait (at most timeout_ms) until `cond` holds for the counters `k`. */
#define WAIT_UNTIL(feed, k, cond, timeout_ms)                                              \
	do {                                                                               \
		uint64_t _deadline = ark_now_ns() + (uint64_t)(timeout_ms) * 1000000ull;   \
		for (;;) {                                                                 \
			ark_feed_counters((feed), &(k));                                   \
			if (cond)                                                          \
				break;                                                     \
			CHECK_MSG(ark_now_ns() < _deadline,                                \
				  "timed out waiting for %s (lines=%" PRIu64 " ticks=%" PRIu64 \
				  " bad=%" PRIu64 " bytes=%" PRIu64 ")",                       \
				  #cond, (k).lines, (k).ticks, (k).bad, (k).bytes);            \
			sleep_ms(2);                                                       \
		}                                                                          \
	} while (0)

/* A good line and the tick it must become (ts given). */
static inline int format_tick(char *out, size_t size, const char *symbol, double price, double size_, uint64_t ts)
{
	return snprintf(out, size, "{\"symbol\":\"%s\",\"price\":%.17g,\"size\":%.17g,\"ts\":%llu}", symbol, price,
			size_, (unsigned long long)ts);
}

static inline bool same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- Ring output: an in-process ring and a consumer thread ---- */

static inline struct ark_ring *ring_new(uint32_t capacity)
{
	size_t size = ark_ring_size(sizeof(struct ark_tick), capacity);
	CHECK(size);
	void *mem = aligned_alloc(128, (size + 127) & ~(size_t)127);
	CHECK(mem);
	struct ark_err err = {0};
	CHECK_MSG(ark_ring_init(mem, size, sizeof(struct ark_tick), capacity, 0, &err) == 0, "%s", err.msg);
	return mem;
}

struct consumer {
	struct ark_ring *ring;
	struct collector *out;
	pthread_t thread;
	_Atomic bool stop;
	_Atomic bool paused;   /* while set, nothing is taken off the ring */
};

static inline void *consumer_main(void *arg)
{
	struct consumer *k = arg;
	struct ark_ring_consumer c;
	struct ark_err err = {0};
	CHECK_MSG(ark_ring_consumer_open(&c, k->ring, NULL, &err) == 0, "%s", err.msg);
	for (;;) {
		if (atomic_load(&k->paused)) {
			if (atomic_load(&k->stop))
				break;
			sleep_ms(1);
			continue;
		}
		uint32_t n = 0;
		if (ark_ring_peek(&c, 256, 2000000ull, &n) != 0) {
			if (atomic_load(&k->stop) && ark_ring_try_peek(&c, 1) == 0)
				break;
			continue;
		}
		for (uint32_t i = 0; i < n; i++)
			collector_add(k->out, ark_ring_event(&c, i));
		ark_ring_release(&c, n);
	}
	ark_ring_consumer_close(&c);
	return NULL;
}

static inline void consumer_start(struct consumer *k, struct ark_ring *ring, struct collector *out, bool paused)
{
	memset(k, 0, sizeof *k);
	k->ring = ring;
	k->out = out;
	atomic_store(&k->paused, paused);
	CHECK(pthread_create(&k->thread, NULL, consumer_main, k) == 0);
}

/* A feed configuration collecting into got. In ring mode the feed writes
 * into a new ring of capacity slots instead, which consumer drains into got
 * (or holds, paused); returns that ring (NULL in callback mode). */
static inline struct ark_ring *feed_setup(struct ark_feed_config *cfg, struct collector *got, bool ring_mode,
					  uint32_t capacity, struct consumer *consumer, bool paused)
{
	collector_init(got);
	test_config(cfg, got);
	if (!ring_mode)
		return NULL;
	struct ark_ring *ring = ring_new(capacity);
	cfg->on_tick = NULL;
	cfg->ring = ring;
	consumer_start(consumer, ring, got, paused);
	return ring;
}

static inline void consumer_stop(struct consumer *k)
{
	atomic_store(&k->paused, false);
	atomic_store(&k->stop, true);
	CHECK(pthread_join(k->thread, NULL) == 0);
}

#endif /* ARK_TESTS_FEED_UTIL_H */
