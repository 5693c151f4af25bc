#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The framework adapters (`oauth_connect::axum::router`,
//! `oauth_connect::actix::configure`) over real sockets: each serves an
//! authorization server mounted under `/auth` with the issuer
//! `http://127.0.0.1:PORT/auth` beside a protected `/v1/me`, and the tests
//! walk an authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636)
//! through the prefix, call the resource with the token (RFC 6750 §2.1),
//! and send bodies over the cap (413, RFC 9110 §15.5.14).

mod raw_http;
mod support;

use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use oauth_connect::http::BearerRejection;
use oauth_connect::limits::MAX_BODY_BYTES;
use oauth_connect::{AppId, BearerPrincipal, NewOAuthApp, WorkspaceId};
use oauth_connect::{AppType, AuthorizationServer, MemoryStore};
use raw_http::{code_flow, send};
use support::{REDIRECT, json, register, text};

/// The server of a test, with the issuer `http://{addr}/auth`.
fn server(addr: SocketAddr) -> AuthorizationServer<MemoryStore> {
    AuthorizationServer::builder(MemoryStore::new())
        .issuer(format!("http://{addr}/auth"))
        .dangerous()
        .demo_sign_in()
        .build()
        .unwrap()
}

/// Another app of the same workspace: `GET /v1/other-app` accepts only its
/// tokens.
async fn other_app(server: &AuthorizationServer<MemoryStore>) -> AppId {
    let created = server
        .create_app(
            &WorkspaceId::parse("ws_test").unwrap(),
            &NewOAuthApp {
                name: "Another app".into(),
                description: None,
                redirect_uris: vec![REDIRECT.into()],
                allowed_scopes: vec!["read:devices".into()],
                allowed_origins: vec![],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        )
        .await
        .unwrap();
    created.app.id
}

/// The JSON of `GET /v1/me`.
fn me(principal: &BearerPrincipal) -> String {
    serde_json::json!({
        "subject": principal.subject.as_ref().map(|s| s.as_str()),
        "scopes": principal.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
    .to_string()
}

/// The code flow through the prefix, then the protected resource, on the
/// server at `addr`: returns the `/v1/me` answer.
async fn code_flow_then_resource(
    addr: SocketAddr,
    server: &AuthorizationServer<MemoryStore>,
) -> serde_json::Value {
    let workspace = WorkspaceId::parse("ws_test").unwrap();
    let client = register(server, &workspace, AppType::Confidential, &[REDIRECT]).await;
    let secret = client.secret.clone().unwrap();

    // The metadata names the endpoints under the issuer's path (RFC 8414 §3).
    let metadata = send(
        addr,
        "GET",
        "/auth/.well-known/oauth-authorization-server",
        &[],
        b"",
    )
    .await;
    assert_eq!(metadata.status(), StatusCode::OK, "{}", text(&metadata));
    assert_eq!(
        json(&metadata)["token_endpoint"],
        format!("http://{addr}/auth/oauth/token")
    );

    let access = code_flow(addr, "/auth", &client.client_id, &secret).await;

    // RFC 6750 §3.1: no token, a bare challenge.
    let missing = send(addr, "GET", "/v1/me", &[], b"").await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"oauth-connect\""
    );
    // RFC 6750 §2.1: the token authenticates the protected resource.
    let bearer = format!("Bearer {access}");
    let resource = send(addr, "GET", "/v1/me", &[("Authorization", &bearer)], b"").await;
    assert_eq!(resource.status(), StatusCode::OK, "{}", text(&resource));
    // A resource that accepts only another app's tokens: RFC 6750 §3.1
    // `invalid_token` for this one.
    let other = send(
        addr,
        "GET",
        "/v1/other-app",
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "{}", text(&other));
    assert_eq!(
        other.headers()["www-authenticate"],
        "Bearer realm=\"oauth-connect\", error=\"invalid_token\""
    );
    json(&resource)
}

/// RFC 9110 §15.5.14: a body over the cap is refused: 413 and the
/// connection closed.
async fn oversize_is_413(addr: SocketAddr) {
    let body = vec![b'a'; MAX_BODY_BYTES + 1];
    let refused = send(
        addr,
        "POST",
        "/auth/oauth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(&refused)["error"], "payload_too_large");
    assert_eq!(refused.headers()["connection"], "close");
}

/// A body within the cap is read and handed on (here a malformed token
/// request: RFC 6749 §5.2 `invalid_request`, not a 413).
async fn a_body_within_the_cap_passes(addr: SocketAddr) {
    let body = vec![b'a'; MAX_BODY_BYTES];
    let answer = send(
        addr,
        "POST",
        "/auth/oauth/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    assert_ne!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

mod axum_router {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use hyper::service::Service as _;
    use hyper_util::service::TowerToHyperService;
    use oauth_connect::axum::Bearer;

    use super::*;

    async fn serve_axum() -> (SocketAddr, AuthorizationServer<MemoryStore>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = server(addr);
        let other = other_app(&server).await;
        let workspace = WorkspaceId::parse("ws_test").unwrap();
        let app = Router::new()
            .route(
                "/v1/me",
                get(|bearer: Bearer| async move {
                    bearer.require_workspace(&workspace)?;
                    Ok::<_, BearerRejection>(me(&bearer))
                }),
            )
            .route(
                "/v1/other-app",
                get(|bearer: Bearer| async move {
                    bearer.require_app(&other)?;
                    Ok::<_, BearerRejection>(me(&bearer))
                }),
            )
            .with_state(server.clone())
            .nest_service("/auth", oauth_connect::axum::router(server.clone()));
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        (addr, server)
    }

    #[tokio::test]
    async fn a_code_flow_under_a_prefix_then_the_protected_resource() {
        let (addr, server) = serve_axum().await;
        let me = code_flow_then_resource(addr, &server).await;
        assert_eq!(me["subject"], "user-42");
        assert_eq!(me["scopes"], serde_json::json!(["read:devices"]));
    }

    #[tokio::test]
    async fn bodies_over_the_cap_get_413() {
        let (addr, _) = serve_axum().await;
        oversize_is_413(addr).await;
        a_body_within_the_cap_passes(addr).await;
    }

    /// A streamed body (no `Content-Length`) is cut at the cap: 413.
    #[tokio::test]
    async fn a_streamed_body_over_the_cap_gets_413() {
        let server = server("127.0.0.1:1".parse().unwrap());
        let service = TowerToHyperService::new(oauth_connect::axum::router(server));
        let chunks = (0..17).map(|_| Bytes::from(vec![b'a'; 4096]));
        let request = http::Request::post("/auth/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::new(Chunks(chunks)))
            .unwrap();
        let answer = service.call(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    /// Mounted at the root (`fallback_service`), the issuer's path comes
    /// off a request that carries it.
    #[tokio::test]
    async fn mounted_at_the_root_the_issuer_path_is_taken_off() {
        let server = server("127.0.0.1:1".parse().unwrap());
        let app = Router::new().fallback_service(oauth_connect::axum::router(server));
        let service = TowerToHyperService::new(app);
        let request = http::Request::get("/auth/.well-known/oauth-authorization-server")
            .body(Body::empty())
            .unwrap();
        let answer = service.call(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        let metadata: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(metadata["issuer"], "http://127.0.0.1:1/auth");
    }

    /// A body of `chunks`, without a length.
    struct Chunks<I>(I);

    impl<I: Iterator<Item = Bytes> + Unpin> hyper::body::Body for Chunks<I> {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            std::task::Poll::Ready(
                self.0
                    .next()
                    .map(|chunk| Ok(hyper::body::Frame::data(chunk))),
            )
        }
    }
}

mod actix_configure {
    use actix_web::{App, HttpResponse, HttpServer, test, web};
    use oauth_connect::actix::Bearer;

    use super::*;

    /// Serves the actix-web app on its own thread (actix-web runs its own
    /// single-threaded runtimes).
    fn serve_actix() -> (SocketAddr, AuthorizationServer<MemoryStore>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = server(addr);
        let (ready, started) = std::sync::mpsc::channel();
        let served = server.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let other = other_app(&served).await;
                let http = HttpServer::new(move || {
                    let other = other.clone();
                    App::new()
                        .app_data(web::Data::new(served.clone()))
                        .route(
                            "/v1/me",
                            web::get().to(|bearer: Bearer| async move {
                                bearer
                                    .require_workspace(&WorkspaceId::parse("ws_test").unwrap())?;
                                Ok::<_, BearerRejection>(HttpResponse::Ok().body(me(&bearer)))
                            }),
                        )
                        .route(
                            "/v1/other-app",
                            web::get().to(move |bearer: Bearer| {
                                let other = other.clone();
                                async move {
                                    bearer.require_app(&other)?;
                                    Ok::<_, BearerRejection>(HttpResponse::Ok().body(me(&bearer)))
                                }
                            }),
                        )
                        .service(
                            web::scope("/auth")
                                .configure(oauth_connect::actix::configure(served.clone())),
                        )
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                ready.send(()).unwrap();
                http.await.unwrap();
            });
        });
        started.recv().unwrap();
        (addr, server)
    }

    #[tokio::test]
    async fn a_code_flow_under_a_prefix_then_the_protected_resource() {
        let (addr, server) = serve_actix();
        let me = code_flow_then_resource(addr, &server).await;
        assert_eq!(me["subject"], "user-42");
        assert_eq!(me["scopes"], serde_json::json!(["read:devices"]));
    }

    #[tokio::test]
    async fn bodies_over_the_cap_get_413() {
        let (addr, _) = serve_actix();
        oversize_is_413(addr).await;
        a_body_within_the_cap_passes(addr).await;
    }

    /// A body without a `Content-Length` is cut at the cap: 413; and at
    /// the root, the issuer's path comes off a request that carries it.
    #[test]
    fn a_streamed_body_over_the_cap_gets_413_and_the_root_mount_strips_the_issuer_path() {
        actix_web::rt::System::new().block_on(async {
            let server = server("127.0.0.1:1".parse().unwrap());
            let app =
                test::init_service(App::new().configure(oauth_connect::actix::configure(server)))
                    .await;
            let mut request = test::TestRequest::post()
                .uri("/auth/oauth/token")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(vec![b'a'; MAX_BODY_BYTES + 1])
                .to_request();
            request
                .headers_mut()
                .remove(actix_web::http::header::CONTENT_LENGTH);
            let answer = test::call_service(&app, request).await;
            assert_eq!(answer.status().as_u16(), 413);
            let request = test::TestRequest::get()
                .uri("/auth/.well-known/oauth-authorization-server")
                .to_request();
            let metadata: serde_json::Value = test::call_and_read_body_json(&app, request).await;
            assert_eq!(metadata["issuer"], "http://127.0.0.1:1/auth");
        });
    }
}
