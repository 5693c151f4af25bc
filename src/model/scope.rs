//! Access token scopes (RFC 6749 §3.3).
//!
//! A [`Scope`] is one case-sensitive scope-token; a [`ScopeSet`] is a
//! duplicate-free list of them in first-seen order, so responses echo scopes
//! in a stable order.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The longest scope-token accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 255;

/// The most distinct scope-tokens accepted in one [`ScopeSet`] when parsing.
pub const MAX_SCOPES: usize = 100;

/// Why a scope or scope list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The scope string is empty.
    #[error("scope must not be empty")]
    Empty,
    /// A token is empty or contains a character outside
    /// `%x21 / %x23-5B / %x5D-7E`.
    #[error(
        "scope token at index {index} must be non-empty printable ASCII without spaces, `\"` or `\\`"
    )]
    InvalidToken {
        /// Zero-based position of the token.
        index: usize,
    },
    /// A token is longer than [`MAX_SCOPE_LEN`] bytes.
    #[error("scope token at index {index} must be at most {max} bytes long")]
    TooLong {
        /// Zero-based position of the token.
        index: usize,
        /// The maximum length in bytes.
        max: usize,
    },
    /// More than [`MAX_SCOPES`] distinct tokens.
    #[error("scope must contain at most {max} distinct tokens")]
    TooMany {
        /// The maximum number of distinct tokens.
        max: usize,
    },
    /// Tokens are not separated by exactly one space, or there is a leading
    /// or trailing space.
    #[error("scope tokens must be separated by single spaces, with no leading or trailing space")]
    BadSeparator,
}

/// One scope-token: `1*( %x21 / %x23-5B / %x5D-7E )`, at most
/// [`MAX_SCOPE_LEN`] bytes, case-sensitive.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

impl Scope {
    /// Validates one scope-token.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Empty`] if `s` is empty, [`ScopeError::TooLong`] if it
    /// is longer than [`MAX_SCOPE_LEN`] bytes, and
    /// [`ScopeError::InvalidToken`] if it contains a character outside the
    /// scope-token grammar. The reported index is always 0.
    pub fn new(s: &str) -> Result<Self, ScopeError> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        validate_token(s, 0)?;
        Ok(Self(s.to_owned()))
    }

    /// The token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        validate_token(&s, 0)?;
        Ok(Self(s))
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> Self {
        scope.0
    }
}

/// A set of scopes: duplicates removed, first-seen order kept (so responses
/// echo scopes in a stable order).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ScopeSet(Arc<[Scope]>);

impl ScopeSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::from(Vec::new()))
    }

    /// Builds a set from individual tokens (e.g. a JSON array), removing
    /// duplicates. An empty iterator gives an empty set; the caller decides
    /// whether that is allowed.
    ///
    /// # Errors
    ///
    /// [`ScopeError::InvalidToken`] or [`ScopeError::TooLong`] for an
    /// invalid token (with its zero-based index), and
    /// [`ScopeError::TooMany`] for more than [`MAX_SCOPES`] distinct tokens.
    pub fn from_tokens<I, T>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut set = Vec::new();
        for (index, token) in tokens.into_iter().enumerate() {
            push_checked(&mut set, token.as_ref(), index)?;
        }
        Ok(Self(set.into()))
    }

    /// Parses the `scope` request parameter: `scope-token *( SP scope-token )`
    /// with strictly single spaces, removing duplicates.
    ///
    /// # Errors
    ///
    /// [`ScopeError::Empty`] for an empty string,
    /// [`ScopeError::BadSeparator`] for a leading, trailing or doubled
    /// space, [`ScopeError::InvalidToken`] or [`ScopeError::TooLong`] for an
    /// invalid token (with its zero-based index), and
    /// [`ScopeError::TooMany`] for more than [`MAX_SCOPES`] distinct tokens.
    pub fn parse(param: &str) -> Result<Self, ScopeError> {
        if param.is_empty() {
            return Err(ScopeError::Empty);
        }
        let mut set = Vec::new();
        for (index, token) in param.split(' ').enumerate() {
            if token.is_empty() {
                return Err(ScopeError::BadSeparator);
            }
            push_checked(&mut set, token, index)?;
        }
        Ok(Self(set.into()))
    }

    /// [`parse`](Self::parse), sharing `known` instead of building a new
    /// set when `param` names exactly `known`'s scopes in `known`'s order
    /// (repeats aside): the same set, without an allocation (a client
    /// asking for what it is allowed).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    pub(crate) fn parse_sharing(param: &str, known: &ScopeSet) -> Result<Self, ScopeError> {
        let mut matched = 0;
        let mut same = !param.is_empty();
        for (index, token) in param.split(' ').enumerate() {
            if !same || token.is_empty() || validate_token(token, index).is_err() {
                same = false;
                break;
            }
            if known.0[..matched].iter().any(|s| s.0 == token) {
                continue;
            }
            if known.0.get(matched).is_some_and(|s| s.0 == token) {
                matched += 1;
            } else {
                same = false;
            }
        }
        if same && matched == known.0.len() {
            Ok(known.clone())
        } else {
            Self::parse(param)
        }
    }

    /// Whether the set contains `scope` (case-sensitive).
    #[must_use]
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.0 == scope)
    }

    /// Whether every scope in `self` is also in `other`.
    #[must_use]
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.contains(&s.0))
    }

    /// The scopes in both sets, in `self`'s order.
    #[must_use]
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        self.0
            .iter()
            .filter(|s| other.contains(&s.0))
            .cloned()
            .collect()
    }

    /// The scopes, in first-seen order.
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.0.iter()
    }

    /// The number of distinct scopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The space-delimited form for the `scope` parameter or response field.
    #[must_use]
    pub fn to_param(&self) -> String {
        let mut out = String::new();
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&scope.0);
        }
        out
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_param())
    }
}

