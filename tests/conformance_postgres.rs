//! The storage conformance suite against PostgreSQL.
//!
//! Needs a database: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo test --workspace --all-features`. Without `DATABASE_URL` every check returns at
//! once and says so on stderr. Each check runs in a fresh schema of its own
//! (`oc_test_<unix seconds>_<run>_<n>`), so runs never see each other's
//! rows; a schema is dropped when its test ends, and what a killed run left
//! is dropped by the next (`postgres_support`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod isolation;
mod postgres_support;

use std::time::{Duration, Instant};

use oauth_connect::conformance::{app_record, fresh_workspace};
use oauth_connect::limits::DEFAULT_ACQUIRE_TIMEOUT;
use oauth_connect::storage::{AppStore as _, PurgePolicy, StorageErrorKind};
use oauth_connect::{PostgresStore, WorkspaceId};
use postgres_support::SCHEMA_PREFIX;
use sqlx::{Connection as _, Row as _};
use time::OffsetDateTime;

const SKIPPED: &str = "the PostgreSQL conformance and backend tests";

fn database_url() -> Option<String> {
    postgres_support::database_url(SKIPPED)
}

async fn fresh_store(url: String) -> PostgresStore {
    postgres_support::fresh_store(&url).await
}

oauth_connect::storage_conformance_tests!({
    // Without a database, this returns from the generated test itself.
    let Some(url) = database_url() else { return };
    fresh_store(url)
});

/// The schema is really per store: a table in one is invisible from
/// another, and migrating twice is harmless.
#[tokio::test]
async fn schemas_isolate_stores_and_migrate_is_idempotent() {
    let Some(url) = database_url() else { return };
    let one = fresh_store(url.clone()).await;
    let two = fresh_store(url).await;
    one.migrate().await.expect("second migrate is a no-op");
    two.migrate_unlocked().await.expect("so is an unlocked one");
    let record = app_record(&fresh_workspace(), OffsetDateTime::UNIX_EPOCH, None);
    one.insert_app(&record).await.unwrap();
    assert!(
        two.get_app_by_client_id(&record.app.client_id)
            .await
            .unwrap()
            .is_none()
    );
    let search_path: String = sqlx::query("SHOW search_path")
        .fetch_one(one.pool())
        .await
        .unwrap()
        .get(0);
    assert!(search_path.starts_with(SCHEMA_PREFIX), "{search_path}");
    for store in [one, two] {
        let drop = format!(
            "DROP SCHEMA {search_path} CASCADE",
            search_path = schema_of(&store).await
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

/// Test schemas go with their test: three stores made on threads of their
/// own (the test harness runs each test on one) leave no schema once their
/// threads ended, failing or not. The sweep drops a schema of a dead run
/// (no session holds its lock) and keeps one of a run still going (its
/// lock held), until that run ends.
#[test]
fn test_schemas_are_dropped_when_their_test_ends_and_dead_runs_are_swept() {
    let Some(url) = database_url() else { return };
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let made: Vec<String> = (0..3)
        .map(|i| {
            let url = url.clone();
            let (name, outcome) = std::thread::spawn(move || {
                let (tx, rx) = std::sync::mpsc::channel();
                let outcome = std::panic::catch_unwind(move || {
                    runtime().block_on(async move {
                        let store = fresh_store(url).await;
                        tx.send(schema_of(&store).await).unwrap();
                        // The third test fails: its schema goes all the same.
                        assert!(i < 2, "a failing test");
                    });
                });
                (rx.recv().unwrap(), outcome.is_ok())
            })
            .join()
            .unwrap();
            assert_eq!(outcome, i < 2);
            name
        })
        .collect();
    runtime().block_on(async {
        let store = PostgresStore::connect(&url).await.unwrap();
        let count = |names: Vec<String>| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)",
                )
                .bind(names)
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        assert_eq!(count(made.clone()).await, 0, "{made:?} are gone");

        // Two runs' leftovers, older than the sweep's grace: one dead, one
        // whose lock a session holds; and a dead run's schema made just
        // now, which the sweep leaves for later.
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let dead_run = 0x7fff_0001_i32;
        let live_run = 0x7fff_0002_i32;
        let dead = format!("{SCHEMA_PREFIX}{}_{dead_run}_0", now - 3600);
        let live = format!("{SCHEMA_PREFIX}{}_{live_run}_0", now - 3600);
        let young = format!("{SCHEMA_PREFIX}{}_{dead_run}_1", now);
        let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT pg_advisory_lock($1, $2)")
            .bind(postgres_support::RUN_LOCK_CLASS)
            .bind(live_run)
            .execute(&mut holder)
            .await
            .unwrap();
        for name in [&dead, &live, &young] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .execute(store.pool())
                .await
                .unwrap();
        }
        postgres_support::drop_stale_schemas(&store).await;
        assert_eq!(
            count(vec![dead.clone()]).await,
            0,
            "a dead run's schema is swept"
        );
        assert_eq!(count(vec![live.clone()]).await, 1, "a live run's is kept");
        assert_eq!(
            count(vec![young.clone()]).await,
            1,
            "a schema made just now is kept, its run's lock or not"
        );
        holder.close().await.unwrap();
        postgres_support::drop_stale_schemas(&store).await;
        assert_eq!(count(vec![live]).await, 0, "and swept once that run ended");
        postgres_support::drop_schema(&store, &young).await;
        store.close().await;
    });
}

/// The listing's total is read from the workspace's count (one row), not
/// counted over the workspace's apps: a page costs O(offset + page size)
/// however many apps the workspace has. Shown by changing the count behind
/// the store's back: the listing reports it.
#[tokio::test]
async fn list_total_reads_the_workspace_count_not_the_rows() {
    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    let ws = fresh_workspace();
    for _ in 0..3 {
        let record = app_record(&ws, OffsetDateTime::now_utc(), None);
        store.insert_app(&record).await.unwrap();
    }
    let counted: i64 =
        sqlx::query("SELECT apps FROM oauth_workspace_app_counts WHERE workspace_id = $1")
            .bind(ws.as_str())
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(counted, 3, "kept with each insert");
    sqlx::query("UPDATE oauth_workspace_app_counts SET apps = 1000 WHERE workspace_id = $1")
        .bind(ws.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    let listing = store.list_apps(&ws, 0, 10).await.unwrap();
    assert_eq!((listing.total, listing.items.len()), (1000, 3));
}

async fn schema_of(store: &PostgresStore) -> String {
    sqlx::query("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

/// Nothing listens on port 1: connecting fails with a retryable kind, within
/// the pool's acquire timeout, and without a panic.
#[tokio::test]
async fn an_unreachable_database_fails_fast() {
    let bound = DEFAULT_ACQUIRE_TIMEOUT + Duration::from_secs(5);
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        bound,
        PostgresStore::connect("postgres://postgres@127.0.0.1:1/test"),
    )
    .await
    .expect("connect gave up within the acquire timeout");
    let err = outcome.expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err.kind(),
            StorageErrorKind::Unavailable | StorageErrorKind::Timeout
        ),
        "{err}"
    );
    assert!(started.elapsed() < bound);
}

