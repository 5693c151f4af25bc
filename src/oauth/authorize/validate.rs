//! The checks of an authorization request after its redirect URI is
//! verified (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 9700 §2.1.1), shared by
//! the authorization endpoint and PAR.

use crate::model::scope::ScopeSet;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::pkce;
use crate::oauth::request::AuthorizationRequest;
use crate::registry::apps::{AppType, OAuthApp};
use crate::server::AuthorizationServer;
use crate::storage::{ResponseMode, Storage};

/// Whether `mode` can deliver to `redirect_uri`: `web_message` posts to
/// the redirect URI's origin, so it needs an `https` one (or `http` on
/// loopback, as registration allows); a private-use scheme has none.
pub(super) fn valid_mode_for(redirect_uri: &str, mode: ResponseMode) -> bool {
    match mode {
        ResponseMode::WebMessage => {
            url::Url::parse(redirect_uri).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
        }
        _ => true,
    }
}

/// The longest `state` accepted (it is stored and echoed).
pub const MAX_STATE_LEN: usize = 1024;

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
/// asked for it; `query` otherwise (also for an unknown `response_mode`, the
/// error being about it; a repeated one is the repetition's error, by
/// `query`).
pub(super) fn error_mode(request: &AuthorizationRequest) -> ResponseMode {
    request
        .response_mode
        .as_deref()
        .and_then(ResponseMode::from_name)
        .unwrap_or_default()
}

/// A problem found after the redirect URI is verified.
pub(super) type RequestProblem = OAuthError;

pub(super) fn problem(code: OAuthErrorCode, description: &'static str) -> RequestProblem {
    OAuthError::new(code, description)
}

impl<S: Storage> AuthorizationServer<S> {
    /// Checks everything after the redirect URI (RFC 6749 §4.1.1, RFC 7636
    /// §4.3, RFC 9700 §2.1.1).
    pub(super) fn validate_request(
        &self,
        app: &OAuthApp,
        request: &AuthorizationRequest,
        redirect_uri: String,
        redirect_uri_in_request: bool,
    ) -> Result<ValidRequest, RequestProblem> {
        use OAuthErrorCode::{InvalidRequest, InvalidScope, UnsupportedResponseType};
        match request.response_type.as_deref() {
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
        let response_mode = match request.response_mode.as_deref() {
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
        let state = request.state.as_deref().map(String::as_str);
        if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(problem(InvalidRequest, "state is too long"));
        }
        let scopes = match request.scope.as_deref() {
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
        let challenge = request.code_challenge.as_deref();
        let method = request.code_challenge_method.as_deref();
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
        let required =
            !self.config().pkce_for_public_clients_only() || app.app_type == AppType::Public;
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
}
