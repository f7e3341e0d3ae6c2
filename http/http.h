/* http/http.h — the metrics HTTP server: an h2o 2.2.5 (evloop) server that
 * owns its event loop in the calling thread and serves
 *
 *   GET/HEAD /metrics        Prometheus text 0.0.4, or OpenMetrics 1.0 when the
 *                            Accept header prefers application/openmetrics-text;
 *                            gzip when Accept-Encoding allows it
 *   GET/HEAD /metrics/json   JSON snapshot
 *   GET/HEAD /slos           SLO report (JSON)
 *   GET/HEAD /healthz        200 when healthy, 503 otherwise (reason in the body)
 *   GET/HEAD /readyz         200 when ready, 503 otherwise
 *
 * Unknown paths get 404, other methods 405 (with Allow), failed basic auth 401
 * (with WWW-Authenticate); every body is JSON except /metrics, and every
 * response carries Content-Length.
 *
 * What a few sockets cannot do to it (both servers: metrics and the API):
 * - take every slot: at most max_connections_per_address connections per
 *   client address (the rest are closed at accept), max_connections in all;
 * - hold memory: a connection whose output does not drain for
 *   write_timeout_ms, or that has more than max_pending_bytes of request
 *   bytes waiting, is reset; each connection's kernel send buffer is fixed
 *   at send_buffer_bytes (no autotuning to megabytes, and a client that
 *   stops reading stalls at once); HTTP/1 answers one request at a time per
 *   connection and HTTP/2 at most http2_max_streams; bodies beyond
 *   max_body_bytes are refused (413), heads beyond 16 KiB too (431);
 * - stall the loop: bcrypt and deferred requests run on worker threads
 *   (a bounded queue: excess gets 429), failed basic-auth attempts are
 *   limited per address (429 once over auth_max_failures a minute);
 * - smuggle bytes: a path byte outside [A-Za-z0-9-._~/] after decoding
 *   (a %00, a space, a control byte) is 400, two Authorization or
 *   Content-Type headers are 400;
 * - downgrade TLS: TLS 1.2 with ECDHE and AEAD only, and TLS 1.3;
 * - reset-flood HTTP/2 (CVE-2023-44487, unfixed in h2o 2.2.5): ALPN h2 is
 *   off unless <prefix>_HTTP2=true.
 *
 * The server knows nothing of what the metrics are: a provider (function
 * pointers + ctx) renders each body into an ark_buf (common/), called on the
 * server's thread, one request at a time. TLS (with HTTP/2 through ALPN),
 * client-certificate verification and bcrypt basic auth come from the
 * configuration, normally read from the environment (ark_http_config_from_env). */
#ifndef ARK_HTTP_H
#define ARK_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Bodies are rendered into the one growable buffer, struct ark_buf
 * (common/common.h): it never grows past ARK_BUF_LIMIT (256 MiB). */

/* ---- provider ------------------------------------------------------------ */

enum ark_http_format {
	ARK_HTTP_FORMAT_PROMETHEUS = 0, /* text/plain; version=0.0.4; charset=utf-8 */
	ARK_HTTP_FORMAT_OPENMETRICS = 1, /* application/openmetrics-text; version=1.0.0; charset=utf-8 */
};

struct ark_http_request {
	const char *method;
	size_t method_len;
	const char *path;             /* normalised, without the query string */
	size_t path_len;
	const char *authorization;    /* NULL when absent */
	size_t authorization_len;
	const char *content_type;     /* NULL when absent */
	size_t content_type_len;
	const char *body;
	size_t body_len;
	int http_version;             /* 0x101, 0x200 */
};

struct ark_http_response {
	int status;
	bool defer;                   /* request(): run request_deferred on a worker instead */
	const char *content_type;     /* NULL: application/json */
	struct ark_buf *body;    /* arrives empty */
	char retry_after[16];         /* "" or seconds (503) */
	char allow[64];               /* "" or the Allow header (405) */
	char www_authenticate[96];    /* "" or the challenge (401) */
};

