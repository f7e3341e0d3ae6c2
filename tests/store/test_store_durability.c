/* tests/store/test_store_durability.c — durability where a missing sync
 * shows: a simulated power cut keeps only the bytes the journal made
 * durable, and recovery must find every record the journal acknowledged as
 * durable (ark_journal_durable_seq) at that moment.
 *
 * The program is linked with -Wl,--wrap for open, openat, pwritev, fdatasync,
 * fsync and io_uring_submit: every call the store makes goes through the
 * recorder below first, which notes, in order, each file created, each
 * range written (the fallback's pwritev as completed; io_uring's WRITEV as
 * submitted) and each sync (fdatasync/fsync/syncfs as completed; io_uring's
 * FSYNC as submitted — a sync the journal acknowledged did complete; the
 * model assumes each sync covers the writes submitted before it, which the
 * journal's one-write-in-flight order guarantees). A power cut
 * at any point builds a copy of the journal directory holding only:
 *   - files whose directory entry was synced (a sync of the directory after
 *     the file was created),
 *   - of each, the ranges written before a later sync of that file,
 * taking the bytes from the real files (the journal never rewrites a byte).
 * Then the copy is opened for writing (tail recovery) and read back.
 *
 * A journal whose fdatasync became a no-op (fallback) or whose io_uring
 * fsync became a nop, or that skips the directory sync of a new segment,
 * loses acknowledged records here; kill -9 cannot show any of that. Runs
 * on io_uring and on the fallback (ARK_IO_URING=0), in sync modes batch,
 * interval and none, across segment rolls. */
#include "store_test.h"

#include <dirent.h>
#include <liburing.h>
#include <stdarg.h>
#include <sys/uio.h>

/* ---- the recorder ---- */

enum op_kind { OP_CREATE, OP_WRITE, OP_SYNC, OP_SYNCFS };

struct op {
	enum op_kind kind;
	int path;          /* index into paths */
	uint64_t off, len;
};

#define MAX_OPS (1u << 20)
#define MAX_PATHS 4096
#define MAX_FDS 1024

static struct op *ops;
static size_t nops;
static char *paths[MAX_PATHS];
static int npaths;
static int fd_path[MAX_FDS];  /* path index of an fd the store opened, -1 if none */
static bool recording;

static int path_index(const char *p)
{
	for (int i = 0; i < npaths; i++)
		if (strcmp(paths[i], p) == 0)
			return i;
	CHECK(npaths < MAX_PATHS);
	paths[npaths] = strdup(p);
	CHECK(paths[npaths]);
	return npaths++;
}

static void record(enum op_kind kind, int fd, uint64_t off, uint64_t len)
{
	if (!recording || fd < 0 || fd >= MAX_FDS || fd_path[fd] < 0)
		return;
	CHECK(nops < MAX_OPS);
	ops[nops++] = (struct op){.kind = kind, .path = fd_path[fd], .off = off, .len = len};
}

static void note_open(int fd, bool created)
{
	if (fd < 0 || fd >= MAX_FDS)
		return;
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0) {
		fd_path[fd] = -1;
		return;
	}
	target[n] = '\0';
	fd_path[fd] = path_index(target);
	if (created)
		record(OP_CREATE, fd, 0, 0);
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	bool existed = access(path, F_OK) == 0;
	int fd = __real_open(path, flags, mode);
	note_open(fd, !existed);
	return fd;
}

int __real_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	bool existed = faccessat(dirfd, path, F_OK, 0) == 0;
	int fd = __real_openat(dirfd, path, flags, mode);
	note_open(fd, !existed);
	return fd;
}

ssize_t __real_pwritev(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	ssize_t w = __real_pwritev(fd, iov, n, off);
	if (w > 0)
		record(OP_WRITE, fd, (uint64_t)off, (uint64_t)w);
	return w;
}

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_fdatasync(int fd)
{
	int r = __real_fdatasync(fd);
	if (r == 0)
		record(OP_SYNC, fd, 0, 0);
	return r;
}

int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	int r = __real_fsync(fd);
	if (r == 0)
		record(OP_SYNC, fd, 0, 0);
	return r;
}

/* syncfs: every file of the file system (the journal's way to reach the
 * segments sealed without a sync in mode none) */
int __real_syncfs(int fd);
int __wrap_syncfs(int fd);
int __wrap_syncfs(int fd)
{
	int r = __real_syncfs(fd);
	if (r == 0 && recording) {
		CHECK(nops < MAX_OPS);
		ops[nops++] = (struct op){.kind = OP_SYNCFS, .path = -1};
	}
	return r;
}

/* io_uring: the entries queued since the last submit, as the kernel will
 * get them. */
