/* feed/conn.c — from a connection's bytes to ticks: line splitting, the
 * per-line checks, the output (ring or callback) and backpressure.
 *
 * Invariants: a connection's lines are handed on in the order they arrived;
 * a line is either delivered or counted bad exactly once (lines == ticks +
 * bad); when the output is full the line stays in the buffer, the
 * connection waits in a FIFO and gets no new recv until its buffer is
 * handled, so the feed never drops and never buffers more than one recv per
 * connection. An oversized line is skipped up to its newline as it streams
 * in, never held whole. */
#include "feed/internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- Output ---- */

static struct ark_tick *sink_slot(struct ark_feed *f)
{
	if (!f->cfg.ring)
		return &f->scratch;
	if (f->filled == f->reserved) {
		feed_sink_commit(f);
		f->reserved = ark_ring_try_reserve(&f->producer, FEED_RING_BATCH);
		if (f->reserved == 0)
			return NULL;
	}
	return ark_ring_slot(&f->producer, f->filled);
}

/* 0 taken, -EAGAIN not now, other negative: the callback failed. */
static int sink_submit(struct ark_feed *f, const struct ark_tick *tick)
{
	if (f->cfg.ring) {
		f->filled++;
		return 0;
	}
	return f->cfg.on_tick(f->cfg.tick_ctx, tick);
}

void feed_sink_commit(struct ark_feed *f)
{
	if (f->filled)
		ark_ring_commit(&f->producer, f->filled);
	f->filled = 0;
	f->reserved = 0;
}

bool feed_sink_wait(struct ark_feed *f, uint64_t timeout_ns)
{
	if (f->cfg.ring) {
		if (!f->producer_open)
			return false;
		feed_sink_commit(f);
		uint32_t n = 0;
		if (ark_ring_reserve(&f->producer, FEED_RING_BATCH, timeout_ns, &n))
			return false;
		f->reserved = n;
		return true;
	}
	/* A callback cannot be waited on: look again shortly. */
	uint64_t ns = ARK_MIN(timeout_ns, 1000000ull);
	struct timespec ts = {0, (long)ns};
	nanosleep(&ts, NULL);
	return true;
}

void feed_backpressure_account(struct ark_feed *f, uint64_t now)
{
	if (f->backpressured && now > f->backpressure_mark_ns) {
		feed_count(&f->c.backpressure_ns, now - f->backpressure_mark_ns);
		f->backpressure_mark_ns = now;
	}
	if (f->stalled_count == 0)
		f->backpressured = false;
}

static void stall(struct ark_feed *f, struct feed_conn *c)
{
	c->stalled = true;
	if (!c->queued) {
		uint32_t max = f->cfg.max_connections;
		assert(f->stalled_count < max);
		f->stalled[(f->stalled_head + f->stalled_count) % max] = (uint32_t)(c - f->conns);
		f->stalled_count++;
		c->queued = true;
	}
	if (!f->backpressured) {
		f->backpressured = true;
		f->backpressure_mark_ns = ark_now_ns();
		feed_count(&f->c.backpressure_episodes, 1);
	}
}

void feed_resume(struct ark_feed *f, uint64_t now)
{
	uint32_t max = f->cfg.max_connections;
	while (f->stalled_count) {
		struct feed_conn *c = &f->conns[f->stalled[f->stalled_head]];
		c->stalled = false;
		feed_conn_drain(f, c, now);
		if (c->stalled || f->sink_error)
			break;  /* still full: it keeps its place at the front */
		f->stalled_head = (f->stalled_head + 1) % max;
		f->stalled_count--;
		c->queued = false;
		if (f->stopping)
			continue;
		/* The half line it holds waited on us, not on the client. */
		if (c->partial_since_ns)
			c->partial_since_ns = now;
		feed_post_recv(f, c);
	}
	feed_backpressure_account(f, now);
}

/* ---- Lines ---- */

void feed_bad_line(struct ark_feed *f, struct feed_conn *c, enum ark_feed_reason reason, const char *text,
		   size_t len, const char *detail, uint64_t now)
{
	assert(reason > ARK_FEED_OK && reason < ARK_FEED_REASON_COUNT);
	feed_count(&f->c.bad_by_reason[reason], 1);
	feed_count(&f->c.bad, 1);
	feed_count(&f->c.lines, 1);
	c->line_no++;
	if (f->log.in_window >= f->log.burst && now - f->log.window_start_ns < FEED_LOG_WINDOW_NS) {
		feed_log_limited(&f->log, now, ARK_FEED_LOG_WARN, "-");  /* only counts it */
		return;
	}
	char quoted_detail[256], quoted_text[300];
	feed_log_quote(quoted_detail, sizeof quoted_detail, detail, strlen(detail), 200);
	feed_log_quote(quoted_text, sizeof quoted_text, text, len, 64);
	feed_log_limited(&f->log, now, ARK_FEED_LOG_WARN, "bad tick reason=%s conn=%llu peer=%s line=%llu detail=%s text=%s",
			 ark_feed_reason_name(reason), (unsigned long long)c->id, c->peer,
			 (unsigned long long)c->line_no, quoted_detail, quoted_text);
}

