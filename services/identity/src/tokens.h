/*
 * tokens.h - the tokens identity hands out: opaque refresh tokens and ES256 access JWTs.
 *
 * Refresh token: "frt_" + 43 base64url characters (32 random bytes). Only its SHA-256 (lower
 * case hex) is stored. Access token: a JWT with the claims of api.md, signed by the
 * keyring's current key.
 */
#ifndef IDENTITY_TOKENS_H
#define IDENTITY_TOKENS_H

#include <stdbool.h>
#include <time.h>

#include "common/jwt.h"

#define MUST_CHECK __attribute__((warn_unused_result))
#define REFRESH_TOKEN_PREFIX "frt_"
#define REFRESH_TOKEN_LEN 47 /* "frt_" + 43 */

/* A new refresh token (out, NUL-terminated) and its storage hash. 0, or -1 (no entropy). */
int refresh_token_new(char out[REFRESH_TOKEN_LEN + 1], char hash_hex[65]) MUST_CHECK;
/* True when tok has the exact refresh-token shape (prefix, length, alphabet). */
bool refresh_token_well_formed(const char *tok);
/* Lower-case hex SHA-256 of the token, as stored in refresh_tokens.token_hash. */
void refresh_token_hash(const char *tok, char hash_hex[65]);

struct access_claims {
	const char *issuer;
	const char *audience;
	const char *user_id;
	const char *tenant_id;
	const char *session_id;
	bool is_admin;
	bool is_tenant_admin;
	time_t now;
	long ttl_s;
};

/* The claims object {iss, aud, sub, tid, sid, adm, tadm, iat, nbf, exp, jti}; caller puts. */
json_object *access_claims_to_json(const struct access_claims *c);
/* A signed access token (malloc'd, caller frees) or NULL. */
char *access_token_sign(const struct jwt_key *k, const struct access_claims *c);

#endif
