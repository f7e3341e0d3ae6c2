/* tests/ring/test_ring_stress.c — the ring under load, hunting ordering bugs.
 *
 *   test_ring_stress process|thread WAIT CAPACITY EVENTS [SLOT_SIZE]
 *
 * process: producer and consumer are forked into separate processes on one
 * shared segment (the real deployment); thread: two threads of one process
 * (the form TSan can check). The producer publishes batches of varying size,
 * the consumer takes batches of varying size; every event is checked for its
 * sequence number and checksum, so a torn, reordered, lost or duplicated
 * event fails the test. EVENTS is scaled by ARK_TEST_SCALE. */
#include "check.h"
#include "ring/ring.h"
#include "ring_test_events.h"
#include "shm/shm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)

struct stress {
	struct ark_ring *ring;
	struct ark_ring_wait_config wait;
	uint64_t events;
	uint32_t slot_size;
	uint32_t max_batch;
	uint64_t verified;
	int failed;
};

static void *producer_main(void *arg)
{
	struct stress *s = arg;
	struct ark_err err;
	struct ark_ring_producer p;
	if (ark_ring_producer_open(&p, s->ring, &s->wait, &err)) {
		fprintf(stderr, "producer: %s\n", err.msg);
		s->failed = 1;
		return NULL;
	}
	uint64_t rng = 0x1234567 ^ s->events, seq = 0;
	while (seq < s->events) {
		uint32_t want = (uint32_t)(rng_next(&rng) % s->max_batch) + 1, n;
		if (want > s->events - seq)
			want = (uint32_t)(s->events - seq);
		int rc = ark_ring_reserve(&p, want, WAIT_TIMEOUT_NS, &n);
		if (rc == -EINTR)
			continue;
		if (rc) {
			fprintf(stderr, "producer: timed out waiting for space at seq %llu\n",
				(unsigned long long)seq);
			s->failed = 1;
			return NULL;
		}
		for (uint32_t i = 0; i < n; i++)
			event_fill(ark_ring_slot(&p, i), s->slot_size, seq + i);
		/* Sometimes publish a batch in two commits. */
		if (n > 1 && (rng & 7) == 0) {
			ark_ring_commit(&p, n / 2);
			ark_ring_commit(&p, n - n / 2);
		} else {
			ark_ring_commit(&p, n);
		}
		seq += n;
	}
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct stress *s = arg;
	struct ark_err err;
	struct ark_ring_consumer c;
	if (ark_ring_consumer_open(&c, s->ring, &s->wait, &err)) {
		fprintf(stderr, "consumer: %s\n", err.msg);
		s->failed = 1;
		return NULL;
	}
	uint64_t rng = 0x7654321 ^ s->events, seq = 0;
	while (seq < s->events) {
		uint32_t max = (uint32_t)(rng_next(&rng) % s->max_batch) + 1, n;
		int rc = ark_ring_peek(&c, max, WAIT_TIMEOUT_NS, &n);
		if (rc == -EINTR)
			continue;
		if (rc) {
			fprintf(stderr, "consumer: timed out waiting for data at seq %llu\n",
				(unsigned long long)seq);
			s->failed = 1;
			return NULL;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (!event_check(ark_ring_event(&c, i), s->slot_size, seq + i)) {
				fprintf(stderr, "consumer: event %llu is wrong (found seq %llu)\n",
					(unsigned long long)(seq + i),
					(unsigned long long)*(const uint64_t *)ark_ring_event(&c, i));
				s->failed = 1;
				return NULL;
			}
		}
		/* Sometimes give back only part of what was read. */
		if (n > 1 && (rng & 3) == 0)
			n = n / 2;
		ark_ring_release(&c, n);
		seq += n;
	}
	s->verified = seq;
	if (ark_ring_try_peek(&c, 1) != 0) {
		fprintf(stderr, "consumer: extra events after the last one\n");
		s->failed = 1;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s process|thread WAIT CAPACITY EVENTS [SLOT_SIZE]\n", argv[0]);
		return 2;
	}
	struct ark_err err;
	struct stress *s;
	bool processes = strcmp(argv[1], "process") == 0;
	enum ark_wait wait;
	CHECK_MSG(ark_ring_wait_parse(argv[2], &wait, &err) == 0, "%s", err.msg);
	uint32_t capacity = (uint32_t)strtoul(argv[3], NULL, 10);
	uint64_t events = test_scaled(strtoull(argv[4], NULL, 10), 100000);
	uint32_t slot_size = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 10) : 64;
	size_t ring_bytes = ark_ring_size(slot_size, capacity);
	CHECK(ring_bytes > 0);

	char name[64];
	snprintf(name, sizeof name, "ark-test-stress-%d", (int)getpid());
	struct ark_shm shm;
	uint64_t ring_off, state_off;
	CHECK_MSG(ark_shm_create(&shm, name, ring_bytes + 65536, 0, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_shm_alloc(&shm, "ring", ring_bytes, &ring_off, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_shm_alloc(&shm, "stress", sizeof *s, &state_off, &err) == 0, "%s", err.msg);
	ark_shm_unlink(name, NULL);   /* the mapping lives on; nothing to leak on failure */
	s = ark_shm_at(&shm, state_off);
	s->ring = ark_shm_at(&shm, ring_off);
	/* Start near 2^64 so long runs also cross the index wrap. */
	CHECK_MSG(ark_ring_init(s->ring, ring_bytes, slot_size, capacity, UINT64_MAX - events / 2, &err) == 0,
		  "%s", err.msg);
	s->wait.strategy = wait;
	s->wait.spin_ns = 2000;
	s->wait.yield_ns = 20000;
	s->events = events;
	s->slot_size = slot_size;
	s->max_batch = capacity < 64 ? capacity + 1 : 64;

	uint64_t t0 = ark_now_ns();
	if (processes) {
		pid_t consumer = fork();
		if (consumer == 0) {
			consumer_main(s);
			_exit(s->failed ? 1 : 0);
		}
		pid_t producer = fork();
		if (producer == 0) {
			/* The ring pointer is valid here too: fork keeps the mapping
			 * at the same address. A separately exec'd process would map
			 * it elsewhere, which the offsets-only layout allows. */
			producer_main(s);
			_exit(s->failed ? 1 : 0);
		}
		CHECK(consumer > 0 && producer > 0);
		int st_c, st_p;
		CHECK(waitpid(producer, &st_p, 0) == producer);
		CHECK(waitpid(consumer, &st_c, 0) == consumer);
		CHECK_MSG(WIFEXITED(st_p) && WEXITSTATUS(st_p) == 0, "producer failed (status 0x%x)", st_p);
		CHECK_MSG(WIFEXITED(st_c) && WEXITSTATUS(st_c) == 0, "consumer failed (status 0x%x)", st_c);
	} else {
		pthread_t tp, tc;
		CHECK(pthread_create(&tc, NULL, consumer_main, s) == 0);
		CHECK(pthread_create(&tp, NULL, producer_main, s) == 0);
		pthread_join(tp, NULL);
		pthread_join(tc, NULL);
		CHECK(!s->failed);
	}
	CHECK_EQ_U64(s->verified, events);
	CHECK_EQ_U64(ark_ring_depth(s->ring), 0);
	double secs = (double)(ark_now_ns() - t0) / 1e9;
	printf("%s wait=%s capacity=%u slot=%u: %llu events verified in %.2f s (%.1f M/s), futex sleeps %llu/%llu\n",
	       argv[1], argv[2], capacity, slot_size, (unsigned long long)events, secs, (double)events / secs / 1e6,
	       (unsigned long long)atomic_load(&s->ring->data_ready.sleeps),
	       (unsigned long long)atomic_load(&s->ring->space_ready.sleeps));
	ark_shm_detach(&shm);
	return 0;
}
