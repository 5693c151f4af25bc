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

use crate::connect::ConnectDecision;
use crate::connect::steps::{LinkFormValues, Step, StepAction};
use crate::credentials::{CredentialKind, CredentialPrefixes, kind};
use crate::hooks::link::{LinkContext, LinkError, LinkField, Provider, Terms};
use crate::hooks::resource_owner::DemoSignIn;
use crate::model::origin::{Origin, OriginError};
use crate::model::redirect::{RedirectUri, RedirectUriKind};
use crate::storage::LinkedAccount;
use crate::{
    AppType, AuthorizationServer, BearerKind, BearerRejection, LinkHook, MemoryStore,
    NewConnectSession, NewOAuthApp, NewScopedKey, WorkspaceId, credentials::Credential,
};

/// The origin the harness's confidential app allows (`allowedOrigins`).
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// The issuer of the harness's server.
const ISSUER: &str = "https://auth.example.com";

/// Where the harness's redirect provider sends the user to sign in.
const PROVIDER_AUTHORIZE: &str = "https://volt.example/authorize";

/// A form value holding this marker must never come back verbatim in a
/// page: the hosted pages escape what they echo.
pub const MARKUP_MARKER: &str = "<oc-fuzz";

/// The harness is rebuilt after this many inputs, so that the records the
/// inputs create (grants, sessions, customers) do not grow without bound
/// over a long campaign.
const RENEW_EVERY: u32 = 20_000;

thread_local! {
    static HARNESS: std::cell::RefCell<Option<(u32, Harness)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `check` on this thread's harness, built on first use and rebuilt
/// every 20,000 inputs (`RENEW_EVERY`).
pub fn with_harness<R>(check: impl FnOnce(&mut Harness) -> R) -> R {
    HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(uses, _)| *uses >= RENEW_EVERY) {
            *slot = Some((0, Harness::new()));
        }
        let (uses, harness) = slot.as_mut().expect("just built");
        *uses += 1;
        check(harness)
    })
}

/// The harness's link hook: the form provider `acme` links `ada` / `pw`;
/// the redirect provider `volt` links when its callback carries `code=ok`.
#[derive(Debug)]
struct FuzzLink;

#[async_trait::async_trait]
impl LinkHook for FuzzLink {
    async fn authorization_url(
        &self,
        _context: &LinkContext,
        state: &str,
    ) -> Result<String, LinkError> {
        Ok(format!("{PROVIDER_AUTHORIZE}?state={state}"))
    }

    async fn complete_redirect(
        &self,
        context: &LinkContext,
        query: &[(String, String)],
    ) -> Result<LinkedAccount, LinkError> {
        if query.iter().any(|(n, v)| n == "code" && v == "ok") {
            Ok(LinkedAccount::new(&context.provider, "volt-1", "Volt"))
        } else {
            Err(LinkError::Denied)
        }
    }

    async fn complete_form(
        &self,
        context: &LinkContext,
        values: &[(String, String)],
    ) -> Result<LinkedAccount, LinkError> {
        let value = |name: &str| {
            values
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if value("username") == Some("ada") && value("password") == Some("pw") {
            Ok(LinkedAccount::new(
                &context.provider,
                "acme-ada",
                "Acme, ada",
            ))
        } else {
            Err(LinkError::Refused("wrong username or password".into()))
        }
    }
}

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
/// an admin key, a publishable key, a pending consent prompt, a Connect
/// session open in one browser (terms, two providers), an access token and
/// a scoped key, driven synchronously.
#[derive(Debug)]
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    server: AuthorizationServer<MemoryStore>,
    confidential_id: String,
    secret: String,
    public_id: String,
    app_id: String,
    admin_key: String,
    publishable_key: String,
    session: String,
    csrf_token: String,
    connect_token: String,
    connect_csrf: String,
    browser_cookie: String,
    connect_sessions: u64,
    access_token: String,
    scoped_key: String,
}

