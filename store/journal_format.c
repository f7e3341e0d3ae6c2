/* store/journal_format.c — the journal's on-disk format: record and segment
 * header validation, segment naming and listing. Shared by the writer, the
 * readers and verify so that all three agree on what a valid record is.
 *
 * Invariant: a record is valid only when its magic, length bound, flags and
 * CRC32C all check; anything else is either incomplete (could still become
 * valid when more bytes arrive: a tail being written) or invalid. */
#include "store/internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int64_t ark_journal_check_record(const uint8_t *p, uint64_t avail, const char **why)
{
	struct ark_journal_record_header h;
	if (avail < sizeof h) {
		/* Even a partial header can be judged by its magic. */
		uint32_t magic = ARK_JOURNAL_RECORD_MAGIC;
		if (memcmp(p, &magic, avail < 4 ? avail : 4) != 0) {
			*why = "bad record magic";
			return -1;
		}
		*why = "record header incomplete";
		return 0;
	}
	memcpy(&h, p, sizeof h);
	if (h.magic != ARK_JOURNAL_RECORD_MAGIC) {
		*why = "bad record magic";
		return -1;
	}
	if (h.len > ARK_JOURNAL_MAX_PAYLOAD) {
		*why = "record length beyond the maximum";
		return -1;
	}
	if (avail < sizeof h + h.len) {
		*why = "record payload incomplete";
		return 0;
	}
	if (h.flags != 0) {
		*why = "record flags not zero";
		return -1;
	}
	if (ark_journal_record_crc(&h, p + sizeof h) != h.crc) {
		*why = "CRC32C mismatch";
		return -1;
	}
	*why = NULL;
	return (int64_t)(sizeof h + h.len);
}

void ark_journal_fill_segment_header(struct ark_journal_segment_header *h, uint64_t first_seq,
				     uint64_t created_ns)
{
	memset(h, 0, sizeof *h);
	h->magic = ARK_JOURNAL_SEGMENT_MAGIC;
	h->version = ARK_JOURNAL_VERSION;
	h->header_bytes = ARK_JOURNAL_SEGMENT_HEADER_BYTES;
	h->first_seq = first_seq;
	h->created_realtime_ns = created_ns;
	h->crc = ark_crc32c(0, h, offsetof(struct ark_journal_segment_header, crc));
}

int ark_journal_check_segment_header(const struct ark_journal_segment_header *h, const char **why)
{
	if (h->magic != ARK_JOURNAL_SEGMENT_MAGIC) {
		*why = "not a journal segment (bad magic)";
		return -1;
	}
	if (h->crc != ark_crc32c(0, h, offsetof(struct ark_journal_segment_header, crc))) {
		*why = "segment header CRC32C mismatch";
		return -1;
	}
	if (h->version != ARK_JOURNAL_VERSION || h->header_bytes != ARK_JOURNAL_SEGMENT_HEADER_BYTES) {
		*why = "unsupported segment version";
		return -1;
	}
	return 0;
}

void ark_journal_segment_name(uint64_t first_seq, char *out, size_t cap)
{
	snprintf(out, cap, "%020llu" ARK_JOURNAL_SEGMENT_SUFFIX, (unsigned long long)first_seq);
}

static bool parse_segment_name(const char *name, uint64_t *first_seq)
{
	size_t n = strlen(name);
	size_t sfx = strlen(ARK_JOURNAL_SEGMENT_SUFFIX);
	if (n != 20 + sfx || strcmp(name + 20, ARK_JOURNAL_SEGMENT_SUFFIX) != 0)
		return false;
	uint64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (!isdigit((unsigned char)name[i]))
			return false;
		uint64_t d = (uint64_t)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*first_seq = v;
	return true;
}

static int by_first_seq(const void *a, const void *b)
{
	const struct ark_journal_segment_info *x = a, *y = b;
	return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

int ark_journal_list_segments(const char *dir, struct ark_journal_segment_info **list,
			      size_t *count, struct ark_err *err)
{
	*list = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return ark_err_set(err, -errno, "cannot open journal directory '%s': %s", dir,
				   strerror(errno));
	size_t cap = 0, n = 0;
	struct ark_journal_segment_info *v = NULL;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL) {
		uint64_t first;
		if (!parse_segment_name(e->d_name, &first))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
			if (errno == ENOENT) /* deleted by retention meanwhile */
				continue;
			rc = ark_err_set(err, -errno, "cannot stat '%s/%s': %s", dir, e->d_name,
					 strerror(errno));
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			void *nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				rc = ark_err_set(err, -ENOMEM, "out of memory listing '%s'", dir);
				break;
			}
			v = nv;
		}
		snprintf(v[n].name, sizeof v[n].name, "%s", e->d_name);
		v[n].first_seq = first;
		v[n].bytes = (uint64_t)st.st_size;
		v[n].mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
		n++;
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof *v, by_first_seq);
	*list = v;
	*count = n;
	return 0;
}

int ark_journal_writer_active(const char *dir)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/LOCK", dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int active = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0)
		active = errno == EWOULDBLOCK ? 1 : -errno;
	close(fd);
	return active;
}

int ark_journal_list(const char *dir, uint64_t *first_seqs, size_t cap, size_t *count,
		     struct ark_err *err)
{
	struct ark_journal_segment_info *v;
	size_t n;
	int rc = ark_journal_list_segments(dir, &v, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && i < cap; i++)
		first_seqs[i] = v[i].first_seq;
	*count = n;
	free(v);
	return 0;
}
