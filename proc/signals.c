/* proc/signals.c — how an ARK process is asked to stop, and a warm
 * standby's wait to take over.
 *
 * Invariant: SIGINT never stops a process by itself (Ctrl-C reaches the
 * whole process group; the watchdog decides how the pipeline drains), and
 * SIGPIPE is never fatal (a closed socket is an error return). */
#include "proc/proc.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void ark_process_signals(void (*on_term)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

void ark_process_stop_signals(void)
{
	ark_process_signals(on_stop_signal);
}

bool ark_process_stop_signalled(void)
{
	return stop_signal != 0;
}

/* One byte from the watchdog and the standby becomes the process; end of
 * file (the watchdog closed the pipe or died) and it leaves. */
bool ark_process_standby_wait(struct ark_log *log, int fd)
{
	ark_log(log, "info", "standby pid=%d: ready to take over", (int)getpid());
	ark_log_flush(log);
	/* The watchdog may already have sent its byte and closed its end (it
	 * needed this standby before it was ready): the write then fails, the
	 * byte is still there to read. */
	if (write(fd, "r", 1) != 1 && errno != EPIPE)
		ark_log(log, "warn", "standby: cannot tell the watchdog it is ready: %s", strerror(errno));
	char go;
	ssize_t n;
	do
		n = read(fd, &go, 1);
	while (n < 0 && errno == EINTR && !stop_signal);
	close(fd);
	return n == 1;
}
