//! The oauth-connect example server on axum 0.8: the whole HTTP surface
//! through `oauth_connect::axum::router`, plus a protected resource,
//! `GET /v1/me`, behind the `oauth_connect::axum::Bearer` extractor.
//!
//! `cargo run --example axum` (see `examples/common/mod.rs` for the knobs).

#[path = "../common/mod.rs"]
mod common;
mod sockets;

use std::error::Error;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oauth_connect::axum::Bearer;
use oauth_connect::{AdapterOptions, Storage};

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
    let options = AdapterOptions::default().body_timeout(limits.body_timeout);
    // The authorization server answers every path but the two routes of
    // the example's own, in one router: a router nested in another as its
    // fallback would add a second routing and a boxed route per request.
    let mut app = oauth_connect::axum::router_with(server.clone(), options)
        .route(
            "/v1/me",
            get(me::<S>)
                .fallback(|| async { common::me_method_not_allowed().map(Body::from) })
                .with_state(server.clone()),
        )
        .route("/metrics", get(metrics::<S>).with_state(server));
    if let Some(upstream) = upstream {
        // The demo providers' upstream server, under its issuer's path.
        let upstream = oauth_connect::axum::router_with(upstream, options);
        app = app.nest_service(common::UPSTREAM_PREFIX, upstream);
    }
    // Each request is traced by the connection that serves it
    // (`sockets::connection`).
    let mut sites = vec![(listener, app)];
    // The demo integrating app, on its own origin.
    if let Some((demo, demo_listener)) = demo_app {
        let demo = Router::new()
            .fallback(demo_app_handler)
            .layer(Extension(options))
            .with_state(demo);
        sites.push((demo_listener, demo));
    }
    sockets::serve(sites, limits).await?;
    Ok(())
}

/// The demo app's adapter: the same conversion as the server's.
async fn demo_app_handler(
    State(app): State<common::DemoApp>,
    Extension(options): Extension<AdapterOptions>,
    request: Request,
) -> Response {
    let response = match oauth_connect::axum::read_request(request, &options).await {
        Ok(request) => common::demo_app_handle(&app, request).await,
        Err(answer) => answer,
    };
    response.map(Body::from)
}

/// `GET /metrics`: the Prometheus text format, for an admin key.
async fn metrics<S: Storage>(
    State(server): State<oauth_connect::AuthorizationServer<S>>,
    headers: http::HeaderMap,
) -> Response {
    common::metrics(&server, &headers).await.map(Body::from)
}

/// `GET /v1/me`: who the bearer credential speaks for.
async fn me<S: Storage>(bearer: Bearer<S>) -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        common::me(&bearer),
    )
}
