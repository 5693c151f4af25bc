//! Connect values that the host's hooks and storage share.

use serde::{Deserialize, Serialize};

/// The most tags a session or connection may carry by default: the default
/// of [`max_connection_tags`](crate::AuthorizationServerBuilder::max_connection_tags),
/// which a server may set anywhere from 1 to 100.
pub const MAX_TAGS: usize = 20;

/// An account linked at a provider: an opaque reference (the provider's
/// account id, a credential handle of the host's) and a label for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LinkedAccount {
    /// The provider's id.
    pub provider: String,
    /// An opaque reference the host's hook returned.
    pub account_reference: String,
    /// A label for humans ("Tesla Powerwall, ada@…").
    pub label: String,
}

impl LinkedAccount {
    /// A linked account.
    pub fn new(
        provider: impl Into<String>,
        account_reference: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            account_reference: account_reference.into(),
            label: label.into(),
        }
    }
}
