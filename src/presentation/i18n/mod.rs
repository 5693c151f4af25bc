//! The hosted pages' words: one message catalogue per language (English,
//! French and Spanish ship), the host's additions and overrides
//! ([`AuthorizationServerBuilder::messages`](crate::AuthorizationServerBuilder::messages)),
//! and the choice of a page's language: the Connect session's `locale`,
//! else the browser's `Accept-Language` (RFC 9110 §12.5.4), else English.
//!
//! A message may name values in braces (`{app}`); the page fills them in
//! and escapes the result (a host's text is never markup).

mod en;
mod es;
mod fr;

use std::collections::BTreeMap;

use language_tags::LanguageTag;

use crate::error::{ConnectProblem, FieldError, Problem};

use en::EN;
use es::ES;
use fr::FR;

/// The languages that ship.
pub(crate) const SHIPPED: [&str; 3] = ["en", "fr", "es"];

/// The longest `locale` a session may carry (RFC 5646 §4.4.1 advises at
/// least 35 characters of storage).
pub(crate) const MAX_LOCALE_CHARS: usize = 35;

/// A session's `locale`, checked: a well-formed BCP 47 language tag.
pub(crate) fn check_locale(locale: &str) -> Result<String, FieldError> {
    if locale.chars().count() > MAX_LOCALE_CHARS {
        return Err(FieldError::new(
            "locale",
            Problem::TooLong {
                max: MAX_LOCALE_CHARS,
            },
        ));
    }
    match LanguageTag::parse(locale) {
        Ok(tag) if tag.primary_language().len() <= 3 && tag.private_use().is_none() => {
            Ok(locale.to_owned())
        }
        _ => Err(FieldError::new(
            "locale",
            Problem::Connect(ConnectProblem::InvalidLocale),
        )),
    }
}

/// Strings a host adds or overrides for one language, by message key
/// ([`Messages::keys`] lists them).
///
/// ```
/// use oauth_connect::http::Messages;
/// let german = Messages::new()
///     .set("consent.allow", "Erlauben")
///     .set("consent.deny", "Ablehnen");
/// assert_eq!(german.get("consent.allow"), Some("Erlauben"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Messages {
    strings: BTreeMap<String, String>,
}

impl Messages {
    /// No strings: every message falls back to the language's shipped
    /// catalogue, then to English.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the text of message `key`. Braced names (`{app}`) are filled
    /// in as in the shipped text of that key.
    pub fn set(mut self, key: impl Into<String>, text: impl Into<String>) -> Self {
        self.strings.insert(key.into(), text.into());
        self
    }

    /// The text set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.strings.get(key).map(String::as_str)
    }

    /// Every message key of the hosted pages, with its English text. A
    /// provider category's label is the message `category.<id>` (shipped
    /// for a few common ones; any `category.` key may be set).
    pub fn keys() -> impl Iterator<Item = (&'static str, &'static str)> {
        EN.iter().copied()
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.strings.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn unknown_key(&self) -> Option<&str> {
        self.strings
            .keys()
            .map(String::as_str)
            .find(|k| !k.starts_with("category.") && !EN.iter().any(|(key, _)| key == k))
    }

    pub(crate) fn has_control_characters(&self) -> bool {
        self.strings
            .values()
            .any(|v| v.chars().any(char::is_control))
    }
}

/// The server's catalogues: the shipped ones and the host's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalogue {
    /// By lower-cased language tag.
    host: BTreeMap<String, Messages>,
}

impl Catalogue {
    pub(crate) fn new(host: BTreeMap<String, Messages>) -> Self {
        Self {
            host: host
                .into_iter()
                .map(|(tag, m)| (tag.to_ascii_lowercase(), m))
                .collect(),
        }
    }

