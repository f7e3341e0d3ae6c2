/* tests/store/test_trace_index.c — the journal's trace-id index
 * (store/journal_index.c):
 *
 *   build      records over several segments indexed at once: every id is
 *              found by probes (no segment scanned), an unknown id inside
 *              the range is a miss without a scan, ids outside every range
 *              skip every segment; a look-up stops at the first hit;
 *   follow     the indexer thread beside a writer appending: ids are found
 *              the moment they are written (from the index or the tail
 *              scan), and the index catches up with the tail (TSan runs
 *              this: slots and indexed_to are the cross-thread contract);
 *   damage     a corrupted record in a sealed segment: indexing goes past
 *              it, its neighbours are found, the bad one is not;
 *   stale      a segment cut (a torn tail) after it was indexed: the index
 *              is rebuilt, never believed; a table from another boot is not
 *              trusted; retention removes the table with its segment. */
#include "check.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void config(struct ark_store_config *cfg, const char *name)
{
	char dir[400];
	snprintf(dir, sizeof dir, "%s/%s", root, name);
	ark_store_config_defaults(cfg, dir);
	cfg->sync = ARK_JOURNAL_SYNC_NONE;
	cfg->segment_bytes = 256u << 10;   /* small segments: many of them */
	struct ark_err err = {0};
	CHECK_MSG(ark_store_mkdirs(cfg->journal_dir, &err) == 0, "%s", err.msg);
}

static uint64_t trace_of(uint64_t seq)
{
	return 3 * seq + 1000;   /* ids with gaps: 3s+1000+1 and +2 are unknown, in range */
}

static void append(struct ark_journal *j, uint64_t seq)
{
	uint8_t payload[256];
	memset(payload, (int)(seq & 0xff), sizeof payload);
	memcpy(payload, &seq, sizeof seq);
	struct ark_err err = {0};
	CHECK_MSG(ark_journal_append(j, seq, trace_of(seq), payload, sizeof payload, &err) == 0, "%s", err.msg);
}

static void write_journal(const struct ark_store_config *cfg, uint64_t from, uint64_t to)
{
	struct ark_journal *j;
	struct ark_err err = {0};
	CHECK_MSG(ark_journal_open(&j, cfg, NULL, &err) == 0, "%s", err.msg);
	for (uint64_t s = from; s <= to; s++)
		append(j, s);
	CHECK_MSG(ark_journal_close(j, &err) == 0, "%s", err.msg);
}

static int find(struct ark_trace_finder *f, uint64_t id, uint64_t *seq)
{
	struct ark_journal_record rec;
	uint8_t buf[256];
	struct ark_err err = {0};
	int rc = ark_trace_finder_find(f, id, &rec, buf, sizeof buf, &err);
	if (rc == 0) {
		uint64_t inside;
		memcpy(&inside, buf, sizeof inside);
		CHECK_EQ_U64(rec.trace_id, id);
		CHECK_EQ_U64(inside, rec.seq);   /* the record's own payload, not a neighbour's */
		*seq = rec.seq;
	}
	return rc;
}

static size_t count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	CHECK(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strlen(e->d_name) > strlen(suffix) && strcmp(e->d_name + strlen(e->d_name) - strlen(suffix), suffix) == 0;
	closedir(d);
	return n;
}

