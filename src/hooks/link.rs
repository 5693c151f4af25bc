//! The provider catalogue and the account-link step of the hosted Connect
//! flow: the host brings its providers (manufacturers, utilities, banks) and
//! the code that talks to them; the crate brings the flow, its state, its
//! safety and its records.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroize as _;

use crate::credentials::{Redacted, Secret};
use crate::model::connect::LinkedAccount;

/// How a provider's link step works.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkMethod {
    /// The user is sent to the provider's own authorization page and comes
    /// back to `/connect/callback/{provider}`.
    Redirect,
    /// The user fills a form the hook defines (say, a username and a
    /// password); the values go to the hook and are never stored or logged.
    Form(Vec<LinkField>),
}

/// One field of a form link step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkField {
    /// The form field's name (`[a-z0-9_]`, at most 64 characters).
    pub name: String,
    /// Its label.
    pub label: String,
    /// The input type: `text`, `email`, `password`, `tel` or `number`.
    pub kind: String,
    /// Whether it must be filled.
    pub required: bool,
}

impl LinkField {
    /// A field.
    pub fn new(
        name: impl Into<String>,
        label: impl Into<String>,
        kind: impl Into<String>,
        required: bool,
    ) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            kind: kind.into(),
            required,
        }
    }
}

/// What a link hook knows of the session it links for.
///
/// `Debug` redacts [`link_secret`](Self::link_secret), which is zeroized on
/// drop.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinkContext {
    /// The provider's id.
    pub provider: String,
    /// The session's reference id (the integrating service's user).
    pub reference_id: String,
    /// The crate's callback URL for this provider (redirect links).
    pub callback_url: String,
    /// 32 bytes derived from the session and the server key, the same on
    /// every call for one session and provider: derive a PKCE verifier (or
    /// any per-link secret) from them instead of storing one.
    pub link_secret: Redacted<[u8; 32]>,
}

impl Drop for LinkContext {
    fn drop(&mut self) {
        self.link_secret.zeroize();
    }
}

/// Why a link did not produce an account. The message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The user declined at the provider.
    #[error("the connection was cancelled at the provider")]
    Denied,
    /// The provider refused the credentials or the grant.
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or answered wrongly.
    #[error("the provider could not be reached; try again")]
    Unavailable,
}

impl LinkError {
    /// A short machine-readable reason, for events and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::Refused(_) => "refused",
            Self::Unavailable => "unavailable",
        }
    }
}

/// The values posted on a form link step (a username, a password, …): each
/// field's name and value, handed to the host's hook and never stored or
/// logged.
///
/// `Debug` shows the names only; the values are zeroized on drop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFormValues(Vec<(String, Secret)>);

impl LinkFormValues {
    /// No values yet: add each field with [`with`](Self::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// These values and the field `name` posted as `value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds the field `name` posted as `value`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), Secret::new(value.into())));
    }

    /// The value posted for `name`, if any (the first one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.expose_secret())
    }

    /// The names posted, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// Every field and its value, in the order posted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.expose_secret()))
    }
}

/// A provider's query parameters at the callback, `state` apart (the crate
/// checked it): a code, an error, whatever the provider sends, for the
/// provider's hook to read.
///
/// `Debug` shows nothing of them (a code is a credential).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderQuery(Redacted<Vec<(String, String)>>);

impl ProviderQuery {
    /// No parameters yet: add each with [`with`](Self::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// These parameters and `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds the parameter `name` as `value`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let mut params = std::mem::take(&mut self.0).into_inner();
        params.push((name.into(), value.into()));
        self.0 = Redacted::new(params);
    }

    /// The value of `name`, if the provider sent it (the first one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter, in the order the provider sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// The host's code that links a user's account at a provider.
///
/// A redirect provider implements [`authorization_url`](Self::authorization_url)
/// and [`complete_redirect`](Self::complete_redirect); a form provider
/// implements [`complete_form`](Self::complete_form). The defaults refuse.
#[async_trait]
pub trait LinkHook: Send + Sync + fmt::Debug {
    /// The provider's authorization URL for this user, carrying `state`
    /// unchanged (the crate checks it on the way back).
    async fn authorization_url(
        &self,
        context: &LinkContext,
        state: &str,
    ) -> Result<String, LinkError> {
        let _ = (context, state);
        Err(LinkError::Unavailable)
    }

    /// The provider's answer at the callback (its query parameters, `state`
    /// already checked and removed): exchange its code, identify the
    /// account.
    async fn complete_redirect(
        &self,
        context: &LinkContext,
        query: &ProviderQuery,
    ) -> Result<LinkedAccount, LinkError> {
        let _ = (context, query);
        Err(LinkError::Unavailable)
    }