/// A lazily connected pool meets the same failure at the first operation.
#[tokio::test]
async fn an_unreachable_database_fails_operations_within_the_timeout() {
    let acquire = Duration::from_secs(1);
    let pool = PostgresStore::default_pool_options()
        .acquire_timeout(acquire)
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .unwrap();
    let store = PostgresStore::from_pool(pool);
    let ws = WorkspaceId::parse("ws_unreachable").unwrap();
    let record = app_record(&ws, OffsetDateTime::UNIX_EPOCH, None);
    let err = tokio::time::timeout(
        acquire + Duration::from_secs(5),
        store.get_app(&ws, &record.app.id),
    )
    .await
    .expect("the operation gave up within the acquire timeout")
    .expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err.kind(),
            StorageErrorKind::Unavailable | StorageErrorKind::Timeout
        ),
        "{err}"
    );
}

/// A database that accepted the statement and went silent (a network
/// partition: connections open, nothing answers) fails operations with
/// `Timeout` within the operation timeout, storage calls and whole
/// requests alike (a 503 `temporarily_unavailable`), and the same store
/// serves again once the partition heals. The time is only checked against
/// a generous upper bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_database_fails_operations_within_the_operation_timeout() {
    use bytes::Bytes;
    use oauth_connect::hooks::SystemRandom;
    use oauth_connect::{AuthorizationServer, KeyRing};
    use postgres_support::proxy::Proxy;
    use sqlx::postgres::PgConnectOptions;

    let Some(url) = database_url() else { return };
    let options: PgConnectOptions = url.parse().unwrap();
    let proxy = Proxy::start(&format!("{}:{}", options.get_host(), options.get_port()));
    let mut proxied = url::Url::parse(&url).unwrap();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.addr.port())).unwrap();
    let limit = Duration::from_secs(1);
    let store = fresh_store(proxied.into())
        .await
        .with_operation_timeout(limit);
    let server = AuthorizationServer::builder(store.clone())
        .issuer("https://auth.example.com")
        .key_ring(KeyRing::generate(&SystemRandom::new()).unwrap())
        .build()
        .unwrap();
    let ws = fresh_workspace();
    let admin = server.create_admin_key(&ws).await.unwrap();
    let record = app_record(&ws, OffsetDateTime::UNIX_EPOCH, None);
    store.insert_app(&record).await.unwrap();
    let list = || {
        http::Request::get("/v1/oauth-apps")
            .header("authorization", format!("Bearer {}", admin.expose_secret()))
            .body(Bytes::new())
            .unwrap()
    };
    assert_eq!(server.handle(list()).await.status(), 200);

    proxy.freeze();
    let bound = limit + Duration::from_secs(5);
    let started = Instant::now();
    let err = tokio::time::timeout(bound, store.get_app(&ws, &record.app.id))
        .await
        .expect("the operation gave up within its timeout")
        .expect_err("nothing answers");
    assert_eq!(err.kind(), StorageErrorKind::Timeout, "{err}");
    assert!(started.elapsed() >= limit, "it waited for the answer first");
    let answer = tokio::time::timeout(bound, server.handle(list()))
        .await
        .expect("the request gave up within the operation timeout");
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    proxy.thaw();
    let mut attempts = 0;
    let found = loop {
        attempts += 1;
        match store.get_app(&ws, &record.app.id).await {
            Ok(found) => break found,
            // A connection still draining its abandoned statement's answer.
            Err(e) if attempts < 10 => {
                assert_eq!(e.kind(), StorageErrorKind::Timeout, "{e}");
            }
            Err(e) => panic!("no service after the partition healed: {e}"),
        }
    };
    assert_eq!(found, Some(record));
    assert_eq!(server.handle(list()).await.status(), 200);
}

/// Counts the statements sqlx executes on this thread: sqlx emits one
/// `sqlx::query` event per statement it runs (when a subscriber wants it),
/// whether it succeeds or fails.
struct StatementCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

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
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The statements `step` sends.
async fn statements<T>(
    count: &std::sync::atomic::AtomicUsize,
    step: impl std::future::Future<Output = T>,
) -> (usize, T) {
    let before = count.load(std::sync::atomic::Ordering::SeqCst);
    let out = step.await;
    (
        count.load(std::sync::atomic::Ordering::SeqCst) - before,
        out,
    )
}

