//! HMAC-SHA-256 (RFC 2104) and SHA-256, both `ring`'s: the one place the
//! crate reaches them, so the key ring and PKCE share one vocabulary (a
//! key, a streamed context, a 32-byte tag) and no cryptography of our own.
//!
//! A faster HMAC written here on a bare SHA-256 block function (each key's
//! padded states kept) was measured during issue 23: about 90 against
//! `ring`'s 145 ns per tag, some 0.3 µs of a refresh's 5. Not kept: it would
//! be hand-written cryptography under every stored credential hash, for a
//! few per cent.

use ring::{digest, hmac};

/// SHA-256 of `bytes` (PKCE's `S256`, RFC 7636 §4.2).
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// An HMAC-SHA-256 key. `Debug` prints nothing of it.
#[derive(Clone)]
pub(crate) struct HmacKey(hmac::Key);

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey([redacted])")
    }
}

impl HmacKey {
    /// The key `key` (a key longer than a block is hashed first, RFC 2104
    /// §2).
    pub(crate) fn new(key: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// A context to feed the message to.
    pub(crate) fn context(&self) -> HmacContext {
        HmacContext(hmac::Context::with_key(&self.0))
    }

    /// The tag of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 32] {
        tag(&hmac::sign(&self.0, message))
    }
}

/// An HMAC being computed: fed with [`update`](Self::update), then
/// [`sign`](Self::sign).
pub(crate) struct HmacContext(hmac::Context);

impl HmacContext {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The tag.
    pub(crate) fn sign(self) -> [u8; 32] {
        tag(&self.0.sign())
    }
}

fn tag(tag: &hmac::Tag) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 4231 §4.3 (test case 2: a key shorter than the block) and §4.7
    /// (test case 6: a key longer than the block, hashed first), whole and
    /// streamed in pieces.
    #[test]
    fn rfc_4231_cases_2_and_6_whole_and_streamed() {
        let cases: [(&[u8], &[u8], &str); 2] = [
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, expected) in cases {
            let key = HmacKey::new(key);
            assert_eq!(hex(&key.sign(message)), expected);
            let mut context = key.context();
            let (a, b) = message.split_at(message.len() / 3);
            context.update(a);
            context.update(&[]);
            context.update(b);
            assert_eq!(hex(&context.sign()), expected);
        }
    }

    /// FIPS 180-4's example "abc" and the empty message.
    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        assert_eq!(format!("{:?}", HmacKey::new(b"key")), "HmacKey([redacted])");
    }
}
