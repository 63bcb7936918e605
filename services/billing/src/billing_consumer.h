/*
 * billing_consumer.h - what billing consumes: identity.user.registered.v1 on the durable
 * queue "billing.user-registered" -> the user's wallet, and the starter plan when
 * BILLING_STARTER_PLAN names one, in the message's transaction (common/consumer.h: the inbox
 * makes a redelivery a no-op, so the effect happens once).
 */
#ifndef BILLING_CONSUMER_H
#define BILLING_CONSUMER_H

#define BILLING_QUEUE_USER_REGISTERED "billing.user-registered"

struct billing_app;
struct consumer;

/* Declares and consumes the queue through app->amqp (app borrowed). NULL on failure. */
struct consumer *billing_consumer_start(struct billing_app *app);

#endif