/* Every callback returns 0, or a negative errno-style code (the server then
 * answers 500 with a JSON error and discards what was written). A NULL
 * callback makes its route answer 404. `out` arrives empty. */
struct ark_http_provider {
	void *ctx;
	int (*metrics)(void *ctx, enum ark_http_format format, struct ark_buf *out);
	int (*metrics_json)(void *ctx, struct ark_buf *out);
	int (*slos_json)(void *ctx, struct ark_buf *out);
	/* JSON body; *healthy false → 503 (the body says why). */
	int (*health)(void *ctx, struct ark_buf *out, bool *healthy);
	int (*ready)(void *ctx, struct ark_buf *out, bool *ready);
	/* When set, every request goes here instead of the routes above (the
	 * ingest API): the handler fills the status, the body (JSON unless it
	 * sets content_type) and optional headers. */
	int (*request)(void *ctx, const struct ark_http_request *req, struct ark_http_response *res);
	/* When request() sets res->defer (and leaves the body empty), this runs
	 * on one of the server's worker threads with a copy of the request and
	 * answers it: work that must not hold up the event loop (file I/O,
	 * SQLite). It must be thread-safe against itself and against request();
	 * a full worker queue answers 429 without calling it. */
	int (*request_deferred)(void *ctx, const struct ark_http_request *req, struct ark_http_response *res);
};

/* ---- configuration -------------------------------------------------------- */

#define ARK_HTTP_PATH_MAX 4096

struct ark_http_config {
	char prefix[16];                    /* the variables' prefix: "METRICS" or "API" */
	size_t max_body_bytes;              /* <prefix>_MAX_BODY_BYTES: larger requests get 413 */
	bool enabled;                       /* METRICS_SERVER_ENABLED (default true) */
	char bind[64];                      /* METRICS_BIND (default 127.0.0.1), IPv4 or IPv6 literal */
	uint16_t port;                      /* METRICS_PORT (default 9090); 0 = ephemeral */
	char tls_cert[ARK_HTTP_PATH_MAX];   /* METRICS_TLS_CERT (PEM chain); "" = plain HTTP */
	char tls_key[ARK_HTTP_PATH_MAX];    /* METRICS_TLS_KEY (PEM) */
	char tls_client_ca[ARK_HTTP_PATH_MAX]; /* METRICS_TLS_CLIENT_CA: require client certs signed by it */
	char basic_auth_file[ARK_HTTP_PATH_MAX]; /* METRICS_BASIC_AUTH_FILE: user:bcrypt-hash lines */
	uint32_t max_connections;           /* METRICS_MAX_CONNECTIONS (default 128) */
	uint32_t request_timeout_ms;        /* METRICS_REQUEST_TIMEOUT_MS (default 10000): whole
					     * request head (HTTP/1), idle (HTTP/2), TLS handshake */
	uint32_t max_connections_per_address; /* _MAX_CONNECTIONS_PER_ADDRESS (default max_connections/8, >= 1) */
	uint32_t write_timeout_ms;          /* _WRITE_TIMEOUT_MS (default 10000): output that does not drain */
	size_t max_pending_bytes;           /* _MAX_PENDING_BYTES (default 256 KiB): request bytes waiting */
	uint32_t send_buffer_bytes;         /* _SEND_BUFFER_BYTES (default 256 KiB): the kernel's send buffer
					     * per connection (0: the kernel's autotuning, up to tcp_wmem) */
	bool http2;                         /* _HTTP2 (default false): offer h2 through ALPN (see above) */
	uint32_t http2_max_streams;         /* _HTTP2_MAX_STREAMS (default 16) */
	uint32_t workers;                   /* _WORKERS (default 2): bcrypt and deferred requests */
	uint32_t work_queue;                /* _WORK_QUEUE (default 32): jobs waiting at most */
	bool health_no_auth;                /* _HEALTH_NO_AUTH (default true): /healthz and /readyz without basic auth */
	uint32_t auth_max_failures;         /* _AUTH_MAX_FAILURES (default 10): failed logins per address a minute */
};

