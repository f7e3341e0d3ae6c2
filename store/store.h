/* store/store.h — the durable record: Aletheia's append-only journal, the
 * SQLite "Mutable Core" and its backups. This header is the whole interface
 * of the component.
 *
 * Journal. Segment files under $ARK_DATA_DIR/journal/, named after the first
 * sequence number they hold ("00000000000000000042.arkj"). Each opens with a
 * 64-byte header (magic "ARKJSEG1", version, first seq, creation time, CRC32C
 * of the header) followed by records:
 *
 *     u32 magic "ARKR" | u32 payload length | u64 seq | u64 trace id |
 *     u32 CRC32C(header bytes 0..23 + payload) | u32 flags (0) | payload
 *
 * all little-endian, no padding. Sequence numbers strictly increase across the
 * whole journal. One writer at a time (an flock on journal/LOCK); any number
 * of readers in any process. The writer never makes the caller wait for the
 * disk: ark_journal_append copies into a buffer and batches go to the kernel
 * through io_uring (or pwrite/fdatasync where io_uring cannot be set up).
 * Durability follows ARK_JOURNAL_SYNC; ark_journal_durable_seq says how far
 * it has come. Opening for writing recovers a torn tail (cut and reported).
 *
 * Mutable Core. SQLite at ARK_STATE_DB, versioned schema with migrations,
 * pragmas set on every open, integrity_check at start, BEGIN IMMEDIATE batched
 * writers with prepared statements, an own checkpointer that keeps the WAL
 * bounded and reports when a reader starves it.
 *
 * Backups. Online copies (sqlite3_backup in steps inside one read snapshot,
 * so writers keep writing) to $ARK_BACKUP_DIR/ark_state_backup_<UTC>.db, the
 * newest ARK_BACKUP_KEEP kept; restore verifies before it replaces.
 *
 * Errors: every function returns 0 (or a count) or a negative errno-style
 * code, and fills struct ark_err with a message naming what was wrong. */
#ifndef ARK_STORE_H
#define ARK_STORE_H

#include "common/common.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Configuration from the environment                                        */
/* ------------------------------------------------------------------------ */

enum ark_journal_sync {
	ARK_JOURNAL_SYNC_BATCH,     /* fdatasync linked after each batch's writes */
	ARK_JOURNAL_SYNC_INTERVAL,  /* fdatasync every sync_interval_ns */
	ARK_JOURNAL_SYNC_NONE,      /* never fdatasync, not even when a segment is sealed
				     * (ark_journal_sync still forces one); the kernel
				     * writes back. A power cut may tear any segment. */
};

enum ark_db_integrity {
	ARK_DB_INTEGRITY_FULL,   /* PRAGMA integrity_check */
	ARK_DB_INTEGRITY_QUICK,  /* PRAGMA quick_check */
	ARK_DB_INTEGRITY_OFF,
};

/* Where messages the store wants an operator to see go ("io_uring
 * unavailable, using pwrite", "checkpoint starved by a reader", ...).
 * level: 0 info, 1 warning, 2 error. NULL: one line on stderr. */
typedef void (*ark_store_log_fn)(void *ctx, int level, const char *message);

struct ark_store_config {
	char data_dir[PATH_MAX];        /* ARK_DATA_DIR */
	char journal_dir[PATH_MAX];     /* $ARK_DATA_DIR/journal (ARK_JOURNAL_DIR) */
	char state_db[PATH_MAX];        /* ARK_STATE_DB, may be ":memory:" */
	char backup_dir[PATH_MAX];      /* ARK_BACKUP_DIR */
	char instance[64];              /* ARK_INSTANCE, for "is ARK running" */
	uint32_t backup_keep;           /* ARK_BACKUP_KEEP */

	enum ark_journal_sync sync;     /* ARK_JOURNAL_SYNC */
	uint64_t sync_interval_ns;      /* interval:<ms>; also the write-out cadence of none */
	uint64_t segment_bytes;         /* ARK_JOURNAL_SEGMENT_BYTES */
	uint64_t buffer_bytes;          /* ARK_JOURNAL_BUFFER_BYTES */
	uint64_t retain_bytes;          /* ARK_JOURNAL_RETAIN_BYTES, 0 = no limit */
	uint64_t retain_age_ns;         /* ARK_JOURNAL_RETAIN_AGE, 0 = no limit */
	bool io_uring;                  /* ARK_IO_URING (false forces pwrite/fdatasync) */
	bool trace_index;               /* ARK_JOURNAL_TRACE_INDEX: Aletheia keeps the trace-id index */

