/* ops/checks_net.c — the validator's checks that reach outside the process:
 * Redis answering PING (hiredis, bounded by a timeout), TLS certificates and
 * keys (OpenSSL: readable, matching, in their validity period, the key not
 * readable by others), ports free to bind, CPUs the agents are pinned to. */
#include "ops/internal.h"

#include "pipeline/pipeline.h"
#include "http/http.h"
#include "mirror/mirror.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* One command's reply: NULL with why set, or the reply (freed by the caller). */
static redisReply *command(redisContext *c, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!r) {
		snprintf(why, len, "%s", c->errstr[0] ? c->errstr : "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, len, "%.200s", r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

void ark_ops_check_redis(struct ark_validation *v, uint32_t timeout_ms)
{
	const char *url = getenv("REDIS_URL");
	if (!url || !*url) {
		ark_ops_add(v, ARK_CHECK_INFO, NULL, "Redis: REDIS_URL not set (the stream mirror is off)");
		return;
	}
	struct ark_redis_url u;
	struct ark_err err = {0};
	if (ark_redis_url_parse(url, &u, &err)) {
		ark_ops_add(v, ARK_CHECK_FAIL, "redis://[:password@]host[:port][/db] or unix:///path/to/socket[?db=N]", "Redis: %s",
			    err.msg);
		return;
	}
	char shown[600];
	ark_redis_url_describe(&u, shown, sizeof shown);
	struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
	redisContext *c = u.unix_socket ? redisConnectUnixWithTimeout(u.host, tv) : redisConnectWithTimeout(u.host, u.port, tv);
	char why[256] = "";
	if (!c || c->err) {
		snprintf(why, sizeof why, "%s", c ? c->errstr : "out of memory");
	} else {
		redisSetTimeout(c, tv);
		redisReply *r = NULL;
		if (u.password[0])
			r = u.user[0] ? command(c, why, sizeof why, "AUTH %s %s", u.user, u.password)
				      : command(c, why, sizeof why, "AUTH %s", u.password);
		if (!why[0] && r)
			freeReplyObject(r);
		if (!why[0] && u.db && (r = command(c, why, sizeof why, "SELECT %d", u.db)))
			freeReplyObject(r);
		if (!why[0] && (r = command(c, why, sizeof why, "PING"))) {
			if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0)
				snprintf(why, sizeof why, "PING was not answered PONG");
			freeReplyObject(r);
		}
	}
	if (c)
		redisFree(c);
	explicit_bzero(u.password, sizeof u.password);
	if (why[0])
		ark_ops_add(v, ARK_CHECK_FAIL, "start Redis (systemctl start redis-server) or fix REDIS_URL",
			    "Redis: no answer from %s: %s", shown, why);
	else
		ark_ops_add(v, ARK_CHECK_OK, NULL, "Redis: Connected successfully (%s)", shown);
}

/* An encrypted key is reported, never prompted for (ark start runs unattended). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

static bool loopback(const char *bind)
{
	return strcmp(bind, "127.0.0.1") == 0 || strcmp(bind, "::1") == 0 || strncmp(bind, "127.", 4) == 0;
}

void ark_ops_check_tls(struct ark_validation *v, const char *prefix, const struct ark_http_config *cfg,
		       bool production)
{
	if (!cfg->tls_cert[0]) {
		if (production && !loopback(cfg->bind)) {
			char hint[160];
			snprintf(hint, sizeof hint, "set %s_TLS_CERT and %s_TLS_KEY, or bind %s_BIND=127.0.0.1", prefix, prefix,
				 prefix);
			ark_ops_add(v, ARK_CHECK_FAIL, hint, "TLS: %s_BIND=%s without %s_TLS_CERT: served in clear text off this machine",
				    prefix, cfg->bind, prefix);
		}
		return;
	}
	char what[8400] = "";
	FILE *f = fopen(cfg->tls_cert, "r");
	X509 *cert = f ? PEM_read_X509(f, NULL, no_passphrase, NULL) : NULL;
	if (f)
		fclose(f);
	FILE *k = fopen(cfg->tls_key, "r");
	EVP_PKEY *key = k ? PEM_read_PrivateKey(k, NULL, no_passphrase, NULL) : NULL;
	if (k)
		fclose(k);
	struct stat st;
	if (!cert)
		snprintf(what, sizeof what, "%s_TLS_CERT %s is %s", prefix, cfg->tls_cert,
			 f ? "not a PEM certificate" : "not readable");
	else if (!key)
		snprintf(what, sizeof what, "%s_TLS_KEY %s is %s", prefix, cfg->tls_key,
			 k ? "not a PEM private key (or it is encrypted)" : "not readable");
	else if (X509_check_private_key(cert, key) != 1)
		snprintf(what, sizeof what, "%s_TLS_KEY %s does not match the certificate %s", prefix, cfg->tls_key,
			 cfg->tls_cert);
	else if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		snprintf(what, sizeof what, "the certificate %s has expired", cfg->tls_cert);
	else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		snprintf(what, sizeof what, "the certificate %s is not valid yet", cfg->tls_cert);
	else if (stat(cfg->tls_key, &st) == 0 && (st.st_mode & 077))
		snprintf(what, sizeof what, "the key %s is readable by others (mode %04o)", cfg->tls_key,
			 (unsigned)(st.st_mode & 07777));
	char until[64] = "?";
	if (cert) {
		struct tm tm;
		if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
			strftime(until, sizeof until, "%Y-%m-%d", &tm);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	if (what[0]) {
		char hint[4400];
		if (strstr(what, "readable by others"))
			snprintf(hint, sizeof hint, "chmod 600 %s", cfg->tls_key);
		else
			snprintf(hint, sizeof hint, "install a current certificate and its key (PEM) and point %s_TLS_CERT/%s_TLS_KEY at them",
				 prefix, prefix);
		ark_ops_add(v, ARK_CHECK_FAIL, hint, "TLS: %s", what);
	} else {
		ark_ops_add(v, ARK_CHECK_OK, NULL, "TLS: %s certificate matches its key, valid until %s", prefix, until);
	}
}

void ark_ops_check_port(struct ark_validation *v, const char *variable, const char *address, unsigned port,
			unsigned running_port)
{
	if (port == 0) {
		ark_ops_add(v, ARK_CHECK_OK, NULL, "Ports: %s=0 (any free port)", variable);
		return;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	int family;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
		family = AF_INET, in4->sin_family = AF_INET, in4->sin_port = htons((uint16_t)port), len = sizeof *in4;
	} else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		family = AF_INET6, in6->sin6_family = AF_INET6, in6->sin6_port = htons((uint16_t)port), len = sizeof *in6;
	} else {
		return;   /* the settings check names the bad address */
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int rc = fd >= 0 ? bind(fd, (struct sockaddr *)&ss, len) : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		ark_ops_add(v, ARK_CHECK_OK, NULL, "Ports: %s:%u (%s) free", address, port, variable);
	} else if (e == EADDRINUSE && running_port == port) {
		ark_ops_add(v, ARK_CHECK_OK, NULL, "Ports: %s:%u (%s) in use by this ARK instance", address, port, variable);
	} else {
		char hint[160];
		snprintf(hint, sizeof hint, "ss -ltnp 'sport = :%u' shows who holds it; stop it or choose another %s", port,
			 variable);
		ark_ops_add(v, ARK_CHECK_FAIL, hint, "Ports: %s:%u (%s) %s", address, port, variable,
			    e == EADDRINUSE ? "is in use by another process" : strerror(e));
	}
}

