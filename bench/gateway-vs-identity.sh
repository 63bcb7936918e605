#!/usr/bin/env bash
#
# gateway-vs-identity.sh - what the gateway's hop costs: GET /v1/users/me with a bearer token
# through the gateway (A: JWT verify + session check + proxy to identity) against the same
# request sent straight to identity (B: identity verifies the token itself).
#
# Uses the local stack of `make up` (scripts/stack.sh with the current FR_RUN_DIR / ports);
# when it is not running, builds and starts it, and stops it again at the end. Logs in as the
# platform admin through the gateway, warms both sides up, then runs wrk alternately
# A B A B A B (RUNS per side) and prints, per run and as min/median/max: req/s, p50 and p99
# latency, non-2xx responses, and CPU time per request of the gateway and identity processes
# (utime+stime from /proc/<pid>/stat; steadier than req/s on a noisy VM), then the median
# ratio A/B and the p99 the gateway adds. Everything is on 127.0.0.1. Not part of `make test`.
#
# Env: DURATION (s per run, 10), RUNS (3), THREADS (wrk -t, 2), CONNS (wrk -c, 64),
#      WARMUP (s, 3), OUTDIR (logs, default /tmp/fr-bench-<time>), plus the stack's variables
#      (FR_RUN_DIR, GATEWAY_PORT, IDENTITY_PORT, FR_ADMIN_EMAIL, FR_ADMIN_PASSWORD, BUILD).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
OUTDIR=${OUTDIR:-/tmp/fr-bench-$(date +%Y%m%dT%H%M%S)}
URLPATH=/v1/users/me
STARTED=() # stack components this script started (and stops again)

cleanup() {
	local rc=$?
	if [ ${#STARTED[@]} -gt 0 ]; then
		fr_say "stopping what this benchmark started: ${STARTED[*]}"
		scripts/stack.sh down "${STARTED[@]}" >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites and the stack -------------------------------------------------------------

command -v wrk >/dev/null 2>&1 || scripts/deps.sh wrk
command -v wrk >/dev/null 2>&1 || fr_die "wrk is not installed (apt-get install wrk)"
mkdir -p "$OUTDIR"

eval "$(scripts/stack.sh env)"
RUN=$FR_RUN_DIR
GW=$FR_GATEWAY_URL
ID=$FR_IDENTITY_URL

ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1/readyz")" = 200 ]; }
if ! ready "$GW" || ! ready "$ID"; then
	fr_say "the local stack is not up: building and starting it"
	scripts/deps.sh
	make --no-print-directory -j"$(nproc)" build >"$OUTDIR/build.log" 2>&1 ||
		fr_die "make build failed (see $OUTDIR/build.log)"
	mapfile -t STARTED < <(scripts/stack.sh status | awk '$1 ~ /^(pg|redis|rabbitmq|identity|gateway)$/ && $2 != "running" {print $1}')
	scripts/stack.sh up
fi

pid_of() {
	fr_pidfile_alive "$RUN/pid/$1.pid" "$1" || fr_die "no running $1 in $RUN (pid file)"
}
GW_PID=$(pid_of gateway)
ID_PID=$(pid_of identity)

# ---- token and sanity checks ---------------------------------------------------------------

LOGIN=$(jq -cn --arg e "$FR_ADMIN_EMAIL" --arg p "$FR_ADMIN_PASSWORD" \
	'{tenant_slug: "default", email: $e, password: $p, device_name: "bench"}')
TOKEN=$(curl -sf --max-time 10 -X POST "$GW/v1/auth/login" -H 'Content-Type: application/json' \
	-d "$LOGIN" | jq -r '.access_token // empty') || true
[ -n "$TOKEN" ] || fr_die "admin login through the gateway failed ($FR_ADMIN_EMAIL)"
AUTHH="Authorization: Bearer $TOKEN"

for side in "gateway $GW" "identity $ID"; do
	set -- $side
	code=$(curl -s -o "$OUTDIR/check-$1.json" -w '%{http_code}' --max-time 5 -H "$AUTHH" "$2$URLPATH")
	[ "$code" = 200 ] || fr_die "GET $2$URLPATH answered $code, want 200 ($OUTDIR/check-$1.json)"
done

# ---- measuring -------------------------------------------------------------------------------

HZ=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of one process (all threads), in clock ticks
	local f
	f=$(cat "/proc/$1/stat") || fr_die "process $1 is gone"
	f=${f##*) }
	# shellcheck disable=SC2086 # split the fields
	set -- $f
	echo $((${12} + ${13}))
}
to_ms() { # wrk latency (812.00us / 1.23ms / 1.05s / 1.2m) -> ms
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "NA" }'
}

