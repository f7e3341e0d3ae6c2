/* mirror/mirror.h — the Redis stream mirror: every event Aletheia journaled
 * becomes one entry of a Redis stream (`ark:events` by default), for other
 * systems to read.
 *
 * Guarantees: an entry's ID is `<seq>-<node>`, derived from the event, so
 * Redis itself refuses an entry mirrored before (a resend after a reconnect
 * never duplicates); the mirror reads Aletheia's mirror ring when it keeps up
 * and the journal when it does not, so the stream has no gap; Redis being
 * down or slow never slows the pipeline (Aletheia offers the mirror ring only
 * what fits), it only makes the mirror lag (`mirror_lag_events`). */
#ifndef ARK_MIRROR_H
#define ARK_MIRROR_H

#include "common/common.h"
#include "event/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed REDIS_URL: redis://[[user]:password@]host[:port][/db] or
 * unix://[[user]:password@]/path/to/socket[?db=N]. */
struct ark_redis_url {
	bool unix_socket;
	char host[256];          /* or the socket path */
	int port;                /* 6379 by default */
	char user[128];          /* "" when absent (Redis 6 ACL user) */
	char password[256];      /* "" when absent; never logged */
	int db;                  /* 0 by default */
};
/* A malformed URL is an error naming what is wrong (the password never
 * appears in the message). */
int ark_redis_url_parse(const char *url, struct ark_redis_url *out, struct ark_err *err);
/* The URL for logs: the password replaced by "***". */
void ark_redis_url_describe(const struct ark_redis_url *url, char *out, size_t len);

struct ark_mirror_config {
	bool enabled;                /* REDIS_URL is set */
	struct ark_redis_url url;
	char stream[128];            /* ARK_MIRROR_STREAM (ark:events) */
	bool per_topic;              /* ARK_MIRROR_PER_TOPIC: <stream>:fills, :denials, :signals */
	uint64_t maxlen;             /* ARK_MIRROR_MAXLEN, approximate trimming (0: none) */
	uint32_t batch;              /* ARK_MIRROR_BATCH: XADDs pipelined per round trip */
	uint32_t pool_size;          /* REDIS_POOL_SIZE: connections at most */
	uint64_t timeout_ms;         /* ARK_MIRROR_TIMEOUT_MS: a reply slower than this is a failure */
};
int ark_mirror_config_from_env(struct ark_mirror_config *config, struct ark_err *err);

/* The stream an event goes to (per_topic: by what happened to it). */
const char *ark_mirror_topic(const struct ark_mirror_config *config, const struct ark_event *event, char *buf,
			     size_t len);

/* One XADD's arguments for an event, in caller-provided storage (no
 * allocation): argv/argvlen get at most ARK_MIRROR_MAX_ARGS entries. */
#define ARK_MIRROR_MAX_ARGS 48
struct ark_mirror_entry {
	const char *argv[ARK_MIRROR_MAX_ARGS];
	size_t argvlen[ARK_MIRROR_MAX_ARGS];
	int argc;
	char text[1024];             /* the formatted values argv points into */
};
void ark_mirror_entry_format(const struct ark_mirror_config *config, const struct ark_event *event,
			     struct ark_mirror_entry *entry);

/* The entry as a RESP command (what goes on the wire); 0 when cap is short. */
size_t ark_mirror_entry_resp(const struct ark_mirror_entry *entry, char *out, size_t cap);

/* `ark mirror`: run the mirror of an instance until it stops (SIGTERM or the
 * pipeline's stop). Returns the exit status (2: configuration error). */
int ark_mirror_run(const char *instance);

/* `ark mirror --backfill`: mirror a journal into Redis from the stream's
 * last entry to the journal's end, without a running instance (a new Redis,
 * or one that lost its data), then return. */
struct ark_mirror_backfill_result {
	uint64_t first_seq, last_seq;
	uint64_t entries;             /* XADDs Redis took */
	uint64_t refused_duplicates;
	double seconds;
};
int ark_mirror_backfill(const char *journal_dir, struct ark_mirror_backfill_result *result, struct ark_err *err);

#endif /* ARK_MIRROR_H */
