/* cli/cmd_graveyard.c — `ark graveyard install`, `check` and `history`:
 * the operator's hands on the rules HRM enforces.
 *
 * install validates a rules file and installs it read-only (0444) where HRM
 * loads it, printing its SHA-256. The Mutable Core records the APPROVED
 * rules hash, and every start refuses rules that differ from it: installing
 * other rules takes --approve, which records who, when and the previous
 * hash in graveyard_history (and the log). check loads and validates a
 * rules file, prints every limit with its scope and line, the file and
 * table hashes, and holds the hash to --expect, ARK_GRAVEYARD_SHA256 and the
 * recorded approval. history lists the approvals. Nothing is installed that
 * does not parse, and a hash mismatch is exit status 1. */
#include "proc/proc.h"
#include "cli/command.h"
#include "common/common.h"
#include "graveyard/graveyard.h"
#include "store/store.h"

#include <sqlite3.h>
#include <pwd.h>
#include <unistd.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_SOURCE "deploy/graveyard.rules"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark graveyard install [--rules FILE] [--to PATH] [--approve [--by NAME] [--note TEXT]] [--json]\n"
		"       ark graveyard check [--rules FILE] [--expect SHA256] [--json]\n"
		"       ark graveyard history [--json]\n\n"
		"The Graveyard: the immutable rules HRM enforces before any order.\n\n"
		"install  validates FILE (default " DEFAULT_SOURCE ") and copies it atomically\n"
		"         to PATH with mode 0444, then prints its SHA-256. PATH defaults to\n"
		"         $ARK_GRAVEYARD_RULES, else $ARK_DATA_DIR/graveyard.rules (ARK_DATA_DIR:\n"
		"         ./ark-data, or /var/lib/ark with ARK_ENV=prod). The Mutable Core\n"
		"         (ARK_STATE_DB) records the approved rules' hash and every start refuses\n"
		"         rules that differ: rules other than the approved ones need --approve,\n"
		"         which records the approval (--by NAME, default the login name; --note)\n"
		"         with the previous hash in graveyard_history and in watchdog.log.\n"
		"         Refused while the instance runs (stop it first: HRM would latch drift).\n"
		"check    loads and validates FILE (default: the installed rules), prints each\n"
		"         limit with its scope and line, the file's SHA-256 and the compiled\n"
		"         table's hash, and holds the file's hash to --expect SHA256, to\n"
		"         ARK_GRAVEYARD_SHA256 and to the approved hash the Mutable Core records:\n"
		"         exit 1 when any differs (the next start would refuse these rules).\n"
		"history  the approvals: when, by whom, the previous and the new hash, the file.\n"
		"--json   print one JSON object instead of text\n"
		"Exit status: 0 ok, 1 invalid rules, I/O failure or hash mismatch, 2 bad usage.\n");
}

static const enum ark_reason rule_order[] = {
	ARK_REASON_HALTED,          ARK_REASON_MAX_QUANTITY,      ARK_REASON_MAX_NOTIONAL,
	ARK_REASON_PRICE_COLLAR,    ARK_REASON_REFERENCE_PRICE,   ARK_REASON_RESTRICTED_SYMBOL,
	ARK_REASON_RESTRICTED_PATTERN, ARK_REASON_RATE_GLOBAL,    ARK_REASON_RATE_SYMBOL,
	ARK_REASON_DUPLICATE,       ARK_REASON_POSITION_LIMIT,    ARK_REASON_GROSS_EXPOSURE,
	ARK_REASON_DAILY_LOSS,
};

static const char *mode_text(const char *path, char *buf, size_t cap)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return "?";
	snprintf(buf, cap, "%04o", (unsigned)(st.st_mode & 07777));
	return buf;
}

