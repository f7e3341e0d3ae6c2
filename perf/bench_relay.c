/* perf/bench_relay.c — the five-stage relay over rings, pipes, Unix sockets
 * and Redis streams (perf/relay.h), and `ark perf relay` around it.
 *
 * Each run forks the five stages afresh; they share a control block in one
 * shm segment (unlinked as soon as it is made) with the four rings beside it.
 * Kyle sends, Joey, HRM and Kenny take, stamp and forward, Aletheia checks
 * and measures. The last event of every run is an end marker (seq ==
 * END_SEQ) that each stage forwards before it exits, so a run ends by itself
 * and every process knows it is done. Invariants kept on every path:
 *  - every wait has a timeout; a stage that sees nothing move for stall_ns
 *    fails the run, and the parent kills whatever has not exited within a
 *    deadline, then reaps all five;
 *  - nothing outlives the call: children die with the parent
 *    (PR_SET_PDEATHSIG), redis-server is stopped (SHUTDOWN NOSAVE, then
 *    SIGTERM, then SIGKILL) and reaped, its directory removed;
 *  - a run counts only if Aletheia saw every sequence number once, in order.
 *
 * All the module's code is in this one file because perf/CMakeLists.txt
 * builds perf.c and the bench_*.c files; relay.h is the interface
 * `ark perf pipeline` calls. */
#include "perf/relay.h"
#include "perf/redis_server.h"

#include "common/common.h"
#include "event/event.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "ring/ring.h"
#include "shm/shm.h"

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

static const char *const transport_names[ARK_PERF_RELAY_TRANSPORTS] = {
	"rings", "pipes", "unix", "redis", "redis_count1", "redis_pipelined"};

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

/* ---- the calling process's state ---- */

static struct control *S;           /* in the segment; inherited by the stages */
static volatile sig_atomic_t interrupted;

/* ---- a stage's own state (each child has its own copy) ---- */

static int my_stage;
static _Alignas(64) uint8_t in_buf[MAX_BATCH * sizeof(struct ark_event)];
static _Alignas(64) struct ark_event out_buf[MAX_BATCH];

static const char *stage_name(int stage)
{
	return ark_agent_name((enum ark_agent)stage);
}

/* Record this stage's failure (the first one wins) and stop the run. */
static int __attribute__((format(printf, 1, 2))) stage_fail(const char *fmt, ...)
{
	if (!atomic_exchange(&S->stage[my_stage].failed, 1)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(S->stage[my_stage].why, sizeof S->stage[my_stage].why, fmt, ap);
		va_end(ap);
	}
	atomic_store(&S->abort_run, 1);
	return -1;
}

/* A wait timed out after POLL_NS: carry on, or give up when the run was
 * aborted elsewhere (-ECANCELED, quietly) or nothing moved for stall_ns. */
static int still_waiting(uint64_t since, const char *what)
{
	if (atomic_load_explicit(&S->abort_run, memory_order_relaxed))
		return -ECANCELED;
	if (ark_now_ns() - since > S->stall_ns)
		return stage_fail("%s for %.1f s", what, (double)S->stall_ns / 1e9);
	return 0;
}

/* Kyle's template: a plausible synthetic tick, so the bytes moved are an
 * event's, not zeros. */
static void event_template(struct ark_event *e)
{
	memset(e, 0, sizeof *e);
	snprintf(e->symbol, sizeof e->symbol, "AAPL");
	e->price = 187.25;
	e->size = 100;
	e->symbol_id = 1;
	e->source = ARK_SOURCE_SYNTHETIC;
	e->flags = ARK_EVENT_SYNTHETIC;
	e->node_id = 1;
}

static inline void event_fill(struct ark_event *e, const struct ark_event *tmpl, uint64_t seq, uint64_t now)
{
	memcpy(e, tmpl, sizeof *e);
	e->seq = seq;
	e->trace_id = seq == END_SEQ ? 0 : ark_trace_id(1, seq);
	e->stamp_in_ns[0] = now;
	e->stamp_out_ns[0] = now;
}

/* Kyle's pacing: sleep until the event is due. Publishing never sleeps, so
 * wake any ring peer that fell asleep before this thread does. */
static void pace_until(uint64_t due)
{
	if (ark_now_ns() >= due)
		return;
	ark_ring_flush();
	struct timespec ts = {(time_t)(due / SEC), (long)(due % SEC)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- Aletheia's checks, shared by every transport ---- */

struct sink_state {
	uint64_t expected;
	uint64_t received;
	uint64_t first_ns, last_ns, first_batch;
	uint64_t trace_breaks;
	uint64_t hop_sum_ns[HOPS];   /* where the time goes: each hop's transit */
	struct ark_hist *hist;
};

/* Account one event received at `now`: 1 for the end marker, 0 for a good
 * event, -1 (run failed) for a gap, a duplicate or a missing stamp. */
static int sink_take(struct sink_state *st, const struct ark_event *e, uint64_t now)
{
	if (e->seq == END_SEQ)
		return 1;
	if (e->seq != st->expected)
		return stage_fail("expected seq %llu from Kenny, got %llu (events lost, repeated or torn)",
				  (unsigned long long)st->expected, (unsigned long long)e->seq);
	uint64_t previous = e->stamp_in_ns[0];
	for (int k = 0; k < HOPS; k++) {
		if (e->stamp_in_ns[k] == 0 || e->stamp_out_ns[k] == 0)
			return stage_fail("event seq %llu lacks %s's stamps", (unsigned long long)e->seq,
					  stage_name(k));
		if (e->stamp_in_ns[k] < previous || e->stamp_out_ns[k] < e->stamp_in_ns[k])
			st->trace_breaks++;
		else if (k > 0)
			st->hop_sum_ns[k - 1] += e->stamp_in_ns[k] - previous;
		previous = e->stamp_out_ns[k];
	}
	if (now < previous)
		st->trace_breaks++;
	else
		st->hop_sum_ns[HOPS - 1] += now - previous;
	ark_hist_record(st->hist, now >= e->stamp_in_ns[0] ? now - e->stamp_in_ns[0] : 0);
	st->expected++;
	return 0;
}

static void sink_batch_done(struct sink_state *st, uint64_t now, uint64_t good)
{
	if (good == 0)
		return;
	if (st->received == 0) {
		st->first_ns = now;
		st->first_batch = good;
	}
	st->last_ns = now;
	st->received += good;
	atomic_store_explicit(&S->sink_received, st->received, memory_order_release);
}

static void sink_report(const struct sink_state *st)
{
	S->received = st->received;
	S->first_ns = st->first_ns;
	S->last_ns = st->last_ns;
	S->first_batch = st->first_batch;
	S->trace_breaks = st->trace_breaks;
	memcpy(S->hop_sum_ns, st->hop_sum_ns, sizeof S->hop_sum_ns);
	S->hist = *st->hist;
}

/* ---- rings ---- */

static struct ark_ring *hop_ring(int hop)
{
	return (struct ark_ring *)((char *)S + S->ring_offset[hop]);
}

static int ring_source(struct ark_ring_producer *out)
{
	struct ark_event tmpl;
	event_template(&tmpl);
	char what[64];
	snprintf(what, sizeof what, "no ring space toward %s", stage_name(1));
	uint64_t seq = 0, start = ark_now_ns(), period = SEC / S->rate_hz;
	bool throughput = S->mode == MODE_THROUGHPUT;
	for (;;) {
		uint64_t now = ark_now_ns();
		if (throughput ? now - start >= S->duration_ns && seq >= MIN_THROUGHPUT_EVENTS : seq == S->events)
			break;
		if (!throughput)
			pace_until(start + seq * period);
		uint32_t want = throughput ? S->batch : 1, n;
		uint64_t since = ark_now_ns();
		int rc;
		while ((rc = ark_ring_reserve(out, want, POLL_NS, &n)) != 0)
			if ((rc = still_waiting(since, what)) != 0)
				return rc;
		now = ark_now_ns();
		for (uint32_t i = 0; i < n; i++)
			event_fill(ark_ring_slot(out, i), &tmpl, seq + i, now);
		ark_ring_commit(out, n);
		seq += n;
	}
	S->sent = seq;
	uint32_t n;
	uint64_t since = ark_now_ns();
	int rc;
	while ((rc = ark_ring_reserve(out, 1, POLL_NS, &n)) != 0)
		if ((rc = still_waiting(since, what)) != 0)
			return rc;
	event_fill(ark_ring_slot(out, 0), &tmpl, END_SEQ, ark_now_ns());
	ark_ring_commit(out, 1);
	return 0;
}

/* Joey, HRM, Kenny: take a batch, copy each event into the next ring with
 * this stage's stamps, publish, then release the input (at least once, as
 * the agents do). */
static int ring_middle(struct ark_ring_consumer *in, struct ark_ring_producer *out)
{
	char wait_in[64], wait_out[64];
	snprintf(wait_in, sizeof wait_in, "no event from %s", stage_name(my_stage - 1));
	snprintf(wait_out, sizeof wait_out, "no ring space toward %s", stage_name(my_stage + 1));
	uint64_t last_progress = ark_now_ns();
	for (;;) {
		uint32_t n, m;
		int rc = ark_ring_peek(in, S->batch, POLL_NS, &n);
		if (rc) {
			if ((rc = still_waiting(last_progress, wait_in)) != 0)
				return rc;
			continue;
		}
		uint64_t t_in = ark_now_ns();
		while ((rc = ark_ring_reserve(out, n, POLL_NS, &m)) != 0)
			if ((rc = still_waiting(t_in, wait_out)) != 0)
				return rc;
		/* The end marker is the last event Kyle sends: nothing follows it. */
		bool end = false;
		uint32_t copied = 0;
		while (copied < m && !end) {
			struct ark_event *e = ark_ring_slot(out, copied);
			memcpy(e, ark_ring_event(in, copied), sizeof *e);
			e->stamp_in_ns[my_stage] = t_in;
			end = e->seq == END_SEQ;
			copied++;
		}
		m = copied;
		uint64_t t_out = ark_now_ns();
		for (uint32_t i = 0; i < m; i++)
			((struct ark_event *)ark_ring_slot(out, i))->stamp_out_ns[my_stage] = t_out;
		ark_ring_commit(out, m);
		ark_ring_release(in, m);
		last_progress = t_out;
		if (end)
			return 0;
	}
}

static int ring_sink(struct ark_ring_consumer *in, struct sink_state *st)
{
	char wait_in[64];
	snprintf(wait_in, sizeof wait_in, "no event from %s", stage_name(STAGES - 2));
	uint64_t last_progress = ark_now_ns();
	for (;;) {
		uint32_t n;
		int rc = ark_ring_peek(in, S->batch, POLL_NS, &n);
		if (rc) {
			if ((rc = still_waiting(last_progress, wait_in)) != 0)
				return rc;
			continue;
		}
		uint64_t now = ark_now_ns();
		uint32_t good = 0;
		int end = 0;
		for (uint32_t i = 0; i < n && !end; i++) {
			end = sink_take(st, ark_ring_event(in, i), now);
			if (end < 0)
				return -1;
			good += end == 0;
		}
		ark_ring_release(in, n);
		sink_batch_done(st, now, good);
		last_progress = now;
		if (end)
			return 0;
	}
}

/* ---- pipes and Unix sockets: nonblocking fds, poll() only when idle ---- */

struct fd_input {
	int fd;
	size_t have;      /* bytes in in_buf; always < one event between batches */
	uint32_t batch;
};

/* Wait for at least one whole event, up to POLL_NS; *n events in in_buf. */
static int fd_receive(struct fd_input *in, uint32_t *n)
{
	size_t room = (size_t)in->batch * EVENT_SIZE;
	for (;;) {
		ssize_t r = read(in->fd, in_buf + in->have, room - in->have);
		if (r > 0) {
			in->have += (size_t)r;
			if (in->have >= EVENT_SIZE) {
				*n = (uint32_t)(in->have / EVENT_SIZE);
				return 0;
			}
			continue;
		}
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		struct pollfd p = {.fd = in->fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)(POLL_NS / MS));
		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0 && errno != EINTR)
			return -errno;
	}
}

