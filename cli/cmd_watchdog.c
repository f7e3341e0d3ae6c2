/* cli/cmd_watchdog.c — `ark watchdog`, the production service: owns the
 * instance's segment, runs the agents (or watches them as systemd units),
 * the TCP feed and the metrics server until SIGTERM, restarts what dies,
 * quarantines what misbehaves, and speaks systemd's notify protocol
 * (READY=1 once the agents run, WATCHDOG=1 after each progress check,
 * STATUS= lines, STOPPING=1). Killed, it leaves the pipeline running; the
 * next `ark watchdog` takes the segment and its processes over. */
#include "proc/proc.h"
#include "pipeline/pipeline.h"
#include "brokers/brokers.h"
#include "cli/command.h"
#include "cli/instance.h"
#include "graveyard/graveyard.h"
#include "ops/ops.h"
#include "watchdog/watchdog.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ark watchdog [--instance NAME] [--agents spawn|systemd] [--feed-port PORT | --no-feed]\n"
		"                    [--synthetic HZ] [--seed N] [--violations FRACTION]\n\n"
		"Runs an instance as a service until SIGTERM or SIGINT (which drain the pipeline\n"
		"and stop it; a second one stops at once): creates /dev/shm/ark-<instance>, starts\n"
		"Kyle, Joey, HRM, Kenny and Aletheia (each `ark agent NAME`, pinned to\n"
		"ARK_CPU_<AGENT>), the TCP line feed and the metrics server, and supervises them:\n"
		"a death is seen at once and the process replaced (from a warm standby), a hung\n"
		"agent is killed and replaced, a slow or failing one quarantined (WATCHDOG_*).\n"
		"If a previous watchdog of the instance died, this one takes over its segment\n"
		"and the processes still running; nothing is lost.\n\n"
		"  --instance NAME     instance name (default $ARK_INSTANCE or 'main')\n"
		"  --agents MODE       spawn (default): the watchdog starts the agents;\n"
		"                      systemd: they are ark-agent@NAME.service units; the watchdog\n"
		"                      watches them (hangs, quarantine) and systemd restarts them\n"
		"  --feed-port PORT    the TCP line feed's port (default ARK_FEED_PORT or 7070;\n"
		"                      0: any free port, shown in the log); --no-feed: none\n"
		"  --synthetic HZ      also run the synthetic source at HZ ticks/s until stopped\n"
		"  --seed N, --violations FRACTION   for the synthetic source\n"
		"  --canary            run a canary lane beside the stable one (ark start --canary):\n"
		"    --canary-percent P        share of signals it takes, by trace hash (ARK_CANARY_PERCENT, 10)\n"
		"    --canary-window D         how long it is watched: 600, 10m (ARK_CANARY_WINDOW, 10m)\n"
		"    --canary-check-interval D tripwires checked this often (ARK_CANARY_CHECK_INTERVAL, 1m)\n"
		"    --canary-env FILE         the canary's settings: an env file over this environment\n"
		"    --canary-bin PATH         the canary's ark binary (ARK_CANARY_BIN)\n"
		"    --canary-allow-looser     run a canary whose rules admit more than the stable ones\n"
		"                              (a limit raised, a restriction removed); refused otherwise\n\n"
		"Under systemd (Type=notify) it sends READY=1, WATCHDOG=1, STATUS= and STOPPING=1\n"
		"to $NOTIFY_SOCKET. Exit status 0 after a clean stop, 1 when the instance could\n"
		"not go on (crash loop; systemd's restart limits take over), 2 configuration error.\n");
}

struct status_line {
	char text[256];
	uint64_t sent_ns;
};

static void notify_status(const struct ark_supervisor *sup, struct status_line *last, uint64_t now, bool force)
{
	const struct ark_pipeline *p = sup->map.pipeline;
	int quarantined = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		quarantined += atomic_load(&p->agents[a].quarantined) != 0;
	char text[256];
	snprintf(text, sizeof text,
		 "STATUS=%d/%d agents running, %llu events journaled, %llu restarts, %llu hangs, %d quarantined",
		 ark_supervisor_agents_running(sup), ARK_AGENT_COUNT,
		 (unsigned long long)atomic_load(&p->counters.journaled), (unsigned long long)sup->total_restarts,
		 (unsigned long long)sup->total_hangs, quarantined);
	if (!force && now - last->sent_ns < 2000ull * 1000 * 1000)
		return;
	if (!force && strcmp(text, last->text) == 0)
		return;
	ark_notify(text);
	snprintf(last->text, sizeof last->text, "%s", text);
	last->sent_ns = now;
}


