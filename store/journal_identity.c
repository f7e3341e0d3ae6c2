/* store/journal_identity.c — which journal a Mutable Core belongs to, and
 * where a journal's numbering continues.
 *
 * A journal is made once: its writer, opening a directory without one,
 * writes journal/IDENTITY (32 random hex digits, 0600, fsynced, renamed into
 * place). The Mutable Core records the identity of the journal it was
 * applied from (metadata journal_id), so a database and a journal that do
 * not belong together are told apart: a backup of another journal, or one
 * ahead of a journal that lost its disk, is refused rather than silently
 * skipping the events its applied seq covers.
 *
 * journal/BASE is written only when an operator re-bases a restored
 * database onto a journal (`ark restore --rebase`): the journal's numbering
 * continues after it even while the journal holds nothing beyond it, so no
 * new event ever takes a sequence number the database already holds.
 *
 * Invariant: IDENTITY never changes once written; BASE only grows. */
#include "store/journal_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_small(const char *path, char *buf, size_t cap, struct ark_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : ark_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	ssize_t n = read(fd, buf, cap - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return ark_err_set(err, -e, "cannot read '%s': %s", path, strerror(e));
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Write text to dir/name atomically (temporary file, fsync, rename, dir fsync). */
static int write_small(const char *dir, const char *name, const char *text, struct ark_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot create '%s': %s", tmp, strerror(errno));
	size_t len = strlen(text);
	int rc = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return ark_err_set(err, rc ? rc : -EIO, "cannot write '%s': %s", path, strerror(rc ? -rc : EIO));
	}
	return ark_store_fsync_dir(dir, err);
}

static bool valid_identity(const char *id)
{
	if (strlen(id) != ARK_JOURNAL_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int ark_journal_identity(const char *journal_dir, bool create, char out[ARK_JOURNAL_ID_LEN + 1], struct ark_err *err)
{
	out[0] = '\0';
	char path[PATH_MAX], text[64];
	snprintf(path, sizeof path, "%s/IDENTITY", journal_dir);
	int rc = read_small(path, text, sizeof text, err);
	if (rc == 0) {
		if (!valid_identity(text))
			return ark_err_set(err, -EBADMSG, "'%s' does not hold a journal identity (32 hex digits)", path);
		memcpy(out, text, ARK_JOURNAL_ID_LEN + 1);
		return 0;
	}
	if (rc != -ENOENT || !create)
		return rc;
	if ((rc = ark_store_mkdirs(journal_dir, err)))
		return rc;
	uint8_t random[ARK_JOURNAL_ID_LEN / 2];
	if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random)
		return ark_err_set(err, -EIO, "cannot draw a journal identity: %s", strerror(errno));
	for (size_t i = 0; i < sizeof random; i++)
		snprintf(text + 2 * i, 3, "%02x", random[i]);
	if ((rc = write_small(journal_dir, "IDENTITY", text, err)))
		return rc;
	memcpy(out, text, ARK_JOURNAL_ID_LEN + 1);
	return 0;
}

int ark_journal_base_seq(const char *journal_dir, uint64_t *seq, struct ark_err *err)
{
	*seq = 0;
	char path[PATH_MAX], text[32];
	snprintf(path, sizeof path, "%s/BASE", journal_dir);
	int rc = read_small(path, text, sizeof text, err);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	return ark_parse_u64(text, 0, UINT64_MAX / 2, path, seq, err);
}

int ark_journal_set_base_seq(const char *journal_dir, uint64_t seq, struct ark_err *err)
{
	uint64_t old;
	int rc = ark_journal_base_seq(journal_dir, &old, err);
	if (rc)
		return rc;
	if (seq <= old)
		return 0;   /* the base only grows */
	if ((rc = ark_store_mkdirs(journal_dir, err)))
		return rc;
	char text[32];
	snprintf(text, sizeof text, "%llu", (unsigned long long)seq);
	return write_small(journal_dir, "BASE", text, err);
}

/* The highest seq among the CRC-valid records of one segment, past any
 * damage (resynchronising, in linear time); 0 if none. */
static int segment_last_seq(const char *dir, const char *name, uint64_t *last, struct ark_err *err)
{
	*last = 0;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : ark_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return ark_err_set(err, -errno, "cannot stat '%s'", path);
	}
	struct ark_journal_scan s;
	if (ark_journal_scan_init(&s, fd, (uint64_t)st.st_size) != 0) {
		close(fd);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	int rc = 0;
	uint64_t off = ARK_JOURNAL_SEGMENT_HEADER_BYTES;
	while (off < s.size) {
		struct ark_journal_record_header h;
		const uint8_t *payload;
		uint64_t next;
		const char *why;
		int r = ark_journal_scan_at(&s, off, &h, &payload, &next, &why);
		if (r == ARK_SCAN_IO_ERROR) {
			rc = ark_err_set(err, -EIO, "read error in '%s'", path);
			break;
		}
		if (r == ARK_SCAN_RECORD) {
			if (h.seq > *last)
				*last = h.seq;
			off = next;
			continue;
		}
		if (r == ARK_SCAN_END)
			break;
		off = ark_journal_scan_resync(&s, off + 1);
	}
	ark_journal_scan_free(&s);
	close(fd);
	return rc;
}

int ark_journal_last_recorded_seq(const char *journal_dir, uint64_t *last, struct ark_err *err)
{
	*last = 0;
	struct ark_journal_segment_info *segs = NULL;
	size_t count = 0;
	int rc = ark_journal_list_segments(journal_dir, &segs, &count, err);
	if (rc == -ENOENT)
		return 0;
	/* The newest segment with a record holds the last one; damage is
	 * passed over (ark journal verify names it), never a reason to guess. */
	for (size_t i = count; !rc && i-- > 0 && *last == 0;)
		rc = segment_last_seq(journal_dir, segs[i].name, last, err);
	free(segs);
	return rc;
}