static void fd_consumed(struct fd_input *in, uint32_t n)
{
	size_t used = (size_t)n * EVENT_SIZE;
	memmove(in_buf, in_buf + used, in->have - used);
	in->have -= used;
}

/* A batch of events, one write() for all of them (a pipe or a stream socket
 * may take it in parts): the baseline at its best, batched as the rings
 * publish. */
static int fd_send(int fd, const struct ark_event *events, uint32_t n, const char *what)
{
	const uint8_t *p = (const uint8_t *)events;
	size_t left = (size_t)n * EVENT_SIZE;
	uint64_t since = 0;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w > 0) {
			p += w;
			left -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return stage_fail("write toward %s: %s", stage_name(my_stage + 1), strerror(errno));
		if (since == 0)
			since = ark_now_ns();
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int pr = poll(&pfd, 1, (int)(POLL_NS / MS));
		int rc;
		if (pr == 0 && (rc = still_waiting(since, what)) != 0)
			return rc;
		if (pr < 0 && errno != EINTR)
			return stage_fail("poll toward %s: %s", stage_name(my_stage + 1), strerror(errno));
	}
	return 0;
}

/* ---- Redis streams ---- */

struct redis_hop {
	redisContext *c;
	char in_key[32], out_key[32];
	char last_id[64];     /* the last entry id read: XREAD continues after it */
	uint32_t count;
	bool pipelined;
	uint32_t unread_xadds;  /* pipelined: XADDs sent whose replies are not read yet */
};

/* Send what hiredis has buffered (appended commands) now. */
static int redis_flush(struct redis_hop *h)
{
	int done = 0;
	while (!done)
		if (redisBufferWrite(h->c, &done) != REDIS_OK)
			return stage_fail("write to redis-server: %s", h->c->errstr);
	return 0;
}

static int redis_check_xadd(struct redis_hop *h, redisReply *r);

/* Read the replies of the XADDs sent earlier (pipelined). */
static int redis_collect_xadds(struct redis_hop *h, uint32_t n)
{
	for (; n > 0; n--, h->unread_xadds--) {
		void *reply = NULL;
		if (redisGetReply(h->c, &reply) != REDIS_OK)
			return stage_fail("XADD %s: %s", h->out_key, h->c->errstr);
		if (redis_check_xadd(h, reply))
			return -1;
	}
	return 0;
}

static void hop_key(char *out, size_t len, int hop)
{
	snprintf(out, len, "ark:relay:%d", hop);
}

/* XREAD BLOCK for up to COUNT entries after last_id; copies each 256-byte
 * value into in_buf. -ETIMEDOUT when BLOCK expired with nothing. */
static int redis_receive(struct redis_hop *h, uint32_t *n)
{
	redisReply *r = NULL;
	if (h->unread_xadds == 0) {
		r = redisCommand(h->c, "XREAD COUNT %u BLOCK %u STREAMS %s %s", h->count, (unsigned)REDIS_BLOCK_MS,
				 h->in_key, h->last_id);
	} else {
		/* Pipelined: the XREAD goes out behind the last batch's XADDs, and
		 * their replies are read before its: one round trip per batch. */
		if (redisAppendCommand(h->c, "XREAD COUNT %u BLOCK %u STREAMS %s %s", h->count,
				       (unsigned)REDIS_BLOCK_MS, h->in_key, h->last_id) != REDIS_OK)
			return stage_fail("XREAD %s: %s", h->in_key, h->c->errstr);
		if (redis_flush(h) || redis_collect_xadds(h, h->unread_xadds))
			return -1;
		void *reply = NULL;
		if (redisGetReply(h->c, &reply) == REDIS_OK)
			r = reply;
	}
	if (!r)
		return stage_fail("XREAD %s: %s", h->in_key, h->c->errstr);
	int rc = 0;
	if (r->type == REDIS_REPLY_NIL) {
		rc = -ETIMEDOUT;
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rc = stage_fail("XREAD %s: %s", h->in_key, r->str);
		goto out;
	}
	/* [[key, [[id, [field, value]], ...]]] */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements != 2 || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		rc = stage_fail("XREAD %s: unexpected reply shape (type %d)", h->in_key, r->type);
		goto out;
	}
	const redisReply *entries = r->element[0]->element[1];
	if (entries->elements == 0 || entries->elements > h->count) {
		rc = stage_fail("XREAD %s: %zu entries for COUNT %u", h->in_key, entries->elements, h->count);
		goto out;
	}
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *entry = entries->element[i];
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
		    entry->element[0]->type != REDIS_REPLY_STRING || entry->element[1]->type != REDIS_REPLY_ARRAY ||
		    entry->element[1]->elements != 2 || entry->element[1]->element[1]->type != REDIS_REPLY_STRING ||
		    entry->element[1]->element[1]->len != EVENT_SIZE) {
			rc = stage_fail("XREAD %s: entry %zu is not one %u-byte event", h->in_key, i, EVENT_SIZE);
			goto out;
		}
		memcpy(in_buf + i * EVENT_SIZE, entry->element[1]->element[1]->str, EVENT_SIZE);
		if (entry->element[0]->len >= sizeof h->last_id) {
			rc = stage_fail("XREAD %s: entry id too long", h->in_key);
			goto out;
		}
		memcpy(h->last_id, entry->element[0]->str, entry->element[0]->len);
		h->last_id[entry->element[0]->len] = '\0';
	}
	*n = (uint32_t)entries->elements;
