/* watchdog/config.c — the watchdog's settings from the environment, its
 * records in the Mutable Core, and pid files. */
#include "watchdog/internal.h"

#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ark_watchdog_config_from_env(struct ark_watchdog_config *c, struct ark_err *err)
{
	memset(c, 0, sizeof *c);
	uint64_t latency_ms, window_s, hang_ms;
	int rc = ark_env_bool("WATCHDOG_ENABLED", true, &c->enabled, err);
	if (!rc)
		rc = ark_env_bool("WATCHDOG_QUARANTINE_ENABLED", true, &c->quarantine_enabled, err);
	if (!rc)
		rc = ark_env_u64("WATCHDOG_MAX_LATENCY_MS", 5000, 1, 3600 * 1000, &latency_ms, err);
	if (!rc)
		rc = ark_env_u64("WATCHDOG_WINDOW_S", 10, 1, 3600, &window_s, err);
	if (!rc)
		rc = ark_env_u64("WATCHDOG_HANG_MS", 5000, 100, 3600 * 1000, &hang_ms, err);
	if (rc)
		return rc;
	const char *rate = getenv("WATCHDOG_MAX_FAILURE_RATE");
	c->max_failure_rate = 0.20;
	if (rate && *rate && (rc = ark_parse_double(rate, 0, 1, "WATCHDOG_MAX_FAILURE_RATE", &c->max_failure_rate, err)))
		return rc;
	c->max_latency_ns = latency_ms * 1000000ull;
	c->window_ns = window_s * 1000000000ull;
	c->hang_ns = hang_ms * 1000000ull;
	c->kill_grace_ns = 1000000000ull;
	if ((rc = ark_env_bool("WATCHDOG_STANDBY", true, &c->standby, err)))
		return rc;
	const char *dir = getenv("ARK_RUN_DIR");
	const char *env = getenv("ARK_ENV");
	const char *data = getenv("ARK_DATA_DIR");
	if (dir && *dir)
		snprintf(c->run_dir, sizeof c->run_dir, "%s", dir);
	else if (env && strcmp(env, "prod") == 0)
		snprintf(c->run_dir, sizeof c->run_dir, "/var/run/ark");
	else
		snprintf(c->run_dir, sizeof c->run_dir, "%s/run", data && *data ? data : "./ark-data");
	return 0;
}

int ark_watchdog_record(const char *agent, const char *event, int pid, const char *reason, struct ark_err *err)
{
	struct ark_store_config cfg;
	int rc = ark_store_config_from_env(&cfg, err);
	if (rc)
		return rc;
	struct ark_core *core;
	rc = ark_core_open(&core, &cfg, ARK_CORE_NO_CHECKPOINTER, NULL, err);
	if (rc)
		return rc;
	rc = ark_core_record_agent_event(core, agent, event, pid, reason, ark_realtime_ns(), err);
	ark_core_close(core);
	return rc;
}

void ark_watchdog_pid_file(const struct ark_supervisor *sup, const char *name, pid_t pid, uint64_t start_ticks)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s.pid", sup->watchdog.run_dir, name);
	if (pid <= 0) {
		unlink(path);
		return;
	}
	char tmp[PATH_MAX + 48];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	/* Never through a file or link planted under the temporary name. */
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	char text[48];
	/* the pid alone on the first line (what systemd and scripts read), its
	 * start time on the second (what ark stop checks) */
	int n = snprintf(text, sizeof text, "%d\n%llu\n", (int)pid, (unsigned long long)start_ticks);
	if (write(fd, text, (size_t)n) == n)
		rename(tmp, path);
	else
		unlink(tmp);
	close(fd);
}

void ark_watchdog_notice(const struct ark_supervisor *sup, enum ark_notice_kind kind, const char *fmt, ...)
{
	if (!sup->notice)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	sup->notice(sup->notice_ctx, kind, line);
}

uint64_t ark_watchdog_jittered(struct ark_supervisor *sup, uint64_t ns)
{
	sup->rng ^= sup->rng << 13;
	sup->rng ^= sup->rng >> 7;
	sup->rng ^= sup->rng << 17;
	double f = 0.8 + 0.4 * (double)(sup->rng % 10000) / 10000.0;
	return (uint64_t)((double)ns * f);
}


int ark_watchdog_api_wanted(bool *wanted, struct ark_err *err)
{
	bool enabled = true;
	int rc = ark_env_bool("API_ENABLED", true, &enabled, err);
	if (rc)
		return rc;
	const char *secret = getenv("JWT_SECRET");
	*wanted = enabled && secret && *secret;
	return 0;
}
