/* store/journal_writer.h — private: the journal writer's state, shared by
 * journal.c (append, batching, syncs) and journal_recover.c (open and
 * recovery). */
#ifndef ARK_STORE_JOURNAL_WRITER_H
#define ARK_STORE_JOURNAL_WRITER_H

#include "store/journal_io.h"

#define ARK_JOURNAL_MAX_CHUNKS 64

struct ark_journal_seg {
	int fd;
	uint64_t first_seq;     /* from the name */
	uint64_t size;          /* bytes placed in the file, buffered ones included */
	uint64_t last_seq;
	bool has_records;
	bool dir_synced;        /* its directory entry is durable */
	char name[64];
};

struct ark_journal_chunk {
	uint8_t *data;
	uint32_t used;          /* bytes appended */
	uint32_t submitted;     /* bytes handed to a write */
	uint32_t completed;     /* bytes the kernel has */
	int seg;                /* slot in segq */
	uint64_t file_offset;   /* of data[0] in its segment */
	uint64_t last_seq;      /* of the last record placed in this chunk */
	uint32_t last_record_at; /* offset in data of that record */
};

struct ark_journal_sealed {
	char name[64];
	uint64_t first_seq;
	uint64_t bytes;
	uint64_t mtime_ns;      /* realtime of its last write */
};

struct ark_journal {
	struct ark_store_config cfg;
	int dir_fd;
	int lock_fd;
	struct ark_jio io;

	/* the buffer: chunks used in order; [head_ctr, fill_ctr] are in use */
	uint8_t *buffer;
	uint64_t buffer_bytes;
	uint32_t chunk_bytes;
	uint32_t nchunks;
	struct ark_journal_chunk chunks[ARK_JOURNAL_MAX_CHUNKS];
	uint64_t head_ctr, write_ctr, fill_ctr;

	/* segments with buffered or unsynced data, oldest first; the newest
	 * is the active one. Writes to a segment start only after every
	 * older one is sealed (fdatasync done), so after any crash only the
	 * newest segment can have a torn tail. */
	struct ark_journal_seg segq[ARK_JOURNAL_MAX_CHUNKS + 1];
	uint32_t segq_head, segq_count;

	/* sealed segments on disk, oldest first, for retention */
	struct ark_journal_sealed *sealed;
	size_t sealed_count, sealed_cap;
	uint64_t sealed_bytes;

	/* one write and one sync (with an optional linked dir fsync) in flight */
	bool write_inflight;
	uint64_t write_ctr_start;
	uint32_t write_nchunks;
	uint32_t write_bytes[ARK_JOURNAL_MAX_CHUNKS];
	uint64_t write_last_seq;
	uint64_t write_total;
	struct ark_journal_position write_pos;   /* where the write in flight ends */
	struct ark_journal_position written_pos; /* where the last complete write ended */
	struct iovec iov[ARK_JOURNAL_MAX_CHUNKS];

	bool sync_inflight;
	int sync_cqes_pending;
	int sync_seg;           /* slot */
	bool sync_seals;        /* closes the segment when done */
	bool sync_with_dir;
	uint64_t sync_last_seq;
	int sync_result;

	/* what is wanted */
	bool need_write_partial;
	uint64_t need_sync_seq;
	uint64_t next_tick_ns;
	uint64_t next_retain_ns;
	uint32_t appends_since_check;
	bool unsynced_sealed;   /* none mode sealed segments without fdatasync */
	uint32_t idle_rounds;   /* wait_some rounds in a row without progress */

	bool has_records;
	uint64_t last_seq, written_seq, durable_seq;
	int failed;             /* first fatal I/O error (negative) */
	char failed_msg[256];

	struct ark_journal_stats stats;
};

/* journal_scan.c: sequential reading of one segment file with a window
 * buffer. The size is a snapshot (refresh it to follow a growing file). */
struct ark_journal_scan {
	int fd;
	uint64_t size;
	uint8_t *buf;
	size_t cap;
	uint64_t buf_off;
	size_t buf_len;
	/* Resync only: CRC32C of the window's first 64k bytes, k = 0.. (valid
	 * for prefix_len bytes of the window; 0: not built). */
	uint32_t *prefix;
	size_t prefix_len;
	/* Work done, for the tests that hold resync to linear time. */
	uint64_t bytes_read;       /* read into the window */
	uint64_t bytes_hashed;     /* CRC'd for the prefixes */
	uint64_t candidates;       /* headers that could be complete, checked */
};
enum { ARK_SCAN_RECORD = 1, ARK_SCAN_END = 0, ARK_SCAN_INVALID = -1, ARK_SCAN_INCOMPLETE = -2,
       ARK_SCAN_IO_ERROR = -3 };
int ark_journal_scan_init(struct ark_journal_scan *s, int fd, uint64_t size);
void ark_journal_scan_free(struct ark_journal_scan *s);
void ark_journal_scan_invalidate(struct ark_journal_scan *s);
/* Look at the record at off: ARK_SCAN_RECORD with *h, *payload and *next;
 * ARK_SCAN_END when off == size; INVALID/INCOMPLETE with *why (and *h
 * filled as far as the header was readable, h->seq 0 otherwise). */
int ark_journal_scan_at(struct ark_journal_scan *s, uint64_t off, struct ark_journal_record_header *h,
			const uint8_t **payload, uint64_t *next, const char **why);
/* The offset of the next CRC-valid record at or after from (size if none),
 * in time linear in the bytes passed over. */
uint64_t ark_journal_scan_resync(struct ark_journal_scan *s, uint64_t from);
/* Read and check the segment header (0, or -1 with *why). */
int ark_journal_scan_header(struct ark_journal_scan *s, struct ark_journal_segment_header *h,
			    const char **why);

/* journal_recover.c */
int ark_journal_recover(struct ark_journal *j, const struct ark_journal_position *resume, struct ark_journal_recovery *rec,
			struct ark_err *err);

#endif /* ARK_STORE_JOURNAL_WRITER_H */
