/* store/journal.c — the journal writer: append into a buffer of chunks, hand
 * batches to the kernel (io_uring or the fallback), group-commit fdatasyncs
 * per ARK_JOURNAL_SYNC, roll segments, retention.
 *
 * Invariants:
 *  - at most one write and one sync (chain) are in flight, so a sync linked
 *    after write k, or issued after write k completed, covers every byte up
 *    to the end of write k: durable_seq is exact, never optimistic;
 *  - a chunk is reused only after the kernel has all its bytes;
 *  - a segment receives writes only after every older segment is sealed
 *    (fdatasync completed), so only the newest segment can have a torn tail;
 *  - the append path makes no system call except when a chunk is handed over,
 *    a sync is due, a segment rolls, or the buffer is full. */
#include "store/journal_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TAG_WRITE = 1, TAG_SYNC = 2, TAG_DIRSYNC = 3 };

#define TICK_EVERY_APPENDS 16

static struct ark_journal_chunk *chunk_at(struct ark_journal *j, uint64_t ctr)
{
	return &j->chunks[ctr % j->nchunks];
}

static struct ark_journal_seg *seg_slot(struct ark_journal *j, uint32_t i)
{
	return &j->segq[(j->segq_head + i) % ARK_ARRAY_LEN(j->segq)];
}

static int seg_index(struct ark_journal *j, int slot)
{
	return (int)(((uint32_t)slot + ARK_ARRAY_LEN(j->segq) - j->segq_head) % ARK_ARRAY_LEN(j->segq));
}

static struct ark_journal_seg *active_seg(struct ark_journal *j)
{
	return j->segq_count ? seg_slot(j, j->segq_count - 1) : NULL;
}

static int active_slot(struct ark_journal *j)
{
	return (int)((j->segq_head + j->segq_count - 1) % ARK_ARRAY_LEN(j->segq));
}

static int fail(struct ark_journal *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ark_journal *j, int code, const char *fmt, ...)
{
	if (!j->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(j->failed_msg, sizeof j->failed_msg, fmt, ap);
		va_end(ap);
		j->failed = code;
		ark_store_log(&j->cfg, 2, "journal stopped: %s", j->failed_msg);
	}
	return j->failed;
}

static int failed_err(struct ark_journal *j, struct ark_err *err)
{
	return ark_err_set(err, j->failed, "journal: %s (appends refused; reopen to recover)",
			   j->failed_msg);
}

static void sealed_push(struct ark_journal *j, const struct ark_journal_seg *s, uint64_t mtime_ns)
{
	if (j->sealed_count == j->sealed_cap) {
		size_t cap = j->sealed_cap ? j->sealed_cap * 2 : 64;
		void *p = realloc(j->sealed, cap * sizeof *j->sealed);
		if (!p)
			return; /* retention just will not see it; never fatal */
		j->sealed = p;
		j->sealed_cap = cap;
	}
	struct ark_journal_sealed *e = &j->sealed[j->sealed_count++];
	snprintf(e->name, sizeof e->name, "%s", s->name);
	e->first_seq = s->first_seq;
	e->bytes = s->size;
	e->mtime_ns = mtime_ns;
	j->sealed_bytes += s->size;
}

/* ---- completions ---- */

static void release_chunks(struct ark_journal *j)
{
	while (j->head_ctr < j->fill_ctr) {
		struct ark_journal_chunk *c = chunk_at(j, j->head_ctr);
		if (c->completed != c->used)
			break;
		c->used = c->submitted = c->completed = 0;
		j->head_ctr++;
	}
	if (j->write_ctr < j->head_ctr)
		j->write_ctr = j->head_ctr;
}

