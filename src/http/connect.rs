//! Connect over HTTP: creating sessions (`POST /v1/connect/sessions`), the
//! hosted page (`GET`/`POST /connect`) and scoped keys (`/v1/scoped-keys`).

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};

use super::auth::{self, AuthHeaderError};
use super::management::{
    authenticate as admin, body_required, invalid_field, json_body, page_param,
};
use super::oauth::{error_page, form_target};
use super::{allow, cors, embed, response, storage_error};
use crate::connect::browser::BrowserSecret;
use crate::connect::publishable_keys::PublishableKeyError;
use crate::connect::scoped_keys::{MintError, NewScopedKey};
use crate::connect::steps::{LinkFormValues, Step, StepAction, StepOutcome};
use crate::connect::{
    CompleteError, ConnectDecision, ConnectError, ConnectPage, CustomerInfoInput, LocationInput,
    NewConnectSession,
};
use crate::error::ClientAuthError;
use crate::hooks::link::LinkMethod;
use crate::http::ui;
use crate::model::ids::{AppId, CustomerId, ScopedKeyId};
use crate::oauth::authorize::ErrorPage;
use crate::oauth::params::Params;
use crate::registry::apps::{AuthenticatedClient, OAuthApp, PageRequest};
use crate::server::AuthorizationServer;
use crate::storage::{ConnectEmbed, ConnectMode, EmbedMode, Storage};

const BASIC_CHALLENGE: &str = "Basic realm=\"oauth-connect\"";

fn unauthorized(message: &str) -> Response<Bytes> {
    response::unauthorized(
        BASIC_CHALLENGE,
        response::api_error(StatusCode::UNAUTHORIZED, "unauthorized", message, None),
    )
}

/// A confidential client authenticated with `Authorization: Basic`. A
/// failed secret is counted for the client id and the client's address:
/// past the [limit](crate::AuthorizationServerBuilder::authentication_failure_limit)
/// the answer is 429 with `Retry-After`.
async fn client<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<AuthenticatedClient, Response<Bytes>> {
    let basic = match auth::basic(request.headers()) {
        Ok(Some(basic)) => basic,
        Ok(None) | Err(AuthHeaderError::WrongScheme) => {
            return Err(unauthorized(
                "send the client's credentials with `Authorization: Basic`",
            ));
        }
        Err(_) => return Err(unauthorized("malformed Authorization header")),
    };
    match server
        .authenticate_client(&basic.client_id, Some(basic.client_secret.expose_secret()))
        .await
    {
        Ok(client) if client.authenticated => Ok(client),
        Ok(_) => Err(unauthorized("a confidential client is required")),
        Err(ClientAuthError::Storage(e)) => Err(storage_error(&e)),
        Err(failure) => {
            // Counted for the client when one has the presented id; made-up
            // ids share their address's one count.
            let client = match failure {
                ClientAuthError::UnknownClient => None,
                _ => server.registered_client_id(&basic.client_id).await,
            };
            match super::oauth::count_client_failure(server, request, client).await {
                Some(retry_after) => Err(response::rate_limited(
                    "too many failed client authentications from this address; retry after the time in Retry-After",
                    retry_after,
                )),
                None => Err(unauthorized("client authentication failed")),
            }
        }
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
        // Only a publishable key's sessions are counted.
        Err(ConnectError::RateLimited { .. }) => response::server_error(),
    }
}

