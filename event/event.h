/* event/event.h — the records that flow through ARK's rings.
 *
 * struct ark_tick is what a source (synthetic generator, TCP line feed, HTTP
 * API, market-data poller) hands Kyle on its own inbound ring: one market
 * observation, 64 bytes. struct ark_event is what Kyle makes of it and what
 * every agent after Kyle reads and extends in place: 256 bytes, four cache
 * lines, laid out so each agent writes its own part:
 *
 *   line 0  identity and market data ........... Kyle
 *   line 1  intent ............................... Joey
 *           verdict .............................. HRM
 *           execution ............................ Kenny
 *   line 2-3 trace: when each agent took the event and passed it on
 *
 * The event carries its own trace, so per-agent and end-to-end latency come
 * from the event itself and a trace is complete when all five stamps pairs
 * are set and in order. Every event visits all five agents, also when Joey
 * takes no action or HRM denies it. Plain data: no pointers, fixed layout,
 * little-endian, safe to journal byte for byte. */
#ifndef ARK_EVENT_H
#define ARK_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define ARK_SYMBOL_MAX 16  /* bytes including the terminating NUL */

enum ark_agent {
	ARK_AGENT_KYLE,
	ARK_AGENT_JOEY,
	ARK_AGENT_HRM,
	ARK_AGENT_KENNY,
	ARK_AGENT_ALETHEIA,
	ARK_AGENT_COUNT
};

enum ark_source_kind {
	ARK_SOURCE_NONE = 0,
	ARK_SOURCE_SYNTHETIC = 1,
	ARK_SOURCE_TCP = 2,
	ARK_SOURCE_API = 3,
	ARK_SOURCE_ALPHA_VANTAGE = 4,
	ARK_SOURCE_REDIS = 5,
};

enum ark_side { ARK_SIDE_NONE = 0, ARK_SIDE_BUY = 1, ARK_SIDE_SELL = 2 };

enum ark_verdict { ARK_VERDICT_PENDING = 0, ARK_VERDICT_ALLOW = 1, ARK_VERDICT_DENY = 2 };

enum ark_exec_status {
	ARK_EXEC_NONE = 0,        /* not handled by Kenny yet */
	ARK_EXEC_FORWARDED = 1,   /* no action or denied: passed on untouched */
	ARK_EXEC_FILLED = 2,
	ARK_EXEC_REJECTED = 3,    /* the broker refused the order */
	ARK_EXEC_DUPLICATE = 4,   /* a resent order the broker already had */
	ARK_EXEC_SUPPRESSED = 5,  /* Kenny quarantined: no order sent */
	ARK_EXEC_SUBMITTED = 6,   /* handed to a network broker; its answer follows as an execution report */
	ARK_EXEC_ACCEPTED = 7,    /* (report) the broker took the order, not filled (yet) */
};

/* The Graveyard's rule kinds. Every HRM denial carries one as its reason
 * code; an injected violation names the kind it violates. The numbers are
 * part of the durable record: never renumber, only append. */
enum ark_reason {
	ARK_REASON_NONE = 0,
	ARK_REASON_HALTED = 1,            /* trading state HALTED */
	ARK_REASON_REDUCING_ONLY = 2,     /* REDUCING and the order does not reduce */
	ARK_REASON_MAX_QUANTITY = 3,
	ARK_REASON_MAX_NOTIONAL = 4,
	ARK_REASON_PRICE_COLLAR = 5,      /* limit outside the collar around the reference */
	ARK_REASON_REFERENCE_PRICE = 6,   /* reference missing, stale, zero or not finite */
	ARK_REASON_RESTRICTED_SYMBOL = 7,
	ARK_REASON_RESTRICTED_PATTERN = 8,
	ARK_REASON_RATE_GLOBAL = 9,
	ARK_REASON_RATE_SYMBOL = 10,
	ARK_REASON_DUPLICATE = 11,
	ARK_REASON_POSITION_LIMIT = 12,
	ARK_REASON_GROSS_EXPOSURE = 13,
	ARK_REASON_DAILY_LOSS = 14,       /* latches HALTED */
	ARK_REASON_ETHICS_DRIFT = 15,     /* rules differ from the recorded hash */
	ARK_REASON_QUARANTINED = 16,      /* HRM quarantined by the watchdog: fail closed */
	ARK_REASON_STATE_CORRUPT = 17,    /* HRM's state held a non-finite value: halted until an operator acts */
	ARK_REASON_COUNT
};

/* Event flags. */
enum {
	ARK_EVENT_SYNTHETIC = 1u << 0,    /* made by the synthetic generator */
	ARK_EVENT_INJECTED = 1u << 1,     /* an injected violation: injected_kind says which */
	ARK_EVENT_QUARANTINED = 1u << 2,  /* passed a quarantined agent (no side effect) */
	ARK_EVENT_REPLAYED = 1u << 3,     /* re-delivered after a restart */
	ARK_EVENT_EXEC_REPORT = 1u << 4,  /* Kenny's execution report on an order it submitted earlier */
	ARK_EVENT_ORDER_FINAL = 1u << 5,  /* (report) the order is done at the broker: nothing more follows */
	ARK_EVENT_CANARY = 1u << 6,       /* took the canary lane (Kyle routed it there) */
};

