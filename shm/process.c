/* shm/process.c — is the process a segment (or pid file) names really ours?
 *
 * A pid read from a segment, a control block or a pid file is only a claim:
 * the process may have died and its pid been reused by anything, or the
 * record may have been written by someone else. Before such a pid is
 * adopted or signalled, /proc must show that it is alive, was started at
 * the recorded time (clock ticks since boot; 0 is never a match), runs as
 * our effective uid (real and effective), executes one of the binaries we
 * expect (this `ark`, or the canary's) and names the instance on its
 * command line (--instance NAME, or ARK_INSTANCE in its environment, or the
 * default "main" when neither is given). Signals then go through a pidfd
 * opened before the checks, so the process checked is the one signalled. */
#include "shm/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Read a small /proc file whole; its length, or -1. */
static ssize_t read_proc(int32_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap - 1)
			break;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Real and effective uid from /proc/<pid>/status; false when unreadable. */
static bool process_uids(int32_t pid, uid_t *real, uid_t *effective)
{
	char buf[4096];
	if (read_proc(pid, "status", buf, sizeof buf) <= 0)
		return false;
	const char *line = strstr(buf, "\nUid:");
	unsigned long r, e;
	if (!line || sscanf(line + 5, "%lu %lu", &r, &e) != 2)
		return false;
	*real = (uid_t)r;
	*effective = (uid_t)e;
	return true;
}

/* The executable matches one of the allowed paths. A binary replaced on
 * disk since the process started (an upgrade) reads "<path> (deleted)". */
static bool exe_allowed(int32_t pid, const char *const *allowed, char *exe, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, exe, cap - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	static const char deleted[] = " (deleted)";
	size_t len = (size_t)n;
	if (len > sizeof deleted - 1 && strcmp(exe + len - (sizeof deleted - 1), deleted) == 0)
		len -= sizeof deleted - 1;
	for (int i = 0; allowed && allowed[i]; i++)
		if (allowed[i][0] && strlen(allowed[i]) == len && strncmp(exe, allowed[i], len) == 0)
			return true;
	return false;
}

/* Its command line names the instance: --instance NAME or --instance=NAME;
 * without either, ARK_INSTANCE in its environment (default "main"). */
static bool names_instance(int32_t pid, const char *instance)
{
	enum { CAP = 32768 };
	char *buf = malloc(CAP);
	if (!buf)
		return false;
	bool named = false, decided = false;
	ssize_t n = read_proc(pid, "cmdline", buf, CAP);
	for (const char *a = buf; n > 0 && a < buf + n && !decided; a += strlen(a) + 1) {
		if (strcmp(a, "--instance") == 0) {
			const char *v = a + strlen(a) + 1;
			named = v < buf + n && strcmp(v, instance) == 0;
			decided = true;
		} else if (strncmp(a, "--instance=", 11) == 0) {
			named = strcmp(a + 11, instance) == 0;
			decided = true;
		}
	}
	if (!decided && n > 0) {
		n = read_proc(pid, "environ", buf, CAP);
		const char *name = "main";
		for (const char *a = buf; n > 0 && a < buf + n; a += strlen(a) + 1)
			if (strncmp(a, "ARK_INSTANCE=", 13) == 0 && a[13])
				name = a + 13;
		named = strcmp(name, instance) == 0;
	}
	free(buf);
	return named;
}

int ark_shm_process_verify(int32_t pid, uint64_t start_ticks, const struct ark_shm_process_expect *expect,
			   char *why, size_t why_len)
{
	char scratch[8];
	if (!why) {
		why = scratch;
		why_len = sizeof scratch;
	}
	if (pid <= 0) {
		snprintf(why, why_len, "no pid recorded");
		return -ESRCH;
	}
	if (start_ticks == 0) {
		snprintf(why, why_len, "pid %d has no start time recorded", (int)pid);
		return -EPERM;
	}
	if (!ark_shm_process_alive(pid, start_ticks)) {
		uint64_t now = ark_shm_process_start_ticks(pid);
		if (now == 0)
			snprintf(why, why_len, "pid %d is gone", (int)pid);
		else
			snprintf(why, why_len, "pid %d now belongs to a process started at tick %llu, not %llu (pid reused)",
				 (int)pid, (unsigned long long)now, (unsigned long long)start_ticks);
		return now == 0 ? -ESRCH : -EPERM;
	}
	uid_t real, effective, me = geteuid();
	if (!process_uids(pid, &real, &effective)) {
		snprintf(why, why_len, "pid %d: its owner cannot be read from /proc", (int)pid);
		return -EPERM;
	}
	if (real != me || effective != me) {
		snprintf(why, why_len, "pid %d runs as uid %u/%u, not as this user (uid %u)", (int)pid, (unsigned)real,
			 (unsigned)effective, (unsigned)me);
		return -EPERM;
	}
	char exe[PATH_MAX];
	if (!exe_allowed(pid, expect ? expect->exe : NULL, exe, sizeof exe)) {
		snprintf(why, why_len, "pid %d executes %.200s, not this ark%s", (int)pid, exe[0] ? exe : "(unknown)",
			 expect && expect->exe && expect->exe[0] && expect->exe[1] ? " or the canary's binary" : "");
		return -EPERM;
	}
	if (expect && expect->instance && !names_instance(pid, expect->instance)) {
		snprintf(why, why_len, "pid %d is not a process of instance %.64s (its command line names another)",
			 (int)pid, expect->instance);
		return -EPERM;
	}
	return 0;
}

int ark_shm_process_open(int32_t pid, uint64_t start_ticks, const struct ark_shm_process_expect *expect, char *why,
			 size_t why_len)
{
	if (pid <= 0) {
		if (why)
			snprintf(why, why_len, "no pid recorded");
		return -ESRCH;
	}
	/* Opened first: should the pid be reused after the checks, the pidfd
	 * still names the process that passed them (pids are not reused while
	 * their process lives). */
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		int e = errno;
		if (why)
			snprintf(why, why_len, "pid %d: %s", (int)pid, strerror(e));
		return -e;
	}
	int rc = ark_shm_process_verify(pid, start_ticks, expect, why, why_len);
	if (rc) {
		close(pidfd);
		return rc;
	}
	return pidfd;
}

int ark_shm_pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0 ? 0 : -errno;
}
