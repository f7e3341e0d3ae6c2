/* tests/http/test_http_unit.c — the metrics server's pure parts: METRICS_*
 * configuration (defaults, every error naming its variable, disabled),
 * Accept / Accept-Encoding negotiation with q-values, the gzip encoder
 * (round trip), the buffer, and the basic-auth users file (loading errors
 * that never print the hash). */
#include <crypt.h>
#include <zlib.h>

#include "http_test.h"

static const char *VARS[] = {"METRICS_PORT", "METRICS_BIND", "METRICS_SERVER_ENABLED", "METRICS_TLS_CERT",
			     "METRICS_TLS_KEY", "METRICS_TLS_CLIENT_CA", "METRICS_BASIC_AUTH_FILE",
			     "METRICS_MAX_CONNECTIONS", "METRICS_REQUEST_TIMEOUT_MS",
			     "METRICS_MAX_CONNECTIONS_PER_ADDRESS", "METRICS_WRITE_TIMEOUT_MS", "METRICS_HTTP2",
			     "METRICS_HEALTH_NO_AUTH"};

static void clear_env(void)
{
	for (size_t i = 0; i < ARK_ARRAY_LEN(VARS); i++)
		unsetenv(VARS[i]);
}

static void expect_env_error(const char *var, const char *value, const char *needle)
{
	clear_env();
	setenv(var, value, 1);
	struct ark_http_config cfg;
	struct ark_err err = {0};
	CHECK_MSG(ark_http_config_from_env(&cfg, &err) < 0, "%s=%s accepted", var, value);
	CHECK_CONTAINS(err.msg, needle);
}

