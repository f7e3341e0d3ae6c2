/* mirror/mirror.c — `ark mirror`: Aletheia's record into a Redis stream.
 *
 * The mirror reads Aletheia's mirror ring while it keeps up; any seq it did
 * not see there (Aletheia offers the ring only what fits, so a slow or absent
 * mirror misses events) it reads from the journal, so the stream has no gap.
 * XADDs are pipelined on one connection (entry IDs must increase, and one
 * connection keeps them in order), ARK_MIRROR_BATCH per round trip. When
 * Redis fails, the mirror reconnects with back-off (100 ms doubling to 5 s)
 * and asks Redis for the stream's last ID: the seq after it is where it
 * resumes, so what Redis already has is never sent twice and what it lost
 * is sent again. */
#include "mirror/mirror.h"

#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "metrics/metrics.h"
#include "store/store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_NS (100ull * 1000 * 1000)
#define BACKOFF_MAX_NS (5000ull * 1000 * 1000)

static volatile sig_atomic_t stop_signal;

static void on_term(int sig)
{
	(void)sig;
	stop_signal = 1;
}

struct mirror {
	struct ark_mirror_config cfg;
	char url_text[512];
	struct ark_pipeline_map map;
	struct ark_pipeline *p;
	struct ark_ring_consumer in;
	struct ark_log *log;
	char journal_dir[4096];
	struct ark_journal_reader *reader;
	uint64_t reader_next;          /* the seq the reader returns next, 0 if unknown */
	redisContext *redis;
	bool up;
	uint64_t retry_at_ns, backoff_ns;
	uint64_t next_seq;             /* the next seq to mirror */
	uint32_t pending;              /* XADDs written, replies not yet read */
	uint32_t replies_read;         /* of the batch written */
	uint32_t queued;               /* XADDs formatted into out, not yet written */
	char *out;                     /* the batch being formatted, as RESP */
	size_t out_len, out_cap;
	uint64_t *queued_seqs, *pending_seqs;   /* the seq of each XADD, to name a refused one */
	uint64_t topic_last[3];        /* per topic (fills, denials, signals): the last seq Redis has */
	uint64_t sent, duplicates, errors, reconnects, from_journal;
	bool metrics_on;
	struct ark_metrics metrics;
	struct ark_metrics_handle m_lag, m_events, m_duplicates, m_errors, m_reconnects, m_journal;
	struct ark_mirror_entry entry;
	uint64_t last_error_log_ns;
};

static uint64_t journaled_seq(const struct mirror *m)
{
	return m->p ? atomic_load(&m->p->agents[ARK_AGENT_ALETHEIA].last_seq) : UINT64_MAX;
}

static void go_down(struct mirror *m, const char *reason)
{
	char why[160];   /* reason may point into the context freed below */
	snprintf(why, sizeof why, "%s", reason);
	if (m->redis) {
		redisFree(m->redis);
		m->redis = NULL;
	}
	if (m->up)
		ark_log(m->log, "warn", "redis %s: %s; reconnecting (the mirror lags, the pipeline does not notice)",
			m->url_text, why);
	m->up = false;
	m->pending = 0;
	m->queued = 0;
	m->out_len = 0;
	if (m->p)
		atomic_store(&m->p->mirror_attached, 0);
	m->backoff_ns = m->backoff_ns ? (m->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : m->backoff_ns * 2)
				      : BACKOFF_MIN_NS;
	m->retry_at_ns = ark_now_ns() + m->backoff_ns;
}

static redisReply *command(struct mirror *m, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(m->redis, argc, argv, NULL);
	if (!r)
		go_down(m, m->redis && m->redis->errstr[0] ? m->redis->errstr : "connection lost");
	return r;
}

