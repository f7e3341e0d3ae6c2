/* graveyard/graveyard.h — the Graveyard: the immutable rules HRM enforces
 * before any order leaves ARK, their hash, and the pre-trade evaluation.
 *
 * ---------------------------------------------------------------------------
 * THE RULES FILE (format version 1; deploy/graveyard.rules ships the defaults)
 * ---------------------------------------------------------------------------
 * UTF-8/ASCII text, at most 1 MiB. One `key = value` per line; `#` starts a
 * comment (whole line or after a value); blank lines are ignored; CRLF is
 * accepted. Every key below must appear exactly once, in any order; an
 * unknown key, a repeated key, a missing key or a bad value is an error that
 * names the line ("graveyard.rules:7: max_position: expected ...").
 * Every rule key ends with its SCOPE, the word `node` or `global`: whether
 * the limit holds per node or across all nodes (DESIGN.md §10). Today every
 * limit is enforced per node; the scope is parsed, stored, hashed and
 * reported so a later Redis-shared enforcement can pick the global ones up.
 *
 *   version               = 1                              (no scope)
 *   trading_state         = ACTIVE | REDUCING | HALTED   SCOPE
 *   max_order_quantity    = NUMBER                        SCOPE   units per order
 *   max_order_notional    = NUMBER                        SCOPE   quantity x limit price
 *   price_collar          = NUMBER% | NUMBERbps           SCOPE   around the reference price
 *   reference_max_age     = DURATION                      SCOPE   e.g. 5s, 250ms
 *   restricted_symbols    = none | SYM, SYM, ...          SCOPE   at most 256
 *   restricted_patterns   = none | GLOB, GLOB, ...        SCOPE   at most 8; * and ?
 *   order_rate            = COUNT/DURATION                SCOPE   all symbols, e.g. 100/1s
 *   order_rate_per_symbol = COUNT/DURATION                SCOPE   each symbol, e.g. 20/1s
 *   duplicate_window      = DURATION                      SCOPE
 *   max_position          = NUMBER                        SCOPE   |position| per symbol, units
 *   max_gross_exposure    = NUMBER                        SCOPE   sum of |position| x mark
 *   daily_loss_limit      = NUMBER                        SCOPE   latches HALTED for the day
 *   trading_day_reset     = HH:MM[:SS] ZONE                (no scope) ZONE: UTC
 *                                                           or an IANA name (America/New_York)
 *
 * Numbers are positive and finite; durations take a unit (ns, us, ms, s, m,
 * h) and lie in [1us, 1h] (reference_max_age up to 24h); order_rate counts
 * 1..ARK_GRAVEYARD_MAX_RATE, per symbol 1..ARK_GRAVEYARD_MAX_RATE_PER_SYMBOL.
 * Symbols: 1-15 characters of A-Z a-z 0-9 . - _ / ; matching is case-
 * insensitive (restrictions fail safe). Globs: the same characters plus `*`
 * (any run) and `?` (one character), at most 31 characters.
 *
 * Loading hashes the file's bytes (SHA-256, the hash recorded in the Mutable
 * Core) and compiles it into struct ark_graveyard_limits: plain data, fixed
 * size, zero-filled, no pointers, so it may live in the shared segment and
 * survive an HRM restart; its own SHA-256 ("table hash") detects a compiled
 * table that changed in memory. Comments and layout change the file hash but
 * not the table hash.
 *
 * ---------------------------------------------------------------------------
 * EVALUATION (ark_graveyard_evaluate, once per event, in sequence order)
 * ---------------------------------------------------------------------------
 * Time is MARKET time: the state's market clock is the largest
 * exchange_time_ns seen, but never past the caller's ceiling (its wall clock),
 * so one far-future tick cannot drag it, and a source whose clock runs ahead
 * (the edges allow up to ARK_TICK_MAX_SKEW) cannot pin it ahead of the others
 * and so squeeze seconds of orders into one rate window; sliding windows and
 * reference age are measured on it. A tick ahead of the clock by at most the
 * caller's fresh_ahead_ns is a fresh reference (age 0); further ahead, none. The TRADING DAY is
 * the caller's, from the wall clock in the exchange's time zone
 * (ark_graveyard_trading_day): a tick never ends a day. Both inputs are
 * recorded in the event by HRM (hrm_market_ns, hrm_trading_day), so a replay
 * or an audit of the journal sees what HRM saw and decisions are a function
 * of the record.
 * Every event first advances the clock and, when the caller's trading day is
 * later than the state's, rolls the day (clears the daily-loss latch and
 * re-bases the day's P&L); then marks its symbol's price (valid, fresh, not
 * older than the last mark) and re-checks the daily-loss limit, which can
 * latch. An event with no intent (side NONE) is then ALLOWed with reason
 * NONE. An intent is checked in this order; the first rule violated decides
 * (deny), otherwise it is allowed: it enters HRM's book (see IN FLIGHT):
 *
 *    1 ETHICS_DRIFT        drift latched (every event, intent or not)
 *    2 QUARANTINED         the caller says HRM is quarantined (every event)
 *    3 STATE_CORRUPT       the state held a non-finite value (latched)
 *    4 HALTED              trading state HALTED (rules file or tightened)
 *    5 DAILY_LOSS          the daily-loss latch is set
 *    6 RESTRICTED_SYMBOL   symbol in the list (also: symbol id out of range)
 *    7 RESTRICTED_PATTERN  symbol matches a pattern
 *    8 REFERENCE_PRICE     the event's price (the reference) is zero, negative,
 *                          not finite or above ARK_TICK_PRICE_CEILING, its
 *                          exchange time is 0 or ahead of the market clock,
 *                          or older than it by > reference_max_age
 *    9 MAX_QUANTITY        quantity not in (0, max_order_quantity]
 *   10 PRICE_COLLAR        |limit - reference| > collar x reference (or limit
 *                          not finite/positive)
 *   11 MAX_NOTIONAL        quantity x limit > max_order_notional
 *   12 REDUCING_ONLY       state REDUCING and the order does not reduce
 *                          |position| (flat, same side, or flipping through 0),
 *                          even if every order in flight on its side fills
 *   13 DUPLICATE           same side, quantity and limit as the symbol's last
 *                          allowed intent, less than duplicate_window ago
 *   14 RATE_SYMBOL         order_rate_per_symbol allowed orders already in
 *                          the window (t - W, t] for this symbol
 *   15 RATE_GLOBAL         order_rate allowed orders already in the window
 *   16 POSITION_LIMIT      the worst |position| (below) > max_position and growing
 *   17 GROSS_EXPOSURE      gross exposure at the worst positions > max and growing
 * Caps compare with a relative tolerance of ARK_GRAVEYARD_EPSILON, so a value
 * stated exactly at the limit is allowed despite binary rounding. Every
 * comparison against a limit is written so that NaN denies (!(x <= limit)),
 * and every accumulator (positions, average prices, marks, realised P&L,
 * the sums, the day's base) is checked after each update: a non-finite value
 * latches STATE_CORRUPT (the trading state reads HALTED, cause
 * state_corrupt) and the allowed order that would have produced it is denied
 * instead, until an operator releases it (ark_graveyard_release_corrupt). Only
 * allowed orders enter the rate windows and the duplicate memory. rule_id in
 * a decision is the line of the rules file that decided (0: none/drift/
 * quarantine). The order is what makes injected violations unambiguous: the
 * stateless kinds (5-10) are checked before any stateful one, so a single
 * tick violates them whatever the history; DUPLICATE precedes the rates so a
 * repeat is a duplicate even when the window is full.
 *
 * ---------------------------------------------------------------------------
 * IN FLIGHT: THE BOOK THE LIMITS USE (inputs->confirm_by_reports)
 * ---------------------------------------------------------------------------
 * With the paper venue (synchronous: it answers before the next event) an
 * allowed order is booked at once as filled at its limit: position is the
 * projection. With a network broker (confirm_by_reports, HRM's with
 * ARK_BROKER=alpaca) nothing is assumed filled: position and average price
 * are the fills the broker confirmed, and an allowed order is IN FLIGHT
 * (pending_buy/pending_sell, at its limit) until the broker's execution
 * reports settle it (ark_graveyard_apply_report): each fill moves from in
 * flight to the position at the broker's price, and a final report (filled,
 * cancelled, rejected, refused before sending) releases what it left. The
 * limits read the book as confirmed plus in flight, at its worst:
 *   worst |position|  = max(|position + pending_buy|, |position - pending_sell|)
 *                       (every buy in flight fills and no sell, or the reverse);
 *   POSITION_LIMIT and GROSS_EXPOSURE deny an order that raises the worst
 *   |position| beyond the limit; REDUCING admits a sell of at most
 *   position - pending_sell (a buy: -position - pending_buy);
 *   P&L counts orders in flight as filled at their limit (as the projection
 *   did), and each fill at another price corrects it.
 * So a fill the broker reports differently (less, more within the order,
 * another price, none) corrects HRM's view at the report's place in the
 * sequence, and an anomaly (a report that failed Kenny's checks) corrects
 * nothing: its order stays in flight, the worst case. Reports are events
 * numbered by Kyle and journaled like ticks, and every event records the
 * book HRM used (event->hrm_book), so the decisions stay a function of the
 * journal: a replay applies the same reports at the same places. With no
 * orders in flight the checks are exactly the projection's.
 *
 * ---------------------------------------------------------------------------
 * INJECTED VIOLATIONS (ark_graveyard_injected_intent; synth/ makes the ticks)
 * ---------------------------------------------------------------------------
 * A tick flagged ARK_EVENT_INJECTED names a kind K. Lane 0 is THE violation:
 * the helper returns an intent that violates K and no rule checked before K,
 * given the setup steps that precede it. Lane 1 is a setup (or clean-up)
 * step that must be ALLOWed: its intent is spelled by the tick itself —
 * size > 0 buys size, size < 0 sells -size, size 0 is a price mark with no
 * intent; the limit price is the tick's price. For the stateful kinds
 * (DUPLICATE, RATE_*, POSITION_LIMIT, GROSS_EXPOSURE, DAILY_LOSS) lane 0's
 * size is the signed quantity as well (the generator plans it); for the
 * stateless ones the helper derives quantity and limit from the rules
 * (MAX_QUANTITY: 2 x max_order_quantity; PRICE_COLLAR: a limit two collars
 * away; MAX_NOTIONAL: max_order_quantity, at a tick price high enough;
 * REFERENCE_PRICE, RESTRICTED_*, HALTED: any small order). POSITION_LIMIT's
 * lane 0 is priced half a collar from the tick so it never repeats (and so
 * never duplicates) the last setup step.
 * Kyle must pass injected ticks through unchanged, including zero, negative
 * or non-finite prices, exchange time 0 and negative sizes: those ARE the
 * violations. */