static void test_config_env(const char *dir)
{
	struct ark_http_config cfg;
	struct ark_err err = {0};
	clear_env();
	CHECK(ark_http_config_from_env(&cfg, &err) == 0);
	CHECK(ark_http_config_enabled(&cfg));
	CHECK_EQ_U64(cfg.port, 9090);
	CHECK(strcmp(cfg.bind, "127.0.0.1") == 0);
	CHECK(!cfg.tls_cert[0] && !cfg.tls_key[0] && !cfg.tls_client_ca[0] && !cfg.basic_auth_file[0]);
	CHECK_EQ_U64(cfg.max_connections, 128);
	CHECK_EQ_U64(cfg.request_timeout_ms, 10000);
	/* the hardening defaults: an eighth of the slots per address, HTTP/2 off,
	 * health checks without basic auth */
	CHECK_EQ_U64(cfg.max_connections_per_address, 16);
	CHECK_EQ_U64(cfg.write_timeout_ms, 10000);
	CHECK(!cfg.http2);
	CHECK(cfg.health_no_auth);
	CHECK_EQ_U64(cfg.auth_max_failures, 10);
	setenv("METRICS_MAX_CONNECTIONS", "8", 1);
	CHECK(ark_http_config_from_env(&cfg, &err) == 0);
	CHECK_EQ_U64(cfg.max_connections_per_address, 1);
	setenv("METRICS_HTTP2", "true", 1);
	setenv("METRICS_HEALTH_NO_AUTH", "false", 1);
	CHECK(ark_http_config_from_env(&cfg, &err) == 0);
	CHECK(cfg.http2 && !cfg.health_no_auth);
	clear_env();

	setenv("METRICS_PORT", "19090", 1);
	setenv("METRICS_BIND", "::1", 1);
	CHECK(ark_http_config_from_env(&cfg, &err) == 0);
	CHECK_EQ_U64(cfg.port, 19090);
	CHECK(strcmp(cfg.bind, "::1") == 0);

	clear_env();
	setenv("METRICS_SERVER_ENABLED", "false", 1);
	setenv("METRICS_TLS_CERT", "/nonexistent", 1); /* irrelevant when off */
	CHECK(ark_http_config_from_env(&cfg, &err) == 0);
	CHECK(!ark_http_config_enabled(&cfg));

	expect_env_error("METRICS_PORT", "65536", "METRICS_PORT");
	expect_env_error("METRICS_PORT", "90x", "METRICS_PORT");
	expect_env_error("METRICS_BIND", "localhost", "METRICS_BIND");
	expect_env_error("METRICS_SERVER_ENABLED", "maybe", "METRICS_SERVER_ENABLED");
	expect_env_error("METRICS_MAX_CONNECTIONS", "0", "METRICS_MAX_CONNECTIONS");
	expect_env_error("METRICS_MAX_CONNECTIONS_PER_ADDRESS", "129", "METRICS_MAX_CONNECTIONS_PER_ADDRESS");
	expect_env_error("METRICS_WRITE_TIMEOUT_MS", "0", "METRICS_WRITE_TIMEOUT_MS");
	expect_env_error("METRICS_HTTP2", "perhaps", "METRICS_HTTP2");
	expect_env_error("METRICS_REQUEST_TIMEOUT_MS", "-5", "METRICS_REQUEST_TIMEOUT_MS");
	expect_env_error("METRICS_BASIC_AUTH_FILE", "/nonexistent/users", "METRICS_BASIC_AUTH_FILE");

	char crt[300], key[300], ca[300];
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	/* one without the other names the missing one */
	expect_env_error("METRICS_TLS_CERT", crt, "METRICS_TLS_KEY");
	expect_env_error("METRICS_TLS_KEY", key, "METRICS_TLS_CERT");
	expect_env_error("METRICS_TLS_CLIENT_CA", ca, "METRICS_TLS_CLIENT_CA");
	clear_env();
	setenv("METRICS_TLS_CERT", crt, 1);
	setenv("METRICS_TLS_KEY", "/nonexistent/key", 1);
	CHECK(ark_http_config_from_env(&cfg, &err) < 0);
	CHECK_CONTAINS(err.msg, "METRICS_TLS_KEY");
	setenv("METRICS_TLS_KEY", key, 1);
	setenv("METRICS_TLS_CLIENT_CA", ca, 1);
	CHECK_MSG(ark_http_config_from_env(&cfg, &err) == 0, "%s", err.msg);
	CHECK(strcmp(cfg.tls_cert, crt) == 0 && strcmp(cfg.tls_key, key) == 0 && strcmp(cfg.tls_client_ca, ca) == 0);
	clear_env();

	/* port in use: the error names the variables */
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_server *a = NULL, *b = NULL;
	test_config(&cfg);
	CHECK(ark_http_server_create(&a, &cfg, &p, &err) == 0);
	cfg.port = ark_http_server_port(a);
	CHECK(ark_http_server_create(&b, &cfg, &p, &err) < 0);
	CHECK_CONTAINS(err.msg, "METRICS_PORT");
	ark_http_server_destroy(a);
}

