/* feed/server.c — the feed's life cycle: check the configuration, set up
 * io_uring and the listener, run, stop cleanly, report counters.
 *
 * Invariants: a feed that ark_feed_create returned is listening and has a
 * working io_uring; ark_feed_stop leaves no descriptor open, no request in
 * flight, every delivered tick committed to the ring with the consumer
 * woken, and every received line that was not delivered counted. */
#include "feed/internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_config(const struct ark_feed_config *cfg, struct ark_err *err)
{
	if (!cfg->ring == !cfg->on_tick)
		return ark_err_set(err, -EINVAL, "feed: give exactly one output, a ring or a tick callback");
	if (cfg->ring) {
		int rc = ark_ring_validate(cfg->ring, 0, err);
		if (rc)
			return ark_err_wrap(err, "feed: output ring");
		if (cfg->ring->slot_size != sizeof(struct ark_tick))
			return ark_err_set(err, -EINVAL, "feed: output ring has %u-byte slots, expected %zu (struct ark_tick)",
					   cfg->ring->slot_size, sizeof(struct ark_tick));
	}
	if (cfg->max_connections < 1 || cfg->max_connections > ARK_FEED_MAX_CONNECTIONS_LIMIT)
		return ark_err_set(err, -EINVAL, "feed: max_connections %u is out of range 1..%u",
				   cfg->max_connections, ARK_FEED_MAX_CONNECTIONS_LIMIT);
	if (cfg->max_line < ARK_FEED_MIN_LINE || cfg->max_line > ARK_FEED_MAX_LINE_LIMIT)
		return ark_err_set(err, -EINVAL, "feed: max_line %u is out of range %u..%u", cfg->max_line,
				   ARK_FEED_MIN_LINE, ARK_FEED_MAX_LINE_LIMIT);
	if (memchr(cfg->bind, '\0', sizeof cfg->bind) == NULL || cfg->bind[0] == '\0')
		return ark_err_set(err, -EINVAL, "feed: bind address is empty or not terminated");
	return 0;
}

/* io_uring can be missing or forbidden; say which, so the operator knows
 * what to change. */
static int uring_error(int rc, struct ark_err *err)
{
	char disabled[16] = "unknown";
	FILE *fp = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	if (fp) {
		if (fgets(disabled, sizeof disabled, fp))
			disabled[strcspn(disabled, "\n")] = '\0';
		fclose(fp);
	}
	const char *why = "";
	if (rc == -ENOSYS)
		why = "the kernel has no io_uring, or a seccomp filter hides it";
	else if (rc == -EPERM || rc == -EACCES)
		why = "io_uring is forbidden here: sysctl kernel.io_uring_disabled (1 limits it to the "
		      "io_uring_group, 2 disables it) or a seccomp filter (containers often block it)";
	else if (rc == -ENOMEM)
		why = "not enough locked memory for the rings (RLIMIT_MEMLOCK, ulimit -l)";
	else
		why = "io_uring_queue_init failed";
	return ark_err_set(err, rc, "feed: io_uring is unavailable (%s): %s; kernel.io_uring_disabled=%s",
			   strerror(-rc), why, disabled);
}

static int setup_uring(struct ark_feed *f, struct ark_err *err)
{
	/* A request per connection plus the accept and cancels; the kernel
	 * rounds up to a power of two and sizes the completion queue twice
	 * that, so completions cannot overflow. */
	unsigned entries = f->cfg.max_connections + 16;
	if (entries > 4096)
		entries = 4096;
	int rc = io_uring_queue_init(entries, &f->uring, 0);
	if (rc < 0)
		return uring_error(rc, err);
	f->uring_ready = true;
	struct io_uring_probe *probe = io_uring_get_probe_ring(&f->uring);
	bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
		  io_uring_opcode_supported(probe, IORING_OP_RECV) &&
		  io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
	if (probe)
		io_uring_free_probe(probe);
	if (!ok)
		return ark_err_set(err, -ENOSYS,
				   "feed: this kernel's io_uring lacks accept/recv/cancel (needs Linux 5.6 or later)");
	return 0;
}

