#!/usr/bin/env bash
# The load run of benches/README.md: wrk on loopback against both example
# servers (release build, in-memory store), four request shapes each, and
# a Markdown table of requests per second and latency percentiles.
#
#   benches/load/run.sh            # 20 s per shape, 32 connections, 2 threads
#   DURATION=5s CONNECTIONS=64 benches/load/run.sh
#
# Needs wrk (apt-get install wrk), python3 and curl. The servers log at
# `warn` (request spans are still created; only the info lines are not
# written). wrk and the server share the machine's cores: the figures are
# for the pair, on this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT_BASE:-3900}"
ADMIN_KEY="load-test-admin-key-0123456789abcdef"
SERVER_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
HERE="benches/load"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
cargo build --release --quiet -p example-axum -p example-actix --example axum --example actix

rows=()
for server in axum actix; do
    log="$(mktemp)"
    OAUTH_CONNECT_ADMIN_KEYS="ws_load=$ADMIN_KEY" OAUTH_CONNECT_SERVER_KEY="$SERVER_KEY" \
    OAUTH_CONNECT_DEMO_PROVIDERS=off OAUTH_CONNECT_DEMO_APP=off RUST_LOG=warn \
        "target/release/examples/$server" --addr "127.0.0.1:$PORT" >"$log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    base="http://127.0.0.1:$PORT"
    for _ in $(seq 1 100); do
        curl -sf "$base/.well-known/oauth-authorization-server" >/dev/null && break
        sleep 0.1
    done
    eval "$(python3 "$HERE/setup.py" "$base" "$ADMIN_KEY")"

    run() { # name method path auth body
        local out
        out="$(LOAD_METHOD="$2" LOAD_PATH="$3" LOAD_AUTH="$4" LOAD_BODY="$5" \
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$HERE/request.lua" "$base")"
        # shellcheck disable=SC2086
        set -- "$1" $(grep '^RESULT' <<<"$out" | cut -d' ' -f2-)
        rows+=("| $server | $1 | $2 | $3 | $4 | $5 | $6 | $7 |")
        echo "$server $1: $2 req/s, p50 $3 ms, p90 $4 ms, p99 $5 ms, non-2xx $6, errors $7" >&2
    }
    run "client_credentials (POST /oauth/token)" POST /oauth/token "Basic $BASIC" \
        "grant_type=client_credentials&scope=read%3Adevices"
    run "introspection (POST /oauth/introspect)" POST /oauth/introspect "Basic $BASIC" \
        "token=$ACCESS_TOKEN"
    run "GET /v1/me with a scoped key" GET /v1/me "Bearer $SCOPED_KEY" ""
    run "GET /v1/oauth-apps (admin, perPage=10)" GET "/v1/oauth-apps?perPage=10" \
        "Bearer $ADMIN_KEY" ""
    kill "$pid"; wait "$pid" 2>/dev/null || true
    trap - EXIT
    rm -f "$log"
    PORT=$((PORT + 2))
done

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average before: $LOAD_BEFORE"
echo
echo "| server | request | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
