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

pub(crate) mod hmac;
pub(crate) mod keyring;
#[cfg(test)]
mod redaction_tests;
pub(crate) mod scoped_key;
pub(crate) mod secret;

pub use keyring::{CredentialHash, KeyRingError, ServerKey};
pub use secret::{Redacted, RedactedUrl, Secret};

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::credentials::keyring::KeyRing;
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
pub mod kind;

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

    /// Whether [`Credential::parse`] would accept `presented`, without
    /// copying it.
    pub(crate) fn is_well_formed(prefixes: &CredentialPrefixes, presented: &str) -> bool {
        check::<K>(prefixes, presented).is_ok()
    }

    /// [`Credential::parse`] then [`Credential::raw`] and
    /// [`Credential::hash`], without a copy of the presented text: the
    /// decoded body (what a refresh token's successors are derived from)
    /// and the hash. `None` when the credential is malformed or its key is
    /// no longer in the ring.
    pub(crate) fn raw_and_hash_presented(
        prefixes: &CredentialPrefixes,
        keys: &KeyRing,
        presented: &str,
    ) -> Option<(Zeroizing<[u8; RAW_LEN]>, CredentialHash)> {
        let body = check_format::<K>(prefixes, presented).ok()?;
        let raw = decode_body(body)?;
        let hash = hash_raw::<K>(keys, K::prefix(prefixes), &raw)?;
        Some((raw, hash))
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
    #[cfg(test)]
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
mod tests;
