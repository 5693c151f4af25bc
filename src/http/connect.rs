//! Connect's JSON API over HTTP: creating sessions (`POST /v1/connect/sessions`),
//! scoped keys (`/v1/scoped-keys`), connections and customers.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use super::api_error::answer;
use super::auth::{self, AuthHeaderError};
use super::management::{
    authenticate as admin, body_required, invalid_field, json_body, page_param,
};
use super::{allow, cors, response};
use crate::connect::NewConnectSession;
use crate::connect::scoped_keys::NewScopedKey;
use crate::error::{AuthFailure, ConnectProblem, Error, FieldError, Problem, Resource, Throttle};
use crate::http::params::Params;
use crate::model::ids::{AppId, CustomerId, ScopedKeyId};
use crate::registry::apps::OAuthApp;
use crate::registry::paging::PageRequest;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// A confidential client authenticated with `Authorization: Basic`. A
/// failed secret is counted for the client id and the client's address:
/// past the [limit](crate::AuthorizationServerBuilder::authentication_failure_limit)
/// the answer is 429 with `Retry-After`.
async fn client<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<AuthenticatedClient, Response<Bytes>> {
    confidential_client(server, request)
        .await
        .map_err(|e| answer(&e))
}

/// The confidential client of the request, or why not.
async fn confidential_client<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<AuthenticatedClient, Error> {
    let basic = match auth::basic(request.headers()) {
        Ok(Some(basic)) => basic,
        Ok(None) | Err(AuthHeaderError::WrongScheme) => {
            return Err(AuthFailure::MissingClientCredentials.into());
        }
        Err(_) => return Err(AuthFailure::MalformedAuthorization.into()),
    };
    match server
        .authenticate_client(&basic.client_id, Some(basic.client_secret.expose_secret()))
        .await
    {
        Ok(client) if client.authenticated => Ok(client),
        Ok(_) => Err(AuthFailure::ConfidentialClientRequired.into()),
        Err(Error::Unauthenticated(failure)) => {
            // Counted for the client when one has the presented id; made-up
            // ids share their address's one count.
            let client = match failure {
                AuthFailure::UnknownClient => None,
                _ => server.registered_client_id(&basic.client_id).await,
            };
            match super::oauth::count_client_failure(server, request, client).await {
                Some(retry_after) => Err(Error::RateLimited {
                    limit: Throttle::FailedClientAuthentications,
                    retry_after,
                }),
                None => Err(failure.into()),
            }
        }
        Err(e) => Err(e),
    }
}

/// `POST /v1/connect/sessions`: a confidential client (Basic) for its own
/// app, a workspace admin (Bearer) naming the app with `appId`, or a web
/// page with the app's publishable key (Bearer `oc_pk_…`, from an allowed
/// origin); `OPTIONS` is the CORS preflight of the last.
pub(super) async fn sessions<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::POST, Method::OPTIONS]) {
        return response;
    }
    if request.method() == Method::OPTIONS {
        return cors::preflight(request.headers());
    }
    let publishable_prefix = server.config().prefixes().publishable_key();
    if let Ok(Some(key)) = auth::bearer_credential(request.headers())
        && key.starts_with(publishable_prefix)
    {
        return browser_session(server, request, key).await;
    }
    let is_admin = auth::authorization(request.headers())
        .ok()
        .flatten()
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    let app = if is_admin {
        match admin(server, request).await {
            Ok(ws) => Err(ws),
            Err(response) => return response,
        }
    } else {
        match client(server, request).await {
            Ok(client) => Ok(client.app),
            Err(response) => return response,
        }
    };
    let body: NewConnectSession = match json_body(request) {
        Ok(Some(body)) => body,
        Ok(None) => return body_required(),
        Err(response) => return response,
    };
    let app: OAuthApp = match app {
        Ok(app) => {
            if body
                .app_id
                .as_deref()
                .is_some_and(|id| id != app.id.as_str())
            {
                return invalid_field(FieldError::new("appId", Problem::Mismatch));
            }
            app
        }
        Err(ws) => {
            let Some(id) = body.app_id.as_deref().and_then(|id| AppId::parse(id).ok()) else {
                return invalid_field(FieldError::new("appId", Problem::Required));
            };
            match server.get_app(&ws, &id).await {
                Ok(app) => app,
                Err(e) => return answer(&e),
            }
        }
    };
    match server.create_connect_session(&app, &body, false).await {
        Ok(created) => response::no_store(response::json(StatusCode::CREATED, &created)),
        Err(e) => answer(&e),
    }
}

