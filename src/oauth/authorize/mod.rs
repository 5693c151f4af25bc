//! The authorization endpoint (RFC 6749 §3.1, §4.1.1–§4.1.2.1), pushed
//! authorization requests (RFC 9126) and the resource owner's decision.
//!
//! The order of the checks is the security property here (RFC 6749
//! §4.1.2.1, RFC 9700 §4.1): nothing is ever sent to a redirect URI before
//! the client is known and the URI is one it registered. Until then every
//! problem is an [`ErrorPage`] for the host to render; after, problems go back
//! to the client by redirect, with `error`, the exact `state` and `iss`
//! (RFC 9207).
//!
//! One file per concern: [`validate`] (the request's checks), [`prompt`]
//! (the consent page's values), [`decide`] (the decision), [`par`] (RFC
//! 9126), [`redirect`] (the response for the client), [`error`].

use http::HeaderMap;
use time::OffsetDateTime;

use crate::credentials::{AuthorizationCode, ConnectToken, Secret};
use crate::hooks::resource_owner::{ConsentRequest, PriorConsent};
use crate::model::ids::{ClientId, Subject};
use crate::model::redirect::find_match;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::request::AuthorizationRequest;
use crate::registry::apps::OAuthApp;
use crate::server::AuthorizationServer;
use crate::storage::{ResponseMode, SessionRecord, SessionStatus, Storage};

mod decide;
pub(crate) mod error;
mod par;
mod prompt;
mod redirect;
mod validate;

pub(crate) use decide::CodeBinding;
pub use error::{AuthorizeError, ErrorPage};
pub use par::{PushError, PushedRequest, REQUEST_URI_PREFIX};
pub use prompt::{AuthorizeOutcome, ConsentHandle, ConsentPrompt, Decision};
pub use redirect::ClientRedirect;
pub use validate::MAX_STATE_LEN;
pub(crate) use validate::ValidRequest;
use validate::{error_mode, problem, valid_mode_for};

impl<S: Storage> AuthorizationServer<S> {
    /// The error response `error` for `redirect_uri`, with the request's
    /// `state` and `iss` (RFC 6749 §4.1.2.1, RFC 9207).
    pub(super) fn error_redirect(
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

    /// The redirect that carries a code: `code`, `state` (when the request
    /// had one) and `iss` (RFC 9207).
    pub(super) fn code_redirect(
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

    /// The authorization endpoint (`GET /oauth/authorize`, RFC 6749 §4.1.1):
    /// validates `request` and, for a plain request (not pushed, not a
    /// Connect session), asks the host's consent policy
    /// ([`ResourceOwnerAuthenticator::prior_consent`](crate::ResourceOwnerAuthenticator::prior_consent))
    /// with the request's `headers`. When it says the signed-in user already
    /// consented to every requested scope (and the client did not send
    /// `prompt=consent`), the grant and its code are issued at once and the
    /// answer is [`AuthorizeOutcome::Approved`], the redirect with `code`,
    /// `state` and `iss` (RFC 9207). Otherwise (and always without
    /// `headers`) the request is sealed into the consent prompt as a pending
    /// authorization ([`ConsentHandle`]): nothing is stored before the
    /// resource owner decides, so unauthenticated requests cannot grow
    /// storage.
    ///
    /// With `request_uri` (RFC 9126 §4) the pushed request, or a Connect
    /// session, is opened instead; reloading it is allowed until it
    /// completes or expires. If `scope` is omitted the request asks for
    /// every scope the app is allowed.
    ///
    /// # Errors
    ///
    /// [`AuthorizeError::Page`] while the client or its redirect URI is not
    /// verified; [`AuthorizeError::Redirect`], the error response for the
    /// client (RFC 6749 §4.1.2.1), after.
    ///
    /// # Security
    ///
    /// With the default policy ([`PriorConsent::Ask`](crate::hooks::resource_owner::PriorConsent::Ask))
    /// every request gets the consent page. See `prior_consent` for when
    /// answering without the page is safe (RFC 6749 §10.2).
    pub async fn authorize_request(
        &self,
        headers: Option<&HeaderMap>,
        request: &AuthorizationRequest,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        self.authorization(headers, request, false).await
    }

    /// [`authorize_request`](Self::authorize_request), for a request whose
    /// query `repeated` a parameter other than `client_id`, `redirect_uri`
    /// and `request_uri` (RFC 6749 §3.1; those three are the HTTP layer's
    /// page): an error for the client once the redirect URI is verified.
    pub(crate) async fn authorization(
        &self,
        headers: Option<&HeaderMap>,
        request: &AuthorizationRequest,
        repeated: bool,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let page = AuthorizeError::Page;
        let client_id = request
            .client_id
            .as_deref()
            .ok_or(page(ErrorPage::MissingClientId))?;
        let app = self.client_app(client_id).await?;

        if let Some(request_uri) = request.request_uri.as_deref() {
            return self
                .open_pushed(&app, request_uri)
                .await
                .map(|prompt| AuthorizeOutcome::Consent(Box::new(prompt)));
        }

        // RFC 6749 §3.1.2.3: exact match against a registered URI (RFC 8252
        // §7.3: any port on loopback IPs); omitted only if one is registered.
        let (redirect_uri, in_request) = match request.redirect_uri.as_deref() {
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
        let state = request.state.as_deref().map(String::as_str);
        if repeated {
            let err = problem(OAuthErrorCode::InvalidRequest, "a parameter is repeated");
            return Err(self.error_redirect(&redirect_uri, &err, state, ResponseMode::Query));
        }
        let mode = error_mode(request);
        let valid = self
            .validate_request(&app, request, redirect_uri.clone(), in_request)
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
        let wants_page = request
            .prompt
            .as_deref()
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
        Ok(AuthorizeOutcome::Consent(Box::new(ConsentPrompt {
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
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
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
            Err(e) if e.kind() == crate::storage::StorageErrorKind::NotFound => {
                return Err(AuthorizeError::Page(ErrorPage::UnknownClient));
            }
            Err(_) => return Err(unavailable),
        }
        Ok(AuthorizeOutcome::Approved(self.code_redirect(
            &valid.redirect_uri,
            &code,
            valid.state.as_deref(),
            valid.response_mode,
        )))
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
}
