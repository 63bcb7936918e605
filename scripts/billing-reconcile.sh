#!/usr/bin/env bash
#
# billing-reconcile.sh - runs scripts/billing-reconcile.sql against a stack's database and
# fails when the billing ledger's invariants do not hold.
#
#   FR_PG_URL=postgresql://... scripts/billing-reconcile.sh
#
# FR_PG_URL: a URL of the flatrender database (`scripts/stack.sh env` prints the stack's
# superuser one). Prints one line per violation (check | subject | detail) and exits 1 when
# there is any, 0 when the books balance, 2 when the query could not run.
set -euo pipefail

here=$(dirname "${BASH_SOURCE[0]}")
: "${FR_PG_URL:?FR_PG_URL must name the flatrender database}"

if ! out=$(psql "$FR_PG_URL" -X -q -A -t -F ' | ' -v ON_ERROR_STOP=1 \
	-f "$here/billing-reconcile.sql" 2>&1); then
	echo "billing-reconcile: the query failed:" >&2
	echo "$out" >&2
	exit 2
fi
out=$(printf '%s\n' "$out" | sed '/^$/d;/^BEGIN$/d;/^COMMIT$/d;/^SET$/d')
if [ -n "$out" ]; then
	echo "billing-reconcile: $(printf '%s\n' "$out" | wc -l) violation(s):"
	printf '%s\n' "$out"
	exit 1
fi
echo "billing-reconcile: ok (balances equal their ledgers, captured <= reserved, no orphan holds, payments match their ledger rows and refunds, discounts within limits, usage equals captures)"
