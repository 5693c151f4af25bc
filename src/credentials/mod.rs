//! The credentials the server issues: client secrets, codes, tokens and keys.
//!
//! Every credential has the form `{prefix}{body}{checksum}`:
//!
//! * `prefix` names the kind, e.g. `oc_secret_` (configurable through
//!   [`CredentialPrefixes`]);
//! * `body` is 33 bytes in base64url without padding (44 characters): the id
//!   of the server key that hashes it, then 32 random bytes;
//! * `checksum` is the CRC-32 (IEEE 802.3, as zlib and PNG compute it) of
//!   `prefix` ++ `body`, 4 bytes big-endian, in base64url without padding
//!   (6 characters).
//!
//! The checksum lets [`Credential::parse`] turn away mistyped or truncated
//! credentials without a storage lookup (a CRC-32 catches every change of one
//! character, and of any run of up to four); secret scanners use it to tell a
//! real credential from look-alike text. It is not a MAC: anyone can compute
//! it. Authenticity comes from looking up [`Credential::hash`] in storage.
//!
//! What storage keeps is [`Credential::hash`]: HMAC-SHA-256 under the key
//! ring's hash subkey of the kind's domain, the prefix and the 33 decoded
//! body bytes, framed so that with the default prefixes the MAC input fits
//! one SHA-256 block.

pub(crate) mod keyring;
#[cfg(test)]
mod redaction_tests;
pub(crate) mod scoped_key;
pub(crate) mod secret;

pub use secret::{Redacted, RedactedUrl, Secret};

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::credentials::keyring::{CredentialHash, KeyRing};
use crate::model::random::{RandomError, RandomSource};

/// Random bytes in every credential body.
pub(crate) const RANDOM_LEN: usize = 32;
/// Decoded bytes of the body: the key id, then the random bytes.
pub(crate) const RAW_LEN: usize = 1 + RANDOM_LEN;
/// Base64url characters of the body: 1 key id byte and the random bytes.
const BODY_LEN: usize = 44;
/// Bytes of the checksum (a CRC-32).
pub(crate) const CHECKSUM_BYTES: usize = 4;
/// Base64url characters of the checksum.
pub(crate) const CHECKSUM_LEN: usize = 6;
/// Longest input [`Credential::parse`] looks at.
pub(crate) const MAX_PRESENTED_LEN: usize = 512;

mod sealed {
    /// Restricts [`super::CredentialKind`] to the kinds in this module.
    pub trait Sealed {}
}

/// A kind of credential: its name, MAC domains and prefix.
///
/// Sealed: the kinds are the markers in [`kind`].
pub trait CredentialKind: sealed::Sealed + Send + Sync + 'static {
    /// The kind's name in messages, e.g. `"client secret"`.
    const NAME: &'static str;
    /// The MAC domain of the kind's hashes, e.g. `"client_secret"` (short,
    /// so that with the default prefix a hash is two SHA-256 compressions).
    const DOMAIN: &'static str;
    /// The MAC domain of credentials of this kind derived as the successor
    /// of a refresh token.
    const SUCCESSOR_DOMAIN: &'static str;
    /// The kind's configured prefix.
    fn prefix(prefixes: &CredentialPrefixes) -> &str;
}

/// Marker types naming each kind of credential; they have no values.
pub mod kind {
    use super::{CredentialKind, CredentialPrefixes, sealed::Sealed};

    /// A confidential client's secret.
    #[derive(Debug)]
    pub enum ClientSecret {}
    /// An authorization code, exchanged once for tokens.
    #[derive(Debug)]
    pub enum AuthorizationCode {}
    /// An access token.
    #[derive(Debug)]
    pub enum AccessToken {}
    /// A refresh token.
    #[derive(Debug)]
    pub enum RefreshToken {}
    /// A token that opens a hosted Connect session.
    #[derive(Debug)]
    pub enum ConnectToken {}
    /// An administrator's API key.
    #[derive(Debug)]
    pub enum AdminKey {}
    /// A publishable key, safe to embed in a client application.
    #[derive(Debug)]
    pub enum PublishableKey {}

    impl Sealed for ClientSecret {}
    impl CredentialKind for ClientSecret {
        const NAME: &'static str = "client secret";
        const DOMAIN: &'static str = "client_secret";
        const SUCCESSOR_DOMAIN: &'static str = "secret/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.client_secret()
        }
    }

    impl Sealed for AuthorizationCode {}
    impl CredentialKind for AuthorizationCode {
        const NAME: &'static str = "authorization code";
        const DOMAIN: &'static str = "auth_code";
        const SUCCESSOR_DOMAIN: &'static str = "code/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.authorization_code()
        }
    }

    impl Sealed for AccessToken {}
    impl CredentialKind for AccessToken {
        const NAME: &'static str = "access token";
        const DOMAIN: &'static str = "access_token";
        const SUCCESSOR_DOMAIN: &'static str = "at/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.access_token()
        }
    }

    impl Sealed for RefreshToken {}
    impl CredentialKind for RefreshToken {
        const NAME: &'static str = "refresh token";
        const DOMAIN: &'static str = "refresh_token";
        const SUCCESSOR_DOMAIN: &'static str = "rt/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.refresh_token()
        }
    }

    impl Sealed for ConnectToken {}
    impl CredentialKind for ConnectToken {
        const NAME: &'static str = "connect token";
        const DOMAIN: &'static str = "connect_token";
        const SUCCESSOR_DOMAIN: &'static str = "ct/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.connect_token()
        }
    }

    impl Sealed for AdminKey {}
    impl CredentialKind for AdminKey {
        const NAME: &'static str = "admin key";
        const DOMAIN: &'static str = "admin_key";
        const SUCCESSOR_DOMAIN: &'static str = "admin/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.admin_key()
        }
    }

    impl Sealed for PublishableKey {}
    impl CredentialKind for PublishableKey {
        const NAME: &'static str = "publishable key";
        const DOMAIN: &'static str = "publishable";
        const SUCCESSOR_DOMAIN: &'static str = "pk/next";
        fn prefix(prefixes: &CredentialPrefixes) -> &str {
            prefixes.publishable_key()
        }
    }
}

/// A confidential client's secret.
pub type ClientSecret = Credential<kind::ClientSecret>;
/// An authorization code.
pub type AuthorizationCode = Credential<kind::AuthorizationCode>;
/// An access token.
pub type AccessToken = Credential<kind::AccessToken>;
/// A refresh token.
pub type RefreshToken = Credential<kind::RefreshToken>;
/// A token that opens a hosted Connect session.
pub type ConnectToken = Credential<kind::ConnectToken>;
/// An administrator's API key.
pub type AdminKey = Credential<kind::AdminKey>;
/// A publishable key.
pub type PublishableKey = Credential<kind::PublishableKey>;

