//! Request parameters of the OAuth endpoints: `application/x-www-form-urlencoded`
//! bodies and query strings (RFC 6749 Appendix B), parsed the way RFC 6749
//! wants them: every parameter at most once (§3.1, §3.2), a
//! parameter sent empty treated as absent (§3.1), strict percent-encoding
//! and UTF-8, and a bounded size.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The largest OAuth form body or query string accepted, in bytes.
pub(crate) const MAX_FORM_BYTES: usize = 16 * 1024;

/// Why a form or query string was refused.
///
/// Parameter names appear in messages only when they look like parameter
/// names; values never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormError {
    /// The input exceeds [`MAX_FORM_BYTES`].
    TooLarge,
    /// A parameter appears more than once (RFC 6749 §3.1, §3.2).
    Duplicate {
        /// The parameter's name, or `None` when it does not look like one.
        name: Option<String>,
    },
    /// A `%` not followed by two hex digits, or text that is not UTF-8.
    InvalidEncoding,
    /// A pair with an empty name, such as `=value`.
    EmptyName,
}

impl FormError {
    /// The offending parameter's name, when there is one to show.
    pub(crate) fn parameter(&self) -> Option<&str> {
        match self {
            Self::Duplicate { name } => name.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => write!(f, "the parameters exceed {MAX_FORM_BYTES} bytes"),
            Self::Duplicate { name: Some(name) } => {
                write!(f, "parameter `{name}` is included more than once")
            }
            Self::Duplicate { name: None } => f.write_str("a parameter is included more than once"),
            Self::InvalidEncoding => {
                f.write_str("the parameters are not valid percent-encoded UTF-8")
            }
            Self::EmptyName => f.write_str("a parameter has an empty name"),
        }
    }
}

impl std::error::Error for FormError {}

/// Decoded parameters: unique names, and only the non-empty values (an empty
/// value counts as absent). Names and values borrow from the input unless
/// decoding changed them.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Params<'a> {
    /// In order of appearance; names are unique.
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The names sent with an empty value (absent for the OAuth endpoints,
    /// RFC 6749 §3.1; a malformed number or enum for the JSON API's query).
    blank: Vec<Cow<'a, str>>,
}

/// Written by hand: names only, since any value may be a secret (a code, a
/// client secret, a refresh token) and which one is depends on the name.
impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'a> Params<'a> {
    /// Parses a form body or a query string (without the `?`).
    ///
    /// Empty segments (`a=1&&b=2`, a trailing `&`) are skipped; a segment
    /// without `=` is a parameter with an empty value, hence absent.
    ///
    /// # Errors
    ///
    /// [`FormError::TooLarge`] over [`MAX_FORM_BYTES`];
    /// [`FormError::Duplicate`] when a name repeats (even if one of the
    /// values is empty); [`FormError::InvalidEncoding`];
    /// [`FormError::EmptyName`].
    pub(crate) fn parse(input: &'a [u8]) -> Result<Self, FormError> {
        Self::from_decoded(pairs(input)?)
    }

    /// As [`Params::parse`], up to `max` bytes instead of
    /// [`MAX_FORM_BYTES`]: the consent form, which carries its sealed
    /// request.
    ///
    /// # Errors
    ///
    /// As [`Params::parse`], [`FormError::TooLarge`] over `max`.
    pub(crate) fn parse_within(input: &'a [u8], max: usize) -> Result<Self, FormError> {
        if input.len() > max {
            return Err(FormError::TooLarge);
        }
        Self::from_decoded(decode_pairs(input)?)
    }

    /// From decoded name/value pairs, in order, taking them over.
    ///
    /// # Errors
    ///
    /// [`FormError::Duplicate`] when a name repeats (even if one of the
    /// values is empty).
    pub(crate) fn from_decoded(
        mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    ) -> Result<Self, FormError> {
        if let Some(name) = first_duplicate(&pairs) {
            return Err(FormError::duplicate(name));
        }
        let mut blank = Vec::new();
        pairs.retain_mut(|(name, value)| {
            if value.is_empty() {
                blank.push(std::mem::take(name));
            }
            !value.is_empty()
        });
        Ok(Self { pairs, blank })
    }

    /// From decoded name/value pairs, in order, borrowing them.
    ///
    /// # Errors
    ///
    /// [`FormError::Duplicate`] when a name repeats (even if one of the
    /// values is empty).
    #[cfg(test)]
    pub(crate) fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        input: &'a [(N, V)],
    ) -> Result<Self, FormError> {
        if let Some(name) = first_duplicate(input) {
            return Err(FormError::duplicate(name));
        }
        let (pairs, blank): (Vec<_>, Vec<_>) = input
            .iter()
            .map(|(n, v)| (Cow::Borrowed(n.as_ref()), Cow::Borrowed(v.as_ref())))
            .partition(|(_, v)| !v.is_empty());
        let blank = blank.into_iter().map(|(n, _)| n).collect();
        Ok(Self { pairs, blank })
    }

    /// Parses an optional query string, as [`Params::parse`].
    ///
    /// # Errors
    ///
    /// As [`Params::parse`].
    pub(crate) fn parse_query(query: Option<&'a str>) -> Result<Self, FormError> {
        Self::parse(query.unwrap_or_default().as_bytes())
    }

    /// The value of `name`, if it was sent and is not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// Whether `name` was sent with an empty value (`page=`), which
    /// [`Params::get`] reports as absent.
    pub(crate) fn sent_empty(&self, name: &str) -> bool {
        self.blank.iter().any(|n| n == name)
    }

    /// Every parameter with a non-empty value, in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// Whether `name` was sent with a non-empty value.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names of the parameters with non-empty values, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_ref())
    }
}