/// The round trips the module docs promise: client authentication, the
/// code exchange, a refresh, an approval (Connect or not), a Connect step
/// and the connection management calls are one statement per storage call,
/// and a refused change costs one more. (Counted by sqlx's own per-statement
/// events, on a current-thread runtime so that every event lands on the
/// thread whose subscriber counts them.)
#[tokio::test]
async fn token_endpoint_paths_send_one_statement_per_call() {
    use oauth_connect::conformance::{
        connect_approval, customer_record, grant_and_code, session_record, token_record,
    };
    use oauth_connect::storage::{
        CodeRedemption, ConnectStore as _, ConnectionFilter, GrantStore as _, RefreshRotation,
        SessionCompletion, SessionDecision, StepAdvance, TagEdit, TagUpdate, TokenKind,
    };

    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    let now = OffsetDateTime::now_utc();
    let app = app_record(
        &fresh_workspace(),
        now,
        Some(oauth_connect::conformance::random_hash()),
    );
    store.insert_app(&app).await.unwrap();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code) = grant_and_code(&app, now);

    // A second registered dispatcher, alive as long as the counter: with
    // only one, tracing-core computes the interest of a callsite first hit
    // on another thread (another test's, without a subscriber) from that
    // thread's dispatcher alone, caches "never", and our events are lost.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let dispatch = tracing::Dispatch::new(StatementCounter(std::sync::Arc::clone(&count)));
    let _guard = tracing::dispatcher::set_default(&dispatch);

    let (n, found) = statements(&count, store.get_app_by_client_id(&app.app.client_id)).await;
    assert!(found.unwrap().is_some());
    assert_eq!(n, 1, "client authentication");

    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    let (n, done) = statements(&count, store.complete_session(&session.hash, &approve, now)).await;
    assert!(matches!(done.unwrap(), SessionCompletion::Completed(_)));
    assert_eq!(
        n, 1,
        "an approval: session, grant and code in one statement"
    );
    // An approval by the host's consent policy: grant and code, one statement.
    let (auto_grant, auto_code) = grant_and_code(&app, now);
    let (n, done) = statements(&count, store.insert_code(&auto_grant, &auto_code)).await;
    done.unwrap();
    assert_eq!(n, 1, "insert_code: grant and code in one statement");

    // A Connect approval: customer, connection and scoped key too, still
    // one statement; a second one for the same reference id updates the
    // connection in place and revokes the old grant, also in one.
    let customer = customer_record(&app, "counted", now);
    for _ in 0..2 {
        let connect_session = session_record(&app, now);
        store.insert_session(&connect_session).await.unwrap();
        let (grant, code, connect) = connect_approval(&app, &customer, true, now);
        let decision = SessionDecision::Approve {
            grant: Box::new(grant),
            code: Box::new(code),
            connect: Some(Box::new(connect)),
        };
        let (n, done) = statements(
            &count,
            store.complete_session(&connect_session.hash, &decision, now),
        )
        .await;
        assert!(matches!(done.unwrap(), SessionCompletion::Completed(_)));
        assert_eq!(n, 1, "a Connect approval: one statement");
    }
    // A new customer under a taken reference id: refused, and the session
    // read once more to tell the conflict from a completed session.
    let impostor = customer_record(&app, "counted", now);
    let connect_session = session_record(&app, now);
    store.insert_session(&connect_session).await.unwrap();
    let (grant2, code2, connect) = connect_approval(&app, &impostor, false, now);
    let decision = SessionDecision::Approve {
        grant: Box::new(grant2),
        code: Box::new(code2),
        connect: Some(Box::new(connect)),
    };
    let (n, refused) = statements(
        &count,
        store.complete_session(&connect_session.hash, &decision, now),
    )
    .await;
    assert_eq!(refused.unwrap_err().kind(), StorageErrorKind::Conflict);
    assert_eq!(n, 2, "a refused customer: the approval, then the reread");

    let access = token_record(&grant, TokenKind::Access, now);
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    let tokens = [access, refresh.clone()];
    let expiry = now + time::Duration::days(30);
    let (n, got) = statements(&count, store.get_code(&code.hash)).await;
    assert!(got.unwrap().is_some());
    let (m, redeemed) =
        statements(&count, store.redeem_code(&code.hash, &tokens, expiry, now)).await;
    assert!(matches!(redeemed.unwrap(), CodeRedemption::Redeemed(_)));
    assert_eq!((n, m), (1, 1), "code exchange: get_code + redeem_code");

    let (n, again) = statements(&count, store.redeem_code(&code.hash, &[], expiry, now)).await;
    assert!(matches!(again.unwrap(), CodeRedemption::AlreadyRedeemed(_)));
    assert_eq!(n, 2, "a refused redemption reads the code once more");

    let next = [
        token_record(&grant, TokenKind::Access, now),
        token_record(&grant, TokenKind::Refresh, now),
    ];
    let (n, got) = statements(&count, store.get_token(&refresh.hash)).await;
    assert!(got.unwrap().is_some());
    let (m, rotated) = statements(
        &count,
        store.rotate_refresh_token(&refresh.hash, &next, expiry, None, now),
    )
    .await;
    assert!(matches!(rotated.unwrap(), RefreshRotation::Rotated(_)));
    assert_eq!((n, m), (1, 1), "refresh: get_token + rotate_refresh_token");

    let (n, reused) = statements(
        &count,
        store.rotate_refresh_token(&refresh.hash, &[], expiry, None, now),
    )
    .await;
    assert!(matches!(reused.unwrap(), RefreshRotation::Reused { .. }));
    assert_eq!(n, 2, "reuse: the refused rotation, then the revoking one");

    // A Connect step: the compare-and-swap is one statement; a stale one
    // reads the session once more.
    let steps = oauth_connect::conformance::connect_session_record(&app, now);
    store.insert_session(&steps).await.unwrap();
    let mut next = steps.connect.as_deref().unwrap().clone();
    next.step_version = 1;
    let (n, advanced) = statements(&count, store.advance_connect(&steps.hash, 0, &next, now)).await;
    assert_eq!(advanced.unwrap(), StepAdvance::Advanced);
    assert_eq!(n, 1, "a step transition");
    let (n, stale) = statements(&count, store.advance_connect(&steps.hash, 0, &next, now)).await;
    assert!(matches!(stale.unwrap(), StepAdvance::Stale(_)));
    assert_eq!(
        n, 2,
        "a stale transition: the refused swap, then the reread"
    );

    // The connection management calls: one statement each.
    let ws = &app.app.workspace_id;
    let (n, listed) = statements(
        &count,
        store.list_connections(ws, &ConnectionFilter::default(), 0, 10),
    )
    .await;
    let connection = listed.unwrap().items.remove(0);
    assert_eq!(n, 1, "a connection listing");
    let mut edit = TagEdit::default();
    edit.add = vec!["counted".to_owned()];
    edit.max = 10;
    let (n, edited) = statements(
        &count,
        store.update_connection_tags(ws, None, &connection.id, &edit, now),
    )
    .await;
    assert!(matches!(edited.unwrap(), TagUpdate::Updated(_)));
    assert_eq!(n, 1, "a tag edit");
    let (n, revoked) = statements(
        &count,
        store.revoke_connection(ws, None, &connection.id, now),
    )
    .await;
    assert!(revoked.unwrap().is_some());
    assert_eq!(n, 1, "a revocation with its cascade");
}

