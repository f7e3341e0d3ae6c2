/* http/config.c — the metrics server's configuration from METRICS_* variables.
 * Invariant: a configuration that from_env/validate accepted is complete and
 * consistent (TLS cert and key both or neither, client CA only with TLS,
 * files readable); every rejection names the variable at fault. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"

void ark_http_config_default(struct ark_http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->prefix, "METRICS");
	cfg->max_body_bytes = 64 * 1024;
	cfg->enabled = true;
	strcpy(cfg->bind, "127.0.0.1");
	cfg->port = 9090;
	cfg->max_connections = 128;
	cfg->request_timeout_ms = 10000;
	cfg->max_connections_per_address = 16;
	cfg->write_timeout_ms = 10000;
	cfg->max_pending_bytes = 256 * 1024;
	cfg->send_buffer_bytes = 256 * 1024;
	cfg->http2 = false;
	cfg->http2_max_streams = 16;
	cfg->workers = 2;
	cfg->work_queue = 32;
	cfg->health_no_auth = true;
	cfg->auth_max_failures = 10;
}

bool ark_http_config_enabled(const struct ark_http_config *cfg)
{
	return cfg->enabled;
}

static int env_path(const char *name, char *dst, size_t cap, struct ark_err *err)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 0;
	if (strlen(v) >= cap)
		return ark_err_set(err, -ENAMETOOLONG, "%s: path longer than %zu bytes", name, cap - 1);
	strcpy(dst, v);
	return 0;
}

static int check_readable(const char *name, const char *path, struct ark_err *err)
{
	if (path[0] && access(path, R_OK) != 0)
		return ark_err_set(err, -errno, "%s: cannot read %s: %s", name, path, strerror(errno));
	return 0;
}

int ark_http_config_validate(const struct ark_http_config *cfg, struct ark_err *err)
{
	const char *x = cfg->prefix[0] ? cfg->prefix : "METRICS";
	char v1[48], v2[48], v3[48], v4[48];
	snprintf(v1, sizeof v1, "%s_TLS_CERT", x);
	snprintf(v2, sizeof v2, "%s_TLS_KEY", x);
	snprintf(v3, sizeof v3, "%s_TLS_CLIENT_CA", x);
	snprintf(v4, sizeof v4, "%s_BASIC_AUTH_FILE", x);
	unsigned char addr[16];
	if (inet_pton(AF_INET, cfg->bind, addr) != 1 && inet_pton(AF_INET6, cfg->bind, addr) != 1)
		return ark_err_set(err, -EINVAL, "%s_BIND: '%s' is not an IPv4 or IPv6 address", x, cfg->bind);
	if (cfg->tls_cert[0] && !cfg->tls_key[0])
		return ark_err_set(err, -EINVAL, "%s: not set but %s is (both or neither)", v2, v1);
	if (cfg->tls_key[0] && !cfg->tls_cert[0])
		return ark_err_set(err, -EINVAL, "%s: not set but %s is (both or neither)", v1, v2);
	if (cfg->tls_client_ca[0] && !cfg->tls_cert[0])
		return ark_err_set(err, -EINVAL, "%s: set without %s/%s (client certificates need TLS)", v3, v1, v2);
	if (cfg->max_connections == 0)
		return ark_err_set(err, -EINVAL, "%s_MAX_CONNECTIONS: must be at least 1", x);
	if (cfg->request_timeout_ms == 0)
		return ark_err_set(err, -EINVAL, "%s_REQUEST_TIMEOUT_MS: must be at least 1", x);
	if (cfg->max_connections_per_address == 0 || cfg->max_connections_per_address > cfg->max_connections)
		return ark_err_set(err, -EINVAL, "%s_MAX_CONNECTIONS_PER_ADDRESS: %u, expected 1 to %s_MAX_CONNECTIONS (%u)", x,
				   cfg->max_connections_per_address, x, cfg->max_connections);
	if (cfg->write_timeout_ms == 0)
		return ark_err_set(err, -EINVAL, "%s_WRITE_TIMEOUT_MS: must be at least 1", x);
	if (cfg->workers == 0 || cfg->work_queue == 0)
		return ark_err_set(err, -EINVAL, "%s_WORKERS and %s_WORK_QUEUE: must be at least 1", x, x);
	int rc;
	if ((rc = check_readable(v1, cfg->tls_cert, err)) || (rc = check_readable(v2, cfg->tls_key, err)) ||
	    (rc = check_readable(v3, cfg->tls_client_ca, err)) || (rc = check_readable(v4, cfg->basic_auth_file, err)))
		return rc;
	return 0;
}

/* <prefix>_<suffix> as a whole number in [min, max], dflt when unset; the
 * error names the variable. */
