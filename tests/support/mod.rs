//! Shared helpers for the HTTP-level tests: a server on the memory store
//! with a manual clock, requests as plain `http::Request` values, and the
//! browser steps of the consent page.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use oauth_connect::hooks::{Event, ManualClock};
use oauth_connect::{
    AppType, AuthorizationServer, AuthorizationServerBuilder, EventSink, MemoryStore, NewOAuthApp,
    WorkspaceId,
};
use serde_json::Value;
use time::macros::datetime;

pub const ISSUER: &str = "https://auth.example.com";
pub const REDIRECT: &str = "https://app.example.com/callback";

pub type Server = AuthorizationServer<MemoryStore>;

/// Events as they arrive, for assertions.
#[derive(Debug, Default)]
pub struct Recorder(pub Mutex<Vec<Event>>);

impl EventSink for Recorder {
    fn emit(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

pub struct Client {
    pub client_id: String,
    pub secret: Option<String>,
}

pub struct Harness {
    pub server: Server,
    pub clock: Arc<ManualClock>,
    pub events: Arc<Recorder>,
    pub workspace: WorkspaceId,
    pub confidential: Client,
    pub public: Client,
    /// The browser the hosted pages are driven in (its cookies kept).
    pub browser: Browser,
}

/// A browser's cookie jar, as far as the tests need one: it keeps every
/// cookie a response sets (`Max-Age=0` removes it) and sends back those
/// whose `Path` covers the request's path. One per browser: a test of
/// "another browser" makes a second one.
#[derive(Debug, Default)]
pub struct Browser {
    /// (name, value, path)
    cookies: Mutex<Vec<(String, String, String)>>,
}

impl Browser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The `Cookie` header for a request to `uri`, if any cookie applies.
    pub fn cookie_header(&self, uri: &str) -> Option<String> {
        let path = uri.split(['?', '#']).next().unwrap_or("/");
        let cookies = self.cookies.lock().unwrap();
        let applying: Vec<String> = cookies
            .iter()
            .filter(|(_, _, p)| {
                path == p || path.starts_with(&format!("{}/", p.trim_end_matches('/')))
            })
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect();
        (!applying.is_empty()).then(|| applying.join("; "))
    }

    /// The value of the cookie `name`, if the browser holds one.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.cookies.lock().unwrap();
        cookies
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.clone())
    }

    /// Puts a cookie in this browser's jar as if a response had set it:
    /// what an attacker who can plant cookies does.
    pub fn plant(&self, name: &str, value: &str, path: &str) {
        let mut cookies = self.cookies.lock().unwrap();
        cookies.retain(|(n, _, p)| !(n == name && p == path));
        cookies.push((name.to_owned(), value.to_owned(), path.to_owned()));
    }

    /// Keeps the cookies `response` sets.
    pub fn keep(&self, response: &Response<Bytes>) {
        let mut cookies = self.cookies.lock().unwrap();
        for header in response.headers().get_all("set-cookie") {
            let header = header.to_str().unwrap();
            let mut parts = header.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut gone = false;
            for attribute in parts {
                let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
                if key.eq_ignore_ascii_case("path") {
                    path = val.to_owned();
                }
                if key.eq_ignore_ascii_case("max-age") && val == "0" {
                    gone = true;
                }
            }
            cookies.retain(|(n, _, p)| !(n == name && *p == path));
            if !gone {
                cookies.push((name.to_owned(), value.to_owned(), path));
            }
        }
    }

    /// Sends `request` with this browser's cookies and keeps the ones it
    /// gets back.
    pub async fn send(&self, server: &Server, mut request: Request<Bytes>) -> Response<Bytes> {
        if let Some(cookie) = self.cookie_header(&request.uri().to_string()) {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        let response = server.handle(request).await;
        self.keep(&response);
        response
    }

    /// `GET uri` in this browser.
    pub async fn get(&self, server: &Server, uri: &str) -> Response<Bytes> {
        self.send(server, Request::get(uri).body(Bytes::new()).unwrap())
            .await
    }

    /// A form post in this browser (from a page of the server itself:
    /// `Origin` is the issuer's).
    pub async fn post_form(
        &self,
        server: &Server,
        uri: &str,
        pairs: &[(&str, &str)],
    ) -> Response<Bytes> {
        let request = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(query(pairs)))
            .unwrap();
        self.send(server, request).await
    }
}

pub fn builder() -> (
    AuthorizationServerBuilder<MemoryStore>,
    Arc<ManualClock>,
    Arc<Recorder>,
) {
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC)));
    let events = Arc::new(Recorder::default());
    let builder = AuthorizationServer::builder(MemoryStore::new())
        .issuer(ISSUER)
        .clock(clock.clone())
        .events(events.clone())
        .dangerous()
        .demo_sign_in();
    (builder, clock, events)
}

pub async fn harness() -> Harness {
    let (builder, clock, events) = builder();
    harness_with(builder.build().unwrap(), clock, events).await
}

