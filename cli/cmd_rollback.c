/* cli/cmd_rollback.c — `ark rollback`, the seed's manual rollback runbook as
 * one command: stop the instance (drained), restore the newest backup of the
 * Mutable Core, and put the previous configuration back in place of the env
 * file (the one `ark start` ran before the current one, kept under
 * $ARK_BACKUP_DIR/env/). It shows its plan and asks for confirmation; the
 * replaced database and env file are kept beside the originals. */
#include "cli/command.h"
#include "cli/instance.h"
#include "pipeline/pipeline.h"
#include "ops/ops.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int newest_backup(const char *dir, char *path, size_t len)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	char best[256] = "";
	uint64_t best_ns = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t ns;
		if (ark_store_backup_name_time(e->d_name, &ns) == 0 && ns >= best_ns) {
			best_ns = ns;
			snprintf(best, sizeof best, "%s", e->d_name);
		}
	}
	closedir(d);
	if (!best[0])
		return -1;
	snprintf(path, len, "%s/%s", dir, best);
	return 0;
}

static int read_all(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark rollback [--instance NAME] [--env-file FILE] [--backup FILE] [--keep-env] [--yes]\n\n"
		"The manual rollback: stops the instance (draining it), restores the newest backup of\n"
		"the Mutable Core ($ARK_BACKUP_DIR/ark_state_backup_*.db, or --backup FILE), and puts the\n"
		"previous configuration back in place of the env file (--env-file, $ARK_ENV_FILE or\n"
		".env.production): the newest one ark start kept under $ARK_BACKUP_DIR/env/ that differs\n"
		"from the current file. The replaced database and env file are kept beside them. Shows\n"
		"the plan and asks to type yes (--yes: no question; required without a terminal).\n"
		"--keep-env leaves the env file alone. Start again with ./deploy/start_production.sh.\n");
}

/* What a rollback works on, gathered step by step. */
struct rollback {
	const char *instance, *env_file, *backup;
	bool yes, keep_env, running;
	struct ark_store_config store;
	char backup_path[4200];
	char previous[4400];   /* the kept configuration to put back ("" with --keep-env) */
	char dir[4200];
	size_t now_len, old_len;
};
/* The env file as it is now and the one put back (up to 1 MiB each). */
static char now_text[1 << 20], old_text[1 << 20];