impl FormError {
    fn duplicate(name: &str) -> Self {
        Self::Duplicate {
            name: showable(name).then(|| name.to_owned()),
        }
    }
}

/// Decoded name/value pairs, borrowing from the input where decoding changed
/// nothing.
pub(crate) type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Decodes every name/value pair of a form body or query string, in order,
/// keeping repeats and empty values (the authorization endpoint must tell a
/// repeated `client_id` from another repeated parameter). Nothing is copied
/// unless it holds a `+` or a `%`.
///
/// # Errors
///
/// [`FormError::TooLarge`], [`FormError::InvalidEncoding`],
/// [`FormError::EmptyName`].
pub(crate) fn pairs(input: &[u8]) -> Result<Pairs<'_>, FormError> {
    if input.len() > MAX_FORM_BYTES {
        return Err(FormError::TooLarge);
    }
    decode_pairs(input)
}

/// [`pairs`] without the size check.
fn decode_pairs(input: &[u8]) -> Result<Pairs<'_>, FormError> {
    let mut out = Vec::with_capacity(8);
    for segment in input.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        let (raw_name, raw_value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (&segment[..at], &segment[at + 1..]),
            None => (segment, &[][..]),
        };
        let name = decode(raw_name)?;
        if name.is_empty() {
            return Err(FormError::EmptyName);
        }
        out.push((name, decode(raw_value)?));
    }
    Ok(out)
}

/// Above this many pairs, duplicates are found with a hash set rather than
/// by comparing every pair with those before it.
const LINEAR_SCAN_MAX: usize = 16;

/// The first parameter name that occurs more than once.
pub(crate) fn first_duplicate<N: AsRef<str>, V>(pairs: &[(N, V)]) -> Option<&str> {
    if pairs.len() <= LINEAR_SCAN_MAX {
        return pairs.iter().enumerate().find_map(|(i, (name, _))| {
            let name = name.as_ref();
            pairs[..i]
                .iter()
                .any(|(n, _)| n.as_ref() == name)
                .then_some(name)
        });
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    pairs
        .iter()
        .map(|(name, _)| name.as_ref())
        .find(|name| !seen.insert(*name))
}

/// Whether any of `names` occurs more than once in `pairs` (whatever other
/// names repeat).
pub(crate) fn any_repeated<N: AsRef<str>, V>(pairs: &[(N, V)], names: &[&str]) -> bool {
    names.iter().any(|name| {
        pairs
            .iter()
            .filter(|(n, _)| n.as_ref() == *name)
            .nth(1)
            .is_some()
    })
}

/// The value of the first occurrence of `name`, if non-empty.
pub(crate) fn first<'a, N: AsRef<str>, V: AsRef<str>>(
    pairs: &'a [(N, V)],
    name: &str,
) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.as_ref() == name)
        .map(|(_, v)| v.as_ref())
        .filter(|v| !v.is_empty())
}

