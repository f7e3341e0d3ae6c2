/* cli/cmd_synth.c — `ark synth`, the seed's synthetic validation loop
 * (run_synthetic_loop.py): synthetic signals with injected Graveyard
 * violations through a whole pipeline, then the success criteria as ✓/✗
 * lines — throughput at least the requested rate, zero errors, p95 within the
 * latency SLO, every injected violation denied with its own reason, no clean
 * signal denied, every trace complete, and (with --redis-url) every event in
 * the mirrored stream. Exit 0 only when all hold.
 *
 * It needs the instance to itself: the synthetic market clock jumps between
 * injections, which would disturb live traffic. So it starts an instance on
 * the embedded defaults (or the environment's settings) for the run and
 * stops it afterwards, and refuses to run beside a live one of the same name.
 * Its journal, Mutable Core and logs go to a directory of their own
 * ($ARK_DATA_DIR/synth-<instance>): a check never writes the live record. */
#include "pipeline/pipeline.h"
#include "api/api.h"
#include "audit/audit.h"
#include "graveyard/graveyard.h"
#include "cli/command.h"
#include "cli/instance.h"
#include "hist/hist.h"
#include "mirror/mirror.h"
#include "store/store.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark synth [--duration SECONDS] [--rate HZ] [--violations FRACTION] [--seed N]\n"
		"                 [--redis-url URL] [--api-url URL] [--instance NAME] [--debug] [--json]\n\n"
		"The synthetic validation loop: starts an instance for the run (the environment's\n"
		"settings, else the embedded defaults), sends synthetic signals with injected\n"
		"Graveyard violations straight into Kyle's ring, stops it, and checks the criteria:\n"
		"  throughput >= the requested rate, zero errors, p95 <= SLO_P95_LATENCY_MS (400),\n"
		"  every injected violation denied with its own reason, no clean signal denied,\n"
		"  every trace complete, and with --redis-url every event in the mirrored stream.\n\n"
		"  --duration SECONDS     how long signals are sent (default 300)\n"
		"  --rate HZ              signals per second, 0.1 up to what the pipeline takes (default 1)\n"
		"  --violations FRACTION  share of signals that inject a violation, spread over every\n"
		"                         rule kind (default 0.01; each injection takes ~24 signals)\n"
		"  --seed N               generator seed (default: the time)\n"
		"  --api-url URL          send the signals through the ingest API instead of straight\n"
		"                         into Kyle's ring: the run's instance serves the API at URL\n"
		"                         (http://127.0.0.1:8100) and the signals, injections and all,\n"
		"                         are POSTed to URL/v1/synthetic with a token minted for the run\n"
		"                         (from JWT_SECRET, or a secret made for the run)\n"
		"  --redis-url URL        mirror into this Redis (sets REDIS_URL for the run) and check\n"
		"                         the stream holds every event\n"
		"  --instance NAME        instance name (default $ARK_INSTANCE or 'main'); one of that\n"
		"                         name must not be running\n"
		"  --debug                the run's full summary and per-agent figures as well\n"
		"  --json                 one JSON object: the criteria, each with its figures\n\n"
		"A live progress line while it runs. Exit 0 when every criterion holds, 1 when one\n"
		"fails (named), 2 on a usage or configuration error.\n");
}

struct criterion {
	const char *name;
	bool ok;
	char detail[400];
};

/* The run's events in the mirrored stream(s): entries whose ID falls in the
 * run's sequence range, counted page by page. */
