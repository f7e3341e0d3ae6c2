/* shm/shm.c — create, attach, validate and carve the shared segment.
 *
 * Invariants: a segment whose magic is set has a complete header (the magic
 * is stored last, with release ordering); regions never overlap and each
 * starts ARK_SHM_ALIGN-aligned; total_size equals the file's size. A segment
 * is mapped only when it is ours: a regular file on a tmpfs, owned by this
 * process's effective uid, mode exactly 0600, one link. Anything else in its
 * place (another user's plant, a file someone made world-writable) is refused
 * with its owner and mode named, and never removed or replaced: /dev/shm is
 * sticky, so a name we checked as ours stays ours until we unlink it. */
#include "shm/shm.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MIN_SIZE (sizeof(struct ark_shm_header) + ARK_SHM_ALIGN)

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int ark_shm_name_for_instance(const char *instance, char *name, size_t len, struct ark_err *err)
{
	size_t n = instance ? strlen(instance) : 0;
	if (n == 0 || n > 40 || instance[0] == '.')
		goto bad;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)instance[i];
		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			goto bad;
	}
	snprintf(name, len, "ark-%s", instance);
	return 0;
bad:
	return ark_err_set(err, -EINVAL,
			   "instance name '%s' is not valid: expected 1-40 characters from A-Z a-z 0-9 _ . - not starting with '.'",
			   instance ? instance : "");
}

static int check_name(const char *name, struct ark_err *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n >= ARK_SHM_NAME_MAX || strchr(name, '/') || name[0] == '.')
		return ark_err_set(err, -EINVAL, "segment name '%s' is not valid: expected 1-%d characters, no '/'",
				   name ? name : "", ARK_SHM_NAME_MAX - 1);
	return 0;
}

static void fill_names(struct ark_shm *shm, const char *name)
{
	snprintf(shm->name, sizeof shm->name, "%s", name);
	snprintf(shm->path, sizeof shm->path, "/dev/shm/%s", name);
}

/* starttime (field 22 of /proc/<pid>/stat) and the state letter (field 3);
 * 0 when unreadable. */
static uint64_t process_stat(int32_t pid, char *state)
{
	char path[64], buf[1024];
	*state = '?';
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields resume after
	 * the last ')'. starttime is field 22; after ')' comes field 3. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	*state = p[2];
	p++;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

uint64_t ark_shm_process_start_ticks(int32_t pid)
{
	char state;
	return process_stat(pid, &state);
}

bool ark_shm_process_alive(int32_t pid, uint64_t start_ticks)
{
	if (pid <= 0)
		return false;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	char state;
	uint64_t now_ticks = process_stat(pid, &state);
	/* A zombie has exited: an orphan whose reaper is slow is dead all the same. */
	if (state == 'Z' || state == 'X')
		return false;
	/* A start time of 0 is never a match: it is what an unreadable /proc
	 * entry (another user's process under hidepid) or a planted record
	 * gives, and "alive" decides what gets adopted or signalled. */
	return start_ticks != 0 && now_ticks == start_ticks;
}

bool ark_shm_is_stale(const struct ark_shm *shm)
{
	return !ark_shm_process_alive(shm->header->creator_pid, shm->header->creator_start_ticks);
}

void ark_shm_adopt(struct ark_shm *shm)
{
	int32_t pid = (int32_t)getpid();
	shm->header->creator_start_ticks = ark_shm_process_start_ticks(pid);
	shm->header->creator_pid = pid;
	shm->creator = true;
}

static void owner_name(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *found = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found)
		snprintf(out, len, "uid %u (%s)", (unsigned)uid, found->pw_name);
	else
		snprintf(out, len, "uid %u", (unsigned)uid);
}

/* The file behind fd is a segment of ours: a regular file on a tmpfs, owned
 * by our effective uid, mode exactly 0600 and one link. -EPERM names what
 * is wrong (owner, mode) and what to do; the file is left as it is. */
