/* api/server.c — `ark api`: the ingest API on h2o, a source of the pipeline.
 *
 *   GET  /healthz                      200 when the pipeline runs (no token)
 *   POST /v1/signals                   one signal or an array (signals:write):
 *                                      202 with their trace ids once they are in
 *                                      Kyle's inbound ring, 503 + Retry-After
 *                                      when it is full — never a silent drop
 *   POST /v1/synthetic                 the synthetic loop's signals, injections and all
 *                                      (synthetic:write; `ark synth --api-url`)
 *   GET  /v1/traces/{id}               the trace as `ark trace` shows it
 *   POST /v1/agents/{name}/release     lift a quarantine (admin)
 *
 * Every error is JSON with a message: 400 malformed, 401 no or bad token, 403
 * wrong scope, 404, 405, 413 too large, 415 not JSON, 429 over a rate, 503
 * busy. A request's signals go into the ring all or none. Trace ids are given
 * here (the API's own running number, ark_trace_id_api) so the client has
 * them at once; Kyle keeps them on the events.
 *
 * The event loop does only what is quick: the token (HMAC), the route, the
 * signals into the ring. A trace look-up (the journal's trace index, a file
 * read, SQLite for a broker order) runs on one of the server's worker
 * threads, and each token may start at most API_TRACE_RATE of them a second
 * (burst API_TRACE_BURST): an unknown id costs an index probe, not a scan,
 * and no client can hold up POST /v1/signals. */
#include "api/api.h"

#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "sources/sources.h"
#include "trace/trace.h"
#include "http/http.h"
#include "store/store.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_term(int sig)
{
	(void)sig;
	stop_signal = 1;
}

struct api {
	struct ark_pipeline_map map;
	struct ark_pipeline *p;
	struct ark_agent_control *control;
	int source;
	struct ark_ring_producer out;
	struct ark_jwt_config jwt;
	struct ark_log *log;
	char journal_dir[4096];
	char state_db[4096];
	uint64_t next_api_seq;
	uint32_t max_batch;
	struct ark_tick_bounds bounds;   /* ARK_TICK_*: every signal is within them */
	struct ark_tick *ticks;
	uint64_t accepted, busy, unauthorized, bad_requests, out_of_bounds, rate_limited;
	uint64_t last_log_ns;
	/* trace look-ups per token: a token bucket each, by the token's hash */
	double trace_rate, trace_burst;
	struct token_bucket {
		uint64_t key;          /* first 8 bytes of SHA-256(token); 0 = free */
		double tokens;
		uint64_t last_ns;
	} buckets[256];
};

/* One finder per worker thread (its journal index mappings), closed when
 * the thread ends. */
static pthread_key_t finder_key;
static pthread_once_t finder_once = PTHREAD_ONCE_INIT;

static void finder_close(void *finder)
{
	ark_trace_finder_close(finder);
}

static void finder_key_create(void)
{
	pthread_key_create(&finder_key, finder_close);
}

static bool path_is(const struct ark_http_request *req, const char *path)
{
	size_t n = strlen(path);
	return req->path_len == n && memcmp(req->path, path, n) == 0;
}

static bool method_is(const struct ark_http_request *req, const char *method)
{
	size_t n = strlen(method);
	return req->method_len == n && memcmp(req->method, method, n) == 0;
}

static int reply(struct ark_http_response *res, int status, const char *message)
{
	res->status = status;
	ark_buf_puts(res->body, "{\"error\":");
	ark_buf_json_string(res->body, message);
	ark_buf_printf(res->body, ",\"status\":%d}\n", status);
	return 0;
}

/* The token's claims, or a 401 already written. */
static bool authenticate(struct api *a, const struct ark_http_request *req, struct ark_http_response *res,
			 struct ark_jwt_claims *claims)
{
	size_t len = 0;
	const char *token = ark_jwt_bearer(req->authorization, req->authorization_len, &len);
	struct ark_err err = {0};
	if (!token) {
		ark_err_set(&err, -EACCES, "a Bearer token is required (Authorization: Bearer <JWT>)");
	} else if (ark_jwt_verify(&a->jwt, token, len, (uint64_t)time(NULL), claims, &err) == 0) {
		return true;
	}
	a->unauthorized++;
	snprintf(res->www_authenticate, sizeof res->www_authenticate, "Bearer realm=\"ark\", error=\"invalid_token\"");
	reply(res, 401, err.msg);
	return false;
}

