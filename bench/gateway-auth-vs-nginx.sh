#!/usr/bin/env bash
#
# gateway-auth-vs-nginx.sh - the gateway's three auth surfaces against nginx, in ONE run, all
# in front of the same cheap upstream (nginx `return 200`, a 200-byte JSON body):
#
#   proxy    wrk -> nginx reverse proxy -> upstream                 (anchor: no auth)
#   auth     wrk -> nginx auth_request (tiny auth endpoint) -> upstream (anchor: per-request auth)
#   gw-none  wrk -> gateway, extra route `none`   -> upstream       (no auth, no rate limit)
#   gw-jwt   wrk -> gateway, extra route `jwt`    -> upstream       (ES256 access token, session
#            check, user + tenant rate limits in Redis)
#   gw-key   wrk -> gateway, extra route `apikey` -> upstream       (API key lookup, HMAC request
#            signature, nonce + key + tenant rate limits in ONE Redis script per request)
#
# The nginx side follows ../shared/bench/nginx-anchor.sh (same configs, 1 worker each). The
# gateway is a separate instance this script starts (optimised build, 1 event loop) with the
# stack's environment (identity for JWKS / sessions / key validation, the stack's Redis) plus
# GATEWAY_EXTRA_ROUTES and limits high enough never to refuse. Scenarios alternate
# (A B C D E, RUNS times) so host noise hits all alike; per run and as min/median/max it prints
# req/s, p50/p99, non-2xx responses and CPU microseconds per request of the component under
# test (nginx proxy worker, or the gateway process), then the median ratios.
#
# API-key requests: wrk's Lua cannot compute HMAC-SHA256, so before every gw-key run the
# script pre-signs REQS_PER_RUN requests (python3, fresh timestamp, unique nonces, cycling over
# KEYS API keys so no key reaches identity's rate_limit_rpm maximum of 100000) into one file
# per wrk thread, and a small wrk Lua script sends them in order. Running out of pre-signed
# requests would replay nonces (401, counted as non-2xx): the count is sized from
# MAX_RPS x DURATION. The Lua request building costs wrk some CPU the other scenarios do not
# pay (shared cores): the gateway's CPU per request is the steadier figure.
#
# Uses the local stack of `make up` (scripts/stack.sh with the current FR_RUN_DIR / ports); it
# must be running (identity + Redis + the gateway, whose environment is copied). Everything
# binds to 127.0.0.1; every process started here is stopped by PID on exit.
#
# Env: DURATION (s per run, 10), RUNS (3), THREADS (wrk -t, 2), CONNS (wrk -c, 64), WARMUP (3),
#      BASE_PORT (nginx ports BASE..BASE+11 and the gateway's BASE+20; 28080), KEYS (8),
#      MAX_RPS (40000: sizes the pre-signed request files), GW_BUILD (build/bench-O2, built
#      with CFLAGS="-O2 -g", no sanitizers), RL_ENABLED (true; false = the gateway without rate
#      limits, nonces still checked: what the limits cost), APIKEY_IP_RPM (100000000: counted,
#      never refusing; 0 = no per-address limit on API-key routes), OUTDIR (/tmp/fr-bench-auth-<time>).
# The stack's Redis CPU per request is printed too (the rate-limit script runs there).
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
BASE_PORT=${BASE_PORT:-28080}
KEYS=${KEYS:-8}
MAX_RPS=${MAX_RPS:-40000}
GW_BUILD=${GW_BUILD:-build/bench-O2}
RL_ENABLED=${RL_ENABLED:-true}
APIKEY_IP_RPM=${APIKEY_IP_RPM:-100000000}
OUTDIR=${OUTDIR:-/tmp/fr-bench-auth-$(date +%Y%m%dT%H%M%S)}
P_UP=$BASE_PORT P_AUTH=$((BASE_PORT + 1)) P_PROXY=$((BASE_PORT + 10)) P_AUTHPROXY=$((BASE_PORT + 11))
P_GW=$((BASE_PORT + 20))
URLPATH=/api/v1/items/42
ANCHOR_TOKEN=anchor-token
BODY='{"id":"7f3c2a9e-5b1d-4c8e-9a2f-0d6b3e1c4a57","status":"ok","service":"anchor-upstream","version":"1.0.0","items":[{"k":"a","v":1},{"k":"b","v":2},{"k":"c","v":3}],"ts":"2024-01-01T00:00:00Z","n":1234}'
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
PIDS=()
WORK=

cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ---------------------------------------------------------------------------

command -v wrk >/dev/null 2>&1 || fr_die "wrk is not installed (apt-get install wrk)"
[ -x "$NGINX" ] || fr_die "nginx is not installed (apt-get install nginx)"
command -v jq >/dev/null 2>&1 || fr_die "jq is not installed"
mkdir -p "$OUTDIR"
WORK=$(mktemp -d /tmp/fr-bench-auth.XXXXXX)
for p in $P_UP $P_AUTH $P_PROXY $P_AUTHPROXY $P_GW; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fr_die "port $p is in use (BASE_PORT)"; fi
done

eval "$(scripts/stack.sh env)"
GW=$FR_GATEWAY_URL
STACK_GW_PID=$(fr_pidfile_alive "$FR_RUN_DIR/pid/gateway.pid" gateway) ||
	fr_die "the stack's gateway is not running in $FR_RUN_DIR (make up)"
REDIS_PID=$(fr_pidfile_alive "$FR_RUN_DIR/pid/redis.pid") || fr_die "the stack's Redis is not running"

fr_say "building the gateway for benchmarking ($GW_BUILD, -O2, no sanitizers)"
env CFLAGS="-O2 -g" make --no-print-directory -j"$(nproc)" BUILD="$GW_BUILD" \
	"$GW_BUILD/bin/gateway" >"$OUTDIR/build.log" 2>&1 || fr_die "build failed ($OUTDIR/build.log)"

# ---- nginx: upstream, auth endpoint, plain proxy, auth_request proxy (as nginx-anchor.sh) ----

