/* cli/cmd_canary.c — `ark canary status|rollback|promote`: the operator's
 * side of a canary lane started by `ark start --canary` (the watchdog runs
 * it: watchdog/canary.c).
 *
 * status    the live canary of a running instance (share, state, tripwire
 *           numbers per lane), else the last one recorded in the Mutable Core;
 * rollback  asks the watchdog to roll the running canary back now;
 * promote   makes a canary that passed the stable configuration: its env
 *           file's settings are written into the stable env file (the one
 *           this command loaded), its binary installed over the stable one;
 *           what was there is kept first (env snapshot for `ark rollback`,
 *           <binary>.previous). Asks for confirmation. */
#include "agents/agents.h"
#include "cli/command.h"
#include "cli/instance.h"
#include "ops/ops.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark canary status [--instance NAME] [--json]\n"
		"       ark canary rollback [--instance NAME] [--timeout SECONDS]\n"
		"       ark canary promote [--env-file STABLE_ENV] [--install-bin PATH] [--yes]\n\n"
		"A canary runs beside the stable lane (ark start --canary --canary-env FILE |\n"
		"--canary-bin PATH): its own Joey, HRM and Kenny take --canary-percent of the\n"
		"signals by trace hash for --canary-window. Every check interval the watchdog\n"
		"checks the tripwires (canary denials above the stable baseline by 3 sigma, any\n"
		"quarantine, canary p95 over SLO_P95_LATENCY_MS for 3 checks in a row) and rolls\n"
		"back on any: all traffic to stable, the lane drained and stopped, no event lost.\n\n"
		"status    the running canary, else the last one recorded (exit 0; 1 when none)\n"
		"rollback  roll the running canary back now (exit 0 once rolled back)\n"
		"promote   make the last canary, which must have passed, the stable configuration:\n"
		"          its env file's values go into the stable env file (--env-file, default\n"
		"          $ARK_ENV_FILE or .env.production with ARK_ENV=prod), its binary over\n"
		"          --install-bin (default: this ark). The previous env file is kept for\n"
		"          ark rollback, the previous binary as PATH.previous. Restart to apply.\n");
}

/* The last canary recorded ("key=value" lines in metadata canary_last). */
struct canary_record {
	char outcome[32], env_file[4096], bin[4096], reason[256], percent[16], events[32];
};

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

static int read_record(struct canary_record *r, char *raw, size_t raw_cap, struct ark_err *err)
{
	struct ark_store_config cfg;
	struct ark_core *core;
	int rc = ark_store_config_from_env(&cfg, err);
	if (!rc)
		rc = ark_core_open(&core, &cfg, ARK_CORE_NO_CHECKPOINTER, NULL, err);
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
	return 0;
}

