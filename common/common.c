/* common/common.c — error messages, the executable's path, CPU pinning,
 * strict parsers and the tolerance of amounts sent as decimal text.
 * Parsers accept exactly the documented syntax and say what they expected;
 * they never fall back to a default on bad input. */
#include "common/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int ark_err_set(struct ark_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int ark_err_wrap(struct ark_err *err, const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	char prefix[ARK_ERR_MAX], old[ARK_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	size_t n = strlen(prefix);
	if (n > sizeof err->msg - 3)
		n = sizeof err->msg - 3;
	memcpy(err->msg, prefix, n);
	memcpy(err->msg + n, ": ", 2);
	size_t room = sizeof err->msg - n - 3;
	size_t m = strnlen(old, room);
	memcpy(err->msg + n + 2, old, m);
	err->msg[n + 2 + m] = '\0';
	return err->code;
}

int ark_self_exe(char *out, size_t len, struct ark_err *err)
{
	if (len < 2)
		return ark_err_set(err, -EINVAL, "cannot find the ark executable: no room for its path");
	out[0] = '\0';
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	if (n <= 0)
		return ark_err_set(err, n < 0 ? -errno : -ENOENT, "cannot find the ark executable: %s",
				   n < 0 ? strerror(errno) : "empty link");
	if ((size_t)n >= len - 1) {   /* possibly cut: never exec a prefix of the path */
		out[0] = '\0';
		return ark_err_set(err, -ENAMETOOLONG, "cannot find the ark executable: its path is longer than %zu bytes",
				   len - 2);
	}
	out[n] = '\0';
	static const char deleted[] = " (deleted)";
	if ((size_t)n > sizeof deleted - 1 && strcmp(out + n - (sizeof deleted - 1), deleted) == 0)
		out[n - (sizeof deleted - 1)] = '\0';
	return 0;
}

int ark_cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

int ark_pin_cpu(int cpu, struct ark_err *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	if (cpu < 0 || cpu >= CPU_SETSIZE || (ncpu > 0 && cpu >= ncpu))
		return ark_err_set(err, -EINVAL, "CPU %d does not exist (this machine has CPUs 0-%ld)",
				   cpu, ncpu - 1);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		return ark_err_set(err, -errno, "cannot pin to CPU %d: %s", cpu, strerror(errno));
	return 0;
}

static bool blank(const char *text)
{
	return text == NULL || *text == '\0';
}

/* strtod also reads hexadecimal floats ("0x1p-2"), "inf" and "nan": none of
 * them is a number an operator means to write. Whether [text, end) is plain
 * decimal: digits, sign, point, exponent. */
static bool decimal_only(const char *text, const char *end)
{
	return strspn(text, "0123456789+-.eE") >= (size_t)(end - text);
}

int ark_parse_u64(const char *text, uint64_t min, uint64_t max, const char *what,
		  uint64_t *out, struct ark_err *err)
{
	if (blank(text) || !isdigit((unsigned char)text[0]))
		return ark_err_set(err, -EINVAL, "%s: expected a whole number from %llu to %llu, got '%s'",
				   what, (unsigned long long)min, (unsigned long long)max,
				   text ? text : "");
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return ark_err_set(err, -ERANGE, "%s: expected a whole number from %llu to %llu, got '%s'",
				   what, (unsigned long long)min, (unsigned long long)max, text);
	*out = v;
	return 0;
}

int ark_parse_double(const char *text, double min, double max, const char *what,
		     double *out, struct ark_err *err)
{
	if (blank(text) || !(isdigit((unsigned char)text[0]) || strchr("+-.", text[0])) ||
	    !decimal_only(text, text + strlen(text)))
		return ark_err_set(err, -EINVAL, "%s: expected a number from %g to %g, got '%s'",
				   what, min, max, text ? text : "");
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || *end != '\0' || !isfinite(v) || v < min || v > max)
		return ark_err_set(err, -ERANGE, "%s: expected a number from %g to %g, got '%s'",
				   what, min, max, text);
	*out = v;
	return 0;
}

