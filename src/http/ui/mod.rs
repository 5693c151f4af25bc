//! The crate's default HTML pages: complete, accessible, self-contained (no
//! third-party asset, no inline script), every value escaped, served with a
//! strict Content-Security-Policy, in the host's brand and the user's
//! language. Pages that talk to another window (an embedded Connect page,
//! a `web_message` response) and the provider picker (its filter) load a
//! script: the server's own `/connect/page/<version>.js`, under the
//! response's CSP nonce, told what to do by escaped `data-*` attributes.
//!
//! Hosts that want their own look render from the typed page data
//! ([`ConsentPrompt`](crate::oauth::authorize::ConsentPrompt), [`ErrorPage`](crate::oauth::authorize::ErrorPage))
//! and call the typed API instead of [`AuthorizationServer::handle`](crate::AuthorizationServer::handle).
//!
//! - [`keys`]: which message an error page or a field's problem shows (the
//!   brand and the catalogues themselves are [`crate::presentation`]'s);
//! - [`consent`]: the consent page of a plain authorization;
//! - [`connect`]: the hosted Connect steps;
//! - [`pages`]: error and message pages.

pub(crate) mod connect;
pub(crate) mod consent;
pub(crate) mod countries;
mod form;
pub(crate) mod keys;
pub(crate) mod pages;

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::config::ServerConfig;
use crate::presentation::i18n::fill;

pub(crate) use connect::{
    ConnectView, CustomerView, EmbedView, LinkInput, ProviderLine, StepBody, connect_page,
};
pub(crate) use consent::{ConsentView, ScopeLine, consent_page};
pub(crate) use pages::{MessagePage, error_page, error_page_with, message_page, plain_error_page};

/// The one stylesheet, inline; the CSP allows exactly its hash (and the
/// brand's accent stylesheet's).
const STYLE: &str = "\
:root{color-scheme:light dark;--accent:#1d4ed8;--on-accent:#fff;--bad:light-dark(#b91c1c,#fca5a5);font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5}\
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:Canvas;color:CanvasText}\
main{max-width:30rem;width:100%;padding:1.5rem;box-sizing:border-box}\
.brand{display:flex;align-items:center;gap:.6rem;margin:0 0 1.25rem;font-weight:600}\
.brand img{height:2rem;width:auto;max-width:8rem;object-fit:contain}\
.app{display:flex;align-items:center;gap:.6rem;margin:0 0 .75rem}\
.app img{width:2.5rem;height:2.5rem;border-radius:.5rem;object-fit:contain}\
.progress{font-size:.9rem;margin:0}\
progress{display:block;width:100%;height:.4rem;accent-color:var(--accent);margin:.25rem 0 1rem}\
h1{font-size:1.4rem;margin:0 0 1rem}h1:focus{outline:none}\
ul{padding-left:1.2rem}li{margin:.3rem 0}\
.scope{font-family:ui-monospace,monospace;font-size:.85em}\
label{display:block;margin:1rem 0 .3rem;font-weight:600}\
.tag{font-weight:400;font-size:.85em}\
input[type=text],input[type=email],input[type=tel],input[type=password],input[type=search],input[type=number],select{width:100%;padding:.55rem;border:1px solid GrayText;border-radius:.4rem;box-sizing:border-box;font:inherit;background:Field;color:FieldText}\
[aria-invalid=true]{border:2px solid var(--bad)}\
.field-error{color:var(--bad);margin:.3rem 0 0;font-size:.9rem}\
.alert{border-left:4px solid var(--bad);padding:.5rem .75rem;margin:1rem 0}\
.notice{border-left:4px solid GrayText;padding:.5rem .75rem;margin:1rem 0}\
fieldset{border:0;padding:0;margin:1.5rem 0 0;min-width:0}legend{font-weight:700;padding:0;font-size:1.05rem}\
.hint{font-size:.9rem;margin:.25rem 0 0}\
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.5rem}\
.actions button{flex:1 1 8rem}\
button{padding:.7rem 1rem;border-radius:.4rem;border:1px solid GrayText;font:inherit;cursor:pointer;background:Canvas;color:CanvasText}\
button.primary{background:var(--accent);border-color:var(--accent);color:var(--on-accent)}\
button:focus-visible,input:focus-visible,select:focus-visible,a:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}\
a{color:LinkText}\
.note{font-size:.9rem}.demo{border:1px dashed #b45309;padding:.75rem;border-radius:.4rem}\
.search{display:flex;gap:.5rem}.search input{flex:1}.search button{flex:0 0 auto}\
.tiles{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));gap:.6rem;margin:1rem 0}\
.tiles li{margin:0;display:flex}\
.tile{width:100%;display:flex;flex-direction:column;align-items:center;gap:.35rem;padding:.9rem .5rem;text-align:center}\
.tile img,.mono{width:2.5rem;height:2.5rem;object-fit:contain}\
.mono{border-radius:50%;background:var(--accent);color:var(--on-accent);display:flex;align-items:center;justify-content:center;font-weight:700}\
.tile .cats{font-size:.8rem}\
.help{margin-top:1.5rem;font-size:.9rem}\
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}\
[hidden]{display:none!important}\
@media (max-width:30rem){main{padding:1rem}}\
";

