/* http/server.c — the metrics server (and the API's) on h2o 2.2.5 (evloop):
 * listener, connection accounting, TLS/ALPN, routing, auth, negotiation,
 * responses, workers, shutdown.
 * Invariants: everything but the workers' jobs runs on the thread that
 * created the server; every response sets Content-Length; open connections
 * never exceed cfg.max_connections, nor cfg.max_connections_per_address from
 * one client address (extra ones are closed at accept); every connection is
 * bounded in time by request_timeout_ms (TLS handshake, HTTP/1 request head,
 * HTTP/2 idle) and, while it owes output, by write_timeout_ms without
 * progress; bcrypt and deferred requests never run on the loop; a request
 * whose client left while its job ran is never touched (its job only learns
 * it, through a dispose hook in the request's pool); destroy stops the
 * workers and drains the connections before disposing the context. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/http1.h>
#include <h2o/http2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http/internal.h"

#define SWEEP_MS 100
#define LIMITER_SLOTS 256
#define LIMITER_WINDOW_NS (60ull * 1000 * 1000 * 1000)

/* A client address: IPv4 (IPv4-mapped IPv6 folded into it) or IPv6. */
struct addr_key {
	uint8_t len;                 /* 4 or 16; 0 = none */
	unsigned char bytes[16];
};

struct conn_slot {
	struct ark_http_server *srv;
	h2o_socket_t *sock;          /* NULL: free */
	int fd;
	struct addr_key addr;
	uint16_t peer_port;
	size_t last_written;         /* sock->bytes_written at the last sweep */
	uint64_t stalled_since_ns;   /* owes output, no progress since; 0 = not stalled */
	bool shut;                   /* shut down by the server; h2o closes it */
};

/* Failed basic-auth attempts per address, in a one-minute window. */
struct limiter_slot {
	struct addr_key addr;
	uint64_t window_start_ns;
	uint32_t failures;
};

struct ark_http_server {
	struct ark_http_config cfg;
	struct ark_http_provider prov;
	h2o_globalconf_t globalconf;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	h2o_evloop_t *loop;
	h2o_socket_t *listener;
	int listen_fd;
	uint16_t port;
	SSL_CTX *ssl_ctx;
	struct ark_http_auth *auth;
	struct ark_buf body, gz;
	struct ark_http_stats stats;
	struct conn_slot *conns;     /* cfg.max_connections of them */
	struct limiter_slot limiter[LIMITER_SLOTS];
	struct ark_http_workers *workers;
	h2o_timeout_t sweep_timeout;
	h2o_timeout_entry_t sweep_entry;
	bool conf_inited, ctx_inited, sweep_inited;
};

struct route_handler {
	h2o_handler_t super;
	struct ark_http_server *srv;
};

#define ARK_HTTP_MAX_HEAD_BYTES (16 * 1024)

enum route { R_NONE, R_METRICS, R_METRICS_JSON, R_SLOS, R_HEALTHZ, R_READYZ };

static const char CT_JSON[] = "application/json";
static const char CT_PROM[] = "text/plain; version=0.0.4; charset=utf-8";
static const char CT_OM[] = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/* ---- responses ------------------------------------------------------------ */

static void add_header(h2o_req_t *req, const h2o_token_t *tok, const char *v)
{
	h2o_add_header(&req->pool, &req->res.headers, tok, NULL, v, strlen(v));
}

static void respond(struct ark_http_server *srv, h2o_req_t *req, int status, const char *reason,
		    const char *ctype, const char *body, size_t len)
{
	static h2o_generator_t generator = {NULL, NULL};
	if (status < 300)
		srv->stats.status_2xx++;
	else if (status < 500)
		srv->stats.status_4xx++;
	else
		srv->stats.status_5xx++;
	req->res.status = status;
	req->res.reason = reason;
	add_header(req, H2O_TOKEN_CONTENT_TYPE, ctype);
	add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
	req->res.content_length = len;
	if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
		h2o_start_response(req, &generator);
		h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
	} else {
		h2o_send_inline(req, body, len); /* copies into the request's pool */
	}
}

static void respond_error(struct ark_http_server *srv, h2o_req_t *req, int status, const char *reason,
			  const char *message)
{
	char body[512];
	size_t len = ark_json_error_text(body, sizeof body, message, "status", status);
	respond(srv, req, status, reason, CT_JSON, body, len);
}

static void respond_busy(struct ark_http_server *srv, h2o_req_t *req, const char *message, const char *retry_s)
{
	add_header(req, H2O_TOKEN_RETRY_AFTER, retry_s);
	respond_error(srv, req, 429, "Too Many Requests", message);
}

/* ---- client addresses ------------------------------------------------------ */