    /// The language the catalogue has for `tag`: itself, or its primary
    /// language.
    fn supported(&self, tag: &str) -> Option<String> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.is_empty() {
            return None;
        }
        let has = |t: &str| SHIPPED.contains(&t) || self.host.contains_key(t);
        if has(&tag) {
            return Some(tag);
        }
        let primary = tag.split('-').next().unwrap_or_default();
        has(primary).then(|| primary.to_owned())
    }

    /// The page language: the session's `locale`, else the best of
    /// `Accept-Language` the catalogue has, else English.
    pub(crate) fn negotiate(&self, session: Option<&str>, accept: Option<&str>) -> String {
        if let Some(lang) = session.and_then(|s| self.supported(s)) {
            return lang;
        }
        let mut ranges: Vec<(u16, usize, &str)> = accept
            .unwrap_or_default()
            .split(',')
            .take(32)
            .enumerate()
            .filter_map(|(index, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1000), parse_quality)?;
                (q > 0 && tag != "*").then_some((q, index, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges
            .into_iter()
            .find_map(|(_, _, tag)| self.supported(tag))
            .unwrap_or_else(|| "en".to_owned())
    }

    /// The text of `key` in `lang`: the host's, the shipped one, then
    /// English (the host's, then the shipped one).
    pub(crate) fn text<'a>(&'a self, lang: &str, key: &'a str) -> &'a str {
        self.lookup(lang, key).unwrap_or(key)
    }

    /// [`text`](Self::text), `None` when no catalogue has `key`.
    pub(crate) fn lookup<'a>(&'a self, lang: &str, key: &str) -> Option<&'a str> {
        let host = |l: &str| self.host.get(l).and_then(|m| m.get(key));
        host(lang)
            .or_else(|| shipped(lang, key))
            .or_else(|| host("en"))
            .or_else(|| shipped("en", key))
    }
}

/// An RFC 9110 §12.4.2 quality value, in thousandths.
fn parse_quality(q: &str) -> Option<u16> {
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn shipped(lang: &str, key: &str) -> Option<&'static str> {
    let table = match lang {
        "en" => EN,
        "fr" => FR,
        "es" => ES,
        _ => return None,
    };
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// `template` with each `{name}` replaced by its value.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped language has exactly the English keys, each naming
    /// the same `{values}` (`http::ui::keys` checks that the embed script
    /// carries the `sdk.*` texts).
    #[test]
    fn catalogues_are_complete_and_alike() {
        let braces = |s: &str| -> Vec<String> {
            s.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect()
        };
        for table in [FR, ES] {
            assert_eq!(table.len(), EN.len());
            for ((key, en), (other_key, text)) in EN.iter().zip(table) {
                assert_eq!(key, other_key);
                assert_eq!(braces(en), braces(text), "{key}");
                assert!(!text.is_empty());
            }
        }
    }

    #[test]
    fn the_session_locale_then_accept_language_then_english() {
        let c = Catalogue::new(BTreeMap::from([(
            "de".to_owned(),
            Messages::new().set("consent.allow", "Erlauben"),
        )]));
        assert_eq!(c.negotiate(Some("fr-CA"), Some("es")), "fr");
        assert_eq!(c.negotiate(Some("ja"), Some("es-MX,en;q=0.5")), "es");
        assert_eq!(c.negotiate(None, Some("ja, de;q=0.9, fr;q=0.95")), "fr");
        assert_eq!(c.negotiate(None, Some("fr;q=0, de-AT")), "de");
        assert_eq!(c.negotiate(None, Some("*")), "en");
        assert_eq!(
            c.negotiate(None, Some("fr;q=2")),
            "en",
            "a bad q is skipped"
        );
        assert_eq!(c.negotiate(None, None), "en");
        assert_eq!(c.text("de", "consent.allow"), "Erlauben");
        assert_eq!(
            c.text("de", "consent.deny"),
            "Deny",
            "English fills the gaps"
        );
        assert_eq!(c.text("es", "consent.deny"), "Rechazar");
    }

    #[test]
    fn locales_are_bcp_47_tags() {
        for good in ["fr", "es-MX", "zh-Hant-TW", "en-US"] {
            assert_eq!(check_locale(good).unwrap(), good);
        }
        for bad in [
            "",
            "french!",
            "fr_FR",
            "x-private",
            &"a".repeat(36),
            "en-US-",
        ] {
            let e = check_locale(bad).unwrap_err();
            assert_eq!(e.field, "locale", "{bad}");
        }
    }

    #[test]
    fn quality_values() {
        assert_eq!(parse_quality("0.8"), Some(800));
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("1.5"), None);
        assert_eq!(parse_quality("0.1234"), None);
    }
}
