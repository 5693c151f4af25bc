//! The server key ring: the master keys behind every credential hash,
//! signature and derived value, with rotation and retirement.
//!
//! Each master key yields three independent HMAC-SHA-256 subkeys, one per
//! purpose (hash, sign, derive), so a value computed for one purpose can never
//! stand in for another. Every MAC input is framed unambiguously: the domain
//! and then each part, each preceded by its length, in one byte below 255,
//! else as `0xFF` and a big-endian `u32` (a prefix-free code, so short inputs
//! such as a credential's hash fit one SHA-256 block).

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::credentials::hmac::HmacKey;
use crate::credentials::secret::Redacted;
use crate::model::random::{RandomError, RandomSource, random_array};

/// The fewest secret bytes a [`ServerKey`] accepts.
const MIN_KEY_LEN: usize = 32;

/// Labels of the three subkeys derived from each master key.
const HASH_LABEL: &[u8] = b"oauth-connect/v1/hash";
const SIGN_LABEL: &[u8] = b"oauth-connect/v1/sign";
const DERIVE_LABEL: &[u8] = b"oauth-connect/v1/derive";

/// Why a key or key ring operation was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    /// The secret given for a server key is shorter than the minimum.
    #[error(
        "server key too short: use at least {min} bytes from a cryptographically secure generator"
    )]
    KeyTooShort {
        /// The minimum number of secret bytes.
        min: usize,
    },
    /// The key ring already holds a key with this id.
    #[error("the key ring already holds a key with id {0}: give every server key a distinct id")]
    DuplicateKeyId(u8),
    /// The key ring holds no key with this id.
    #[error("the key ring holds no key with id {0}: add it with `KeyRing::with_key` first")]
    UnknownKeyId(u8),
    /// The key is the current key, which cannot be retired.
    #[error(
        "key {0} is the current key and cannot be retired: make another key current with `KeyRing::set_current` first"
    )]
    CurrentKey(u8),
    /// The random source failed while generating a key.
    #[error(
        "the random number generator failed while generating a server key; retry or check the system's entropy source"
    )]
    Random,
}

impl From<RandomError> for KeyRingError {
    fn from(_: RandomError) -> Self {
        Self::Random
    }
}

/// One server master key: an id and at least 32 secret bytes.
///
/// The secret is zeroized when the key is dropped, and `Debug` prints only the
/// id.
///
/// # Security
///
/// Whoever holds a master key can mint hashes that match stored credentials
/// and forge signatures. Load it from a secret store, never from source code,
/// and generate it with a CSPRNG ([`ServerKey::generate`]).
#[derive(Debug)]
pub struct ServerKey {
    id: u8,
    secret: Redacted<Zeroizing<Vec<u8>>>,
}

impl ServerKey {
    /// A key with the given id and secret bytes (copied).
    ///
    /// # Errors
    ///
    /// [`KeyRingError::KeyTooShort`] when `secret` is shorter than 32 bytes.
    ///
    /// # Security
    ///
    /// The secret must be uniformly random; a password or other low-entropy
    /// value makes every credential hash open to offline guessing.
    pub fn new(id: u8, secret: &[u8]) -> Result<Self, KeyRingError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyRingError::KeyTooShort { min: MIN_KEY_LEN });
        }
        Ok(Self {
            id,
            secret: Redacted::new(Zeroizing::new(secret.to_vec())),
        })
    }

    /// A fresh key of 32 bytes drawn from `rng`.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::Random`] when the random source fails.
    ///
    /// # Security
    ///
    /// `rng` must be a CSPRNG such as [`crate::model::random::SystemRandom`].
    pub fn generate(id: u8, rng: &dyn RandomSource) -> Result<Self, KeyRingError> {
        let secret = Zeroizing::new(random_array::<MIN_KEY_LEN>(rng)?);
        Ok(Self {
            id,
            secret: Redacted::new(Zeroizing::new(secret.to_vec())),
        })
    }

    /// The key's id, which every credential made under it carries.
    pub fn id(&self) -> u8 {
        self.id
    }
}

/// The subkeys derived from one master key.
struct Entry {
    id: u8,
    hash: HmacKey,
    sign: HmacKey,
    derive: HmacKey,
}