out:
	freeReplyObject(r);
	return rc;
}

static int redis_check_xadd(struct redis_hop *h, redisReply *r)
{
	int rc = 0;
	if (!r)
		rc = stage_fail("XADD %s: %s", h->out_key, h->c->errstr);
	else if (r->type == REDIS_REPLY_ERROR)
		rc = stage_fail("XADD %s: %s", h->out_key, r->str);
	else if (r->type != REDIS_REPLY_STRING)
		rc = stage_fail("XADD %s: reply of type %d, expected an entry id", h->out_key, r->type);
	if (r)
		freeReplyObject(r);
	return rc;
}

/* XADD each event: one command and round trip per event, or, pipelined, all
 * the batch's commands written before the replies are read. MAXLEN ~ bounds
 * the server's memory; it is far above any backlog a run can build (the
 * window, or a latency run's length), and Aletheia's sequence check would
 * catch an entry trimmed unread. */
static int redis_send(struct redis_hop *h, const struct ark_event *events, uint32_t n)
{
	if (!h->pipelined) {
		for (uint32_t i = 0; i < n; i++) {
			redisReply *r = redisCommand(h->c, "XADD %s MAXLEN ~ %u * e %b", h->out_key, S->redis_maxlen,
						     (const void *)&events[i], (size_t)EVENT_SIZE);
			if (redis_check_xadd(h, r))
				return -1;
		}
		return 0;
	}
	/* Pipelined: this batch's XADDs go out at once, and the replies read
	 * are the previous batch's (a middle stage reads them with its next
	 * XREAD): the connection never sits idle waiting for a round trip. */
	uint32_t earlier = h->unread_xadds;
	for (uint32_t i = 0; i < n; i++)
		if (redisAppendCommand(h->c, "XADD %s MAXLEN ~ %u * e %b", h->out_key, S->redis_maxlen,
				       (const void *)&events[i], (size_t)EVENT_SIZE) != REDIS_OK)
			return stage_fail("XADD %s: %s", h->out_key, h->c->errstr);
	h->unread_xadds += n;
	if (redis_flush(h))
		return -1;
	return my_stage == 0 ? redis_collect_xadds(h, earlier) : 0;
}

/* ---- pipes, sockets and Redis: one stage loop over a small interface ---- */

struct stream_stage {
	bool redis;
	struct fd_input in;
	int out_fd;
	struct redis_hop hop;
	char wait_in[64], wait_out[64];
};

static int stream_receive(struct stream_stage *s, uint32_t *n)
{
	return s->redis ? redis_receive(&s->hop, n) : fd_receive(&s->in, n);
}

static void stream_consumed(struct stream_stage *s, uint32_t n)
{
	if (!s->redis)
		fd_consumed(&s->in, n);
}

static int stream_send(struct stream_stage *s, const struct ark_event *events, uint32_t n)
{
	if (s->redis)
		return redis_send(&s->hop, events, n);
	return fd_send(s->out_fd, events, n, s->wait_out);
}

/* Wait for the next batch; 0 and *n > 0, or the stage's end (rc < 0). */
static int stream_wait(struct stream_stage *s, uint64_t last_progress, uint32_t *n)
{
	for (;;) {
		int rc = stream_receive(s, n);
		if (rc == 0)
			return 0;
		if (rc == -EPIPE)
			return stage_fail("%s closed its end before the end marker", stage_name(my_stage - 1));
		if (rc != -ETIMEDOUT) {
			if (!atomic_load(&S->stage[my_stage].failed))
				stage_fail("read from %s: %s", stage_name(my_stage - 1), strerror(-rc));
			return -1;
		}
		if ((rc = still_waiting(last_progress, s->wait_in)) != 0)
			return rc;
	}
}

static int stream_source(struct stream_stage *s)
{
	struct ark_event tmpl;
	event_template(&tmpl);
	uint64_t seq = 0, start = ark_now_ns(), period = SEC / S->rate_hz;
	bool throughput = S->mode == MODE_THROUGHPUT;
	/* Throughput runs hand the transport a batch per call, as the rings'
	 * Kyle publishes one: a pipe's or a socket's batch in one write(),
	 * pipelined Redis a COUNT-sized batch of XADDs. Only the per-event Redis
	 * cases (one XADD and round trip each, as the original ARK did) send one
	 * at a time; paced runs send each event as it is due. */
	uint32_t per_send = !throughput ? 1 : s->redis ? (s->hop.pipelined ? S->redis_count : 1) : S->batch;
	for (;;) {
		uint64_t now = ark_now_ns();
		if (throughput ? now - start >= S->duration_ns && seq >= MIN_THROUGHPUT_EVENTS : seq == S->events)
			break;
		if (!throughput)
			pace_until(start + seq * period);
		if (s->redis && throughput) {
			/* Redis never pushes back: keep Kyle within the window of
			 * Aletheia, as a ring's capacity or a pipe's buffer would. */
			uint64_t since = ark_now_ns();
			while (seq + per_send - atomic_load_explicit(&S->sink_received, memory_order_acquire) >
			       S->redis_window) {
				int rc = still_waiting(since, "Aletheia made no progress on the Redis relay");
				if (rc)
					return rc;
				struct timespec ts = {0, 20000};
				nanosleep(&ts, NULL);
			}
		}
		now = ark_now_ns();
		for (uint32_t i = 0; i < per_send; i++)
			event_fill(&out_buf[i], &tmpl, seq + i, now);
		if (stream_send(s, out_buf, per_send))
			return -1;
		seq += per_send;
	}
	S->sent = seq;
	event_fill(&out_buf[0], &tmpl, END_SEQ, ark_now_ns());
	return stream_send(s, out_buf, 1);
}

static int stream_middle(struct stream_stage *s)
{
	uint64_t last_progress = ark_now_ns();
	for (;;) {
		uint32_t n;
		int rc = stream_wait(s, last_progress, &n);
		if (rc)
			return rc;
		uint64_t t_in = ark_now_ns();
		struct ark_event *events = (struct ark_event *)in_buf;
		bool end = false;
		uint32_t m = 0;
		while (m < n && !end) {
			events[m].stamp_in_ns[my_stage] = t_in;
			end = events[m++].seq == END_SEQ;
		}
		uint64_t t_out = ark_now_ns();
		for (uint32_t i = 0; i < m; i++)
			events[i].stamp_out_ns[my_stage] = t_out;
		if (stream_send(s, events, m))
			return -1;
		stream_consumed(s, m);
		last_progress = ark_now_ns();
		if (end)
			return 0;
	}
}

static int stream_sink(struct stream_stage *s, struct sink_state *st)
{
	uint64_t last_progress = ark_now_ns();
	for (;;) {
		uint32_t n;
		int rc = stream_wait(s, last_progress, &n);
		if (rc)
			return rc;
		uint64_t now = ark_now_ns();
		const struct ark_event *events = (const struct ark_event *)in_buf;
		uint32_t good = 0, m = 0;
		int end = 0;
		while (m < n && !end) {
			end = sink_take(st, &events[m++], now);
			if (end < 0)
				return -1;
			good += end == 0;
		}
		stream_consumed(s, m);
		sink_batch_done(st, now, good);
		last_progress = now;
		if (end)
			return 0;
	}
}

/* ---- a stage process ---- */

