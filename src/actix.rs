//! A resource-server extractor for [actix-web] 4 (feature `actix`).
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
//! use oauth_connect::{AuthorizationServer, BearerRejection, MemoryStore};
//!
//! async fn devices(bearer: Bearer) -> Result<HttpResponse, BearerRejection> {
//!     bearer.require_scope("read:devices")?; // 403 insufficient_scope otherwise
//!     Ok(HttpResponse::Ok().body(format!("devices of {:?}", bearer.subject)))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AuthorizationServer::builder(MemoryStore::new())
//!     .issuer("https://auth.example.com")
//!     .build()?;
//! let app = App::new()
//!     .app_data(web::Data::new(server))
//!     .route("/v1/devices", web::get().to(devices));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
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
use http::{HeaderMap, HeaderValue};

use crate::http::bearer::BearerRejection;
use crate::resource::BearerPrincipal;
use crate::server::AuthorizationServer;
use crate::storage::{MemoryStore, Storage};

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