static struct addr_key addr_of(const struct sockaddr *sa)
{
	struct addr_key k = {0};
	if (sa->sa_family == AF_INET) {
		k.len = 4;
		memcpy(k.bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			k.len = 4;
			memcpy(k.bytes, &a->s6_addr[12], 4);
		} else {
			k.len = 16;
			memcpy(k.bytes, a->s6_addr, 16);
		}
	}
	return k;
}

static bool addr_eq(const struct addr_key *a, const struct addr_key *b)
{
	return a->len && a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static uint16_t port_of(const struct sockaddr *sa)
{
	return ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
		     : sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port : 0);
}

static struct addr_key req_addr_port(h2o_req_t *req, uint16_t *port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	*port = 0;
	if (!req->conn->callbacks->get_peername || req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
		return (struct addr_key){0};
	*port = port_of((struct sockaddr *)&ss);
	return addr_of((struct sockaddr *)&ss);
}

static struct addr_key req_addr(h2o_req_t *req)
{
	uint16_t port;
	return req_addr_port(req, &port);
}

/* The slot of the request's connection (by the peer's address and port). */
static struct conn_slot *slot_of(struct ark_http_server *srv, h2o_req_t *req)
{
	uint16_t port;
	struct addr_key a = req_addr_port(req, &port);
	for (uint32_t i = 0; a.len && i < srv->cfg.max_connections; i++)
		if (srv->conns[i].sock && srv->conns[i].peer_port == port && addr_eq(&srv->conns[i].addr, &a))
			return &srv->conns[i];
	return NULL;
}

/* The failed-attempt limiter: true when the address is over its budget. */
static struct limiter_slot *limiter_find(struct ark_http_server *srv, const struct addr_key *a, bool create)
{
	uint64_t now = ark_now_ns();
	struct limiter_slot *oldest = &srv->limiter[0];
	for (int i = 0; i < LIMITER_SLOTS; i++) {
		struct limiter_slot *l = &srv->limiter[i];
		if (addr_eq(&l->addr, a)) {
			if (now - l->window_start_ns >= LIMITER_WINDOW_NS) {
				l->window_start_ns = now;
				l->failures = 0;
			}
			return l;
		}
		if (l->window_start_ns < oldest->window_start_ns)
			oldest = l;
	}
	if (!create)
		return NULL;
	/* Evicting the oldest window: an attacker spraying addresses forgets
	 * its own oldest ones first. */
	oldest->addr = *a;
	oldest->window_start_ns = now;
	oldest->failures = 0;
	return oldest;
}

static bool auth_limited(struct ark_http_server *srv, const struct addr_key *a)
{
	struct limiter_slot *l = a->len ? limiter_find(srv, a, false) : NULL;
	return l && l->failures >= srv->cfg.auth_max_failures;
}

static void auth_failed(struct ark_http_server *srv, const struct addr_key *a)
{
	srv->stats.auth_failures++;
	struct limiter_slot *l = a->len ? limiter_find(srv, a, true) : NULL;
	if (l)
		l->failures++;
}

/* ---- routing --------------------------------------------------------------- */

static enum route route_of(h2o_iovec_t path)
{
	/* path_normalized has no query string */
	if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")))
		return R_METRICS;
	if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics/json")))
		return R_METRICS_JSON;
	if (h2o_memis(path.base, path.len, H2O_STRLIT("/slos")))
		return R_SLOS;
	if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz")))
		return R_HEALTHZ;
	if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz")))
		return R_READYZ;
	return R_NONE;
}

bool ark_http_path_valid(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '.' || c == '_' || c == '~' || c == '/';
		if (!ok)
			return false;
	}
	return true;
}

static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *tok)
{
	ssize_t i = h2o_find_header(&req->headers, tok, -1);
	if (i < 0)
		return h2o_iovec_init(NULL, 0);
	return req->headers.entries[i].value;
}

static bool header_repeated(h2o_req_t *req, const h2o_token_t *tok)
{
	ssize_t i = h2o_find_header(&req->headers, tok, -1);
	return i >= 0 && h2o_find_header(&req->headers, tok, i) >= 0;
}

/* ---- jobs: bcrypt and deferred requests on the workers ----------------------- */

enum job_kind { JOB_AUTH, JOB_DEFER };

struct req_job;
/* Lives in the request's pool: when the pool is cleared (the response went
 * out, or the client left) the job learns that its request is gone. */
struct job_ref {
	struct req_job *job;
};

struct req_job {
	struct ark_http_job base;
	struct ark_http_server *srv;
	h2o_req_t *req;              /* NULL once the request is gone */
	struct job_ref *ref;
	enum job_kind kind;
	struct addr_key addr;
	/* copies of what the worker reads */
	char *copy;
	struct ark_http_request in;
	/* results */
	bool auth_ok;
	int rc;
	struct ark_http_response out;
	struct ark_buf body;
};

