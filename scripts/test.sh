#!/usr/bin/env bash
#
# test.sh - the whole FlatRender test suite (`make test`, and CI through .ci/run).
#
#   deps     scripts/deps.sh installs what is missing
#   build    make SAN=1 build tests (gcc, ASan+UBSan); make CC=clang build tests; make fuzz
#   unit     every build/san/tests/**/test_* (cmocka) with FR_TEST_PG_URL / FR_TEST_REDIS_PORT /
#            FR_TEST_AMQP_PORT (+ FR_TEST_AMQP_USER / _PASSWORD) pointing at the test stack's
#            PostgreSQL (superuser), Redis and RabbitMQ
#   contract tests/contract/run.py (code vs contracts) and every tests/contract/check_*.py,
#            given the daemon binary directory
#   e2e      python3 -m unittest discover -s tests/e2e against the running test stack (with
#            FR_AMQP_URL, FR_RABBITMQCTL and the rest of `scripts/stack.sh env`)
#   fuzz     each build/fuzz/fuzz_* for FR_TEST_FUZZ_SECONDS (20) seconds
#   shutdown the stack is stopped with SIGTERM: every daemon must exit 0 and leave no
#            sanitizer report under .run/test/asan; the broker must stop cleanly (rabbitmqctl
#            stop, no signal needed)
#   compose  docker-compose config -q, when docker-compose is installed
#
# The test stack lives in .run/test (wiped at the start of every run) on its own ports:
# PostgreSQL 15432, Redis 16379, RabbitMQ 16672 (Erlang distribution 16673, its own epmd 16674),
# identity 17081, billing 17082, gateway 17080; daemons from build/san. It is always stopped
# on exit. The last line printed is "N passed, M failed"; the exit status is non-zero when
# anything failed.
#
# Knobs: FR_TEST_TIERS (space-separated subset of: build unit contract e2e fuzz compose;
# default all), FR_TEST_FUZZ_SECONDS (20), FR_TEST_UNIT_TIMEOUT_S (300 per binary),
# FR_TEST_E2E_TIMEOUT_S (1200). Other FR_*, IDENTITY_*, BILLING_* and GATEWAY_* variables are
# cleared so a developer's shell cannot change what the suite tests.
set -euo pipefail

FR_ME=test
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$FR_REPO"

TIERS=${FR_TEST_TIERS:-build unit contract e2e fuzz compose}
FUZZ_SECONDS=${FR_TEST_FUZZ_SECONDS:-20}
UNIT_TIMEOUT=${FR_TEST_UNIT_TIMEOUT_S:-300}
E2E_TIMEOUT=${FR_TEST_E2E_TIMEOUT_S:-1200}
for _v in $(compgen -e); do
	case $_v in
	FR_TEST_TIERS | FR_TEST_FUZZ_SECONDS | FR_TEST_UNIT_TIMEOUT_S | FR_TEST_E2E_TIMEOUT_S) ;;
	FR_* | IDENTITY_* | BILLING_* | GATEWAY_*) unset "$_v" ;;
	esac
done
unset _v BUILD SAN CC CFLAGS LDFLAGS ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS CMOCKA_MESSAGE_OUTPUT
export CI=${CI:-}

RUN=$FR_REPO/.run/test
OUT=$RUN/results
SAN_BUILD=build/san
PY=python3
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi # Debian's, with python3-yaml etc.

# ---- results -------------------------------------------------------------------------------

TIER_ORDER=(deps build stack unit contract e2e fuzz shutdown compose)
declare -A T_PASS=() T_FAIL=() T_SKIP=() T_NOTE=()
FAILED_ITEMS=()

