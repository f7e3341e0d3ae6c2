/* agents/aletheia.c — Aletheia, the record: checks every event's trace,
 * appends it to the journal, and once the journal has it (written to the
 * kernel, so it survives this process) releases it from Kenny's ring,
 * counts it in the latency histograms, queues its orders, fills, positions
 * and denials for the Mutable Core, and offers it on the mirror ring.
 *
 * Aletheia runs in the runtime's batch loop (ark_aletheia_ops): a turn
 * merges the two lanes and appends what is new (aletheia_take); the batch
 * is what the journal has written, and its publication is the release.
 *
 * Invariants: the journal holds every seq exactly once, in order (a
 * re-delivered event at or below the journal's last seq is dropped); an
 * input slot is released only when the journal's written seq covers it; the
 * histograms and counters change in the same undo batch as the release; the
 * Mutable Core is brought up to the journal at start (rows for seqs above
 * its journal_last_applied_seq are replayed from the journal); a Mutable
 * Core that does not belong to this journal (applied from another journal,
 * or ahead of this one) is refused at start, and an event at or below what
 * the core holds is never silently skipped: Aletheia says so and stops
 * (fail closed) until an operator restores or re-bases the database. */
#include "agents/agents_internal.h"
#include "brokers/brokers.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CORE_BATCH_ROWS 1000
#define CORE_BATCH_NS (50ull * 1000 * 1000)

struct core_batch {
	struct ark_core_order orders[CORE_BATCH_ROWS];
	struct ark_core_fill fills[CORE_BATCH_ROWS];
	struct ark_core_position positions[CORE_BATCH_ROWS];
	struct ark_core_denial denials[CORE_BATCH_ROWS];
	size_t n_orders, n_fills, n_positions, n_denials;
	uint64_t last_seq;          /* highest seq whose rows are queued */
	uint64_t first_queued_ns;
};

#define CORE_RING_CAPACITY 16384
#define MERGE_MAX (ARK_PIPELINE_BATCH * 2)

/* The Mutable Core is written by its own thread, fed through an in-process
 * ring: a SQLite commit or checkpoint (milliseconds) never holds up the
 * events behind it. Its rows are rebuilt from the journal after a crash. */
struct core_writer {
	struct aletheia *al;
	bool metrics_on;                    /* the core writer thread is their one writer */
	struct ark_metrics_hist_handle db_write;
	struct ark_metrics_handle db_lag;
	_Atomic uint64_t pushed_seq;        /* highest seq handed to the writer */
	void *ring_memory;
	struct ark_ring *ring;
	struct ark_ring_producer producer;  /* Aletheia's thread */
	pthread_t thread;
	bool started;
	_Atomic int stop;
	_Atomic uint64_t errors;
	_Atomic uint32_t error_seq;         /* bumped with each error */
	pthread_mutex_t error_lock;         /* guards last_error: errors only, never events */
	char last_error[2 * ARK_ERR_MAX];
	uint32_t error_seq_logged;          /* Aletheia's thread */
	_Atomic uint64_t starved;
	uint64_t starved_logged;
	/* Opened by the writer thread, so a restarted Aletheia journals at once
	 * while the database opens, checks itself and catches up. */
	uint64_t catch_up_to;               /* the journal's last seq at start */
	_Atomic int ready;                  /* 1: core open and caught up; -1: it failed */
	_Atomic int mismatch;               /* the failure: the core does not belong to this journal */
	_Atomic int open_error;             /* why it failed (negative errno): a corrupt database is fatal */
	bool ready_logged;
	uint64_t open_ns, catch_up_ns, replayed;
	uint64_t applied_at_ready;           /* core_applied_seq when it became ready (the thread moves the live one on) */
	/* Lines for Aletheia's log from the writer thread (the log has one writer). */
	char notes[8][320];
	const char *note_levels[8];
	uint32_t notes_written, notes_read;  /* under error_lock */
};

struct aletheia {
	struct ark_agent_ctx *ctx;
	/* The venue a network broker's fills are recorded under: the name of
	 * the broker ARK_BROKER names (the registry's; Kenny refuses any other). */
	const char *report_venue;
	struct ark_metrics metrics;
	bool metrics_on;
	struct ark_metrics_hist_handle journal_write;
	struct ark_metrics_handle journal_lag;
	struct ark_store_config cfg;
	struct ark_journal *journal;
	struct ark_trace_indexer *indexer;   /* its own thread: off the ring path */
	struct ark_core *core;
	struct core_batch *batch;
	struct ark_ring_producer mirror;
	bool mirror_open;
	/* The events before Aletheia, in seq order: Kenny's ring, merged with
	 * the canary lane's Kenny's when there is one (see merge_inputs). */
	struct ark_ring_consumer canary_in;
	bool canary_open;
	struct merged_input {
		const struct ark_event *event[MERGE_MAX];
		uint8_t lane[MERGE_MAX];
		uint32_t n;
		uint32_t available[ARK_LANE_COUNT];   /* peeked on each ring */
		bool gap;                              /* the next seq is still in the other lane */
	} in;
	uint64_t gap_since_ns;
	uint64_t gap_logged_ns;
	uint64_t missing_logged_ns;
	bool recovered;             /* the undo log was looked at: batches may be released */
	uint64_t appended_seq;      /* highest seq appended to the journal */
	uint64_t core_applied_seq;  /* highest seq committed to the Mutable Core */
	uint64_t core_redelivered;  /* re-delivered events the core already held (core writer thread) */
	uint64_t append_busy_ns;    /* appending since the last release: that batch's busy time */
	/* The release under way (a batch of the runtime's loop). */
	uint32_t per_lane[ARK_LANE_COUNT];   /* events released from each ring */
	uint64_t top_seq;                    /* its highest seq, */
	int top_lane;                        /* in this lane's ring */
	uint32_t mirrored, mirror_room, breaks;
	struct core_writer writer;
};
static struct aletheia aletheia;   /* one Aletheia per process */

/* All stamps present and in order: Kyle in ≤ Kyle out ≤ Joey in ≤ ... ≤
 * Aletheia out. */
static bool trace_complete(const struct ark_event *e)
{
	uint64_t previous = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		uint64_t in = e->stamp_in_ns[a], out = e->stamp_out_ns[a];
		if (in == 0 || out == 0 || in < previous || out < in)
			return false;
		previous = out;
	}
	return true;
}

