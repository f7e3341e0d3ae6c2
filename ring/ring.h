/* ring/ring.h — lock-free single-producer single-consumer ring of fixed-size
 * slots, living in shared memory (one writer process, one reader process).
 *
 * Layout (all offsets, no pointers; every part on its own 128-byte block so
 * adjacent-line prefetch never makes two sides share):
 *   [ header, immutable after init ][ producer: head ][ consumer: tail ]
 *   [ data event count (consumer sleeps) ][ space event count (producer sleeps) ]
 *   [ slots: capacity x slot_size, capacity a power of two, slot_size % 64 == 0 ]
 *
 * Indices are free-running 64-bit counters; slot i lives at (i & mask). The
 * producer owns head, the consumer owns tail; each side keeps a cached copy of
 * the other's index in its private handle and re-reads the shared one only
 * when the ring looks full (producer) or empty (consumer).
 *
 * Ordering: the producer writes slots in place, then publishes with one
 * release store of head per batch; the consumer reads head with acquire,
 * reads the slots in place, then gives them back with one release store of
 * tail. Nothing stronger is used while events flow.
 *
 * Waiting: spin, yield, adaptive (bounded spin, then bounded sched_yield
 * polling, then futex sleep) or block (futex sleep at once). A side about to sleep raises the `sleeping` flag of
 * an event count, fences, and re-checks the index before the futex wait. The
 * other side, after each publish, looks at that flag with a plain load (a
 * line nobody writes while events flow) and makes the futex wake system call
 * only when it is raised. That load may be ordered before the publishing
 * store becomes visible, so a wake can be missed at the instant a peer falls
 * asleep; it is repaired, never lost: every thread keeps a list of the event
 * counts it signals, and before it waits for anything itself (or when it
 * calls ark_ring_flush) it fences once and wakes any peer found asleep. The
 * next publish repairs it as well. So while events flow the only cost is one
 * release store and one plain load per batch: no fence, no system call.
 * (A fence per publish was measured at 3.5 M single events/s against 13 M
 * without; membarrier-based asymmetric fences stall on a shared VM whenever
 * the other vCPU is descheduled. README's performance section has the
 * figures.) Futexes are shared (never FUTEX_PRIVATE_FLAG): the two sides are
 * different processes. Every wait has a timeout, so a side notices a peer
 * that went quiet or died.
 *
 * Delivery: a slot becomes visible only when its batch is committed; a
 * producer killed mid-batch leaves nothing half-written visible. */
#ifndef ARK_RING_H
#define ARK_RING_H

#include "common/common.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARK_RING_MAGIC 0x31474e49524b5241ull /* "ARKRING1" little-endian */
#define ARK_RING_BLOCK 128u
#define ARK_RING_MAX_CAPACITY (1u << 30)
#define ARK_RING_MAX_SLOT_SIZE (1u << 20)

enum ark_wait {
	ARK_WAIT_SPIN,      /* busy-poll; for machines with a free core per agent */
	ARK_WAIT_YIELD,     /* poll with sched_yield between looks */
	ARK_WAIT_ADAPTIVE,  /* spin ARK_WAIT_SPIN_US, yield ARK_WAIT_YIELD_US, then sleep
			     * on a futex (default) */
	ARK_WAIT_BLOCK,     /* sleep on a futex whenever there is nothing to do */
};

struct ark_ring_eventcount {
	_Atomic uint32_t seq;       /* the futex word: bumped on every wake */
	_Atomic uint32_t sleeping;  /* set by the side about to sleep */
	_Atomic uint64_t wakes;     /* futex wake calls made (diagnostics) */
	_Atomic uint64_t sleeps;    /* futex waits entered (diagnostics) */
};

struct ark_ring {
	/* Block 0: written once by ark_ring_init, read-only afterwards. */
	_Atomic uint64_t magic;
	uint32_t slot_size;
	uint32_t capacity;
	uint64_t mask;
	uint64_t slots_offset;      /* from the start of this struct */
	uint64_t total_size;
	uint64_t initial_index;
	_Atomic int32_t producer_pid;  /* last process to open each side */
	_Atomic int32_t consumer_pid;
	uint32_t reserved[2];
	char pad0[ARK_RING_BLOCK - 64];
	/* Block 1: the producer's. */
	_Alignas(ARK_RING_BLOCK) _Atomic uint64_t head;  /* next index to publish */
	char pad1[ARK_RING_BLOCK - 8];
	/* Block 2: the consumer's. */
	_Alignas(ARK_RING_BLOCK) _Atomic uint64_t tail;  /* next index to consume */
	char pad2[ARK_RING_BLOCK - 8];
	/* Block 3: the consumer sleeps here waiting for data. */
	_Alignas(ARK_RING_BLOCK) struct ark_ring_eventcount data_ready;
	char pad3[ARK_RING_BLOCK - sizeof(struct ark_ring_eventcount)];
	/* Block 4: the producer sleeps here waiting for space. */
	_Alignas(ARK_RING_BLOCK) struct ark_ring_eventcount space_ready;
	char pad4[ARK_RING_BLOCK - sizeof(struct ark_ring_eventcount)];
};