static void on_ref_dispose(void *p)
{
	struct job_ref *ref = p;
	if (ref->job)
		ref->job->req = NULL;
}

static void job_free(struct req_job *job)
{
	if (job->copy) {
		OPENSSL_cleanse(job->copy, job->in.authorization_len);   /* it held credentials first */
		free(job->copy);
	}
	ark_buf_free(&job->body);
	free(job);
}

/* A job with copies of the request's parts (the request may be freed while
 * a worker reads them). */
static struct req_job *job_new(struct ark_http_server *srv, h2o_req_t *req, enum job_kind kind)
{
	struct req_job *job = calloc(1, sizeof *job);
	if (!job)
		return NULL;
	h2o_iovec_t auth = header_value(req, H2O_TOKEN_AUTHORIZATION);
	h2o_iovec_t ctype = header_value(req, H2O_TOKEN_CONTENT_TYPE);
	size_t body_len = kind == JOB_DEFER && req->entity.base ? req->entity.len : 0;
	size_t total = auth.len + ctype.len + req->method.len + req->path_normalized.len + body_len + 5;
	job->copy = malloc(total);
	if (!job->copy) {
		free(job);
		return NULL;
	}
	char *p = job->copy;
#define COPY(field, src)                                                       \
	do {                                                                   \
		job->in.field = (src).len ? p : NULL;                          \
		job->in.field##_len = (src).len;                               \
		if ((src).len)                                                 \
			memcpy(p, (src).base, (src).len);                      \
		p += (src).len;                                                \
		*p++ = '\0';                                                   \
	} while (0)
	COPY(authorization, auth);   /* first: cleansed by job_free */
	COPY(content_type, ctype);
	COPY(method, req->method);
	COPY(path, req->path_normalized);
	h2o_iovec_t body = h2o_iovec_init(req->entity.base, body_len);
	COPY(body, body);
#undef COPY
	job->in.http_version = req->version;
	job->srv = srv;
	job->req = req;
	job->kind = kind;
	job->addr = req_addr(req);
	ark_buf_init(&job->body);
	job->ref = h2o_mem_alloc_shared(&req->pool, sizeof *job->ref, on_ref_dispose);
	job->ref->job = job;
	return job;
}

static void run_auth(struct ark_http_job *base)
{
	struct req_job *job = (struct req_job *)base;
	struct crypt_data *cd = calloc(1, sizeof *cd);   /* ~32 KiB: not on a worker's stack */
	job->auth_ok = cd && ark_http_auth_verify(job->srv->auth, job->in.authorization, job->in.authorization_len, cd);
	free(cd);
}

static void run_deferred(struct ark_http_job *base)
{
	struct req_job *job = (struct req_job *)base;
	job->out.status = 500;
	job->out.body = &job->body;
	job->rc = job->srv->prov.request_deferred(job->srv->prov.ctx, &job->in, &job->out);
}

static void serve(struct ark_http_server *srv, h2o_req_t *req);
static void send_generic(struct ark_http_server *srv, h2o_req_t *req, int rc, struct ark_http_response *out);

static void job_done(struct ark_http_job *base)
{
	struct req_job *job = (struct req_job *)base;
	struct ark_http_server *srv = job->srv;
	h2o_req_t *req = job->req;
	if (req) {
		job->ref->job = NULL;   /* the pool no longer points at the job */
		if (job->base.cancelled) {
			respond_error(srv, req, 503, "Service Unavailable", "server stopping");
		} else if (job->kind == JOB_AUTH) {
			if (job->auth_ok) {
				ark_http_auth_remember(srv->auth, job->in.authorization, job->in.authorization_len);
				serve(srv, req);
			} else {
				auth_failed(srv, &job->addr);
				add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, "Basic realm=\"ark-metrics\", charset=\"UTF-8\"");
				respond_error(srv, req, 401, "Unauthorized", "unauthorized");
			}
		} else {
			send_generic(srv, req, job->rc, &job->out);
		}
	} else if (job->kind == JOB_AUTH && !job->base.cancelled && !job->auth_ok) {
		auth_failed(srv, &job->addr);   /* the guesser hung up: it still counts */
	}
	job_free(job);
}

static bool submit(struct ark_http_server *srv, h2o_req_t *req, enum job_kind kind)
{
	struct req_job *job = job_new(srv, req, kind);
	if (!job) {
		respond_error(srv, req, 500, "Internal Server Error", "out of memory");
		return true;
	}
	job->base.run = kind == JOB_AUTH ? run_auth : run_deferred;
	job->base.done = job_done;
	if (ark_http_workers_submit(srv->workers, &job->base))
		return true;
	job->ref->job = NULL;
	job_free(job);
	srv->stats.busy++;
	respond_busy(srv, req, "server busy: too many requests waiting", "1");
	return true;
}

