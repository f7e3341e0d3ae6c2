/* http/internal.h — pieces shared between the server's source files. */
#ifndef ARK_HTTP_INTERNAL_H
#define ARK_HTTP_INTERNAL_H

#include "http/http.h"

struct ark_http_auth;

/* Load `user:bcrypt-hash` lines ('#' comments and blank lines skipped). Errors
 * name the file and line, never the hash. */
int ark_http_auth_load(struct ark_http_auth **out, const char *path, struct ark_err *err);
void ark_http_auth_free(struct ark_http_auth *auth);
/* true when `authorization` (the header value, may be NULL) carries valid
 * Basic credentials. */
bool ark_http_auth_check(struct ark_http_auth *auth, const char *authorization, size_t len);

#endif
