/* synth/synth.h — Kyle's synthetic source: a deterministic generator of
 * struct ark_tick with random-walk prices and injected Graveyard violations.
 *
 * Same seed, config and rules → the same ticks, byte for byte: a seeded
 * xoshiro256** drives everything, and the generator owns a MARKET CLOCK
 * (exchange_time_ns) that advances by the nominal period per tick (paced:
 * 1/rate; unpaced: config.unpaced_period_ns, 1 us by default) from a fixed
 * start (2024-01-02T14:30:00Z unless configured), never from the wall clock.
 * ark_synth_next() is pure: no I/O, no allocation, no system call. Pacing
 * (when a tick is due in CLOCK_MONOTONIC terms) is a separate helper.
 * The generator is plain data (no pointers): it may live in the segment.
 *
 * Clean ticks: symbols from the universe (SYM0001.. or a list; none may be
 * restricted by the rules), a log-price random walk per symbol, reflected
 * inside [p0/e^2, p0*e^2] so it stays positive and finite, sizes 100..1000.
 *
 * Injected violations: a fraction `violations` of ALL ticks are lane-0
 * violations, spread round-robin over every kind the rules allow injecting
 * (ark_synth_injects); setup ticks (lane 1) come on top. Each injection
 * trades only its own symbols (INJ0001.., the rules' restricted symbols, a
 * symbol made to match each restricted pattern), never a clean one, and
 * leaves them flat when it is done; the clock jumps past every rate and
 * duplicate window before and after each stateful injection, so a clean tick
 * is never denied because of one. What each kind sends (see graveyard.h for
 * how a tick spells its intent: lane 1 size = signed quantity, 0 = mark):
 *
 *   MAX_QUANTITY       one tick; Joey asks 2 x max_order_quantity
 *   PRICE_COLLAR       one tick; Joey's limit is 2 collars from the price
 *   MAX_NOTIONAL       one tick at 2 x max_order_notional / max_order_quantity;
 *                      Joey asks max_order_quantity
 *   REFERENCE_PRICE    one tick, rotating: price 0, NaN, +inf, negative,
 *                      exchange time 0, exchange time older than the clock by
 *                      reference_max_age + 1us (the clock does not move)
 *   RESTRICTED_SYMBOL  one tick on a listed symbol (rotating)
 *   RESTRICTED_PATTERN one tick on a symbol built to match a pattern
 *   DUPLICATE          jump; buy u; lane 0 repeats it; jump; sell u; jump
 *   RATE_SYMBOL        jump; order_rate_per_symbol alternating buys/sells of u
 *                      on one symbol, 1 ns apart; lane 0 is one more; jump;
 *                      flatten; jump
 *   RATE_GLOBAL        jump; order_rate alternating orders spread over enough
 *                      symbols that none reaches its per-symbol limit; lane 0
 *                      one more on a symbol with room; jump; flatten; jump
 *   POSITION_LIMIT     jump; buy up to exactly max_position in allowed chunks;
 *                      lane 0 buys u more; sell it all back; jump
 *   GROSS_EXPOSURE     jump; build positions to max_gross_exposure - n/2 on
 *                      symbols within max_position; lane 0 buys notional n on a
 *                      flat symbol; sell it all back; jump
 *   DAILY_LOSS         the stream's FINALE, once, after its last other tick
 *                      (the last 3 of a paced run's rate x duration ticks,
 *                      or after ark_synth_finish):
 *                      jump; sell short Q; a price mark (size 0) that loses
 *                      4 x daily_loss_limit, which latches; lane 0: any
 *                      order. The latch holds until the next trading day by
 *                      the wall clock (a tick cannot end a day), so nothing
 *                      follows it: no clean intent is ever denied for it.
 *   HALTED             only when the rules' state is HALTED: one tick
 *   REDUCING_ONLY      only when the rules' state is REDUCING: one tick, a buy
 *                      on a flat symbol
 * (u = ark_graveyard_unit_quantity; chunks respect every cap and the rate
 * windows — the clock jumps between them when a window would fill.)
 * HALTED and REDUCING_ONLY cannot be injected into an ACTIVE stream: the
 * trading state comes from the immutable rules file and only tightens, so
 * there is no way back to ACTIVE for the clean ticks that follow; they are
 * injected when the rules' state is HALTED or REDUCING (and tested in
 * tests/graveyard/). In a HALTED stream only HALTED is injectable; in a
 * REDUCING one, REDUCING_ONLY and the stateless kinds. A kind whose limits
 * make it impossible to inject (e.g. order_rate_per_symbol above order_rate)
 * is skipped, and ark_synth_kind_status says why.
 *
 * Assumptions outside the generator's control: the stateful injections
 * assume no other intents trade their symbols (true: only injected ticks
 * carry them), that other open positions keep gross exposure below half the
 * lane-0 notional of the gross injection, and that the rest of the book's
 * daily P&L stays above -3 x daily_loss_limit (the daily-loss injection loses
 * 4 x). With clean ticks that carry no intent (or small allowed ones on
 * clean symbols) every assumption holds. */
