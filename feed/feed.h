/* feed/feed.h — the TCP line feed: market ticks in as one JSON object per
 * line, struct ark_tick out (to Kyle's inbound ring, or to a callback).
 *
 * The server listens on ARK_FEED_BIND:ARK_FEED_PORT, accepts up to
 * ARK_FEED_MAX_CONNECTIONS clients and reads them through io_uring (accept
 * and recv requests on one ring; no epoll, no read loop). It splits each
 * byte stream into lines, parses every line with jsmn, checks it field by
 * field and hands each good tick on. A bad line is counted under its reason
 * and logged (rate-limited), never fatal: the connection and every other
 * client keep going.
 *
 * ---- Line format ----
 *
 *   {"symbol":"AAPL","price":187.25,"size":100,"ts":1732800000123456789}\n
 *
 * - One JSON object per line, ended by "\n"; "\r\n" is accepted too. At most
 *   ARK_FEED_MAX_LINE bytes (default 1024) before the line end; a longer
 *   line is discarded up to its newline without being buffered whole.
 * - "symbol" (required): a string of 1 to 15 characters from A-Z 0-9 . _ -,
 *   starting with a letter or digit. Upper case only: "aapl" is rejected,
 *   not folded, so two spellings never become two symbols downstream.
 *   Written as is: escapes (\u0041) are not decoded and are rejected.
 * - "price" (required): a JSON number, finite and > 0, and within the
 *   tick bounds (event.h: ARK_TICK_MIN_PRICE < price <= ARK_TICK_MAX_PRICE,
 *   default 1e7; counted as price_out_of_bounds).
 * - "size" (required): a JSON number, finite and >= 0, at most
 *   ARK_TICK_MAX_SIZE (size_out_of_bounds).
 * - "ts" (optional): the exchange time, either an integer count of
 *   nanoseconds since the Unix epoch (1 .. 2^63-1) or an ISO-8601 string
 *   "YYYY-MM-DDTHH:MM:SS[.fraction of 1-9 digits](Z|+HH:MM|-HH:MM)". When
 *   absent, CLOCK_REALTIME at receipt is used. Not more than ARK_TICK_MAX_SKEW
 *   (5 s) ahead of CLOCK_REALTIME at receipt (ts_in_future), nor more than
 *   ARK_TICK_MAX_AGE (1 h) behind it (ts_too_old): a far-future time would
 *   otherwise drag the market clock that HRM's windows run on.
 * - Keys are case-sensitive and may appear in any order; a key given twice
 *   is an error, and so is any other key (strict: a producer's typo or schema
 *   drift shows up at once in the counters instead of being ignored).
 * - The whole line must be valid JSON: UTF-8, no raw control characters
 *   (tab and spaces between tokens are fine), no NaN/Infinity (not JSON;
 *   counted under the field they were given for), nothing after the object.
 *
 * A good tick becomes: symbol, price, size, exchange_time_ns (ts),
 * received_ns = CLOCK_MONOTONIC when the bytes completing the line were
 * received, source = ARK_SOURCE_TCP, source_seq = 1, 2, 3 ... over all good
 * ticks of this feed. Ticks of one connection keep their order; ticks of
 * different connections interleave.
 *
 * ---- Backpressure, never a silent drop ----
 *
 * In ring mode each good tick is written in place into the ring (slot size
 * 64 = sizeof(struct ark_tick)), committed once per batch. When the ring is
 * full the feed stops taking lines and stops reading the sockets, so TCP
 * flow control pushes back on the senders; the time spent so is counted
 * (backpressure_ns). The callback form does the same when the callback
 * returns -EAGAIN.
 *
 * ---- Threads ----
 *
 * One thread drives a feed: ark_feed_run, or ark_feed_poll in the caller's
 * loop, and ark_feed_stop from that same thread (the ring producer is opened
 * on it: the ring's wake-up bookkeeping is per thread). Any thread may read
 * the counters. */
#ifndef ARK_FEED_H
#define ARK_FEED_H

