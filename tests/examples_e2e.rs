#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests of the example servers over real sockets: each test
//! starts the compiled example (`target/<profile>/examples/axum` or
//! `…/actix`) on an ephemeral port with a known admin key, drives it with a
//! real HTTP client and the independent `oauth2` crate, and kills it at the
//! end. One suite, run against both servers. Every answer of a documented
//! path is checked against the OpenAPI document.

mod example_http;
mod example_process;
mod npm_support;
mod openapi_check;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use example_http::{Confidential, Http, Reply};
use example_process::{Process, example_binary};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, IntrospectionUrl, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const ADMIN_KEY: &str = "e2e-admin-key-0123456789abcdefghijklmnopqrstuvwxyz";
const WORKSPACE: &str = "ws_e2e";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A running example server; killed on drop.
type Example = Process;

/// Ways of starting one for these tests.
impl Example {
    /// Starts `name` on 127.0.0.1:0, with its demo providers, and waits
    /// until it answers.
    async fn start(name: &str) -> Self {
        Self::start_with(name, true).await
    }

    /// Starts `name`, with or without its demo providers (and their terms).
    async fn start_with(name: &str, demo_providers: bool) -> Self {
        Self::start_env(name, demo_providers, &[]).await
    }

    /// Starts `name` with its demo integrating app (on an ephemeral port).
    async fn with_demo_app(name: &str, env: &[(&str, &str)]) -> Self {
        let mut env = env.to_vec();
        env.push(("OAUTH_CONNECT_DEMO_APP", "127.0.0.1:0"));
        Self::start_env(name, true, &env).await
    }

    /// The demo app's origin.
    fn demo_app(&self) -> &str {
        self.demo_app.as_deref().expect("started with_demo_app")
    }

    /// Starts `name` with more environment variables (the demo integrating
    /// app is off unless they name its address).
    async fn start_env(name: &str, demo_providers: bool, env: &[(&str, &str)]) -> Self {
        Self::start_args(name, &["--addr", "127.0.0.1:0"], demo_providers, env).await
    }

    /// Starts `name` with the command-line `args` (an `--addr`, or none to
    /// let `PORT` decide) and more environment variables.
    async fn start_args(
        name: &str,
        args: &[&str],
        demo_providers: bool,
        env: &[(&str, &str)],
    ) -> Self {
        let demo_app = env
            .iter()
            .any(|(n, v)| *n == "OAUTH_CONNECT_DEMO_APP" && *v != "off");
        let mut command = Command::new(example_binary(name));
        command
            .args(args)
            .env("OAUTH_CONNECT_DEMO_APP", "off")
            .env_remove("PORT")
            .env_remove("OAUTH_CONNECT_ISSUER")
            .env_remove("OAUTH_CONNECT_SERVER_KEY")
            .envs(env.iter().copied())
            .env(
                "OAUTH_CONNECT_DEMO_PROVIDERS",
                if demo_providers { "on" } else { "off" },
            )
            .env(
                "OAUTH_CONNECT_ADMIN_KEYS",
                format!("{WORKSPACE}={ADMIN_KEY}"),
            )
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL");
        Self::spawn(name, command, demo_app).await
    }
}

impl Http {
    fn admin(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder.header("authorization", format!("Bearer {ADMIN_KEY}"))
    }

    async fn create_app(&self, server: &Example, body: &Value) -> Reply {
        self.send(
            self.admin(self.client.post(server.url("/v1/oauth-apps")))
                .json_body(body),
        )
        .await
    }
}

/// `reqwest` without its `json` feature: a JSON body by hand.
trait JsonBody {
    fn json_body(self, body: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }
}

