//! The HTTP layer: the whole HTTP surface behind
//! [`AuthorizationServer::handle`], over `http::Request<Bytes>` and
//! `http::Response<Bytes>`, so a framework adapter is a few lines.
//!
//! Public here: what a host may serve or configure beside `handle`: the
//! OpenAPI document ([`OPENAPI_JSON`]), the embed script's versioned path
//! ([`ConnectScript`]), and the hosted pages' look ([`Brand`]) and language
//! ([`Messages`]).
//!
//! Inside, requests are parsed into typed values at the edge (`form`,
//! `auth`, JSON through serde), the typed API runs, and `response` renders
//! the result. Routing is a plain `match` over the path's segments.

use bytes::Bytes;
use http::{Method, Request, Response};

use crate::server::AuthorizationServer;
use crate::storage::{Storage, StorageError};

mod api_error;
mod assets;
mod auth;
pub(crate) mod bearer;
mod browser;
mod connect;
mod connect_page;
mod cors;
mod embed;
mod oauth;
mod params;
mod requests;
mod webhooks;

pub use crate::server::client_address::PeerAddress;
pub use assets::ConnectScript;
pub use bearer::BearerRejection;

mod management;
mod response;
pub(crate) mod ui;

pub(crate) use crate::config::MAX_BODY_BYTES;
pub use crate::presentation::brand::Brand;
pub use crate::presentation::i18n::Messages;

/// The OpenAPI 3.1 description of the JSON API that
/// [`AuthorizationServer::handle`] serves at `GET /openapi.json`: the
/// management API (publishable keys included), the token, revocation,
/// introspection and PAR endpoints, the metadata document, the Connect API
/// (sessions, scoped keys, connections, customers), and the `GET /v1/me`
/// resource of the example
/// servers (marked `x-served-by: host`: a host mounts it with the
/// resource-server extractor, `handle` does not answer it).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

