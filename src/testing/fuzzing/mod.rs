//! Property checks shared by the fuzz targets (`fuzz/`) and the corpus
//! replay test (`tests/fuzz_corpus.rs`). Not part of the public API: enabled
//! by the `fuzzing` feature, hidden from the docs, and free to change.
//!
//! Each check takes the raw fuzz input, drives the parser of untrusted input
//! it names (through [`AuthorizationServer::handle`] where there is an HTTP
//! surface) and panics when a property is broken: that panic is the finding.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod endpoints;
mod parsers;

pub use parsers::{credential, origin, redirect_uri, scope_param};

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, Response};
use serde_json::Value;

use crate::connect::ConnectDecision;
use crate::connect::NewScopedKey;
use crate::connect::steps::{LinkFormValues, Step, StepAction};
use crate::hooks::link::{LinkContext, LinkError, LinkField, Provider, Terms};
use crate::oauth::{AuthorizationRequest, AuthorizeOutcome};
use crate::storage::LinkedAccount;
use crate::{
    AppType, AuthorizationServer, LinkHook, MemoryStore, NewConnectSession, NewOAuthApp,
    WorkspaceId,
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
            .dangerous()
            .demo_sign_in()
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
                StepAction::SubmitLink(
                    LinkFormValues::new()
                        .with("username", "ada")
                        .with("password", "pw"),
                ),
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
        let request = AuthorizationRequest {
            response_type: Some("code".into()),
            client_id: Some(self.public_id.clone()),
            redirect_uri: Some(REGISTERED[0].into()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            code_challenge_method: Some("S256".into()),
            ..AuthorizationRequest::default()
        };
        let outcome = self
            .runtime
            .block_on(self.server.authorize_request(None, &request))
            .expect("a prompt");
        let AuthorizeOutcome::Consent(prompt) = outcome else {
            panic!("a consent prompt without the consent policy");
        };
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
