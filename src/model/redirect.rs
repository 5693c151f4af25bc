//! Redirect URIs: registration rules and request matching.
//!
//! References: RFC 6749 §3.1.2, RFC 8252 §7.1, §7.3 and §8.3, and RFC 9700
//! §2.1 and §4.1.
//!
//! A [`RedirectUri`] keeps the string exactly as registered. It is never
//! normalised, because the redirect URI sent in an authorization request is
//! compared with the registered one as a plain string (RFC 9700 §4.1.3); the
//! only exception is the port of a loopback IP-literal `http` URI
//! (RFC 8252 §7.3).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use url::{Host, Url};

/// The longest redirect URI, in bytes, that is accepted for registration or
/// matched in a request.
pub(crate) const MAX_LEN: usize = 2048;

/// Schemes that can never be used for a redirect URI (compared
/// case-insensitively). Any other scheme is a private-use scheme
/// (RFC 8252 §7.1), so these are the ones that are not an app's callback:
const FORBIDDEN_SCHEMES: &[&str] = &[
    // Script or content the browser runs or shows in a context of its own
    // (RFC 9700 §4.1: `javascript:` and `data:` in particular).
    "javascript",
    "livescript",
    "vbscript",
    "data",
    "blob",
    "filesystem",
    "mhtml",
    "view-source",
    // Local files and the browsers' own pages.
    "file",
    "about",
    "chrome",
    "devtools",
    "edge",
    "opera",
    "brave",
    "vivaldi",
    "resource",
    "jar",
    // Operating-system handlers that act on the URL itself: Android
    // intents (any activity of any app), Windows search and shell, iOS app
    // installation.
    "intent",
    "android-app",
    "search",
    "search-ms",
    "shell",
    "itms-services",
    // Messaging and network protocols, never an app's callback.
    "mailto",
    "tel",
    "sms",
    "ws",
    "wss",
    "ftp",
    "sftp",
    "smb",
    "ssh",
    "telnet",
    "ldap",
    "gopher",
    "news",
    "nntp",
    "irc",
    // Names rather than locators: `urn:ietf:wg:oauth:2.0:oob` (the
    // out-of-band "redirect" RFC 8252 §7 does not list), message ids.
    "urn",
    "cid",
    "mid",
];

/// Scheme families that are never a callback: Windows' own handlers
/// (`ms-msdt:`, `ms-officecmd:`, `ms-settings:`…) and browser extensions
/// and internals (`chrome-extension:`, `moz-extension:`, `safari-extension:`,
/// `chrome-untrusted:`).
const FORBIDDEN_SCHEME_PREFIXES: &[&str] = &["ms-", "chrome-", "moz-", "safari-", "edge-"];

/// Whether `scheme` (lowercased) may never be a redirect URI's.
fn forbidden_scheme(scheme: &str) -> bool {
    FORBIDDEN_SCHEMES.contains(&scheme)
        || FORBIDDEN_SCHEME_PREFIXES
            .iter()
            .any(|prefix| scheme.starts_with(prefix))
}

/// Why a redirect URI was refused for registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// The string is empty.
    #[error("redirect URI must not be empty")]
    Empty,
    /// The string is longer than 2,048 bytes.
    #[error("redirect URI must be at most {max} bytes long")]
    TooLong {
        /// The maximum length in bytes.
        max: usize,
    },
    /// The string contains a byte that is not printable ASCII, a space, or a
    /// backslash (which URL parsers treat as `/`).
    #[error(
        "redirect URI must contain only printable ASCII characters without spaces or backslashes (invalid byte at index {index})"
    )]
    InvalidCharacter {
        /// Zero-based byte offset of the first invalid byte.
        index: usize,
    },
    /// The string contains `#`, i.e. a fragment, even an empty one.
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// The string contains the wildcard `*`.
    #[error("redirect URI must not contain a wildcard")]
    Wildcard,
    /// The string is not an absolute URL.
    #[error("redirect URI must be an absolute URL: {reason}")]
    Malformed {
        /// What the URL parser objected to.
        reason: String,
    },
    /// The authority carries user information (`user:pass@`).
    #[error("redirect URI must not contain user information")]
    UserInfo,
    /// The scheme is one that must never receive an authorization response.
    #[error("redirect URI must not use the `{scheme}` scheme")]
    ForbiddenScheme {
        /// The scheme, lowercased.
        scheme: String,
    },
    /// An `http` URI whose host is not a loopback address.
    #[error("redirect URI must use https unless the host is 127.0.0.0/8, [::1] or localhost")]
    InsecureHttp,
    /// An `https` or `http` URI without `//` and a host.
    #[error("redirect URI with the `{scheme}` scheme must have `//` followed by a host")]
    MissingHost {
        /// The scheme, lowercased.
        scheme: String,
    },
    /// A one-letter scheme: Windows reads `c:/…` as a drive, not a scheme.
    #[error(
        "redirect URI scheme `{scheme}` is a single letter, which reads as a Windows drive; use a reverse domain name such as `com.example.app`"
    )]
    DriveLetter {
        /// The scheme, lowercased.
        scheme: String,
    },
}

