/* pipeline/install.c — installs the Graveyard rules ARK ships (deploy/
 * graveyard.rules, compiled into the binary) when no rules are installed
 * yet, read-only (0444), through graveyard/'s verified install; and pins
 * the installed rules at every start: their SHA-256 must be the one
 * ARK_GRAVEYARD_SHA256 names and the one the Mutable Core records as
 * approved. A start never changes the recorded hash (only an approval
 * does), except the instance's very first, which records what it runs. */
#include "pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

extern const unsigned char ark_default_rules[];
extern const unsigned int ark_default_rules_length;

const unsigned char *ark_pipeline_default_rules(size_t *length)
{
	*length = ark_default_rules_length;
	return ark_default_rules;
}

int ark_pipeline_install_rules(const char *installed_path, struct ark_err *err)
{
	char tmp[ARK_GRAVEYARD_PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.default.%d", installed_path, (int)getpid());
	char dir[ARK_GRAVEYARD_PATH_MAX];
	snprintf(dir, sizeof dir, "%s", installed_path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		for (char *p = dir + 1; *p; p++)
			if (*p == '/') {
				*p = '\0';
				mkdir(dir, 0700);
				*p = '/';
			}
		mkdir(dir, 0700);
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return ark_err_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
	ssize_t w = write(fd, ark_default_rules, ark_default_rules_length);
	close(fd);
	if (w != (ssize_t)ark_default_rules_length) {
		unlink(tmp);
		return ark_err_set(err, -EIO, "cannot write %s", tmp);
	}
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	if (!rules) {
		unlink(tmp);
		return ark_err_set(err, -ENOMEM, "out of memory");
	}
	int rc = ark_graveyard_install(tmp, installed_path, rules, err);
	free(rules);
	unlink(tmp);
	return rc;
}

/* The pin check reads one value; the store's notes (WAL, pragmas) are not the caller's business. */
static void quiet_store_log(void *ctx, int level, const char *message)
{
	(void)ctx, (void)level, (void)message;
}

int ark_pipeline_rules_pin(const char *path, bool record_first, struct ark_graveyard_rules *rules,
			   struct ark_rules_pin *pin, struct ark_err *err)
{
	memset(pin, 0, sizeof *pin);
	int rc = ark_graveyard_load(path, rules, err);
	if (rc)
		return rc;
	const char *hash = rules->file_sha256_hex;
	const char *want = getenv("ARK_GRAVEYARD_SHA256");
	if (want && *want) {
		uint8_t digest[32];
		char hex[ARK_GRAVEYARD_HEX_LEN + 1];
		if (ark_graveyard_parse_hex(want, digest, err))
			return ark_err_wrap(err, "ARK_GRAVEYARD_SHA256");
		ark_graveyard_hex(digest, hex);
		pin->env_pinned = true;
		if (strcmp(hex, hash) != 0)
			return ark_err_set(err, -EPERM,
					   "the installed Graveyard rules %s hash %s, but ARK_GRAVEYARD_SHA256 pins %s: "
					   "refusing to start (restore the approved file, or approve new rules with "
					   "`ark graveyard install --approve FILE` and update ARK_GRAVEYARD_SHA256)",
					   path, hash, hex);
	}
	struct ark_store_config store;
	rc = ark_store_config_from_env(&store, err);
	if (rc)
		return rc;
	if (strcmp(store.state_db, ":memory:") == 0)
		return 0;   /* nothing recorded beyond this process */
	struct stat st;
	if (!record_first && stat(store.state_db, &st) != 0)
		return 0;   /* no Mutable Core yet: nothing recorded */
	if (!record_first)
		store.db_integrity = ARK_DB_INTEGRITY_OFF;   /* the supervisor checked it at the instance's start */
	store.log = quiet_store_log;
	struct ark_core *core = NULL;
	struct ark_core_open_info info;
	rc = ark_core_open(&core, &store, (record_first ? 0 : ARK_CORE_READONLY) | ARK_CORE_NO_CHECKPOINTER, &info, err);
	if (rc)
		return ark_err_wrap(err, "the Mutable Core %s (where the approved rules hash is recorded)", store.state_db);
	char recorded[72];
	struct ark_err why = {0};
	rc = ark_core_graveyard_hash(core, recorded, &why);
	if (rc == 0) {
		pin->recorded = true;
		snprintf(pin->recorded_hash, sizeof pin->recorded_hash, "%s", recorded);
		if (strcmp(recorded, hash) != 0)
			rc = ark_err_set(err, -EPERM,
					 "the installed Graveyard rules %s hash %s, but the Mutable Core %s records %s as the "
					 "approved rules: refusing to start (restore the approved file, or approve these rules "
					 "with `ark graveyard install --approve %s`)",
					 path, hash, store.state_db, recorded, path);
	} else if (rc == -ENOENT && record_first) {
		rc = ark_core_graveyard_approve(core, hash, "first start", path,
						"no rules were recorded yet: the instance's first start records them", err);
		if (!rc) {
			pin->recorded = pin->recorded_now = true;
			snprintf(pin->recorded_hash, sizeof pin->recorded_hash, "%s", hash);
		}
	} else if (rc == -ENOENT) {
		rc = 0;
	} else {
		rc = ark_err_set(err, rc, "reading the approved rules hash from %s: %s", store.state_db, why.msg);
	}
	ark_core_close(core);
	return rc;
}
