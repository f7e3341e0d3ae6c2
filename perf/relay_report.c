/* perf/relay_report.c — a relay result as the JSON of `ark perf relay
 * --json` (a "headline" of the figures the issue asks for, then the details)
 * and as the table an operator reads. A case not measured reads as null in
 * the JSON (the one writer's non-finite rule) and as skipped in the table. */
#include "perf/relay.h"
#include "perf/relay_internal.h"

#include "common/common.h"
#include "event/event.h"
#include "hist/hist.h"
#include "perf/perf.h"
#include "ring/ring.h"
#include "shm/shm.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>

static double case_value(const struct ark_perf_relay_result *r, int t, size_t offset)
{
	const struct ark_perf_relay_case *c = &r->cases[t];
	return c->measured ? *(const double *)((const char *)c + offset) : NAN;
}

#define CASE(r, t, member) case_value(r, t, offsetof(struct ark_perf_relay_case, member))

void ark_perf_relay_json_headline(struct ark_json *j, const struct ark_perf_relay_result *r)
{
	int best = r->best_redis_eps_case, best99 = r->best_redis_p99_case;
	ark_json_number(j, "relay_rings_eps", CASE(r, ARK_PERF_RELAY_RINGS, eps));
	ark_json_number(j, "relay_pipes_eps", CASE(r, ARK_PERF_RELAY_PIPES, eps));
	ark_json_number(j, "relay_unix_eps", CASE(r, ARK_PERF_RELAY_UNIX, eps));
	/* Redis at its best: the case with the highest throughput (pipelined
	 * XADD with XREAD COUNT/BLOCK) and the one with the lowest p99. */
	ark_json_number(j, "relay_redis_eps", best >= 0 ? CASE(r, best, eps) : NAN);
	ark_json_number(j, "relay_rings_p50_us", CASE(r, ARK_PERF_RELAY_RINGS, p50_us));
	ark_json_number(j, "relay_rings_p99_us", CASE(r, ARK_PERF_RELAY_RINGS, p99_us));
	ark_json_number(j, "relay_pipes_p99_us", CASE(r, ARK_PERF_RELAY_PIPES, p99_us));
	ark_json_number(j, "relay_unix_p99_us", CASE(r, ARK_PERF_RELAY_UNIX, p99_us));
	ark_json_number(j, "relay_redis_p50_us", best99 >= 0 ? CASE(r, best99, p50_us) : NAN);
	ark_json_number(j, "relay_redis_p99_us", best99 >= 0 ? CASE(r, best99, p99_us) : NAN);
	ark_json_number(j, "relay_rings_vs_redis_throughput_ratio", best >= 0 ? r->rings_vs_redis_throughput_ratio : NAN);
	ark_json_number(j, "relay_redis_vs_rings_p99_ratio", best99 >= 0 ? r->redis_vs_rings_p99_ratio : NAN);
	/* The rate each paced run actually held: a Redis relay below the asked
	 * rate is building a backlog, and its p99 then grows with the run. */
	ark_json_number(j, "relay_rings_paced_eps", CASE(r, ARK_PERF_RELAY_RINGS, achieved_hz));
	ark_json_number(j, "relay_redis_paced_eps", best99 >= 0 ? CASE(r, best99, achieved_hz) : NAN);
	/* The same pair at the low rate, where Redis keeps up. */
	const struct ark_perf_relay_case *ring = &r->cases[ARK_PERF_RELAY_RINGS];
	const struct ark_perf_relay_case *piped = &r->cases[ARK_PERF_RELAY_REDIS_PIPELINED];
	ark_json_number(j, "relay_rings_low_rate_p99_us", ring->low_rate_measured ? ring->low_rate_p99_us : NAN);
	ark_json_number(j, "relay_redis_low_rate_p99_us", piped->low_rate_measured ? piped->low_rate_p99_us : NAN);
	ark_json_number(j, "relay_redis_vs_rings_low_rate_p99_ratio",
			ring->low_rate_measured && piped->low_rate_measured ? r->redis_vs_rings_low_rate_p99_ratio : NAN);
	/* The original ARK's way, one XADD round trip per event, for reference. */
	ark_json_number(j, "relay_redis_per_event_eps", CASE(r, ARK_PERF_RELAY_REDIS, eps));
	ark_json_number(j, "relay_redis_per_event_p99_us", CASE(r, ARK_PERF_RELAY_REDIS, p99_us));
	ark_json_number(j, "relay_rings_vs_per_event_redis_throughput_ratio",
			r->cases[ARK_PERF_RELAY_REDIS].measured ? r->rings_vs_per_event_redis_throughput_ratio : NAN);
}

