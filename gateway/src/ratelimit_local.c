/*
 * ratelimit_local.c - the in-memory bucketed sliding windows and nonce set of the rate
 * limiter's fallback (see ratelimit_local.h).
 *
 * Owns two chained hash tables with an intrusive recency list each (windows: least recently
 * used at the tail; nonces: oldest inserted at the tail). A window is its newest bucket's
 * index and RL_BUCKETS counts, newest first: the same layout as the script's Redis value.
 */
#include "ratelimit_local.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- hash table + recency list ------------------------------------------------------------- */

struct rl_node {
	struct rl_node *hnext;       /* bucket chain */
	struct rl_node *prev, *next; /* recency list: head.next newest, head.prev oldest */
	uint64_t h;
	const char *key;
};

struct rl_table {
	struct rl_node **buckets;
	size_t mask;
	size_t count;
	struct rl_node head; /* list sentinel */
};

static uint64_t rl_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int tab_init(struct rl_table *t, size_t max)
{
	size_t n = 16;

	while (n < max && n < ((size_t)1 << 30))
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (t->buckets == NULL)
		return -1;
	t->mask = n - 1;
	t->count = 0;
	t->head.prev = t->head.next = &t->head;
	return 0;
}

static struct rl_node *tab_find(struct rl_table *t, const char *key, uint64_t h)
{
	struct rl_node *n;

