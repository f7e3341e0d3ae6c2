/* feed/internal.h — what the feed's own files share: the server state, the
 * per-connection state, counters and the rate-limited log. Not part of the
 * interface (feed/feed.h is). */
#ifndef ARK_FEED_INTERNAL_H
#define ARK_FEED_INTERNAL_H

#include "feed/feed.h"

#include <liburing.h>
#include <stdatomic.h>
#include <sys/socket.h>

/* The single counters of struct ark_feed_counters (feed.h says what each
 * counts), named once: the atomic counters below and their snapshot
 * (ark_feed_counters) follow this list. */
#define FEED_COUNTERS(X)                                                                                          \
	X(connections_accepted) X(connections_refused) X(connections_closed) X(connections_open)                  \
	X(connections_timed_out) X(connections_idle_closed) X(connections_refused_per_address)                    \
	X(connections_unauthenticated) X(bytes) X(lines) X(ticks) X(bad) X(backpressure_ns)                       \
	X(backpressure_episodes) X(log_suppressed) X(abandoned_at_stop)

/* Counters: one writer (the feed's thread) stores with relaxed order, any
 * reader loads; no read-modify-write is needed. */
struct feed_counters {
#define FEED_COUNTER_FIELD(name) _Atomic uint64_t name;
	FEED_COUNTERS(FEED_COUNTER_FIELD)
#undef FEED_COUNTER_FIELD
	_Atomic uint64_t bad_by_reason[ARK_FEED_REASON_COUNT];
};

static inline void feed_count(_Atomic uint64_t *counter, uint64_t add)
{
	atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + add,
			      memory_order_relaxed);
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" to ns since the epoch
 * (timestamp.c); false when malformed or outside 1970..2262. */
bool feed_parse_iso8601(const char *s, size_t n, int64_t *out);

/* ---- Log (log.c) ---- */
struct feed_log {
	ark_feed_log_fn fn;
	void *ctx;
	uint32_t burst;              /* limited lines per window */
	uint64_t window_start_ns;
	uint32_t in_window;
	uint64_t suppressed_in_window;
	_Atomic uint64_t *suppressed_total;
};

#define FEED_LOG_WINDOW_NS 1000000000ull

void feed_log_init(struct feed_log *log, const struct ark_feed_config *cfg, _Atomic uint64_t *suppressed_total);
/* Always written (lifecycle, errors, summaries). */
void feed_log_always(struct feed_log *log, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Subject to the per-second budget (bad ticks, connection churn). */
void feed_log_limited(struct feed_log *log, uint64_t now_ns, int level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Close the window when it is over: one summary line for what was held back. */
void feed_log_tick(struct feed_log *log, uint64_t now_ns);
/* The start of a line, quoted and escaped for key="value": at most max
 * input bytes, "..." when cut. */
void feed_log_quote(char *out, size_t out_size, const char *text, size_t len, size_t max);

/* ---- Server (feed.c) ---- */
struct feed_conn {
	int fd;
	uint32_t gen;              /* bumped on reuse: stale completions are recognised */
	uint64_t id;               /* connection number, for logs */
	char peer[64];
	char *buf;                 /* cap bytes: [off, len) not yet handled */
	uint32_t off, len;
	uint64_t line_no;          /* lines seen on this connection */
	uint64_t discard_bytes;    /* of the oversized line being skipped */
	uint64_t partial_since_ns; /* when the half line now held began; 0 = none */
	uint64_t recv_ns, recv_realtime_ns;  /* when the last bytes arrived */
	uint64_t active_ns;        /* accepted, or bytes last arrived: the idle timeout runs from here */
	struct sockaddr_storage addr;   /* the client's address (per-address cap) */
	bool active, recv_pending, stalled, queued, closing, eof, discarding;
	bool authenticated;        /* AUTH <token> seen (or no token configured) */
	bool auth_failed;          /* the first line was not it: to be closed */
};

struct ark_feed {
	struct ark_feed_config cfg;
	struct io_uring uring;
	bool uring_ready;
	int listen_fd;
	uint16_t port;
	struct sockaddr_storage accept_addr;
	socklen_t accept_len;
	bool accept_pending;
	uint64_t accept_retry_ns;

	struct feed_conn *conns;
	uint32_t buf_cap;
	uint32_t open;
	uint32_t *free_slots;
	uint32_t free_count;
	uint32_t *stalled;        /* FIFO of connection indices waiting for output space */
	uint32_t stalled_head, stalled_count;
	uint64_t next_conn_id;

	/* Output. */
	struct ark_ring_producer producer;
	bool producer_open;
	uint32_t reserved, filled;   /* ring slots reserved / written, not committed */
	struct ark_tick scratch;     /* callback form */
	uint64_t seq;
	int sink_error;
	bool backpressured;
	uint64_t backpressure_mark_ns;

	uint64_t next_sweep_ns;
	bool stopping, stopped;
	struct feed_counters c;
	struct feed_log log;
};

/* Lines (conn.c). */
#define FEED_RING_BATCH 64u         /* ring slots reserved at a time */
#define FEED_RECV_CHUNK 16384u      /* room for a recv beyond the longest half line */

/* Split what [off, len) holds into lines and hand each on; stops at the
 * first line the output cannot take (the connection is then queued). */
void feed_conn_drain(struct ark_feed *f, struct feed_conn *c, uint64_t now);
/* The first line was not AUTH <token>: tell it, close it. */
void feed_reject_unauthenticated(struct ark_feed *f, struct feed_conn *c);
/* The client is gone: count a half line it left, then release it. */
void feed_conn_finish(struct ark_feed *f, struct feed_conn *c, uint64_t now);
/* Count a bad line under its reason and log it (rate-limited). */
void feed_bad_line(struct ark_feed *f, struct feed_conn *c, enum ark_feed_reason reason, const char *text,
		   size_t len, const char *detail, uint64_t now);
/* Give waiting connections their turn, oldest first, while output has room. */
void feed_resume(struct ark_feed *f, uint64_t now);
void feed_sink_commit(struct ark_feed *f);
/* Wait up to timeout_ns for room in the output; true when there is. */
bool feed_sink_wait(struct ark_feed *f, uint64_t timeout_ns);
void feed_backpressure_account(struct ark_feed *f, uint64_t now);

/* io_uring (loop.c). */
void feed_post_recv(struct ark_feed *f, struct feed_conn *c);
/* Close now, or once its pending recv has come back. */
void feed_conn_close(struct ark_feed *f, struct feed_conn *c, const char *why);
/* Free a connection with nothing in flight (at stop: counting what it held). */
void feed_release(struct ark_feed *f, struct feed_conn *c, const char *why);
/* At stop: cancel the accept and every recv and reap their completions. */
void feed_cancel_all(struct ark_feed *f, uint64_t timeout_ns);
/* Lines a connection holds: complete ones and a half one. */
uint64_t feed_lines_held(const struct feed_conn *c);

#endif /* ARK_FEED_INTERNAL_H */
