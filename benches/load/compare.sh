#!/usr/bin/env bash
# Issue 23 items 2 and 5: our example server (axum, in memory) against the
# framework's floor (benches/load/floor, a hello-world axum POST handler)
# and against node-oidc-provider (benches/load/node-oidc-provider), each
# server pinned to one core with taskset and wrk pinned to the other, the
# same wrk settings for all, interleaved: every round runs, one after the
# other, each on a freshly started server,
#
#   floor                 POST /oauth/token (the client_credentials request)
#   ours  client_credentials   POST /oauth/token, Basic (a new token each time)
#   ours  introspection   POST /oauth/introspect, Basic, one access token
#   node-oidc-provider client_credentials, then introspection (likewise)
#
# and prints requests/s, p50, p99 and max latency of each run, the means
# over the rounds, and the ratios (ours/floor, ours/node-oidc-provider),
# with the machine and the load average before and at the end of each run.
#
#   benches/load/compare.sh                    # 3 rounds of 40 s per run
#   DURATION=3s ROUNDS=1 benches/load/compare.sh   # a smoke test
#
# Before each measured run the same load runs for WARM_UP (5s) on the same
# server, unmeasured (node-oidc-provider's JIT warms up; ours starts the
# measured run with the warm-up's tokens stored).
#
# Knobs: DURATION (40s: at ~25,000 requests/s ours passes a million tokens),
# WARM_UP (5s; 0 skips it), ROUNDS (3), CONNECTIONS (32), THREADS (wrk threads, 1), TIMEOUT (wrk's
# per-request timeout, 10s: a slower answer would count as an error and
# not in the latencies), SERVER_CPU (0), WRK_CPU (1), NODE_OIDC (on; off
# skips node-oidc-provider), PURGE_SECONDS (the example's purge interval,
# its default 60 s unless set), PORT_BASE (3930).
#
# Installs wrk (apt-get, as root) and node-oidc-provider (npm ci) when
# missing; needs python3, curl, node and npm, taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-40s}"
WARM_UP="${WARM_UP:-5s}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"
TIMEOUT="${TIMEOUT:-10s}"
SERVER_CPU="${SERVER_CPU:-0}"
WRK_CPU="${WRK_CPU:-1}"
NODE_OIDC="${NODE_OIDC:-on}"
PORT="${PORT_BASE:-3930}"
HERE="benches/load"
TARGET="${CARGO_TARGET_DIR:-target}"
LOAD_TARGET="${CARGO_TARGET_DIR:-$HERE/target}"
ADMIN_KEY="load-test-admin-key-0123456789abcdef"
SERVER_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
NODE_CLIENT="load-client"
NODE_SECRET="load-secret-0123456789abcdef0123456789abcdef"
CC_BODY="grant_type=client_credentials&scope=read%3Adevices"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$(nproc)" -lt 2 ] || [ "$SERVER_CPU" = "$WRK_CPU" ]; then
    echo "compare.sh needs two cores, one for the server and one for wrk" >&2
    exit 2
fi
if ! command -v wrk >/dev/null; then
    echo "== installing wrk" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 || {
        apt-get update >/dev/null
        apt-get install -y --no-install-recommends wrk >/dev/null
    }
fi
if [ "$NODE_OIDC" != off ] &&
    ! (cd "$HERE/node-oidc-provider" && npm ls --omit=dev oidc-provider >/dev/null 2>&1); then
    echo "== installing node-oidc-provider (npm ci)" >&2
    (cd "$HERE/node-oidc-provider" && npm ci --no-audit --no-fund --omit=dev >/dev/null)
fi
echo "== building the example and the floor (release)" >&2
cargo build --release --quiet --example axum
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" -p load-floor