	int db_synchronous;             /* ARK_DB_SYNCHRONOUS: 0 OFF 1 NORMAL 2 FULL 3 EXTRA */
	uint64_t db_busy_timeout_ms;    /* ARK_DB_BUSY_TIMEOUT_MS */
	uint64_t db_checkpoint_interval_ns; /* ARK_DB_CHECKPOINT_INTERVAL (seconds) */
	uint64_t db_wal_max_bytes;      /* ARK_DB_WAL_MAX_BYTES */
	enum ark_db_integrity db_integrity; /* ARK_DB_INTEGRITY_CHECK */

	ark_store_log_fn log;           /* not from the environment; NULL = stderr */
	void *log_ctx;
};

/* Defaults (ARK_ENV=prod moves the paths to /var/lib/ark and /var/backups/ark). */
#define ARK_STORE_DEFAULT_BACKUP_KEEP 24u
#define ARK_STORE_DEFAULT_SYNC_INTERVAL_MS 10u
#define ARK_STORE_DEFAULT_SEGMENT_BYTES (64ull << 20)
#define ARK_STORE_DEFAULT_BUFFER_BYTES (16ull << 20)
#define ARK_STORE_DEFAULT_RETAIN_BYTES (0ull)
#define ARK_STORE_DEFAULT_BUSY_TIMEOUT_MS 5000u
#define ARK_STORE_DEFAULT_CHECKPOINT_INTERVAL_S 60u
#define ARK_STORE_DEFAULT_WAL_MAX_BYTES (64ull << 20)

/* Fill cfg from the environment (every variable above). A bad value is an
 * error naming the variable and what was expected. */
int ark_store_config_from_env(struct ark_store_config *cfg, struct ark_err *err);
/* The same defaults without reading the environment (paths under data_dir). */
void ark_store_config_defaults(struct ark_store_config *cfg, const char *data_dir);
/* Parse an ARK_JOURNAL_SYNC value: "batch", "interval:<ms>" (or with a unit,
 * "interval:5ms"), "none". */
int ark_store_parse_sync(const char *text, enum ark_journal_sync *sync, uint64_t *interval_ns,
			 struct ark_err *err);
const char *ark_store_sync_name(enum ark_journal_sync sync);

/* Create a directory and its parents, mode 0700 for the ones created. */
int ark_store_mkdirs(const char *path, struct ark_err *err);

/* True (1) when the ARK instance is running: its shared segment
 * /dev/shm/ark-<instance> exists and its creator is alive. 0 when not,
 * negative on a bad instance name. */
int ark_store_instance_running(const char *instance, struct ark_err *err);

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it. */
uint32_t ark_crc32c(uint32_t crc, const void *data, size_t len);
/* The portable table implementation, for tests. */
uint32_t ark_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Journal: format                                                           */
/* ------------------------------------------------------------------------ */

#define ARK_JOURNAL_SEGMENT_MAGIC 0x314745534a4b5241ull /* "ARKJSEG1" */
#define ARK_JOURNAL_VERSION 1u
#define ARK_JOURNAL_SEGMENT_HEADER_BYTES 64u
#define ARK_JOURNAL_RECORD_MAGIC 0x524b5241u /* "ARKR" */
#define ARK_JOURNAL_RECORD_HEADER_BYTES 32u
#define ARK_JOURNAL_MAX_PAYLOAD (64u << 10)
#define ARK_JOURNAL_SEGMENT_SUFFIX ".arkj"

/* ------------------------------------------------------------------------ */
/* Journal: writer                                                           */
/* ------------------------------------------------------------------------ */

struct ark_journal;

struct ark_journal_recovery {
	bool cut;                 /* a torn or corrupt tail was cut off */
	char segment[PATH_MAX];   /* the segment it was cut from */
	uint64_t offset;          /* where (the new end of the segment) */
	uint64_t bytes_cut;
	uint64_t records_after_cut; /* CRC-valid records found in the cut bytes:
				     * non-zero means damage, not a torn write;
				     * the cut bytes are saved beside the segment */
	char saved_to[PATH_MAX];  /* where they were saved, "" if not */
	char reason[160];         /* "record header incomplete", "CRC mismatch", ... */
	uint64_t records;         /* records scanned in the active segment (after
				     the resume position when one was used) */
	bool resumed;             /* the resume position was valid and used */
	uint64_t last_seq;        /* highest seq in the journal, 0 if empty */
	uint64_t removed_empty_segments;
};

