/*
 * log.h - JSON-lines logging: one object per line on stderr.
 *
 * Every line carries ts, level, service, msg, and request_id / tenant_id / user_id when the
 * caller knows them, then the caller's key/values. Never pass a secret as a value.
 *
 *   log_info(&ctx, "request done", LS("method", "GET"), LI("status", 200), LD("ms", 1.5));
 *   log_warn(NULL, "redis disconnected");
 *
 * Thread-safe: each line is built in a local buffer and written with one write(2).
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Who and what a line is about; any member may be NULL. Borrowed for the call only. */
struct log_ctx {
	const char *request_id;
	const char *tenant_id;
	const char *user_id;
};

enum log_kv_type { LKV_SKIP = 0, LKV_STR, LKV_INT, LKV_DBL, LKV_BOOL, LKV_END };
struct log_kv {
	enum log_kv_type type;
	const char *key;
	const char *s;
	long long i;
	double d;
};

#define LS(k, v) ((struct log_kv){.type = LKV_STR, .key = (k), .s = (v)})
#define LI(k, v) ((struct log_kv){.type = LKV_INT, .key = (k), .i = (long long)(v)})
#define LD(k, v) ((struct log_kv){.type = LKV_DBL, .key = (k), .d = (double)(v)})
#define LB(k, v) ((struct log_kv){.type = LKV_BOOL, .key = (k), .i = (v) ? 1 : 0})

/* Sets the service name and minimum level; call once at start-up (not thread-safe). */
void log_init(const char *service, enum log_level min_level);
/* "debug", "info", "warn", "error" -> level; -1 when unknown. */
int log_level_parse(const char *s);
bool log_enabled(enum log_level level);

/* kv is an array ending with an LKV_END element; LKV_SKIP elements are ignored. */
void log_write(enum log_level level, const struct log_ctx *ctx, const char *msg,
	       const struct log_kv *kv);

#define LOG_KV_(...) ((const struct log_kv[]){{.type = LKV_SKIP}, ##__VA_ARGS__, {.type = LKV_END}})
#define log_debug(ctx, msg, ...)                                                              \
	do {                                                                                  \
		if (log_enabled(LOG_LEVEL_DEBUG))                                             \
			log_write(LOG_LEVEL_DEBUG, (ctx), (msg), LOG_KV_(__VA_ARGS__));        \
	} while (0)
#define log_info(ctx, msg, ...) log_write(LOG_LEVEL_INFO, (ctx), (msg), LOG_KV_(__VA_ARGS__))
#define log_warn(ctx, msg, ...) log_write(LOG_LEVEL_WARN, (ctx), (msg), LOG_KV_(__VA_ARGS__))
#define log_error(ctx, msg, ...) log_write(LOG_LEVEL_ERROR, (ctx), (msg), LOG_KV_(__VA_ARGS__))

#endif
