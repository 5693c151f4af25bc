//! The authorization endpoint (RFC 6749 §3.1, §4.1.1–§4.1.2.1), pushed
//! authorization requests (RFC 9126) and the resource owner's decision.
//!
//! The order of the checks is the security property here (RFC 6749
//! §4.1.2.1, RFC 9700 §4.1): nothing is ever sent to a redirect URI before
//! the client is known and the URI is one it registered. Until then every
//! problem is an [`ErrorPage`] for the host to render; after, problems go back
//! to the client by redirect, with `error`, the exact `state` and `iss`
//! (RFC 9207).

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use crate::config::PkcePolicy;
use http::HeaderMap;
use zeroize::Zeroizing;

use crate::credentials::{
    AuthorizationCode, ConnectToken, RANDOM_LEN, Redacted, RedactedUrl, Secret,
};
use crate::hooks::resource_owner::{ConsentRequest, PriorConsent};
use crate::model::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId};
use crate::model::redirect::{append_query, find_match};
use crate::model::scope::ScopeSet;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::params::{self, Params};
use crate::oauth::pkce;
use crate::registry::apps::{AppType, AuthenticatedClient, OAuthApp};
use crate::server::AuthorizationServer;
use crate::storage::{
    CodeRecord, ConnectEmbed, GrantRecord, ResponseMode, SessionCompletion, SessionDecision,
    SessionRecord, SessionStatus, Storage, StorageError,
};

/// Whether `mode` can deliver to `redirect_uri`: `web_message` posts to
/// the redirect URI's origin, so it needs an `https` one (or `http` on
/// loopback, as registration allows); a private-use scheme has none.
fn valid_mode_for(redirect_uri: &str, mode: ResponseMode) -> bool {
    match mode {
        ResponseMode::WebMessage => {
            url::Url::parse(redirect_uri).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
        }
        _ => true,
    }
}

/// The `request_uri` scheme of pushed authorization requests (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The longest `state` accepted (it is stored and echoed).
pub const MAX_STATE_LEN: usize = 1024;

/// A problem the resource owner sees as a page, because there is no
/// verified redirect URI to send it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorPage {
    /// `client_id` is missing.
    MissingClientId,
    /// No client has this `client_id`.
    UnknownClient,
    /// `client_id`, `redirect_uri` or `request_uri` appears more than once.
    RepeatedParameter,
    /// `redirect_uri` is not one of the client's registered URIs.
    InvalidRedirectUri,
    /// `redirect_uri` is missing and the client registered several.
    MissingRedirectUri,
    /// The `request_uri` or Connect token is unknown or malformed.
    UnknownRequest,
    /// The request expired before it was completed.
    ExpiredRequest,
    /// The request was already approved or denied.
    CompletedRequest,
    /// The consent form's CSRF token is missing or wrong.
    InvalidCsrfToken,
    /// The server could not reach its storage; try again.
    TemporarilyUnavailable,
    /// The decision needs a signed-in end user and there is none.
    SignInRequired,
    /// A provider's callback with a missing, forged, reused or expired
    /// `state`.
    InvalidLinkState,
    /// A hosted Connect page, form post or provider callback from another
    /// browser than the one that claimed the session with its first form
    /// post (its binding cookie is missing or another).
    OtherBrowser,
}

impl ErrorPage {
    /// A short title for the page.
    pub fn title(self) -> &'static str {
        match self {
            Self::MissingClientId | Self::UnknownClient | Self::RepeatedParameter => {
                "This sign-in link is not valid"
            }
            Self::InvalidRedirectUri | Self::MissingRedirectUri => "This sign-in link is not valid",
            Self::UnknownRequest => "This link is not valid",
            Self::ExpiredRequest => "This link has expired",
            Self::CompletedRequest => "This request was already completed",
            Self::InvalidCsrfToken => "Your decision could not be verified",
            Self::TemporarilyUnavailable => "Temporarily unavailable",
            Self::SignInRequired => "Sign in to continue",
            Self::InvalidLinkState => "This link could not be verified",
            Self::OtherBrowser => "This Connect session was opened in another browser",
        }
    }

    /// What happened and what to do, for the resource owner.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingClientId => {
                "The application did not identify itself. Go back to the application and start again."
            }
            Self::UnknownClient => {
                "The application is not registered here. Go back to the application and start again."
            }
            Self::RepeatedParameter => {
                "The request repeats a parameter. Go back to the application and start again."
            }
            Self::InvalidRedirectUri => {
                "The application asked to return to an address it has not registered, so you were not sent there. Contact the application's developer."
            }
            Self::MissingRedirectUri => {
                "The application did not say where to return. Contact the application's developer."
            }
            Self::UnknownRequest => {
                "The link is unknown or incomplete. Go back to the application and start again."
            }
            Self::ExpiredRequest => {
                "The link is only valid for a short time. Go back to the application and start again."
            }
            Self::CompletedRequest => {
                "You already approved or denied this request. Go back to the application; start again there if needed."
            }
            Self::InvalidCsrfToken => {
                "The form could not be verified. Reload the page and try again."
            }
            Self::TemporarilyUnavailable => {
                "The service could not complete your request. Try again in a moment."
            }
            Self::SignInRequired => {
                "You need to be signed in to approve this request. Sign in, then start again from the application."
            }
            Self::InvalidLinkState => {
                "The return from the provider was not expected, was already used, or took too long. Go back to the application and start again."
            }
            Self::OtherBrowser => {
                "For your security, a Connect session continues only in the browser that opened it. Start again from the app."
            }
        }
    }

    /// The HTTP status for the page.
    pub fn status(self) -> u16 {
        match self {
            Self::ExpiredRequest | Self::CompletedRequest => 410,
            Self::UnknownRequest => 404,
            Self::InvalidCsrfToken | Self::OtherBrowser => 403,
            Self::TemporarilyUnavailable => 503,
            Self::SignInRequired => 401,
            _ => 400,
        }
    }
}

