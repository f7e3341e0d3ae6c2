/* watchdog/watch.c — the watchdog's judgement of each running agent: an
 * agent with input waiting, room downstream and no progress for
 * WATCHDOG_HANG_MS is hung (SIGABRT, SIGKILL after a grace period; the death
 * brings its replacement); one whose time per event passes
 * WATCHDOG_MAX_LATENCY_MS, or whose errors pass WATCHDOG_MAX_FAILURE_RATE of
 * its events within a WATCHDOG_WINDOW_S window, is quarantined: it fails
 * closed until `ark release`. */
#include "watchdog/internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* Events waiting for an agent: its input ring(s). */
static uint64_t input_depth(const struct ark_supervisor *sup, int agent, int lane)
{
	if (lane == ARK_LANE_CANARY)
		return ark_ring_depth(ark_pipeline_lane_ring(&sup->map, ARK_LANE_CANARY, (enum ark_agent)(agent - 1)));
	if (agent == ARK_AGENT_ALETHEIA && ark_pipeline_has_canary(&sup->map)) {
		/* It merges the lanes in seq order: with one of them empty it may
		 * rightly wait for the next seq from there, which is no hang. */
		uint64_t a = ark_ring_depth(ark_pipeline_output_ring(&sup->map, ARK_AGENT_KENNY));
		uint64_t b = ark_ring_depth(ark_pipeline_lane_ring(&sup->map, ARK_LANE_CANARY, ARK_AGENT_KENNY));
		return a && b ? a + b : 0;
	}
	if (agent == ARK_AGENT_KYLE) {
		uint64_t depth = 0;
		for (int s = 0; s < sup->map.pipeline->source_count; s++)
			depth += ark_ring_depth(ark_pipeline_source_ring(&sup->map, s));
		return depth;
	}
	return ark_ring_depth(ark_pipeline_output_ring(&sup->map, (enum ark_agent)(agent - 1)));
}

static void quarantine(struct ark_supervisor *sup, struct ark_child *c, struct ark_agent_control *control,
		       const char *reason)
{
	atomic_store(&control->quarantined, 1);
	c->quarantined = true;
	sup->total_quarantines++;
	ark_control_add(&sup->map.pipeline->counters.quarantines[c->index], 1);
	ark_watchdog_notice(sup, ARK_NOTICE_EVENT, "%s quarantined: %s (it fails closed; `ark release %s` lifts it)",
			    c->name, reason, c->name);
	ark_log(sup->log, "error", "agent quarantined name=%s pid=%d reason=\"%s\"", c->name, (int)c->pid, reason);
	struct ark_err err;
	if (ark_watchdog_record(ark_agent_name((enum ark_agent)c->index), "quarantine", (int)c->pid, reason, &err))
		ark_log(sup->log, "warn", "cannot record the quarantine in the mutable core: %s", err.msg);
}

void ark_watchdog_watch_agents(struct ark_supervisor *sup, uint64_t now)
{
	struct ark_pipeline *p = sup->map.pipeline;
	const struct ark_watchdog_config *w = &sup->watchdog;
	for (int i = 0; i < sup->child_count; i++) {
		struct ark_child *c = &sup->children[i];
		if (c->is_source || c->auxiliary)
			continue;
		int a = c->index;
		struct ark_agent_control *control = ark_pipeline_lane_control(&sup->map, (enum ark_lane)c->lane, (enum ark_agent)a);
		if (!c->pid || atomic_load(&control->state) != ARK_PROC_RUNNING)
			continue;
		uint64_t events = atomic_load(&control->events), errors = atomic_load(&control->errors);
		uint64_t progress = events + atomic_load(&control->duplicates) + atomic_load(&control->rollbacks);
		/* Waiting for a full output ring is backpressure from downstream,
		 * not a hang of this agent. */
		struct ark_ring *out = a < ARK_AGENT_ALETHEIA ? ark_pipeline_lane_ring(&sup->map, (enum ark_lane)c->lane, (enum ark_agent)a) : NULL;
		bool blocked = out && ark_ring_depth(out) >= out->capacity;
		if (progress != c->progress_value || input_depth(sup, a, c->lane) == 0 || blocked || now < c->progress_ns) {
			c->progress_value = progress;
			c->progress_ns = now;
		} else if (!c->abort_sent_ns && now - c->progress_ns > w->hang_ns) {
			char reason[128];
			snprintf(reason, sizeof reason, "no progress for %.1f s with %llu events waiting",
				 (double)(now - c->progress_ns) / 1e9, (unsigned long long)input_depth(sup, a, c->lane));
			ark_watchdog_notice(sup, ARK_NOTICE_EVENT, "%s (pid %d) is hung: %s; SIGABRT", c->name, (int)c->pid,
					    reason);
			ark_log(sup->log, "error", "agent hung name=%s pid=%d reason=\"%s\"", c->name, (int)c->pid, reason);
			ark_watchdog_signal(c, SIGABRT);
			c->abort_sent_ns = now;
			sup->total_hangs++;
			ark_control_add(&p->counters.hangs[a], 1);
		} else if (c->abort_sent_ns && now > c->abort_sent_ns && now - c->abort_sent_ns > w->kill_grace_ns) {
			ark_log(sup->log, "error", "agent still there after SIGABRT name=%s pid=%d: SIGKILL", c->name, (int)c->pid);
			ark_watchdog_signal(c, SIGKILL);
			c->abort_sent_ns = now + 3600ull * 1000000000ull;   /* once */
		}
		/* Quarantine window. A release by `ark release` starts a new one. */
		bool flagged = atomic_load(&control->quarantined) != 0;
		if (c->quarantined && !flagged) {
			c->quarantined = false;
			c->window_start_ns = 0;
			c->latency_sampled_events = events;
			ark_log(sup->log, "info", "agent released name=%s", c->name);
			ark_watchdog_notice(sup, ARK_NOTICE_EVENT, "%s released", c->name);
		}
		if (!w->quarantine_enabled || c->quarantined)
			continue;
		if (!c->window_start_ns || now - c->window_start_ns > w->window_ns) {
			c->window_start_ns = now;
			c->window_events = events;
			c->window_errors = errors;
			c->window_max_latency_ns = 0;
		}
		/* A latency sample counts once the agent has handled new events
		 * (not a stale one from before a release). */
		if (events != c->latency_sampled_events) {
			uint64_t latency = atomic_load(&control->last_latency_ns);
			if (latency > c->window_max_latency_ns)
				c->window_max_latency_ns = latency;
			c->latency_sampled_events = events;
		}
		uint64_t d_events = events - c->window_events, d_errors = errors - c->window_errors;
		char reason[160];
		if (c->window_max_latency_ns > w->max_latency_ns) {
			snprintf(reason, sizeof reason, "time per event %.3f ms over WATCHDOG_MAX_LATENCY_MS %.3f",
				 (double)c->window_max_latency_ns / 1e6, (double)w->max_latency_ns / 1e6);
			quarantine(sup, c, control, reason);
		} else if (d_events >= 20 && (double)d_errors / (double)d_events > w->max_failure_rate) {
			snprintf(reason, sizeof reason, "failure rate %.3f (%llu errors in %llu events) over WATCHDOG_MAX_FAILURE_RATE %.3f",
				 (double)d_errors / (double)d_events, (unsigned long long)d_errors,
				 (unsigned long long)d_events, w->max_failure_rate);
			quarantine(sup, c, control, reason);
		}
	}
}

