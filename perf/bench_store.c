/* perf/bench_store.c — `ark perf store`: the durable record's throughput and
 * latency against baselines measured in the same run.
 *
 *  - journal appends (records/s, MB/s) for 128- and 256-byte payloads under
 *    each sync mode (interval:10, batch, none), against the strongest plain
 *    alternative: the same framed bytes handed in 1 MiB buffers to a writer
 *    thread that writes them with writev() and fdatasyncs at the same
 *    cadence (group commit: each sync covers everything written before it),
 *    so the appending thread never waits for the disk either — the
 *    journal's design without io_uring — and against the synchronous one
 *    (write() and fdatasync in the appending thread); the headline ratio is
 *    against whichever of the two was stronger in the run;
 *  - the latency of the append call itself, paced, split by whether an
 *    fdatasync was in flight at the time;
 *  - SQLite inserts into the Mutable Core's orders and hrm_denials tables in
 *    batches of 1, 10, 100 and 1000, against autocommit.
 * Every case runs --runs times in a fresh directory under --dir (default
 * $TMPDIR or /tmp) that is removed afterwards; figures are medians. */
#include "common/common.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RUNS 15

struct opts {
	int runs;
	double seconds;
	double sql_seconds;
	double rate;          /* paced appends per second for the latency case */
	uint32_t batch;       /* records per flush in batch mode */
	const char *base;
	bool json;
	bool io_uring;
	bool quick;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int make_dir(const struct opts *o, char *out, size_t cap)
{
	snprintf(out, cap, "%s/ark-perf-store-XXXXXX", o->base);
	if (!mkdtemp(out)) {
		fprintf(stderr, "ark perf store: mkdtemp under %s: %s\n", o->base, strerror(errno));
		return -errno;
	}
	return 0;
}

static void remove_dir(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Drain the page cache's writeback of earlier cases (not timed), so that
 * each case starts from the same state instead of paying for the last. */
static void settle(const struct opts *o)
{
	int fd = open(o->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
}

/* ---------------------------------------------------------------- journal */

struct journal_result {
	double eps, mb_per_s;
	uint64_t records, syncs, stalls;
};

static const char *mode_label(enum ark_journal_sync m)
{
	return m == ARK_JOURNAL_SYNC_INTERVAL ? "interval:10" : m == ARK_JOURNAL_SYNC_BATCH ? "batch" : "none";
}

/* A journal in a fresh directory (dir, PATH_MAX) after the machine has
 * settled, interval syncs every 10 ms: 0, or the error printed and dir gone. */
static int open_journal(const struct opts *o, enum ark_journal_sync mode, char *dir, struct ark_journal **j)
{
	settle(o);
	int rc = make_dir(o, dir, PATH_MAX);
	if (rc)
		return rc;
	struct ark_store_config cfg;
	ark_store_config_defaults(&cfg, dir);
	cfg.sync = mode;
	cfg.sync_interval_ns = 10000000;
	cfg.io_uring = o->io_uring;
	struct ark_err err = {0};
	if ((rc = ark_journal_open(j, &cfg, NULL, &err))) {
		fprintf(stderr, "ark perf store: %s\n", err.msg);
		remove_dir(dir);
	}
	return rc;
}

static int journal_run(const struct opts *o, uint32_t payload, enum ark_journal_sync mode,
		       struct journal_result *res)
{
	char dir[PATH_MAX];
	struct ark_journal *j;
	int rc = open_journal(o, mode, dir, &j);
	if (rc)
		return rc;
	struct ark_err err = {0};
	uint8_t buf[512];
	memset(buf, 0xa5, sizeof buf);
	uint64_t seq = 0, start = ark_now_ns(), until = start + (uint64_t)(o->seconds * 1e9);
	for (;;) {
		for (uint32_t i = 0; i < 1000; i++) {
			seq++;
			memcpy(buf, &seq, sizeof seq);
			if ((rc = ark_journal_append(j, seq, seq ^ 0x1234, buf, payload, &err)))
				goto out;
		}
		/* Aletheia flushes after each batch it takes off its ring */
		if ((rc = ark_journal_flush(j, &err)))
			goto out;
		if (ark_now_ns() >= until)
			break;
	}
	if (mode != ARK_JOURNAL_SYNC_NONE)
		rc = ark_journal_sync(j, &err); /* the run ends when all is durable */
	else
		rc = ark_journal_flush(j, &err);
out:;
	uint64_t elapsed = ark_now_ns() - start;
	struct ark_journal_stats st;
	ark_journal_get_stats(j, &st);
	if (rc)
		fprintf(stderr, "ark perf store: journal: %s\n", err.msg);
	int crc = ark_journal_close(j, &err);
	remove_dir(dir);
	if (rc || crc)
		return rc ? rc : crc;
	res->records = seq;
	res->eps = (double)seq / ((double)elapsed / 1e9);
	res->mb_per_s = (double)st.appended_bytes / ((double)elapsed / 1e9) / 1e6;
	res->syncs = st.syncs_completed;
	res->stalls = st.buffer_full_stalls;
	return 0;
}

/* The baselines write what the journal writes: a 32-byte header (magic,
 * length, seq, trace id, CRC32C) and the payload starting with the seq.
 * Inlined: the timed loops do exactly the work they did before. */
static inline __attribute__((always_inline)) void frame_record(uint8_t *rec, uint64_t seq, uint32_t payload)
{
	uint32_t hdr[8] = {0x524b5241u, payload};
	memcpy(&hdr[2], &seq, 8);
	uint64_t trace = seq ^ 0x1234;
	memcpy(&hdr[4], &trace, 8);
	memcpy(rec + 32, &seq, 8);
	hdr[6] = ark_crc32c(ark_crc32c(0, hdr, 24), rec + 32, payload);
	memcpy(rec, hdr, 32);
}

/* The synchronous baseline: the same framed records (header + CRC32C) built
 * into a 1 MiB buffer, write() when full, fdatasync at the same cadence, in
 * the appending thread (reported beside the asynchronous one). */
static int baseline_run(const struct opts *o, uint32_t payload, enum ark_journal_sync mode,
			struct journal_result *res)
{
	char dir[PATH_MAX];
	settle(o);
	int rc = make_dir(o, dir, sizeof dir);
	if (rc)
		return rc;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/baseline", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		remove_dir(dir);
		return -errno;
	}
	static uint8_t chunk[1 << 20];
	size_t used = 0;
	uint8_t rec[32 + 512];
	memset(rec, 0xa5, sizeof rec);
	uint64_t seq = 0, bytes = 0, syncs = 0, start = ark_now_ns();
	uint64_t until = start + (uint64_t)(o->seconds * 1e9), next_sync = start + 10000000;
	rc = 0;
	for (;;) {
		for (uint32_t i = 0; i < 1000; i++) {
			frame_record(rec, ++seq, payload);
			uint32_t size = 32 + payload;
			if (used + size > sizeof chunk) {
				if (write(fd, chunk, used) != (ssize_t)used) {
					rc = -EIO;
					goto out;
				}
				used = 0;
			}
			memcpy(chunk + used, rec, size);
			used += size;
			bytes += size;
		}
		uint64_t now = ark_now_ns();
		bool sync = mode == ARK_JOURNAL_SYNC_BATCH || (mode == ARK_JOURNAL_SYNC_INTERVAL && now >= next_sync);
		if (sync || mode == ARK_JOURNAL_SYNC_BATCH) {
			if (write(fd, chunk, used) != (ssize_t)used) {
				rc = -EIO;
				goto out;
			}
			used = 0;
		}
		if (sync) {
			fdatasync(fd);
			syncs++;
			next_sync = now + 10000000;
		}
		if (now >= until)
			break;
	}
	if (write(fd, chunk, used) != (ssize_t)used)
		rc = -EIO;
	if (mode != ARK_JOURNAL_SYNC_NONE)
		fdatasync(fd);
out:;
	uint64_t elapsed = ark_now_ns() - start;
	close(fd);
	remove_dir(dir);
	res->records = seq;
	res->eps = (double)seq / ((double)elapsed / 1e9);
	res->mb_per_s = (double)bytes / ((double)elapsed / 1e9) / 1e6;
	res->syncs = syncs;
	res->stalls = 0;
	return rc;
}

/* The asynchronous baseline: buffers go from the appending thread to a
 * writer thread through a small queue; the appender blocks only when every
 * buffer is with the writer (as the journal stalls when its buffer is full). */
#define ASYNC_BUFFERS 16
#define ASYNC_BUFFER_BYTES (1u << 20)

struct async_writer {
	int fd;
	enum ark_journal_sync mode;
	pthread_mutex_t lock;
	pthread_cond_t work, room;
	uint8_t *buf[ASYNC_BUFFERS];
	size_t len[ASYNC_BUFFERS];
	bool sync_after[ASYNC_BUFFERS];   /* batch mode: a batch ends in this buffer */
	uint64_t head, tail;              /* buffers handed over / written */
	bool done, sync_now;              /* the appender finished; a final sync is wanted */
	int error;
	uint64_t syncs, stalls;
};

static void *async_writer_main(void *arg)
{
	struct async_writer *w = arg;
	uint64_t next_sync = ark_now_ns() + 10000000;
	bool dirty = false;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->tail == w->head && !w->done) {
			if (w->mode == ARK_JOURNAL_SYNC_INTERVAL && dirty) {
				/* wait at most until the next sync is due */
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				uint64_t left = next_sync > ark_now_ns() ? next_sync - ark_now_ns() : 0;
				uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + left;
				ts.tv_sec = (time_t)(t / 1000000000ull);
				ts.tv_nsec = (long)(t % 1000000000ull);
				pthread_cond_timedwait(&w->work, &w->lock, &ts);
				if (ark_now_ns() >= next_sync)
					break;
			} else {
				pthread_cond_wait(&w->work, &w->lock);
			}
		}
		uint64_t from = w->tail, to = w->head;
		bool done = w->done;
		bool want_sync = false;
		for (uint64_t i = from; i < to; i++)
			want_sync |= w->sync_after[i % ASYNC_BUFFERS];
		pthread_mutex_unlock(&w->lock);
		/* everything handed over so far, in one writev */
		struct iovec iov[ASYNC_BUFFERS];
		int n = 0;
		size_t total = 0;
		for (uint64_t i = from; i < to; i++, n++) {
			iov[n].iov_base = w->buf[i % ASYNC_BUFFERS];
			iov[n].iov_len = w->len[i % ASYNC_BUFFERS];
			total += iov[n].iov_len;
		}
		int error = 0;
		for (int k = 0; k < n && !error;) {
			ssize_t m = writev(w->fd, iov + k, n - k);
			if (m < 0) {
				if (errno != EINTR)
					error = -errno;
				continue;
			}
			while (k < n && (size_t)m >= iov[k].iov_len)
				m -= (ssize_t)iov[k++].iov_len;
			if (k < n) {
				iov[k].iov_base = (uint8_t *)iov[k].iov_base + m;
				iov[k].iov_len -= (size_t)m;
			}
		}
		dirty |= total > 0;
		uint64_t now = ark_now_ns();
		bool sync = dirty && (want_sync || (w->mode == ARK_JOURNAL_SYNC_INTERVAL && now >= next_sync) ||
				      (done && w->mode != ARK_JOURNAL_SYNC_NONE));
		if (!error && sync) {
			if (fdatasync(w->fd) != 0)
				error = -errno;
			w->syncs++;
			dirty = false;
			next_sync = now + 10000000;
		}
		pthread_mutex_lock(&w->lock);
		if (error && !w->error)
			w->error = error;
		w->tail = to;
		pthread_cond_broadcast(&w->room);
		if (done && w->tail == w->head)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Hand the filled buffer over; returns the next one to fill. */
static uint8_t *async_hand_over(struct async_writer *w, size_t len, bool sync_after)
{
	pthread_mutex_lock(&w->lock);
	uint64_t i = w->head;
	w->len[i % ASYNC_BUFFERS] = len;
	w->sync_after[i % ASYNC_BUFFERS] = sync_after;
	w->head = i + 1;
	pthread_cond_signal(&w->work);
	if (w->head - w->tail >= ASYNC_BUFFERS)
		w->stalls++;
	while (w->head - w->tail >= ASYNC_BUFFERS)
		pthread_cond_wait(&w->room, &w->lock);
	uint8_t *next = w->buf[w->head % ASYNC_BUFFERS];
	pthread_mutex_unlock(&w->lock);
	return next;
}

static int baseline_async_run(const struct opts *o, uint32_t payload, enum ark_journal_sync mode,
			      struct journal_result *res)
{
	char dir[PATH_MAX];
	settle(o);
	int rc = make_dir(o, dir, sizeof dir);
	if (rc)
		return rc;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/baseline", dir);
	static struct async_writer w;
	memset(&w, 0, sizeof w);
	w.mode = mode;
	w.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w.fd < 0) {
		rc = -errno;
		remove_dir(dir);
		return rc;
	}
	static uint8_t *buffers;
	if (!buffers && !(buffers = malloc((size_t)ASYNC_BUFFERS * ASYNC_BUFFER_BYTES))) {
		close(w.fd);
		remove_dir(dir);
		return -ENOMEM;
	}
	for (int i = 0; i < ASYNC_BUFFERS; i++)
		w.buf[i] = buffers + (size_t)i * ASYNC_BUFFER_BYTES;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.work, NULL);
	pthread_cond_init(&w.room, NULL);
	pthread_t thread;
	if (pthread_create(&thread, NULL, async_writer_main, &w) != 0) {
		close(w.fd);
		remove_dir(dir);
		return -EAGAIN;
	}
	uint8_t *chunk = w.buf[0];
	size_t used = 0;
	uint8_t rec[32 + 512];
	memset(rec, 0xa5, sizeof rec);
	uint64_t seq = 0, bytes = 0, start = ark_now_ns();
	uint64_t until = start + (uint64_t)(o->seconds * 1e9);
	for (;;) {
		for (uint32_t i = 0; i < 1000; i++) {
			frame_record(rec, ++seq, payload);
			uint32_t size = 32 + payload;
			if (used + size > ASYNC_BUFFER_BYTES) {
				chunk = async_hand_over(&w, used, false);
				used = 0;
			}
			memcpy(chunk + used, rec, size);
			used += size;
			bytes += size;
		}
		/* a batch boundary (the journal's flush): batch mode syncs it */
		if (mode == ARK_JOURNAL_SYNC_BATCH && used) {
			chunk = async_hand_over(&w, used, true);
			used = 0;
		}
		if (ark_now_ns() >= until)
			break;
	}
	if (used)
		async_hand_over(&w, used, false);
	pthread_mutex_lock(&w.lock);
	w.done = true;
	pthread_cond_signal(&w.work);
	pthread_mutex_unlock(&w.lock);
	pthread_join(thread, NULL);   /* written, and durable unless mode none */
	uint64_t elapsed = ark_now_ns() - start;
	rc = w.error;
	close(w.fd);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.work);
	pthread_cond_destroy(&w.room);
	remove_dir(dir);
	res->records = seq;
	res->eps = (double)seq / ((double)elapsed / 1e9);
	res->mb_per_s = (double)bytes / ((double)elapsed / 1e9) / 1e6;
	res->syncs = w.syncs;
	res->stalls = w.stalls;
	return rc;
}

