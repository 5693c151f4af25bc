//! Side by side with `oxide-auth` 0.6, in one binary so each ratio comes
//! from one run on one machine:
//!
//! 1. the whole authorization-code + PKCE S256 flow on memory (authorize →
//!    approve → code → token exchange with the verifier → access + refresh
//!    token), ours through `handle()` and through the typed API, theirs
//!    through its endpoint flows (`Generic` + `Pkce::required()`). Theirs
//!    approves with an auto-approving solicitor in the authorization call;
//!    ours through `handle()` twice: with the host's consent policy
//!    approving (`prior_consent`, two requests, like for like) and with the
//!    consent page rendered and posted (three requests);
//! 2. refresh-token rotation;
//! 3. confidential-client authentication (theirs with its default password
//!    policy).
//!
//! `cargo bench --bench vs_oxide_auth`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use oauth_connect::hooks::{ConsentRequest, PriorConsent};
use oauth_connect::oauth::{AuthorizationRequest, AuthorizeOutcome, Decision, ScopeSet};
use oauth_connect::{
    AppType, AuthorizationServer, MemoryStore, NewOAuthApp, ResourceOwnerAuthenticator, Subject,
    WorkspaceId,
};
use oxide_auth::endpoint::{
    AccessTokenFlow, AuthorizationFlow, Endpoint, OwnerConsent, RefreshFlow, Solicitation,
};
use oxide_auth::frontends::simple::endpoint::{Error as OxError, FnSolicitor, Generic, Vacant};
use oxide_auth::frontends::simple::extensions::{AddonList, Extended, Pkce};
use oxide_auth::frontends::simple::request::{Body, Request as OxRequest, Status};
use oxide_auth::primitives::authorizer::AuthMap;
use oxide_auth::primitives::generator::RandomGenerator;
use oxide_auth::primitives::issuer::TokenMap;
use oxide_auth::primitives::registrar::{Client, ClientMap, RegisteredUrl, Registrar};
use serde::Deserialize;

const REDIRECT: &str = "https://app.example.com/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const OX_CLIENT: &str = "bench-client";
const OX_SECRET: &str = "a-long-enough-client-passphrase-of-the-same-size";

type Server = AuthorizationServer<MemoryStore>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Runs one of our futures as an `.await` in a request handler would: polled
/// in place (the memory store never waits, so this is one poll); a future
/// that did wait would finish on the tokio runtime. Entering the runtime
/// for each call (`Runtime::block_on`) would add its own cost to every
/// iteration, which a server running inside the runtime never pays.
fn run<F: std::future::Future>(rt: &tokio::runtime::Runtime, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => rt.block_on(future),
    }
}

// ---------------------------------------------------------------- ours ----

struct Ours {
    server: Server,
    public_id: String,
    confidential_id: String,
    secret: String,
}

/// The host's login of a server whose users already consented: the user is
/// the `sid` cookie, and every signed-in user consented to `read` (a
/// first-party app). The counterpart of their auto-approving solicitor.
#[derive(Debug)]
struct FirstPartyConsent;

#[async_trait::async_trait]
impl ResourceOwnerAuthenticator for FirstPartyConsent {
    async fn authenticate(&self, headers: &http::HeaderMap, _: Option<&str>) -> Option<Subject> {
        let cookie = headers.get("cookie")?.to_str().ok()?;
        Subject::parse(cookie.strip_prefix("sid=")?).ok()
    }

    async fn prior_consent(
        &self,
        headers: &http::HeaderMap,
        _: &ConsentRequest<'_>,
    ) -> PriorConsent {
        match self.authenticate(headers, None).await {
            Some(subject) => PriorConsent::Granted {
                subject,
                scopes: ScopeSet::parse("read").unwrap(),
            },
            None => PriorConsent::Ask,
        }
    }
}

fn ours(rt: &tokio::runtime::Runtime) -> Ours {
    ours_with(rt, None)
}