impl Entry {
    fn new(key: &ServerKey) -> Self {
        let master = HmacKey::new(&key.secret[..]);
        let subkey = |label: &[u8]| HmacKey::new(&*Zeroizing::new(master.sign(label)));
        Self {
            id: key.id,
            hash: subkey(HASH_LABEL),
            sign: subkey(SIGN_LABEL),
            derive: subkey(DERIVE_LABEL),
        }
    }
}

/// The server's master keys, by id.
///
/// One key is current: it hashes, signs and derives everything new. The others
/// still verify and hash credentials made under them until they are removed
/// with [`KeyRing::retire`]. Rotation is: add a new key with
/// [`KeyRing::with_key`], make it current with [`KeyRing::set_current`], and
/// retire the old key once nothing made under it is still needed. A refresh
/// family moves to the current key at its next refresh (its successors are
/// made under it); client secrets, admin keys, publishable keys and scoped
/// keys stay on the key they were made under until they are rotated or
/// reissued.
///
/// `Debug` prints only the key ids.
///
/// # Security
///
/// The ring keeps only the derived subkeys, never the master secrets; the
/// subkeys (the SHA-256 states of their HMAC keys) are zeroized on drop.
pub struct KeyRing {
    entries: Vec<Entry>,
    current: u8,
}

impl KeyRing {
    /// A ring holding one key, which is current.
    pub fn new(current: ServerKey) -> Self {
        Self {
            current: current.id,
            entries: vec![Entry::new(&current)],
        }
    }

    /// A ring holding one freshly generated key with id 1.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::Random`] when the random source fails.
    ///
    /// # Security
    ///
    /// `rng` must be a CSPRNG. A generated ring lives only in memory: every
    /// credential made under it becomes unverifiable when the process ends.
    pub fn generate(rng: &dyn RandomSource) -> Result<Self, KeyRingError> {
        Ok(Self::new(ServerKey::generate(1, rng)?))
    }

    /// Adds an older key that still verifies and hashes, but is not current.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::DuplicateKeyId`] when the ring already holds a key with
    /// the same id.
    pub fn with_key(mut self, key: ServerKey) -> Result<Self, KeyRingError> {
        if self.contains(key.id) {
            return Err(KeyRingError::DuplicateKeyId(key.id));
        }
        self.entries.push(Entry::new(&key));
        Ok(self)
    }

    /// Makes the key with this id current.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::UnknownKeyId`] when the ring holds no such key.
    pub fn set_current(&mut self, id: u8) -> Result<(), KeyRingError> {
        if !self.contains(id) {
            return Err(KeyRingError::UnknownKeyId(id));
        }
        self.current = id;
        Ok(())
    }

    /// Removes the key with this id.
    ///
    /// # Errors
    ///
    /// [`KeyRingError::CurrentKey`] when it is the current key,
    /// [`KeyRingError::UnknownKeyId`] when the ring holds no such key.
    ///
    /// # Security
    ///
    /// Every credential made under a retired key stops verifying at once.
    pub fn retire(&mut self, id: u8) -> Result<(), KeyRingError> {
        if id == self.current {
            return Err(KeyRingError::CurrentKey(id));
        }
        let before = self.entries.len();
        self.entries.retain(|entry| entry.id != id);
        if self.entries.len() == before {
            return Err(KeyRingError::UnknownKeyId(id));
        }
        Ok(())
    }

    /// The id of the current key.
    pub fn current_id(&self) -> u8 {
        self.current
    }

    /// The ids of the keys in the ring, the current one among them.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.entries.iter().map(|entry| entry.id)
    }

    /// Whether the ring holds a key with this id.
    pub fn contains(&self, id: u8) -> bool {
        self.entry(id).is_some()
    }

    fn entry(&self, id: u8) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.id == id)
    }

    /// The credential hash of `parts` under the hash subkey of `key_id`.
    ///
    /// `None` when the key is unknown (or retired) or a part exceeds 4 GiB.
    pub(crate) fn hash(&self, key_id: u8, domain: &str, parts: &[&[u8]]) -> Option<CredentialHash> {
        let entry = self.entry(key_id)?;
        mac(&entry.hash, domain, parts).map(CredentialHash)
    }

    /// A signature of `parts` under the sign subkey of `key_id`.
    ///
    /// `None` when the key is unknown (or retired) or a part exceeds 4 GiB.
    pub(crate) fn sign(&self, key_id: u8, domain: &str, parts: &[&[u8]]) -> Option<[u8; 32]> {
        let entry = self.entry(key_id)?;
        mac(&entry.sign, domain, parts)
    }

    /// Whether `tag` is the signature of `parts` under the sign subkey of
    /// `key_id`, compared in constant time.
    pub(crate) fn verify(&self, key_id: u8, domain: &str, parts: &[&[u8]], tag: &[u8]) -> bool {
        let Some(entry) = self.entry(key_id) else {
            return false;
        };
        // The tag over the framed input, streamed (no copy of the message),
        // compared in constant time.
        mac(&entry.sign, domain, parts).is_some_and(|expected| tags_equal(&expected, tag))
    }

    /// A value derived from `parts` under the derive subkey of `key_id`.
    ///
    /// `None` when the key is unknown (or retired) or a part exceeds 4 GiB.
    pub(crate) fn derive(&self, key_id: u8, domain: &str, parts: &[&[u8]]) -> Option<[u8; 32]> {
        let entry = self.entry(key_id)?;
        mac(&entry.derive, domain, parts)
    }
}

