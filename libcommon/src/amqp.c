/*
 * amqp.c - the loop side of the RabbitMQ bridge: amqp_new / amqp_free, amqp_publish, the
 * dispatcher that runs confirm and delivery callbacks on the loop, and the shared plumbing
 * (lock, lists, wakeups). Consuming and settling live in amqp_consume.c, the threads in
 * amqp_pub.c and amqp_sub.c.
 *
 * Owns struct amqp: the mutex, the eventfd the threads bump (watched by a libevent event),
 * each thread's wake eventfd, the threads themselves, and every publish request and delivery
 * that is not currently inside a thread. Metrics are updated here only (loop thread).
 * Callbacks are run with an "entered" count, so amqp_free() called from one of them finishes
 * the free after the dispatcher unwinds.
 */
#include "amqp_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"

#define AMQP_JOIN_GRACE_S 3 /* before a stuck thread's socket is shut down under it */

void amqp_opts_default(struct amqp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = 5672;
	o->user = "guest";
	o->password = "guest";
	o->vhost = "/";
	o->service = "flatrender";
	o->heartbeat_s = 30;
	o->prefetch = 64;
	o->connect_timeout_ms = 3000;
	o->max_pending_publish = 10000;
}

void amqp_lock(struct amqp *a)
{
	pthread_mutex_lock(&a->mu);
}

void amqp_unlock(struct amqp *a)
{
	pthread_mutex_unlock(&a->mu);
}

static void amqp_efd_bump(int fd)
{
	uint64_t one = 1;
	ssize_t w;

	if (fd < 0)
		return;
	do
		w = write(fd, &one, sizeof(one));
	while (w < 0 && errno == EINTR);
	/* EAGAIN: the counter is already non-zero, the reader wakes anyway. */
}

void amqp_notify_loop(struct amqp *a)
{
	amqp_efd_bump(a->loop_efd);
}

void amqp_wake(int fd)
{
	amqp_efd_bump(fd);
}

