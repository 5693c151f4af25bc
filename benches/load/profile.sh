#!/usr/bin/env bash
# Issue 23 item 2: instructions per request on the HTTP path, under
# callgrind (counts are stable on a shared machine, where wall-clock
# figures are not). Builds the example and the floor in release with line
# tables, starts each under `valgrind --tool=callgrind` with the
# instrumentation off, prepares ours with setup.py (as compare.sh does),
# warms each request up with wrk for 2 s, then counts the instructions of
# one wrk run (`wrk -t1 -c8 -d$DURATION`) and divides them by the requests
# wrk completed:
#
#   floor hello-world   POST /oauth/token (benches/load/floor)
#   ours client_credentials   POST /oauth/token, Basic (a new token each time)
#   ours introspection  POST /oauth/introspect, Basic, one access token
#
#   benches/load/profile.sh                 # both servers, 6 s per request
#   DURATION=3s SERVERS=ours benches/load/profile.sh
#
# It prints one line per request and leaves the callgrind files in $OUT
# (a temporary directory unless set), named SERVER.REQUEST.callgrind, for
# `callgrind_annotate --inclusive=yes FILE`. The process's instructions
# are counted, every thread (the runtime's worker, the metrics upkeep), not
# the kernel's. Needs valgrind (callgrind_control), wrk and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-6s}"
SERVERS="${SERVERS:-floor ours}"
PORT="${PORT_BASE:-3940}"
HERE="benches/load"
TARGET="${CARGO_TARGET_DIR:-target}"
LOAD_TARGET="${CARGO_TARGET_DIR:-$HERE/target}"
OUT="${OUT:-$(mktemp -d)}"
ADMIN_KEY="load-test-admin-key-0123456789abcdef"
SERVER_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
CC_BODY="grant_type=client_credentials&scope=read%3Adevices"
mkdir -p "$OUT"

for tool in valgrind callgrind_control wrk python3; do
    command -v "$tool" >/dev/null || {
        echo "profile.sh needs $tool" >&2
        exit 2
    }
done
echo "== building the example and the floor (release, line tables)" >&2
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
cargo build --release --quiet --example axum
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" -p load-floor

PID=""
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

# start NAME COMMAND...: under callgrind, instrumentation off, until its
# "listening on" line; the environment of ENV (an array) added.
ENV=()
start() {
    local name="$1"
    shift
    env "${ENV[@]}" valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$OUT/$name.%p.callgrind" "$@" >"$OUT/$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 1200); do
        grep -q '^listening on ' "$OUT/$name.log" && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "$name did not start:" >&2
    cat "$OUT/$name.log" >&2
    exit 1
}

stop() {
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

# count SERVER REQUEST PATH AUTH BODY: one measured wrk run.
count() {
    local out requests file total
    wrk_run() {
        LOAD_METHOD=POST LOAD_PATH="$3" LOAD_AUTH="$4" LOAD_BODY="$5" \
            wrk -t1 -c8 -d"$6" -s "$HERE/request.lua" "http://127.0.0.1:$PORT"
    }
    wrk_run "$@" 2s >/dev/null
    callgrind_control --zero "$PID" >/dev/null 2>&1
    callgrind_control --instr=on "$PID" >/dev/null 2>&1
    out="$(wrk_run "$@" "$DURATION")"
    callgrind_control --instr=off "$PID" >/dev/null 2>&1
    callgrind_control --dump="$1.$2" "$PID" >/dev/null 2>&1
    requests="$(grep -oE '^ *[0-9]+ requests in' <<<"$out" | grep -oE '[0-9]+')"
    file="$(grep -l "^desc: Trigger: .*$1.$2" "$OUT"/"$1".*.callgrind.* | head -1)"
    mv "$file" "$OUT/$1.$2.callgrind"
    total="$(awk '/^totals:/ { print $2 }' "$OUT/$1.$2.callgrind")"
    printf '%-6s %-20s %8d requests  %7d instructions per request\n' \
        "$1" "$2" "$requests" $((total / requests))
}

for server in $SERVERS; do
    case "$server" in
    floor)
        start floor "$LOAD_TARGET/release/load-floor" --addr "127.0.0.1:$PORT"
        basic="$(python3 -c 'import base64; print(base64.b64encode(b"oc_client_" + b"0" * 24 + b":" + b"s" * 64).decode())')"
        count floor hello-world /oauth/token "Basic $basic" "$CC_BODY"
        stop
        ;;
    ours)
        ENV=(-u DATABASE_URL OAUTH_CONNECT_ADMIN_KEYS="ws_load=$ADMIN_KEY"
            OAUTH_CONNECT_SERVER_KEY="$SERVER_KEY" OAUTH_CONNECT_DEMO_PROVIDERS=off
            OAUTH_CONNECT_DEMO_APP=off RUST_LOG=warn)
        start ours "$TARGET/release/examples/axum" --addr "127.0.0.1:$PORT"
        ENV=()
        eval "$(python3 "$HERE/setup.py" "http://127.0.0.1:$PORT" "$ADMIN_KEY")"
        count ours client_credentials /oauth/token "Basic $BASIC" "$CC_BODY"
        count ours introspection /oauth/introspect "Basic $BASIC" "token=$ACCESS_TOKEN"
        stop
        ;;
    *)
        echo "unknown server $server (floor, ours)" >&2
        exit 2
        ;;
    esac
done
echo "callgrind files in $OUT" >&2
