//! The OAuth endpoints over HTTP: authorization (GET shows the consent
//! page, POST takes the decision), PAR, token, revocation, introspection
//! and the metadata document.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Request, Response, StatusCode};

use super::auth::{self, AuthHeaderError};
use super::browser::{cookie_value, error_page, form_target};
use super::requests;
use super::{allow, response};
use crate::hooks::resource_owner::{DEMO_USER_COOKIE, demo_user_cookie_value};
use crate::http::params::{self, Params};
use crate::http::ui;
use crate::oauth::authorize::{
    AuthorizeError, AuthorizeOutcome, ClientRedirect, ConsentPrompt, Decision, ErrorPage,
};
use crate::oauth::client_auth::ClientAuth;
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::token::error::invalid_request;
use crate::oauth::token::{BasicCredentials, FailedAuthentication, TokenError};
use crate::server::AuthorizationServer;
use crate::server::rate_limit::Limit;
use crate::storage::{ResponseMode, Storage};

/// The challenge on every 401 of the client endpoints (RFC 6749 §5.2).
const BASIC_CHALLENGE: &str = "Basic realm=\"oauth-connect\"";
/// The consent page's path, where its form posts.
const AUTHORIZE_PATH: &str = "/oauth/authorize";

/// The authorization endpoint's path as the browser sees it: under the
/// issuer's path, for a server mounted under a prefix (issuer
/// `https://host/upstream` → `/upstream/oauth/authorize`).
fn authorize_path(config: &crate::config::ServerConfig) -> String {
    format!(
        "{}{AUTHORIZE_PATH}",
        config.issuer().path().trim_end_matches('/')
    )
}

fn oauth_error(code: OAuthErrorCode, description: &str) -> Response<Bytes> {
    let response = response::oauth_error(&code, Some(description), None);
    if code == OAuthErrorCode::InvalidClient {
        response::with_challenge(response, BASIC_CHALLENGE)
    } else {
        response
    }
}

fn token_error(error: &TokenError) -> Response<Bytes> {
    let response = response::oauth_error(&error.error.code, Some(error.error.description), None);
    if error.status() == StatusCode::UNAUTHORIZED {
        response::with_challenge(response, BASIC_CHALLENGE)
    } else {
        response
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A client endpoint's request: Basic credentials, if any, and the form.
type ClientRequest<'a> = (Option<BasicCredentials>, params::Pairs<'a>);

/// The common shape of the client endpoints (token, revocation,
/// introspection, PAR): POST, a form body, no parameters in the URI
/// (RFC 6749 §2.3.1, §3.2), at most one `Authorization: Basic`.
#[allow(clippy::result_large_err)] // the error is the response itself
fn client_request(request: &Request<Bytes>) -> Result<ClientRequest<'_>, Response<Bytes>> {
    allow(request.method(), &[Method::POST])?;
    if !is_form(request.headers()) {
        return Err(oauth_error(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if request.uri().query().is_some_and(|q| !q.is_empty()) {
        return Err(oauth_error(
            OAuthErrorCode::InvalidRequest,
            "parameters must be sent in the request body, not the URI",
        ));
    }
    let pairs = params::pairs(request.body())
        .map_err(|e| oauth_error(OAuthErrorCode::InvalidRequest, &e.to_string()))?;
    let basic = match auth::basic(request.headers()) {
        Ok(basic) => basic,
        Err(AuthHeaderError::Multiple) => {
            return Err(oauth_error(
                OAuthErrorCode::InvalidRequest,
                "more than one Authorization header",
            ));
        }
        Err(_) => {
            return Err(oauth_error(
                OAuthErrorCode::InvalidClient,
                "the Authorization header must be valid HTTP Basic client credentials",
            ));
        }
    };
    Ok((basic, pairs))
}

/// A client endpoint's client authentication (RFC 6749 §2.3) and form,
/// each parameter at most once (§3.2).
#[allow(clippy::result_large_err)] // the error is the response itself
fn client_parts<'a, S: Storage>(
    server: &AuthorizationServer<S>,
    request: &'a Request<Bytes>,
) -> Result<(ClientAuth, Params<'a>), Response<Bytes>> {
    let (basic, pairs) = client_request(request)?;
    client_form(server, basic, pairs)
}

/// A client endpoint's form, each parameter at most once (RFC 6749 §3.2),
/// and its client authentication (§2.3).
#[allow(clippy::result_large_err)] // the error is the response itself
fn client_form<'a, S: Storage>(
    server: &AuthorizationServer<S>,
    basic: Option<BasicCredentials>,
    pairs: params::Pairs<'a>,
) -> Result<(ClientAuth, Params<'a>), Response<Bytes>> {
    let params = Params::from_decoded(pairs)
        .map_err(|_| token_error(&invalid_request("a parameter is repeated")))?;
    let auth = requests::client_auth(server, basic, &params).map_err(|e| token_error(&e))?;
    Ok((auth, params))
}

/// The answer to a client endpoint's error. A failed client
/// authentication is counted for the presented client id (when a client
/// has it) and the client's address: past the
/// [limit](crate::AuthorizationServerBuilder::authentication_failure_limit)
/// the answer is 429 with `Retry-After`, still RFC 6749 §5.2's JSON
/// (`invalid_client`: the attempt did fail).
async fn client_error<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    client_id: &str,
    error: &TokenError,
) -> Response<Bytes> {
    let counted = match error.failed_authentication {
        FailedAuthentication::No => None,
        FailedAuthentication::UnknownClient => Some(None),
        FailedAuthentication::Client => {
            crate::model::ids::ClientId::parse(client_id).ok().map(Some)
        }
    };
    if let Some(client) = counted
        && let Some(retry_after) = count_client_failure(server, request, client).await
    {
        return response::with_retry_after(
            response::oauth_error(
                &OAuthErrorCode::InvalidClient,
                Some(
                    "too many failed client authentications from this address; retry after the time in Retry-After",
                ),
                Some(StatusCode::TOO_MANY_REQUESTS),
            ),
            retry_after,
        );
    }
    token_error(error)
}

