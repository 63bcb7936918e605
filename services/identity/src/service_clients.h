/*
 * service_clients.h - the service clients identity mints service tokens for, and the
 * audiences they may ask for.
 *
 * IDENTITY_SERVICE_CLIENTS is a comma-separated list of "name:sha256hex" (the lowercase or
 * uppercase hex SHA-256 of that client's secret); names are 1..63 of [a-z0-9_-] and unique.
 * Empty (FR_ENV=local only) = SERVICE_CLIENTS_LOCAL, each with the secret derived from
 * FR_INTERNAL_SECRET (fr_common_derive_service_secret), which is what each daemon uses when
 * its FR_SERVICE_CLIENT_SECRET is empty. Only the SHA-256 of a secret is ever kept; a
 * presented secret is hashed and compared in constant time (an unknown name is compared
 * against a dummy hash, so the timing tells nothing either).
 *
 * Failed attempts are counted per (client name, caller IP) in process memory (fixed window):
 * after SERVICE_CLIENTS_MAX_FAILS failures in SERVICE_CLIENTS_WINDOW_S seconds further
 * attempts of that name from that address are refused (429) until the window ends. Per
 * address, so that anyone able to reach identity cannot lock the gateway's client out.
 */
#ifndef IDENTITY_SERVICE_CLIENTS_H
#define IDENTITY_SERVICE_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SERVICE_CLIENTS_LOCAL "gateway,billing,render,file,notification"
/* The daemons a service token may be addressed to (its aud). */
#define SERVICE_AUDIENCES "identity,gateway,billing,render,file,notification"
#define SERVICE_CLIENTS_MAX 64
#define SERVICE_CLIENTS_WINDOW_S 60
#define SERVICE_CLIENTS_MAX_FAILS 10

struct service_clients;

/* Parses spec ("" = the local defaults derived from internal_secret; pass allow_default
 * false outside FR_ENV=local to refuse it). NULL with a reason in err (never a secret). */
struct service_clients *service_clients_new(const char *spec, bool allow_default,
					    const char *internal_secret, char *err, size_t errlen);
void service_clients_free(struct service_clients *sc);
size_t service_clients_count(const struct service_clients *sc);

/* True when client_id is known and secret is its secret (constant time in the secret). */
bool service_clients_verify(const struct service_clients *sc, const char *client_id,
			    const char *secret);
/* True when audience names a FlatRender daemon (SERVICE_AUDIENCES). */
bool service_audience_known(const char *audience);

/* Failure throttling per (client_id, ip): seconds to wait before client_id may try again
 * from ip (0 = may try now), and counting one failure. client_id may be any text and ip the
 * caller's address text (NULL = ""); both are only a counter key. */
long service_clients_blocked(struct service_clients *sc, const char *client_id, const char *ip,
			     time_t now);
void service_clients_failed(struct service_clients *sc, const char *client_id, const char *ip,
			    time_t now);

#endif
