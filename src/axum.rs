//! A resource-server extractor for [axum] 0.8 (feature `axum`).
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
//! use oauth_connect::{AuthorizationServer, BearerRejection, MemoryStore};
//!
//! async fn devices(bearer: Bearer) -> Result<String, BearerRejection> {
//!     bearer.require_scope("read:devices")?; // 403 insufficient_scope otherwise
//!     Ok(format!("devices of {:?}", bearer.subject))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AuthorizationServer::builder(MemoryStore::new())
//!     .issuer("https://auth.example.com")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/v1/devices", get(devices))
//!     .with_state(server);
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! `Bearer` defaults to the [`MemoryStore`] backend;
//! name yours as `Bearer<MyStore>`.

use std::marker::PhantomData;
use std::ops::Deref;

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequestParts};
use ::axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::http::bearer::BearerRejection;
use crate::resource::BearerPrincipal;
use crate::server::AuthorizationServer;
use crate::storage::{MemoryStore, Storage};

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
