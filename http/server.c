/* http/server.c — the metrics server on h2o 2.2.5 (evloop): listener,
 * TLS/ALPN, connection limit, routing, auth, negotiation, responses, shutdown.
 * Invariants: everything runs on the thread that created the server; every
 * response sets Content-Length; the number of open connections never exceeds
 * cfg.max_connections (extra ones are closed at accept); every connection is
 * bounded in time by request_timeout_ms (TLS handshake, HTTP/1 request head,
 * HTTP/2 idle); destroy drains the connections before disposing the context. */
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

struct ark_http_server {
	struct ark_http_config cfg;
	struct ark_http_provider prov;
	h2o_globalconf_t globalconf;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	h2o_evloop_t *loop;
	h2o_socket_t *listener;
	uint16_t port;
	SSL_CTX *ssl_ctx;
	struct ark_http_auth *auth;
	struct ark_http_buf body, gz;
	struct ark_http_stats stats;
	bool conf_inited, ctx_inited;
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
	struct ark_json_text text = {body, sizeof body, 0, false};
	struct ark_json j;
	ark_json_init_sink(&j, ark_json_text_sink, &text);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "error", message);
	ark_json_int(&j, "status", status);
	ark_json_object_end(&j);
	ark_json_finish(&j);
	respond(srv, req, status, reason, CT_JSON, body, text.len);
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

static h2o_iovec_t header_value(h2o_req_t *req, const h2o_token_t *tok)
{
	ssize_t i = h2o_find_header(&req->headers, tok, -1);
	if (i < 0)
		return h2o_iovec_init(NULL, 0);
	return req->headers.entries[i].value;
}

/* The generic path (the ingest API): the provider's handler decides. */
static int on_generic(struct ark_http_server *srv, h2o_req_t *req)
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
		return 0;
	}
	struct ark_http_buf *b = &srv->body;
	ark_http_buf_reset(b);
	struct ark_http_response out = {.status = 500, .body = b};
	int rc = srv->prov.request(srv->prov.ctx, &in, &out);
	if (rc < 0 || b->failed) {
		respond_error(srv, req, 500, "Internal Server Error", "internal error");
		return 0;
	}
	/* h2o keeps pointers to header values: copies in the request's pool. */
	if (out.retry_after[0])
		add_header(req, H2O_TOKEN_RETRY_AFTER, h2o_strdup(&req->pool, out.retry_after, SIZE_MAX).base);
	if (out.allow[0])
		add_header(req, H2O_TOKEN_ALLOW, h2o_strdup(&req->pool, out.allow, SIZE_MAX).base);
	if (out.www_authenticate[0])
		add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, h2o_strdup(&req->pool, out.www_authenticate, SIZE_MAX).base);
	static const char *const reasons[] = {[200] = "OK", [202] = "Accepted", [400] = "Bad Request",
					      [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
					      [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
					      [415] = "Unsupported Media Type", [500] = "Internal Server Error",
					      [503] = "Service Unavailable"};
	const char *reason = out.status > 0 && out.status < 504 && reasons[out.status] ? reasons[out.status] : "Status";
	respond(srv, req, out.status, reason, out.content_type ? out.content_type : CT_JSON, b->data ? b->data : "",
		b->len);
	return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct ark_http_server *srv = ((struct route_handler *)self)->srv;
	srv->stats.requests++;

	/* h2o's own limit on a request head is ~400 KiB; a scrape needs far less */
	size_t head_bytes = req->path.len;
	for (size_t i = 0; i < req->headers.size; i++)
		head_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
	if (head_bytes > ARK_HTTP_MAX_HEAD_BYTES) {
		respond_error(srv, req, 431, "Request Header Fields Too Large", "request header fields too large");
		return 0;
	}

	if (srv->auth) {
		h2o_iovec_t a = header_value(req, H2O_TOKEN_AUTHORIZATION);
		if (!ark_http_auth_check(srv->auth, a.base, a.len)) {
			srv->stats.auth_failures++;
			add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, "Basic realm=\"ark-metrics\", charset=\"UTF-8\"");
			respond_error(srv, req, 401, "Unauthorized", "unauthorized");
			return 0;
		}
	}

	if (srv->prov.request)
		return on_generic(srv, req);
	enum route r = route_of(req->path_normalized);
	if (r == R_NONE) {
		respond_error(srv, req, 404, "Not Found", "not found");
		return 0;
	}
	if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
	    !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
		add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD");
		respond_error(srv, req, 405, "Method Not Allowed", "method not allowed");
		return 0;
	}

	struct ark_http_buf *b = &srv->body;
	ark_http_buf_reset(b);
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
		return 0;
	}
	if (rc < 0 || b->failed) {
		respond_error(srv, req, 500, "Internal Server Error", "provider failed");
		return 0;
	}
	add_header(req, H2O_TOKEN_VARY, "Accept, Accept-Encoding");
	const char *data = b->data ? b->data : "";
	size_t len = b->len;
	h2o_iovec_t ae = header_value(req, H2O_TOKEN_ACCEPT_ENCODING);
	if (len > 0 && ark_http_accepts_gzip(ae.base, ae.len)) {
		ark_http_buf_reset(&srv->gz);
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
	return 0;
}

