/* tests/store/test_store_journal.c — the journal: append and read back, look-ups,
 * segments, the three sync modes, torn writes at every byte of the last
 * record, bit flips named by verify, retention of whole segments, a reader
 * following the tail from another process (also in sync mode none) and the
 * follower's race at a segment boundary forced through the reader's end
 * hook, the writer lock. ctest runs it
 * twice: on io_uring and with ARK_IO_URING=0 (pwrite/fdatasync). */
#include "store_test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static char root[256];
static int case_no;
static char last_log[1024];

static void capture_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	snprintf(last_log, sizeof last_log, "%s", msg);
}

/* A fresh data dir for each case, under the test's temp root. */
static void fresh(struct ark_store_config *cfg)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/case%d", root, ++case_no);
	CHECK(mkdir(dir, 0700) == 0);
	test_config(cfg, dir);
	cfg->log = capture_log;
}

static struct ark_journal *open_ok(const struct ark_store_config *cfg, struct ark_journal_recovery *rec)
{
	struct ark_err err = {0};
	struct ark_journal *j;
	int rc = ark_journal_open(&j, cfg, rec, &err);
	CHECK_MSG(rc == 0, "open: %s", err.msg);
	const char *u = getenv("ARK_IO_URING");
	bool want = !(u && strcmp(u, "0") == 0);
	CHECK_MSG(ark_journal_using_io_uring(j) == want, "io_uring in use: %d, wanted %d",
		  ark_journal_using_io_uring(j), want);
	return j;
}

static void close_ok(struct ark_journal *j)
{
	struct ark_err err = {0};
	CHECK_MSG(ark_journal_close(j, &err) == 0, "close: %s", err.msg);
}

/* A fresh journal (see fresh), open, holding records 1..n. */
static struct ark_journal *fresh_journal(struct ark_store_config *cfg, uint64_t n)
{
	fresh(cfg);
	struct ark_journal *j = open_ok(cfg, NULL);
	for (uint64_t s = 1; s <= n; s++)
		append_std(j, s);
	return j;
}

/* Read everything from seq `from`; check order, payloads; return count. */
static uint64_t read_all(const char *dir, uint64_t from, uint64_t expect_first, uint64_t expect_last)
{
	struct ark_err err = {0};
	struct ark_journal_reader *r;
	CHECK_MSG(ark_journal_reader_open(&r, dir, &err) == 0, "%s", err.msg);
	int rc = ark_journal_reader_seek(r, from, &err);
	CHECK_MSG(rc == 0, "seek %llu: %s", (unsigned long long)from, err.msg);
	uint64_t n = 0, expect = expect_first;
	struct ark_journal_record rec;
	while ((rc = ark_journal_reader_next(r, &rec, &err)) == 0) {
		CHECK_EQ_U64(rec.seq, expect);
		CHECK_EQ_U64(rec.trace_id, trace_of(rec.seq));
		CHECK_MSG(payload_ok(rec.seq, rec.payload, rec.len), "payload of seq %llu",
			  (unsigned long long)rec.seq);
		expect++;
		n++;
	}
	CHECK_MSG(rc == -EAGAIN, "reader ended with %d: %s", rc, err.msg);
	CHECK_EQ_U64(expect - 1, expect_last);
	ark_journal_reader_close(r);
	return n;
}

