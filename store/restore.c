/* store/restore.c — checking a backup file and `ark restore FILE`.
 *
 * Invariant: the live database is replaced only by a file that exists, is
 * complete, passes integrity_check and is an ARK database this build can
 * open, whose schema is exactly the one ARK creates for its version (no
 * trigger, view, table or index of anyone else's: such objects could run
 * inside Aletheia's writer), and which belongs to the journal beside it (its
 * applied seq not ahead of the journal, the journal's identity its own)
 * unless the operator re-bases it; only while ARK is not running; and the
 * database it replaces is kept beside it (renamed together with its -wal,
 * so nothing committed is lost). The new file is copied under a temporary
 * name, fsynced, and renamed into place, so a crash leaves either the old
 * or the new database. */
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
	if (ark_store_sqlite_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &db, err)) {
		ark_err_wrap(err, "corrupt: SQLite cannot open '%s'", path);
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
	} else if (rc == 0 && (rc = ark_core_schema_check(db, *schema_version, path, err)) != 0) {
		/* Anything ARK does not create (a trigger, a view, an extra
		 * table or index) could carry code into Aletheia's writer. */
		ark_err_wrap(err, "foreign");
		result = rc == -EPROTOTYPE ? ARK_BACKUP_FOREIGN : ARK_BACKUP_CORRUPT;
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
	if (ark_store_sqlite_open(db_path, SQLITE_OPEN_READWRITE, &db, NULL) == 0) {
		sqlite3_busy_timeout(db, 1000);
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_close_v2(db);
}

static int meta_text(sqlite3 *db, const char *key, char *out, size_t cap)
{
	out[0] = '\0';
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT value FROM metadata WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t n = ark_text_copy(out, cap, (const char *)sqlite3_column_text(st, 0), SIZE_MAX);
		ark_utf8_sanitize(out, n);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EBADMSG;
}

/* Does the backup belong to the journal beside the database? Fills the
 * pairing in res; 0 when it does (or ARK_RESTORE_REBASE re-bases it), -ESTALE naming
 * why not. */
static int journal_pairing(const struct ark_store_config *cfg, const char *path, unsigned flags,
			   struct ark_restore_result *res, struct ark_err *err)
{
	char uri[PATH_MAX + 64], text[64];
	snprintf(uri, sizeof uri, "file:%s?mode=ro&immutable=1", path);
	sqlite3 *db;
	int rc = ark_store_sqlite_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &db, err);
	if (rc)
		return rc;
	rc = meta_text(db, "journal_last_applied_seq", text, sizeof text);
	if (!rc && text[0] && ark_parse_u64(text, 0, UINT64_MAX, "journal_last_applied_seq", &res->backup_applied_seq, err))
		rc = -EBADMSG;
	if (!rc)
		rc = meta_text(db, "journal_id", res->backup_journal_id, sizeof res->backup_journal_id);
	sqlite3_close_v2(db);
	if (rc)
		return ark_err_set(err, -EBADMSG, "corrupt: cannot read the metadata of '%s'", path);
	rc = ark_journal_identity(cfg->journal_dir, false, res->journal_id, err);
	if (rc && rc != -ENOENT)
		return ark_err_wrap(err, "the journal in %s", cfg->journal_dir);
	if ((rc = ark_journal_last_recorded_seq(cfg->journal_dir, &res->journal_last_seq, err)) ||
	    (rc = ark_journal_base_seq(cfg->journal_dir, &res->journal_base_seq, err)))
		return ark_err_wrap(err, "the journal in %s", cfg->journal_dir);
	uint64_t journal_top = ARK_MAX(res->journal_last_seq, res->journal_base_seq);
	bool other = res->backup_journal_id[0] && res->journal_id[0] && strcmp(res->backup_journal_id, res->journal_id) != 0;
	bool ahead = res->backup_applied_seq > journal_top;
	if (!other && !ahead)
		return 0;
	if (flags & ARK_RESTORE_REBASE)
		return 0;
	if (other)
		return ark_err_set(err, -ESTALE,
				   "refusing to restore: '%s' was applied from journal %s (up to seq %llu), the journal in %s is "
				   "%s (up to seq %llu): its events would be numbered into what the database already holds. "
				   "Restore a backup of this journal, or pass --rebase to pair the database with this journal "
				   "(its numbering then continues after seq %llu)",
				   path, res->backup_journal_id, (unsigned long long)res->backup_applied_seq, cfg->journal_dir,
				   res->journal_id, (unsigned long long)journal_top,
				   (unsigned long long)ARK_MAX(res->backup_applied_seq, journal_top));
	return ark_err_set(err, -ESTALE,
			   "refusing to restore: '%s' is applied up to seq %llu, ahead of the journal in %s (up to seq %llu%s): "
			   "the next run would number events from %llu and the database would skip them. Restore a backup "
			   "no newer than the journal, or pass --rebase to keep it (the journal's numbering then continues "
			   "after seq %llu)",
			   path, (unsigned long long)res->backup_applied_seq, cfg->journal_dir, (unsigned long long)journal_top,
			   journal_top ? "" : ", empty", (unsigned long long)journal_top + 1,
			   (unsigned long long)res->backup_applied_seq);
}

