//! The server on [axum] 0.8 (feature `axum`): [`router`] serves the whole
//! HTTP surface of [`AuthorizationServer::handle`], and [`Bearer`] protects
//! your own routes.
//!
//! [`router`] answers every request through `handle`: it caps the body at
//! [`MAX_BODY_BYTES`] (413 beyond it), waits for it
//! at most the [body timeout](crate::AdapterOptions::body_timeout) (408),
//! takes the issuer's path off the request's path (an issuer
//! `https://host/auth` is served under `/auth/…`, whether the router is
//! nested there or not), and hands the socket's peer to the limits per
//! client address as a [`PeerAddress`] when the app is served with
//! `into_make_service_with_connect_info::<SocketAddr>()`.
//!
//! [`Bearer`] reads `Authorization: Bearer <token>`, authenticates it with
//! [`AuthorizationServer::authenticate_bearer`] on the server taken from the
//! router's state (any state `St` with
//! `AuthorizationServer<S>: FromRef<St>`, including the server itself), and
//! refuses the request with a [`BearerRejection`] answered as RFC 6750 §3
//! says (401 + `WWW-Authenticate: Bearer realm="oauth-connect",
//! error="invalid_token"`; a bare challenge when no credential was sent).
//!
//! ```
//! use axum::{Router, routing::get};
//! use oauth_connect::axum::Bearer;
//! use oauth_connect::{AuthorizationServer, MemoryStore};
//! use oauth_connect::http::BearerRejection;
//!
//! async fn devices(bearer: Bearer) -> Result<String, BearerRejection> {
//!     bearer.require_scope("read:devices")?; // 403 insufficient_scope otherwise
//!     Ok(format!("{} devices", bearer.scopes.len()))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AuthorizationServer::builder(MemoryStore::new())
//!     .issuer("https://auth.example.com")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/v1/devices", get(devices))
//!     .with_state(server.clone())
//!     // Everything else: the authorization server.
//!     .fallback_service(oauth_connect::axum::router(server));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Under a prefix, give the server an issuer with that path and nest it:
//! `.nest_service("/auth", oauth_connect::axum::router(server))` with the
//! issuer `https://host.example/auth`.
//!
//! `Bearer` defaults to the [`MemoryStore`] backend;
//! name yours as `Bearer<MyStore>`.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::axum::Router;
use ::axum::body::Body;
use ::axum::extract::{ConnectInfo, FromRef, FromRequestParts, Request};
use ::axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http_body_util::BodyExt as _;

use crate::adapter::{self, AdapterOptions, BodyError};
use crate::http::MAX_BODY_BYTES;
use crate::server::client_address::PeerAddress;

use crate::http::bearer::BearerRejection;
use crate::resource::BearerPrincipal;
use crate::server::AuthorizationServer;
use crate::storage::Storage;
use crate::storage::memory::MemoryStore;

/// The authenticated principal of a request to a protected resource; an
/// axum extractor. Dereferences to [`BearerPrincipal`].
#[derive(Debug, Clone)]
pub struct Bearer<S = MemoryStore> {
    principal: BearerPrincipal,
    storage: PhantomData<fn() -> S>,
}

impl<S> Bearer<S> {
    /// The principal.
    pub fn principal(&self) -> &BearerPrincipal {
        &self.principal
    }

    /// The principal, by value.
    pub fn into_principal(self) -> BearerPrincipal {
        self.principal
    }
}

impl<S> Deref for Bearer<S> {
    type Target = BearerPrincipal;

    fn deref(&self) -> &BearerPrincipal {
        &self.principal
    }
}

impl<St, S> FromRequestParts<St> for Bearer<S>
where
    St: Send + Sync,
    S: Storage,
    AuthorizationServer<S>: FromRef<St>,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let server = AuthorizationServer::<S>::from_ref(state);
        let principal = server.authenticate_request(&parts.headers).await?;
        Ok(Self {
            principal,
            storage: PhantomData,
        })
    }
}

impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        self.to_response().map(Body::from)
    }
}

/// The whole HTTP surface of `server` as an axum [`Router`], with the
/// default [`AdapterOptions`]: mount it with `.fallback_service(…)` (at the
/// root) or `.nest_service("/prefix", …)` (under the issuer's path).
pub fn router<S: Storage>(server: AuthorizationServer<S>) -> Router {
    router_with(server, AdapterOptions::default())
}

/// [`router`] with `options` (the body timeout).
pub fn router_with<S: Storage>(server: AuthorizationServer<S>, options: AdapterOptions) -> Router {
    // A service rather than a handler: axum runs a handler through its
    // extractor and response machinery, which boxes the request's future
    // once more; the service's future is boxed once, by the route.
    Router::new().fallback_service(Serve { server, options })
}

/// The router's fallback: every request through [`serve`].
struct Serve<S: Storage> {
    server: AuthorizationServer<S>,
    options: AdapterOptions,
}

/// Written by hand: `derive(Clone)` would ask `S: Clone`.
impl<S: Storage> Clone for Serve<S> {
    fn clone(&self) -> Self {
        Self {
            server: self.server.clone(),
            options: self.options,
        }
    }
}

impl<S: Storage> tower_service::Service<Request> for Serve<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(serve(&this.server, &this.options, request).await) })
    }
}

/// One request through [`AuthorizationServer::handle`], and back.
async fn serve<S: Storage>(
    server: &AuthorizationServer<S>,
    options: &AdapterOptions,
    request: Request,
) -> Response {
    let answer = match read_request(request, options).await {
        Ok(mut request) => {
            *request.uri_mut() = adapter::routed_uri(server, request.uri());
            server.handle(request).await
        }
        Err(answer) => answer,
    };
    answer.map(Body::from)
}

/// `body` whole, at most [`MAX_BODY_BYTES`] (`http_body_util::Limited`
/// refuses a longer one, by its `Content-Length` before reading or past the
/// cap while reading). A body that comes in one frame, as a form's does, is
/// that frame's bytes, neither copied nor gathered in a list first.
async fn body_bytes(body: Body) -> Result<Bytes, BodyError> {
    let mut body = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                BodyError::TooLarge
            } else {
                BodyError::Unreadable
            }
        })?;
        // Trailers carry no body bytes.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        match &first {
            None => first = Some(data),
            Some(head) => {
                if joined.is_empty() {
                    joined.extend_from_slice(head);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(if joined.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(joined)
    })
}

/// An axum request as `http::Request<Bytes>`, for a handler of your own in
/// `http` terms (as [`router`] does for [`AuthorizationServer::handle`]):
/// the body read whole within the options' body timeout and at most
/// [`MAX_BODY_BYTES`], and the socket's peer (`ConnectInfo<SocketAddr>`) as
/// a [`PeerAddress`]. Answer with `response.map(Body::from)`.
///
/// # Errors
///
/// The answer to send instead: 413 over the cap, 408 past the body timeout
/// (both with `Connection: close`), 400 for a body that cannot be read.
pub async fn read_request(
    request: Request,
    options: &AdapterOptions,
) -> Result<http::Request<Bytes>, http::Response<Bytes>> {
    let (mut parts, body) = request.into_parts();
    let body = adapter::read_body(options, body_bytes(body)).await?;
    // The socket's peer, for the limits per client address.
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() {
        parts.extensions.insert(PeerAddress::from(peer));
    }
    Ok(http::Request::from_parts(parts, body))
}
