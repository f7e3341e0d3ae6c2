/* watchdog/summary.c — the end-of-run summary of `ark run`: counts,
 * latencies and verdict from the segment, as text or one JSON object. */
#include "watchdog/watchdog.h"

#include "hist/hist.h"

#include <stdio.h>
#include <string.h>

void ark_supervisor_summary(struct ark_supervisor *sup, double elapsed_s, struct ark_run_summary *s)
{
	memset(s, 0, sizeof *s);
	struct ark_pipeline *p = sup->map.pipeline;
	s->elapsed_s = elapsed_s;
	snprintf(s->journal_dir, sizeof s->journal_dir, "%s", sup->journal_dir);
	snprintf(s->failure, sizeof s->failure, "%s", sup->failure);
	for (int i = 0; i < p->source_count; i++)
		s->ticks += atomic_load(&p->counters.source_published[i]);
	s->events = atomic_load(&p->counters.journaled);
	uint64_t first_in, last_out;
	ark_pipeline_span(&sup->map, &first_in, &last_out);
	s->sustained_eps = last_out > first_in && s->events > 1 ? (double)(s->events - 1) * 1e9 / (double)(last_out - first_in) : 0;
	s->intents = atomic_load(&p->counters.intents);
	s->denials = atomic_load(&p->counters.denials);
	s->fills = atomic_load(&p->counters.fills);
	for (int r = 0; r < ARK_REASON_COUNT; r++)
		s->denials_by_reason[r] = atomic_load(&p->counters.denials_by_reason[r]);
	s->injected_denied = atomic_load(&p->counters.injected_denied);
	s->injected_allowed = atomic_load(&p->counters.injected_allowed);
	s->injected_wrong_reason = atomic_load(&p->counters.injected_wrong_reason);
	s->clean_denied = atomic_load(&p->counters.clean_denied);
	s->trace_breaks = atomic_load(&p->counters.trace_breaks);
	s->restarts = sup->total_restarts;
	s->hangs = sup->total_hangs;
	s->quarantines = sup->total_quarantines;
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		s->errors += atomic_load(&p->agents[a].errors);
		s->duplicates_dropped += atomic_load(&p->agents[a].duplicates);
		s->rollbacks += atomic_load(&p->agents[a].rollbacks);
	}
	for (int i = 0; i < p->source_count; i++)
		s->errors += atomic_load(&p->sources[i].errors);
	if (sup->failed)
		s->errors++;
	struct ark_latency_record *lat = ark_pipeline_latency(&sup->map);
	s->e2e_p50_us = (double)ark_hist_quantile(&lat->end_to_end, 0.50) / 1e3;
	s->e2e_p99_us = (double)ark_hist_quantile(&lat->end_to_end, 0.99) / 1e3;
	s->e2e_p999_us = (double)ark_hist_quantile(&lat->end_to_end, 0.999) / 1e3;
	s->e2e_max_us = (double)lat->end_to_end.max / 1e3;
	const struct ark_hist *eval = ark_pipeline_hrm_eval(&sup->map);
	s->hrm_eval_p50_ns = (double)ark_hist_quantile(eval, 0.50);
	s->hrm_eval_p99_ns = (double)ark_hist_quantile(eval, 0.99);
	for (int a = 0; a < ARK_AGENT_COUNT; a++) {
		s->agent_p50_us[a] = (double)ark_hist_quantile(&lat->agent[a], 0.50) / 1e3;
		s->agent_p99_us[a] = (double)ark_hist_quantile(&lat->agent[a], 0.99) / 1e3;
	}
	for (int f = 0; f < ARK_TICK_FAULT_COUNT; f++)
		s->ticks_refused += atomic_load(&p->counters.ticks_refused[f]);
	s->state_corrupt = atomic_load(&p->hrm_halt_cause) == ARK_HALT_STATE_CORRUPT ||
			   s->denials_by_reason[ARK_REASON_STATE_CORRUPT] > 0;
	/* A gate that denied a clean intent, for whatever reason, or let an
	 * injected violation through, failed: the run says so. */
	s->ok = s->errors == 0 && s->trace_breaks == 0 && !sup->failed && s->events + s->ticks_refused == s->ticks &&
		s->denials_by_reason[ARK_REASON_ETHICS_DRIFT] == 0 && s->clean_denied == 0 && s->injected_allowed == 0 &&
		s->ticks_refused == 0 && !s->state_corrupt;
	if (s->failure[0]) {
		/* the supervisor's own word comes first */
	} else if (s->denials_by_reason[ARK_REASON_ETHICS_DRIFT]) {
		snprintf(s->failure, sizeof s->failure,
			 "ethics drift: the Graveyard rules changed under the running pipeline; every event after it was denied");
	} else if (s->state_corrupt) {
		snprintf(s->failure, sizeof s->failure,
			 "HRM's state held a non-finite value: trading halted (state_corrupt), every intent after it denied");
	} else if (s->injected_allowed) {
		snprintf(s->failure, sizeof s->failure, "%llu injected violations were ALLOWED by HRM",
			 (unsigned long long)s->injected_allowed);
	} else if (s->clean_denied) {
		snprintf(s->failure, sizeof s->failure, "%llu clean intents were denied (see hrm.log for each)",
			 (unsigned long long)s->clean_denied);
	} else if (s->ticks_refused) {
		snprintf(s->failure, sizeof s->failure,
			 "%llu ticks beyond the bounds reached Kyle: an edge did not check them (see kyle.log)",
			 (unsigned long long)s->ticks_refused);
	} else if (s->events + s->ticks_refused != s->ticks) {
		snprintf(s->failure, sizeof s->failure, "%llu ticks were published but %llu events journaled",
			 (unsigned long long)s->ticks, (unsigned long long)s->events);
	}
}