static void print_rules(const struct ark_graveyard_rules *r, const char *path, bool json, const char *expect,
			bool match)
{
	const struct ark_graveyard_limits *l = &r->limits;
	char mode[16], value[4096], reset[32];
	ark_graveyard_describe_reset(l, reset, sizeof reset);
	if (json) {
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "path", path);
		ark_json_string(&j, "mode", mode_text(path, mode, sizeof mode));
		ark_json_uint(&j, "bytes", r->file_size);
		ark_json_string(&j, "sha256", r->file_sha256_hex);
		ark_json_string(&j, "table_sha256", r->table_sha256_hex);
		ark_json_uint(&j, "format_version", l->format_version);
		ark_json_string(&j, "trading_day_reset", reset);
		ark_json_array_begin(&j, "rules");
		for (size_t i = 0; i < ARK_ARRAY_LEN(rule_order); i++) {
			enum ark_reason k = rule_order[i];
			ark_graveyard_describe_rule(l, k, value, sizeof value);
			ark_json_object_begin(&j, NULL);
			ark_json_string(&j, "key", ark_graveyard_rule_key(k));
			ark_json_string(&j, "reason", ark_reason_name(k));
			ark_json_uint(&j, "reason_code", k);
			ark_json_string(&j, "value", value);
			ark_json_string(&j, "scope", ark_graveyard_scope_name(l->rules[k].scope));
			ark_json_uint(&j, "line", l->rules[k].line);
			ark_json_object_end(&j);
		}
		ark_json_array_end(&j);
		if (expect) {
			ark_json_string(&j, "expected_sha256", expect);
			ark_json_bool(&j, "match", match);
		}
		ark_json_object_end(&j);
		ark_json_finish(&j);
		return;
	}
	printf("rules   %s (mode %s, %llu bytes)\n", path, mode_text(path, mode, sizeof mode),
	       (unsigned long long)r->file_size);
	printf("sha256  %s\n", r->file_sha256_hex);
	printf("table   %s\n\n", r->table_sha256_hex);
	printf("%-22s %-28s %-7s %s\n", "rule", "value", "scope", "line");
	for (size_t i = 0; i < ARK_ARRAY_LEN(rule_order); i++) {
		enum ark_reason k = rule_order[i];
		ark_graveyard_describe_rule(l, k, value, sizeof value);
		printf("%-22s %-28s %-7s %u\n", ark_graveyard_rule_key(k), value,
		       ark_graveyard_scope_name(l->rules[k].scope), l->rules[k].line);
	}
	printf("%-22s %s\n", "trading_day_reset", reset);
	if (expect)
		printf("\nexpected %s: %s\n", expect, match ? "match" : "MISMATCH");
}

/* The Mutable Core where the approved hash is recorded; NULL (and 0) with
 * ARK_STATE_DB=:memory:, where nothing outlives a process. */
static int open_core(struct ark_core **core, bool write, struct ark_store_config *store, struct ark_err *err)
{
	*core = NULL;
	int rc = ark_store_config_from_env(store, err);
	if (rc || strcmp(store->state_db, ":memory:") == 0)
		return rc;
	struct stat st;
	if (!write && stat(store->state_db, &st) != 0)
		return 0;   /* no Mutable Core yet: nothing recorded */
	store->db_integrity = write ? store->db_integrity : ARK_DB_INTEGRITY_OFF;
	struct ark_core_open_info info;
	rc = ark_core_open(core, store, (write ? 0 : ARK_CORE_READONLY) | ARK_CORE_NO_CHECKPOINTER, &info, err);
	return rc ? ark_err_wrap(err, "the Mutable Core %s", store->state_db) : 0;
}

static void who_approves(char *out, size_t cap)
{
	const char *name = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	if (!name || !*name)
		name = pw ? pw->pw_name : "unknown";
	snprintf(out, cap, "%s (uid %u)", name, (unsigned)getuid());
}

/* `ark graveyard install`'s options. */
struct install_args {
	const char *source, *target, *by, *note;
	bool json, approve;
};