static void on_write_done(struct ark_journal *j, int32_t res)
{
	assert(j->write_inflight);
	j->write_inflight = false;
	if (res < 0) {
		fail(j, res, "write to segment %s failed: %s",
		     seg_slot(j, 0)->name, strerror(-res));
		return;
	}
	uint64_t left = (uint64_t)res;
	for (uint32_t i = 0; i < j->write_nchunks; i++) {
		struct ark_journal_chunk *c = chunk_at(j, j->write_ctr_start + i);
		uint32_t take = (uint32_t)ARK_MIN(left, (uint64_t)j->write_bytes[i]);
		c->completed += take;
		left -= take;
		if (c->completed < c->submitted) {
			/* Short write (rare: the disk filled up, say). Hand the
			 * rest to the next write; if the disk is full that one
			 * fails and stops the journal. */
			c->submitted = c->completed;
			if (j->write_ctr > j->write_ctr_start + i)
				j->write_ctr = j->write_ctr_start + i;
		}
	}
	if ((uint64_t)res == j->write_total && j->write_last_seq > j->written_seq)
		j->written_seq = j->write_last_seq;
	if ((uint64_t)res == j->write_total && j->write_pos.last_seq)
		j->written_pos = j->write_pos;
	release_chunks(j);
}

/* The oldest open segment has all its bytes with the kernel (and, unless
 * the sync mode is none, on disk): close it and let the next one be written. */
static void pop_sealed(struct ark_journal *j)
{
	struct ark_journal_seg *s = seg_slot(j, 0);
	assert(j->segq_count >= 2);
	close(s->fd);
	s->fd = -1;
	sealed_push(j, s, ark_realtime_ns());
	j->segq_head = (j->segq_head + 1) % ARK_ARRAY_LEN(j->segq);
	j->segq_count--;
}

static void on_sync_done(struct ark_journal *j, uint64_t tag, int32_t res)
{
	assert(j->sync_inflight && j->sync_cqes_pending > 0);
	if (res < 0 && j->sync_result == 0)
		j->sync_result = res;
	(void)tag;
	if (--j->sync_cqes_pending > 0)
		return;
	j->sync_inflight = false;
	struct ark_journal_seg *s = &j->segq[j->sync_seg];
	int rc = j->sync_result;
	j->sync_result = 0;
	if (rc == -ECANCELED) {
		/* its linked write was short: ask again */
		if (j->sync_last_seq > j->need_sync_seq)
			j->need_sync_seq = j->sync_last_seq;
		return;
	}
	if (rc < 0) {
		/* A failed fdatasync leaves the page cache state unknown; going
		 * on would claim durability we do not have. */
		fail(j, rc, "fdatasync of segment %s failed: %s", s->name, strerror(-rc));
		return;
	}
	j->stats.syncs_completed++;
	if (j->sync_with_dir)
		s->dir_synced = true;
	if (j->sync_last_seq > j->durable_seq)
		j->durable_seq = j->sync_last_seq;
	if (j->sync_seals)
		pop_sealed(j);
}

static void reap(struct ark_journal *j, bool wait)
{
	struct ark_jio_done done[ARK_JIO_MAX_DONE];
	int n = ark_jio_reap(&j->io, done, (int)ARK_ARRAY_LEN(done), wait);
	for (int i = 0; i < n; i++) {
		if (done[i].tag == TAG_WRITE)
			on_write_done(j, done[i].res);
		else
			on_sync_done(j, done[i].tag, done[i].res);
	}
}

/* ---- submissions ---- */

static void submit_sync(struct ark_journal *j, uint64_t covers_seq, bool seals, bool linked)
{
	struct ark_journal_seg *s = seg_slot(j, 0);
	int slot = (int)j->segq_head;
	bool with_dir = !s->dir_synced;
	j->sync_inflight = true;
	j->sync_seg = slot;
	j->sync_seals = seals;
	j->sync_with_dir = with_dir;
	j->sync_last_seq = covers_seq;
	j->sync_result = 0;
	j->sync_cqes_pending = with_dir ? 2 : 1;
	(void)linked;
	ark_jio_fsync(&j->io, s->fd, true, TAG_SYNC, with_dir);
	if (with_dir)
		ark_jio_fsync(&j->io, j->dir_fd, false, TAG_DIRSYNC, false);
	if (j->need_sync_seq && covers_seq >= j->need_sync_seq)
		j->need_sync_seq = 0;
	j->stats.syncs_submitted++;
}

/* Gather the next run of unwritten bytes (one segment, contiguous in the
 * file) into j->iov. Returns its byte count. */