/// The server of the benchmark: the demo sign-in (dangerous; the bench
/// types a user id), or `owner` when given.
fn ours_with(
    rt: &tokio::runtime::Runtime,
    owner: Option<Arc<dyn ResourceOwnerAuthenticator>>,
) -> Ours {
    let builder =
        AuthorizationServer::builder(MemoryStore::new()).issuer("https://auth.example.com");
    let builder = match owner {
        Some(owner) => builder.resource_owner(owner),
        None => builder.dangerous().demo_sign_in(),
    };
    let server = builder.build().unwrap();
    let ws = WorkspaceId::parse("ws_bench").unwrap();
    let app = |app_type| NewOAuthApp {
        name: "bench".into(),
        description: None,
        redirect_uris: vec![REDIRECT.into()],
        allowed_scopes: vec!["read".into()],
        allowed_origins: vec![],
        app_type,
        logo_uri: None,
    };
    let public = rt
        .block_on(server.create_app(&ws, &app(AppType::Public)))
        .unwrap();
    let confidential = rt
        .block_on(server.create_app(&ws, &app(AppType::Confidential)))
        .unwrap();
    Ours {
        server,
        public_id: public.app.client_id.as_str().to_owned(),
        confidential_id: confidential.app.client_id.as_str().to_owned(),
        secret: confidential
            .client_secret
            .unwrap()
            .expose_secret()
            .to_owned(),
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn hidden_field<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    &html[start..end]
}

fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .unwrap()
        .1
        .into_owned()
}

fn post_form(uri: &str, body: String, cookie: Option<&str>) -> Request<Bytes> {
    let mut request =
        Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.body(Bytes::from(body)).unwrap()
}

/// What the client reads of a token response, on both sides: the body
/// deserialized into this (a typed, borrowing parse, as an OAuth client
/// library does).
#[derive(Deserialize)]
struct TokenAnswer<'a> {
    #[serde(borrow)]
    access_token: &'a str,
    #[serde(borrow)]
    refresh_token: &'a str,
    token_type: &'a str,
}

/// The refresh token of a successful token response.
fn refresh_token_of(body: &[u8]) -> String {
    let answer: TokenAnswer<'_> = serde_json::from_slice(body).unwrap();
    assert!(!answer.access_token.is_empty());
    assert!(answer.token_type.eq_ignore_ascii_case("bearer"));
    answer.refresh_token.to_owned()
}

fn token_body(response: &Response<Bytes>) -> &[u8] {
    assert_eq!(response.status(), StatusCode::OK);
    response.body()
}

/// The whole flow as a browser and a client send it, through `handle()`.
/// Returns the refresh token.
async fn flow_http(o: &Ours, authorize_uri: &str) -> String {
    let s = &o.server;
    let page = s
        .handle(Request::get(authorize_uri).body(Bytes::new()).unwrap())
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let html = std::str::from_utf8(page.body()).unwrap();
    let decision = form(&[
        ("session", hidden_field(html, "session")),
        ("csrf_token", hidden_field(html, "csrf_token")),
        ("decision", "approve"),
        ("subject", "user-42"),
    ]);
    let answer = s
        .handle(post_form("/oauth/authorize", decision, Some(cookie)))
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let code = query_param(answer.headers()["location"].to_str().unwrap(), "code");
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", &o.public_id),
    ]);
    let tokens = s.handle(post_form("/oauth/token", exchange, None)).await;
    refresh_token_of(token_body(&tokens))
}

/// The same flow for a signed-in user whose consent the host's policy
/// already covers: `GET /oauth/authorize` answers with the code. Two
/// requests. Returns the refresh token.
async fn flow_http_remembered(o: &Ours, authorize_uri: &str) -> String {
    let s = &o.server;
    let answer = s
        .handle(
            Request::get(authorize_uri)
                .header("cookie", "sid=user-42")
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let code = query_param(answer.headers()["location"].to_str().unwrap(), "code");
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", &o.public_id),
    ]);
    let tokens = s.handle(post_form("/oauth/token", exchange, None)).await;
    refresh_token_of(token_body(&tokens))
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The authorization request of `pairs`, as the typed API takes it.
fn typed(pairs: &[(String, String)]) -> AuthorizationRequest {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    AuthorizationRequest {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state").map(Into::into),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        ..AuthorizationRequest::default()
    }
}

