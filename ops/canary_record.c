/* ops/canary_record.c — the last canary as the watchdog recorded it
 * (watchdog/canary.c writes "key=value" lines into the Mutable Core's
 * metadata canary_last), read back for `ark canary status` and `promote`,
 * and the record of a promotion. A field the record lacks reads as "" (a
 * canary started by an older ARK): callers treat "" as unknown, never as a
 * match. */
#include "ops/ops.h"

#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The value of key in "key=value" lines, cut to cap - 1 bytes; "" when the
 * key is not there. */
static void record_field(const char *text, const char *key, char *out, size_t cap)
{
	out[0] = '\0';
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
			size_t vlen = len - klen - 1;
			if (vlen >= cap)
				vlen = cap - 1;
			memcpy(out, line + klen + 1, vlen);
			out[vlen] = '\0';
			return;
		}
		line = nl ? nl + 1 : NULL;
	}
}

/* The Mutable Core the environment names (cfg: its settings), where the
 * watchdog keeps the record. */
static int open_core(struct ark_store_config *cfg, struct ark_core **core, struct ark_err *err)
{
	int rc = ark_store_config_from_env(cfg, err);
	return rc ? rc : ark_core_open(core, cfg, ARK_CORE_NO_CHECKPOINTER, NULL, err);
}

int ark_canary_record_read(struct ark_canary_record *r, char *raw, size_t raw_cap, struct ark_err *err)
{
	struct ark_store_config cfg;
	struct ark_core *core;
	int rc = open_core(&cfg, &core, err);
	if (rc)
		return rc;
	rc = ark_core_meta_get(core, "canary_last", raw, raw_cap, err);
	ark_core_close(core);
	if (rc == -ENOENT)
		return ark_err_set(err, -ENOENT, "no canary has run on this machine's state (%s)", cfg.state_db);
	if (rc)
		return rc;
	record_field(raw, "outcome", r->outcome, sizeof r->outcome);
	record_field(raw, "env_file", r->env_file, sizeof r->env_file);
	record_field(raw, "bin", r->bin, sizeof r->bin);
	record_field(raw, "reason", r->reason, sizeof r->reason);
	record_field(raw, "percent", r->percent, sizeof r->percent);
	record_field(raw, "events", r->events, sizeof r->events);
	record_field(raw, "env_sha256", r->env_sha256, sizeof r->env_sha256);
	record_field(raw, "bin_path", r->bin_path, sizeof r->bin_path);
	record_field(raw, "bin_sha256", r->bin_sha256, sizeof r->bin_sha256);
	record_field(raw, "rules", r->rules, sizeof r->rules);
	record_field(raw, "rules_sha256", r->rules_sha256, sizeof r->rules_sha256);
	record_field(raw, "looser", r->looser, sizeof r->looser);
	record_field(raw, "injected_stable", r->injected_stable, sizeof r->injected_stable);
	record_field(raw, "injected_canary", r->injected_canary, sizeof r->injected_canary);
	return 0;
}

int ark_canary_record_promoted(const char *raw, const char *env_sha, const char *bin_sha, const char *rules_sha,
			       struct ark_err *err)
{
	/* The record again, as promoted, with what was promoted: a second
	 * promote is refused. */
	static char detail[32768 + 512];
	const char *rest = strncmp(raw, "outcome=", 8) == 0 && strchr(raw, '\n') ? strchr(raw, '\n') + 1 : raw;
	snprintf(detail, sizeof detail, "outcome=promoted\npromoted_env_sha256=%s\npromoted_bin_sha256=%s\npromoted_rules_sha256=%s\n%s",
		 env_sha, bin_sha, rules_sha, rest);
	struct ark_store_config cfg;
	struct ark_core *core;
	int rc = open_core(&cfg, &core, err);
	if (rc)
		return rc;
	uint64_t now = ark_realtime_ns();
	rc = ark_core_record_canary_run(core, now, now, "promoted", 0, 0, detail, err);
	if (!rc)
		rc = ark_core_meta_set(core, "canary_last", detail, err);
	ark_core_close(core);
	return rc;
}
