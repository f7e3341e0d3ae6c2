/* store/config.c — the store's configuration from the environment, and the
 * small file-system helpers the rest of store/ shares.
 *
 * Invariant: a variable that is set but cannot be parsed is an error naming
 * the variable and what was expected; it never silently becomes the default. */
#include "store/internal.h"
#include "shm/shm.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int copy_path(char *dst, const char *src, const char *what, struct ark_err *err)
{
	size_t n = strlen(src);
	if (n == 0)
		return ark_err_set(err, -EINVAL, "%s: expected a path, got an empty string", what);
	if (n >= PATH_MAX)
		return ark_err_set(err, -ENAMETOOLONG, "%s: path longer than %d bytes", what, PATH_MAX - 1);
	memcpy(dst, src, n + 1);
	return 0;
}

void ark_store_config_defaults(struct ark_store_config *cfg, const char *data_dir)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", data_dir);
	snprintf(cfg->journal_dir, sizeof cfg->journal_dir, "%.4000s/journal", data_dir);
	snprintf(cfg->state_db, sizeof cfg->state_db, "%.4000s/ark_state.db", data_dir);
	snprintf(cfg->backup_dir, sizeof cfg->backup_dir, "%.4000s/backups", data_dir);
	snprintf(cfg->instance, sizeof cfg->instance, "main");
	cfg->backup_keep = ARK_STORE_DEFAULT_BACKUP_KEEP;
	cfg->sync = ARK_JOURNAL_SYNC_INTERVAL;
	cfg->sync_interval_ns = ARK_STORE_DEFAULT_SYNC_INTERVAL_MS * 1000000ull;
	cfg->segment_bytes = ARK_STORE_DEFAULT_SEGMENT_BYTES;
	cfg->buffer_bytes = ARK_STORE_DEFAULT_BUFFER_BYTES;
	cfg->retain_bytes = ARK_STORE_DEFAULT_RETAIN_BYTES;
	cfg->retain_age_ns = 0;
	cfg->io_uring = true;
	cfg->trace_index = true;
	cfg->db_synchronous = 1;
	cfg->db_busy_timeout_ms = ARK_STORE_DEFAULT_BUSY_TIMEOUT_MS;
	cfg->db_checkpoint_interval_ns = ARK_STORE_DEFAULT_CHECKPOINT_INTERVAL_S * 1000000000ull;
	cfg->db_wal_max_bytes = ARK_STORE_DEFAULT_WAL_MAX_BYTES;
	cfg->db_integrity = ARK_DB_INTEGRITY_FULL;
}

const char *ark_store_sync_name(enum ark_journal_sync sync)
{
	switch (sync) {
	case ARK_JOURNAL_SYNC_BATCH: return "batch";
	case ARK_JOURNAL_SYNC_INTERVAL: return "interval";
	case ARK_JOURNAL_SYNC_NONE: return "none";
	}
	return "?";
}

int ark_store_parse_sync(const char *text, enum ark_journal_sync *sync, uint64_t *interval_ns,
			 struct ark_err *err)
{
	static const char expected[] =
		"ARK_JOURNAL_SYNC: expected 'batch', 'interval:<ms>' (1 to 60000, or with a unit "
		"such as interval:5ms) or 'none', got '%s'";
	if (!text)
		text = "";
	if (strcmp(text, "batch") == 0) {
		*sync = ARK_JOURNAL_SYNC_BATCH;
		return 0;
	}
	if (strcmp(text, "none") == 0) {
		*sync = ARK_JOURNAL_SYNC_NONE;
		return 0;
	}
	if (strncmp(text, "interval:", 9) == 0) {
		uint64_t ns;
		if (ark_parse_duration_ns(text + 9, 1000000ull, "ARK_JOURNAL_SYNC", &ns, NULL) != 0 ||
		    ns < 100000ull || ns > 60ull * 1000000000ull)
			return ark_err_set(err, -EINVAL, expected, text);
		*sync = ARK_JOURNAL_SYNC_INTERVAL;
		*interval_ns = ns;
		return 0;
	}
	return ark_err_set(err, -EINVAL, expected, text);
}