fn public_app() -> Value {
    json!({
        "name": "E2E public app",
        "redirectUris": [REDIRECT],
        "allowedScopes": ["read:devices", "read:sites"],
        "type": "PUBLIC",
    })
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a hidden field of the consent form.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// GETs the consent page at `url` and posts `decision` as the demo user;
/// returns the answer to the post (a 303 to the client).
async fn consent(http: &Http, url: &str, decision: &str) -> Reply {
    let page = http.send(http.client.get(url)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("E2E public app"));
    let cookie = page.header("set-cookie").expect("the CSRF cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let form = [
        ("session", field(&page.text, "session")),
        ("csrf_token", field(&page.text, "csrf_token")),
        ("decision", decision.to_owned()),
        ("subject", "user-42".to_owned()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let action = url.split_once("?").map_or(url, |(a, _)| a);
    http.send(
        http.client
            .post(action)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(body),
    )
    .await
}

// ---- the suite ----

async fn management_api_answers_every_status(name: &str) {
    let server = Example::start(name).await;
    let http = Http::new(Duration::from_secs(10));
    let apps = server.url("/v1/oauth-apps");

    // 401 without a key (a bare challenge) and with a wrong one.
    let missing = http.send(http.client.get(&apps)).await;
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"oauth-connect\"")
    );
    let wrong = http
        .send(http.client.get(&apps).header(
            "authorization",
            "Bearer not-the-admin-key-at-all-0123456789",
        ))
        .await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );

    // 201, with the secret shown once and a Location.
    let created = http
        .create_app(
            &server,
            &json!({
                "name": "E2E confidential app",
                "redirectUris": ["https://app.example.com/callback"],
                "allowedScopes": ["read:devices"],
                "type": "CONFIDENTIAL",
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let app = created.json();
    let id = app["id"].as_str().unwrap().to_owned();
    assert!(
        app["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("oc_secret_")
    );
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/oauth-apps/{id}").as_str())
    );
    assert_eq!(created.header("cache-control"), Some("no-store"));
    assert_eq!(app["workspaceId"], WORKSPACE);
    let one = server.url(&format!("/v1/oauth-apps/{id}"));

    // 400 naming the field, 415, 413.
    let mut bad = public_app();
    bad["redirectUris"] = json!(["https://ok.example/cb", "not a url"]);
    let invalid = http.create_app(&server, &bad).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.json()["field"], "redirectUris[1]");
    let text_body = http
        .send(
            http.admin(http.client.post(&apps))
                .header("content-type", "text/plain")
                .body(public_app().to_string()),
        )
        .await;
    assert_eq!(text_body.status, 415);
    let huge = http
        .send(
            http.admin(http.client.post(&apps))
                .header("content-type", "application/json")
                .body(vec![b' '; oauth_connect::limits::MAX_BODY_BYTES + 1]),
        )
        .await;
    assert_eq!(huge.status, 413);

    // 200 list, get, update; 400 for an empty update; 405; 404.
    let list = http
        .send(http.admin(http.client.get(format!("{apps}?page=1&perPage=5"))))
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json()["meta"],
        json!({"total": 1, "page": 1, "perPage": 5})
    );
    let got = http.send(http.admin(http.client.get(&one))).await;
    assert_eq!(got.status, 200);
    assert!(got.json().get("clientSecret").is_none());
    let renamed = http
        .send(
            http.admin(http.client.patch(&one))
                .json_body(&json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.json()["name"], "Renamed");
    let empty = http
        .send(http.admin(http.client.patch(&one)).json_body(&json!({})))
        .await;
    assert_eq!(empty.status, 400);
    let put = http.send(http.admin(http.client.put(&one))).await;
    assert_eq!(put.status, 405);
    assert!(put.header("allow").unwrap().contains("PATCH"));
    let unknown = http
        .send(
            http.admin(
                http.client
                    .get(server.url("/v1/oauth-apps/oauth_0000000000000000")),
            ),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let nowhere = http
        .send(http.client.get(server.url("/no/such/path")))
        .await;
    assert_eq!(nowhere.status, 404);

    // Rotation: 200 with a new secret; 400 for a public app.
    let rotated = http
        .send(
            http.admin(http.client.post(format!("{one}/rotate-secret")))
                .json_body(&json!({"gracePeriodSeconds": 60})),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert!(rotated.json()["previousSecretExpiresAt"].is_string());
    let public = http.create_app(&server, &public_app()).await.json();
    let public_rotate = http
        .send(http.admin(http.client.post(server.url(&format!(
            "/v1/oauth-apps/{}/rotate-secret",
            public["id"].as_str().unwrap()
        )))))
        .await;
    assert_eq!(public_rotate.status, 400);

    // 204, then 404.
    let deleted = http.send(http.admin(http.client.delete(&one))).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.text.is_empty());
    let gone = http.send(http.admin(http.client.get(&one))).await;
    assert_eq!(gone.status, 404);
}

async fn oauth2_crate_drives_a_public_client_flow(name: &str) {
    let server = Example::start(name).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.create_app(&server, &public_app()).await.json();
    let client_id = app["clientId"].as_str().unwrap().to_owned();

    let client = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
        .set_introspection_url(IntrospectionUrl::new(server.url("/oauth/introspect")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read:devices".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The browser's part: the consent page, approved as the demo user.
    let approved = consent(&http, authorize_url.as_str(), "approve").await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let to = approved.location();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(
        query_param(&to, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(query_param(&to, "iss"), Some(server.base.clone()));
    let code = query_param(&to, "code").expect("a code");

    // The client's part, by the oauth2 crate.
    let oauth_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&oauth_http)
        .await
        .unwrap();
    let access = tokens.access_token().secret().clone();
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    assert!(access.starts_with("oc_at_"));
    assert_eq!(
        tokens
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["read:devices".to_owned()])
    );

    // The protected resource.
    let me = http
        .send(http.client.get(server.url("/v1/me")).bearer_auth(&access))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json(),
        json!({
            "kind": "access_token",
            "workspaceId": WORKSPACE,
            "appId": app["id"],
            "clientId": client_id,
            "subject": "user-42",
            "scopes": ["read:devices"],
        })
    );
    let anonymous = http.send(http.client.get(server.url("/v1/me"))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Bearer realm=\"oauth-connect\"")
    );

    // Refresh (rotation) and introspection by oauth2.
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&oauth_http)
        .await
        .unwrap();
    let access2 = refreshed.access_token().clone();
    let refresh2 = refreshed
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(refresh2.secret(), refresh.secret());
    // RFC 7662 §2.1: introspection requires client authentication, which a
    // public client cannot give: refused, even for its own token.
    let introspection = client.introspect(&access2).request_async(&oauth_http).await;
    match introspection {
        Err(oauth2::RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error().to_string(), "invalid_client");
        }
        other => panic!("a public client must not introspect: {other:?}"),
    }
    let me = http
        .send(
            http.client
                .get(server.url("/v1/me"))
                .bearer_auth(access2.secret()),
        )
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["subject"], "user-42");

    // oauth2 revokes only over https (RFC 7009 §2 requires TLS), so the
    // revocation requests are posted by hand, as the crate would.
    let revoke = |token: &str, hint: &str| {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("token", token),
                ("token_type_hint", hint),
                ("client_id", &client_id),
            ])
            .finish();
        http.client
            .post(server.url("/oauth/revoke"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let revoked = http.send(revoke(access2.secret(), "access_token")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let refused = http
        .send(
            http.client
                .get(server.url("/v1/me"))
                .bearer_auth(access2.secret()),
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer realm=\"oauth-connect\", error=\"invalid_token\"")
    );
    // Revoking the refresh token ends the grant: the first access token too.
    let revoked = http.send(revoke(refresh2.secret(), "refresh_token")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(
        client
            .exchange_refresh_token(&refresh2)
            .request_async(&oauth_http)
            .await
            .is_err()
    );

    // Replaying the code fails (and is an OAuth error the spec documents).
    let replay = http
        .send(
            http.client
                .post(server.url("/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=authorization_code&code={code}&client_id={client_id}&code_verifier=x"
                )),
        )
        .await;
    assert_eq!(replay.status, 400);

    // No secret reached the log, though every request did.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("/oauth/token") && l.contains("status")),
        "{logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("/v1/me") && l.contains("401")),
        "{logs:#?}"
    );
    // One line per request, its status and latency said once, the latency
    // in milliseconds with two decimals.
    for line in logs.iter().filter(|l| l.contains(" response ")) {
        assert_eq!(line.matches("status=").count(), 1, "{line}");
        assert_eq!(line.matches("latency_ms=").count(), 1, "{line}");
        let latency = line.split("latency_ms=").nth(1).unwrap_or_default();
        let latency = latency.split_whitespace().next().unwrap_or_default();
        let decimals = latency.split_once('.').map(|(_, d)| d.len());
        assert_eq!(decimals, Some(2), "{line}");
    }
    for secret in [
        ADMIN_KEY,
        code.as_str(),
        access.as_str(),
        refresh.secret().as_str(),
        access2.secret().as_str(),
        refresh2.secret().as_str(),
        state.secret().as_str(),
    ] {
        assert!(
            !logs.iter().any(|l| l.contains(secret)),
            "a secret reached the log: {logs:#?}"
        );
    }
}

async fn browser_error_paths(name: &str) {
    let server = Example::start(name).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.create_app(&server, &public_app()).await.json();
    let client_id = app["clientId"].as_str().unwrap();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let authorize = |redirect: &str| {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect),
                ("state", "st-1"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        server.url(&format!("/oauth/authorize?{query}"))
    };

    // An unregistered redirect URI: an error page, never a redirect.
    let page = http
        .send(http.client.get(authorize("https://evil.example/steal")))
        .await;
    assert_eq!(page.status, 400, "{}", page.text);
    assert!(page.header("location").is_none());
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );

    // An unknown client: an error page too.
    let unknown = http
        .send(
            http.client
                .get(authorize(REDIRECT).replace(client_id, "oc_client_nope")),
        )
        .await;
    assert!(unknown.status >= 400 && unknown.header("location").is_none());

    // A known client and URI with a bad parameter: redirected with the error.
    let bad_scope = http
        .send(
            http.client
                .get(format!("{}&scope=admin:everything", authorize(REDIRECT))),
        )
        .await;
    assert_eq!(bad_scope.status, 303);
    assert_eq!(
        query_param(&bad_scope.location(), "error").as_deref(),
        Some("invalid_scope")
    );

    // Denied consent: access_denied, with the state and the issuer.
    let denied = consent(&http, &authorize(REDIRECT), "deny").await;
    assert_eq!(denied.status, 303);
    let to = denied.location();
    assert!(to.starts_with(REDIRECT));
    assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
    assert!(query_param(&to, "code").is_none());

    // A forged decision (no CSRF cookie) is refused without a redirect.
    let forged = http
        .send(
            http.client
                .post(server.url("/oauth/authorize"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("session=x&csrf_token=y&decision=approve&subject=eve"),
        )
        .await;
    assert!(forged.status >= 400 && forged.header("location").is_none());
}

/// The customer details the Connect form asks for, all of them.
const CUSTOMER_FIELDS: [(&str, &str); 9] = [
    ("firstName", "Ada"),
    ("lastName", "Lovelace"),
    ("email", "ada@example.com"),
    ("phone", "555-555-0100"),
    ("streetOne", "1 Main St"),
    ("city", "Springfield"),
    ("state", "IL"),
    ("postalCode", "62701"),
    ("country", "US"),
];

impl Http {
    async fn confidential_app(&self, server: &Example) -> Confidential {
        let created = self
            .create_app(
                server,
                &json!({
                    "name": "E2E Connect app",
                    "redirectUris": [REDIRECT],
                    "allowedScopes": ["read:devices", "read:sites"],
                    "type": "CONFIDENTIAL",
                }),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        Confidential::from_created(&created.json())
    }

    /// `POST /v1/connect/sessions` with the app's Basic credentials: 201.
    async fn connect_session(&self, server: &Example, app: &Confidential, body: &Value) -> Value {
        let created = self
            .send(
                self.client
                    .post(server.url("/v1/connect/sessions"))
                    .basic_auth(&app.client_id, Some(&app.secret))
                    .json_body(body),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.header("cache-control"), Some("no-store"));
        created.json()
    }
}

/// Posts a decision on the Connect page `page` (its hidden fields), with
/// the customer fields `extra`.
/// Posts `decision` from the hosted page. Approving from the customer step
/// first posts the customer details (`extra`) on that step, follows the 303
/// to the consent step, and approves there.
async fn connect_decide(
    http: &Http,
    server: &Example,
    page: &str,
    decision: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let token = field(page, "token");
    let csrf = field(page, "csrf_token");
    let step = field(page, "step");
    if decision == "approve" && step == "customer" {
        let mut pairs = vec![
            ("token", token.as_str()),
            ("csrf_token", csrf.as_str()),
            ("step", "customer"),
        ];
        pairs.extend_from_slice(extra);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        let answer = http
            .send(
                http.client
                    .post(server.url("/connect"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            )
            .await;
        if answer.status != 303 {
            return answer;
        }
        let consent = http.send(http.client.get(answer.location())).await;
        assert_eq!(field(&consent.text, "step"), "consent", "{}", consent.text);
        return Box::pin(connect_decide(http, server, &consent.text, "approve", &[])).await;
    }
    let mut pairs = vec![
        ("token", token.as_str()),
        ("csrf_token", csrf.as_str()),
        ("step", step.as_str()),
        ("decision", decision),
    ];
    pairs.extend_from_slice(extra);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    http.send(
        http.client
            .post(server.url("/connect"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

fn is_html(reply: &Reply) -> bool {
    reply
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/html"))
}

async fn connect_path_with_a_scoped_key(name: &str) {
    // Without a provider catalogue: no terms, picker or link step.
    let server = Example::start_with(name, false).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.confidential_app(&server).await;

    // The service's backend opens a session for its user; the customer's
    // name and e-mail are known, the rest is asked on the page.
    let session = http
        .connect_session(
            &server,
            &app,
            &json!({
                "redirectUrl": REDIRECT,
                "referenceId": "user-123",
                "clientName": "E2E Energy",
                "customerInfo": {"firstName": "Ada", "email": "ada@example.com"},
                "scopes": ["read:devices"],
                "state": "st-connect",
                "scopedKey": true,
            }),
        )
        .await;
    let connect_token = session["connectToken"].as_str().unwrap().to_owned();
    assert!(connect_token.starts_with("oc_ct_"));
    assert_eq!(session["referenceId"], "user-123");
    assert_eq!(session["mode"], "create");
    assert!(session["expiresAt"].is_string());
    let url = session["url"].as_str().unwrap();
    assert!(
        url.starts_with(&server.url("/connect?token=oc_ct_")),
        "{url}"
    );

    // The user's browser: the hosted page, prefilled, with the form.
    let page = http.send(http.client.get(url)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(is_html(&page));
    assert!(page.text.contains("E2E Energy"));
    assert!(page.text.contains("value=\"Ada\""), "prefilled");
    assert!(page.text.contains("value=\"ada@example.com\""), "prefilled");
    assert!(
        page.text.contains("name=\"lastName\""),
        "asks what is missing"
    );
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let approved = connect_decide(&http, &server, &page.text, "approve", &CUSTOMER_FIELDS).await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let to = approved.location();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-connect"));
    assert_eq!(query_param(&to, "iss"), Some(server.base.clone()));
    assert!(
        query_param(&to, "scoped_key").is_none(),
        "server-side delivery"
    );
    let code = query_param(&to, "code").expect("a code");
    assert!(code.starts_with("oc_code_"));

    // The backend exchanges the code with Basic (no PKCE: none was asked).
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let tokens = http
        .post_basic(&server, "/oauth/token", &app, &exchange)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens = tokens.json();
    assert_eq!(tokens["scope"], "read:devices");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let scoped_key = tokens["scoped_key"]
        .as_str()
        .expect("scoped_key")
        .to_owned();
    assert!(access.starts_with("oc_at_"));
    assert!(scoped_key.starts_with("oc_sk_"));

    // Both credentials speak for the customer at the protected resource.
    let me = |credential: &str| {
        http.client
            .get(server.url("/v1/me"))
            .bearer_auth(credential)
    };
    let as_token = http.send(me(&access)).await;
    assert_eq!(as_token.status, 200, "{}", as_token.text);
    assert_eq!(
        as_token.json(),
        json!({
            "kind": "access_token",
            "workspaceId": WORKSPACE,
            "appId": app.id,
            "clientId": app.client_id,
            "subject": "user-123",
            "scopes": ["read:devices"],
        })
    );
    let as_key = http.send(me(&scoped_key)).await;
    assert_eq!(as_key.status, 200, "{}", as_key.text);
    assert_eq!(
        as_key.json(),
        json!({
            "kind": "scoped_key",
            "workspaceId": WORKSPACE,
            "appId": app.id,
            "clientId": app.client_id,
            "subject": "user-123",
            "scopes": ["read:devices"],
        })
    );

    // Refresh (rotation), introspection, revocation: all with Basic.
    let refreshed = http
        .post_basic(
            &server,
            "/oauth/token",
            &app,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let refreshed = refreshed.json();
    let access2 = refreshed["access_token"].as_str().unwrap().to_owned();
    let refresh2 = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh, "the refresh token rotates");
    let info = http
        .post_basic(&server, "/oauth/introspect", &app, &[("token", &access2)])
        .await
        .json();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], "user-123");
    assert_eq!(info["client_id"], app.client_id.as_str());
    assert_eq!(info["scope"], "read:devices");
    let key_info = http
        .post_basic(
            &server,
            "/oauth/introspect",
            &app,
            &[("token", &scoped_key)],
        )
        .await
        .json();
    assert_eq!(key_info["active"], true, "{key_info}");
    assert_eq!(key_info["token_type"], "scoped_key");
    let revoked = http
        .post_basic(
            &server,
            "/oauth/revoke",
            &app,
            &[("token", &access2), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let refused = http.send(me(&access2)).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some("Bearer realm=\"oauth-connect\", error=\"invalid_token\"")
    );
    let inactive = http
        .post_basic(&server, "/oauth/introspect", &app, &[("token", &access2)])
        .await
        .json();
    assert_eq!(inactive, json!({"active": false}));

    // The code works once; a replay also ends what it issued.
    let replay = http
        .post_basic(&server, "/oauth/token", &app, &exchange)
        .await;
    assert_eq!(replay.status, 400, "a code works once");
    assert_eq!(replay.json()["error"], "invalid_grant");
    let after_replay = http
        .post_basic(
            &server,
            "/oauth/token",
            &app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh2),
            ],
        )
        .await;
    assert_eq!(after_replay.status, 400, "{}", after_replay.text);

    // No credential reached the log, though the requests did.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("/connect") && l.contains("303")),
        "{logs:#?}"
    );
    let csrf = field(&page.text, "csrf_token");
    for secret in [
        ADMIN_KEY,
        app.secret.as_str(),
        connect_token.as_str(),
        csrf.as_str(),
        code.as_str(),
        access.as_str(),
        refresh.as_str(),
        access2.as_str(),
        refresh2.as_str(),
        scoped_key.as_str(),
    ] {
        assert!(
            !logs.iter().any(|l| l.contains(secret)),
            "a secret reached the log: {logs:#?}"
        );
    }
}

/// Denial, a completed token used again, an unknown token and a forged
/// CSRF token. Real expiry needs the session lifetime to pass, at least
/// the builder's minimum of one minute: over real HTTP with the real clock
/// that would make this suite a minute slower, so expiry is tested in
/// process with the injected clock (`tests/connect.rs`,
/// `deny_expiry_reuse_and_two_tabs`), where the 410 page is the same.
async fn connect_denial_reuse_and_unknown_tokens(name: &str) {
    let server = Example::start_with(name, false).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.confidential_app(&server).await;
    let full_customer = json!({
        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                     "postalCode": "62701", "country": "US"},
    });

    // Denied: the session is made by an admin naming the app this time.
    let denied_session = http
        .send(
            http.admin(http.client.post(server.url("/v1/connect/sessions")))
                .json_body(&json!({
                    "appId": app.id,
                    "redirectUrl": REDIRECT,
                    "referenceId": "user-deny",
                    "customerInfo": full_customer,
                    "state": "st-deny",
                })),
        )
        .await;
    assert_eq!(denied_session.status, 201, "{}", denied_session.text);
    let url = denied_session.json()["url"].as_str().unwrap().to_owned();
    let page = http.send(http.client.get(&url)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        !page.text.contains("name=\"firstName\""),
        "a complete customerInfo skips the form"
    );
    assert!(page.text.contains("Ada Lovelace"));
    let denied = connect_decide(&http, &server, &page.text, "deny", &[]).await;
    assert_eq!(denied.status, 303, "{}", denied.text);
    let to = denied.location();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-deny"));
    assert_eq!(query_param(&to, "iss"), Some(server.base.clone()));
    assert!(query_param(&to, "code").is_none());

    // Completed, then used again: from a second tab, and by reopening the
    // link. Both answer the 410 page, never a redirect.
    let session = http
        .connect_session(
            &server,
            &app,
            &json!({"redirectUrl": REDIRECT, "customerInfo": full_customer}),
        )
        .await;
    let url = session["url"].as_str().unwrap().to_owned();
    let first_tab = http.send(http.client.get(&url)).await;
    let second_tab = http.send(http.client.get(&url)).await;
    assert_eq!((first_tab.status, second_tab.status), (200, 200));
    let approved = connect_decide(&http, &server, &first_tab.text, "approve", &[]).await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let again = connect_decide(&http, &server, &second_tab.text, "approve", &[]).await;
    assert_eq!(again.status, 410, "{}", again.text);
    assert!(is_html(&again) && again.header("location").is_none());
    assert!(again.text.contains("already"), "{}", again.text);
    let reopened = http.send(http.client.get(&url)).await;
    assert_eq!(reopened.status, 410, "{}", reopened.text);
    assert!(is_html(&reopened) && reopened.text.contains("already"));

    // An unknown token: an error page.
    let unknown = http
        .send(http.client.get(server.url("/connect?token=oc_ct_nope")))
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert!(is_html(&unknown) && unknown.header("location").is_none());

    // A forged CSRF token is refused without a redirect.
    let session = http
        .connect_session(
            &server,
            &app,
            &json!({"redirectUrl": REDIRECT, "customerInfo": full_customer}),
        )
        .await;
    let page = http
        .send(http.client.get(session["url"].as_str().unwrap()))
        .await;
    let forged = page
        .text
        .replace(&field(&page.text, "csrf_token"), &"A".repeat(43));
    let refused = connect_decide(&http, &server, &forged, "approve", &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.header("location").is_none());
}

/// Posts `step` of the hosted Connect page `page` with `extra`.
async fn connect_post(
    http: &Http,
    server: &Example,
    page: &str,
    step: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let token = field(page, "token");
    let csrf = field(page, "csrf_token");
    assert_eq!(field(page, "step"), step, "{page}");
    let mut pairs = vec![
        ("token", token.as_str()),
        ("csrf_token", csrf.as_str()),
        ("step", step),
    ];
    pairs.extend_from_slice(extra);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    http.send(
        http.client
            .post(server.url("/connect"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

/// Follows the 303 `reply` with a GET; the page must answer 200.
async fn follow(http: &Http, reply: &Reply) -> Reply {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let page = http.send(http.client.get(reply.location())).await;
    assert_eq!(page.status, 200, "{}", page.text);
    page
}

/// The upstream's consent page at `url` (an absolute URL), decided as the
/// demo user `subject`: the answer to the post, a 303 to the callback.
async fn upstream_consent(http: &Http, server: &Example, url: &str, decision: &str) -> Reply {
    let page = http.send(http.client.get(url)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("oauth-connect demo"), "{}", page.text);
    assert!(page.text.contains("See your batteries and chargers"));
    // Mounted under /upstream: its form and cookie say so.
    assert!(
        page.text.contains("action=\"/upstream/oauth/authorize\""),
        "{}",
        page.text
    );
    let cookie = page.header("set-cookie").expect("the CSRF cookie");
    assert!(
        cookie.contains("Path=/upstream/oauth/authorize"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let form = [
        ("session", field(&page.text, "session")),
        ("csrf_token", field(&page.text, "csrf_token")),
        ("decision", decision.to_owned()),
        ("subject", "energy-user-1".to_owned()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    http.send(
        http.client
            .post(server.url("/upstream/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .body(body),
    )
    .await
}

/// The Connect code of `to` exchanged with Basic; then the connection of
/// `reference_id` as `GET /v1/connections` lists it.
async fn exchange_and_find_connection(
    http: &Http,
    server: &Example,
    app: &Confidential,
    to: &str,
    reference_id: &str,
) -> Value {
    assert!(to.starts_with(REDIRECT), "{to}");
    let code = query_param(to, "code").expect("a code");
    let tokens = http
        .post_basic(
            server,
            "/oauth/token",
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let me = http
        .send(
            http.client
                .get(server.url("/v1/me"))
                .bearer_auth(tokens.json()["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(me.json()["subject"], reference_id);
    let list = http
        .send(http.admin(http.client.get(server.url("/v1/connections"))))
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["referenceId"] == reference_id)
        .unwrap_or_else(|| panic!("no connection of {reference_id}: {}", list.text))
        .clone()
}

/// The demo redirect provider: terms, then (one provider left by the
/// filters) the link step, a real authorization-code + PKCE round trip to
/// the example's second authorization server at `/upstream` (denied once,
/// then approved), back through `/connect/callback/demo-energy`, the
/// customer step, consent, and the connection with the upstream account.
async fn connect_links_demo_energy_through_the_upstream(name: &str) {
    let server = Example::start(name).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.confidential_app(&server).await;
    let session = http
        .connect_session(
            &server,
            &app,
            &json!({
                "redirectUrl": REDIRECT,
                "referenceId": "user-energy",
                "customerInfo": {"firstName": "Ada", "email": "ada@example.com"},
                "state": "st-energy",
                "filters": {"providers": ["demo-energy"]},
            }),
        )
        .await;
    let page = http
        .send(http.client.get(session["url"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Demo terms") && page.text.contains("https://example.com/terms"));
    let accepted = connect_post(&http, &server, &page.text, "terms", &[("action", "accept")]).await;
    let page = follow(&http, &accepted).await;
    assert!(
        page.text.contains("Continue to Demo Energy"),
        "{}",
        page.text
    );

    // Denied at the upstream: back on the link step, nothing linked.
    let go = connect_post(&http, &server, &page.text, "link", &[("action", "start")]).await;
    assert_eq!(go.status, 303, "{}", go.text);
    let denied = upstream_consent(&http, &server, &go.location(), "deny").await;
    let page = follow(&http, &follow_callback(&http, &server, &denied).await).await;
    assert_eq!(field(&page.text, "step"), "link");
    assert!(
        page.text.contains("cancelled at the provider"),
        "{}",
        page.text
    );

    // Approved: the authorize URL carries PKCE and the crate's callback.
    let go = connect_post(&http, &server, &page.text, "link", &[("action", "start")]).await;
    let authorize = go.location();
    assert!(
        authorize.starts_with(&server.url("/upstream/oauth/authorize?")),
        "{authorize}"
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri"),
        Some(server.url("/connect/callback/demo-energy"))
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query_param(&authorize, "code_challenge").is_some());
    let approved = upstream_consent(&http, &server, &authorize, "approve").await;
    let back = follow_callback(&http, &server, &approved).await;
    let page = follow(&http, &back).await;
    assert_eq!(field(&page.text, "step"), "customer", "{}", page.text);
    let customer = connect_post(&http, &server, &page.text, "customer", &CUSTOMER_FIELDS).await;
    let page = follow(&http, &customer).await;
    assert!(
        page.text.contains("Demo Energy account energy-user-1"),
        "{}",
        page.text
    );
    let done = connect_post(
        &http,
        &server,
        &page.text,
        "consent",
        &[("decision", "approve")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        query_param(&done.location(), "state").as_deref(),
        Some("st-energy")
    );
    let connection =
        exchange_and_find_connection(&http, &server, &app, &done.location(), "user-energy").await;
    assert_eq!(connection["provider"], "demo-energy");
    assert_eq!(connection["accountReference"], "energy-user-1");
    assert_eq!(
        connection["accountLabel"],
        "Demo Energy account energy-user-1"
    );
}

/// The upstream's answer `reply` (a 303 to the crate's callback, with
/// `iss`), followed: the callback's 303 back to the Connect page.
async fn follow_callback(http: &Http, server: &Example, reply: &Reply) -> Reply {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let callback = reply.location();
    assert!(
        callback.starts_with(&server.url("/connect/callback/demo-energy?")),
        "{callback}"
    );
    assert_eq!(query_param(&callback, "iss"), Some(server.url("/upstream")));
    let back = http.send(http.client.get(&callback)).await;
    assert_eq!(back.status, 303, "{}", back.text);
    assert!(back.location().starts_with(&server.url("/connect?token=")));
    back
}

/// The demo form provider: the picker lists both demo providers; a
/// `categories` filter leaves the utility alone; a wrong password shows the
/// error with the form again; the demo password links.
async fn connect_links_demo_utility_with_a_form(name: &str) {
    let server = Example::start(name).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.confidential_app(&server).await;
    let full_customer = json!({
        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                     "postalCode": "62701", "country": "US"},
    });

    // No filters: the picker shows the whole catalogue.
    let session = http
        .connect_session(&server, &app, &json!({"redirectUrl": REDIRECT}))
        .await;
    let page = http
        .send(http.client.get(session["url"].as_str().unwrap()))
        .await;
    let accepted = connect_post(&http, &server, &page.text, "terms", &[("action", "accept")]).await;
    let page = follow(&http, &accepted).await;
    assert_eq!(field(&page.text, "step"), "provider");
    // Categories by their labels, never raw slugs (issue 20 item 3).
    for provider in [
        "demo-energy",
        "demo-utility",
        "Home batteries · Electric vehicles",
        "Meters",
    ] {
        assert!(page.text.contains(provider), "{provider}: {}", page.text);
    }

    let session = http
        .connect_session(
            &server,
            &app,
            &json!({
                "redirectUrl": REDIRECT,
                "referenceId": "user-meter",
                "customerInfo": full_customer,
                "filters": {"categories": ["meter"]},
            }),
        )
        .await;
    let page = http
        .send(http.client.get(session["url"].as_str().unwrap()))
        .await;
    let accepted = connect_post(&http, &server, &page.text, "terms", &[("action", "accept")]).await;
    let page = follow(&http, &accepted).await;
    assert!(
        page.text.contains("Connect your Demo Utility account"),
        "{}",
        page.text
    );
    assert!(page.text.contains("type=\"password\""));
    let wrong = [
        ("action", "submit"),
        ("username", "ada"),
        ("password", "nope"),
    ];
    // The form again at once, the username kept, the reason a sentence.
    let page = connect_post(&http, &server, &page.text, "link", &wrong).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(field(&page.text, "step"), "link");
    assert!(page.text.contains("value=\"ada\""), "the username is kept");
    assert!(
        page.text.contains("password. You can try again"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("wrong username or password"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("name=\"password\""),
        "the form again, to retry"
    );
    assert!(!page.text.contains("nope"), "the password is not echoed");
    let right = [
        ("action", "submit"),
        ("username", "ada"),
        ("password", "demo-password"),
    ];
    let linked = connect_post(&http, &server, &page.text, "link", &right).await;
    let page = follow(&http, &linked).await;
    assert_eq!(
        field(&page.text, "step"),
        "consent",
        "a complete customer: no form"
    );
    assert!(
        page.text.contains("Demo Utility meter of ada"),
        "{}",
        page.text
    );
    let done = connect_post(
        &http,
        &server,
        &page.text,
        "consent",
        &[("decision", "approve")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.text);
    let connection =
        exchange_and_find_connection(&http, &server, &app, &done.location(), "user-meter").await;
    assert_eq!(connection["provider"], "demo-utility");
    assert_eq!(connection["accountReference"], "meter-ada");
}

/// The demo integrating app, on its own origin: its page loads the embed
/// script at its versioned URL with the SRI of the served bytes; its
/// backend makes Connect sessions with the app's secret and exchanges
/// codes; its origin is one of its app's `allowedOrigins` (the preflight
/// of a publishable-key session passes) and its redirect URI registered.
async fn demo_app_serves_its_page_and_backend_on_its_own_origin(name: &str) {
    let server = Example::with_demo_app(name, &[]).await;
    let http = Http::new(Duration::from_secs(10));
    let demo = &server.demo_app().to_owned();
    assert_ne!(demo, &server.base, "another origin");
    let page = http.send(http.client.get(format!("{demo}/"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("cross-origin-opener-policy"),
        Some("same-origin-allow-popups")
    );
    let sdk = oauth_connect::http::ConnectScript::classic();
    let tag = format!(
        "<script src=\"{}{}\" integrity=\"{}\" crossorigin=\"anonymous\">",
        server.base, sdk.versioned_path, sdk.integrity
    );
    assert!(page.text.contains(&tag), "{}", page.text);
    // The icon browsers ask for: no content rather than a 404.
    let icon = http
        .send(http.client.get(format!("{demo}/favicon.ico")))
        .await;
    assert_eq!(icon.status, 204);
    assert!(icon.text.is_empty());
    let script = http
        .client
        .get(server.url(&sdk.versioned_path))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA384, &script);
    use base64::Engine as _;
    assert_eq!(
        format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        ),
        sdk.integrity
    );

    let preflight = http
        .send(
            http.client
                .request(reqwest::Method::OPTIONS, server.url("/v1/connect/sessions"))
                .header("origin", demo.as_str())
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(demo.as_str())
    );

    // The page gives the browser its cookie, and a state bound to it.
    let cookie = page
        .header("set-cookie")
        .expect("the demo app's browser cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("demo_app_browser="), "{cookie}");
    assert!(page.text.contains(" data-state=\""), "{}", page.text);
    let without_cookie = http
        .send(
            http.client
                .post(format!("{demo}/api/connect-token"))
                .json_body(&json!({})),
        )
        .await;
    assert_eq!(without_cookie.status, 400, "{}", without_cookie.text);
    let made = http
        .send(
            http.client
                .post(format!("{demo}/api/connect-token"))
                .header("cookie", cookie.as_str())
                .json_body(&json!({})),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let state = made.json()["state"].as_str().unwrap().to_owned();
    let token = made.json()["connectToken"].as_str().unwrap().to_owned();
    assert!(token.starts_with("oc_ct_"));
    let hosted = http
        .send(
            http.client
                .get(server.url("/connect"))
                .query(&[("token", token.as_str())]),
        )
        .await;
    assert_eq!(hosted.status, 200);
    assert!(hosted.text.contains("Demo web app"));

    let refused = http
        .send(
            http.client
                .post(format!("{demo}/api/exchange"))
                .header("cookie", cookie.as_str())
                .json_body(&json!({"code": "oc_code_not-a-real-one", "state": state})),
        )
        .await;
    assert_eq!(refused.json()["ok"], false);
    assert_eq!(refused.json()["status"], 400, "the token endpoint said no");
    let denied = format!(
        "{demo}/callback?{}",
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("error", "access_denied"), ("state", state.as_str())])
            .finish()
    );
    let back = http
        .send(http.client.get(&denied).header("cookie", cookie.as_str()))
        .await;
    assert_eq!(back.status, 200, "{}", back.text);
    assert!(back.text.contains("access_denied"));
    // Without the state, the error is not taken for this browser's.
    let back = http
        .send(
            http.client
                .get(format!("{demo}/callback?error=access_denied"))
                .header("cookie", cookie.as_str()),
        )
        .await;
    assert_eq!(back.status, 400, "{}", back.text);
    assert!(!back.text.contains("access_denied"));
}

/// Issue 17, item 10: the demo app checks `state` at its callback (RFC
/// 6749 §10.12). A real code for the demo app's browser comes back with a
/// forged `state`, with the right one but no cookie, with the right one
/// and another browser's cookie, and to `/api/exchange` with a forged one:
/// each is refused and exchanges nothing, which the last call proves by
/// exchanging that same (single-use) code with the right state and cookie.
async fn demo_app_checks_state_at_its_callback(name: &str) {
    let server = Example::with_demo_app(name, &[]).await;
    let http = Http::new(Duration::from_secs(10));
    let demo = &server.demo_app().to_owned();
    let browser_cookie = async || {
        let page = http.send(http.client.get(format!("{demo}/"))).await;
        let cookie = page
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        cookie.to_owned()
    };
    let cookie = browser_cookie().await;
    let other_cookie = browser_cookie().await;
    assert_ne!(cookie, other_cookie);
    let made = http
        .send(
            http.client
                .post(format!("{demo}/api/connect-token"))
                .header("cookie", cookie.as_str())
                .json_body(&json!({})),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let token = made.json()["connectToken"].as_str().unwrap().to_owned();
    let state = made.json()["state"].as_str().unwrap().to_owned();
    let page = http
        .send(
            http.client
                .get(server.url("/connect"))
                .query(&[("token", token.as_str())]),
        )
        .await;
    let accepted = connect_post(&http, &server, &page.text, "terms", &[("action", "accept")]).await;
    let page = follow(&http, &accepted).await;
    let chosen = connect_post(
        &http,
        &server,
        &page.text,
        "provider",
        &[("provider", "demo-utility")],
    )
    .await;
    let page = follow(&http, &chosen).await;
    let right = [
        ("action", "submit"),
        ("username", "ada"),
        ("password", "demo-password"),
    ];
    let linked = connect_post(&http, &server, &page.text, "link", &right).await;
    let page = follow(&http, &linked).await;
    let done = connect_post(
        &http,
        &server,
        &page.text,
        "consent",
        &[("decision", "approve")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.text);
    let back = done.location();
    assert!(back.starts_with(&format!("{demo}/callback?")), "{back}");
    let query: Vec<(String, String)> = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let get = |n: &str| query.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("state"), state);
    let code = get("code");
    let with_state = |state: &str| {
        format!(
            "{demo}/callback?{}",
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("code", code.as_str()),
                    ("state", state),
                    ("iss", &get("iss"))
                ])
                .finish()
        )
    };
    let refused = |reply: &Reply, what: &str| {
        assert_eq!(reply.status, 400, "{what}: {}", reply.text);
        assert!(
            reply.text.contains("nothing was exchanged"),
            "{what}: {}",
            reply.text
        );
        assert!(!reply.text.contains("\"ok\""), "{what}: {}", reply.text);
    };
    let forged = http
        .send(
            http.client
                .get(with_state("forged"))
                .header("cookie", cookie.as_str()),
        )
        .await;
    refused(&forged, "a forged state");
    // The right state, from a browser that was not given it.
    let no_cookie = http.send(http.client.get(&back)).await;
    refused(&no_cookie, "no cookie");
    let elsewhere = http
        .send(
            http.client
                .get(&back)
                .header("cookie", other_cookie.as_str()),
        )
        .await;
    refused(&elsewhere, "another browser's cookie");
    let api = http
        .send(
            http.client
                .post(format!("{demo}/api/exchange"))
                .header("cookie", cookie.as_str())
                .json_body(&json!({"code": code, "state": "forged"})),
        )
        .await;
    assert_eq!(api.status, 400, "{}", api.text);
    assert_eq!(api.json()["ok"], false);
    // The code was never spent: the right state and cookie exchange it.
    let exchanged = http
        .send(http.client.get(&back).header("cookie", cookie.as_str()))
        .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text);
    assert!(
        exchanged.text.contains("The backend exchanged the code"),
        "{}",
        exchanged.text
    );
    assert!(exchanged.text.contains("\"ok\":true"), "{}", exchanged.text);
}

async fn every_documented_path_is_served(name: &str) {
    let server = Example::start(name).await;
    let http = Http::new(Duration::from_secs(10));
    let served = http
        .send(http.client.get(server.url("/openapi.json")))
        .await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), *http.spec.doc());
    for (template, methods, _) in http.spec.paths() {
        let path = documented_path(&template);
        for method in methods {
            let method =
                reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let reply = http
                .send(http.client.request(method.clone(), server.url(&path)))
                .await;
            assert_ne!(reply.status, 404, "{method} {path}");
            assert_ne!(reply.status, 405, "{method} {path}");
        }
    }
}

/// `GET /v1/me` is the only method of the protected resource: any other
/// gets the JSON 405 with `Allow: GET` that every API route answers with
/// (never a bare 405, nor a 404).
async fn me_with_another_method_is_a_json_405(name: &str) {
    let server = Example::start_with(name, false).await;
    let http = Http::new(Duration::from_secs(10));
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let reply = http
            .send(http.client.request(method.clone(), server.url("/v1/me")))
            .await;
        assert_eq!(reply.status, 405, "{method}: {}", reply.text);
        assert_eq!(reply.header("allow"), Some("GET"), "{method}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{method}"
        );
        assert_eq!(reply.json()["error"], "method_not_allowed", "{method}");
    }
    // GET still is the resource (a 401 without a credential).
    let get = http.send(http.client.get(server.url("/v1/me"))).await;
    assert_eq!(get.status, 401);
}

/// The knobs: `PORT` (no `--addr`) is the port it listens on;
/// `OAUTH_CONNECT_ISSUER` is the issuer the metadata (RFC 8414 §2), the
/// hosted page's URL and the redirect's `iss` (RFC 9207) name, and an
/// `https` one makes the Connect binding cookie `Secure; SameSite=None;
/// Partitioned`. A malformed `PORT` is refused, naming it.
async fn port_and_issuer_knobs(name: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = "https://auth.example.test";
    let server = Example::start_args(
        name,
        &[],
        false,
        &[
            ("PORT", &port.to_string()),
            ("OAUTH_CONNECT_ISSUER", issuer),
        ],
    )
    .await;
    assert_eq!(server.base, format!("http://127.0.0.1:{port}"));
    let http = Http::new(Duration::from_secs(10));
    let metadata = http
        .send(
            http.client
                .get(server.url("/.well-known/oauth-authorization-server")),
        )
        .await
        .json();
    assert_eq!(metadata["issuer"], issuer);
    assert_eq!(metadata["token_endpoint"], format!("{issuer}/oauth/token"));
    let app = http.confidential_app(&server).await;
    let session = http
        .connect_session(
            &server,
            &app,
            &json!({"redirectUrl": REDIRECT, "customerInfo": {
                "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                             "postalCode": "62701", "country": "US"}}}),
        )
        .await;
    let url = session["url"].as_str().unwrap();
    let path = url
        .strip_prefix(issuer)
        .unwrap_or_else(|| panic!("the page is on the issuer: {url}"));
    let page = http.send(http.client.get(server.url(path))).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("__Host-oc_connect_browser=")
            && cookie.contains("; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"),
        "an https issuer's binding cookie is host-only: {cookie}"
    );
    let approved = connect_decide(&http, &server, &page.text, "approve", &[]).await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    assert_eq!(
        query_param(&approved.location(), "iss").as_deref(),
        Some(issuer)
    );

    let refused = Command::new(example_binary(name))
        .env("PORT", "eighty")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("PORT must be a port number"), "{stderr}");
}

/// An expired Connect session over real HTTP (sessions of 60 s, the
/// shortest `OAUTH_CONNECT_SESSION_LIFETIME`): the hosted page answers 410
/// with a page saying so and what to do, and a decision posted from the
/// page opened before is refused the same way; never a redirect.
async fn connect_session_expires_on_the_hosted_page(name: &str) {
    let server = Example::start_env(
        name,
        false,
        &[
            ("OAUTH_CONNECT_SESSION_LIFETIME", "60"),
            // The expired session stays (and says so) for the test's length.
            ("OAUTH_CONNECT_PURGE_SECONDS", "3600"),
        ],
    )
    .await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.confidential_app(&server).await;
    let session = http
        .connect_session(&server, &app, &json!({"redirectUrl": REDIRECT}))
        .await;
    let url = session["url"].as_str().unwrap().to_owned();
    let page = http.send(http.client.get(&url)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    tokio::time::sleep(Duration::from_secs(61)).await;
    let expired = http.send(http.client.get(&url)).await;
    assert_eq!(expired.status, 410, "{}", expired.text);
    assert!(is_html(&expired) && expired.header("location").is_none());
    assert!(
        expired.text.contains("This link has expired")
            && expired
                .text
                .contains("Go back to the application and start again"),
        "{}",
        expired.text
    );
    let late = connect_decide(&http, &server, &page.text, "approve", &[]).await;
    assert_eq!(late.status, 410, "{}", late.text);
    assert!(late.header("location").is_none());
    assert!(late.text.contains("This link has expired"));
}

#[cfg(unix)]
async fn stops_gracefully_on_sigterm(name: &str) {
    let mut server = Example::start(name).await;
    server.stop_gracefully().await;
}

// ---- slow clients (issue 17, item 5) ----

/// The example's `host:port`.
fn authority(server: &Example) -> &str {
    server.base.strip_prefix("http://").unwrap()
}

async fn connect(server: &Example) -> TcpStream {
    TcpStream::connect(authority(server)).await.unwrap()
}

/// What the server sends on `stream` until it closes it (end of stream or
/// reset), waiting `within` at most: `None` if it is still open then.
async fn read_to_close(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> Option<Vec<u8>> {
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()
}

/// Reads one answer whose body has a `Content-Length`, leaving the
/// connection open: its status line and body.
async fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if body.len() >= length {
                let status = head.lines().next().unwrap().to_owned();
                return (status, body.to_owned());
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(n > 0, "closed before the answer: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

const METADATA_REQUEST: &[u8] =
    b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: e2e\r\n\r\n";
/// A request head cut short: its headers never end.
const HALF_HEAD: &[u8] = b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: e2e\r\n";
/// A head whose headers go on and on, to send a byte at a time.
const TRICKLED_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: e2e\r\nX-Trickle: \
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// A complete head announcing 1000 bytes of body, and 10 of them.
const HALF_BODY: &[u8] = b"POST /oauth/token HTTP/1.1\r\nHost: e2e\r\n\
    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type";

/// The issue's attack: 300 connections opened by a client that never
/// finishes them (150 request heads cut short, 150 bodies stalled after 10
/// of 1000 bytes). While they are all open, a new client is answered at
/// once. The timeouts are long here so that what is open stays open while
/// the test looks; their closing is the next test's.
async fn half_sent_requests_leave_the_server_answering(name: &str) {
    let server = Example::start_env(
        name,
        false,
        &[
            ("OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS", "120"),
            ("OAUTH_CONNECT_BODY_TIMEOUT_SECONDS", "120"),
        ],
    )
    .await;
    let mut held = Vec::new();
    for i in 0..300 {
        let mut stream = connect(&server).await;
        stream
            .write_all(if i % 2 == 0 { HALF_HEAD } else { HALF_BODY })
            .await
            .unwrap();
        held.push(stream);
    }
    let http = Http::new(Duration::from_secs(10));
    for path in ["/.well-known/oauth-authorization-server", "/openapi.json"] {
        let reply = http.send(http.client.get(server.url(path))).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    // Answered while every one of them was still open (and unanswered).
    for stream in &held {
        let mut buf = [0u8; 64];
        let read = stream.try_read(&mut buf);
        assert!(
            matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a held connection was answered or closed: {read:?}"
        );
    }
}

/// With the timeouts shortened (`OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS=1`,
/// `OAUTH_CONNECT_BODY_TIMEOUT_SECONDS=2`), every way of holding a
/// connection ends with its close, never before its timeout: a head cut
/// short, no byte at all, a head trickled a byte at a time (the timeout is
/// for the whole head), half of a keep-alive connection's second request
/// (actix-web alone times only the first), an idle keep-alive connection;
/// a body stalled after its head is answered 408 (RFC 9110 §15.5.9) and
/// closed; a reader that takes no response is abandoned. The upper bounds
/// are generous: the test is about closing, not speed.
async fn stalled_connections_are_closed_after_the_timeouts(name: &str) {
    let header = Duration::from_secs(1);
    let body = Duration::from_secs(2);
    let server = Example::start_env(
        name,
        false,
        &[
            ("OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS", "1"),
            ("OAUTH_CONNECT_BODY_TIMEOUT_SECONDS", "2"),
        ],
    )
    .await;
    let within = Duration::from_secs(20);
    // Closed without an answer, at the earliest `header` after `started`.
    let closed_unanswered = |case: &'static str, started: Instant, got: Option<Vec<u8>>| {
        let got = got.unwrap_or_else(|| panic!("{case}: still open after {within:?}"));
        assert!(
            got.is_empty(),
            "{case}: answered {}",
            String::from_utf8_lossy(&got)
        );
        assert!(
            started.elapsed() >= header,
            "{case}: closed before the timeout"
        );
    };

    let half_head = async {
        let started = Instant::now();
        let mut stream = connect(&server).await;
        stream.write_all(HALF_HEAD).await.unwrap();
        closed_unanswered(
            "half a head",
            started,
            read_to_close(&mut stream, within).await,
        );
    };
    let silent = async {
        let started = Instant::now();
        let mut stream = connect(&server).await;
        closed_unanswered("no byte", started, read_to_close(&mut stream, within).await);
    };
    let trickled = async {
        let started = Instant::now();
        let (mut reader, mut writer) = connect(&server).await.into_split();
        // A byte every 100 ms, for 10 s unless refused: never 1 s without
        // one, so only a timeout on the whole head ends it early.
        let trickle = async move {
            for byte in TRICKLED_HEAD.iter().take(100) {
                if writer.write_all(&[*byte]).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        };
        let (got, refused) = tokio::join!(read_to_close(&mut reader, within), trickle);
        closed_unanswered("a trickled head", started, got);
        assert!(
            refused,
            "a trickled head: closed only once the trickle ended"
        );
    };
    let second_half_head = async {
        let started = Instant::now();
        let mut stream = connect(&server).await;
        stream.write_all(METADATA_REQUEST).await.unwrap();
        let (status, _) = read_answer(&mut stream).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        stream.write_all(HALF_HEAD).await.unwrap();
        closed_unanswered(
            "half of a second request",
            started,
            read_to_close(&mut stream, within).await,
        );
    };
    let idle = async {
        let started = Instant::now();
        let mut stream = connect(&server).await;
        stream.write_all(METADATA_REQUEST).await.unwrap();
        let (status, _) = read_answer(&mut stream).await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        closed_unanswered(
            "an idle keep-alive connection",
            started,
            read_to_close(&mut stream, within).await,
        );
    };
    let stalled_body = async {
        let started = Instant::now();
        let mut stream = connect(&server).await;
        stream.write_all(HALF_BODY).await.unwrap();
        let got = read_to_close(&mut stream, within)
            .await
            .expect("a stalled body's connection closed");
        assert!(started.elapsed() >= body, "closed before the body timeout");
        let got = String::from_utf8_lossy(&got).into_owned();
        let (head, json) = got.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408 "), "{got}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{got}"
        );
        let json: Value = serde_json::from_str(json).unwrap();
        assert_eq!(json["error"], "request_timeout", "{got}");
    };
    let stalled_reader = async {
        // 200 OpenAPI documents asked for at once (about 17 MB) through a
        // small receive buffer that is never read: the server's writes
        // stall as soon as the buffers are full.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket
            .connect(authority(&server).parse().unwrap())
            .await
            .unwrap();
        let request = b"GET /openapi.json HTTP/1.1\r\nHost: e2e\r\n\r\n".repeat(200);
        stream.write_all(&request).await.unwrap();
        // The body timeout with room to spare, then everything it sent.
        tokio::time::sleep(body + Duration::from_secs(8)).await;
        let got = read_to_close(&mut stream, within)
            .await
            .expect("a stalled reader's connection closed");
        let answers = String::from_utf8_lossy(&got)
            .matches("HTTP/1.1 200 OK")
            .count();
        assert!(answers < 200, "all {answers} answers were written");
    };
    tokio::join!(
        half_head,
        silent,
        trickled,
        second_half_head,
        idle,
        stalled_body,
        stalled_reader
    );

    // The server still answers.
    let http = Http::new(Duration::from_secs(10));
    let reply = http
        .send(
            http.client
                .get(server.url("/.well-known/oauth-authorization-server")),
        )
        .await;
    assert_eq!(reply.status, 200);
}

/// `OAUTH_CONNECT_MAX_CONNECTIONS`: with every connection allowed held
/// (4, by heads that never end), the next client waits, and is answered
/// once the header timeout (2 s) has closed one of them, never before.
async fn connections_over_the_cap_wait_for_a_free_one(name: &str) {
    let header = Duration::from_secs(2);
    let server = Example::start_env(
        name,
        false,
        &[
            ("OAUTH_CONNECT_MAX_CONNECTIONS", "4"),
            ("OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS", "2"),
        ],
    )
    .await;
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&server).await;
        stream.write_all(HALF_HEAD).await.unwrap();
        held.push(stream);
    }
    let mut next = connect(&server).await;
    next.write_all(METADATA_REQUEST).await.unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), read_answer(&mut next))
        .await
        .expect("answered once a held connection closed");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("\"issuer\""), "{body}");
    assert!(
        started.elapsed() >= header,
        "answered while every connection allowed was held"
    );
    for mut stream in held {
        let got = read_to_close(&mut stream, Duration::from_secs(20)).await;
        assert_eq!(got.as_deref(), Some(&[][..]), "closed, unanswered");
    }
}

/// A malformed limit is refused at start, naming the variable.
async fn slow_client_knobs_are_checked(name: &str) {
    for (variable, value) in [
        ("OAUTH_CONNECT_HEADER_TIMEOUT_SECONDS", "0"),
        ("OAUTH_CONNECT_BODY_TIMEOUT_SECONDS", "ten"),
        ("OAUTH_CONNECT_MAX_CONNECTIONS", "0"),
    ] {
        let mut child = Command::new(example_binary(name))
            .args(["--addr", "127.0.0.1:0"])
            .env(variable, value)
            .env("OAUTH_CONNECT_DEMO_APP", "off")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // It exits at once; one that serves instead is stopped.
        let mut exited = None;
        for _ in 0..200 {
            exited = child.try_wait().unwrap();
            if exited.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let exited = exited.unwrap_or_else(|| panic!("{variable}={value} was accepted: {stderr}"));
        assert!(!exited.success(), "{variable}={value}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

/// `OAUTH_CONNECT_MAX_CONNECTION_TAGS` reaches the server (a session with
/// one tag more than it allows is a 400 naming `tags`), and it and
/// `OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS` out of range stop the
/// server at start, naming the variable.
async fn retention_and_tag_knobs(name: &str) {
    let server =
        Example::start_env(name, false, &[("OAUTH_CONNECT_MAX_CONNECTION_TAGS", "2")]).await;
    let http = Http::new(Duration::from_secs(10));
    let app = http.confidential_app(&server).await;
    let session = |tags: Value| {
        http.client
            .post(server.url("/v1/connect/sessions"))
            .basic_auth(&app.client_id, Some(&app.secret))
            .json_body(&json!({"redirectUrl": REDIRECT, "tags": tags}))
    };
    let refused = http.send(session(json!(["a", "b", "c"]))).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json()["field"], "tags", "{}", refused.text);
    let created = http.send(session(json!(["a", "b"]))).await;
    assert_eq!(created.status, 201, "{}", created.text);

    for (variable, value) in [
        ("OAUTH_CONNECT_MAX_CONNECTION_TAGS", "0"),
        ("OAUTH_CONNECT_MAX_CONNECTION_TAGS", "101"),
        ("OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS", "59"),
        ("OAUTH_CONNECT_REVOKED_GRANT_RETENTION_SECONDS", "a day"),
    ] {
        let stderr = refused_at_start(name, &["--addr", "127.0.0.1:0"], &[(variable, value)]).await;
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}

/// Starts `name` with `args` and `env` and expects it to refuse to start:
/// its standard error.
async fn refused_at_start(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut child = Command::new(example_binary(name))
        .args(args)
        .env_remove("OAUTH_CONNECT_ISSUER")
        .env_remove("DATABASE_URL")
        .env("OAUTH_CONNECT_DEMO_APP", "off")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It exits at once; one that serves instead is stopped.
    let mut exited = None;
    for _ in 0..200 {
        exited = child.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let exited = exited.unwrap_or_else(|| panic!("{args:?} {env:?} was accepted: {stderr}"));
    assert!(!exited.success(), "{args:?} {env:?}: {stderr}");
    stderr
}

/// `OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT` (load tests only): off by default
/// (the consent page is shown); set, a valid authorization request gets
/// its code at once for the named user, without a page (the host's
/// consent policy, RFC 6749 §4.1.1-§4.1.2), the code still needing its
/// PKCE verifier (RFC 7636 §4.6) and `prompt=consent` still showing the
/// page; and it is refused at start unless the issuer and the listening
/// address are loopback, or with a malformed user id.
async fn dangerous_auto_consent_is_for_loopback_only(name: &str) {
    const KNOB: &str = "OAUTH_CONNECT_DANGEROUS_AUTO_CONSENT";
    let http = Http::new(Duration::from_secs(10));
    let authorize = |server: &Example, client_id: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("state", "load-state"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ];
        pairs.extend_from_slice(extra);
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        http.client
            .get(server.url(&format!("/oauth/authorize?{query}")))
    };

    // Off by default: the consent page.
    let plain = Example::start_with(name, false).await;
    let app = http.create_app(&plain, &public_app()).await.json();
    let page = http
        .send(authorize(&plain, app["clientId"].as_str().unwrap(), &[]))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(is_html(&page) && page.header("location").is_none());
    drop(plain);

    let server = Example::start_env(name, false, &[(KNOB, "load-user")]).await;
    assert!(
        server
            .stdout()
            .iter()
            .any(|line| line.contains("DANGEROUS") && line.contains(KNOB)),
        "the banner says so: {:#?}",
        server.stdout()
    );
    let app = http.create_app(&server, &public_app()).await.json();
    let client_id = app["clientId"].as_str().unwrap();
    let approved = http.send(authorize(&server, client_id, &[])).await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    let to = approved.location();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("load-state"));
    assert_eq!(query_param(&to, "iss"), Some(server.base.clone()));
    let code = query_param(&to, "code").expect("a code");
    let exchange = |verifier: &'static str| {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("client_id", client_id),
                ("code_verifier", verifier),
            ])
            .finish();
        http.client
            .post(server.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let wrong = http
        .send(exchange("a-wrong-verifier-of-enough-length-0123456789abc"))
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(wrong.json()["error"], "invalid_grant");
    let tokens = http
        .send(exchange("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.json()["access_token"].as_str().unwrap().to_owned();
    let me = http
        .send(http.client.get(server.url("/v1/me")).bearer_auth(&access))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["subject"], "load-user");
    let asked = http
        .send(authorize(&server, client_id, &[("prompt", "consent")]))
        .await;
    assert_eq!(
        asked.status, 200,
        "prompt=consent shows the page: {}",
        asked.text
    );
    assert!(is_html(&asked));
    drop(server);

    let not_loopback = [
        (
            vec!["--addr", "127.0.0.1:0"],
            vec![
                (KNOB, "load-user"),
                ("OAUTH_CONNECT_ISSUER", "https://auth.example.test"),
            ],
        ),
        (
            vec!["--addr", "0.0.0.0:0"],
            vec![
                (KNOB, "load-user"),
                ("OAUTH_CONNECT_ISSUER", "http://127.0.0.1:9"),
            ],
        ),
    ];
    for (args, env) in &not_loopback {
        let stderr = refused_at_start(name, args, env).await;
        assert!(
            stderr.contains(KNOB) && stderr.contains("loopback"),
            "{args:?} {env:?}: {stderr}"
        );
    }
    let stderr = refused_at_start(name, &["--addr", "127.0.0.1:0"], &[(KNOB, "load\tuser")]).await;
    assert!(
        stderr.contains(KNOB) && stderr.contains("user id"),
        "{stderr}"
    );
}

/// Issue 17, items 3 and 8, through the examples' adapters: each request
/// carries its socket's peer (every 127.0.0.x is a client of its own), so
/// the failed admin keys of one address lock that address only; and
/// `X-Forwarded-For` is believed from `OAUTH_CONNECT_TRUSTED_PROXIES` only.
async fn limits_count_each_client_address(name: &str) {
    let server = Example::start_env(
        name,
        false,
        &[("OAUTH_CONNECT_TRUSTED_PROXIES", "127.0.0.4/32")],
    )
    .await;
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let (stranger, visitor, proxy) = (from(2), from(3), from(4));
    let apps = |client: &reqwest::Client, key: &str, forwarded_for: Option<&str>| {
        let mut request = client.get(server.url("/v1/oauth-apps")).bearer_auth(key);
        if let Some(client) = forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        async move { request.send().await.unwrap() }
    };
    for n in 0..20 {
        let guess = format!("{n:0>40}");
        let refused = apps(&stranger, &guess, None).await;
        assert_eq!(refused.status(), 401, "guess {n}");
    }
    let locked = apps(&stranger, ADMIN_KEY, None).await;
    assert_eq!(locked.status(), 429, "the stranger's address is locked");
    assert!(locked.headers().contains_key("retry-after"));
    // A header from a client that is no trusted proxy picks no address.
    let forged = apps(&stranger, ADMIN_KEY, Some("127.0.0.9")).await;
    assert_eq!(forged.status(), 429);
    // Another address is another client.
    assert_eq!(apps(&visitor, ADMIN_KEY, None).await.status(), 200);
    // Through the trusted proxy, the client its header names.
    assert_eq!(
        apps(&proxy, ADMIN_KEY, Some("127.0.0.2")).await.status(),
        429
    );
    assert_eq!(
        apps(&proxy, ADMIN_KEY, Some("127.0.0.3")).await.status(),
        200
    );
}

/// The suite, once per example server.
macro_rules! against_both {
    ($($(#[$meta:meta])* $test:ident),* $(,)?) => {
        mod axum_example {
            $( $(#[$meta])* #[tokio::test] async fn $test() { super::$test("axum").await } )*
        }
        mod actix_example {
            $( $(#[$meta])* #[tokio::test] async fn $test() { super::$test("actix").await } )*
        }
    };
}

against_both!(
    management_api_answers_every_status,
    oauth2_crate_drives_a_public_client_flow,
    browser_error_paths,
    connect_path_with_a_scoped_key,
    connect_denial_reuse_and_unknown_tokens,
    connect_links_demo_energy_through_the_upstream,
    connect_links_demo_utility_with_a_form,
    demo_app_serves_its_page_and_backend_on_its_own_origin,
    demo_app_checks_state_at_its_callback,
    every_documented_path_is_served,
    me_with_another_method_is_a_json_405,
    port_and_issuer_knobs,
    connect_session_expires_on_the_hosted_page,
    limits_count_each_client_address,
    #[cfg(unix)]
    stops_gracefully_on_sigterm,
    half_sent_requests_leave_the_server_answering,
    stalled_connections_are_closed_after_the_timeouts,
    connections_over_the_cap_wait_for_a_free_one,
    slow_client_knobs_are_checked,
    retention_and_tag_knobs,
    dangerous_auto_consent_is_for_loopback_only,
);

/// Whether this runs in CI (`CI` set, and not to `false` or `0`, as CI
/// services and `.ci/run` set it).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// `node` and Chromium are there (else the browser tests say so and
/// skip; in CI they fail), and `tests/browser` has its packages; the
/// artifacts directory.
fn browser_prerequisites(test: &str) -> Option<(PathBuf, PathBuf, String)> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_found = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_found || !std::path::Path::new(&chromium).exists() {
        let why = format!(
            "{test} needs `node` and {chromium} \
             (apt-get install -y chromium nodejs npm; .ci/run installs them)"
        );
        // In CI a browser test never passes by skipping.
        assert!(!in_ci(), "CI is set: {why}");
        println!("SKIPPED {why}");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    // One `npm ci` at a time, on the whole machine: the browser tests run
    // in parallel, and two installs into one folder break each other.
    if let Err(why) = npm_support::npm_ci(&dir) {
        panic!("{why}");
    }
    let exe = std::env::current_exe().unwrap();
    let artifacts = exe.ancestors().nth(3).unwrap().join("browser-artifacts");
    Some((dir, artifacts, chromium))
}

/// Headless Chromium (Playwright, `tests/browser/embed.mjs`) drives the
/// demo integrating app of the axum example: Connect in a popup (a
/// publishable key; Demo Energy's sign-in in a window of its own) and in a
/// modal (a Connect token from the app's backend; focus trapped), each
/// `onSuccess` code exchanged by the app's backend; Escape, the user
/// closing the popup (`popup-closed`), a popup without a click
/// (`popup-blocked`), Deny (`onExit` `denied`) and Exit (`user-cancelled`),
/// a used token (`session-used`), forged messages (another origin, or a
/// window of the server's origin the script did not open) ignored, a page
/// at an unregistered origin opening the hosted page and hearing nothing,
/// a modal from an origin that may not frame it (`modal-not-allowed`), an
/// unreachable server (`network`), the opener closed before the end (the
/// result page falls back to the redirect), `response_mode=web_message` in
/// a popup, the ES module twin, and a token
/// older than the session lifetime on a second server with 60-second
/// sessions (`session-expired`). Screenshots land in
/// `target/browser-artifacts/embed-*.png`. Skipped, saying so, only when
/// `node` or Chromium is missing, and never in CI (`CI` set).
#[tokio::test]
async fn browser_connect_embed() {
    let Some((dir, artifacts, chromium)) = browser_prerequisites("browser_connect_embed") else {
        return;
    };
    let (server, expiry) = tokio::join!(
        Example::with_demo_app("axum", &[]),
        Example::with_demo_app(
            "axum",
            &[
                ("OAUTH_CONNECT_SESSION_LIFETIME", "60"),
                // Expired sessions stay (and say so) for the test's length.
                ("OAUTH_CONNECT_PURGE_SECONDS", "3600"),
            ],
        )
    );
    let vars = [
        ("OAUTH_CONNECT_BASE", server.base.clone()),
        ("OAUTH_CONNECT_DEMO_APP", server.demo_app().to_owned()),
        ("OAUTH_CONNECT_ADMIN_KEY", ADMIN_KEY.to_owned()),
        ("EXPIRY_BASE", expiry.base.clone()),
        ("EXPIRY_DEMO_APP", expiry.demo_app().to_owned()),
        ("ARTIFACTS_DIR", artifacts.display().to_string()),
        ("CHROMIUM", chromium),
    ];
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("embed.mjs")
            .current_dir(dir)
            .envs(vars)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "embed.mjs failed:\n{stdout}\n{stderr}"
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
    assert_eq!(
        result["done"],
        json!([
            "popup-success",
            "modal-success",
            "modal-escape",
            "popup-closed",
            "popup-blocked",
            "denied",
            "session-used",
            "session-other-browser",
            "forged",
            "unregistered",
            "modal-not-allowed",
            "opener-gone",
            "web-message",
            "module",
            "session-expired"
        ])
    );
    // The codes the browser brought back were exchanged by the demo app's
    // backend: the server holds the connections.
    let http = Http::new(Duration::from_secs(10));
    let connections = http
        .send(http.admin(http.client.get(server.url("/v1/connections?perPage=100"))))
        .await
        .json();
    // The page's `referenceId` is an unverified label of browser-created
    // connections, never their reference id.
    let claimed: Vec<&str> = connections["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["browserCreated"] == true)
        .filter_map(|c| c["claimedReferenceId"].as_str())
        .collect();
    assert!(claimed.contains(&"demo-browser-user"), "{claimed:?}");
}

/// The hosted pages as a product (issue 20), in headless Chromium against
/// the axum example started with a brand (`tests/browser/pages.mjs`):
/// axe-core on every page and step, light and dark, at 390 and 1280 px,
/// finds no serious or critical violation; every Connect step shows the
/// brand, "Step N of M", a title of its own and focus on its heading; the
/// picker's filter narrows the providers without a page load; a session
/// with `"locale": "fr"` and a browser sending `Accept-Language: es` see
/// every step in their language with no English button label; a
/// keyboard-only walk completes the flow. Screenshots of every step land in
/// `target/browser-artifacts/pages-*.png`. Skipped, saying so, only when
/// `node` or Chromium is missing, and never in CI.
#[tokio::test]
async fn browser_hosted_pages() {
    let Some((dir, artifacts, chromium)) = browser_prerequisites("browser_hosted_pages") else {
        return;
    };
    const BRAND: &str = "Acme Energy";
    let server = Example::start_env(
        "axum",
        true,
        &[
            ("OAUTH_CONNECT_BRAND_NAME", BRAND),
            ("OAUTH_CONNECT_BRAND_COLOR", "#0f766e"),
            ("OAUTH_CONNECT_SUPPORT_URL", "https://acme.example/help"),
        ],
    )
    .await;
    let base = server.base.clone();
    let steps = ["1-terms", "2-picker", "3-link", "4-customer", "5-consent"];
    for step in steps {
        let _ = std::fs::remove_file(artifacts.join(format!("pages-{step}-1280-light.png")));
    }
    let shots = artifacts.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("pages.mjs")
            .current_dir(dir)
            .env("OAUTH_CONNECT_BASE", base)
            .env("OAUTH_CONNECT_ADMIN_KEY", ADMIN_KEY)
            .env("OAUTH_CONNECT_BRAND_NAME", BRAND)
            .env("ARTIFACTS_DIR", &artifacts)
            .env("CHROMIUM", chromium)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pages.mjs failed:\n{stdout}\n{stderr}"
    );
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
    // 4 modes × 10 pages, and the translated walks.
    assert!(result["axe"].as_u64().unwrap() >= 40, "{result}");
    assert!(result["titles"].as_u64().unwrap() >= 5, "{result}");
    for step in steps {
        let shot = shots.join(format!("pages-{step}-1280-light.png"));
        assert!(shot.exists(), "a screenshot of {step}: {}", shot.display());
    }
}

/// Headless Chromium (Playwright, `tests/browser/consent.mjs`) clicks
/// through the consent page of the axum example (approve as the demo user,
/// deny, and a bad redirect URI) and its hosted Connect page through the
/// demo catalogue (terms, picker, Demo Energy's sign-in at the upstream
/// server, the customer step with prefilled fields checked and the rest
/// filled in, consent, approve; a second session denied); screenshots land
/// in `target/browser-artifacts/` (`picker.png`, `link.png`, `upstream.png`,
/// `customer.png`, `consent.png`, `done.png`, …). The codes it brings back
/// are exchanged here, and the connection carries the upstream account.
/// Skipped, saying so, only when `node` or `/usr/bin/chromium` is missing,
/// and never in CI (`CI` set): there it fails (`.ci/run` installs both).
#[tokio::test]
async fn browser_consent_page() {
    let Some((dir, artifacts, chromium)) = browser_prerequisites("browser_consent_page") else {
        return;
    };

    let server = Example::start("axum").await;
    let base = server.base.clone();
    let script_dir = dir.clone();
    let chromium_path = chromium.clone();
    // Screenshots of an earlier run do not count.
    let shots = artifacts.clone();
    let steps = ["terms", "picker", "link", "upstream", "customer", "consent"];
    for step in steps {
        let _ = std::fs::remove_file(shots.join(format!("{step}.png")));
    }
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("consent.mjs")
            .current_dir(script_dir)
            .env("OAUTH_CONNECT_BASE", base)
            .env("OAUTH_CONNECT_ADMIN_KEY", ADMIN_KEY)
            .env("ARTIFACTS_DIR", &artifacts)
            .env("CHROMIUM", chromium_path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "consent.mjs failed:\n{stdout}\n{stderr}"
    );
    for step in steps {
        let shot = shots.join(format!("{step}.png"));
        assert!(
            shot.exists(),
            "a screenshot of the {step} step: {}",
            shot.display()
        );
    }
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|r| serde_json::from_str(r).unwrap())
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));

    // Finish the flow the browser started: the code works once.
    let http = Http::new(Duration::from_secs(10));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", result["code"].as_str().unwrap()),
            ("redirect_uri", result["redirectUri"].as_str().unwrap()),
            ("client_id", result["clientId"].as_str().unwrap()),
            ("code_verifier", result["verifier"].as_str().unwrap()),
        ])
        .finish();
    let tokens = http
        .send(
            http.client
                .post(server.url("/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.json()["access_token"].as_str().unwrap().to_owned();
    let me = http
        .send(http.client.get(server.url("/v1/me")).bearer_auth(access))
        .await;
    assert_eq!(me.json()["subject"], "user-42");
    assert_eq!(me.json()["scopes"], json!(["read:devices", "read:sites"]));

    // Finish the Connect flow: the backend exchanges the code with Basic.
    let connect = &result["connect"];
    let app = Confidential {
        id: connect["appId"].as_str().unwrap().to_owned(),
        client_id: connect["clientId"].as_str().unwrap().to_owned(),
        secret: connect["clientSecret"].as_str().unwrap().to_owned(),
    };
    let tokens = http
        .post_basic(
            &server,
            "/oauth/token",
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", connect["code"].as_str().unwrap()),
                ("redirect_uri", result["redirectUri"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let tokens = tokens.json();
    for (credential, kind) in [
        (&tokens["access_token"], "access_token"),
        (&tokens["scoped_key"], "scoped_key"),
    ] {
        let me = http
            .send(
                http.client
                    .get(server.url("/v1/me"))
                    .bearer_auth(credential.as_str().unwrap()),
            )
            .await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.json()["kind"], kind);
        assert_eq!(me.json()["appId"], app.id.as_str());
        assert_eq!(me.json()["subject"], connect["referenceId"]);
        assert_eq!(me.json()["scopes"], json!(["read:devices"]));
    }
    let connections = http
        .send(http.admin(http.client.get(server.url("/v1/connections"))))
        .await
        .json();
    let connection = connections["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["referenceId"] == connect["referenceId"])
        .unwrap();
    assert_eq!(connection["provider"], "demo-energy");
    assert_eq!(connection["accountReference"], "browser-energy-user");
}

/// A concrete path for a documented template: an app id that does not
/// exist, and the current version of a script.
fn documented_path(template: &str) -> String {
    let script = if template.starts_with("/connect/page/") {
        oauth_connect::http::ConnectScript::page()
    } else {
        oauth_connect::http::ConnectScript::classic()
    };
    let file = script.versioned_path.rsplit('/').next().unwrap_or_default();
    template
        .replace("{id}", "oauth_0000000000000000")
        .replace("{file}", file)
}
