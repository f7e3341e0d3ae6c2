/* store/journal_scan.c — sequential reading of one journal segment through a
 * window buffer (pread, never mmap: a segment may be cut by recovery while a
 * reader looks at it, and a cut mapping would SIGBUS). Used by recovery,
 * verify, the look-ups and the tail followers.
 *
 * Invariant: the window always holds whole bytes of the file as they were
 * when read; a record is handed out only after ark_journal_check_record
 * accepted it from the window. */
#include "store/journal_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define SCAN_WINDOW ((1u << 20) + ARK_JOURNAL_MAX_PAYLOAD + ARK_JOURNAL_RECORD_HEADER_BYTES)

int ark_journal_scan_init(struct ark_journal_scan *s, int fd, uint64_t size)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->size = size;
	s->cap = SCAN_WINDOW;
	s->buf = malloc(s->cap);
	return s->buf ? 0 : -ENOMEM;
}

void ark_journal_scan_free(struct ark_journal_scan *s)
{
	free(s->buf);
	s->buf = NULL;
}

void ark_journal_scan_invalidate(struct ark_journal_scan *s)
{
	s->buf_len = 0;
	s->buf_off = 0;
}

/* Make [off, off+need) available if the file (up to size) has it; returns
 * the bytes available from off in the window (≤ size - off), or -errno. */
static int64_t window(struct ark_journal_scan *s, uint64_t off, uint64_t need)
{
	uint64_t avail_file = s->size > off ? s->size - off : 0;
	if (need > avail_file)
		need = avail_file;
	if (off >= s->buf_off && off + need <= s->buf_off + s->buf_len)
		return (int64_t)(s->buf_off + s->buf_len - off);
	size_t want = (size_t)ARK_MIN((uint64_t)s->cap, avail_file);
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(s->fd, s->buf + got, want - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break; /* the file is shorter than size said */
		got += (size_t)r;
	}
	s->buf_off = off;
	s->buf_len = got;
	return (int64_t)got;
}

int ark_journal_scan_header(struct ark_journal_scan *s, struct ark_journal_segment_header *h,
			    const char **why)
{
	/* Read just the header: a restart resuming at a known position must not
	 * pay for a whole window from the start of a large segment. */
	ssize_t r;
	do
		r = pread(s->fd, h, sizeof *h, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		*why = "cannot read the segment header";
		return -1;
	}
	if ((uint64_t)r < sizeof *h || s->size < sizeof *h) {
		*why = "segment header incomplete";
		return -1;
	}
	return ark_journal_check_segment_header(h, why);
}

int ark_journal_scan_at(struct ark_journal_scan *s, uint64_t off, struct ark_journal_record_header *h,
			const uint8_t **payload, uint64_t *next, const char **why)
{
	memset(h, 0, sizeof *h);
	if (off >= s->size)
		return ARK_SCAN_END;
	int64_t avail = window(s, off, ARK_JOURNAL_RECORD_HEADER_BYTES);
	if (avail < 0) {
		*why = "read error";
		return ARK_SCAN_IO_ERROR;
	}
	const uint8_t *p = s->buf + (off - s->buf_off);
	if ((uint64_t)avail >= sizeof *h) {
		memcpy(h, p, sizeof *h);
		if (h->magic == ARK_JOURNAL_RECORD_MAGIC && h->len <= ARK_JOURNAL_MAX_PAYLOAD) {
			avail = window(s, off, sizeof *h + h->len);
			if (avail < 0) {
				*why = "read error";
				return ARK_SCAN_IO_ERROR;
			}
			p = s->buf + (off - s->buf_off);
		}
	}
	int64_t n = ark_journal_check_record(p, (uint64_t)avail, why);
	if (n < 0)
		return ARK_SCAN_INVALID;
	if (n == 0)
		return ARK_SCAN_INCOMPLETE;
	*payload = p + sizeof *h;
	*next = off + (uint64_t)n;
	return ARK_SCAN_RECORD;
}

uint64_t ark_journal_scan_resync(struct ark_journal_scan *s, uint64_t from)
{
	static const uint8_t magic[4] = {'A', 'R', 'K', 'R'};
	uint64_t off = from;
	while (off + ARK_JOURNAL_RECORD_HEADER_BYTES <= s->size) {
		int64_t avail = window(s, off, s->cap);
		if (avail < (int64_t)ARK_JOURNAL_RECORD_HEADER_BYTES)
			break;
		const uint8_t *base = s->buf + (off - s->buf_off);
		const uint8_t *hit = memmem(base, (size_t)avail, magic, sizeof magic);
		if (!hit) {
			off += (uint64_t)avail - 3; /* a magic may straddle the window */
			continue;
		}
		uint64_t at = off + (uint64_t)(hit - base);
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		const char *why;
		if (ark_journal_scan_at(s, at, &h, &payload, &next, &why) == ARK_SCAN_RECORD)
			return at;
		off = at + 1;
	}
	return s->size;
}
