/*
 * metrics.c - Prometheus registry: families, series and the text exposition format.
 *
 * Owns every family and series (freed by metrics_free()). Families are kept in declaration
 * order and series in creation order, so the rendered text is deterministic. Series are
 * found through one chained hash table keyed by family name + label string. Loop-thread only.
 */
#include "common/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_NBUCKETS 12 /* including +Inf */

static const double metrics_bounds[METRICS_NBUCKETS - 1] = {.005, .01, .025, .05, .1, .25,
							    .5,   1,   2.5,  5,   10};
static const char *const metrics_le[METRICS_NBUCKETS] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"};

struct series {
	struct family *fam;
	char *labels;        /* "" when the series has none */
	double value;        /* counter / gauge */
	double (*fn)(void *arg); /* gauge read at render time, or NULL */
	void *fn_arg;
	uint64_t buckets[METRICS_NBUCKETS]; /* histogram, non-cumulative */
	double sum;
	uint64_t count;
	uint64_t hash;
	struct series *next;      /* next series of the family */
	struct series *hash_next; /* hash chain */
};

struct family {
	char *name;
	char *help;
	enum metric_type type;
	struct series *first, *last;
	struct family *next; /* declaration order */
};

struct metrics {
	struct family *first, *last;
	struct series **table;
	size_t nbuckets;
	size_t nseries;
};

static uint64_t metrics_hash(const char *name, const char *labels)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (const unsigned char *p = (const unsigned char *)labels; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->nbuckets = 64;
	m->table = calloc(m->nbuckets, sizeof(*m->table));
	if (m->table == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	struct family *f, *fnext;
	struct series *s, *snext;

	if (m == NULL)
		return;
	for (f = m->first; f != NULL; f = fnext) {
		fnext = f->next;
		for (s = f->first; s != NULL; s = snext) {
			snext = s->next;
			free(s->labels);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m->table);
	free(m);
}

static struct family *metrics_family(struct metrics *m, const char *name)
{
	for (struct family *f = m->first; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

void metrics_declare(struct metrics *m, const char *name, enum metric_type type, const char *help)
{
	struct family *f;

	if (m == NULL || name == NULL || metrics_family(m, name) != NULL)
		return;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return;
	f->name = strdup(name);
	f->help = strdup(help != NULL ? help : "");
	f->type = type;
	if (f->name == NULL || f->help == NULL) {
		free(f->name);
		free(f->help);
		free(f);
		return;
	}
	if (m->last != NULL)
		m->last->next = f;
	else
		m->first = f;
	m->last = f;
}

static void metrics_grow(struct metrics *m)
{
	size_t n = m->nbuckets * 2;
	struct series **t = calloc(n, sizeof(*t));

	if (t == NULL)
		return; /* keep the longer chains */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct series *s = m->table[i], *next;

		for (; s != NULL; s = next) {
			next = s->hash_next;
			s->hash_next = t[s->hash % n];
			t[s->hash % n] = s;
		}
	}
	free(m->table);
	m->table = t;
	m->nbuckets = n;
}

/* Finds or creates the series; undeclared families are declared with type `want`. NULL when
 * the family has another type or memory runs out. */
static struct series *metrics_series(struct metrics *m, const char *name, const char *labels,
				     enum metric_type want)
{
	struct family *f;
	struct series *s;
	uint64_t h;

	if (m == NULL || name == NULL)
		return NULL;
	labels = labels != NULL ? labels : "";
	h = metrics_hash(name, labels);
	for (s = m->table[h % m->nbuckets]; s != NULL; s = s->hash_next)
		if (s->hash == h && strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0)
			return s->fam->type == want ? s : NULL;
	if ((f = metrics_family(m, name)) == NULL) {
		metrics_declare(m, name, want, "");
		if ((f = metrics_family(m, name)) == NULL)
			return NULL;
	}
	if (f->type != want || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->labels = strdup(labels)) == NULL) {
		free(s);
		return NULL;
	}
	s->fam = f;
	s->hash = h;
	if (f->last != NULL)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	s->hash_next = m->table[h % m->nbuckets];
	m->table[h % m->nbuckets] = s;
	if (++m->nseries > m->nbuckets * 2)
		metrics_grow(m);
	return s;
}

void metrics_inc(struct metrics *m, const char *name, const char *labels, double by)
{
	struct family *f = m != NULL && name != NULL ? metrics_family(m, name) : NULL;
	enum metric_type t = f != NULL ? f->type : METRIC_COUNTER;
	struct series *s;

	if (t == METRIC_HISTOGRAM || (t == METRIC_COUNTER && !(by >= 0)))
		return; /* counters only go up */
	s = metrics_series(m, name, labels, t);
	if (s != NULL)
		s->value += by;
}

void metrics_set(struct metrics *m, const char *name, const char *labels, double value)
{
	struct series *s = metrics_series(m, name, labels, METRIC_GAUGE);

	if (s != NULL)
		s->value = value;
}

void metrics_observe(struct metrics *m, const char *name, const char *labels, double value)
{
	struct series *s;
	size_t i = 0;

	if (isnan(value))
		return;
	s = metrics_series(m, name, labels, METRIC_HISTOGRAM);
	if (s == NULL)
		return;
	while (i < METRICS_NBUCKETS - 1 && value > metrics_bounds[i])
		i++;
	s->buckets[i]++;
	s->sum += value;
	s->count++;
}

void metrics_gauge_fn(struct metrics *m, const char *name, const char *labels,
		      double (*fn)(void *arg), void *arg)
{
	struct series *s = metrics_series(m, name, labels, METRIC_GAUGE);

	if (s != NULL) {
		s->fn = fn;
		s->fn_arg = arg;
	}
}

/* Shortest text that reads back as v; Prometheus spellings for the infinities and NaN. */
static void metrics_fmt(char *out, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
	} else if (isinf(v)) {
		snprintf(out, cap, "%s", v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(out, cap, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, cap, "%.17g", v);
	}
}

static const char *metrics_type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER: return "counter";
	case METRIC_GAUGE: return "gauge";
	case METRIC_HISTOGRAM: return "histogram";
	}
	return "untyped";
}

