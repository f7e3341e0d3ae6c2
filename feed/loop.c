/* feed/loop.c — the feed's event loop on io_uring: one accept request on the
 * listener, one recv request per connection, completions handled in batches.
 *
 * Invariants: every open connection has exactly one recv in flight, except
 * while it waits for output space (then none, which is what pushes back on
 * the sender through TCP); a connection's slot and buffer are released only
 * when no request of it is in flight, and every completion carries the
 * slot's generation so a late one for a reused slot is ignored; ring slots
 * are committed and sleeping consumers woken before the loop blocks. */
#include "feed/internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_CANCEL = 3 };

static uint64_t user_data(unsigned op, uint32_t index, uint32_t gen)
{
	return (uint64_t)op << 56 | (uint64_t)(gen & 0xffffffu) << 32 | index;
}

static struct io_uring_sqe *get_sqe(struct ark_feed *f)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->uring);
	if (!sqe) {
		/* The queue holds a request per connection and then some; when
		 * a burst fills it anyway, hand what is queued to the kernel. */
		io_uring_submit(&f->uring);
		sqe = io_uring_get_sqe(&f->uring);
	}
	assert(sqe);
	return sqe;
}

static void post_accept(struct ark_feed *f)
{
	struct io_uring_sqe *sqe = get_sqe(f);
	f->accept_len = sizeof f->accept_addr;
	io_uring_prep_accept(sqe, f->listen_fd, (struct sockaddr *)&f->accept_addr, &f->accept_len, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, user_data(OP_ACCEPT, 0, 0));
	f->accept_pending = true;
}

void feed_post_recv(struct ark_feed *f, struct feed_conn *c)
{
	assert(c->active && !c->recv_pending && !c->stalled && c->len < f->buf_cap);
	struct io_uring_sqe *sqe = get_sqe(f);
	io_uring_prep_recv(sqe, c->fd, c->buf + c->len, f->buf_cap - c->len, 0);
	io_uring_sqe_set_data64(sqe, user_data(OP_RECV, (uint32_t)(c - f->conns), c->gen));
	c->recv_pending = true;
}

void feed_release(struct ark_feed *f, struct feed_conn *c, const char *why)
{
	assert(!c->recv_pending);
	if (f->stopping)
		feed_count(&f->c.abandoned_at_stop, feed_lines_held(c));
	assert(!c->queued || f->stopping);
	c->queued = false;
	close(c->fd);
	free(c->buf);
	feed_log_limited(&f->log, ark_now_ns(), ARK_FEED_LOG_INFO, "connection closed conn=%llu peer=%s lines=%llu why=\"%s\"",
			 (unsigned long long)c->id, c->peer, (unsigned long long)c->line_no, why);
	uint32_t gen = c->gen + 1;
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->gen = gen;
	f->free_slots[f->free_count++] = (uint32_t)(c - f->conns);
	f->open--;
	feed_count(&f->c.connections_closed, 1);
	feed_count(&f->c.connections_open, (uint64_t)-1);
}

void feed_conn_close(struct ark_feed *f, struct feed_conn *c, const char *why)
{
	if (!c->recv_pending) {
		feed_release(f, c, why);
		return;
	}
	if (c->closing)
		return;
	/* Its recv comes back (0 or -ECANCELED) and the slot is released then. */
	c->closing = true;
	shutdown(c->fd, SHUT_RDWR);
	struct io_uring_sqe *sqe = get_sqe(f);
	io_uring_prep_cancel64(sqe, user_data(OP_RECV, (uint32_t)(c - f->conns), c->gen), 0);
	io_uring_sqe_set_data64(sqe, user_data(OP_CANCEL, 0, 0));
}

static void format_peer(const struct sockaddr_storage *addr, char *out, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		snprintf(out, size, "%s:%u", host, ntohs(a->sin_port));
	} else if (addr->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		snprintf(out, size, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		snprintf(out, size, "unknown");
	}
}

