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

/* Pin the calling thread to one CPU. */
int ark_pin_cpu(int cpu, struct ark_err *err);
/* Number of CPUs this process may run on. */
int ark_cpu_count(void);

/* Strict parsers: the whole string must be the number, in [min, max].
 * `what` names the input in the error ("--rate", "ARK_CPU_KYLE", ...). */
int ark_parse_u64(const char *text, uint64_t min, uint64_t max, const char *what,
		  uint64_t *out, struct ark_err *err);
int ark_parse_i64(const char *text, int64_t min, int64_t max, const char *what,
		  int64_t *out, struct ark_err *err);
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

/* s as a JSON string, quotes included: '"' and '\\' escaped, control
 * characters as \u00XX (bytes >= 0x80 pass: the text is UTF-8). */
void ark_json_write_string(FILE *out, const char *s);

#define ARK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ARK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ARK_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* ARK_COMMON_H */
