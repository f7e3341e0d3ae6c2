/* watchdog/instance.c — the instance's segment at the watchdog's start:
 * created new, or taken over from a watchdog that died. A dead watchdog's
 * agents keep running on their segment (trading does not stop with the
 * watchdog); `ark watchdog` adopts the segment and them, while `ark run`,
 * which starts a fresh run, first stops what its predecessor left.
 *
 * Nothing the old segment says is taken on trust: it is attached only when
 * it is ours (shm.c refuses another user's or a widened one), it is adopted
 * only when its rules are the ones this watchdog's own configuration names,
 * with the same SHA-256, and a process it records is signalled only after
 * /proc shows it is ours (ark_shm_process_open: uid, executable, start time,
 * instance) — through a pidfd, so the process checked is the one killed. */
#include "watchdog/internal.h"

#include "graveyard/graveyard.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int note_seq(void *ctx, const struct ark_journal_record *rec)
{
	*(uint64_t *)ctx = rec->seq;
	return 0;
}

/* The last seq in the journal (0 when empty): a new run continues after it,
 * so sequence numbers stay monotonic for the instance's whole record. Only
 * the newest segment is read. */
static int journal_last_seq(const char *dir, uint64_t *last, struct ark_err *err)
{
	*last = 0;
	uint64_t firsts[1];
	size_t count = 0;
	int rc = ark_journal_list(dir, firsts, 0, &count, err);
	if (rc == -ENOENT || (rc == 0 && count == 0))
		return 0;
	if (rc)
		return rc;
	uint64_t *all = calloc(count, sizeof *all);
	if (!all)
		return ark_err_set(err, -ENOMEM, "out of memory");
	rc = ark_journal_list(dir, all, count, &count, err);
	if (!rc)
		rc = ark_journal_each(dir, all[count - 1], note_seq, last, err);
	free(all);
	return rc;
}

/* The installed rules (the shipped ones on a first run), held to their pins:
 * ARK_GRAVEYARD_SHA256 and the hash the Mutable Core records as approved
 * (-EPERM names both and the file). Opening the Mutable Core here also
 * checks it: a corrupt one stops the start at once (-EUCLEAN), with
 * SQLite's words. */
static int rules_setup(struct ark_supervisor *sup, struct ark_pipeline_config *config, struct ark_err *err)
{
	char path[ARK_PATH_MAX];
	if (ark_graveyard_installed_path(path, sizeof path, err))
		return -EINVAL;
	snprintf(config->rules_path, sizeof config->rules_path, "%s", path);
	struct stat st;
	if (stat(path, &st) != 0) {
		int rc = ark_pipeline_install_rules(path, err);
		if (rc)
			return rc;
	}
	struct ark_graveyard_rules *rules = malloc(sizeof *rules);
	if (!rules)
		return ark_err_set(err, -ENOMEM, "out of memory");
	struct ark_rules_pin pin;
	int rc = ark_pipeline_rules_pin(path, true, rules, &pin, err);
	if (!rc) {
		snprintf(config->rules_hash, sizeof config->rules_hash, "%s", rules->file_sha256_hex);
		ark_log(sup->log, "info", "graveyard rules=%s sha256=%s pinned_by_env=%d recorded=%s", path,
			rules->file_sha256_hex, pin.env_pinned,
			pin.recorded_now ? "now (first start)" : pin.recorded ? "yes" : "no (no Mutable Core)");
	} else {
		ark_log(sup->log, "error", "refusing to start: %s", err->msg);
	}
	free(rules);
	return rc;
}


int ark_watchdog_recorded_processes(const struct ark_pipeline *p, int32_t *pids, uint64_t *ticks)
{
	int n = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		pids[n] = atomic_load(&p->agents[a].pid);
		ticks[n++] = atomic_load(&p->agents[a].start_ticks);
	}
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		pids[n] = atomic_load(&p->canary_agents[a].pid);
		ticks[n++] = atomic_load(&p->canary_agents[a].start_ticks);
	}
	for (int s = 0; s < p->source_count && s < ARK_MAX_SOURCES; s++) {
		pids[n] = atomic_load(&p->sources[s].pid);
		ticks[n++] = atomic_load(&p->sources[s].start_ticks);
	}
	pids[n] = atomic_load(&p->metrics_pid);
	ticks[n++] = atomic_load(&p->metrics_start_ticks);
	pids[n] = atomic_load(&p->mirror_pid);
	ticks[n++] = atomic_load(&p->mirror_start_ticks);
	return n;
}

/* The binaries a process of this instance may run: this ark, and the
 * canary's when one is configured (ARK_CANARY_BIN, resolved). */
void ark_watchdog_expected_exes(const struct ark_supervisor *sup, char canary[PATH_MAX], const char *exes[3])
{
	int n = 0;
	exes[n++] = sup->exe;
	const char *bin = sup->canary_config.bin[0] ? sup->canary_config.bin : getenv("ARK_CANARY_BIN");
	canary[0] = '\0';
	if (bin && *bin && realpath(bin, canary))
		exes[n++] = canary;
	exes[n] = NULL;
}

/* A fresh run replaces a dead watchdog's segment: what it left running
 * would otherwise go on working a segment nobody watches. Each recorded
 * process is killed only once /proc shows it is ours; the rest are left
 * alone, and the log says why. */
