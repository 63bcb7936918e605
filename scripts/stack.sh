#!/usr/bin/env bash
#
# stack.sh - starts, stops and describes one local FlatRender stack (PostgreSQL, Redis,
# RabbitMQ, the daemons), everything under one run directory.
#
#   scripts/stack.sh up     [component...]   start what is not running (idempotent)
#   scripts/stack.sh down   [component...]   stop exactly what this run dir started
#   scripts/stack.sh status                  one line per component
#   scripts/stack.sh env                     `export ...` lines for tests and shells
#   scripts/stack.sh wipe                    down, then delete the run dir and its data
#
# Components, in start order: pg redis rabbitmq identity billing gateway (default: all of them).
# `down rabbitmq` / `up rabbitmq` stop and restart the broker alone while the daemons run.
#
# Owns the run directory (FR_RUN_DIR, default $REPO/.run/local):
#   log/<name>.log      daemon and Redis output (log/postgres.log links to PostgreSQL's log,
#                       log/rabbitmq.log to the node's log; rabbitmq.stdout.log, epmd.log)
#   pid/<name>.pid      pid of each daemon / Redis / rabbitmq-server / epmd; pid/<name>.exit its
#                       exit status once ended; pid/rabbitmq.stop "clean" or "forced"
#   pgsql/data          the PostgreSQL cluster (or /var/tmp/flatrender-pg-<hash>/data when the
#                       postgres OS user cannot reach the run dir; see pgsql.path)
#   redis/              redis.conf and its working directory
#   rabbitmq/           the RabbitMQ node: rabbitmq.conf, mnesia/ (data), log/ (or
#                       /var/tmp/flatrender-rmq-<hash> when the rabbitmq OS user cannot reach
#                       the run dir; see rabbitmq.path). Node fr-<hash>@localhost, registered
#                       with the stack's own epmd on FR_EPMD_PORT (never the default 4369)
#   secrets.env         generated on first use: internal secret, key-encryption key, PostgreSQL
#                       superuser password (environment variables of the same name win)
#   asan/               sanitizer logs when FR_SAN_LOG_DIR points there (scripts/test.sh)
#
# Environment (defaults in brackets):
#   FR_RUN_DIR [$REPO/.run/local]  BUILD [build/debug]  FR_PG_PORT [5432]  FR_REDIS_PORT [6379]
#   IDENTITY_PORT [8081]  GATEWAY_PORT [8080]  IDENTITY_DB_PASSWORD [identity]
#   BILLING_PORT [8082]  BILLING_DB_PASSWORD [billing]
#   FR_ENV [local]  FR_LOG_LEVEL [info]  FR_ADMIN_EMAIL  FR_ADMIN_PASSWORD  FR_REDIS_PASSWORD
#   FR_READY_TIMEOUT_S [60]  FR_SAN_LOG_DIR (per-daemon ASAN/UBSAN log_path under it)
#   FR_AMQP_PORT [5672]  FR_AMQP_DIST_PORT [25672]  FR_EPMD_PORT [24369]  FR_AMQP_USER [guest]
#   FR_AMQP_PASSWORD [guest]  FR_AMQP_VHOST [/]  FR_AMQP_START_TIMEOUT_S [120]
# Any other FR_*, IDENTITY_*, BILLING_* or GATEWAY_* variable in the environment reaches the
# daemons as is (e.g. BILLING_FAULT_EXIT_AFTER_COMMIT=hold.reserve for `up billing`).
set -euo pipefail

FR_ME=stack
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Daemons in start order; each has a stack_env_<name> function below.
FR_DAEMONS=(identity billing gateway)
# Services that get a database role + schema (scripts/pg-bootstrap.sql).
FR_DB_SERVICES=(identity billing)

# ---- configuration -------------------------------------------------------------------------

