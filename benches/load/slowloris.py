#!/usr/bin/env python3
"""Slow clients against an example server (Python standard library only).

Opens N connections that never finish their request (by default 300: half
stop in the middle of the request head, half send a complete head
announcing 1000 bytes of body and then only 10 of them), then, while they
are open, measures a new client: R requests, each on a fresh connection,
to the metadata endpoint. Then it waits until the server has closed every
held connection and reports when, and with what answer.

    python3 benches/load/slowloris.py target/release/examples/axum
    python3 benches/load/slowloris.py http://127.0.0.1:3000 --connections 300

Given a binary, it starts it on a free loopback port (in memory, no demo
providers or demo app, the server's default limits unless the
OAUTH_CONNECT_* variables are set) and stops it at the end.
"""

import argparse
import os
import selectors
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

HALF_HEAD = b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: slowloris\r\n"
HALF_BODY = (
    b"POST /oauth/token HTTP/1.1\r\nHost: slowloris\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    b"grant_type"
)
PROBE = (
    b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: slowloris\r\n"
    b"Connection: close\r\n\r\n"
)


def start(binary):
    env = dict(os.environ)
    env.update(
        OAUTH_CONNECT_DEMO_PROVIDERS="off",
        OAUTH_CONNECT_DEMO_APP="off",
        RUST_LOG=env.get("RUST_LOG", "warn"),
    )
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [binary, "--addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    for line in server.stdout:
        if line.startswith("listening on "):
            return server, line.split()[-1]
    raise SystemExit(f"{binary} did not start")


def probe(host, port, timeout):
    """One request on a fresh connection: (seconds, status line)."""
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(PROBE)
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return time.monotonic() - started, answer.split(b"\r\n", 1)[0].decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", help="the server's base URL, or an example binary to start")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--requests", type=int, default=50, help="the new client's requests")
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the closes")
    args = parser.parse_args()

    server = None
    base = args.target
    if not base.startswith("http"):
        server, base = start(base)
    url = urllib.parse.urlsplit(base)
    host, port = url.hostname, url.port or 80
    try:
        held = []
        opened = time.monotonic()
        for i in range(args.connections):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(HALF_HEAD if i % 2 == 0 else HALF_BODY)
            s.setblocking(False)
            held.append((s, "head cut short" if i % 2 == 0 else "body stalled"))
        opening = time.monotonic() - opened

        latencies, statuses = [], set()
        for _ in range(args.requests):
            seconds, status = probe(host, port, timeout=60)
            latencies.append(seconds * 1000)
            statuses.add(status)

        # Which held connections were still open (and unanswered) then.
        still_open = 0
        for s, _ in held:
            try:
                s.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass

        selector = selectors.DefaultSelector()
        for s, kind in held:
            selector.register(s, selectors.EVENT_READ, (kind, bytearray()))
        closes = {}
        deadline = opened + args.wait
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                kind, got = key.data
                try:
                    chunk = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    got.extend(chunk)
                    continue
                at = time.monotonic() - opened
                answer = bytes(got).split(b"\r\n", 1)[0].decode() or "no answer"
                closes.setdefault((kind, answer), []).append(at)
                selector.unregister(key.fileobj)
                key.fileobj.close()
        left = len(selector.get_map())

        print(f"target: {base}")
        print(
            f"held: {args.connections} connections opened in {opening:.2f} s "
            f"({args.connections // 2} heads cut short, {args.connections - args.connections // 2} "
            f"bodies stalled)"
        )
        print(
            f"new client while they were open: {args.requests} requests, "
            f"answers {', '.join(sorted(statuses))}; "
            f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms; "
            f"{still_open} of {args.connections} held connections still open "
            f"when the last was answered"
        )
        for (kind, answer), times in sorted(closes.items()):
            print(
                f"closed by the server: {len(times)} {kind}, {answer}, "
                f"{min(times):.1f}-{max(times):.1f} s after opening"
            )
        if left:
            print(f"still open after {args.wait:.0f} s: {left}")
        return 1 if left or statuses != {"HTTP/1.1 200 OK"} else 0
    finally:
        if server:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
