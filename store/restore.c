/* store/restore.c — checking a backup file and `ark restore FILE`.
 *
 * Invariant: the live database is replaced only by a file that exists, is
 * complete, passes integrity_check and is an ARK database this build can
 * open; only while ARK is not running; and the database it replaces is kept
 * beside it (renamed together with its -wal, so nothing committed is lost).
 * The new file is copied under a temporary name, fsynced, and renamed into
 * place, so a crash leaves either the old or the new database. */
#include "store/core_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ark_backup_check_name(enum ark_backup_check check)
{
	switch (check) {
	case ARK_BACKUP_OK: return "ok";
	case ARK_BACKUP_MISSING: return "missing";
	case ARK_BACKUP_TRUNCATED: return "truncated";
	case ARK_BACKUP_CORRUPT: return "corrupt";
	case ARK_BACKUP_FOREIGN: return "foreign";
	case ARK_BACKUP_TOO_NEW: return "too new";
	}
	return "?";
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum ark_backup_check ark_store_backup_check(const char *path, int *schema_version,
					     struct ark_err *err)
{
	static const char magic[16] = "SQLite format 3";
	*schema_version = 0;
	struct stat st;
	if (stat(path, &st) != 0) {
		ark_err_set(err, -errno, "missing: '%s' does not exist (%s)", path, strerror(errno));
		return ARK_BACKUP_MISSING;
	}
	if (!S_ISREG(st.st_mode)) {
		ark_err_set(err, -EPROTOTYPE, "foreign: '%s' is not a regular file", path);
		return ARK_BACKUP_FOREIGN;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (size == 0) {
		ark_err_set(err, -EBADMSG, "truncated: '%s' is empty (0 bytes)", path);
		return ARK_BACKUP_TRUNCATED;
	}
	uint8_t h[100];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ark_err_set(err, -errno, "missing: cannot open '%s': %s", path, strerror(errno));
		return ARK_BACKUP_MISSING;
	}
	ssize_t got = pread(fd, h, sizeof h, 0);
	close(fd);
	if (got < 0) {
		ark_err_set(err, -EIO, "corrupt: cannot read '%s'", path);
		return ARK_BACKUP_CORRUPT;
	}
	size_t n = (size_t)got;
	if (memcmp(h, magic, ARK_MIN(n, sizeof magic)) != 0) {
		ark_err_set(err, -EPROTOTYPE, "foreign: '%s' is not an SQLite database (no SQLite header)", path);
		return ARK_BACKUP_FOREIGN;
	}
	if (n < sizeof h) {
		ark_err_set(err, -EBADMSG, "truncated: '%s' holds %llu bytes, less than an SQLite header",
			    path, (unsigned long long)size);
		return ARK_BACKUP_TRUNCATED;
	}
	uint32_t page = (uint32_t)h[16] << 8 | h[17];
	if (page == 1)
		page = 65536;
	if (page < 512 || (page & (page - 1)) != 0) {
		ark_err_set(err, -EBADMSG, "corrupt: '%s' has an invalid page size %u in its header", path, page);
		return ARK_BACKUP_CORRUPT;
	}
	uint32_t pages = be32(h + 28);
	bool size_valid = pages > 0 && be32(h + 24) == be32(h + 92);
	if (size % page != 0 || (size_valid && size < (uint64_t)pages * page)) {
		ark_err_set(err, -EBADMSG, "truncated: '%s' holds %llu bytes, its header says %llu (%u pages of %u)",
			    path, (unsigned long long)size,
			    (unsigned long long)(size_valid ? (uint64_t)pages * page : (size / page + 1) * page),
			    size_valid ? pages : (unsigned)(size / page + 1), page);
		return ARK_BACKUP_TRUNCATED;
	}
	char uri[PATH_MAX + 64];
	snprintf(uri, sizeof uri, "file:%s?mode=ro&immutable=1", path);
	sqlite3 *db = NULL;
	enum ark_backup_check result = ARK_BACKUP_OK;
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		ark_err_set(err, -EBADMSG, "corrupt: SQLite cannot open '%s': %s", path,
			    db ? sqlite3_errmsg(db) : "?");
		result = ARK_BACKUP_CORRUPT;
		goto out;
	}
	int rc = ark_core_integrity(db, path, false, err);
	if (rc == -EPROTOTYPE) {
		ark_err_wrap(err, "foreign");
		result = ARK_BACKUP_FOREIGN;
		goto out;
	}
	if (rc) {
		ark_err_wrap(err, "corrupt");
		result = ARK_BACKUP_CORRUPT;
		goto out;
	}
	bool empty;
	rc = ark_core_identify(db, path, schema_version, &empty, err);
	if (rc == 0 && empty) {
		ark_err_set(err, -EPROTOTYPE, "foreign: '%s' is an empty SQLite database, not an ARK backup", path);
		result = ARK_BACKUP_FOREIGN;
	} else if (rc) {
		bool newer = *schema_version > ARK_CORE_SCHEMA_VERSION;
		ark_err_wrap(err, newer ? "too new" : "foreign");
		result = newer ? ARK_BACKUP_TOO_NEW : ARK_BACKUP_FOREIGN;
	}
out:
	if (db)
		sqlite3_close_v2(db);
	return result;
}

/* Copy, hashing the bytes that are copied (the copy is what is restored:
 * it must be what was verified, whatever happened to the file between). */