/// Written by hand: the entries hold `ring`'s derived HMAC keys (which do
/// not print their bytes, but say nothing useful either); this shows the
/// key ids only.
impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Ids<'a>(&'a [Entry]);
        impl fmt::Debug for Ids<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|entry| entry.id))
                    .finish()
            }
        }
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("key_ids", &Ids(&self.entries))
            .field("secrets", &format_args!("[redacted]"))
            .finish()
    }
}

/// Feeds the unambiguous encoding of (`domain`, `parts`) to `sink`: each
/// element preceded by its length, as one byte when below 255, else as
/// `0xFF` then a big-endian `u32`. `None` when an element is longer than
/// `u32::MAX` bytes.
fn frame(domain: &str, parts: &[&[u8]], mut sink: impl FnMut(&[u8])) -> Option<()> {
    let mut element = |bytes: &[u8]| -> Option<()> {
        match u8::try_from(bytes.len()) {
            Ok(len) if len < u8::MAX => sink(&[len]),
            _ => {
                let len = u32::try_from(bytes.len()).ok()?;
                sink(&[u8::MAX]);
                sink(&len.to_be_bytes());
            }
        }
        sink(bytes);
        Some(())
    };
    element(domain.as_bytes())?;
    for part in parts {
        element(part)?;
    }
    Some(())
}

/// Whether `tag` is `expected`, in constant time: compared as four `u64`
/// words with `subtle` (a byte at a time costs eight times the barriers).
fn tags_equal(expected: &[u8; 32], tag: &[u8]) -> bool {
    let Ok(tag) = <&[u8; 32]>::try_from(tag) else {
        return false;
    };
    let word = |bytes: &[u8; 32], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    };
    let equal = (0..4).fold(subtle::Choice::from(1), |acc, i| {
        acc & word(expected, i).ct_eq(&word(tag, i))
    });
    bool::from(equal)
}

/// HMAC-SHA-256 of the framed input under `key`, streamed (the frame's
/// pieces go into the SHA-256 block buffer; no copy of the message).
fn mac(key: &HmacKey, domain: &str, parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut context = key.context();
    frame(domain, parts, |bytes| context.update(bytes))?;
    Some(context.sign())
}

/// What storage sees of a credential: its HMAC-SHA-256 under the server's hash
/// subkey. 32 bytes.
///
/// Not a secret in itself (it cannot be turned back into the credential
/// without the key ring), so `PartialEq` is the ordinary one; it also
/// implements [`ConstantTimeEq`] for callers that want it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CredentialHash([u8; 32]);

/// Feeds the hasher the first 8 bytes of the MAC as one `u64`: they are
/// already uniformly distributed and unpredictable without the server key
/// (nobody can choose the hash of a credential), so hashing all 32 bytes
/// again would buy nothing. With the memory store's hasher lookups then cost no
/// hashing at all.
impl std::hash::Hash for CredentialHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(head));
    }
}

/// A map keyed by credential hashes, with [`CredentialHasher`].
pub(crate) type CredentialHashMap<V> =
    std::collections::HashMap<CredentialHash, V, std::hash::BuildHasherDefault<CredentialHasher>>;

/// The hasher of [`CredentialHashMap`]: passes the `u64` that
/// [`CredentialHash`] feeds it through unchanged.
///
/// # Security
///
/// Only for keys that are MACs under the server key: an attacker cannot
/// choose them, so cannot make them collide (no hash flooding). Any other
/// input is folded with FNV-1a, which is not flood-resistant.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CredentialHasher(u64);

