/* tests/mirror/test_url.c — REDIS_URL parsing: the forms operators write
 * parse to the right fields; every malformed one is refused with a message
 * naming the part that is wrong and never the password; the description
 * for logs hides the password; the mirror's entry formatting. */
#include "check.h"
#include "mirror/mirror.h"

#include <stdlib.h>

static void good(const char *url, bool unix_socket, const char *host, int port, const char *user,
		 const char *password, int db)
{
	struct ark_redis_url u;
	struct ark_err err = {0};
	CHECK_MSG(ark_redis_url_parse(url, &u, &err) == 0, "%s: %s", url, err.msg);
	CHECK_MSG(u.unix_socket == unix_socket && strcmp(u.host, host) == 0 && u.port == port &&
			  strcmp(u.user, user) == 0 && strcmp(u.password, password) == 0 && u.db == db,
		  "%s -> unix=%d host=%s port=%d user=%s db=%d", url, u.unix_socket, u.host, u.port, u.user, u.db);
	char text[600];
	ark_redis_url_describe(&u, text, sizeof text);
	CHECK_MSG(!password[0] || (!strstr(text, password) && strstr(text, "***")), "%s described as %s", url, text);
}

static void bad(const char *url, const char *needle)
{
	struct ark_redis_url u;
	struct ark_err err = {0};
	CHECK_MSG(ark_redis_url_parse(url, &u, &err) != 0, "%s was accepted", url);
	CHECK_MSG(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", url, err.msg, needle);
	CHECK_MSG(!strstr(err.msg, "hunter2"), "%s: the password is in the message '%s'", url, err.msg);
}

int main(void)
{
	good("redis://localhost:6379/0", false, "localhost", 6379, "", "", 0);
	good("redis://localhost", false, "localhost", 6379, "", "", 0);
	good("redis://10.0.0.5:6380/15", false, "10.0.0.5", 6380, "", "", 15);
	good("redis://:hunter2@redis.internal:6379/1", false, "redis.internal", 6379, "", "hunter2", 1);
	good("redis://ark:hunter2@redis:6379/", false, "redis", 6379, "ark", "hunter2", 0);
	good("redis://:p%40ss%3Aword@host/2", false, "host", 6379, "", "p@ss:word", 2);
	good("redis://[::1]:7000/3", false, "::1", 7000, "", "", 3);
	good("unix:///run/redis/redis.sock", true, "/run/redis/redis.sock", 6379, "", "", 0);
	good("unix://:hunter2@/tmp/r.sock?db=4", true, "/tmp/r.sock", 6379, "", "hunter2", 4);

	bad("", "empty");
	bad("localhost:6379", "must start with redis://");
	bad("http://localhost", "must start with redis://");
	bad("rediss://localhost", "TLS");
	bad("redis://", "host is missing");
	bad("redis://:6379", "host is missing");
	bad("redis://host:0", "port");
	bad("redis://host:65536", "port");
	bad("redis://host:63x9", "port");
	bad("redis://host:6379/db1", "database");
	bad("redis://host:6379/-1", "database");
	bad("redis://hunter2@host", "':' is missing");
	bad("redis://user:@host", "password after ':' is empty");
	bad("redis://:hun%zzter2@host", "%-escape");
	bad("redis://:hunter2@ho st", "space");
	bad("redis://ho/st:1/0", "database");
	bad("redis://host?timeout=1", "query");
	bad("redis://[::1/0", "brackets");
	bad("unix://relative.sock", "absolute");
	bad("unix:///s.sock?database=1", "?db=N");

	/* An event as one XADD: the ID from the seq, MAXLEN ~, flat fields. */
	setenv("REDIS_URL", "redis://localhost/0", 1);
	setenv("ARK_MIRROR_MAXLEN", "5000", 1);
	struct ark_mirror_config cfg;
	struct ark_err err = {0};
	CHECK_MSG(ark_mirror_config_from_env(&cfg, &err) == 0, "%s", err.msg);
	CHECK(cfg.enabled && strcmp(cfg.stream, "ark:events") == 0 && cfg.maxlen == 5000);
	struct ark_event e;
	memset(&e, 0, sizeof e);
	e.seq = 42;
	e.node_id = 3;
	e.trace_id = ark_trace_id(3, 42);
	memcpy(e.symbol, "AAPL", 4);
	e.verdict = ARK_VERDICT_DENY;
	struct ark_mirror_entry m;
	ark_mirror_entry_format(&cfg, &e, &m);
	CHECK(m.argc > 10 && m.argc % 2 == 0);
	CHECK(strcmp(m.argv[0], "XADD") == 0 && strcmp(m.argv[1], "ark:events") == 0);
	CHECK(strcmp(m.argv[2], "MAXLEN") == 0 && strcmp(m.argv[3], "~") == 0 && strcmp(m.argv[4], "5000") == 0);
	CHECK(strcmp(m.argv[5], "42-3") == 0);
	CHECK(strcmp(m.argv[6], "seq") == 0 && strcmp(m.argv[7], "42") == 0);
	CHECK(strcmp(m.argv[9], "0003-00000000002a") == 0);
	for (int i = 0; i < m.argc; i++)
		CHECK(m.argvlen[i] == strlen(m.argv[i]));
	setenv("ARK_MIRROR_PER_TOPIC", "true", 1);
	CHECK(ark_mirror_config_from_env(&cfg, &err) == 0);
	char buf[200];
	CHECK(strcmp(ark_mirror_topic(&cfg, &e, buf, sizeof buf), "ark:events:denials") == 0);
	setenv("REDIS_URL", "redis://:hunter2@host:99999", 1);
	CHECK(ark_mirror_config_from_env(&cfg, &err) != 0 && !strstr(err.msg, "hunter2"));
	setenv("ARK_MIRROR_BATCH", "0", 1);
	setenv("REDIS_URL", "redis://host", 1);
	CHECK(ark_mirror_config_from_env(&cfg, &err) != 0 && strstr(err.msg, "ARK_MIRROR_BATCH"));
	printf("redis url: ok\n");
	return 0;
}
