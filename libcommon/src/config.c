/*
 * config.c - fills a daemon's config struct from environment variables, driven by a table.
 *
 * Owns nothing global. The strings it stores in the caller's struct belong to that struct
 * until config_free(). Values are never echoed in error messages (they may be secrets), and
 * config_log() shows secrets as "***".
 */
#include "common/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

static void *cfg_field(void *cfg, const struct cfg_item *it)
{
	return (char *)cfg + it->offset;
}

static const void *cfg_cfield(const void *cfg, const struct cfg_item *it)
{
	return (const char *)cfg + it->offset;
}

/* Whole-string decimal integer with an optional leading '-'; -1 when malformed or out of
 * range for long. */
static int cfg_parse_long(const char *s, long *out)
{
	const char *p = s;
	char *end = NULL;
	long v;

	if (*p == '-')
		p++;
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == NULL || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Stores one value (from the environment or the default) into its field. */
static int cfg_store(const struct cfg_item *it, void *cfg, const char *val, const char *origin,
		     char *err, size_t errlen)
{
	long l = 0;
	bool b = false;
	char *s;

	switch (it->type) {
	case CFG_STR:
		if ((s = strdup(val)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", it->env);
			return -1;
		}
		*(char **)cfg_field(cfg, it) = s;
		return 0;
	case CFG_INT:
		if (cfg_parse_long(val, &l) < 0) {
			snprintf(err, errlen, "%s: %s is not an integer", it->env, origin);
			return -1;
		}
		if (!(it->min == 0 && it->max == 0) && (l < it->min || l > it->max)) {
			snprintf(err, errlen, "%s: %s must be between %ld and %ld", it->env, origin,
				 it->min, it->max);
			return -1;
		}
		*(long *)cfg_field(cfg, it) = l;
		return 0;
	case CFG_BOOL:
		if (cfg_parse_bool(val, &b) < 0) {
			snprintf(err, errlen, "%s: %s must be true/false, 1/0, yes/no or on/off",
				 it->env, origin);
			return -1;
		}
		*(bool *)cfg_field(cfg, it) = b;
		return 0;
	}
	snprintf(err, errlen, "%s: unknown type", it->env);
	return -1;
}

int config_load(const struct cfg_item *items, size_t n, void *cfg, char *err, size_t errlen)
{
	char dummy[1];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct cfg_item *it = &items[i];
		const char *val = getenv(it->env);
		const char *origin = "value";

		if (val == NULL || (val[0] == '\0' && it->def == NULL)) {
			if (it->def == NULL) {
				snprintf(err, errlen, "%s is required but not set", it->env);
				return -1;
			}
			val = it->def;
			origin = "default";
		}
		if (cfg_store(it, cfg, val, origin, err, errlen) < 0)
			return -1;
	}
	return 0;
}

void config_log(const struct cfg_item *items, size_t n, const void *cfg)
{
	struct log_kv *kv = calloc(n + 1, sizeof(*kv));

	if (kv == NULL) {
		log_warn(NULL, "config", LS("error", "out of memory"));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cfg_item *it = &items[i];
		const void *f = cfg_cfield(cfg, it);

		kv[i].key = it->env;
		if (it->secret) {
			kv[i].type = LKV_STR;
			kv[i].s = "***";
		} else if (it->type == CFG_STR) {
			kv[i].type = LKV_STR;
			kv[i].s = *(char *const *)f;
		} else if (it->type == CFG_INT) {
			kv[i].type = LKV_INT;
			kv[i].i = *(const long *)f;
		} else {
			kv[i].type = LKV_BOOL;
			kv[i].i = *(const bool *)f ? 1 : 0;
		}
	}
	kv[n].type = LKV_END;
	log_write(LOG_LEVEL_INFO, NULL, "config", kv);
	free(kv);
}

void config_free(const struct cfg_item *items, size_t n, void *cfg)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].type == CFG_STR) {
			char **f = cfg_field(cfg, &items[i]);

			free(*f);
			*f = NULL;
		}
	}
}

/* Prints s with '|' escaped, for a markdown table cell. */
static void cfg_print_cell(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else if (*s == '\n')
			fputc(' ', stdout);
		else
			fputc(*s, stdout);
	}
}

void config_print_table(const struct cfg_item *items, size_t n)
{
	printf("| Variable | Default | Description |\n");
	printf("|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct cfg_item *it = &items[i];

		printf("| `%s` | ", it->env);
		if (it->def == NULL) {
			fputs("(required)", stdout);
		} else if (it->secret) {
			fputs("(secret)", stdout);
		} else if (it->def[0] == '\0') {
			fputs("(empty)", stdout);
		} else {
			fputc('`', stdout);
			cfg_print_cell(it->def);
			fputc('`', stdout);
		}
		fputs(" | ", stdout);
		cfg_print_cell(it->help);
		if (it->type == CFG_INT && !(it->min == 0 && it->max == 0))
			printf(" (%ld..%ld)", it->min, it->max);
		fputs(" |\n", stdout);
	}
	fflush(stdout);
}
