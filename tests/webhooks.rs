//! Webhooks on the memory store, over real sockets: a receiver in the test
//! sees every event type, each signature checked with the independent
//! `standardwebhooks` library (npm, `tests/browser/verify_webhooks.mjs`);
//! a receiver failing three times then succeeding gets each message once in
//! its log deduplicated by `webhook-id`; private destinations are refused;
//! redirects are not followed; a slow receiver does not hold up others.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod npm_support;
mod openapi_check;
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use bytes::Bytes;
use http::{Request, StatusCode};
use oauth_connect::storage::GrantStore as _;
use oauth_connect::webhooks::{
    WebhookDestinations, WebhookEventType, WebhookSender, WebhookWorker,
};
use oauth_connect::{AppId, WorkspaceId};
use serde_json::{Value, json};
use support::*;
use time::{Duration, OffsetDateTime};

/// What a receiver got: the Standard Webhooks headers and the body.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: String,
}

/// Answers with the status `answer(n)` for the n-th request (from 0).
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(answer: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Receiver {
    let log: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = log.clone();
    let answer = Arc::new(answer);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            let answer = answer.clone();
            async move {
                let mut log = seen.lock().unwrap();
                let n = log.len();
                log.push(Received {
                    headers: headers
                        .iter()
                        .filter(|(k, _)| k.as_str().starts_with("webhook-"))
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                        .collect(),
                    body: String::from_utf8(body.to_vec()).unwrap(),
                });
                AxumStatus::from_u16(answer(n)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver {
        url: format!("http://{addr}/hook"),
        log,
    }
}

async fn call(
    h: &Harness,
    method: &str,
    uri: &str,
    auth: &str,
    body: Option<Value>,
) -> http::Response<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", auth);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    h.server.handle(request.body(body).unwrap()).await
}

async fn app_id(h: &Harness) -> AppId {
    h.server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app
        .id
}

/// A harness whose clock reads the real time (the independent verifier
/// refuses timestamps more than five minutes away) and whose webhooks may
/// reach loopback.
async fn live_harness() -> Harness {
    let (builder, clock, events) = builder();
    clock.set(OffsetDateTime::now_utc());
    let server = builder
        .webhook_destinations(WebhookDestinations::with_loopback())
        .build()
        .unwrap();
    harness_with(server, clock, events).await
}

/// Runs a Connect session for `reference` to its end: `approve` or `deny`.
async fn connect(h: &Harness, reference: &str, first_name: &str, decision: &str) {
    let created = call(
        h,
        "POST",
        "/v1/connect/sessions",
        &basic(&h.confidential),
        Some(json!({
            "redirectUrl": REDIRECT, "referenceId": reference,
            "customerInfo": {
                "firstName": first_name, "lastName": "Lovelace", "email": "ada@example.com",
                "phone": "555-555-0100",
                "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                             "postalCode": "62701", "country": "US"}
            }
        })),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    let url = json(&created)["url"].as_str().unwrap().to_owned();
    let page = h
        .browser
        .get(&h.server, url.strip_prefix(ISSUER).unwrap())
        .await;
    let html = text(&page);
    let step = field(&html, "step");
    assert_eq!(step, "consent", "{html}");
    let answer = h
        .browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", &field(&html, "token")),
                ("csrf_token", &field(&html, "csrf_token")),
                ("step", "consent"),
                ("decision", decision),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
}

/// Verifies every message with the `standardwebhooks` npm package; returns,
/// per message, its id, type and the indexes of the secrets that verify it.
fn verify_independently(
    secrets: &[&str],
    messages: &[Received],
) -> Vec<(String, String, Vec<u64>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    // Installed once, under the machine-wide lock the browser tests share
    // (a fresh clone passes the first time, whichever test binary runs
    // first).
    if let Err(why) = npm_support::npm_ci(&dir) {
        panic!("the independent check needs tests/browser's npm packages (node and npm): {why}");
    }
    let input = json!({
        "secrets": secrets,
        "messages": messages.iter().map(|m| json!({"headers": m.headers, "body": m.body})).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new("node")
        .arg("verify_webhooks.mjs")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        out.status.success(),
        "a message failed verification: {results:?}"
    );
    results
        .into_iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["type"].as_str().unwrap_or_default().to_owned(),
                r["verifiedBy"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

/// Standard Webhooks: every one of the ten event types reaches a receiver
/// that checks its signature with the reference library, with the payload
/// shape `{type, timestamp, data}` and no credential; during a secret
/// rotation's grace period both secrets sign.
#[tokio::test]
async fn every_event_type_is_delivered_signed_per_standard_webhooks() {
    let h = live_harness().await;
    let app = app_id(&h).await;
    let admin = h.server.create_admin_key(&h.workspace).await.unwrap();
    let admin = format!("Bearer {}", admin.expose_secret());
    let rx = receiver(|_| 204).await;
    let all: Vec<&str> = WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();

    // The app's own credentials register its endpoint.
    let created = call(
        &h,
        "POST",
        &format!("/v1/oauth-apps/{app}/webhooks"),
        &basic(&h.confidential),
        Some(json!({"url": rx.url, "events": all})),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created = json(&created);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let endpoint = created["id"].as_str().unwrap().to_owned();
    // The secret is shown once: never in a read.
    let read = call(
        &h,
        "GET",
        &format!("/v1/oauth-apps/{app}/webhooks/{endpoint}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(read.status(), StatusCode::OK);
    assert!(!text(&read).contains(&secret) && json(&read).get("secret").is_none());

    // Every event.
    connect(&h, "user-1", "Ada", "approve").await; // completed, connection.created
    connect(&h, "user-1", "Augusta", "approve").await; // completed, customer/connection.updated
    connect(&h, "user-2", "Bob", "deny").await; // denied
    let pending = call(
        &h,
        "POST",
        "/v1/connect/sessions",
        &basic(&h.confidential),
        Some(json!({"redirectUrl": REDIRECT, "referenceId": "user-3"})),
    )
    .await;
    assert_eq!(pending.status(), StatusCode::CREATED);
    h.server
        .storage()
        .purge_expired(
            h.server.config().clock().now() + Duration::DAY,
            1000,
            &h.server.config().purge_policy(),
        )
        .await
        .unwrap(); // expired
    let listed = json(
        &call(
            &h,
            "GET",
            "/v1/connections?referenceId=user-1",
            &basic(&h.confidential),
            None,
        )
        .await,
    );
    let connection = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let customer = listed["data"][0]["customerId"].as_str().unwrap().to_owned();
    let tagged = call(
        &h,
        "PATCH",
        &format!("/v1/connections/{connection}"),
        &basic(&h.confidential),
        Some(json!({"tags": ["vip"]})),
    )
    .await;
    assert_eq!(tagged.status(), StatusCode::OK, "{}", text(&tagged)); // connection.updated
    let minted = call(
        &h,
        "POST",
        "/v1/scoped-keys",
        &basic(&h.confidential),
        Some(json!({"referenceId": "user-1"})),
    )
    .await;
    assert_eq!(minted.status(), StatusCode::CREATED, "{}", text(&minted));
    let minted = json(&minted);
    let key_id = minted["id"].as_str().unwrap().to_owned();
    let scoped_key = minted["scopedKey"].as_str().unwrap().to_owned();
    let revoked = call(
        &h,
        "DELETE",
        &format!("/v1/scoped-keys/{key_id}"),
        &basic(&h.confidential),
        None,
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT); // scoped_key.revoked
    let rotated = call(
        &h,
        "POST",
        &format!("/v1/oauth-apps/{app}/rotate-secret"),
        &admin,
        Some(json!({"gracePeriodSeconds": 3600})),
    )
    .await;
    assert_eq!(rotated.status(), StatusCode::OK); // app.secret_rotated
    let new_client_secret = json(&rotated)["clientSecret"].as_str().unwrap().to_owned();
    let gone = call(
        &h,
        "DELETE",
        &format!("/v1/connections/{connection}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT, "{}", text(&gone)); // connection.revoked
    let deleted = call(
        &h,
        "DELETE",
        &format!("/v1/customers/{customer}"),
        &admin,
        None,
    )
    .await;
    assert!(deleted.status().is_success(), "{}", text(&deleted)); // customer.deleted

    let worker = WebhookWorker::new(h.server.clone()).unwrap();
    worker.drain().await.unwrap();
    let got = rx.log.lock().unwrap().clone();
    let verified = verify_independently(&[&secret], &got);
    let types: BTreeSet<&str> = verified.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        all.iter().copied().collect::<BTreeSet<_>>(),
        "{verified:?}"
    );
    for m in &got {
        let body: Value = serde_json::from_str(&m.body).unwrap();
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(body["data"].is_object());
        for credential in [&secret, &scoped_key, &new_client_secret] {
            assert!(
                !m.body.contains(credential.as_str()),
                "a credential in {}",
                m.body
            );
        }
        assert!(
            !m.body.contains("ada@example.com") && !m.body.contains("555-555"),
            "personal data in {}",
            m.body
        );
    }
    let revoked_msg = got
        .iter()
        .map(|m| serde_json::from_str::<Value>(&m.body).unwrap())
        .find(|b| b["type"] == "connection.revoked")
        .unwrap();
    assert_eq!(revoked_msg["data"]["id"], connection.as_str());
    assert_eq!(revoked_msg["data"]["status"], "revoked");

    // Rotation with a grace period: both secrets sign meanwhile.
    let rotated = call(
        &h,
        "POST",
        &format!("/v1/oauth-apps/{app}/webhooks/{endpoint}/rotate-secret"),
        &admin,
        Some(json!({"gracePeriodSeconds": 3600})),
    )
    .await;
    assert_eq!(rotated.status(), StatusCode::OK, "{}", text(&rotated));
    let rotated = json(&rotated);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(rotated["previousSecretExpiresAt"].is_string());
    connect(&h, "user-4", "Cy", "deny").await;
    worker.drain().await.unwrap();
    let last = rx.log.lock().unwrap().last().cloned().unwrap();
    let checked = verify_independently(&[&secret, &new_secret], &[last]);
    assert_eq!(
        checked[0].2,
        [0, 1],
        "both signatures during the grace period"
    );

    // The deliveries listing shows the attempts.
    let deliveries = json(
        &call(
            &h,
            "GET",
            &format!("/v1/oauth-apps/{app}/webhooks/{endpoint}/deliveries"),
            &admin,
            None,
        )
        .await,
    );
    let first = &deliveries["data"][0];
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["statusCode"], 204);
    assert!(first["eventId"].as_str().unwrap().starts_with("msg_"));
    assert!(first["latencyMs"].is_u64());
}

/// At least once, deduplicated by `webhook-id`: a receiver failing three
/// times then succeeding sees the same id four times and logs the event
/// once; the retries follow the schedule (the clock is moved, not waited
/// for).
#[tokio::test]
async fn a_receiver_failing_three_times_then_succeeding_logs_the_event_once() {
    let (builder, clock, events) = builder();
    let server = builder
        .webhook_destinations(WebhookDestinations::with_loopback())
        .build()
        .unwrap();
    let h = harness_with(server, clock.clone(), events).await;
    let app = app_id(&h).await;
    let rx = receiver(|n| if n < 3 { 500 } else { 200 }).await;
    let created = h
        .server
        .create_webhook_endpoint(
            &h.workspace,
            &app,
            &oauth_connect::webhooks::NewWebhookEndpoint::new(
                rx.url.clone(),
                vec!["app.secret_rotated".into()],
            ),
        )
        .await
        .unwrap();
    h.server
        .rotate_client_secret(&h.workspace, &app, None)
        .await
        .unwrap();
    let worker = WebhookWorker::new(h.server.clone()).unwrap();
    for attempt in 1..=4 {
        worker.drain().await.unwrap();
        assert_eq!(
            rx.log.lock().unwrap().len(),
            attempt,
            "attempt {attempt} made"
        );
        worker.drain().await.unwrap();
        assert_eq!(rx.log.lock().unwrap().len(), attempt, "not before its time");
        clock.advance(Duration::hours(5));
    }
    worker.drain().await.unwrap();
    let got = rx.log.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "no attempt after the success");
    let ids: BTreeSet<&str> = got
        .iter()
        .map(|m| m.headers["webhook-id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one webhook-id on every attempt");
    let mut deduplicated: HashMap<&str, &str> = HashMap::new();
    for m in got.iter().skip(3) {
        deduplicated
            .entry(&m.headers["webhook-id"])
            .or_insert(&m.body);
    }
    assert_eq!(deduplicated.len(), 1);
    let deliveries = h
        .server
        .list_webhook_deliveries(&h.workspace, &app, &created.endpoint.id)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].attempts, 4);
    assert_eq!(deliveries[0].last_status_code, Some(200));
}

/// An endpoint that has failed for a day is disabled, with an event; its
/// delivery can be retried by hand once it is enabled again.
#[tokio::test]
async fn an_endpoint_failing_for_a_day_is_disabled_with_an_event() {
    let (builder, clock, events) = builder();
    let server = builder
        .webhook_destinations(WebhookDestinations::with_loopback())
        .build()
        .unwrap();
    let h = harness_with(server, clock.clone(), events).await;
    let app = app_id(&h).await;
    let rx = receiver(|_| 503).await;
    let created = h
        .server
        .create_webhook_endpoint(
            &h.workspace,
            &app,
            &oauth_connect::webhooks::NewWebhookEndpoint::new(
                rx.url.clone(),
                vec!["app.secret_rotated".into()],
            ),
        )
        .await
        .unwrap();
    let id = created.endpoint.id.clone();
    h.server
        .rotate_client_secret(&h.workspace, &app, None)
        .await
        .unwrap();
    let worker = WebhookWorker::new(h.server.clone()).unwrap();
    for _ in 0..30 {
        worker.drain().await.unwrap();
        clock.advance(Duration::hours(2));
    }
    let endpoint = h
        .server
        .get_webhook_endpoint(&h.workspace, &app, &id)
        .await
        .unwrap();
    assert!(!endpoint.enabled, "disabled after a day of failures");
    assert!(h.events.0.lock().unwrap().iter().any(|e| matches!(e,
        oauth_connect::hooks::Event::WebhookEndpointDisabled { endpoint_id, .. } if endpoint_id == &id)));
    let tries = rx.log.lock().unwrap().len();
    assert!((8..=16).contains(&tries), "{tries} attempts in a day");
    let deliveries = h
        .server
        .list_webhook_deliveries(&h.workspace, &app, &id)
        .await
        .unwrap();
    assert_eq!(deliveries[0].status.as_str(), "failed");
    assert_eq!(deliveries[0].last_error.as_deref(), Some("HTTP 503"));
}

/// Private, loopback and link-local destinations are refused unless the
/// server allows them: at registration for an address, and at sending for
/// a name that resolves to one (or an address allowed once, then not).
#[tokio::test]
async fn an_endpoint_at_a_private_address_is_refused() {
    let h = harness().await; // public destinations only
    let app = app_id(&h).await;
    let admin = h.server.create_admin_key(&h.workspace).await.unwrap();
    let admin = format!("Bearer {}", admin.expose_secret());
    for url in [
        "https://10.0.0.7/hook",
        "https://192.168.0.2/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd12::1]/hook",
        "http://127.0.0.1:9/hook",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
    ] {
        let refused = call(
            &h,
            "POST",
            &format!("/v1/oauth-apps/{app}/webhooks"),
            &admin,
            Some(json!({"url": url, "events": ["connection.revoked"]})),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(json(&refused)["field"], "url", "{url}");
    }
    // Sending: a name resolving to loopback, and a loopback address, reach
    // nothing.
    let rx = receiver(|_| 200).await;
    let port = rx
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let sender = WebhookSender::new(WebhookDestinations::public_only()).unwrap();
    for url in [format!("http://localhost:{port}/hook"), rx.url.clone()] {
        let outcome = sender.post(&url, &[], b"{}".to_vec()).await;
        assert!(
            outcome
                .error
                .unwrap()
                .contains("no address webhooks may reach"),
            "{url}"
        );
        assert_eq!(outcome.status, None);
    }
    assert!(
        rx.log.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
    // Another workspace's admin and another app's client see nothing.
    let other = WorkspaceId::parse("ws_other").unwrap();
    let stranger = h.server.create_admin_key(&other).await.unwrap();
    let listed = call(
        &h,
        "GET",
        &format!("/v1/oauth-apps/{app}/webhooks"),
        &format!("Bearer {}", stranger.expose_secret()),
        None,
    )
    .await;
    assert_eq!(listed.status(), StatusCode::NOT_FOUND);
}

/// No redirect is followed: a 3xx is a failed attempt and its target is
/// never asked.
#[tokio::test]
async fn redirects_are_not_followed() {
    let target = receiver(|_| 200).await;
    let location = target.url.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let location = location.clone();
            async move { (AxumStatus::TEMPORARY_REDIRECT, [("location", location)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sender = WebhookSender::new(WebhookDestinations::with_loopback()).unwrap();
    let outcome = sender
        .post(&format!("http://{addr}/hook"), &[], b"{}".to_vec())
        .await;
    assert_eq!(outcome.status, Some(307));
    assert!(
        outcome
            .error
            .unwrap()
            .contains("redirects are not followed")
    );
    assert!(target.log.lock().unwrap().is_empty());
}

/// A slow receiver holds one sending slot, not the others: the slow
/// receiver answers only once the fast one has received its message,
/// which could never happen if sends waited for each other.
#[tokio::test]
async fn a_slow_receiver_does_not_hold_up_another() {
    let (builder, clock, events) = builder();
    let server = builder
        .webhook_destinations(WebhookDestinations::with_loopback())
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let app = app_id(&h).await;
    let fast = receiver(|_| 200).await;
    let released = Arc::new(tokio::sync::Notify::new());
    let gate = released.clone();
    let slow_app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                AxumStatus::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, slow_app).await });
    for url in [&slow_url, &fast.url] {
        h.server
            .create_webhook_endpoint(
                &h.workspace,
                &app,
                &oauth_connect::webhooks::NewWebhookEndpoint::new(
                    url.clone(),
                    vec!["app.secret_rotated".into()],
                ),
            )
            .await
            .unwrap();
    }
    h.server
        .rotate_client_secret(&h.workspace, &app, None)
        .await
        .unwrap();
    let worker = WebhookWorker::new(h.server.clone()).unwrap();
    let draining = tokio::spawn(async move { worker.drain().await });
    // The fast receiver gets its message while the slow one still holds
    // its request open.
    loop {
        if !fast.log.lock().unwrap().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    released.notify_one();
    draining.await.unwrap().unwrap();
    let endpoints = h
        .server
        .list_webhook_endpoints(&h.workspace, &app)
        .await
        .unwrap();
    for e in endpoints {
        let d = h
            .server
            .list_webhook_deliveries(&h.workspace, &app, &e.id)
            .await
            .unwrap();
        assert_eq!(d[0].status.as_str(), "succeeded", "{}", e.url);
    }
}

/// The webhook API's answers and every event's payload match the OpenAPI
/// document (`WebhookEndpoint`, `WebhookDelivery`, `WebhookPayload`, …).
#[tokio::test]
async fn webhook_answers_and_payloads_match_the_openapi_document() {
    let spec = openapi_check::Spec::load();
    let h = live_harness().await;
    let app = app_id(&h).await;
    let admin = h.server.create_admin_key(&h.workspace).await.unwrap();
    let admin = format!("Bearer {}", admin.expose_secret());
    let rx = receiver(|n| if n == 0 { 500 } else { 200 }).await;
    let all: Vec<&str> = WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();
    let base = format!("/v1/oauth-apps/{app}/webhooks");
    let checked = |method: &'static str, path: String, body: Option<Value>| {
        let (h, admin, spec) = (&h, &admin, &spec);
        async move {
            let response = call(h, method, &path, admin, body).await;
            let status = response.status().as_u16();
            let value = (!response.body().is_empty()).then(|| json(&response));
            spec.check(method, &path, status, value.as_ref());
            (status, value.unwrap_or(Value::Null))
        }
    };
    let (status, created) = checked(
        "POST",
        base.clone(),
        Some(json!({"url": rx.url, "events": all})),
    )
    .await;
    assert_eq!(status, 201);
    let endpoint = created["id"].as_str().unwrap().to_owned();
    let one = format!("{base}/{endpoint}");
    for (method, path, body, want) in [
        ("GET", base.clone(), None, 200),
        (
            "POST",
            base.clone(),
            Some(json!({"url": "https://10.0.0.1/x", "events": all})),
            400,
        ),
        (
            "POST",
            base.clone(),
            Some(json!({"url": rx.url, "events": ["nope"]})),
            400,
        ),
        ("GET", one.clone(), None, 200),
        (
            "PATCH",
            one.clone(),
            Some(json!({"events": ["connect.session.denied", "connection.created"]})),
            200,
        ),
        ("PATCH", one.clone(), Some(json!({})), 400),
        (
            "GET",
            format!("{base}/whk_00000000000000000000000000000000"),
            None,
            404,
        ),
        ("POST", format!("{one}/rotate-secret"), None, 200),
        (
            "POST",
            format!("{one}/rotate-secret"),
            Some(json!({"gracePeriodSeconds": 60})),
            200,
        ),
    ] {
        let (status, body) = checked(method, path.clone(), body).await;
        assert_eq!(status, want, "{method} {path}: {body}");
    }
    connect(&h, "doc-1", "Ada", "approve").await;
    let worker = WebhookWorker::new(h.server.clone()).unwrap();
    worker.drain().await.unwrap();
    let (status, deliveries) = checked("GET", format!("{one}/deliveries"), None).await;
    assert_eq!(status, 200);
    let failed = deliveries["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["statusCode"] == 500)
        .expect("the first attempt failed");
    assert_eq!(failed["status"], "pending");
    assert_eq!(failed["error"], "HTTP 500");
    let (status, retried) = checked(
        "POST",
        format!("{one}/deliveries/{}/retry", failed["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(retried["attempts"], 0);
    worker.drain().await.unwrap();
    let payload_schema = json!({"$ref": "#/components/schemas/WebhookPayload"});
    let got = rx.log.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "a failed attempt, then the retry: {got:?}");
    for m in &got {
        spec.validate(
            &payload_schema,
            &serde_json::from_str(&m.body).unwrap(),
            "payload",
        );
    }
    let (status, _) = checked("DELETE", one.clone(), None).await;
    assert_eq!(status, 204);
}
