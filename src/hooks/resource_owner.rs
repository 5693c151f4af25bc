//! Who the resource owner is on the consent page of a plain
//! `/oauth/authorize` flow: the host's login, plugged in.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;

use crate::model::app::OAuthApp;
use crate::model::ids::Subject;
use crate::model::scope::ScopeSet;

/// Identifies the end user deciding on the consent page of a plain
/// authorization flow (`POST /oauth/authorize`).
///
/// A real service implements this with its own login: read its session
/// cookie from `headers`, look the session up, return the user's id. The
/// crate calls it only for the consent decision; `None` refuses the
/// decision with a "sign in first" page.
#[async_trait]
pub trait ResourceOwnerAuthenticator: Send + Sync + fmt::Debug {
    /// The signed-in end user of this request, if any. `demo_subject` is the
    /// consent form's user id field, present only to the authenticator of
    /// the [dangerous demo sign-in](crate::DangerousConfig::demo_sign_in):
    /// yours never receives it.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        demo_subject: Option<&str>,
    ) -> Option<Subject>;

    /// "Sign in first": the host's login page for a signed-out user, which
    /// must send the user back to `return_to` once signed in.
    ///
    /// Called on `GET /oauth/authorize` for a valid request when
    /// [`authenticate`](Self::authenticate) (with no demo subject) finds no
    /// user: `Some(url)` answers with a `303` to `url` instead of the
    /// consent page, so the user signs in and lands back on the pending
    /// consent (nothing is stored meanwhile; the request is validated
    /// again). `return_to` is a path on the server's own origin (the
    /// authorization request, `/oauth/authorize?…` under the issuer's
    /// path); put it in your login URL, percent-encoded, for example with
    /// [`SignIn::login_url`].
    ///
    /// # Security
    ///
    /// Your login must redirect only to a return URL that
    /// [`AuthorizationServer::return_url`](crate::AuthorizationServer::return_url)
    /// accepts (same origin as the issuer, under its path), never to
    /// whatever a link carries: an open redirect would send the user
    /// wherever an attacker likes.
    fn sign_in_url(&self, return_to: &str) -> Option<String> {
        let _ = return_to;
        None
    }

    /// How the consent page names the signed-in `subject` ("Signed in as
    /// …"); the subject itself by default.
    fn display_name(&self, subject: &Subject) -> String {
        subject.as_str().to_owned()
    }

    /// The host's consent policy: whether the end user signed in on this
    /// `GET /oauth/authorize` request has already consented to what the
    /// client asks, so that the request is answered with the authorization
    /// code at once (`303` to the redirect URI with `code`, `state` and
    /// `iss`) instead of the consent page. Called only for a request that
    /// passed every check (known client, registered redirect URI, PKCE,
    /// allowed scopes), never for a pushed request or a Connect session.
    ///
    /// The default is [`PriorConsent::Ask`]: always show the page. Answer
    /// [`PriorConsent::Granted`] with the user and the scopes they consented
    /// to, for example for a first-party app, or for consent the host
    /// remembers. The page is still shown when the request asks for any
    /// scope outside those (a request never widens a grant silently), and
    /// when the client sends `prompt=consent`.
    ///
    /// # Security
    ///
    /// Answering without the user's interaction is what RFC 6749 §10.2
    /// warns about for clients that cannot be authenticated: a malicious
    /// app can send the request under a public client's `client_id`. The
    /// code still goes only to a registered redirect URI and needs the PKCE
    /// verifier, which protects an `https` redirect URI the client controls;
    /// a loopback or private-use redirect URI of a native app can be claimed
    /// by another app on the device (RFC 8252 §8.6), so remember consent for
    /// such public clients only when the host trusts them (RFC 9700 §2.1
    /// and §4.1). [`ConsentRequest`] carries the app (with its type) and the
    /// redirect URI for that decision.
    async fn prior_consent(
        &self,
        headers: &HeaderMap,
        request: &ConsentRequest<'_>,
    ) -> PriorConsent {
        let _ = (headers, request);
        PriorConsent::Ask
    }
}

/// A validated authorization request, as
/// [`ResourceOwnerAuthenticator::prior_consent`] sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ConsentRequest<'a> {
    /// The client's app (its type, name, workspace).
    pub app: &'a OAuthApp,
    /// The scopes the request asks for.
    pub scopes: &'a ScopeSet,
    /// Where the code would go: a registered redirect URI.
    pub redirect_uri: &'a str,
}

/// The host's answer to [`ResourceOwnerAuthenticator::prior_consent`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PriorConsent {
    /// Show the consent page. The default.
    Ask,
    /// `subject` is signed in and has consented to `scopes` for this client:
    /// a request within them gets its code without the page.
    Granted {
        /// The signed-in end user.
        subject: Subject,
        /// The scopes they consented to for this client.
        scopes: ScopeSet,
    },
}

