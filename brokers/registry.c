/* brokers/registry.c — the brokers ARK_BROKER may name. Adding a broker is
 * its file in brokers/ and a line here; Kenny reaches every broker through
 * struct ark_broker_ops only. */
#include "brokers/brokers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const struct ark_broker_ops *ops;
} brokers[] = {
	{"paper", &ark_broker_paper},
	{"alpaca", &ark_broker_alpaca},
};

const struct ark_broker_ops *ark_broker_at(size_t i, const char **name)
{
	if (i >= sizeof brokers / sizeof brokers[0])
		return NULL;
	if (name)
		*name = brokers[i].name;
	return brokers[i].ops;
}

const char *ark_broker_name(const struct ark_broker_ops *ops)
{
	for (size_t i = 0; i < sizeof brokers / sizeof brokers[0]; i++)
		if (brokers[i].ops == ops)
			return brokers[i].name;
	return "";
}

void ark_broker_names(char *out, size_t cap, bool describe)
{
	size_t n = sizeof brokers / sizeof brokers[0], len = 0;
	if (cap)
		out[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
					brokers[i].name,
					describe && brokers[i].ops->simulated ? " (the simulated venue)" : "");
}

int ark_broker_find(const char *name, const struct ark_broker_ops **ops, struct ark_err *err)
{
	if (!name || !*name)
		name = "paper";
	for (size_t i = 0; i < sizeof brokers / sizeof brokers[0]; i++)
		if (strcmp(name, brokers[i].name) == 0) {
			*ops = brokers[i].ops;
			return 0;
		}
	char names[128];   /* "paper or alpaca", from the table */
	ark_broker_names(names, sizeof names, false);
	return ark_err_set(err, -EINVAL, "ARK_BROKER: expected %s, got '%.32s'", names, name);
}