static bool json_content(const struct ark_http_request *req)
{
	static const char want[] = "application/json";
	if (!req->content_type || req->content_type_len < sizeof want - 1 ||
	    strncasecmp(req->content_type, want, sizeof want - 1) != 0)
		return false;
	return req->content_type_len == sizeof want - 1 || req->content_type[sizeof want - 1] == ';' ||
	       req->content_type[sizeof want - 1] == ' ';
}

/* The edge's bounds (event.h), all or nothing like the parsers: a signal's
 * missing time is stamped now, then every signal is checked against this
 * machine's clock. A synthetic batch carries injected violations on purpose
 * (non-finite or absurd prices and sizes, time 0): those skip the value
 * checks and are HRM's to deny; but no tick, injected or not, may carry a
 * time that drags the market clock ahead, and the synthetic generator's own
 * clock starts in the past, so only live signals are held to ARK_TICK_MAX_AGE. */
static bool within_bounds(struct api *a, struct ark_tick *ticks, uint32_t n, bool synthetic, char *why, size_t len)
{
	uint64_t wall = ark_realtime_ns();
	for (uint32_t i = 0; i < n; i++) {
		struct ark_tick *t = &ticks[i];
		if (!t->exchange_time_ns && !synthetic)   /* a synthetic signal's missing time is the test */
			t->exchange_time_ns = wall;
		unsigned checks = ARK_TICK_CHECK_ALL;
		if (synthetic)
			checks = (t->flags & ARK_EVENT_INJECTED) ? ARK_TICK_CHECK_FUTURE
								 : ARK_TICK_CHECK_VALUES | ARK_TICK_CHECK_FUTURE;
		const char *field = "";
		char detail[200];
		enum ark_tick_fault f = ark_tick_check(&a->bounds, t, wall, checks, &field, detail, sizeof detail);
		if (f != ARK_TICK_OK) {
			snprintf(why, len, "signal %u: %s: %s: %s", i, field, ark_tick_fault_name(f), detail);
			return false;
		}
	}
	return true;
}

static int post_signals(struct api *a, const struct ark_http_request *req, struct ark_http_response *res,
			bool synthetic)
{
	struct ark_jwt_claims claims;
	if (!authenticate(a, req, res, &claims))
		return 0;
	if (!synthetic && !ark_jwt_has_scope(&claims, "signals:write"))
		return reply(res, 403, "the token lacks the signals:write scope");
	if (synthetic && !ark_jwt_has_scope(&claims, "synthetic:write"))
		return reply(res, 403, "the token lacks the synthetic:write scope (ark synth mints one)");
	if (!json_content(req)) {
		a->bad_requests++;
		return reply(res, 415, "Content-Type must be application/json");
	}
	uint32_t n = 0;
	char why[256];
	int rc = synthetic ? ark_api_parse_synthetic(req->body, req->body_len, a->ticks, a->max_batch, &n, why, sizeof why)
			   : ark_api_parse_signals(req->body, req->body_len, a->ticks, a->max_batch, &n, why, sizeof why);
	if (rc) {
		a->bad_requests++;
		return reply(res, rc == -E2BIG ? 413 : 400, why);
	}
	if (!within_bounds(a, a->ticks, n, synthetic, why, sizeof why)) {
		a->bad_requests++;
		a->out_of_bounds++;
		return reply(res, 400, why);
	}
	uint32_t room = ark_ring_try_reserve(&a->out, n);
	if (room < n) {
		/* All or none: the client retries the whole request. */
		a->busy++;
		snprintf(res->retry_after, sizeof res->retry_after, "1");
		return reply(res, 503, "the pipeline's inbound ring is full: retry after 1 s");
	}
	uint64_t now = ark_now_ns(), first = a->next_api_seq;
	for (uint32_t i = 0; i < n; i++) {
		struct ark_tick *t = ark_ring_slot(&a->out, i);
		*t = a->ticks[i];
		t->received_ns = now;
		t->source = ARK_SOURCE_API;
		t->source_seq = a->next_api_seq++;
	}
	ark_ring_commit(&a->out, n);
	a->accepted += n;
	ark_control_add(&a->control->events, n);
	atomic_store_explicit(&a->control->last_seq, a->next_api_seq - 1, memory_order_relaxed);
	ark_control_add(&a->p->counters.source_published[a->source], n);
	res->status = 202;
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, res->body);
	ark_json_object_begin(&j, NULL);
	ark_json_uint(&j, "accepted", n);
	ark_json_array_begin(&j, "trace_ids");
	for (uint32_t i = 0; i < n; i++) {
		char id[24];
		ark_trace_id_format(ark_trace_id_api(a->p->node_id, first + i), id);
		ark_json_string(&j, NULL, id);
	}
	ark_json_array_end(&j);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return 0;
}

