/* cli/cmd_backup.c — `ark backup` (an online, verified copy of the Mutable
 * Core into $ARK_BACKUP_DIR with its SHA-256 beside it, keeping the newest
 * $ARK_BACKUP_KEEP), `ark backup --verify FILE` (does it prove itself?) and
 * `ark restore FILE` (its checksum first, then integrity; refuse while ARK
 * runs, replace, keep the old database beside it). All say what they did;
 * --json for scripts. */
#include "cli/command.h"
#include "common/common.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void backup_usage(FILE *out)
{
	fprintf(out,
		"usage: ark backup [--json]\n"
		"       ark backup --verify FILE [--json]\n\n"
		"Writes a consistent online copy of ARK_STATE_DB (writers keep writing) to\n"
		"$ARK_BACKUP_DIR/ark_state_backup_<UTC ISO-8601>.db (mode 0600), checks it with\n"
		"integrity_check, writes its SHA-256 beside it (<backup>.sha256, sha256sum's\n"
		"format) and into the backups table, and deletes all but the newest\n"
		"ARK_BACKUP_KEEP backups (default %u).\n"
		"--verify FILE checks one backup without restoring it: its bytes must hash as its\n"
		"manifest says (and as the Mutable Core recorded, when it still records it), and\n"
		"it must pass integrity_check. Exit 0 verified, 1 refused, 2 usage.\n",
		ARK_STORE_DEFAULT_BACKUP_KEEP);
}

static void restore_usage(FILE *out)
{
	fprintf(out,
		"usage: ark restore FILE [--unverified] [--rebase] [--json]\n\n"
		"Replaces ARK_STATE_DB with FILE after checking, first, that its bytes hash as the\n"
		"SHA-256 in FILE.sha256 says (and as the Mutable Core recorded when it took the\n"
		"backup), then that it is complete, passes integrity_check, is an ARK database\n"
		"this build can open, and that its schema is exactly the one ARK creates for its\n"
		"version (any other trigger, view, table or index is named and refused: it could\n"
		"run code inside ARK's writer). A backup without a manifest (taken before ARK\n"
		"wrote them) needs --unverified; a manifest that disagrees is always refused.\n"
		"Refuses a backup that does not belong to the journal in $ARK_JOURNAL_DIR: one\n"
		"applied beyond the journal's last seq (the journal's disk was lost, say), or\n"
		"taken from another journal. --rebase keeps such a backup anyway: the database\n"
		"is paired with this journal and the journal's numbering continues after the\n"
		"backup's applied seq, so no new event is numbered into what it already holds\n"
		"(recorded in its metadata as journal_rebase). Refuses while the ARK instance\n"
		"($ARK_INSTANCE, default main) is running. The database it replaces is kept\n"
		"beside it as <db>.replaced-<UTC time> (with its -wal).\n"
		"Exit status: 0 restored, 1 refused or failed, 2 usage.\n");
}

/* What backup and restore were asked for, and the store's settings. */
struct backup_options {
	bool json;
	const char *verify;      /* ark backup --verify FILE */
	bool unverified;         /* ark restore --unverified */
	bool rebase;             /* ark restore --rebase */
	const char *file;        /* ark restore FILE */
	struct ark_store_config cfg;
};

/* The options (restore's FILE when want_file), then the store's settings
 * from the environment: -1 to go on, else the exit status (said). */
static int setup(int argc, char **argv, const char *cmd, void (*usage)(FILE *), struct backup_options *o,
		 bool want_file)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"verify", required_argument, NULL, 'v'},
					     {"unverified", no_argument, NULL, 'u'},
					     {"rebase", no_argument, NULL, 'r'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'v':
			if (want_file)
				goto bad;
			o->verify = optarg;
			break;
		case 'u':
			if (!want_file)
				goto bad;
			o->unverified = true;
			break;
		case 'r':
			if (!want_file)
				goto bad;
			o->rebase = true;
			break;
		case 'h': usage(stdout); return 0;
		default:
bad:
			usage(stderr);
			return 2;
		}
	}
	if (want_file) {
		if (optind != argc - 1) {
			fprintf(stderr, "ark %s: expected exactly one FILE\n\n", cmd);
			usage(stderr);
			return 2;
		}
		o->file = argv[optind];
	} else if (ark_cli_no_operands(cmd, argc, argv)) {
		return 2;
	}
	struct ark_err err = {0};
	if (ark_store_config_from_env(&o->cfg, &err) != 0)
		return ark_cli_fail(cmd, &err, 2);
	return -1;
}

