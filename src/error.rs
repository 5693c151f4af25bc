//! The error of the typed management and Connect API, [`Error`], with its
//! HTTP status and wire code defined once beside it ([`Error::status`],
//! [`Error::code`]), and the parts it is made of: [`FieldError`] (an input
//! that failed validation, with its [`Problem`]), [`Resource`] (what was
//! not found), [`Conflict`], [`AuthFailure`] (who could not be
//! authenticated), [`Forbidden`] and [`Throttle`] (which limit was
//! reached).
//!
//! The OAuth endpoints answer with their own RFC 6749 codes
//! ([`OAuthErrorCode`](crate::oauth::OAuthErrorCode), whose status is defined
//! beside it); leaf errors of values stay with their values
//! ([`oauth::ScopeError`](crate::oauth::ScopeError), [`oauth::RedirectUriError`](crate::oauth::RedirectUriError), …).
//! None of them ever carries a credential.

use std::fmt;

use http::StatusCode;

use crate::model::origin::OriginError;
use crate::model::random::RandomError;
use crate::model::redirect::RedirectUriError;
use crate::model::scope::ScopeError;
use crate::storage::{StorageError, StorageErrorKind};

pub use crate::model::ids::InvalidId;

/// Why a call of the management or Connect API failed.
///
/// Every variant but [`Storage`](Self::Storage) and
/// [`Random`](Self::Random) leaves storage as it was. Over HTTP each one is
/// answered with [`status`](Self::status) and the JSON body
/// `{"error": code, "message": …, "field"?: …}` whose `error` is
/// [`code`](Self::code); the message is the `Display` of the error, except
/// for storage and RNG failures, which the wire never details.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input field failed validation.
    #[error("invalid {0}")]
    Invalid(FieldError),
    /// No such resource for this caller (another workspace's or another
    /// app's is reported the same way, and so is a malformed id).
    #[error("no such {0}")]
    NotFound(Resource),
    /// The request conflicts with the resource's state; nothing changed.
    #[error("{0}")]
    Conflict(Conflict),
    /// The operation needs a confidential app, and the app is public
    /// (public apps have no client secret).
    #[error("the app is public: this needs a confidential app, which has a client secret")]
    PublicApp,
    /// The caller could not be authenticated.
    #[error("{0}")]
    Unauthenticated(AuthFailure),
    /// The caller is authenticated but may not do this.
    #[error("{0}")]
    Forbidden(Forbidden),
    /// A limit per client address was reached: retry after `retry_after`.
    #[error("{limit}; retry after the time in Retry-After")]
    RateLimited {
        /// Which limit.
        limit: Throttle,
        /// How long until the window ends.
        retry_after: time::Duration,
    },
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl Error {
    /// The HTTP status the API answers this error with: the one table of
    /// the management and Connect API.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) | Self::PublicApp => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthenticated(AuthFailure::MultipleAuthorizationHeaders) => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Storage(e) => storage_status(e),
            Self::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire code of this error, the `error` of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_)
            | Self::PublicApp
            | Self::Unauthenticated(AuthFailure::MultipleAuthorizationHeaders) => "invalid_request",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Unauthenticated(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::Storage(e) if storage_status(e) == StatusCode::SERVICE_UNAVAILABLE => {
                "temporarily_unavailable"
            }
            Self::Storage(_) | Self::Random(_) => "server_error",
        }
    }
}

/// The status of a storage failure: 503 for one worth retrying (the
/// backend unavailable or timed out), else 500.
pub(crate) fn storage_status(e: &StorageError) -> StatusCode {
    match e.kind() {
        StorageErrorKind::Unavailable | StorageErrorKind::Timeout => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

impl From<Resource> for Error {
    fn from(resource: Resource) -> Self {
        Self::NotFound(resource)
    }
}

impl From<Conflict> for Error {
    fn from(e: Conflict) -> Self {
        Self::Conflict(e)
    }
}

impl From<AuthFailure> for Error {
    fn from(e: AuthFailure) -> Self {
        Self::Unauthenticated(e)
    }
}

impl From<Forbidden> for Error {
    fn from(e: Forbidden) -> Self {
        Self::Forbidden(e)
    }
}

/// What was not found ([`Error::NotFound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Resource {
    /// An OAuth app.
    #[error("OAuth app")]
    App,
    /// A publishable key of an app.
    #[error("publishable key")]
    PublishableKey,
    /// A connection.
    #[error("connection")]
    Connection,
    /// A customer.
    #[error("customer")]
    Customer,
    /// A scoped key.
    #[error("scoped key")]
    ScopedKey,
}

/// How a request conflicts with the state of what it changes
/// ([`Error::Conflict`]); nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// Another change to the same record won a race. Retry.
    #[error("changed concurrently by another request; nothing changed, retry")]
    Concurrent,
    /// The app already has the most active publishable keys allowed
    /// ([`MAX_PUBLISHABLE_KEYS_PER_APP`](crate::limits::MAX_PUBLISHABLE_KEYS_PER_APP));
    /// revoke one first.
    #[error("the app already has {max} active publishable keys; revoke one first")]
    TooManyKeys {
        /// The bound.
        max: u32,
    },
    /// The connection cannot be attached to a customer: it is revoked, was
    /// made by the app's backend, or is attached already.
    #[error("only an active browser-created connection that is not attached yet can be attached")]
    NotAttachable,
    /// The customer already has an active connection of the app for the
    /// same linked account (or, without a link step, one at all). Revoke
    /// one of the two first.
    #[error("the customer already has an active connection for this account; revoke one first")]
    AlreadyConnected,
    /// The admin key is already registered for another workspace.
    #[error("this admin key is already registered for another workspace; use a distinct key")]
    AdminKeyInUse,
}

