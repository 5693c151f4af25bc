//! What the hosted Connect page shows of a step and its providers, and why
//! completing a step failed.

use crate::error::FieldError;
use crate::oauth::authorize::{AuthorizeError, ErrorPage};

/// Why the hosted Connect flow refused a step (opening, advancing or
/// completing a session), and what to show instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepRefusal {
    /// Show this page.
    #[error("{}", .0.title())]
    Page(ErrorPage),
    /// The customer form has an invalid field: show the form again with it.
    #[error("invalid {0}")]
    Invalid(FieldError),
    /// The post was for another step than the current one (a reload, Back,
    /// a second tab): nothing changed; show where the flow stands.
    #[error("the post was for another step than the current one; nothing changed")]
    OutOfOrder,
}

/// A provider as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its categories.
    pub categories: Vec<String>,
    /// Its logo.
    pub logo_url: Option<String>,
    /// Redirect or form, with the form's fields.
    pub method: crate::hooks::link::LinkMethod,
}

impl From<&crate::hooks::link::Provider> for ProviderView {
    fn from(p: &crate::hooks::link::Provider) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            categories: p.categories.clone(),
            logo_url: p.logo_url.clone(),
            method: p.method.clone(),
        }
    }
}

/// Where the hosted flow stands and what its current step shows.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepView {
    /// The current step.
    pub step: Step,
    /// The providers to pick from (narrowed by the session's filters and the
    /// search, if any).
    pub providers: Vec<ProviderView>,
    /// The provider picked (or the only candidate).
    pub provider: Option<ProviderView>,
    /// Whether the user may go back to the picker.
    pub can_change_provider: bool,
    /// Why the last link attempt failed.
    pub link_error: Option<String>,
    /// The account linked.
    pub linked: Option<crate::storage::LinkedAccount>,
    /// The host's terms.
    pub terms: Option<crate::hooks::link::Terms>,
    /// The steps this flow shows, in order (for "Step N of M"): those it
    /// has shown and those still to come; skipped steps are not in it.
    pub steps: Vec<Step>,
}

pub(crate) fn page_of(error: AuthorizeError) -> ErrorPage {
    match error {
        AuthorizeError::Page(page) => page,
        AuthorizeError::Redirect(_) => ErrorPage::UnknownRequest,
    }
}

/// A step of the hosted Connect flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Accept the host's terms (create mode only).
    Terms,
    /// Pick a provider.
    Provider,
    /// Link the account at the provider.
    Link,
    /// Confirm contact details.
    Customer,
    /// Review and approve or deny.
    Consent,
}

impl Step {
    /// The step's name in forms and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Terms => "terms",
            Self::Provider => "provider",
            Self::Link => "link",
            Self::Customer => "customer",
            Self::Consent => "consent",
        }
    }

    /// The step named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "terms" => Some(Self::Terms),
            "provider" => Some(Self::Provider),
            "link" => Some(Self::Link),
            "customer" => Some(Self::Customer),
            "consent" => Some(Self::Consent),
            _ => None,
        }
    }
}
