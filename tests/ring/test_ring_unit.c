/* tests/ring/test_ring_unit.c — single-process ring behaviour: empty, full,
 * wrap-around of the 64-bit indices, batches straddling the end of the slot
 * array, partial commits, timeouts for every wait strategy, shape and header
 * validation, and the ARK_WAIT configuration. */
#include "check.h"
#include "ring/ring.h"
#include "ring_test_events.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void *ring_memory(uint32_t slot_size, uint32_t capacity, size_t *size)
{
	*size = ark_ring_size(slot_size, capacity);
	CHECK(*size > 0);
	void *mem = aligned_alloc(ARK_RING_BLOCK, (*size + ARK_RING_BLOCK - 1) / ARK_RING_BLOCK * ARK_RING_BLOCK);
	CHECK(mem != NULL);
	return mem;
}

static void open_pair(struct ark_ring *ring, enum ark_wait wait, struct ark_ring_producer *p,
		      struct ark_ring_consumer *c)
{
	struct ark_err err;
	struct ark_ring_wait_config cfg = {.strategy = wait, .spin_ns = 1000};
	CHECK_MSG(ark_ring_producer_open(p, ring, &cfg, &err) == 0, "%s", err.msg);
	CHECK_MSG(ark_ring_consumer_open(c, ring, &cfg, &err) == 0, "%s", err.msg);
}

/* Handles leave this thread's flush list before their memory is freed. */
static void close_pair(struct ark_ring_producer *p, struct ark_ring_consumer *c)
{
	ark_ring_producer_close(p);
	ark_ring_consumer_close(c);
}

/* A ring in its own memory with a producer and a consumer on it. */
struct fixture {
	void *mem;
	size_t size;
	struct ark_ring_producer p;
	struct ark_ring_consumer c;
};

static void fixture_open(struct fixture *f, uint32_t slot_size, uint32_t capacity, uint64_t start, enum ark_wait wait)
{
	struct ark_err err;
	f->mem = ring_memory(slot_size, capacity, &f->size);
	CHECK_MSG(ark_ring_init(f->mem, f->size, slot_size, capacity, start, &err) == 0, "%s", err.msg);
	open_pair(f->mem, wait, &f->p, &f->c);
}

static void fixture_close(struct fixture *f)
{
	close_pair(&f->p, &f->c);
	free(f->mem);
}

static void test_empty_and_full(void)
{
	struct fixture f;
	fixture_open(&f, 64, 8, 0, ARK_WAIT_SPIN);
	struct ark_ring_producer *p = &f.p;
	struct ark_ring_consumer *c = &f.c;

	CHECK_EQ_U64(ark_ring_try_peek(c, 100), 0);
	CHECK_EQ_U64(ark_ring_depth(f.mem), 0);
	/* Fill exactly to capacity: the ninth slot is refused. */
	CHECK_EQ_U64(ark_ring_try_reserve(p, 100), 8);
	for (uint32_t i = 0; i < 8; i++)
		event_fill(ark_ring_slot(p, i), 64, i);
	ark_ring_commit(p, 8);
	CHECK_EQ_U64(ark_ring_try_reserve(p, 1), 0);
	CHECK_EQ_U64(ark_ring_depth(f.mem), 8);
	/* Release one, exactly one becomes free. */
	CHECK_EQ_U64(ark_ring_try_peek(c, 100), 8);
	CHECK(event_check(ark_ring_event(c, 0), 64, 0));
	ark_ring_release(c, 1);
	CHECK_EQ_U64(ark_ring_try_reserve(p, 100), 1);
	event_fill(ark_ring_slot(p, 0), 64, 8);
	ark_ring_commit(p, 1);
	/* Drain in order. */
	uint64_t expect = 1;
	uint32_t n;
	while ((n = ark_ring_try_peek(c, 3)) > 0) {
		for (uint32_t i = 0; i < n; i++)
			CHECK(event_check(ark_ring_event(c, i), 64, expect++));
		ark_ring_release(c, n);
	}
	CHECK_EQ_U64(expect, 9);
	CHECK_EQ_U64(ark_ring_depth(f.mem), 0);
	fixture_close(&f);
}

/* Indices start just below 2^64 and wrap during the test; batches straddle
 * the end of the slot array at every phase. */