/* The highest seq a stream holds (0 when empty or absent). */
static int stream_last_seq(struct mirror *m, const char *stream, uint64_t *last)
{
	*last = 0;
	const char *argv[] = {"XREVRANGE", stream, "+", "-", "COUNT", "1"};
	redisReply *r = command(m, 6, argv);
	if (!r)
		return -EIO;
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		ark_log(m->log, "error", "redis: XREVRANGE %s: %s", stream, r->str);
		rc = -EPROTO;
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
		   r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING) {
		*last = strtoull(r->element[0]->element[0]->str, NULL, 10);
	}
	freeReplyObject(r);
	return rc;
}

static void try_connect(struct mirror *m)
{
	struct timeval tv = {(time_t)(m->cfg.timeout_ms / 1000), (suseconds_t)(m->cfg.timeout_ms % 1000) * 1000};
	m->redis = m->cfg.url.unix_socket ? redisConnectUnixWithTimeout(m->cfg.url.host, tv)
					  : redisConnectWithTimeout(m->cfg.url.host, m->cfg.url.port, tv);
	if (!m->redis || m->redis->err) {
		char why[160];
		snprintf(why, sizeof why, "cannot connect: %s", m->redis ? m->redis->errstr : "out of memory");
		if (ark_now_ns() - m->last_error_log_ns > 5000000000ull) {
			ark_log(m->log, "warn", "redis %s: %s; retrying with back-off", m->url_text, why);
			m->last_error_log_ns = ark_now_ns();
		}
		go_down(m, why);
		return;
	}
	redisSetTimeout(m->redis, tv);
	redisEnableKeepAlive(m->redis);
	if (m->cfg.url.password[0]) {
		const char *auth[] = {"AUTH", m->cfg.url.user, m->cfg.url.password};
		redisReply *r = m->cfg.url.user[0] ? command(m, 3, auth) : command(m, 2, (const char *[]){"AUTH", m->cfg.url.password});
		if (!r)
			return;
		bool ok = r->type != REDIS_REPLY_ERROR;
		if (!ok)
			ark_log(m->log, "error", "redis %s: AUTH refused: %s", m->url_text, r->str);   /* Redis's words, not the password */
		freeReplyObject(r);
		if (!ok) {
			go_down(m, "authentication failed");
			return;
		}
	}
	if (m->cfg.url.db) {
		char db[16];
		snprintf(db, sizeof db, "%d", m->cfg.url.db);
		redisReply *r = command(m, 2, (const char *[]){"SELECT", db});
		if (!r)
			return;
		bool ok = r->type != REDIS_REPLY_ERROR;
		if (!ok)
			ark_log(m->log, "error", "redis %s: SELECT %s: %s", m->url_text, db, r->str);
		freeReplyObject(r);
		if (!ok) {
			go_down(m, "SELECT failed");
			return;
		}
	}
	/* Resume after the last entry Redis has: per topic, the highest wins
	 * (one connection runs the XADDs in order, so all before it are there). */
	/* Per topic, each stream's own last entry counts: the next seq is after
	 * the lowest, and an event its stream already has is skipped. */
	uint64_t last = UINT64_MAX;
	static const char *const topics[] = {"fills", "denials", "signals"};
	for (int i = 0; i < (m->cfg.per_topic ? 3 : 1); i++) {
		char stream[160];
		if (m->cfg.per_topic)
			snprintf(stream, sizeof stream, "%s:%s", m->cfg.stream, topics[i]);
		else
			snprintf(stream, sizeof stream, "%s", m->cfg.stream);
		uint64_t s;
		if (stream_last_seq(m, stream, &s)) {
			if (m->redis)
				go_down(m, "cannot read the stream's last entry");
			return;
		}
		m->topic_last[i] = s;
		if (s < last)
			last = s;
	}
	uint64_t base = m->p ? m->p->base_seq : 0;
	m->next_seq = (last > base ? last : base) + 1;
	m->up = true;   /* the back-off resets once Redis takes a batch */
	if (m->sent || m->reconnects)
		m->reconnects++;
	if (m->metrics_on)
		ark_metrics_counter_set(m->m_reconnects, m->reconnects);
	if (m->p)
		atomic_store(&m->p->mirror_attached, 1);
	ark_log(m->log, "info", "redis %s: connected; stream %s%s resumes at seq %" PRIu64, m->url_text, m->cfg.stream,
		m->cfg.per_topic ? ":{fills,denials,signals}" : "", m->next_seq);
	ark_log_flush(m->log);
}

