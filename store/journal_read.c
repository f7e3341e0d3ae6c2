/* store/journal_read.c — journal readers: iterate from a seq onward and follow
 * the tail as it grows (other processes, also while the writer writes), and
 * the look-up by seq (by trace id: journal_index.c).
 *
 * Invariant: a reader hands out only records whose CRC checked, in file
 * order, each seq greater than the one before. A bad record at the very tail
 * of the newest segment while a writer holds the lock is a write in progress
 * (retried) unless it stays bad for ARK_READER_DAMAGE_GRACE_NS; anywhere
 * else it is damage (-EBADMSG). Segments are sealed before the next one gets
 * data, so the reader moves on only when the next segment has bytes — and
 * only after it has read the current segment's size again once it saw them:
 * the writer may have appended to the old segment after the reader last
 * looked at its size (and then sealed it and written the next one), and
 * those bytes come first. */
#include "store/journal_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARK_READER_DAMAGE_GRACE_NS (2ull * 1000000000ull)

struct ark_journal_reader {
	char dir[PATH_MAX];
	struct ark_journal_segment_info *segs;
	size_t nsegs;
	int fd;
	bool started;           /* a segment has been opened */
	uint64_t cur_first;     /* first seq (name) of the open segment */
	char cur_name[64];
	struct ark_journal_scan scan;
	bool scan_ready;
	bool header_checked;
	uint64_t off;
	uint64_t want_seq;      /* records below it are skipped (seek) */
	uint64_t last_seq;
	bool have_last;
	uint64_t bad_off;
	uint64_t bad_since_ns;
	void (*end_hook)(void *ctx, const char *segment); /* test seam */
	void *end_hook_ctx;
};

void ark_journal_reader_set_end_hook(struct ark_journal_reader *r,
				     void (*hook)(void *ctx, const char *segment), void *ctx)
{
	r->end_hook = hook;
	r->end_hook_ctx = ctx;
}

static int refresh(struct ark_journal_reader *r, struct ark_err *err)
{
	free(r->segs);
	r->segs = NULL;
	r->nsegs = 0;
	return ark_journal_list_segments(r->dir, &r->segs, &r->nsegs, err);
}

static void close_segment(struct ark_journal_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->scan_ready)
		ark_journal_scan_free(&r->scan);
	r->scan_ready = false;
	r->header_checked = false;
}

static int open_segment(struct ark_journal_reader *r, const struct ark_journal_segment_info *si,
			struct ark_err *err)
{
	close_segment(r);
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", r->dir, si->name);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return ark_err_set(err, -errno, "journal: cannot open %s: %s", path, strerror(errno));
	if (ark_journal_scan_init(&r->scan, r->fd, 0) != 0) {
		close_segment(r);
		return ark_err_set(err, -ENOMEM, "journal reader: out of memory");
	}
	r->scan_ready = true;
	r->started = true;
	r->cur_first = si->first_seq;
	snprintf(r->cur_name, sizeof r->cur_name, "%s", si->name);
	r->off = 0;
	return 0;
}

