/* perf/relay.h — the transport comparison of `ark perf pipeline` (and the
 * standalone `ark perf relay`): the same five-stage relay of the 256-byte
 * struct ark_event, Kyle → Joey → HRM → Kenny → Aletheia, five processes and
 * four hops, over the shm rings, over pipes, over Unix stream sockets and over
 * Redis streams (XADD, then XREAD BLOCK by the next stage, one connection per
 * stage; the transport the original ARK used).
 *
 * Kyle is the source: it stamps each event's sequence number and send time
 * (stamp_in_ns[0], CLOCK_MONOTONIC). Each middle stage stamps its own
 * stamp_in/stamp_out and forwards. Aletheia checks the sequence and the
 * trace and records end-to-end latency in a histogram. Per transport, two
 * measurements after a warm-up, each run --runs times, medians reported:
 *  - throughput: Kyle sends as fast as the transport accepts for a fixed
 *    time; events per second counted at Aletheia;
 *  - latency: Kyle sends at a fixed paced rate (10 kHz by default); p50, p99,
 *    p99.9 and max of end-to-end latency.
 *
 * For the Redis cases ark_perf_relay_run starts its own redis-server on
 * 127.0.0.1 at a free port and stops it before returning, on every path. If
 * redis-server cannot be found or started, the Redis cases are reported as
 * skipped (skip_reason says why) and the others are still measured. Every
 * child process is reaped and the shared segment unlinked before return. */
#ifndef ARK_PERF_RELAY_H
#define ARK_PERF_RELAY_H

#include "common/common.h"
#include "perf/perf.h"
#include "ring/ring.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define ARK_PERF_RELAY_STAGES 5        /* Kyle, Joey, HRM, Kenny, Aletheia */
#define ARK_PERF_RELAY_MAX_RUNS 15
#define ARK_PERF_RELAY_MAX_BATCH 1024

enum ark_perf_relay_transport {
	ARK_PERF_RELAY_RINGS,            /* ARK's SPSC rings in one shm segment */
	ARK_PERF_RELAY_PIPES,            /* one write() per batch per hop, buffers as large as a ring */
	ARK_PERF_RELAY_UNIX,             /* AF_UNIX SOCK_STREAM socketpairs, same */
	ARK_PERF_RELAY_REDIS,            /* XADD per event, XREAD BLOCK COUNT redis_count */
	ARK_PERF_RELAY_REDIS_COUNT1,     /* XADD per event, XREAD BLOCK COUNT 1 */
	ARK_PERF_RELAY_REDIS_PIPELINED,  /* a read batch's XADDs pipelined: Redis at its best */
	ARK_PERF_RELAY_TRANSPORTS
};

#define ARK_PERF_RELAY_ALL ((1u << ARK_PERF_RELAY_TRANSPORTS) - 1)

struct ark_perf_relay_options {
	uint32_t transports;        /* bit (1u << transport) per case; 0 means all */
	uint32_t runs;              /* measured runs per measurement, after one warm-up */
	uint64_t duration_ns;       /* length of each throughput run */
	uint64_t rate_hz;           /* Kyle's paced rate in latency runs */
	uint64_t latency_events;    /* events per latency run */
	uint64_t low_rate_hz;       /* a second, lower paced rate, for rings and redis_pipelined: where
				       Redis keeps up, so its p99 is not a growing backlog (0: off) */
	uint64_t low_rate_events;   /* events per low-rate run */
	uint32_t ring_capacity;     /* slots per ring, a power of two */
	uint32_t batch;             /* most events a stage takes at once (rings, pipes, sockets) */
	uint32_t redis_count;       /* XREAD COUNT of the "redis" case */
	uint32_t redis_window;      /* events Kyle may have in flight over Redis (throughput runs) */
	struct ark_ring_wait_config wait;  /* the rings' wait strategy */
	int cpus[ARK_PERF_RELAY_STAGES];   /* stage i runs on cpus[i % cpu_count] */
	int cpu_count;                     /* 0: not pinned */
	const char *redis_server;   /* path, or a name looked up on PATH */
	uint64_t stall_ns;          /* a stage that sees nothing move this long fails the run */
	FILE *progress;             /* one line per measurement; NULL for none */
};