static void test_build(void)
{
	struct ark_store_config cfg;
	config(&cfg, "build");
	uint64_t n = test_scaled(40000, 8000);
	write_journal(&cfg, 1, n);
	struct ark_err err = {0};
	uint64_t indexed = 0;
	CHECK_MSG(ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, &indexed, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(indexed, n);
	size_t segments = count_suffix(cfg.journal_dir, ".arkj");
	CHECK(segments >= 5);
	CHECK_EQ_U64(count_suffix(cfg.journal_dir, ".arkx"), segments);
	struct ark_trace_finder *f;
	CHECK(ark_trace_finder_open(&f, cfg.journal_dir, &err) == 0);
	uint64_t seq;
	for (uint64_t s = 1; s <= n; s += 97) {
		CHECK_MSG(find(f, trace_of(s), &seq) == 0, "seq %llu not found", (unsigned long long)s);
		CHECK_EQ_U64(seq, s);
	}
	CHECK(find(f, trace_of(n), &seq) == 0 && seq == n);
	struct ark_trace_finder_stats st;
	ark_trace_finder_stats(f, &st);
	CHECK_EQ_U64(st.segments_scanned, 0);
	CHECK(st.bytes_scanned < 64 * 1024);   /* only the last segment's tail, if anything */
	/* unknown ids inside the range: misses, no scan */
	for (uint64_t s = 1; s <= n; s += 1013)
		CHECK(find(f, trace_of(s) + 1, &seq) == -ENOENT);
	/* outside every range: no segment even probed */
	struct ark_trace_finder_stats before, after;
	ark_trace_finder_stats(f, &before);
	CHECK(find(f, 0x7000000000000000ull, &seq) == -ENOENT);
	CHECK(find(f, 1ull << 47 | 5, &seq) == -ENOENT);   /* the API's class: none here */
	ark_trace_finder_stats(f, &after);
	CHECK_EQ_U64(after.segments_skipped - before.segments_skipped, 2 * segments);
	CHECK_EQ_U64(after.segments_scanned, 0);
	ark_trace_finder_close(f);
	/* the one-shot form `ark trace` uses */
	struct ark_journal_record rec;
	uint8_t buf[256];
	CHECK(ark_journal_find_trace(cfg.journal_dir, trace_of(n / 2), &rec, buf, sizeof buf, &err) == 0 && rec.seq == n / 2);
	printf("  build: %llu records in %zu segments indexed; found by probes, misses without a scan\n",
	       (unsigned long long)n, segments);
}

/* ---- the indexer thread beside a writer ---- */

struct writer {
	struct ark_store_config cfg;
	_Atomic uint64_t written;   /* records the kernel has (journal written_seq) */
	_Atomic bool done;
	uint64_t n;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct ark_journal *j;
	struct ark_err err = {0};
	CHECK_MSG(ark_journal_open(&j, &w->cfg, NULL, &err) == 0, "%s", err.msg);
	for (uint64_t s = 1; s <= w->n; s++) {
		append(j, s);
		if (s % 64 == 0) {
			CHECK(ark_journal_sync(j, &err) == 0);   /* written through: readable by others */
			atomic_store(&w->written, s);
		}
	}
	CHECK(ark_journal_sync(j, &err) == 0);
	atomic_store(&w->written, w->n);
	CHECK(ark_journal_close(j, &err) == 0);
	atomic_store(&w->done, true);
	return NULL;
}

static void test_follow(void)
{
	struct writer w;
	memset(&w, 0, sizeof w);
	config(&w.cfg, "follow");
	w.n = test_scaled(20000, 3000);
	struct ark_err err = {0};
	struct ark_trace_indexer *ix;
	CHECK_MSG(ark_trace_indexer_start(&ix, &w.cfg, &err) == 0, "%s", err.msg);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, writer_main, &w) == 0);
	struct ark_trace_finder *f;
	CHECK(ark_trace_finder_open(&f, w.cfg.journal_dir, &err) == 0);
	uint64_t checks = 0, seq;
	while (!atomic_load(&w.done)) {
		uint64_t upto = atomic_load(&w.written);
		if (!upto)
			continue;
		/* the newest written, and an older one: both there, always */
		CHECK_MSG(find(f, trace_of(upto), &seq) == 0 && seq == upto, "just-written seq %llu not found",
			  (unsigned long long)upto);
		uint64_t old = 1 + (upto * 7919) % upto;
		CHECK_MSG(find(f, trace_of(old), &seq) == 0 && seq == old, "seq %llu not found", (unsigned long long)old);
		checks++;
	}
	pthread_join(th, NULL);
	/* the index catches up with the tail: a miss then scans almost nothing */
	uint64_t deadline = ark_now_ns() + 30ull * 1000 * 1000 * 1000;
	for (;;) {
		struct ark_trace_finder_stats before, after;
		ark_trace_finder_stats(f, &before);
		CHECK(find(f, trace_of(w.n) + 1, &seq) == -ENOENT);
		ark_trace_finder_stats(f, &after);
		if (after.bytes_scanned == before.bytes_scanned && after.segments_scanned == before.segments_scanned)
			break;
		CHECK_MSG(ark_now_ns() < deadline, "the indexer did not catch up with the journal's tail");
		usleep(2000);
	}
	CHECK(ark_trace_indexer_indexed(ix) >= w.n);
	ark_trace_indexer_stop(ix);
	ark_trace_finder_close(f);
	printf("  follow: %llu look-ups while %llu records were written, each found; the index caught up\n",
	       (unsigned long long)checks, (unsigned long long)w.n);
}

/* Flip a byte of the record at `nth` position's payload in the first segment. */
static uint64_t corrupt_first_segment(const char *dir, uint64_t nth)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%020llu.arkj", dir, 1ull);
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	uint64_t off = 64 + nth * (32 + 256) + 32 + 100;
	uint8_t b;
	CHECK(pread(fd, &b, 1, (off_t)off) == 1);
	b ^= 0xff;
	CHECK(pwrite(fd, &b, 1, (off_t)off) == 1);
	close(fd);
	return nth + 1;   /* its seq */
}