static int check_ours(int fd, const char *path, struct stat *st, struct ark_err *err)
{
	struct statfs fs;
	if (fstat(fd, st) != 0)
		return ark_err_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode) || fstatfs(fd, &fs) != 0 || fs.f_type != TMPFS_MAGIC)
		return ark_err_set(err, -EPERM,
				   "%s is not a shared-memory file (a regular file on /dev/shm's tmpfs): ARK does not use it; "
				   "remove it (as its owner or root) or choose another --instance", path);
	uid_t me = geteuid();
	unsigned mode = (unsigned)(st->st_mode & 07777);
	if (st->st_uid != me) {
		char owner[96], mine[96];
		owner_name(st->st_uid, owner, sizeof owner);
		owner_name(me, mine, sizeof mine);
		return ark_err_set(err, -EPERM,
				   "%s belongs to %s (mode %04o), not to this user, %s: ARK never uses, adopts or removes "
				   "another user's segment. If nobody should own it, have its owner or root remove it "
				   "(rm %s), or choose another --instance",
				   path, owner, mode, mine, path);
	}
	if (mode != 0600 || st->st_nlink != 1)
		return ark_err_set(err, -EPERM,
				   "%s has mode %04o and %lu link(s), expected 0600 and one: other users may have written "
				   "to it, so ARK does not trust it. Stop what uses it and remove it (rm %s)",
				   path, mode, (unsigned long)st->st_nlink, path);
	return 0;
}

/* Validate a mapped header against the file size and the caller's expectation. */
static int validate(const struct ark_shm_header *h, size_t file_size, size_t expected_size,
		    const char *path, struct ark_err *err)
{
	uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
	if (magic != ARK_SHM_MAGIC)
		return ark_err_set(err, -EPROTO,
				   "%s is not an ARK segment: magic is 0x%016llx, expected 0x%016llx (\"ARKSHM01\")%s",
				   path, (unsigned long long)magic, (unsigned long long)ARK_SHM_MAGIC,
				   magic == 0 ? "; it may still be being created, or its creator died while creating it" : "");
	if (h->layout_version != ARK_SHM_LAYOUT_VERSION)
		return ark_err_set(err, -EPROTO,
				   "%s has layout version %u, expected %u: it was made by another ARK version; stop that version or remove the segment",
				   path, h->layout_version, ARK_SHM_LAYOUT_VERSION);
	if (h->header_size != sizeof(struct ark_shm_header))
		return ark_err_set(err, -EPROTO, "%s has a header of %u bytes, expected %zu", path,
				   h->header_size, sizeof(struct ark_shm_header));
	if (h->total_size != file_size)
		return ark_err_set(err, -EPROTO,
				   "%s says its size is %llu bytes but the file holds %zu bytes: the segment is truncated or damaged",
				   path, (unsigned long long)h->total_size, file_size);
	if (expected_size && h->total_size != expected_size)
		return ark_err_set(err, -EPROTO, "%s is %llu bytes, expected %zu bytes", path,
				   (unsigned long long)h->total_size, expected_size);
	if (h->region_count > ARK_SHM_MAX_REGIONS || h->next_free > h->total_size)
		return ark_err_set(err, -EPROTO, "%s has a damaged region table (%u regions, %llu bytes used of %llu)",
				   path, h->region_count, (unsigned long long)h->next_free,
				   (unsigned long long)h->total_size);
	return 0;
}

static int map_fd(struct ark_shm *shm, int fd, size_t size, int populate, struct ark_err *err)
{
	void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0),
			  fd, 0);
	if (base == MAP_FAILED)
		return ark_err_set(err, -errno, "cannot map %s (%zu bytes): %s", shm->path, size, strerror(errno));
	shm->base = base;
	shm->header = base;
	shm->size = size;
	return 0;
}

/* The name exists. Only a segment of ours is ever replaced, and only when
 * its creator is gone (or it is not a segment at all any more). Another
 * user's file, or one whose mode someone widened, is refused with the
 * reason: never adopted, never removed. Returns 0 with *fd the new segment's
 * descriptor (or -1 with errno set, as shm_open leaves it). */
static int replace_stale(struct ark_shm *shm, const char *name, const char *shm_name, int *fd, struct ark_err *err)
{
	int old_fd = shm_open(shm_name, O_RDONLY | O_CLOEXEC, 0);
	if (old_fd < 0 && errno != ENOENT)
		return ark_err_set(err, -errno, "cannot open the existing %s: %s", shm->path, strerror(errno));
	if (old_fd >= 0) {
		struct stat st;
		int rc = check_ours(old_fd, shm->path, &st, err);
		close(old_fd);
		if (rc)
			return rc;
	}
	struct ark_shm old;
	struct ark_err why;
	int arc = old_fd >= 0 ? ark_shm_attach(&old, name, 0, &why) : -ENOENT;
	if (arc == -EPERM || arc == -EACCES)
		return ark_err_set(err, arc, "%s", why.msg);
	bool replace = arc != 0 || ark_shm_is_stale(&old);
	int32_t old_pid = arc == 0 ? old.header->creator_pid : 0;
	if (arc == 0)
		ark_shm_detach(&old);
	if (!replace)
		return ark_err_set(err, -EEXIST,
				   "%s already exists and its creator (pid %d) is alive: another ARK instance with this name is running",
				   shm->path, (int)old_pid);
	if (arc != -ENOENT)
		shm_unlink(shm_name);
	/* O_EXCL: should anyone plant the name in between, this fails. */
	*fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return 0;
}