/* The id in /v1/traces/{id}: 1-32 characters from 0-9 a-f A-F and '-',
 * parsed from the bytes received (their length, never strlen). */
static int trace_id_of(const struct ark_http_request *req, uint64_t *trace_id, struct ark_http_response *res)
{
	static const char prefix[] = "/v1/traces/";
	const char *id = req->path + sizeof prefix - 1;
	size_t n = req->path_len - (sizeof prefix - 1);
	char text[40];
	if (n == 0 || n >= 33)
		return reply(res, 400, "expected /v1/traces/NNNN-NNNNNNNNNNNN"), -1;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
			return reply(res, 400, "not a trace id: only 0-9 a-f A-F and - may appear"), -1;
	}
	memcpy(text, id, n);
	text[n] = '\0';
	if (ark_trace_id_parse(text, trace_id))
		return reply(res, 400, "not a trace id: expected NNNN-NNNNNNNNNNNN (hex), 16 hex digits or a decimal sequence number"), -1;
	return 0;
}

/* A token may start API_TRACE_RATE look-ups a second (burst API_TRACE_BURST). */
static bool trace_allowed(struct api *a, const char *token, size_t len)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)token, len, digest);
	uint64_t key;
	memcpy(&key, digest, sizeof key);
	key |= 1;   /* never 0 (a free bucket) */
	uint64_t now = ark_now_ns();
	struct token_bucket *b = NULL, *oldest = &a->buckets[0];
	for (size_t i = 0; i < ARK_ARRAY_LEN(a->buckets) && !b; i++) {
		if (a->buckets[i].key == key)
			b = &a->buckets[i];
		else if (a->buckets[i].last_ns < oldest->last_ns)
			oldest = &a->buckets[i];
	}
	if (!b) {
		b = oldest;   /* the least recently used token's bucket */
		b->key = key;
		b->tokens = a->trace_burst;
		b->last_ns = now;
	}
	b->tokens += (double)(now - b->last_ns) / 1e9 * a->trace_rate;
	if (b->tokens > a->trace_burst)
		b->tokens = a->trace_burst;
	b->last_ns = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* On the loop: who asks, may they, is the id well formed; the look-up
 * itself is deferred to a worker (trace_worker). */
static int get_trace(struct api *a, const struct ark_http_request *req, struct ark_http_response *res)
{
	struct ark_jwt_claims claims;
	if (!authenticate(a, req, res, &claims))
		return 0;
	if (!ark_jwt_has_scope(&claims, "signals:write") && !ark_jwt_has_scope(&claims, "admin"))
		return reply(res, 403, "the token lacks the signals:write or admin scope");
	uint64_t trace_id;
	if (trace_id_of(req, &trace_id, res))
		return 0;
	size_t len = 0;
	const char *token = ark_jwt_bearer(req->authorization, req->authorization_len, &len);
	if (!trace_allowed(a, token, len)) {
		a->rate_limited++;
		snprintf(res->retry_after, sizeof res->retry_after, "1");
		return reply(res, 429, "too many trace look-ups for this token: at most API_TRACE_RATE a second");
	}
	res->defer = true;
	return 0;
}

/* On a worker thread: the look-up. Reads only what does not change after
 * start (journal_dir, state_db) and its own thread's finder. */