static int status_main(const char *instance, bool json)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err) == 0 && ark_pipeline_has_canary(&map)) {
		const struct ark_canary_control *cc = &map.pipeline->canary;
		static struct ark_lane_stats lanes[ARK_LANE_COUNT];
		for (int l = 0; l < ARK_LANE_COUNT; l++)
			ark_pipeline_lane_stats(&map, (enum ark_lane)l, &lanes[l]);
		const char *state = ark_canary_outcome_name((enum ark_canary_outcome)atomic_load(&cc->outcome));
		char reason[sizeof cc->reason];
		memcpy(reason, cc->reason, sizeof reason);
		reason[sizeof reason - 1] = '\0';
		if (json) {
			printf("{\"instance\":");
			ark_json_write_string(stdout, instance);
			printf(",\"live\":true,\"state\":\"%s\",\"percent\":%u,\"routing\":%s,\"canary\":", state,
			       (unsigned)atomic_load(&cc->percent), atomic_load(&cc->route_applied) ? "true" : "false");
			ark_json_write_string(stdout, cc->spec);
			printf(",\"routed\":%llu,\"checks\":%llu,\"rollbacks\":%llu,\"reason\":",
			       (unsigned long long)atomic_load(&cc->routed), (unsigned long long)atomic_load(&cc->checks),
			       (unsigned long long)atomic_load(&cc->rollbacks));
			ark_json_write_string(stdout, reason);
			printf(",\"lanes\":{");
			for (int l = 0; l < ARK_LANE_COUNT; l++)
				printf("%s\"%s\":{\"events\":%llu,\"intents\":%llu,\"denials\":%llu,\"p95_us\":%.3f}", l ? "," : "",
				       l ? "canary" : "stable", (unsigned long long)lanes[l].events,
				       (unsigned long long)lanes[l].intents, (unsigned long long)lanes[l].denials,
				       (double)ark_hist_quantile(&lanes[l].latency, 0.95) / 1e3);
			printf("}}\n");
		} else {
			printf("canary of instance %s: %s%s%s\n", instance, state, reason[0] ? " — " : "", reason);
			printf("  runs       %s\n", cc->spec);
			printf("  share      %u%% by trace hash (%s)\n", (unsigned)atomic_load(&cc->percent),
			       atomic_load(&cc->route_applied) ? "routing now" : "not routing");
			printf("  checks     %llu, rollbacks %llu, events routed %llu\n",
			       (unsigned long long)atomic_load(&cc->checks), (unsigned long long)atomic_load(&cc->rollbacks),
			       (unsigned long long)atomic_load(&cc->routed));
			for (int l = 0; l < ARK_LANE_COUNT; l++)
				printf("  %-10s %llu events, %llu intents, %llu denied (%.2f%%), p95 %.1f us\n",
				       l ? "canary" : "stable", (unsigned long long)lanes[l].events,
				       (unsigned long long)lanes[l].intents, (unsigned long long)lanes[l].denials,
				       lanes[l].events ? 100.0 * (double)lanes[l].denials / (double)lanes[l].events : 0.0,
				       (double)ark_hist_quantile(&lanes[l].latency, 0.95) / 1e3);
		}
		ark_pipeline_detach(&map);
		return 0;
	}
	if (map.pipeline)
		ark_pipeline_detach(&map);
	struct canary_record r;
	static char raw[16384];
	if (read_record(&r, raw, sizeof raw, &err)) {
		if (json)
			printf("{\"instance\":\"%s\",\"live\":false,\"state\":\"none\"}\n", instance);
		else
			printf("no canary: %s\n", err.msg);
		return 1;
	}
	if (json) {
		printf("{\"instance\":");
		ark_json_write_string(stdout, instance);
		printf(",\"live\":false,\"state\":");
		ark_json_write_string(stdout, r.outcome);
		printf(",\"percent\":%s,\"env_file\":", r.percent[0] ? r.percent : "0");
		ark_json_write_string(stdout, r.env_file);
		printf(",\"bin\":");
		ark_json_write_string(stdout, r.bin);
		printf(",\"events\":%s,\"reason\":", r.events[0] ? r.events : "0");
		ark_json_write_string(stdout, r.reason);
		printf("}\n");
	} else {
		printf("last canary (recorded): %s — %s\n", r.outcome, r.reason);
		printf("  runs       %s%s%s%s\n", r.env_file[0] ? "env=" : "", r.env_file, r.bin[0] ? " bin=" : "", r.bin);
		printf("  share      %s%%, %s events in the canary lane\n", r.percent, r.events);
	}
	return 0;
}