/* A source's observation, on the source's inbound ring to Kyle. */
struct ark_tick {
	char symbol[ARK_SYMBOL_MAX];
	double price;
	double size;
	uint64_t exchange_time_ns;   /* CLOCK_REALTIME ns as the source reports it */
	uint64_t received_ns;        /* CLOCK_MONOTONIC ns when ARK received it */
	uint16_t source;             /* enum ark_source_kind */
	uint16_t flags;              /* ARK_EVENT_* */
	uint8_t injected_kind;       /* enum ark_reason, with ARK_EVENT_INJECTED */
	uint8_t lane;
	uint16_t burst;              /* with ARK_EVENT_INJECTED: the injection it belongs to (its
				      * events are one test case: Kyle keeps them in one lane) */
	uint64_t source_seq;         /* the source's own running number */
};
_Static_assert(sizeof(struct ark_tick) == 64, "a tick is one cache line");

struct ark_event {
	/* line 0: identity and market data (Kyle) */
	uint64_t seq;                /* the instance's monotonic sequence number */
	uint64_t trace_id;           /* node id << 48 | seq (see ark_trace_id) */
	uint64_t exchange_time_ns;
	double price;
	double size;
	char symbol[ARK_SYMBOL_MAX];
	uint32_t symbol_id;          /* Kyle's index into the symbol table */
	uint16_t source;             /* enum ark_source_kind */
	uint16_t flags;              /* ARK_EVENT_* */

	/* line 1: intent (Joey) */
	uint8_t side;                /* enum ark_side; NONE = no action */
	uint8_t strategy;            /* Joey's rule that fired */
	uint8_t injected_kind;       /* enum ark_reason of an injected violation */
	uint8_t lane;
	float strength;              /* |z-score| that fired the intent */
	double quantity;
	double limit_price;
	/* verdict (HRM) */
	uint8_t verdict;             /* enum ark_verdict */
	uint8_t exec_status;         /* enum ark_exec_status (Kenny) */
	uint16_t rule_id;            /* the Graveyard rule that decided */
	uint16_t reason;             /* enum ark_reason */
	uint16_t node_id;
	/* execution (Kenny) */
	uint64_t client_order_id;    /* derived from the trace id */
	double filled_quantity;
	double fill_price;
	uint64_t source_seq;

	/* lines 2-3: the trace, CLOCK_MONOTONIC ns */
	uint64_t stamp_in_ns[ARK_AGENT_COUNT];   /* when each agent took it */
	uint64_t stamp_out_ns[ARK_AGENT_COUNT];  /* when each agent passed it on */
	double position_after;       /* Kenny: the symbol's position after this event */
	double realized_pnl_after;   /* Kenny: the symbol's realised P&L after it */
	uint16_t broker_http_status; /* Kenny (network broker): the status of the broker's last answer */
	uint16_t reserved16;
	uint32_t broker_error_code;  /* the broker's own error code (Alpaca: 40310000, ...) */
	/* HRM's inputs that do not come from the event itself, recorded so that
	 * a replay or an audit sees what HRM saw: its market clock after this
	 * event (bounded by the wall clock) and the trading day (from the wall
	 * clock in the exchange's time zone). */
	uint64_t hrm_market_ns;
	uint32_t hrm_trading_day;
	uint8_t hrm_state;           /* enum ark_trading_state after this event */
	uint8_t hrm_halt_cause;      /* enum ark_halt_cause after this event */
	uint8_t reserved[10];
};
_Static_assert(sizeof(struct ark_event) == 256, "an event is four cache lines");
_Static_assert(offsetof(struct ark_event, side) == 64, "the intent starts line 1");
_Static_assert(offsetof(struct ark_event, stamp_in_ns) == 128, "the trace starts line 2");
_Static_assert(offsetof(struct ark_event, hrm_market_ns) % 8 == 0, "HRM's clock is aligned");

/* Why trading stopped, when HRM's trading state is HALTED (or tightened). */
enum ark_halt_cause {
	ARK_HALT_NONE = 0,
	ARK_HALT_RULES = 1,          /* the rules file says so, or an operator tightened it */
	ARK_HALT_DAILY_LOSS = 2,     /* the daily-loss latch (clears at the next trading day) */
	ARK_HALT_STATE_CORRUPT = 3,  /* a non-finite value in HRM's state: until an operator acts */
};
const char *ark_halt_cause_name(enum ark_halt_cause cause);