static int core_flush(struct aletheia *al, struct ark_err *err)
{
	struct core_batch *b = al->batch;
	if (b->last_seq <= al->core_applied_seq)
		return 0;
	int rc = ark_core_begin(al->core, err);
	if (!rc && b->n_orders)
		rc = ark_core_insert_orders(al->core, b->orders, b->n_orders, err);
	if (!rc && b->n_fills)
		rc = ark_core_insert_fills(al->core, b->fills, b->n_fills, err);
	if (!rc && b->n_positions)
		rc = ark_core_upsert_positions(al->core, b->positions, b->n_positions, err);
	if (!rc && b->n_denials)
		rc = ark_core_insert_denials(al->core, b->denials, b->n_denials, err);
	if (!rc && b->last_seq > al->core_applied_seq)
		rc = ark_core_set_journal_applied_seq(al->core, b->last_seq, err);
	if (!rc)
		rc = ark_core_commit(al->core, err);
	if (rc) {
		ark_core_rollback(al->core);
		return rc;
	}
	if (b->last_seq > al->core_applied_seq)
		al->core_applied_seq = b->last_seq;
	b->n_orders = b->n_fills = b->n_positions = b->n_denials = 0;
	b->first_queued_ns = 0;
	return 0;
}

/* The order row of an event (the order's trace id given: the event's own,
 * or for a broker report the order it is about). */
static void queue_order_row(struct core_batch *b, const struct ark_event *e, uint64_t trace_id,
			    uint64_t now)
{
	struct ark_core_order *o = &b->orders[b->n_orders++];
	memset(o, 0, sizeof *o);
	o->trace_id = trace_id;
	o->seq = e->seq;
	memcpy(o->symbol, e->symbol, sizeof o->symbol);
	o->side = e->side == ARK_SIDE_BUY ? ARK_CORE_SIDE_BUY : ARK_CORE_SIDE_SELL;
	o->qty = e->quantity;
	o->limit_price = e->limit_price;
	snprintf(o->status, sizeof o->status, "%s", ark_exec_status_name((enum ark_exec_status)e->exec_status));
	o->created_ns = now;
}

/* A network broker's execution report (its own seq, in the journal like
 * any event): the order's row (keyed by the order's trace id, the report's
 * client_order_id) takes the broker's status, the fill it adds is a row of
 * its own, and the position Kenny holds after it. An anomaly's report
 * marks the order and adds no fill. */
static void core_queue_report(struct core_batch *b, const struct ark_event *e, const char *venue, uint64_t now)
{
	queue_order_row(b, e, e->client_order_id, now);
	if (e->size > 0 && !(e->flags & ARK_EVENT_BROKER_ANOMALY) && e->exec_status == ARK_EXEC_FILLED) {
		struct ark_core_fill *f = &b->fills[b->n_fills++];
		memset(f, 0, sizeof *f);
		f->trace_id = e->client_order_id;
		f->seq = e->seq;
		f->qty = e->size;
		f->price = e->price;
		snprintf(f->venue, sizeof f->venue, "%s", venue);
		f->filled_ns = now;
		struct ark_core_position *p = &b->positions[b->n_positions++];
		memset(p, 0, sizeof *p);
		memcpy(p->symbol, e->symbol, sizeof p->symbol);
		p->qty = e->position_after;
		p->avg_price = e->price;
		p->realized_pnl = e->realized_pnl_after;
		p->updated_ns = now;
	}
}

/* Queue the Mutable Core rows an event implies. */
static int core_queue(struct aletheia *al, const struct ark_event *e, struct ark_err *err)
{
	struct core_batch *b = al->batch;
	/* After a restart the undo log re-delivers the batch that was in
	 * flight; its events were journaled (at or below the journal's last
	 * seq at this start) and the core may have applied them already. The
	 * start refused a core ahead of this journal, so what it holds up to
	 * there came from this journal: those are counted and skipped. */
	if (e->seq <= al->core_applied_seq && e->seq <= al->writer.catch_up_to) {
		al->core_redelivered++;
		return 0;
	}
	if (e->seq <= al->core_applied_seq)
		/* Never skipped in silence: the core says it holds this seq, yet
		 * it came from the journal to be applied for the first time. The
		 * database is ahead of this journal's record: stop writing (fail
		 * closed). */
		return ark_err_set(err, -ESTALE,
				   "seq %llu is at or below the seq the mutable core says it has applied (%llu): the database "
				   "holds a record this journal does not; nothing more is applied. Restore a backup of this "
				   "journal, or re-base the database (ark backup; ark restore FILE --rebase)",
				   (unsigned long long)e->seq, (unsigned long long)al->core_applied_seq);
	if (b->n_orders == CORE_BATCH_ROWS || b->n_fills == CORE_BATCH_ROWS ||
	    b->n_positions == CORE_BATCH_ROWS || b->n_denials == CORE_BATCH_ROWS) {
		int rc = core_flush(al, err);
		if (rc)
			return rc;
	}
	uint64_t now = ark_realtime_ns();
	if (e->flags & ARK_EVENT_EXEC_REPORT) {
		core_queue_report(b, e, al->report_venue, now);
	} else if (e->side != ARK_SIDE_NONE && e->verdict == ARK_VERDICT_ALLOW) {
		queue_order_row(b, e, e->trace_id, now);
		if (e->exec_status == ARK_EXEC_FILLED) {
			struct ark_core_fill *f = &b->fills[b->n_fills++];
			memset(f, 0, sizeof *f);
			f->trace_id = e->trace_id;
			f->seq = e->seq;
			f->qty = e->filled_quantity;
			f->price = e->fill_price;
			snprintf(f->venue, sizeof f->venue, "paper");
			f->filled_ns = now;
		}
		/* The positions table is the stable book's: a canary lane's Kenny
		 * keeps a book of its own (its fills and orders are recorded). */
		if (e->exec_status == ARK_EXEC_FILLED && !(e->flags & ARK_EVENT_CANARY)) {
			struct ark_core_position *p = &b->positions[b->n_positions++];
			memset(p, 0, sizeof *p);
			memcpy(p->symbol, e->symbol, sizeof p->symbol);
			p->qty = e->position_after;
			p->avg_price = e->fill_price;
			p->realized_pnl = e->realized_pnl_after;
			p->updated_ns = now;
		}
	} else if (e->verdict == ARK_VERDICT_DENY && e->side != ARK_SIDE_NONE) {
		struct ark_core_denial *d = &b->denials[b->n_denials++];
		memset(d, 0, sizeof *d);
		d->trace_id = e->trace_id;
		d->seq = e->seq;
		memcpy(d->symbol, e->symbol, sizeof d->symbol);
		snprintf(d->rule, sizeof d->rule, "%u", e->rule_id);
		d->reason_code = e->reason;
		snprintf(d->reason, sizeof d->reason, "%s", ark_reason_name((enum ark_reason)e->reason));
		d->denied_ns = now;
	}
	b->last_seq = e->seq;
	if (!b->first_queued_ns)
		b->first_queued_ns = ark_now_ns();
	return 0;
}

