//! The token endpoint, refresh rotation, client credentials, revocation and
//! introspection, through `AuthorizationServer::handle`; every rule of the
//! protocol issue, each naming its RFC section.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod support;

use http::StatusCode;
use oauth_connect::hooks::Event;
use support::*;
use time::Duration;

fn no_store(response: &http::Response<bytes::Bytes>) {
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "RFC 6749 §5.1"
    );
    assert_eq!(response.headers()["pragma"], "no-cache", "RFC 6749 §5.1");
}

#[tokio::test]
async fn rfc6749_3_2_token_endpoint_takes_only_post_forms_without_uri_parameters() {
    let h = harness().await;
    let response = get(&h.server, "/oauth/token").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");

    let json_body = h
        .server
        .handle(
            http::Request::post("/oauth/token")
                .header("content-type", "application/json")
                .header("authorization", basic(&h.confidential))
                .body(bytes::Bytes::from(r#"{"grant_type":"client_credentials"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (json_body.status(), error_of(&json_body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // §2.3.1: credentials (or anything) in the query string are refused.
    let secret = h.confidential.secret.clone().unwrap();
    let in_query = post_form(
        &h.server,
        &format!(
            "/oauth/token?client_id={}&client_secret={secret}",
            h.confidential.client_id
        ),
        &[("grant_type", "client_credentials")],
        None,
        None,
    )
    .await;
    assert_eq!(error_of(&in_query), "invalid_request");
    assert!(!text(&in_query).contains(&secret), "never echoed");

    let twice = post_form(
        &h.server,
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(
        error_of(&twice),
        "invalid_request",
        "§3.2: no parameter twice"
    );
    no_store(&twice);
}

#[tokio::test]
async fn rfc6749_2_3_client_authentication_rules() {
    let h = harness().await;
    let cc = [("grant_type", "client_credentials")];
    let secret = h.confidential.secret.clone().unwrap();
    let id = h.confidential.client_id.clone();

    // client_secret_post works.
    let post = post_form(
        &h.server,
        "/oauth/token",
        &[cc[0], ("client_id", &id), ("client_secret", &secret)],
        None,
        None,
    )
    .await;
    assert_eq!(post.status(), StatusCode::OK, "{}", text(&post));

    // client_secret_basic with the id and secret form-encoded inside (§2.3.1).
    let encoded_id = id.replacen('o', "%6F", 1);
    let encoded = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{encoded_id}:{secret}")
        )
    );
    let response = post_form(&h.server, "/oauth/token", &cc, Some(&encoded), None).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "form-encoded Basic credentials decode"
    );

    // Two methods at once.
    let both = post_form(
        &h.server,
        "/oauth/token",
        &[cc[0], ("client_secret", &secret)],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(error_of(&both), "invalid_request");

    // A wrong secret via Basic: 401 with a Basic challenge.
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    let wrong = Client {
        client_id: id.clone(),
        secret: other.secret.clone(),
    };
    let response = post_form(&h.server, "/oauth/token", &cc, Some(&basic(&wrong)), None).await;
    assert_eq!(
        (response.status(), error_of(&response).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert!(!text(&response).contains(other.secret.as_deref().unwrap()));

    // A wrong secret in the body: invalid_client too.
    let response = post_form(
        &h.server,
        "/oauth/token",
        &[
            cc[0],
            ("client_id", &id),
            ("client_secret", other.secret.as_deref().unwrap()),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(error_of(&response), "invalid_client");
    // A malformed Basic header.
    let response = post_form(&h.server, "/oauth/token", &cc, Some("Basic !!!"), None).await;
    assert_eq!(error_of(&response), "invalid_client");
    // No authentication at all.
    let response = post_form(&h.server, "/oauth/token", &cc, None, None).await;
    assert_eq!(error_of(&response), "invalid_client");
    // A public client may not present a secret.
    let response = post_form(
        &h.server,
        "/oauth/token",
        &[
            cc[0],
            ("client_id", &h.public.client_id),
            ("client_secret", &secret),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(error_of(&response), "invalid_client");

    let failures = h
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::ClientAuthenticationFailed { .. }))
        .count();
    assert!(failures >= 4, "client authentication failures are reported");
    let log = format!("{:?}", h.events.0.lock().unwrap());
    assert!(
        !log.contains(&secret) && !log.contains(other.secret.as_deref().unwrap()),
        "events carry no secret"
    );
}

#[tokio::test]
async fn rfc6749_5_2_unknown_or_missing_grant_type() {
    let h = harness().await;
    let response = token(&h.server, &h.confidential, &[("grant_type", "password")]).await;
    assert_eq!(error_of(&response), "unsupported_grant_type");
    let response = token(&h.server, &h.confidential, &[("scope", "read:devices")]).await;
    assert_eq!(error_of(&response), "invalid_request");
    let response = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "authorization_code")],
    )
    .await;
    assert_eq!(error_of(&response), "invalid_request", "code is required");
}

#[tokio::test]
async fn rfc6749_4_1_3_code_is_bound_to_client_redirect_uri_and_verifier() {
    let h = harness().await;
    let (code, verifier, _) = code_for(&h.server, &h.public, &[]).await;
    let attempts: Vec<(&str, Client, Vec<(&str, &str)>)> = vec![
        (
            "another client",
            Client {
                client_id: h.confidential.client_id.clone(),
                secret: h.confidential.secret.clone(),
            },
            vec![("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
        ),
        (
            "no redirect_uri although the request had one",
            Client {
                client_id: h.public.client_id.clone(),
                secret: None,
            },
            vec![("code_verifier", &verifier)],
        ),
        (
            "a different redirect_uri",
            Client {
                client_id: h.public.client_id.clone(),
                secret: None,
            },
            vec![
                ("redirect_uri", "http://127.0.0.1/native"),
                ("code_verifier", &verifier),
            ],
        ),
        (
            "no verifier (RFC 7636 §4.6)",
            Client {
                client_id: h.public.client_id.clone(),
                secret: None,
            },
            vec![("redirect_uri", REDIRECT)],
        ),
        (
            "a wrong verifier",
            Client {
                client_id: h.public.client_id.clone(),
                secret: None,
            },
            vec![
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "wrongwrongwrongwrongwrongwrongwrongwrongwrong",
                ),
            ],
        ),
        (
            "the challenge as verifier",
            Client {
                client_id: h.public.client_id.clone(),
                secret: None,
            },
            vec![
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
            ],
        ),
    ];
    for (name, client, extra) in attempts {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        pairs.extend(extra);
        let response = token(&h.server, &client, &pairs).await;
        assert_eq!(error_of(&response), "invalid_grant", "{name}");
        no_store(&response);
    }
    // None of those consumed the code.
    let tokens = exchange(&h.server, &h.public, &code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    no_store(&tokens);
    // Garbage and typos.
    let typo = format!("{}x", &code[..code.len() - 1]);
    assert_eq!(
        error_of(&exchange(&h.server, &h.public, &typo, &verifier).await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn rfc6749_4_1_2_second_redemption_fails_and_revokes_the_first_tokens() {
    let h = harness().await;
    let (code, verifier, _) = code_for(&h.server, &h.confidential, &[]).await;
    let first = json(&exchange(&h.server, &h.confidential, &code, &verifier).await);
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();

    // A replay with invalid parameters fails and revokes nothing.
    let bad = exchange(
        &h.server,
        &h.confidential,
        &code,
        "wrongwrongwrongwrongwrongwrongwrongwrongwrong",
    )
    .await;
    assert_eq!(error_of(&bad), "invalid_grant");
    assert_eq!(
        introspect(&h.server, &h.confidential, &access).await["active"],
        true
    );

    // A valid replay fails and revokes every token of the first.
    let replay = exchange(&h.server, &h.confidential, &code, &verifier).await;
    assert_eq!(error_of(&replay), "invalid_grant");
    assert_eq!(
        introspect(&h.server, &h.confidential, &access).await,
        serde_json::json!({"active": false})
    );
    let refreshed = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(error_of(&refreshed), "invalid_grant");
    assert!(
        h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::CodeReplayDetected { .. }))
    );
}

#[tokio::test]
async fn rfc6749_4_1_2_codes_expire_after_60_seconds_by_default() {
    let h = harness().await;
    let (code, verifier, _) = code_for(&h.server, &h.public, &[]).await;
    h.clock.advance(Duration::seconds(60));
    assert_eq!(
        error_of(&exchange(&h.server, &h.public, &code, &verifier).await),
        "invalid_grant"
    );

    let (builder, clock, events) = builder();
    let h = harness_with(
        builder
            .code_lifetime(Duration::minutes(10))
            .build()
            .unwrap(),
        clock,
        events,
    )
    .await;
    let (code, verifier, _) = code_for(&h.server, &h.public, &[]).await;
    h.clock.advance(Duration::seconds(599));
    assert_eq!(
        exchange(&h.server, &h.public, &code, &verifier)
            .await
            .status(),
        StatusCode::OK
    );
}

/// RFC 6749 §4.1.2 and §10.5: a code is used at most once, also under
/// concurrent redemption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redemptions_of_one_code_exactly_one_succeeds() {
    let h = harness().await;
    let (code, verifier, _) = code_for(&h.server, &h.public, &[]).await;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let server = h.server.clone();
        let (code, verifier, client_id) =
            (code.clone(), verifier.clone(), h.public.client_id.clone());
        tasks.push(tokio::spawn(async move {
            let client = Client {
                client_id,
                secret: None,
            };
            exchange(&server, &client, &code, &verifier).await.status()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one of 64 concurrent redemptions succeeds");
}

#[tokio::test]
async fn rfc9700_2_1_1_a_verifier_for_a_code_without_challenge_is_refused() {
    let (builder, clock, events) = builder();
    let h = harness_with(
        builder
            .dangerous()
            .pkce_for_public_clients_only()
            .build()
            .unwrap(),
        clock,
        events,
    )
    .await;
    let page = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.confidential.client_id),
        ],
    )
    .await;
    let form = consent(&page);
    let to = location(&decide(&h.server, &form, "approve", "u").await);
    let code = param(&to, "code").unwrap();
    let (verifier, _) = pkce();
    let response = token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(error_of(&response), "invalid_grant", "PKCE downgrade");
    let response = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "authorization_code"), ("code", &code)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
}

async fn tokens_for(h: &Harness, client: &Client) -> (String, String) {
    let (code, verifier, _) = code_for(
        &h.server,
        client,
        &[("scope", "read:devices write:devices")],
    )
    .await;
    let body = json(&exchange(&h.server, client, &code, &verifier).await);
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh(
    h: &Harness,
    client: &Client,
    rt: &str,
    scope: Option<&str>,
) -> http::Response<bytes::Bytes> {
    let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    token(&h.server, client, &pairs).await
}

#[tokio::test]
async fn rfc6749_6_and_rfc9700_4_14_refresh_rotates_and_reuse_revokes_the_family() {
    let h = harness().await;
    let (_, rt1) = tokens_for(&h, &h.confidential).await;
    let second = refresh(&h, &h.confidential, &rt1, None).await;
    assert_eq!(second.status(), StatusCode::OK);
    no_store(&second);
    let body = json(&second);
    let (at2, rt2) = (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_ne!(rt1, rt2, "rotated on use");
    assert_eq!(body["scope"], "read:devices write:devices");

    let reuse = refresh(&h, &h.confidential, &rt1, None).await;
    assert_eq!(error_of(&reuse), "invalid_grant");
    assert_eq!(
        error_of(&refresh(&h, &h.confidential, &rt2, None).await),
        "invalid_grant",
        "the family is revoked"
    );
    assert_eq!(
        introspect(&h.server, &h.confidential, &at2).await["active"],
        false
    );
    assert!(
        h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::RefreshReuseDetected { .. }))
    );
}

#[tokio::test]
async fn rfc6749_6_refresh_may_narrow_scope_never_widen_and_is_bound_to_the_client() {
    let h = harness().await;
    let (_, rt) = tokens_for(&h, &h.confidential).await;
    let wide = refresh(&h, &h.confidential, &rt, Some("read:devices read:sites")).await;
    assert_eq!(error_of(&wide), "invalid_scope");
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    assert_eq!(
        error_of(&refresh(&h, &other, &rt, None).await),
        "invalid_grant",
        "another client's token"
    );
    let narrow = refresh(&h, &h.confidential, &rt, Some("read:devices")).await;
    assert_eq!(narrow.status(), StatusCode::OK, "{}", text(&narrow));
    let body = json(&narrow);
    assert_eq!(body["scope"], "read:devices");
    // §6: the new refresh token keeps the original scope.
    let again = refresh(
        &h,
        &h.confidential,
        body["refresh_token"].as_str().unwrap(),
        Some("write:devices"),
    )
    .await;
    assert_eq!(json(&again)["scope"], "write:devices");
}

/// RFC 6749 §1.5 and §6: a refresh token has its own, longer lifetime than
/// the access tokens it yields.
#[tokio::test]
async fn refresh_tokens_have_their_own_lifetime() {
    let (builder, clock, events) = builder();
    let server = builder
        .access_token_lifetime(Duration::hours(1))
        .refresh_token_lifetime(Duration::hours(2))
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let (at, rt) = tokens_for(&h, &h.confidential).await;
    h.clock.advance(Duration::minutes(90));
    assert_eq!(
        introspect(&h.server, &h.confidential, &at).await["active"],
        false,
        "access token expired"
    );
    let refreshed = refresh(&h, &h.confidential, &rt, None).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "refresh token still valid"
    );
    let rt2 = json(&refreshed)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clock.advance(Duration::hours(2));
    assert_eq!(
        error_of(&refresh(&h, &h.confidential, &rt2, None).await),
        "invalid_grant",
        "expired"
    );
}

/// RFC 9700 §4.14.2 (refresh-token rotation and reuse detection), with the
/// optional grace window for a lost response.
#[tokio::test]
async fn refresh_grace_window_returns_the_same_successor_then_detects_reuse() {
    let (builder, clock, events) = builder();
    let h = harness_with(
        builder
            .refresh_grace(Duration::seconds(10))
            .build()
            .unwrap(),
        clock,
        events,
    )
    .await;
    let (_, rt) = tokens_for(&h, &h.confidential).await;
    let first = json(&refresh(&h, &h.confidential, &rt, None).await);
    h.clock.advance(Duration::seconds(3));
    let repeat = refresh(&h, &h.confidential, &rt, None).await;
    assert_eq!(
        repeat.status(),
        StatusCode::OK,
        "a lost response is answered again"
    );
    let repeat = json(&repeat);
    assert_eq!(repeat["access_token"], first["access_token"]);
    assert_eq!(repeat["refresh_token"], first["refresh_token"]);
    assert_eq!(repeat["expires_in"], 3597);
    h.clock.advance(Duration::seconds(10));
    assert_eq!(
        error_of(&refresh(&h, &h.confidential, &rt, None).await),
        "invalid_grant"
    );
    let successor = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_of(&refresh(&h, &h.confidential, successor, None).await),
        "invalid_grant",
        "family revoked"
    );
}

#[tokio::test]
async fn rfc6749_4_4_client_credentials_for_confidential_clients_only() {
    let h = harness().await;
    let response = token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read:sites"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    no_store(&response);
    let body = json(&response);
    assert_eq!(body["scope"], "read:sites");
    assert!(
        body.get("refresh_token").is_none(),
        "§4.4.3: no refresh token"
    );
    let all = json(
        &token(
            &h.server,
            &h.confidential,
            &[("grant_type", "client_credentials")],
        )
        .await,
    );
    assert_eq!(
        all["scope"], "read:devices write:devices read:sites",
        "default: every allowed scope"
    );
    let wide = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(error_of(&wide), "invalid_scope");
    let public = token(
        &h.server,
        &h.public,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(error_of(&public), "unauthorized_client");
}

#[tokio::test]
async fn rfc7009_revocation() {
    let h = harness().await;
    let (at, rt) = tokens_for(&h, &h.confidential).await;
    let revoke = |token: String, client: &Client| {
        let auth = basic(client);
        let server = h.server.clone();
        async move {
            post_form(
                &server,
                "/oauth/revoke",
                &[("token", &token)],
                Some(&auth),
                None,
            )
            .await
        }
    };
    // Another client's token is refused and stays valid.
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    let foreign = revoke(at.clone(), &other).await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        introspect(&h.server, &h.confidential, &at).await["active"],
        true
    );

    let ok = revoke(at.clone(), &h.confidential).await;
    assert_eq!(ok.status(), StatusCode::OK, "§2.2");
    assert_eq!(
        introspect(&h.server, &h.confidential, &at).await["active"],
        false
    );
    assert_eq!(
        revoke(at.clone(), &h.confidential).await.status(),
        StatusCode::OK,
        "already revoked: 200"
    );
    assert_eq!(
        revoke("oc_at_unknown".into(), &h.confidential)
            .await
            .status(),
        StatusCode::OK,
        "unknown: 200"
    );

    // Revoking a refresh token revokes the access tokens of its grant.
    let (at2, rt2) = tokens_for(&h, &h.confidential).await;
    assert_eq!(
        revoke(rt2.clone(), &h.confidential).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        introspect(&h.server, &h.confidential, &at2).await["active"],
        false
    );
    assert_eq!(
        error_of(&refresh(&h, &h.confidential, &rt2, None).await),
        "invalid_grant"
    );
    assert_eq!(
        introspect(&h.server, &h.confidential, &rt).await["active"],
        true,
        "other grants untouched"
    );

    let anonymous = post_form(&h.server, "/oauth/revoke", &[("token", &rt)], None, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let missing = post_form(
        &h.server,
        "/oauth/revoke",
        &[],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(error_of(&missing), "invalid_request");
}

#[tokio::test]
async fn rfc7662_introspection_is_exactly_inactive_for_anything_not_active_and_yours() {
    let h = harness().await;
    let (at, rt) = tokens_for(&h, &h.confidential).await;
    let active = introspect(&h.server, &h.confidential, &at).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["scope"], "read:devices write:devices");
    assert_eq!(active["client_id"], h.confidential.client_id);
    assert_eq!(active["sub"], "user-42");
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["iss"], ISSUER);
    assert_eq!(
        active["exp"].as_i64().unwrap() - active["iat"].as_i64().unwrap(),
        3600
    );
    let refresh_info = introspect(&h.server, &h.confidential, &rt).await;
    assert_eq!(
        (
            refresh_info["active"].clone(),
            refresh_info["token_type"].clone()
        ),
        (true.into(), "refresh_token".into())
    );

    let inactive = serde_json::json!({"active": false});
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    assert_eq!(
        introspect(&h.server, &other, &at).await,
        inactive,
        "not the caller's"
    );
    assert_eq!(
        introspect(&h.server, &h.confidential, "oc_at_nothing").await,
        inactive,
        "malformed"
    );
    assert_eq!(
        introspect(&h.server, &h.confidential, "hello").await,
        inactive,
        "garbage"
    );
    // Well formed (prefix, checksum) but issued by another server: unknown.
    let elsewhere = harness().await;
    let (foreign_at, _) = tokens_for(&elsewhere, &elsewhere.confidential).await;
    assert_eq!(
        introspect(&h.server, &h.confidential, &foreign_at).await,
        inactive,
        "well formed, unknown here"
    );
    let _ = refresh(&h, &h.confidential, &rt, None).await;
    assert_eq!(
        introspect(&h.server, &h.confidential, &rt).await,
        inactive,
        "rotated out"
    );
    h.clock.advance(Duration::hours(1));
    assert_eq!(
        introspect(&h.server, &h.confidential, &at).await,
        inactive,
        "expired"
    );
    let anonymous = post_form(
        &h.server,
        "/oauth/introspect",
        &[("token", &at)],
        None,
        None,
    )
    .await;
    assert_eq!(
        anonymous.status(),
        StatusCode::UNAUTHORIZED,
        "§2.1: the caller authenticates"
    );
}

#[tokio::test]
async fn rfc7662_section_2_1_a_public_client_cannot_introspect_even_its_own_token() {
    let h = harness().await;
    let (at, _) = tokens_for(&h, &h.public).await;
    let response = post_form(
        &h.server,
        "/oauth/introspect",
        &[("token", &at), ("client_id", &h.public.client_id)],
        None,
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&response), "invalid_client");
    assert!(!text(&response).contains(&at), "the token is not echoed");
    // The token itself is fine: a confidential caller would see it, the
    // resource side accepts it.
    assert!(h.server.authenticate_bearer(&at).await.is_ok());
    let metadata = json(&get(&h.server, "/.well-known/oauth-authorization-server").await);
    assert_eq!(
        metadata["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"]),
        "RFC 8414 §2: metadata says what the endpoint accepts"
    );
}

