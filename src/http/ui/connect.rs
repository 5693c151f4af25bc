//! The hosted Connect page, one step at a time: "Step N of M", a title and
//! a heading of the step's own (focus moves to it on every page), the
//! step's content, and its buttons laid out alike on every step (Exit or
//! Deny first, the primary action last).

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::consent::{ScopeLine, app_line, scope_list};
use super::form::{Field, customer_fields, input};
use super::{Look, PageScript, document, page_script};

pub(crate) use super::form::CustomerView;

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
    /// What the user typed before a failed attempt (never a password).
    pub(crate) value: Option<&'a str>,
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
    /// This step's number and the number of steps of this flow.
    pub(crate) progress: (usize, usize),
    /// A field to correct, with the message.
    pub(crate) error: Option<(&'a str, String)>,
    /// A message about the flow (an out-of-order post).
    pub(crate) notice: Option<String>,
    /// Why the last link attempt failed, in the host's words.
    pub(crate) link_error: Option<&'a str>,
    /// Opened by the embed script: the name of the window a redirect
    /// link's sign-in opens in, and the browser's binding.
    pub(crate) embed: Option<EmbedView<'a>>,
    /// The page's script (embedded pages; the picker's filter).
    pub(crate) script: Option<PageScript<'a>>,
}

/// What an embedded hosted page adds.
pub(crate) struct EmbedView<'a> {
    pub(crate) link_window: String,
    /// The browser's binding, which the link form posts back from the
    /// provider sign-in window (that window lacks a modal iframe's cookie).
    pub(crate) binding: &'a str,
}

/// The id of the form every Exit button submits.
const EXIT_FORM: &str = "oc-exit";

fn hidden(out: &mut String, view: &ConnectView<'_>, step: &str, id: Option<&str>) {
    let id = id.map_or_else(String::new, |id| format!(" id=\"{id}\""));
    let _ = write!(
        out,
        "<form method=\"post\" action=\"{}\"{id}>\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"step\" value=\"{}\">",
        attr(view.action),
        attr(view.token),
        attr(view.csrf_token),
        attr(step),
    );
}

/// The Exit button, first in a row of actions: it submits the exit form
/// (deny from any step), wherever it stands.
fn exit_button(look: &Look<'_>) -> String {
    format!(
        "<button type=\"submit\" form=\"{EXIT_FORM}\" name=\"decision\" value=\"deny\" formnovalidate>{}</button>",
        text(look.t("page.exit"))
    )
}

