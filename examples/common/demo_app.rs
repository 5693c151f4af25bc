//! The demo integrating app of the examples: what a service that embeds
//! Connect serves from its own origin (a second port, by default the
//! server's port + 1).
//!
//! - `GET /`: a page that opens Connect in a popup and in a modal with the
//!   embed script (`<script src=…/connect/sdk/<version>.js integrity=…>`),
//!   through the app's publishable key or through a Connect token its
//!   backend makes, and a plain OAuth popup with
//!   `response_mode=web_message`; it shows every callback. It gives the
//!   browser a cookie (`demo_app_browser`, HttpOnly) and a `state` bound
//!   to it (RFC 6749 §10.12: an HMAC of the cookie under a key of this
//!   process).
//! - `POST /api/connect-token` (**demo only**): the backend makes a
//!   Connect session with the app's client secret (which never reaches the
//!   browser) for a new demo user, with a `state` bound to the browser's
//!   cookie. It signs no one in: a real backend makes the session for the
//!   user its own login says is there, with that user's id as
//!   `referenceId`.
//! - `POST /api/exchange` (**demo only**): the backend checks that the
//!   `state` is bound to this browser, exchanges the code at the token
//!   endpoint and calls `GET /v1/me` with the access token, and tells the
//!   page what it learnt, to show that it works. A real backend keeps the
//!   tokens, and what they can read, to itself.
//! - `GET /callback`: the registered redirect URI, the fallback when the
//!   page that opened Connect is gone (or JavaScript is off): the `state`
//!   is checked against the browser's cookie first (a mismatch, or no
//!   cookie, exchanges nothing), then the same exchange, shown as a page
//!   (**demo only**: a real app shows no token metadata).
//!
//! At start-up it registers a confidential app whose redirect URI is
//! `<origin>/callback` and whose `allowedOrigins` is `[<origin>]`, and
//! makes it a publishable key. The handler speaks `http::Request<Bytes>`,
//! so the axum and actix-web examples mount it alike.

use std::error::Error;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use oauth_connect::http::ConnectScript;
use oauth_connect::{AppType, AuthorizationServer, NewOAuthApp, PageRequest, Storage, WorkspaceId};
use serde_json::{Value, json};
use zeroize::Zeroizing;

const PAGE_SCRIPT: &str = include_str!("demo_app.js");
const STYLE: &str = include_str!("demo_app.css");
/// The scopes the demo app asks for.
const SCOPES: [&str; 2] = ["read:devices", "read:sites"];

/// The demo app; cheap to clone.
#[derive(Clone)]
pub(crate) struct DemoApp {
    inner: Arc<Inner>,
}

struct Inner {
    /// This app's origin, `http://127.0.0.1:3001`.
    origin: String,
    /// The authorization server's public base URL (the browser's).
    issuer: String,
    /// How this process reaches the authorization server (its backend's).
    back_channel: String,
    client_id: String,
    client_secret: Zeroizing<String>,
    publishable_key: String,
    http: reqwest::Client,
    users: AtomicU64,
    /// Binds each `state` to the browser's cookie.
    state_key: ring::hmac::Key,
}

impl DemoApp {
    /// This app's origin.
    pub(crate) fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The client id of its app.
    pub(crate) fn client_id(&self) -> &str {
        &self.inner.client_id
    }
}

/// The name of the demo app's OAuth app.
const APP_NAME: &str = "Demo web app";

/// Registers the demo app at `server` (in `workspace`) for `origin` and
/// makes its publishable key. `back_channel` is how this process reaches
/// the server's token endpoint.
///
/// A database keeps the registration of an earlier start: the app of the
/// same name and redirect URI is deleted first (with its keys and
/// sessions), so restarts leave no trail of apps. Its secret was shown
/// once and is gone anyway.
pub(crate) async fn setup<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    origin: &str,
    back_channel: &str,
) -> Result<DemoApp, Box<dyn Error>> {
    let redirect = format!("{origin}/callback");
    let mut stale = Vec::new();
    for page in 1..=PageRequest::MAX_PAGE {
        let listed = server
            .list_apps(workspace, PageRequest::new(page, PageRequest::MAX_PER_PAGE))
            .await?;
        stale.extend(
            listed
                .data
                .iter()
                .filter(|app| {
                    app.name == APP_NAME && app.redirect_uris.iter().any(|u| u.as_str() == redirect)
                })
                .map(|app| app.id.clone()),
        );
        if u64::from(page) * u64::from(PageRequest::MAX_PER_PAGE) >= listed.meta.total {
            break;
        }
    }
    for id in stale {
        server.delete_app(workspace, &id).await?;
    }
    let created = server
        .create_app(
            workspace,
            &NewOAuthApp {
                name: APP_NAME.into(),
                description: Some("The examples' demo integrating app".into()),
                redirect_uris: vec![redirect],
                allowed_scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
                allowed_origins: vec![origin.to_owned()],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        )
        .await?;
    let secret = created
        .client_secret
        .ok_or("a confidential app has a secret")?;
    let key = server
        .create_publishable_key(workspace, &created.app.id)
        .await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let state_key =
        ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| "no random key for the demo app's states")?;
    Ok(DemoApp {
        inner: Arc::new(Inner {
            origin: origin.to_owned(),
            issuer: server.config().issuer_str().to_owned(),
            back_channel: back_channel.to_owned(),
            client_id: created.app.client_id.as_str().to_owned(),
            client_secret: Zeroizing::new(secret.expose_secret().to_owned()),
            publishable_key: key.key.expose_secret().to_owned(),
            http,
            users: AtomicU64::new(1),
            state_key,
        }),
    })
}

