#!/usr/bin/env bash
# Issue 23 item 4: PostgreSQL throughput of the full authorization-code
# flow (GET /oauth/authorize -> code -> POST /oauth/token) and of the
# refresh rotation, with CLIENTS concurrent clients (benches/load/flows)
# against 1 and 3 example nodes (examples/axum, release build) over one
# local database, round-robin over the nodes request by request.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test benches/load/postgres.sh
#   DURATION=3 WARM_UP=1 NODES="1 3" benches/load/postgres.sh     # a smoke test
#
# The flows run in a database of their own, LOAD_DATABASE (oc_load),
# dropped and made again for each node count (so its statistics are the
# flows' alone); DATABASE_URL only says where the server is and how to
# connect (its user must be allowed to create databases). Every node gets
# the same server key, admin key and issuer (the first node's URL),
# OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT (codes without a consent page; the
# issuer and the addresses are loopback), the example's default pool (10
# connections per node) and OAUTH_CONNECT_PURGE_SECONDS=86400 (no purge
# inside the runs). Nodes, PostgreSQL and the driver share the machine's
# cores: nothing is pinned.
#
# It prints, per node count and flow: flows/s, p50, p90, p99 and max flow
# latency, errors; then per flow, from pg_stat_database deltas over the
# run (read after 12 s of idleness, so every backend has flushed its
# counters; divided by every flow walked, warm-up included; they also
# count the pools' connection set-up and any autovacuum in that database),
# transactions and rows read, inserted, updated and deleted; and, from a node logging every statement (sqlx's `sqlx::query` events,
# RUST_LOG=sqlx::query=debug) while one client walks 20 and then 40 flows,
# the statements (each one round trip) per flow and which they are.
#
# Knobs: CLIENTS (32), DURATION (seconds counted, 20), WARM_UP (seconds
# not counted, 3), NODES (node counts, "1 3"), LOAD_DATABASE (oc_load),
# PORT_BASE (4100). Needs psql, python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/../.."

URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
DB="${LOAD_DATABASE:-oc_load}"
CLIENTS="${CLIENTS:-32}"
DURATION="${DURATION:-20}"
WARM_UP="${WARM_UP:-3}"
NODES="${NODES:-1 3}"
PORT_BASE="${PORT_BASE:-4100}"
HERE="benches/load"
TARGET="${CARGO_TARGET_DIR:-target}"
LOAD_TARGET="${CARGO_TARGET_DIR:-$HERE/target}"
ADMIN_KEY="load-test-admin-key-0123456789abcdef"
SERVER_KEY="$(python3 -c 'import os; print(os.urandom(32).hex())')"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

case "$DB" in *[!a-z0-9_]* | "") echo "LOAD_DATABASE must be [a-z0-9_]+" >&2; exit 2 ;; esac
# The same server and credentials, another database.
LOAD_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$URL" "$DB")"

echo "== building the example and the driver (release)" >&2
cargo build --release --quiet --example axum
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" -p load-flows
FLOWS="$LOAD_TARGET/release/load-flows"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

fresh_database() {
    PGOPTIONS="-c client_min_messages=warning" psql "$URL" -qX -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
}

# start_nodes N [RUST_LOG]: N nodes on PORT_BASE+1..N, one after the other
# (the first migrates).
start_nodes() {
    local n="$1" log="${2:-warn}" i port
    NODE_URLS=""
    for i in $(seq 1 "$n"); do
        port=$((PORT_BASE + i))
        DATABASE_URL="$LOAD_URL" OAUTH_CONNECT_SERVER_KEY="$SERVER_KEY" \
        OAUTH_CONNECT_ADMIN_KEYS="ws_load=$ADMIN_KEY" \
        OAUTH_CONNECT_ISSUER="http://127.0.0.1:$((PORT_BASE + 1))" \
        OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT=load-user \
        OAUTH_CONNECT_PURGE_SECONDS=86400 OAUTH_CONNECT_DEMO_PROVIDERS=off \
        OAUTH_CONNECT_DEMO_APP=off RUST_LOG="$log" \
            "$TARGET/release/examples/axum" --addr "127.0.0.1:$port" \
            >"$WORK/node$i.out" 2>"$WORK/node$i.err" &
        PIDS+=($!)
        for _ in $(seq 1 300); do
            curl -sf "http://127.0.0.1:$port/.well-known/oauth-authorization-server" \
                >/dev/null && break
            if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
                cat "$WORK/node$i.out" "$WORK/node$i.err" >&2
                exit 1
            fi
            sleep 0.1
        done
        NODE_URLS="${NODE_URLS:+$NODE_URLS,}http://127.0.0.1:$port"
    done
}

stop_nodes() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

stats() { # this database's counters, read from another database
    psql "$URL" -AtqX -F ' ' -c "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched,
        tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '$DB'"
}