/* May the canary lane trade on the broker ARK_BROKER names? Only on a
 * simulated one (the registry says which). A name the registry does not
 * know is let through: the canary's Kenny refuses it, naming the brokers. */
static bool canary_broker(const char *name)
{
	const struct ark_broker_ops *ops;
	struct ark_err err = {0};
	return ark_broker_find(name, &ops, &err) != 0 || ops->simulated;
}
/* The canary lane's environment: this one with the canary's env file over it
 * (its values win: they are what the canary changes), parsed from the very
 * bytes whose SHA-256 is recorded. Lives until exit. */
static int canary_environment(const char *env_file, struct ark_canary_config *config, struct ark_env_file *file,
			      struct ark_err *err)
{
	extern char **environ;
	char *text;
	size_t len;
	struct stat st;
	int rc = ark_cli_read_hashed_stat(env_file, 1u << 20, &text, &len, config->env_sha256, &st, err);
	if (rc)
		return ark_err_wrap(err, "the canary's env file");
	rc = ark_env_file_parse_text(env_file, text, len, file, err);
	explicit_bzero(text, len);
	free(text);
	if (!rc) {
		/* Secrets in it must be private, judged on the file read. */
		file->mode = st.st_mode & 07777;
		file->uid = (unsigned)st.st_uid;
		if ((rc = ark_env_file_check_private(file, err)))
			ark_env_file_free(file);
	}
	if (rc)
		return rc;
	size_t n = 0;
	while (environ[n])
		n++;
	/* One more for ARK_CANARY_RULES_SHA256 (added once the rules are hashed). */
	char **envp = calloc(n + file->count + 2, sizeof *envp);
	if (!envp)
		return ark_err_set(err, -ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool overridden = strncmp(environ[i], "ARK_CANARY_RULES_SHA256=", 24) == 0;
		for (size_t j = 0; j < file->count && !overridden; j++) {
			size_t klen = strlen(file->entries[j].key);
			overridden = strncmp(environ[i], file->entries[j].key, klen) == 0 && environ[i][klen] == '=';
		}
		if (!overridden)
			envp[k++] = environ[i];
	}
	/* envp[owned..] are this function's copies, freed if the file is refused. */
	size_t owned = k;
	for (size_t j = 0; j < file->count && !rc; j++) {
		const char *key = file->entries[j].key, *value = file->entries[j].value;
		if (strcmp(key, "ARK_CANARY_RULES_SHA256") == 0) {
			rc = ark_err_set(err, -EINVAL, "%s sets ARK_CANARY_RULES_SHA256: the watchdog sets it", env_file);
		} else if (strcmp(key, "ARK_BROKER") == 0 && !canary_broker(value)) {
			rc = ark_err_set(err, -EINVAL, "%s: ARK_BROKER=%.32s: the canary lane trades on a simulated broker only",
					 env_file, value);
		} else {
			size_t kvlen = strlen(key) + strlen(value) + 2;
			char *kv = malloc(kvlen);
			if (!kv)
				rc = ark_err_set(err, -ENOMEM, "out of memory");
			else
				snprintf(kv, kvlen, "%s=%s", key, value);
			envp[k++] = kv;
		}
	}
	if (rc) {
		for (size_t i = owned; i < k; i++)
			free(envp[i]);
		free(envp);
		return rc;
	}
	config->envp = envp;
	return 0;
}

/* The rules path the canary's HRM will read: ark_graveyard_installed_path
 * under the canary's environment (its env file's values over this one). */
static int canary_rules_path(const struct ark_env_file *file, char *out, size_t cap, struct ark_err *err)
{
	static const char *const keys[] = {"ARK_GRAVEYARD_RULES", "ARK_DATA_DIR", "ARK_ENV"};
	char *saved[3] = {NULL, NULL, NULL};
	bool had[3] = {false, false, false};
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(keys[i]);
		had[i] = v != NULL;
		saved[i] = v ? strdup(v) : NULL;
	}
	for (size_t j = 0; file && j < file->count; j++)
		for (int i = 0; i < 3; i++)
			if (strcmp(file->entries[j].key, keys[i]) == 0)
				setenv(keys[i], file->entries[j].value, 1);
	int rc = ark_graveyard_installed_path(out, cap, err);
	for (int i = 0; i < 3; i++) {
		if (had[i])
			setenv(keys[i], saved[i], 1);
		else
			unsetenv(keys[i]);
		free(saved[i]);
	}
	return rc;
}

