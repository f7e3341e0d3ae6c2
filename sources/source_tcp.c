/* sources/source_tcp.c — the TCP line feed (feed/) as a source process: JSON
 * ticks from clients onto its inbound ring to Kyle. When the ring is full
 * the feed stops reading (TCP backpressure), never drops; bad lines are
 * counted by reason and logged (rate-limited) in $ARK_LOG_DIR/source<N>.log,
 * never fatal. The bound port is published in the pipeline header. */
#include "sources/sources.h"
#include "feed/feed.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t tcp_stop;

static void on_term(int sig)
{
	(void)sig;
	tcp_stop = 1;
}

static void feed_log(void *ctx, int level, const char *line)
{
	(void)level;
	ark_log_raw(ctx, line);
}

static void publish_counters(struct ark_pipeline *p, int source, const struct ark_feed *feed)
{
	struct ark_feed_counters c;
	ark_feed_counters(feed, &c);
	struct ark_agent_control *control = &p->sources[source];
	atomic_store_explicit(&control->events, c.ticks, memory_order_relaxed);
	atomic_store_explicit(&control->duplicates, c.bad, memory_order_relaxed);   /* bad lines: see the log */
	atomic_store_explicit(&control->last_seq, c.ticks, memory_order_relaxed);
	atomic_store_explicit(&p->counters.source_published[source], c.ticks, memory_order_relaxed);
}

int ark_source_tcp_run(const char *instance, int source, int port)
{
	struct ark_log *log = ark_source_open_log(source, "ark source tcp", on_term);
	if (!log)
		return 1;
	struct ark_err err = {0};
	int status = 1;
	struct ark_pipeline_map map;
	struct ark_feed *feed = NULL;
	if (ark_pipeline_attach(&map, instance, &err)) {
		ark_log(log, "error", "cannot attach: %s", err.msg);
		goto done;
	}
	struct ark_pipeline *p = map.pipeline;
	struct ark_agent_control *control = &p->sources[source];
	struct ark_feed_config cfg;
	if (source >= p->source_count) {
		ark_err_set(&err, -EINVAL, "the pipeline has %u sources, not %d", p->source_count, source + 1);
		status = 2;
	} else if (ark_process_claim(&map.shm, &control->pid)) {
		ark_log(log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving", (int)getpid());
		status = 0;
		goto detach;
	} else if (ark_feed_config_from_env(&cfg, &err) || ark_ring_wait_from_env(&cfg.ring_wait, &err) ||
		   ark_process_pin("SOURCE", &control->cpu, &err)) {
		status = 2;
	} else {
		if (port >= 0)
			cfg.port = (uint16_t)port;
		cfg.ring = ark_pipeline_source_ring(&map, source);
		cfg.log = feed_log;
		cfg.log_ctx = log;
		if (ark_feed_create(&feed, &cfg, &err))
			status = 2;   /* the address is in use or io_uring is unavailable: retrying won't help */
		else
			status = 0;
	}
	if (status) {
		ark_log(log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark source tcp: %s\n", err.msg);
		goto detach;
	}
	atomic_store(&control->pid, (int32_t)getpid());
	atomic_store(&control->start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	atomic_store(&p->feed_port, ark_feed_port(feed));
	ark_log(log, "info", "listening bind=%s port=%u", cfg.bind, (unsigned)ark_feed_port(feed));
	ark_log_flush(log);
	atomic_store(&control->state, ARK_PROC_RUNNING);
	while (!tcp_stop && !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		atomic_store_explicit(&control->heartbeat_ns, ark_now_ns(), memory_order_relaxed);
		if (ark_feed_poll(feed, 50 * 1000 * 1000, &err) < 0) {
			ark_log(log, "error", "feed failed: %s", err.msg);
			ark_control_add(&control->errors, 1);
			status = 1;
			break;
		}
		publish_counters(p, source, feed);
		ark_log_flush(log);
	}
	/* Deliver what clients already sent, then close. */
	ark_feed_stop(feed, 1000ull * 1000 * 1000);
	publish_counters(p, source, feed);
	struct ark_feed_counters c;
	ark_feed_counters(feed, &c);
	char by_reason[1024] = "";
	size_t used = 0;
	for (int r = 1; r < ARK_FEED_REASON_COUNT && used < sizeof by_reason; r++)
		if (c.bad_by_reason[r])
			used += (size_t)snprintf(by_reason + used, sizeof by_reason - used, "%s%s:%llu", used ? "," : "",
						 ark_feed_reason_name((enum ark_feed_reason)r),
						 (unsigned long long)c.bad_by_reason[r]);
	ark_log(log, "info", "stopped ticks=%llu bad=%llu bad_by_reason=%s connections=%llu abandoned_at_stop=%llu",
		(unsigned long long)c.ticks, (unsigned long long)c.bad, used ? by_reason : "none",
		(unsigned long long)c.connections_accepted, (unsigned long long)c.abandoned_at_stop);
	atomic_store(&p->feed_port, 0);
	atomic_store(&p->counters.source_done[source], 1);
	atomic_store(&control->state, ARK_PROC_EXITED);
	ark_feed_destroy(feed);
detach:
	ark_pipeline_detach(&map);
done:
	ark_log_close(log);
	return status;
}