    /// The posted values of a form link (only the declared fields that were
    /// filled in; zeroized once the hook returns).
    async fn complete_form(
        &self,
        context: &LinkContext,
        values: &LinkFormValues,
    ) -> Result<LinkedAccount, LinkError> {
        let _ = (context, values);
        Err(LinkError::Unavailable)
    }
}

/// A provider in the host's catalogue.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Provider {
    /// Its id (`[a-z0-9_-]`, 1–64 characters), as filters and callbacks name it.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its categories (`battery`, `thermostat`, …).
    pub categories: Vec<String>,
    /// A logo (an https URL), if any.
    pub logo_url: Option<String>,
    /// How its link step works.
    pub method: LinkMethod,
    /// The host's code for it.
    pub hook: Arc<dyn LinkHook>,
}

impl Provider {
    /// A provider whose link step redirects to its own authorization page.
    pub fn redirect(
        id: impl Into<String>,
        name: impl Into<String>,
        hook: Arc<dyn LinkHook>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            categories: Vec::new(),
            logo_url: None,
            method: LinkMethod::Redirect,
            hook,
        }
    }

    /// A provider whose link step is a form with `fields`.
    pub fn form(
        id: impl Into<String>,
        name: impl Into<String>,
        fields: Vec<LinkField>,
        hook: Arc<dyn LinkHook>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            categories: Vec::new(),
            logo_url: None,
            method: LinkMethod::Form(fields),
            hook,
        }
    }

    /// With these categories.
    pub fn categories<I, T>(mut self, categories: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.categories = categories.into_iter().map(Into::into).collect();
        self
    }

    /// With a logo.
    pub fn logo_url(mut self, url: impl Into<String>) -> Self {
        self.logo_url = Some(url.into());
        self
    }

    /// Whether `query` (lower-cased) matches the id, the name or a category.
    pub(crate) fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        q.is_empty()
            || self.id.contains(&q)
            || self.name.to_lowercase().contains(&q)
            || self
                .categories
                .iter()
                .any(|c| c.to_lowercase().contains(&q))
    }
}

/// The host's terms, shown as the first step in create mode.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Terms {
    /// The text (plain, escaped on the page).
    pub text: String,
    /// A link to the full terms (https).
    pub url: Option<String>,
}

impl Terms {
    /// Terms with `text` and an optional link.
    pub fn new(text: impl Into<String>, url: Option<String>) -> Self {
        Self {
            text: text.into(),
            url,
        }
    }
}

pub(crate) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

pub(crate) fn valid_field_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The origin (`https://cdn.example.com`) of a provider's logo URL, if it is
/// an acceptable one: `https`, a plain host name (it becomes a CSP
/// `img-src` source), no user information, no fragment, no wildcard.
pub(crate) fn logo_origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let acceptable = parsed.scheme() == "https"
        && parsed.host_str().is_some()
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.fragment().is_none()
        && !url.contains(['"', '\'', ' ', '<', '>']);
    if !acceptable {
        return None;
    }
    crate::model::redirect::RedirectUri::parse(url)
        .ok()?
        .origin()
}

/// The longest logo URL, in bytes.
const MAX_LOGO_URI_BYTES: usize = 2048;

/// Why a logo URI cannot be shown (the registry names the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogoUriError {
    /// Longer than this many bytes.
    TooLong { max: usize },
    /// Not an absolute `https` URL without user information or fragment.
    NotHttps,
}

/// The logo URI as given, when the hosted pages may show it.
pub(crate) fn check_logo_uri(uri: &str) -> Result<String, LogoUriError> {
    if uri.len() > MAX_LOGO_URI_BYTES {
        return Err(LogoUriError::TooLong {
            max: MAX_LOGO_URI_BYTES,
        });
    }
    match logo_origin(uri) {
        Some(_) => Ok(uri.to_owned()),
        None => Err(LogoUriError::NotHttps),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_origins() {
        assert_eq!(
            logo_origin("https://cdn.example.com:8443/logos/tesla.svg?v=2").as_deref(),
            Some("https://cdn.example.com:8443")
        );
        for bad in [
            "http://cdn.example.com/x.png",
            "https://user:pw@cdn.example.com/x.png",
            "https://cdn.example.com/x.png#frag",
            "data:image/png;base64,AAAA",
            "https://cdn.example.com/x\".png",
            "/logo.png",
        ] {
            assert!(logo_origin(bad).is_none(), "{bad}");
        }
    }
}