static int setup_listener(struct ark_feed *f, struct ark_err *err)
{
	char port[8];
	snprintf(port, sizeof port, "%u", f->cfg.port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(f->cfg.bind, port, &hints, &ai);
	if (rc)
		return ark_err_set(err, -EINVAL, "feed: bind address '%s' is not a numeric IPv4/IPv6 address: %s",
				   f->cfg.bind, gai_strerror(rc));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		return ark_err_set(err, rc, "feed: socket: %s", strerror(-rc));
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 512) < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		close(fd);
		return ark_err_set(err, rc, "feed: cannot listen on %s port %u: %s (ARK_FEED_BIND, ARK_FEED_PORT)",
				   f->cfg.bind, f->cfg.port, strerror(-rc));
	}
	freeaddrinfo(ai);
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) {
		rc = -errno;
		close(fd);
		return ark_err_set(err, rc, "feed: getsockname: %s", strerror(-rc));
	}
	f->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
						   : ((struct sockaddr_in *)&addr)->sin_port);
	f->listen_fd = fd;
	return 0;
}

static void free_feed(struct ark_feed *f)
{
	free(f->conns);
	free(f->free_slots);
	free(f->stalled);
	free(f);
}

int ark_feed_create(struct ark_feed **out, const struct ark_feed_config *cfg, struct ark_err *err)
{
	*out = NULL;
	int rc = check_config(cfg, err);
	if (rc)
		return rc;
	struct ark_feed *f = calloc(1, sizeof *f);
	if (!f)
		return ark_err_set(err, -ENOMEM, "feed: out of memory");
	f->cfg = *cfg;
	if (f->cfg.max_per_address == 0 || f->cfg.max_per_address > cfg->max_connections)
		f->cfg.max_per_address = cfg->max_connections;   /* no cap of its own (ark_feed_config_from_env sets one) */
	f->listen_fd = -1;
	f->buf_cap = cfg->max_line + 2 + FEED_RECV_CHUNK;
	feed_log_init(&f->log, &f->cfg, &f->c.log_suppressed);
	uint32_t max = cfg->max_connections;
	f->conns = calloc(max, sizeof *f->conns);
	f->free_slots = calloc(max, sizeof *f->free_slots);
	f->stalled = calloc(max, sizeof *f->stalled);
	if (!f->conns || !f->free_slots || !f->stalled) {
		free_feed(f);
		return ark_err_set(err, -ENOMEM, "feed: out of memory for %u connections", max);
	}
	for (uint32_t i = 0; i < max; i++) {
		f->conns[i].fd = -1;
		f->free_slots[i] = max - 1 - i;  /* slot 0 is taken first */
	}
	f->free_count = max;
	if ((rc = setup_uring(f, err)) || (rc = setup_listener(f, err))) {
		if (f->uring_ready)
			io_uring_queue_exit(&f->uring);
		free_feed(f);
		return rc;
	}
	feed_log_always(&f->log, ARK_FEED_LOG_INFO,
			"listening bind=%s port=%u max_connections=%u per_address=%u max_line=%u line_timeout_ms=%llu "
			"idle_timeout_ms=%llu auth=%s output=%s",
			f->cfg.bind, f->port, max, f->cfg.max_per_address, cfg->max_line,
			(unsigned long long)(cfg->line_timeout_ns / 1000000), (unsigned long long)(cfg->idle_timeout_ns / 1000000),
			cfg->token[0] ? "token" : "none", cfg->ring ? "ring" : "callback");
	*out = f;
	return 0;
}

uint16_t ark_feed_port(const struct ark_feed *f)
{
	return f->port;
}

uint64_t feed_lines_held(const struct feed_conn *c)
{
	uint64_t n = 0;
	const char *p = c->buf + c->off, *end = c->buf + c->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		n++;  /* a complete line, or the half line at the end */
		if (!nl)
			break;
		p = nl + 1;
	}
	return n + (c->discarding && c->len == c->off);
}

