//! Credential parsing: never panics; whatever parses re-encodes to the same
//! text and keeps its kind's prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_connect::{AccessToken, ClientSecret, CredentialPrefixes, RefreshToken};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let prefixes = CredentialPrefixes::default();
    if let Ok(token) = AccessToken::parse(&prefixes, text) {
        assert_eq!(token.expose_secret(), text);
        assert!(text.starts_with(prefixes.access_token()));
        // A credential of one kind never parses as another.
        assert!(RefreshToken::parse(&prefixes, text).is_err());
    }
    if let Ok(secret) = ClientSecret::parse(&prefixes, text) {
        assert_eq!(secret.expose_secret(), text);
    }
});