pub async fn harness_with(
    server: Server,
    clock: Arc<ManualClock>,
    events: Arc<Recorder>,
) -> Harness {
    let workspace = WorkspaceId::parse("ws_test").unwrap();
    let confidential = register(&server, &workspace, AppType::Confidential, &[REDIRECT]).await;
    let public = register(
        &server,
        &workspace,
        AppType::Public,
        &[REDIRECT, "http://127.0.0.1/native", "com.example.app:/cb"],
    )
    .await;
    Harness {
        server,
        clock,
        events,
        workspace,
        confidential,
        public,
        browser: Browser::new(),
    }
}

pub async fn register(
    server: &Server,
    ws: &WorkspaceId,
    app_type: AppType,
    uris: &[&str],
) -> Client {
    let created = server
        .create_app(
            ws,
            &NewOAuthApp {
                name: "Test <App>".into(),
                description: None,
                redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
                allowed_scopes: vec![
                    "read:devices".into(),
                    "write:devices".into(),
                    "read:sites".into(),
                ],
                allowed_origins: vec![],
                app_type,
                logo_uri: None,
            },
        )
        .await
        .unwrap();
    Client {
        client_id: created.app.client_id.as_str().to_owned(),
        secret: created.client_secret.map(|s| s.expose_secret().to_owned()),
    }
}

pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

fn rand_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).unwrap();
    bytes
}

pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.extend_pairs(pairs);
    s.finish()
}

pub fn basic(client: &Client) -> String {
    let secret = client.secret.as_deref().unwrap_or_default();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{secret}", client.client_id))
    )
}

pub async fn get(server: &Server, uri: &str) -> Response<Bytes> {
    server
        .handle(Request::get(uri).body(Bytes::new()).unwrap())
        .await
}

pub async fn post_form(
    server: &Server,
    uri: &str,
    pairs: &[(&str, &str)],
    authorization: Option<&str>,
    cookie: Option<&str>,
) -> Response<Bytes> {
    let mut request =
        Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    server
        .handle(request.body(Bytes::from(query(pairs))).unwrap())
        .await
}

pub fn json(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

pub fn text(response: &Response<Bytes>) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}

pub fn location(response: &Response<Bytes>) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| {
            panic!(
                "no Location; status {}: {}",
                response.status(),
                text(response)
            )
        })
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query parameters of a URL.
pub fn params_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    params_of(url)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// The value of a hidden form field in a page.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The consent form a GET of the authorization endpoint rendered.
pub struct Consent {
    pub session: String,
    pub csrf: String,
    pub cookie: String,
    pub html: String,
}

pub fn consent(response: &Response<Bytes>) -> Consent {
    assert_eq!(response.status(), StatusCode::OK, "{}", text(response));
    let html = text(response);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("the consent page sets its CSRF cookie")
        .to_str()
        .unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    Consent {
        session: field(&html, "session"),
        csrf: field(&html, "csrf_token"),
        cookie,
        html,
    }
}

/// `GET /oauth/authorize?…`
pub async fn authorize(server: &Server, pairs: &[(&str, &str)]) -> Response<Bytes> {
    get(server, &format!("/oauth/authorize?{}", query(pairs))).await
}

/// Posts the consent decision.
pub async fn decide(
    server: &Server,
    consent: &Consent,
    decision: &str,
    subject: &str,
) -> Response<Bytes> {
    post_form(
        server,
        "/oauth/authorize",
        &[
            ("session", &consent.session),
            ("csrf_token", &consent.csrf),
            ("decision", decision),
            ("subject", subject),
        ],
        None,
        Some(&consent.cookie),
    )
    .await
}

/// Runs authorize + approve for `client` with PKCE and returns (code,
/// verifier, the redirect Location).
pub async fn code_for(
    server: &Server,
    client: &Client,
    extra: &[(&str, &str)],
) -> (String, String, String) {
    let (verifier, challenge) = pkce();
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s t&a=te"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    let page = authorize(server, &pairs).await;
    let form = consent(&page);
    let answer = decide(server, &form, "approve", "user-42").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    let to = location(&answer);
    let code = param(&to, "code").expect("a code in the redirect");
    (code, verifier, to)
}

/// `POST /oauth/token` with a confidential client's Basic credentials or a
/// public client's `client_id`.
pub async fn token(server: &Server, client: &Client, pairs: &[(&str, &str)]) -> Response<Bytes> {
    match &client.secret {
        Some(_) => post_form(server, "/oauth/token", pairs, Some(&basic(client)), None).await,
        None => {
            let mut with_id = pairs.to_vec();
            with_id.push(("client_id", client.client_id.as_str()));
            post_form(server, "/oauth/token", &with_id, None, None).await
        }
    }
}

pub async fn exchange(
    server: &Server,
    client: &Client,
    code: &str,
    verifier: &str,
) -> Response<Bytes> {
    token(
        server,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn introspect(server: &Server, client: &Client, token: &str) -> Value {
    let response = post_form(
        server,
        "/oauth/introspect",
        &[("token", token)],
        Some(&basic(client)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    json(&response)
}

pub fn error_of(response: &Response<Bytes>) -> String {
    json(response)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