/// No end-user login is configured: plain-flow consent decisions are refused
/// (Connect sessions, which carry their own user, are unaffected). The
/// default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResourceOwner;

#[async_trait]
impl ResourceOwnerAuthenticator for NoResourceOwner {
    async fn authenticate(&self, _: &HeaderMap, _: Option<&str>) -> Option<Subject> {
        None
    }
}

/// The authenticator of the dangerous demo sign-in
/// ([`DangerousConfig::demo_sign_in`](crate::DangerousConfig::demo_sign_in)):
/// the consent page asks the user to type a user id, and believes it.
///
/// The browser keeps the id it approved with (a session cookie,
/// `oc_demo_user`, `HttpOnly`), so its next consent page shows who is
/// signed in, with the field filled in: typing another id switches users.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DemoSignIn;

/// The cookie in which the server keeps the user id a browser approved
/// with on a demo sign-in, for [`DemoSignIn`] to read back.
pub(crate) const DEMO_USER_COOKIE: &str = "oc_demo_user";

/// The value of [`DEMO_USER_COOKIE`] for `subject` (base64url: any
/// subject is a valid cookie value).
pub(crate) fn demo_user_cookie_value(subject: &Subject) -> String {
    URL_SAFE_NO_PAD.encode(subject.as_str())
}

/// Every value the request's `Cookie` headers carry for `name`, in order
/// (a browser may send several cookies of one name, set for different
/// paths).
pub(crate) fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value)
}

#[async_trait]
impl ResourceOwnerAuthenticator for DemoSignIn {
    /// The id typed in the consent form; without one, the id this browser
    /// approved with last.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        demo_subject: Option<&str>,
    ) -> Option<Subject> {
        match demo_subject.map(str::trim).filter(|s| !s.is_empty()) {
            Some(typed) => Subject::parse(typed).ok(),
            None => cookie_values(headers, DEMO_USER_COOKIE).find_map(|value| {
                let id = String::from_utf8(URL_SAFE_NO_PAD.decode(value).ok()?).ok()?;
                Subject::parse(&id).ok()
            }),
        }
    }
}

/// A [`ResourceOwnerAuthenticator`] for a host whose login sets a session
/// cookie: the user is whoever `lookup` finds for the cookie's value, and a
/// signed-out user is sent to `login` with the return URL in the query
/// parameter `return_to`.
///
/// ```
/// use oauth_connect::Subject;
/// use oauth_connect::hooks::SignIn;
/// let sign_in = SignIn::new("session", "/login", |value: &str| {
///     (value == "s3cret").then(|| Subject::parse("user-42").unwrap())
/// });
/// assert_eq!(
///     sign_in.login_url("/oauth/authorize?client_id=c&scope=a b"),
///     "/login?return_to=%2Foauth%2Fauthorize%3Fclient_id%3Dc%26scope%3Da+b"
/// );
/// ```
pub struct SignIn<F> {
    cookie: String,
    login: String,
    lookup: F,
}

/// Written by hand: `lookup` is the host's closure, which has no `Debug`.
impl<F> fmt::Debug for SignIn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignIn")
            .field("cookie", &self.cookie)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl<F> SignIn<F>
where
    F: Fn(&str) -> Option<Subject> + Send + Sync,
{
    /// The user is `lookup(value)` of the cookie named `cookie`; the login
    /// page is `login` (a path or an absolute URL).
    pub fn new(cookie: impl Into<String>, login: impl Into<String>, lookup: F) -> Self {
        Self {
            cookie: cookie.into(),
            login: login.into(),
            lookup,
        }
    }

    /// `login` with `return_to` in its query, percent-encoded.
    pub fn login_url(&self, return_to: &str) -> String {
        crate::model::redirect::append_query(&self.login, &[("return_to", return_to)])
    }
}

#[async_trait]
impl<F> ResourceOwnerAuthenticator for SignIn<F>
where
    F: Fn(&str) -> Option<Subject> + Send + Sync,
{
    async fn authenticate(&self, headers: &HeaderMap, _: Option<&str>) -> Option<Subject> {
        cookie_values(headers, &self.cookie).find_map(|value| (self.lookup)(value))
    }

    fn sign_in_url(&self, return_to: &str) -> Option<String> {
        Some(self.login_url(return_to))
    }
}

/// Human descriptions of scopes, shown on the consent and Connect pages
/// (`read:devices` → "See your devices and their status").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeCatalogue {
    descriptions: BTreeMap<String, String>,
}

impl ScopeCatalogue {
    /// An empty catalogue: pages show the scope tokens themselves.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the description of `scope`.
    pub fn describe(mut self, scope: impl Into<String>, description: impl Into<String>) -> Self {
        self.descriptions.insert(scope.into(), description.into());
        self
    }

    /// The description of `scope`, if one was given.
    pub fn description(&self, scope: &str) -> Option<&str> {
        self.descriptions.get(scope).map(String::as_str)
    }
}