struct latency_result {
	struct ark_hist all, during_sync;
	double achieved_rate;
	uint64_t stalls;
};

/* Paced appends, each timed with the TSC; interval:10 so syncs are in flight
 * for a good part of the run. */
static int latency_run(const struct opts *o, struct latency_result *res)
{
	char dir[PATH_MAX];
	struct ark_journal *j;
	int rc = open_journal(o, ARK_JOURNAL_SYNC_INTERVAL, dir, &j);
	if (rc)
		return rc;
	struct ark_err err = {0};
	double ns_per_tick = ark_tsc_ns_per_tick();
	uint8_t buf[256];
	memset(buf, 0x5a, sizeof buf);
	uint64_t start = ark_now_ns(), until = start + (uint64_t)(o->seconds * 1e9), seq = 0;
	double interval_ns = 1e9 / o->rate;
	while (rc == 0) {
		uint64_t now = ark_now_ns();
		if (now >= until)
			break;
		uint64_t due = (uint64_t)((double)(now - start) / interval_ns);
		if (due <= seq)
			continue;
		for (uint64_t k = 0; k < 16 && seq < due; k++) {
			seq++;
			bool in_flight = ark_journal_sync_in_flight(j);
			uint64_t t0 = ark_tsc();
			rc = ark_journal_append(j, seq, seq, buf, sizeof buf, &err);
			uint64_t t1 = ark_tsc();
			uint64_t ns = (uint64_t)((double)(t1 - t0) * ns_per_tick);
			ark_hist_record(&res->all, ns);
			if (in_flight || ark_journal_sync_in_flight(j))
				ark_hist_record(&res->during_sync, ns);
			if (rc)
				break;
		}
	}
	uint64_t elapsed = ark_now_ns() - start;
	struct ark_journal_stats st;
	ark_journal_get_stats(j, &st);
	res->stalls = st.buffer_full_stalls;
	res->achieved_rate = (double)seq / ((double)elapsed / 1e9);
	if (rc)
		fprintf(stderr, "ark perf store: latency: %s\n", err.msg);
	ark_journal_close(j, &err);
	remove_dir(dir);
	return rc;
}

