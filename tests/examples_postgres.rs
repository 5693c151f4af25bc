#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The example servers on PostgreSQL (`DATABASE_URL`), as processes:
//!
//! - three nodes (axum, actix-web, axum) over one database walk one Connect
//!   flow: the session made on node 1, its steps and approval on the
//!   others, the code exchanged on node 3, the refresh on node 1, and a
//!   revocation on node 2 seen at once by node 3;
//! - a database outage: with every connection to PostgreSQL cut and new
//!   ones refused, each endpoint answers 503 `temporarily_unavailable`
//!   within the pool's acquire timeout, and serves again once the database
//!   is back, without a restart, from the first request on (a connection
//!   cut while idle is pinged and replaced before use); on SIGTERM each
//!   node closes its pool cleanly;
//! - a code exchange cut mid-way, before its statement reaches the
//!   database or after it committed but before the answer came back: the
//!   code is then redeemable exactly once, or refused as a replay, never
//!   half-redeemed.
//!
//! The outage is a TCP proxy inside the test between the servers and
//! PostgreSQL, so the shared server is never restarted. Each test uses a
//! fresh schema (`DATABASE_SCHEMA`), created by the nodes' `migrate()` at
//! start (three at once in the first test) and dropped at the end. Without
//! `DATABASE_URL` the tests return at once and say so.

mod example_http;
mod example_process;
mod openapi_check;
mod postgres_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oauth_connect::PostgresStore;
use oauth_connect::limits::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_PING_IDLE_AFTER};
use serde_json::{Value, json};
use sqlx::Row as _;
use sqlx::postgres::PgConnectOptions;

use example_http::{Confidential, Http, Reply};
use example_process::{Process, example_binary};
use postgres_support::proxy::{Cut, Proxy};

const SKIPPED: &str = "the example servers' PostgreSQL tests (several nodes, outage, cut exchange)";
/// Longer than any answer may take (the pool's acquire timeout).
const HTTP_TIMEOUT: Duration = DEFAULT_ACQUIRE_TIMEOUT.saturating_mul(4);

const ADMIN_KEY: &str = "pg-nodes-admin-key-0123456789abcdefghijklmnopqrstuvwxyz";
const WORKSPACE: &str = "ws_nodes";
/// Every node's server key: the nodes share it, as they must.
const SERVER_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff";
/// The public address of the cluster, as behind a load balancer: every
/// node says it is this issuer; the test talks to each node directly.
const ISSUER: &str = "https://oauth.cluster.test";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// A password the database does not ask for (trust authentication) but
/// the URL carries: it must never be printed.
const URL_PASSWORD: &str = "never-printed-pw";

// ---- the database, and a proxy to cut it ----

/// `DATABASE_URL` with [`URL_PASSWORD`] in it, and its host and port.
struct Database {
    url: url::Url,
    target: String,
}

impl Database {
    fn from_env() -> Option<Self> {
        let raw = postgres_support::database_url(SKIPPED)?;
        let options: PgConnectOptions = raw.parse().expect("DATABASE_URL parses");
        assert!(
            options.get_socket().is_none(),
            "these tests need DATABASE_URL over TCP, not a Unix socket"
        );
        let mut url = url::Url::parse(&raw).expect("DATABASE_URL is a URL");
        if url.password().is_none() {
            url.set_password(Some(URL_PASSWORD)).unwrap();
        }
        let target = format!("{}:{}", options.get_host(), options.get_port());
        Some(Self { url, target })
    }

    /// The URL, through `proxy` when given.
    fn url_via(&self, proxy: Option<&Proxy>) -> String {
        let mut url = self.url.clone();
        if let Some(proxy) = proxy {
            url.set_host(Some("127.0.0.1")).unwrap();
            url.set_port(Some(proxy.addr.port())).unwrap();
        }
        url.into()
    }

