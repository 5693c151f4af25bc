//! The hosted pages' form fields: labels marked required or optional,
//! each error right after its field (`aria-describedby`), the address
//! group with its hint first, and the country list in the page's language.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::Look;
use super::connect::CustomerView;
use super::countries::COUNTRIES;
/// One form field: its label (marked required or optional), the control,
/// and its error right after it, tied with `aria-describedby`.
pub(super) struct Field<'a> {
    pub(super) name: &'a str,
    pub(super) label: &'a str,
    pub(super) kind: &'a str,
    pub(super) autocomplete: &'a str,
    pub(super) required: bool,
    pub(super) value: Option<&'a str>,
}

pub(super) fn field_error(
    look: &Look<'_>,
    name: &str,
    error: Option<&(&str, String)>,
) -> Option<String> {
    let (field, message) = error.filter(|(field, _)| *field == name)?;
    let _ = look;
    Some(format!(
        "<p class=\"field-error\" id=\"err-{}\">{}</p>",
        attr(field),
        text(message)
    ))
}

pub(super) fn label(out: &mut String, look: &Look<'_>, name: &str, label: &str, required: bool) {
    let tag = if required {
        look.t("page.required")
    } else {
        look.t("page.optional")
    };
    let _ = write!(
        out,
        "<label for=\"{}\">{} <span class=\"tag\">({})</span></label>",
        attr(name),
        text(label),
        text(tag)
    );
}

pub(super) fn input(
    out: &mut String,
    look: &Look<'_>,
    f: &Field<'_>,
    error: Option<&(&str, String)>,
) {
    label(out, look, f.name, f.label, f.required);
    let message = field_error(look, f.name, error);
    let _ = write!(
        out,
        "<input type=\"{kind}\" id=\"{name}\" name=\"{name}\" autocomplete=\"{auto}\" value=\"{value}\"{required}{invalid}>",
        name = attr(f.name),
        kind = attr(f.kind),
        auto = attr(f.autocomplete),
        value = attr(f.value.unwrap_or_default()),
        required = if f.required { " required" } else { "" },
        invalid = if message.is_some() {
            format!(
                " aria-invalid=\"true\" aria-describedby=\"err-{}\"",
                attr(f.name)
            )
        } else {
            String::new()
        },
    );
    if let Some(message) = message {
        out.push_str(&message);
    }
}

/// The country list: ISO 3166-1 codes, named in the page's language, in
/// that language's order; a known value that is not a code (an API caller's
/// free text) is kept as its own first option.
pub(super) fn country_select(
    out: &mut String,
    look: &Look<'_>,
    value: Option<&str>,
    error: Option<&(&str, String)>,
) {
    label(out, look, "country", look.t("customer.country"), false);
    let column = |row: &(&'static str, &'static str, &'static str, &'static str)| match look.lang {
        "fr" => row.2,
        "es" => row.3,
        _ => row.1,
    };
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    let selected = value.and_then(|v| {
        COUNTRIES
            .iter()
            .find(|row| {
                row.0.eq_ignore_ascii_case(v)
                    || row.1.eq_ignore_ascii_case(v)
                    || column(row).eq_ignore_ascii_case(v)
            })
            .map(|row| row.0)
    });
    let message = field_error(look, "country", error);
    let _ = write!(
        out,
        "<select id=\"country\" name=\"country\" autocomplete=\"country\"{}><option value=\"\">{}</option>",
        if message.is_some() {
            " aria-invalid=\"true\" aria-describedby=\"err-country\""
        } else {
            ""
        },
        text(look.t("customer.choose_country"))
    );
    if let (Some(v), None) = (value, selected) {
        let _ = write!(
            out,
            "<option value=\"{}\" selected>{}</option>",
            attr(v),
            text(v)
        );
    }
    let mut rows: Vec<_> = COUNTRIES.iter().collect();
    rows.sort_by_cached_key(|row| fold(column(row)));
    for row in rows {
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{}</option>",
            row.0,
            if selected == Some(row.0) {
                " selected"
            } else {
                ""
            },
            text(column(row))
        );
    }
    out.push_str("</select>");
    if let Some(message) = message {
        out.push_str(&message);
    }
}

/// A sort key that orders accented letters with their base letter.
pub(super) fn fold(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'À'..='Å' | 'à'..='å' => 'a',
            'Ç' | 'ç' => 'c',
            'È'..='Ë' | 'è'..='ë' => 'e',
            'Ì'..='Ï' | 'ì'..='ï' => 'i',
            'Ñ' | 'ñ' => 'n',
            'Ò'..='Ö' | 'ò'..='ö' => 'o',
            'Ù'..='Ü' | 'ù'..='ü' => 'u',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

pub(super) fn customer_fields(
    body: &mut String,
    look: &Look<'_>,
    c: &CustomerView<'_>,
    error: Option<&(&str, String)>,
) {
    let contact = [
        (
            "firstName",
            "customer.first_name",
            "text",
            "given-name",
            true,
            c.first_name,
        ),
        (
            "lastName",
            "customer.last_name",
            "text",
            "family-name",
            true,
            c.last_name,
        ),
        ("email", "customer.email", "email", "email", true, c.email),
        ("phone", "customer.phone", "tel", "tel", false, c.phone),
    ];
    for (name, key, kind, autocomplete, required, value) in contact {
        input(
            body,
            look,
            &Field {
                name,
                label: look.t(key),
                kind,
                autocomplete,
                required,
                value,
            },
            error,
        );
    }
    // The address: optional, all or nothing; the hint comes first.
    let location_error = field_error(look, "location", error);
    let described = if location_error.is_some() {
        "address-hint err-location"
    } else {
        "address-hint"
    };
    let _ = write!(
        body,
        "<fieldset aria-describedby=\"{described}\"><legend>{} <span class=\"tag\">({})</span></legend>\
         <p class=\"hint\" id=\"address-hint\">{}</p>",
        text(look.t("customer.address")),
        text(look.t("page.optional")),
        text(look.t("customer.address_hint")),
    );
    if let Some(message) = location_error {
        body.push_str(&message);
    }
    let address = [
        (
            "streetOne",
            "customer.street",
            "address-line1",
            c.street_one,
        ),
        ("city", "customer.city", "address-level2", c.city),
        ("state", "customer.state", "address-level1", c.state),
        (
            "postalCode",
            "customer.postal_code",
            "postal-code",
            c.postal_code,
        ),
    ];
    for (name, key, autocomplete, value) in address {
        input(
            body,
            look,
            &Field {
                name,
                label: look.t(key),
                kind: "text",
                autocomplete,
                required: false,
                value,
            },
            error,
        );
    }
    country_select(body, look, c.country, error);
    body.push_str("</fieldset>");
}