RESULTS=$OUTDIR/runs.tsv
printf 'side\trun\treq_s\tp50_ms\tp99_ms\tnon2xx\tgw_cpu_us_req\tid_cpu_us_req\n' >"$RESULTS"

# run_wrk <side> <url> <run>
run_wrk() {
	local side=$1 url=$2 r=$3 log g0 g1 i0 i1 rps p50 p99 bad n gus ius
	log=$OUTDIR/wrk-$side-$r.txt
	g0=$(cpu_ticks "$GW_PID")
	i0=$(cpu_ticks "$ID_PID")
	timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
		-H "$AUTHH" "$url$URLPATH" >"$log" 2>&1 || fr_die "wrk failed ($log)"
	g1=$(cpu_ticks "$GW_PID")
	i1=$(cpu_ticks "$ID_PID")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$log")
	n=$(awk '/requests in/ {print $1}' "$log")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$log")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$log")")
	bad=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10}
		END {print n + 0}' "$log")
	gus=$(awk -v a="$g0" -v b="$g1" -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "NA" }')
	ius=$(awk -v a="$i0" -v b="$i1" -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "NA" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$r" "${rps:-NA}" "$p50" "$p99" "$bad" \
		"$gus" "$ius" >>"$RESULTS"
	printf '  %-8s run %s: %10s req/s  p50 %8s ms  p99 %8s ms  non-2xx %-6s cpu/req: gateway %6s us, identity %6s us\n' \
		"$side" "$r" "${rps:-NA}" "$p50" "$p99" "$bad" "$gus" "$ius"
}

echo "GET $URLPATH with a bearer token: A = through the gateway ($GW), B = identity direct ($ID)"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $RUNS runs per side alternating, $(nproc) CPUs shared with wrk; logs: $OUTDIR"
for url in "$GW" "$ID"; do
	timeout $((WARMUP + 20)) wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -H "$AUTHH" \
		"$url$URLPATH" >/dev/null 2>&1 || true
done
for r in $(seq 1 "$RUNS"); do
	run_wrk gateway "$GW" "$r"
	run_wrk identity "$ID" "$r"
done

# ---- summary ---------------------------------------------------------------------------------

col() { awk -F'\t' -v s="$1" -v k="$2" 'NR > 1 && $1 == s && $k != "NA" {print $k}' "$RESULTS"; }
med() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) {print "NA"; exit}
	if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mn() { sort -g | head -1; }
mx() { sort -g | tail -1; }

SUMMARY=$OUTDIR/summary.tsv
printf 'side\treq_s_min\treq_s_med\treq_s_max\tp99_ms_min\tp99_ms_med\tp99_ms_max\tnon2xx\tgw_cpu_us_req_med\tid_cpu_us_req_med\n' >"$SUMMARY"
for s in gateway identity; do
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" \
		"$(col $s 3 | mn)" "$(col $s 3 | med)" "$(col $s 3 | mx)" \
		"$(col $s 5 | mn)" "$(col $s 5 | med)" "$(col $s 5 | mx)" \
		"$(col $s 6 | awk '{n += $1} END {print n + 0}')" \
		"$(col $s 7 | med)" "$(col $s 8 | med)" >>"$SUMMARY"
done
echo
column -t -s$'\t' "$SUMMARY"
A_RPS=$(col gateway 3 | med)
B_RPS=$(col identity 3 | med)
A_P99=$(col gateway 5 | med)
B_P99=$(col identity 5 | med)
echo
awk -v a="$A_RPS" -v b="$B_RPS" -v pa="$A_P99" -v pb="$B_P99" \
	-v gc="$(col gateway 7 | med)" -v ic="$(col gateway 8 | med)" -v dc="$(col identity 8 | med)" \
	'BEGIN {
	printf "SUMMARY gateway/direct median req/s ratio %.2f (%s vs %s req/s) | p99 added by the gateway %+.2f ms (%s vs %s ms) | cpu/req via gateway: gateway %s us + identity %s us; direct: identity %s us\n",
		(b > 0 ? a / b : 0), a, b, pa - pb, pa, pb, gc, ic, dc }'
