//! The checks of the parsers without an HTTP surface of their own:
//! credentials, redirect URIs, scopes, origins.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use crate::credentials::Credential;
use crate::credentials::{CredentialKind, CredentialPrefixes, kind};
use crate::model::origin::{Origin, OriginError};
use crate::model::redirect::{RedirectUri, RedirectUriKind};

/// Credential parsing, every kind: whatever parses re-encodes to the same
/// text, starts with its kind's prefix, and parses as no other kind.
pub fn credential(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let prefixes = CredentialPrefixes::default();
    let parsed = [
        parses::<kind::ClientSecret>(&prefixes, text),
        parses::<kind::AuthorizationCode>(&prefixes, text),
        parses::<kind::AccessToken>(&prefixes, text),
        parses::<kind::RefreshToken>(&prefixes, text),
        parses::<kind::ConnectToken>(&prefixes, text),
        parses::<kind::AdminKey>(&prefixes, text),
        parses::<kind::PublishableKey>(&prefixes, text),
    ];
    assert!(
        parsed.iter().filter(|p| **p).count() <= 1,
        "one text parsed as two kinds"
    );
}

fn parses<K: CredentialKind>(prefixes: &CredentialPrefixes, text: &str) -> bool {
    let Ok(credential) = Credential::<K>::parse(prefixes, text) else {
        return false;
    };
    assert_eq!(
        credential.expose_secret(),
        text,
        "re-encodes to the same text"
    );
    assert!(text.starts_with(K::prefix(prefixes)));
    let again = Credential::<K>::parse(prefixes, credential.expose_secret()).expect("re-parses");
    assert_eq!(again.key_id(), credential.key_id());
    true
}

/// Redirect URIs: `registered\nrequested`. Whatever registers is https,
/// loopback http or a private-use scheme of two or more characters that
/// is not a script, file or browser-internal one, with no fragment or
/// wildcard; a requested URI that matches is the registered one, or differs
/// only in the port of a loopback IP literal (RFC 8252 §7.3).
pub fn redirect_uri(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let Ok(uri) = RedirectUri::parse(registered) else {
        return;
    };
    assert_eq!(uri.as_str(), registered, "stored exactly as given");
    assert!(!registered.contains('#') && !registered.contains('*'));
    match uri.kind() {
        RedirectUriKind::Https => {
            assert!(registered.to_ascii_lowercase().starts_with("https://"));
        }
        RedirectUriKind::Loopback => {
            assert!(registered.to_ascii_lowercase().starts_with("http://"));
        }
        RedirectUriKind::PrivateUse => {
            let scheme = registered
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(scheme.len() >= 2, "{scheme}");
            for never in [
                "javascript",
                "data",
                "file",
                "about",
                "blob",
                "vbscript",
                "intent",
                "urn",
            ] {
                assert_ne!(scheme, never);
            }
            assert!(!scheme.starts_with("ms-"), "{scheme}");
        }
    }
    assert!(uri.matches(registered), "a registered URI matches itself");
    if uri.matches(requested) && requested != registered {
        assert!(
            uri.is_loopback_ip(),
            "only loopback IP literals match another string"
        );
        assert!(!requested.contains('#'));
    }
}

/// The `scope` parameter (RFC 6749 §3.3): whatever parses has no
/// duplicate, holds only tokens of the input, and its canonical form parses
/// back to the same set.
pub fn scope_param(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(set) = crate::model::scope::ScopeSet::parse(text) else {
        return;
    };
    let again =
        crate::model::scope::ScopeSet::parse(&set.to_param()).expect("canonical form parses");
    assert_eq!(again, set);
    let mut seen = std::collections::HashSet::new();
    assert!(
        set.iter().all(|s| seen.insert(s.as_str().to_owned())),
        "no duplicates"
    );
    assert!(set.iter().all(|s| text.split(' ').any(|t| t == s.as_str())));
}

/// Origins as apps register them and browsers send them: whatever parses
/// is its own serialisation (`scheme://host[:port]`, lowercase, no default
/// port, no path, query, fragment or user information), https or loopback
/// http, and re-parses; a refusal for spelling suggests an origin that
/// parses.
pub fn origin(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Origin::parse(text) {
        Ok(origin) => {
            assert_eq!(origin.as_str(), text);
            let url = url::Url::parse(text).expect("a URL");
            assert_eq!(url.origin().ascii_serialization(), text);
            assert_eq!(text, text.to_ascii_lowercase());
            let rest = text.split_once("://").expect("a scheme").1;
            assert!(!rest.contains(['/', '?', '#', '@']), "{text}");
            match url.scheme() {
                "https" => {}
                "http" => assert!(
                    RedirectUri::parse(&format!("{text}/"))
                        .is_ok_and(|u| u.kind() == RedirectUriKind::Loopback),
                    "http on a host that is not loopback: {text}"
                ),
                other => panic!("scheme {other}"),
            }
        }
        Err(OriginError::NotSerialized { expected }) => {
            let suggested = Origin::parse(&expected)
                .unwrap_or_else(|e| panic!("suggested {expected:?} does not parse: {e}"));
            assert_eq!(suggested.as_str(), expected);
        }
        Err(_) => {}
    }
}