void ark_feed_stop(struct ark_feed *f, uint64_t drain_timeout_ns)
{
	if (!f || f->stopped)
		return;
	f->stopping = true;
	if (f->listen_fd >= 0) {
		/* shutdown() stops the listening at once, even while the accept
		 * request still holds the socket. */
		shutdown(f->listen_fd, SHUT_RDWR);
		close(f->listen_fd);
		f->listen_fd = -1;
	}
	/* Deliver what was received and waits for room, within the deadline. */
	uint64_t deadline = ark_now_ns() + drain_timeout_ns;
	while (f->stalled_count && !f->sink_error) {
		feed_resume(f, ark_now_ns());
		uint64_t now = ark_now_ns();
		if (!f->stalled_count || now >= deadline)
			break;
		feed_sink_wait(f, ARK_MIN(deadline - now, 5000000ull));
	}
	feed_sink_commit(f);
	feed_backpressure_account(f, ark_now_ns());
	f->stalled_count = 0;
	if (f->producer_open) {
		ark_ring_producer_close(&f->producer);  /* wakes a sleeping consumer */
		f->producer_open = false;
	}
	if (f->uring_ready) {
		feed_cancel_all(f, 2000000000ull);
		io_uring_queue_exit(&f->uring);
		f->uring_ready = false;
	}
	for (uint32_t i = 0; i < f->cfg.max_connections; i++) {
		struct feed_conn *c = &f->conns[i];
		if (!c->active)
			continue;
		/* A recv the kernel never gave back (it had 2 s): the ring is
		 * gone now, so nothing writes to the buffer any more. */
		c->recv_pending = false;
		shutdown(c->fd, SHUT_RDWR);
		feed_release(f, c, "feed stopping");
	}
	f->open = 0;
	f->stalled_count = 0;
	f->stopped = true;
	feed_log_tick(&f->log, f->log.window_start_ns + FEED_LOG_WINDOW_NS);
	struct ark_feed_counters k;
	ark_feed_counters(f, &k);
	feed_log_always(&f->log, ARK_FEED_LOG_INFO,
			"stopped lines=%llu ticks=%llu bad=%llu abandoned=%llu backpressure_ms=%llu connections=%llu",
			(unsigned long long)k.lines, (unsigned long long)k.ticks, (unsigned long long)k.bad,
			(unsigned long long)k.abandoned_at_stop, (unsigned long long)(k.backpressure_ns / 1000000),
			(unsigned long long)k.connections_accepted);
}

int ark_feed_run(struct ark_feed *f, const _Atomic bool *stop, struct ark_err *err)
{
	int rc = 0;
	while (!atomic_load_explicit(stop, memory_order_acquire)) {
		rc = ark_feed_poll(f, 50000000ull, err);
		if (rc)
			break;
	}
	ark_feed_stop(f, 1000000000ull);
	return rc;
}

void ark_feed_destroy(struct ark_feed *f)
{
	if (!f)
		return;
	ark_feed_stop(f, 0);
	free_feed(f);
}

/* FEED_COUNTERS names every single counter of the snapshot. */
#define FEED_COUNTER_ONE(name) +1
_Static_assert(sizeof(struct ark_feed_counters) ==
		       (0 FEED_COUNTERS(FEED_COUNTER_ONE) + ARK_FEED_REASON_COUNT) * sizeof(uint64_t),
	       "a counter of struct ark_feed_counters is missing from FEED_COUNTERS");
#undef FEED_COUNTER_ONE

void ark_feed_counters(const struct ark_feed *f, struct ark_feed_counters *out)
{
	const struct feed_counters *c = &f->c;
#define LOAD(x) atomic_load_explicit(&c->x, memory_order_relaxed)
#define FEED_COUNTER_COPY(name) out->name = LOAD(name);
	FEED_COUNTERS(FEED_COUNTER_COPY)
#undef FEED_COUNTER_COPY
	for (int r = 0; r < ARK_FEED_REASON_COUNT; r++)
		out->bad_by_reason[r] = LOAD(bad_by_reason[r]);
#undef LOAD
}