/// The authorization response (or error response) for the client: where it
/// goes and how.
///
/// With [`ResponseMode::Query`] the browser is redirected to
/// [`location`](Self::location). With [`ResponseMode::WebMessage`] a page
/// posts [`params`](Self::params) to the window that opened the
/// authorization page, with the origin of
/// [`redirect_uri`](Self::redirect_uri) as the target origin. A Connect
/// session opened by the embed script carries its [`embed`](Self::embed)
/// marker: the completion page posts the result to that window, and
/// [`location`](Self::location) is the fallback when it is gone.
///
/// `Debug` shows the redirect URI and the parameters' names, never their
/// values (the code, a scoped key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientRedirect {
    /// The full URL, parameters included: the redirect URI exactly as
    /// registered or requested, with the response parameters appended.
    pub location: RedactedUrl,
    /// The redirect URI, without the response parameters.
    pub redirect_uri: String,
    /// The response parameters, in order (`code`, `state`, `iss`, … or
    /// `error`, `error_description`, `state`, `iss`).
    pub params: Redacted<Vec<(String, String)>>,
    /// How the response reaches the client.
    pub response_mode: ResponseMode,
    /// For a Connect session opened by the embed script: how, and its
    /// nonce.
    pub embed: Option<ConnectEmbed>,
}

impl ClientRedirect {
    /// The response `params` for `redirect_uri`, delivered by `mode`.
    pub(crate) fn new(redirect_uri: &str, params: &[(&str, &str)], mode: ResponseMode) -> Self {
        Self {
            location: RedactedUrl::new(append_query(redirect_uri, params)),
            redirect_uri: redirect_uri.to_owned(),
            params: Redacted::new(
                params
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            response_mode: mode,
            embed: None,
        }
    }

    /// The value of the response parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why the authorization endpoint did not produce a consent prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// Show this page; the client's redirect URI is not verified.
    Page(ErrorPage),
    /// Redirect the browser here (RFC 6749 §4.1.2.1).
    Redirect(ClientRedirect),
}

/// The handle of a pending authorization, as the consent form posts it back
/// (`session`).
///
/// For a request made at the authorization endpoint it is the request
/// itself, sealed: encrypted and authenticated (ChaCha20-Poly1305) under a
/// key derived from the server key ring, so nothing is stored before the
/// resource owner decides. For a pushed request or a Connect session it is
/// the session's Connect token.
///
/// `Debug` redacts it.
#[derive(Clone, Debug)]
pub struct ConsentHandle(Secret);

impl ConsentHandle {
    /// The handle, for the form's hidden field.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    pub(crate) fn sealed(handle: String) -> Self {
        Self(Secret::new(handle))
    }
}

impl From<&ConnectToken> for ConsentHandle {
    fn from(token: &ConnectToken) -> Self {
        Self(Secret::from(token.expose_secret()))
    }
}

/// A validated authorization request waiting for the resource owner: what
/// the consent page shows and the hidden fields its form posts back.
///
/// `Debug` redacts the session handle and the CSRF token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsentPrompt {
    /// The pending authorization's handle; the form posts it back as
    /// `session`.
    pub session: ConsentHandle,
    /// The CSRF token bound to the session; the form posts it back as
    /// `csrf_token`.
    pub csrf_token: Secret,
    /// The client's app (show its name).
    pub app: OAuthApp,
    /// The requested scopes.
    pub scopes: ScopeSet,
    /// Where the browser returns.
    pub redirect_uri: String,
    /// When the prompt expires.
    pub expires_at: OffsetDateTime,
    /// Whether this is a Connect session (show the Connect page instead).
    pub connect: bool,
    /// How the decision's response reaches the client: a
    /// [`ResponseMode::WebMessage`] page keeps its opener (its
    /// Cross-Origin-Opener-Policy must not sever it).
    pub response_mode: ResponseMode,
}

/// What the authorization endpoint answers with
/// [`AuthorizationServer::authorize_request`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthorizationStep {
    /// Ask the resource owner: show the consent page (or, when
    /// [`ConsentPrompt::connect`], the Connect page).
    Consent(Box<ConsentPrompt>),
    /// The host's consent policy already covers the request: send the
    /// browser here (`303`), with `code`, `state` and `iss`.
    Approved(ClientRedirect),
}

/// The resource owner's decision on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Approve, as `subject`, for `scopes` (a subset of the requested scopes;
    /// `None` grants all of them).
    Approve {
        /// The resource owner, as the host's login identified them.
        subject: Subject,
        /// The scopes granted; `None` for all requested.
        scopes: Option<ScopeSet>,
    },
    /// Deny: the client gets `access_denied`.
    Deny,
}