/* ----------------------------------------------------------------- SQLite */

enum { SQL_AUTOCOMMIT = 0 };

static int sqlite_run(const struct opts *o, bool denials, uint32_t batch, double *rows_per_s)
{
	char dir[PATH_MAX];
	settle(o);
	int rc = make_dir(o, dir, sizeof dir);
	if (rc)
		return rc;
	struct ark_store_config cfg;
	ark_store_config_defaults(&cfg, dir);
	struct ark_err err = {0};
	struct ark_core *core;
	if ((rc = ark_core_open(&core, &cfg, 0, NULL, &err))) {
		fprintf(stderr, "ark perf store: %s\n", err.msg);
		remove_dir(dir);
		return rc;
	}
	uint32_t n = batch == SQL_AUTOCOMMIT ? 1 : batch;
	struct ark_core_order *orders = calloc(n, sizeof *orders);
	struct ark_core_denial *dens = calloc(n, sizeof *dens);
	sqlite3_stmt *auto_st = NULL;
	if (batch == SQL_AUTOCOMMIT) {
		/* plain SQLite autocommit: each INSERT its own implicit transaction */
		const char *sql = denials
			? "INSERT INTO hrm_denials(trace_id, seq, symbol, rule, reason_code, reason, denied_ns)"
			  " VALUES (?1, ?1, 'AAPL', 'max_order_value', 7, 'order value above limit', ?1)"
			: "INSERT INTO orders(trace_id, seq, symbol, side, qty, limit_price, status, created_ns, updated_ns)"
			  " VALUES (?1, ?1, 'AAPL', 1, 100, 187.5, 'new', ?1, ?1)";
		if (sqlite3_prepare_v2(ark_core_db(core), sql, -1, &auto_st, NULL) != SQLITE_OK)
			rc = -EIO;
	}
	uint64_t trace = 1, rows = 0, start = ark_now_ns(), until = start + (uint64_t)(o->sql_seconds * 1e9);
	while (rc == 0 && ark_now_ns() < until) {
		/* at least ~5 ms of work between clock reads */
		for (uint32_t rep = 0; rep < (batch >= 100 ? 1u : 50u) && rc == 0; rep++) {
			if (auto_st) {
				sqlite3_bind_int64(auto_st, 1, (sqlite3_int64)trace++);
				if (sqlite3_step(auto_st) != SQLITE_DONE)
					rc = -EIO;
				sqlite3_reset(auto_st);
				rows++;
				continue;
			}
			for (uint32_t i = 0; i < n; i++, trace++) {
				if (denials) {
					struct ark_core_denial *d = &dens[i];
					d->trace_id = trace;
					d->seq = trace;
					memcpy(d->symbol, "AAPL", 5);
					memcpy(d->rule, "max_order_value", 16);
					d->reason_code = 7;
					memcpy(d->reason, "order value above limit", 24);
					d->denied_ns = trace;
				} else {
					struct ark_core_order *x = &orders[i];
					x->trace_id = trace;
					x->seq = trace;
					memcpy(x->symbol, "AAPL", 5);
					x->side = ARK_CORE_SIDE_BUY;
					x->qty = 100;
					x->limit_price = 187.5;
					memcpy(x->status, "new", 4);
					x->created_ns = trace;
				}
			}
			rc = denials ? ark_core_insert_denials(core, dens, n, &err)
				     : ark_core_insert_orders(core, orders, n, &err);
			rows += n;
			if (rc == 0)
				ark_core_checkpoint(core, false, NULL); /* the idle-loop call */
		}
	}
	uint64_t elapsed = ark_now_ns() - start;
	if (rc)
		fprintf(stderr, "ark perf store: sqlite: %s\n", err.msg[0] ? err.msg : "insert failed");
	sqlite3_finalize(auto_st);
	free(orders);
	free(dens);
	ark_core_close(core);
	remove_dir(dir);
	*rows_per_s = (double)rows / ((double)elapsed / 1e9);
	return rc;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark perf store [--json] [--quick] [--runs N] [--seconds S] [--rate EPS] [--dir DIR]\n\n"
		"Journal appends (records/s, MB/s) for 128- and 256-byte payloads under each\n"
		"ARK_JOURNAL_SYNC mode against plain write()+fdatasync at the same cadence;\n"
		"append-call latency while fdatasyncs are in flight (paced at --rate, default\n"
		"1000000/s); SQLite inserts into orders and hrm_denials in batches of 1, 10,\n"
		"100, 1000 against autocommit. Medians of --runs (default 3) runs of --seconds\n"
		"(default 1) each; --quick: 1 run of 0.2 s (a smoke test). Files go to a fresh\n"
		"directory under --dir (default $TMPDIR or /tmp), removed afterwards.\n"
		"ARK_IO_URING=0 measures the journal's pwrite fallback instead.\n");
}

