//! Web origins, as an app registers them in `allowedOrigins`: the pages
//! from which a publishable key may create Connect sessions and which may
//! frame the hosted Connect page.
//!
//! An [`Origin`] is the ASCII serialisation of a tuple origin (RFC 6454
//! §6.2; the WHATWG URL standard's "serialization of an origin"), exactly as
//! a browser sends it in the `Origin` request header (RFC 6454 §7, Fetch
//! §3.1): `scheme://host[:port]`, lowercase, with no path, query, fragment
//! or user information and without the scheme's default port. It is
//! compared with the header as a plain string, so only that one spelling is
//! accepted. The scheme is `https`, or `http` on a loopback host
//! (`127.0.0.0/8`, `[::1]`, `localhost`), as for redirect URIs.

use std::fmt;

use crate::model::redirect::{RedirectUri, RedirectUriKind};

/// The longest origin accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 255;

/// Why a string is not an acceptable [`Origin`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Empty, too long, not printable ASCII, or not an absolute `https` or
    /// `http` URL with a host (the opaque origin `null` included).
    #[error(
        "must be an origin `https://host[:port]` (at most {MAX_ORIGIN_LEN} printable ASCII characters)"
    )]
    Malformed,
    /// A scheme other than `https` and `http`.
    #[error("must use the https scheme (or http on 127.0.0.1, [::1] or localhost)")]
    Scheme,
    /// `http` on a host that is not a loopback address.
    #[error("must use https unless the host is 127.0.0.0/8, [::1] or localhost")]
    InsecureHttp,
    /// A URL that names an origin but is not written the way a browser
    /// serialises it (a path, a query, uppercase letters, a default port).
    #[error("must be written exactly as a browser sends it in `Origin`: `{expected}`")]
    NotSerialized {
        /// The origin as a browser would send it.
        expected: String,
    },
}

/// A web origin in its serialised form (`scheme://host[:port]`, exactly as
/// browsers send it in the `Origin` header).
#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

impl Origin {
    /// Checks that `s` is an origin exactly as a browser serialises it.
    ///
    /// # Errors
    ///
    /// An [`OriginError`]; [`OriginError::NotSerialized`] tells the
    /// spelling to use instead.
    pub fn parse(s: &str) -> Result<Self, OriginError> {
        let expected = serialization(s)?;
        if expected != s {
            // Suggest only a spelling that is itself accepted: decoding can
            // turn `%2A` in a host into a `*`, which no origin may hold.
            return Err(match serialization(&expected) {
                Ok(again) if again == expected => OriginError::NotSerialized { expected },
                _ => OriginError::Malformed,
            });
        }
        Ok(Self(expected))
    }

    /// The origin's text, as the `Origin` header carries it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a browser writes the origin that `s` names, if `s` is an
/// acceptable origin URL at all (spelled that way or not).
fn serialization(s: &str) -> Result<String, OriginError> {
    if s.is_empty() || s.len() > MAX_ORIGIN_LEN {
        return Err(OriginError::Malformed);
    }
    let uri = RedirectUri::parse(s).map_err(|e| match e {
        crate::model::redirect::RedirectUriError::InsecureHttp => OriginError::InsecureHttp,
        crate::model::redirect::RedirectUriError::ForbiddenScheme { .. }
        | crate::model::redirect::RedirectUriError::DriveLetter { .. } => OriginError::Scheme,
        _ => OriginError::Malformed,
    })?;
    if uri.kind() == RedirectUriKind::PrivateUse {
        return Err(OriginError::Scheme);
    }
    uri.origin().ok_or(OriginError::Malformed)
}

impl TryFrom<String> for Origin {
    type Error = OriginError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Origin> for String {
    fn from(origin: Origin) -> Self {
        origin.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_serialisations_are_accepted() {
        for ok in [
            "https://app.example.com",
            "https://app.example.com:8443",
            "http://127.0.0.1:3000",
            "http://127.0.0.1",
            "http://[::1]:8080",
            "http://localhost:5173",
            "https://xn--bcher-kva.example",
        ] {
            assert_eq!(Origin::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn other_spellings_name_the_serialisation() {
        for (given, expected) in [
            ("https://app.example.com/", "https://app.example.com"),
            ("https://app.example.com/cb?x=1", "https://app.example.com"),
            ("https://App.Example.com", "https://app.example.com"),
            ("HTTPS://app.example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://localhost:80", "http://localhost"),
            ("http://[0:0:0:0:0:0:0:1]:80", "http://[::1]"),
        ] {
            assert_eq!(
                Origin::parse(given),
                Err(OriginError::NotSerialized {
                    expected: expected.to_owned()
                }),
                "{given}"
            );
        }
    }

    #[test]
    fn non_origins_are_refused() {
        for bad in [
            "",
            "null",
            "app.example.com",
            "https://",
            "https://user@app.example.com",
            "https://app.example.com#x",
            "https://*.example.com",
            "https://app.example.com\n",
            "https://bücher.example",
            // Decodes to a host with `*`: no spelling of it is an origin.
            "https://tap.example%2A:/x",
            "https://tap~.ext~.exttAP%2E%2Amla:/cexo/m",
        ] {
            assert_eq!(Origin::parse(bad), Err(OriginError::Malformed), "{bad}");
        }
        let long = format!("https://{}.example", "a".repeat(MAX_ORIGIN_LEN));
        assert_eq!(Origin::parse(&long), Err(OriginError::Malformed));
        for bad in [
            "ftp://app.example.com",
            "com.example.app:/",
            "wss://a.example",
        ] {
            assert_eq!(Origin::parse(bad), Err(OriginError::Scheme), "{bad}");
        }
        for bad in ["http://app.example.com", "http://10.0.0.1:3000"] {
            assert_eq!(Origin::parse(bad), Err(OriginError::InsecureHttp), "{bad}");
        }
    }
}