static void refuse(struct ark_feed *f, int fd, const char *peer, const char *why, uint64_t now)
{
	char msg[256];
	size_t n = ark_json_error_text(msg, sizeof msg, why, "max_connections", f->cfg.max_connections);
	/* A fresh socket's send buffer is empty: this never blocks. The
	 * client learns why before the close. */
	if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* Nothing more to do: it is being closed anyway. */
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	feed_count(&f->c.connections_refused, 1);
	feed_log_limited(&f->log, now, ARK_FEED_LOG_WARN,
			 "connection refused peer=%s why=\"%s\" open=%u max_connections=%u", peer, why, f->open,
			 f->cfg.max_connections);
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static void on_accept(struct ark_feed *f, int res, uint64_t now)
{
	f->accept_pending = false;
	if (f->stopping) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res < 0) {
		if (res == -ECANCELED)
			return;
		if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
			/* Out of descriptors or memory: retrying at once would spin. */
			f->accept_retry_ns = now + 100000000ull;
			feed_log_limited(&f->log, now, ARK_FEED_LOG_ERROR, "accept failed error=\"%s\" retry_ms=100",
					 strerror(-res));
		}
		return;
	}
	char peer[64];
	format_peer(&f->accept_addr, peer, sizeof peer);
	if (f->open >= f->cfg.max_connections || f->free_count == 0) {
		refuse(f, res, peer, "too many connections", now);
		return;
	}
	uint32_t same = 0;
	for (uint32_t i = 0; i < f->cfg.max_connections; i++)
		same += f->conns[i].active && same_address(&f->conns[i].addr, &f->accept_addr);
	if (same >= f->cfg.max_per_address) {
		/* One address cannot take every slot from the others. */
		feed_count(&f->c.connections_refused_per_address, 1);
		refuse(f, res, peer, "too many connections from this address", now);
		return;
	}
	char *buf = malloc(f->buf_cap);
	if (!buf) {
		refuse(f, res, peer, "out of memory", now);
		return;
	}
	uint32_t index = f->free_slots[--f->free_count];
	struct feed_conn *c = &f->conns[index];
	assert(!c->active);
	uint32_t gen = c->gen;
	memset(c, 0, sizeof *c);
	c->gen = gen;
	c->fd = res;
	c->buf = buf;
	c->active = true;
	c->id = ++f->next_conn_id;
	memcpy(c->peer, peer, sizeof c->peer);
	c->addr = f->accept_addr;
	c->active_ns = now;
	c->authenticated = f->cfg.token[0] == '\0';
	f->open++;
	feed_count(&f->c.connections_accepted, 1);
	feed_count(&f->c.connections_open, 1);
	feed_log_limited(&f->log, now, ARK_FEED_LOG_INFO, "connection accepted conn=%llu peer=%s open=%u",
			 (unsigned long long)c->id, c->peer, f->open);
	feed_post_recv(f, c);
}

static void on_recv(struct ark_feed *f, uint32_t index, uint32_t gen, int res, uint64_t now, uint64_t realtime)
{
	if (index >= f->cfg.max_connections)
		return;
	struct feed_conn *c = &f->conns[index];
	if (!c->active || (c->gen & 0xffffffu) != gen || !c->recv_pending)
		return;  /* a completion for a slot since reused */
	c->recv_pending = false;
	if (f->stopping && res > 0) {
		/* Received, but too late to be handled: counted as abandoned. */
		feed_count(&f->c.bytes, (uint64_t)res);
		c->len += (uint32_t)res;
	}
	if (c->closing || f->stopping) {
		feed_release(f, c, c->closing ? "closed by the feed" : "feed stopping");
		return;
	}
	if (res > 0) {
		feed_count(&f->c.bytes, (uint64_t)res);
		c->len += (uint32_t)res;
		c->recv_ns = now;
		c->recv_realtime_ns = realtime;
		c->active_ns = now;
		feed_conn_drain(f, c, now);
		if (c->auth_failed) {
			feed_reject_unauthenticated(f, c);
			return;
		}
		if (!c->stalled && !f->sink_error)
			feed_post_recv(f, c);
		return;
	}
	if (res == -EINTR || res == -EAGAIN || res == -ENOBUFS) {
		feed_post_recv(f, c);
		return;
	}
	if (res < 0)
		feed_log_limited(&f->log, now, ARK_FEED_LOG_INFO, "connection error conn=%llu peer=%s error=\"%s\"",
				 (unsigned long long)c->id, c->peer, strerror(-res));
	feed_conn_finish(f, c, now);
}

