//! Introspection (RFC 7662).

use serde::Serialize;

use super::error::TokenError;
use super::response::{exact_json, plain, put_scopes};
use super::revoke::Presented;
use crate::hooks::events::Event;
use crate::model::ids::{ClientId, Subject};
use crate::model::scope::ScopeSet;
use crate::oauth::client_auth::ClientAuth;
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::request::IntrospectionRequest;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// An RFC 7662 introspection response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
    /// The resource owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<Subject>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl Introspection {
    /// `{"active": false}`: all an inactive token reveals.
    pub fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            sub: None,
            exp: None,
            iat: None,
            token_type: None,
            iss: None,
        }
    }
}

/// What the introspection endpoint answers, before it is written: an
/// active token's fields are moved out of its record and written straight
/// into the JSON body ([`to_json`](Self::to_json)), without the copies an
/// [`Introspection`] holds (the scopes and the issuer as text).
#[derive(Debug, Clone)]
pub(crate) enum IntrospectionAnswer {
    /// `{"active": false}`.
    Inactive,
    /// An active access or refresh token of the requesting client.
    Token(ActiveToken),
    /// Anything else, already described (a scoped key).
    Described(Introspection),
}

/// An active token's fields, as its record holds them.
#[derive(Debug, Clone)]
pub(crate) struct ActiveToken {
    scopes: ScopeSet,
    client_id: ClientId,
    sub: Option<Subject>,
    exp: i64,
    iat: i64,
    token_type: &'static str,
}

impl ActiveToken {
    /// Whether no value (the issuer `issuer` included) needs escaping in
    /// JSON, so that [`to_json`](IntrospectionAnswer::to_json) may write
    /// the body itself.
    fn is_plain(&self, issuer: &str) -> bool {
        self.scopes.iter().all(|s| plain(s.as_str()))
            && plain(self.client_id.as_str())
            && self.sub.as_ref().is_none_or(|s| plain(s.as_str()))
            && plain(self.token_type)
            && plain(issuer)
    }
}

impl IntrospectionAnswer {
    /// The RFC 7662 §2.2 response, the server's issuer being `issuer`.
    pub(crate) fn into_introspection(self, issuer: &str) -> Introspection {
        match self {
            Self::Inactive => Introspection::inactive(),
            Self::Token(token) => Introspection {
                active: true,
                scope: Some(token.scopes.to_param()),
                client_id: Some(token.client_id),
                sub: token.sub,
                exp: Some(token.exp),
                iat: Some(token.iat),
                token_type: Some(token.token_type),
                iss: Some(issuer.to_owned()),
            },
            Self::Described(introspection) => introspection,
        }
    }