impl std::hash::Hasher for CredentialHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(PRIME);
        }
        self.0 = hash;
    }

    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

impl CredentialHash {
    /// A hash from its 32 bytes, e.g. as read back from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl ConstantTimeEq for CredentialHash {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        subtle::Choice::from(u8::from(tags_equal(&self.0, &other.0)))
    }
}

/// Written by hand, to be short: the first 4 bytes in hex are enough to
/// tell hashes apart in a log (a hash is not a secret, the credential is).
impl fmt::Debug for CredentialHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = self.0.get(..4).unwrap_or_default();
        write!(f, "CredentialHash({}…)", hex(head))
    }
}

/// Lowercase hexadecimal of `bytes`.
fn hex(bytes: &[u8]) -> String {
    let digit = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(digit(byte >> 4));
        out.push(digit(byte & 0x0f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::random::SystemRandom;

    #[derive(Debug)]
    struct FailingRandom;

    impl RandomSource for FailingRandom {
        fn fill(&self, _dest: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }

    fn key(id: u8, byte: u8) -> ServerKey {
        ServerKey::new(id, &[byte; 32]).unwrap()
    }

    #[test]
    fn server_key_new_rejects_31_bytes() {
        assert_eq!(
            ServerKey::new(1, &[7; 31]).unwrap_err(),
            KeyRingError::KeyTooShort { min: 32 }
        );
        assert!(ServerKey::new(1, &[7; 32]).is_ok());
        assert!(ServerKey::new(1, &[7; 64]).is_ok());
    }

    #[test]
    fn server_key_generate_maps_random_failure() {
        assert_eq!(
            ServerKey::generate(1, &FailingRandom).unwrap_err(),
            KeyRingError::Random
        );
        assert_eq!(
            KeyRing::generate(&FailingRandom).unwrap_err(),
            KeyRingError::Random
        );
    }

    #[test]
    fn generated_ring_has_current_key_one() {
        let ring = KeyRing::generate(&SystemRandom::new()).unwrap();
        assert_eq!(ring.current_id(), 1);
        assert!(ring.contains(1));
        assert!(!ring.contains(2));
    }

    #[test]
    fn generated_keys_differ() {
        let rng = SystemRandom::new();
        let a = KeyRing::generate(&rng).unwrap();
        let b = KeyRing::generate(&rng).unwrap();
        assert_ne!(a.hash(1, "d", &[b"x"]), b.hash(1, "d", &[b"x"]));
    }

    #[test]
    fn with_key_rejects_duplicate_id() {
        let err = KeyRing::new(key(1, 1)).with_key(key(1, 2)).unwrap_err();
        assert_eq!(err, KeyRingError::DuplicateKeyId(1));
    }

    #[test]
    fn set_current_switches_and_rejects_unknown_id() {
        let mut ring = KeyRing::new(key(1, 1)).with_key(key(2, 2)).unwrap();
        assert_eq!(ring.current_id(), 1);
        ring.set_current(2).unwrap();
        assert_eq!(ring.current_id(), 2);
        assert_eq!(ring.set_current(5), Err(KeyRingError::UnknownKeyId(5)));
        assert_eq!(ring.current_id(), 2);
    }

    #[test]
    fn retire_refuses_current_and_unknown_keys() {
        let mut ring = KeyRing::new(key(1, 1)).with_key(key(2, 2)).unwrap();
        assert_eq!(ring.retire(1), Err(KeyRingError::CurrentKey(1)));
        assert_eq!(ring.retire(7), Err(KeyRingError::UnknownKeyId(7)));
        ring.retire(2).unwrap();
        assert!(!ring.contains(2));
        assert!(ring.contains(1));
    }

    #[test]
    fn retired_key_no_longer_hashes_signs_or_verifies() {
        let mut ring = KeyRing::new(key(1, 1)).with_key(key(2, 2)).unwrap();
        let tag = ring.sign(2, "d", &[b"x"]).unwrap();
        assert!(ring.hash(2, "d", &[b"x"]).is_some());
        assert!(ring.verify(2, "d", &[b"x"], &tag));
        ring.retire(2).unwrap();
        assert_eq!(ring.hash(2, "d", &[b"x"]), None);
        assert_eq!(ring.sign(2, "d", &[b"x"]), None);
        assert_eq!(ring.derive(2, "d", &[b"x"]), None);
        assert!(!ring.verify(2, "d", &[b"x"], &tag));
    }

    #[test]
    fn hash_is_stable_and_depends_on_key_domain_and_parts() {
        let ring = KeyRing::new(key(1, 1)).with_key(key(2, 2)).unwrap();
        let h = ring.hash(1, "d", &[b"x"]).unwrap();
        assert_eq!(Some(h), ring.hash(1, "d", &[b"x"]));
        assert_eq!(Some(h), KeyRing::new(key(1, 1)).hash(1, "d", &[b"x"]));
        assert_ne!(Some(h), ring.hash(2, "d", &[b"x"]));
        assert_ne!(Some(h), ring.hash(1, "e", &[b"x"]));
        assert_ne!(Some(h), ring.hash(1, "d", &[b"y"]));
    }

    #[test]
    fn length_prefixing_separates_ab_c_from_a_bc() {
        let ring = KeyRing::new(key(1, 1));
        let ab_c: &[&[u8]] = &[b"ab", b"c"];
        let a_bc: &[&[u8]] = &[b"a", b"bc"];
        assert_ne!(ring.hash(1, "d", ab_c), ring.hash(1, "d", a_bc));
        assert_ne!(ring.sign(1, "d", ab_c), ring.sign(1, "d", a_bc));
        assert_ne!(ring.derive(1, "d", ab_c), ring.derive(1, "d", a_bc));
        assert_ne!(ring.hash(1, "d", &[b"abc"]), ring.hash(1, "d", ab_c));
        // The domain is framed too: moving bytes between domain and part changes the MAC.
        assert_ne!(ring.hash(1, "da", &[b"b"]), ring.hash(1, "d", &[b"ab"]));
        assert_ne!(ring.hash(1, "d", &[]), ring.hash(1, "d", &[b""]));
    }

    #[test]
    fn frame_is_a_prefix_free_length_code() {
        let framed = |domain: &str, parts: &[&[u8]]| {
            let mut out = Vec::new();
            frame(domain, parts, |bytes| out.extend_from_slice(bytes)).unwrap();
            out
        };
        assert_eq!(framed("d", &[b"ab", b""]), b"\x01d\x02ab\x00");
        // 254 bytes still take one length byte; 255 and more take 0xFF and a u32.
        let long = vec![b'x'; 254];
        assert_eq!(&framed("d", &[&long])[2..3], &[254]);
        let longer = vec![b'x'; 255];
        let out = framed("d", &[&longer]);
        assert_eq!(&out[2..7], &[0xFF, 0, 0, 0, 255]);
        assert_eq!(out.len(), 2 + 5 + 255);
        // The escape cannot be confused with a short element: 0xFF is never
        // a one-byte length.
        let ring = KeyRing::new(key(1, 1));
        assert_ne!(
            ring.hash(1, "d", &[&longer]),
            ring.hash(1, "d", &[&[0, 0, 0, 255], &longer[..]])
        );
    }

    #[test]
    fn tags_compare_equal_only_when_every_byte_matches() {
        let tag = [5u8; 32];
        assert!(tags_equal(&tag, &tag));
        for i in 0..32 {
            let mut other = tag;
            other[i] ^= 0x80;
            assert!(!tags_equal(&tag, &other), "byte {i}");
        }
        assert!(!tags_equal(&tag, &tag[..31]));
        assert!(!tags_equal(&tag, &[5u8; 33]));
        let a = CredentialHash::from_bytes(tag);
        let mut flipped = tag;
        flipped[31] = 0;
        assert!(bool::from(a.ct_eq(&a)));
        assert!(!bool::from(a.ct_eq(&CredentialHash::from_bytes(flipped))));
    }

    #[test]
    fn short_and_long_inputs_are_the_hmac_of_their_frame() {
        let ring = KeyRing::new(key(1, 1));
        let expected = |domain: &str, parts: &[&[u8]]| {
            let mut message = Vec::new();
            frame(domain, parts, |bytes| message.extend_from_slice(bytes)).unwrap();
            let Entry { hash, .. } = Entry::new(&key(1, 1));
            CredentialHash::from_bytes(hash.sign(&message))
        };
        // One block, two, and many.
        for size in [0, 33, 182, 192, 1000] {
            let part = vec![7u8; size];
            let parts: &[&[u8]] = &[b"p", &part];
            assert_eq!(
                ring.hash(1, "d", parts),
                Some(expected("d", parts)),
                "{size}"
            );
        }
    }

    /// The construction, spelled out with `ring`'s HMAC directly: each
    /// subkey is the master key's tag of its label, and a hash, signature or
    /// derived value is the subkey's tag of the framed input (hashes stored
    /// by an earlier version match only while this holds).
    #[test]
    fn hashes_signatures_and_derived_values_are_those_of_rings_hmac() {
        use ring::hmac;
        let secret = [3u8; 40];
        let master = hmac::Key::new(hmac::HMAC_SHA256, &secret);
        let subkey =
            |label: &[u8]| hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&master, label).as_ref());
        let mut message = Vec::new();
        frame("domain", &[b"ab", &[9u8; 33]], |bytes| {
            message.extend_from_slice(bytes);
        })
        .unwrap();
        let tag = |label: &[u8]| {
            <[u8; 32]>::try_from(hmac::sign(&subkey(label), &message).as_ref()).unwrap()
        };
        let ring = KeyRing::new(ServerKey::new(4, &secret).unwrap());
        let parts: &[&[u8]] = &[b"ab", &[9u8; 33]];
        assert_eq!(
            ring.hash(4, "domain", parts).unwrap().as_bytes(),
            &tag(HASH_LABEL)
        );
        assert_eq!(ring.sign(4, "domain", parts).unwrap(), tag(SIGN_LABEL));
        assert_eq!(ring.derive(4, "domain", parts).unwrap(), tag(DERIVE_LABEL));
    }

    #[test]
    fn hash_sign_and_derive_use_independent_subkeys() {
        let ring = KeyRing::new(key(1, 1));
        let hash = *ring.hash(1, "d", &[b"x"]).unwrap().as_bytes();
        let sign = ring.sign(1, "d", &[b"x"]).unwrap();
        let derive = ring.derive(1, "d", &[b"x"]).unwrap();
        assert_ne!(hash, sign);
        assert_ne!(hash, derive);
        assert_ne!(sign, derive);
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_altered_ones() {
        let ring = KeyRing::new(key(1, 1)).with_key(key(2, 2)).unwrap();
        let tag = ring.sign(1, "d", &[b"ab", b"c"]).unwrap();
        assert!(ring.verify(1, "d", &[b"ab", b"c"], &tag));
        assert!(!ring.verify(1, "d", &[b"a", b"bc"], &tag));
        assert!(!ring.verify(1, "e", &[b"ab", b"c"], &tag));
        assert!(!ring.verify(2, "d", &[b"ab", b"c"], &tag));
        assert!(!ring.verify(1, "d", &[b"ab", b"c"], &tag[..31]));
        let mut altered = tag;
        altered[0] ^= 1;
        assert!(!ring.verify(1, "d", &[b"ab", b"c"], &altered));
    }

    #[test]
    fn derive_is_deterministic_and_depends_on_parts() {
        let ring = KeyRing::new(key(1, 1));
        let a = ring.derive(1, "d", &[b"x"]).unwrap();
        assert_eq!(Some(a), ring.derive(1, "d", &[b"x"]));
        assert_ne!(Some(a), ring.derive(1, "d", &[b"y"]));
    }

    #[test]
    fn credential_hash_accessors_hex_and_debug() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x1a;
        bytes[1] = 0x2b;
        bytes[2] = 0x3c;
        bytes[3] = 0x4d;
        bytes[31] = 0xff;
        let h = CredentialHash::from_bytes(bytes);
        assert_eq!(h.as_bytes(), &bytes);
        assert_eq!(h.to_hex().len(), 64);
        assert!(h.to_hex().starts_with("1a2b3c4d00"));
        assert!(h.to_hex().ends_with("ff"));
        assert_eq!(format!("{h:?}"), "CredentialHash(1a2b3c4d…)");
        assert!(bool::from(h.ct_eq(&CredentialHash::from_bytes(bytes))));
        assert!(!bool::from(h.ct_eq(&CredentialHash::from_bytes([0; 32]))));
    }

    #[test]
    fn error_messages_are_actionable() {
        assert!(
            KeyRingError::KeyTooShort { min: 32 }
                .to_string()
                .contains("32")
        );
        assert!(
            KeyRingError::CurrentKey(4)
                .to_string()
                .contains("set_current")
        );
        assert!(
            KeyRingError::UnknownKeyId(4)
                .to_string()
                .contains("with_key")
        );
    }
}