    /// A direct connection into `schema`, to look at what the nodes wrote.
    async fn inspect(&self, schema: &str) -> PostgresStore {
        PostgresStore::connect_with_schema(self.url.as_str(), schema)
            .await
            .expect("connect for inspection")
    }

    async fn drop_schema(&self, schema: &str) {
        let store = PostgresStore::connect(self.url.as_str()).await.unwrap();
        postgres_support::drop_stale_schemas(&store).await;
        postgres_support::drop_schema(&store, schema).await;
    }
}

// ---- the nodes ----

/// One example server process; killed on drop.
type Node = Process;

/// Starting one as a node of the cluster, and reaching it.
impl Node {
    /// Starts the example `name` over `database_url` in `schema`, with the
    /// cluster's shared keys and issuer and the demo providers, and waits
    /// until it answers.
    async fn start(name: &str, database_url: &str, schema: &str) -> Self {
        Self::start_keyed(name, database_url, schema, SERVER_KEY).await
    }

    /// [`start`](Self::start) with `server_key` as the server key.
    async fn start_keyed(name: &str, database_url: &str, schema: &str, server_key: &str) -> Self {
        let mut command = Command::new(example_binary(name));
        command
            .args(["--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url)
            .env("DATABASE_SCHEMA", schema)
            .env("OAUTH_CONNECT_SERVER_KEY", server_key)
            .env(
                "OAUTH_CONNECT_ADMIN_KEYS",
                format!("{WORKSPACE}={ADMIN_KEY}"),
            )
            .env("OAUTH_CONNECT_ISSUER", ISSUER)
            .env("OAUTH_CONNECT_DEMO_PROVIDERS", "on")
            .env("RUST_LOG", "info")
            .env_remove("PORT");
        Self::spawn(name, command, false).await
    }

    /// `url` (on the cluster's public address) on this node.
    fn on(&self, url: &str) -> String {
        let path = url
            .strip_prefix(ISSUER)
            .unwrap_or_else(|| panic!("{url} is not on {ISSUER}"));
        self.url(path)
    }
}

// ---- HTTP ----

impl Reply {
    /// A 503 with the JSON body of RFC 6749 §5.2's `temporarily_unavailable`.
    fn assert_unavailable(&self, what: &str) {
        assert_eq!(self.status, 503, "{what}: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(
            self.json()["error"],
            "temporarily_unavailable",
            "{what}: {}",
            self.text
        );
    }
}

impl Http {
    fn admin(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        builder.header("authorization", format!("Bearer {ADMIN_KEY}"))
    }

    async fn get(&self, url: &str) -> Reply {
        self.send(self.client.get(url)).await
    }

    async fn post_form(&self, url: &str, pairs: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send(
            self.client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    async fn create_app(&self, node: &Node) -> Confidential {
        let body = json!({
            "name": "Cluster app",
            "redirectUris": [REDIRECT],
            "allowedScopes": ["read:devices", "read:sites"],
            "type": "CONFIDENTIAL",
        });
        let created = self
            .send(
                self.admin(self.client.post(node.url("/v1/oauth-apps")))
                    .header("content-type", "application/json")
                    .body(body.to_string()),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        Confidential::from_created(&created.json())
    }

    /// `POST /v1/connect/sessions` on `node` with the app's credentials.
    async fn connect_session(&self, node: &Node, app: &Confidential, body: &Value) -> Reply {
        self.send(
            self.client
                .post(node.url("/v1/connect/sessions"))
                .basic_auth(&app.client_id, Some(&app.secret))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A Connect session for `reference_id` with a complete customer (no
    /// customer step), created on `node`: its page URL on [`ISSUER`].
    async fn session_url(&self, node: &Node, app: &Confidential, reference_id: &str) -> String {
        let body = json!({
            "redirectUrl": REDIRECT,
            "referenceId": reference_id,
            "customerInfo": {
                "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                             "postalCode": "62701", "country": "US"},
            },
            "scopes": ["read:devices"],
            "state": format!("st-{reference_id}"),
            "scopedKey": true,
            "filters": {"categories": ["meter"]},
        });
        let created = self.connect_session(node, app, &body).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let created = created.json();
        assert_eq!(created["mode"], "create");
        let url = created["url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{ISSUER}/connect?token=")),
            "{url}"
        );
        url
    }

    /// Walks the hosted Connect page at `url` to the approval, each page
    /// and each post on the next node of `nodes` in turn; returns the steps
    /// seen and where the approval redirects.
    async fn walk_connect(&self, nodes: &[&Node], url: &str) -> (Vec<String>, String) {
        let mut steps = Vec::new();
        let mut turn = nodes.iter().cycle();
        let mut url = url.to_owned();
        loop {
            let node = turn.next().unwrap();
            let page = self.get(&node.on(&url)).await;
            assert_eq!(page.status, 200, "{}", page.text);
            let step = field(&page.text, "step");
            let token = field(&page.text, "token");
            let csrf = field(&page.text, "csrf_token");
            let mut pairs = vec![
                ("token", token.as_str()),
                ("csrf_token", csrf.as_str()),
                ("step", step.as_str()),
            ];
            match step.as_str() {
                "terms" => pairs.push(("action", "accept")),
                "link" => pairs.extend([
                    ("action", "submit"),
                    ("username", "ada"),
                    ("password", "demo-password"),
                ]),
                "consent" => pairs.push(("decision", "approve")),
                other => panic!("unexpected step {other}: {}", page.text),
            }
            steps.push(step.clone());
            let node = turn.next().unwrap();
            let posted = self.post_form(&node.url("/connect"), &pairs).await;
            assert_eq!(posted.status, 303, "{step}: {}", posted.text);
            url = posted.location();
            if step == "consent" {
                return (steps, url);
            }
        }
    }
}

/// The value of a hidden field of a hosted page's form.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn bearer(http: &Http, node: &Node, credential: &str) -> reqwest::RequestBuilder {
    http.client.get(node.url("/v1/me")).bearer_auth(credential)
}

// ---- the tests ----

/// `DATABASE_URL` alone is refused at start-up, naming what is missing:
/// the keys every node must share. Needs no database (nothing is
/// contacted), so it runs everywhere.
#[test]
fn a_database_needs_the_shared_keys() {
    let url = format!("postgres://app:{URL_PASSWORD}@127.0.0.1:1/oauth");
    for (server_key, missing) in [
        (None, "OAUTH_CONNECT_SERVER_KEY"),
        (Some(SERVER_KEY), "OAUTH_CONNECT_ADMIN_KEYS"),
    ] {
        let mut command = Command::new(example_binary("axum"));
        command
            .args(["--addr", "127.0.0.1:0"])
            .env("DATABASE_URL", &url)
            .env_remove("OAUTH_CONNECT_SERVER_KEY")
            .env_remove("OAUTH_CONNECT_ADMIN_KEYS")
            .stdin(Stdio::null());
        if let Some(key) = server_key {
            command.env("OAUTH_CONNECT_SERVER_KEY", key);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("set {missing} too")), "{stderr}");
        assert!(!stderr.contains(URL_PASSWORD), "{stderr}");
        assert!(output.stdout.is_empty(), "refused before the banner");
    }
}

/// What `OAUTH_CONNECT_SERVER_KEY` does: a node restarted with the same
/// key over the same database keeps verifying the scoped keys (and access
/// tokens) issued before; a node with another key verifies none of them
/// (their signatures and keyed hashes are the key's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_the_same_server_key_keeps_credentials_working() {
    let Some(database) = Database::from_env() else {
        return;
    };
    let schema = postgres_support::fresh_schema_name(&database.url_via(None));
    let url = database.url_via(None);
    let http = Http::new(HTTP_TIMEOUT);
    let first = Node::start("axum", &url, &schema).await;
    let app = http.create_app(&first).await;
    let page = http.session_url(&first, &app, "restart").await;
    let (_, to) = http.walk_connect(&[&first], &page).await;
    let code = query_param(&to, "code").expect("a code");
    let tokens = http
        .post_basic(
            &first,
            "/oauth/token",
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let tokens = tokens.json();
    let scoped_key = tokens["scoped_key"].as_str().unwrap().to_owned();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    drop(first);

    let restarted = Node::start("actix", &url, &schema).await;
    for credential in [&scoped_key, &access] {
        let me = http.send(bearer(&http, &restarted, credential)).await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.json()["subject"], "restart");
    }
    drop(restarted);

    let other_key = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    let rekeyed = Node::start_keyed("axum", &url, &schema, other_key).await;
    for credential in [&scoped_key, &access] {
        let me = http.send(bearer(&http, &rekeyed, credential)).await;
        assert_eq!(me.status, 401, "another key verifies nothing: {}", me.text);
    }
}

/// A malformed `OAUTH_CONNECT_SERVER_KEY` (too short, or not hex or
/// base64) is refused at start-up by a message naming the variable, never
/// echoing the value.
#[test]
fn a_malformed_server_key_is_refused_by_name_not_value() {
    for bad in [
        "0f1e2d3c4b5a6978",                                   // 8 bytes
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0001122334455667788", // 25 bytes
        "not a key at all, this one: #!?",
    ] {
        let output = Command::new(example_binary("axum"))
            .args(["--addr", "127.0.0.1:0"])
            .env("OAUTH_CONNECT_SERVER_KEY", bad)
            .env("OAUTH_CONNECT_DEMO_APP", "off")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("OAUTH_CONNECT_SERVER_KEY"), "{stderr}");
        assert!(!stderr.contains(bad), "the value is never echoed: {stderr}");
        assert!(output.stdout.is_empty(), "refused before the banner");
    }
}

/// Three nodes, one database (RFC 6749 §4.1 and §6, RFC 7636, RFC 7009,
/// RFC 7662 across processes): nothing a flow needs lives in a node's
/// memory. The Connect flow as the issue walks it, then the plain
/// authorization-code flow likewise spread over the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_database() {
    let Some(database) = Database::from_env() else {
        return;
    };
    let schema = postgres_support::fresh_schema_name(&database.url_via(None));
    let url = database.url_via(None);
    // Started at once: three concurrent `migrate()` of a new schema.
    let (one, two, three) = tokio::join!(
        Node::start("axum", &url, &schema),
        Node::start("actix", &url, &schema),
        Node::start("axum", &url, &schema),
    );
    for node in [&one, &two, &three] {
        let banner = node.stdout().join("\n");
        assert!(
            banner.contains("storage:    PostgreSQL, ") && banner.contains(&schema),
            "{banner}"
        );
    }
    let http = Http::new(HTTP_TIMEOUT);

    // The admin key works on every node; the app made on one is seen by all.
    let app = http.create_app(&one).await;
    for node in [&two, &three] {
        let list = http
            .send(http.admin(http.client.get(node.url("/v1/oauth-apps"))))
            .await;
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(list.json()["meta"]["total"], 1);
    }

    // Session on node 1; its steps on nodes 2 and 3 in turn (the step
    // state is in the database); the approval posted on node 2.
    let page = http.session_url(&one, &app, "user-7").await;
    let (steps, to) = http.walk_connect(&[&two, &three], &page).await;
    assert_eq!(
        steps,
        ["terms", "link", "consent"],
        "demo-utility, by filter"
    );
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("st-user-7"));
    assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&to, "code").expect("a code");

    // The code exchanged on node 3.
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let tokens = http
        .post_basic(&three, "/oauth/token", &app, &exchange)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let tokens = tokens.json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let scoped_key = tokens["scoped_key"].as_str().unwrap().to_owned();
    for node in [&one, &two, &three] {
        for credential in [&access, &scoped_key] {
            let me = http.send(bearer(&http, node, credential)).await;
            assert_eq!(me.status, 200, "{}", me.text);
            assert_eq!(me.json()["subject"], "user-7");
        }
    }
    let connections = http
        .send(http.admin(http.client.get(two.url("/v1/connections"))))
        .await;
    assert_eq!(
        connections.json()["data"][0]["accountReference"],
        "meter-ada"
    );

    // Refreshed on node 1 (RFC 6749 §6): the old refresh token is spent
    // for every node.
    let refreshed = http
        .post_basic(
            &one,
            "/oauth/token",
            &app,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let refreshed = refreshed.json();
    let access2 = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(refreshed["refresh_token"].as_str().unwrap(), refresh);
    let me = http.send(bearer(&http, &three, &access2)).await;
    assert_eq!(me.status, 200, "{}", me.text);

    // Revoked on node 2 (RFC 7009), refused by node 3 at once: the
    // resource (RFC 6750 §3.1) and introspection (RFC 7662 §2.2).
    let revoked = http
        .post_basic(
            &two,
            "/oauth/revoke",
            &app,
            &[("token", &access2), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let refused = http.send(bearer(&http, &three, &access2)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.json()["error"], "invalid_token");
    let inactive = http
        .post_basic(&three, "/oauth/introspect", &app, &[("token", &access2)])
        .await;
    assert_eq!(inactive.status, 200);
    assert_eq!(inactive.json(), json!({"active": false}));
    // A replay of the code on node 1 (RFC 6749 §4.1.2) revokes what it
    // issued, everywhere.
    let replay = http.post_basic(&one, "/oauth/token", &app, &exchange).await;
    assert_eq!(replay.status, 400, "{}", replay.text);
    assert_eq!(replay.json()["error"], "invalid_grant");
    let refused = http.send(bearer(&http, &two, &access)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);

    // The plain authorization-code flow with PKCE (RFC 7636) across nodes
    // too: the consent page from node 1, the decision (its CSRF cookie and
    // token) posted to node 2, the code exchanged on node 3.
    let public = http
        .send(
            http.admin(http.client.post(three.url("/v1/oauth-apps")))
                .header("content-type", "application/json")
                .body(
                    json!({
                        "name": "Cluster public app",
                        "redirectUris": [REDIRECT],
                        "allowedScopes": ["read:devices"],
                        "type": "PUBLIC",
                    })
                    .to_string(),
                ),
        )
        .await;
    assert_eq!(public.status, 201, "{}", public.text);
    let public_id = public.json()["clientId"].as_str().unwrap().to_owned();
    // RFC 7636 Appendix B's verifier and challenge.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let authorize = format!(
        "/oauth/authorize?response_type=code&client_id={public_id}&redirect_uri={}\
         &scope=read:devices&state=st-plain\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let consent = http.get(&one.url(&authorize)).await;
    assert_eq!(consent.status, 200, "{}", consent.text);
    let cookie = consent.header("set-cookie").expect("the CSRF cookie");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let decision = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("session", field(&consent.text, "session")),
            ("csrf_token", field(&consent.text, "csrf_token")),
            ("decision", "approve".to_owned()),
            ("subject", "user-9".to_owned()),
        ])
        .finish();
    let decided = http
        .send(
            http.client
                .post(two.url("/oauth/authorize"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", cookie)
                .body(decision),
        )
        .await;
    assert_eq!(decided.status, 303, "{}", decided.text);
    let to = decided.location();
    assert_eq!(query_param(&to, "iss").as_deref(), Some(ISSUER));
    let plain_code = query_param(&to, "code").expect("a code");
    let plain = http
        .post_form(
            &three.url("/oauth/token"),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &public_id),
                ("code", &plain_code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    let plain_access = plain.json()["access_token"].as_str().unwrap().to_owned();
    let me = http.send(bearer(&http, &one, &plain_access)).await;
    assert_eq!(me.json()["subject"], "user-9", "{}", me.text);

    // No node printed the database password, a key or a credential.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for node in [&one, &two, &three] {
        let output = node.output();
        for secret in [
            URL_PASSWORD,
            SERVER_KEY,
            ADMIN_KEY,
            app.secret.as_str(),
            code.as_str(),
            plain_code.as_str(),
            plain_access.as_str(),
            access.as_str(),
            refresh.as_str(),
            scoped_key.as_str(),
        ] {
            assert!(!output.iter().any(|l| l.contains(secret)), "{output:#?}");
        }
    }
    drop((one, two, three));
    database.drop_schema(&schema).await;
}

/// With the database gone (every connection cut, new ones refused), each
/// endpoint of both frameworks answers 503 `temporarily_unavailable`
/// (JSON; the hosted page an HTML 503) within the pool's acquire timeout,
/// and writes nothing; once it is back the same processes serve again,
/// the first request included, also after a cut no request saw (the
/// pooled connections are pinged after an idle second). SIGTERM then
/// stops each node, which closes its pool: every connection ends with a
/// Terminate message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_503_and_service_comes_back_by_itself() {
    let Some(database) = Database::from_env() else {
        return;
    };
    let proxy = Proxy::start(&database.target);
    let schema = postgres_support::fresh_schema_name(&database.url_via(None));
    let url = database.url_via(Some(&proxy));
    let (axum, actix) = tokio::join!(
        Node::start("axum", &url, &schema),
        Node::start("actix", &url, &schema),
    );
    let http = Http::new(HTTP_TIMEOUT);
    let app = http.create_app(&axum).await;
    let page = http.session_url(&axum, &app, "user-outage").await;
    let (_, to) = http.walk_connect(&[&actix, &axum], &page).await;
    let code = query_param(&to, "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let tokens = http
        .post_basic(&actix, "/oauth/token", &app, &exchange)
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let tokens = tokens.json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let scoped_key = tokens["scoped_key"].as_str().unwrap().to_owned();
    let pending = http.session_url(&axum, &app, "user-later").await;

    proxy.cut();
    // Every kind of request at once, on both nodes; each must end within
    // the acquire timeout (a connection refused is retried until then),
    // measured only as a generous upper bound.
    let bound = DEFAULT_ACQUIRE_TIMEOUT + Duration::from_secs(10);
    let refresh_pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let new_session = json!({"redirectUrl": REDIRECT, "referenceId": "user-cut"});
    let introspect_pairs = [("token", access.as_str())];
    let hosted_page = actix.on(&pending);
    let (
        (refreshed, t1),
        (introspected, t2),
        (me_token, t3),
        (me_key, t4),
        (listed, t5),
        (session, t6),
        (hosted, t7),
    ) = tokio::join!(
        timed(
            bound,
            http.post_basic(&axum, "/oauth/token", &app, &refresh_pairs)
        ),
        timed(
            bound,
            http.post_basic(&actix, "/oauth/introspect", &app, &introspect_pairs)
        ),
        timed(bound, http.send(bearer(&http, &axum, &access))),
        timed(bound, http.send(bearer(&http, &actix, &scoped_key))),
        timed(
            bound,
            http.send(http.admin(http.client.get(actix.url("/v1/oauth-apps"))))
        ),
        timed(bound, http.connect_session(&axum, &app, &new_session)),
        timed(bound, http.get(&hosted_page)),
    );
    refreshed.assert_unavailable("POST /oauth/token (refresh), axum");
    introspected.assert_unavailable("POST /oauth/introspect, actix");
    me_token.assert_unavailable("GET /v1/me with an access token, axum");
    me_key.assert_unavailable("GET /v1/me with a scoped key, actix");
    listed.assert_unavailable("GET /v1/oauth-apps, actix");
    session.assert_unavailable("POST /v1/connect/sessions, axum");
    assert_eq!(hosted.status, 503, "{}", hosted.text);
    assert!(
        hosted
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        hosted.text.contains("Temporarily unavailable"),
        "{}",
        hosted.text
    );
    for elapsed in [t1, t2, t3, t4, t5, t6, t7] {
        assert!(
            elapsed < bound,
            "a request took {elapsed:?} during the outage"
        );
    }
    for node in [&axum, &actix] {
        assert!(
            !node.output().iter().any(|l| l.contains("panicked")),
            "{:#?}",
            node.output()
        );
    }

    proxy.restore();
    // Back without a restart: the first request after the restore is served.
    for node in [&axum, &actix] {
        let listed = http
            .send(http.admin(http.client.get(node.url("/v1/oauth-apps"))))
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text);
    }
    // The refresh refused during the outage wrote nothing: the refresh
    // token is still unspent (not a reuse, which would revoke the grant).
    let refreshed = http
        .post_basic(&actix, "/oauth/token", &app, &refresh_pairs)
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let access2 = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for node in [&axum, &actix] {
        for credential in [&access2, &scoped_key] {
            let me = http.send(bearer(&http, node, credential)).await;
            assert_eq!(me.status, 200, "{}", me.text);
        }
    }
    let (steps, to) = http.walk_connect(&[&actix, &axum], &pending).await;
    assert_eq!(steps, ["terms", "link", "consent"]);
    assert!(query_param(&to, "code").is_some());

    // A blip no request sees: every pooled connection is cut while idle
    // and the database is back at once. Once they have been idle past
    // DEFAULT_PING_IDLE_AFTER, each is pinged before its next use and
    // replaced: no request fails (without the ping, each would meet a
    // broken connection once: a 503).
    for (status, text) in list_at_once(&http, [&axum, &actix], 8).await {
        assert_eq!(status, 200, "{text}");
    }
    let cut = proxy.cut();
    // The aborted listener lets go of its port once the runtime drops it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.restore();
    assert!(cut >= 2, "each node had pooled connections to lose: {cut}");
    tokio::time::sleep(DEFAULT_PING_IDLE_AFTER + Duration::from_millis(500)).await;
    for (status, text) in list_at_once(&http, [&axum, &actix], 8).await {
        assert_eq!(status, 200, "after the blip: {text}");
    }

    // SIGTERM: each node finishes, closes its pool (every connection ends
    // with a Terminate message, none is just dropped) and exits 0.
    let before = proxy.client_closes();
    for mut node in [axum, actix] {
        node.stop_gracefully().await;
    }
    let (terminated, dropped) = proxy.client_closes();
    assert!(terminated > before.0, "the pools closed their connections");
    assert_eq!(dropped, before.1, "no connection was just dropped");
    drop(proxy);
    database.drop_schema(&schema).await;
}

/// `count` listings of the apps, sent at once, spread over `nodes` (so
/// each node uses several pooled connections); each status and body.
async fn list_at_once(http: &Http, nodes: [&Node; 2], count: usize) -> Vec<(u16, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let request = http.admin(http.client.get(nodes[i % 2].url("/v1/oauth-apps")));
        tasks.spawn(async move {
            let reply = request.send().await.unwrap();
            let status = reply.status().as_u16();
            (status, reply.text().await.unwrap_or_default())
        });
    }
    tasks.join_all().await
}

