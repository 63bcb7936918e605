/*
 * workpool.c - worker threads for CPU-heavy jobs, with completions delivered on the loop.
 *
 * Owns its threads, the bounded job queue (mutex + condition variable), the list of finished
 * jobs and an eventfd watched by a libevent event: a worker appends a finished job and bumps
 * the eventfd, and the loop thread takes the whole finished list at once and runs each done().
 * Worker threads block every signal so signals reach the loop thread.
 */
#include "common/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct wp_job {
	work_fn work;
	work_done_fn done;
	void *arg;
	struct wp_job *next;
};

struct wp_list {
	struct wp_job *head, *tail;
};

struct workpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* signalled when a job is queued or the pool stops */
	struct wp_list queue;      /* waiting jobs */
	size_t queued;
	size_t max_queue;
	struct wp_list finished;   /* done() still to run on the loop */
	bool stopping;
	pthread_t *threads;
	int nthreads;              /* threads started */
	int efd;
	struct event *ev;
};

static void wp_list_push(struct wp_list *l, struct wp_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void wp_notify(struct workpool *wp)
{
	uint64_t one = 1;
	ssize_t w;

	do
		w = write(wp->efd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
	/* EAGAIN means the counter is already non-zero: the loop will wake anyway. */
}

static void *wp_thread(void *arg)
{
	struct workpool *wp = arg;

	pthread_mutex_lock(&wp->mu);
	for (;;) {
		struct wp_job *j;

		while (wp->queue.head == NULL && !wp->stopping)
			pthread_cond_wait(&wp->cv, &wp->mu);
		j = wp->queue.head;
		if (j == NULL)
			break; /* stopping and nothing left */
		wp->queue.head = j->next;
		if (wp->queue.head == NULL)
			wp->queue.tail = NULL;
		wp->queued--;
		pthread_mutex_unlock(&wp->mu);

		if (j->work != NULL)
			j->work(j->arg);

		pthread_mutex_lock(&wp->mu);
		wp_list_push(&wp->finished, j);
		pthread_mutex_unlock(&wp->mu);
		wp_notify(wp);
		pthread_mutex_lock(&wp->mu);
	}
	pthread_mutex_unlock(&wp->mu);
	return NULL;
}

/* Takes every finished job and runs its done() on the calling (loop) thread. */
static void wp_run_finished(struct workpool *wp)
{
	struct wp_job *j, *next;

	pthread_mutex_lock(&wp->mu);
	j = wp->finished.head;
	wp->finished.head = wp->finished.tail = NULL;
	pthread_mutex_unlock(&wp->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static void wp_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct workpool *wp = arg;
	uint64_t n;
	ssize_t r;

	do
		r = read(fd, &n, sizeof(n));
	while (r < 0 && errno == EINTR);
	wp_run_finished(wp);
}

/* Stops the threads after the queue empties and joins them. */
static void wp_stop_threads(struct workpool *wp)
{
	pthread_mutex_lock(&wp->mu);
	wp->stopping = true;
	pthread_cond_broadcast(&wp->cv);
	pthread_mutex_unlock(&wp->mu);
	for (int i = 0; i < wp->nthreads; i++)
		pthread_join(wp->threads[i], NULL);
	wp->nthreads = 0;
}

static int wp_start_threads(struct workpool *wp, int n)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0)
		return -1;
	for (int i = 0; i < n && rc == 0; i++) {
		rc = pthread_create(&wp->threads[i], NULL, wp_thread, wp);
		if (rc == 0)
			wp->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

struct workpool *workpool_new(struct event_base *base, int nthreads, size_t max_queue)
{
	struct workpool *wp = NULL;

	if (base == NULL || nthreads < 1 || nthreads > 1024 || max_queue < 1)
		return NULL;
	if ((wp = calloc(1, sizeof(*wp))) == NULL)
		return NULL;
	wp->efd = -1;
	wp->max_queue = max_queue;
	if (pthread_mutex_init(&wp->mu, NULL) != 0) {
		free(wp);
		return NULL;
	}
	if (pthread_cond_init(&wp->cv, NULL) != 0) {
		pthread_mutex_destroy(&wp->mu);
		free(wp);
		return NULL;
	}
	wp->threads = calloc((size_t)nthreads, sizeof(*wp->threads));
	wp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wp->threads == NULL || wp->efd < 0)
		goto fail;
	wp->ev = event_new(base, wp->efd, EV_READ | EV_PERSIST, wp_on_event, wp);
	if (wp->ev == NULL || event_add(wp->ev, NULL) != 0)
		goto fail;
	if (wp_start_threads(wp, nthreads) < 0)
		goto fail;
	return wp;
fail:
	workpool_free(wp);
	return NULL;
}

int workpool_submit(struct workpool *wp, work_fn work, work_done_fn done, void *arg)
{
	struct wp_job *j;
	int rc = -1;

	if (wp == NULL || (j = malloc(sizeof(*j))) == NULL)
		return -1;
	j->work = work;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&wp->mu);
	if (!wp->stopping && wp->nthreads > 0 && wp->queued < wp->max_queue) {
		wp_list_push(&wp->queue, j);
		wp->queued++;
		pthread_cond_signal(&wp->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&wp->mu);
	if (rc != 0)
		free(j);
	return rc;
}

size_t workpool_queued(const struct workpool *wp)
{
	struct workpool *w = (struct workpool *)wp; /* locking does not change the pool */
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->queued;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void workpool_free(struct workpool *wp)
{
	if (wp == NULL)
		return;
	wp_stop_threads(wp);
	if (wp->ev != NULL) {
		event_del(wp->ev);
		event_free(wp->ev);
	}
	/* Threads are gone: every job is finished; run the done() callbacks still owed. */
	wp_run_finished(wp);
	if (wp->efd >= 0)
		close(wp->efd);
	free(wp->threads);
	pthread_cond_destroy(&wp->cv);
	pthread_mutex_destroy(&wp->mu);
	free(wp);
}
