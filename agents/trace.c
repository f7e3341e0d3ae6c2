/* agents/trace.c — one event's trace from the journal, as `ark trace` and
 * the ingest API's GET /v1/traces/{id} show it: which agents it passed, the
 * time in each, the verdict and the execution. */
#include "agents/agents.h"

#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int ark_trace_lookup(const char *journal_dir, uint64_t trace_id, struct ark_event *event, struct ark_err *err)
{
	struct ark_journal_record rec;
	int rc = ark_journal_find_trace(journal_dir, trace_id, &rec, event, sizeof *event, err);
	if (rc)
		return rc;
	if (rec.len != sizeof *event) {
		char id[24];
		ark_trace_id_format(trace_id, id);
		return ark_err_set(err, -EBADMSG, "the record of %s holds %u bytes, not an event (%zu)", id, rec.len,
				   sizeof *event);
	}
	return 0;
}

bool ark_trace_agents(const struct ark_event *e, bool present[ARK_AGENT_COUNT])
{
	bool complete = true;
	uint64_t previous = 0;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		present[a] = e->stamp_in_ns[a] != 0 && e->stamp_out_ns[a] != 0;
		bool ordered = e->stamp_in_ns[a] >= previous && e->stamp_out_ns[a] >= e->stamp_in_ns[a];
		complete &= present[a] && ordered;
		if (present[a])
			previous = e->stamp_out_ns[a];
	}
	return complete;
}

double ark_trace_end_to_end_us(const struct ark_event *e, const bool present[ARK_AGENT_COUNT])
{
	return present[ARK_AGENT_KYLE] && present[ARK_AGENT_ALETHEIA]
		       ? (double)(e->stamp_out_ns[ARK_AGENT_ALETHEIA] - e->stamp_in_ns[ARK_AGENT_KYLE]) / 1e3
		       : 0;
}

int ark_trace_order_outcome(const char *state_db, uint64_t trace_id, struct ark_trace_order *order, struct ark_err *err)
{
	memset(order, 0, sizeof *order);
	if (strcmp(state_db, ":memory:") == 0)
		return 0;
	sqlite3 *db;
	if (sqlite3_open_v2(state_db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		int rc = ark_err_set(err, -EIO, "cannot open %s: %s", state_db, sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 1000);
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT o.status, coalesce(f.qty, 0), coalesce(f.price, 0) FROM orders o"
			       " LEFT JOIN fills f ON f.trace_id = o.trace_id WHERE o.trace_id = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = ark_err_set(err, -EIO, "%s: %s", state_db, sqlite3_errmsg(db));
	} else {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)trace_id);
		int step = sqlite3_step(st);
		if (step == SQLITE_ROW) {
			order->found = true;
			snprintf(order->status, sizeof order->status, "%s", (const char *)sqlite3_column_text(st, 0));
			order->filled_quantity = sqlite3_column_double(st, 1);
			order->fill_price = sqlite3_column_double(st, 2);
		} else if (step != SQLITE_DONE) {
			rc = ark_err_set(err, -EIO, "%s: %s", state_db, sqlite3_errmsg(db));
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

void ark_trace_write_json(FILE *o, uint64_t trace_id, const struct ark_event *event, const struct ark_trace_order *order)
{
	const struct ark_event e = *event;
	char id[24];
	ark_trace_id_format(trace_id, id);
	bool present[ARK_AGENT_COUNT];
	bool complete = ark_trace_agents(&e, present);
	double e2e_us = ark_trace_end_to_end_us(&e, present);
	fprintf(o, "{\"trace_id\":\"%s\",\"seq\":%llu,\"symbol\":", id, (unsigned long long)e.seq);
	ark_json_write_string(o, e.symbol);
	fprintf(o, ",\"source\":\"%s\",\"complete\":%s,\"agents\":[", ark_source_name((enum ark_source_kind)e.source),
		complete ? "true" : "false");
	bool first = true;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (present[a]) {
			fprintf(o, "%s\"%s\"", first ? "" : ",", ark_agent_name((enum ark_agent)a));
			first = false;
		}
	fprintf(o, "],\"missing_agents\":[");
	first = true;
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (!present[a]) {
			fprintf(o, "%s\"%s\"", first ? "" : ",", ark_agent_name((enum ark_agent)a));
			first = false;
		}
	fprintf(o, "],\"timings\":{");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		fprintf(o, "%s\"%s\":{\"in_ns\":%llu,\"out_ns\":%llu,\"spent_us\":%.3f}", a ? "," : "",
			ark_agent_name((enum ark_agent)a), (unsigned long long)e.stamp_in_ns[a],
			(unsigned long long)e.stamp_out_ns[a],
			present[a] ? (double)(e.stamp_out_ns[a] - e.stamp_in_ns[a]) / 1e3 : 0.0);
	fprintf(o, "},\"end_to_end_us\":%.3f,\"market\":{\"price\":%.17g,\"size\":%.17g,\"exchange_time_ns\":%llu},",
		e2e_us, e.price, e.size, (unsigned long long)e.exchange_time_ns);
	fprintf(o, "\"intent\":{\"side\":\"%s\",\"quantity\":%.17g,\"limit_price\":%.17g,\"strategy\":%u,\"strength\":%.6g},",
		ark_side_name((enum ark_side)e.side), e.quantity, e.limit_price, e.strategy, (double)e.strength);
	fprintf(o, "\"verdict\":{\"decision\":\"%s\",\"rule_id\":%u,\"reason_code\":%u,\"reason\":\"%s\"},",
		ark_verdict_name((enum ark_verdict)e.verdict), e.rule_id, e.reason,
		ark_reason_name((enum ark_reason)e.reason));
	fprintf(o, "\"execution\":{\"status\":\"%s\",\"client_order_id\":%llu,\"filled_quantity\":%.17g,\"fill_price\":%.17g",
		ark_exec_status_name((enum ark_exec_status)e.exec_status), (unsigned long long)e.client_order_id,
		e.filled_quantity, e.fill_price);
	if (order && order->found && e.exec_status == ARK_EXEC_SUBMITTED) {
		fprintf(o, ",\"broker\":{\"status\":");
		ark_json_write_string(o, order->status);
		fprintf(o, ",\"filled_quantity\":%.17g,\"fill_price\":%.17g}", order->filled_quantity, order->fill_price);
	}
	fprintf(o, "},");
	fprintf(o, "\"lane\":\"%s\",", (e.flags & ARK_EVENT_CANARY) ? "canary" : "stable");
	fprintf(o, "\"injected\":%s,\"injected_kind\":\"%s\"}\n", (e.flags & ARK_EVENT_INJECTED) ? "true" : "false",
		(e.flags & ARK_EVENT_INJECTED) ? ark_reason_name((enum ark_reason)e.injected_kind) : "none");
}
