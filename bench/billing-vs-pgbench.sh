#!/usr/bin/env bash
#
# billing-vs-pgbench.sh - billing's money path against PostgreSQL's own small-write anchor.
#
#   A (billing, many users)  billing_pairs (bench/tools/billing_pairs.c): CONC closed loops of
#                            reserve (POST /internal/v1/holds, 1 s) + capture (1 s) on billing
#                            directly with a service token, round robin over USERS wallets;
#                            completed pairs per second. Each pair is two transactions (hold +
#                            idempotency record + outbox event; capture + ledger row + usage).
#   B (pgbench)              pgbench tpcb-like, PGBENCH_CLIENTS clients, scale PGBENCH_SCALE,
#                            on the same PostgreSQL (its own database fr_pgbench, dropped at the
#                            end); TPS without connection time.
#   hot wallet               billing_pairs with every loop on ONE wallet (all serialised on
#                            its row lock), after the A B runs.
# A and B alternate A B A B A B (RUNS per side) after a warm-up; min/median/max per side and
# the median ratios A/B are printed. Target (../shared/BENCHMARKS.md): pairs/s >= 0.5 x
# pgbench TPS.
#
# Uses the stack of the current environment (scripts/stack.sh with FR_RUN_DIR / ports; the
# billing, identity and gateway must be up: `make up`, or `scripts/stack.sh up`). The wallets
# are opened by admin grants to random user ids (no identity users are needed) and every
# hold is captured, so scripts/billing-reconcile.sh still passes afterwards. Not part of
# `make test`. Everything on 127.0.0.1.
#
# Env: DURATION (s per run, 10), RUNS (3), CONC (16), USERS (200), PGBENCH_CLIENTS (8),
#      PGBENCH_SCALE (8), WARMUP (3 s), OUTDIR (default /tmp/fr-bench-billing-<time>),
#      BUILD (where the tool is built, build/debug), plus the stack's variables.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONC=${CONC:-16}
USERS=${USERS:-200}
PGBENCH_CLIENTS=${PGBENCH_CLIENTS:-8}
PGBENCH_SCALE=${PGBENCH_SCALE:-8}
BUILD=${BUILD:-build/debug}
OUTDIR=${OUTDIR:-/tmp/fr-bench-billing-$(date +%Y%m%dT%H%M%S)}
TOOL=$BUILD/bench/billing_pairs
mkdir -p "$OUTDIR"

eval "$(scripts/stack.sh env)"
for url in "$FR_BILLING_URL" "$FR_IDENTITY_URL" "$FR_GATEWAY_URL"; do
	curl -fsS -o /dev/null "$url/readyz" ||
		fr_die "$url is not ready: start the stack first (make up / scripts/stack.sh up)"