#define OPT(member) offsetof(struct opts, member)
static const struct ark_perf_flag flags[] = {
	{"json", 'j', ARK_PERF_FLAG_TRUE, OPT(json), 0, 0},
	{"quick", 'q', ARK_PERF_FLAG_TRUE, OPT(quick), 0, 0},
	{"runs", 'r', ARK_PERF_FLAG_INT, OPT(runs), 1, MAX_RUNS},
	{"seconds", 's', ARK_PERF_FLAG_DOUBLE, OPT(seconds), 0.05, 60},
	{"rate", 'R', ARK_PERF_FLAG_DOUBLE, OPT(rate), 1000, 1e8},
	{"dir", 'd', ARK_PERF_FLAG_STRING, OPT(base), 0, 0},
	{NULL, 0, 0, 0, 0, 0}};

static int parse_options(int argc, char **argv, struct opts *o)
{
	static const struct ark_perf_cli cli = {
		.bench = "store", .shortopts = "jqr:s:R:d:h", .flags = flags, .usage = usage};
	const char *tmp = getenv("TMPDIR");
	/* seconds 0: not given (--seconds is at least 0.05); --quick keeps a
	 * given one; the SQLite cases run half as long */
	*o = (struct opts){.runs = 3, .seconds = 0, .rate = 1e6, .batch = 1000, .base = tmp && *tmp ? tmp : "/tmp"};
	int rc = ark_perf_parse_options(&cli, argc, argv, o);
	if (rc != ARK_PERF_RUN)
		return rc;
	if (o->quick)
		o->runs = 1;
	if (o->seconds == 0)
		o->seconds = o->quick ? 0.2 : 1.0;
	o->sql_seconds = o->seconds / 2;
	struct ark_err err = {0};
	bool env_uring = true;
	if (ark_env_bool("ARK_IO_URING", true, &env_uring, &err)) {
		fprintf(stderr, "ark perf store: %s\n", err.msg);
		return 2;
	}
	o->io_uring = env_uring;
	return ARK_PERF_RUN;
}

