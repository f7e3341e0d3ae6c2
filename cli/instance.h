/* cli/instance.h — a running instance as the commands see it. */
#ifndef ARK_CLI_INSTANCE_H
#define ARK_CLI_INSTANCE_H

#include "watchdog/watchdog.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Any process recorded in the instance's segment is alive. */
bool ark_cli_instance_alive(const char *instance);
/* SIGTERM its watchdog (watchdog <= 0: from $ARK_RUN_DIR/watchdog.pid), which
 * drains and stops everything; wait up to timeout_s for the instance to be
 * gone, then SIGKILL what is left. 0 when it stopped in time. */
int ark_cli_stop_instance(const char *instance, pid_t watchdog, double timeout_s, bool quiet);

/* The newest env snapshot in dir (env_<UTC time>.env) after skipping
 * `skip` newer ones: 0 and its path, or -1 when there is none. */
int ark_cli_newest_env_snapshot(const char *dir, char *path, size_t len, int skip);

/* Write text to path through a temporary file beside it and a rename
 * (0600, the old file's owner): whole or not at all. */
struct ark_err;
int ark_cli_write_atomic(const char *path, const char *text, size_t len, struct ark_err *err);
/* The env file this process loaded ($ARK_ENV_FILE_LOADED), kept under
 * $ARK_BACKUP_DIR/env/env_<time>.env (0600) for `ark rollback`; an
 * unchanged file is not kept twice. */
void ark_cli_keep_env_snapshot(void);

/* A whole regular file (at most max bytes) and the SHA-256 of exactly the
 * bytes read (lower-case hex): what a canary was started with, and what is
 * promoted (the bytes hashed are the bytes used, never read twice). data
 * (malloc'd, NUL-terminated) may be NULL to hash only. */
int ark_cli_read_hashed(const char *path, size_t max, char **data, size_t *len, char sha256_hex[65],
			struct ark_err *err);
/* The same, with the fstat of the descriptor read through (its owner and
 * mode: what ark_env_file_check_private judges). */
struct stat;
int ark_cli_read_hashed_stat(const char *path, size_t max, char **data, size_t *len, char sha256_hex[65],
			     struct stat *st, struct ark_err *err);

/* The supervisor's notices as `ark run` and `ark watchdog` show them:
 * indented, events on stdout, warnings on stderr, flushed at once. */
void ark_cli_print_notice(void *ctx, enum ark_notice_kind kind, const char *line);

/* The operator's yes to a plan just shown: 0 at once with yes (--yes);
 * else prompt on the terminal, and 0 for "yes" typed out (type_yes) or an
 * answer that starts with y or Y. Otherwise the exit status after saying
 * why ("ark COMMAND: ..."): 2 without a terminal, 1 when not confirmed. */
int ark_cli_confirm(const char *command, bool yes, const char *prompt, bool type_yes);

/* The canary's options (getopt_long entries; the letters are the case
 * labels of both commands): `ark start` hands them on to `ark watchdog`
 * word for word, so the two accept one list. */
#define ARK_CLI_CANARY_OPTIONS                                                                                   \
	{"canary", no_argument, NULL, 'C'}, {"canary-percent", required_argument, NULL, 'P'},                    \
		{"canary-window", required_argument, NULL, 'W'},                                                 \
		{"canary-check-interval", required_argument, NULL, 'I'},                                         \
		{"canary-env", required_argument, NULL, 'E'}, {"canary-bin", required_argument, NULL, 'B'},      \
		{"canary-allow-looser", no_argument, NULL, 'L'}

/* Ctrl-C under `ark run` and `ark synth`: SIGINT and SIGTERM are counted
 * from now on, and acted on by ark_cli_act_on_interrupts. */
void ark_cli_catch_interrupts(void);
/* The interrupts that came since the last call (*handled: how many were
 * acted on): the first stops the sources, so that the pipeline drains
 * (note, when not NULL, is printed first); a second stops everything at
 * once. True when everything was stopped: the caller's loop ends. */
bool ark_cli_act_on_interrupts(struct ark_supervisor *sup, int *handled, const char *note);

#endif /* ARK_CLI_INSTANCE_H */
