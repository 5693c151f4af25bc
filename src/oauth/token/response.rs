//! What the token endpoint issues: the RFC 6749 §5.1 response, and the
//! token records behind it.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::credentials::keyring::CredentialHash;
use crate::credentials::scoped_key::ScopedKey;
use crate::credentials::{AccessToken, RANDOM_LEN, RefreshToken};
use crate::model::scope::ScopeSet;
use crate::server::AuthorizationServer;
use crate::storage::{GrantRecord, Storage, TokenKind, TokenRecord};

/// A successful token response (RFC 6749 §5.1). Serializes to its JSON
/// body; the HTTP layer adds `Cache-Control: no-store`.
#[derive(Debug)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token, for the authorization-code and refresh grants.
    pub refresh_token: Option<RefreshToken>,
    /// The access token's scopes.
    pub scope: ScopeSet,
    /// A scoped key minted by the Connect session this code completed, when
    /// the session asked for one (server-side delivery).
    pub scoped_key: Option<ScopedKey>,
}

impl Serialize for TokenResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("access_token", self.access_token.expose_secret())?;
        map.serialize_entry("token_type", "Bearer")?;
        map.serialize_entry("expires_in", &self.expires_in)?;
        if let Some(refresh) = &self.refresh_token {
            map.serialize_entry("refresh_token", refresh.expose_secret())?;
        }
        map.serialize_entry("scope", &self.scope.to_param())?;
        if let Some(key) = &self.scoped_key {
            map.serialize_entry("scoped_key", key.expose_secret())?;
        }
        map.end()
    }
}

impl TokenResponse {
    /// The JSON body, exactly as its `Serialize` implementation writes it
    /// with `serde_json`, but written directly: credentials are base64url
    /// after an `[a-z0-9_]` prefix and scope tokens exclude `"` and `\`
    /// (RFC 6749 §3.3), so nothing needs escaping. A value that would need
    /// it (never expected) goes through `serde_json` instead.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let access = self.access_token.expose_secret();
        let refresh = self.refresh_token.as_ref().map(RefreshToken::expose_secret);
        let key = self.scoped_key.as_ref().map(ScopedKey::expose_secret);
        let scopes_plain = self.scope.iter().all(|s| plain(s.as_str()));
        if !(plain(access) && refresh.is_none_or(plain) && key.is_none_or(plain) && scopes_plain) {
            return serde_json::to_vec(self);
        }
        let mut expires_in = itoa::Buffer::new();
        let expires_in = expires_in.format(self.expires_in);
        Ok(exact_json(|out| {
            out.put(b"{\"access_token\":\"");
            out.put(access.as_bytes());
            out.put(b"\",\"token_type\":\"Bearer\",\"expires_in\":");
            out.put(expires_in.as_bytes());
            if let Some(refresh) = refresh {
                out.put(b",\"refresh_token\":\"");
                out.put(refresh.as_bytes());
                out.put(b"\"");
            }
            out.put(b",\"scope\":\"");
            put_scopes(out, &self.scope);
            out.put(b"\"");
            if let Some(key) = key {
                out.put(b",\"scoped_key\":\"");
                out.put(key.as_bytes());
                out.put(b"\"");
            }
            out.put(b"}");
        }))
    }
}

/// Whether `text` goes into a JSON string as is: printable ASCII other
/// than `"` and `\` (what `serde_json` would write unchanged, and less:
/// it also leaves DEL and non-ASCII alone).
pub(crate) fn plain(text: &str) -> bool {
    text.bytes().fold(true, |ok, b| {
        ok & (b >= 0x20) & (b != b'"') & (b != b'\\') & (b < 0x7f)
    })
}

/// Where a JSON body written by hand goes: first a count of its bytes,
/// then a buffer of exactly that size (see [`exact_json`]).
pub(crate) trait JsonSink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl JsonSink for usize {
    fn put(&mut self, bytes: &[u8]) {
        *self += bytes.len();
    }
}