/// What one whole request or check costs, as the manual states it (docs/postgres.md, "Round trips"):
/// client authentication, bearer access-token validation and scoped-key
/// verification are one statement each; `POST /oauth/token` is two for the
/// code exchange and the refresh (the client's app read with the code or
/// the token, then the atomic write; one more to deliver a Connect
/// session's scoped key with the tokens);
/// approving a consent is two (the session, then the atomic approval), a
/// Connect approval five (the session, the customer, the app, the atomic
/// approval, the connection it left for the event). Counted through the
/// server (not the store), so a flow that grows an extra lookup fails here.
#[tokio::test]
async fn request_paths_send_a_fixed_number_of_statements() {
    use base64::Engine as _;
    use bytes::Bytes;
    use oauth_connect::connect::ConnectDecision;
    use oauth_connect::hooks::SystemRandom;
    use oauth_connect::{AppType, AuthorizationServer, KeyRing, NewOAuthApp};

    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    let server = AuthorizationServer::builder(store)
        .issuer("https://auth.example.com")
        .key_ring(KeyRing::generate(&SystemRandom::new()).unwrap())
        .dangerous()
        .demo_sign_in()
        .build()
        .unwrap();
    let workspace = fresh_workspace();
    let redirect = "https://app.example.com/callback";
    let created = server
        .create_app(
            &workspace,
            &NewOAuthApp {
                name: "Counted".into(),
                description: None,
                redirect_uris: vec![redirect.into()],
                allowed_scopes: vec!["read:devices".into()],
                allowed_origins: vec![],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        )
        .await
        .unwrap();
    let client_id = created.app.client_id.as_str().to_owned();
    let secret = created.client_secret.unwrap().expose_secret().to_owned();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    let request = |path: &str, content_type: &str, body: String| {
        http::Request::post(path)
            .header("authorization", &basic)
            .header("content-type", content_type)
            .body(Bytes::from(body))
            .unwrap()
    };
    let json = |response: &http::Response<Bytes>| -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    };

    // A Connect session whose customer is complete: straight to consent.
    let body = serde_json::json!({
        "redirectUrl": redirect,
        "referenceId": "counted",
        "scopedKey": true,
        "customerInfo": {
            "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "phone": "555-555-0100",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                         "postalCode": "62701", "country": "US"}
        }
    });
    let session = server
        .handle(request(
            "/v1/connect/sessions",
            "application/json",
            body.to_string(),
        ))
        .await;
    assert_eq!(session.status(), 201, "{:?}", session.body());
    let token = json(&session)["connectToken"].as_str().unwrap().to_owned();
    let browser = server.new_browser_secret().unwrap();
    let page = server.connect_open(&token, &browser, None).await.unwrap();

    let (count, _guard) = count_statements();
    let (n, done) = statements(
        &count,
        server.connect_complete(
            &token,
            page.csrf_token.expose_secret(),
            &browser,
            ConnectDecision::Approve,
        ),
    )
    .await;
    let location = done.unwrap().location;
    assert_eq!(
        n, 6,
        "a Connect approval that is the page's first post: open_session, advance_connect \
         (the first post claims the session for the browser), find_customer, get_app, \
         complete_session (customer, grant, code, connection, scoped key), find_connection"
    );
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();

    // A browser-created session (what a publishable key makes) looks up no
    // customer, neither when made nor when approved.
    let body: oauth_connect::NewConnectSession = serde_json::from_value(body.clone()).unwrap();
    let (n, made) = statements(
        &count,
        server.create_connect_session(&created.app, &body, true),
    )
    .await;
    assert_eq!(n, 1, "a browser-created session: insert_session only");
    let browser_token = made.unwrap().connect_token.expose_secret().to_owned();
    let page = server
        .connect_open(&browser_token, &browser, None)
        .await
        .unwrap();
    let (n, done) = statements(
        &count,
        server.connect_complete(
            &browser_token,
            page.csrf_token.expose_secret(),
            &browser,
            ConnectDecision::Approve,
        ),
    )
    .await;
    assert!(done.is_ok(), "{done:?}");
    assert_eq!(
        n, 5,
        "a browser-created Connect approval that is the page's first post: open_session, \
         advance_connect (the claim), get_app, complete_session, find_connection"
    );

    let form = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", redirect),
    ]);
    let form_type = "application/x-www-form-urlencoded";
    let (n, tokens) = statements(
        &count,
        server.handle(request("/oauth/token", form_type, exchange)),
    )
    .await;
    assert_eq!(tokens.status(), 200, "{:?}", tokens.body());
    assert_eq!(
        n, 3,
        "POST /oauth/token (a Connect code): get_app_and_code (client authentication and the \
         code in one read), redeem_code, and get_scoped_key for the key delivered with the \
         tokens"
    );
    let tokens = json(&tokens);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let scoped_key = tokens["scoped_key"].as_str().unwrap().to_owned();

    let (n, valid) = statements(&count, server.authenticate_bearer(&access)).await;
    assert!(valid.is_ok());
    assert_eq!(n, 1, "bearer access-token validation (RFC 6750)");
    let (n, valid) = statements(&count, server.verify_scoped_key(&scoped_key)).await;
    assert!(valid.is_ok());
    assert_eq!(n, 1, "scoped-key verification: the revocation check");
    let (n, valid) = statements(&count, server.authenticate_bearer(&scoped_key)).await;
    assert!(valid.is_ok());
    assert_eq!(n, 1, "either credential through the resource-server path");
    let (n, valid) = statements(
        &count,
        server.authenticate_client(&client_id, Some(&secret)),
    )
    .await;
    assert!(valid.is_ok());
    assert_eq!(n, 1, "client authentication (RFC 6749 §2.3.1)");
    // A mistyped credential costs nothing: its checksum fails first.
    let mut typo = access.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    let (n, refused) = statements(&count, server.authenticate_bearer(&typo)).await;
    assert!(refused.is_err());
    assert_eq!(n, 0, "a malformed token never reaches storage");

    // A plain consent (RFC 6749 §4.1.1), with PKCE (RFC 7636 Appendix B's
    // pair): opening it is the request's business, approving it one
    // statement, exchanging its code three.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let authorization = oauth_connect::oauth::AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some(client_id.as_str().into()),
        redirect_uri: Some(redirect.into()),
        scope: Some("read:devices".into()),
        state: Some("counted".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        ..oauth_connect::oauth::AuthorizationRequest::default()
    };
    let oauth_connect::oauth::AuthorizeOutcome::Consent(prompt) = server
        .authorize_request(None, &authorization)
        .await
        .unwrap()
    else {
        panic!("a consent prompt");
    };
    let subject = oauth_connect::Subject::parse("user-42").unwrap();
    let (n, decided) = statements(
        &count,
        server.decide(
            prompt.session.expose_secret(),
            prompt.csrf_token.expose_secret(),
            oauth_connect::oauth::Decision::Approve {
                subject,
                scopes: None,
            },
        ),
    )
    .await;
    let location = decided.unwrap().location;
    assert_eq!(
        n, 1,
        "a consent approval: insert_code (the request is sealed in the page)"
    );
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "code")
        .unwrap()
        .1
        .into_owned();
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]);
    let (n, tokens) = statements(
        &count,
        server.handle(request("/oauth/token", form_type, exchange)),
    )
    .await;
    assert_eq!(tokens.status(), 200, "{:?}", tokens.body());
    assert_eq!(
        n, 2,
        "POST /oauth/token (code, PKCE; issue 23: at most 2): get_app_and_code (client \
         authentication and the code in one read), redeem_code"
    );

    let refresh_body = form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    let (n, refreshed) = statements(
        &count,
        server.handle(request("/oauth/token", form_type, refresh_body)),
    )
    .await;
    assert_eq!(refreshed.status(), 200, "{:?}", refreshed.body());
    assert_eq!(
        n, 2,
        "POST /oauth/token (refresh; issue 23: at most 2): get_app_and_token (client \
         authentication and the token in one read), rotate_refresh_token"
    );
}

/// A counter of the statements sqlx sends on this thread, and the guard
/// that keeps it installed. See `token_endpoint_paths_send_one_statement_per_call`
/// for why a second dispatcher is registered.
fn count_statements() -> (
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    (tracing::Dispatch, tracing::dispatcher::DefaultGuard),
) {
    let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let dispatch = tracing::Dispatch::new(StatementCounter(std::sync::Arc::clone(&count)));
    let guard = tracing::dispatcher::set_default(&dispatch);
    (count, (second, guard))
}

/// The races of the conformance suite (64 redemptions of one code, 50
/// rotations of one refresh token, 20 approvals of one session or Connect
/// session, 16 secret rotations) run as concurrent tasks on a pool, each
/// statement on a pooled connection: here the pool really had several in
/// use at once (it opens one only when every open one is busy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn races_run_on_several_connections() {
    use oauth_connect::conformance;

    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    assert!(store.pool().size() <= 1, "no connection is opened ahead");
    let shared = std::sync::Arc::new(store.clone());
    conformance::codes_concurrent_redemptions_have_one_winner(std::sync::Arc::clone(&shared)).await;
    let opened = store.pool().size();
    assert!(
        opened > 1,
        "64 concurrent redemptions went through {opened} connection(s)"
    );
    conformance::refresh_concurrent_rotations_have_one_winner(std::sync::Arc::clone(&shared)).await;
    conformance::connect_concurrent_approvals_have_one_winner(std::sync::Arc::clone(&shared)).await;
    conformance::apps_concurrent_rotations_have_one_winner(shared).await;
    assert!(store.pool().size() > 1);
}

