/* cli/cmd_start.c — `ark start` and `ark stop`: the seed's
 * start_production.sh as one command. Start-up goes step by step, each with
 * its verdict: validate the configuration; start the watchdog as a
 * background service (it starts the agents, the metrics server, and the API
 * and mirror when configured) and wait until every agent runs; the health
 * checks (/healthz, /slos); the synthetic validation loop on an instance of
 * its own (same binary, rules and settings; it must not move the live
 * instance's market clock); then the status dashboard. The first step that
 * fails stops start-up with a clear message, and whatever it had started is
 * stopped again: nothing is left half-started.
 *
 * `ark stop` drains and stops a running instance (SIGTERM to its watchdog,
 * then waits for every process of the instance to be gone). */
#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "cli/command.h"
#include "cli/instance.h"
#include "http/http.h"
#include "ops/ops.h"
#include "store/store.h"
#include "watchdog/watchdog.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void step(const char *what)
{
	printf("==> %s\n", what);
	fflush(stdout);
}

struct body_sink {
	char *p;
	size_t cap, len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct body_sink *s = arg;
	size_t len = size * n, room = s->cap - 1 - s->len;
	if (len < room)
		room = len;
	memcpy(s->p + s->len, data, room);
	s->len += room;
	s->p[s->len] = '\0';
	return size * n;
}