/* Every --json answer is one object that opens with "ok"... */
static void json_begin(struct ark_json *j, int rc)
{
	ark_json_init(j, stdout);
	ark_json_object_begin(j, NULL);
	ark_json_bool(j, "ok", rc == 0);
}

/* ... and ends with it; the exit status. */
static int json_end(struct ark_json *j, int rc)
{
	ark_json_object_end(j);
	ark_json_finish(j);
	return rc ? 1 : 0;
}

/* ark backup --verify FILE: the checksum, then the database inside. */
static int verify_backup(const struct ark_store_config *cfg, const char *file, bool json)
{
	struct ark_err err = {0};
	struct ark_backup_verify proof;
	int rc = ark_store_backup_verify(cfg, file, &proof, &err);
	int schema = 0;
	if (!rc && ark_store_backup_check(file, &schema, &err) != ARK_BACKUP_OK)
		rc = -EBADMSG;
	if (json) {
		struct ark_json j;
		json_begin(&j, rc);
		ark_json_string(&j, "file", file);
		ark_json_string(&j, "sha256", proof.sha256);
		ark_json_string(&j, "manifest_sha256", proof.manifest_sha256);
		ark_json_bool(&j, "recorded", proof.recorded);
		if (rc)
			ark_json_string(&j, "error", err.msg);
		else
			ark_json_uint(&j, "schema_version", (uint64_t)schema);
		return json_end(&j, rc);
	}
	if (rc)
		return ark_cli_fail("backup --verify", &err, 1);
	printf("%s: verified\n  sha256 %s (its manifest agrees%s)\n  %" PRIu64 " bytes, schema v%d, integrity_check ok\n",
	       file, proof.sha256, proof.recorded ? ", and so does the Mutable Core's record" : "; the Mutable Core has no record of it",
	       proof.bytes, schema);
	return 0;
}

static int backup_main(int argc, char **argv)
{
	static struct backup_options o;
	int rc = setup(argc, argv, "backup", backup_usage, &o, false);
	if (rc >= 0)
		return rc;
	const struct ark_store_config *cfg = &o.cfg;
	if (o.verify)
		return verify_backup(cfg, o.verify, o.json);
	struct ark_err err = {0};
	struct ark_backup_result res;
	rc = ark_store_backup(cfg, &res, &err);
	if (o.json) {
		struct ark_json j;
		json_begin(&j, rc);
		if (rc) {
			ark_json_string(&j, "error", err.msg);
		} else {
			ark_json_string(&j, "path", res.path);
			ark_json_string(&j, "sha256", res.sha256);
			ark_json_string(&j, "database", cfg->state_db);
			ark_json_uint(&j, "bytes", res.bytes);
			ark_json_uint(&j, "pages", res.pages);
			ark_json_uint(&j, "steps", res.steps);
			ark_json_number(&j, "duration_ms", (double)res.duration_ns / 1e6);
			ark_json_uint(&j, "schema_version", (uint64_t)res.schema_version);
			ark_json_uint(&j, "journal_last_applied_seq", res.journal_last_applied_seq);
			ark_json_uint(&j, "keep", cfg->backup_keep);
			ark_json_array_begin(&j, "pruned");
			for (uint32_t i = 0; i < res.pruned && i < ARK_ARRAY_LEN(res.pruned_paths); i++)
				ark_json_string(&j, NULL, res.pruned_paths[i]);
			ark_json_array_end(&j);
			ark_json_uint(&j, "pruned_count", res.pruned);
		}
		return json_end(&j, rc);
	}
	if (rc)
		return ark_cli_fail("backup", &err, 1);
	printf("backup of %s written to %s\n", cfg->state_db, res.path);
	printf("  sha256 %s (in %s.sha256 and the backups table)\n", res.sha256, res.path);
	printf("  %" PRIu64 " bytes, %" PRIu64 " pages in %" PRIu64 " steps, %.1f ms; schema v%d, "
	       "journal applied up to seq %" PRIu64 "; integrity_check ok\n",
	       res.bytes, res.pages, res.steps, (double)res.duration_ns / 1e6, res.schema_version,
	       res.journal_last_applied_seq);
	if (res.pruned) {
		printf("  kept the newest %u backups; deleted %u older:\n", cfg->backup_keep, res.pruned);
		for (uint32_t i = 0; i < res.pruned && i < ARK_ARRAY_LEN(res.pruned_paths); i++)
			printf("    %s\n", res.pruned_paths[i]);
	}
	return 0;
}