/// A category's label: the catalogue's `category.<id>`, else the id made
/// readable.
fn category_label(look: &Look<'_>, id: &str) -> String {
    let key = format!("category.{id}");
    match look.config.catalogue().lookup(look.lang, &key) {
        Some(label) => label.to_owned(),
        None => {
            let words = id.replace(['-', '_'], " ");
            let mut chars = words.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

fn provider_tiles(
    body: &mut String,
    look: &Look<'_>,
    view: &ConnectView<'_>,
    providers: &[ProviderLine<'_>],
    search: Option<&str>,
) {
    let _ = write!(
        body,
        "<form method=\"get\" action=\"{}\" role=\"search\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\"><label for=\"q\">{}</label>\
         <div class=\"search\"><input type=\"search\" id=\"q\" name=\"q\" value=\"{}\" autocomplete=\"off\" aria-controls=\"oc-providers\">\
         <button type=\"submit\">{}</button></div></form>\
         <p id=\"oc-count\" class=\"sr\" role=\"status\"></p>",
        attr(view.action),
        attr(view.token),
        text(look.t("picker.filter")),
        attr(search.unwrap_or_default()),
        text(look.t("picker.search")),
    );
    let _ = write!(
        body,
        "<p id=\"oc-none\"{}>{}</p>",
        if providers.is_empty() { "" } else { " hidden" },
        text(look.t("picker.none"))
    );
    hidden(body, view, "provider", None);
    body.push_str("<ul class=\"tiles\" id=\"oc-providers\">");
    for p in providers {
        let labels: Vec<String> = p
            .categories
            .iter()
            .map(|c| category_label(look, c))
            .collect();
        let search_text = format!(
            "{} {} {} {}",
            p.id,
            p.name,
            p.categories.join(" "),
            labels.join(" ")
        )
        .to_lowercase();
        // Decorative: the button says the name.
        let logo = match p.logo_url {
            Some(url) => format!(
                "<img src=\"{}\" alt=\"\" width=\"40\" height=\"40\" loading=\"lazy\" referrerpolicy=\"no-referrer\">",
                attr(url)
            ),
            None => format!(
                "<span class=\"mono\" aria-hidden=\"true\">{}</span>",
                text(
                    &p.name
                        .chars()
                        .next()
                        .map(|c| c.to_uppercase().collect::<String>())
                        .unwrap_or_default()
                )
            ),
        };
        let _ = write!(
            body,
            "<li data-search=\"{}\"><button type=\"submit\" class=\"tile\" name=\"provider\" value=\"{}\">{logo}<span>{}</span><span class=\"cats\">{}</span></button></li>",
            attr(&search_text),
            attr(p.id),
            text(p.name),
            text(&labels.join(" · "))
        );
    }
    body.push_str("</ul></form>");
    let _ = write!(
        body,
        "<p class=\"note\"><strong>{}</strong> {}</p><div class=\"actions\">{}</div>",
        text(look.t("picker.missing")),
        text(look.t("picker.missing_help")),
        exit_button(look)
    );
}

/// The heading of the current step.
fn heading(look: &Look<'_>, body: &StepBody<'_>) -> String {
    match body {
        StepBody::Terms { .. } => look.t("step.terms").to_owned(),
        StepBody::Provider { .. } => look.t("step.provider").to_owned(),
        StepBody::LinkRedirect { provider, .. } | StepBody::LinkForm { provider, .. } => {
            look.tf("step.link", &[("provider", provider)])
        }
        StepBody::Customer(_) => look.t("step.customer").to_owned(),
        StepBody::Consent { .. } => look.t("step.consent").to_owned(),
    }
}

/// A host's sentence, ending with a full stop when it has no final
/// punctuation ("Wrong password" and "Wrong password." alike).
fn sentence(message: &str) -> String {
    let message = message.trim();
    if message.ends_with(['.', '!', '?', '…', '。']) {
        message.to_owned()
    } else {
        format!("{message}.")
    }
}

pub(crate) fn connect_page(look: &Look<'_>, view: &ConnectView<'_>) -> String {
    let app = format!("<strong>{}</strong>", text(view.client_name));
    let intro = if view.update {
        look.th("connect.title_update", &[("app", &app)])
    } else {
        look.th("connect.title", &[("app", &app)])
    };
    let heading = heading(look, &view.body);
    let (n, m) = view.progress;
    let (n_text, m_text) = (n.to_string(), m.to_string());
    let step = look.tf("page.step", &[("n", &n_text), ("m", &m_text)]);
    let mut body = app_line(look, &intro);
    let _ = write!(
        body,
        "<p class=\"progress\">{}</p><progress max=\"{m}\" value=\"{n}\" aria-hidden=\"true\"></progress>\
         <h1 tabindex=\"-1\" autofocus data-focus>{}</h1>",
        text(&step),
        text(&heading)
    );
    if let Some(notice) = &view.notice {
        let _ = write!(
            body,
            "<p role=\"status\" class=\"notice\">{}</p>",
            text(notice)
        );
    }
    if view.error.is_some() {
        let _ = write!(
            body,
            "<p id=\"form-error\" role=\"alert\" class=\"alert\">{}</p>",
            text(look.t("page.check"))
        );
    }
    if let Some(failed) = view.link_error {
        let _ = write!(
            body,
            "<div role=\"alert\" class=\"alert\"><p><strong>{}</strong></p><p>{} {}</p></div>",
            text(look.t("link.failed")),
            text(&sentence(failed)),
            text(look.t("link.retry"))
        );
    }
    let error = view.error.as_ref();
    match &view.body {
        StepBody::Terms { text: terms, url } => {
            let _ = write!(body, "<p>{}</p>", text(terms));
            if let Some(url) = url {
                let _ = write!(
                    body,
                    "<p><a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{}</a></p>",
                    attr(url),
                    text(look.t("terms.read"))
                );
            }
            hidden(&mut body, view, "terms", None);
            let _ = write!(
                body,
                "<div class=\"actions\">{}<button type=\"submit\" class=\"primary\" name=\"action\" value=\"accept\">{}</button></div></form>",
                exit_button(look),
                text(look.t("terms.accept"))
            );
        }
        StepBody::Provider { providers, search } => {
            provider_tiles(&mut body, look, view, providers, *search);
        }
        StepBody::LinkRedirect {
            provider,
            can_change,
        } => {
            let _ = write!(
                body,
                "<p>{}</p>",
                text(&look.tf("link.redirect_lead", &[("provider", provider)]))
            );
            hidden(&mut body, view, "link", None);
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
            body.push_str("<div class=\"actions\">");
            body.push_str(&exit_button(look));
            if *can_change {
                let _ = write!(
                    body,
                    "<button type=\"submit\" name=\"action\" value=\"change\">{}</button>",
                    text(look.t("link.change"))
                );
            }
            let _ = write!(
                body,
                "<button type=\"submit\" class=\"primary\" name=\"action\" value=\"start\"{window}>{}</button></div></form>",
                text(&look.tf("link.continue", &[("provider", provider)]))
            );
            if view.embed.is_some() {
                let _ = write!(
                    body,
                    "<p id=\"oc-waiting\" role=\"status\" class=\"notice\" hidden>{}</p>\
                     <p id=\"oc-blocked\" role=\"alert\" class=\"alert\" hidden>{}</p>",
                    text(&look.tf("link.waiting", &[("provider", provider)])),
                    text(look.t("link.blocked"))
                );
            }
        }
        StepBody::LinkForm {
            fields, can_change, ..
        } => {
            hidden(&mut body, view, "link", None);
            for f in fields {
                let autocomplete = if f.kind == "password" {
                    "current-password"
                } else {
                    "off"
                };
                input(
                    &mut body,
                    look,
                    &Field {
                        name: f.name,
                        label: f.label,
                        kind: f.kind,
                        autocomplete,
                        required: f.required,
                        value: f.value.filter(|_| f.kind != "password"),
                    },
                    error,
                );
            }
            body.push_str("<div class=\"actions\">");
            body.push_str(&exit_button(look));
            if *can_change {
                let _ = write!(
                    body,
                    "<button type=\"submit\" name=\"action\" value=\"change\" formnovalidate>{}</button>",
                    text(look.t("link.change"))
                );
            }
            let _ = write!(
                body,
                "<button type=\"submit\" class=\"primary\" name=\"action\" value=\"submit\">{}</button></div></form>",
                text(look.t("link.submit"))
            );
        }
        StepBody::Customer(customer) => {
            hidden(&mut body, view, "customer", None);
            customer_fields(&mut body, look, customer, error);
            let _ = write!(
                body,
                "<div class=\"actions\">{}<button type=\"submit\" class=\"primary\">{}</button></div></form>",
                exit_button(look),
                text(look.t("page.continue"))
            );
        }
        StepBody::Consent {
            scopes,
            customer,
            linked,
        } => {
            let _ = write!(
                body,
                "<p>{}</p>{}",
                look.th("review.lead", &[("app", &app)]),
                scope_list(scopes)
            );
            if let Some(linked) = linked {
                let _ = write!(
                    body,
                    "<p class=\"note\">{}</p>",
                    look.th(
                        "review.account",
                        &[("account", &format!("<strong>{}</strong>", text(linked)))]
                    )
                );
            }
            let name = format!(
                "{} {}",
                customer.first_name.unwrap_or_default(),
                customer.last_name.unwrap_or_default()
            );
            let _ = write!(
                body,
                "<p class=\"note\">{}</p>",
                look.th(
                    "review.as",
                    &[
                        ("name", &format!("<strong>{}</strong>", text(name.trim()))),
                        ("email", &text(customer.email.unwrap_or_default())),
                    ]
                )
            );
            hidden(&mut body, view, "consent", None);
            let _ = write!(
                body,
                "<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>{}</button>\
                 <button type=\"submit\" class=\"primary\" name=\"decision\" value=\"approve\">{}</button></div></form>",
                text(look.t("consent.deny")),
                text(look.t("consent.allow")),
            );
        }
    }
    // The form every Exit button submits.
    if !matches!(view.body, StepBody::Consent { .. }) {
        let step = match &view.body {
            StepBody::Terms { .. } => "terms",
            StepBody::Provider { .. } => "provider",
            StepBody::LinkRedirect { .. } | StepBody::LinkForm { .. } => "link",
            _ => "customer",
        };
        hidden(&mut body, view, step, Some(EXIT_FORM));
        body.push_str("</form>");
    }
    if let Some(script) = &view.script {
        body.push_str(&page_script(script));
    }
    let title = format!("{heading} – {step} – {}", view.client_name);
    document(look, &title, "", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presentation::brand::Brand;

    fn view<'a>(body: StepBody<'a>) -> ConnectView<'a> {
        ConnectView {
            action: "/connect",
            client_name: "App",
            update: false,
            token: "t",
            csrf_token: "c",
            body,
            progress: (2, 4),
            error: None,
            notice: None,
            link_error: None,
            embed: None,
            script: None,
        }
    }

    #[test]
    fn provider_tiles_escape_everything_and_label_categories() {
        let server = super::super::tests::server(Brand::default());
        let look = Look {
            config: server.config(),
            lang: "en",
            app_logo: None,
        };
        let categories = vec!["<b>battery</b>".to_owned(), "ev".to_owned()];
        let html = connect_page(
            &look,
            &view(StepBody::Provider {
                providers: vec![ProviderLine {
                    id: "tesla",
                    name: "Tesla <script>alert(1)</script>",
                    categories: &categories,
                    logo_url: Some("https://cdn.example.com/t.svg?a=1&b=\"><script>"),
                }],
                search: None,
            }),
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>battery"), "{html}");
        assert!(html.contains("Electric vehicles"), "{html}");
        assert!(
            html.contains("<img src=\"https://cdn.example.com/t.svg?a=1&amp;b=&quot;&gt;&lt;script&gt;\" alt=\"\""),
            "{html}"
        );
        assert!(html.contains("Step 2 of 4"));
        assert!(
            html.contains("<title>Choose your provider – Step 2 of 4 – App</title>"),
            "{html}"
        );
        assert!(
            html.contains("<h1 tabindex=\"-1\" autofocus data-focus>Choose your provider</h1>")
        );
        assert!(
            !html.contains("<li><button type=\"submit\" name=\"provider\""),
            "tiles, no bullets"
        );
    }

    /// A host's failure text reads as a sentence: no doubled full stop.
    #[test]
    fn the_link_error_reads_well() {
        assert_eq!(sentence("Wrong password."), "Wrong password.");
        assert_eq!(
            sentence("wrong username or password"),
            "wrong username or password."
        );
        let server = super::super::tests::server(Brand::default());
        let look = Look {
            config: server.config(),
            lang: "en",
            app_logo: None,
        };
        let mut v = view(StepBody::LinkForm {
            provider: "Utility",
            fields: vec![
                LinkInput {
                    name: "username",
                    label: "Username",
                    kind: "text",
                    required: true,
                    value: Some("ada"),
                },
                LinkInput {
                    name: "password",
                    label: "Password",
                    kind: "password",
                    required: true,
                    value: Some("secret"),
                },
            ],
            can_change: false,
        });
        v.link_error = Some("Wrong password.");
        let html = connect_page(&look, &v);
        assert!(html.contains("Wrong password. You can try again"), "{html}");
        assert!(!html.contains(".."), "{html}");
        assert!(html.contains("value=\"ada\""), "the username is kept");
        assert!(!html.contains("secret"), "never the password");
    }

    #[test]
    fn the_country_list_is_in_the_page_language() {
        let server = super::super::tests::server(Brand::default());
        let look = Look {
            config: server.config(),
            lang: "fr",
            app_logo: None,
        };
        let mut out = String::new();
        super::super::form::country_select(&mut out, &look, Some("united states"), None);
        assert!(
            out.contains("<option value=\"US\" selected>États-Unis</option>"),
            "{out}"
        );
        let allemagne = out.find("Allemagne").unwrap();
        let etats = out.find("États-Unis").unwrap();
        let zimbabwe = out.find("Zimbabwe").unwrap();
        assert!(
            allemagne < etats && etats < zimbabwe,
            "sorted by the French names"
        );
        let mut kept = String::new();
        super::super::form::country_select(&mut kept, &look, Some("Atlantis"), None);
        assert!(kept.contains("<option value=\"Atlantis\" selected>Atlantis</option>"));
    }
}
