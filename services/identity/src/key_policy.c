/*
 * key_policy.c - signing-key rotation rules (see key_policy.h). Pure; owns nothing.
 */
#include "key_policy.h"

#define LEAD_MAX_S 180
#define SETTLE_MAX_S 70 /* longer than the 60 s reload of every replica */

long key_policy_lead_s(long rotation_s)
{
	long lead = rotation_s / 4;

	return lead > LEAD_MAX_S ? LEAD_MAX_S : lead;
}

long key_policy_settle_s(long rotation_s)
{
	long settle = key_policy_lead_s(rotation_s) / 2;

	return settle > SETTLE_MAX_S ? SETTLE_MAX_S : settle;
}

/* True when a is a better signer than the current best b (newer; ties: signs longer). */
static bool key_newer(const struct key_info *a, const struct key_info *b)
{
	if (a->created_at != b->created_at)
		return a->created_at > b->created_at;
	return a->sign_until > b->sign_until;
}

int key_policy_signer(const struct key_info *k, size_t n, time_t now, long settle_s)
{
	int best = -1, best_settled = -1;

	for (size_t i = 0; i < n; i++) {
		if (!k[i].can_sign || k[i].sign_until <= now)
			continue;
		if (best < 0 || key_newer(&k[i], &k[best]))
			best = (int)i;
		if (k[i].created_at + settle_s <= now &&
		    (best_settled < 0 || key_newer(&k[i], &k[best_settled])))
			best_settled = (int)i;
	}
	return best_settled >= 0 ? best_settled : best;
}

bool key_policy_published(const struct key_info *k, time_t now)
{
	return k->publish_until > now;
}

bool key_policy_rotation_due(const struct key_info *k, size_t n, time_t now, long lead_s)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].sign_until > now + lead_s)
			return false;
	return true;
}
