//! Identifiers: workspaces, OAuth apps and client ids.
//!
//! Identifiers are not secrets. They are validated when they enter the crate
//! (from a URL path, a form or a database row) so the rest of the code only
//! ever handles well-formed ones.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::random::{RandomError, RandomSource, random_array};

/// An identifier failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}")]
pub struct InvalidId {
    what: &'static str,
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$meta])*
        ///
        /// Cheap to clone: the text is shared, not copied.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `value` as this kind of identifier.
            ///
            /// # Errors
            ///
            /// [`InvalidId`] when `value` is not well-formed.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> bool = $check;
                if check(value) {
                    Ok(Self(Arc::from(value)))
                } else {
                    Err(InvalidId { what: $what })
                }
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        // Written by hand, to be short (`AppId("app_…")`); ids are not
        // secrets.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        /// Lookups by `&str` in maps keyed by this id (the hash and the
        /// equality are those of the text).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

string_id!(
    /// A workspace: the tenant every app, session, customer and key belongs to.
    ///
    /// 1–64 characters of `A–Z a–z 0–9 _ -`. Nothing is ever visible across
    /// workspaces.
    WorkspaceId,
    "workspace id",
    |s| (1..=64).contains(&s.len()) && s.chars().all(is_token_char)
);

string_id!(
    /// The id of an OAuth app in the management API: `oauth_` and 32 hex digits.
    AppId,
    "OAuth app id",
    |s| s.strip_prefix("oauth_").is_some_and(|rest| is_lower_hex(rest, 32))
);

string_id!(
    /// An OAuth `client_id` (RFC 6749 §2.2): the configured client-id prefix
    /// (by default `oc_client_`) and 24 hex digits. Unique across workspaces.
    ClientId,
    "client id",
    |s| (1..=128).contains(&s.len()) && s.chars().all(is_token_char)
);

string_id!(
    /// A grant: what one resource owner (or, for `client_credentials`, the
    /// client itself) authorized for one client. Tokens belong to a grant;
    /// revoking it revokes them all. `grant_` and 32 hex digits.
    GrantId,
    "grant id",
    |s| s.strip_prefix("grant_").is_some_and(|rest| is_lower_hex(rest, 32))
);

string_id!(
    /// The resource owner of a grant, as the host identifies its end user:
    /// 1–255 characters, no control characters. Opaque to this crate.
    Subject,
    "subject",
    |s| (1..=255).contains(&s.chars().count()) && !s.chars().any(char::is_control)
);

string_id!(
    /// A customer: `cus_` and 32 hex digits.
    CustomerId,
    "customer id",
    |s| s.strip_prefix("cus_").is_some_and(|rest| is_lower_hex(rest, 32))
);

string_id!(
    /// A connection (what a completed Connect session leaves): `conn_` and
    /// 32 hex digits.
    ConnectionId,
    "connection id",
    |s| s.strip_prefix("conn_").is_some_and(|rest| is_lower_hex(rest, 32))
);

string_id!(
    /// A scoped key's record: `sk_` and 32 hex digits. Not the key itself.
    ScopedKeyId,
    "scoped key id",
    |s| s.strip_prefix("sk_").is_some_and(|rest| is_lower_hex(rest, 32))
);

string_id!(
    /// A publishable key's record: `pk_` and 32 hex digits. Not the key
    /// itself (that is `oc_pk_…`).
    PublishableKeyId,
    "publishable key id",
    |s| s.strip_prefix("pk_").is_some_and(|rest| is_lower_hex(rest, 32))
);

