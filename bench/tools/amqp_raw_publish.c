/*
 * amqp_raw_publish.c - the broker's own ceiling for our publish path, and the measuring
 * consumer of bench/outbox-relay.sh, with plain librabbitmq (no libcommon bridge).
 *
 *   amqp_raw_publish publish -k KEY [-n 20000] [-s 300] [-c 100] [-m TEXT]
 *       publishes n persistent messages of s bytes (a small JSON object carrying "sent_ns"
 *       and "run": TEXT, padded) to flatrender.events with routing key KEY, in confirm mode,
 *       waiting for the broker's confirms after every c messages; prints one line
 *       "published=N failed=F seconds=S rate=R" (R = confirmed messages per second).
 *   amqp_raw_publish sink -q QUEUE -k KEY [-k KEY ..] [-n COUNT] [-t IDLE_S] [-m TEXT] [-l FILE]
 *       declares QUEUE (durable quorum queue, as the services' queues are), binds it to
 *       flatrender.events with every KEY, prints "ready", consumes (auto-ack) until COUNT
 *       messages arrived (0 = until idle) or nothing arrived for IDLE_S seconds (default 30),
 *       then prints "received=N other=O first_ns=A last_ns=B rate=R lat_n=M lat_p50_ms=..
 *       lat_p99_ms=.. lat_max_ms=..". Latency = arrival time (CLOCK_REALTIME) minus the
 *       message's "sent_ns" (ns since the epoch) or, without it, its envelope "occurred_at"
 *       (millisecond precision). -m: only messages whose body contains TEXT count (others,
 *       e.g. a late duplicate of an earlier run, are reported as other=N and ignored).
 *       -l writes one latency (ms) per line to FILE.
 *   amqp_raw_publish delete -q QUEUE
 *       deletes QUEUE (the bench's own queue, at the end).
 *
 * Connection from the environment: FR_AMQP_HOST (127.0.0.1), FR_AMQP_PORT (5672),
 * FR_AMQP_USER (guest), FR_AMQP_PASSWORD (guest), FR_AMQP_VHOST (/). Exit 0 on success, 1 on
 * a broker error, 2 on bad usage. Owns nothing beyond one connection per run.
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define RAW_EXCHANGE "flatrender.events"
#define RAW_MAX_KEYS 8
#define RAW_CH 1

struct raw_opts {
	const char *mode;
	const char *queue;
	const char *keys[RAW_MAX_KEYS];
	int nkeys;
	long count;
	long size;
	long confirm_every;
	long idle_s;
	const char *lat_file;
	const char *match;
};

/* ---- connection --------------------------------------------------------------------------- */

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static bool rpc_ok(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return true;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
		fprintf(stderr, "amqp_raw_publish: %s: %s\n", what,
			amqp_error_string2(r.library_error));
	else
		fprintf(stderr, "amqp_raw_publish: %s: broker refused (method 0x%08x)\n", what,
			(unsigned)r.reply.id);
	return false;
}

/* A logged-in connection with channel RAW_CH open, or NULL. */
static amqp_connection_state_t raw_connect(void)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = c ? amqp_tcp_socket_new(c) : NULL;
	const char *host = env_or("FR_AMQP_HOST", "127.0.0.1");
	int port = atoi(env_or("FR_AMQP_PORT", "5672"));

	if (!s || amqp_socket_open(s, host, port) != AMQP_STATUS_OK) {
		fprintf(stderr, "amqp_raw_publish: cannot connect to %s:%d\n", host, port);
		goto fail;
	}
	if (!rpc_ok(amqp_login(c, env_or("FR_AMQP_VHOST", "/"), 0, 131072, 30,
			       AMQP_SASL_METHOD_PLAIN, env_or("FR_AMQP_USER", "guest"),
			       env_or("FR_AMQP_PASSWORD", "guest")),
		    "login"))
		goto fail;
	amqp_channel_open(c, RAW_CH);
	if (!rpc_ok(amqp_get_rpc_reply(c), "channel.open"))
		goto fail;
	return c;
fail:
	if (c)
		amqp_destroy_connection(c);
	return NULL;
}