#ifndef ARK_GRAVEYARD_H
#define ARK_GRAVEYARD_H

#include "common/common.h"
#include "event/event.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARK_GRAVEYARD_FORMAT_VERSION 1
#define ARK_GRAVEYARD_MAX_SYMBOLS 4096          /* symbol ids Kyle may assign */
#define ARK_GRAVEYARD_MAX_RESTRICTED 256
#define ARK_GRAVEYARD_MAX_PATTERNS 8
#define ARK_GRAVEYARD_PATTERN_MAX 32            /* bytes including NUL */
#define ARK_GRAVEYARD_MAX_RATE 16384            /* order_rate count */
#define ARK_GRAVEYARD_MAX_RATE_PER_SYMBOL 64    /* order_rate_per_symbol count */
#define ARK_GRAVEYARD_FILE_MAX (1u << 20)
#define ARK_GRAVEYARD_HEX_LEN 64                /* SHA-256 as lower-case hex */
#define ARK_GRAVEYARD_PATH_MAX 512
#define ARK_GRAVEYARD_EPSILON 1e-9
#define ARK_GRAVEYARD_DAY_NS (86400ull * 1000000000ull)
#define ARK_GRAVEYARD_ZONE_MAX 48                /* bytes including NUL */

enum ark_trading_state {
	ARK_TRADING_ACTIVE = 0,
	ARK_TRADING_REDUCING = 1,
	ARK_TRADING_HALTED = 2,
};