static const uint32_t payloads[] = {128, 256};
static const enum ark_journal_sync modes[] = {ARK_JOURNAL_SYNC_INTERVAL, ARK_JOURNAL_SYNC_BATCH,
					      ARK_JOURNAL_SYNC_NONE};
static const uint32_t sql_batches[] = {SQL_AUTOCOMMIT, 1, 10, 100, 1000};

/* Every figure of one `ark perf store`. */
struct figures {
	/* br: the asynchronous baseline (the headline's); sr: the synchronous one */
	struct journal_result jr[2][3], br[2][3], sr[2][3];
	struct latency_result lat;
	double rates[MAX_RUNS];
	uint64_t lat_stalls;
	double sql[2][5];
};

/* The last run's counters with the medians of the rates over the runs. */
static struct journal_result median_run(const struct journal_result *runs, int n)
{
	struct journal_result r = runs[n - 1];
	r.eps = ark_perf_median_member(runs, n, sizeof *runs, offsetof(struct journal_result, eps));
	r.mb_per_s = ark_perf_median_member(runs, n, sizeof *runs, offsetof(struct journal_result, mb_per_s));
	return r;
}

static int run_journal_cases(const struct opts *o, struct figures *f)
{
	int rc = 0;
	for (int p = 0; p < 2 && rc == 0; p++)
		for (int m = 0; m < 3 && rc == 0; m++) {
			struct journal_result r[MAX_RUNS], b[MAX_RUNS], sy[MAX_RUNS];
			for (int k = 0; k < o->runs && rc == 0; k++) {
				/* alternate so drift on a shared machine hits all three */
				if ((rc = journal_run(o, payloads[p], modes[m], &r[k])))
					break;
				if ((rc = baseline_async_run(o, payloads[p], modes[m], &b[k])))
					break;
				rc = baseline_run(o, payloads[p], modes[m], &sy[k]);
			}
			if (rc)
				break;
			f->jr[p][m] = median_run(r, o->runs);
			f->br[p][m] = median_run(b, o->runs);
			f->sr[p][m] = median_run(sy, o->runs);
		}
	return rc;
}

