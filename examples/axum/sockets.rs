//! Serving the axum routers on hyper, with the limits of
//! `common::Limits` (see `examples/common/sockets.rs`): hyper's
//! `header_read_timeout` for every request head, a semaphore for the
//! connections open at once, [`Guarded`] sockets for the stalled reader,
//! a span per request (method, path, status, latency), and a graceful
//! stop on Ctrl-C or SIGTERM.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::Instrument as _;

use crate::common::{self, Guarded, Limits};

/// Serves each router on its listener until the shutdown signal, then
/// lets the requests in flight finish. Every connection of the process
/// holds one of `limits.max_connections` slots; with none free, the next
/// waits in the kernel's queue.
pub(crate) async fn serve(
    sites: Vec<(std::net::TcpListener, Router)>,
    limits: Limits,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let mut accepting = Vec::new();
    for (listener, router) in sites {
        let listener = TcpListener::from_std(listener)?;
        accepting.push(tokio::spawn(accept(
            listener,
            router,
            limits,
            Arc::clone(&slots),
            stopped.clone(),
        )));
    }
    common::shutdown_signal().await;
    let _ = stop.send(true);
    for task in accepting {
        let _ = task.await;
    }
    // Every connection holds a slot until it ends: all free, all done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Accepts while a slot is free, until the stop.
async fn accept(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    slots: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = stop_asked(&mut stopped) => return,
        };
        let Ok(slot) = slot else { return };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop_asked(&mut stopped) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(connection(
                    stream,
                    peer,
                    router.clone(),
                    limits,
                    slot,
                    stopped.clone(),
                ));
            }
            // A connection gone before it was accepted: the next one.
            Err(error) if is_connection_error(&error) => {}
            // Out of file descriptors, most likely: wait for some to close.
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Resolves once the stop is asked for (or its sender is gone).
async fn stop_asked(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One connection, HTTP/1.1, its requests carrying the peer's address
/// (`ConnectInfo<SocketAddr>`, as `into_make_service_with_connect_info`
/// gives them); closed gracefully at the stop.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
    mut stopped: watch::Receiver<bool>,
) {
    let router = TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        // One span per request: method, path, status, latency (nothing
        // secret). Here rather than as a router's middleware, which would
        // box the request's future and clone the service it calls.
        let span = common::request_span(request.method().as_str(), request.uri().path());
        let started = Instant::now();
        let answer = router.call(request).instrument(span.clone());
        async move {
            let response = answer.await?;
            common::log_response(&span, response.status().as_u16(), started);
            Ok::<_, Infallible>(response)
        }
    });
    let io = TokioIo::new(Guarded::new(stream, limits, false));
    let mut connection = pin!(
        http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service)
    );
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stop_asked(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = ended {
        // A slow or vanished client: not the server's failure.
        tracing::debug!(%error, "connection closed");
    }
}
