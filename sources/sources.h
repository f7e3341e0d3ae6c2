/* sources/sources.h — the source processes that put ticks on a source ring
 * of the pipeline (Kyle reads each ring): the synthetic generator (or its
 * hand-off to the ingest API), the TCP line feed, the Alpha Vantage poller.
 * Each runs until the pipeline stops or SIGTERM, then drains. */
#ifndef ARK_SOURCES_H
#define ARK_SOURCES_H

#include "pipeline/pipeline.h"
#include "proc/proc.h"

/* The source_seq of the last tick on a source ring, 0 when it carried none:
 * a restarted source continues its numbering after it. */
uint64_t ark_source_ring_last_seq(struct ark_ring *ring);

/* A source process's opening: its log $ARK_LOG_DIR/source<N>.log, then
 * ark_process_signals(on_term). NULL when the log cannot open, said on stderr
 * as "<who>: <why>" (who: "ark source tcp", ...). */
struct ark_log *ark_source_open_log(int source, const char *who, void (*on_term)(int));

/* Run the synthetic source as source number `source`. argv holds the
 * generator's options (--rate, --duration, --seed, --violations, --symbols). */
int ark_source_synthetic_run(const char *instance, int source, int argc, char **argv);

/* Run the TCP line feed (feed/) as source number `source`: ticks from
 * ARK_FEED_BIND:ARK_FEED_PORT (or `port` when >= 0) onto its inbound ring.
 * Runs until the pipeline stops or SIGTERM, then drains. */
int ark_source_tcp_run(const char *instance, int source, int port);
/* Alpha Vantage GLOBAL_QUOTE polling (ALPHA_VANTAGE_*) as source number `source`. */
int ark_source_alpha_vantage_run(const char *instance, int source);

#endif /* ARK_SOURCES_H */