static int restore_main(int argc, char **argv)
{
	static struct backup_options o;
	int rc = setup(argc, argv, "restore", restore_usage, &o, true);
	if (rc >= 0)
		return rc;
	const char *file = o.file;
	const struct ark_store_config *cfg = &o.cfg;
	struct ark_err err = {0};
	struct ark_restore_result res;
	rc = ark_store_restore(cfg, file, (o.unverified ? ARK_RESTORE_UNVERIFIED : 0) | (o.rebase ? ARK_RESTORE_REBASE : 0),
			       &res, &err);
	const char *why = rc == -ENOENT ? "missing" : rc == -EBUSY ? "running"
			  : rc == -EPROTOTYPE ? "foreign" : rc == -EBADMSG ? "damaged"
			  : rc == -ENODATA ? "unverified" : rc == -ESTALE ? "not_this_journal" : "error";
	if (o.json) {
		struct ark_json j;
		json_begin(&j, rc);
		ark_json_string(&j, "file", file);
		ark_json_string(&j, "database", cfg->state_db);
		if (rc) {
			ark_json_string(&j, "refused", why);
			ark_json_string(&j, "error", err.msg);
		} else {
			ark_json_uint(&j, "bytes", res.bytes);
			ark_json_string(&j, "sha256", res.sha256);
			ark_json_bool(&j, "verified", res.verified);
			ark_json_uint(&j, "schema_version", (uint64_t)res.schema_version);
			ark_json_string(&j, "replaced_kept_as", res.replaced_kept_as);
		}
		ark_json_object_begin(&j, "journal");
		ark_json_uint(&j, "backup_applied_seq", res.backup_applied_seq);
		ark_json_string(&j, "backup_journal_id", res.backup_journal_id);
		ark_json_string(&j, "journal_id", res.journal_id);
		ark_json_uint(&j, "journal_last_seq", res.journal_last_seq);
		ark_json_uint(&j, "journal_base_seq", res.journal_base_seq);
		ark_json_bool(&j, "rebased", res.rebased);
		ark_json_string(&j, "rebase_note", res.rebase_note);
		ark_json_object_end(&j);
		return json_end(&j, rc);
	}
	if (rc)
		return ark_cli_fail("restore", &err, 1);
	printf("restored %s into %s (%" PRIu64 " bytes, schema v%d, integrity_check ok)\n", file,
	       cfg->state_db, res.bytes, res.schema_version);
	printf("sha256 %s: %s\n", res.sha256,
	       res.verified ? (res.recorded ? "matches its manifest and the Mutable Core's record" : "matches its manifest")
			    : "NOT verified (no manifest; --unverified)");
	if (res.replaced_kept_as[0])
		printf("the database it replaced is kept as %s\n", res.replaced_kept_as);
	else
		printf("there was no database at %s before\n", cfg->state_db);
	if (res.rebased)
		printf("re-based onto the journal in %s: %s\n", cfg->journal_dir, res.rebase_note);
	if (res.schema_version < ARK_CORE_SCHEMA_VERSION)
		printf("schema v%d will be migrated to v%d when ARK next opens it\n", res.schema_version,
		       ARK_CORE_SCHEMA_VERSION);
	return 0;
}

ARK_COMMAND(backup_command, "backup", "write a verified online backup of the Mutable Core", backup_main)
ARK_COMMAND(restore_command, "restore", "restore the Mutable Core from a backup file (ARK stopped)",
	    restore_main)
