//! Native and mobile apps through `AuthorizationServer::handle`: the
//! redirect URIs they register (RFC 8252 §7: private-use schemes, claimed
//! `https` links, loopback), the schemes that stay refused, and a Connect
//! session of a public native app (PKCE, RFC 7636) that lands on its
//! scheme URL with `code`, `state` and `iss` (RFC 9207).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use support::*;

const DEEP_LINK: &str = "myapp://device/connected";

async fn send_json(
    h: &Harness,
    uri: &str,
    authorization: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = h
        .server
        .handle(
            Request::post(uri)
                .header("content-type", "application/json")
                .header("authorization", authorization)
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await;
    let status = response.status();
    (status, json(&response))
}

async fn admin(h: &Harness) -> String {
    let key = h.server.create_admin_key(&h.workspace).await.unwrap();
    format!("Bearer {}", key.expose_secret())
}

fn app(redirect_uris: &[&str], kind: &str) -> Value {
    json!({
        "name": "Energy mobile app",
        "redirectUris": redirect_uris,
        "allowedScopes": ["read:devices"],
        "type": kind,
    })
}

// RFC 8252 §7.1 (private-use schemes, a single word included: the seed's
// `myapp://device/connected`), §7.2 (claimed https links), §7.3 (loopback).
#[tokio::test]
async fn rfc8252_7_native_redirect_uris_are_registered() {
    let h = harness().await;
    let bearer = admin(&h).await;
    for (uri, kind) in [
        (DEEP_LINK, "PUBLIC"),
        ("example://", "PUBLIC"),
        ("com.example.energy:/oauth2redirect", "PUBLIC"),
        ("https://app.example.com/.well-known/connected", "PUBLIC"),
        ("http://127.0.0.1/callback", "PUBLIC"),
        ("http://[::1]:8080/callback", "PUBLIC"),
        (DEEP_LINK, "CONFIDENTIAL"),
    ] {
        let (status, body) = send_json(&h, "/v1/oauth-apps", &bearer, &app(&[uri], kind)).await;
        assert_eq!(status, StatusCode::CREATED, "{uri}: {body}");
        assert_eq!(body["redirectUris"], json!([uri]), "kept exactly as given");
    }
}

// RFC 9700 §4.1 and RFC 6749 §3.1.2: schemes that are no app's callback
// stay refused, with a 400 naming the offending element.
#[tokio::test]
async fn rfc9700_4_1_dangerous_redirect_schemes_are_refused_naming_the_field() {
    let h = harness().await;
    let bearer = admin(&h).await;
    for (uri, says) in [
        ("javascript:alert(1)", "`javascript` scheme"),
        ("JavaScript:alert(1)", "`javascript` scheme"),
        ("data:text/html,<script>alert(1)</script>", "`data` scheme"),
        ("file:///etc/passwd", "`file` scheme"),
        ("vbscript:msgbox(1)", "`vbscript` scheme"),
        ("blob:https://app.example.com/5e7a", "`blob` scheme"),
        ("about:blank", "`about` scheme"),
        ("intent://connected#Intent;scheme=myapp;end", "fragment"),
        ("intent://connected", "`intent` scheme"),
        ("urn:ietf:wg:oauth:2.0:oob", "`urn` scheme"),
        ("ms-msdt:/id", "`ms-msdt` scheme"),
        ("c:/Windows/cb", "Windows drive"),
        ("http://app.example.com/callback", "must use https"),
        ("myapp://user@device/connected", "user information"),
    ] {
        let (status, body) = send_json(
            &h,
            "/v1/oauth-apps",
            &bearer,
            &app(&[DEEP_LINK, uri], "PUBLIC"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["field"], "redirectUris[1]", "{uri}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{uri}: {message}");
    }
    // Nothing half-written: no app was made by any of them.
    let listed = h
        .server
        .handle(
            Request::get("/v1/oauth-apps?perPage=100")
                .header("authorization", &bearer)
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    let names: Vec<Value> = json(&listed)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert!(!names.contains(&json!("Energy mobile app")), "{names:?}");
}

/// A public native app registered with the seed's deep link, and the admin
/// key its service's backend holds.
async fn native_app(h: &Harness) -> (String, String, String) {
    let bearer = admin(h).await;
    let (status, body) =
        send_json(h, "/v1/oauth-apps", &bearer, &app(&[DEEP_LINK], "PUBLIC")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        bearer,
        body["id"].as_str().unwrap().to_owned(),
        body["clientId"].as_str().unwrap().to_owned(),
    )
}

fn full_customer() -> Value {
    json!({
        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "US"}
    })
}

/// Opens the session's page in the browser and approves on the consent
/// step: the 303 the browser follows to the app.
async fn approve(h: &Harness, url: &str) -> http::Response<Bytes> {
    let page = h
        .browser
        .get(&h.server, url.strip_prefix(ISSUER).unwrap())
        .await;
    assert_eq!(page.status(), StatusCode::OK, "{}", text(&page));
    // The consent form posts here and is answered with a redirect to the
    // app's scheme: form-action must allow that scheme, or a browser stops
    // the redirect.
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' myapp:;"), "{csp}");
    let html = text(&page);
    assert_eq!(field(&html, "step"), "consent");
    h.browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", field(&html, "token").as_str()),
                ("csrf_token", field(&html, "csrf_token").as_str()),
                ("step", "consent"),
                ("decision", "approve"),
            ],
        )
        .await
}

