/* perf/relay_internal.h — what the files of the relay benchmark share
 * (not part of perf/relay.h, the interface `ark perf pipeline` calls):
 *   relay_transports.c  the five stages over rings, pipes, Unix sockets and
 *                       Redis streams: what runs in each forked stage
 *   relay_run.c         one run and the measurement of a transport: forks
 *                       the stages, watches and reaps them (ark_perf_relay_run)
 *   relay_options.c     transport names, defaults and the options' bounds
 *   relay_report.c      the JSON and the table of a result
 *   bench_relay.c       `ark perf relay` around them
 * The stages and the parent share the control block (struct control) in one
 * shm segment; the parent writes the configuration before forking, the
 * stages report through it. */
#ifndef ARK_PERF_RELAY_INTERNAL_H
#define ARK_PERF_RELAY_INTERNAL_H

#include "perf/relay.h"

#include "event/event.h"
#include "hist/hist.h"
#include "ring/ring.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define STAGES ARK_PERF_RELAY_STAGES
#define HOPS (STAGES - 1)
#define EVENT_SIZE ((uint32_t)sizeof(struct ark_event))
#define MAX_BATCH ARK_PERF_RELAY_MAX_BATCH
#define END_SEQ UINT64_MAX
#define MS 1000000ull
#define SEC 1000000000ull
#define POLL_NS (100 * MS)          /* how often a waiting stage looks at the abort flag */
#define SETUP_NS (15 * SEC)         /* fork to all five ready */
#define DRAIN_NS (30 * SEC)         /* a run's allowance beyond its nominal length */
#define KILL_GRACE_NS (2 * SEC)     /* after an abort, before SIGKILL */
#define REDIS_IO_TIMEOUT_S 5        /* socket timeout of every Redis command (> BLOCK) */
#define REDIS_BLOCK_MS (POLL_NS / MS)
/* A throughput run sends at least this many events, however slow the
 * machine (a sanitizer build on a loaded host): more than any stage takes in
 * one batch, so Aletheia always has events beyond its first batch to time. */
#define MIN_THROUGHPUT_EVENTS 1024

enum mode { MODE_THROUGHPUT, MODE_LATENCY };

extern const char *const relay_transport_names[ARK_PERF_RELAY_TRANSPORTS];

/* The control block, in the segment: the parent writes the configuration
 * before forking; the stages report through it. */
struct control {
	int transport;
	int mode;
	uint64_t duration_ns;
	uint64_t rate_hz;
	uint64_t events;            /* latency runs: events Kyle sends */
	uint32_t batch;
	uint32_t redis_count;
	uint32_t redis_window;
	uint32_t redis_maxlen;
	int redis_port;
	uint64_t stall_ns;
	int cpus[STAGES];
	int cpu_count;
	struct ark_ring_wait_config wait;
	uint64_t ring_offset[HOPS];

	_Alignas(128) _Atomic int ready;
	_Atomic int go;
	_Atomic int abort_run;
	/* Aletheia's running count, alone on its lines: Kyle reads it to keep
	 * the Redis relay's backlog within the window. */
	_Alignas(128) _Atomic uint64_t sink_received;
	_Alignas(128) uint64_t sent;       /* Kyle: events sent (end marker excluded) */
	uint64_t received;                  /* Aletheia: events received in order */
	uint64_t first_ns, last_ns;         /* Aletheia: first and last batch */
	uint64_t first_batch;               /* events in the first batch */
	uint64_t trace_breaks;
	uint64_t hop_sum_ns[HOPS];
	struct {
		_Atomic int failed;
		char why[400];
	} stage[STAGES];
	struct ark_hist hist;               /* Aletheia's, copied at the end; ns */
};

/* In the segment; set by ark_perf_relay_run, inherited by the stages. */
extern struct control *relay_ctl;
/* SIGINT/SIGTERM seen by the calling process during a run. */
extern volatile sig_atomic_t relay_interrupted;

struct hop_fds {
	int r[HOPS], w[HOPS];   /* read and write end of each hop; -1 for rings and Redis */
};

static inline const char *stage_name(int stage)
{
	return ark_agent_name((enum ark_agent)stage);
}

static inline bool is_redis(int transport)
{
	return transport == ARK_PERF_RELAY_REDIS || transport == ARK_PERF_RELAY_REDIS_COUNT1 ||
	       transport == ARK_PERF_RELAY_REDIS_PIPELINED;
}

static inline struct ark_ring *hop_ring(int hop)
{
	return (struct ark_ring *)((char *)relay_ctl + relay_ctl->ring_offset[hop]);
}

/* The Redis stream of hop `hop` (the stages use it; the run clears it). */
static inline void hop_key(char *out, size_t len, int hop)
{
	snprintf(out, len, "ark:relay:%d", hop);
}

/* relay_transports.c: the body of forked stage `stage` (never returns). */
void __attribute__((noreturn)) relay_stage_process(int stage, pid_t parent, const struct hop_fds *fds);
/* relay_options.c: the options' bounds, checked before a run. */
int relay_check_options(const struct ark_perf_relay_options *o, struct ark_err *err);

#endif /* ARK_PERF_RELAY_INTERNAL_H */