enum ark_graveyard_scope {
	ARK_GRAVEYARD_SCOPE_NONE = 0,   /* settings without a scope */
	ARK_GRAVEYARD_SCOPE_NODE = 1,
	ARK_GRAVEYARD_SCOPE_GLOBAL = 2,
};

/* Where each rule kind was stated: the line of its key and its scope. */
struct ark_graveyard_rule_source {
	uint16_t line;
	uint8_t scope;          /* enum ark_graveyard_scope */
	uint8_t reserved;
};

/* A glob, precompiled: the literal prefix before the first '*', the literal
 * suffix after the last one, and the characters that are not '*'. */
struct ark_graveyard_pattern {
	char text[ARK_GRAVEYARD_PATTERN_MAX];   /* upper-cased */
	uint8_t length;
	uint8_t prefix_length;
	uint8_t suffix_length;
	uint8_t has_star;
	uint8_t fixed_length;                   /* characters other than '*' */
	uint8_t reserved[3];
};

/* The compiled rule table: what the table hash covers. Zero-filled before
 * compilation, so padding never carries garbage into the hash. */
struct ark_graveyard_limits {
	uint32_t format_version;
	uint32_t trading_state;                 /* enum ark_trading_state */
	double max_order_quantity;
	double max_order_notional;
	double price_collar;                    /* fraction: 0.05 is 5 % */
	uint32_t price_collar_in_bps;           /* how the file stated it */
	uint32_t order_rate_count;
	uint64_t order_rate_window_ns;
	uint32_t order_rate_per_symbol_count;
	uint32_t reserved0;
	uint64_t order_rate_per_symbol_window_ns;
	uint64_t reference_max_age_ns;
	uint64_t duplicate_window_ns;
	double max_position;
	double max_gross_exposure;
	double daily_loss_limit;
	uint64_t trading_day_reset_ns;          /* since local midnight in trading_day_zone */
	char trading_day_zone[ARK_GRAVEYARD_ZONE_MAX];  /* "UTC" or an IANA name */
	uint32_t restricted_count;
	uint32_t pattern_count;
	char restricted[ARK_GRAVEYARD_MAX_RESTRICTED][ARK_SYMBOL_MAX];  /* upper-cased */
	struct ark_graveyard_pattern patterns[ARK_GRAVEYARD_MAX_PATTERNS];
	struct ark_graveyard_rule_source rules[ARK_REASON_COUNT];       /* by kind */
};