nginx_conf() { # $1 dir, $2 servers
	mkdir -p "$WORK/$1"
	cat >"$WORK/$1/nginx.conf" <<EOF
worker_processes 1;
pid nginx.pid;
error_log error.log warn;
daemon off;
events { worker_connections 16384; }
http {
    access_log off;
    server_tokens off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path tmp_body;
    proxy_temp_path tmp_proxy;
    fastcgi_temp_path tmp_fcgi;
    uwsgi_temp_path tmp_uwsgi;
    scgi_temp_path tmp_scgi;
$2
}
EOF
}
nginx_conf backend "
    server {
        listen 127.0.0.1:$P_UP backlog=4096;
        default_type application/json;
        location / { return 200 '$BODY'; }
    }
    server {
        listen 127.0.0.1:$P_AUTH backlog=4096;
        location = /check {
            if (\$http_authorization = \"Bearer $ANCHOR_TOKEN\") { return 204; }
            return 401;
        }
    }"
nginx_conf proxy "
    upstream backend { server 127.0.0.1:$P_UP; keepalive 512; }
    upstream authsvc { server 127.0.0.1:$P_AUTH; keepalive 512; }
    server {
        listen 127.0.0.1:$P_PROXY backlog=4096;
        location / { proxy_pass http://backend; proxy_http_version 1.1;
                     proxy_set_header Connection \"\"; }
    }
    server {
        listen 127.0.0.1:$P_AUTHPROXY backlog=4096;
        location / { auth_request /_auth; proxy_pass http://backend; proxy_http_version 1.1;
                     proxy_set_header Connection \"\"; }
        location = /_auth { internal; proxy_pass http://authsvc/check;
                            proxy_pass_request_body off; proxy_set_header Content-Length \"\";
                            proxy_http_version 1.1; proxy_set_header Connection \"\"; }
    }"
for d in backend proxy; do
	"$NGINX" -p "$WORK/$d/" -c "$WORK/$d/nginx.conf" -e "$WORK/$d/error.log" -t -q ||
		fr_die "nginx -t failed for $d"
	"$NGINX" -p "$WORK/$d/" -c "$WORK/$d/nginx.conf" -e "$WORK/$d/error.log" &
	PIDS+=($!)
	[ "$d" = proxy ] && PROXY_PID=$!
done

# ---- the gateway under test: the stack gateway's environment + extra routes -----------------

GW_ENV=()
while IFS= read -r -d '' kv; do
	case $kv in GATEWAY_PORT=* | GATEWAY_EXTRA_ROUTES=* | GATEWAY_RL_* | GATEWAY_ACCESS_LOG=* | \
		ASAN_OPTIONS=* | UBSAN_OPTIONS=*) ;;
	*) GW_ENV+=("$kv") ;;
	esac
done <"/proc/$STACK_GW_PID/environ"
UP="http://127.0.0.1:$P_UP"
env -i "${GW_ENV[@]}" GATEWAY_PORT="$P_GW" GATEWAY_ACCESS_LOG=false FR_LOG_LEVEL=warn \
	GATEWAY_EXTRA_ROUTES="/none/=$UP=none;/jwt/=$UP=jwt;/key/=$UP=apikey" \
	GATEWAY_RL_USER_RPM=100000000 GATEWAY_RL_TENANT_RPM=100000000 GATEWAY_RL_APIKEY_IP_RPM="$APIKEY_IP_RPM" \
	GATEWAY_RL_ENABLED="$RL_ENABLED" \
	"$GW_BUILD/bin/gateway" >"$OUTDIR/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
BGW="http://127.0.0.1:$P_GW"
for _ in $(seq 1 200); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BGW/readyz")" = 200 ] && break
	kill -0 "$GW_PID" 2>/dev/null || fr_die "the bench gateway exited ($OUTDIR/gateway.log)"
	sleep 0.1
done

# ---- credentials: an access token, and API keys of a fresh tenant ---------------------------

post() { # url token json -> body (fails on non-2xx)
	curl -sf --max-time 20 -X POST "$1" -H 'Content-Type: application/json' \
		${2:+-H "Authorization: Bearer $2"} -d "$3"
}
ADMIN=$(post "$GW/v1/auth/login" "" "$(jq -cn --arg e "$FR_ADMIN_EMAIL" --arg p "$FR_ADMIN_PASSWORD" \
	'{tenant_slug: "default", email: $e, password: $p, device_name: "bench"}')" | jq -r .access_token) ||
	fr_die "admin login failed"
SLUG=bench-$(date +%s)-$$
TPW=pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
# gw-jwt uses a user of its own: its user window (fr:rlb:user:<id>, shared with the stack's
# gateway through Redis) fills up during the runs
post "$GW/v1/auth/register" "" "$(jq -cn --arg s "$SLUG" --arg p "$TPW" \
	'{tenant_slug: "default", email: ($s + "-jwt@example.test"), password: $p}')" >/dev/null ||
	fr_die "registering the benchmark user failed"
USER_TOKEN=$(post "$GW/v1/auth/login" "" "$(jq -cn --arg s "$SLUG" --arg p "$TPW" \
	'{tenant_slug: "default", email: ($s + "-jwt@example.test"), password: $p}')" |
	jq -r .access_token) || fr_die "benchmark user login failed"
TENANT=$(post "$GW/v1/tenants" "$ADMIN" "$(jq -cn --arg s "$SLUG" --arg p "$TPW" \
	'{slug: $s, name: ("Bench " + $s), kind: "Reseller", contact_email: ($s + "@example.test"),
	  admin_email: ($s + "@example.test"), admin_password: $p}')" | jq -r '.id // .tenant_id') ||
	TENANT=
KEYFILE=$WORK/keys.txt
: >"$KEYFILE"
if [ -n "$TENANT" ]; then
	TADMIN=$(post "$GW/v1/auth/login" "" "$(jq -cn --arg s "$SLUG" --arg p "$TPW" \
		'{tenant_slug: $s, email: ($s + "@example.test"), password: $p}')" | jq -r .access_token)
	for i in $(seq 1 "$KEYS"); do
		post "$GW/v1/tenants/$TENANT/api-keys" "$TADMIN" \
			"{\"name\":\"bench $i\",\"environment\":\"Live\",\"scopes\":[\"users:read\"],\"rate_limit_rpm\":100000}" |
			jq -r .secret_key >>"$KEYFILE" || true
	done
fi
SCEN="proxy auth gw-none gw-jwt"
if [ "$(grep -c '^fr_' "$KEYFILE")" -gt 0 ]; then
	SCEN="$SCEN gw-key"
else
	fr_say "no API keys (tenant / key creation failed): the gw-key scenario is skipped"
fi

# pre-signed API-key requests: one file per wrk thread, lines "key nonce signature"
presign() { # $1 = file prefix; prints the timestamp used
	/usr/bin/python3 - "$KEYFILE" "$1" "$THREADS" "$((MAX_RPS * (DURATION + 1)))" "/key$URLPATH" <<'EOF'
import hashlib, hmac, os, sys, time
keyfile, prefix, threads, count, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
keys = [k.strip() for k in open(keyfile) if k.startswith("fr_")]
hkeys = [hashlib.sha256(k.encode()).hexdigest().encode() for k in keys]
ts = str(int(time.time()))
tail = b"\nGET\n" + path.encode() + b"\n\n" + hashlib.sha256(b"").hexdigest().encode()
run = os.urandom(6).hex()
outs = [open("%s.%d" % (prefix, t), "w") for t in range(threads)]
for i in range(count):
    k = i % len(keys)
    nonce = "b%s%09d" % (run, i)
    sig = hmac.new(hkeys[k], ts.encode() + b"\n" + nonce.encode() + tail, hashlib.sha256).hexdigest()
    outs[i % threads].write("%s %s %s\n" % (keys[k], nonce, sig))
for f in outs:
    f.close()
print(ts)
EOF
}
cat >"$WORK/signed.lua" <<'EOF'
-- wrk: sends pre-signed API-key requests from <prefix>.<thread index>, in order
local n = 0
function setup(thread)
	thread:set("idx", n)
	n = n + 1
end
function init(args)
	reqs, i = {}, 0
	for line in io.lines(args[1] .. "." .. idx) do
		local key, nonce, sig = line:match("^(%S+) (%S+) (%S+)$")
		reqs[#reqs + 1] = wrk.format("GET", args[3], {["X-API-Key"] = key, ["X-Timestamp"] = args[2],
			["X-Nonce"] = nonce, ["X-Signature"] = sig})
	end
