/* graveyard/calendar.c — the trading day: which day a wall-clock instant
 * belongs to in the exchange's time zone, and when the next one begins.
 *
 * The daily-loss latch and the day's P&L base roll at `trading_day_reset`
 * (HH:MM[:SS] ZONE) by the WALL clock, never by a tick's time: a tick cannot
 * end a trading day. ZONE is UTC or an IANA name read from the system's
 * tzdata (TZif v2+, $TZDIR or /usr/share/zoneinfo): the 64-bit transition
 * table, and past its end the POSIX TZ rule in the file's footer. Reading a
 * zone allocates and does I/O: it happens when rules are parsed or an HRM
 * starts, never per event; ark_graveyard_trading_day is pure arithmetic.
 *
 * Invariant: next_day_ns > wall_ns, and every instant in [the day's start,
 * next_day_ns) maps to the same day index; day indexes increase by one per
 * local calendar day (a day without its reset time, in a DST gap, begins at
 * the first instant after it). */
#include "graveyard/graveyard.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONE_FILE_MAX (512u * 1024u)
#define MAX_TRANSITIONS 4096u

struct posix_rule {
	char kind;           /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' (month.week.day) */
	int day, week, month;
	int32_t time_s;      /* local time of the change, may be negative or > 24h */
};

struct ark_graveyard_zone {
	char name[ARK_GRAVEYARD_ZONE_MAX];
	uint32_t count;                 /* transitions */
	int64_t *at;                    /* UTC seconds, ascending */
	int32_t *offset_after;          /* seconds east of UTC from that transition on */
	int32_t initial_offset;         /* before the first transition */
	/* the footer (or a fixed UTC zone): std/dst offsets and rules */
	bool has_footer, has_dst;
	int32_t std_offset, dst_offset;
	struct posix_rule start, end;
};

/* ---- civil calendar arithmetic (proleptic Gregorian) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- POSIX TZ strings (the TZif footer) ---- */

static const char *parse_name(const char *s)
{
	if (*s == '<') {
		const char *e = strchr(s, '>');
		return e && e > s + 1 ? e + 1 : NULL;
	}
	const char *b = s;
	while (isalpha((unsigned char)*s))
		s++;
	return s - b >= 3 ? s : NULL;
}

/* Exactly two decimal digits into *out; NULL when s does not start with them. */
static const char *two_digits(const char *s, int *out)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return NULL;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return s + 2;
}

/* [+-]hh[:mm[:ss]] with hh up to 167 (RFC 8536's extension). */
static const char *parse_hms(const char *s, int32_t *out)
{
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*s))
		return NULL;
	int h = 0, m = 0, sec = 0;
	while (isdigit((unsigned char)*s) && h <= 167)
		h = h * 10 + (*s++ - '0');
	if (h > 167)
		return NULL;
	if (*s == ':') {
		if (!(s = two_digits(s + 1, &m)))
			return NULL;
		if (*s == ':' && !(s = two_digits(s + 1, &sec)))
			return NULL;
	}
	if (m > 59 || sec > 59)
		return NULL;
	*out = sign * (h * 3600 + m * 60 + sec);
	return s;
}

static const char *parse_rule(const char *s, struct posix_rule *r)
{
	r->time_s = 7200;   /* 02:00 local unless stated */
	if (*s == 'M') {
		r->kind = 'M';
		char *e;
		long m = strtol(s + 1, &e, 10);
		if (*e != '.')
			return NULL;
		long w = strtol(e + 1, &e, 10);
		if (*e != '.')
			return NULL;
		long d = strtol(e + 1, &e, 10);
		if (m < 1 || m > 12 || w < 1 || w > 5 || d < 0 || d > 6)
			return NULL;
		r->month = (int)m, r->week = (int)w, r->day = (int)d;
		s = e;
	} else if (*s == 'J' || isdigit((unsigned char)*s)) {
		r->kind = *s == 'J' ? 'J' : 'N';
		char *e;
		long n = strtol(s + (*s == 'J'), &e, 10);
		if (e == s + (*s == 'J') || n < (r->kind == 'J' ? 1 : 0) || n > 365)
			return NULL;
		r->day = (int)n;
		s = e;
	} else {
		return NULL;
	}
	if (*s == '/')
		s = parse_hms(s + 1, &r->time_s);
	return s;
}

