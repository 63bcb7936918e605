/*
 * test_workpool.c - cmocka tests of workpool.c: jobs run on workers, done() runs on the loop
 * thread, the bounded queue refuses work when full, and workpool_free() finishes everything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/workpool.h"

#define NJOBS 2000

struct ctx {
	pthread_t loop_thread;
	atomic_int worked;
	int done;              /* loop thread only */
	int done_off_loop;     /* done() seen on another thread */
	int work_on_loop;      /* work() seen on the loop thread */
	struct event_base *base;
	int expect;
	sem_t started;         /* blocker job running */
	sem_t release;         /* lets the blocker finish */
};

struct job {
	struct ctx *c;
	int in, out;
	bool blocker;
};

static void job_work(void *arg)
{
	struct job *j = arg;

	if (pthread_equal(pthread_self(), j->c->loop_thread))
		j->c->work_on_loop++;
	if (j->blocker) {
		sem_post(&j->c->started);
		sem_wait(&j->c->release);
	}
	j->out = j->in * 2;
	atomic_fetch_add(&j->c->worked, 1);
}

static void job_done(void *arg)
{
	struct job *j = arg;
	struct ctx *c = j->c;

	if (!pthread_equal(pthread_self(), c->loop_thread))
		c->done_off_loop++;
	assert_int_equal(j->out, j->in * 2);
	free(j);
	if (++c->done == c->expect && c->base != NULL)
		event_base_loopbreak(c->base);
}

static struct job *job_new(struct ctx *c, int in)
{
	struct job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	j->c = c;
	j->in = in;
	return j;
}

static void ctx_init(struct ctx *c, struct event_base *base)
{
	memset(c, 0, sizeof(*c));
	c->loop_thread = pthread_self();
	c->base = base;
	atomic_init(&c->worked, 0);
	assert_int_equal(sem_init(&c->started, 0, 0), 0);
	assert_int_equal(sem_init(&c->release, 0, 0), 0);
}

static void ctx_destroy(struct ctx *c)
{
	sem_destroy(&c->started);
	sem_destroy(&c->release);
}

static void test_workpool_many_jobs_done_on_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *wp;
	struct ctx c;
	struct timeval limit = {20, 0};

	assert_non_null(base);
	ctx_init(&c, base);
	c.expect = NJOBS;
	wp = workpool_new(base, 4, NJOBS);
	assert_non_null(wp);
	for (int i = 0; i < NJOBS; i++) {
		struct job *j = job_new(&c, i);

		assert_int_equal(workpool_submit(wp, job_work, job_done, j), 0);
	}
	event_base_loopexit(base, &limit); /* a safety net, not the expected exit */
	assert_int_equal(event_base_dispatch(base), 0);
	assert_int_equal(c.done, NJOBS);
	assert_int_equal(atomic_load(&c.worked), NJOBS);
	assert_int_equal(c.done_off_loop, 0);
	assert_int_equal(c.work_on_loop, 0);
	assert_int_equal(workpool_queued(wp), 0);
	workpool_free(wp);
	event_base_free(base);
	ctx_destroy(&c);
}

static void test_workpool_queue_full_fails(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *wp = workpool_new(base, 1, 3);
	struct job *blocker, *extra;
	struct ctx c;

	assert_non_null(wp);
	ctx_init(&c, NULL);
	blocker = job_new(&c, 100);
	blocker->blocker = true;
	assert_int_equal(workpool_submit(wp, job_work, job_done, blocker), 0);
	sem_wait(&c.started); /* the only worker is now busy */
	for (int i = 0; i < 3; i++)
		assert_int_equal(workpool_submit(wp, job_work, job_done, job_new(&c, i)), 0);
	assert_int_equal(workpool_queued(wp), 3);
	extra = job_new(&c, 99);
	assert_int_equal(workpool_submit(wp, job_work, job_done, extra), -1);
	free(extra); /* not taken: nothing will be called for it */
	sem_post(&c.release);
	/* free with queued work: every job runs and every done() runs here */
	workpool_free(wp);
	assert_int_equal(atomic_load(&c.worked), 4);
	assert_int_equal(c.done, 4);
	assert_int_equal(c.done_off_loop, 0);
	event_base_free(base);
	ctx_destroy(&c);
}

static void test_workpool_free_runs_queued_work(void **state)
{
	struct event_base *base = event_base_new();
	struct workpool *wp = workpool_new(base, 2, 1000);
	struct ctx c;

	assert_non_null(wp);
	ctx_init(&c, NULL);
	for (int i = 0; i < 500; i++)
		assert_int_equal(workpool_submit(wp, job_work, job_done, job_new(&c, i)), 0);
	/* the loop never runs: completions are still owed at free time */
	workpool_free(wp);
	assert_int_equal(atomic_load(&c.worked), 500);
	assert_int_equal(c.done, 500);
	assert_int_equal(c.done_off_loop, 0);
	event_base_free(base);
	ctx_destroy(&c);
}

static void test_workpool_bad_arguments(void **state)
{
	struct event_base *base = event_base_new();

	assert_null(workpool_new(NULL, 1, 1));
	assert_null(workpool_new(base, 0, 1));
	assert_null(workpool_new(base, 1, 0));
	workpool_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_workpool_many_jobs_done_on_loop),
		cmocka_unit_test(test_workpool_queue_full_fails),
		cmocka_unit_test(test_workpool_free_runs_queued_work),
		cmocka_unit_test(test_workpool_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
