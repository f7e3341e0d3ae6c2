/* metrics/metrics.c — the registry region: layout, registration, lookup,
 * time-slice snapshots (the ticker) and windowed reads, the ARK metric table,
 * the seed's convenience verbs and /proc process metrics.
 *
 * Invariants: the region holds offsets only; a series' value, histogram and
 * snapshots are each written by one process (the series' writer for live
 * values, the ticker for snapshots), always with relaxed atomic stores, so a
 * reader in any process sees torn-free words; the series table only grows,
 * an entry is complete before its index slot is published (release), and the
 * series count is bumped after that. A snapshot slot's stamp is invalid while
 * the ticker rewrites it, so readers retry or skip a slot being rewritten. */
#include "metrics/metrics.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/metrics_internal.h"

const double ARK_METRICS_LE_MS[ARK_METRICS_LE_COUNT] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
};

const uint64_t ARK_METRICS_BURN_WINDOW_S[ARK_METRICS_BURN_WINDOWS] = {300, 1800, 3600, 21600};

/* ------------------------------------------------------------- the table -- */
const struct ark_metrics_def ark_metrics_table[] = {
	{ARK_M_PASS_LATENCY, ARK_METRICS_HISTOGRAM, "", "End-to-end latency of one event through the five agents (Kyle in to Aletheia out), in milliseconds."},
	{ARK_M_KYLE_PROCESS, ARK_METRICS_HISTOGRAM, "", "Time Kyle (ingest) held an event, in milliseconds."},
	{ARK_M_JOEY_PROCESS, ARK_METRICS_HISTOGRAM, "", "Time Joey (analyse) held an event, in milliseconds."},
	{ARK_M_HRM_PROCESS, ARK_METRICS_HISTOGRAM, "", "Time HRM (ethics and risk gate) held an event, in milliseconds."},
	{ARK_M_KENNY_PROCESS, ARK_METRICS_HISTOGRAM, "", "Time Kenny (execute) held an event, in milliseconds."},
	{ARK_M_ALETHEIA_PROCESS, ARK_METRICS_HISTOGRAM, "", "Time Aletheia (record) held an event, in milliseconds."},
	{ARK_M_HRM_EVAL, ARK_METRICS_HISTOGRAM, "", "Time HRM spent evaluating the Graveyard rules for one event, in milliseconds."},
	{ARK_M_WATCHDOG_QUARANTINES, ARK_METRICS_COUNTER, "agent", "Times the watchdog quarantined an agent (over WATCHDOG_MAX_LATENCY_MS or WATCHDOG_MAX_FAILURE_RATE)."},
	{ARK_M_AVAILABILITY, ARK_METRICS_GAUGE, "", "Availability over the SLO window: good events over all events (see /slos)."},
	{ARK_M_OPERATIONS, ARK_METRICS_COUNTER, "status", "Intents by outcome: allowed or denied by HRM; orders filled by the broker."},
	{ARK_M_QUEUE_DEPTH, ARK_METRICS_GAUGE, "ring", "Events waiting in a ring."},
	{ARK_M_EVENTS, ARK_METRICS_COUNTER, "agent", "Events an agent passed on."},
	{ARK_M_ERRORS, ARK_METRICS_COUNTER, "agent", "Events an agent failed to process."},
	{ARK_M_DENIALS, ARK_METRICS_COUNTER, "rule", "Intents HRM denied, by Graveyard rule."},
	{ARK_M_TRACE_BREAKS, ARK_METRICS_COUNTER, "", "Events Aletheia received with an incomplete trace."},
	{ARK_M_ETHICS_DRIFT, ARK_METRICS_COUNTER, "", "Events HRM denied because the Graveyard rules drifted from their recorded hash (ethics drift)."},
	{ARK_M_JOURNAL_WRITE_LATENCY, ARK_METRICS_HISTOGRAM, "", "Time from Aletheia appending an event to the journal until the kernel has it, in milliseconds."},
	{ARK_M_JOURNAL_LAG, ARK_METRICS_GAUGE, "", "Events Aletheia appended to the journal and the kernel does not have yet."},
	{ARK_M_DB_WRITE_LATENCY, ARK_METRICS_HISTOGRAM, "", "Time to commit one Mutable Core transaction, in milliseconds."},
	{ARK_M_DB_LAG, ARK_METRICS_GAUGE, "", "Journaled events not yet in the Mutable Core."},
	{ARK_M_PROCESS_CPU, ARK_METRICS_COUNTER, "agent", "Total user and system CPU time spent, in seconds."},
	{ARK_M_PROCESS_RSS, ARK_METRICS_GAUGE, "agent", "Resident memory size, in bytes."},
	{ARK_M_PROCESS_FDS, ARK_METRICS_GAUGE, "agent", "Number of open file descriptors."},
	{ARK_M_PROCESS_START, ARK_METRICS_GAUGE, "agent", "Start time of the process since the Unix epoch, in seconds."},
	{ARK_M_SLO_OBJECTIVE, ARK_METRICS_GAUGE, "slo", "Attainment of an SLO over its window: good over total."},
	{ARK_M_SLO_BUDGET, ARK_METRICS_GAUGE, "slo", "Share of an SLO's error budget left over its window."},
	{ARK_M_SLO_BURN, ARK_METRICS_GAUGE, "slo,window", "Rate at which an SLO's error budget burns over a window (1 = exactly on budget)."},
	{ARK_M_BROKER_ANSWERS, ARK_METRICS_COUNTER, "answer", "Answers from a network broker (Alpaca) to Kenny's requests, by kind: order, forbidden, rate_limited, server_error, network, ..."},
	{ARK_M_BROKER_ORDERS, ARK_METRICS_COUNTER, "stage", "Kenny's broker orders: submitted to the broker thread, posted, looked up, reported, refused locally."},
	{ARK_M_BROKER_BUYING_POWER, ARK_METRICS_GAUGE, "", "The broker account's buying power at its last reading (0 with the paper broker)."},
	{ARK_M_BROKER_EXECUTION_STOPPED, ARK_METRICS_GAUGE, "", "1 when execution is stopped: the broker refused the keys, the account cannot trade, or an answer failed its checks (an anomaly: until ark broker resume)."},
	{ARK_M_BROKER_ANOMALIES, ARK_METRICS_COUNTER, "kind", "Broker answers that failed their checks against the order they answer (not applied; execution stopped), by kind: client_order_id, order_id, symbol, side, quantity, overfill, fill_decreased, price, status."},
	{ARK_M_TRADING_STATE, ARK_METRICS_GAUGE, "state", "1 for HRM's trading state now: ACTIVE, REDUCING or HALTED."},
	{ARK_M_TRADING_HALT, ARK_METRICS_GAUGE, "cause", "1 for why HRM halts trading now: none, rules, daily_loss (until the next trading day) or state_corrupt (a non-finite value in HRM's state: until an operator runs ark release hrm)."},
	{ARK_M_TICKS_REFUSED, ARK_METRICS_COUNTER, "reason", "Ticks Kyle refused because they were beyond the tick bounds (an edge should have refused them), by reason."},
	{ARK_M_CANARY_STATE, ARK_METRICS_GAUGE, "state", "1 for the canary's current state (none, running, rolling_back, rolled_back, finishing, passed)."},
	{ARK_M_CANARY_PERCENT, ARK_METRICS_GAUGE, "", "Share of signals Kyle sends to the canary lane now, percent (0 when not routing)."},
	{ARK_M_CANARY_ROUTED, ARK_METRICS_COUNTER, "", "Events Kyle sent to the canary lane."},
	{ARK_M_CANARY_ROLLBACKS, ARK_METRICS_COUNTER, "", "Canaries rolled back by a tripwire."},
	{ARK_M_CANARY_LANE_EVENTS, ARK_METRICS_COUNTER, "lane", "Events journaled, by the lane (stable, canary) they took."},
	{ARK_M_CANARY_LANE_DENIALS, ARK_METRICS_COUNTER, "lane", "HRM denials, by lane."},
	{ARK_M_CANARY_LANE_INJECTED, ARK_METRICS_COUNTER, "lane,outcome", "Injected violations by lane and what HRM did: denied (with their own reason), wrong_reason, allowed, inconclusive (allowed after the lane denied a setup step)."},
};
const size_t ark_metrics_table_len = ARK_ARRAY_LEN(ark_metrics_table);

