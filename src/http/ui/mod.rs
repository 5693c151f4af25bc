//! The crate's default HTML pages: complete, accessible, self-contained (no
//! third-party asset, no inline script), every value escaped, served with a
//! strict Content-Security-Policy. Only pages that talk to another window
//! (an embedded Connect page, a `web_message` response) load a script: the
//! server's own `/connect/page/<version>.js`, under the response's CSP
//! nonce, told what to do by escaped `data-*` attributes.
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
    content_security_policy_with(form_targets, frame_ancestors, None)
}

/// The scripts a page may run: the one `<script>` carrying this
/// response's nonce, and (`fetch_self`) requests to this origin.
pub(crate) struct ScriptPolicy<'a> {
    pub(crate) nonce: &'a str,
    pub(crate) fetch_self: bool,
}

/// [`content_security_policy`], plus `script-src 'nonce-…'` (and
/// `connect-src 'self'`) when the page runs its script: no inline script,
/// no other script of this origin.
pub(crate) fn content_security_policy_with(
    form_targets: &[String],
    frame_ancestors: &str,
    script: Option<&ScriptPolicy<'_>>,
) -> String {
    content_security_policy_full(form_targets, frame_ancestors, script, &[])
}

/// [`content_security_policy_with`], with `img-src` allowing exactly
/// `images` (origins; `'none'` without any).
pub(crate) fn content_security_policy_full(
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
    let images = if images.is_empty() {
        "'none'".to_owned()
    } else {
        images.join(" ")
    };
    format!(
        "default-src 'none'; {scripts}style-src {}; img-src {images}; \
         form-action {targets}; frame-ancestors {frame_ancestors}; base-uri 'none'",
        style_hash()
    )
}

/// A full HTML document around `body`.
pub(crate) fn document(title: &str, body: &str) -> String {
    document_with_head(title, "", body)
}

/// A full HTML document around `body`, with `head` (trusted markup) added
/// to its head.
pub(crate) fn document_with_head(title: &str, head: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{}</title><style>{STYLE}</style>{head}</head>\
         <body><main>{body}</main></body></html>\n",
        text(title)
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
pub(crate) fn message_page(page: &MessagePage<'_>) -> String {
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
                "<noscript><p><a href=\"{}\">Continue</a></p></noscript>",
                attr(url)
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
    document_with_head(page.title, &head, &body)
}

/// The error page for `title` and `message`.
pub(crate) fn error_page(title: &str, message: &str) -> String {
    error_page_with(title, message, "")
}

/// [`error_page`] with `extra` (trusted markup: the page's script) at the
/// end of its body.
pub(crate) fn error_page_with(title: &str, message: &str, extra: &str) -> String {
    document(
        title,
        &format!("<h1>{}</h1><p>{}</p>{extra}", text(title), text(message)),
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

/// One field of the customer form.
struct Input<'a> {
    name: &'a str,
    label: &'a str,
    kind: &'a str,
    autocomplete: &'a str,
    required: bool,
    value: Option<&'a str>,
}

fn input(out: &mut String, field: &Input<'_>, error_field: Option<&str>) {
    let invalid = error_field == Some(field.name);
    let _ = write!(
        out,
        "<label for=\"{name}\">{label}{req}</label><input type=\"{kind}\" id=\"{name}\" name=\"{name}\" \
         autocomplete=\"{auto}\" value=\"{value}\"{required}{invalid}>",
        name = attr(field.name),
        label = text(field.label),
        req = if field.required {
            ""
        } else {
            " <span class=\"note\">(optional)</span>"
        },
        kind = attr(field.kind),
        auto = attr(field.autocomplete),
        value = attr(field.value.unwrap_or_default()),
        required = if field.required { " required" } else { "" },
        invalid = if invalid {
            " aria-invalid=\"true\" aria-describedby=\"form-error\""
        } else {
            ""
        },
    );
}

/// The customer details on the Connect page: as a form, or as a summary
/// when everything is already known.
pub(crate) struct CustomerView<'a> {
    pub(crate) first_name: Option<&'a str>,
    pub(crate) last_name: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
    pub(crate) phone: Option<&'a str>,
    pub(crate) street_one: Option<&'a str>,
    pub(crate) city: Option<&'a str>,
    pub(crate) state: Option<&'a str>,
    pub(crate) postal_code: Option<&'a str>,
    pub(crate) country: Option<&'a str>,
}

/// One provider in the picker.
pub(crate) struct ProviderLine<'a> {
    pub(crate) id: &'a str,
    pub(crate) name: &'a str,
    pub(crate) categories: &'a [String],
    /// Its logo (an `https` URL the configuration checked).
    pub(crate) logo_url: Option<&'a str>,
}