/* -1 to go on, else the exit status (after saying why). */
static int install_parse(int argc, char **argv, struct install_args *a)
{
	static const struct option options[] = {{"rules", required_argument, NULL, 'r'},
						{"to", required_argument, NULL, 't'},
						{"approve", no_argument, NULL, 'a'},
						{"by", required_argument, NULL, 'b'},
						{"note", required_argument, NULL, 'n'},
						{"json", no_argument, NULL, 'j'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	*a = (struct install_args){.source = DEFAULT_SOURCE};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'r': a->source = optarg; break;
		case 't': a->target = optarg; break;
		case 'a': a->approve = true; break;
		case 'b': a->by = optarg; break;
		case 'n': a->note = optarg; break;
		case 'j': a->json = true; break;
		default: return ark_cli_usage(usage, opt, 0);
		}
	}
	if (ark_cli_no_operands("graveyard install", argc, argv))
		return 2;
	if ((a->by || a->note) && !a->approve) {
		fprintf(stderr, "ark graveyard install: --by and --note go with --approve\n");
		return 2;
	}
	if (a->by && (!*a->by || strlen(a->by) > 128)) {
		fprintf(stderr, "ark graveyard install: --by takes a name of 1 to 128 characters\n");
		return 2;
	}
	if (a->note && strlen(a->note) > 1024) {
		fprintf(stderr, "ark graveyard install: --note takes at most 1024 characters\n");
		return 2;
	}
	return -1;
}

/* Record the installed rules as the approved ones (who: --by, else the
 * operator) in the Mutable Core's graveyard_history, and log it. */
static int record_approval(struct ark_core *core, const struct install_args *a,
			   const struct ark_graveyard_rules *rules, const char *previous, char *approver, size_t cap)
{
	struct ark_err err = {0};
	if (a->by)
		snprintf(approver, cap, "%s (uid %u)", a->by, (unsigned)getuid());
	else
		who_approves(approver, cap);
	if (ark_core_graveyard_approve(core, rules->file_sha256_hex, approver, a->target, a->note, &err)) {
		fprintf(stderr, "ark graveyard install: installed, but the approval was not recorded (every start "
				"will refuse these rules until it is): %s\n", err.msg);
		return 1;
	}
	struct ark_log *log = ark_log_open("watchdog", &err);
	if (log) {
		ark_log(log, "warn", "graveyard rules approved by=\"%s\" previous=%s new=%s rules=%s", approver,
			previous, rules->file_sha256_hex, a->target);
		ark_log_close(log);
	}
	return 0;
}

/* What was installed, and whether it is approved. */
static void print_installed(const struct install_args *a, const struct ark_graveyard_rules *rules, bool has_record,
			    const char *recorded, bool recorded_now, const char *approver)
{
	if (a->json) {
		char mode[16];
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "source", a->source);
		ark_json_string(&j, "path", a->target);
		ark_json_string(&j, "mode", mode_text(a->target, mode, sizeof mode));
		ark_json_string(&j, "sha256", rules->file_sha256_hex);
		ark_json_string(&j, "table_sha256", rules->table_sha256_hex);
		ark_json_bool(&j, "approved_now", recorded_now);
		ark_json_string(&j, "previous_approved_sha256", has_record ? recorded : "");
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		printf("installed %s -> %s (mode 0444)\nsha256 %s\n", a->source, a->target, rules->file_sha256_hex);
		if (recorded_now)
			printf("approved by %s (previous: %s): recorded in the Mutable Core's graveyard_history\n", approver,
			       has_record ? recorded : "none");
		else if (!has_record)
			printf("not approved yet: the instance's next start records these rules as approved\n");
	}
}