# ---- statements per flow: one node logging every statement ----
echo "== statements per flow (one node, sqlx::query=debug, one client)" >&2
fresh_database
start_nodes 1 "warn,sqlx::query=debug"
sleep 2 # the purge task's first round, at start, is not the flows'
: >"$WORK/runs"
for mode in code refresh; do
    for flows in 20 40; do
        before="$(grep -c 'sqlx::query' "$WORK/node1.err" || true)"
        "$FLOWS" --nodes "$NODE_URLS" --admin-key "$ADMIN_KEY" --mode "$mode" --clients 1 \
            --flows "$flows" >/dev/null 2>"$WORK/driver.err" || { cat "$WORK/driver.err" >&2; exit 1; }
        sleep 0.5
        echo "$mode $flows $before $(grep -c 'sqlx::query' "$WORK/node1.err")" >>"$WORK/runs"
    done
done
# The 40-flow run walked 20 flows more than the 20-flow one; the rest (the
# app's registration, a refresh chain's first code flow) is the same, so
# the difference of their statements, by sqlx's summary (the first four
# words of each), is 20 flows' worth.
python3 - "$WORK/node1.err" "$WORK/runs" >"$WORK/statements" <<'PY'
import collections, re, sys
lines = [l for l in open(sys.argv[1], errors="replace") if "sqlx::query" in l]
runs = {}
for run in open(sys.argv[2]):
    mode, flows, start, end = run.split()
    runs.setdefault(mode, {})[int(flows)] = lines[int(start):int(end)]
print("| flow | statements (round trips) per flow | which (per flow) |")
print("|---|---|---|")
for mode, by_count in runs.items():
    def kinds(ls):
        counter = collections.Counter()
        for line in ls:
            m = re.search(r'summary="([^"]*)"', line)
            counter[m.group(1) if m else line.strip()[:60]] += 1
        return counter
    more = kinds(by_count[40])
    more.subtract(kinds(by_count[20]))
    total = sum(more.values()) / 20
    which = "; ".join(f"{n / 20:g} × `{s}`" for s, n in more.most_common() if n)
    print(f"| {mode} | {total:g} | {which} |")
PY
cat "$WORK/statements" >&2
stop_nodes

# ---- throughput ----
rows=()
for n in $NODES; do
    echo "== $n node(s)" >&2
    fresh_database
    start_nodes "$n"
    for mode in code refresh; do
        sleep 12
        read -r x0 r0 f0 i0 u0 d0 <<<"$(stats)"
        out="$("$FLOWS" --nodes "$NODE_URLS" --admin-key "$ADMIN_KEY" --mode "$mode" \
            --clients "$CLIENTS" --warm-up "$WARM_UP" --duration "$DURATION" 2>"$WORK/driver.err")" ||
            { cat "$WORK/driver.err" >&2; echo "$out" >&2; exit 1; }
        load="$(cut -d' ' -f1 /proc/loadavg)"
        cat "$WORK/driver.err" >&2
        sleep 12
        read -r x1 r1 f1 i1 u1 d1 <<<"$(stats)"
        # RESULT MODE NODES CLIENTS FLOWS SECONDS FLOWS_PER_S P50 P90 P99 MAX ERRORS ALL_FLOWS
        read -r _ _ _ _ _ _ rate p50 p90 p99 max errors all <<<"$(grep '^RESULT' <<<"$out")"
        per() { # BEFORE AFTER: the delta per flow walked
            python3 -c 'import sys; a, b, n = map(float, sys.argv[1:]); print(f"{(b - a) / n:.1f}")' \
                "$1" "$2" "$all"
        }
        rows+=("| $n | $mode | $CLIENTS | $rate | $p50 | $p90 | $p99 | $max | $errors | $(per "$x0" "$x1") | $(per "$r0" "$r1") / $(per "$f0" "$f1") | $(per "$i0" "$i1") / $(per "$u0" "$u1") / $(per "$d0" "$d1") | $load |")
    done
    stop_nodes
done
PGOPTIONS="-c client_min_messages=warning" psql "$URL" -qX -c "DROP DATABASE IF EXISTS $DB" >/dev/null

echo
echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), PostgreSQL $(psql "$URL" -AtqX -c 'SHOW server_version'), local; load average before: $LOAD_BEFORE"
echo "$CLIENTS clients, ${WARM_UP} s warm-up, ${DURATION} s counted; nodes, database and driver share the cores"
echo
echo "| nodes | flow | clients | flows/s | p50 ms | p90 ms | p99 ms | max ms | errors | transactions per flow | rows returned / fetched per flow | rows inserted / updated / deleted per flow | load (1 min, at the end) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
if python3 -c 'import sys; sys.exit(float(sys.argv[1]) <= 0.5)' "${LOAD_BEFORE%% *}"; then
    echo "WARNING: the 1-minute load average was ${LOAD_BEFORE%% *} before the run: other work was running, and these figures measure it too."
    echo
fi
echo "Statements per flow, from sqlx's events on one node (one client; 40 flows less 20 flows):"
echo
cat "$WORK/statements"