/// `prefix` followed by the lowercase hex of 16 bytes, as shared text: one
/// allocation (the text is written on the stack first).
fn prefixed_hex16(prefix: &str, bytes: &[u8; 16]) -> Arc<str> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 32];
    for (pair, b) in digits.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    let mut text = [0u8; 64];
    let len = prefix.len() + digits.len();
    match text.get_mut(..len) {
        Some(out) => {
            out[..prefix.len()].copy_from_slice(prefix.as_bytes());
            out[prefix.len()..].copy_from_slice(&digits);
            // ASCII throughout, so this is never the fallback.
            std::str::from_utf8(out).map_or_else(|_| Arc::from(""), Arc::from)
        }
        None => Arc::from(format!("{prefix}{}", hex(bytes))),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

impl AppId {
    pub(crate) fn generate(rng: &dyn RandomSource) -> Result<Self, RandomError> {
        Ok(Self(
            format!("oauth_{}", hex(&random_array::<16>(rng)?)).into(),
        ))
    }
}

macro_rules! random_id {
    ($name:ident, $prefix:literal) => {
        impl $name {
            pub(crate) fn generate(rng: &dyn RandomSource) -> Result<Self, RandomError> {
                Ok(Self(
                    format!(concat!($prefix, "{}"), hex(&random_array::<16>(rng)?)).into(),
                ))
            }
        }
    };
}

random_id!(CustomerId, "cus_");
random_id!(ConnectionId, "conn_");
random_id!(PublishableKeyId, "pk_");

impl ScopedKeyId {
    /// The id made of these 16 bytes (the scoped key carries them).
    pub(crate) fn from_bytes(bytes: &[u8; 16]) -> Self {
        Self(prefixed_hex16("sk_", bytes))
    }

    /// The 16 bytes the id is made of.
    pub(crate) fn to_bytes(&self) -> Option<[u8; 16]> {
        let hex = self.0.strip_prefix("sk_")?;
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }
}

impl GrantId {
    pub(crate) fn generate(rng: &dyn RandomSource) -> Result<Self, RandomError> {
        Ok(Self::from_bytes(&random_array::<16>(rng)?))
    }

    /// The id made of these 16 random bytes (drawn together with other
    /// random values of the same operation).
    pub(crate) fn from_bytes(bytes: &[u8; 16]) -> Self {
        Self(prefixed_hex16("grant_", bytes))
    }
}

impl ClientId {
    pub(crate) fn generate(prefix: &str, rng: &dyn RandomSource) -> Result<Self, RandomError> {
        Ok(Self(
            format!("{prefix}{}", hex(&random_array::<12>(rng)?)).into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::random::SystemRandom;

    #[test]
    fn generated_ids_parse_back() {
        let rng = SystemRandom::new();
        let app = AppId::generate(&rng).unwrap();
        assert_eq!(AppId::parse(app.as_str()).unwrap(), app);
        let client = ClientId::generate("oc_client_", &rng).unwrap();
        assert!(client.as_str().starts_with("oc_client_"));
        assert_eq!(ClientId::parse(client.as_str()).unwrap(), client);
    }

    #[test]
    fn malformed_ids_are_refused() {
        assert!(AppId::parse("oauth_XYZ").is_err());
        assert!(AppId::parse("oauth_0123456789abcdef0123456789abcde").is_err());
        assert!(WorkspaceId::parse("").is_err());
        assert!(WorkspaceId::parse(&"w".repeat(65)).is_err());
        assert!(WorkspaceId::parse("ws/../other").is_err());
        assert!(WorkspaceId::parse(&"w".repeat(64)).is_ok());
        assert!(ClientId::parse("client id with spaces").is_err());
    }

    #[test]
    fn ids_from_bytes_are_prefixed_lowercase_hex() {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8) * 17);
        let grant = GrantId::from_bytes(&bytes);
        assert_eq!(grant.as_str(), format!("grant_{}", hex(&bytes)));
        assert_eq!(GrantId::parse(grant.as_str()).unwrap(), grant);
        let key = ScopedKeyId::from_bytes(&bytes);
        assert_eq!(key.as_str(), "sk_00112233445566778899aabbccddeeff");
        assert_eq!(key.to_bytes(), Some(bytes));
    }
}