struct ark_journal_stats {
	uint64_t appended_records;
	uint64_t appended_bytes;
	uint64_t last_seq;         /* last appended */
	uint64_t written_seq;      /* in the kernel (page cache) */
	uint64_t durable_seq;      /* fdatasync completed */
	uint64_t writes_submitted;
	uint64_t syncs_submitted;
	uint64_t syncs_completed;
	uint64_t buffer_full_stalls; /* appends that had to wait for a write */
	uint64_t segments_created;
	uint64_t segments_deleted;
	uint64_t segment_count;
	uint64_t total_bytes;      /* all segments on disk */
	bool using_io_uring;
};

/* Open (creating dirs 0700 and files 0600) the journal in cfg->journal_dir
 * for appending, recovering its tail. recovery may be NULL; a cut is also
 * logged through cfg->log. -EBUSY when another process has it open for
 * writing. -EBADMSG when a sealed (older) segment is damaged: run
 * `ark journal verify`. */
int ark_journal_open(struct ark_journal **journal, const struct ark_store_config *cfg,
		     struct ark_journal_recovery *recovery, struct ark_err *err);

/* Where the journal's completely written records end, as the writer saw its
 * last write complete. Kept by the writer in memory that outlives its
 * process (Aletheia: the pipeline segment), it lets a restarted writer check
 * the one record before it and scan only what follows, instead of the whole
 * active segment (tens of milliseconds at 64 MB). Only a process crash is
 * covered: after a machine crash the memory is gone and the scan is full. */
struct ark_journal_position {
	uint64_t segment_first_seq;
	uint64_t end_offset;         /* first byte after the last complete record */
	uint64_t last_seq;
	uint64_t last_record_offset;
	uint64_t check;              /* a copy torn by a kill is refused */
};
void ark_journal_written_position(const struct ark_journal *journal, struct ark_journal_position *pos);
bool ark_journal_position_valid(const struct ark_journal_position *pos);
/* ark_journal_open, resuming at a position (NULL, or not valid: full scan). */
int ark_journal_open_at(struct ark_journal **journal, const struct ark_store_config *cfg,
			const struct ark_journal_position *resume, struct ark_journal_recovery *recovery,
			struct ark_err *err);
/* Flush, sync (unless sync mode none) and close. Returns the first I/O error
 * seen, if any. NULL is fine. */
int ark_journal_close(struct ark_journal *journal, struct ark_err *err);

/* Append one record. seq must be greater than every seq appended before
 * (-EINVAL otherwise); len ≤ ARK_JOURNAL_MAX_PAYLOAD (-EMSGSIZE). The bytes
 * are copied; the call makes no system call unless a batch is due, and waits
 * only when the whole buffer is still being written (stats.buffer_full_stalls).
 * A write error from an earlier batch is returned here (-EIO etc.) and the
 * journal refuses further appends: its tail on disk is then unknown. */
int ark_journal_append(struct ark_journal *journal, uint64_t seq, uint64_t trace_id,
		       const void *payload, uint32_t len, struct ark_err *err);

/* Submit what was appended; with ARK_JOURNAL_SYNC=batch this is the batch
 * boundary (write, then fdatasync linked to it). Does not wait. */
int ark_journal_flush(struct ark_journal *journal, struct ark_err *err);
/* Reap completions and start what is due (interval syncs, write-out of a
 * partly filled buffer, retention). Never waits. Call it from the idle loop;
 * ark_journal_next_deadline_ns says when it is next needed. */
int ark_journal_poll(struct ark_journal *journal, struct ark_err *err);
/* Sleep until a write or sync in flight completes, or poll is next due, or
 * timeout_ns passed: what a caller waiting for written_seq does instead of
 * spinning (then it calls poll). */
void ark_journal_wait(struct ark_journal *journal, uint64_t timeout_ns);
/* CLOCK_MONOTONIC ns when poll is next due, UINT64_MAX if nothing pending. */
uint64_t ark_journal_next_deadline_ns(const struct ark_journal *journal);
/* Write everything appended and fdatasync it, waiting until it is durable
 * (whatever the sync mode). */
int ark_journal_sync(struct ark_journal *journal, struct ark_err *err);