/* Bring the Mutable Core up to the journal after a crash. */
static int core_catch_up(struct aletheia *al, struct ark_err *err)
{
	uint64_t journal_last = al->writer.catch_up_to;
	if (al->core_applied_seq >= journal_last)
		return 0;
	struct ark_journal_reader *reader;
	int rc = ark_journal_reader_open(&reader, al->cfg.journal_dir, err);
	if (rc)
		return rc;
	rc = ark_journal_reader_seek(reader, al->core_applied_seq + 1, err);
	if (rc == -ENOENT)
		rc = 0;   /* older records were retired; apply what is kept */
	uint64_t replayed = 0;
	while (!rc) {
		struct ark_journal_record rec;
		int r = ark_journal_reader_next(reader, &rec, err);
		if (r == -EAGAIN)
			break;
		if (r) {
			rc = r;
			break;
		}
		if (rec.len != sizeof(struct ark_event) || rec.seq <= al->core_applied_seq)
			continue;
		struct ark_event e;
		memcpy(&e, rec.payload, sizeof e);
		rc = core_queue(al, &e, err);
		replayed++;
		if (rec.seq >= journal_last)
			break;
	}
	ark_journal_reader_close(reader);
	if (!rc)
		rc = core_flush(al, err);
	al->writer.replayed = replayed;
	return rc;
}

/* Once per event, into the segment's histograms (undone with an unpublished
 * batch): the metrics server's registry series follow them
 * (ark_metrics_histogram_follow), so nothing is recorded twice. */
static void record_latency(struct ark_agent_ctx *ctx, const struct ark_event *e)
{
	struct ark_aletheia_state *s = ctx->state;
	struct ark_latency_record *lat = &s->latency;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		struct ark_hist *h = &lat->agent[a];
		uint64_t v = e->stamp_out_ns[a] >= e->stamp_in_ns[a] ? e->stamp_out_ns[a] - e->stamp_in_ns[a] : 0;
		ark_undo_save(ctx, &h->totals, sizeof h->totals);
		ark_undo_save(ctx, &h->buckets[ark_hist_bucket_of(v)], sizeof h->buckets[0]);
		ark_hist_record(h, v);
	}
	uint64_t start = e->stamp_in_ns[ARK_AGENT_KYLE], end = e->stamp_out_ns[ARK_AGENT_ALETHEIA];
	uint64_t v = end >= start ? end - start : 0;
	struct ark_hist *h = &lat->end_to_end;
	ark_undo_save(ctx, &h->totals, sizeof h->totals);
	ark_undo_save(ctx, &h->buckets[ark_hist_bucket_of(v)], sizeof h->buckets[0]);
	ark_hist_record(h, v);
}

static void core_error(struct core_writer *w, const char *what, const struct ark_err *err)
{
	pthread_mutex_lock(&w->error_lock);
	snprintf(w->last_error, sizeof w->last_error, "%s: %s", what, err->msg);
	pthread_mutex_unlock(&w->error_lock);
	atomic_fetch_add_explicit(&w->errors, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->error_seq, 1, memory_order_release);
}

static void core_note(struct core_writer *w, const char *level, const char *message)
{
	pthread_mutex_lock(&w->error_lock);
	if (w->notes_written - w->notes_read < 8) {
		uint32_t i = w->notes_written++ % 8;
		snprintf(w->notes[i], sizeof w->notes[i], "%s", message);
		w->note_levels[i] = level;
	}
	pthread_mutex_unlock(&w->error_lock);
}

static void core_store_log(void *ctx, int level, const char *message)
{
	core_note(ctx, level == 0 ? "info" : level == 1 ? "warn" : "error", message);
}

/* Open the Mutable Core and bring it up to the journal (the writer thread). */
static int core_open(struct core_writer *w, struct ark_err *err)
{
	struct aletheia *al = w->al;
	struct ark_store_config cfg = al->cfg;
	cfg.log = core_store_log;
	cfg.log_ctx = w;
	uint64_t t0 = ark_now_ns();
	struct ark_core_open_info info;
	int rc = ark_core_open(&al->core, &cfg, 0, &info, err);
	if (rc)
		return ark_err_wrap(err, "mutable core");
	/* The approved rules hash is not Aletheia's to write: the supervisor
	 * held the rules to it at the start (ark_pipeline_rules_pin). */
	struct ark_err meta_err;
	if (ark_core_journal_applied_seq(al->core, &al->core_applied_seq, &meta_err))
		al->core_applied_seq = 0;
	/* Does the core belong to this journal? Its recorded journal identity
	 * must be this one's, and what it applied must not be beyond what the
	 * journal records (or its re-based numbering starts after). */
	char journal_id[ARK_JOURNAL_ID_LEN + 1], recorded[80] = "";
	uint64_t base = 0;
	if ((rc = ark_journal_identity(cfg.journal_dir, false, journal_id, err)) ||
	    (rc = ark_journal_base_seq(cfg.journal_dir, &base, err)))
		return ark_err_wrap(err, "the journal's identity");
	if (ark_core_meta_get(al->core, "journal_id", recorded, sizeof recorded, &meta_err) == 0 && recorded[0] &&
	    strcmp(recorded, journal_id) != 0) {
		atomic_store(&w->mismatch, 1);
		return ark_err_set(err, -ESTALE,
				   "the mutable core was applied from journal %.40s, this journal (%s) is %s: its events would "
				   "be numbered into what the database holds. Restore a backup of this journal, or re-base the "
				   "database onto it (ark backup; ark restore FILE --rebase)",
				   recorded, cfg.journal_dir, journal_id);
	}
	uint64_t top = ARK_MAX(w->catch_up_to, base);
	if (al->core_applied_seq > top) {
		atomic_store(&w->mismatch, 1);
		return ark_err_set(err, -ESTALE,
				   "the mutable core has applied up to seq %llu, the journal in %s only records up to seq %llu: "
				   "new events would be numbered into what the database holds and skipped. Restore a backup "
				   "no newer than the journal, or re-base the database onto it (ark backup; ark restore FILE "
				   "--rebase)",
				   (unsigned long long)al->core_applied_seq, cfg.journal_dir, (unsigned long long)top);
	}
	if (!recorded[0] && ark_core_meta_set(al->core, "journal_id", journal_id, &meta_err))
		core_note(w, "warn", "cannot record the journal's identity in the mutable core");
	uint64_t t1 = ark_now_ns();
	rc = core_catch_up(al, err);
	w->open_ns = t1 - t0;
	w->catch_up_ns = ark_now_ns() - t1;
	return rc ? ark_err_wrap(err, "mutable core catch-up from the journal") : 0;
}