const struct ark_metrics_def *ark_metrics_def_find(const char *name)
{
	for (size_t i = 0; i < ark_metrics_table_len; i++)
		if (strcmp(ark_metrics_table[i].name, name) == 0)
			return &ark_metrics_table[i];
	return NULL;
}

/* ---------------------------------------------------------------- config -- */
void ark_metrics_config_default(struct ark_metrics_config *cfg)
{
	cfg->max_series = 10240;
	cfg->max_families = 512;
	cfg->max_histograms = 32;
	cfg->max_windowed_counters = 1024;
	cfg->retention_seconds = 3600;
	cfg->slice_seconds = 10;
}

int ark_metrics_config_from_env(struct ark_metrics_config *cfg, struct ark_err *err)
{
	ark_metrics_config_default(cfg);
	int rc = ark_env_u64("METRICS_RETENTION_SECONDS", 3600, 60, 604800, &cfg->retention_seconds, err);
	if (rc)
		return rc;
	rc = ark_env_u64("METRICS_SLICE_SECONDS", 10, 1, 3600, &cfg->slice_seconds, err);
	if (rc)
		return rc;
	if (cfg->slice_seconds > cfg->retention_seconds)
		return ark_err_set(err, -EINVAL, "METRICS_SLICE_SECONDS: %" PRIu64 " is longer than METRICS_RETENTION_SECONDS (%" PRIu64 ")",
				   cfg->slice_seconds, cfg->retention_seconds);
	return 0;
}

static bool config_ok(const struct ark_metrics_config *c)
{
	return c->max_series >= 1 && c->max_series <= (1u << 24) && c->max_families >= 1 &&
	       c->max_families <= c->max_series && c->max_histograms <= c->max_series &&
	       c->max_windowed_counters <= c->max_series && c->slice_seconds >= 1 &&
	       c->retention_seconds >= c->slice_seconds && c->retention_seconds <= 604800;
}

static size_t align128(size_t v)
{
	return (v + 127) & ~(size_t)127;
}

static uint32_t index_size_for(uint32_t max_series)
{
	uint32_t n = 16;
	while (n < 2 * max_series)
		n <<= 1;
	return n;
}

