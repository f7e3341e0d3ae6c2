/* sources/source_alpha_vantage.c — Alpha Vantage GLOBAL_QUOTE polling as a
 * source process: each symbol every ALPHA_VANTAGE_INTERVAL_S, no two calls
 * closer than the plan's rate allows, on libcurl's multi interface (a slow
 * or dead server never stops the loop), every answer classified and counted
 * by kind (alphavantage.h), Note/Information answered by a back-off that
 * doubles while they repeat. Quotes become ticks on the source's own ring to
 * Kyle; when the ring is full they wait, they are not dropped. The API key
 * is in the request only, never in a log line. */
#include "sources/sources.h"
#include "alphavantage/alphavantage.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_IN_FLIGHT 4
#define BODY_MAX (64u << 10)
#define PENDING_MAX 1024

static volatile sig_atomic_t av_stop;

static void on_term(int sig)
{
	(void)sig;
	av_stop = 1;
}

struct request {
	CURL *easy;
	int symbol;
	size_t len;
	bool overflow;
	char body[BODY_MAX];
};

struct poller {
	struct ark_av_config cfg;
	struct ark_tick_bounds bounds;   /* ARK_TICK_*: a quote outside them is not a tick */
	struct ark_log *log;
	CURLM *multi;
	struct request req[MAX_IN_FLIGHT];
	bool busy[MAX_IN_FLIGHT];
	int in_flight;
	uint64_t due[ARK_AV_MAX_SYMBOLS];
	uint64_t next_call_ns, paused_until_ns;
	uint32_t limits_in_a_row;
	uint64_t counts[ARK_AV_KIND_COUNT];
	uint64_t calls;
	struct ark_tick pending[PENDING_MAX];
	uint32_t pending_count;
	uint64_t source_seq;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct request *r = ctx;
	size_t bytes = size * n;
	if (r->len + bytes > BODY_MAX) {
		r->overflow = true;   /* far larger than any quote: refused as malformed */
		return bytes;
	}
	memcpy(r->body + r->len, data, bytes);
	r->len += bytes;
	return bytes;
}

static void start_call(struct poller *pl, int symbol, uint64_t now)
{
	int slot = 0;
	while (slot < MAX_IN_FLIGHT && pl->busy[slot])
		slot++;
	if (slot == MAX_IN_FLIGHT)
		return;
	struct request *r = &pl->req[slot];
	if (!r->easy && !(r->easy = curl_easy_init()))
		return;
	char url[1024];
	snprintf(url, sizeof url, "%s/query?function=GLOBAL_QUOTE&symbol=%s&apikey=%s", pl->cfg.base_url,
		 pl->cfg.symbols[symbol], pl->cfg.api_key);
	curl_easy_reset(r->easy);
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)pl->cfg.timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)pl->cfg.timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "ark/0.1");
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	r->symbol = symbol;
	r->len = 0;
	r->overflow = false;
	if (curl_multi_add_handle(pl->multi, r->easy) != CURLM_OK)
		return;
	pl->busy[slot] = true;
	pl->in_flight++;
	pl->calls++;
	pl->next_call_ns = now + pl->cfg.spacing_ns;
	pl->due[symbol] = now + pl->cfg.interval_ns;
}

/* The next symbol due, or -1. */
static int next_due(const struct poller *pl, uint64_t now)
{
	int best = -1;
	for (int s = 0; s < pl->cfg.symbol_count; s++) {
		bool in_flight = false;
		for (int k = 0; k < MAX_IN_FLIGHT; k++)
			in_flight |= pl->busy[k] && pl->req[k].symbol == s;
		if (!in_flight && pl->due[s] <= now && (best < 0 || pl->due[s] < pl->due[best]))
			best = s;
	}
	return best;
}

