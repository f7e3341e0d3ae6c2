/* perf/relay_transports.c — the five stages of the relay benchmark over
 * rings, pipes, Unix sockets and Redis streams: what each forked stage runs.
 * Kyle sends, Joey, HRM and Kenny take, stamp and forward, Aletheia checks
 * and measures. The last event of every run is an end marker (seq ==
 * END_SEQ) that each stage forwards before it exits, so a run ends by itself.
 * Invariants: every wait has a timeout (a stage that sees nothing move for
 * stall_ns fails the run); a run counts only if Aletheia saw every sequence
 * number once, in order; a stage's failure is recorded once (the first wins)
 * in the control block and aborts the run. */
#include "perf/relay.h"
#include "perf/relay_internal.h"
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

/* ---- a stage's own state (each child has its own copy) ---- */

static int my_stage;
static _Alignas(64) uint8_t in_buf[MAX_BATCH * sizeof(struct ark_event)];
static _Alignas(64) struct ark_event out_buf[MAX_BATCH];


/* Record this stage's failure (the first one wins) and stop the run. */
static int __attribute__((format(printf, 1, 2))) stage_fail(const char *fmt, ...)
{
	if (!atomic_exchange(&relay_ctl->stage[my_stage].failed, 1)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(relay_ctl->stage[my_stage].why, sizeof relay_ctl->stage[my_stage].why, fmt, ap);
		va_end(ap);
	}
	atomic_store(&relay_ctl->abort_run, 1);
	return -1;
}

/* A wait timed out after POLL_NS: carry on, or give up when the run was
 * aborted elsewhere (-ECANCELED, quietly) or nothing moved for stall_ns. */
static int still_waiting(uint64_t since, const char *what)
{
	if (atomic_load_explicit(&relay_ctl->abort_run, memory_order_relaxed))
		return -ECANCELED;
	if (ark_now_ns() - since > relay_ctl->stall_ns)
		return stage_fail("%s for %.1f s", what, (double)relay_ctl->stall_ns / 1e9);
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
	atomic_store_explicit(&relay_ctl->sink_received, st->received, memory_order_release);
}

static void sink_report(const struct sink_state *st)
{
	relay_ctl->received = st->received;
	relay_ctl->first_ns = st->first_ns;
	relay_ctl->last_ns = st->last_ns;
	relay_ctl->first_batch = st->first_batch;
	relay_ctl->trace_breaks = st->trace_breaks;
	memcpy(relay_ctl->hop_sum_ns, st->hop_sum_ns, sizeof relay_ctl->hop_sum_ns);
	relay_ctl->hist = *st->hist;
}

