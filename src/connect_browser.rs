//! Binding a hosted Connect flow to the browser that opened it.
//!
//! RFC 9700 §2.1 asks that the values protecting a flow against CSRF be
//! "securely bound to the user agent". A Connect token alone is not: whoever
//! holds the token (the user the session was made for) could open the flow,
//! start the link step and hand the provider's authorization URL to someone
//! else, whose provider account would then be linked into the first user's
//! session. So the first opening of a session's page (`GET /connect?token=…`,
//! or `/oauth/authorize` with the token as `request_uri`) claims the session
//! for that browser: a random secret goes into an HttpOnly cookie
//! ([`BROWSER_COOKIE`]), and its keyed hash into the session's server-side
//! state, set once (a compare-and-swap). Every later step — the page, its
//! form posts (whose CSRF token is derived from that hash too) and the
//! provider's callback — must come with that cookie; any other browser gets
//! a page saying the session was opened elsewhere
//! ([`ErrorPage::OtherBrowser`](crate::ErrorPage::OtherBrowser)) and never a
//! completion. Other tabs of the same browser share the cookie and work.
//!
//! One cookie serves every Connect session of a browser: a browser that
//! already has one reuses it for the next session it opens.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::credential::ConnectToken;
use crate::random::{RandomError, random_array};
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// The name of the cookie that binds hosted Connect flows to a browser.
pub const BROWSER_COOKIE: &str = "oc_connect_browser";

const DOMAIN: &str = "connect/browser";
/// 32 random bytes in unpadded base64url.
const SECRET_LEN: usize = 43;

/// The secret a browser holds in its [`BROWSER_COOKIE`]: random, 256 bits.
///
/// `Debug` prints `[redacted]`; zeroized on drop. Only its keyed hash is
/// stored.
#[derive(Clone)]
pub struct BrowserSecret(Zeroizing<String>);

impl BrowserSecret {
    /// The secret in a cookie's value, if it is well-formed (43 characters
    /// of the base64url alphabet).
    pub fn from_cookie(value: &str) -> Option<Self> {
        let well_formed = value.len() == SECRET_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(Zeroizing::new(value.to_owned())))
    }

    /// The cookie's value.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BrowserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserSecret([redacted])")
    }
}

impl PartialEq for BrowserSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for BrowserSecret {}

impl<S: Storage> AuthorizationServer<S> {
    /// A new browser secret, for a browser that has no [`BROWSER_COOKIE`]
    /// yet; send it with [`browser_cookie`](Self::browser_cookie).
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the RNG fails.
    pub fn new_browser_secret(&self) -> Result<BrowserSecret, RandomError> {
        let bytes = Zeroizing::new(random_array::<32>(self.config().rng())?);
        Ok(BrowserSecret(Zeroizing::new(
            URL_SAFE_NO_PAD.encode(bytes.as_slice()),
        )))
    }

    /// The `Set-Cookie` value that gives a browser its secret: HttpOnly,
    /// scoped to the Connect paths under the issuer's path
    /// (`{issuer path}/connect`), a session cookie. On an `https` issuer
    /// `Secure; SameSite=None; Partitioned`: the hosted page also works in
    /// a cross-site iframe (the embed script's modal), where CHIPS keeps the
    /// cookie partitioned under the embedding site. On an `http` (loopback,
    /// development) issuer `SameSite=Lax`.
    pub fn browser_cookie(&self, browser: &BrowserSecret) -> String {
        let issuer = self.config().issuer();
        let path = format!("{}/connect", issuer.path().trim_end_matches('/'));
        let attributes = if issuer.scheme() == "https" {
            "Secure; SameSite=None; Partitioned"
        } else {
            "SameSite=Lax"
        };
        format!(
            "{BROWSER_COOKIE}={}; Path={path}; HttpOnly; {attributes}",
            browser.expose_secret()
        )
    }

    /// The keyed hash (hex) of a browser's secret, as a session of `token`
    /// stores it (under the token's key, so that rotating the key ring
    /// mid-session changes nothing).
    pub(crate) fn browser_hash(
        &self,
        token: &ConnectToken,
        browser: &BrowserSecret,
    ) -> Option<String> {
        self.config()
            .keys()
            .hash(
                token.key_id(),
                DOMAIN,
                &[browser.expose_secret().as_bytes()],
            )
            .map(|h| h.to_hex())
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// The CSRF token of a Connect page shown to the browser whose secret
    /// hashes to `browser_hash`: derived from the Connect token and that
    /// hash under the server key, so it needs no storage, cannot be
    /// computed without the key, and is worth nothing in another browser.
    pub(crate) fn connect_csrf(&self, token: &ConnectToken, browser_hash: &str) -> Option<String> {
        self.config()
            .keys()
            .derive(
                token.key_id(),
                "connect_csrf",
                &[token.expose_secret().as_bytes(), browser_hash.as_bytes()],
            )
            .map(|tag| URL_SAFE_NO_PAD.encode(tag))
    }

    /// Whether `presented` is the CSRF token of the page shown to that
    /// browser.
    pub(crate) fn check_connect_csrf(
        &self,
        token: &ConnectToken,
        browser_hash: &str,
        presented: &str,
    ) -> bool {
        self.connect_csrf(token, browser_hash)
            .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(presented.as_bytes())))
    }
}

/// Whether two hex hashes are equal, in constant time.
pub(crate) fn same_hash(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_secret_never_shows_in_debug_and_parses_only_when_well_formed() {
        let value = "A".repeat(SECRET_LEN);
        let secret = BrowserSecret::from_cookie(&value).unwrap();
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("AAAA"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(secret.expose_secret(), value);
        for bad in [
            String::new(),
            "A".repeat(SECRET_LEN - 1),
            "A".repeat(SECRET_LEN + 1),
            format!("{}=", "A".repeat(SECRET_LEN - 1)),
            format!("{};", "A".repeat(SECRET_LEN - 1)),
        ] {
            assert!(BrowserSecret::from_cookie(&bad).is_none(), "{bad}");
        }
        let other = BrowserSecret::from_cookie(&"B".repeat(SECRET_LEN)).unwrap();
        assert_ne!(secret, other);
        assert_eq!(secret, secret.clone());
    }

    #[test]
    fn the_cookie_is_http_only_and_scoped_to_the_connect_paths() {
        let build = |issuer: &str| {
            AuthorizationServer::builder(crate::MemoryStore::new())
                .issuer(issuer)
                .build()
                .unwrap()
        };
        let secure = build("https://auth.example.com/tenant/");
        let secret = secure.new_browser_secret().unwrap();
        assert_eq!(secret.expose_secret().len(), SECRET_LEN);
        assert_eq!(
            secure.browser_cookie(&secret),
            format!(
                "oc_connect_browser={}; Path=/tenant/connect; HttpOnly; Secure; SameSite=None; Partitioned",
                secret.expose_secret()
            )
        );
        let local = build("http://127.0.0.1:3000");
        assert_eq!(
            local.browser_cookie(&secret),
            format!(
                "oc_connect_browser={}; Path=/connect; HttpOnly; SameSite=Lax",
                secret.expose_secret()
            )
        );
        assert_ne!(
            secure.new_browser_secret().unwrap(),
            secure.new_browser_secret().unwrap()
        );
    }
}