/* Loaded rules: the table plus its identity. Plain data. */
struct ark_graveyard_rules {
	struct ark_graveyard_limits limits;
	uint8_t file_sha256[32];
	uint8_t table_sha256[32];
	char file_sha256_hex[ARK_GRAVEYARD_HEX_LEN + 1];
	char table_sha256_hex[ARK_GRAVEYARD_HEX_LEN + 1];
	uint64_t file_size;
	char path[ARK_GRAVEYARD_PATH_MAX];      /* where it was loaded from ("" if text) */
};

/* ---- loading ---- */

/* Compile rules text (not NUL-terminated necessarily); `name` prefixes errors. */
int ark_graveyard_parse(const char *text, size_t length, const char *name,
			struct ark_graveyard_rules *rules, struct ark_err *err);
/* Read, hash and compile a rules file. */
int ark_graveyard_load(const char *path, struct ark_graveyard_rules *rules, struct ark_err *err);
/* SHA-256 of the compiled table, as stored in rules->table_sha256 at load. */
void ark_graveyard_table_hash(const struct ark_graveyard_limits *limits, uint8_t out[32]);
/* SHA-256 of a byte range; lower-case hex of 32 bytes. */
void ark_graveyard_sha256(const void *data, size_t length, uint8_t out[32]);
void ark_graveyard_hex(const uint8_t digest[32], char out[ARK_GRAVEYARD_HEX_LEN + 1]);
/* 64 hex digits (either case) → bytes; -EINVAL with a message otherwise. */
int ark_graveyard_parse_hex(const char *text, uint8_t out[32], struct ark_err *err);

