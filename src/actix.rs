//! The server on [actix-web] 4 (feature `actix`): [`configure`] serves the
//! whole HTTP surface of [`AuthorizationServer::handle`], and [`Bearer`]
//! protects your own routes.
//!
//! [`configure`] registers the server as the app's (or a scope's) default
//! service, and as `web::Data<AuthorizationServer<S>>` for [`Bearer`]. It
//! rebuilds each request in `http` 1 (actix-web speaks `http` 0.2), caps
//! the body at [`MAX_BODY_BYTES`] (413 beyond it),
//! waits for it at most the
//! [body timeout](crate::AdapterOptions::body_timeout) (408), takes the
//! issuer's path off the request's path (an issuer `https://host/auth` is
//! served under `/auth/…`, in `web::scope("/auth")` or at the root), and
//! hands the socket's peer to the limits per client address as a
//! [`PeerAddress`].
//!
//! [`Bearer`] reads `Authorization: Bearer <token>`, authenticates it with
//! [`AuthorizationServer::authenticate_bearer`] on the server registered as
//! `web::Data<AuthorizationServer<S>>`, and refuses the request with a
//! [`BearerRejection`] answered as RFC 6750 §3 says (401 +
//! `WWW-Authenticate: Bearer realm="oauth-connect", error="invalid_token"`;
//! a bare challenge when no credential was sent). Without the server in the
//! app data, it answers 500.
//!
//! [actix-web]: https://docs.rs/actix-web/4
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use oauth_connect::actix::Bearer;
//! use oauth_connect::{AuthorizationServer, MemoryStore};
//! use oauth_connect::http::BearerRejection;
//!
//! async fn devices(bearer: Bearer) -> Result<HttpResponse, BearerRejection> {
//!     bearer.require_scope("read:devices")?; // 403 insufficient_scope otherwise
//!     Ok(HttpResponse::Ok().body(format!("{} devices", bearer.scopes.len())))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AuthorizationServer::builder(MemoryStore::new())
//!     .issuer("https://auth.example.com")
//!     .build()?;
//! let app = App::new()
//!     .route("/v1/devices", web::get().to(devices))
//!     // Everything else: the authorization server.
//!     .configure(oauth_connect::actix::configure(server));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Under a prefix, give the server an issuer with that path and configure
//! a scope: `web::scope("/auth").configure(oauth_connect::actix::configure(server.clone()))`
//! with the issuer `https://host.example/auth` (and
//! `.app_data(web::Data::new(server))` on the app, for a `Bearer` outside
//! the scope).
//!
//! `Bearer` defaults to the [`MemoryStore`] backend;
//! name yours as `Bearer<MyStore>`.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use ::actix_web::dev::Payload;
use ::actix_web::http::StatusCode as ActixStatus;
use ::actix_web::http::header::AUTHORIZATION;
use ::actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use crate::adapter::{self, AdapterOptions, BodyError};
use crate::http::MAX_BODY_BYTES;
use crate::server::client_address::PeerAddress;

use crate::http::bearer::BearerRejection;
use crate::resource::BearerPrincipal;
use crate::server::AuthorizationServer;
use crate::storage::Storage;
use crate::storage::memory::MemoryStore;

/// The authenticated principal of a request to a protected resource; an
/// actix-web extractor. Dereferences to [`BearerPrincipal`].
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

impl<S: Storage> FromRequest for Bearer<S> {
    type Error = BearerRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, BearerRejection>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let server = request
            .app_data::<web::Data<AuthorizationServer<S>>>()
            .cloned();
        // actix-web speaks `http` 0.2: copy the Authorization headers over.
        let mut headers = HeaderMap::new();
        for value in request.headers().get_all(AUTHORIZATION) {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(http::header::AUTHORIZATION, value);
            }
        }
        Box::pin(async move {
            let server = server.ok_or(BearerRejection::ServerError)?;
            let principal = server.authenticate_request(&headers).await?;
            Ok(Self {
                principal,
                storage: PhantomData,
            })
        })
    }
}

impl ResponseError for BearerRejection {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::from_u16(self.status().as_u16()).unwrap_or(ActixStatus::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        let response = self.to_response();
        let mut answer = HttpResponse::build(self.status_code());
        for (name, value) in response.headers() {
            answer.append_header((name.as_str(), value.as_bytes()));
        }
        answer.body(response.into_body())
    }
}

/// The whole HTTP surface of `server`, with the default [`AdapterOptions`],
/// for `App::configure` or `Scope::configure`: the server becomes the
/// default service there, and app data for [`Bearer`].
///
/// The closure is for one app: actix-web builds one per worker, so call
/// this inside the app factory (`HttpServer::new(move || App::new()
/// .configure(configure(server.clone())))`).
pub fn configure<S: Storage>(
    server: AuthorizationServer<S>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_with(server, AdapterOptions::default())
}

/// [`configure`] with `options` (the body timeout).
pub fn configure_with<S: Storage>(
    server: AuthorizationServer<S>,
    options: AdapterOptions,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let data = web::Data::new(server);
        config.app_data(data.clone()).default_service(web::to(
            move |request: HttpRequest, body: web::Payload| {
                let server = data.clone();
                async move { serve(&server, &options, &request, body).await }
            },
        ));
    }
}

/// One request through [`AuthorizationServer::handle`], and back.
async fn serve<S: Storage>(
    server: &AuthorizationServer<S>,
    options: &AdapterOptions,
    request: &HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let answer = match read_request(request, body, options).await {
        Ok(mut request) => {
            *request.uri_mut() = adapter::routed_uri(server, request.uri());
            server.handle(request).await
        }
        Err(answer) => answer,
    };
    respond(answer)
}

/// An actix-web request rebuilt as `http::Request<Bytes>` (actix-web
/// speaks `http` 0.2), for a handler of your own in `http` terms (as
/// [`configure`] does for [`AuthorizationServer::handle`]): the body read
/// whole within the options' body timeout and at most [`MAX_BODY_BYTES`],
/// and the socket's peer as a [`PeerAddress`]. Answer with [`respond`].
///
/// # Errors
///
/// The answer to send instead: 413 over the cap, 408 past the body timeout
/// (both with `Connection: close`), 400 for a body or request that cannot
/// be read or rebuilt.
pub async fn read_request(
    request: &HttpRequest,
    body: web::Payload,
    options: &AdapterOptions,
) -> Result<http::Request<Bytes>, http::Response<Bytes>> {
    let read = async {
        match body.to_bytes_limited(MAX_BODY_BYTES).await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(_)) => Err(BodyError::Unreadable),
            Err(_) => Err(BodyError::TooLarge),
        }
    };
    let body = adapter::read_body(options, read).await?;
    let mut into = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        into = into.header(name.as_str(), value.as_bytes());
    }
    if let Some(peer) = request.peer_addr() {
        into = into.extension(PeerAddress::from(peer));
    }
    into.body(body).map_err(|_| adapter::bad_request())
}

/// An `http` 1 response as actix-web's: status, headers (a
/// `Connection: close` asked for is kept) and body.
pub fn respond(response: http::Response<Bytes>) -> HttpResponse {
    let status = ActixStatus::from_u16(response.status().as_u16())
        .unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
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
