/* pipeline/layout.c — the pipeline's regions in the shared segment: sizes,
 * creation (every ring initialised, every control block named) and attach.
 * Invariant: a pipeline whose magic is set has every region of its layout,
 * found by name; nothing in it is a pointer. */
#include "pipeline/pipeline.h"
#include "proc/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_RING_CAPACITY 1024u

static const char *const agent_ring_names[ARK_AGENT_COUNT] = {
	"ring.kyle", "ring.joey", "ring.hrm", "ring.kenny", "ring.aletheia"};
static const char *const agent_state_names[ARK_AGENT_COUNT] = {
	"state.kyle", "state.joey", "state.hrm", "state.kenny", "state.aletheia"};
static const char *const agent_undo_names[ARK_AGENT_COUNT] = {
	"undo.kyle", "undo.joey", "undo.hrm", "undo.kenny", "undo.aletheia"};

const char *ark_pipeline_default_instance(void)
{
	const char *v = getenv("ARK_INSTANCE");
	return v && *v ? v : "main";
}

int ark_pipeline_config_from_env(struct ark_pipeline_config *config, struct ark_err *err)
{
	memset(config, 0, sizeof *config);
	snprintf(config->instance, sizeof config->instance, "%s", ark_pipeline_default_instance());
	uint64_t node, capacity;
	int rc = ark_env_u64("ARK_NODE_ID", 0, 0, 65535, &node, err);
	if (!rc)
		rc = ark_env_u64("ARK_RING_CAPACITY", 4096, 2, 1u << 20, &capacity, err);
	if (rc)
		return rc;
	if (capacity & (capacity - 1))
		return ark_err_set(err, -EINVAL, "ARK_RING_CAPACITY: expected a power of two, got %llu",
				   (unsigned long long)capacity);
	config->node_id = (uint16_t)node;
	config->ring_capacity = (uint32_t)capacity;
	config->source_count = 1;
	config->source_kinds[0] = ARK_SOURCE_SYNTHETIC;
	return 0;
}

size_t ark_pipeline_state_size(enum ark_agent agent)
{
	switch (agent) {
	case ARK_AGENT_KYLE: return sizeof(struct ark_kyle_state);
	case ARK_AGENT_JOEY: return sizeof(struct ark_joey_state);
	case ARK_AGENT_HRM: return sizeof(struct ark_hrm_state);
	case ARK_AGENT_KENNY: return sizeof(struct ark_kenny_state);
	case ARK_AGENT_ALETHEIA: return sizeof(struct ark_aletheia_state);
	default: return 0;
	}
}

/* The sizes a pipeline's segment is cut from. */
struct layout_sizes {
	size_t tick_ring, event_ring, report_ring, metrics_bytes, total;
	struct ark_metrics_config metrics;
};

static int layout_sizes(const struct ark_pipeline_config *config, struct layout_sizes *z, struct ark_err *err)
{
	z->tick_ring = ark_ring_size(sizeof(struct ark_tick), config->ring_capacity);
	z->event_ring = ark_ring_size(sizeof(struct ark_event), config->ring_capacity);
	/* Reports are few (one or two per broker order): a small ring. */
	z->report_ring = ark_ring_size(sizeof(struct ark_event), REPORT_RING_CAPACITY);
	if (!z->tick_ring || !z->event_ring)
		return ark_err_set(err, -EINVAL, "ring capacity %u is not a power of two", config->ring_capacity);
	int rc = ark_metrics_config_from_env(&z->metrics, err);
	if (rc)
		return rc;
	/* The pipeline records a dozen latency histograms; their time slices
	 * are most of the region, so it holds no more than it needs. */
	z->metrics.max_histograms = 16;
	z->metrics_bytes = ark_metrics_region_size(&z->metrics);
	z->total = z->metrics_bytes + sizeof(struct ark_pipeline) + config->source_count * z->tick_ring +
		   ARK_AGENT_COUNT * (z->event_ring + sizeof(struct ark_undo)) + sizeof(struct ark_broker_state) +
		   sizeof(struct ark_order_book) + z->report_ring + (ARK_SHM_MAX_REGIONS + 4) * ARK_SHM_ALIGN + (1 << 20);
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		z->total += ark_pipeline_state_size((enum ark_agent)a);
	if (config->canary) {
		/* Kyle's share for the lane, and the lane's Joey, HRM and Kenny. */
		z->total += 4 * z->event_ring + 3 * sizeof(struct ark_undo) + sizeof(struct ark_broker_state) +
			    (8 + 4) * ARK_SHM_ALIGN;
		for (int a = ARK_AGENT_JOEY; a <= ARK_AGENT_KENNY; a++)
			z->total += ark_pipeline_state_size((enum ark_agent)a);
	}
	return 0;
}

