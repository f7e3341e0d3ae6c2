/* http/config.c — the metrics server's configuration from METRICS_* variables.
 * Invariant: a configuration that from_env/validate accepted is complete and
 * consistent (TLS cert and key both or neither, client CA only with TLS,
 * files readable); every rejection names the variable at fault. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"

void ark_http_config_default(struct ark_http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = true;
	strcpy(cfg->bind, "127.0.0.1");
	cfg->port = 9090;
	cfg->max_connections = 128;
	cfg->request_timeout_ms = 10000;
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
	unsigned char addr[16];
	if (inet_pton(AF_INET, cfg->bind, addr) != 1 && inet_pton(AF_INET6, cfg->bind, addr) != 1)
		return ark_err_set(err, -EINVAL, "METRICS_BIND: '%s' is not an IPv4 or IPv6 address", cfg->bind);
	if (cfg->tls_cert[0] && !cfg->tls_key[0])
		return ark_err_set(err, -EINVAL, "METRICS_TLS_KEY: not set but METRICS_TLS_CERT is (both or neither)");
	if (cfg->tls_key[0] && !cfg->tls_cert[0])
		return ark_err_set(err, -EINVAL, "METRICS_TLS_CERT: not set but METRICS_TLS_KEY is (both or neither)");
	if (cfg->tls_client_ca[0] && !cfg->tls_cert[0])
		return ark_err_set(err, -EINVAL,
				   "METRICS_TLS_CLIENT_CA: set without METRICS_TLS_CERT/METRICS_TLS_KEY (client certificates need TLS)");
	if (cfg->max_connections == 0)
		return ark_err_set(err, -EINVAL, "METRICS_MAX_CONNECTIONS: must be at least 1");
	if (cfg->request_timeout_ms == 0)
		return ark_err_set(err, -EINVAL, "METRICS_REQUEST_TIMEOUT_MS: must be at least 1");
	int rc;
	if ((rc = check_readable("METRICS_TLS_CERT", cfg->tls_cert, err)) ||
	    (rc = check_readable("METRICS_TLS_KEY", cfg->tls_key, err)) ||
	    (rc = check_readable("METRICS_TLS_CLIENT_CA", cfg->tls_client_ca, err)) ||
	    (rc = check_readable("METRICS_BASIC_AUTH_FILE", cfg->basic_auth_file, err)))
		return rc;
	return 0;
}

int ark_http_config_from_env(struct ark_http_config *cfg, struct ark_err *err)
{
	ark_http_config_default(cfg);
	int rc;
	uint64_t v;
	if ((rc = ark_env_bool("METRICS_SERVER_ENABLED", true, &cfg->enabled, err)))
		return rc;
	if ((rc = ark_env_u64("METRICS_PORT", 9090, 0, 65535, &v, err)))
		return rc;
	cfg->port = (uint16_t)v;
	if ((rc = ark_env_u64("METRICS_MAX_CONNECTIONS", 128, 1, 65536, &v, err)))
		return rc;
	cfg->max_connections = (uint32_t)v;
	if ((rc = ark_env_u64("METRICS_REQUEST_TIMEOUT_MS", 10000, 1, 3600000, &v, err)))
		return rc;
	cfg->request_timeout_ms = (uint32_t)v;
	const char *bind = getenv("METRICS_BIND");
	if (bind && *bind) {
		if (strlen(bind) >= sizeof(cfg->bind))
			return ark_err_set(err, -EINVAL, "METRICS_BIND: '%.40s...' is too long", bind);
		strcpy(cfg->bind, bind);
	}
	if ((rc = env_path("METRICS_TLS_CERT", cfg->tls_cert, sizeof(cfg->tls_cert), err)) ||
	    (rc = env_path("METRICS_TLS_KEY", cfg->tls_key, sizeof(cfg->tls_key), err)) ||
	    (rc = env_path("METRICS_TLS_CLIENT_CA", cfg->tls_client_ca, sizeof(cfg->tls_client_ca), err)) ||
	    (rc = env_path("METRICS_BASIC_AUTH_FILE", cfg->basic_auth_file, sizeof(cfg->basic_auth_file), err)))
		return rc;
	if (!cfg->enabled)
		return 0; /* off: nothing else matters */
	return ark_http_config_validate(cfg, err);
}
