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

static int rollback_main(int argc, char **argv)
{
	const char *instance = NULL, *env_file = NULL, *backup = NULL;
	bool yes = false, keep_env = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc)
			instance = argv[++i];
		else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
			env_file = argv[++i];
		else if (strcmp(argv[i], "--backup") == 0 && i + 1 < argc)
			backup = argv[++i];
		else if (strcmp(argv[i], "--yes") == 0)
			yes = true;
		else if (strcmp(argv[i], "--keep-env") == 0)
			keep_env = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "ark rollback: unknown option '%s'\n\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!env_file) {
		const char *var = getenv("ARK_ENV_FILE");
		env_file = var && *var ? var : ".env.production";
	}
	/* The env file's own settings (paths) apply to what is restored. */
	struct ark_env_file current;
	struct ark_err err = {0};
	bool have_env = access(env_file, F_OK) == 0;
	if (have_env) {
		if (ark_env_file_parse(env_file, &current, &err)) {
			fprintf(stderr, "ark rollback: %s\n", err.msg);
			return 2;
		}
		if (ark_env_file_check_private(&current, &err)) {
			ark_env_file_free(&current);
			fprintf(stderr, "ark rollback: %s\n", err.msg);
			return 2;
		}
		ark_env_file_apply(&current);
		ark_env_file_free(&current);
	} else if (!keep_env) {
		fprintf(stderr, "ark rollback: the env file %s does not exist (--env-file FILE, or --keep-env)\n", env_file);
		return 2;
	}
	if (!instance)
		instance = ark_pipeline_default_instance();   /* (after the env file: it may name it) */
	struct ark_store_config store;
	if (ark_store_config_from_env(&store, &err)) {
		fprintf(stderr, "ark rollback: %s\n", err.msg);
		return 2;
	}
	snprintf(store.instance, sizeof store.instance, "%s", instance);
	char backup_path[4200];
	if (backup)
		snprintf(backup_path, sizeof backup_path, "%s", backup);
	else if (newest_backup(store.backup_dir, backup_path, sizeof backup_path)) {
		fprintf(stderr, "ark rollback: no backup in %s (ARK_BACKUP_DIR): nothing to restore (ark backup makes one)\n",
			store.backup_dir);
		return 1;
	}
	int schema = 0;
	enum ark_backup_check check = ark_store_backup_check(backup_path, &schema, &err);
	if (check != ARK_BACKUP_OK) {
		fprintf(stderr, "ark rollback: the backup %s is %s: %s\n", backup_path, ark_backup_check_name(check), err.msg);
		return 1;
	}
	/* The previous configuration: the newest kept one that differs from now. */
	static char now_text[1 << 20], old_text[1 << 20];
	size_t now_len = 0, old_len = 0;
	char previous[4400] = "", dir[4200];
	if (!keep_env) {
		read_all(env_file, now_text, sizeof now_text, &now_len);
		snprintf(dir, sizeof dir, "%s/env", store.backup_dir);
		for (int skip = 0;; skip++) {
			if (ark_cli_newest_env_snapshot(dir, previous, sizeof previous, skip)) {
				previous[0] = '\0';
				break;
			}
			if (read_all(previous, old_text, sizeof old_text, &old_len) == 0 &&
			    (old_len != now_len || memcmp(old_text, now_text, now_len) != 0))
				break;
		}
		if (!previous[0]) {
			fprintf(stderr, "ark rollback: no earlier configuration than %s is kept in %s (ark start keeps each one "
					"it runs); --keep-env rolls back the database only\n", env_file, dir);
			return 1;
		}
		struct ark_env_file kept_file;
		if (ark_env_file_parse(previous, &kept_file, &err)) {
			fprintf(stderr, "ark rollback: the kept configuration is not a valid env file: %s\n", err.msg);
			return 1;
		}
		ark_env_file_free(&kept_file);
	}
	bool running = ark_cli_instance_alive(instance);
	printf("Rollback plan:\n");
	printf("  1. %s instance '%s'\n", running ? "stop (drain) the running" : "(not running) nothing to stop for", instance);
	printf("  2. restore the Mutable Core %s from %s (the current one is kept as %s.replaced-<time>)\n", store.state_db,
	       backup_path, store.state_db);
	if (keep_env)
		printf("  3. leave %s as it is (--keep-env)\n", env_file);
	else
		printf("  3. put %s back in place of %s (the current one is kept as %s.rolled-back-<time>)\n", previous, env_file,
		       env_file);
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "ark rollback: confirmation needed: run it on a terminal, or pass --yes\n");
			return 2;
		}
		printf("Type yes to roll back: ");
		fflush(stdout);
		char answer[16] = "";
		if (!fgets(answer, sizeof answer, stdin) || strcmp(answer, "yes\n") != 0) {
			printf("ark rollback: not confirmed; nothing changed\n");
			return 1;
		}
	}
	if (running && ark_cli_stop_instance(instance, 0, 60, false)) {
		fprintf(stderr, "ark rollback: the instance did not stop cleanly; continuing with the restore\n");
	}
	struct ark_restore_result restored;
	if (ark_store_restore(&store, backup_path, 0, &restored, &err)) {
		fprintf(stderr, "ark rollback: restore failed: %s (the env file was not touched)\n", err.msg);
		return 1;
	}
	printf("  restored %s from %s%s%s\n", restored.database, restored.restored_from,
	       restored.replaced_kept_as[0] ? "; the replaced database is " : "", restored.replaced_kept_as);
	if (!keep_env) {
		char kept[4400], stamp[128];
		ark_store_backup_name(ark_realtime_ns(), false, stamp, sizeof stamp);
		char *t = strstr(stamp, "backup_"), *dot = strrchr(stamp, '.');
		if (t && dot)
			*dot = '\0';
		snprintf(kept, sizeof kept, "%s.rolled-back-%s", env_file, t ? t + strlen("backup_") : "now");
		if (ark_cli_write_atomic(kept, now_text, now_len, &err) || ark_cli_write_atomic(env_file, old_text, old_len, &err)) {
			fprintf(stderr, "ark rollback: %s\n", err.msg);
			return 1;
		}
		printf("  %s is now the configuration of %s; the one rolled back is %s\n", env_file, previous, kept);
	}
	/* Recorded in the restored database's own history. */
	struct ark_core *core;
	int rec = ark_core_open(&core, &store, ARK_CORE_NO_CHECKPOINTER, NULL, &err);
	if (rec == 0) {
		char reason[700], when[64];
		ark_store_backup_name(ark_realtime_ns(), false, when, sizeof when);
		char *t = strstr(when, "backup_"), *dot = strrchr(when, '.');
		if (dot)
			*dot = '\0';
		snprintf(reason, sizeof reason, "%s manual rollback: database from %.250s%s%.250s", t ? t + 7 : "",
			 backup_path, keep_env ? "" : ", configuration from ", keep_env ? "" : previous);
		rec = ark_core_meta_set(core, "last_rollback", reason, &err);
		ark_core_close(core);
	}
	if (rec)
		fprintf(stderr, "ark rollback: could not record the rollback in the Mutable Core: %s\n", err.msg);
	printf("Rolled back. Start again with ./deploy/start_production.sh (or ark start --env-file %s).\n", env_file);
	return 0;
}

ARK_COMMAND(rollback_command, "rollback", "manual rollback: stop, restore the newest backup, the previous env file",
	    rollback_main)
