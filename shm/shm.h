/* shm/shm.h — the ARK shared-memory segment.
 *
 * One segment per ARK instance, a file in /dev/shm (mode 0600) created by its
 * owner and attached by every other process. It opens with a versioned header
 * (magic, layout version, total size, creation time, creator pid and start
 * time) and a table of named regions; everything inside is addressed by
 * offset from the segment's start, never by pointer, because each process may
 * map it at another address. Pages are allocated and populated at creation,
 * so running out of /dev/shm is an error at start-up, not a SIGBUS later.
 *
 * Regions are carved by the creator before other processes attach: allocation
 * is not safe against concurrent allocators. */
#ifndef ARK_SHM_H
#define ARK_SHM_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARK_SHM_MAGIC 0x31304d48534b5241ull /* "ARKSHM01" little-endian */
#define ARK_SHM_LAYOUT_VERSION 1u
#define ARK_SHM_MAX_REGIONS 64
#define ARK_SHM_REGION_NAME_MAX 48
#define ARK_SHM_NAME_MAX 64
#define ARK_SHM_ALIGN 128u /* regions start on their own pair of cache lines */

struct ark_shm_region {
	char name[ARK_SHM_REGION_NAME_MAX];
	uint64_t offset;
	uint64_t size;
};

struct ark_shm_header {
	_Atomic uint64_t magic;          /* written last at creation (release) */
	uint32_t layout_version;
	uint32_t header_size;
	uint64_t total_size;
	uint64_t created_realtime_ns;
	int32_t creator_pid;
	uint32_t flags;                  /* ARK_SHM_* options in force */
	uint64_t creator_start_ticks;    /* /proc/<pid>/stat starttime: guards pid reuse */
	uint64_t next_free;              /* bump allocator: first unused byte */
	uint32_t region_count;
	uint32_t reserved;
	struct ark_shm_region regions[ARK_SHM_MAX_REGIONS];
};

/* Creation options. */
enum {
	ARK_SHM_MLOCK = 1u << 0,         /* lock pages in RAM (RLIMIT_MEMLOCK applies) */
	ARK_SHM_HUGEPAGES = 1u << 1,     /* ask for transparent huge pages */
	ARK_SHM_REPLACE_STALE = 1u << 2, /* replace an existing segment whose creator is dead */
};

struct ark_shm {
	struct ark_shm_header *header;  /* == base */
	void *base;
	size_t size;
	bool creator;
	bool hugepages_effective;
	char name[ARK_SHM_NAME_MAX];   /* "ark-<instance>" */
	char path[ARK_SHM_NAME_MAX + 16];  /* "/dev/shm/ark-<instance>" */
};

/* Instance names: 1-40 characters from [A-Za-z0-9_.-], not starting with '.'. */
int ark_shm_name_for_instance(const char *instance, char *name, size_t len, struct ark_err *err);

int ark_shm_create(struct ark_shm *shm, const char *name, size_t size, unsigned flags,
		   struct ark_err *err);
/* expected_size 0 accepts any size the header and the file agree on. */
int ark_shm_attach(struct ark_shm *shm, const char *name, size_t expected_size,
		   struct ark_err *err);
void ark_shm_detach(struct ark_shm *shm);
int ark_shm_unlink(const char *name, struct ark_err *err);

/* Carve a named region (creator only, before others attach). */
int ark_shm_alloc(struct ark_shm *shm, const char *region, size_t size, uint64_t *offset,
		  struct ark_err *err);
int ark_shm_find(const struct ark_shm *shm, const char *region, uint64_t *offset, uint64_t *size);

static inline void *ark_shm_at(const struct ark_shm *shm, uint64_t offset)
{
	return (char *)shm->base + offset;
}

/* True when the process that created the segment no longer exists (or its
 * pid now belongs to another process). */
bool ark_shm_is_stale(const struct ark_shm *shm);
/* Make this process the segment's owner (a watchdog taking over from a dead
 * one): its pid and start time replace the creator's, so the segment is not
 * stale and no second owner takes it. */
void ark_shm_adopt(struct ark_shm *shm);
/* Same test on pid and start time, for other owners recorded in a segment.
 * A start time of 0 never matches. */
bool ark_shm_process_alive(int32_t pid, uint64_t start_ticks);
/* The start time of a process in clock ticks since boot, 0 if unknown. */
uint64_t ark_shm_process_start_ticks(int32_t pid);

/* ---- Recorded processes (shm/process.c) ----
 * Before a pid read from a segment or a pid file is adopted or signalled:
 * it must be alive with the recorded start time (never 0), run as this
 * process's effective uid, execute one of `exe` (NULL-terminated list of
 * paths; a binary replaced on disk since, "(deleted)", still matches) and
 * name `instance` on its command line (or in ARK_INSTANCE). */
struct ark_shm_process_expect {
	const char *instance;
	const char *const *exe;
};
/* 0 when it is; -ESRCH when it is gone, -EPERM when it is not ours (why
 * says which check failed). */
int ark_shm_process_verify(int32_t pid, uint64_t start_ticks, const struct ark_shm_process_expect *expect,
			   char *why, size_t why_len);
/* A pidfd on the process, opened before the checks (so the one checked is
 * the one signalled), or a negative code as ark_shm_process_verify. */
int ark_shm_process_open(int32_t pid, uint64_t start_ticks, const struct ark_shm_process_expect *expect, char *why,
			 size_t why_len);
int ark_shm_pidfd_signal(int pidfd, int sig);

#endif /* ARK_SHM_H */