static int run_latency(const struct opts *o, struct figures *f)
{
	int rc = 0;
	memset(&f->lat, 0, sizeof f->lat);
	ark_hist_reset(&f->lat.all);
	ark_hist_reset(&f->lat.during_sync);
	for (int k = 0; k < o->runs && rc == 0; k++) {
		rc = latency_run(o, &f->lat);
		f->rates[k] = f->lat.achieved_rate;
		f->lat_stalls += f->lat.stalls;
	}
	return rc;
}

static int run_sqlite(const struct opts *o, struct figures *f)
{
	int rc = 0;
	for (int t = 0; t < 2 && rc == 0; t++)
		for (int b = 0; b < 5 && rc == 0; b++) {
			double v[MAX_RUNS];
			for (int k = 0; k < o->runs && rc == 0; k++)
				rc = sqlite_run(o, t == 1, sql_batches[b], &v[k]);
			f->sql[t][b] = rc ? 0 : ark_perf_median(v, o->runs);
		}
	return rc;
}

/* p = 1 is 256 bytes; m = 0 interval, 1 batch, 2 none. The headline's
 * baseline is the stronger of the two in this run (on two vCPUs the
 * writer thread's hand-over can cost more than it saves when syncs are
 * cheap or absent). */
static double headline_ratio(const struct figures *f)
{
	return f->jr[1][0].mb_per_s / ARK_MAX(f->br[1][0].mb_per_s, f->sr[1][0].mb_per_s);
}

static uint64_t headline_p99(const struct figures *f)
{
	if (f->lat.during_sync.count == 0)
		return ark_hist_quantile(&f->lat.all, 0.99);
	return ark_hist_quantile(&f->lat.during_sync, 0.99);
}