/* Computes the layout into hdr (when not NULL) and returns the total size. */
static size_t layout(const struct ark_metrics_config *c, struct ark_metrics_hdr *h)
{
	uint64_t nslots = (c->retention_seconds + c->slice_seconds - 1) / c->slice_seconds + 1;
	uint32_t isize = index_size_for(c->max_series);
	size_t off = align128(sizeof(struct ark_metrics_hdr));
	size_t families = off;
	off = align128(off + (size_t)c->max_families * sizeof(struct ark_metrics_family));
	size_t series = off;
	off = align128(off + (size_t)c->max_series * sizeof(struct ark_metrics_series));
	size_t index = off;
	off = align128(off + (size_t)isize * sizeof(uint32_t));
	size_t values = off;
	off = align128(off + (size_t)c->max_series * ARK_METRICS_VALUE_STRIDE);
	size_t hist = off;
	off = align128(off + (size_t)c->max_histograms * sizeof(struct ark_metrics_live_hist));
	size_t stamps = off;
	off = align128(off + nslots * sizeof(uint64_t));
	size_t csnap = off;
	off = align128(off + nslots * c->max_windowed_counters * sizeof(uint64_t));
	size_t hsnap_cs = off;
	off = align128(off + nslots * c->max_histograms * 2 * sizeof(uint64_t));
	size_t hsnap = off;
	off = align128(off + nslots * c->max_histograms * (size_t)ARK_METRICS_HIST_BUCKETS * sizeof(uint32_t));
	if (h) {
		h->cfg = *c;
		h->nslots = nslots;
		h->index_size = isize;
		h->families_off = families;
		h->series_off = series;
		h->index_off = index;
		h->values_off = values;
		h->hist_off = hist;
		h->stamps_off = stamps;
		h->csnap_off = csnap;
		h->hsnap_cs_off = hsnap_cs;
		h->hsnap_off = hsnap;
		h->total_size = off;
	}
	return off;
}

size_t ark_metrics_region_size(const struct ark_metrics_config *cfg)
{
	if (!cfg || !config_ok(cfg))
		return 0;
	return layout(cfg, NULL);
}

int ark_metrics_init(struct ark_metrics *reg, void *memory, size_t size,
		     const struct ark_metrics_config *cfg, struct ark_err *err)
{
	if (!cfg || !config_ok(cfg))
		return ark_err_set(err, -EINVAL, "metrics: invalid registry configuration");
	size_t need = layout(cfg, NULL);
	if (size < need)
		return ark_err_set(err, -EINVAL, "metrics: region of %zu bytes, need %zu", size, need);
	if (((uintptr_t)memory & 63) != 0)
		return ark_err_set(err, -EINVAL, "metrics: region not 64-byte aligned");
	memset(memory, 0, need);
	struct ark_metrics_hdr *h = memory;
	layout(cfg, h);
	h->layout_version = ARK_METRICS_LAYOUT_VERSION;
	h->created_realtime_ns = ark_realtime_ns();
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&h->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc)
		return ark_err_set(err, -rc, "metrics: mutex: %s", strerror(rc));
	_Atomic uint64_t *stamps = (_Atomic uint64_t *)((char *)memory + h->stamps_off);
	for (uint64_t i = 0; i < h->nslots; i++)
		atomic_store_explicit(&stamps[i], ARK_METRICS_NO_STAMP, memory_order_relaxed);
	atomic_store_explicit(&h->magic, ARK_METRICS_MAGIC, memory_order_release);
	reg->hdr = h;
	reg->base = memory;
	reg->size = size;
	return 0;
}

int ark_metrics_attach(struct ark_metrics *reg, void *memory, size_t size, struct ark_err *err)
{
	if (size < sizeof(struct ark_metrics_hdr))
		return ark_err_set(err, -EINVAL, "metrics: region of %zu bytes is too small", size);
	struct ark_metrics_hdr *h = memory;
	if (atomic_load_explicit(&h->magic, memory_order_acquire) != ARK_METRICS_MAGIC)
		return ark_err_set(err, -EPROTO, "metrics: no registry in this region (bad magic)");
	if (h->layout_version != ARK_METRICS_LAYOUT_VERSION)
		return ark_err_set(err, -EPROTO, "metrics: layout version %u, this build reads %u",
				   h->layout_version, ARK_METRICS_LAYOUT_VERSION);
	if (!config_ok(&h->cfg) || h->total_size != layout(&h->cfg, NULL) || h->total_size > size)
		return ark_err_set(err, -EPROTO, "metrics: registry header disagrees with region size %zu", size);
	reg->hdr = h;
	reg->base = memory;
	reg->size = size;
	return 0;
}

uint32_t ark_metrics_series_count(const struct ark_metrics *reg)
{
	return atomic_load_explicit(&reg->hdr->series_count, memory_order_acquire);
}

