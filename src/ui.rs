//! The crate's default HTML pages: complete, accessible, self-contained (no
//! script, no third-party asset), every value escaped, served with a strict
//! Content-Security-Policy.
//!
//! Hosts that want their own look render from the typed page data
//! ([`ConsentPrompt`](crate::ConsentPrompt), [`ErrorPage`](crate::ErrorPage))
//! and call the typed API instead of [`AuthorizationServer::handle`](crate::AuthorizationServer::handle).

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

/// The one stylesheet, inline; the CSP allows exactly its hash.
const STYLE: &str = "\
:root{color-scheme:light dark;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5}\
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:Canvas;color:CanvasText}\
main{max-width:28rem;width:100%;padding:2rem;box-sizing:border-box}\
h1{font-size:1.4rem;margin:0 0 1rem}\
ul{padding-left:1.2rem}li{margin:.3rem 0}\
.scope{font-family:ui-monospace,monospace;font-size:.85em;opacity:.75}\
label{display:block;margin:1rem 0 .3rem;font-weight:600}\
input[type=text],input[type=email],input[type=tel],input[type=password],input[type=search]{width:100%;padding:.55rem;border:1px solid GrayText;border-radius:.4rem;box-sizing:border-box;font:inherit}\
.actions{display:flex;gap:.75rem;margin-top:1.5rem}\
button{flex:1;padding:.7rem 1rem;border-radius:.4rem;border:1px solid GrayText;font:inherit;cursor:pointer;background:Canvas;color:CanvasText}\
button.primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}\
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}\
.note{font-size:.85rem;opacity:.8}.demo{border:1px dashed #b45309;padding:.75rem;border-radius:.4rem}\
";

fn style_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
        format!("'sha256-{}'", STANDARD.encode(digest.as_ref()))
    })
}

/// The Content-Security-Policy of a page: nothing but its own stylesheet;
/// forms post to this origin and (for the redirect that follows) to
/// `form_targets`; framing only by `frame_ancestors` (`'none'` by default).
pub(crate) fn content_security_policy(form_targets: &[String], frame_ancestors: &str) -> String {
    let mut targets = String::from("'self'");
    for target in form_targets {
        targets.push(' ');
        targets.push_str(target);
    }
    format!(
        "default-src 'none'; style-src {}; img-src 'self' https: data:; form-action {targets}; \
         frame-ancestors {frame_ancestors}; base-uri 'none'",
        style_hash()
    )
}

/// A full HTML document around `body`.
pub(crate) fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        text(title)
    )
}

/// The error page for `title` and `message`.
pub(crate) fn error_page(title: &str, message: &str) -> String {
    document(
        title,
        &format!("<h1>{}</h1><p>{}</p>", text(title), text(message)),
    )
}

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

pub(crate) fn consent_page(view: &ConsentView<'_>) -> String {
    let title = format!("Allow {} to access your account?", view.app_name);
    let mut body = format!(
        "<h1>{}</h1><p><strong>{}</strong> is asking for permission to:</p>{}\
         <p class=\"note\">After you decide you will return to <strong>{}</strong>.</p>\
         <form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"session\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        text(&title),
        text(view.app_name),
        scope_list(&view.scopes),
        text(view.return_to),
        attr(view.action),
        attr(view.session),
        attr(view.csrf_token),
    );
    if view.demo_sign_in {
        body.push_str(
            "<div class=\"demo\"><label for=\"subject\">Demo sign-in: your user id</label>\
             <input type=\"text\" id=\"subject\" name=\"subject\" autocomplete=\"username\" maxlength=\"255\">\
             <p class=\"note\">Demo only. A real service identifies its signed-in user here with its own login.</p></div>",
        );
    }
    body.push_str(
        "<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         <button type=\"submit\" class=\"primary\" name=\"decision\" value=\"approve\">Allow</button></div></form>",
    );
    document(&title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
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
        };
        let html = consent_page(&view);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<b>") && !html.contains("<i>"));
        assert!(!html.contains("value=\"\"><script>"));
    }

    #[test]
    fn csp_allows_only_the_inline_stylesheet() {
        let csp = content_security_policy(&["https://app.example".into()], "'none'");
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains("form-action 'self' https://app.example;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("script-src"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