/* A region holding an empty ring of `slot`-byte slots. */
static int alloc_ring(struct ark_shm *shm, const char *region, size_t bytes, uint32_t slot, uint32_t capacity,
		      struct ark_err *err)
{
	uint64_t off;
	int rc = ark_shm_alloc(shm, region, bytes, &off, err);
	if (!rc)
		rc = ark_ring_init(ark_shm_at(shm, off), bytes, slot, capacity, 0, err);
	return rc;
}

/* Every region of the layout, in its order (attach finds them by name). */
static int alloc_regions(struct ark_pipeline_map *map, const struct ark_pipeline_config *config,
			 struct layout_sizes *z, struct ark_err *err)
{
	struct ark_shm *shm = &map->shm;
	const uint32_t cap = config->ring_capacity;
	uint64_t off;
	int rc = 0;
	for (int s = 0; s < config->source_count && !rc; s++) {
		char region[32];
		snprintf(region, sizeof region, "ring.source.%d", s);
		rc = alloc_ring(shm, region, z->tick_ring, sizeof(struct ark_tick), cap, err);
	}
	for (int a = 0; a < ARK_AGENT_COUNT && !rc; a++) {
		rc = alloc_ring(shm, agent_ring_names[a], z->event_ring, sizeof(struct ark_event), cap, err);
		if (!rc)
			rc = ark_shm_alloc(shm, agent_state_names[a], ark_pipeline_state_size((enum ark_agent)a), &off, err);
		if (!rc)
			rc = ark_shm_alloc(shm, agent_undo_names[a], sizeof(struct ark_undo), &off, err);
	}
	if (!rc)
		rc = ark_shm_alloc(shm, "state.broker", sizeof(struct ark_broker_state), &off, err);
	if (!rc)
		rc = ark_shm_alloc(shm, "state.orders", sizeof(struct ark_order_book), &off, err);
	if (!rc)
		rc = alloc_ring(shm, "ring.reports", z->report_ring, sizeof(struct ark_event), REPORT_RING_CAPACITY, err);
	for (int a = ARK_AGENT_KYLE; config->canary && a <= ARK_AGENT_KENNY && !rc; a++) {
		char region[48];
		snprintf(region, sizeof region, "%s.canary", agent_ring_names[a]);
		rc = alloc_ring(shm, region, z->event_ring, sizeof(struct ark_event), cap, err);
		if (rc || a == ARK_AGENT_KYLE)
			continue;
		snprintf(region, sizeof region, "%s.canary", agent_state_names[a]);
		rc = ark_shm_alloc(shm, region, ark_pipeline_state_size((enum ark_agent)a), &off, err);
		snprintf(region, sizeof region, "%s.canary", agent_undo_names[a]);
		if (!rc)
			rc = ark_shm_alloc(shm, region, sizeof(struct ark_undo), &off, err);
	}
	if (config->canary && !rc)
		rc = ark_shm_alloc(shm, "state.broker.canary", sizeof(struct ark_broker_state), &off, err);
	if (!rc)
		rc = ark_shm_alloc(shm, "metrics", z->metrics_bytes, &off, err);
	if (!rc) {
		struct ark_metrics reg;
		rc = ark_metrics_init(&reg, ark_shm_at(shm, off), z->metrics_bytes, &z->metrics, err);
	}
	return rc;
}

/* The control block's contents and the histograms' empty state; the magic
 * is published last by the caller. */
