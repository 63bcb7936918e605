# shellcheck shell=bash
#
# lib.sh - shell helpers shared by scripts/deps.sh, stack.sh, test.sh and bench/*.sh.
#
# Sourced, never run. Owns no state of its own: every helper works on the paths and ports
# the caller passes (or on the FR_* variables fr_stack_defaults sets). Bash only; callers run
# with `set -euo pipefail`, so every helper is written to be safe under it.

FR_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FR_REPO=$(cd "$FR_LIB_DIR/.." && pwd)
FR_PG_BIN=${FR_PG_BIN:-/usr/lib/postgresql/15/bin}

# ---- messages ------------------------------------------------------------------------------

fr_say() { printf '%s: %s\n' "${FR_ME:-flatrender}" "$*" >&2; }
fr_die() {
	fr_say "error: $*"
	exit 1
}

# ---- users ---------------------------------------------------------------------------------

fr_is_root() { [ "$(id -u)" -eq 0 ]; }

# The OS user PostgreSQL runs as: `postgres` when we are root (it refuses to run as root),
# else whoever we are.
fr_pg_os_user() {
	if fr_is_root; then echo postgres; else id -un; fi
}

# Runs a command as the PostgreSQL OS user (runuser when root, directly otherwise).
# The working directory is moved to / so a cwd the postgres user cannot read is harmless.
fr_as_pg() {
	if fr_is_root; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# The OS user RabbitMQ runs as: `rabbitmq` when we are root (Debian's scripts drop to it, and
# its home holds the Erlang cookie that the node and every rabbitmqctl must share), else whoever
# we are (the node then uses our own ~/.erlang.cookie).
fr_rmq_os_user() {
	if fr_is_root; then echo rabbitmq; else id -un; fi
}

# Fills the array FR_RMQ_AS with the prefix that runs a command as the RabbitMQ OS user, with
# that user's HOME (for the cookie); empty when not root. setpriv execs, so a pid stays the
# command's own. Debian's /usr/sbin wrappers would su instead: one process more per command
# and no pid to stop.
FR_RMQ_BIN=${FR_RMQ_BIN:-/usr/lib/rabbitmq/bin}
fr_rmq_as() {
	local home
	FR_RMQ_AS=()
	fr_is_root || return 0
	home=$(getent passwd rabbitmq | cut -d: -f6) || true
	[ -n "$home" ] || fr_die "no 'rabbitmq' OS user: install rabbitmq-server (scripts/deps.sh)"
	FR_RMQ_AS=(env "HOME=$home" setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups --)
}

# Unsets every RABBITMQ_* and ERL_* variable of this shell, so a caller's environment (for
# instance `eval "$(scripts/stack.sh env)"`, which exports ERL_EPMD_PORT) cannot redirect the
# node we start or the rabbitmqctl we run.
fr_rmq_clean_env() {
	local v
	for v in $(compgen -e); do
		case $v in RABBITMQ_* | ERL_*) unset "$v" ;; esac
	done
}

# ---- processes -----------------------------------------------------------------------------

# Prints the pid stored in a pid file when that process is alive, else nothing (status 1).
# With a second argument, the process's comm must also start with it (guards pid reuse).
fr_pidfile_alive() {
	local f=$1 want=${2:-} pid comm args
	[ -s "$f" ] || return 1
	pid=$(tr -dc '0-9' <"$f")
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [ -n "$want" ]; then
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
		if [ "${want:0:15}" != "${comm:0:${#want}}" ]; then
			# a script stand-in runs as its interpreter: look at the arguments instead
			args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
			grep -qE "(^|/)$want\$" <<<"$args" || return 1
		fi
	fi
	echo "$pid"
}

# Starts "$@" detached (own session, stdin /dev/null, output appended to a log) under a tiny
# bash supervisor that writes the child's pid to pidfile and, when it ends, its exit status to
# exitfile (so `down` and the test runner can see how a daemon exited). Waits for the pid file.
#   fr_spawn <logfile> <pidfile> <exitfile> cmd args...
fr_spawn() {
	local log=$1 pidf=$2 exitf=$3 i
	shift 3
	rm -f "$pidf" "$exitf"
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid bash -c '
		pidf=$1 exitf=$2; shift 2
		"$@" &
		child=$!
		echo "$child" >"$pidf.tmp" && mv -f "$pidf.tmp" "$pidf"
		rc=0; wait "$child" || rc=$?
		echo "$rc" >"$exitf"
	' fr-supervise "$pidf" "$exitf" "$@" </dev/null >>"$log" 2>&1 &
	for i in $(seq 1 100); do
		[ -s "$pidf" ] && return 0
		sleep 0.05
	done
	fr_say "error: $1 did not start (no pid file $pidf)"
	return 1
}

# Stops the process of a pid file: TERM, wait up to <timeout> s, then KILL. Removes the pid
# file. Prints nothing; returns 0 when it is gone.
#   fr_stop_pidfile <pidfile> <timeout_s> [comm]
fr_stop_pidfile() {
	local f=$1 t=${2:-10} want=${3:-} pid i
	if ! pid=$(fr_pidfile_alive "$f" "$want"); then
		rm -f "$f"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 $((t * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fr_say "pid $pid did not stop within ${t}s after SIGTERM: sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$f"
}

# ---- ports ---------------------------------------------------------------------------------

# True when something accepts TCP connections on 127.0.0.1:<port>.
fr_port_busy() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Waits until something accepts TCP connections on 127.0.0.1:<port>, at most <timeout> s,
# giving up early once <exitfile> exists (the process meant to listen has ended).
#   fr_port_wait <port> <timeout_s> [exitfile]
fr_port_wait() {
	local port=$1 deadline=$((SECONDS + $2)) exitf=${3:-}
	while :; do
		fr_port_busy "$port" && return 0
		if [ -n "$exitf" ] && [ -e "$exitf" ]; then return 1; fi
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# Describes who listens on a port (best effort, for error messages).
fr_port_owner() {
	local out=""
	if command -v ss >/dev/null 2>&1; then
		out=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1) || true
	fi
	echo "${out:-unknown process}"
}

# Fails with a clear message when <port> is taken by something that is not ours.
#   fr_port_free_or_die <port> <env var that sets it> <what>
fr_port_free_or_die() {
	if fr_port_busy "$1"; then
		fr_die "port $1 (for $3) is already in use by $(fr_port_owner "$1"), which this run dir" \
			"did not start. Stop it or choose another port: $2=<port>"
	fi
}

# ---- misc ----------------------------------------------------------------------------------

# 32 random bytes as 64 lower-case hex digits (or n bytes as 2n hex digits).
fr_random_hex() { od -An -tx1 -N"${1:-32}" /dev/urandom | tr -d ' \n'; }

# Percent-encodes a string for use inside a URL.
fr_urlencode() { jq -rn --arg s "$1" '$s|@uri'; }

# Quotes a value for a psql meta-command argument ('...' with ' and \ escaped).
fr_psql_quote() {
	local s=${1//\\/\\\\}
	s=${s//\'/\'\'}
	printf "'%s'" "$s"
}

# Short stable hash of a string (for per-checkout directory names).
fr_hash() { printf '%s' "$1" | sha256sum | cut -c1-12; }

# Prints seconds since the epoch with a fractional part (for timings).
fr_now() { date +%s.%N; }