/// `reply`, and how long it took; it must come within twice `bound`.
async fn timed(
    bound: Duration,
    reply: impl std::future::Future<Output = Reply>,
) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = tokio::time::timeout(bound * 2, reply)
        .await
        .expect("no request hangs");
    (reply, started.elapsed())
}

/// `POST /oauth/token` on `node`: `code` for tokens (RFC 6749 §4.1.3).
async fn exchange(http: &Http, node: &Node, app: &Confidential, code: &str) -> Reply {
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    http.post_basic(node, "/oauth/token", app, &pairs).await
}

/// The statement that redeems a code (`REDEEM_CODE` in
/// `src/storage/postgres/grants.rs`), recognised by its text.
const REDEEM_STATEMENT: &[u8] = b"UPDATE oauth_codes SET redeemed_at";

/// The code of `reference_id` as stored: redeemed or not, how many
/// tokens its grant has, whether the grant is revoked.
async fn code_state(store: &PostgresStore, reference_id: &str) -> (bool, i64, bool) {
    let row = sqlx::query(
        "SELECT c.redeemed_at IS NOT NULL AS redeemed, \
                (SELECT count(*) FROM oauth_tokens t WHERE t.grant_id = c.grant_id) AS tokens, \
                g.revoked_at IS NOT NULL AS revoked \
         FROM oauth_codes c JOIN oauth_grants g ON g.id = c.grant_id WHERE c.subject = $1",
    )
    .bind(reference_id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    (row.get("redeemed"), row.get("tokens"), row.get("revoked"))
}

/// A code exchange (RFC 6749 §4.1.3) whose connection is cut mid-way
/// leaves the code whole or spent, never half: cut before the redeeming
/// statement reaches PostgreSQL, the code is still good, exactly once;
/// cut after it committed but before the answer, the tokens were written
/// with the redemption, and presenting the code again is a replay
/// (RFC 6749 §4.1.2) that revokes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_cut_mid_way_is_all_or_nothing() {
    let Some(database) = Database::from_env() else {
        return;
    };
    let proxy = Proxy::start(&database.target);
    let schema = postgres_support::fresh_schema_name(&database.url_via(None));
    let url = database.url_via(Some(&proxy));
    // Each cut needs a process that has not prepared the statement yet
    // (sqlx sends its text once per connection): one node per cut.
    let (first, second) = tokio::join!(
        Node::start("axum", &url, &schema),
        Node::start("actix", &url, &schema),
    );
    let inspect = database.inspect(&schema).await;
    let http = Http::new(HTTP_TIMEOUT);
    let app = http.create_app(&first).await;
    // Cut before the statement: nothing was written.
    let page = http.session_url(&first, &app, "user-before").await;
    let (_, to) = http.walk_connect(&[&first], &page).await;
    let code = query_param(&to, "code").unwrap();
    proxy.trap(REDEEM_STATEMENT, Cut::BeforeStatement);
    let cut = exchange(&http, &first, &app, &code).await;
    assert!(
        proxy.sprung(),
        "the exchange prepared the redeeming statement"
    );
    cut.assert_unavailable("an exchange cut before its statement");
    assert_eq!(
        code_state(&inspect, "user-before").await,
        (false, 0, false),
        "neither redeemed nor any token"
    );
    let redeemed = exchange(&http, &first, &app, &code).await;
    assert_eq!(redeemed.status, 200, "still good: {}", redeemed.text);
    assert_eq!(code_state(&inspect, "user-before").await, (true, 2, false));
    let again = exchange(&http, &first, &app, &code).await;
    assert_eq!(again.status, 400, "exactly once: {}", again.text);
    assert_eq!(again.json()["error"], "invalid_grant");

    // Cut after the commit: the redemption and its tokens were written
    // together; the client never saw them, and its retry is a replay.
    let page = http.session_url(&first, &app, "user-after").await;
    let (_, to) = http.walk_connect(&[&first], &page).await;
    let code = query_param(&to, "code").unwrap();
    proxy.trap(REDEEM_STATEMENT, Cut::AfterCommit);
    let cut = exchange(&http, &second, &app, &code).await;
    assert!(
        proxy.sprung(),
        "the exchange prepared the redeeming statement"
    );
    cut.assert_unavailable("an exchange whose answer was cut");
    assert_eq!(
        code_state(&inspect, "user-after").await,
        (true, 2, false),
        "redeemed with both tokens, in one statement"
    );
    let retried = exchange(&http, &second, &app, &code).await;
    assert_eq!(retried.status, 400, "{}", retried.text);
    assert_eq!(retried.json()["error"], "invalid_grant");
    assert_eq!(
        code_state(&inspect, "user-after").await,
        (true, 2, true),
        "the replay revoked the tokens nobody received"
    );
    inspect.pool().close().await;
    drop((first, second));
    drop(proxy);
    database.drop_schema(&schema).await;
}
