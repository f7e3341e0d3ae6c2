/* store/journal_scan.c — sequential reading of one journal segment through a
 * window buffer (pread, never mmap: a segment may be cut by recovery while a
 * reader looks at it, and a cut mapping would SIGBUS). Used by recovery,
 * verify, the look-ups and the tail followers.
 *
 * Invariant: the window always holds whole bytes of the file as they were
 * when read; a record is handed out only after ark_journal_check_record
 * accepted it from the window.
 *
 * Resynchronising after damage costs O(segment size) whatever the damage
 * holds: each byte is read into the window about once (the window moves
 * forward, never back), and a candidate header is CRC-checked in constant
 * time: the CRC of any range of the window follows from the CRCs of its
 * prefixes (kept every 64 bytes when the window is filled) by CRC
 * combination (multiplying by x^(8n) mod P), so a fake header claiming a
 * 64 KB payload every 16 bytes costs a few hundred nanoseconds, not a 64 KB
 * CRC. Only headers whose record can be complete (magic, length within the
 * maximum and within the file, flags zero) get that far. */
#include "store/journal_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define SCAN_WINDOW ((1u << 20) + ARK_JOURNAL_MAX_PAYLOAD + ARK_JOURNAL_RECORD_HEADER_BYTES)
#define RECORD_MAX ((uint64_t)ARK_JOURNAL_RECORD_HEADER_BYTES + ARK_JOURNAL_MAX_PAYLOAD)
#define PREFIX_STEP 64u

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
	free(s->prefix);
	s->buf = NULL;
	s->prefix = NULL;
}