/// `POST /v1/connect/sessions` with a publishable key: the key, its app, the
/// `Origin`, the body, then the rate limit of the key and client address.
/// Every answer to an allowed origin carries its CORS headers, so the
/// page's script can read it.
async fn browser_session<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    key: &str,
) -> Response<Bytes> {
    let origin = cors::origin(request.headers());
    let caller = match server.authenticate_publishable_key(key, origin).await {
        Ok(caller) => caller,
        Err(e @ Error::Unauthenticated(_)) => {
            // Readable by the page that sent it, whatever its origin: the
            // answer depends on the key alone, never on which origins other
            // apps allow.
            let refused = answer(&e);
            return match origin {
                Some(o) => cors::allow_origin(refused, o),
                None => refused,
            };
        }
        Err(e) => return answer(&e),
    };
    let readable = |response: Response<Bytes>| cors::allow_origin(response, caller.origin.as_str());
    let body: NewConnectSession = match json_body(request) {
        Ok(Some(body)) => body,
        Ok(None) => return readable(body_required()),
        Err(response) => return readable(response),
    };
    if body.customer_id.is_some() {
        return readable(invalid_field(FieldError::new(
            "customerId",
            Problem::Connect(ConnectProblem::NotWithPublishableKey),
        )));
    }
    if body
        .app_id
        .as_deref()
        .is_some_and(|id| id != caller.app.id.as_str())
    {
        return readable(invalid_field(FieldError::new("appId", Problem::Mismatch)));
    }
    // Counted against the key's budget for this client address only now
    // that the request is well formed, and given back if it is refused.
    let address = server.client_address(request);
    readable(
        match server
            .create_browser_connect_session(&caller, &body, address)
            .await
        {
            Ok(created) => response::no_store(response::json(StatusCode::CREATED, &created)),
            Err(e) => answer(&e),
        },
    )
}

/// `POST /v1/scoped-keys` (mint), `GET /v1/scoped-keys` (list the app's), and
/// `DELETE /v1/scoped-keys/{id}` (revoke): a confidential client's own keys.
pub(super) async fn scoped_keys<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET, Method::POST],
        [_] => &[Method::DELETE],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let client = match client(server, request).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match (request.method().clone(), rest) {
        (Method::POST, []) => {
            let body: NewScopedKey = match json_body(request) {
                Ok(Some(body)) => body,
                Ok(None) => return body_required(),
                Err(response) => return response,
            };
            match server.mint_scoped_key(&client, &body).await {
                Ok(minted) => response::no_store(response::json(StatusCode::CREATED, &minted)),
                Err(e) => answer(&e),
            }
        }
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(FieldError::new("query", Problem::InvalidCharacters));
            };
            let page = match (
                page_param(&query, "page", 1, PageRequest::MAX_PAGE),
                page_param(&query, "perPage", 10, PageRequest::MAX_PER_PAGE),
            ) {
                (Ok(page), Ok(per_page)) => PageRequest::new(page, per_page),
                (Err(response), _) | (_, Err(response)) => return response,
            };
            let customer = match query.get("customerId").map(CustomerId::parse) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return invalid_field(FieldError::new(
                        "customerId",
                        Problem::Connect(ConnectProblem::UnknownCustomer),
                    ));
                }
            };
            let app = &client.app;
            match server
                .list_scoped_keys(&app.workspace_id, Some(&app.id), customer.as_ref(), page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(e) => answer(&e),
            }
        }
        (Method::DELETE, [id]) => {
            let Ok(id) = ScopedKeyId::parse(id) else {
                return answer(&Resource::ScopedKey.into());
            };
            match server.revoke_scoped_key(&client, &id).await {
                Ok(true) => response::no_content(),
                Ok(false) => answer(&Resource::ScopedKey.into()),
                Err(e) => answer(&e.into()),
            }
        }
        _ => response::not_found("no such resource"),
    }
}

/// Who may read connections and customers: a workspace admin (the whole
/// workspace) or a confidential client (its own app's).
pub(super) async fn connections_caller<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<(crate::WorkspaceId, Option<AppId>), Response<Bytes>> {
    let is_bearer = auth::authorization(request.headers())
        .ok()
        .flatten()
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if is_bearer {
        admin(server, request).await.map(|ws| (ws, None))
    } else {
        client(server, request)
            .await
            .map(|c| (c.app.workspace_id, Some(c.app.id)))
    }
}

#[allow(clippy::result_large_err)] // the error is the response itself
fn page_of_query(query: &Params) -> Result<PageRequest, Response<Bytes>> {
    Ok(PageRequest::new(
        page_param(query, "page", 1, PageRequest::MAX_PAGE)?,
        page_param(query, "perPage", 10, PageRequest::MAX_PER_PAGE)?,
    ))
}

