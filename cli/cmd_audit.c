/* cli/cmd_audit.c — `ark audit`: the independent check of the durable record
 * (audit/). Reads the journal and the rules, re-decides every intent, and
 * lists what it finds. Exit 0 only when it finds nothing. */
#include "audit/audit.h"
#include "cli/command.h"
#include "common/common.h"
#include "event/event.h"
#include "graveyard/graveyard.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRINT_MAX 50   /* findings listed one by one; all are counted */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark audit [--rules FILE] [--canary-rules FILE] [--journal DIR] [--from SEQ] [--to SEQ] [--json]\n\n"
		"An independent check of the durable record. It reads the journal's events in\n"
		"sequence order and the Graveyard rules (its own reader and a deliberately simple\n"
		"evaluator: nothing shared with HRM), recomputes positions, exposure, P&L, the\n"
		"rate windows and the trading state from the record (with a network broker,\n"
		"whose events say so, the orders in flight and the broker's execution reports\n"
		"in their places), and reports:\n"
		"  allowed_violation  an allowed intent that breaks a rule\n"
		"  wrong_reason       a denial whose reason is not the first rule it breaks\n"
		"  denied_clean       a denial of an intent that breaks no rule\n"
		"  non_finite         a value in the record that is not finite\n"
		"  state_corrupt      HRM halted for a non-finite value in its state\n"
		"  clock              HRM's market clock or trading day moved in a way no tick explains\n"
		"  overfill           a fill larger than its order (or a broker's report of one), or of a denied one\n\n"
		"  --rules FILE        the rules the record was decided by (default: the installed rules)\n"
		"  --canary-rules FILE the canary lane's rules (its events are counted as unaudited without)\n"
		"  --journal DIR       default $ARK_DATA_DIR/journal\n"
		"  --from SEQ, --to SEQ  a range of the record (e.g. one run, when the rules changed between runs)\n"
		"  --json              one JSON object\n"
		"Exit status: 0 nothing found, 1 findings (or the record cannot be read), 2 usage.\n");
}

struct listing {
	bool json;
	uint64_t printed;
	struct ark_json *j;
};

static void on_finding(void *ctx, const struct ark_audit_finding *f)
{
	struct listing *l = ctx;
	if (l->printed++ >= PRINT_MAX)
		return;
	char id[24];
	ark_trace_id_format(f->trace_id, id);
	if (l->json) {
		ark_json_object_begin(l->j, NULL);
		ark_json_string(l->j, "kind", ark_audit_kind_name(f->kind));
		ark_json_uint(l->j, "seq", f->seq);
		ark_json_string(l->j, "trace_id", id);
		ark_json_string(l->j, "symbol", f->symbol);
		ark_json_string(l->j, "recorded", ark_reason_name((enum ark_reason)f->recorded_reason));
		ark_json_string(l->j, "expected", ark_reason_name((enum ark_reason)f->expected_reason));
		ark_json_string(l->j, "detail", f->detail);
		ark_json_object_end(l->j);
	} else {
		printf("%-17s seq %" PRIu64 " trace %s %s: %s\n", ark_audit_kind_name(f->kind), f->seq, id, f->symbol,
		       f->detail);
	}
}

/* The totals and the verdict, as text; the exit status. */
static int print_result(const struct listing *listing, const struct ark_audit_counts *counts)
{
	const struct ark_audit_counts c = *counts;
	if (listing->printed > PRINT_MAX)
		printf("... and %" PRIu64 " more\n", listing->printed - PRINT_MAX);
	printf("%" PRIu64 " events, %" PRIu64 " intents (%" PRIu64 " allowed, %" PRIu64 " denied), %" PRIu64 " injected",
	       c.events, c.intents, c.allowed, c.denied, c.injected);
	if (c.unaudited_canary)
		printf(", %" PRIu64 " canary-lane events not audited (--canary-rules)", c.unaudited_canary);
	printf("\n");
	if (c.findings_total) {
		printf("findings:");
		for (int k = 0; k < ARK_AUDIT_KIND_COUNT; k++)
			if (c.findings[k])
				printf(" %s %" PRIu64, ark_audit_kind_name((enum ark_audit_kind)k), c.findings[k]);
		printf("\nresult: FAILED\n");
		return 1;
	}
	printf("findings: none\nresult: OK\n");
	return 0;
}

/* The rules (default: the installed ones) and the canary's, and the
 * journal (default: the configured one). 0, or the exit status after saying
 * why: 2 for a setting, 1 for rules that do not load. */