/* Defaults (enabled, 127.0.0.1:9090, plain HTTP, no auth). */
void ark_http_config_default(struct ark_http_config *cfg);
/* Defaults overridden by the METRICS_* variables; every error names its
 * variable. TLS cert without key (or the reverse) is an error. */
int ark_http_config_from_env(struct ark_http_config *cfg, struct ark_err *err);
/* The same for another server: <prefix>_PORT (default_port), _BIND, _TLS_CERT,
 * _TLS_KEY, _TLS_CLIENT_CA, _BASIC_AUTH_FILE, _MAX_CONNECTIONS,
 * _REQUEST_TIMEOUT_MS, _MAX_BODY_BYTES; enabled_var names the on/off switch. */
int ark_http_config_from_env_prefix(struct ark_http_config *cfg, const char *prefix, const char *enabled_var,
				    uint16_t default_port, struct ark_err *err);
/* false when METRICS_SERVER_ENABLED=false: the caller must not start a server. */
bool ark_http_config_enabled(const struct ark_http_config *cfg);
/* Checks what from_env checks, for a config built in code. */
int ark_http_config_validate(const struct ark_http_config *cfg, struct ark_err *err);

/* ---- server --------------------------------------------------------------- */

struct ark_http_server;

struct ark_http_stats {
	uint64_t connections_accepted;
	uint64_t connections_refused;  /* over max_connections */
	uint64_t connections_refused_per_address;  /* over max_connections_per_address (also in refused) */
	uint64_t connections_open;
	uint64_t connections_write_timeout;  /* shut down: output did not drain */
	uint64_t connections_overfull;       /* shut down: too many request bytes waiting */
	uint64_t requests;
	uint64_t auth_failures;
	uint64_t auth_limited;         /* 429: too many failures from the address */
	uint64_t busy;                 /* 429: the worker queue was full */
	uint64_t bad_requests;         /* 400: path grammar, duplicate headers */
	uint64_t status_2xx, status_4xx, status_5xx;
};

/* Binds, listens and loads TLS material and the users file; fails (naming
 * the variable or file) rather than serving with a configuration it could
 * not apply. The server belongs to the calling thread from here on. The
 * provider is copied; its ctx must outlive the server. */
int ark_http_server_create(struct ark_http_server **out, const struct ark_http_config *cfg,
			   const struct ark_http_provider *provider, struct ark_err *err);
/* The bound TCP port (the ephemeral one when cfg->port was 0). */
uint16_t ark_http_server_port(const struct ark_http_server *srv);
/* Run one loop iteration, waiting at most max_wait_ms for I/O. 0 or -errno. */
int ark_http_server_poll(struct ark_http_server *srv, int32_t max_wait_ms);
/* Serve until *stop becomes true (checked at least every 100 ms). */
int ark_http_server_run(struct ark_http_server *srv, const atomic_bool *stop);
/* Stop accepting, let open connections finish (bounded), free everything.
 * NULL is fine. */
void ark_http_server_destroy(struct ark_http_server *srv);
void ark_http_server_stats(const struct ark_http_server *srv, struct ark_http_stats *out);

/* ---- helpers (exposed for tests) ----------------------------------------- */

/* A decoded path every byte of which is in [A-Za-z0-9-._~/] (what every
 * route of both servers is made of); anything else is answered 400. */
bool ark_http_path_valid(const char *path, size_t len);

/* Which /metrics format an Accept header value asks for (NULL = none). */
enum ark_http_format ark_http_negotiate_format(const char *accept, size_t len);
/* Whether an Accept-Encoding value allows gzip (q > 0). */
bool ark_http_accepts_gzip(const char *accept_encoding, size_t len);
/* gzip-compress in[0..n) into out (appended). */
int ark_http_gzip(const void *in, size_t n, struct ark_buf *out);

#endif /* ARK_HTTP_H */