/// One field of a form link.
pub(crate) struct LinkInput<'a> {
    pub(crate) name: &'a str,
    pub(crate) label: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) required: bool,
}

/// What the current step of the hosted Connect page shows.
pub(crate) enum StepBody<'a> {
    Terms {
        text: &'a str,
        url: Option<&'a str>,
    },
    Provider {
        providers: Vec<ProviderLine<'a>>,
        search: Option<&'a str>,
    },
    LinkRedirect {
        provider: &'a str,
        can_change: bool,
    },
    LinkForm {
        provider: &'a str,
        fields: Vec<LinkInput<'a>>,
        can_change: bool,
    },
    Customer(CustomerView<'a>),
    Consent {
        scopes: Vec<ScopeLine<'a>>,
        customer: CustomerView<'a>,
        linked: Option<&'a str>,
    },
}

/// The hosted Connect page.
pub(crate) struct ConnectView<'a> {
    /// Where the page's forms go: `/connect` under the issuer's path.
    pub(crate) action: &'a str,
    pub(crate) client_name: &'a str,
    pub(crate) update: bool,
    pub(crate) token: &'a str,
    pub(crate) csrf_token: &'a str,
    pub(crate) body: StepBody<'a>,
    /// A field to correct, with the message.
    pub(crate) error: Option<(&'a str, String)>,
    /// A message about the flow (a failed link, an out-of-order post).
    pub(crate) notice: Option<String>,
    /// Opened by the embed script: the page's script, and for a redirect
    /// link the name of the window the provider's sign-in opens in.
    pub(crate) embed: Option<EmbedView<'a>>,
}

/// What an embedded hosted page adds.
pub(crate) struct EmbedView<'a> {
    pub(crate) script: PageScript<'a>,
    pub(crate) link_window: String,
    /// The browser's binding, which the link form posts back from the
    /// provider sign-in window (that window lacks a modal iframe's cookie).
    pub(crate) binding: &'a str,
}

fn hidden(out: &mut String, view: &ConnectView<'_>, step: &str) {
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"step\" value=\"{}\">",
        attr(view.action),
        attr(view.token),
        attr(view.csrf_token),
        attr(step),
    );
}

/// A small form with an "Exit" button: deny from any step.
fn exit_form(out: &mut String, view: &ConnectView<'_>, step: &str) {
    hidden(out, view, step);
    out.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Exit</button></form>",
    );
}

fn customer_fields(body: &mut String, c: &CustomerView<'_>, error_field: Option<&str>) {
    body.push_str("<fieldset><legend>Your details</legend>");
    let fields = [
        Input {
            name: "firstName",
            label: "First name",
            kind: "text",
            autocomplete: "given-name",
            required: true,
            value: c.first_name,
        },
        Input {
            name: "lastName",
            label: "Last name",
            kind: "text",
            autocomplete: "family-name",
            required: true,
            value: c.last_name,
        },
        Input {
            name: "email",
            label: "E-mail",
            kind: "email",
            autocomplete: "email",
            required: true,
            value: c.email,
        },
        Input {
            name: "phone",
            label: "Phone",
            kind: "tel",
            autocomplete: "tel",
            required: false,
            value: c.phone,
        },
        Input {
            name: "streetOne",
            label: "Street address",
            kind: "text",
            autocomplete: "address-line1",
            required: false,
            value: c.street_one,
        },
        Input {
            name: "city",
            label: "City",
            kind: "text",
            autocomplete: "address-level2",
            required: false,
            value: c.city,
        },
        Input {
            name: "state",
            label: "State or region",
            kind: "text",
            autocomplete: "address-level1",
            required: false,
            value: c.state,
        },
        Input {
            name: "postalCode",
            label: "Postal code",
            kind: "text",
            autocomplete: "postal-code",
            required: false,
            value: c.postal_code,
        },
        Input {
            name: "country",
            label: "Country",
            kind: "text",
            autocomplete: "country",
            required: false,
            value: c.country,
        },
    ];
    for field in &fields {
        input(body, field, error_field);
    }
    body.push_str(
        "<p class=\"note\">An address is optional, but give all of it or none.</p></fieldset>",
    );
}

