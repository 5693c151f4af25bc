//! Request parameters of the OAuth endpoints (RFC 6749 §3.1, §3.2): a
//! parameter sent empty counts as absent, and one sent twice is an error.

/// Parameters by name, each present at most once and never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

/// A parameter appeared more than once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter {0} is repeated")]
pub(crate) struct DuplicateParameter(pub(crate) String);

impl Params {
    /// From decoded name/value pairs (a query string or a form body).
    pub(crate) fn from_pairs<I, N, V>(pairs: I) -> Result<Self, DuplicateParameter>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            let (name, value) = (name.into(), value.into());
            if seen.iter().any(|(n, _)| *n == name) {
                return Err(DuplicateParameter(name));
            }
            seen.push((name, value));
        }
        seen.retain(|(_, value)| !value.is_empty());
        Ok(Self { pairs: seen })
    }

    /// The value of `name`, if present and non-empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (and non-empty).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Counts how often each parameter occurs, for the authorization endpoint,
/// which must tell a repeated `client_id` (an error page) from another
/// repeated parameter (an error redirect).
pub(crate) fn first_duplicate(pairs: &[(String, String)]) -> Option<&str> {
    pairs.iter().enumerate().find_map(|(i, (name, _))| {
        pairs[..i]
            .iter()
            .any(|(n, _)| n == name)
            .then_some(name.as_str())
    })
}

/// The value of the first occurrence of `name`, if non-empty.
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_section_3_1_empty_parameters_count_as_absent() {
        let params = Params::from_pairs([("scope", ""), ("state", "xyz")]).unwrap();
        assert_eq!(params.get("scope"), None);
        assert!(!params.contains("scope"));
        assert_eq!(params.get("state"), Some("xyz"));
    }

    #[test]
    fn rfc6749_section_3_1_repeated_parameters_are_refused() {
        let err = Params::from_pairs([("code", "a"), ("code", "b")]).unwrap_err();
        assert_eq!(err, DuplicateParameter("code".into()));
        // Repeated even when one of them is empty.
        assert!(Params::from_pairs([("code", ""), ("code", "b")]).is_err());
        let pairs = vec![
            ("a".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        assert_eq!(first_duplicate(&pairs), Some("a"));
    }
}