int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	for (unsigned i = sq->sqe_head; i != sq->sqe_tail; i++) {
		const struct io_uring_sqe *sqe = &sq->sqes[i & sq->ring_mask];
		if (sqe->opcode == IORING_OP_WRITEV) {
			const struct iovec *iov = (const struct iovec *)(uintptr_t)sqe->addr;
			uint64_t len = 0;
			for (unsigned k = 0; k < sqe->len; k++)
				len += iov[k].iov_len;
			record(OP_WRITE, sqe->fd, sqe->off, len);
		} else if (sqe->opcode == IORING_OP_WRITE) {
			record(OP_WRITE, sqe->fd, sqe->off, sqe->len);
		} else if (sqe->opcode == IORING_OP_FSYNC) {
			record(OP_SYNC, sqe->fd, 0, 0);
		}
	}
	return __real_io_uring_submit(ring);
}

/* ---- the power cut ---- */

static char root[256];
static int cuts;

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Build the copy as the disk would hold it after a power cut now; return
 * its journal directory in out. */
static void power_cut(const char *journal_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/cut%d", root, ++cuts);
	CHECK(mkdir(out, 0700) == 0);
	size_t dirlen = strlen(journal_dir);
	int dir_path = -1;
	for (int i = 0; i < npaths; i++)
		if (strcmp(paths[i], journal_dir) == 0)
			dir_path = i;
	for (int p = 0; p < npaths; p++) {
		if (strncmp(paths[p], journal_dir, dirlen) != 0 || paths[p][dirlen] != '/' || is_dir(paths[p]))
			continue;
		/* Segments only: the journal's IDENTITY (and BASE) are written
		 * with write(), fsync, rename and a directory fsync before the
		 * journal takes a record, which this recorder does not model;
		 * they are copied as they are, below. */
		size_t plen = strlen(paths[p]);
		if (plen < 5 || strcmp(paths[p] + plen - 5, ".arkj") != 0)
			continue;
		/* the directory entry: a file created while recording needs a
		 * sync of the directory after its creation */
		size_t created = SIZE_MAX;
		for (size_t i = 0; i < nops && created == SIZE_MAX; i++)
			if (ops[i].kind == OP_CREATE && ops[i].path == p)
				created = i;
		if (created != SIZE_MAX) {
			bool entry = false;
			for (size_t i = created + 1; i < nops && !entry; i++)
				entry = (ops[i].kind == OP_SYNC && ops[i].path == dir_path) || ops[i].kind == OP_SYNCFS;
			if (!entry)
				continue; /* the file is gone */
		}
		size_t last_sync = SIZE_MAX;
		for (size_t i = nops; i-- > 0 && last_sync == SIZE_MAX;)
			if ((ops[i].kind == OP_SYNC && ops[i].path == p) || ops[i].kind == OP_SYNCFS)
				last_sync = i;
		char copy[PATH_MAX + 64];
		snprintf(copy, sizeof copy, "%s%s", out, paths[p] + dirlen);
		int dst = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(dst >= 0);
		int src = open(paths[p], O_RDONLY);
		CHECK(src >= 0);
		static uint8_t buf[1 << 16];
		for (size_t i = 0; last_sync != SIZE_MAX && i < last_sync; i++) {
			if (ops[i].kind != OP_WRITE || ops[i].path != p)
				continue;
			for (uint64_t done = 0; done < ops[i].len;) {
				size_t n = (size_t)ARK_MIN(ops[i].len - done, sizeof buf);
				ssize_t r = pread(src, buf, n, (off_t)(ops[i].off + done));
				CHECK(r >= 0);
				if (r == 0)
					break; /* an io_uring write still in flight: its sync is too */
				CHECK(pwrite(dst, buf, (size_t)r, (off_t)(ops[i].off + done)) == r);
				done += (uint64_t)r;
			}
		}
		close(src);
		close(dst);
	}
	static const char *const atomic_files[] = {"IDENTITY", "BASE"};
	for (size_t f = 0; f < ARK_ARRAY_LEN(atomic_files); f++) {
		char from[PATH_MAX + 16], to[PATH_MAX + 64], text[256];
		snprintf(from, sizeof from, "%s/%s", journal_dir, atomic_files[f]);
		snprintf(to, sizeof to, "%s/%s", out, atomic_files[f]);
		int src = open(from, O_RDONLY);
		if (src < 0)
			continue;
		ssize_t n = read(src, text, sizeof text);
		close(src);
		CHECK(n >= 0);
		int dst = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(dst >= 0 && write(dst, text, (size_t)n) == n);
		close(dst);
	}
}

/* Recovery on the copy finds every record up to `durable`, in order, and
 * nothing damaged. */
