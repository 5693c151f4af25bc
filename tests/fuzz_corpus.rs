//! Replays every fuzz seed corpus (`fuzz/corpus/<target>/*`) through the same
//! property checks the fuzz targets run (`oauth_connect::fuzzing`), so the
//! corpora are ordinary tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use oauth_connect::fuzzing::{self, Harness};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "empty corpus {}", dir.display());
    inputs
}

fn replay(target: &str, mut check: impl FnMut(&[u8])) {
    for (name, input) in corpus(target) {
        eprintln!("{name}");
        check(&input);
    }
}

#[test]
fn authorize_query() {
    let harness = Harness::new();
    replay("authorize_query", |d| harness.authorize_query(d));
}

#[test]
fn client_form() {
    let harness = Harness::new();
    replay("client_form", |d| harness.client_form(d));
}

#[test]
fn basic_header() {
    let harness = Harness::new();
    replay("basic_header", |d| harness.basic_header(d));
}

#[test]
fn management_json() {
    let harness = Harness::new();
    replay("management_json", |d| harness.management_json(d));
}

#[test]
fn consent_post() {
    let mut harness = Harness::new();
    replay("consent_post", |d| harness.consent_post(d));
}

#[test]
fn credential_parse() {
    replay("credential_parse", fuzzing::credential);
}

#[test]
fn redirect_uri() {
    replay("redirect_uri", fuzzing::redirect_uri);
}

#[test]
fn scope_param() {
    replay("scope_param", fuzzing::scope_param);
}

#[test]
fn connect_json() {
    let harness = Harness::new();
    replay("connect_json", |d| harness.connect_json(d));
}

#[test]
fn connect_form() {
    let mut harness = Harness::new();
    let opened = harness.connect_sessions_opened();
    replay("connect_form", |d| harness.connect_form(d));
    // The numbered seeds walk one session through every step to its
    // approval and a second one to its denial: each end opens a new session.
    assert_eq!(harness.connect_sessions_opened(), opened + 2);
}

#[test]
fn bearer_header() {
    let harness = Harness::new();
    replay("bearer_header", |d| harness.bearer_header(d));
}

#[test]
fn origin_header() {
    let harness = Harness::new();
    replay("origin_header", |d| {
        fuzzing::origin(d);
        harness.origin_preflight(d);
    });
}
