#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback for the state store's tests.
#   tests/postgres/server.sh start DIR PORT   # prints the RECKON_TEST_POSTGRES address
#   tests/postgres/server.sh stop DIR
# Installs Debian's postgresql package when no server binaries are found; runs
# the server as the `postgres` user (it refuses root) with trust authentication
# on 127.0.0.1 only; the data lives in DIR and goes with it.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?data folder}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
case "$cmd" in
start)
    port=${3:-55432}
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "installing postgresql (Debian package)" >&2
        export DEBIAN_FRONTEND=noninteractive
        sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
        $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq postgresql >&2
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    run=(bash -c)
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        run=(runuser -u postgres -- bash -c)
    fi
    "${run[@]}" "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust -E UTF8 >'$dir/initdb.log' 2>&1"
    "${run[@]}" "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        run=(bash -c)
        [ "$(id -u)" = 0 ] && run=(runuser -u postgres -- bash -c)
        "${run[@]}" "'$bin/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null" || true
        rm -rf "$dir"
    fi
    ;;
esac
