/* cli/cmd_graveyard.c — `ark graveyard install` and `ark graveyard check`:
 * the operator's hands on the rules HRM enforces.
 *
 * install validates a rules file and installs it read-only (0444) where HRM
 * loads it, printing its SHA-256; check loads and validates a rules file,
 * prints every limit with its scope and line, the file and table hashes, and
 * compares with an expected hash. Nothing is installed that does not parse,
 * and a hash mismatch is exit status 1. */
#include "cli/command.h"
#include "common/common.h"
#include "graveyard/graveyard.h"
#include "perf/perf.h"

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
		"usage: ark graveyard install [--rules FILE] [--to PATH] [--json]\n"
		"       ark graveyard check [--rules FILE] [--expect SHA256] [--json]\n\n"
		"The Graveyard: the immutable rules HRM enforces before any order.\n\n"
		"install  validates FILE (default " DEFAULT_SOURCE ") and copies it atomically\n"
		"         to PATH with mode 0444, then prints its SHA-256. PATH defaults to\n"
		"         $ARK_GRAVEYARD_RULES, else $ARK_DATA_DIR/graveyard.rules (ARK_DATA_DIR:\n"
		"         ./ark-data, or /var/lib/ark with ARK_ENV=prod).\n"
		"check    loads and validates FILE (default: the installed rules), prints each\n"
		"         limit with its scope and line, the file's SHA-256 and the compiled\n"
		"         table's hash. --expect SHA256 compares the file's hash: exit 1 when\n"
		"         it differs.\n"
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

static int install_main(int argc, char **argv)
{
	static const struct option options[] = {{"rules", required_argument, NULL, 'r'},
						{"to", required_argument, NULL, 't'},
						{"json", no_argument, NULL, 'j'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	const char *source = DEFAULT_SOURCE, *target = NULL;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'r': source = optarg; break;
		case 't': target = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark graveyard install: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	struct ark_err err = {0};
	char path[ARK_GRAVEYARD_PATH_MAX];
	if (!target) {
		if (ark_graveyard_installed_path(path, sizeof path, &err)) {
			fprintf(stderr, "ark graveyard install: %s\n", err.msg);
			return 2;
		}
		target = path;
	}
	static struct ark_graveyard_rules rules;
	if (ark_graveyard_install(source, target, &rules, &err)) {
		fprintf(stderr, "ark graveyard install: %s\n", err.msg);
		return 1;
	}
	if (json) {
		char mode[16];
		struct ark_json j;
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "source", source);
		ark_json_string(&j, "path", target);
		ark_json_string(&j, "mode", mode_text(target, mode, sizeof mode));
		ark_json_string(&j, "sha256", rules.file_sha256_hex);
		ark_json_string(&j, "table_sha256", rules.table_sha256_hex);
		ark_json_object_end(&j);
		ark_json_finish(&j);
	} else {
		printf("installed %s -> %s (mode 0444)\nsha256 %s\n", source, target, rules.file_sha256_hex);
	}
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
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark graveyard check: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	char path[ARK_GRAVEYARD_PATH_MAX];
	if (!source) {
		if (ark_graveyard_installed_path(path, sizeof path, &err)) {
			fprintf(stderr, "ark graveyard check: %s\n", err.msg);
			return 2;
		}
		source = path;
	}
	static struct ark_graveyard_rules rules;
	if (ark_graveyard_load(source, &rules, &err)) {
		fprintf(stderr, "ark graveyard check: %s\n", err.msg);
		return 1;
	}
	bool match = expect && memcmp(expected, rules.file_sha256, 32) == 0;
	print_rules(&rules, source, json, expect, match);
	if (expect && !match) {
		fprintf(stderr, "ark graveyard check: %s hashes %s, expected %s\n", source, rules.file_sha256_hex,
			expect);
		return 1;
	}
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
	fprintf(stderr, "ark graveyard: unknown subcommand '%s' (expected install or check)\n", argv[1]);
	return 2;
}

ARK_COMMAND(graveyard_command, "graveyard", "install and check the Graveyard rules HRM enforces", graveyard_main)