static int parse_posix(const char *s, struct ark_graveyard_zone *z)
{
	int32_t std_west, dst_west;
	s = parse_name(s);
	if (!s || !(s = parse_hms(s, &std_west)))
		return -EINVAL;
	z->std_offset = -std_west;
	z->has_footer = true;
	if (!*s)
		return 0;
	s = parse_name(s);
	if (!s)
		return -EINVAL;
	z->has_dst = true;
	z->dst_offset = z->std_offset + 3600;
	if (*s && *s != ',') {
		if (!(s = parse_hms(s, &dst_west)))
			return -EINVAL;
		z->dst_offset = -dst_west;
	}
	if (!*s) {   /* no rule: the US rule POSIX implementations assume */
		z->start = (struct posix_rule){'M', 0, 2, 3, 7200};
		z->end = (struct posix_rule){'M', 0, 1, 11, 7200};
		return 0;
	}
	if (*s != ',' || !(s = parse_rule(s + 1, &z->start)) || *s != ',' || !(s = parse_rule(s + 1, &z->end)) || *s)
		return -EINVAL;
	return 0;
}

/* Days since the epoch of the rule's date in year y. */
static int64_t rule_day(const struct posix_rule *r, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1);
	if (r->kind == 'J')
		return jan1 + r->day - 1 + (leap(y) && r->day >= 60);
	if (r->kind == 'N')
		return jan1 + r->day;
	static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t first = days_from_civil(y, r->month, 1);
	int weekday = (int)((first % 7 + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
	int64_t d = first + (r->day - weekday + 7) % 7 + 7 * (r->week - 1);
	int days = month_days[r->month - 1] + (r->month == 2 && leap(y));
	while (d >= first + days)
		d -= 7;
	return d;
}

static int32_t footer_offset(const struct ark_graveyard_zone *z, int64_t t)
{
	if (!z->has_dst)
		return z->std_offset;
	int64_t y;
	int m, d;
	civil_from_days(floor_div(t + z->std_offset, 86400), &y, &m, &d);
	int64_t start = rule_day(&z->start, y) * 86400 + z->start.time_s - z->std_offset;
	int64_t end = rule_day(&z->end, y) * 86400 + z->end.time_s - z->dst_offset;
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? z->dst_offset : z->std_offset;
}

int32_t ark_graveyard_zone_offset(const struct ark_graveyard_zone *z, int64_t t)
{
	if (z->count == 0)
		return z->has_footer ? footer_offset(z, t) : z->initial_offset;
	if (t < z->at[0])
		return z->initial_offset;
	if (t >= z->at[z->count - 1] && z->has_footer)
		return footer_offset(z, t);
	uint32_t lo = 0, hi = z->count;   /* the last transition <= t */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->offset_after[lo];
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int parse_tzif(const unsigned char *b, size_t n, struct ark_graveyard_zone *z, struct ark_err *err)
{
	const char *name = z->name;
	if (n < 44 || memcmp(b, "TZif", 4) != 0)
		return ark_err_set(err, -EINVAL, "time zone %s: not a TZif file", name);
	if (b[4] < '2')
		return ark_err_set(err, -EINVAL, "time zone %s: TZif version 1 has no 64-bit data: update tzdata", name);
	/* Skip the version-1 block. */
	uint32_t c[6];
	for (int i = 0; i < 6; i++)
		c[i] = be32(b + 20 + 4 * i);
	uint64_t v1 = (uint64_t)c[3] * 5 + (uint64_t)c[4] * 6 + c[5] + (uint64_t)c[2] * 8 + c[1] + c[0];
	if (44 + v1 + 44 > n)
		return ark_err_set(err, -EINVAL, "time zone %s: truncated TZif file", name);
	const unsigned char *h = b + 44 + v1;
	if (memcmp(h, "TZif", 4) != 0)
		return ark_err_set(err, -EINVAL, "time zone %s: no 64-bit TZif header", name);
	for (int i = 0; i < 6; i++)
		c[i] = be32(h + 20 + 4 * i);
	uint32_t isut = c[0], isstd = c[1], leaps = c[2], times = c[3], types = c[4], chars = c[5];
	if (times > MAX_TRANSITIONS || types == 0 || types > 256)
		return ark_err_set(err, -EINVAL, "time zone %s: implausible TZif counts", name);
	const unsigned char *p = h + 44;
	uint64_t need = (uint64_t)times * 9 + (uint64_t)types * 6 + chars + (uint64_t)leaps * 12 + isstd + isut;
	if ((size_t)(p - b) + need > n)
		return ark_err_set(err, -EINVAL, "time zone %s: truncated TZif data", name);
	const unsigned char *tt = p, *idx = p + times * 8, *info = idx + times;
	z->at = calloc(times ? times : 1, sizeof *z->at);
	z->offset_after = calloc(times ? times : 1, sizeof *z->offset_after);
	if (!z->at || !z->offset_after)
		return ark_err_set(err, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < times; i++) {
		if (idx[i] >= types)
			return ark_err_set(err, -EINVAL, "time zone %s: a transition names type %u of %u", name, idx[i], types);
		z->at[i] = be64(tt + 8 * i);
		if (i && z->at[i] <= z->at[i - 1])
			return ark_err_set(err, -EINVAL, "time zone %s: transitions out of order", name);
		z->offset_after[i] = (int32_t)be32(info + 6 * idx[i]);
	}
	z->count = times;
	z->initial_offset = (int32_t)be32(info);   /* type 0 applies before the first transition */
	const unsigned char *footer = p + need;
	size_t left = n - (size_t)(footer - b);
	if (left >= 2 && footer[0] == '\n') {
		const unsigned char *end = memchr(footer + 1, '\n', left - 1);
		if (end && end > footer + 1) {
			char tz[128];
			size_t len = (size_t)(end - footer - 1);
			if (len >= sizeof tz)
				return ark_err_set(err, -EINVAL, "time zone %s: footer too long", name);
			memcpy(tz, footer + 1, len);
			tz[len] = '\0';
			if (parse_posix(tz, z))
				return ark_err_set(err, -EINVAL, "time zone %s: footer rule \"%s\" is not a POSIX TZ string", name, tz);
		}
	}
	return 0;
}

bool ark_graveyard_zone_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= ARK_GRAVEYARD_ZONE_MAX || name[0] == '/' || name[0] == '.' || strstr(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '/' && c != '_' && c != '-' && c != '+')
			return false;
	}
	return true;
}