static void finish(struct poller *pl, struct request *r, CURLcode result, uint64_t now)
{
	const char *symbol = pl->cfg.symbols[r->symbol];
	struct ark_tick tick;
	char detail[200];
	enum ark_av_kind kind;
	if (result != CURLE_OK) {
		kind = ARK_AV_NETWORK;
		snprintf(detail, sizeof detail, "%s", curl_easy_strerror(result));
	} else if (r->overflow) {
		kind = ARK_AV_MALFORMED;
		snprintf(detail, sizeof detail, "an answer larger than %u bytes", BODY_MAX);
	} else {
		long status = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		kind = ark_av_parse_quote((int)status, r->body, r->len, symbol, &tick, detail, sizeof detail);
		/* The quote's time is stamped when it is published: the values are the edge's to check here. */
		if ((kind == ARK_AV_QUOTE || kind == ARK_AV_QUOTE_DELAYED) &&
		    ark_tick_check(&pl->bounds, &tick, 0, ARK_TICK_CHECK_VALUES, NULL, detail, sizeof detail) != ARK_TICK_OK)
			kind = ARK_AV_OUT_OF_BOUNDS;
	}
	pl->counts[kind]++;
	if (kind == ARK_AV_QUOTE || kind == ARK_AV_QUOTE_DELAYED) {
		pl->limits_in_a_row = 0;
		if (pl->pending_count < PENDING_MAX)
			pl->pending[pl->pending_count++] = tick;
		else
			ark_log(pl->log, "warn", "quote of %s dropped: %u quotes already wait for Kyle's ring", symbol,
				PENDING_MAX);
		if (pl->counts[kind] <= 3 || pl->counts[kind] % 100 == 0)
			ark_log(pl->log, "info", "quote symbol=%s price=%.6g volume=%.0f%s count=%" PRIu64, symbol, tick.price,
				tick.size, kind == ARK_AV_QUOTE_DELAYED ? " delayed=1" : "", pl->counts[kind]);
		return;
	}
	if (kind == ARK_AV_NOTE || kind == ARK_AV_INFORMATION) {
		/* The plan's limit: every call waits, longer while it repeats. */
		uint64_t backoff = pl->cfg.backoff_ns << (pl->limits_in_a_row < 4 ? pl->limits_in_a_row : 4);
		pl->limits_in_a_row++;
		pl->paused_until_ns = now + backoff;
		pl->due[r->symbol] = now;   /* asked again first when the pause ends */
		ark_log(pl->log, "warn", "rate limited (%s) symbol=%s: pausing %.1f s; says: %s", ark_av_kind_name(kind), symbol,
			(double)backoff / 1e9, detail);
		return;
	}
	if (pl->counts[kind] <= 5 || pl->counts[kind] % 100 == 0)
		ark_log(pl->log, kind == ARK_AV_EMPTY ? "warn" : "error", "%s symbol=%s count=%" PRIu64 ": %s",
			ark_av_kind_name(kind), symbol, pl->counts[kind], detail);
}

static void publish(struct poller *pl, struct ark_ring_producer *out, struct ark_agent_control *control,
		    struct ark_pipeline *p, int source)
{
	if (!pl->pending_count)
		return;
	uint32_t room = ark_ring_try_reserve(out, pl->pending_count);
	if (!room)
		return;
	uint64_t mono = ark_now_ns(), real = ark_realtime_ns();
	for (uint32_t i = 0; i < room; i++) {
		struct ark_tick *t = ark_ring_slot(out, i);
		*t = pl->pending[i];
		t->received_ns = mono;
		t->exchange_time_ns = real;   /* GLOBAL_QUOTE has a trading day, not a time: the observation's */
		t->source = ARK_SOURCE_ALPHA_VANTAGE;
		t->source_seq = ++pl->source_seq;
	}
	ark_ring_commit(out, room);
	ark_ring_flush();
	memmove(pl->pending, pl->pending + room, (pl->pending_count - room) * sizeof pl->pending[0]);
	pl->pending_count -= room;
	ark_control_add(&control->events, room);
	atomic_store_explicit(&control->last_seq, pl->source_seq, memory_order_relaxed);
	ark_control_add(&p->counters.source_published[source], room);
}

/* ALPHA_VANTAGE_* and the tick bounds; an error names what is wrong. */
static int configure(struct poller *pl, struct ark_err *err)
{
	char bounds_why[256] = "";
	if (ark_av_config_from_env(&pl->cfg, err) || (!pl->cfg.enabled && ark_err_set(err, -EINVAL,
			"ALPHA_VANTAGE_API_KEY is not set (or ALPHA_VANTAGE_ENABLED is false)")) ||
	    (ark_tick_bounds_from_env(&pl->bounds, bounds_why, sizeof bounds_why) && ark_err_set(err, -EINVAL, "%s", bounds_why)))
		return -EINVAL;
	return 0;
}

/* One turn's calls: start the next one due (the rate and a back-off
 * allowing), then move the transfers on and classify the finished ones. */
