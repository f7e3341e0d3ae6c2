/* common/common.h — the few things every ARK component needs: an error
 * message buffer that functions fill instead of printing, clocks, CPU pinning
 * and strict parsing of numbers and CPU lists from untrusted text.
 *
 * Convention: functions return 0 or a negative errno-style code and, on
 * failure, write a one-line message naming what was wrong into a struct
 * ark_err the caller passes (which may be NULL). Nothing here allocates on a
 * path that events take. */
#ifndef ARK_COMMON_H
#define ARK_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define ARK_ERR_MAX 512

struct ark_err {
	int code;                 /* negative errno-style code, 0 when unset */
	char msg[ARK_ERR_MAX];
};

/* Fill err (if not NULL) and return code (negative), so callers can write
 * `return ark_err_set(err, -EINVAL, "...", ...);`. */
int ark_err_set(struct ark_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context: "context: old message". */
int ark_err_wrap(struct ark_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline uint64_t ark_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ark_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void ark_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* This process's executable, from /proc/self/exe, into out (NUL-terminated):
 * the one place ARK finds the binary it re-executes (agents, the watchdog,
 * benchmarks' runs) or hashes (the canary). A binary replaced on disk since
 * this process started reads as "<path> (deleted)"; the suffix is removed,
 * so what is executed is the binary now at that path. 0, or a negative
 * errno-style code (-ENAMETOOLONG when out is too small) with err filled. */
int ark_self_exe(char *out, size_t len, struct ark_err *err);

/* Pin the calling thread to one CPU. */
int ark_pin_cpu(int cpu, struct ark_err *err);
/* Number of CPUs this process may run on. */
int ark_cpu_count(void);

/* Strict parsers: the whole string must be the number, in [min, max].
 * `what` names the input in the error ("--rate", "ARK_CPU_KYLE", ...). */
int ark_parse_u64(const char *text, uint64_t min, uint64_t max, const char *what,
		  uint64_t *out, struct ark_err *err);
int ark_parse_double(const char *text, double min, double max, const char *what,
		     double *out, struct ark_err *err);
int ark_parse_bool(const char *text, const char *what, bool *out, struct ark_err *err);
/* Sizes with an optional K/M/G suffix (powers of 1024): "64M". */
int ark_parse_size(const char *text, uint64_t min, uint64_t max, const char *what,
		   uint64_t *out, struct ark_err *err);
/* Durations with a unit: "500ms", "2s", "10us", "100ns", "1m". A bare number
 * is taken in `bare_unit_ns` units. */
int ark_parse_duration_ns(const char *text, uint64_t bare_unit_ns, const char *what,
			  uint64_t *out, struct ark_err *err);
/* "0,1" or "0-3": up to max_cpus ids, each checked against the CPUs that exist. */
int ark_parse_cpu_list(const char *text, int *cpus, int max_cpus, int *count,
		       const char *what, struct ark_err *err);

/* Environment lookups with defaults; an unparsable value is an error that
 * names the variable, never silently replaced by the default. */
int ark_env_u64(const char *name, uint64_t dflt, uint64_t min, uint64_t max,
		uint64_t *out, struct ark_err *err);
int ark_env_bool(const char *name, bool dflt, bool *out, struct ark_err *err);

/* ---- Amounts sent to a venue as decimal text ----
 * Equal, or at most limit, but for the rounding of that text (1e-9 of the
 * larger, at least 1e-9): the book (brokers/book.c) and the check of a
 * broker's answer (alpaca/) judge with this one tolerance, so a fill the
 * answer's check let through is never refused in the book for a last digit. */
bool ark_amount_same(double a, double b);
bool ark_amount_within(double a, double limit);
/* A limit order fills at its limit or better: a buy never above, a sell
 * never below, with a cent of rounding (0.00005 below $1: the limit went
 * out with 2 decimals, or 4). False for a price that is not a number. */
bool ark_limit_price_ok(bool buy, double price, double limit_price);

/* ---- Text from outside: UTF-8 ----
 * The length of the valid UTF-8 sequence that starts s (at most n bytes
 * available): 1 for ASCII, 2-4 for a well-formed multi-byte character
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), 0
 * when the bytes there are not valid UTF-8 (or the sequence is cut short). */
size_t ark_utf8_sequence(const unsigned char *s, size_t n);
/* Make len bytes printable in place for a log line: every byte of an
 * invalid UTF-8 sequence becomes '?', control characters (tab aside) a
 * space, so a line stays one line of valid text whatever it quotes. */
void ark_utf8_sanitize(char *s, size_t len);
/* len, shortened so that s does not end inside a multi-byte character (a
 * lead byte whose continuation bytes were cut off): where to cut text that
 * must stay valid UTF-8. */
size_t ark_utf8_cut(const char *s, size_t len);
/* Copy at most cap - 1 bytes of s (stopping at a NUL or after max bytes)
 * into out and terminate it, never ending inside a multi-byte character:
 * what a fixed-size field of a record becomes before it is used as text. */
size_t ark_text_copy(char *out, size_t cap, const char *s, size_t max);
/* s without its leading white space, its trailing white space cut in place. */
char *ark_trim(char *s);
/* The value of one hexadecimal digit (either case), or -1. */
int ark_hex_digit(char c);

/* ---- The one JSON writer ----
 * Every JSON document ARK prints or serves goes through these. Strings: '"',
 * '\\' and control characters escaped; bytes that are not valid UTF-8 are
 * replaced by U+FFFD ("\ufffd"), so the output is valid UTF-8 whatever the
 * input. Numbers: shortest text that reads back as the same double; a value
 * that is not finite (NaN, +-inf) is written as null. Output goes to a FILE
 * or to a sink function (HTTP bodies, metrics buffers). */
typedef void (*ark_json_sink)(void *ctx, const char *bytes, size_t len);
#define ARK_JSON_MAX_DEPTH 32
struct ark_json {
	FILE *out;
	ark_json_sink sink;
	void *ctx;
	int depth;
	bool need_comma[ARK_JSON_MAX_DEPTH];
};
void ark_json_init(struct ark_json *j, FILE *out);
void ark_json_init_sink(struct ark_json *j, ark_json_sink sink, void *ctx);
/* key NULL inside arrays and at the top. */
void ark_json_object_begin(struct ark_json *j, const char *key);
void ark_json_object_end(struct ark_json *j);
void ark_json_array_begin(struct ark_json *j, const char *key);
void ark_json_array_end(struct ark_json *j);
void ark_json_string(struct ark_json *j, const char *key, const char *value);   /* NULL: "" */
/* At most max bytes of value (a fixed-size field need not be terminated). */
void ark_json_string_n(struct ark_json *j, const char *key, const char *value, size_t max);
void ark_json_number(struct ark_json *j, const char *key, double value);
/* With a fixed number of decimals ("%.3f"); not finite: null. */
void ark_json_fixed(struct ark_json *j, const char *key, double value, int decimals);
void ark_json_uint(struct ark_json *j, const char *key, uint64_t value);
void ark_json_int(struct ark_json *j, const char *key, int64_t value);
void ark_json_bool(struct ark_json *j, const char *key, bool value);
void ark_json_null(struct ark_json *j, const char *key);
/* A newline (FILE: and a flush). */
void ark_json_finish(struct ark_json *j);
/* The pieces, for writers that place their own punctuation (the metrics
 * renderer): a string (at most max bytes of s) and a number. */
void ark_json_emit_string(ark_json_sink sink, void *ctx, const char *s, size_t max);
void ark_json_emit_number(ark_json_sink sink, void *ctx, double value);
/* A sink into a fixed buffer (struct ark_json_text): what does not fit is
 * cut and `truncated` set; the text stays NUL-terminated. */
struct ark_json_text {
	char *buf;
	size_t cap, len;
	bool truncated;
};
void ark_json_text_sink(void *ctx, const char *bytes, size_t len);
/* {"error":message,"<key>":value} and a newline into buf through that sink
 * (a refusal's body: the feed's, the HTTP server's); its length. */
size_t ark_json_error_text(char *buf, size_t cap, const char *message, const char *key, int64_t value);
/* s as a JSON string to a FILE, quotes included. */
void ark_json_write_string(FILE *out, const char *s);

/* ---- The one growable buffer ----
 * What HTTP bodies, metrics expositions and JSON rendered to memory are
 * written into. data is NUL-terminated once anything was appended; it never
 * grows past ARK_BUF_LIMIT. `failed`: an allocation failed or the limit was
 * hit, the contents are incomplete (a prefix of what was written: later
 * appends do nothing until ark_buf_reset). Writers return 0 or -ENOMEM. */
struct ark_buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};
#define ARK_BUF_LIMIT (256u << 20) /* a body may not grow past 256 MiB */
void ark_buf_init(struct ark_buf *b);
void ark_buf_free(struct ark_buf *b);
void ark_buf_reset(struct ark_buf *b);                 /* len = 0, keeps the memory */
int ark_buf_reserve(struct ark_buf *b, size_t extra);  /* room for extra more bytes */
int ark_buf_append(struct ark_buf *b, const void *data, size_t n);
int ark_buf_puts(struct ark_buf *b, const char *s);
int ark_buf_printf(struct ark_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An ark_json_sink appending to the struct ark_buf in ctx (ark_json_init_sink). */
void ark_buf_sink(void *ctx, const char *bytes, size_t len);
/* s as a JSON string literal (quotes included), through the one writer. */
int ark_buf_json_string(struct ark_buf *b, const char *s);

#define ARK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ARK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ARK_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* ARK_COMMON_H */
