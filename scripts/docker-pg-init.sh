#!/bin/sh
# docker-pg-init.sh - first-start hook of the postgres container in docker-compose.yml.
#
# Mounted as /docker-entrypoint-initdb.d/10-flatrender.sh next to scripts/pg-bootstrap.sql
# (at /flatrender/pg-bootstrap.sql); the postgres image runs it once, on an empty data volume,
# against its temporary socket-only server. Creates the flatrender database and one role +
# schema per service in FR_SERVICES, each role's password from <SERVICE>_DB_PASSWORD (default:
# the service name). POSIX sh, safe whether the entrypoint executes or sources it.

fr_pg_init() {
	_services=${FR_SERVICES:-identity billing}
	_json='{'
	_sep=
	for _s in $_services; do
		case $_s in
		'' | *[!a-z0-9_]*)
			echo "docker-pg-init: bad service name '$_s' in FR_SERVICES" >&2
			return 1
			;;
		esac
		_var=$(printf '%s' "$_s" | tr 'a-z-' 'A-Z_')_DB_PASSWORD
		eval "_pw=\${$_var:-$_s}"
		_pw=$(printf '%s' "$_pw" | sed 's/\\/\\\\/g; s/"/\\"/g')
		_json="$_json$_sep\"$_s\":\"$_pw\""
		_sep=,
	done
	_json="$_json}"
	psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --no-password \
		--dbname postgres -v services="$_services" -v passwords="$_json" \
		-f /flatrender/pg-bootstrap.sql >/dev/null
}

fr_pg_init
