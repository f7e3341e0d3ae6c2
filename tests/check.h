/* tests/check.h — assertions for ARK's test programs. A failed CHECK prints
 * where and what, then exits 1 (ctest reports the test as failed). They stay
 * active in every build type. */
#ifndef ARK_TESTS_CHECK_H
#define ARK_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

#define CHECK_MSG(cond, ...)                                                         \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                           \
	do {                                                                         \
		uint64_t _a = (uint64_t)(a), _b = (uint64_t)(b);                     \
		if (_a != _b) {                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%" PRIu64 " != %" PRIu64 ")\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);                 \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

#define CHECK_CONTAINS(haystack, needle)                                             \
	CHECK_MSG(strstr((haystack), (needle)) != NULL, "'%s' does not contain '%s'", (haystack), (needle))

/* Event counts for stress tests: ARK_TEST_SCALE=0.1 runs a tenth (sanitizer
 * builds), never less than `floor`. */
static inline uint64_t test_scaled(uint64_t count, uint64_t floor)
{
	const char *s = getenv("ARK_TEST_SCALE");
	double scale = s ? atof(s) : 1.0;
	if (scale <= 0 || scale > 1)
		scale = 1.0;
	uint64_t n = (uint64_t)((double)count * scale);
	return n < floor ? floor : n;
}

#endif /* ARK_TESTS_CHECK_H */
