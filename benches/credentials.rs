//! Credential checks against the cost of one HMAC-SHA-256 of the same
//! length, and client authentication on the in-memory store.
//!
//! `cargo bench --bench credentials`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use oauth_connect::credentials::{ClientSecret, CredentialPrefixes};
use oauth_connect::hooks::SystemRandom;
use oauth_connect::{AppType, AuthorizationServer, KeyRing, MemoryStore, NewOAuthApp, WorkspaceId};

fn credentials(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let server = AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .build()
        .unwrap();
    let workspace = WorkspaceId::parse("ws_bench").unwrap();
    let created = runtime
        .block_on(server.create_app(
            &workspace,
            &NewOAuthApp {
                name: "bench".into(),
                description: None,
                redirect_uris: vec!["https://app.example/cb".into()],
                allowed_scopes: vec!["read".into()],
                allowed_origins: vec![],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        ))
        .unwrap();
    let client_id = created.app.client_id.as_str().to_owned();
    let secret = created.client_secret.unwrap().expose_secret().to_owned();
    let prefixes = CredentialPrefixes::default();
    let keys = KeyRing::generate(&SystemRandom::new()).unwrap();

    let mut group = c.benchmark_group("credentials");
    let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]);
    group.bench_function(
        "baseline: one HMAC-SHA-256 of a client secret's length",
        |b| b.iter(|| ring::hmac::sign(&hmac_key, black_box(secret.as_bytes()))),
    );
    group.bench_function("client secret: parse + checksum + keyed hash", |b| {
        b.iter(|| {
            ClientSecret::parse(&prefixes, black_box(&secret))
                .unwrap()
                .hash(&keys)
                .unwrap()
        })
    });
    group.bench_function("client secret: typo refused by checksum", |b| {
        let typo = format!("{}A", &secret[..secret.len() - 1]);
        b.iter(|| ClientSecret::parse(&prefixes, black_box(&typo)).is_err())
    });
    group.bench_function("authenticate_client (memory store)", |b| {
        b.iter(|| {
            runtime
                .block_on(server.authenticate_client(black_box(&client_id), Some(&secret)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, credentials);
criterion_main!(benches);