static int stream_count(const struct ark_mirror_config *m, uint64_t first_seq, uint64_t last_seq, uint64_t *count,
			char *why, size_t why_len)
{
	*count = 0;
	struct timeval tv = {5, 0};
	redisContext *c = m->url.unix_socket ? redisConnectUnixWithTimeout(m->url.host, tv)
					     : redisConnectWithTimeout(m->url.host, m->url.port, tv);
	if (!c || c->err) {
		snprintf(why, why_len, "cannot reach Redis: %s", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return -1;
	}
	redisSetTimeout(c, tv);
	redisReply *r;
	if (m->url.password[0]) {
		r = m->url.user[0] ? redisCommand(c, "AUTH %s %s", m->url.user, m->url.password)
				   : redisCommand(c, "AUTH %s", m->url.password);
		if (r)
			freeReplyObject(r);
	}
	if (m->url.db && (r = redisCommand(c, "SELECT %d", m->url.db)))
		freeReplyObject(r);
	const char *suffixes[] = {"", ":fills", ":denials", ":signals"};
	int streams = m->per_topic ? 4 : 1;
	int rc = 0;
	for (int s = 0; s < streams && !rc; s++) {
		char stream[256], from[48], to[48];
		snprintf(stream, sizeof stream, "%s%s", m->stream, m->per_topic ? suffixes[s] : "");
		if (m->per_topic && s == 0)
			continue;
		snprintf(from, sizeof from, "%llu-0", (unsigned long long)first_seq);
		snprintf(to, sizeof to, "%llu-65535", (unsigned long long)last_seq);
		for (;;) {
			r = redisCommand(c, "XRANGE %s %s %s COUNT 1000", stream, from, to);
			if (!r || r->type != REDIS_REPLY_ARRAY) {
				snprintf(why, why_len, "XRANGE %.100s: %.140s", stream, r && r->str ? r->str : c->errstr);
				rc = -1;
				if (r)
					freeReplyObject(r);
				break;
			}
			size_t n = r->elements;
			*count += n;
			if (n == 0) {
				freeReplyObject(r);
				break;
			}
			/* Next page: after the last ID. */
			const redisReply *last = r->element[n - 1];
			unsigned long long seq = 0, node = 0;
			if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1 && last->element[0]->str)
				sscanf(last->element[0]->str, "%llu-%llu", &seq, &node);
			freeReplyObject(r);
			if (n < 1000)
				break;
			snprintf(from, sizeof from, "%llu-%llu", seq, node + 1);
		}
	}
	redisFree(c);
	return rc;
}

/* One run of the loop: its options, then what it found. */
struct synth {
	double duration, rate, violations;
	uint64_t seed;
	const char *redis_url, *api_url, *instance;
	bool debug, json;
	struct ark_mirror_config mirror;
	double slo_p95_ms;
	char api_host[256], api_port_text[16];
	char data[4200];
	/* the run's results */
	struct ark_run_summary s;
	uint64_t base_seq, first_in, last_out;
	double p95_ms, hz;
	struct criterion c[9];
	int n;
};

/* Options: 0, 1 after --help (answered), 2 on a usage error (said). */
static int parse_args(struct synth *r, int argc, char **argv)
{
	static const struct option options[] = {
		{"duration", required_argument, NULL, 'd'}, {"rate", required_argument, NULL, 'r'},
		{"violations", required_argument, NULL, 'v'}, {"seed", required_argument, NULL, 's'},
		{"redis-url", required_argument, NULL, 'R'}, {"instance", required_argument, NULL, 'i'},
		{"api-url", required_argument, NULL, 'A'},
		{"debug", no_argument, NULL, 'D'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'd': rc = ark_parse_double(optarg, 1, 86400 * 7.0, "--duration", &r->duration, &err); break;
		case 'r': rc = ark_parse_double(optarg, 0.1, 1e8, "--rate", &r->rate, &err); break;
		case 'v': rc = ark_parse_double(optarg, 0, 0.5, "--violations", &r->violations, &err); break;
		case 's': rc = ark_parse_u64(optarg, 0, UINT64_MAX, "--seed", &r->seed, &err); break;
		case 'R': r->redis_url = optarg; break;
		case 'A': r->api_url = optarg; break;
		case 'i': r->instance = optarg; break;
		case 'D': r->debug = true; break;
		case 'j': r->json = true; break;
		default: return ark_cli_usage(usage, opt, 1);
		}
		if (rc)
			return ark_cli_fail("synth", &err, 2);
	}
	if (ark_cli_no_operands("synth", argc, argv))
		return 2;
	return 0;
}

/* The mirror's and the SLO's settings, and no live instance of the same
 * name. 0 or an exit status (said). */
