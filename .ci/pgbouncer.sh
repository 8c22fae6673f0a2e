#!/usr/bin/env bash
# A PgBouncer in transaction pooling mode in front of the machine's PostgreSQL
# (127.0.0.1:5432), on a loopback port, for make test's pooler pass.
#
#   .ci/pgbouncer.sh start DIR   writes DIR/pgbouncer.ini, starts PgBouncer (as the
#                                postgres user: it refuses to run as root), waits
#                                until it answers and prints the URL to connect with
#   .ci/pgbouncer.sh stop DIR    stops it by the PID in DIR/pgbouncer.pid
#
# Every database name is forwarded (`* = ...`), so tests can create databases
# directly and reach them through the pooler. PGBOUNCER_PORT picks the port
# (default 16432).
set -euo pipefail
cmd="${1:?start or stop}"
dir="${2:?a directory for the configuration, log and PID file}"
port="${PGBOUNCER_PORT:-16432}"

case "$cmd" in
start)
	command -v pgbouncer >/dev/null || { echo "pgbouncer is not installed (apt-get install pgbouncer)" >&2; exit 1; }
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "127.0.0.1:$port is already in use: set PGBOUNCER_PORT" >&2
		exit 1
	fi
	mkdir -p "$dir"
	echo '"postgres" ""' >"$dir/userlist.txt"
	cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = transaction
; no session survives a transaction in this mode: nothing to reset
server_reset_query =
max_client_conn = 1000
default_pool_size = 8
; the machine's PostgreSQL allows 100 connections; the direct pass and the
; tests' own administrative connections need the rest
max_user_connections = 50
server_idle_timeout = 10
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
	args=(-d)
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres "$dir"
		args+=(-u postgres)
	fi
	pgbouncer "${args[@]}" "$dir/pgbouncer.ini"
	for _ in $(seq 100); do
		pg_isready -q -h 127.0.0.1 -p "$port" && break
		sleep 0.1
	done
	if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
		echo "PgBouncer did not answer on 127.0.0.1:$port; its log:" >&2
		cat "$dir/pgbouncer.log" >&2 || true
		exit 1
	fi
	echo "postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
	;;
stop)
	if [ -f "$dir/pgbouncer.pid" ]; then
		pid="$(cat "$dir/pgbouncer.pid")"
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