static int env_size(const char *name, uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out,
		    struct ark_err *err)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		*out = dflt;
		return 0;
	}
	return ark_parse_size(v, min, max, name, out, err);
}

int ark_store_config_from_env(struct ark_store_config *cfg, struct ark_err *err)
{
	const char *env = getenv("ARK_ENV");
	bool prod = env && strcmp(env, "prod") == 0;
	const char *data_dir = getenv("ARK_DATA_DIR");
	if (!data_dir || !*data_dir)
		data_dir = prod ? "/var/lib/ark" : "./ark-data";
	if (strlen(data_dir) > PATH_MAX - 64)
		return ark_err_set(err, -ENAMETOOLONG, "ARK_DATA_DIR: path longer than %d bytes",
				   PATH_MAX - 64);
	ark_store_config_defaults(cfg, data_dir);
	if (prod) {
		snprintf(cfg->state_db, sizeof cfg->state_db, "/var/lib/ark/ark_state.db");
		snprintf(cfg->backup_dir, sizeof cfg->backup_dir, "/var/backups/ark");
	}
	int rc;
	const char *v;
	if ((v = getenv("ARK_JOURNAL_DIR")) && *v && (rc = copy_path(cfg->journal_dir, v, "ARK_JOURNAL_DIR", err)))
		return rc;
	if ((v = getenv("ARK_STATE_DB")) && *v && (rc = copy_path(cfg->state_db, v, "ARK_STATE_DB", err)))
		return rc;
	if ((v = getenv("ARK_BACKUP_DIR")) && *v && (rc = copy_path(cfg->backup_dir, v, "ARK_BACKUP_DIR", err)))
		return rc;
	if ((v = getenv("ARK_INSTANCE")) && *v) {
		char name[ARK_SHM_NAME_MAX];
		if ((rc = ark_shm_name_for_instance(v, name, sizeof name, err)))
			return ark_err_wrap(err, "ARK_INSTANCE");
		snprintf(cfg->instance, sizeof cfg->instance, "%s", v);
	}
	uint64_t u;
	if ((rc = ark_env_u64("ARK_BACKUP_KEEP", ARK_STORE_DEFAULT_BACKUP_KEEP, 1, 100000, &u, err)))
		return rc;
	cfg->backup_keep = (uint32_t)u;
	if ((v = getenv("ARK_JOURNAL_SYNC")) && *v &&
	    (rc = ark_store_parse_sync(v, &cfg->sync, &cfg->sync_interval_ns, err)))
		return rc;
	if ((rc = env_size("ARK_JOURNAL_SEGMENT_BYTES", ARK_STORE_DEFAULT_SEGMENT_BYTES, 64 << 10,
			   1ull << 40, &cfg->segment_bytes, err)))
		return rc;
	if ((rc = env_size("ARK_JOURNAL_BUFFER_BYTES", ARK_STORE_DEFAULT_BUFFER_BYTES, 1 << 20,
			   1ull << 30, &cfg->buffer_bytes, err)))
		return rc;
	if ((rc = env_size("ARK_JOURNAL_RETAIN_BYTES", 0, 0, UINT64_MAX >> 1, &cfg->retain_bytes, err)))
		return rc;
	if ((v = getenv("ARK_JOURNAL_RETAIN_AGE")) && *v) {
		/* a bare number is hours: retention is counted in hours or days */
		if ((rc = ark_parse_duration_ns(v, 3600ull * 1000000000ull, "ARK_JOURNAL_RETAIN_AGE",
						&cfg->retain_age_ns, err)))
			return rc;
	}
	bool b;
	if ((rc = ark_env_bool("ARK_IO_URING", true, &b, err)))
		return rc;
	cfg->io_uring = b;
	if ((rc = ark_env_bool("ARK_JOURNAL_TRACE_INDEX", true, &b, err)))
		return rc;
	cfg->trace_index = b;

	if ((v = getenv("ARK_DB_SYNCHRONOUS")) && *v) {
		static const char *names[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
		int found = -1;
		for (int i = 0; i < 4; i++)
			if (strcasecmp(v, names[i]) == 0 || (v[0] == '0' + i && v[1] == '\0'))
				found = i;
		if (found < 0)
			return ark_err_set(err, -EINVAL,
					   "ARK_DB_SYNCHRONOUS: expected OFF, NORMAL, FULL or EXTRA (or 0-3), got '%s'", v);
		cfg->db_synchronous = found;
	}
	if ((rc = ark_env_u64("ARK_DB_BUSY_TIMEOUT_MS", ARK_STORE_DEFAULT_BUSY_TIMEOUT_MS, 0, 3600000,
			      &cfg->db_busy_timeout_ms, err)))
		return rc;
	if ((v = getenv("ARK_DB_CHECKPOINT_INTERVAL")) && *v) {
		/* the seed's value is in seconds ("60"); units are accepted too */
		if ((rc = ark_parse_duration_ns(v, 1000000000ull, "ARK_DB_CHECKPOINT_INTERVAL",
						&cfg->db_checkpoint_interval_ns, err)))
			return rc;
	}
	if ((rc = env_size("ARK_DB_WAL_MAX_BYTES", ARK_STORE_DEFAULT_WAL_MAX_BYTES, 1 << 20,
			   1ull << 40, &cfg->db_wal_max_bytes, err)))
		return rc;
	if ((v = getenv("ARK_DB_INTEGRITY_CHECK")) && *v) {
		if (strcmp(v, "full") == 0)
			cfg->db_integrity = ARK_DB_INTEGRITY_FULL;
		else if (strcmp(v, "quick") == 0)
			cfg->db_integrity = ARK_DB_INTEGRITY_QUICK;
		else if (strcmp(v, "off") == 0)
			cfg->db_integrity = ARK_DB_INTEGRITY_OFF;
		else
			return ark_err_set(err, -EINVAL,
					   "ARK_DB_INTEGRITY_CHECK: expected full, quick or off, got '%s'", v);
	}
	return 0;
}

int ark_store_mkdirs(const char *path, struct ark_err *err)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp)
		return ark_err_set(err, -EINVAL, "directory path '%s' is empty or too long", path);
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return ark_err_set(err, -errno, "cannot create directory '%s': %s", tmp,
					   strerror(errno));
		tmp[i] = c;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return ark_err_set(err, -ENOTDIR, "'%s' is not a directory", path);
	return 0;
}

