/*
 * config.h - 12-factor configuration: a declarative table of environment variables.
 *
 * A daemon describes its settings once, as rows of (env name, type, default, secret?, field
 * offset), and config_load() fills its config struct from the environment. Strings are
 * strdup'd into `char *` fields, integers into `long`, booleans into `bool`.
 * config_log() prints the effective configuration as one JSON log line, secrets redacted.
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

struct cfg_item {
	const char *env;     /* e.g. "IDENTITY_PORT" */
	enum cfg_type type;
	const char *def;     /* default as text; NULL = required (load fails when unset) */
	bool secret;         /* never logged */
	size_t offset;       /* offsetof(struct x_config, field) */
	long min, max;       /* CFG_INT bounds (inclusive); ignored when min == max == 0 */
	const char *help;    /* one line, for the README table */
};

#define CFG_ROW(env, type, def, secret, st, field, min, max, help)                            \
	{ (env), (type), (def), (secret), offsetof(st, field), (min), (max), (help) }

/* Fills cfg from the environment. On failure writes a message naming the variable into err
 * and returns -1; fields already loaded are freed by config_free() as usual. */
int config_load(const struct cfg_item *items, size_t n, void *cfg, char *err, size_t errlen) MUST_CHECK;
/* One "config" log line with every item, secrets shown as "***". */
void config_log(const struct cfg_item *items, size_t n, const void *cfg);
/* Frees the strings config_load() allocated and NULLs the fields. */
void config_free(const struct cfg_item *items, size_t n, void *cfg);
/* Prints a markdown table (env, default, description) of the items to stdout. */
void config_print_table(const struct cfg_item *items, size_t n);

#endif
