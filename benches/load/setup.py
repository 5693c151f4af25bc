#!/usr/bin/env python3
"""Prepares one example server for the load run (standard library only).

Creates a confidential app, walks one Connect session to completion (the
hosted page's GET and the approve POST, keeping its cookies), exchanges the
code, and prints shell assignments the load script sources:

    CLIENT_ID, BASIC (base64 of id:secret), ACCESS_TOKEN, SCOPED_KEY

Usage: setup.py BASE_URL ADMIN_KEY   (the example must run with
OAUTH_CONNECT_DEMO_PROVIDERS=off, so the flow is customer, then consent).
"""

import base64
import html.parser
import http.cookiejar
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

REDIRECT = "http://127.0.0.1:9/callback"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Fields(html.parser.HTMLParser):
    """The named inputs of the page's first form with a `step` field."""

    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") != "submit":
            self.fields.setdefault(attrs["name"], attrs.get("value") or "")


def main(base, admin_key):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect()
    )

    def call(method, path, body=None, headers=None, form=False):
        data = None
        headers = dict(headers or {})
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["content-type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["content-type"] = "application/json"
        url = path if path.startswith("http") else base + path
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with opener.open(request) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    status, _, text = call(
        "POST",
        "/v1/oauth-apps",
        {
            "name": "Load test app",
            "redirectUris": [REDIRECT],
            "allowedScopes": ["read:devices"],
            "type": "CONFIDENTIAL",
        },
        {"authorization": f"Bearer {admin_key}"},
    )
    assert status == 201, (status, text)
    app = json.loads(text)
    basic = base64.b64encode(f"{app['clientId']}:{app['clientSecret']}".encode()).decode()
    client = {"authorization": f"Basic {basic}"}

    status, _, text = call(
        "POST",
        "/v1/connect/sessions",
        {
            "redirectUrl": REDIRECT,
            "referenceId": "load-user",
            "customerInfo": {
                "firstName": "Ada",
                "lastName": "Lovelace",
                "email": "ada@example.com",
                "phone": "+15555550100",
            },
            "scopes": ["read:devices"],
            "scopedKey": True,
        },
        client,
    )
    assert status == 201, (status, text)
    page_url = json.loads(text)["url"]

    location = None
    for _ in range(6):  # customer (if asked), then consent
        status, _, text = call("GET", page_url)
        assert status == 200, (status, text)
        parser = Fields()
        parser.feed(text)
        fields = parser.fields
        if fields.get("step") == "consent":
            fields["decision"] = "approve"
        status, headers, text = call("POST", "/connect", fields, form=True)
        assert status == 303, (status, text)
        location = headers.get("Location") or headers.get("location")
        if location.startswith(REDIRECT):
            break
        page_url = location
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert "code" in query, location

    status, _, text = call(
        "POST",
        "/oauth/token",
        {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT},
        client,
        form=True,
    )
    assert status == 200, (status, text)
    tokens = json.loads(text)
    print(f"CLIENT_ID={app['clientId']}")
    print(f"BASIC={basic}")
    print(f"ACCESS_TOKEN={tokens['access_token']}")
    print(f"SCOPED_KEY={tokens['scoped_key']}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2])
