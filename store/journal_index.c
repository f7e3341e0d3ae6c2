/* store/journal_index.c — the journal's trace-id index: a look-up of a trace
 * costs a few hash probes, not a scan of the journal.
 *
 * Beside each segment "<first seq>.arkj" lies "<first seq>.arkx": a 4 KiB
 * header and an open-addressing hash table of (trace id, record offset)
 * slots, sized for twice the records the segment can hold (load at most
 * 1/2 for events; past 3/4 the index stops and says so). One writer — the
 * indexer thread that Aletheia runs beside its journal, off the ring path —
 * follows the segments' bytes as they reach the kernel and inserts each
 * record; any process may look up through a read-only mapping.
 *
 * Invariants:
 * - every record of the segment before header.indexed_to is in the table
 *   (a slot's offset is stored with release after its trace id, and
 *   indexed_to with release after its records' slots: a reader that loads
 *   indexed_to with acquire sees them all);
 * - the trace ids in the table lie within [lo, hi] of their class (bit 47,
 *   the ingest API's ids, apart from the others: each class grows with the
 *   journal, so a segment's ranges exclude nearly every id it does not hold);
 * - a table is trusted only when written in this boot, or SYNCED (complete
 *   and on disk before the flag was set; the indexer syncs complete tables
 *   when it has nothing else to do): after a machine crash anything else
 *   is rebuilt, never believed;
 * - a sidecar is replaced by rename, never truncated, so a reader's mapping
 *   stays valid;
 * - a hit is a hint until the record at its offset has been read back with
 *   a good CRC and the same trace id; bytes past indexed_to are scanned.
 *
 * A look-up: list the segments, newest first; per segment, check the
 * class's range and probe (O(1)), then scan what the indexer has not
 * reached yet (milliseconds of records on the active segment); stop at the
 * first hit. A segment without a usable index is scanned whole. */
#include "store/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INDEX_MAGIC 0x31584449544b5241ull /* "ARKTIDX1" */
#define INDEX_VERSION 1u
#define INDEX_HEADER_BYTES 4096u
#define INDEX_SUFFIX ".arkx"
#define INDEX_MIN_SLOTS 1024u
#define EVENT_RECORD_BYTES (ARK_JOURNAL_RECORD_HEADER_BYTES + 256u)
#define READ_CHUNK (1u << 20)

enum { INDEX_COMPLETE = 1u, INDEX_OVERFLOW = 2u, INDEX_SYNCED = 4u };

struct index_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_bytes;
	uint64_t segment_first_seq;
	uint64_t slots;                  /* a power of two */
	char boot_id[40];                /* the boot it was written in */
	_Atomic uint64_t indexed_to;     /* records below this offset are all in the table */
	_Atomic uint64_t entries;
	_Atomic uint32_t flags;          /* INDEX_COMPLETE, INDEX_OVERFLOW, INDEX_SYNCED */
	uint32_t reserved;
	_Atomic uint64_t lo[2], hi[2];   /* trace id range per class (bit 47); lo > hi: none */
	_Atomic uint64_t last_record_offset;   /* the last record indexed, checked on resume */
	_Atomic uint64_t last_record_seq;
	_Atomic uint32_t last_record_crc;      /* (a cut tail rewritten with other records at the same offsets) */
};
_Static_assert(sizeof(struct index_header) <= INDEX_HEADER_BYTES, "index header fits its page");

struct index_slot {
	_Atomic uint64_t trace_id;
	_Atomic uint64_t offset;         /* of the record header; 0: empty */
};

static uint64_t slot_hash(uint64_t id, uint64_t mask)
{
	return (id * 0x9e3779b97f4a7c15ull) >> 17 & mask;
}

static int id_class(uint64_t id)
{
	return (int)(id >> 47 & 1);
}

static void boot_id(char out[40])
{
	memset(out, 0, 40);
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, out, 39);
		close(fd);
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\0'))
			out[--n] = '\0';
	}
}

static void index_name(const char *segment, char *out, size_t cap)
{
	size_t n = strlen(segment);
	size_t base = n > strlen(ARK_JOURNAL_SEGMENT_SUFFIX) ? n - strlen(ARK_JOURNAL_SEGMENT_SUFFIX) : n;
	snprintf(out, cap, "%.*s%s", (int)base, segment, INDEX_SUFFIX);
}

static size_t index_bytes(uint64_t slots)
{
	return INDEX_HEADER_BYTES + (size_t)slots * sizeof(struct index_slot);
}