static int trace_worker(struct api *a, const struct ark_http_request *req, struct ark_http_response *res)
{
	uint64_t trace_id;
	if (trace_id_of(req, &trace_id, res))
		return 0;
	struct ark_event e;
	struct ark_err err = {0};
	pthread_once(&finder_once, finder_key_create);
	struct ark_trace_finder *finder = pthread_getspecific(finder_key);
	if (!finder) {
		if (ark_trace_finder_open(&finder, a->journal_dir, &err))
			return reply(res, 500, err.msg);
		pthread_setspecific(finder_key, finder);
	}
	struct ark_journal_record rec;
	int rc = ark_trace_finder_find(finder, trace_id, &rec, &e, sizeof e, &err);
	if (rc == 0 && rec.len != sizeof e)
		rc = ark_err_set(&err, -EBADMSG, "the record of this trace holds %u bytes, not an event", rec.len);
	if (rc == -ENOENT)
		return reply(res, 404, "no record of this trace in the journal (yet)");
	if (rc)
		return reply(res, 500, err.msg);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	struct ark_trace_order order = {0};
	if (e.exec_status == ARK_EXEC_SUBMITTED)
		(void)ark_trace_order_outcome(a->state_db, trace_id, &order, &err);   /* without it: the journal's word */
	ark_trace_write_json(f, trace_id, &e, &order);
	fclose(f);
	ark_buf_append(res->body, buf, len);
	free(buf);
	res->status = 200;
	return 0;
}

static int post_release(struct api *a, const struct ark_http_request *req, struct ark_http_response *res)
{
	struct ark_jwt_claims claims;
	if (!authenticate(a, req, res, &claims))
		return 0;
	if (!ark_jwt_has_scope(&claims, "admin"))
		return reply(res, 403, "releasing an agent needs the admin scope");
	const char *name = req->path + strlen("/v1/agents/");
	size_t n = req->path_len - strlen("/v1/agents/") - strlen("/release");
	char agent_name[32];
	if (n == 0 || n >= sizeof agent_name)
		return reply(res, 404, "unknown agent");
	for (size_t i = 0; i < n; i++)   /* the bytes received, never strlen: a NUL is not the end */
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')))
			return reply(res, 400, "an agent name is letters only: kyle, joey, hrm, kenny or aletheia");
	memcpy(agent_name, name, n);
	agent_name[n] = '\0';
	int agent = ark_agent_parse(agent_name);
	if (agent < 0)
		return reply(res, 404, "unknown agent: expected kyle, joey, hrm, kenny or aletheia");
	struct ark_agent_control *c = &a->p->agents[agent];
	const char *display = ark_agent_name((enum ark_agent)agent);
	if (!atomic_load(&c->quarantined)) {
		char message[64];
		snprintf(message, sizeof message, "%s is not quarantined", display);
		return reply(res, 409, message);
	}
	atomic_store(&c->quarantined, 0);
	char reason[200];
	snprintf(reason, sizeof reason, "released through the API by %s", claims.sub[0] ? claims.sub : "(no sub)");
	ark_log(a->log, "info", "agent released name=%s by=\"%s\"", ark_agent_file_name((enum ark_agent)agent),
		claims.sub);
	struct ark_err err = {0};
	if (ark_watchdog_record(display, "release", (int)atomic_load(&c->pid), reason, &err))
		ark_log(a->log, "warn", "cannot record the release in the mutable core: %s", err.msg);
	res->status = 200;
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, res->body);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "released", display);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return 0;
}

static int health(struct api *a, struct ark_http_response *res)
{
	int running = 0;
	for (int i = 0; i < ARK_AGENT_COUNT; i++)
		running += atomic_load(&a->p->agents[i].state) == ARK_PROC_RUNNING;
	bool ok = running == ARK_AGENT_COUNT && !atomic_load(&a->p->stop);
	res->status = ok ? 200 : 503;
	struct ark_json j;
	ark_json_init_sink(&j, ark_buf_sink, res->body);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "status", ok ? "ok" : "unavailable");
	ark_json_int(&j, "agents_running", running);
	ark_json_uint(&j, "accepted", a->accepted);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	return 0;
}

static int handle(void *ctx, const struct ark_http_request *req, struct ark_http_response *res)
{
	struct api *a = ctx;
	if (path_is(req, "/healthz")) {
		if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
			snprintf(res->allow, sizeof res->allow, "GET, HEAD");
			return reply(res, 405, "method not allowed");
		}
		return health(a, res);
	}
	if (path_is(req, "/v1/signals")) {
		if (!method_is(req, "POST")) {
			snprintf(res->allow, sizeof res->allow, "POST");
			return reply(res, 405, "method not allowed");
		}
		return post_signals(a, req, res, false);
	}
	if (path_is(req, "/v1/synthetic")) {
		if (!method_is(req, "POST")) {
			snprintf(res->allow, sizeof res->allow, "POST");
			return reply(res, 405, "method not allowed");
		}
		return post_signals(a, req, res, true);
	}
	static const char traces[] = "/v1/traces/", agents[] = "/v1/agents/", release[] = "/release";
	if (req->path_len > sizeof traces - 1 && memcmp(req->path, traces, sizeof traces - 1) == 0) {
		if (!method_is(req, "GET")) {
			snprintf(res->allow, sizeof res->allow, "GET");
			return reply(res, 405, "method not allowed");
		}
		return get_trace(a, req, res);
	}
	if (req->path_len > sizeof agents - 1 + sizeof release - 1 && memcmp(req->path, agents, sizeof agents - 1) == 0 &&
	    memcmp(req->path + req->path_len - (sizeof release - 1), release, sizeof release - 1) == 0) {
		if (!method_is(req, "POST")) {
			snprintf(res->allow, sizeof res->allow, "POST");
			return reply(res, 405, "method not allowed");
		}
		return post_release(a, req, res);
	}
	return reply(res, 404, "not found");
}