/// Why a presented credential was turned away by [`Credential::parse`].
///
/// No variant carries or prints any part of the presented text.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The input is longer than any credential.
    #[error("credential too long: at most 512 bytes are accepted")]
    TooLong,
    /// The input does not start with the prefix of the expected kind.
    #[error(
        "not a valid {expected}: wrong prefix; check that the right kind of credential was sent"
    )]
    WrongPrefix {
        /// The name of the expected kind, e.g. `"client secret"`.
        expected: &'static str,
    },
    /// Wrong length, or a character outside the base64url alphabet.
    #[error("malformed credential: wrong length or a character outside the base64url alphabet")]
    Malformed,
    /// The checksum does not match the rest of the credential.
    #[error("checksum mismatch: the credential was mistyped or altered")]
    BadChecksum,
}

/// A credential of kind `K`.
///
/// The text is zeroized on drop. `Debug` prints only the kind; there is no
/// `Display` and no serialization, so the text leaves only through
/// [`Credential::expose_secret`]. Equality is constant-time.
pub struct Credential<K: CredentialKind> {
    value: Secret,
    key_id: u8,
    _kind: PhantomData<fn() -> K>,
}

impl<K: CredentialKind> Credential<K> {
    /// A fresh credential: 32 bytes from `rng`, under the ring's current key.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the random source fails.
    ///
    /// # Security
    ///
    /// `rng` must be a CSPRNG; the 32 random bytes are all that makes the
    /// credential unguessable.
    #[cfg(test)]
    pub(crate) fn generate(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        rng: &dyn RandomSource,
    ) -> Result<Self, RandomError> {
        let mut random = Zeroizing::new([0u8; RANDOM_LEN]);
        rng.fill(random.as_mut_slice())?;
        Ok(Self::assemble(
            K::prefix(prefixes),
            keys.current_id(),
            &random,
        ))
    }

    /// A fresh credential (as [`Credential::generate`]) together with the hash
    /// that storage keeps.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the random source fails.
    ///
    /// # Security
    ///
    /// Store only the hash; hand the credential to its holder once.
    pub(crate) fn generate_hashed(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        rng: &dyn RandomSource,
    ) -> Result<(Self, CredentialHash), RandomError> {
        let mut random = Zeroizing::new([0u8; RANDOM_LEN]);
        rng.fill(random.as_mut_slice())?;
        Self::from_random(prefixes, keys, &random)
    }

    /// A credential made of `random` (32 bytes the caller drew from the
    /// server's CSPRNG, e.g. several credentials' worth in one draw) under
    /// the ring's current key, with the hash that storage keeps.
    ///
    /// # Errors
    ///
    /// [`RandomError`] only if the current key were missing from the ring,
    /// which the ring does not allow; there is no panic path.
    ///
    /// # Security
    ///
    /// `random` must come from a CSPRNG and be used for this credential
    /// only.
    pub(crate) fn from_random(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        random: &[u8; RANDOM_LEN],
    ) -> Result<(Self, CredentialHash), RandomError> {
        let key_id = keys.current_id();
        let prefix = K::prefix(prefixes);
        let credential = Self::assemble(prefix, key_id, random);
        let hash = hash_raw::<K>(keys, prefix, &raw_bytes(key_id, random)).ok_or(RandomError)?;
        Ok((credential, hash))
    }

    /// The successor of a refresh token: this kind of credential derived from
    /// the refresh token's body under the derive subkey of `key_id` (domain
    /// `K::SUCCESSOR_DOMAIN`), made under that key. Deterministic, so a
    /// replay within the grace window can be answered with the same
    /// successor without storing it. `None` when `key_id` is not in the
    /// ring.
    ///
    /// # Security
    ///
    /// Only the holder of the refresh token (and of the key ring) can
    /// compute its successors; the refresh token is single-use.
    #[cfg(test)]
    pub(crate) fn successor_of(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        key_id: u8,
        refresh: &RefreshToken,
    ) -> Option<(Self, CredentialHash)> {
        Self::successor_of_raw(prefixes, keys, key_id, &*refresh.raw()?)
    }

    /// [`Credential::successor_of`] from the refresh token's decoded body
    /// ([`Credential::raw`]), decoded once for both successors.
    pub(crate) fn successor_of_raw(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        key_id: u8,
        old: &[u8; RAW_LEN],
    ) -> Option<(Self, CredentialHash)> {
        let random = Zeroizing::new(keys.derive(key_id, K::SUCCESSOR_DOMAIN, &[&old[..]])?);
        let prefix = K::prefix(prefixes);
        let credential = Self::assemble(prefix, key_id, &random);
        let hash = hash_raw::<K>(keys, prefix, &raw_bytes(key_id, &random))?;
        Some((credential, hash))
    }

    /// Builds `{prefix}{body}{checksum}`.
    fn assemble(prefix: &str, key_id: u8, random: &[u8; RANDOM_LEN]) -> Self {
        let raw = raw_bytes(key_id, random);
        // Reserve everything up front so the secret is never copied by a reallocation.
        let mut value = Zeroizing::new(String::with_capacity(
            prefix.len() + BODY_LEN + CHECKSUM_LEN,
        ));
        value.push_str(prefix);
        // Encoded on the stack: 33 bytes are exactly 44 characters, 4 bytes 6.
        let mut text = Zeroizing::new([0u8; BODY_LEN + CHECKSUM_LEN]);
        let (body, sum) = text.split_at_mut(BODY_LEN);
        let encoded = URL_SAFE_NO_PAD
            .encode_slice(raw.as_slice(), body)
            .unwrap_or(0)
            + URL_SAFE_NO_PAD
                .encode_slice(checksum(prefix.as_bytes(), body), sum)
                .unwrap_or(0);
        // Base64url is ASCII, so this never fails; `unwrap_or` keeps panics out.
        value.push_str(std::str::from_utf8(&text[..encoded]).unwrap_or_default());
        Self {
            value: Secret::from(value),
            key_id,
            _kind: PhantomData,
        }
    }

    /// Checks a presented credential without storage: its prefix, its exact
    /// length, its alphabet and its checksum.
    ///
    /// Input over 512 bytes is refused before anything else. The work done is
    /// bounded by a prefix comparison, a CRC-32 over fewer than 100 bytes and
    /// a few bytes of base64 decoding; the only allocation is the returned
    /// credential's text.
    ///
    /// # Errors
    ///
    /// [`CredentialError::TooLong`], [`CredentialError::WrongPrefix`],
    /// [`CredentialError::Malformed`] or [`CredentialError::BadChecksum`].
    /// None of them includes the presented text.
    ///
    /// # Security
    ///
    /// A credential that parses is well formed, not valid: look up its
    /// [`Credential::hash`] in storage to authenticate it.
    pub fn parse(prefixes: &CredentialPrefixes, presented: &str) -> Result<Self, CredentialError> {
        let key_id = check::<K>(prefixes, presented)?;
        Ok(Self {
            value: Secret::new(presented.to_owned()),
            key_id,
            _kind: PhantomData,
        })
    }

