/*
 * cred_cache.h - best-effort Redis markers that make every gateway replica stop (or resume)
 * accepting an API key or a session at once, instead of when its cache entry expires:
 *   fr:apikey:<prefix> = "revoked" (common/apikey_cache.h), fr:sess:<sid> = "revoked|<reason>"
 *   (common/session_cache.h), or DEL of either when a tenant is reactivated.
 *
 * A batch groups the commands of one request: the done callback runs once every reply (or
 * failure, or timeout) is in, so the HTTP answer can wait for the markers. Failures are
 * logged, never fatal: the caches' own TTLs remain the safety net.
 */
#ifndef IDENTITY_CRED_CACHE_H
#define IDENTITY_CRED_CACHE_H

#include "app.h"

struct cred_batch;
typedef void (*cred_batch_done)(void *arg);

/* A batch in req's memory; done(arg) runs exactly once, after cred_batch_end(). */
struct cred_batch *cred_batch_new(struct identity_app *app, struct http_request *req,
				  cred_batch_done done, void *arg);
void cred_batch_revoke_key(struct cred_batch *b, const char *key_prefix);
void cred_batch_forget_key(struct cred_batch *b, const char *key_prefix);
void cred_batch_revoke_session(struct cred_batch *b, const char *session_id, const char *reason);
void cred_batch_forget_session(struct cred_batch *b, const char *session_id);
/* No more commands: done runs now when every reply is already in, else from the last one. */
void cred_batch_end(struct cred_batch *b);

#endif
