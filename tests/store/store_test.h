/* tests/store/store_test.h — helpers shared by the store's test programs:
 * temporary directories (removed at the end), a configuration rooted in one,
 * deterministic payloads and small file manipulations for fault injection. */
#ifndef ARK_TESTS_STORE_TEST_H
#define ARK_TESTS_STORE_TEST_H

#include "check.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static inline void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void make_tmpdir(char *out, size_t cap, const char *what)
{
	const char *base = getenv("TMPDIR");
	snprintf(out, cap, "%s/ark-%s-XXXXXX", base && *base ? base : "/tmp", what);
	CHECK_MSG(mkdtemp(out) != NULL, "mkdtemp: %s", strerror(errno));
}

static inline void test_config(struct ark_store_config *cfg, const char *dir)
{
	ark_store_config_defaults(cfg, dir);
	/* 2 MiB instead of 16: it still wraps many times in every test, and
	 * opening (which touches the whole buffer) stays cheap under TSan */
	cfg->buffer_bytes = 2 << 20;
	const char *u = getenv("ARK_IO_URING");
	cfg->io_uring = !(u && strcmp(u, "0") == 0);
}

/* The payload of record seq: its length and bytes follow from seq. */
static inline uint32_t payload_len(uint64_t seq)
{
	return (uint32_t)((seq * 2654435761u) % 300);
}

static inline void payload_fill(uint64_t seq, uint8_t *buf, uint32_t len)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

static inline bool payload_ok(uint64_t seq, const uint8_t *p, uint32_t len)
{
	uint8_t buf[1024];
	if (len != payload_len(seq) || len > sizeof buf)
		return false;
	payload_fill(seq, buf, len);
	return memcmp(buf, p, len) == 0;
}

static inline uint64_t trace_of(uint64_t seq)
{
	return (seq * 0xff51afd7ed558ccdull) ^ 0x5bd1e995ull;
}

static inline void append_std(struct ark_journal *j, uint64_t seq)
{
	uint8_t buf[1024];
	uint32_t len = payload_len(seq);
	payload_fill(seq, buf, len);
	struct ark_err err = {0};
	int rc = ark_journal_append(j, seq, trace_of(seq), buf, len, &err);
	CHECK_MSG(rc == 0, "append seq %llu: %s", (unsigned long long)seq, err.msg);
}

static inline uint64_t file_size_of(const char *path)
{
	struct stat st;
	CHECK_MSG(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	return (uint64_t)st.st_size;
}

static inline void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb");
	CHECK_MSG(in != NULL, "open %s", from);
	FILE *out = fopen(to, "wb");
	CHECK_MSG(out != NULL, "open %s", to);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		CHECK(fwrite(buf, 1, n, out) == n);
	fclose(in);
	fclose(out);
	chmod(to, 0600);
}

static inline void flip_bit(const char *path, uint64_t offset, int bit)
{
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	uint8_t b;
	CHECK(pread(fd, &b, 1, (off_t)offset) == 1);
	b ^= (uint8_t)(1u << bit);
	CHECK(pwrite(fd, &b, 1, (off_t)offset) == 1);
	close(fd);
}

static inline void write_at(const char *path, uint64_t offset, const void *data, size_t len)
{
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, data, len, (off_t)offset) == (ssize_t)len);
	close(fd);
}

static inline void quiet_log(void *ctx, int level, const char *msg)
{
	(void)ctx; (void)level; (void)msg;
}

#endif