/* Names: "ACTIVE", "node", "max_order_quantity" (the key stating a kind). */
const char *ark_trading_state_name(enum ark_trading_state state);
const char *ark_graveyard_scope_name(enum ark_graveyard_scope scope);
const char *ark_graveyard_rule_key(enum ark_reason kind);
/* A rule kind's compiled value in the file's syntax ("100/1s", "5%", "none");
 * HALTED and REDUCING_ONLY describe trading_state. -1 for kinds without a rule. */
int ark_graveyard_describe_rule(const struct ark_graveyard_limits *limits, enum ark_reason kind, char *out,
				size_t cap);
void ark_graveyard_describe_reset(const struct ark_graveyard_limits *limits, char *out, size_t cap);
/* Does the compiled glob match the (case-insensitive) symbol? */
bool ark_graveyard_pattern_match(const struct ark_graveyard_pattern *pattern, const char *symbol);
/* The restriction a symbol falls under: RESTRICTED_SYMBOL, RESTRICTED_PATTERN
 * or NONE. A string loop: for first sight of a symbol, never per event. */
enum ark_reason ark_graveyard_symbol_restriction(const struct ark_graveyard_limits *limits,
						 const char *symbol);

/* ---- the trading day (graveyard/calendar.c) ---- */

/* A time zone read from the system's tzdata ($TZDIR, /usr/share/zoneinfo);
 * "UTC" needs no file. Loading allocates and reads: at start, never per
 * event. A name is letters, digits and / _ - + (no "..", not absolute). */
struct ark_graveyard_zone;
int ark_graveyard_zone_load(const char *name, struct ark_graveyard_zone **zone, struct ark_err *err);
void ark_graveyard_zone_free(struct ark_graveyard_zone *zone);
bool ark_graveyard_zone_name_valid(const char *name);
const char *ark_graveyard_zone_name(const struct ark_graveyard_zone *zone);
/* Seconds east of UTC at UTC second t. */
int32_t ark_graveyard_zone_offset(const struct ark_graveyard_zone *zone, int64_t t);
/* The trading day holding wall time wall_ns (CLOCK_REALTIME): the local
 * date of (local time - trading_day_reset), as days since 1970-01-01, and
 * the wall time the next trading day begins (> wall_ns). */
void ark_graveyard_trading_day(const struct ark_graveyard_limits *limits, const struct ark_graveyard_zone *zone,
			       uint64_t wall_ns, uint32_t *day, uint64_t *next_day_ns);

/* How many rules of candidate admit more than stable's (a limit raised, a
 * window admitting more orders, a restriction removed, a less strict
 * trading state); why lists them ("max_order_quantity 10000 -> 20000; ...").
 * 0: candidate is at least as strict everywhere. */
int ark_graveyard_looser(const struct ark_graveyard_limits *stable, const struct ark_graveyard_limits *candidate,
			 char *why, size_t why_cap);

/* ---- installation ---- */

