#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Tracing and metrics (features `tracing` and `metrics`):
//!
//! - a full flow (authorization code with PKCE, refresh, introspection,
//!   revocation, a failed client authentication, a Connect session with a
//!   scoped key, a webhook endpoint) traced at every level: its spans and
//!   events name endpoints, clients and outcomes, and no credential, code
//!   or `state` of the flow appears in the output;
//! - `GET /metrics` on both example servers: 401 without an admin key, the
//!   Prometheus text format with one, and the counters move as a flow runs.

mod example_process;
mod support;

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use support::*;

use example_process::{Process, example_binary};

/// Everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn json_call(
    h: &Harness,
    method: &str,
    uri: &str,
    auth: &str,
    body: Value,
) -> http::Response<Bytes> {
    h.server
        .handle(
            Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", auth)
                .header("content-type", "application/json")
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await
}

#[tokio::test(flavor = "current_thread")]
async fn no_credential_code_or_state_in_the_traced_output_of_a_full_flow() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = harness().await;
    let mut secrets: Vec<String> = vec![h.confidential.secret.clone().unwrap()];
    let admin = h.server.create_admin_key(&h.workspace).await.unwrap();
    secrets.push(admin.expose_secret().to_owned());

    // Authorization code with PKCE, then refresh, introspect, revoke.
    let (code, verifier, to) = code_for(&h.server, &h.confidential, &[]).await;
    secrets.push(code.clone());
    secrets.push(verifier.clone());
    secrets.push(param(&to, "state").unwrap());
    let tokens = json(&exchange(&h.server, &h.confidential, &code, &verifier).await);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    secrets.extend([access.clone(), refresh.clone()]);
    let refreshed = json(
        &token(
            &h.server,
            &h.confidential,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
    );
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());
    introspect(&h.server, &h.confidential, &access).await;
    // A refresh token presented again: reuse detected.
    let reused = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    // A wrong secret.
    let wrong = format!("{}x", h.confidential.secret.as_deref().unwrap());
    secrets.push(wrong.clone());
    let bad_client = Client {
        client_id: h.confidential.client_id.clone(),
        secret: Some(wrong),
    };
    let refused = token(
        &h.server,
        &bad_client,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // A Connect session with a scoped key, approved.
    let created = json_call(
        &h,
        "POST",
        "/v1/connect/sessions",
        &basic(&h.confidential),
        json!({"redirectUrl": REDIRECT, "referenceId": "traced-user", "state": "st-secret-1",
               "scopedKey": true,
               "customerInfo": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                                "phone": "555-555-0100",
                                "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                                             "postalCode": "62701", "country": "US"}}}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    let created = json(&created);
    let connect_token = created["connectToken"].as_str().unwrap().to_owned();
    secrets.push(connect_token.clone());
    secrets.push("st-secret-1".to_owned());
    let url = created["url"].as_str().unwrap();
    let page = h
        .browser
        .get(&h.server, url.strip_prefix(ISSUER).unwrap())
        .await;
    let html = text(&page);
    let csrf = field(&html, "csrf_token");
    secrets.push(csrf.clone());
    let answer = h
        .browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", connect_token.as_str()),
                ("csrf_token", csrf.as_str()),
                ("step", "consent"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    let connect_code = param(&location(&answer), "code").unwrap();
    secrets.push(connect_code.clone());
    let connect_tokens = json(
        &token(
            &h.server,
            &h.confidential,
            &[
                ("grant_type", "authorization_code"),
                ("code", &connect_code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await,
    );
    secrets.push(connect_tokens["scoped_key"].as_str().unwrap().to_owned());
    secrets.push(connect_tokens["access_token"].as_str().unwrap().to_owned());

    // A webhook endpoint (its secret is shown once).
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app
        .id;
    let endpoint = json_call(
        &h,
        "POST",
        &format!("/v1/oauth-apps/{app}/webhooks"),
        &format!("Bearer {}", admin.expose_secret()),
        json!({"url": "https://hooks.example.com/x", "events": ["connection.revoked"]}),
    )
    .await;
    assert_eq!(endpoint.status(), StatusCode::CREATED);
    secrets.push(json(&endpoint)["secret"].as_str().unwrap().to_owned());

    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The flow was traced: requests by endpoint, clients, outcomes.
    for expected in [
        "endpoint=\"/oauth/token\"",
        "endpoint=\"/v1/connect/sessions\"",
        "tokens issued",
        "grant_type=\"authorization_code\"",
        "refresh token reuse detected",
        "client authentication failed",
        "Connect session decided",
        h.confidential.client_id.as_str(),
        "latency_ms=",
    ] {
        assert!(
            output.contains(expected),
            "{expected} is not traced:\n{output}"
        );
    }
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "a credential, code or state is in the traced output: {secret}"
        );
    }
    // Nor personal data, nor a query string.
    for personal in [
        "ada@example.com",
        "555-555-0100",
        "Lovelace",
        "?token=",
        "code=",
    ] {
        assert!(
            !output.contains(personal),
            "{personal} in the traced output"
        );
    }
}

const ADMIN_KEY: &str = "metrics-admin-key-0123456789abcdefghijklmnopqrstuvwxyz";

async fn example(name: &str) -> Process {
    let mut command = Command::new(example_binary(name));
    command
        .args(["--addr", "127.0.0.1:0"])
        .env("OAUTH_CONNECT_DEMO_APP", "off")
        .env("OAUTH_CONNECT_DEMO_PROVIDERS", "off")
        .env(
            "OAUTH_CONNECT_ADMIN_KEYS",
            format!("ws_metrics={ADMIN_KEY}"),
        )
        .env("RUST_LOG", "info")
        .env_remove("PORT")
        .env_remove("DATABASE_URL")
        .env_remove("OAUTH_CONNECT_ISSUER");
    Process::spawn(name, command, false).await
}

/// The value of the sample `name{labels}` in a Prometheus text page.
fn sample(page: &str, name_and_labels: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_both_example_servers_move_as_a_flow_runs() {
    let http = reqwest::Client::new();
    for name in ["axum", "actix"] {
        let server = example(name).await;
        let refused = http.get(server.url("/metrics")).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{name}: no admin key");
        let wrong = http
            .get(server.url("/metrics"))
            .header(
                "authorization",
                "Bearer not-the-key-0123456789abcdefghijklmnop",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{name}: a wrong key");
        let scrape = || async {
            let page = http
                .get(server.url("/metrics"))
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200);
            assert!(
                page.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain; version=0.0.4"),
                "{name}"
            );
            page.text().await.unwrap()
        };
        let before = scrape().await;

        // A flow: an app, then client-credentials tokens, and a wrong secret.
        let app: Value = serde_json::from_str(
            &http
                .post(server.url("/v1/oauth-apps"))
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .header("content-type", "application/json")
                .body(
                    json!({"name": "Metrics", "redirectUris": ["https://app.example.com/cb"],
                           "allowedScopes": ["read:devices"], "type": "CONFIDENTIAL"})
                    .to_string(),
                )
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap();
        let (id, secret) = (
            app["clientId"].as_str().unwrap(),
            app["clientSecret"].as_str().unwrap(),
        );
        for _ in 0..3 {
            let tokens = http
                .post(server.url("/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            assert_eq!(tokens.status(), 200, "{name}");
        }
        let refused = http
            .post(server.url("/oauth/token"))
            .basic_auth(id, Some("oc_secret_wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);

        let after = scrape().await;
        let issued = r#"oauth_connect_tokens_issued_total{grant_type="client_credentials"}"#;
        assert_eq!(
            sample(&after, issued) - sample(&before, issued),
            3.0,
            "{name}:\n{after}"
        );
        let ok = r#"oauth_connect_http_requests_total{endpoint="/oauth/token",outcome="success"}"#;
        assert_eq!(
            sample(&after, ok) - sample(&before, ok),
            3.0,
            "{name}:\n{after}"
        );
        assert!(
            after.contains("oauth_connect_authentication_failures_total{reason="),
            "{name}:\n{after}"
        );
        assert!(
            after.contains("# TYPE oauth_connect_http_requests_total counter"),
            "{name}"
        );
        // The durations are Prometheus histograms with buckets, not
        // summaries (the examples set the buckets).
        assert!(
            after.contains("# TYPE oauth_connect_http_request_duration_seconds histogram"),
            "{name}:\n{after}"
        );
        assert!(
            after.contains(
                r#"oauth_connect_http_request_duration_seconds_bucket{endpoint="/oauth/token",le="0.001"}"#
            ),
            "{name}:\n{after}"
        );
        assert!(
            !after.contains(secret) && !after.contains(ADMIN_KEY),
            "{name}"
        );
    }
}