/// The answer to a pushed authorization request (RFC 9126 §2.2).
///
/// `Debug` redacts the `request_uri`: it carries the session's handle, a
/// Connect token.
#[derive(Debug)]
#[non_exhaustive]
pub struct PushedRequest {
    /// `urn:ietf:params:oauth:request_uri:…`, for `/oauth/authorize`.
    pub request_uri: Redacted<String>,
    /// Seconds until it must be used.
    pub expires_in: i64,
}

/// An authorization request that passed every check.
pub(crate) struct ValidRequest {
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_in_request: bool,
    pub(crate) scopes: ScopeSet,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) response_mode: ResponseMode,
}

/// The response mode an error response uses: `web_message` when the request
/// asked for it, exactly once; `query` otherwise (also for an unknown or
/// repeated `response_mode`, the error being about it).
fn error_mode<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> ResponseMode {
    let mut modes = pairs.iter().filter(|(n, _)| n.as_ref() == "response_mode");
    match (modes.next(), modes.next()) {
        (Some((_, mode)), None) => ResponseMode::from_name(mode.as_ref()).unwrap_or_default(),
        _ => ResponseMode::Query,
    }
}

/// A problem found after the redirect URI is verified.
type RequestProblem = OAuthError;

fn problem(code: OAuthErrorCode, description: &'static str) -> RequestProblem {
    OAuthError::new(code, description)
}

impl<S: Storage> AuthorizationServer<S> {
    /// The CSRF token of a session: derived from its handle under the server
    /// key, so it needs no storage and cannot be computed without the key.
    pub(crate) fn session_csrf(&self, session: &ConnectToken) -> String {
        let keys = self.config().keys();
        keys.derive(
            session.key_id(),
            "consent_csrf",
            &[session.expose_secret().as_bytes()],
        )
        .map(|tag| URL_SAFE_NO_PAD.encode(tag))
        .unwrap_or_default()
    }

    pub(crate) fn check_csrf(&self, session: &ConnectToken, presented: &str) -> bool {
        let expected = self.session_csrf(session);
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }

    fn error_redirect(
        &self,
        redirect_uri: &str,
        error: &OAuthError,
        state: Option<&str>,
        mode: ResponseMode,
    ) -> AuthorizeError {
        let mut params = vec![
            ("error", error.code.as_str()),
            ("error_description", error.description),
        ];
        // RFC 6749 §4.1.2.1 returns the client's `state`; one longer than
        // the server accepts is refused, not reflected (the error is about
        // it, and a redirect must not carry whatever a link put there).
        if let Some(state) = state.filter(|s| s.len() <= MAX_STATE_LEN) {
            params.push(("state", state));
        }
        params.push(("iss", self.config().issuer_str()));
        AuthorizeError::Redirect(ClientRedirect::new(redirect_uri, &params, mode))
    }

