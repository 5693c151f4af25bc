//! The oauth-connect example server on actix-web 4: the whole HTTP surface
//! through `oauth_connect::actix::configure`, plus a protected resource,
//! `GET /v1/me`, behind the `oauth_connect::actix::Bearer` extractor.
//!
//! `cargo run --example actix` (see `examples/common/mod.rs` for the knobs).

#[path = "../common/mod.rs"]
mod common;
mod sockets;

use std::error::Error;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, web};
use oauth_connect::actix::Bearer;
use oauth_connect::{AdapterOptions, MAX_BODY_BYTES, Storage};
use tracing::Instrument as _;

fn main() -> Result<(), Box<dyn Error>> {
    actix_web::rt::System::new().block_on(async {
        match common::start("actix-web").await? {
            Some(common::Started::Memory(running)) => serve(running).await,
            Some(common::Started::Postgres(running)) => {
                let store = running.server.storage().clone();
                let served = serve(running).await;
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
            .route("/v1/me", web::get().to(me::<S>))
            .route(
                "/v1/me",
                web::route().to(|| async { from_http(common::me_method_not_allowed()) }),
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
        let limits_data = web::Data::new(limits);
        let demo_app = move || {
            App::new()
                .app_data(demo.clone())
                .app_data(limits_data.clone())
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

/// The demo app's adapter: its request (body capped and timed) into
/// `http`, and back.
async fn demo_app_handler(
    app: web::Data<common::DemoApp>,
    limits: web::Data<common::Limits>,
    request: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let response = match into_http(&request, body, &limits).await {
        Ok(into) => common::demo_app_handle(&app, into).await,
        Err(answer) => answer,
    };
    from_http(response)
}

/// actix-web speaks `http` 0.2: the request rebuilt in `http` 1, its body
/// capped and timed; or the answer to a request that cannot be.
async fn into_http(
    request: &HttpRequest,
    body: web::Payload,
    limits: &common::Limits,
) -> Result<http::Request<bytes::Bytes>, http::Response<bytes::Bytes>> {
    let read = async {
        match body.to_bytes_limited(MAX_BODY_BYTES).await {
            Ok(Ok(body)) => Ok(body),
            _ => Err(()),
        }
    };
    let body = common::read_body(limits, read).await?;
    let mut into = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        into = into.header(name.as_str(), value.as_bytes());
    }
    into.body(body).map_err(|_| common::bad_request())
}

/// The `http` 1 response as actix-web's.
fn from_http(response: http::Response<bytes::Bytes>) -> HttpResponse {
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    for (name, value) in response.headers() {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    // actix-web writes `Connection` itself: a `close` asked for is kept.
    if response
        .headers()
        .get(http::header::CONNECTION)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
    {
        out.force_close();
    }
    out.body(response.into_body())
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