#include "common/common.h"
#include "event/event.h"
#include "ring/ring.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults, and the environment variables that override them. */
#define ARK_FEED_DEFAULT_BIND "127.0.0.1"     /* ARK_FEED_BIND: numeric IPv4 or IPv6 */
#define ARK_FEED_DEFAULT_PORT 7070u           /* ARK_FEED_PORT: 0 = any free port */
#define ARK_FEED_DEFAULT_MAX_CONNECTIONS 64u  /* ARK_FEED_MAX_CONNECTIONS: 1..4096 */
#define ARK_FEED_DEFAULT_MAX_LINE 1024u       /* ARK_FEED_MAX_LINE: 64..65536 bytes */
#define ARK_FEED_DEFAULT_LINE_TIMEOUT_MS 10000u /* ARK_FEED_LINE_TIMEOUT_MS: 0 = never */
#define ARK_FEED_DEFAULT_LOG_BURST 20u        /* ARK_FEED_LOG_BURST: lines/s, 0 = summaries only */
#define ARK_FEED_MAX_CONNECTIONS_LIMIT 4096u
#define ARK_FEED_MIN_LINE 64u
#define ARK_FEED_MAX_LINE_LIMIT 65536u
#define ARK_FEED_SYMBOL_MAX_LEN 15u

/* Why a line was not a tick. The names (ark_feed_reason_name) appear in
 * logs and metrics: never rename, only append. */
enum ark_feed_reason {
	ARK_FEED_OK = 0,
	ARK_FEED_EMPTY_LINE,       /* nothing but blanks before the newline */
	ARK_FEED_LINE_TOO_LONG,    /* more than max_line bytes */
	ARK_FEED_CONTROL_CHAR,     /* NUL or another raw control byte */
	ARK_FEED_BAD_UTF8,         /* bytes that are not UTF-8 */
	ARK_FEED_MALFORMED_JSON,   /* not valid JSON */
	ARK_FEED_TOO_COMPLEX,      /* more tokens or nesting than a tick can have */
	ARK_FEED_NOT_OBJECT,       /* valid JSON, but not an object */
	ARK_FEED_UNKNOWN_KEY,
	ARK_FEED_DUPLICATE_KEY,
	ARK_FEED_MISSING_FIELD,    /* symbol, price or size absent */
	ARK_FEED_BAD_TYPE,         /* e.g. "price":"1.5", "symbol":7, a nested value */
	ARK_FEED_BAD_SYMBOL,       /* length or characters */
	ARK_FEED_BAD_PRICE,        /* not finite, <= 0, NaN/Infinity, too long a number */
	ARK_FEED_BAD_SIZE,         /* not finite, < 0 */
	ARK_FEED_BAD_TIMESTAMP,    /* not an integer ns or ISO-8601 time in range */
	ARK_FEED_PARTIAL_LINE,     /* the client closed in the middle of a line */
	ARK_FEED_LINE_TIMEOUT,     /* half a line held longer than line_timeout */
	ARK_FEED_PRICE_OUT_OF_BOUNDS, /* a valid number outside ARK_TICK_MIN_PRICE..ARK_TICK_MAX_PRICE */
	ARK_FEED_SIZE_OUT_OF_BOUNDS,  /* above ARK_TICK_MAX_SIZE */
	ARK_FEED_TS_IN_FUTURE,     /* ts more than ARK_TICK_MAX_SKEW ahead of this machine's clock */
	ARK_FEED_TS_TOO_OLD,       /* ts more than ARK_TICK_MAX_AGE behind it */
	ARK_FEED_REASON_COUNT
};

const char *ark_feed_reason_name(enum ark_feed_reason reason);  /* "bad_price", ... */

/* Log levels of ark_feed_log_fn. */
enum { ARK_FEED_LOG_INFO = 0, ARK_FEED_LOG_WARN = 1, ARK_FEED_LOG_ERROR = 2 };

/* Receives one finished log line, "ts level feed message key=value ..."
 * without the newline (e.g. `2024-11-28T12:00:00.123Z warn feed bad tick
 * reason=bad_price conn=3 peer=127.0.0.1:40112 line=17 detail="..."
 * text="..."`). Called on the feed's thread. NULL: the line goes to stderr. */
typedef void (*ark_feed_log_fn)(void *ctx, int level, const char *line);

/* Callback form: receives each good tick on the feed's thread. Return 0 when
 * taken, -EAGAIN when it cannot take it now (the feed keeps the line and
 * offers it again, and stops reading until then: backpressure); any other
 * negative value stops the feed: ark_feed_poll returns it. */
typedef int (*ark_feed_tick_fn)(void *ctx, const struct ark_tick *tick);

