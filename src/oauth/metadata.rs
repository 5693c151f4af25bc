//! Authorization server metadata (RFC 8414).

use serde::Serialize;

use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// The paths of the endpoints, relative to the issuer.
pub(crate) mod paths {
    #[allow(dead_code)] // routed by the HTTP layer
    pub(crate) const METADATA: &str = "/.well-known/oauth-authorization-server";
    pub(crate) const AUTHORIZE: &str = "/oauth/authorize";
    pub(crate) const TOKEN: &str = "/oauth/token";
    pub(crate) const PAR: &str = "/oauth/par";
    pub(crate) const REVOKE: &str = "/oauth/revoke";
    pub(crate) const INTROSPECT: &str = "/oauth/introspect";
}

/// The metadata document served at
/// `/.well-known/oauth-authorization-server` (RFC 8414 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Metadata {
    /// The issuer identifier.
    pub issuer: String,
    /// RFC 6749 §3.1.
    pub authorization_endpoint: String,
    /// RFC 6749 §3.2.
    pub token_endpoint: String,
    /// RFC 9126 §5.
    pub pushed_authorization_request_endpoint: String,
    /// RFC 7009 (via RFC 8414 §2).
    pub revocation_endpoint: String,
    /// RFC 7662 (via RFC 8414 §2).
    pub introspection_endpoint: String,
    /// `["code"]`.
    pub response_types_supported: Vec<&'static str>,
    /// `["query", "web_message"]`: the redirect (RFC 6749 §4.1.2), and
    /// `postMessage` to the opener (the OAuth 2.0 Web Message Response
    /// Mode draft).
    pub response_modes_supported: Vec<&'static str>,
    /// The grant types the token endpoint runs.
    pub grant_types_supported: Vec<&'static str>,
    /// `["S256"]`: `plain` is never accepted.
    pub code_challenge_methods_supported: Vec<&'static str>,
    /// Client authentication at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Client authentication at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Client authentication at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// The scopes, where configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// RFC 9207: `iss` is in every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9126 §5: pushed requests are optional.
    pub require_pushed_authorization_requests: bool,
}

impl<S: Storage> AuthorizationServer<S> {
    /// The RFC 8414 metadata document.
    pub fn metadata(&self) -> Metadata {
        let issuer = self.config().issuer_str().to_owned();
        let endpoint = |path: &str| format!("{issuer}{path}");
        let auth_methods = vec!["client_secret_basic", "client_secret_post", "none"];
        Metadata {
            authorization_endpoint: endpoint(paths::AUTHORIZE),
            token_endpoint: endpoint(paths::TOKEN),
            pushed_authorization_request_endpoint: endpoint(paths::PAR),
            revocation_endpoint: endpoint(paths::REVOKE),
            introspection_endpoint: endpoint(paths::INTROSPECT),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query", "web_message"],
            grant_types_supported: vec![
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ],
            code_challenge_methods_supported: vec!["S256"],
            token_endpoint_auth_methods_supported: auth_methods.clone(),
            revocation_endpoint_auth_methods_supported: auth_methods,
            // RFC 7662 §2.1: introspection needs real client authentication.
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
            ],
            scopes_supported: self
                .config()
                .scopes_supported()
                .map(|s| s.iter().map(|s| s.as_str().to_owned()).collect()),
            authorization_response_iss_parameter_supported: true,
            require_pushed_authorization_requests: false,
            issuer,
        }
    }
}