static void test_wraparound(uint32_t capacity, uint32_t slot_size)
{
	uint64_t start = UINT64_MAX - 3 * (uint64_t)capacity - 5;
	struct fixture f;
	fixture_open(&f, slot_size, capacity, start, ARK_WAIT_SPIN);
	struct ark_ring_producer *p = &f.p;
	struct ark_ring_consumer *c = &f.c;
	uint64_t rng = 42 + capacity, produced = 0, consumed = 0, total = 10 * (uint64_t)capacity + 1000;
	bool saw_straddle = false, saw_wrap = false;
	while (consumed < total) {
		uint32_t want = (uint32_t)(rng_next(&rng) % (capacity + 2)) + 1;
		uint32_t n = ark_ring_try_reserve(p, want);
		if (n > 1) {
			uint8_t *first = ark_ring_slot(p, 0), *last = ark_ring_slot(p, n - 1);
			if (last < first)
				saw_straddle = true;
		}
		if (produced + n > total)
			n = (uint32_t)(total - produced);
		for (uint32_t i = 0; i < n; i++)
			event_fill(ark_ring_slot(p, i), slot_size, produced + i);
		ark_ring_commit(p, n);
		produced += n;
		CHECK(ark_ring_depth(f.mem) <= capacity);
		uint32_t max = (uint32_t)(rng_next(&rng) % (capacity + 2)) + 1;
		uint32_t m = ark_ring_try_peek(c, max);
		for (uint32_t i = 0; i < m; i++)
			CHECK_MSG(event_check(ark_ring_event(c, i), slot_size, consumed + i),
				  "capacity %u event %llu", capacity, (unsigned long long)(consumed + i));
		ark_ring_release(c, m);
		consumed += m;
		if (c->tail < start)
			saw_wrap = true;
	}
	CHECK(saw_wrap);                       /* the 64-bit indices went past 2^64 */
	CHECK(saw_straddle || capacity == 1);  /* some batch crossed the array's end */
	CHECK_EQ_U64(atomic_load(&((struct ark_ring *)f.mem)->head), start + total);
	fixture_close(&f);
}

static void test_straddling_batch_exact(void)
{
	/* Capacity 8, advanced by 5: a batch of 6 occupies slots 5,6,7,0,1,2. */
	struct fixture f;
	fixture_open(&f, 128, 8, 5, ARK_WAIT_SPIN);
	struct ark_ring_producer *p = &f.p;
	struct ark_ring_consumer *c = &f.c;
	uint8_t *slots = (uint8_t *)f.mem + sizeof(struct ark_ring);
	CHECK_EQ_U64(ark_ring_try_reserve(p, 6), 6);
	static const int expected_slot[6] = {5, 6, 7, 0, 1, 2};
	for (uint32_t i = 0; i < 6; i++) {
		CHECK(ark_ring_slot(p, i) == slots + expected_slot[i] * 128);
		event_fill(ark_ring_slot(p, i), 128, 100 + i);
	}
	ark_ring_commit(p, 6);
	CHECK_EQ_U64(ark_ring_try_peek(c, 10), 6);
	for (uint32_t i = 0; i < 6; i++)
		CHECK(event_check(ark_ring_event(c, i), 128, 100 + i));
	ark_ring_release(c, 6);
	fixture_close(&f);
}

static void test_partial_commit_and_restart(void)
{
	struct ark_err err;
	struct fixture f;
	fixture_open(&f, 64, 16, 0, ARK_WAIT_SPIN);
	struct ark_ring_producer *p = &f.p;
	struct ark_ring_consumer *c = &f.c;
	CHECK_EQ_U64(ark_ring_try_reserve(p, 4), 4);
	for (uint32_t i = 0; i < 4; i++)
		event_fill(ark_ring_slot(p, i), 64, i);
	ark_ring_commit(p, 2);                 /* only two are published */
	CHECK_EQ_U64(ark_ring_try_peek(c, 10), 2);
	/* A producer that reserved and died: its replacement resumes at the
	 * published head and overwrites the unpublished slots. */
	CHECK_EQ_U64(ark_ring_try_reserve(p, 3), 3);
	event_fill(ark_ring_slot(p, 0), 64, 999);
	struct ark_ring_producer again;
	CHECK(ark_ring_producer_open(&again, f.mem, NULL, &err) == 0);
	CHECK_EQ_U64(again.head, 2);
	CHECK_EQ_U64(ark_ring_try_reserve(&again, 1), 1);
	event_fill(ark_ring_slot(&again, 0), 64, 2);
	ark_ring_commit(&again, 1);
	CHECK_EQ_U64(ark_ring_try_peek(c, 10), 2);   /* cached view until released */
	ark_ring_release(c, 2);
	CHECK_EQ_U64(ark_ring_try_peek(c, 10), 1);
	CHECK(event_check(ark_ring_event(c, 0), 64, 2));
	ark_ring_producer_close(&again);
	fixture_close(&f);
}