struct hop_fds {
	int r[HOPS], w[HOPS];   /* read and write end of each hop; -1 for rings and Redis */
};

static bool is_redis(int transport)
{
	return transport == ARK_PERF_RELAY_REDIS || transport == ARK_PERF_RELAY_REDIS_COUNT1 ||
	       transport == ARK_PERF_RELAY_REDIS_PIPELINED;
}

static int wait_for_go(void)
{
	atomic_fetch_add(&S->ready, 1);
	uint64_t since = ark_now_ns();
	while (!atomic_load_explicit(&S->go, memory_order_acquire)) {
		if (atomic_load(&S->abort_run))
			return -ECANCELED;
		if (ark_now_ns() - since > SETUP_NS)
			return stage_fail("no start signal within %llu s", (unsigned long long)(SETUP_NS / SEC));
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int run_stage(const struct hop_fds *fds, struct ark_hist *hist)
{
	int stage = my_stage;
	if (S->cpu_count > 0) {
		struct ark_err e;
		if (ark_pin_cpu(S->cpus[stage % S->cpu_count], &e))
			return stage_fail("%s", e.msg);
	}
	if (stage == 0)
		prctl(PR_SET_TIMERSLACK, 1UL);   /* pace to the microsecond, not the default 50 */
	struct sink_state sink = {.hist = hist};
	ark_hist_reset(hist);
	int rc;
	if (S->transport == ARK_PERF_RELAY_RINGS) {
		struct ark_ring_consumer in;
		struct ark_ring_producer out;
		struct ark_err e;
		if (stage > 0 && ark_ring_consumer_open(&in, hop_ring(stage - 1), &S->wait, &e))
			return stage_fail("open the ring from %s: %s", stage_name(stage - 1), e.msg);
		if (stage < STAGES - 1 && ark_ring_producer_open(&out, hop_ring(stage), &S->wait, &e))
			return stage_fail("open the ring toward %s: %s", stage_name(stage + 1), e.msg);
		rc = wait_for_go();
		if (rc == 0) {
			if (stage == 0)
				rc = ring_source(&out);
			else if (stage == STAGES - 1)
				rc = ring_sink(&in, &sink);
			else
				rc = ring_middle(&in, &out);
		}
		ark_ring_flush();   /* a peer asleep on our last publish must wake */
		if (stage > 0)
			ark_ring_consumer_close(&in);
		if (stage < STAGES - 1)
			ark_ring_producer_close(&out);
	} else {
		struct stream_stage s = {.redis = is_redis(S->transport), .out_fd = -1};
		s.in.fd = -1;
		s.in.batch = S->batch;
		if (stage > 0)
			snprintf(s.wait_in, sizeof s.wait_in, "no event from %s", stage_name(stage - 1));
		if (stage < STAGES - 1)
			snprintf(s.wait_out, sizeof s.wait_out, "no room toward %s", stage_name(stage + 1));
		if (s.redis) {
			char why[256];
			s.hop.c = ark_perf_redis_connect(S->redis_port, why, sizeof why);
			if (!s.hop.c)
				return stage_fail("%s", why);
			if (stage > 0)
				hop_key(s.hop.in_key, sizeof s.hop.in_key, stage - 1);
			if (stage < STAGES - 1)
				hop_key(s.hop.out_key, sizeof s.hop.out_key, stage);
			/* The parent deleted the streams before forking: read from the start. */
			snprintf(s.hop.last_id, sizeof s.hop.last_id, "0-0");
			s.hop.count = S->transport == ARK_PERF_RELAY_REDIS_COUNT1 ? 1 : S->redis_count;
			s.hop.pipelined = S->transport == ARK_PERF_RELAY_REDIS_PIPELINED;
		} else {
			if (stage > 0) {
				s.in.fd = fds->r[stage - 1];
				if (set_nonblocking(s.in.fd))
					return stage_fail("make the input nonblocking: %s", strerror(errno));
			}
			if (stage < STAGES - 1) {
				s.out_fd = fds->w[stage];
				if (set_nonblocking(s.out_fd))
					return stage_fail("make the output nonblocking: %s", strerror(errno));
			}
		}
		rc = wait_for_go();
		if (rc == 0) {
			if (stage == 0)
				rc = stream_source(&s);
			else if (stage == STAGES - 1)
				rc = stream_sink(&s, &sink);
			else
				rc = stream_middle(&s);
		}
		if (rc == 0 && s.hop.c && s.hop.unread_xadds)
			rc = redis_collect_xadds(&s.hop, s.hop.unread_xadds);   /* the end marker's too */
		if (s.hop.c)
			redisFree(s.hop.c);
	}
	if (rc == 0 && stage == STAGES - 1)
		sink_report(&sink);
	return rc;
}

static void __attribute__((noreturn)) stage_process(int stage, pid_t parent, const struct hop_fds *fds)
{
	/* Die with the parent, whatever kills it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);   /* a dead reader is an EPIPE error, reported */
	my_stage = stage;
	for (int h = 0; h < HOPS; h++) {
		if (fds->r[h] >= 0 && h != stage - 1)
			close(fds->r[h]);
		if (fds->w[h] >= 0 && h != stage)
			close(fds->w[h]);
	}
	static struct ark_hist hist;
	int rc = run_stage(fds, &hist);
	_exit(rc == 0 ? 0 : 1);
}

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
		if (atomic_load(&S->stage[s].failed) && S->stage[s].why[0]) {
			if (killed && outside)
				ark_err_set(err, -EIO, "%s relay: %s; then %s: %s", transport_names[transport], outside,
					    stage_name(s), S->stage[s].why);
			else
				ark_err_set(err, -EIO, "%s relay: %s: %s", transport_names[transport], stage_name(s),
					    S->stage[s].why);
			return;
		}
	ark_err_set(err, -EIO, "%s relay: %s", transport_names[transport], outside ? outside : "a stage failed");
}

static int run_once(struct context *ctx, int transport, enum mode mode, uint64_t duration_ns, uint64_t rate_hz,
		    uint64_t events, struct run_stats *stats, struct ark_err *err)
{
	const struct ark_perf_relay_options *o = ctx->o;
	/* Configure, leaving the ring offsets and the segment as they are. */
	uint64_t offsets[HOPS];
	memcpy(offsets, S->ring_offset, sizeof offsets);
	memset(S, 0, offsetof(struct control, hist));
	memcpy(S->ring_offset, offsets, sizeof offsets);
	S->transport = transport;
	S->mode = mode;
	S->duration_ns = duration_ns;
	S->rate_hz = rate_hz;
	S->events = events;
	S->batch = o->batch;
	S->redis_count = o->redis_count;
	S->redis_window = o->redis_window;
	S->redis_maxlen = (uint32_t)ARK_MAX(100000u, 4 * (uint64_t)o->redis_window + 2 * o->latency_events);
	S->redis_port = ctx->redis.port;
	S->stall_ns = o->stall_ns;
	S->cpu_count = o->cpu_count;
	memcpy(S->cpus, o->cpus, sizeof S->cpus);
	S->wait = o->wait;

	struct hop_fds fds;
	for (int h = 0; h < HOPS; h++)
		fds.r[h] = fds.w[h] = -1;
	if (transport == ARK_PERF_RELAY_RINGS) {
		size_t bytes = ark_ring_size(EVENT_SIZE, o->ring_capacity);
		for (int h = 0; h < HOPS; h++)
			if (ark_ring_init(hop_ring(h), bytes, EVENT_SIZE, o->ring_capacity, 0, err))
				return ark_err_wrap(err, "ring %d", h);
	} else if (transport == ARK_PERF_RELAY_PIPES || transport == ARK_PERF_RELAY_UNIX) {
		for (int h = 0; h < HOPS; h++) {
			int pair[2];
			int rc = transport == ARK_PERF_RELAY_PIPES ? pipe2(pair, O_CLOEXEC)
								   : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair);
			if (rc) {
				int e = errno;
				close_fds(&fds);
				return ark_err_set(err, -e, "create the %s for hop %d: %s",
						   transport == ARK_PERF_RELAY_PIPES ? "pipe" : "socketpair", h, strerror(e));
			}
			fds.r[h] = pair[0];
			fds.w[h] = pair[1];
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
	} else if (redis_reset_streams(&ctx->redis, err)) {
		return err ? err->code : -EIO;
	}

	pid_t pids[STAGES];
	bool alive[STAGES] = {false};
	int running = 0;
	pid_t parent = getpid();
	fflush(NULL);   /* nothing buffered may be written twice */
	for (int s = 0; s < STAGES; s++) {
		pids[s] = fork();
		if (pids[s] < 0) {
			snprintf(S->stage[s].why, sizeof S->stage[s].why, "fork: %s", strerror(errno));
			atomic_store(&S->stage[s].failed, 1);
			atomic_store(&S->abort_run, 1);
			break;
		}
		if (pids[s] == 0)
			stage_process(s, parent, &fds);
		alive[s] = true;
		running++;
	}
	close_fds(&fds);   /* the parent keeps no end: EOF and EPIPE reach the stages */

	/* Supervise: start them together, then wait for all to exit, killing
	 * what is left after a failure, a deadline or an interrupt. */
	const char *failure = NULL;
	bool killed = false, sent_kill = false;
	char status_text[160] = "";
	uint64_t deadline = ark_now_ns() + SETUP_NS, kill_at = 0;
	bool started = false;
	while (running > 0) {
		for (int s = 0; s < STAGES; s++) {
			int status;
			if (!alive[s] || waitpid(pids[s], &status, WNOHANG) != pids[s])
				continue;
			alive[s] = false;
			running--;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				if (!failure) {
					/* died of a signal we did not send: the cause */
					killed = WIFSIGNALED(status) && !sent_kill;
					if (WIFSIGNALED(status))
						snprintf(status_text, sizeof status_text, "%s (pid %d) killed by signal %d",
							 stage_name(s), (int)pids[s], WTERMSIG(status));
					else
						snprintf(status_text, sizeof status_text, "%s (pid %d) exited with status %d",
							 stage_name(s), (int)pids[s], WEXITSTATUS(status));
					failure = status_text;
				}
				atomic_store(&S->abort_run, 1);
			}
		}
		uint64_t now = ark_now_ns();
		if (!started && !atomic_load(&S->abort_run) && atomic_load(&S->ready) == STAGES) {
			started = true;
			deadline = now + (mode == MODE_THROUGHPUT ? duration_ns : events * (SEC / rate_hz)) + DRAIN_NS;
			atomic_store_explicit(&S->go, 1, memory_order_release);
		}
		if (!atomic_load(&S->abort_run) && now > deadline) {
			failure = started ? "the run did not finish within its deadline" : "the stages did not start";
			atomic_store(&S->abort_run, 1);
		}
		if (!atomic_load(&S->abort_run) && interrupted) {
			failure = "interrupted";
			atomic_store(&S->abort_run, 1);
		}
		if (atomic_load(&S->abort_run) && kill_at == 0)
			kill_at = now + KILL_GRACE_NS;
		if (kill_at && now > kill_at) {
			sent_kill = true;
			for (int s = 0; s < STAGES; s++)
				if (alive[s])
					kill(pids[s], SIGKILL);
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&S->abort_run) || failure) {
		run_failure(err, transport, failure, killed);
		if (interrupted && err)
			err->code = -EINTR;
		return err ? err->code : -EIO;
	}
	if (S->received != S->sent)
		return ark_err_set(err, -EIO, "%s relay: Kyle sent %llu events, Aletheia received %llu",
				   transport_names[transport], (unsigned long long)S->sent,
				   (unsigned long long)S->received);
	uint64_t counted = S->received - S->first_batch;
	if (counted == 0 || S->last_ns <= S->first_ns)
		return ark_err_set(err, -EIO, "%s relay: too few events (%llu) to time; lengthen the run",
				   transport_names[transport], (unsigned long long)S->received);
	ctx->hist = S->hist;
	stats->eps = (double)counted * 1e9 / (double)(S->last_ns - S->first_ns);
	stats->p50_ns = (double)ark_hist_quantile(&ctx->hist, 0.50);
	stats->p99_ns = (double)ark_hist_quantile(&ctx->hist, 0.99);
	stats->p999_ns = (double)ark_hist_quantile(&ctx->hist, 0.999);
	stats->max_ns = (double)ctx->hist.max;
	stats->events = S->received;
	stats->trace_breaks = S->trace_breaks;
	for (int h = 0; h < HOPS; h++)
		stats->hop_mean_ns[h] = (double)S->hop_sum_ns[h] / (double)S->received;
	return 0;
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
		c->events += st.events;
		c->trace_breaks += st.trace_breaks;
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
		c->events += st.events;
		c->trace_breaks += st.trace_breaks;
		if (low) {
			rc = run_once(ctx, transport, MODE_LATENCY, 0, o->low_rate_hz, o->low_rate_events, &st, err);
			if (rc)
				break;
			low50[r] = st.p50_ns / 1e3;
			low99[r] = st.p99_ns / 1e3;
			low_hz[r] = st.eps;
			c->events += st.events;
			c->trace_breaks += st.trace_breaks;
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
			transport_names[transport], c->eps, (unsigned long long)o->rate_hz, c->p50_us, c->p99_us,
			c->p999_us, c->max_us, c->achieved_hz < 0.95 * (double)o->rate_hz ? "  (rate not sustained)" : "");
	if (o->progress && low)
		fprintf(o->progress, "  %-16s %12s             at %llu Hz: p50 %9.1f  p99 %9.1f us%s\n", "", "",
			(unsigned long long)o->low_rate_hz, c->low_rate_p50_us, c->low_rate_p99_us,
			c->low_rate_achieved_hz < 0.95 * (double)o->low_rate_hz ? "  (rate not sustained)" : "");
	return 0;
}