static void *core_writer_main(void *arg)
{
	struct core_writer *w = arg;
	struct aletheia *al = w->al;
	struct ark_err err = {0};
	int open_rc = core_open(w, &err);
	if (open_rc) {
		core_error(w, "cannot open the mutable core", &err);
		atomic_store_explicit(&w->open_error, err.code ? err.code : open_rc, memory_order_relaxed);
		atomic_store_explicit(&w->ready, -1, memory_order_release);
		return NULL;
	}
	/* What Aletheia's thread logs of the start: written before `ready`
	 * publishes it, never again (core_applied_seq moves on with each flush
	 * of this thread while the main thread reads the report). */
	w->applied_at_ready = al->core_applied_seq;
	atomic_store_explicit(&w->ready, 1, memory_order_release);
	struct ark_ring_consumer in;
	struct ark_ring_wait_config wait = {ARK_WAIT_BLOCK, 0, 0};
	if (ark_ring_consumer_open(&in, w->ring, &wait, &err)) {
		core_error(w, "core writer", &err);
		atomic_store_explicit(&w->ready, -1, memory_order_release);
		return NULL;
	}
	for (;;) {
		uint32_t n;
		int rc = ark_ring_peek(&in, ARK_PIPELINE_BATCH, 20 * 1000 * 1000, &n);
		if (rc == 0) {
			for (uint32_t i = 0; i < n; i++) {
				int q = core_queue(al, ark_ring_event(&in, i), &err);
				if (q == -ESTALE) {
					/* Fail closed: nothing more is written; Aletheia stops. */
					core_error(w, "mutable core", &err);
					atomic_store(&w->mismatch, 1);
					atomic_store_explicit(&w->ready, -1, memory_order_release);
					ark_ring_consumer_close(&in);
					return NULL;
				}
				if (q)
					core_error(w, "mutable core write failed", &err);
			}
			ark_ring_release(&in, n);
		}
		uint64_t now = ark_now_ns();
		if (al->batch->first_queued_ns && (now - al->batch->first_queued_ns >= CORE_BATCH_NS || rc != 0)) {
			uint64_t t0 = ark_now_ns();
			if (core_flush(al, &err))
				core_error(w, "mutable core batch failed", &err);
			else if (w->metrics_on)
				ark_metrics_histogram_record_ns(w->db_write, ark_now_ns() - t0);
		}
		if (w->metrics_on) {
			uint64_t pushed = atomic_load_explicit(&w->pushed_seq, memory_order_relaxed);
			ark_metrics_gauge_set(w->db_lag, pushed > al->core_applied_seq ? (double)(pushed - al->core_applied_seq) : 0);
		}
		if (rc != 0) {
			if (ark_core_checkpoint(al->core, false, &err) == -EAGAIN)
				atomic_fetch_add_explicit(&w->starved, 1, memory_order_relaxed);
			if (atomic_load_explicit(&w->stop, memory_order_acquire) && ark_ring_try_peek(&in, 1) == 0)
				break;
		}
	}
	if (core_flush(al, &err))
		core_error(w, "mutable core final batch", &err);
	if (al->core_redelivered) {
		char note[160];
		snprintf(note, sizeof note, "mutable core: %llu re-delivered events it already held were not applied twice",
			 (unsigned long long)al->core_redelivered);
		core_note(w, "info", note);
	}
	ark_ring_consumer_close(&in);
	return NULL;
}

static int core_writer_start(struct core_writer *w, struct aletheia *al, struct ark_err *err)
{
	w->al = al;
	pthread_mutex_init(&w->error_lock, NULL);
	size_t bytes = ark_ring_size(sizeof(struct ark_event), CORE_RING_CAPACITY);
	w->ring_memory = aligned_alloc(ARK_RING_BLOCK, (bytes + ARK_RING_BLOCK - 1) / ARK_RING_BLOCK * ARK_RING_BLOCK);
	if (!w->ring_memory)
		return ark_err_set(err, -ENOMEM, "out of memory for the core writer's ring");
	w->ring = w->ring_memory;
	struct ark_ring_wait_config wait = {ARK_WAIT_BLOCK, 0, 0};
	int rc = ark_ring_init(w->ring, bytes, sizeof(struct ark_event), CORE_RING_CAPACITY, 0, err);
	if (!rc)
		rc = ark_ring_producer_open(&w->producer, w->ring, &wait, err);
	if (rc)
		return rc;
	rc = pthread_create(&w->thread, NULL, core_writer_main, w);
	if (rc)
		return ark_err_set(err, -rc, "cannot start the core writer thread: %s", strerror(rc));
	w->started = true;
	return 0;
}

/* Hand an event to the core writer; waits (backpressure) only when it is
 * CORE_RING_CAPACITY events behind. */
static void core_push(struct core_writer *w, const struct ark_event *e)
{
	uint32_t n;
	/* A writer that could not open the core takes nothing more: the
	 * journal holds the events, the next Aletheia catches the core up. */
	while (ark_ring_reserve(&w->producer, 1, 100ull * 1000 * 1000, &n) != 0)
		if (atomic_load_explicit(&w->ready, memory_order_acquire) < 0)
			return;
	memcpy(ark_ring_slot(&w->producer, 0), e, sizeof *e);
	ark_ring_commit(&w->producer, 1);
	atomic_store_explicit(&w->pushed_seq, e->seq, memory_order_relaxed);
}

static void core_writer_stop(struct core_writer *w)
{
	if (!w->started)
		return;
	ark_ring_producer_close(&w->producer);
	atomic_store_explicit(&w->stop, 1, memory_order_release);
	pthread_join(w->thread, NULL);
	w->started = false;
}