/* A new segment's header: empty, owned by this process; the magic last. */
static void init_header(struct ark_shm *shm, size_t size, unsigned flags)
{
	struct ark_shm_header *h = shm->header;
	h->layout_version = ARK_SHM_LAYOUT_VERSION;
	h->header_size = sizeof *h;
	h->total_size = size;
	h->created_realtime_ns = ark_realtime_ns();
	h->creator_pid = (int32_t)getpid();
	h->creator_start_ticks = ark_shm_process_start_ticks(h->creator_pid);
	h->flags = flags;
	h->next_free = align_up(sizeof *h, ARK_SHM_ALIGN);
	h->region_count = 0;
	atomic_store_explicit(&h->magic, ARK_SHM_MAGIC, memory_order_release);
}

int ark_shm_create(struct ark_shm *shm, const char *name, size_t size, unsigned flags,
		   struct ark_err *err)
{
	memset(shm, 0, sizeof *shm);
	int rc = check_name(name, err);
	if (rc)
		return rc;
	fill_names(shm, name);
	if (size < MIN_SIZE)
		return ark_err_set(err, -EINVAL, "segment size %zu is too small: at least %zu bytes", size,
				   (size_t)MIN_SIZE);
	size = align_up(size, 4096);

	char shm_name[ARK_SHM_NAME_MAX + 1];
	snprintf(shm_name, sizeof shm_name, "/%s", name);
	int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && (flags & ARK_SHM_REPLACE_STALE) &&
	    (rc = replace_stale(shm, name, shm_name, &fd, err)))
		return rc;
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot create %s: %s%s", shm->path, strerror(errno),
				   errno == EEXIST ? " (an ARK instance with this name exists; stop it or remove the stale segment)" : "");
	fchmod(fd, 0600); /* whatever the umask */

	if (ftruncate(fd, (off_t)size) != 0) {
		rc = ark_err_set(err, -errno, "cannot size %s to %zu bytes: %s", shm->path, size, strerror(errno));
		goto fail;
	}
	/* Allocate every page now: a full /dev/shm is reported here, not as a
	 * SIGBUS in an agent later. */
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc != 0) {
		rc = ark_err_set(err, -rc, "cannot allocate %zu bytes for %s: %s (is /dev/shm large enough?)",
				 size, shm->path, strerror(rc));
		goto fail;
	}
	rc = map_fd(shm, fd, size, 0, err);
	if (rc)
		goto fail;
	if (flags & ARK_SHM_HUGEPAGES)
		shm->hugepages_effective = madvise(shm->base, size, MADV_HUGEPAGE) == 0;
	/* Populate (fault in) every page now so the first events pay no faults. */
	if (madvise(shm->base, size, MADV_POPULATE_WRITE) != 0) {
		volatile char *p = shm->base;
		for (size_t off = 0; off < size; off += 4096)
			p[off] = 0;
	}
	if ((flags & ARK_SHM_MLOCK) && mlock(shm->base, size) != 0) {
		rc = ark_err_set(err, -errno,
				 "cannot lock %zu bytes of %s in memory: %s (raise RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= in the unit, or drop the mlock option)",
				 size, shm->path, strerror(errno));
		goto fail_unmap;
	}
	close(fd);

	init_header(shm, size, flags);
	shm->creator = true;
	return 0;

fail_unmap:
	munmap(shm->base, shm->size);
	shm->base = NULL;
	shm->header = NULL;
fail:
	close(fd);
	shm_unlink(shm_name);
	return rc;
}

