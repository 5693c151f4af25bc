//! What a stranger can spend, over HTTP through `AuthorizationServer::handle`
//! (issue 17, items 3, 4 and 8), as an attacker would try it: the
//! publishable key's session budget, storage through unauthenticated
//! authorization and pushed requests, and guesses of client secrets and
//! admin keys. Each request carries the socket's peer as a `PeerAddress`,
//! as the example servers' adapters put it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use oauth_connect::hooks::Event;
use oauth_connect::http::PeerAddress;
use oauth_connect::{AppType, NewOAuthApp, WorkspaceId};
use serde_json::json;
use support::*;
use time::Duration;

const ORIGIN: &str = "https://app.example.com";
const STRANGER: &str = "198.51.100.66";
const VISITOR: &str = "203.0.113.5";
const PROXY: &str = "10.0.0.1";

/// `request` as sent from `peer`.
async fn from(server: &Server, peer: &str, mut request: Request<Bytes>) -> Response<Bytes> {
    let ip: IpAddr = peer.parse().unwrap();
    request.extensions_mut().insert(PeerAddress::from(ip));
    server.handle(request).await
}

fn retry_after(response: &Response<Bytes>) -> i64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn rate_limited_events(h: &Harness, limit: &str) -> Vec<(Option<String>, Option<IpAddr>)> {
    h.events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::RateLimited {
                limit: l,
                client_id,
                client_address,
                retry_after,
            } if *l == limit => {
                assert!(*retry_after > Duration::ZERO);
                Some((
                    client_id.as_ref().map(|c| c.as_str().to_owned()),
                    *client_address,
                ))
            }
            _ => None,
        })
        .collect()
}

// ---- Item 3: the publishable key's budget ----

/// A confidential app allowing [`ORIGIN`], and a publishable key of it.
async fn publishable_key(h: &Harness) -> String {
    let app = h
        .server
        .create_app(
            &h.workspace,
            &NewOAuthApp {
                name: "Web app".into(),
                description: None,
                redirect_uris: vec![REDIRECT.into()],
                allowed_scopes: vec!["read:devices".into()],
                allowed_origins: vec![ORIGIN.into()],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        )
        .await
        .unwrap()
        .app;
    let key = h
        .server
        .create_publishable_key(&h.workspace, &app.id)
        .await
        .unwrap();
    key.key.expose_secret().to_owned()
}

fn session_request(key: &str, body: &str, forwarded_for: Option<&str>) -> Request<Bytes> {
    let mut request = Request::post("/v1/connect/sessions")
        .header("authorization", format!("Bearer {key}"))
        .header("origin", ORIGIN)
        .header("content-type", "application/json");
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.body(Bytes::from(body.to_owned())).unwrap()
}

fn session_body() -> String {
    json!({ "redirectUrl": REDIRECT, "referenceId": "user-7" }).to_string()
}

/// Issue 17 item 3: the budget is the key's *and the client address's*.
/// A stranger holding the public key spends its own address's budget and
/// never the site's visitors'; requests refused as malformed spend nothing;
/// behind a trusted proxy the address is the one `X-Forwarded-For` names,
/// and a header from anyone else is not believed.
#[tokio::test]
async fn publishable_key_budget_is_per_key_and_client_address() {
    let (builder, clock, events) = builder();
    let server = builder
        .publishable_key_rate_limit(3, Duration::minutes(1))
        .trusted_proxies(["10.0.0.0/8"])
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let key = publishable_key(&h).await;

    // Malformed or refused requests spend nothing.
    let tags: Vec<String> = (0..21).map(|n| format!("t{n}")).collect();
    let malformed = [
        "{not json".to_owned(),
        json!({ "redirectUrl": "https://evil.example/cb" }).to_string(),
        json!({ "redirectUrl": REDIRECT, "scopes": ["admin"] }).to_string(),
        json!({ "redirectUrl": REDIRECT, "tags": tags }).to_string(),
    ];
    for body in &malformed {
        let refused = from(&h.server, STRANGER, session_request(&key, body, None)).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    for n in 1..=3 {
        let created = from(
            &h.server,
            STRANGER,
            session_request(&key, &session_body(), None),
        )
        .await;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "session {n}: {}",
            text(&created)
        );
    }
    let limited = from(
        &h.server,
        STRANGER,
        session_request(&key, &session_body(), None),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=60).contains(&retry_after(&limited)));
    assert_eq!(
        limited.headers()["access-control-allow-origin"],
        ORIGIN,
        "the page's script can read the 429"
    );
    // Forging X-Forwarded-For from an untrusted peer changes nothing.
    let forged = from(
        &h.server,
        STRANGER,
        session_request(&key, &session_body(), Some(VISITOR)),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);

    // The site's visitor still has the whole budget, directly or through
    // the trusted proxy (one budget: the same address).
    let visitor = from(
        &h.server,
        VISITOR,
        session_request(&key, &session_body(), None),
    )
    .await;
    assert_eq!(visitor.status(), StatusCode::CREATED, "{}", text(&visitor));
    for n in 2..=3 {
        let proxied = from(
            &h.server,
            PROXY,
            session_request(&key, &session_body(), Some(&format!("1.2.3.4, {VISITOR}"))),
        )
        .await;
        assert_eq!(
            proxied.status(),
            StatusCode::CREATED,
            "visitor's session {n}"
        );
    }
    let spent = from(
        &h.server,
        VISITOR,
        session_request(&key, &session_body(), None),
    )
    .await;
    assert_eq!(
        spent.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the visitor's own 4th"
    );
    // The stranger behind the proxy is still the stranger.
    let proxied_stranger = from(
        &h.server,
        PROXY,
        session_request(&key, &session_body(), Some(STRANGER)),
    )
    .await;
    assert_eq!(proxied_stranger.status(), StatusCode::TOO_MANY_REQUESTS);

    let refusals = rate_limited_events(&h, "publishable_key_sessions");
    assert!(
        refusals.iter().any(
            |(client, address)| client.is_some() && *address == Some(STRANGER.parse().unwrap())
        ),
        "{refusals:?}"
    );
    // A new window, a new budget.
    h.clock.advance(Duration::seconds(retry_after(&limited)));
    let again = from(
        &h.server,
        STRANGER,
        session_request(&key, &session_body(), None),
    )
    .await;
    assert_eq!(again.status(), StatusCode::CREATED);
}