    /// [`Credential::parse`] then [`Credential::hash`], without keeping (or
    /// allocating) a copy of the presented text: what storage lookups of a
    /// presented credential need. `Ok(None)` when the credential's key is no
    /// longer in the ring (it cannot be valid).
    ///
    /// # Errors
    ///
    /// As [`Credential::parse`].
    pub(crate) fn hash_presented(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        presented: &str,
    ) -> Result<Option<CredentialHash>, CredentialError> {
        let body = check_format::<K>(prefixes, presented)?;
        // The body decodes once: its first byte is the key id.
        let raw = decode_body(body).ok_or(CredentialError::Malformed)?;
        Ok(hash_raw::<K>(keys, K::prefix(prefixes), &raw))
    }

    /// The credential's text, to hand to its holder once.
    ///
    /// # Security
    ///
    /// Never log or store the text; store [`Credential::hash`] instead.
    pub fn expose_secret(&self) -> &str {
        self.value.expose_secret()
    }

    /// The id of the server key that hashes this credential.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// The 33 decoded body bytes: the key id, then the random bytes.
    pub(crate) fn raw(&self) -> Option<Zeroizing<[u8; RAW_LEN]>> {
        let value = self.value.expose_secret();
        let body = value
            .len()
            .checked_sub(BODY_LEN + CHECKSUM_LEN)
            .and_then(|start| value.get(start..start + BODY_LEN))?;
        decode_body(body)
    }

    /// What storage keeps: HMAC-SHA-256 under the hash subkey of
    /// [`Credential::key_id`] of the domain `K::DOMAIN`, the prefix and the
    /// 33 decoded body bytes. `None` when that key is not (or no longer) in
    /// the ring.
    ///
    /// # Security
    ///
    /// `None` means the credential cannot be valid: its key was retired.
    pub fn hash(&self, keys: &KeyRing) -> Option<CredentialHash> {
        let value = self.value.expose_secret();
        let start = value.len().checked_sub(BODY_LEN + CHECKSUM_LEN)?;
        let prefix = value.get(..start)?;
        let raw = decode_body(value.get(start..start + BODY_LEN)?)?;
        hash_raw::<K>(keys, prefix, &raw)
    }
}

/// The prefix, length, alphabet and checksum of a presented credential of
/// kind `K`; its key id when they hold.
fn check<K: CredentialKind>(
    prefixes: &CredentialPrefixes,
    presented: &str,
) -> Result<u8, CredentialError> {
    let body = check_format::<K>(prefixes, presented)?;
    // The key id is the first byte of the body: the first 4 characters decode to 3 bytes.
    let mut head = [0u8; 3];
    URL_SAFE_NO_PAD
        .decode_slice(body.get(..4).ok_or(CredentialError::Malformed)?, &mut head)
        .map_err(|_| CredentialError::Malformed)?;
    let [key_id, _, _] = head;
    Ok(key_id)
}

/// The prefix, length, alphabet and checksum of a presented credential of
/// kind `K`; its body (44 base64url characters) when they hold.
fn check_format<'a, K: CredentialKind>(
    prefixes: &CredentialPrefixes,
    presented: &'a str,
) -> Result<&'a str, CredentialError> {
    if presented.len() > MAX_PRESENTED_LEN {
        return Err(CredentialError::TooLong);
    }
    let prefix = K::prefix(prefixes);
    let rest = presented
        .strip_prefix(prefix)
        .ok_or(CredentialError::WrongPrefix { expected: K::NAME })?
        .as_bytes();
    if rest.len() != BODY_LEN + CHECKSUM_LEN || !all_base64url(rest) {
        return Err(CredentialError::Malformed);
    }
    let (body, presented_checksum) = rest
        .split_at_checked(BODY_LEN)
        .ok_or(CredentialError::Malformed)?;
    let mut expected = [0u8; CHECKSUM_LEN];
    URL_SAFE_NO_PAD
        .encode_slice(checksum(prefix.as_bytes(), body), &mut expected)
        .map_err(|_| CredentialError::Malformed)?;
    if !bool::from(expected.as_slice().ct_eq(presented_checksum)) {
        return Err(CredentialError::BadChecksum);
    }
    // All ASCII, so the body is a `str` slice on character boundaries.
    std::str::from_utf8(body).map_err(|_| CredentialError::Malformed)
}

/// The key id followed by the random bytes.
fn raw_bytes(key_id: u8, random: &[u8; RANDOM_LEN]) -> Zeroizing<[u8; RAW_LEN]> {
    let mut raw = Zeroizing::new([0u8; RAW_LEN]);
    raw[0] = key_id;
    raw[1..].copy_from_slice(random);
    raw
}

/// The 33 bytes of a 44-character base64url body.
fn decode_body(body: &str) -> Option<Zeroizing<[u8; RAW_LEN]>> {
    // 44 characters are exactly 33 bytes; the decoder wants room to spare.
    let mut buf = Zeroizing::new([0u8; RAW_LEN + 3]);
    let len = URL_SAFE_NO_PAD
        .decode_slice(body.as_bytes(), buf.as_mut_slice())
        .ok()?;
    if len != RAW_LEN {
        return None;
    }
    let mut raw = Zeroizing::new([0u8; RAW_LEN]);
    raw.copy_from_slice(&buf[..RAW_LEN]);
    Some(raw)
}

/// The stored hash of a credential of kind `K` with this prefix and decoded
/// body: the MAC of (`K::DOMAIN`, prefix, body) under the hash subkey of the
/// body's key id. The prefix is bound, so a credential re-prefixed after a
/// prefix change does not match. With the default prefixes the input fits
/// one SHA-256 block.
fn hash_raw<K: CredentialKind>(
    keys: &KeyRing,
    prefix: &str,
    raw: &[u8; RAW_LEN],
) -> Option<CredentialHash> {
    keys.hash(raw[0], K::DOMAIN, &[prefix.as_bytes(), &raw[..]])
}

impl<K: CredentialKind> Clone for Credential<K> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            key_id: self.key_id,
            _kind: PhantomData,
        }
    }
}

/// Built on [`Secret`], but written by hand: a derive would require
/// `K: Debug`, and the kind's name is worth showing.
impl<K: CredentialKind> fmt::Debug for Credential<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Credential")
            .field(&K::NAME)
            .field(&format_args!("[redacted]"))
            .finish()
    }
}

