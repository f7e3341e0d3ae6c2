/* graveyard/rules_pattern.c — restricted symbols and globs: validation,
 * compilation and matching.
 *
 * Invariant: every name and glob in a compiled table is upper-cased and
 * made only of the symbol alphabet (plus * and ? in globs), so matching is a
 * byte comparison against an upper-cased symbol. Matching runs when HRM first
 * sees a symbol id (the result is cached per id), never once per event. */
#include "graveyard/graveyard.h"
#include "graveyard/internal.h"

#include <ctype.h>
#include <string.h>

bool ark_graveyard_symbol_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' || c == '/';
}

bool ark_graveyard_symbol_valid(const char *symbol)
{
	size_t n = strlen(symbol);
	if (n == 0 || n >= ARK_SYMBOL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ark_graveyard_symbol_char(symbol[i]))
			return false;
	return true;
}

/* Upper-case at most cap-1 characters of a symbol into out (NUL-padded). */
void ark_graveyard_symbol_upper(const char *symbol, char out[ARK_SYMBOL_MAX])
{
	memset(out, 0, ARK_SYMBOL_MAX);
	for (size_t i = 0; i < ARK_SYMBOL_MAX - 1 && symbol[i]; i++)
		out[i] = (char)toupper((unsigned char)symbol[i]);
}

int ark_graveyard_pattern_compile(const char *text, struct ark_graveyard_pattern *out, const char **why)
{
	size_t n = strlen(text);
	memset(out, 0, sizeof *out);
	if (n == 0 || n >= ARK_GRAVEYARD_PATTERN_MAX) {
		*why = "a glob of 1 to 31 characters";
		return -1;
	}
	size_t first_star = n, last_star = n, fixed = 0;
	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (c == '*') {
			if (first_star == n)
				first_star = i;
			last_star = i;
			continue;
		}
		if (c != '?' && !ark_graveyard_symbol_char(c)) {
			*why = c == '[' ? "a glob of symbol characters, * and ? (no [classes])"
					: "a glob of symbol characters (A-Z 0-9 . - _ /), * and ?";
			return -1;
		}
		fixed++;
	}
	if (fixed >= ARK_SYMBOL_MAX) {
		*why = "a glob that can match a symbol of at most 15 characters";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		out->text[i] = (char)toupper((unsigned char)text[i]);
	out->length = (uint8_t)n;
	out->has_star = first_star != n;
	out->prefix_length = (uint8_t)(out->has_star ? first_star : n);
	out->suffix_length = (uint8_t)(out->has_star ? n - last_star - 1 : 0);
	out->fixed_length = (uint8_t)fixed;
	return 0;
}

static bool same_char(char pattern, char c)
{
	return pattern == '?' || pattern == c;
}

/* Glob match with single-star backtracking: linear in practice, and the
 * precompiled prefix/suffix reject most symbols before it runs. */
static bool glob(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pn && same_char(p[pi], s[si])) {
			pi++;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

bool ark_graveyard_pattern_match(const struct ark_graveyard_pattern *pattern, const char *symbol)
{
	char up[ARK_SYMBOL_MAX];
	ark_graveyard_symbol_upper(symbol, up);
	size_t n = strlen(up);
	if (n < pattern->fixed_length || (!pattern->has_star && n != pattern->length))
		return false;
	for (size_t i = 0; i < pattern->prefix_length; i++)
		if (!same_char(pattern->text[i], up[i]))
			return false;
	for (size_t i = 0; i < pattern->suffix_length; i++)
		if (!same_char(pattern->text[pattern->length - 1 - i], up[n - 1 - i]))
			return false;
	return glob(pattern->text, pattern->length, up, n);
}

enum ark_reason ark_graveyard_symbol_restriction(const struct ark_graveyard_limits *limits, const char *symbol)
{
	char up[ARK_SYMBOL_MAX];
	ark_graveyard_symbol_upper(symbol, up);
	for (uint32_t i = 0; i < limits->restricted_count; i++)
		if (memcmp(up, limits->restricted[i], ARK_SYMBOL_MAX) == 0)
			return ARK_REASON_RESTRICTED_SYMBOL;
	for (uint32_t i = 0; i < limits->pattern_count; i++)
		if (ark_graveyard_pattern_match(&limits->patterns[i], up))
			return ARK_REASON_RESTRICTED_PATTERN;
	return ARK_REASON_NONE;
}