static void report_table(const struct opts *o, const struct figures *f)
{
	const struct latency_result *lat = &f->lat;
	ark_perf_print_machine(stdout);
	printf("journal (%s), medians of %d x %.2f s\n", o->io_uring ? "io_uring" : "pwrite fallback", o->runs,
	       o->seconds);
	printf("  baselines: async = a writer thread doing writev + fdatasync (group commit); sync = write +\n"
	       "  fdatasync in the appending thread; ratios are the journal's MB/s over each; the headline's\n"
	       "  journal_vs_write_ratio (interval:10, 256 B) is over the stronger: %.2f\n", headline_ratio(f));
	printf("  %-7s %-12s %14s %10s %14s %10s %7s %14s %7s\n", "payload", "sync", "journal rec/s", "MB/s",
	       "async rec/s", "MB/s", "ratio", "sync rec/s", "ratio");
	for (int p = 0; p < 2; p++)
		for (int m = 0; m < 3; m++)
			printf("  %-7u %-12s %14.0f %10.1f %14.0f %10.1f %7.2f %14.0f %7.2f\n", payloads[p],
			       mode_label(modes[m]), f->jr[p][m].eps, f->jr[p][m].mb_per_s, f->br[p][m].eps,
			       f->br[p][m].mb_per_s, f->jr[p][m].mb_per_s / f->br[p][m].mb_per_s, f->sr[p][m].eps,
			       f->jr[p][m].mb_per_s / f->sr[p][m].mb_per_s);
	printf("append latency at %.0f/s (256 B, interval:10): p50 %llu ns, p99 %llu ns, p99.9 %llu ns, "
	       "max %llu ns; while a sync was in flight (%llu appends): p99 %llu ns\n",
	       ark_perf_median(f->rates, o->runs), (unsigned long long)ark_hist_quantile(&lat->all, 0.5),
	       (unsigned long long)ark_hist_quantile(&lat->all, 0.99),
	       (unsigned long long)ark_hist_quantile(&lat->all, 0.999), (unsigned long long)lat->all.max,
	       (unsigned long long)lat->during_sync.count, (unsigned long long)headline_p99(f));
	printf("SQLite rows/s   %12s %12s %12s %12s %12s\n", "autocommit", "batch 1", "batch 10",
	       "batch 100", "batch 1000");
	for (int t = 0; t < 2; t++)
		printf("  %-13s %12.0f %12.0f %12.0f %12.0f %12.0f\n", t ? "hrm_denials" : "orders",
		       f->sql[t][0], f->sql[t][1], f->sql[t][2], f->sql[t][3], f->sql[t][4]);
}

static void json_journal_case(struct ark_json *j, int p, int m, const struct figures *f)
{
	const struct journal_result *jr = &f->jr[p][m], *br = &f->br[p][m], *sr = &f->sr[p][m];
	ark_json_object_begin(j, NULL);
	ark_json_uint(j, "payload_bytes", payloads[p]);
	ark_json_string(j, "sync", mode_label(modes[m]));
	ark_json_number(j, "journal_eps", jr->eps);
	ark_json_number(j, "journal_mb_per_s", jr->mb_per_s);
	ark_json_number(j, "journal_vs_write_ratio", jr->mb_per_s / ARK_MAX(br->mb_per_s, sr->mb_per_s));
	ark_json_string(j, "async_write_baseline", "writer thread: writev + fdatasync, group commit");
	ark_json_number(j, "async_write_baseline_eps", br->eps);
	ark_json_number(j, "async_write_baseline_mb_per_s", br->mb_per_s);
	ark_json_number(j, "journal_vs_async_write_ratio", jr->mb_per_s / br->mb_per_s);
	ark_json_number(j, "sync_write_baseline_eps", sr->eps);
	ark_json_number(j, "sync_write_baseline_mb_per_s", sr->mb_per_s);
	ark_json_number(j, "journal_vs_sync_write_ratio", jr->mb_per_s / sr->mb_per_s);
	ark_json_uint(j, "journal_syncs_last_run", jr->syncs);
	ark_json_uint(j, "async_write_baseline_syncs_last_run", br->syncs);
	ark_json_uint(j, "async_write_baseline_buffer_full_stalls_last_run", br->stalls);
	ark_json_uint(j, "sync_write_baseline_syncs_last_run", sr->syncs);
	ark_json_uint(j, "journal_buffer_full_stalls_last_run", jr->stalls);
	ark_json_object_end(j);
}