	for (n = t->buckets[h & t->mask]; n != NULL; n = n->hnext)
		if (n->h == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static void list_unlink(struct rl_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static void list_push_front(struct rl_table *t, struct rl_node *n)
{
	n->prev = &t->head;
	n->next = t->head.next;
	t->head.next->prev = n;
	t->head.next = n;
}

static void tab_insert(struct rl_table *t, struct rl_node *n)
{
	struct rl_node **b = &t->buckets[n->h & t->mask];

	n->hnext = *b;
	*b = n;
	list_push_front(t, n);
	t->count++;
}

static void tab_remove(struct rl_table *t, struct rl_node *n)
{
	struct rl_node **p = &t->buckets[n->h & t->mask];

	while (*p != n)
		p = &(*p)->hnext;
	*p = n->hnext;
	list_unlink(n);
	t->count--;
}

static void tab_touch(struct rl_table *t, struct rl_node *n)
{
	list_unlink(n);
	list_push_front(t, n);
}

static struct rl_node *tab_oldest(struct rl_table *t)
{
	return t->head.prev == &t->head ? NULL : t->head.prev;
}

/* ---- windows and nonces -------------------------------------------------------------------- */

struct rl_win {
	struct rl_node n;           /* first member: a node pointer is the window pointer */
	int64_t top;                /* index of the newest bucket (now_us / RL_BUCKET_US) */
	uint32_t count[RL_BUCKETS]; /* count[k]: requests counted in bucket top - k */
	uint64_t used;              /* decision sequence number of the last use */
	char key[];
};

struct rl_nonce {
	struct rl_node n;
	int64_t expires_us;
	char key[];
};

struct rl_local {
	struct rl_table wins, nonces;
	size_t max_entries, max_nonces;
	uint64_t seq;
};

struct rl_local *rl_local_new(size_t max_entries, size_t max_nonces)
{
	struct rl_local *l = calloc(1, sizeof(*l));

	if (l == NULL || max_entries == 0 || max_nonces == 0)
		goto fail;
	l->max_entries = max_entries;
	l->max_nonces = max_nonces;
	if (tab_init(&l->wins, max_entries) < 0 || tab_init(&l->nonces, max_nonces) < 0)
		goto fail;
	return l;
fail:
	rl_local_free(l);
	return NULL;
}

static void win_drop(struct rl_local *l, struct rl_win *w)
{
	tab_remove(&l->wins, &w->n);
	free(w);
}

static void nonce_drop(struct rl_local *l, struct rl_nonce *e)
{
	tab_remove(&l->nonces, &e->n);
	free(e);
}

void rl_local_free(struct rl_local *l)
{
	struct rl_node *n;

	if (l == NULL)
		return;
	if (l->wins.buckets != NULL)
		while ((n = tab_oldest(&l->wins)) != NULL)
			win_drop(l, (struct rl_win *)n);
	if (l->nonces.buckets != NULL)
		while ((n = tab_oldest(&l->nonces)) != NULL)
			nonce_drop(l, (struct rl_nonce *)n);
	free(l->wins.buckets);
	free(l->nonces.buckets);
	free(l);
}

long rl_ceil_s(int64_t us)
{
	return us <= 0 ? 0 : (long)((us + 999999) / 1000000);
}

/* True when the nonce is live (a replay); otherwise records it until now + ttl. */
static bool nonce_seen_or_add(struct rl_local *l, const char *key, long ttl_s, int64_t now_us)
{
	uint64_t h = rl_hash(key);
	struct rl_node *n = tab_find(&l->nonces, key, h);
	struct rl_nonce *e;
	size_t klen = strlen(key);

	if (n != NULL) {
		if (((struct rl_nonce *)n)->expires_us > now_us)
			return true;
		nonce_drop(l, (struct rl_nonce *)n);
	}
	while ((n = tab_oldest(&l->nonces)) != NULL &&
	       (((struct rl_nonce *)n)->expires_us <= now_us || l->nonces.count >= l->max_nonces))
		nonce_drop(l, (struct rl_nonce *)n);
	e = malloc(sizeof(*e) + klen + 1);
	if (e == NULL)
		return false;
	memcpy(e->key, key, klen + 1);
	e->n.key = e->key;
	e->n.h = h;
	e->expires_us = now_us + (int64_t)(ttl_s > 0 ? ttl_s : 1) * 1000000;
	tab_insert(&l->nonces, &e->n);
	return false;
}

/* Microseconds from now until bucket b stops counting: its end + 60 s. */
static int64_t bucket_leaves_us(int64_t b, int64_t now_us)
{
	return (b + 1) * RL_BUCKET_US + (int64_t)RL_WINDOW_S * 1000000 - now_us;
}

/* Moves w to bucket b: buckets that fell out of the window are forgotten. A clock that went
 * back (b < top) keeps the counts as they are. */
static void win_roll(struct rl_win *w, int64_t b)
{
	int64_t d = b - w->top;

	if (d >= RL_BUCKETS) {
		memset(w->count, 0, sizeof(w->count));
	} else if (d > 0) {
		memmove(&w->count[d], &w->count[0], (size_t)(RL_BUCKETS - d) * sizeof(w->count[0]));
		memset(w->count, 0, (size_t)d * sizeof(w->count[0]));
	}
	w->top = b;
}

static long win_sum(const struct rl_win *w)
{
	long s = 0;

	for (size_t k = 0; k < RL_BUCKETS; k++)
		s += (long)w->count[k];
	return s;
}

/* Microseconds until need counted requests have left w (oldest buckets first). */
static int64_t win_wait_us(const struct rl_win *w, long need, int64_t now_us)
{
	for (size_t k = RL_BUCKETS; k-- > 0;) {
		need -= (long)w->count[k];
		if (need <= 0)
			return bucket_leaves_us(w->top - (int64_t)k, now_us);
	}
	return bucket_leaves_us(w->top, now_us);
}

/* Seconds until the oldest counted request of w leaves it. */
static long win_reset_s(const struct rl_win *w, int64_t now_us)
{
	return rl_ceil_s(win_wait_us(w, 1, now_us));
}

static struct rl_win *win_get(struct rl_local *l, const char *key, int64_t b)
{
	uint64_t h = rl_hash(key);
	struct rl_node *n = tab_find(&l->wins, key, h);
	struct rl_win *w;
	size_t klen = strlen(key);

	if (n != NULL) {
		tab_touch(&l->wins, n);
		w = (struct rl_win *)n;
		w->used = l->seq;
		win_roll(w, b);
		return w;
	}
	w = calloc(1, sizeof(*w) + klen + 1);
	if (w == NULL)
		return NULL;
	memcpy(w->key, key, klen + 1);
	w->n.key = w->key;
	w->n.h = h;
	w->used = l->seq;
	w->top = b;
	tab_insert(&l->wins, &w->n);
	return w;
}

/* Evicts least recently used windows beyond the bound, never one of this decision. */
static void win_evict(struct rl_local *l)
{
	struct rl_node *n;

	while (l->wins.count > l->max_entries && (n = tab_oldest(&l->wins)) != NULL &&
	       ((struct rl_win *)n)->used != l->seq)
		win_drop(l, (struct rl_win *)n);
}

/* Index of the refusing limit with the longest wait (*wait_us), or -1 when all have room.
 * sum[i] is window i's count. */
static int local_refusal(struct rl_win *const *win, const long *sum, const struct rl_window_req *w,
			 size_t n, int64_t now_us, int64_t *wait_us)
{
	int worst = -1;
	int64_t wait;

	*wait_us = -1;
	for (size_t i = 0; i < n; i++) {
		if (win[i] == NULL || sum[i] < w[i].per_minute)
			continue;
		wait = win_wait_us(win[i], sum[i] - w[i].per_minute + 1, now_us);
		if (wait > *wait_us) {
			*wait_us = wait;
			worst = (int)i;
		}
	}
	return worst;
}

int rl_local_decide(struct rl_local *l, const struct rl_window_req *w, size_t n,
		    const char *nonce_key, long nonce_ttl_s, int64_t now_us, struct rl_decision *out)
{
	struct rl_win *win[RL_MAX_LIMITS];
	long sum[RL_MAX_LIMITS], rem;
	int64_t wait, b = now_us / RL_BUCKET_US;
	int best = -1;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (nonce_key != NULL && nonce_seen_or_add(l, nonce_key, nonce_ttl_s, now_us)) {
		out->replayed = true;
		return -1;
	}
	out->allowed = true;
	n = n > RL_MAX_LIMITS ? RL_MAX_LIMITS : n;
	l->seq++;
	for (i = 0; i < n; i++) {
		win[i] = w[i].per_minute > 0 ? win_get(l, w[i].key, b) : NULL;
		sum[i] = win[i] != NULL ? win_sum(win[i]) : 0;
	}
	best = local_refusal(win, sum, w, n, now_us, &wait);
	if (best >= 0) {
		out->allowed = false;
		out->limit = w[best].per_minute;
		out->reset_s = out->retry_after_s = rl_ceil_s(wait);
		win_evict(l);
		return best;
	}
	for (i = 0; i < n; i++) {
		if (win[i] == NULL)
			continue;
		win[i]->count[0]++;
		rem = w[i].per_minute - sum[i] - 1;
		if (best < 0 || rem < out->remaining) {
			best = (int)i;
			out->limit = w[i].per_minute;
			out->remaining = rem < 0 ? 0 : rem;
			out->reset_s = win_reset_s(win[i], now_us);
		}
	}
	win_evict(l);
	return best;
}

size_t rl_local_entries(const struct rl_local *l)
{
	return l->wins.count;
}

size_t rl_local_nonces(const struct rl_local *l)
{
	return l->nonces.count;
}
