/* metrics/metrics_internal.h — the registry region's layout, shared by the
 * metrics sources only (not part of the public interface). Everything is
 * addressed by offset from the region's start. */
#ifndef ARK_METRICS_INTERNAL_H
#define ARK_METRICS_INTERNAL_H

#include "metrics/metrics.h"

#include <pthread.h>

#define ARK_METRICS_MAGIC 0x3130534349525441ull /* "ATRICS01" */
#define ARK_METRICS_LAYOUT_VERSION 1u
#define ARK_METRICS_VALUE_STRIDE 64u /* one cache line per series value: no false sharing between writers */
#define ARK_METRICS_NO_STAMP UINT64_MAX

struct ark_metrics_hdr {
	_Atomic uint64_t magic;        /* written last at init (release) */
	uint32_t layout_version;
	uint32_t index_size;           /* power of two */
	uint64_t total_size;
	uint64_t created_realtime_ns;
	struct ark_metrics_config cfg;
	uint64_t nslots;
	uint64_t families_off, series_off, index_off, values_off, hist_off;
	uint64_t stamps_off, csnap_off, hsnap_cs_off, hsnap_off;
	_Alignas(64) _Atomic uint32_t series_count;
	_Atomic uint32_t family_count;
	uint32_t hist_count;           /* under lock */
	uint32_t windowed_count;       /* under lock */
	_Alignas(64) _Atomic uint64_t epoch;   /* ticker only */
	_Atomic uint32_t ticked;
	uint64_t first_epoch;
	_Alignas(64) pthread_mutex_t lock;     /* registration only; robust, process-shared */
};

struct ark_metrics_family {
	char name[ARK_METRICS_NAME_MAX];
	char help[ARK_METRICS_HELP_MAX];
	uint32_t type;
	uint32_t reserved;
};

struct ark_metrics_series {
	uint32_t family;
	uint32_t type;
	uint32_t hist;      /* histogram index or UINT32_MAX */
	uint32_t windowed;  /* windowed-counter index or UINT32_MAX */
	int32_t writer_pid;
	uint32_t hash;
	char labels[ARK_METRICS_LABELS_MAX];  /* canonical, escaped, no braces */
};

struct ark_metrics_live_hist {
	_Atomic uint64_t buckets[ARK_METRICS_HIST_BUCKETS];
	_Atomic uint64_t count;
	_Atomic uint64_t sum;
	char pad[112];
};

#define M_AT(reg, off) ((char *)(reg)->base + (off))
#define M_FAMILY(reg, i) ((struct ark_metrics_family *)M_AT(reg, (reg)->hdr->families_off) + (i))
#define M_SERIES(reg, i) ((struct ark_metrics_series *)M_AT(reg, (reg)->hdr->series_off) + (i))
#define M_INDEX(reg) ((_Atomic uint32_t *)M_AT(reg, (reg)->hdr->index_off))
#define M_VALUE(reg, i) ((_Atomic uint64_t *)M_AT(reg, (reg)->hdr->values_off + (uint64_t)(i) * ARK_METRICS_VALUE_STRIDE))
#define M_HIST(reg, i) ((struct ark_metrics_live_hist *)M_AT(reg, (reg)->hdr->hist_off) + (i))
#define M_STAMPS(reg) ((_Atomic uint64_t *)M_AT(reg, (reg)->hdr->stamps_off))
#define M_CSNAP(reg, slot, w) ((_Atomic uint64_t *)M_AT(reg, (reg)->hdr->csnap_off) + \
	(slot) * (reg)->hdr->cfg.max_windowed_counters + (w))
#define M_HSNAP_CS(reg, slot, hi) ((_Atomic uint64_t *)M_AT(reg, (reg)->hdr->hsnap_cs_off) + \
	((slot) * (reg)->hdr->cfg.max_histograms + (hi)) * 2)
#define M_HSNAP(reg, slot, hi) ((_Atomic uint32_t *)M_AT(reg, (reg)->hdr->hsnap_off) + \
	((slot) * (reg)->hdr->cfg.max_histograms + (hi)) * (uint64_t)ARK_METRICS_HIST_BUCKETS)

#endif
