/* perf/relay_run.c — one run of the five-stage relay and the measurement
 * of a transport (perf/relay.h: ark_perf_relay_run).
 *
 * Each run forks the five stages afresh; they share a control block in one
 * shm segment (unlinked as soon as it is made) with the four rings beside it.
 * Invariants kept on every path: the parent kills whatever has not exited
 * within a deadline, then reaps all five; nothing outlives the call:
 * children die with the parent (PR_SET_PDEATHSIG), redis-server is stopped
 * (SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL) and reaped, its directory
 * removed. */
#include "perf/relay.h"
#include "perf/relay_internal.h"

#include "common/common.h"
#include "event/event.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "ring/ring.h"
#include "shm/shm.h"
#include "perf/redis_server.h"

#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct control *relay_ctl;
volatile sig_atomic_t relay_interrupted;

/* ---- redis-server (perf/redis_server.h) ---- */

static int redis_reset_streams(struct ark_perf_redis *rs, struct ark_err *err)
{
	for (int h = 0; h < HOPS; h++) {
		char key[32];
		hop_key(key, sizeof key, h);
		redisReply *r = redisCommand(rs->c, "DEL %s", key);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			int rc = ark_err_set(err, -EIO, "DEL %s on redis-server port %d: %s", key, rs->port,
					     r ? r->str : rs->c->errstr);
			if (r)
				freeReplyObject(r);
			return rc;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* ---- one run ---- */

struct run_stats {
	double eps;
	double p50_ns, p99_ns, p999_ns, max_ns;
	uint64_t events;
	uint64_t trace_breaks;
	double hop_mean_ns[HOPS];
};

struct context {
	const struct ark_perf_relay_options *o;
	struct ark_shm segment;
	struct ark_perf_redis redis;
	struct ark_hist hist;      /* the last run's, copied out of the segment */
};

static void close_fds(struct hop_fds *fds)
{
	for (int h = 0; h < HOPS; h++) {
		if (fds->r[h] >= 0)
			close(fds->r[h]);
		if (fds->w[h] >= 0)
			close(fds->w[h]);
		fds->r[h] = fds->w[h] = -1;
	}
}

/* Why a run failed. A stage killed from outside is the cause, and what the
 * others then said is its consequence; otherwise the first stage's own words. */
static void run_failure(struct ark_err *err, int transport, const char *outside, bool killed)
{
	for (int s = 0; s < STAGES; s++)
		if (atomic_load(&relay_ctl->stage[s].failed) && relay_ctl->stage[s].why[0]) {
			if (killed && outside)
				ark_err_set(err, -EIO, "%s relay: %s; then %s: %s", relay_transport_names[transport], outside,
					    stage_name(s), relay_ctl->stage[s].why);
			else
				ark_err_set(err, -EIO, "%s relay: %s: %s", relay_transport_names[transport], stage_name(s),
					    relay_ctl->stage[s].why);
			return;
		}
	ark_err_set(err, -EIO, "%s relay: %s", relay_transport_names[transport], outside ? outside : "a stage failed");
}

/* Configure the control block for one run, leaving the ring offsets and
 * the segment as they are. */
static void configure_run(const struct context *ctx, int transport, enum mode mode, uint64_t duration_ns,
			  uint64_t rate_hz, uint64_t events)
{
	const struct ark_perf_relay_options *o = ctx->o;
	uint64_t offsets[HOPS];
	memcpy(offsets, relay_ctl->ring_offset, sizeof offsets);
	memset(relay_ctl, 0, offsetof(struct control, hist));
	memcpy(relay_ctl->ring_offset, offsets, sizeof offsets);
	relay_ctl->transport = transport;
	relay_ctl->mode = mode;
	relay_ctl->duration_ns = duration_ns;
	relay_ctl->rate_hz = rate_hz;
	relay_ctl->events = events;
	relay_ctl->batch = o->batch;
	relay_ctl->redis_count = o->redis_count;
	relay_ctl->redis_window = o->redis_window;
	relay_ctl->redis_maxlen = (uint32_t)ARK_MAX(100000u, 4 * (uint64_t)o->redis_window + 2 * o->latency_events);
	relay_ctl->redis_port = ctx->redis.port;
	relay_ctl->stall_ns = o->stall_ns;
	relay_ctl->cpu_count = o->cpu_count;
	memcpy(relay_ctl->cpus, o->cpus, sizeof relay_ctl->cpus);
	relay_ctl->wait = o->wait;
}

/* The four hops' pipes or socket pairs, sized to hold what a ring holds. */
static int open_hop_fds(const struct ark_perf_relay_options *o, int transport, struct hop_fds *fds,
			struct ark_err *err)
{
	for (int h = 0; h < HOPS; h++) {
		int pair[2];
		int rc = transport == ARK_PERF_RELAY_PIPES ? pipe2(pair, O_CLOEXEC)
							   : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
		if (rc) {
			int e = errno;
			close_fds(fds);
			return ark_err_set(err, -e, "create the %s for hop %d: %s",
					   transport == ARK_PERF_RELAY_PIPES ? "pipe" : "socketpair", h, strerror(e));
		}
		fds->r[h] = pair[0];
		fds->w[h] = pair[1];
		/* As much in flight as a ring holds (capacity x 256 bytes),
		 * as far as the kernel's limits let it. */
		int bytes = (int)ARK_MIN((uint64_t)o->ring_capacity * EVENT_SIZE, (uint64_t)INT32_MAX);
		if (transport == ARK_PERF_RELAY_PIPES) {
			(void)fcntl(pair[1], F_SETPIPE_SZ, bytes);
		} else {
			(void)setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
			(void)setsockopt(pair[0], SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
		}
	}
	return 0;
}

/* The transport's channels, empty: rings, fds or Redis streams. */
static int prepare_transport(struct context *ctx, int transport, struct hop_fds *fds, struct ark_err *err)
{
	const struct ark_perf_relay_options *o = ctx->o;
	for (int h = 0; h < HOPS; h++)
		fds->r[h] = fds->w[h] = -1;
	if (transport == ARK_PERF_RELAY_RINGS) {
		size_t bytes = ark_ring_size(EVENT_SIZE, o->ring_capacity);
		for (int h = 0; h < HOPS; h++)
			if (ark_ring_init(hop_ring(h), bytes, EVENT_SIZE, o->ring_capacity, 0, err))
				return ark_err_wrap(err, "ring %d", h);
	} else if (transport == ARK_PERF_RELAY_PIPES || transport == ARK_PERF_RELAY_UNIX) {
		return open_hop_fds(o, transport, fds, err);
	} else if (redis_reset_streams(&ctx->redis, err)) {
		return err ? err->code : -EIO;
	}
	return 0;
}

/* The five stage processes of a run and what became of them. */
struct stages {
	pid_t pids[STAGES];
	bool alive[STAGES];
	int running;
	const char *failure;
	bool killed, sent_kill;
	char status_text[160];
};

static void fork_stages(struct stages *st, struct hop_fds *fds)
{
	pid_t parent = getpid();
	fflush(NULL);   /* nothing buffered may be written twice */
	for (int s = 0; s < STAGES; s++) {
		st->pids[s] = fork();
		if (st->pids[s] < 0) {
			snprintf(relay_ctl->stage[s].why, sizeof relay_ctl->stage[s].why, "fork: %s", strerror(errno));
			atomic_store(&relay_ctl->stage[s].failed, 1);
			atomic_store(&relay_ctl->abort_run, 1);
			break;
		}
		if (st->pids[s] == 0)
			relay_stage_process(s, parent, fds);
		st->alive[s] = true;
		st->running++;
	}
	close_fds(fds);   /* the parent keeps no end: EOF and EPIPE reach the stages */
}

/* Reap the stages that exited; the first to fail is the run's failure. */
static void reap_stages(struct stages *st)
{
	for (int s = 0; s < STAGES; s++) {
		int status;
		if (!st->alive[s] || waitpid(st->pids[s], &status, WNOHANG) != st->pids[s])
			continue;
		st->alive[s] = false;
		st->running--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (!st->failure) {
			/* died of a signal we did not send: the cause */
			st->killed = WIFSIGNALED(status) && !st->sent_kill;
			if (WIFSIGNALED(status))
				snprintf(st->status_text, sizeof st->status_text, "%s (pid %d) killed by signal %d",
					 stage_name(s), (int)st->pids[s], WTERMSIG(status));
			else
				snprintf(st->status_text, sizeof st->status_text, "%s (pid %d) exited with status %d",
					 stage_name(s), (int)st->pids[s], WEXITSTATUS(status));
			st->failure = st->status_text;
		}
		atomic_store(&relay_ctl->abort_run, 1);
	}
}

/* Supervise: start them together, then wait for all to exit, killing what
 * is left after a failure, a deadline or an interrupt. */
static void supervise(struct stages *st, enum mode mode, uint64_t duration_ns, uint64_t rate_hz, uint64_t events)
{
	uint64_t deadline = ark_now_ns() + SETUP_NS, kill_at = 0;
	bool started = false;
	while (st->running > 0) {
		reap_stages(st);
		uint64_t now = ark_now_ns();
		if (!started && !atomic_load(&relay_ctl->abort_run) && atomic_load(&relay_ctl->ready) == STAGES) {
			started = true;
			deadline = now + (mode == MODE_THROUGHPUT ? duration_ns : events * (SEC / rate_hz)) + DRAIN_NS;
			atomic_store_explicit(&relay_ctl->go, 1, memory_order_release);
		}
		if (!atomic_load(&relay_ctl->abort_run) && now > deadline) {
			st->failure = started ? "the run did not finish within its deadline" : "the stages did not start";
			atomic_store(&relay_ctl->abort_run, 1);
		}
		if (!atomic_load(&relay_ctl->abort_run) && relay_interrupted) {
			st->failure = "relay_interrupted";
			atomic_store(&relay_ctl->abort_run, 1);
		}
		if (atomic_load(&relay_ctl->abort_run) && kill_at == 0)
			kill_at = now + KILL_GRACE_NS;
		if (kill_at && now > kill_at) {
			st->sent_kill = true;
			for (int s = 0; s < STAGES; s++)
				if (st->alive[s])
					kill(st->pids[s], SIGKILL);
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* A finished run's figures out of the control block. */
static int collect_stats(struct context *ctx, int transport, struct run_stats *stats, struct ark_err *err)
{
	if (relay_ctl->received != relay_ctl->sent)
		return ark_err_set(err, -EIO, "%s relay: Kyle sent %llu events, Aletheia received %llu",
				   relay_transport_names[transport], (unsigned long long)relay_ctl->sent,
				   (unsigned long long)relay_ctl->received);
	uint64_t counted = relay_ctl->received - relay_ctl->first_batch;
	if (counted == 0 || relay_ctl->last_ns <= relay_ctl->first_ns)
		return ark_err_set(err, -EIO, "%s relay: too few events (%llu) to time; lengthen the run",
				   relay_transport_names[transport], (unsigned long long)relay_ctl->received);
	ctx->hist = relay_ctl->hist;
	stats->eps = (double)counted * 1e9 / (double)(relay_ctl->last_ns - relay_ctl->first_ns);
	stats->p50_ns = (double)ark_hist_quantile(&ctx->hist, 0.50);
	stats->p99_ns = (double)ark_hist_quantile(&ctx->hist, 0.99);
	stats->p999_ns = (double)ark_hist_quantile(&ctx->hist, 0.999);
	stats->max_ns = (double)ctx->hist.max;
	stats->events = relay_ctl->received;
	stats->trace_breaks = relay_ctl->trace_breaks;
	for (int h = 0; h < HOPS; h++)
		stats->hop_mean_ns[h] = (double)relay_ctl->hop_sum_ns[h] / (double)relay_ctl->received;
	return 0;
}

static int run_once(struct context *ctx, int transport, enum mode mode, uint64_t duration_ns, uint64_t rate_hz,
		    uint64_t events, struct run_stats *stats, struct ark_err *err)
{
	configure_run(ctx, transport, mode, duration_ns, rate_hz, events);
	struct hop_fds fds;
	int rc = prepare_transport(ctx, transport, &fds, err);
	if (rc)
		return rc;
	struct stages st;
	memset(&st, 0, sizeof st);
	fork_stages(&st, &fds);
	supervise(&st, mode, duration_ns, rate_hz, events);
	if (atomic_load(&relay_ctl->abort_run) || st.failure) {
		run_failure(err, transport, st.failure, st.killed);
		if (relay_interrupted && err)
			err->code = -EINTR;
		return err ? err->code : -EIO;
	}
	return collect_stats(ctx, transport, stats, err);
}

/* Every measured run's events count toward the case's totals. */
static void tally(struct ark_perf_relay_case *c, const struct run_stats *st)
{
	c->events += st->events;
	c->trace_breaks += st->trace_breaks;
}

static int measure(struct context *ctx, int transport, struct ark_perf_relay_case *c, struct ark_err *err)
{
	const struct ark_perf_relay_options *o = ctx->o;
	double eps[ARK_PERF_RELAY_MAX_RUNS], sat99[ARK_PERF_RELAY_MAX_RUNS], p50[ARK_PERF_RELAY_MAX_RUNS],
		p99[ARK_PERF_RELAY_MAX_RUNS], p999[ARK_PERF_RELAY_MAX_RUNS], max[ARK_PERF_RELAY_MAX_RUNS],
		hz[ARK_PERF_RELAY_MAX_RUNS], hop[HOPS][ARK_PERF_RELAY_MAX_RUNS];
	struct run_stats st;
	/* Warm-up, discarded: page faults, caches, connections, CPU frequency. */
	double low50[ARK_PERF_RELAY_MAX_RUNS], low99[ARK_PERF_RELAY_MAX_RUNS], low_hz[ARK_PERF_RELAY_MAX_RUNS];
	bool low = o->low_rate_hz > 0 && (transport == ARK_PERF_RELAY_RINGS || transport == ARK_PERF_RELAY_REDIS_PIPELINED);
	int rc = run_once(ctx, transport, MODE_THROUGHPUT, ARK_MAX(o->duration_ns / 4, 20 * MS), o->rate_hz, 0, &st, err);
	if (!rc)
		rc = run_once(ctx, transport, MODE_LATENCY, 0, o->rate_hz, ARK_MAX(o->latency_events / 4, 100), &st, err);
	for (uint32_t r = 0; !rc && r < o->runs; r++) {
		rc = run_once(ctx, transport, MODE_THROUGHPUT, o->duration_ns, o->rate_hz, 0, &st, err);
		if (rc)
			break;
		eps[r] = st.eps;
		sat99[r] = st.p99_ns / 1e3;
		tally(c, &st);
		rc = run_once(ctx, transport, MODE_LATENCY, 0, o->rate_hz, o->latency_events, &st, err);
		if (rc)
			break;
		p50[r] = st.p50_ns / 1e3;
		p99[r] = st.p99_ns / 1e3;
		p999[r] = st.p999_ns / 1e3;
		max[r] = st.max_ns / 1e3;
		hz[r] = st.eps;
		for (int h = 0; h < HOPS; h++)
			hop[h][r] = st.hop_mean_ns[h] / 1e3;
		tally(c, &st);
		if (low) {
			rc = run_once(ctx, transport, MODE_LATENCY, 0, o->low_rate_hz, o->low_rate_events, &st, err);
			if (rc)
				break;
			low50[r] = st.p50_ns / 1e3;
			low99[r] = st.p99_ns / 1e3;
			low_hz[r] = st.eps;
			tally(c, &st);
		}
		c->runs = (int)r + 1;
	}
	if (rc)
		return rc;
	c->measured = true;
	c->eps = ark_perf_median(eps, c->runs);
	c->saturated_p99_us = ark_perf_median(sat99, c->runs);
	c->p50_us = ark_perf_median(p50, c->runs);
	c->p99_us = ark_perf_median(p99, c->runs);
	c->p999_us = ark_perf_median(p999, c->runs);
	c->max_us = ark_perf_median(max, c->runs);
	c->achieved_hz = ark_perf_median(hz, c->runs);
	for (int h = 0; h < HOPS; h++)
		c->hop_mean_us[h] = ark_perf_median(hop[h], c->runs);
	if (low) {
		c->low_rate_measured = true;
		c->low_rate_p50_us = ark_perf_median(low50, c->runs);
		c->low_rate_p99_us = ark_perf_median(low99, c->runs);
		c->low_rate_achieved_hz = ark_perf_median(low_hz, c->runs);
	}
	if (o->progress)
		fprintf(o->progress,
			"  %-16s %12.0f events/s   at %llu Hz: p50 %9.1f  p99 %9.1f  p99.9 %9.1f  max %9.1f us%s\n",
			relay_transport_names[transport], c->eps, (unsigned long long)o->rate_hz, c->p50_us, c->p99_us,
			c->p999_us, c->max_us, c->achieved_hz < 0.95 * (double)o->rate_hz ? "  (rate not sustained)" : "");
	if (o->progress && low)
		fprintf(o->progress, "  %-16s %12s             at %llu Hz: p50 %9.1f  p99 %9.1f us%s\n", "", "",
			(unsigned long long)o->low_rate_hz, c->low_rate_p50_us, c->low_rate_p99_us,
			c->low_rate_achieved_hz < 0.95 * (double)o->low_rate_hz ? "  (rate not sustained)" : "");
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	relay_interrupted = 1;
}

/* SIGINT/SIGTERM end the relay cleanly; a dead redis-server is an error,
 * not our death (SIGPIPE ignored). */
struct saved_signals {
	struct sigaction intr, term, pipe;
};

static void catch_signals(struct saved_signals *old)
{
	struct sigaction act = {.sa_handler = on_signal};
	sigemptyset(&act.sa_mask);
	relay_interrupted = 0;
	sigaction(SIGINT, &act, &old->intr);
	sigaction(SIGTERM, &act, &old->term);
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, &old->pipe);
}

static void restore_signals(const struct saved_signals *old)
{
	sigaction(SIGINT, &old->intr, NULL);
	sigaction(SIGTERM, &old->term, NULL);
	sigaction(SIGPIPE, &old->pipe, NULL);
}

/* The segment: control block and four rings; unlinked at once, so it
 * disappears with the last process that maps it, whatever happens. */
static int open_segment(struct context *ctx, bool rings, bool *have_segment, struct ark_err *err)
{
	char name[ARK_SHM_NAME_MAX];
	snprintf(name, sizeof name, "ark-perf-relay-%d", (int)getpid());
	size_t ring_bytes = ark_ring_size(EVENT_SIZE, ctx->o->ring_capacity);
	size_t size = sizeof(struct control) + (rings ? HOPS * (ring_bytes + ARK_SHM_ALIGN) : 0) + (1u << 16);
	uint64_t control_offset, ring_offset[HOPS] = {0};
	int rc = ark_shm_create(&ctx->segment, name, size, 0, err);
	if (rc)
		return rc;
	*have_segment = true;
	ark_shm_unlink(name, NULL);
	rc = ark_shm_alloc(&ctx->segment, "relay.control", sizeof(struct control), &control_offset, err);
	for (int h = 0; rings && !rc && h < HOPS; h++) {
		char region[32];
		snprintf(region, sizeof region, "relay.ring.%d", h);
		rc = ark_shm_alloc(&ctx->segment, region, ring_bytes, &ring_offset[h], err);
	}
	if (rc)
		return rc;
	relay_ctl = ark_shm_at(&ctx->segment, control_offset);
	for (int h = 0; h < HOPS; h++)
		relay_ctl->ring_offset[h] = ring_offset[h] ? ring_offset[h] - control_offset : 0;
	return 0;
}

/* Before the first Redis case: start redis-server. 0 to measure c, 1 when
 * c is skipped (no server), or a negative errno (interrupted). */
static int start_redis(struct context *ctx, struct ark_perf_relay_result *result, struct ark_perf_relay_case *c,
		       struct ark_err *err)
{
	const struct ark_perf_relay_options *options = ctx->o;
	if (result->cases[ARK_PERF_RELAY_REDIS].skipped || result->cases[ARK_PERF_RELAY_REDIS_COUNT1].skipped ||
	    result->cases[ARK_PERF_RELAY_REDIS_PIPELINED].skipped) {
		c->skipped = true;
		snprintf(c->skip_reason, sizeof c->skip_reason, "%s",
			 result->cases[ARK_PERF_RELAY_REDIS].skip_reason[0]
				 ? result->cases[ARK_PERF_RELAY_REDIS].skip_reason
				 : result->cases[ARK_PERF_RELAY_REDIS_COUNT1].skip_reason);
		return 1;
	}
	struct ark_err redis_err = {0};
	int start_rc = ark_perf_redis_start(&ctx->redis, options->redis_server, &relay_interrupted, &redis_err);
	if (start_rc == -EINTR)
		return ark_err_set(err, -EINTR, "relay: %s", redis_err.msg);
	if (start_rc) {
		c->skipped = true;
		snprintf(c->skip_reason, sizeof c->skip_reason, "%s", redis_err.msg);
		if (options->progress)
			fprintf(options->progress, "  redis cases skipped: %s\n", redis_err.msg);
		ark_perf_redis_stop(&ctx->redis, &result->redis_stopped);
		return 1;
	}
	result->redis_started = true;
	result->redis_port = ctx->redis.port;
	result->redis_pid = ctx->redis.pid;
	snprintf(result->redis_version, sizeof result->redis_version, "%s", ctx->redis.version);
	if (options->progress)
		fprintf(options->progress, "  redis-server %s started on 127.0.0.1:%d (pid %d)\n", ctx->redis.version,
			ctx->redis.port, (int)ctx->redis.pid);
	return 0;
}

static int measure_all(struct context *ctx, struct ark_perf_relay_result *result, struct ark_err *err)
{
	const struct ark_perf_relay_options *options = ctx->o;
	if (options->progress)
		fprintf(options->progress,
			"ark perf relay: Kyle -> Joey -> HRM -> Kenny -> Aletheia, %u run(s) per case, %.0f ms throughput "
			"runs, %llu events at %llu Hz, rings cap %u %s, %s\n",
			options->runs, (double)options->duration_ns / 1e6, (unsigned long long)options->latency_events,
			(unsigned long long)options->rate_hz, options->ring_capacity, ark_ring_wait_name(options->wait.strategy),
			options->cpu_count ? "pinned" : "not pinned");
	int rc = 0;
	for (int t = 0; !rc && t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		struct ark_perf_relay_case *c = &result->cases[t];
		if (!c->selected)
			continue;
		if (is_redis(t) && !result->redis_started) {
			int started = start_redis(ctx, result, c, err);
			if (started < 0)
				return started;
			if (started > 0)
				continue;
		}
		rc = measure(ctx, t, c, err);
	}
	return rc;
}

/* The headline compares against the strongest Redis case measured: the
 * highest throughput and, separately, the lowest paced p99. */
static void compare(struct ark_perf_relay_result *result)
{
	const struct ark_perf_relay_case *ring = &result->cases[ARK_PERF_RELAY_RINGS];
	result->best_redis_eps_case = result->best_redis_p99_case = -1;
	for (int t = ARK_PERF_RELAY_REDIS; t <= ARK_PERF_RELAY_REDIS_PIPELINED; t++) {
		const struct ark_perf_relay_case *c = &result->cases[t];
		if (!c->measured)
			continue;
		if (result->best_redis_eps_case < 0 || c->eps > result->cases[result->best_redis_eps_case].eps)
			result->best_redis_eps_case = t;
		if (result->best_redis_p99_case < 0 || c->p99_us < result->cases[result->best_redis_p99_case].p99_us)
			result->best_redis_p99_case = t;
	}
	if (ring->measured && result->best_redis_eps_case >= 0) {
		result->rings_vs_redis_throughput_ratio = ring->eps / result->cases[result->best_redis_eps_case].eps;
		result->redis_vs_rings_p99_ratio = result->cases[result->best_redis_p99_case].p99_us / ring->p99_us;
	}
	const struct ark_perf_relay_case *per_event = &result->cases[ARK_PERF_RELAY_REDIS];
	if (ring->measured && per_event->measured) {
		result->rings_vs_per_event_redis_throughput_ratio = ring->eps / per_event->eps;
		result->per_event_redis_vs_rings_p99_ratio = per_event->p99_us / ring->p99_us;
	}
	const struct ark_perf_relay_case *piped = &result->cases[ARK_PERF_RELAY_REDIS_PIPELINED];
	if (ring->low_rate_measured && piped->low_rate_measured)
		result->redis_vs_rings_low_rate_p99_ratio = piped->low_rate_p99_us / ring->low_rate_p99_us;
}

int ark_perf_relay_run(const struct ark_perf_relay_options *options, struct ark_perf_relay_result *result,
		       struct ark_err *err)
{
	memset(result, 0, sizeof *result);
	result->rings_vs_redis_throughput_ratio = result->redis_vs_rings_p99_ratio = NAN;
	result->rings_vs_per_event_redis_throughput_ratio = result->per_event_redis_vs_rings_p99_ratio = NAN;
	result->redis_vs_rings_low_rate_p99_ratio = NAN;
	result->best_redis_eps_case = result->best_redis_p99_case = -1;
	int rc = relay_check_options(options, err);
	if (rc)
		return rc;
	uint32_t mask = options->transports ? options->transports : ARK_PERF_RELAY_ALL;
	uint64_t t0 = ark_now_ns();
	struct context *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return ark_err_set(err, -ENOMEM, "relay: out of memory");
	ctx->o = options;
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++)
		result->cases[t].selected = (mask >> t) & 1;
	struct saved_signals old;
	catch_signals(&old);
	bool have_segment = false;
	rc = open_segment(ctx, mask & (1u << ARK_PERF_RELAY_RINGS), &have_segment, err);
	if (!rc)
		rc = measure_all(ctx, result, err);
	ark_perf_redis_stop(&ctx->redis, &result->redis_stopped);
	if (have_segment)
		ark_shm_detach(&ctx->segment);
	relay_ctl = NULL;
	free(ctx);
	restore_signals(&old);
	if (rc)
		return rc;
	compare(result);
	result->elapsed_s = (double)(ark_now_ns() - t0) / 1e9;
	return 0;
}