/* Report the core writer's troubles in Aletheia's log (its thread owns it). */
static void core_writer_report(struct core_writer *w, struct ark_agent_ctx *ctx)
{
	pthread_mutex_lock(&w->error_lock);
	for (; w->notes_read != w->notes_written; w->notes_read++)
		ark_log(ctx->log, w->note_levels[w->notes_read % 8], "%s", w->notes[w->notes_read % 8]);
	pthread_mutex_unlock(&w->error_lock);
	if (!w->ready_logged && atomic_load_explicit(&w->ready, memory_order_acquire) == 1) {
		w->ready_logged = true;
		ark_log(ctx->log, "info", "mutable core ready applied_seq=%llu caught_up_records=%llu open_ms=%.1f catch_up_ms=%.1f",
			(unsigned long long)w->applied_at_ready, (unsigned long long)w->replayed,
			(double)w->open_ns / 1e6, (double)w->catch_up_ns / 1e6);
	}
	uint32_t seq = atomic_load_explicit(&w->error_seq, memory_order_acquire);
	if (seq != w->error_seq_logged) {
		ark_control_add(&ctx->control->errors, seq - w->error_seq_logged);
		pthread_mutex_lock(&w->error_lock);
		ark_log(ctx->log, "error", "%s (errors=%llu)", w->last_error,
			(unsigned long long)atomic_load(&w->errors));
		pthread_mutex_unlock(&w->error_lock);
		w->error_seq_logged = seq;
	}
	uint64_t starved = atomic_load_explicit(&w->starved, memory_order_relaxed);
	if (starved != w->starved_logged) {
		ark_log(ctx->log, "warn", "mutable core checkpoint starved by a reader times=%llu",
			(unsigned long long)starved);
		w->starved_logged = starved;
	}
}

/* The input, in sequence order. One lane: Kenny's ring as it is. Two lanes:
 * Kyle numbered the events consecutively before it split them, so the next
 * event is the one whose seq follows the last taken, at the head of one ring
 * or the other; when neither head has it, it is still in the other lane and
 * the merge stops there (`gap`) until it arrives. Re-deliveries (seq at or
 * below what was released) are taken where they stand: aletheia_events
 * drops them. The merge is rebuilt from the rings' heads each pass, so what
 * was appended but not yet released comes back in the same order. */
static void merge_inputs(struct aletheia *al)
{
	struct ark_agent_ctx *ctx = al->ctx;
	struct merged_input *m = &al->in;
	uint32_t na = ark_ring_try_peek(&ctx->input, MERGE_MAX);
	m->available[ARK_LANE_STABLE] = na;
	m->available[ARK_LANE_CANARY] = 0;
	m->gap = false;
	if (!al->canary_open) {
		for (uint32_t i = 0; i < na; i++) {
			m->event[i] = ark_ring_event(&ctx->input, i);
			m->lane[i] = ARK_LANE_STABLE;
		}
		m->n = na;
		return;
	}
	uint32_t nb = ark_ring_try_peek(&al->canary_in, MERGE_MAX);
	m->available[ARK_LANE_CANARY] = nb;
	struct ark_aletheia_state *s = ctx->state;
	uint64_t cur = s->last_seq > ctx->pipeline->base_seq ? s->last_seq : ctx->pipeline->base_seq;
	uint32_t i = 0, j = 0, n = 0;
	while (n < MERGE_MAX && (i < na || j < nb)) {
		const struct ark_event *a = i < na ? ark_ring_event(&ctx->input, i) : NULL;
		const struct ark_event *b = j < nb ? ark_ring_event(&al->canary_in, j) : NULL;
		bool take_a;
		if (a && a->seq <= s->last_seq)
			take_a = true;
		else if (b && b->seq <= s->last_seq)
			take_a = false;
		else if (a && a->seq == cur + 1)
			take_a = true;
		else if (b && b->seq == cur + 1)
			take_a = false;
		else if (a && b) {
			/* Both lanes have events and neither is the next: a seq is
			 * missing from both. Never expected; counted as a break by
			 * the stamps, logged, and the lower one taken. */
			take_a = a->seq < b->seq;
			uint64_t t = ark_now_ns();
			if (t - al->missing_logged_ns > 1000ull * 1000 * 1000) {
				al->missing_logged_ns = t;
				ark_log(ctx->log, "error", "merge: seq %llu is in neither lane; going on at %llu",
					(unsigned long long)(cur + 1), (unsigned long long)(take_a ? a->seq : b->seq));
			}
		} else {
			m->gap = true;
			break;
		}
		const struct ark_event *e = take_a ? a : b;
		m->event[n] = e;
		m->lane[n++] = take_a ? ARK_LANE_STABLE : ARK_LANE_CANARY;
		take_a ? i++ : j++;
		if (e->seq > cur)
			cur = e->seq;
	}
	m->n = n;
}

static void count_lane(struct ark_agent_ctx *ctx, const struct ark_event *e)
{
	struct ark_aletheia_state *s = ctx->state;
	int lane = (e->flags & ARK_EVENT_CANARY) ? ARK_LANE_CANARY : ARK_LANE_STABLE;
	s->lane_events[lane]++;
	if (e->side != ARK_SIDE_NONE)
		s->lane_intents[lane]++;
	if (e->verdict == ARK_VERDICT_DENY)
		s->lane_denials[lane]++;
	uint64_t start = e->stamp_in_ns[ARK_AGENT_KYLE], end = e->stamp_out_ns[ARK_AGENT_KENNY];
	uint64_t v = end >= start ? end - start : 0;
	struct ark_hist *h = &s->lane_latency[lane];
	ark_undo_save(ctx, &h->totals, sizeof h->totals);
	ark_undo_save(ctx, &h->buckets[ark_hist_bucket_of(v)], sizeof h->buckets[0]);
	ark_hist_record(h, v);
}

/* How many of the merged events the journal has written (the batch a
 * release may take). */
static uint32_t written_count(struct aletheia *al)
{
	const struct merged_input *m = &al->in;
	uint64_t written = ark_journal_written_seq(al->journal);
	uint32_t k = 0;
	while (k < m->n && m->event[k]->seq <= written)
		k++;
	if (k && al->metrics_on)
		ark_metrics_gauge_set(al->journal_lag, al->appended_seq > written ? (double)(al->appended_seq - written) : 0);
	return k;
}

/* The batch's events, in the undo bracket: stats, rows, mirror, for every
 * merged event the journal has written. */