/// The kind of a registered redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedirectUriKind {
    /// An `https` URI.
    Https,
    /// An `http` URI on a loopback host (`127.0.0.0/8`, `[::1]` or
    /// `localhost`), for native apps (RFC 8252 §7.3).
    Loopback,
    /// A private-use URI scheme, such as `com.example.app:/cb` or
    /// `myapp://device/connected` (RFC 8252 §7.1, which recommends the
    /// reverse domain name form: a shorter scheme is accepted, but is more
    /// likely to be claimed by another app too).
    PrivateUse,
}

/// A redirect URI accepted for registration; holds the string exactly as
/// registered (never normalised).
#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(Arc<str>);

impl RedirectUri {
    /// Validates `s` against the registration rules and keeps it verbatim.
    ///
    /// Accepted are `https` URIs with a host (a web page, or a native app's
    /// claimed link: iOS universal links, Android App Links), `http` URIs on
    /// a loopback host (`127.0.0.0/8`, `[::1]` or `localhost`), and
    /// private-use schemes (RFC 8252 §7.1: `com.example.app:/cb`, or a
    /// single word such as `myapp://device/connected`).
    ///
    /// # Errors
    ///
    /// Returns a [`RedirectUriError`] if `s` is empty, longer than
    /// 2,048 bytes, contains anything but printable ASCII (or a space or
    /// backslash), contains `#` or `*`, is not an absolute URL, carries user
    /// information, uses a scheme that is not an app's callback
    /// (`javascript`, `data`, `file`, `about`, `blob`, `intent`, `mailto`,
    /// `ms-…`, …) or a one-letter one (a Windows drive), uses `http` on a
    /// non-loopback host, or lacks a host for `http`/`https`.
    pub fn parse(s: &str) -> Result<Self, RedirectUriError> {
        validate(s)?;
        Ok(Self(Arc::from(s)))
    }

    /// The URI exactly as registered.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which kind of redirect URI this is.
    #[must_use]
    pub fn kind(&self) -> RedirectUriKind {
        match raw_scheme(&self.0) {
            Some(s) if s.eq_ignore_ascii_case("https") => RedirectUriKind::Https,
            Some(s) if s.eq_ignore_ascii_case("http") => RedirectUriKind::Loopback,
            _ => RedirectUriKind::PrivateUse,
        }
    }

    /// Whether this is an `http` URI on an IP-literal loopback host
    /// (`127.0.0.0/8` or `[::1]`), the case where the port may vary
    /// (RFC 8252 §7.3). `localhost` is not an IP literal.
    #[must_use]
    pub fn is_loopback_ip(&self) -> bool {
        let Ok(url) = Url::parse(&self.0) else {
            return false;
        };
        url.scheme() == "http"
            && match url.host() {
                Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                _ => false,
            }
    }

    /// Whether a `redirect_uri` sent in an authorization request matches this
    /// registered one.
    ///
    /// The comparison is an exact string comparison (RFC 6749 §3.1.2.3,
    /// RFC 9700 §4.1.3), except that for a loopback IP-literal `http`
    /// registration the port may differ (RFC 8252 §7.3): the two raw strings
    /// are compared with the authority's `:port` removed from each, so an
    /// absent port matches any port. `localhost` gets no port exception
    /// (RFC 8252 §8.3 recommends against it). A requested string with a
    /// fragment, with whitespace or control characters, or longer than
    /// 2,048 bytes never matches.
    #[must_use]
    pub fn matches(&self, requested: &str) -> bool {
        if check_raw(requested).is_err() || requested.contains('#') {
            return false;
        }
        if *self.0 == *requested {
            return true;
        }
        if !self.is_loopback_ip() {
            return false;
        }
        match (strip_port(&self.0), strip_port(requested)) {
            (Some(registered), Some(req)) => registered == req && Url::parse(requested).is_ok(),
            _ => false,
        }
    }