static void handle_completions(struct ark_feed *f, uint64_t now, uint64_t realtime)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&f->uring, head, cqe) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		unsigned op = (unsigned)(data >> 56);
		if (op == OP_ACCEPT)
			on_accept(f, cqe->res, now);
		else if (op == OP_RECV)
			on_recv(f, (uint32_t)data, (uint32_t)(data >> 32) & 0xffffffu, cqe->res, now, realtime);
		seen++;
	}
	io_uring_cq_advance(&f->uring, seen);
}

void feed_cancel_all(struct ark_feed *f, uint64_t timeout_ns)
{
	assert(f->stopping);
	/* shutdown() wakes the requests at once (and tells the clients); the
	 * cancels make sure. The ring's own teardown would cancel them too,
	 * but asynchronously, while the buffers they write to are freed. */
	if (f->accept_pending) {
		struct io_uring_sqe *sqe = get_sqe(f);
		io_uring_prep_cancel64(sqe, user_data(OP_ACCEPT, 0, 0), 0);
		io_uring_sqe_set_data64(sqe, user_data(OP_CANCEL, 0, 0));
	}
	for (uint32_t i = 0; i < f->cfg.max_connections; i++) {
		struct feed_conn *c = &f->conns[i];
		if (c->active && c->recv_pending && !c->closing)
			feed_conn_close(f, c, "feed stopping");
	}
	uint64_t deadline = ark_now_ns() + timeout_ns;
	for (;;) {
		bool pending = f->accept_pending;
		for (uint32_t i = 0; i < f->cfg.max_connections && !pending; i++)
			pending = f->conns[i].active && f->conns[i].recv_pending;
		uint64_t now = ark_now_ns();
		if (!pending || now >= deadline)
			break;
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {0, 10000000};
		io_uring_submit_and_wait_timeout(&f->uring, &cqe, 1, &ts, NULL);
		handle_completions(f, ark_now_ns(), ark_realtime_ns());
	}
}

/* Drop connections that have held half a line longer than line_timeout: a
 * slow-loris client must not keep a slot forever. Cheap enough to run a few
 * times a second over every slot. */
