/* event/tick.c — the one check every edge applies to a tick before it may
 * become an event: bounded, finite price and size, and an exchange time that
 * cannot drag HRM's market clock into the future.
 *
 * Invariant: a tick that passes with ARK_TICK_CHECK_VALUES has a finite
 * price in (min_price, max_price] with max_price <= ARK_TICK_PRICE_CEILING
 * and a finite size in [0, max_size]; with ARK_TICK_CHECK_FUTURE its ts is
 * 0 or at most max_skew ahead of the wall clock the caller read. Comparisons
 * are written so that NaN fails them. */
#include "event/event.h"

#include "common/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ark_tick_bounds_default(struct ark_tick_bounds *b)
{
	b->min_price = 0;
	b->max_price = 1e7;
	b->max_size = 1e9;
	b->max_skew_ns = 5ull * 1000000000ull;
	b->max_age_ns = 3600ull * 1000000000ull;
}

static int env_fail(char *error, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int env_fail(char *error, size_t size, const char *fmt, ...)
{
	if (error && size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(error, size, fmt, ap);
		va_end(ap);
	}
	return -22; /* -EINVAL */
}

static int env_double(const char *name, double min, double max, double *out, char *error, size_t size)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 0;
	struct ark_err err = {0};
	if (ark_parse_double(v, min, max, name, out, &err))
		return env_fail(error, size, "%s", err.msg);
	return 0;
}

static int env_duration(const char *name, uint64_t max, uint64_t *out, char *error, size_t size)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 0;
	struct ark_err err = {0};
	uint64_t ns;
	if (ark_parse_duration_ns(v, 1000000000ull, name, &ns, &err))
		return env_fail(error, size, "%s", err.msg);
	if (ns > max)
		return env_fail(error, size, "%s=%s: at most %llu s", name, v, (unsigned long long)(max / 1000000000ull));
	*out = ns;
	return 0;
}

int ark_tick_bounds_from_env(struct ark_tick_bounds *b, char *error, size_t size)
{
	ark_tick_bounds_default(b);
	int rc = env_double("ARK_TICK_MIN_PRICE", 0, ARK_TICK_PRICE_CEILING, &b->min_price, error, size);
	if (!rc)
		rc = env_double("ARK_TICK_MAX_PRICE", 0, ARK_TICK_PRICE_CEILING, &b->max_price, error, size);
	if (!rc)
		rc = env_double("ARK_TICK_MAX_SIZE", 0, ARK_TICK_SIZE_CEILING, &b->max_size, error, size);
	if (!rc)
		rc = env_duration("ARK_TICK_MAX_SKEW", ARK_TICK_SKEW_CEILING_NS, &b->max_skew_ns, error, size);
	if (!rc)
		rc = env_duration("ARK_TICK_MAX_AGE", 366ull * 86400 * 1000000000ull, &b->max_age_ns, error, size);
	if (rc)
		return rc;
	if (!(b->min_price < b->max_price))
		return env_fail(error, size, "ARK_TICK_MIN_PRICE (%g) must be below ARK_TICK_MAX_PRICE (%g)", b->min_price,
				b->max_price);
	if (!(b->max_size > 0))
		return env_fail(error, size, "ARK_TICK_MAX_SIZE must be above 0");
	return 0;
}

static enum ark_tick_fault fault(enum ark_tick_fault f, const char *name, const char **field, char *detail,
				 size_t size, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static enum ark_tick_fault fault(enum ark_tick_fault f, const char *name, const char **field, char *detail,
				 size_t size, const char *fmt, ...)
{
	if (field)
		*field = name;
	if (detail && size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, size, fmt, ap);
		va_end(ap);
	}
	return f;
}

enum ark_tick_fault ark_tick_check(const struct ark_tick_bounds *b, const struct ark_tick *t, uint64_t wall_now_ns,
				   unsigned checks, const char **field, char *detail, size_t size)
{
	if (checks & ARK_TICK_CHECK_VALUES) {
		if (!(t->price > b->min_price && t->price <= b->max_price))
			return fault(ARK_TICK_BAD_PRICE, "price", field, detail, size,
				     "price %.17g is outside the bounds: expected a finite number above %g and at most %g",
				     t->price, b->min_price, b->max_price);
		if (!(t->size >= 0 && t->size <= b->max_size))
			return fault(ARK_TICK_BAD_SIZE, "size", field, detail, size,
				     "size %.17g is outside the bounds: expected a finite number from 0 to %g", t->size,
				     b->max_size);
	}
	uint64_t ts = t->exchange_time_ns;
	if (ts == 0)
		return ARK_TICK_OK;
	if ((checks & ARK_TICK_CHECK_FUTURE) && ts > wall_now_ns && ts - wall_now_ns > b->max_skew_ns)
		return fault(ARK_TICK_TS_FUTURE, "ts", field, detail, size,
			     "ts %llu is %.3f s ahead of this machine's clock: at most %.3f s ahead is accepted",
			     (unsigned long long)ts, (double)(ts - wall_now_ns) / 1e9, (double)b->max_skew_ns / 1e9);
	if ((checks & ARK_TICK_CHECK_AGE) && b->max_age_ns && ts < wall_now_ns && wall_now_ns - ts > b->max_age_ns)
		return fault(ARK_TICK_TS_OLD, "ts", field, detail, size,
			     "ts %llu is %.3f s behind this machine's clock: at most %.3f s behind is accepted",
			     (unsigned long long)ts, (double)(wall_now_ns - ts) / 1e9, (double)b->max_age_ns / 1e9);
	return ARK_TICK_OK;
}

const char *ark_tick_fault_name(enum ark_tick_fault f)
{
	switch (f) {
	case ARK_TICK_OK: return "ok";
	case ARK_TICK_BAD_PRICE: return "price_out_of_bounds";
	case ARK_TICK_BAD_SIZE: return "size_out_of_bounds";
	case ARK_TICK_TS_FUTURE: return "ts_in_future";
	case ARK_TICK_TS_OLD: return "ts_too_old";
	case ARK_TICK_FAULT_COUNT: break;
	}
	return "unknown";
}
