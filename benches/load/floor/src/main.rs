//! The framework's floor for `benches/load/compare.sh`: a hello-world axum
//! POST handler, served the way `examples/axum` serves its router (hyper's
//! HTTP/1 connections with a timer and a header timeout, the peer address
//! in each request, tokio's multi-threaded runtime, which has one worker
//! when the process is pinned to one core).
//!
//! What it leaves out is what the example adds: oauth-connect itself, the
//! tracing middleware, the body limit, the guarded sockets and the
//! connection slots. The handler reads the form body, as every POST
//! handler does, and answers a short text.
//!
//! `load-floor [--addr HOST:PORT]` (default `127.0.0.1:3920`); prints
//! `listening on http://ADDR` once bound, and stops on SIGTERM or Ctrl-C.

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::routing::post;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// The example servers' default header timeout.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The handler: reads the form body, answers a short text. Mounted at the
/// paths of the load's requests (`/oauth/token`, `/oauth/introspect`), so
/// every server gets byte-for-byte the same requests.
async fn hello(body: Bytes) -> &'static str {
    if body.is_empty() {
        "hello, nobody"
    } else {
        "hello, world"
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = ([127, 0, 0, 1], 3920).into();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args.next().ok_or("--addr needs HOST:PORT")?.parse()?;
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let router = Router::new()
        .route("/oauth/token", post(hello))
        .route("/oauth/introspect", post(hello));
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    tokio::select! {
        () = accept(listener, router) => {},
        () = stop() => {},
    }
    Ok(())
}

async fn accept(listener: TcpListener, router: Router) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let router = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.call(request)
                });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn stop() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate.recv() => {},
    }
}