    /// The origin (`scheme://host[:port]`, as serialised by a browser) for
    /// `https` and loopback `http` URIs; `None` for private-use schemes.
    #[must_use]
    pub fn origin(&self) -> Option<String> {
        if self.kind() == RedirectUriKind::PrivateUse {
            return None;
        }
        let origin = Url::parse(&self.0).ok()?.origin();
        origin.is_tuple().then(|| origin.ascii_serialization())
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectUriError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        validate(&s)?;
        Ok(Self(s.into()))
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.0.as_ref().to_owned()
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The registered URI that `requested` matches, if any (the first match, in
/// registration order). See [`RedirectUri::matches`].
#[must_use]
pub(crate) fn find_match<'a>(
    registered: &'a [RedirectUri],
    requested: &str,
) -> Option<&'a RedirectUri> {
    registered.iter().find(|r| r.matches(requested))
}

/// Applies the registration rules to `s`.
fn validate(s: &str) -> Result<(), RedirectUriError> {
    check_raw(s)?;
    if s.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if s.contains('*') {
        return Err(RedirectUriError::Wildcard);
    }
    let url = Url::parse(s).map_err(|e| RedirectUriError::Malformed {
        reason: e.to_string(),
    })?;
    let scheme = url.scheme().to_ascii_lowercase();
    if forbidden_scheme(&scheme) {
        return Err(RedirectUriError::ForbiddenScheme { scheme });
    }
    // The raw authority, if the string has one; the url crate accepts
    // `https:host` and `https:///host`, so look at the raw text.
    let authority = raw_authority(s);
    if authority.is_some_and(|a| a.contains('@')) || has_userinfo(&url) {
        return Err(RedirectUriError::UserInfo);
    }
    match scheme.as_str() {
        "https" | "http" => {
            if authority.is_none_or(str::is_empty) || url.host().is_none() {
                return Err(RedirectUriError::MissingHost { scheme });
            }
            if scheme == "http" && !is_loopback_host(&url) {
                return Err(RedirectUriError::InsecureHttp);
            }
            // A host name is letters, digits, `.`, `-` and `_` (the URL
            // standard lets `;`, `,`, quotes and more through, which would
            // break the CSP sources and headers made of the origin).
            if let Some(Host::Domain(host)) = url.host()
                && !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                return Err(RedirectUriError::Malformed {
                    reason: "a host name may hold only letters, digits, '.', '-' and '_'"
                        .to_owned(),
                });
            }
        }
        _ => {
            if scheme.len() == 1 {
                return Err(RedirectUriError::DriveLetter { scheme });
            }
        }
    }
    Ok(())
}

/// Checks emptiness, length and characters of the raw string.
fn check_raw(s: &str) -> Result<(), RedirectUriError> {
    if s.is_empty() {
        return Err(RedirectUriError::Empty);
    }
    if s.len() > MAX_LEN {
        return Err(RedirectUriError::TooLong { max: MAX_LEN });
    }
    match s.bytes().position(|b| !b.is_ascii_graphic() || b == b'\\') {
        Some(index) => Err(RedirectUriError::InvalidCharacter { index }),
        None => Ok(()),
    }
}

/// The raw scheme: everything before the first `:`.
fn raw_scheme(s: &str) -> Option<&str> {
    s.split_once(':').map(|(scheme, _)| scheme)
}

/// The raw authority (between `scheme://` and the next `/`, `?` or `#`), or
/// `None` if the string has no `//` right after the scheme.
fn raw_authority(s: &str) -> Option<&str> {
    let (_, rest) = s.split_once(':')?;
    let rest = rest.strip_prefix("//")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest.get(..end)
}

fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `s` with the `:port` of its raw authority removed, or `None` if `s` has
/// no authority, the authority holds userinfo, or the port is not digits.
fn strip_port(s: &str) -> Option<String> {
    let colon = s.find(':')?;
    let auth_start = colon + 1 + 2;
    let authority = raw_authority(s)?;
    if authority.contains('@') {
        return None;
    }
    let host_len = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let port = authority.get(host_len..)?;
    if !port.is_empty() {
        let digits = port.strip_prefix(':')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let head = s.get(..auth_start + host_len)?;
    let tail = s.get(auth_start + authority.len()..)?;
    Some(format!("{head}{tail}"))
}

/// `uri` with `params` appended to its query (keeping any query it has, as
/// RFC 6749 §3.1.2 requires of redirection endpoints), form-urlencoded.
pub(crate) fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    let base = uri.split_once('#').map_or(uri, |(base, _)| base);
    // Written straight into the result, with room for the common case
    // (little to escape): one allocation.
    let room: usize = params.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let mut out = String::with_capacity(base.len() + room + 16);
    out.push_str(base);
    let mut separator = if base.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(separator);
        separator = '&';
        push_form_encoded(&mut out, name);
        out.push('=');
        push_form_encoded(&mut out, value);
    }
    out
}

/// Appends `text` `application/x-www-form-urlencoded`, byte for byte as
/// `form_urlencoded`'s serializer writes it (the WHATWG URL standard's):
/// ASCII letters, digits and `*-._` as they are, a space as `+`, every
/// other byte as `%XX` (upper case). Runs of bytes kept as they are are
/// copied whole.
pub(crate) fn push_form_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let kept = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        while bytes.get(at).is_some_and(|&b| kept(b)) {
            at += 1;
        }
        // A run of ASCII bytes, so both ends are character boundaries.
        out.push_str(text.get(start..at).unwrap_or_default());
        if let Some(&b) = bytes.get(at) {
            if b == b' ' {
                out.push('+');
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            at += 1;
        }
    }
}

#[cfg(test)]
mod tests;