// ---- Item 8: failed authentication ----

fn client_credentials(client_id: &str, secret: &str) -> Request<Bytes> {
    Request::post("/oauth/token")
        .header(
            "authorization",
            basic(&Client {
                client_id: client_id.to_owned(),
                secret: Some(secret.to_owned()),
            }),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(b"grant_type=client_credentials"))
        .unwrap()
}

/// A secret of the right form (prefix and checksum) that is not the
/// client's, as a guesser would send: another client's.
async fn wrong_secret(h: &Harness) -> String {
    register(&h.server, &h.workspace, AppType::Confidential, &[REDIRECT])
        .await
        .secret
        .unwrap()
}

/// Issue 17 item 8: fifty wrong client secrets from one address get 20
/// answers 401 (`invalid_client`, RFC 6749 §5.2), then 429 with
/// `Retry-After`, still §5.2's JSON; each refusal is an event. The right
/// secret from another address is never refused, and the Connect API's
/// Basic authentication counts in the same budget.
#[tokio::test]
async fn failed_client_authentication_is_throttled_per_client_and_address_rfc6749_5_2() {
    let h = harness().await;
    let client = &h.confidential;
    let secret = client.secret.clone().unwrap();
    let guess = wrong_secret(&h).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..50 {
        let answer = from(
            &h.server,
            STRANGER,
            client_credentials(&client.client_id, &guess),
        )
        .await;
        statuses.push(answer.status());
        last = Some(answer);
    }
    assert!(
        statuses[..20]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[20..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let last = last.unwrap();
    assert_eq!(json(&last)["error"], "invalid_client");
    assert!(json(&last)["error_description"].is_string());
    assert_eq!(last.headers()["cache-control"], "no-store");
    let wait = retry_after(&last);
    assert!((1..=60).contains(&wait), "{wait}");
    let refusals = rate_limited_events(&h, "client_authentication");
    assert_eq!(refusals.len(), 30, "one event per refusal");
    assert!(refusals.iter().all(|(id, address)| {
        id.as_deref() == Some(client.client_id.as_str())
            && *address == Some(STRANGER.parse().unwrap())
    }));

    // The right secret from another address: never locked out.
    let right = from(
        &h.server,
        VISITOR,
        client_credentials(&client.client_id, &secret),
    )
    .await;
    assert_eq!(right.status(), StatusCode::OK, "{}", text(&right));
    // The Connect API's Basic authentication is the same client's budget.
    let api = from(
        &h.server,
        STRANGER,
        Request::get("/v1/connections")
            .header(
                "authorization",
                basic(&Client {
                    client_id: client.client_id.clone(),
                    secret: Some(guess.clone()),
                }),
            )
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(&api)["error"], "rate_limited");
    assert!(api.headers().contains_key("retry-after"));
    // Another client from the same address has its own budget.
    let other = from(
        &h.server,
        STRANGER,
        client_credentials(&h.public.client_id, &guess),
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);

    // After the window, the address is answered as before.
    h.clock.advance(Duration::seconds(wait));
    let again = from(
        &h.server,
        STRANGER,
        client_credentials(&client.client_id, &guess),
    )
    .await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
}

/// Issue 17 item 8: client ids that no client has (made up, one per
/// guess) share one count per address, so they neither escape the limit
/// nor make a counter each; a registered client's right secret from that
/// address still works.
#[tokio::test]
async fn made_up_client_ids_share_one_count_per_address() {
    let h = harness().await;
    let guess = wrong_secret(&h).await;
    let mut statuses = Vec::new();
    for n in 0..25 {
        let made_up = format!("oc_client_{n:0>24}");
        let answer = from(&h.server, STRANGER, client_credentials(&made_up, &guess)).await;
        statuses.push(answer.status());
    }
    assert!(
        statuses[..20]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        statuses[20..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // No client is named in the refusals: none has those ids.
    let refusals = rate_limited_events(&h, "client_authentication");
    assert_eq!(refusals, vec![(None, Some(STRANGER.parse().unwrap())); 5]);
    let client = &h.confidential;
    let right = from(
        &h.server,
        STRANGER,
        client_credentials(&client.client_id, client.secret.as_deref().unwrap()),
    )
    .await;
    assert_eq!(right.status(), StatusCode::OK, "{}", text(&right));
    // One counter for all of them: the purge after the window finds one.
    h.clock.advance(Duration::minutes(1));
    let purged = h.server.purge_expired(1000).await.unwrap();
    assert_eq!(
        purged, 1,
        "one rate-limit counter (the token's grant is live)"
    );
}

fn admin_request(key: &str) -> Request<Bytes> {
    Request::get("/v1/oauth-apps")
        .header("authorization", format!("Bearer {key}"))
        .body(Bytes::new())
        .unwrap()
}

/// Issue 17 item 8: external admin keys may be as short as 32 characters,
/// so failed admin keys are counted per address: after 20 in a minute that
/// address is refused with 429 and `Retry-After` whatever key it sends,
/// the right one included, while the right key from another address works.
#[tokio::test]
async fn failed_admin_keys_are_throttled_per_address() {
    let h = harness().await;
    let right = "k".repeat(32);
    h.server
        .register_admin_key(&WorkspaceId::parse("ws_test").unwrap(), &right)
        .await
        .unwrap();
    for n in 0..20 {
        let guess = format!("{:0>32}", n);
        let refused = from(&h.server, STRANGER, admin_request(&guess)).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "guess {n}");
    }
    let limited = from(&h.server, STRANGER, admin_request(&"x".repeat(40))).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(&limited)["error"], "rate_limited");
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait));
    let locked = from(&h.server, STRANGER, admin_request(&right)).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "no key is checked from this address until the window ends"
    );
    let elsewhere = from(&h.server, VISITOR, admin_request(&right)).await;
    assert_eq!(elsewhere.status(), StatusCode::OK, "{}", text(&elsewhere));
    let refusals = rate_limited_events(&h, "admin_authentication");
    assert_eq!(refusals, vec![(None, Some(STRANGER.parse().unwrap())); 2]);
    h.clock.advance(Duration::seconds(wait));
    let back = from(&h.server, STRANGER, admin_request(&right)).await;
    assert_eq!(back.status(), StatusCode::OK);
}

