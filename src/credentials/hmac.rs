//! HMAC-SHA-256 (RFC 2104, FIPS 198-1) with each key's inner and outer
//! SHA-256 states computed once, on `sha2`'s block function (the CPU's SHA
//! extensions where it has them, detected at run time).
//!
//! Every credential hash, signature and derived value of the key ring is one
//! HMAC of a short framed input: two SHA-256 blocks once the key's states are
//! kept. `ring`'s HMAC (which the ring used before) computes the same tags but
//! spends about as long again around the two blocks (its context copies and
//! dispatch), a third of each refresh's hashing (issue 23 item 1); the tests
//! check this one against `ring`'s, tag for tag.

use zeroize::{Zeroize, Zeroizing};

/// SHA-256's block, in bytes.
const BLOCK: usize = 64;

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// One SHA-256 block into `state`.
fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    sha2::block_api::compress256(state, std::slice::from_ref(block));
}

/// SHA-256 of `bytes` (PKCE's `S256`, RFC 7636 §4.2).
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut context = Context::with_state(IV, 0);
    context.update(bytes);
    *context.finish()
}

/// An HMAC-SHA-256 key: the SHA-256 states after the key's inner and outer
/// padded blocks. Zeroized on drop; `Debug` prints nothing of it.
#[derive(Clone)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey([redacted])")
    }
}

impl HmacKey {
    /// The key `key` (a key longer than a block is hashed first, RFC 2104
    /// §2).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let mut hashed = Context::with_state(IV, 0);
            hashed.update(key);
            block[..32].copy_from_slice(&*hashed.finish());
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let padded = |pad: u8| {
            let mut padded = Zeroizing::new(*block);
            padded.iter_mut().for_each(|byte| *byte ^= pad);
            let mut state = IV;
            compress(&mut state, &padded);
            state
        };
        Self {
            inner: padded(0x36),
            outer: padded(0x5c),
        }
    }

    /// A context to feed the message to.
    pub(crate) fn context(&self) -> HmacContext<'_> {
        HmacContext {
            key: self,
            inner: Context::with_state(self.inner, BLOCK as u64),
        }
    }

    /// The tag of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut context = self.context();
        context.update(message);
        context.sign()
    }
}

/// An HMAC being computed: the inner hash, fed with
/// [`update`](Self::update), then [`sign`](Self::sign).
pub(crate) struct HmacContext<'k> {
    key: &'k HmacKey,
    inner: Context,
}

impl HmacContext<'_> {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    /// The tag.
    pub(crate) fn sign(self) -> [u8; 32] {
        let inner = self.inner.finish();
        let mut outer = Context::with_state(self.key.outer, BLOCK as u64);
        outer.update(&*inner);
        *outer.finish()
    }
}

/// A SHA-256 computation from a given state: the bytes of the unfinished
/// block buffered (zeroized on drop, like the state).
struct Context {
    state: [u32; 8],
    buffer: [u8; BLOCK],
    buffered: usize,
    /// Bytes hashed so far, the buffered ones and those of the state's
    /// blocks included.
    length: u64,
}

impl Drop for Context {
    fn drop(&mut self) {
        self.state.zeroize();
        self.buffer.zeroize();
    }
}

impl Context {
    /// From `state`, which has hashed `length` bytes (whole blocks).
    fn with_state(state: [u32; 8], length: u64) -> Self {
        Self {
            state,
            buffer: [0; BLOCK],
            buffered: 0,
            length,
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        while !bytes.is_empty() {
            let room = BLOCK - self.buffered;
            let take = room.min(bytes.len());
            let (now, rest) = bytes.split_at(take);
            self.buffer[self.buffered..self.buffered + take].copy_from_slice(now);
            self.buffered += take;
            bytes = rest;
            if self.buffered == BLOCK {
                compress(&mut self.state, &self.buffer);
                self.buffered = 0;
            }
        }
    }

    /// The digest: the padding (a one bit, zeros, the length in bits as a
    /// big-endian `u64`, FIPS 180-4 §5.1.1) and the last block or two.
    fn finish(mut self) -> Zeroizing<[u8; 32]> {
        let bits = self.length.wrapping_mul(8);
        let at = self.buffered;
        self.buffer[at] = 0x80;
        self.buffer[at + 1..].fill(0);
        if at + 1 > BLOCK - 8 {
            compress(&mut self.state, &self.buffer);
            self.buffer.fill(0);
        }
        self.buffer[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        compress(&mut self.state, &self.buffer);
        let mut digest = Zeroizing::new([0u8; 32]);
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tag for tag `ring`'s HMAC-SHA-256, for keys and messages of every
    /// length around the block's edges (the padding's one or two blocks,
    /// a key hashed first), fed whole or in pieces.
    #[test]
    fn tags_are_rings_for_every_length_and_split() {
        for key_len in [0, 1, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 1) as u8).collect();
            let theirs = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
            let ours = HmacKey::new(&key);
            for len in (0..=200).chain([511, 512, 513, 1000]) {
                let message: Vec<u8> = (0..len).map(|i| (i * 13 + 5) as u8).collect();
                let expected = ring::hmac::sign(&theirs, &message);
                assert_eq!(
                    &ours.sign(&message)[..],
                    expected.as_ref(),
                    "{key_len} {len}"
                );
                let mut context = ours.context();
                let (a, b) = message.split_at(len / 3);
                context.update(a);
                context.update(&[]);
                context.update(b);
                assert_eq!(
                    &context.sign()[..],
                    expected.as_ref(),
                    "{key_len} {len} split"
                );
            }
        }
    }

    /// RFC 4231 test case 2 (a key shorter than the block).
    #[test]
    fn rfc_4231_case_2() {
        let tag = HmacKey::new(b"Jefe").sign(b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// SHA-256 as `ring` computes it, around the padding's edges.
    #[test]
    fn sha256_is_rings() {
        for len in (0..=200).chain([1000]) {
            let message: Vec<u8> = (0..len).map(|i| (i * 11 + 3) as u8).collect();
            let expected = ring::digest::digest(&ring::digest::SHA256, &message);
            assert_eq!(&sha256(&message)[..], expected.as_ref(), "{len}");
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        assert_eq!(format!("{:?}", HmacKey::new(b"key")), "HmacKey([redacted])");
    }
}
