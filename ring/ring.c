/* ring/ring.c — ring set-up, validation and the slow paths: waiting for
 * data or space (spin, yield, adaptive, block) and waking a sleeping peer.
 *
 * The invariant every path keeps: 0 <= head - tail <= capacity, head only
 * moves forward by the producer, tail only by the consumer. See ring.h for
 * the ordering argument: release/acquire on the indices; a sleeper fences
 * between raising its flag and re-checking the index; a publisher's missed
 * wake is repaired by its next publish or by ark_ring_flush, which every
 * wait calls first. */
#include "ring/ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- The thread's flush list: event counts this thread signals ---- */

#define FLUSH_LIST_MAX 32

static __thread struct ark_ring_eventcount *flush_list[FLUSH_LIST_MAX];
static __thread int flush_count;

/* Returns false when the list is full: the handle then fences every publish. */
static bool flush_list_add(struct ark_ring_eventcount *ec)
{
	for (int i = 0; i < flush_count; i++)
		if (flush_list[i] == ec)
			return true;
	if (flush_count == FLUSH_LIST_MAX)
		return false;
	flush_list[flush_count++] = ec;
	return true;
}

static void flush_list_remove(struct ark_ring_eventcount *ec)
{
	for (int i = 0; i < flush_count; i++) {
		if (flush_list[i] == ec) {
			flush_list[i] = flush_list[--flush_count];
			return;
		}
	}
}

void ark_ring_flush(void)
{
	/* Orders every publish this thread made before the loads of the peers'
	 * `sleeping` flags below: the half of the Dekker pair that the fast
	 * path leaves out. */
	atomic_thread_fence(memory_order_seq_cst);
	for (int i = 0; i < flush_count; i++)
		if (atomic_load_explicit(&flush_list[i]->sleeping, memory_order_relaxed))
			ark_ring__wake(flush_list[i]);
}

/* ---- Shapes ---- */

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

size_t ark_ring_size(uint32_t slot_size, uint32_t capacity)
{
	if (!is_power_of_two(capacity) || capacity > ARK_RING_MAX_CAPACITY)
		return 0;
	if (slot_size == 0 || slot_size % 64 || slot_size > ARK_RING_MAX_SLOT_SIZE)
		return 0;
	return sizeof(struct ark_ring) + (size_t)capacity * slot_size;
}

static int shape_error(uint32_t slot_size, uint32_t capacity, struct ark_err *err)
{
	if (!is_power_of_two(capacity) || capacity > ARK_RING_MAX_CAPACITY)
		return ark_err_set(err, -EINVAL, "ring capacity %u is not valid: expected a power of two from 1 to %u",
				   capacity, ARK_RING_MAX_CAPACITY);
	return ark_err_set(err, -EINVAL, "ring slot size %u is not valid: expected a multiple of 64 from 64 to %u",
			   slot_size, ARK_RING_MAX_SLOT_SIZE);
}

int ark_ring_init(void *memory, size_t memory_size, uint32_t slot_size, uint32_t capacity,
		  uint64_t initial_index, struct ark_err *err)
{
	size_t need = ark_ring_size(slot_size, capacity);
	if (need == 0)
		return shape_error(slot_size, capacity, err);
	if ((uintptr_t)memory % ARK_RING_BLOCK)
		return ark_err_set(err, -EINVAL, "ring memory at %p is not %u-byte aligned", memory, ARK_RING_BLOCK);
	if (memory_size < need)
		return ark_err_set(err, -ENOSPC, "ring of %u x %u-byte slots needs %zu bytes, got %zu",
				   capacity, slot_size, need, memory_size);
	struct ark_ring *ring = memory;
	memset(ring, 0, sizeof *ring);
	ring->slot_size = slot_size;
	ring->capacity = capacity;
	ring->mask = capacity - 1;
	ring->slots_offset = sizeof *ring;
	ring->total_size = need;
	ring->initial_index = initial_index;
	atomic_store_explicit(&ring->head, initial_index, memory_order_relaxed);
	atomic_store_explicit(&ring->tail, initial_index, memory_order_relaxed);
	atomic_store_explicit(&ring->magic, ARK_RING_MAGIC, memory_order_release);
	return 0;
}

int ark_ring_validate(const struct ark_ring *ring, size_t memory_size, struct ark_err *err)
{
	struct ark_ring *r = (struct ark_ring *)ring;
	uint64_t magic = atomic_load_explicit(&r->magic, memory_order_acquire);
	if (magic != ARK_RING_MAGIC)
		return ark_err_set(err, -EPROTO, "not a ring: magic 0x%016llx, expected 0x%016llx (\"ARKRING1\")",
				   (unsigned long long)magic, (unsigned long long)ARK_RING_MAGIC);
	size_t need = ark_ring_size(r->slot_size, r->capacity);
	if (need == 0 || r->mask != (uint64_t)r->capacity - 1 || r->slots_offset != sizeof *r ||
	    r->total_size != need)
		return ark_err_set(err, -EPROTO, "ring header is damaged (capacity %u, slot size %u, size %llu)",
				   r->capacity, r->slot_size, (unsigned long long)r->total_size);
	if (memory_size && need > memory_size)
		return ark_err_set(err, -EPROTO, "ring needs %zu bytes but its region holds %zu", need, memory_size);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (head - tail > r->capacity)
		return ark_err_set(err, -EPROTO, "ring indices are damaged: head %llu, tail %llu, capacity %u",
				   (unsigned long long)head, (unsigned long long)tail, r->capacity);
	return 0;
}

