/* tests/log/test_log.c — the per-process log (proc/log.c): one line per
 * entry in the documented shape, file mode 0600, newlines in a message cannot
 * forge entries, a full buffer drops whole lines and counts them (the count
 * is logged once there is room), the io_uring write-out loses and repeats
 * nothing, and SIGHUP reopens the file after logrotate moved it. */
#include "proc/proc.h"
#include "check.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	CHECK_MSG(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static size_t count_lines(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		CHECK_MSG(end, "a line without its newline: %.60s", line);
		if (!needle || memmem(line, (size_t)(end - line), needle, strlen(needle)))
			n++;
		line = end + 1;
	}
	return n;
}

int main(void)
{
	char dir[] = "/tmp/ark-test-log-XXXXXX";
	CHECK(mkdtemp(dir));
	setenv("ARK_LOG_DIR", dir, 1);
	char path[256], rotated[256];
	snprintf(path, sizeof path, "%s/kyle.log", dir);
	snprintf(rotated, sizeof rotated, "%s/kyle.log.1", dir);
	struct ark_err err = {0};

	/* Shape, mode, and no forged entries. */
	struct ark_log *log = ark_log_open("kyle", &err);
	CHECK_MSG(log, "%s", err.msg);
	ark_log(log, "info", "running last_seq=%d", 42);
	ark_log(log, "warn", "evil\n2026-01-01T00:00:00.000000Z info kyle forged=1");
	ark_log_flush(log);
	ark_log_close(log);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	size_t len;
	char *text = slurp(path, &len);
	CHECK_EQ_U64(count_lines(text, NULL), 2);
	CHECK_CONTAINS(text, "Z info kyle running last_seq=42\n");
	CHECK(text[4] == '-' && text[10] == 'T' && text[26] == 'Z');
	CHECK_CONTAINS(text, "evil 2026-01-01");   /* the newline became a space */
	free(text);
	unlink(path);

	/* Many lines across many flushes: every one arrives at most once and in
	 * order, and what did not arrive was counted as dropped. (Whether the
	 * io_uring write-out keeps up with the flushes is the machine's business:
	 * a write stalled on a loaded machine fills the buffer, and the log then
	 * drops and counts lines rather than block; so the test checks the
	 * accounting, not that nothing was dropped.) */
	log = ark_log_open("kyle", &err);
	CHECK(log);
	const int total = 20000;
	for (int i = 0; i < total; i++) {
		ark_log(log, "info", "line=%d", i);
		if (i % 997 == 0)
			ark_log_flush(log);
	}
	uint64_t lost = ark_log_dropped(log);
	ark_log_close(log);
	text = slurp(path, &len);
	uint64_t arrived = 0;
	long last = -1;
	for (const char *at = strstr(text, " line="); at; at = strstr(at + 1, " line=")) {
		long n = strtol(at + 6, NULL, 10);
		CHECK_MSG(n > last && n < total, "line %ld after line %ld: repeated or out of order", n, last);
		last = n;
		arrived++;
	}
	CHECK_MSG(arrived + lost == (uint64_t)total, "%llu arrived + %llu dropped != %d", (unsigned long long)arrived,
		  (unsigned long long)lost, total);
	free(text);
	unlink(path);

	/* A full buffer drops whole lines and counts them; nothing blocks. */
	log = ark_log_open("kyle", &err);
	CHECK(log);
	char filler[900];
	memset(filler, 'x', sizeof filler - 1);
	filler[sizeof filler - 1] = '\0';
	const int flood = 2000;   /* ~1.8 MB, far more than the buffers hold */
	for (int i = 0; i < flood; i++)
		ark_log(log, "info", "flood=%d %s", i, filler);
	uint64_t dropped = ark_log_dropped(log);
	CHECK_MSG(dropped > 0 && dropped < (uint64_t)flood, "dropped %llu of %d", (unsigned long long)dropped, flood);
	ark_log_flush(log);
	ark_log_close(log);
	text = slurp(path, &len);
	CHECK_EQ_U64(count_lines(text, "flood="), (uint64_t)flood - dropped);
	char count[64];
	snprintf(count, sizeof count, "lines_dropped=%llu", (unsigned long long)dropped);
	CHECK_CONTAINS(text, count);
	free(text);
	unlink(path);

	/* logrotate: the file is moved, SIGHUP, and later lines go to a new file. */
	log = ark_log_open("kyle", &err);
	CHECK(log);
	ark_log(log, "info", "before rotation");
	ark_log_flush(log);
	/* until the line is in the file (a generous deadline: the write-out is
	 * asynchronous and a loaded machine is slow) */
	uint64_t deadline = ark_now_ns() + 60ull * 1000000000ull;
	for (;;) {
		struct stat s1;
		if (stat(path, &s1) == 0 && s1.st_size > 0)
			break;
		CHECK_MSG(ark_now_ns() < deadline, "the line before the rotation never reached the file");
		ark_log_flush(log);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	CHECK(rename(path, rotated) == 0);
	raise(SIGHUP);   /* ark_log_open installed the handler: the process lives on */
	ark_log(log, "info", "after rotation");
	ark_log_flush(log);
	ark_log_close(log);
	text = slurp(rotated, &len);
	CHECK_CONTAINS(text, "before rotation");
	CHECK(!strstr(text, "after rotation"));
	free(text);
	text = slurp(path, &len);
	CHECK_CONTAINS(text, "after rotation");
	CHECK(!strstr(text, "before rotation"));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	free(text);
	unlink(path);
	unlink(rotated);
	rmdir(dir);
	printf("log: ok\n");
	return 0;
}