/* ------------------------------------------------------ names and labels -- */
static bool valid_metric_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= ARK_METRICS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = n[i];
		bool ok = isalpha((unsigned char)ch) || ch == '_' || ch == ':' || (i > 0 && isdigit((unsigned char)ch));
		if (!ok || (unsigned char)ch >= 0x80)
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Strict parse of `k="v",k2="v2"` into its canonical form (same syntax). */
static int canon_labels(const char *in, enum ark_metrics_type type, char *out, struct ark_err *err)
{
	out[0] = '\0';
	if (!in || !*in)
		return 0;
	char names[16][ARK_METRICS_NAME_MAX];
	int count = 0;
	size_t o = 0;
	const char *p = in;
	for (;;) {
		const char *k = p;
		if (!(isalpha((unsigned char)*p) || *p == '_'))
			return ark_err_set(err, -EINVAL, "labels '%s': expected a label name at '%s'", in, p);
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		size_t klen = (size_t)(p - k);
		if (klen >= ARK_METRICS_NAME_MAX)
			return ark_err_set(err, -EINVAL, "labels '%s': label name too long", in);
		if (klen >= 2 && k[0] == '_' && k[1] == '_')
			return ark_err_set(err, -EINVAL, "labels '%s': names starting with __ are reserved", in);
		if (type == ARK_METRICS_HISTOGRAM && klen == 2 && memcmp(k, "le", 2) == 0)
			return ark_err_set(err, -EINVAL, "labels '%s': 'le' is reserved on histograms", in);
		if (count == 16)
			return ark_err_set(err, -EINVAL, "labels '%s': more than 16 labels", in);
		memcpy(names[count], k, klen);
		names[count][klen] = '\0';
		for (int i = 0; i < count; i++)
			if (strcmp(names[i], names[count]) == 0)
				return ark_err_set(err, -EINVAL, "labels '%s': label '%s' given twice", in, names[i]);
		count++;
		if (p[0] != '=' || p[1] != '"')
			return ark_err_set(err, -EINVAL, "labels '%s': expected =\" after '%.*s'", in, (int)klen, k);
		p += 2;
		if (o + klen + 2 >= ARK_METRICS_LABELS_MAX)
			goto toolong;
		memcpy(out + o, k, klen);
		o += klen;
		out[o++] = '=';
		out[o++] = '"';
		while (*p != '"') {
			if (*p == '\0' || *p == '\n')
				return ark_err_set(err, -EINVAL, "labels '%s': unterminated value", in);
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return ark_err_set(err, -EINVAL, "labels '%s': bad escape \\%c", in, p[1] ? p[1] : '0');
				if (o + 2 >= ARK_METRICS_LABELS_MAX)
					goto toolong;
				out[o++] = p[0];
				out[o++] = p[1];
				p += 2;
				continue;
			}
			if (o + 1 >= ARK_METRICS_LABELS_MAX)
				goto toolong;
			out[o++] = *p++;
		}
		p++;
		if (o + 1 >= ARK_METRICS_LABELS_MAX)
			goto toolong;
		out[o++] = '"';
		if (*p == '\0')
			break;
		if (*p != ',' || p[1] == '\0')
			return ark_err_set(err, -EINVAL, "labels '%s': expected ',' between labels", in);
		p++;
		if (o + 1 >= ARK_METRICS_LABELS_MAX)
			goto toolong;
		out[o++] = ',';
	}
	out[o] = '\0';
	return 0;
toolong:
	return ark_err_set(err, -EINVAL, "labels '%s': longer than %d bytes", in, ARK_METRICS_LABELS_MAX - 1);
}

