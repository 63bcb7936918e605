/*
 * discount.c - promo code rules (see discount.h).
 *
 * Owns nothing.
 */
#include "discount.h"

#include <string.h>
#include <time.h>

const char *const discount_kind_names[] = {"Percentage", "FixedAmount", "FreeMonths",
					   "RenderCredits", NULL};

const char *discount_kind_str(enum discount_kind k)
{
	switch (k) {
	case DISCOUNT_PERCENTAGE: return "Percentage";
	case DISCOUNT_FIXED_AMOUNT: return "FixedAmount";
	case DISCOUNT_FREE_MONTHS: return "FreeMonths";
	case DISCOUNT_RENDER_CREDITS: return "RenderCredits";
	}
	return NULL;
}

int discount_kind_parse(const char *s, enum discount_kind *out)
{
	for (int k = DISCOUNT_PERCENTAGE; s != NULL && k <= DISCOUNT_RENDER_CREDITS; k++) {
		if (strcmp(s, discount_kind_str((enum discount_kind)k)) == 0) {
			*out = (enum discount_kind)k;
			return 0;
		}
	}
	return -1;
}

const char *discount_reason_str(enum discount_reason r)
{
	switch (r) {
	case DISCOUNT_OK: return NULL;
	case DISCOUNT_NOT_FOUND: return "not_found";
	case DISCOUNT_NOT_STARTED: return "not_started";
	case DISCOUNT_EXPIRED: return "expired";
	case DISCOUNT_EXHAUSTED: return "exhausted";
	case DISCOUNT_WRONG_PLAN: return "wrong_plan";
	case DISCOUNT_NOT_APPLICABLE: return "not_applicable";
	case DISCOUNT_USER_LIMIT: return "user_limit";
	}
	return "not_found";
}

bool discount_value_ok(enum discount_kind k, int64_t value)
{
	switch (k) {
	case DISCOUNT_PERCENTAGE: return value >= 1 && value <= DISCOUNT_MAX_PERCENT;
	case DISCOUNT_FIXED_AMOUNT: return value >= 1 && value <= DISCOUNT_MAX_FIXED;
	case DISCOUNT_FREE_MONTHS: return value >= 1 && value <= DISCOUNT_MAX_MONTHS;
	case DISCOUNT_RENDER_CREDITS: return value >= 1 && value <= DISCOUNT_MAX_SECONDS;
	}
	return false;
}

static bool discount_plan_only(enum discount_kind k)
{
	return k == DISCOUNT_FREE_MONTHS || k == DISCOUNT_RENDER_CREDITS;
}

enum discount_reason discount_check(const struct discount *d, time_t now, bool is_plan)
{
	if (d->starts_at != 0 && now < d->starts_at)
		return DISCOUNT_NOT_STARTED;
	if (d->expires_at != 0 && now >= d->expires_at)
		return DISCOUNT_EXPIRED;
	if (d->max_uses > 0 && d->uses >= d->max_uses)
		return DISCOUNT_EXHAUSTED;
	if (d->plan_restricted && (!is_plan || !d->plan_listed))
		return DISCOUNT_WRONG_PLAN;
	if (!is_plan && discount_plan_only(d->kind))
		return DISCOUNT_NOT_APPLICABLE;
	if (d->per_user_limit > 0 && d->user_uses >= d->per_user_limit)
		return DISCOUNT_USER_LIMIT;
	return DISCOUNT_OK;
}

struct discount_effect discount_apply(const struct discount *d, int64_t amount_minor)
{
	struct discount_effect e = {0, amount_minor < 0 ? 0 : amount_minor, 0, 0};
	int64_t off = 0;

	switch (d->kind) {
	case DISCOUNT_PERCENTAGE:
		/* value <= 100 and amounts < 2^63/100 in practice; divide first if not */
		if (e.final_amount_minor > INT64_MAX / 100)
			off = e.final_amount_minor / 100 * d->value;
		else
			off = e.final_amount_minor * d->value / 100;
		break;
	case DISCOUNT_FIXED_AMOUNT: off = d->value; break;
	case DISCOUNT_FREE_MONTHS: e.free_months = (long)d->value; break;
	case DISCOUNT_RENDER_CREDITS: e.render_seconds = (long)d->value; break;
	}
	if (off > e.final_amount_minor)
		off = e.final_amount_minor;
	if (off < 0)
		off = 0;
	e.discount_minor = off;
	e.final_amount_minor -= off;
	return e;
}

/* n decimal digits at s; -1 when one is not a digit. */
static int discount_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int discount_parse_time(const char *s, time_t *out)
{
	struct tm tm = {0};
	int off = 0;
	const char *z;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return -1;
	tm.tm_year = discount_digits(s, 4) - 1900;
	tm.tm_mon = discount_digits(s + 5, 2) - 1;
	tm.tm_mday = discount_digits(s + 8, 2);
	tm.tm_hour = discount_digits(s + 11, 2);
	tm.tm_min = discount_digits(s + 14, 2);
	tm.tm_sec = discount_digits(s + 17, 2);
	if (tm.tm_year < 70 || tm.tm_year > 8000 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 59)
		return -1;
	z = s + 19;
	if (*z == '.') {
		do
			z++;
		while (*z >= '0' && *z <= '9');
		if (z == s + 20)
			return -1; /* a dot without digits */
	}
	if ((z[0] == 'Z' || z[0] == 'z') && z[1] == '\0') {
		off = 0;
	} else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':') {
		int hh = discount_digits(z + 1, 2), mm = discount_digits(z + 4, 2);
		if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
			return -1;
		off = (hh * 3600 + mm * 60) * (z[0] == '-' ? -1 : 1);
	} else {
		return -1;
	}
	*out = timegm(&tm) - off;
	return 0;
}
