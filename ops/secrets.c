/* ops/secrets.c — is a secret's value a real one? Placeholders are caught by
 * the shapes templates and examples use; a strong secret (session, JWT
 * signing) must also be long and varied enough to hold 32 characters' worth
 * of randomness. Only reasons are returned, never the value. */
#include "ops/ops.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

static bool contains_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (; *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return true;
	return false;
}

/* The longest run of characters each one more (or one less) than the last:
 * 123456, abcdef, 987654. */
static size_t longest_sequence(const char *s)
{
	size_t best = 1, up = 1, down = 1;
	for (size_t i = 1; s[i]; i++) {
		up = s[i] == s[i - 1] + 1 ? up + 1 : 1;
		down = s[i] == s[i - 1] - 1 ? down + 1 : 1;
		if (up > best)
			best = up;
		if (down > best)
			best = down;
	}
	return best;
}

/* The value is a short unit repeated ("abcabcabc..."). */
static bool periodic(const char *s, size_t n)
{
	if (n > 4096)
		return false;   /* (quadratic; no real secret is that long) */
	for (size_t period = 1; period <= n / 2; period++) {
		bool same = true;
		for (size_t i = period; i < n && same; i++)
			same = s[i] == s[i - period];
		if (same)
			return true;
	}
	return false;
}

/* Shannon entropy of the character distribution, in bits per character. */
static double bits_per_char(const char *s, size_t n)
{
	unsigned counts[256] = {0};
	for (size_t i = 0; i < n; i++)
		counts[(unsigned char)s[i]]++;
	double h = 0;
	for (int c = 0; c < 256; c++)
		if (counts[c]) {
			double p = (double)counts[c] / (double)n;
			h -= p * log2(p);
		}
	return h;
}

const char *ark_secret_weakness(const char *v, bool strong)
{
	size_t n = strlen(v);
	if (n == 0)
		return "empty";
	static const char *const placeholders[] = {"changeme", "change_me", "change-me", "replace_me", "replaceme",
						   "replace-me", "placeholder", "example", "your_", "your-", "yourkey",
						   "xxx", "todo", "fixme", "insert", "secret_here", "key_here", "dummy",
						   "<", ">"};
	for (size_t i = 0; i < sizeof placeholders / sizeof *placeholders; i++)
		if (contains_ci(v, placeholders[i]))
			return "a placeholder (it looks like a template's or an example's value)";
	static const char *const common[] = {"secret", "password", "passw0rd", "letmein", "admin", "test", "default",
					     "none", "null", "token", "apikey", "api_key"};
	for (size_t i = 0; i < sizeof common / sizeof *common; i++)
		if (strcasecmp(v, common[i]) == 0)
			return "a placeholder (a common word, not a secret)";
	if (periodic(v, n))
		return "one character or a short group repeated";
	if (longest_sequence(v) >= 6)
		return "a placeholder (it holds a run like 123456 or abcdef)";
	if (!strong)
		return NULL;
	if (n < 32)
		return "shorter than 32 characters";
	size_t distinct = 0;
	bool seen[256] = {false};
	for (size_t i = 0; i < n; i++)
		if (!seen[(unsigned char)v[i]]) {
			seen[(unsigned char)v[i]] = true;
			distinct++;
		}
	/* Random hex has 16 symbols at ~4 bits each; 32 random characters of
	 * it are 128 bits. Fewer than 10 symbols, or under 3 bits a character,
	 * is a word or a pattern, not randomness. */
	if (distinct < 10 || bits_per_char(v, n) < 3.0)
		return "too little variety to be random (generate one: openssl rand -hex 32)";
	return NULL;
}