/* ---- Wait configuration ---- */

static const char *const wait_names[] = {"spin", "yield", "adaptive", "block"};

const char *ark_ring_wait_name(enum ark_wait strategy)
{
	return (unsigned)strategy < ARK_ARRAY_LEN(wait_names) ? wait_names[strategy] : "?";
}

int ark_ring_wait_parse(const char *text, enum ark_wait *out, struct ark_err *err)
{
	for (unsigned i = 0; text && i < ARK_ARRAY_LEN(wait_names); i++) {
		if (strcmp(text, wait_names[i]) == 0) {
			*out = (enum ark_wait)i;
			return 0;
		}
	}
	return ark_err_set(err, -EINVAL, "ARK_WAIT: expected spin, yield, adaptive or block, got '%s'",
			   text ? text : "");
}

int ark_ring_wait_from_env(struct ark_ring_wait_config *wait, struct ark_err *err)
{
	wait->strategy = ARK_WAIT_ADAPTIVE;
	const char *text = getenv("ARK_WAIT");
	if (text && *text) {
		int rc = ark_ring_wait_parse(text, &wait->strategy, err);
		if (rc)
			return rc;
	}
	uint64_t spin_us;
	int rc = ark_env_u64("ARK_WAIT_SPIN_US", 5, 0, 1000000, &spin_us, err);
	if (rc)
		return rc;
	wait->spin_ns = spin_us * 1000;
	uint64_t yield_us;
	rc = ark_env_u64("ARK_WAIT_YIELD_US", 200, 0, 10000000, &yield_us, err);
	if (rc)
		return rc;
	wait->yield_ns = yield_us * 1000;
	return 0;
}

static void default_wait(struct ark_ring_wait_config *out, const struct ark_ring_wait_config *in)
{
	if (in) {
		*out = *in;
	} else {
		out->strategy = ARK_WAIT_ADAPTIVE;
		out->spin_ns = 5000;
		out->yield_ns = 200000;
	}
}

int ark_ring_producer_open(struct ark_ring_producer *p, struct ark_ring *ring,
			   const struct ark_ring_wait_config *wait, struct ark_err *err)
{
	int rc = ark_ring_validate(ring, 0, err);
	if (rc)
		return rc;
	memset(p, 0, sizeof *p);
	p->ring = ring;
	p->slots = (uint8_t *)ring + ring->slots_offset;
	p->mask = ring->mask;
	p->slot_size = ring->slot_size;
	p->capacity = ring->capacity;
	/* A restarted producer resumes at the published head: whatever a dead
	 * predecessor reserved but never committed is simply overwritten. */
	p->head = atomic_load_explicit(&ring->head, memory_order_acquire);
	p->tail_cache = atomic_load_explicit(&ring->tail, memory_order_acquire);
	p->fence_on_publish = !flush_list_add(&ring->data_ready);
	default_wait(&p->wait, wait);
	atomic_store(&ring->producer_pid, (int32_t)getpid());
	return 0;
}

int ark_ring_consumer_open(struct ark_ring_consumer *c, struct ark_ring *ring,
			   const struct ark_ring_wait_config *wait, struct ark_err *err)
{
	int rc = ark_ring_validate(ring, 0, err);
	if (rc)
		return rc;
	memset(c, 0, sizeof *c);
	c->ring = ring;
	c->slots = (uint8_t *)ring + ring->slots_offset;
	c->mask = ring->mask;
	c->slot_size = ring->slot_size;
	c->capacity = ring->capacity;
	c->tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
	c->head_cache = atomic_load_explicit(&ring->head, memory_order_acquire);
	c->fence_on_publish = !flush_list_add(&ring->space_ready);
	default_wait(&c->wait, wait);
	atomic_store(&ring->consumer_pid, (int32_t)getpid());
	return 0;
}

void ark_ring_producer_close(struct ark_ring_producer *p)
{
	ark_ring_flush();
	flush_list_remove(&p->ring->data_ready);
}

void ark_ring_consumer_close(struct ark_ring_consumer *c)
{
	ark_ring_flush();
	flush_list_remove(&c->ring->space_ready);
}

/* ---- Waking and sleeping ---- */

static long futex(_Atomic uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
	/* Shared futex: the waiter and the waker are different processes. */
	return syscall(SYS_futex, (uint32_t *)word, op, value, timeout, NULL, 0);
}

