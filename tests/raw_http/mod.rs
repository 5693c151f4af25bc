//! A minimal HTTP/1.1 client over a fresh socket per request, for the
//! tests that drive a server through real connections without a client
//! crate, and the authorization code flow walked with it.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{REDIRECT, field, json, location, param, pkce, query, text};

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), the
/// answer read whole (the adapters answer with a `Content-Length`).
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response<Bytes> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // A refused body may be cut short by the server: that is the point.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse(&raw)
}

/// An HTTP/1.1 response with a `Content-Length` body.
pub fn parse(raw: &[u8]) -> http::Response<Bytes> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut response = http::Response::builder().status(status);
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>().unwrap());
        }
        response = response.header(name.trim(), value.trim());
    }
    let body = &raw[split + 4..];
    let body = &body[..length.unwrap_or(body.len()).min(body.len())];
    response.body(Bytes::copy_from_slice(body)).unwrap()
}

/// The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636) of the
/// confidential client `client_id` for `read:devices`, through a server at
/// `addr` whose issuer's path is `prefix`, the demo sign-in approving as
/// `user-42`: the access token.
pub async fn code_flow(addr: SocketAddr, prefix: &str, client_id: &str, secret: &str) -> String {
    let (verifier, challenge) = pkce();
    // RFC 6749 §4.1.1: the consent page, whose form posts under the prefix.
    let authorize = format!(
        "{prefix}/oauth/authorize?{}",
        query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let page = send(addr, "GET", &authorize, &[], b"").await;
    assert_eq!(page.status(), StatusCode::OK, "{}", text(&page));
    let html = text(&page);
    assert!(
        html.contains(&format!("action=\"{prefix}/oauth/authorize\"")),
        "the form posts under the prefix: {html}"
    );
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let decision = query(&[
        ("session", &field(&html, "session")),
        ("csrf_token", &field(&html, "csrf_token")),
        ("decision", "approve"),
        ("subject", "user-42"),
    ]);
    let approved = send(
        addr,
        "POST",
        &format!("{prefix}/oauth/authorize"),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        decision.as_bytes(),
    )
    .await;
    // RFC 6749 §4.1.2: back to the client with the code and the state.
    assert_eq!(
        approved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&approved)
    );
    let to = location(&approved);
    assert_eq!(param(&to, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&to, "iss"), Some(format!("http://{addr}{prefix}")));
    let code = param(&to, "code").unwrap();

    // RFC 6749 §4.1.3 with the RFC 7636 §4.5 verifier.
    let form = query(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
        ("client_id", client_id),
        ("client_secret", secret),
    ]);
    let tokens = send(
        addr,
        "POST",
        &format!("{prefix}/oauth/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    json(&tokens)["access_token"].as_str().unwrap().to_owned()
}