void ark_journal_scan_invalidate(struct ark_journal_scan *s)
{
	s->buf_len = 0;
	s->buf_off = 0;
	s->prefix_len = 0;
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
	s->prefix_len = 0;   /* the CRC prefixes were of the old window */
	s->bytes_read += got;
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

/* ---- CRC32C arithmetic for resync (reflected, as zlib's crc32_combine) ---- */

#define CRC32C_POLY 0x82f63b78u

/* a(x) * b(x) mod P(x), reflected; a must not be zero. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	uint32_t m = 1u << 31, p = 0;
	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ CRC32C_POLY : b >> 1;
	}
	return p;
}

/* x^(8n) mod P for every payload length n: what appending n bytes does to a
 * CRC. Built once per process (a few milliseconds), only when a damaged
 * segment needs a resync. */
static uint32_t x8n[ARK_JOURNAL_MAX_PAYLOAD + 1];
static pthread_once_t x8n_once = PTHREAD_ONCE_INIT;

static void build_x8n(void)
{
	x8n[0] = 1u << 31;                 /* x^0 */
	for (uint32_t n = 1; n <= ARK_JOURNAL_MAX_PAYLOAD; n++)
		x8n[n] = multmodp(1u << 23, x8n[n - 1]);   /* times x^8 */
}

/* crc(A || B) from crc(A), crc(B) and |B| (standard CRC32C, as ark_crc32c). */
static uint32_t crc_combine(uint32_t crc_a, uint32_t crc_b, uint32_t len_b)
{
	return multmodp(x8n[len_b], crc_a) ^ crc_b;
}

/* The CRC of the window's first `upto` bytes, from the prefix kept at the
 * 64-byte step below it. */
static uint32_t prefix_crc(const struct ark_journal_scan *s, size_t upto)
{
	size_t k = upto / PREFIX_STEP;
	return ark_crc32c(s->prefix[k], s->buf + k * PREFIX_STEP, upto - k * PREFIX_STEP);
}

/* The CRC of window bytes [from, to). */
static uint32_t range_crc(const struct ark_journal_scan *s, size_t from, size_t to)
{
	/* crc(AB) = combine(crc(A), crc(B), |B|), so crc(B) = crc(AB) ^ shift(crc(A), |B|). */
	return prefix_crc(s, to) ^ multmodp(x8n[to - from], prefix_crc(s, from));
}

static int build_prefixes(struct ark_journal_scan *s)
{
	size_t steps = s->cap / PREFIX_STEP + 1;
	if (!s->prefix && !(s->prefix = malloc(steps * sizeof *s->prefix)))
		return -ENOMEM;
	uint32_t crc = 0;
	s->prefix[0] = 0;
	for (size_t k = 1; k * PREFIX_STEP <= s->buf_len; k++) {
		crc = ark_crc32c(crc, s->buf + (k - 1) * PREFIX_STEP, PREFIX_STEP);
		s->prefix[k] = crc;
	}
	s->prefix_len = s->buf_len;
	s->bytes_hashed += s->buf_len;
	return 0;
}

/* Is there a whole, CRC-valid record at window offset at? Constant time. */
static bool record_valid_at(struct ark_journal_scan *s, size_t at)
{
	struct ark_journal_record_header h;
	memcpy(&h, s->buf + at, sizeof h);
	if (h.magic != ARK_JOURNAL_RECORD_MAGIC || h.len > ARK_JOURNAL_MAX_PAYLOAD || h.flags != 0)
		return false;
	if (at + sizeof h + h.len > s->buf_len)
		return false;   /* cannot be complete: the file ends first */
	s->candidates++;
	/* The record's CRC covers header bytes 0..23, then the payload. */
	uint32_t head = ark_crc32c(0, s->buf + at, offsetof(struct ark_journal_record_header, crc));
	size_t p = at + sizeof h;
	return crc_combine(head, range_crc(s, p, p + h.len), h.len) == h.crc;
}

uint64_t ark_journal_scan_resync(struct ark_journal_scan *s, uint64_t from)
{
	static const uint8_t magic[4] = {'A', 'R', 'K', 'R'};
	pthread_once(&x8n_once, build_x8n);
	uint64_t off = from;
	while (off + ARK_JOURNAL_RECORD_HEADER_BYTES <= s->size) {
		/* Room in the window for a whole record at every candidate
		 * looked at: re-read only when the window's end comes near. */
		int64_t avail = window(s, off, RECORD_MAX);
		if (avail < (int64_t)ARK_JOURNAL_RECORD_HEADER_BYTES)
			break;
		bool to_end = s->buf_off + s->buf_len >= s->size;
		size_t start = (size_t)(off - s->buf_off);
		/* Candidates may start before `limit`; past it the window may
		 * not hold their whole record (unless it reaches the file's end). */
		size_t limit = to_end || s->buf_len <= RECORD_MAX ? s->buf_len - ARK_JOURNAL_RECORD_HEADER_BYTES + 1
							     : s->buf_len - (size_t)RECORD_MAX + 1;
		if (limit <= start)
			break;   /* nothing whole fits after off: the file ended (or shrank) */
		if (s->prefix_len != s->buf_len && build_prefixes(s) != 0) {
			/* No memory for the prefixes: fall back to one record at a time. */
			for (size_t at = start; at < limit; at++) {
				struct ark_journal_record_header h;
				const uint8_t *payload;
				uint64_t next;
				const char *why;
				if (s->buf[at] == 'A' &&
				    ark_journal_scan_at(s, s->buf_off + at, &h, &payload, &next, &why) == ARK_SCAN_RECORD)
					return s->buf_off + at;
			}
			off = s->buf_off + limit;
			continue;
		}
		size_t at = start;
		for (;;) {
			/* The magic may straddle `limit`: look 3 bytes past it. */
			size_t span = ARK_MIN(limit + 3, s->buf_len) - at;
			const uint8_t *hit = memmem(s->buf + at, span, magic, sizeof magic);
			if (!hit || (size_t)(hit - s->buf) >= limit) {
				at = limit;
				break;
			}
			at = (size_t)(hit - s->buf);
			if (record_valid_at(s, at))
				return s->buf_off + at;
			at++;
		}
		off = s->buf_off + at;
	}
	return s->size;
}
