/* cli/cmd_trace.c — `ark trace ID`: the seed's validate_trace(trace_id,
 * ["Kyle","Joey","HRM","Kenny","Aletheia"]) from the journal: which agents
 * the event passed, which are missing, the time spent in each, the verdict
 * and the execution. Exit 0 when the trace is complete, 1 when it is broken
 * or not in the journal, 2 on bad input. */
#include "cli/command.h"
#include "event/event.h"
#include "sources/sources.h"
#include "trace/trace.h"
#include "alpaca/alpaca.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: ark trace ID [--json]\n\n"
		     "Looks up one event in the journal ($ARK_DATA_DIR/journal) by trace id and shows\n"
		     "which agents it passed (Kyle, Joey, HRM, Kenny, Aletheia), which are missing,\n"
		     "the time spent in each, HRM's verdict and Kenny's execution.\n\n"
		     "ID is a trace id as ark prints it (0000-00000000002a), 16 hex digits, or a\n"
		     "sequence number in decimal (node 0).\n");
}

/* One event's trace as text: the agents it went through and when, what it
 * was, the verdict and the execution. */
static void print_trace(const char *id, const struct ark_event *event, const bool present[ARK_AGENT_COUNT],
			bool complete, double e2e_us, const struct ark_trace_order *order_known)
{
	const struct ark_event e = *event;
	const struct ark_trace_order order = *order_known;
	uint64_t t0 = e.stamp_in_ns[ARK_AGENT_KYLE];
	printf("trace %s  seq %llu  symbol %s  source %s%s\n", id, (unsigned long long)e.seq, e.symbol,
	       ark_source_name((enum ark_source_kind)e.source), (e.flags & ARK_EVENT_INJECTED) ? "  (injected violation)" : "");
	printf("  agents:");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		printf(" %s %s", ark_agent_name((enum ark_agent)a), present[a] ? "✓" : "✗");
	printf("\n  missing:");
	int missing = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (!present[a]) {
			printf(" %s", ark_agent_name((enum ark_agent)a));
			missing++;
		}
	printf("%s\n", missing ? "" : " none");
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		if (!present[a])
			continue;
		printf("  %-9s took it at +%9.3f us, spent %8.3f us\n", ark_agent_name((enum ark_agent)a),
		       (double)(e.stamp_in_ns[a] - t0) / 1e3, (double)(e.stamp_out_ns[a] - e.stamp_in_ns[a]) / 1e3);
	}
	printf("  end to end: %.3f us\n", e2e_us);
	printf("  market: price %.6g, size %.6g\n", e.price, e.size);
	if (e.side == ARK_SIDE_NONE)
		printf("  intent: none\n");
	else
		printf("  intent: %s %.6g @ %.6g (strategy %u, strength %.3g)\n", ark_side_name((enum ark_side)e.side),
		       e.quantity, e.limit_price, e.strategy, (double)e.strength);
	printf("  verdict: %s", ark_verdict_name((enum ark_verdict)e.verdict));
	if (e.verdict == ARK_VERDICT_DENY)
		printf(" (rule %u, %s)", e.rule_id, ark_reason_name((enum ark_reason)e.reason));
	printf("\n  execution: %s", ark_exec_status_name((enum ark_exec_status)e.exec_status));
	if (e.exec_status == ARK_EXEC_FILLED)
		printf(" %.6g @ %.6g, client order id %llu", e.filled_quantity, e.fill_price,
		       (unsigned long long)e.client_order_id);
	if (e.exec_status == ARK_EXEC_SUBMITTED && order.found)
		printf(" to the broker; the broker since: %s%s", order.status, order.filled_quantity > 0 ? "," : "");
	if (e.exec_status == ARK_EXEC_SUBMITTED && order.found && order.filled_quantity > 0)
		printf(" %.6g @ %.6g", order.filled_quantity, order.fill_price);
	if (e.flags & ARK_EVENT_EXEC_REPORT) {
		char order_id[24];
		ark_trace_id_format(e.client_order_id, order_id);
		if (e.flags & ARK_EVENT_BROKER_ANOMALY)
			printf("\n  report on order %s: BROKER ANOMALY (%s): the broker claimed %.6g filled @ %.6g; nothing applied",
			       order_id, ark_alpaca_anomaly_name((enum ark_alpaca_anomaly)e.anomaly), e.filled_quantity,
			       e.fill_price);
		else
			printf("\n  report on order %s: adds %.6g @ %.6g%s", order_id, e.size, e.price,
			       (e.flags & ARK_EVENT_ORDER_FINAL) ? " (final)" : "");
	}
	printf("\n  trace: %s\n", complete ? "complete" : "BROKEN");
}

static int trace_main(int argc, char **argv)
{
	static const struct option options[] = {{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
						{NULL, 0, NULL, 0}};
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *text = argv[optind];
	uint64_t trace_id;
	if (ark_trace_id_parse(text, &trace_id) != 0) {
		fprintf(stderr, "ark trace: '%s' is not a trace id: expected NNNN-NNNNNNNNNNNN (hex), 16 hex digits or a decimal sequence number\n",
			text);
		return 2;
	}
	struct ark_err err = {0};
	struct ark_store_config cfg;
	if (ark_store_config_from_env(&cfg, &err))
		return ark_cli_fail("trace", &err, 2);
	struct ark_event e;
	int rc = ark_trace_lookup(cfg.journal_dir, trace_id, &e, &err);
	char id[24];
	ark_trace_id_format(trace_id, id);
	if (rc == -ENOENT) {
		fprintf(stderr, "ark trace: no record of trace %s in %s\n", id, cfg.journal_dir);
		return 1;
	}
	if (rc)
		return ark_cli_fail("trace", &err, 1);
	bool present[ARK_AGENT_COUNT];
	bool complete = ark_trace_agents(&e, present);
	double e2e_us = ark_trace_end_to_end_us(&e, present);
	struct ark_trace_order order = {0};
	if (e.exec_status == ARK_EXEC_SUBMITTED && ark_trace_order_outcome(cfg.state_db, trace_id, &order, &err))
		fprintf(stderr, "ark trace: the broker's answer is not readable: %s\n", err.msg);
	if (json) {
		ark_trace_write_json(stdout, trace_id, &e, &order);
		return complete ? 0 : 1;
	}
	print_trace(id, &e, present, complete, e2e_us, &order);
	return complete ? 0 : 1;
}

ARK_COMMAND(trace_command, "trace", "show one event's trace through the five agents (from the journal)", trace_main)