static uint64_t slots_for(uint64_t segment_bytes)
{
	uint64_t records = segment_bytes / EVENT_RECORD_BYTES + 1;
	uint64_t slots = INDEX_MIN_SLOTS;
	while (slots < 2 * records && slots < (1ull << 32))
		slots <<= 1;
	return slots;
}

/* Read exactly n bytes at off (short at the end of the file); bytes read. */
static size_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static uint64_t fd_size(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ------------------------------------------------------------------------ */
/* The writer: the indexer                                                   */
/* ------------------------------------------------------------------------ */

struct writer_seg {
	char name[64];
	uint64_t first_seq;
	uint64_t listed_bytes;           /* its size when last listed */
	int seg_fd;
	struct index_header *hdr;        /* the sidecar, mapped read-write; NULL: none yet */
	struct index_slot *slots;
	size_t map_bytes;
	bool done;                       /* complete (or overflowed): nothing more to do */
	bool synced;                     /* its table is on disk (INDEX_SYNCED) */
};

struct ark_trace_indexer {
	char dir[PATH_MAX];
	uint64_t slots;
	char boot[40];
	struct writer_seg *segs;
	size_t nsegs;
	uint8_t *buf;
	uint64_t last_list_ns;
	pthread_t thread;
	bool started;
	_Atomic int stop;
	_Atomic uint64_t indexed;        /* records inserted since start */
	_Atomic uint64_t passes;
	bool error_logged;
};

static void writer_seg_close(struct writer_seg *s)
{
	if (s->hdr)
		munmap(s->hdr, s->map_bytes);
	if (s->seg_fd >= 0)
		close(s->seg_fd);
	s->hdr = NULL;
	s->slots = NULL;
	s->seg_fd = -1;
}

/* A fresh, empty sidecar, put in place by rename (never over a mapping
 * someone reads: they keep the old file). */
static int create_index(struct ark_trace_indexer *ix, struct writer_seg *s, struct ark_err *err)
{
	char name[80], path[PATH_MAX + 96], tmp[PATH_MAX + 112];
	index_name(s->name, name, sizeof name);
	snprintf(path, sizeof path, "%s/%s", ix->dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ark_err_set(err, -errno, "trace index: cannot create %s: %s", tmp, strerror(errno));
	size_t bytes = index_bytes(ix->slots);
	/* Blocks allocated and pages mapped up front: faulting a sparse file
	 * in page by page, block allocation and all, cost more than the
	 * indexing itself. */
	int frc = posix_fallocate(fd, 0, (off_t)bytes);
	if (frc != 0 && ftruncate(fd, (off_t)bytes) != 0) {
		int rc = -errno;
		close(fd);
		unlink(tmp);
		return ark_err_set(err, rc, "trace index: cannot size %s: %s", tmp, strerror(-rc));
	}
	void *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		unlink(tmp);
		return ark_err_set(err, -errno, "trace index: cannot map %s: %s", tmp, strerror(errno));
	}
	struct index_header *h = map;
	h->magic = INDEX_MAGIC;
	h->version = INDEX_VERSION;
	h->header_bytes = INDEX_HEADER_BYTES;
	h->segment_first_seq = s->first_seq;
	h->slots = ix->slots;
	memcpy(h->boot_id, ix->boot, sizeof h->boot_id);
	for (int c = 0; c < 2; c++) {
		atomic_store(&h->lo[c], UINT64_MAX);
		atomic_store(&h->hi[c], 0);
	}
	atomic_store(&h->indexed_to, ARK_JOURNAL_SEGMENT_HEADER_BYTES);
	if (rename(tmp, path) != 0) {
		int rc = -errno;
		munmap(map, bytes);
		unlink(tmp);
		return ark_err_set(err, rc, "trace index: cannot put %s in place: %s", path, strerror(-rc));
	}
	if (s->hdr)
		munmap(s->hdr, s->map_bytes);
	s->hdr = h;
	s->slots = (struct index_slot *)((char *)map + INDEX_HEADER_BYTES);
	s->map_bytes = bytes;
	s->done = false;
	return 0;
}

/* An existing sidecar this writer may go on with: same layout, written in
 * this boot (or complete), and its last indexed record still there. */
static bool resume_index(struct ark_trace_indexer *ix, struct writer_seg *s)
{
	char name[80], path[PATH_MAX + 96];
	index_name(s->name, name, sizeof name);
	snprintf(path, sizeof path, "%s/%s", ix->dir, name);
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct index_header h;
	bool ok = pread_full(fd, &h, sizeof h, 0) == sizeof h && h.magic == INDEX_MAGIC && h.version == INDEX_VERSION &&
		  h.header_bytes == INDEX_HEADER_BYTES && h.segment_first_seq == s->first_seq && h.slots >= INDEX_MIN_SLOTS &&
		  (h.slots & (h.slots - 1)) == 0 && fd_size(fd) == index_bytes(h.slots);
	bool synced = ok && (atomic_load(&h.flags) & INDEX_SYNCED);
	ok = ok && (synced || memcmp(h.boot_id, ix->boot, sizeof h.boot_id) == 0);
	void *map = MAP_FAILED;
	if (ok)
		map = mmap(NULL, index_bytes(h.slots), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	struct index_header *mh = map;
	s->hdr = mh;
	s->slots = (struct index_slot *)((char *)map + INDEX_HEADER_BYTES);
	s->map_bytes = index_bytes(h.slots);
	s->done = (atomic_load(&mh->flags) & (INDEX_COMPLETE | INDEX_OVERFLOW)) != 0;
	s->synced = (atomic_load(&mh->flags) & INDEX_SYNCED) != 0;
	if (s->done)
		return true;
	/* The segment may have been cut since (a torn tail after a crash):
	 * the last record indexed must still be there, the same. */
	uint64_t last = atomic_load(&mh->last_record_offset), to = atomic_load(&mh->indexed_to);
	if (last) {
		uint8_t rec[ARK_JOURNAL_RECORD_HEADER_BYTES + ARK_JOURNAL_MAX_PAYLOAD];
		size_t got = pread_full(s->seg_fd, rec, to - last <= sizeof rec ? to - last : 0, last);
		const char *why;
		struct ark_journal_record_header rh;
		memcpy(&rh, rec, sizeof rh);
		if (got != to - last || got < sizeof rh || ark_journal_check_record(rec, got, &why) != (int64_t)got ||
		    rh.seq != atomic_load(&mh->last_record_seq) || rh.crc != atomic_load(&mh->last_record_crc)) {
			writer_seg_close(s);
			s->seg_fd = -1;
			return false;
		}
	} else if (to > fd_size(s->seg_fd)) {
		return false;
	}
	return true;
}

static void mark_overflow(struct writer_seg *s)
{
	atomic_fetch_or(&s->hdr->flags, INDEX_OVERFLOW);
	s->done = true;
}

static bool insert(struct writer_seg *s, uint64_t id, uint64_t offset)
{
	struct index_header *h = s->hdr;
	uint64_t mask = h->slots - 1;
	if (atomic_load_explicit(&h->entries, memory_order_relaxed) >= h->slots / 4 * 3)
		return false;
	for (uint64_t i = slot_hash(id, mask), n = 0; n < h->slots; n++, i = (i + 1) & mask) {
		struct index_slot *slot = &s->slots[i];
		uint64_t off = atomic_load_explicit(&slot->offset, memory_order_relaxed);
		if (off == offset)
			return true;
		if (off)
			continue;
		atomic_store_explicit(&slot->trace_id, id, memory_order_relaxed);
		atomic_store_explicit(&slot->offset, offset, memory_order_release);
		atomic_store_explicit(&h->entries, atomic_load_explicit(&h->entries, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		int c = id_class(id);
		if (id < atomic_load_explicit(&h->lo[c], memory_order_relaxed))
			atomic_store_explicit(&h->lo[c], id, memory_order_relaxed);
		if (id > atomic_load_explicit(&h->hi[c], memory_order_relaxed))
			atomic_store_explicit(&h->hi[c], id, memory_order_relaxed);
		return true;
	}
	return false;
}

/* Index the segment's records from indexed_to as far as its bytes go (or
 * budget bytes). sealed: a newer segment has data, so this one is final.
 * Returns the records indexed. */
static uint64_t index_segment(struct ark_trace_indexer *ix, struct writer_seg *s, bool sealed, uint64_t budget)
{
	struct index_header *h = s->hdr;
	uint64_t off = atomic_load(&h->indexed_to);
	uint64_t size = fd_size(s->seg_fd);
	uint64_t done = 0, end_budget = off + budget;
	while (off < size && off < end_budget && !atomic_load_explicit(&ix->stop, memory_order_relaxed)) {
		size_t want = size - off < READ_CHUNK ? (size_t)(size - off) : READ_CHUNK;
		size_t got = pread_full(s->seg_fd, ix->buf, want, off);
		if (got == 0)
			break;
		size_t at = 0;
		bool stalled = false;
		while (at < got) {
			const char *why;
			int64_t n = ark_journal_check_record(ix->buf + at, got - at, &why);
			if (n == 0) {
				if (at == 0 && got == READ_CHUNK) {
					stalled = true;   /* cannot happen: a record is at most 64 KiB */
					break;
				}
				break;   /* the rest of the record is in the next read */
			}
			if (n < 0) {
				/* Damage (or, on the active segment, a write not yet
				 * whole): a sealed segment is indexed past it, on the
				 * next valid record; the active one waits. */
				if (!sealed) {
					stalled = true;
					break;
				}
				at++;
				continue;
			}
			struct ark_journal_record_header rh;
			memcpy(&rh, ix->buf + at, sizeof rh);
			if (!insert(s, rh.trace_id, off + at)) {
				atomic_store_explicit(&h->indexed_to, off + at, memory_order_release);
				mark_overflow(s);
				return done;
			}
			atomic_store_explicit(&h->last_record_offset, off + at, memory_order_relaxed);
			atomic_store_explicit(&h->last_record_seq, rh.seq, memory_order_relaxed);
			atomic_store_explicit(&h->last_record_crc, rh.crc, memory_order_relaxed);
			at += (size_t)n;
			done++;
		}
		off += at;
		atomic_store_explicit(&h->indexed_to, off, memory_order_release);
		if (stalled || at == 0)
			break;
	}
	if (sealed && off >= size && !s->done) {
		/* Final (trusted in this boot; on disk later, see sync_one). */
		atomic_fetch_or(&h->flags, INDEX_COMPLETE);
		s->done = true;
	}
	atomic_fetch_add(&ix->indexed, done);
	return done;
}

/* When there is nothing to index: one complete table to disk, and only
 * then the flag that lets a later boot trust it. Returns true if it did. */
static bool sync_one(struct ark_trace_indexer *ix)
{
	for (size_t i = 0; i < ix->nsegs; i++) {
		struct writer_seg *s = &ix->segs[i];
		if (!s->hdr || s->synced || !(atomic_load(&s->hdr->flags) & INDEX_COMPLETE))
			continue;
		msync(s->hdr, s->map_bytes, MS_SYNC);
		atomic_fetch_or(&s->hdr->flags, INDEX_SYNCED);
		msync(s->hdr, INDEX_HEADER_BYTES, MS_SYNC);
		s->synced = true;
		return true;
	}
	return false;
}

/* Sidecars whose segment is gone (retention, an operator) are removed. */
static void remove_orphans(struct ark_trace_indexer *ix)
{
	DIR *d = opendir(ix->dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= strlen(INDEX_SUFFIX) || strcmp(e->d_name + n - strlen(INDEX_SUFFIX), INDEX_SUFFIX) != 0)
			continue;
		char seg[128];
		snprintf(seg, sizeof seg, "%.*s%s", (int)(n - strlen(INDEX_SUFFIX)), e->d_name, ARK_JOURNAL_SEGMENT_SUFFIX);
		if (faccessat(dirfd(d), seg, F_OK, 0) != 0 && errno == ENOENT)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* Bring the segment list up to date: new segments get an entry, gone ones
 * are dropped. */
static int refresh_segments(struct ark_trace_indexer *ix, struct ark_err *err)
{
	struct ark_journal_segment_info *list;
	size_t n;
	int rc = ark_journal_list_segments(ix->dir, &list, &n, err);
	if (rc)
		return rc;
	struct writer_seg *segs = calloc(n ? n : 1, sizeof *segs);
	if (!segs) {
		free(list);
		return ark_err_set(err, -ENOMEM, "trace index: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		segs[i].seg_fd = -1;
		snprintf(segs[i].name, sizeof segs[i].name, "%s", list[i].name);
		segs[i].first_seq = list[i].first_seq;
		for (size_t j = 0; j < ix->nsegs; j++)
			if (ix->segs[j].first_seq == list[i].first_seq && ix->segs[j].seg_fd >= 0) {
				segs[i] = ix->segs[j];
				ix->segs[j].seg_fd = -1;
				ix->segs[j].hdr = NULL;
			}
		segs[i].listed_bytes = list[i].bytes;
	}
	for (size_t j = 0; j < ix->nsegs; j++)
		writer_seg_close(&ix->segs[j]);
	free(ix->segs);
	free(list);
	ix->segs = segs;
	ix->nsegs = n;
	if (n)
		remove_orphans(ix);
	return 0;
}

/* One pass: the active segment first (fresh ids matter most), then the
 * older ones newest first, within a budget so the active one stays fresh. */
static int index_pass(struct ark_trace_indexer *ix, uint64_t backlog_budget, uint64_t *indexed, struct ark_err *err)
{
	*indexed = 0;
	uint64_t now = ark_now_ns();
	if (!ix->nsegs || now - ix->last_list_ns > 20ull * 1000 * 1000) {
		int rc = refresh_segments(ix, err);
		if (rc)
			return rc;
		ix->last_list_ns = now;
	}
	for (size_t k = 0; k < ix->nsegs && !atomic_load_explicit(&ix->stop, memory_order_relaxed); k++) {
		struct writer_seg *s = &ix->segs[ix->nsegs - 1 - k];
		/* Final only once the next segment has data: the writer starts a
		 * segment only after the one before is sealed (its file may exist
		 * earlier, empty). */
		bool sealed = k > 0 && ix->segs[ix->nsegs - k].listed_bytes > 0;
		if (s->done)
			continue;
		if (s->seg_fd < 0) {
			char path[PATH_MAX + 80];
			snprintf(path, sizeof path, "%s/%s", ix->dir, s->name);
			s->seg_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (s->seg_fd < 0)
				continue;   /* deleted by retention meanwhile */
		}
		if (!s->hdr && !resume_index(ix, s)) {
			if (s->seg_fd < 0) {
				char path[PATH_MAX + 80];
				snprintf(path, sizeof path, "%s/%s", ix->dir, s->name);
				if ((s->seg_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
					continue;
			}
			int rc = create_index(ix, s, err);
			if (rc)
				return rc;
		}
		if (s->done)
			continue;
		uint64_t budget = sealed ? backlog_budget : UINT64_MAX / 2;
		*indexed += index_segment(ix, s, sealed, budget);
		if (sealed && backlog_budget != UINT64_MAX / 2)
			break;   /* one backlog segment per pass */
	}
	atomic_fetch_add(&ix->passes, 1);
	return 0;
}

static int indexer_init(struct ark_trace_indexer *ix, const char *dir, uint64_t segment_bytes, struct ark_err *err)
{
	memset(ix, 0, sizeof *ix);
	snprintf(ix->dir, sizeof ix->dir, "%s", dir);
	ix->slots = slots_for(segment_bytes ? segment_bytes : ARK_STORE_DEFAULT_SEGMENT_BYTES);
	boot_id(ix->boot);
	ix->buf = malloc(READ_CHUNK);
	if (!ix->buf)
		return ark_err_set(err, -ENOMEM, "trace index: out of memory");
	return 0;
}

static void indexer_free(struct ark_trace_indexer *ix)
{
	for (size_t i = 0; i < ix->nsegs; i++)
		writer_seg_close(&ix->segs[i]);
	free(ix->segs);
	free(ix->buf);
}

int ark_journal_index_sync(const char *journal_dir, uint64_t segment_bytes, uint64_t *indexed, struct ark_err *err)
{
	struct ark_trace_indexer *ix = calloc(1, sizeof *ix);
	if (!ix)
		return ark_err_set(err, -ENOMEM, "trace index: out of memory");
	int rc = indexer_init(ix, journal_dir, segment_bytes, err);
	uint64_t total = 0;
	for (;;) {
		uint64_t n = 0;
		if (rc || (rc = index_pass(ix, UINT64_MAX / 2, &n, err)))
			break;
		total += n;
		bool all = true;
		for (size_t i = 0; i + 1 < ix->nsegs; i++)
			all &= ix->segs[i].done;
		if (all && n == 0)
			break;
	}
	if (indexed)
		*indexed = total;
	indexer_free(ix);
	free(ix);
	return rc;
}

static void *indexer_main(void *arg)
{
	struct ark_trace_indexer *ix = arg;
	while (!atomic_load_explicit(&ix->stop, memory_order_acquire)) {
		struct ark_err err = {0};
		uint64_t n = 0;
		/* The backlog (segments written before the index existed) moves
		 * 8 MiB a pass: the tail stays within milliseconds. */
		int rc = index_pass(ix, 8u << 20, &n, &err);
		if (!rc && n == 0 && sync_one(ix))
			continue;
		if (rc && !ix->error_logged) {
			/* Look-ups scan instead: slower, still right. (Not the
			 * caller's log: it has one writer, its own thread.) */
			ix->error_logged = true;
			fprintf(stderr, "trace index: %s (look-ups scan the journal until it works)\n", err.msg);
		}
		if (n == 0 || rc) {
			struct timespec ts = {0, (rc ? 100 : 1) * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int ark_trace_indexer_start(struct ark_trace_indexer **out, const struct ark_store_config *cfg, struct ark_err *err)
{
	*out = NULL;
	struct ark_trace_indexer *ix = calloc(1, sizeof *ix);
	if (!ix)
		return ark_err_set(err, -ENOMEM, "trace index: out of memory");
	int rc = indexer_init(ix, cfg->journal_dir, cfg->segment_bytes, err);
	if (rc) {
		indexer_free(ix);
		free(ix);
		return rc;
	}
	rc = pthread_create(&ix->thread, NULL, indexer_main, ix);
	if (rc) {
		indexer_free(ix);
		free(ix);
		return ark_err_set(err, -rc, "trace index: cannot start its thread: %s", strerror(rc));
	}
	ix->started = true;
	*out = ix;
	return 0;
}

void ark_trace_indexer_stop(struct ark_trace_indexer *ix)
{
	if (!ix)
		return;
	atomic_store(&ix->stop, 1);
	if (ix->started)
		pthread_join(ix->thread, NULL);
	indexer_free(ix);
	free(ix);
}

uint64_t ark_trace_indexer_indexed(const struct ark_trace_indexer *ix)
{
	return ix ? atomic_load(&ix->indexed) : 0;
}

/* ------------------------------------------------------------------------ */
/* The readers: look-ups                                                     */
/* ------------------------------------------------------------------------ */

struct reader_seg {
	uint64_t first_seq;
	char name[64];
	int seg_fd;
	const struct index_header *hdr;   /* NULL: none usable (yet) */
	const struct index_slot *slots;
	size_t map_bytes;
	ino_t index_ino;
	bool complete;
	bool seen;                        /* in the latest listing */
};

struct ark_trace_finder {
	char dir[PATH_MAX];
	char boot[40];
	struct timespec dir_mtime;        /* the directory as last listed */
	bool listed;
	struct reader_seg *segs;
	size_t nsegs, cap;
	uint8_t *buf;
	struct ark_trace_finder_stats stats;
};

static void reader_seg_close(struct reader_seg *s)
{
	if (s->hdr)
		munmap((void *)s->hdr, s->map_bytes);
	if (s->seg_fd >= 0)
		close(s->seg_fd);
	s->hdr = NULL;
	s->seg_fd = -1;
}

int ark_trace_finder_open(struct ark_trace_finder **out, const char *journal_dir, struct ark_err *err)
{
	*out = NULL;
	struct ark_trace_finder *f = calloc(1, sizeof *f);
	if (!f || !(f->buf = malloc(READ_CHUNK))) {
		free(f);
		return ark_err_set(err, -ENOMEM, "trace look-up: out of memory");
	}
	snprintf(f->dir, sizeof f->dir, "%s", journal_dir);
	boot_id(f->boot);
	*out = f;
	return 0;
}

void ark_trace_finder_close(struct ark_trace_finder *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nsegs; i++)
		reader_seg_close(&f->segs[i]);
	free(f->segs);
	free(f->buf);
	free(f);
}

void ark_trace_finder_stats(const struct ark_trace_finder *f, struct ark_trace_finder_stats *stats)
{
	*stats = f->stats;
}

/* (Re)map the segment's sidecar when it is new or was replaced. A sidecar
 * is trusted when complete, or written in this boot. */
static void reader_map_index(struct ark_trace_finder *f, struct reader_seg *s, bool dir_unchanged)
{
	if (s->complete || (dir_unchanged && s->hdr))
		return;   /* immutable from here on; or replaced only by a rename, which changes the directory */
	char name[80], path[PATH_MAX + 96];
	index_name(s->name, name, sizeof name);
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	struct stat st;
	if (stat(path, &st) != 0) {
		if (s->hdr) {
			munmap((void *)s->hdr, s->map_bytes);
			s->hdr = NULL;
		}
		return;
	}
	if (s->hdr && st.st_ino == s->index_ino)
		return;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct index_header h;
	bool ok = pread_full(fd, &h, sizeof h, 0) == sizeof h && h.magic == INDEX_MAGIC && h.version == INDEX_VERSION &&
		  h.header_bytes == INDEX_HEADER_BYTES && h.segment_first_seq == s->first_seq && h.slots >= INDEX_MIN_SLOTS &&
		  (h.slots & (h.slots - 1)) == 0 && fd_size(fd) == index_bytes(h.slots) &&
		  ((atomic_load(&h.flags) & INDEX_SYNCED) || memcmp(h.boot_id, f->boot, sizeof h.boot_id) == 0);
	/* Pages mapped now, once per finder: a look-up then costs no fault. */
	void *map = ok ? mmap(NULL, index_bytes(h.slots), PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (s->hdr)
		munmap((void *)s->hdr, s->map_bytes);
	s->hdr = NULL;
	if (map == MAP_FAILED)
		return;
	s->hdr = map;
	s->slots = (const struct index_slot *)((const char *)map + INDEX_HEADER_BYTES);
	s->map_bytes = index_bytes(h.slots);
	s->index_ino = st.st_ino;
}

static int refresh_reader(struct ark_trace_finder *f, struct ark_err *err)
{
	struct ark_journal_segment_info *list;
	size_t n;
	int rc = ark_journal_list_segments(f->dir, &list, &n, err);
	if (rc)
		return rc;
	for (size_t j = 0; j < f->nsegs; j++)
		f->segs[j].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct reader_seg *s = NULL;
		for (size_t j = 0; j < f->nsegs && !s; j++)
			if (f->segs[j].first_seq == list[i].first_seq)
				s = &f->segs[j];
		if (!s) {
			if (f->nsegs == f->cap) {
				size_t cap = f->cap ? f->cap * 2 : 16;
				struct reader_seg *grown = realloc(f->segs, cap * sizeof *grown);
				if (!grown) {
					free(list);
					return ark_err_set(err, -ENOMEM, "trace look-up: out of memory");
				}
				f->segs = grown;
				f->cap = cap;
			}
			s = &f->segs[f->nsegs++];
			memset(s, 0, sizeof *s);
			s->seg_fd = -1;
			s->first_seq = list[i].first_seq;
			snprintf(s->name, sizeof s->name, "%s", list[i].name);
		}
		s->seen = true;
	}
	free(list);
	/* Gone segments leave; the rest stay sorted by first seq. */
	size_t k = 0;
	for (size_t j = 0; j < f->nsegs; j++) {
		if (f->segs[j].seen)
			f->segs[k++] = f->segs[j];
		else
			reader_seg_close(&f->segs[j]);
	}
	f->nsegs = k;
	for (size_t a = 1; a < f->nsegs; a++)
		for (size_t b = a; b > 0 && f->segs[b - 1].first_seq > f->segs[b].first_seq; b--) {
			struct reader_seg t = f->segs[b];
			f->segs[b] = f->segs[b - 1];
			f->segs[b - 1] = t;
		}
	return 0;
}

static void hit(struct reader_seg *s, const uint8_t *record, uint64_t offset, struct ark_journal_record *rec, void *buf,
		size_t cap)
{
	struct ark_journal_record_header h;
	memcpy(&h, record, sizeof h);
	rec->seq = h.seq;
	rec->trace_id = h.trace_id;
	rec->len = h.len;
	snprintf(rec->segment, sizeof rec->segment, "%s", s->name);
	rec->offset = offset;
	size_t n = h.len < cap ? h.len : cap;
	if (n)
		memcpy(buf, record + sizeof h, n);
	rec->payload = buf;
}

/* The record at offset, read back and checked: its trace id when whole and
 * valid, false otherwise (the slot was a stale hint). */
static bool verify_at(struct ark_trace_finder *f, struct reader_seg *s, uint64_t offset, uint64_t id,
		      struct ark_journal_record *rec, void *buf, size_t cap)
{
	size_t got = pread_full(s->seg_fd, f->buf, ARK_JOURNAL_RECORD_HEADER_BYTES + ARK_JOURNAL_MAX_PAYLOAD, offset);
	const char *why;
	if (got < ARK_JOURNAL_RECORD_HEADER_BYTES || ark_journal_check_record(f->buf, got, &why) <= 0)
		return false;
	struct ark_journal_record_header h;
	memcpy(&h, f->buf, sizeof h);
	if (h.trace_id != id)
		return false;
	hit(s, f->buf, offset, rec, buf, cap);
	return true;
}

/* Scan [from, end of file) of the segment for the id; stops at the hit. */
static int scan_from(struct ark_trace_finder *f, struct reader_seg *s, uint64_t from, uint64_t id,
		     struct ark_journal_record *rec, void *buf, size_t cap)
{
	uint64_t off = from, size = fd_size(s->seg_fd);
	while (off < size) {
		size_t want = size - off < READ_CHUNK ? (size_t)(size - off) : READ_CHUNK;
		size_t got = pread_full(s->seg_fd, f->buf, want, off);
		if (got == 0)
			break;
		f->stats.bytes_scanned += got;
		size_t at = 0;
		while (at < got) {
			const char *why;
			int64_t n = ark_journal_check_record(f->buf + at, got - at, &why);
			if (n == 0)
				break;
			if (n < 0) {
				at++;   /* damage, or a write in progress: resynchronise */
				continue;
			}
			struct ark_journal_record_header h;
			memcpy(&h, f->buf + at, sizeof h);
			if (h.trace_id == id) {
				hit(s, f->buf + at, off + at, rec, buf, cap);
				return 0;
			}
			at += (size_t)n;
		}
		if (at == 0)
			break;   /* a record cut by the end of what is written */
		off += at;
	}
	return -ENOENT;
}

/* The directory is as it was when last listed: same mtime, and that mtime
 * old enough (50 ms) that a change within the same timestamp tick cannot
 * hide behind it. One stat instead of a listing per look-up. */
static bool dir_unchanged(struct ark_trace_finder *f)
{
	struct stat st;
	if (stat(f->dir, &st) != 0)
		return false;
	bool same = f->listed && st.st_mtim.tv_sec == f->dir_mtime.tv_sec && st.st_mtim.tv_nsec == f->dir_mtime.tv_nsec;
	uint64_t mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	f->dir_mtime = st.st_mtim;
	return same && ark_realtime_ns() > mtime_ns + 50ull * 1000 * 1000;
}

int ark_trace_finder_find(struct ark_trace_finder *f, uint64_t id, struct ark_journal_record *rec, void *buf,
			  size_t cap, struct ark_err *err)
{
	bool unchanged = dir_unchanged(f);
	if (!unchanged) {
		int rc = refresh_reader(f, err);
		if (rc)
			return rc;
		f->listed = true;
	}
	f->stats.lookups++;
	int c = id_class(id);
	for (size_t k = f->nsegs; k-- > 0;) {
		struct reader_seg *s = &f->segs[k];
		if (s->seg_fd < 0) {
			char path[PATH_MAX + 80];
			snprintf(path, sizeof path, "%s/%s", f->dir, s->name);
			s->seg_fd = open(path, O_RDONLY | O_CLOEXEC);
			if (s->seg_fd < 0)
				continue;   /* deleted by retention meanwhile */
		}
		reader_map_index(f, s, unchanged);
		uint64_t from = ARK_JOURNAL_SEGMENT_HEADER_BYTES;
		if (s->hdr) {
			const struct index_header *h = s->hdr;
			from = atomic_load_explicit(&h->indexed_to, memory_order_acquire);
			uint32_t flags = atomic_load_explicit(&h->flags, memory_order_acquire);
			s->complete = (flags & INDEX_COMPLETE) != 0;
			uint64_t lo = atomic_load_explicit(&h->lo[c], memory_order_relaxed);
			uint64_t hi = atomic_load_explicit(&h->hi[c], memory_order_relaxed);
			if (id >= lo && id <= hi) {
				uint64_t mask = h->slots - 1;
				for (uint64_t i = slot_hash(id, mask), n = 0; n < h->slots; n++, i = (i + 1) & mask) {
					uint64_t off = atomic_load_explicit(&s->slots[i].offset, memory_order_acquire);
					f->stats.probes++;
					if (!off)
						break;
					if (atomic_load_explicit(&s->slots[i].trace_id, memory_order_relaxed) == id && off < from &&
					    verify_at(f, s, off, id, rec, buf, cap))
						return 0;
				}
			} else {
				f->stats.segments_skipped++;
			}
			if (s->complete)
				continue;
		} else {
			f->stats.segments_scanned++;
		}
		if (scan_from(f, s, from, id, rec, buf, cap) == 0)
			return 0;
	}
	return ark_err_set(err, -ENOENT, "journal: no record with trace id %llu (0x%llx) in %s", (unsigned long long)id,
			   (unsigned long long)id, f->dir);
}

int ark_journal_find_trace(const char *dir, uint64_t trace_id, struct ark_journal_record *rec, void *buf, size_t cap,
			   struct ark_err *err)
{
	struct ark_trace_finder *f;
	int rc = ark_trace_finder_open(&f, dir, err);
	if (rc)
		return rc;
	rc = ark_trace_finder_find(f, trace_id, rec, buf, cap, err);
	ark_trace_finder_close(f);
	return rc;
}