static void json_latency_and_sqlite(struct ark_json *j, const struct opts *o, const struct figures *f)
{
	const struct latency_result *lat = &f->lat;
	ark_json_object_begin(j, "append_latency");
	ark_json_string(j, "case", "256 B, interval:10, paced");
	ark_json_number(j, "target_rate_eps", o->rate);
	ark_json_number(j, "achieved_rate_eps", ark_perf_median(f->rates, o->runs));
	ark_json_uint(j, "buffer_full_stalls", f->lat_stalls);
	ark_json_uint(j, "appends", lat->all.count);
	ark_json_uint(j, "p50_ns", ark_hist_quantile(&lat->all, 0.5));
	ark_json_uint(j, "p99_ns", ark_hist_quantile(&lat->all, 0.99));
	ark_json_uint(j, "p999_ns", ark_hist_quantile(&lat->all, 0.999));
	ark_json_uint(j, "max_ns", lat->all.max);
	ark_json_uint(j, "during_sync_appends", lat->during_sync.count);
	ark_json_uint(j, "during_sync_p50_ns", ark_hist_quantile(&lat->during_sync, 0.5));
	ark_json_uint(j, "during_sync_p99_ns", ark_hist_quantile(&lat->during_sync, 0.99));
	ark_json_uint(j, "during_sync_p999_ns", ark_hist_quantile(&lat->during_sync, 0.999));
	ark_json_object_end(j);
	ark_json_array_begin(j, "sqlite");
	for (int t = 0; t < 2; t++)
		for (int b = 0; b < 5; b++) {
			ark_json_object_begin(j, NULL);
			ark_json_string(j, "table", t ? "hrm_denials" : "orders");
			if (sql_batches[b] == SQL_AUTOCOMMIT)
				ark_json_string(j, "batch", "autocommit");
			else
				ark_json_uint(j, "batch", sql_batches[b]);
			ark_json_number(j, "rows_per_s", f->sql[t][b]);
			ark_json_number(j, "vs_autocommit_ratio", f->sql[t][b] / f->sql[t][0]);
			ark_json_object_end(j);
		}
	ark_json_array_end(j);
}

static void report_json(const struct opts *o, const struct figures *f)
{
	struct ark_json j;
	ark_json_init(&j, stdout);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "bench", "store");
	ark_json_object_begin(&j, "headline");
	ark_json_number(&j, "journal_256B_interval_eps", f->jr[1][0].eps);
	ark_json_number(&j, "journal_256B_batch_eps", f->jr[1][1].eps);
	/* interval:10, 256 B, against the stronger baseline of the run, and
	 * against each */
	ark_json_number(&j, "journal_vs_write_ratio", headline_ratio(f));
	ark_json_number(&j, "journal_vs_async_write_ratio", f->jr[1][0].mb_per_s / f->br[1][0].mb_per_s);
	ark_json_number(&j, "journal_vs_sync_write_ratio", f->jr[1][0].mb_per_s / f->sr[1][0].mb_per_s);
	ark_json_uint(&j, "journal_append_p99_ns", headline_p99(f));
	ark_json_number(&j, "sqlite_batch1000_rows_per_s", ARK_MIN(f->sql[0][4], f->sql[1][4]));
	ark_json_object_end(&j);
	ark_perf_json_machine(&j);
	ark_json_object_begin(&j, "config");
	ark_json_uint(&j, "runs", (uint64_t)o->runs);
	ark_json_number(&j, "seconds_per_run", o->seconds);
	ark_json_bool(&j, "io_uring", o->io_uring);
	ark_json_uint(&j, "flush_every_records", o->batch);
	ark_json_string(&j, "dir", o->base);
	ark_json_object_end(&j);
	ark_json_array_begin(&j, "journal");
	for (int p = 0; p < 2; p++)
		for (int m = 0; m < 3; m++)
			json_journal_case(&j, p, m, f);
	ark_json_array_end(&j);
	json_latency_and_sqlite(&j, o, f);
	ark_json_object_end(&j);
	ark_json_finish(&j);
}

static int bench_store_main(int argc, char **argv)
{
	struct opts o;
	int rc = parse_options(argc, argv, &o);
	if (rc != ARK_PERF_RUN)
		return rc;
	static struct figures f;
	memset(&f, 0, sizeof f);
	if ((rc = run_journal_cases(&o, &f))) {
		fprintf(stderr, "ark perf store: journal case failed (%s)\n", strerror(-rc));
		return 1;
	}
	if (run_latency(&o, &f)) {
		fprintf(stderr, "ark perf store: latency case failed\n");
		return 1;
	}
	if (run_sqlite(&o, &f)) {
		fprintf(stderr, "ark perf store: SQLite case failed\n");
		return 1;
	}
	if (o.json)
		report_json(&o, &f);
	else
		report_table(&o, &f);
	return 0;
}

ARK_PERF_BENCH(bench_store, "store", "journal appends vs a writer thread's writev+fdatasync, append latency, SQLite batches",
	       bench_store_main)
