/*
 * amqp_link.c - one blocking librabbitmq connection, as used by the bridge's threads:
 * connect with a timeout, log in, open the working channel, declare the exchange and a
 * queue's topology, publish with our message properties, read frames without blocking while
 * keeping librabbitmq's heartbeat logic fed, wait on the socket plus a wake fd, back off.
 *
 * Owns nothing beyond the struct amqp_link it is given (the connection inside it). Runs on
 * the publisher and consumer threads only, never on the loop. Never logs the password.
 */
#include "amqp_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

int64_t amqp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool amqp_stopping(struct amqp *a)
{
	bool s;

	amqp_lock(a);
	s = a->stopping;
	amqp_unlock(a);
	return s;
}

static void link_set_shared_fd(struct amqp_link *l, int fd)
{
	amqp_lock(l->a);
	*l->shared_fd = fd;
	amqp_unlock(l->a);
}

/* Describes a failed RPC reply into buf. */
static const char *link_reply_str(amqp_rpc_reply_t r, char *buf, size_t cap)
{
	const amqp_connection_close_t *cc;
	const amqp_channel_close_t *ch;

	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL: snprintf(buf, cap, "ok"); break;
	case AMQP_RESPONSE_NONE: snprintf(buf, cap, "missing rpc reply"); break;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		snprintf(buf, cap, "%s", amqp_error_string2(r.library_error));
		break;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD && r.reply.decoded != NULL) {
			cc = r.reply.decoded;
			snprintf(buf, cap, "connection closed by broker: %u %.*s", cc->reply_code,
				 (int)cc->reply_text.len, (const char *)cc->reply_text.bytes);
		} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD && r.reply.decoded != NULL) {
			ch = r.reply.decoded;
			snprintf(buf, cap, "channel closed by broker: %u %.*s", ch->reply_code,
				 (int)ch->reply_text.len, (const char *)ch->reply_text.bytes);
		} else {
			snprintf(buf, cap, "unexpected broker method 0x%08x", r.reply.id);
		}
		break;
	}
	return buf;
}

int amqp_link_check(struct amqp_link *l, amqp_rpc_reply_t r, const char *what)
{
	char buf[320];

	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	log_warn(NULL, "amqp call failed", LS("role", l->role), LS("call", what),
		 LS("error", link_reply_str(r, buf, sizeof(buf))));
	return -1;
}

static int link_fail(struct amqp_link *l, const char *what, int status)
{
	log_warn(NULL, "amqp connection failed", LS("role", l->role), LS("step", what),
		 LS("host", l->a->host), LI("port", l->a->port),
		 LS("error", amqp_error_string2(status)));
	return -1;
}

static int link_login(struct amqp_link *l)
{
	struct amqp *a = l->a;
	amqp_table_entry_t prop;
	amqp_table_t props;
	amqp_rpc_reply_t r;

	prop.key = amqp_cstring_bytes("connection_name");
	prop.value.kind = AMQP_FIELD_KIND_UTF8;
	prop.value.value.bytes = amqp_cstring_bytes(a->service);
	props.num_entries = 1;
	props.entries = &prop;
	r = amqp_login_with_properties(l->conn, a->vhost, AMQP_DEFAULT_MAX_CHANNELS,
				       AMQP_DEFAULT_FRAME_SIZE, a->heartbeat_s, &props,
				       AMQP_SASL_METHOD_PLAIN, a->user, a->password);
	if (amqp_link_check(l, r, "login") < 0)
		return -1;
	amqp_channel_open(l->conn, AMQP_CH);
	if (amqp_link_check(l, amqp_get_rpc_reply(l->conn), "channel.open") < 0)
		return -1;
	amqp_exchange_declare(l->conn, AMQP_CH, amqp_cstring_bytes(AMQP_EXCHANGE),
			      amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
	return amqp_link_check(l, amqp_get_rpc_reply(l->conn), "exchange.declare");
}

/* True when fd's local and peer addresses are the same (a loopback self-connect). */
static bool link_self_connected(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&a, &al) != 0 ||
	    getpeername(fd, (struct sockaddr *)&b, &bl) != 0)
		return false;
	return al == bl && memcmp(&a, &b, al) == 0;
}