static void aletheia_events(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	struct aletheia *al = &aletheia;
	struct ark_aletheia_state *s = ctx->state;
	const struct merged_input *m = &al->in;
	uint64_t now = ark_now_ns();
	ark_undo_save(ctx, &s->scalars, sizeof s->scalars);
	al->mirror_room = 0;
	if (al->mirror_open && atomic_load_explicit(&ctx->pipeline->mirror_attached, memory_order_relaxed))
		al->mirror_room = ark_ring_try_reserve(&al->mirror, b->n);
	al->mirrored = al->breaks = 0;
	al->per_lane[ARK_LANE_STABLE] = al->per_lane[ARK_LANE_CANARY] = 0;
	al->top_seq = 0;
	al->top_lane = ARK_LANE_STABLE;
	for (uint32_t i = 0; i < b->n; i++) {
		const struct ark_event *e = m->event[i];
		al->per_lane[m->lane[i]]++;
		if (e->seq > al->top_seq) {
			al->top_seq = e->seq;
			al->top_lane = m->lane[i];
		}
		if (e->seq <= s->last_seq) {
			b->duplicates++;  /* re-delivered after a restart: journaled and counted before */
			continue;
		}
		s->last_seq = e->seq;
		if (!s->first_in_ns)
			s->first_in_ns = e->stamp_in_ns[ARK_AGENT_KYLE];
		s->last_out_ns = e->stamp_out_ns[ARK_AGENT_ALETHEIA];
		if (al->metrics_on)
			ark_metrics_histogram_record_ns(al->journal_write, now > e->stamp_out_ns[ARK_AGENT_ALETHEIA]
										   ? now - e->stamp_out_ns[ARK_AGENT_ALETHEIA]
										   : 0);
		if (trace_complete(e)) {
			s->complete++;
			record_latency(ctx, e);
		} else {
			s->trace_breaks++;
			al->breaks++;
			ark_log(ctx->log, "error", "trace break trace=%016llx seq=%llu", (unsigned long long)e->trace_id,
				(unsigned long long)e->seq);
		}
		count_lane(ctx, e);
		core_push(&al->writer, e);
		if (al->mirrored < al->mirror_room)
			memcpy(ark_ring_slot(&al->mirror, al->mirrored++), e, sizeof *e);
	}
	/* Released, duplicates too (as the journal's count has always been);
	 * the time is the appends' since the last release and this. */
	b->out = b->n;
	b->busy_ns = al->append_busy_ns;
	al->append_busy_ns = 0;
}

/* Aletheia publishes by releasing: the mirror's copies, then the input
 * rings, the one holding the highest seq last (a restart reads "released"
 * as the higher of the two rings' last released seqs). */
static bool aletheia_publish(struct ark_agent_ctx *ctx, struct ark_agent_batch *b, uint64_t end_ns)
{
	struct aletheia *al = &aletheia;
	struct ark_aletheia_state *s = ctx->state;
	(void)end_ns;
	ark_undo_set_commit(ctx, al->top_seq);
	if (al->mirrored)
		ark_ring_commit(&al->mirror, al->mirrored);
	int top_lane = al->top_lane, first = top_lane == ARK_LANE_STABLE ? ARK_LANE_CANARY : ARK_LANE_STABLE;
	int order[2] = {first, top_lane};
	uint32_t *per_lane = al->per_lane;
	if (per_lane[ARK_LANE_STABLE] && per_lane[ARK_LANE_CANARY]) {
		s->two_ring_tail[ARK_LANE_STABLE] = ctx->input.tail + per_lane[ARK_LANE_STABLE];
		s->two_ring_tail[ARK_LANE_CANARY] = al->canary_in.tail + per_lane[ARK_LANE_CANARY];
		atomic_signal_fence(memory_order_seq_cst);
		s->two_ring_pending = 1;
	}
	for (int o = 0; o < 2; o++) {
		int lane = order[o];
		if (per_lane[lane])
			ark_ring_release(lane == ARK_LANE_STABLE ? &ctx->input : &al->canary_in, per_lane[lane]);
	}
	s->two_ring_pending = 0;
	ctx->last_published = s->last_seq;
	ark_control_add(&ctx->pipeline->counters.trace_breaks, al->breaks);
	ark_control_add(&ctx->pipeline->counters.journaled, b->n);
	return true;
}

/* When the whole pipeline stops, Aletheia stops after Kenny: a network
 * broker's execution reports still come through the pipeline while Kenny
 * settles its orders in flight (unless Kenny is gone or silent). */
static bool kenny_stopped(const struct ark_agent_ctx *ctx)
{
	const struct ark_agent_control *kenny = &ctx->pipeline->agents[ARK_AGENT_KENNY];
	if (!atomic_load(&ctx->pipeline->stop) || atomic_load(&kenny->state) != ARK_PROC_RUNNING)
		return true;
	uint64_t beat = atomic_load_explicit(&kenny->heartbeat_ns, memory_order_relaxed), now = ark_now_ns();
	return now > beat + 2000ull * 1000 * 1000;
}

/* The seq of the last event released from Kenny's ring (0 if none). */
static uint64_t last_released_seq(struct ark_ring *ring)
{
	const struct ark_event *e = ark_ring_last_released(ring);
	return e ? e->seq : 0;
}

static void log_from_store(void *ctx, int level, const char *message)
{
	struct ark_log *log = ctx;
	ark_log(log, level == 0 ? "info" : level == 1 ? "warn" : "error", "%s", message);
}

/* The journal's and the Mutable Core's metrics (each with one writer: this
 * thread, or the core writer's). The events' latencies are not among them:
 * Aletheia records those once, into the segment's histograms, and the
 * metrics server's series follow those. */
static void open_metrics(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	al->metrics_on = ark_pipeline_metrics(&ctx->map, &al->metrics, &err) == 0 &&
			 ark_metrics_histogram(&al->metrics, ARK_M_JOURNAL_WRITE_LATENCY, NULL, NULL, &al->journal_write, &err) == 0 &&
			 ark_metrics_gauge(&al->metrics, ARK_M_JOURNAL_LAG, NULL, NULL, &al->journal_lag, &err) == 0;
	al->writer.metrics_on = al->metrics_on &&
				ark_metrics_histogram(&al->metrics, ARK_M_DB_WRITE_LATENCY, NULL, NULL, &al->writer.db_write, &err) == 0 &&
				ark_metrics_gauge(&al->metrics, ARK_M_DB_LAG, NULL, NULL, &al->writer.db_lag, &err) == 0;
	if (!al->metrics_on)
		ark_log(ctx->log, "warn", "journal and core metrics off: %s", err.msg);
}

/* The journal (its tail checked, resumed where the segment says it was
 * written), the trace index, the metrics and the core writer. 0, or the
 * exit status. */
