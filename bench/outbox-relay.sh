#!/usr/bin/env bash
#
# outbox-relay.sh - how fast identity's outbox relay gets events onto the broker, against the
# broker's own ceiling for our publish path, and how long an event takes from the service to
# a consumer.
#
#   A (relay)  N outbox rows are inserted into identity.outbox in ONE SQL transaction (each a
#              valid envelope of type bench.outbox.probe.v1, ~SIZE bytes, with data.sent_ns);
#              identity's relay publishes whatever is unsent in its outbox (that is its whole
#              job) with publisher confirms. A C consumer (amqp_raw_publish sink) bound to the
#              exchange counts the arrivals: relay events/s = (N-1) / (last - first arrival).
#              Also shown: commit -> last arrival (includes the relay's idle poll, up to its
#              poll interval, since direct inserts do not kick it) and identity's CPU per event.
#   B (raw)    amqp_raw_publish publish: N persistent SIZE-byte messages with plain librabbitmq,
#              publisher confirms awaited every CONFIRM_EVERY; confirmed messages/s. Same
#              exchange, same consumer, same queue as A.
#   latency    LAT_USERS real registrations (POST /v1/auth/register through the gateway,
#              LAT_CONC at a time) and a consumer bound to identity.user.registered.v1:
#              arrival time minus the envelope's occurred_at (set by identity when it builds the
#              event, milliseconds) = service -> consumer latency through commit, outbox_kick,
#              relay round, broker and delivery. p50 / p99 / max per run.
# A and B alternate A B A B A B (RUNS per side, after a warm-up); the latency runs follow. It
# prints min/median/max per side and the median ratio A/B. Targets (../shared/BENCHMARKS.md):
# relay events/s >= 0.5 x raw confirmed publish; publish -> consume p99 < 50 ms.
#
# bench.outbox.probe.v1 and bench.raw.probe.v1 are NOT catalogued event types (not in
# contracts/events/): bench-only routing keys that only this script's queue binds. The rows
# it inserts are deleted again at the end (an EventTap running against the same broker
# would flag them; do not run this against the e2e test stack while the suite runs).
#
# Uses the local stack of `make up` (scripts/stack.sh with the current FR_RUN_DIR / ports);
# when a component is not running, builds and starts the stack and stops what it started at
# the end. Everything on 127.0.0.1. Not part of `make test`.
#
# Env: N (events per run, 20000), RUNS (3), SIZE (bytes per message, 300), CONFIRM_EVERY
#      (100), LAT_USERS (registrations per latency run, 200), LAT_CONC (2), OUTDIR (logs,
#      default /tmp/fr-bench-relay-<time>), plus the stack's variables (FR_RUN_DIR,
#      FR_PG_PORT, FR_AMQP_PORT, GATEWAY_PORT, IDENTITY_PORT, BUILD [build/debug], ...).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${N:-20000}
SIZE=${SIZE:-300}
CONFIRM_EVERY=${CONFIRM_EVERY:-100}
LAT_USERS=${LAT_USERS:-200}
LAT_CONC=${LAT_CONC:-2}
OUTDIR=${OUTDIR:-/tmp/fr-bench-relay-$(date +%Y%m%dT%H%M%S)}
BUILD=${BUILD:-build/debug}
BENCH_TYPE=bench.outbox.probe.v1
RAW_KEY=bench.raw.probe.v1
QUEUE=bench.outbox-relay.$$
LAT_QUEUE=bench.outbox-latency.$$
STARTED=()  # stack components this script started (and stops again)
SINK_PID=