static int check_settings(struct synth *r)
{
	struct ark_err err = {0};
	if (r->redis_url) {
		setenv("REDIS_URL", r->redis_url, 1);
		if (ark_mirror_config_from_env(&r->mirror, &err)) {
			fprintf(stderr, "ark synth: --redis-url: %s\n", err.msg);
			return 2;
		}
	}
	const char *slo = getenv("SLO_P95_LATENCY_MS");
	if (ark_parse_double(slo && *slo ? slo : "400", 0.001, 3600e3, "SLO_P95_LATENCY_MS", &r->slo_p95_ms, &err))
		return ark_cli_fail("synth", &err, 2);
	struct ark_pipeline_map running;
	if (ark_pipeline_attach(&running, r->instance, &err) == 0) {
		bool alive = false;
		for (int a = 0; a < ARK_AGENT_COUNT; a++)
			alive |= ark_shm_process_alive(atomic_load(&running.pipeline->agents[a].pid),
						       atomic_load(&running.pipeline->agents[a].start_ticks));
		ark_pipeline_detach(&running);
		if (alive) {
			fprintf(stderr, "ark synth: instance '%s' is running; the synthetic loop needs an instance to itself "
					"(its market clock jumps between injections): stop it, or pass --instance NAME\n",
				r->instance);
			return 2;
		}
	}
	return 0;
}

/* --api-url: the run's own instance serves the ingest API at that address,
 * and the signals go through it (POST /v1/synthetic). Host and port out of
 * the URL; 0 or an exit status (said). */
static int parse_api_url(struct synth *r)
{
	const char *api_url = r->api_url;
	struct ark_err err = {0};
	bool api_tls = strncmp(api_url, "https://", 8) == 0;
	const char *hp = api_tls ? api_url + 8 : strncmp(api_url, "http://", 7) == 0 ? api_url + 7 : NULL;
	const char *colon = hp ? (hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':')) : NULL;
	if (colon && hp[0] == '[')
		colon++;
	uint64_t port = 0;
	size_t host_len = colon ? (size_t)(colon - hp) : 0;
	if (hp && hp[0] == '[' && host_len >= 2) {
		hp++;
		host_len -= 2;
	}
	char port_text[16] = "";
	if (colon)
		snprintf(port_text, sizeof port_text, "%.*s", (int)strcspn(colon + 1, "/"), colon + 1);
	if (!hp || !colon || host_len == 0 || host_len >= sizeof r->api_host ||
	    ark_parse_u64(port_text, 1, 65535, "--api-url port", &port, &err)) {
		fprintf(stderr, "ark synth: --api-url: expected http://HOST:PORT (the address the run's API listens on), got '%.128s'\n",
			api_url);
		return 2;
	}
	memcpy(r->api_host, hp, host_len);
	r->api_host[host_len] = '\0';
	snprintf(r->api_port_text, sizeof r->api_port_text, "%llu", (unsigned long long)port);
	if (api_tls && (!getenv("API_TLS_CERT") || !getenv("API_TLS_KEY"))) {
		fprintf(stderr, "ark synth: --api-url https://...: set API_TLS_CERT and API_TLS_KEY for the run's API\n");
		return 2;
	}
	return 0;
}

/* The API for the run: a token minted here (from JWT_SECRET, or a secret
 * made for the run), the address of --api-url. 0 or an exit status (said). */