enum line_result { LINE_DONE, LINE_STALL };

static enum line_result handle_line(struct ark_feed *f, struct feed_conn *c, const char *line, size_t len,
				    uint64_t now)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len > f->cfg.max_line) {
		char detail[96];
		snprintf(detail, sizeof detail, "line of %zu bytes, at most %u", len, f->cfg.max_line);
		feed_bad_line(f, c, ARK_FEED_LINE_TOO_LONG, line, len, detail, now);
		return LINE_DONE;
	}
	struct ark_tick *tick = sink_slot(f);
	if (!tick)
		return LINE_STALL;
	char detail[160];
	enum ark_feed_reason r = ark_feed_parse_line(line, len, tick, detail, sizeof detail);
	if (r) {
		feed_bad_line(f, c, r, line, len, detail, now);
		return LINE_DONE;
	}
	tick->received_ns = c->recv_ns;
	if (tick->exchange_time_ns == 0)
		tick->exchange_time_ns = c->recv_realtime_ns;
	static const enum ark_feed_reason bound_reasons[ARK_TICK_FAULT_COUNT] = {
		[ARK_TICK_BAD_PRICE] = ARK_FEED_PRICE_OUT_OF_BOUNDS,
		[ARK_TICK_BAD_SIZE] = ARK_FEED_SIZE_OUT_OF_BOUNDS,
		[ARK_TICK_TS_FUTURE] = ARK_FEED_TS_IN_FUTURE,
		[ARK_TICK_TS_OLD] = ARK_FEED_TS_TOO_OLD,
	};
	enum ark_tick_fault bound = ark_tick_check(&f->cfg.bounds, tick, c->recv_realtime_ns, ARK_TICK_CHECK_ALL, NULL,
						   detail, sizeof detail);
	if (bound != ARK_TICK_OK) {
		feed_bad_line(f, c, bound_reasons[bound], line, len, detail, now);
		return LINE_DONE;
	}
	tick->source = ARK_SOURCE_TCP;
	tick->flags = 0;
	tick->injected_kind = 0;
	tick->lane = 0;
	tick->burst = 0;
	tick->source_seq = f->seq + 1;
	int rc = sink_submit(f, tick);
	if (rc == -EAGAIN)
		return LINE_STALL;
	if (rc < 0) {
		f->sink_error = rc;
		return LINE_STALL;
	}
	f->seq++;
	c->line_no++;
	feed_count(&f->c.ticks, 1);
	feed_count(&f->c.lines, 1);
	return LINE_DONE;
}

void feed_conn_drain(struct ark_feed *f, struct feed_conn *c, uint64_t now)
{
	bool completed = false;
	while (c->off < c->len) {
		char *start = c->buf + c->off;
		size_t avail = c->len - c->off;
		char *nl = memchr(start, '\n', avail);
		if (!nl)
			break;
		size_t len = (size_t)(nl - start);
		if (c->discarding) {
			char detail[96];
			snprintf(detail, sizeof detail, "line of %llu bytes, at most %u",
				 (unsigned long long)(c->discard_bytes + len), f->cfg.max_line);
			feed_bad_line(f, c, ARK_FEED_LINE_TOO_LONG, "", 0, detail, now);
			c->discarding = false;
			c->discard_bytes = 0;
		} else if (handle_line(f, c, start, len, now) == LINE_STALL) {
			if (!f->sink_error)
				stall(f, c);
			return;
		}
		c->off += (uint32_t)len + 1;
		completed = true;
	}
	/* What is left is half a line. */
	size_t rest = c->len - c->off;
	if (c->discarding || rest > (size_t)f->cfg.max_line + 1) {
		/* Too long already: skip it as it streams in, keep nothing. */
		c->discard_bytes += rest;
		c->discarding = true;
		c->off = c->len = 0;
	} else {
		if (c->off)
			memmove(c->buf, c->buf + c->off, rest);
		c->off = 0;
		c->len = (uint32_t)rest;
	}
	bool holding = c->len > 0 || c->discarding;
	if (!holding)
		c->partial_since_ns = 0;
	else if (completed || c->partial_since_ns == 0)
		c->partial_since_ns = now;
	assert(c->len <= f->cfg.max_line + 1u && c->len < f->buf_cap);
}

void feed_conn_finish(struct ark_feed *f, struct feed_conn *c, uint64_t now)
{
	if (c->discarding) {
		char detail[96];
		snprintf(detail, sizeof detail, "line of %llu bytes, at most %u, cut by the client closing",
			 (unsigned long long)c->discard_bytes, f->cfg.max_line);
		feed_bad_line(f, c, ARK_FEED_LINE_TOO_LONG, "", 0, detail, now);
	} else if (c->len > c->off) {
		char detail[96];
		snprintf(detail, sizeof detail, "connection closed after %u bytes of a line without its newline",
			 c->len - c->off);
		feed_bad_line(f, c, ARK_FEED_PARTIAL_LINE, c->buf + c->off, c->len - c->off, detail, now);
	}
	c->off = c->len = 0;
	c->discarding = false;
	feed_conn_close(f, c, "closed by peer");
}