/* The installed rules path: $ARK_GRAVEYARD_RULES, else
 * $ARK_DATA_DIR/graveyard.rules (ARK_DATA_DIR defaults to ./ark-data, or
 * /var/lib/ark with ARK_ENV=prod). */
int ark_graveyard_installed_path(char *out, size_t cap, struct ark_err *err);
/* Validate `source`, then copy it atomically (temp file, fsync, rename) to
 * `target` with mode 0444, creating the directory; verify the installed
 * bytes hash as the source's. Fills rules from the installed file. */
int ark_graveyard_install(const char *source, const char *target, struct ark_graveyard_rules *rules,
			  struct ark_err *err);

/* ---- evaluation state (HRM is its single writer; lives in the segment) ---- */

struct ark_graveyard_symbol {
	char symbol[ARK_SYMBOL_MAX];  /* the symbol this id was first seen as */
	uint8_t known;
	uint8_t restriction;          /* enum ark_reason: NONE or RESTRICTED_* */
	uint8_t last_side;            /* the last allowed intent (duplicates) */
	uint8_t reserved;
	uint32_t rate_head;           /* oldest entry of rate_ns when full */
	uint32_t rate_count;
	uint32_t reserved1;
	double position;              /* signed units: projected (allowed orders booked at their
				       * limit), or with confirm_by_reports the broker's confirmed fills */
	double average_price;         /* of the open position */
	double mark;                  /* last valid price */
	uint64_t mark_time_ns;
	double last_quantity;
	double last_limit_price;
	uint64_t last_intent_ns;
	/* With confirm_by_reports: allowed orders the broker has not settled
	 * yet (units, and units x limit price), by side. 0 otherwise. */
	double pending_buy;
	double pending_sell;
	double pending_buy_cost;
	double pending_sell_cost;
	uint64_t rate_ns[ARK_GRAVEYARD_MAX_RATE_PER_SYMBOL];
};

enum ark_graveyard_drift_cause {
	ARK_GRAVEYARD_DRIFT_NONE = 0,
	ARK_GRAVEYARD_DRIFT_FILE_CHANGED = 1,     /* installed bytes hash differently */
	ARK_GRAVEYARD_DRIFT_FILE_UNREADABLE = 2,  /* missing, unreadable, too big */
	ARK_GRAVEYARD_DRIFT_TABLE_CHANGED = 3,    /* compiled table no longer hashes as loaded */
	ARK_GRAVEYARD_DRIFT_RECORDED_MISMATCH = 4,/* loaded file differs from the recorded hash */
};

struct ark_graveyard_drift {
	_Atomic uint32_t latched;     /* read on the hot path, set by the checker */
	uint32_t cause;               /* enum ark_graveyard_drift_cause, first one */
	uint64_t detections;          /* checks that found a difference */
	uint64_t checks;
	uint64_t rehashes;            /* checks that read the file again */
	/* the installed file as last verified (cheap stat check) */
	uint32_t snapshot_valid;
	uint32_t reserved;
	uint64_t st_dev, st_ino, st_size;
	int64_t st_mtime_ns, st_ctime_ns;
	char detail[192];
};

/* What one evaluation may change besides the rate window's next slot and
 * its symbol: declared once, reachable field by field (g->trading_state) and
 * whole (g->scalars), which HRM's undo log saves (sizeof g->scalars) before
 * an evaluation. A new scalar goes into this list and is rolled back with
 * the others. */