void amqp_publist_push(struct amqp_publist *l, struct amqp_pubreq *r)
{
	r->next = NULL;
	if (l->tail != NULL)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

void amqp_publist_move(struct amqp_publist *dst, struct amqp_publist *src)
{
	if (src->head == NULL)
		return;
	if (dst->tail != NULL)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	src->head = src->tail = NULL;
}

void amqp_dlvlist_push(struct amqp_dlvlist *l, struct amqp_dlv *d)
{
	d->next = NULL;
	if (l->tail != NULL)
		l->tail->next = d;
	else
		l->head = d;
	l->tail = d;
}

void amqp_dlv_free(struct amqp_dlv *d)
{
	if (d == NULL)
		return;
	free(d->reason);
	free(d);
}

static void amqp_dlvlist_free(struct amqp_dlvlist *l)
{
	struct amqp_dlv *d, *next;

	for (d = l->head; d != NULL; d = next) {
		next = d->next;
		amqp_dlv_free(d);
	}
	l->head = l->tail = NULL;
}

/* ---- state and metrics ------------------------------------------------------------------- */

static void amqp_declare_metrics(struct amqp *a)
{
	if (a->m == NULL)
		return;
	metrics_declare(a->m, "amqp_publish_total", METRIC_COUNTER,
			"Publishes by outcome (confirmed by the broker, nacked, failed).");
	metrics_declare(a->m, "amqp_connected", METRIC_GAUGE,
			"1 while the AMQP connection of this role is up.");
	metrics_declare(a->m, "amqp_deliveries_total", METRIC_COUNTER, "Deliveries received.");
	metrics_declare(a->m, "amqp_retries_total", METRIC_COUNTER,
			"Deliveries sent to the retry queue.");
	metrics_declare(a->m, "amqp_dead_letters_total", METRIC_COUNTER,
			"Deliveries sent to the dead-letter queue.");
	metrics_declare(a->m, "amqp_reconnects_total", METRIC_COUNTER,
			"Connections re-established after a loss.");
	metrics_set(a->m, "amqp_connected", "role=\"publisher\"", 0);
	metrics_inc(a->m, "amqp_reconnects_total", "role=\"publisher\"", 0);
	for (int i = AMQP_PUB_CONFIRMED; i <= AMQP_PUB_FAILED; i++)
		metrics_inc(a->m, "amqp_publish_total",
			    i == AMQP_PUB_CONFIRMED ? "result=\"confirmed\""
			    : i == AMQP_PUB_NACKED  ? "result=\"nacked\""
						    : "result=\"failed\"",
			    0);
}

static void amqp_role_metrics(struct amqp *a, const char *role, bool up, unsigned connects,
			      unsigned *seen)
{
	char labels[32];
	unsigned re_now = connects > 0 ? connects - 1 : 0;
	unsigned re_seen = *seen > 0 ? *seen - 1 : 0;

	if (a->m == NULL)
		return;
	snprintf(labels, sizeof(labels), "role=\"%s\"", role);
	metrics_set(a->m, "amqp_connected", labels, up ? 1 : 0);
	if (re_now > re_seen)
		metrics_inc(a->m, "amqp_reconnects_total", labels, (double)(re_now - re_seen));
	*seen = connects;
}

/* Called with the shared state copied out under the lock. */
static void amqp_update_state(struct amqp *a, bool pub_up, unsigned pub_c, bool sub_up,
			      unsigned sub_c)
{
	if (pub_up != a->seen_pub_up || pub_c != a->seen_pub_connects) {
		a->seen_pub_up = pub_up;
		amqp_role_metrics(a, "publisher", pub_up, pub_c, &a->seen_pub_connects);
	}
	if (sub_up != a->seen_sub_up || sub_c != a->seen_sub_connects) {
		a->seen_sub_up = sub_up;
		amqp_role_metrics(a, "consumer", sub_up, sub_c, &a->seen_sub_connects);
	}
}

bool amqp_ready(const struct amqp *ca)
{
	struct amqp *a = (struct amqp *)ca; /* locking does not change the bridge */
	bool r;

	if (a == NULL || a->closing)
		return false;
	amqp_lock(a);
	r = a->pub_up && (a->nqueues == 0 || a->sub_up);
	amqp_unlock(a);
	return r;
}

/* ---- dispatcher ---------------------------------------------------------------------------- */

static void amqp_pub_finish(struct amqp *a, struct amqp_pubreq *r)
{
	static const char *const labels[] = {"result=\"confirmed\"", "result=\"nacked\"",
					     "result=\"failed\""};

	if (a->pending > 0)
		a->pending--;
	if (a->m != NULL)
		metrics_inc(a->m, "amqp_publish_total", labels[r->result], 1);
	if (r->cb != NULL)
		r->cb(r->result == AMQP_PUB_CONFIRMED, r->arg);
	free(r);
}

static struct amqp_pubreq *amqp_publist_pop(struct amqp_publist *l)
{
	struct amqp_pubreq *r = l->head;

	if (r != NULL) {
		l->head = r->next;
		if (l->head == NULL)
			l->tail = NULL;
		r->next = NULL;
	}
	return r;
}

static struct amqp_dlv *amqp_dlvlist_pop(struct amqp_dlvlist *l)
{
	struct amqp_dlv *d = l->head;

	if (d != NULL) {
		l->head = d->next;
		if (l->head == NULL)
			l->tail = NULL;
		d->next = NULL;
	}
	return d;
}

/* Runs every confirm callback, then every delivery callback, of one batch. */
static void amqp_dispatch(struct amqp *a)
{
	struct amqp_pubreq *r;
	struct amqp_dlv *d;
	bool pub_up, sub_up;
	unsigned pub_c, sub_c;

	amqp_lock(a);
	amqp_publist_move(&a->disp_pubs, &a->pub_out);
	if (a->sub_out.head != NULL) {
		if (a->disp_dlvs.tail != NULL)
			a->disp_dlvs.tail->next = a->sub_out.head;
		else
			a->disp_dlvs.head = a->sub_out.head;
		a->disp_dlvs.tail = a->sub_out.tail;
		a->sub_out.head = a->sub_out.tail = NULL;
	}
	pub_up = a->pub_up;
	sub_up = a->sub_up;
	pub_c = a->pub_connects;
	sub_c = a->sub_connects;
	amqp_unlock(a);
	amqp_update_state(a, pub_up, pub_c, sub_up, sub_c);

	a->entered++;
	while (!a->closing && (r = amqp_publist_pop(&a->disp_pubs)) != NULL)
		amqp_pub_finish(a, r);
	while (!a->closing && (d = amqp_dlvlist_pop(&a->disp_dlvs)) != NULL)
		amqp_deliver(a, d);
	a->entered--;
}

static void amqp_destroy(struct amqp *a);

static void amqp_on_loop_event(evutil_socket_t fd, short what, void *arg)
{
	struct amqp *a = arg;
	uint64_t n;
	ssize_t r;

	do
		r = read(fd, &n, sizeof(n));
	while (r < 0 && errno == EINTR);
	amqp_dispatch(a);
	if (a->free_deferred && a->entered == 0)
		amqp_destroy(a);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int amqp_start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0)
		return -1;
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

/* Joins t; if it has not finished by the deadline (blocked in a send or an RPC on a dead
 * peer), shuts its socket down under it so librabbitmq returns an error. */
static void amqp_join(struct amqp *a, pthread_t t, int *fd, const struct timespec *deadline)
{
	if (pthread_timedjoin_np(t, NULL, deadline) == 0)
		return;
	log_warn(NULL, "amqp thread slow to stop; shutting its socket down");
	amqp_lock(a);
	if (*fd >= 0)
		shutdown(*fd, SHUT_RDWR);
	amqp_unlock(a);
	pthread_join(t, NULL);
}

/* Both threads stop in parallel (each may spend up to AMQP_DRAIN_MS on confirms), under one
 * common grace period. */
static void amqp_stop_threads(struct amqp *a)
{
	struct timespec deadline;

	amqp_lock(a);
	a->stopping = true;
	amqp_unlock(a);
	amqp_wake(a->pub_efd);
	amqp_wake(a->sub_efd);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += AMQP_JOIN_GRACE_S;
	if (a->pub_started) {
		amqp_join(a, a->pub_thr, &a->pub_fd, &deadline);
		a->pub_started = false;
	}
	if (a->sub_started) {
		amqp_join(a, a->sub_thr, &a->sub_fd, &deadline);
		a->sub_started = false;
	}
}

static char *amqp_strdup(const char *s, const char *dflt)
{
	return strdup(s != NULL ? s : dflt);
}

static int amqp_init(struct amqp *a, struct event_base *base, const struct amqp_opts *o)
{
	a->base = base;
	a->loop_efd = a->pub_efd = a->sub_efd = -1;
	a->pub_fd = a->sub_fd = -1;
	a->port = o->port;
	a->heartbeat_s = o->heartbeat_s;
	a->prefetch = o->prefetch;
	a->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 3000;
	a->max_pending = o->max_pending_publish > 0 ? o->max_pending_publish : 10000;
	a->m = o->metrics;
	a->host = amqp_strdup(o->host, "127.0.0.1");
	a->user = amqp_strdup(o->user, "guest");
	a->password = amqp_strdup(o->password, "guest");
	a->vhost = amqp_strdup(o->vhost, "/");
	a->service = amqp_strdup(o->service, "flatrender");
	if (!a->host || !a->user || !a->password || !a->vhost || !a->service)
		return -1;
	a->loop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->pub_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->sub_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->loop_efd < 0 || a->pub_efd < 0 || a->sub_efd < 0)
		return -1;
	a->ev = event_new(base, a->loop_efd, EV_READ | EV_PERSIST, amqp_on_loop_event, a);
	if (a->ev == NULL || event_add(a->ev, NULL) != 0)
		return -1;
	return 0;
}