const PUBLISHABLE_CHALLENGE: &str = r#"Bearer realm="oauth-connect", error="invalid_token""#;

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
        Err(PublishableKeyError::InvalidKey) => {
            let answer = response::unauthorized(
                PUBLISHABLE_CHALLENGE,
                response::api_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the publishable key is invalid or revoked",
                    None,
                ),
            );
            // Readable by the page that sent it, whatever its origin: the
            // answer depends on the key alone, never on which origins other
            // apps allow.
            return match origin {
                Some(o) => cors::allow_origin(answer, o),
                None => answer,
            };
        }
        Err(PublishableKeyError::OriginNotAllowed) => return cors::forbidden_origin(),
        Err(PublishableKeyError::Storage(e)) => return storage_error(&e),
    };
    let answer = |response: Response<Bytes>| cors::allow_origin(response, caller.origin.as_str());
    let body: NewConnectSession = match json_body(request) {
        Ok(Some(body)) => body,
        Ok(None) => return answer(body_required()),
        Err(response) => return answer(response),
    };
    if body.customer_id.is_some() {
        return answer(invalid_field(&crate::FieldError::new(
            "customerId",
            crate::Problem::NotWithPublishableKey,
        )));
    }
    if body
        .app_id
        .as_deref()
        .is_some_and(|id| id != caller.app.id.as_str())
    {
        return answer(invalid_field(&crate::FieldError::new(
            "appId",
            crate::Problem::Mismatch,
        )));
    }
    // Counted against the key's budget for this client address only now
    // that the request is well formed, and given back if it is refused.
    let address = server.client_address(request);
    answer(
        match server
            .create_browser_connect_session(&caller, &body, address)
            .await
        {
            Ok(created) => response::no_store(response::json(StatusCode::CREATED, &created)),
            Err(ConnectError::Invalid(field)) => invalid_field(&field),
            Err(ConnectError::Storage(e)) => storage_error(&e),
            Err(ConnectError::Random(_)) => response::server_error(),
            Err(ConnectError::RateLimited { retry_after }) => response::rate_limited(
                "too many Connect sessions for this publishable key from this address; retry after the time in Retry-After",
                retry_after,
            ),
        },
    )
}

fn customer_view<'a>(page: &'a ConnectPage, form: Option<&'a Params>) -> ui::CustomerView<'a> {
    let c = &page.customer;
    let location = c.location.as_ref();
    let pick = |name: &str, known: Option<&'a str>| form.and_then(|f| f.get(name)).or(known);
    ui::CustomerView {
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

/// How a page is shown: its status, and what to tell the user.
pub(super) struct Shown<'a> {
    pub(super) status: StatusCode,
    pub(super) form: Option<&'a Params<'a>>,
    pub(super) error: Option<&'a crate::FieldError>,
    pub(super) notice: Option<String>,
    pub(super) search: Option<&'a str>,
}

impl Default for Shown<'_> {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            form: None,
            error: None,
            notice: None,
            search: None,
        }
    }
}

