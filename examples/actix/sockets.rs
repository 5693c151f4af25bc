//! Serving the actix-web apps with the limits of `common::Limits` (see
//! `examples/common/sockets.rs`). actix-web's `HttpServer` times the head
//! of a connection's first request only: a client that completes one
//! request, then sends half of the next, holds the connection for ever.
//! So the apps run on actix-http's HTTP/1 service directly, over
//! [`Guarded`] sockets that time every head (each request's start and end
//! marked on the connection's [`HeadClock`]), with actix-server's workers
//! sharing the connection cap.

use std::fmt;
use std::future::ready;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpService, KeepAlive, Request, Response};
use actix_server::ServerBuilder;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _, apply_fn_factory,
    fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;

use crate::common::{Guarded, HeadClock, Limits};

/// A server whose workers (one per core, at most one per connection
/// allowed) share `limits.max_connections` evenly, rounding down: with
/// every worker full, no connection is accepted until one closes.
pub(crate) fn server(limits: Limits) -> ServerBuilder {
    let cores = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
    let workers = cores.min(limits.max_connections).max(1);
    ServerBuilder::new()
        .workers(workers)
        .max_concurrent_connections(limits.max_connections / workers)
        // The example stops on its own signal (`common::shutdown_signal`).
        .disable_signals()
}

/// Adds `listener`, served by the app `app` makes (one per worker), with
/// the limits: every request head within the header timeout, idle
/// keep-alive connections closed then too, without an answer (the
/// [`Guarded`] socket times both; actix-web's own timers, which answer the
/// first head 408 and close idle connections up to half a second early,
/// are off, so that both examples behave alike), and a stalled reader's
/// connection closed.
pub(crate) fn listen<F, I, S, B>(
    builder: ServerBuilder,
    name: &str,
    listener: TcpListener,
    limits: Limits,
    app: F,
) -> std::io::Result<ServerBuilder>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let local = listener.local_addr()?;
    let stopping = builder.graceful_shutdown_signal();
    builder.listen(name, listener, move || {
        let stopping = stopping.clone();
        let app = app()
            .into_factory()
            .map_err(|error| error.into().error_response());
        // The app's connection config: only `ConnectionInfo::host`'s
        // fallback for a request without `Host` reads it (actix-web keeps
        // its constructor private); the adapter does not.
        let app = map_config(app, |()| AppConfig::default());
        let app = apply_fn_factory(app, |request: Request, app: &_| {
            let clock = request.conn_data::<Arc<HeadClock>>().cloned();
            if let Some(clock) = &clock {
                clock.request_started();
            }
            let answer = Service::call(app, request);
            async move {
                let answer = answer.await;
                if let Some(clock) = clock {
                    clock.request_finished();
                }
                answer
            }
        });
        let http = HttpService::build()
            .client_request_timeout(Duration::ZERO)
            .keep_alive(KeepAlive::Os)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(local)
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            .on_connect_ext(|io: &Guarded<TcpStream>, data: &mut Extensions| {
                if let Some(clock) = io.head_clock() {
                    data.insert(clock);
                }
            })
            .h1(app);
        fn_service(move |io: TcpStream| {
            let peer = io.peer_addr().ok();
            ready(Ok::<_, DispatchError>((
                Guarded::new(io, limits, true),
                peer,
            )))
        })
        .and_then(http)
    })
}
