#!/usr/bin/env python3
"""What unauthenticated requests cost one example server (standard library
only): the growth of its resident memory over N authorization requests and
N pushed authorization requests of a public client, each with a 1,900-
character redirect URI and a 1,000-character `state`.

Registers a public app with that redirect URI (management API), warms the
server up with a few hundred of each request, reads the process's VmRSS
(/proc/PID/status), sends N GET /oauth/authorize (each answered with a
consent page), reads it again, sends N POST /oauth/par from one address
(each a 201), reads it a third time, and prints one line per shape:

    RESULT <shape> <requests> <rss before KiB> <rss after KiB> <growth KiB>

Usage: unauthenticated.py BASE_URL ADMIN_KEY PID [N]   (N defaults to 20000)
"""

import http.client
import json
import sys
import threading
import urllib.parse

THREADS = 8
STATE = "s" * 1000
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def connection(base):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def register(base, admin_key, redirect):
    conn = connection(base)
    body = json.dumps({
        "name": "Load: unauthenticated requests",
        "redirectUris": [redirect],
        "allowedScopes": ["read:devices"],
        "type": "PUBLIC",
    })
    conn.request("POST", "/v1/oauth-apps", body, {
        "Authorization": f"Bearer {admin_key}",
        "Content-Type": "application/json",
    })
    answer = conn.getresponse()
    created = json.loads(answer.read())
    if answer.status != 201:
        raise RuntimeError(f"app not created: {answer.status} {created}")
    return created["clientId"]


def run(base, count, request, expected):
    """`count` requests over THREADS keep-alive connections."""
    errors = []

    def worker(share):
        conn = connection(base)
        for _ in range(share):
            method, path, body, headers = request
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            answer.read()
            if answer.status != expected:
                errors.append(answer.status)
                return

    shares = [count // THREADS + (1 if i < count % THREADS else 0) for i in range(THREADS)]
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"unexpected status {errors[0]} (expected {expected})")


def main():
    base, admin_key, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
    prefix = "http://127.0.0.1:9/callback/"
    redirect = prefix + "r" * (1900 - len(prefix))
    client_id = register(base, admin_key, redirect)
    params = urllib.parse.urlencode({
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "state": STATE,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    })
    shapes = [
        ("authorize", ("GET", f"/oauth/authorize?{params}", None, {}), 200),
        ("par", ("POST", "/oauth/par", params,
                 {"Content-Type": "application/x-www-form-urlencoded"}), 201),
    ]
    for name, request, expected in shapes:
        run(base, 500, request, expected)  # warm-up: allocator and caches
        before = rss_kib(pid)
        run(base, count, request, expected)
        after = rss_kib(pid)
        print(f"RESULT {name} {count} {before} {after} {after - before}", flush=True)


if __name__ == "__main__":
    main()