static int install_main(int argc, char **argv)
{
	struct install_args a;
	int rc = install_parse(argc, argv, &a);
	if (rc >= 0)
		return rc;
	struct ark_err err = {0};
	char path[ARK_GRAVEYARD_PATH_MAX];
	if (!a.target) {
		if (ark_graveyard_installed_path(path, sizeof path, &err))
			return ark_cli_fail("graveyard install", &err, 2);
		a.target = path;
	}
	static struct ark_graveyard_rules rules;
	if (ark_graveyard_load(a.source, &rules, &err))
		return ark_cli_fail("graveyard install", &err, 1);
	struct ark_store_config store;
	if (ark_store_config_from_env(&store, &err))
		return ark_cli_fail("graveyard install", &err, 2);
	if (ark_store_instance_running(store.instance, &err) == 1) {
		fprintf(stderr, "ark graveyard install: instance %s is running: HRM would latch ethics drift and deny "
				"everything; stop it first (ark stop), install, then start it again\n", store.instance);
		return 1;
	}
	struct ark_core *core = NULL;
	if (open_core(&core, true, &store, &err))
		return ark_cli_fail("graveyard install", &err, 1);
	char recorded[72] = "";
	struct ark_err why = {0};
	bool has_record = core && ark_core_graveyard_hash(core, recorded, &why) == 0;
	bool differs = has_record && strcmp(recorded, rules.file_sha256_hex) != 0;
	if (differs && !a.approve) {
		fprintf(stderr,
			"ark graveyard install: %s (sha256 %s) differs from the approved rules the Mutable Core %s records "
			"(sha256 %s): every start would refuse it. To change the approved rules, run again with --approve "
			"(recorded with who, when and the previous hash)\n",
			a.source, rules.file_sha256_hex, store.state_db, recorded);
		ark_core_close(core);
		return 1;
	}
	if (a.approve && !core) {
		fprintf(stderr, "ark graveyard install: --approve needs a Mutable Core on disk (ARK_STATE_DB is :memory:)\n");
		return 2;
	}
	if (ark_graveyard_install(a.source, a.target, &rules, &err)) {
		fprintf(stderr, "ark graveyard install: %s\n", err.msg);
		ark_core_close(core);
		return 1;
	}
	char approver[192] = "";
	bool recorded_now = false;
	if (a.approve && (!has_record || differs)) {
		if (record_approval(core, &a, &rules, has_record ? recorded : "none", approver, sizeof approver)) {
			ark_core_close(core);
			return 1;
		}
		recorded_now = true;
	}
	ark_core_close(core);
	print_installed(&a, &rules, has_record, recorded, recorded_now, approver);
	return 0;
}

static int check_main(int argc, char **argv)
{
	static const struct option options[] = {{"rules", required_argument, NULL, 'r'},
						{"expect", required_argument, NULL, 'e'},
						{"json", no_argument, NULL, 'j'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	const char *source = NULL, *expect = NULL;
	bool json = false;
	int opt;
	struct ark_err err = {0};
	uint8_t expected[32];
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'r': source = optarg; break;
		case 'e':
			expect = optarg;
			if (ark_graveyard_parse_hex(expect, expected, &err)) {
				fprintf(stderr, "ark graveyard check: --expect: %s\n", err.msg);
				return 2;
			}
			break;
		case 'j': json = true; break;
		default: return ark_cli_usage(usage, opt, 0);
		}
	}
	if (ark_cli_no_operands("graveyard check", argc, argv))
		return 2;
	char path[ARK_GRAVEYARD_PATH_MAX];
	if (!source) {
		if (ark_graveyard_installed_path(path, sizeof path, &err))
			return ark_cli_fail("graveyard check", &err, 2);
		source = path;
	}
	static struct ark_graveyard_rules rules;
	if (ark_graveyard_load(source, &rules, &err))
		return ark_cli_fail("graveyard check", &err, 1);
	bool match = expect && memcmp(expected, rules.file_sha256, 32) == 0;
	print_rules(&rules, source, json, expect, match);
	int status = 0;
	if (expect && !match) {
		fprintf(stderr, "ark graveyard check: %s hashes %s, expected %s\n", source, rules.file_sha256_hex,
			expect);
		status = 1;
	}
	/* The pins every start holds the rules to. */
	const char *pinned = getenv("ARK_GRAVEYARD_SHA256");
	if (pinned && *pinned) {
		uint8_t digest[32];
		if (ark_graveyard_parse_hex(pinned, digest, &err)) {
			fprintf(stderr, "ark graveyard check: ARK_GRAVEYARD_SHA256: %s\n", err.msg);
			status = 1;
		} else if (memcmp(digest, rules.file_sha256, 32) != 0) {
			fprintf(stderr, "ark graveyard check: %s hashes %s, but ARK_GRAVEYARD_SHA256 pins %s: the next "
					"start would refuse it\n", source, rules.file_sha256_hex, pinned);
			status = 1;
		} else if (!json) {
			printf("ARK_GRAVEYARD_SHA256: match\n");
		}
	}
	struct ark_store_config store;
	struct ark_core *core = NULL;
	if (open_core(&core, false, &store, &err))
		return ark_cli_fail("graveyard check", &err, 1);
	char recorded[72];
	struct ark_err why = {0};
	if (core && ark_core_graveyard_hash(core, recorded, &why) == 0) {
		if (strcmp(recorded, rules.file_sha256_hex) != 0) {
			fprintf(stderr, "ark graveyard check: %s hashes %s, but the approved rules the Mutable Core %s "
					"records hash %s: the next start would refuse it (restore the approved file, or "
					"approve these with `ark graveyard install --approve`)\n",
				source, rules.file_sha256_hex, store.state_db, recorded);
			status = 1;
		} else if (!json) {
			printf("approved (the Mutable Core's record): match\n");
		}
	} else if (!json) {
		printf("approved: nothing recorded yet (the next start records these rules)\n");
	}
	ark_core_close(core);
	return status;
}

