#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, so that nothing (the fault suite restarts the
# server it is given) touches a server someone else uses.
#
#   scripts/throwaway-postgres.sh start DIR   # initdb in DIR (first time), start on a free port,
#                                             # print the variables to export
#   scripts/throwaway-postgres.sh stop DIR
#
# The fault suite makes its own with it (tests/faults/postgres.py). By hand:
#   eval "$(scripts/throwaway-postgres.sh start /tmp/pg-tests)"
# then run the tests: they use $TEST_POSTGRES_URL, and the fault suite restarts
# $TEST_POSTGRES_DATADIR with pg_ctl instead of a cluster of its own. Trust authentication,
# 127.0.0.1 only. PostgreSQL refuses to run as root: as root, the server runs as the user
# `postgres` (or $PG_USER).
set -euo pipefail

command="${1:-}"
dir="${2:-}"
if [ -z "$command" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi

bin="$(dirname "$(command -v pg_ctl 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")"
if [ ! -x "$bin/pg_ctl" ] || [ ! -x "$bin/initdb" ]; then
    echo "initdb and pg_ctl not found (Debian: apt-get install postgresql)" >&2
    exit 1
fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "${PG_USER:-postgres}" -- "$@"
    else
        "$@"
    fi
}

data="$dir/data"
case "$command" in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "${PG_USER:-postgres}" "$dir"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log"
    fi
    # A free port, chosen once: the URL stays the same across starts.
    if [ ! -f "$dir/port" ]; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' >"$dir/port"
    fi
    port="$(cat "$dir/port")"
    if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w \
            -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200" \
            start >/dev/null
    fi
    echo "export TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/postgres"
    echo "export TEST_POSTGRES_DATADIR=$data"
    ;;
stop)
    as_owner "$bin/pg_ctl" -D "$data" -w stop -m fast >/dev/null
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
