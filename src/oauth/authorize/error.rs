//! What the authorization endpoint answers when it does not ask the
//! resource owner: a page (nothing verified to redirect to) or a redirect
//! with the error (RFC 6749 §4.1.2.1).

use std::fmt;

use super::redirect::ClientRedirect;

/// A problem the resource owner sees as a page, because there is no
/// verified redirect URI to send it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorPage {
    /// `client_id` is missing.
    MissingClientId,
    /// No client has this `client_id`.
    UnknownClient,
    /// `client_id`, `redirect_uri` or `request_uri` appears more than once.
    RepeatedParameter,
    /// `redirect_uri` is not one of the client's registered URIs.
    InvalidRedirectUri,
    /// `redirect_uri` is missing and the client registered several.
    MissingRedirectUri,
    /// The `request_uri` or Connect token is unknown or malformed.
    UnknownRequest,
    /// The request expired before it was completed.
    ExpiredRequest,
    /// The request was already approved or denied.
    CompletedRequest,
    /// The consent form's CSRF token is missing or wrong.
    InvalidCsrfToken,
    /// The server could not reach its storage; try again.
    TemporarilyUnavailable,
    /// The decision needs a signed-in end user and there is none.
    SignInRequired,
    /// A provider's callback with a missing, forged, reused or expired
    /// `state`.
    InvalidLinkState,
    /// A hosted Connect page, form post or provider callback from another
    /// browser than the one that claimed the session with its first form
    /// post (its binding cookie is missing or another).
    OtherBrowser,
}

impl ErrorPage {
    /// A short title for the page.
    pub fn title(self) -> &'static str {
        match self {
            Self::MissingClientId | Self::UnknownClient | Self::RepeatedParameter => {
                "This sign-in link is not valid"
            }
            Self::InvalidRedirectUri | Self::MissingRedirectUri => "This sign-in link is not valid",
            Self::UnknownRequest => "This link is not valid",
            Self::ExpiredRequest => "This link has expired",
            Self::CompletedRequest => "This request was already completed",
            Self::InvalidCsrfToken => "Your decision could not be verified",
            Self::TemporarilyUnavailable => "Temporarily unavailable",
            Self::SignInRequired => "Sign in to continue",
            Self::InvalidLinkState => "This link could not be verified",
            Self::OtherBrowser => "This Connect session was opened in another browser",
        }
    }

    /// What happened and what to do, for the resource owner.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingClientId => {
                "The application did not identify itself. Go back to the application and start again."
            }
            Self::UnknownClient => {
                "The application is not registered here. Go back to the application and start again."
            }
            Self::RepeatedParameter => {
                "The request repeats a parameter. Go back to the application and start again."
            }
            Self::InvalidRedirectUri => {
                "The application asked to return to an address it has not registered, so you were not sent there. Contact the application's developer."
            }
            Self::MissingRedirectUri => {
                "The application did not say where to return. Contact the application's developer."
            }
            Self::UnknownRequest => {
                "The link is unknown or incomplete. Go back to the application and start again."
            }
            Self::ExpiredRequest => {
                "The link is only valid for a short time. Go back to the application and start again."
            }
            Self::CompletedRequest => {
                "You already approved or denied this request. Go back to the application; start again there if needed."
            }
            Self::InvalidCsrfToken => {
                "The form could not be verified. Reload the page and try again."
            }
            Self::TemporarilyUnavailable => {
                "The service could not complete your request. Try again in a moment."
            }
            Self::SignInRequired => {
                "You need to be signed in to approve this request. Sign in, then start again from the application."
            }
            Self::InvalidLinkState => {
                "The return from the provider was not expected, was already used, or took too long. Go back to the application and start again."
            }
            Self::OtherBrowser => {
                "For your security, a Connect session continues only in the browser that opened it. Start again from the app."
            }
        }
    }

    /// The HTTP status for the page.
    pub fn status(self) -> u16 {
        match self {
            Self::ExpiredRequest | Self::CompletedRequest => 410,
            Self::UnknownRequest => 404,
            Self::InvalidCsrfToken | Self::OtherBrowser => 403,
            Self::TemporarilyUnavailable => 503,
            Self::SignInRequired => 401,
            _ => 400,
        }
    }
}

/// Why the authorization endpoint did not produce a consent prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// Show this page; the client's redirect URI is not verified.
    Page(ErrorPage),
    /// Redirect the browser here (RFC 6749 §4.1.2.1).
    Redirect(ClientRedirect),
}

/// Names the page, or the error code sent to the client; never a value
/// of the request (`state`, the redirect URI's query).
impl fmt::Display for AuthorizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page(page) => write!(f, "authorization refused: {}", page.title()),
            Self::Redirect(to) => match (to.param("error"), to.param("error_description")) {
                (Some(code), Some(description)) => {
                    write!(
                        f,
                        "authorization error for the client: {code} ({description})"
                    )
                }
                (Some(code), None) => write!(f, "authorization error for the client: {code}"),
                _ => f.write_str("authorization answered by a redirect to the client"),
            },
        }
    }
}

impl std::error::Error for AuthorizeError {}