static uint64_t gather_run(struct ark_journal *j, bool include_partial, int *iovcnt)
{
	uint64_t total = 0;
	int n = 0;
	int seg = -1;
	uint64_t next_off = 0;
	for (uint64_t ctr = j->write_ctr; ctr <= j->fill_ctr; ctr++) {
		struct ark_journal_chunk *c = chunk_at(j, ctr);
		if (c->submitted == c->used) {
			if (n == 0 && ctr < j->fill_ctr) {
				j->write_ctr = ctr + 1;
				continue;
			}
			break;
		}
		if (ctr == j->fill_ctr && !include_partial)
			break;
		if (n == 0) {
			seg = c->seg;
			j->write_ctr = ctr;
		} else if (c->seg != seg || c->file_offset + c->submitted != next_off) {
			break;
		}
		j->iov[n].iov_base = c->data + c->submitted;
		j->iov[n].iov_len = c->used - c->submitted;
		j->write_bytes[n] = c->used - c->submitted;
		next_off = c->file_offset + c->used;
		total += c->used - c->submitted;
		n++;
	}
	*iovcnt = n;
	return total;
}

static void pump_once(struct ark_journal *j)
{
	if (j->failed)
		return;
	if (!j->write_inflight) {
		int iovcnt;
		uint64_t bytes = gather_run(j, j->need_write_partial, &iovcnt);
		if (bytes > 0) {
			struct ark_journal_chunk *first = chunk_at(j, j->write_ctr);
			if (seg_index(j, first->seg) != 0) {
				/* an older segment is still to be sealed */
			} else {
				uint64_t offset = first->file_offset + first->submitted;
				uint64_t last_seq = 0;
				for (int i = 0; i < iovcnt; i++) {
					struct ark_journal_chunk *c = chunk_at(j, j->write_ctr + (uint64_t)i);
					c->submitted = c->used;
					if (c->last_seq > last_seq)
						last_seq = c->last_seq;
				}
				j->write_inflight = true;
				j->write_ctr_start = j->write_ctr;
				j->write_nchunks = (uint32_t)iovcnt;
				j->write_last_seq = last_seq ? last_seq : j->written_seq;
				j->write_total = bytes;
				struct ark_journal_seg *s = &j->segq[first->seg];
				struct ark_journal_chunk *end = chunk_at(j, j->write_ctr + (uint64_t)iovcnt - 1);
				j->write_pos = (struct ark_journal_position){
					.segment_first_seq = s->first_seq,
					.end_offset = offset + bytes,
					.last_seq = end->last_seq,
					.last_record_offset = end->file_offset + end->last_record_at,
				};
				if (j->cfg.sync == ARK_JOURNAL_SYNC_BATCH &&
				    j->write_last_seq > j->need_sync_seq)
					j->need_sync_seq = j->write_last_seq; /* every batch is synced */
				bool link = !j->sync_inflight && j->need_sync_seq &&
					    j->write_last_seq >= j->need_sync_seq;
				ark_jio_write(&j->io, s->fd, j->iov, iovcnt, offset, TAG_WRITE, link);
				j->stats.writes_submitted++;
				if (link)
					submit_sync(j, j->write_last_seq, false, true);
				uint64_t after = j->write_ctr + (uint64_t)iovcnt;
				j->write_ctr = after > j->fill_ctr ? j->fill_ctr : after;
			}
		}
		/* everything appended is now with the kernel or on its way */
		struct ark_journal_chunk *fill = chunk_at(j, j->fill_ctr);
		if (fill->submitted == fill->used && j->write_ctr >= j->fill_ctr)
			j->need_write_partial = false;
	}
	if (!j->sync_inflight && !j->write_inflight && j->segq_count > 0) {
		struct ark_journal_seg *head = seg_slot(j, 0);
		bool head_done = true; /* all its bytes are with the kernel */
		for (uint64_t ctr = j->head_ctr; ctr <= j->fill_ctr; ctr++) {
			struct ark_journal_chunk *c = chunk_at(j, ctr);
			if (seg_index(j, c->seg) == 0 && c->completed != c->used)
				head_done = false;
		}
		if (j->segq_count >= 2 && head_done && j->cfg.sync == ARK_JOURNAL_SYNC_NONE) {
			/* none promises nothing across a power cut, so no seal
			 * fdatasync; a process crash cannot tear an older
			 * segment either way (one write in flight, in order) */
			pop_sealed(j);
			j->unsynced_sealed = true;
		} else if (j->segq_count >= 2 && head_done) {
			submit_sync(j, head->last_seq, true, false);
		} else if (j->need_sync_seq && j->written_seq > j->durable_seq) {
			submit_sync(j, j->written_seq, false, false);
		} else if (j->need_sync_seq && j->written_seq >= j->need_sync_seq) {
			j->need_sync_seq = 0; /* already durable */
		}
	}
}