    /// The authorization endpoint (`GET /oauth/authorize`, RFC 6749 §4.1.1):
    /// validates the request and seals it into the consent prompt as a
    /// pending authorization ([`ConsentHandle`]): nothing is stored before
    /// the resource owner decides, so unauthenticated requests cannot grow
    /// storage.
    ///
    /// `pairs` are the decoded query parameters in order. With `request_uri`
    /// (RFC 9126 §4) the pushed request, or a Connect session, is opened
    /// instead; reloading it is allowed until it completes or expires.
    ///
    /// If `scope` is omitted the request asks for every scope the app is
    /// allowed.
    ///
    /// # Errors
    ///
    /// [`AuthorizeError::Page`] while the client or its redirect URI is not
    /// verified; [`AuthorizeError::Redirect`] after.
    pub async fn begin_authorization<N, V>(
        &self,
        pairs: &[(N, V)],
    ) -> Result<ConsentPrompt, AuthorizeError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        match self.authorization(None, pairs).await? {
            AuthorizationStep::Consent(prompt) => Ok(*prompt),
            // Without the request's headers the consent policy is not asked.
            AuthorizationStep::Approved(to) => Err(AuthorizeError::Redirect(to)),
        }
    }

    /// The authorization endpoint as `GET /oauth/authorize` runs it: as
    /// [`begin_authorization`](Self::begin_authorization), and then, for a
    /// plain request (not pushed, not a Connect session) that passed every
    /// check, the host's consent policy
    /// ([`ResourceOwnerAuthenticator::prior_consent`](crate::ResourceOwnerAuthenticator::prior_consent))
    /// is asked with the request's `headers`: when it says the signed-in
    /// user already consented to every requested scope (and the client did
    /// not send `prompt=consent`), the grant and its code are issued at once
    /// and the answer is [`AuthorizationStep::Approved`], the redirect with
    /// `code`, `state` and `iss` (RFC 9207); otherwise the consent prompt.
    ///
    /// # Errors
    ///
    /// As [`begin_authorization`](Self::begin_authorization).
    ///
    /// # Security
    ///
    /// With the default policy ([`PriorConsent::Ask`](crate::hooks::resource_owner::PriorConsent::Ask))
    /// every request gets the consent page. See `prior_consent` for when
    /// answering without the page is safe (RFC 6749 §10.2).
    pub async fn authorize_request<N, V>(
        &self,
        headers: &HeaderMap,
        pairs: &[(N, V)],
    ) -> Result<AuthorizationStep, AuthorizeError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        self.authorization(Some(headers), pairs).await
    }

    async fn authorization<N, V>(
        &self,
        headers: Option<&HeaderMap>,
        pairs: &[(N, V)],
    ) -> Result<AuthorizationStep, AuthorizeError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        let page = AuthorizeError::Page;
        // RFC 6749 §3.1: parameters must not repeat. A repeated client_id,
        // redirect_uri or request_uri leaves nothing verified to redirect to
        // (§4.1.2.1), whatever else repeats before it.
        if params::any_repeated(pairs, &["client_id", "redirect_uri", "request_uri"]) {
            return Err(page(ErrorPage::RepeatedParameter));
        }
        let client_id =
            params::first(pairs, "client_id").ok_or(page(ErrorPage::MissingClientId))?;
        let app = self.client_app(client_id).await?;

        if let Some(request_uri) = params::first(pairs, "request_uri") {
            return self
                .open_pushed(&app, request_uri)
                .await
                .map(|prompt| AuthorizationStep::Consent(Box::new(prompt)));
        }

        // RFC 6749 §3.1.2.3: exact match against a registered URI (RFC 8252
        // §7.3: any port on loopback IPs); omitted only if one is registered.
        let (redirect_uri, in_request) = match params::first(pairs, "redirect_uri") {
            Some(requested) => match find_match(&app.redirect_uris, requested) {
                Some(_) => (requested.to_owned(), true),
                None => return Err(page(ErrorPage::InvalidRedirectUri)),
            },
            None => match app.redirect_uris.as_slice() {
                [only] => (only.as_str().to_owned(), false),
                _ => return Err(page(ErrorPage::MissingRedirectUri)),
            },
        };

        // From here on errors go to the verified redirect URI, by the
        // requested response mode when it is a valid one.
        let state = params::first(pairs, "state");
        let mode = error_mode(pairs);
        let params = Params::from_pairs(pairs).map_err(|_| {
            let err = problem(OAuthErrorCode::InvalidRequest, "a parameter is repeated");
            self.error_redirect(&redirect_uri, &err, state, ResponseMode::Query)
        })?;
        let valid = self
            .validate_request(&app, &params, redirect_uri.clone(), in_request)
            .map_err(|err| {
                // An error about the mode itself goes by the default mode.
                let mode = if valid_mode_for(&redirect_uri, mode) {
                    mode
                } else {
                    ResponseMode::Query
                };
                self.error_redirect(&redirect_uri, &err, state, mode)
            })?;
        let now = self.now();
        // The host's consent policy, for a request that does not ask for the
        // page explicitly (`prompt=consent`).
        let wants_page = params
            .get("prompt")
            .is_some_and(|prompt| prompt.split(' ').any(|p| p == "consent"));
        if let Some(headers) = headers.filter(|_| !wants_page) {
            let request = ConsentRequest {
                app: &app,
                scopes: &valid.scopes,
                redirect_uri: &valid.redirect_uri,
            };
            let owner = self.config().resource_owner();
            if let PriorConsent::Granted { subject, scopes } =
                owner.prior_consent(headers, &request).await
                && valid.scopes.is_subset_of(&scopes)
                && !valid.scopes.is_empty()
            {
                return self.approve_at_once(&app, valid, subject, now).await;
            }
        }
        // Nothing is stored before the resource owner decides: the request
        // travels sealed in the consent form (`consent_seal.rs`).
        let expires_at = now + self.config().lifetimes().consent;
        let sealed = self
            .seal_consent(&app, &valid, expires_at)
            .ok_or(page(ErrorPage::TemporarilyUnavailable))?;
        Ok(AuthorizationStep::Consent(Box::new(ConsentPrompt {
            csrf_token: Secret::new(sealed.csrf_token),
            session: sealed.handle,
            app,
            scopes: valid.scopes,
            redirect_uri: valid.redirect_uri,
            expires_at,
            connect: false,
            response_mode: valid.response_mode,
        })))
    }

    /// Issues the grant and code of a request the consent policy covers,
    /// and the redirect that carries the code.
    async fn approve_at_once(
        &self,
        app: &OAuthApp,
        valid: ValidRequest,
        subject: Subject,
        now: OffsetDateTime,
    ) -> Result<AuthorizationStep, AuthorizeError> {
        let unavailable = AuthorizeError::Page(ErrorPage::TemporarilyUnavailable);
        let binding = CodeBinding {
            workspace_id: &app.workspace_id,
            app_id: &app.id,
            client_id: &app.client_id,
            redirect_uri: &valid.redirect_uri,
            redirect_uri_in_request: valid.redirect_uri_in_request,
            code_challenge: valid.code_challenge.as_deref(),
        };
        let (grant, code_record, code) = self
            .new_code(&binding, subject, valid.scopes, now)
            .map_err(|_| unavailable.clone())?;
        match self.storage().insert_code(&grant, &code_record).await {
            Ok(()) => {}
            // The app was deleted a moment ago.
            Err(e) if e.kind() == crate::StorageErrorKind::NotFound => {
                return Err(AuthorizeError::Page(ErrorPage::UnknownClient));
            }
            Err(_) => return Err(unavailable),
        }
        Ok(AuthorizationStep::Approved(self.code_redirect(
            &valid.redirect_uri,
            &code,
            valid.state.as_deref(),
            valid.response_mode,
        )))
    }

    /// The redirect that carries a code: `code`, `state` (when the request
    /// had one) and `iss` (RFC 9207).
    fn code_redirect(
        &self,
        redirect_uri: &str,
        code: &AuthorizationCode,
        state: Option<&str>,
        mode: ResponseMode,
    ) -> ClientRedirect {
        let mut params = Vec::with_capacity(3);
        params.push(("code", code.expose_secret()));
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("iss", self.config().issuer_str()));
        ClientRedirect::new(redirect_uri, &params, mode)
    }

    fn prompt(&self, session: ConnectToken, app: OAuthApp, record: SessionRecord) -> ConsentPrompt {
        ConsentPrompt {
            csrf_token: Secret::new(self.session_csrf(&session)),
            session: ConsentHandle::from(&session),
            app,
            scopes: record.scopes,
            redirect_uri: record.redirect_uri,
            expires_at: record.expires_at,
            connect: record.connect.is_some(),
            response_mode: record.response_mode,
        }
    }

    fn new_session_handle(
        &self,
    ) -> Result<
        (ConnectToken, crate::credentials::keyring::CredentialHash),
        crate::model::random::RandomError,
    > {
        let config = self.config();
        ConnectToken::generate_hashed(config.prefixes(), config.keys(), config.rng())
    }

    async fn client_app(&self, client_id: &str) -> Result<OAuthApp, AuthorizeError> {
        let page = AuthorizeError::Page;
        let id = ClientId::parse(client_id).map_err(|_| page(ErrorPage::UnknownClient))?;
        match self.storage().get_app_by_client_id(&id).await {
            Ok(Some(record)) => Ok(record.app),
            Ok(None) => Err(page(ErrorPage::UnknownClient)),
            Err(_) => Err(page(ErrorPage::TemporarilyUnavailable)),
        }
    }

    /// Opens a pushed request or a Connect session by its `request_uri`.
    async fn open_pushed(
        &self,
        app: &OAuthApp,
        request_uri: &str,
    ) -> Result<ConsentPrompt, AuthorizeError> {
        let (session, record) = self.open_session_handle(request_uri).await?;
        // RFC 9126 §4: the request must come from the client that pushed it.
        if record.client_id != app.client_id {
            return Err(AuthorizeError::Page(ErrorPage::UnknownRequest));
        }
        Ok(self.prompt(session, app.clone(), record))
    }

    /// Opens a session by its handle (a Connect token, bare or as a
    /// `request_uri`) and checks it can still be completed.
    pub(crate) async fn open_session_handle(
        &self,
        handle: &str,
    ) -> Result<(ConnectToken, SessionRecord), AuthorizeError> {
        let page = AuthorizeError::Page;
        let token = handle.strip_prefix(REQUEST_URI_PREFIX).unwrap_or(handle);
        let config = self.config();
        let session = ConnectToken::parse(config.prefixes(), token)
            .map_err(|_| page(ErrorPage::UnknownRequest))?;
        let hash = session
            .hash(config.keys())
            .ok_or(page(ErrorPage::UnknownRequest))?;
        let now = self.now();
        let record = match self.storage().open_session(&hash, now).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(page(ErrorPage::UnknownRequest)),
            Err(_) => return Err(page(ErrorPage::TemporarilyUnavailable)),
        };
        if record.status != SessionStatus::Pending {
            return Err(page(ErrorPage::CompletedRequest));
        }
        if now >= record.expires_at || record.opened_at.is_none() {
            return Err(page(ErrorPage::ExpiredRequest));
        }
        Ok((session, record))
    }

    /// Checks everything after the redirect URI (RFC 6749 §4.1.1, RFC 7636
    /// §4.3, RFC 9700 §2.1.1).
    fn validate_request(
        &self,
        app: &OAuthApp,
        params: &Params<'_>,
        redirect_uri: String,
        redirect_uri_in_request: bool,
    ) -> Result<ValidRequest, RequestProblem> {
        use OAuthErrorCode::{InvalidRequest, InvalidScope, UnsupportedResponseType};
        match params.get("response_type") {
            None => return Err(problem(InvalidRequest, "response_type is required")),
            Some("code") => {}
            Some(_) => {
                return Err(problem(
                    UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        // RFC 6749 §3.1.1 (OAuth 2.0 Multiple Response Type Encoding
        // Practices §2.1): an unknown mode is an invalid request.
        let response_mode = match params.get("response_mode") {
            None => ResponseMode::Query,
            Some(name) => ResponseMode::from_name(name)
                .ok_or(problem(InvalidRequest, "unsupported response_mode"))?,
        };
        // web_message posts to the redirect URI's origin: it needs one.
        if !valid_mode_for(&redirect_uri, response_mode) {
            return Err(problem(
                InvalidRequest,
                "response_mode=web_message needs an https (or loopback http) redirect_uri",
            ));
        }
        let state = params.get("state");
        if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(problem(InvalidRequest, "state is too long"));
        }
        let scopes = match params.get("scope") {
            None => app.allowed_scopes.clone(),
            Some(scope) => {
                ScopeSet::parse(scope).map_err(|_| problem(InvalidScope, "scope is malformed"))?
            }
        };
        if !scopes.is_subset_of(&app.allowed_scopes) {
            return Err(problem(
                InvalidScope,
                "scope exceeds what the client is allowed",
            ));
        }
        let challenge = params.get("code_challenge");
        let method = params.get("code_challenge_method");
        let code_challenge = match (challenge, method) {
            (Some(c), Some("S256")) if pkce::is_well_formed(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return Err(problem(
                    InvalidRequest,
                    "code_challenge must be 43-128 unreserved characters",
                ));
            }
            // RFC 7636 §4.3: no method means "plain", which is refused.
            (Some(_), None | Some(_)) => {
                return Err(problem(
                    InvalidRequest,
                    "code_challenge_method must be S256",
                ));
            }
            (None, Some(_)) => {
                return Err(problem(
                    InvalidRequest,
                    "code_challenge_method without code_challenge",
                ));
            }
            (None, None) => None,
        };
        let required = match self.config().pkce() {
            PkcePolicy::RequiredForAll => true,
            PkcePolicy::RequiredForPublicClients => app.app_type == AppType::Public,
        };
        if required && code_challenge.is_none() {
            return Err(problem(InvalidRequest, "PKCE code_challenge is required"));
        }
        Ok(ValidRequest {
            redirect_uri,
            redirect_uri_in_request,
            scopes,
            state: state.map(str::to_owned),
            code_challenge,
            response_mode,
        })
    }

    /// A pushed authorization request (RFC 9126 §2) from an authenticated
    /// client: validates the parameters as the authorization endpoint would
    /// and returns a single-use `request_uri`.
    ///
    /// `pairs` are the decoded form parameters, client authentication
    /// excluded. `client_address` is the pushing client's
    /// ([`client_address`](Self::client_address)).
    ///
    /// # Errors
    ///
    /// [`PushError::Invalid`] for the JSON error response (RFC 9126 §2.3).
    ///
    /// # Security
    ///
    /// A public client's push needs no secret: its pushed requests are kept
    /// per client and address, at most
    /// [`public_pushed_request_cap`](crate::AuthorizationServerBuilder::public_pushed_request_cap)
    /// of them, a push beyond that replacing the oldest (whose
    /// `request_uri` then stops working). Without an address every such
    /// push of the client shares one bound. A confidential client's pushes
    /// are its own business and are not capped.
    pub async fn push_authorization_request<N, V>(
        &self,
        client: &AuthenticatedClient,
        pairs: &[(N, V)],
        client_address: Option<IpAddr>,
    ) -> Result<PushedRequest, PushError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        use OAuthErrorCode::InvalidRequest;
        let params = Params::from_pairs(pairs)
            .map_err(|_| problem(InvalidRequest, "a parameter is repeated"))?;
        let params = &params;
        let app = &client.app;
        // RFC 9126 §2.1: request_uri must not be pushed.
        if params.contains("request_uri") {
            return Err(problem(InvalidRequest, "request_uri must not be pushed").into());
        }
        if params
            .get("client_id")
            .is_some_and(|id| id != app.client_id.as_str())
        {
            return Err(problem(
                InvalidRequest,
                "client_id does not match the authenticated client",
            )
            .into());
        }
        let (redirect_uri, in_request) = match params.get("redirect_uri") {
            Some(requested) if find_match(&app.redirect_uris, requested).is_some() => {
                (requested.to_owned(), true)
            }
            Some(_) => return Err(problem(InvalidRequest, "redirect_uri is not registered").into()),
            None => match app.redirect_uris.as_slice() {
                [only] => (only.as_str().to_owned(), false),
                _ => return Err(problem(InvalidRequest, "redirect_uri is required").into()),
            },
        };
        let valid = self.validate_request(app, params, redirect_uri, in_request)?;
        let now = self.now();
        let lifetimes = self.config().lifetimes();
        let (session, hash) = self.new_session_handle()?;
        let record = SessionRecord {
            hash,
            workspace_id: app.workspace_id.clone(),
            app_id: app.id.clone(),
            client_id: app.client_id.clone(),
            redirect_uri: valid.redirect_uri,
            redirect_uri_in_request: valid.redirect_uri_in_request,
            scopes: valid.scopes,
            state: valid.state.map(Redacted::new),
            code_challenge: valid.code_challenge,
            response_mode: valid.response_mode,
            created_at: now,
            expires_at: now + lifetimes.consent,
            open_by: Some(now + lifetimes.pushed_request),
            opened_at: None,
            status: SessionStatus::Pending,
            connect: None,
        };
        if client.authenticated {
            self.storage().insert_session(&record).await?;
        } else {
            let keys = self.config().keys();
            let network = crate::server::client_address::limit_key(client_address);
            let requester = keys
                .hash(
                    keys.current_id(),
                    "pushed_request/requester",
                    &[app.client_id.as_str().as_bytes(), &network],
                )
                // Never fails with the current key; were it to, every such
                // push would share one bound: stricter, never looser.
                .unwrap_or_else(|| {
                    crate::credentials::keyring::CredentialHash::from_bytes([0; 32])
                });
            self.storage()
                .insert_pushed_session(
                    &record,
                    &requester,
                    self.config().public_pushed_request_cap(),
                )
                .await?;
        }
        Ok(PushedRequest {
            request_uri: Redacted::new(format!("{REQUEST_URI_PREFIX}{}", session.expose_secret())),
            expires_in: lifetimes.pushed_request.whole_seconds(),
        })
    }

    /// Records the resource owner's decision on the consent page and says
    /// where to send the browser (by `303 See Other`): approved, with `code`,
    /// `state` and `iss` (RFC 9207); denied, with `error=access_denied`.
    ///
    /// `session` and `csrf_token` are the consent form's hidden fields.
    /// Approving is single-use and atomic: of two tabs approving one
    /// request, one gets the code and the other a page saying it is done.
    /// A pushed request's decision (approve or deny) is recorded with its
    /// session; a request of the authorization endpoint, sealed in the page
    /// ([`ConsentHandle`]), writes nothing when denied (a denial after an
    /// approval is still refused as completed).
    ///
    /// # Errors
    ///
    /// [`AuthorizeError::Page`] for an unknown, expired or completed session
    /// or a wrong CSRF token; [`AuthorizeError::Redirect`] with
    /// `invalid_scope` when `scopes` exceed the request.
    ///
    /// # Security
    ///
    /// The host must establish `subject` with its own login before calling
    /// this, and must refuse a decision whose CSRF token is missing.
    pub async fn decide(
        &self,
        session: &str,
        csrf_token: &str,
        decision: Decision,
    ) -> Result<ClientRedirect, AuthorizeError> {
        let page = AuthorizeError::Page;
        let config = self.config();
        let Ok(handle) = ConnectToken::parse(config.prefixes(), session) else {
            return self.decide_sealed(session, csrf_token, decision).await;
        };
        if !self.check_csrf(&handle, csrf_token) {
            return Err(page(ErrorPage::InvalidCsrfToken));
        }
        let (handle, record) = self.open_session_handle(handle.expose_secret()).await?;
        // A Connect session completes only through its own page, which also
        // writes the customer and the connection.
        if record.connect.is_some() {
            return Err(page(ErrorPage::UnknownRequest));
        }
        let hash = handle
            .hash(config.keys())
            .ok_or(page(ErrorPage::UnknownRequest))?;
        let state = record.state.as_deref().map(String::as_str);
        let mode = record.response_mode;
        let now = self.now();
        let (stored, code) = match decision {
            Decision::Deny => (SessionDecision::Deny, None),
            Decision::Approve { subject, scopes } => {
                let scopes = scopes.unwrap_or_else(|| record.scopes.clone());
                if scopes.is_empty() || !scopes.is_subset_of(&record.scopes) {
                    let err = problem(
                        OAuthErrorCode::InvalidScope,
                        "granted scopes exceed the request",
                    );
                    return Err(self.error_redirect(&record.redirect_uri, &err, state, mode));
                }
                let (grant, code_record, code) = self
                    .new_code(&CodeBinding::of(&record), subject, scopes, now)
                    .map_err(|_| page(ErrorPage::TemporarilyUnavailable))?;
                (
                    SessionDecision::Approve {
                        grant: Box::new(grant),
                        code: Box::new(code_record),
                        connect: None,
                    },
                    Some(code),
                )
            }
        };
        match self.storage().complete_session(&hash, &stored, now).await {
            Ok(SessionCompletion::Completed(_)) => {}
            Ok(SessionCompletion::AlreadyCompleted(_)) => {
                return Err(page(ErrorPage::CompletedRequest));
            }
            Ok(SessionCompletion::Expired) => return Err(page(ErrorPage::ExpiredRequest)),
            Ok(SessionCompletion::NotFound) => return Err(page(ErrorPage::UnknownRequest)),
            Err(_) => return Err(page(ErrorPage::TemporarilyUnavailable)),
        }
        let issuer = config.issuer_str();
        let mut params = match &code {
            Some(code) => vec![("code", code.expose_secret())],
            None => vec![
                ("error", "access_denied"),
                ("error_description", "the resource owner denied the request"),
            ],
        };
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        Ok(ClientRedirect::new(&record.redirect_uri, &params, mode))
    }

    /// [`decide`](Self::decide) for a request sealed in the consent page.
    async fn decide_sealed(
        &self,
        session: &str,
        csrf_token: &str,
        decision: Decision,
    ) -> Result<ClientRedirect, AuthorizeError> {
        let page = AuthorizeError::Page;
        let request = self
            .open_consent(session)
            .ok_or(page(ErrorPage::UnknownRequest))?;
        if !self.check_sealed_csrf(&request, csrf_token) {
            return Err(page(ErrorPage::InvalidCsrfToken));
        }
        let now = self.now();
        if now >= request.expires_at {
            return Err(page(ErrorPage::ExpiredRequest));
        }
        let grant_id = self
            .sealed_grant_id(&request)
            .ok_or(page(ErrorPage::TemporarilyUnavailable))?;
        let state = request.state.as_deref();
        let mode = request.response_mode;
        let code = match decision {
            Decision::Deny => {
                match self.storage().get_grant(&grant_id).await {
                    Ok(None) => {}
                    Ok(Some(_)) => return Err(page(ErrorPage::CompletedRequest)),
                    Err(_) => return Err(page(ErrorPage::TemporarilyUnavailable)),
                }
                None
            }
            Decision::Approve { subject, scopes } => {
                let scopes = scopes.unwrap_or_else(|| request.scopes.clone());
                if scopes.is_empty() || !scopes.is_subset_of(&request.scopes) {
                    let err = problem(
                        OAuthErrorCode::InvalidScope,
                        "granted scopes exceed the request",
                    );
                    return Err(self.error_redirect(&request.redirect_uri, &err, state, mode));
                }
                let binding = CodeBinding {
                    workspace_id: &request.workspace_id,
                    app_id: &request.app_id,
                    client_id: &request.client_id,
                    redirect_uri: &request.redirect_uri,
                    redirect_uri_in_request: request.redirect_uri_in_request,
                    code_challenge: request.code_challenge.as_deref(),
                };
                let (mut grant, mut code_record, code) = self
                    .new_code(&binding, subject, scopes, now)
                    .map_err(|_| page(ErrorPage::TemporarilyUnavailable))?;
                // The grant's id says which request it answers, and it
                // outlives the request: a second decision finds it.
                grant.id = grant_id;
                grant.expires_at = grant.expires_at.max(Some(request.expires_at));
                code_record.grant_id = grant.id.clone();
                match self.storage().insert_code(&grant, &code_record).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == crate::StorageErrorKind::Conflict => {
                        return Err(page(ErrorPage::CompletedRequest));
                    }
                    // The app was deleted since.
                    Err(e) if e.kind() == crate::StorageErrorKind::NotFound => {
                        return Err(page(ErrorPage::UnknownRequest));
                    }
                    Err(_) => return Err(page(ErrorPage::TemporarilyUnavailable)),
                }
                Some(code)
            }
        };
        Ok(match &code {
            Some(code) => self.code_redirect(&request.redirect_uri, code, state, mode),
            None => {
                let mut params = vec![
                    ("error", "access_denied"),
                    ("error_description", "the resource owner denied the request"),
                ];
                if let Some(state) = state {
                    params.push(("state", state));
                }
                params.push(("iss", self.config().issuer_str()));
                ClientRedirect::new(&request.redirect_uri, &params, mode)
            }
        })
    }

    /// A new grant and its authorization code: 16 random bytes for the
    /// grant id and 32 for the code, in one draw from the CSPRNG.
    fn new_code(
        &self,
        binding: &CodeBinding<'_>,
        subject: Subject,
        scopes: ScopeSet,
        now: OffsetDateTime,
    ) -> Result<(GrantRecord, CodeRecord, AuthorizationCode), crate::model::random::RandomError>
    {
        let config = self.config();
        let expires_at = now + config.lifetimes().code;
        let mut random = Zeroizing::new([0u8; 16 + RANDOM_LEN]);
        config.rng().fill(random.as_mut_slice())?;
        let mut grant_id = [0u8; 16];
        grant_id.copy_from_slice(&random[..16]);
        let mut code_random = Zeroizing::new([0u8; RANDOM_LEN]);
        code_random.copy_from_slice(&random[16..]);
        let grant = GrantRecord {
            id: GrantId::from_bytes(&grant_id),
            workspace_id: binding.workspace_id.clone(),
            app_id: binding.app_id.clone(),
            client_id: binding.client_id.clone(),
            subject: Some(subject.clone()),
            scopes: scopes.clone(),
            created_at: now,
            expires_at: Some(expires_at),
            revoked_at: None,
        };
        let (code, hash) =
            AuthorizationCode::from_random(config.prefixes(), config.keys(), &code_random)?;
        let record = CodeRecord {
            hash,
            grant_id: grant.id.clone(),
            workspace_id: binding.workspace_id.clone(),
            app_id: binding.app_id.clone(),
            client_id: binding.client_id.clone(),
            redirect_uri: binding.redirect_uri.to_owned(),
            redirect_uri_in_request: binding.redirect_uri_in_request,
            code_challenge: binding.code_challenge.map(str::to_owned),
            scopes,
            subject,
            issued_at: now,
            expires_at,
            redeemed_at: None,
            scoped_key_id: None,
        };
        Ok((grant, record, code))
    }
}

/// What a code is bound to (RFC 6749 §4.1.3, RFC 7636 §4.6).
pub(crate) struct CodeBinding<'a> {
    pub(crate) workspace_id: &'a WorkspaceId,
    pub(crate) app_id: &'a AppId,
    pub(crate) client_id: &'a ClientId,
    pub(crate) redirect_uri: &'a str,
    pub(crate) redirect_uri_in_request: bool,
    pub(crate) code_challenge: Option<&'a str>,
}

impl<'a> CodeBinding<'a> {
    /// The binding of a pending authorization's code.
    pub(crate) fn of(session: &'a SessionRecord) -> Self {
        Self {
            workspace_id: &session.workspace_id,
            app_id: &session.app_id,
            client_id: &session.client_id,
            redirect_uri: &session.redirect_uri,
            redirect_uri_in_request: session.redirect_uri_in_request,
            code_challenge: session.code_challenge.as_deref(),
        }
    }
}

/// Why a pushed authorization request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The request is invalid; answer 400 with this error.
    #[error(transparent)]
    Invalid(#[from] OAuthError),
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] crate::model::random::RandomError),
}
