//! Property checks shared by the fuzz targets (`fuzz/`) and the corpus
//! replay test (`tests/fuzz_corpus.rs`). Not part of the public API: enabled
//! by the `fuzzing` feature, hidden from the docs, and free to change.
//!
//! Each check takes the raw fuzz input, drives the parser of untrusted input
//! it names (through [`AuthorizationServer::handle`] where there is an HTTP
//! surface) and panics when a property is broken: that panic is the finding.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::{
    AppType, AuthorizationServer, CredentialKind, CredentialPrefixes, DemoSignIn, MemoryStore,
    NewOAuthApp, RedirectUri, RedirectUriKind, WorkspaceId, credential::Credential, kind,
};

/// The redirect URIs every app of the harness registers.
pub const REGISTERED: [&str; 3] = [
    "https://app.example.com/callback",
    "http://127.0.0.1/native",
    "com.example.app:/cb",
];

/// The RFC 6749 §4.1.2.1 codes a pushed authorization request may also
/// answer with (RFC 9126 §2.3).
const PAR_ERRORS: [&str; 2] = ["access_denied", "unsupported_response_type"];

/// The RFC 6749 §5.2 error codes, plus RFC 7009's `unsupported_token_type`.
const CLIENT_ERRORS: [&str; 7] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "unsupported_token_type",
];

/// A server on the memory store with one confidential and one public app,
/// an admin key and a pending consent prompt, driven synchronously.
#[derive(Debug)]
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    server: AuthorizationServer<MemoryStore>,
    confidential_id: String,
    secret: String,
    public_id: String,
    app_id: String,
    admin_key: String,
    session: String,
    csrf_token: String,
}