/// Counts one failed authentication from the request's address, for the
/// registered client `client` (`None`: an id no client has, all of which
/// an address shares one count for); how long until it may try again once
/// past the limit. A failure to count (storage) is no reason to answer
/// otherwise.
pub(super) async fn count_client_failure<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    client: Option<crate::model::ids::ClientId>,
) -> Option<time::Duration> {
    let subject = client.as_ref().map_or("", |id| id.as_str()).to_owned();
    let counter = server.counter(
        Limit::ClientAuthentication,
        subject.as_bytes(),
        server.client_address(request),
        client,
    );
    server.spend(&counter).await.ok()?.err()
}

/// `POST /oauth/token` (RFC 6749 §3.2).
pub(super) async fn token<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let (auth, params) = match client_parts(server, request) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    // A malformed request is answered once the client authenticates, as
    // RFC 6749 §5.2 orders the checks.
    let answer = match requests::token_request(&params) {
        Ok(token_request) => server.token(&auth, &token_request).await,
        Err(error) => Err(server
            .authenticate_endpoint_client(&auth)
            .await
            .err()
            .unwrap_or(error)),
    };
    match answer {
        Ok(tokens) => match tokens.to_json() {
            Ok(body) => response::no_store(response::json_body(StatusCode::OK, body)),
            Err(_) => response::server_error(),
        },
        Err(error) => client_error(server, request, auth.client_id(), &error).await,
    }
}

/// `POST /oauth/revoke` (RFC 7009 §2).
pub(super) async fn revoke<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let (auth, params) = match client_parts(server, request) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let answer = match requests::revocation_request(&params) {
        Ok(revocation) => server.revoke(&auth, &revocation).await,
        Err(error) => Err(server
            .authenticate_endpoint_client(&auth)
            .await
            .err()
            .unwrap_or(error)),
    };
    match answer {
        Ok(()) => response::no_store(response::json(StatusCode::OK, &serde_json::json!({}))),
        Err(error) => client_error(server, request, auth.client_id(), &error).await,
    }
}