/// Answers one request to the demo app.
pub(crate) async fn handle(app: &DemoApp, request: Request<Bytes>) -> Response<Bytes> {
    let method = request.method().clone();
    match (method, request.uri().path()) {
        (Method::GET, "/") => page(app, &request),
        (Method::GET, "/app.js") => asset(PAGE_SCRIPT, "text/javascript; charset=utf-8"),
        (Method::GET, "/app.css") => asset(STYLE, "text/css; charset=utf-8"),
        (Method::POST, "/api/connect-token") => connect_token(app, &request).await,
        (Method::POST, "/api/exchange") => exchange_api(app, &request).await,
        (Method::GET, "/callback") => callback(app, &request).await,
        // Browsers ask for it on every page: no icon, and no 404 in the log.
        (Method::GET, "/favicon.ico") => no_icon(),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found",
        ),
    }
}

fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Bytes> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Bytes> {
    reply(
        StatusCode::OK,
        content_type,
        Bytes::from_static(body.as_bytes()),
    )
}

/// `204 No Content`, cached for a day: the browser keeps its default icon
/// and stops asking.
fn no_icon() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn json_reply(status: StatusCode, value: &Value) -> Response<Bytes> {
    reply(status, "application/json", value.to_string())
}

fn escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

/// The cookie that identifies a browser to the demo app.
const BROWSER_COOKIE: &str = "demo_app_browser";