#ifndef ARK_SYNTH_H
#define ARK_SYNTH_H

#include "common/common.h"
#include "event/event.h"
#include "graveyard/graveyard.h"

#include <stdbool.h>
#include <stdint.h>

#define ARK_SYNTH_MAX_SYMBOLS 2048              /* clean universe */
#define ARK_SYNTH_POOL_MAX 1024                 /* injection symbols INJ0001.. */
#define ARK_SYNTH_DEFAULT_START_NS 1704205800000000000ull  /* 2024-01-02T14:30:00Z */
#define ARK_SYNTH_DEFAULT_UNPACED_PERIOD_NS 1000ull
#define ARK_SYNTH_MAX_VIOLATIONS 0.5
#define ARK_SYNTH_BURST_OPS 48
#define ARK_SYNTH_MAX_STEPS 4096                /* chunks per position build */

struct ark_synth_config {
	double rate_hz;              /* ticks per second, 0.1 .. 1e9; 0 = unpaced */
	uint64_t duration_ns;        /* paced: rate x duration ticks, then the end; 0 = endless */
	uint64_t seed;
	double violations;           /* fraction of all ticks that are lane-0 violations, 0 .. 0.5 */
	uint32_t symbol_count;       /* SYM0001..SYMnnnn, when symbol_list_count is 0 */
	uint32_t symbol_list_count;
	char symbols[ARK_SYNTH_MAX_SYMBOLS][ARK_SYMBOL_MAX];
	uint64_t start_ns;           /* market time of the first tick */
	uint64_t unpaced_period_ns;  /* market-clock step per tick when unpaced */
};

/* Defaults: unpaced, endless, seed 1, violations 0.01, 64 symbols. */
void ark_synth_config_defaults(struct ark_synth_config *config);
/* Command-line values, strictly parsed (the error names the option):
 *   --rate       ticks/s from 0.1 to 1e9, or "max" / "unpaced" / 0
 *   --duration   500ms, 10s, 2m ... (a bare number is seconds)
 *   --seed       0 .. 2^64-1
 *   --violations a fraction 0 .. 0.5, or a percentage such as 1%
 *   --symbols    a count 1 .. 2048 or a comma-separated list of symbols */
int ark_synth_config_parse_rate(struct ark_synth_config *config, const char *text, struct ark_err *err);
int ark_synth_config_parse_duration(struct ark_synth_config *config, const char *text, struct ark_err *err);
int ark_synth_config_parse_seed(struct ark_synth_config *config, const char *text, struct ark_err *err);
int ark_synth_config_parse_violations(struct ark_synth_config *config, const char *text, struct ark_err *err);
int ark_synth_config_parse_symbols(struct ark_synth_config *config, const char *text, struct ark_err *err);

/* ---- the generator (plain data; treat as opaque) ---- */

struct ark_synth_symbol {
	char name[ARK_SYMBOL_MAX];
	double log_price;
	double log_low, log_high;
};

struct ark_synth_pool_symbol {
	char name[ARK_SYMBOL_MAX];
	uint64_t window_epoch;       /* the generator's model of HRM's windows */
	uint32_t window_count;
	uint8_t last_side;
	uint8_t reserved[3];
	double last_quantity;
	double last_price;
};

enum ark_synth_op_kind {
	ARK_SYNTH_OP_JUMP = 1,       /* clock past every window */
	ARK_SYNTH_OP_INTENT,         /* lane 1: one order (auto-spaced) */
	ARK_SYNTH_OP_CHUNKS,         /* lane 1: |total| in chunks of at most `chunk` (auto-spaced) */
	ARK_SYNTH_OP_MARK,           /* lane 1: a price, no order */
	ARK_SYNTH_OP_ALTERNATE,      /* lane 1: count orders over symbols, sides alternating, 1 ns apart */
	ARK_SYNTH_OP_FLATTEN_ALTERNATE, /* lane 1: undo what ALTERNATE left open (auto-spaced) */
	ARK_SYNTH_OP_VIOLATION,      /* lane 0 */
};

struct ark_synth_op {
	uint8_t kind;                /* enum ark_synth_op_kind */
	uint8_t space;               /* VIOLATION: jump first if a window would be full */
	uint8_t source;              /* VIOLATION: 0 pool, 1 restricted list, 2 pattern symbol */
	uint8_t variant;             /* VIOLATION: REFERENCE_PRICE variant 1..6, 0 none */
	uint32_t symbol;             /* index into the pool (or list, per source) */
	uint32_t symbol_span;        /* ALTERNATE: symbols [symbol, symbol + span) */
	uint32_t count;              /* ALTERNATE: orders */
	double price;
	double quantity;             /* signed; CHUNKS: the total */
	double chunk;
};