/* GET url: the HTTP status (0: no answer, why in body), the body's start in body. */
static long http_get(const char *url, char *body, size_t cap)
{
	struct body_sink s = {body, cap, 0};
	body[0] = '\0';
	CURL *c = curl_easy_init();
	if (!c)
		return 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	const char *cert = getenv("METRICS_TLS_CERT");
	if (cert && *cert) {
		curl_easy_setopt(c, CURLOPT_CAINFO, cert);      /* our own server: trust its certificate */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L); /* reached by address, not by its name */
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	long status = 0;
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(body, cap, "%s", curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	return status;
}

/* The watchdog as a background service: its own session, output to
 * <log dir>/watchdog.out. */
static pid_t spawn_watchdog(const char *instance, char *const *extra_args, char *out_path, size_t out_len,
			    struct ark_err *err)
{
	char exe[4096];
	if (ark_self_exe(exe, sizeof exe, err))
		return -1;
	char logs[4096];
	ark_log_dir(logs, sizeof logs);
	snprintf(out_path, out_len, "%s/watchdog.out", logs);
	pid_t pid = fork();
	if (pid < 0)
		return ark_err_set(err, -errno, "fork: %s", strerror(errno)), -1;
	if (pid == 0) {
		setsid();
		int null = open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (null >= 0)
			dup2(null, 0);
		if (out >= 0)
			dup2(out, 1), dup2(out, 2);
		/* With the TCP line feed on ARK_FEED_BIND:ARK_FEED_PORT (7070), the
		 * watchdog's default source; the API and Alpha Vantage when set. */
		const char *argv[40] = {"ark", "watchdog", "--instance", instance};
		int argc = 4;
		for (int i = 0; extra_args[i] && argc < 39; i++)
			argv[argc++] = extra_args[i];
		argv[argc] = NULL;
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void tail_file(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	static char text[1 << 16];
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof text - 1)
		fseek(f, -(long)(sizeof text - 1), SEEK_END);
	else
		fseek(f, 0, SEEK_SET);
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char *start = text + n;
	for (int seen = 0; start > text && seen <= lines;)
		if (*--start == '\n')
			seen++;
	if (*start == '\n')
		start++;
	for (char *line = start, *next; *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		printf("    | %s\n", line);
	}
}

/* Until every agent runs and the metrics server (when enabled) listens. */
static int wait_ready(const char *instance, pid_t *watchdog, bool metrics, double timeout_s, unsigned *metrics_port,
		      char *why, size_t why_len)
{
	uint64_t deadline = ark_now_ns() + (uint64_t)(timeout_s * 1e9);
	while (ark_now_ns() < deadline) {
		int status;
		if (waitpid(*watchdog, &status, WNOHANG) == *watchdog) {
			*watchdog = 0;   /* reaped: its pid may be anyone's now */
			snprintf(why, why_len, "the watchdog exited (%s %d) during start-up",
				 WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			return -1;
		}
		struct ark_pipeline_map map;
		struct ark_err err = {0};
		if (ark_pipeline_attach(&map, instance, &err) == 0) {
			int running = 0;
			for (int a = 0; a < ARK_AGENT_COUNT; a++)
				running += atomic_load(&map.pipeline->agents[a].state) == ARK_PROC_RUNNING;
			*metrics_port = atomic_load(&map.pipeline->metrics_port);
			ark_pipeline_detach(&map);
			if (running == ARK_AGENT_COUNT && (!metrics || *metrics_port))
				return 0;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	snprintf(why, why_len, "the agents were not all running after %.0f s", timeout_s);
	return -1;
}

/* The synthetic loop on an instance of its own: `ark synth` as a child
 * (it keeps its data apart, under $ARK_DATA_DIR/synth-<instance>). */
static int run_synth(const char *instance, double duration, double rate)
{
	char exe[4096];
	if (ark_self_exe(exe, sizeof exe, NULL))
		return -1;
	char name[96], dur[32], hz[32];
	snprintf(name, sizeof name, "%.60s-synth", instance);
	snprintf(dur, sizeof dur, "%g", duration);
	snprintf(hz, sizeof hz, "%g", rate);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		unsetenv("REDIS_URL");
		execl(exe, "ark", "synth", "--duration", dur, "--rate", hz, "--instance", name, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void start_usage(FILE *out)
{
	fprintf(out,
		"usage: ark start [--instance NAME] [--synth-duration SECONDS] [--synth-rate HZ]\n"
		"                 [--skip-synth] [--timeout SECONDS] [--synthetic HZ]\n"
		"                 [--canary [--canary-percent 10] [--canary-window 10m]\n"
		"                           (--canary-env FILE | --canary-bin PATH) [--canary-allow-looser]]\n\n"
		"Production start-up, step by step (the seed's start_production.sh):\n"
		"  1. ark config validate (the env file: --env-file, $ARK_ENV_FILE or .env.production)\n"
		"  2. the watchdog as a background service: the five agents, the metrics server, the\n"
		"     ingest API (JWT_SECRET) and the Redis mirror (REDIS_URL); waits until all run\n"
		"  3. health checks: GET /healthz and /slos on the metrics server\n"
		"  4. the synthetic validation loop (ark synth, --synth-duration, default 300 s at\n"
		"     --synth-rate 1 Hz) on an instance of its own with the same rules and settings\n"
		"  5. the status dashboard (ark status)\n"
		"The first failing step stops start-up with its reason and stops whatever was\n"
		"started. Exit 0 when ARK is up and validated, 1 when a step failed, 2 on a usage error.\n\n"
		"  --synthetic HZ   the service also runs the synthetic source at HZ (paper trading\n"
		"                   without a feed)\n"
		"  --canary         a canary lane beside the stable one: its own Joey, HRM and Kenny\n"
		"                   with the canary's env file over this configuration (--canary-env)\n"
		"                   or its binary (--canary-bin) take --canary-percent of the signals\n"
		"                   for --canary-window; tripwires are checked every\n"
		"                   --canary-check-interval (1m) and roll it back on their own\n"
		"                   (ark canary status; ark canary promote once it passed). A canary\n"
		"                   whose rules are looser than the stable ones (a limit raised, a\n"
		"                   restriction removed) starts only with --canary-allow-looser\n"
		"Stop it with ark stop.\n");
}

/* What `ark start` was asked for. */
struct start_options {
	const char *instance;
	double synth_duration, synth_rate, timeout;
	bool skip_synth;
	char *wd_args[24];   /* what the watchdog is started with beyond its instance */
};

/* Options: 0, 1 after --help (answered), 2 on a usage error (said). */
static int parse_args(struct start_options *o, int argc, char **argv)
{
	static const struct option options[] = {
		{"instance", required_argument, NULL, 'i'}, {"synth-duration", required_argument, NULL, 'd'},
		{"synth-rate", required_argument, NULL, 'r'}, {"skip-synth", no_argument, NULL, 'S'},
		{"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
		{"synthetic", required_argument, NULL, 'y'}, ARK_CLI_CANARY_OPTIONS,
		{NULL, 0, NULL, 0}};
	char **wd_args = o->wd_args;
	int wd_n = 0;
	bool canary = false, canary_spec = false, canary_opt = false;
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		if (wd_n > 20) {
			fprintf(stderr, "ark start: too many --synthetic/--canary-* options\n");
			return 2;
		}
		switch (opt) {
		case 'i': o->instance = optarg; break;
		case 'd': rc = ark_parse_double(optarg, 1, 86400, "--synth-duration", &o->synth_duration, &err); break;
		case 'r': rc = ark_parse_double(optarg, 0.1, 1e6, "--synth-rate", &o->synth_rate, &err); break;
		case 'S': o->skip_synth = true; break;
		case 't': rc = ark_parse_double(optarg, 1, 3600, "--timeout", &o->timeout, &err); break;
		case 'y': {
			double hz;
			rc = ark_parse_double(optarg, 0.1, 1e9, "--synthetic", &hz, &err);
			wd_args[wd_n++] = "--synthetic";
			wd_args[wd_n++] = optarg;
			break;
		}
		case 'C': canary = true; break;
		case 'P': case 'W': case 'I': case 'E': case 'B': {
			static const char *const names[] = {"P--canary-percent", "W--canary-window", "I--canary-check-interval",
							    "E--canary-env", "B--canary-bin"};
			for (size_t k = 0; k < ARK_ARRAY_LEN(names); k++)
				if (names[k][0] == opt)
					wd_args[wd_n++] = (char *)names[k] + 1;
			wd_args[wd_n++] = optarg;
			canary_spec |= opt == 'E' || opt == 'B';
			canary_opt = true;
			break;
		}
		case 'L':
			/* A canary whose rules admit more than stable's: only on the operator's word. */
			wd_args[wd_n++] = "--canary-allow-looser";
			canary_opt = true;
			break;
		default: return ark_cli_usage(start_usage, opt, 1);
		}
		if (rc)
			return ark_cli_fail("start", &err, 2);
	}
	if (ark_cli_no_operands("start", argc, argv))
		return 2;
	if (!canary && canary_opt) {
		fprintf(stderr, "ark start: the --canary-* options go with --canary\n");
		return 2;
	}
	if (canary && !canary_spec) {
		fprintf(stderr, "ark start: --canary needs the canary's configuration or binary: --canary-env FILE or --canary-bin PATH\n");
		return 2;
	}
	if (canary)
		wd_args[wd_n++] = "--canary";
	return 0;
}

/* Step 1: the configuration as `ark config validate` checks it, one line
 * per check. 0 when valid. */
static int validate_configuration(void)
{
	static struct ark_validation v;
	struct ark_validate_options vo = {0};
	struct ark_env_file loaded;
	struct ark_err err = {0};
	const char *loaded_path = getenv("ARK_ENV_FILE_LOADED");
	bool have_file = loaded_path && *loaded_path && ark_env_file_parse(loaded_path, &loaded, &err) == 0;
	if (have_file) {
		vo.env_file = loaded_path;
		vo.file = &loaded;
	}
	ark_config_validate(&vo, &v);
	if (have_file)
		ark_env_file_free(&loaded);
	for (int i = 0; i < v.count; i++) {
		const struct ark_check *c = &v.checks[i];
		printf("    %s %s\n", c->status == ARK_CHECK_OK ? "✓" : c->status == ARK_CHECK_FAIL ? "✗" : "·", c->message);
		if (c->status == ARK_CHECK_FAIL && c->hint[0])
			printf("        hint: %s\n", c->hint);
	}
	if (!v.valid) {
		fprintf(stderr, "ark start: the configuration is INVALID; nothing was started\n");
		return 1;
	}
	return 0;
}

/* Step 3: /healthz (it may answer 503 for a moment while the first
 * heartbeats land), then /slos. 0 when both answer; else 1 after saying why. */
static int health_checks(const struct ark_http_config *http, unsigned metrics_port)
{
	char url[256], body[2048];
	const char *scheme = http->tls_cert[0] ? "https" : "http";
	const char *host = strcmp(http->bind, "0.0.0.0") == 0 ? "127.0.0.1" : strcmp(http->bind, "::") == 0 ? "::1" : http->bind;
	bool v6 = strchr(host, ':') != NULL;
	long status = 0;
	for (int attempt = 0; attempt < 20; attempt++) {
		snprintf(url, sizeof url, "%s://%s%s%s:%u/healthz", scheme, v6 ? "[" : "", host, v6 ? "]" : "", metrics_port);
		status = http_get(url, body, sizeof body);
		if (status == 200)
			break;
		struct timespec ts = {0, 250 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("    %s GET %s: %ld\n", status == 200 ? "✓" : "✗", url, status);
	if (status != 200) {
		fprintf(stderr, "ark start: the health check failed (%.300s); stopping what was started\n", body);
		return 1;
	}
	snprintf(url, sizeof url, "%s://%s%s%s:%u/slos", scheme, v6 ? "[" : "", host, v6 ? "]" : "", metrics_port);
	status = http_get(url, body, sizeof body);
	printf("    %s GET %s: %ld\n", status == 200 && strstr(body, "\"slos\"") ? "✓" : "✗", url, status);
	if (status != 200 || !strstr(body, "\"slos\"")) {
		fprintf(stderr, "ark start: /slos did not answer with the SLOs (%.200s); stopping what was started\n", body);
		return 1;
	}
	return 0;
}

static int start_main(int argc, char **argv)
{
	struct start_options o = {.instance = ark_pipeline_default_instance(), .synth_duration = 300, .synth_rate = 1,
				  .timeout = 60};
	int prc = parse_args(&o, argc, argv);
	if (prc)
		return prc == 1 ? 0 : prc;
	const char *instance = o.instance;
	struct ark_err err = {0};
	setenv("ARK_INSTANCE", instance, 1);

	step("1/5 validating the configuration");
	if (ark_cli_instance_alive(instance)) {
		fprintf(stderr, "ark start: instance '%s' is already running (ark status; ark stop to stop it)\n", instance);
		return 1;
	}
	if (validate_configuration())
		return 1;

	step("2/5 starting the watchdog, the agents and the metrics server");
	char out_path[4200];
	pid_t watchdog = spawn_watchdog(instance, o.wd_args, out_path, sizeof out_path, &err);
	if (watchdog < 0)
		return ark_cli_fail("start", &err, 1);
	struct ark_http_config http;
	bool metrics = ark_http_config_from_env(&http, &err) == 0 && ark_http_config_enabled(&http);
	unsigned metrics_port = 0;
	char why[512];
	if (wait_ready(instance, &watchdog, metrics, o.timeout, &metrics_port, why, sizeof why)) {
		fprintf(stderr, "ark start: %s; stopping what was started (its output: %s)\n", why, out_path);
		tail_file(out_path, 10);
		ark_cli_stop_instance(instance, watchdog, 30, false);
		return 1;
	}
	printf("    watchdog pid %d, agents running%s\n", (int)watchdog, metrics ? ", metrics server listening" : "");

	step("3/5 health checks");
	if (metrics) {
		if (health_checks(&http, metrics_port)) {
			ark_cli_stop_instance(instance, watchdog, 30, false);
			return 1;
		}
	} else {
		printf("    · METRICS_SERVER_ENABLED=false: no HTTP health checks; the agents' heartbeats are fresh\n");
	}

	step("4/5 the synthetic validation loop");
	if (o.skip_synth) {
		printf("    · skipped (--skip-synth)\n");
	} else {
		fflush(stdout);
		int rc = run_synth(instance, o.synth_duration, o.synth_rate);
		if (rc != 0) {
			fprintf(stderr, "ark start: the synthetic validation loop failed (see its criteria above); stopping what was started\n");
			ark_cli_stop_instance(instance, watchdog, 30, false);
			return 1;
		}
	}
	if (!ark_cli_instance_alive(instance)) {
		fprintf(stderr, "ark start: the instance is no longer running (see %s)\n", out_path);
		ark_cli_stop_instance(instance, watchdog, 30, false);
		return 1;
	}

	ark_cli_keep_env_snapshot();

	step("5/5 status");
	struct ark_pipeline_map map;
	static struct ark_status st;
	if (ark_pipeline_attach(&map, instance, &err) == 0) {
		ark_status_read(&map, NULL, 500000000ull, &st, &err);
		ark_status_render_text(&st, stdout, 0);
		ark_pipeline_detach(&map);
	}
	printf("\nARK is running (instance %s, watchdog pid %d). ark status --watch to watch it, ark stop to stop it.\n",
	       instance, (int)watchdog);
	return 0;
}

static int stop_main(int argc, char **argv)
{
	const char *instance = ark_pipeline_default_instance();
	double timeout = 60;
	struct ark_err err = {0};
	static const struct option longopts[] = {{"instance", required_argument, NULL, 'i'},
						 {"timeout", required_argument, NULL, 't'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":h", longopts)) != -1) {
		switch (opt) {
		case 'i': instance = optarg; break;
		case 't':
			if (ark_parse_double(optarg, 1, 3600, "--timeout", &timeout, &err))
				return ark_cli_fail("stop", &err, 2);
			break;
		case 'h':
			printf("usage: ark stop [--instance NAME] [--timeout SECONDS]\n\n"
			       "Drains and stops a running instance: SIGTERM to its watchdog ($ARK_RUN_DIR/watchdog.pid),\n"
			       "which lets every accepted event reach the journal, then waits (default 60 s) for\n"
			       "every process of the instance to be gone, killing what is left after that.\n");
			return 0;
		default: return ark_cli_option_error("stop", opt, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark stop: unknown option '%s'\n", argv[optind]);
		return 2;
	}
	if (!ark_cli_instance_alive(instance)) {
		printf("ark stop: instance '%s' is not running\n", instance);
		return 0;
	}
	int rc = ark_cli_stop_instance(instance, 0, timeout, false);
	printf("ark stop: instance '%s' %s\n", instance, rc ? "killed after the timeout" : "stopped");
	return rc ? 1 : 0;
}

ARK_COMMAND(start_command, "start", "production start-up: validate, start, health checks, synthetic loop, status",
	    start_main)
ARK_COMMAND(stop_command, "stop", "drain and stop a running instance (its watchdog)", stop_main)