pub(crate) fn connect_page(view: &ConnectView<'_>) -> String {
    let title = if view.update {
        format!("Update your connection to {}", view.client_name)
    } else {
        format!("Connect your account to {}", view.client_name)
    };
    let mut body = format!("<h1>{}</h1>", text(&title));
    if let Some(notice) = &view.notice {
        let _ = write!(
            body,
            "<p role=\"status\" class=\"demo\">{}</p>",
            text(notice)
        );
    }
    if let Some((_, message)) = &view.error {
        let _ = write!(
            body,
            "<p id=\"form-error\" role=\"alert\"><strong>Please check:</strong> {}</p>",
            text(message)
        );
    }
    let error_field = view.error.as_ref().map(|(field, _)| *field);
    match &view.body {
        StepBody::Terms { text: terms, url } => {
            let _ = write!(body, "<h2>Terms</h2><p>{}</p>", text(terms));
            if let Some(url) = url {
                let _ = write!(
                    body,
                    "<p><a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">Read the full terms</a></p>",
                    attr(url)
                );
            }
            hidden(&mut body, view, "terms");
            body.push_str("<div class=\"actions\"><button type=\"submit\" class=\"primary\" name=\"action\" value=\"accept\">Accept and continue</button></div></form>");
            exit_form(&mut body, view, "terms");
        }
        StepBody::Provider { providers, search } => {
            let _ = write!(
                body,
                "<h2>Choose your provider</h2><form method=\"get\" action=\"{}\" role=\"search\">\
                 <input type=\"hidden\" name=\"token\" value=\"{}\"><label for=\"q\">Search providers</label>\
                 <input type=\"search\" id=\"q\" name=\"q\" value=\"{}\"><div class=\"actions\"><button type=\"submit\">Search</button></div></form>",
                attr(view.action),
                attr(view.token),
                attr(search.unwrap_or_default())
            );
            if providers.is_empty() {
                body.push_str("<p>No provider matches your search.</p>");
            } else {
                hidden(&mut body, view, "provider");
                body.push_str("<ul class=\"providers\">");
                for p in providers {
                    let categories = p.categories.join(", ");
                    // Decorative: the button says the name.
                    let logo = p.logo_url.map_or_else(String::new, |url| {
                        format!(
                            "<img src=\"{}\" alt=\"\" width=\"24\" height=\"24\" loading=\"lazy\" referrerpolicy=\"no-referrer\"> ",
                            attr(url)
                        )
                    });
                    let _ = write!(
                        body,
                        "<li><button type=\"submit\" name=\"provider\" value=\"{}\">{logo}{}</button> <span class=\"note\">{}</span></li>",
                        attr(p.id),
                        text(p.name),
                        text(&categories)
                    );
                }
                body.push_str("</ul></form>");
            }
            exit_form(&mut body, view, "provider");
        }
        StepBody::LinkRedirect {
            provider,
            can_change,
        } => {
            let _ = write!(
                body,
                "<h2>Connect your {} account</h2><p>You will sign in at {} and come back here.</p>",
                text(provider),
                text(provider)
            );
            hidden(&mut body, view, "link");
            // Embedded: the provider's sign-in opens in a window of its own.
            let window = match &view.embed {
                Some(embed) => {
                    let _ = write!(
                        body,
                        "<input type=\"hidden\" name=\"binding\" value=\"{}\">",
                        attr(embed.binding)
                    );
                    format!(
                        " formtarget=\"{}\" data-link-window",
                        attr(&embed.link_window)
                    )
                }
                None => String::new(),
            };
            let _ = write!(
                body,
                "<div class=\"actions\"><button type=\"submit\" class=\"primary\" name=\"action\" value=\"start\"{window}>Continue to {}</button>",
                text(provider)
            );
            if *can_change {
                body.push_str("<button type=\"submit\" name=\"action\" value=\"change\">Choose another provider</button>");
            }
            body.push_str("</div></form>");
            if view.embed.is_some() {
                let _ = write!(
                    body,
                    "<p id=\"oc-waiting\" role=\"status\" class=\"demo\" hidden>Finish signing in at {} in the window that opened; this page moves on by itself.</p>\
                     <p id=\"oc-blocked\" role=\"alert\" class=\"demo\" hidden>Your browser blocked the sign-in window: allow pop-ups for this site, then try again.</p>",
                    text(provider)
                );
            }
            exit_form(&mut body, view, "link");
        }
        StepBody::LinkForm {
            provider,
            fields,
            can_change,
        } => {
            let _ = write!(body, "<h2>Connect your {} account</h2>", text(provider));
            hidden(&mut body, view, "link");
            for f in fields {
                let autocomplete = if f.kind == "password" {
                    "current-password"
                } else {
                    "off"
                };
                input(
                    &mut body,
                    &Input {
                        name: f.name,
                        label: f.label,
                        kind: f.kind,
                        autocomplete,
                        required: f.required,
                        value: None,
                    },
                    None,
                );
            }
            body.push_str("<div class=\"actions\"><button type=\"submit\" class=\"primary\" name=\"action\" value=\"submit\">Connect</button>");
            if *can_change {
                body.push_str("<button type=\"submit\" name=\"action\" value=\"change\" formnovalidate>Choose another provider</button>");
            }
            body.push_str("</div></form>");
            exit_form(&mut body, view, "link");
        }
        StepBody::Customer(customer) => {
            hidden(&mut body, view, "customer");
            customer_fields(&mut body, customer, error_field);
            body.push_str("<div class=\"actions\"><button type=\"submit\" class=\"primary\">Continue</button></div></form>");
            exit_form(&mut body, view, "customer");
        }
        StepBody::Consent {
            scopes,
            customer,
            linked,
        } => {
            let _ = write!(
                body,
                "<p><strong>{}</strong> will be able to:</p>{}",
                text(view.client_name),
                scope_list(scopes)
            );
            if let Some(linked) = linked {
                let _ = write!(
                    body,
                    "<p class=\"note\">Account: <strong>{}</strong></p>",
                    text(linked)
                );
            }
            let name = format!(
                "{} {}",
                customer.first_name.unwrap_or_default(),
                customer.last_name.unwrap_or_default()
            );
            let _ = write!(
                body,
                "<p class=\"note\">Connecting as <strong>{}</strong> ({}).</p>",
                text(name.trim()),
                text(customer.email.unwrap_or_default())
            );
            hidden(&mut body, view, "consent");
            body.push_str(
                "<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button>\
                 <button type=\"submit\" class=\"primary\" name=\"decision\" value=\"approve\">Allow</button></div></form>",
            );
        }
    }
    if let Some(embed) = &view.embed {
        body.push_str(&page_script(&embed.script));
    }
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
        let csp = content_security_policy_with(
            &[],
            "https://app.example",
            Some(&ScriptPolicy {
                nonce: "n0nce",
                fetch_self: true,
            }),
        );
        assert!(
            csp.starts_with("default-src 'none'; script-src 'nonce-n0nce'; connect-src 'self'; ")
        );
        assert!(csp.contains("frame-ancestors https://app.example;"));
        assert!(!csp.contains("unsafe"));
    }

    #[test]
    fn provider_logos_are_escaped_and_the_csp_allows_exactly_their_origins() {
        let categories = vec!["<b>battery</b>".to_owned()];
        let view = ConnectView {
            action: "/connect",
            client_name: "App",
            update: false,
            token: "t",
            csrf_token: "c",
            body: StepBody::Provider {
                providers: vec![ProviderLine {
                    id: "tesla",
                    name: "Tesla <script>alert(1)</script>",
                    categories: &categories,
                    logo_url: Some("https://cdn.example.com/t.svg?a=1&b=\"><script>"),
                }],
                search: None,
            },
            error: None,
            notice: None,
            embed: None,
        };
        let html = connect_page(&view);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>battery"), "{html}");
        assert!(
            html.contains("<img src=\"https://cdn.example.com/t.svg?a=1&amp;b=&quot;&gt;&lt;script&gt;\" alt=\"\""),
            "{html}"
        );
        let csp = content_security_policy_full(
            &[],
            "'none'",
            None,
            &["https://cdn.example.com".to_owned()],
        );
        assert!(csp.contains("img-src https://cdn.example.com;"), "{csp}");
        assert!(
            content_security_policy(&[], "'none'").contains("img-src 'none';"),
            "no logo, no image"
        );
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
