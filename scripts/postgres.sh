#!/usr/bin/env bash
# postgres.sh runs a throwaway PostgreSQL server for Cerulean's tests and benchmarks, and
# prints the DSN of its database "cerulean", for CERULEAN_POSTGRES_DSN:
#
#   export CERULEAN_POSTGRES_DSN=$(scripts/postgres.sh)      # start (or find) the server
#   go test ./storage/meta/postgres/...
#   scripts/postgres.sh stop                                  # stop it and remove its data
#
# It is idempotent: run again, it prints the DSN of the server already running. The
# cluster lives in $CERULEAN_PGDIR (default ${TMPDIR:-/tmp}/cerulean-postgres), listens on
# 127.0.0.1 only, on a free port, and trusts local connections: test data only. Unlike the
# Go tests' own server (package pgtest), it keeps PostgreSQL's durable defaults (fsync on),
# so benchmarks against it measure real commits; CERULEAN_PG_FAST=1 turns fsync off.
#
# It needs initdb, pg_ctl and postgres: on PATH, or Debian's /usr/lib/postgresql/N/bin; if
# there are none it installs Debian's postgresql package (as root or through sudo).
# PostgreSQL refuses to run as root, so as root it runs the server as the postgres user.
set -euo pipefail

dir=${CERULEAN_PGDIR:-${TMPDIR:-/tmp}/cerulean-postgres}
data=$dir/data
db=cerulean

find_bin() {
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v initdb)")" # Debian links them from its own bin
		return
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	fi
}

bin=$(find_bin)
if [ -z "$bin" ]; then
	echo "postgres.sh: installing PostgreSQL (Debian package postgresql)" >&2
	if [ "$(id -u)" -eq 0 ]; then
		as_root=(env DEBIAN_FRONTEND=noninteractive)
	elif command -v sudo >/dev/null 2>&1; then
		as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
	else
		echo "postgres.sh: PostgreSQL not found, and not root: install Debian's postgresql package" >&2
		exit 1
	fi
	log=$(mktemp)
	if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq --no-install-recommends postgresql; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	bin=$(find_bin)
	[ -n "$bin" ] || { echo "postgres.sh: initdb still not found after installing postgresql" >&2; exit 1; }
fi

# as_pg runs a PostgreSQL program as the user that owns the cluster.
if [ "$(id -u)" -eq 0 ]; then
	pguser=postgres
	id -u "$pguser" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser"
	as_pg() { runuser -u "$pguser" -- "$@"; }
else
	as_pg() { "$@"; }
fi

running() { [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

dsn() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/$db?sslmode=disable"; }

case ${1:-start} in
stop)
	if running; then
		as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	fi
	rm -rf "$dir"
	exit 0
	;;
dsn)
	running || { echo "postgres.sh: not running" >&2; exit 1; }
	dsn
	exit 0
	;;
start) ;;
*)
	echo "usage: $0 [start|stop|dsn]" >&2
	exit 2
	;;
esac

if running; then
	dsn
	exit 0
fi

mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then
	chown "$pguser" "$dir"
fi
if [ ! -f "$data/PG_VERSION" ]; then
	as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
fi

# A free port: the kernel's choice for a listener that is closed at once.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)))
echo "$port" >"$dir/port"
opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=200"
if [ "${CERULEAN_PG_FAST:-}" = 1 ]; then
	opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
as_pg "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null ||
	{ cat "$dir/postgres.log" >&2; exit 1; }

psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA)
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
	"${psql[@]}" -c "CREATE DATABASE $db" >/dev/null
fi
dsn
