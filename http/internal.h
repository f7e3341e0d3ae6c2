/* http/internal.h — pieces shared between the server's source files. */
#ifndef ARK_HTTP_INTERNAL_H
#define ARK_HTTP_INTERNAL_H

#include "http/http.h"

#include <crypt.h>
#include <h2o.h>

struct ark_http_auth;

/* bcrypt below this cost is refused when the users file is loaded: at cost
 * 4 a guess costs ~1 ms, which makes the server a password oracle. */
#define ARK_HTTP_BCRYPT_MIN_COST 10

/* Load `user:bcrypt-hash` lines ('#' comments and blank lines skipped). Errors
 * name the file and line, never the hash. */
int ark_http_auth_load(struct ark_http_auth **out, const char *path, struct ark_err *err);
void ark_http_auth_free(struct ark_http_auth *auth);
/* The header value is "Basic <base64 of user:password>" (no bcrypt). */
bool ark_http_auth_wellformed(const char *authorization, size_t len);
/* A header value that succeeded before (no bcrypt; the event loop). */
bool ark_http_auth_cached(const struct ark_http_auth *auth, const char *authorization, size_t len);
void ark_http_auth_remember(struct ark_http_auth *auth, const char *authorization, size_t len);
/* bcrypt: any thread, with its own crypt_data (the user table is read only). */
bool ark_http_auth_verify(const struct ark_http_auth *auth, const char *authorization, size_t len,
			  struct crypt_data *cd);
/* cached || verify, then remember: one thread (tests, tools). */
bool ark_http_auth_check(struct ark_http_auth *auth, const char *authorization, size_t len);

/* ---- workers (workers.c) ---- */
struct ark_http_job {
	h2o_multithread_message_t message;   /* how it comes back to the loop */
	struct ark_http_job *next;           /* in the queue */
	bool cancelled;                      /* never ran: the server stopped */
	void (*run)(struct ark_http_job *job);    /* on a worker */
	void (*done)(struct ark_http_job *job);   /* on the loop, exactly once */
};
struct ark_http_workers;
int ark_http_workers_start(struct ark_http_workers **out, unsigned threads, unsigned queue_cap,
			   h2o_multithread_queue_t *queue, struct ark_err *err);
/* false when queue_cap jobs already wait (or the pool stopped). */
bool ark_http_workers_submit(struct ark_http_workers *workers, struct ark_http_job *job);
unsigned ark_http_workers_in_flight(const struct ark_http_workers *workers);
/* Join the threads; queued jobs are done() as cancelled. Messages already
 * sent arrive through the loop: run it until in_flight is 0, then free. */
void ark_http_workers_stop(struct ark_http_workers *workers);
void ark_http_workers_free(struct ark_http_workers *workers);

#endif