/// `POST /oauth/introspect` (RFC 7662 §2).
pub(super) async fn introspect<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let (auth, params) = match client_parts(server, request) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let answer = match requests::introspection_request(&params) {
        Ok(introspection) => server.introspection_answer(&auth, &introspection).await,
        Err(error) => Err(server
            .introspecting_client(&auth)
            .await
            .err()
            .unwrap_or(error)),
    };
    match answer {
        Ok(answer) => match answer.to_json(server.config().issuer_str()) {
            Ok(body) => response::no_store(response::json_body(StatusCode::OK, body)),
            Err(_) => response::server_error(),
        },
        Err(error) => client_error(server, request, auth.client_id(), &error).await,
    }
}

/// `POST /oauth/par` (RFC 9126 §2).
pub(super) async fn par<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    let (basic, pairs) = match client_request(request) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let params = match Params::from_decoded(pairs) {
        Ok(params) => params,
        Err(e) => return oauth_error(OAuthErrorCode::InvalidRequest, &e.to_string()),
    };
    let auth = match requests::client_auth(server, basic, &params) {
        Ok(auth) => auth,
        Err(error) => return token_error(&error),
    };
    let client = match server.authenticate_endpoint_client(&auth).await {
        Ok(client) => client,
        Err(error) => return client_error(server, request, auth.client_id(), &error).await,
    };
    // Client authentication (`client_secret`) is not part of the pushed
    // request; `client_id` is, and must name the authenticated client.
    let pushed = requests::authorization_request(|name| params.get(name));
    let address = server.client_address(request);
    match server
        .push_authorization_request(&client, &pushed, address)
        .await
    {
        Ok(pushed) => response::no_store(response::json(
            StatusCode::CREATED,
            &serde_json::json!({
                "request_uri": pushed.request_uri,
                "expires_in": pushed.expires_in,
            }),
        )),
        Err(crate::oauth::authorize::PushError::Invalid(error)) => {
            oauth_error(error.code, error.description)
        }
        Err(crate::oauth::authorize::PushError::Storage(error)) => {
            token_error(&TokenError::from(error))
        }
        Err(crate::oauth::authorize::PushError::Random(error)) => {
            token_error(&TokenError::from(error))
        }
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
pub(super) fn metadata<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET]) {
        return response;
    }
    response::json(StatusCode::OK, &server.metadata())
}

impl<S: Storage> AuthorizationServer<S> {
    /// The path to send a user back to after the host's login
    /// ([`ResourceOwnerAuthenticator::sign_in_url`](crate::ResourceOwnerAuthenticator::sign_in_url)),
    /// if `url` is a safe one: a path of this server's authorization
    /// endpoint or hosted Connect page (under the issuer's path), or the
    /// same as an absolute URL of the issuer's origin. Anything else (an
    /// other origin, `//host`, a backslash, a control character) is `None`:
    /// a login that redirects only to what this returns is no open
    /// redirect.
    pub fn return_url(&self, url: &str) -> Option<String> {
        let issuer = self.config().issuer();
        let origin = issuer.origin().ascii_serialization();
        let path = match url.strip_prefix(&origin) {
            Some(rest) if rest.starts_with('/') => rest,
            Some(_) => return None,
            None => url,
        };
        if !path.starts_with('/')
            || path.starts_with("//")
            || path.contains(['\\', '#'])
            || path.chars().any(|c| c.is_control() || c == ' ')
        {
            return None;
        }
        let base = issuer.path().trim_end_matches('/');
        let rest = path.strip_prefix(base)?;
        let target = rest.split('?').next().unwrap_or_default();
        matches!(target, "/oauth/authorize" | "/connect").then(|| path.to_owned())
    }
}

/// The authorization response: a 303 to the client's redirect URI, or for
/// `response_mode=web_message` the page that posts it to the opener.
fn redirect<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    to: &ClientRedirect,
) -> Response<Bytes> {
    match to.response_mode {
        ResponseMode::WebMessage => super::embed::web_message(server, headers, to),
        _ => response::see_other(&to.location),
    }
}

