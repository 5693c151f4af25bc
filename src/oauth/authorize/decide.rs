//! The resource owner's decision on the consent page (RFC 6749 §4.1.2),
//! the consent form's CSRF token, and the code a decision issues.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::error::{AuthorizeError, ErrorPage};
use super::prompt::Decision;
use super::redirect::ClientRedirect;
use super::validate::problem;
use crate::credentials::{AuthorizationCode, ConnectToken, RANDOM_LEN};
use crate::model::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId};
use crate::model::scope::ScopeSet;
use crate::oauth::error::OAuthErrorCode;
use crate::server::AuthorizationServer;
use crate::storage::{
    CodeRecord, GrantRecord, SessionCompletion, SessionDecision, SessionRecord, Storage,
};

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

    /// Records the resource owner's decision on the consent page and says
    /// where to send the browser (by `303 See Other`): approved, with `code`,
    /// `state` and `iss` (RFC 9207); denied, with `error=access_denied`.
    ///
    /// `session` and `csrf_token` are the consent form's hidden fields.
    /// Approving is single-use and atomic: of two tabs approving one
    /// request, one gets the code and the other a page saying it is done.
    /// A pushed request's decision (approve or deny) is recorded with its
    /// session; a request of the authorization endpoint, sealed in the page
    /// ([`ConsentHandle`](super::ConsentHandle)), writes nothing when denied (a denial after an
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
                    Err(e) if e.kind() == crate::storage::StorageErrorKind::Conflict => {
                        return Err(page(ErrorPage::CompletedRequest));
                    }
                    // The app was deleted since.
                    Err(e) if e.kind() == crate::storage::StorageErrorKind::NotFound => {
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
    pub(crate) fn new_code(
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
