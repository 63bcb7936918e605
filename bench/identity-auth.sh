#!/usr/bin/env bash
#
# identity-auth.sh - what a password login and a token refresh cost identity, against the
# Keycloak sizing guide's published per-vCPU figures (../shared/BENCHMARKS.md: 15 password
# logins/s and 120 refreshes/s per vCPU), straight to identity (no gateway; identity accepts
# unsigned public calls).
#
#   login    USERS fresh users are registered first (unique e-mails per run of the script);
#            then, for DURATION s, CONC client threads POST /v1/auth/login with the correct
#            password, cycling over the users (a success never counts towards the per-account
#            or per-address throttle; any non-200 is an error and reported). At the same time a
#            separate prober process sends GET /healthz every PROBE_MS ms on its own keep-alive
#            connection and records each latency: p50 / p99 / max during the storm.
#   refresh  SESSIONS sessions are logged in up front (topped up before each run when some
#            were lost); then, for DURATION s, REFRESH_CONC threads POST /v1/auth/refresh, each
#            owning its share of the sessions and always sending the token its own previous
#            refresh of that session returned (a token is never presented twice: that would
#            revoke the family). Tokens carry over from run to run.
# Per run: operations/s, identity's CPU seconds (utime+stime of the whole process, worker
# threads included, from /proc/<pid>/stat) per operation and its inverse, operations per
# core-second, the figure compared with Keycloak's anchor (targets: logins >= 2 x 15 = 30 per
# core-second with /healthz p99 < 5 ms during the storm; refreshes >= 10 x 120 = 1200 per
# core-second). PostgreSQL's CPU per operation (postmaster and its backends) is printed for
# information. The Argon2id parameters in effect are printed from identity's environment and
# from the stored hash of a bench user. Runs alternate login refresh x RUNS after a warm-up;
# min / median / max per side and a SUMMARY line follow. The client (Python threads) shares
# the machine's CPUs with identity and PostgreSQL. Everything on 127.0.0.1. Not in `make test`.
#
# Uses the local stack of `make up` (scripts/stack.sh with the current FR_RUN_DIR / ports);
# when a component is not running, builds and starts the stack and stops what it started at
# the end. The bench users and their sessions stay in the stack's database
# (bench-auth-<pid>-<time>-<i>@example.test).
#
# Env: DURATION (s per run, 10), RUNS (3), CONC (login threads, 8), REFRESH_CONC (CONC),
#      USERS (50), SESSIONS (200), WARMUP (s per side, 3), PROBE_MS (10), OUTDIR (default
#      /tmp/fr-bench-auth-<time>), plus the stack's variables (FR_RUN_DIR, IDENTITY_PORT,
#      BUILD [build/debug], IDENTITY_ARGON2_M_KIB / _T / IDENTITY_WORKERS when it starts it).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONC=${CONC:-8}
REFRESH_CONC=${REFRESH_CONC:-$CONC}
USERS=${USERS:-50}
SESSIONS=${SESSIONS:-200}
PROBE_MS=${PROBE_MS:-10}
OUTDIR=${OUTDIR:-/tmp/fr-bench-auth-$(date +%Y%m%dT%H%M%S)}
BUILD=${BUILD:-build/debug}
KC_LOGIN=15    # Keycloak sizing guide: password logins/s per vCPU
KC_REFRESH=120 # Keycloak sizing guide: refreshes/s per vCPU
STARTED=()     # stack components this script started (and stops again)
PROBE_PID=      # the /healthz prober running in the background, if any
DRIVER_PID=     # the load generator being waited for, if any