static void check_recovery(const char *copy, uint64_t durable, const char *what)
{
	bool was = recording;
	recording = false;
	struct ark_store_config cfg;
	test_config(&cfg, copy);
	snprintf(cfg.journal_dir, sizeof cfg.journal_dir, "%s", copy);
	cfg.log = quiet_log;
	struct ark_err err = {0};
	struct ark_journal *j;
	struct ark_journal_recovery rec;
	CHECK_MSG(ark_journal_open(&j, &cfg, &rec, &err) == 0, "%s: recovery after a power cut: %s", what, err.msg);
	CHECK_MSG(ark_journal_last_seq(j) >= durable,
		  "%s: power cut lost acknowledged records: durable seq was %llu, recovery found up to %llu",
		  what, (unsigned long long)durable, (unsigned long long)ark_journal_last_seq(j));
	CHECK(ark_journal_close(j, &err) == 0);
	struct ark_journal_reader *r;
	CHECK(ark_journal_reader_open(&r, copy, &err) == 0);
	CHECK(ark_journal_reader_seek(r, 0, &err) == 0);
	uint64_t expect = 1;
	struct ark_journal_record record_;
	int rc;
	while ((rc = ark_journal_reader_next(r, &record_, &err)) == 0) {
		CHECK_MSG(record_.seq == expect, "%s: after the power cut seq %llu follows %llu", what,
			  (unsigned long long)record_.seq, (unsigned long long)(expect - 1));
		CHECK(payload_ok(record_.seq, record_.payload, record_.len));
		expect++;
	}
	CHECK_MSG(rc == -EAGAIN, "%s: reading the recovered copy: %s", what, err.msg);
	CHECK_MSG(expect - 1 >= durable, "%s: acknowledged up to %llu, the copy holds %llu", what,
		  (unsigned long long)durable, (unsigned long long)(expect - 1));
	ark_journal_reader_close(r);
	recording = was;
}

/* ---- workloads ---- */

static void start_recording(void)
{
	nops = 0;
	for (int i = 0; i < MAX_FDS; i++)
		fd_path[i] = -1;
	recording = true;
}

static struct ark_journal *open_recorded(struct ark_store_config *cfg, const char *name, const char *sync)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/%s", root, name);
	CHECK(mkdir(dir, 0700) == 0);
	test_config(cfg, dir);
	cfg->segment_bytes = 64 << 10;   /* rolls every ~400 records: directory syncs matter */
	cfg->buffer_bytes = 1 << 20;
	cfg->log = quiet_log;
	struct ark_err err = {0};
	CHECK(ark_store_parse_sync(sync, &cfg->sync, &cfg->sync_interval_ns, &err) == 0);
	CHECK(mkdir(cfg->journal_dir, 0700) == 0); /* the directory itself predates the test */
	start_recording();
	struct ark_journal *j;
	CHECK_MSG(ark_journal_open(&j, cfg, NULL, &err) == 0, "%s", err.msg);
	return j;
}

/* Append n records, flushing every `batch`, and cut the power every
 * `cut_every` flushes; returns the highest durable seq acknowledged at a cut. */
static uint64_t run(const char *name, const char *sync, uint64_t n, uint64_t batch, uint64_t cut_every)
{
	struct ark_store_config cfg;
	struct ark_journal *j = open_recorded(&cfg, name, sync);
	struct ark_err err = {0};
	uint64_t best = 0, flushes = 0;
	for (uint64_t s = 1; s <= n; s++) {
		append_std(j, s);
		if (s % batch)
			continue;
		CHECK(ark_journal_flush(j, &err) == 0);
		CHECK(ark_journal_poll(j, &err) == 0);
		if (++flushes % cut_every)
			continue;
		/* let the acknowledgements catch up a little, as a caller
		 * waiting for durability would */
		ark_journal_wait(j, 2000000);
		CHECK(ark_journal_poll(j, &err) == 0);
		uint64_t durable = ark_journal_durable_seq(j);
		char copy[PATH_MAX], what[128];
		power_cut(cfg.journal_dir, copy, sizeof copy);
		snprintf(what, sizeof what, "%s, cut after seq %llu", name, (unsigned long long)s);
		check_recovery(copy, durable, what);
		if (durable > best)
			best = durable;
	}
	/* the journal made everything durable on request: a cut now keeps all */
	CHECK(ark_journal_sync(j, &err) == 0);
	CHECK_EQ_U64(ark_journal_durable_seq(j), n);
	char copy[PATH_MAX], what[128];
	power_cut(cfg.journal_dir, copy, sizeof copy);
	snprintf(what, sizeof what, "%s, cut after ark_journal_sync", name);
	check_recovery(copy, n, what);
	recording = false;
	CHECK(ark_journal_close(j, &err) == 0);
	return best;
}

int main(void)
{
	ops = malloc(MAX_OPS * sizeof *ops);
	CHECK(ops);
	make_tmpdir(root, sizeof root, "durability");
	const uint64_t n = test_scaled(6000, 1500);
	/* batch: each flush is synced; acknowledgements come with the syncs */
	uint64_t best = run("batch", "batch", n, 50, 4);
	CHECK_MSG(best >= n / 2, "batch: the journal acknowledged only up to %llu of %llu", (unsigned long long)best,
		  (unsigned long long)n);
	/* interval: syncs from poll on the writer's clock */
	best = run("interval", "interval:1", n, 50, 4);
	CHECK_MSG(best > 0, "interval: nothing was ever acknowledged as durable");
	/* none: nothing is claimed until ark_journal_sync (checked at the end) */
	best = run("none", "none", n, 50, 8);
	CHECK_EQ_U64(best, 0);
	rm_rf(root);
	printf("test_store_durability (%s): ok\n",
	       getenv("ARK_IO_URING") && strcmp(getenv("ARK_IO_URING"), "0") == 0 ? "fallback" : "io_uring");
	return 0;
}
