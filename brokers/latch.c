/* brokers/latch.c — where a network broker's stop after an anomaly is kept
 * across restarts and runs ($ARK_DATA_DIR/broker.stopped): only `ark broker
 * resume` removes it, so neither a restarted Kenny nor a new run lifts it. */
#include "brokers/brokers.h"

#include <errno.h>
#include <stdio.h>

int ark_broker_latch_path(char *out, size_t cap, struct ark_err *err)
{
	struct ark_store_config store;
	int rc = ark_store_config_from_env(&store, err);
	if (rc)
		return rc;
	if ((size_t)snprintf(out, cap, "%s/broker.stopped", store.data_dir) >= cap)
		return ark_err_set(err, -ENAMETOOLONG, "ARK_DATA_DIR is too long");
	return 0;
}