impl<S: Storage> AuthorizationServer<S> {
    /// Answers one HTTP request: the OAuth protocol endpoints, the metadata
    /// and API documents, the management API (`/v1/oauth-apps…`), the
    /// Connect API and the hosted Connect pages.
    ///
    /// The request body must be fully read (at most [`MAX_BODY_BYTES`] are
    /// needed). Unknown paths get a JSON 404, known paths with another
    /// method a 405 with `Allow`. Every failure becomes a response: nothing
    /// panics, storage errors become 503 (`temporarily_unavailable`, when
    /// the backend is unavailable or timed out) or 500 (`server_error`)
    /// without their details, and no response echoes a credential.
    ///
    /// An adapter converts its framework's request into
    /// `http::Request<Bytes>`, calls this, and converts the response back:
    ///
    /// ```
    /// use bytes::Bytes;
    /// use oauth_connect::{AuthorizationServer, MemoryStore, WorkspaceId};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = AuthorizationServer::builder(MemoryStore::new())
    ///     .issuer("https://auth.example.com")
    ///     .build()?;
    /// let key = server.create_admin_key(&WorkspaceId::parse("ws_demo")?).await?;
    ///
    /// let request = http::Request::get("/v1/oauth-apps?perPage=5")
    ///     .header("authorization", format!("Bearer {}", key.expose_secret()))
    ///     .body(Bytes::new())?;
    /// let response = server.handle(request).await;
    /// assert_eq!(response.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let started = std::time::Instant::now();
        let endpoint = crate::telemetry::endpoint_name(request.uri().path());
        let method = request.method().clone();
        #[cfg(feature = "tracing")]
        let response = {
            use tracing::Instrument as _;
            let span = crate::telemetry::request_span(endpoint, method.as_str());
            self.route(&request).instrument(span).await
        };
        #[cfg(not(feature = "tracing"))]
        let response = self.route(&request).await;
        let status = response.status().as_u16();
        crate::telemetry::request(endpoint, method.as_str(), status, started.elapsed());
        browser::finish_error_page(self, request.headers(), response)
    }

    /// The response of the handler the request's path names.
    async fn route(&self, request: &Request<Bytes>) -> Response<Bytes> {
        // The OAuth endpoints first, without splitting the path.
        match request.uri().path() {
            "/oauth/token" => oauth::token(self, request).await,
            "/oauth/authorize" => oauth::authorize(self, request).await,
            "/oauth/introspect" => oauth::introspect(self, request).await,
            "/oauth/revoke" => oauth::revoke(self, request).await,
            // Boxed: the request future of every endpoint is as large as
            // the largest it may run, and it is moved a few times before
            // it runs. The other endpoints' (the hosted pages' are several
            // kilobytes) would make the token endpoint's carry them.
            _ => Box::pin(self.route_by_segments(request)).await,
        }
    }

    /// [`route`](Self::route) for every path but the hot ones.
    async fn route_by_segments(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let path = request.uri().path();
        let segments: Vec<&str> = match path.strip_prefix('/') {
            Some(rest) => rest.split('/').collect(),
            None => Vec::new(),
        };
        match segments.as_slice() {
            // ---- OAuth 2.0 protocol endpoints (RFC 6749, 7009, 7662, 9126):
            // authorize, token, revoke and introspect are routed by
            // [`route`](Self::route) before the path is split ----
            ["oauth", "par"] => oauth::par(self, request).await,
            // ---- Metadata (RFC 8414) and the API description ----
            [".well-known", "oauth-authorization-server"] => oauth::metadata(self, request),
            ["openapi.json"] => openapi(request),
            // ---- Connect (hosted page, sessions, scoped keys) ----
            ["connect"] => connect_page::page(self, request).await,
            ["connect", "status"] => connect_page::status(self, request).await,
            ["connect", "callback", provider] => {
                connect_page::callback(self, request, provider).await
            }
            // ---- Connect in the browser: the embed SDK and the pages' script ----
            ["connect", file @ ("sdk.js" | "sdk.mjs" | "sdk.d.ts")] => assets::sdk(request, file),
            ["connect", "sdk", file] => assets::versioned_sdk(request, file),
            ["connect", "page", file] => assets::page(request, file),
            ["v1", "connect", "sessions"] => connect::sessions(self, request).await,
            ["v1", "scoped-keys", rest @ ..] => connect::scoped_keys(self, request, rest).await,
            ["v1", "connections", rest @ ..] => connect::connections(self, request, rest).await,
            ["v1", "customers", rest @ ..] => connect::customers(self, request, rest).await,
            // ---- Management API (workspace admins) ----
            ["v1", "oauth-apps", app, "webhooks", rest @ ..] => {
                webhooks::webhooks(self, request, app, rest).await
            }
            ["v1", "oauth-apps", rest @ ..] => management::oauth_apps(self, request, rest).await,
            _ => response::not_found("no such resource"),
        }
    }
}

/// A JSON error answer, `{"error", "message"}`, for the framework adapters'
/// own refusals (a body too large or too slow).
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) fn api_error(status: http::StatusCode, code: &str, message: &str) -> Response<Bytes> {
    response::api_error(status, code, message, None)
}

/// `GET /openapi.json`: [`OPENAPI_JSON`], as is.
fn openapi(request: &Request<Bytes>) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET]) {
        return response;
    }
    let mut answer = Response::new(Bytes::from_static(OPENAPI_JSON.as_bytes()));
    answer.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response::finish(answer)
}

/// `Ok` when `method` is one of `allowed`, else the 405 to answer.
#[allow(clippy::result_large_err)] // the error is the response itself
fn allow(method: &Method, allowed: &[Method]) -> Result<(), Response<Bytes>> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(response::method_not_allowed(allowed))
    }
}

/// The response to a storage failure: 503 when retrying may help, else
/// 500, as [`Error::status`](crate::error::Error::status) says. The
/// backend's message never reaches the client.
fn storage_error(error: &StorageError) -> Response<Bytes> {
    if crate::error::storage_status(error) == http::StatusCode::SERVICE_UNAVAILABLE {
        response::unavailable()
    } else {
        response::server_error()
    }
}