static void fill_pipeline(struct ark_pipeline_map *map, struct ark_pipeline *p, const struct ark_pipeline_config *config)
{
	p->version = ARK_PIPELINE_VERSION;
	p->node_id = config->node_id;
	p->source_count = config->source_count;
	p->ring_capacity = config->ring_capacity;
	memcpy(p->source_kinds, config->source_kinds, sizeof p->source_kinds);
	p->created_ns = ark_realtime_ns();
	p->base_seq = config->base_seq;
	snprintf(p->instance, sizeof p->instance, "%s", config->instance);
	snprintf(p->rules_path, sizeof p->rules_path, "%s", config->rules_path);
	snprintf(p->rules_hash, sizeof p->rules_hash, "%s", config->rules_hash);
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		snprintf(p->agents[a].name, sizeof p->agents[a].name, "%s", ark_agent_file_name((enum ark_agent)a));
		atomic_store(&p->agents[a].cpu, -1);
	}
	for (int s = 0; s < config->source_count; s++) {
		snprintf(p->sources[s].name, sizeof p->sources[s].name, "source%d", s);
		atomic_store(&p->sources[s].cpu, -1);
	}
	for (int a = 0; config->canary && a < ARK_AGENT_COUNT; a++) {
		snprintf(p->canary_agents[a].name, sizeof p->canary_agents[a].name, "%s.canary",
			 ark_agent_file_name((enum ark_agent)a));
		atomic_store(&p->canary_agents[a].cpu, -1);
	}
	atomic_store(&p->canary.configured, config->canary ? 1u : 0u);
	struct ark_latency_record *lat = ark_pipeline_latency(map);
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		ark_hist_reset(&lat->agent[a]);
	ark_hist_reset(&lat->end_to_end);
	struct ark_aletheia_state *al = ark_pipeline_agent_state(map, ARK_AGENT_ALETHEIA);
	for (int l = 0; l < ARK_LANE_COUNT; l++)
		ark_hist_reset(&al->lane_latency[l]);
}

int ark_pipeline_create(struct ark_pipeline_map *map, const struct ark_pipeline_config *config,
			struct ark_err *err)
{
	memset(map, 0, sizeof *map);
	char name[ARK_SHM_NAME_MAX];
	int rc = ark_shm_name_for_instance(config->instance, name, sizeof name, err);
	if (rc)
		return rc;
	if (config->source_count == 0 || config->source_count > ARK_MAX_SOURCES)
		return ark_err_set(err, -EINVAL, "a pipeline has 1 to %d sources, not %u", ARK_MAX_SOURCES,
				   config->source_count);
	struct layout_sizes z;
	if ((rc = layout_sizes(config, &z, err)))
		return rc;
	rc = ark_shm_create(&map->shm, name, z.total, ARK_SHM_REPLACE_STALE, err);
	if (rc)
		return rc;
	uint64_t off;
	rc = ark_shm_alloc(&map->shm, "pipeline", sizeof(struct ark_pipeline), &off, err);
	if (rc)
		goto fail;
	struct ark_pipeline *p = ark_shm_at(&map->shm, off);
	if ((rc = alloc_regions(map, config, &z, err)))
		goto fail;
	fill_pipeline(map, p, config);
	map->pipeline = p;
	__atomic_store_n(&p->magic, ARK_PIPELINE_MAGIC, __ATOMIC_RELEASE);
	return 0;
fail:
	ark_shm_detach(&map->shm);
	ark_shm_unlink(name, NULL);
	return rc;
}

int ark_pipeline_attach(struct ark_pipeline_map *map, const char *instance, struct ark_err *err)
{
	memset(map, 0, sizeof *map);
	char name[ARK_SHM_NAME_MAX];
	int rc = ark_shm_name_for_instance(instance, name, sizeof name, err);
	if (!rc)
		rc = ark_shm_attach(&map->shm, name, 0, err);
	if (rc)
		return rc;
	uint64_t off, size;
	if (ark_shm_find(&map->shm, "pipeline", &off, &size) != 0 || size != sizeof(struct ark_pipeline)) {
		ark_shm_detach(&map->shm);
		return ark_err_set(err, -EPROTO, "%s holds no ARK pipeline of this version (region 'pipeline' missing or %llu bytes, expected %zu)",
				   map->shm.path, (unsigned long long)size, sizeof(struct ark_pipeline));
	}
	map->pipeline = ark_shm_at(&map->shm, off);
	if (__atomic_load_n(&map->pipeline->magic, __ATOMIC_ACQUIRE) != ARK_PIPELINE_MAGIC ||
	    map->pipeline->version != ARK_PIPELINE_VERSION) {
		ark_shm_detach(&map->shm);
		return ark_err_set(err, -EPROTO, "%s: pipeline header has the wrong magic or version (expected version %u)",
				   map->shm.path, ARK_PIPELINE_VERSION);
	}
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		uint64_t rsize;
		if (!ark_pipeline_region(map, agent_state_names[a], &rsize) ||
		    rsize != ark_pipeline_state_size((enum ark_agent)a)) {
			ark_shm_detach(&map->shm);
			return ark_err_set(err, -EPROTO, "%s: region %s is missing or has the wrong size",
					   map->shm.path, agent_state_names[a]);
		}
	}
	return 0;
}

