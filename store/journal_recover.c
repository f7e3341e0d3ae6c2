/* store/journal_recover.c — opening the journal for writing: find the active
 * (newest) segment, cut a torn or corrupt tail, drop segments that never got
 * a record, and set the writer's state from what survived.
 *
 * Invariant: only the newest segment can have a torn tail (the writer seals
 * a segment before it writes the next), so older segments are not rescanned
 * here; `ark journal verify` checks them. Everything before the first bad
 * byte of the newest segment is kept; bytes after it are cut, and saved
 * beside the segment when they still hold CRC-valid records (damage, not a
 * torn write, and not ours to destroy). */
#include "store/journal_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int save_tail(struct ark_journal *j, const char *name, int fd, uint64_t from, uint64_t to,
		     char *saved, size_t cap, struct ark_err *err)
{
	snprintf(saved, cap, "%s.damaged-%llu", name, (unsigned long long)from);
	int out = openat(j->dir_fd, saved, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return ark_err_set(err, -errno, "journal: cannot save damaged tail to %s/%s: %s",
				   j->cfg.journal_dir, saved, strerror(errno));
	char buf[65536];
	uint64_t off = from;
	int rc = 0;
	while (off < to) {
		ssize_t r = pread(fd, buf, (size_t)ARK_MIN((uint64_t)sizeof buf, to - off), (off_t)off);
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		if (write(out, buf, (size_t)r) != r) {
			rc = -errno;
			break;
		}
		off += (uint64_t)r;
	}
	if (rc == 0 && fdatasync(out) != 0)
		rc = -errno;
	close(out);
	if (rc)
		return ark_err_set(err, rc, "journal: cannot save damaged tail to %s/%s: %s",
				   j->cfg.journal_dir, saved, strerror(-rc));
	return 0;
}

/* Scan one segment: the offset where valid records end, their count and last
 * seq. header_ok false when the segment header itself is bad. */
struct seg_scan {
	bool header_ok;
	const char *why;
	uint64_t end;
	uint64_t records;
	uint64_t last_seq;
	uint64_t bad_seq;    /* the seq the bad record claims, if readable */
	uint64_t size;
	uint64_t last_record_offset;
};

/* resume (may be NULL): where a crashed writer's last complete write ended
 * in this segment. When the record it names is there, intact, and ends where
 * it says, scanning starts after it. */
static int scan_segment(int fd, uint64_t first_seq, const struct ark_journal_position *resume, struct seg_scan *out,
			bool *resumed)
{
	*resumed = false;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	memset(out, 0, sizeof *out);
	out->size = (uint64_t)st.st_size;
	struct ark_journal_scan s;
	if (ark_journal_scan_init(&s, fd, out->size) != 0)
		return -ENOMEM;
	struct ark_journal_segment_header sh;
	if (ark_journal_scan_header(&s, &sh, &out->why) != 0 || sh.first_seq != first_seq) {
		if (!out->why)
			out->why = "segment header does not match its file name";
		out->header_ok = false;
		out->end = 0;
		ark_journal_scan_free(&s);
		return 0;
	}
	out->header_ok = true;
	uint64_t off = ARK_JOURNAL_SEGMENT_HEADER_BYTES, prev = 0;
	int rc = 0;
	if (resume && resume->segment_first_seq == first_seq && resume->end_offset <= out->size) {
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		const char *why = NULL;
		if (ark_journal_scan_at(&s, resume->last_record_offset, &h, &payload, &next, &why) == ARK_SCAN_RECORD &&
		    h.seq == resume->last_seq && next == resume->end_offset) {
			off = resume->end_offset;
			out->last_record_offset = resume->last_record_offset;
			out->records = 1;
			out->last_seq = prev = h.seq;
			*resumed = true;
		}
	}
	for (;;) {
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		const char *why = NULL;
		int r = ark_journal_scan_at(&s, off, &h, &payload, &next, &why);
		if (r == ARK_SCAN_IO_ERROR) {
			rc = -EIO;
			break;
		}
		if (r == ARK_SCAN_RECORD && (h.seq < first_seq || (out->records && h.seq <= prev))) {
			r = ARK_SCAN_INVALID;
			why = "seq not increasing";
		}
		if (r != ARK_SCAN_RECORD) {
			out->why = r == ARK_SCAN_END ? NULL : why;
			out->bad_seq = h.seq;
			break;
		}
		out->records++;
		out->last_seq = prev = h.seq;
		out->last_record_offset = off;
		off = next;
	}
	out->end = off;
	ark_journal_scan_free(&s);
	return rc;
}

static uint64_t count_valid_after(int fd, uint64_t from, uint64_t size)
{
	struct ark_journal_scan s;
	if (ark_journal_scan_init(&s, fd, size) != 0)
		return 0;
	uint64_t count = 0, off = from;
	for (;;) {
		off = ark_journal_scan_resync(&s, off);
		if (off >= size)
			break;
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		const char *why;
		if (ark_journal_scan_at(&s, off, &h, &payload, &next, &why) != ARK_SCAN_RECORD)
			break;
		count++;
		off = next;
	}
	ark_journal_scan_free(&s);
	return count;
}

/* Walk back from the newest segment to the active one: the newest that holds
 * a record. A newer one that holds none (created just before a crash) is
 * removed, unless valid records hide behind its damaged header. On return
 * *fd is the active segment open for writing (or -1 when none is left, or on
 * error; the caller closes whatever is open). */
static int find_active(struct ark_journal *j, const struct ark_journal_segment_info *segs, size_t *active,
		       const struct ark_journal_position *resume, struct ark_journal_recovery *rec,
		       struct seg_scan *sc, int *fd, struct ark_err *err)
{
	int rc;
	while (*active > 0) {
		const struct ark_journal_segment_info *si = &segs[*active - 1];
		*fd = openat(j->dir_fd, si->name, O_RDWR | O_CLOEXEC);
		if (*fd < 0)
			return ark_err_set(err, -errno, "journal: cannot open %s/%s: %s",
					   j->cfg.journal_dir, si->name, strerror(errno));
		if ((rc = scan_segment(*fd, si->first_seq, resume, sc, &rec->resumed)))
			return ark_err_set(err, rc, "journal: cannot read %s/%s: %s", j->cfg.journal_dir,
					   si->name, strerror(-rc));
		if (sc->records > 0)
			return 0;
		/* No record survived: a segment created just before a crash.
		 * Unless valid records hide behind a damaged header, it holds
		 * nothing and goes; the previous segment is the active one. */
		uint64_t behind = count_valid_after(*fd, sc->header_ok ? sc->end : 0, sc->size);
		if (behind > 0)
			return ark_err_set(err, -EBADMSG,
					   "journal: segment %s/%s is damaged at offset %llu (%s) but %llu valid records follow; "
					   "refusing to cut them: run `ark journal verify` and move the segment aside",
					   j->cfg.journal_dir, si->name, (unsigned long long)sc->end,
					   sc->why ? sc->why : "?", (unsigned long long)behind);
		close(*fd);
		*fd = -1;
		if (unlinkat(j->dir_fd, si->name, 0) != 0)
			return ark_err_set(err, -errno, "journal: cannot remove empty segment %s/%s: %s",
					   j->cfg.journal_dir, si->name, strerror(errno));
		ark_store_log(&j->cfg, 1, "journal: removed segment %s/%s that holds no record (%s)",
			      j->cfg.journal_dir, si->name, sc->why ? sc->why : "empty");
		rec->removed_empty_segments++;
		(*active)--;
	}
	return 0;
}

/* The segments older than the active one: sealed, checked by verify, listed
 * here for retention. */
static int list_sealed(struct ark_journal *j, const struct ark_journal_segment_info *segs, size_t active,
		       struct ark_err *err)
{
	for (size_t i = 0; i + 1 < active; i++) {
		struct ark_journal_seg tmp = {.first_seq = segs[i].first_seq, .size = segs[i].bytes};
		snprintf(tmp.name, sizeof tmp.name, "%s", segs[i].name);
		if (j->sealed_count == j->sealed_cap) {
			size_t cap = j->sealed_cap ? j->sealed_cap * 2 : 64;
			void *p = realloc(j->sealed, cap * sizeof *j->sealed);
			if (!p)
				return ark_err_set(err, -ENOMEM, "journal: out of memory");
			j->sealed = p;
			j->sealed_cap = cap;
		}
		struct ark_journal_sealed *e = &j->sealed[j->sealed_count++];
		snprintf(e->name, sizeof e->name, "%s", tmp.name);
		e->first_seq = tmp.first_seq;
		e->bytes = tmp.size;
		e->mtime_ns = segs[i].mtime_ns;
		j->sealed_bytes += tmp.size;
	}
	return 0;
}

/* Cut the active segment after its last valid record; bytes cut that still
 * hold CRC-valid records are saved beside it first. */
static int cut_tail(struct ark_journal *j, const struct ark_journal_segment_info *si, int fd,
		    const struct seg_scan *sc, struct ark_journal_recovery *rec, struct ark_err *err)
{
	int rc;
	rec->cut = true;
	rec->offset = sc->end;
	rec->bytes_cut = sc->size - sc->end;
	snprintf(rec->reason, sizeof rec->reason, "%s", sc->why ? sc->why : "trailing bytes");
	rec->records_after_cut = count_valid_after(fd, sc->end, sc->size);
	if (rec->records_after_cut &&
	    (rc = save_tail(j, si->name, fd, sc->end, sc->size, rec->saved_to, sizeof rec->saved_to, err)))
		return rc;
	if (ftruncate(fd, (off_t)sc->end) != 0)
		return ark_err_set(err, -errno, "journal: cannot cut %s at offset %llu: %s",
				   rec->segment, (unsigned long long)sc->end, strerror(errno));
	if (rec->records_after_cut)
		ark_store_log(&j->cfg, 1,
			      "journal: cut %s at offset %llu after seq %llu (%s); the %llu bytes cut hold "
			      "%llu CRC-valid records: damage, not a torn write; saved to %s/%s",
			      rec->segment, (unsigned long long)sc->end, (unsigned long long)sc->last_seq,
			      rec->reason, (unsigned long long)rec->bytes_cut,
			      (unsigned long long)rec->records_after_cut, j->cfg.journal_dir, rec->saved_to);
	else
		ark_store_log(&j->cfg, 1, "journal: cut torn tail of %s at offset %llu after seq %llu (%s, %llu bytes)",
			      rec->segment, (unsigned long long)sc->end, (unsigned long long)sc->last_seq,
			      rec->reason, (unsigned long long)rec->bytes_cut);
	return 0;
}

/* The writer takes the active segment (fd is now its) and continues after
 * its last record. */
static void adopt_active(struct ark_journal *j, const struct ark_journal_segment_info *si, int fd,
			 const struct seg_scan *sc)
{
	struct ark_journal_seg *s = &j->segq[0];
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->first_seq = si->first_seq;
	s->size = sc->end;
	s->last_seq = sc->last_seq;
	s->has_records = true;
	/* What a crashed predecessor left in the page cache becomes durable
	 * with the first sync, submitted through io_uring at the first poll: a
	 * restarted writer does not wait for the disk (tens of milliseconds on a
	 * VM) before it takes new records. Until then durable_seq stays behind
	 * (pessimistic, never optimistic). */
	s->dir_synced = false;
	snprintf(s->name, sizeof s->name, "%s", si->name);
	j->segq_head = 0;
	j->segq_count = 1;
	j->chunks[0].seg = 0;
	j->chunks[0].file_offset = sc->end;
	j->last_seq = j->written_seq = sc->last_seq;
	j->written_pos = (struct ark_journal_position){.segment_first_seq = si->first_seq, .end_offset = sc->end,
						     .last_seq = sc->last_seq, .last_record_offset = sc->last_record_offset};
	/* none promises no durability: nothing to wait for, as before */
	j->durable_seq = j->cfg.sync == ARK_JOURNAL_SYNC_NONE ? sc->last_seq : 0;
	if (j->cfg.sync != ARK_JOURNAL_SYNC_NONE)
		j->need_sync_seq = sc->last_seq;
	j->has_records = true;
}

int ark_journal_recover(struct ark_journal *j, const struct ark_journal_position *resume, struct ark_journal_recovery *rec,
			struct ark_err *err)
{
	struct ark_journal_segment_info *segs;
	size_t n;
	int rc = ark_journal_list_segments(j->cfg.journal_dir, &segs, &n, err);
	if (rc)
		return rc;
	int fd = -1;
	struct seg_scan sc = {0};
	size_t active = n;
	if ((rc = find_active(j, segs, &active, resume, rec, &sc, &fd, err)))
		goto out;
	if ((rc = list_sealed(j, segs, active, err)))
		goto out;
	if (active == 0) {
		j->segq_count = 0;
		j->chunks[0].seg = 0;
		goto out;
	}
	const struct ark_journal_segment_info *si = &segs[active - 1];
	if (snprintf(rec->segment, sizeof rec->segment, "%.4000s/%.63s", j->cfg.journal_dir, si->name) < 0)
		rec->segment[0] = '\0';
	rec->records = sc.records;
	rec->last_seq = sc.last_seq;
	if (sc.end < sc.size && (rc = cut_tail(j, si, fd, &sc, rec, err)))
		goto out;
	adopt_active(j, si, fd, &sc);
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(segs);
	return rc;
}
