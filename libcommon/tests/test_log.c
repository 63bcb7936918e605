/*
 * test_log.c - cmocka tests of log.c: every line is one valid JSON object with the right
 * fields, escaping, types, level filtering, truncation and thread-safety.
 *
 * stderr is redirected to a temporary file for each capture and restored afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

struct capture {
	int saved;
	int fd;
	char path[64];
};

static void capture_start(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/test_log_XXXXXX");
	c->fd = mkstemp(c->path);
	assert_true(c->fd >= 0);
	assert_int_equal(fcntl(c->fd, F_SETFL, O_APPEND), 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written (malloc'd, NUL-terminated). */
static char *capture_end(struct capture *c, size_t *len)
{
	off_t size;
	char *buf;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	size = lseek(c->fd, 0, SEEK_END);
	assert_true(size >= 0);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(c->fd, buf, (size_t)size, 0), size);
	buf[size] = '\0';
	close(c->fd);
	unlink(c->path);
	if (len != NULL)
		*len = (size_t)size;
	return buf;
}

/* Parses one line (without its newline) as a JSON object; fails the test otherwise. */
static json_object *parse_line(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	assert_non_null(tok);
	o = json_tokener_parse_ex(tok, line, (int)len);
	assert_non_null(o);
	assert_int_equal(json_tokener_get_parse_end(tok), len);
	json_tokener_free(tok);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Captures exactly one line and returns it parsed. */
static json_object *one_line(char *out, size_t len)
{
	char *nl = memchr(out, '\n', len);

	assert_non_null(nl);
	assert_true(nl == out + len - 1);
	return parse_line(out, (size_t)(nl - out));
}

static void test_log_fields_and_escaping(void **state)
{
	struct capture c;
	struct log_ctx ctx = {.request_id = "req-1", .tenant_id = "t\"1", .user_id = NULL};
	json_object *o;
	size_t len;
	char *out;
	const char *ts;

	log_init("identity", LOG_LEVEL_INFO);
	capture_start(&c);
	log_info(&ctx, "a\"b\\c\nd\x01" "e\xff\xc3\xa9\xed\xa0\x80/", LS("k", "tab\there"));
	out = capture_end(&c, &len);
	o = one_line(out, len);
	assert_string_equal(get_str(o, "level"), "info");
	assert_string_equal(get_str(o, "service"), "identity");
	assert_string_equal(get_str(o, "msg"),
			    "a\"b\\c\nd\x01" "e\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd/");
	assert_string_equal(get_str(o, "request_id"), "req-1");
	assert_string_equal(get_str(o, "tenant_id"), "t\"1");
	assert_null(get_str(o, "user_id"));
	assert_false(json_object_object_get_ex(o, "user_id", NULL));
	assert_string_equal(get_str(o, "k"), "tab\there");
	ts = get_str(o, "ts");
	assert_non_null(ts);
	assert_int_equal(strlen(ts), strlen("2026-11-22T06:40:09.123Z"));
	assert_true(ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	/* no raw control bytes on the line */
	for (size_t i = 0; i + 1 < len; i++)
		assert_true((unsigned char)out[i] >= 0x20);
	json_object_put(o);
	free(out);
}

static void test_log_kv_types(void **state)
{
	struct capture c;
	json_object *o, *v;
	size_t len;
	char *out;

	log_init("svc", LOG_LEVEL_DEBUG);
	capture_start(&c);
	log_warn(NULL, "types", LS("s", "x"), LI("i", -42), LD("d", 1.5), LB("b", 1), LB("f", 0),
		 LS("nul", NULL), LD("inf", 1.0 / 0.0), LI("big", 9007199254740993LL));
	out = capture_end(&c, &len);
	o = one_line(out, len);
	assert_string_equal(get_str(o, "level"), "warn");
	assert_true(json_object_object_get_ex(o, "i", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), -42);
	assert_true(json_object_object_get_ex(o, "big", &v));
	assert_int_equal(json_object_get_int64(v), 9007199254740993LL);
	assert_true(json_object_object_get_ex(o, "d", &v));
	assert_true(json_object_is_type(v, json_type_double));
	assert_true(json_object_get_double(v) == 1.5);
	assert_true(json_object_object_get_ex(o, "b", &v));
	assert_true(json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "f", &v));
	assert_true(json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "nul", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "inf", &v));
	assert_null(v);
	assert_false(json_object_object_get_ex(o, "request_id", NULL));
	json_object_put(o);
	free(out);
}

static void test_log_levels_filtered(void **state)
{
	struct capture c;
	size_t len, lines = 0;
	char *out;

	log_init("svc", LOG_LEVEL_WARN);
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	capture_start(&c);
	log_debug(NULL, "d");
	log_info(NULL, "i");
	log_warn(NULL, "w");
	log_error(NULL, "e");
	out = capture_end(&c, &len);
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	assert_int_equal(lines, 2);
	assert_non_null(strstr(out, "\"level\":\"warn\""));
	assert_non_null(strstr(out, "\"level\":\"error\""));
	assert_null(strstr(out, "\"msg\":\"i\""));
	free(out);
	log_init("svc", LOG_LEVEL_INFO);
}

static void test_log_level_parse(void **state)
{
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("INFO"), LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("loud"), -1);
	assert_int_equal(log_level_parse(""), -1);
	assert_int_equal(log_level_parse(NULL), -1);
}

static void test_log_truncates_long_values(void **state)
{
	size_t big = 100000, len;
	char *val = malloc(big + 1);
	struct capture c;
	json_object *o;
	char *out;

	assert_non_null(val);
	for (size_t i = 0; i < big; i++)
		val[i] = i % 7 == 0 ? '"' : (char)('a' + i % 26);
	val[big] = '\0';
	log_init("svc", LOG_LEVEL_INFO);
	capture_start(&c);
	log_info(NULL, "long", LS("a", val), LS("b", val), LS("c", val), LS("d", val),
		 LS("e", val), LI("after", 7));
	out = capture_end(&c, &len);
	assert_true(len <= 8192);
	o = one_line(out, len);
	assert_string_equal(get_str(o, "msg"), "long");
	assert_true(json_object_object_get_ex(o, "truncated", NULL));
	assert_true(strlen(get_str(o, "a")) < 2048);
	json_object_put(o);
	free(out);
	free(val);
}

static void *log_thread(void *arg)
{
	for (int i = 0; i < 200; i++)
		log_info(NULL, "from thread", LI("thread", (long)(intptr_t)arg), LI("i", i),
			 LS("pad", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	return NULL;
}

static void test_log_threads_do_not_interleave(void **state)
{
	pthread_t t[4];
	struct capture c;
	size_t len, lines = 0;
	char *out, *p, *nl;

	log_init("svc", LOG_LEVEL_INFO);
	capture_start(&c);
	for (intptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_thread, (void *)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	out = capture_end(&c, &len);
	for (p = out; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_object *o = parse_line(p, (size_t)(nl - p));

		assert_string_equal(get_str(o, "msg"), "from thread");
		json_object_put(o);
		lines++;
	}
	assert_int_equal(lines, 800);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_fields_and_escaping),
		cmocka_unit_test(test_log_kv_types),
		cmocka_unit_test(test_log_levels_filtered),
		cmocka_unit_test(test_log_level_parse),
		cmocka_unit_test(test_log_truncates_long_values),
		cmocka_unit_test(test_log_threads_do_not_interleave),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