/// Several purges at once (as from several nodes) split the work: no
/// error, no record counted twice, everything expired gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purges_split_the_work() {
    use oauth_connect::conformance::{grant_and_code, random_hash, session_record, token_record};
    use oauth_connect::storage::{GrantStore as _, TokenKind};

    let Some(url) = database_url() else { return };
    let store = std::sync::Arc::new(fresh_store(url).await);
    let then = OffsetDateTime::now_utc() - time::Duration::days(400);
    let app = app_record(&fresh_workspace(), then, Some(random_hash()));
    store.insert_app(&app).await.unwrap();
    let mut expected = 0u64;
    for _ in 0..40 {
        store
            .insert_session(&session_record(&app, then))
            .await
            .unwrap();
        let (mut grant, _) = grant_and_code(&app, then);
        grant.expires_at = Some(then + time::Duration::hours(1));
        let tokens = [
            token_record(&grant, TokenKind::Access, then),
            token_record(&grant, TokenKind::Refresh, then),
        ];
        store.insert_grant(&grant, &tokens).await.unwrap();
        expected += 4;
    }
    let at = then + time::Duration::days(2);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            // Until a pass finds nothing: a short batch from one purger
            // may only mean the others hold the rest.
            loop {
                let n = store
                    .purge_expired(at, 7, &PurgePolicy::DEFAULT)
                    .await
                    .unwrap();
                total += n;
                if n == 0 {
                    break total;
                }
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, expected, "each record purged exactly once");
    assert_eq!(
        store
            .purge_expired(at, 100, &PurgePolicy::DEFAULT)
            .await
            .unwrap(),
        0
    );
}

/// A Connect context stored before `stepVersion` existed counts as version
/// 0. (The connection checks this test once held — listing filters, tag
/// edits and their race, revocation's cascade — are in the conformance
/// suite now, so every backend runs them.)
#[tokio::test]
async fn a_connect_context_without_step_version_is_at_version_0() {
    use oauth_connect::conformance::{connect_session_record, random_hash};
    use oauth_connect::storage::{ConnectStore as _, GrantStore as _, StepAdvance};

    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    let now = OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap();
    let app = app_record(&fresh_workspace(), now, Some(random_hash()));
    store.insert_app(&app).await.unwrap();

    // A context written before `stepVersion` existed is at version 0.
    let session = connect_session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    sqlx::query("UPDATE oauth_sessions SET connect = connect - 'stepVersion' WHERE hash = $1")
        .bind(session.hash.as_bytes().as_slice())
        .execute(store.pool())
        .await
        .unwrap();
    let mut next = session.connect.as_deref().unwrap().clone();
    next.step_version = 1;
    let applied = store.advance_connect(&session.hash, 0, &next, now).await;
    assert_eq!(applied.unwrap(), StepAdvance::Advanced);
    let stale = store.advance_connect(&session.hash, 0, &next, now).await;
    assert!(matches!(stale.unwrap(), StepAdvance::Stale(s) if s.connect.as_deref() == Some(&next)));
}

// ---- migration 0009: each scoped key's grant ----

/// The migrations of `migrations/` up to `last`, read from the folder with
/// the versions, descriptions and text the crate embeds (so the same
/// checksums: the crate's own `migrate()` takes over from them).
/// Today's app columns on a schema migrated only part of the way: the
/// store's insert writes `logo_uri` (0013), so a test of an older
/// migration adds it first (0013 adds it only if it is missing).
async fn with_todays_app_columns(store: &PostgresStore) {
    sqlx::query("ALTER TABLE oauth_apps ADD COLUMN IF NOT EXISTS logo_uri text")
        .execute(store.pool())
        .await
        .unwrap();
}

