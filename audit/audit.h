/* audit/audit.h — `ark audit`: an independent check of the durable record.
 *
 * It reads the rules file with a reader of its own and the journal's events
 * in sequence order, and re-decides every intent with a deliberately simple
 * evaluator: straight-line code, no compiled table, nothing shared with HRM
 * (graveyard/) but the event layout. It recomputes positions, exposure, P&L,
 * the rate windows and the trading state from the record itself, and
 * reports:
 *   - allowed_violation   an allowed intent that breaks a rule
 *   - wrong_reason        a denial whose reason is not the first rule it breaks
 *   - denied_clean        a denial of an intent that breaks no rule
 *   - non_finite          a value in the record that is not finite (an
 *                         injected violation's own price and size excepted)
 *   - state_corrupt       HRM halted for a non-finite state of its own
 *   - clock               HRM's recorded market clock or trading day moved
 *                         in a way no tick can explain (backwards, or ahead
 *                         of every tick)
 *   - overfill            a fill larger than its order, or on the other side
 * What the record cannot show is taken as recorded: HRM's market clock and
 * trading day (its wall clock's contribution), ethics drift and quarantine
 * (they deny everything and change nothing), the broker's buying power (a
 * MAX_NOTIONAL denial with rule line 0). Canary-lane events are decided by
 * the canary's rules (ark_audit_set_canary_rules) or counted as unaudited.
 *
 * The evaluator mirrors the documented order of graveyard.h on purpose, so
 * an audit of a correct run finds nothing, and a gate that lets one rule
 * kind through (or changes an order) is found at its first event. */
#ifndef ARK_AUDIT_H
#define ARK_AUDIT_H

#include "common/common.h"
#include "event/event.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ARK_AUDIT_MAX_RESTRICTED 256
#define ARK_AUDIT_MAX_PATTERNS 8

/* The limits, as the audit's own reader understands the rules file. */
struct ark_audit_rules {
	int trading_state;              /* 0 ACTIVE, 1 REDUCING, 2 HALTED */
	double max_order_quantity;
	double max_order_notional;
	double price_collar;            /* fraction */
	uint64_t reference_max_age_ns;
	int restricted_count;
	char restricted[ARK_AUDIT_MAX_RESTRICTED][ARK_SYMBOL_MAX];
	int pattern_count;
	char patterns[ARK_AUDIT_MAX_PATTERNS][32];
	uint32_t order_rate_count;
	uint64_t order_rate_window_ns;
	uint32_t order_rate_per_symbol_count;
	uint64_t order_rate_per_symbol_window_ns;
	uint64_t duplicate_window_ns;
	double max_position;
	double max_gross_exposure;
	double daily_loss_limit;
	int line[ARK_REASON_COUNT];     /* the rules-file line of each rule kind */
	char sha256[65];
};

/* Read a rules file (the same format HRM reads, read here independently). */
int ark_audit_rules_load(const char *path, struct ark_audit_rules *rules, struct ark_err *err);
int ark_audit_rules_parse(const char *text, size_t length, struct ark_audit_rules *rules, struct ark_err *err);

enum ark_audit_kind {
	ARK_AUDIT_ALLOWED_VIOLATION,
	ARK_AUDIT_WRONG_REASON,
	ARK_AUDIT_DENIED_CLEAN,
	ARK_AUDIT_NON_FINITE,
	ARK_AUDIT_STATE_CORRUPT,
	ARK_AUDIT_CLOCK,
	ARK_AUDIT_OVERFILL,
	ARK_AUDIT_KIND_COUNT
};
const char *ark_audit_kind_name(enum ark_audit_kind kind);

struct ark_audit_finding {
	enum ark_audit_kind kind;
	uint64_t seq;
	uint64_t trace_id;
	char symbol[ARK_SYMBOL_MAX];
	uint16_t recorded_reason;       /* what HRM said (enum ark_reason; NONE = allowed) */
	uint16_t expected_reason;       /* what the audit says */
	char detail[160];
};

typedef void (*ark_audit_finding_fn)(void *ctx, const struct ark_audit_finding *finding);

struct ark_audit_counts {
	uint64_t events, intents, allowed, denied, injected;
	uint64_t unaudited_canary;      /* canary-lane events without canary rules */
	uint64_t findings[ARK_AUDIT_KIND_COUNT];
	uint64_t findings_total;
};

struct ark_audit;
int ark_audit_create(struct ark_audit **audit, const struct ark_audit_rules *rules, ark_audit_finding_fn on_finding,
		     void *ctx, struct ark_err *err);
/* The canary lane's rules: its events are decided by them, on a state of
 * their own (the lane has its own HRM). Without them they are counted. */
void ark_audit_set_canary_rules(struct ark_audit *audit, const struct ark_audit_rules *rules);
void ark_audit_destroy(struct ark_audit *audit);
/* Judge one event of the record (in sequence order). */
void ark_audit_event(struct ark_audit *audit, const struct ark_event *event);
void ark_audit_counts(const struct ark_audit *audit, struct ark_audit_counts *counts);

/* The whole journal in `journal_dir`, seqs [from, to] (0: no bound). */
int ark_audit_journal(struct ark_audit *audit, const char *journal_dir, uint64_t from_seq, uint64_t to_seq,
		      struct ark_err *err);

#endif /* ARK_AUDIT_H */
