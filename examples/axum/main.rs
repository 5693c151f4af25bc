//! The oauth-connect example server on axum 0.8: the whole HTTP surface
//! through `AuthorizationServer::handle`, plus a protected resource,
//! `GET /v1/me`, behind the `oauth_connect::axum::Bearer` extractor.
//!
//! `cargo run --example axum` (see `examples/common/mod.rs` for the knobs).

#[path = "../common/mod.rs"]
mod common;

use std::error::Error;
use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oauth_connect::axum::Bearer;
use oauth_connect::{AuthorizationServer, MAX_BODY_BYTES, PeerAddress, Storage};
use tracing::Instrument as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    match common::start("axum").await? {
        Some(common::Started::Memory(running)) => serve(running).await,
        Some(common::Started::Postgres(running)) => {
            let store = running.server.storage().clone();
            let served = serve(running).await;
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
        .layer(middleware::from_fn(trace))
        .with_state(server);
    let listener = tokio::net::TcpListener::from_std(listener)?;
    // `ConnectInfo`: the socket's peer, for the limits per client address.
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let main = axum::serve(listener, app).with_graceful_shutdown(common::shutdown_signal());
    match demo_app {
        // The demo integrating app, on its own origin.
        Some((demo, demo_listener)) => {
            let demo = Router::new()
                .fallback(demo_app_handler)
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .layer(middleware::from_fn(trace))
                .with_state(demo);
            let demo_listener = tokio::net::TcpListener::from_std(demo_listener)?;
            let demo =
                axum::serve(demo_listener, demo).with_graceful_shutdown(common::shutdown_signal());
            tokio::try_join!(main.into_future(), demo.into_future())?;
        }
        None => main.await?,
    }
    Ok(())
}

/// The demo app's adapter: the same conversion as [`handle`].
async fn demo_app_handler(State(app): State<common::DemoApp>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let response = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => common::demo_app_handle(&app, http::Request::from_parts(parts, body)).await,
        Err(_) => common::too_large(),
    };
    response.map(Body::from)
}

/// The adapter: the axum request (body capped) into `handle`, with the
/// socket's peer as a `PeerAddress`, and back.
async fn handle<S: Storage>(
    State(server): State<AuthorizationServer<S>>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() {
        parts.extensions.insert(PeerAddress::from(peer));
    }
    let response = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => server.handle(http::Request::from_parts(parts, body)).await,
        Err(_) => common::too_large(),
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