cleanup() {
	local rc=$?
	if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; fi
	if [ -n "${TOOL:-}" ] && [ -x "$TOOL" ]; then
		"$TOOL" delete -q "$QUEUE" >/dev/null 2>&1 || true
		"$TOOL" delete -q "$LAT_QUEUE" >/dev/null 2>&1 || true
	fi
	if [ -n "${FR_PG_URL:-}" ]; then
		psql -X -q "$FR_PG_URL" -c "DELETE FROM identity.outbox WHERE event_type = '$BENCH_TYPE'" \
			>/dev/null 2>&1 || true
	fi
	if [ ${#STARTED[@]} -gt 0 ]; then
		fr_say "stopping what this benchmark started: ${STARTED[*]}"
		BUILD=$BUILD scripts/stack.sh down "${STARTED[@]}" >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites and the stack -------------------------------------------------------------

for v in N RUNS SIZE CONFIRM_EVERY LAT_USERS LAT_CONC; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then fr_die "$v must be a positive number"; fi
done
[ "$SIZE" -ge 280 ] || fr_die "SIZE must be at least 280 (an envelope with its fields)"
mkdir -p "$OUTDIR"

eval "$(scripts/stack.sh env)"
RUN=$FR_RUN_DIR

# What of this run dir's stack is not running (a stack of another run dir on the same ports
# does not count: its pid files are not ours).
not_running() {
	scripts/stack.sh status | awk '$1 ~ /^(pg|redis|rabbitmq|identity|gateway)$/ && $2 != "running" {print $1}'
}
if [ -n "$(not_running)" ]; then
	fr_say "the local stack in $RUN is not (fully) up: building and starting it"
	scripts/deps.sh
	make --no-print-directory -j"$(nproc)" BUILD="$BUILD" build >"$OUTDIR/build.log" 2>&1 ||
		fr_die "make build failed (see $OUTDIR/build.log)"
	mapfile -t STARTED < <(not_running)
	BUILD=$BUILD scripts/stack.sh up
fi
make --no-print-directory BUILD="$BUILD" bench-tools >"$OUTDIR/bench-tools.log" 2>&1 ||
	fr_die "make bench-tools failed (see $OUTDIR/bench-tools.log)"
TOOL=$FR_REPO/$BUILD/bench/amqp_raw_publish
ID_PID=$(fr_pidfile_alive "$RUN/pid/identity.pid" identity) || fr_die "no running identity in $RUN"

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 "$FR_PG_URL")
[ "$("${PSQL[@]}" -c "SELECT to_regclass('identity.outbox') IS NOT NULL")" = t ] ||
	fr_die "identity has no outbox table (identity.outbox): nothing to measure"

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
field() { tr ' ' '\n' <"$1" | awk -F= -v k="$2" '$1 == k {print $2}' | tail -1; }

# start_sink <log> <queue> <count> <marker> <key...>: a consumer in the background, ready on
# return; only messages whose body contains <marker> (this run's) count.
start_sink() {
	local log=$1 q=$2 n=$3 mark=$4 i k
	shift 4
	local keys=()
	for k in "$@"; do keys+=(-k "$k"); done
	"$TOOL" sink -q "$q" "${keys[@]}" -n "$n" -m "$mark" -t 30 >"$log" 2>&1 &
	SINK_PID=$!
	for i in $(seq 1 100); do
		grep -q '^ready$' "$log" && return 0
		kill -0 "$SINK_PID" 2>/dev/null || break
		sleep 0.1
	done
	fr_die "the consumer did not start ($log): $(cat "$log")"
}
wait_sink() {
	local rc=0
	wait "$SINK_PID" || rc=$?
	SINK_PID=
	[ "$rc" = 0 ] || fr_die "the consumer ended with status $rc: $(tail -3 "$1")"
}

# The INSERT of n bench rows (run marker $2), one transaction, payload ~SIZE bytes; then the
# server's clock right after that commit (ns), which psql prints.
insert_sql() {
	cat <<EOF
WITH r AS MATERIALIZED (SELECT g, gen_random_uuid() AS id FROM generate_series(1, $1) AS g),
e AS (SELECT id, g, json_build_object('event_id', id, 'event_type', '$BENCH_TYPE',
        'occurred_at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'producer', 'bench', 'tenant_id', NULL, 'trace_id', NULL,
        'data', json_build_object('run', '$2', 'seq', g,
            'sent_ns', (extract(epoch FROM clock_timestamp()) * 1e9)::bigint, 'pad', '')) AS env
      FROM r)
INSERT INTO identity.outbox (event_id, event_type, aggregate_id, payload)
SELECT id, '$BENCH_TYPE', 'bench',
       replace(env::text, '"pad" : ""', '"pad" : "' || repeat('x', greatest(0, $SIZE - length(env::text))) || '"')
FROM e;
SELECT (extract(epoch FROM clock_timestamp()) * 1e9)::bigint;
EOF
}

RESULTS=$OUTDIR/runs.tsv
printf 'side\trun\tevents_s\tcommit_to_last_s\tcpu_us_event\tlat_p50_ms\tlat_p99_ms\tlat_max_ms\n' >"$RESULTS"

# run_relay <run> [n]
run_relay() {
	local r=$1 n=${2:-$N} log mark t0 c0 c1 rate last span cpu i left
	log=$OUTDIR/relay-$r.txt
	mark=relay-$$-$r
	start_sink "$log" "$QUEUE" "$n" "$mark" "$BENCH_TYPE" "$RAW_KEY"
	c0=$(cpu_ticks "$ID_PID")
	t0=$(insert_sql "$n" "$mark" | "${PSQL[@]}") || fr_die "inserting the bench rows failed"
	[[ $t0 =~ ^[0-9]+$ ]] || fr_die "no commit time from psql: $t0"
	wait_sink "$log"
	c1=$(cpu_ticks "$ID_PID")
	for i in $(seq 1 100); do # the relay marks rows sent after the confirms
		left=$("${PSQL[@]}" -c "SELECT count(*) FROM identity.outbox WHERE event_type = '$BENCH_TYPE' AND sent_at IS NULL")
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	[ "$left" = 0 ] || fr_die "the relay left $left bench rows unsent"
	"${PSQL[@]}" -c "DELETE FROM identity.outbox WHERE event_type = '$BENCH_TYPE'" >/dev/null
	[ "$r" = warmup ] && return 0
	rate=$(field "$log" rate)
	last=$(field "$log" last_ns)
	echo "commit_ns=$t0" >>"$log"
	span=$(awk -v a="$t0" -v b="$last" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" 'BEGIN {printf "%.1f", (b - a) / hz * 1e6 / n}')
	printf 'relay\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$rate" "$span" "$cpu" \
		"$(field "$log" lat_p50_ms)" "$(field "$log" lat_p99_ms)" "$(field "$log" lat_max_ms)" >>"$RESULTS"
	printf '  A relay run %s: %8s events/s (first->last arrival)  commit->last %6s s  identity cpu %6s us/event  backlog latency p50 %s ms, max %s ms\n' \
		"$r" "$rate" "$span" "$cpu" "$(field "$log" lat_p50_ms)" "$(field "$log" lat_max_ms)"
}

# run_raw <run> [n]
run_raw() {
	local r=$1 n=${2:-$N} log plog rate mark
	log=$OUTDIR/raw-sink-$r.txt
	plog=$OUTDIR/raw-pub-$r.txt
	mark=raw-$$-$r
	start_sink "$log" "$QUEUE" "$n" "$mark" "$BENCH_TYPE" "$RAW_KEY"
	"$TOOL" publish -k "$RAW_KEY" -n "$n" -s "$SIZE" -c "$CONFIRM_EVERY" -m "$mark" >"$plog" 2>&1 ||
		fr_die "raw publish failed: $(cat "$plog")"
	wait_sink "$log"
	[ "$r" = warmup ] && return 0
	rate=$(field "$plog" rate)
	printf 'raw\t%s\t%s\t%s\tNA\t%s\t%s\t%s\n' "$r" "$rate" "$(field "$plog" seconds)" \
		"$(field "$log" lat_p50_ms)" "$(field "$log" lat_p99_ms)" "$(field "$log" lat_max_ms)" >>"$RESULTS"
	printf '  B raw   run %s: %8s msg/s confirmed   (consumer saw %s msg/s; publish->consume p50 %s ms, p99 %s ms)\n' \
		"$r" "$rate" "$(field "$log" rate)" "$(field "$log" lat_p50_ms)" "$(field "$log" lat_p99_ms)"
}

# run_latency <run>: LAT_USERS registrations through the gateway, occurred_at -> arrival.
run_latency() {
	local r=$1 log bodies
	log=$OUTDIR/latency-$r.txt
	bodies=$OUTDIR/latency-$r.bodies
	start_sink "$log" "$LAT_QUEUE" "$LAT_USERS" "bench-$$-$r-" identity.user.registered.v1
	for i in $(seq 1 "$LAT_USERS"); do
		printf '{"tenant_slug":"default","email":"bench-%s-%s@example.test","password":"bench-pw-%s"}\n' \
			"$$-$r" "$i" "$(fr_random_hex 8)"
	done >"$bodies"
	tr '\n' '\0' <"$bodies" | xargs -0 -P "$LAT_CONC" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
		--max-time 30 -X POST "$FR_GATEWAY_URL/v1/auth/register" \
		-H 'Content-Type: application/json' -d {} >"$log.codes"
	[ "$(grep -cx 201 "$log.codes")" = "$LAT_USERS" ] ||
		fr_die "registrations did not all answer 201: $(sort "$log.codes" | uniq -c | tr '\n' ' ')"
	wait_sink "$log"
	printf 'latency\t%s\tNA\tNA\tNA\t%s\t%s\t%s\n' "$r" "$(field "$log" lat_p50_ms)" \
		"$(field "$log" lat_p99_ms)" "$(field "$log" lat_max_ms)" >>"$RESULTS"
	printf '  latency run %s: %s registrations, user.registered occurred_at -> consumer p50 %s ms, p99 %s ms, max %s ms\n' \
		"$r" "$(field "$log" lat_n)" "$(field "$log" lat_p50_ms)" "$(field "$log" lat_p99_ms)" \
		"$(field "$log" lat_max_ms)"
}

echo "outbox relay vs raw confirmed publish: $N events of ~$SIZE bytes per run, $RUNS runs per side alternating; $(nproc) CPUs shared by broker, PostgreSQL, identity and the tools; logs: $OUTDIR"
run_raw warmup 2000
run_relay warmup 2000
for r in $(seq 1 "$RUNS"); do
	run_relay "$r"
	run_raw "$r"
done
echo "latency: $LAT_USERS registrations per run through the gateway, $LAT_CONC at a time"
for r in $(seq 1 "$RUNS"); do run_latency "$r"; done

# ---- summary ---------------------------------------------------------------------------------

col() { awk -F'\t' -v s="$1" -v k="$2" 'NR > 1 && $1 == s && $k != "NA" && $k != "" {print $k}' "$RESULTS"; }
med() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) {print "NA"; exit}
	if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mn() { sort -g | head -1; }
mx() { sort -g | tail -1; }

echo
printf '%-8s %28s   %s\n' side "events/s min / median / max" "p99 ms min / median / max (relay: insert -> consume, backlog included)"
for s in relay raw latency; do
	rates="$(col $s 3 | mn) / $(col $s 3 | med) / $(col $s 3 | mx)"
	[ "$s" = latency ] && rates=-
	printf '%-8s %28s   %s\n' "$s" "$rates" \
		"$(col $s 7 | mn) / $(col $s 7 | med) / $(col $s 7 | mx)"
done
A=$(col relay 3 | med)
B=$(col raw 3 | med)
P99=$(col latency 7 | med)
echo
awk -v a="$A" -v b="$B" -v p="$P99" -v p50="$(col latency 6 | med)" -v cpu="$(col relay 5 | med)" 'BEGIN {
	ratio = (b > 0 ? a / b : 0)
	printf "SUMMARY relay/raw median events/s ratio %.2f (%s vs %s; target >= 0.5: %s) | service -> consumer latency median p50 %s ms, p99 %s ms (target p99 < 50 ms: %s) | identity cpu %s us/event relayed\n",
		ratio, a, b, (ratio >= 0.5 ? "met" : "MISSED"), p50, p, (p + 0 < 50 ? "met" : "MISSED"), cpu }'
