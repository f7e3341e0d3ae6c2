/* mirror/entry.c — the mirror's settings, and one event as one XADD: the
 * entry ID `<seq>-<node>` (Redis refuses an ID at or below the stream's last,
 * so a resend is refused, never doubled), approximate MAXLEN trimming, and
 * flat fields a consumer can filter on without parsing. */
#include "mirror/mirror.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ark_mirror_config_from_env(struct ark_mirror_config *c, struct ark_err *err)
{
	memset(c, 0, sizeof *c);
	const char *url = getenv("REDIS_URL");
	c->enabled = url && *url;
	if (c->enabled) {
		int rc = ark_redis_url_parse(url, &c->url, err);
		if (rc)
			return rc;
	}
	const char *stream = getenv("ARK_MIRROR_STREAM");
	if (!stream || !*stream)
		stream = "ark:events";
	if (strlen(stream) >= sizeof c->stream - 16)
		return ark_err_set(err, -EINVAL, "ARK_MIRROR_STREAM is longer than %zu characters", sizeof c->stream - 17);
	for (const char *p = stream; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
			return ark_err_set(err, -EINVAL, "ARK_MIRROR_STREAM holds a space or control character");
	snprintf(c->stream, sizeof c->stream, "%s", stream);
	uint64_t batch, pool, maxlen, timeout;
	int rc = ark_env_bool("ARK_MIRROR_PER_TOPIC", false, &c->per_topic, err);
	if (!rc)
		rc = ark_env_u64("ARK_MIRROR_MAXLEN", 1000000, 0, UINT64_MAX / 2, &maxlen, err);
	if (!rc)
		rc = ark_env_u64("ARK_MIRROR_BATCH", 256, 1, 65536, &batch, err);
	if (!rc)
		rc = ark_env_u64("REDIS_POOL_SIZE", 10, 1, 1000, &pool, err);
	if (!rc)
		rc = ark_env_u64("ARK_MIRROR_TIMEOUT_MS", 2000, 10, 600000, &timeout, err);
	if (rc)
		return rc;
	c->maxlen = maxlen;
	c->batch = (uint32_t)batch;
	c->pool_size = (uint32_t)pool;
	c->timeout_ms = timeout;
	return 0;
}

const char *ark_mirror_topic(const struct ark_mirror_config *c, const struct ark_event *e, char *buf, size_t len)
{
	if (!c->per_topic)
		return c->stream;
	const char *topic = e->exec_status == ARK_EXEC_FILLED        ? "fills"
			    : e->verdict == ARK_VERDICT_DENY           ? "denials"
									: "signals";
	snprintf(buf, len, "%s:%s", c->stream, topic);
	return buf;
}

/* Append one argument (a copy in entry->text); silently stops at capacity,
 * which the fixed field list below never reaches. */
static void arg(struct ark_mirror_entry *m, size_t *used, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void arg(struct ark_mirror_entry *m, size_t *used, const char *fmt, ...)
{
	if (m->argc >= ARK_MIRROR_MAX_ARGS || *used >= sizeof m->text)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(m->text + *used, sizeof m->text - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof m->text - *used)
		return;
	m->argv[m->argc] = m->text + *used;
	m->argvlen[m->argc++] = (size_t)n;
	*used += (size_t)n + 1;
}

void ark_mirror_entry_format(const struct ark_mirror_config *c, const struct ark_event *e, struct ark_mirror_entry *m)
{
	size_t used = 0;
	m->argc = 0;
	char topic[160];
	arg(m, &used, "XADD");
	arg(m, &used, "%s", ark_mirror_topic(c, e, topic, sizeof topic));
	if (c->maxlen) {
		arg(m, &used, "MAXLEN");
		arg(m, &used, "~");
		arg(m, &used, "%" PRIu64, c->maxlen);
	}
	arg(m, &used, "%" PRIu64 "-%u", e->seq, (unsigned)e->node_id);
	char symbol[ARK_SYMBOL_MAX + 1];
	memcpy(symbol, e->symbol, ARK_SYMBOL_MAX);
	symbol[ARK_SYMBOL_MAX] = '\0';
	uint64_t e2e = e->stamp_out_ns[ARK_AGENT_ALETHEIA] > e->stamp_in_ns[ARK_AGENT_KYLE]
			       ? e->stamp_out_ns[ARK_AGENT_ALETHEIA] - e->stamp_in_ns[ARK_AGENT_KYLE]
			       : 0;
	arg(m, &used, "seq");
	arg(m, &used, "%" PRIu64, e->seq);
	arg(m, &used, "trace_id");
	arg(m, &used, "%04x-%012" PRIx64, (unsigned)(e->trace_id >> 48), (uint64_t)(e->trace_id & 0xffffffffffffull));
	arg(m, &used, "symbol");
	arg(m, &used, "%s", symbol);
	arg(m, &used, "price");
	arg(m, &used, "%.10g", e->price);
	arg(m, &used, "exchange_time_ns");
	arg(m, &used, "%" PRIu64, e->exchange_time_ns);
	arg(m, &used, "side");
	arg(m, &used, "%s", ark_side_name((enum ark_side)e->side));
	arg(m, &used, "quantity");
	arg(m, &used, "%.10g", e->quantity);
	arg(m, &used, "limit_price");
	arg(m, &used, "%.10g", e->limit_price);
	arg(m, &used, "verdict");
	arg(m, &used, "%s", ark_verdict_name((enum ark_verdict)e->verdict));
	arg(m, &used, "reason");
	arg(m, &used, "%s", ark_reason_name((enum ark_reason)e->reason));
	arg(m, &used, "rule");
	arg(m, &used, "%u", (unsigned)e->rule_id);
	arg(m, &used, "exec");
	arg(m, &used, "%s", ark_exec_status_name((enum ark_exec_status)e->exec_status));
	arg(m, &used, "filled_quantity");
	arg(m, &used, "%.10g", e->filled_quantity);
	arg(m, &used, "fill_price");
	arg(m, &used, "%.10g", e->fill_price);
	arg(m, &used, "e2e_us");
	arg(m, &used, "%.3f", (double)e2e / 1e3);
}