impl Harness {
    /// Builds the server and its records.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let server = AuthorizationServer::builder(MemoryStore::new())
            .issuer("https://auth.example.com")
            .resource_owner(Arc::new(DemoSignIn))
            .build()
            .expect("a server");
        let ws = WorkspaceId::parse("ws_fuzz").expect("an id");
        let app = |app_type| NewOAuthApp {
            name: "Fuzz".into(),
            description: None,
            redirect_uris: REGISTERED.iter().map(|u| (*u).to_owned()).collect(),
            allowed_scopes: vec!["read".into(), "write".into()],
            allowed_origins: vec![],
            app_type,
        };
        let (confidential, public, admin_key) = runtime.block_on(async {
            (
                server.create_app(&ws, &app(AppType::Confidential)).await,
                server.create_app(&ws, &app(AppType::Public)).await,
                server.create_admin_key(&ws).await,
            )
        });
        let (confidential, public) = (confidential.expect("app"), public.expect("app"));
        let mut harness = Self {
            confidential_id: confidential.app.client_id.as_str().to_owned(),
            secret: confidential
                .client_secret
                .expect("a secret")
                .expose_secret()
                .to_owned(),
            public_id: public.app.client_id.as_str().to_owned(),
            app_id: confidential.app.id.as_str().to_owned(),
            admin_key: admin_key.expect("a key").expose_secret().to_owned(),
            session: String::new(),
            csrf_token: String::new(),
            runtime,
            server,
        };
        harness.new_prompt();
        harness
    }

    /// Opens a fresh consent prompt for the public client, so the consent
    /// check has a live session to aim at.
    fn new_prompt(&mut self) {
        let pairs: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", self.public_id.as_str()),
            ("redirect_uri", REGISTERED[0]),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
        let prompt = self
            .runtime
            .block_on(self.server.begin_authorization(&pairs))
            .expect("a prompt");
        self.session = prompt.session.expose_secret().to_owned();
        self.csrf_token = prompt.csrf_token;
    }

    /// `data` with the placeholders `$PUBLIC` and `$CLIENT` (the public and
    /// confidential client ids), `$BASIC` (the confidential client's
    /// base64 `id:secret`), `$SESSION` and `$CSRF` (the pending prompt's)
    /// replaced, so seeds can reach past the client lookup.
    pub fn expand(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        let basic = STANDARD.encode(format!("{}:{}", self.confidential_id, self.secret));
        for (name, value) in [
            (&b"$BASIC"[..], &basic),
            (b"$PUBLIC", &self.public_id),
            (b"$CLIENT", &self.confidential_id),
            (b"$SESSION", &self.session),
            (b"$CSRF", &self.csrf_token),
        ] {
            out = replace(&out, name, value.as_bytes());
        }
        out
    }

    fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let response = self.runtime.block_on(self.server.handle(request));
        assert!(
            !response.status().is_server_error(),
            "5xx: {} {}",
            response.status(),
            String::from_utf8_lossy(response.body())
        );
        response
    }

    /// `GET /oauth/authorize?<data>`: never a 5xx, and a redirect only to a
    /// registered redirect URI.
    pub fn authorize_query(&self, data: &[u8]) {
        let data = self.expand(data);
        let Ok(query) = std::str::from_utf8(&data) else {
            return;
        };
        let Ok(request) = Request::get(format!("/oauth/authorize?{query}")).body(Bytes::new())
        else {
            return; // not a URI any HTTP server would hand over
        };
        let response = self.handle(request);
        assert_redirect_registered(&response);
    }

    /// A form body posted to the token (first byte 0), revocation (1),
    /// introspection (2) or PAR (3) endpoint, with the confidential
    /// client's Basic credentials when the first byte's bit 2 is set:
    /// never a 5xx, and every error body is RFC 6749 §5.2 JSON.
    pub fn client_form(&self, data: &[u8]) {
        let data = self.expand(data);
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let path = match selector & 3 {
            0 => "/oauth/token",
            1 => "/oauth/revoke",
            2 => "/oauth/introspect",
            _ => "/oauth/par",
        };
        let basic = (selector & 4 != 0).then(|| self.basic());
        let response = self.handle(form_request(path, body.to_vec(), basic.as_deref()));
        assert_client_error_body(&response, path == "/oauth/par");
    }

    /// `Authorization: <data>` on a client-credentials token request: never
    /// a 5xx, §5.2 error bodies, and tokens only for the real credentials.
    pub fn basic_header(&self, data: &[u8]) {
        let data = self.expand(data);
        let data = data.as_slice();
        let Ok(value) = http::HeaderValue::from_bytes(data) else {
            return;
        };
        let mut request = form_request(
            "/oauth/token",
            b"grant_type=client_credentials".to_vec(),
            None,
        );
        request.headers_mut().insert("authorization", value);
        let response = self.handle(request);
        assert_client_error_body(&response, false);
        if response.status() == StatusCode::OK {
            let text = std::str::from_utf8(data).expect("visible ASCII");
            let (scheme, encoded) = text.trim().split_once(' ').expect("a scheme");
            assert!(scheme.eq_ignore_ascii_case("basic"));
            let lenient = base64::engine::GeneralPurpose::new(
                &base64::alphabet::STANDARD,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
            );
            let decoded = lenient.decode(encoded.trim()).expect("base64");
            let decoded = String::from_utf8(decoded).expect("UTF-8");
            let (id, secret) = decoded.split_once(':').expect("id:secret");
            let unescape = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            assert_eq!(unescape(id), self.confidential_id);
            assert_eq!(unescape(secret), self.secret);
        }
    }

    /// A management JSON body, sent with the admin key to create (first
    /// byte 0), update (1) or rotate the secret of (2) an app: never a 5xx,
    /// and a 400 names a field or says `invalid_request`.
    pub fn management_json(&self, data: &[u8]) {
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let (method, path) = match selector % 3 {
            0 => (http::Method::POST, "/v1/oauth-apps".to_owned()),
            1 => (
                http::Method::PATCH,
                format!("/v1/oauth-apps/{}", self.app_id),
            ),
            _ => (
                http::Method::POST,
                format!("/v1/oauth-apps/{}/rotate-secret", self.app_id),
            ),
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.admin_key))
            .header("content-type", "application/json")
            .body(Bytes::copy_from_slice(body))
            .expect("a request");
        let response = self.handle(request);
        if response.status() == StatusCode::BAD_REQUEST {
            let json: Value = serde_json::from_slice(response.body()).expect("a JSON error body");
            let named_field = json["field"].as_str().is_some_and(|f| !f.is_empty());
            assert!(
                named_field || json["error"] == "invalid_request",
                "a 400 without a field or invalid_request: {json}"
            );
        }
    }

    /// The consent form's post, `data` as its body, with the CSRF cookie of
    /// the harness's pending prompt: never a 5xx; a redirect only to a
    /// registered URI and only when the body carried that prompt's CSRF
    /// token.
    pub fn consent_post(&mut self, data: &[u8]) {
        let data = self.expand(data);
        let cookie = format!(
            "oc_consent_{}={}",
            self.csrf_token
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect::<String>(),
            self.csrf_token
        );
        let mut request = form_request("/oauth/authorize", data.clone(), None);
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("a cookie"));
        let response = self.handle(request);
        assert_redirect_registered(&response);
        if response.status().is_redirection() {
            let form: Vec<(String, String)> = form_urlencoded::parse(&data).into_owned().collect();
            assert!(
                form.iter()
                    .any(|(n, v)| n == "csrf_token" && *v == self.csrf_token),
                "a decision without the CSRF token was accepted"
            );
            self.new_prompt();
        }
    }

    fn basic(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.confidential_id, self.secret))
        )
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fn form_request(path: &str, body: Vec<u8>, authorization: Option<&str>) -> Request<Bytes> {
    let mut request =
        Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    request.body(Bytes::from(body)).expect("a request")
}

