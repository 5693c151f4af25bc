#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The embedding programs of `docs/embedding.md` (`examples/embed-axum`,
//! `examples/embed-actix`): the page prints each `[dependencies]` block
//! and `main.rs` byte for byte, and each program, compiled as it is,
//! starts, takes its admin key, serves a code flow under `/auth` (RFC 6749
//! §4.1 with RFC 7636), answers its protected route for the token
//! (RFC 6750 §2.1) and refuses it without one (§3.1), and stops on SIGTERM.

mod example_process;
mod raw_http;
mod support;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::StatusCode;
use raw_http::{code_flow, send};
use support::{REDIRECT, json, text};

const PAGE: &str = include_str!("../docs/embedding.md");
const ADMIN_KEY: &str = "embedding-test-admin-key-0123456789abcdef";

/// The page prints the program's `[dependencies]` (without the `path` that
/// points the member at this checkout) and its `main.rs`, as they are.
fn printed_as_is(dir: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/examples/{dir}/Cargo.toml")).unwrap();
    let start = manifest.find("[dependencies]").unwrap();
    let end = manifest.find("\n[lints]").unwrap();
    let dependencies = manifest[start..end]
        .trim_end()
        .replace("path = \"../..\", ", "");
    let toml = format!("```toml\n{dependencies}\n```");
    assert!(PAGE.contains(&toml), "docs/embedding.md lacks {toml}");
    let main = std::fs::read_to_string(format!("{root}/examples/{dir}/main.rs")).unwrap();
    let rust = format!("```rust,ignore\n{main}```");
    assert!(
        PAGE.contains(&rust),
        "docs/embedding.md does not print examples/{dir}/main.rs as it is"
    );
}

/// The program, started on an ephemeral port: the process (killed on drop
/// by the caller) and its address.
struct Started {
    child: Child,
    addr: SocketAddr,
    issuer: String,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(name: &str) -> Started {
    let binary = example_process::example_binary(name);
    let mut child = Command::new(binary)
        .env("ADDR", "127.0.0.1:0")
        .env("ADMIN_KEY", ADMIN_KEY)
        .env_remove("ISSUER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || lines.next().unwrap().unwrap();
    let listening = next();
    let addr = listening
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{name} printed {listening:?}"))
        .parse()
        .unwrap();
    let issuer = next().strip_prefix("issuer ").unwrap().to_owned();
    Started {
        child,
        addr,
        issuer,
    }
}

async fn drive(name: &str) {
    let mut server = start(name);
    let addr = server.addr;
    assert_eq!(server.issuer, format!("http://{addr}/auth"));

    // The admin key from the environment opens the management API.
    let bearer = format!("Bearer {ADMIN_KEY}");
    let body = serde_json::json!({
        "name": "Embedding test",
        "redirectUris": [REDIRECT],
        "allowedScopes": ["read:devices"],
        "type": "CONFIDENTIAL",
    })
    .to_string();
    let mut created = None;
    // The server may still be starting its listener's accept loop.
    for _ in 0..100 {
        let answer = send(
            addr,
            "POST",
            "/auth/v1/oauth-apps",
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
        .await;
        if answer.status() == StatusCode::CREATED {
            created = Some(json(&answer));
            break;
        }
        assert_ne!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "{}",
            text(&answer)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = created.expect("the app was created");
    let client_id = app["clientId"].as_str().unwrap();
    let secret = app["clientSecret"].as_str().unwrap();

    let access = code_flow(addr, "/auth", client_id, secret).await;

    // RFC 6750 §3.1: without a token, 401 and a bare challenge.
    let refused = send(addr, "GET", "/v1/devices", &[], b"").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer realm=\"oauth-connect\""
    );
    // RFC 6750 §2.1: the token of the app's workspace, with the scope.
    let token = format!("Bearer {access}");
    let devices = send(
        addr,
        "GET",
        "/v1/devices",
        &[("Authorization", &token)],
        b"",
    )
    .await;
    assert_eq!(devices.status(), StatusCode::OK, "{}", text(&devices));
    assert_eq!(text(&devices), "the devices of user-42");

    // SIGTERM: a graceful stop, with success.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..200 {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "{name} exited with {exit}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} did not stop within 10 s of SIGTERM");
}

#[test]
fn the_page_prints_the_axum_program_as_it_is() {
    printed_as_is("embed-axum");
}

#[test]
fn the_page_prints_the_actix_program_as_it_is() {
    printed_as_is("embed-actix");
}

#[cfg(unix)]
#[tokio::test]
async fn the_axum_program_serves_a_code_flow_and_its_protected_route() {
    drive("embed-axum").await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_actix_program_serves_a_code_flow_and_its_protected_route() {
    drive("embed-actix").await;
}