static int api_environment(const struct synth *r)
{
	struct ark_err err = {0};
	const char *secret = getenv("JWT_SECRET");
	if (!secret || !*secret) {
		uint8_t raw[32];
		char hex[65];
		if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
			fprintf(stderr, "ark synth: getrandom: %s\n", strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < sizeof raw; i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		setenv("JWT_SECRET", hex, 1);
		explicit_bzero(raw, sizeof raw);
		explicit_bzero(hex, sizeof hex);
	}
	struct ark_jwt_config jwt;
	static char token[4096];
	if (ark_jwt_config_from_env(&jwt, &err) ||
	    ark_jwt_mint(&jwt, "ark-synth", "synthetic:write", (uint64_t)time(NULL), (uint64_t)(r->duration + 3600), token,
			 sizeof token, &err)) {
		fprintf(stderr, "ark synth: --api-url: %s\n", err.msg);
		return 2;
	}
	explicit_bzero(&jwt, sizeof jwt);
	setenv("ARK_SYNTH_API_TOKEN", token, 1);
	explicit_bzero(token, sizeof token);
	setenv("API_BIND", r->api_host, 1);
	setenv("API_PORT", r->api_port_text, 1);
	setenv("API_ENABLED", "true", 1);
	return 0;
}

/* Only the synthetic signals: no API (unless --api-url), no market data, no
 * feed; and nothing of the live instance's record: a data directory of its
 * own (journal, Mutable Core, logs) under the configured one, the same
 * installed rules. 0 or an exit status (said). */
static int isolate_environment(struct synth *r)
{
	struct ark_err err = {0};
	unsetenv("ALPHA_VANTAGE_API_KEY");
	if (r->api_url) {
		int rc = api_environment(r);
		if (rc)
			return rc;
	} else {
		unsetenv("JWT_SECRET");
	}
	struct ark_store_config store;
	if (ark_store_config_from_env(&store, &err))
		return ark_cli_fail("synth", &err, 2);
	char rules[4200];
	const char *installed = getenv("ARK_GRAVEYARD_RULES");
	snprintf(rules, sizeof rules, "%s/graveyard.rules", store.data_dir);
	if ((!installed || !*installed) && access(rules, R_OK) == 0)
		setenv("ARK_GRAVEYARD_RULES", rules, 1);
	snprintf(r->data, sizeof r->data, "%s/synth-%.60s", store.data_dir, r->instance);
	setenv("ARK_DATA_DIR", r->data, 1);
	static const char *const own[] = {"ARK_STATE_DB", "ARK_JOURNAL_DIR", "ARK_BACKUP_DIR", "ARK_LOG_DIR", "ARK_RUN_DIR",
					  "ARK_CPU_KYLE", "ARK_CPU_JOEY", "ARK_CPU_HRM", "ARK_CPU_KENNY",
					  "ARK_CPU_ALETHEIA", "ARK_CPU_SOURCE", "ARK_BROKER"};
	for (size_t i = 0; i < sizeof own / sizeof *own; i++)
		unsetenv(own[i]);
	setenv("METRICS_SERVER_ENABLED", "false", 1);
	return 0;
}

/* The progress line, once a second (not with --json). */
static void print_progress(const struct synth *r, const struct ark_pipeline *p, double elapsed, bool tty)
{
	uint64_t errors = 0, injected = atomic_load(&p->counters.injected_denied) +
					  atomic_load(&p->counters.injected_wrong_reason) +
					  atomic_load(&p->counters.injected_allowed);
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		errors += atomic_load(&p->agents[a].errors);
	printf("%s  %5.0f/%.0f s  signals %llu  journaled %llu  violations %llu (denied %llu)  errors %llu  breaks %llu%s",
	       tty ? "\r" : "", elapsed, r->duration,
	       (unsigned long long)(atomic_load(&p->counters.source_published[0]) +
				    atomic_load(&p->counters.source_published[1])),
	       (unsigned long long)atomic_load(&p->counters.journaled), (unsigned long long)injected,
	       (unsigned long long)atomic_load(&p->counters.injected_denied), (unsigned long long)errors,
	       (unsigned long long)atomic_load(&p->counters.trace_breaks), tty ? "\033[K" : "\n");
	fflush(stdout);
}

/* Start the run's instance, wait for it to finish (Ctrl-C: drain; twice:
 * stop), and keep its summary. 0 or an exit status (said). */
static int run(struct synth *r)
{
	char rate_text[32], duration_text[32], seed_text[32], violations_text[32];
	snprintf(rate_text, sizeof rate_text, "%.17g", r->rate);
	snprintf(duration_text, sizeof duration_text, "%.17g", r->duration);
	snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)r->seed);
	snprintf(violations_text, sizeof violations_text, "%.17g", r->violations);
	const char *source_args[] = {"--rate", rate_text, "--duration", duration_text, "--seed", seed_text,
				     "--violations", violations_text, r->api_url ? "--api-url" : NULL, r->api_url, NULL};
	struct ark_err err = {0};
	struct ark_supervisor sup;
	struct ark_supervisor_options run_options = {.notice = ark_cli_print_notice, .instance = r->instance,
						     .source_args = source_args, .feed_port = -1, .api = r->api_url != NULL};
	int rc = ark_supervisor_start(&sup, &run_options, &err);
	if (rc)
		return ark_cli_fail("synth", &err, ark_supervisor_start_status(&sup, rc));
	struct ark_pipeline *p = sup.map.pipeline;
	r->base_seq = p->base_seq;
	ark_cli_catch_interrupts();
	bool tty = isatty(STDOUT_FILENO) && !r->json;
	if (!r->json)
		printf("ark synth: instance %s, %g signals/s for %g s, violations %g, seed %llu%s%s%s; its data in %s\n",
		       r->instance, r->rate, r->duration, r->violations, (unsigned long long)r->seed,
		       r->redis_url ? ", mirrored to Redis" : "", r->api_url ? ", through the API at " : "",
		       r->api_url ? r->api_url : "", r->data);
	uint64_t start = ark_now_ns(), last = start;
	int handled = 0;
	while (!ark_supervisor_finished(&sup)) {
		ark_supervisor_wait(&sup, -1, 100 * 1000 * 1000);
		if (ark_cli_act_on_interrupts(&sup, &handled, NULL))
			break;
		if (ark_supervisor_poll(&sup, &err) != 0) {
			fprintf(stderr, "ark synth: %s\n", err.msg);
			break;
		}
		uint64_t now = ark_now_ns();
		if (!r->json && now - last >= 1000 * 1000 * 1000) {
			last = now;
			print_progress(r, p, (double)(now - start) / 1e9, tty);
		}
	}
	ark_supervisor_stop(&sup, false);
	if (tty)
		printf("\n");
	double elapsed = (double)(ark_now_ns() - start) / 1e9;
	ark_supervisor_summary(&sup, elapsed, &r->s);
	r->p95_ms = (double)ark_hist_quantile(&ark_pipeline_latency(&sup.map)->end_to_end, 0.95) / 1e6;
	ark_pipeline_span(&sup.map, &r->first_in, &r->last_out);
	ark_supervisor_close(&sup);
	return 0;
}

