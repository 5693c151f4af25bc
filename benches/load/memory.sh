#!/usr/bin/env bash
# Issue 23 item 3: MemoryStore's resident memory per stored record, at a
# million records of each kind (benches/load/memory, release build, the
# system allocator). Each kind runs in a fresh process: setup, 1,000
# records, VmRSS, then COUNT records, VmRSS again; the growth divided by
# COUNT. See benches/load/memory/src/main.rs for what each kind stores.
#
#   benches/load/memory.sh                 # COUNT=1000000, about a minute
#   COUNT=100000 benches/load/memory.sh    # a quick pass
set -euo pipefail
cd "$(dirname "$0")/../.."

COUNT="${COUNT:-1000000}"
HERE="benches/load"
LOAD_TARGET="${CARGO_TARGET_DIR:-$HERE/target}"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" -p load-memory
"$LOAD_TARGET/release/load-memory" --count "$COUNT" | python3 -c '
import sys
what = {
    "access-token": "`client_credentials`: its grant and the access token",
    "access-token-record": "an access-token record alone (storage trait, 1,000 per grant)",
    "refresh-rotation": "`refresh`: a new access token and a new refresh token (the old one kept)",
    "refresh-token-record": "a refresh-token record alone (storage trait, 1,000 per grant)",
    "pending-authorization": "a pushed authorization request (confidential client)",
    "connect-session": "`create_connect_session` with customer details",
    "scoped-key": "`mint_scoped_key` for one customer",
}
rows = [line.split() for line in sys.stdin if line.startswith("RESULT ")]
print()
print("| kind | what one stores | count | RSS before MiB | RSS after MiB | bytes per record |")
print("|---|---|---|---|---|---|")
for _, kind, count, before, after, per in rows:
    print(f"| {kind} | {what.get(kind) or str()} | {int(count):,} | {int(before) / 1024:.1f} | "
          f"{int(after) / 1024:.1f} | {int(per):,} |")
'
echo
echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), glibc malloc; load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
