/* cli/cmd_run.c — `ark run`: until the five-agent pipeline lands, the main job
 * is a demonstration of the foundation: it creates a shared segment, starts a
 * producer and a consumer process on one ring, moves events between them for
 * a few seconds, verifies every event (sequence and checksum) and reports what
 * it measured. Ctrl-C stops both processes and removes the segment. */
#include "cli/command.h"
#include "common/common.h"
#include "hist/hist.h"
#include "ring/ring.h"
#include "shm/shm.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct demo_event {
	uint64_t seq;
	uint64_t sent_ns;
	uint64_t payload[5];
	uint64_t checksum;
};
_Static_assert(sizeof(struct demo_event) == 64, "one cache line");

struct demo_results {
	_Atomic uint64_t sent;
	_Atomic uint64_t received;
	_Atomic uint64_t errors;
	_Atomic int producer_done;
	struct ark_hist latency; /* consumer-written; read after it exits */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t checksum_of(const struct demo_event *e)
{
	uint64_t x = e->seq * 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 5; i++)
		x = (x ^ e->payload[i]) * 0xff51afd7ed558ccdull;
	return x ^ e->sent_ns;
}

static int run_producer(struct ark_ring *ring, struct demo_results *res, double rate,
			uint64_t duration_ns, const struct ark_ring_wait_config *wait)
{
	struct ark_err err;
	struct ark_ring_producer p;
	if (ark_ring_producer_open(&p, ring, wait, &err)) {
		fprintf(stderr, "producer: %s\n", err.msg);
		return 1;
	}
	uint64_t start = ark_now_ns(), seq = 0;
	double interval_ns = rate > 0 ? 1e9 / rate : 0;
	while (!stop_requested) {
		uint64_t now = ark_now_ns();
		if (now - start >= duration_ns)
			break;
		uint32_t want = 64;
		if (interval_ns > 0) {
			uint64_t due = (uint64_t)((double)(now - start) / interval_ns) + 1;
			if (due <= seq) {
				if (interval_ns > 50000) {
					struct timespec ts = {0, 20000};
					nanosleep(&ts, NULL);
				}
				continue;
			}
			want = (uint32_t)ARK_MIN(due - seq, 64);
		}
		uint32_t n;
		if (ark_ring_reserve(&p, want, 100 * 1000 * 1000, &n) != 0)
			continue;
		uint64_t sent = ark_now_ns();
		for (uint32_t i = 0; i < n; i++) {
			struct demo_event *e = ark_ring_slot(&p, i);
			e->seq = seq + i;
			e->sent_ns = sent;
			for (int k = 0; k < 5; k++)
				e->payload[k] = (seq + i) ^ (uint64_t)k << 56;
			e->checksum = checksum_of(e);
		}
		ark_ring_commit(&p, n);
		seq += n;
		atomic_store_explicit(&res->sent, seq, memory_order_relaxed);
	}
	ark_ring_producer_close(&p);
	atomic_store(&res->producer_done, 1);
	return 0;
}

static int run_consumer(struct ark_ring *ring, struct demo_results *res,
			const struct ark_ring_wait_config *wait)
{
	struct ark_err err;
	struct ark_ring_consumer c;
	if (ark_ring_consumer_open(&c, ring, wait, &err)) {
		fprintf(stderr, "consumer: %s\n", err.msg);
		return 1;
	}
	uint64_t expect = 0, errors = 0;
	for (;;) {
		uint32_t n;
		int rc = ark_ring_peek(&c, 256, 50 * 1000 * 1000, &n);
		if (rc) {
			if (atomic_load(&res->producer_done) && ark_ring_try_peek(&c, 1) == 0)
				break;
			continue;
		}
		uint64_t now = ark_now_ns();
		for (uint32_t i = 0; i < n; i++) {
			const struct demo_event *e = ark_ring_event(&c, i);
			if (e->seq != expect || e->checksum != checksum_of(e))
				errors++;
			expect = e->seq + 1;
			ark_hist_record(&res->latency, now - e->sent_ns);
		}
		ark_ring_release(&c, n);
		atomic_store_explicit(&res->received, expect, memory_order_relaxed);
		atomic_store_explicit(&res->errors, errors, memory_order_relaxed);
	}
	return errors ? 1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark run [--duration SECONDS] [--rate HZ] [--capacity N] [--instance NAME]\n\n"
		"Demonstrates the shared segment and its rings: starts a producer and a\n"
		"consumer process on a ring in /dev/shm/ark-<instance>, moves 64-byte events\n"
		"between them, verifies each one (sequence and checksum), and prints events/s\n"
		"and one-way latency percentiles. Ctrl-C stops both processes cleanly.\n\n"
		"  --duration SECONDS  how long to run (default 3)\n"
		"  --rate HZ           events per second, 0 for as fast as possible (default 0)\n"
		"  --capacity N        ring slots, a power of two (default 1024)\n"
		"  --instance NAME     segment name suffix (default: $ARK_INSTANCE or 'demo')\n\n"
		"Environment: ARK_WAIT (spin|yield|adaptive|block), ARK_WAIT_SPIN_US,\n"
		"ARK_CPU_PRODUCER and ARK_CPU_CONSUMER (pin each process to a CPU).\n"
		"Exit status 0 only when every event arrived intact and in order.\n");
}