/// The name of the cookie that binds one consent form to the browser it was
/// shown in (double submit): derived from the CSRF token, so several tabs
/// each keep their own.
fn csrf_cookie_name(csrf_token: &str) -> String {
    let tag: String = csrf_token
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("oc_consent_{tag}")
}

async fn consent_page<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    prompt: &ConsentPrompt,
) -> Response<Bytes> {
    let config = server.config();
    let owner = config.resource_owner();
    // "Sign in first": a signed-out user goes to the host's login, and
    // comes back to this very request.
    let signed_in = owner.authenticate(request.headers(), None).await;
    let here = format!(
        "{}{}",
        config.issuer().path().trim_end_matches('/'),
        request
            .uri()
            .path_and_query()
            .map_or(AUTHORIZE_PATH, |p| p.as_str())
            .strip_prefix(config.issuer().path().trim_end_matches('/'))
            .unwrap_or(AUTHORIZE_PATH)
    );
    let return_to = server.return_url(&here);
    if signed_in.is_none()
        && !config.demo_sign_in()
        && let Some(login) = return_to.as_deref().and_then(|r| owner.sign_in_url(r))
    {
        return response::see_other(&login);
    }
    let display = signed_in.as_ref().map(|s| owner.display_name(s));
    // A demo sign-in fills its field with who is signed in (the id this
    // browser typed last): typing another switches.
    let demo_user = signed_in
        .as_ref()
        .filter(|_| config.demo_sign_in())
        .map(|s| s.as_str());
    let switch = return_to.as_deref().and_then(|r| owner.sign_in_url(r));
    let catalogue = config.scope_catalogue();
    let scopes = prompt
        .scopes
        .iter()
        .map(|s| ui::ScopeLine {
            token: s.as_str(),
            description: catalogue.description(s.as_str()),
        })
        .collect();
    let return_to = form_target(&prompt.redirect_uri).unwrap_or_default();
    let action = authorize_path(config);
    let view = ui::ConsentView {
        app_name: &prompt.app.name,
        scopes,
        return_to: &return_to,
        action: &action,
        session: prompt.session.expose_secret(),
        csrf_token: prompt.csrf_token.expose_secret(),
        demo_sign_in: config.demo_sign_in(),
        demo_user,
        signed_in: display.as_deref(),
        sign_in_url: switch.as_deref(),
    };
    let lang = ui::language(config, None, request.headers());
    let look = ui::Look {
        config,
        lang: &lang,
        app_logo: prompt.app.logo_uri.as_deref(),
    };
    let csp =
        ui::content_security_policy(&look, std::slice::from_ref(&return_to), "'none'", None, &[]);
    let page = response::html(StatusCode::OK, ui::consent_page(&look, &view), &csp);
    // A web_message request runs in a popup that must keep its opener.
    let page = match prompt.response_mode {
        ResponseMode::WebMessage => response::keep_opener(page),
        _ => page,
    };
    let secure = if config.issuer().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let max_age = config.lifetimes().consent.whole_seconds();
    let cookie = format!(
        "{}={}; Path={action}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        csrf_cookie_name(prompt.csrf_token.expose_secret()),
        prompt.csrf_token.expose_secret()
    );
    response::with_cookie(page, &cookie)
}