/* ---- the generic path (the ingest API): the provider's handler decides ------ */

static void send_generic(struct ark_http_server *srv, h2o_req_t *req, int rc, struct ark_http_response *out)
{
	struct ark_buf *b = out->body;
	if (rc < 0 || b->failed) {
		respond_error(srv, req, 500, "Internal Server Error", "internal error");
		return;
	}
	/* h2o keeps pointers to header values: copies in the request's pool. */
	if (out->retry_after[0])
		add_header(req, H2O_TOKEN_RETRY_AFTER, h2o_strdup(&req->pool, out->retry_after, SIZE_MAX).base);
	if (out->allow[0])
		add_header(req, H2O_TOKEN_ALLOW, h2o_strdup(&req->pool, out->allow, SIZE_MAX).base);
	if (out->www_authenticate[0])
		add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, h2o_strdup(&req->pool, out->www_authenticate, SIZE_MAX).base);
	static const char *const reasons[] = {[200] = "OK", [202] = "Accepted", [400] = "Bad Request",
					      [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
					      [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
					      [415] = "Unsupported Media Type", [429] = "Too Many Requests",
					      [500] = "Internal Server Error", [503] = "Service Unavailable"};
	const char *reason = out->status > 0 && out->status < 504 && reasons[out->status] ? reasons[out->status] : "Status";
	respond(srv, req, out->status, reason, out->content_type ? out->content_type : CT_JSON, b->data ? b->data : "",
		b->len);
}

static void on_generic(struct ark_http_server *srv, h2o_req_t *req)
{
	h2o_iovec_t auth = header_value(req, H2O_TOKEN_AUTHORIZATION);
	h2o_iovec_t ctype = header_value(req, H2O_TOKEN_CONTENT_TYPE);
	struct ark_http_request in = {
		.method = req->method.base, .method_len = req->method.len,
		.path = req->path_normalized.base, .path_len = req->path_normalized.len,
		.authorization = auth.base, .authorization_len = auth.len,
		.content_type = ctype.base, .content_type_len = ctype.len,
		.body = req->entity.base, .body_len = req->entity.base ? req->entity.len : 0,
		.http_version = req->version,
	};
	if (in.body_len > srv->cfg.max_body_bytes) {
		char msg[96];
		snprintf(msg, sizeof msg, "request body larger than %zu bytes", srv->cfg.max_body_bytes);
		respond_error(srv, req, 413, "Payload Too Large", msg);
		return;
	}
	struct ark_buf *b = &srv->body;
	ark_buf_reset(b);
	struct ark_http_response out = {.status = 500, .body = b};
	int rc = srv->prov.request(srv->prov.ctx, &in, &out);
	if (rc >= 0 && out.defer && srv->prov.request_deferred) {
		submit(srv, req, JOB_DEFER);
		return;
	}
	send_generic(srv, req, rc, &out);
}

/* ---- the metrics routes ------------------------------------------------------ */

static void serve(struct ark_http_server *srv, h2o_req_t *req)
{
	if (srv->prov.request) {
		on_generic(srv, req);
		return;
	}
	enum route r = route_of(req->path_normalized);
	if (r == R_NONE) {
		respond_error(srv, req, 404, "Not Found", "not found");
		return;
	}
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
		add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD");
		respond_error(srv, req, 405, "Method Not Allowed", "method not allowed");
		return;
	}

	struct ark_buf *b = &srv->body;
	ark_buf_reset(b);
	int rc = -ENOENT;
	bool ok = true;
	const char *ctype = CT_JSON;
	const struct ark_http_provider *p = &srv->prov;
	switch (r) {
	case R_METRICS:
		if (p->metrics) {
			h2o_iovec_t acc = header_value(req, H2O_TOKEN_ACCEPT);
			enum ark_http_format f = ark_http_negotiate_format(acc.base, acc.len);
			ctype = f == ARK_HTTP_FORMAT_OPENMETRICS ? CT_OM : CT_PROM;
			rc = p->metrics(p->ctx, f, b);
		}
		break;
	case R_METRICS_JSON:
		if (p->metrics_json)
			rc = p->metrics_json(p->ctx, b);
		break;
	case R_SLOS:
		if (p->slos_json)
			rc = p->slos_json(p->ctx, b);
		break;
	case R_HEALTHZ:
		if (p->health)
			rc = p->health(p->ctx, b, &ok);
		break;
	case R_READYZ:
		if (p->ready)
			rc = p->ready(p->ctx, b, &ok);
		break;
	case R_NONE:
		break;
	}
	if (rc == -ENOENT) {
		respond_error(srv, req, 404, "Not Found", "not provided");
		return;
	}
	if (rc < 0 || b->failed) {
		respond_error(srv, req, 500, "Internal Server Error", "provider failed");
		return;
	}
	add_header(req, H2O_TOKEN_VARY, "Accept, Accept-Encoding");
	const char *data = b->data ? b->data : "";
	size_t len = b->len;
	h2o_iovec_t ae = header_value(req, H2O_TOKEN_ACCEPT_ENCODING);
	if (len > 0 && ark_http_accepts_gzip(ae.base, ae.len)) {
		ark_buf_reset(&srv->gz);
		if (ark_http_gzip(data, len, &srv->gz) == 0) {
			add_header(req, H2O_TOKEN_CONTENT_ENCODING, "gzip");
			data = srv->gz.data;
			len = srv->gz.len;
		}
	}
	if (ok)
		respond(srv, req, 200, "OK", ctype, data, len);
	else
		respond(srv, req, 503, "Service Unavailable", ctype, data, len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct ark_http_server *srv = ((struct route_handler *)self)->srv;
	srv->stats.requests++;
	/* A connection the sweep has cut still has pipelined requests in its
	 * buffer: they get a word, not the work (their answers go nowhere). */
	struct conn_slot *slot = slot_of(srv, req);
	if (slot && slot->shut) {
		req->http1_is_persistent = 0;   /* and the rest of its pipeline is dropped with the connection */
		respond_error(srv, req, 503, "Service Unavailable", "connection closed by the server");
		return 0;
	}

	/* h2o's own limit on a request head is ~400 KiB; a scrape needs far less */
	size_t head_bytes = req->path.len;
	for (size_t i = 0; i < req->headers.size; i++)
		head_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
	if (head_bytes > ARK_HTTP_MAX_HEAD_BYTES) {
		respond_error(srv, req, 431, "Request Header Fields Too Large", "request header fields too large");
		return 0;
	}
	/* Strict: the decoded path holds only the routes' characters (a %00
	 * would otherwise end a C string early), and the headers that decide
	 * who is asking and what the body is come once. */
	if (!ark_http_path_valid(req->path_normalized.base, req->path_normalized.len)) {
		srv->stats.bad_requests++;
		respond_error(srv, req, 400, "Bad Request",
			      "the path holds a character outside A-Z a-z 0-9 - . _ ~ / (after decoding)");
		return 0;
	}
	if (header_repeated(req, H2O_TOKEN_AUTHORIZATION) || header_repeated(req, H2O_TOKEN_CONTENT_TYPE)) {
		srv->stats.bad_requests++;
		respond_error(srv, req, 400, "Bad Request", "a header that may appear once appears twice");
		return 0;
	}

	if (srv->auth) {
		enum route r = srv->prov.request ? R_NONE : route_of(req->path_normalized);
		bool open_route = srv->cfg.health_no_auth && (r == R_HEALTHZ || r == R_READYZ);
		h2o_iovec_t a = header_value(req, H2O_TOKEN_AUTHORIZATION);
		if (!open_route && !ark_http_auth_cached(srv->auth, a.base, a.len)) {
			struct addr_key addr = req_addr(req);
			if (!ark_http_auth_wellformed(a.base, a.len)) {
				/* No bcrypt for a header that cannot be right. */
				auth_failed(srv, &addr);
				add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, "Basic realm=\"ark-metrics\", charset=\"UTF-8\"");
				respond_error(srv, req, 401, "Unauthorized", "unauthorized");
				return 0;
			}
			if (auth_limited(srv, &addr)) {
				srv->stats.auth_limited++;
				respond_busy(srv, req, "too many failed logins from this address: wait a minute", "60");
				return 0;
			}
			submit(srv, req, JOB_AUTH);   /* answered when bcrypt is done */
			return 0;
		}
	}
	serve(srv, req);
	return 0;
}