/* The record, checked independently: every decision of this run against
 * the rules (ark audit). */
static void judge_audit(struct synth *r)
{
	const struct ark_run_summary *s = &r->s;
	struct criterion *c = r->c;
	int n = r->n;
	struct ark_err aerr = {0};
	struct ark_store_config audit_store;
	char rules_path[ARK_GRAVEYARD_PATH_MAX];
	static struct ark_audit_rules audit_rules;
	struct ark_audit *audit = NULL;
	struct ark_audit_counts counts = {0};
	int arc = ark_store_config_from_env(&audit_store, &aerr);
	if (!arc)
		arc = ark_graveyard_installed_path(rules_path, sizeof rules_path, &aerr);
	if (!arc)
		arc = ark_audit_rules_load(rules_path, &audit_rules, &aerr);
	if (!arc)
		arc = ark_audit_create(&audit, &audit_rules, NULL, NULL, &aerr);
	if (!arc)
		arc = ark_audit_journal(audit, audit_store.journal_dir, r->base_seq + 1, r->base_seq + s->events, &aerr);
	if (audit)
		ark_audit_counts(audit, &counts);
	ark_audit_destroy(audit);
	c[n] = (struct criterion){"audit clean", arc == 0 && counts.findings_total == 0 && counts.events == s->events, ""};
	if (arc)
		snprintf(c[n++].detail, sizeof c[0].detail, "the audit could not run: %.200s", aerr.msg);
	else
		snprintf(c[n++].detail, sizeof c[0].detail, "%llu events audited, %llu findings (ark audit --from %llu)",
			 (unsigned long long)counts.events, (unsigned long long)counts.findings_total,
			 (unsigned long long)(r->base_seq + 1));
	r->n = n;
}

