/*
 * billing_json.h - JSON that PostgreSQL renders for billing (json_build_object in the
 * migration's *_json() and op functions) read back in C, and the small body helpers the
 * handlers share.
 *
 * The text comes from our own database, so it is parsed without the strict untrusted-input
 * checks of common/json.h; request bodies still go through http_request_json_or_reply() and
 * the jv_* validators.
 */
#ifndef BILLING_JSON_H
#define BILLING_JSON_H

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdbool.h>

/* A new object from column col of row 0 (caller puts); NULL for SQL NULL or bad JSON. */
json_object *billing_json_col(const PGresult *res, int col);

/* Replies an op function's answer: status < 400 -> the body as JSON; otherwise the error
 * envelope from the body {"code","message","details"}. Takes body. */
struct http_request;
void billing_json_reply(struct http_request *req, int status, json_object *body);

/* A string member of o, or NULL. Borrowed from o. */
const char *billing_json_str(json_object *o, const char *key);

#endif