static uint32_t hash_series(const char *name, const char *labels)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (const char *p = labels; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

static int find_canon(const struct ark_metrics *reg, const char *name, const char *canon, uint32_t *series)
{
	const struct ark_metrics_hdr *h = reg->hdr;
	_Atomic uint32_t *index = M_INDEX(reg);
	uint32_t mask = h->index_size - 1;
	uint32_t hv = hash_series(name, canon);
	for (uint32_t i = 0; i <= mask; i++) {
		uint32_t e = atomic_load_explicit(&index[(hv + i) & mask], memory_order_acquire);
		if (e == 0)
			return -ENOENT;
		const struct ark_metrics_series *s = M_SERIES(reg, e - 1);
		if (s->hash == hv && strcmp(s->labels, canon) == 0 &&
		    strcmp(M_FAMILY(reg, s->family)->name, name) == 0) {
			*series = e - 1;
			return 0;
		}
	}
	return -ENOENT;
}

int ark_metrics_find(const struct ark_metrics *reg, const char *name, const char *labels, uint32_t *series)
{
	char canon[ARK_METRICS_LABELS_MAX];
	if (!name || canon_labels(labels, ARK_METRICS_GAUGE, canon, NULL))
		return -EINVAL;
	return find_canon(reg, name, canon, series);
}

static int lock(struct ark_metrics_hdr *h)
{
	int rc = pthread_mutex_lock(&h->lock);
	if (rc == EOWNERDEAD) {
		/* A registrant died inside: every step below publishes last, so the
		 * tables are consistent; a half-written entry is simply unused. */
		pthread_mutex_consistent(&h->lock);
		rc = 0;
	}
	return rc;
}

static const char *type_name(enum ark_metrics_type t)
{
	return t == ARK_METRICS_COUNTER ? "counter" : t == ARK_METRICS_GAUGE ? "gauge" : "histogram";
}

int ark_metrics_register(struct ark_metrics *reg, enum ark_metrics_type type, const char *name,
			 const char *help, const char *labels, uint32_t *series, struct ark_err *err)
{
	struct ark_metrics_hdr *h = reg->hdr;
	if (type != ARK_METRICS_COUNTER && type != ARK_METRICS_GAUGE && type != ARK_METRICS_HISTOGRAM)
		return ark_err_set(err, -EINVAL, "metrics: unknown type %d", (int)type);
	if (!name || !valid_metric_name(name))
		return ark_err_set(err, -EINVAL, "metrics: invalid metric name '%s'", name ? name : "(null)");
	if (type == ARK_METRICS_COUNTER && !ends_with(name, "_total"))
		return ark_err_set(err, -EINVAL, "metrics: counter '%s' must end in _total", name);
	if (type == ARK_METRICS_HISTOGRAM &&
	    (ends_with(name, "_bucket") || ends_with(name, "_count") || ends_with(name, "_sum")))
		return ark_err_set(err, -EINVAL, "metrics: histogram '%s' must not end in _bucket, _count or _sum", name);
	if (help && strlen(help) >= ARK_METRICS_HELP_MAX)
		return ark_err_set(err, -EINVAL, "metrics: help of '%s' longer than %d bytes", name, ARK_METRICS_HELP_MAX - 1);
	char canon[ARK_METRICS_LABELS_MAX];
	int rc = canon_labels(labels, type, canon, err);
	if (rc)
		return ark_err_wrap(err, "metrics: %s", name), rc;
	if ((rc = lock(h)) != 0)
		return ark_err_set(err, -rc, "metrics: lock: %s", strerror(rc));
	uint32_t fam = UINT32_MAX;
	uint32_t nfam = atomic_load_explicit(&h->family_count, memory_order_relaxed);
	for (uint32_t i = 0; i < nfam; i++)
		if (strcmp(M_FAMILY(reg, i)->name, name) == 0) {
			fam = i;
			break;
		}
	if (fam != UINT32_MAX && M_FAMILY(reg, fam)->type != (uint32_t)type) {
		pthread_mutex_unlock(&h->lock);
		return ark_err_set(err, -EINVAL, "metrics: '%s' is a %s, not a %s", name,
				   type_name(M_FAMILY(reg, fam)->type), type_name(type));
	}
	uint32_t found;
	if (fam != UINT32_MAX && find_canon(reg, name, canon, &found) == 0) {
		M_SERIES(reg, found)->writer_pid = getpid();
		pthread_mutex_unlock(&h->lock);
		*series = found;
		return 0;
	}
	uint32_t n = atomic_load_explicit(&h->series_count, memory_order_relaxed);
	if (n >= h->cfg.max_series) {
		pthread_mutex_unlock(&h->lock);
		return ark_err_set(err, -ENOSPC, "metrics: registry full (%u series)", h->cfg.max_series);
	}
	uint32_t hidx = UINT32_MAX, widx = UINT32_MAX;
	if (type == ARK_METRICS_HISTOGRAM) {
		if (h->hist_count >= h->cfg.max_histograms) {
			pthread_mutex_unlock(&h->lock);
			return ark_err_set(err, -ENOSPC, "metrics: no room for histogram '%s' (%u histograms)",
					   name, h->cfg.max_histograms);
		}
		hidx = h->hist_count;
	}
	if (type == ARK_METRICS_COUNTER && h->windowed_count < h->cfg.max_windowed_counters)
		widx = h->windowed_count;
	if (fam == UINT32_MAX) {
		if (nfam >= h->cfg.max_families) {
			pthread_mutex_unlock(&h->lock);
			return ark_err_set(err, -ENOSPC, "metrics: no room for family '%s' (%u families)", name,
					   h->cfg.max_families);
		}
		struct ark_metrics_family *f = M_FAMILY(reg, nfam);
		snprintf(f->name, sizeof f->name, "%s", name);
		snprintf(f->help, sizeof f->help, "%s", help ? help : "");
		f->type = (uint32_t)type;
		fam = nfam;
		atomic_store_explicit(&h->family_count, nfam + 1, memory_order_release);
	}
	struct ark_metrics_series *s = M_SERIES(reg, n);
	s->family = fam;
	s->type = (uint32_t)type;
	s->hist = hidx;
	s->windowed = widx;
	s->writer_pid = getpid();
	s->hash = hash_series(name, canon);
	memcpy(s->labels, canon, sizeof canon);
	if (hidx != UINT32_MAX)
		h->hist_count++;
	if (widx != UINT32_MAX)
		h->windowed_count++;
	/* publish: index slot (release) first, then the count readers iterate */
	_Atomic uint32_t *index = M_INDEX(reg);
	uint32_t mask = h->index_size - 1;
	for (uint32_t i = 0;; i++) {
		_Atomic uint32_t *slot = &index[(s->hash + i) & mask];
		if (atomic_load_explicit(slot, memory_order_relaxed) == 0) {
			atomic_store_explicit(slot, n + 1, memory_order_release);
			break;
		}
	}
	atomic_store_explicit(&h->series_count, n + 1, memory_order_release);
	pthread_mutex_unlock(&h->lock);
	*series = n;
	return 0;
}

int ark_metrics_counter(struct ark_metrics *reg, const char *name, const char *help,
			const char *labels, struct ark_metrics_handle *out, struct ark_err *err)
{
	uint32_t s;
	int rc = ark_metrics_register(reg, ARK_METRICS_COUNTER, name, help, labels, &s, err);
	if (rc)
		return rc;
	out->value = M_VALUE(reg, s);
	out->series = s;
	return 0;
}

int ark_metrics_gauge(struct ark_metrics *reg, const char *name, const char *help,
		      const char *labels, struct ark_metrics_handle *out, struct ark_err *err)
{
	uint32_t s;
	int rc = ark_metrics_register(reg, ARK_METRICS_GAUGE, name, help, labels, &s, err);
	if (rc)
		return rc;
	out->value = M_VALUE(reg, s);
	out->series = s;
	return 0;
}

int ark_metrics_histogram(struct ark_metrics *reg, const char *name, const char *help,
			  const char *labels, struct ark_metrics_hist_handle *out, struct ark_err *err)
{
	uint32_t s;
	int rc = ark_metrics_register(reg, ARK_METRICS_HISTOGRAM, name, help, labels, &s, err);
	if (rc)
		return rc;
	struct ark_metrics_live_hist *lh = M_HIST(reg, M_SERIES(reg, s)->hist);
	out->buckets = lh->buckets;
	out->count = &lh->count;
	out->sum = &lh->sum;
	out->series = s;
	return 0;
}

/* ------------------------------------------- histograms following hist/ -- */
int ark_metrics_histogram_follower(struct ark_metrics *reg, const char *name, const char *help, const char *labels,
				   struct ark_metrics_hist_follower *f, struct ark_err *err)
{
	memset(f, 0, sizeof *f);
	return ark_metrics_histogram(reg, name, help, labels, &f->h, err);
}

/* src's buckets in the registry's: each 7-bit bucket lies inside one 6-bit
 * bucket, the one of its lowest value. */
static void fold_source(const struct ark_hist *src, uint64_t *out)
{
	memset(out, 0, ARK_METRICS_HIST_BUCKETS * sizeof *out);
	for (uint32_t b = 0; b < ARK_HIST_BUCKETS; b++) {
		uint64_t n = __atomic_load_n(&src->buckets[b], __ATOMIC_RELAXED);
		if (n)
			out[ark_metrics_hist_bucket_of(ark_hist_bucket_low(b))] += n;
	}
}

static uint64_t load_relaxed(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

uint64_t ark_metrics_histogram_follow(struct ark_metrics_hist_follower *f, const struct ark_hist *src)
{
	fold_source(src, f->now);
	uint64_t sum = __atomic_load_n(&src->sum, __ATOMIC_RELAXED);
	if (!f->primed) {
		for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++)
			f->seen[b] = ARK_MIN(load_relaxed(&f->h.buckets[b]), f->now[b]);
		f->seen_sum = ARK_MIN(load_relaxed(f->h.sum), sum);
		f->primed = true;
	}
	uint64_t added = 0;
	for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++) {
		if (f->now[b] > f->seen[b]) {
			uint64_t gained = f->now[b] - f->seen[b];
			atomic_store_explicit(&f->h.buckets[b], load_relaxed(&f->h.buckets[b]) + gained, memory_order_relaxed);
			added += gained;
		}
		f->seen[b] = f->now[b];
	}
	if (added)
		atomic_store_explicit(f->h.count, load_relaxed(f->h.count) + added, memory_order_relaxed);
	if (sum > f->seen_sum)
		atomic_store_explicit(f->h.sum, load_relaxed(f->h.sum) + (sum - f->seen_sum), memory_order_relaxed);
	f->seen_sum = sum;
	return added;
}