_Static_assert(sizeof(struct ark_ring) == 5 * ARK_RING_BLOCK, "ring header is five blocks");

struct ark_ring_wait_config {
	enum ark_wait strategy;
	uint64_t spin_ns;   /* adaptive: how long to spin (pause) first */
	uint64_t yield_ns;  /* adaptive: then how long to poll with sched_yield before
			     * sleeping: keeps a core from idling (whose wake-up
			     * costs tens of us in a VM) while giving it to any
			     * process that has work */
};

/* The producer's private handle. */
struct ark_ring_producer {
	struct ark_ring *ring;
	uint8_t *slots;
	uint64_t mask;
	uint32_t slot_size;
	uint32_t capacity;
	uint64_t head;        /* next index to publish (== shared head) */
	uint64_t tail_cache;  /* last tail seen */
	uint32_t reserved;    /* slots handed out by the last reserve, not yet committed */
	bool fence_on_publish; /* this thread's flush list was full: fence every publish */
	struct ark_ring_wait_config wait;
};

/* The consumer's private handle. */
struct ark_ring_consumer {
	struct ark_ring *ring;
	uint8_t *slots;
	uint64_t mask;
	uint32_t slot_size;
	uint32_t capacity;
	uint64_t tail;        /* next index to consume (== shared tail) */
	uint64_t head_cache;  /* last head seen */
	bool fence_on_publish;
	struct ark_ring_wait_config wait;
};

/* ---- Setting up ---- */

/* Bytes a ring of this shape needs (header plus slots). 0 if the shape is invalid. */
size_t ark_ring_size(uint32_t slot_size, uint32_t capacity);
/* Lay a ring out in `memory` (128-byte aligned, at least ark_ring_size bytes).
 * initial_index lets tests start the indices just below 2^64. */
int ark_ring_init(void *memory, size_t memory_size, uint32_t slot_size, uint32_t capacity,
		  uint64_t initial_index, struct ark_err *err);
/* Check a ring found in shared memory (magic, shape, sizes, indices). */
int ark_ring_validate(const struct ark_ring *ring, size_t memory_size, struct ark_err *err);

int ark_ring_producer_open(struct ark_ring_producer *p, struct ark_ring *ring,
			   const struct ark_ring_wait_config *wait, struct ark_err *err);
int ark_ring_consumer_open(struct ark_ring_consumer *c, struct ark_ring *ring,
			   const struct ark_ring_wait_config *wait, struct ark_err *err);
/* Take a handle off this thread's flush list (after a final flush). */
void ark_ring_producer_close(struct ark_ring_producer *p);
void ark_ring_consumer_close(struct ark_ring_consumer *c);

/* Wake any peer of this thread's handles that fell asleep during a publish.
 * Every ring wait does this first; call it before blocking on anything else
 * (a socket, a disk write, exiting) after publishing. */
void ark_ring_flush(void);

/* ARK_WAIT (spin|yield|adaptive|block, default adaptive), ARK_WAIT_SPIN_US
 * (default 5) and ARK_WAIT_YIELD_US (default 200) from the environment. */
int ark_ring_wait_from_env(struct ark_ring_wait_config *wait, struct ark_err *err);
int ark_ring_wait_parse(const char *text, enum ark_wait *out, struct ark_err *err);
const char *ark_ring_wait_name(enum ark_wait strategy);

/* ---- Out-of-line slow paths (used by the inline fast paths below) ---- */
void ark_ring__wake(struct ark_ring_eventcount *ec);
int ark_ring__wait_space(struct ark_ring_producer *p, uint64_t timeout_ns);
int ark_ring__wait_data(struct ark_ring_consumer *c, uint64_t timeout_ns);

static inline void ark_ring__after_publish(bool fence, struct ark_ring_eventcount *ec)
{
	if (__builtin_expect(fence, 0))
		atomic_thread_fence(memory_order_seq_cst);
	else
		atomic_signal_fence(memory_order_seq_cst); /* compiler barrier only; see "Waiting" */
	if (__builtin_expect(atomic_load_explicit(&ec->sleeping, memory_order_relaxed) != 0, 0))
		ark_ring__wake(ec);
}

/* ---- Producer fast path ---- */

/* Reserve up to `want` slots without waiting; returns how many (0 if full). */
static inline uint32_t ark_ring_try_reserve(struct ark_ring_producer *p, uint32_t want)
{
	uint64_t free_slots = p->capacity - (p->head - p->tail_cache);
	if (free_slots < want) {
		p->tail_cache = atomic_load_explicit(&p->ring->tail, memory_order_acquire);
		free_slots = p->capacity - (p->head - p->tail_cache);
	}
	uint32_t n = free_slots < want ? (uint32_t)free_slots : want;
	p->reserved = n;
	return n;
}

/* Reserve at least one and up to `want` slots, waiting per the strategy for
 * at most timeout_ns. Returns 0 and the count in *reserved, or -ETIMEDOUT. */
