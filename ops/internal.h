/* ops/internal.h — what the validator's files share (not part of ops.h):
 * adding a check's line, and the checks that reach outside the process
 * (ops/checks_net.c). */
#ifndef ARK_OPS_INTERNAL_H
#define ARK_OPS_INTERNAL_H

#include "ops/ops.h"
#include "http/http.h"

void ark_ops_add(struct ark_validation *v, enum ark_check_status status, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void ark_ops_check_redis(struct ark_validation *v, uint32_t timeout_ms);
void ark_ops_check_tls(struct ark_validation *v, const char *prefix, const struct ark_http_config *cfg,
		       bool production);
void ark_ops_check_port(struct ark_validation *v, const char *variable, const char *address, unsigned port,
			unsigned running_port);
void ark_ops_check_cpus(struct ark_validation *v);

#endif /* ARK_OPS_INTERNAL_H */
