//! The oauth-connect example server on axum 0.8: the whole HTTP surface
//! through `AuthorizationServer::handle`, plus a protected resource,
//! `GET /v1/me`, behind the `oauth_connect::axum::Bearer` extractor.
//!
//! `cargo run --example axum` (see `examples/common/mod.rs` for the knobs).

#[path = "../common/mod.rs"]
mod common;
mod sockets;

use std::error::Error;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oauth_connect::axum::Bearer;
use oauth_connect::{AuthorizationServer, MAX_BODY_BYTES, PeerAddress, Storage};
use tracing::Instrument as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    match common::start("axum").await? {
        Some(common::Started::Memory(running)) => {
            let served = serve(running).await;
            common::stop_webhooks().await;
            served
        }
        Some(common::Started::Postgres(running)) => {
            let store = running.server.storage().clone();
            let served = serve(running).await;
            common::stop_webhooks().await;
            // Shut down: the requests in flight are done; end the pool's
            // connections cleanly.
            store.close().await;
            served
        }
        None => Ok(()),
    }
}

/// Serves the example on whichever store it was started with.
async fn serve<S: Storage>(running: common::Running<S>) -> Result<(), Box<dyn Error>> {
    let common::Running {
        server,
        upstream,
        listener,
        demo_app,
        limits,
    } = running;
    let mut app = Router::new()
        .route(
            "/v1/me",
            get(me::<S>).fallback(|| async { common::me_method_not_allowed().map(Body::from) }),
        )
        .fallback(handle::<S>);
    if let Some(upstream) = upstream {
        // The demo providers' upstream server: axum strips the prefix.
        let upstream = Router::new().fallback(handle).with_state(upstream);
        app = app.nest_service(common::UPSTREAM_PREFIX, upstream);
    }
    let app = app
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(limits))
        .layer(middleware::from_fn(trace))
        .with_state(server);
    let mut sites = vec![(listener, app)];
    // The demo integrating app, on its own origin.
    if let Some((demo, demo_listener)) = demo_app {
        let demo = Router::new()
            .fallback(demo_app_handler)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(Extension(limits))
            .layer(middleware::from_fn(trace))
            .with_state(demo);
        sites.push((demo_listener, demo));
    }
    sockets::serve(sites, limits).await?;
    Ok(())
}

/// The demo app's adapter: the same conversion as [`handle`].
async fn demo_app_handler(
    State(app): State<common::DemoApp>,
    Extension(limits): Extension<common::Limits>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let response =
        match common::read_body(&limits, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(body) => common::demo_app_handle(&app, http::Request::from_parts(parts, body)).await,
            Err(answer) => answer,
        };
    response.map(Body::from)
}

/// The adapter: the axum request (body capped and timed) into `handle`,
/// with the socket's peer as a `PeerAddress`, and back.
async fn handle<S: Storage>(
    State(server): State<AuthorizationServer<S>>,
    Extension(limits): Extension<common::Limits>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    // The socket's peer (`sockets` puts it in as `ConnectInfo`), for the
    // limits per client address.
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() {
        parts.extensions.insert(PeerAddress::from(peer));
    }
    let response =
        match common::read_body(&limits, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(body) => common::answer(&server, http::Request::from_parts(parts, body)).await,
            Err(answer) => answer,
        };
    response.map(Body::from)
}

/// `GET /v1/me`: who the bearer credential speaks for.
async fn me<S: Storage>(bearer: Bearer<S>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        common::me(&bearer),
    )
}

/// One span per request: method, path, status, latency (nothing secret).
async fn trace(request: Request, next: Next) -> Response {
    let span = common::request_span(request.method().as_str(), request.uri().path());
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    common::log_response(&span, response.status().as_u16(), started);
    response
}