/* Options: 0, 1 after --help (answered), 2 on a usage error (said). */
static int parse_args(struct rollback *r, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"instance", required_argument, NULL, 'i'}, {"env-file", required_argument, NULL, 'e'},
		{"backup", required_argument, NULL, 'b'},   {"yes", no_argument, NULL, 'y'},
		{"keep-env", no_argument, NULL, 'k'},       {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":h", longopts)) != -1) {
		switch (opt) {
		case 'i': r->instance = optarg; break;
		case 'e': r->env_file = optarg; break;
		case 'b': r->backup = optarg; break;
		case 'y': r->yes = true; break;
		case 'k': r->keep_env = true; break;
		case 'h': usage(stdout); return 1;
		default:
			ark_cli_option_error("rollback", opt, argv);
			fputc('\n', stderr);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ark rollback: unknown option '%s'\n\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* The env file's own settings (paths) apply to what is restored; then the
 * store's settings and the backup to restore, checked. 0 or an exit status. */
static int find_backup(struct rollback *r, struct ark_err *err)
{
	if (!r->env_file) {
		const char *var = getenv("ARK_ENV_FILE");
		r->env_file = var && *var ? var : ".env.production";
	}
	struct ark_env_file current;
	bool have_env = access(r->env_file, F_OK) == 0;
	if (have_env) {
		if (ark_env_file_parse(r->env_file, &current, err))
			return 2;
		if (ark_env_file_check_private(&current, err)) {
			ark_env_file_free(&current);
			return 2;
		}
		ark_env_file_apply(&current);
		ark_env_file_free(&current);
	} else if (!r->keep_env) {
		ark_err_set(err, -ENOENT, "the env file %s does not exist (--env-file FILE, or --keep-env)", r->env_file);
		return 2;
	}
	if (!r->instance)
		r->instance = ark_pipeline_default_instance();   /* (after the env file: it may name it) */
	if (ark_store_config_from_env(&r->store, err))
		return 2;
	snprintf(r->store.instance, sizeof r->store.instance, "%s", r->instance);
	if (r->backup)
		snprintf(r->backup_path, sizeof r->backup_path, "%s", r->backup);
	else if (newest_backup(r->store.backup_dir, r->backup_path, sizeof r->backup_path)) {
		ark_err_set(err, -ENOENT, "no backup in %s (ARK_BACKUP_DIR): nothing to restore (ark backup makes one)",
			    r->store.backup_dir);
		return 1;
	}
	int schema = 0;
	struct ark_err check_err = {0};
	enum ark_backup_check check = ark_store_backup_check(r->backup_path, &schema, &check_err);
	if (check != ARK_BACKUP_OK) {
		ark_err_set(err, -EINVAL, "the backup %s is %s: %s", r->backup_path, ark_backup_check_name(check),
			    check_err.msg);
		return 1;
	}
	return 0;
}

/* The previous configuration: the newest kept one that differs from now.
 * 0 or an exit status. */
static int find_previous_env(struct rollback *r, struct ark_err *err)
{
	read_all(r->env_file, now_text, sizeof now_text, &r->now_len);
	snprintf(r->dir, sizeof r->dir, "%s/env", r->store.backup_dir);
	for (int skip = 0;; skip++) {
		if (ark_cli_newest_env_snapshot(r->dir, r->previous, sizeof r->previous, skip)) {
			r->previous[0] = '\0';
			break;
		}
		if (read_all(r->previous, old_text, sizeof old_text, &r->old_len) == 0 &&
		    (r->old_len != r->now_len || memcmp(old_text, now_text, r->now_len) != 0))
			break;
	}
	if (!r->previous[0]) {
		ark_err_set(err, -ENOENT, "no earlier configuration than %s is kept in %s (ark start keeps each one "
				  "it runs); --keep-env rolls back the database only", r->env_file, r->dir);
		return 1;
	}
	struct ark_env_file kept_file;
	struct ark_err parse_err = {0};
	if (ark_env_file_parse(r->previous, &kept_file, &parse_err)) {
		ark_err_set(err, -EINVAL, "the kept configuration is not a valid env file: %s", parse_err.msg);
		return 1;
	}
	ark_env_file_free(&kept_file);
	return 0;
}

/* Shows the plan; asks unless --yes. 0 to go on, else the exit status. */
static int confirm(struct rollback *r)
{
	r->running = ark_cli_instance_alive(r->instance);
	printf("Rollback plan:\n");
	printf("  1. %s instance '%s'\n", r->running ? "stop (drain) the running" : "(not running) nothing to stop for",
	       r->instance);
	printf("  2. restore the Mutable Core %s from %s (the current one is kept as %s.replaced-<time>)\n",
	       r->store.state_db, r->backup_path, r->store.state_db);
	if (r->keep_env)
		printf("  3. leave %s as it is (--keep-env)\n", r->env_file);
	else
		printf("  3. put %s back in place of %s (the current one is kept as %s.rolled-back-<time>)\n", r->previous,
		       r->env_file, r->env_file);
	return ark_cli_confirm("rollback", r->yes, "Type yes to roll back: ", true);
}

/* Stop, restore the database, put the previous env file back. */
static int restore(struct rollback *r, struct ark_err *err)
{
	if (r->running && ark_cli_stop_instance(r->instance, 0, 60, false)) {
		fprintf(stderr, "ark rollback: the instance did not stop cleanly; continuing with the restore\n");
	}
	struct ark_restore_result restored;
	struct ark_err restore_err = {0};
	if (ark_store_restore(&r->store, r->backup_path, 0, &restored, &restore_err)) {
		ark_err_set(err, -EIO, "restore failed: %s (the env file was not touched)", restore_err.msg);
		return 1;
	}
	printf("  restored %s from %s%s%s\n", restored.database, restored.restored_from,
	       restored.replaced_kept_as[0] ? "; the replaced database is " : "", restored.replaced_kept_as);
	if (r->keep_env)
		return 0;
	char kept[4400], stamp[128];
	ark_store_backup_name(ark_realtime_ns(), false, stamp, sizeof stamp);
	char *t = strstr(stamp, "backup_"), *dot = strrchr(stamp, '.');
	if (t && dot)
		*dot = '\0';
	snprintf(kept, sizeof kept, "%s.rolled-back-%s", r->env_file, t ? t + strlen("backup_") : "now");
	if (ark_cli_write_atomic(kept, now_text, r->now_len, err) ||
	    ark_cli_write_atomic(r->env_file, old_text, r->old_len, err))
		return 1;
	printf("  %s is now the configuration of %s; the one rolled back is %s\n", r->env_file, r->previous, kept);
	return 0;
}

/* Recorded in the restored database's own history. */
static void record(const struct rollback *r)
{
	struct ark_err err = {0};
	struct ark_core *core;
	int rec = ark_core_open(&core, &r->store, ARK_CORE_NO_CHECKPOINTER, NULL, &err);
	if (rec == 0) {
		char reason[700], when[64];
		ark_store_backup_name(ark_realtime_ns(), false, when, sizeof when);
		char *t = strstr(when, "backup_"), *dot = strrchr(when, '.');
		if (dot)
			*dot = '\0';
		snprintf(reason, sizeof reason, "%s manual rollback: database from %.250s%s%.250s", t ? t + 7 : "",
			 r->backup_path, r->keep_env ? "" : ", configuration from ", r->keep_env ? "" : r->previous);
		rec = ark_core_meta_set(core, "last_rollback", reason, &err);
		ark_core_close(core);
	}
	if (rec)
		fprintf(stderr, "ark rollback: could not record the rollback in the Mutable Core: %s\n", err.msg);
}

static int rollback_main(int argc, char **argv)
{
	static struct rollback r;
	memset(&r, 0, sizeof r);
	struct ark_err err = {0};
	int rc = parse_args(&r, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;
	if ((rc = find_backup(&r, &err)) || (!r.keep_env && (rc = find_previous_env(&r, &err))))
		return ark_cli_fail("rollback", &err, rc);
	if ((rc = confirm(&r)))
		return rc;
	if ((rc = restore(&r, &err)))
		return ark_cli_fail("rollback", &err, rc);
	record(&r);
	printf("Rolled back. Start again with ./deploy/start_production.sh (or ark start --env-file %s).\n", r.env_file);
	return 0;
}

ARK_COMMAND_FLAGS(rollback_command, "rollback", "manual rollback: stop, restore the newest backup, the previous env file",
		  rollback_main, ARK_COMMAND_OWN_ENV_FILE)