fn migrations_up_to(last: i64) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    let migrations = files
        .iter()
        .filter_map(|path| {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let (number, name) = stem.split_once('_').unwrap();
            let version: i64 = number.parse().unwrap();
            (version <= last).then(|| {
                let sql = std::fs::read_to_string(path).unwrap();
                Migration::new(
                    version,
                    name.replace('_', " ").into(),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(sql).into_sql_str(),
                    false,
                )
            })
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The versions of every migration in `migrations/`, in order.
fn every_migration() -> Vec<i64> {
    migrations_up_to(i64::MAX)
        .iter()
        .map(|migration| migration.version)
        .collect()
}

/// The columns of a grant row (`migrations/0002_grants.sql`).
async fn insert_grant_row(
    store: &PostgresStore,
    app: &oauth_connect::storage::AppRecord,
    id: &str,
    reference_id: &str,
    at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
) {
    sqlx::query(
        "INSERT INTO oauth_grants (id, workspace_id, app_id, client_id, subject, scopes, \
         created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
    )
    .bind(id)
    .bind(app.app.workspace_id.as_str())
    .bind(app.app.id.as_str())
    .bind(app.app.client_id.as_str())
    .bind(reference_id)
    .bind(vec!["read:devices"])
    .bind(at)
    .bind(revoked_at)
    .execute(store.pool())
    .await
    .unwrap();
}

/// A connection row as of migration 0008 (`0004_connect.sql`,
/// `0005_connect_steps.sql`).
async fn insert_connection_row(
    store: &PostgresStore,
    customer: &oauth_connect::storage::CustomerRecord,
    app: &oauth_connect::storage::AppRecord,
    grant_id: &str,
    status: &str,
    account: &str,
    updated_at: OffsetDateTime,
) {
    let id = format!("conn_{}", &random_hex32());
    sqlx::query(
        "INSERT INTO oauth_connections (id, workspace_id, app_id, customer_id, reference_id, \
         grant_id, tags, status, browser_created, created_at, updated_at, linked_provider, \
         linked_account_reference, linked_label) \
         VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, false, $8, $9, 'demo', $10, $10)",
    )
    .bind(id)
    .bind(app.app.workspace_id.as_str())
    .bind(app.app.id.as_str())
    .bind(customer.id.as_str())
    .bind(customer.reference_id.as_str())
    .bind(grant_id)
    .bind(status)
    .bind(customer.created_at)
    .bind(updated_at)
    .bind(account)
    .execute(store.pool())
    .await
    .unwrap();
}

fn random_hex32() -> String {
    use std::hash::{BuildHasher as _, RandomState};
    let state = RandomState::new();
    format!("{:016x}{:016x}", state.hash_one(1u8), state.hash_one(2u8))
}

/// Migration `0009_scoped_key_grants.sql` on a database at 0008 with keys
/// minted before it: a key minted with a Connect approval gets the grant of
/// the code that names it; a key minted through the API gets the grant of
/// its app's connection to its customer, the active one before more
/// recently changed revoked ones, else the most recently changed; a key no
/// connection explains is deleted. Afterwards `migrate()` has applied 0009
/// (and the later migrations) once, the column is required, and the keys
/// follow their grant.
#[tokio::test]
async fn migration_0009_backfills_each_scoped_keys_grant() {
    use oauth_connect::GrantId;
    use oauth_connect::conformance::{customer_record, random_hash, scoped_key_record};
    use oauth_connect::storage::ConnectStore as _;
    use time::Duration as Span;

    let Some(url) = database_url() else { return };
    let store = postgres_support::fresh_empty_store(&url).await;
    let mut conn = store.pool().acquire().await.unwrap();
    migrations_up_to(8).run(&mut *conn).await.unwrap();
    drop(conn);
    with_todays_app_columns(&store).await;
    let has_column: bool = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'oauth_scoped_keys' \
           AND column_name = 'grant_id')",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
    .get(0);
    assert!(!has_column, "the schema is at 0008");

    let now = OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap();
    let ws = fresh_workspace();
    let app = app_record(&ws, now, Some(random_hash()));
    store.insert_app(&app).await.unwrap();
    let grant = || GrantId::parse(&format!("grant_{}", random_hex32())).unwrap();
    let insert_customer = |customer: oauth_connect::storage::CustomerRecord| {
        let store = store.clone();
        async move {
            sqlx::query(
                "INSERT INTO oauth_customers (id, workspace_id, reference_id, info, \
                 created_at, updated_at) VALUES ($1, $2, $3, '{}'::jsonb, $4, $4)",
            )
            .bind(customer.id.as_str())
            .bind(customer.workspace_id.as_str())
            .bind(customer.reference_id.as_str())
            .bind(customer.created_at)
            .execute(store.pool())
            .await
            .unwrap();
            customer
        }
    };
    // A key as 0004 stored it: no grant.
    let insert_key = |key: oauth_connect::storage::ScopedKeyRecord| {
        let store = store.clone();
        async move {
            sqlx::query(
                "INSERT INTO oauth_scoped_keys (id, workspace_id, app_id, client_id, \
                 customer_id, reference_id, scopes, label, nonce, signing_key_id, created_at, \
                 expires_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL)",
            )
            .bind(key.id.as_str())
            .bind(key.workspace_id.as_str())
            .bind(key.app_id.as_str())
            .bind(key.client_id.as_str())
            .bind(key.customer_id.as_str())
            .bind(key.reference_id.as_str())
            .bind(vec!["read:devices"])
            .bind(key.label.as_deref())
            .bind(key.nonce.as_slice())
            .bind(i16::from(key.signing_key_id))
            .bind(key.created_at)
            .execute(store.pool())
            .await
            .unwrap();
            key
        }
    };

    // 1. Minted with a Connect approval: its code names it.
    let with_code = insert_customer(customer_record(&app, "minted-with-code", now)).await;
    let g1 = grant();
    insert_grant_row(&store, &app, g1.as_str(), "minted-with-code", now, None).await;
    insert_connection_row(&store, &with_code, &app, g1.as_str(), "active", "a1", now).await;
    // A later connection of the same customer (another account), more
    // recently changed: the code decides, not the connections.
    let g1b = grant();
    insert_grant_row(&store, &app, g1b.as_str(), "minted-with-code", now, None).await;
    let later = now + Span::hours(1);
    insert_connection_row(
        &store,
        &with_code,
        &app,
        g1b.as_str(),
        "active",
        "a2",
        later,
    )
    .await;
    let k1 = insert_key(scoped_key_record(&app, &with_code, &g1, now)).await;
    sqlx::query(
        "INSERT INTO oauth_codes (hash, grant_id, workspace_id, app_id, client_id, \
         redirect_uri, redirect_uri_in_request, code_challenge, scopes, subject, issued_at, \
         expires_at, redeemed_at, scoped_key_id) \
         VALUES ($1, $2, $3, $4, $5, 'https://app.example.com/callback', false, NULL, $6, \
                 'minted-with-code', $7, $7, $7, $8)",
    )
    .bind(random_hash().as_bytes().as_slice())
    .bind(g1.as_str())
    .bind(ws.as_str())
    .bind(app.app.id.as_str())
    .bind(app.app.client_id.as_str())
    .bind(vec!["read:devices"])
    .bind(now)
    .bind(k1.id.as_str())
    .execute(store.pool())
    .await
    .unwrap();

    // 2. Minted through the API for a customer with a connection: the
    // active connection's grant, though a revoked one changed since.
    let by_api = insert_customer(customer_record(&app, "minted-by-api", now)).await;
    let g2 = grant();
    let g2_old = grant();
    insert_grant_row(&store, &app, g2.as_str(), "minted-by-api", now, None).await;
    insert_grant_row(
        &store,
        &app,
        g2_old.as_str(),
        "minted-by-api",
        now,
        Some(later),
    )
    .await;
    insert_connection_row(&store, &by_api, &app, g2.as_str(), "active", "b1", now).await;
    let latest = now + Span::hours(2);
    insert_connection_row(
        &store,
        &by_api,
        &app,
        g2_old.as_str(),
        "revoked",
        "b2",
        latest,
    )
    .await;
    let k2 = insert_key(scoped_key_record(&app, &by_api, &g2, now)).await;

    // 3. Only revoked connections: the most recently changed one's grant.
    let revoked = insert_customer(customer_record(&app, "only-revoked", now)).await;
    let (g3a, g3b) = (grant(), grant());
    insert_grant_row(&store, &app, g3a.as_str(), "only-revoked", now, Some(now)).await;
    insert_grant_row(&store, &app, g3b.as_str(), "only-revoked", now, Some(later)).await;
    insert_connection_row(&store, &revoked, &app, g3a.as_str(), "revoked", "c1", now).await;
    insert_connection_row(&store, &revoked, &app, g3b.as_str(), "revoked", "c2", later).await;
    let k3 = insert_key(scoped_key_record(&app, &revoked, &g3b, now)).await;

    // 4. No connection and no code explains it.
    let orphan = insert_customer(customer_record(&app, "orphan", now)).await;
    let k4 = insert_key(scoped_key_record(&app, &orphan, &grant(), now)).await;

    store.migrate().await.unwrap();

    let applied: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        applied,
        every_migration(),
        "0009 and the later ones, once each"
    );
    let nullable: String = sqlx::query(
        "SELECT is_nullable FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'oauth_scoped_keys' \
           AND column_name = 'grant_id'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(nullable, "NO", "every key has a grant now");

    let read = |id| {
        let store = store.clone();
        async move { store.get_scoped_key(&id).await.unwrap() }
    };
    let k1_now = read(k1.id.clone()).await.unwrap();
    assert_eq!(k1_now.grant_id, g1, "the code's grant");
    assert_eq!(k1_now.revoked_at, None);
    let k2_now = read(k2.id.clone()).await.unwrap();
    assert_eq!(k2_now.grant_id, g2, "the active connection's grant");
    assert_eq!(k2_now.revoked_at, None);
    let k3_now = read(k3.id.clone()).await.unwrap();
    assert_eq!(k3_now.grant_id, g3b, "the latest revoked connection's");
    assert_eq!(k3_now.revoked_at, Some(later), "revoked with that grant");
    assert_eq!(read(k4.id.clone()).await, None, "unexplained: deleted");

    // The backfilled keys follow their grant: revoking the API key's
    // connection revokes that key only.
    let connection = store
        .find_connection(&app.app.id, "minted-by-api")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.grant_id, g2);
    let at = now + Span::hours(3);
    store
        .revoke_connection(&ws, None, &connection.id, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read(k2.id.clone()).await.unwrap().revoked_at, Some(at));
    assert_eq!(read(k1.id.clone()).await.unwrap().revoked_at, None);
    let schema = schema_of(&store).await;
    postgres_support::drop_schema(&store, &schema).await;
}