struct ark_synth_plan {
	/* derived once from the rules */
	double unit;                 /* u: the small order */
	double small_price;
	double notional_price;
	uint32_t global_symbols;     /* RATE_GLOBAL: symbols the fill spreads over */
	double position_price, position_chunk, position_lane0;
	double gross_price, gross_chunk, gross_lane0, gross_setup_quantity;
	uint32_t gross_symbols;
	double loss_price, loss_mark, loss_quantity, loss_chunk;
	double burst_ticks[ARK_REASON_COUNT];   /* ticks per injection, for the fraction check */
};

struct ark_synth {
	uint32_t bursts;             /* injections started (ark_tick.burst) */
	/* configuration */
	double rate_hz;
	double violations;
	uint64_t period_ns;          /* market-clock step per clean tick */
	uint64_t max_ticks;          /* 0 = endless */
	uint64_t gap_ns;             /* a jump: longer than every window */
	struct ark_graveyard_limits limits;
	struct ark_synth_plan plan;
	/* kinds injected, round-robin */
	uint8_t kinds[ARK_REASON_COUNT];
	uint32_t kind_count;
	uint32_t next_kind;
	char kind_status[ARK_REASON_COUNT][96];  /* "" when injectable, else why not */
	/* randomness and the market clock */
	uint64_t rng[4];
	uint64_t now_ns;
	uint64_t emitted;
	double credit;               /* violations owed */
	uint32_t finale_pending;     /* the DAILY_LOSS finale is still to come */
	uint32_t finishing;          /* ark_synth_finish: the finale, then the end */
	/* the burst in progress */
	uint32_t in_burst;
	uint32_t burst_kind;
	uint32_t burst_stateless;    /* one tick in the stream's rhythm */
	uint32_t op_count;
	uint32_t op_index;
	uint32_t op_step;            /* progress within the current op */
	double op_done;              /* CHUNKS: quantity sent so far */
	struct ark_synth_op ops[ARK_SYNTH_BURST_OPS];
	uint64_t window_epoch;
	uint32_t window_total;       /* allowed orders since the last jump */
	uint32_t reference_variant;
	uint32_t restricted_next;
	uint32_t pattern_next;
	/* symbols */
	uint32_t symbol_count;
	uint32_t pool_count;
	uint32_t pool_next;
	uint32_t pattern_symbol_count;
	char pattern_symbols[ARK_GRAVEYARD_MAX_PATTERNS][ARK_SYMBOL_MAX];
	struct ark_synth_pool_symbol pool[ARK_SYNTH_POOL_MAX];
	struct ark_synth_symbol symbols[ARK_SYNTH_MAX_SYMBOLS];
	/* what was sent */
	uint64_t clean;
	uint64_t lane0[ARK_REASON_COUNT];
	uint64_t lane1[ARK_REASON_COUNT];
};

/* Plan the stream for these rules. Fails (naming the problem) when a symbol
 * of the universe is restricted by the rules, or when the rules make the
 * requested violation fraction impossible without crowding out clean ticks
 * (more than 60 % of the stream would be injections). */
int ark_synth_init(struct ark_synth *gen, const struct ark_synth_config *config,
		   const struct ark_graveyard_rules *rules, struct ark_err *err);
/* The next tick: 1, or 0 when a paced run has sent rate x duration ticks
 * and the finale. received_ns is left 0 (Kyle stamps it); source_seq counts
 * from 1. */
int ark_synth_next(struct ark_synth *gen, struct ark_tick *out);
/* End the stream (an unpaced run's time is up): the finale's ticks, if any,
 * then ark_synth_next returns 0. */
void ark_synth_finish(struct ark_synth *gen);

/* Does the stream inject this kind? NULL if yes, else why not. */
const char *ark_synth_kind_status(const struct ark_synth *gen, enum ark_reason kind);
bool ark_synth_injects(const struct ark_synth *gen, enum ark_reason kind);
/* Symbols the stream may carry, for sizing Kyle's symbol table. */
uint32_t ark_synth_symbol_budget(const struct ark_synth *gen);

/* Pacing: the CLOCK_MONOTONIC time the next tick is due when the run began at
 * start_ns (tick k at start + k / rate); 0 when unpaced. And a wait until
 * then (clock_nanosleep; returns early on a signal with -EINTR). */
uint64_t ark_synth_due_ns(const struct ark_synth *gen, uint64_t start_ns);
int ark_synth_wait_due(const struct ark_synth *gen, uint64_t start_ns);

#endif /* ARK_SYNTH_H */
