//! Connect over HTTP: creating sessions (`POST /v1/connect/sessions`), the
//! hosted page (`GET`/`POST /connect`) and scoped keys (`/v1/scoped-keys`).

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};

use super::auth::{self, AuthHeaderError};
use super::management::{
    authenticate as admin, body_required, invalid_field, json_body, page_param,
};
use super::oauth::{error_page, form_target};
use super::{allow, response, storage_error};
use crate::authorize::ErrorPage;
use crate::connect::{
    CompleteError, ConnectDecision, ConnectError, ConnectPage, CustomerInfoInput, LocationInput,
    NewConnectSession,
};
use crate::error::ClientAuthError;
use crate::ids::{AppId, CustomerId, ScopedKeyId};
use crate::params::Params;
use crate::registration::{AuthenticatedClient, OAuthApp, PageRequest};
use crate::scoped_key::{MintError, NewScopedKey};
use crate::server::AuthorizationServer;
use crate::storage::{ConnectMode, Storage};
use crate::ui;

const BASIC_CHALLENGE: &str = "Basic realm=\"oauth-connect\"";

fn unauthorized(message: &str) -> Response<Bytes> {
    response::unauthorized(
        BASIC_CHALLENGE,
        response::api_error(StatusCode::UNAUTHORIZED, "unauthorized", message, None),
    )
}

/// A confidential client authenticated with `Authorization: Basic`.
async fn client<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
) -> Result<AuthenticatedClient, Response<Bytes>> {
    let basic = match auth::basic(headers) {
        Ok(Some(basic)) => basic,
        Ok(None) | Err(AuthHeaderError::WrongScheme) => {
            return Err(unauthorized(
                "send the client's credentials with `Authorization: Basic`",
            ));
        }
        Err(_) => return Err(unauthorized("malformed Authorization header")),
    };
    match server
        .authenticate_client(&basic.client_id, Some(basic.client_secret.as_str()))
        .await
    {
        Ok(client) if client.authenticated => Ok(client),
        Ok(_) => Err(unauthorized("a confidential client is required")),
        Err(ClientAuthError::Storage(e)) => Err(storage_error(&e)),
        Err(_) => Err(unauthorized("client authentication failed")),
    }
}

/// `POST /v1/connect/sessions`: a confidential client (Basic) for its own
/// app, or a workspace admin (Bearer) naming the app with `appId`.
pub(super) async fn sessions<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::POST]) {
        return response;
    }
    let is_admin = auth::authorization(request.headers())
        .ok()
        .flatten()
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    let app = if is_admin {
        match admin(server, request.headers()).await {
            Ok(ws) => Err(ws),
            Err(response) => return response,
        }
    } else {
        match client(server, request.headers()).await {
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
                return invalid_field(&crate::FieldError::new("appId", crate::Problem::Mismatch));
            }
            app
        }
        Err(ws) => {
            let Some(id) = body.app_id.as_deref().and_then(|id| AppId::parse(id).ok()) else {
                return invalid_field(&crate::FieldError::new("appId", crate::Problem::Required));
            };
            match server.get_app(&ws, &id).await {
                Ok(app) => app,
                Err(crate::RegistryError::Storage(e)) => return storage_error(&e),
                Err(_) => return response::not_found("no such OAuth app"),
            }
        }
    };
    match server.create_connect_session(&app, &body, false).await {
        Ok(created) => response::no_store(response::json(StatusCode::CREATED, &created)),
        Err(ConnectError::Invalid(field)) => invalid_field(&field),
        Err(ConnectError::Storage(e)) => storage_error(&e),
        Err(ConnectError::Random(_)) => response::server_error(),
    }
}

fn customer_view<'a>(page: &'a ConnectPage, form: Option<&'a Params>) -> ui::CustomerView<'a> {
    let c = &page.customer;
    let location = c.location.as_ref();
    let pick = |name: &str, known: Option<&'a str>| form.and_then(|f| f.get(name)).or(known);
    ui::CustomerView {
        ask: page.ask_customer || form.is_some(),
        first_name: pick("firstName", c.first_name.as_deref()),
        last_name: pick("lastName", c.last_name.as_deref()),
        email: pick("email", c.email.as_deref()),
        phone: pick("phone", c.phone.as_deref()),
        street_one: pick("streetOne", location.map(|l| l.street_one.as_str())),
        city: pick("city", location.map(|l| l.city.as_str())),
        state: pick("state", location.map(|l| l.state.as_str())),
        postal_code: pick("postalCode", location.map(|l| l.postal_code.as_str())),
        country: pick("country", location.map(|l| l.country.as_str())),
    }
}