stack_config() {
	RUN=${FR_RUN_DIR:-$FR_REPO/.run/local}
	case $RUN in /*) ;; *) RUN=$PWD/$RUN ;; esac
	BUILD_DIR=${BUILD:-build/debug}
	case $BUILD_DIR in /*) ;; *) BUILD_DIR=$FR_REPO/$BUILD_DIR ;; esac
	PG_PORT=${FR_PG_PORT:-5432}
	REDIS_PORT=${FR_REDIS_PORT:-6379}
	IDENTITY_PORT=${IDENTITY_PORT:-8081}
	GATEWAY_PORT=${GATEWAY_PORT:-8080}
	BILLING_PORT=${BILLING_PORT:-8082}
	DB_PASSWORD=${IDENTITY_DB_PASSWORD:-identity}
	BILLING_DB_PASSWORD=${BILLING_DB_PASSWORD:-billing}
	READY_TIMEOUT=${FR_READY_TIMEOUT_S:-60}
	AMQP_PORT=${FR_AMQP_PORT:-5672}
	AMQP_DIST_PORT=${FR_AMQP_DIST_PORT:-25672}
	EPMD_PORT=${FR_EPMD_PORT:-24369}
	AMQP_TIMEOUT=${FR_AMQP_START_TIMEOUT_S:-120}
	AMQP_USER=${FR_AMQP_USER:-guest}
	AMQP_PASSWORD=${FR_AMQP_PASSWORD:-guest}
	AMQP_VHOST=${FR_AMQP_VHOST:-/}
	local p name
	for p in PG_PORT:FR_PG_PORT REDIS_PORT:FR_REDIS_PORT IDENTITY_PORT:IDENTITY_PORT \
		GATEWAY_PORT:GATEWAY_PORT BILLING_PORT:BILLING_PORT READY_TIMEOUT:FR_READY_TIMEOUT_S \
		AMQP_PORT:FR_AMQP_PORT \
		AMQP_DIST_PORT:FR_AMQP_DIST_PORT EPMD_PORT:FR_EPMD_PORT AMQP_TIMEOUT:FR_AMQP_START_TIMEOUT_S; do
		name=${p%%:*}
		[[ ${!name} =~ ^[0-9]+$ ]] || fr_die "${p#*:} must be a number, got '${!name}'"
	done
	for p in AMQP_USER:FR_AMQP_USER AMQP_PASSWORD:FR_AMQP_PASSWORD AMQP_VHOST:FR_AMQP_VHOST; do
		name=${p%%:*}
		[[ ${!name} =~ ^[[:graph:]]+$ ]] || fr_die "${p#*:} must be printable, without spaces"
	done
	PIDDIR=$RUN/pid
	LOGDIR=$RUN/log
	RMQ_NODE=fr-$(fr_hash "$RUN")@localhost
	fr_rmq_clean_env
}

# Where the cluster lives: $RUN/pgsql when the postgres OS user can reach it and the socket
# path is short enough, else a per-checkout directory under /var/tmp. Decided once (by `up`)
# and recorded in $RUN/pgsql.path; with "lookup" only reads that record.
stack_pg_locate() {
	local cand
	if [ -s "$RUN/pgsql.path" ]; then
		PGROOT=$(cat "$RUN/pgsql.path")
	elif [ "${1:-}" = lookup ]; then
		PGROOT=$RUN/pgsql
	else
		cand=$RUN/pgsql
		if { fr_is_root && ! runuser -u postgres -- test -x "$RUN" 2>/dev/null; } ||
			[ ${#cand} -gt 80 ]; then
			cand=/var/tmp/flatrender-pg-$(fr_hash "$RUN")
			fr_say "postgres cannot use $RUN/pgsql (not reachable by the" \
				"'$(fr_pg_os_user)' user or path too long): cluster goes to $cand"
		fi
		PGROOT=$cand
		echo "$PGROOT" >"$RUN/pgsql.path"
	fi
	PGDATA=$PGROOT/data
}

# Generated secrets, stable for the life of the run dir; the environment wins.
stack_secrets() {
	local f=$RUN/secrets.env k v
	if [ ! -s "$f" ]; then
		(
			umask 077
			{
				echo "FR_INTERNAL_SECRET=$(fr_random_hex 32)"
				echo "IDENTITY_KEY_ENCRYPTION_KEY=$(fr_random_hex 32)"
				echo "FR_PG_SUPERUSER_PASSWORD=$(fr_random_hex 16)"
			} >"$f.tmp" && mv -f "$f.tmp" "$f"
		)
	fi
	while IFS='=' read -r k v; do
		[[ $k =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
		[ -n "${!k:-}" ] || printf -v "$k" '%s' "$v"
	done <"$f"
}

stack_prepare() {
	mkdir -p "$RUN" "$PIDDIR" "$LOGDIR" "$RUN/redis"
	stack_pg_locate
	rmq_locate
	stack_secrets
	PG_SUPER_URL_BASE="postgresql://postgres:$(fr_urlencode "$FR_PG_SUPERUSER_PASSWORD")@127.0.0.1:$PG_PORT"
}

# ---- PostgreSQL ----------------------------------------------------------------------------

pg_ctl_() { fr_as_pg "$FR_PG_BIN/pg_ctl" -D "$PGDATA" "$@"; }

pg_running() {
	[ -f "$PGDATA/PG_VERSION" ] || return 1
	pg_ctl_ status >/dev/null 2>&1
}

pg_pid() { head -1 "$PGDATA/postmaster.pid" 2>/dev/null || true; }

# A component already running from this run dir must be on the port asked for now.
#   stack_same_port_or_die <name> <running port> <wanted port> <env var>
stack_same_port_or_die() {
	[ "$2" = "$3" ] && return 0
	fr_die "$1 is already running from $RUN on port $2, not $3: run" \
		"'scripts/stack.sh down $1' first to change $4"
}

pg_init() {
	local pwfile locale=--no-locale
	[ -f "$PGDATA/PG_VERSION" ] && return 0
	mkdir -p "$PGROOT"
	if fr_is_root; then chown postgres: "$PGROOT"; fi
	chmod 700 "$PGROOT"
	if grep -qix 'c\.utf-\?8' <<<"$(locale -a 2>/dev/null)"; then locale=--locale=C.UTF-8; fi
	fr_say "initdb $PGDATA"
	pwfile=$PGROOT/.initdb-pw
	(umask 077 && printf '%s\n' "$FR_PG_SUPERUSER_PASSWORD" >"$pwfile")
	if fr_is_root; then chown postgres: "$pwfile"; fi
	if ! fr_as_pg "$FR_PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 "$locale" \
		>"$PGROOT/initdb.log" 2>&1; then
		rm -f "$pwfile"
		cat "$PGROOT/initdb.log" >&2
		fr_die "initdb failed"
	fi
	rm -f "$pwfile"
	echo "include_if_exists = 'flatrender.conf'" >>"$PGDATA/postgresql.conf"
}

pg_write_conf() {
	local tmp=$PGDATA/flatrender.conf.tmp
	cat >"$tmp" <<EOF
# Written by scripts/stack.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
unix_socket_permissions = 0700
fsync = on
password_encryption = 'scram-sha-256'
max_connections = 200
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
	if fr_is_root; then chown postgres: "$tmp"; fi
	mv -f "$tmp" "$PGDATA/flatrender.conf"
}

pg_psql() {
	fr_as_pg "$FR_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PG_PORT" \
		-U postgres "$@"
}

pg_bootstrap() {
	local svc json='{}'
	for svc in "${FR_DB_SERVICES[@]}"; do
		local var=${svc^^}_DB_PASSWORD
		json=$(jq -cn --argjson o "$json" --arg k "$svc" --arg v "${!var:-$svc}" '$o + {($k): $v}')
	done
	{
		printf '\\set services %s\n' "$(fr_psql_quote "${FR_DB_SERVICES[*]}")"
		printf '\\set passwords %s\n' "$(fr_psql_quote "$json")"
		printf '\\set superuser_password %s\n' "$(fr_psql_quote "$FR_PG_SUPERUSER_PASSWORD")"
		cat "$FR_LIB_DIR/pg-bootstrap.sql"
	} | pg_psql -d postgres >/dev/null || fr_die "scripts/pg-bootstrap.sql failed"
}

pg_up() {
	pg_init
	if pg_running; then
		stack_same_port_or_die pg "$(sed -n 4p "$PGDATA/postmaster.pid")" "$PG_PORT" FR_PG_PORT
		fr_say "postgres already running (pid $(pg_pid), port $PG_PORT)"
	else
		fr_port_free_or_die "$PG_PORT" FR_PG_PORT \
			"PostgreSQL; a Debian cluster? see pg_lsclusters, pg_ctlcluster 15 main stop"
		pg_write_conf
		touch "$PGROOT/postgres.log"
		if fr_is_root; then chown postgres: "$PGROOT/postgres.log"; fi
		ln -sfn "$PGROOT/postgres.log" "$LOGDIR/postgres.log"
		if ! pg_ctl_ -l "$PGROOT/postgres.log" -w -t 60 start >/dev/null \
			3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; then
			tail -n 30 "$PGROOT/postgres.log" >&2 || true
			fr_die "PostgreSQL did not start (log: $PGROOT/postgres.log)"
		fi
		fr_say "postgres started (pid $(pg_pid), 127.0.0.1:$PG_PORT, data $PGDATA)"
	fi
	pg_bootstrap
}

pg_down() {
	if pg_running; then
		pg_ctl_ -m fast -w -t 60 stop >/dev/null || fr_die "pg_ctl stop failed"
		fr_say "postgres stopped"
	fi
}

# ---- Redis ---------------------------------------------------------------------------------

redis_cli() { REDISCLI_AUTH=${FR_REDIS_PASSWORD:-} redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

redis_up() {
	local pid conf=$RUN/redis/redis.conf i
	if pid=$(fr_pidfile_alive "$PIDDIR/redis.pid" redis-server); then
		stack_same_port_or_die redis "$(cat "$PIDDIR/redis.port" 2>/dev/null)" "$REDIS_PORT" \
			FR_REDIS_PORT
		fr_say "redis already running (pid $pid, port $REDIS_PORT)"
		return 0
	fi
	command -v redis-server >/dev/null || fr_die "redis-server not installed (scripts/deps.sh)"
	fr_port_free_or_die "$REDIS_PORT" FR_REDIS_PORT Redis
	(
		umask 077
		cat >"$conf" <<EOF
# Written by scripts/stack.sh on every start.
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
daemonize no
pidfile $RUN/redis/redis-server.pid
logfile ""
dir $RUN/redis
save ""
appendonly no
EOF
		if [ -n "${FR_REDIS_PASSWORD:-}" ]; then
			printf 'requirepass "%s"\n' "$FR_REDIS_PASSWORD" >>"$conf"
		fi
	)
	echo "$REDIS_PORT" >"$PIDDIR/redis.port"
	fr_spawn "$LOGDIR/redis.log" "$PIDDIR/redis.pid" "$PIDDIR/redis.exit" redis-server "$conf"
	for i in $(seq 1 100); do
		[ "$(redis_cli ping 2>/dev/null)" = PONG ] && break
		if [ -e "$PIDDIR/redis.exit" ] || [ "$i" -eq 100 ]; then
			tail -n 20 "$LOGDIR/redis.log" >&2 || true
			fr_die "Redis did not start (log: $LOGDIR/redis.log)"
		fi
		sleep 0.1
	done
	fr_say "redis started (pid $(cat "$PIDDIR/redis.pid"), 127.0.0.1:$REDIS_PORT)"
}

# ---- RabbitMQ ------------------------------------------------------------------------------
#
# One node per run dir, fr-<hash of the run dir>@localhost, registered with the stack's own
# epmd (FR_EPMD_PORT, started here, loopback only): `down` stops exactly what `up` started and
# never touches another node or the default epmd on 4369. Everything the node reads is ours:
# rabbitmq.conf (loopback listener), enabled_plugins ([]: no plugins) and an empty
# rabbitmq-env.conf, so nothing under /etc/rabbitmq applies. pid/rabbitmq.pid is the
# rabbitmq-server script (the node's parent), $RMQROOT/beam.pid the node itself;
# pid/rabbitmq.ports records "amqp dist epmd" of the node started last.

# Where the node's files live: $RUN/rabbitmq when the rabbitmq OS user can reach it, else a
# per-checkout directory under /var/tmp. Decided once and recorded in $RUN/rabbitmq.path; with
# "lookup" only reads that record.
rmq_locate() {
	local cand
	if [ -s "$RUN/rabbitmq.path" ]; then
		RMQROOT=$(cat "$RUN/rabbitmq.path")
	elif [ "${1:-}" = lookup ]; then
		RMQROOT=$RUN/rabbitmq
	else
		cand=$RUN/rabbitmq
		if fr_is_root && ! runuser -u rabbitmq -- test -x "$RUN" 2>/dev/null; then
			cand=/var/tmp/flatrender-rmq-$(fr_hash "$RUN")
			fr_say "rabbitmq cannot use $RUN/rabbitmq (not reachable by the" \
				"'$(fr_rmq_os_user)' user): the node's files go to $cand"
		fi
		RMQROOT=$cand
		echo "$RMQROOT" >"$RUN/rabbitmq.path"
	fi
}

# rabbitmqctl against this stack's node, as the node's OS user (same Erlang cookie).
#   rmq_ctl <timeout_s> <epmd port> args...
rmq_ctl() {
	local t=$1 epmd=$2
	shift 2
	fr_rmq_as
	(cd / && timeout -k 5 "$t" "${FR_RMQ_AS[@]}" env ERL_EPMD_PORT="$epmd" \
		RABBITMQ_CONF_ENV_FILE="$RMQROOT/rabbitmq-env.conf" \
		"$FR_RMQ_BIN/rabbitmqctl" -n "$RMQ_NODE" "$@")
}

# The command line a shell or a test uses to reach the node (FR_RABBITMQCTL).
rmq_ctl_hint() {
	if fr_is_root; then
		echo "env ERL_EPMD_PORT=$1 /usr/sbin/rabbitmqctl -n $RMQ_NODE"
	else
		echo "env ERL_EPMD_PORT=$1 $FR_RMQ_BIN/rabbitmqctl -n $RMQ_NODE"
	fi
}

# pid of the node (beam.smp) / of the rabbitmq-server script, when alive.
rmq_node_pid() { fr_pidfile_alive "$RMQROOT/beam.pid" beam.smp; }
rmq_script_pid() { fr_pidfile_alive "$PIDDIR/rabbitmq.pid" rabbitmq-server; }
rmq_running() { rmq_script_pid >/dev/null || rmq_node_pid >/dev/null; }

# True when the node is registered with this stack's epmd (on port $1). Checked before any
# rabbitmqctl call of `down`: a CLI that finds no epmd starts one of its own (`epmd -daemon`,
# outside our pid files), and one that finds no node waits for its whole timeout.
rmq_registered() {
	fr_pidfile_alive "$PIDDIR/epmd.pid" epmd >/dev/null || return 1
	epmd -port "$1" -names 2>/dev/null | grep -q "^name ${RMQ_NODE%@*} at port "
}

# Sets R_AMQP R_DIST R_EPMD to the ports of the node started last (default: configured).
rmq_recorded_ports() {
	R_AMQP=$AMQP_PORT R_DIST=$AMQP_DIST_PORT R_EPMD=$EPMD_PORT
	if [ -s "$PIDDIR/rabbitmq.ports" ]; then
		read -r R_AMQP R_DIST R_EPMD <"$PIDDIR/rabbitmq.ports" || true
	fi
}

rmq_write_conf() {
	local d=$RMQROOT
	mkdir -p "$d/mnesia" "$d/log" "$d/conf.d"
	(
		umask 077
		cat >"$d/rabbitmq.conf.tmp" <<EOF
# Written by scripts/stack.sh on every start; edit the script, not this file.
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
log.console = false
log.file.level = info
EOF
		echo '[].' >"$d/enabled_plugins.tmp"
		echo '# Written by scripts/stack.sh: the node gets its settings from the environment.' \
			>"$d/rabbitmq-env.conf"
	)
	mv -f "$d/rabbitmq.conf.tmp" "$d/rabbitmq.conf"
	mv -f "$d/enabled_plugins.tmp" "$d/enabled_plugins"
	chmod 700 "$d"
	if fr_is_root; then
		chown rabbitmq: "$d" "$d/mnesia" "$d/log" "$d/conf.d" "$d/rabbitmq.conf" \
			"$d/enabled_plugins" "$d/rabbitmq-env.conf"
	fi
}

# The stack's own epmd, so the node and rabbitmqctl never depend on (or disturb) the default
# one on 4369.
rmq_epmd_up() {
	if fr_pidfile_alive "$PIDDIR/epmd.pid" epmd >/dev/null; then return 0; fi
	fr_port_free_or_die "$EPMD_PORT" FR_EPMD_PORT "this stack's Erlang port mapper (epmd)"
	fr_rmq_as
	(cd / && fr_spawn "$LOGDIR/epmd.log" "$PIDDIR/epmd.pid" "$PIDDIR/epmd.exit" \
		"${FR_RMQ_AS[@]}" epmd -port "$EPMD_PORT" -address 127.0.0.1)
	if ! fr_port_wait "$EPMD_PORT" 10 "$PIDDIR/epmd.exit"; then
		tail -n 20 "$LOGDIR/epmd.log" >&2 || true
		fr_die "epmd did not start on 127.0.0.1:$EPMD_PORT (log: $LOGDIR/epmd.log)"
	fi
}

rmq_epmd_down() {
	if fr_pidfile_alive "$PIDDIR/epmd.pid" epmd >/dev/null; then
		fr_stop_pidfile "$PIDDIR/epmd.pid" 5 epmd
		fr_say "epmd stopped"
	fi
	rm -f "$PIDDIR/epmd.pid"
}

# The node's own environment: all of its paths and ports, nothing from /etc/rabbitmq.
rmq_env() {
	RMQ_ENV=(
		"RABBITMQ_NODENAME=$RMQ_NODE"
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1"
		"RABBITMQ_NODE_PORT=$AMQP_PORT"
		"RABBITMQ_DIST_PORT=$AMQP_DIST_PORT"
		"ERL_EPMD_PORT=$EPMD_PORT"
		"RABBITMQ_MNESIA_BASE=$RMQROOT/mnesia"
		"RABBITMQ_LOG_BASE=$RMQROOT/log"
		"RABBITMQ_CONFIG_FILE=$RMQROOT/rabbitmq"
		"RABBITMQ_CONFIG_FILES=$RMQROOT/conf.d"
		"RABBITMQ_ADVANCED_CONFIG_FILE=$RMQROOT/advanced.config"
		"RABBITMQ_CONF_ENV_FILE=$RMQROOT/rabbitmq-env.conf"
		"RABBITMQ_ENABLED_PLUGINS_FILE=$RMQROOT/enabled_plugins"
		"RABBITMQ_PID_FILE=$RMQROOT/beam.pid"
		"RABBITMQ_DEFAULT_USER=$AMQP_USER"
		"RABBITMQ_DEFAULT_PASS=$AMQP_PASSWORD"
		"RABBITMQ_DEFAULT_VHOST=$AMQP_VHOST"
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
		"ERL_CRASH_DUMP=$RMQROOT/log/erl_crash.dump"
	)
}

# A fresh node creates FR_AMQP_USER / FR_AMQP_PASSWORD / FR_AMQP_VHOST itself (RABBITMQ_DEFAULT_*);
# on an existing node they are applied with rabbitmqctl when they changed since (a fingerprint,
# not the password, is kept in $RMQROOT/credentials.sha256).
rmq_credentials() {
	local fresh=$1 f=$RMQROOT/credentials.sha256 fp
	fp=$(printf '%s\n%s\n%s' "$AMQP_USER" "$AMQP_PASSWORD" "$AMQP_VHOST" | sha256sum | cut -c1-64)
	if [ "$fresh" = 0 ] && [ "$(cat "$f" 2>/dev/null)" != "$fp" ]; then
		fr_say "rabbitmq: applying FR_AMQP_USER / FR_AMQP_PASSWORD / FR_AMQP_VHOST to the existing node"
		if ! rmq_ctl 30 "$EPMD_PORT" -s list_vhosts name | grep -qxF -- "$AMQP_VHOST"; then
			rmq_ctl 30 "$EPMD_PORT" -q add_vhost "$AMQP_VHOST" >/dev/null ||
				fr_die "rabbitmqctl add_vhost failed"
		fi
		if rmq_ctl 30 "$EPMD_PORT" -s list_users | cut -f1 | grep -qxF -- "$AMQP_USER"; then
			printf '%s\n' "$AMQP_PASSWORD" | rmq_ctl 30 "$EPMD_PORT" -q change_password "$AMQP_USER" \
				>/dev/null || fr_die "rabbitmqctl change_password failed"
		else
			printf '%s\n' "$AMQP_PASSWORD" | rmq_ctl 30 "$EPMD_PORT" -q add_user "$AMQP_USER" \
				>/dev/null || fr_die "rabbitmqctl add_user failed"
		fi
		{ rmq_ctl 30 "$EPMD_PORT" -q set_user_tags "$AMQP_USER" administrator &&
			rmq_ctl 30 "$EPMD_PORT" -q set_permissions -p "$AMQP_VHOST" "$AMQP_USER" \
				'.*' '.*' '.*'; } >/dev/null || fr_die "rabbitmqctl set_permissions failed"
	fi
	(umask 077 && echo "$fp" >"$f")
}

rmq_up() {
	local fresh=0 t0
	if rmq_running; then
		rmq_recorded_ports
		stack_same_port_or_die rabbitmq "$R_AMQP" "$AMQP_PORT" FR_AMQP_PORT
		stack_same_port_or_die rabbitmq "$R_DIST" "$AMQP_DIST_PORT" FR_AMQP_DIST_PORT
		stack_same_port_or_die rabbitmq "$R_EPMD" "$EPMD_PORT" FR_EPMD_PORT
		fr_port_wait "$AMQP_PORT" "$AMQP_TIMEOUT" "$PIDDIR/rabbitmq.exit" ||
			fr_die "rabbitmq runs but does not accept AMQP on 127.0.0.1:$AMQP_PORT" \
				"(log: $LOGDIR/rabbitmq.log)"
		fr_say "rabbitmq already running (pid $(rmq_node_pid || rmq_script_pid), port $AMQP_PORT)"
		return 0
	fi
	[ -x "$FR_RMQ_BIN/rabbitmq-server" ] || fr_die "rabbitmq-server not installed (scripts/deps.sh)"
	fr_port_free_or_die "$AMQP_PORT" FR_AMQP_PORT "RabbitMQ (AMQP)"
	fr_port_free_or_die "$AMQP_DIST_PORT" FR_AMQP_DIST_PORT "RabbitMQ (Erlang distribution)"
	rmq_write_conf
	[ -d "$RMQROOT/mnesia/$RMQ_NODE" ] || fresh=1
	echo "$AMQP_PORT $AMQP_DIST_PORT $EPMD_PORT" >"$PIDDIR/rabbitmq.ports"
	rm -f "$PIDDIR/rabbitmq.stop"
	rmq_epmd_up
	ln -sfn "$RMQROOT/log/$RMQ_NODE.log" "$LOGDIR/rabbitmq.log"
	printf '=== %s starting rabbitmq-server (node %s, port %s)\n' "$(date -u +%FT%TZ)" \
		"$RMQ_NODE" "$AMQP_PORT" >>"$LOGDIR/rabbitmq.stdout.log"
	rmq_env
	fr_rmq_as
	t0=$(fr_now)
	(cd "$RMQROOT" && fr_spawn "$LOGDIR/rabbitmq.stdout.log" "$PIDDIR/rabbitmq.pid" \
		"$PIDDIR/rabbitmq.exit" "${FR_RMQ_AS[@]}" env "${RMQ_ENV[@]}" "$FR_RMQ_BIN/rabbitmq-server")
	if ! fr_port_wait "$AMQP_PORT" "$AMQP_TIMEOUT" "$PIDDIR/rabbitmq.exit"; then
		fr_say "last lines of $LOGDIR/rabbitmq.stdout.log and $LOGDIR/rabbitmq.log:"
		tail -n 20 "$LOGDIR/rabbitmq.stdout.log" "$LOGDIR/rabbitmq.log" >&2 || true
		rmq_down >/dev/null 2>&1 || true
		fr_die "RabbitMQ did not accept AMQP on 127.0.0.1:$AMQP_PORT within ${AMQP_TIMEOUT}s" \
			"(FR_AMQP_START_TIMEOUT_S)"
	fi
	fr_say "rabbitmq started in $(awk -v a="$t0" -v b="$(fr_now)" 'BEGIN{printf "%.1f", b-a}')s" \
		"(pid $(rmq_node_pid || rmq_script_pid), amqp://127.0.0.1:$AMQP_PORT, node $RMQ_NODE," \
		"epmd $EPMD_PORT)"
	rmq_credentials "$fresh"
}

# rabbitmqctl stop (it waits for the node's process to end), then SIGTERM / SIGKILL by pid as
# a fallback; then the stack's epmd. pid/rabbitmq.stop records which way it went.
rmq_down() {
	local spid bpid how=clean i
	rmq_recorded_ports
	spid=$(rmq_script_pid) || spid=
	bpid=$(rmq_node_pid) || bpid=
	if [ -n "$spid$bpid" ]; then
		if ! rmq_registered "$R_EPMD"; then
			how=forced
			fr_say "rabbitmq node $RMQ_NODE is not registered with epmd $R_EPMD: stopping by signal"
		elif ! rmq_ctl 60 "$R_EPMD" -q stop ${bpid:+"$RMQROOT/beam.pid"} \
			>>"$LOGDIR/rabbitmq.stdout.log" 2>&1; then
			how=forced
			fr_say "rabbitmqctl stop failed (see $LOGDIR/rabbitmq.stdout.log): stopping by signal"
		else
			for i in $(seq 1 100); do # the script ends right after the node
				rmq_running || break
				sleep 0.1
			done
		fi
		if rmq_running; then
			how=forced
			fr_stop_pidfile "$RMQROOT/beam.pid" 30 beam.smp
			fr_stop_pidfile "$PIDDIR/rabbitmq.pid" 10 rabbitmq-server
		fi
		for i in $(seq 1 30); do
			if [ -z "$spid" ] || [ -e "$PIDDIR/rabbitmq.exit" ]; then break; fi
			sleep 0.1
		done
		echo "$how" >"$PIDDIR/rabbitmq.stop"
		fr_say "rabbitmq stopped ($how; exit status" \
			"$(cat "$PIDDIR/rabbitmq.exit" 2>/dev/null || echo unknown))"
	fi
	rm -f "$PIDDIR/rabbitmq.pid"
	rmq_epmd_down
}

# ---- daemons -------------------------------------------------------------------------------

# The port of a daemon (DPORT) and the variable that sets it (DPORT_VAR).
daemon_port() {
	case $1 in
	identity) DPORT=$IDENTITY_PORT DPORT_VAR=IDENTITY_PORT ;;
	gateway) DPORT=$GATEWAY_PORT DPORT_VAR=GATEWAY_PORT ;;
	billing) DPORT=$BILLING_PORT DPORT_VAR=BILLING_PORT ;;
	*) fr_die "no port known for $1" ;;
	esac
}

# Each stack_env_<daemon> fills DENV (its extra environment) and DPORT.
stack_env_common() {
	DENV=(
		"FR_ENV=${FR_ENV:-local}"
		"FR_LOG_LEVEL=${FR_LOG_LEVEL:-info}"
		"FR_INTERNAL_SECRET=$FR_INTERNAL_SECRET"
		"FR_REDIS_HOST=127.0.0.1"
		"FR_REDIS_PORT=$REDIS_PORT"
		"FR_ADMIN_EMAIL=${FR_ADMIN_EMAIL:-admin@flatrender.local}"
		"FR_ADMIN_PASSWORD=${FR_ADMIN_PASSWORD:-flatrender-admin}"
		"FR_AMQP_HOST=127.0.0.1"
		"FR_AMQP_PORT=$AMQP_PORT"
		"FR_AMQP_USER=$AMQP_USER"
		"FR_AMQP_PASSWORD=$AMQP_PASSWORD"
		"FR_AMQP_VHOST=$AMQP_VHOST"
		"FR_IDENTITY_URL=http://127.0.0.1:$IDENTITY_PORT"
	)
	# service tokens: FR_SERVICE_CLIENT_SECRET stays unset locally (derived from
	# FR_INTERNAL_SECRET, as identity's default IDENTITY_SERVICE_CLIENTS expects)
	if [ -n "${FR_REDIS_PASSWORD:-}" ]; then DENV+=("FR_REDIS_PASSWORD=$FR_REDIS_PASSWORD"); fi
}

stack_env_identity() {
	stack_env_common
	daemon_port identity
	DENV+=(
		"IDENTITY_BIND=127.0.0.1"
		"IDENTITY_PORT=$IDENTITY_PORT"
		"IDENTITY_DATABASE_URL=${IDENTITY_DATABASE_URL:-postgresql://identity:$(fr_urlencode "$DB_PASSWORD")@127.0.0.1:$PG_PORT/flatrender}"
		"IDENTITY_MIGRATIONS_DIR=${IDENTITY_MIGRATIONS_DIR:-$FR_REPO/migrations/identity}"
		"IDENTITY_KEY_ENCRYPTION_KEY=$IDENTITY_KEY_ENCRYPTION_KEY"
	)
}

stack_env_billing() {
	stack_env_common
	daemon_port billing
	DENV+=(
		"BILLING_BIND=127.0.0.1"
		"BILLING_PORT=$BILLING_PORT"
		"BILLING_DATABASE_URL=${BILLING_DATABASE_URL:-postgresql://billing:$(fr_urlencode "$BILLING_DB_PASSWORD")@127.0.0.1:$PG_PORT/flatrender}"
		"BILLING_MIGRATIONS_DIR=${BILLING_MIGRATIONS_DIR:-$FR_REPO/migrations/billing}"
		# browsers and providers come back through this stack's gateway (sandbox checkout)
		"BILLING_PUBLIC_URL=${BILLING_PUBLIC_URL:-http://127.0.0.1:$GATEWAY_PORT}"
	)
}

stack_env_gateway() {
	stack_env_common
	daemon_port gateway
	DENV+=(
		"GATEWAY_BIND=127.0.0.1"
		"GATEWAY_PORT=$GATEWAY_PORT"
		"GATEWAY_IDENTITY_URL=${GATEWAY_IDENTITY_URL:-http://127.0.0.1:$IDENTITY_PORT}"
		"GATEWAY_BILLING_URL=${GATEWAY_BILLING_URL:-http://127.0.0.1:$BILLING_PORT}"
		# every local client (and the whole e2e suite) is 127.0.0.1, and test users share the
		# tenant "default": raised so only tests/e2e/test_rate_limits.py's own replicas limit
		"GATEWAY_RL_IP_RPM=${GATEWAY_RL_IP_RPM:-1000000}"
		"GATEWAY_RL_TENANT_RPM=${GATEWAY_RL_TENANT_RPM:-1000000}"
	)
}

# Sanitizer logs go to $FR_SAN_LOG_DIR/<name>.<pid> when it is set.
stack_env_san() {
	local name=$1 dir=${FR_SAN_LOG_DIR:-}
	[ -n "$dir" ] || return 0
	mkdir -p "$dir"
	DENV+=(
		"ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$dir/$name"
		"UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:log_path=$dir/$name.ubsan"
	)
}

daemon_url() { echo "http://127.0.0.1:$1"; }

daemon_wait_ready() {
	local name=$1 port=$2 deadline code
	deadline=$((SECONDS + READY_TIMEOUT))
	while :; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
			"$(daemon_url "$port")/readyz" 2>/dev/null) || true
		[ "$code" = 200 ] && return 0
		if [ -e "$PIDDIR/$name.exit" ]; then
			fr_say "$name exited with status $(cat "$PIDDIR/$name.exit") before it was ready"
			break
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			fr_say "$name: GET /readyz did not answer 200 within ${READY_TIMEOUT}s (last: ${code:-none})"
			break
		fi
		sleep 0.2
	done
	fr_say "last lines of $LOGDIR/$name.log (this start):"
	awk '/^=== .* starting /{n=0} {l[n++]=$0} END{for(i=(n>60?n-60:0);i<n;i++) print l[i]}' \
		"$LOGDIR/$name.log" >&2 || true
	return 1
}

daemon_up() {
	local name=$1 bin=$BUILD_DIR/bin/$1 pid
	"stack_env_$name"
	if pid=$(fr_pidfile_alive "$PIDDIR/$name.pid" "$name"); then
		stack_same_port_or_die "$name" "$(cat "$PIDDIR/$name.port" 2>/dev/null)" "$DPORT" \
			"$DPORT_VAR"
		fr_say "$name already running (pid $pid, port $DPORT)"
	else
		[ -x "$bin" ] || fr_die "$bin not found: build it first (make, or make SAN=1 with BUILD=build/san)"
		fr_port_free_or_die "$DPORT" "$DPORT_VAR" "$name"
		stack_env_san "$name"
		echo "$DPORT" >"$PIDDIR/$name.port"
		printf '=== %s starting %s (port %s)\n' "$(date -u +%FT%TZ)" "$bin" "$DPORT" >>"$LOGDIR/$name.log"
		(cd "$FR_REPO" && fr_spawn "$LOGDIR/$name.log" "$PIDDIR/$name.pid" "$PIDDIR/$name.exit" \
			env -u FR_PG_URL -u FR_TEST_PG_URL -u FR_PG_SUPERUSER_PASSWORD "${DENV[@]}" "$bin")
		fr_say "$name started (pid $(cat "$PIDDIR/$name.pid"), $(daemon_url "$DPORT"))"
	fi
	daemon_wait_ready "$name" "$DPORT" || fr_die "$name is not ready"
}

daemon_down() {
	local name=$1 i
	[ -e "$PIDDIR/$name.pid" ] || return 0
	if fr_pidfile_alive "$PIDDIR/$name.pid" "$name" >/dev/null; then
		fr_stop_pidfile "$PIDDIR/$name.pid" 10 "$name"
		for i in $(seq 1 30); do
			[ -e "$PIDDIR/$name.exit" ] && break
			sleep 0.1
		done
		fr_say "$name stopped (exit status $(cat "$PIDDIR/$name.exit" 2>/dev/null || echo unknown))"
	else
		rm -f "$PIDDIR/$name.pid"
	fi
}

# ---- commands ------------------------------------------------------------------------------

ALL_COMPONENTS=(pg redis rabbitmq "${FR_DAEMONS[@]}")

# Sets COMPONENTS to the requested ones in canonical order (all when none given).
stack_components() {
	local c a found
	COMPONENTS=()
	if [ $# -eq 0 ]; then
		COMPONENTS=("${ALL_COMPONENTS[@]}")
		return 0
	fi
	for a in "$@"; do
		found=0
		for c in "${ALL_COMPONENTS[@]}"; do [ "$a" = "$c" ] && found=1; done
		[ $found = 1 ] || fr_die "unknown component '$a' (known: ${ALL_COMPONENTS[*]})"
	done
	for c in "${ALL_COMPONENTS[@]}"; do
		for a in "$@"; do [ "$a" = "$c" ] && COMPONENTS+=("$c"); done
	done
	return 0
}

cmd_up() {
	local c gw=0 mq=0
	stack_components "$@"
	stack_prepare
	for c in "${COMPONENTS[@]}"; do
		case $c in
		pg) pg_up ;;
		redis) redis_up ;;
		rabbitmq) rmq_up ;;
		*) daemon_up "$c" ;;
		esac
		[ "$c" = gateway ] && gw=1
		[ "$c" = rabbitmq ] && mq=1
	done
	if [ $gw = 1 ]; then
		echo "FlatRender is up: gateway at $(daemon_url "$GATEWAY_PORT")"
	else
		echo "FlatRender components up: ${COMPONENTS[*]} (run dir $RUN)"
	fi
	if [ $mq = 1 ]; then
		echo "RabbitMQ at amqp://127.0.0.1:$AMQP_PORT (user $AMQP_USER, vhost $AMQP_VHOST," \
			"log $LOGDIR/rabbitmq.log); rabbitmqctl: $(rmq_ctl_hint "$EPMD_PORT")"
	fi
}

cmd_down() {
	local i c
	stack_components "$@"
	[ -d "$RUN" ] || return 0
	stack_pg_locate lookup
	rmq_locate lookup
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		c=${COMPONENTS[i]}
		case $c in
		pg) pg_down ;;
		rabbitmq) rmq_down ;;
		redis)
			if fr_pidfile_alive "$PIDDIR/redis.pid" redis-server >/dev/null; then
				fr_stop_pidfile "$PIDDIR/redis.pid" 10 redis-server
				fr_say "redis stopped"
			fi
			rm -f "$PIDDIR/redis.pid"
			;;
		*) daemon_down "$c" ;;
		esac
	done
}

cmd_status() {
	local c pid code line
	if [ ! -d "$RUN" ]; then
		echo "no stack in $RUN"
		return 0
	fi
	stack_pg_locate lookup
	rmq_locate lookup
	rmq_recorded_ports
	for c in "${ALL_COMPONENTS[@]}"; do
		case $c in
		rabbitmq)
			if pid=$(rmq_node_pid) || pid=$(rmq_script_pid); then
				line="pid $pid  amqp://127.0.0.1:$R_AMQP  node $RMQ_NODE  epmd $R_EPMD"
				if fr_port_busy "$R_AMQP"; then line="running  $line"; else line="starting $line"; fi
			elif [ -s "$PIDDIR/rabbitmq.exit" ]; then
				line="stopped  (last exit status $(cat "$PIDDIR/rabbitmq.exit"), $(cat \
					"$PIDDIR/rabbitmq.stop" 2>/dev/null || echo "not stopped by down"))"
			else
				line="stopped"
			fi
			;;
		pg)
			if pg_running; then
				line="running  pid $(pg_pid)  127.0.0.1:$(sed -n 4p "$PGDATA/postmaster.pid")  data $PGDATA"
			else
				line="stopped  data $PGDATA"
			fi
			;;
		redis)
			if pid=$(fr_pidfile_alive "$PIDDIR/redis.pid" redis-server); then
				line="running  pid $pid  127.0.0.1:$(cat "$PIDDIR/redis.port" 2>/dev/null || echo "$REDIS_PORT")"
			else
				line="stopped"
			fi
			;;
		*)
			daemon_port "$c"
			if pid=$(fr_pidfile_alive "$PIDDIR/$c.pid" "$c"); then
				DPORT=$(cat "$PIDDIR/$c.port" 2>/dev/null || echo "$DPORT")
				code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
					"$(daemon_url "$DPORT")/readyz" 2>/dev/null) || true
				line="running  pid $pid  $(daemon_url "$DPORT")  readyz ${code:-none}"
			elif [ -s "$PIDDIR/$c.exit" ]; then
				line="stopped  (last exit status $(cat "$PIDDIR/$c.exit"))"
			else
				line="stopped"
			fi
			;;
		esac
		printf '%-9s %s\n' "$c" "$line"
	done
}

cmd_env() {
	local v
	stack_prepare
	FR_GATEWAY_URL=$(daemon_url "$GATEWAY_PORT")
	FR_IDENTITY_URL=$(daemon_url "$IDENTITY_PORT")
	FR_BILLING_URL=$(daemon_url "$BILLING_PORT")
	FR_PG_URL=$PG_SUPER_URL_BASE/flatrender
	FR_TEST_PG_URL=$PG_SUPER_URL_BASE/postgres
	FR_TEST_REDIS_PORT=$REDIS_PORT
	FR_REDIS_HOST=127.0.0.1
	FR_REDIS_PORT=$REDIS_PORT
	FR_PG_PORT=$PG_PORT
	FR_RUN_DIR=$RUN
	FR_ADMIN_EMAIL=${FR_ADMIN_EMAIL:-admin@flatrender.local}
	FR_ADMIN_PASSWORD=${FR_ADMIN_PASSWORD:-flatrender-admin}
	FR_PG_SOCKET_DIR=$PGDATA
	FR_AMQP_HOST=127.0.0.1
	FR_AMQP_PORT=$AMQP_PORT
	FR_AMQP_DIST_PORT=$AMQP_DIST_PORT
	FR_EPMD_PORT=$EPMD_PORT
	FR_AMQP_USER=$AMQP_USER
	FR_AMQP_PASSWORD=$AMQP_PASSWORD
	FR_AMQP_VHOST=$AMQP_VHOST
	FR_AMQP_URL="amqp://$(fr_urlencode "$AMQP_USER"):$(fr_urlencode "$AMQP_PASSWORD")"
	FR_AMQP_URL+="@127.0.0.1:$AMQP_PORT/$(fr_urlencode "$AMQP_VHOST")"
	FR_AMQP_NODE=$RMQ_NODE
	FR_RABBITMQCTL=$(rmq_ctl_hint "$EPMD_PORT")
	FR_TEST_AMQP_PORT=$AMQP_PORT
	FR_TEST_AMQP_USER=$AMQP_USER
	FR_TEST_AMQP_PASSWORD=$AMQP_PASSWORD
	# for scripts/dlq.sh and a plain rabbitmqctl in the shell that evaluates this
	RABBITMQ_NODENAME=$RMQ_NODE
	ERL_EPMD_PORT=$EPMD_PORT
	for v in FR_RUN_DIR FR_GATEWAY_URL FR_IDENTITY_URL FR_BILLING_URL GATEWAY_PORT IDENTITY_PORT \
		BILLING_PORT FR_PG_URL \
		FR_TEST_PG_URL FR_PG_PORT FR_PG_SOCKET_DIR FR_REDIS_HOST FR_REDIS_PORT \
		FR_TEST_REDIS_PORT FR_INTERNAL_SECRET FR_ADMIN_EMAIL FR_ADMIN_PASSWORD \
		FR_AMQP_HOST FR_AMQP_PORT FR_AMQP_DIST_PORT FR_EPMD_PORT FR_AMQP_USER FR_AMQP_PASSWORD \
		FR_AMQP_VHOST FR_AMQP_URL FR_AMQP_NODE FR_RABBITMQCTL FR_TEST_AMQP_PORT \
		FR_TEST_AMQP_USER FR_TEST_AMQP_PASSWORD RABBITMQ_NODENAME ERL_EPMD_PORT; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	if [ -n "${FR_REDIS_PASSWORD:-}" ]; then
		printf 'export FR_REDIS_PASSWORD=%q\n' "$FR_REDIS_PASSWORD"
	fi
}

cmd_wipe() {
	cmd_down
	[ -d "$RUN" ] || return 0
	stack_pg_locate lookup
	rmq_locate lookup
	case $PGROOT in
	"$RUN"/*) ;;
	/var/tmp/flatrender-pg-*) rm -rf "$PGROOT" ;;
	esac
	case $RMQROOT in
	"$RUN"/*) ;;
	/var/tmp/flatrender-rmq-*) rm -rf "$RMQROOT" ;;
	esac
	rm -rf "$RUN"
	fr_say "removed $RUN"
}

usage() {
	sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

main() {
	[ $# -ge 1 ] || usage
	local cmd=$1
	shift
	stack_config
	case $cmd in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	status) cmd_status ;;
	env) cmd_env ;;
	wipe) cmd_wipe ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"
