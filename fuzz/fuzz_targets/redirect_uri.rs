//! Redirect URIs: a pair (registered, requested). Whatever registers is
//! https, loopback http or a dotted private-use scheme, and has no fragment
//! or wildcard; a requested URI that matches is the registered one, or
//! differs only in the port of a loopback IP literal (RFC 8252 §7.3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::{RedirectUri, RedirectUriKind};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let Ok(uri) = RedirectUri::parse(registered) else { return };
    assert_eq!(uri.as_str(), registered, "stored exactly as given");
    assert!(!registered.contains('#') && !registered.contains('*'));
    match uri.kind() {
        RedirectUriKind::Https => assert!(registered.to_ascii_lowercase().starts_with("https://")),
        RedirectUriKind::Loopback => assert!(registered.to_ascii_lowercase().starts_with("http://")),
        RedirectUriKind::PrivateUse => {
            let scheme = registered.split(':').next().unwrap_or_default();
            assert!(scheme.contains('.'));
        }
    }
    assert!(uri.matches(registered), "a registered URI matches itself");
    if uri.matches(requested) && requested != registered {
        assert!(uri.is_loopback_ip(), "only loopback IP literals match another string");
        assert!(!requested.contains('#'));
    }
});