# record <tier> <passed> <failed> [skipped]
record() {
	T_PASS[$1]=$((${T_PASS[$1]:-0} + $2))
	T_FAIL[$1]=$((${T_FAIL[$1]:-0} + $3))
	T_SKIP[$1]=$((${T_SKIP[$1]:-0} + ${4:-0}))
}
# fail_item <tier> <what>: one failed case with a name for the summary
fail_item() {
	record "$1" 0 1
	FAILED_ITEMS+=("$1: $2")
}
note() { T_NOTE[$1]="${T_NOTE[$1]:+${T_NOTE[$1]}; }$2"; }
want() { [[ " $TIERS " == *" $1 "* ]]; }
section() { printf '\n==== %s ====\n' "$*"; }

summary() {
	local t np=0 nf=0 line
	section summary
	for t in "${TIER_ORDER[@]}"; do
		[ -n "${T_PASS[$t]+x}${T_FAIL[$t]+x}${T_NOTE[$t]+x}" ] || continue
		line=$(printf '%-9s %4d passed, %d failed' "$t" "${T_PASS[$t]:-0}" "${T_FAIL[$t]:-0}")
		if [ "${T_SKIP[$t]:-0}" -gt 0 ]; then line="$line, ${T_SKIP[$t]} skipped"; fi
		if [ -n "${T_NOTE[$t]:-}" ]; then line="$line  (${T_NOTE[$t]})"; fi
		echo "$line"
		np=$((np + ${T_PASS[$t]:-0}))
		nf=$((nf + ${T_FAIL[$t]:-0}))
	done
	if [ ${#FAILED_ITEMS[@]} -gt 0 ]; then
		echo "failed:"
		printf '  %s\n' "${FAILED_ITEMS[@]}"
	fi
	echo "total time $((SECONDS / 60))m$((SECONDS % 60))s"
	echo "$np passed, $nf failed"
	[ "$nf" -eq 0 ]
}

# Counts test cases in a log: cmocka summaries, unittest's "Ran N tests" / "FAILED (...)", or
# a final "N passed, M failed" line. Prints "passed failed skipped found" (found=0: nothing).
count_cases() {
	awk '
	/^\[  PASSED  \] [0-9]+ test\(s\)\./ { p += $4; c = 1 }
	/^\[  FAILED  \] [0-9]+ test\(s\)/ { f += $4; c = 1 }
	/^\[  SKIPPED \] [0-9]+ test\(s\)/ { s += $4; c = 1 }
	/^Ran [0-9]+ tests? in / { ran += $2; u = 1 }
	/^(FAILED|OK) \(/ {
		n = split(substr($0, index($0, "(") + 1), kv, /[,)] */)
		for (i = 1; i <= n; i++) {
			split(kv[i], x, "=")
			if (x[1] == "failures" || x[1] == "errors" || x[1] == "unexpected_successes") uf += x[2]
			if (x[1] == "skipped" || x[1] == "expected_failures") us += x[2]
		}
	}
	/^[0-9]+ passed, [0-9]+ failed$/ { gp = $1; gf = $3; g = 1 }
	END {
		if (c) printf "%d %d %d 1\n", p, f, s
		else if (u) printf "%d %d %d 1\n", ran - uf - us, uf, us
		else if (g) printf "%d %d 0 1\n", gp, gf
		else print "0 0 0 0"
	}' "$1"
}

SAN_PATTERN='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'

# ---- the test stack --------------------------------------------------------------------------

STACK_STARTED=0
tstack() {
	env FR_RUN_DIR="$RUN" FR_PG_PORT=15432 FR_REDIS_PORT=16379 FR_AMQP_PORT=16672 \
		FR_AMQP_DIST_PORT=16673 FR_EPMD_PORT=16674 IDENTITY_PORT=17081 GATEWAY_PORT=17080 \
		BILLING_PORT=17082 BUILD="$SAN_BUILD" FR_ENV=local FR_SAN_LOG_DIR="$RUN/asan" \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$FR_LIB_DIR/stack.sh" "$@"
}

on_exit() {
	local rc=$?
	if [ "$STACK_STARTED" = 1 ]; then
		tstack down >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---- tiers -----------------------------------------------------------------------------------

run_build() { # name, make args...
	local name=$1 t0=$SECONDS log=$OUT/build-$1.log
	shift
	echo "+ make $*"
	if make --no-print-directory "$@" >"$log" 2>&1; then
		record build 1 0
		echo "build $name: ok ($((SECONDS - t0))s)"
		return 0
	fi
	fail_item build "make $*"
	echo "build $name: FAILED ($((SECONDS - t0))s); diagnostics from $log:"
	grep -E '(error|warning|note):|undefined reference|\*\*\*' "$log" |
		grep -vE '^(gcc|clang|cc) ' | head -n 60 | sed 's/^/    | /' || true
	return 1
}

tier_build() {
	section "build"
	local ok=0
	run_build san -j2 SAN=1 build tests || ok=1
	run_build clang -j2 CC=clang build tests || true
	run_build fuzz -j2 fuzz || FUZZ_BUILD_FAILED=1
	return $ok
}

# The source a built test or fuzz binary comes from (stale binaries of deleted tests are not run).
source_of() {
	local rel=${1#"$SAN_BUILD"/tests/} dir name
	dir=${rel%%/*}
	name=${rel##*/}
	case $1 in
	build/fuzz/*) echo "fuzz/${1##*/}.c" ;;
	*)
		if [ "$dir" = libcommon ] || [ "$dir" = gateway ]; then
			echo "$dir/tests/$name.c"
		else
			echo "services/$dir/tests/$name.c"
		fi
		;;
	esac
}

tier_unit() {
	section "unit tests (cmocka, $SAN_BUILD)"
	local bin name log rc p f s found nbin=0
	mkdir -p "$OUT/unit"
	while IFS= read -r bin; do
		[ -f "$(source_of "$bin")" ] || continue
		name=${bin#"$SAN_BUILD"/tests/}
		log=$OUT/unit/${name//\//_}.log
		nbin=$((nbin + 1))
		rc=0
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			timeout -k 10 "$UNIT_TIMEOUT" "$bin" >"$log" 2>&1 </dev/null || rc=$?
		read -r p f s found < <(count_cases "$log")
		if [ "$rc" -ne 0 ] || grep -qE "$SAN_PATTERN" "$log"; then
			if [ "$f" -eq 0 ]; then f=1; fi
			[ "$rc" -eq 124 ] && note unit "$name timed out after ${UNIT_TIMEOUT}s"
			FAILED_ITEMS+=("unit: $name (exit $rc; log $log)")
			record unit "$p" "$f" "$s"
			printf '%-44s FAILED: %d passed, %d failed (exit %d)\n' "$name" "$p" "$f" "$rc"
			sed 's/^/    | /' "$log" | tail -n 80
		else
			if [ "$found" = 0 ]; then p=1; fi
			record unit "$p" 0 "$s"
			printf '%-44s ok: %d passed%s\n' "$name" "$p" "$([ "$s" -gt 0 ] && echo ", $s skipped")"
		fi
	done < <(find "$SAN_BUILD/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort)
	note unit "$nbin binaries"
	if [ $nbin -eq 0 ]; then echo "no unit test binaries"; fi
}

# Runs a python test command and records its cases under <tier>.
#   run_py_tier <tier> <timeout> cmd...
run_py_tier() {
	local tier=$1 to=$2 log=$OUT/${PY_LOG:-$1}.log rc=0 p f s found
	shift 2
	echo "+ $*"
	timeout -k 10 "$to" "$@" 2>&1 </dev/null | tee "$log" || rc=$?
	read -r p f s found < <(count_cases "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	if [ "$found" = 0 ] && [ "$rc" -eq 0 ]; then p=1; fi
	record "$tier" "$p" "$f" "$s"
	if [ "$rc" -ne 0 ]; then
		[ "$rc" -eq 124 ] && note "$tier" "timed out after ${to}s"
		FAILED_ITEMS+=("$tier: $* (exit $rc; log $log)")
	fi
}

tier_contract() {
	section "contract checks"
	if [ ! -f tests/contract/run.py ]; then
		note contract "tests/contract/run.py not present"
		echo "tests/contract/run.py not present: skipped"
		return 0
	fi
	local script
	# run.py (OpenAPI validity, routes vs contracts) and every check_*.py beside it
	for script in tests/contract/run.py tests/contract/check_*.py; do
		[ -f "$script" ] || continue
		FR_BIN_DIR=$FR_REPO/$SAN_BUILD/bin PY_LOG=contract-$(basename "$script" .py) \
			run_py_tier contract 600 "$PY" "$script" "$FR_REPO/$SAN_BUILD/bin"
	done
}

tier_e2e() {
	section "end-to-end tests (tests/e2e against the test stack)"
	if ! compgen -G 'tests/e2e/test*.py' >/dev/null; then
		note e2e "no tests/e2e/test*.py"
		echo "no end-to-end tests: skipped"
		return 0
	fi
	run_py_tier e2e "$E2E_TIMEOUT" "$PY" -m unittest discover -s tests/e2e -v
}

tier_fuzz() {
	section "fuzz smoke (${FUZZ_SECONDS}s per target)"
	local bin name work log rc runs corp n=0
	for bin in build/fuzz/fuzz_*; do
		[ -x "$bin" ] && [ -f "$bin" ] || continue
		[ -f "$(source_of "$bin")" ] || continue
		name=${bin##*/}
		work=$OUT/fuzz/$name
		log=$work.log
		rm -rf "$work"
		mkdir -p "$work/corpus"
		corp=()
		for c in "fuzz/corpus/$name" "fuzz/corpus/${name#fuzz_}"; do
			if [ -d "$c" ]; then corp+=("$c"); fi
		done
		local dict=()
		for c in "fuzz/$name.dict" "fuzz/${name#fuzz_}.dict"; do
			if [ -f "$c" ]; then dict=("-dict=$c"); fi
		done
		n=$((n + 1))
		rc=0
		timeout -k 10 $((FUZZ_SECONDS + 120)) "$bin" -max_total_time="$FUZZ_SECONDS" \
			-rss_limit_mb=2048 -timeout=10 -artifact_prefix="$work/" -print_final_stats=1 \
			"${dict[@]}" "$work/corpus" "${corp[@]}" >"$log" 2>&1 </dev/null || rc=$?
		runs=$(grep -oE '^Done [0-9]+ runs' "$log" | awk '{print $2}' | tail -1)
		if [ "$rc" -eq 0 ]; then
			record fuzz 1 0
			printf '%-32s ok: %s runs%s\n' "$name" "${runs:-?}" \
				"$([ ${#corp[@]} -gt 0 ] && echo ", seed corpus ${corp[*]}")"
		else
			fail_item fuzz "$name (exit $rc; log $log; artifacts in $work/)"
			printf '%-32s FAILED (exit %d); last lines of %s:\n' "$name" "$rc" "$log"
			tail -n 60 "$log" | sed 's/^/    | /'
		fi
	done
	if [ $n -eq 0 ]; then
		note fuzz "no fuzz targets"
		echo "no fuzz targets"
	fi
}

# Stops the stack and checks how each daemon ended.
tier_shutdown() {
	section "shutdown (SIGTERM; exit 0 and no sanitizer report)"
	local d code f bad
	tstack down || fail_item shutdown "scripts/stack.sh down failed"
	STACK_STARTED=0
	for d in identity billing gateway; do
		[ -e "$RUN/pid/$d.port" ] || continue # never started
		code=$(cat "$RUN/pid/$d.exit" 2>/dev/null || echo unknown)
		bad=0
		if [ "$code" != 0 ]; then
			echo "$d: exit status $code (want 0)"
			bad=1
		fi
		for f in "$RUN/asan/$d".*; do
			[ -s "$f" ] || continue
			echo "$d: sanitizer report $f:"
			sed 's/^/    | /' "$f"
			bad=1
		done
		if [ $bad = 0 ]; then
			record shutdown 1 0
			echo "$d: exit 0, no sanitizer report"
		else
			fail_item shutdown "$d (exit $code; see $RUN/asan and $RUN/log/$d.log)"
		fi
	done
	# every other process the tests started under the sanitizers (second gateway, event
	# probe, ...) logs there too: any report fails the run
	bad=0
	for f in "$RUN"/asan/*; do
		[ -s "$f" ] || continue
		case ${f##*/} in identity.* | billing.* | gateway.*) continue ;; esac
		echo "sanitizer report $f:"
		sed 's/^/    | /' "$f"
		bad=1
	done
	if [ $bad = 0 ]; then
		record shutdown 1 0
		echo "test processes: no sanitizer report"
	else
		fail_item shutdown "sanitizer reports from test processes (see $RUN/asan)"
	fi
	shutdown_broker
}

# The broker must have been stopped by `down` through rabbitmqctl (pid/rabbitmq.stop "clean",
# not "forced" by signals, and not missing: a node that died on its own), leaving no process.
shutdown_broker() {
	local how root
	[ -e "$RUN/pid/rabbitmq.ports" ] || return 0 # never started
	how=$(cat "$RUN/pid/rabbitmq.stop" 2>/dev/null || echo "ended without scripts/stack.sh down")
	root=$(cat "$RUN/rabbitmq.path" 2>/dev/null || echo "$RUN/rabbitmq")
	if fr_pidfile_alive "$root/beam.pid" beam.smp >/dev/null ||
		fr_pidfile_alive "$RUN/pid/epmd.pid" epmd >/dev/null; then
		how="$how, still running"
	fi
	if [ "$how" = clean ]; then
		record shutdown 1 0
		echo "rabbitmq: stopped cleanly (rabbitmqctl stop), epmd stopped"
	else
		echo "rabbitmq: not stopped cleanly: $how"
		fail_item shutdown "rabbitmq ($how; see $RUN/log/rabbitmq.log, $RUN/log/rabbitmq.stdout.log)"
	fi
}

tier_compose() {
	section "docker-compose config"
	if ! command -v docker-compose >/dev/null 2>&1; then
		note compose "docker-compose not installed"
		echo "docker-compose not installed: skipped"
		return 0
	fi
	if docker-compose -f docker-compose.yml config -q; then
		record compose 1 0
		echo "docker-compose.yml: ok"
	else
		fail_item compose "docker-compose -f docker-compose.yml config -q"
	fi
}

# ---- main ------------------------------------------------------------------------------------

main() {
	FUZZ_BUILD_FAILED=0
	section "dependencies"
	if ! "$FR_LIB_DIR/deps.sh"; then
		fail_item deps "scripts/deps.sh"
		summary || exit 1
	fi
	echo "packages ok"

	# a previous run's stack (if it survived) is stopped; the run dir starts empty
	tstack wipe >/dev/null 2>&1 || true
	mkdir -p "$OUT"

	if want build; then
		if ! tier_build; then
			echo "the ASan build failed: no test can run"
			summary || exit 1
		fi
	fi

	if want unit || want e2e; then
		section "test stack"
		STACK_STARTED=1
		if ! tstack up pg redis rabbitmq; then
			fail_item stack "PostgreSQL/Redis/RabbitMQ did not start (logs in $RUN/log)"
			summary || exit 1
		fi
		eval "$(tstack env)"
	fi
	export FR_BIN_DIR=$FR_REPO/$SAN_BUILD/bin

	if want unit; then tier_unit; fi
	if want contract; then tier_contract; fi

	if want e2e; then
		section "test stack daemons"
		if tstack up; then
			tier_e2e
		else
			fail_item e2e "the daemons did not become ready (logs in $RUN/log)"
		fi
	fi

	if want fuzz; then
		if [ "$FUZZ_BUILD_FAILED" = 1 ]; then
			note fuzz "not run: make fuzz failed"
		else
			tier_fuzz
		fi
	fi
	if [ "$STACK_STARTED" = 1 ]; then tier_shutdown; fi
	if want compose; then tier_compose; fi
	summary
}

main "$@"