/* The highest seq known to be on stable storage (fdatasync done). */
uint64_t ark_journal_durable_seq(const struct ark_journal *journal);
/* The highest seq the kernel has (survives a crash of this process). */
uint64_t ark_journal_written_seq(const struct ark_journal *journal);
uint64_t ark_journal_last_seq(const struct ark_journal *journal);
void ark_journal_get_stats(const struct ark_journal *journal, struct ark_journal_stats *stats);
bool ark_journal_using_io_uring(const struct ark_journal *journal);
/* True while an fdatasync is in flight (benchmarks measure appends then). */
bool ark_journal_sync_in_flight(const struct ark_journal *journal);

/* Retention (also run from poll at most once a second): delete whole sealed
 * segments, oldest first, while the journal is over retain_bytes or they
 * are older than retain_age_ns. Never the active segment. Returns how many
 * segments were deleted. */
int ark_journal_retain(struct ark_journal *journal, struct ark_err *err);

/* ------------------------------------------------------------------------ */
/* Journal: readers (any process, also while the writer writes)              */
/* ------------------------------------------------------------------------ */

struct ark_journal_record {
	uint64_t seq;
	uint64_t trace_id;
	uint32_t len;
	const uint8_t *payload;      /* valid until the next call on the reader */
	char segment[64];            /* file name of its segment */
	uint64_t offset;             /* of the record header in the segment */
};

struct ark_journal_reader;

int ark_journal_reader_open(struct ark_journal_reader **reader, const char *journal_dir,
			    struct ark_err *err);
void ark_journal_reader_close(struct ark_journal_reader *reader);
/* Position at the first record with seq ≥ seq (0: the oldest kept). -ENOENT
 * names the oldest seq when seq is older than the oldest segment kept, e.g.
 * deleted by retention (the reader is then at the oldest). */
int ark_journal_reader_seek(struct ark_journal_reader *reader, uint64_t seq, struct ark_err *err);
/* The next record: 0 and *rec filled; -EAGAIN at the end for now (call again
 * to follow the tail as it grows: new records and new segments are picked
 * up); -EBADMSG on damage (message names segment, offset, seq). */
int ark_journal_reader_next(struct ark_journal_reader *reader, struct ark_journal_record *rec,
			    struct ark_err *err);
/* Test seam: hook(ctx, segment name) is called each time the reader reaches
 * the end of what it knows of its open segment (after it read the segment's
 * size), just before it looks for a newer segment — the window in which a
 * writer can still finish the old segment and start the next. Tests append
 * there to force that interleaving. NULL clears it. */
void ark_journal_reader_set_end_hook(struct ark_journal_reader *reader,
				     void (*hook)(void *ctx, const char *segment), void *ctx);
/* Wait up to timeout_ns for the next record (polls the files). */
int ark_journal_reader_wait(struct ark_journal_reader *reader, struct ark_journal_record *rec,
			    uint64_t timeout_ns, struct ark_err *err);
/* Every record from the first with seq >= from (0, or older than the oldest
 * kept: from the oldest kept) to the end of the journal as it is now, in
 * order: fn returns 0 to go on, 1 to stop, negative to fail (returned). */
int ark_journal_each(const char *journal_dir, uint64_t from,
		     int (*fn)(void *ctx, const struct ark_journal_record *rec), void *ctx, struct ark_err *err);

/* The first seqs (from their names) of the journal's segments, oldest
 * first: up to cap of them in first_seqs, the total in *count. */
int ark_journal_list(const char *journal_dir, uint64_t *first_seqs, size_t cap, size_t *count,
		     struct ark_err *err);

/* Look-ups. Copy up to cap payload bytes into buf (rec->payload points there);
 * -ENOENT when absent. find_trace searches newest segments first, through
 * the trace index where there is one, and stops at the first record with
 * that trace id (a one-shot ark_trace_finder). */
int ark_journal_find_seq(const char *journal_dir, uint64_t seq, struct ark_journal_record *rec,
			 void *buf, size_t cap, struct ark_err *err);
int ark_journal_find_trace(const char *journal_dir, uint64_t trace_id,
			   struct ark_journal_record *rec, void *buf, size_t cap,
			   struct ark_err *err);

/* ------------------------------------------------------------------------ */
/* Journal: identity and numbering                                           */
/* ------------------------------------------------------------------------ */

/* journal/IDENTITY: 32 lower-case hex digits drawn when the journal's
 * writer first opens the directory (ark_journal_open makes it). The
 * Mutable Core records the identity of the journal it was applied from
 * (metadata "journal_id"). create: make one when absent (else -ENOENT). */