fn assert_redirect_registered(response: &Response<Bytes>) {
    let Some(location) = response.headers().get("location") else {
        return;
    };
    let location = location.to_str().expect("an ASCII Location");
    // The registered URIs carry no query, so the redirect URI is what
    // precedes the response parameters; a loopback IP literal may add a port
    // (RFC 8252 §7.3), so the library's own matching decides.
    let target = location.split_once('?').map_or(location, |(uri, _)| uri);
    assert!(
        REGISTERED
            .iter()
            .filter_map(|uri| RedirectUri::parse(uri).ok())
            .any(|uri| uri.matches(target)),
        "redirect to an unregistered URI: {location}"
    );
}

/// An error from a client endpoint is `{"error": <§5.2 code>,
/// "error_description"?: <NQSCHAR*>}` and nothing else (PAR may also use
/// the authorization endpoint's codes).
fn assert_client_error_body(response: &Response<Bytes>, par: bool) {
    if !response.status().is_client_error() {
        return;
    }
    let json: Value = serde_json::from_slice(response.body()).unwrap_or_else(|e| {
        panic!(
            "{} with a non-JSON body ({e}): {}",
            response.status(),
            String::from_utf8_lossy(response.body())
        )
    });
    let object = json.as_object().expect("a JSON object");
    let code = object["error"].as_str().expect("an error code");
    let allowed = CLIENT_ERRORS.contains(&code)
        || (par && PAR_ERRORS.contains(&code))
        || (response.status() == StatusCode::METHOD_NOT_ALLOWED && code == "method_not_allowed");
    assert!(allowed, "not an RFC 6749 §5.2 error: {json}");
    for (name, value) in object {
        match name.as_str() {
            "error" => {}
            "error_description" => {
                let text = value.as_str().expect("a string description");
                assert!(
                    text.bytes()
                        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
                    "error_description outside NQSCHAR: {text:?}"
                );
            }
            other => panic!("unexpected member {other} in {json}"),
        }
    }
}

/// Credential parsing, every kind: whatever parses re-encodes to the same
/// text, starts with its kind's prefix, and parses as no other kind.
pub fn credential(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let prefixes = CredentialPrefixes::default();
    let parsed = [
        parses::<kind::ClientSecret>(&prefixes, text),
        parses::<kind::AuthorizationCode>(&prefixes, text),
        parses::<kind::AccessToken>(&prefixes, text),
        parses::<kind::RefreshToken>(&prefixes, text),
        parses::<kind::ConnectToken>(&prefixes, text),
        parses::<kind::AdminKey>(&prefixes, text),
        parses::<kind::PublishableKey>(&prefixes, text),
    ];
    assert!(
        parsed.iter().filter(|p| **p).count() <= 1,
        "one text parsed as two kinds"
    );
}

fn parses<K: CredentialKind>(prefixes: &CredentialPrefixes, text: &str) -> bool {
    let Ok(credential) = Credential::<K>::parse(prefixes, text) else {
        return false;
    };
    assert_eq!(
        credential.expose_secret(),
        text,
        "re-encodes to the same text"
    );
    assert!(text.starts_with(K::prefix(prefixes)));
    let again = Credential::<K>::parse(prefixes, credential.expose_secret()).expect("re-parses");
    assert_eq!(again.key_id(), credential.key_id());
    true
}

/// Redirect URIs: `registered\nrequested`. Whatever registers is https,
/// loopback http or a dotted private-use scheme, with no fragment or
/// wildcard; a requested URI that matches is the registered one, or differs
/// only in the port of a loopback IP literal (RFC 8252 §7.3).
pub fn redirect_uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let Ok(uri) = RedirectUri::parse(registered) else {
        return;
    };
    assert_eq!(uri.as_str(), registered, "stored exactly as given");
    assert!(!registered.contains('#') && !registered.contains('*'));
    match uri.kind() {
        RedirectUriKind::Https => {
            assert!(registered.to_ascii_lowercase().starts_with("https://"));
        }
        RedirectUriKind::Loopback => {
            assert!(registered.to_ascii_lowercase().starts_with("http://"));
        }
        RedirectUriKind::PrivateUse => {
            let scheme = registered.split(':').next().unwrap_or_default();
            assert!(scheme.contains('.'));
        }
    }
    assert!(uri.matches(registered), "a registered URI matches itself");
    if uri.matches(requested) && requested != registered {
        assert!(
            uri.is_loopback_ip(),
            "only loopback IP literals match another string"
        );
        assert!(!requested.contains('#'));
    }
}

/// The `scope` parameter (RFC 6749 §3.3): whatever parses has no
/// duplicate, holds only tokens of the input, and its canonical form parses
/// back to the same set.
pub fn scope_param(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = crate::ScopeSet::parse(text) else {
        return;
    };
    let again = crate::ScopeSet::parse(&set.to_param()).expect("canonical form parses");
    assert_eq!(again, set);
    let mut seen = std::collections::HashSet::new();
    assert!(
        set.iter().all(|s| seen.insert(s.as_str().to_owned())),
        "no duplicates"
    );
    assert!(set.iter().all(|s| text.split(' ').any(|t| t == s.as_str())));
}
