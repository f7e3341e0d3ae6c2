/* perf/relay_options.c — the relay benchmark's transports by name, its
 * defaults (a quick run for the test suite, a full one for `ark perf`) and
 * the bounds every option is checked against before a run forks anything. */
#include "perf/relay.h"
#include "perf/relay_internal.h"

#include "common/common.h"
#include "event/event.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "ring/ring.h"
#include "shm/shm.h"

#include <errno.h>
#include <string.h>

const char *const relay_transport_names[ARK_PERF_RELAY_TRANSPORTS] = {
	"rings", "pipes", "unix", "redis", "redis_count1", "redis_pipelined"};

int ark_perf_relay_parse_transports(const char *text, uint32_t *mask, struct ark_err *err)
{
	uint32_t m = 0;
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, ",");
		int found = -1;
		if (n == 3 && strncmp(p, "all", 3) == 0)
			m |= ARK_PERF_RELAY_ALL, found = 0;
		for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS && found < 0; t++)
			if (strlen(relay_transport_names[t]) == n && strncmp(p, relay_transport_names[t], n) == 0)
				m |= 1u << t, found = t;
		if (found < 0)
			return ark_err_set(err, -EINVAL,
					   "--transports: unknown transport '%.*s'; expected a comma-separated list of "
					   "rings, pipes, unix, redis, redis_count1, redis_pipelined or all",
					   (int)n, p);
		p += n + (p[n] == ',');
	}
	if (m == 0)
		return ark_err_set(err, -EINVAL, "--transports: empty list");
	*mask = m;
	return 0;
}

int ark_perf_relay_options_init(struct ark_perf_relay_options *o, bool quick, struct ark_err *err)
{
	memset(o, 0, sizeof *o);
	o->transports = ARK_PERF_RELAY_ALL;
	o->runs = quick ? 1 : 3;
	o->duration_ns = quick ? 100 * MS : 500 * MS;
	o->rate_hz = 10000;
	o->latency_events = quick ? 500 : 10000;
	o->low_rate_hz = 1000;
	o->low_rate_events = quick ? 100 : 1000;
	o->ring_capacity = 4096;
	o->batch = 64;
	o->redis_count = 100;
	/* Enough in flight that a full window means a saturated relay (Kyle
	 * then waits as a ring's producer would), never a throttled one. */
	o->redis_window = 16384;
	o->redis_server = "redis-server";
	o->stall_ns = 10 * SEC;
	return ark_ring_wait_from_env(&o->wait, err);
}

int relay_check_options(const struct ark_perf_relay_options *o, struct ark_err *err)
{
	if (o->runs < 1 || o->runs > ARK_PERF_RELAY_MAX_RUNS)
		return ark_err_set(err, -EINVAL, "relay: runs must be 1-%d, not %u", ARK_PERF_RELAY_MAX_RUNS, o->runs);
	if (o->duration_ns < 10 * MS || o->duration_ns > 600 * SEC)
		return ark_err_set(err, -EINVAL, "relay: the throughput run must last 10 ms to 600 s");
	if (o->rate_hz < 1 || o->rate_hz > 10000000)
		return ark_err_set(err, -EINVAL, "relay: rate must be 1 Hz to 10 MHz, not %llu",
				   (unsigned long long)o->rate_hz);
	if (o->latency_events < 10 || o->latency_events > 100000000)
		return ark_err_set(err, -EINVAL, "relay: latency runs need 10 to 1e8 events");
	if (o->low_rate_hz > 10000000 || (o->low_rate_hz && (o->low_rate_events < 10 || o->low_rate_events > 100000000)))
		return ark_err_set(err, -EINVAL, "relay: the low rate must be 0 (off) to 10 MHz, with 10 to 1e8 events");
	if (ark_ring_size(EVENT_SIZE, o->ring_capacity) == 0 || o->ring_capacity > (1u << 20))
		return ark_err_set(err, -EINVAL, "relay: ring capacity must be a power of two up to 1048576, not %u",
				   o->ring_capacity);
	if (o->batch < 1 || o->batch > MAX_BATCH)
		return ark_err_set(err, -EINVAL, "relay: batch must be 1-%d, not %u", MAX_BATCH, o->batch);
	if (o->redis_count < 1 || o->redis_count > MAX_BATCH)
		return ark_err_set(err, -EINVAL, "relay: Redis COUNT must be 1-%d, not %u", MAX_BATCH, o->redis_count);
	if (o->redis_window < o->redis_count || o->redis_window > 1000000)
		return ark_err_set(err, -EINVAL, "relay: the Redis window must be COUNT (%u) to 1000000, not %u",
				   o->redis_count, o->redis_window);
	if (o->cpu_count < 0 || o->cpu_count > STAGES)
		return ark_err_set(err, -EINVAL, "relay: 0 to %d CPUs, not %d", STAGES, o->cpu_count);
	if (o->stall_ns < POLL_NS)
		return ark_err_set(err, -EINVAL, "relay: the stall timeout must be at least 100 ms");
	return 0;
}