impl<K: CredentialKind> ConstantTimeEq for Credential<K> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.value.ct_eq(&other.value)
    }
}

impl<K: CredentialKind> PartialEq for Credential<K> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl<K: CredentialKind> Eq for Credential<K> {}

/// The CRC-32 (IEEE) of `prefix` ++ `body`, big-endian.
pub(crate) fn checksum(prefix: &[u8], body: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut crc = crc32fast::Hasher::new();
    crc.update(prefix);
    crc.update(body);
    crc.finalize().to_be_bytes()
}

/// Whether `byte` is in the base64url alphabet.
pub(crate) fn is_base64url(byte: u8) -> bool {
    // Bitwise, not short-circuit, so that `all_base64url` vectorizes.
    (byte.wrapping_sub(b'A') < 26)
        | (byte.wrapping_sub(b'a') < 26)
        | (byte.wrapping_sub(b'0') < 10)
        | (byte == b'-')
        | (byte == b'_')
}

/// Whether every byte of `bytes` is in the base64url alphabet (every byte
/// looked at: the check is over fixed-length input).
pub(crate) fn all_base64url(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & is_base64url(b))
}

/// Why a prefix or brand was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The prefix or brand breaks the character or length rules.
    #[error(
        "invalid credential prefix: a prefix is 2–32 characters of a–z, 0–9 and '_' ending in '_', and a brand 1–16 characters of a–z and 0–9"
    )]
    Invalid,
    /// Two prefixes are equal, or one begins another.
    #[error(
        "ambiguous credential prefixes: every prefix must differ from the others and none may begin another"
    )]
    Ambiguous,
}

/// Which prefix of [`CredentialPrefixes`] to change with
/// [`CredentialPrefixes::set`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixKind {
    /// Client secrets (`oc_secret_`).
    ClientSecret,
    /// Authorization codes (`oc_code_`).
    AuthorizationCode,
    /// Access tokens (`oc_at_`).
    AccessToken,
    /// Refresh tokens (`oc_rt_`).
    RefreshToken,
    /// Connect tokens (`oc_ct_`).
    ConnectToken,
    /// Scoped keys (`oc_sk_`).
    ScopedKey,
    /// Admin keys (`oc_admin_`).
    AdminKey,
    /// Publishable keys (`oc_pk_`).
    PublishableKey,
    /// Client ids (`oc_client_`).
    ClientId,
}

/// The prefix of each kind of credential, and of client ids.
///
/// The default brand `oc` gives `oc_secret_`, `oc_code_`, `oc_at_`, `oc_rt_`,
/// `oc_ct_`, `oc_sk_`, `oc_admin_`, `oc_pk_` and `oc_client_`. Every prefix is
/// 2–32 characters of `a–z`, `0–9` and `_` and ends in `_`; no prefix equals
/// or begins another, so each credential's kind is unambiguous.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialPrefixes {
    client_secret: String,
    authorization_code: String,
    access_token: String,
    refresh_token: String,
    connect_token: String,
    scoped_key: String,
    admin_key: String,
    publishable_key: String,
    client_id: String,
}

impl CredentialPrefixes {
    /// The standard prefixes under another brand: `acme` gives
    /// `acme_secret_`, `acme_code_`, … `acme_client_`.
    ///
    /// # Errors
    ///
    /// [`PrefixError::Invalid`] unless `brand` is 1–16 characters of `a–z`
    /// and `0–9`.
    pub fn with_brand(brand: &str) -> Result<Self, PrefixError> {
        let valid = (1..=16).contains(&brand.len())
            && brand
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(PrefixError::Invalid);
        }
        let prefix = |suffix: &str| format!("{brand}_{suffix}_");
        let prefixes = Self {
            client_secret: prefix("secret"),
            authorization_code: prefix("code"),
            access_token: prefix("at"),
            refresh_token: prefix("rt"),
            connect_token: prefix("ct"),
            scoped_key: prefix("sk"),
            admin_key: prefix("admin"),
            publishable_key: prefix("pk"),
            client_id: prefix("client"),
        };
        prefixes.check_unambiguous()?;
        Ok(prefixes)
    }

    /// Replaces one prefix.
    ///
    /// # Errors
    ///
    /// [`PrefixError::Invalid`] unless `prefix` is 2–32 characters of `a–z`,
    /// `0–9` and `_` ending in `_`; [`PrefixError::Ambiguous`] when it equals,
    /// begins or is begun by another prefix.
    ///
    /// # Security
    ///
    /// Changing a prefix makes every credential issued under the old one fail
    /// to parse.
    pub fn set(mut self, kind: PrefixKind, prefix: &str) -> Result<Self, PrefixError> {
        let valid = (2..=32).contains(&prefix.len())
            && prefix.ends_with('_')
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(PrefixError::Invalid);
        }
        prefix.clone_into(self.slot_mut(kind));
        self.check_unambiguous()?;
        Ok(self)
    }

    /// The prefix of one kind.
    pub fn get(&self, kind: PrefixKind) -> &str {
        match kind {
            PrefixKind::ClientSecret => &self.client_secret,
            PrefixKind::AuthorizationCode => &self.authorization_code,
            PrefixKind::AccessToken => &self.access_token,
            PrefixKind::RefreshToken => &self.refresh_token,
            PrefixKind::ConnectToken => &self.connect_token,
            PrefixKind::ScopedKey => &self.scoped_key,
            PrefixKind::AdminKey => &self.admin_key,
            PrefixKind::PublishableKey => &self.publishable_key,
            PrefixKind::ClientId => &self.client_id,
        }
    }

    /// The prefix of client secrets.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The prefix of authorization codes.
    pub fn authorization_code(&self) -> &str {
        &self.authorization_code
    }

    /// The prefix of access tokens.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The prefix of refresh tokens.
    pub fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// The prefix of Connect tokens.
    pub fn connect_token(&self) -> &str {
        &self.connect_token
    }

    /// The prefix of scoped keys.
    pub fn scoped_key(&self) -> &str {
        &self.scoped_key
    }

    /// The prefix of admin keys.
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// The prefix of publishable keys.
    pub fn publishable_key(&self) -> &str {
        &self.publishable_key
    }

    /// The prefix of client ids.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn slot_mut(&mut self, kind: PrefixKind) -> &mut String {
        match kind {
            PrefixKind::ClientSecret => &mut self.client_secret,
            PrefixKind::AuthorizationCode => &mut self.authorization_code,
            PrefixKind::AccessToken => &mut self.access_token,
            PrefixKind::RefreshToken => &mut self.refresh_token,
            PrefixKind::ConnectToken => &mut self.connect_token,
            PrefixKind::ScopedKey => &mut self.scoped_key,
            PrefixKind::AdminKey => &mut self.admin_key,
            PrefixKind::PublishableKey => &mut self.publishable_key,
            PrefixKind::ClientId => &mut self.client_id,
        }
    }

    fn all(&self) -> [&str; 9] {
        [
            &self.client_secret,
            &self.authorization_code,
            &self.access_token,
            &self.refresh_token,
            &self.connect_token,
            &self.scoped_key,
            &self.admin_key,
            &self.publishable_key,
            &self.client_id,
        ]
    }

    fn check_unambiguous(&self) -> Result<(), PrefixError> {
        let all = self.all();
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                if i != j && a.starts_with(b) {
                    return Err(PrefixError::Ambiguous);
                }
            }
        }
        Ok(())
    }
}