static int pin_from_env(const char *var)
{
	const char *v = getenv(var);
	if (!v || !*v)
		return 0;
	struct ark_err err;
	uint64_t cpu;
	if (ark_parse_u64(v, 0, 4095, var, &cpu, &err) || ark_pin_cpu((int)cpu, &err)) {
		fprintf(stderr, "ark run: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int run_main(int argc, char **argv)
{
	static const struct option options[] = {
		{"duration", required_argument, NULL, 'd'}, {"rate", required_argument, NULL, 'r'},
		{"capacity", required_argument, NULL, 'c'}, {"instance", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
	double duration_s = 3, rate = 0;
	uint64_t capacity = 1024;
	const char *instance = getenv("ARK_INSTANCE");
	if (!instance || !*instance)
		instance = "demo";
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'd': rc = ark_parse_double(optarg, 0.1, 86400, "--duration", &duration_s, &err); break;
		case 'r': rc = ark_parse_double(optarg, 0, 1e9, "--rate", &rate, &err); break;
		case 'c': rc = ark_parse_u64(optarg, 1, 1u << 24, "--capacity", &capacity, &err); break;
		case 'i': instance = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (rc) {
			fprintf(stderr, "ark run: %s\n", err.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark run: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	struct ark_ring_wait_config wait;
	char name[ARK_SHM_NAME_MAX];
	if (ark_ring_wait_from_env(&wait, &err) || ark_shm_name_for_instance(instance, name, sizeof name, &err)) {
		fprintf(stderr, "ark run: %s\n", err.msg);
		return 2;
	}
	size_t ring_bytes = ark_ring_size(64, (uint32_t)capacity);
	if (ring_bytes == 0) {
		fprintf(stderr, "ark run: --capacity: expected a power of two, got %llu\n",
			(unsigned long long)capacity);
		return 2;
	}

	struct ark_shm shm;
	uint64_t ring_off, res_off;
	if (ark_shm_create(&shm, name, ring_bytes + sizeof(struct demo_results) + (1 << 16),
			   ARK_SHM_REPLACE_STALE, &err) ||
	    ark_shm_alloc(&shm, "demo.ring", ring_bytes, &ring_off, &err) ||
	    ark_shm_alloc(&shm, "demo.results", sizeof(struct demo_results), &res_off, &err) ||
	    ark_ring_init(ark_shm_at(&shm, ring_off), ring_bytes, 64, (uint32_t)capacity, 0, &err)) {
		fprintf(stderr, "ark run: %s\n", err.msg);
		return 1;
	}
	struct ark_ring *ring = ark_shm_at(&shm, ring_off);
	struct demo_results *res = ark_shm_at(&shm, res_off);
	ark_hist_reset(&res->latency);

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	printf("ark run: demonstration on %s: producer -> ring (%llu x 64 B) -> consumer, wait=%s, %s, %.1f s\n",
	       shm.path, (unsigned long long)capacity, ark_ring_wait_name(wait.strategy),
	       rate > 0 ? "paced" : "as fast as possible", duration_s);
	fflush(stdout);
	uint64_t duration_ns = (uint64_t)(duration_s * 1e9);
	pid_t consumer = fork();
	if (consumer == 0)
		_exit(pin_from_env("ARK_CPU_CONSUMER") ? 2 : run_consumer(ring, res, &wait));
	pid_t producer = fork();
	if (producer == 0)
		_exit(pin_from_env("ARK_CPU_PRODUCER") ? 2 : run_producer(ring, res, rate, duration_ns, &wait));
	if (consumer < 0 || producer < 0) {
		fprintf(stderr, "ark run: fork failed: %s\n", strerror(errno));
		stop_requested = 1;
	}

	uint64_t start = ark_now_ns(), last_t = start, last_n = 0;
	int status, producer_status = -1, consumer_status = -1, alive = 2;
	while (alive > 0) {
		struct timespec tick = {0, 250 * 1000 * 1000};
		nanosleep(&tick, NULL);
		if (stop_requested) {
			if (producer > 0)
				kill(producer, SIGTERM);
		}
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			if (pid == producer)
				producer_status = code;
			if (pid == consumer)
				consumer_status = code;
			alive--;
		}
		if (producer_status > 0 && consumer_status < 0)
			atomic_store(&res->producer_done, 1);
		uint64_t now = ark_now_ns(), n = atomic_load(&res->received);
		if (now - last_t >= 1000000000ull || alive == 0) {
			printf("  %5.1f s  %12.0f events/s  received %llu  errors %llu  queue %llu\n",
			       (double)(now - start) / 1e9, (double)(n - last_n) * 1e9 / (double)(now - last_t),
			       (unsigned long long)n, (unsigned long long)atomic_load(&res->errors),
			       (unsigned long long)ark_ring_depth(ring));
			fflush(stdout);
			last_t = now;
			last_n = n;
		}
	}
	double elapsed = (double)(ark_now_ns() - start) / 1e9;
	uint64_t sent = atomic_load(&res->sent), received = atomic_load(&res->received);
	uint64_t errors = atomic_load(&res->errors);
	const struct ark_hist *h = &res->latency;
	printf("summary: sent %llu, received %llu, errors %llu, lost %llu, %.0f events/s\n"
	       "one-way latency: p50 %llu ns, p99 %llu ns, p99.9 %llu ns, max %llu ns\n",
	       (unsigned long long)sent, (unsigned long long)received, (unsigned long long)errors,
	       (unsigned long long)(sent - received), (double)received / elapsed,
	       (unsigned long long)ark_hist_quantile(h, 0.50), (unsigned long long)ark_hist_quantile(h, 0.99),
	       (unsigned long long)ark_hist_quantile(h, 0.999), (unsigned long long)h->max);
	bool ok = errors == 0 && sent == received && producer_status == 0 && consumer_status == 0;
	ark_shm_detach(&shm);
	ark_shm_unlink(name, NULL);
	printf("%s\n", ok ? "result: OK, every event arrived intact and in order"
			  : "result: FAILED (see above)");
	return ok ? 0 : 1;
}

ARK_COMMAND(run_command, "run", "run the main job (now: a producer/consumer demonstration on the shared segment)",
	    run_main)
