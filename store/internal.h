/* store/internal.h — what the store's .c files share and nobody else sees:
 * the on-disk journal layout helpers, segment listing and small utilities.
 * Not part of the interface (that is store/store.h). */
#ifndef ARK_STORE_INTERNAL_H
#define ARK_STORE_INTERNAL_H

#include "store/store.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

void ark_store_log(const struct ark_store_config *cfg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ark_store_fsync_dir(const char *dir, struct ark_err *err);
void ark_store_format_utc(uint64_t realtime_ns, bool with_ms, char *out, size_t cap);

/* ---- journal layout ---- */

struct ark_journal_segment_header {
	uint64_t magic;          /* ARK_JOURNAL_SEGMENT_MAGIC */
	uint32_t version;        /* ARK_JOURNAL_VERSION */
	uint32_t header_bytes;   /* ARK_JOURNAL_SEGMENT_HEADER_BYTES */
	uint64_t first_seq;      /* also in the file name */
	uint64_t created_realtime_ns;
	uint64_t reserved[3];
	uint32_t reserved32;
	uint32_t crc;            /* CRC32C of bytes 0..59 */
};
_Static_assert(sizeof(struct ark_journal_segment_header) == ARK_JOURNAL_SEGMENT_HEADER_BYTES,
	       "segment header is 64 bytes");

struct ark_journal_record_header {
	uint32_t magic;          /* ARK_JOURNAL_RECORD_MAGIC */
	uint32_t len;            /* payload bytes */
	uint64_t seq;
	uint64_t trace_id;
	uint32_t crc;            /* CRC32C of bytes 0..23, then the payload */
	uint32_t flags;          /* 0; reserved, covered by nothing, must be 0 */
};
_Static_assert(sizeof(struct ark_journal_record_header) == ARK_JOURNAL_RECORD_HEADER_BYTES,
	       "record header is 32 bytes");

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the journal format is little-endian; add byte swapping for this target"
#endif

static inline uint32_t ark_journal_record_crc(const struct ark_journal_record_header *h,
					      const void *payload)
{
	uint32_t crc = ark_crc32c(0, h, 24);
	return ark_crc32c(crc, payload, h->len);
}

/* Validate a record at p with `avail` bytes available. Returns the record's
 * total size, 0 when incomplete (more bytes needed: avail too short for what
 * the header claims, or the header itself), -1 when invalid. why gets a reason. */
int64_t ark_journal_check_record(const uint8_t *p, uint64_t avail, const char **why);
void ark_journal_fill_segment_header(struct ark_journal_segment_header *h, uint64_t first_seq,
				     uint64_t created_ns);
/* 0 ok, -1 bad (why filled). */
int ark_journal_check_segment_header(const struct ark_journal_segment_header *h, const char **why);

/* Segments of a journal directory, sorted by first seq. */
struct ark_journal_segment_info {
	char name[64];
	uint64_t first_seq;
	uint64_t bytes;
	uint64_t mtime_ns;
};
/* Lists "<20 digits>.arkj" files. *list is malloc'd (free it). */
int ark_journal_list_segments(const char *dir, struct ark_journal_segment_info **list,
			      size_t *count, struct ark_err *err);
void ark_journal_segment_name(uint64_t first_seq, char *out, size_t cap);
/* 1 when a writer holds the journal's lock, 0 when not, negative on error. */
int ark_journal_writer_active(const char *dir);

#endif /* ARK_STORE_INTERNAL_H */