fn style_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let digest = ring::digest::digest(&ring::digest::SHA256, STYLE.as_bytes());
        format!("'sha256-{}'", STANDARD.encode(digest.as_ref()))
    })
}

/// How one page looks and speaks: the host's brand, the language chosen
/// for this request, and the app the page is about.
#[derive(Clone, Copy)]
pub(crate) struct Look<'a> {
    pub(crate) config: &'a ServerConfig,
    pub(crate) lang: &'a str,
    /// The app's logo (checked `https`), on the consent and Connect pages.
    pub(crate) app_logo: Option<&'a str>,
}

impl<'a> Look<'a> {
    /// The text of message `key`.
    pub(crate) fn t(&self, key: &'a str) -> &'a str {
        self.config.catalogue().text(self.lang, key)
    }

    /// Message `key` with its `{values}` filled in (the result is text, to
    /// escape).
    pub(crate) fn tf(&self, key: &'a str, values: &[(&str, &str)]) -> String {
        fill(self.t(key), values)
    }

    /// Message `key` as HTML, with its `{values}` filled in by `values`
    /// (already HTML).
    pub(crate) fn th(&self, key: &'a str, values: &[(&str, &str)]) -> String {
        fill(&text(self.t(key)), values)
    }
}

/// The language of a request's pages: the session's `locale`, else
/// `Accept-Language`, else English.
pub(crate) fn language(
    config: &ServerConfig,
    locale: Option<&str>,
    headers: &http::HeaderMap,
) -> String {
    let accept = headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    config.catalogue().negotiate(locale, accept)
}

/// The scripts a page may run: the one `<script>` carrying this
/// response's nonce, and (`fetch_self`) requests to this origin.
pub(crate) struct ScriptPolicy<'a> {
    pub(crate) nonce: &'a str,
    pub(crate) fetch_self: bool,
}

/// The Content-Security-Policy of a page: nothing but its own stylesheets;
/// forms post to this origin and (for the redirect that follows) to
/// `form_targets`; framing only by `frame_ancestors` (`'none'` by default);
/// images from exactly the brand's and app's logo origins and `images`.
pub(crate) fn content_security_policy(
    look: &Look<'_>,
    form_targets: &[String],
    frame_ancestors: &str,
    script: Option<&ScriptPolicy<'_>>,
    images: &[String],
) -> String {
    let mut targets = String::from("'self'");
    for target in form_targets {
        targets.push(' ');
        targets.push_str(target);
    }
    let scripts = match script {
        Some(policy) => format!(
            "script-src 'nonce-{}'; {}",
            policy.nonce,
            if policy.fetch_self {
                "connect-src 'self'; "
            } else {
                ""
            }
        ),
        None => String::new(),
    };
    let mut origins: Vec<String> = Vec::new();
    let logos = [
        look.config.theme().logo_origin.clone(),
        look.app_logo.and_then(crate::hooks::link::logo_origin),
    ];
    for origin in logos.into_iter().flatten().chain(images.iter().cloned()) {
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    let images = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    };
    format!(
        "default-src 'none'; {scripts}style-src {} {}; img-src {images}; \
         form-action {targets}; frame-ancestors {frame_ancestors}; base-uri 'none'",
        style_hash(),
        look.config.theme().hash
    )
}

/// A full HTML document around `body`, with `head` (trusted markup) added
/// to its head, the brand's header above and its help link below.
pub(crate) fn document(look: &Look<'_>, title: &str, head: &str, body: &str) -> String {
    let brand = look.config.brand();
    let theme = look.config.theme();
    let mut header = String::new();
    if brand.name().is_some() || brand.logo().is_some() {
        header.push_str("<header class=\"brand\">");
        if let Some(logo) = brand.logo() {
            // The name beside it says who it is; without one, the logo does.
            let alt = if brand.name().is_some() { "" } else { "logo" };
            let _ = write!(
                header,
                "<img src=\"{}\" alt=\"{alt}\" height=\"32\" referrerpolicy=\"no-referrer\">",
                attr(logo)
            );
        }
        if let Some(name) = brand.name() {
            let _ = write!(header, "<span>{}</span>", text(name));
        }
        header.push_str("</header>");
    }
    let help = brand.support().map_or_else(String::new, |url| {
        format!(
            "<p class=\"help\"><a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{}</a></p>",
            attr(url),
            text(look.t("page.help"))
        )
    });
    let full_title = match brand.name() {
        Some(name) => format!("{title} – {name}"),
        None => title.to_owned(),
    };
    format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style><style>{}</style>{head}</head>\
         <body><main>{header}{body}{help}</main></body></html>\n",
        attr(look.lang),
        text(&full_title),
        theme.css,
    )
}