#define ARK_GRAVEYARD_SCALARS \
	uint32_t magic; \
	uint32_t version; \
	uint8_t table_sha256[32];      /* the rules this state was made for */ \
	uint32_t trading_state;        /* enum ark_trading_state: rules, or tightened */ \
	uint32_t loss_latched;         /* daily loss limit reached this trading day */ \
	uint64_t market_now_ns;        /* largest exchange time seen, within the callers' ceilings */ \
	uint64_t trading_day;          /* index of the current trading day (the caller's) */ \
	uint32_t day_started; \
	uint32_t state_corrupt;        /* a non-finite value was found: every intent denied */ \
	uint64_t corrupt_latches; \
	char corrupt_detail[64];       /* which value, first time */ \
	/* P&L, per node, marked on every valid price; a symbol's orders in \
	 * flight count as filled at their limit (see IN FLIGHT above) */ \
	double realised_pnl; \
	double position_mark_sum;      /* sum of (position + in flight) x mark */ \
	double position_cost_sum;      /* sum of position x average price + in flight x limit */ \
	double gross_exposure;         /* sum of the worst |position| the orders in flight allow x mark */ \
	double day_base_pnl;           /* total P&L when the trading day began */ \
	/* counters */ \
	uint64_t evaluations; \
	uint64_t intents; \
	uint64_t allowed; \
	uint64_t no_intent; \
	uint64_t denials[ARK_REASON_COUNT];   /* by reason; [ETHICS_DRIFT] counts drift denials */ \
	uint64_t loss_latches; \
	uint64_t day_rolls; \
	uint64_t symbol_cache_fills; \
	uint64_t reports;              /* execution reports applied (confirm_by_reports) */ \
	uint64_t reports_held;         /* reports whose fill was not applied: anomalies, unusable values */
struct ark_graveyard_scalars {
	ARK_GRAVEYARD_SCALARS
};
struct ark_graveyard_state {
	union {
		struct { ARK_GRAVEYARD_SCALARS };
		struct ark_graveyard_scalars scalars;
	};
	struct ark_graveyard_drift drift;
	/* the overall order-rate window: times of the last allowed orders */
	uint32_t rate_head;
	uint32_t rate_count;
	uint64_t rate_ns[ARK_GRAVEYARD_MAX_RATE];
	struct ark_graveyard_symbol symbols[ARK_GRAVEYARD_MAX_SYMBOLS];
};
/* HRM saves the rate window's cursor (rate_head, rate_count) as one span. */
_Static_assert(offsetof(struct ark_graveyard_state, rate_count) ==
		       offsetof(struct ark_graveyard_state, rate_head) + sizeof(uint32_t),
	       "rate_head and rate_count are adjacent");

struct ark_graveyard_decision {
	uint8_t verdict;      /* ARK_VERDICT_ALLOW or ARK_VERDICT_DENY */
	uint8_t has_intent;
	uint16_t reason;      /* enum ark_reason; NONE when allowed */
	uint16_t rule_id;     /* rules-file line that decided; 0 if none */
	uint16_t reserved;
};

/* What evaluation takes from outside the event: the caller reads its wall
 * clock (HRM: per batch) and records both in the event, so that a replay
 * passes the recorded values and decides the same. */
struct ark_graveyard_inputs {
	uint64_t clock_ceiling_ns;   /* the market clock never passes it (HRM: its wall clock); UINT64_MAX: none */
	uint32_t trading_day;        /* ark_graveyard_trading_day of the wall clock */
	bool quarantined;            /* HRM is quarantined: deny every event */
	bool confirm_by_reports;     /* a network broker reports fills: an allowed order stays in
				      * flight until its reports settle it (recorded: event->hrm_book) */
	uint64_t fresh_ahead_ns;     /* a tick this far ahead of the market clock is still a reference (HRM: the
				      * edges' max skew); further ahead it is none */
};

/* Fresh state for these rules (trading state from the rules file). */
void ark_graveyard_state_init(struct ark_graveyard_state *state, const struct ark_graveyard_rules *rules);
/* Is this (attached, possibly inherited) state valid and made for these rules? */
bool ark_graveyard_state_matches(const struct ark_graveyard_state *state,
				 const struct ark_graveyard_rules *rules);
/* The kill switch: move to a stricter state only (ACTIVE → REDUCING →
 * HALTED); loosening takes a new rules file and a new run. -EPERM otherwise. */
int ark_graveyard_tighten(struct ark_graveyard_state *state, enum ark_trading_state to, struct ark_err *err);

