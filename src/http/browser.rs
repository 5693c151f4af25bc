//! What the HTTP layer knows about the browser, shared by the OAuth pages,
//! the hosted Connect page and the embed: its cookies, the error pages it
//! is shown, where its forms may post, and the Connect binding cookie.
//! Below `oauth`, `connect_page` and `embed`, which all import it and
//! nothing of each other's here.

use bytes::Bytes;
use http::{HeaderMap, Response};

use super::response;
use crate::connect::browser::BrowserSecret;
use crate::http::ui;
use crate::oauth::authorize::ErrorPage;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// An error page for the resource owner's browser, in the request's
/// language and the host's brand, with the help link as the way back:
/// marked here, rendered by [`finish_error_page`] when
/// [`AuthorizationServer::handle`] answers.
pub(super) fn error_page(page: ErrorPage) -> Response<Bytes> {
    let mut answer = Response::new(Bytes::new());
    answer.extensions_mut().insert(PendingErrorPage(page));
    answer
}

/// An error page still to render (see [`error_page`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingErrorPage(ErrorPage);

/// `response`, or the error page it stands for, rendered for `request`.
pub(super) fn finish_error_page<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    response: Response<Bytes>,
) -> Response<Bytes> {
    let Some(PendingErrorPage(page)) = response.extensions().get::<PendingErrorPage>().copied()
    else {
        return response;
    };
    branded_error_page(server, headers, None, page, None)
}

/// An error page in the language of `locale` (a session's) or of the
/// request, with `back` (the app) or else the host's help link as the way
/// back.
pub(super) fn branded_error_page<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    locale: Option<&str>,
    page: ErrorPage,
    back: Option<&ui::pages::WayBack<'_>>,
) -> Response<Bytes> {
    let config = server.config();
    let lang = ui::language(config, locale, headers);
    let look = ui::Look {
        config,
        lang: &lang,
        app_logo: None,
    };
    let status = page.status();
    let help = config.brand().support().map(|url| ui::pages::WayBack {
        url,
        app_name: None,
    });
    let csp = ui::content_security_policy(&look, &[], "'none'", None, &[]);
    response::html(
        status,
        ui::error_page(&look, page, back.or(help.as_ref())),
        &csp,
    )
}

/// Where the browser may go after a form post to the consent page: the
/// redirect URI's origin (or private-use scheme).
pub(super) fn form_target(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

pub(super) fn cookie_value<'a>(headers: &'a HeaderMap, name: &'a str) -> Option<&'a str> {
    cookie_values(headers, name).next()
}

pub(super) use crate::hooks::resource_owner::cookie_values;

/// The secret of the request's Connect binding cookie, if it carries one
/// this server issued. A value it never issued (planted, forged, or of a
/// retired key) counts as no cookie: it is never adopted.
pub(super) fn browser_of<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
) -> Option<BrowserSecret> {
    cookie_values(headers, server.browser_cookie_name())
        .find_map(|value| server.browser_from_cookie(value))
}

/// The request's browser secret, or a new one and the `Set-Cookie` value
/// that gives it to the browser (replacing a cookie the server did not
/// issue).
#[allow(clippy::result_large_err)] // the error is the response itself
pub(super) fn browser_or_new<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
) -> Result<(BrowserSecret, Option<String>), Response<Bytes>> {
    match browser_of(server, headers) {
        Some(browser) => Ok((browser, None)),
        None => match server.new_browser_secret() {
            Ok(browser) => {
                let cookie = server.browser_cookie(&browser);
                Ok((browser, Some(cookie)))
            }
            Err(_) => Err(error_page(ErrorPage::TemporarilyUnavailable)),
        },
    }
}

/// `response`, with `cookie` set if there is one.
pub(super) fn with_browser_cookie(
    response: Response<Bytes>,
    cookie: Option<&str>,
) -> Response<Bytes> {
    match cookie {
        Some(cookie) => response::with_cookie(response, cookie),
        None => response,
    }
}
