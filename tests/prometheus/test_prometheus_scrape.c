/* tests/prometheus/test_prometheus_scrape.c — a real Prometheus
 * (/usr/bin/prometheus, Debian package `prometheus`) scrapes the metrics
 * server over mutual TLS with a test CA, using deploy/prometheus/prometheus.yml
 * itself (placeholders substituted, intervals shortened to 1 s, target set to
 * the server's ephemeral port). Its HTTP API must show up == 1 for the
 * ark-metrics job and ark_pass_latency_ms_count equal to the provider's count,
 * then follow a change of that count. Prometheus runs on a free loopback port
 * with a temporary storage dir and is stopped (SIGTERM, then SIGKILL) at the end.
 *   test_prometheus_scrape make-test-certs.sh DEPLOY_DIR
 *
 * With a third argument, the path of `ark`, the server is the real pipeline's
 * (`ark run` with METRICS_TLS_* set, mutual TLS): Prometheus must show up == 1
 * and an ark_pass_latency_ms_count equal to the count of events the pipeline
 * itself journaled (read from its segment), and ark_availability == 1.
 *   test_prometheus_scrape make-test-certs.sh DEPLOY_DIR ARK */
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "../http/http_test.h"
#include "pipeline/pipeline.h"

static char tmpdir[256];
static pid_t prom_pid = -1;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	CHECK_MSG(f, "cannot open %s", path);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return strdup(buf);
}

/* Replace every occurrence of `from` with `to` (fresh string; frees s). */
static char *replace(char *s, const char *from, const char *to, int expect_min)
{
	size_t fl = strlen(from), tl = strlen(to);
	int count = 0;
	struct ark_buf b;
	ark_buf_init(&b);
	const char *p = s, *q;
	while ((q = strstr(p, from))) {
		ark_buf_append(&b, p, (size_t)(q - p));
		ark_buf_append(&b, to, tl);
		p = q + fl;
		count++;
	}
	ark_buf_puts(&b, p);
	CHECK_MSG(count >= expect_min, "'%s' found %d times in prometheus.yml", from, count);
	free(s);
	char *r = strdup(b.data);
	ark_buf_free(&b);
	return r;
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

/* Instant query; returns true and the sample value (as text) when the result
 * has exactly one sample. */
static bool query_one(uint16_t pport, const char *promql, char *val, size_t cap)
{
	CURL *c = curl_easy_init();
	char *esc = curl_easy_escape(c, promql, 0);
	char path[512];
	snprintf(path, sizeof(path), "/api/v1/query?query=%s", esc);
	curl_free(esc);
	curl_easy_cleanup(c);
	struct resp r;
	do_req(pport, &(struct req){.path = path}, &r);
	bool ok = false;
	if (r.cc == CURLE_OK && r.status == 200 && r.body && strstr(r.body, "\"status\":\"success\"")) {
		const char *v = strstr(r.body, "\"value\":[");
		if (v && !strstr(v + 1, "\"value\":[")) {
			const char *s = strchr(v, ',');
			if (s && s[1] == '"') {
				const char *e = strchr(s + 2, '"');
				size_t n = ARK_MIN((size_t)(e - s - 2), cap - 1);
				memcpy(val, s + 2, n);
				val[n] = '\0';
				ok = true;
			}
		}
	}
	resp_free(&r);
	return ok;
}

static bool wait_value(uint16_t pport, const char *promql, const char *want, int timeout_ms, char *last, size_t cap)
{
	uint64_t deadline = ark_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	strcpy(last, "(no result)");
	while (ark_now_ns() < deadline) {
		if (query_one(pport, promql, last, cap) && strcmp(last, want) == 0)
			return true;
		int st;
		CHECK_MSG(waitpid(prom_pid, &st, WNOHANG) == 0, "prometheus exited; see %s/prometheus.log", tmpdir);
		usleep(200 * 1000);
	}
	return false;
}

static void stop_prometheus(void)
{
	if (prom_pid <= 0)
		return;
	kill(prom_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(prom_pid, NULL, WNOHANG) == prom_pid) {
			prom_pid = -1;
			return;
		}
		usleep(50 * 1000);
	}
	kill(prom_pid, SIGKILL);
	waitpid(prom_pid, NULL, 0);
	prom_pid = -1;
}

static pid_t ark_pid = -1;

/* `ark run` slowly (one event every 2 s), serving its metrics over mutual TLS;
 * returns the metrics server's port. */