/* ---- the public interface ---- */

const char *ark_perf_relay_transport_name(enum ark_perf_relay_transport transport)
{
	return (unsigned)transport < ARK_PERF_RELAY_TRANSPORTS ? transport_names[transport] : "unknown";
}

int ark_perf_relay_parse_transports(const char *text, uint32_t *mask, struct ark_err *err)
{
	uint32_t m = 0;
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, ",");
		int found = -1;
		if (n == 3 && strncmp(p, "all", 3) == 0)
			m |= ARK_PERF_RELAY_ALL, found = 0;
		for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS && found < 0; t++)
			if (strlen(transport_names[t]) == n && strncmp(p, transport_names[t], n) == 0)
				m |= 1u << t, found = t;
		if (found < 0)
			return ark_err_set(err, -EINVAL,
					   "--transports: unknown transport '%.*s'; expected a comma-separated list of "
					   "rings, pipes, unix, redis, redis_count1, redis_pipelined or all",
					   (int)n, p);
		p += n + (p[n] == ',');
	}
	if (m == 0)
		return ark_err_set(err, -EINVAL, "--transports: empty list");
	*mask = m;
	return 0;
}

int ark_perf_relay_options_init(struct ark_perf_relay_options *o, bool quick, struct ark_err *err)
{
	memset(o, 0, sizeof *o);
	o->transports = ARK_PERF_RELAY_ALL;
	o->runs = quick ? 1 : 3;
	o->duration_ns = quick ? 100 * MS : 500 * MS;
	o->rate_hz = 10000;
	o->latency_events = quick ? 500 : 10000;
	o->low_rate_hz = 1000;
	o->low_rate_events = quick ? 100 : 1000;
	o->ring_capacity = 4096;
	o->batch = 64;
	o->redis_count = 100;
	/* Enough in flight that a full window means a saturated relay (Kyle
	 * then waits as a ring's producer would), never a throttled one. */
	o->redis_window = 16384;
	o->redis_server = "redis-server";
	o->stall_ns = 10 * SEC;
	return ark_ring_wait_from_env(&o->wait, err);
}