void ark_perf_relay_json_details(struct ark_json *j, const char *key, const struct ark_perf_relay_options *o,
				 const struct ark_perf_relay_result *r)
{
	ark_json_object_begin(j, key);
	ark_json_array_begin(j, "stages");
	for (int s = 0; s < STAGES; s++)
		ark_json_string(j, NULL, stage_name(s));
	ark_json_array_end(j);
	ark_json_uint(j, "event_bytes", EVENT_SIZE);
	ark_json_uint(j, "runs", o->runs);
	ark_json_number(j, "throughput_run_ms", (double)o->duration_ns / 1e6);
	ark_json_uint(j, "latency_rate_hz", o->rate_hz);
	ark_json_uint(j, "latency_events", o->latency_events);
	ark_json_uint(j, "low_rate_hz", o->low_rate_hz);
	ark_json_uint(j, "low_rate_events", o->low_rate_events);
	ark_json_uint(j, "ring_capacity", o->ring_capacity);
	ark_json_string(j, "ring_wait", ark_ring_wait_name(o->wait.strategy));
	ark_json_number(j, "ring_wait_spin_us", (double)o->wait.spin_ns / 1e3);
	ark_json_uint(j, "batch", o->batch);
	ark_json_uint(j, "redis_count", o->redis_count);
	ark_json_uint(j, "redis_window", o->redis_window);
	ark_json_string(j, "fd_writes", "one write() per batch of up to `batch` events; pipe and socket buffers "
					"raised to the ring's capacity where the kernel allows");
	ark_json_string(j, "best_redis_eps_case", r->best_redis_eps_case >= 0 ? relay_transport_names[r->best_redis_eps_case] : "none");
	ark_json_string(j, "best_redis_p99_case", r->best_redis_p99_case >= 0 ? relay_transport_names[r->best_redis_p99_case] : "none");
	ark_json_bool(j, "pinned", o->cpu_count > 0);
	if (o->cpu_count > 0) {
		ark_json_array_begin(j, "stage_cpus");
		for (int s = 0; s < STAGES; s++)
			ark_json_number(j, NULL, o->cpus[s % o->cpu_count]);
		ark_json_array_end(j);
	}
	ark_json_object_begin(j, "redis_server");
	ark_json_bool(j, "started", r->redis_started);
	if (r->redis_started) {
		ark_json_string(j, "version", r->redis_version);
		ark_json_number(j, "port", r->redis_port);
		ark_json_number(j, "pid", r->redis_pid);
		ark_json_bool(j, "stopped", r->redis_stopped);
	}
	ark_json_object_end(j);
	ark_json_array_begin(j, "cases");
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (!c->selected)
			continue;
		ark_json_object_begin(j, NULL);
		ark_json_string(j, "transport", relay_transport_names[t]);
		ark_json_bool(j, "measured", c->measured);
		if (c->skipped)
			ark_json_string(j, "skipped", c->skip_reason);
		if (c->measured) {
			ark_json_number(j, "runs", c->runs);
			ark_json_number(j, "eps", c->eps);
			ark_json_number(j, "saturated_p99_us", c->saturated_p99_us);
			ark_json_number(j, "p50_us", c->p50_us);
			ark_json_number(j, "p99_us", c->p99_us);
			ark_json_number(j, "p999_us", c->p999_us);
			ark_json_number(j, "max_us", c->max_us);
			ark_json_number(j, "achieved_hz", c->achieved_hz);
			if (c->low_rate_measured) {
				ark_json_number(j, "low_rate_p50_us", c->low_rate_p50_us);
				ark_json_number(j, "low_rate_p99_us", c->low_rate_p99_us);
				ark_json_number(j, "low_rate_achieved_hz", c->low_rate_achieved_hz);
			}
			ark_json_array_begin(j, "hop_mean_us");
			for (int h = 0; h < HOPS; h++)
				ark_json_number(j, NULL, c->hop_mean_us[h]);
			ark_json_array_end(j);
			ark_json_uint(j, "events", c->events);
			ark_json_uint(j, "trace_breaks", c->trace_breaks);
		}
		ark_json_object_end(j);
	}
	ark_json_array_end(j);
	ark_json_number(j, "elapsed_s", r->elapsed_s);
	ark_json_object_end(j);
}