end
function request()
	i = i % #reqs + 1
	return reqs[i]
end
EOF

# ---- sanity checks ---------------------------------------------------------------------------

check() { # name url want [header...]
	local name=$1 url=$2 want=$3 code
	shift 3
	code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$@" "$url")
	[ "$code" = "$want" ] || fr_die "check $name: $url answered $code, want $want"
	if [ "$want" = 200 ]; then
		cmp -s "$WORK/body" <(printf '%s' "$BODY") || fr_die "check $name: body differs"
	fi
}
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$P_AUTHPROXY") 2>/dev/null && break; sleep 0.1; done
check proxy "http://127.0.0.1:$P_PROXY$URLPATH" 200
check auth "http://127.0.0.1:$P_AUTHPROXY$URLPATH" 200 -H "Authorization: Bearer $ANCHOR_TOKEN"
check auth-deny "http://127.0.0.1:$P_AUTHPROXY$URLPATH" 401
check gw-none "$BGW/none$URLPATH" 200
check gw-jwt "$BGW/jwt$URLPATH" 200 -H "Authorization: Bearer $USER_TOKEN"
check gw-jwt-deny "$BGW/jwt$URLPATH" 401
check gw-key-deny "$BGW/key$URLPATH" 401
if [[ $SCEN == *gw-key* ]]; then
	TS=$(presign "$WORK/check")
	read -r K N S <"$WORK/check.0"
	check gw-key "$BGW/key$URLPATH" 200 -H "X-API-Key: $K" -H "X-Timestamp: $TS" \
		-H "X-Nonce: $N" -H "X-Signature: $S"
	check gw-key-replay "$BGW/key$URLPATH" 401 -H "X-API-Key: $K" -H "X-Timestamp: $TS" \
		-H "X-Nonce: $N" -H "X-Signature: $S"
fi

# ---- measuring -------------------------------------------------------------------------------

HZ=$(getconf CLK_TCK)
PROXY_WPIDS=$(ps -o pid= --ppid "$PROXY_PID" | tr -d ' ')
cpu_ticks() { # utime+stime (clock ticks) summed over the given pids
	local t=0 p f
	for p in "$@"; do
		f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		f=${f##*) }
		# shellcheck disable=SC2086 # split the fields
		set -- $f
		t=$((t + ${12} + ${13}))
	done
	echo "$t"
}
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "NA" }'
}
sut_pids() { case $1 in proxy | auth) echo "$PROXY_WPIDS" ;; *) echo "$GW_PID" ;; esac; }
wrk_args() { # scenario -> wrk arguments after the options
	case $1 in
	proxy) echo "http://127.0.0.1:$P_PROXY$URLPATH" ;;
	auth) echo "-H|Authorization: Bearer $ANCHOR_TOKEN|http://127.0.0.1:$P_AUTHPROXY$URLPATH" ;;
	gw-none) echo "$BGW/none$URLPATH" ;;
	gw-jwt) echo "-H|Authorization: Bearer $USER_TOKEN|$BGW/jwt$URLPATH" ;;
	gw-key) echo "-s|$WORK/signed.lua|$BGW/key$URLPATH|--|$WORK/signed|$(presign "$WORK/signed")|/key$URLPATH" ;;
	esac
}