int ark_store_instance_running(const char *instance, struct ark_err *err)
{
	char name[ARK_SHM_NAME_MAX];
	int rc = ark_shm_name_for_instance(instance, name, sizeof name, err);
	if (rc)
		return rc;
	char path[ARK_SHM_NAME_MAX + 16];
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	if (access(path, F_OK) != 0)
		return 0;
	struct ark_shm shm;
	struct ark_err attach_err;
	if (ark_shm_attach(&shm, name, 0, &attach_err) != 0)
		/* It exists but cannot be attached (being created, or damaged):
		 * treat as running, the safe side for a destructive command. */
		return 1;
	bool stale = ark_shm_is_stale(&shm);
	ark_shm_detach(&shm);
	return stale ? 0 : 1;
}

int ark_store_fsync_dir(const char *dir, struct ark_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot open directory '%s': %s", dir, strerror(errno));
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	if (rc)
		return ark_err_set(err, rc, "fsync of directory '%s': %s", dir, strerror(-rc));
	return 0;
}

void ark_store_log(const struct ark_store_config *cfg, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (cfg && cfg->log) {
		cfg->log(cfg->log_ctx, level, msg);
		return;
	}
	static const char *names[] = {"info", "warning", "error"};
	fprintf(stderr, "ark store %s: %s\n", names[level < 0 ? 0 : level > 2 ? 2 : level], msg);
}

void ark_store_format_utc(uint64_t realtime_ns, bool with_ms, char *out, size_t cap)
{
	time_t secs = (time_t)(realtime_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	if (with_ms)
		snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(realtime_ns / 1000000ull % 1000));
	else
		snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