void ark_perf_relay_print_table(FILE *out, const struct ark_perf_relay_options *o,
				const struct ark_perf_relay_result *r)
{
	fprintf(out, "five-stage relay of the %u-byte event (Kyle -> Joey -> HRM -> Kenny -> Aletheia), medians of %u run(s)\n",
		EVENT_SIZE, o->runs);
	fprintf(out, "latency: end to end at %llu Hz; rings: capacity %u, %s wait; Redis %s on 127.0.0.1:%d\n\n",
		(unsigned long long)o->rate_hz, o->ring_capacity, ark_ring_wait_name(o->wait.strategy),
		r->redis_started ? r->redis_version : "(not started)", r->redis_port);
	fprintf(out, "%-16s %13s %10s %10s %10s %10s %12s\n", "transport", "events/s", "p50 us", "p99 us", "p99.9 us",
		"max us", "paced Hz");
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (!c->selected)
			continue;
		if (!c->measured) {
			fprintf(out, "%-16s skipped: %s\n", relay_transport_names[t], c->skip_reason);
			continue;
		}
		fprintf(out, "%-16s %13.0f %10.1f %10.1f %10.1f %10.1f %12.0f\n", relay_transport_names[t], c->eps, c->p50_us,
			c->p99_us, c->p999_us, c->max_us, c->achieved_hz);
	}
	fprintf(out, "\npaced, mean us per hop: %-13s %10s %10s %10s %10s\n", "", "Kyle>Joey", "Joey>HRM", "HRM>Kenny",
		"Kenny>Ale.");
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (c->measured)
			fprintf(out, "%-37s %10.1f %10.1f %10.1f %10.1f\n", relay_transport_names[t], c->hop_mean_us[0],
				c->hop_mean_us[1], c->hop_mean_us[2], c->hop_mean_us[3]);
	}
	for (int t = 0; t < ARK_PERF_RELAY_TRANSPORTS; t++) {
		const struct ark_perf_relay_case *c = &r->cases[t];
		if (c->low_rate_measured)
			fprintf(out, "%s at %llu Hz: p50 %.1f us, p99 %.1f us, held %.0f Hz\n", relay_transport_names[t],
				(unsigned long long)o->low_rate_hz, c->low_rate_p50_us, c->low_rate_p99_us,
				c->low_rate_achieved_hz);
	}
	int best = r->best_redis_eps_case, best99 = r->best_redis_p99_case;
	if (best >= 0)
		fprintf(out, "\nrings vs Redis at its best: %.1fx the throughput (against %s), p99 %.1fx lower at %llu Hz "
			"(against %s), %.1fx lower at %llu Hz\n"
			"rings vs per-event Redis (one XADD round trip per event): %.1fx the throughput\n",
			r->rings_vs_redis_throughput_ratio, relay_transport_names[best], r->redis_vs_rings_p99_ratio,
			(unsigned long long)o->rate_hz, relay_transport_names[best99], r->redis_vs_rings_low_rate_p99_ratio,
			(unsigned long long)o->low_rate_hz, r->rings_vs_per_event_redis_throughput_ratio);
}
