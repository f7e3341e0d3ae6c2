/* store/backup_digest.c — backups that prove themselves: the SHA-256 of each
 * backup file, in a manifest beside it (<backup>.sha256, sha256sum's format,
 * mode 0600) and in the Mutable Core's backups row; verification of a file
 * against both before anything restores it.
 *
 * Invariant: a backup is restorable only when its bytes hash as its manifest
 * says and, where the Mutable Core still records it, as the record says. A
 * flipped byte, a truncated copy or a swapped file is refused by name,
 * whatever integrity_check thinks of it. */
#include "store/core_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void hex_of(const unsigned char digest[32], char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[64] = '\0';
}

int ark_store_sha256_init(struct ark_store_sha256 *h)
{
	h->ctx = EVP_MD_CTX_new();
	return h->ctx && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

void ark_store_sha256_update(struct ark_store_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void ark_store_sha256_final(struct ark_store_sha256 *h, char hex[65])
{
	unsigned char digest[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex(h->ctx, digest, &n);
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	hex_of(digest, hex);
}

int ark_store_file_sha256(const char *path, char hex[65], uint64_t *bytes, struct ark_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));
	struct ark_store_sha256 h;
	if (ark_store_sha256_init(&h)) {
		close(fd);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	static __thread char buf[1 << 16];
	uint64_t total = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = ark_err_set(err, -errno, "reading '%s': %s", path, strerror(errno));
		if (r <= 0)
			break;
		ark_store_sha256_update(&h, buf, (size_t)r);
		total += (uint64_t)r;
	}
	close(fd);
	ark_store_sha256_final(&h, hex);
	if (bytes)
		*bytes = total;
	return rc;
}

static void manifest_path(const char *backup, char *out, size_t cap)
{
	snprintf(out, cap, "%s.sha256", backup);
}

int ark_store_backup_manifest_write(const char *backup, const char *hex, struct ark_err *err)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 48];
	manifest_path(backup, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	const char *base = strrchr(backup, '/');
	base = base ? base + 1 : backup;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot write the checksum manifest '%s': %s", tmp, strerror(errno));
	char line[PATH_MAX + 80];
	int n = snprintf(line, sizeof line, "%s  %s\n", hex, base);
	int rc = 0;
	if (n <= 0 || (size_t)n >= sizeof line || write(fd, line, (size_t)n) != n || fsync(fd) != 0)
		rc = ark_err_set(err, -EIO, "cannot write the checksum manifest '%s': %s", tmp, strerror(errno));
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = ark_err_set(err, -errno, "cannot name the checksum manifest '%s': %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

/* The manifest's hash: 64 hex digits, two spaces, the backup's own name. */
static int manifest_read(const char *backup, char hex[65], struct ark_err *err)
{
	char path[PATH_MAX + 16];
	manifest_path(backup, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return ark_err_set(err, -ENODATA,
					   "'%s' has no checksum manifest ('%s' is missing): it cannot prove it is the "
					   "backup ARK wrote", backup, path);
		return ark_err_set(err, -e, "cannot read the checksum manifest '%s': %s", path, strerror(e));
	}
	char text[PATH_MAX + 80];
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0)
		return ark_err_set(err, -EIO, "cannot read the checksum manifest '%s'", path);
	text[n] = '\0';
	const char *base = strrchr(backup, '/');
	base = base ? base + 1 : backup;
	size_t base_len = strlen(base);
	bool ok = n >= 67 && text[64] == ' ' && text[65] == ' ' && strncmp(text + 66, base, base_len) == 0 &&
		  (text[66 + base_len] == '\n' || text[66 + base_len] == '\0');
	for (int i = 0; ok && i < 64; i++) {
		char c = text[i];
		ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		hex[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
	}
	hex[64] = '\0';
	if (!ok)
		return ark_err_set(err, -EBADMSG,
				   "the checksum manifest '%s' is not \"<64 hex digits>  %s\": refusing to trust it", path,
				   base);
	return 0;
}

/* What the Mutable Core recorded for this backup, if it still can say. */
static int recorded_sha256(const struct ark_store_config *cfg, const char *backup, char hex[65])
{
	hex[0] = '\0';
	if (strcmp(cfg->state_db, ":memory:") == 0 || access(cfg->state_db, F_OK) != 0)
		return 0;
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(cfg->state_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close_v2(db);
		return 0;   /* a damaged live database (the reason for a restore, often) records nothing */
	}
	sqlite3_busy_timeout(db, 2000);
	const char *base = strrchr(backup, '/');
	base = base ? base + 1 : backup;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT sha256 FROM backups WHERE sha256 IS NOT NULL AND"
			       " (path = ?1 OR substr(path, -length(?2) - 1) = '/' || ?2) ORDER BY id DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, backup, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, base, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			if (t && strlen((const char *)t) == 64)
				memcpy(hex, t, 65);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	return 0;
}

int ark_store_backup_verify(const struct ark_store_config *cfg, const char *path, struct ark_backup_verify *out,
			    struct ark_err *err)
{
	memset(out, 0, sizeof *out);
	struct stat st;
	if (stat(path, &st) != 0)
		return ark_err_set(err, -ENOENT, "backup '%s' is missing (no such file)", path);
	if (!S_ISREG(st.st_mode))
		return ark_err_set(err, -EINVAL, "'%s' is not a regular file", path);
	int rc = manifest_read(path, out->manifest_sha256, err);
	if (rc)
		return rc;
	out->has_manifest = true;
	if ((rc = ark_store_file_sha256(path, out->sha256, &out->bytes, err)))
		return rc;
	if (strcmp(out->sha256, out->manifest_sha256) != 0)
		return ark_err_set(err, -EBADMSG,
				   "'%s' hashes %s but its manifest says %s: the file changed since ARK wrote it "
				   "(a flipped byte, a truncated copy or another file): refusing it",
				   path, out->sha256, out->manifest_sha256);
	recorded_sha256(cfg, path, out->recorded_sha256);
	out->recorded = out->recorded_sha256[0] != '\0';
	if (out->recorded && strcmp(out->sha256, out->recorded_sha256) != 0)
		return ark_err_set(err, -EBADMSG,
				   "'%s' hashes %s, its manifest agrees, but the Mutable Core recorded %s when it took "
				   "this backup: file and manifest were both replaced; refusing it",
				   path, out->sha256, out->recorded_sha256);
	return 0;
}