static int rollback_request(const char *instance, double timeout_s)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err)) {
		fprintf(stderr, "ark canary rollback: %s\n", err.msg);
		return 1;
	}
	struct ark_canary_control *cc = &map.pipeline->canary;
	uint32_t outcome = atomic_load(&cc->outcome);
	if (!ark_pipeline_has_canary(&map) || outcome == ARK_CANARY_NONE || outcome == ARK_CANARY_PASSED ||
	    outcome == ARK_CANARY_ROLLED_BACK || outcome == ARK_CANARY_STOPPED) {
		fprintf(stderr, "ark canary rollback: instance %s has no canary running (state %s)\n", instance,
			ark_canary_outcome_name((enum ark_canary_outcome)outcome));
		ark_pipeline_detach(&map);
		return 1;
	}
	atomic_store(&cc->rollback_requested, 1);
	printf("ark canary rollback: asked the watchdog to roll the canary back\n");
	uint64_t deadline = ark_now_ns() + (uint64_t)(timeout_s * 1e9);
	int rc = 1;
	while (ark_now_ns() < deadline) {
		outcome = atomic_load(&cc->outcome);
		if (outcome == ARK_CANARY_ROLLED_BACK || outcome == ARK_CANARY_PASSED) {
			printf("ark canary rollback: %s (%s)\n", ark_canary_outcome_name((enum ark_canary_outcome)outcome),
			       cc->reason);
			rc = outcome == ARK_CANARY_ROLLED_BACK ? 0 : 1;
			break;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc && ark_now_ns() >= deadline)
		fprintf(stderr, "ark canary rollback: not rolled back within %.0f s (is the watchdog running?)\n", timeout_s);
	ark_pipeline_detach(&map);
	return rc;
}

/* A value as an env file line keeps it: single quotes when it has none,
 * else double quotes with the parser's escapes. False when it does not fit. */
