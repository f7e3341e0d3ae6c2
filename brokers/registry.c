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

int ark_broker_find(const char *name, const struct ark_broker_ops **ops, struct ark_err *err)
{
	if (!name || !*name)
		name = "paper";
	for (size_t i = 0; i < sizeof brokers / sizeof brokers[0]; i++)
		if (strcmp(name, brokers[i].name) == 0) {
			*ops = brokers[i].ops;
			return 0;
		}
	char names[128] = "";   /* "paper or alpaca", from the table */
	size_t n = sizeof brokers / sizeof brokers[0], len = 0;
	for (size_t i = 0; i < n && len < sizeof names; i++)
		len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
					brokers[i].name);
	return ark_err_set(err, -EINVAL, "ARK_BROKER: expected %s, got '%.32s'", names, name);
}