static void pump(struct ark_journal *j)
{
	/* The fallback completes ops as they are queued; a few rounds let it
	 * go write -> release -> seal -> next write in one call. */
	for (int round = 0; round < 8 && !j->failed; round++) {
		reap(j, false);
		uint64_t w = j->stats.writes_submitted, s = j->stats.syncs_submitted;
		uint32_t segs = j->segq_count;
		pump_once(j);
		int rc = ark_jio_submit(&j->io);
		if (rc < 0) {
			fail(j, rc, "io_uring_submit failed: %s", strerror(-rc));
			return;
		}
		if (w == j->stats.writes_submitted && s == j->stats.syncs_submitted && segs == j->segq_count)
			break;
	}
}

static bool anything_inflight(const struct ark_journal *j)
{
	return j->write_inflight || j->sync_inflight;
}

/* Block until an in-flight op completes (the only place the writer waits). */
static void wait_some(struct ark_journal *j)
{
	if (anything_inflight(j)) {
		reap(j, true);
		pump(j);
		return;
	}
	uint64_t w = j->stats.writes_submitted, s = j->stats.syncs_submitted;
	uint32_t segs = j->segq_count;
	pump(j);
	/* Nothing in flight and nothing startable would mean the callers
	 * below loop forever: stop with a clear error instead. */
	bool progress = anything_inflight(j) || w != j->stats.writes_submitted ||
			s != j->stats.syncs_submitted || segs != j->segq_count;
	if (progress)
		j->idle_rounds = 0;
	else if (j->idle_rounds++ > 2)
		fail(j, -EIO, "internal error: journal cannot make progress (write_ctr %llu, fill %llu, segments %u)",
		     (unsigned long long)j->write_ctr, (unsigned long long)j->fill_ctr, j->segq_count);
}

static void tick(struct ark_journal *j, uint64_t now)
{
	if (now < j->next_tick_ns)
		return;
	j->next_tick_ns = now + j->cfg.sync_interval_ns;
	j->need_write_partial = true;
	if (j->cfg.sync == ARK_JOURNAL_SYNC_INTERVAL && j->last_seq > j->durable_seq)
		j->need_sync_seq = j->last_seq;
}

/* ---- chunks and segments ---- */

/* Make the next chunk the fill chunk, for segment slot seg. */
static int next_chunk(struct ark_journal *j, int seg, struct ark_err *err)
{
	struct ark_journal_chunk *cur = chunk_at(j, j->fill_ctr);
	if (cur->used == 0 && cur->submitted == 0 && cur->completed == 0) {
		/* unused: just re-point it */
		cur->seg = seg;
		cur->file_offset = j->segq[seg].size;
		cur->last_seq = 0;
		return 0;
	}
	while (j->fill_ctr + 1 - j->head_ctr >= j->nchunks) {
		j->stats.buffer_full_stalls++;
		j->need_write_partial = true;
		pump(j);
		if (j->fill_ctr + 1 - j->head_ctr < j->nchunks)
			break;
		if (j->failed)
			return failed_err(j, err);
		wait_some(j);
	}
	j->fill_ctr++;
	struct ark_journal_chunk *c = chunk_at(j, j->fill_ctr);
	assert(c->used == 0 && c->submitted == 0 && c->completed == 0);
	c->seg = seg;
	c->file_offset = j->segq[seg].size;
	c->last_seq = 0;
	pump(j); /* hand the closed chunk over */
	return 0;
}

