/*
 * metrics.h - a Prometheus metrics registry (text exposition format 0.0.4).
 *
 * Families are declared once (name, type, help); series are addressed by the family name plus
 * a label string in exposition syntax, e.g. "method=\"GET\",route=\"/v1/users/me\",status=\"200\"",
 * and created on first use. Loop-thread only (not thread-safe), which is where every daemon
 * updates its metrics. Histograms use fixed latency buckets in seconds.
 */
#ifndef COMMON_METRICS_H
#define COMMON_METRICS_H

#include <stddef.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Declares a family; declaring the same name twice is harmless. */
void metrics_declare(struct metrics *m, const char *name, enum metric_type type, const char *help);
/* labels may be NULL or "" for a series without labels. Values of label strings must already
 * be escaped (use metrics_escape for untrusted text). */
void metrics_inc(struct metrics *m, const char *name, const char *labels, double by);
void metrics_set(struct metrics *m, const char *name, const char *labels, double value);
void metrics_observe(struct metrics *m, const char *name, const char *labels, double value);
/* A gauge whose value is read from fn(arg) at exposition time. */
void metrics_gauge_fn(struct metrics *m, const char *name, const char *labels,
		      double (*fn)(void *arg), void *arg);

/* The exposition text, malloc'd; caller frees. */
char *metrics_render(struct metrics *m, size_t *len);
/* Escapes \, " and newline for use inside a label value; writes at most cap bytes (NUL incl). */
void metrics_escape(const char *in, char *out, size_t cap);

#endif
