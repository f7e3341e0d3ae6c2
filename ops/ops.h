/* ops/ops.h — the operator's tools below the command line: env files, the
 * production configuration validator (`ark config validate`).
 *
 * An env file is KEY=VALUE lines as systemd's EnvironmentFile and the seed's
 * .env.production have them: blank lines and # comments, an optional
 * `export `, values bare (a " #" starts a comment), in single quotes (taken
 * as written) or in double quotes (\" \\ \n \t \$ understood); no variable
 * expansion. Every error names the file and line. A variable already in the
 * process's environment wins over the file (as an explicit setting should).
 *
 * The validator runs every check it can and reports each as one line; it
 * never prints a secret's value, only its name. */
#ifndef ARK_OPS_H
#define ARK_OPS_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- env files ---- */

struct ark_env_entry {
	char key[64];
	char *value;
	int line;
};
struct ark_env_file {
	char path[4096];
	struct ark_env_entry *entries;
	size_t count;
	unsigned mode;              /* the file's permission bits */
};
/* Parse a whole file; on error err says "<path> line N: ..." and nothing is kept. */
int ark_env_file_parse(const char *path, struct ark_env_file *file, struct ark_err *err);
/* Parse text (for tests and the fuzz target); name is used in errors. */
int ark_env_file_parse_text(const char *name, const char *text, size_t len, struct ark_env_file *file,
			    struct ark_err *err);
void ark_env_file_free(struct ark_env_file *file);
/* Set each entry in the environment unless it is already set there; returns
 * how many the environment kept (its own value won). */
size_t ark_env_file_apply(const struct ark_env_file *file);

/* What every `ark` command does first: `--env-file F` (taken out of argv),
 * else $ARK_ENV_FILE, else .env.production when ARK_ENV=prod and the file
 * exists. loaded gets the path used ("" when none). A file named explicitly
 * that cannot be read, or any file with a syntax error, is an error. */
int ark_env_file_load_for_command(int *argc, char **argv, char *loaded, size_t loaded_len, struct ark_err *err);

/* ---- secrets ---- */

/* Why a secret's value is not one: NULL when it is fine. Placeholders
 * (changeme, your_..., xxx, <...>, replace_me, example values, one repeated
 * character, runs like 123456); with strong, also fewer than 32 characters or
 * too little variety to hold 32 characters' worth of entropy. Never quotes
 * the value. */
const char *ark_secret_weakness(const char *value, bool strong);

/* ---- the validator ---- */

enum ark_check_status { ARK_CHECK_OK = 0, ARK_CHECK_FAIL, ARK_CHECK_INFO };

struct ark_check {
	enum ark_check_status status;
	char message[320];
	char hint[256];
};

#define ARK_VALIDATION_MAX_CHECKS 64
struct ark_validation {
	struct ark_check checks[ARK_VALIDATION_MAX_CHECKS];
	int count;
	bool valid;
	bool production;            /* ARK_ENV=prod */
	char env_file[4096];        /* the file loaded, "" if none */
};

struct ark_validate_options {
	const char *env_file;           /* loaded already (for the report and its own checks), or NULL */
	const struct ark_env_file *file;   /* its parsed entries, or NULL */
	const char *env_file_error;     /* a parse error of the env file, or NULL */
	uint32_t redis_timeout_ms;      /* PING's connect and reply timeout (2000) */
};

/* Run every check against the current environment. */
void ark_config_validate(const struct ark_validate_options *options, struct ark_validation *out);

#endif /* ARK_OPS_H */