/// The hosted page for `page`, with a field to correct if any.
pub(super) fn render<S: Storage>(
    server: &AuthorizationServer<S>,
    page: &ConnectPage,
    form: Option<&Params>,
    error: Option<&crate::FieldError>,
) -> Response<Bytes> {
    let catalogue = server.config().scope_catalogue();
    let view = ui::ConnectView {
        client_name: &page.client_name,
        scopes: page
            .scopes
            .iter()
            .map(|s| ui::ScopeLine {
                token: s.as_str(),
                description: catalogue.description(s.as_str()),
            })
            .collect(),
        customer: customer_view(page, form),
        update: page.mode == ConnectMode::Update,
        token: page.session.expose_secret(),
        csrf_token: &page.csrf_token,
        error: error.map(|e| (e.field, e.to_string())),
    };
    let ancestors = server.config().frame_ancestors();
    let frame_ancestors = if ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        ancestors.join(" ")
    };
    let targets: Vec<String> = form_target(&page.redirect_url).into_iter().collect();
    let csp = ui::content_security_policy(&targets, &frame_ancestors);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    response::html(status, ui::connect_page(&view), &csp)
}

/// `GET /connect?token=…` and `POST /connect`.
pub(super) async fn page<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET, Method::POST]) {
        return response;
    }
    if request.method() == Method::POST {
        return decide(server, request).await;
    }
    let Ok(query) = Params::parse_query(request.uri().query()) else {
        return error_page(ErrorPage::UnknownRequest);
    };
    let Some(token) = query.get("token") else {
        return error_page(ErrorPage::UnknownRequest);
    };
    match server.open_connect(token).await {
        Ok(page) => render(server, &page, None, None),
        Err(page) => error_page(page),
    }
}

fn customer_input(form: &Params) -> CustomerInfoInput {
    let get = |name: &str| form.get(name).map(str::to_owned);
    let location = LocationInput {
        street_one: get("streetOne"),
        city: get("city"),
        state: get("state"),
        postal_code: get("postalCode"),
        country: get("country"),
    };
    CustomerInfoInput {
        first_name: get("firstName"),
        last_name: get("lastName"),
        email: get("email"),
        phone: get("phone"),
        location: Some(location),
    }
}

async fn decide<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let Ok(form) = Params::parse(request.body()) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let (Some(token), Some(csrf)) = (form.get("token"), form.get("csrf_token")) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let asked = ["firstName", "lastName", "email"]
        .iter()
        .any(|f| form.contains(f));
    let decision = match form.get("decision") {
        Some("approve") => ConnectDecision::Approve {
            customer: asked.then(|| Box::new(customer_input(&form))),
        },
        Some("deny") => ConnectDecision::Deny,
        _ => return error_page(ErrorPage::UnknownRequest),
    };
    match server.complete_connect(token, csrf, decision).await {
        Ok(to) => response::see_other(&to.location),
        Err(CompleteError::Page(page)) => error_page(page),
        Err(CompleteError::Invalid(field)) => match server.open_connect(token).await {
            Ok(page) => render(server, &page, Some(&form), Some(&field)),
            Err(page) => error_page(page),
        },
    }
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
    let client = match client(server, request.headers()).await {
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
                Err(MintError::Invalid(field)) => invalid_field(&field),
                Err(MintError::NotConfidential) => {
                    unauthorized("a confidential client is required")
                }
                Err(MintError::Storage(e)) => storage_error(&e),
                Err(MintError::Random(_)) => response::server_error(),
            }
        }
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(&crate::FieldError::new(
                    "query",
                    crate::Problem::InvalidCharacters,
                ));
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
                    return invalid_field(&crate::FieldError::new(
                        "customerId",
                        crate::Problem::UnknownCustomer,
                    ));
                }
            };
            let app = &client.app;
            match server
                .list_scoped_keys(&app.workspace_id, Some(&app.id), customer.as_ref(), page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(crate::RegistryError::Invalid(field)) => invalid_field(&field),
                Err(crate::RegistryError::Storage(e)) => storage_error(&e),
                Err(_) => response::server_error(),
            }
        }
        (Method::DELETE, [id]) => {
            let Ok(id) = ScopedKeyId::parse(id) else {
                return response::not_found("no such scoped key");
            };
            match server.revoke_scoped_key(&client, &id).await {
                Ok(true) => response::no_content(),
                Ok(false) => response::not_found("no such scoped key"),
                Err(e) => storage_error(&e),
            }
        }
        _ => response::not_found("no such resource"),
    }
}