/// `GET /v1/connections`, `GET`/`PATCH`/`DELETE /v1/connections/{id}`, and
/// `POST /v1/connections/{id}/attach` (a browser-created connection to a
/// customer of the app).
pub(super) async fn connections<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET],
        [_] => &[Method::GET, Method::PATCH, Method::DELETE],
        [_, "attach"] => &[Method::POST],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let (ws, app) = match connections_caller(server, request).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    const MISSING: Resource = Resource::Connection;
    match (request.method().clone(), rest) {
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(FieldError::new("query", Problem::InvalidCharacters));
            };
            let page = match page_of_query(&query) {
                Ok(page) => page,
                Err(response) => return response,
            };
            let status = match query.get("status") {
                None if !query.sent_empty("status") => None,
                Some("active") => Some(crate::storage::ConnectionStatus::Active),
                Some("revoked") => Some(crate::storage::ConnectionStatus::Revoked),
                _ => {
                    return invalid_field(FieldError::new("status", Problem::InvalidCharacters));
                }
            };
            let customer_id = match query.get("customerId").map(CustomerId::parse) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return invalid_field(FieldError::new(
                        "customerId",
                        Problem::Connect(ConnectProblem::UnknownCustomer),
                    ));
                }
            };
            let filter = crate::storage::ConnectionFilter {
                customer_id,
                reference_id: query.get("referenceId").map(str::to_owned),
                tag: query.get("tag").map(str::to_owned),
                provider: query.get("provider").map(str::to_owned),
                status,
                ..crate::storage::ConnectionFilter::default()
            };
            match server
                .list_connections(&ws, app.as_ref(), filter, page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(e) => answer(&e),
            }
        }
        (method, [id]) => {
            let Ok(id) = crate::ConnectionId::parse(id) else {
                return answer(&MISSING.into());
            };
            match method {
                Method::GET => match server.get_connection(&ws, app.as_ref(), &id).await {
                    Ok(c) => response::json(StatusCode::OK, &c),
                    Err(e) => answer(&e),
                },
                Method::DELETE => match server.revoke_connection(&ws, app.as_ref(), &id).await {
                    Ok(_) => response::no_content(),
                    Err(e) => answer(&e),
                },
                _ => {
                    let update: crate::connect::connections::ConnectionUpdate =
                        match json_body(request) {
                            Ok(Some(body)) => body,
                            Ok(None) => return body_required(),
                            Err(response) => return response,
                        };
                    match server
                        .update_connection_tags(&ws, app.as_ref(), &id, &update)
                        .await
                    {
                        Ok(c) => response::json(StatusCode::OK, &c),
                        Err(e) => answer(&e),
                    }
                }
            }
        }
        (Method::POST, [id, "attach"]) => {
            let Ok(id) = crate::ConnectionId::parse(id) else {
                return answer(&MISSING.into());
            };
            let body: crate::connect::connections::AttachConnection = match json_body(request) {
                Ok(Some(body)) => body,
                Ok(None) => return body_required(),
                Err(response) => return response,
            };
            match server
                .attach_connection(&ws, app.as_ref(), &id, &body)
                .await
            {
                Ok(c) => response::json(StatusCode::OK, &c),
                Err(e) => answer(&e),
            }
        }
        _ => response::not_found("no such resource"),
    }
}

/// `GET /v1/customers`, `GET`/`DELETE /v1/customers/{id}`: a workspace
/// admin (every customer of the workspace) or a confidential client (only
/// its app's own customers: another app's are 404). DELETE deletes the
/// customer and revokes all their connections.
pub(super) async fn customers<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET],
        [_] => &[Method::GET, Method::DELETE],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let (ws, app) = match connections_caller(server, request).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    const MISSING: Resource = Resource::Customer;
    match (request.method().clone(), rest) {
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(FieldError::new("query", Problem::InvalidCharacters));
            };
            let page = match page_of_query(&query) {
                Ok(page) => page,
                Err(response) => return response,
            };
            match server
                .list_customers(&ws, app.as_ref(), query.get("referenceId"), page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(e) => answer(&e),
            }
        }
        (method, [id]) => {
            let Ok(id) = CustomerId::parse(id) else {
                return answer(&MISSING.into());
            };
            if method == Method::DELETE {
                match server.delete_customer(&ws, app.as_ref(), &id).await {
                    Ok(()) => response::no_content(),
                    Err(e) => answer(&e),
                }
            } else {
                match server.get_customer(&ws, app.as_ref(), &id).await {
                    Ok(c) => response::json(StatusCode::OK, &c),
                    Err(e) => answer(&e),
                }
            }
        }
        _ => response::not_found("no such resource"),
    }
}
