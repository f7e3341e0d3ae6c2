/* audit/audit.c — the audit's evaluator: the Graveyard's documented rules,
 * re-decided from the record, in straight-line code with state of its own.
 *
 * Invariants: state is keyed by the symbol's text (never Kyle's ids), moved
 * only by what the record says HRM allowed and, when an event says HRM's
 * book was kept by the broker's reports (hrm_book), by those reports at
 * their place in the record; every comparison is written so that NaN is a
 * violation; nothing here is shared with graveyard/. */
#include "audit/audit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192u                 /* symbols per lane (Kyle has at most 4096 ids) */
#define SLACK (1 + 1e-9)
#define PRICE_CEILING ARK_TICK_PRICE_CEILING

struct sym {
	char name[ARK_SYMBOL_MAX];
	bool used;
	double position, average, mark;
	double in_buy, in_sell, in_buy_cost, in_sell_cost;   /* orders in flight (hrm_book REPORTS) */
	uint64_t mark_time;
	uint8_t last_side;
	double last_quantity, last_limit;
	uint64_t last_time;
	uint64_t times[64];             /* allowed orders' times, oldest first once full */
	uint32_t n_times;
};

struct lane {
	const struct ark_audit_rules *rules;
	struct sym *syms;
	uint64_t *global_times;         /* ring of the last order_rate_count allowed times */
	uint32_t global_n, global_head;
	double realised, unrealised, gross, day_base;
	bool latched, day_started, corrupt_reported;
	uint32_t day;
	uint64_t market;
};

struct ark_audit {
	struct ark_audit_rules rules, canary_rules;
	bool has_canary;
	struct lane lanes[2];
	ark_audit_finding_fn on_finding;
	void *ctx;
	struct ark_audit_counts counts;
};

const char *ark_audit_kind_name(enum ark_audit_kind kind)
{
	static const char *const names[ARK_AUDIT_KIND_COUNT] = {
		"allowed_violation", "wrong_reason", "denied_clean", "non_finite", "state_corrupt", "clock", "overfill"};
	return (unsigned)kind < ARK_AUDIT_KIND_COUNT ? names[kind] : "unknown";
}

static int lane_init(struct lane *l, const struct ark_audit_rules *rules)
{
	free(l->syms);
	free(l->global_times);
	memset(l, 0, sizeof *l);
	l->rules = rules;
	l->syms = calloc(SLOTS, sizeof *l->syms);
	l->global_times = calloc(rules->order_rate_count ? rules->order_rate_count : 1, sizeof *l->global_times);
	return l->syms && l->global_times ? 0 : -ENOMEM;
}