static bool append_assignment(char *text, size_t cap, size_t *len, const char *key, const char *value)
{
	static char esc[16384];
	const char *quote = "'";
	const char *v = value;
	if (strchr(value, '\'') || strchr(value, '\n')) {
		size_t k = 0;
		for (const char *c = value; *c; c++) {
			if (k + 3 >= sizeof esc)
				return false;
			if (*c == '"' || *c == '\\' || *c == '$')
				esc[k++] = '\\';
			if (*c == '\n') {
				esc[k++] = '\\';
				esc[k++] = 'n';
				continue;
			}
			esc[k++] = *c;
		}
		esc[k] = '\0';
		quote = "\"";
		v = esc;
	}
	int n = snprintf(text + *len, cap - *len, "%s=%s%s%s\n", key, quote, v, quote);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

/* The key a line of an env file assigns, as the parser reads it ("" for
 * comments and blank lines). */
static void line_key(const char *line, size_t len, char *key, size_t cap)
{
	key[0] = '\0';
	struct ark_env_file one;
	struct ark_err err = {0};
	if (ark_env_file_parse_text("line", line, len, &one, &err) == 0) {
		if (one.count == 1)
			snprintf(key, cap, "%s", one.entries[0].key);
		ark_env_file_free(&one);
	}
}

static int copy_file(const char *from, const char *to, mode_t mode, struct ark_err *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return ark_err_set(err, -errno, "%s: %s", from, strerror(errno));
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", to);
	int out = mkstemp(tmp);
	if (out < 0) {
		close(in);
		return ark_err_set(err, -errno, "cannot write beside %s: %s", to, strerror(errno));
	}
	static char buf[1 << 16];
	ssize_t n;
	bool ok = true;
	while ((n = read(in, buf, sizeof buf)) > 0)
		ok &= write(out, buf, (size_t)n) == n;
	ok &= n == 0 && fchmod(out, mode) == 0 && fsync(out) == 0;
	close(in);
	close(out);
	if (!ok || rename(tmp, to) != 0) {
		unlink(tmp);
		return ark_err_set(err, -EIO, "cannot install %s: %s", to, strerror(errno));
	}
	return 0;
}

static int promote(const char *install_bin, bool yes)
{
	struct ark_err err = {0};
	struct canary_record r;
	static char raw[16384];
	if (read_record(&r, raw, sizeof raw, &err)) {
		fprintf(stderr, "ark canary promote: %s\n", err.msg);
		return 1;
	}
	if (strcmp(r.outcome, "passed") != 0) {
		fprintf(stderr, "ark canary promote: the last canary %s%s%s: only a canary that passed is promoted\n",
			strcmp(r.outcome, "promoted") == 0 ? "was promoted already" : r.outcome,
			r.reason[0] && strcmp(r.outcome, "promoted") ? " — " : "", strcmp(r.outcome, "promoted") ? r.reason : "");
		return 1;
	}
	const char *stable_env = getenv("ARK_ENV_FILE_LOADED");
	struct ark_env_file canary_env = {0};
	if (r.env_file[0]) {
		if (!stable_env || !*stable_env) {
			fprintf(stderr, "ark canary promote: no stable env file to promote into: give --env-file FILE "
					"(or set ARK_ENV_FILE)\n");
			return 2;
		}
		if (ark_env_file_parse(r.env_file, &canary_env, &err)) {
			fprintf(stderr, "ark canary promote: the canary's env file: %s\n", err.msg);
			return 1;
		}
		if (ark_env_file_check_private(&canary_env, &err)) {
			ark_env_file_free(&canary_env);
			fprintf(stderr, "ark canary promote: %s\n", err.msg);
			return 2;
		}
	}
	char exe[4096] = "";
	if (r.bin[0]) {
		if (install_bin) {
			snprintf(exe, sizeof exe, "%s", install_bin);
		} else {
			ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
			exe[n > 0 ? n : 0] = '\0';
		}
		if (access(r.bin, X_OK) != 0) {
			fprintf(stderr, "ark canary promote: the canary's binary %s is gone or not executable\n", r.bin);
			ark_env_file_free(&canary_env);
			return 1;
		}
	}
	printf("ark canary promote: the canary passed (%s%% of signals, %s events)\n", r.percent, r.events);
	if (r.env_file[0])
		printf("  its settings (%zu from %s) go into %s; the current one is kept for ark rollback\n",
		       canary_env.count, r.env_file, stable_env);
	if (r.bin[0])
		printf("  its binary %s is installed as %s; the current one is kept as %s.previous\n", r.bin, exe, exe);
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "ark canary promote: confirmation needed: run it on a terminal, or pass --yes\n");
			ark_env_file_free(&canary_env);
			return 2;
		}
		printf("Promote? [y/N] ");
		fflush(stdout);
		char answer[16] = "";
		if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y')) {
			printf("ark canary promote: not confirmed; nothing changed\n");
			ark_env_file_free(&canary_env);
			return 1;
		}
	}
	int rc = 0;
	if (r.env_file[0]) {
		ark_cli_keep_env_snapshot();
		static char old[1 << 20], text[1 << 20];
		FILE *f = fopen(stable_env, "r");
		size_t old_len = f ? fread(old, 1, sizeof old - 1, f) : 0;
		bool whole = f && !ferror(f) && feof(f);
		if (f)
			fclose(f);
		if (!whole) {
			fprintf(stderr, "ark canary promote: cannot read all of %s (nothing changed)\n", stable_env);
			ark_env_file_free(&canary_env);
			return 1;
		}
		old[old_len] = '\0';
		size_t len = 0;
		/* Every line stays but those the canary sets; its values follow. */
		for (char *line = old; *line;) {
			char *nl = strchr(line, '\n');
			size_t l = nl ? (size_t)(nl - line) : strlen(line);
			char key[128];
			line_key(line, l, key, sizeof key);
			bool replaced = false;
			for (size_t j = 0; key[0] && j < canary_env.count && !replaced; j++)
				replaced = strcmp(canary_env.entries[j].key, key) == 0;
			if (!replaced && len + l + 1 < sizeof text) {
				memcpy(text + len, line, l);
				len += l;
				text[len++] = '\n';
			}
			line = nl ? nl + 1 : line + l;
		}
		int n = snprintf(text + len, sizeof text - len, "# promoted from the canary %s\n", r.env_file);
		bool fits = n > 0 && (size_t)n < sizeof text - len;
		if (fits)
			len += (size_t)n;
		for (size_t j = 0; fits && j < canary_env.count; j++)
			fits = append_assignment(text, sizeof text, &len, canary_env.entries[j].key, canary_env.entries[j].value);
		if (!fits) {
			fprintf(stderr, "ark canary promote: the promoted env file would be too large (nothing changed)\n");
			ark_env_file_free(&canary_env);
			return 1;
		}
		rc = ark_cli_write_atomic(stable_env, text, len, &err);
		if (rc)
			fprintf(stderr, "ark canary promote: %s\n", err.msg);
		else
			printf("  ✓ %s updated\n", stable_env);
	}
	if (!rc && r.bin[0]) {
		char previous[4200];
		snprintf(previous, sizeof previous, "%s.previous", exe);
		struct stat st;
		mode_t mode = stat(exe, &st) == 0 ? (st.st_mode & 0777) : 0755;
		if (access(exe, F_OK) == 0 && (rc = copy_file(exe, previous, mode, &err)) == 0)
			printf("  ✓ previous binary kept as %s\n", previous);
		if (!rc && (rc = copy_file(r.bin, exe, mode, &err)) == 0)
			printf("  ✓ %s installed as %s\n", r.bin, exe);
		if (rc)
			fprintf(stderr, "ark canary promote: %s\n", err.msg);
	}
	ark_env_file_free(&canary_env);
	if (rc)
		return 1;
	struct ark_store_config cfg;
	struct ark_core *core;
	/* The record again, as promoted: a second promote is refused. */
	static char detail[sizeof raw + 64];
	const char *rest = strncmp(raw, "outcome=", 8) == 0 && strchr(raw, '\n') ? strchr(raw, '\n') + 1 : raw;
	snprintf(detail, sizeof detail, "outcome=promoted\n%s", rest);
	if (ark_store_config_from_env(&cfg, &err) || ark_core_open(&core, &cfg, ARK_CORE_NO_CHECKPOINTER, NULL, &err)) {
		fprintf(stderr, "ark canary promote: promoted, but cannot record it: %s\n", err.msg);
		return 1;
	}
	uint64_t now = ark_realtime_ns();
	rc = ark_core_record_canary_run(core, now, now, "promoted", 0, 0, detail, &err);
	if (!rc)
		rc = ark_core_meta_set(core, "canary_last", detail, &err);
	ark_core_close(core);
	if (rc) {
		fprintf(stderr, "ark canary promote: promoted, but cannot record it: %s\n", err.msg);
		return 1;
	}
	printf("ark canary promote: done; restart ARK to run it on every lane (ark stop && ark start)\n");
	return 0;
}

