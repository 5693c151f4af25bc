#!/usr/bin/env bash
# Issue 17 item 4's figure: what unauthenticated requests cost each example
# server (release build). For each of axum and actix-web: N authorization
# requests and N pushed requests of a public client (1,900-character
# redirect URI, 1,000-character state), and the server's resident memory
# before and after each batch (benches/load/unauthenticated.py). With
# DATABASE_URL set, the servers run on PostgreSQL (a fresh schema each,
# dropped afterwards) and the rows left in oauth_sessions are counted too.
#
#   benches/load/unauthenticated.sh            # N = 20000
#   N=5000 benches/load/unauthenticated.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test benches/load/unauthenticated.sh
#
# Needs python3 and curl (psql with DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/../.."

N="${N:-20000}"
PORT="${PORT_BASE:-3950}"
ADMIN_KEY="load-test-admin-key-0123456789abcdef"
SERVER_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
HERE="benches/load"

cargo build --release --quiet -p example-axum -p example-actix --example axum --example actix
TARGET="${CARGO_TARGET_DIR:-target}"

rows=()
for server in axum actix; do
    log="$(mktemp)"
    schema=""
    storage="memory"
    if [ -n "${DATABASE_URL:-}" ]; then
        schema="oc_load_$(date +%s)_$server"
        storage="PostgreSQL"
    fi
    DATABASE_SCHEMA="$schema" \
    OAUTH_CONNECT_ADMIN_KEYS="ws_load=$ADMIN_KEY" OAUTH_CONNECT_SERVER_KEY="$SERVER_KEY" \
    OAUTH_CONNECT_DEMO_PROVIDERS=off OAUTH_CONNECT_DEMO_APP=off RUST_LOG=warn \
        "$TARGET/release/examples/$server" --addr "127.0.0.1:$PORT" >"$log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    base="http://127.0.0.1:$PORT"
    for _ in $(seq 1 100); do
        curl -sf "$base/.well-known/oauth-authorization-server" >/dev/null && break
        sleep 0.1
    done
    while read -r tag shape count before after growth; do
        [ "$tag" = RESULT ] || continue
        mib() { python3 -c "print(f'{$1 / 1024:.1f}')"; }
        rows+=("| $server | $storage | $shape | $count | $(mib "$before") | $(mib "$after") | $growth KiB |")
        echo "$server ($storage) $shape x$count: RSS $before -> $after KiB (+$growth KiB)" >&2
    done < <(python3 "$HERE/unauthenticated.py" "$base" "$ADMIN_KEY" "$pid" "$N")
    if [ -n "$schema" ]; then
        sessions="$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM $schema.oauth_sessions")"
        echo "$server (PostgreSQL): $sessions rows left in oauth_sessions" >&2
        rows+=("| $server | PostgreSQL | rows left in \`oauth_sessions\` | $((2 * N)) | | | $sessions |")
    fi
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    trap - EXIT
    if [ -n "$schema" ]; then
        PGOPTIONS="-c client_min_messages=warning" psql "$DATABASE_URL" -qc "DROP SCHEMA $schema CASCADE"
    fi
    rm -f "$log"
    PORT=$((PORT + 1))
done

echo "| server | storage | requests | count | RSS before MiB | RSS after MiB | growth |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
