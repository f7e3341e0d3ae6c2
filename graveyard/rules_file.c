/* graveyard/rules_file.c — the rules as a file: SHA-256 (OpenSSL EVP),
 * loading, the installed path, and installation as a read-only copy.
 *
 * Invariant: the bytes that are hashed are the bytes that are compiled (one
 * read into memory, then both), so the recorded hash always names exactly
 * the rules HRM enforces; an installed file is complete or absent (temp file,
 * fsync, rename) and is never writable (0444). */
#include "graveyard/graveyard.h"
#include "graveyard/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ark_graveyard_sha256(const void *data, size_t length, uint8_t out[32])
{
	unsigned int n = 32;
	if (!EVP_Digest(data, length, out, &n, EVP_sha256(), NULL))
		abort();   /* OpenSSL cannot compute SHA-256: nothing sane to continue with */
}

void ark_graveyard_table_hash(const struct ark_graveyard_limits *limits, uint8_t out[32])
{
	ark_graveyard_sha256(limits, sizeof *limits, out);
}

void ark_graveyard_hex(const uint8_t digest[32], char out[ARK_GRAVEYARD_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 15];
	}
	out[ARK_GRAVEYARD_HEX_LEN] = '\0';
}

int ark_graveyard_parse_hex(const char *text, uint8_t out[32], struct ark_err *err)
{
	if (!text || strlen(text) != ARK_GRAVEYARD_HEX_LEN)
		goto bad;
	for (int i = 0; i < 32; i++) {
		int hi = ark_hex_digit(text[2 * i]), lo = ark_hex_digit(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
bad:
	return ark_err_set(err, -EINVAL, "expected a SHA-256 of 64 hexadecimal digits, got '%s'", text ? text : "");
}

/* Read a whole regular file of at most ARK_GRAVEYARD_FILE_MAX bytes. */
static int read_file(const char *path, char **out, size_t *length, struct stat *st, struct ark_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ark_err_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, st) < 0) {
		rc = ark_err_set(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = ark_err_set(err, -EINVAL, "%s: expected a regular file", path);
		goto out;
	}
	if ((uint64_t)st->st_size > ARK_GRAVEYARD_FILE_MAX) {
		rc = ark_err_set(err, -EFBIG, "%s: %lld bytes; a rules file holds at most %u", path,
				 (long long)st->st_size, ARK_GRAVEYARD_FILE_MAX);
		goto out;
	}
	/* One byte more than allowed, to notice a file that grew since fstat. */
	buf = malloc(ARK_GRAVEYARD_FILE_MAX + 1);
	if (!buf) {
		rc = ark_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, buf + got, ARK_GRAVEYARD_FILE_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ark_err_set(err, -errno, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > ARK_GRAVEYARD_FILE_MAX) {
			rc = ark_err_set(err, -EFBIG, "%s: more than %u bytes", path, ARK_GRAVEYARD_FILE_MAX);
			goto out;
		}
	}
	*out = buf;
	*length = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int ark_graveyard_file_digest(const char *path, uint8_t digest[32], struct stat *st, struct ark_err *err)
{
	char *buf;
	size_t n;
	int rc = read_file(path, &buf, &n, st, err);
	if (rc)
		return rc;
	ark_graveyard_sha256(buf, n, digest);
	free(buf);
	return 0;
}

/* Read and parse a rules file. When it parses, its bytes stay in *buf
 * (the caller frees them). */
static int read_rules(const char *path, struct ark_graveyard_rules *rules, char **buf, size_t *n,
		      struct ark_err *err)
{
	struct stat st;
	int rc = read_file(path, buf, n, &st, err);
	if (rc)
		return rc;
	if ((rc = ark_graveyard_parse(*buf, *n, path, rules, err))) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

int ark_graveyard_load(const char *path, struct ark_graveyard_rules *rules, struct ark_err *err)
{
	if (strlen(path) >= ARK_GRAVEYARD_PATH_MAX)
		return ark_err_set(err, -ENAMETOOLONG, "%s: path longer than %d bytes", path, ARK_GRAVEYARD_PATH_MAX - 1);
	char *buf;
	size_t n;
	int rc = read_rules(path, rules, &buf, &n, err);
	if (rc)
		return rc;
	free(buf);
	snprintf(rules->path, sizeof rules->path, "%s", path);
	return 0;
}

int ark_graveyard_installed_path(char *out, size_t cap, struct ark_err *err)
{
	const char *explicit_path = getenv("ARK_GRAVEYARD_RULES");
	int n;
	if (explicit_path && *explicit_path) {
		n = snprintf(out, cap, "%s", explicit_path);
	} else {
		const char *env = getenv("ARK_ENV");
		const char *dir = getenv("ARK_DATA_DIR");
		if (!dir || !*dir)
			dir = env && strcmp(env, "prod") == 0 ? "/var/lib/ark" : "./ark-data";
		n = snprintf(out, cap, "%s/graveyard.rules", dir);
	}
	if (n < 0 || (size_t)n >= cap || (size_t)n >= ARK_GRAVEYARD_PATH_MAX)
		return ark_err_set(err, -ENAMETOOLONG, "installed rules path longer than %d bytes",
				   ARK_GRAVEYARD_PATH_MAX - 1);
	return 0;
}

/* mkdir -p for the directory part of path. */
static int make_parents(const char *path, struct ark_err *err)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return ark_err_set(err, -errno, "%s: cannot create directory: %s", dir, strerror(errno));
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return ark_err_set(err, -errno, "%s: cannot create directory: %s", dir, strerror(errno));
	return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

int ark_graveyard_install(const char *source, const char *target, struct ark_graveyard_rules *rules,
			  struct ark_err *err)
{
	char *buf;
	size_t n;
	struct ark_graveyard_rules src;
	int rc = read_rules(source, &src, &buf, &n, err);
	if (rc)
		return rc;
	if (strlen(target) >= ARK_GRAVEYARD_PATH_MAX - 16) {
		free(buf);
		return ark_err_set(err, -ENAMETOOLONG, "%s: path too long", target);
	}
	if ((rc = make_parents(target, err))) {
		free(buf);
		return rc;
	}
	char temp[ARK_GRAVEYARD_PATH_MAX + 16];
	snprintf(temp, sizeof temp, "%s.XXXXXX", target);
	int fd = mkstemp(temp);
	if (fd < 0) {
		rc = ark_err_set(err, -errno, "%s: cannot create a temporary file: %s", temp, strerror(errno));
		free(buf);
		return rc;
	}
	if (write_all(fd, buf, n) < 0 || fsync(fd) < 0 || fchmod(fd, 0444) < 0) {
		rc = ark_err_set(err, -errno, "%s: cannot write: %s", temp, strerror(errno));
		close(fd);
		unlink(temp);
		free(buf);
		return rc;
	}
	free(buf);
	close(fd);
	if (rename(temp, target) < 0) {
		rc = ark_err_set(err, -errno, "%s: cannot install as %s: %s", temp, target, strerror(errno));
		unlink(temp);
		return rc;
	}
	char dir[ARK_GRAVEYARD_PATH_MAX];
	snprintf(dir, sizeof dir, "%s", target);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if ((rc = ark_graveyard_load(target, rules, err)))
		return rc;
	if (memcmp(rules->file_sha256, src.file_sha256, 32) != 0)
		return ark_err_set(err, -EIO, "%s: installed bytes hash %s, the source %s", target,
				   rules->file_sha256_hex, src.file_sha256_hex);
	return 0;
}