/* The success criteria, from the run's summary. */
static void judge(struct synth *r)
{
	const struct ark_run_summary *s = &r->s;
	struct criterion *c = r->c;
	int n = 0;
	/* Throughput: the signals' own pace, from the first to the last one
	 * journaled, against the requested rate (2 % for the clocks). */
	double hz = s->events > 1 && r->last_out > r->first_in
			    ? (double)(s->events - 1) * 1e9 / (double)(r->last_out - r->first_in) : 0;
	r->hz = hz;
	c[n] = (struct criterion){"throughput", hz >= r->rate * 0.98 && s->events > 0, ""};
	snprintf(c[n++].detail, sizeof c[0].detail, "%.3f Hz (requested %g Hz, %llu signals)", hz, r->rate,
		 (unsigned long long)s->events);
	c[n] = (struct criterion){"zero errors", s->errors == 0 && !s->failure[0], ""};
	snprintf(c[n++].detail, sizeof c[0].detail, "%llu errors%s%s", (unsigned long long)s->errors,
		 s->failure[0] ? ": " : "", s->failure);
	c[n] = (struct criterion){"p95 latency", r->p95_ms <= r->slo_p95_ms && s->events > 0, ""};
	snprintf(c[n++].detail, sizeof c[0].detail, "p95 %.3f ms (SLO %g ms)", r->p95_ms, r->slo_p95_ms);
	uint64_t injected = s->injected_denied + s->injected_wrong_reason + s->injected_allowed;
	c[n] = (struct criterion){"violations denied", s->injected_allowed == 0 && s->injected_wrong_reason == 0 &&
							    (r->violations == 0 || injected > 0), ""};
	snprintf(c[n++].detail, sizeof c[0].detail, "%llu injected: %llu denied with their reason, %llu for another, %llu allowed",
		 (unsigned long long)injected, (unsigned long long)s->injected_denied,
		 (unsigned long long)s->injected_wrong_reason, (unsigned long long)s->injected_allowed);
	c[n] = (struct criterion){"no clean signal denied", s->clean_denied == 0, ""};
	snprintf(c[n++].detail, sizeof c[0].detail, "%llu clean intents denied", (unsigned long long)s->clean_denied);
	c[n] = (struct criterion){"traces complete", s->trace_breaks == 0 && s->events == s->ticks && s->events > 0, ""};
	snprintf(c[n++].detail, sizeof c[0].detail, "%llu of %llu signals journaled with a complete trace",
		 (unsigned long long)(s->events - s->trace_breaks), (unsigned long long)s->ticks);
	r->n = n;
	judge_audit(r);
	n = r->n;
	if (r->redis_url) {
		uint64_t in_stream = 0;
		char why[256] = "";
		int src = stream_count(&r->mirror, r->base_seq + 1, r->base_seq + s->events, &in_stream, why, sizeof why);
		c[n] = (struct criterion){"mirror complete", src == 0 && in_stream == s->events, ""};
		if (src)
			snprintf(c[n++].detail, sizeof c[0].detail, "%s", why);
		else
			snprintf(c[n++].detail, sizeof c[0].detail, "%llu of %llu events in stream %s%s",
				 (unsigned long long)in_stream, (unsigned long long)s->events, r->mirror.stream,
				 r->mirror.per_topic ? ":*" : "");
	}
	r->n = n;
}

/* The criteria as ✓/✗ lines, or one JSON object; true when all hold. */
static bool report(const struct synth *r)
{
	const struct criterion *c = r->c;
	int n = r->n;
	bool all = true;
	for (int i = 0; i < n; i++)
		all &= c[i].ok;
	if (r->json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_bool(&j, "passed", all);
		ark_json_string(&j, "instance", r->instance);
		ark_json_number(&j, "duration_s", r->duration);
		ark_json_number(&j, "rate_hz", r->rate);
		ark_json_number(&j, "violations", r->violations);
		ark_json_uint(&j, "seed", r->seed);
		ark_json_fixed(&j, "measured_hz", r->hz, 6);
		ark_json_fixed(&j, "p95_ms", r->p95_ms, 6);
		ark_json_uint(&j, "signals", r->s.events);
		ark_json_uint(&j, "errors", r->s.errors);
		ark_json_array_begin(&j, "criteria");
		for (int i = 0; i < n; i++) {
			ark_json_object_begin(&j, NULL);
			ark_json_string(&j, "name", c[i].name);
			ark_json_bool(&j, "ok", c[i].ok);
			ark_json_string(&j, "detail", c[i].detail);
			ark_json_object_end(&j);
		}
		ark_json_array_end(&j);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		if (r->debug)
			ark_run_summary_print(&r->s, stdout);
		printf("\nSuccess criteria:\n");
		for (int i = 0; i < n; i++)
			printf("%s %s: %s\n", c[i].ok ? "✓" : "✗", c[i].name, c[i].detail);
		printf("\nSynthetic validation %s\n", all ? "PASSED ✓" : "FAILED ✗");
	}
	return all;
}

static int synth_main(int argc, char **argv)
{
	static struct synth r;
	r = (struct synth){.duration = 300, .rate = 1, .violations = 0.01, .seed = (uint64_t)time(NULL),
			   .instance = ark_pipeline_default_instance()};
	int rc = parse_args(&r, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	if ((rc = check_settings(&r)) || (r.api_url && (rc = parse_api_url(&r))) || (rc = isolate_environment(&r)) ||
	    (rc = run(&r)))
		return rc;
	judge(&r);
	return report(&r) ? 0 : 1;
}

ARK_COMMAND(synth_command, "synth", "the synthetic validation loop: signals, injected violations, the success criteria",
	    synth_main)
