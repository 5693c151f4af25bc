//! The management API: OAuth apps and their secrets, and workspace admin
//! keys (publishable Connect keys are in [`connect`](crate::connect)).
//!
//! The app's inputs and outputs ([`NewOAuthApp`](crate::NewOAuthApp),
//! [`OAuthApp`](crate::OAuthApp), …) are at the crate root; here is the rest
//! of what the management methods of
//! [`AuthorizationServer`](crate::AuthorizationServer) take and return.

pub(crate) mod admin_keys;
pub(crate) mod apps;
pub(crate) mod paging;
pub(crate) mod secrets;

pub use apps::AppUpdate;
pub use paging::PageMeta;
pub use secrets::{AuthenticatedClient, RotateSecretRequest, RotatedSecret};