static int copy_file(const char *from, const char *to, uint64_t *bytes, char sha256[65], struct ark_err *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return ark_err_set(err, -errno, "cannot open '%s': %s", from, strerror(errno));
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		int rc = -errno;
		close(in);
		return ark_err_set(err, rc, "cannot create '%s': %s", to, strerror(-rc));
	}
	static char buf[1 << 16];
	int rc = 0;
	*bytes = 0;
	struct ark_store_sha256 h;
	if (ark_store_sha256_init(&h)) {
		close(in);
		close(out);
		unlink(to);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : 0;
			break;
		}
		for (ssize_t done = 0; done < r;) {
			ssize_t w = write(out, buf + done, (size_t)(r - done));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				break;
			}
			done += w;
		}
		if (rc)
			break;
		ark_store_sha256_update(&h, buf, (size_t)r);
		*bytes += (uint64_t)r;
	}
	ark_store_sha256_final(&h, sha256);
	if (rc == 0 && fsync(out) != 0)
		rc = -errno;
	close(in);
	close(out);
	if (rc) {
		unlink(to);
		return ark_err_set(err, rc, "copying '%s' to '%s': %s", from, to, strerror(-rc));
	}
	return 0;
}

/* Fold the live database's WAL into it, so the kept copy is one file.
 * Best effort: a damaged database (the reason for a restore, often) keeps
 * its -wal beside it instead. */
static void fold_wal(const char *db_path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 1000);
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_close_v2(db);
}

int ark_store_restore(const struct ark_store_config *cfg, const char *path, unsigned flags,
		      struct ark_restore_result *res, struct ark_err *err)
{
	memset(res, 0, sizeof *res);
	snprintf(res->restored_from, sizeof res->restored_from, "%s", path);
	snprintf(res->database, sizeof res->database, "%s", cfg->state_db);
	if (strcmp(cfg->state_db, ":memory:") == 0)
		return ark_err_set(err, -EINVAL, "ARK_STATE_DB is :memory:, there is no database file to restore into");
	int running = ark_store_instance_running(cfg->instance, err);
	if (running < 0)
		return running;
	if (running)
		return ark_err_set(err, -EBUSY,
				   "ARK instance '%s' is running (/dev/shm/ark-%s): stop it before restoring",
				   cfg->instance, cfg->instance);
	/* Before anything else: is this the file ARK wrote? */
	struct ark_backup_verify proof;
	int vrc = ark_store_backup_verify(cfg, path, &proof, err);
	if (vrc && !(vrc == -ENODATA && (flags & ARK_RESTORE_UNVERIFIED))) {   /* the result says "not verified" */
		ark_err_wrap(err, "refusing to restore");
		return vrc;
	}
	res->verified = vrc == 0;
	res->recorded = proof.recorded;
	enum ark_backup_check check = ark_store_backup_check(path, &res->schema_version, err);
	switch (check) {
	case ARK_BACKUP_OK: break;
	case ARK_BACKUP_MISSING: return ark_err_wrap(err, "refusing to restore"), -ENOENT;
	case ARK_BACKUP_TRUNCATED:
	case ARK_BACKUP_CORRUPT: return ark_err_wrap(err, "refusing to restore"), -EBADMSG;
	case ARK_BACKUP_FOREIGN:
	case ARK_BACKUP_TOO_NEW: return ark_err_wrap(err, "refusing to restore"), -EPROTOTYPE;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", cfg->state_db);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	int rc = ark_store_mkdirs(dir, err);
	if (rc)
		return rc;
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.restoring", cfg->state_db);
	if ((rc = copy_file(path, tmp, &res->bytes, res->sha256, err)))
		return rc;
	if (res->verified && strcmp(res->sha256, proof.sha256) != 0) {
		unlink(tmp);
		return ark_err_set(err, -EBADMSG, "refusing to restore: '%s' changed while it was copied (verified %s, copied %s)",
				   path, proof.sha256, res->sha256);
	}
	char wal[PATH_MAX + 8], shm[PATH_MAX + 8];
	snprintf(wal, sizeof wal, "%s-wal", cfg->state_db);
	snprintf(shm, sizeof shm, "%s-shm", cfg->state_db);
	if (access(cfg->state_db, F_OK) == 0) {
		fold_wal(cfg->state_db);
		char ts[48];
		uint64_t now = ark_realtime_ns();
		ark_store_format_utc(now, false, ts, sizeof ts);
		snprintf(res->replaced_kept_as, sizeof res->replaced_kept_as, "%.4000s.replaced-%s", cfg->state_db, ts);
		if (access(res->replaced_kept_as, F_OK) == 0) {
			ark_store_format_utc(now, true, ts, sizeof ts);
			snprintf(res->replaced_kept_as, sizeof res->replaced_kept_as, "%.4000s.replaced-%s",
				 cfg->state_db, ts);
		}
		if (rename(cfg->state_db, res->replaced_kept_as) != 0) {
			rc = ark_err_set(err, -errno, "cannot move '%s' aside to '%s': %s", cfg->state_db,
					 res->replaced_kept_as, strerror(errno));
			unlink(tmp);
			return rc;
		}
		/* Its WAL (if the checkpoint could not fold it) goes with it,
		 * under the name SQLite looks for next to the kept copy. */
		if (access(wal, F_OK) == 0) {
			char kept_wal[PATH_MAX + 64];
			snprintf(kept_wal, sizeof kept_wal, "%s-wal", res->replaced_kept_as);
			if (rename(wal, kept_wal) != 0)
				ark_store_log(cfg, 1, "restore: could not move '%s' to '%s': %s", wal, kept_wal,
					      strerror(errno));
		}
	}
	/* The -shm index belongs to the old WAL; a stale one must not meet
	 * the new file. */
	unlink(shm);
	unlink(wal);
	if (rename(tmp, cfg->state_db) != 0) {
		rc = ark_err_set(err, -errno, "cannot move '%s' into place as '%s': %s", tmp, cfg->state_db,
				 strerror(errno));
		unlink(tmp);
		return rc;
	}
	return ark_store_fsync_dir(dir, err);
}
