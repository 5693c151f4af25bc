#!/usr/bin/env python3
"""The report of benches/load/compare.sh (standard library only).

Reads the runs the script recorded, one per line,

    ROUND|SERVER|REQUEST|RPS P50 P90 P99 NON2XX ERRORS MAX|RSS_MIB|LOAD1

and prints Markdown: every run, the mean over the rounds of each server
and request, and the ratios the issue sets targets for (ratio of the
means, and the range of the per-round ratios).

Usage: compare_report.py RESULTS SETTINGS MACHINE LOAD_BEFORE
"""

import statistics
import sys
from collections import defaultdict

FLOOR = ("floor", "POST (hello world)")
OURS_CC = ("ours", "client_credentials")
OURS_INTROSPECTION = ("ours", "introspection")
NODE_CC = ("node-oidc-provider", "client_credentials")
NODE_INTROSPECTION = ("node-oidc-provider", "introspection")


def read(path):
    runs = []
    with open(path) as lines:
        for line in lines:
            round_, server, request, result, rss, load = line.rstrip("\n").split("|")
            rps, p50, _p90, p99, non2xx, errors, max_ = result.split()
            runs.append(
                {
                    "round": int(round_),
                    "key": (server, request),
                    "rps": float(rps),
                    "p50": float(p50),
                    "p99": float(p99),
                    "max": float(max_),
                    "non2xx": int(non2xx),
                    "errors": int(errors),
                    "rss": rss,
                    "load": float(load),
                }
            )
    return runs


def span(values, digits):
    low, high = min(values), max(values)
    if low == high:
        return f"{low:,.{digits}f}"
    return f"{low:,.{digits}f}–{high:,.{digits}f}"


def main(path, settings, machine, load_before):
    runs = read(path)
    by_key = defaultdict(list)
    for run in runs:
        by_key[run["key"]].append(run)

    print(f"\n{settings}; {machine}")
    print(
        f"load average before: {load_before}; 1-minute load average at the end of the runs: "
        f"{span([r['load'] for r in runs], 2)} (the run itself keeps both cores busy: about 2)"
    )
    print("\n| round | server | request | requests/s | p50 ms | p99 ms | max ms | non-2xx | socket errors | server RSS MiB | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        server, request = r["key"]
        print(
            f"| {r['round']} | {server} | {request} | {r['rps']:,.0f} | {r['p50']:.2f} | "
            f"{r['p99']:.2f} | {r['max']:.1f} | {r['non2xx']} | {r['errors']} | {r['rss']} | "
            f"{r['load']:.2f} |"
        )

    print("\nMeans over the rounds (and the range):\n")
    print("| server | request | requests/s | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for (server, request), rs in by_key.items():
        print(
            f"| {server} | {request} | {statistics.mean(r['rps'] for r in rs):,.0f} "
            f"({span([r['rps'] for r in rs], 0)}) | {statistics.mean(r['p50'] for r in rs):.2f} | "
            f"{statistics.mean(r['p99'] for r in rs):.2f} ({span([r['p99'] for r in rs], 2)}) | "
            f"{statistics.mean(r['max'] for r in rs):.1f} ({span([r['max'] for r in rs], 1)}) |"
        )

    def mean(key, field):
        return statistics.mean(r[field] for r in by_key[key])

    def ratio(a, b, field):
        """Ratio of the means, and the range of the per-round ratios."""
        rounds = {r["round"]: r[field] for r in by_key[b]}
        per_round = [r[field] / rounds[r["round"]] for r in by_key[a] if rounds.get(r["round"])]
        return mean(a, field) / mean(b, field), per_round

    print("\nRatios (ratio of the means; per-round range in brackets):\n")
    print("| comparison | value | target | |")
    print("|---|---|---|---|")

    def row(name, a, b, field, target=None, check=None):
        if not by_key.get(a) or not by_key.get(b):
            return
        value, per_round = ratio(a, b, field)
        verdict = ""
        if check is not None:
            verdict = "met" if check(value) else "missed"
        print(f"| {name} | {value:.2f}× ({span(per_round, 2)}) | {target or ''} | {verdict} |")

    row("client_credentials / floor, throughput", OURS_CC, FLOOR, "rps", "≥ 0.6×", lambda v: v >= 0.6)
    row("client_credentials / floor, p99", OURS_CC, FLOOR, "p99", "≤ 2×", lambda v: v <= 2)
    if by_key.get(OURS_CC) and by_key.get(FLOOR):
        value, per_round = ratio(OURS_CC, FLOOR, "max")
        bound = max(3 * mean(FLOOR, "max"), 50.0)
        ours_max = mean(OURS_CC, "max")
        print(
            f"| client_credentials / floor, max | {value:.2f}× ({span(per_round, 2)}); "
            f"{ours_max:.1f} ms | ≤ 3× the floor's or 50 ms, whichever is larger "
            f"({bound:.1f} ms) | {'met' if ours_max <= bound else 'missed'} |"
        )
    row("introspection / floor, throughput", OURS_INTROSPECTION, FLOOR, "rps", "≥ 0.7×", lambda v: v >= 0.7)
    row("client_credentials: ours / node-oidc-provider", OURS_CC, NODE_CC, "rps")
    row("introspection: ours / node-oidc-provider", OURS_INTROSPECTION, NODE_INTROSPECTION, "rps")

    if float(load_before.split()[0]) > 0.5:
        print(
            f"\nWARNING: the 1-minute load average was {load_before.split()[0]} before the run: "
            "other work was running, and these figures measure it too."
        )
    bad = [r for r in runs if r["non2xx"] or r["errors"]]
    if bad:
        print(f"\nWARNING: {len(bad)} run(s) had non-2xx answers or socket errors (see the table).")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