/// The hosted pages' script (`/connect/page/<version>.js`), as one page
/// loads it: with the response's CSP nonce, its integrity, and its
/// instructions in `data-*` attributes.
pub(crate) struct PageScript<'a> {
    /// Its URL path (under the issuer's path).
    pub(crate) src: &'a str,
    /// `sha384-…`.
    pub(crate) integrity: &'a str,
    /// This response's CSP nonce.
    pub(crate) nonce: &'a str,
    /// `data-<name>` attributes, values escaped here.
    pub(crate) data: Vec<(&'static str, String)>,
}

/// The `<script>` element of [`PageScript`].
pub(crate) fn page_script(script: &PageScript<'_>) -> String {
    let mut out = format!(
        "<script src=\"{}\" integrity=\"{}\" nonce=\"{}\" defer",
        attr(script.src),
        attr(script.integrity),
        attr(script.nonce)
    );
    for (name, value) in &script.data {
        let _ = write!(out, " data-{}=\"{}\"", name, attr(value));
    }
    out.push_str("></script>");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::presentation::brand::Brand;
    use crate::{AuthorizationServer, MemoryStore};

    pub(crate) fn server(brand: Brand) -> AuthorizationServer<MemoryStore> {
        AuthorizationServer::builder(MemoryStore::new())
            .issuer("https://auth.example.com")
            .brand(brand)
            .build()
            .unwrap()
    }

    #[test]
    fn a_page_script_escapes_its_data_and_the_csp_allows_only_its_nonce() {
        let tag = page_script(&PageScript {
            src: "/connect/page/0123456789abcdef.js",
            integrity: "sha384-abc",
            nonce: "n0nce",
            data: vec![(
                "message",
                r#"{"state":""><script>alert(1)</script>"}"#.to_owned(),
            )],
        });
        assert_eq!(tag.matches("<script").count(), 1, "{tag}");
        assert!(tag.contains("&quot;&gt;&lt;script&gt;"), "{tag}");
        assert!(tag.ends_with("></script>"));
        let server = server(Brand::default());
        let look = Look {
            config: server.config(),
            lang: "en",
            app_logo: None,
        };
        let csp = content_security_policy(
            &look,
            &[],
            "https://app.example",
            Some(&ScriptPolicy {
                nonce: "n0nce",
                fetch_self: true,
            }),
            &[],
        );
        assert!(
            csp.starts_with("default-src 'none'; script-src 'nonce-n0nce'; connect-src 'self'; ")
        );
        assert!(csp.contains("frame-ancestors https://app.example;"));
        assert!(!csp.contains("unsafe"));
    }

    /// The brand's header, colour and help link are on the page; the CSP
    /// lists exactly the two stylesheets and the logos' origins.
    #[test]
    fn the_brand_is_on_the_page_and_the_csp_allows_exactly_its_parts() {
        let server = server(
            Brand::new("Acme <Energy>")
                .logo_url("https://cdn.acme.example/logo.svg")
                .color("#facc15")
                .support_url("https://acme.example/help?a=1&b=2"),
        );
        let look = Look {
            config: server.config(),
            lang: "fr",
            app_logo: Some("https://apps.example/a.png"),
        };
        let html = document(&look, "Titre", "", "<p>x</p>");
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(html.contains("<span>Acme &lt;Energy&gt;</span>"), "{html}");
        assert!(html.contains("<style>:root{--accent:#facc15;--on-accent:#111827}</style>"));
        assert!(html.contains("href=\"https://acme.example/help?a=1&amp;b=2\""));
        assert!(html.contains("Obtenir de l&#x27;aide") || html.contains("Obtenir de l'aide"));
        assert!(
            html.contains("<title>Titre – Acme &lt;Energy&gt;</title>"),
            "{html}"
        );
        let csp = content_security_policy(&look, &[], "'none'", None, &[]);
        assert!(
            csp.contains("img-src https://cdn.acme.example https://apps.example;"),
            "{csp}"
        );
        assert!(csp.contains(&format!(
            "style-src {} {};",
            style_hash(),
            server.config().theme().hash
        )));
        let plain = server_without_brand_csp();
        assert!(plain.contains("img-src 'none';"), "no logo, no image");
    }

    fn server_without_brand_csp() -> String {
        let server = server(Brand::default());
        let look = Look {
            config: server.config(),
            lang: "en",
            app_logo: None,
        };
        content_security_policy(&look, &["https://app.example".into()], "'none'", None, &[])
    }

    #[test]
    fn csp_allows_only_the_inline_stylesheets() {
        let csp = server_without_brand_csp();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains("form-action 'self' https://app.example;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("script-src"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