cleanup() {
	local rc=$?
	if [ -n "$PROBE_PID" ]; then kill "$PROBE_PID" 2>/dev/null || true; fi
	if [ -n "$DRIVER_PID" ]; then kill "$DRIVER_PID" 2>/dev/null || true; fi
	if [ ${#STARTED[@]} -gt 0 ]; then
		fr_say "stopping what this benchmark started: ${STARTED[*]}"
		BUILD=$BUILD scripts/stack.sh down "${STARTED[@]}" >/dev/null 2>&1 || true
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites and the stack -------------------------------------------------------------

for v in DURATION RUNS CONC REFRESH_CONC USERS SESSIONS PROBE_MS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then fr_die "$v must be a positive number"; fi
done
[[ $WARMUP =~ ^[0-9]+$ ]] || fr_die "WARMUP must be a number"
[ "$SESSIONS" -ge "$REFRESH_CONC" ] || fr_die "SESSIONS must be at least REFRESH_CONC"
for c in python3 jq curl; do
	command -v "$c" >/dev/null 2>&1 || scripts/deps.sh
	command -v "$c" >/dev/null 2>&1 || fr_die "$c is not installed"
done
mkdir -p "$OUTDIR"

eval "$(scripts/stack.sh env)"
RUN=$FR_RUN_DIR
ID=$FR_IDENTITY_URL

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
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$ID/readyz")" = 200 ] ||
	fr_die "identity at $ID is not ready (GET /readyz)"
ID_PID=$(fr_pidfile_alive "$RUN/pid/identity.pid" identity) || fr_die "no running identity in $RUN"

# identity's settings in effect: its environment, else the built-in defaults
id_env() {
	local v
	v=$(tr '\0' '\n' <"/proc/$ID_PID/environ" 2>/dev/null | awk -F= -v k="$1" '$1 == k {sub(/^[^=]*=/, ""); print}' | tail -1)
	echo "${v:-$2}"
}
ARGON_M=$(id_env IDENTITY_ARGON2_M_KIB 19456)
ARGON_T=$(id_env IDENTITY_ARGON2_T 2)
ID_WORKERS=$(id_env IDENTITY_WORKERS 2)

# PostgreSQL's postmaster (its backends are its children), for the informational CPU column
PG_PM=
if [ -s "$RUN/pgsql.path" ]; then
	PG_PM=$(head -1 "$(cat "$RUN/pgsql.path")/data/postmaster.pid" 2>/dev/null) || PG_PM=
	[ -n "$PG_PM" ] && kill -0 "$PG_PM" 2>/dev/null || PG_PM=
fi

# ---- the load generator (Python threads, http.client keep-alive) ------------------------------

LOAD=$OUTDIR/auth_load.py
cat >"$LOAD" <<'PY'
"""auth_load.py - load generator of bench/identity-auth.sh (generated into OUTDIR).

  register URL USERS_OUT K CONC PREFIX          K users, "email<TAB>password" lines
  sessions URL USERS TOKENS N CONC              log in until TOKENS holds N refresh tokens
  login    URL USERS START DURATION CONC        login storm from epoch START; JSON result
  refresh  URL TOKENS START DURATION CONC       refresh storm; TOKENS rewritten; JSON result
  probe    URL START DURATION INTERVAL_MS       GET /healthz every INTERVAL_MS; JSON result
"""
import http.client, json, os, secrets, socket, sys, threading, time
from urllib.parse import urlsplit


class Client:
    """One keep-alive connection; reconnects after an error or a Connection: close."""

    def __init__(self, url):
        u = urlsplit(url)
        self.host, self.port, self.c = u.hostname, u.port or 80, None

    def connect(self):
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.c.connect()
            self.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.c is not None:
            self.c.close()
            self.c = None

    def call(self, method, path, obj=None):
        """-> (status, body bytes); raises OSError/HTTPException after closing."""
        try:
            self.connect()
            if obj is None:
                self.c.request(method, path)
            else:
                self.c.request(method, path, body=json.dumps(obj).encode(),
                               headers={"Content-Type": "application/json"})
            r = self.c.getresponse()
            data = r.read()
            if r.will_close:
                self.close()
            return r.status, data
        except (OSError, http.client.HTTPException):
            self.close()
            raise


def pct(sorted_ms, q):
    if not sorted_ms:
        return None
    i = max(0, min(len(sorted_ms) - 1, int(-(-q * len(sorted_ms) // 1)) - 1))
    return round(sorted_ms[i], 3)


def wait_until(start):
    d = start - time.time()
    if d > 0:
        time.sleep(d)


def run_threads(n, fn):
    ts = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def read_users(path):
    with open(path) as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def login_body(u):
    return {"tenant_slug": "default", "email": u[0], "password": u[1], "device_name": "bench"}


def cmd_register(url, out, k, conc, prefix):
    k, conc = int(k), int(conc)
    users = [(f"{prefix}-{i}@example.test", secrets.token_urlsafe(18)) for i in range(k)]
    fails, lock = [], threading.Lock()

    def work(w):
        c = Client(url)
        for i in range(w, k, conc):
            st, body = c.call("POST", "/v1/auth/register", {"tenant_slug": "default",
                              "email": users[i][0], "password": users[i][1]})
            if st != 201:
                with lock:
                    fails.append(f"{st} {body[:200]!r}")
    run_threads(min(conc, k), work)
    if fails:
        sys.exit(f"register: {len(fails)} of {k} failed, first: {fails[0]}")
    with open(out, "w") as f:
        f.writelines(f"{e}\t{p}\n" for e, p in users)


def cmd_sessions(url, users_path, tokens, n, conc):
    users, n, conc = read_users(users_path), int(n), int(conc)
    have = []
    if os.path.exists(tokens):
        with open(tokens) as f:
            have = [t.strip() for t in f if t.strip()]
    need = max(0, n - len(have))
    new, fails, lock = [], [], threading.Lock()

    def work(w):
        c = Client(url)
        for i in range(w, need, conc):
            st, body = c.call("POST", "/v1/auth/login", login_body(users[i % len(users)]))
            with lock:
                if st == 200:
                    new.append(json.loads(body)["refresh_token"])
                else:
                    fails.append(f"{st} {body[:200]!r}")
    run_threads(max(1, min(conc, need)), work)
    if fails:
        sys.exit(f"sessions: {len(fails)} of {need} logins failed, first: {fails[0]}")
    write_tokens(tokens, have + new)
    print(json.dumps({"had": len(have), "added": len(new)}))


def write_tokens(path, toks):
    with open(path + ".tmp", "w") as f:
        f.writelines(t + "\n" for t in toks)
    os.replace(path + ".tmp", path)


class Tally:
    def __init__(self):
        self.lock, self.ok, self.errors, self.lat = threading.Lock(), 0, {}, []

    def add(self, ok, ms, err=None):
        with self.lock:
            self.lat.append(ms)
            if ok:
                self.ok += 1
            else:
                self.errors[err] = self.errors.get(err, 0) + 1

    def result(self, elapsed, **extra):
        lat = sorted(self.lat)
        r = {"ok": self.ok, "errors": sum(self.errors.values()), "error_kinds": self.errors,
             "elapsed": round(elapsed, 3), "rate": round(self.ok / elapsed, 2) if elapsed else 0,
             "p50_ms": pct(lat, 0.50), "p99_ms": pct(lat, 0.99), "max_ms": pct(lat, 1.0)}
        r.update(extra)
        return r


def timed(c, path, obj):
    t0 = time.perf_counter()
    try:
        st, body = c.call("POST", path, obj)
    except (OSError, http.client.HTTPException) as e:
        return None, type(e).__name__, (time.perf_counter() - t0) * 1e3
    return st, body, (time.perf_counter() - t0) * 1e3


def cmd_login(url, users_path, start, duration, conc):
    users, conc = read_users(users_path), int(conc)
    tally, clients = Tally(), [Client(url) for _ in range(conc)]
    for c in clients:
        c.connect()
    nxt, nlock = [0], threading.Lock()
    wait_until(float(start))
    t0 = time.perf_counter()
    end = t0 + float(duration)

    def work(w):
        c = clients[w]
        while time.perf_counter() < end:
            with nlock:
                i = nxt[0]
                nxt[0] += 1
            st, body, ms = timed(c, "/v1/auth/login", login_body(users[i % len(users)]))
            tally.add(st == 200, ms, str(st) if st is not None else body)
            if st is None:
                time.sleep(0.01)
    run_threads(conc, work)
    print(json.dumps(tally.result(time.perf_counter() - t0)))


def cmd_refresh(url, tokens, start, duration, conc):
    with open(tokens) as f:
        toks = [t.strip() for t in f if t.strip()]
    conc = int(conc)
    tally, clients = Tally(), [Client(url) for _ in range(conc)]
    for c in clients:
        c.connect()
    wait_until(float(start))
    t0 = time.perf_counter()
    end = t0 + float(duration)

    def work(w):
        c, mine = clients[w], list(range(w, len(toks), conc))
        k = 0
        while mine and time.perf_counter() < end:
            j = mine[k % len(mine)]
            st, body, ms = timed(c, "/v1/auth/refresh", {"refresh_token": toks[j]})
            ok = st == 200
            if ok:
                try:
                    toks[j] = json.loads(body)["refresh_token"]
                except (ValueError, KeyError):
                    ok = False
            tally.add(ok, ms, None if ok else (str(st) if st is not None else body))
            if ok:
                k += 1
            else:  # a lost or rejected token: that session is gone (never resend a token)
                toks[j] = None
                mine.remove(j)
    run_threads(conc, work)
    elapsed = time.perf_counter() - t0
    left = [t for t in toks if t]
    write_tokens(tokens, left)
    print(json.dumps(tally.result(elapsed, sessions_left=len(left))))


def cmd_probe(url, start, duration, interval_ms):
    c, lat, errors = Client(url), [], 0
    c.call("GET", "/healthz")
    step = float(interval_ms) / 1e3
    wait_until(float(start))
    nxt = time.perf_counter()
    end = nxt + float(duration)
    while nxt < end:
        d = nxt - time.perf_counter()
        if d > 0:
            time.sleep(d)
        t0 = time.perf_counter()
        try:
            st, _ = c.call("GET", "/healthz")
        except (OSError, http.client.HTTPException):
            st = None
        lat.append((time.perf_counter() - t0) * 1e3)
        errors += st != 200
        nxt = max(nxt + step, time.perf_counter())
    lat.sort()
    print(json.dumps({"n": len(lat), "errors": errors, "p50_ms": pct(lat, 0.50),
                      "p99_ms": pct(lat, 0.99), "max_ms": pct(lat, 1.0)}))


if __name__ == "__main__":
    cmds = {"register": cmd_register, "sessions": cmd_sessions, "login": cmd_login,
            "refresh": cmd_refresh, "probe": cmd_probe}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
PY

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
pg_ticks() { # postmaster + its children now (a backend that ended meanwhile is missed)
	local p f t=0
	[ -n "$PG_PM" ] || { echo NA; return; }
	for p in "$PG_PM" $(ps -o pid= --ppid "$PG_PM"); do
		f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		t=$((t + ${12} + ${13}))
	done
	echo "$t"
}
# drive <stdout file> <stderr file> <command> args...: runs the load generator and waits for it
# (in the background, so that INT / TERM interrupt the wait and cleanup stops it)
drive() {
	local out=$1 err=$2 rc=0
	shift 2
	python3 "$LOAD" "$@" >"$out" 2>"$err" &
	DRIVER_PID=$!
	wait "$DRIVER_PID" || rc=$?
	DRIVER_PID=
	return "$rc"
}
start_at() { awk -v n="$(fr_now)" 'BEGIN { printf "%.3f", n + 0.7 }'; }
j() { jq -r "$1 // \"NA\"" "$2"; }

USERS_FILE=$OUTDIR/users.tsv
TOKENS=$OUTDIR/tokens.txt
RESULTS=$OUTDIR/runs.tsv
printf 'side\trun\tops_s\tok\terrors\tid_cpu_s\tid_cpu_us_op\tops_per_core_s\tpg_cpu_us_op\tp50_ms\tp99_ms\thz_p50_ms\thz_p99_ms\thz_max_ms\thz_n\n' >"$RESULTS"

# record <side> <run> <driver json> <id ticks0> <id ticks1> <pg ticks0> <pg ticks1> [probe json]
record() {
	local side=$1 r=$2 js=$3 i0=$4 i1=$5 g0=$6 g1=$7 pj=${8:-} ok err rate cpu us pc pg
	local hz50=NA hz99=NA hzmx=NA hzn=NA
	ok=$(j .ok "$js")
	err=$(j .errors "$js")
	rate=$(j .rate "$js")
	cpu=$(awk -v a="$i0" -v b="$i1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
	us=$(awk -v c="$cpu" -v n="$ok" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "NA" }')
	pc=$(awk -v c="$cpu" -v n="$ok" 'BEGIN { if (c > 0) printf "%.1f", n / c; else print "NA" }')
	pg=$(awk -v a="$g0" -v b="$g1" -v hz="$HZ" -v n="$ok" \
		'BEGIN { if (a != "NA" && n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "NA" }')
	if [ -n "$pj" ]; then
		hz50=$(j .p50_ms "$pj")
		hz99=$(j .p99_ms "$pj")
		hzmx=$(j .max_ms "$pj")
		hzn=$(j .n "$pj")
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$r" "$rate" \
		"$ok" "$err" "$cpu" "$us" "$pc" "$pg" "$(j .p50_ms "$js")" "$(j .p99_ms "$js")" \
		"$hz50" "$hz99" "$hzmx" "$hzn" >>"$RESULTS"
	printf '  %-7s run %s: %8s %s/s  ok %-6s errors %-3s identity %6s cpu-s = %8s us/op -> %7s per core-s  (pg %s us/op)  latency p50 %s p99 %s ms' \
		"$side" "$r" "$rate" "$([ "$side" = login ] && echo logins || echo refreshes)" "$ok" "$err" \
		"$cpu" "$us" "$pc" "$pg" \
		"$(j .p50_ms "$js")" "$(j .p99_ms "$js")"
	[ -z "$pj" ] || printf '  | /healthz p50 %s p99 %s max %s ms (n %s)' "$hz50" "$hz99" "$hzmx" "$hzn"
	echo
	if [ "$err" != 0 ]; then fr_say "$side run $r: errors $(jq -c .error_kinds "$js")"; fi
}

# run_login <run label> <duration> [record]
run_login() {
	local r=$1 d=$2 js=$OUTDIR/login-$1.json pj=$OUTDIR/probe-$1.json i0 i1 g0 g1 s
	i0=$(cpu_ticks "$ID_PID")
	g0=$(pg_ticks)
	s=$(start_at)
	python3 "$LOAD" probe "$ID" "$s" "$d" "$PROBE_MS" >"$pj" 2>"$OUTDIR/probe-$r.err" &
	PROBE_PID=$!
	drive "$js" "$OUTDIR/login-$r.err" login "$ID" "$USERS_FILE" "$s" "$d" "$CONC" ||
		fr_die "login storm failed ($OUTDIR/login-$r.err)"
	wait "$PROBE_PID" || fr_die "/healthz prober failed ($OUTDIR/probe-$r.err)"
	PROBE_PID=
	i1=$(cpu_ticks "$ID_PID")
	g1=$(pg_ticks)
	[ "${3:-}" = record ] || return 0
	record login "$r" "$js" "$i0" "$i1" "$g0" "$g1" "$pj"
}

# run_refresh <run label> <duration> [record]
run_refresh() {
	local r=$1 d=$2 js=$OUTDIR/refresh-$1.json i0 i1 g0 g1
	drive "$OUTDIR/sessions-$r.json" "$OUTDIR/sessions-$r.err" \
		sessions "$ID" "$USERS_FILE" "$TOKENS" "$SESSIONS" "$CONC" ||
		fr_die "logging in the refresh sessions failed ($OUTDIR/sessions-$r.err)"
	i0=$(cpu_ticks "$ID_PID")
	g0=$(pg_ticks)
	drive "$js" "$OUTDIR/refresh-$r.err" refresh "$ID" "$TOKENS" "$(start_at)" "$d" "$REFRESH_CONC" ||
		fr_die "refresh storm failed ($OUTDIR/refresh-$r.err)"
	i1=$(cpu_ticks "$ID_PID")
	g1=$(pg_ticks)
	[ "${3:-}" = record ] || return 0
	record refresh "$r" "$js" "$i0" "$i1" "$g0" "$g1"
}

echo "identity direct ($ID, pid $ID_PID): A = password logins (POST /v1/auth/login), B = refreshes (POST /v1/auth/refresh)"
echo "Argon2id in effect: IDENTITY_ARGON2_M_KIB=$ARGON_M IDENTITY_ARGON2_T=$ARGON_T (IDENTITY_WORKERS=$ID_WORKERS)"
echo "${DURATION}s per run, $RUNS runs per side alternating; login: $CONC threads over $USERS users, /healthz probed every ${PROBE_MS} ms;"
echo "refresh: $REFRESH_CONC threads over $SESSIONS sessions. The client (python3) shares the $(nproc) CPUs with identity and PostgreSQL; logs: $OUTDIR"

PREFIX=bench-auth-$$-$(date +%s)
drive /dev/null "$OUTDIR/register.err" register "$ID" "$USERS_FILE" "$USERS" "$CONC" "$PREFIX" ||
	fr_die "registering $USERS users failed ($OUTDIR/register.err)"
HASH_PARAMS=NA
if [ -n "${FR_PG_URL:-}" ] && command -v psql >/dev/null 2>&1; then
	HASH_PARAMS=$(psql -X -q -At "$FR_PG_URL" -c "SELECT split_part(password_hash, '\$', 4)
		FROM identity.users WHERE email_lower = '$PREFIX-0@example.test'" 2>/dev/null) || true
	HASH_PARAMS=${HASH_PARAMS:-NA}
fi
echo "registered $USERS users ($PREFIX-<i>@example.test); their stored hash parameters: $HASH_PARAMS"

if [ "$WARMUP" -gt 0 ]; then
	run_login warmup "$WARMUP"
	run_refresh warmup "$WARMUP"
fi
drive "$OUTDIR/probe-idle.json" "$OUTDIR/probe-idle.err" probe "$ID" "$(start_at)" 3 "$PROBE_MS" ||
	fr_die "/healthz prober failed ($OUTDIR/probe-idle.err)"
echo "idle /healthz (no storm, 3 s): p50 $(j .p50_ms "$OUTDIR/probe-idle.json") p99 $(j .p99_ms "$OUTDIR/probe-idle.json") max $(j .max_ms "$OUTDIR/probe-idle.json") ms"
for r in $(seq 1 "$RUNS"); do
	run_login "$r" "$DURATION" record
	run_refresh "$r" "$DURATION" record
done

# ---- summary ---------------------------------------------------------------------------------

col() { awk -F'\t' -v s="$1" -v k="$2" 'NR > 1 && $1 == s && $k != "NA" && $k != "" {print $k}' "$RESULTS"; }
med() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) {print "NA"; exit}
	if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mn() { sort -g | awk 'NR == 1 {print} END { if (NR == 0) print "NA" }'; }
mx() { sort -g | awk 'END { print (NR ? $1 : "NA") }'; }
sum() { awk '{n += $1} END {print n + 0}'; }

SUMMARY=$OUTDIR/summary.tsv
printf 'side\tops_s_min\tops_s_med\tops_s_max\tper_core_s_min\tper_core_s_med\tper_core_s_max\tid_cpu_us_op_med\tpg_cpu_us_op_med\terrors\thz_p99_ms_min\thz_p99_ms_med\thz_p99_ms_max\n' >"$SUMMARY"
for s in login refresh; do
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" \
		"$(col $s 3 | mn)" "$(col $s 3 | med)" "$(col $s 3 | mx)" \
		"$(col $s 8 | mn)" "$(col $s 8 | med)" "$(col $s 8 | mx)" \
		"$(col $s 7 | med)" "$(col $s 9 | med)" "$(col $s 5 | sum)" \
		"$(col $s 13 | mn)" "$(col $s 13 | med)" "$(col $s 13 | mx)" >>"$SUMMARY"
done
echo
column -t -s$'\t' "$SUMMARY"
echo
awk -v lc="$(col login 8 | med)" -v rc="$(col refresh 8 | med)" \
	-v lr="$(col login 3 | med)" -v rr="$(col refresh 3 | med)" \
	-v li="$(col login 7 | med)" -v lp="$(col login 9 | med)" \
	-v ri="$(col refresh 7 | med)" -v rp="$(col refresh 9 | med)" \
	-v h="$(col login 13 | med)" -v hw="$(col login 13 | mx)" \
	-v le="$(col login 5 | sum)" -v re="$(col refresh 5 | sum)" \
	-v kl="$KC_LOGIN" -v kr="$KC_REFRESH" -v m="$ARGON_M" -v t="$ARGON_T" -v cpus="$(nproc)" \
	'function v(x) { return (x == "NA" || x == "") ? 0 : x }
	function ok(c) { return c ? "met" : "MISSED" }
	function both(i, p) { return (v(i) + v(p) > 0 && p != "NA") ? sprintf("%.1f", 1e6 / (i + p)) : "NA" }
	BEGIN {
	weak = (m < 19456 || t < 2) ? " (BELOW the target'"'"'s m >= 19456, t >= 2)" : ""
	printf "SUMMARY logins per core-second median %s = %.2fx Keycloak'"'"'s %d (target >= 2x: %s) at %s logins/s | /healthz p99 during the login storm median %s ms, worst run %s ms (target < 5 ms: %s) | refreshes per core-second median %s = %.2fx Keycloak'"'"'s %d (target >= 10x: %s) at %s refreshes/s | identity+PostgreSQL cpu: %s logins, %s refreshes per core-second | errors: login %d, refresh %d | Argon2id m=%s KiB t=%s%s | the client shares the %d CPUs\n",
		lc, v(lc) / kl, kl, ok(v(lc) >= 2 * kl), lr, h, hw, ok(h != "NA" && h < 5), rc,
		v(rc) / kr, kr, ok(v(rc) >= 10 * kr), rr, both(li, lp), both(ri, rp), le, re, m, t,
		weak, cpus }'