int ark_shm_attach(struct ark_shm *shm, const char *name, size_t expected_size, struct ark_err *err)
{
	memset(shm, 0, sizeof *shm);
	int rc = check_name(name, err);
	if (rc)
		return rc;
	fill_names(shm, name);
	char shm_name[ARK_SHM_NAME_MAX + 1];
	snprintf(shm_name, sizeof shm_name, "/%s", name);
	int fd = shm_open(shm_name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0 && errno == EACCES) {
		/* Not ours and not writable by us: say whose it is. */
		int ro = shm_open(shm_name, O_RDONLY | O_CLOEXEC, 0);
		struct stat st;
		if (ro >= 0) {
			rc = check_ours(ro, shm->path, &st, err);
			close(ro);
			if (rc)
				return rc;
		}
		errno = EACCES;
	}
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot open %s: %s%s", shm->path, strerror(errno),
				   errno == ENOENT ? " (is ARK running under this instance name?)" : "");
	struct stat st;
	if ((rc = check_ours(fd, shm->path, &st, err))) {
		close(fd);
		return rc;
	}
	if ((size_t)st.st_size < sizeof(struct ark_shm_header)) {
		close(fd);
		return ark_err_set(err, -EPROTO,
				   "%s is not an ARK segment: it holds %lld bytes, less than the %zu-byte header",
				   shm->path, (long long)st.st_size, sizeof(struct ark_shm_header));
	}
	rc = map_fd(shm, fd, (size_t)st.st_size, 0, err);   /* pages exist (creation populated them): fault them in as used, so a restarted agent attaches in microseconds */
	close(fd);
	if (rc)
		return rc;
	rc = validate(shm->header, (size_t)st.st_size, expected_size, shm->path, err);
	if (rc) {
		ark_shm_detach(shm);
		return rc;
	}
	return 0;
}

void ark_shm_detach(struct ark_shm *shm)
{
	if (shm->base)
		munmap(shm->base, shm->size);
	shm->base = NULL;
	shm->header = NULL;
	shm->size = 0;
}

int ark_shm_unlink(const char *name, struct ark_err *err)
{
	int rc = check_name(name, err);
	if (rc)
		return rc;
	char shm_name[ARK_SHM_NAME_MAX + 1];
	snprintf(shm_name, sizeof shm_name, "/%s", name);
	/* Never another user's file (root could remove it from sticky /dev/shm). */
	int fd = shm_open(shm_name, O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0) {
		struct stat st;
		bool mine = fstat(fd, &st) == 0 && st.st_uid == geteuid();
		close(fd);
		if (!mine)
			return ark_err_set(err, -EPERM, "/dev/shm/%s belongs to uid %u, not to this user: not removed", name,
					   (unsigned)st.st_uid);
	}
	if (shm_unlink(shm_name) != 0)
		return ark_err_set(err, -errno, "cannot remove /dev/shm/%s: %s", name, strerror(errno));
	return 0;
}

int ark_shm_alloc(struct ark_shm *shm, const char *region, size_t size, uint64_t *offset,
		  struct ark_err *err)
{
	struct ark_shm_header *h = shm->header;
	size_t n = strlen(region);
	if (n == 0 || n >= ARK_SHM_REGION_NAME_MAX)
		return ark_err_set(err, -EINVAL, "region name '%s' must be 1-%d characters", region,
				   ARK_SHM_REGION_NAME_MAX - 1);
	uint64_t existing;
	if (ark_shm_find(shm, region, &existing, NULL) == 0)
		return ark_err_set(err, -EEXIST, "region '%s' already exists in %s", region, shm->path);
	if (h->region_count == ARK_SHM_MAX_REGIONS)
		return ark_err_set(err, -ENOSPC, "%s has no room for region '%s': all %d region slots are used",
				   shm->path, region, ARK_SHM_MAX_REGIONS);
	uint64_t start = align_up(h->next_free, ARK_SHM_ALIGN);
	if (size > h->total_size || start > h->total_size - size)
		return ark_err_set(err, -ENOSPC,
				   "%s has no room for region '%s' of %zu bytes: %llu of %llu bytes are used",
				   shm->path, region, size, (unsigned long long)h->next_free,
				   (unsigned long long)h->total_size);
	struct ark_shm_region *r = &h->regions[h->region_count];
	memset(r, 0, sizeof *r);
	memcpy(r->name, region, n);
	r->offset = start;
	r->size = size;
	h->next_free = start + size;
	h->region_count++;
	*offset = start;
	return 0;
}

int ark_shm_find(const struct ark_shm *shm, const char *region, uint64_t *offset, uint64_t *size)
{
	const struct ark_shm_header *h = shm->header;
	for (uint32_t i = 0; i < h->region_count && i < ARK_SHM_MAX_REGIONS; i++) {
		if (strncmp(h->regions[i].name, region, ARK_SHM_REGION_NAME_MAX) == 0) {
			if (h->regions[i].offset + h->regions[i].size > h->total_size)
				return -EPROTO;
			*offset = h->regions[i].offset;
			if (size)
				*size = h->regions[i].size;
			return 0;
		}
	}
	return -ENOENT;
}