static int canary_main(int argc, char **argv)
{
	if (argc < 2 || ark_wants_help(argc, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	const char *instance = ark_pipeline_default_instance();
	const char *install_bin = NULL;
	bool json = false, yes = false;
	double timeout = 60;
	struct ark_err err = {0};
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
			instance = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 && strcmp(sub, "status") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--yes") == 0 && strcmp(sub, "promote") == 0) {
			yes = true;
		} else if (strcmp(argv[i], "--install-bin") == 0 && i + 1 < argc && strcmp(sub, "promote") == 0) {
			install_bin = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc && strcmp(sub, "rollback") == 0) {
			if (ark_parse_double(argv[++i], 1, 3600, "--timeout", &timeout, &err)) {
				fprintf(stderr, "ark canary: %s\n", err.msg);
				return 2;
			}
		} else {
			fprintf(stderr, "ark canary %s: unexpected argument '%s'\n", sub, argv[i]);
			return 2;
		}
	}
	if (strcmp(sub, "status") == 0)
		return status_main(instance, json);
	if (strcmp(sub, "rollback") == 0)
		return rollback_request(instance, timeout);
	if (strcmp(sub, "promote") == 0)
		return promote(install_bin, yes);
	fprintf(stderr, "ark canary: unknown subcommand '%s' (status, rollback or promote)\n", sub);
	return 2;
}

ARK_COMMAND(canary_command, "canary", "a canary lane: its status, a manual rollback, promotion", canary_main)
