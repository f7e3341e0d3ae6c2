/* tests/feed/test_feed_backpressure.c — a full output stops the feed from
 * reading instead of dropping:
 *
 *   ring      Kyle's ring (64 slots) with its consumer paused: the feed
 *             fills it, stops reading, the sender blocks in TCP; the
 *             consumer drains and every tick arrives, in order, none lost
 *   callback  the same through a callback that answers -EAGAIN */
#include "feed_test_util.h"

struct sender {
	uint16_t port;
	uint64_t lines;
	_Atomic bool done;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	int fd = client_connect(s->port);
	struct timeval tv = {60, 0};  /* it is meant to block for a while */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int sndbuf = 65536;  /* a fixed send buffer: no autotuning on this side */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	char buf[65536];
	size_t n = 0;
	for (uint64_t i = 0; i < s->lines; i++) {
		n += (size_t)format_tick(buf + n, sizeof buf - n, "BP", 1.0 + (double)i, (double)(i % 97), test_ts_base() + i + 1);
		buf[n++] = '\n';
		if (n > sizeof buf - 200 || i + 1 == s->lines) {
			send_all(fd, buf, n);
			n = 0;
		}
	}
	close(fd);
	atomic_store(&s->done, true);
	return NULL;
}

static void check_all(struct collector *got, uint64_t lines)
{
	CHECK_EQ_U64(got->count, lines);
	for (uint64_t i = 0; i < lines; i++) {
		const struct ark_tick *t = &got->ticks[i];
		CHECK_MSG(t->source_seq == i + 1 && t->price == 1.0 + (double)i && t->size == (double)(i % 97) &&
				  t->exchange_time_ns == test_ts_base() + i + 1 && strcmp(t->symbol, "BP") == 0,
			  "tick %" PRIu64 " lost, altered or out of order", i);
	}
}

static void test_backpressure(bool ring_mode)
{
	struct collector got;
	struct ark_feed_config cfg;
	struct consumer consumer;
	enum { CAPACITY = 64 };
	/* ring mode: its consumer paused, nothing drains */
	struct ark_ring *ring = feed_setup(&cfg, &got, ring_mode, CAPACITY, &consumer, true);
	struct runner r;
	runner_start(&r, &cfg);
	/* 6 MB: far more than the socket buffers hold (not scaled: the point
	 * is to outgrow them). */
	struct sender s = {.port = ark_feed_port(r.feed), .lines = 100000};
	pthread_t sender;
	struct ark_feed_counters k;
	CHECK(pthread_create(&sender, NULL, sender_main, &s) == 0);
	if (!ring_mode) {
		/* Take some, then refuse, as a full queue would. */
		WAIT_UNTIL(r.feed, k, k.ticks >= 1, 10000);
		atomic_store(&got.refuse, 1);
	}
	/* Wait until the feed is stuck: output full, bytes no longer moving. */
	uint64_t last_bytes = UINT64_MAX, stuck_since = ark_now_ns(), deadline = ark_now_ns() + 20000000000ull;
	for (;;) {
		ark_feed_counters(r.feed, &k);
		if (k.bytes != last_bytes) {
			last_bytes = k.bytes;
			stuck_since = ark_now_ns();
		} else if (ark_now_ns() - stuck_since > 300000000ull && k.backpressure_episodes > 0) {
			break;
		}
		CHECK_MSG(ark_now_ns() < deadline, "the feed never stopped reading");
		sleep_ms(5);
	}
	uint64_t held = k.ticks;
	if (ring_mode)
		CHECK_EQ_U64(held, CAPACITY);  /* exactly the ring, nothing more taken */
	CHECK(!atomic_load(&s.done));       /* the sender is blocked in TCP */
	CHECK(k.bytes < s.lines * 40);       /* most bytes still in the sender's hands */
	CHECK_EQ_U64(k.bad, 0);
	CHECK_EQ_U64(k.lines, held);
	sleep_ms(100);
	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.ticks, held);         /* still stuck, and still counting the time */
	CHECK(k.backpressure_ns >= 300000000ull);

	/* Drain: everything arrives. */
	if (ring_mode)
		atomic_store(&consumer.paused, false);
	else
		atomic_store(&got.refuse, 0);
	CHECK(pthread_join(sender, NULL) == 0);
	WAIT_UNTIL(r.feed, k, k.ticks == s.lines && k.connections_closed == 1, 30000);
	if (ring_mode) {
		uint64_t until = ark_now_ns() + 10000000000ull;
		while (collector_count(&got) < s.lines && ark_now_ns() < until)
			sleep_ms(1);
	}
	runner_stop(&r);
	if (ring_mode)
		consumer_stop(&consumer);
	ark_feed_counters(r.feed, &k);
	CHECK_EQ_U64(k.lines, s.lines);
	CHECK_EQ_U64(k.bad, 0);
	CHECK_EQ_U64(k.abandoned_at_stop, 0);
	CHECK(k.backpressure_episodes >= 1);
	check_all(&got, s.lines);
	printf("feed backpressure (%s): %" PRIu64 " ticks, none dropped; %" PRIu64 " episodes, %" PRIu64
	       " ms backpressured\n",
	       ring_mode ? "ring" : "callback", s.lines, k.backpressure_episodes, k.backpressure_ns / 1000000);
	ark_feed_destroy(r.feed);
	free(ring);
	collector_free(&got);
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (strcmp(what, "ring") == 0)
		test_backpressure(true);
	else if (strcmp(what, "callback") == 0)
		test_backpressure(false);
	else {
		fprintf(stderr, "usage: test_feed_backpressure ring | callback\n");
		return 2;
	}
	return 0;
}
