/* sources/source_synthetic.c — the synthetic source as a process: runs the
 * deterministic generator (synth/) and publishes its ticks on its inbound
 * ring to Kyle, paced or as fast as Kyle takes them.
 *
 * Crash-only: a restarted source finds the last tick it published on its
 * ring (source_seq) and fast-forwards the generator to it, so the stream
 * continues exactly where it stopped: nothing skipped, nothing repeated. A
 * paced run ends after rate x duration ticks; an unpaced one after
 * `duration` of wall time counted from the first start.
 *
 * With --api-url URL (`ark synth --api-url`) the ticks go through the ingest
 * API instead: POST URL/v1/synthetic in batches, with the bearer token in
 * $ARK_SYNTH_API_TOKEN (never logged); a 503 (the API's ring is full) sends
 * the same batch again; any other refusal is an error of this source. A
 * restart resumes after the last batch the API accepted. */
#include "sources/sources.h"
#include "synth/synth.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static const char *api_url;

static int parse_options(struct ark_synth_config *config, uint64_t *duration_ns, int argc, char **argv,
			 struct ark_err *err)
{
	static const struct option options[] = {
		{"rate", required_argument, NULL, 'r'},       {"duration", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},       {"violations", required_argument, NULL, 'v'},
		{"symbols", required_argument, NULL, 'y'},    {"start-now", no_argument, NULL, 'n'},
		{"api-url", required_argument, NULL, 'a'},    {NULL, 0, NULL, 0}};
	ark_synth_config_defaults(config);
	*duration_ns = 10ull * 1000 * 1000 * 1000;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'r': rc = ark_synth_config_parse_rate(config, optarg, err); break;
		case 'd':
			rc = ark_synth_config_parse_duration(config, optarg, err);
			*duration_ns = config->duration_ns;
			break;
		case 's': rc = ark_synth_config_parse_seed(config, optarg, err); break;
		case 'v': rc = ark_synth_config_parse_violations(config, optarg, err); break;
		case 'y': rc = ark_synth_config_parse_symbols(config, optarg, err); break;
		case 'a':
			if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
				rc = ark_err_set(err, -EINVAL, "--api-url: expected http://HOST:PORT or https://..., got '%.64s'", optarg);
			api_url = optarg;
			break;
		case 'n':
			/* Share a timeline with real sources: the market clock starts
			 * at the wall clock instead of the fixed default. */
			config->start_ns = ark_realtime_ns();
			break;
		default: rc = ark_err_set(err, -EINVAL, "unknown option '%s'", argv[optind - 1]);
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return ark_err_set(err, -EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* ---- the API path ---- */
struct api_sender {
	CURL *curl;
	struct curl_slist *headers;
	char url[512];
	char *body;
	size_t cap, len;
	long status;
	char answer[512];
	size_t answer_len;
};

static size_t keep_answer(char *data, size_t size, size_t n, void *ctx)
{
	struct api_sender *a = ctx;
	size_t len = size * n, room = sizeof a->answer - 1 - a->answer_len;
	memcpy(a->answer + a->answer_len, data, len < room ? len : room);
	a->answer_len += len < room ? len : room;
	a->answer[a->answer_len] = '\0';
	return len;
}

static int api_open(struct api_sender *a, const char *base, struct ark_err *err)
{
	const char *token = getenv("ARK_SYNTH_API_TOKEN");
	if (!token || !*token)
		return ark_err_set(err, -EINVAL, "--api-url needs a token in ARK_SYNTH_API_TOKEN (ark synth mints it)");
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	snprintf(a->url, sizeof a->url, "%.*s/v1/synthetic", (int)blen, base);
	char auth[4096];
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	a->cap = 256 * ARK_PIPELINE_BATCH;
	a->body = malloc(a->cap);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(a->curl = curl_easy_init()) || !a->body)
		return ark_err_set(err, -ENOMEM, "libcurl: cannot initialise");
	a->headers = curl_slist_append(NULL, "Content-Type: application/json");
	a->headers = curl_slist_append(a->headers, auth);
	explicit_bzero(auth, sizeof auth);
	curl_easy_setopt(a->curl, CURLOPT_URL, a->url);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	return 0;
}

static void api_close(struct api_sender *a)
{
	if (a->curl)
		curl_easy_cleanup(a->curl);
	curl_slist_free_all(a->headers);
	free(a->body);
}

/* A number as /v1/synthetic reads it: a non-finite one (an injected
 * violation's price) is the string "nan", "inf" or "-inf", the format's
 * documented spelling; everything else a JSON number. */
static void put_number(struct ark_json *j, const char *key, double v)
{
	if (isnan(v))
		ark_json_string(j, key, "nan");
	else if (isinf(v))
		ark_json_string(j, key, v > 0 ? "inf" : "-inf");
	else
		ark_json_number(j, key, v);
}

/* The batch as the API reads it (api/synthetic.c), through the one JSON
 * writer. */
static void api_encode(struct api_sender *a, const struct ark_tick *ticks, uint32_t n)
{
	struct ark_json_text text = {a->body, a->cap, 0, false};
	struct ark_json j;
	ark_json_init_sink(&j, ark_json_text_sink, &text);
	ark_json_array_begin(&j, NULL);
	for (uint32_t i = 0; i < n; i++) {
		const struct ark_tick *t = &ticks[i];
		ark_json_object_begin(&j, NULL);
		ark_json_string_n(&j, "symbol", t->symbol, sizeof t->symbol);
		put_number(&j, "price", t->price);
		put_number(&j, "size", t->size);
		ark_json_uint(&j, "ts", t->exchange_time_ns);
		if (t->flags & ARK_EVENT_INJECTED) {
			ark_json_string(&j, "kind", ark_reason_name((enum ark_reason)t->injected_kind));
			ark_json_uint(&j, "lane", t->lane);
			ark_json_uint(&j, "burst", t->burst);
		}
		ark_json_object_end(&j);
	}
	ark_json_array_end(&j);
	a->len = text.len;
}

/* POST the batch until the API takes it (503: again); 0, or -1 refused. */
static int api_post(struct api_sender *a, const struct ark_tick *ticks, uint32_t n, volatile sig_atomic_t *stop,
		    struct ark_log *log)
{
	api_encode(a, ticks, n);
	for (int attempt = 0;; attempt++) {
		a->answer_len = 0;
		a->answer[0] = '\0';
		curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, a->body);
		curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE, (long)a->len);
		CURLcode cc = curl_easy_perform(a->curl);
		a->status = 0;
		curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &a->status);
		if (cc == CURLE_OK && a->status == 202)
			return 0;
		bool again = (cc == CURLE_OK && a->status == 503) || (cc != CURLE_OK && attempt < 20);
		if (!again || *stop) {
			ark_log(log, "error", "the API refused %u synthetic signals: %s%ld %s", n,
				cc == CURLE_OK ? "HTTP " : curl_easy_strerror(cc), a->status, a->answer);
			return -1;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static volatile sig_atomic_t source_stop;

static void on_term(int sig)
{
	(void)sig;
	source_stop = 1;
}

/* One run of the synthetic source, attached to its pipeline. */
struct synth_run {
	struct ark_log *log;
	struct ark_synth_config *config;
	struct ark_synth *gen;
	struct ark_graveyard_rules *rules;
	uint64_t duration_ns;
	int source;
	struct ark_pipeline *p;
	struct ark_agent_control *control;
	struct ark_ring_producer producer;
	struct api_sender api;
};

/* A restarted source replays its stream from the same origin, or a burst it
 * was in the middle of would straddle a jump in time. */
static int keep_origin(struct synth_run *r, struct ark_err *err)
{
	if (!r->config->start_ns)
		return 0;
	uint64_t origin = 0;
	if (atomic_compare_exchange_strong(&r->p->counters.source_clock_start_ns[r->source], &origin,
					   r->config->start_ns) ||
	    origin == r->config->start_ns)
		return 0;
	r->config->start_ns = origin;
	return ark_synth_init(r->gen, r->config, r->rules, err);
}

/* Resume after the last tick this source published (through the API: the
 * last batch it took), and say so. */
static void resume(struct synth_run *r, struct ark_ring *ring)
{
	uint64_t after = api_url ? atomic_load(&r->control->last_seq) : ark_source_ring_last_seq(ring);
	struct ark_tick scratch;
	for (uint64_t i = 0; i < after; i++)
		if (!ark_synth_next(r->gen, &scratch))
			break;
	ark_log(r->log, "info", "running pid=%d seed=%llu rate=%g resume_after=%llu violations=%g", (int)getpid(),
		(unsigned long long)r->config->seed, r->config->rate_hz, (unsigned long long)after, r->config->violations);
	for (int k = 1; k < ARK_REASON_COUNT; k++) {
		const char *why = ark_synth_kind_status(r->gen, (enum ark_reason)k);
		if (why && k != ARK_REASON_ETHICS_DRIFT && k != ARK_REASON_QUARANTINED)
			ark_log(r->log, "info", "not injected kind=%s why=\"%s\"", ark_reason_name((enum ark_reason)k), why);
	}
	ark_log_flush(r->log);
}

/* Up to `want` ticks through the API; false once the generator is done. */
static bool api_batch(struct synth_run *r, uint32_t want)
{
	static struct ark_tick batch[ARK_PIPELINE_BATCH];
	bool more = true;
	uint32_t made = 0;
	uint64_t received = ark_now_ns();
	for (; made < want; made++) {
		if (!ark_synth_next(r->gen, &batch[made])) {
			more = false;
			break;
		}
		batch[made].received_ns = received;
	}
	if (made && api_post(&r->api, batch, made, &source_stop, r->log) != 0)
		ark_control_add(&r->control->errors, made);
	ark_control_add(&r->control->events, made);
	atomic_store_explicit(&r->control->last_seq, r->gen->emitted, memory_order_relaxed);
	return more;
}

/* Up to `want` ticks onto the ring (what room there is); false once the
 * generator is done. */
static bool ring_batch(struct synth_run *r, uint32_t want)
{
	uint32_t n;
	if (ark_ring_reserve(&r->producer, want, 100 * 1000 * 1000, &n) != 0)
		return true;
	bool more = true;
	uint32_t made = 0;
	uint64_t received = ark_now_ns();
	for (; made < n; made++) {
		struct ark_tick *t = ark_ring_slot(&r->producer, made);
		if (!ark_synth_next(r->gen, t)) {
			more = false;
			break;
		}
		t->received_ns = received;
	}
	if (made)
		ark_ring_commit(&r->producer, made);
	ark_control_add(&r->control->events, made);
	atomic_store_explicit(&r->p->counters.source_published[r->source], r->gen->emitted, memory_order_relaxed);
	atomic_store_explicit(&r->control->last_seq, r->gen->emitted, memory_order_relaxed);
	return more;
}

/* Generate until the stream ends or the stop: paced at the configured rate
 * (a batch of what is owed by now), or as fast as the ring takes them, the
 * generator's finale after `duration` of wall time since the first start. */
static void generate(struct synth_run *r, uint64_t now, uint64_t first_start)
{
	bool paced = r->config->rate_hz > 0;
	uint64_t pace_start = paced ? now - (uint64_t)((double)r->gen->emitted * 1e9 / r->config->rate_hz) : 0;
	bool finished = false;
	while (!source_stop && !finished && !atomic_load_explicit(&r->p->stop, memory_order_relaxed)) {
		now = ark_now_ns();
		atomic_store_explicit(&r->control->heartbeat_ns, now, memory_order_relaxed);
		if (!paced && r->duration_ns && now - first_start >= r->duration_ns)
			ark_synth_finish(r->gen);   /* the finale's ticks, then the generator is done */
		uint32_t want = ARK_PIPELINE_BATCH;
		if (paced) {
			uint64_t due = ark_synth_due_ns(r->gen, pace_start);
			if (due > now) {
				ark_ring_flush();
				ark_synth_wait_due(r->gen, pace_start);
				continue;
			}
			uint64_t owed = (uint64_t)((double)(now - pace_start) * r->config->rate_hz / 1e9) + 1;
			want = owed > r->gen->emitted ? (uint32_t)ARK_MIN(owed - r->gen->emitted, ARK_PIPELINE_BATCH) : 1;
		}
		finished = !(api_url ? api_batch(r, want) : ring_batch(r, want));
	}
}

/* Attached: claim the source's slot, set the generator up, run it. The exit
 * status: 0, 1 (the ring would not open), 2 (configuration). */
static int run_attached(struct synth_run *r, struct ark_pipeline_map *map)
{
	struct ark_err err = {0};
	struct ark_pipeline *p = r->p = map->pipeline;
	int source = r->source;
	struct ark_agent_control *control = r->control = &p->sources[source];
	if (source < p->source_count && ark_process_claim(&map->shm, &control->pid)) {
		ark_log(r->log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving", (int)getpid());
		return 0;
	}
	struct ark_ring_wait_config wait;
	if (source >= p->source_count || ark_ring_wait_from_env(&wait, &err) ||
	    ark_process_pin("SOURCE", &control->cpu, &err) || ark_graveyard_load(p->rules_path, r->rules, &err) ||
	    ark_synth_init(r->gen, r->config, r->rules, &err)) {
		if (source >= p->source_count)
			ark_err_set(&err, -EINVAL, "the pipeline has %u sources, not %d", p->source_count, source + 1);
		ark_log(r->log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
		return 2;
	}
	struct ark_ring *ring = ark_pipeline_source_ring(map, source);
	if (api_url && api_open(&r->api, api_url, &err)) {
		ark_log(r->log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
		api_close(&r->api);
		return 2;
	}
	if (ark_ring_producer_open(&r->producer, ring, &wait, &err)) {
		ark_log(r->log, "error", "cannot open ring: %s", err.msg);
		api_close(&r->api);
		return 1;
	}
	atomic_store(&control->pid, (int32_t)getpid());
	atomic_store(&control->start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	if (keep_origin(r, &err)) {
		ark_log(r->log, "error", "configuration: %s", err.msg);
		ark_ring_producer_close(&r->producer);
		api_close(&r->api);
		return 2;
	}
	uint64_t now = ark_now_ns();
	uint64_t expected_zero = 0;
	atomic_compare_exchange_strong(&p->counters.source_started_ns[source], &expected_zero, now);
	uint64_t first_start = atomic_load(&p->counters.source_started_ns[source]);
	resume(r, ring);
	atomic_store(&control->state, ARK_PROC_RUNNING);
	generate(r, now, first_start);
	ark_ring_producer_close(&r->producer);
	api_close(&r->api);
	/* Through the API, the API counts what it published. */
	if (!api_url)
		atomic_store(&p->counters.source_published[source], r->gen->emitted);
	atomic_store(&p->counters.source_done[source], 1);
	atomic_store(&control->state, ARK_PROC_EXITED);
	ark_log(r->log, "info", "finished ticks=%llu clean=%llu%s", (unsigned long long)r->gen->emitted,
		(unsigned long long)r->gen->clean, api_url ? " through_api=1" : "");
	return 0;
}

int ark_source_synthetic_run(const char *instance, int source, int argc, char **argv)
{
	struct ark_log *log = ark_source_open_log(source, "ark source", on_term);
	if (!log)
		return 1;
	/* Precise pacing: wake within a microsecond, not the default 50. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	struct ark_err err = {0};
	static struct synth_run r;
	memset(&r, 0, sizeof r);
	r.log = log;
	r.source = source;
	r.config = malloc(sizeof *r.config);
	r.gen = malloc(sizeof *r.gen);
	r.rules = malloc(sizeof *r.rules);
	struct ark_pipeline_map map;
	memset(&map, 0, sizeof map);
	int status = 1;
	if (!r.config || !r.gen || !r.rules) {
		ark_log(log, "error", "out of memory");
	} else if (parse_options(r.config, &r.duration_ns, argc, argv, &err)) {
		ark_log(log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
		status = 2;
	} else if (ark_pipeline_attach(&map, instance, &err)) {
		ark_log(log, "error", "cannot attach: %s", err.msg);
		fprintf(stderr, "ark source synthetic: %s\n", err.msg);
	} else {
		status = run_attached(&r, &map);
		ark_pipeline_detach(&map);
	}
	free(r.config);
	free(r.gen);
	free(r.rules);
	ark_log_close(log);
	return status;
}