#define ARK_JOURNAL_ID_LEN 32
int ark_journal_identity(const char *journal_dir, bool create, char out[ARK_JOURNAL_ID_LEN + 1],
			 struct ark_err *err);
/* journal/BASE: the seq a journal's numbering continues after while it
 * holds no record beyond it (written by `ark restore --rebase`); 0 when
 * absent. Setting it never lowers it. */
int ark_journal_base_seq(const char *journal_dir, uint64_t *seq, struct ark_err *err);
int ark_journal_set_base_seq(const char *journal_dir, uint64_t seq, struct ark_err *err);
/* The highest seq recorded in the journal (0 when empty or absent). */
int ark_journal_last_recorded_seq(const char *journal_dir, uint64_t *last, struct ark_err *err);

/* ------------------------------------------------------------------------ */
/* Journal: the trace-id index (journal_index.c)                             */
/* ------------------------------------------------------------------------ */

/* Beside each segment "<first>.arkj", "<first>.arkx": a hash table of trace
 * id → record offset, kept by one indexer (Aletheia's thread, following the
 * segments as they reach the kernel; ARK_JOURNAL_TRACE_INDEX=false turns it
 * off) and read by any process: a look-up is a few probes per segment whose
 * trace-id range holds the id, plus a scan of the milliseconds of records
 * the indexer has not reached; a segment without a usable index is scanned.
 * A hit is always read back and checked (CRC, trace id) before it counts. */
struct ark_trace_indexer;
int ark_trace_indexer_start(struct ark_trace_indexer **indexer, const struct ark_store_config *cfg,
			    struct ark_err *err);
void ark_trace_indexer_stop(struct ark_trace_indexer *indexer);
uint64_t ark_trace_indexer_indexed(const struct ark_trace_indexer *indexer);
/* Index every segment now, in this thread (tools, tests, benchmarks). */
int ark_journal_index_sync(const char *journal_dir, uint64_t segment_bytes, uint64_t *indexed, struct ark_err *err);

struct ark_trace_finder;
struct ark_trace_finder_stats {
	uint64_t lookups;
	uint64_t probes;              /* hash slots read */
	uint64_t segments_skipped;    /* the id was outside their range */
	uint64_t segments_scanned;    /* had no usable index */
	uint64_t bytes_scanned;       /* past indexed_to, or without an index */
};
/* A finder keeps the index mappings of one journal between look-ups; one
 * thread uses it at a time. */
int ark_trace_finder_open(struct ark_trace_finder **finder, const char *journal_dir, struct ark_err *err);
void ark_trace_finder_close(struct ark_trace_finder *finder);
int ark_trace_finder_find(struct ark_trace_finder *finder, uint64_t trace_id, struct ark_journal_record *rec,
			  void *buf, size_t cap, struct ark_err *err);
void ark_trace_finder_stats(const struct ark_trace_finder *finder, struct ark_trace_finder_stats *stats);

/* ------------------------------------------------------------------------ */
/* Journal: verification                                                     */
/* ------------------------------------------------------------------------ */

enum ark_journal_problem_kind {
	ARK_JOURNAL_BAD_SEGMENT_HEADER,
	ARK_JOURNAL_BAD_RECORD,       /* framing or CRC */
	ARK_JOURNAL_SEQ_NOT_INCREASING,
	ARK_JOURNAL_SEQ_GAP,
	ARK_JOURNAL_TAIL_IN_PROGRESS, /* incomplete tail while a writer holds the lock */
};

struct ark_journal_problem {
	enum ark_journal_problem_kind kind;
	char segment[64];
	uint64_t offset;
	uint64_t seq;          /* the record's seq as written (may itself be damaged) */
	uint64_t expected_seq; /* for gaps: the seq that should have come */
	char detail[160];
};

struct ark_journal_verify_result {
	uint64_t segments;
	uint64_t records;
	uint64_t bytes;
	uint64_t first_seq, last_seq;
	uint64_t damaged;      /* bad headers, bad records, seqs not increasing */
	uint64_t gaps;
	uint64_t missing_seqs; /* total seqs missing in gaps */
	bool writer_active;
};

/* Check every segment header, every record's CRC and the seq order; call
 * on_problem (may be NULL) for each problem. After a damaged record the scan
 * resynchronises on the next record whose CRC is valid. Returns 0 when the
 * scan ran (look at result), negative when it could not. */