static void sweep(struct ark_feed *f, uint64_t now)
{
	uint64_t timeout = f->cfg.line_timeout_ns, idle = f->cfg.idle_timeout_ns;
	if ((!timeout && !idle) || now < f->next_sweep_ns)
		return;
	uint64_t shortest = !timeout ? idle : !idle ? timeout : ARK_MIN(timeout, idle);
	f->next_sweep_ns = now + ARK_MAX(ARK_MIN(shortest / 4, 1000000000ull), 10000000ull);
	for (uint32_t i = 0; i < f->cfg.max_connections; i++) {
		struct feed_conn *c = &f->conns[i];
		if (!c->active || c->closing || c->stalled)
			continue;
		/* Silent for idle_timeout: the slot goes to someone who talks.
		 * (A connection waiting for ring space waits on us, not idle.) */
		if (idle && now - c->active_ns >= idle && (!c->partial_since_ns || !timeout)) {
			if (c->len > c->off || c->discarding) {
				char detail[96];
				snprintf(detail, sizeof detail, "half a line (%u bytes) and nothing more for %llu ms", c->len - c->off,
					 (unsigned long long)(idle / 1000000));
				feed_bad_line(f, c, ARK_FEED_PARTIAL_LINE, c->authenticated ? c->buf + c->off : "",
					      c->authenticated ? c->len - c->off : 0, detail, now);
				c->off = c->len = 0;
				c->discarding = false;
				c->partial_since_ns = 0;
			}
			feed_count(&f->c.connections_idle_closed, 1);
			feed_log_limited(&f->log, now, ARK_FEED_LOG_INFO, "connection idle conn=%llu peer=%s idle_ms=%llu",
					 (unsigned long long)c->id, c->peer, (unsigned long long)((now - c->active_ns) / 1000000));
			feed_conn_close(f, c, "idle timeout");
			continue;
		}
		if (!timeout || !c->partial_since_ns || now - c->partial_since_ns < timeout)
			continue;
		char detail[128];
		snprintf(detail, sizeof detail, "half a line (%u bytes) held for %llu ms, at most %llu ms",
			 c->len - c->off, (unsigned long long)((now - c->partial_since_ns) / 1000000),
			 (unsigned long long)(timeout / 1000000));
		feed_bad_line(f, c, ARK_FEED_LINE_TIMEOUT, c->authenticated ? c->buf + c->off : "",
			      c->authenticated ? c->len - c->off : 0, detail, now);
		feed_count(&f->c.connections_timed_out, 1);
		c->off = c->len = 0;
		c->discarding = false;
		c->partial_since_ns = 0;
		feed_conn_close(f, c, "line timeout");
	}
}

int ark_feed_poll(struct ark_feed *f, uint64_t timeout_ns, struct ark_err *err)
{
	if (f->stopped || f->stopping)
		return ark_err_set(err, -ESHUTDOWN, "feed: already stopped");
	if (f->cfg.ring && !f->producer_open) {
		/* Opened here, on the thread that publishes: the ring keeps its
		 * list of peers to wake per thread. */
		int rc = ark_ring_producer_open(&f->producer, f->cfg.ring, &f->cfg.ring_wait, err);
		if (rc)
			return ark_err_wrap(err, "feed: opening the output ring");
		f->producer_open = true;
	}
	uint64_t now = ark_now_ns();
	if (!f->accept_pending && now >= f->accept_retry_ns)
		post_accept(f);

	uint64_t wait = timeout_ns;
	if (f->stalled_count) {
		/* Output full: wait for room (the ring's own wait), then let the
		 * queued connections go on before looking at the sockets. */
		if (f->cfg.ring)
			feed_sink_wait(f, ARK_MIN(timeout_ns, 5000000ull));
		now = ark_now_ns();
		feed_resume(f, now);
		if (f->stalled_count)
			wait = f->cfg.ring ? 0 : ARK_MIN(timeout_ns, 1000000ull);
	}

	feed_sink_commit(f);
	if (f->producer_open)
		ark_ring_flush();
	struct io_uring_cqe *cqe = NULL;
	int rc;
	if (wait == 0) {
		rc = io_uring_submit(&f->uring);
	} else {
		struct __kernel_timespec ts = {.tv_sec = (long long)(wait / 1000000000ull),
					       .tv_nsec = (long long)(wait % 1000000000ull)};
		rc = io_uring_submit_and_wait_timeout(&f->uring, &cqe, 1, &ts, NULL);
	}
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
		return ark_err_set(err, rc, "feed: io_uring wait failed: %s", strerror(-rc));

	now = ark_now_ns();
	handle_completions(f, now, ark_realtime_ns());

	sweep(f, now);
	feed_sink_commit(f);
	feed_backpressure_account(f, now);
	feed_log_tick(&f->log, now);
	if (f->sink_error)
		return ark_err_set(err, f->sink_error, "feed: the tick callback failed: %s", strerror(-f->sink_error));
	return 0;
}
