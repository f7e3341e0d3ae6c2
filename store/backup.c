/* store/backup.c — `ark backup`: an online copy of the Mutable Core with the
 * SQLite backup API, in steps, inside one read transaction of the source
 * connection: in WAL mode that snapshot never blocks the writer and is never
 * restarted by its commits, so the copy is the database as of one instant.
 *
 * Invariant: a file with the final backup name is complete, fsynced, in
 * rollback-journal mode (no -wal beside it) and passed integrity_check; the
 * work happens under a ".partial" name that a crash leaves for the next
 * backup to remove. Files are 0600. */
#include "store/core_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKUP_PREFIX "ark_state_backup_"
#define BACKUP_STEP_PAGES 1024

int ark_store_backup_name(uint64_t realtime_ns, bool with_ms, char *out, size_t cap)
{
	char ts[48];
	ark_store_format_utc(realtime_ns, with_ms, ts, sizeof ts);
	int n = snprintf(out, cap, BACKUP_PREFIX "%s.db", ts);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int ark_store_backup_name_time(const char *name, uint64_t *realtime_ns)
{
	size_t plen = strlen(BACKUP_PREFIX);
	if (strncmp(name, BACKUP_PREFIX, plen) != 0)
		return -EINVAL;
	const char *t = name + plen;
	struct tm tm = {0};
	const char *end = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	uint64_t ms = 0;
	if (*end == '.') {
		if (!(end[1] >= '0' && end[1] <= '9' && end[2] >= '0' && end[2] <= '9' && end[3] >= '0' &&
		      end[3] <= '9'))
			return -EINVAL;
		ms = (uint64_t)((end[1] - '0') * 100 + (end[2] - '0') * 10 + (end[3] - '0'));
		end += 4;
	}
	if (strcmp(end, "Z.db") != 0)
		return -EINVAL;
	time_t secs = timegm(&tm);
	if (secs < 0)
		return -EINVAL;
	*realtime_ns = (uint64_t)secs * 1000000000ull + ms * 1000000ull;
	return 0;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

struct backup_file {
	char name[128];
	uint64_t t;
};

static int by_time(const void *a, const void *b)
{
	const struct backup_file *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* Keep the newest `keep`; delete the rest (and stale .partial files). */
static int prune(const struct ark_store_config *cfg, struct ark_core *core,
		 struct ark_backup_result *res, struct ark_err *err)
{
	DIR *d = opendir(cfg->backup_dir);
	if (!d)
		return ark_err_set(err, -errno, "ARK_BACKUP_DIR '%s': %s", cfg->backup_dir, strerror(errno));
	struct backup_file *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t t;
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, BACKUP_PREFIX, strlen(BACKUP_PREFIX)) == 0 && len > 8 &&
		    strcmp(e->d_name + len - 8, ".partial") == 0) {
			/* left by a crashed backup (another backup may be
			 * running: its pid is in the name) */
			const char *dot = strstr(e->d_name, ".db.");
			int pid = dot ? atoi(dot + 4) : 0;
			if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
				unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (ark_store_backup_name_time(e->d_name, &t) != 0 || len >= sizeof v->name)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			void *p = realloc(v, cap * sizeof *v);
			if (!p) {
				free(v);
				closedir(d);
				return ark_err_set(err, -ENOMEM, "out of memory");
			}
			v = p;
		}
		snprintf(v[n].name, sizeof v[n].name, "%s", e->d_name);
		v[n].t = t;
		n++;
	}
	int rc = 0;
	if (n > cfg->backup_keep) {
		qsort(v, n, sizeof *v, by_time);
		sqlite3_stmt *st = NULL;
		sqlite3_prepare_v2(core->db, "UPDATE backups SET pruned_ns = ?1 WHERE path = ?2", -1, &st, NULL);
		for (size_t i = 0; i + cfg->backup_keep < n; i++) {
			char path[PATH_MAX + 128];
			snprintf(path, sizeof path, "%s/%s", cfg->backup_dir, v[i].name);
			if (unlinkat(dirfd(d), v[i].name, 0) != 0 && errno != ENOENT) {
				rc = ark_err_set(err, -errno, "cannot delete old backup %s: %s", path,
						 strerror(errno));
				break;
			}
			char manifest[sizeof v[i].name + 8];
			snprintf(manifest, sizeof manifest, "%s.sha256", v[i].name);
			unlinkat(dirfd(d), manifest, 0);
			if (res->pruned < ARK_ARRAY_LEN(res->pruned_paths))
				snprintf(res->pruned_paths[res->pruned], sizeof res->pruned_paths[0], "%.4000s", path);
			res->pruned++;
			if (st) {
				sqlite3_bind_int64(st, 1, (sqlite3_int64)ark_realtime_ns());
				sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
				sqlite3_step(st);
				sqlite3_reset(st);
			}
		}
		sqlite3_finalize(st);
	}
	free(v);
	closedir(d);
	return rc;
}

