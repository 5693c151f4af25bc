//! Binding a hosted Connect flow to the browser that takes its first step.
//!
//! RFC 9700 §2.1 asks that the values protecting a flow against CSRF be
//! "securely bound to the user agent". A Connect token alone is not: whoever
//! holds the token (the user the session was made for) could open the flow,
//! start the link step and hand the provider's authorization URL to someone
//! else, whose provider account would then be linked into the first user's
//! session. So the session is claimed for one browser: every browser that
//! shows the page gets a binding secret in an HttpOnly cookie
//! ([`BROWSER_COOKIE`], or [`BROWSER_COOKIE_HOST`] on an `https` issuer),
//! and the page's CSRF token is derived from that secret; the first
//! state-changing request (a form post of the page) stores the secret's
//! keyed hash in the session's server-side state, set once (a
//! compare-and-swap). A `GET` never claims: a link scanner, a chat unfurl
//! or `curl` fetching the hosted URL leaves the session as it was. Every
//! later step — the page, its form posts and the provider's callback — must
//! come with the claiming browser's cookie; any other browser gets a page
//! saying the session was opened elsewhere
//! ([`ErrorPage::OtherBrowser`](crate::oauth::authorize::ErrorPage::OtherBrowser)) and never a
//! completion. Other tabs of the same browser share the cookie and work.
//!
//! The secrets are the server's own: each is 256 random bits signed under
//! the key ring ([`AuthorizationServer::browser_from_cookie`] checks the
//! signature), so a value the server never issued (a planted cookie) is
//! never adopted: the browser is given a new one. On an `https` issuer the
//! cookie carries the `__Host-` prefix, so no other host (a sibling
//! subdomain) and no plain-http response can set it.
//!
//! One cookie serves every Connect session of a browser: a browser that
//! already has one reuses it for the next session it opens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::credentials::{ConnectToken, Secret};
use crate::model::random::{RandomError, random_array};
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// The name of the cookie that binds hosted Connect flows to a browser on
/// an `http` (loopback, development) issuer.
pub const BROWSER_COOKIE: &str = "oc_connect_browser";

/// The name of that cookie on an `https` issuer: with the `__Host-` prefix
/// (RFC 6265bis §4.1.3.2), which browsers accept only from a secure origin,
/// with `Secure`, `Path=/` and no `Domain`, so that no other host can plant
/// it.
pub const BROWSER_COOKIE_HOST: &str = "__Host-oc_connect_browser";

/// Hash domain of a browser secret as a session stores it.
const DOMAIN: &str = "connect/browser";
/// Signature domain of a browser secret's cookie value.
const COOKIE_DOMAIN: &str = "connect/browser-cookie";
/// The key id, 32 random bytes and their 32-byte signature.
const RAW_LEN: usize = 1 + 32 + 32;
/// [`RAW_LEN`] bytes in unpadded base64url.
const SECRET_LEN: usize = 87;

/// The secret a browser holds in its binding cookie: 256 random bits and
/// the server's signature over them, as issued by
/// [`new_browser_secret`](AuthorizationServer::new_browser_secret) or
/// checked by [`browser_from_cookie`](AuthorizationServer::browser_from_cookie)
/// (the only ways to get one).
///
/// `Debug` prints `[redacted]`; zeroized on drop. Only its keyed hash is
/// stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserSecret(Secret);

impl BrowserSecret {
    /// The cookie's value.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// A new browser secret, for a browser that has no valid binding
    /// cookie yet; send it with [`browser_cookie`](Self::browser_cookie).
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the RNG fails (or the key ring cannot sign).
    pub fn new_browser_secret(&self) -> Result<BrowserSecret, RandomError> {
        let keys = self.config().keys();
        let kid = keys.current_id();
        let random = Zeroizing::new(random_array::<32>(self.config().rng())?);
        let tag = keys
            .sign(kid, COOKIE_DOMAIN, &[random.as_slice()])
            .ok_or(RandomError)?;
        let mut raw = Zeroizing::new(Vec::with_capacity(RAW_LEN));
        raw.push(kid);
        raw.extend_from_slice(random.as_slice());
        raw.extend_from_slice(&tag);
        Ok(BrowserSecret(Secret::new(
            URL_SAFE_NO_PAD.encode(raw.as_slice()),
        )))
    }