static int open_record(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	struct ark_aletheia_state *s = ctx->state;
	if (ark_store_config_from_env(&al->cfg, &err)) {
		ark_log(ctx->log, "error", "configuration: %s", err.msg);
		return 2;
	}
	al->cfg.log = log_from_store;
	al->cfg.log_ctx = ctx->log;
	const struct ark_broker_ops *broker;
	al->report_venue = ark_broker_find(getenv("ARK_BROKER"), &broker, &err) == 0 ? ark_broker_name(broker) : "";
	memset(&err, 0, sizeof err);
	struct ark_journal_recovery recovery;
	uint64_t t_start = ark_now_ns();
	struct ark_journal_position resume = s->journal_position;
	if (ark_journal_open_at(&al->journal, &al->cfg, &resume, &recovery, &err)) {
		ark_log(ctx->log, "error", "journal: %s", err.msg);
		return 1;
	}
	if (recovery.cut)
		ark_log(ctx->log, "warn", "journal tail cut segment=%s offset=%llu bytes=%llu reason=%s", recovery.segment,
			(unsigned long long)recovery.offset, (unsigned long long)recovery.bytes_cut, recovery.reason);
	uint64_t t_journal = ark_now_ns();
	/* Trace look-ups (the API, ark trace) probe this index instead of
	 * scanning the journal; without it they still work, slowly. */
	if (al->cfg.trace_index && ark_trace_indexer_start(&al->indexer, &al->cfg, &err))
		ark_log(ctx->log, "warn", "trace index off: %s", err.msg);
	al->writer.catch_up_to = ark_journal_last_seq(al->journal);
	open_metrics(al, ctx);
	if (core_writer_start(&al->writer, al, &err)) {
		ark_log(ctx->log, "error", "%s", err.msg);
		return 1;
	}
	ark_log(ctx->log, "info", "journal open journal_last_seq=%llu io_uring=%d sync=%s resumed_at_position=%d journal_open_ms=%.1f",
		(unsigned long long)ark_journal_last_seq(al->journal), (int)ark_journal_using_io_uring(al->journal),
		ark_store_sync_name(al->cfg.sync), (int)recovery.resumed, (double)(t_journal - t_start) / 1e6);
	return 0;
}

/* Kenny's ring (and the canary lane's Kenny's), the mirror's. */
static int open_rings(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	struct ark_ring *in_ring = ark_pipeline_output_ring(&ctx->map, ARK_AGENT_KENNY);
	struct ark_ring *mirror_ring = ark_pipeline_output_ring(&ctx->map, ARK_AGENT_ALETHEIA);
	if (ark_ring_consumer_open(&ctx->input, in_ring, &ctx->wait, &err)) {
		ark_log(ctx->log, "error", "cannot open input ring: %s", err.msg);
		return 1;
	}
	al->mirror_open = ark_ring_producer_open(&al->mirror, mirror_ring, &ctx->wait, &err) == 0;
	struct ark_ring *canary_ring = ark_pipeline_lane_ring(&ctx->map, ARK_LANE_CANARY, ARK_AGENT_KENNY);
	if (ark_pipeline_has_canary(&ctx->map) && canary_ring) {
		if (ark_ring_consumer_open(&al->canary_in, canary_ring, &ctx->wait, &err)) {
			ark_log(ctx->log, "error", "cannot open the canary lane's ring: %s", err.msg);
			return 1;
		}
		al->canary_open = true;
	}
	return 0;
}

/* A restart: finish a batch that died between its two releases (its
 * effects were all made before the first), roll back one that was not
 * released. */
static void recover(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	struct ark_aletheia_state *s = ctx->state;
	if (s->two_ring_pending) {
		struct ark_ring_consumer *rings[ARK_LANE_COUNT] = {&ctx->input, al->canary_open ? &al->canary_in : NULL};
		for (int l = 0; l < ARK_LANE_COUNT; l++)
			if (rings[l] && rings[l]->tail < s->two_ring_tail[l]) {
				ark_log(ctx->log, "warn", "released the %s ring's %llu events of a batch interrupted between its two releases",
					l ? "canary" : "stable", (unsigned long long)(s->two_ring_tail[l] - rings[l]->tail));
				ark_ring_release(rings[l], (uint32_t)(s->two_ring_tail[l] - rings[l]->tail));
			}
		s->two_ring_pending = 0;
	}
	uint64_t released_seq = last_released_seq(ctx->input.ring);
	if (al->canary_open && last_released_seq(al->canary_in.ring) > released_seq)
		released_seq = last_released_seq(al->canary_in.ring);
	if (ark_undo_recover(ctx, released_seq)) {
		ark_control_add(&ctx->control->rollbacks, 1);
		ark_log(ctx->log, "warn", "rolled back an unreleased batch after a restart");
	}
	al->recovered = true;
}

static void aletheia_stop(struct ark_agent_ctx *ctx);

static int aletheia_open(struct ark_agent_ctx *ctx)
{
	struct aletheia *al = &aletheia;
	memset(al, 0, sizeof *al);
	al->ctx = ctx;
	al->batch = calloc(1, sizeof *al->batch);
	if (!al->batch) {
		ark_log(ctx->log, "error", "out of memory");
		return 1;
	}
	int status = open_record(al, ctx);
	if (!status)
		status = open_rings(al, ctx);
	if (status) {
		aletheia_stop(ctx);
		return status;
	}
	recover(al, ctx);
	al->appended_seq = ark_journal_last_seq(al->journal);
	ctx->last_published = al->appended_seq;
	return 0;
}

/* Whether the core writer failed: 0 (it did not), or the exit status. */
static int core_writer_failed(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	if (atomic_load_explicit(&al->writer.ready, memory_order_acquire) >= 0)
		return 0;
	core_writer_report(&al->writer, ctx);
	int open_error = atomic_load_explicit(&al->writer.open_error, memory_order_relaxed);
	if (atomic_load(&al->writer.mismatch)) {
		/* Not retried: the operator restores or re-bases. */
		ark_log(ctx->log, "error", "the mutable core does not belong to this journal: stopping (fail closed)");
		return 2;
	}
	if (open_error == -EUCLEAN || open_error == -EPROTOTYPE || open_error == -EBADMSG) {
		/* A corrupt (or foreign) database stays so: no restart can help,
		 * the instance stops (exit 2) and says why. */
		pthread_mutex_lock(&al->writer.error_lock);
		ark_log(ctx->log, "error", "the mutable core is corrupt: stopping the instance: %s", al->writer.last_error);
		fprintf(stderr, "ark agent aletheia: the Mutable Core is corrupt (restore a backup with "
				"`ark restore FILE`): %s\n", al->writer.last_error);
		pthread_mutex_unlock(&al->writer.error_lock);
		return 2;
	}
	ark_log(ctx->log, "error", "the mutable core could not be opened: stopping");
	return 1;
}

