/* perf/bench_edges.c — `ark perf edges`: the edges' throughput against the
 * tools that define "fast" for them.
 *
 * Mirror: a real pipeline run fills a journal; the mirror then backfills it
 * into a private redis-server (the same code path that catches up after an
 * outage: journal reader, entry formatting, pipelined XADD, replies), and
 * redis-benchmark -P 64 runs XADDs of the same fields against the same
 * server, alternately, --runs times each; medians and their ratio.
 *
 * API under attack: a journal of --trace-events events (10 M; a long run's)
 * is written and indexed, a pipeline with the API runs on it, and a client
 * looks up unknown trace ids (inside the journal's id range, so each one
 * probes an index) while another POSTs signals; then one address holds its
 * cap of connections (and reopens what closes) while another address POSTs.
 * p99s of each, against the POSTs' p99 with nothing else going on. */
#include "api/api.h"
#include "mirror/mirror.h"
#include "store/store.h"
#include "perf/perf.h"
#include "perf/redis_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RUNS 9

static void usage(FILE *out)
{
	fprintf(out, "usage: ark perf edges [--runs N] [--events-seconds S] [--trace-events N] [--quick] [--json]\n\n"
		     "The mirror's XADDs per second (a journal of a real run backfilled into a private\n"
		     "redis-server on loopback) against redis-benchmark -P 64 XADD of the same fields on\n"
		     "the same server, alternately; then the ingest API of a running pipeline under h2load:\n"
		     "signals accepted per second over HTTP/1.1 keep-alive (64 connections) and HTTP/2 over\n"
		     "TLS (4 connections x 16 streams), single signals and batches of 100. Medians of --runs\n"
		     "(default 3). Then the API under attack: unknown-id trace look-ups on a journal of\n"
		     "--trace-events events while signals are POSTed, and POSTs from one address while\n"
		     "another holds its cap of connections (p99s in microseconds).\n\n"
		     "  --events-seconds S   how long the unpaced run that fills the journal lasts (default 1)\n"
		     "  --trace-events N     events in the look-up benchmark's journal (default 10000000;\n"
		     "                       288 bytes each on disk, plus its index)\n"
		     "  --quick              one run of each, short journals (a smoke test)\n"
		     "  --json               one JSON object; headline: mirror_eps, redis_benchmark_xadd_eps,\n"
		     "                       mirror_vs_redis_benchmark_ratio, api_http1_single_eps,\n"
		     "                       api_batch100_eps, api_trace_lookup_p99_us,\n"
		     "                       api_p99_us_under_slot_attack\n");
}