/* ---- connections ----------------------------------------------------------- */

static void on_sock_close(void *data)
{
	struct conn_slot *c = data;
	c->srv->stats.connections_open--;
	c->sock = NULL;
	c->fd = -1;
}

static void refuse(struct ark_http_server *srv, int fd, bool per_address)
{
	srv->stats.connections_refused++;
	if (per_address)
		srv->stats.connections_refused_per_address++;
	close(fd);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct ark_http_server *srv = listener->data;
	if (err)
		return;
	/* Accepted here rather than by h2o: the peer's address decides before
	 * h2o sees the connection, and the descriptor stays known to shut a
	 * connection down later. A few per wake-up: a burst does not starve
	 * the connections already open. */
	for (int burst = 0; burst < 16; burst++) {
		struct sockaddr_storage ss;
		socklen_t slen = sizeof ss;
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct addr_key addr = addr_of((struct sockaddr *)&ss);
		struct conn_slot *free_slot = NULL;
		uint32_t same = 0;
		for (uint32_t i = 0; i < srv->cfg.max_connections; i++) {
			struct conn_slot *c = &srv->conns[i];
			if (!c->sock)
				free_slot = free_slot ? free_slot : c;
			else if (addr_eq(&c->addr, &addr))
				same++;
		}
		if (!free_slot || srv->stats.connections_open >= srv->cfg.max_connections) {
			refuse(srv, fd, false);
			continue;
		}
		if (same >= srv->cfg.max_connections_per_address) {
			refuse(srv, fd, true);
			continue;
		}
		if (srv->cfg.send_buffer_bytes) {
			int bytes = (int)srv->cfg.send_buffer_bytes;
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
		}
		h2o_socket_t *sock = h2o_evloop_socket_create(srv->loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
		if (!sock) {
			close(fd);
			continue;
		}
		h2o_socket_setpeername(sock, (struct sockaddr *)&ss, slen);
		memset(free_slot, 0, sizeof *free_slot);
		free_slot->srv = srv;
		free_slot->sock = sock;
		free_slot->fd = fd;
		free_slot->addr = addr;
		free_slot->peer_port = port_of((struct sockaddr *)&ss);
		srv->stats.connections_accepted++;
		srv->stats.connections_open++;
		sock->on_close.cb = on_sock_close;
		sock->on_close.data = free_slot;
		h2o_accept(&srv->accept_ctx, sock);
	}
}


/* Connections that owe output and make no progress for write_timeout_ms,
 * or hold more unread request bytes than max_pending_bytes, are shut down:
 * h2o then sees the error on its next read or write and closes them. */
static void sweep(h2o_timeout_entry_t *entry)
{
	struct ark_http_server *srv = (struct ark_http_server *)((char *)entry - offsetof(struct ark_http_server, sweep_entry));
	uint64_t now = ark_now_ns();
	uint64_t limit = (uint64_t)srv->cfg.write_timeout_ms * 1000000ull;
	for (uint32_t i = 0; i < srv->cfg.max_connections; i++) {
		struct conn_slot *c = &srv->conns[i];
		if (!c->sock || c->shut)
			continue;
		bool overfull = c->sock->input && c->sock->input->size > srv->cfg.max_pending_bytes;
		if (h2o_socket_is_writing(c->sock) && c->sock->bytes_written == c->last_written) {
			if (!c->stalled_since_ns)
				c->stalled_since_ns = now;
		} else {
			c->stalled_since_ns = 0;
		}
		c->last_written = c->sock->bytes_written;
		bool stalled = c->stalled_since_ns && now - c->stalled_since_ns >= limit;
		if (stalled || overfull) {
			if (stalled)
				srv->stats.connections_write_timeout++;
			else
				srv->stats.connections_overfull++;
			c->shut = true;
			/* A reset, not a FIN queued behind output nobody reads:
			 * both ends' buffers are freed at once and the client
			 * learns it even without reading. h2o sees the error on
			 * its next read or write and closes its side. */
			struct linger reset = {.l_onoff = 1, .l_linger = 0};
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
			struct sockaddr unspec = {.sa_family = AF_UNSPEC};
			if (connect(c->fd, &unspec, sizeof unspec) != 0) {
				/* (tcp_disconnect: the RST goes now, not at close) */
			}
			shutdown(c->fd, SHUT_RDWR);
		}
	}
	h2o_timeout_link(srv->loop, &srv->sweep_timeout, &srv->sweep_entry);
}

static int open_listener(struct ark_http_server *srv, struct ark_err *err)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, srv->cfg.bind, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(srv->cfg.port);
		slen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, srv->cfg.bind, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(srv->cfg.port);
		slen = sizeof(*a6);
	} else {
		return ark_err_set(err, -EINVAL, "%s_BIND: '%s' is not an IPv4 or IPv6 address", srv->cfg.prefix, srv->cfg.bind);
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ark_err_set(err, -errno, "%s server: socket: %s", srv->cfg.prefix, strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));   /* inherited by accepted sockets */
	if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
		int e = errno;
		close(fd);
		return ark_err_set(err, -e, "%s_PORT/%s_BIND: cannot bind %s:%u: %s", srv->cfg.prefix, srv->cfg.prefix,
				   srv->cfg.bind, srv->cfg.port, strerror(e));
	}
	if (listen(fd, 128) != 0) {
		int e = errno;
		close(fd);
		return ark_err_set(err, -e, "%s server: listen: %s", srv->cfg.prefix, strerror(e));
	}
	slen = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &slen);
	srv->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
	srv->listen_fd = fd;
	srv->listener = h2o_evloop_socket_create(srv->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
	srv->listener->data = srv;
	h2o_socket_read_start(srv->listener, on_accept);
	return 0;
}