/* ---- rings ---- */
static int ring_source(struct ark_ring_producer *out)
{
	struct ark_event tmpl;
	event_template(&tmpl);
	char what[64];
	snprintf(what, sizeof what, "no ring space toward %s", stage_name(1));
	uint64_t seq = 0, start = ark_now_ns(), period = SEC / relay_ctl->rate_hz;
	bool throughput = relay_ctl->mode == MODE_THROUGHPUT;
	for (;;) {
		uint64_t now = ark_now_ns();
		if (throughput ? now - start >= relay_ctl->duration_ns && seq >= MIN_THROUGHPUT_EVENTS : seq == relay_ctl->events)
			break;
		if (!throughput)
			pace_until(start + seq * period);
		uint32_t want = throughput ? relay_ctl->batch : 1, n;
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
	relay_ctl->sent = seq;
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
		int rc = ark_ring_peek(in, relay_ctl->batch, POLL_NS, &n);
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
		int rc = ark_ring_peek(in, relay_ctl->batch, POLL_NS, &n);
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
			redisReply *r = redisCommand(h->c, "XADD %s MAXLEN ~ %u * e %b", h->out_key, relay_ctl->redis_maxlen,
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
		if (redisAppendCommand(h->c, "XADD %s MAXLEN ~ %u * e %b", h->out_key, relay_ctl->redis_maxlen,
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
			if (!atomic_load(&relay_ctl->stage[my_stage].failed))
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
	uint64_t seq = 0, start = ark_now_ns(), period = SEC / relay_ctl->rate_hz;
	bool throughput = relay_ctl->mode == MODE_THROUGHPUT;
	/* Throughput runs hand the transport a batch per call, as the rings'
	 * Kyle publishes one: a pipe's or a socket's batch in one write(),
	 * pipelined Redis a COUNT-sized batch of XADDs. Only the per-event Redis
	 * cases (one XADD and round trip each, as the original ARK did) send one
	 * at a time; paced runs send each event as it is due. */
	uint32_t per_send = !throughput ? 1 : s->redis ? (s->hop.pipelined ? relay_ctl->redis_count : 1) : relay_ctl->batch;
	for (;;) {
		uint64_t now = ark_now_ns();
		if (throughput ? now - start >= relay_ctl->duration_ns && seq >= MIN_THROUGHPUT_EVENTS : seq == relay_ctl->events)
			break;
		if (!throughput)
			pace_until(start + seq * period);
		if (s->redis && throughput) {
			/* Redis never pushes back: keep Kyle within the window of
			 * Aletheia, as a ring's capacity or a pipe's buffer would. */
			uint64_t since = ark_now_ns();
			while (seq + per_send - atomic_load_explicit(&relay_ctl->sink_received, memory_order_acquire) >
			       relay_ctl->redis_window) {
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
	relay_ctl->sent = seq;
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
static int wait_for_go(void)
{
	atomic_fetch_add(&relay_ctl->ready, 1);
	uint64_t since = ark_now_ns();
	while (!atomic_load_explicit(&relay_ctl->go, memory_order_acquire)) {
		if (atomic_load(&relay_ctl->abort_run))
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
	if (relay_ctl->cpu_count > 0) {
		struct ark_err e;
		if (ark_pin_cpu(relay_ctl->cpus[stage % relay_ctl->cpu_count], &e))
			return stage_fail("%s", e.msg);
	}
	if (stage == 0)
		prctl(PR_SET_TIMERSLACK, 1UL);   /* pace to the microsecond, not the default 50 */
	struct sink_state sink = {.hist = hist};
	ark_hist_reset(hist);
	int rc;
	if (relay_ctl->transport == ARK_PERF_RELAY_RINGS) {
		struct ark_ring_consumer in;
		struct ark_ring_producer out;
		struct ark_err e;
		if (stage > 0 && ark_ring_consumer_open(&in, hop_ring(stage - 1), &relay_ctl->wait, &e))
			return stage_fail("open the ring from %s: %s", stage_name(stage - 1), e.msg);
		if (stage < STAGES - 1 && ark_ring_producer_open(&out, hop_ring(stage), &relay_ctl->wait, &e))
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
		struct stream_stage s = {.redis = is_redis(relay_ctl->transport), .out_fd = -1};
		s.in.fd = -1;
		s.in.batch = relay_ctl->batch;
		if (stage > 0)
			snprintf(s.wait_in, sizeof s.wait_in, "no event from %s", stage_name(stage - 1));
		if (stage < STAGES - 1)
			snprintf(s.wait_out, sizeof s.wait_out, "no room toward %s", stage_name(stage + 1));
		if (s.redis) {
			char why[256];
			s.hop.c = ark_perf_redis_connect(relay_ctl->redis_port, why, sizeof why);
			if (!s.hop.c)
				return stage_fail("%s", why);
			if (stage > 0)
				hop_key(s.hop.in_key, sizeof s.hop.in_key, stage - 1);
			if (stage < STAGES - 1)
				hop_key(s.hop.out_key, sizeof s.hop.out_key, stage);
			/* The parent deleted the streams before forking: read from the start. */
			snprintf(s.hop.last_id, sizeof s.hop.last_id, "0-0");
			s.hop.count = relay_ctl->transport == ARK_PERF_RELAY_REDIS_COUNT1 ? 1 : relay_ctl->redis_count;
			s.hop.pipelined = relay_ctl->transport == ARK_PERF_RELAY_REDIS_PIPELINED;
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

void __attribute__((noreturn)) relay_stage_process(int stage, pid_t parent, const struct hop_fds *fds)
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
