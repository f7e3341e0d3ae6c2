/* event/event.c — names for the enumerations in event.h, and trace id text. */
#include "event/event.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const agent_names[ARK_AGENT_COUNT] = {"Kyle", "Joey", "HRM", "Kenny", "Aletheia"};
static const char *const agent_files[ARK_AGENT_COUNT] = {"kyle", "joey", "hrm", "kenny", "aletheia"};

const char *ark_agent_name(enum ark_agent agent)
{
	return (unsigned)agent < ARK_AGENT_COUNT ? agent_names[agent] : "?";
}

const char *ark_agent_file_name(enum ark_agent agent)
{
	return (unsigned)agent < ARK_AGENT_COUNT ? agent_files[agent] : "?";
}

int ark_agent_parse(const char *text)
{
	for (int i = 0; text && i < ARK_AGENT_COUNT; i++)
		if (strcasecmp(text, agent_files[i]) == 0)
			return i;
	return -1;
}

static const char *const reason_names[ARK_REASON_COUNT] = {
	"none", "halted", "reducing_only", "max_quantity", "max_notional", "price_collar",
	"reference_price", "restricted_symbol", "restricted_pattern", "rate_global", "rate_symbol",
	"duplicate", "position_limit", "gross_exposure", "daily_loss", "ethics_drift", "quarantined",
	"state_corrupt",
};

const char *ark_reason_name(enum ark_reason reason)
{
	return (unsigned)reason < ARK_REASON_COUNT ? reason_names[reason] : "unknown";
}

const char *ark_halt_cause_name(enum ark_halt_cause cause)
{
	switch (cause) {
	case ARK_HALT_NONE: return "none";
	case ARK_HALT_RULES: return "rules";
	case ARK_HALT_DAILY_LOSS: return "daily_loss";
	case ARK_HALT_STATE_CORRUPT: return "state_corrupt";
	}
	return "unknown";
}

const char *ark_side_name(enum ark_side side)
{
	switch (side) {
	case ARK_SIDE_NONE: return "none";
	case ARK_SIDE_BUY: return "buy";
	case ARK_SIDE_SELL: return "sell";
	}
	return "?";
}

const char *ark_verdict_name(enum ark_verdict verdict)
{
	switch (verdict) {
	case ARK_VERDICT_PENDING: return "pending";
	case ARK_VERDICT_ALLOW: return "allow";
	case ARK_VERDICT_DENY: return "deny";
	}
	return "?";
}

const char *ark_exec_status_name(enum ark_exec_status status)
{
	switch (status) {
	case ARK_EXEC_NONE: return "none";
	case ARK_EXEC_FORWARDED: return "forwarded";
	case ARK_EXEC_FILLED: return "filled";
	case ARK_EXEC_REJECTED: return "rejected";
	case ARK_EXEC_DUPLICATE: return "duplicate";
	case ARK_EXEC_SUPPRESSED: return "suppressed";
	case ARK_EXEC_SUBMITTED: return "submitted";
	case ARK_EXEC_ACCEPTED: return "accepted";
	case ARK_EXEC_ANOMALY: return "anomaly";
	}
	return "?";
}

const char *ark_source_name(enum ark_source_kind source)
{
	switch (source) {
	case ARK_SOURCE_NONE: return "none";
	case ARK_SOURCE_SYNTHETIC: return "synthetic";
	case ARK_SOURCE_TCP: return "tcp";
	case ARK_SOURCE_API: return "api";
	case ARK_SOURCE_ALPHA_VANTAGE: return "alpha_vantage";
	case ARK_SOURCE_REDIS: return "redis";
	case ARK_SOURCE_BROKER: return "broker";
	}
	return "?";
}

void ark_trace_id_format(uint64_t trace_id, char out[24])
{
	snprintf(out, 24, "%04llx-%012llx", (unsigned long long)(trace_id >> 48),
		 (unsigned long long)(trace_id & 0xffffffffffffull));
}

int ark_trace_id_parse(const char *text, uint64_t *trace_id)
{
	if (!text || !*text)
		return -EINVAL;
	size_t n = strlen(text);
	char *end;
	if (n == 17 && text[4] == '-') {
		char node[5];
		memcpy(node, text, 4);
		node[4] = '\0';
		for (int i = 0; i < 4; i++)
			if (!isxdigit((unsigned char)node[i]))
				return -EINVAL;
		for (size_t i = 5; i < n; i++)
			if (!isxdigit((unsigned char)text[i]))
				return -EINVAL;
		uint64_t hi = strtoull(node, NULL, 16), lo = strtoull(text + 5, &end, 16);
		*trace_id = (hi << 48) | lo;
		return 0;
	}
	if (n == 16) {
		for (size_t i = 0; i < n; i++)
			if (!isxdigit((unsigned char)text[i]))
				return -EINVAL;
		*trace_id = strtoull(text, NULL, 16);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)text[i]))
			return -EINVAL;
	if (n > 15)
		return -ERANGE;
	uint64_t seq = strtoull(text, &end, 10);
	if (seq > 0xffffffffffffull)
		return -ERANGE; /* a sequence number has 48 bits: never wrap it to another id */
	*trace_id = ark_trace_id(0, seq);
	return 0;
}
