/*
 * discount.h - promo code rules, pure: is a code usable for this purchase (and why not), and
 * what it takes off or adds.
 *
 *   Percentage    value = whole percent 1..100 off the price (rounded down, in minor units)
 *   FixedAmount   value = minor units off the price (never below 0)
 *   FreeMonths    value = months added to the plan's expiry (plan purchases only)
 *   RenderCredits value = render-seconds added to the plan (plan purchases only)
 *
 * Checks, in this order (the first failing one is the reason): not_started (before
 * starts_at), expired (at or after expires_at), exhausted (max_uses reached), wrong_plan (the
 * code is restricted to plans and this purchase is not one of them, a top-up included),
 * not_applicable (FreeMonths / RenderCredits on a top-up), user_limit (this user reached
 * per_user_limit). "not_found" is the store's answer when no code matches.
 * Owns nothing.
 */
#ifndef BILLING_DISCOUNT_H
#define BILLING_DISCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum discount_kind {
	DISCOUNT_PERCENTAGE,
	DISCOUNT_FIXED_AMOUNT,
	DISCOUNT_FREE_MONTHS,
	DISCOUNT_RENDER_CREDITS,
};

enum discount_reason {
	DISCOUNT_OK = 0,
	DISCOUNT_NOT_FOUND,
	DISCOUNT_NOT_STARTED,
	DISCOUNT_EXPIRED,
	DISCOUNT_EXHAUSTED,
	DISCOUNT_WRONG_PLAN,
	DISCOUNT_NOT_APPLICABLE,
	DISCOUNT_USER_LIMIT,
};

/* Bounds of value per kind, checked at creation. */
#define DISCOUNT_MAX_PERCENT 100
#define DISCOUNT_MAX_MONTHS 36
#define DISCOUNT_MAX_SECONDS 100000000L
#define DISCOUNT_MAX_FIXED 1000000000000L

struct discount {
	enum discount_kind kind;
	int64_t value;
	time_t starts_at;      /* 0 = no start */
	time_t expires_at;     /* 0 = never */
	long max_uses;         /* 0 = unlimited */
	long uses;             /* redemptions counted so far */
	long per_user_limit;   /* 0 = unlimited */
	long user_uses;        /* this user's redemptions */
	bool plan_restricted;  /* applies_to_plan_ids is not empty */
	bool plan_listed;      /* the purchase's plan is in applies_to_plan_ids */
};

/* What a usable code does to one purchase. */
struct discount_effect {
	int64_t discount_minor;     /* taken off the price */
	int64_t final_amount_minor; /* price - discount_minor, >= 0 */
	long free_months;
	long render_seconds;
};

/* Whether d applies now to a purchase (is_plan: a plan purchase; false: a top-up). */
enum discount_reason discount_check(const struct discount *d, time_t now, bool is_plan);
/* The effect of d on a price of amount_minor (>= 0); assumes discount_check passed. */
struct discount_effect discount_apply(const struct discount *d, int64_t amount_minor);

/* "Percentage", ... / the reason's API text ("expired", ...; NULL for OK). */
const char *discount_kind_str(enum discount_kind k);
int discount_kind_parse(const char *s, enum discount_kind *out);
const char *discount_reason_str(enum discount_reason r);
/* The NULL-terminated kind names, for jv_enum. */
extern const char *const discount_kind_names[];
/* Whether value is allowed for kind (see the bounds above). */
bool discount_value_ok(enum discount_kind k, int64_t value);

/* An RFC 3339 date-time with zone ("2026-05-27T10:15:00Z", "...:00.5+03:30") as Unix seconds
 * (fraction dropped). -1 when malformed or out of range. */
int discount_parse_time(const char *s, time_t *out);

#endif