impl TryFrom<Vec<String>> for ScopeSet {
    type Error = ScopeError;

    fn try_from(tokens: Vec<String>) -> Result<Self, Self::Error> {
        Self::from_tokens(tokens)
    }
}

impl From<ScopeSet> for Vec<String> {
    fn from(set: ScopeSet) -> Self {
        set.0.iter().map(|s| s.0.clone()).collect()
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Collects scopes, removing duplicates and keeping first-seen order.
///
/// The scopes are already valid, so this cannot fail; it does not apply the
/// [`MAX_SCOPES`] limit, which guards parsing of untrusted input.
impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set: Vec<Scope> = Vec::new();
        for scope in iter {
            if !set.iter().any(|s| s.0 == scope.0) {
                set.push(scope);
            }
        }
        Self(set.into())
    }
}

/// Validates `token` and appends it to `set` unless already present.
fn push_checked(set: &mut Vec<Scope>, token: &str, index: usize) -> Result<(), ScopeError> {
    validate_token(token, index)?;
    if !set.iter().any(|s| s.0 == token) {
        if set.len() >= MAX_SCOPES {
            return Err(ScopeError::TooMany { max: MAX_SCOPES });
        }
        set.push(Scope(token.to_owned()));
    }
    Ok(())
}

/// Checks one token against the grammar and length limit.
fn validate_token(token: &str, index: usize) -> Result<(), ScopeError> {
    if token.len() > MAX_SCOPE_LEN {
        return Err(ScopeError::TooLong {
            index,
            max: MAX_SCOPE_LEN,
        });
    }
    let valid_byte = |b: u8| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E);
    if token.is_empty() || !token.bytes().all(valid_byte) {
        return Err(ScopeError::InvalidToken { index });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sharing_is_parse_and_shares_an_equal_set() {
        let known = ScopeSet::parse("read:devices write:devices").unwrap();
        for (param, shares) in [
            ("read:devices write:devices", true),
            (
                "read:devices read:devices write:devices write:devices",
                true,
            ),
            ("write:devices read:devices", false),
            ("read:devices", false),
            ("read:devices write:devices admin", false),
            ("read:devices  write:devices", false),
            ("", false),
            (" read:devices write:devices", false),
            ("read:devices write:devices ", false),
            ("read:devices \"x\"", false),
            ("other", false),
        ] {
            let shared = ScopeSet::parse_sharing(param, &known);
            assert_eq!(shared, ScopeSet::parse(param), "{param:?}");
            let is_shared = shared.is_ok_and(|set| Arc::ptr_eq(&set.0, &known.0));
            assert_eq!(is_shared, shares, "{param:?}");
        }
    }

    // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    #[test]
    fn rfc6749_3_3_grammar_edges() {
        for ok in [
            "!",
            "#",
            "[",
            "]",
            "~",
            "read",
            "a:b/c.d",
            "https://api.example.com/x",
        ] {
            assert_eq!(Scope::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "\"",
            "\\",
            "\u{7f}",
            " ",
            "a b",
            "a\tb",
            "a\nb",
            "\u{0}",
            "caf\u{e9}",
            "\u{2003}",
        ] {
            assert_eq!(
                Scope::new(bad),
                Err(ScopeError::InvalidToken { index: 0 }),
                "{bad:?}"
            );
        }
        assert_eq!(Scope::new(""), Err(ScopeError::Empty));
        // Every byte boundary of the grammar.
        for b in 0u8..=0x7F {
            let s = char::from(b).to_string();
            let expected = matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E);
            assert_eq!(Scope::new(&s).is_ok(), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn rfc6749_3_3_case_sensitive() {
        let set = ScopeSet::parse("read Read").unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains("read"));
        assert!(set.contains("Read"));
        assert!(!set.contains("READ"));
        assert_ne!(Scope::new("Read").unwrap(), Scope::new("read").unwrap());
    }

    // RFC 6749 §3.3: scope-token length (limit MAX_SCOPE_LEN is ours).
    #[test]
    fn length_limit_255_vs_256() {
        let ok = "a".repeat(MAX_SCOPE_LEN);
        assert!(Scope::new(&ok).is_ok());
        let long = "a".repeat(MAX_SCOPE_LEN + 1);
        assert_eq!(
            Scope::new(&long),
            Err(ScopeError::TooLong { index: 0, max: 255 })
        );
        assert_eq!(
            ScopeSet::parse(&format!("x y {long}")),
            Err(ScopeError::TooLong { index: 2, max: 255 })
        );
        assert_eq!(
            ScopeSet::from_tokens(["x", long.as_str()]),
            Err(ScopeError::TooLong { index: 1, max: 255 })
        );
    }

    // RFC 6749 §3.3: scope list size (limit MAX_SCOPES is ours).
    #[test]
    fn count_limit_100_vs_101() {
        let hundred: Vec<String> = (0..MAX_SCOPES).map(|i| format!("s{i}")).collect();
        assert_eq!(ScopeSet::from_tokens(&hundred).unwrap().len(), 100);
        assert_eq!(ScopeSet::parse(&hundred.join(" ")).unwrap().len(), 100);
        let mut more = hundred.clone();
        more.push("s100".to_owned());
        assert_eq!(
            ScopeSet::from_tokens(&more),
            Err(ScopeError::TooMany { max: 100 })
        );
        assert_eq!(
            ScopeSet::parse(&more.join(" ")),
            Err(ScopeError::TooMany { max: 100 })
        );
        // Duplicates do not count towards the limit.
        let mut dups = hundred.clone();
        dups.extend(hundred.iter().cloned());
        assert_eq!(ScopeSet::from_tokens(&dups).unwrap().len(), 100);
    }

    #[test]
    fn rfc6749_3_3_parse_single_spaces_only() {
        assert_eq!(ScopeSet::parse(""), Err(ScopeError::Empty));
        for bad in [" ", " a", "a ", "a  b", "a b ", "  "] {
            assert_eq!(
                ScopeSet::parse(bad),
                Err(ScopeError::BadSeparator),
                "{bad:?}"
            );
        }
        assert_eq!(
            ScopeSet::parse("a\tb"),
            Err(ScopeError::InvalidToken { index: 0 })
        );
        assert_eq!(
            ScopeSet::parse("a b\u{a0}c"),
            Err(ScopeError::InvalidToken { index: 1 })
        );
        let set = ScopeSet::parse("openid profile email").unwrap();
        assert_eq!(set.to_param(), "openid profile email");
    }

    #[test]
    fn rfc6749_3_3_from_tokens() {
        assert!(
            ScopeSet::from_tokens(Vec::<String>::new())
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            ScopeSet::from_tokens(["read", "write now"]),
            Err(ScopeError::InvalidToken { index: 1 })
        );
        assert_eq!(
            ScopeSet::from_tokens(["read", ""]),
            Err(ScopeError::InvalidToken { index: 1 })
        );
        assert_eq!(
            ScopeSet::from_tokens(["ok", "ok", "b\u{e9}"]),
            Err(ScopeError::InvalidToken { index: 2 })
        );
    }

    #[test]
    fn rfc6749_3_3_dedup_keeps_first_order() {
        let set = ScopeSet::parse("write read write admin read").unwrap();
        assert_eq!(set.to_param(), "write read admin");
        assert_eq!(set.len(), 3);
        let set = ScopeSet::from_tokens(["b", "a", "b", "c", "a"]).unwrap();
        let v: Vec<&str> = set.iter().map(Scope::as_str).collect();
        assert_eq!(v, ["b", "a", "c"]);
        let collected: ScopeSet = ["x", "y", "x"]
            .into_iter()
            .map(|s| Scope::new(s).unwrap())
            .collect();
        assert_eq!(collected.to_string(), "x y");
    }

    #[test]
    fn rfc6749_3_3_subset() {
        let granted = ScopeSet::parse("read write admin").unwrap();
        assert!(
            ScopeSet::parse("write read")
                .unwrap()
                .is_subset_of(&granted)
        );
        assert!(ScopeSet::new().is_subset_of(&granted));
        assert!(granted.is_subset_of(&granted));
        assert!(
            !ScopeSet::parse("read delete")
                .unwrap()
                .is_subset_of(&granted)
        );
        assert!(!ScopeSet::parse("Read").unwrap().is_subset_of(&granted));
    }

    #[test]
    fn rfc6749_3_3_intersection_keeps_self_order() {
        let requested = ScopeSet::parse("email openid unknown profile").unwrap();
        let allowed = ScopeSet::parse("openid profile email").unwrap();
        assert_eq!(
            requested.intersection(&allowed).to_param(),
            "email openid profile"
        );
        assert_eq!(
            allowed.intersection(&requested).to_param(),
            "openid profile email"
        );
        assert!(requested.intersection(&ScopeSet::new()).is_empty());
    }

    // RFC 6749 §3.3: space-delimited form of the scope parameter.
    #[test]
    fn display_iter_and_conversions() {
        let set = ScopeSet::parse("a b").unwrap();
        assert_eq!(set.to_string(), set.to_param());
        assert_eq!(ScopeSet::new().to_param(), "");
        let mut seen = Vec::new();
        for s in &set {
            seen.push(s.to_string());
        }
        assert_eq!(seen, ["a", "b"]);
        let v: Vec<String> = set.clone().into();
        assert_eq!(ScopeSet::try_from(v).unwrap(), set);
        let scope = Scope::try_from(String::from("read")).unwrap();
        assert_eq!(String::from(scope), "read");
        assert_eq!(Scope::try_from(String::new()), Err(ScopeError::Empty));
    }

    // RFC 6749 §3.3 / RFC 7591 §2: scopes as a JSON array of scope-tokens.
    #[test]
    fn serde_round_trips() {
        let set = ScopeSet::parse("openid profile").unwrap();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["openid","profile"]"#);
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), set);
        let deduped: ScopeSet = serde_json::from_str(r#"["a","b","a"]"#).unwrap();
        assert_eq!(deduped.to_param(), "a b");
        let empty: ScopeSet = serde_json::from_str("[]").unwrap();
        assert!(empty.is_empty());

        let e = serde_json::from_str::<ScopeSet>(r#"["ok","bad\"quote"]"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("index 1"), "{e}");
        assert!(serde_json::from_str::<ScopeSet>(r#"["a b"]"#).is_err());
        assert!(serde_json::from_str::<ScopeSet>(r#""a b""#).is_err());

        let scope = Scope::new("read").unwrap();
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(json, r#""read""#);
        assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        assert!(serde_json::from_str::<Scope>(r#""a\\b""#).is_err());
        assert!(serde_json::from_str::<Scope>(r#""""#).is_err());
    }

    // RFC 6749 §3.3 / §4.1.2.1: invalid_scope errors a client developer can act on.
    #[test]
    fn error_messages_are_actionable() {
        for e in [
            ScopeError::Empty,
            ScopeError::InvalidToken { index: 3 },
            ScopeError::TooLong {
                index: 0,
                max: MAX_SCOPE_LEN,
            },
            ScopeError::TooMany { max: MAX_SCOPES },
            ScopeError::BadSeparator,
        ] {
            let m = e.to_string();
            assert!(m.starts_with(char::is_lowercase), "{m}");
            assert!(!m.ends_with('.'), "{m}");
        }
        assert_eq!(
            ScopeError::TooMany { max: 100 }.to_string(),
            "scope must contain at most 100 distinct tokens"
        );
    }
}