impl Harness {
    /// Builds the server and its records.
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let hook: Arc<dyn LinkHook> = Arc::new(FuzzLink);
        let fields = vec![
            LinkField::new("username", "Username", "text", true),
            LinkField::new("password", "Password", "password", true),
        ];
        let server = AuthorizationServer::builder(MemoryStore::new())
            .issuer(ISSUER)
            .resource_owner(Arc::new(DemoSignIn))
            .terms(Terms::new("Fuzz terms", None))
            .provider(Provider::form("acme", "Acme", fields, hook.clone()).categories(["battery"]))
            .provider(Provider::redirect("volt", "Volt", hook).categories(["thermostat"]))
            .publishable_key_rate_limit(100_000, time::Duration::SECOND)
            .build()
            .expect("a server");
        let ws = WorkspaceId::parse("ws_fuzz").expect("an id");
        let app = |app_type| NewOAuthApp {
            name: "Fuzz".into(),
            description: None,
            redirect_uris: REGISTERED.iter().map(|u| (*u).to_owned()).collect(),
            allowed_scopes: vec!["read".into(), "write".into()],
            allowed_origins: match app_type {
                AppType::Confidential => vec![ALLOWED_ORIGIN.to_owned()],
                _ => vec![],
            },
            app_type,
            logo_uri: None,
        };
        let (confidential, public, admin_key) = runtime.block_on(async {
            (
                server.create_app(&ws, &app(AppType::Confidential)).await,
                server.create_app(&ws, &app(AppType::Public)).await,
                server.create_admin_key(&ws).await,
            )
        });
        let (confidential, public) = (confidential.expect("app"), public.expect("app"));
        let publishable_key = runtime
            .block_on(server.create_publishable_key(&ws, &confidential.app.id))
            .expect("a publishable key");
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
            publishable_key: publishable_key.key.expose_secret().to_owned(),
            session: String::new(),
            csrf_token: String::new(),
            connect_token: String::new(),
            connect_csrf: String::new(),
            browser_cookie: String::new(),
            connect_sessions: 0,
            access_token: String::new(),
            scoped_key: String::new(),
            runtime,
            server,
        };
        harness.new_prompt();
        harness.new_connect_session();
        harness.complete_connect_session();
        harness.new_connect_session();
        harness
    }

    /// Creates a Connect session (scopes `read`, a scoped key asked for, no
    /// customer details given) and opens it in the harness's browser, so
    /// the step posts have a live session to aim at.
    fn new_connect_session(&mut self) {
        self.connect_sessions += 1;
        let request: NewConnectSession = serde_json::from_value(serde_json::json!({
            "redirectUrl": REGISTERED[0],
            "referenceId": format!("fuzz-{}", self.connect_sessions),
            "scopes": ["read"],
            "scopedKey": true,
        }))
        .expect("a session request");
        let runtime = &self.runtime;
        let server = &self.server;
        let client = runtime
            .block_on(server.authenticate_client(&self.confidential_id, Some(self.secret.as_str())))
            .expect("the confidential client");
        let created = runtime
            .block_on(server.create_connect_session(&client.app, &request, false))
            .expect("a Connect session");
        let browser = server.new_browser_secret().expect("a browser");
        let token = created.connect_token.expose_secret();
        let page = runtime
            .block_on(server.connect_open(token, &browser, None))
            .expect("the Connect page");
        let cookie = server.browser_cookie(&browser);
        self.browser_cookie = cookie.split(';').next().expect("name=value").to_owned();
        self.connect_token = token.to_owned();
        self.connect_csrf = page.csrf_token.expose_secret().to_owned();
    }

    /// Walks the open Connect session to its end (terms, the form
    /// provider, approval), exchanges its code and mints a scoped key: the
    /// real bearer credentials the bearer check aims at.
    fn complete_connect_session(&mut self) {
        let runtime = &self.runtime;
        let server = &self.server;
        let browser = server
            .browser_from_cookie(self.browser_cookie.split_once('=').expect("name=value").1)
            .expect("the browser secret");
        let (token, csrf) = (self.connect_token.as_str(), self.connect_csrf.as_str());
        let steps = [
            (Step::Terms, StepAction::AcceptTerms),
            (Step::Provider, StepAction::ChooseProvider("acme".into())),
            (
                Step::Link,
                StepAction::SubmitLink(LinkFormValues::new([
                    ("username", "ada"),
                    ("password", "pw"),
                ])),
            ),
            (
                Step::Customer,
                StepAction::SubmitCustomer(Box::new(
                    serde_json::from_value(serde_json::json!({
                        "firstName": "Ada", "lastName": "Lovelace",
                        "email": "ada@example.com"
                    }))
                    .expect("customer details"),
                )),
            ),
        ];
        for (step, action) in steps {
            runtime
                .block_on(server.connect_step(token, csrf, &browser, step, action))
                .unwrap_or_else(|e| panic!("step {step:?}: {e:?}"));
        }
        let done = runtime
            .block_on(server.connect_complete(token, csrf, &browser, ConnectDecision::Approve))
            .expect("approved");
        let code = done
            .params
            .iter()
            .find(|(n, _)| n == "code")
            .map(|(_, v)| v.clone())
            .expect("a code");
        let exchange = form_request(
            "/oauth/token",
            format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}",
                REGISTERED[0]
            )
            .into_bytes(),
            Some(&self.basic()),
        );
        let tokens: Value =
            serde_json::from_slice(self.handle(exchange).body()).expect("a token response");
        self.access_token = tokens["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned();
        let client = runtime
            .block_on(server.authenticate_client(&self.confidential_id, Some(self.secret.as_str())))
            .expect("the confidential client");
        let mint: NewScopedKey = serde_json::from_value(serde_json::json!({
            "referenceId": format!("fuzz-{}", self.connect_sessions),
        }))
        .expect("a mint request");
        self.scoped_key = runtime
            .block_on(server.mint_scoped_key(&client, &mint))
            .expect("a scoped key")
            .key
            .expose_secret()
            .to_owned();
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
        self.csrf_token = prompt.csrf_token.expose_secret().to_owned();
    }

    /// `data` with the placeholders `$PUBLIC` and `$CLIENT` (the public and
    /// confidential client ids), `$BASIC` (the confidential client's
    /// base64 `id:secret`), `$SESSION` and `$CSRF` (the pending prompt's),
    /// `$APP` (the confidential app's id), `$CTOKEN` and `$CCSRF` (the open
    /// Connect session's token and CSRF token), `$ACCESS` and `$SCOPED` (a
    /// live access token and scoped key) replaced, so seeds can reach past
    /// the credential checks.
    pub fn expand(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        let basic = STANDARD.encode(format!("{}:{}", self.confidential_id, self.secret));
        for (name, value) in [
            (&b"$BASIC"[..], &basic),
            (b"$PUBLIC", &self.public_id),
            (b"$CLIENT", &self.confidential_id),
            (b"$SESSION", &self.session),
            (b"$CSRF", &self.csrf_token),
            (b"$APP", &self.app_id),
            (b"$CTOKEN", &self.connect_token),
            (b"$CCSRF", &self.connect_csrf),
            (b"$ACCESS", &self.access_token),
            (b"$SCOPED", &self.scoped_key),
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
        assert_field_error(&response);
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

    /// A `POST /v1/connect/sessions` body, from the confidential client
    /// (first byte 0, Basic), the admin key (1; `$APP` names the app) or
    /// the publishable key from the allowed origin (2): never a 5xx; a 400
    /// names a field or says `invalid_request`; a 201 carries a Connect
    /// token, the hosted page's URL, a `mode`, and the request's
    /// `referenceId` (or a generated one; with the publishable key always a
    /// generated one, no `customerId` and `create` mode), and only for a
    /// `redirectUrl` the app registered, exactly.
    pub fn connect_json(&self, data: &[u8]) {
        let data = self.expand(data);
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let mut request =
            Request::post("/v1/connect/sessions").header("content-type", "application/json");
        request = match selector % 3 {
            0 => request.header("authorization", self.basic()),
            1 => request.header("authorization", format!("Bearer {}", self.admin_key)),
            _ => request
                .header("authorization", format!("Bearer {}", self.publishable_key))
                .header("origin", ALLOWED_ORIGIN),
        };
        let response = self.handle(
            request
                .body(Bytes::copy_from_slice(body))
                .expect("a request"),
        );
        assert_field_error(&response);
        if response.status() != StatusCode::CREATED {
            return;
        }
        let sent: Value = serde_json::from_slice(body).expect("a 201 for a JSON body");
        let created: Value = serde_json::from_slice(response.body()).expect("a JSON answer");
        let redirect = sent["redirectUrl"].as_str().expect("a redirectUrl");
        assert!(
            REGISTERED.contains(&redirect),
            "a session for an unregistered redirect URL: {redirect}"
        );
        let token = created["connectToken"].as_str().expect("a Connect token");
        Credential::<kind::ConnectToken>::parse(&CredentialPrefixes::default(), token)
            .expect("a well-formed Connect token");
        let url = created["url"].as_str().expect("a url");
        assert!(
            url.starts_with(&format!("{ISSUER}/connect?token=")),
            "{url}"
        );
        assert!(matches!(
            created["mode"].as_str(),
            Some("create" | "update")
        ));
        let reference = created["referenceId"].as_str().expect("a referenceId");
        assert!(!reference.is_empty() && reference.chars().count() <= 255);
        if selector % 3 == 2 {
            // A web page's `referenceId` is a label: the session's own is
            // generated, names no customer, and the mode is `create`.
            assert!(reference.starts_with("oc-generated:"), "{reference}");
            assert!(created.get("customerId").is_none(), "{created}");
            assert_eq!(created["mode"], "create");
        } else if let Some(given) = sent["referenceId"].as_str() {
            assert_eq!(reference, given, "the referenceId given is kept");
        }
        assert!(created["expiresAt"].is_string());
    }

    /// A post of the hosted Connect page's forms (`POST /connect`), `data`
    /// after its first byte as the body, with the open session's browser
    /// cookie when the first byte's bit 0 is set and the issuer's `Origin`
    /// when its bit 1 is: never a 5xx; a redirect only back to the hosted
    /// page, to the provider's sign-in page or to a registered redirect
    /// URI, the latter only for the session's browser and CSRF token, and
    /// with a `code` only for an approval posted at the consent step; a
    /// form value carrying [`MARKUP_MARKER`] never comes back unescaped.
    pub fn connect_form(&mut self, data: &[u8]) {
        let data = self.expand(data);
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let with_cookie = selector & 1 != 0;
        let mut request = form_request("/connect", body.to_vec(), None);
        let headers = request.headers_mut();
        if with_cookie {
            headers.insert("cookie", self.browser_cookie.parse().expect("a cookie"));
        }
        if selector & 2 != 0 {
            headers.insert("origin", http::HeaderValue::from_static(ISSUER));
        }
        let response = self.handle(request);
        let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        for (_, value) in &form {
            if value.contains(MARKUP_MARKER) {
                let page = String::from_utf8_lossy(response.body());
                assert!(
                    !page.contains(value.as_str()),
                    "echoed unescaped: {value:?}"
                );
            }
        }
        let Some(location) = response.headers().get("location") else {
            return;
        };
        let location = location.to_str().expect("an ASCII Location");
        let has = |name: &str, value: &str| form.iter().any(|(n, v)| n == name && v == value);
        if location.starts_with("/connect?") || location.starts_with(&format!("{ISSUER}/connect?"))
        {
            return;
        }
        if location.starts_with(&format!("{PROVIDER_AUTHORIZE}?")) {
            assert!(has("action", "start"), "a provider redirect without start");
            return;
        }
        assert_redirect_registered(&response);
        assert!(
            with_cookie && has("csrf_token", &self.connect_csrf),
            "left the flow without the session's browser and CSRF token: {location}"
        );
        let to_client = url::Url::parse(location).expect("an absolute redirect");
        if to_client.query_pairs().any(|(n, _)| n == "code") {
            assert!(
                has("decision", "approve") && has("step", "consent"),
                "a code without an approval at the consent step"
            );
        }
        self.new_connect_session();
    }

    /// `Authorization: <data>` at a protected resource
    /// ([`AuthorizationServer::authenticate_request`]): a principal only
    /// for the harness's live access token or scoped key, of that kind; a
    /// refusal is one of the variants that carry no data (so never the
    /// credential) and answers with an RFC 6750 challenge.
    pub fn bearer_header(&self, data: &[u8]) {
        let data = self.expand(data);
        let Ok(value) = http::HeaderValue::from_bytes(&data) else {
            return;
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", value);
        let presented = String::from_utf8_lossy(&data);
        match self
            .runtime
            .block_on(self.server.authenticate_request(&headers))
        {
            Ok(principal) => {
                // A field value's surrounding whitespace is not part of it
                // (RFC 9110 §5.5).
                let (scheme, credential) = presented
                    .trim_matches([' ', '\t'])
                    .split_once(' ')
                    .expect("a scheme and a credential");
                assert!(scheme.eq_ignore_ascii_case("bearer"));
                let credential = credential.trim_matches(' ');
                let expected = match principal.kind {
                    BearerKind::AccessToken => &self.access_token,
                    BearerKind::ScopedKey => &self.scoped_key,
                };
                assert_eq!(credential, expected, "a principal for another credential");
            }
            Err(rejection) => {
                // The refusals a presented credential can cause carry no
                // data: nothing of the credential can reach the answer.
                assert!(
                    matches!(
                        rejection,
                        BearerRejection::Missing
                            | BearerRejection::InvalidRequest
                            | BearerRejection::InvalidToken
                    ),
                    "{rejection:?}"
                );
                let answer = rejection.to_response();
                let challenge = answer
                    .headers()
                    .get("www-authenticate")
                    .expect("an RFC 6750 challenge")
                    .to_str()
                    .expect("ASCII");
                assert!(challenge.starts_with("Bearer realm=\"oauth-connect\""));
            }
        }
    }

    /// `Origin: <data>` on a CORS preflight of session creation, then on
    /// the session request itself with the harness's publishable key. The
    /// preflight reads nothing: every origin that is a header's visible
    /// ASCII gets the same 204, naming exactly that origin (anything else,
    /// a 403 without CORS headers). The request creates a session only from
    /// the app's allowed origin, byte for byte; from any other it is a 403
    /// no page can read.
    pub fn origin_preflight(&self, data: &[u8]) {
        let Ok(value) = http::HeaderValue::from_bytes(data) else {
            return;
        };
        let request = Request::builder()
            .method(http::Method::OPTIONS)
            .uri("/v1/connect/sessions")
            .header("origin", value.clone())
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Bytes::new())
            .expect("a request");
        let response = self.handle(request);
        let allowed = response.headers().get("access-control-allow-origin");
        if value.to_str().is_ok() {
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
            assert_eq!(allowed.map(|v| v.as_bytes()), Some(data), "another origin");
        } else {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert!(allowed.is_none());
        }
        let request = Request::post("/v1/connect/sessions")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.publishable_key))
            .header("origin", value)
            .body(Bytes::from(format!(
                r#"{{"redirectUrl":"{}"}}"#,
                REGISTERED[0]
            )))
            .expect("a request");
        let response = self.handle(request);
        if data == ALLOWED_ORIGIN.as_bytes() {
            assert_eq!(response.status(), StatusCode::CREATED);
        } else {
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "a session from an unregistered origin"
            );
            assert!(
                response
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none()
            );
        }
    }

    /// How many Connect sessions the harness has opened for the step
    /// posts: one more each time a post ends the open one.
    pub fn connect_sessions_opened(&self) -> u64 {
        self.connect_sessions
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

/// A 400 from the JSON API names a field or says `invalid_request`.
fn assert_field_error(response: &Response<Bytes>) {
    if response.status() == StatusCode::BAD_REQUEST {
        let json: Value = serde_json::from_slice(response.body()).expect("a JSON error body");
        let named_field = json["field"].as_str().is_some_and(|f| !f.is_empty());
        assert!(
            named_field || json["error"] == "invalid_request",
            "a 400 without a field or invalid_request: {json}"
        );
    }
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
/// loopback http or a private-use scheme of two or more characters that
/// is not a script, file or browser-internal one, with no fragment or
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
            let scheme = registered
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(scheme.len() >= 2, "{scheme}");
            for never in [
                "javascript",
                "data",
                "file",
                "about",
                "blob",
                "vbscript",
                "intent",
                "urn",
            ] {
                assert_ne!(scheme, never);
            }
            assert!(!scheme.starts_with("ms-"), "{scheme}");
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
    let Ok(set) = crate::model::scope::ScopeSet::parse(text) else {
        return;
    };
    let again =
        crate::model::scope::ScopeSet::parse(&set.to_param()).expect("canonical form parses");
    assert_eq!(again, set);
    let mut seen = std::collections::HashSet::new();
    assert!(
        set.iter().all(|s| seen.insert(s.as_str().to_owned())),
        "no duplicates"
    );
    assert!(set.iter().all(|s| text.split(' ').any(|t| t == s.as_str())));
}

/// Origins as apps register them and browsers send them: whatever parses
/// is its own serialisation (`scheme://host[:port]`, lowercase, no default
/// port, no path, query, fragment or user information), https or loopback
/// http, and re-parses; a refusal for spelling suggests an origin that
/// parses.
pub fn origin(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Origin::parse(text) {
        Ok(origin) => {
            assert_eq!(origin.as_str(), text);
            let url = url::Url::parse(text).expect("a URL");
            assert_eq!(url.origin().ascii_serialization(), text);
            assert_eq!(text, text.to_ascii_lowercase());
            let rest = text.split_once("://").expect("a scheme").1;
            assert!(!rest.contains(['/', '?', '#', '@']), "{text}");
            match url.scheme() {
                "https" => {}
                "http" => assert!(
                    RedirectUri::parse(&format!("{text}/"))
                        .is_ok_and(|u| u.kind() == RedirectUriKind::Loopback),
                    "http on a host that is not loopback: {text}"
                ),
                other => panic!("scheme {other}"),
            }
        }
        Err(OriginError::NotSerialized { expected }) => {
            let suggested = Origin::parse(&expected)
                .unwrap_or_else(|e| panic!("suggested {expected:?} does not parse: {e}"));
            assert_eq!(suggested.as_str(), expected);
        }
        Err(_) => {}
    }
}