/* Wait for input on either lane: 0 when there is some. */
static int wait_input(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	uint32_t n;
	if (!al->canary_open)
		return ark_ring_peek(&ctx->input, ARK_PIPELINE_BATCH * 2, 5 * 1000 * 1000, &n);
	if (ark_ring_try_peek(&ctx->input, 1) || ark_ring_try_peek(&al->canary_in, 1))
		return 0;
	/* Two rings, one wait: short, on the busier (stable) lane. */
	int rc = ark_ring_peek(&ctx->input, 1, 1000 * 1000, &n);
	return rc && ark_ring_try_peek(&al->canary_in, 1) ? 0 : rc;
}

/* The merge stopped at a gap: the next event is in the other lane, on its
 * way. Said in the log when it lasts. */
static void wait_gap(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	struct ark_aletheia_state *s = ctx->state;
	uint64_t t = ark_now_ns();
	if (!al->gap_since_ns)
		al->gap_since_ns = t;
	if (t - al->gap_since_ns > 5000ull * 1000 * 1000 && t - al->gap_logged_ns > 5000ull * 1000 * 1000) {
		al->gap_logged_ns = t;
		ark_log(ctx->log, "warn", "merge: waiting %.1f s for seq %llu from the other lane",
			(double)(t - al->gap_since_ns) / 1e9, (unsigned long long)(s->last_seq + 1));
	}
	struct timespec ts = {0, 20 * 1000};
	nanosleep(&ts, NULL);
}

/* Append the merged events not appended yet, and hand them to the kernel.
 * 0, or the exit status. */
static int append(struct aletheia *al, struct ark_agent_ctx *ctx)
{
	struct ark_err err = {0};
	uint64_t start = ark_now_ns();
	uint32_t appended = 0;
	for (uint32_t i = 0; i < al->in.n; i++) {
		/* Aletheia is the rings' only reader: stamping the slot in place
		 * is safe and saves a copy. */
		struct ark_event *e = (struct ark_event *)al->in.event[i];
		if (e->seq <= al->appended_seq)
			continue;   /* appended already, waiting to be written */
		e->stamp_in_ns[ARK_AGENT_ALETHEIA] = start;
		e->stamp_out_ns[ARK_AGENT_ALETHEIA] = ark_now_ns();
		if (ark_journal_append(al->journal, e->seq, e->trace_id, e, sizeof *e, &err)) {
			ark_control_add(&ctx->control->errors, 1);
			ark_log(ctx->log, "error", "journal append failed, stopping: %s", err.msg);
			return 1;
		}
		al->appended_seq = e->seq;
		appended++;
	}
	if (appended && ark_journal_flush(al->journal, &err)) {
		ark_log(ctx->log, "error", "journal flush failed, stopping: %s", err.msg);
		return 1;
	}
	al->append_busy_ns += ark_now_ns() - start;
	return 0;
}

/* A turn: merge both lanes, append what is new, reap the journal's
 * writes; the batch is what the journal has written. Events still being
 * written make the turn "pending": Aletheia sleeps on the write's
 * completion rather than spin against the io_uring worker. */
static int aletheia_take(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	struct aletheia *al = &aletheia;
	struct ark_aletheia_state *s = ctx->state;
	struct ark_err err = {0};
	int status = core_writer_failed(al, ctx);
	if (status)
		return status;
	int rc = wait_input(al, ctx);
	uint32_t n = 0;
	if (rc == 0) {
		merge_inputs(al);
		n = al->in.n;
		if (al->in.gap && !n)
			wait_gap(al, ctx);
		else
			al->gap_since_ns = 0;
	}
	if (n && (status = append(al, ctx)) != 0)
		return status;
	if (ark_journal_poll(al->journal, &err)) {
		ark_log(ctx->log, "error", "journal write failed, stopping: %s", err.msg);
		return 1;
	}
	/* In the segment, it outlives this process: a replacement scans only
	 * what was written after it. */
	ark_journal_written_position(al->journal, &s->journal_position);
	b->input = NULL;   /* released by aletheia_publish */
	b->pending = rc == 0;
	b->n = n ? written_count(al) : 0;
	if (n && !b->n)
		ark_journal_wait(al->journal, 1000 * 1000);
	return 0;
}

/* Nothing to reserve: the mirror takes what room it has (aletheia_events). */
static int aletheia_reserve(struct ark_agent_ctx *ctx, struct ark_agent_batch *b)
{
	(void)ctx, (void)b;
	return 0;
}

static void aletheia_idle(struct ark_agent_ctx *ctx, uint64_t now_ns)
{
	(void)now_ns;
	core_writer_report(&aletheia.writer, ctx);
}

/* Kenny first: its last events (a broker's reports among them) are then on
 * the ring. */
static bool aletheia_drained(struct ark_agent_ctx *ctx)
{
	struct aletheia *al = &aletheia;
	return kenny_stopped(ctx) && ark_ring_try_peek(&ctx->input, 1) == 0 &&
	       (!al->canary_open || ark_ring_try_peek(&al->canary_in, 1) == 0);
}

/* Stopping (or a start that failed part way): everything appended is made
 * durable and released, then the core writer, the index and the journal
 * are closed. */
static void aletheia_stop(struct ark_agent_ctx *ctx)
{
	struct aletheia *al = &aletheia;
	struct ark_err err = {0};
	if (al->journal) {
		if (ark_journal_sync(al->journal, &err))
			ark_log(ctx->log, "error", "journal sync at stop: %s", err.msg);
		if (ctx->input.ring && al->recovered) {
			merge_inputs(al);
			struct ark_agent_batch b = {.n = written_count(al)};
			if (b.n)
				ark_agent_batch_run(ctx, &b);
		}
	}
	core_writer_stop(&al->writer);
	core_writer_report(&al->writer, ctx);
	if (al->core)
		ark_core_close(al->core);
	ark_trace_indexer_stop(al->indexer);
	free(al->writer.ring_memory);
	if (al->journal && ark_journal_close(al->journal, &err))
		ark_log(ctx->log, "error", "journal close: %s", err.msg);
	if (al->mirror_open)
		ark_ring_producer_close(&al->mirror);
	if (al->canary_open)
		ark_ring_consumer_close(&al->canary_in);
	if (ctx->input.ring) {
		ark_ring_consumer_close(&ctx->input);
		memset(&ctx->input, 0, sizeof ctx->input);
	}
	atomic_store(&ctx->control->last_seq, ((struct ark_aletheia_state *)ctx->state)->last_seq);
	free(al->batch);
	al->batch = NULL;
}

const struct ark_agent_ops ark_aletheia_ops = {
	.open = aletheia_open,
	.take = aletheia_take,
	.reserve = aletheia_reserve,
	.events = aletheia_events,
	.publish = aletheia_publish,
	.idle = aletheia_idle,
	.drained = aletheia_drained,
	.stop = aletheia_stop,
};
