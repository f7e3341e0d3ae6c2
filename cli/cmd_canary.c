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
 *           <binary>.previous). Asks for confirmation. Only what ran is
 *           promoted: the env file, binary and rules must hash now as they
 *           did when the canary started (recorded by the watchdog), and the
 *           bytes hashed are the bytes written; the hashes promoted are
 *           recorded (canary_runs, metadata canary_last). */
#include "pipeline/pipeline.h"
#include "cli/command.h"
#include "cli/instance.h"
#include "ops/ops.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

/* What every `ark canary status --json` answer opens with. */
static void json_begin(struct ark_json *j, const char *instance, bool live, const char *state)
{
	ark_json_init(j, stdout);
	ark_json_object_begin(j, NULL);
	ark_json_string(j, "instance", instance);
	ark_json_bool(j, "live", live);
	ark_json_string(j, "state", state);
}

/* The running canary, read from the segment. */
static void print_live(const struct ark_pipeline_map *map, const char *instance, bool json)
{
	const struct ark_canary_control *cc = &map->pipeline->canary;
	static struct ark_lane_stats lanes[ARK_LANE_COUNT];
	for (int l = 0; l < ARK_LANE_COUNT; l++)
		ark_pipeline_lane_stats(map, (enum ark_lane)l, &lanes[l]);
	const char *state = ark_pipeline_canary_outcome_name((enum ark_canary_outcome)atomic_load(&cc->outcome));
	char reason[sizeof cc->reason];
	memcpy(reason, cc->reason, sizeof reason);
	reason[sizeof reason - 1] = '\0';
	if (json) {
		struct ark_json j;
		json_begin(&j, instance, true, state);
		ark_json_uint(&j, "percent", atomic_load(&cc->percent));
		ark_json_bool(&j, "routing", atomic_load(&cc->route_applied) != 0);
		ark_json_string_n(&j, "canary", cc->spec, sizeof cc->spec);
		ark_json_uint(&j, "routed", atomic_load(&cc->routed));
		ark_json_uint(&j, "checks", atomic_load(&cc->checks));
		ark_json_uint(&j, "rollbacks", atomic_load(&cc->rollbacks));
		ark_json_string(&j, "reason", reason);
		ark_json_object_begin(&j, "lanes");
		for (int l = 0; l < ARK_LANE_COUNT; l++) {
			ark_json_object_begin(&j, l ? "canary" : "stable");
			ark_json_uint(&j, "events", lanes[l].events);
			ark_json_uint(&j, "intents", lanes[l].intents);
			ark_json_uint(&j, "denials", lanes[l].denials);
			ark_json_fixed(&j, "p95_us", (double)ark_hist_quantile(&lanes[l].latency, 0.95) / 1e3, 3);
			const struct ark_pipeline_counters *c = l ? &map->pipeline->canary_counters : &map->pipeline->counters;
			ark_json_object_begin(&j, "injected");
			ark_json_uint(&j, "denied", atomic_load(&c->injected_denied));
			ark_json_uint(&j, "wrong_reason", atomic_load(&c->injected_wrong_reason));
			ark_json_uint(&j, "allowed", atomic_load(&c->injected_allowed));
			ark_json_uint(&j, "inconclusive", atomic_load(&c->injected_inconclusive));
			ark_json_object_end(&j);
			ark_json_object_end(&j);
		}
		ark_json_object_end(&j);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		printf("canary of instance %s: %s%s%s\n", instance, state, reason[0] ? " — " : "", reason);
		printf("  runs       %s\n", cc->spec);
		printf("  share      %u%% by trace hash (%s)\n", (unsigned)atomic_load(&cc->percent),
		       atomic_load(&cc->route_applied) ? "routing now" : "not routing");
		printf("  checks     %llu, rollbacks %llu, events routed %llu\n",
		       (unsigned long long)atomic_load(&cc->checks), (unsigned long long)atomic_load(&cc->rollbacks),
		       (unsigned long long)atomic_load(&cc->routed));
		for (int l = 0; l < ARK_LANE_COUNT; l++) {
			const struct ark_pipeline_counters *c = l ? &map->pipeline->canary_counters : &map->pipeline->counters;
			printf("  %-10s %llu events, %llu intents, %llu denied (%.2f%%), p95 %.1f us; injected violations "
			       "%llu denied, %llu denied for another reason, %llu ALLOWED, %llu inconclusive (setup denied)\n",
			       l ? "canary" : "stable", (unsigned long long)lanes[l].events,
			       (unsigned long long)lanes[l].intents, (unsigned long long)lanes[l].denials,
			       lanes[l].events ? 100.0 * (double)lanes[l].denials / (double)lanes[l].events : 0.0,
			       (double)ark_hist_quantile(&lanes[l].latency, 0.95) / 1e3,
			       (unsigned long long)atomic_load(&c->injected_denied),
			       (unsigned long long)atomic_load(&c->injected_wrong_reason),
			       (unsigned long long)atomic_load(&c->injected_allowed),
			       (unsigned long long)atomic_load(&c->injected_inconclusive));
		}
	}
}

