//! Access-token validation and scoped-key verification, each against one
//! HMAC-SHA-256 (ring) of the credential's length, and how token
//! validation and client authentication grow from 1 thousand to 1 million
//! records in the memory store. One binary, so the ratios come from one
//! run.
//!
//! `cargo bench --bench validation`
//!
//! The 1M stores are built once per benchmark, outside the timed loop (about
//! 1 GB each, one at a time, dropped before the next is built).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oauth_connect::connect::ConnectDecision;
use oauth_connect::connect::NewScopedKey;
use oauth_connect::{
    AppType, AuthorizationServer, MemoryStore, NewConnectSession, NewOAuthApp, WorkspaceId,
};
use tokio::runtime::Runtime;

type Server = AuthorizationServer<MemoryStore>;

const SIZES: [(usize, &str); 2] = [(1_000, "1k"), (1_000_000, "1M")];
/// Apps per workspace when filling the store: a realistic spread, so one
/// workspace's ordered listing does not hold a million apps.
const APPS_PER_WORKSPACE: usize = 1_000;

fn runtime() -> Runtime {
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

fn server() -> Server {
    AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .build()
        .unwrap()
}

fn new_app(app_type: AppType) -> NewOAuthApp {
    NewOAuthApp {
        name: "bench".into(),
        description: None,
        redirect_uris: vec!["https://app.example.com/cb".into()],
        allowed_scopes: vec!["read".into()],
        allowed_origins: vec![],
        app_type,
        logo_uri: None,
    }
}

/// A store holding `n` access tokens (client-credentials grants of one
/// client); returns the last token issued.
fn with_tokens(rt: &Runtime, n: usize) -> (Server, String) {
    let server = server();
    run(rt, async {
        let ws = WorkspaceId::parse("ws_bench").unwrap();
        let created = server
            .create_app(&ws, &new_app(AppType::Confidential))
            .await
            .unwrap();
        let secret = created.client_secret.unwrap();
        let client = server
            .authenticate_client(created.app.client_id.as_str(), Some(secret.expose_secret()))
            .await
            .unwrap();
        let mut last = String::new();
        for _ in 0..n {
            let tokens = server.client_credentials(&client, None).await.unwrap();
            last = tokens.access_token.expose_secret().to_owned();
        }
        (server.clone(), last)
    })
}

/// A store holding `n` confidential apps; returns the last one's
/// credentials.
fn with_apps(rt: &Runtime, n: usize) -> (Server, String, String) {
    let server = server();
    run(rt, async {
        let mut last = (String::new(), String::new());
        for i in 0..n {
            let ws = WorkspaceId::parse(&format!("ws_{}", i / APPS_PER_WORKSPACE)).unwrap();
            let created = server
                .create_app(&ws, &new_app(AppType::Confidential))
                .await
                .unwrap();
            last = (
                created.app.client_id.as_str().to_owned(),
                created.client_secret.unwrap().expose_secret().to_owned(),
            );
        }
        (server.clone(), last.0, last.1)
    })
}

fn access_token_validation(c: &mut Criterion) {
    let rt = runtime();
    let (server, token) = with_tokens(&rt, 1);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]);
    let mut group = c.benchmark_group("access_token_validation");
    group.bench_function("baseline: one HMAC-SHA-256 of the token's length", |b| {
        b.iter(|| ring::hmac::sign(&key, black_box(token.as_bytes())))
    });
    group.bench_function("authenticate_bearer, access token (memory store)", |b| {
        b.iter(|| run(&rt, server.authenticate_bearer(black_box(&token))).unwrap())
    });
    group.finish();

    // SCOPED-KEY VERIFICATION: a key minted for a customer of a completed
    // Connect session, verified (format, checksum, signature, then the
    // revocation read) against one HMAC of the key's length.
    let (server, key) = with_scoped_key(&rt);
    let mut group = c.benchmark_group("scoped_key_verification");
    group.bench_function("baseline: one HMAC-SHA-256 of the key's length", |b| {
        b.iter(|| ring::hmac::sign(key_for_baseline(), black_box(key.as_bytes())))
    });
    group.bench_function("verify_scoped_key (memory store)", |b| {
        b.iter(|| run(&rt, server.verify_scoped_key(black_box(&key))).unwrap())
    });
    group.finish();
}

/// The baseline's key (a `ring` HMAC key is built once, as the server's
/// subkeys are).
fn key_for_baseline() -> &'static ring::hmac::Key {
    static KEY: std::sync::OnceLock<ring::hmac::Key> = std::sync::OnceLock::new();
    KEY.get_or_init(|| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]))
}

/// A server with one completed Connect session and a scoped key minted for
/// its customer; returns the key's text.
fn with_scoped_key(rt: &Runtime) -> (Server, String) {
    let server = server();
    run(rt, async {
        let ws = WorkspaceId::parse("ws_bench").unwrap();
        let created = server
            .create_app(&ws, &new_app(AppType::Confidential))
            .await
            .unwrap();
        let secret = created.client_secret.unwrap();
        let client = server
            .authenticate_client(created.app.client_id.as_str(), Some(secret.expose_secret()))
            .await
            .unwrap();
        let request: NewConnectSession = serde_json::from_value(serde_json::json!({
            "redirectUrl": "https://app.example.com/cb",
            "referenceId": "customer-1",
            "scopes": ["read"],
            "customerInfo": {
                "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                "phone": "555-555-0100",
                "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                             "postalCode": "62701", "country": "US"}
            }
        }))
        .unwrap();
        let session = server
            .create_connect_session(&client.app, &request, false)
            .await
            .unwrap();
        let token = session.connect_token.expose_secret();
        let browser = server.new_browser_secret().unwrap();
        let page = server.connect_open(token, &browser, None).await.unwrap();
        server
            .connect_complete(
                token,
                page.csrf_token.expose_secret(),
                &browser,
                ConnectDecision::Approve,
            )
            .await
            .unwrap();
        let mint: NewScopedKey =
            serde_json::from_value(serde_json::json!({"referenceId": "customer-1"})).unwrap();
        let minted = server.mint_scoped_key(&client, &mint).await.unwrap();
        (server.clone(), minted.key.expose_secret().to_owned())
    })
}

fn growth(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("growth");
    for (n, label) in SIZES {
        let (server, token) = with_tokens(&rt, n);
        group.bench_function(
            BenchmarkId::new("authenticate_bearer, access token", label),
            |b| b.iter(|| run(&rt, server.authenticate_bearer(black_box(&token))).unwrap()),
        );
        drop(server);
    }
    for (n, label) in SIZES {
        let (server, client_id, secret) = with_apps(&rt, n);
        group.bench_function(BenchmarkId::new("authenticate_client", label), |b| {
            b.iter(|| {
                run(
                    &rt,
                    server.authenticate_client(black_box(&client_id), Some(&secret)),
                )
                .unwrap()
            })
        });
        drop(server);
    }
    group.finish();
}

criterion_group!(benches, access_token_validation, growth);
criterion_main!(benches);