/// Whether a name is safe to repeat in an error message: a short run of
/// the characters parameter names use. Every credential is longer than 40
/// characters, so one pasted in the wrong place is never echoed.
fn showable(name: &str) -> bool {
    name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']'))
}

/// Strict `application/x-www-form-urlencoded` decoding of one name or value:
/// `+` is a space, `%XX` a byte; a `%` without two hex digits or a result
/// that is not UTF-8 is an error. Borrows `raw` when it holds neither `+`
/// nor `%`.
pub(crate) fn decode(raw: &[u8]) -> Result<Cow<'_, str>, FormError> {
    let special = |b: &u8| *b == b'%' || *b == b'+';
    let Some(first) = raw.iter().position(special) else {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| FormError::InvalidEncoding);
    };
    // Runs of plain bytes are copied whole, escapes one by one.
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => {
                out.push(b' ');
                rest = tail;
            }
            b'%' => {
                let hi = tail.first().and_then(|&h| hex_value(h));
                let lo = tail.get(1).and_then(|&l| hex_value(l));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::InvalidEncoding),
                }
                rest = &tail[2..];
            }
            _ => {
                let run = rest.iter().position(special).unwrap_or(rest.len());
                out.extend_from_slice(&rest[..run]);
                rest = &rest[run..];
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| FormError::InvalidEncoding)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_values() {
        let p = Params::parse(b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1").unwrap();
        assert_eq!(p.get("grant_type"), Some("authorization_code"));
        assert_eq!(p.get("code"), Some("abc"));
        assert_eq!(
            p.get("redirect_uri"),
            Some("https://app.example.com/cb?x=1")
        );
        assert_eq!(
            p.names().collect::<Vec<_>>(),
            ["grant_type", "code", "redirect_uri"]
        );
        assert!(p.contains("code"));
        assert!(!p.contains("scope"));
    }

    #[test]
    fn plus_is_space_and_percent_2b_is_plus() {
        let p = Params::parse(b"scope=read+write&x=a%2Bb&y=%C3%A9").unwrap();
        assert_eq!(p.get("scope"), Some("read write"));
        assert_eq!(p.get("x"), Some("a+b"));
        assert_eq!(p.get("y"), Some("é"));
    }

    #[test]
    fn duplicates_are_refused_naming_the_parameter() {
        for input in [
            &b"scope=a&scope=b"[..],
            b"scope=a&scope=a",
            b"scope=&scope=b",
            b"scope&scope=b",
            b"scope=a&sc%6Fpe=b",
        ] {
            let err = Params::parse(input).unwrap_err();
            assert_eq!(
                err,
                FormError::Duplicate {
                    name: Some("scope".into())
                }
            );
            assert_eq!(err.parameter(), Some("scope"));
            assert!(err.to_string().contains("`scope`"), "{err}");
        }
    }

    #[test]
    fn duplicate_names_that_could_be_secrets_are_not_echoed() {
        let name = "oc_secret_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let err = Params::parse(format!("{name}&{name}").as_bytes()).unwrap_err();
        assert_eq!(err, FormError::Duplicate { name: None });
        assert!(!err.to_string().contains("AAAA"));
        let long = "a".repeat(41);
        let err = Params::parse(format!("{long}=1&{long}=2").as_bytes()).unwrap_err();
        assert_eq!(err.parameter(), None);
    }

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"state=&scope&code=x&&").unwrap();
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("scope"), None);
        assert!(!p.contains("state"));
        assert_eq!(p.names().collect::<Vec<_>>(), ["code"]);
        assert_eq!(Params::parse(b"").unwrap(), Params::default());
        assert_eq!(Params::parse_query(None).unwrap(), Params::default());
        assert_eq!(
            Params::parse_query(Some("page=2")).unwrap().get("page"),
            Some("2")
        );
    }

    #[test]
    fn invalid_encoding_is_refused() {
        for input in [
            &b"a=%"[..],
            b"a=%4",
            b"a=%zz",
            b"a=%4g",
            b"a%=1",
            b"a=%FF",
            b"a=%C3",
            b"a=\xff",
            b"%80=1",
        ] {
            assert_eq!(
                Params::parse(input),
                Err(FormError::InvalidEncoding),
                "{input:?}"
            );
        }
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(Params::parse(b"=x"), Err(FormError::EmptyName));
        assert_eq!(Params::parse(b"a=1&=x"), Err(FormError::EmptyName));
    }

    #[test]
    fn size_is_bounded() {
        let at_limit = format!("a={}", "x".repeat(MAX_FORM_BYTES - 2));
        assert!(Params::parse(at_limit.as_bytes()).is_ok());
        let over = format!("a={}", "x".repeat(MAX_FORM_BYTES - 1));
        assert_eq!(Params::parse(over.as_bytes()), Err(FormError::TooLarge));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let p = Params::parse(b"client_secret=oc_secret_zzz").unwrap();
        let shown = format!("{p:?}");
        assert!(shown.contains("client_secret"));
        assert!(!shown.contains("zzz"));
    }

    #[test]
    fn equals_signs_in_values_are_kept() {
        let p = Params::parse(b"a=b=c&d==").unwrap();
        assert_eq!(p.get("a"), Some("b=c"));
        assert_eq!(p.get("d"), Some("="));
    }

    #[test]
    fn client_secret_duplicates_are_named() {
        let err = Params::parse(b"client_secret=a&client_secret=b").unwrap_err();
        assert_eq!(err.parameter(), Some("client_secret"));
        assert!(!err.to_string().contains("=a"));
    }

    #[test]
    fn rfc6749_section_3_1_empty_parameters_count_as_absent() {
        let params = Params::from_pairs(&[("scope", ""), ("state", "xyz")]).unwrap();
        assert_eq!(params.get("scope"), None);
        assert!(!params.contains("scope"));
        assert_eq!(params.get("state"), Some("xyz"));
    }

    #[test]
    fn rfc6749_section_3_1_repeated_parameters_are_refused() {
        let err = Params::from_pairs(&[("code", "a"), ("code", "b")]).unwrap_err();
        assert_eq!(err.parameter(), Some("code"));
        // Repeated even when one of them is empty.
        assert!(Params::from_pairs(&[("code", ""), ("code", "b")]).is_err());
        let pairs: Vec<(String, String)> = [("a", "1"), ("b", "1"), ("a", "2"), ("b", "2")]
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(first_duplicate(&pairs), Some("a"));
        // `b` repeats after `a` did: still found (RFC 6749 §4.1.2.1 needs
        // every repeat of client_id or redirect_uri, not the first repeat).
        assert!(any_repeated(&pairs, &["b"]));
        assert!(any_repeated(&pairs, &["x", "a"]));
        assert!(!any_repeated(&pairs, &["x", "c"]));
    }

    #[test]
    fn rfc6749_section_3_1_repeats_are_found_among_many_parameters() {
        // More pairs than the linear scan handles: the hash-set path.
        let mut input: Vec<String> = (0..40).map(|i| format!("p{i}=v")).collect();
        input.push("p7=again".to_owned());
        let err = Params::parse(input.join("&").as_bytes()).unwrap_err();
        assert_eq!(err.parameter(), Some("p7"));
        input.pop();
        let joined = input.join("&");
        let params = Params::parse(joined.as_bytes()).unwrap();
        assert_eq!(params.get("p39"), Some("v"));
    }

    #[test]
    fn values_without_escapes_are_borrowed_not_copied() {
        let pairs = pairs(b"code=abc&redirect_uri=https%3A%2F%2Fa.example").unwrap();
        assert!(matches!(pairs[0].1, Cow::Borrowed("abc")));
        assert!(matches!(&pairs[1].1, Cow::Owned(v) if v == "https://a.example"));
    }
}