static int history_main(int argc, char **argv)
{
	static const struct option longopts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":", longopts)) != -1) {
		if (opt != 'j')
			break;
		json = true;
	}
	if (opt != -1 || optind < argc) {
		fprintf(stderr, "usage: ark graveyard history [--json]\n");
		return 2;
	}
	struct ark_err err = {0};
	struct ark_store_config store;
	struct ark_core *core = NULL;
	if (open_core(&core, false, &store, &err))
		return ark_cli_fail("graveyard history", &err, 1);
	if (!core) {
		fprintf(stderr, "ark graveyard history: no Mutable Core at %s\n", store.state_db);
		return 1;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(ark_core_db(core),
				    "SELECT approved_ns, approved_by, coalesce(previous_hash, ''), new_hash, rules_path,"
				    " coalesce(note, '') FROM graveyard_history ORDER BY id",
				    -1, &st, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "ark graveyard history: %s\n", sqlite3_errmsg(ark_core_db(core)));
		ark_core_close(core);
		return 1;
	}
	struct ark_json j;
	if (json) {
		ark_json_init(&j, stdout);
		ark_json_array_begin(&j, NULL);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		time_t at = (time_t)(sqlite3_column_int64(st, 0) / 1000000000);
		struct tm tm;
		char when[32];
		gmtime_r(&at, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		const char *cols[5];
		for (int c = 0; c < 5; c++)
			cols[c] = (const char *)sqlite3_column_text(st, c + 1);
		if (json) {
			ark_json_object_begin(&j, NULL);
			ark_json_string(&j, "approved_at", when);
			ark_json_string(&j, "approved_by", cols[0]);
			ark_json_string(&j, "previous_sha256", cols[1]);
			ark_json_string(&j, "sha256", cols[2]);
			ark_json_string(&j, "rules", cols[3]);
			ark_json_string(&j, "note", cols[4]);
			ark_json_object_end(&j);
		} else {
			printf("%s  %s  %.12s -> %.12s  %s%s%s\n", when, cols[0], cols[1][0] ? cols[1] : "(none)", cols[2],
			       cols[3], cols[4][0] ? "  # " : "", cols[4]);
		}
	}
	sqlite3_finalize(st);
	if (json) {
		ark_json_array_end(&j);
		ark_json_finish(&j);
	}
	ark_core_close(core);
	return 0;
}

static int graveyard_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "install") == 0)
		return install_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return check_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "history") == 0)
		return history_main(argc - 1, argv + 1);
	fprintf(stderr, "ark graveyard: unknown subcommand '%s' (expected install, check or history)\n", argv[1]);
	return 2;
}

ARK_COMMAND(graveyard_command, "graveyard", "install, approve and check the Graveyard rules HRM enforces", graveyard_main)