/// The hosted page at its current step.
pub(super) fn render<S: Storage>(
    server: &AuthorizationServer<S>,
    page: &ConnectPage,
    shown: Shown<'_>,
) -> Response<Bytes> {
    let catalogue = server.config().scope_catalogue();
    let flow = &page.flow;
    let provider_name = flow
        .provider
        .as_ref()
        .map_or("the provider", |p| p.name.as_str());
    crate::telemetry::connect_step(flow.step.as_str());
    let body = match flow.step {
        Step::Terms => match &flow.terms {
            Some(terms) => ui::StepBody::Terms {
                text: &terms.text,
                url: terms.url.as_deref(),
            },
            None => ui::StepBody::Customer(customer_view(page, shown.form)),
        },
        Step::Provider => ui::StepBody::Provider {
            providers: flow
                .providers
                .iter()
                .map(|p| ui::ProviderLine {
                    id: &p.id,
                    name: &p.name,
                    categories: &p.categories,
                    logo_url: p.logo_url.as_deref(),
                })
                .collect(),
            search: shown.search,
        },
        Step::Link => match flow.provider.as_ref().map(|p| &p.method) {
            Some(LinkMethod::Form(fields)) => ui::StepBody::LinkForm {
                provider: provider_name,
                fields: fields
                    .iter()
                    .map(|f| ui::LinkInput {
                        name: &f.name,
                        label: &f.label,
                        kind: &f.kind,
                        required: f.required,
                    })
                    .collect(),
                can_change: flow.can_change_provider,
            },
            _ => ui::StepBody::LinkRedirect {
                provider: provider_name,
                can_change: flow.can_change_provider,
            },
        },
        Step::Customer => ui::StepBody::Customer(customer_view(page, shown.form)),
        _ => ui::StepBody::Consent {
            scopes: page
                .scopes
                .iter()
                .map(|s| ui::ScopeLine {
                    token: s.as_str(),
                    description: catalogue.description(s.as_str()),
                })
                .collect(),
            customer: customer_view(page, None),
            linked: flow.linked.as_ref().map(|l| l.label.as_str()),
        },
    };
    let notice = shown.notice.or_else(|| {
        flow.link_error
            .as_ref()
            .filter(|_| flow.step == Step::Link)
            .map(|e| format!("{e}. You can try again, choose another provider, or exit."))
    });
    let action = format!(
        "{}/connect",
        server.config().issuer().path().trim_end_matches('/')
    );
    let view = ui::ConnectView {
        action: &action,
        client_name: &page.client_name,
        update: page.mode == ConnectMode::Update,
        token: page.session.expose_secret(),
        csrf_token: page.csrf_token.expose_secret(),
        body,
        error: shown.error.map(|e| (e.field, e.to_string())),
        notice,
        embed: None,
    };
    // The server-wide ancestors, and the app's own origins (its pages open
    // the page as a modal iframe); a popup's pages, no one.
    let popup = page
        .embed
        .as_ref()
        .is_some_and(|e| e.mode == EmbedMode::Popup);
    let ancestors: Vec<&str> = server
        .config()
        .frame_ancestors()
        .iter()
        .map(String::as_str)
        .chain(page.app.allowed_origins.iter().map(crate::Origin::as_str))
        .filter(|_| !popup)
        .collect();
    let frame_ancestors = if ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        ancestors.join(" ")
    };
    let mut targets: Vec<String> = form_target(&page.redirect_url).into_iter().collect();
    let redirect_provider = flow
        .provider
        .as_ref()
        .is_some_and(|p| p.method == LinkMethod::Redirect);
    if flow.step == Step::Link && redirect_provider {
        // A redirect link's form post is answered with a redirect to the
        // provider's own authorization page, whose address only the hook
        // knows: form-action must allow it (a form link posts here only).
        targets.push("https:".to_owned());
    }
    // The picker shows the providers' logos: exactly their origins.
    let mut images: Vec<String> = Vec::new();
    if flow.step == Step::Provider {
        for origin in flow
            .providers
            .iter()
            .filter_map(|p| p.logo_url.as_deref())
            .filter_map(crate::hooks::link::logo_origin)
        {
            if !images.contains(&origin) {
                images.push(origin);
            }
        }
    }
    // Opened by the embed script: the page's script reports the step to
    // the window that opened it (and, on a redirect link step, opens the
    // provider's sign-in in a window of its own and waits for it).
    let embedded = page
        .embed
        .as_ref()
        .and_then(|e| Some((e, embed::web_origin(&page.redirect_url)?)));
    let Some((embed, origin)) = embedded else {
        let csp = ui::content_security_policy_full(&targets, &frame_ancestors, None, &images);
        return response::html(shown.status, ui::connect_page(&view), &csp);
    };
    let Some(nonce) = embed::csp_nonce(server) else {
        return error_page(ErrorPage::TemporarilyUnavailable);
    };
    let redirect_link =
        flow.step == Step::Link && matches!(view.body, ui::StepBody::LinkRedirect { .. });
    let mut data = vec![
        ("target", embed::target(embed.mode)),
        ("target-origin", origin),
        (
            "message",
            embed::message(
                embed,
                "step",
                serde_json::json!({ "step": flow.step.as_str() }),
            ),
        ),
        ("nonce", embed.nonce.clone()),
    ];
    if redirect_link {
        data.push((
            "status",
            crate::model::redirect::append_query(
                &embed::issuer_path(server, "/connect/status"),
                &[("token", page.session.expose_secret())],
            ),
        ));
        data.push(("version", page.step_version.to_string()));
    }
    let mut src = String::new();
    let script = embed::page_script(server, &mut src, &nonce, data);
    let link_window: String = embed.nonce.chars().take(12).collect();
    let view = ui::ConnectView {
        embed: Some(ui::EmbedView {
            script,
            link_window: format!("oc-link-{link_window}"),
            binding: &page.browser_binding,
        }),
        ..view
    };
    let csp = ui::content_security_policy_full(
        &targets,
        &frame_ancestors,
        Some(&ui::ScriptPolicy {
            nonce: &nonce,
            fetch_self: redirect_link,
        }),
        &images,
    );
    let answer = response::html(shown.status, ui::connect_page(&view), &csp);
    match embed.mode {
        EmbedMode::Popup => response::keep_opener(answer),
        EmbedMode::Modal => answer,
    }
}

