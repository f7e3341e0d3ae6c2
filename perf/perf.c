/* perf/perf.c — what every `ark perf` benchmark shares: the registry, the
 * option loop, the JSON framing, statistics and the TSC calibration. */
#include "perf/perf.h"

#include "common/common.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_BENCHES 32

static const struct ark_perf_bench *benches[MAX_BENCHES];
static int bench_count;

void ark_perf_register(const struct ark_perf_bench *bench)
{
	if (bench_count == MAX_BENCHES)
		abort();
	benches[bench_count++] = bench;
}

const struct ark_perf_bench *ark_perf_find(const char *name)
{
	for (int i = 0; i < bench_count; i++)
		if (strcmp(benches[i]->name, name) == 0)
			return benches[i];
	return NULL;
}

int ark_perf_count(void)
{
	return bench_count;
}

const struct ark_perf_bench *ark_perf_at(int index)
{
	return index >= 0 && index < bench_count ? benches[index] : NULL;
}

/* ---- Statistics ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double ark_perf_median(const double *values, int count)
{
	if (count <= 0)
		return NAN;
	double sorted[count];
	memcpy(sorted, values, sizeof(double) * (size_t)count);
	qsort(sorted, (size_t)count, sizeof(double), cmp_double);
	return count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

double ark_perf_median_member(const void *runs, int count, size_t stride, size_t offset)
{
	if (count <= 0)
		return NAN;
	double values[count];
	for (int i = 0; i < count; i++)
		memcpy(&values[i], (const char *)runs + (size_t)i * stride + offset, sizeof values[i]);
	return ark_perf_median(values, count);
}

void ark_perf_sort(double *values, int count)
{
	if (count > 0)
		qsort(values, (size_t)count, sizeof(double), cmp_double);
}

double ark_perf_sorted_quantile(const double *sorted, int count, double q)
{
	if (count <= 0)
		return NAN;
	int i = (int)ceil(q * count) - 1;
	return sorted[i < 0 ? 0 : i >= count ? count - 1 : i];
}

/* ---- Options ---- */

/* Store one plain flag's value; CUSTOM flags go to the benchmark. */
static int store_flag(const struct ark_perf_cli *cli, const struct ark_perf_flag *f, const char *arg, void *opts,
		      struct ark_err *err)
{
	char what[64];
	void *at = (char *)opts + f->offset;
	uint64_t u = 0;
	int rc = 0;
	snprintf(what, sizeof what, "--%s", f->name);
	switch (f->kind) {
	case ARK_PERF_FLAG_TRUE: *(bool *)at = true; break;
	case ARK_PERF_FLAG_FALSE: *(bool *)at = false; break;
	case ARK_PERF_FLAG_U64: rc = ark_parse_u64(arg, (uint64_t)f->min, (uint64_t)f->max, what, at, err); break;
	case ARK_PERF_FLAG_U32:
	case ARK_PERF_FLAG_INT:
		rc = ark_parse_u64(arg, (uint64_t)f->min, (uint64_t)f->max, what, &u, err);
		if (!rc && f->kind == ARK_PERF_FLAG_U32)
			*(uint32_t *)at = (uint32_t)u;
		else if (!rc)
			*(int *)at = (int)u;
		break;
	case ARK_PERF_FLAG_DOUBLE: rc = ark_parse_double(arg, f->min, f->max, what, at, err); break;
	case ARK_PERF_FLAG_STRING: *(const char **)at = arg; break;
	case ARK_PERF_FLAG_CUSTOM:
	case ARK_PERF_FLAG_CUSTOM0: rc = cli->option(f->id, arg, opts, err); break;
	}
	return rc;
}

int ark_perf_parse_options(const struct ark_perf_cli *cli, int argc, char **argv, void *opts)
{
	struct option longopts[ARK_PERF_FLAGS_MAX + 2];
	int n = 0;
	for (; cli->flags[n].name && n < ARK_PERF_FLAGS_MAX; n++) {
		const struct ark_perf_flag *f = &cli->flags[n];
		bool value = f->kind != ARK_PERF_FLAG_TRUE && f->kind != ARK_PERF_FLAG_FALSE &&
			     f->kind != ARK_PERF_FLAG_CUSTOM0;
		longopts[n] = (struct option){f->name, value ? required_argument : no_argument, NULL, f->id};
	}
	longopts[n] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[n + 1] = (struct option){NULL, 0, NULL, 0};
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, cli->shortopts ? cli->shortopts : "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			cli->usage(stdout);
			return 0;
		}
		const struct ark_perf_flag *f = NULL;
		for (int i = 0; i < n && !f; i++)
			if (cli->flags[i].id == opt)
				f = &cli->flags[i];
		if (!f) {
			cli->usage(stderr);
			return 2;
		}
		if (store_flag(cli, f, optarg, opts, &err)) {
			fprintf(stderr, "ark perf %s: %s\n", cli->bench, err.msg);
			return 2;
		}
	}
	if (optind < argc && !cli->operands_ok) {
		fprintf(stderr, "ark perf %s: unexpected argument '%s'\n", cli->bench, argv[optind]);
		return 2;
	}
	return ARK_PERF_RUN;
}

/* ---- TSC ---- */

double ark_tsc_ns_per_tick(void)
{
	static double ns_per_tick;
	if (ns_per_tick > 0)
		return ns_per_tick;
	uint64_t t0 = ark_now_ns(), c0 = ark_tsc();
	struct timespec pause = {0, 50 * 1000 * 1000};
	nanosleep(&pause, NULL);
	uint64_t t1 = ark_now_ns(), c1 = ark_tsc();
	ns_per_tick = c1 > c0 ? (double)(t1 - t0) / (double)(c1 - c0) : 1.0;
	return ns_per_tick;
}

/* ---- Machine ---- */

static void cpu_model(char *buf, size_t len)
{
	snprintf(buf, len, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *colon = strchr(line, ':');
			if (colon) {
				colon += 2;
				colon[strcspn(colon, "\n")] = '\0';
				snprintf(buf, len, "%s", colon);
			}
			break;
		}
	}
	fclose(f);
}

void ark_perf_json_machine(struct ark_json *j)
{
	struct utsname u;
	char model[128];
	uname(&u);
	cpu_model(model, sizeof model);
	ark_json_object_begin(j, "machine");
	ark_json_string(j, "cpu_model", model);
	ark_json_number(j, "cpus", ark_cpu_count());
	ark_json_string(j, "kernel", u.release);
	ark_json_number(j, "tsc_ns_per_tick", ark_tsc_ns_per_tick());
	ark_json_object_end(j);
}

void ark_perf_json_begin(struct ark_json *j, const char *benchmark)
{
	ark_json_init(j, stdout);
	ark_json_object_begin(j, NULL);
	ark_json_string(j, "benchmark", benchmark);
	ark_perf_json_machine(j);
}

void ark_perf_json_end(struct ark_json *j)
{
	ark_json_object_end(j);
	ark_json_finish(j);
}

void ark_perf_print_machine(FILE *out)
{
	struct utsname u;
	char model[128];
	uname(&u);
	cpu_model(model, sizeof model);
	fprintf(out, "machine: %s, %d CPUs, Linux %s\n", model, ark_cpu_count(), u.release);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) == 0 ? 0 : -errno;
}

int ark_perf_remove_tree(const char *dir)
{
	/* Depth first, without following links: a file before its folder. */
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