void ark_pipeline_detach(struct ark_pipeline_map *map)
{
	ark_shm_detach(&map->shm);
	map->pipeline = NULL;
}

void *ark_pipeline_region(const struct ark_pipeline_map *map, const char *name, uint64_t *size)
{
	uint64_t off, sz;
	if (ark_shm_find(&map->shm, name, &off, &sz) != 0)
		return NULL;
	if (size)
		*size = sz;
	return ark_shm_at(&map->shm, off);
}

struct ark_ring *ark_pipeline_output_ring(const struct ark_pipeline_map *map, enum ark_agent agent)
{
	return (unsigned)agent < ARK_AGENT_COUNT ? ark_pipeline_region(map, agent_ring_names[agent], NULL) : NULL;
}

struct ark_ring *ark_pipeline_source_ring(const struct ark_pipeline_map *map, int source)
{
	char region[32];
	snprintf(region, sizeof region, "ring.source.%d", source);
	return ark_pipeline_region(map, region, NULL);
}

void *ark_pipeline_agent_state(const struct ark_pipeline_map *map, enum ark_agent agent)
{
	return ark_pipeline_region(map, agent_state_names[agent], NULL);
}

bool ark_pipeline_has_canary(const struct ark_pipeline_map *map)
{
	return map->pipeline && atomic_load(&map->pipeline->canary.configured) != 0;
}

void *ark_pipeline_lane_region(const struct ark_pipeline_map *map, enum ark_lane lane, const char *name, uint64_t *size)
{
	if (lane == ARK_LANE_STABLE)
		return ark_pipeline_region(map, name, size);
	char region[64];
	snprintf(region, sizeof region, "%s.canary", name);
	return ark_pipeline_region(map, region, size);
}

struct ark_ring *ark_pipeline_lane_ring(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent)
{
	if ((unsigned)agent >= ARK_AGENT_COUNT || (lane != ARK_LANE_STABLE && agent == ARK_AGENT_ALETHEIA))
		return NULL;
	return ark_pipeline_lane_region(map, lane, agent_ring_names[agent], NULL);
}

struct ark_agent_control *ark_pipeline_lane_control(const struct ark_pipeline_map *map, enum ark_lane lane,
						    enum ark_agent agent)
{
	return lane == ARK_LANE_CANARY ? &map->pipeline->canary_agents[agent] : &map->pipeline->agents[agent];
}

void *ark_pipeline_lane_agent_state(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent)
{
	return ark_pipeline_lane_region(map, lane, agent_state_names[agent], NULL);
}

struct ark_undo *ark_pipeline_lane_agent_undo(const struct ark_pipeline_map *map, enum ark_lane lane, enum ark_agent agent)
{
	return ark_pipeline_lane_region(map, lane, agent_undo_names[agent], NULL);
}

void ark_pipeline_lane_stats(const struct ark_pipeline_map *map, enum ark_lane lane, struct ark_lane_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	const struct ark_aletheia_state *s = ark_pipeline_agent_state(map, ARK_AGENT_ALETHEIA);
	if (!s || (unsigned)lane >= ARK_LANE_COUNT) {
		ark_hist_reset(&stats->latency);
		return;
	}
	/* Aletheia writes these as it goes; a reader's copy may be a batch
	 * behind, never torn beyond a count or two (64-bit stores). */
	stats->events = __atomic_load_n(&s->lane_events[lane], __ATOMIC_RELAXED);
	stats->intents = __atomic_load_n(&s->lane_intents[lane], __ATOMIC_RELAXED);
	stats->denials = __atomic_load_n(&s->lane_denials[lane], __ATOMIC_RELAXED);
	memcpy(&stats->latency, &s->lane_latency[lane], sizeof stats->latency);
}

