/* tests/ring/test_ring_kill.c — a producer killed with SIGKILL.
 *
 * 1. Mid-batch: a producer commits 40 events, reserves a batch, writes half of
 *    it and is killed. The consumer must see exactly the 40 committed events,
 *    each whole, then time out cleanly (-ETIMEDOUT) and find the producer dead.
 * 2. Repeated: producers stream batches and are killed at random moments,
 *    each replaced by a new producer that resumes at the published head. One
 *    consumer process reads throughout and must see one gap-free, duplicate-
 *    free sequence of whole events, ending in a clean timeout. */
#include "check.h"
#include "ring/ring.h"
#include "ring_test_events.h"
#include "shm/shm.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SLOT 128
#define START_INDEX (UINT64_MAX - 5000)

static struct ark_ring *make_ring(struct ark_shm *shm, uint32_t capacity)
{
	struct ark_err err;
	char name[64];
	snprintf(name, sizeof name, "ark-test-kill-%d-%u", (int)getpid(), capacity);
	size_t bytes = ark_ring_size(SLOT, capacity);
	uint64_t off;
	CHECK_MSG(ark_shm_create(shm, name, bytes + 4096, 0, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_shm_alloc(shm, "ring", bytes, &off, &err) == 0, "%s", err.msg);
	ark_shm_unlink(name, NULL);
	struct ark_ring *ring = ark_shm_at(shm, off);
	CHECK(ark_ring_init(ring, bytes, SLOT, capacity, START_INDEX, &err) == 0);
	return ring;
}

static void test_kill_mid_batch(void)
{
	struct ark_shm shm;
	struct ark_ring *ring = make_ring(&shm, 64);
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t producer = fork();
	if (producer == 0) {
		struct ark_ring_producer p;
		struct ark_ring_wait_config wait = {ARK_WAIT_BLOCK, 0, 0};
		if (ark_ring_producer_open(&p, ring, &wait, NULL))
			_exit(1);
		uint64_t seq = 0;
		uint32_t n;
		while (seq < 40) {
			if (ark_ring_reserve(&p, 7, 1000000000ull, &n))
				_exit(1);
			if (n > 40 - seq)
				n = (uint32_t)(40 - seq);
			for (uint32_t i = 0; i < n; i++)
				event_fill(ark_ring_slot(&p, i), SLOT, seq + i);
			ark_ring_commit(&p, n);
			seq += n;
		}
		if (ark_ring_reserve(&p, 16, 1000000000ull, &n) || n != 16)
			_exit(1);
		for (uint32_t i = 0; i < 8; i++)          /* half the batch written */
			event_fill(ark_ring_slot(&p, i), SLOT, seq + i);
		memset(ark_ring_slot(&p, 8), 0xab, SLOT / 2); /* and half a slot */
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	CHECK(kill(producer, SIGKILL) == 0);
	int status;
	CHECK(waitpid(producer, &status, 0) == producer);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	struct ark_err err;
	struct ark_ring_consumer con;
	struct ark_ring_wait_config wait = {ARK_WAIT_ADAPTIVE, 1000, 0};
	CHECK_MSG(ark_ring_consumer_open(&con, ring, &wait, &err) == 0, "%s", err.msg);
	uint64_t seq = 0;
	for (;;) {
		uint32_t n;
		int rc = ark_ring_peek(&con, 5, 100 * 1000 * 1000, &n);
		if (rc == -ETIMEDOUT)
			break;
		CHECK_EQ_U64(rc, 0);
		for (uint32_t i = 0; i < n; i++)
			CHECK_MSG(event_check(ark_ring_event(&con, i), SLOT, seq + i), "event %llu",
				  (unsigned long long)(seq + i));
		ark_ring_release(&con, n);
		seq += n;
	}
	CHECK_EQ_U64(seq, 40);   /* the committed ones, none of the half batch */
	CHECK(!ark_shm_process_alive(atomic_load(&ring->producer_pid), 0));
	ark_ring_consumer_close(&con);
	close(ready[0]);
	close(ready[1]);
	ark_shm_detach(&shm);
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static void test_repeated_kills(int rounds)
{
	struct ark_shm shm;
	struct ark_ring *ring = make_ring(&shm, 256);
	pid_t consumer = fork();
	if (consumer == 0) {
		struct ark_ring_consumer con;
		struct ark_ring_wait_config wait = {ARK_WAIT_ADAPTIVE, 2000, 20000};
		if (ark_ring_consumer_open(&con, ring, &wait, NULL))
			_exit(10);
		uint64_t seq = 0, rng = 99;
		for (;;) {
			uint32_t n;
			/* A long quiet spell means the test is over. */
			int rc = ark_ring_peek(&con, (uint32_t)(rng_next(&rng) % 50) + 1, 2000ull * 1000 * 1000, &n);
			if (rc == -ETIMEDOUT)
				break;
			if (rc)
				continue;
			for (uint32_t i = 0; i < n; i++) {
				if (!event_check(ark_ring_event(&con, i), SLOT, seq + i)) {
					fprintf(stderr, "consumer: event %llu is wrong or missing\n",
						(unsigned long long)(seq + i));
					_exit(11);
				}
			}
			ark_ring_release(&con, n);
			seq += n;
		}
		uint64_t published = atomic_load(&ring->head) - START_INDEX;
		if (seq != published) {
			fprintf(stderr, "consumer: read %llu, producers published %llu\n",
				(unsigned long long)seq, (unsigned long long)published);
			_exit(12);
		}
		_exit(0);
	}
	uint64_t rng = 7;
	for (int r = 0; r < rounds; r++) {
		pid_t producer = fork();
		if (producer == 0) {
			struct ark_ring_producer p;
			struct ark_ring_wait_config wait = {ARK_WAIT_ADAPTIVE, 2000, 20000};
			if (ark_ring_producer_open(&p, ring, &wait, NULL))
				_exit(1);
			uint64_t seq = p.head - START_INDEX, prng = (uint64_t)getpid();
			for (;;) {
				uint32_t n;
				if (ark_ring_reserve(&p, (uint32_t)(rng_next(&prng) % 64) + 1, 1000000000ull, &n))
					continue;
				for (uint32_t i = 0; i < n; i++)
					event_fill(ark_ring_slot(&p, i), SLOT, seq + i);
				ark_ring_commit(&p, n);
				seq += n;
			}
		}
		sleep_us(500 + (long)(rng_next(&rng) % 20000));
		CHECK(kill(producer, SIGKILL) == 0);
		CHECK(waitpid(producer, NULL, 0) == producer);
	}
	int status;
	CHECK(waitpid(consumer, &status, 0) == consumer);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "consumer status 0x%x", status);
	printf("repeated kills: %d producers killed, %llu events verified\n", rounds,
	       (unsigned long long)(atomic_load(&ring->head) - START_INDEX));
	ark_shm_detach(&shm);
}

int main(void)
{
	test_kill_mid_batch();
	test_repeated_kills((int)test_scaled(25, 5));
	printf("ring kill tests passed\n");
	return 0;
}