// RFC 8252 §6 and §8.1, RFC 7636 §4: the backend makes the session with
// the challenge the app sent it; the system browser lands on the app's
// scheme URL with code, state and iss (RFC 9207); only the verifier's
// holder can redeem the code.
#[tokio::test]
async fn rfc8252_public_native_app_connect_session_lands_on_its_scheme_url() {
    let h = harness().await;
    let (bearer, app_id, client_id) = native_app(&h).await;
    let (verifier, challenge) = pkce();
    let (status, session) = send_json(
        &h,
        "/v1/connect/sessions",
        &bearer,
        &json!({
            "appId": app_id,
            "redirectUrl": DEEP_LINK,
            "referenceId": "user-123",
            "state": "af0ifjsldkj",
            "customerInfo": full_customer(),
            "scopedKey": true,
            "codeChallenge": challenge,
            "codeChallengeMethod": "S256",
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let answer = approve(&h, session["url"].as_str().unwrap()).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    let to = location(&answer);
    assert!(
        to.starts_with(&format!("{DEEP_LINK}?code=oc_code_")),
        "{to}"
    );
    assert_eq!(param(&to, "state").as_deref(), Some("af0ifjsldkj"));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER));
    assert_eq!(param(&to, "scoped_key"), None, "never in a claimable URL");
    let code = param(&to, "code").unwrap();

    let public = Client {
        client_id: client_id.clone(),
        secret: None,
    };
    let redeem = |verifier: Option<&'static str>| {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", DEEP_LINK),
        ];
        if let Some(v) = verifier {
            pairs.push(("code_verifier", v));
        }
        pairs
    };
    // An app that caught the redirect but holds no verifier gets nothing
    // (and the failed attempt does not consume the code for its holder).
    let stolen = token(&h.server, &public, &redeem(None)).await;
    assert_eq!(
        stolen.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        text(&stolen)
    );
    assert_eq!(error_of(&stolen), "invalid_grant");
    let wrong = token(
        &h.server,
        &public,
        &redeem(Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
    )
    .await;
    assert_eq!(error_of(&wrong), "invalid_grant");

    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", DEEP_LINK),
        ("code_verifier", verifier.as_str()),
    ];
    let tokens = token(&h.server, &public, &pairs).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let tokens = json(&tokens);
    for credential in ["access_token", "scoped_key"] {
        let mut headers = http::HeaderMap::new();
        let value = format!("Bearer {}", tokens[credential].as_str().unwrap());
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        let me = h.server.authenticate_request(&headers).await.unwrap();
        assert_eq!(
            me.subject.as_ref().map(|s| s.as_str()),
            Some("user-123"),
            "{credential}"
        );
        assert_eq!(me.client_id.as_str(), client_id, "{credential}");
    }
    // RFC 6749 §4.1.2: the code is single-use.
    pairs.truncate(4);
    let again = token(&h.server, &public, &pairs).await;
    assert_eq!(error_of(&again), "invalid_grant");
}

// RFC 7636 §4.4.1 and RFC 8252 §8.1: a public app's session without a
// challenge is refused, naming the field; so is a scoped key in a redirect
// to a scheme another app can claim (RFC 8252 §8.6).
#[tokio::test]
async fn rfc7636_public_app_session_needs_a_challenge_and_no_key_in_a_claimable_redirect() {
    let h = harness().await;
    let (bearer, app_id, _) = native_app(&h).await;
    let (_, challenge) = pkce();
    for (body, field_name, says) in [
        (
            json!({"appId": app_id, "redirectUrl": DEEP_LINK}),
            "codeChallenge",
            "required for a public app",
        ),
        (
            json!({"appId": app_id, "redirectUrl": DEEP_LINK, "codeChallenge": challenge, "codeChallengeMethod": "S256",
                   "scopedKey": true, "scopedKeyDelivery": "redirect"}),
            "scopedKeyDelivery",
            "another app can claim",
        ),
        (
            json!({"appId": app_id, "redirectUrl": "myapp://device/other", "codeChallenge": challenge, "codeChallengeMethod": "S256"}),
            "redirectUrl",
            "registered redirect URIs",
        ),
    ] {
        let (status, answer) = send_json(&h, "/v1/connect/sessions", &bearer, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["field"], field_name, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // A public app has no secret: it cannot make sessions itself.
    let (status, _) = send_json(
        &h,
        "/v1/connect/sessions",
        &basic(&h.public),
        &json!({"redirectUrl": REDIRECT}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A confidential app may take a scoped key in a redirect to https.
    let (status, answer) = send_json(
        &h,
        "/v1/connect/sessions",
        &basic(&h.confidential),
        &json!({"redirectUrl": REDIRECT, "scopedKey": true, "scopedKeyDelivery": "redirect"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}