static void test_timeouts(enum ark_wait wait)
{
	struct fixture f;
	fixture_open(&f, 64, 2, 0, wait);
	struct ark_ring_producer *p = &f.p;
	struct ark_ring_consumer *c = &f.c;
	uint32_t n = 0;
	uint64_t t0 = ark_now_ns();
	CHECK_EQ_U64(-ark_ring_peek(c, 1, 5 * 1000 * 1000, &n), ETIMEDOUT);
	uint64_t waited = ark_now_ns() - t0;
	CHECK_MSG(waited >= 5 * 1000 * 1000, "%s waited only %llu ns", ark_ring_wait_name(wait),
		  (unsigned long long)waited);
	CHECK_EQ_U64(ark_ring_reserve(p, 5, 1000, &n), 0);
	CHECK_EQ_U64(n, 2);
	ark_ring_commit(p, 2);
	CHECK_EQ_U64(-ark_ring_reserve(p, 1, 5 * 1000 * 1000, &n), ETIMEDOUT);
	CHECK_EQ_U64(ark_ring_peek(c, 8, 1000, &n), 0);
	CHECK_EQ_U64(n, 2);
	fixture_close(&f);
}

static void test_shapes_and_headers(void)
{
	struct ark_err err;
	CHECK_EQ_U64(ark_ring_size(64, 3), 0);
	CHECK_EQ_U64(ark_ring_size(60, 4), 0);
	CHECK_EQ_U64(ark_ring_size(0, 4), 0);
	CHECK_EQ_U64(ark_ring_size(64, 0), 0);
	CHECK(ark_ring_size(64, 1) == sizeof(struct ark_ring) + 64);
	size_t size;
	void *mem = ring_memory(64, 4, &size);
	CHECK(ark_ring_init(mem, size, 64, 3, 0, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "power of two");
	CHECK(ark_ring_init(mem, size, 100, 4, 0, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "multiple of 64");
	CHECK(ark_ring_init(mem, size - 1, 64, 4, 0, &err) == -ENOSPC);
	CHECK(ark_ring_init((char *)mem + 64, size, 64, 4, 0, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "aligned");
	CHECK(ark_ring_init(mem, size, 64, 4, 0, &err) == 0);
	CHECK(ark_ring_validate(mem, size, &err) == 0);
	CHECK(ark_ring_validate(mem, size - 64, &err) == -EPROTO);
	struct ark_ring *ring = mem;
	atomic_store(&ring->head, 100);   /* head - tail > capacity */
	CHECK(ark_ring_validate(mem, size, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "indices");
	atomic_store(&ring->head, 0);
	atomic_store(&ring->magic, 0x1234);
	struct ark_ring_consumer c;
	CHECK(ark_ring_consumer_open(&c, ring, NULL, &err) == -EPROTO);
	CHECK_CONTAINS(err.msg, "magic");   /* refused: never joined the flush list */
	free(mem);
}

static void test_wait_config(void)
{
	struct ark_err err;
	struct ark_ring_wait_config w;
	unsetenv("ARK_WAIT");
	unsetenv("ARK_WAIT_SPIN_US");
	CHECK(ark_ring_wait_from_env(&w, &err) == 0);
	CHECK(w.strategy == ARK_WAIT_ADAPTIVE);
	CHECK(w.spin_ns == 5000 && w.yield_ns == 200000);
	setenv("ARK_WAIT", "block", 1);
	setenv("ARK_WAIT_SPIN_US", "7", 1);
	setenv("ARK_WAIT_YIELD_US", "9", 1);
	CHECK(ark_ring_wait_from_env(&w, &err) == 0);
	CHECK(w.strategy == ARK_WAIT_BLOCK && w.spin_ns == 7000 && w.yield_ns == 9000);
	setenv("ARK_WAIT_YIELD_US", "-1", 1);
	CHECK(ark_ring_wait_from_env(&w, &err) != 0);
	CHECK_CONTAINS(err.msg, "ARK_WAIT_YIELD_US");
	unsetenv("ARK_WAIT_YIELD_US");
	setenv("ARK_WAIT", "busy", 1);
	CHECK(ark_ring_wait_from_env(&w, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "ARK_WAIT");
	CHECK_CONTAINS(err.msg, "busy");
	setenv("ARK_WAIT", "spin", 1);
	setenv("ARK_WAIT_SPIN_US", "ten", 1);
	CHECK(ark_ring_wait_from_env(&w, &err) != 0);
	CHECK_CONTAINS(err.msg, "ARK_WAIT_SPIN_US");
	unsetenv("ARK_WAIT");
	unsetenv("ARK_WAIT_SPIN_US");
	for (int s = ARK_WAIT_SPIN; s <= ARK_WAIT_BLOCK; s++) {
		enum ark_wait parsed;
		CHECK(ark_ring_wait_parse(ark_ring_wait_name(s), &parsed, &err) == 0 && (int)parsed == s);
	}
}

/* ark_ring_commit holds a producer to what it reserved. A batch may go out
 * in several commits; one slot more than is still reserved stops a debug
 * build in the commit (abort), before the shared head moves, so nothing
 * unwritten is published. Under NDEBUG the check is compiled out (it costs
 * the hot path nothing there): the child then commits and exits 0. */
static void commit_in_child(struct ark_ring_producer *p, uint32_t reserve, uint32_t first, uint32_t second,
			    uint32_t legitimate, struct ark_ring *ring)
{
	uint64_t head_before = atomic_load(&ring->head);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		CHECK(ark_ring_try_reserve(p, reserve) == reserve);
		ark_ring_commit(p, first);
		ark_ring_commit(p, second);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
#ifdef NDEBUG
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	(void)head_before;
#else
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "commit of %u then %u after reserving %u: status %d, expected SIGABRT", first, second, reserve, status);
	/* Only the commit within the reservation reached the shared ring. */
	CHECK_EQ_U64(atomic_load(&ring->head), head_before + legitimate);
#endif
}

static void test_commit_beyond_reserve(void)
{
	size_t size = ark_ring_size(64, 16);
	CHECK(size > 0);
	/* Shared with the children, so their commits are seen here. */
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	struct ark_err err;
	CHECK(ark_ring_init(mem, size, 64, 16, 0, &err) == 0);
	struct ark_ring_producer p;
	struct ark_ring_consumer c;
	open_pair(mem, ARK_WAIT_SPIN, &p, &c);
	/* In parts, up to what was reserved: fine. */
	CHECK_EQ_U64(ark_ring_try_reserve(&p, 4), 4);
	for (uint32_t i = 0; i < 4; i++)
		event_fill(ark_ring_slot(&p, i), 64, i);
	ark_ring_commit(&p, 1);
	ark_ring_commit(&p, 3);
	CHECK_EQ_U64(ark_ring_try_peek(&c, 10), 4);
	ark_ring_release(&c, 4);
	fprintf(stderr, "(two assertion failures on ark_ring_commit follow, expected in a debug build)\n");
	commit_in_child(&p, 3, 4, 0, 0, mem);   /* more than reserved at once */
	commit_in_child(&p, 3, 2, 2, 2, mem);   /* the second part goes past the reservation */
	close_pair(&p, &c);
	munmap(mem, size);
}

int main(void)
{
	test_empty_and_full();
	for (uint32_t cap = 1; cap <= 4096; cap *= 4)
		test_wraparound(cap, 64);
	test_wraparound(8, 192);
	test_straddling_batch_exact();
	test_partial_commit_and_restart();
	test_commit_beyond_reserve();
	for (int s = ARK_WAIT_SPIN; s <= ARK_WAIT_BLOCK; s++)
		test_timeouts((enum ark_wait)s);
	test_shapes_and_headers();
	test_wait_config();
	printf("ring unit tests passed\n");
	return 0;
}