int ark_journal_verify(const char *journal_dir, struct ark_journal_verify_result *result,
		       void (*on_problem)(void *ctx, const struct ark_journal_problem *problem),
		       void *ctx, struct ark_err *err);

/* ------------------------------------------------------------------------ */
/* Mutable Core                                                              */
/* ------------------------------------------------------------------------ */

#define ARK_CORE_APPLICATION_ID 0x41524b31 /* "ARK1" in PRAGMA application_id */
#define ARK_CORE_SCHEMA_VERSION 3

struct ark_core;
struct sqlite3;

enum {
	ARK_CORE_READONLY = 1u << 0,      /* no writes, no migrations */
	ARK_CORE_NO_CHECKPOINTER = 1u << 1, /* leave checkpoints to SQLite (tests, tools) */
};

struct ark_core_open_info {
	int schema_version_found;  /* before migrations; 0 for a new database */
	int migrations_applied;
	char integrity[16];        /* "ok", "skipped" */
};

/* Every connection ARK makes to a Mutable Core file (or a backup) goes
 * through this: sqlite3_open_v2 with flags, then SQLITE_DBCONFIG_DEFENSIVE
 * on, trusted_schema off, triggers and extension loading off — whatever the
 * file holds, no code stored in it runs in ARK's process. */
int ark_store_sqlite_open(const char *path, int flags, struct sqlite3 **db, struct ark_err *err);

/* Open cfg->state_db (":memory:" works), create dirs 0700 and the file 0600,
 * set pragmas, check integrity (a failure is -EUCLEAN with SQLite's first
 * complaint), verify it is an ARK database, apply migrations. */
int ark_core_open(struct ark_core **core, const struct ark_store_config *cfg, unsigned flags,
		  struct ark_core_open_info *info, struct ark_err *err);
void ark_core_close(struct ark_core *core);
/* The connection, for queries this interface does not cover (read-only use). */
struct sqlite3 *ark_core_db(struct ark_core *core);
int ark_core_schema_version(struct ark_core *core);

/* Explicit transactions (BEGIN IMMEDIATE). Insert functions called inside one
 * join it; outside they wrap themselves in their own. */
int ark_core_begin(struct ark_core *core, struct ark_err *err);
int ark_core_commit(struct ark_core *core, struct ark_err *err);
void ark_core_rollback(struct ark_core *core);

enum ark_core_side { ARK_CORE_SIDE_BUY = 1, ARK_CORE_SIDE_SELL = -1 };

struct ark_core_order {
	uint64_t trace_id;       /* primary key (the client order id derives from it) */
	uint64_t seq;
	char symbol[16];
	int side;                /* ARK_CORE_SIDE_BUY / ARK_CORE_SIDE_SELL */
	double qty;
	double limit_price;      /* 0 for a market order */
	char status[16];         /* "new", "sent", "filled", "rejected", ... */
	uint64_t created_ns;     /* realtime */
};

struct ark_core_fill {
	uint64_t trace_id;       /* the order's */
	uint64_t seq;
	double qty;
	double price;
	char venue[16];
	uint64_t filled_ns;
};

struct ark_core_position {
	char symbol[16];
	double qty;
	double avg_price;
	double realized_pnl;
	uint64_t updated_ns;
};

struct ark_core_denial {
	uint64_t trace_id;       /* primary key */
	uint64_t seq;
	char symbol[16];
	char rule[32];           /* Graveyard rule id */
	uint32_t reason_code;
	char reason[96];
	uint64_t denied_ns;
};

/* Batch writers: one prepared statement each, n rows. */
int ark_core_insert_orders(struct ark_core *core, const struct ark_core_order *rows, size_t n,
			   struct ark_err *err);
int ark_core_insert_fills(struct ark_core *core, const struct ark_core_fill *rows, size_t n,
			  struct ark_err *err);
int ark_core_upsert_positions(struct ark_core *core, const struct ark_core_position *rows,
			      size_t n, struct ark_err *err);
int ark_core_insert_denials(struct ark_core *core, const struct ark_core_denial *rows, size_t n,
			    struct ark_err *err);

/* Agent history: event is one of "start", "restart", "quarantine",
 * "release", "stop", "crash". */
int ark_core_record_agent_event(struct ark_core *core, const char *agent, const char *event,
				int pid, const char *reason, uint64_t at_ns, struct ark_err *err);