fn see_page<S: Storage>(server: &AuthorizationServer<S>, token: &str) -> Response<Bytes> {
    response::see_other(&crate::model::redirect::append_query(
        &format!("{}/connect", server.config().issuer_str()),
        &[("token", token)],
    ))
}

/// The secret of the request's Connect binding cookie, if it carries one
/// this server issued. A value it never issued (planted, forged, or of a
/// retired key) counts as no cookie: it is never adopted.
fn browser_of<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
) -> Option<BrowserSecret> {
    super::oauth::cookie_values(headers, server.browser_cookie_name())
        .find_map(|value| server.browser_from_cookie(value))
}

/// The request's browser secret, or a new one and the `Set-Cookie` value
/// that gives it to the browser (replacing a cookie the server did not
/// issue).
#[allow(clippy::result_large_err)] // the error is the response itself
pub(super) fn browser_or_new<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
) -> Result<(BrowserSecret, Option<String>), Response<Bytes>> {
    match browser_of(server, headers) {
        Some(browser) => Ok((browser, None)),
        None => match server.new_browser_secret() {
            Ok(browser) => {
                let cookie = server.browser_cookie(&browser);
                Ok((browser, Some(cookie)))
            }
            Err(_) => Err(error_page(ErrorPage::TemporarilyUnavailable)),
        },
    }
}

/// `response`, with `cookie` set if there is one.
pub(super) fn with_browser_cookie(
    response: Response<Bytes>,
    cookie: Option<&str>,
) -> Response<Bytes> {
    match cookie {
        Some(cookie) => response::with_cookie(response, cookie),
        None => response,
    }
}

/// Whether a form post comes from a page of this server itself: its
/// `Origin` is the issuer's origin, and `Sec-Fetch-Site`, when the browser
/// sends it, says `same-origin`. Both are set by the browser; no page of
/// another site can make such a request.
fn same_origin_post<S: Storage>(server: &AuthorizationServer<S>, headers: &HeaderMap) -> bool {
    let issuer = server.config().issuer().origin().ascii_serialization();
    let origin = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    origin == Some(issuer.as_str()) && site.is_none_or(|s| s == "same-origin")
}

/// `GET /connect?token=…[&q=…]` and `POST /connect`.
pub(super) async fn page<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET, Method::POST]) {
        return response;
    }
    if request.method() == Method::POST {
        return post(server, request).await;
    }
    let Ok(query) = Params::parse_query(request.uri().query()) else {
        return error_page(ErrorPage::UnknownRequest);
    };
    let Some(token) = query.get("token") else {
        return error_page(ErrorPage::UnknownRequest);
    };
    // The embed script's marker: both parts or none.
    let embed = match (query.get("embed"), query.get("nonce")) {
        (None, None) => None,
        (Some(mode), Some(nonce)) => match ConnectEmbed::parse(mode, nonce) {
            Some(embed) => Some(embed),
            None => return error_page(ErrorPage::UnknownRequest),
        },
        _ => return error_page(ErrorPage::UnknownRequest),
    };
    // Opening claims nothing (the first form post does): a browser
    // without a valid binding cookie gets one, for its page's CSRF token.
    let (browser, cookie) = match browser_or_new(server, request.headers()) {
        Ok(browser) => browser,
        Err(response) => return response,
    };
    if let Some(embed) = &embed
        && let Err(page) = server.embed_connect(token, &browser, embed).await
    {
        return embed::connect_error(server, token, Some(embed), page).await;
    }
    let search = query.get("q");
    match server.open_connect_search(token, &browser, search).await {
        Ok(page) => with_browser_cookie(
            render(
                server,
                &page,
                Shown {
                    search,
                    ..Shown::default()
                },
            ),
            cookie.as_deref(),
        ),
        Err(page) => embed::connect_error(server, token, embed.as_ref(), page).await,
    }
}