int amqp_link_open(struct amqp_link *l)
{
	struct amqp *a = l->a;
	struct timeval ctv, rtv;
	amqp_socket_t *sock;
	int rc;

	ctv.tv_sec = a->connect_timeout_ms / 1000;
	ctv.tv_usec = (a->connect_timeout_ms % 1000) * 1000;
	/* RPCs (login, declares, close) may take a little longer than a TCP connect. */
	rtv.tv_sec = ctv.tv_sec * 2 + 5;
	rtv.tv_usec = 0;
	if ((l->conn = amqp_new_connection()) == NULL)
		return link_fail(l, "alloc", AMQP_STATUS_NO_MEMORY);
	if ((sock = amqp_tcp_socket_new(l->conn)) == NULL) {
		link_fail(l, "socket", AMQP_STATUS_NO_MEMORY);
		goto fail;
	}
	if (amqp_set_handshake_timeout(l->conn, &rtv) != AMQP_STATUS_OK ||
	    amqp_set_rpc_timeout(l->conn, &rtv) != AMQP_STATUS_OK) {
		link_fail(l, "timeouts", AMQP_STATUS_INVALID_PARAMETER);
		goto fail;
	}
	rc = amqp_socket_open_noblock(sock, a->host, a->port, &ctv);
	if (rc != AMQP_STATUS_OK) {
		link_fail(l, "connect", rc);
		goto fail;
	}
	l->fd = amqp_get_sockfd(l->conn);
	if (link_self_connected(l->fd)) {
		/* nothing listened and the kernel picked the broker's port as our ephemeral port:
		 * TCP simultaneous open joined the socket to itself, and it would hold the port the
		 * broker needs to bind when it comes back */
		link_fail(l, "connect (self-connected: broker not listening)", AMQP_STATUS_SOCKET_ERROR);
		goto fail;
	}
	link_set_shared_fd(l, l->fd);
	if (link_login(l) < 0)
		goto fail;
	l->hb_ms = amqp_get_heartbeat(l->conn) * 1000;
	l->next_hb_check_ms = amqp_now_ms() + l->hb_ms / 2;
	l->backoff_ms = AMQP_BACKOFF_MIN_MS;
	log_info(NULL, "amqp connected", LS("role", l->role), LS("host", a->host),
		 LI("port", a->port), LS("vhost", a->vhost), LI("heartbeat_s", l->hb_ms / 1000));
	return 0;
fail:
	amqp_link_close(l, false);
	return -1;
}

void amqp_link_close(struct amqp_link *l, bool graceful)
{
	if (l->conn == NULL)
		return;
	if (graceful)
		(void)amqp_connection_close(l->conn, AMQP_REPLY_SUCCESS);
	link_set_shared_fd(l, -1);
	amqp_destroy_connection(l->conn);
	l->conn = NULL;
	l->fd = -1;
	l->hb_ms = 0;
}