static int setting_u64(const char *prefix, const char *suffix, uint64_t dflt, uint64_t min, uint64_t max,
		       uint64_t *v, struct ark_err *err)
{
	char name[64];
	snprintf(name, sizeof name, "%s_%s", prefix, suffix);
	return ark_env_u64(name, dflt, min, max, v, err);
}

static int setting_u32(const char *prefix, const char *suffix, uint64_t dflt, uint64_t min, uint64_t max,
		       uint32_t *out, struct ark_err *err)
{
	uint64_t v;
	int rc = setting_u64(prefix, suffix, dflt, min, max, &v, err);
	if (!rc)
		*out = (uint32_t)v;
	return rc;
}

static int setting_bool(const char *prefix, const char *suffix, bool dflt, bool *out, struct ark_err *err)
{
	char name[64];
	snprintf(name, sizeof name, "%s_%s", prefix, suffix);
	return ark_env_bool(name, dflt, out, err);
}

int ark_http_config_from_env_prefix(struct ark_http_config *cfg, const char *prefix, const char *enabled_var,
				    uint16_t default_port, struct ark_err *err)
{
	ark_http_config_default(cfg);
	snprintf(cfg->prefix, sizeof cfg->prefix, "%s", prefix);
	cfg->port = default_port;
	char name[64];
	int rc;
	uint64_t port, pending, body;
	if ((rc = ark_env_bool(enabled_var, true, &cfg->enabled, err)) ||
	    (rc = setting_u64(prefix, "PORT", default_port, 0, 65535, &port, err)))
		return rc;
	cfg->port = (uint16_t)port;
	/* In this order: the per-address limit's default and bound follow the
	 * total's. */
	if ((rc = setting_u32(prefix, "MAX_CONNECTIONS", 128, 1, 65536, &cfg->max_connections, err)) ||
	    (rc = setting_u32(prefix, "REQUEST_TIMEOUT_MS", 10000, 1, 3600000, &cfg->request_timeout_ms, err)) ||
	    (rc = setting_u32(prefix, "MAX_CONNECTIONS_PER_ADDRESS", cfg->max_connections / 8 ? cfg->max_connections / 8 : 1,
			      1, cfg->max_connections, &cfg->max_connections_per_address, err)) ||
	    (rc = setting_u32(prefix, "WRITE_TIMEOUT_MS", 10000, 1, 3600000, &cfg->write_timeout_ms, err)) ||
	    (rc = setting_u64(prefix, "MAX_PENDING_BYTES", cfg->max_pending_bytes, 4096, 64ull << 20, &pending, err)) ||
	    (rc = setting_u32(prefix, "SEND_BUFFER_BYTES", cfg->send_buffer_bytes, 0, 64ull << 20, &cfg->send_buffer_bytes,
			      err)) ||
	    (rc = setting_bool(prefix, "HTTP2", false, &cfg->http2, err)) ||
	    (rc = setting_u32(prefix, "HTTP2_MAX_STREAMS", 16, 1, 256, &cfg->http2_max_streams, err)) ||
	    (rc = setting_u32(prefix, "WORKERS", 2, 1, 64, &cfg->workers, err)) ||
	    (rc = setting_u32(prefix, "WORK_QUEUE", 32, 1, 65536, &cfg->work_queue, err)) ||
	    (rc = setting_bool(prefix, "HEALTH_NO_AUTH", true, &cfg->health_no_auth, err)) ||
	    (rc = setting_u32(prefix, "AUTH_MAX_FAILURES", 10, 1, 1000000, &cfg->auth_max_failures, err)) ||
	    (rc = setting_u64(prefix, "MAX_BODY_BYTES", cfg->max_body_bytes, 1024, 64ull << 20, &body, err)))
		return rc;
	cfg->max_pending_bytes = (size_t)pending;
	cfg->max_body_bytes = (size_t)body;
	snprintf(name, sizeof name, "%s_BIND", prefix);
	const char *bind = getenv(name);
	if (bind && *bind) {
		if (strlen(bind) >= sizeof(cfg->bind))
			return ark_err_set(err, -EINVAL, "%s: '%.40s...' is too long", name, bind);
		strcpy(cfg->bind, bind);
	}
	static const char *const suffix[] = {"TLS_CERT", "TLS_KEY", "TLS_CLIENT_CA", "BASIC_AUTH_FILE"};
	char *dst[] = {cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca, cfg->basic_auth_file};
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s_%s", prefix, suffix[i]);
		if ((rc = env_path(name, dst[i], ARK_HTTP_PATH_MAX, err)))
			return rc;
	}
	if (!cfg->enabled)
		return 0; /* off: nothing else matters */
	return ark_http_config_validate(cfg, err);
}

int ark_http_config_from_env(struct ark_http_config *cfg, struct ark_err *err)
{
	return ark_http_config_from_env_prefix(cfg, "METRICS", "METRICS_SERVER_ENABLED", 9090, err);
}