static void raw_close(amqp_connection_state_t c)
{
	amqp_channel_close(c, RAW_CH, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- publish ------------------------------------------------------------------------------ */

/* Fills buf (size bytes, no NUL needed) with {"seq":i,"sent_ns":t,"pad":"xx..."}. */
static size_t raw_body(char *buf, size_t size, long seq, const char *mark)
{
	int n = snprintf(buf, size,
			 "{\"event_type\":\"bench.raw.probe.v1\",\"data\":{\"run\":\"%s\","
			 "\"seq\":%ld,\"sent_ns\":%" PRId64 ",\"pad\":\"",
			 mark, seq, now_ns(CLOCK_REALTIME));
	size_t len = n > 0 && (size_t)n < size ? (size_t)n : 0;

	while (len + 3 < size)
		buf[len++] = 'x';
	if (len + 3 <= size) {
		memcpy(buf + len, "\"}}", 3);
		len += 3;
	}
	return len;
}

/* Waits until every publish up to tag `last` is confirmed; counts nacks into *failed. */
static int raw_wait_confirms(amqp_connection_state_t c, uint64_t last, long *failed)
{
	uint64_t done = 0;
	amqp_frame_t f;

	while (done < last) {
		if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) {
			fprintf(stderr, "amqp_raw_publish: connection lost waiting for confirms\n");
			return -1;
		}
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			amqp_basic_ack_t *a = f.payload.method.decoded;

			done = a->delivery_tag > done ? a->delivery_tag : done;
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			amqp_basic_nack_t *n = f.payload.method.decoded;

			*failed += n->multiple ? (long)(n->delivery_tag - done) : 1;
			done = n->delivery_tag > done ? n->delivery_tag : done;
		} else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
			   f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
			fprintf(stderr, "amqp_raw_publish: the broker closed the channel\n");
			return -1;
		}
	}
	return 0;
}