int ark_core_record_slo_snapshot(struct ark_core *core, const char *slo, double target,
				 double value, uint64_t window_s, bool met, uint64_t taken_ns,
				 struct ark_err *err);
int ark_core_record_canary_run(struct ark_core *core, uint64_t started_ns, uint64_t finished_ns,
			       const char *outcome, uint64_t events, double p95_us,
			       const char *detail, struct ark_err *err);

/* Metadata (key/value). Keys used by ARK: "schema_version" (kept by
 * migrations), "graveyard_hash", "journal_last_applied_seq". */
int ark_core_meta_set(struct ark_core *core, const char *key, const char *value, struct ark_err *err);
/* -ENOENT when the key is absent. */
int ark_core_meta_get(struct ark_core *core, const char *key, char *value, size_t cap,
		      struct ark_err *err);
int ark_core_set_journal_applied_seq(struct ark_core *core, uint64_t seq, struct ark_err *err);
int ark_core_journal_applied_seq(struct ark_core *core, uint64_t *seq, struct ark_err *err);

/* The Graveyard rules hash the Mutable Core records ("graveyard_hash"):
 * -ENOENT when none is recorded yet. */
int ark_core_graveyard_hash(struct ark_core *core, char hex[72], struct ark_err *err);
/* Record a new approved rules hash, in one transaction: a graveyard_history
 * row (when, who, the previous hash, the new one, the file, a note) and the
 * metadata. The only way the recorded hash changes. */
int ark_core_graveyard_approve(struct ark_core *core, const char *new_hash, const char *approved_by,
			       const char *rules_path, const char *note, struct ark_err *err);

/* Row count of one of the Mutable Core's tables (by name, checked). */
int ark_core_count(struct ark_core *core, const char *table, uint64_t *count, struct ark_err *err);

struct ark_core_checkpoint_stats {
	uint64_t checkpoints;        /* run by the checkpointer */
	uint64_t starved;            /* times a reader kept it from completing */
	int wal_frames;              /* after the last commit */
	int last_log_frames;         /* from the last checkpoint */
	int last_checkpointed_frames;
	uint64_t wal_bytes;          /* size of the -wal file now */
};

/* The checkpointer: call periodically (Aletheia's idle loop). Runs a PASSIVE
 * checkpoint when the interval has passed or the WAL is over its bound, a
 * RESTART one (bounded by busy_timeout) when PASSIVE could not finish and the
 * WAL is over its bound, and returns -EAGAIN and logs (rate-limited) when a
 * reader still starves it. force runs it now. */
int ark_core_checkpoint(struct ark_core *core, bool force, struct ark_err *err);
void ark_core_get_checkpoint_stats(struct ark_core *core, struct ark_core_checkpoint_stats *stats);

/* ------------------------------------------------------------------------ */
/* Backups and restore                                                       */
/* ------------------------------------------------------------------------ */

struct ark_backup_result {
	char path[PATH_MAX];
	char sha256[65];           /* of the file, also in <path>.sha256 and the backups row */
	uint64_t bytes;
	uint64_t pages;
	uint64_t duration_ns;
	uint64_t steps;
	int schema_version;
	uint64_t journal_last_applied_seq;
	uint32_t pruned;           /* older backups deleted to keep the newest N */
	char pruned_paths[8][PATH_MAX]; /* the first few of them */
};

/* Online backup of cfg->state_db into cfg->backup_dir, verified
 * (integrity_check) before it gets its final name, its SHA-256 written to a
 * manifest beside it (<backup>.sha256, sha256sum's format) and recorded with
 * it in the backups table, then older backups beyond cfg->backup_keep (and
 * their manifests) are deleted. */
int ark_store_backup(const struct ark_store_config *cfg, struct ark_backup_result *result,
		     struct ark_err *err);

/* The backup file name for a UTC time: "ark_state_backup_2025-11-10T10:00:00Z.db",
 * with_ms adds ".123" before the Z. Parse the time back (-EINVAL when the
 * name is not a backup's). */
int ark_store_backup_name(uint64_t realtime_ns, bool with_ms, char *out, size_t cap);
int ark_store_backup_name_time(const char *name, uint64_t *realtime_ns);

enum ark_backup_check {
	ARK_BACKUP_OK,
	ARK_BACKUP_MISSING,
	ARK_BACKUP_TRUNCATED,
	ARK_BACKUP_CORRUPT,
	ARK_BACKUP_FOREIGN,     /* not SQLite, or SQLite but not an ARK database */
	ARK_BACKUP_TOO_NEW,     /* an ARK database of a newer schema than this build */
};
const char *ark_backup_check_name(enum ark_backup_check check);

