/* perf/perf.h — the benchmark harness behind `ark perf <bench>`.
 *
 * Each benchmark lives in perf/bench_<name>.c and registers itself with
 * ARK_PERF_BENCH. Benchmarks share: a JSON writer (with --json a benchmark
 * prints exactly one JSON object whose "headline" member holds the figures its
 * issue asks for), statistics over several runs (median), a calibrated
 * time-stamp counter for sub-100 ns timing, and a description of the machine.
 * Timing lives here, never in the pass/fail test suite. */
#ifndef ARK_PERF_H
#define ARK_PERF_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ark_perf_bench {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);  /* argv[0] == name */
};

void ark_perf_register(const struct ark_perf_bench *bench);
const struct ark_perf_bench *ark_perf_find(const char *name);
int ark_perf_count(void);
const struct ark_perf_bench *ark_perf_at(int index);

#define ARK_PERF_BENCH(ident, bench_name, bench_summary, bench_main)          \
	static const struct ark_perf_bench ident = {                          \
		.name = (bench_name), .summary = (bench_summary),             \
		.main = (bench_main)                                          \
	};                                                                    \
	__attribute__((constructor)) static void ident##_register(void)       \
	{                                                                     \
		ark_perf_register(&ident);                                    \
	}

/* ---- JSON: the one writer (common/common.h: struct ark_json, ark_json_*). ---- */

/* ---- Statistics ---- */
double ark_perf_median(const double *values, int count);
/* The median over `count` runs of one double member of a run's result:
 * runs is an array of structs `stride` bytes apart, the member at `offset`
 * (offsetof) in each. */
double ark_perf_median_member(const void *runs, int count, size_t stride, size_t offset);
/* The q-quantile (0..1) of `count` values sorted ascending, nearest rank
 * (the ceil(q * count)-th value); NAN for none. */
double ark_perf_sorted_quantile(const double *sorted, int count, double q);
/* Sort `count` doubles ascending (for ark_perf_sorted_quantile). */
void ark_perf_sort(double *values, int count);

/* ---- Options: the getopt_long loop every benchmark shares ----
 * A benchmark lists its flags in a table (name, getopt value, how the
 * value is stored in its options struct); the loop builds the getopt_long
 * table (plus --help), stores the plain values itself and hands the rest to
 * the benchmark's option function. It answers --help (usage on stdout,
 * exit 0), an unknown flag (usage on stderr, exit 2), a bad value ("ark perf
 * <bench>: <message>", exit 2) and, unless operands_ok, an operand
 * ("unexpected argument", exit 2). */
enum ark_perf_flag_kind {
	ARK_PERF_FLAG_TRUE,     /* no value: the bool at offset becomes true */
	ARK_PERF_FLAG_FALSE,    /* no value: the bool at offset becomes false */
	ARK_PERF_FLAG_U64,      /* uint64_t in [min, max] */
	ARK_PERF_FLAG_U32,      /* uint32_t in [min, max] */
	ARK_PERF_FLAG_INT,      /* int in [min, max] */
	ARK_PERF_FLAG_DOUBLE,   /* double in [min, max] */
	ARK_PERF_FLAG_STRING,   /* const char * (argv's own) */
	ARK_PERF_FLAG_CUSTOM,   /* the option function, with a value */
	ARK_PERF_FLAG_CUSTOM0,  /* the option function, no value */
};
struct ark_perf_flag {
	const char *name;       /* "runs": --runs */
	int id;                 /* getopt_long's value (the short option, if any) */
	enum ark_perf_flag_kind kind;
	size_t offset;          /* offsetof the member in the options struct */
	double min, max;
};
#define ARK_PERF_FLAGS_MAX 24
struct ark_perf_cli {
	const char *bench;                 /* "graveyard" */
	const char *shortopts;             /* NULL: "h" */
	const struct ark_perf_flag *flags; /* ended by a NULL name; --help added */
	void (*usage)(FILE *out);
	/* A CUSTOM flag: 0, or a negative errno with err filled. */
	int (*option)(int id, const char *arg, void *opts, struct ark_err *err);
	bool operands_ok;                  /* operands ignored, not refused */
};
#define ARK_PERF_RUN (-1)
/* ARK_PERF_RUN to go on with the benchmark, else the exit status. */
int ark_perf_parse_options(const struct ark_perf_cli *cli, int argc, char **argv, void *opts);

/* ---- Time-stamp counter, calibrated against CLOCK_MONOTONIC ---- */
static inline uint64_t ark_tsc(void)
{
#if defined(__x86_64__)
	unsigned lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}
/* Nanoseconds per TSC tick (calibrated once per process, ~50 ms). */
double ark_tsc_ns_per_tick(void);

/* ---- The real pipeline: one `ark run` in a temporary data directory ----
 * rate 0 = unpaced; cpus > 1 pins the processes alternately; scrape_hz > 0
 * GETs /metrics that often meanwhile. Fills the summary's figures. */
int ark_perf_run_pipeline(double rate, double duration, int cpus, double scrape_hz, double *eps, double *p50,
			  double *p99, double *p999, double *max, uint64_t *events, struct ark_err *err);

/* Scrapes per second of GET /metrics over TLS (HTTP/1.1 keep-alive, libcurl)
 * against a server on 127.0.0.1:port for `seconds`, trusting ca_file (client
 * cert/key optional, NULL). Result in *scrapes_per_s; any failed scrape ends
 * the run with an error (and 0), never a flattering figure. */
int ark_perf_scrapes(uint16_t port, const char *ca_file, const char *cert_file, const char *key_file,
		     double seconds, double *scrapes_per_s, struct ark_err *err);

/* Remove a benchmark's temporary directory and everything below it (no
 * shell); 0 or a negative errno-style code. */
int ark_perf_remove_tree(const char *dir);

/* ---- The machine, for the JSON "machine" member and the table header ---- */
/* Open a benchmark's one JSON object on stdout: {"benchmark":name,
 * "machine":{...}, then the caller's members; ark_perf_json_end closes it. */
void ark_perf_json_begin(struct ark_json *j, const char *benchmark);
void ark_perf_json_end(struct ark_json *j);
void ark_perf_json_machine(struct ark_json *j);
void ark_perf_print_machine(FILE *out);

#endif /* ARK_PERF_H */