RESULTS=$OUTDIR/runs.tsv
printf 'scenario\trun\treq_s\tp50_ms\tp99_ms\tnon2xx\tcpu_us_req\tredis_us_req\n' >"$RESULTS"
run_wrk() { # scenario run seconds [record]
	local s=$1 r=$2 d=$3 log args c0 c1 r0 r1 rps p50 p99 bad n us rus
	IFS='|' read -r -a args <<<"$(wrk_args "$s")"
	log=$OUTDIR/wrk-$s-$r.txt
	c0=$(cpu_ticks $(sut_pids "$s"))
	r0=$(cpu_ticks "$REDIS_PID")
	timeout $((d + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${d}s" --latency "${args[@]}" >"$log" 2>&1 ||
		fr_die "wrk failed ($log)"
	c1=$(cpu_ticks $(sut_pids "$s"))
	r1=$(cpu_ticks "$REDIS_PID")
	[ -n "${4:-}" ] || return 0
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$log")
	n=$(awk '/requests in/ {print $1}' "$log")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$log")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$log")")
	bad=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10}
		END {print n + 0}' "$log")
	us=$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "NA" }')
	rus=$(awk -v a="$r0" -v b="$r1" -v hz="$HZ" -v n="${n:-0}" \
		'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "NA" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$r" "${rps:-NA}" "$p50" "$p99" "$bad" "$us" \
		"$rus" >>"$RESULTS"
	printf '  %-8s run %s: %10s req/s  p50 %8s ms  p99 %8s ms  non-2xx %-6s cpu %6s us/req  redis %6s us/req\n' \
		"$s" "$r" "${rps:-NA}" "$p50" "$p99" "$bad" "$us" "$rus"
}

echo "same upstream (nginx return 200, 200 B) behind: $SCEN"
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $RUNS runs each, interleaved; nginx 1 worker, gateway 1 loop ($GW_BUILD, GATEWAY_RL_ENABLED=$RL_ENABLED); $(nproc) CPUs shared with wrk; logs: $OUTDIR"
for s in $SCEN; do run_wrk "$s" 0 "$WARMUP"; done
for r in $(seq 1 "$RUNS"); do
	for s in $SCEN; do run_wrk "$s" "$r" "$DURATION" record; done
done

# ---- summary ---------------------------------------------------------------------------------

col() { awk -F'\t' -v s="$1" -v k="$2" 'NR > 1 && $1 == s {print $k}' "$RESULTS"; }
med() { sort -g | awk '{a[NR] = $1} END { if (NR == 0) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
printf '%-8s %10s %10s %10s %9s %9s %8s %11s %13s\n' scenario 'rps min' 'rps med' 'rps max' \
	'p50 med' 'p99 med' non2xx 'cpu us/req' 'redis us/req'
for s in $SCEN; do
	printf '%-8s %10s %10s %10s %9s %9s %8s %11s %13s\n' "$s" "$(col "$s" 3 | sort -g | head -1)" \
		"$(col "$s" 3 | med)" "$(col "$s" 3 | sort -g | tail -1)" "$(col "$s" 4 | med)" \
		"$(col "$s" 5 | med)" "$(col "$s" 6 | awk '{n += $1} END {print n + 0}')" \
		"$(col "$s" 7 | med)" "$(col "$s" 8 | med)"
done
ratio() { awk -v a="$(col "$1" "$3" | med)" -v b="$(col "$2" "$3" | med)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }'; }
echo
echo "median ratios (req/s; CPU per request, lower is better):"
for s in gw-none gw-jwt gw-key; do
	[[ " $SCEN " == *" $s "* ]] || continue
	echo "  $s vs proxy: req/s x$(ratio "$s" proxy 3), cpu/req x$(ratio "$s" proxy 7);" \
		"vs auth: req/s x$(ratio "$s" auth 3), cpu/req x$(ratio "$s" auth 7)"
done
echo "targets (../shared/BENCHMARKS.md): gw-jwt vs proxy >= 1.0x req/s and cpu/req <= 1.0x; gw-key vs auth >= 1.5x req/s"
