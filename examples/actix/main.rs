//! The oauth-connect example server on actix-web 4: the whole HTTP surface
//! through `oauth_connect::actix::configure`, plus a protected resource,
//! `GET /v1/me`, behind the `oauth_connect::actix::Bearer` extractor.
//!
//! `cargo run -p example-actix --example actix` (see `examples/common/mod.rs` for the knobs).

#[path = "../common/mod.rs"]
mod common;
mod sockets;

use std::error::Error;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use oauth_connect::actix::{Bearer, respond};
use oauth_connect::{AdapterOptions, Storage};
use tracing::Instrument as _;

fn main() -> Result<(), Box<dyn Error>> {
    actix_web::rt::System::new().block_on(async {
        match common::start("actix-web").await? {
            Some(common::Started::Memory(running)) => {
                let served = serve(running).await;
                common::stop_webhooks().await;
                served
            }
            Some(common::Started::Postgres(running)) => {
                let store = running.server.storage().clone();
                let served = serve(running).await;
                common::stop_webhooks().await;
                // Shut down: the requests in flight are done; end the
                // pool's connections cleanly.
                store.close().await;
                served
            }
            None => Ok(()),
        }
    })
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
    let app = move || {
        let (server, upstream) = (server.clone(), upstream.clone());
        App::new()
            .app_data(web::Data::new(server.clone()))
            .route("/metrics", web::get().to(metrics::<S>))
            .route("/v1/me", web::get().to(me::<S>))
            .route(
                "/v1/me",
                web::route().to(|| async { respond(common::me_method_not_allowed()) }),
            )
            .configure(|app| {
                // The demo providers' upstream server, under its issuer's path.
                if let Some(upstream) = upstream {
                    let upstream = oauth_connect::actix::configure_with(upstream, options);
                    app.service(web::scope(common::UPSTREAM_PREFIX).configure(upstream));
                }
            })
            // Everything else: the authorization server.
            .configure(oauth_connect::actix::configure_with(server, options))
            .wrap(from_fn(trace))
    };
    let mut http = sockets::listen(
        sockets::server(limits),
        "oauth-connect",
        listener,
        limits,
        app,
    )?;
    // The demo integrating app, on its own origin.
    if let Some((demo, demo_listener)) = demo_app {
        let demo = web::Data::new(demo);
        let options = web::Data::new(options);
        let demo_app = move || {
            App::new()
                .app_data(demo.clone())
                .app_data(options.clone())
                .default_service(web::to(demo_app_handler))
                .wrap(from_fn(trace))
        };
        http = sockets::listen(http, "demo-app", demo_listener, limits, demo_app)?;
    }
    let http = http.run();
    let stop = http.handle();
    actix_web::rt::spawn(async move {
        common::shutdown_signal().await;
        stop.stop(true).await;
    });
    http.await?;
    Ok(())
}

/// The demo app's adapter: the same conversion as the server's.
async fn demo_app_handler(
    app: web::Data<common::DemoApp>,
    options: web::Data<AdapterOptions>,
    request: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let response = match oauth_connect::actix::read_request(&request, body, &options).await {
        Ok(request) => common::demo_app_handle(&app, request).await,
        Err(answer) => answer,
    };
    respond(response)
}

/// `GET /metrics`: the Prometheus text format, for an admin key.
async fn metrics<S: Storage>(
    server: web::Data<oauth_connect::AuthorizationServer<S>>,
    request: HttpRequest,
) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    if let Some(value) = request
        .headers()
        .get("authorization")
        .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok())
    {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    respond(common::metrics(&server, &headers).await)
}

/// `GET /v1/me`: who the bearer credential speaks for.
async fn me<S: Storage>(bearer: Bearer<S>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(common::me(&bearer))
}

/// One span per request: method, path, status, latency (nothing secret).
async fn trace(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = common::request_span(request.method().as_str(), request.path());
    let started = Instant::now();
    let response = next.call(request).instrument(span.clone()).await?;
    common::log_response(&span, response.status().as_u16(), started);
    Ok(response)
}
