//! The building blocks that keep secrets and sensitive values out of logs.
//!
//! * [`Secret`]: a credential's text. Zeroized on drop, compared in constant
//!   time, `Debug` prints `"[redacted]"`, no `Display`, no serde: the text
//!   leaves only through [`Secret::expose_secret`]. Every credential type of
//!   the crate ([`Credential`](crate::credentials::Credential), scoped keys,
//!   browser secrets, consent handles, CSRF tokens, presented client
//!   secrets) is built on it.
//! * [`Redacted`]: a value that is not a credential but must not be printed
//!   (a client's `state`, a `request_uri`, a presented client id). `Debug`
//!   prints `"[redacted]"`; it compares and (de)serializes as the value.
//! * [`RedactedUrl`]: a URL that carries codes or tokens in its query.
//!   `Debug` shows it up to the query, then each parameter's name with its
//!   value redacted, and drops the fragment: enough to debug a redirect,
//!   nothing to replay.
//!
//! Structs that hold them derive `Debug` and stay safe when a field is
//! added: there is no hand-written `Debug` to forget to update.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// What `Debug` prints in place of a hidden value (quoted, as a string field
/// would be).
const REDACTED: &str = "[redacted]";

/// A secret's text: zeroized on drop, compared in constant time, never
/// printed (`Debug` prints `"[redacted]"`; there is no `Display` and no
/// serialization).
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `text` (moved, not copied).
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The text.
    ///
    /// # Security
    ///
    /// Never log or store it; hand it to its holder, or compare it through
    /// `==` (constant-time).
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(text: Zeroizing<String>) -> Self {
        Self(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self::new(text.to_owned())
    }
}

/// One of the building blocks: it prints nothing of the text.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(REDACTED, f)
    }
}

impl ConstantTimeEq for Secret {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.as_bytes().ct_eq(other.0.as_bytes())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Secret {}

/// A value that is not a credential but must not be printed: `Debug`
/// prints `"[redacted]"`. Otherwise it is the value: it dereferences to it,
/// compares as it and (de)serializes as it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Redacted<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: AsRef<U>, U: ?Sized> AsRef<U> for Redacted<T> {
    fn as_ref(&self) -> &U {
        self.0.as_ref()
    }
}

impl<T: Zeroize> Zeroize for Redacted<T> {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Redacted<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// One of the building blocks: it prints nothing of the value.
impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(REDACTED, f)
    }
}

/// A URL whose query may carry codes, tokens or `state`. `Debug` shows it up
/// to the query, then each parameter's name with its value redacted; the
/// fragment is left out. It dereferences to the URL.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedactedUrl(String);

impl RedactedUrl {
    /// Wraps `url`.
    pub const fn new(url: String) -> Self {
        Self(url)
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl Deref for RedactedUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for RedactedUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

/// One of the building blocks: names of the query's parameters only.
impl fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_redacted_url(&self.0, f)
    }
}

/// `url` as [`RedactedUrl`]'s `Debug` shows it.
fn fmt_redacted_url(url: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let url = url.split('#').next().unwrap_or_default();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    write!(f, "\"{base}")?;
    for (i, pair) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
        let name = pair.split('=').next().unwrap_or_default();
        let separator = if i == 0 { '?' } else { '&' };
        write!(f, "{separator}{}=[redacted]", name.escape_debug())?;
    }
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::{Redacted, RedactedUrl, Secret};

    #[test]
    fn redacted_urls_keep_the_names_and_drop_every_value_and_the_fragment() {
        let shown = |url: &str| format!("{:?}", RedactedUrl::new(url.to_owned()));
        assert_eq!(
            shown("https://app.example.com/cb?code=oc_code_secret&state=s%20t&iss=x"),
            "\"https://app.example.com/cb?code=[redacted]&state=[redacted]&iss=[redacted]\""
        );
        assert_eq!(
            shown("com.example.app:/cb?tenant=a&&flag#frag=secret"),
            "\"com.example.app:/cb?tenant=[redacted]&flag=[redacted]\""
        );
        assert_eq!(
            shown("https://app.example.com/cb"),
            "\"https://app.example.com/cb\""
        );
        assert_eq!(
            shown("https://x.example/\"?a\"b=1"),
            "\"https://x.example/\"?a\\\"b=[redacted]\""
        );
    }

    #[test]
    fn secrets_compare_by_content_and_redacted_values_serialize_as_themselves() {
        assert_eq!(Secret::from("a"), Secret::from("a"));
        assert_ne!(Secret::from("a"), Secret::from("b"));
        assert_ne!(Secret::from("a"), Secret::from("ab"));
        let state = Redacted::new("s".to_owned());
        assert_eq!(serde_json::to_string(&state).unwrap(), "\"s\"");
        let back: Redacted<String> = serde_json::from_str("\"s\"").unwrap();
        assert_eq!(back, state);
        assert_eq!(&*back, "s");
    }
}