/* Run argv with stdout to a buffer; the exit status, or -errno. */
static int run_capture(const char *const *argv, char *out, size_t cap)
{
	int fds[2];
	if (pipe(fds))
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(fds[1], 1);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2);
		close(fds[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	for (;;) {
		char tmp[4096];
		ssize_t r = read(fds[0], tmp, sizeof tmp);
		if (r <= 0)
			break;
		/* keep the last cap-1 bytes: the summary line comes last */
		size_t take = (size_t)r;
		if (n + take >= cap) {
			size_t drop = n + take - (cap - 1);
			if (drop > n)
				drop = n;
			memmove(out, out + drop, n - drop);
			n -= drop;
			if (take >= cap)
				take = cap - 1;
		}
		memcpy(out + n, tmp + ((size_t)r - take), take);
		n += take;
	}
	out[n] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int flush(struct ark_perf_redis *rs, struct ark_err *err)
{
	redisReply *r = redisCommand(rs->c, "FLUSHALL");
	int rc = !r || r->type == REDIS_REPLY_ERROR ? ark_err_set(err, -EIO, "FLUSHALL: %s", r ? r->str : rs->c->errstr) : 0;
	if (r)
		freeReplyObject(r);
	return rc;
}

/* redis-benchmark's XADD of an entry shaped like the mirror's. */
static int redis_benchmark(const char *binary, int port, uint64_t n, double *rps, struct ark_err *err)
{
	char port_text[16], n_text[24];
	snprintf(port_text, sizeof port_text, "%d", port);
	snprintf(n_text, sizeof n_text, "%llu", (unsigned long long)n);
	const char *argv[] = {binary, "-h", "127.0.0.1", "-p", port_text, "-P", "64", "-n", n_text, "-q", "XADD",
			      "ark:bench", "MAXLEN", "~", "1000000", "*", "seq", "123456", "trace_id", "0000-00000001e240",
			      "symbol", "SYM0045", "price", "107.777221", "exchange_time_ns", "1704205800000200000", "side",
			      "buy", "quantity", "10", "limit_price", "107.8", "verdict", "allow", "reason", "none", "rule",
			      "0", "exec", "filled", "filled_quantity", "10", "fill_price", "107.8", "e2e_us", "480.973", NULL};
	static char out[1 << 16];
	int rc = run_capture(argv, out, sizeof out);
	const char *at = NULL;
	for (const char *p = strstr(out, " requests per second"); p; p = strstr(p + 1, " requests per second"))
		at = p;
	if (rc != 0 || !at)
		return ark_err_set(err, -EIO, "redis-benchmark failed (status %d): %.200s", rc, out);
	const char *start = at;
	while (start > out && (start[-1] == '.' || (start[-1] >= '0' && start[-1] <= '9')))
		start--;
	*rps = strtod(start, NULL);
	return *rps > 0 ? 0 : ark_err_set(err, -EIO, "cannot read redis-benchmark's rate: %.200s", at);
}

static int fill_journal(const char *dir, double seconds, struct ark_err *err)
{
	char exe[PATH_MAX], duration[32], instance[64];
	int exe_rc = ark_self_exe(exe, sizeof exe, err);
	if (exe_rc)
		return exe_rc;
	snprintf(duration, sizeof duration, "%g", seconds);
	snprintf(instance, sizeof instance, "edges%d", (int)getpid());
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		setenv("ARK_DATA_DIR", dir, 1);
		setenv("ARK_INSTANCE", instance, 1);
		setenv("METRICS_SERVER_ENABLED", "false", 1);
		unsetenv("REDIS_URL");
		unsetenv("ARK_STATE_DB");
		unsetenv("ARK_LOG_DIR");
		unsetenv("ARK_GRAVEYARD_RULES");
		execl(exe, "ark", "run", "--rate", "0", "--duration", duration, "--quiet", (char *)NULL);
		_exit(127);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ark_err_set(err, -EIO, "the pipeline run that fills the journal failed");
	return 0;
}


/* ---- the ingest API under h2load ---- */

struct api_run {
	pid_t pid;
	int port;
	char secret[64];
	char token[2048];
};

/* `ark run` with the API (plain HTTP, or TLS when cert is given) and a slow
 * synthetic source, so the API's signals are most of the traffic. */
static int api_start_in(struct api_run *r, const char *dir, const char *data_dir, const char *cert, const char *key,
			struct ark_err *err)
{
	memset(r, 0, sizeof *r);
	char exe[PATH_MAX], data[PATH_MAX], errfile[PATH_MAX + 8], instance[64];
	int exe_rc = ark_self_exe(exe, sizeof exe, err);
	if (exe_rc)
		return exe_rc;
	if (data_dir)
		snprintf(data, sizeof data, "%s", data_dir);
	else
		snprintf(data, sizeof data, "%s/api-data-%s", dir, cert ? "tls" : "plain");
	snprintf(errfile, sizeof errfile, "%s.err", data);
	snprintf(instance, sizeof instance, "edgesapi%d%s", (int)getpid(), data_dir ? "x" : cert ? "t" : "p");
	uint64_t seed = ark_now_ns();
	snprintf(r->secret, sizeof r->secret, "bench-%016llx-%016llx", (unsigned long long)seed,
		 (unsigned long long)(seed * 0x9e3779b97f4a7c15ull));
	r->pid = fork();
	if (r->pid == 0) {
		int null = open("/dev/null", O_WRONLY), ef = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (null >= 0)
			dup2(null, 1);
		if (ef >= 0)
			dup2(ef, 2);
		setenv("ARK_DATA_DIR", data, 1);
		setenv("ARK_INSTANCE", instance, 1);
		setenv("METRICS_SERVER_ENABLED", "false", 1);
		setenv("JWT_SECRET", r->secret, 1);
		setenv("API_PORT", "0", 1);
		setenv("ARK_JOURNAL_SYNC", "interval:10", 1);
		/* The look-up benchmark measures latency, not the per-token limit. */
		setenv("API_TRACE_RATE", "1000000", 1);
		setenv("API_TRACE_BURST", "1000000", 1);
		unsetenv("REDIS_URL");
		unsetenv("ARK_STATE_DB");
		unsetenv("ARK_LOG_DIR");
		if (cert) {
			setenv("API_TLS_CERT", cert, 1);
			setenv("API_TLS_KEY", key, 1);
			setenv("API_HTTP2", "true", 1);   /* opt-in (Rapid Reset): the h2 figures measure it */
		} else {
			unsetenv("API_TLS_CERT");
			unsetenv("API_TLS_KEY");
		}
		execl(exe, "ark", "run", "--rate", "10", "--duration", "3600", "--quiet", (char *)NULL);
		_exit(127);
	}
	if (r->pid < 0)
		return ark_err_set(err, -errno, "fork: %s", strerror(errno));
	for (int i = 0; i < 600 && !r->port; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		FILE *f = fopen(errfile, "r");
		char line[256];
		while (f && fgets(line, sizeof line, f)) {
			const char *p = strstr(line, "api listening on port ");
			if (p)
				r->port = atoi(p + strlen("api listening on port "));
		}
		if (f)
			fclose(f);
	}
	if (!r->port)
		return ark_err_set(err, -ETIMEDOUT, "the API did not start (see %s)", errfile);
	struct ark_jwt_config jwt;
	memset(&jwt, 0, sizeof jwt);
	memcpy(jwt.secret, r->secret, strlen(r->secret));
	jwt.secret_len = strlen(r->secret);
	return ark_jwt_mint(&jwt, "perf", "signals:write", (uint64_t)time(NULL), 3600, r->token, sizeof r->token, err);
}

static int api_start(struct api_run *r, const char *dir, const char *cert, const char *key, struct ark_err *err)
{
	return api_start_in(r, dir, NULL, cert, key, err);
}

static void api_stop(struct api_run *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGINT);
	for (int i = 0; i < 200; i++) {
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = 0;
			return;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (i == 100)
			kill(r->pid, SIGINT);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
}

/* Signals accepted per second: h2load's 2xx answers times the batch, over its time. */
static int h2load_eps(const struct api_run *r, bool tls, bool h1, const char *body, int batch, double seconds,
		      double *eps, struct ark_err *err)
{
	char url[96], auth[2100], dur[16];
	snprintf(url, sizeof url, "%s://127.0.0.1:%d/v1/signals", tls ? "https" : "http", r->port);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->token);
	snprintf(dur, sizeof dur, "%g", seconds);
	const char *argv[24];
	int n = 0;
	argv[n++] = "h2load";
	if (h1)
		argv[n++] = "--h1";
	argv[n++] = "-c";
	argv[n++] = h1 ? "64" : "4";   /* HTTP/1.1: one request in flight per connection */
	argv[n++] = "-m";
	argv[n++] = h1 ? "1" : "16";
	argv[n++] = "-D";
	argv[n++] = dur;
	argv[n++] = "-d";
	argv[n++] = body;
	argv[n++] = "-H";
	argv[n++] = auth;
	argv[n++] = "-H";
	argv[n++] = "Content-Type: application/json";
	argv[n++] = url;
	argv[n] = NULL;
	static char out[1 << 16];
	int rc = run_capture(argv, out, sizeof out);
	const char *codes = strstr(out, "status codes: "), *fin = strstr(out, "finished in ");
	if (rc != 0 || !codes || !fin)
		return ark_err_set(err, -EIO, "h2load failed (status %d): %.300s", rc, out);
	double ok = strtod(codes + strlen("status codes: "), NULL);
	double took = strtod(fin + strlen("finished in "), NULL);
	*eps = took > 0 ? ok * batch / took : 0;
	return 0;
}

/* ---- the API under attack: trace look-ups, slot exhaustion ---- */

/* A journal as a long run leaves it: n events, trace ids 2, 4, ... 2n (the
 * odd ids between are unknown, inside every segment's range), indexed as
 * Aletheia's indexer indexes it. */
static int make_trace_journal(const char *data_dir, uint64_t n, double *write_s, double *index_s, struct ark_err *err)
{
	struct ark_store_config cfg;
	ark_store_config_defaults(&cfg, data_dir);
	cfg.sync = ARK_JOURNAL_SYNC_NONE;
	int rc = ark_store_mkdirs(cfg.journal_dir, err);
	struct ark_journal *j = NULL;
	if (!rc)
		rc = ark_journal_open(&j, &cfg, NULL, err);
	if (rc)
		return rc;
	struct ark_event e;
	memset(&e, 0, sizeof e);
	uint64_t t0 = ark_now_ns();
	for (uint64_t seq = 1; seq <= n && !rc; seq++) {
		e.seq = seq;
		e.trace_id = 2 * seq;
		snprintf(e.symbol, sizeof e.symbol, "SYM%03u", (unsigned)(seq % 500));
		e.price = 100.0 + (double)(seq % 1000) / 10;
		for (int a = 0; a < ARK_AGENT_COUNT; a++)
			e.stamp_in_ns[a] = e.stamp_out_ns[a] = seq * 1000 + (uint64_t)a;
		rc = ark_journal_append(j, seq, e.trace_id, &e, sizeof e, err);
	}
	int crc = ark_journal_close(j, rc ? NULL : err);
	if (rc || crc)
		return rc ? rc : crc;
	*write_s = (double)(ark_now_ns() - t0) / 1e9;
	t0 = ark_now_ns();
	uint64_t indexed = 0;
	rc = ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, &indexed, err);
	*index_s = (double)(ark_now_ns() - t0) / 1e9;
	return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

struct api_client {
	CURL *c;
	struct curl_slist *headers;
};

static int api_client_init(struct api_client *cl, const struct api_run *r, const char *source)
{
	cl->c = curl_easy_init();
	if (!cl->c)
		return -ENOMEM;
	char h[2200], iface[64];
	snprintf(h, sizeof h, "Authorization: Bearer %s", r->token);
	cl->headers = curl_slist_append(NULL, h);
	cl->headers = curl_slist_append(cl->headers, "Content-Type: application/json");
	curl_easy_setopt(cl->c, CURLOPT_HTTPHEADER, cl->headers);
	curl_easy_setopt(cl->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cl->c, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(cl->c, CURLOPT_WRITEFUNCTION, discard);
	if (source) {
		snprintf(iface, sizeof iface, "host!%s", source);
		curl_easy_setopt(cl->c, CURLOPT_INTERFACE, iface);
	}
	return 0;
}

static void api_client_free(struct api_client *cl)
{
	curl_slist_free_all(cl->headers);
	curl_easy_cleanup(cl->c);
}

/* One request on the client's keep-alive connection: µs, or -1 on failure. */
static double api_request(struct api_client *cl, int port, const char *path, const char *body, long want)
{
	char url[160];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(cl->c, CURLOPT_URL, url);
	if (body)
		curl_easy_setopt(cl->c, CURLOPT_POSTFIELDS, body);
	else
		curl_easy_setopt(cl->c, CURLOPT_HTTPGET, 1L);
	uint64_t t0 = ark_now_ns();
	CURLcode cc = curl_easy_perform(cl->c);
	double us = (double)(ark_now_ns() - t0) / 1e3;
	long status = 0;
	if (cc == CURLE_OK)
		curl_easy_getinfo(cl->c, CURLINFO_RESPONSE_CODE, &status);
	return status == want ? us : -1;
}

static double p99_of(double *v, int n)
{
	ark_perf_sort(v, n);
	return n ? v[(int)(0.99 * (n - 1) + 0.5)] : 0;
}

/* POSTs of one signal, paced (~1000/s): a steady flow, not a load test. */
struct poster {
	const struct api_run *run;
	const char *source;
	atomic_bool stop;
	int limit;
	double *lat;
	int n, failed;
};

static void *poster_main(void *arg)
{
	struct poster *p = arg;
	struct api_client cl;
	if (api_client_init(&cl, p->run, p->source))
		return NULL;
	while (!atomic_load(&p->stop) && p->n < p->limit) {
		double us = api_request(&cl, p->run->port, "/v1/signals", "{\"symbol\":\"AAPL\",\"price\":187.5,\"size\":1}", 202);
		if (us < 0)
			p->failed++;
		else
			p->lat[p->n++] = us;
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	api_client_free(&cl);
	return NULL;
}

/* Holds up to 200 connections from 127.0.0.1, reopening what the server
 * closes: more than its cap, for as long as it runs. */
struct hog {
	int port;
	atomic_bool stop;
	_Atomic uint64_t opened;
};

static int connect_from(const char *source, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, source, &from.sin_addr);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *hog_main(void *arg)
{
	struct hog *h = arg;
	int fds[200];
	for (int i = 0; i < 200; i++)
		fds[i] = -1;
	while (!atomic_load(&h->stop)) {
		for (int i = 0; i < 200; i++) {
			char b;
			struct pollfd p = {.fd = fds[i], .events = POLLIN};
			if (fds[i] >= 0 && poll(&p, 1, 0) > 0 && recv(fds[i], &b, 1, MSG_DONTWAIT) <= 0) {
				close(fds[i]);
				fds[i] = -1;
			}
			if (fds[i] < 0) {
				fds[i] = connect_from("127.0.0.1", h->port);
				h->opened++;
			}
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 200; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

struct attack_figures {
	uint64_t events;
	double write_s, index_s;
	double post_p99_us, lookup_p99_us, lookup_p50_us, post_p99_during_lookups_us;
	double post_p99_under_slot_attack_us;
	int lookups, lookup_failures, posts_failed;
	uint64_t hog_connections;
};

static int api_under_attack(const char *dir, uint64_t events, bool quick, struct attack_figures *f, struct ark_err *err)
{
	memset(f, 0, sizeof *f);
	f->events = events;
	char data[PATH_MAX];
	snprintf(data, sizeof data, "%s/trace-data", dir);
	int rc = make_trace_journal(data, events, &f->write_s, &f->index_s, err);
	if (rc)
		return rc;
	struct api_run ar;
	if ((rc = api_start_in(&ar, dir, data, NULL, NULL, err))) {
		api_stop(&ar);
		return rc;
	}
	int posts = quick ? 300 : 3000, lookups = quick ? 300 : 3000;
	double *lat = calloc((size_t)(posts + lookups) * 3, sizeof *lat);
	if (!lat) {
		api_stop(&ar);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	double *base = lat, *during = lat + posts, *attacked = lat + 2 * posts, *look = lat + 3 * posts;
	/* 1. POSTs alone. */
	struct poster p = {.run = &ar, .source = "127.0.0.2", .limit = posts, .lat = base};
	poster_main(&p);
	f->post_p99_us = p99_of(base, p.n);
	f->posts_failed += p.failed;
	/* 2. Unknown-id look-ups while POSTs flow. */
	struct poster q = {.run = &ar, .source = "127.0.0.2", .limit = posts, .lat = during};
	pthread_t th;
	pthread_create(&th, NULL, poster_main, &q);
	struct api_client cl;
	api_client_init(&cl, &ar, "127.0.0.3");
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ ark_now_ns();
	for (int i = 0; i < lookups; i++) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		char path[64];
		snprintf(path, sizeof path, "/v1/traces/%016llx", (unsigned long long)(2 * (rng % (events / 2)) + 1));
		double us = api_request(&cl, ar.port, path, NULL, 404);
		if (us < 0)
			f->lookup_failures++;
		else
			look[f->lookups++] = us;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	api_client_free(&cl);
	atomic_store(&q.stop, true);
	pthread_join(th, NULL);
	f->post_p99_during_lookups_us = p99_of(during, q.n);
	f->posts_failed += q.failed;
	f->lookup_p99_us = p99_of(look, f->lookups);
	f->lookup_p50_us = f->lookups ? look[f->lookups / 2] : 0;
	/* 3. One address holds its cap of connections; another POSTs. */
	struct hog h = {.port = ar.port};
	pthread_create(&th, NULL, hog_main, &h);
	while (h.opened < 400) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	struct poster a = {.run = &ar, .source = "127.0.0.2", .limit = posts, .lat = attacked};
	poster_main(&a);
	atomic_store(&h.stop, true);
	pthread_join(th, NULL);
	f->hog_connections = h.opened;
	f->post_p99_under_slot_attack_us = p99_of(attacked, a.n);
	f->posts_failed += a.failed;
	api_stop(&ar);
	free(lat);
	if (f->lookup_failures || f->posts_failed)
		return ark_err_set(err, -EIO, "%d look-ups and %d POSTs did not get their answer (404, 202)",
				   f->lookup_failures, f->posts_failed);
	return 0;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

struct options {
	uint64_t runs, trace_events;
	double seconds;
	bool quick, json;
};

/* --quick: one run, 0.3 s of events, where it stands among the flags. */
static int quick_run(int id, const char *arg, void *opts, struct ark_err *err)
{
	struct options *o = opts;
	(void)id, (void)arg, (void)err;
	o->runs = 1;
	o->seconds = 0.3;
	o->quick = true;
	return 0;
}

#define OPT(member) offsetof(struct options, member)
static const struct ark_perf_flag flags[] = {
	{"runs", 'r', ARK_PERF_FLAG_U64, OPT(runs), 1, MAX_RUNS},
	{"events-seconds", 'e', ARK_PERF_FLAG_DOUBLE, OPT(seconds), 0.1, 60},
	{"trace-events", 't', ARK_PERF_FLAG_U64, OPT(trace_events), 1000, 100000000},
	{"quick", 'q', ARK_PERF_FLAG_CUSTOM0, 0, 0, 0},
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct options *o)
{
	/* Operands have always been ignored here. */
	static const struct ark_perf_cli cli = {
		.bench = "edges", .flags = flags, .usage = usage, .option = quick_run, .operands_ok = true};
	*o = (struct options){.runs = 3, .trace_events = 10000000, .seconds = 1};
	return ark_perf_parse_options(&cli, argc, argv, o);
}

/* Per-run figures (medians taken in the report) and the attack's. */
struct figures {
	double mirror[MAX_RUNS], bench[MAX_RUNS];
	uint64_t entries;
	double h1_single[MAX_RUNS], h1_batch[MAX_RUNS], h2_single[MAX_RUNS], h2_batch[MAX_RUNS];
	struct attack_figures af;
};

/* The mirror's backfill of the journal in dir against redis-benchmark, both
 * into the same Redis: 0, or -1 with the error printed. */
static int run_mirror(const struct options *o, const char *dir, struct ark_perf_redis *rs, const char *bench_binary,
		      struct figures *f)
{
	struct ark_err err = {0};
	char journal[PATH_MAX], url[64], log_dir[PATH_MAX];
	snprintf(journal, sizeof journal, "%s/journal", dir);
	snprintf(log_dir, sizeof log_dir, "%s/logs", dir);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", rs->port);
	setenv("REDIS_URL", url, 1);
	setenv("ARK_LOG_DIR", log_dir, 1);
	unsetenv("ARK_MIRROR_STREAM");
	unsetenv("ARK_MIRROR_PER_TOPIC");
	for (uint64_t r = 0; r < o->runs; r++) {
		struct ark_mirror_backfill_result res;
		if (flush(rs, &err) || ark_mirror_backfill(journal, &res, &err)) {
			fprintf(stderr, "ark perf edges: mirror: %s\n", err.msg);
			return -1;
		}
		f->entries = res.entries;
		f->mirror[r] = res.seconds > 0 ? (double)res.entries / res.seconds : 0;
		if (flush(rs, &err) || redis_benchmark(bench_binary, rs->port, res.entries, &f->bench[r], &err)) {
			fprintf(stderr, "ark perf edges: %s\n", err.msg);
			return -1;
		}
		if (!o->json)
			fprintf(stderr, "  run %llu: mirror %.0f XADD/s, redis-benchmark -P 64 %.0f XADD/s\n",
				(unsigned long long)r + 1, f->mirror[r], f->bench[r]);
	}
	return 0;
}

/* The request bodies (one signal, a batch of 100) and a test certificate
 * in dir: 0 or -1. */
static int write_api_inputs(const char *one, const char *hundred, const char *cert, const char *key)
{
	static char batch[16384];
	size_t used = (size_t)snprintf(batch, sizeof batch, "[");
	for (int i = 0; i < 100; i++)
		used += (size_t)snprintf(batch + used, sizeof batch - used, "%s{\"symbol\":\"SYM%02d\",\"price\":%d.25,\"size\":%d}",
					 i ? "," : "", i % 50, 100 + i, 1 + i % 7);
	snprintf(batch + used, sizeof batch - used, "]");
	const char *openssl[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
				 "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", key, "-out", cert, NULL};
	static char scratch[4096];
	if (write_file(one, "{\"symbol\":\"AAPL\",\"price\":187.5,\"size\":100}") || write_file(hundred, batch) ||
	    run_capture(openssl, scratch, sizeof scratch) != 0)
		return -1;
	return 0;
}

/* The API: plain HTTP/1.1 keep-alive, then HTTP/2 over TLS (ALPN): 0, or -1
 * with the error printed. */
static int run_api(const struct options *o, const char *dir, struct figures *f)
{
	struct ark_err err = {0};
	char one[PATH_MAX], hundred[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	snprintf(one, sizeof one, "%s/one.json", dir);
	snprintf(hundred, sizeof hundred, "%s/batch100.json", dir);
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	double load_s = o->runs == 1 ? 2 : 5;
	if (write_api_inputs(one, hundred, cert, key)) {
		fprintf(stderr, "ark perf edges: cannot write the request bodies or make a test certificate\n");
		return -1;
	}
	for (int tls = 0; tls < 2; tls++) {
		struct api_run ar;
		if (api_start(&ar, dir, tls ? cert : NULL, tls ? key : NULL, &err)) {
			fprintf(stderr, "ark perf edges: %s\n", err.msg);
			api_stop(&ar);
			return -1;
		}
		for (uint64_t r = 0; r < o->runs; r++) {
			double *single = tls ? f->h2_single : f->h1_single, *hundreds = tls ? f->h2_batch : f->h1_batch;
			if (h2load_eps(&ar, tls, !tls, one, 1, load_s, &single[r], &err) ||
			    h2load_eps(&ar, tls, !tls, hundred, 100, load_s, &hundreds[r], &err)) {
				fprintf(stderr, "ark perf edges: %s\n", err.msg);
				api_stop(&ar);
				return -1;
			}
			if (!o->json)
				fprintf(stderr, "  run %llu: API %s single %.0f signals/s, batches of 100 %.0f signals/s\n",
					(unsigned long long)r + 1, tls ? "HTTP/2 (TLS)" : "HTTP/1.1", single[r], hundreds[r]);
		}
		api_stop(&ar);
	}
	return 0;
}

/* The medians of the per-run figures. */
struct medians {
	double m, b, a1s, a1b, a2s, a2b;
};

static struct medians take_medians(const struct options *o, const struct figures *f)
{
	int n = (int)o->runs;
	return (struct medians){.m = ark_perf_median(f->mirror, n), .b = ark_perf_median(f->bench, n),
				.a1s = ark_perf_median(f->h1_single, n), .a1b = ark_perf_median(f->h1_batch, n),
				.a2s = ark_perf_median(f->h2_single, n), .a2b = ark_perf_median(f->h2_batch, n)};
}

static void json_attack(struct ark_json *j, const struct attack_figures *af)
{
	ark_json_object_begin(j, "api_under_attack");
	ark_json_uint(j, "journal_events", af->events);
	ark_json_number(j, "journal_write_s", af->write_s);
	ark_json_number(j, "index_build_s", af->index_s);
	ark_json_uint(j, "lookups", (uint64_t)af->lookups);
	ark_json_number(j, "lookup_p50_us", af->lookup_p50_us);
	ark_json_number(j, "lookup_p99_us", af->lookup_p99_us);
	ark_json_number(j, "post_p99_us_alone", af->post_p99_us);
	ark_json_number(j, "post_p99_us_during_lookups", af->post_p99_during_lookups_us);
	ark_json_number(j, "post_p99_us_under_slot_attack", af->post_p99_under_slot_attack_us);
	ark_json_uint(j, "attacker_connections_opened", af->hog_connections);
	ark_json_object_end(j);
}

static void report_json(const struct options *o, const struct figures *f, const char *redis_version)
{
	struct medians md = take_medians(o, f);
	const struct attack_figures *af = &f->af;
	struct ark_json j;
	ark_perf_json_begin(&j, "edges");
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "mirror_eps", md.m);
	ark_json_number(&j, "redis_benchmark_xadd_eps", md.b);
	ark_json_number(&j, "mirror_vs_redis_benchmark_ratio", md.b > 0 ? md.m / md.b : 0);
	ark_json_number(&j, "api_http1_single_eps", md.a1s);
	ark_json_number(&j, "api_batch100_eps", md.a1b > md.a2b ? md.a1b : md.a2b);
	ark_json_number(&j, "api_trace_lookup_p99_us", af->lookup_p99_us);
	ark_json_number(&j, "api_p99_us_under_slot_attack", af->post_p99_under_slot_attack_us);
	ark_json_object_end(&j);
	json_attack(&j, af);
	ark_json_number(&j, "api_http1_batch100_eps", md.a1b);
	ark_json_number(&j, "api_http2_single_eps", md.a2s);
	ark_json_number(&j, "api_http2_batch100_eps", md.a2b);
	ark_json_uint(&j, "entries_per_run", f->entries);
	ark_json_uint(&j, "runs", o->runs);
	ark_json_string(&j, "redis_version", redis_version);
	ark_perf_json_end(&j);
}

static void report_table(const struct options *o, const struct figures *f)
{
	struct medians md = take_medians(o, f);
	const struct attack_figures *af = &f->af;
	ark_perf_print_machine(stdout);
	printf("mirror: %.0f XADD/s (median of %llu backfills of %llu entries)\n", md.m, (unsigned long long)o->runs,
	       (unsigned long long)f->entries);
	printf("redis-benchmark -P 64 XADD, same fields: %.0f XADD/s\n", md.b);
	printf("mirror / redis-benchmark: %.2f\n", md.b > 0 ? md.m / md.b : 0);
	printf("API, signals accepted per second (h2load): HTTP/1.1 keep-alive single %.0f, batches of 100 %.0f;\n"
	       "     HTTP/2 over TLS single %.0f, batches of 100 %.0f\n", md.a1s, md.a1b, md.a2s, md.a2b);
	printf("API under attack, journal of %llu events (written in %.1f s, indexed in %.1f s):\n"
	       "     unknown-id trace look-up p50 %.0f us, p99 %.0f us (%d look-ups)\n"
	       "     POST /v1/signals p99: alone %.0f us, during look-ups %.0f us,\n"
	       "     while another address holds its cap of connections %.0f us (%llu connections opened)\n",
	       (unsigned long long)af->events, af->write_s, af->index_s, af->lookup_p50_us, af->lookup_p99_us,
	       af->lookups, af->post_p99_us, af->post_p99_during_lookups_us, af->post_p99_under_slot_attack_us,
	       (unsigned long long)af->hog_connections);
}

/* Everything between making dir and removing it: 0, or 1 with the error
 * printed. */
static int run_edges(struct options *o, const char *dir, const char *bench_binary, struct ark_perf_redis *rs)
{
	struct ark_err err = {0};
	static struct figures f;
	memset(&f, 0, sizeof f);
	if (fill_journal(dir, o->seconds, &err) || ark_perf_redis_start(rs, "redis-server", NULL, &err)) {
		fprintf(stderr, "ark perf edges: %s\n", err.msg);
		return 1;
	}
	if (run_mirror(o, dir, rs, bench_binary, &f) || run_api(o, dir, &f))
		return 1;
	if (o->quick && o->trace_events == 10000000)
		o->trace_events = 200000;
	if (!o->json)
		fprintf(stderr, "  the API under attack: writing and indexing a journal of %llu events...\n",
			(unsigned long long)o->trace_events);
	if (api_under_attack(dir, o->trace_events, o->quick, &f.af, &err)) {
		fprintf(stderr, "ark perf edges: the API under attack: %s\n", err.msg);
		return 1;
	}
	if (o->json)
		report_json(o, &f, rs->version);
	else
		report_table(o, &f);
	return 0;
}

static int edges_main(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	char bench_binary[512];
	if (ark_perf_find_program("redis-benchmark", bench_binary, sizeof bench_binary)) {
		fprintf(stderr, "ark perf edges: redis-benchmark not found (Debian package redis-tools)\n");
		return 1;
	}
	char dir[] = "/tmp/ark-perf-edges-XXXXXX";
	if (!mkdtemp(dir)) {
		fprintf(stderr, "ark perf edges: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	struct ark_perf_redis rs;
	memset(&rs, 0, sizeof rs);
	bool stopped = false;
	int status = run_edges(&o, dir, bench_binary, &rs);
	ark_perf_redis_stop(&rs, &stopped);
	if (ark_perf_remove_tree(dir) != 0)
		fprintf(stderr, "ark perf edges: could not remove %s\n", dir);
	return status;
}

ARK_PERF_BENCH(edges_bench, "edges", "the Redis mirror's XADD rate against redis-benchmark -P 64", edges_main)