/* ------------------------------------------------------ histogram buckets -- */
uint64_t ark_metrics_hist_bucket_low(uint32_t b)
{
	return ark_hist_loglin_low(b, ARK_METRICS_HIST_SUB_BITS);
}

uint64_t ark_metrics_hist_bucket_high(uint32_t b)
{
	return ark_hist_loglin_high(b, ARK_METRICS_HIST_SUB_BITS);
}

double ark_metrics_hist_bucket_mid(uint32_t b)
{
	if (b < ARK_METRICS_HIST_SUB)
		return (double)b;
	return ((double)ark_metrics_hist_bucket_low(b) + (double)ark_metrics_hist_bucket_high(b) + 1.0) / 2.0;
}

double ark_metrics_view_quantile_ns(const struct ark_metrics_hist_view *v, double q)
{
	if (v->count == 0)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	uint64_t rank = (uint64_t)ceil(q * (double)v->count);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++) {
		seen += v->buckets[b];
		if (seen >= rank)
			return ark_metrics_hist_bucket_mid(b);
	}
	return ark_metrics_hist_bucket_mid(ARK_METRICS_HIST_BUCKETS - 1);
}

uint64_t ark_metrics_view_count_le(const struct ark_metrics_hist_view *v, double limit_ns)
{
	uint64_t n = 0;
	for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS && (double)ark_metrics_hist_bucket_low(b) <= limit_ns; b++)
		n += v->buckets[b];
	return n;
}

/* ----------------------------------------------------------- time slices -- */
uint64_t ark_metrics_epoch(const struct ark_metrics *reg)
{
	return atomic_load_explicit(&reg->hdr->epoch, memory_order_acquire);
}

static void snapshot_slot(struct ark_metrics *reg, uint64_t k)
{
	struct ark_metrics_hdr *h = reg->hdr;
	uint64_t slot = k % h->nslots;
	_Atomic uint64_t *stamp = &M_STAMPS(reg)[slot];
	atomic_store_explicit(stamp, ARK_METRICS_NO_STAMP, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	uint32_t n = atomic_load_explicit(&h->series_count, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++) {
		const struct ark_metrics_series *s = M_SERIES(reg, i);
		if (s->windowed != UINT32_MAX) {
			uint64_t v = atomic_load_explicit(M_VALUE(reg, i), memory_order_relaxed);
			atomic_store_explicit(M_CSNAP(reg, slot, s->windowed), v, memory_order_relaxed);
		}
		if (s->hist != UINT32_MAX) {
			struct ark_metrics_live_hist *lh = M_HIST(reg, s->hist);
			_Atomic uint32_t *snap = M_HSNAP(reg, slot, s->hist);
			_Atomic uint64_t *cs = M_HSNAP_CS(reg, slot, s->hist);
			atomic_store_explicit(&cs[0], atomic_load_explicit(&lh->count, memory_order_relaxed), memory_order_relaxed);
			atomic_store_explicit(&cs[1], atomic_load_explicit(&lh->sum, memory_order_relaxed), memory_order_relaxed);
			for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++)
				atomic_store_explicit(&snap[b],
						      (uint32_t)atomic_load_explicit(&lh->buckets[b], memory_order_relaxed),
						      memory_order_relaxed);
		}
	}
	atomic_store_explicit(stamp, k, memory_order_release);
}

uint64_t ark_metrics_tick(struct ark_metrics *reg, uint64_t now_ns)
{
	struct ark_metrics_hdr *h = reg->hdr;
	uint64_t e = now_ns / (h->cfg.slice_seconds * 1000000000ull);
	if (!atomic_load_explicit(&h->ticked, memory_order_relaxed)) {
		h->first_epoch = e;
		snapshot_slot(reg, e);
		atomic_store_explicit(&h->epoch, e, memory_order_release);
		atomic_store_explicit(&h->ticked, 1, memory_order_release);
		return 1;
	}
	uint64_t cur = atomic_load_explicit(&h->epoch, memory_order_relaxed);
	if (e <= cur)
		return 0;
	uint64_t from = cur + 1;
	if (e - cur > h->nslots)
		from = e - h->nslots + 1;
	for (uint64_t k = from; k <= e; k++)
		snapshot_slot(reg, k);
	atomic_store_explicit(&h->epoch, e, memory_order_release);
	return e - cur;
}