static void poll_calls(struct poller *pl, uint64_t now)
{
	if (pl->in_flight < MAX_IN_FLIGHT && now >= pl->next_call_ns && now >= pl->paused_until_ns) {
		int s = next_due(pl, now);
		if (s >= 0)
			start_call(pl, s, now);
	}
	int running;
	curl_multi_perform(pl->multi, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(pl->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct request *r = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		CURLcode result = msg->data.result;
		curl_multi_remove_handle(pl->multi, msg->easy_handle);
		if (!r)
			continue;
		finish(pl, r, result, ark_now_ns());
		pl->busy[r - pl->req] = false;
		pl->in_flight--;
	}
}

static void poll_until_stop(struct poller *pl, struct ark_ring_producer *out, struct ark_agent_control *control,
			    struct ark_pipeline *p, int source)
{
	uint64_t start = ark_now_ns(), last_flush = 0;
	for (int s = 0; s < pl->cfg.symbol_count; s++)
		pl->due[s] = start;
	while (!av_stop && !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		uint64_t now = ark_now_ns();
		atomic_store_explicit(&control->heartbeat_ns, now, memory_order_relaxed);
		poll_calls(pl, now);
		publish(pl, out, control, p, source);
		if (now - last_flush >= 100ull * 1000 * 1000) {
			/* The service's failures are counted by kind in this log; they
			 * are not the pipeline's errors (the run stays OK). */
			ark_log_flush(pl->log);
			last_flush = now;
		}
		curl_multi_poll(pl->multi, NULL, 0, 50, NULL);
	}
}

/* Quotes already taken are handed to Kyle before leaving (bounded); then the
 * counts by kind, and libcurl's handles closed. */
static void stop_polling(struct poller *pl, struct ark_ring_producer *out, struct ark_agent_control *control,
			 struct ark_pipeline *p, int source)
{
	for (int i = 0; i < 100 && pl->pending_count; i++) {
		publish(pl, out, control, p, source);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ark_log(pl->log, "info",
		"stopped calls=%" PRIu64 " quote=%" PRIu64 " quote_delayed=%" PRIu64 " unknown_symbol=%" PRIu64
		" error_message=%" PRIu64 " information=%" PRIu64 " note=%" PRIu64 " malformed=%" PRIu64 " http_error=%" PRIu64
		" network=%" PRIu64 " not_delivered=%u",
		pl->calls, pl->counts[ARK_AV_QUOTE], pl->counts[ARK_AV_QUOTE_DELAYED], pl->counts[ARK_AV_EMPTY],
		pl->counts[ARK_AV_ERROR_MESSAGE], pl->counts[ARK_AV_INFORMATION], pl->counts[ARK_AV_NOTE],
		pl->counts[ARK_AV_MALFORMED], pl->counts[ARK_AV_HTTP_ERROR], pl->counts[ARK_AV_NETWORK], pl->pending_count);
	for (int k = 0; k < MAX_IN_FLIGHT; k++) {
		if (pl->busy[k])
			curl_multi_remove_handle(pl->multi, pl->req[k].easy);
		if (pl->req[k].easy)
			curl_easy_cleanup(pl->req[k].easy);
	}
	curl_multi_cleanup(pl->multi);
	curl_global_cleanup();
}

/* Attached to the pipeline: claim the source's slot, open its ring, poll
 * until the stop. The exit status: 0, 1 (libcurl), 2 (configuration). */
static int run_attached(struct poller *pl, struct ark_pipeline_map *map, const char *instance, int source)
{
	struct ark_err err = {0};
	struct ark_pipeline *p = map->pipeline;
	struct ark_agent_control *control = &p->sources[source];
	if (source >= p->source_count || p->source_kinds[source] != ARK_SOURCE_ALPHA_VANTAGE) {
		ark_log(pl->log, "error", "source %d of instance %s is not Alpha Vantage's", source, instance);
		return 2;
	}
	if (ark_process_claim(&map->shm, &control->pid)) {
		ark_log(pl->log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving",
			(int)getpid());
		return 0;
	}
	struct ark_ring *ring = ark_pipeline_source_ring(map, source);
	struct ark_ring_producer out;
	struct ark_ring_wait_config wait;
	if (ark_ring_wait_from_env(&wait, &err) || ark_process_pin("SOURCE", &control->cpu, &err) ||
	    ark_ring_producer_open(&out, ring, &wait, &err)) {
		ark_log(pl->log, "error", "configuration: %s", err.msg);
		return 2;
	}
	int status = 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(pl->multi = curl_multi_init())) {
		ark_log(pl->log, "error", "libcurl could not start");
	} else {
		pl->source_seq = ark_source_ring_last_seq(ring);
		atomic_store(&control->pid, (int32_t)getpid());
		atomic_store(&control->start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
		ark_log(pl->log, "info", "polling base=%s symbols=%d interval_s=%.0f calls_per_min=%.1f timeout_ms=%" PRIu64,
			pl->cfg.base_url, pl->cfg.symbol_count, (double)pl->cfg.interval_ns / 1e9,
			60e9 / (double)pl->cfg.spacing_ns, pl->cfg.timeout_ms);
		ark_log_flush(pl->log);
		atomic_store(&control->state, ARK_PROC_RUNNING);
		poll_until_stop(pl, &out, control, p, source);
		stop_polling(pl, &out, control, p, source);
		atomic_store(&p->counters.source_done[source], 1);
		atomic_store(&control->state, ARK_PROC_EXITED);
		status = 0;
	}
	ark_ring_producer_close(&out);
	return status;
}

int ark_source_alpha_vantage_run(const char *instance, int source)
{
	struct ark_log *log = ark_source_open_log(source, "ark source alpha-vantage", on_term);
	if (!log)
		return 1;
	struct ark_err err = {0};
	static struct poller pl;
	memset(&pl, 0, sizeof pl);
	pl.log = log;
	if (configure(&pl, &err)) {
		ark_log(log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source alpha-vantage: %s\n", err.msg);
		ark_log_close(log);
		return 2;
	}
	struct ark_pipeline_map map;
	if (ark_pipeline_attach(&map, instance, &err)) {
		ark_log(log, "error", "cannot attach: %s", err.msg);
		ark_log_close(log);
		return 1;
	}
	int status = run_attached(&pl, &map, instance, source);
	ark_pipeline_detach(&map);
	ark_log_close(log);
	return status;
}
