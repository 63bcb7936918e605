#!/usr/bin/env bash
#
# deps.sh - installs the Debian 12 packages FlatRender needs to build, test and run locally.
#
# Installs only what is missing (one `apt-get update`, then `apt-get install -y
# --no-install-recommends`), quietly does nothing when everything is present. As a non-root
# user it prints the sudo command instead and exits 1. Package services are not left running:
# a temporary policy-rc.d stops the packages' init scripts from starting them, and a Debian
# PostgreSQL cluster, Redis, RabbitMQ broker or default-port epmd that got started anyway is
# stopped again (our stacks run their own, under .run/). Optional packages (docker-compose, for
# checking the compose file; amqp-tools, amqp-publish / amqp-consume for operators) are
# installed when apt offers them; failing to get them is only a warning.
#
#   scripts/deps.sh [extra-package...]     e.g. `scripts/deps.sh wrk` (used by bench/)
set -euo pipefail

FR_ME=deps
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUIRED=(
	build-essential clang libclang-rt-14-dev pkg-config
	libevent-dev libpq-dev libjson-c-dev libssl-dev libhiredis-dev librabbitmq-dev
	libcmocka-dev libargon2-dev
	postgresql-15 postgresql-client-15 redis-server rabbitmq-server
	curl jq python3 python3-yaml python3-jsonschema python3-pika openssl procps iproute2 util-linux
	"$@"
)
OPTIONAL=(docker-compose amqp-tools)

export DEBIAN_FRONTEND=noninteractive

pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# True when apt knows an installable version of the package.
pkg_available() {
	local cand
	cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
	[ -n "$cand" ] && [ "$cand" != "(none)" ]
}

missing_of() {
	local p
	for p in "$@"; do pkg_installed "$p" || echo "$p"; done
}

# Keeps package maintainer scripts from starting services while we install.
POLICY=/usr/sbin/policy-rc.d
POLICY_OURS=0
policy_block() {
	[ -e "$POLICY" ] && return 0
	printf '#!/bin/sh\n# temporary, scripts/deps.sh\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	POLICY_OURS=1
}
policy_restore() {
	if [ "$POLICY_OURS" = 1 ]; then rm -f "$POLICY"; fi
}

# What Debian's packages run right now: "pg:<ver>/<cluster>" per online cluster, "redis" for
# Debian's redis-server service, "rabbitmq" for Debian's broker (its init script's pid file),
# "epmd" for an Erlang port mapper on the default port 4369 (started by the broker or by a
# rabbitmqctl run from a maintainer script).
package_services() {
	local line
	if command -v pg_lsclusters >/dev/null 2>&1; then
		while read -r line; do
			# shellcheck disable=SC2086 # fields: version cluster port status ...
			set -- $line
			if [ "${4:-}" = online ]; then echo "pg:$1/$2"; fi
		done < <(pg_lsclusters -h 2>/dev/null || true)
	fi
	if [ -s /run/redis/redis-server.pid ] &&
		kill -0 "$(cat /run/redis/redis-server.pid 2>/dev/null)" 2>/dev/null; then
		echo redis
	fi
	if [ -s /run/rabbitmq/pid ] && kill -0 "$(cat /run/rabbitmq/pid 2>/dev/null)" 2>/dev/null; then
		echo rabbitmq
	fi
	if command -v epmd >/dev/null 2>&1 && env -u ERL_EPMD_PORT epmd -names >/dev/null 2>&1; then
		echo epmd
	fi
}

# A Debian-managed PostgreSQL or Redis started by the install would take our default ports:
# stop what runs now and did not run before ($1: the package_services output from before).
stop_new_package_services() {
	local before=$1 s
	while read -r s; do
		[ -n "$s" ] || continue
		grep -qxF "$s" <<<"$before" && continue
		case $s in
		pg:*)
			s=${s#pg:}
			fr_say "stopping Debian PostgreSQL cluster $s started by the package install" \
				"(our stacks run their own cluster under .run/)"
			pg_ctlcluster "${s%/*}" "${s#*/}" stop || fr_say "warning: could not stop cluster $s"
			;;
		redis)
			fr_say "stopping Debian's redis-server started by the package install"
			kill -TERM "$(cat /run/redis/redis-server.pid)" 2>/dev/null || true
			;;
		rabbitmq) stop_debian_rabbitmq ;;
		esac
	done <<<"$(package_services)"
}

# Debian's broker (rabbit@<host>, port 5672): SIGTERM makes RabbitMQ 3.10 stop gracefully.
stop_debian_rabbitmq() {
	local pid i
	pid=$(cat /run/rabbitmq/pid 2>/dev/null) || return 0
	fr_say "stopping Debian's rabbitmq-server started by the package install (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
}

# An epmd on 4369 that was not there before the install: stopped once no node is registered
# with it any more (epmd refuses -kill while nodes are alive; those belong to someone).
stop_new_epmd() {
	local before=$1 names
	grep -qxF epmd <<<"$before" && return 0
	names=$(env -u ERL_EPMD_PORT epmd -names 2>/dev/null) || return 0
	if grep -q '^name ' <<<"$names"; then
		fr_say "warning: an epmd on port 4369 appeared during the install and has nodes registered;" \
			"left running"
		return 0
	fi
	fr_say "stopping the epmd (port 4369) started by the package install"
	env -u ERL_EPMD_PORT epmd -kill >/dev/null 2>&1 || fr_say "warning: could not stop epmd on 4369"
}

main() {
	local missing optional=() p
	mapfile -t missing < <(missing_of "${REQUIRED[@]}")
	for p in "${OPTIONAL[@]}"; do
		pkg_installed "$p" || optional+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && return 0

	if ! fr_is_root; then
		if [ ${#missing[@]} -eq 0 ]; then return 0; fi
		fr_say "missing packages: ${missing[*]}"
		echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
		exit 1
	fi

	# Optional packages only ride along when apt already knows them or we update anyway.
	if [ ${#missing[@]} -eq 0 ]; then
		local avail=()
		for p in "${optional[@]}"; do pkg_available "$p" && avail+=("$p"); done
		[ ${#avail[@]} -gt 0 ] || return 0
		optional=("${avail[@]}")
	fi

	local before
	before=$(package_services)
	trap policy_restore EXIT
	policy_block
	if [ ${#missing[@]} -gt 0 ]; then
		fr_say "installing: ${missing[*]}"
		apt-get update -qq || fr_die "apt-get update failed"
		apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" \
			>/dev/null || fr_die "apt-get install failed: ${missing[*]}"
	fi
	local avail=()
	for p in "${optional[@]}"; do pkg_available "$p" && avail+=("$p"); done
	if [ ${#avail[@]} -gt 0 ]; then
		fr_say "installing optional: ${avail[*]}"
		apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 "${avail[@]}" \
			>/dev/null || fr_say "warning: could not install ${avail[*]} (optional)"
	fi
	policy_restore
	stop_new_package_services "$before"
	stop_new_epmd "$before"
	mapfile -t missing < <(missing_of "${REQUIRED[@]}")
	[ ${#missing[@]} -eq 0 ] || fr_die "still missing after install: ${missing[*]}"
	fr_say "packages ready"
}

main
