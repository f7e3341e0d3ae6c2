/* tests/agents/agents_test.h — a real pipeline segment for the agents' unit
 * tests: created for an instance of the test's own, with the shipped
 * Graveyard rules; an agent context as ark_agent_run builds it (to call an
 * agent's start and process functions in this process); events put on an
 * agent's input ring; what an agent published read back. */
#ifndef ARK_TESTS_AGENTS_H
#define ARK_TESTS_AGENTS_H

#include "agents/agents_internal.h"
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct fixture {
	char dir[128];
	char instance[64];
	struct ark_pipeline_map map;
};

/* Segments this process created, removed at exit also when a CHECK fails. */
static char fixture_segments[8][ARK_SHM_NAME_MAX];
static pid_t fixture_owner;

static void fixture_remove_segments(void)
{
	if (getpid() != fixture_owner)
		return; /* a forked child exiting */
	for (size_t i = 0; i < sizeof fixture_segments / sizeof fixture_segments[0]; i++)
		if (fixture_segments[i][0]) {
			ark_shm_unlink(fixture_segments[i], NULL);
			fixture_segments[i][0] = '\0';
		}
}

static inline void fixture_create(struct fixture *f, const char *name, const char *rules)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/ark-test-agents-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	snprintf(f->instance, sizeof f->instance, "t%s%d", name, (int)getpid());
	char logs[256];
	snprintf(logs, sizeof logs, "%s/logs", f->dir);
	CHECK(mkdir(logs, 0700) == 0);
	setenv("ARK_DATA_DIR", f->dir, 1);
	setenv("ARK_LOG_DIR", logs, 1);
	setenv("ARK_INSTANCE", f->instance, 1);
	unsetenv("ARK_BROKER");
	unsetenv("ARK_PAPER_LATENCY_US");
	unsetenv("ARK_PAPER_REJECT_RATE");
	unsetenv("ARK_JOEY_BASE_QUANTITY");
	/* The rules installed as an instance installs them (read-only, named
	 * by ARK_GRAVEYARD_RULES in every agent's configuration). */
	char installed[256];
	snprintf(installed, sizeof installed, "%s/graveyard.rules", f->dir);
	FILE *in = fopen(rules, "r"), *out = fopen(installed, "w");
	CHECK_MSG(in && out, "copy %s to %s", rules, installed);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
		CHECK(fwrite(chunk, 1, got, out) == got);
	fclose(in);
	fclose(out);
	CHECK(chmod(installed, 0444) == 0);
	setenv("ARK_GRAVEYARD_RULES", installed, 1);
	struct ark_err err = {0};
	struct ark_pipeline_config cfg;
	CHECK_MSG(ark_pipeline_config_from_env(&cfg, &err) == 0, "%s", err.msg);
	snprintf(cfg.instance, sizeof cfg.instance, "%s", f->instance);
	cfg.ring_capacity = 1024;
	snprintf(cfg.rules_path, sizeof cfg.rules_path, "%s", installed);
	struct ark_graveyard_rules *r = malloc(sizeof *r);
	CHECK(r);
	CHECK_MSG(ark_graveyard_load(installed, r, &err) == 0, "%s: %s", installed, err.msg);
	snprintf(cfg.rules_hash, sizeof cfg.rules_hash, "%s", r->file_sha256_hex);
	free(r);
	CHECK_MSG(ark_pipeline_create(&f->map, &cfg, &err) == 0, "%s", err.msg);
	if (!fixture_owner) {
		fixture_owner = getpid();
		atexit(fixture_remove_segments);
	}
	for (size_t i = 0; i < sizeof fixture_segments / sizeof fixture_segments[0]; i++)
		if (!fixture_segments[i][0]) {
			snprintf(fixture_segments[i], sizeof fixture_segments[i], "%s", f->map.shm.name);
			break;
		}
}

static inline void fixture_destroy(struct fixture *f)
{
	char name[ARK_SHM_NAME_MAX];
	snprintf(name, sizeof name, "%s", f->map.shm.name);
	ark_pipeline_detach(&f->map);
	ark_shm_unlink(name, NULL);
	for (size_t i = 0; i < sizeof fixture_segments / sizeof fixture_segments[0]; i++)
		if (strcmp(fixture_segments[i], name) == 0)
			fixture_segments[i][0] = '\0';
	char cmd[300];
	snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", f->dir, f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", f->dir);
}

/* The context ark_agent_run gives a stage agent of the stable lane. */
static inline void fixture_ctx(struct fixture *f, enum ark_agent agent, struct ark_agent_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->agent = agent;
	ctx->lane = ARK_LANE_STABLE;
	ctx->map = f->map;
	ctx->pipeline = f->map.pipeline;
	ctx->control = ark_pipeline_lane_control(&f->map, ARK_LANE_STABLE, agent);
	ctx->counters = &f->map.pipeline->counters;
	ctx->state = ark_pipeline_lane_agent_state(&f->map, ARK_LANE_STABLE, agent);
	ctx->undo = ark_pipeline_lane_agent_undo(&f->map, ARK_LANE_STABLE, agent);
	struct ark_err err = {0};
	ctx->log = ark_log_open(ark_agent_file_name(agent), &err);
	CHECK_MSG(ctx->log, "%s", err.msg);
	CHECK(ctx->control && ctx->state && ctx->undo);
}

/* Put events on the ring `agent` consumes (the previous agent's output). */
static inline void fixture_feed(struct fixture *f, enum ark_agent agent, const struct ark_event *events, uint32_t n)
{
	struct ark_ring *ring = ark_pipeline_lane_ring(&f->map, ARK_LANE_STABLE, (enum ark_agent)(agent - 1));
	CHECK(ring);
	struct ark_err err = {0};
	struct ark_ring_wait_config wait = {.strategy = ARK_WAIT_BLOCK};
	struct ark_ring_producer p;
	CHECK_MSG(ark_ring_producer_open(&p, ring, &wait, &err) == 0, "%s", err.msg);
	uint32_t room;
	CHECK(ark_ring_reserve(&p, n, 1000000000ull, &room) == 0 && room >= n);
	for (uint32_t i = 0; i < n; i++)
		memcpy(ark_ring_slot(&p, i), &events[i], sizeof events[i]);
	ark_ring_commit(&p, n);
	ark_ring_producer_close(&p);
	ark_ring_flush();
}

/* The events on an agent's output ring from its first slot to its head. */
static inline uint32_t fixture_output(struct fixture *f, enum ark_agent agent, struct ark_event *out, uint32_t cap)
{
	struct ark_ring *ring = ark_pipeline_lane_ring(&f->map, ARK_LANE_STABLE, agent);
	uint64_t head = atomic_load(&ring->head);
	uint32_t n = 0;
	for (uint64_t i = ring->initial_index; i < head && n < cap; i++, n++)
		memcpy(&out[n], (const uint8_t *)ring + ring->slots_offset + (i & ring->mask) * ring->slot_size,
		       sizeof out[n]);
	return n;
}

/* A clean event from a source: Kyle's fields filled. */
static inline void make_event(struct ark_event *e, uint64_t seq, uint32_t symbol_id, const char *symbol, double price,
			      uint64_t exchange_time_ns)
{
	memset(e, 0, sizeof *e);
	e->seq = seq;
	e->trace_id = ark_trace_id(0, seq);
	e->exchange_time_ns = exchange_time_ns;
	e->price = price;
	e->size = 100;
	snprintf(e->symbol, sizeof e->symbol, "%s", symbol);
	e->symbol_id = symbol_id;
	e->source = ARK_SOURCE_SYNTHETIC;
}

#endif