static int load(const char **rules_path, const char **journal, const char *canary_path, struct ark_audit_rules *rules,
		struct ark_audit_rules *canary)
{
	static char installed[ARK_GRAVEYARD_PATH_MAX];
	static struct ark_store_config store;
	struct ark_err err = {0};
	if ((!*rules_path && ark_graveyard_installed_path(installed, sizeof installed, &err)) ||
	    (!*journal && ark_store_config_from_env(&store, &err)))
		return ark_cli_fail("audit", &err, 2);
	if (!*rules_path)
		*rules_path = installed;
	if (!*journal)
		*journal = store.journal_dir;
	if (ark_audit_rules_load(*rules_path, rules, &err) ||
	    (canary_path && ark_audit_rules_load(canary_path, canary, &err)))
		return ark_cli_fail("audit", &err, 1);
	return 0;
}

static int audit_main(int argc, char **argv)
{
	static const struct option options[] = {{"rules", required_argument, NULL, 'r'},
						{"canary-rules", required_argument, NULL, 'c'},
						{"journal", required_argument, NULL, 'd'},
						{"from", required_argument, NULL, 'f'},
						{"to", required_argument, NULL, 't'},
						{"json", no_argument, NULL, 'j'},
						{"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	const char *rules_path = NULL, *canary_path = NULL, *journal = NULL;
	uint64_t from = 0, to = 0;
	bool json = false;
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'r': rules_path = optarg; break;
		case 'c': canary_path = optarg; break;
		case 'd': journal = optarg; break;
		case 'f':
		case 't':
			if (ark_parse_u64(optarg, 0, UINT64_MAX, opt == 'f' ? "--from" : "--to", opt == 'f' ? &from : &to, &err))
				return ark_cli_fail("audit", &err, 2);
			break;
		case 'j': json = true; break;
		default: return ark_cli_usage(usage, opt, 0);
		}
	}
	if (ark_cli_no_operands("audit", argc, argv))
		return 2;
	static struct ark_audit_rules rules, canary;
	int lrc = load(&rules_path, &journal, canary_path, &rules, &canary);
	if (lrc)
		return lrc;
	struct ark_json j;
	struct listing listing = {json, 0, &j};
	if (json) {
		ark_json_init(&j, stdout);
		ark_json_object_begin(&j, NULL);
		ark_json_string(&j, "journal", journal);
		ark_json_string(&j, "rules", rules_path);
		ark_json_string(&j, "rules_sha256", rules.sha256);
		ark_json_array_begin(&j, "findings");
	} else {
		printf("ark audit: journal %s, rules %s (sha256 %.16s...)\n", journal, rules_path, rules.sha256);
	}
	struct ark_audit *audit = NULL;
	int rc = ark_audit_create(&audit, &rules, on_finding, &listing, &err);
	if (!rc && canary_path)
		ark_audit_set_canary_rules(audit, &canary);
	if (!rc)
		rc = ark_audit_journal(audit, journal, from, to, &err);
	struct ark_audit_counts c = {0};
	if (audit)
		ark_audit_counts(audit, &c);
	ark_audit_destroy(audit);
	bool ok = rc == 0 && c.findings_total == 0;
	if (json) {
		ark_json_array_end(&j);
		ark_json_bool(&j, "ok", ok);
		if (rc)
			ark_json_string(&j, "error", err.msg);
		ark_json_uint(&j, "events", c.events);
		ark_json_uint(&j, "intents", c.intents);
		ark_json_uint(&j, "allowed", c.allowed);
		ark_json_uint(&j, "denied", c.denied);
		ark_json_uint(&j, "injected", c.injected);
		ark_json_uint(&j, "unaudited_canary", c.unaudited_canary);
		ark_json_uint(&j, "findings_total", c.findings_total);
		ark_json_object_begin(&j, "findings_by_kind");
		for (int k = 0; k < ARK_AUDIT_KIND_COUNT; k++)
			ark_json_uint(&j, ark_audit_kind_name((enum ark_audit_kind)k), c.findings[k]);
		ark_json_object_end(&j);
		ark_json_object_end(&j);
		ark_json_finish(&j);
		return ok ? 0 : 1;
	}
	if (rc)
		return ark_cli_fail("audit", &err, 1);
	return print_result(&listing, &c);
}

ARK_COMMAND(audit_command, "audit", "check the durable record independently: every decision against the rules",
	    audit_main)