/* Decide one event. No allocation, lock, system call or logging. */
void ark_graveyard_evaluate(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *state,
			    const struct ark_event *event, const struct ark_graveyard_inputs *inputs,
			    struct ark_graveyard_decision *decision);
/* A broker's execution report (ARK_EVENT_EXEC_REPORT) on an order allowed
 * with confirm_by_reports, in sequence order: its fill (event size units at
 * event price) moves the order from in flight to the confirmed position,
 * and when the order is final (ARK_EVENT_ORDER_FINAL) what it left unfilled
 * (quantity - filled_quantity) leaves the in-flight sums. An anomaly's
 * report (ARK_EVENT_BROKER_ANOMALY) or a fill that is not a positive,
 * finite quantity at a price in (0, ARK_TICK_PRICE_CEILING] is not applied:
 * the order stays in flight (the worst case), counted in reports_held.
 * The trading day rolls as for any event; the market clock does not move. */
void ark_graveyard_apply_report(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *state,
				const struct ark_event *event, const struct ark_graveyard_inputs *inputs);
/* The trading state as it stands: HALTED while state_corrupt, otherwise the
 * rules' (or tightened) state; and why it halts (enum ark_halt_cause). */
enum ark_trading_state ark_graveyard_effective_state(const struct ark_graveyard_state *state);
enum ark_halt_cause ark_graveyard_halt_cause(const struct ark_graveyard_state *state);
/* The operator's release of a STATE_CORRUPT latch: recompute the sums from
 * the symbols, forget the mark of any symbol whose values are not finite
 * (the next valid tick marks it again), and clear the latch when everything
 * is finite again. -EIO with a message naming what is still not finite
 * (a position: that needs the book reconciled, not a release). */
int ark_graveyard_release_corrupt(struct ark_graveyard_state *state, struct ark_err *err);

/* Today's P&L (realised + unrealised since the trading day began). */
double ark_graveyard_day_pnl(const struct ark_graveyard_state *state);

/* Ethics drift, off the hot path (HRM: every ~100 ms). Verifies the compiled
 * table against rules->table_sha256; the loaded file's hash against
 * `recorded_hex` (the hash recorded in the Mutable Core; NULL: skip); and the
 * installed file at `installed_path` (NULL: skip) — a stat first, re-hashing
 * only when device, inode, size, mtime or ctime changed. Any difference
 * latches drift in the state: evaluation then denies every event with
 * ARK_REASON_ETHICS_DRIFT. Returns 0 when clean, 1 when drift is latched
 * (now or before; err says why), negative on a bad argument. May run on
 * another thread than evaluate: it writes only state->drift. */
int ark_graveyard_check_drift(const struct ark_graveyard_rules *rules, struct ark_graveyard_state *state,
			      const char *installed_path, const char *recorded_hex, struct ark_err *err);
const char *ark_graveyard_drift_cause_name(enum ark_graveyard_drift_cause cause);

/* ---- injected violations ---- */

/* For an injected event (flags & ARK_EVENT_INJECTED), the intent Joey emits:
 * lane 0 violates event->injected_kind, lane 1 is the allowed setup step the
 * tick spells (side NONE for a price mark). -EINVAL if the event is not
 * injected or names a kind that cannot be injected (NONE, ETHICS_DRIFT,
 * QUARANTINED, unknown); -ERANGE if the tick cannot carry the violation
 * (e.g. a notional violation at a price too low to exceed the notional). */
int ark_graveyard_injected_intent(const struct ark_graveyard_rules *rules, const struct ark_event *event,
				  uint8_t *side, double *quantity, double *limit_price);
/* The small quantity injections use for intents that must pass the caps:
 * min(1, max_order_quantity, max_position). */
double ark_graveyard_unit_quantity(const struct ark_graveyard_limits *limits);

#endif /* ARK_GRAVEYARD_H */