/* ---- connections ----------------------------------------------------------- */

static void on_sock_close(void *data)
{
	struct ark_http_server *srv = data;
	srv->stats.connections_open--;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
	struct ark_http_server *srv = listener->data;
	if (err)
		return;
	h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
	if (!sock)
		return;
	if (srv->stats.connections_open >= srv->cfg.max_connections) {
		srv->stats.connections_refused++;
		h2o_socket_close(sock);
		return;
	}
	srv->stats.connections_accepted++;
	srv->stats.connections_open++;
	sock->on_close.cb = on_sock_close;
	sock->on_close.data = srv;
	h2o_accept(&srv->accept_ctx, sock);
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
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ark_err_set(err, -errno, "metrics server: socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
		int e = errno;
		close(fd);
		return ark_err_set(err, -e, "%s_PORT/%s_BIND: cannot bind %s:%u: %s", srv->cfg.prefix, srv->cfg.prefix,
				   srv->cfg.bind, srv->cfg.port, strerror(e));
	}
	if (listen(fd, 128) != 0) {
		int e = errno;
		close(fd);
		return ark_err_set(err, -e, "metrics server: listen: %s", strerror(e));
	}
	slen = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &slen);
	srv->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
	srv->listener = h2o_evloop_socket_create(srv->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
	srv->listener->data = srv;
	h2o_socket_read_start(srv->listener, on_accept);
	return 0;
}

/* ---- TLS -------------------------------------------------------------------- */

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
		return ark_err_set(err, -ENOMEM, "metrics server: SSL_CTX_new failed");
	srv->ssl_ctx = c;
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
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
	if (!srv)
		return ark_err_set(err, -ENOMEM, "metrics server: out of memory");
	srv->cfg = *cfg;
	srv->prov = *provider;
	ark_http_buf_init(&srv->body);
	ark_http_buf_init(&srv->gz);

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
		h2o_socket_close(srv->listener);
		srv->listener = NULL;
	}
	if (srv->ctx_inited) {
		h2o_context_request_shutdown(&srv->ctx);
		/* Every connection ends within request_timeout_ms (handshake, request
		 * head, HTTP/2 idle), plus a margin for the last response. */
		uint64_t deadline = ark_now_ns() + ((uint64_t)srv->cfg.request_timeout_ms + 2000) * 1000000ull;
		while (srv->stats.connections_open > 0 && ark_now_ns() < deadline)
			h2o_evloop_run(srv->loop, 10);
		/* let closed sockets finish their disposal */
		h2o_evloop_run(srv->loop, 0);
		drained = srv->stats.connections_open == 0;
		if (h2o_timeout_is_linked(&srv->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&srv->ctx.http2._graceful_shutdown_timeout);
		if (drained) {
			/* h2o 2.2.5 keeps ~100 bytes per context (its inter-thread
			 * queue, half torn down by dispose) and thread-local chunk
			 * caches: see tests/http/lsan.supp */
			h2o_context_dispose(&srv->ctx);
			h2o_evloop_destroy(srv->loop);
		}
		/* else: a connection refused to end; leaking the loop beats a crash */
	}
	if (srv->conf_inited && drained)
		h2o_config_dispose(&srv->globalconf);
	if (srv->ssl_ctx && drained)
		SSL_CTX_free(srv->ssl_ctx);
	ark_http_auth_free(srv->auth);
	ark_http_buf_free(&srv->body);
	ark_http_buf_free(&srv->gz);
	if (drained)
		free(srv);
}