/* No canary running and none recorded: why (err). */
static void print_none(const char *instance, bool json, const struct ark_err *err)
{
	if (json) {
		struct ark_json j;
		json_begin(&j, instance, false, "none");
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else
		printf("no canary: %s\n", err->msg);
}

/* The last canary recorded (no canary running). */
static void print_recorded(const struct ark_canary_record *r, const char *instance, bool json)
{
	if (json) {
		struct ark_json j;
		json_begin(&j, instance, false, r->outcome);
		ark_json_uint(&j, "percent", strtoull(r->percent, NULL, 10));
		ark_json_string(&j, "env_file", r->env_file);
		ark_json_string(&j, "bin", r->bin);
		ark_json_uint(&j, "events", strtoull(r->events, NULL, 10));
		ark_json_string(&j, "reason", r->reason);
		ark_json_string(&j, "env_sha256", r->env_sha256);
		ark_json_string(&j, "bin_path", r->bin_path);
		ark_json_string(&j, "bin_sha256", r->bin_sha256);
		ark_json_string(&j, "rules", r->rules);
		ark_json_string(&j, "rules_sha256", r->rules_sha256);
		ark_json_string(&j, "looser", r->looser);
		ark_json_string(&j, "injected_stable", r->injected_stable);
		ark_json_string(&j, "injected_canary", r->injected_canary);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		printf("last canary (recorded): %s — %s\n", r->outcome, r->reason);
		printf("  runs       %s%s%s%s\n", r->env_file[0] ? "env=" : "", r->env_file, r->bin[0] ? " bin=" : "", r->bin);
		printf("  share      %s%%, %s events in the canary lane\n", r->percent, r->events);
		if (r->env_sha256[0])
			printf("  env file   sha256 %s\n", r->env_sha256);
		if (r->bin_sha256[0])
			printf("  binary     %s sha256 %s\n", r->bin_path, r->bin_sha256);
		if (r->rules_sha256[0])
			printf("  rules      %s sha256 %s%s%s\n", r->rules, r->rules_sha256, r->looser[0] ? ", LOOSER than stable: " : "",
			       r->looser);
		if (r->injected_canary[0])
			printf("  injected   stable %s; canary %s\n", r->injected_stable, r->injected_canary);
	}
}

static int status_main(const char *instance, bool json)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err) == 0 && ark_pipeline_has_canary(&map)) {
		print_live(&map, instance, json);
		ark_pipeline_detach(&map);
		return 0;
	}
	if (map.pipeline)
		ark_pipeline_detach(&map);
	struct ark_canary_record r;
	static char raw[32768];
	if (ark_canary_record_read(&r, raw, sizeof raw, &err)) {
		print_none(instance, json, &err);
		return 1;
	}
	print_recorded(&r, instance, json);
	return 0;
}