struct ark_feed_config {
	char bind[64];                  /* ARK_FEED_BIND */
	uint16_t port;                  /* ARK_FEED_PORT */
	uint32_t max_connections;       /* ARK_FEED_MAX_CONNECTIONS */
	uint32_t max_line;              /* ARK_FEED_MAX_LINE */
	uint64_t line_timeout_ns;       /* ARK_FEED_LINE_TIMEOUT_MS; 0 = never */
	uint32_t log_burst;             /* ARK_FEED_LOG_BURST */
	struct ark_tick_bounds bounds;  /* ARK_TICK_* (event.h): every good tick is within them */

	/* Exactly one output: a ring (slot size 64), or a callback. */
	struct ark_ring *ring;
	struct ark_ring_wait_config ring_wait;  /* how to wait for space (ark_ring_wait_from_env) */
	ark_feed_tick_fn on_tick;
	void *tick_ctx;

	ark_feed_log_fn log;
	void *log_ctx;
};

/* Read by any thread; each member written by the feed's thread only. */
struct ark_feed_counters {
	uint64_t connections_accepted;
	uint64_t connections_refused;    /* over max_connections (told so, then closed) */
	uint64_t connections_closed;
	uint64_t connections_open;
	uint64_t connections_timed_out;  /* closed for holding half a line too long */
	uint64_t bytes;                  /* received */
	uint64_t lines;                  /* == ticks + bad */
	uint64_t ticks;                  /* good ticks delivered */
	uint64_t bad;                    /* sum of bad_by_reason */
	uint64_t bad_by_reason[ARK_FEED_REASON_COUNT];
	uint64_t backpressure_ns;        /* time the output was full and reading paused */
	uint64_t backpressure_episodes;
	uint64_t log_suppressed;         /* log lines the rate limit held back (summarised) */
	uint64_t abandoned_at_stop;      /* lines (whole or half) received, not delivered at stop */
};

struct ark_feed;

/* Built-in defaults (above); no output, no log callback. */
void ark_feed_config_init(struct ark_feed_config *cfg);
/* Defaults overridden by the ARK_FEED_* variables. A bad value is an error
 * naming the variable and what was expected. */
int ark_feed_config_from_env(struct ark_feed_config *cfg, struct ark_err *err);

/* Bind, listen and set up io_uring. Fails with a message naming why when
 * io_uring cannot be used (kernel.io_uring_disabled, seccomp, old kernel). */
int ark_feed_create(struct ark_feed **out, const struct ark_feed_config *cfg, struct ark_err *err);
/* The port actually bound (the ephemeral one when the config said 0). */
uint16_t ark_feed_port(const struct ark_feed *feed);

/* One step: handle what arrived, waiting at most timeout_ns for something.
 * Returns 0, or a negative code when the feed cannot go on (io_uring
 * failure, a callback error). Bad input never makes it fail. */
int ark_feed_poll(struct ark_feed *feed, uint64_t timeout_ns, struct ark_err *err);
/* Poll until *stop becomes true, then ark_feed_stop (1 s to drain). */
int ark_feed_run(struct ark_feed *feed, const _Atomic bool *stop, struct ark_err *err);
/* Close the listener and the clients, deliver the complete lines already
 * received (waiting up to drain_timeout_ns for ring space; what still does
 * not fit is counted in abandoned_at_stop), commit and flush the ring and
 * close the producer. Idempotent; call it on the feed's thread. */
void ark_feed_stop(struct ark_feed *feed, uint64_t drain_timeout_ns);
/* Stop (without waiting) if not stopped yet, and free. NULL is fine. */
void ark_feed_destroy(struct ark_feed *feed);

void ark_feed_counters(const struct ark_feed *feed, struct ark_feed_counters *out);

/* The parser alone: one line (without its newline; a trailing '\r' is
 * tolerated) to a tick. Sets symbol, price, size and exchange_time_ns (0
 * when "ts" is absent); leaves the other fields alone. Returns ARK_FEED_OK
 * or the reason, with a short explanation in detail (may be NULL). Does not
 * allocate; safe from any thread. */
enum ark_feed_reason ark_feed_parse_line(const char *line, size_t len, struct ark_tick *tick,
					 char *detail, size_t detail_size);

#endif /* ARK_FEED_H */