static inline int ark_ring_reserve(struct ark_ring_producer *p, uint32_t want, uint64_t timeout_ns,
				   uint32_t *reserved)
{
	uint32_t n = ark_ring_try_reserve(p, want);
	if (__builtin_expect(n == 0, 0)) {
		int rc = ark_ring__wait_space(p, timeout_ns);
		if (rc)
			return rc;
		n = ark_ring_try_reserve(p, want);
	}
	*reserved = n;
	return 0;
}

/* The i-th reserved slot (i < reserved), to be written in place. */
static inline void *ark_ring_slot(const struct ark_ring_producer *p, uint32_t i)
{
	return p->slots + ((p->head + i) & p->mask) * p->slot_size;
}

/* Publish the first n reserved slots (n <= reserved): one release store.
 * The rest stay reserved (a batch may go out in several commits). Committing
 * more than was reserved would publish slots nobody wrote, or overrun the
 * consumer: a debug build stops there (assert: nothing under NDEBUG). */
static inline void ark_ring_commit(struct ark_ring_producer *p, uint32_t n)
{
	assert(n <= p->reserved && "ark_ring_commit: more slots than reserved");
	p->head += n;
	p->reserved -= n;
	atomic_store_explicit(&p->ring->head, p->head, memory_order_release);
	ark_ring__after_publish(p->fence_on_publish, &p->ring->data_ready);
}

/* ---- A restarted process finds where it left off ---- */

/* The slot before index (NULL when index is where the ring began). */
static inline const void *ark_ring__slot_before(const struct ark_ring *ring, uint64_t index)
{
	if (index == ring->initial_index)
		return NULL;
	return (const uint8_t *)ring + ring->slots_offset + ((index - 1) & ring->mask) * ring->slot_size;
}

/* The last slot committed on the ring (NULL when none was yet): a producer
 * that restarts continues after what it published. The head is read with
 * acquire, so the slot it names is fully written. */
static inline const void *ark_ring_last_committed(const struct ark_ring *ring)
{
	return ark_ring__slot_before(ring, atomic_load_explicit(&ring->head, memory_order_acquire));
}

/* The last slot released by the consumer (NULL when none was yet). */
static inline const void *ark_ring_last_released(const struct ark_ring *ring)
{
	return ark_ring__slot_before(ring, atomic_load_explicit(&ring->tail, memory_order_acquire));
}

/* ---- Consumer fast path ---- */

/* How many events (up to max) can be read now, without waiting. */
static inline uint32_t ark_ring_try_peek(struct ark_ring_consumer *c, uint32_t max)
{
	uint64_t avail = c->head_cache - c->tail;
	if (avail == 0) {
		c->head_cache = atomic_load_explicit(&c->ring->head, memory_order_acquire);
		avail = c->head_cache - c->tail;
	}
	return avail < max ? (uint32_t)avail : max;
}

/* As try_peek, but re-reads the producer's index whenever fewer than max
 * are cached: for a consumer that keeps events peeked and unreleased for a
 * while (try_peek looks again only when it has none). */
static inline uint32_t ark_ring_try_peek_more(struct ark_ring_consumer *c, uint32_t max)
{
	uint64_t avail = c->head_cache - c->tail;
	if (avail < max) {
		c->head_cache = atomic_load_explicit(&c->ring->head, memory_order_acquire);
		avail = c->head_cache - c->tail;
	}
	return avail < max ? (uint32_t)avail : max;
}

/* Wait per the strategy for at least one event, at most timeout_ns. Returns 0
 * and the count (up to max) in *count, or -ETIMEDOUT. */
static inline int ark_ring_peek(struct ark_ring_consumer *c, uint32_t max, uint64_t timeout_ns,
				uint32_t *count)
{
	uint32_t n = ark_ring_try_peek(c, max);
	if (__builtin_expect(n == 0, 0)) {
		int rc = ark_ring__wait_data(c, timeout_ns);
		if (rc)
			return rc;
		n = ark_ring_try_peek(c, max);
	}
	*count = n;
	return 0;
}

/* The i-th available event (i < peeked count), read in place. */
static inline const void *ark_ring_event(const struct ark_ring_consumer *c, uint32_t i)
{
	return c->slots + ((c->tail + i) & c->mask) * c->slot_size;
}

/* Give the first n peeked slots back to the producer: one release store. */
static inline void ark_ring_release(struct ark_ring_consumer *c, uint32_t n)
{
	c->tail += n;
	atomic_store_explicit(&c->ring->tail, c->tail, memory_order_release);
	ark_ring__after_publish(c->fence_on_publish, &c->ring->space_ready);
}

/* ---- Observation (any process) ---- */

/* Events published and not yet released. */
static inline uint64_t ark_ring_depth(const struct ark_ring *ring)
{
	uint64_t tail = atomic_load_explicit(&((struct ark_ring *)ring)->tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&((struct ark_ring *)ring)->head, memory_order_acquire);
	return head - tail;
}

#endif /* ARK_RING_H */
