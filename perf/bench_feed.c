/* perf/bench_feed.c — `ark perf feed`: what the TCP line feed costs.
 *
 * Parse: ark_feed_parse_line over a set of varied good lines, in process,
 * against a baseline measured in the same run (finding the three numbers
 * with memchr and converting them with strtod: the least any parser does).
 * Throughput: ticks parsed and delivered per second over loopback TCP, from
 * one client and from several, with the feed publishing into a ring that a
 * consumer thread drains and checks; against a plain recv() loop that only
 * counts newlines on the same connections (the transport's own ceiling).
 * Each case runs several times; the median is reported. */
#include "common/common.h"
#include "feed/feed.h"
#include "perf/perf.h"
#include "ring/ring.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RUNS 15
#define MAX_CLIENTS 8
#define PARSE_LINES 256
#define BLOCK_BYTES (1u << 20)

struct opts {
	int runs;
	double seconds;
	int clients;
	bool json;
	bool quick;
};

/* ---- Lines ---- */

static size_t make_line(char *out, size_t size, uint64_t i)
{
	static const char *const symbols[] = {"AAPL", "MSFT", "BRK.B", "NVDA", "SPY", "ES_F", "EURUSD", "BF-B"};
	double price = 10.0 + (double)(i % 5000) * 0.37 + (double)(i % 7) * 0.001;
	/* Times from a minute ago, a microsecond apart: within the feed's
	 * bounds (ARK_TICK_MAX_AGE, ARK_TICK_MAX_SKEW) for any run's length. */
	static uint64_t base;
	if (!base)
		base = ark_realtime_ns() - 60ull * 1000000000ull;
	int n = snprintf(out, size, "{\"symbol\":\"%s\",\"price\":%.6g,\"size\":%llu,\"ts\":%llu}\n",
			 symbols[i % 8], price, (unsigned long long)(i % 1000) * 100,
			 (unsigned long long)(base + (i % 50000000) * 1000));
	return (size_t)n;
}

/* ---- Parse ---- */

static double baseline_parse(const char *line, size_t len)
{
	/* The numbers' places, then strtod: a floor for any JSON parser. */
	double sum = 0;
	const char *p = line, *end = line + len;
	while ((p = memchr(p, ':', (size_t)(end - p))) != NULL) {
		p++;
		if (*p != '"')
			sum += strtod(p, NULL);
	}
	return sum;
}

static void bench_parse(const struct opts *o, double *parse_ns, double *base_ns)
{
	static char lines[PARSE_LINES][160];
	size_t lens[PARSE_LINES];
	for (int i = 0; i < PARSE_LINES; i++)
		lens[i] = make_line(lines[i], sizeof lines[i], (uint64_t)i * 7919) - 1;  /* no newline */
	double runs_parse[MAX_RUNS], runs_base[MAX_RUNS];
	uint64_t budget = (uint64_t)(o->seconds * 0.25e9);
	volatile double sink = 0;
	for (int r = 0; r < o->runs; r++) {
		for (int which = 0; which < 2; which++) {
			uint64_t n = 0, t0 = ark_now_ns(), t1;
			struct ark_tick tick;
			do {
				for (int i = 0; i < 4096; i++, n++) {
					int k = (int)(n % PARSE_LINES);
					if (which == 0) {
						if (ark_feed_parse_line(lines[k], lens[k], &tick, NULL, 0) != ARK_FEED_OK)
							abort();
						sink += tick.price;
					} else {
						sink += baseline_parse(lines[k], lens[k]);
					}
				}
				t1 = ark_now_ns();
			} while (t1 - t0 < budget);
			(which == 0 ? runs_parse : runs_base)[r] = (double)(t1 - t0) / (double)n;
		}
	}
	(void)sink;
	*parse_ns = ark_perf_median(runs_parse, o->runs);
	*base_ns = ark_perf_median(runs_base, o->runs);
}

/* ---- Senders ---- */

struct senders {
	uint16_t port;
	int count;
	char *block;
	size_t block_len;
	_Atomic bool stop;
	pthread_t threads[MAX_CLIENTS];
};

