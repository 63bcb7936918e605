/*
 * workpool.h - a fixed pool of worker threads for CPU-heavy work (password hashing, signing).
 *
 * work() runs on a worker thread; done() then runs on the event loop thread, handed back
 * through a pipe/eventfd watched by the loop. The queue is bounded: when it is full
 * workpool_submit() fails at once, so an overloaded daemon answers 503 instead of queueing
 * without limit.
 */
#ifndef COMMON_WORKPOOL_H
#define COMMON_WORKPOOL_H

#include <event2/event.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))

struct workpool;
typedef void (*work_fn)(void *arg);
typedef void (*work_done_fn)(void *arg);

struct workpool *workpool_new(struct event_base *base, int nthreads, size_t max_queue);
/* 0 when queued; -1 when the queue is full or the pool is stopping (nothing is called). */
int workpool_submit(struct workpool *wp, work_fn work, work_done_fn done, void *arg) MUST_CHECK;
size_t workpool_queued(const struct workpool *wp);
/* Finishes queued work, runs the pending done callbacks, joins the threads, frees. */
void workpool_free(struct workpool *wp);

#endif