static int handle_deferred(void *ctx, const struct ark_http_request *req, struct ark_http_response *res)
{
	return trace_worker(ctx, req, res);
}

/* The API's settings from the environment: the JWT keys, the store's
 * paths, the HTTP server (API_*), the batch and trace-rate limits, the tick
 * bounds. An error names what is wrong. */
static int configure(struct api *a, struct ark_http_config *http, struct ark_err *err)
{
	struct ark_store_config store;
	uint64_t max_batch, trace_rate, trace_burst;
	int rc;
	if ((rc = ark_jwt_config_from_env(&a->jwt, err)) || (rc = ark_store_config_from_env(&store, err)) ||
	    (rc = ark_http_config_from_env_prefix(http, "API", "API_ENABLED", 8000, err)) ||
	    (rc = ark_env_u64("API_MAX_BATCH", ARK_API_DEFAULT_MAX_BATCH, 1, 100000, &max_batch, err)) ||
	    (rc = ark_env_u64("API_TRACE_RATE", 20, 1, 1000000, &trace_rate, err)) ||
	    (rc = ark_env_u64("API_TRACE_BURST", 40, 1, 1000000, &trace_burst, err)))
		return rc;
	if (http->basic_auth_file[0])   /* Basic and Bearer would share one Authorization header. */
		return ark_err_set(err, -EINVAL, "API_BASIC_AUTH_FILE is not supported: the API authenticates with JWTs");
	/* The body limit follows the batch limit unless set: room for max_batch signals. */
	if (!getenv("API_MAX_BODY_BYTES"))
		http->max_body_bytes = (size_t)max_batch * 256 + 4096;
	a->max_batch = (uint32_t)max_batch;
	a->trace_rate = (double)trace_rate;
	a->trace_burst = (double)trace_burst;
	char bounds_why[256];
	if (ark_tick_bounds_from_env(&a->bounds, bounds_why, sizeof bounds_why))
		return ark_err_set(err, -EINVAL, "%s", bounds_why);
	snprintf(a->journal_dir, sizeof a->journal_dir, "%s", store.journal_dir);
	snprintf(a->state_db, sizeof a->state_db, "%s", store.state_db);
	return 0;
}

/* Serve until the stop, the heartbeat and the write-outs on the way; then
 * the counts, and the server gone. */