static void metrics_render_histogram(FILE *out, const struct series *s)
{
	const char *name = s->fam->name;
	const char *sep = s->labels[0] != '\0' ? "," : "";
	uint64_t cum = 0;
	char num[40];

	for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
		cum += s->buckets[i];
		fprintf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, s->labels, sep, metrics_le[i],
			(unsigned long long)cum);
	}
	metrics_fmt(num, sizeof(num), s->sum);
	if (s->labels[0] != '\0') {
		fprintf(out, "%s_sum{%s} %s\n", name, s->labels, num);
		fprintf(out, "%s_count{%s} %llu\n", name, s->labels, (unsigned long long)s->count);
	} else {
		fprintf(out, "%s_sum %s\n", name, num);
		fprintf(out, "%s_count %llu\n", name, (unsigned long long)s->count);
	}
}

static void metrics_render_family(FILE *out, const struct family *f)
{
	char num[40];

	if (f->help[0] != '\0')
		fprintf(out, "# HELP %s %s\n", f->name, f->help);
	fprintf(out, "# TYPE %s %s\n", f->name, metrics_type_name(f->type));
	for (const struct series *s = f->first; s != NULL; s = s->next) {
		if (f->type == METRIC_HISTOGRAM) {
			metrics_render_histogram(out, s);
			continue;
		}
		metrics_fmt(num, sizeof(num), s->fn != NULL ? s->fn(s->fn_arg) : s->value);
		if (s->labels[0] != '\0')
			fprintf(out, "%s{%s} %s\n", f->name, s->labels, num);
		else
			fprintf(out, "%s %s\n", f->name, num);
	}
}

char *metrics_render(struct metrics *m, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *out;

	if (len != NULL)
		*len = 0;
	if (m == NULL || (out = open_memstream(&buf, &n)) == NULL)
		return NULL;
	for (const struct family *f = m->first; f != NULL; f = f->next)
		metrics_render_family(out, f);
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}

void metrics_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	if (out == NULL || cap == 0)
		return;
	for (; in != NULL && *in != '\0'; in++) {
		const char *rep = *in == '\\' ? "\\\\" : *in == '"' ? "\\\"" : *in == '\n' ? "\\n" : NULL;
		size_t need = rep != NULL ? 2 : 1;

		if (o + need >= cap)
			break;
		if (rep != NULL)
			memcpy(out + o, rep, 2);
		else
			out[o] = *in;
		o += need;
	}
	out[o] = '\0';
}