/* Read the replies of the XADDs written. */
static int read_replies(struct mirror *m)
{
	while (m->pending) {
		redisReply *r = NULL;
		if (redisGetReply(m->redis, (void **)&r) != REDIS_OK || !r) {
			go_down(m, m->redis->errstr[0] ? m->redis->errstr : "connection lost");
			return -EIO;
		}
		uint64_t seq = m->pending_seqs[m->replies_read++];
		m->pending--;
		if (r->type == REDIS_REPLY_ERROR) {
			if (strstr(r->str, "equal or smaller")) {
				m->duplicates++;   /* mirrored before: Redis refused the resend */
			} else {
				/* e.g. WRONGTYPE (the key is not a stream), NOPERM, OOM. The
				 * XADDs after it in the batch were taken: in one stream this
				 * entry can no longer be placed before them, and is counted
				 * lost; per topic, the resume point comes back to it. */
				m->errors++;
				ark_log(m->log, "error", "redis: XADD of seq %" PRIu64 " refused: %s (errors=%" PRIu64 ")%s", seq,
					r->str, m->errors, m->cfg.per_topic ? "" : "; the entry is lost from the stream");
				freeReplyObject(r);
				go_down(m, "XADD refused");
				return -EPROTO;
			}
		} else {
			m->sent++;
			m->backoff_ns = 0;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* Write the formatted batch. The replies of the batch before it are read
 * first, so Redis works on one batch while the next one is formatted. */
static int ship(struct mirror *m)
{
	if (!m->queued)
		return 0;
	if (read_replies(m))
		return -EIO;
	if (redisAppendFormattedCommand(m->redis, m->out, m->out_len) != REDIS_OK) {
		go_down(m, "out of memory");
		return -ENOMEM;
	}
	int done = 0;
	while (!done)
		if (redisBufferWrite(m->redis, &done) != REDIS_OK) {
			go_down(m, m->redis->errstr[0] ? m->redis->errstr : "write failed");
			return -EIO;
		}
	m->pending = m->queued;
	uint64_t *t = m->pending_seqs;
	m->pending_seqs = m->queued_seqs;
	m->queued_seqs = t;
	m->replies_read = 0;
	m->queued = 0;
	m->out_len = 0;
	return 0;
}

/* Everything formatted is written and acknowledged. */
static int settle(struct mirror *m)
{
	if (ship(m))
		return -EIO;
	return read_replies(m);
}

static int topic_index(const struct ark_event *e)
{
	return e->exec_status == ARK_EXEC_FILLED ? 0 : e->verdict == ARK_VERDICT_DENY ? 1 : 2;
}

static int send_event(struct mirror *m, const struct ark_event *e)
{
	if (m->cfg.per_topic && e->seq <= m->topic_last[topic_index(e)]) {
		m->next_seq = e->seq + 1;   /* its stream has it already */
		return 0;
	}
	ark_mirror_entry_format(&m->cfg, e, &m->entry);
	size_t n = ark_mirror_entry_resp(&m->entry, m->out + m->out_len, m->out_cap - m->out_len);
	if (!n) {
		if (ship(m))
			return -EIO;
		n = ark_mirror_entry_resp(&m->entry, m->out, m->out_cap);
	}
	m->out_len += n;
	m->queued_seqs[m->queued] = e->seq;
	m->next_seq = e->seq + 1;
	if (++m->queued >= m->cfg.batch)
		return ship(m);
	return 0;
}

/* What the ring did not carry, from the journal: seqs next_seq..to. */
static int catch_up(struct mirror *m, uint64_t to)
{
	struct ark_err err = {0};
	if (!m->reader) {
		if (ark_journal_reader_open(&m->reader, m->journal_dir, &err)) {
			ark_log(m->log, "error", "cannot read the journal: %s", err.msg);
			return -EIO;
		}
		m->reader_next = 0;
	}
	if (m->reader_next != m->next_seq) {
		int rc = ark_journal_reader_seek(m->reader, m->next_seq, &err);
		if (rc == -ENOENT) {
			ark_log(m->log, "error", "journal no longer holds seq %" PRIu64 " (retention): those events cannot be mirrored",
				m->next_seq);
		} else if (rc) {
			ark_log(m->log, "error", "journal seek to %" PRIu64 ": %s", m->next_seq, err.msg);
			return -EIO;
		}
		m->reader_next = m->next_seq;
	}
	while (m->up && m->next_seq <= to) {
		struct ark_journal_record rec;
		int rc = ark_journal_reader_next(m->reader, &rec, &err);
		if (rc == -EAGAIN)
			break;
		if (rc) {
			ark_log(m->log, "error", "journal: %s", err.msg);
			return -EIO;
		}
		m->reader_next = rec.seq + 1;
		if (rec.seq < m->next_seq || rec.len != sizeof(struct ark_event))
			continue;
		struct ark_event e;
		memcpy(&e, rec.payload, sizeof e);
		m->from_journal++;
		if (send_event(m, &e))
			return -EIO;
	}
	return 0;
}

static void publish_metrics(struct mirror *m)
{
	if (!m->metrics_on || !m->p)
		return;
	uint64_t journaled = journaled_seq(m);
	ark_metrics_gauge_set(m->m_lag, journaled >= m->next_seq ? (double)(journaled - m->next_seq + 1) : 0);
	ark_metrics_counter_set(m->m_events, m->sent);
	ark_metrics_counter_set(m->m_duplicates, m->duplicates);
	ark_metrics_counter_set(m->m_errors, m->errors);
	ark_metrics_counter_set(m->m_journal, m->from_journal);
}

static void register_metrics(struct mirror *m)
{
	struct ark_err err = {0};
	m->metrics_on =
		ark_pipeline_metrics(&m->map, &m->metrics, &err) == 0 &&
		ark_metrics_gauge(&m->metrics, "mirror_lag_events", "Events journaled but not yet in the Redis stream", NULL,
				  &m->m_lag, &err) == 0 &&
		ark_metrics_counter(&m->metrics, "mirror_events_total", "Events added to the Redis stream", NULL, &m->m_events,
				    &err) == 0 &&
		ark_metrics_counter(&m->metrics, "mirror_duplicates_total",
				    "Resends Redis refused because the entry was already there", NULL, &m->m_duplicates,
				    &err) == 0 &&
		ark_metrics_counter(&m->metrics, "mirror_errors_total", "XADDs Redis refused for another reason", NULL,
				    &m->m_errors, &err) == 0 &&
		ark_metrics_counter(&m->metrics, "mirror_reconnects_total", "Reconnections to Redis", NULL, &m->m_reconnects,
				    &err) == 0 &&
		ark_metrics_counter(&m->metrics, "mirror_journal_reads_total",
				    "Events mirrored from the journal because the ring did not carry them", NULL,
				    &m->m_journal, &err) == 0;
	if (!m->metrics_on)
		ark_log(m->log, "warn", "mirror metrics off: %s", err.msg);
}

/* The batch buffer (RESP text) and the seq of each XADD in it, sized by
 * ARK_MIRROR_BATCH; -ENOMEM when they cannot be had. */
static int alloc_batch(struct mirror *m)
{
	m->out_cap = (size_t)m->cfg.batch * 1024 + 4096;
	m->out = malloc(m->out_cap);
	m->queued_seqs = calloc(m->cfg.batch + 1, sizeof *m->queued_seqs);
	m->pending_seqs = calloc(m->cfg.batch + 1, sizeof *m->pending_seqs);
	return m->out && m->queued_seqs && m->pending_seqs ? 0 : -ENOMEM;
}

static void free_batch(struct mirror *m)
{
	free(m->out);
	free(m->queued_seqs);
	free(m->pending_seqs);
}

/* The journal reader and the Redis connection, closed. */
static void disconnect(struct mirror *m)
{
	if (m->reader)
		ark_journal_reader_close(m->reader);
	if (m->redis)
		redisFree(m->redis);
}

/* One turn while Redis is up: what the ring offers, in seq order, a gap
 * before it read from the journal; then the journal up to what Aletheia has
 * written when the ring has nothing (or at the stop); then the replies. */
static void mirror_turn(struct mirror *m, bool stopping)
{
	uint32_t n = 0;
	int rc = ark_ring_peek(&m->in, m->cfg.batch, 20 * 1000 * 1000, &n);
	for (uint32_t i = 0; rc == 0 && i < n && m->up; i++) {
		const struct ark_event *e = ark_ring_event(&m->in, i);
		if (e->seq < m->next_seq)
			continue;
		if (e->seq > m->next_seq && catch_up(m, e->seq - 1))
			break;
		if (m->up && e->seq == m->next_seq)
			send_event(m, e);
	}
	if (rc == 0)
		ark_ring_release(&m->in, n);   /* what Redis misses now, the journal has */
	uint64_t journaled = journaled_seq(m);
	if (m->up && (rc != 0 || stopping) && journaled >= m->next_seq)
		catch_up(m, journaled);
	if (m->up)
		settle(m);
}

/* Mirror until the stop, then until everything journaled is in Redis
 * (bounded: 10 s after the stop). */
static void follow(struct mirror *m)
{
	uint64_t last_flush = 0, stop_deadline = 0;
	for (;;) {
		uint64_t now = ark_now_ns();
		bool stopping = stop_signal || atomic_load(&m->p->stop);
		if (stopping && !stop_deadline)
			stop_deadline = now + 10ull * 1000 * 1000 * 1000;   /* finish what is journaled, bounded */
		if (!m->up && now >= m->retry_at_ns)
			try_connect(m);
		if (m->up) {
			mirror_turn(m, stopping);
		} else {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (now - last_flush >= 100ull * 1000 * 1000) {
			publish_metrics(m);
			ark_log_flush(m->log);
			last_flush = now;
		}
		if (stopping && ((m->up && m->next_seq > journaled_seq(m) && m->pending == 0 && m->queued == 0) ||
				 now > stop_deadline))
			break;
	}
}

/* Attached: claim the mirror's slot, open Aletheia's mirror ring, follow it.
 * The exit status: 0, or 1 when the ring would not open. */
static int run_attached(struct mirror *m)
{
	struct ark_err err = {0};
	m->p = m->map.pipeline;
	if (ark_process_claim(&m->map.shm, &m->p->mirror_pid)) {
		ark_log(m->log, "warn", "the watchdog that started pid %d is gone and never recorded it: leaving", (int)getpid());
		return 0;
	}
	struct ark_ring_wait_config wait = {ARK_WAIT_BLOCK, 0, 0};
	if (ark_ring_consumer_open(&m->in, ark_pipeline_output_ring(&m->map, ARK_AGENT_ALETHEIA), &wait, &err)) {
		ark_log(m->log, "error", "cannot open the mirror ring: %s", err.msg);
		return 1;
	}
	atomic_store(&m->p->mirror_start_ticks, ark_shm_process_start_ticks((int32_t)getpid()));
	atomic_store(&m->p->mirror_pid, (int32_t)getpid());
	register_metrics(m);
	ark_log(m->log, "info", "starting pid=%d redis=%s stream=%s per_topic=%d maxlen=%" PRIu64 " batch=%u", (int)getpid(),
		m->url_text, m->cfg.stream, m->cfg.per_topic, m->cfg.maxlen, m->cfg.batch);
	ark_log_flush(m->log);
	follow(m);
	publish_metrics(m);
	if (m->next_seq <= journaled_seq(m))
		ark_log(m->log, "warn", "stopping %" PRIu64 " events behind (Redis unreachable); the next mirror catches up from the journal",
			journaled_seq(m) - m->next_seq + 1);
	ark_log(m->log, "info", "stopped mirrored=%" PRIu64 " from_journal=%" PRIu64 " duplicates_refused=%" PRIu64
			       " errors=%" PRIu64 " reconnects=%" PRIu64,
		m->sent, m->from_journal, m->duplicates, m->errors, m->reconnects);
	atomic_store(&m->p->mirror_attached, 0);
	atomic_store(&m->p->mirror_pid, 0);
	ark_ring_consumer_close(&m->in);
	return 0;
}

int ark_mirror_run(const char *instance)
{
	ark_process_signals(on_term);
	struct ark_err err = {0};
	static struct mirror m;
	memset(&m, 0, sizeof m);
	m.log = ark_log_open("mirror", &err);
	if (!m.log) {
		fprintf(stderr, "ark mirror: %s\n", err.msg);
		return 1;
	}
	int status = 2;
	struct ark_store_config store;
	if (ark_mirror_config_from_env(&m.cfg, &err) || ark_store_config_from_env(&store, &err)) {
		ark_log(m.log, "error", "configuration: %s", err.msg);
		fprintf(stderr, "ark mirror: %s\n", err.msg);
	} else if (!m.cfg.enabled) {
		ark_log(m.log, "info", "REDIS_URL is not set: the Redis mirror is off");
		status = 0;
	} else {
		ark_redis_url_describe(&m.cfg.url, m.url_text, sizeof m.url_text);
		snprintf(m.journal_dir, sizeof m.journal_dir, "%s", store.journal_dir);
		status = 1;
		if (alloc_batch(&m)) {
			ark_log(m.log, "error", "out of memory for the batch buffer");
		} else if (ark_pipeline_attach(&m.map, instance, &err)) {
			ark_log(m.log, "error", "cannot attach: %s", err.msg);
			fprintf(stderr, "ark mirror: %s\n", err.msg);
		} else {
			status = run_attached(&m);
			disconnect(&m);
			ark_pipeline_detach(&m.map);
		}
	}
	free_batch(&m);
	ark_log_close(m.log);
	return status;
}

int ark_mirror_backfill(const char *journal_dir, struct ark_mirror_backfill_result *result, struct ark_err *err)
{
	memset(result, 0, sizeof *result);
	static struct mirror m;
	memset(&m, 0, sizeof m);
	signal(SIGPIPE, SIG_IGN);
	int rc = ark_mirror_config_from_env(&m.cfg, err);
	if (rc)
		return rc;
	if (!m.cfg.enabled)
		return ark_err_set(err, -EINVAL, "REDIS_URL is not set: nothing to backfill into");
	m.log = ark_log_open("mirror", err);
	if (!m.log)
		return -EIO;
	ark_redis_url_describe(&m.cfg.url, m.url_text, sizeof m.url_text);
	snprintf(m.journal_dir, sizeof m.journal_dir, "%s", journal_dir);
	if (alloc_batch(&m)) {
		rc = ark_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	try_connect(&m);
	if (!m.up) {
		rc = ark_err_set(err, -ECONNREFUSED, "cannot reach Redis at %s (see mirror.log)", m.url_text);
		goto out;
	}
	result->first_seq = m.next_seq;
	uint64_t start = ark_now_ns();
	rc = catch_up(&m, UINT64_MAX);
	if (!rc && m.up)
		rc = settle(&m);
	result->seconds = (double)(ark_now_ns() - start) / 1e9;
	result->entries = m.sent;
	result->refused_duplicates = m.duplicates;
	result->last_seq = m.next_seq - 1;
	if (rc || !m.up)
		rc = ark_err_set(err, rc ? rc : -EIO, "the backfill stopped at seq %" PRIu64 ": Redis failed (see mirror.log)",
				 m.next_seq);
	else
		ark_log(m.log, "info", "backfill from %s: %" PRIu64 " entries up to seq %" PRIu64 " in %.3f s", journal_dir,
			m.sent, result->last_seq, result->seconds);
out:
	disconnect(&m);
	free_batch(&m);
	ark_log_close(m.log);
	return rc;
}