impl JsonSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// What `write` writes, in a vector whose capacity is its length: `write`
/// runs twice, once to count the bytes. A vector without spare capacity
/// becomes a `Bytes` body without another allocation (`bytes` allocates a
/// shared header for one with spare room).
pub(crate) fn exact_json(write: impl Fn(&mut dyn JsonSink)) -> Vec<u8> {
    let mut len = 0usize;
    write(&mut len);
    let mut out = Vec::with_capacity(len);
    write(&mut out);
    out
}

/// The scopes space-separated, as [`ScopeSet::to_param`] renders them.
pub(crate) fn put_scopes(out: &mut dyn JsonSink, scopes: &ScopeSet) {
    for (i, scope) in scopes.iter().enumerate() {
        if i > 0 {
            out.put(b" ");
        }
        out.put(scope.as_str().as_bytes());
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// A token record of `kind` for `grant`, issued `now` with the
    /// configured lifetime.
    pub(crate) fn new_token_record(
        &self,
        hash: CredentialHash,
        kind: TokenKind,
        grant: &GrantRecord,
        scopes: ScopeSet,
        now: OffsetDateTime,
    ) -> TokenRecord {
        let lifetimes = self.config().lifetimes();
        let lifetime = match kind {
            TokenKind::Access => lifetimes.access_token,
            TokenKind::Refresh => lifetimes.refresh_token,
        };
        TokenRecord {
            hash,
            kind,
            grant_id: grant.id.clone(),
            workspace_id: grant.workspace_id.clone(),
            app_id: grant.app_id.clone(),
            client_id: grant.client_id.clone(),
            subject: grant.subject.clone(),
            scopes,
            issued_at: now,
            expires_at: now + lifetime,
            rotated_at: None,
            successor: None,
        }
    }
}

/// The first [`RANDOM_LEN`] bytes of `bytes` (zero-padded if shorter, which
/// the callers' fixed-size buffers rule out).
pub(crate) fn array(bytes: &[u8]) -> Zeroizing<[u8; RANDOM_LEN]> {
    let mut out = Zeroizing::new([0u8; RANDOM_LEN]);
    for (dest, byte) in out.iter_mut().zip(bytes) {
        *dest = *byte;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::credentials::CredentialPrefixes;
    use crate::credentials::keyring::{KeyRing, ServerKey};
    use crate::model::random::SystemRandom;

    fn response(refresh: bool, scope: &str) -> TokenResponse {
        let prefixes = CredentialPrefixes::default();
        let keys = KeyRing::new(ServerKey::new(1, &[1; 32]).unwrap());
        let rng = SystemRandom::new();
        TokenResponse {
            access_token: AccessToken::generate_hashed(&prefixes, &keys, &rng)
                .unwrap()
                .0,
            expires_in: 3600,
            refresh_token: refresh.then(|| {
                RefreshToken::generate_hashed(&prefixes, &keys, &rng)
                    .unwrap()
                    .0
            }),
            scope: ScopeSet::parse(scope).unwrap(),
            scoped_key: None,
        }
    }

    #[test]
    fn exact_json_has_no_spare_capacity() {
        let tokens = response(true, "read:devices write:devices");
        let body = tokens.to_json().unwrap();
        assert_eq!(body.len(), body.capacity());
    }

    #[test]
    fn rfc6749_5_1_token_json_is_what_serde_json_writes() {
        for (refresh, scope) in [
            (true, "read:devices"),
            (false, "read:devices write:devices"),
            (true, "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~ z"),
        ] {
            let tokens = response(refresh, scope);
            assert_eq!(
                tokens.to_json().unwrap(),
                serde_json::to_vec(&tokens).unwrap(),
                "{scope}"
            );
            let parsed: serde_json::Value =
                serde_json::from_slice(&tokens.to_json().unwrap()).unwrap();
            assert_eq!(parsed["token_type"], "Bearer");
            assert_eq!(parsed["scope"], scope);
        }
    }
}