int amqp_link_wait(struct amqp_link *l, int wake_fd, int timeout_ms)
{
	struct pollfd p[2];
	nfds_t n = 1;
	uint64_t v;
	int rc;

	p[0].fd = wake_fd;
	p[0].events = POLLIN;
	p[0].revents = 0;
	if (l->conn != NULL && l->fd >= 0) {
		p[1].fd = l->fd;
		p[1].events = POLLIN;
		p[1].revents = 0;
		n = 2;
	}
	if (timeout_ms < 0)
		timeout_ms = l->hb_ms > 0 ? l->hb_ms / 2 : 1000;
	rc = poll(p, n, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -1;
	if (p[0].revents & POLLIN) {
		ssize_t r;

		do
			r = read(wake_fd, &v, sizeof(v));
		while (r < 0 && errno == EINTR);
	}
	return 0;
}

int amqp_link_read(struct amqp_link *l, amqp_frame_t *f)
{
	struct timeval tv = {0, 0};
	int64_t now;
	int rc;

	/* A zero timeout never blocks and lets librabbitmq send a heartbeat when one is due.
	 * Once per half period, wait 1 ms instead: only a non-zero deadline lets librabbitmq
	 * notice that the broker's heartbeats stopped (it then closes the socket). */
	if (l->hb_ms > 0 && (now = amqp_now_ms()) >= l->next_hb_check_ms) {
		tv.tv_usec = 1000;
		l->next_hb_check_ms = now + l->hb_ms / 2;
	}
	rc = amqp_simple_wait_frame_noblock(l->conn, f, &tv);
	if (rc == AMQP_STATUS_OK)
		return 1;
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	link_fail(l, "read", rc);
	return -1;
}

int amqp_link_other_frame(struct amqp_link *l, const amqp_frame_t *f)
{
	amqp_channel_close_ok_t chok;
	amqp_connection_close_ok_t cok;
	amqp_rpc_reply_t r;

	if (f->frame_type != AMQP_FRAME_METHOD)
		return 0;
	memset(&r, 0, sizeof(r));
	r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
	r.reply = f->payload.method;
	switch (f->payload.method.id) {
	case AMQP_CHANNEL_CLOSE_METHOD:
		amqp_link_check(l, r, "channel");
		(void)amqp_send_method(l->conn, f->channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &chok);
		return -1;
	case AMQP_CONNECTION_CLOSE_METHOD:
		amqp_link_check(l, r, "connection");
		(void)amqp_send_method(l->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &cok);
		/* The broker is gone; nothing more to say to it. */
		amqp_link_close(l, false);
		return -1;
	case AMQP_BASIC_CANCEL_METHOD:
		log_warn(NULL, "amqp consumer cancelled by broker", LS("role", l->role));
		return -1;
	default: return 0;
	}
}

void amqp_link_backoff_arm(struct amqp_link *l)
{
	if (l->backoff_ms < AMQP_BACKOFF_MIN_MS)
		l->backoff_ms = AMQP_BACKOFF_MIN_MS;
	l->retry_at_ms = amqp_now_ms() + l->backoff_ms;
	l->backoff_ms = l->backoff_ms * 2 > AMQP_BACKOFF_MAX_MS ? AMQP_BACKOFF_MAX_MS
								: l->backoff_ms * 2;
}

int amqp_link_backoff_left(const struct amqp_link *l)
{
	int64_t left = l->retry_at_ms - amqp_now_ms();

	return left > 0 ? (int)left : 0;
}

static int link_declare(struct amqp_link *l, const char *name, bool durable, bool exclusive,
			amqp_table_t args, char *name_out)
{
	amqp_queue_declare_ok_t *ok;

	ok = amqp_queue_declare(l->conn, AMQP_CH, amqp_cstring_bytes(name), 0, durable, exclusive,
				exclusive, args);
	if (amqp_link_check(l, amqp_get_rpc_reply(l->conn), "queue.declare") < 0 || ok == NULL)
		return -1;
	if (name_out != NULL) {
		size_t n = ok->queue.len > AMQP_NAME_MAX ? AMQP_NAME_MAX : ok->queue.len;

		memcpy(name_out, ok->queue.bytes, n);
		name_out[n] = '\0';
	}
	return 0;
}

static int link_bind(struct amqp_link *l, const char *queue, const struct amqp_queue *q)
{
	for (int i = 0; i < q->nkeys; i++) {
		amqp_queue_bind(l->conn, AMQP_CH, amqp_cstring_bytes(queue),
				amqp_cstring_bytes(AMQP_EXCHANGE), amqp_cstring_bytes(q->keys[i]),
				amqp_empty_table);
		if (amqp_link_check(l, amqp_get_rpc_reply(l->conn), "queue.bind") < 0)
			return -1;
	}
	return 0;
}

int amqp_link_declare_queue(struct amqp_link *l, const struct amqp_queue *q, char *name_out)
{
	amqp_table_entry_t quorum, retry[3];
	amqp_table_t qargs = {1, &quorum};
	amqp_table_t rargs = {3, retry};

	if (q->exclusive) {
		if (link_declare(l, q->name, false, true, amqp_empty_table, name_out) < 0)
			return -1;
		return link_bind(l, name_out, q);
	}
	quorum.key = amqp_cstring_bytes("x-queue-type");
	quorum.value.kind = AMQP_FIELD_KIND_UTF8;
	quorum.value.value.bytes = amqp_cstring_bytes("quorum");
	retry[0].key = amqp_cstring_bytes("x-message-ttl");
	retry[0].value.kind = AMQP_FIELD_KIND_I64;
	retry[0].value.value.i64 = q->retry_delay_ms;
	retry[1].key = amqp_cstring_bytes("x-dead-letter-exchange");
	retry[1].value.kind = AMQP_FIELD_KIND_UTF8;
	retry[1].value.value.bytes = amqp_cstring_bytes("");
	retry[2].key = amqp_cstring_bytes("x-dead-letter-routing-key");
	retry[2].value.kind = AMQP_FIELD_KIND_UTF8;
	retry[2].value.value.bytes = amqp_cstring_bytes(q->name);
	if (link_declare(l, q->name, true, false, qargs, name_out) < 0 ||
	    link_bind(l, q->name, q) < 0)
		return -1;
	if (link_declare(l, q->retry_name, true, false, rargs, NULL) < 0)
		return -1;
	return link_declare(l, q->dlq_name, true, false, qargs, NULL);
}

int amqp_link_publish(struct amqp_link *l, amqp_channel_t ch, const char *exchange,
		      const char *routing_key, const char *message_id, const amqp_table_t *headers,
		      const void *body, size_t len)
{
	amqp_basic_properties_t p;
	amqp_bytes_t b;
	int rc;

	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	if (message_id != NULL) {
		p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
		p.message_id = amqp_cstring_bytes(message_id);
	}
	if (headers != NULL) {
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
		p.headers = *headers;
	}
	b.bytes = (void *)body;
	b.len = len;
	rc = amqp_basic_publish(l->conn, ch, amqp_cstring_bytes(exchange),
				amqp_cstring_bytes(routing_key), 0, 0, &p, b);
	if (rc != AMQP_STATUS_OK)
		return link_fail(l, "publish", rc);
	return 0;
}