static void verify_clean(const char *dir, uint64_t records)
{
	struct ark_err err = {0};
	struct ark_journal_verify_result res;
	CHECK_MSG(ark_journal_verify(dir, &res, NULL, NULL, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(res.damaged, 0);
	CHECK_EQ_U64(res.gaps, 0);
	CHECK_EQ_U64(res.records, records);
}

static void test_append_read_lookup(void)
{
	struct ark_store_config cfg;
	const uint64_t n = 20000;
	struct ark_journal *j = fresh_journal(&cfg, n);
	struct ark_err err = {0};
	/* seq must increase; oversized records are refused */
	CHECK(ark_journal_append(j, n, 1, "x", 1, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "not greater");
	static uint8_t big[ARK_JOURNAL_MAX_PAYLOAD + 1];
	CHECK(ark_journal_append(j, n + 1, 1, big, sizeof big, &err) == -EMSGSIZE);
	CHECK_MSG(ark_journal_sync(j, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(ark_journal_durable_seq(j), n);
	CHECK_EQ_U64(ark_journal_written_seq(j), n);
	/* a second writer is refused */
	struct ark_journal *j2;
	CHECK(ark_journal_open(&j2, &cfg, NULL, &err) == -EBUSY);
	CHECK_CONTAINS(err.msg, "another process");
	/* readers work while the writer is open */
	CHECK_EQ_U64(read_all(cfg.journal_dir, 0, 1, n), n);
	close_ok(j);

	struct ark_journal_recovery rec;
	j = open_ok(&cfg, &rec);
	CHECK(!rec.cut);
	CHECK_EQ_U64(rec.last_seq, n);
	CHECK_EQ_U64(ark_journal_last_seq(j), n);
	CHECK(ark_journal_append(j, n, 1, "x", 1, &err) == -EINVAL); /* also after reopen */
	close_ok(j);

	CHECK_EQ_U64(read_all(cfg.journal_dir, 12345, 12345, n), n - 12344);
	uint8_t buf[1024];
	struct ark_journal_record r;
	CHECK_MSG(ark_journal_find_seq(cfg.journal_dir, 777, &r, buf, sizeof buf, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(r.seq, 777);
	CHECK(payload_ok(777, r.payload, r.len));
	CHECK(ark_journal_find_seq(cfg.journal_dir, n + 5, &r, buf, sizeof buf, &err) == -ENOENT);
	CHECK_MSG(ark_journal_find_trace(cfg.journal_dir, trace_of(4321), &r, buf, sizeof buf, &err) == 0,
		  "%s", err.msg);
	CHECK_EQ_U64(r.seq, 4321);
	CHECK(payload_ok(4321, r.payload, r.len));
	CHECK(ark_journal_find_trace(cfg.journal_dir, 42, &r, buf, sizeof buf, &err) == -ENOENT);
	verify_clean(cfg.journal_dir, n);

	/* modes: directory 0700, files 0600 */
	struct stat st;
	CHECK(stat(cfg.journal_dir, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 0777, 0700);
	char seg[PATH_MAX + 64];
	snprintf(seg, sizeof seg, "%s/%020llu.arkj", cfg.journal_dir, 1ull);
	CHECK(stat(seg, &st) == 0);
	CHECK_EQ_U64(st.st_mode & 0777, 0600);
}

static size_t count_segments(const char *dir, uint64_t *max_size)
{
	DIR *d = opendir(dir);
	CHECK(d != NULL);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".arkj") == 0) {
			n++;
			if (max_size) {
				char p[PATH_MAX + 300];
				snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
				uint64_t s = file_size_of(p);
				if (s > *max_size)
					*max_size = s;
			}
		}
	}
	closedir(d);
	return n;
}

static void test_segments(void)
{
	struct ark_store_config cfg;
	fresh(&cfg);
	cfg.segment_bytes = 64 << 10;
	cfg.buffer_bytes = 1 << 20;
	struct ark_journal *j = open_ok(&cfg, NULL);
	const uint64_t n = 8000; /* ~1.3 MB: about 20 segments */
	for (uint64_t s = 100; s < 100 + n; s++) {
		append_std(j, s);
		if (s % 500 == 0) {
			struct ark_err err = {0};
			CHECK_MSG(ark_journal_flush(j, &err) == 0, "%s", err.msg);
		}
	}
	close_ok(j);
	uint64_t max_size = 0;
	size_t segs = count_segments(cfg.journal_dir, &max_size);
	CHECK_MSG(segs >= 15, "only %zu segments", segs);
	CHECK_MSG(max_size <= cfg.segment_bytes, "segment of %llu bytes", (unsigned long long)max_size);
	CHECK_EQ_U64(read_all(cfg.journal_dir, 0, 100, 100 + n - 1), n);
	CHECK_EQ_U64(read_all(cfg.journal_dir, 5000, 5000, 100 + n - 1), 100 + n - 5000);
	verify_clean(cfg.journal_dir, n);
	/* reopen and continue across the boundary */
	j = open_ok(&cfg, NULL);
	for (uint64_t s = 100 + n; s < 100 + n + 1000; s++)
		append_std(j, s);
	close_ok(j);
	verify_clean(cfg.journal_dir, n + 1000);
}

static void wait_durable(struct ark_journal *j, uint64_t seq, uint64_t timeout_ms)
{
	uint64_t deadline = ark_now_ns() + timeout_ms * 1000000ull;
	struct ark_err err = {0};
	while (ark_journal_durable_seq(j) < seq) {
		CHECK_MSG(ark_journal_poll(j, &err) == 0, "%s", err.msg);
		CHECK_MSG(ark_now_ns() < deadline, "seq %llu not durable after %llu ms (durable %llu)",
			  (unsigned long long)seq, (unsigned long long)timeout_ms,
			  (unsigned long long)ark_journal_durable_seq(j));
		struct timespec ts = {0, 200000};
		nanosleep(&ts, NULL);
	}
}

static void test_sync_modes(void)
{
	struct ark_err err = {0};
	/* batch: flush is the batch boundary; durable follows without waiting */
	struct ark_store_config cfg;
	fresh(&cfg);
	CHECK(ark_store_parse_sync("batch", &cfg.sync, &cfg.sync_interval_ns, &err) == 0);
	struct ark_journal *j = open_ok(&cfg, NULL);
	for (uint64_t s = 1; s <= 3000; s++) {
		append_std(j, s);
		if (s % 100 == 0)
			CHECK_MSG(ark_journal_flush(j, &err) == 0, "%s", err.msg);
	}
	wait_durable(j, 3000, 5000);
	struct ark_journal_stats st;
	ark_journal_get_stats(j, &st);
	CHECK(st.syncs_completed >= 1);
	CHECK_EQ_U64(st.durable_seq, 3000);
	close_ok(j);

	/* interval: durable without any flush, from poll alone */
	fresh(&cfg);
	CHECK(ark_store_parse_sync("interval:5", &cfg.sync, &cfg.sync_interval_ns, &err) == 0);
	CHECK_EQ_U64(cfg.sync_interval_ns, 5000000);
	j = open_ok(&cfg, NULL);
	for (uint64_t s = 1; s <= 500; s++)
		append_std(j, s);
	CHECK(ark_journal_next_deadline_ns(j) != UINT64_MAX);
	wait_durable(j, 500, 5000);
	close_ok(j);

	/* none: data reaches the kernel, no fdatasync until a segment seals */
	fresh(&cfg);
	CHECK(ark_store_parse_sync("none", &cfg.sync, &cfg.sync_interval_ns, &err) == 0);
	j = open_ok(&cfg, NULL);
	for (uint64_t s = 1; s <= 500; s++)
		append_std(j, s);
	uint64_t deadline = ark_now_ns() + 5000000000ull;
	while (ark_journal_written_seq(j) < 500) {
		CHECK(ark_journal_poll(j, &err) == 0);
		CHECK_MSG(ark_now_ns() < deadline, "none mode never wrote");
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	ark_journal_get_stats(j, &st);
	CHECK_EQ_U64(st.syncs_submitted, 0);
	CHECK_EQ_U64(ark_journal_durable_seq(j), 0);
	CHECK(ark_journal_sync(j, &err) == 0); /* explicit sync works in every mode */
	CHECK_EQ_U64(ark_journal_durable_seq(j), 500);
	close_ok(j);
	CHECK_EQ_U64(read_all(cfg.journal_dir, 0, 1, 500), 500);

	/* bad values name the variable */
	CHECK(ark_store_parse_sync("interval:abc", &cfg.sync, &cfg.sync_interval_ns, &err) == -EINVAL);
	CHECK_CONTAINS(err.msg, "ARK_JOURNAL_SYNC");
	CHECK(ark_store_parse_sync("sometimes", &cfg.sync, &cfg.sync_interval_ns, &err) == -EINVAL);
}

/* The offset and size of record seq in the (single) segment. */
static void locate(const char *dir, uint64_t seq, uint64_t *offset, uint64_t *size, char *segment)
{
	struct ark_err err = {0};
	struct ark_journal_record r;
	uint8_t buf[1024];
	CHECK_MSG(ark_journal_find_seq(dir, seq, &r, buf, sizeof buf, &err) == 0, "%s", err.msg);
	*offset = r.offset;
	*size = ARK_JOURNAL_RECORD_HEADER_BYTES + r.len;
	snprintf(segment, 64, "%s", r.segment);
}

static void test_torn_writes(void)
{
	struct ark_store_config base;
	fresh(&base);
	struct ark_journal *j = open_ok(&base, NULL);
	uint64_t n = 40;
	while (payload_len(n) < 100) /* a last record with some payload */
		n++;
	const uint64_t last = n;
	for (uint64_t s = 1; s <= n; s++)
		append_std(j, s);
	close_ok(j);
	uint64_t off, size;
	char segname[64];
	locate(base.journal_dir, last, &off, &size, segname);
	char pristine[PATH_MAX + 128];
	snprintf(pristine, sizeof pristine, "%s/%s", base.journal_dir, segname);
	CHECK_EQ_U64(file_size_of(pristine), off + size);

	/* Cut the last record at every byte offset. */
	for (uint64_t cut = off; cut < off + size; cut++) {
		struct ark_store_config cfg;
		fresh(&cfg);
		CHECK(mkdir(cfg.journal_dir, 0700) == 0);
		char seg[PATH_MAX + 128];
		snprintf(seg, sizeof seg, "%s/%s", cfg.journal_dir, segname);
		copy_file(pristine, seg);
		CHECK(truncate(seg, (off_t)cut) == 0);
		struct ark_journal_recovery rec;
		last_log[0] = '\0';
		j = open_ok(&cfg, &rec);
		CHECK_EQ_U64(rec.last_seq, n - 1);
		CHECK_EQ_U64(rec.records, n - 1);
		if (cut == off) {
			CHECK(!rec.cut); /* ends exactly after a record */
		} else {
			CHECK_MSG(rec.cut, "cut at %llu not reported", (unsigned long long)cut);
			CHECK_EQ_U64(rec.offset, off);
			CHECK_EQ_U64(rec.bytes_cut, cut - off);
			CHECK_EQ_U64(rec.records_after_cut, 0);
			CHECK_CONTAINS(last_log, "cut");
		}
		CHECK_EQ_U64(file_size_of(seg), off);
		append_std(j, last); /* the writer carries on where the cut is */
		close_ok(j);
		verify_clean(cfg.journal_dir, n);
		if (cut % 37 == 0)
			rm_rf(cfg.data_dir);
	}

	/* A tail of zeros (a power cut leaves holes) and one of garbage. */
	for (int kind = 0; kind < 2; kind++) {
		struct ark_store_config cfg;
		fresh(&cfg);
		CHECK(mkdir(cfg.journal_dir, 0700) == 0);
		char seg[PATH_MAX + 128];
		snprintf(seg, sizeof seg, "%s/%s", cfg.journal_dir, segname);
		copy_file(pristine, seg);
		uint8_t junk[4096];
		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = kind ? (uint8_t)(i * 7 + 3) : 0;
		write_at(seg, off + size, junk, sizeof junk);
		struct ark_journal_recovery rec;
		j = open_ok(&cfg, &rec);
		CHECK(rec.cut);
		CHECK_EQ_U64(rec.offset, off + size);
		CHECK_EQ_U64(rec.last_seq, last);
		close_ok(j);
		verify_clean(cfg.journal_dir, n);
	}

	/* A segment that was created but never got a record goes away. */
	{
		struct ark_store_config cfg;
		fresh(&cfg);
		CHECK(mkdir(cfg.journal_dir, 0700) == 0);
		char seg[PATH_MAX + 128], empty[PATH_MAX + 128];
		snprintf(seg, sizeof seg, "%s/%s", cfg.journal_dir, segname);
		copy_file(pristine, seg);
		snprintf(empty, sizeof empty, "%s/%020llu.arkj", cfg.journal_dir, (unsigned long long)last + 1);
		FILE *f = fopen(empty, "w");
		fwrite("ARKJ", 1, 4, f);
		fclose(f);
		struct ark_journal_recovery rec;
		j = open_ok(&cfg, &rec);
		CHECK_EQ_U64(rec.removed_empty_segments, 1);
		CHECK_EQ_U64(rec.last_seq, last);
		CHECK(access(empty, F_OK) != 0);
		close_ok(j);
	}
}

struct problems {
	int count;
	struct ark_journal_problem first;
};

static void on_problem(void *ctx, const struct ark_journal_problem *p)
{
	struct problems *ps = ctx;
	if (ps->count++ == 0)
		ps->first = *p;
}

static void test_bit_flips(void)
{
	struct ark_store_config cfg;
	const uint64_t n = 200;
	struct ark_journal *j = fresh_journal(&cfg, n);
	close_ok(j);
	uint64_t target = 101;
	while (payload_len(target) < 16)
		target++;
	uint64_t off, size;
	char segname[64];
	locate(cfg.journal_dir, target, &off, &size, segname);
	char seg[PATH_MAX + 128];
	snprintf(seg, sizeof seg, "%s/%s", cfg.journal_dir, segname);

	/* a flipped bit in the payload: named by segment, offset and seq */
	flip_bit(seg, off + ARK_JOURNAL_RECORD_HEADER_BYTES + 5, 3);
	struct problems ps = {0};
	struct ark_journal_verify_result res;
	struct ark_err err = {0};
	CHECK(ark_journal_verify(cfg.journal_dir, &res, on_problem, &ps, &err) == 0);
	CHECK_EQ_U64(res.damaged, 1);
	CHECK_EQ_U64(ps.count, 2); /* the bad record, then the gap it leaves */
	CHECK_EQ_U64(ps.first.kind, ARK_JOURNAL_BAD_RECORD);
	CHECK_EQ_U64(ps.first.offset, off);
	CHECK_EQ_U64(ps.first.seq, target);
	CHECK(strcmp(ps.first.segment, segname) == 0);
	CHECK_CONTAINS(ps.first.detail, "CRC32C mismatch");
	CHECK_EQ_U64(res.records, n - 1); /* every other record still checked */
	CHECK_EQ_U64(res.gaps, 1);        /* and the hole it leaves is a gap */

	/* a reader stops there with a message naming it */
	struct ark_journal_reader *r;
	CHECK(ark_journal_reader_open(&r, cfg.journal_dir, &err) == 0);
	struct ark_journal_record rec;
	int rc;
	uint64_t got = 0;
	while ((rc = ark_journal_reader_next(r, &rec, &err)) == 0)
		got++;
	CHECK_EQ_U64(rc, -EBADMSG);
	CHECK_EQ_U64(got, target - 1);
	CHECK_CONTAINS(err.msg, segname);
	ark_journal_reader_close(r);

	/* a flip in the header's seq field is caught the same way */
	flip_bit(seg, off + ARK_JOURNAL_RECORD_HEADER_BYTES + 5, 3); /* undo */
	verify_clean(cfg.journal_dir, n);
	flip_bit(seg, off + 8, 0);
	ps.count = 0;
	CHECK(ark_journal_verify(cfg.journal_dir, &res, on_problem, &ps, &err) == 0);
	CHECK_EQ_U64(res.damaged, 1);
	CHECK_EQ_U64(ps.first.offset, off);

	/* opening for writing cuts there but keeps the valid records that
	 * followed in a side file: damage, not a torn write */
	struct ark_journal_recovery rcv;
	j = open_ok(&cfg, &rcv);
	CHECK(rcv.cut);
	CHECK_EQ_U64(rcv.offset, off);
	CHECK_EQ_U64(rcv.records_after_cut, n - target);
	CHECK(rcv.saved_to[0] != '\0');
	char saved[PATH_MAX + 128];
	snprintf(saved, sizeof saved, "%.3000s/%.1000s", cfg.journal_dir, rcv.saved_to);
	CHECK_EQ_U64(file_size_of(saved), rcv.bytes_cut);
	close_ok(j);
}

/* A record whose CRC is valid but whose seq goes backwards (a writer bug, or
 * bytes from elsewhere): readers stop there and verify names it. */
static void test_seq_order(void)
{
	struct ark_store_config cfg;
	struct ark_journal *j = fresh_journal(&cfg, 50);
	close_ok(j);
	uint64_t off, size;
	char segname[64];
	locate(cfg.journal_dir, 30, &off, &size, segname);
	char seg[PATH_MAX + 128];
	snprintf(seg, sizeof seg, "%s/%s", cfg.journal_dir, segname);
	/* record 30 claims seq 10, with a CRC that matches the claim */
	uint8_t rec[ARK_JOURNAL_RECORD_HEADER_BYTES + 1024];
	int fd = open(seg, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, rec, (size_t)size, (off_t)off) == (ssize_t)size);
	uint64_t claim = 10;
	memcpy(rec + 8, &claim, sizeof claim);
	uint32_t crc = ark_crc32c(ark_crc32c(0, rec, 24), rec + ARK_JOURNAL_RECORD_HEADER_BYTES,
				  (size_t)size - ARK_JOURNAL_RECORD_HEADER_BYTES);
	memcpy(rec + 24, &crc, sizeof crc);
	CHECK(pwrite(fd, rec, (size_t)size, (off_t)off) == (ssize_t)size);
	close(fd);

	struct ark_err err = {0};
	struct ark_journal_reader *r;
	CHECK(ark_journal_reader_open(&r, cfg.journal_dir, &err) == 0);
	struct ark_journal_record record;
	int rc;
	uint64_t got = 0;
	while ((rc = ark_journal_reader_next(r, &record, &err)) == 0)
		got++;
	CHECK_MSG(rc == -EBADMSG, "a seq going backwards was read on (rc %d after %llu records)", rc,
		  (unsigned long long)got);
	CHECK_EQ_U64(got, 29);
	CHECK_CONTAINS(err.msg, "seq not increasing");
	ark_journal_reader_close(r);
	struct problems ps = {0};
	struct ark_journal_verify_result res;
	CHECK(ark_journal_verify(cfg.journal_dir, &res, on_problem, &ps, &err) == 0);
	CHECK(res.damaged >= 1);
	CHECK_EQ_U64(ps.first.kind, ARK_JOURNAL_SEQ_NOT_INCREASING);
	CHECK_EQ_U64(ps.first.offset, off);
}

static void test_retention(void)
{
	struct ark_store_config cfg;
	fresh(&cfg);
	cfg.segment_bytes = 64 << 10;
	cfg.buffer_bytes = 1 << 20;
	cfg.retain_bytes = 256 << 10;
	struct ark_journal *j = open_ok(&cfg, NULL);
	struct ark_err err = {0};
	const uint64_t n = 12000;
	for (uint64_t s = 1; s <= n; s++) {
		append_std(j, s);
		if (s % 1000 == 0) {
			CHECK(ark_journal_sync(j, &err) == 0);
			CHECK(ark_journal_retain(j, &err) >= 0);
		}
	}
	CHECK(ark_journal_sync(j, &err) == 0);
	int deleted = ark_journal_retain(j, &err);
	CHECK(deleted >= 0);
	struct ark_journal_stats st;
	ark_journal_get_stats(j, &st);
	CHECK_MSG(st.segments_deleted >= 10, "deleted %llu", (unsigned long long)st.segments_deleted);
	CHECK_MSG(st.total_bytes <= cfg.retain_bytes, "%llu bytes kept", (unsigned long long)st.total_bytes);
	/* what is left is whole: headers intact, records contiguous up to the last */
	struct ark_journal_verify_result res;
	CHECK(ark_journal_verify(cfg.journal_dir, &res, NULL, NULL, &err) == 0);
	CHECK_EQ_U64(res.damaged, 0);
	CHECK_EQ_U64(res.gaps, 0);
	CHECK_EQ_U64(res.last_seq, n);
	CHECK_EQ_U64(res.last_seq - res.first_seq + 1, res.records);
	/* the first kept segment starts at its name's seq: nothing cut inside */
	struct ark_journal_reader *r;
	CHECK(ark_journal_reader_open(&r, cfg.journal_dir, &err) == 0);
	struct ark_journal_record rec;
	CHECK(ark_journal_reader_next(r, &rec, &err) == 0);
	CHECK_EQ_U64(strtoull(rec.segment, NULL, 10), rec.seq);
	CHECK_EQ_U64(rec.offset, ARK_JOURNAL_SEGMENT_HEADER_BYTES);
	/* seeking before the oldest says so */
	CHECK(ark_journal_reader_seek(r, 1, &err) == -ENOENT);
	CHECK_CONTAINS(err.msg, "older than the oldest");
	ark_journal_reader_close(r);

	/* by age: every sealed segment goes, never the active one */
	cfg.retain_bytes = 0;
	close_ok(j);
	cfg.retain_age_ns = 1000000; /* 1 ms */
	j = open_ok(&cfg, NULL);
	for (uint64_t s = n + 1; s <= n + 2000; s++)
		append_std(j, s);
	CHECK(ark_journal_sync(j, &err) == 0);
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	CHECK(ark_journal_retain(j, &err) > 0);
	CHECK_EQ_U64(count_segments(cfg.journal_dir, NULL), 1);
	for (uint64_t s = n + 2001; s <= n + 2100; s++)
		append_std(j, s);
	close_ok(j);
	CHECK(ark_journal_verify(cfg.journal_dir, &res, NULL, NULL, &err) == 0);
	CHECK_EQ_U64(res.damaged, 0);
	CHECK_EQ_U64(res.last_seq, n + 2100);
}

/* The follower's race, forced: the reader has read the open segment's size
 * and found no more records; before it looks for a newer segment, the
 * writer appends more records to that segment, rolls and writes the next
 * one. The reader must still hand out every record of the old segment
 * first (the bug: it moved on as soon as the newer segment had data and
 * skipped the old one's last records — "got seq 11882, expected 11835"). */
struct race_ctx {
	struct ark_journal *j;
	uint64_t from, to;     /* appended inside the hook */
	int calls;
	char first_segment[64];
};

static void race_append(void *ctx, const char *segment)
{
	struct race_ctx *c = ctx;
	if (c->calls++ > 0)
		return;
	snprintf(c->first_segment, sizeof c->first_segment, "%s", segment);
	struct ark_err err = {0};
	for (uint64_t s = c->from; s <= c->to; s++)
		append_std(c->j, s);
	/* everything with the kernel: the old segment finished, the new ones
	 * written (sync also forces the write-out in mode none) */
	CHECK_MSG(ark_journal_sync(c->j, &err) == 0, "%s", err.msg);
}

static void test_follow_race(enum ark_journal_sync mode)
{
	struct ark_store_config cfg;
	fresh(&cfg);
	cfg.sync = mode;
	cfg.segment_bytes = 64 << 10;
	cfg.buffer_bytes = 1 << 20;
	struct ark_err err = {0};
	struct ark_journal *j = open_ok(&cfg, NULL);
	for (uint64_t s = 1; s <= 100; s++) /* ~17 KB: the first segment, far from full */
		append_std(j, s);
	CHECK_MSG(ark_journal_sync(j, &err) == 0, "%s", err.msg);
	CHECK_EQ_U64(count_segments(cfg.journal_dir, NULL), 1);

	struct ark_journal_reader *r;
	CHECK_MSG(ark_journal_reader_open(&r, cfg.journal_dir, &err) == 0, "%s", err.msg);
	CHECK(ark_journal_reader_seek(r, 1, &err) == 0);
	struct race_ctx c = {.j = j, .from = 101, .to = 1000}; /* ~170 KB: three more segments */
	ark_journal_reader_set_end_hook(r, race_append, &c);
	struct ark_journal_record rec;
	uint64_t expect = 1;
	int rc;
	while ((rc = ark_journal_reader_next(r, &rec, &err)) == 0) {
		CHECK_MSG(rec.seq == expect, "follower: got seq %llu, expected %llu (the end of segment %s skipped)",
			  (unsigned long long)rec.seq, (unsigned long long)expect, c.first_segment);
		CHECK(payload_ok(rec.seq, rec.payload, rec.len));
		expect++;
	}
	CHECK_MSG(rc == -EAGAIN, "reader: %d %s", rc, err.msg);
	CHECK_EQ_U64(c.calls > 0, 1);
	CHECK_EQ_U64(expect - 1, 1000);
	CHECK_MSG(count_segments(cfg.journal_dir, NULL) >= 3, "the hook's appends did not roll segments");
	ark_journal_reader_close(r);
	close_ok(j);
}

/* The same window on the bad-record path: the reader sees the open
 * segment's last record incomplete while a newer segment has data. If the
 * record is completed after the reader read the size, that is a write it
 * saw in progress, not damage. Without the completion it is damage. */
struct complete_ctx {
	const char *path;
	uint64_t offset;
	uint8_t bytes[1024];
	size_t len;
	int calls;
};

static void complete_record(void *ctx, const char *segment)
{
	(void)segment;
	struct complete_ctx *c = ctx;
	if (c->calls++ == 0 && c->len)
		write_at(c->path, c->offset, c->bytes, c->len);
}

static void test_follow_race_incomplete(void)
{
	struct ark_store_config cfg;
	fresh(&cfg);
	cfg.segment_bytes = 64 << 10;
	cfg.buffer_bytes = 1 << 20;
	struct ark_journal *j = open_ok(&cfg, NULL);
	for (uint64_t s = 1; s <= 1000; s++)
		append_std(j, s);
	close_ok(j);
	struct ark_err err = {0};
	uint64_t firsts[16];
	size_t nseg;
	CHECK(ark_journal_list(cfg.journal_dir, firsts, 16, &nseg, &err) == 0);
	CHECK_MSG(nseg >= 2, "%zu segments", nseg);
	/* the first segment's last record: cut its second half off */
	uint64_t last = firsts[1] - 1;
	struct ark_journal_record rec;
	uint8_t buf[1024];
	CHECK(ark_journal_find_seq(cfg.journal_dir, last, &rec, buf, sizeof buf, &err) == 0);
	char path[PATH_MAX + 128];
	snprintf(path, sizeof path, "%s/%s", cfg.journal_dir, rec.segment);
	uint64_t end = rec.offset + ARK_JOURNAL_RECORD_HEADER_BYTES + rec.len;
	CHECK_EQ_U64(file_size_of(path), end);
	struct complete_ctx c = {.path = path};
	c.offset = rec.offset + (ARK_JOURNAL_RECORD_HEADER_BYTES + rec.len) / 2;
	c.len = end - c.offset;
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, c.bytes, c.len, (off_t)c.offset) == (ssize_t)c.len);
	CHECK(ftruncate(fd, (off_t)c.offset) == 0);
	close(fd);

	for (int complete = 0; complete <= 1; complete++) {
		struct ark_journal_reader *r;
		CHECK(ark_journal_reader_open(&r, cfg.journal_dir, &err) == 0);
		CHECK(ark_journal_reader_seek(r, 1, &err) == 0);
		struct complete_ctx cc = c;
		if (!complete)
			cc.len = 0; /* the record stays cut: damage */
		ark_journal_reader_set_end_hook(r, complete_record, &cc);
		uint64_t expect = 1;
		int rc;
		while ((rc = ark_journal_reader_next(r, &rec, &err)) == 0) {
			CHECK_EQ_U64(rec.seq, expect);
			expect++;
		}
		if (complete) {
			CHECK_MSG(rc == -EAGAIN, "completed record taken for damage: %d %s", rc, err.msg);
			CHECK_EQ_U64(expect - 1, 1000);
		} else {
			CHECK_MSG(rc == -EBADMSG, "cut record before a newer segment: %d", rc);
			CHECK_EQ_U64(expect, last);
			CHECK_CONTAINS(err.msg, "damaged record");
		}
		ark_journal_reader_close(r);
	}
}

static void test_follow_tail(enum ark_journal_sync mode)
{
	struct ark_store_config cfg;
	fresh(&cfg);
	cfg.sync = mode;
	cfg.segment_bytes = 64 << 10;
	cfg.buffer_bytes = 1 << 20;
	const uint64_t n = test_scaled(20000, 3000);
	/* the reader starts before the journal exists */
	struct ark_err err = {0};
	CHECK(ark_store_mkdirs(cfg.journal_dir, &err) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ark_journal_reader *r;
		if (ark_journal_reader_open(&r, cfg.journal_dir, &err) != 0)
			_exit(10);
		ark_journal_reader_seek(r, 1, &err);
		uint64_t expect = 1;
		while (expect <= n) {
			struct ark_journal_record rec;
			int rc = ark_journal_reader_wait(r, &rec, 10ull * 1000000000ull, &err);
			if (rc != 0) {
				fprintf(stderr, "follower: %d %s at seq %llu\n", rc, err.msg,
					(unsigned long long)expect);
				_exit(11);
			}
			if (rec.seq != expect || !payload_ok(rec.seq, rec.payload, rec.len)) {
				fprintf(stderr, "follower: got seq %llu, expected %llu\n",
					(unsigned long long)rec.seq, (unsigned long long)expect);
				_exit(12);
			}
			expect++;
		}
		ark_journal_reader_close(r);
		_exit(0);
	}
	struct ark_journal *j = open_ok(&cfg, NULL);
	for (uint64_t s = 1; s <= n; s++) {
		append_std(j, s);
		if (s % 97 == 0) {
			CHECK(ark_journal_flush(j, &err) == 0);
			CHECK(ark_journal_poll(j, &err) == 0);
		}
		if (s % 2000 == 0) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
	close_ok(j);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "follower failed: status %d", status);
}

static void test_config_env(void)
{
	struct ark_store_config cfg;
	struct ark_err err = {0};
	setenv("ARK_DATA_DIR", root, 1);
	unsetenv("ARK_ENV");
	CHECK_MSG(ark_store_config_from_env(&cfg, &err) == 0, "%s", err.msg);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof want, "%s/journal", root);
	CHECK(strcmp(cfg.journal_dir, want) == 0);
	snprintf(want, sizeof want, "%s/ark_state.db", root);
	CHECK(strcmp(cfg.state_db, want) == 0);
	CHECK_EQ_U64(cfg.sync, ARK_JOURNAL_SYNC_INTERVAL);
	CHECK_EQ_U64(cfg.sync_interval_ns, 10000000);
	CHECK_EQ_U64(cfg.backup_keep, ARK_STORE_DEFAULT_BACKUP_KEEP);
	static const struct {
		const char *name, *value;
	} bad[] = {
		{"ARK_JOURNAL_SYNC", "always"},     {"ARK_JOURNAL_SEGMENT_BYTES", "12"},
		{"ARK_BACKUP_KEEP", "0"},           {"ARK_IO_URING", "maybe"},
		{"ARK_DB_SYNCHRONOUS", "SOMETIMES"}, {"ARK_DB_CHECKPOINT_INTERVAL", "soon"},
		{"ARK_JOURNAL_RETAIN_AGE", "-1"},   {"ARK_DB_INTEGRITY_CHECK", "never"},
		{"ARK_INSTANCE", "../x"},
	};
	const char *uring = getenv("ARK_IO_URING");
	char saved_uring[16] = "";
	if (uring)
		snprintf(saved_uring, sizeof saved_uring, "%s", uring);
	for (size_t i = 0; i < ARK_ARRAY_LEN(bad); i++) {
		setenv(bad[i].name, bad[i].value, 1);
		err.msg[0] = '\0';
		CHECK_MSG(ark_store_config_from_env(&cfg, &err) < 0, "%s=%s accepted", bad[i].name, bad[i].value);
		CHECK_CONTAINS(err.msg, bad[i].name);
		unsetenv(bad[i].name);
	}
	if (saved_uring[0]) /* the fallback run's setting */
		setenv("ARK_IO_URING", saved_uring, 1);
	setenv("ARK_JOURNAL_SYNC", "interval:25", 1);
	setenv("ARK_DB_CHECKPOINT_INTERVAL", "60", 1);
	setenv("ARK_DB_SYNCHRONOUS", "full", 1);
	setenv("ARK_JOURNAL_RETAIN_AGE", "48", 1);
	CHECK(ark_store_config_from_env(&cfg, &err) == 0);
	CHECK_EQ_U64(cfg.sync_interval_ns, 25000000);
	CHECK_EQ_U64(cfg.db_checkpoint_interval_ns, 60000000000ull);
	CHECK_EQ_U64(cfg.db_synchronous, 2);
	CHECK_EQ_U64(cfg.retain_age_ns, 48ull * 3600 * 1000000000ull);
	unsetenv("ARK_JOURNAL_SYNC");
	unsetenv("ARK_DB_CHECKPOINT_INTERVAL");
	unsetenv("ARK_DB_SYNCHRONOUS");
	unsetenv("ARK_JOURNAL_RETAIN_AGE");
	setenv("ARK_ENV", "prod", 1);
	unsetenv("ARK_DATA_DIR");
	CHECK(ark_store_config_from_env(&cfg, &err) == 0);
	CHECK(strcmp(cfg.state_db, "/var/lib/ark/ark_state.db") == 0);
	CHECK(strcmp(cfg.backup_dir, "/var/backups/ark") == 0);
	unsetenv("ARK_ENV");
}

static void test_crc32c(void)
{
	CHECK_EQ_U64(ark_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_U64(ark_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	uint8_t buf[4099];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t len = 0; len < sizeof buf; len += 97) {
		CHECK_EQ_U64(ark_crc32c(0, buf, len), ark_crc32c_sw(0, buf, len));
		uint32_t split = ark_crc32c(ark_crc32c(0, buf, len / 3), buf + len / 3, len - len / 3);
		CHECK_EQ_U64(split, ark_crc32c(0, buf, len));
	}
}

int main(void)
{
	make_tmpdir(root, sizeof root, "journal");
	test_crc32c();
	test_config_env();
	test_append_read_lookup();
	test_segments();
	test_sync_modes();
	test_torn_writes();
	test_bit_flips();
	test_seq_order();
	test_retention();
	test_follow_race(ARK_JOURNAL_SYNC_NONE);
	test_follow_race(ARK_JOURNAL_SYNC_BATCH);
	test_follow_race_incomplete();
	test_follow_tail(ARK_JOURNAL_SYNC_INTERVAL);
	test_follow_tail(ARK_JOURNAL_SYNC_NONE); /* the mode every pipeline test runs in */
	rm_rf(root);
	printf("test_store_journal (%s): ok\n",
	       getenv("ARK_IO_URING") && strcmp(getenv("ARK_IO_URING"), "0") == 0 ? "fallback" : "io_uring");
	return 0;
}