/// `migrate()` waits for another node's migration (the advisory lock sqlx
/// takes, one per database) no longer than its migration timeout: it fails
/// with `Timeout` and applies nothing; once the lock is free it migrates.
#[tokio::test]
async fn migrate_gives_up_at_its_timeout_behind_another_nodes_lock() {
    let Some(url) = database_url() else { return };
    let store = postgres_support::fresh_empty_store(&url)
        .await
        .with_migration_timeout(Duration::from_millis(500));
    let database: String = sqlx::query("SELECT current_database()")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    // The id sqlx's PostgreSQL migrator locks: a CRC-32 of the database
    // name, scaled.
    let lock = 0x3d32_ad9e_i64 * i64::from(crc32fast::hash(database.as_bytes()));
    let mut other_node = store.pool().acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut *other_node)
        .await
        .unwrap();
    let refused = tokio::time::timeout(Duration::from_secs(60), store.migrate())
        .await
        .expect("migrate() does not hang");
    assert_eq!(refused.unwrap_err().kind(), StorageErrorKind::Timeout);
    let tables: i64 = sqlx::query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(tables, 0, "nothing applied");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut *other_node)
        .await
        .unwrap();
    drop(other_node);
    let store = store.with_migration_timeout(Duration::from_secs(60));
    store.migrate().await.unwrap();
    let schema = schema_of(&store).await;
    postgres_support::drop_schema(&store, &schema).await;
}

// ---- migration 0010: customers belong to an app ----

/// Migration `0010_customer_apps.sql` on a database at 0009: a customer
/// becomes its oldest connection's app's; another app connected to the same
/// customer gets a copy of its own (id derived from both ids), which its
/// connections and scoped keys follow; a customer without any connection
/// (its app deleted) goes; reference ids are then unique per app, and
/// deleting an app deletes its customers.
#[tokio::test]
async fn migration_0010_gives_each_customer_to_one_app() {
    use oauth_connect::conformance::{customer_record, random_hash, scoped_key_record};
    use oauth_connect::storage::ConnectStore as _;
    use oauth_connect::{CustomerId, GrantId};
    use time::Duration as Span;

    let Some(url) = database_url() else { return };
    let store = postgres_support::fresh_empty_store(&url).await;
    let mut conn = store.pool().acquire().await.unwrap();
    migrations_up_to(9).run(&mut *conn).await.unwrap();
    drop(conn);
    with_todays_app_columns(&store).await;

    let now = OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.nanosecond() / 1000 * 1000)
        .unwrap();
    let later = now + Span::hours(1);
    let ws = fresh_workspace();
    let first = app_record(&ws, now, Some(random_hash()));
    let second = app_record(&ws, now, Some(random_hash()));
    store.insert_app(&first).await.unwrap();
    store.insert_app(&second).await.unwrap();
    // A customer as of 0009: no app.
    let insert_customer = |customer: oauth_connect::storage::CustomerRecord| {
        let store = store.clone();
        async move {
            sqlx::query(
                "INSERT INTO oauth_customers (id, workspace_id, reference_id, info, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5)",
            )
            .bind(customer.id.as_str())
            .bind(customer.workspace_id.as_str())
            .bind(customer.reference_id.as_str())
            .bind(serde_json::to_string(&customer.info).unwrap())
            .bind(customer.created_at)
            .execute(store.pool())
            .await
            .unwrap();
            customer
        }
    };
    // A connection as of 0009, made at `at`.
    let connect = |app: oauth_connect::storage::AppRecord,
                   customer: oauth_connect::storage::CustomerRecord,
                   grant: GrantId,
                   at: OffsetDateTime| {
        let store = store.clone();
        async move {
            sqlx::query(
                "INSERT INTO oauth_connections (id, workspace_id, app_id, customer_id, \
                 reference_id, grant_id, tags, status, browser_created, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, '{}', 'active', false, $7, $7)",
            )
            .bind(format!("conn_{}", random_hex32()))
            .bind(app.app.workspace_id.as_str())
            .bind(app.app.id.as_str())
            .bind(customer.id.as_str())
            .bind(customer.reference_id.as_str())
            .bind(grant.as_str())
            .bind(at)
            .execute(store.pool())
            .await
            .unwrap();
        }
    };
    let grant = || GrantId::parse(&format!("grant_{}", random_hex32())).unwrap();

    // Connected by the second app first, then by the first, whose scoped
    // key names it.
    let shared = insert_customer(customer_record(&first, "shared", now)).await;
    let (g_second, g_first) = (grant(), grant());
    insert_grant_row(&store, &second, g_second.as_str(), "shared", now, None).await;
    insert_grant_row(&store, &first, g_first.as_str(), "shared", later, None).await;
    connect(second.clone(), shared.clone(), g_second.clone(), now).await;
    connect(first.clone(), shared.clone(), g_first.clone(), later).await;
    let first_key = scoped_key_record(&first, &shared, &g_first, later);
    sqlx::query(
        "INSERT INTO oauth_scoped_keys (id, workspace_id, app_id, client_id, customer_id, \
         reference_id, scopes, label, nonce, signing_key_id, created_at, expires_at, \
         revoked_at, grant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, NULL, NULL, $11)",
    )
    .bind(first_key.id.as_str())
    .bind(ws.as_str())
    .bind(first_key.app_id.as_str())
    .bind(first_key.client_id.as_str())
    .bind(first_key.customer_id.as_str())
    .bind(first_key.reference_id.as_str())
    .bind(vec!["read:devices"])
    .bind(first_key.nonce.as_slice())
    .bind(i16::from(first_key.signing_key_id))
    .bind(first_key.created_at)
    .bind(first_key.grant_id.as_str())
    .execute(store.pool())
    .await
    .unwrap();
    // Only the first app's.
    let own = insert_customer(customer_record(&first, "own", now)).await;
    let g_own = grant();
    insert_grant_row(&store, &first, g_own.as_str(), "own", now, None).await;
    connect(first.clone(), own.clone(), g_own, now).await;
    // Nobody's: its app was deleted, with its connections.
    let orphan = insert_customer(customer_record(&first, "orphan", now)).await;

    store.migrate().await.unwrap();

    let shared_now = store
        .get_customer(&ws, Some(&second.app.id), &shared.id)
        .await
        .unwrap()
        .expect("the oldest connection's app's");
    assert_eq!(shared_now.app_id, second.app.id);
    assert_eq!(shared_now.info, shared.info);
    let copy = store
        .find_customer(&ws, &first.app.id, "shared")
        .await
        .unwrap()
        .expect("the other app's copy");
    assert_ne!(copy.id, shared.id);
    assert_eq!(copy.app_id, first.app.id);
    assert_eq!(
        (copy.info.clone(), copy.created_at),
        (shared.info.clone(), shared.created_at)
    );
    let md5: String = sqlx::query("SELECT md5($1)")
        .bind(format!("{}/{}", shared.id.as_str(), first.app.id.as_str()))
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(copy.id, CustomerId::parse(&format!("cus_{md5}")).unwrap());
    let first_connection = store
        .find_connection(&first.app.id, "shared")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first_connection.customer_id, copy.id,
        "its connection follows"
    );
    assert_eq!(first_connection.claimed_reference_id, None);
    assert_eq!(first_connection.attached_at, None);
    let second_connection = store
        .find_connection(&second.app.id, "shared")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second_connection.customer_id, shared.id);
    let key_now = store.get_scoped_key(&first_key.id).await.unwrap().unwrap();
    assert_eq!(key_now.customer_id, copy.id, "its key follows");
    assert_eq!(key_now.revoked_at, None);
    assert_eq!(
        store
            .get_customer(&ws, Some(&first.app.id), &own.id)
            .await
            .unwrap()
            .map(|c| c.app_id),
        Some(first.app.id.clone())
    );
    assert!(
        store
            .get_customer(&ws, None, &orphan.id)
            .await
            .unwrap()
            .is_none(),
        "a customer of no app goes"
    );
    let required: String = sqlx::query(
        "SELECT is_nullable FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'oauth_customers' \
           AND column_name = 'app_id'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(required, "NO");
    let duplicate = sqlx::query(
        "INSERT INTO oauth_customers (id, workspace_id, app_id, reference_id, info, \
         created_at, updated_at) VALUES ($1, $2, $3, 'own', '{}'::jsonb, $4, $4)",
    )
    .bind(format!("cus_{}", random_hex32()))
    .bind(ws.as_str())
    .bind(first.app.id.as_str())
    .bind(now)
    .execute(store.pool())
    .await;
    assert!(duplicate.is_err(), "reference ids are unique per app");

    assert!(store.delete_app(&ws, &first.app.id).await.unwrap());
    assert_eq!(
        store
            .list_customers(&ws, None, None, 0, 10)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [shared.id],
        "the first app's customers went with it"
    );
    let schema = schema_of(&store).await;
    postgres_support::drop_schema(&store, &schema).await;
}

