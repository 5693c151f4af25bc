//! The typed OAuth requests, parsed from a form body or a query string
//! ([`Params`]: every parameter at most once, an empty one absent, RFC
//! 6749 §3.1 and §3.2). The parse errors are the RFC 6749 §5.2 answers the
//! flows would give; the handlers report them after the client
//! authenticates, as the token endpoint always has.

use super::params::Params;
use crate::credentials::{Redacted, Secret};
use crate::hooks::events::Event;
use crate::oauth::client_auth::{BasicCredentials, ClientAuth};
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::request::{
    AuthorizationRequest, IntrospectionRequest, RevocationRequest, TokenRequest,
};
use crate::oauth::token::TokenError;
use crate::oauth::token::error::invalid_request;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// The client authentication of an endpoint request: `client_secret_basic`
/// (`basic`) or `client_secret_post` (`client_id` and `client_secret` in
/// the form), exactly one (RFC 6749 §2.3); a public client's `client_id`
/// alone.
pub(super) fn client_auth<S: Storage>(
    server: &AuthorizationServer<S>,
    basic: Option<BasicCredentials>,
    params: &Params<'_>,
) -> Result<ClientAuth, TokenError> {
    match basic {
        Some(basic) => {
            // RFC 6749 §2.3: one authentication method per request.
            if params.contains("client_secret") {
                return Err(invalid_request(
                    "use exactly one client authentication method",
                ));
            }
            if params
                .get("client_id")
                .is_some_and(|id| id != basic.client_id.as_str())
            {
                return Err(TokenError {
                    basic_auth: true,
                    ..invalid_request("client_id does not match the Authorization header")
                });
            }
            Ok(ClientAuth::Basic(basic))
        }
        None => {
            let Some(id) = params.get("client_id") else {
                server
                    .config()
                    .events()
                    .emit(&Event::ClientAuthenticationFailed {
                        client_id: None,
                        reason: "no client authentication",
                    });
                return Err(TokenError::new(
                    OAuthErrorCode::InvalidClient,
                    "client authentication is required",
                ));
            };
            let client_id = Redacted::new(id.to_owned());
            Ok(match params.get("client_secret") {
                Some(secret) => ClientAuth::Post {
                    client_id,
                    client_secret: Secret::from(secret),
                },
                None => ClientAuth::None { client_id },
            })
        }
    }
}

/// A token request (RFC 6749 §4.1.3, §6, §4.4) from the form.
pub(super) fn token_request(params: &Params<'_>) -> Result<TokenRequest, TokenError> {
    match params.get("grant_type") {
        None => Err(invalid_request("grant_type is required")),
        Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
            code: params
                .get("code")
                .map(Secret::from)
                .ok_or(invalid_request("code is required"))?,
            redirect_uri: params.get("redirect_uri").map(str::to_owned),
            code_verifier: params.get("code_verifier").map(Secret::from),
        }),
        Some("refresh_token") => Ok(TokenRequest::RefreshToken {
            refresh_token: params
                .get("refresh_token")
                .map(Secret::from)
                .ok_or(invalid_request("refresh_token is required"))?,
            scope: params.get("scope").map(str::to_owned),
        }),
        Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
            scope: params.get("scope").map(str::to_owned),
        }),
        Some(_) => Err(TokenError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "supported: authorization_code, refresh_token, client_credentials",
        )),
    }
}

/// The token of a revocation or introspection request.
fn presented_token(params: &Params<'_>) -> Result<(Secret, Option<String>), TokenError> {
    let token = params
        .get("token")
        .map(Secret::from)
        .ok_or(invalid_request("token is required"))?;
    Ok((token, params.get("token_type_hint").map(str::to_owned)))
}

/// A revocation request (RFC 7009 §2.1) from the form.
pub(super) fn revocation_request(params: &Params<'_>) -> Result<RevocationRequest, TokenError> {
    let (token, token_type_hint) = presented_token(params)?;
    let mut request = RevocationRequest::new(token);
    request.token_type_hint = token_type_hint;
    Ok(request)
}

/// An introspection request (RFC 7662 §2.1) from the form.
pub(super) fn introspection_request(
    params: &Params<'_>,
) -> Result<IntrospectionRequest, TokenError> {
    let (token, token_type_hint) = presented_token(params)?;
    let mut request = IntrospectionRequest::new(token);
    request.token_type_hint = token_type_hint;
    Ok(request)
}

/// An authorization request from its parameters, `get` answering each
/// one's value (`None` when absent or empty). For the query of
/// `GET /oauth/authorize` it answers the first occurrence: whether any
/// repeats is for the caller to tell ([`params::first_duplicate`]), as the
/// endpoint reports it only once the client and its redirect URI are
/// verified (RFC 6749 §4.1.2.1).
pub(super) fn authorization_request<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
) -> AuthorizationRequest {
    let get = |name: &str| get(name).map(str::to_owned);
    AuthorizationRequest {
        client_id: get("client_id"),
        response_type: get("response_type"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state").map(Redacted::new),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        response_mode: get("response_mode"),
        prompt: get("prompt"),
        request_uri: get("request_uri"),
    }
}
