/* ops/preflight.c — the settings check an instance's starter runs before it
 * creates anything (`ark run`, `ark watchdog`): every setting the agents and
 * sources would refuse at their start is refused here instead, once, with
 * the variable named, so a bad one never leaves a half-started instance.
 * It only reads the environment; nothing is started or written. */
#include "ops/ops.h"

#include "alphavantage/alphavantage.h"
#include "api/api.h"
#include "watchdog/watchdog.h"

#include <stdlib.h>

int ark_preflight_check(struct ark_preflight *out, struct ark_err *err)
{
	*out = (struct ark_preflight){0};
	/* Every agent reads the ring wait and its own CPU. */
	struct ark_ring_wait_config wait;
	int rc = ark_ring_wait_from_env(&wait, err);
	if (rc)
		return rc;
	static const char *const cpu_vars[] = {"ARK_CPU_SOURCE", "ARK_CPU_KYLE", "ARK_CPU_JOEY", "ARK_CPU_HRM",
					       "ARK_CPU_KENNY", "ARK_CPU_ALETHEIA"};
	for (size_t i = 0; i < ARK_ARRAY_LEN(cpu_vars); i++) {
		const char *v = getenv(cpu_vars[i]);
		int cpus[1], count;
		if (v && *v && (rc = ark_parse_cpu_list(v, cpus, 1, &count, cpu_vars[i], err)))
			return rc;
	}
	/* The sources the environment asks for: the ingest API needs a usable
	 * JWT configuration, Alpha Vantage its settings. */
	struct ark_jwt_config jwt;
	struct ark_av_config av;
	if ((rc = ark_watchdog_api_wanted(&out->api, err)) || (out->api && (rc = ark_jwt_config_from_env(&jwt, err))) ||
	    (rc = ark_av_config_from_env(&av, err)))
		return rc;
	out->alpha_vantage = av.enabled;
	return 0;
}