static int raw_publish(const struct raw_opts *o)
{
	amqp_connection_state_t c = raw_connect();
	amqp_basic_properties_t p = {0};
	char *buf = malloc((size_t)o->size);
	long sent = 0, failed = 0;
	int64_t t0;
	double secs;
	int rc = 1;

	if (!c || !buf)
		goto out;
	amqp_confirm_select(c, RAW_CH);
	if (!rpc_ok(amqp_get_rpc_reply(c), "confirm.select"))
		goto out;
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
	p.delivery_mode = 2;
	p.content_type = amqp_cstring_bytes("application/json");
	t0 = now_ns(CLOCK_MONOTONIC);
	while (sent < o->count) {
		long batch = o->count - sent < o->confirm_every ? o->count - sent
								: o->confirm_every;

		for (long i = 0; i < batch; i++) {
			amqp_bytes_t body = {.len = raw_body(buf, (size_t)o->size, sent + i,
							     o->match ? o->match : ""),
					     .bytes = buf};

			if (amqp_basic_publish(c, RAW_CH, amqp_cstring_bytes(RAW_EXCHANGE),
					       amqp_cstring_bytes(o->keys[0]), 0, 0, &p,
					       body) != AMQP_STATUS_OK) {
				fprintf(stderr, "amqp_raw_publish: publish failed\n");
				goto out;
			}
		}
		sent += batch;
		if (raw_wait_confirms(c, (uint64_t)sent, &failed) != 0)
			goto out;
	}
	secs = (double)(now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	printf("published=%ld failed=%ld seconds=%.3f rate=%.0f\n", sent, failed, secs,
	       (double)(sent - failed) / secs);
	rc = failed == 0 ? 0 : 1;
out:
	free(buf);
	if (c)
		raw_close(c);
	return rc;
}

/* ---- sink --------------------------------------------------------------------------------- */

/* The value after "key" and its colon (JSON whitespace allowed around it), or NULL. */
static const char *raw_member(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	if (!p)
		return NULL;
	p += strlen(key);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Send time (ns since the epoch) found in a body, or -1. */
static int64_t raw_sent_ns(const char *b, size_t len)
{
	char tmp[1024];
	const char *p;
	size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
	struct tm tm;
	double frac = 0;
	char *end;

	memcpy(tmp, b, n); /* the fields of interest are near the start */
	tmp[n] = '\0';
	if ((p = raw_member(tmp, "\"sent_ns\"")) != NULL)
		return strtoll(p, NULL, 10);
	if ((p = raw_member(tmp, "\"occurred_at\"")) == NULL || *p != '"')
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(p + 1, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.')
		frac = strtod(end, NULL);
	return (int64_t)timegm(&tm) * 1000000000 + (int64_t)(frac * 1e9);
}

static int raw_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double raw_pct(const double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return -1;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int raw_sink_setup(amqp_connection_state_t c, const struct raw_opts *o)
{
	amqp_table_entry_t qt = {.key = amqp_cstring_bytes("x-queue-type"),
				 .value = {.kind = AMQP_FIELD_KIND_UTF8,
					   .value.bytes = amqp_cstring_bytes("quorum")}};
	amqp_table_t args = {.num_entries = 1, .entries = &qt};

	amqp_exchange_declare(c, RAW_CH, amqp_cstring_bytes(RAW_EXCHANGE),
			      amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
	if (!rpc_ok(amqp_get_rpc_reply(c), "exchange.declare"))
		return -1;
	amqp_queue_declare(c, RAW_CH, amqp_cstring_bytes(o->queue), 0, 1, 0, 0, args);
	if (!rpc_ok(amqp_get_rpc_reply(c), "queue.declare"))
		return -1;
	for (int i = 0; i < o->nkeys; i++) {
		amqp_queue_bind(c, RAW_CH, amqp_cstring_bytes(o->queue),
				amqp_cstring_bytes(RAW_EXCHANGE), amqp_cstring_bytes(o->keys[i]),
				amqp_empty_table);
		if (!rpc_ok(amqp_get_rpc_reply(c), "queue.bind"))
			return -1;
	}
	amqp_basic_qos(c, RAW_CH, 0, 2000, 0);
	if (!rpc_ok(amqp_get_rpc_reply(c), "basic.qos"))
		return -1;
	amqp_basic_consume(c, RAW_CH, amqp_cstring_bytes(o->queue), amqp_empty_bytes, 0, 1, 0,
			   amqp_empty_table);
	return rpc_ok(amqp_get_rpc_reply(c), "basic.consume") ? 0 : -1;
}

struct raw_lat {
	double *v;
	size_t n, cap;
};

static int raw_lat_add(struct raw_lat *l, double ms)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		double *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = ms;
	return 0;
}

static void raw_sink_report(long got, long other, int64_t first, int64_t last, struct raw_lat *l,
			    const char *file)
{
	double span = (double)(last - first) / 1e9;
	FILE *f = file ? fopen(file, "w") : NULL;

	for (size_t i = 0; f && i < l->n; i++)
		fprintf(f, "%.3f\n", l->v[i]);
	if (f)
		fclose(f);
	qsort(l->v, l->n, sizeof(double), raw_cmp_double);
	printf("received=%ld other=%ld first_ns=%" PRId64 " last_ns=%" PRId64
	       " rate=%.0f lat_n=%zu "
	       "lat_p50_ms=%.2f lat_p99_ms=%.2f lat_max_ms=%.2f\n",
	       got, other, first, last, got > 1 && span > 0 ? (double)(got - 1) / span : 0.0, l->n,
	       raw_pct(l->v, l->n, 0.50), raw_pct(l->v, l->n, 0.99), l->n ? l->v[l->n - 1] : -1.0);
}

static int raw_sink(const struct raw_opts *o)
{
	amqp_connection_state_t c = raw_connect();
	struct raw_lat lat = {0};
	struct timeval idle = {o->idle_s, 0};
	int64_t first = 0, last = 0, sent, t;
	long got = 0, other = 0;
	int rc = 1;

	if (!c || raw_sink_setup(c, o) != 0)
		goto out;
	printf("ready\n");
	fflush(stdout);
	while (o->count == 0 || got < o->count) {
		amqp_envelope_t env;
		amqp_rpc_reply_t r;

		amqp_maybe_release_buffers(c);
		r = amqp_consume_message(c, &env, &idle, 0);
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
		    r.library_error == AMQP_STATUS_TIMEOUT)
			break; /* idle */
		if (!rpc_ok(r, "consume"))
			goto out;
		t = now_ns(CLOCK_REALTIME);
		if (o->match && !memmem(env.message.body.bytes, env.message.body.len, o->match,
					strlen(o->match))) {
			other++;
			amqp_destroy_envelope(&env);
			continue;
		}
		last = t;
		if (got++ == 0)
			first = last;
		sent = raw_sent_ns(env.message.body.bytes, env.message.body.len);
		amqp_destroy_envelope(&env);
		if (sent > 0 && raw_lat_add(&lat, (double)(last - sent) / 1e6) != 0)
			goto out;
	}
	raw_sink_report(got, other, first, last, &lat, o->lat_file);
	rc = o->count == 0 || got >= o->count ? 0 : 1;
out:
	free(lat.v);
	if (c)
		raw_close(c);
	return rc;
}

static int raw_delete(const struct raw_opts *o)
{
	amqp_connection_state_t c = raw_connect();
	int rc = 1;

	if (!c)
		return 1;
	amqp_queue_delete(c, RAW_CH, amqp_cstring_bytes(o->queue), 0, 0);
	if (rpc_ok(amqp_get_rpc_reply(c), "queue.delete"))
		rc = 0;
	raw_close(c);
	return rc;
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: amqp_raw_publish publish -k KEY [-n 20000] [-s 300] [-c 100] [-m TEXT]\n"
		"       amqp_raw_publish sink -q QUEUE -k KEY [-k KEY ...] [-n COUNT] [-t IDLE_S] "
		"[-m TEXT]\n"
		"                             [-l FILE]\n"
		"       amqp_raw_publish delete -q QUEUE\n"
		"  broker: FR_AMQP_HOST FR_AMQP_PORT FR_AMQP_USER FR_AMQP_PASSWORD "
		"FR_AMQP_VHOST\n");
	return 2;
}

static int raw_parse(int argc, char **argv, struct raw_opts *o)
{
	int ch;

	*o = (struct raw_opts){.count = 20000, .size = 300, .confirm_every = 100, .idle_s = 30};
	if (argc < 2)
		return -1;
	o->mode = argv[1];
	if (strcmp(o->mode, "sink") == 0)
		o->count = 0;
	optind = 2;
	while ((ch = getopt(argc, argv, "q:k:n:s:c:t:l:m:")) != -1) {
		switch (ch) {
		case 'q': o->queue = optarg; break;
		case 'k':
			if (o->nkeys == RAW_MAX_KEYS)
				return -1;
			o->keys[o->nkeys++] = optarg;
			break;
		case 'n': o->count = atol(optarg); break;
		case 's': o->size = atol(optarg); break;
		case 'c': o->confirm_every = atol(optarg); break;
		case 't': o->idle_s = atol(optarg); break;
		case 'l': o->lat_file = optarg; break;
		case 'm': o->match = optarg; break;
		default: return -1;
		}
	}
	if (optind != argc || o->count < 0 || o->size < 64 || o->size > 1048576 ||
	    o->confirm_every < 1 || o->idle_s < 1)
		return -1;
	if (strcmp(o->mode, "publish") == 0)
		return o->nkeys == 1 && o->count > 0 ? 0 : -1;
	if (strcmp(o->mode, "sink") == 0)
		return o->queue && o->nkeys > 0 ? 0 : -1;
	if (strcmp(o->mode, "delete") == 0)
		return o->queue ? 0 : -1;
	return -1;
}

int main(int argc, char **argv)
{
	struct raw_opts o;

	if (raw_parse(argc, argv, &o) != 0)
		return usage();
	if (strcmp(o.mode, "publish") == 0)
		return raw_publish(&o);
	if (strcmp(o.mode, "sink") == 0)
		return raw_sink(&o);
	return raw_delete(&o);
}