impl Default for CredentialPrefixes {
    fn default() -> Self {
        Self {
            client_secret: "oc_secret_".to_owned(),
            authorization_code: "oc_code_".to_owned(),
            access_token: "oc_at_".to_owned(),
            refresh_token: "oc_rt_".to_owned(),
            connect_token: "oc_ct_".to_owned(),
            scoped_key: "oc_sk_".to_owned(),
            admin_key: "oc_admin_".to_owned(),
            publishable_key: "oc_pk_".to_owned(),
            client_id: "oc_client_".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicU64, Ordering};

    use ring::digest;

    use super::*;
    use crate::credentials::keyring::ServerKey;
    use crate::model::random::SystemRandom;

    /// Deterministic: each `fill` expands SHA-256(counter ‖ block) and bumps the counter.
    #[derive(Debug)]
    struct CounterRandom(AtomicU64);

    impl CounterRandom {
        fn new(start: u64) -> Self {
            Self(AtomicU64::new(start))
        }
    }

    impl RandomSource for CounterRandom {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            let n = self.0.fetch_add(1, Ordering::Relaxed);
            for (block, chunk) in dest.chunks_mut(32).enumerate() {
                let mut context = digest::Context::new(&digest::SHA256);
                context.update(&n.to_be_bytes());
                context.update(&(block as u64).to_be_bytes());
                let d = context.finish();
                chunk.copy_from_slice(&d.as_ref()[..chunk.len()]);
            }
            Ok(())
        }
    }

    #[derive(Debug)]
    struct FailingRandom;

    impl RandomSource for FailingRandom {
        fn fill(&self, _dest: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }

    fn ring() -> KeyRing {
        KeyRing::new(ServerKey::new(1, &[1; 32]).unwrap())
            .with_key(ServerKey::new(2, &[2; 32]).unwrap())
            .unwrap()
    }

    fn generate<K: CredentialKind>(rng: &dyn RandomSource) -> Credential<K> {
        Credential::<K>::generate(&CredentialPrefixes::default(), &ring(), rng).unwrap()
    }