done
make -s BUILD="$BUILD" "$TOOL" >/dev/null
PG_BASE=${FR_PG_URL%/*}
BILLING_PORT=${FR_BILLING_URL##*:}

# ---- setup: a service token, the wallets --------------------------------------------------

# identity's default client list has no "bench" client: use render's derived credentials
secret=$(printf 'service-client:render' | openssl dgst -sha256 -hmac "$FR_INTERNAL_SECRET" -r |
	cut -d' ' -f1)
BILLING_TOKEN=$(curl -fsS -X POST "$FR_IDENTITY_URL/internal/v1/service-tokens" \
	-H 'Content-Type: application/json' \
	-d "{\"client_id\":\"render\",\"client_secret\":\"$secret\",\"audience\":\"billing\"}" |
	jq -r .access_token)
export BILLING_TOKEN
admin=$(curl -fsS -X POST "$FR_GATEWAY_URL/v1/auth/login" -H 'Content-Type: application/json' \
	-d "{\"tenant_slug\":\"default\",\"email\":\"$FR_ADMIN_EMAIL\",\"password\":\"$FR_ADMIN_PASSWORD\"}" |
	jq -r .access_token)
tenant=$(printf '%s' "$admin" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .tid ||
	true)
[ -n "$tenant" ] && [ "$tenant" != null ] || fr_die "cannot read the admin's tenant id"

fund() { # fund <user_id>: opens the wallet with a large grant
	curl -fsS -o /dev/null -X POST "$FR_GATEWAY_URL/v1/admin/users/$1/credits/grant" \
		-H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
		-d "{\"amount_minor\":1000000000000,\"description\":\"bench\",\"tenant_id\":\"$tenant\"}"
}
: >"$OUTDIR/users.txt"
for _ in $(seq 1 "$USERS"); do
	u=$(cat /proc/sys/kernel/random/uuid)
	fund "$u"
	echo "$u $tenant" >>"$OUTDIR/users.txt"
done
hot=$(cat /proc/sys/kernel/random/uuid)
fund "$hot"
echo "$hot $tenant" >"$OUTDIR/hot.txt"

psql "$PG_BASE/postgres" -X -q -c 'DROP DATABASE IF EXISTS fr_pgbench' -c 'CREATE DATABASE fr_pgbench'
cleanup() { psql "$PG_BASE/postgres" -X -q -c 'DROP DATABASE IF EXISTS fr_pgbench' || true; }
trap cleanup EXIT
pgbench -q -i -s "$PGBENCH_SCALE" "$PG_BASE/fr_pgbench" >"$OUTDIR/pgbench-init.log" 2>&1

# ---- runs ------------------------------------------------------------------------------------

run_billing() { # run_billing <users file> <seconds> -> pairs/s
	"$TOOL" -p "$BILLING_PORT" -u "$1" -c "$CONC" -d "$2" | tee -a "$OUTDIR/billing.log" |
		sed -n 's/.*rate=\([0-9.]*\).*/\1/p'
}
run_pgbench() { # run_pgbench <seconds> -> tps
	pgbench -n -b tpcb-like -c "$PGBENCH_CLIENTS" -j 2 -T "$1" "$PG_BASE/fr_pgbench" 2>&1 |
		tee -a "$OUTDIR/pgbench.log" | sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p'
}
stats() { # stats <values...> -> "min median max"
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[1], v[int((NR+1)/2)], v[NR]}'
}

fr_say "warm-up (${WARMUP}s each)"
run_billing "$OUTDIR/users.txt" "$WARMUP" >/dev/null
run_pgbench "$WARMUP" >/dev/null
A=() B=() H=()
for i in $(seq 1 "$RUNS"); do
	A+=("$(run_billing "$OUTDIR/users.txt" "$DURATION")")
	B+=("$(run_pgbench "$DURATION")")
	printf 'run %d: billing %s pairs/s (%d users, %d loops)   pgbench %s tps (c=%d)\n' "$i" \
		"${A[-1]}" "$USERS" "$CONC" "${B[-1]}" "$PGBENCH_CLIENTS" | tee -a "$OUTDIR/runs.tsv"
done
for i in $(seq 1 "$RUNS"); do
	H+=("$(run_billing "$OUTDIR/hot.txt" "$DURATION")")
	printf 'hot wallet run %d: %s pairs/s\n' "$i" "${H[-1]}" | tee -a "$OUTDIR/runs.tsv"
done

read -r amin amed amax <<<"$(stats "${A[@]}")"
read -r bmin bmed bmax <<<"$(stats "${B[@]}")"
read -r hmin hmed hmax <<<"$(stats "${H[@]}")"
echo
printf 'billing pairs/s, many users  min %s  median %s  max %s\n' "$amin" "$amed" "$amax"
printf 'billing pairs/s, hot wallet  min %s  median %s  max %s\n' "$hmin" "$hmed" "$hmax"
printf 'pgbench tpcb-like tps        min %s  median %s  max %s\n' "$bmin" "$bmed" "$bmax"
printf 'ratio many users / pgbench: %s   hot wallet / pgbench: %s   (target >= 0.5)\n' \
	"$(awk -v a="$amed" -v b="$bmed" 'BEGIN {printf "%.2f", a / b}')" \
	"$(awk -v a="$hmed" -v b="$bmed" 'BEGIN {printf "%.2f", a / b}')"
echo "logs in $OUTDIR"