/* The slot holding the snapshot a window starts from, or -1 for "since the
 * region was created" (baseline zero). */
static int64_t window_start_slot(const struct ark_metrics *reg, uint64_t window_s, uint64_t *stamp_out)
{
	const struct ark_metrics_hdr *h = reg->hdr;
	if (window_s == 0 || !atomic_load_explicit(&h->ticked, memory_order_acquire))
		return -1;
	uint64_t e = atomic_load_explicit(&h->epoch, memory_order_acquire);
	uint64_t k = (window_s + h->cfg.slice_seconds - 1) / h->cfg.slice_seconds;
	if (k > h->nslots - 1)
		k = h->nslots - 1;
	uint64_t s = e >= k ? e - k : 0;
	if (s < h->first_epoch)
		return -1;
	for (uint64_t j = s; j <= e; j++) {
		uint64_t slot = j % h->nslots;
		if (atomic_load_explicit(&M_STAMPS(reg)[slot], memory_order_acquire) == j) {
			*stamp_out = j;
			return (int64_t)slot;
		}
	}
	return -1;
}

static bool stamp_still(const struct ark_metrics *reg, int64_t slot, uint64_t stamp)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&M_STAMPS(reg)[slot], memory_order_relaxed) == stamp;
}

uint64_t ark_metrics_counter_value(const struct ark_metrics *reg, uint32_t series)
{
	return atomic_load_explicit(M_VALUE(reg, series), memory_order_relaxed);
}

double ark_metrics_gauge_value(const struct ark_metrics *reg, uint32_t series)
{
	union { uint64_t u; double d; } b = {.u = atomic_load_explicit(M_VALUE(reg, series), memory_order_relaxed)};
	return b.d;
}

int ark_metrics_counter_window(const struct ark_metrics *reg, uint32_t series, uint64_t window_s, uint64_t *delta)
{
	if (series >= ark_metrics_series_count(reg))
		return -ENOENT;
	const struct ark_metrics_series *s = M_SERIES(reg, series);
	if (s->type != ARK_METRICS_COUNTER)
		return -EINVAL;
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t stamp = 0;
		int64_t slot = window_start_slot(reg, window_s, &stamp);
		uint64_t now = atomic_load_explicit(M_VALUE(reg, series), memory_order_relaxed);
		if (slot < 0) {
			*delta = now;
			return 0;
		}
		if (s->windowed == UINT32_MAX)
			return -EOPNOTSUPP;
		uint64_t base = atomic_load_explicit(M_CSNAP(reg, (uint64_t)slot, s->windowed), memory_order_relaxed);
		if (stamp_still(reg, slot, stamp)) {
			*delta = now >= base ? now - base : 0;
			return 0;
		}
	}
	return -EAGAIN;
}

uint64_t ark_metrics_family_window(const struct ark_metrics *reg, const char *name,
				   const char *labels_filter, uint64_t window_s)
{
	uint64_t total = 0;
	uint32_t n = ark_metrics_series_count(reg);
	for (uint32_t i = 0; i < n; i++) {
		const struct ark_metrics_series *s = M_SERIES(reg, i);
		if (s->type != ARK_METRICS_COUNTER || strcmp(M_FAMILY(reg, s->family)->name, name) != 0)
			continue;
		if (labels_filter && strcmp(s->labels, labels_filter) != 0)
			continue;
		uint64_t d;
		if (ark_metrics_counter_window(reg, i, window_s, &d) == 0)
			total += d;
	}
	return total;
}

int ark_metrics_histogram_window(const struct ark_metrics *reg, uint32_t series, uint64_t window_s,
				 struct ark_metrics_hist_view *v)
{
	if (series >= ark_metrics_series_count(reg))
		return -ENOENT;
	const struct ark_metrics_series *s = M_SERIES(reg, series);
	if (s->type != ARK_METRICS_HISTOGRAM)
		return -EINVAL;
	const struct ark_metrics_live_hist *lh = M_HIST(reg, s->hist);
	for (int attempt = 0; attempt < 8; attempt++) {
		uint64_t stamp = 0;
		int64_t slot = window_start_slot(reg, window_s, &stamp);
		uint64_t count = 0;
		uint64_t sum = atomic_load_explicit(&lh->sum, memory_order_relaxed);
		if (slot < 0) {
			for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++) {
				v->buckets[b] = atomic_load_explicit(&lh->buckets[b], memory_order_relaxed);
				count += v->buckets[b];
			}
			v->count = count;
			v->sum_ns = sum;
			return 0;
		}
		const _Atomic uint32_t *snap = M_HSNAP(reg, (uint64_t)slot, s->hist);
		const _Atomic uint64_t *cs = M_HSNAP_CS(reg, (uint64_t)slot, s->hist);
		uint64_t base_sum = atomic_load_explicit(&cs[1], memory_order_relaxed);
		for (uint32_t b = 0; b < ARK_METRICS_HIST_BUCKETS; b++) {
			uint32_t live = (uint32_t)atomic_load_explicit(&lh->buckets[b], memory_order_relaxed);
			v->buckets[b] = (uint32_t)(live - atomic_load_explicit(&snap[b], memory_order_relaxed));
			count += v->buckets[b];
		}
		if (stamp_still(reg, slot, stamp)) {
			v->count = count;
			v->sum_ns = sum >= base_sum ? sum - base_sum : 0;
			return 0;
		}
	}
	return -EAGAIN;
}

