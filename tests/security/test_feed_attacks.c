/* tests/security/test_feed_attacks.c — the TCP feed against issue 15's
 * reproduction (64 silent connections held every slot; a legitimate client
 * got "too many connections" and its tick was lost) and its optional token:
 *
 *   silent     one address opens every slot's worth of silent connections:
 *              it gets its per-address cap, the rest are refused, and a
 *              client from another address delivers its tick; then the idle
 *              timeout reaps the silent ones;
 *   token      with ARK_FEED_TOKEN's setting a connection whose first line is
 *              not AUTH <token> is told, closed and counted (its text never
 *              logged); the right token delivers ticks; a wrong one does not;
 *   env        ARK_FEED_IDLE_TIMEOUT_MS, ARK_FEED_MAX_CONNECTIONS_PER_ADDRESS
 *              and ARK_FEED_TOKEN(_FILE) from the environment, with errors. */
#include "../feed/feed_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

static int connect_from(const char *source, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	struct sockaddr_in from = {.sin_family = AF_INET};
	CHECK(inet_pton(AF_INET, source, &from.sin_addr) == 1);
	CHECK(bind(fd, (struct sockaddr *)&from, sizeof from) == 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_MSG(connect(fd, (struct sockaddr *)&to, sizeof to) == 0, "connect: %s", strerror(errno));
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void test_silent(void)
{
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	cfg.max_connections = 64;
	cfg.max_per_address = 8;
	cfg.idle_timeout_ns = 700 * 1000000ull;
	struct runner r;
	runner_start(&r, &cfg);
	uint16_t port = ark_feed_port(r.feed);
	int silent[64];
	for (int i = 0; i < 64; i++)
		silent[i] = connect_from("127.0.0.1", port);
	struct ark_feed_counters k;
	WAIT_UNTIL(r.feed, k, k.connections_accepted + k.connections_refused >= 64, 5000);
	CHECK_EQ_U64(k.connections_open, 8);
	CHECK_EQ_U64(k.connections_refused_per_address, 56);
	/* Another address: served while the silent ones hold their cap. */
	int legit = connect_from("127.0.0.2", port);
	char line[256];
	int n = format_tick(line, sizeof line, "AAPL", 187.25, 100, ark_realtime_ns());
	line[n++] = '\n';
	send_all(legit, line, (size_t)n);
	WAIT_UNTIL(r.feed, k, k.ticks == 1, 5000);
	CHECK(collector_count(&got) == 1 && strcmp(got.ticks[0].symbol, "AAPL") == 0);
	/* The silent ones are reaped by the idle timeout (the talker too, once
	 * it falls silent). */
	WAIT_UNTIL(r.feed, k, k.connections_idle_closed >= 9 && k.connections_open == 0, 10000);
	char buf[256];
	for (int i = 0; i < 64; i++) {
		CHECK_MSG(read_until_closed(silent[i], buf, sizeof buf), "silent connection %d not closed", i);
		close(silent[i]);
	}
	close(legit);
	runner_stop(&r);
	printf("  silent: 64 silent connections from one address: 8 held, 56 refused; another address's tick delivered;"
	       " %" PRIu64 " reaped idle\n", k.connections_idle_closed);
	ark_feed_destroy(r.feed);
	collector_free(&got);
}

static void test_token(void)
{
	static const char token[] = "feed-token-0123456789abcdef";
	struct collector got;
	collector_init(&got);
	struct ark_feed_config cfg;
	test_config(&cfg, &got);
	snprintf(cfg.token, sizeof cfg.token, "%s", token);
	struct runner r;
	runner_start(&r, &cfg);
	uint16_t port = ark_feed_port(r.feed);
	char tick[256], msg[512], reply[256];
	int n = format_tick(tick, sizeof tick, "MSFT", 410.5, 7, ark_realtime_ns());
	struct ark_feed_counters k;
	/* no AUTH line: told and closed, the tick not taken */
	int fd = client_connect(port);
	snprintf(msg, sizeof msg, "%.*s\n", n, tick);
	send_str(fd, msg);
	CHECK(read_until_closed(fd, reply, sizeof reply));
	CHECK_CONTAINS(reply, "{\"error\":\"authentication required\"}");
	close(fd);
	/* a wrong token (one byte off), sent with a tick */
	fd = client_connect(port);
	snprintf(msg, sizeof msg, "AUTH feed-token-0123456789abcdeX\n%.*s\n", n, tick);
	send_str(fd, msg);
	CHECK(read_until_closed(fd, reply, sizeof reply));
	CHECK_CONTAINS(reply, "authentication required");
	close(fd);
	WAIT_UNTIL(r.feed, k, k.connections_unauthenticated == 2, 5000);
	CHECK_EQ_U64(k.ticks, 0);
	CHECK_EQ_U64(k.bad_by_reason[ARK_FEED_UNAUTHENTICATED], 2);
	/* the right one */
	fd = client_connect(port);
	snprintf(msg, sizeof msg, "AUTH %s\r\n%.*s\n%.*s\n", token, n, tick, n, tick);
	send_str(fd, msg);
	WAIT_UNTIL(r.feed, k, k.ticks == 2, 5000);
	close(fd);
	runner_stop(&r);
	CHECK_MSG(log_count(&got, "feed-token-", NULL) == 0, "a token appeared in the log");
	CHECK(log_count(&got, "reason=unauthenticated", NULL) == 2);
	printf("  token: no AUTH and a wrong token refused and closed (never logged); the right one delivers\n");
	ark_feed_destroy(r.feed);
	collector_free(&got);
}

static void test_env(void)
{
	struct ark_feed_config cfg;
	struct ark_err err = {0};
	static const char *vars[] = {"ARK_FEED_IDLE_TIMEOUT_MS", "ARK_FEED_MAX_CONNECTIONS_PER_ADDRESS", "ARK_FEED_TOKEN",
				     "ARK_FEED_TOKEN_FILE", "ARK_FEED_MAX_CONNECTIONS"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);
	CHECK(ark_feed_config_from_env(&cfg, &err) == 0);
	CHECK_EQ_U64(cfg.idle_timeout_ns, 30000ull * 1000000);
	CHECK_EQ_U64(cfg.max_per_address, 8);   /* an eighth of 64 */
	CHECK(cfg.token[0] == '\0');
	setenv("ARK_FEED_TOKEN", "short", 1);
	CHECK(ark_feed_config_from_env(&cfg, &err) < 0);
	CHECK_CONTAINS(err.msg, "ARK_FEED_TOKEN");
	CHECK(strstr(err.msg, "short") == NULL);
	setenv("ARK_FEED_TOKEN", "a-long-enough-feed-token", 1);
	CHECK(ark_feed_config_from_env(&cfg, &err) == 0 && strcmp(cfg.token, "a-long-enough-feed-token") == 0);
	unsetenv("ARK_FEED_TOKEN");
	char path[] = "/tmp/ark-feed-token-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, "from-a-file-0123456789\n", 23) == 23);
	close(fd);
	setenv("ARK_FEED_TOKEN_FILE", path, 1);
	CHECK_MSG(ark_feed_config_from_env(&cfg, &err) == 0, "%s", err.msg);
	CHECK(strcmp(cfg.token, "from-a-file-0123456789") == 0);
	chmod(path, 0644);
	CHECK(ark_feed_config_from_env(&cfg, &err) == -EPERM);
	CHECK_CONTAINS(err.msg, "chmod 600");
	unlink(path);
	unsetenv("ARK_FEED_TOKEN_FILE");
	setenv("ARK_FEED_IDLE_TIMEOUT_MS", "0", 1);
	setenv("ARK_FEED_MAX_CONNECTIONS_PER_ADDRESS", "65", 1);
	CHECK(ark_feed_config_from_env(&cfg, &err) < 0);
	CHECK_CONTAINS(err.msg, "ARK_FEED_MAX_CONNECTIONS_PER_ADDRESS");
	unsetenv("ARK_FEED_MAX_CONNECTIONS_PER_ADDRESS");
	CHECK(ark_feed_config_from_env(&cfg, &err) == 0 && cfg.idle_timeout_ns == 0);
	unsetenv("ARK_FEED_IDLE_TIMEOUT_MS");
	printf("  env: defaults (30 s idle, 8 per address, no token) and errors\n");
}

int main(void)
{
	test_env();
	test_silent();
	test_token();
	printf("security feed: all cases passed\n");
	return 0;
}
