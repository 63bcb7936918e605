/*
 * apikey_l1.c - bounded string-keyed map with deadlines and oldest-first eviction (see
 * apikey_l1.h).
 *
 * Owns its nodes (one malloc each, the payload stored after the node). Buckets are a power of
 * two of at least max_entries, so chains stay short.
 */
#include "apikey_l1.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct l1_node {
	struct l1_node *hnext;         /* hash chain */
	struct l1_node *older, *newer; /* insertion order */
	uint64_t until_ms;
	char key[APIKEY_L1_KEY_MAX + 1];
	_Alignas(max_align_t) unsigned char payload[]; /* any struct may be stored here */
};

struct apikey_l1 {
	struct l1_node **buckets;
	size_t nbuckets; /* power of two */
	size_t max, count, payload_size;
	struct l1_node *oldest, *newest;
};

static size_t l1_hash(const struct apikey_l1 *m, const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h & (m->nbuckets - 1));
}

struct apikey_l1 *apikey_l1_new(size_t max_entries, size_t payload_size)
{
	struct apikey_l1 *m = calloc(1, sizeof(*m));

	if (m == NULL || max_entries == 0) {
		free(m);
		return NULL;
	}
	m->nbuckets = 16;
	while (m->nbuckets < max_entries)
		m->nbuckets *= 2;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (m->buckets == NULL) {
		free(m);
		return NULL;
	}
	m->max = max_entries;
	m->payload_size = payload_size;
	return m;
}

/* Unlinks n from its chain and the order list and frees it. */
static void l1_remove(struct apikey_l1 *m, struct l1_node *n)
{
	struct l1_node **pp = &m->buckets[l1_hash(m, n->key)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	if (n->older != NULL)
		n->older->newer = n->newer;
	else
		m->oldest = n->newer;
	if (n->newer != NULL)
		n->newer->older = n->older;
	else
		m->newest = n->older;
	m->count--;
	free(n);
}

void apikey_l1_free(struct apikey_l1 *m)
{
	if (m == NULL)
		return;
	while (m->oldest != NULL)
		l1_remove(m, m->oldest);
	free(m->buckets);
	free(m);
}

static struct l1_node *l1_find(const struct apikey_l1 *m, const char *key)
{
	for (struct l1_node *n = m->buckets[l1_hash(m, key)]; n != NULL; n = n->hnext)
		if (strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

void *apikey_l1_get(struct apikey_l1 *m, const char *key, uint64_t now_ms)
{
	struct l1_node *n = l1_find(m, key);

	if (n == NULL)
		return NULL;
	if (n->until_ms <= now_ms) {
		l1_remove(m, n);
		return NULL;
	}
	return n->payload;
}

int apikey_l1_put(struct apikey_l1 *m, const char *key, const void *payload, uint64_t until_ms)
{
	size_t klen = strlen(key);
	struct l1_node *n;

	if (klen > APIKEY_L1_KEY_MAX)
		return -1;
	if ((n = l1_find(m, key)) != NULL)
		l1_remove(m, n);
	if ((n = calloc(1, sizeof(*n) + m->payload_size)) == NULL)
		return -1;
	memcpy(n->key, key, klen + 1);
	n->until_ms = until_ms;
	if (m->payload_size > 0)
		memcpy(n->payload, payload, m->payload_size);
	if (m->count >= m->max)
		l1_remove(m, m->oldest);
	n->hnext = m->buckets[l1_hash(m, key)];
	m->buckets[l1_hash(m, key)] = n;
	n->older = m->newest;
	if (m->newest != NULL)
		m->newest->newer = n;
	else
		m->oldest = n;
	m->newest = n;
	m->count++;
	return 0;
}

void apikey_l1_del(struct apikey_l1 *m, const char *key)
{
	struct l1_node *n = l1_find(m, key);

	if (n != NULL)
		l1_remove(m, n);
}

size_t apikey_l1_del_if(struct apikey_l1 *m, bool (*pred)(const void *payload, void *arg),
			void *arg)
{
	struct l1_node *n = m->oldest;
	size_t dropped = 0;

	while (n != NULL) {
		struct l1_node *next = n->newer;

		if (pred(n->payload, arg)) {
			l1_remove(m, n);
			dropped++;
		}
		n = next;
	}
	return dropped;
}

size_t apikey_l1_count(const struct apikey_l1 *m)
{
	return m->count;
}
