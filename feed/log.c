/* feed/log.c — the feed's log lines, "ts level feed message key=value", and
 * the rate limit that keeps a hostile client from flooding the log.
 *
 * Invariant: within any one-second window at most `burst` limited lines are
 * written; every line held back is counted, and the window's count is
 * reported in one summary line when the next window opens (or at stop). */
#include "feed/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *level_name(int level)
{
	return level >= ARK_FEED_LOG_ERROR ? "error" : level == ARK_FEED_LOG_WARN ? "warn" : "info";
}

void feed_log_init(struct feed_log *log, const struct ark_feed_config *cfg, _Atomic uint64_t *suppressed_total)
{
	memset(log, 0, sizeof *log);
	log->fn = cfg->log;
	log->ctx = cfg->log_ctx;
	log->burst = cfg->log_burst;
	log->suppressed_total = suppressed_total;
}

static void emit(struct feed_log *log, int level, const char *fmt, va_list ap)
{
	char line[1024];
	uint64_t now = ark_realtime_ns();
	time_t secs = (time_t)(now / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s feed ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (unsigned)(now % 1000000000ull / 1000000), level_name(level));
	if (n > 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (log->fn)
		log->fn(log->ctx, level, line);
	else
		fprintf(stderr, "%s\n", line);
}

void feed_log_always(struct feed_log *log, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(log, level, fmt, ap);
	va_end(ap);
}

void feed_log_tick(struct feed_log *log, uint64_t now_ns)
{
	if (now_ns - log->window_start_ns < FEED_LOG_WINDOW_NS)
		return;
	if (log->suppressed_in_window)
		feed_log_always(log, ARK_FEED_LOG_WARN,
				"log lines suppressed by the rate limit count=%llu burst_per_s=%u",
				(unsigned long long)log->suppressed_in_window, log->burst);
	log->window_start_ns = now_ns;
	log->in_window = 0;
	log->suppressed_in_window = 0;
}

void feed_log_limited(struct feed_log *log, uint64_t now_ns, int level, const char *fmt, ...)
{
	feed_log_tick(log, now_ns);
	if (log->in_window >= log->burst) {
		log->suppressed_in_window++;
		feed_count(log->suppressed_total, 1);
		return;
	}
	log->in_window++;
	va_list ap;
	va_start(ap, fmt);
	emit(log, level, fmt, ap);
	va_end(ap);
}

void feed_log_quote(char *out, size_t out_size, const char *text, size_t len, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	bool cut = len > max;
	if (cut)
		len = max;
	/* Worst case per input byte is 4 output bytes ("\xNN"); stop early
	 * rather than overrun, always leaving room for "...", the quote, NUL. */
	if (out_size < 8) {
		if (out_size)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (o + 4 + 5 > out_size) {  /* this byte, "...", the quote, NUL */
			cut = true;
			break;
		}
		unsigned char c = (unsigned char)text[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}