static void *sender_main(void *arg)
{
	struct senders *s = arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(s->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("ark perf feed: connect");
		exit(1);
	}
	struct timeval tv = {0, 100000};  /* a blocked send wakes to see the stop flag */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		size_t off = 0;
		while (off < s->block_len && !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
			ssize_t n = send(fd, s->block + off, s->block_len - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				goto out;
		}
	}
out:
	close(fd);
	return NULL;
}

static void senders_start(struct senders *s)
{
	atomic_store(&s->stop, false);
	for (int i = 0; i < s->count; i++)
		if (pthread_create(&s->threads[i], NULL, sender_main, s)) {
			fprintf(stderr, "ark perf feed: cannot start a sender thread\n");
			exit(1);
		}
}

static void senders_stop(struct senders *s)
{
	atomic_store(&s->stop, true);
	for (int i = 0; i < s->count; i++)
		pthread_join(s->threads[i], NULL);
}

/* ---- The feed into a ring, drained by a consumer thread ---- */

struct drain {
	struct ark_ring *ring;
	_Atomic bool stop;
	_Atomic uint64_t taken;
	_Atomic bool broken;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	struct ark_ring_consumer c;
	struct ark_err err = {0};
	if (ark_ring_consumer_open(&c, d->ring, NULL, &err)) {
		fprintf(stderr, "ark perf feed: %s\n", err.msg);
		exit(1);
	}
	uint64_t expect = 1;
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		uint32_t n;
		if (ark_ring_peek(&c, 1024, 10000000ull, &n))
			continue;
		for (uint32_t i = 0; i < n; i++) {
			const struct ark_tick *t = ark_ring_event(&c, i);
			if (t->source_seq != expect++ || !(t->price > 0))
				atomic_store(&d->broken, true);
		}
		ark_ring_release(&c, n);
		atomic_store_explicit(&d->taken, expect - 1, memory_order_relaxed);
	}
	ark_ring_consumer_close(&c);
	return NULL;
}

struct feed_thread {
	struct ark_feed *feed;
	_Atomic bool stop;
	pthread_t thread;
};

static void *feed_main(void *arg)
{
	struct feed_thread *ft = arg;
	struct ark_err err = {0};
	if (ark_feed_run(ft->feed, &ft->stop, &err))
		fprintf(stderr, "ark perf feed: %s\n", err.msg);
	return NULL;
}

static void quiet_log(void *ctx, int level, const char *line)
{
	(void)ctx;
	if (level >= ARK_FEED_LOG_WARN)
		fprintf(stderr, "%s\n", line);
}

static double measure_window(_Atomic uint64_t *counter, const struct ark_feed *feed, double seconds)
{
	struct timespec warm = {0, 100000000};
	nanosleep(&warm, NULL);
	uint64_t c0 = feed ? 0 : atomic_load(counter), t0 = ark_now_ns();
	struct ark_feed_counters k;
	if (feed) {
		ark_feed_counters(feed, &k);
		c0 = k.ticks;
	}
	uint64_t ns = (uint64_t)(seconds * 1e9);
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
	uint64_t c1, t1 = ark_now_ns();
	if (feed) {
		ark_feed_counters(feed, &k);
		c1 = k.ticks;
	} else {
		c1 = atomic_load(counter);
	}
	return (double)(c1 - c0) * 1e9 / (double)(t1 - t0);
}

static double run_feed(struct senders *s, double seconds, bool *ok)
{
	size_t size = ark_ring_size(sizeof(struct ark_tick), 1u << 16);
	struct ark_ring *ring = aligned_alloc(128, (size + 127) & ~(size_t)127);
	struct ark_err err = {0};
	struct ark_feed_config cfg;
	ark_feed_config_init(&cfg);
	cfg.port = 0;
	cfg.ring = ring;
	cfg.log = quiet_log;
	if (!ring || ark_ring_init(ring, size, sizeof(struct ark_tick), 1u << 16, 0, &err)) {
		fprintf(stderr, "ark perf feed: ring: %s\n", err.msg);
		exit(1);
	}
	struct feed_thread ft = {0};
	if (ark_feed_create(&ft.feed, &cfg, &err)) {
		fprintf(stderr, "ark perf feed: %s\n", err.msg);
		exit(1);
	}
	struct drain d = {.ring = ring};
	pthread_t drain;
	pthread_create(&drain, NULL, drain_main, &d);
	pthread_create(&ft.thread, NULL, feed_main, &ft);
	s->port = ark_feed_port(ft.feed);
	senders_start(s);
	double rate = measure_window(NULL, ft.feed, seconds);
	senders_stop(s);
	atomic_store(&ft.stop, true);
	pthread_join(ft.thread, NULL);
	atomic_store(&d.stop, true);
	pthread_join(drain, NULL);
	struct ark_feed_counters k;
	ark_feed_counters(ft.feed, &k);
	if (k.bad || atomic_load(&d.broken))
		*ok = false;
	ark_feed_destroy(ft.feed);
	free(ring);
	return rate;
}

