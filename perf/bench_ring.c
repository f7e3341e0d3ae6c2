/* perf/bench_ring.c — `ark perf ring`: the ring between two processes against
 * the physical limit and the kernel's transports, in the same run.
 *
 * Throughput: a producer process writes events in place (every byte of each
 * event), a consumer process reads every byte and checks the sequence; the
 * consumer times first to last event. Round trip: a pinger sends one event,
 * a ponger echoes it back on a second channel; each round trip is timed with
 * the TSC and recorded in a log-linear histogram (percentiles, never a mean).
 * Baselines: a single cache line bounced between the two CPUs (the floor for
 * any round trip), a pipe, a Unix socketpair and an eventfd-signalled shared
 * buffer, with the same event sizes and batching. Each case runs after a
 * warm-up, several times; the median over runs is reported. */
#include "common/common.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "ring/ring.h"
#include "shm/shm.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RUNS 15
#define MAX_EVENT 256
#define MAX_BATCH 256
#define WAIT_NS (5ull * 1000 * 1000 * 1000)

enum transport { T_RING, T_CACHELINE, T_PIPE, T_SOCKET, T_EVENTFD, T_COUNT };
static const char *const transport_names[T_COUNT] = {"ring", "cacheline", "pipe", "socketpair", "eventfd"};

/* Everything both children see: lives in the shared segment. */
struct shared {
	/* configuration of the current run */
	enum transport transport;
	uint32_t event_size;
	uint32_t capacity;
	uint32_t batch;
	uint64_t duration_ns;
	uint64_t samples;
	uint64_t warmup;
	struct ark_ring_wait_config wait;
	int cpus[2];
	int pinned;
	/* control */
	_Atomic int ready;
	_Atomic int go;
	_Atomic int stop;
	_Atomic int producer_done;
	_Atomic uint64_t produced;
	/* results */
	uint64_t consumed;
	uint64_t first_ns;
	uint64_t last_ns;
	int failed;
	char why[ARK_ERR_MAX];
	/* the cache line of the ping-pong baseline, alone on its block */
	_Alignas(128) _Atomic uint64_t line;
	char pad[120];
	struct ark_hist rtt;   /* in TSC ticks */
};

struct channel {
	struct ark_ring *ring;   /* T_RING, T_EVENTFD: data ring (forward) */
	struct ark_ring *back;   /* return ring for round trips */
	int fd[2];               /* pipe/socket forward: [0] read end, [1] write end */
	int back_fd[2];
	int efd_data, efd_space, efd_back;
};

static struct shared *S;
static struct channel C;
static uint64_t ring_offsets[2];
static struct ark_shm segment;

static void fail(const char *fmt, const char *detail)
{
	S->failed = 1;
	snprintf(S->why, sizeof S->why, fmt, detail);
}

static void pin(int side)
{
	if (S->pinned) {
		struct ark_err err;
		if (ark_pin_cpu(S->cpus[side], &err))
			fail("%s", err.msg);
	}
}

static void start_barrier(void)
{
	atomic_fetch_add(&S->ready, 1);
	while (!atomic_load_explicit(&S->go, memory_order_acquire))
		sched_yield();
}

static inline void write_event(uint8_t *slot, uint32_t size, uint64_t seq)
{
	uint64_t *w = (uint64_t *)slot;
	w[0] = seq;
	for (uint32_t k = 1; k < size / 8; k++)
		w[k] = seq + k;
}

/* Reads every word, as a real consumer would. Returns false if out of order. */
static inline bool read_event(const uint8_t *slot, uint32_t size, uint64_t seq)
{
	const uint64_t *w = (const uint64_t *)slot;
	uint64_t acc = 0;
	for (uint32_t k = 1; k < size / 8; k++)
		acc += w[k];
	return w[0] == seq && acc == (size / 8 - 1) * seq + (uint64_t)(size / 8 - 1) * (size / 8) / 2;
}

/* ---- full-buffer I/O helpers for the kernel transports ---- */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void efd_signal(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof one) != sizeof one)
		fail("%s", "eventfd write failed");
}

static void efd_wait(int fd)
{
	uint64_t count;
	if (read(fd, &count, sizeof count) != sizeof count && errno != EINTR)
		fail("%s", "eventfd read failed");
}

/* ---- throughput: producer side ---- */