int ark_journal_reader_open(struct ark_journal_reader **out, const char *dir, struct ark_err *err)
{
	*out = NULL;
	struct ark_journal_reader *r = calloc(1, sizeof *r);
	if (!r)
		return ark_err_set(err, -ENOMEM, "journal reader: out of memory");
	if (strlen(dir) >= sizeof r->dir) {
		free(r);
		return ark_err_set(err, -ENAMETOOLONG, "journal directory path too long");
	}
	snprintf(r->dir, sizeof r->dir, "%s", dir);
	r->fd = -1;
	int rc = refresh(r, err);
	if (rc) {
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void ark_journal_reader_close(struct ark_journal_reader *r)
{
	if (!r)
		return;
	close_segment(r);
	free(r->segs);
	free(r);
}

int ark_journal_reader_seek(struct ark_journal_reader *r, uint64_t seq, struct ark_err *err)
{
	int rc = refresh(r, err);
	if (rc)
		return rc;
	close_segment(r);
	r->started = false;
	r->have_last = false;
	r->want_seq = seq;
	if (r->nsegs == 0)
		return 0; /* follow from the first record ever written */
	size_t idx = 0;
	for (size_t i = 0; i < r->nsegs; i++)
		if (r->segs[i].first_seq <= seq)
			idx = i;
	if ((rc = open_segment(r, &r->segs[idx], err)))
		return rc;
	if (seq > 0 && seq < r->segs[0].first_seq) /* 0 means "from the oldest" */
		return ark_err_set(err, -ENOENT,
				   "journal: seq %llu is older than the oldest segment kept (%s, from seq %llu)",
				   (unsigned long long)seq, r->segs[0].name,
				   (unsigned long long)r->segs[0].first_seq);
	return 0;
}

/* The segment after the open one (or the first), if it exists. */
static const struct ark_journal_segment_info *next_segment(struct ark_journal_reader *r)
{
	for (size_t i = 0; i < r->nsegs; i++)
		if (!r->started || r->segs[i].first_seq > r->cur_first)
			return &r->segs[i];
	return NULL;
}

static bool newer_segment_has_data(struct ark_journal_reader *r, struct ark_err *err)
{
	if (refresh(r, err) != 0)
		return false;
	const struct ark_journal_segment_info *n = next_segment(r);
	return n && n->bytes > 0;
}

static int damage(struct ark_journal_reader *r, struct ark_err *err, const char *why, uint64_t seq)
{
	return ark_err_set(err, -EBADMSG,
			   "journal: damaged record in %s/%s at offset %llu (%s; claimed seq %llu, previous seq %llu)",
			   r->dir, r->cur_name, (unsigned long long)r->off, why, (unsigned long long)seq,
			   (unsigned long long)(r->have_last ? r->last_seq : 0));
}

static uint64_t file_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The writer completes a segment before the next one gets any byte, so once
 * a newer segment has data this segment's size is final: read it again, and
 * if it grew since the scan last looked, what was appended is still ours. */
static bool grew_since_scanned(struct ark_journal_reader *r)
{
	uint64_t size = file_size(r->fd);
	if (size == r->scan.size)
		return false;
	r->scan.size = size;
	ark_journal_scan_invalidate(&r->scan);
	return size > r->off;
}

int ark_journal_reader_next(struct ark_journal_reader *r, struct ark_journal_record *rec,
			    struct ark_err *err)
{
	for (;;) {
		if (r->fd < 0) {
			int rc = refresh(r, err);
			if (rc)
				return rc;
			const struct ark_journal_segment_info *n = next_segment(r);
			if (!n)
				return -EAGAIN;
			if ((rc = open_segment(r, n, err)))
				return rc;
		}
		if (!r->header_checked) {
			r->scan.size = file_size(r->fd);
			ark_journal_scan_invalidate(&r->scan);
			struct ark_journal_segment_header h;
			const char *why = NULL;
			if (r->scan.size < ARK_JOURNAL_SEGMENT_HEADER_BYTES)
				return -EAGAIN; /* being created */
			if (ark_journal_scan_header(&r->scan, &h, &why) != 0)
				return ark_err_set(err, -EBADMSG, "journal: segment %s/%s: %s", r->dir,
						   r->cur_name, why);
			r->header_checked = true;
			r->off = ARK_JOURNAL_SEGMENT_HEADER_BYTES;
		}
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		const char *why = "";
		int s = ark_journal_scan_at(&r->scan, r->off, &h, &payload, &next, &why);
		if (s == ARK_SCAN_RECORD) {
			if (r->have_last && h.seq <= r->last_seq)
				return damage(r, err, "seq not increasing", h.seq);
			r->off = next;
			r->bad_since_ns = 0;
			if (h.seq < r->want_seq)
				continue;
			r->last_seq = h.seq;
			r->have_last = true;
			rec->seq = h.seq;
			rec->trace_id = h.trace_id;
			rec->len = h.len;
			rec->payload = payload;
			snprintf(rec->segment, sizeof rec->segment, "%s", r->cur_name);
			rec->offset = r->off - ARK_JOURNAL_RECORD_HEADER_BYTES - h.len;
			return 0;
		}
		if (s == ARK_SCAN_IO_ERROR)
			return ark_err_set(err, -EIO, "journal: read error in %s/%s", r->dir, r->cur_name);
		/* At the end of what we know: has the file grown? */
		uint64_t size = file_size(r->fd);
		if (size != r->scan.size) {
			r->scan.size = size;
			ark_journal_scan_invalidate(&r->scan);
			if (size > r->off)
				continue;
		}
		if (r->end_hook)
			r->end_hook(r->end_hook_ctx, r->cur_name);
		bool newer = newer_segment_has_data(r, err);
		if (newer && grew_since_scanned(r))
			continue; /* finish this segment first */
		if (s == ARK_SCAN_END) {
			if (newer) {
				close_segment(r);
				continue;
			}
			return -EAGAIN;
		}
		/* A bad or incomplete record at the tail. */
		if (!newer && ark_journal_writer_active(r->dir) == 1) {
			uint64_t now = ark_now_ns();
			if (r->bad_since_ns == 0 || r->bad_off != r->off) {
				r->bad_since_ns = now;
				r->bad_off = r->off;
			}
			ark_journal_scan_invalidate(&r->scan);
			if (now - r->bad_since_ns < ARK_READER_DAMAGE_GRACE_NS)
				return -EAGAIN; /* a write in progress */
			return damage(r, err, why, h.seq);
		}
		if (!newer && s == ARK_SCAN_INCOMPLETE)
			return -EAGAIN; /* torn tail; the writer cuts it when it reopens */
		return damage(r, err, why, h.seq);
	}
}

int ark_journal_reader_wait(struct ark_journal_reader *r, struct ark_journal_record *rec,
			    uint64_t timeout_ns, struct ark_err *err)
{
	uint64_t deadline = ark_now_ns() + timeout_ns;
	uint64_t sleep_ns = 50000;
	for (;;) {
		int rc = ark_journal_reader_next(r, rec, err);
		if (rc != -EAGAIN)
			return rc;
		uint64_t now = ark_now_ns();
		if (now >= deadline)
			return -EAGAIN;
		uint64_t left = deadline - now;
		struct timespec ts = {0, (long)ARK_MIN(sleep_ns, left)};
		nanosleep(&ts, NULL);
		if (sleep_ns < 10000000)
			sleep_ns *= 2;
	}
}

static void copy_out(struct ark_journal_record *rec, void *buf, size_t cap)
{
	size_t n = ARK_MIN((size_t)rec->len, cap);
	if (n)
		memcpy(buf, rec->payload, n);
	rec->payload = buf;
}

int ark_journal_find_seq(const char *dir, uint64_t seq, struct ark_journal_record *rec, void *buf,
			 size_t cap, struct ark_err *err)
{
	struct ark_journal_reader *r;
	int rc = ark_journal_reader_open(&r, dir, err);
	if (rc)
		return rc;
	if ((rc = ark_journal_reader_seek(r, seq, err)) == 0) {
		rc = ark_journal_reader_next(r, rec, err);
		if (rc == -EAGAIN || (rc == 0 && rec->seq != seq))
			rc = ark_err_set(err, -ENOENT, "journal: no record with seq %llu in %s",
					 (unsigned long long)seq, dir);
		else if (rc == 0)
			copy_out(rec, buf, cap);
	}
	ark_journal_reader_close(r);
	return rc;
}

int ark_journal_each(const char *journal_dir, uint64_t from,
		     int (*fn)(void *ctx, const struct ark_journal_record *rec), void *ctx, struct ark_err *err)
{
	struct ark_journal_reader *reader;
	int rc = ark_journal_reader_open(&reader, journal_dir, err);
	if (rc)
		return rc;
	rc = ark_journal_reader_seek(reader, from, err);
	if (rc == -ENOENT)
		rc = 0;   /* older records were retired: from the oldest kept */
	while (!rc) {
		struct ark_journal_record rec;
		rc = ark_journal_reader_next(reader, &rec, err);
		if (rc == -EAGAIN) {
			rc = 0;
			break;
		}
		if (!rc)
			rc = fn(ctx, &rec);
	}
	ark_journal_reader_close(reader);
	return rc < 0 ? rc : 0;
}