void ark_graveyard_zone_free(struct ark_graveyard_zone *z)
{
	if (!z)
		return;
	free(z->at);
	free(z->offset_after);
	free(z);
}

int ark_graveyard_zone_load(const char *name, struct ark_graveyard_zone **out, struct ark_err *err)
{
	*out = NULL;
	if (!ark_graveyard_zone_name_valid(name))
		return ark_err_set(err, -EINVAL,
				   "time zone \"%.64s\": expected UTC or an IANA name such as America/New_York "
				   "(letters, digits, / _ - +)", name);
	struct ark_graveyard_zone *z = calloc(1, sizeof *z);
	if (!z)
		return ark_err_set(err, -ENOMEM, "out of memory");
	snprintf(z->name, sizeof z->name, "%s", name);
	if (strcmp(name, "UTC") == 0) {
		z->has_footer = true;   /* offset 0 for all time, no file needed */
		*out = z;
		return 0;
	}
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		fd = open(path, O_RDONLY | O_CLOEXEC);   /* Debian links some names (e.g. US/Eastern) */
	if (fd < 0) {
		int e = errno;
		ark_graveyard_zone_free(z);
		return ark_err_set(err, -e, "time zone %s: cannot read %s: %s (is tzdata installed?)", name, path, strerror(e));
	}
	struct stat st;
	unsigned char *buf = NULL;
	int rc = 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > ZONE_FILE_MAX) {
		rc = ark_err_set(err, -EINVAL, "time zone %s: %s is not a TZif file of at most %u bytes", name, path,
				 ZONE_FILE_MAX);
	} else if (!(buf = malloc((size_t)st.st_size))) {
		rc = ark_err_set(err, -ENOMEM, "out of memory");
	} else {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		rc = got == (size_t)st.st_size ? parse_tzif(buf, got, z, err)
					       : ark_err_set(err, -EIO, "time zone %s: short read of %s", name, path);
	}
	free(buf);
	close(fd);
	if (rc) {
		ark_graveyard_zone_free(z);
		return rc;
	}
	*out = z;
	return 0;
}

const char *ark_graveyard_zone_name(const struct ark_graveyard_zone *z)
{
	return z->name;
}

/* The trading day index of local time `local_s`: days since 1970-01-01 of
 * the local date, counted from the reset time of day. */
static int64_t day_of(int64_t local_s, int64_t reset_s)
{
	return floor_div(local_s - reset_s, 86400);
}

void ark_graveyard_trading_day(const struct ark_graveyard_limits *limits, const struct ark_graveyard_zone *zone,
			       uint64_t wall_ns, uint32_t *day, uint64_t *next_day_ns)
{
	int64_t t = (int64_t)(wall_ns / 1000000000ull);
	int64_t reset = (int64_t)(limits->trading_day_reset_ns / 1000000000ull);
	int64_t today = day_of(t + ark_graveyard_zone_offset(zone, t), reset);
	/* The next day begins when local time first reaches (today + 1) +
	 * reset: bisect between now and a second known to lie past it (local
	 * time is not monotonic across DST, the day index of an instant is
	 * close enough to be: at worst a repeated hour starts the day once). */
	int64_t lo = t, hi = (today + 1) * 86400 + reset - ark_graveyard_zone_offset(zone, t);
	for (int i = 0; i < 48 && (hi <= lo || day_of(hi + ark_graveyard_zone_offset(zone, hi), reset) <= today); i++)
		hi = (hi <= lo ? lo : hi) + 3600;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (day_of(mid + ark_graveyard_zone_offset(zone, mid), reset) > today)
			hi = mid;
		else
			lo = mid;
	}
	*day = (uint32_t)(today < 0 ? 0 : today);
	*next_day_ns = (uint64_t)hi * 1000000000ull;
}
