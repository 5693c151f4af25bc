#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Durable webhooks on PostgreSQL (`DATABASE_URL`), with the example
//! servers as processes: an example server stopped with deliveries pending
//! (1,000 events, written by their changes' own transactions: rotations
//! made through the server, and more recorded while no server runs), then
//! two servers (axum and actix-web) started over the same database deliver
//! them all at once: none lost, none sent twice (each `webhook-id` arrives
//! exactly once, each delivery after one attempt).
//!
//! Without `DATABASE_URL` the test returns at once and says so.

mod example_process;
mod postgres_support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use oauth_connect::webhooks::{WebhookEvent, WebhookEventType, WebhookStore as _};
use oauth_connect::{AppId, PostgresStore, WorkspaceId};
use serde_json::{Value, json};

use example_process::{Process, example_binary};

const SKIPPED: &str = "the durable webhooks test on PostgreSQL";
const ADMIN_KEY: &str = "pg-hooks-admin-key-0123456789abcdefghijklmnopqrstuvwxyz";
const WORKSPACE: &str = "ws_hooks";
const SERVER_KEY: &str = "00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const EVENTS: usize = 1_000;
const THROUGH_THE_FIRST: usize = 300;
const WHILE_STOPPED: usize = 400;

/// `count` client-secret rotations of the app, spread over `nodes`.
async fn rotate(http: &reqwest::Client, nodes: &[&Process], app_id: &str, count: usize) {
    for i in 0..count {
        let on = nodes[i % nodes.len()];
        let rotated = http
            .post(on.url(&format!("/v1/oauth-apps/{app_id}/rotate-secret")))
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status(), 200);
    }
}

async fn node(name: &str, url: &str, schema: &str) -> Process {
    let mut command = Command::new(example_binary(name));
    command
        .args(["--addr", "127.0.0.1:0"])
        .env("DATABASE_URL", url)
        .env("DATABASE_SCHEMA", schema)
        .env("OAUTH_CONNECT_SERVER_KEY", SERVER_KEY)
        .env(
            "OAUTH_CONNECT_ADMIN_KEYS",
            format!("{WORKSPACE}={ADMIN_KEY}"),
        )
        .env("RUST_LOG", "warn")
        .env_remove("PORT");
    Process::spawn(name, command, false).await
}

/// Counts each `webhook-id` received.
async fn receiver() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let log = log.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                *log.lock().unwrap().entry(id).or_default() += 1;
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_survive_a_restart_and_two_servers_send_each_once() {
    let Some(url) = postgres_support::database_url(SKIPPED) else {
        return;
    };
    let schema = postgres_support::fresh_schema_name(&url);
    let http = reqwest::Client::new();
    let admin = format!("Bearer {ADMIN_KEY}");
    let (hook_url, seen) = receiver().await;

    let mut first = node("axum", &url, &schema).await;
    let app = http
        .post(first.url("/v1/oauth-apps"))
        .header("authorization", &admin)
        .header("content-type", "application/json")
        .body(
            json!({"name": "Hooks", "redirectUris": ["https://app.example.com/cb"],
                   "allowedScopes": ["read:devices"], "type": "CONFIDENTIAL"})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(app.status(), 201);
    let app_id = serde_json::from_str::<Value>(&app.text().await.unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoint = http
        .post(first.url(&format!("/v1/oauth-apps/{app_id}/webhooks")))
        .header("authorization", &admin)
        .header("content-type", "application/json")
        .body(json!({"url": hook_url, "events": ["app.secret_rotated"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201, "{}", endpoint.text().await.unwrap());
    // Events through the first server (each rotation's transaction writes
    // its message), which is stopped at once: whatever it has not sent
    // yet is pending.
    rotate(&http, &[&first], &app_id, THROUGH_THE_FIRST).await;
    first.stop_gracefully().await;

    // While no server runs, more messages wait in the outbox.
    let store = PostgresStore::connect_with_schema(&url, &schema)
        .await
        .unwrap();
    let workspace = WorkspaceId::parse(WORKSPACE).unwrap();
    let app = AppId::parse(&app_id).unwrap();
    for i in 0..WHILE_STOPPED {
        let made = store
            .record_webhook_event(&WebhookEvent {
                workspace_id: workspace.clone(),
                app_id: app.clone(),
                event_type: WebhookEventType::AppSecretRotated,
                timestamp: time::OffsetDateTime::now_utc(),
                data: json!({"appId": app_id, "n": i}),
            })
            .await
            .unwrap();
        assert_eq!(made, 1);
    }
    let pending: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{schema}\".oauth_webhook_deliveries WHERE status = 'pending'"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(pending >= WHILE_STOPPED as i64);

    // Two servers at once over the same outbox; more events arrive through
    // both while they deliver.
    let a = node("axum", &url, &schema).await;
    let b = node("actix", &url, &schema).await;
    rotate(
        &http,
        &[&a, &b],
        &app_id,
        EVENTS - THROUGH_THE_FIRST - WHILE_STOPPED,
    )
    .await;
    let mut waited = 0;
    while seen.lock().unwrap().len() < EVENTS && waited < 1200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), EVENTS, "every event delivered");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    // The last answers may still be recording.
    let mut attempts: Vec<(String, i32)> = Vec::new();
    for _ in 0..100 {
        attempts = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT status, attempts FROM \"{schema}\".oauth_webhook_deliveries"
        )))
        .fetch_all(store.pool())
        .await
        .unwrap();
        if attempts.iter().all(|(s, _)| s == "succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(attempts.len(), EVENTS);
    assert!(
        attempts.iter().all(|(s, n)| s == "succeeded" && *n == 1),
        "one attempt each"
    );
    drop((a, b));
    postgres_support::drop_schema(&store, &schema).await;
}