/// `GET /oauth/authorize` (RFC 6749 §4.1.1) and `POST /oauth/authorize`
/// (the consent form's decision).
pub(super) async fn authorize<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::GET, Method::POST]) {
        return response;
    }
    if request.method() == Method::POST {
        return decide(server, request).await;
    }
    let query = request.uri().query().unwrap_or_default();
    let Ok(pairs) = params::pairs(query.as_bytes()) else {
        return error_page(ErrorPage::UnknownRequest);
    };
    // RFC 6749 §3.1: parameters must not repeat. A repeated client_id,
    // redirect_uri or request_uri leaves nothing verified to redirect to
    // (§4.1.2.1), whatever else repeats before it; any other goes back to
    // the client once those are verified.
    if params::any_repeated(&pairs, &["client_id", "redirect_uri", "request_uri"]) {
        return error_page(ErrorPage::RepeatedParameter);
    }
    let repeated = params::first_duplicate(&pairs).is_some();
    let authorization = requests::authorization_request(|name| params::first(&pairs, name));
    match server
        .authorization(Some(request.headers()), &authorization, repeated)
        .await
    {
        // A Connect token as request_uri opens the Connect session's page
        // (and, the first time, claims it for this browser).
        Ok(AuthorizeOutcome::Consent(prompt)) if prompt.connect => {
            let (browser, cookie) = match super::browser::browser_or_new(server, request.headers())
            {
                Ok(browser) => browser,
                Err(response) => return response,
            };
            match server
                .connect_open(prompt.session.expose_secret(), &browser, None)
                .await
            {
                Ok(page) => super::browser::with_browser_cookie(
                    super::connect_page::render(
                        server,
                        request.headers(),
                        &page,
                        super::connect_page::Shown::default(),
                    ),
                    cookie.as_deref(),
                ),
                Err(page) => error_page(page),
            }
        }
        Ok(AuthorizeOutcome::Consent(prompt)) => consent_page(server, request, &prompt).await,
        // The host's consent policy covers the request: the code at once.
        Ok(AuthorizeOutcome::Approved(to)) | Err(AuthorizeError::Redirect(to)) => {
            redirect(server, request.headers(), &to)
        }
        Err(AuthorizeError::Page(page)) => error_page(page),
    }
}

async fn decide<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if !is_form(request.headers()) {
        return error_page(ErrorPage::InvalidCsrfToken);
    }
    // The form carries its sealed request: up to the body limit.
    let Ok(form) = Params::parse_within(request.body(), super::MAX_BODY_BYTES) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    let (Some(session), Some(csrf)) = (form.get("session"), form.get("csrf_token")) else {
        return error_page(ErrorPage::InvalidCsrfToken);
    };
    // Double submit: the browser that saw the form holds the cookie.
    let cookie_name = csrf_cookie_name(csrf);
    if cookie_value(request.headers(), &cookie_name) != Some(csrf) {
        return error_page(ErrorPage::InvalidCsrfToken);
    }
    // The id typed on a demo sign-in, kept by the browser for its next
    // consent page (`DemoSignIn` reads it back).
    let mut demo_user = None;
    let decision = match form.get("decision") {
        Some("approve") => {
            let config = server.config();
            let owner = config.resource_owner();
            let demo = config.demo_sign_in().then(|| form.get("subject")).flatten();
            match owner.authenticate(request.headers(), demo).await {
                Some(subject) => {
                    if demo.is_some_and(|typed| !typed.trim().is_empty()) {
                        demo_user = Some(demo_user_cookie_value(&subject));
                    }
                    Decision::Approve {
                        subject,
                        scopes: None,
                    }
                }
                None => return error_page(ErrorPage::SignInRequired),
            }
        }
        Some("deny") => Decision::Deny,
        _ => return error_page(ErrorPage::UnknownRequest),
    };
    let clear = format!(
        "{cookie_name}=; Path={}; Max-Age=0; HttpOnly; SameSite=Strict",
        authorize_path(server.config())
    );
    match server.decide(session, csrf, decision).await {
        Ok(to) | Err(AuthorizeError::Redirect(to)) => {
            let answer = response::with_cookie(redirect(server, request.headers(), &to), &clear);
            match demo_user {
                // `Lax`: sent on the next authorization request, a
                // navigation from the client's site.
                Some(value) => response::with_cookie(
                    answer,
                    &format!(
                        "{DEMO_USER_COOKIE}={value}; Path={}; HttpOnly; SameSite=Lax{}",
                        authorize_path(server.config()),
                        if server.config().issuer().scheme() == "https" {
                            "; Secure"
                        } else {
                            ""
                        }
                    ),
                ),
                None => answer,
            }
        }
        Err(AuthorizeError::Page(page)) => error_page(page),
    }
}