/* ---- TLS -------------------------------------------------------------------- */

/* TLS 1.2: ECDHE key exchange and AEAD ciphers only (no CBC, no SHA-1 MAC,
 * no static RSA); TLS 1.3's own suites. */
#define TLS12_CIPHERS                                                                     \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                      \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                      \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"

static int ssl_error(struct ark_err *err, const char *var, const char *what, const char *path)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return ark_err_set(err, -EINVAL, "%s: %s %s: %s", var, what, path, buf);
}

static int setup_tls(struct ark_http_server *srv, struct ark_err *err)
{
	char var_cert[48], var_key[48], var_ca[48];
	snprintf(var_cert, sizeof var_cert, "%s_TLS_CERT", srv->cfg.prefix);
	snprintf(var_key, sizeof var_key, "%s_TLS_KEY", srv->cfg.prefix);
	snprintf(var_ca, sizeof var_ca, "%s_TLS_CLIENT_CA", srv->cfg.prefix);
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (!c)
		return ark_err_set(err, -ENOMEM, "%s server: SSL_CTX_new failed", srv->cfg.prefix);
	srv->ssl_ctx = c;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1 || SSL_CTX_set_ciphersuites(c, TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(c, TLS_GROUPS) != 1)
		return ssl_error(err, var_cert, "cannot set the cipher list and groups for", "TLS");
	if (SSL_CTX_use_certificate_chain_file(c, srv->cfg.tls_cert) != 1)
		return ssl_error(err, var_cert, "cannot load certificate chain", srv->cfg.tls_cert);
	if (SSL_CTX_use_PrivateKey_file(c, srv->cfg.tls_key, SSL_FILETYPE_PEM) != 1)
		return ssl_error(err, var_key, "cannot load private key", srv->cfg.tls_key);
	if (SSL_CTX_check_private_key(c) != 1)
		return ssl_error(err, var_key, "key does not match the certificate", srv->cfg.tls_key);
	if (srv->cfg.tls_client_ca[0]) {
		if (SSL_CTX_load_verify_locations(c, srv->cfg.tls_client_ca, NULL) != 1)
			return ssl_error(err, var_ca, "cannot load CA", srv->cfg.tls_client_ca);
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(srv->cfg.tls_client_ca);
		if (names)
			SSL_CTX_set_client_CA_list(c, names);
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	/* HTTP/2 only when asked for: h2o 2.2.5 has no defence against the
	 * Rapid Reset flood (CVE-2023-44487); without ALPN h2 every client
	 * speaks HTTP/1.1. */
	if (srv->cfg.http2)
		h2o_ssl_register_alpn_protocols(c, h2o_http2_alpn_protocols);
	srv->accept_ctx.ssl_ctx = c;
	return 0;
}

/* ---- lifecycle ---------------------------------------------------------------- */

int ark_http_server_create(struct ark_http_server **out, const struct ark_http_config *cfg,
			   const struct ark_http_provider *provider, struct ark_err *err)
{
	*out = NULL;
	if (!cfg->enabled)
		return ark_err_set(err, -EINVAL, "METRICS_SERVER_ENABLED: the metrics server is disabled");
	int rc = ark_http_config_validate(cfg, err);
	if (rc)
		return rc;
	struct ark_http_server *srv = calloc(1, sizeof(*srv));
	if (!srv || !(srv->conns = calloc(cfg->max_connections, sizeof *srv->conns))) {
		free(srv);
		return ark_err_set(err, -ENOMEM, "%s server: out of memory", cfg->prefix);
	}
	for (uint32_t i = 0; i < cfg->max_connections; i++)
		srv->conns[i].fd = -1;
	srv->listen_fd = -1;
	srv->cfg = *cfg;
	srv->prov = *provider;
	ark_buf_init(&srv->body);
	ark_buf_init(&srv->gz);

	if (cfg->basic_auth_file[0] && (rc = ark_http_auth_load(&srv->auth, cfg->basic_auth_file, err)))
		goto fail;

	h2o_config_init(&srv->globalconf);
	srv->conf_inited = true;
	srv->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("ark"));
	/* With a request handler (the API), bodies up to twice the limit are
	 * read and answered 413 with a message; h2o cuts off larger ones. */
	size_t body_limit = cfg->max_body_bytes ? cfg->max_body_bytes : 64 * 1024;
	srv->globalconf.max_request_entity_size = provider->request ? body_limit * 2 : body_limit;
	srv->globalconf.handshake_timeout = cfg->request_timeout_ms;
	srv->globalconf.http1.req_timeout = cfg->request_timeout_ms;
	srv->globalconf.http1.upgrade_to_http2 = 0;
	srv->globalconf.http2.idle_timeout = cfg->request_timeout_ms;
	srv->globalconf.http2.graceful_shutdown_timeout = 1000;
	srv->globalconf.http2.max_concurrent_requests_per_connection = cfg->http2_max_streams;
	h2o_hostconf_t *host = h2o_config_register_host(&srv->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
	struct route_handler *h = (struct route_handler *)h2o_create_handler(pathconf, sizeof(*h));
	h->super.on_req = on_req;
	h->srv = srv;

	srv->loop = h2o_evloop_create();
	h2o_context_init(&srv->ctx, srv->loop, &srv->globalconf);
	srv->ctx_inited = true;
	srv->accept_ctx.ctx = &srv->ctx;
	srv->accept_ctx.hosts = srv->globalconf.hosts;
	h2o_timeout_init(srv->loop, &srv->sweep_timeout, SWEEP_MS);
	srv->sweep_inited = true;
	srv->sweep_entry.cb = sweep;
	h2o_timeout_link(srv->loop, &srv->sweep_timeout, &srv->sweep_entry);
	if ((srv->auth || provider->request_deferred) &&
	    (rc = ark_http_workers_start(&srv->workers, cfg->workers, cfg->work_queue, srv->ctx.queue, err)))
		goto fail;

	if (cfg->tls_cert[0] && (rc = setup_tls(srv, err)))
		goto fail;
	if ((rc = open_listener(srv, err)))
		goto fail;
	*out = srv;
	return 0;
fail:
	ark_http_server_destroy(srv);
	return rc;
}

uint16_t ark_http_server_port(const struct ark_http_server *srv)
{
	return srv->port;
}

void ark_http_server_stats(const struct ark_http_server *srv, struct ark_http_stats *out)
{
	*out = srv->stats;
}

int ark_http_server_poll(struct ark_http_server *srv, int32_t max_wait_ms)
{
	if (h2o_evloop_run(srv->loop, max_wait_ms) != 0 && errno != EINTR)
		return -errno;
	return 0;
}

int ark_http_server_run(struct ark_http_server *srv, const atomic_bool *stop)
{
	while (!atomic_load_explicit(stop, memory_order_acquire)) {
		int rc = ark_http_server_poll(srv, 100);
		if (rc)
			return rc;
	}
	return 0;
}

void ark_http_server_destroy(struct ark_http_server *srv)
{
	if (!srv)
		return;
	bool drained = true;
	if (srv->listener) {
		h2o_socket_read_stop(srv->listener);
		h2o_socket_close(srv->listener);   /* closes listen_fd */
		srv->listener = NULL;
	} else if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
	}
	srv->listen_fd = -1;
	/* Workers first: a job in flight finishes (its answer arrives through
	 * the loop below), queued ones are answered 503. */
	ark_http_workers_stop(srv->workers);
	if (srv->ctx_inited) {
		h2o_context_request_shutdown(&srv->ctx);
		/* Every connection ends within request_timeout_ms (handshake, request
		 * head, HTTP/2 idle) or write_timeout_ms, plus a margin. */
		uint64_t bound = srv->cfg.request_timeout_ms > srv->cfg.write_timeout_ms ? srv->cfg.request_timeout_ms
											 : srv->cfg.write_timeout_ms;
		uint64_t deadline = ark_now_ns() + (bound + 2000) * 1000000ull;
		while ((srv->stats.connections_open > 0 || ark_http_workers_in_flight(srv->workers) > 0) &&
		       ark_now_ns() < deadline)
			h2o_evloop_run(srv->loop, 10);
		/* let closed sockets finish their disposal */
		h2o_evloop_run(srv->loop, 0);
		drained = srv->stats.connections_open == 0 && ark_http_workers_in_flight(srv->workers) == 0;
		if (h2o_timeout_is_linked(&srv->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&srv->ctx.http2._graceful_shutdown_timeout);
		if (srv->sweep_inited) {
			if (h2o_timeout_is_linked(&srv->sweep_entry))
				h2o_timeout_unlink(&srv->sweep_entry);
			h2o_timeout_dispose(srv->loop, &srv->sweep_timeout);
			srv->sweep_inited = false;
		}
		if (drained) {
			ark_http_workers_free(srv->workers);
			srv->workers = NULL;
			/* h2o 2.2.5 keeps ~100 bytes per context (its inter-thread
			 * queue, half torn down by dispose) and thread-local chunk
			 * caches: see tests/http/lsan.supp */
			h2o_context_dispose(&srv->ctx);
			h2o_evloop_destroy(srv->loop);
		}
		/* else: a connection refused to end; leaking the loop beats a crash */
	} else {
		ark_http_workers_free(srv->workers);
		srv->workers = NULL;
	}
	if (srv->conf_inited && drained)
		h2o_config_dispose(&srv->globalconf);
	if (srv->ssl_ctx && drained)
		SSL_CTX_free(srv->ssl_ctx);
	if (drained) {
		ark_http_auth_free(srv->auth);
		ark_buf_free(&srv->body);
		ark_buf_free(&srv->gz);
		free(srv->conns);
		free(srv);
	}
}