/// `GET /connect/status?token=…`: where the flow stands, for an embedded
/// page waiting while the user signs in at a provider in another window.
///
/// Asked cross-origin (with an `Origin` header), by the embed script
/// before it opens a modal, the answer also says whether the hosted page
/// lets that origin frame it and reports to it (`embed`, an
/// [`EmbedCheck`](crate::EmbedCheck)), and is readable there (CORS:
/// `Access-Control-Allow-Origin` naming that origin, no credentials), the
/// errors included. The Connect token is the credential; nothing in the
/// answer is more than its holder sees on the page itself.
pub(super) async fn status<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET]) {
        return response;
    }
    let origin = super::cors::origin(request.headers());
    let readable = |answer: Response<Bytes>| match origin {
        Some(origin) => super::cors::allow_origin(answer, origin),
        None => answer,
    };
    let token = Params::parse_query(request.uri().query())
        .ok()
        .and_then(|q| q.get("token").map(str::to_owned));
    let Some(token) = token else {
        return readable(response::api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the query must carry the Connect token as `token`",
            Some("token"),
        ));
    };
    let answer = match origin {
        Some(origin) => server
            .connect_embed_check(&token, origin)
            .await
            .map(|(status, check)| {
                serde_json::json!({
                    "step": status.step.as_str(),
                    "version": status.version,
                    "embed": {
                        "origin": check.origin,
                        "framable": check.framable,
                        "messages": check.messages,
                    },
                })
            }),
        None => server.connect_status(&token).await.map(
            |status| serde_json::json!({ "step": status.step.as_str(), "version": status.version }),
        ),
    };
    let answer = match answer {
        Ok(body) => response::json(StatusCode::OK, &body),
        Err(page) => {
            let (status, code) = match page {
                ErrorPage::ExpiredRequest => (StatusCode::GONE, "session_expired"),
                ErrorPage::CompletedRequest => (StatusCode::GONE, "session_used"),
                ErrorPage::TemporarilyUnavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                }
                _ => (StatusCode::NOT_FOUND, "not_found"),
            };
            response::api_error(status, code, page.message(), None)
        }
    };
    readable(response::no_store(answer))
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

/// The form's step and action as a typed step action.
fn step_action(step: Step, form: &Params) -> Option<StepAction> {
    match (step, form.get("action")) {
        (Step::Terms, Some("accept")) => Some(StepAction::AcceptTerms),
        (Step::Provider, _) => form
            .get("provider")
            .map(|p| StepAction::ChooseProvider(p.to_owned())),
        (Step::Link, Some("start")) => Some(StepAction::StartLink),
        (Step::Link, Some("change")) => Some(StepAction::ChangeProvider),
        (Step::Link, Some("submit")) => Some(StepAction::SubmitLink(LinkFormValues::new(
            form.pairs().filter(|(n, _)| {
                !matches!(*n, "token" | "csrf_token" | "step" | "action" | "decision")
            }),
        ))),
        (Step::Customer, _) => Some(StepAction::SubmitCustomer(Box::new(customer_input(form)))),
        _ => None,
    }
}