static void produce(void)
{
	pin(0);
	uint32_t size = S->event_size, batch = S->batch;
	uint64_t seq = 0;
	if (S->transport == T_RING || S->transport == T_EVENTFD) {
		struct ark_ring_producer p;
		struct ark_err err;
		if (ark_ring_producer_open(&p, C.ring, &S->wait, &err)) {
			fail("%s", err.msg);
			return;
		}
		start_barrier();
		while (!atomic_load_explicit(&S->stop, memory_order_relaxed)) {
			uint32_t n;
			if (S->transport == T_RING) {
				if (ark_ring_reserve(&p, batch, 1000000, &n))
					continue;
			} else {
				n = ark_ring_try_reserve(&p, batch);
				if (n == 0) {
					efd_wait(C.efd_space);
					continue;
				}
			}
			for (uint32_t i = 0; i < n; i++)
				write_event(ark_ring_slot(&p, i), size, seq + i);
			ark_ring_commit(&p, n);
			if (S->transport == T_EVENTFD)
				efd_signal(C.efd_data);
			seq += n;
		}
		ark_ring_producer_close(&p);
		atomic_store(&S->produced, seq);
		atomic_store(&S->producer_done, 1);
		if (S->transport == T_EVENTFD)
			efd_signal(C.efd_data);
		return;
	}
	/* pipe and socketpair: one write per event, or per batch */
	uint8_t buf[MAX_BATCH * MAX_EVENT];
	start_barrier();
	while (!atomic_load_explicit(&S->stop, memory_order_relaxed)) {
		for (uint32_t i = 0; i < batch; i++)
			write_event(buf + i * size, size, seq + i);
		if (write_all(C.fd[1], buf, (size_t)batch * size)) {
			fail("%s", "write failed");
			break;
		}
		seq += batch;
	}
	atomic_store(&S->produced, seq);
	atomic_store(&S->producer_done, 1);
	close(C.fd[1]);   /* EOF tells a blocked reader we are done */
}

/* ---- throughput: consumer side ---- */

static void consumed_one_batch(uint64_t *seq, uint32_t n)
{
	if (*seq == 0)
		S->first_ns = ark_now_ns();
	*seq += n;
}