// ---- Item 4: storage through unauthenticated requests ----

/// A registered redirect URI of 1,900 characters.
fn long_redirect() -> String {
    let base = "https://app.example.com/callback/";
    format!("{base}{}", "r".repeat(1900 - base.len()))
}

/// Issue 17 item 4 (RFC 6749 §4.1.1): unauthenticated authorization
/// requests store nothing before the resource owner decides. Two thousand
/// requests with a 1,900-character redirect URI and a 1,000-character
/// `state` leave nothing to purge once their pages expired; a page's
/// decision still works and gives a code bound as before.
#[tokio::test]
async fn unauthenticated_authorization_requests_store_nothing() {
    let h = harness().await;
    let redirect = long_redirect();
    let client = register(&h.server, &h.workspace, AppType::Public, &[&redirect]).await;
    let state = "s".repeat(1000);
    let (verifier, challenge) = pkce();
    let mut last = None;
    for _ in 0..2000 {
        let page = authorize(
            &h.server,
            &[
                ("response_type", "code"),
                ("client_id", &client.client_id),
                ("redirect_uri", &redirect),
                ("state", &state),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK);
        last = Some(page);
    }
    let consent = consent(&last.unwrap());
    // The last page is still good: approve it, exchange the code.
    let decided = decide(&h.server, &consent, "approve", "user-1").await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    let to = location(&decided);
    assert_eq!(param(&to, "state").as_deref(), Some(state.as_str()));
    let code = param(&to, "code").unwrap();
    let tokens = token(
        &h.server,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    // Past every lifetime: the only records were the one grant's (its
    // code and tokens); the 2,000 requests left none.
    h.clock.advance(Duration::days(31));
    let mut purged = 0;
    loop {
        let n = h.server.purge_expired(1000).await.unwrap();
        purged += n;
        if n < 1000 {
            break;
        }
    }
    assert_eq!(
        purged, 4,
        "one grant, its code, its access and refresh tokens"
    );
}

fn push(client_id: &str, state: &str) -> Request<Bytes> {
    let (_, challenge) = pkce();
    Request::post("/oauth/par")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(query(&[
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])))
        .unwrap()
}

/// Issue 17 item 4 (RFC 9126 §2): a public client's push needs no secret,
/// so its pushed requests are kept per client and address, at most the
/// configured number: a push beyond it replaces the oldest, whose
/// `request_uri` then fails (RFC 9126 §4), while the newest opens and
/// another address's pushes are untouched.
#[tokio::test]
async fn public_pushed_requests_are_capped_per_client_and_address_rfc9126() {
    let (builder, clock, events) = builder();
    let server = builder.public_pushed_request_cap(8).build().unwrap();
    let h = harness_with(server, clock, events).await;
    let mut uris = Vec::new();
    for n in 0..100 {
        let pushed = from(
            &h.server,
            STRANGER,
            push(&h.public.client_id, &format!("s{n}")),
        )
        .await;
        assert_eq!(pushed.status(), StatusCode::CREATED, "{}", text(&pushed));
        uris.push(json(&pushed)["request_uri"].as_str().unwrap().to_owned());
    }
    let visitor = from(&h.server, VISITOR, push(&h.public.client_id, "mine")).await;
    assert_eq!(visitor.status(), StatusCode::CREATED);
    let visitor_uri = json(&visitor)["request_uri"].as_str().unwrap().to_owned();
    let open = |uri: &str| {
        let path = format!(
            "/oauth/authorize?{}",
            query(&[("client_id", &h.public.client_id), ("request_uri", uri)])
        );
        let server = h.server.clone();
        async move { get(&server, &path).await.status() }
    };
    assert_eq!(
        open(&uris[0]).await,
        StatusCode::NOT_FOUND,
        "the oldest was replaced"
    );
    assert_eq!(open(&uris[91]).await, StatusCode::NOT_FOUND);
    for uri in &uris[92..] {
        assert_eq!(open(uri).await, StatusCode::OK, "the newest eight are kept");
    }
    assert_eq!(
        open(&visitor_uri).await,
        StatusCode::OK,
        "another address's push"
    );
    // What storage holds: eight of the stranger's, the visitor's one.
    h.clock.advance(Duration::hours(1));
    assert_eq!(h.server.purge_expired(1000).await.unwrap(), 9);
}
