#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The resource-server extractors (`oauth_connect::axum::Bearer`,
//! `oauth_connect::actix::Bearer`): a valid token passes, the refusals
//! follow RFC 6750 §3, and `require_scope` answers 403.

mod support;

use bytes::Bytes;
use http::StatusCode;
use oauth_connect::MemoryStore;
use oauth_connect::http::BearerRejection;
use support::*;

/// A valid access token with `read:devices` for subject `user-42`.
async fn access_token(h: &Harness) -> String {
    let (code, verifier, _) =
        code_for(&h.server, &h.confidential, &[("scope", "read:devices")]).await;
    let response = exchange(&h.server, &h.confidential, &code, &verifier).await;
    json(&response)["access_token"].as_str().unwrap().to_owned()
}

fn challenge(response: &http::Response<Bytes>) -> &str {
    response.headers()["www-authenticate"].to_str().unwrap()
}

mod axum_extractor {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    use oauth_connect::axum::Bearer;

    use super::*;

    async fn extract(h: &Harness, authorization: &[&str]) -> Result<Bearer, BearerRejection> {
        let mut request = http::Request::get("/v1/devices");
        for value in authorization {
            request = request.header("authorization", *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        Bearer::<MemoryStore>::from_request_parts(&mut parts, &h.server).await
    }

    #[tokio::test]
    async fn a_valid_token_passes_and_scopes_are_checked() {
        let h = harness().await;
        let token = access_token(&h).await;
        let bearer = extract(&h, &[&format!("Bearer {token}")]).await.unwrap();
        assert_eq!(bearer.subject.as_ref().unwrap().as_str(), "user-42");
        assert!(bearer.require_scope("read:devices").is_ok());
        let refusal = bearer.require_scope("write:devices").unwrap_err();
        let response = refusal.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"oauth-connect\", error=\"insufficient_scope\", scope=\"write:devices\""
        );
    }

    #[tokio::test]
    async fn refusals_follow_rfc_6750() {
        let h = harness().await;
        let missing = extract(&h, &[]).await.unwrap_err();
        assert_eq!(missing, BearerRejection::Missing);
        let response = missing.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"oauth-connect\""
        );
        let basic = extract(&h, &["Basic dXNlcjpwYXNz"]).await.unwrap_err();
        assert_eq!(basic, BearerRejection::Missing);
        let invalid = extract(&h, &["Bearer oc_at_not-a-real-token"])
            .await
            .unwrap_err();
        assert_eq!(invalid, BearerRejection::InvalidToken);
        assert_eq!(
            challenge(&invalid.to_response()),
            "Bearer realm=\"oauth-connect\", error=\"invalid_token\""
        );
        let twice = extract(&h, &["Bearer a", "Bearer b"]).await.unwrap_err();
        assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
        assert!(!format!("{invalid} {invalid:?}").contains("not-a-real-token"));
    }
}

mod actix_extractor {
    use actix_web::dev::Payload;
    use actix_web::test::TestRequest;
    use actix_web::{FromRequest as _, ResponseError as _, web};
    use oauth_connect::actix::Bearer;

    use super::*;

    async fn extract(
        h: &Harness,
        authorization: Option<&str>,
        with_server: bool,
    ) -> Result<Bearer, BearerRejection> {
        let mut request = TestRequest::get().uri("/v1/devices");
        if with_server {
            request = request.app_data(web::Data::new(h.server.clone()));
        }
        if let Some(value) = authorization {
            request = request.insert_header(("authorization", value));
        }
        let request = request.to_http_request();
        Bearer::<MemoryStore>::from_request(&request, &mut Payload::None).await
    }

    #[tokio::test]
    async fn a_valid_token_passes_and_scopes_are_checked() {
        let h = harness().await;
        let token = access_token(&h).await;
        let bearer = extract(&h, Some(&format!("Bearer {token}")), true)
            .await
            .unwrap();
        assert!(bearer.has_scope("read:devices"));
        assert_eq!(
            bearer.principal().client_id.as_str(),
            h.confidential.client_id
        );
        let refusal = bearer.require_scope("write:devices").unwrap_err();
        let response = refusal.error_response();
        assert_eq!(response.status().as_u16(), 403);
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer realm=\"oauth-connect\", error=\"insufficient_scope\", scope=\"write:devices\""
        );
    }

    #[tokio::test]
    async fn refusals_follow_rfc_6750() {
        let h = harness().await;
        let missing = extract(&h, None, true).await.unwrap_err();
        let response = missing.error_response();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer realm=\"oauth-connect\""
        );
        let invalid = extract(&h, Some("Bearer oc_at_nope"), true)
            .await
            .unwrap_err();
        assert_eq!(invalid, BearerRejection::InvalidToken);
        assert_eq!(
            invalid
                .error_response()
                .headers()
                .get("www-authenticate")
                .unwrap(),
            "Bearer realm=\"oauth-connect\", error=\"invalid_token\""
        );
        // Without the server in the app data: a 500, not a panic.
        let unconfigured = extract(&h, Some("Bearer oc_at_nope"), false)
            .await
            .unwrap_err();
        assert_eq!(unconfigured.error_response().status().as_u16(), 500);
    }
}
