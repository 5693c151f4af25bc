//! The OAuth 2.0 flows: authorization (RFC 6749 §4.1, RFC 9126 PAR, RFC
//! 9207), PKCE (RFC 7636), the token endpoint, revocation (RFC 7009),
//! introspection (RFC 7662) and metadata (RFC 8414).

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub(crate) mod consent_seal;
pub(crate) mod error;
pub(crate) mod metadata;
pub(crate) mod params;
pub(crate) mod pkce;
pub(crate) mod token;