static int roll(struct ark_journal *j, uint64_t first_seq, struct ark_err *err)
{
	while (j->segq_count >= j->nchunks) {
		j->need_write_partial = true;
		pump(j);
		if (j->failed)
			return failed_err(j, err);
		if (j->segq_count < j->nchunks)
			break;
		wait_some(j);
	}
	struct ark_journal_seg *s = seg_slot(j, j->segq_count);
	memset(s, 0, sizeof *s);
	ark_journal_segment_name(first_seq, s->name, sizeof s->name);
	s->fd = openat(j->dir_fd, s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return ark_err_set(err, -errno, "journal: cannot create segment %s/%s: %s",
				   j->cfg.journal_dir, s->name, strerror(errno));
	s->first_seq = first_seq;
	s->size = 0;
	s->dir_synced = false;
	j->segq_count++;
	j->stats.segments_created++;
	int slot = active_slot(j);
	int rc = next_chunk(j, slot, err);
	if (rc)
		return rc;
	struct ark_journal_chunk *c = chunk_at(j, j->fill_ctr);
	assert(c->used == 0 && c->seg == slot && c->file_offset == 0);
	struct ark_journal_segment_header h;
	ark_journal_fill_segment_header(&h, first_seq, ark_realtime_ns());
	memcpy(c->data, &h, sizeof h);
	c->used = sizeof h;
	s->size = sizeof h;
	j->next_retain_ns = 0; /* look at retention soon */
	return 0;
}

int ark_journal_append(struct ark_journal *j, uint64_t seq, uint64_t trace_id, const void *payload,
		       uint32_t len, struct ark_err *err)
{
	if (j->failed)
		return failed_err(j, err);
	if (j->has_records && seq <= j->last_seq)
		return ark_err_set(err, -EINVAL,
				   "journal: seq %llu is not greater than the last appended seq %llu",
				   (unsigned long long)seq, (unsigned long long)j->last_seq);
	if (len > ARK_JOURNAL_MAX_PAYLOAD)
		return ark_err_set(err, -EMSGSIZE, "journal: record of %u bytes exceeds the maximum of %u",
				   len, ARK_JOURNAL_MAX_PAYLOAD);
	if (len && !payload)
		return ark_err_set(err, -EINVAL, "journal: NULL payload with length %u", len);
	uint32_t size = ARK_JOURNAL_RECORD_HEADER_BYTES + len;
	struct ark_journal_seg *s = active_seg(j);
	int rc;
	if (!s || (s->has_records && s->size + size > j->cfg.segment_bytes)) {
		if ((rc = roll(j, seq, err)))
			return rc;
		s = active_seg(j);
	}
	struct ark_journal_chunk *c = chunk_at(j, j->fill_ctr);
	if (c->used + size > j->chunk_bytes) {
		if ((rc = next_chunk(j, active_slot(j), err)))
			return rc;
		c = chunk_at(j, j->fill_ctr);
	}
	assert(c->seg == active_slot(j) && c->file_offset + c->used == s->size);
	struct ark_journal_record_header h = {
		.magic = ARK_JOURNAL_RECORD_MAGIC, .len = len, .seq = seq, .trace_id = trace_id,
	};
	uint8_t *p = c->data + c->used;
	c->last_record_at = c->used;
	h.crc = ark_journal_record_crc(&h, payload);
	memcpy(p, &h, sizeof h);
	if (len)
		memcpy(p + sizeof h, payload, len);
	c->used += size;
	c->last_seq = seq;
	s->size += size;
	s->last_seq = seq;
	s->has_records = true;
	j->last_seq = seq;
	j->has_records = true;
	j->stats.appended_records++;
	j->stats.appended_bytes += size;

	if (++j->appends_since_check >= TICK_EVERY_APPENDS) {
		j->appends_since_check = 0;
		if (j->cfg.sync != ARK_JOURNAL_SYNC_BATCH)
			tick(j, ark_now_ns());
		if (j->need_write_partial || j->need_sync_seq ||
		    (j->io.uring && io_uring_cq_ready(&j->io.ring)))
			pump(j);
	}
	return j->failed ? failed_err(j, err) : 0;
}

int ark_journal_flush(struct ark_journal *j, struct ark_err *err)
{
	if (j->failed)
		return failed_err(j, err);
	j->need_write_partial = true;
	if (j->cfg.sync == ARK_JOURNAL_SYNC_BATCH && j->last_seq > j->durable_seq)
		j->need_sync_seq = j->last_seq;
	pump(j);
	return j->failed ? failed_err(j, err) : 0;
}

int ark_journal_poll(struct ark_journal *j, struct ark_err *err)
{
	if (j->failed)
		return failed_err(j, err);
	uint64_t now = ark_now_ns();
	if (j->cfg.sync != ARK_JOURNAL_SYNC_BATCH)
		tick(j, now);
	pump(j);
	if (now >= j->next_retain_ns) {
		j->next_retain_ns = now + 1000000000ull;
		int rc = ark_journal_retain(j, err);
		if (rc < 0)
			return rc;
	}
	return j->failed ? failed_err(j, err) : 0;
}

void ark_journal_wait(struct ark_journal *j, uint64_t timeout_ns)
{
	if (j->failed)
		return;
	if (anything_inflight(j)) {
		ark_jio_wait(&j->io, timeout_ns);
		return;
	}
	uint64_t now = ark_now_ns(), due = ark_journal_next_deadline_ns(j);
	if (due <= now)
		return;
	uint64_t ns = due - now < timeout_ns ? due - now : timeout_ns;
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	nanosleep(&ts, NULL);
}

uint64_t ark_journal_next_deadline_ns(const struct ark_journal *j)
{
	bool pending = j->last_seq > j->written_seq || anything_inflight(j) ||
		       (j->cfg.sync != ARK_JOURNAL_SYNC_NONE && j->durable_seq < j->last_seq);
	if (!pending)
		return j->next_retain_ns && (j->cfg.retain_bytes || j->cfg.retain_age_ns)
			       ? j->next_retain_ns : UINT64_MAX;
	if (anything_inflight(j))
		return ark_now_ns() + 100000; /* check completions in 100 µs */
	return j->cfg.sync == ARK_JOURNAL_SYNC_BATCH ? ark_now_ns() : j->next_tick_ns;
}

/* Wait until written (and durable, when want_durable) up to last_seq. */
static int drain(struct ark_journal *j, bool want_durable, struct ark_err *err)
{
	for (;;) {
		if (j->failed)
			return failed_err(j, err);
		j->need_write_partial = true;
		if (want_durable && j->last_seq > j->durable_seq)
			j->need_sync_seq = j->last_seq;
		pump(j);
		bool written = j->written_seq >= j->last_seq && !j->write_inflight;
		bool sealed_all = j->segq_count <= 1;
		if (written && sealed_all && (!want_durable || j->durable_seq >= j->last_seq) &&
		    !j->sync_inflight)
			return 0;
		wait_some(j);
	}
}

int ark_journal_sync(struct ark_journal *j, struct ark_err *err)
{
	int rc = drain(j, true, err);
	if (rc == 0 && j->unsynced_sealed) {
		/* segments sealed without fdatasync (sync mode none) are
		 * closed; syncfs reaches them */
		if (syncfs(j->dir_fd) != 0)
			return fail(j, -errno, "syncfs of %s failed: %s", j->cfg.journal_dir, strerror(errno)),
			       failed_err(j, err);
		j->unsynced_sealed = false;
	}
	return rc;
}

/* Everything the journal holds goes: its segments' descriptors, the io
 * (io_started: before the buffers it may have registered are unmapped), the
 * buffers, the directory and the lock (closing it drops the flock). */
static void release(struct ark_journal *j, bool io_started)
{
	for (uint32_t i = 0; i < j->segq_count; i++)
		if (seg_slot(j, i)->fd >= 0)
			close(seg_slot(j, i)->fd);
	if (io_started)
		ark_jio_exit(&j->io);
	if (j->buffer)
		munmap(j->buffer, j->buffer_bytes);
	free(j->sealed);
	if (j->dir_fd >= 0)
		close(j->dir_fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j);
}

int ark_journal_close(struct ark_journal *j, struct ark_err *err)
{
	if (!j)
		return 0;
	int rc = 0;
	if (!j->failed)
		rc = drain(j, j->cfg.sync != ARK_JOURNAL_SYNC_NONE, err);
	else
		rc = failed_err(j, err);
	/* a failed journal may still have ops in flight: let them finish
	 * before their buffers go away */
	while (anything_inflight(j))
		reap(j, true);
	release(j, true);
	return rc;
}

uint64_t ark_journal_durable_seq(const struct ark_journal *j)
{
	return j->durable_seq;
}

uint64_t ark_journal_written_seq(const struct ark_journal *j)
{
	return j->written_seq;
}

uint64_t ark_journal_last_seq(const struct ark_journal *j)
{
	return j->last_seq;
}

bool ark_journal_using_io_uring(const struct ark_journal *j)
{
	return j->io.uring;
}

void ark_journal_get_stats(const struct ark_journal *j, struct ark_journal_stats *st)
{
	*st = j->stats;
	st->last_seq = j->last_seq;
	st->written_seq = j->written_seq;
	st->durable_seq = j->durable_seq;
	st->segment_count = j->sealed_count + j->segq_count;
	uint64_t open_bytes = 0;
	for (uint32_t i = 0; i < j->segq_count; i++)
		open_bytes += j->segq[(j->segq_head + i) % ARK_ARRAY_LEN(j->segq)].size;
	st->total_bytes = j->sealed_bytes + open_bytes;
	st->using_io_uring = j->io.uring;
}

int ark_journal_retain(struct ark_journal *j, struct ark_err *err)
{
	if (!j->cfg.retain_bytes && !j->cfg.retain_age_ns)
		return 0;
	uint64_t now = ark_realtime_ns();
	int deleted = 0;
	size_t i = 0;
	for (; i < j->sealed_count; i++) {
		struct ark_journal_sealed *e = &j->sealed[i];
		uint64_t open_bytes = 0;
		for (uint32_t k = 0; k < j->segq_count; k++)
			open_bytes += seg_slot(j, k)->size;
		uint64_t total = j->sealed_bytes + open_bytes;
		bool over_bytes = j->cfg.retain_bytes && total > j->cfg.retain_bytes;
		bool too_old = j->cfg.retain_age_ns && e->mtime_ns + j->cfg.retain_age_ns < now;
		if (!over_bytes && !too_old)
			break;
		if (unlinkat(j->dir_fd, e->name, 0) != 0 && errno != ENOENT) {
			int rc = -errno;
			/* keep what is left consistent before reporting */
			memmove(j->sealed, j->sealed + i, (j->sealed_count - i) * sizeof *j->sealed);
			j->sealed_count -= i;
			return ark_err_set(err, rc, "journal retention: cannot delete %s/%s: %s",
					   j->cfg.journal_dir, e->name, strerror(-rc));
		}
		char index[80];   /* its trace index goes with it */
		size_t base = strlen(e->name) - strlen(ARK_JOURNAL_SEGMENT_SUFFIX);
		snprintf(index, sizeof index, "%.*s.arkx", (int)base, e->name);
		unlinkat(j->dir_fd, index, 0);
		j->sealed_bytes -= e->bytes;
		j->stats.segments_deleted++;
		deleted++;
	}
	if (i) {
		memmove(j->sealed, j->sealed + i, (j->sealed_count - i) * sizeof *j->sealed);
		j->sealed_count -= i;
	}
	return deleted;
}

static uint64_t position_check(const struct ark_journal_position *pos)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	const uint64_t v[4] = {pos->segment_first_seq, pos->end_offset, pos->last_seq, pos->last_record_offset};
	for (int i = 0; i < 4; i++) {
		h ^= v[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
		h *= 0xff51afd7ed558ccdull;
	}
	return h | 1;
}

void ark_journal_written_position(const struct ark_journal *j, struct ark_journal_position *pos)
{
	*pos = j->written_pos;
	pos->check = pos->last_seq ? position_check(pos) : 0;
}

bool ark_journal_position_valid(const struct ark_journal_position *pos)
{
	return pos && pos->last_seq && pos->check == position_check(pos) &&
	       pos->end_offset > pos->last_record_offset && pos->last_record_offset >= ARK_JOURNAL_SEGMENT_HEADER_BYTES;
}

int ark_journal_open(struct ark_journal **out, const struct ark_store_config *cfg,
		     struct ark_journal_recovery *recovery, struct ark_err *err)
{
	return ark_journal_open_at(out, cfg, NULL, recovery, err);
}

int ark_journal_open_at(struct ark_journal **out, const struct ark_store_config *cfg,
			const struct ark_journal_position *resume, struct ark_journal_recovery *recovery,
			struct ark_err *err)
{
	*out = NULL;
	struct ark_journal_recovery local;
	if (!recovery)
		recovery = &local;
	memset(recovery, 0, sizeof *recovery);
	if (cfg->segment_bytes < 64 * 1024)
		return ark_err_set(err, -EINVAL, "journal: segment size %llu is below 64K",
				   (unsigned long long)cfg->segment_bytes);
	struct ark_journal *j = calloc(1, sizeof *j);
	if (!j)
		return ark_err_set(err, -ENOMEM, "journal: out of memory");
	j->cfg = *cfg;
	j->dir_fd = j->lock_fd = -1;
	int rc = ark_store_mkdirs(cfg->journal_dir, err);
	if (rc)
		goto fail;
	j->dir_fd = open(cfg->journal_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dir_fd < 0) {
		rc = ark_err_set(err, -errno, "journal: cannot open '%s': %s", cfg->journal_dir,
				 strerror(errno));
		goto fail;
	}
	j->lock_fd = openat(j->dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lock_fd < 0) {
		rc = ark_err_set(err, -errno, "journal: cannot open %s/LOCK: %s", cfg->journal_dir,
				 strerror(errno));
		goto fail;
	}
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = ark_err_set(err, errno == EWOULDBLOCK ? -EBUSY : -errno,
				 "journal: %s is open for writing by another process",
				 cfg->journal_dir);
		goto fail;
	}
	/* A journal has an identity from its first writer on (the Mutable
	 * Core records which journal it was applied from). */
	char identity[ARK_JOURNAL_ID_LEN + 1];
	if ((rc = ark_journal_identity(cfg->journal_dir, true, identity, err))) {
		ark_err_wrap(err, "journal");
		goto fail;
	}
	/* Chunks: at least 128K so that the largest record plus a segment
	 * header fits in one; 16 of them with the default 16M buffer. */
	uint64_t chunk = ARK_MAX(cfg->buffer_bytes / 16, 128ull << 10);
	chunk = (chunk + 4095) & ~4095ull;
	uint64_t n = ARK_MAX(cfg->buffer_bytes / chunk, 4);
	if (n > ARK_JOURNAL_MAX_CHUNKS)
		n = ARK_JOURNAL_MAX_CHUNKS;
	j->chunk_bytes = (uint32_t)chunk;
	j->nchunks = (uint32_t)n;
	/* Every page present now: a page fault on first use would cost an
	 * append a microsecond or more (the hot path never faults). The kernel
	 * populates a mapping in bulk (16 MB: ~4 ms here) where touching each
	 * page from user space takes 50-200 ms on a VM — time a restarted
	 * Aletheia would keep the pipeline waiting. */
	j->buffer_bytes = chunk * n;
	j->buffer = mmap(NULL, j->buffer_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (j->buffer == MAP_FAILED) {
		j->buffer = NULL;
		rc = ark_err_set(err, -ENOMEM, "journal: cannot map a %llu-byte buffer: %s",
				 (unsigned long long)(chunk * n), strerror(errno));
		goto fail;
	}
	for (uint32_t i = 0; i < n; i++)
		j->chunks[i].data = j->buffer + (uint64_t)i * chunk;
	if ((rc = ark_journal_recover(j, ark_journal_position_valid(resume) ? resume : NULL, recovery, err)))
		goto fail;
	if ((rc = ark_jio_init(&j->io, cfg->io_uring, cfg, err)))
		goto fail;
	j->next_tick_ns = ark_now_ns() + cfg->sync_interval_ns;
	*out = j;
	return 0;
fail:
	release(j, false);
	return rc;
}

bool ark_journal_sync_in_flight(const struct ark_journal *j)
{
	return j->sync_inflight;
}