/// The browser's id from its cookie, if it has a well-formed one (22
/// base64url characters: 128 random bits).
fn browser_of(request: &Request<Bytes>) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| {
            value.len() == 22
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

/// A `state` bound to `browser`: a random nonce and the HMAC of the
/// browser's id and that nonce, `<nonce>.<tag>`.
fn bound_state(app: &DemoApp, browser: &str) -> String {
    let nonce = random_text(16);
    let tag = ring::hmac::sign(
        &app.inner.state_key,
        format!("{browser}.{nonce}").as_bytes(),
    );
    format!(
        "{nonce}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// Whether `state` was made for this browser by [`bound_state`] (RFC 6749
/// §10.12): without the browser's cookie, nothing is.
fn state_is_bound(app: &DemoApp, browser: Option<&str>, state: Option<&str>) -> bool {
    let (Some(browser), Some((nonce, tag))) = (browser, state.and_then(|s| s.split_once('.')))
    else {
        return false;
    };
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
        return false;
    };
    ring::hmac::verify(
        &app.inner.state_key,
        format!("{browser}.{nonce}").as_bytes(),
        &tag,
    )
    .is_ok()
}

/// The page: the embed script from the authorization server, with its
/// Subresource Integrity, and the page's own script; the browser's cookie
/// (set now if it has none) and a `state` bound to it.
fn page(app: &DemoApp, request: &Request<Bytes>) -> Response<Bytes> {
    let inner = &app.inner;
    let (browser, new_cookie) = match browser_of(request) {
        Some(browser) => (browser, false),
        None => (random_text(16), true),
    };
    let state = bound_state(app, &browser);
    let sdk = ConnectScript::classic();
    let issuer_origin = url::Url::parse(&inner.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Demo integrating app</title><link rel=\"stylesheet\" href=\"/app.css\">\
         <script src=\"{issuer}{sdk_path}\" integrity=\"{sri}\" crossorigin=\"anonymous\"></script>\
         <script src=\"/app.js\" defer></script></head>\
         <body data-publishable-key=\"{key}\" data-redirect-url=\"{origin}/callback\" \
         data-issuer=\"{issuer}\" data-client-id=\"{client_id}\" data-scopes=\"{scopes}\" \
         data-state=\"{state}\"><main>\
         <h1>Demo integrating app</h1>\
         <p>This page is the demo app at <code>{origin}</code>. It opens Connect, served by \
         <code>{issuer}</code>, with the embed script.</p>\
         <section><h2>Connect</h2><div class=\"buttons\">\
         <button type=\"button\" id=\"popup-key\">Popup · publishable key</button>\
         <button type=\"button\" id=\"modal-key\">Modal · publishable key</button>\
         <button type=\"button\" id=\"popup-token\">Popup · Connect token</button>\
         <button type=\"button\" id=\"modal-token\">Modal · Connect token</button></div>\
         <label for=\"token\">Connect token (empty: the backend makes one)</label>\
         <input id=\"token\" autocomplete=\"off\" spellcheck=\"false\">\
         <label class=\"check\"><input type=\"checkbox\" id=\"browser-key\"> Deliver the scoped key \
         to this page too (an opt-in: see the README)</label></section>\
         <section><h2>Plain OAuth</h2><button type=\"button\" id=\"web-message\">Sign in in a popup \
         (<code>response_mode=web_message</code>)</button></section>\
         <section><h2>Callbacks</h2><ol id=\"log\" aria-live=\"polite\"></ol></section>\
         </main></body></html>\n",
        issuer = escape(&inner.issuer),
        sdk_path = escape(&sdk.versioned_path),
        sri = escape(&sdk.integrity),
        key = escape(&inner.publishable_key),
        origin = escape(&inner.origin),
        client_id = escape(&inner.client_id),
        scopes = SCOPES.join(" "),
        state = escape(&state),
    );
    let mut response = reply(StatusCode::OK, "text/html; charset=utf-8", html);
    let csp = format!(
        "default-src 'none'; script-src 'self' {issuer_origin}; style-src 'self'; \
         connect-src 'self' {issuer_origin}; frame-src {issuer_origin}; img-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    // The widest COOP an opener page may have: popups it opens keep
    // their opener only if they answer `unsafe-none`, as the embedded
    // Connect pages do.
    headers.insert(
        http::header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin-allow-popups"),
    );
    if new_cookie {
        let secure = if inner.origin.starts_with("https:") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!("{BROWSER_COOKIE}={browser}; Path=/; HttpOnly; SameSite=Lax{secure}");
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// The JSON body of a request, or `{}`.
fn body_json(request: &Request<Bytes>) -> Value {
    serde_json::from_slice(request.body()).unwrap_or_else(|_| json!({}))
}

/// `bytes` random bytes in unpadded base64url (empty if the system has no
/// randomness, which then binds nothing).
fn random_text(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    let filled = oauth_connect::hooks::RandomSource::fill(
        &oauth_connect::hooks::SystemRandom::new(),
        &mut raw,
    );
    if filled.is_err() {
        return String::new();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// `POST /api/connect-token` (demo only: it signs no one in): a Connect
/// session made with the client secret, for the next demo user, with a
/// `state` bound to the browser's cookie.
async fn connect_token(app: &DemoApp, request: &Request<Bytes>) -> Response<Bytes> {
    let inner = &app.inner;
    let Some(browser) = browser_of(request) else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "no demo_app_browser cookie: load the demo page first"}),
        );
    };
    let asked = body_json(request);
    let user = inner.users.fetch_add(1, Ordering::Relaxed);
    let state = bound_state(app, &browser);
    let mut session = json!({
        "redirectUrl": format!("{}/callback", inner.origin),
        "referenceId": format!("demo-app-user-{user}"),
        "scopes": SCOPES,
        "state": state,
        "customerInfo": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                "postalCode": "62701", "country": "US"}},
        "scopedKey": true,
    });
    if asked["scopedKeyInBrowser"] == json!(true) {
        session["scopedKeyDelivery"] = json!("redirect");
    }
    let sent = inner
        .http
        .post(format!("{}/v1/connect/sessions", inner.back_channel))
        .basic_auth(&inner.client_id, Some(inner.client_secret.as_str()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(session.to_string())
        .send()
        .await;
    let Ok(answer) = sent else {
        return json_reply(
            StatusCode::BAD_GATEWAY,
            &json!({"error": "the authorization server did not answer"}),
        );
    };
    let status = answer.status().as_u16();
    let body: Value = answer.json_value().await;
    if status != 201 {
        return json_reply(
            StatusCode::BAD_GATEWAY,
            &json!({"error": "the session was refused", "status": status, "answer": body}),
        );
    }
    json_reply(
        StatusCode::OK,
        &json!({"connectToken": body["connectToken"], "state": state, "expiresAt": body["expiresAt"]}),
    )
}

/// What the backend learnt from a code: the token response's metadata
/// and who `GET /v1/me` says the token is for. No token leaves the
/// backend.
async fn exchange(app: &DemoApp, code: &str, verifier: Option<&str>) -> (StatusCode, Value) {
    let inner = &app.inner;
    let redirect_uri = format!("{}/callback", inner.origin);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri.as_str()),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let sent = inner
        .http
        .post(format!("{}/oauth/token", inner.back_channel))
        .basic_auth(&inner.client_id, Some(inner.client_secret.as_str()))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    let Ok(answer) = sent else {
        return (
            StatusCode::BAD_GATEWAY,
            json!({"ok": false, "error": "the token endpoint did not answer"}),
        );
    };
    let status = answer.status().as_u16();
    let tokens = answer.json_value().await;
    if status != 200 {
        return (
            StatusCode::OK,
            json!({"ok": false, "status": status, "error": tokens["error"]}),
        );
    }
    let access = Zeroizing::new(
        tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let me = match inner
        .http
        .get(format!("{}/v1/me", inner.back_channel))
        .bearer_auth(access.as_str())
        .send()
        .await
    {
        Ok(answer) => answer.json_value().await,
        Err(_) => Value::Null,
    };
    (
        StatusCode::OK,
        json!({
            "ok": true,
            "status": status,
            "tokenType": tokens["token_type"],
            "scope": tokens["scope"],
            "expiresIn": tokens["expires_in"],
            "refreshToken": tokens.get("refresh_token").is_some(),
            "scopedKey": tokens.get("scoped_key").is_some(),
            "subject": me["subject"],
        }),
    )
}

/// `POST /api/exchange` with `{code, state, codeVerifier?}` (demo only:
/// it tells the page what the tokens can read): nothing is exchanged
/// unless `state` is bound to this browser's cookie.
async fn exchange_api(app: &DemoApp, request: &Request<Bytes>) -> Response<Bytes> {
    let asked = body_json(request);
    let Some(code) = asked["code"].as_str() else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "code is required"}),
        );
    };
    if !state_is_bound(app, browser_of(request).as_deref(), asked["state"].as_str()) {
        return json_reply(
            StatusCode::BAD_REQUEST,
            &json!({"ok": false, "error": "the state is not this browser's: nothing was exchanged"}),
        );
    }
    let (status, result) = exchange(app, code, asked["codeVerifier"].as_str()).await;
    json_reply(status, &result)
}