const char *ark_pipeline_canary_outcome_name(enum ark_canary_outcome outcome)
{
	switch (outcome) {
	case ARK_CANARY_RUNNING: return "running";
	case ARK_CANARY_ROLLING_BACK: return "rolling_back";
	case ARK_CANARY_ROLLED_BACK: return "rolled_back";
	case ARK_CANARY_FINISHING: return "finishing";
	case ARK_CANARY_PASSED: return "passed";
	case ARK_CANARY_STOPPED: return "stopped";
	default: return "none";
	}
}

struct ark_latency_record *ark_pipeline_latency(const struct ark_pipeline_map *map)
{
	struct ark_aletheia_state *s = ark_pipeline_agent_state(map, ARK_AGENT_ALETHEIA);
	return s ? &s->latency : NULL;
}

const struct ark_hist *ark_pipeline_hrm_eval(const struct ark_pipeline_map *map)
{
	struct ark_hrm_state *s = ark_pipeline_agent_state(map, ARK_AGENT_HRM);
	return s ? &s->eval_ns : NULL;
}

void ark_pipeline_span(const struct ark_pipeline_map *map, uint64_t *first_in_ns, uint64_t *last_out_ns)
{
	struct ark_aletheia_state *s = ark_pipeline_agent_state(map, ARK_AGENT_ALETHEIA);
	*first_in_ns = s ? s->first_in_ns : 0;
	*last_out_ns = s ? s->last_out_ns : 0;
}

int ark_pipeline_metrics(const struct ark_pipeline_map *map, struct ark_metrics *reg, struct ark_err *err)
{
	uint64_t size;
	void *memory = ark_pipeline_region(map, "metrics", &size);
	if (!memory)
		return ark_err_set(err, -ENOENT, "%s has no metrics region", map->shm.path);
	return ark_metrics_attach(reg, memory, size, err);
}

void ark_pipeline_broker_counts(const struct ark_pipeline_map *map, struct ark_broker_counts *c)
{
	memset(c, 0, sizeof *c);
	struct ark_order_book *book = ark_pipeline_region(map, "state.orders", NULL);
	if (!book)
		return;
	c->submitted = atomic_load(&book->submitted);
	c->posts = atomic_load(&book->posts);
	c->lookups = atomic_load(&book->lookups);
	c->reports = atomic_load(&book->reports);
	c->refused_locally = atomic_load(&book->refused_locally);
	for (int i = 0; i < ARK_BROKER_ANSWER_KINDS; i++)
		c->answers[i] = atomic_load(&book->answers[i]);
	uint64_t version;
	c->buying_power = ark_order_book_buying_power(book, &version);
	c->account_known = version != 0;
	c->execution_stopped = atomic_load(&book->execution_stopped) != 0;
	for (int i = 0; i < ARK_BROKER_ANOMALY_KINDS; i++)
		c->anomalies[i] = atomic_load(&book->anomalies[i]);
	c->stop_kind = atomic_load(&book->stop_kind);
	if (c->execution_stopped && c->stop_kind) {
		/* Written before stop_kind; text from a broker made printable. */
		size_t n = ark_text_copy(c->stop_reason, sizeof c->stop_reason, book->stop_reason, sizeof book->stop_reason);
		ark_utf8_sanitize(c->stop_reason, n);
	}
}

uint32_t ark_pipeline_broker_resume(const struct ark_pipeline_map *map)
{
	struct ark_order_book *book = ark_pipeline_region(map, "state.orders", NULL);
	if (!book)
		return ARK_BROKER_STOP_NONE;
	uint32_t kind = atomic_exchange(&book->stop_kind, ARK_BROKER_STOP_NONE);
	atomic_store(&book->execution_stopped, 0);
	return kind;
}

void ark_pipeline_venue_counts(const struct ark_pipeline_map *map, uint64_t *orders, uint64_t *resends)
{
	const struct ark_broker_state *venue = ark_pipeline_region(map, "state.broker", NULL);
	*orders = venue ? venue->orders : 0;
	*resends = venue ? venue->duplicates : 0;
}

int ark_pipeline_attach_wait(struct ark_pipeline_map *map, const char *instance, double wait_s, struct ark_err *err)
{
	uint64_t deadline = ark_now_ns() + (uint64_t)(wait_s * 1e9);
	for (;;) {
		/* Not there yet, or its creator is still laying it out (the
		 * watchdog starting beside this unit): look again. */
		int rc = ark_pipeline_attach(map, instance, err);
		if (rc == 0 || ark_now_ns() >= deadline || ark_process_stop_signalled())
			return rc;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