static void test_damage(void)
{
	struct ark_store_config cfg;
	config(&cfg, "damage");
	uint64_t n = 10000;
	write_journal(&cfg, 1, n);
	uint64_t bad = corrupt_first_segment(cfg.journal_dir, 500);
	struct ark_err err = {0};
	CHECK(ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, NULL, &err) == 0);
	struct ark_trace_finder *f;
	CHECK(ark_trace_finder_open(&f, cfg.journal_dir, &err) == 0);
	uint64_t seq;
	CHECK(find(f, trace_of(bad), &seq) == -ENOENT);
	CHECK(find(f, trace_of(bad - 1), &seq) == 0 && seq == bad - 1);
	CHECK(find(f, trace_of(bad + 1), &seq) == 0 && seq == bad + 1);
	CHECK(find(f, trace_of(n), &seq) == 0 && seq == n);
	ark_trace_finder_close(f);
	printf("  damage: a corrupted record is not found, its neighbours are\n");
}

static void test_stale(void)
{
	struct ark_store_config cfg;
	config(&cfg, "stale");
	cfg.segment_bytes = 1u << 20;
	uint64_t n = 1000;   /* one segment: the active one */
	write_journal(&cfg, 1, n);
	struct ark_err err = {0};
	CHECK(ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, NULL, &err) == 0);
	char seg[PATH_MAX + 64], idx[PATH_MAX + 64];
	snprintf(seg, sizeof seg, "%s/%020llu.arkj", cfg.journal_dir, 1ull);
	snprintf(idx, sizeof idx, "%s/%020llu.arkx", cfg.journal_dir, 1ull);
	struct stat st1, st2;
	CHECK(stat(idx, &st1) == 0);
	/* the segment cut after record 600 (as recovery cuts a torn tail), then
	 * other records with the same seqs written where the old ones were */
	CHECK(truncate(seg, 64 + 600 * (32 + 256)) == 0);
	struct ark_journal *j;
	CHECK_MSG(ark_journal_open(&j, &cfg, NULL, &err) == 0, "%s", err.msg);
	for (uint64_t s = 601; s <= 1000; s++) {
		uint8_t payload[256];
		memset(payload, 0, sizeof payload);
		memcpy(payload, &s, sizeof s);
		CHECK(ark_journal_append(j, s, trace_of(s) + 2 /* unknown before */, payload, sizeof payload, &err) == 0);
	}
	CHECK(ark_journal_close(j, &err) == 0);
	CHECK(ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, NULL, &err) == 0);
	CHECK(stat(idx, &st2) == 0);
	CHECK_MSG(st2.st_ino != st1.st_ino, "the index of a cut segment was not rebuilt");
	struct ark_trace_finder *f;
	CHECK(ark_trace_finder_open(&f, cfg.journal_dir, &err) == 0);
	uint64_t seq;
	CHECK(find(f, trace_of(650), &seq) == -ENOENT);   /* gone with the cut */
	CHECK(find(f, trace_of(650) + 2, &seq) == 0 && seq == 650);
	CHECK(find(f, trace_of(600), &seq) == 0 && seq == 600);
	ark_trace_finder_close(f);
	/* a table from another boot: not believed (the look-up scans), rebuilt */
	int fd = open(idx, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "not-this-boot-0000000000000000000000000", 39, 32) == 39);   /* the boot id field */
	close(fd);
	CHECK(ark_trace_finder_open(&f, cfg.journal_dir, &err) == 0);
	CHECK(find(f, trace_of(650) + 2, &seq) == 0 && seq == 650);
	struct ark_trace_finder_stats st;
	ark_trace_finder_stats(f, &st);
	CHECK_EQ_U64(st.segments_scanned, 1);
	ark_trace_finder_close(f);
	CHECK(ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, NULL, &err) == 0);
	CHECK(stat(idx, &st1) == 0 && st1.st_ino != st2.st_ino);
	/* retention removes the table with its segment */
	struct ark_store_config rcfg = cfg;
	write_journal(&rcfg, 1001, 20000);
	CHECK(ark_journal_index_sync(cfg.journal_dir, cfg.segment_bytes, NULL, &err) == 0);
	size_t before = count_suffix(cfg.journal_dir, ".arkx");
	rcfg.retain_bytes = 1u << 20;
	CHECK_MSG(ark_journal_open(&j, &rcfg, NULL, &err) == 0, "%s", err.msg);
	CHECK(ark_journal_retain(j, &err) > 0);
	CHECK(ark_journal_close(j, &err) == 0);
	CHECK_MSG(count_suffix(cfg.journal_dir, ".arkx") == count_suffix(cfg.journal_dir, ".arkj") &&
			  count_suffix(cfg.journal_dir, ".arkx") < before,
		  "retention left %zu tables for %zu segments", count_suffix(cfg.journal_dir, ".arkx"),
		  count_suffix(cfg.journal_dir, ".arkj"));
	printf("  stale: a cut segment's index rebuilt, another boot's not trusted, retention removes tables\n");
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/ark-trace-index-XXXXXX");
	CHECK(mkdtemp(root));
	test_build();
	test_follow();
	test_damage();
	test_stale();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	CHECK(system(cmd) == 0);
	printf("trace index: all cases passed\n");
	return 0;
}
