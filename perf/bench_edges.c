/* perf/bench_edges.c — `ark perf edges`: the edges' throughput against the
 * tools that define "fast" for them.
 *
 * Mirror: a real pipeline run fills a journal; the mirror then backfills it
 * into a private redis-server (the same code path that catches up after an
 * outage: journal reader, entry formatting, pipelined XADD, replies), and
 * redis-benchmark -P 64 runs XADDs of the same fields against the same
 * server, alternately, --runs times each; medians and their ratio. */
#include "api/api.h"
#include "mirror/mirror.h"
#include "perf/perf.h"
#include "perf/redis_server.h"

#include <errno.h>
#include <signal.h>
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
	fprintf(out, "usage: ark perf edges [--runs N] [--events-seconds S] [--quick] [--json]\n\n"
		     "The mirror's XADDs per second (a journal of a real run backfilled into a private\n"
		     "redis-server on loopback) against redis-benchmark -P 64 XADD of the same fields on\n"
		     "the same server, alternately; then the ingest API of a running pipeline under h2load:\n"
		     "signals accepted per second over HTTP/1.1 keep-alive (64 connections) and HTTP/2 over\n"
		     "TLS (4 connections x 16 streams), single signals and batches of 100. Medians of --runs\n"
		     "(default 3).\n\n"
		     "  --events-seconds S   how long the unpaced run that fills the journal lasts (default 1)\n"
		     "  --quick              one run of each, a short journal (a smoke test)\n"
		     "  --json               one JSON object; headline: mirror_eps, redis_benchmark_xadd_eps,\n"
		     "                       mirror_vs_redis_benchmark_ratio, api_http1_single_eps,\n"
		     "                       api_batch100_eps\n");
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
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return ark_err_set(err, -errno, "cannot find the ark executable");
	exe[n] = '\0';
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
static int api_start(struct api_run *r, const char *dir, const char *cert, const char *key, struct ark_err *err)
{
	memset(r, 0, sizeof *r);
	char exe[PATH_MAX], data[PATH_MAX], errfile[PATH_MAX + 8], instance[64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return ark_err_set(err, -errno, "cannot find the ark executable");
	exe[n] = '\0';
	snprintf(data, sizeof data, "%s/api-data-%s", dir, cert ? "tls" : "plain");
	snprintf(errfile, sizeof errfile, "%s.err", data);
	snprintf(instance, sizeof instance, "edgesapi%d%s", (int)getpid(), cert ? "t" : "p");
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

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int edges_main(int argc, char **argv)
{
	static const struct option options[] = {{"runs", required_argument, NULL, 'r'},
						{"events-seconds", required_argument, NULL, 'e'},
						{"quick", no_argument, NULL, 'q'},
						{"json", no_argument, NULL, 'j'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	struct ark_err err = {0};
	uint64_t runs = 3;
	double seconds = 1;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'r': rc = ark_parse_u64(optarg, 1, MAX_RUNS, "--runs", &runs, &err); break;
		case 'e': rc = ark_parse_double(optarg, 0.1, 60, "--events-seconds", &seconds, &err); break;
		case 'q': runs = 1; seconds = 0.3; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (rc) {
			fprintf(stderr, "ark perf edges: %s\n", err.msg);
			return 2;
		}
	}
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
	int status = 1;
	double mirror[MAX_RUNS], bench[MAX_RUNS];
	uint64_t entries = 0;
	if (fill_journal(dir, seconds, &err) || ark_perf_redis_start(&rs, "redis-server", NULL, &err)) {
		fprintf(stderr, "ark perf edges: %s\n", err.msg);
		goto out;
	}
	char journal[PATH_MAX], url[64], log_dir[PATH_MAX];
	snprintf(journal, sizeof journal, "%s/journal", dir);
	snprintf(log_dir, sizeof log_dir, "%s/logs", dir);
	snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", rs.port);
	setenv("REDIS_URL", url, 1);
	setenv("ARK_LOG_DIR", log_dir, 1);
	unsetenv("ARK_MIRROR_STREAM");
	unsetenv("ARK_MIRROR_PER_TOPIC");
	for (uint64_t r = 0; r < runs; r++) {
		struct ark_mirror_backfill_result res;
		if (flush(&rs, &err) || ark_mirror_backfill(journal, &res, &err)) {
			fprintf(stderr, "ark perf edges: mirror: %s\n", err.msg);
			goto out;
		}
		entries = res.entries;
		mirror[r] = res.seconds > 0 ? (double)res.entries / res.seconds : 0;
		if (flush(&rs, &err) || redis_benchmark(bench_binary, rs.port, res.entries, &bench[r], &err)) {
			fprintf(stderr, "ark perf edges: %s\n", err.msg);
			goto out;
		}
		if (!json)
			fprintf(stderr, "  run %llu: mirror %.0f XADD/s, redis-benchmark -P 64 %.0f XADD/s\n",
				(unsigned long long)r + 1, mirror[r], bench[r]);
	}
	double m = ark_perf_median(mirror, (int)runs), b = ark_perf_median(bench, (int)runs);
	/* The API: plain HTTP/1.1 keep-alive, then HTTP/2 over TLS (ALPN). */
	char one[PATH_MAX], hundred[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	snprintf(one, sizeof one, "%s/one.json", dir);
	snprintf(hundred, sizeof hundred, "%s/batch100.json", dir);
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	static char batch[16384];
	size_t used = (size_t)snprintf(batch, sizeof batch, "[");
	for (int i = 0; i < 100; i++)
		used += (size_t)snprintf(batch + used, sizeof batch - used, "%s{\"symbol\":\"SYM%02d\",\"price\":%d.25,\"size\":%d}",
					 i ? "," : "", i % 50, 100 + i, 1 + i % 7);
	snprintf(batch + used, sizeof batch - used, "]");
	const char *openssl[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
				 "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", key, "-out", cert, NULL};
	static char scratch[4096];
	double h1_single[MAX_RUNS], h1_batch[MAX_RUNS], h2_single[MAX_RUNS], h2_batch[MAX_RUNS];
	double load_s = runs == 1 ? 2 : 5;
	if (write_file(one, "{\"symbol\":\"AAPL\",\"price\":187.5,\"size\":100}") || write_file(hundred, batch) ||
	    run_capture(openssl, scratch, sizeof scratch) != 0) {
		fprintf(stderr, "ark perf edges: cannot write the request bodies or make a test certificate\n");
		goto out;
	}
	for (int tls = 0; tls < 2; tls++) {
		struct api_run ar;
		if (api_start(&ar, dir, tls ? cert : NULL, tls ? key : NULL, &err)) {
			fprintf(stderr, "ark perf edges: %s\n", err.msg);
			api_stop(&ar);
			goto out;
		}
		for (uint64_t r = 0; r < runs; r++) {
			double *single = tls ? h2_single : h1_single, *hundreds = tls ? h2_batch : h1_batch;
			if (h2load_eps(&ar, tls, !tls, one, 1, load_s, &single[r], &err) ||
			    h2load_eps(&ar, tls, !tls, hundred, 100, load_s, &hundreds[r], &err)) {
				fprintf(stderr, "ark perf edges: %s\n", err.msg);
				api_stop(&ar);
				goto out;
			}
			if (!json)
				fprintf(stderr, "  run %llu: API %s single %.0f signals/s, batches of 100 %.0f signals/s\n",
					(unsigned long long)r + 1, tls ? "HTTP/2 (TLS)" : "HTTP/1.1", single[r], hundreds[r]);
		}
		api_stop(&ar);
	}
	double a1s = ark_perf_median(h1_single, (int)runs), a1b = ark_perf_median(h1_batch, (int)runs);
	double a2s = ark_perf_median(h2_single, (int)runs), a2b = ark_perf_median(h2_batch, (int)runs);
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "benchmark", "edges");
		ark_perf_json_machine(&j);
		ark_json_object_begin(&j, "headline");
		ark_json_number(&j, "mirror_eps", m);
		ark_json_number(&j, "redis_benchmark_xadd_eps", b);
		ark_json_number(&j, "mirror_vs_redis_benchmark_ratio", b > 0 ? m / b : 0);
		ark_json_number(&j, "api_http1_single_eps", a1s);
		ark_json_number(&j, "api_batch100_eps", a1b > a2b ? a1b : a2b);
		ark_json_object_end(&j);
		ark_json_number(&j, "api_http1_batch100_eps", a1b);
		ark_json_number(&j, "api_http2_single_eps", a2s);
		ark_json_number(&j, "api_http2_batch100_eps", a2b);
		ark_json_uint(&j, "entries_per_run", entries);
		ark_json_uint(&j, "runs", runs);
		ark_json_string(&j, "redis_version", rs.version);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		ark_perf_print_machine(stdout);
		printf("mirror: %.0f XADD/s (median of %llu backfills of %llu entries)\n", m, (unsigned long long)runs,
		       (unsigned long long)entries);
		printf("redis-benchmark -P 64 XADD, same fields: %.0f XADD/s\n", b);
		printf("mirror / redis-benchmark: %.2f\n", b > 0 ? m / b : 0);
		printf("API, signals accepted per second (h2load): HTTP/1.1 keep-alive single %.0f, batches of 100 %.0f;\n"
		       "     HTTP/2 over TLS single %.0f, batches of 100 %.0f\n", a1s, a1b, a2s, a2b);
	}
	status = 0;
out:
	ark_perf_redis_stop(&rs, &stopped);
	if (ark_perf_remove_tree(dir) != 0)
		fprintf(stderr, "ark perf edges: could not remove %s\n", dir);
	return status;
}

ARK_PERF_BENCH(edges_bench, "edges", "the Redis mirror's XADD rate against redis-benchmark -P 64", edges_main)
