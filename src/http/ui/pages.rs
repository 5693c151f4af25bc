//! Error pages (each with a way back) and the pages that end an embedded
//! flow or answer a `web_message` request.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{Look, PageScript, document, page_script};
use crate::oauth::authorize::ErrorPage;

/// Where an error page sends the user back: the app (its redirect URL,
/// with `error=access_denied`, when the session or request is known and
/// valid), else the host's support page.
pub(crate) struct WayBack<'a> {
    pub(crate) url: &'a str,
    pub(crate) app_name: Option<&'a str>,
}

/// The error page of `page`, in the look's language, with `extra`
/// (trusted markup: the page's script) at the end of its body.
pub(crate) fn error_page(look: &Look<'_>, page: ErrorPage, back: Option<&WayBack<'_>>) -> String {
    error_page_with(look, page, back, "")
}

/// [`error_page`] with `extra` (trusted markup) at the end of its body.
pub(crate) fn error_page_with(
    look: &Look<'_>,
    page: ErrorPage,
    back: Option<&WayBack<'_>>,
    extra: &str,
) -> String {
    let (title, message) = super::keys::error_keys(page);
    let title = look.t(title);
    let mut body = format!(
        "<h1 tabindex=\"-1\" autofocus>{}</h1><p>{}</p>",
        text(title),
        text(look.t(message))
    );
    match back {
        Some(back) => {
            let label = match back.app_name {
                Some(_) => look.t("page.back_to_app"),
                None => look.t("page.help"),
            };
            let _ = write!(
                body,
                "<p><a href=\"{}\" rel=\"noreferrer\">{}</a></p>",
                attr(back.url),
                text(label)
            );
        }
        None => {
            // No application to return to: the help link below, if the
            // host has one, is the way on.
        }
    }
    body.push_str(extra);
    document(look, title, "", &body)
}

/// The last-resort page of a response whose policy could not be sent: no
/// server at hand, English, unbranded.
pub(crate) fn plain_error_page() -> String {
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
     <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
     <title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>\
     <p>This page could not be shown safely. Try again later.</p></main></body></html>\n"
        .to_owned()
}

/// A titled page with a lead paragraph and a script (the provider sign-in
/// window's return).
pub(crate) fn script_page(look: &Look<'_>, title: &str, lead: &str, script: &str) -> String {
    document(
        look,
        title,
        "",
        &format!("<h1>{}</h1><p>{}</p>{script}", text(title), text(lead)),
    )
}

/// The page that ends an embedded flow or answers a `web_message`
/// request: it tells the opener (or parent) through its script.
pub(crate) struct MessagePage<'a> {
    pub(crate) title: &'a str,
    /// What the user reads while the message goes out.
    pub(crate) lead: &'a str,
    /// Shown when the window to tell is gone and there is no fallback.
    pub(crate) gone: &'a str,
    /// The ordinary redirect, for a browser without JavaScript (and the
    /// script's fallback).
    pub(crate) fallback: Option<&'a str>,
    /// Shown without JavaScript when there is no fallback.
    pub(crate) no_script: &'a str,
    pub(crate) script: PageScript<'a>,
}

/// [`MessagePage`] as HTML.
pub(crate) fn message_page(look: &Look<'_>, page: &MessagePage<'_>) -> String {
    let mut body = format!(
        "<h1>{}</h1><p>{}</p><p id=\"oc-gone\" role=\"alert\" hidden>{}</p>",
        text(page.title),
        text(page.lead),
        text(page.gone)
    );
    let head = match page.fallback {
        Some(url) => {
            let _ = write!(
                body,
                "<noscript><p><a href=\"{}\">{}</a></p></noscript>",
                attr(url),
                text(look.t("message.continue"))
            );
            format!(
                "<noscript><meta http-equiv=\"refresh\" content=\"0;url={}\"></noscript>",
                attr(url)
            )
        }
        None => {
            let _ = write!(body, "<noscript><p>{}</p></noscript>", text(page.no_script));
            String::new()
        }
    };
    body.push_str(&page_script(&page.script));
    document(look, page.title, &head, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presentation::brand::Brand;

    /// Every error page has a way back: the app when known, else the
    /// host's support page (issue 20, item 5).
    #[test]
    fn error_pages_offer_a_way_back() {
        let server = super::super::tests::server(
            Brand::new("Acme").support_url("https://acme.example/help"),
        );
        let look = Look {
            config: server.config(),
            lang: "es",
            app_logo: None,
        };
        let html = error_page(
            &look,
            ErrorPage::ExpiredRequest,
            Some(&WayBack {
                url: "https://app.example/cb?error=access_denied&state=s",
                app_name: Some("App"),
            }),
        );
        assert!(html.contains("Este enlace ha caducado"), "{html}");
        assert!(
            html.contains("href=\"https://app.example/cb?error=access_denied&amp;state=s\""),
            "{html}"
        );
        assert!(html.contains("Volver a la aplicación"), "{html}");
        let html = error_page(&look, ErrorPage::UnknownClient, None);
        assert!(
            html.contains("href=\"https://acme.example/help\""),
            "{html}"
        );
    }
}
