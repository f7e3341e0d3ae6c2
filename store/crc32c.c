/* store/crc32c.c — CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every journal record. Uses the SSE4.2 crc32 instruction when
 * the CPU has it (three interleaved streams for long buffers would be faster
 * still, but a 256-byte record costs ~40 ns this way, well inside budget) and
 * a slicing-by-8 table otherwise. Both give identical results; the tests
 * compare them on random data. crc arguments chain: crc32c(crc32c(0,a),b) ==
 * crc32c(0, a||b). */
#include "store/store.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t ark_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&table_once, build_table);
	const uint8_t *p = data;
	crc = ~crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= crc;
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
		      table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
		      table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
							     size_t len)
{
	const uint8_t *p = data;
	uint64_t c = ~crc;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}

static int have_sse42 = -1;

uint32_t ark_crc32c(uint32_t crc, const void *data, size_t len)
{
	/* A benign race: every thread computes the same answer. */
	int have = __atomic_load_n(&have_sse42, __ATOMIC_RELAXED);
	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
		__atomic_store_n(&have_sse42, have, __ATOMIC_RELAXED);
	}
	return have ? crc32c_hw(crc, data, len) : ark_crc32c_sw(crc, data, len);
}
#else
uint32_t ark_crc32c(uint32_t crc, const void *data, size_t len)
{
	return ark_crc32c_sw(crc, data, len);
}
#endif