/* ------------------------------------------------------- the seed's verbs -- */
static int lookup_or_register(struct ark_metrics *reg, enum ark_metrics_type type, const char *name,
			      const char *labels, uint32_t *series)
{
	char canon[ARK_METRICS_LABELS_MAX];
	if (!name || canon_labels(labels, type, canon, NULL))
		return -EINVAL;
	if (find_canon(reg, name, canon, series) == 0)
		return M_SERIES(reg, *series)->type == (uint32_t)type ? 0 : -EINVAL;
	const struct ark_metrics_def *d = ark_metrics_def_find(name);
	if (d && d->type != type)
		return -EINVAL;
	return ark_metrics_register(reg, type, name, d ? d->help : "ARK metric.", canon, series, NULL);
}

int ark_record_latency(struct ark_metrics *reg, const char *name, double value_ms, const char *labels)
{
	uint32_t s;
	int rc = lookup_or_register(reg, ARK_METRICS_HISTOGRAM, name, labels, &s);
	if (rc)
		return rc;
	struct ark_metrics_live_hist *lh = M_HIST(reg, M_SERIES(reg, s)->hist);
	struct ark_metrics_hist_handle h = {lh->buckets, &lh->count, &lh->sum, s};
	double ns = value_ms * 1e6;
	if (!(ns > 0))
		ns = 0;
	if (ns > 1.8e19)
		ns = 1.8e19;
	ark_metrics_histogram_record_ns(h, (uint64_t)llround(ns));
	return 0;
}

int ark_increment_counter(struct ark_metrics *reg, const char *name, const char *labels)
{
	uint32_t s;
	int rc = lookup_or_register(reg, ARK_METRICS_COUNTER, name, labels, &s);
	if (rc)
		return rc;
	ark_metrics_counter_inc((struct ark_metrics_handle){M_VALUE(reg, s), s});
	return 0;
}

int ark_set_gauge_labels(struct ark_metrics *reg, const char *name, const char *labels, double value)
{
	uint32_t s;
	int rc = lookup_or_register(reg, ARK_METRICS_GAUGE, name, labels, &s);
	if (rc)
		return rc;
	ark_metrics_gauge_set((struct ark_metrics_handle){M_VALUE(reg, s), s}, value);
	return 0;
}

int ark_set_gauge(struct ark_metrics *reg, const char *name, double value)
{
	return ark_set_gauge_labels(reg, name, NULL, value);
}

/* ------------------------------------------------------ process metrics -- */
int ark_metrics_process_read(pid_t pid, struct ark_metrics_process *out, struct ark_err *err)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return ark_err_set(err, -errno, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');   /* comm may hold spaces and parentheses */
	if (!p)
		return ark_err_set(err, -EPROTO, "%s: unexpected format", path);
	/* after ")": state(3) ... utime(14) stime(15) ... starttime(22) ... rss(24) */
	unsigned long long utime = 0, stime = 0, start = 0;
	long long rss = 0;
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		field++;
		if (field == 14)
			utime = strtoull(tok, NULL, 10);
		else if (field == 15)
			stime = strtoull(tok, NULL, 10);
		else if (field == 22)
			start = strtoull(tok, NULL, 10);
		else if (field == 24) {
			rss = strtoll(tok, NULL, 10);
			break;
		}
	}
	if (field != 24)
		return ark_err_set(err, -EPROTO, "%s: too few fields", path);
	double hz = (double)sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	out->cpu_seconds = (double)(utime + stime) / hz;
	out->resident_bytes = (double)rss * (double)page;
	/* boot time from /proc/stat */
	double btime = 0;
	f = fopen("/proc/stat", "r");
	if (f) {
		char line[256];
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "btime ", 6) == 0) {
				btime = strtod(line + 6, NULL);
				break;
			}
		fclose(f);
	}
	if (btime <= 0)
		return ark_err_set(err, -EPROTO, "/proc/stat: no btime");
	out->start_time_seconds = btime + (double)start / hz;
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return ark_err_set(err, -errno, "%s: %s", path, strerror(errno));
	int fds = 0;
	for (struct dirent *de; (de = readdir(d)) != NULL;)
		if (de->d_name[0] != '.')
			fds++;
	closedir(d);
	out->open_fds = fds - (pid == getpid() ? 1 : 0);  /* not the directory we read */
	return 0;
}

int ark_metrics_process_publish(struct ark_metrics *reg, pid_t pid, const char *labels, struct ark_err *err)
{
	struct ark_metrics_process p;
	int rc = ark_metrics_process_read(pid, &p, err);
	if (rc)
		return rc;
	struct ark_metrics_handle cpu, rss, fds, start;
	if ((rc = ark_metrics_counter(reg, ARK_M_PROCESS_CPU, ark_metrics_def_find(ARK_M_PROCESS_CPU)->help, labels, &cpu, err)) ||
	    (rc = ark_metrics_gauge(reg, ARK_M_PROCESS_RSS, ark_metrics_def_find(ARK_M_PROCESS_RSS)->help, labels, &rss, err)) ||
	    (rc = ark_metrics_gauge(reg, ARK_M_PROCESS_FDS, ark_metrics_def_find(ARK_M_PROCESS_FDS)->help, labels, &fds, err)) ||
	    (rc = ark_metrics_gauge(reg, ARK_M_PROCESS_START, ark_metrics_def_find(ARK_M_PROCESS_START)->help, labels, &start, err)))
		return rc;
	/* counters are integers: a *_seconds_total counter holds microseconds
	 * and renders in seconds (see metrics.h) */
	ark_metrics_counter_set(cpu, (uint64_t)llround(p.cpu_seconds * 1e6));
	ark_metrics_gauge_set(rss, p.resident_bytes);
	ark_metrics_gauge_set(fds, p.open_fds);
	ark_metrics_gauge_set(start, p.start_time_seconds);
	return 0;
}