/* Everything the canary will run, hashed; its rules held against stable's. */
static int canary_prepare(struct ark_canary_config *config, bool allow_looser, struct ark_err *err)
{
	struct ark_env_file file = {0};
	int rc = 0;
	if (config->env_file[0] && (rc = canary_environment(config->env_file, config, &file, err)))
		goto out;
	/* The binary the lane's processes exec. */
	if (config->bin[0])
		snprintf(config->bin_path, sizeof config->bin_path, "%s", config->bin);
	else if ((rc = ark_self_exe(config->bin_path, sizeof config->bin_path, err)))
		goto out;
	size_t len;
	if ((rc = ark_cli_read_hashed(config->bin_path, 1u << 30, NULL, &len, config->bin_sha256, err))) {
		ark_err_wrap(err, "the canary's binary");
		goto out;
	}
	/* Its rules and the stable lane's. */
	char stable_path[ARK_GRAVEYARD_PATH_MAX];
	if ((rc = canary_rules_path(config->env_file[0] ? &file : NULL, config->rules_path, sizeof config->rules_path, err)) ||
	    (rc = ark_graveyard_installed_path(stable_path, sizeof stable_path, err)))
		goto out;
	struct stat st;
	if (stat(stable_path, &st) != 0 && (rc = ark_pipeline_install_rules(stable_path, err)))
		goto out;
	struct ark_graveyard_rules *rules = calloc(2, sizeof *rules);
	if (!rules) {
		rc = ark_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = ark_graveyard_load(stable_path, &rules[0], err)) ||
	    (rc = ark_graveyard_load(config->rules_path, &rules[1], err))) {
		ark_err_wrap(err, "the rules");
		free(rules);
		goto out;
	}
	snprintf(config->rules_sha256, sizeof config->rules_sha256, "%s", rules[1].file_sha256_hex);
	int looser = ark_graveyard_looser(&rules[0].limits, &rules[1].limits, config->looser, sizeof config->looser);
	free(rules);
	if (looser && !allow_looser) {
		rc = ark_err_set(err, -EPERM,
				 "the canary's rules (%s) are looser than the stable rules (%s): %s. A canary may not loosen "
				 "the gate unless the operator says so: --canary-allow-looser",
				 config->rules_path, stable_path, config->looser);
		goto out;
	}
	if (config->envp) {
		/* The canary's HRM holds its rules to this hash (drift otherwise). */
		char kv[96];
		snprintf(kv, sizeof kv, "ARK_CANARY_RULES_SHA256=%s", config->rules_sha256);
		char **envp = (char **)config->envp;
		size_t k = 0;
		while (envp[k])
			k++;
		envp[k] = strdup(kv);
	} else {
		setenv("ARK_CANARY_RULES_SHA256", config->rules_sha256, 1);
	}
out:
	ark_env_file_free(&file);
	return rc;
}

/* The canary lane's settings (--canary-*, ARK_CANARY_*), checked and
 * recorded with paths that hold from anywhere. 0, or 2 after saying why. */
static int canary_setup(struct ark_canary_config *config, bool allow_looser)
{
	struct ark_err err = {0};
	const char *broker = getenv("ARK_BROKER");
	if (ark_canary_config_from_env(config, &err) || canary_prepare(config, allow_looser, &err)) {
		fprintf(stderr, "ark watchdog: canary: %s\n", err.msg);
		return 2;
	}
	if (!canary_broker(broker)) {
		fprintf(stderr, "ark watchdog: canary: ARK_BROKER=%.32s: the canary lane trades on a simulated broker only\n",
			broker);
		return 2;
	}
	/* Recorded for `ark canary promote`: paths that hold from anywhere. */
	char real[PATH_MAX];
	if (config->env_file[0] && realpath(config->env_file, real))
		snprintf(config->env_file, sizeof config->env_file, "%s", real);
	if (config->bin[0] && realpath(config->bin, real))
		snprintf(config->bin, sizeof config->bin, "%s", real);
	if (!config->env_file[0] && !config->bin[0]) {
		fprintf(stderr, "ark watchdog: canary: give the canary's configuration or binary (--canary-env FILE or --canary-bin PATH)\n");
		return 2;
	}
	return 0;
}