WORK="$(mktemp -d)"
PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME COMMAND...: starts a server on SERVER_CPU, waits for its
# "listening on" line.
start() {
    local name="$1"
    shift
    taskset -c "$SERVER_CPU" "$@" >"$WORK/$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 400); do
        grep -q '^listening on ' "$WORK/$name.log" && return 0
        if ! kill -0 "$PID" 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

stop() {
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

rss_mib() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"
}

# measure ROUND SERVER REQUEST BASE METHOD PATH AUTH BODY
measure() {
    local out result
    if [ "${WARM_UP%s}" != 0 ]; then
        LOAD_METHOD="$5" LOAD_PATH="$6" LOAD_AUTH="$7" LOAD_BODY="$8" \
            taskset -c "$WRK_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARM_UP" \
            --timeout "$TIMEOUT" -s "$HERE/request.lua" "$4" >/dev/null
    fi
    out="$(LOAD_METHOD="$5" LOAD_PATH="$6" LOAD_AUTH="$7" LOAD_BODY="$8" \
        taskset -c "$WRK_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        --timeout "$TIMEOUT" -s "$HERE/request.lua" "$4")"
    result="$(grep '^RESULT' <<<"$out" | cut -d' ' -f2-)"
    echo "$1|$2|$3|$result|$(rss_mib)|$(cut -d' ' -f1 /proc/loadavg)" >>"$WORK/results"
    # shellcheck disable=SC2086
    set -- "$2 $3" $result
    echo "   $1: $2 req/s, p50 $3 ms, p99 $5 ms, max $8 ms, non-2xx $6, errors $7" >&2
}

ours() { # the example on the memory store, prepared by setup.py
    local env=(OAUTH_CONNECT_ADMIN_KEYS="ws_load=$ADMIN_KEY" OAUTH_CONNECT_SERVER_KEY="$SERVER_KEY"
        OAUTH_CONNECT_DEMO_PROVIDERS=off OAUTH_CONNECT_DEMO_APP=off RUST_LOG=warn)
    if [ -n "${PURGE_SECONDS:-}" ]; then env+=(OAUTH_CONNECT_PURGE_SECONDS="$PURGE_SECONDS"); fi
    start ours env -u DATABASE_URL "${env[@]}" "$TARGET/release/examples/axum" \
        --addr "127.0.0.1:$PORT"
    eval "$(python3 "$HERE/setup.py" "http://127.0.0.1:$PORT" "$ADMIN_KEY")"
}

node_oidc() {
    start node-oidc-provider env NODE_ENV=production PORT="$PORT" \
        LOAD_CLIENT_ID="$NODE_CLIENT" LOAD_CLIENT_SECRET="$NODE_SECRET" \
        node "$HERE/node-oidc-provider/server.mjs"
}

# The floor gets the client_credentials request byte for byte, with a
# Basic header of the same shape as ours.
FLOOR_BASIC="$(python3 -c 'import base64; print(base64.b64encode(b"oc_client_" + b"0" * 24 + b":" + b"s" * 64).decode())')"
NODE_BASIC="$(printf '%s:%s' "$NODE_CLIENT" "$NODE_SECRET" | base64 -w0)"

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round of $ROUNDS" >&2
    start floor "$LOAD_TARGET/release/load-floor" --addr "127.0.0.1:$PORT"
    measure "$round" floor "POST (hello world)" "http://127.0.0.1:$PORT" POST /oauth/token \
        "Basic $FLOOR_BASIC" "$CC_BODY"
    stop

    ours
    measure "$round" ours client_credentials "http://127.0.0.1:$PORT" POST /oauth/token \
        "Basic $BASIC" "$CC_BODY"
    stop
    ours
    measure "$round" ours introspection "http://127.0.0.1:$PORT" POST /oauth/introspect \
        "Basic $BASIC" "token=$ACCESS_TOKEN"
    stop

    if [ "$NODE_OIDC" != off ]; then
        node_oidc
        measure "$round" node-oidc-provider client_credentials "http://127.0.0.1:$PORT" \
            POST /token "Basic $NODE_BASIC" "$CC_BODY"
        stop
        node_oidc
        token="$(curl -sf -u "$NODE_CLIENT:$NODE_SECRET" -d grant_type=client_credentials \
            -d scope=read:devices "http://127.0.0.1:$PORT/token" |
            python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
        measure "$round" node-oidc-provider introspection "http://127.0.0.1:$PORT" \
            POST /token/introspection "Basic $NODE_BASIC" "token=$token"
        stop
    fi
done

MACHINE="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -r)"
python3 "$HERE/compare_report.py" "$WORK/results" \
    "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT after $WARM_UP of the same unmeasured, server on CPU $SERVER_CPU, wrk on CPU $WRK_CPU, $ROUNDS round(s)" \
    "$MACHINE" "$LOAD_BEFORE"