struct ark_perf_relay_case {
	bool selected;
	bool measured;
	bool skipped;
	char skip_reason[ARK_ERR_MAX];
	int runs;
	/* throughput runs */
	double eps;                 /* median events/s at Aletheia */
	double saturated_p99_us;    /* end-to-end p99 while saturated (queueing included) */
	/* paced latency runs, end to end (Kyle's send to Aletheia's receipt) */
	double p50_us, p99_us, p999_us, max_us;
	double achieved_hz;         /* the rate Aletheia saw; below rate_hz = not sustained */
	bool low_rate_measured;     /* rings and redis_pipelined, when low_rate_hz > 0 */
	double low_rate_p50_us, low_rate_p99_us, low_rate_achieved_hz;
	double hop_mean_us[ARK_PERF_RELAY_STAGES - 1];  /* paced: mean time on each hop, from
							   one stage's send to the next's receipt */
	uint64_t events;            /* events relayed in the measured runs, all kinds */
	uint64_t trace_breaks;      /* stamps out of order (clock or relay bug); expected 0 */
};

struct ark_perf_relay_result {
	struct ark_perf_relay_case cases[ARK_PERF_RELAY_TRANSPORTS];
	/* rings against Redis at its best: the Redis case with the highest
	 * throughput (normally redis_pipelined) and the one with the lowest
	 * paced p99; -1 when no Redis case was measured */
	int best_redis_eps_case, best_redis_p99_case;
	double rings_vs_redis_throughput_ratio;
	double redis_vs_rings_p99_ratio;
	double redis_vs_rings_low_rate_p99_ratio;  /* against redis_pipelined, at low_rate_hz */
	/* and against the per-event case (one XADD round trip per event) */
	double rings_vs_per_event_redis_throughput_ratio;
	double per_event_redis_vs_rings_p99_ratio;
	/* the redis-server this call started (and stopped) */
	bool redis_started;
	bool redis_stopped;
	int redis_port;
	pid_t redis_pid;
	char redis_version[32];
	double elapsed_s;
};

/* Defaults (3 runs, 0.5 s throughput runs, 10000 events at 10 kHz and, for
 * rings and redis_pipelined, 1000 at 1 kHz, capacity 4096, batch 64, COUNT
 * 100, window 16384: about a minute for all cases) or,
 * with quick, a few seconds' smoke test. Reads ARK_WAIT and ARK_WAIT_SPIN_US;
 * fails only when those are malformed. */
int ark_perf_relay_options_init(struct ark_perf_relay_options *options, bool quick, struct ark_err *err);

/* Parse "rings,pipes,unix,redis,redis_count1,redis_pipelined" (or "all")
 * into a transports mask. */
int ark_perf_relay_parse_transports(const char *text, uint32_t *mask, struct ark_err *err);

/* Run the comparison. Returns 0 when every selected case was measured or
 * skipped for want of redis-server; a negative errno-style code and err
 * filled when a run failed (a stage's error, a sequence gap, a timeout).
 * Installs SIGINT/SIGTERM/SIGPIPE handling for its duration and restores the
 * caller's afterwards; an interrupt ends the call with -EINTR after cleanup.
 * Call it from a single-threaded process (the children and redis-server are
 * tied to the calling thread's life with PR_SET_PDEATHSIG). */
int ark_perf_relay_run(const struct ark_perf_relay_options *options, struct ark_perf_relay_result *result,
		       struct ark_err *err);

/* The headline figures, written into an object the caller has opened:
 * relay_rings_eps, relay_pipes_eps, relay_unix_eps, relay_redis_eps,
 * relay_rings_p99_us, relay_redis_p99_us, relay_rings_vs_redis_throughput_ratio,
 * relay_redis_vs_rings_p99_ratio — Redis at its best, the strongest case
 * measured — and a few more (p50s, the per-event Redis case). A figure not
 * measured is null. */
void ark_perf_relay_json_headline(struct ark_json *j, const struct ark_perf_relay_result *result);
/* The details (options, redis-server, every case) as one member `key`. */
void ark_perf_relay_json_details(struct ark_json *j, const char *key, const struct ark_perf_relay_options *options,
				 const struct ark_perf_relay_result *result);
/* A short table. */
void ark_perf_relay_print_table(FILE *out, const struct ark_perf_relay_options *options,
				const struct ark_perf_relay_result *result);

#endif /* ARK_PERF_RELAY_H */
