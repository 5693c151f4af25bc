//! The consent page of a plain authorization flow.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{Look, document};

/// One requested scope as the page lists it.
pub(crate) struct ScopeLine<'a> {
    pub(crate) token: &'a str,
    pub(crate) description: Option<&'a str>,
}

/// The consent page of a plain authorization flow.
pub(crate) struct ConsentView<'a> {
    pub(crate) app_name: &'a str,
    pub(crate) scopes: Vec<ScopeLine<'a>>,
    pub(crate) return_to: &'a str,
    pub(crate) action: &'a str,
    pub(crate) session: &'a str,
    pub(crate) csrf_token: &'a str,
    pub(crate) demo_sign_in: bool,
    /// The demo sign-in's field, filled in: the id signed in.
    pub(crate) demo_user: Option<&'a str>,
    /// Who is signed in, as the host's login says.
    pub(crate) signed_in: Option<&'a str>,
    /// The host's sign-in page (to switch accounts), back to this page.
    pub(crate) sign_in_url: Option<&'a str>,
}

pub(crate) fn scope_list(scopes: &[ScopeLine<'_>]) -> String {
    let mut out = String::from("<ul>");
    for scope in scopes {
        match scope.description {
            Some(description) => {
                let _ = write!(
                    out,
                    "<li>{} <span class=\"scope\">({})</span></li>",
                    text(description),
                    text(scope.token)
                );
            }
            None => {
                let _ = write!(
                    out,
                    "<li><span class=\"scope\">{}</span></li>",
                    text(scope.token)
                );
            }
        }
    }
    out.push_str("</ul>");
    out
}

/// The app's logo (decorative: its name follows) and `line` (HTML).
pub(crate) fn app_line(look: &Look<'_>, line: &str) -> String {
    let logo = look.app_logo.map_or_else(String::new, |url| {
        format!(
            "<img src=\"{}\" alt=\"\" width=\"40\" height=\"40\" referrerpolicy=\"no-referrer\">",
            attr(url)
        )
    });
    format!("<p class=\"app\">{logo}<span>{line}</span></p>")
}

pub(crate) fn consent_page(look: &Look<'_>, view: &ConsentView<'_>) -> String {
    let title = look.tf("consent.title", &[("app", view.app_name)]);
    let app = format!("<strong>{}</strong>", text(view.app_name));
    let mut body = format!(
        "<h1 tabindex=\"-1\" autofocus>{}</h1>{}{}",
        text(&title),
        app_line(look, &look.th("consent.wants", &[("app", &app)])),
        scope_list(&view.scopes),
    );
    let _ = write!(
        body,
        "<p class=\"note\">{}</p>",
        look.th(
            "consent.return",
            &[("url", &format!("<strong>{}</strong>", text(view.return_to)))]
        )
    );
    if let Some(user) = view.signed_in {
        let _ = write!(
            body,
            "<p class=\"note who\">{}",
            look.th(
                "page.signed_in_as",
                &[("user", &format!("<strong>{}</strong>", text(user)))]
            )
        );
        if let Some(url) = view.sign_in_url {
            let _ = write!(
                body,
                " · <a href=\"{}\">{}</a>",
                attr(url),
                text(look.t("page.not_you"))
            );
        }
        body.push_str("</p>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"session\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        attr(view.action),
        attr(view.session),
        attr(view.csrf_token),
    );
    if view.demo_sign_in {
        let _ = write!(
            body,
            "<div class=\"demo\"><label for=\"subject\">{} <span class=\"tag\">({})</span></label>\
             <input type=\"text\" id=\"subject\" name=\"subject\" autocomplete=\"username\" maxlength=\"255\" required{} aria-describedby=\"subject-note\">\
             <p class=\"note\" id=\"subject-note\">{}</p></div>",
            text(look.t("consent.demo_label")),
            text(look.t("page.required")),
            view.demo_user
                .map(|user| format!(" value=\"{}\"", attr(user)))
                .unwrap_or_default(),
            text(look.t("consent.demo_note")),
        );
    }
    // Deny first, as Exit on every Connect step; the primary last.
    let _ = write!(
        body,
        "<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>{}</button>\
         <button type=\"submit\" class=\"primary\" name=\"decision\" value=\"approve\">{}</button></div></form>",
        text(look.t("consent.deny")),
        text(look.t("consent.allow")),
    );
    document(look, &title, "", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presentation::brand::Brand;

    #[test]
    fn everything_shown_is_escaped() {
        let server = super::super::tests::server(Brand::default());
        let look = Look {
            config: server.config(),
            lang: "en",
            app_logo: Some("https://cdn.example/\"><script>.png"),
        };
        let view = ConsentView {
            app_name: "<script>alert(1)</script>",
            scopes: vec![ScopeLine {
                token: "read:<b>",
                description: Some("\"quoted\" & <i>"),
            }],
            return_to: "https://app.example/<x>",
            action: "/oauth/authorize",
            session: "\"><script>",
            csrf_token: "t",
            demo_sign_in: true,
            demo_user: Some("\"><script>"),
            signed_in: Some("<b>ada</b>"),
            sign_in_url: Some("/login?return_to=\"><script>"),
        };
        let html = consent_page(&look, &view);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<b>") && !html.contains("<i>"));
        assert!(!html.contains("value=\"\"><script>"));
        assert!(
            html.contains("Signed in as <strong>&lt;b&gt;ada&lt;/b&gt;</strong>"),
            "{html}"
        );
        assert!(
            html.contains("name=\"subject\" autocomplete=\"username\" maxlength=\"255\" required")
        );
    }
}