static int check_options(const struct ark_perf_relay_options *o, struct ark_err *err)
{
	if (o->runs < 1 || o->runs > ARK_PERF_RELAY_MAX_RUNS)
		return ark_err_set(err, -EINVAL, "relay: runs must be 1-%d, not %u", ARK_PERF_RELAY_MAX_RUNS, o->runs);
	if (o->duration_ns < 10 * MS || o->duration_ns > 600 * SEC)
		return ark_err_set(err, -EINVAL, "relay: the throughput run must last 10 ms to 600 s");
	if (o->rate_hz < 1 || o->rate_hz > 10000000)
		return ark_err_set(err, -EINVAL, "relay: rate must be 1 Hz to 10 MHz, not %llu",
				   (unsigned long long)o->rate_hz);
	if (o->latency_events < 10 || o->latency_events > 100000000)
		return ark_err_set(err, -EINVAL, "relay: latency runs need 10 to 1e8 events");
	if (o->low_rate_hz > 10000000 || (o->low_rate_hz && (o->low_rate_events < 10 || o->low_rate_events > 100000000)))
		return ark_err_set(err, -EINVAL, "relay: the low rate must be 0 (off) to 10 MHz, with 10 to 1e8 events");
	if (ark_ring_size(EVENT_SIZE, o->ring_capacity) == 0 || o->ring_capacity > (1u << 20))
		return ark_err_set(err, -EINVAL, "relay: ring capacity must be a power of two up to 1048576, not %u",
				   o->ring_capacity);
	if (o->batch < 1 || o->batch > MAX_BATCH)
		return ark_err_set(err, -EINVAL, "relay: batch must be 1-%d, not %u", MAX_BATCH, o->batch);
	if (o->redis_count < 1 || o->redis_count > MAX_BATCH)
		return ark_err_set(err, -EINVAL, "relay: Redis COUNT must be 1-%d, not %u", MAX_BATCH, o->redis_count);
	if (o->redis_window < o->redis_count || o->redis_window > 1000000)
		return ark_err_set(err, -EINVAL, "relay: the Redis window must be COUNT (%u) to 1000000, not %u",
				   o->redis_count, o->redis_window);
	if (o->cpu_count < 0 || o->cpu_count > STAGES)
		return ark_err_set(err, -EINVAL, "relay: 0 to %d CPUs, not %d", STAGES, o->cpu_count);
	if (o->stall_ns < POLL_NS)
		return ark_err_set(err, -EINVAL, "relay: the stall timeout must be at least 100 ms");
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int ark_perf_relay_run(const struct ark_perf_relay_options *options, struct ark_perf_relay_result *result,
		       struct ark_err *err)
{
	memset(result, 0, sizeof *result);
	result->rings_vs_redis_throughput_ratio = result->redis_vs_rings_p99_ratio = NAN;
	result->rings_vs_per_event_redis_throughput_ratio = result->per_event_redis_vs_rings_p99_ratio = NAN;
	result->redis_vs_rings_low_rate_p99_ratio = NAN;
	result->best_redis_eps_case = result->best_redis_p99_case = -1;
	int rc = check_options(options, err);
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

	struct sigaction act = {.sa_handler = on_signal}, old_int, old_term, old_pipe;
	sigemptyset(&act.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &act, &old_int);
	sigaction(SIGTERM, &act, &old_term);
	struct sigaction ignore = {.sa_handler = SIG_IGN};
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, &old_pipe);   /* a dead redis-server is an error, not our death */

	/* The segment: control block and four rings; unlinked at once, so it
	 * disappears with the last process that maps it, whatever happens. */
	char name[ARK_SHM_NAME_MAX];
	snprintf(name, sizeof name, "ark-perf-relay-%d", (int)getpid());
	size_t ring_bytes = ark_ring_size(EVENT_SIZE, options->ring_capacity);
	bool rings = mask & (1u << ARK_PERF_RELAY_RINGS);
	size_t size = sizeof(struct control) + (rings ? HOPS * (ring_bytes + ARK_SHM_ALIGN) : 0) + (1u << 16);
	uint64_t control_offset, ring_offset[HOPS] = {0};
	bool have_segment = false;
	rc = ark_shm_create(&ctx->segment, name, size, 0, err);
	if (!rc) {
		have_segment = true;
		ark_shm_unlink(name, NULL);
		rc = ark_shm_alloc(&ctx->segment, "relay.control", sizeof(struct control), &control_offset, err);
		for (int h = 0; rings && !rc && h < HOPS; h++) {
			char region[32];
			snprintf(region, sizeof region, "relay.ring.%d", h);
			rc = ark_shm_alloc(&ctx->segment, region, ring_bytes, &ring_offset[h], err);
		}
	}
	if (!rc) {
		S = ark_shm_at(&ctx->segment, control_offset);
		for (int h = 0; h < HOPS; h++)
			S->ring_offset[h] = ring_offset[h] ? ring_offset[h] - control_offset : 0;
	}

	if (options->progress && !rc)
		fprintf(options->progress,
			"ark perf relay: Kyle -> Joey -> HRM -> Kenny -> Aletheia, %u run(s) per case, %.0f ms throughput "
			"runs, %llu events at %llu Hz, rings cap %u %s, %s\n",
			options->runs, (double)options->duration_ns / 1e6, (unsigned long long)options->latency_events,
			(unsigned long long)options->rate_hz, options->ring_capacity, ark_ring_wait_name(options->wait.strategy),
			options->cpu_count ? "pinned" : "not pinned");
	for (int t = 0; !rc && t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		struct ark_perf_relay_case *c = &result->cases[t];
		if (!c->selected)
			continue;
		if (is_redis(t) && !result->redis_started) {
			if (result->cases[ARK_PERF_RELAY_REDIS].skipped || result->cases[ARK_PERF_RELAY_REDIS_COUNT1].skipped ||
			    result->cases[ARK_PERF_RELAY_REDIS_PIPELINED].skipped) {
				c->skipped = true;
				snprintf(c->skip_reason, sizeof c->skip_reason, "%s",
					 result->cases[ARK_PERF_RELAY_REDIS].skip_reason[0]
						 ? result->cases[ARK_PERF_RELAY_REDIS].skip_reason
						 : result->cases[ARK_PERF_RELAY_REDIS_COUNT1].skip_reason);
				continue;
			}
			struct ark_err redis_err = {0};
			int start_rc = ark_perf_redis_start(&ctx->redis, options->redis_server, &interrupted, &redis_err);
			if (start_rc == -EINTR) {
				rc = ark_err_set(err, -EINTR, "relay: %s", redis_err.msg);
				break;
			}
			if (start_rc) {
				c->skipped = true;
				snprintf(c->skip_reason, sizeof c->skip_reason, "%s", redis_err.msg);
				if (options->progress)
					fprintf(options->progress, "  redis cases skipped: %s\n", redis_err.msg);
				ark_perf_redis_stop(&ctx->redis, &result->redis_stopped);
				continue;
			}
			result->redis_started = true;
			result->redis_port = ctx->redis.port;
			result->redis_pid = ctx->redis.pid;
			snprintf(result->redis_version, sizeof result->redis_version, "%s", ctx->redis.version);
			if (options->progress)
				fprintf(options->progress, "  redis-server %s started on 127.0.0.1:%d (pid %d)\n",
					ctx->redis.version, ctx->redis.port, (int)ctx->redis.pid);
		}
		rc = measure(ctx, t, c, err);
	}
	ark_perf_redis_stop(&ctx->redis, &result->redis_stopped);
	if (have_segment)
		ark_shm_detach(&ctx->segment);
	S = NULL;
	free(ctx);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	if (rc)
		return rc;

	/* The headline compares against the strongest Redis case measured: the
	 * highest throughput and, separately, the lowest paced p99. */
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
	result->elapsed_s = (double)(ark_now_ns() - t0) / 1e9;
	return 0;
}

static double case_value(const struct ark_perf_relay_result *r, int t, size_t offset)
{
	const struct ark_perf_relay_case *c = &r->cases[t];
	return c->measured ? *(const double *)((const char *)c + offset) : NAN;
}

#define CASE(r, t, member) case_value(r, t, offsetof(struct ark_perf_relay_case, member))