static uint16_t start_pipeline(const char *ark, const char *certs, char *instance, size_t cap)
{
	char path[600], data[600];
	snprintf(instance, cap, "promtest%d", (int)getpid());
	snprintf(data, sizeof(data), "%s/data", certs);
	setenv("ARK_DATA_DIR", data, 1);
	setenv("ARK_INSTANCE", instance, 1);
	setenv("ARK_JOURNAL_SYNC", "none", 1);
	setenv("METRICS_PORT", "0", 1);
	snprintf(path, sizeof(path), "%s/server.crt", certs);
	setenv("METRICS_TLS_CERT", path, 1);
	snprintf(path, sizeof(path), "%s/server.key", certs);
	setenv("METRICS_TLS_KEY", path, 1);
	snprintf(path, sizeof(path), "%s/ca.crt", certs);
	setenv("METRICS_TLS_CLIENT_CA", path, 1);
	snprintf(path, sizeof(path), "%s/run.out", certs);
	ark_pid = fork();
	CHECK(ark_pid >= 0);
	if (ark_pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(ark, "ark", "run", "--rate", "0.5", "--duration", "30", "--violations", "0", "--quiet", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct ark_pipeline_map map;
		struct ark_err err;
		if (ark_pipeline_attach(&map, instance, &err) == 0) {
			uint16_t port = (uint16_t)atomic_load(&map.pipeline->metrics_port);
			ark_pipeline_detach(&map);
			if (port)
				return port;
		}
		usleep(20 * 1000);
	}
	CHECK_MSG(false, "ark run's metrics server never published its port (see %s)", path);
	return 0;
}

static uint64_t pipeline_journaled(const char *instance)
{
	struct ark_pipeline_map map;
	struct ark_err err;
	CHECK_MSG(ark_pipeline_attach(&map, instance, &err) == 0, "%s", err.msg);
	uint64_t n = atomic_load(&map.pipeline->counters.journaled);
	ark_pipeline_detach(&map);
	return n;
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 3 || argc == 4, "usage: test_prometheus_scrape make-test-certs.sh DEPLOY_DIR [ARK]");
	bool pipeline = argc == 4;
	CHECK_MSG(access("/usr/bin/prometheus", X_OK) == 0, "/usr/bin/prometheus missing: apt-get install prometheus");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *certs = make_certs(argv[1], 0);
	snprintf(tmpdir, sizeof(tmpdir), "%s", certs);

	/* the server: TLS with client-certificate verification */
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	test_config(&cfg);
	snprintf(cfg.tls_cert, sizeof(cfg.tls_cert), "%s/server.crt", certs);
	snprintf(cfg.tls_key, sizeof(cfg.tls_key), "%s/server.key", certs);
	snprintf(cfg.tls_client_ca, sizeof(cfg.tls_client_ca), "%s/ca.crt", certs);
	struct test_server ts;
	memset(&ts, 0, sizeof ts);
	char instance[64] = "";
	if (pipeline)
		ts.port = start_pipeline(argv[3], certs, instance, sizeof instance);
	else
		CHECK_MSG(ts_start(&ts, &cfg, &p) == 0, "%s", ts.err.msg);

	/* Prometheus's configuration: the deploy file itself, adapted */
	char path[512], val[64];
	size_t len;
	snprintf(path, sizeof(path), "%s/prometheus.yml", argv[2]);
	char *conf = slurp(path, &len);
	snprintf(path, sizeof(path), "%s/ca.crt", certs);
	conf = replace(conf, "__CA_FILE__", path, 1);
	snprintf(path, sizeof(path), "%s/client.crt", certs);
	conf = replace(conf, "__CERT_FILE__", path, 1);
	snprintf(path, sizeof(path), "%s/client.key", certs);
	conf = replace(conf, "__KEY_FILE__", path, 1);
	conf = replace(conf, "interval: 15s", "interval: 1s", 2);
	conf = replace(conf, "scrape_timeout: 10s", "scrape_timeout: 1s", 1);
	char target[64];
	snprintf(target, sizeof(target), "127.0.0.1:%u", ts.port);
	conf = replace(conf, "127.0.0.1:9090", target, 1);
	snprintf(path, sizeof(path), "%s/prometheus.yml", certs);
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(conf, f) >= 0 && fclose(f) == 0);
	free(conf);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp '%s/alerts.yml' '%s/alerts.yml'", argv[2], certs);
	CHECK(system(cmd) == 0);

	uint16_t pport = free_port();
	char a_conf[600], a_store[600], a_listen[64], logpath[600];
	snprintf(a_conf, sizeof(a_conf), "--config.file=%s/prometheus.yml", certs);
	snprintf(a_store, sizeof(a_store), "--storage.tsdb.path=%s/data", certs);
	snprintf(a_listen, sizeof(a_listen), "--web.listen-address=127.0.0.1:%u", pport);
	snprintf(logpath, sizeof(logpath), "%s/prometheus.log", certs);
	prom_pid = fork();
	CHECK(prom_pid >= 0);
	if (prom_pid == 0) {
		int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (lfd >= 0) {
			dup2(lfd, 1);
			dup2(lfd, 2);
		}
		execl("/usr/bin/prometheus", "prometheus", a_conf, a_store, a_listen, "--log.level=warn",
		      (char *)NULL);
		_exit(127);
	}

	uint64_t t0 = ark_now_ns();
	bool up = wait_value(pport, "up{job=\"ark-metrics\"}", "1", 30000, val, sizeof(val));
	if (!up) {
		snprintf(cmd, sizeof(cmd), "cat '%s' >&2", logpath);
		(void)system(cmd);
	}
	CHECK_MSG(up, "up{job=\"ark-metrics\"} never became 1 (last: %s)", val);
	double first_ms = (double)(ark_now_ns() - t0) / 1e6;
	if (pipeline) {
		/* What Prometheus scraped equals what the pipeline counted. Events
		 * come every 2 s and scrapes every second, so the two are read in
		 * the same quiet second within a few tries. */
		uint64_t journaled = 0;
		bool matched = false;
		for (int i = 0; i < 100 && !matched; i++) {
			if (query_one(pport, "ark_pass_latency_ms_count{job=\"ark-metrics\"}", val, sizeof(val))) {
				journaled = pipeline_journaled(instance);
				matched = journaled >= 2 && strtoull(val, NULL, 10) == journaled;
			}
			if (!matched)
				usleep(300 * 1000);
		}
		CHECK_MSG(matched, "ark_pass_latency_ms_count from Prometheus %s, the pipeline journaled %llu", val,
			  (unsigned long long)journaled);
		CHECK_MSG(wait_value(pport, "ark_availability{job=\"ark-metrics\"}", "1", 10000, val, sizeof(val)),
			  "ark_availability: %s", val);
		stop_prometheus();
		kill(ark_pid, SIGINT);   /* Ctrl-C: drain and stop */
		int st;
		CHECK(waitpid(ark_pid, &st, 0) == ark_pid);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ark run ended with status 0x%x", st);
		rm_rf(certs);
		curl_global_cleanup();
		printf("prometheus scrape of the pipeline over mutual TLS: up after %.0f ms, ark_pass_latency_ms_count %llu == journaled\n",
		       first_ms, (unsigned long long)journaled);
		return 0;
	}
	CHECK_MSG(wait_value(pport, "ark_pass_latency_ms_count{job=\"ark-metrics\"}", "1234", 10000, val, sizeof(val)),
		  "ark_pass_latency_ms_count: %s, expected 1234", val);
	CHECK_MSG(wait_value(pport, "ark_availability{job=\"ark-metrics\"}", "1", 10000, val, sizeof(val)),
		  "ark_availability: %s", val);
	/* the count moves: Prometheus must follow it */
	atomic_store(&tp.pass_count, 98765);
	CHECK_MSG(wait_value(pport, "ark_pass_latency_ms_count{job=\"ark-metrics\"}", "98765", 10000, val, sizeof(val)),
		  "ark_pass_latency_ms_count: %s after the change, expected 98765", val);
	/* the scrapes were real requests to this server, over TLS with a client cert */
	uint64_t scrapes = atomic_load(&tp.metrics_calls);
	CHECK_MSG(scrapes >= 2, "provider rendered %llu times", (unsigned long long)scrapes);

	stop_prometheus();
	ts_stop(&ts);
	CHECK(ts.stats.status_2xx >= 2);
	rm_rf(certs);
	curl_global_cleanup();
	printf("prometheus scrape: OK (up after %.0f ms, %llu scrapes)\n", first_ms, (unsigned long long)scrapes);
	return 0;
}
