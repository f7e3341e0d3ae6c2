/* store/journal_io.h — private: the journal's I/O backend. Two
 * implementations behind one queue-and-reap interface: io_uring (writes and
 * fdatasyncs complete asynchronously) and a fallback that performs each
 * operation with pwritev/fdatasync when it is queued and reports its
 * completion at the next reap. The journal's state machine is the same on
 * both. Ops queued with link=true make the next op wait for them; when a
 * linked op fails the rest of its chain completes with -ECANCELED. */
#ifndef ARK_STORE_JOURNAL_IO_H
#define ARK_STORE_JOURNAL_IO_H

#include "store/internal.h"

#include <liburing.h>
#include <sys/uio.h>

#define ARK_JIO_MAX_DONE 32

struct ark_jio_done {
	uint64_t tag;
	int32_t res;   /* bytes written, 0 for a sync, or -errno */
};

struct ark_jio {
	bool uring;
	bool ring_ready;
	struct io_uring ring;
	unsigned queued;               /* SQEs not yet submitted */
	/* fallback: completions waiting to be reaped */
	struct ark_jio_done done[ARK_JIO_MAX_DONE];
	int done_count;
	bool chain_failed;             /* fallback: the current link chain failed */
};

/* want_uring false forces the fallback. On io_uring failure falls back and
 * logs once per process. */
int ark_jio_init(struct ark_jio *io, bool want_uring, const struct ark_store_config *cfg,
		 struct ark_err *err);
void ark_jio_exit(struct ark_jio *io);
int ark_jio_write(struct ark_jio *io, int fd, const struct iovec *iov, int iovcnt, uint64_t offset,
		  uint64_t tag, bool link);
int ark_jio_fsync(struct ark_jio *io, int fd, bool datasync, uint64_t tag, bool link);
int ark_jio_submit(struct ark_jio *io);
/* Up to max completions; wait blocks until at least one (when any is pending). */
int ark_jio_reap(struct ark_jio *io, struct ark_jio_done *out, int max, bool wait);
/* Block until a completion is there to reap or timeout_ns passed (io_uring;
 * the fallback completes everything at once and returns at once). */
void ark_jio_wait(struct ark_jio *io, uint64_t timeout_ns);

#endif /* ARK_STORE_JOURNAL_IO_H */