static void consume(void)
{
	pin(1);
	uint32_t size = S->event_size, batch = S->batch;
	uint64_t seq = 0;
	if (S->transport == T_RING || S->transport == T_EVENTFD) {
		struct ark_ring_consumer c;
		struct ark_err err;
		if (ark_ring_consumer_open(&c, C.ring, &S->wait, &err)) {
			fail("%s", err.msg);
			return;
		}
		start_barrier();
		for (;;) {
			uint32_t n;
			if (S->transport == T_RING) {
				if (ark_ring_peek(&c, batch, 1000000, &n) != 0) {
					if (atomic_load(&S->producer_done) && seq == atomic_load(&S->produced))
						break;
					continue;
				}
			} else {
				n = ark_ring_try_peek(&c, batch);
				if (n == 0) {
					if (atomic_load(&S->producer_done) && seq == atomic_load(&S->produced))
						break;
					efd_wait(C.efd_data);
					continue;
				}
			}
			for (uint32_t i = 0; i < n; i++) {
				if (!read_event(ark_ring_event(&c, i), size, seq + i)) {
					fail("%s", "event out of order");
					return;
				}
			}
			ark_ring_release(&c, n);
			if (S->transport == T_EVENTFD)
				efd_signal(C.efd_space);
			consumed_one_batch(&seq, n);
		}
	} else {
		close(C.fd[1]);
		uint8_t buf[MAX_BATCH * MAX_EVENT];
		size_t have = 0;
		start_barrier();
		for (;;) {
			ssize_t r = read(C.fd[0], buf + have, (size_t)batch * size - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			have += (size_t)r;
			uint32_t n = (uint32_t)(have / size);
			for (uint32_t i = 0; i < n; i++) {
				if (!read_event(buf + i * size, size, seq + i)) {
					fail("%s", "event out of order");
					return;
				}
			}
			if (n) {
				size_t rest = have - (size_t)n * size;
				memmove(buf, buf + (size_t)n * size, rest);
				have = rest;
				consumed_one_batch(&seq, n);
			}
		}
	}
	S->last_ns = ark_now_ns();
	S->consumed = seq;
}

/* ---- round trips ---- */

static bool ring_send(struct ark_ring_producer *p, const uint8_t *event, uint32_t size)
{
	uint32_t n;
	if (ark_ring_reserve(p, 1, WAIT_NS, &n))
		return false;
	memcpy(ark_ring_slot(p, 0), event, size);
	ark_ring_commit(p, 1);
	return true;
}

static bool ring_receive(struct ark_ring_consumer *c, uint8_t *event, uint32_t size)
{
	uint32_t n;
	if (ark_ring_peek(c, 1, WAIT_NS, &n))
		return false;
	memcpy(event, ark_ring_event(c, 0), size);
	ark_ring_release(c, 1);
	return true;
}

/* One side of the round trip; the pinger (side 0) times and records. */
static void round_trips(int side)
{
	pin(side);
	uint32_t size = S->event_size;
	uint64_t total = S->warmup + S->samples;
	uint8_t event[MAX_EVENT];
	memset(event, 0x5a, sizeof event);
	struct ark_ring_producer p;
	struct ark_ring_consumer c;
	struct ark_err err;
	int out_fd = -1, in_fd = -1;
	switch (S->transport) {
	case T_RING:
	case T_EVENTFD:
		if (ark_ring_producer_open(&p, side == 0 ? C.ring : C.back, &S->wait, &err) ||
		    ark_ring_consumer_open(&c, side == 0 ? C.back : C.ring, &S->wait, &err)) {
			fail("%s", err.msg);
			return;
		}
		break;
	case T_PIPE:
	case T_SOCKET:
		out_fd = side == 0 ? C.fd[1] : C.back_fd[1];
		in_fd = side == 0 ? C.back_fd[0] : C.fd[0];
		break;
	default:
		break;
	}
	start_barrier();
	for (uint64_t i = 0; i < total; i++) {
		uint64_t t0 = side == 0 ? ark_tsc() : 0;
		bool ok = true;
		if (side == 0)
			((uint64_t *)event)[0] = i;
		switch (S->transport) {
		case T_CACHELINE:
			if (side == 0) {
				atomic_store_explicit(&S->line, 2 * i + 1, memory_order_release);
				while (atomic_load_explicit(&S->line, memory_order_acquire) != 2 * i + 2)
					ark_cpu_relax();
			} else {
				while (atomic_load_explicit(&S->line, memory_order_acquire) != 2 * i + 1)
					ark_cpu_relax();
				atomic_store_explicit(&S->line, 2 * i + 2, memory_order_release);
			}
			break;
		case T_RING:
			if (side == 0)
				ok = ring_send(&p, event, size) && ring_receive(&c, event, size);
			else
				ok = ring_receive(&c, event, size) && ring_send(&p, event, size);
			break;
		case T_EVENTFD:
			if (side == 0) {
				ok = ark_ring_try_reserve(&p, 1) == 1;
				if (ok) {
					memcpy(ark_ring_slot(&p, 0), event, size);
					ark_ring_commit(&p, 1);
					efd_signal(C.efd_data);
					while (ark_ring_try_peek(&c, 1) == 0)
						efd_wait(C.efd_back);
					memcpy(event, ark_ring_event(&c, 0), size);
					ark_ring_release(&c, 1);
				}
			} else {
				while (ark_ring_try_peek(&c, 1) == 0)
					efd_wait(C.efd_data);
				memcpy(event, ark_ring_event(&c, 0), size);
				ark_ring_release(&c, 1);
				ok = ark_ring_try_reserve(&p, 1) == 1;
				if (ok) {
					memcpy(ark_ring_slot(&p, 0), event, size);
					ark_ring_commit(&p, 1);
					efd_signal(C.efd_back);
				}
			}
			break;
		case T_PIPE:
		case T_SOCKET:
			if (side == 0)
				ok = write_all(out_fd, event, size) == 0 && read_all(in_fd, event, size) == 0;
			else
				ok = read_all(in_fd, event, size) == 0 && write_all(out_fd, event, size) == 0;
			break;
		default:
			ok = false;
		}
		if (!ok) {
			fail("%s", "round trip failed or timed out");
			return;
		}
		if (side == 0) {
			if (((uint64_t *)event)[0] != i) {
				fail("%s", "echo carried the wrong event");
				return;
			}
			if (i >= S->warmup)
				ark_hist_record(&S->rtt, ark_tsc() - t0);
		}
	}
}

/* ---- running one case ---- */

struct case_result {
	double eps[MAX_RUNS];
	double p50[MAX_RUNS], p90[MAX_RUNS], p99[MAX_RUNS], p999[MAX_RUNS], max[MAX_RUNS];
	int runs;
};

static int setup_channels(void)
{
	struct ark_err err;
	size_t bytes = ark_ring_size(S->event_size, S->capacity);
	C.ring = ark_shm_at(&segment, ring_offsets[0]);
	C.back = ark_shm_at(&segment, ring_offsets[1]);
	if (ark_ring_init(C.ring, bytes, S->event_size, S->capacity, 0, &err) ||
	    ark_ring_init(C.back, bytes, S->event_size, S->capacity, 0, &err)) {
		fprintf(stderr, "ark perf ring: %s\n", err.msg);
		return -1;
	}
	C.fd[0] = C.fd[1] = C.back_fd[0] = C.back_fd[1] = -1;
	C.efd_data = C.efd_space = C.efd_back = -1;
	int rc = 0;
	if (S->transport == T_PIPE)
		rc = pipe(C.fd) || pipe(C.back_fd);
	else if (S->transport == T_SOCKET)
		rc = socketpair(AF_UNIX, SOCK_STREAM, 0, C.fd) || socketpair(AF_UNIX, SOCK_STREAM, 0, C.back_fd);
	else if (S->transport == T_EVENTFD) {
		C.efd_data = eventfd(0, 0);
		C.efd_space = eventfd(0, 0);
		C.efd_back = eventfd(0, 0);
		rc = C.efd_data < 0 || C.efd_space < 0 || C.efd_back < 0;
	}
	if (rc) {
		fprintf(stderr, "ark perf ring: cannot create %s: %s\n", transport_names[S->transport], strerror(errno));
		return -1;
	}
	return 0;
}

static void close_channels(void)
{
	int fds[] = {C.fd[0], C.fd[1], C.back_fd[0], C.back_fd[1], C.efd_data, C.efd_space, C.efd_back};
	for (size_t i = 0; i < ARK_ARRAY_LEN(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* One run: fork both sides, let them go, stop them, collect. */
static int run_once(bool round_trip, double *eps, struct ark_hist *rtt)
{
	if (setup_channels())
		return -1;
	atomic_store(&S->ready, 0);
	atomic_store(&S->go, 0);
	atomic_store(&S->stop, 0);
	atomic_store(&S->producer_done, 0);
	atomic_store(&S->produced, 0);
	atomic_store(&S->line, 0);
	S->consumed = S->first_ns = S->last_ns = 0;
	S->failed = 0;
	S->why[0] = '\0';
	ark_hist_reset(&S->rtt);
	pid_t pids[2];
	for (int side = 0; side < 2; side++) {
		pids[side] = fork();
		if (pids[side] == 0) {
			if (round_trip)
				round_trips(side);
			else if (side == 0)
				produce();
			else
				consume();
			_exit(S->failed ? 1 : 0);
		}
	}
	/* Close the parent's copies so EOF reaches the reader. */
	close_channels();
	while (atomic_load(&S->ready) < 2 && !S->failed)
		sched_yield();
	atomic_store_explicit(&S->go, 1, memory_order_release);
	if (!round_trip) {
		struct timespec ts = {(time_t)(S->duration_ns / 1000000000u), (long)(S->duration_ns % 1000000000u)};
		nanosleep(&ts, NULL);
		atomic_store(&S->stop, 1);
	}
	/* A run that hangs (it should not) is ended after a generous limit. */
	uint64_t deadline = ark_now_ns() + 120ull * 1000 * 1000 * 1000;
	int status, done = 0, bad = 0;
	while (done < 2) {
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			done++;
			bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
			continue;
		}
		if (ark_now_ns() > deadline) {
			kill(pids[0], SIGKILL);
			kill(pids[1], SIGKILL);
			snprintf(S->why, sizeof S->why, "run did not finish in 120 s");
			bad = 1;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (bad || S->failed) {
		fprintf(stderr, "ark perf ring: %s run failed: %s\n", transport_names[S->transport],
			S->why[0] ? S->why : "a side exited abnormally");
		return -1;
	}
	if (round_trip) {
		*rtt = S->rtt;
	} else {
		if (S->consumed != atomic_load(&S->produced) || S->last_ns <= S->first_ns) {
			fprintf(stderr, "ark perf ring: consumer got %llu of %llu events\n",
				(unsigned long long)S->consumed, (unsigned long long)atomic_load(&S->produced));
			return -1;
		}
		*eps = (double)S->consumed * 1e9 / (double)(S->last_ns - S->first_ns);
	}
	return 0;
}

static int run_case(int runs, bool round_trip, struct case_result *res)
{
	double tick = ark_tsc_ns_per_tick();
	memset(res, 0, sizeof *res);
	/* Warm-up run (discarded): page faults, caches, CPU frequency. */
	double eps;
	struct ark_hist *rtt = malloc(sizeof *rtt);
	if (!rtt)
		return -1;
	uint64_t samples = S->samples;
	S->samples = samples / 4 + 1;
	uint64_t duration = S->duration_ns;
	S->duration_ns = duration / 4 + 1;
	int rc = run_once(round_trip, &eps, rtt);
	S->samples = samples;
	S->duration_ns = duration;
	for (int r = 0; rc == 0 && r < runs; r++) {
		rc = run_once(round_trip, &eps, rtt);
		if (rc)
			break;
		res->eps[r] = eps;
		if (round_trip) {
			res->p50[r] = (double)ark_hist_quantile(rtt, 0.50) * tick;
			res->p90[r] = (double)ark_hist_quantile(rtt, 0.90) * tick;
			res->p99[r] = (double)ark_hist_quantile(rtt, 0.99) * tick;
			res->p999[r] = (double)ark_hist_quantile(rtt, 0.999) * tick;
			res->max[r] = (double)rtt->max * tick;
		}
		res->runs = r + 1;
	}
	free(rtt);
	return rc;
}

/* ---- the report ---- */

struct row {
	char name[96];
	enum transport transport;
	const char *mode;      /* "single", "batched" or "rtt" */
	uint32_t event_size, capacity;
	enum ark_wait wait;
	double eps, p50, p90, p99, p999, max;
};

#define MAX_ROWS 96
static struct row rows[MAX_ROWS];
static int row_count;

static const struct row *find_row(enum transport t, const char *mode, uint32_t size, uint32_t capacity,
				  enum ark_wait wait)
{
	for (int i = 0; i < row_count; i++) {
		const struct row *r = &rows[i];
		if (r->transport == t && strcmp(r->mode, mode) == 0 && r->event_size == size &&
		    (t != T_RING || (r->capacity == capacity && r->wait == wait)))
			return r;
	}
	return NULL;
}

static double field(const struct row *r, size_t offset)
{
	return r ? *(const double *)((const char *)r + offset) : NAN;
}

#define ROW_FIELD(t, mode, size, cap, wait, member) \
	field(find_row(t, mode, size, cap, wait), offsetof(struct row, member))

static int add_row(enum transport t, const char *mode, uint32_t size, uint32_t capacity, enum ark_wait wait,
		   int runs, bool quiet)
{
	if (row_count == MAX_ROWS)
		return -1;
	struct row *r = &rows[row_count];
	memset(r, 0, sizeof *r);
	r->transport = t;
	r->mode = mode;
	r->event_size = size;
	r->capacity = capacity;
	r->wait = wait;
	if (t == T_RING)
		snprintf(r->name, sizeof r->name, "ring %uB cap=%u %s %s", size, capacity, ark_ring_wait_name(wait), mode);
	else
		snprintf(r->name, sizeof r->name, "%s %uB %s", transport_names[t], size, mode);

	bool round_trip = strcmp(mode, "rtt") == 0;
	S->transport = t;
	S->event_size = size;
	S->capacity = t == T_RING ? capacity : 1024;
	S->wait.strategy = t == T_RING ? wait : ARK_WAIT_SPIN;
	bool batched = strcmp(mode, "batched") == 0;
	S->batch = batched ? (S->capacity / 4 < MAX_BATCH ? S->capacity / 4 : MAX_BATCH) : 1;
	struct case_result res;
	if (run_case(runs, round_trip, &res))
		return -1;
	r->eps = ark_perf_median(res.eps, res.runs);
	r->p50 = ark_perf_median(res.p50, res.runs);
	r->p90 = ark_perf_median(res.p90, res.runs);
	r->p99 = ark_perf_median(res.p99, res.runs);
	r->p999 = ark_perf_median(res.p999, res.runs);
	r->max = ark_perf_median(res.max, res.runs);
	row_count++;
	if (!quiet) {
		if (round_trip)
			fprintf(stderr, "  %-42s rtt p50 %8.0f  p90 %8.0f  p99 %8.0f  p99.9 %8.0f  max %9.0f ns\n",
				r->name, r->p50, r->p90, r->p99, r->p999, r->max);
		else
			fprintf(stderr, "  %-42s %14.0f events/s\n", r->name, r->eps);
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf ring [--cpus A,B] [--runs N] [--duration MS] [--samples N] [--quick] [--json]\n\n"
		"Throughput and round-trip latency of the shared-memory ring between two\n"
		"processes, for 64- and 256-byte events, capacities 1024 and 65536, one event\n"
		"at a time and batched, under each wait strategy; and in the same run the\n"
		"baselines: a cache line bounced between the CPUs, a pipe, a Unix socketpair\n"
		"and an eventfd-signalled shared buffer.\n\n"
		"  --cpus A,B     pin producer/pinger to CPU A and consumer/ponger to CPU B\n"
		"  --runs N       measured runs per case after a warm-up (default 5; median reported)\n"
		"  --duration MS  length of each throughput run (default 200)\n"
		"  --samples N    round trips per run (default 100000; sleeping transports use a fifth)\n"
		"  --quick        one run, fewer cases (a smoke test, not a measurement)\n"
		"  --json         print one JSON object (headline figures under \"headline\")\n"
		"Progress goes to stderr; the table or JSON to stdout.\n");
}

static void print_json(bool pinned, int runs)
{
	struct ark_json j;
	ark_perf_json_begin(&j, "ring");
	ark_json_bool(&j, "pinned", pinned);
	if (pinned) {
		ark_json_array_begin(&j, "cpus");
		ark_json_number(&j, NULL, S->cpus[0]);
		ark_json_number(&j, NULL, S->cpus[1]);
		ark_json_array_end(&j);
	}
	ark_json_number(&j, "runs", runs);

	double batched = ROW_FIELD(T_RING, "batched", 64, 1024, ARK_WAIT_SPIN, eps);
	double single = ROW_FIELD(T_RING, "single", 64, 1024, ARK_WAIT_SPIN, eps);
	double rtt50 = ROW_FIELD(T_RING, "rtt", 64, 1024, ARK_WAIT_SPIN, p50);
	double rtt99 = ROW_FIELD(T_RING, "rtt", 64, 1024, ARK_WAIT_SPIN, p99);
	double adaptive99 = ROW_FIELD(T_RING, "rtt", 64, 1024, ARK_WAIT_ADAPTIVE, p99);
	double line = ROW_FIELD(T_CACHELINE, "rtt", 64, 0, 0, p50);
	double pipe_single = ROW_FIELD(T_PIPE, "single", 64, 0, 0, eps);
	double pipe_batched = ROW_FIELD(T_PIPE, "batched", 64, 0, 0, eps);
	double pipe99 = ROW_FIELD(T_PIPE, "rtt", 64, 0, 0, p99);
	/* A pipe's throughput as an event transport: one event per write(),
	 * as the ring's one-at-a-time case hands over one event per commit.
	 * The batched pipe (256 events per write) is reported beside it. */
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "ring_64B_batched_eps", batched);
	ark_json_number(&j, "ring_64B_single_eps", single);
	ark_json_number(&j, "ring_rtt_p50_ns", rtt50);
	ark_json_number(&j, "ring_rtt_p99_ns", rtt99);
	ark_json_number(&j, "ring_adaptive_rtt_p99_ns", adaptive99);
	ark_json_number(&j, "cacheline_rtt_ns", line);
	ark_json_number(&j, "pipe_64B_eps", pipe_single);
	ark_json_number(&j, "pipe_64B_batched_eps", pipe_batched);
	ark_json_number(&j, "pipe_rtt_p99_ns", pipe99);
	ark_json_number(&j, "ring_vs_pipe_throughput_ratio", single / pipe_single);
	ark_json_number(&j, "ring_vs_pipe_batched_throughput_ratio", batched / pipe_batched);
	ark_json_number(&j, "ring_rtt_vs_cacheline_ratio", rtt50 / line);
	ark_json_number(&j, "ring_adaptive_rtt_p99_vs_pipe_ratio", adaptive99 / pipe99);
	ark_json_object_end(&j);

	ark_json_array_begin(&j, "cases");
	for (int i = 0; i < row_count; i++) {
		const struct row *r = &rows[i];
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "name", r->name);
		ark_json_string(&j, "transport", transport_names[r->transport]);
		ark_json_string(&j, "mode", r->mode);
		ark_json_number(&j, "event_bytes", r->event_size);
		if (r->transport == T_RING) {
			ark_json_number(&j, "capacity", r->capacity);
			ark_json_string(&j, "wait", ark_ring_wait_name(r->wait));
		}
		if (strcmp(r->mode, "rtt") == 0) {
			ark_json_number(&j, "rtt_p50_ns", r->p50);
			ark_json_number(&j, "rtt_p90_ns", r->p90);
			ark_json_number(&j, "rtt_p99_ns", r->p99);
			ark_json_number(&j, "rtt_p999_ns", r->p999);
			ark_json_number(&j, "rtt_max_ns", r->max);
		} else {
			ark_json_number(&j, "eps", r->eps);
			ark_json_number(&j, "mb_per_s", r->eps * r->event_size / 1e6);
		}
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	ark_perf_json_end(&j);
}

static void print_table(bool pinned)
{
	ark_perf_print_machine(stdout);
	printf("pinned: %s\n\n", pinned ? "yes" : "no (use --cpus A,B)");
	printf("%-44s %14s %9s %9s %9s %9s %10s\n", "case", "events/s", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns", "max ns");
	for (int i = 0; i < row_count; i++) {
		const struct row *r = &rows[i];
		if (strcmp(r->mode, "rtt") == 0)
			printf("%-44s %14s %9.0f %9.0f %9.0f %9.0f %10.0f\n", r->name, "", r->p50, r->p90, r->p99,
			       r->p999, r->max);
		else
			printf("%-44s %14.0f\n", r->name, r->eps);
	}
	double batched = ROW_FIELD(T_RING, "batched", 64, 1024, ARK_WAIT_SPIN, eps);
	double single = ROW_FIELD(T_RING, "single", 64, 1024, ARK_WAIT_SPIN, eps);
	double pipe_single = ROW_FIELD(T_PIPE, "single", 64, 0, 0, eps);
	double pipe_batched = ROW_FIELD(T_PIPE, "batched", 64, 0, 0, eps);
	double rtt50 = ROW_FIELD(T_RING, "rtt", 64, 1024, ARK_WAIT_SPIN, p50);
	double line = ROW_FIELD(T_CACHELINE, "rtt", 64, 0, 0, p50);
	double adaptive99 = ROW_FIELD(T_RING, "rtt", 64, 1024, ARK_WAIT_ADAPTIVE, p99);
	double pipe99 = ROW_FIELD(T_PIPE, "rtt", 64, 0, 0, p99);
	printf("\nring/pipe throughput, 64 B, one event per operation: %.1fx; batched: %.1fx\n"
	       "ring rtt p50 / cache-line rtt: %.2fx   adaptive ring rtt p99 / pipe rtt p99: %.4f\n",
	       single / pipe_single, batched / pipe_batched, rtt50 / line, adaptive99 / pipe99);
}

struct options {
	int cpus[2], ncpus;
	uint64_t runs, duration_ms, samples;
	bool quick, json;
};

/* --cpus: exactly two. */
static int store_option(int id, const char *arg, void *opts, struct ark_err *err)
{
	struct options *o = opts;
	(void)id;
	int rc = ark_parse_cpu_list(arg, o->cpus, 2, &o->ncpus, "--cpus", err);
	if (!rc && o->ncpus != 2)
		rc = ark_err_set(err, -EINVAL, "--cpus: expected two CPUs such as 0,1, got '%s'", arg);
	return rc;
}

#define OPT(member) offsetof(struct options, member)
static const struct ark_perf_flag flags[] = {
	{"cpus", 'c', ARK_PERF_FLAG_CUSTOM, 0, 0, 0},
	{"runs", 'r', ARK_PERF_FLAG_U64, OPT(runs), 1, MAX_RUNS},
	{"duration", 'd', ARK_PERF_FLAG_U64, OPT(duration_ms), 10, 60000},
	{"samples", 's', ARK_PERF_FLAG_U64, OPT(samples), 100, 100000000},
	{"quick", 'q', ARK_PERF_FLAG_TRUE, OPT(quick), 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct ark_perf_cli cli = {
		.bench = "ring", .flags = flags, .usage = usage, .option = store_option};
	*o = (struct options){.cpus = {0, 1}, .runs = 5, .duration_ms = 200, .samples = 100000};
	int rc = ark_perf_parse_options(&cli, argc, argv, o);
	if (rc == ARK_PERF_RUN && o->quick) {
		o->runs = 1;
		o->duration_ms = ARK_MIN(o->duration_ms, 50);
		o->samples = ARK_MIN(o->samples, 5000);
	}
	return rc;
}

/* One segment holds the control block and both rings (largest shape):
 * 0, or the exit status with the error printed. */
static int open_segment(const struct options *o)
{
	struct ark_err err = {0};
	char name[64];
	snprintf(name, sizeof name, "ark-perf-ring-%d", (int)getpid());
	size_t ring_bytes = ark_ring_size(MAX_EVENT, 65536);
	uint64_t shared_off;
	if (ark_shm_create(&segment, name, 2 * ring_bytes + sizeof(struct shared) + (1 << 16), 0, &err) ||
	    ark_shm_alloc(&segment, "bench.shared", sizeof(struct shared), &shared_off, &err) ||
	    ark_shm_alloc(&segment, "bench.ring", ring_bytes, &ring_offsets[0], &err) ||
	    ark_shm_alloc(&segment, "bench.back", ring_bytes, &ring_offsets[1], &err)) {
		fprintf(stderr, "ark perf ring: %s\n", err.msg);
		return 1;
	}
	ark_shm_unlink(name, NULL);
	S = ark_shm_at(&segment, shared_off);
	S->pinned = o->ncpus == 2;
	S->cpus[0] = o->cpus[0];
	S->cpus[1] = o->cpus[1];
	S->duration_ns = o->duration_ms * 1000000ull;
	/* The adaptive cases wait as the product does (ARK_WAIT_SPIN_US,
	 * ARK_WAIT_YIELD_US); each case sets the strategy itself. */
	if (ark_ring_wait_from_env(&S->wait, &err)) {
		fprintf(stderr, "ark perf ring: %s\n", err.msg);
		ark_shm_detach(&segment);
		return 2;
	}
	return 0;
}

/* A round-trip row, with `samples` round trips (and a tenth as warm-up),
 * then back to the throughput cases' count. */
static int add_rtt_row(enum transport t, uint32_t size, uint32_t capacity, enum ark_wait w, uint64_t samples,
		       const struct options *o)
{
	S->samples = samples;
	S->warmup = S->samples / 10;
	int rc = add_row(t, "rtt", size, capacity, w, (int)o->runs, false);
	S->samples = o->samples;
	S->warmup = o->samples / 10;
	return rc;
}

static int run_cases(const struct options *o)
{
	static const uint32_t sizes[] = {64, 256};
	static const uint32_t capacities[] = {1024, 65536};
	static const char *const modes[] = {"batched", "single"};
	int rc = 0;
	fprintf(stderr, "ark perf ring: %s, %llu runs per case\n", S->pinned ? "pinned" : "not pinned",
		(unsigned long long)o->runs);
	S->samples = o->samples;
	S->warmup = o->samples / 10;
	rc |= add_row(T_CACHELINE, "rtt", 64, 0, 0, (int)o->runs, false);
	for (size_t si = 0; si < ARK_ARRAY_LEN(sizes) && !rc; si++) {
		for (int w = ARK_WAIT_SPIN; w <= ARK_WAIT_BLOCK && !rc; w++) {
			for (size_t ci = 0; ci < ARK_ARRAY_LEN(capacities) && !rc; ci++) {
				if (o->quick && (capacities[ci] != 1024 || sizes[si] != 64))
					continue;
				for (size_t mi = 0; mi < ARK_ARRAY_LEN(modes) && !rc; mi++)
					rc |= add_row(T_RING, modes[mi], sizes[si], capacities[ci], (enum ark_wait)w,
						      (int)o->runs, false);
				rc |= add_rtt_row(T_RING, sizes[si], capacities[ci], (enum ark_wait)w,
						  w == ARK_WAIT_BLOCK ? o->samples / 5 : o->samples, o);
			}
		}
		for (int t = T_PIPE; t <= T_EVENTFD && !rc; t++) {
			if (o->quick && sizes[si] != 64)
				continue;
			for (size_t mi = 0; mi < ARK_ARRAY_LEN(modes) && !rc; mi++)
				rc |= add_row((enum transport)t, modes[mi], sizes[si], 0, 0, (int)o->runs, false);
			rc |= add_rtt_row((enum transport)t, sizes[si], 0, 0, o->samples / 5, o);
		}
	}
	return rc;
}

static int ring_bench_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	if ((rc = open_segment(&o)))
		return rc;
	(void)ark_tsc_ns_per_tick();
	rc = run_cases(&o);
	if (!rc) {
		if (o.json)
			print_json(S->pinned, (int)o.runs);
		else
			print_table(S->pinned);
	}
	ark_shm_detach(&segment);
	return rc ? 1 : 0;
}

ARK_PERF_BENCH(ring_bench, "ring", "shared-memory ring vs cache line, pipe, socketpair and eventfd", ring_bench_main)