/* The baseline: one thread per connection, recv() and count newlines. */
struct raw_server {
	int listen_fd;
	int count;
	_Atomic uint64_t lines;
	_Atomic bool stop;
};

static void *raw_conn_main(void *arg)
{
	struct raw_server *rs = arg;
	int fd = accept(rs->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct timeval tv = {0, 100000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	static __thread char buf[65536];
	while (!atomic_load_explicit(&rs->stop, memory_order_relaxed)) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n == 0)
			break;
		if (n < 0)
			continue;
		uint64_t lines = 0;
		for (const char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
			lines++;
		atomic_fetch_add_explicit(&rs->lines, lines, memory_order_relaxed);
	}
	close(fd);
	return NULL;
}

static double run_raw(struct senders *s, double seconds)
{
	struct raw_server rs = {.count = s->count};
	rs.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (bind(rs.listen_fd, (struct sockaddr *)&a, sizeof a) || listen(rs.listen_fd, 64) ||
	    getsockname(rs.listen_fd, (struct sockaddr *)&a, &len)) {
		perror("ark perf feed: raw server");
		exit(1);
	}
	pthread_t threads[MAX_CLIENTS];
	for (int i = 0; i < s->count; i++)
		pthread_create(&threads[i], NULL, raw_conn_main, &rs);
	s->port = ntohs(a.sin_port);
	senders_start(s);
	double rate = measure_window(&rs.lines, NULL, seconds);
	senders_stop(s);
	atomic_store(&rs.stop, true);
	for (int i = 0; i < s->count; i++)
		pthread_join(threads[i], NULL);
	close(rs.listen_fd);
	return rate;
}

/* ---- Main ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf feed [--json] [--quick] [--runs N] [--seconds S] [--clients N]\n\n"
		"Ticks parsed and delivered per second by the TCP line feed over loopback, from one\n"
		"client and from --clients (default 4), into a ring drained by a consumer; the same\n"
		"senders against a plain recv() loop as the baseline; and the parse cost per line.\n"
		"--runs (default 5) runs of --seconds (default 1) each; --quick: 1 run of 0.2 s.\n");
}

#define OPT(member) offsetof(struct opts, member)
static const struct ark_perf_flag flags[] = {
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{"quick", 'q', ARK_PERF_FLAG_TRUE, OPT(quick), 0, 0},
	{"runs", 'r', ARK_PERF_FLAG_INT, OPT(runs), 1, MAX_RUNS},
	{"seconds", 's', ARK_PERF_FLAG_DOUBLE, OPT(seconds), 0.05, 60},
	{"clients", 'c', ARK_PERF_FLAG_INT, OPT(clients), 2, MAX_CLIENTS},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct opts *o)
{
	static const struct ark_perf_cli cli = {
		.bench = "feed", .shortopts = "jqr:s:c:h", .flags = flags, .usage = usage};
	/* seconds 0: not given (--seconds is at least 0.05); --quick keeps a given one */
	*o = (struct opts){.runs = 5, .seconds = 0, .clients = 4};
	int rc = ark_perf_parse_options(&cli, argc, argv, o);
	if (o->quick)
		o->runs = 1;
	if (o->seconds == 0)
		o->seconds = o->quick ? 0.2 : 1.0;
	return rc;
}

