//! Proof Key for Code Exchange (RFC 7636), `S256` only.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

/// The shortest code verifier or challenge (RFC 7636 §4.1, §4.2).
pub(crate) const MIN_LEN: usize = 43;
/// The longest code verifier or challenge.
pub(crate) const MAX_LEN: usize = 128;

/// RFC 7636 §4.1: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether `value` is 43–128 unreserved characters (the grammar shared by
/// `code_verifier` and `code_challenge`).
pub(crate) fn is_well_formed(value: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&value.len()) && value.bytes().all(is_unreserved)
}

/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))` (RFC 7636 §4.2).
#[cfg(test)]
pub(crate) fn s256_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// RFC 7636 §4.6: the verifier is well formed and its S256 transform equals
/// the stored challenge (compared in constant time).
pub(crate) fn verify(verifier: &str, challenge: &str) -> bool {
    if !is_well_formed(verifier) {
        return false;
    }
    // 32 bytes of SHA-256 are 43 base64url characters; no allocation.
    let digest = crate::credentials::hmac::sha256(verifier.as_bytes());
    let mut expected = [0u8; 43];
    match URL_SAFE_NO_PAD.encode_slice(digest, &mut expected) {
        Ok(43) => bool::from(expected.as_slice().ct_eq(challenge.as_bytes())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(verify(VERIFIER, CHALLENGE));
    }

    #[test]
    fn rfc7636_section_4_6_wrong_verifier_fails() {
        let mut wrong = VERIFIER.to_owned();
        wrong.replace_range(0..1, "e");
        assert!(!verify(&wrong, CHALLENGE));
        // The challenge itself is not a valid verifier for itself.
        assert!(!verify(CHALLENGE, CHALLENGE));
    }

    #[test]
    fn rfc7636_section_4_1_verifier_grammar() {
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"~._-".repeat(32)));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(42))));
        assert!(!is_well_formed(&format!("{}=", "a".repeat(42))));
        assert!(!is_well_formed(&format!("{} ", "a".repeat(42))));
        // A too-short verifier never verifies, even against its own transform.
        let short = "a".repeat(42);
        assert!(!verify(&short, &s256_challenge(&short)));
    }
}