void ark_perf_relay_json_headline(struct ark_json *j, const struct ark_perf_relay_result *r)
{
	int best = r->best_redis_eps_case, best99 = r->best_redis_p99_case;
	ark_json_number(j, "relay_rings_eps", CASE(r, ARK_PERF_RELAY_RINGS, eps));
	ark_json_number(j, "relay_pipes_eps", CASE(r, ARK_PERF_RELAY_PIPES, eps));
	ark_json_number(j, "relay_unix_eps", CASE(r, ARK_PERF_RELAY_UNIX, eps));
	/* Redis at its best: the case with the highest throughput (pipelined
	 * XADD with XREAD COUNT/BLOCK) and the one with the lowest p99. */
	ark_json_number(j, "relay_redis_eps", best >= 0 ? CASE(r, best, eps) : NAN);
	ark_json_number(j, "relay_rings_p50_us", CASE(r, ARK_PERF_RELAY_RINGS, p50_us));
	ark_json_number(j, "relay_rings_p99_us", CASE(r, ARK_PERF_RELAY_RINGS, p99_us));
	ark_json_number(j, "relay_pipes_p99_us", CASE(r, ARK_PERF_RELAY_PIPES, p99_us));
	ark_json_number(j, "relay_unix_p99_us", CASE(r, ARK_PERF_RELAY_UNIX, p99_us));
	ark_json_number(j, "relay_redis_p50_us", best99 >= 0 ? CASE(r, best99, p50_us) : NAN);
	ark_json_number(j, "relay_redis_p99_us", best99 >= 0 ? CASE(r, best99, p99_us) : NAN);
	ark_json_number(j, "relay_rings_vs_redis_throughput_ratio", best >= 0 ? r->rings_vs_redis_throughput_ratio : NAN);
	ark_json_number(j, "relay_redis_vs_rings_p99_ratio", best99 >= 0 ? r->redis_vs_rings_p99_ratio : NAN);
	/* The rate each paced run actually held: a Redis relay below the asked
	 * rate is building a backlog, and its p99 then grows with the run. */
	ark_json_number(j, "relay_rings_paced_eps", CASE(r, ARK_PERF_RELAY_RINGS, achieved_hz));
	ark_json_number(j, "relay_redis_paced_eps", best99 >= 0 ? CASE(r, best99, achieved_hz) : NAN);
	/* The same pair at the low rate, where Redis keeps up. */
	const struct ark_perf_relay_case *ring = &r->cases[ARK_PERF_RELAY_RINGS];
	const struct ark_perf_relay_case *piped = &r->cases[ARK_PERF_RELAY_REDIS_PIPELINED];
	ark_json_number(j, "relay_rings_low_rate_p99_us", ring->low_rate_measured ? ring->low_rate_p99_us : NAN);
	ark_json_number(j, "relay_redis_low_rate_p99_us", piped->low_rate_measured ? piped->low_rate_p99_us : NAN);
	ark_json_number(j, "relay_redis_vs_rings_low_rate_p99_ratio",
			ring->low_rate_measured && piped->low_rate_measured ? r->redis_vs_rings_low_rate_p99_ratio : NAN);
	/* The original ARK's way, one XADD round trip per event, for reference. */
	ark_json_number(j, "relay_redis_per_event_eps", CASE(r, ARK_PERF_RELAY_REDIS, eps));
	ark_json_number(j, "relay_redis_per_event_p99_us", CASE(r, ARK_PERF_RELAY_REDIS, p99_us));
	ark_json_number(j, "relay_rings_vs_per_event_redis_throughput_ratio",
			r->cases[ARK_PERF_RELAY_REDIS].measured ? r->rings_vs_per_event_redis_throughput_ratio : NAN);
}

void ark_perf_relay_json_details(struct ark_json *j, const char *key, const struct ark_perf_relay_options *o,
				 const struct ark_perf_relay_result *r)
{
	ark_json_object_begin(j, key);
	ark_json_array_begin(j, "stages");
	for (int s = 0; s < STAGES; s++)
		ark_json_string(j, NULL, stage_name(s));
	ark_json_array_end(j);
	ark_json_uint(j, "event_bytes", EVENT_SIZE);
	ark_json_uint(j, "runs", o->runs);
	ark_json_number(j, "throughput_run_ms", (double)o->duration_ns / 1e6);
	ark_json_uint(j, "latency_rate_hz", o->rate_hz);
	ark_json_uint(j, "latency_events", o->latency_events);
	ark_json_uint(j, "low_rate_hz", o->low_rate_hz);
	ark_json_uint(j, "low_rate_events", o->low_rate_events);
	ark_json_uint(j, "ring_capacity", o->ring_capacity);
	ark_json_string(j, "ring_wait", ark_ring_wait_name(o->wait.strategy));
	ark_json_number(j, "ring_wait_spin_us", (double)o->wait.spin_ns / 1e3);
	ark_json_uint(j, "batch", o->batch);
	ark_json_uint(j, "redis_count", o->redis_count);
	ark_json_uint(j, "redis_window", o->redis_window);
	ark_json_string(j, "fd_writes", "one write() per batch of up to `batch` events; pipe and socket buffers "
					"raised to the ring's capacity where the kernel allows");
	ark_json_string(j, "best_redis_eps_case", r->best_redis_eps_case >= 0 ? transport_names[r->best_redis_eps_case] : "none");
	ark_json_string(j, "best_redis_p99_case", r->best_redis_p99_case >= 0 ? transport_names[r->best_redis_p99_case] : "none");
	ark_json_bool(j, "pinned", o->cpu_count > 0);
	if (o->cpu_count > 0) {
		ark_json_array_begin(j, "stage_cpus");
		for (int s = 0; s < STAGES; s++)
			ark_json_number(j, NULL, o->cpus[s % o->cpu_count]);
		ark_json_array_end(j);
	}
	ark_json_object_begin(j, "redis_server");
	ark_json_bool(j, "started", r->redis_started);
	if (r->redis_started) {
		ark_json_string(j, "version", r->redis_version);
		ark_json_number(j, "port", r->redis_port);
		ark_json_number(j, "pid", r->redis_pid);
		ark_json_bool(j, "stopped", r->redis_stopped);
	}
	ark_json_object_end(j);
	ark_json_array_begin(j, "cases");
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (!c->selected)
			continue;
		ark_json_object_begin(j, NULL);
		ark_json_string(j, "transport", transport_names[t]);
		ark_json_bool(j, "measured", c->measured);
		if (c->skipped)
			ark_json_string(j, "skipped", c->skip_reason);
		if (c->measured) {
			ark_json_number(j, "runs", c->runs);
			ark_json_number(j, "eps", c->eps);
			ark_json_number(j, "saturated_p99_us", c->saturated_p99_us);
			ark_json_number(j, "p50_us", c->p50_us);
			ark_json_number(j, "p99_us", c->p99_us);
			ark_json_number(j, "p999_us", c->p999_us);
			ark_json_number(j, "max_us", c->max_us);
			ark_json_number(j, "achieved_hz", c->achieved_hz);
			if (c->low_rate_measured) {
				ark_json_number(j, "low_rate_p50_us", c->low_rate_p50_us);
				ark_json_number(j, "low_rate_p99_us", c->low_rate_p99_us);
				ark_json_number(j, "low_rate_achieved_hz", c->low_rate_achieved_hz);
			}
			ark_json_array_begin(j, "hop_mean_us");
			for (int h = 0; h < HOPS; h++)
				ark_json_number(j, NULL, c->hop_mean_us[h]);
			ark_json_array_end(j);
			ark_json_uint(j, "events", c->events);
			ark_json_uint(j, "trace_breaks", c->trace_breaks);
		}
		ark_json_object_end(j);
	}
	ark_json_array_end(j);
	ark_json_number(j, "elapsed_s", r->elapsed_s);
	ark_json_object_end(j);
}