static void report_table(const struct opts *o, const int counts[2], const double feed_eps[2],
			 const double raw_eps[2], double parse_ns, double base_ns)
{
	ark_perf_print_machine(stdout);
	printf("\nfeed parse: %.0f ns/line (memchr+strtod floor %.0f ns, ratio %.2f)\n", parse_ns, base_ns,
	       parse_ns / base_ns);
	printf("%-10s %16s %18s %8s\n", "clients", "feed ticks/s", "raw recv lines/s", "ratio");
	for (int k = 0; k < 2; k++)
		printf("%-10d %16.0f %18.0f %8.2f\n", counts[k], feed_eps[k], raw_eps[k], feed_eps[k] / raw_eps[k]);
	printf("(median of %d runs of %.2f s; loopback TCP, ring of 65536 ticks drained by a consumer)\n", o->runs,
	       o->seconds);
}

static void report_json(const struct opts *o, const int counts[2], const double feed_eps[2],
			const double raw_eps[2], double parse_ns, double base_ns)
{
	struct ark_json j;
	ark_json_init(&j, stdout);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "bench", "feed");
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "feed_ticks_per_s", feed_eps[0]);
	ark_json_number(&j, "feed_ticks_per_s_multi_client", feed_eps[1]);
	ark_json_number(&j, "feed_parse_ns", parse_ns);
	ark_json_number(&j, "feed_vs_raw_tcp_ratio", feed_eps[0] / raw_eps[0]);
	ark_json_object_end(&j);
	ark_perf_json_machine(&j);
	ark_json_object_begin(&j, "config");
	ark_json_uint(&j, "runs", (uint64_t)o->runs);
	ark_json_number(&j, "seconds_per_run", o->seconds);
	ark_json_uint(&j, "clients", (uint64_t)o->clients);
	ark_json_object_end(&j);
	ark_json_object_begin(&j, "parse");
	ark_json_number(&j, "feed_parse_ns", parse_ns);
	ark_json_number(&j, "memchr_strtod_baseline_ns", base_ns);
	ark_json_number(&j, "parse_vs_baseline_ratio", parse_ns / base_ns);
	ark_json_object_end(&j);
	ark_json_array_begin(&j, "tcp");
	for (int k = 0; k < 2; k++) {
		ark_json_object_begin(&j, NULL);
		ark_json_uint(&j, "clients", (uint64_t)counts[k]);
		ark_json_number(&j, "feed_ticks_per_s", feed_eps[k]);
		ark_json_number(&j, "raw_recv_lines_per_s", raw_eps[k]);
		ark_json_number(&j, "feed_vs_raw_ratio", feed_eps[k] / raw_eps[k]);
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	ark_json_object_end(&j);
	ark_json_finish(&j);
}

static int bench_feed_main(int argc, char **argv)
{
	struct opts o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	struct senders s = {0};
	s.block = malloc(BLOCK_BYTES + 256);
	if (!s.block)
		return 1;
	for (uint64_t i = 0; s.block_len < BLOCK_BYTES; i++)
		s.block_len += make_line(s.block + s.block_len, 256, i);

	double parse_ns, base_ns;
	bench_parse(&o, &parse_ns, &base_ns);
	const int counts[2] = {1, o.clients};
	double feed_eps[2], raw_eps[2];
	bool ok = true;
	for (int k = 0; k < 2; k++) {
		double fr[MAX_RUNS], rr[MAX_RUNS];
		s.count = counts[k];
		for (int r = 0; r < o.runs; r++) {
			fr[r] = run_feed(&s, o.seconds, &ok);
			rr[r] = run_raw(&s, o.seconds);
		}
		feed_eps[k] = ark_perf_median(fr, o.runs);
		raw_eps[k] = ark_perf_median(rr, o.runs);
	}
	free(s.block);
	if (!ok) {
		fprintf(stderr, "ark perf feed: a tick was lost, altered or refused\n");
		return 1;
	}
	if (o.json)
		report_json(&o, counts, feed_eps, raw_eps, parse_ns, base_ns);
	else
		report_table(&o, counts, feed_eps, raw_eps, parse_ns, base_ns);
	return 0;
}

ARK_PERF_BENCH(bench_feed, "feed", "TCP line feed: ticks/s over loopback (1 and N clients), parse ns/line",
	       bench_feed_main)