void ark_ring__wake(struct ark_ring_eventcount *ec)
{
	if (atomic_exchange_explicit(&ec->sleeping, 0, memory_order_relaxed) == 0)
		return;
	atomic_fetch_add_explicit(&ec->seq, 1, memory_order_release);
	atomic_store_explicit(&ec->wakes, atomic_load_explicit(&ec->wakes, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	futex(&ec->seq, FUTEX_WAKE, INT_MAX, NULL);
}

typedef bool (*ready_fn)(void *side);

/* A producer that found the ring full waits until a useful run of slots is
 * free (an eighth of the ring, at most 256), not just one: otherwise, with a
 * consumer releasing one at a time, every reserve re-reads the consumer's
 * index and the line bounces between the CPUs once per event. Waiting costs
 * the waiting event nothing: it would queue behind a full ring anyway. */
static bool producer_ready(void *side)
{
	struct ark_ring_producer *p = side;
	uint32_t refill = p->capacity / 8 < 256 ? p->capacity / 8 : 256;
	if (refill == 0)
		refill = 1;
	p->tail_cache = atomic_load_explicit(&p->ring->tail, memory_order_acquire);
	return p->capacity - (p->head - p->tail_cache) >= refill;
}

static bool consumer_ready(void *side)
{
	return ark_ring_try_peek(side, 1) > 0;
}

/* One futex sleep episode loop, until ready or the deadline. */
static int sleep_until(struct ark_ring_eventcount *ec, ready_fn ready, void *side, uint64_t deadline)
{
	for (;;) {
		uint32_t ticket = atomic_load_explicit(&ec->seq, memory_order_acquire);
		atomic_store_explicit(&ec->sleeping, 1, memory_order_relaxed);
		/* Raise the flag, then look: the publisher stores, then looks at
		 * the flag. This fence is the sleeper's half of that pair. */
		atomic_thread_fence(memory_order_seq_cst);
		if (ready(side)) {
			atomic_store_explicit(&ec->sleeping, 0, memory_order_relaxed);
			return 0;
		}
		uint64_t now = ark_now_ns();
		if (now >= deadline) {
			atomic_store_explicit(&ec->sleeping, 0, memory_order_relaxed);
			return -ETIMEDOUT;
		}
		uint64_t left = deadline - now;
		struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
		atomic_store_explicit(&ec->sleeps, atomic_load_explicit(&ec->sleeps, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		if (futex(&ec->seq, FUTEX_WAIT, ticket, &ts) != 0 && errno == EINTR) {
			atomic_store_explicit(&ec->sleeping, 0, memory_order_relaxed);
			return ready(side) ? 0 : -EINTR;
		}
	}
}

/* Spinning re-reads the peer's index with a short exponential back-off (up
 * to 16 pauses, a few hundred ns): every read steals the line the peer is
 * writing, so polling flat out slows the very peer being waited for. */
#define SPIN_BACKOFF_MAX 16u

static int wait_for(const struct ark_ring_wait_config *wait, struct ark_ring_eventcount *ec,
		    ready_fn ready, void *side, uint64_t timeout_ns)
{
	/* Before this thread waits, no peer may sleep on a wake it missed. */
	ark_ring_flush();
	uint64_t start = ark_now_ns();
	uint64_t deadline = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
	uint64_t spin_deadline = deadline;
	switch (wait->strategy) {
	case ARK_WAIT_BLOCK:
		return sleep_until(ec, ready, side, deadline);
	case ARK_WAIT_ADAPTIVE:
		spin_deadline = ARK_MIN(deadline, start + wait->spin_ns);
		/* fall through */
	case ARK_WAIT_SPIN:
		for (uint32_t i = 1, pauses = 1;; i++) {
			if (ready(side))
				return 0;
			for (uint32_t k = 0; k < pauses; k++)
				ark_cpu_relax();
			if (pauses < SPIN_BACKOFF_MAX)
				pauses *= 2;
			if ((i & 15) == 0 && ark_now_ns() >= spin_deadline)
				break;
		}
		if (wait->strategy == ARK_WAIT_ADAPTIVE) {
			uint64_t yield_deadline = ARK_MIN(deadline, spin_deadline + wait->yield_ns);
			while (ark_now_ns() < yield_deadline) {
				sched_yield();
				if (ready(side))
					return 0;
			}
			return sleep_until(ec, ready, side, deadline);
		}
		return ready(side) ? 0 : -ETIMEDOUT;
	case ARK_WAIT_YIELD:
		for (;;) {
			if (ready(side))
				return 0;
			if (ark_now_ns() >= deadline)
				return ready(side) ? 0 : -ETIMEDOUT;
			sched_yield();
		}
	}
	return -EINVAL;
}

int ark_ring__wait_space(struct ark_ring_producer *p, uint64_t timeout_ns)
{
	return wait_for(&p->wait, &p->ring->space_ready, producer_ready, p, timeout_ns);
}

int ark_ring__wait_data(struct ark_ring_consumer *c, uint64_t timeout_ns)
{
	return wait_for(&c->wait, &c->ring->data_ready, consumer_ready, c, timeout_ns);
}