/* Copy src's main database into a new file at path, in steps. */
static int copy_online(struct ark_core *core, const char *path, struct ark_backup_result *res,
		       struct ark_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot create '%s': %s", path, strerror(errno));
	close(fd);
	sqlite3 *dst = NULL;
	int rc = 0;
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = ark_err_set(err, -EIO, "cannot open '%s': %s", path, dst ? sqlite3_errmsg(dst) : "?");
		goto out;
	}
	/* One read snapshot for the whole copy: the steps below then copy one
	 * consistent state while the writer goes on appending to the WAL. */
	if ((rc = ark_core_exec(core->db, "BEGIN; SELECT count(*) FROM sqlite_schema;", "begin snapshot", err)))
		goto out;
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", core->db, "main");
	if (!b) {
		rc = ark_err_set(err, -EIO, "backup init: %s", sqlite3_errmsg(dst));
		ark_core_exec(core->db, "COMMIT", "end snapshot", NULL);
		goto out;
	}
	int src;
	do {
		src = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
		res->steps++;
		if (src == SQLITE_BUSY || src == SQLITE_LOCKED)
			sqlite3_sleep(5);
	} while (src == SQLITE_OK || src == SQLITE_BUSY || src == SQLITE_LOCKED);
	res->pages = (uint64_t)sqlite3_backup_pagecount(b);
	int frc = sqlite3_backup_finish(b);
	ark_core_exec(core->db, "COMMIT", "end snapshot", NULL);
	if (src != SQLITE_DONE || frc != SQLITE_OK) {
		rc = ark_err_set(err, -EIO, "backup step: %s", sqlite3_errstr(src != SQLITE_DONE ? src : frc));
		goto out;
	}
	/* A standalone file: rollback-journal mode, no -wal to carry along. */
	if ((rc = ark_core_exec(dst, "PRAGMA journal_mode=DELETE", "backup journal mode", err)))
		goto out;
	if ((rc = ark_core_integrity(dst, path, false, err)))
		goto out;
out:
	if (dst)
		sqlite3_close_v2(dst);
	if (rc == 0 && (rc = fsync_path(path)) != 0)
		rc = ark_err_set(err, rc, "fsync '%s': %s", path, strerror(-rc));
	if (rc)
		unlink(path);
	return rc;
}

int ark_store_backup(const struct ark_store_config *cfg, struct ark_backup_result *res,
		     struct ark_err *err)
{
	memset(res, 0, sizeof *res);
	if (strcmp(cfg->state_db, ":memory:") == 0)
		return ark_err_set(err, -EINVAL, "ARK_STATE_DB is :memory:, there is no database file to back up");
	if (access(cfg->state_db, F_OK) != 0)
		return ark_err_set(err, -ENOENT, "ARK_STATE_DB '%s' does not exist: nothing to back up",
				   cfg->state_db);
	int rc = ark_store_mkdirs(cfg->backup_dir, err);
	if (rc)
		return ark_err_wrap(err, "ARK_BACKUP_DIR");
	uint64_t t0 = ark_now_ns();
	/* The copy is checked; checking the source first would double the
	 * time for nothing. */
	struct ark_store_config c = *cfg;
	c.db_integrity = ARK_DB_INTEGRITY_OFF;
	struct ark_core *core;
	if ((rc = ark_core_open(&core, &c, ARK_CORE_NO_CHECKPOINTER, NULL, err)))
		return rc;
	uint64_t now = ark_realtime_ns();
	char name[128], partial[PATH_MAX + 160];
	ark_store_backup_name(now, false, name, sizeof name);
	snprintf(partial, sizeof partial, "%s/%s.%d.partial", cfg->backup_dir, name, (int)getpid());
	if ((rc = copy_online(core, partial, res, err))) {
		ark_err_wrap(err, "backup of '%s'", cfg->state_db);
		goto out;
	}
	/* Its fingerprint, taken before it is anyone's to read under its name. */
	if ((rc = ark_store_file_sha256(partial, res->sha256, NULL, err))) {
		unlink(partial);
		goto out;
	}
	/* The final name, unique without breaking the format: second
	 * precision, then milliseconds if taken. link() never overwrites. */
	bool placed = false;
	for (int attempt = 0; attempt < 3 && !placed; attempt++) {
		if (attempt == 2) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
			now = ark_realtime_ns();
		}
		ark_store_backup_name(now, attempt > 0, name, sizeof name);
		snprintf(res->path, sizeof res->path, "%.3900s/%.120s", cfg->backup_dir, name);
		if (link(partial, res->path) == 0)
			placed = true;
		else if (errno != EEXIST) {
			rc = ark_err_set(err, -errno, "cannot name backup '%s': %s", res->path, strerror(errno));
			unlink(partial);
			goto out;
		}
	}
	unlink(partial);
	if (!placed) {
		rc = ark_err_set(err, -EEXIST, "backup name '%s' keeps being taken", res->path);
		goto out;
	}
	if ((rc = ark_store_backup_manifest_write(res->path, res->sha256, err)))
		goto out;
	if ((rc = ark_store_fsync_dir(cfg->backup_dir, err)))
		goto out;
	struct stat st;
	res->bytes = stat(res->path, &st) == 0 ? (uint64_t)st.st_size : 0;
	res->schema_version = ark_core_schema_version(core);
	ark_core_journal_applied_seq(core, &res->journal_last_applied_seq, NULL);
	res->duration_ns = ark_now_ns() - t0;
	sqlite3_stmt *ins;
	if (sqlite3_prepare_v2(core->db,
			       "INSERT INTO backups(path, taken_ns, bytes, pages, schema_version,"
			       " journal_last_applied_seq, duration_ns, sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			       -1, &ins, NULL) == SQLITE_OK) {
		sqlite3_bind_text(ins, 1, res->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 2, (sqlite3_int64)now);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)res->bytes);
		sqlite3_bind_int64(ins, 4, (sqlite3_int64)res->pages);
		sqlite3_bind_int(ins, 5, res->schema_version);
		sqlite3_bind_int64(ins, 6, (sqlite3_int64)res->journal_last_applied_seq);
		sqlite3_bind_int64(ins, 7, (sqlite3_int64)res->duration_ns);
		sqlite3_bind_text(ins, 8, res->sha256, -1, SQLITE_STATIC);
		int src = sqlite3_step(ins);
		sqlite3_finalize(ins);
		if (src != SQLITE_DONE) {
			rc = ark_core_sql_error(core, err, src, "record the backup in the backups table");
			goto out;
		}
	}
	rc = prune(cfg, core, res, err);
out:
	ark_core_close(core);
	return rc;
}