void ark_run_summary_print(const struct ark_run_summary *s, FILE *out)
{
	fprintf(out, "summary: %llu ticks in, %llu events journaled in %.1f s (%.0f events/s sustained end to end)\n",
		(unsigned long long)s->ticks, (unsigned long long)s->events, s->elapsed_s, s->sustained_eps);
	fprintf(out, "  end to end: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", s->e2e_p50_us, s->e2e_p99_us,
		s->e2e_p999_us, s->e2e_max_us);
	fprintf(out, "  per agent p50/p99 us:");
	for (int a = 0; a < ARK_AGENT_COUNT; a++)
		fprintf(out, " %s %.1f/%.1f", ark_agent_name((enum ark_agent)a), s->agent_p50_us[a], s->agent_p99_us[a]);
	fprintf(out, "\n  HRM evaluation: p50 %.0f ns, p99 %.0f ns per event\n", s->hrm_eval_p50_ns, s->hrm_eval_p99_ns);
	fprintf(out, "  intents %llu, fills %llu, denials %llu", (unsigned long long)s->intents,
		(unsigned long long)s->fills, (unsigned long long)s->denials);
	bool first = true;
	for (int r = 1; r < ARK_REASON_COUNT; r++) {
		if (!s->denials_by_reason[r])
			continue;
		fprintf(out, "%s%s %llu", first ? " (" : ", ", ark_reason_name((enum ark_reason)r),
			(unsigned long long)s->denials_by_reason[r]);
		first = false;
	}
	fprintf(out, "%s\n", first ? "" : ")");
	fprintf(out, "  injected violations: %llu denied with their reason, %llu denied for another, %llu allowed; clean intents denied: %llu\n",
		(unsigned long long)s->injected_denied, (unsigned long long)s->injected_wrong_reason,
		(unsigned long long)s->injected_allowed, (unsigned long long)s->clean_denied);
	if (s->ticks_refused)
		fprintf(out, "  ticks refused at Kyle (beyond the bounds): %llu\n", (unsigned long long)s->ticks_refused);
	fprintf(out, "  errors %llu, trace breaks %llu, restarts %llu (hung %llu), quarantines %llu, re-deliveries dropped %llu, batches rolled back %llu\n",
		(unsigned long long)s->errors, (unsigned long long)s->trace_breaks, (unsigned long long)s->restarts,
		(unsigned long long)s->hangs, (unsigned long long)s->quarantines, (unsigned long long)s->duplicates_dropped,
		(unsigned long long)s->rollbacks);
	fprintf(out, "  journal: %s (ark trace ID, ark journal verify)\n", s->journal_dir);
	if (s->failure[0])
		fprintf(out, "  failure: %s\n", s->failure);
	fprintf(out, "result: %s\n", s->ok ? "OK" : "FAILED");
}

void ark_run_summary_print_json(const struct ark_run_summary *s, FILE *out)
{
	fprintf(out, "{\"ok\":%s,\"elapsed_s\":%.3f,\"sustained_eps\":%.0f,\"ticks\":%llu,\"events\":%llu,\"intents\":%llu,\"fills\":%llu,"
		     "\"denials\":%llu,\"injected_denied\":%llu,\"injected_wrong_reason\":%llu,\"injected_allowed\":%llu,"
		     "\"clean_denied\":%llu,\"ticks_refused\":%llu,\"state_corrupt\":%s,\"errors\":%llu,\"trace_breaks\":%llu,\"restarts\":%llu,\"hangs\":%llu,\"quarantines\":%llu,"
		     "\"duplicates_dropped\":%llu,\"rollbacks\":%llu,\"e2e_p50_us\":%.3f,\"e2e_p99_us\":%.3f,"
		     "\"e2e_p999_us\":%.3f,\"e2e_max_us\":%.3f,\"hrm_eval_p50_ns\":%.0f,\"hrm_eval_p99_ns\":%.0f,"
		     "\"denials_by_reason\":{",
		s->ok ? "true" : "false", s->elapsed_s, s->sustained_eps, (unsigned long long)s->ticks, (unsigned long long)s->events,
		(unsigned long long)s->intents, (unsigned long long)s->fills, (unsigned long long)s->denials,
		(unsigned long long)s->injected_denied, (unsigned long long)s->injected_wrong_reason,
		(unsigned long long)s->injected_allowed, (unsigned long long)s->clean_denied,
		(unsigned long long)s->ticks_refused, s->state_corrupt ? "true" : "false", (unsigned long long)s->errors, (unsigned long long)s->trace_breaks, (unsigned long long)s->restarts,
		(unsigned long long)s->hangs, (unsigned long long)s->quarantines,
		(unsigned long long)s->duplicates_dropped, (unsigned long long)s->rollbacks, s->e2e_p50_us, s->e2e_p99_us,
		s->e2e_p999_us, s->e2e_max_us, s->hrm_eval_p50_ns, s->hrm_eval_p99_ns);
	bool first = true;
	for (int r = 1; r < ARK_REASON_COUNT; r++) {
		fprintf(out, "%s\"%s\":%llu", first ? "" : ",", ark_reason_name((enum ark_reason)r),
			(unsigned long long)s->denials_by_reason[r]);
		first = false;
	}
	fprintf(out, "},\"journal_dir\":\"%s\"}\n", s->journal_dir);
}