/* The service: restarts, limits and progress checks until SIGTERM/SIGINT
 * (drain), keep-alives and status for systemd, SIGHUP reopens the logs.
 * Returns the exit status. */
static int serve(struct ark_supervisor *sup, int sigfd, struct status_line *last)
{
	struct ark_err err = {0};
	uint64_t now;
	uint64_t keepalive_ns = ark_notify_watchdog_interval_ns() / 2;
	uint64_t tick_ns = 100ull * 1000 * 1000;
	if (keepalive_ns && keepalive_ns < tick_ns)
		tick_ns = keepalive_ns;
	uint64_t last_keepalive = 0;
	int stops = 0, status = 0;
	bool stop_started = false;
	/* During the drain a second SIGTERM/SIGINT stops at once (SIGHUP does not). */
	sigset_t stops_mask;
	sigemptyset(&stops_mask);
	sigaddset(&stops_mask, SIGTERM);
	sigaddset(&stops_mask, SIGINT);
	int stopfd = signalfd(-1, &stops_mask, SFD_CLOEXEC | SFD_NONBLOCK);
	sup->interrupt_fd = stopfd;
	while (!ark_supervisor_finished(sup)) {
		if (ark_supervisor_wait(sup, sigfd, tick_ns)) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					ark_log_reopen_all();
					continue;
				}
				stops++;
			}
		}
		if (stops >= 1 && !stop_started) {
			stop_started = true;
			ark_notify("STOPPING=1");
			ark_notify("STATUS=stopping: draining the pipeline");
			ark_supervisor_stop(sup, false);
			break;
		}
		if (ark_supervisor_poll(sup, &err) != 0) {
			fprintf(stderr, "ark watchdog: %s\n", err.msg);
			char text[600];
			snprintf(text, sizeof text, "STATUS=stopping: %s", err.msg);
			ark_notify("STOPPING=1");
			ark_notify(text);
			ark_supervisor_stop(sup, true);
			status = 1;
			break;
		}
		now = ark_now_ns();
		/* Keep-alive only after a full progress check: a stuck loop goes
		 * silent and systemd's WatchdogSec= restarts the service. */
		if (keepalive_ns && now - last_keepalive >= keepalive_ns) {
			ark_notify("WATCHDOG=1");
			last_keepalive = now;
		}
		notify_status(sup, last, now, false);
	}
	if (stopfd >= 0)
		close(stopfd);
	sup->interrupt_fd = -1;
	return status;
}

/* What `ark watchdog` was asked for. */
struct watchdog_options {
	const char *instance;
	bool canary, allow_looser, systemd_agents, no_feed;
	double synthetic, violations;
	uint64_t seed, port;
};

/* Options (the canary's land in its ARK_CANARY_* variables): 0, 1 after
 * --help (answered), 2 on a usage error (said). */
static int parse_args(struct watchdog_options *o, int argc, char **argv)
{
	static const struct option options[] = {
		{"instance", required_argument, NULL, 'i'}, {"agents", required_argument, NULL, 'a'},
		{"feed-port", required_argument, NULL, 'p'}, {"no-feed", no_argument, NULL, 'n'},
		{"synthetic", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 'e'},
		{"violations", required_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
		ARK_CLI_CANARY_OPTIONS, {NULL, 0, NULL, 0}};
	struct ark_err err = {0};
	if (ark_env_u64("ARK_FEED_PORT", 7070, 0, 65535, &o->port, &err))
		return ark_cli_fail("watchdog", &err, 2);
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'i': o->instance = optarg; break;
		case 'a':
			if (strcmp(optarg, "systemd") == 0)
				o->systemd_agents = true;
			else if (strcmp(optarg, "spawn") != 0)
				rc = ark_err_set(&err, -EINVAL, "--agents: expected spawn or systemd, got '%s'", optarg);
			break;
		case 'p': rc = ark_parse_u64(optarg, 0, 65535, "--feed-port", &o->port, &err); break;
		case 'n': o->no_feed = true; break;
		case 's': rc = ark_parse_double(optarg, 0.1, 1e9, "--synthetic", &o->synthetic, &err); break;
		case 'e': rc = ark_parse_u64(optarg, 0, UINT64_MAX, "--seed", &o->seed, &err); break;
		case 'v': rc = ark_parse_double(optarg, 0, 0.5, "--violations", &o->violations, &err); break;
		/* The canary's flags land in its variables, read below with the rest. */
		case 'C': o->canary = true; break;
		case 'P': setenv("ARK_CANARY_PERCENT", optarg, 1); o->canary = true; break;
		case 'W': setenv("ARK_CANARY_WINDOW", optarg, 1); o->canary = true; break;
		case 'I': setenv("ARK_CANARY_CHECK_INTERVAL", optarg, 1); o->canary = true; break;
		case 'E': setenv("ARK_CANARY_ENV_FILE", optarg, 1); o->canary = true; break;
		case 'B': setenv("ARK_CANARY_BIN", optarg, 1); o->canary = true; break;
		case 'L': o->allow_looser = true; o->canary = true; break;
		default: return ark_cli_usage(usage, opt, 1);
		}
		if (rc)
			return ark_cli_fail("watchdog", &err, 2);
	}
	if (ark_cli_no_operands("watchdog", argc, argv))
		return 2;
	if (o->no_feed && o->synthetic == 0) {
		fprintf(stderr, "ark watchdog: --no-feed needs --synthetic HZ: an instance needs a source\n");
		return 2;
	}
	return 0;
}

