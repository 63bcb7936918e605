/*
 * billing_pairs.c - the load generator of bench/billing-vs-pgbench.sh: reserve + capture pairs
 * on billing's internal holds API, closed loop.
 *
 *   billing_pairs -p PORT -u USERS_FILE [-c 16] [-d 10]
 *       runs c concurrent loops for d seconds against billing on 127.0.0.1:PORT; each loop
 *       POSTs /internal/v1/holds (1 second, a fresh idempotency key and reference) for the
 *       next user of USERS_FILE (lines "user_id tenant_id", round robin), then
 *       /internal/v1/holds/{id}/capture (1 second), and starts over. Prints one line
 *       "pairs=N errors=E seconds=S rate=R" (R = completed pairs per second).
 *
 * The service token (aud "billing") comes from the environment variable BILLING_TOKEN.
 * Exit 0 on success, 1 when no pair completed, 2 on bad usage. Owns its event base, its
 * http_client and one context per loop.
 */
#include <event2/event.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/http_client.h"

#define MAX_USERS 100000
#define MAX_LOOPS 1024

struct bench {
	struct event_base *base;
	struct http_client *http;
	char auth[2048];
	char (*users)[2][37];
	size_t nusers, next_user;
	long pairs, errors;
	bool stopping;
	int running;
};

struct loop {
	struct bench *b;
	char body[512];
	char target[96];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void loop_reserve(struct loop *l);

static int loop_post(struct loop *l, const char *target, http_client_cb cb)
{
	const struct http_client_header h[2] = {{"Authorization", l->b->auth},
						{"Content-Type", "application/json"}};
	struct http_client_request r = {HTTP_POST, target, h, 2, l->body, strlen(l->body), 0};

	return http_client_send(l->b->http, &r, cb, l);
}

static void loop_next(struct loop *l, bool ok)
{
	if (ok)
		l->b->pairs++;
	else
		l->b->errors++;
	if (l->b->stopping) {
		if (--l->b->running == 0)
			event_base_loopbreak(l->b->base);
		return;
	}
	loop_reserve(l);
}

static void loop_on_captured(enum http_client_err err, const struct http_client_response *resp,
			     void *arg)
{
	loop_next(arg, err == HC_OK && resp->status == 200);
}

static void loop_on_reserved(enum http_client_err err, const struct http_client_response *resp,
			     void *arg)
{
	struct loop *l = arg;
	json_object *o, *id;
	char key[UUID_STR_LEN];

	if (err != HC_OK || resp->status != 201 ||
	    (o = json_tokener_parse(resp->body)) == NULL) {
		loop_next(l, false);
		return;
	}
	if (!json_object_object_get_ex(o, "id", &id)) {
		json_object_put(o);
		loop_next(l, false);
		return;
	}
	snprintf(l->target, sizeof(l->target), "/internal/v1/holds/%s/capture",
		 json_object_get_string(id));
	json_object_put(o);
	uuid_v4(key);
	snprintf(l->body, sizeof(l->body), "{\"idempotency_key\":\"%s\",\"seconds\":1}", key);
	if (loop_post(l, l->target, loop_on_captured) < 0)
		loop_next(l, false);
}

static void loop_reserve(struct loop *l)
{
	struct bench *b = l->b;
	char key[UUID_STR_LEN], ref[UUID_STR_LEN];
	size_t u = b->next_user++ % b->nusers;

	uuid_v4(key);
	uuid_v4(ref);
	snprintf(l->body, sizeof(l->body),
		 "{\"idempotency_key\":\"%s\",\"user_id\":\"%s\",\"tenant_id\":\"%s\","
		 "\"seconds\":1,\"reference_type\":\"bench\",\"reference_id\":\"%s\"}",
		 key, b->users[u][0], b->users[u][1], ref);
	if (loop_post(l, "/internal/v1/holds", loop_on_reserved) < 0)
		loop_next(l, false);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;

	(void)fd;
	(void)what;
	b->stopping = true;
}

static int read_users(struct bench *b, const char *path)
{
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	b->users = calloc(MAX_USERS, sizeof(*b->users));
	while (b->users != NULL && b->nusers < MAX_USERS &&
	       fscanf(f, "%36s %36s", b->users[b->nusers][0], b->users[b->nusers][1]) == 2)
		b->nusers++;
	fclose(f);
	return b->nusers > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	struct http_client_opts o;
	const char *users = NULL, *token = getenv("BILLING_TOKEN");
	int port = 0, conc = 16, secs = 10, opt;
	struct timeval tv;
	struct loop *loops;
	struct event *deadline;
	double t0, t1;

	while ((opt = getopt(argc, argv, "p:u:c:d:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'u')
			users = optarg;
		else if (opt == 'c')
			conc = atoi(optarg);
		else if (opt == 'd')
			secs = atoi(optarg);
		else
			return 2;
	}
	if (port <= 0 || users == NULL || token == NULL || conc < 1 || conc > MAX_LOOPS ||
	    secs < 1 || read_users(&b, users) < 0) {
		fprintf(stderr, "usage: BILLING_TOKEN=.. billing_pairs -p PORT -u USERS [-c N] [-d S]\n");
		free(b.users);
		return 2;
	}
	snprintf(b.auth, sizeof(b.auth), "Bearer %s", token);
	b.base = event_base_new();
	http_client_opts_default(&o);
	o.host = "127.0.0.1";
	o.port = port;
	o.max_conns = conc;
	o.request_timeout_ms = 30000;
	b.http = http_client_new(b.base, &o);
	loops = calloc((size_t)conc, sizeof(*loops));
	deadline = evtimer_new(b.base, on_deadline, &b);
	tv = (struct timeval){secs, 0};
	evtimer_add(deadline, &tv);
	b.running = conc;
	t0 = now_s();
	for (int i = 0; i < conc; i++) {
		loops[i].b = &b;
		loop_reserve(&loops[i]);
	}
	event_base_dispatch(b.base);
	t1 = now_s();
	printf("pairs=%ld errors=%ld seconds=%.3f rate=%.1f\n", b.pairs, b.errors, t1 - t0,
	       (double)b.pairs / (t1 - t0));
	event_free(deadline);
	http_client_free(b.http);
	event_base_free(b.base);
	free(loops);
	free(b.users);
	return b.pairs > 0 ? 0 : 1;
}
