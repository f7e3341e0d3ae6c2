/* watchdog/notify.c — systemd's service notification protocol, spoken
 * without libsystemd: each state change is one datagram on an AF_UNIX
 * socket named by $NOTIFY_SOCKET (a filesystem path, or an abstract name
 * when it starts with '@'). Nothing is sent when the variable is unset, so
 * the same binary runs under systemd and by hand. */
#include "watchdog/watchdog.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int ark_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	size_t len = strlen(path);
	struct sockaddr_un addr;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path)
		return -EINVAL;
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';   /* abstract namespace: the length, not a NUL, ends the name */
	socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
	int rc = n == (ssize_t)strlen(state) ? 0 : -errno;
	close(fd);
	return rc;
}

uint64_t ark_notify_watchdog_interval_ns(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	if (!usec || !*usec)
		return 0;
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	char *end;
	unsigned long long v = strtoull(usec, &end, 10);
	if (*end || v == 0)
		return 0;
	return (uint64_t)v * 1000ull;
}