static int watchdog_main(int argc, char **argv)
{
	struct watchdog_options o = {.instance = ark_pipeline_default_instance(), .violations = 0.01, .seed = 1};
	int prc = parse_args(&o, argc, argv);
	if (prc)
		return prc == 1 ? 0 : prc;
	const char *instance = o.instance;
	struct ark_err err = {0};
	/* Settings every agent reads: refuse bad ones here, before anything starts. */
	struct ark_preflight pre;
	if (ark_preflight_check(&pre, &err))
		return ark_cli_fail("watchdog", &err, 2);
	bool api = pre.api;
	static struct ark_canary_config canary_config;
	if (o.canary && canary_setup(&canary_config, o.allow_looser))
		return 2;

	/* Signals arrive on a signalfd beside the pidfds: one poll sees both. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		fprintf(stderr, "ark watchdog: signalfd: %s\n", strerror(errno));
		return 1;
	}

	char rate_text[32], seed_text[32], violations_text[32];
	snprintf(rate_text, sizeof rate_text, "%.17g", o.synthetic);
	snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)o.seed);
	snprintf(violations_text, sizeof violations_text, "%.17g", o.violations);
	/* Ten years: the synthetic source of a service runs until it is stopped. */
	const char *source_args[] = {"--rate", rate_text, "--duration", "315360000", "--seed", seed_text,
				     "--violations", violations_text, "--start-now", NULL};
	struct ark_supervisor_options so = {.notice = ark_cli_print_notice, .instance = instance,
					    .source_args = o.synthetic > 0 ? source_args : NULL,
					    .feed_port = o.no_feed ? -1 : (int)o.port,
					    .service = true,
					    .adopt = true,
					    .external_agents = o.systemd_agents,
					    .api = api,
					    .alpha_vantage = pre.alpha_vantage,
					    .canary = o.canary ? &canary_config : NULL};
	struct ark_supervisor sup;
	ark_notify("STATUS=starting: creating the segment and starting the agents");
	int rc = ark_supervisor_start(&sup, &so, &err);
	if (rc) {
		fprintf(stderr, "ark watchdog: %s\n", err.msg);
		char status[600];
		snprintf(status, sizeof status, "STATUS=failed to start: %s", err.msg);
		ark_notify(status);
		return ark_supervisor_start_status(&sup, rc);
	}
	struct status_line last = {{0}, 0};
	uint64_t now = ark_now_ns();
	ark_notify("READY=1");
	notify_status(&sup, &last, now, true);
	printf("ark watchdog: instance %s %s, %d agents running, pid %d\n", instance,
	       sup.adopted ? "taken over from a watchdog that died" : "started", ark_supervisor_agents_running(&sup),
	       (int)getpid());
	fflush(stdout);

	int status = serve(&sup, sigfd, &last);
	ark_supervisor_close(&sup);
	close(sigfd);
	printf("ark watchdog: instance %s stopped%s\n", instance, status ? " after a failure" : "");
	return status;
}

ARK_COMMAND(watchdog_command, "watchdog", "run an instance as a supervised service (systemd: ark-watchdog.service)",
	    watchdog_main)
