/* http/workers.c — a small pool of threads for the work an event loop must
 * not do: bcrypt (tens to hundreds of milliseconds a guess) and requests a
 * provider defers (a trace look-up that reads files and SQLite).
 *
 * Invariants: at most queue_cap jobs wait; a submit beyond that fails at
 * once (the server answers 429), so a flood costs the loop nothing but the
 * refusal. A job's done() always runs on the loop's thread, exactly once,
 * also for jobs still queued at stop (then with cancelled set). Workers
 * touch only the job they run. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

struct ark_http_workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ark_http_job *head, *tail;
	unsigned queued, queue_cap;
	bool stopping;
	pthread_t *threads;
	unsigned nthreads;
	h2o_multithread_queue_t *queue;
	h2o_multithread_receiver_t receiver;
	bool registered;
	unsigned in_flight;        /* submitted, done() not yet run (loop thread only) */
};

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
	struct ark_http_workers *w = (struct ark_http_workers *)((char *)receiver - offsetof(struct ark_http_workers, receiver));
	while (!h2o_linklist_is_empty(messages)) {
		h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
		h2o_linklist_unlink(&m->link);
		struct ark_http_job *job = H2O_STRUCT_FROM_MEMBER(struct ark_http_job, message, m);
		w->in_flight--;
		job->done(job);
	}
}

static void *worker_main(void *arg)
{
	struct ark_http_workers *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		struct ark_http_job *job = w->head;
		if (job) {
			w->head = job->next;
			if (!w->head)
				w->tail = NULL;
			w->queued--;
		}
		bool stop = w->stopping;
		pthread_mutex_unlock(&w->lock);
		if (!job) {
			if (stop)
				return NULL;
			continue;
		}
		job->cancelled = stop;
		if (!stop)
			job->run(job);
		h2o_multithread_send_message(&w->receiver, &job->message);
	}
}

int ark_http_workers_start(struct ark_http_workers **out, unsigned threads, unsigned queue_cap,
			   h2o_multithread_queue_t *queue, struct ark_err *err)
{
	*out = NULL;
	struct ark_http_workers *w = calloc(1, sizeof *w);
	if (!w || !(w->threads = calloc(threads ? threads : 1, sizeof *w->threads))) {
		free(w);
		return ark_err_set(err, -ENOMEM, "http server: out of memory for its workers");
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->queue_cap = queue_cap;
	w->queue = queue;
	h2o_multithread_register_receiver(queue, &w->receiver, on_messages);
	w->registered = true;
	for (unsigned i = 0; i < threads; i++) {
		int rc = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (rc) {
			ark_http_workers_stop(w);
			return ark_err_set(err, -rc, "http server: cannot start a worker thread: %s", strerror(rc));
		}
		w->nthreads++;
	}
	*out = w;
	return 0;
}

bool ark_http_workers_submit(struct ark_http_workers *w, struct ark_http_job *job)
{
	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	bool ok = !w->stopping && w->queued < w->queue_cap;
	if (ok) {
		job->next = NULL;
		job->cancelled = false;
		if (w->tail)
			w->tail->next = job;
		else
			w->head = job;
		w->tail = job;
		w->queued++;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	if (ok)
		w->in_flight++;
	return ok;
}

unsigned ark_http_workers_in_flight(const struct ark_http_workers *w)
{
	return w ? w->in_flight : 0;
}

void ark_http_workers_stop(struct ark_http_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	w->nthreads = 0;
	/* Jobs still queued never ran: hand them back (cancelled) so each
	 * done() runs once, here on the loop's thread. */
	struct ark_http_job *job = w->head;
	w->head = w->tail = NULL;
	while (job) {
		struct ark_http_job *next = job->next;
		job->cancelled = true;
		w->in_flight--;
		job->done(job);
		job = next;
	}
}

void ark_http_workers_free(struct ark_http_workers *w)
{
	if (!w)
		return;
	if (w->registered)
		h2o_multithread_unregister_receiver(w->queue, &w->receiver);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w);
}