async fn post<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let Ok(form) = Params::parse(request.body()) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let (Some(token), Some(csrf)) = (form.get("token"), form.get("csrf_token")) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let step = form.get("step").and_then(Step::parse);
    // The provider sign-in window of an embedded modal page starts its
    // link without the page's cookie, with the page's binding instead (see
    // `start_link_in_window`).
    let link_window = step == Some(Step::Link)
        && form.get("action") == Some("start")
        && form.get("decision").is_none()
        && same_origin_post(server, request.headers());
    let binding = form.get("binding").unwrap_or_default();
    let Some(browser) = browser_of(server, request.headers()) else {
        if link_window {
            return link_in_window(server, token, csrf, binding, None).await;
        }
        return embed::connect_error(server, token, None, ErrorPage::OtherBrowser).await;
    };
    let browser = &browser;
    // Approve on the consent step; deny (exit) from any step.
    let outcome = match (form.get("decision"), step) {
        (Some("deny"), _) => server
            .complete_connect(token, csrf, browser, ConnectDecision::Deny)
            .await
            .map(Some),
        (Some("approve"), Some(Step::Consent)) => server
            .complete_connect(token, csrf, browser, ConnectDecision::Approve)
            .await
            .map(Some),
        (Some(_), _) => Err(CompleteError::OutOfOrder),
        (None, Some(step)) => match step_action(step, &form) {
            Some(action) => match server
                .connect_step(token, csrf, browser, step, action)
                .await
            {
                Ok(StepOutcome::Redirect(url)) => return response::see_other(&url),
                Ok(_) => Ok(None),
                // The window has a cookie of its own (another flow's).
                Err(CompleteError::Page(ErrorPage::OtherBrowser | ErrorPage::InvalidCsrfToken))
                    if link_window =>
                {
                    return link_in_window(server, token, csrf, binding, Some(browser)).await;
                }
                Err(e) => Err(e),
            },
            None => Err(CompleteError::OutOfOrder),
        },
        (None, None) => Err(CompleteError::OutOfOrder),
    };
    match outcome {
        Ok(Some(to)) => match &to.embed {
            Some(embed) => {
                let reason = if step == Some(Step::Consent) {
                    "denied"
                } else {
                    "user-cancelled"
                };
                embed::connect_result(server, &to, embed, reason)
            }
            None => response::see_other(&to.location),
        },
        Ok(None) => see_page(server, token),
        Err(CompleteError::Page(page)) => embed::connect_error(server, token, None, page).await,
        Err(CompleteError::Invalid(field)) => match server.open_connect(token, browser).await {
            Ok(page) => render(
                server,
                &page,
                Shown {
                    status: StatusCode::BAD_REQUEST,
                    form: Some(&form),
                    error: Some(&field),
                    ..Shown::default()
                },
            ),
            Err(page) => error_page(page),
        },
        Err(CompleteError::OutOfOrder) => match server.open_connect(token, browser).await {
            Ok(page) => render(
                server,
                &page,
                Shown {
                    status: StatusCode::CONFLICT,
                    notice: Some("That step was already done (or is not available yet): here is where you are.".to_owned()),
                    ..Shown::default()
                },
            ),
            Err(page) => error_page(page),
        },
    }
}

/// The provider sign-in window of an embedded modal page starting its link
/// (a same-origin post without the session's cookie, or with this window's
/// own, carrying the page's `binding`): bound to the window's secret, given
/// to it now if it has none.
async fn link_in_window<S: Storage>(
    server: &AuthorizationServer<S>,
    token: &str,
    csrf: &str,
    binding: &str,
    window: Option<&BrowserSecret>,
) -> Response<Bytes> {
    let (window, cookie) = match window {
        Some(window) => (window.clone(), None),
        None => match server.new_browser_secret() {
            Ok(window) => {
                let cookie = server.browser_cookie(&window);
                (window, Some(cookie))
            }
            Err(_) => return error_page(ErrorPage::TemporarilyUnavailable),
        },
    };
    match server
        .start_link_in_window(token, csrf, binding, &window)
        .await
    {
        Ok(StepOutcome::Redirect(url)) => {
            with_browser_cookie(response::see_other(&url), cookie.as_deref())
        }
        // The hook failed: the page shows why (in the embedded page,
        // which moves on by itself; here, in this window).
        Ok(_) => see_page(server, token),
        Err(CompleteError::Page(page)) => error_page(page),
        Err(_) => error_page(ErrorPage::CompletedRequest),
    }
}