int ark_audit_create(struct ark_audit **out, const struct ark_audit_rules *rules, ark_audit_finding_fn on_finding,
		     void *ctx, struct ark_err *err)
{
	struct ark_audit *a = calloc(1, sizeof *a);
	if (!a)
		return ark_err_set(err, -ENOMEM, "out of memory");
	a->rules = *rules;
	a->on_finding = on_finding;
	a->ctx = ctx;
	if (lane_init(&a->lanes[0], &a->rules)) {
		ark_audit_destroy(a);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	*out = a;
	return 0;
}

void ark_audit_set_canary_rules(struct ark_audit *a, const struct ark_audit_rules *rules)
{
	a->canary_rules = *rules;
	a->has_canary = lane_init(&a->lanes[1], &a->canary_rules) == 0;
}

void ark_audit_destroy(struct ark_audit *a)
{
	if (!a)
		return;
	for (int i = 0; i < 2; i++) {
		free(a->lanes[i].syms);
		free(a->lanes[i].global_times);
	}
	free(a);
}

void ark_audit_counts(const struct ark_audit *a, struct ark_audit_counts *counts)
{
	*counts = a->counts;
}

static void report(struct ark_audit *a, enum ark_audit_kind kind, const struct ark_event *e, int recorded,
		   int expected, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void report(struct ark_audit *a, enum ark_audit_kind kind, const struct ark_event *e, int recorded,
		   int expected, const char *fmt, ...)
{
	struct ark_audit_finding f;
	memset(&f, 0, sizeof f);
	f.kind = kind;
	f.seq = e->seq;
	f.trace_id = e->trace_id;
	memcpy(f.symbol, e->symbol, ARK_SYMBOL_MAX - 1);
	for (int i = 0; f.symbol[i]; i++)
		if (!isprint((unsigned char)f.symbol[i]))
			f.symbol[i] = '?';
	f.recorded_reason = (uint16_t)recorded;
	f.expected_reason = (uint16_t)expected;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f.detail, sizeof f.detail, fmt, ap);
	va_end(ap);
	a->counts.findings[kind]++;
	a->counts.findings_total++;
	if (a->on_finding)
		a->on_finding(a->ctx, &f);
}

static struct sym *find(struct lane *l, const char *symbol)
{
	char name[ARK_SYMBOL_MAX] = {0};
	memcpy(name, symbol, ARK_SYMBOL_MAX - 1);
	uint32_t h = 2166136261u;
	for (int i = 0; name[i]; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	for (uint32_t k = 0; k < SLOTS; k++) {
		struct sym *s = &l->syms[(h + k) & (SLOTS - 1)];
		if (!s->used) {
			s->used = true;
			memcpy(s->name, name, sizeof name);
			return s;
		}
		if (memcmp(s->name, name, sizeof name) == 0)
			return s;
	}
	return NULL;   /* more symbols than any instance can have */
}

/* '*' any run, '?' one character, case-insensitive. */
static bool glob(const char *p, const char *s)
{
	if (!*p)
		return !*s;
	if (*p == '*')
		return glob(p + 1, s) || (*s && glob(p, s + 1));
	if (!*s)
		return false;
	if (*p != '?' && toupper((unsigned char)*p) != toupper((unsigned char)*s))
		return false;
	return glob(p + 1, s + 1);
}

/* The worst |position| if every buy in flight fills and no sell, or the
 * reverse. */
static double worst(const struct sym *s, double more_buy, double more_sell)
{
	return fmax(fabs(s->position + s->in_buy + more_buy), fabs(s->position - s->in_sell - more_sell));
}

static double day_pnl(const struct lane *l)
{
	return l->realised + l->unrealised - l->day_base;
}

static void check_latch(struct lane *l)
{
	if (!l->latched && !(day_pnl(l) >= -l->rules->daily_loss_limit * SLACK))
		l->latched = true;
}

/* The first rule this intent breaks, or NONE. */
static int first_violation(const struct lane *l, const struct sym *s, const struct ark_event *e, bool reference_ok)
{
	const struct ark_audit_rules *r = l->rules;
	if (r->trading_state == 2)
		return ARK_REASON_HALTED;
	if (l->latched)
		return ARK_REASON_DAILY_LOSS;
	char up[ARK_SYMBOL_MAX] = {0};
	for (int i = 0; i < ARK_SYMBOL_MAX - 1 && e->symbol[i]; i++)
		up[i] = (char)toupper((unsigned char)e->symbol[i]);
	for (int i = 0; i < r->restricted_count; i++)
		if (strcmp(up, r->restricted[i]) == 0)
			return ARK_REASON_RESTRICTED_SYMBOL;
	for (int i = 0; i < r->pattern_count; i++)
		if (glob(r->patterns[i], up))
			return ARK_REASON_RESTRICTED_PATTERN;
	if (!reference_ok)
		return ARK_REASON_REFERENCE_PRICE;
	double q = e->quantity, limit = e->limit_price, price = e->price;
	if (!(q > 0 && q <= r->max_order_quantity * SLACK))
		return ARK_REASON_MAX_QUANTITY;
	if (!(limit > 0 && fabs(limit - price) <= r->price_collar * price * SLACK))
		return ARK_REASON_PRICE_COLLAR;
	if (!(q * limit <= r->max_order_notional * SLACK))
		return ARK_REASON_MAX_NOTIONAL;
	double change = e->side == ARK_SIDE_BUY ? q : -q;
	if (r->trading_state == 1) {
		/* Room to reduce without flipping, even if the orders in flight
		 * on this side all fill. */
		double room = change > 0 ? -s->position - s->in_buy : s->position - s->in_sell;
		if (!(room > 0 && q <= room * SLACK))
			return ARK_REASON_REDUCING_ONLY;
	}
	if (s->last_side == e->side && s->last_quantity == q && s->last_limit == limit &&
	    l->market - s->last_time < r->duplicate_window_ns)
		return ARK_REASON_DUPLICATE;
	if (r->order_rate_per_symbol_count && s->n_times >= r->order_rate_per_symbol_count &&
	    l->market - s->times[s->n_times - r->order_rate_per_symbol_count] < r->order_rate_per_symbol_window_ns)
		return ARK_REASON_RATE_SYMBOL;
	if (l->global_n >= r->order_rate_count &&
	    l->market - l->global_times[l->global_head] < r->order_rate_window_ns)
		return ARK_REASON_RATE_GLOBAL;
	double before = worst(s, 0, 0), after = change > 0 ? worst(s, q, 0) : worst(s, 0, q);
	double grows = after - before;
	if (!(grows <= 0 || after <= r->max_position * SLACK))
		return ARK_REASON_POSITION_LIMIT;
	if (!(grows <= 0 || l->gross + grows * s->mark <= r->max_gross_exposure * SLACK))
		return ARK_REASON_GROSS_EXPOSURE;
	return ARK_REASON_NONE;
}

static void fill(struct lane *l, struct sym *s, double change, double price);

/* An allowed intent: into the windows, the duplicate memory, and the book
 * (filled at its limit price: the pre-trade view the rules are stated on). */
static void apply(struct lane *l, struct sym *s, const struct ark_event *e)
{
	const struct ark_audit_rules *r = l->rules;
	double q = e->quantity, limit = e->limit_price;
	if (s->n_times == 64) {
		memmove(s->times, s->times + 1, 63 * sizeof s->times[0]);
		s->n_times = 63;
	}
	s->times[s->n_times++] = l->market;
	if (r->order_rate_count) {
		if (l->global_n < r->order_rate_count) {
			l->global_times[(l->global_head + l->global_n) % r->order_rate_count] = l->market;
			l->global_n++;
		} else {
			l->global_times[l->global_head] = l->market;
			l->global_head = (l->global_head + 1) % r->order_rate_count;
		}
	}
	s->last_side = e->side;
	s->last_quantity = q;
	s->last_limit = limit;
	s->last_time = l->market;
	if (e->hrm_book == ARK_HRM_BOOK_REPORTS) {
		/* In flight, as if filled at its limit, until reports settle it. */
		double was = worst(s, 0, 0);
		if (e->side == ARK_SIDE_BUY) {
			s->in_buy += q;
			s->in_buy_cost += q * limit;
			l->unrealised += q * (s->mark - limit);
		} else {
			s->in_sell += q;
			s->in_sell_cost += q * limit;
			l->unrealised -= q * (s->mark - limit);
		}
		l->gross += (worst(s, 0, 0) - was) * s->mark;
		check_latch(l);
		return;
	}
	fill(l, s, e->side == ARK_SIDE_BUY ? q : -q, limit);
	check_latch(l);
}

/* The confirmed position takes `change` units at `price`. */
static void fill(struct lane *l, struct sym *s, double change, double price)
{
	double q = fabs(change), limit = price;
	double old = s->position, next = old + change, average = s->average;
	if (fabs(next) <= 1e-9 * (fabs(old) + fabs(change)))
		next = 0;
	if (old == 0 || (old > 0) == (change > 0)) {
		average = (fabs(old) * s->average + q * limit) / (fabs(old) + q);
	} else {
		double closing = fmin(q, fabs(old));
		l->realised += closing * (limit - s->average) * (old > 0 ? 1 : -1);
		average = next == 0 ? 0 : (next > 0) != (old > 0) ? limit : s->average;
	}
	double was = worst(s, 0, 0);
	l->unrealised += next * (s->mark - average) - old * (s->mark - s->average);
	s->position = next;
	s->average = average;
	l->gross += (worst(s, 0, 0) - was) * s->mark;
}

/* A broker's execution report on an order allowed with hrm_book REPORTS:
 * its fill joins the confirmed position at the broker's price; the fill,
 * and with the final report what the order left, leave the flight. An
 * anomaly's report, or a fill no book can take, leaves it in flight. */
static void settle(struct lane *l, struct sym *s, const struct ark_event *e)
{
	bool buy = e->side == ARK_SIDE_BUY;
	double q = e->quantity, limit = e->limit_price, d = e->size, price = e->price;
	if (e->flags & ARK_EVENT_BROKER_ANOMALY)
		return;
	if (d != 0 && !(d > 0 && d <= q * SLACK && price > 0 && price <= PRICE_CEILING))
		return;
	double in_was = buy ? s->in_buy : s->in_sell, cost_was = buy ? s->in_buy_cost : s->in_sell_cost;
	if (d > 0)
		fill(l, s, buy ? d : -d, price);
	double leaves = d;
	double rest = q - e->filled_quantity;
	if ((e->flags & ARK_EVENT_ORDER_FINAL) && rest > 0 && isfinite(rest))
		leaves += rest;
	double in = in_was, cost = cost_was;
	if (leaves > 0 && limit > 0 && isfinite(limit)) {
		if (leaves >= in * (1 - 1e-9)) {
			in = 0;
			cost = 0;
		} else {
			in -= leaves;
			cost -= leaves * limit;
			if (!(cost > 0))
				cost = 0;
		}
	}
	/* The flight's part of the unrealised P&L: in flight x mark - its cost. */
	double sign = buy ? 1 : -1;
	l->unrealised += sign * ((in - in_was) * s->mark - (cost - cost_was));
	double gross_mid = worst(s, 0, 0);
	if (buy) {
		s->in_buy = in;
		s->in_buy_cost = cost;
	} else {
		s->in_sell = in;
		s->in_sell_cost = cost;
	}
	l->gross += (worst(s, 0, 0) - gross_mid) * s->mark;
	check_latch(l);
}

static void check_finite(struct ark_audit *a, const struct ark_event *e)
{
	struct {
		const char *name;
		double value;
		bool applies;
	} fields[] = {
		{"price", e->price, !(e->flags & ARK_EVENT_INJECTED)},
		{"size", e->size, !(e->flags & ARK_EVENT_INJECTED)},
		{"quantity", e->quantity, e->side != ARK_SIDE_NONE},
		{"limit_price", e->limit_price, e->side != ARK_SIDE_NONE},
		{"strength", e->strength, true},
		{"filled_quantity", e->filled_quantity, true},
		{"fill_price", e->fill_price, true},
		{"position_after", e->position_after, true},
		{"realized_pnl_after", e->realized_pnl_after, true},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (fields[i].applies && !isfinite(fields[i].value))
			report(a, ARK_AUDIT_NON_FINITE, e, e->reason, e->reason, "%s is %g", fields[i].name, fields[i].value);
}

/* Filled beyond the order (or a fill that is not a number at all). */
static bool overfilled(const struct ark_event *e)
{
	return !(e->filled_quantity >= 0 && e->filled_quantity <= e->quantity * SLACK);
}

/* The market clock: as HRM recorded it (its wall clock bounds it), held to
 * what the ticks can explain; a new trading day resets the day's base. */
static void advance_clock(struct ark_audit *a, struct lane *l, const struct ark_event *e, int recorded)
{
	uint64_t t = e->exchange_time_ns;
	uint64_t explained = t > l->market ? t : l->market;
	if (e->hrm_market_ns) {
		if (e->hrm_market_ns < l->market)
			report(a, ARK_AUDIT_CLOCK, e, recorded, recorded, "market clock went back from %llu to %llu",
			       (unsigned long long)l->market, (unsigned long long)e->hrm_market_ns);
		else if (e->hrm_market_ns > explained)
			report(a, ARK_AUDIT_CLOCK, e, recorded, recorded, "market clock %llu is ahead of every tick (%llu)",
			       (unsigned long long)e->hrm_market_ns, (unsigned long long)explained);
		l->market = e->hrm_market_ns;
		if (!l->day_started || e->hrm_trading_day > l->day) {
			l->day_started = true;
			l->day = e->hrm_trading_day;
			l->day_base = l->realised + l->unrealised;
			l->latched = false;
		} else if (e->hrm_trading_day < l->day) {
			report(a, ARK_AUDIT_CLOCK, e, recorded, recorded, "trading day went back from %u to %u", l->day,
			       e->hrm_trading_day);
		}
	} else {
		l->market = explained;   /* a record from before HRM recorded its clock */
		if (!l->day_started) {
			l->day_started = true;
			l->day_base = l->realised + l->unrealised;
		}
	}
}

/* An intent: decide it again from the audit's own book and compare with
 * what HRM recorded; an allowed one moves the book. */
static void judge(struct ark_audit *a, struct lane *l, struct sym *s, const struct ark_event *e, bool reference_ok)
{
	const bool denied = e->verdict == ARK_VERDICT_DENY;
	const int recorded = denied ? e->reason : ARK_REASON_NONE;
	if (denied && e->reason == ARK_REASON_STATE_CORRUPT)
		return;   /* reported above; nothing to re-decide */
	if (denied && e->reason == ARK_REASON_MAX_NOTIONAL && e->rule_id == 0)
		return;   /* the broker's buying power, checked before the rules: not in the record */
	int expected = first_violation(l, s, e, reference_ok);
	if (!denied) {
		if (expected != ARK_REASON_NONE)
			report(a, ARK_AUDIT_ALLOWED_VIOLATION, e, recorded, expected, "allowed %s %g @ %g, but it breaks %s",
			       ark_side_name((enum ark_side)e->side), e->quantity, e->limit_price,
			       ark_reason_name((enum ark_reason)expected));
		apply(l, s, e);
		if (e->exec_status == ARK_EXEC_FILLED && overfilled(e))
			report(a, ARK_AUDIT_OVERFILL, e, recorded, expected, "filled %g of an order for %g",
			       e->filled_quantity, e->quantity);
	} else {
		if (expected == ARK_REASON_NONE)
			report(a, ARK_AUDIT_DENIED_CLEAN, e, recorded, expected, "denied %s, but it breaks no rule",
			       ark_reason_name((enum ark_reason)recorded));
		else if (expected != recorded)
			report(a, ARK_AUDIT_WRONG_REASON, e, recorded, expected, "denied %s, but the first rule it breaks is %s",
			       ark_reason_name((enum ark_reason)recorded), ark_reason_name((enum ark_reason)expected));
		if (e->exec_status == ARK_EXEC_FILLED)
			report(a, ARK_AUDIT_OVERFILL, e, recorded, expected, "a denied intent was filled (%g)", e->filled_quantity);
	}
}

void ark_audit_event(struct ark_audit *a, const struct ark_event *e)
{
	a->counts.events++;
	bool is_report = (e->flags & ARK_EVENT_EXEC_REPORT) != 0;
	if (is_report && e->hrm_book != ARK_HRM_BOOK_REPORTS)
		return;   /* a broker's later word on an order: not a decision, and no book kept by reports */
	if (e->flags & ARK_EVENT_INJECTED)
		a->counts.injected++;
	check_finite(a, e);
	bool canary = (e->flags & ARK_EVENT_CANARY) != 0;
	if (canary && !a->has_canary) {
		a->counts.unaudited_canary++;
		return;
	}
	struct lane *l = &a->lanes[canary ? 1 : 0];
	const bool intent = e->side == ARK_SIDE_BUY || e->side == ARK_SIDE_SELL;
	const bool denied = e->verdict == ARK_VERDICT_DENY;
	const int recorded = denied ? e->reason : ARK_REASON_NONE;
	if (intent && !is_report) {
		a->counts.intents++;
		if (denied)
			a->counts.denied++;
		else
			a->counts.allowed++;
	}
	/* Drift and quarantine deny everything and change nothing. */
	if (!is_report && denied && (e->reason == ARK_REASON_ETHICS_DRIFT || e->reason == ARK_REASON_QUARANTINED))
		return;
	if ((e->hrm_halt_cause == ARK_HALT_STATE_CORRUPT || e->reason == ARK_REASON_STATE_CORRUPT) && !l->corrupt_reported) {
		l->corrupt_reported = true;
		report(a, ARK_AUDIT_STATE_CORRUPT, e, recorded, recorded,
		       "HRM halted for a non-finite value in its state: every intent from here on is denied");
	}
	advance_clock(a, l, e, recorded);
	struct sym *s = find(l, e->symbol);
	if (!s)
		return;
	if (is_report) {
		/* No market data (its price and size are the fill): it settles
		 * the order HRM allowed. */
		if (intent)
			settle(l, s, e);
		if (!(e->flags & ARK_EVENT_BROKER_ANOMALY) && overfilled(e))
			report(a, ARK_AUDIT_OVERFILL, e, ARK_REASON_NONE, ARK_REASON_NONE,
			       "the broker reported %g filled of an order for %g", e->filled_quantity, e->quantity);
		return;
	}
	uint64_t t = e->exchange_time_ns;
	double price = e->price;
	bool price_ok = price > 0 && price <= PRICE_CEILING;
	bool fresh = t != 0 && (t <= l->market ? l->market - t <= l->rules->reference_max_age_ns
					       : t - l->market <= l->rules->fresh_ahead_ns);
	if (price_ok && fresh && t >= s->mark_time) {
		l->unrealised += (s->position + s->in_buy - s->in_sell) * (price - s->mark);
		l->gross += worst(s, 0, 0) * (price - s->mark);
		s->mark = price;
		s->mark_time = t;
		check_latch(l);
	}
	if (intent)
		judge(a, l, s, e, price_ok && fresh);
}