int ark_parse_bool(const char *text, const char *what, bool *out, struct ark_err *err)
{
	static const char *yes[] = {"1", "true", "yes", "on"};
	static const char *no[] = {"0", "false", "no", "off"};
	for (size_t i = 0; text && i < ARK_ARRAY_LEN(yes); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return ark_err_set(err, -EINVAL, "%s: expected true or false (also 1/0, yes/no, on/off), got '%s'",
			   what, text ? text : "");
}

int ark_parse_size(const char *text, uint64_t min, uint64_t max, const char *what,
		   uint64_t *out, struct ark_err *err)
{
	if (blank(text) || !isdigit((unsigned char)text[0]))
		goto bad;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno)
		goto bad;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: goto bad;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		goto bad;
	v <<= shift;
	if (v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	return ark_err_set(err, -EINVAL, "%s: expected a size from %llu to %llu bytes (suffix K, M or G allowed), got '%s'",
			   what, (unsigned long long)min, (unsigned long long)max, text ? text : "");
}

int ark_parse_duration_ns(const char *text, uint64_t bare_unit_ns, const char *what,
			  uint64_t *out, struct ark_err *err)
{
	if (blank(text) || !isdigit((unsigned char)text[0]))
		goto bad;
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || !decimal_only(text, end) || !isfinite(v) || v < 0)
		goto bad;
	double unit;
	if (*end == '\0')
		unit = (double)bare_unit_ns;
	else if (strcmp(end, "ns") == 0)
		unit = 1;
	else if (strcmp(end, "us") == 0)
		unit = 1e3;
	else if (strcmp(end, "ms") == 0)
		unit = 1e6;
	else if (strcmp(end, "s") == 0)
		unit = 1e9;
	else if (strcmp(end, "m") == 0)
		unit = 60e9;
	else if (strcmp(end, "h") == 0)
		unit = 3600e9;
	else
		goto bad;
	double ns = v * unit;
	if (ns > 1e18)
		goto bad;
	*out = (uint64_t)ns;
	return 0;
bad:
	return ark_err_set(err, -EINVAL, "%s: expected a duration such as 500ms, 2s, 10us or 1m, got '%s'",
			   what, text ? text : "");
}

int ark_parse_cpu_list(const char *text, int *cpus, int max_cpus, int *count,
		       const char *what, struct ark_err *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int n = 0;
	const char *p = text;
	if (blank(text))
		goto bad;
	while (*p) {
		char *end;
		if (!isdigit((unsigned char)*p))
			goto bad;
		long a = strtol(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			b = strtol(p, &end, 10);
			p = end;
		}
		if (b < a)
			goto bad;
		for (long c = a; c <= b; c++) {
			if (c >= ncpu)
				return ark_err_set(err, -EINVAL, "%s: CPU %ld does not exist (this machine has CPUs 0-%ld)",
						   what, c, ncpu - 1);
			if (n >= max_cpus)
				return ark_err_set(err, -EINVAL, "%s: at most %d CPUs, got '%s'",
						   what, max_cpus, text);
			cpus[n++] = (int)c;
		}
		if (*p == ',' && p[1] != '\0')
			p++;   /* another entry follows (a trailing comma is refused) */
		else if (*p)
			goto bad;
	}
	*count = n;
	return 0;
bad:
	return ark_err_set(err, -EINVAL, "%s: expected a CPU list such as 0,1 or 0-3, got '%s'",
			   what, text ? text : "");
}

int ark_env_u64(const char *name, uint64_t dflt, uint64_t min, uint64_t max,
		uint64_t *out, struct ark_err *err)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0') {
		*out = dflt;
		return 0;
	}
	return ark_parse_u64(v, min, max, name, out, err);
}

int ark_env_bool(const char *name, bool dflt, bool *out, struct ark_err *err)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0') {
		*out = dflt;
		return 0;
	}
	return ark_parse_bool(v, name, out, err);
}

char *ark_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int ark_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static double amount_tolerance(double a, double b)
{
	return 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

bool ark_amount_same(double a, double b)
{
	return fabs(a - b) <= amount_tolerance(a, b);
}

bool ark_amount_within(double a, double limit)
{
	return a <= limit + amount_tolerance(a, limit);
}

bool ark_limit_price_ok(bool buy, double price, double limit_price)
{
	double slack = limit_price >= 1 ? 0.005 : 0.00005;
	return buy ? price <= limit_price + slack : price >= limit_price - slack;
}