/// `GET /connect/callback/{provider}`: the return from a provider's own
/// authorization page to the link step.
pub(super) async fn callback<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    provider: &str,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET]) {
        return response;
    }
    let query = request.uri().query().unwrap_or_default();
    let Ok(pairs) = crate::oauth::params::pairs(query.as_bytes()) else {
        return error_page(ErrorPage::InvalidLinkState);
    };
    let browser = browser_of(server, request.headers());
    match server
        .link_callback(provider, &pairs, browser.as_ref())
        .await
    {
        // An embedded page's sign-in window: it closes; the page moves on.
        Ok(back) if back.embed.is_some() => {
            embed::link_window_return(server, &back.provider, back.linked)
        }
        Ok(back) => response::see_other(&back.location),
        Err(page) => error_page(page),
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

fn registry_response(error: crate::RegistryError, what: &str) -> Response<Bytes> {
    match error {
        crate::RegistryError::Invalid(field) => invalid_field(&field),
        crate::RegistryError::NotFound => response::not_found(what),
        crate::RegistryError::NotAttachable
        | crate::RegistryError::AlreadyConnected
        | crate::RegistryError::Conflict => {
            response::api_error(StatusCode::CONFLICT, "conflict", &error.to_string(), None)
        }
        crate::RegistryError::Storage(e) => storage_error(&e),
        _ => response::server_error(),
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
    const MISSING: &str = "no such connection";
    match (request.method().clone(), rest) {
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(&crate::FieldError::new(
                    "query",
                    crate::Problem::InvalidCharacters,
                ));
            };
            let page = match page_of_query(&query) {
                Ok(page) => page,
                Err(response) => return response,
            };
            let status = match query.get("status") {
                None => None,
                Some("active") => Some(crate::ConnectionStatus::Active),
                Some("revoked") => Some(crate::ConnectionStatus::Revoked),
                Some(_) => {
                    return invalid_field(&crate::FieldError::new(
                        "status",
                        crate::Problem::InvalidCharacters,
                    ));
                }
            };
            let customer_id = match query.get("customerId").map(CustomerId::parse) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return invalid_field(&crate::FieldError::new(
                        "customerId",
                        crate::Problem::UnknownCustomer,
                    ));
                }
            };
            let filter = crate::ConnectionFilter {
                customer_id,
                reference_id: query.get("referenceId").map(str::to_owned),
                tag: query.get("tag").map(str::to_owned),
                provider: query.get("provider").map(str::to_owned),
                status,
                ..crate::ConnectionFilter::default()
            };
            match server
                .list_connections(&ws, app.as_ref(), filter, page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(e) => registry_response(e, MISSING),
            }
        }
        (method, [id]) => {
            let Ok(id) = crate::ConnectionId::parse(id) else {
                return response::not_found(MISSING);
            };
            match method {
                Method::GET => match server.get_connection(&ws, app.as_ref(), &id).await {
                    Ok(c) => response::json(StatusCode::OK, &c),
                    Err(e) => registry_response(e, MISSING),
                },
                Method::DELETE => match server.revoke_connection(&ws, app.as_ref(), &id).await {
                    Ok(_) => response::no_content(),
                    Err(e) => registry_response(e, MISSING),
                },
                _ => {
                    let update: crate::ConnectionUpdate = match json_body(request) {
                        Ok(Some(body)) => body,
                        Ok(None) => return body_required(),
                        Err(response) => return response,
                    };
                    match server
                        .update_connection_tags(&ws, app.as_ref(), &id, &update)
                        .await
                    {
                        Ok(c) => response::json(StatusCode::OK, &c),
                        Err(e) => registry_response(e, MISSING),
                    }
                }
            }
        }
        (Method::POST, [id, "attach"]) => {
            let Ok(id) = crate::ConnectionId::parse(id) else {
                return response::not_found(MISSING);
            };
            let body: crate::AttachConnection = match json_body(request) {
                Ok(Some(body)) => body,
                Ok(None) => return body_required(),
                Err(response) => return response,
            };
            match server
                .attach_connection(&ws, app.as_ref(), &id, &body)
                .await
            {
                Ok(c) => response::json(StatusCode::OK, &c),
                Err(e) => registry_response(e, MISSING),
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
    const MISSING: &str = "no such customer";
    match (request.method().clone(), rest) {
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(&crate::FieldError::new(
                    "query",
                    crate::Problem::InvalidCharacters,
                ));
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
                Err(e) => registry_response(e, MISSING),
            }
        }
        (method, [id]) => {
            let Ok(id) = CustomerId::parse(id) else {
                return response::not_found(MISSING);
            };
            if method == Method::DELETE {
                match server.delete_customer(&ws, app.as_ref(), &id).await {
                    Ok(()) => response::no_content(),
                    Err(e) => registry_response(e, MISSING),
                }
            } else {
                match server.get_customer(&ws, app.as_ref(), &id).await {
                    Ok(c) => response::json(StatusCode::OK, &c),
                    Err(e) => registry_response(e, MISSING),
                }
            }
        }
        _ => response::not_found("no such resource"),
    }
}