static void test_negotiation(void)
{
#define NEG(s) ark_http_negotiate_format((s), strlen(s))
	CHECK(ark_http_negotiate_format(NULL, 0) == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("*/*") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("text/plain") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("application/openmetrics-text") == ARK_HTTP_FORMAT_OPENMETRICS);
	CHECK(NEG("application/openmetrics-text; version=1.0.0; charset=utf-8") == ARK_HTTP_FORMAT_OPENMETRICS);
	CHECK(NEG("Application/OpenMetrics-Text;q=0.5, text/plain;q=0.4") == ARK_HTTP_FORMAT_OPENMETRICS);
	CHECK(NEG("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
		  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == ARK_HTTP_FORMAT_OPENMETRICS);
	CHECK(NEG("text/plain;q=0.9, application/openmetrics-text;q=0.8") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("application/openmetrics-text;q=0") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("application/openmetrics-text;q=x") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG("application/openmetrics-text;q=0.5, */*") == ARK_HTTP_FORMAT_PROMETHEUS);
	CHECK(NEG(",,,;;;q=,") == ARK_HTTP_FORMAT_PROMETHEUS);
	/* reads only the given length */
	CHECK(ark_http_negotiate_format("text/plainapplication/openmetrics-text", 10) == ARK_HTTP_FORMAT_PROMETHEUS);
#define GZ(s) ark_http_accepts_gzip((s), strlen(s))
	CHECK(!ark_http_accepts_gzip(NULL, 0));
	CHECK(GZ("gzip"));
	CHECK(GZ("deflate, gzip;q=0.5"));
	CHECK(GZ("GZIP"));
	CHECK(GZ("*"));
	CHECK(!GZ("gzip;q=0"));
	CHECK(!GZ("gzip;q=0.000"));
	CHECK(!GZ("identity"));
	CHECK(!GZ("*;q=0"));
	CHECK(!GZ("gzip;q=0, *"));
	CHECK(!GZ("gzipx, br"));
}

static void test_gzip_and_buf(void)
{
	struct ark_buf b, z;
	ark_buf_init(&b);
	ark_buf_init(&z);
	for (int i = 0; i < 20000; i++)
		CHECK(ark_buf_printf(&b, "ark_series_%d{agent=\"kyle\"} %d\n", i, i * 7) == 0);
	CHECK(!b.failed && b.len > 400000 && b.data[b.len] == '\0');
	CHECK(ark_http_gzip(b.data, b.len, &z) == 0);
	CHECK(z.len < b.len / 4);
	char *out = malloc(b.len + 1);
	uLongf outlen = (uLongf)b.len;
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	CHECK(inflateInit2(&zs, 31) == Z_OK);
	zs.next_in = (Bytef *)z.data;
	zs.avail_in = (uInt)z.len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)outlen;
	CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END);
	CHECK_EQ_U64(zs.total_out, b.len);
	CHECK(memcmp(out, b.data, b.len) == 0);
	inflateEnd(&zs);
	free(out);
	ark_buf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == '\0');
	CHECK(ark_buf_json_string(&b, "a\"b\\c\n\x01") == 0);
	CHECK(strcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\"") == 0);
	CHECK(ark_buf_reserve(&b, ARK_BUF_LIMIT) == -ENOMEM && b.failed);
	ark_buf_free(&b);
	ark_buf_free(&z);
}

static void test_users_file(const char *dir)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/users", dir);
	struct test_provider tp;
	struct ark_http_provider p;
	tp_init(&tp, &p);
	struct ark_http_config cfg;
	test_config(&cfg);
	strcpy(cfg.basic_auth_file, path);
	struct ark_http_server *srv = NULL;
	struct ark_err err = {0};
	const char *bad[] = {
		"nocolon\n",
		":$2b$04$abcdefghijklmnopqrstuu5dmMWfRCM.DkxTIUp6UWq3NOZKDq9Wi\n",
		"plain:secretpassword\n",
		"md5:$1$abc$abcdefghijklmnopqrstuv\n",
		/* cost 4: well formed, but below the minimum of 10 */
		"weak:$2b$04$abcdefghijklmnopqrstuu5dmMWfRCM.DkxTIUp6UWq3NOZKDq9Wi\n",
		"# only comments\n\n",
	};
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad); i++) {
		FILE *f = fopen(path, "w");
		CHECK(f);
		fputs(bad[i], f);
		fclose(f);
		CHECK_MSG(ark_http_server_create(&srv, &cfg, &p, &err) < 0, "users file '%s' accepted", bad[i]);
		CHECK_CONTAINS(err.msg, "METRICS_BASIC_AUTH_FILE");
		CHECK_MSG(strstr(err.msg, "secretpassword") == NULL && strstr(err.msg, "$1$") == NULL,
			  "secret in error: %s", err.msg);
	}
}

int main(int argc, char **argv)
{
	CHECK_MSG(argc == 2, "usage: test_http_unit make-test-certs.sh");
	const char *d = make_certs(argv[1], 0);
	test_config_env(d);
	test_negotiation();
	test_gzip_and_buf();
	test_users_file(d);
	rm_rf(d);
	printf("http unit: OK\n");
	return 0;
}