static void stop_orphans(struct ark_supervisor *sup, struct ark_pipeline_map *old)
{
	int32_t pids[ARK_WATCHDOG_RECORDED_MAX];
	uint64_t ticks[ARK_WATCHDOG_RECORDED_MAX];
	int pidfds[ARK_WATCHDOG_RECORDED_MAX];
	int n = ark_watchdog_recorded_processes(old->pipeline, pids, ticks);
	char canary[PATH_MAX];
	const char *exes[3];
	ark_watchdog_expected_exes(sup, canary, exes);
	struct ark_shm_process_expect expect = {.instance = sup->instance, .exe = exes};
	int killed = 0;
	for (int i = 0; i < n; i++) {
		char why[256];
		pidfds[i] = pids[i] > 0 ? ark_shm_process_open(pids[i], ticks[i], &expect, why, sizeof why) : -ESRCH;
		if (pidfds[i] == -EPERM)
			ark_log(sup->log, "warn", "left alone pid %d recorded in %s: %s", (int)pids[i], old->shm.path, why);
		if (pidfds[i] < 0)
			continue;
		if (ark_shm_pidfd_signal(pidfds[i], SIGKILL) == 0)
			killed++;
	}
	for (int tries = 0; killed && tries < 200; tries++) {
		int alive = 0;
		for (int i = 0; i < n; i++) {
			struct pollfd p = {.fd = pidfds[i], .events = POLLIN};
			alive += pidfds[i] >= 0 && poll(&p, 1, 0) == 0;   /* a pidfd is readable once its process exits */
		}
		if (!alive)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < n; i++)
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	if (killed)
		ark_log(sup->log, "warn", "stopped %d processes a dead watchdog left running on %s", killed, old->shm.path);
}

int ark_watchdog_open_instance(struct ark_supervisor *sup, const struct ark_supervisor_options *options,
			       struct ark_err *err)
{
	struct ark_pipeline_map old;
	struct ark_err why;
	if (ark_pipeline_attach(&old, options->instance, &why) == 0) {
		if (!ark_shm_is_stale(&old.shm)) {
			int pid = old.shm.header->creator_pid;
			ark_pipeline_detach(&old);
			return ark_err_set(err, -EEXIST,
					   "instance %s is already running, supervised by pid %d (stop it first, or choose another --instance)",
					   options->instance, pid);
		}
		if (options->adopt && atomic_load(&old.pipeline->stop)) {
			/* Its watchdog died while stopping it: the agents are
			 * draining out. Nothing to take over: start afresh. */
			ark_log(sup->log, "warn", "the previous watchdog died while stopping instance %s: starting it afresh",
				options->instance);
		} else if (options->adopt) {
			/* The rules come from this watchdog's own configuration and
			 * its pins, never from the segment it finds. */
			struct ark_pipeline_config mine;
			memset(&mine, 0, sizeof mine);
			int rc = rules_setup(sup, &mine, err);
			if (!rc && (strcmp(mine.rules_path, old.pipeline->rules_path) != 0 ||
				    strcmp(mine.rules_hash, old.pipeline->rules_hash) != 0))
				rc = ark_err_set(err, -EPERM,
						 "instance %s runs the rules %s (sha256 %.64s), but this configuration "
						 "pins %s (sha256 %s): not adopting it (stop it with `ark stop`)",
						 options->instance, old.pipeline->rules_path, old.pipeline->rules_hash,
						 mine.rules_path, mine.rules_hash);
			if (!rc && strcmp(old.pipeline->instance, options->instance) != 0)
				rc = ark_err_set(err, -EPERM, "%s says it is instance '%.64s', not '%s': not taken over",
						 old.shm.path, old.pipeline->instance, options->instance);
			if (rc) {
				ark_log(sup->log, "error", "not taking over instance %s: %s", options->instance, err->msg);
				ark_pipeline_detach(&old);
				return rc;
			}
			int dead = old.shm.header->creator_pid;
			ark_shm_adopt(&old.shm);
			sup->map = old;
			sup->adopted = true;
			ark_log(sup->log, "warn", "took over instance %s from a watchdog that died (pid %d was its owner)",
				options->instance, dead);
			return 0;
		}
		stop_orphans(sup, &old);
		ark_pipeline_detach(&old);
	}
	struct ark_store_config store;
	int rc = ark_store_config_from_env(&store, err);
	if (rc)
		return -EINVAL;
	struct ark_pipeline_config config;
	rc = ark_pipeline_config_from_env(&config, err);
	if (rc)
		return -EINVAL;
	snprintf(config.instance, sizeof config.instance, "%s", options->instance);
	config.source_count = 0;
	if (options->source_args)
		config.source_kinds[config.source_count++] = ARK_SOURCE_SYNTHETIC;
	if (options->feed_port >= 0)
		config.source_kinds[config.source_count++] = ARK_SOURCE_TCP;
	if (options->api)
		config.source_kinds[config.source_count++] = ARK_SOURCE_API;
	if (options->alpha_vantage)
		config.source_kinds[config.source_count++] = ARK_SOURCE_ALPHA_VANTAGE;
	if (config.source_count == 0)
		return ark_err_set(err, -EINVAL, "an instance needs a source: the synthetic source or the TCP feed");
	config.canary = options->canary != NULL;
	rc = rules_setup(sup, &config, err);
	if (rc)
		return rc;
	rc = journal_last_seq(store.journal_dir, &config.base_seq, err);
	if (rc)
		return ark_err_wrap(err, "reading the journal in %s", store.journal_dir);
	/* A journal re-based under a restored database continues after the
	 * database's record even while it holds nothing beyond it. */
	uint64_t base;
	if ((rc = ark_journal_base_seq(store.journal_dir, &base, err)))
		return ark_err_wrap(err, "reading the journal's base");
	if (base > config.base_seq)
		config.base_seq = base;
	return ark_pipeline_create(&sup->map, &config, err);
}
