/* cli/cmd_status.c — `ark status [--watch] [--json]`: the operator's
 * dashboard of a running instance (ops/status.c reads it). On a terminal,
 * --watch redraws in place on the alternate screen every interval and puts
 * the terminal back on Ctrl-C; piped, it prints plain snapshots. */
#include "cli/command.h"
#include "ops/ops.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static volatile sig_atomic_t stop_watch;

static void on_stop(int sig)
{
	(void)sig;
	stop_watch = 1;
}

static int usage(FILE *out, int code)
{
	fprintf(out, "usage: ark status [--instance NAME] [--watch] [--interval SECONDS] [--json]\n\n"
		     "The dashboard of a running instance: each agent's state, pid, CPU, events/s, p95 and\n"
		     "p99 time, errors, restarts and quarantine; sources; ring depths; end-to-end latency;\n"
		     "denials by rule; the SLOs and their error budgets; the mirror's lag; the broker; the\n"
		     "last backup. --watch refreshes every --interval (1 s) full-screen on a terminal, as\n"
		     "plain snapshots when piped. --json prints one JSON object (one per refresh with --watch).\n"
		     "Exit 0 when the instance runs, 1 when it does not (or is gone), 2 on a usage error.\n");
	return code;
}

static int terminal_width(void)
{
	struct winsize ws;
	return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 100;
}

/* One frame: each line cleared to its end, then everything below cleared,
 * so a shorter frame leaves nothing of the last one. */
static void draw(const struct ark_status *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		return;
	ark_status_render_text(s, m, terminal_width());
	fclose(m);
	fputs("\033[H", stdout);
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		printf("%s\033[K\n", line);
	}
	printf("\n(refreshing; Ctrl-C to leave)\033[K\n\033[J");
	fflush(stdout);
	free(text);
}

static int status_main(int argc, char **argv)
{
	const char *instance = ark_pipeline_default_instance();
	bool watch = false, json = false;
	double interval = 1;
	static const struct option options[] = {
		{"watch", no_argument, NULL, 'w'},          {"json", no_argument, NULL, 'j'},
		{"instance", required_argument, NULL, 'i'}, {"interval", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
	struct ark_err err = {0};
	int opt;
	optind = 1;
	while ((opt = ark_cli_getopt(argc, argv, ":h", options)) != -1) {
		switch (opt) {
		case 'w': watch = true; break;
		case 'j': json = true; break;
		case 'i': instance = optarg; break;
		case 'n':
			if (ark_parse_double(optarg, 0.1, 3600, "--interval", &interval, &err))
				return ark_cli_fail("status", &err, 2);
			break;
		case 'h': return usage(stdout, 0);
		default:
			ark_cli_option_error("status", opt, argv);
			return usage(stderr, 2);
		}
	}
	if (ark_cli_no_operands("status", argc, argv))
		return usage(stderr, 2);
	struct ark_pipeline_map map;
	if (ark_pipeline_attach(&map, instance, &err)) {
		fprintf(stderr, "ark status: no running ARK instance '%s' (%s); start one with ark run, ark watchdog or ark start\n",
			instance, err.msg);
		return 1;
	}
	static struct ark_status now, before;
	uint64_t interval_ns = (uint64_t)(interval * 1e9);
	if (ark_status_read(&map, NULL, watch ? interval_ns : 500000000ull, &now, &err)) {
		fprintf(stderr, "ark status: %s\n", err.msg);
		ark_pipeline_detach(&map);
		return 1;
	}
	bool tty = isatty(STDOUT_FILENO) && !json;
	if (!watch) {
		if (json)
			ark_status_render_json(&now, stdout);
		else
			ark_status_render_text(&now, stdout, tty ? terminal_width() : 0);
		ark_pipeline_detach(&map);
		return now.running ? 0 : 1;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	if (tty)
		fputs("\033[?1049h\033[?25l", stdout);   /* alternate screen, no cursor */
	for (bool first = true; !stop_watch; first = false) {
		if (!first) {
			before = now;
			struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
			nanosleep(&ts, NULL);
			if (stop_watch)
				break;
			ark_status_read(&map, &before, 0, &now, &err);
		}
		if (json)
			ark_status_render_json(&now, stdout);
		else if (tty)
			draw(&now);
		else {
			ark_status_render_text(&now, stdout, 0);
			fputs("\n", stdout);
		}
		fflush(stdout);
	}
	if (tty)
		fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	ark_pipeline_detach(&map);
	return now.running ? 0 : 1;
}

ARK_COMMAND(status_command, "status", "the dashboard of a running instance (--watch, --json)", status_main)
