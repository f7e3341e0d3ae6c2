/* store/core_checkpoint.c — the Mutable Core's checkpointer. SQLite's
 * autocheckpoint (every 1000 pages, in the committing call) is replaced by:
 * a PASSIVE checkpoint from ark_core_checkpoint (the writer's idle loop)
 * every ARK_DB_CHECKPOINT_INTERVAL or when the WAL passes a quarter of
 * ARK_DB_WAL_MAX_BYTES, and one inline from the commit hook when the WAL
 * passes the whole bound, so it stays bounded even if nobody calls.
 * journal_size_limit truncates the -wal file back after each reset.
 *
 * Invariant: the writer never waits for a reader here (PASSIVE only; RESTART
 * only when the caller forces it). When a reader keeps a checkpoint from
 * finishing and the WAL is over its bound, that is reported — counted,
 * logged at most every 10 s, and -EAGAIN from ark_core_checkpoint. */
#include "store/core_internal.h"

#include <errno.h>
#include <sys/stat.h>

static uint64_t wal_bytes(struct ark_core *core)
{
	struct stat st;
	return stat(core->wal_path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* 0 done, -EAGAIN starved, other negative on error. */
static int run_checkpoint(struct ark_core *core, int mode, struct ark_err *err)
{
	int log = 0, done = 0;
	core->in_checkpoint = true;
	int rc = sqlite3_wal_checkpoint_v2(core->db, NULL, mode, &log, &done);
	core->in_checkpoint = false;
	core->last_checkpoint_ns = ark_now_ns();
	core->ck.checkpoints++;
	core->ck.last_log_frames = log;
	core->ck.last_checkpointed_frames = done;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return ark_core_sql_error(core, err, rc, "checkpoint");
	if (rc == SQLITE_OK && done >= log) {
		core->wal_frames = 0;
		return 0;
	}
	/* Frames remain: a reader holds a snapshot older than them. */
	if (log < core->hard_frames)
		return 0; /* not a problem yet */
	core->ck.starved++;
	uint64_t now = ark_now_ns();
	if (now - core->last_starved_log_ns > 10ull * 1000000000ull || core->last_starved_log_ns == 0) {
		core->last_starved_log_ns = now;
		ark_store_log(&core->cfg, 1,
			      "Mutable Core checkpoint starved by a reader: WAL of %s holds %d frames "
			      "(%llu bytes), %d checkpointed; a long read transaction keeps the WAL growing",
			      core->cfg.state_db, log, (unsigned long long)wal_bytes(core), done);
	}
	return ark_err_set(err, -EAGAIN,
			   "checkpoint starved by a reader: %d of %d WAL frames checkpointed (bound %d)",
			   done, log, core->hard_frames);
}

int ark_core_wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct ark_core *core = ctx;
	(void)db;
	(void)name;
	core->wal_frames = frames;
	core->ck.wal_frames = frames;
	if (frames >= core->hard_frames && !core->in_checkpoint)
		run_checkpoint(core, SQLITE_CHECKPOINT_PASSIVE, NULL);
	return SQLITE_OK;
}

int ark_core_checkpoint(struct ark_core *core, bool force, struct ark_err *err)
{
	if (core->memory || (core->flags & ARK_CORE_READONLY))
		return 0;
	if (core->in_tx)
		return ark_err_set(err, -EINVAL, "checkpoint inside a transaction");
	if (force)
		return run_checkpoint(core, SQLITE_CHECKPOINT_TRUNCATE, err);
	uint64_t now = ark_now_ns();
	bool due = core->cfg.db_checkpoint_interval_ns &&
		   now - core->last_checkpoint_ns >= core->cfg.db_checkpoint_interval_ns;
	if (!due && core->wal_frames < core->soft_frames)
		return 0;
	return run_checkpoint(core, SQLITE_CHECKPOINT_PASSIVE, err);
}

void ark_core_get_checkpoint_stats(struct ark_core *core, struct ark_core_checkpoint_stats *stats)
{
	*stats = core->ck;
	stats->wal_frames = core->wal_frames;
	stats->wal_bytes = core->memory ? 0 : wal_bytes(core);
}
