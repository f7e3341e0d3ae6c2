/* feed/timestamp.c — ISO-8601 exchange times ("ts" given as a string) to
 * nanoseconds since the Unix epoch. Invariant: only a complete, valid
 * calendar time with an explicit offset is accepted (no leap second, no
 * local time), and the result fits a positive signed 64-bit count. */
#include "feed/internal.h"

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" to ns since the epoch. */
bool feed_parse_iso8601(const char *s, size_t n, int64_t *out)
{
	unsigned year, month, day, hour, minute, second, frac = 0, oh = 0, om = 0;
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return false;
	if (!digits(s, 4, &year) || !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day) ||
	    !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second))
		return false;
	size_t i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		size_t len = i - start;
		if (len == 0 || len > 9 || !digits(s + start, len, &frac))
			return false;
		for (size_t k = len; k < 9; k++)
			frac *= 10;
	}
	int sign = 0;
	if (i < n && s[i] == 'Z') {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (n - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return false;
		i += 6;
	} else {
		return false;
	}
	if (i != n)
		return false;
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1] + (month == 2 && leap))
		return false;
	if (hour > 23 || minute > 59 || second > 59)
		return false;
	int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
	secs -= sign * (int64_t)(oh * 3600 + om * 60);
	/* ns since the epoch must fit a signed 64-bit count and be positive. */
	if (secs < 0 || secs > INT64_MAX / 1000000000 - 1)
		return false;
	*out = secs * 1000000000 + frac;
	return *out > 0;
}