void ark_ops_check_cpus(struct ark_validation *v)
{
	cpu_set_t allowed;
	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
		return;
	char list[256] = "";
	for (int c = 0, first = -1; c <= CPU_SETSIZE; c++) {
		bool in = c < CPU_SETSIZE && CPU_ISSET(c, &allowed);
		if (in && first < 0)
			first = c;
		if (!in && first >= 0) {
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", list[0] ? "," : "", first);
			if (c - 1 > first)
				snprintf(list + strlen(list), sizeof list - strlen(list), "-%d", c - 1);
			first = -1;
		}
	}
	int pinned = 0, bad = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		char var[48];
		snprintf(var, sizeof var, "ARK_CPU_%s", ark_agent_file_name((enum ark_agent)a));
		for (char *p = var; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		const char *value = getenv(var);
		if (!value || !*value)
			continue;
		pinned++;
		char *end;
		errno = 0;
		long cpu = strtol(value, &end, 10);
		if (*end || errno || cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) {
			bad++;
			char hint[320];
			snprintf(hint, sizeof hint, "this machine lets ARK use CPUs %s", list);
			ark_ops_add(v, ARK_CHECK_FAIL, hint, "CPUs: %s=%.16s is not a CPU this process may run on", var, value);
		}
	}
	if (!bad)
		ark_ops_add(v, pinned ? ARK_CHECK_OK : ARK_CHECK_INFO, NULL,
			    pinned ? "CPUs: %d agents pinned to CPUs that exist (%s)" : "CPUs: no agent pinned (%d ARK_CPU_* set; CPUs %s)",
			    pinned, list);
}
