/* store/journal_io.c — the journal's I/O backend: io_uring when it can be set
 * up, pwritev/fdatasync otherwise (seccomp, kernel.io_uring_disabled, or
 * ARK_IO_URING=0). The fallback is announced once per process.
 *
 * Invariant: every queued op produces exactly one completion, in queue order
 * for the fallback; for io_uring the journal keeps at most one write and one
 * sync in flight, so ordering follows from links and from its own sequencing.
 * Registered buffers are not used: they count against RLIMIT_MEMLOCK. */
#include "store/journal_io.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static _Atomic int fallback_announced;

static void announce_fallback(const struct ark_store_config *cfg, const char *why)
{
	if (atomic_exchange(&fallback_announced, 1))
		return;
	ark_store_log(cfg, why ? 1 : 0, "journal uses pwrite/fdatasync instead of io_uring: %s",
		      why ? why : "ARK_IO_URING=0");
}

int ark_jio_init(struct ark_jio *io, bool want_uring, const struct ark_store_config *cfg,
		 struct ark_err *err)
{
	memset(io, 0, sizeof *io);
	if (!want_uring) {
		announce_fallback(cfg, NULL);
		return 0;
	}
	int rc = io_uring_queue_init(16, &io->ring, 0);
	if (rc < 0) {
		char why[160];
		snprintf(why, sizeof why, "io_uring_queue_init failed: %s%s", strerror(-rc),
			 rc == -EPERM ? " (kernel.io_uring_disabled or seccomp?)" : "");
		announce_fallback(cfg, why);
		return 0;
	}
	io->uring = true;
	io->ring_ready = true;
	(void)err;
	return 0;
}

void ark_jio_exit(struct ark_jio *io)
{
	if (io->ring_ready)
		io_uring_queue_exit(&io->ring);
	io->ring_ready = false;
}

static void fallback_done(struct ark_jio *io, uint64_t tag, int32_t res, bool link)
{
	assert(io->done_count < ARK_JIO_MAX_DONE);
	io->done[io->done_count].tag = tag;
	io->done[io->done_count].res = res;
	io->done_count++;
	/* A chain ends at the first op queued without link. */
	io->chain_failed = link && res < 0;
}

static struct io_uring_sqe *get_sqe(struct ark_jio *io)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	if (!sqe) {
		/* The journal never has more than a handful in flight; a full SQ
		 * means unsubmitted entries: push them out and retry. */
		io_uring_submit(&io->ring);
		io->queued = 0;
		sqe = io_uring_get_sqe(&io->ring);
	}
	return sqe;
}

int ark_jio_write(struct ark_jio *io, int fd, const struct iovec *iov, int iovcnt, uint64_t offset,
		  uint64_t tag, bool link)
{
	if (!io->uring) {
		if (io->chain_failed) {
			fallback_done(io, tag, -ECANCELED, link);
			return 0;
		}
		ssize_t total = 0;
		/* pwritev may write less than asked; finish it here, like a
		 * blocking write would, and report errors as the result. */
		struct iovec local[IOV_MAX > 64 ? 64 : IOV_MAX];
		assert(iovcnt <= (int)ARK_ARRAY_LEN(local));
		memcpy(local, iov, (size_t)iovcnt * sizeof *iov);
		struct iovec *v = local;
		int n = iovcnt;
		while (n > 0) {
			ssize_t w = pwritev(fd, v, n, (off_t)(offset + (uint64_t)total));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				fallback_done(io, tag, -errno, link);
				return 0;
			}
			if (w == 0) {
				fallback_done(io, tag, -EIO, link);
				return 0;
			}
			total += w;
			while (n > 0 && (size_t)w >= v->iov_len) {
				w -= (ssize_t)v->iov_len;
				v++;
				n--;
			}
			if (n > 0) {
				v->iov_base = (char *)v->iov_base + w;
				v->iov_len -= (size_t)w;
			}
		}
		fallback_done(io, tag, (int32_t)total, link);
		return 0;
	}
	struct io_uring_sqe *sqe = get_sqe(io);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt, offset);
	/* IOSQE_ASYNC: the copy into the page cache happens in an io-wq worker,
	 * not inside io_uring_enter on the appending thread. */
	sqe->flags |= IOSQE_ASYNC | (link ? IOSQE_IO_LINK : 0);
	io_uring_sqe_set_data64(sqe, tag);
	io->queued++;
	return 0;
}

int ark_jio_fsync(struct ark_jio *io, int fd, bool datasync, uint64_t tag, bool link)
{
	if (!io->uring) {
		if (io->chain_failed) {
			fallback_done(io, tag, -ECANCELED, link);
			return 0;
		}
		int r = datasync ? fdatasync(fd) : fsync(fd);
		fallback_done(io, tag, r == 0 ? 0 : -errno, link);
		return 0;
	}
	struct io_uring_sqe *sqe = get_sqe(io);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	sqe->flags |= link ? IOSQE_IO_LINK : 0;
	io_uring_sqe_set_data64(sqe, tag);
	io->queued++;
	return 0;
}

int ark_jio_submit(struct ark_jio *io)
{
	if (!io->uring || io->queued == 0)
		return 0;
	int rc;
	do
		rc = io_uring_submit(&io->ring);
	while (rc == -EINTR);
	if (rc < 0)
		return rc;
	io->queued = 0;
	return 0;
}

void ark_jio_wait(struct ark_jio *io, uint64_t timeout_ns)
{
	if (!io->uring)
		return;
	struct __kernel_timespec ts = {(long long)(timeout_ns / 1000000000ull), (long long)(timeout_ns % 1000000000ull)};
	struct io_uring_cqe *cqe;
	(void)io_uring_wait_cqe_timeout(&io->ring, &cqe, &ts);   /* seen by the next reap */
}

int ark_jio_reap(struct ark_jio *io, struct ark_jio_done *out, int max, bool wait)
{
	if (!io->uring) {
		int n = io->done_count < max ? io->done_count : max;
		memcpy(out, io->done, (size_t)n * sizeof *out);
		memmove(io->done, io->done + n, (size_t)(io->done_count - n) * sizeof *out);
		io->done_count -= n;
		return n;
	}
	int n = 0;
	struct io_uring_cqe *cqe;
	while (n < max) {
		int rc;
		if (n == 0 && wait) {
			do
				rc = io_uring_wait_cqe(&io->ring, &cqe);
			while (rc == -EINTR);
		} else {
			rc = io_uring_peek_cqe(&io->ring, &cqe);
		}
		if (rc != 0 || !cqe)
			break;
		out[n].tag = io_uring_cqe_get_data64(cqe);
		out[n].res = cqe->res;
		n++;
		io_uring_cqe_seen(&io->ring, cqe);
	}
	return n;
}
