/* graveyard/drift.c — ethics drift: the rules HRM enforces must stay the
 * rules whose hash was recorded.
 *
 * Invariant: once any difference is seen (compiled table, loaded file versus
 * the recorded hash, installed file), state->drift.latched stays set for the
 * life of the state — evaluation then denies everything — and the first cause
 * is kept. Checks run off the hot path; the cheap one (stat) runs every time,
 * the file is re-hashed only when its identity or times changed. */
#include "graveyard/graveyard.h"
#include "graveyard/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *ark_graveyard_drift_cause_name(enum ark_graveyard_drift_cause cause)
{
	switch (cause) {
	case ARK_GRAVEYARD_DRIFT_NONE: return "none";
	case ARK_GRAVEYARD_DRIFT_FILE_CHANGED: return "file_changed";
	case ARK_GRAVEYARD_DRIFT_FILE_UNREADABLE: return "file_unreadable";
	case ARK_GRAVEYARD_DRIFT_TABLE_CHANGED: return "table_changed";
	case ARK_GRAVEYARD_DRIFT_RECORDED_MISMATCH: return "recorded_hash_mismatch";
	}
	return "?";
}

__attribute__((format(printf, 4, 5)))
static int latch(struct ark_graveyard_drift *dr, enum ark_graveyard_drift_cause cause, struct ark_err *err,
		 const char *fmt, ...)
{
	dr->detections++;
	if (!atomic_load_explicit(&dr->latched, memory_order_relaxed)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(dr->detail, sizeof dr->detail, fmt, ap);
		va_end(ap);
		dr->cause = cause;
		atomic_store_explicit(&dr->latched, 1, memory_order_release);
	}
	ark_err_set(err, 0, "ethics drift (%s): %s", ark_graveyard_drift_cause_name(dr->cause), dr->detail);
	return 1;
}

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool same_file(const struct ark_graveyard_drift *dr, const struct stat *sb)
{
	return dr->snapshot_valid && dr->st_dev == (uint64_t)sb->st_dev && dr->st_ino == (uint64_t)sb->st_ino &&
	       dr->st_size == (uint64_t)sb->st_size && dr->st_mtime_ns == ns_of(sb->st_mtim) &&
	       dr->st_ctime_ns == ns_of(sb->st_ctim);
}

int ark_graveyard_check_drift(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *state,
			      const char *installed_path, const char *recorded_hex, struct ark_err *err)
{
	struct ark_graveyard_drift *dr = &state->drift;
	uint8_t recorded[32];
	if (recorded_hex && ark_graveyard_parse_hex(recorded_hex, recorded, err))
		return -EINVAL;
	dr->checks++;
	if (atomic_load_explicit(&dr->latched, memory_order_relaxed)) {
		ark_err_set(err, 0, "ethics drift (%s): %s", ark_graveyard_drift_cause_name(dr->cause), dr->detail);
		return 1;
	}

	uint8_t table[32];
	char hex[ARK_GRAVEYARD_HEX_LEN + 1];
	ark_graveyard_table_hash(&rules->limits, table);
	if (memcmp(table, rules->table_sha256, 32) != 0 || memcmp(table, state->table_sha256, 32) != 0) {
		ark_graveyard_hex(table, hex);
		return latch(dr, ARK_GRAVEYARD_DRIFT_TABLE_CHANGED, err,
			     "the compiled rule table now hashes %s, loaded as %s", hex, rules->table_sha256_hex);
	}
	if (recorded_hex && memcmp(recorded, rules->file_sha256, 32) != 0)
		return latch(dr, ARK_GRAVEYARD_DRIFT_RECORDED_MISMATCH, err,
			     "the loaded rules hash %s, the recorded hash is %s", rules->file_sha256_hex, recorded_hex);
	if (!installed_path)
		return 0;

	struct stat sb;
	if (stat(installed_path, &sb) < 0)
		return latch(dr, ARK_GRAVEYARD_DRIFT_FILE_UNREADABLE, err, "%s: %s", installed_path, strerror(errno));
	if (same_file(dr, &sb))
		return 0;
	struct ark_err why = {0};
	uint8_t digest[32];
	dr->rehashes++;
	if (ark_graveyard_file_digest(installed_path, digest, &sb, &why))
		return latch(dr, ARK_GRAVEYARD_DRIFT_FILE_UNREADABLE, err, "%s", why.msg);
	if (memcmp(digest, rules->file_sha256, 32) != 0) {
		ark_graveyard_hex(digest, hex);
		return latch(dr, ARK_GRAVEYARD_DRIFT_FILE_CHANGED, err, "%s now hashes %s, loaded as %s",
			     installed_path, hex, rules->file_sha256_hex);
	}
	dr->st_dev = (uint64_t)sb.st_dev;
	dr->st_ino = (uint64_t)sb.st_ino;
	dr->st_size = (uint64_t)sb.st_size;
	dr->st_mtime_ns = ns_of(sb.st_mtim);
	dr->st_ctime_ns = ns_of(sb.st_ctim);
	dr->snapshot_valid = 1;
	return 0;
}