/// `GET /callback`: the ordinary redirect, when no page was there to take
/// the message. The `state` must be bound to this browser's cookie (RFC
/// 6749 §10.12), for an error as for a code: otherwise the answer is not
/// for this browser (a forged link, another browser's code) and nothing is
/// exchanged.
async fn callback(app: &DemoApp, request: &Request<Bytes>) -> Response<Bytes> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut body = String::from("<h1>Back at the demo app (by redirect)</h1>");
    let mut status = StatusCode::OK;
    let bound = state_is_bound(app, browser_of(request).as_deref(), get("state"));
    match (get("code"), get("error")) {
        (Some(_), _) | (None, Some(_)) if !bound => {
            status = StatusCode::BAD_REQUEST;
            body.push_str(
                "<p id=\"result\">The <code>state</code> is not the one this browser was \
                 given: this answer is not for this browser, and nothing was exchanged.</p>",
            );
        }
        (Some(code), _) => {
            let (_, result) = exchange(app, code, None).await;
            let _ = write!(
                body,
                "<p>The backend exchanged the code:</p><pre id=\"result\">{}</pre>",
                html_escape::encode_text(&result.to_string())
            );
        }
        (None, Some(error)) => {
            let _ = write!(
                body,
                "<p id=\"result\">Not connected: <code>{}</code></p>",
                html_escape::encode_text(error)
            );
        }
        (None, None) => body.push_str("<p id=\"result\">Nothing came back.</p>"),
    }
    let _ = write!(body, "<p><a href=\"/\">Back to the demo page</a></p>");
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Demo integrating app</title><link rel=\"stylesheet\" href=\"/app.css\"></head>\
         <body><main>{body}</main></body></html>\n"
    );
    let mut response = reply(status, "text/html; charset=utf-8", html);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `reqwest` without its `json` feature: the body as JSON, or `null`.
trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        match self.bytes().await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }
}