    /// The browser secret in a binding cookie's value, if this server
    /// issued it: well-formed, and signed under a key the ring still holds.
    /// A value it never issued (planted by someone else, or forged) is
    /// `None`: give the browser a new secret, never adopt that one.
    ///
    /// # Security
    ///
    /// A host rendering its own Connect pages gets the secret it passes to
    /// [`connect_open`](Self::connect_open) and the other Connect calls
    /// from here, reading the cookie named by
    /// [`browser_cookie_name`](Self::browser_cookie_name).
    pub fn browser_from_cookie(&self, value: &str) -> Option<BrowserSecret> {
        if value.len() != SECRET_LEN {
            return None;
        }
        let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(value).ok()?);
        if raw.len() != RAW_LEN {
            return None;
        }
        let (kid, rest) = raw.split_first()?;
        let (random, tag) = rest.split_at(32);
        self.config()
            .keys()
            .verify(*kid, COOKIE_DOMAIN, &[random], tag)
            .then(|| BrowserSecret(Secret::from(value)))
    }

    /// The binding cookie's name: [`BROWSER_COOKIE_HOST`] on an `https`
    /// issuer, [`BROWSER_COOKIE`] on an `http` (loopback) one.
    pub fn browser_cookie_name(&self) -> &'static str {
        if self.config().issuer().scheme() == "https" {
            BROWSER_COOKIE_HOST
        } else {
            BROWSER_COOKIE
        }
    }

    /// The `Set-Cookie` value that gives a browser its secret: HttpOnly, a
    /// session cookie. On an `https` issuer
    /// `__Host-oc_connect_browser=…; Path=/; HttpOnly; Secure; SameSite=None; Partitioned`:
    /// the `__Host-` prefix lets no other host set it (so `Path=/`, as the
    /// prefix requires), and the hosted page also works in a cross-site
    /// iframe (the embed script's modal), where CHIPS keeps the cookie
    /// partitioned under the embedding site. On an `http` (loopback,
    /// development) issuer `oc_connect_browser=…`, scoped to the Connect
    /// paths under the issuer's path (`{issuer path}/connect`),
    /// `SameSite=Lax`.
    pub fn browser_cookie(&self, browser: &BrowserSecret) -> String {
        let issuer = self.config().issuer();
        if issuer.scheme() == "https" {
            format!(
                "{BROWSER_COOKIE_HOST}={}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
                browser.expose_secret()
            )
        } else {
            let path = format!("{}/connect", issuer.path().trim_end_matches('/'));
            format!(
                "{BROWSER_COOKIE}={}; Path={path}; HttpOnly; SameSite=Lax",
                browser.expose_secret()
            )
        }
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

    fn build(issuer: &str) -> AuthorizationServer<crate::MemoryStore> {
        AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer(issuer)
            .build()
            .unwrap()
    }

    #[test]
    fn browser_secrets_compare_by_value() {
        let server = build("https://auth.example.com");
        let secret = server.new_browser_secret().unwrap();
        assert_eq!(secret, secret.clone());
        assert_ne!(secret, server.new_browser_secret().unwrap());
    }

    /// Only values the server signed are taken back: not a well-formed
    /// value it never issued, not one altered in any byte, not one signed
    /// by another server's key ring, not one of a retired key.
    #[test]
    fn only_a_secret_the_server_issued_is_taken_back() {
        let server = build("https://auth.example.com");
        let secret = server.new_browser_secret().unwrap();
        let value = secret.expose_secret();
        assert_eq!(value.len(), SECRET_LEN);
        assert_eq!(server.browser_from_cookie(value), Some(secret.clone()));
        let other = build("https://auth.example.com");
        assert!(other.browser_from_cookie(value).is_none(), "another key");
        for bad in [
            String::new(),
            "A".repeat(SECRET_LEN),
            "A".repeat(43),
            format!("{value}A"),
            value[1..].to_owned(),
            format!("{}=", &value[..SECRET_LEN - 1]),
        ] {
            assert!(server.browser_from_cookie(&bad).is_none(), "{bad}");
        }
        // Flipping any one character of the value breaks it.
        for at in 0..SECRET_LEN {
            let mut flipped = value.as_bytes().to_vec();
            flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
            let flipped = String::from_utf8(flipped).unwrap();
            assert!(server.browser_from_cookie(&flipped).is_none(), "{at}");
        }
    }

    #[test]
    fn secrets_of_a_retired_key_are_refused_and_the_others_kept() {
        // One ring, as it stands at each moment: key 1 alone; keys 1 and 2
        // with 2 current; key 2 alone (1 retired).
        let issue = |ids: &[u8], current: u8| {
            let key = |id: u8| crate::credentials::ServerKey::new(id, &[id; 32]).unwrap();
            let mut ring = crate::KeyRing::new(key(ids[0]));
            for id in &ids[1..] {
                ring = ring.with_key(key(*id)).unwrap();
            }
            ring.set_current(current).unwrap();
            AuthorizationServer::builder(crate::MemoryStore::new())
                .issuer("https://auth.example.com")
                .key_ring(ring)
                .build()
                .unwrap()
        };
        let old = issue(&[1], 1).new_browser_secret().unwrap();
        let both = issue(&[1, 2], 2);
        let new = both.new_browser_secret().unwrap();
        assert!(both.browser_from_cookie(old.expose_secret()).is_some());
        let retired = issue(&[2], 2);
        assert!(retired.browser_from_cookie(old.expose_secret()).is_none());
        assert!(retired.browser_from_cookie(new.expose_secret()).is_some());
    }

    #[test]
    fn the_cookie_is_host_prefixed_on_https_and_scoped_to_the_connect_paths_on_http() {
        let secure = build("https://auth.example.com/tenant/");
        let secret = secure.new_browser_secret().unwrap();
        assert_eq!(secure.browser_cookie_name(), "__Host-oc_connect_browser");
        assert_eq!(
            secure.browser_cookie(&secret),
            format!(
                "__Host-oc_connect_browser={}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
                secret.expose_secret()
            )
        );
        let local = build("http://127.0.0.1:3000");
        let secret = local.new_browser_secret().unwrap();
        assert_eq!(local.browser_cookie_name(), "oc_connect_browser");
        assert_eq!(
            local.browser_cookie(&secret),
            format!(
                "oc_connect_browser={}; Path=/connect; HttpOnly; SameSite=Lax",
                secret.expose_secret()
            )
        );
    }
}