    fn body_of_with<'a, K: CredentialKind>(
        credential: &'a Credential<K>,
        prefixes: &CredentialPrefixes,
    ) -> &'a str {
        &credential.expose_secret()[K::prefix(prefixes).len()..]
    }

    fn body_of<K: CredentialKind>(credential: &Credential<K>) -> &str {
        let prefixes = CredentialPrefixes::default();
        &credential.expose_secret()[K::prefix(&prefixes).len()..]
    }

    /// Replaces the byte at `index` of an ASCII credential with `with`.
    fn replace_at(text: &str, index: usize, with: u8) -> String {
        let mut bytes = text.as_bytes().to_vec();
        bytes[index] = with;
        String::from_utf8(bytes).unwrap()
    }

    /// A base64url character other than `c`.
    fn other_char(c: u8) -> u8 {
        if c == b'A' { b'B' } else { b'A' }
    }

    fn check_round_trip<K: CredentialKind>() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<K>(&SystemRandom::new());
        let text = credential.expose_secret();
        assert!(text.starts_with(K::prefix(&prefixes)));
        assert_eq!(text.len(), K::prefix(&prefixes).len() + 50);
        let parsed = Credential::<K>::parse(&prefixes, text).unwrap();
        assert_eq!(parsed, credential);
        assert_eq!(parsed.expose_secret(), text);
        assert_eq!(parsed.key_id(), credential.key_id());
        assert_eq!(parsed.hash(&ring()), credential.hash(&ring()));
    }

    #[test]
    fn generate_expose_parse_round_trip_every_kind() {
        check_round_trip::<kind::ClientSecret>();
        check_round_trip::<kind::AuthorizationCode>();
        check_round_trip::<kind::AccessToken>();
        check_round_trip::<kind::RefreshToken>();
        check_round_trip::<kind::ConnectToken>();
        check_round_trip::<kind::AdminKey>();
        check_round_trip::<kind::PublishableKey>();
    }

    #[test]
    fn generated_credential_carries_current_key_id_and_parse_recovers_it() {
        let prefixes = CredentialPrefixes::default();
        let mut keys = ring();
        let rng = SystemRandom::new();
        let first = AccessToken::generate(&prefixes, &keys, &rng).unwrap();
        assert_eq!(first.key_id(), 1);
        keys.set_current(2).unwrap();
        let second = AccessToken::generate(&prefixes, &keys, &rng).unwrap();
        assert_eq!(second.key_id(), 2);
        let parsed = AccessToken::parse(&prefixes, second.expose_secret()).unwrap();
        assert_eq!(parsed.key_id(), 2);
    }

    #[test]
    fn generate_hashed_returns_the_credentials_own_hash() {
        let keys = ring();
        let (secret, hash) = ClientSecret::generate_hashed(
            &CredentialPrefixes::default(),
            &keys,
            &SystemRandom::new(),
        )
        .unwrap();
        assert_eq!(secret.hash(&keys), Some(hash));
        assert!(
            ClientSecret::generate_hashed(&CredentialPrefixes::default(), &keys, &FailingRandom)
                .is_err()
        );
    }

    #[test]
    fn generate_propagates_random_failure() {
        let result =
            ClientSecret::generate(&CredentialPrefixes::default(), &ring(), &FailingRandom);
        assert_eq!(result.unwrap_err(), RandomError);
    }

    #[test]
    fn parse_rejects_another_kinds_credential_as_wrong_prefix() {
        let prefixes = CredentialPrefixes::default();
        let refresh = generate::<kind::RefreshToken>(&SystemRandom::new());
        assert_eq!(
            AccessToken::parse(&prefixes, refresh.expose_secret()),
            Err(CredentialError::WrongPrefix {
                expected: "access token"
            })
        );
        let secret = generate::<kind::ClientSecret>(&SystemRandom::new());
        assert_eq!(
            AdminKey::parse(&prefixes, secret.expose_secret()),
            Err(CredentialError::WrongPrefix {
                expected: "admin key"
            })
        );
        assert!(matches!(
            ClientSecret::parse(&prefixes, ""),
            Err(CredentialError::WrongPrefix { .. })
        ));
    }

    #[test]
    fn parse_rejects_every_single_flipped_body_char_by_checksum() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::ClientSecret>(&CounterRandom::new(7));
        let text = credential.expose_secret();
        let start = prefixes.client_secret().len();
        for index in start..start + BODY_LEN {
            let altered = replace_at(text, index, other_char(text.as_bytes()[index]));
            assert_eq!(
                ClientSecret::parse(&prefixes, &altered),
                Err(CredentialError::BadChecksum),
                "position {index}"
            );
        }
    }

    #[test]
    fn parse_rejects_every_single_flipped_checksum_char() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::AccessToken>(&CounterRandom::new(11));
        let text = credential.expose_secret();
        for index in text.len() - CHECKSUM_LEN..text.len() {
            let altered = replace_at(text, index, other_char(text.as_bytes()[index]));
            assert_eq!(
                AccessToken::parse(&prefixes, &altered),
                Err(CredentialError::BadChecksum),
                "position {index}"
            );
        }
    }

    #[test]
    fn parse_rejects_truncated_credential_as_malformed() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::AccessToken>(&SystemRandom::new());
        let text = credential.expose_secret();
        for len in [text.len() - 1, text.len() - CHECKSUM_LEN, 6] {
            assert_eq!(
                AccessToken::parse(&prefixes, &text[..len]),
                Err(CredentialError::Malformed),
                "length {len}"
            );
        }
    }

    #[test]
    fn parse_rejects_extended_credential_as_malformed() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::AccessToken>(&SystemRandom::new());
        let text = credential.expose_secret();
        for suffix in ["A", "=", "\n", " ", "AAAA"] {
            assert_eq!(
                AccessToken::parse(&prefixes, &format!("{text}{suffix}")),
                Err(CredentialError::Malformed)
            );
        }
        assert_eq!(
            AccessToken::parse(&prefixes, &format!(" {text}")),
            Err(CredentialError::WrongPrefix {
                expected: "access token"
            })
        );
    }

    #[test]
    fn parse_rejects_non_base64url_char_as_malformed() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::RefreshToken>(&SystemRandom::new());
        let text = credential.expose_secret();
        let start = prefixes.refresh_token().len();
        for bad in [b'+', b'/', b'=', b'.', b' ', 0] {
            for index in [start, start + 20, text.len() - 1] {
                assert_eq!(
                    RefreshToken::parse(&prefixes, &replace_at(text, index, bad)),
                    Err(CredentialError::Malformed)
                );
            }
        }
        // Multi-byte characters with the right total byte length must not panic.
        let multibyte = format!("{}é{}", &text[..start], &text[start + 2..]);
        assert_eq!(multibyte.len(), text.len());
        assert_eq!(
            RefreshToken::parse(&prefixes, &multibyte),
            Err(CredentialError::Malformed)
        );
        let split = format!("{}é{}", &text[..start + 43], &text[start + 45..]);
        assert_eq!(split.len(), text.len());
        assert_eq!(
            RefreshToken::parse(&prefixes, &split),
            Err(CredentialError::Malformed)
        );
    }

    #[test]
    fn parse_refuses_10_kb_input_as_too_long() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::ClientSecret>(&SystemRandom::new());
        let huge = format!("{}{}", credential.expose_secret(), "A".repeat(10 * 1024));
        assert_eq!(
            ClientSecret::parse(&prefixes, &huge),
            Err(CredentialError::TooLong)
        );
        assert_eq!(
            ClientSecret::parse(&prefixes, &"x".repeat(10 * 1024)),
            Err(CredentialError::TooLong)
        );
        assert_eq!(
            ClientSecret::parse(&prefixes, &"x".repeat(513)),
            Err(CredentialError::TooLong)
        );
        assert_ne!(
            ClientSecret::parse(&prefixes, &"x".repeat(512)),
            Err(CredentialError::TooLong)
        );
    }

    #[test]
    fn parse_errors_never_echo_the_input() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::ClientSecret>(&SystemRandom::new());
        let text = credential.expose_secret();
        let body = &text[prefixes.client_secret().len()..];
        let inputs = [
            text[..text.len() - 1].to_owned(),
            replace_at(
                text,
                text.len() - 1,
                other_char(text.as_bytes()[text.len() - 1]),
            ),
            format!("oc_at_{body}"),
            format!("{text}{}", "A".repeat(600)),
        ];
        for input in &inputs {
            let err = ClientSecret::parse(&prefixes, input).unwrap_err();
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(!shown.contains(&body[..8]), "{shown}");
            }
        }
    }

    #[test]
    fn error_messages_name_the_kind_and_the_fix() {
        let err = CredentialError::WrongPrefix {
            expected: "client secret",
        };
        assert!(err.to_string().contains("client secret"));
        assert!(err.to_string().contains("wrong prefix"));
        assert_eq!(
            CredentialError::BadChecksum.to_string(),
            "checksum mismatch: the credential was mistyped or altered"
        );
        assert!(CredentialError::TooLong.to_string().contains("512"));
    }

    #[test]
    fn thousand_generated_credentials_are_all_distinct() {
        let rng = SystemRandom::new();
        let credentials: Vec<AccessToken> = (0..1000).map(|_| generate(&rng)).collect();
        let texts: HashSet<&str> = credentials.iter().map(Credential::expose_secret).collect();
        assert_eq!(texts.len(), 1000);
        for (i, a) in credentials.iter().take(40).enumerate() {
            for (j, b) in credentials.iter().take(40).enumerate() {
                assert_eq!(a == b, i == j);
                assert_eq!(bool::from(a.ct_eq(b)), i == j);
            }
        }
    }

    #[test]
    fn counter_random_credentials_are_distinct_and_reproducible() {
        let a: Vec<ClientSecret> = (0..100).map(|_| generate(&CounterRandom::new(0))).collect();
        assert!(a.iter().all(|c| c == &a[0]));
        let rng = CounterRandom::new(0);
        let b: Vec<ClientSecret> = (0..100).map(|_| generate(&rng)).collect();
        let texts: HashSet<&str> = b.iter().map(Credential::expose_secret).collect();
        assert_eq!(texts.len(), 100);
        assert_eq!(b[0], a[0]);
    }

    #[test]
    fn equal_strings_compare_equal() {
        let prefixes = CredentialPrefixes::default();
        let credential = generate::<kind::ConnectToken>(&SystemRandom::new());
        let text = credential.expose_secret().to_owned();
        let a = ConnectToken::parse(&prefixes, &text).unwrap();
        let b = ConnectToken::parse(&prefixes, &text).unwrap();
        assert_eq!(a, b);
        assert!(bool::from(a.ct_eq(&b)));
        assert_eq!(a.clone(), credential);
    }

    #[test]
    fn different_lengths_compare_unequal() {
        let long = CredentialPrefixes::default();
        let short = CredentialPrefixes::default()
            .set(PrefixKind::ClientSecret, "s_")
            .unwrap();
        let keys = ring();
        let a = ClientSecret::generate(&long, &keys, &CounterRandom::new(3)).unwrap();
        let b = ClientSecret::generate(&short, &keys, &CounterRandom::new(3)).unwrap();
        assert_ne!(a.expose_secret().len(), b.expose_secret().len());
        assert_ne!(a, b);
        assert!(!bool::from(a.ct_eq(&b)));
    }

    #[test]
    fn hash_is_stable() {
        let keys = ring();
        let credential = generate::<kind::ClientSecret>(&SystemRandom::new());
        let hash = credential.hash(&keys).unwrap();
        assert_eq!(credential.hash(&keys), Some(hash));
        assert_eq!(credential.clone().hash(&ring()), Some(hash));
        let again = ClientSecret::parse(&CredentialPrefixes::default(), credential.expose_secret());
        assert_eq!(again.unwrap().hash(&keys), Some(hash));
    }

    #[test]
    fn hash_differs_between_kinds_for_the_same_body() {
        let keys = ring();
        let secret = generate::<kind::ClientSecret>(&CounterRandom::new(5));
        let token = generate::<kind::AccessToken>(&CounterRandom::new(5));
        assert_eq!(body_of(&secret)[..BODY_LEN], body_of(&token)[..BODY_LEN]);
        assert_ne!(secret.hash(&keys), token.hash(&keys));
        // Even over identical text, the domains keep the kinds apart.
        let text: &[&[u8]] = &[secret.expose_secret().as_bytes()];
        assert_ne!(
            keys.hash(1, kind::ClientSecret::DOMAIN, text),
            keys.hash(1, kind::AccessToken::DOMAIN, text)
        );
    }

    #[test]
    fn hash_differs_between_key_ids() {
        let prefixes = CredentialPrefixes::default();
        let mut keys = ring();
        let under_one = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(9)).unwrap();
        keys.set_current(2).unwrap();
        let under_two = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(9)).unwrap();
        assert_ne!(under_one.hash(&keys), under_two.hash(&keys));
        let text: &[&[u8]] = &[under_one.expose_secret().as_bytes()];
        assert_ne!(
            keys.hash(1, kind::RefreshToken::DOMAIN, text),
            keys.hash(2, kind::RefreshToken::DOMAIN, text)
        );
    }

    #[test]
    fn hash_after_retiring_the_key_is_none() {
        let mut keys = ring();
        let credential = generate::<kind::AdminKey>(&SystemRandom::new());
        assert_eq!(credential.key_id(), 1);
        keys.set_current(2).unwrap();
        assert!(credential.hash(&keys).is_some());
        keys.retire(1).unwrap();
        assert_eq!(credential.hash(&keys), None);
    }

    #[test]
    fn successors_are_deterministic_and_differ_by_token_kind_and_key() {
        let prefixes = CredentialPrefixes::default();
        let mut keys = ring();
        let old = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(7)).unwrap();
        let (a, a_hash) = RefreshToken::successor_of(&prefixes, &keys, 1, &old).unwrap();
        let (b, b_hash) = RefreshToken::successor_of(&prefixes, &keys, 1, &old).unwrap();
        assert_eq!(a, b);
        assert_eq!(a_hash, b_hash);
        assert_eq!(
            a.hash(&keys),
            Some(a_hash),
            "the hash is the successor's own"
        );
        assert_eq!(a.key_id(), 1);
        assert_ne!(a, old);
        let other = RefreshToken::generate(&prefixes, &keys, &CounterRandom::new(8)).unwrap();
        assert_ne!(
            RefreshToken::successor_of(&prefixes, &keys, 1, &other)
                .unwrap()
                .0,
            a
        );
        let (access, access_hash) = AccessToken::successor_of(&prefixes, &keys, 1, &old).unwrap();
        assert_ne!(body_of(&access), body_of(&a));
        assert_eq!(access.hash(&keys), Some(access_hash));
        let parsed = RefreshToken::parse(&prefixes, a.expose_secret()).unwrap();
        assert_eq!(parsed, a);
        // Under another key: other successors, made under that key.
        let (c, c_hash) = RefreshToken::successor_of(&prefixes, &keys, 2, &old).unwrap();
        assert_eq!(c.key_id(), 2);
        assert_ne!(body_of(&c)[1..], body_of(&a)[1..]);
        assert_eq!(c.hash(&keys), Some(c_hash));
        // A key that is not in the ring derives nothing.
        keys.set_current(2).unwrap();
        keys.retire(1).unwrap();
        assert!(RefreshToken::successor_of(&prefixes, &keys, 1, &old).is_none());
        assert!(RefreshToken::successor_of(&prefixes, &keys, 2, &old).is_some());
    }

    #[test]
    fn checksum_is_crc32_ieee() {
        // The CRC-32 check value: CRC-32("123456789") = 0xCBF43926.
        assert_eq!(checksum(b"1234", b"56789"), 0xCBF4_3926_u32.to_be_bytes());
        let prefixes = CredentialPrefixes::default();
        let token = generate::<kind::AccessToken>(&SystemRandom::new());
        let text = token.expose_secret();
        let (head, sum) = text.split_at(text.len() - CHECKSUM_LEN);
        let crc = crc32fast::hash(head.as_bytes()).to_be_bytes();
        assert_eq!(sum, URL_SAFE_NO_PAD.encode(crc));
        assert!(head.starts_with(prefixes.access_token()));
    }

    #[test]
    fn hash_presented_equals_parse_then_hash() {
        let prefixes = CredentialPrefixes::default();
        let keys = ring();
        let token = generate::<kind::AccessToken>(&SystemRandom::new());
        let text = token.expose_secret();
        assert_eq!(
            AccessToken::hash_presented(&prefixes, &keys, text),
            Ok(token.hash(&keys))
        );
        let typo = replace_at(text, 10, other_char(text.as_bytes()[10]));
        assert_eq!(
            AccessToken::hash_presented(&prefixes, &keys, &typo),
            Err(CredentialError::BadChecksum)
        );
        assert_eq!(
            RefreshToken::hash_presented(&prefixes, &keys, text),
            Err(CredentialError::WrongPrefix {
                expected: "refresh token"
            })
        );
    }

    #[test]
    fn mac_inputs_fit_one_block_with_the_default_prefixes() {
        // One length byte per element: (1 + domain) + (1 + prefix) + (1 + 33
        // body bytes) must stay within the 55 bytes one SHA-256 block holds
        // after padding; the client secret's longer prefix takes a second.
        fn check<K: CredentialKind>(fits: bool) {
            let prefixes = CredentialPrefixes::default();
            let prefix = K::prefix(&prefixes);
            let hash_input = 1 + K::DOMAIN.len() + 1 + prefix.len() + 1 + RAW_LEN;
            assert_eq!(hash_input <= 55, fits, "{} {prefix}", K::DOMAIN);
            assert!(1 + K::SUCCESSOR_DOMAIN.len() + 1 + RAW_LEN <= 55);
            assert_ne!(K::DOMAIN, K::SUCCESSOR_DOMAIN);
        }
        check::<kind::ClientSecret>(false);
        check::<kind::AuthorizationCode>(true);
        check::<kind::AccessToken>(true);
        check::<kind::RefreshToken>(true);
        check::<kind::ConnectToken>(true);
        check::<kind::AdminKey>(true);
        check::<kind::PublishableKey>(true);
    }

    #[test]
    fn the_prefix_is_part_of_the_hash() {
        // The same key id and random bytes under another prefix: another
        // hash, so re-prefixing a credential after a prefix change revives
        // nothing.
        let keys = ring();
        let old = CredentialPrefixes::default();
        let new = old.clone().set(PrefixKind::AccessToken, "new_at_").unwrap();
        let (a, a_hash) = AccessToken::from_random(&old, &keys, &[9; 32]).unwrap();
        let (b, b_hash) = AccessToken::from_random(&new, &keys, &[9; 32]).unwrap();
        assert_eq!(
            body_of_with(&a, &old)[..BODY_LEN],
            body_of_with(&b, &new)[..BODY_LEN]
        );
        assert_ne!(a_hash, b_hash);
        assert_eq!(a.hash(&keys), Some(a_hash));
        assert_eq!(b.hash(&keys), Some(b_hash));
        assert_eq!(
            AccessToken::hash_presented(&new, &keys, b.expose_secret()),
            Ok(Some(b_hash))
        );
    }

    #[test]
    fn default_prefixes_use_the_oc_brand() {
        let prefixes = CredentialPrefixes::default();
        assert_eq!(CredentialPrefixes::with_brand("oc"), Ok(prefixes.clone()));
        assert_eq!(
            prefixes.all(),
            [
                "oc_secret_",
                "oc_code_",
                "oc_at_",
                "oc_rt_",
                "oc_ct_",
                "oc_sk_",
                "oc_admin_",
                "oc_pk_",
                "oc_client_"
            ]
        );
        assert_eq!(prefixes.get(PrefixKind::ScopedKey), prefixes.scoped_key());
        assert_eq!(prefixes.get(PrefixKind::ClientId), prefixes.client_id());
    }

    #[test]
    fn custom_brand_is_applied_to_every_prefix_and_credential() {
        let prefixes = CredentialPrefixes::with_brand("acme").unwrap();
        assert_eq!(prefixes.client_secret(), "acme_secret_");
        assert_eq!(prefixes.authorization_code(), "acme_code_");
        assert_eq!(prefixes.access_token(), "acme_at_");
        assert_eq!(prefixes.refresh_token(), "acme_rt_");
        assert_eq!(prefixes.connect_token(), "acme_ct_");
        assert_eq!(prefixes.scoped_key(), "acme_sk_");
        assert_eq!(prefixes.admin_key(), "acme_admin_");
        assert_eq!(prefixes.publishable_key(), "acme_pk_");
        assert_eq!(prefixes.client_id(), "acme_client_");
        let token = AccessToken::generate(&prefixes, &ring(), &SystemRandom::new()).unwrap();
        assert!(token.expose_secret().starts_with("acme_at_"));
        assert!(AccessToken::parse(&prefixes, token.expose_secret()).is_ok());
        assert!(matches!(
            AccessToken::parse(&CredentialPrefixes::default(), token.expose_secret()),
            Err(CredentialError::WrongPrefix { .. })
        ));
        assert!(CredentialPrefixes::with_brand("abcdefghij123456").is_ok());
    }

    #[test]
    fn invalid_brand_is_rejected() {
        for brand in ["", "Acme", "ac_me", "ac-me", "abcdefghij1234567", "é"] {
            assert_eq!(
                CredentialPrefixes::with_brand(brand),
                Err(PrefixError::Invalid),
                "{brand:?}"
            );
        }
    }

    #[test]
    fn invalid_prefix_is_rejected() {
        let bad = [
            "",
            "_",
            "a",
            "ab",
            "AB_",
            "a-b_",
            "a b_",
            "é_",
            &"a".repeat(32),
        ];
        for prefix in bad {
            assert_eq!(
                CredentialPrefixes::default().set(PrefixKind::AccessToken, prefix),
                Err(PrefixError::Invalid),
                "{prefix:?}"
            );
        }
        let longest = format!("{}_", "a".repeat(31));
        assert!(
            CredentialPrefixes::default()
                .set(PrefixKind::AccessToken, &longest)
                .is_ok()
        );
        assert!(
            CredentialPrefixes::default()
                .set(PrefixKind::AccessToken, &format!("a{longest}"))
                .is_err()
        );
        assert!(
            CredentialPrefixes::default()
                .set(PrefixKind::AccessToken, "t_")
                .is_ok()
        );
    }

    #[test]
    fn ambiguous_prefix_is_rejected() {
        for prefix in ["oc_rt_", "oc_", "oc_secret_2_", "oc_client_x_"] {
            assert_eq!(
                CredentialPrefixes::default().set(PrefixKind::AccessToken, prefix),
                Err(PrefixError::Ambiguous),
                "{prefix:?}"
            );
        }
        // Setting a kind to its own prefix is not ambiguous.
        assert!(
            CredentialPrefixes::default()
                .set(PrefixKind::AccessToken, "oc_at_")
                .is_ok()
        );
    }

    #[test]
    fn custom_prefix_is_used_by_generate_and_parse() {
        let prefixes = CredentialPrefixes::default()
            .set(PrefixKind::PublishableKey, "pub_live_")
            .unwrap();
        let key = PublishableKey::generate(&prefixes, &ring(), &SystemRandom::new()).unwrap();
        assert!(key.expose_secret().starts_with("pub_live_"));
        assert_eq!(key.expose_secret().len(), "pub_live_".len() + 50);
        assert_eq!(
            PublishableKey::parse(&prefixes, key.expose_secret()).unwrap(),
            key
        );
    }
}