/* Pair the restored copy (not yet in place) with this journal. */
static int rebase(const struct ark_store_config *cfg, const char *copy, struct ark_restore_result *res,
		  struct ark_err *err)
{
	int rc = ark_journal_identity(cfg->journal_dir, true, res->journal_id, err);
	if (rc)
		return ark_err_wrap(err, "re-base: the journal in %s", cfg->journal_dir);
	uint64_t journal_top = ARK_MAX(res->journal_last_seq, res->journal_base_seq);
	char ts[48];
	ark_store_format_utc(ark_realtime_ns(), false, ts, sizeof ts);
	snprintf(res->rebase_note, sizeof res->rebase_note,
		 "%s: applied from journal %s up to seq %llu; re-based onto journal %s at seq %llu%s", ts,
		 res->backup_journal_id[0] ? res->backup_journal_id : "(unrecorded)",
		 (unsigned long long)res->backup_applied_seq, res->journal_id,
		 (unsigned long long)ARK_MAX(journal_top, res->backup_applied_seq),
		 res->journal_last_seq && strcmp(res->backup_journal_id, res->journal_id) != 0
			 ? "; this journal's earlier events are not in the database"
			 : "");
	sqlite3 *db;
	if ((rc = ark_store_sqlite_open(copy, SQLITE_OPEN_READWRITE, &db, err)))
		return rc;
	sqlite3_stmt *st = NULL;
	const char *sql = "INSERT INTO metadata(key, value, updated_at_ns) VALUES (?1, ?2, ?3)"
			  " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at_ns = excluded.updated_at_ns";
	rc = ark_core_exec(db, "BEGIN IMMEDIATE", "re-base", err);
	if (!rc && sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		rc = ark_err_set(err, -EIO, "re-base: %s", sqlite3_errmsg(db));
	const char *keys[2] = {"journal_id", "journal_rebase"}, *values[2] = {res->journal_id, res->rebase_note};
	for (int i = 0; !rc && i < 2; i++) {
		sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, values[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)ark_realtime_ns());
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = ark_err_set(err, -EIO, "re-base: %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (!rc)
		rc = ark_core_exec(db, "COMMIT", "re-base", err);
	else
		ark_core_exec(db, "ROLLBACK", "re-base", NULL);
	/* One file again (the copy's WAL folded in) before it moves into place. */
	if (!rc)
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close_v2(db);
	if (rc)
		return rc;
	/* The journal's numbering continues after the database's record. */
	if (res->backup_applied_seq > journal_top &&
	    (rc = ark_journal_set_base_seq(cfg->journal_dir, res->backup_applied_seq, err)))
		return ark_err_wrap(err, "re-base");
	res->rebased = true;
	return 0;
}

/* Before anything is copied: the instance is stopped, and the file is the
 * one ARK wrote (or the caller accepts it unverified) and a database this
 * build can open. */
static int restore_checks(const struct ark_store_config *cfg, const char *path, unsigned flags,
			  struct ark_restore_result *res, struct ark_backup_verify *proof, struct ark_err *err)
{
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
	int vrc = ark_store_backup_verify(cfg, path, proof, err);
	if (vrc && !(vrc == -ENODATA && (flags & ARK_RESTORE_UNVERIFIED))) {   /* the result says "not verified" */
		ark_err_wrap(err, "refusing to restore");
		return vrc;
	}
	res->verified = vrc == 0;
	res->recorded = proof->recorded;
	enum ark_backup_check check = ark_store_backup_check(path, &res->schema_version, err);
	switch (check) {
	case ARK_BACKUP_OK: break;
	case ARK_BACKUP_MISSING: return ark_err_wrap(err, "refusing to restore"), -ENOENT;
	case ARK_BACKUP_TRUNCATED:
	case ARK_BACKUP_CORRUPT: return ark_err_wrap(err, "refusing to restore"), -EBADMSG;
	case ARK_BACKUP_FOREIGN:
	case ARK_BACKUP_TOO_NEW: return ark_err_wrap(err, "refusing to restore"), -EPROTOTYPE;
	}
	return 0;
}

/* Copy the backup to tmp beside the database (the copy must be the file
 * that was verified) and rebase it onto the journal when asked to. On
 * failure nothing of the copy is left behind. */
static int stage_copy(const struct ark_store_config *cfg, const char *path, bool rebasing,
		      const struct ark_backup_verify *proof, const char *tmp, struct ark_restore_result *res,
		      struct ark_err *err)
{
	int rc;
	if ((rc = copy_file(path, tmp, &res->bytes, res->sha256, err)))
		return rc;
	if (res->verified && strcmp(res->sha256, proof->sha256) != 0) {
		unlink(tmp);
		return ark_err_set(err, -EBADMSG, "refusing to restore: '%s' changed while it was copied (verified %s, copied %s)",
				   path, proof->sha256, res->sha256);
	}
	if (rebasing && (rc = rebase(cfg, tmp, res, err))) {
		unlink(tmp);
		char side[PATH_MAX + 48];
		snprintf(side, sizeof side, "%s-wal", tmp);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", tmp);
		unlink(side);
		return rc;
	}
	return 0;
}

/* The database being replaced is kept, renamed with the time, and its WAL
 * goes with it. */
static int keep_replaced(const struct ark_store_config *cfg, const char *wal, const char *tmp,
			 struct ark_restore_result *res, struct ark_err *err)
{
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
		int rc = ark_err_set(err, -errno, "cannot move '%s' aside to '%s': %s", cfg->state_db,
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
	return 0;
}

int ark_store_restore(const struct ark_store_config *cfg, const char *path, unsigned flags,
		      struct ark_restore_result *res, struct ark_err *err)
{
	memset(res, 0, sizeof *res);
	snprintf(res->restored_from, sizeof res->restored_from, "%s", path);
	snprintf(res->database, sizeof res->database, "%s", cfg->state_db);
	struct ark_backup_verify proof;
	int rc = restore_checks(cfg, path, flags, res, &proof, err);
	if (rc)
		return rc;
	if ((rc = journal_pairing(cfg, path, flags, res, err)))
		return rc;
	bool rebasing = (flags & ARK_RESTORE_REBASE) &&
			((res->backup_journal_id[0] && res->journal_id[0] && strcmp(res->backup_journal_id, res->journal_id) != 0) ||
			 res->backup_applied_seq > ARK_MAX(res->journal_last_seq, res->journal_base_seq) || !res->journal_id[0] ||
			 !res->backup_journal_id[0]);
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", cfg->state_db);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if ((rc = ark_store_mkdirs(dir, err)))
		return rc;
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.restoring", cfg->state_db);
	if ((rc = stage_copy(cfg, path, rebasing, &proof, tmp, res, err)))
		return rc;
	char wal[PATH_MAX + 8], shm[PATH_MAX + 8];
	snprintf(wal, sizeof wal, "%s-wal", cfg->state_db);
	snprintf(shm, sizeof shm, "%s-shm", cfg->state_db);
	if (access(cfg->state_db, F_OK) == 0 && (rc = keep_replaced(cfg, wal, tmp, res, err)))
		return rc;
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