/* Verify a file as a restorable ARK database: exists, complete, passes
 * integrity_check, ARK application id and schema. */
enum ark_backup_check ark_store_backup_check(const char *path, int *schema_version,
					     struct ark_err *err);

struct ark_restore_result {
	char restored_from[PATH_MAX];
	char sha256[65];                  /* of the bytes restored */
	bool verified;                    /* matched its manifest (and the record, where there was one) */
	bool recorded;                    /* ... and the Mutable Core's record of it */
	char database[PATH_MAX];
	char replaced_kept_as[PATH_MAX];  /* "" when there was no database */
	int schema_version;
	uint64_t bytes;
	/* The backup against the journal it would be paired with: */
	uint64_t backup_applied_seq;      /* its journal_last_applied_seq */
	char backup_journal_id[ARK_JOURNAL_ID_LEN + 1];   /* "" in a backup older than journal identities */
	char journal_id[ARK_JOURNAL_ID_LEN + 1];          /* "" when the journal has none yet */
	uint64_t journal_last_seq;        /* highest seq the journal records */
	uint64_t journal_base_seq;        /* journal/BASE */
	bool rebased;                     /* the database was re-based onto this journal */
	char rebase_note[256];            /* what the re-base means (also in its metadata) */
};

/* SHA-256, streaming (OpenSSL), as lower-case hex. */
struct evp_md_ctx_st;
struct ark_store_sha256 {
	struct evp_md_ctx_st *ctx;
};
int ark_store_sha256_init(struct ark_store_sha256 *h);
void ark_store_sha256_update(struct ark_store_sha256 *h, const void *data, size_t len);
void ark_store_sha256_final(struct ark_store_sha256 *h, char hex[65]);
int ark_store_file_sha256(const char *path, char hex[65], uint64_t *bytes, struct ark_err *err);
/* <backup>.sha256: "<hex>  <backup's name>\n", mode 0600, written atomically. */
int ark_store_backup_manifest_write(const char *backup, const char *hex, struct ark_err *err);

struct ark_backup_verify {
	bool has_manifest;
	bool recorded;                 /* the Mutable Core recorded this backup's hash */
	char sha256[65];               /* of the file as it is */
	char manifest_sha256[65];
	char recorded_sha256[65];
	uint64_t bytes;
};
/* Does the backup prove itself? Its bytes must hash as its manifest says
 * (-ENODATA without a manifest, -EBADMSG on a mismatch or a malformed
 * manifest) and, when the Mutable Core at cfg->state_db still records the
 * backup, as the record says (-EBADMSG). Every refusal names the file and
 * both hashes. Says nothing of the database inside: ark_store_backup_check. */
int ark_store_backup_verify(const struct ark_store_config *cfg, const char *path, struct ark_backup_verify *out,
			    struct ark_err *err);

enum {
	ARK_RESTORE_UNVERIFIED = 1u << 0,  /* a backup without a manifest (taken before ARK wrote them) may be
					    * restored; a manifest that disagrees is never accepted */
	ARK_RESTORE_REBASE = 1u << 1,      /* a backup applied beyond the journal, or taken from another
					    * journal (refused otherwise, -ESTALE), is paired with this journal
					    * (metadata journal_id, journal_rebase) and the journal's numbering
					    * continues after its applied seq (journal/BASE): no event is ever
					    * numbered into what the database already holds */
};

/* Restore path over cfg->state_db: refuses (-EBUSY) while the instance runs;
 * first of all verifies the backup's SHA-256 (ark_store_backup_verify:
 * -ENODATA without a manifest unless ARK_RESTORE_UNVERIFIED, -EBADMSG on a
 * mismatch), then refuses a file that fails ark_store_backup_check (-ENOENT
 * missing, -EBADMSG truncated or corrupt, -EPROTOTYPE foreign or too new:
 * any object in its schema ARK does not create is named), refuses (-ESTALE)
 * a backup that does not belong to the journal (see ARK_RESTORE_REBASE);
 * the bytes copied are hashed again and must be the ones verified. Keeps the
 * database it replaces as <db>.replaced-<UTC>, with its -wal. */
int ark_store_restore(const struct ark_store_config *cfg, const char *path, unsigned flags,
		      struct ark_restore_result *result, struct ark_err *err);

#endif /* ARK_STORE_H */
