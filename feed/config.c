/* feed/config.c — the feed's settings: built-in defaults and the ARK_FEED_*
 * environment variables. Invariant: a variable that is set but unparsable is
 * an error naming it and what was expected, never replaced by the default. */
#include "feed/feed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ark_feed_config_init(struct ark_feed_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	strcpy(cfg->bind, ARK_FEED_DEFAULT_BIND);
	cfg->port = ARK_FEED_DEFAULT_PORT;
	cfg->max_connections = ARK_FEED_DEFAULT_MAX_CONNECTIONS;
	cfg->max_line = ARK_FEED_DEFAULT_MAX_LINE;
	cfg->line_timeout_ns = ARK_FEED_DEFAULT_LINE_TIMEOUT_MS * 1000000ull;
	cfg->log_burst = ARK_FEED_DEFAULT_LOG_BURST;
	cfg->ring_wait.strategy = ARK_WAIT_ADAPTIVE;
	cfg->ring_wait.spin_ns = 20000;
	ark_tick_bounds_default(&cfg->bounds);
}

static bool numeric_address(const char *text)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1;
}

int ark_feed_config_from_env(struct ark_feed_config *cfg, struct ark_err *err)
{
	ark_feed_config_init(cfg);
	const char *bind = getenv("ARK_FEED_BIND");
	if (bind && *bind) {
		if (strlen(bind) >= sizeof cfg->bind || !numeric_address(bind))
			return ark_err_set(err, -EINVAL,
					   "ARK_FEED_BIND='%.64s' is not a numeric IPv4 or IPv6 address "
					   "(expected e.g. 127.0.0.1, 0.0.0.0, ::1)",
					   bind);
		strcpy(cfg->bind, bind);
	}
	uint64_t v;
	int rc;
	if ((rc = ark_env_u64("ARK_FEED_PORT", ARK_FEED_DEFAULT_PORT, 0, 65535, &v, err)))
		return rc;
	cfg->port = (uint16_t)v;
	if ((rc = ark_env_u64("ARK_FEED_MAX_CONNECTIONS", ARK_FEED_DEFAULT_MAX_CONNECTIONS, 1,
			      ARK_FEED_MAX_CONNECTIONS_LIMIT, &v, err)))
		return rc;
	cfg->max_connections = (uint32_t)v;
	if ((rc = ark_env_u64("ARK_FEED_MAX_LINE", ARK_FEED_DEFAULT_MAX_LINE, ARK_FEED_MIN_LINE,
			      ARK_FEED_MAX_LINE_LIMIT, &v, err)))
		return rc;
	cfg->max_line = (uint32_t)v;
	if ((rc = ark_env_u64("ARK_FEED_LINE_TIMEOUT_MS", ARK_FEED_DEFAULT_LINE_TIMEOUT_MS, 0, 86400000ull, &v,
			      err)))
		return rc;
	cfg->line_timeout_ns = v * 1000000ull;
	if ((rc = ark_env_u64("ARK_FEED_LOG_BURST", ARK_FEED_DEFAULT_LOG_BURST, 0, 1000000, &v, err)))
		return rc;
	cfg->log_burst = (uint32_t)v;
	char why[256];
	if (ark_tick_bounds_from_env(&cfg->bounds, why, sizeof why))
		return ark_err_set(err, -EINVAL, "%s", why);
	return ark_ring_wait_from_env(&cfg->ring_wait, err);
}
