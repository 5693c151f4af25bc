//! The token endpoint's two hot grants on PostgreSQL: the authorization-code
//! exchange (with PKCE) and refresh-token rotation, through the typed API,
//! with the round trips each costs counted (sqlx's own per-statement
//! events) and printed before the timing.
//!
//! Needs a database: `DATABASE_URL=postgres://… cargo bench --features
//! postgres --bench postgres`. Without `DATABASE_URL` it says so and
//! measures nothing. It works in a fresh schema of its own, dropped at the
//! end.
//!
//! Each figure is dominated by the round trips to the server (on loopback
//! here), not by the crate: compare it with the memory store's figures of
//! `vs_oxide_auth` to see the split.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use http::HeaderMap;
use oauth_connect::hooks::{ConsentRequest, PriorConsent};
use oauth_connect::oauth::{AuthorizationRequest, AuthorizeOutcome, ScopeSet};
use oauth_connect::registry::AuthenticatedClient;
use oauth_connect::{
    AppType, AuthorizationServer, NewOAuthApp, PostgresStore, ResourceOwnerAuthenticator, Subject,
    WorkspaceId,
};
use tokio::runtime::Runtime;

type Server = AuthorizationServer<PostgresStore>;

const REDIRECT: &str = "https://app.example.com/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Every request's user has already consented to `read`: codes are issued
/// without the consent page (one storage call fewer than a page and a post).
#[derive(Debug)]
struct Consented;

#[async_trait::async_trait]
impl ResourceOwnerAuthenticator for Consented {
    async fn authenticate(&self, _: &HeaderMap, _: Option<&str>) -> Option<Subject> {
        Subject::parse("user-42").ok()
    }

    async fn prior_consent(&self, _: &HeaderMap, _: &ConsentRequest<'_>) -> PriorConsent {
        PriorConsent::Granted {
            subject: Subject::parse("user-42").unwrap(),
            scopes: ScopeSet::parse("read").unwrap(),
        }
    }
}

/// Counts the statements sqlx sends (one `sqlx::query` event each).
struct StatementCounter(Arc<AtomicUsize>);

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Bench {
    server: Server,
    client_id: String,
    schema: String,
    url: String,
}

async fn setup(url: &str) -> Bench {
    let schema = format!(
        "oc_bench_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let admin = PostgresStore::connect(url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.pool().close().await;
    let store = PostgresStore::connect_with_schema(url, &schema)
        .await
        .expect("connect with schema");
    store.migrate().await.expect("migrate");
    let server = AuthorizationServer::builder(store)
        .issuer("https://auth.example.com")
        .resource_owner(Arc::new(Consented))
        .build()
        .unwrap();
    let created = server
        .create_app(
            &WorkspaceId::parse("ws_bench").unwrap(),
            &NewOAuthApp {
                name: "bench".into(),
                description: None,
                redirect_uris: vec![REDIRECT.into()],
                allowed_scopes: vec!["read".into()],
                allowed_origins: vec![],
                app_type: AppType::Public,
                logo_uri: None,
            },
        )
        .await
        .unwrap();
    Bench {
        server,
        client_id: created.app.client_id.as_str().to_owned(),
        schema,
        url: url.to_owned(),
    }
}

/// A fresh code for the public client (the consent policy approves).
async fn code(b: &Bench) -> String {
    let request = AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some(b.client_id.clone()),
        redirect_uri: Some(REDIRECT.into()),
        scope: Some("read".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    };
    match b
        .server
        .authorize_request(Some(&HeaderMap::new()), &request)
        .await
        .unwrap()
    {
        AuthorizeOutcome::Approved(to) => {
            let query = to.location.split_once('?').unwrap().1;
            form_urlencoded::parse(query.as_bytes())
                .find(|(n, _)| n == "code")
                .unwrap()
                .1
                .into_owned()
        }
        other => panic!("expected the code at once, got {other:?}"),
    }
}

async fn client(b: &Bench) -> AuthenticatedClient {
    b.server
        .authenticate_client(&b.client_id, None)
        .await
        .unwrap()
}

/// Authenticates the client and exchanges `code`; returns the refresh token.
async fn exchange(b: &Bench, code: &str) -> String {
    let client = client(b).await;
    let tokens = b
        .server
        .exchange_code(&client, code, Some(REDIRECT), Some(VERIFIER))
        .await
        .unwrap();
    tokens.refresh_token.unwrap().expose_secret().to_owned()
}

/// Authenticates the client and rotates `refresh`; returns the successor.
async fn refresh(b: &Bench, refresh: &str) -> String {
    let client = client(b).await;
    let tokens = b.server.refresh(&client, refresh, None).await.unwrap();
    tokens.refresh_token.unwrap().expose_secret().to_owned()
}

/// The statements each operation sends, counted on this (current-thread)
/// runtime's thread.
fn count_round_trips(rt: &Runtime, b: &Bench) {
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let count = Arc::new(AtomicUsize::new(0));
    let dispatch = tracing::Dispatch::new(StatementCounter(Arc::clone(&count)));
    let _guard = tracing::dispatcher::set_default(&dispatch);
    let measure = |what: &str, detail: &str, n: usize| {
        println!("round trips, {what}: {n} ({detail})");
    };
    let before = count.load(Ordering::SeqCst);
    let code = rt.block_on(code(b));
    measure(
        "authorization with remembered consent",
        "get_app_by_client_id, insert_code",
        count.load(Ordering::SeqCst) - before,
    );
    let before = count.load(Ordering::SeqCst);
    let token = rt.block_on(exchange(b, &code));
    measure(
        "code exchange",
        "get_app_by_client_id, get_code, redeem_code",
        count.load(Ordering::SeqCst) - before,
    );
    let before = count.load(Ordering::SeqCst);
    rt.block_on(refresh(b, &token));
    measure(
        "refresh rotation",
        "get_app_by_client_id, get_token, rotate_refresh_token",
        count.load(Ordering::SeqCst) - before,
    );
}

fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "benches/postgres.rs: DATABASE_URL is not set, so nothing is measured; \
             run `DATABASE_URL=postgres://… cargo bench --features postgres --bench postgres`"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let b = rt.block_on(setup(&url));
    count_round_trips(&rt, &b);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("postgres");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function(
        "code exchange (client authentication + exchange_code)",
        |bench| {
            bench.iter_batched(
                || rt.block_on(code(&b)),
                |code| rt.block_on(exchange(&b, black_box(&code))),
                BatchSize::SmallInput,
            )
        },
    );
    let mut current = rt.block_on(async { exchange(&b, &code(&b).await).await });
    group.bench_function(
        "refresh rotation (client authentication + refresh)",
        |bench| bench.iter(|| current = rt.block_on(refresh(&b, black_box(&current)))),
    );
    group.finish();
    c.final_summary();

    rt.block_on(async {
        b.server.storage().pool().close().await;
        let admin = PostgresStore::connect(&b.url).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            b.schema
        )))
        .execute(admin.pool())
        .await
        .unwrap();
    });
}