static int rollback_request(const char *instance, double timeout_s)
{
	struct ark_pipeline_map map;
	struct ark_err err = {0};
	if (ark_pipeline_attach(&map, instance, &err))
		return ark_cli_fail("canary rollback", &err, 1);
	struct ark_canary_control *cc = &map.pipeline->canary;
	uint32_t outcome = atomic_load(&cc->outcome);
	if (!ark_pipeline_has_canary(&map) || outcome == ARK_CANARY_NONE || outcome == ARK_CANARY_PASSED ||
	    outcome == ARK_CANARY_ROLLED_BACK || outcome == ARK_CANARY_STOPPED) {
		fprintf(stderr, "ark canary rollback: instance %s has no canary running (state %s)\n", instance,
			ark_pipeline_canary_outcome_name((enum ark_canary_outcome)outcome));
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
			printf("ark canary rollback: %s (%s)\n", ark_pipeline_canary_outcome_name((enum ark_canary_outcome)outcome),
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

static int copy_file(const char *from, const char *to, mode_t mode, struct ark_err *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return ark_err_set(err, -errno, "%s: %s", from, strerror(errno));
	char tmp[4300];
	size_t tl = strlen(to);
	if (tl + sizeof ".new-XXXXXX" > sizeof tmp) {
		close(in);
		return ark_err_set(err, -ENAMETOOLONG, "%s: path too long", to);
	}
	memcpy(tmp, to, tl);
	memcpy(tmp + tl, ".new-XXXXXX", sizeof ".new-XXXXXX");
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

/* The file must hash now as it did when the canary ran: 0 with its bytes
 * (those hashed), or 1 after saying why not. */
static int what_ran(const char *what, const char *path, const char *recorded, size_t max, char **data, size_t *len,
		    char sha[65], struct stat *st)
{
	struct ark_err err = {0};
	struct stat ignored;
	if (ark_cli_read_hashed_stat(path, max, data, len, sha, st ? st : &ignored, &err)) {
		fprintf(stderr, "ark canary promote: the canary's %s: %s (nothing changed)\n", what, err.msg);
		return 1;
	}
	if (!recorded[0]) {
		fprintf(stderr, "ark canary promote: the canary's record has no hash of its %s (a canary started by an older "
				"ARK): run the canary again (nothing changed)\n", what);
	} else if (strcmp(recorded, sha) != 0) {
		fprintf(stderr, "ark canary promote: the canary's %s %s changed since the canary ran (sha256 %s then, %s now): "
				"only what ran is promoted; run a new canary (nothing changed)\n", what, path, recorded, sha);
	} else {
		return 0;
	}
	if (data) {
		free(*data);
		*data = NULL;
	}
	return 1;
}

static int write_bytes(const char *to, const char *data, size_t len, mode_t mode, struct ark_err *err)
{
	char tmp[4300];
	size_t tl = strlen(to);
	if (tl + sizeof ".new-XXXXXX" > sizeof tmp)
		return ark_err_set(err, -ENAMETOOLONG, "%s: path too long", to);
	memcpy(tmp, to, tl);
	memcpy(tmp + tl, ".new-XXXXXX", sizeof ".new-XXXXXX");
	int out = mkstemp(tmp);
	if (out < 0)
		return ark_err_set(err, -errno, "cannot write beside %s: %s", to, strerror(errno));
	bool ok = true;
	for (size_t done = 0; ok && done < len;) {
		ssize_t w = write(out, data + done, len - done);
		ok = w > 0;
		done += w > 0 ? (size_t)w : 0;
	}
	ok &= fchmod(out, mode) == 0 && fsync(out) == 0;
	close(out);
	if (!ok || rename(tmp, to) != 0) {
		unlink(tmp);
		return ark_err_set(err, -EIO, "cannot install %s: %s", to, strerror(errno));
	}
	return 0;
}

/* What a promotion works on, gathered step by step. */
struct promotion {
	struct ark_canary_record r;
	char raw[32768];                 /* the record as read (recorded again as promoted) */
	const char *stable_env;          /* the env file this command loaded */
	struct ark_env_file canary_env;  /* the canary's settings, from the bytes hashed */
	char env_sha[65], bin_sha[65], rules_sha[65];
	char *bin_bytes;                 /* the canary's binary, the bytes hashed */
	size_t bin_len;
	char exe[4096];                  /* where its binary goes */
};

/* Only a canary that passed, and only what ran: its env file, rules and
 * binary must hash as recorded. 0, or the exit status after saying why. */
static int promote_check(struct promotion *m, const char *install_bin)
{
	struct ark_err err = {0};
	struct ark_canary_record *r = &m->r;
	if (ark_canary_record_read(r, m->raw, sizeof m->raw, &err))
		return ark_cli_fail("canary promote", &err, 1);
	if (strcmp(r->outcome, "passed") != 0) {
		fprintf(stderr, "ark canary promote: the last canary %s%s%s: only a canary that passed is promoted\n",
			strcmp(r->outcome, "promoted") == 0 ? "was promoted already" : r->outcome,
			r->reason[0] && strcmp(r->outcome, "promoted") ? " — " : "", strcmp(r->outcome, "promoted") ? r->reason : "");
		return 1;
	}
	m->stable_env = getenv("ARK_ENV_FILE_LOADED");
	if (r->env_file[0]) {
		if (!m->stable_env || !*m->stable_env) {
			fprintf(stderr, "ark canary promote: no stable env file to promote into: give --env-file FILE "
					"(or set ARK_ENV_FILE)\n");
			return 2;
		}
		char *text;
		size_t len;
		struct stat st;
		if (what_ran("env file", r->env_file, r->env_sha256, 1u << 20, &text, &len, m->env_sha, &st))
			return 1;
		int prc = ark_env_file_parse_text(r->env_file, text, len, &m->canary_env, &err);
		explicit_bzero(text, len);
		free(text);
		if (prc) {
			fprintf(stderr, "ark canary promote: the canary's env file: %s\n", err.msg);
			return 1;
		}
		/* Judged on the file whose bytes were read. */
		m->canary_env.mode = st.st_mode & 07777;
		m->canary_env.uid = (unsigned)st.st_uid;
		if (ark_env_file_check_private(&m->canary_env, &err))
			return ark_cli_fail("canary promote", &err, 2);
	}
	/* The rules its HRM enforced: the promoted settings point at them. */
	size_t rules_len = 0;
	if (r->rules[0] && what_ran("rules", r->rules, r->rules_sha256, 1u << 20, NULL, &rules_len, m->rules_sha, NULL))
		return 1;
	if (r->bin[0]) {
		if (install_bin) {
			snprintf(m->exe, sizeof m->exe, "%s", install_bin);
		} else if (ark_self_exe(m->exe, sizeof m->exe, &err)) {
			fprintf(stderr, "ark canary promote: %s (nothing changed)\n", err.msg);
			return 1;
		}
		if (what_ran("binary", r->bin_path[0] ? r->bin_path : r->bin, r->bin_sha256, 1u << 30, &m->bin_bytes,
			     &m->bin_len, m->bin_sha, NULL))
			return 1;
	}
	return 0;
}

/* The plan, then the operator's yes (unless --yes). 0 to go on, else the
 * exit status. */
static int promote_confirm(const struct promotion *m, bool yes)
{
	const struct ark_canary_record *r = &m->r;
	printf("ark canary promote: the canary passed (%s%% of signals, %s events)\n", r->percent, r->events);
	if (r->env_file[0])
		printf("  its settings (%zu from %s, sha256 %s) go into %s; the current one is kept for ark rollback\n",
		       m->canary_env.count, r->env_file, m->env_sha, m->stable_env);
	if (r->bin[0])
		printf("  its binary %s (sha256 %s) is installed as %s; the current one is kept as %s.previous\n", r->bin,
		       m->bin_sha, m->exe, m->exe);
	if (r->rules[0])
		printf("  its rules: %s (sha256 %s)\n", r->rules, m->rules_sha);
	if (r->looser[0])
		printf("  WARNING: its rules are looser than the stable rules it ran beside: %s\n", r->looser);
	return ark_cli_confirm("canary promote", yes, "Promote? [y/N] ", false);
}

/* The canary's settings into the stable env file (kept first for ark
 * rollback). 0 or 1 after saying why. */
static int promote_env(const struct promotion *m)
{
	struct ark_err err = {0};
	ark_cli_keep_env_snapshot();
	static char old[1 << 20], text[1 << 20];
	FILE *f = fopen(m->stable_env, "r");
	size_t old_len = f ? fread(old, 1, sizeof old - 1, f) : 0;
	bool whole = f && !ferror(f) && feof(f);
	if (f)
		fclose(f);
	if (!whole) {
		fprintf(stderr, "ark canary promote: cannot read all of %s (nothing changed)\n", m->stable_env);
		return 1;
	}
	old[old_len] = '\0';
	char comment[4300];
	snprintf(comment, sizeof comment, "# promoted from the canary %.4096s (sha256 %s)", m->r.env_file, m->env_sha);
	size_t len = 0;
	if (ark_env_file_merge(old, &m->canary_env, comment, text, sizeof text, &len, &err)) {
		fprintf(stderr, "ark canary promote: the promoted env file would be too large (nothing changed)\n");
		return 1;
	}
	if (ark_cli_write_atomic(m->stable_env, text, len, &err))
		return ark_cli_fail("canary promote", &err, 1);
	printf("  ✓ %s updated\n", m->stable_env);
	return 0;
}

/* The canary's binary (the bytes that hashed as it, not a new read) over
 * the stable one, kept first as .previous. 0 or 1 after saying why. */
static int promote_binary(const struct promotion *m)
{
	struct ark_err err = {0};
	char previous[4200];
	snprintf(previous, sizeof previous, "%s.previous", m->exe);
	struct stat st;
	mode_t mode = stat(m->exe, &st) == 0 ? (st.st_mode & 0777) : 0755;
	int rc = 0;
	if (access(m->exe, F_OK) == 0 && (rc = copy_file(m->exe, previous, mode, &err)) == 0)
		printf("  ✓ previous binary kept as %s\n", previous);
	if (!rc && (rc = write_bytes(m->exe, m->bin_bytes, m->bin_len, mode, &err)) == 0)
		printf("  ✓ %s installed as %s\n", m->r.bin, m->exe);
	if (rc)
		return ark_cli_fail("canary promote", &err, 1);
	return 0;
}

static int promote(const char *install_bin, bool yes)
{
	static struct promotion m;
	memset(&m, 0, sizeof m);
	int rc = promote_check(&m, install_bin);
	if (!rc)
		rc = promote_confirm(&m, yes);
	if (!rc && m.r.env_file[0])
		rc = promote_env(&m);
	if (!rc && m.r.bin[0])
		rc = promote_binary(&m);
	if (!rc) {
		struct ark_err err = {0};
		if (ark_canary_record_promoted(m.raw, m.env_sha, m.bin_sha, m.rules_sha, &err)) {
			fprintf(stderr, "ark canary promote: promoted, but cannot record it: %s\n", err.msg);
			rc = 1;
		} else {
			printf("ark canary promote: done (recorded: env sha256 %s, binary sha256 %s, rules sha256 %s); restart "
			       "ARK to run it on every lane (ark stop && ark start)\n",
			       m.env_sha[0] ? m.env_sha : "-", m.bin_sha[0] ? m.bin_sha : "-", m.rules_sha[0] ? m.rules_sha : "-");
		}
	}
	ark_env_file_free(&m.canary_env);
	free(m.bin_bytes);
	return rc;
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
	/* --json belongs to status, --yes and --install-bin to promote,
	 * --timeout to rollback. */
	static const struct option longopts[] = {
		{"instance", required_argument, NULL, 'i'},    {"json", no_argument, NULL, 'j'},
		{"yes", no_argument, NULL, 'y'},               {"install-bin", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'},     {NULL, 0, NULL, 0}};
	bool status = strcmp(sub, "status") == 0, promoting = strcmp(sub, "promote") == 0,
	     rolling_back = strcmp(sub, "rollback") == 0;
	int opt;
	optind = 2;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (opt == 'i') {
			instance = optarg;
		} else if (opt == 'j' && status) {
			json = true;
		} else if (opt == 'y' && promoting) {
			yes = true;
		} else if (opt == 'b' && promoting) {
			install_bin = optarg;
		} else if (opt == 't' && rolling_back) {
			if (ark_parse_double(optarg, 1, 3600, "--timeout", &timeout, &err))
				return ark_cli_fail("canary", &err, 2);
		} else {
			fprintf(stderr, "ark canary %s: unexpected argument '%s'\n", sub, ark_cli_last_option(argv));
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark canary %s: unexpected argument '%s'\n", sub, argv[optind]);
		return 2;
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
