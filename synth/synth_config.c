/* synth/synth_config.c — the synthetic source's options: defaults and the
 * strict parsers behind --rate, --duration, --seed, --violations, --symbols.
 *
 * Invariant: a config either takes a value that is entirely valid or keeps
 * its previous one and says what was wrong (the option, the value, the range). */
#include "synth/synth.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ark_synth_config_defaults(struct ark_synth_config *config)
{
	memset(config, 0, sizeof *config);
	config->rate_hz = 0;
	config->seed = 1;
	config->violations = 0.01;
	config->symbol_count = 64;
	config->start_ns = ARK_SYNTH_DEFAULT_START_NS;
	config->unpaced_period_ns = ARK_SYNTH_DEFAULT_UNPACED_PERIOD_NS;
}

int ark_synth_config_parse_rate(struct ark_synth_config *config, const char *text, struct ark_err *err)
{
	if (text && (strcasecmp(text, "max") == 0 || strcasecmp(text, "unpaced") == 0 || strcmp(text, "0") == 0)) {
		config->rate_hz = 0;
		return 0;
	}
	double v;
	if (ark_parse_double(text, 0.1, 1e9, "--rate", &v, NULL))
		return ark_err_set(err, -EINVAL,
				   "--rate: expected ticks per second from 0.1 to 1e9, or max (unpaced), got '%s'",
				   text ? text : "");
	config->rate_hz = v;
	return 0;
}

int ark_synth_config_parse_duration(struct ark_synth_config *config, const char *text, struct ark_err *err)
{
	uint64_t ns;
	int rc = ark_parse_duration_ns(text, 1000000000ull, "--duration", &ns, err);
	if (rc)
		return rc;
	config->duration_ns = ns;
	return 0;
}

int ark_synth_config_parse_seed(struct ark_synth_config *config, const char *text, struct ark_err *err)
{
	return ark_parse_u64(text, 0, UINT64_MAX, "--seed", &config->seed, err);
}

int ark_synth_config_parse_violations(struct ark_synth_config *config, const char *text, struct ark_err *err)
{
	char buf[64];
	double v, scale = 1;
	size_t n = text ? strlen(text) : 0;
	if (n && n < sizeof buf && text[n - 1] == '%') {
		memcpy(buf, text, n - 1);
		buf[n - 1] = '\0';
		scale = 0.01;
	} else {
		snprintf(buf, sizeof buf, "%s", text ? text : "");
	}
	if (n >= sizeof buf || ark_parse_double(buf, 0, ARK_SYNTH_MAX_VIOLATIONS / scale, "--violations", &v, NULL))
		return ark_err_set(err, -EINVAL,
				   "--violations: expected a fraction from 0 to %g (such as 0.01) or a percentage "
				   "(such as 1%%), got '%s'",
				   ARK_SYNTH_MAX_VIOLATIONS, text ? text : "");
	config->violations = v * scale;
	return 0;
}

int ark_synth_config_parse_symbols(struct ark_synth_config *config, const char *text, struct ark_err *err)
{
	if (text && isdigit((unsigned char)text[0]) && strspn(text, "0123456789") == strlen(text)) {
		uint64_t count;
		int rc = ark_parse_u64(text, 1, ARK_SYNTH_MAX_SYMBOLS, "--symbols", &count, err);
		if (rc)
			return rc;
		config->symbol_count = (uint32_t)count;
		config->symbol_list_count = 0;
		return 0;
	}
	char list[ARK_SYNTH_MAX_SYMBOLS][ARK_SYMBOL_MAX];   /* 32 KiB: the config changes only when all parse */
	uint32_t count = 0;
	const char *p = text ? text : "";
	const char *expected = "a count from 1 to 2048 or a comma-separated list of symbols (1-15 characters "
			       "A-Z a-z 0-9 . - _ /)";
	if (!*p)
		return ark_err_set(err, -EINVAL, "--symbols: expected %s, got ''", expected);
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		bool ok = n > 0 && n < ARK_SYMBOL_MAX;
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)p[i]) || strchr(".-_/", p[i]);
		if (!ok)
			return ark_err_set(err, -EINVAL, "--symbols: expected %s, got '%s'", expected, text);
		if (count == ARK_SYNTH_MAX_SYMBOLS)
			return ark_err_set(err, -E2BIG, "--symbols: at most %d symbols", ARK_SYNTH_MAX_SYMBOLS);
		memset(list[count], 0, ARK_SYMBOL_MAX);
		memcpy(list[count], p, n);
		for (uint32_t i = 0; i < count; i++)
			if (strcasecmp(list[i], list[count]) == 0)
				return ark_err_set(err, -EINVAL, "--symbols: '%s' listed twice", list[count]);
		count++;
		if (!comma)
			break;
		p = comma + 1;
	}
	memcpy(config->symbols, list, sizeof list[0] * count);
	config->symbol_list_count = count;
	return 0;
}
