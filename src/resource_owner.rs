//! Who the resource owner is on the consent page of a plain
//! `/oauth/authorize` flow: the host's login, plugged in.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use http::HeaderMap;

use crate::ids::Subject;

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
    /// consent form's `subject` field, present only when
    /// [`demo_sign_in`](Self::demo_sign_in) is true.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        demo_subject: Option<&str>,
    ) -> Option<Subject>;

    /// Whether the consent page shows a demo sign-in field (a text box for
    /// the user id). Only [`DemoSignIn`] says yes.
    fn demo_sign_in(&self) -> bool {
        false
    }
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

/// **For demos and tests only**: the consent page asks the user to type a
/// user id, and believes it. This is where a real service plugs in its own
/// login.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoSignIn;

#[async_trait]
impl ResourceOwnerAuthenticator for DemoSignIn {
    async fn authenticate(&self, _: &HeaderMap, demo_subject: Option<&str>) -> Option<Subject> {
        demo_subject.and_then(|s| Subject::parse(s.trim()).ok())
    }

    fn demo_sign_in(&self) -> bool {
        true
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
