/* store/journal_verify.c — `ark journal verify`'s engine: every segment
 * header, every record's CRC32C, seq order and gaps, across all segments.
 *
 * Invariant: every byte of every segment is either inside a valid record or
 * reported inside a problem; after a bad record the scan resynchronises on
 * the next CRC-valid record, so one flipped bit is reported once and every
 * record after it is still checked. An incomplete tail of the newest segment
 * is "in progress" while a writer holds the lock, damage otherwise (it is a
 * torn write that the next open for writing cuts). */
#include "store/journal_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct verify_state {
	struct ark_journal_verify_result *res;
	void (*cb)(void *, const struct ark_journal_problem *);
	void *ctx;
	bool have_prev;
	uint64_t prev_seq;
};

static void problem(struct verify_state *v, enum ark_journal_problem_kind kind, const char *segment,
		    uint64_t offset, uint64_t seq, uint64_t expected, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void problem(struct verify_state *v, enum ark_journal_problem_kind kind, const char *segment,
		    uint64_t offset, uint64_t seq, uint64_t expected, const char *fmt, ...)
{
	struct ark_journal_problem p = {.kind = kind, .offset = offset, .seq = seq,
					.expected_seq = expected};
	snprintf(p.segment, sizeof p.segment, "%s", segment);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.detail, sizeof p.detail, fmt, ap);
	va_end(ap);
	if (kind == ARK_JOURNAL_SEQ_GAP) {
		v->res->gaps++;
		v->res->missing_seqs += seq - expected;
	} else if (kind != ARK_JOURNAL_TAIL_IN_PROGRESS) {
		v->res->damaged++;
	}
	if (v->cb)
		v->cb(v->ctx, &p);
}

static int verify_segment(struct verify_state *v, const char *dir,
			  const struct ark_journal_segment_info *si, bool newest, struct ark_err *err)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, si->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* deleted by retention while we looked */
		return ark_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	}
	struct stat st;
	fstat(fd, &st);
	struct ark_journal_scan s;
	if (ark_journal_scan_init(&s, fd, (uint64_t)st.st_size) != 0) {
		close(fd);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	v->res->segments++;
	v->res->bytes += (uint64_t)st.st_size;
	struct ark_journal_segment_header sh;
	const char *why = NULL;
	uint64_t off = ARK_JOURNAL_SEGMENT_HEADER_BYTES;
	if (ark_journal_scan_header(&s, &sh, &why) != 0) {
		if (newest && v->res->writer_active && (uint64_t)st.st_size < ARK_JOURNAL_SEGMENT_HEADER_BYTES)
			problem(v, ARK_JOURNAL_TAIL_IN_PROGRESS, si->name, 0, 0, 0, "segment being created");
		else
			problem(v, ARK_JOURNAL_BAD_SEGMENT_HEADER, si->name, 0, 0, 0, "%s", why);
	} else if (sh.first_seq != si->first_seq) {
		problem(v, ARK_JOURNAL_BAD_SEGMENT_HEADER, si->name, 0, sh.first_seq, si->first_seq,
			"header says first seq %llu, the file name %llu",
			(unsigned long long)sh.first_seq, (unsigned long long)si->first_seq);
	}
	int rc = 0;
	while (off < s.size) {
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		int r = ark_journal_scan_at(&s, off, &h, &payload, &next, &why);
		if (r == ARK_SCAN_IO_ERROR) {
			rc = ark_err_set(err, -EIO, "read error in %s at offset %llu", path,
					 (unsigned long long)off);
			break;
		}
		if (r == ARK_SCAN_RECORD) {
			v->res->records++;
			if (!v->have_prev)
				v->res->first_seq = h.seq;
			if (h.seq < si->first_seq)
				problem(v, ARK_JOURNAL_SEQ_NOT_INCREASING, si->name, off, h.seq, si->first_seq,
					"seq %llu is below the segment's first seq %llu",
					(unsigned long long)h.seq, (unsigned long long)si->first_seq);
			if (v->have_prev && h.seq <= v->prev_seq)
				problem(v, ARK_JOURNAL_SEQ_NOT_INCREASING, si->name, off, h.seq, v->prev_seq + 1,
					"seq %llu follows seq %llu", (unsigned long long)h.seq,
					(unsigned long long)v->prev_seq);
			else if (v->have_prev && h.seq != v->prev_seq + 1)
				problem(v, ARK_JOURNAL_SEQ_GAP, si->name, off, h.seq, v->prev_seq + 1,
					"seqs %llu to %llu are missing", (unsigned long long)(v->prev_seq + 1),
					(unsigned long long)(h.seq - 1));
			if (!v->have_prev || h.seq > v->prev_seq) {
				v->prev_seq = h.seq;
				v->res->last_seq = h.seq;
			}
			v->have_prev = true;
			off = next;
			continue;
		}
		/* bad or incomplete: where does the next good record start? */
		uint64_t resume = ark_journal_scan_resync(&s, off + 1);
		bool at_tail = resume >= s.size;
		uint64_t claimed = h.magic == ARK_JOURNAL_RECORD_MAGIC ? h.seq : 0;
		if (at_tail && newest && v->res->writer_active) {
			problem(v, ARK_JOURNAL_TAIL_IN_PROGRESS, si->name, off, claimed, 0,
				"%llu bytes at the tail being written (%s)",
				(unsigned long long)(s.size - off), why);
		} else if (at_tail && r == ARK_SCAN_INCOMPLETE) {
			problem(v, ARK_JOURNAL_BAD_RECORD, si->name, off, claimed,
				v->have_prev ? v->prev_seq + 1 : 0,
				"torn write: %s, %llu bytes at the tail after seq %llu "
				"(cut when the journal is next opened for writing)",
				why, (unsigned long long)(s.size - off), (unsigned long long)v->prev_seq);
		} else {
			problem(v, ARK_JOURNAL_BAD_RECORD, si->name, off, claimed,
				v->have_prev ? v->prev_seq + 1 : 0,
				"%s; record claims seq %llu, previous good seq %llu, %llu bytes skipped",
				why, (unsigned long long)claimed, (unsigned long long)v->prev_seq,
				(unsigned long long)(resume - off));
		}
		off = resume;
	}
	ark_journal_scan_free(&s);
	close(fd);
	return rc;
}

int ark_journal_verify(const char *dir, struct ark_journal_verify_result *res,
		       void (*on_problem)(void *ctx, const struct ark_journal_problem *problem),
		       void *ctx, struct ark_err *err)
{
	memset(res, 0, sizeof *res);
	struct stat st;
	if (stat(dir, &st) != 0)
		return ark_err_set(err, -errno, "journal directory '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ark_err_set(err, -ENOTDIR, "journal directory '%s' is not a directory", dir);
	struct ark_journal_segment_info *segs;
	size_t n;
	int rc = ark_journal_list_segments(dir, &segs, &n, err);
	if (rc)
		return rc;
	res->writer_active = ark_journal_writer_active(dir) == 1;
	struct verify_state v = {.res = res, .cb = on_problem, .ctx = ctx};
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = verify_segment(&v, dir, &segs[i], i + 1 == n, err);
	free(segs);
	return rc;
}
