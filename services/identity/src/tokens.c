/*
 * tokens.c - refresh-token format and hashing, access-token claims and signing.
 *
 * Owns nothing; pure apart from the random bytes of a new refresh token.
 */
#include "tokens.h"

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/json.h"

int refresh_token_new(char out[REFRESH_TOKEN_LEN + 1], char hash_hex[65])
{
	unsigned char raw[32];
	char b64[48];

	if (crypto_random(raw, sizeof(raw)) != 0)
		return -1;
	if (b64url_encode(raw, sizeof(raw), b64, sizeof(b64)) != 43)
		return -1;
	explicit_bzero(raw, sizeof(raw));
	memcpy(out, REFRESH_TOKEN_PREFIX, 4);
	memcpy(out + 4, b64, 44); /* 43 characters and the NUL */
	refresh_token_hash(out, hash_hex);
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool refresh_token_well_formed(const char *tok)
{
	if (tok == NULL || strncmp(tok, REFRESH_TOKEN_PREFIX, 4) != 0)
		return false;
	for (size_t i = 4; i < REFRESH_TOKEN_LEN; i++)
		if (!b64url_char(tok[i]))
			return false; /* also stops at the NUL of a short token */
	return tok[REFRESH_TOKEN_LEN] == '\0';
}

void refresh_token_hash(const char *tok, char hash_hex[65])
{
	sha256_hex(tok, strlen(tok), hash_hex);
}

json_object *access_claims_to_json(const struct access_claims *c)
{
	json_object *o = json_object_new_object();
	char jti[UUID_STR_LEN];

	if (o == NULL)
		return NULL;
	uuid_v4(jti);
	json_set_str(o, "iss", c->issuer);
	json_set_str(o, "aud", c->audience);
	json_set_str(o, "sub", c->user_id);
	json_set_str(o, "tid", c->tenant_id);
	json_set_str(o, "sid", c->session_id);
	json_set_bool(o, "adm", c->is_admin);
	json_set_bool(o, "tadm", c->is_tenant_admin);
	json_set_int(o, "iat", (int64_t)c->now);
	json_set_int(o, "nbf", (int64_t)c->now);
	json_set_int(o, "exp", (int64_t)c->now + c->ttl_s);
	json_set_str(o, "jti", jti);
	return o;
}

char *access_token_sign(const struct jwt_key *k, const struct access_claims *c)
{
	json_object *claims = access_claims_to_json(c);
	char *tok;

	if (claims == NULL)
		return NULL;
	tok = jwt_sign(k, claims);
	json_object_put(claims);
	return tok;
}