/// Issue 17 item 4 (RFC 6749 §4.1.1, RFC 9126 §2) and items 3 and 8, on
/// PostgreSQL over HTTP: unauthenticated authorization requests leave no
/// row; a public client's pushes keep at most the cap per address; failed
/// authentications and publishable-key sessions keep one counter row per
/// bucket, which the purge removes once its window ended. The number of
/// rows is bounded whatever the number of requests.
#[tokio::test]
async fn unauthenticated_requests_leave_a_bounded_number_of_rows() {
    use std::net::IpAddr;
    use std::sync::Arc;

    use bytes::Bytes;
    use oauth_connect::hooks::ManualClock;
    use oauth_connect::http::PeerAddress;
    use oauth_connect::{AppType, AuthorizationServer, NewOAuthApp};

    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let server = AuthorizationServer::builder(store.clone())
        .issuer("https://auth.example.com")
        .clock(clock.clone())
        .public_pushed_request_cap(8)
        .build()
        .unwrap();
    let ws = fresh_workspace();
    let base = "https://app.example.com/callback/";
    let redirect = format!("{base}{}", "r".repeat(1900 - base.len()));
    let register = |app_type| NewOAuthApp {
        name: "App".into(),
        description: None,
        redirect_uris: vec![redirect.clone()],
        allowed_scopes: vec!["read:devices".into()],
        allowed_origins: vec![],
        app_type,
        logo_uri: None,
    };
    let public = server
        .create_app(&ws, &register(AppType::Public))
        .await
        .unwrap();
    let client_id = public.app.client_id.as_str().to_owned();
    let confidential = server
        .create_app(&ws, &register(AppType::Confidential))
        .await
        .unwrap();
    let guess = server
        .create_app(&ws, &register(AppType::Confidential))
        .await
        .unwrap()
        .client_secret
        .unwrap();
    let send = |peer: &str, request: http::Request<Bytes>| {
        let mut request = request;
        let ip: IpAddr = peer.parse().unwrap();
        request.extensions_mut().insert(PeerAddress::from(ip));
        let server = server.clone();
        async move { server.handle(request).await }
    };
    let query = |pairs: &[(&str, &str)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    let state = "s".repeat(1000);
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let request = query(&[
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", &redirect),
        ("state", &state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    for _ in 0..300 {
        let page = send(
            "198.51.100.66",
            http::Request::get(format!("/oauth/authorize?{request}"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
        assert_eq!(page.status(), 200);
    }
    for peer in ["198.51.100.66", "203.0.113.5"] {
        for _ in 0..40 {
            let pushed = send(
                peer,
                http::Request::post("/oauth/par")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Bytes::from(request.clone()))
                    .unwrap(),
            )
            .await;
            assert_eq!(pushed.status(), 201, "{:?}", pushed.body());
        }
    }
    for peer in ["198.51.100.66", "203.0.113.5"] {
        for _ in 0..25 {
            let basic = format!(
                "Basic {}",
                base64_encode(&format!(
                    "{}:{}",
                    confidential.app.client_id.as_str(),
                    guess.expose_secret()
                ))
            );
            let refused = send(
                peer,
                http::Request::post("/oauth/token")
                    .header("authorization", basic)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Bytes::from_static(b"grant_type=client_credentials"))
                    .unwrap(),
            )
            .await;
            assert!([401, 429].contains(&refused.status().as_u16()));
        }
    }
    // Made-up client ids, one per guess: one counter for the address.
    for n in 0..30 {
        let basic = format!(
            "Basic {}",
            base64_encode(&format!("oc_client_{n:0>24}:{}", guess.expose_secret()))
        );
        let refused = send(
            "198.51.100.66",
            http::Request::post("/oauth/token")
                .header("authorization", basic)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Bytes::from_static(b"grant_type=client_credentials"))
                .unwrap(),
        )
        .await;
        assert!([401, 429].contains(&refused.status().as_u16()));
    }
    let count = |table: &'static str| {
        let pool = store.pool().clone();
        async move {
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap()
                .get(0);
            n
        }
    };
    assert_eq!(
        count("oauth_sessions").await,
        16,
        "8 pushes kept per address, no GET left one"
    );
    assert_eq!(
        count("oauth_rate_limits").await,
        3,
        "one counter per client and address, one for the made-up ids"
    );
    clock.advance(time::Duration::hours(1));
    while server.purge_expired(100).await.unwrap() == 100 {}
    assert_eq!(count("oauth_sessions").await, 0);
    assert_eq!(
        count("oauth_rate_limits").await,
        0,
        "ended windows are purged"
    );
    let schema = schema_of(&store).await;
    postgres_support::drop_schema(&store, &schema).await;
}

// ---- issue 17, items 1 and 2, over HTTP on PostgreSQL ----

/// A server on a fresh schema, with the scenarios' issuer, and a workspace
/// and admin key of its own.
async fn world(url: String) -> isolation::World<PostgresStore> {
    use oauth_connect::hooks::SystemRandom;
    use oauth_connect::{AuthorizationServer, KeyRing};
    let server = AuthorizationServer::builder(fresh_store(url).await)
        .issuer(isolation::ISSUER)
        .key_ring(KeyRing::generate(&SystemRandom::new()).unwrap())
        .build()
        .unwrap();
    isolation::World::new(server, fresh_workspace()).await
}

/// Issue 17, item 1, on PostgreSQL: a publishable-key session with the
/// `referenceId` of the backend's customer reaches nothing of it.
#[tokio::test]
async fn http_a_publishable_key_never_reaches_an_existing_customer() {
    let Some(url) = database_url() else { return };
    isolation::publishable_key_never_reaches_an_existing_customer(&world(url).await).await;
}

/// `POST /v1/connections/{id}/attach` on PostgreSQL.
#[tokio::test]
async fn http_the_backend_attaches_browser_created_connections() {
    let Some(url) = database_url() else { return };
    isolation::the_backend_attaches_browser_created_connections(&world(url).await).await;
}

/// Issue 17, item 2, on PostgreSQL: another app of the workspace never
/// reaches an app's customer.
#[tokio::test]
async fn http_an_app_never_reaches_another_apps_customer() {
    let Some(url) = database_url() else { return };
    isolation::an_app_never_reaches_another_apps_customer(&world(url).await).await;
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
