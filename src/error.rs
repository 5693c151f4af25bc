//! Error types shared across the crate.
//!
//! Each layer has its own `#[non_exhaustive]` enum: [`RegistryError`] for the
//! OAuth app registry, [`ClientAuthError`] for client authentication,
//! [`StorageError`](crate::StorageError) for backends and
//! [`ConfigError`](crate::ConfigError) for the server builder. None of them
//! ever carries a credential.

use std::fmt;

use crate::model::origin::OriginError;
use crate::model::random::RandomError;
use crate::model::redirect::RedirectUriError;
use crate::model::scope::ScopeError;
use crate::storage::StorageError;

/// An input field that failed validation, named as the JSON API names it.
///
/// `field` is the camelCase name (`redirectUris`, `perPage`, …); for an
/// element of a list, `index` says which one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldError {
    /// The field, as the JSON API names it.
    pub field: &'static str,
    /// The zero-based position of the offending element, for list fields.
    pub index: Option<usize>,
    /// What is wrong with it.
    pub problem: Problem,
}

impl FieldError {
    pub(crate) fn new(field: &'static str, problem: Problem) -> Self {
        Self {
            field,
            index: None,
            problem,
        }
    }

    pub(crate) fn at(field: &'static str, index: usize, problem: Problem) -> Self {
        Self {
            field,
            index: Some(index),
            problem,
        }
    }

    /// The field's path: `redirectUris[2]` for a list element, else the name.
    pub fn path(&self) -> String {
        match self.index {
            Some(index) => format!("{}[{index}]", self.field),
            None => self.field.to_owned(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path(), self.problem)
    }
}

impl std::error::Error for FieldError {}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The field is required and was absent.
    #[error("is required")]
    Required,
    /// Fewer characters than allowed.
    #[error("must be at least {min} characters")]
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// More characters than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// A list with fewer elements than allowed.
    #[error("must have at least {min} element(s)")]
    TooFew {
        /// The minimum count.
        min: usize,
    },
    /// A list with more elements than allowed.
    #[error("must have at most {max} elements")]
    TooMany {
        /// The maximum count.
        max: usize,
    },
    /// A number outside its range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// A value with characters the field does not allow.
    #[error("contains characters that are not allowed")]
    InvalidCharacters,
    /// A redirect URI that cannot be registered.
    #[error("{0}")]
    RedirectUri(#[from] RedirectUriError),
    /// An allowed origin that is not an origin as a browser sends it.
    #[error("{0}")]
    Origin(#[from] OriginError),
    /// A scope that breaks the RFC 6749 §3.3 grammar.
    #[error("{0}")]
    Scope(#[from] ScopeError),
    /// A scope the app is not allowed to request.
    #[error("is not among the app's allowed scopes")]
    ScopeNotAllowed,
    /// A public app's Connect session needs a PKCE challenge: its code is
    /// redeemed with the verifier, not a secret.
    #[error(
        "is required for a public app: its code is redeemed with the PKCE verifier (RFC 7636, S256)"
    )]
    PkceRequired,
    /// A credential may not travel in a redirect to a URL another app can
    /// claim.
    #[error(
        "may not be `redirect` when redirectUrl is a private-use scheme, which another app can claim (RFC 8252 §8.6); use `tokenResponse`"
    )]
    ClaimableRedirect,
    /// Not one of the app's registered redirect URIs.
    #[error("is not one of the app's registered redirect URIs")]
    NotRegistered,
    /// No such customer of the app (another app's customer is reported the
    /// same way).
    #[error("names no customer of this app")]
    UnknownCustomer,
    /// A field a request authenticated by a publishable key may not set.
    #[error(
        "may not be set by a publishable key (a web page); create the session from your backend to name it"
    )]
    NotWithPublishableKey,
    /// Two fields that must agree do not.
    #[error("does not match the customer's")]
    Mismatch,
    /// The app holds no active grant for the customer.
    #[error("the app holds no active grant for this customer")]
    NoGrant,
    /// No provider of the catalogue has this id.
    #[error("names no provider of the catalogue")]
    UnknownProvider,
    /// No provider of the catalogue has this category.
    #[error("names no category of the catalogue")]
    UnknownCategory,
    /// The filters leave no provider to pick.
    #[error("leave no provider to pick")]
    NoProviderLeft,
    /// Not an e-mail address.
    #[error("must be an e-mail address")]
    InvalidEmail,
    /// Not a phone number.
    #[error("must be a phone number (digits, spaces, + - ( ) .)")]
    InvalidPhone,
    /// A location needs all of streetOne, city, state, postalCode, country.
    #[error("must have all of streetOne, city, state, postalCode and country, or be omitted")]
    IncompleteLocation,
    /// A value of the wrong JSON type.
    #[error("must be a JSON object")]
    NotAnObject,
    /// Not a JSON array of strings.
    #[error("must be a JSON array of strings")]
    NotAListOfStrings,
    /// Given together with its alias (e.g. `providers` and `manufacturers`).
    #[error("may not be combined with its alias; send one of the two")]
    DuplicateAlias,
    /// Exactly one of two fields is required: neither or both were sent.
    #[error("send exactly one of {fields}")]
    ExactlyOneOf {
        /// The two fields, as the message names them.
        fields: &'static str,
    },
    /// An update that changes nothing.
    #[error(
        "at least one of name, description, redirectUris, allowedScopes, allowedOrigins, logoUri is required"
    )]
    NothingToUpdate,
    /// Not an absolute `https` URL (a logo the hosted pages may show).
    #[error("must be an absolute https URL without user information or fragment")]
    NotHttpsUrl,
    /// Not a BCP 47 language tag.
    #[error("must be a BCP 47 language tag such as `fr` or `es-MX`")]
    InvalidLocale,
}

/// Why an OAuth app registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The input failed validation; storage is unchanged.
    #[error("invalid {0}")]
    Invalid(FieldError),
    /// No such app in this workspace (another workspace's app is reported
    /// the same way).
    #[error("OAuth app not found")]
    NotFound,
    /// The operation needs a confidential app (public apps have no secret).
    #[error("public apps have no client secret")]
    NotConfidential,
    /// The app already has the most active publishable keys allowed
    /// ([`MAX_PUBLISHABLE_KEYS_PER_APP`](crate::connect::publishable_keys::MAX_PUBLISHABLE_KEYS_PER_APP));
    /// revoke one first.
    #[error("the app already has {max} active publishable keys; revoke one first")]
    TooManyKeys {
        /// The bound.
        max: u32,
    },
    /// Another change to the same app won a race; nothing was changed. Retry.
    #[error("the app was changed concurrently; retry")]
    Conflict,
    /// The connection cannot be attached to a customer: it is revoked, was
    /// made by the app's backend, or is attached already. Nothing changed.
    #[error("only an active browser-created connection that is not attached yet can be attached")]
    NotAttachable,
    /// The customer already has an active connection of the app for the
    /// same linked account (or, without a link step, one at all); nothing
    /// changed. Revoke one of the two first.
    #[error("the customer already has an active connection for this account; revoke one first")]
    AlreadyConnected,
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl From<FieldError> for RegistryError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

/// Why client authentication failed (RFC 6749 §2.3). On the wire every case
/// is `invalid_client`; the variants exist for logs and events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// No client has this id.
    #[error("unknown client")]
    UnknownClient,
    /// A confidential client sent no secret.
    #[error("client secret required")]
    MissingSecret,
    /// The secret is malformed, wrong, or rotated out.
    #[error("invalid client secret")]
    InvalidSecret,
    /// A public client presented a secret.
    #[error("public clients have no secret")]
    UnexpectedSecret,
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}
