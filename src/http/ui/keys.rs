//! Which message of the catalogues ([`crate::presentation::i18n`]) a page
//! shows for an error page or a form field's problem.

use crate::error::{ConnectProblem, Problem};
use crate::oauth::authorize::error::ErrorPage;

/// The keys of an error page's title and message.
pub(crate) fn error_keys(page: ErrorPage) -> (&'static str, &'static str) {
    match page {
        ErrorPage::MissingClientId => ("error.invalid_link.title", "error.missing_client_id"),
        ErrorPage::UnknownClient => ("error.invalid_link.title", "error.unknown_client"),
        ErrorPage::RepeatedParameter => ("error.invalid_link.title", "error.repeated_parameter"),
        ErrorPage::InvalidRedirectUri => ("error.invalid_link.title", "error.invalid_redirect_uri"),
        ErrorPage::MissingRedirectUri => ("error.invalid_link.title", "error.missing_redirect_uri"),
        ErrorPage::UnknownRequest => ("error.unknown_request.title", "error.unknown_request"),
        ErrorPage::ExpiredRequest => ("error.expired.title", "error.expired"),
        ErrorPage::CompletedRequest => ("error.completed.title", "error.completed"),
        ErrorPage::InvalidCsrfToken => ("error.csrf.title", "error.csrf"),
        ErrorPage::TemporarilyUnavailable => ("error.unavailable.title", "error.unavailable"),
        ErrorPage::SignInRequired => ("error.sign_in.title", "error.sign_in"),
        ErrorPage::InvalidLinkState => ("error.link_state.title", "error.link_state"),
        ErrorPage::OtherBrowser => ("error.other_browser.title", "error.other_browser"),
    }
}

/// The key of a form field's problem, as the customer form shows it.
pub(crate) fn problem_key(problem: &Problem) -> &'static str {
    match problem {
        Problem::Required => "problem.required",
        Problem::TooLong { .. } => "problem.too_long",
        Problem::Connect(ConnectProblem::InvalidEmail) => "problem.email",
        Problem::Connect(ConnectProblem::InvalidPhone) => "problem.phone",
        Problem::Connect(ConnectProblem::IncompleteLocation) => "problem.location",
        Problem::InvalidCharacters => "problem.characters",
        _ => "problem.other",
    }
}

#[cfg(test)]
mod tests {
    use crate::presentation::i18n::{Catalogue, SHIPPED};

    /// The embed script carries the shipped `sdk.*` texts.
    #[test]
    fn the_embed_script_carries_the_sdk_texts() {
        let shipped = Catalogue::default();
        let sdk = include_str!("assets/connect-sdk.js");
        for lang in SHIPPED {
            for key in ["sdk.title", "sdk.close"] {
                let text = shipped.lookup(lang, key).unwrap();
                assert!(
                    sdk.contains(&format!("'{}'", text.replace('\'', "\\'"))),
                    "{lang} {key}"
                );
            }
        }
    }
}