/* ---- Bounds on a tick, checked at every edge ----
 *
 * What a source may hand Kyle as a clean market observation. Every edge
 * (TCP feed, ingest API, Alpha Vantage, the synthetic source's clean ticks,
 * and Kyle itself as the backstop for any source) applies the same check, so
 * no value that could poison the agents' state gets past the edge:
 *   price  finite, min_price < price <= max_price (default 0 < p <= 1e7)
 *   size   finite, 0 <= size <= max_size (default 1e9)
 *   ts     not more than max_skew ahead of the receiver's wall clock
 *          (default 5 s) and, for live market sources, not older than
 *          max_age (default 1 h); 0 means "stamp it on receipt"
 * The ceilings below hold whatever the configuration says: HRM treats a
 * price above ARK_TICK_PRICE_CEILING as no valid reference, so an injected
 * absurd value (which the synthetic route may carry on purpose) is denied,
 * never marked. Environment: ARK_TICK_MIN_PRICE, ARK_TICK_MAX_PRICE,
 * ARK_TICK_MAX_SIZE, ARK_TICK_MAX_SKEW, ARK_TICK_MAX_AGE. */
#define ARK_TICK_PRICE_CEILING 1e9
#define ARK_TICK_SIZE_CEILING 1e12
#define ARK_TICK_SKEW_CEILING_NS (3600ull * 1000000000ull)

struct ark_tick_bounds {
	double min_price;        /* exclusive */
	double max_price;        /* inclusive */
	double max_size;         /* inclusive */
	uint64_t max_skew_ns;    /* ts at most this far ahead of the receiver's wall clock */
	uint64_t max_age_ns;     /* ts at most this far behind it (live sources); 0 = no limit */
};

enum ark_tick_fault {
	ARK_TICK_OK = 0,
	ARK_TICK_BAD_PRICE,      /* not finite, <= min_price, or > max_price */
	ARK_TICK_BAD_SIZE,       /* not finite, negative, or > max_size */
	ARK_TICK_TS_FUTURE,      /* more than max_skew ahead of the wall clock */
	ARK_TICK_TS_OLD,         /* more than max_age behind the wall clock */
	ARK_TICK_FAULT_COUNT
};

/* Which checks apply. */
enum {
	ARK_TICK_CHECK_VALUES = 1u << 0,   /* price and size */
	ARK_TICK_CHECK_FUTURE = 1u << 1,   /* ts against max_skew */
	ARK_TICK_CHECK_AGE = 1u << 2,      /* ts against max_age */
	ARK_TICK_CHECK_ALL = 7u,
};

/* The defaults above. */
void ark_tick_bounds_default(struct ark_tick_bounds *bounds);
/* The defaults, overridden by ARK_TICK_*; a bad value is an error naming the
 * variable and what it must be (within the ceilings; min < max). */
int ark_tick_bounds_from_env(struct ark_tick_bounds *bounds, char *error, size_t error_size);
/* Check one tick; ts 0 passes the time checks (the receiver stamps it).
 * On a fault, `field` is set to "price", "size" or "ts" and `detail` (if
 * not NULL) says what was wrong and what was expected. No allocation, no
 * system call: the caller passes its wall clock. */
enum ark_tick_fault ark_tick_check(const struct ark_tick_bounds *bounds, const struct ark_tick *tick,
				   uint64_t wall_now_ns, unsigned checks, const char **field, char *detail,
				   size_t detail_size);
const char *ark_tick_fault_name(enum ark_tick_fault fault);   /* "bad_price", "ts_future", ... */

/* Trace ids are unique across nodes: the node id in the top 16 bits, the
 * node's sequence number below. */
static inline uint64_t ark_trace_id(uint16_t node_id, uint64_t seq)
{
	return ((uint64_t)node_id << 48) | (seq & 0xffffffffffffull);
}

/* Trace ids given at the ingest API, before Kyle numbers the event: bit 47
 * set, the API's own running number below (it starts each run after the
 * journal's last seq, so it never repeats one of an earlier run). */
#define ARK_TRACE_API_BIT (1ull << 47)
static inline uint64_t ark_trace_id_api(uint16_t node_id, uint64_t api_seq)
{
	return ((uint64_t)node_id << 48) | ARK_TRACE_API_BIT | (api_seq & (ARK_TRACE_API_BIT - 1));
}

/* Agent names as operators know them ("Kyle", ...) and as files and
 * variables spell them ("kyle", "KYLE"). */
const char *ark_agent_name(enum ark_agent agent);
const char *ark_agent_file_name(enum ark_agent agent);
/* Parse "kyle", "Kyle" or "KYLE"; -1 if unknown. */
int ark_agent_parse(const char *text);

const char *ark_reason_name(enum ark_reason reason);   /* "max_quantity", ... */
const char *ark_side_name(enum ark_side side);
const char *ark_verdict_name(enum ark_verdict verdict);
const char *ark_exec_status_name(enum ark_exec_status status);
const char *ark_source_name(enum ark_source_kind source);

/* Format a trace id as "0001-00000000002a" (node, seq); parse that form, a
 * bare 16-digit hex id, or a decimal sequence number (node 0). */
void ark_trace_id_format(uint64_t trace_id, char out[24]);
int ark_trace_id_parse(const char *text, uint64_t *trace_id);

#endif /* ARK_EVENT_H */
