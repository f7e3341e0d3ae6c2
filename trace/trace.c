/* trace/trace.c — one event's trace from the journal, as `ark trace` and
 * the ingest API's GET /v1/traces/{id} show it: which agents it passed, the
 * time in each, the verdict and the execution. */
#include "trace/trace.h"

#include "alpaca/alpaca.h"
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
	/* The record's bytes are the writer's word, CRC or not: its symbol is
	 * made text here (terminated, valid UTF-8, printable) before anyone
	 * prints it. */
	char symbol[ARK_SYMBOL_MAX];
	size_t n = ark_text_copy(symbol, sizeof symbol, event->symbol, sizeof event->symbol);
	ark_utf8_sanitize(symbol, n);
	memset(event->symbol, 0, sizeof event->symbol);
	memcpy(event->symbol, symbol, n);
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
	int open_rc = ark_store_sqlite_open(state_db, SQLITE_OPEN_READONLY, &db, err);
	if (open_rc)
		return open_rc;
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
	struct ark_json j;
	ark_json_init(&j, o);
	ark_json_object_begin(&j, NULL);
	ark_json_string(&j, "trace_id", id);
	ark_json_uint(&j, "seq", e.seq);
	/* A record's symbol field need not hold its NUL: at most its 16 bytes. */
	ark_json_string_n(&j, "symbol", e.symbol, sizeof e.symbol);
	ark_json_string(&j, "source", ark_source_name((enum ark_source_kind)e.source));
	ark_json_bool(&j, "complete", complete);
	ark_json_array_begin(&j, "agents");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (present[a])
			ark_json_string(&j, NULL, ark_agent_name((enum ark_agent)a));
	ark_json_array_end(&j);
	ark_json_array_begin(&j, "missing_agents");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		if (!present[a])
			ark_json_string(&j, NULL, ark_agent_name((enum ark_agent)a));
	ark_json_array_end(&j);
	ark_json_object_begin(&j, "timings");
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		ark_json_object_begin(&j, ark_agent_name((enum ark_agent)a));
		ark_json_uint(&j, "in_ns", e.stamp_in_ns[a]);
		ark_json_uint(&j, "out_ns", e.stamp_out_ns[a]);
		ark_json_fixed(&j, "spent_us", present[a] ? (double)(e.stamp_out_ns[a] - e.stamp_in_ns[a]) / 1e3 : 0.0, 3);
		ark_json_object_end(&j);
	}
	ark_json_object_end(&j);
	ark_json_fixed(&j, "end_to_end_us", ark_trace_end_to_end_us(&e, present), 3);
	/* Prices and quantities as recorded: a NaN or infinity (an injected
	 * violation's price, say) is null, never bare nan. */
	ark_json_object_begin(&j, "market");
	ark_json_number(&j, "price", e.price);
	ark_json_number(&j, "size", e.size);
	ark_json_uint(&j, "exchange_time_ns", e.exchange_time_ns);
	ark_json_object_end(&j);
	ark_json_object_begin(&j, "intent");
	ark_json_string(&j, "side", ark_side_name((enum ark_side)e.side));
	ark_json_number(&j, "quantity", e.quantity);
	ark_json_number(&j, "limit_price", e.limit_price);
	ark_json_uint(&j, "strategy", e.strategy);
	ark_json_number(&j, "strength", (double)e.strength);
	ark_json_object_end(&j);
	ark_json_object_begin(&j, "verdict");
	ark_json_string(&j, "decision", ark_verdict_name((enum ark_verdict)e.verdict));
	ark_json_uint(&j, "rule_id", e.rule_id);
	ark_json_uint(&j, "reason_code", e.reason);
	ark_json_string(&j, "reason", ark_reason_name((enum ark_reason)e.reason));
	ark_json_object_end(&j);
	ark_json_object_begin(&j, "execution");
	ark_json_string(&j, "status", ark_exec_status_name((enum ark_exec_status)e.exec_status));
	ark_json_uint(&j, "client_order_id", e.client_order_id);
	ark_json_number(&j, "filled_quantity", e.filled_quantity);
	ark_json_number(&j, "fill_price", e.fill_price);
	if (order && order->found && e.exec_status == ARK_EXEC_SUBMITTED) {
		ark_json_object_begin(&j, "broker");
		ark_json_string_n(&j, "status", order->status, sizeof order->status);
		ark_json_number(&j, "filled_quantity", order->filled_quantity);
		ark_json_number(&j, "fill_price", order->fill_price);
		ark_json_object_end(&j);
	}
	ark_json_object_end(&j);
	if (e.flags & ARK_EVENT_EXEC_REPORT) {
		/* A broker's execution report: the order it is about, the fill it
		 * adds (its price and size), and whether its checks failed. */
		char order_id[24];
		ark_trace_id_format(e.client_order_id, order_id);
		ark_json_object_begin(&j, "report");
		ark_json_string(&j, "order_trace_id", order_id);
		ark_json_number(&j, "fill_quantity", e.size);
		ark_json_number(&j, "fill_price", e.price);
		ark_json_bool(&j, "final", (e.flags & ARK_EVENT_ORDER_FINAL) != 0);
		ark_json_string(&j, "anomaly", (e.flags & ARK_EVENT_BROKER_ANOMALY)
							? ark_alpaca_anomaly_name((enum ark_alpaca_anomaly)e.anomaly)
							: "none");
		ark_json_uint(&j, "http_status", e.broker_http_status);
		ark_json_object_end(&j);
	}
	ark_json_string(&j, "hrm_book", e.hrm_book == ARK_HRM_BOOK_REPORTS ? "confirmed_plus_in_flight" : "projected");
	ark_json_string(&j, "lane", (e.flags & ARK_EVENT_CANARY) ? "canary" : "stable");
	ark_json_bool(&j, "injected", (e.flags & ARK_EVENT_INJECTED) != 0);
	ark_json_string(&j, "injected_kind", (e.flags & ARK_EVENT_INJECTED) ? ark_reason_name((enum ark_reason)e.injected_kind)
									   : "none");
	ark_json_object_end(&j);
	ark_json_finish(&j);
}