static void serve(struct api *a, struct ark_http_server *server, const struct ark_http_config *http)
{
	atomic_store(&a->control->pid, (int32_t)getpid());
	atomic_store(&a->control->start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	atomic_store(&a->p->api_port, ark_http_server_port(server));
	ark_log(a->log, "info", "serving bind=%s port=%u tls=%s max_batch=%u first_trace=%" PRIu64, http->bind,
		(unsigned)ark_http_server_port(server), http->tls_cert[0] ? "on" : "off", a->max_batch, a->next_api_seq);
	ark_log_flush(a->log);
	atomic_store(&a->control->state, ARK_PROC_RUNNING);
	uint64_t last_flush = 0;
	while (!stop_signal && !atomic_load_explicit(&a->p->stop, memory_order_relaxed)) {
		ark_http_server_poll(server, 50);
		uint64_t now = ark_now_ns();
		atomic_store_explicit(&a->control->heartbeat_ns, now, memory_order_relaxed);
		if (now - last_flush >= 100ull * 1000 * 1000) {
			ark_ring_flush();
			ark_log_flush(a->log);
			last_flush = now;
		}
	}
	struct ark_http_stats st;
	ark_http_server_stats(server, &st);
	ark_log(a->log, "info", "stopped accepted=%" PRIu64 " busy_503=%" PRIu64 " unauthorized=%" PRIu64
			       " bad_requests=%" PRIu64 " out_of_bounds=%" PRIu64 " trace_rate_limited=%" PRIu64
			       " requests=%" PRIu64 " refused_per_address=%" PRIu64 " write_timeouts=%" PRIu64 " busy_429=%" PRIu64,
		a->accepted, a->busy, a->unauthorized, a->bad_requests + st.bad_requests, a->out_of_bounds, a->rate_limited,
		st.requests, st.connections_refused_per_address, st.connections_write_timeout, st.busy);
	ark_http_server_destroy(server);
	atomic_store(&a->p->api_port, 0);
	atomic_store(&a->p->counters.source_done[a->source], 1);
	atomic_store(&a->control->state, ARK_PROC_EXITED);
}

/* Attached: check the source is the API's, claim its slot, open its ring,
 * start the server and serve. The exit status: 0, 1, 2 (configuration). */
static int run_attached(struct api *a, const char *instance, struct ark_http_config *http)
{
	struct ark_err err = {0};
	int source = a->source;
	a->p = a->map.pipeline;
	if (source >= a->p->source_count || a->p->source_kinds[source] != ARK_SOURCE_API) {
		ark_log(a->log, "error", "source %d of instance %s is not the API's", source, instance);
		fprintf(stderr, "ark api: source %d of instance %s is not the API's\n", source, instance);
		return 2;
	}
	a->control = &a->p->sources[source];
	if (ark_process_claim(&a->map.shm, &a->control->pid)) {
		ark_log(a->log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving", (int)getpid());
		return 0;
	}
	struct ark_ring *ring = ark_pipeline_source_ring(&a->map, source);
	if (a->max_batch > ring->capacity) {
		/* a batch that can never fit would get 503 forever */
		ark_log(a->log, "error", "configuration: API_MAX_BATCH %u exceeds the inbound ring's %u slots (ARK_RING_CAPACITY)",
			a->max_batch, ring->capacity);
		fprintf(stderr, "ark api: API_MAX_BATCH %u exceeds the inbound ring's %u slots (raise ARK_RING_CAPACITY)\n",
			a->max_batch, ring->capacity);
		return 2;
	}
	struct ark_ring_wait_config wait;
	if (ark_ring_wait_from_env(&wait, &err) || ark_ring_producer_open(&a->out, ring, &wait, &err)) {
		ark_log(a->log, "error", "cannot open the inbound ring: %s", err.msg);
		return 1;
	}
	/* Trace ids never repeat: after what this ring carried, and after every
	 * seq of earlier runs (each API signal takes a seq of its own). */
	uint64_t last = ark_source_ring_last_seq(ring);
	a->next_api_seq = (last > a->p->base_seq ? last : a->p->base_seq) + 1;
	struct ark_http_provider provider = {.ctx = a, .request = handle, .request_deferred = handle_deferred};
	struct ark_http_server *server = NULL;
	int status = 0;
	if (ark_http_server_create(&server, http, &provider, &err)) {
		ark_log(a->log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark api: %s\n", err.msg);
		status = 2;   /* the port is taken or the TLS files are wrong: restarting will not help */
	} else {
		serve(a, server, http);
	}
	ark_ring_producer_close(&a->out);
	return status;
}

int ark_api_run(const char *instance, int source)
{
	ark_process_signals(on_term);
	struct ark_err err = {0};
	static struct api a;
	memset(&a, 0, sizeof a);
	a.source = source;
	a.log = ark_log_open("api", &err);
	if (!a.log) {
		fprintf(stderr, "ark api: %s\n", err.msg);
		return 1;
	}
	int status = 2;
	struct ark_http_config http;
	if (configure(&a, &http, &err)) {
		ark_log(a.log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark api: %s\n", err.msg);
	} else if ((a.ticks = calloc(a.max_batch, sizeof *a.ticks))) {
		status = 1;
		if (ark_pipeline_attach(&a.map, instance, &err)) {
			ark_log(a.log, "error", "cannot attach: %s", err.msg);
			fprintf(stderr, "ark api: %s\n", err.msg);
		} else {
			status = run_attached(&a, instance, &http);
			ark_pipeline_detach(&a.map);
		}
	}
	free(a.ticks);
	ark_log_close(a.log);
	return status;
}