/// RFC 6749 §10.4 and RFC 7009 §2.1: once the client is deleted, none of
/// its tokens is accepted.
#[tokio::test]
async fn deleting_an_app_stops_its_tokens_at_once() {
    let h = harness().await;
    let (at, _) = tokens_for(&h, &h.confidential).await;
    assert!(h.server.authenticate_bearer(&at).await.is_ok());
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    h.server.delete_app(&h.workspace, &app.id).await.unwrap();
    assert!(h.server.authenticate_bearer(&at).await.is_err());
}

/// Purges in batches of `batch` until one comes back short; the total.
async fn purge_all(h: &Harness, batch: u32) -> u64 {
    let mut removed = 0;
    loop {
        let n = h.server.purge_expired(batch).await.unwrap();
        assert!(n <= u64::from(batch), "bounded batch");
        removed += n;
        if n < u64::from(batch) {
            return removed;
        }
    }
}

/// RFC 6749 §4.1.2 and §1.4: expired codes and tokens are dead; purging
/// them in bounded batches changes no answer: what is live still works
/// after the purge, what was dead stays dead.
#[tokio::test]
async fn purge_removes_expired_records_in_batches() {
    let h = harness().await;
    let mut expired = Vec::new();
    for _ in 0..3 {
        expired.push(tokens_for(&h, &h.confidential).await);
    }
    // An unredeemed code, past its 60 seconds by the time of the purge.
    let (stale_code, stale_verifier, _) = code_for(&h.server, &h.confidential, &[]).await;
    h.clock.advance(Duration::days(31));

    // Live at the purge: tokens, a fresh code and a pending authorization.
    let (live_at, live_rt) = tokens_for(&h, &h.confidential).await;
    let (live_code, live_verifier, _) = code_for(&h.server, &h.confidential, &[]).await;
    let (_, challenge) = pkce();
    let pending = consent(
        &authorize(
            &h.server,
            &[
                ("response_type", "code"),
                ("client_id", &h.confidential.client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await,
    );

    let removed = purge_all(&h, 4).await;
    // 3 redeemed codes and 1 expired one, 6 tokens, 4 grants (no session:
    // pending authorizations are sealed in their page, not stored).
    assert_eq!(removed, 14);
    assert_eq!(h.server.purge_expired(100).await.unwrap(), 0);

    // The answers are the same as before the purge.
    assert!(h.server.authenticate_bearer(&live_at).await.is_ok());
    assert_eq!(
        introspect(&h.server, &h.confidential, &live_at).await["active"],
        true
    );
    let refreshed = refresh(&h, &h.confidential, &live_rt, None).await;
    assert_eq!(refreshed.status(), StatusCode::OK, "{}", text(&refreshed));
    let redeemed = exchange(&h.server, &h.confidential, &live_code, &live_verifier).await;
    assert_eq!(redeemed.status(), StatusCode::OK, "{}", text(&redeemed));
    assert_eq!(
        decide(&h.server, &pending, "approve", "user-42")
            .await
            .status(),
        StatusCode::SEE_OTHER,
        "a pending authorization survives"
    );
    for (at, rt) in &expired {
        assert!(h.server.authenticate_bearer(at).await.is_err());
        assert_eq!(
            error_of(&refresh(&h, &h.confidential, rt, None).await),
            "invalid_grant"
        );
    }
    assert_eq!(
        error_of(&exchange(&h.server, &h.confidential, &stale_code, &stale_verifier).await),
        "invalid_grant"
    );
}

/// RFC 6749 §4.1.2: a replay of a redeemed code revokes its tokens even
/// after the code's own lifetime and a purge — the redeemed code is kept
/// (as a tombstone) until its grant expires.
#[tokio::test]
async fn rfc6749_4_1_2_a_code_replayed_after_a_purge_still_revokes_its_tokens() {
    let h = harness().await;
    let (code, verifier, _) = code_for(&h.server, &h.confidential, &[]).await;
    let first = json(&exchange(&h.server, &h.confidential, &code, &verifier).await);
    let refresh_token = first["refresh_token"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::minutes(10));
    let refreshed = json(&refresh(&h, &h.confidential, &refresh_token, None).await);
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    purge_all(&h, 100).await;
    assert!(h.server.authenticate_bearer(&access).await.is_ok());

    let replay = exchange(&h.server, &h.confidential, &code, &verifier).await;
    assert_eq!(error_of(&replay), "invalid_grant");
    assert!(
        h.server.authenticate_bearer(&access).await.is_err(),
        "the grant is revoked, with the tokens refreshed since"
    );
    let next = refreshed["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_of(&refresh(&h, &h.confidential, next, None).await),
        "invalid_grant"
    );
    assert!(
        h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::CodeReplayDetected { .. }))
    );
}

/// RFC 6749 §2.3.1 with the fields swapped (the secret sent as the client
/// id, Basic or post): authentication fails, and the
/// client-authentication-failed event carries no client id at all — never
/// the presented value, which is a credential. A real client id with a
/// wrong or malformed secret is named; an unknown well-formed one is not.
#[tokio::test]
async fn rfc6749_2_3_1_swapped_client_id_and_secret_never_reach_an_event() {
    let h = harness().await;
    let cc = [("grant_type", "client_credentials")];
    let secret = h.confidential.secret.clone().unwrap();
    let id = h.confidential.client_id.clone();
    let swapped = Client {
        client_id: secret.clone(),
        secret: Some(id.clone()),
    };
    let basic_swapped =
        post_form(&h.server, "/oauth/token", &cc, Some(&basic(&swapped)), None).await;
    assert_eq!(error_of(&basic_swapped), "invalid_client");
    let post_swapped = post_form(
        &h.server,
        "/oauth/token",
        &[cc[0], ("client_id", &secret), ("client_secret", &id)],
        None,
        None,
    )
    .await;
    assert_eq!(error_of(&post_swapped), "invalid_client");
    // The secret alone as client_id (as a public client would send).
    let alone = post_form(
        &h.server,
        "/oauth/token",
        &[cc[0], ("client_id", &secret)],
        None,
        None,
    )
    .await;
    assert_eq!(error_of(&alone), "invalid_client");
    // Revocation and introspection authenticate the same way.
    for path in ["/oauth/revoke", "/oauth/introspect"] {
        let response = post_form(
            &h.server,
            path,
            &[("token", "x")],
            Some(&basic(&swapped)),
            None,
        )
        .await;
        assert_eq!(error_of(&response), "invalid_client", "{path}");
    }

    let events = h.events.0.lock().unwrap().clone();
    let failures: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ClientAuthenticationFailed { client_id, reason } => Some((client_id, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 5, "{events:?}");
    for (client_id, reason) in &failures {
        assert!(client_id.is_none(), "no client is named: {events:?}");
        assert_eq!(*reason, "unknown client");
    }
    let shown = format!("{events:?}");
    assert!(!shown.contains(&secret), "the secret reached an event");

    // A registered client with a wrong (well-formed) secret, or a malformed
    // one: named. An unknown, well-formed client id: not named.
    h.events.0.lock().unwrap().clear();
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    let cases = [
        (id.as_str(), other.secret.as_deref().unwrap()),
        (id.as_str(), "not-a-secret"),
        ("oc_client_0123456789abcdef01234567", secret.as_str()),
    ];
    for (client_id, client_secret) in cases {
        let response = post_form(
            &h.server,
            "/oauth/token",
            &[
                cc[0],
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
            None,
            None,
        )
        .await;
        assert_eq!(error_of(&response), "invalid_client");
    }
    let named: Vec<Option<String>> = h
        .events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::ClientAuthenticationFailed { client_id, .. } => {
                Some(client_id.as_ref().map(|c| c.as_str().to_owned()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(named, vec![Some(id.clone()), Some(id.clone()), None]);

    // And the Basic credentials' own Debug shows neither field.
    let parsed = oauth_connect::oauth::BasicCredentials {
        client_id: secret.clone().into(),
        client_secret: id.clone().into(),
    };
    let shown = format!("{parsed:?}");
    assert!(!shown.contains(&secret) && !shown.contains(&id), "{shown}");
}

/// The event hook (DESIGN "Principles": observable, never a secret): each
/// state change of the token lifecycle is reported once, and no event's
/// `Debug` contains a credential.
#[tokio::test]
async fn lifecycle_events_are_emitted_without_secrets() {
    let h = harness().await;
    let (at, rt) = tokens_for(&h, &h.confidential).await;
    let refreshed = refresh(&h, &h.confidential, &rt, None).await;
    assert_eq!(refreshed.status(), StatusCode::OK, "{}", text(&refreshed));
    let body = json(&refreshed);
    let (at2, rt2) = (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    );
    let revoked = post_form(
        &h.server,
        "/oauth/revoke",
        &[("token", &rt2)],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    let rotated = h
        .server
        .rotate_client_secret(&h.workspace, &app.id, None)
        .await
        .unwrap();
    h.server.delete_app(&h.workspace, &app.id).await.unwrap();

    let events = h.events.0.lock().unwrap().clone();
    let client_id = app.client_id.clone();
    let issued = events
        .iter()
        .filter(|e| {
            matches!(e, Event::TokenIssued { client_id: c, grant_type: "authorization_code", .. } if *c == client_id)
        })
        .count();
    assert_eq!(issued, 1, "{events:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::TokenRefreshed { client_id: c } if *c == client_id))
            .count(),
        1
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TokenRevoked { client_id: c, whole_grant: true } if *c == client_id
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::SecretRotated { app_id, with_grace: false, .. } if *app_id == app.id
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::AppDeleted { app_id, .. } if *app_id == app.id
    )));
    let shown = format!("{events:?}");
    let old_secret = h.confidential.secret.clone().unwrap();
    for secret in [
        at.as_str(),
        rt.as_str(),
        at2.as_str(),
        rt2.as_str(),
        old_secret.as_str(),
        rotated.client_secret.expose_secret(),
    ] {
        assert!(!shown.contains(secret), "an event shows a credential");
    }
}