    /// The JSON body, exactly as `serde_json` writes
    /// [`into_introspection`](Self::into_introspection)'s answer, but
    /// written directly when nothing needs escaping (a value that would,
    /// such as a subject with a quote, goes through `serde_json`).
    pub(crate) fn to_json(&self, issuer: &str) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Self::Inactive => Ok(b"{\"active\":false}".to_vec()),
            Self::Token(token) if token.is_plain(issuer) => {
                let (mut exp, mut iat) = (itoa::Buffer::new(), itoa::Buffer::new());
                let (exp, iat) = (exp.format(token.exp), iat.format(token.iat));
                Ok(exact_json(|out| {
                    out.put(b"{\"active\":true,\"scope\":\"");
                    put_scopes(out, &token.scopes);
                    out.put(b"\",\"client_id\":\"");
                    out.put(token.client_id.as_str().as_bytes());
                    if let Some(sub) = &token.sub {
                        out.put(b"\",\"sub\":\"");
                        out.put(sub.as_str().as_bytes());
                    }
                    out.put(b"\",\"exp\":");
                    out.put(exp.as_bytes());
                    out.put(b",\"iat\":");
                    out.put(iat.as_bytes());
                    out.put(b",\"token_type\":\"");
                    out.put(token.token_type.as_bytes());
                    out.put(b"\",\"iss\":\"");
                    out.put(issuer.as_bytes());
                    out.put(b"\"}");
                }))
            }
            _ => serde_json::to_vec(&self.clone().into_introspection(issuer)),
        }
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// The introspection endpoint (`POST /oauth/introspect`, RFC 7662): a
    /// confidential client authenticates (public clients are refused,
    /// §2.1); an active token of its own is described, and
    /// anything else — expired, revoked, spent, unknown, another client's —
    /// is exactly `{"active": false}`.
    ///
    /// # Errors
    ///
    /// `invalid_client` (also for a public client).
    pub async fn introspect(
        &self,
        auth: &ClientAuth,
        request: &IntrospectionRequest,
    ) -> Result<Introspection, TokenError> {
        let answer = self.introspection_answer(auth, request).await?;
        Ok(answer.into_introspection(self.config().issuer_str()))
    }

    /// [`introspect`](Self::introspect)'s answer, not yet an
    /// [`Introspection`].
    pub(crate) async fn introspection_answer(
        &self,
        auth: &ClientAuth,
        request: &IntrospectionRequest,
    ) -> Result<IntrospectionAnswer, TokenError> {
        let client = self.introspecting_client(auth).await?;
        let token = request.token.expose_secret();
        if token.starts_with(self.config().prefixes().scoped_key()) {
            return self
                .introspect_scoped_key(&client, token)
                .await
                .map(IntrospectionAnswer::Described);
        }
        let Some((presented, hash)) = self.classify(token) else {
            return Ok(IntrospectionAnswer::Inactive);
        };
        let Some(record) = self.storage().get_token(&hash).await? else {
            return Ok(IntrospectionAnswer::Inactive);
        };
        let now = self.now();
        if record.client_id != client.app.client_id
            || record.is_expired(now)
            || record.rotated_at.is_some()
        {
            return Ok(IntrospectionAnswer::Inactive);
        }
        Ok(IntrospectionAnswer::Token(ActiveToken {
            scopes: record.scopes,
            client_id: record.client_id,
            sub: record.subject,
            exp: record.expires_at.unix_timestamp(),
            iat: record.issued_at.unix_timestamp(),
            token_type: match presented {
                Presented::Access => "Bearer",
                Presented::Refresh => "refresh_token",
            },
        }))
    }

    /// The client of an introspection request, authenticated as `auth`
    /// presents it: a confidential client only.
    ///
    /// # Errors
    ///
    /// `invalid_client` (also for a public client); storage errors.
    pub(crate) async fn introspecting_client(
        &self,
        auth: &ClientAuth,
    ) -> Result<AuthenticatedClient, TokenError> {
        let client = self.authenticate_endpoint_client(auth).await?;
        // RFC 7662 §2.1: the endpoint MUST require authorization, so that
        // it cannot be used to scan for tokens; a public client's
        // `client_id` alone proves nothing.
        if !client.authenticated {
            self.config()
                .events()
                .emit(&Event::ClientAuthenticationFailed {
                    client_id: Some(client.app.client_id.clone()),
                    reason: "public client at the introspection endpoint",
                });
            return Err(TokenError::new(
                OAuthErrorCode::InvalidClient,
                "introspection requires a confidential client's credentials",
            ));
        }
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn token(scope: &str, sub: Option<&str>, token_type: &'static str) -> IntrospectionAnswer {
        IntrospectionAnswer::Token(ActiveToken {
            scopes: ScopeSet::parse(scope).unwrap(),
            client_id: ClientId::parse("oc_client_0123456789abcdef01234567").unwrap(),
            sub: sub.map(|s| Subject::parse(s).unwrap()),
            exp: 1_765_003_600,
            iat: 1_765_000_000,
            token_type,
        })
    }

    #[test]
    fn rfc7662_2_2_introspection_json_is_what_serde_json_writes() {
        let issuer = "https://auth.example.com/upstream";
        for answer in [
            IntrospectionAnswer::Inactive,
            token("read:devices", None, "Bearer"),
            token(
                "read:devices write:devices",
                Some("user-42"),
                "refresh_token",
            ),
            token("a!#$%&'()*+,-./:;<=>?@[]^_`{|}~ z", Some("u"), "Bearer"),
            // Written by serde_json: these need escaping.
            token("read", Some("say \"hi\" \\ é"), "Bearer"),
            IntrospectionAnswer::Described(Introspection::inactive()),
        ] {
            let expected = serde_json::to_vec(&answer.clone().into_introspection(issuer)).unwrap();
            assert_eq!(
                String::from_utf8(answer.to_json(issuer).unwrap()).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
        let body = token("read:devices", Some("user-42"), "Bearer")
            .to_json(issuer)
            .unwrap();
        assert_eq!(body.len(), body.capacity());
    }
}
