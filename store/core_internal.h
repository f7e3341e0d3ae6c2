/* store/core_internal.h — private: the Mutable Core's connection state,
 * shared by core.c, core_schema.c, core_write.c, core_checkpoint.c and the
 * backup code. */
#ifndef ARK_STORE_CORE_INTERNAL_H
#define ARK_STORE_CORE_INTERNAL_H

#include "store/internal.h"

#include <sqlite3.h>

enum ark_core_stmt {
	ST_ORDER, ST_FILL, ST_POSITION, ST_DENIAL, ST_AGENT, ST_SLO, ST_CANARY,
	ST_META_SET, ST_META_GET, ST_COUNT_
};

struct ark_core {
	sqlite3 *db;
	struct ark_store_config cfg;
	unsigned flags;
	bool memory;
	bool in_tx;
	int schema_version;
	int page_size;
	sqlite3_stmt *st[ST_COUNT_];
	/* checkpointer */
	bool own_checkpointer;
	int wal_frames;             /* frames in the WAL after the last commit */
	int hard_frames;            /* checkpoint inline from the commit hook past this */
	int soft_frames;            /* ark_core_checkpoint runs past this */
	bool in_checkpoint;
	uint64_t last_checkpoint_ns;
	uint64_t last_starved_log_ns;
	struct ark_core_checkpoint_stats ck;
	char wal_path[PATH_MAX + 8];
};

/* core.c */
/* The defensive settings every connection to a Mutable Core file gets
 * (ark_store_sqlite_open applies them): 0, or -EPERM. */
int ark_core_harden(sqlite3 *db);
int ark_core_sql_error(struct ark_core *core, struct ark_err *err, int rc, const char *what);
int ark_core_exec(sqlite3 *db, const char *sql, const char *what, struct ark_err *err);
int ark_core_prepare(struct ark_core *core, enum ark_core_stmt which, struct ark_err *err);

/* core_schema.c */
/* What a database is: 0 = ARK's (or empty), -EPROTOTYPE = foreign or newer.
 * *version gets its schema version (0 for empty). */
int ark_core_identify(sqlite3 *db, const char *path, int *version, bool *empty, struct ark_err *err);
int ark_core_migrate(struct ark_core *core, int *applied, struct ark_err *err);
/* db's whole sqlite_schema (tables, indexes, triggers, views) against the
 * one the migrations create at `version`, each CREATE statement compared
 * with its whitespace collapsed: 0 when equal; -EPROTOTYPE naming every
 * foreign, altered and missing object otherwise. */
int ark_core_schema_check(sqlite3 *db, int version, const char *path, struct ark_err *err);
/* Run integrity_check (quick when quick) and return -EUCLEAN with its
 * first complaint. */
int ark_core_integrity(sqlite3 *db, const char *path, bool quick, struct ark_err *err);

/* core_checkpoint.c */
int ark_core_wal_hook(void *ctx, sqlite3 *db, const char *name, int frames);

#endif /* ARK_STORE_CORE_INTERNAL_H */
