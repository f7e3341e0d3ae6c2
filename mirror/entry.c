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

/* The arguments are formatted by hand: snprintf's %g was a third of the
 * mirror's time. Each appends one argument to entry->text; the fixed field
 * list below never reaches the capacity. */
static char *slot(struct ark_mirror_entry *m, size_t *used, size_t need)
{
	if (m->argc >= ARK_MIRROR_MAX_ARGS || *used + need + 1 > sizeof m->text)
		return NULL;
	return m->text + *used;
}

static void commit(struct ark_mirror_entry *m, size_t *used, char *at, size_t n)
{
	at[n] = '\0';
	m->argv[m->argc] = at;
	m->argvlen[m->argc++] = n;
	*used += n + 1;
}

static void arg_str(struct ark_mirror_entry *m, size_t *used, const char *s)
{
	size_t n = strlen(s);
	char *at = slot(m, used, n);
	if (!at)
		return;
	memcpy(at, s, n);
	commit(m, used, at, n);
}

static size_t u64_text(uint64_t v, char *out)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void arg_u64(struct ark_mirror_entry *m, size_t *used, uint64_t v)
{
	char *at = slot(m, used, 20);
	if (at)
		commit(m, used, at, u64_text(v, at));
}

/* Nine decimals, trailing zeros trimmed: exact enough for prices and sizes
 * (below 1e9 in magnitude); anything else takes the slow, exact path. */
static void arg_double(struct ark_mirror_entry *m, size_t *used, double v)
{
	char *at = slot(m, used, 32);
	if (!at)
		return;
	double a = v < 0 ? -v : v;
	if (!(a < 1e9) || (a != 0 && a < 1e-6)) {
		int n = snprintf(at, 32, "%.17g", v);
		commit(m, used, at, n > 0 && n < 32 ? (size_t)n : 0);
		return;
	}
	uint64_t scaled = (uint64_t)(a * 1e9 + 0.5);
	uint64_t whole = scaled / 1000000000ull, frac = scaled % 1000000000ull;
	size_t n = 0;
	if (v < 0 && scaled)
		at[n++] = '-';
	n += u64_text(whole, at + n);
	if (frac) {
		char digits[9];
		for (int i = 8; i >= 0; i--) {
			digits[i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		int last = 8;
		while (digits[last] == '0')
			last--;
		at[n++] = '.';
		memcpy(at + n, digits, (size_t)last + 1);
		n += (size_t)last + 1;
	}
	commit(m, used, at, n);
}

/* A field of the entry: its name, then its value. */
static inline void field_str(struct ark_mirror_entry *m, size_t *used, const char *name, const char *v)
{
	arg_str(m, used, name);
	arg_str(m, used, v);
}

static inline void field_u64(struct ark_mirror_entry *m, size_t *used, const char *name, uint64_t v)
{
	arg_str(m, used, name);
	arg_u64(m, used, v);
}

static inline void field_double(struct ark_mirror_entry *m, size_t *used, const char *name, double v)
{
	arg_str(m, used, name);
	arg_double(m, used, v);
}

void ark_mirror_entry_format(const struct ark_mirror_config *c, const struct ark_event *e, struct ark_mirror_entry *m)
{
	size_t used = 0;
	m->argc = 0;
	char topic[160];
	arg_str(m, &used, "XADD");
	arg_str(m, &used, ark_mirror_topic(c, e, topic, sizeof topic));
	if (c->maxlen) {
		arg_str(m, &used, "MAXLEN");
		arg_str(m, &used, "~");
		arg_u64(m, &used, c->maxlen);
	}
	char id[48];
	size_t n = u64_text(e->seq, id);
	id[n++] = '-';
	n += u64_text(e->node_id, id + n);
	id[n] = '\0';
	arg_str(m, &used, id);
	char symbol[ARK_SYMBOL_MAX + 1];
	memcpy(symbol, e->symbol, ARK_SYMBOL_MAX);
	symbol[ARK_SYMBOL_MAX] = '\0';
	uint64_t e2e = e->stamp_out_ns[ARK_AGENT_ALETHEIA] > e->stamp_in_ns[ARK_AGENT_KYLE]
			       ? e->stamp_out_ns[ARK_AGENT_ALETHEIA] - e->stamp_in_ns[ARK_AGENT_KYLE]
			       : 0;
	static const char hex[] = "0123456789abcdef";
	char trace[24];
	for (int i = 0; i < 4; i++)
		trace[i] = hex[(e->trace_id >> (60 - 4 * i)) & 15];
	trace[4] = '-';
	for (int i = 0; i < 12; i++)
		trace[5 + i] = hex[(e->trace_id >> (44 - 4 * i)) & 15];
	trace[17] = '\0';
	field_u64(m, &used, "seq", e->seq);
	field_str(m, &used, "trace_id", trace);
	field_str(m, &used, "symbol", symbol);
	field_double(m, &used, "price", e->price);
	field_u64(m, &used, "exchange_time_ns", e->exchange_time_ns);
	field_str(m, &used, "side", ark_side_name((enum ark_side)e->side));
	field_double(m, &used, "quantity", e->quantity);
	field_double(m, &used, "limit_price", e->limit_price);
	field_str(m, &used, "verdict", ark_verdict_name((enum ark_verdict)e->verdict));
	field_str(m, &used, "reason", ark_reason_name((enum ark_reason)e->reason));
	field_u64(m, &used, "rule", e->rule_id);
	field_str(m, &used, "exec", ark_exec_status_name((enum ark_exec_status)e->exec_status));
	field_double(m, &used, "filled_quantity", e->filled_quantity);
	field_double(m, &used, "fill_price", e->fill_price);
	field_double(m, &used, "e2e_us", (double)e2e / 1e3);
}

size_t ark_mirror_entry_resp(const struct ark_mirror_entry *m, char *out, size_t cap)
{
	size_t need = 16;
	for (int i = 0; i < m->argc; i++)
		need += m->argvlen[i] + 32;
	if (need > cap)
		return 0;
	size_t o = 0;
	out[o++] = '*';
	o += u64_text((uint64_t)m->argc, out + o);
	out[o++] = '\r';
	out[o++] = '\n';
	for (int i = 0; i < m->argc; i++) {
		out[o++] = '$';
		o += u64_text(m->argvlen[i], out + o);
		out[o++] = '\r';
		out[o++] = '\n';
		memcpy(out + o, m->argv[i], m->argvlen[i]);
		o += m->argvlen[i];
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}