struct amqp *amqp_new(struct event_base *base, const struct amqp_opts *o)
{
	struct amqp *a;

	if (base == NULL || o == NULL || o->port < 1 || o->port > 65535 || o->heartbeat_s < 0 ||
	    o->prefetch < 0 || o->prefetch > 65535)
		return NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return NULL;
	}
	if (amqp_init(a, base, o) < 0)
		goto fail;
	amqp_declare_metrics(a);
	if (amqp_start_thread(&a->pub_thr, amqp_pub_thread, a) < 0)
		goto fail;
	a->pub_started = true;
	return a;
fail:
	amqp_destroy(a);
	return NULL;
}

static void amqp_free_queues(struct amqp *a)
{
	struct amqp_queue *q, *next;

	for (q = a->queues; q != NULL; q = next) {
		next = q->next;
		amqp_queue_free(q);
	}
	a->queues = a->queues_tail = NULL;
}

static void amqp_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Frees what is left once the threads are gone and every callback has run. */
static void amqp_destroy(struct amqp *a)
{
	amqp_stop_threads(a);
	if (a->ev != NULL) {
		event_del(a->ev);
		event_free(a->ev);
	}
	amqp_free_queues(a);
	amqp_close_fd(&a->loop_efd);
	amqp_close_fd(&a->pub_efd);
	amqp_close_fd(&a->sub_efd);
	if (a->password != NULL)
		explicit_bzero(a->password, strlen(a->password));
	free(a->host);
	free(a->user);
	free(a->password);
	free(a->vhost);
	free(a->service);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

void amqp_free(struct amqp *a)
{
	struct amqp_publist fail = {NULL, NULL}, done = {NULL, NULL};
	struct amqp_pubreq *r;

	if (a == NULL || a->closing)
		return;
	a->closing = true;
	amqp_stop_threads(a);
	/* The threads are gone: every list is ours. Results already known keep their outcome;
	 * publishes never sent fail. */
	amqp_lock(a);
	amqp_publist_move(&done, &a->disp_pubs);
	amqp_publist_move(&done, &a->pub_out);
	amqp_publist_move(&fail, &a->pub_in);
	amqp_unlock(a);
	a->entered++;
	while ((r = amqp_publist_pop(&done)) != NULL)
		amqp_pub_finish(a, r);
	while ((r = amqp_publist_pop(&fail)) != NULL) {
		r->result = AMQP_PUB_FAILED;
		amqp_pub_finish(a, r);
	}
	a->entered--;
	amqp_dlvlist_free(&a->disp_dlvs);
	amqp_dlvlist_free(&a->sub_out);
	amqp_dlvlist_free(&a->sub_in);
	amqp_outstanding_free(a);
	if (a->entered > 0) {
		a->free_deferred = true; /* called from a callback: the dispatcher finishes */
		return;
	}
	amqp_destroy(a);
}

/* ---- publishing ----------------------------------------------------------------------------- */

static struct amqp_pubreq *amqp_pubreq_new(const char *rk, const char *mid, const void *body,
					   size_t len, amqp_confirm_cb cb, void *arg)
{
	size_t rkl = strlen(rk), midl = mid != NULL ? strlen(mid) : 0;
	struct amqp_pubreq *r;
	char *p;

	if (len > SIZE_MAX - sizeof(*r) - rkl - midl - 3)
		return NULL;
	if ((r = malloc(sizeof(*r) + len + rkl + midl + 3)) == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->cb = cb;
	r->arg = arg;
	r->len = len;
	p = r->buf;
	if (len > 0)
		memcpy(p, body, len);
	p[len] = '\0';
	p += len + 1;
	memcpy(p, rk, rkl + 1);
	r->routing_key = p;
	p += rkl + 1;
	if (mid != NULL) {
		memcpy(p, mid, midl + 1);
		r->message_id = p;
	}
	return r;
}

int amqp_publish(struct amqp *a, const char *routing_key, const char *message_id, const void *body,
		 size_t len, amqp_confirm_cb cb, void *arg)
{
	struct amqp_pubreq *r;
	bool up, wake;

	if (a == NULL || a->closing || routing_key == NULL || (body == NULL && len > 0) ||
	    strlen(routing_key) > AMQP_NAME_MAX ||
	    (message_id != NULL && strlen(message_id) > AMQP_NAME_MAX))
		return -1;
	if (a->pending >= (size_t)a->max_pending)
		return -1;
	if ((r = amqp_pubreq_new(routing_key, message_id, body, len, cb, arg)) == NULL)
		return -1;
	amqp_lock(a);
	up = a->pub_up && !a->stopping;
	wake = up && a->pub_in.head == NULL;
	if (up)
		amqp_publist_push(&a->pub_in, r);
	amqp_unlock(a);
	if (!up) {
		free(r);
		return -1;
	}
	a->pending++;
	if (wake)
		amqp_wake(a->pub_efd);
	return 0;
}