/// Who could not be authenticated, and why ([`Error::Unauthenticated`]).
///
/// The client cases are those of RFC 6749 §2.3: at the OAuth endpoints
/// every one of them is `invalid_client`; the variants exist for logs and
/// events. No case says which check of a credential failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No client has this id.
    #[error("client authentication failed")]
    UnknownClient,
    /// A confidential client sent no secret.
    #[error("client authentication failed")]
    MissingSecret,
    /// The client secret is malformed, wrong, or rotated out.
    #[error("client authentication failed")]
    InvalidSecret,
    /// A public client presented a secret.
    #[error("client authentication failed")]
    UnexpectedSecret,
    /// The operation needs a confidential client, authenticated with its
    /// secret; a public client was only identified.
    #[error("a confidential client is required")]
    ConfidentialClientRequired,
    /// No client credentials were sent (`Authorization: Basic`).
    #[error("send the client's credentials with `Authorization: Basic`")]
    MissingClientCredentials,
    /// No admin key was sent (`Authorization: Bearer <admin key>`).
    #[error("an admin key is required: send `Authorization: Bearer <admin key>`")]
    MissingAdminKey,
    /// The admin key is malformed, unknown, revoked, or hashed under a
    /// retired server key.
    #[error("the admin key is invalid or revoked")]
    InvalidAdminKey,
    /// The publishable key is malformed, unknown or revoked, or its app is
    /// gone.
    #[error("the publishable key is invalid or revoked")]
    InvalidPublishableKey,
    /// The `Authorization` header is not one valid credential of the
    /// expected scheme.
    #[error("malformed Authorization header")]
    MalformedAuthorization,
    /// More than one `Authorization` header: which one speaks is
    /// ambiguous.
    #[error("send exactly one Authorization header")]
    MultipleAuthorizationHeaders,
}

impl AuthFailure {
    /// Whether this is a failure of the client credentials presented (RFC
    /// 6749 §2.3), the failures counted per client address.
    pub fn is_client_failure(self) -> bool {
        matches!(
            self,
            Self::UnknownClient
                | Self::MissingSecret
                | Self::InvalidSecret
                | Self::UnexpectedSecret
        )
    }
}

/// What an authenticated caller may not do ([`Error::Forbidden`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Forbidden {
    /// The request's `Origin` is absent or not one of the app's
    /// `allowedOrigins`, which a publishable key needs.
    #[error(
        "this origin may not create Connect sessions: send `Origin` from one of the app's allowedOrigins"
    )]
    OriginNotAllowed,
}

/// Which limit per client address was reached ([`Error::RateLimited`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Throttle {
    /// The publishable key's Connect-session budget for this address.
    #[error("too many Connect sessions for this publishable key from this address")]
    ConnectSessions,
    /// Failed admin keys from this address.
    #[error("too many failed admin keys from this address")]
    FailedAdminKeys,
    /// Failed client authentications from this address.
    #[error("too many failed client authentications from this address")]
    FailedClientAuthentications,
}

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

/// What is wrong with a field: a rule any input may break, or one of the
/// registry's or of Connect's own.
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
    /// Two fields that must agree do not.
    #[error("does not match the customer's")]
    Mismatch,
    /// A value of the wrong JSON type.
    #[error("must be a JSON object")]
    NotAnObject,
    /// Not a JSON array of strings.
    #[error("must be a JSON array of strings")]
    NotAListOfStrings,
    /// Exactly one of two fields is required: neither or both were sent.
    #[error("send exactly one of {fields}")]
    ExactlyOneOf {
        /// The two fields, as the message names them.
        fields: &'static str,
    },
    /// A rule of the OAuth app registry.
    #[error("{0}")]
    Registry(RegistryProblem),
    /// A rule of Connect sessions, customers and scoped keys.
    #[error("{0}")]
    Connect(ConnectProblem),
}

/// What is wrong with a field of an OAuth app ([`Problem::Registry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryProblem {
    /// An update that changes nothing.
    #[error(
        "at least one of name, description, redirectUris, allowedScopes, allowedOrigins, logoUri is required"
    )]
    NothingToUpdate,
    /// Not an absolute `https` URL (a logo the hosted pages may show).
    #[error("must be an absolute https URL without user information or fragment")]
    NotHttpsUrl,
}

/// What is wrong with a field of a Connect session, a customer or a scoped
/// key ([`Problem::Connect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectProblem {
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
    /// Given together with its alias (e.g. `providers` and `manufacturers`).
    #[error("may not be combined with its alias; send one of the two")]
    DuplicateAlias,
    /// Not a BCP 47 language tag.
    #[error("must be a BCP 47 language tag such as `fr` or `es-MX`")]
    InvalidLocale,
}