/// The same flow through the typed API. Returns the refresh token.
async fn flow_typed(o: &Ours, authorize: &AuthorizationRequest, subject: &Subject) -> String {
    let s = &o.server;
    let AuthorizeOutcome::Consent(prompt) = s.authorize_request(None, authorize).await.unwrap()
    else {
        panic!("no consent policy: the consent prompt");
    };
    let to = s
        .decide(
            prompt.session.expose_secret(),
            prompt.csrf_token.expose_secret(),
            Decision::Approve {
                subject: subject.clone(),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let code = query_param(&to.location, "code");
    let client = s.authenticate_client(&o.public_id, None).await.unwrap();
    let tokens = s
        .exchange_code(&client, &code, Some(REDIRECT), Some(VERIFIER))
        .await
        .unwrap();
    tokens.refresh_token.unwrap().expose_secret().to_owned()
}

// -------------------------------------------------------------- theirs ----

struct Theirs {
    registrar: ClientMap,
    authorizer: AuthMap<RandomGenerator>,
    issuer: TokenMap<RandomGenerator>,
}

fn theirs() -> Theirs {
    let mut registrar = ClientMap::new();
    registrar.register_client(Client::public(
        OX_CLIENT,
        RegisteredUrl::Exact(REDIRECT.parse().unwrap()),
        "read".parse().unwrap(),
    ));
    Theirs {
        registrar,
        authorizer: AuthMap::new(RandomGenerator::new(16)),
        issuer: TokenMap::new(RandomGenerator::new(16)),
    }
}

type Approve = fn(
    &mut OxRequest,
    Solicitation,
) -> OwnerConsent<oxide_auth::frontends::simple::request::Response>;

fn approve(
    _: &mut OxRequest,
    _: Solicitation,
) -> OwnerConsent<oxide_auth::frontends::simple::request::Response> {
    OwnerConsent::Authorized("user-42".to_owned())
}

/// Their endpoint as the documentation builds it: `Generic` over a
/// `ClientMap`, an `AuthMap`, a `TokenMap`, extended with required PKCE.
fn endpoint(t: &mut Theirs) -> impl Endpoint<OxRequest, Error = OxError<OxRequest>> + '_ {
    let mut extensions = AddonList::new();
    extensions.push_code(Pkce::required());
    Extended::extend_with(
        Generic {
            registrar: &t.registrar,
            authorizer: &mut t.authorizer,
            issuer: &mut t.issuer,
            scopes: Vacant,
            solicitor: FnSolicitor(approve as Approve),
            response: Vacant,
        },
        extensions,
    )
}

fn ox_request(query: &[(&str, &str)], body: &[(&str, &str)]) -> OxRequest {
    let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    OxRequest {
        query: map(query),
        urlbody: map(body),
        auth: None,
    }
}

/// The refresh token of their token response, read as ours is.
fn ox_refresh_token(body: Option<Body>) -> String {
    match body {
        Some(Body::Json(text)) => refresh_token_of(text.as_bytes()),
        other => panic!("expected a JSON body, got {other:?}"),
    }
}

/// Their whole flow. Returns the refresh token.
fn flow_theirs<E: Endpoint<OxRequest, Error = OxError<OxRequest>>>(endpoint: &mut E) -> String {
    let authorize = ox_request(
        &[
            ("response_type", "code"),
            ("client_id", OX_CLIENT),
            ("redirect_uri", REDIRECT),
            ("scope", "read"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
        &[],
    );
    let response = AuthorizationFlow::prepare(&mut *endpoint)
        .ok()
        .unwrap()
        .execute(authorize)
        .ok()
        .unwrap();
    assert_eq!(response.status, Status::Redirect);
    let code = query_param(response.location.unwrap().as_str(), "code");
    let exchange = ox_request(
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", OX_CLIENT),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    let response = AccessTokenFlow::prepare(&mut *endpoint)
        .ok()
        .unwrap()
        .execute(exchange)
        .ok()
        .unwrap();
    assert_eq!(response.status, Status::Ok);
    ox_refresh_token(response.body)
}

// ------------------------------------------------------------- benches ----

fn authorization_code_flow(c: &mut Criterion) {
    let rt = runtime();
    let o = ours(&rt);
    let mut t = theirs();
    let authorize = owned(&[
        ("response_type", "code"),
        ("client_id", &o.public_id),
        ("redirect_uri", REDIRECT),
        ("scope", "read"),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let typed_authorize = typed(&authorize);
    let authorize_uri = format!(
        "/oauth/authorize?{}",
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&authorize)
            .finish()
    );
    let subject = Subject::parse("user-42").unwrap();

    let remembered = ours_with(&rt, Some(Arc::new(FirstPartyConsent)));
    let remembered_uri = authorize_uri.replace(&o.public_id, &remembered.public_id);

    let mut group = c.benchmark_group("authorization_code_pkce_flow");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("ours: handle() (HTTP), consent policy approves", |b| {
        b.iter(|| {
            run(
                &rt,
                flow_http_remembered(&remembered, black_box(&remembered_uri)),
            )
        })
    });
    group.bench_function(
        "ours: handle() (HTTP), consent page rendered and posted",
        |b| b.iter(|| run(&rt, flow_http(&o, black_box(&authorize_uri)))),
    );
    group.bench_function("ours: typed API", |b| {
        b.iter(|| run(&rt, flow_typed(&o, black_box(&typed_authorize), &subject)))
    });
    let mut endpoint = endpoint(&mut t);
    group.bench_function("oxide-auth 0.6: endpoint flows", |b| {
        b.iter(|| flow_theirs(&mut endpoint))
    });
    group.finish();
}

fn refresh_rotation(c: &mut Criterion) {
    let rt = runtime();
    let o = ours(&rt);
    let authorize = owned(&[
        ("response_type", "code"),
        ("client_id", &o.public_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let typed_authorize = typed(&authorize);
    let subject = Subject::parse("user-42").unwrap();
    let mut group = c.benchmark_group("refresh_rotation");
    group.measurement_time(Duration::from_secs(3));

    let mut current = run(&rt, flow_typed(&o, &typed_authorize, &subject));
    group.bench_function("ours: handle() (HTTP)", |b| {
        b.iter(|| {
            let body = form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &current),
                ("client_id", &o.public_id),
            ]);
            let response = run(&rt, o.server.handle(post_form("/oauth/token", body, None)));
            current = refresh_token_of(token_body(&response));
        })
    });
    let mut current = run(&rt, flow_typed(&o, &typed_authorize, &subject));
    group.bench_function("ours: typed API", |b| {
        b.iter(|| {
            let tokens = run(&rt, async {
                let client = o
                    .server
                    .authenticate_client(&o.public_id, None)
                    .await
                    .unwrap();
                o.server.refresh(&client, &current, None).await.unwrap()
            });
            current = tokens.refresh_token.unwrap().expose_secret().to_owned();
        })
    });

    let mut t = theirs();
    let mut endpoint = endpoint(&mut t);
    let mut current = flow_theirs(&mut endpoint);
    group.bench_function("oxide-auth 0.6: refresh flow", |b| {
        b.iter(|| {
            let request = ox_request(
                &[],
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &current),
                    ("client_id", OX_CLIENT),
                ],
            );
            let response = RefreshFlow::prepare(&mut endpoint)
                .ok()
                .unwrap()
                .execute(request)
                .ok()
                .unwrap();
            assert_eq!(response.status, Status::Ok);
            current = ox_refresh_token(response.body);
        })
    });
    group.finish();
}

fn client_authentication(c: &mut Criterion) {
    let rt = runtime();
    let o = ours(&rt);
    let mut registrar = ClientMap::new();
    registrar.register_client(Client::confidential(
        OX_CLIENT,
        RegisteredUrl::Exact(REDIRECT.parse().unwrap()),
        "read".parse().unwrap(),
        OX_SECRET.as_bytes(),
    ));
    let mut group = c.benchmark_group("confidential_client_authentication");
    group.bench_function("ours: authenticate_client", |b| {
        b.iter(|| {
            run(
                &rt,
                o.server
                    .authenticate_client(black_box(&o.confidential_id), Some(&o.secret)),
            )
            .unwrap()
        })
    });
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", o.confidential_id, o.secret))
    );
    group.bench_function("ours: handle() introspect, Basic (HTTP)", |b| {
        b.iter(|| {
            let mut request = post_form("/oauth/introspect", form(&[("token", "x")]), None);
            request
                .headers_mut()
                .insert("authorization", basic.parse().unwrap());
            let response = run(&rt, o.server.handle(request));
            assert_eq!(response.status(), StatusCode::OK);
        })
    });
    group.bench_function(
        "oxide-auth 0.6: ClientMap::check (default Argon2 policy)",
        |b| {
            b.iter(|| {
                registrar
                    .check(black_box(OX_CLIENT), Some(OX_SECRET.as_bytes()))
                    .unwrap()
            })
        },
    );
    group.finish();
}

criterion_group!(
    benches,
    authorization_code_flow,
    refresh_rotation,
    client_authentication
);
criterion_main!(benches);