void ark_perf_relay_print_table(FILE *out, const struct ark_perf_relay_options *o,
				const struct ark_perf_relay_result *r)
{
	fprintf(out, "five-stage relay of the %u-byte event (Kyle -> Joey -> HRM -> Kenny -> Aletheia), medians of %u run(s)\n",
		EVENT_SIZE, o->runs);
	fprintf(out, "latency: end to end at %llu Hz; rings: capacity %u, %s wait; Redis %s on 127.0.0.1:%d\n\n",
		(unsigned long long)o->rate_hz, o->ring_capacity, ark_ring_wait_name(o->wait.strategy),
		r->redis_started ? r->redis_version : "(not started)", r->redis_port);
	fprintf(out, "%-16s %13s %10s %10s %10s %10s %12s\n", "transport", "events/s", "p50 us", "p99 us", "p99.9 us",
		"max us", "paced Hz");
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (!c->selected)
			continue;
		if (!c->measured) {
			fprintf(out, "%-16s skipped: %s\n", transport_names[t], c->skip_reason);
			continue;
		}
		fprintf(out, "%-16s %13.0f %10.1f %10.1f %10.1f %10.1f %12.0f\n", transport_names[t], c->eps, c->p50_us,
			c->p99_us, c->p999_us, c->max_us, c->achieved_hz);
	}
	fprintf(out, "\npaced, mean us per hop: %-13s %10s %10s %10s %10s\n", "", "Kyle>Joey", "Joey>HRM", "HRM>Kenny",
		"Kenny>Ale.");
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (c->measured)
			fprintf(out, "%-37s %10.1f %10.1f %10.1f %10.1f\n", transport_names[t], c->hop_mean_us[0],
				c->hop_mean_us[1], c->hop_mean_us[2], c->hop_mean_us[3]);
	}
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (c->low_rate_measured)
			fprintf(out, "%s at %llu Hz: p50 %.1f us, p99 %.1f us, held %.0f Hz\n", transport_names[t],
				(unsigned long long)o->low_rate_hz, c->low_rate_p50_us, c->low_rate_p99_us,
				c->low_rate_achieved_hz);
	}
	int best = r->best_redis_eps_case, best99 = r->best_redis_p99_case;
	if (best >= 0)
		fprintf(out, "\nrings vs Redis at its best: %.1fx the throughput (against %s), p99 %.1fx lower at %llu Hz "
			"(against %s), %.1fx lower at %llu Hz\n"
			"rings vs per-event Redis (one XADD round trip per event): %.1fx the throughput\n",
			r->rings_vs_redis_throughput_ratio, transport_names[best], r->redis_vs_rings_p99_ratio,
			(unsigned long long)o->rate_hz, transport_names[best99], r->redis_vs_rings_low_rate_p99_ratio,
			(unsigned long long)o->low_rate_hz, r->rings_vs_per_event_redis_throughput_ratio);
}

/* ---- `ark perf relay` ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf relay [--cpus LIST] [--runs N] [--duration MS] [--rate HZ] [--latency-events N]\n"
		"                      [--low-rate HZ] [--low-rate-events N]\n"
		"                      [--capacity N] [--batch N] [--redis-count N] [--redis-window N]\n"
		"                      [--redis-server PATH] [--transports LIST] [--quick] [--json]\n\n"
		"The same five-stage relay of the 256-byte event (Kyle -> Joey -> HRM -> Kenny ->\n"
		"Aletheia, five processes, four hops) over the shm rings, pipes, Unix sockets and\n"
		"Redis streams (XADD, XREAD BLOCK per hop; a redis-server of its own on loopback,\n"
		"stopped at the end). Throughput at Aletheia, and end-to-end latency at a paced rate.\n"
		"Every baseline at its best: pipes and sockets write a batch per write(), Redis is\n"
		"also measured pipelined (the headline compares with the strongest Redis case).\n\n"
		"  --cpus LIST          pin stage i to the (i mod n)-th CPU of LIST, e.g. 0,1\n"
		"  --runs N             measured runs per measurement after a warm-up (default 3)\n"
		"  --duration MS        length of each throughput run (default 500)\n"
		"  --rate HZ            Kyle's rate in latency runs (default 10000)\n"
		"  --latency-events N   events per latency run (default 10000)\n"
		"  --low-rate HZ        also the latency of rings and redis_pipelined at this rate (default 1000; 0: off)\n"
		"  --low-rate-events N  events per low-rate run (default 1000)\n"
		"  --capacity N         ring capacity, a power of two (default 4096)\n"
		"  --batch N            most events a stage takes at once (default 64)\n"
		"  --redis-count N      XREAD COUNT of the redis cases, and the pipelined case's batch (default 100)\n"
		"  --redis-window N     events Kyle may have in flight over Redis (default 16384)\n"
		"  --redis-server PATH  the redis-server to start (default: redis-server on PATH)\n"
		"  --transports LIST    rings,pipes,unix,redis,redis_count1,redis_pipelined (default all)\n"
		"  --quick              one short run of each (a smoke test, not a measurement)\n"
		"  --json               print one JSON object (headline figures under \"headline\")\n"
		"ARK_WAIT and ARK_WAIT_SPIN_US choose the rings' wait strategy (default adaptive).\n"
		"Progress goes to stderr; the table or JSON to stdout.\n");
}

static int relay_bench_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"cpus", required_argument, NULL, 'c'},           {"runs", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},       {"rate", required_argument, NULL, 'R'},
		{"latency-events", required_argument, NULL, 'n'}, {"capacity", required_argument, NULL, 'C'},
		{"batch", required_argument, NULL, 'b'},          {"redis-count", required_argument, NULL, 'k'},
		{"redis-window", required_argument, NULL, 'w'},   {"redis-server", required_argument, NULL, 's'},
		{"transports", required_argument, NULL, 't'},     {"quick", no_argument, NULL, 'q'},
		{"json", no_argument, NULL, 'j'},                 {"help", no_argument, NULL, 'h'},
		{"low-rate", required_argument, NULL, 'L'},       {"low-rate-events", required_argument, NULL, 'N'},
		{NULL, 0, NULL, 0}};
	/* --quick changes the defaults, and explicit options override them:
	 * look for it first. */
	bool quick = false, json = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
	struct ark_err err = {0};
	struct ark_perf_relay_options o;
	if (ark_perf_relay_options_init(&o, quick, &err)) {
		fprintf(stderr, "ark perf relay: %s\n", err.msg);
		return 2;
	}
	o.progress = stderr;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int rc = 0;
		uint64_t v = 0;
		switch (opt) {
		case 'c': rc = ark_parse_cpu_list(optarg, o.cpus, STAGES, &o.cpu_count, "--cpus", &err); break;
		case 'r':
			rc = ark_parse_u64(optarg, 1, ARK_PERF_RELAY_MAX_RUNS, "--runs", &v, &err);
			o.runs = (uint32_t)v;
			break;
		case 'd':
			rc = ark_parse_u64(optarg, 10, 600000, "--duration", &v, &err);
			o.duration_ns = v * MS;
			break;
		case 'R': rc = ark_parse_u64(optarg, 1, 10000000, "--rate", &o.rate_hz, &err); break;
		case 'n': rc = ark_parse_u64(optarg, 10, 100000000, "--latency-events", &o.latency_events, &err); break;
		case 'C':
			rc = ark_parse_u64(optarg, 2, 1u << 20, "--capacity", &v, &err);
			o.ring_capacity = (uint32_t)v;
			break;
		case 'b':
			rc = ark_parse_u64(optarg, 1, MAX_BATCH, "--batch", &v, &err);
			o.batch = (uint32_t)v;
			break;
		case 'k':
			rc = ark_parse_u64(optarg, 1, MAX_BATCH, "--redis-count", &v, &err);
			o.redis_count = (uint32_t)v;
			break;
		case 'w':
			rc = ark_parse_u64(optarg, 1, 1000000, "--redis-window", &v, &err);
			o.redis_window = (uint32_t)v;
			break;
		case 'L': rc = ark_parse_u64(optarg, 0, 10000000, "--low-rate", &o.low_rate_hz, &err); break;
		case 'N': rc = ark_parse_u64(optarg, 10, 100000000, "--low-rate-events", &o.low_rate_events, &err); break;
		case 's': o.redis_server = optarg; break;
		case 't': rc = ark_perf_relay_parse_transports(optarg, &o.transports, &err); break;
		case 'q': break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (rc) {
			fprintf(stderr, "ark perf relay: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark perf relay: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	struct ark_perf_relay_result *r = calloc(1, sizeof *r);
	if (!r) {
		fprintf(stderr, "ark perf relay: out of memory\n");
		return 1;
	}
	int rc = ark_perf_relay_run(&o, r, &err);
	if (rc) {
		fprintf(stderr, "ark perf relay: %s\n", err.msg);
		free(r);
		return rc == -EINVAL ? 2 : 1;
	}
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "benchmark", "relay");
		ark_perf_json_machine(&j);
		ark_json_object_begin(&j, "headline");
		ark_perf_relay_json_headline(&j, r);
		ark_json_object_end(&j);
		ark_perf_relay_json_details(&j, "relay", &o, r);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		ark_perf_print_machine(stdout);
		printf("\n");
		ark_perf_relay_print_table(stdout, &o, r);
	}
	free(r);
	return 0;
}

ARK_PERF_BENCH(relay_bench, "relay", "five-stage relay: rings vs pipes, Unix sockets and Redis streams",
	       relay_bench_main)
