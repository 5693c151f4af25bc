//! Webhook signing secrets and signatures, as the Standard Webhooks
//! specification defines them.
//!
//! A secret is `whsec_` followed by the base64 of 32 random bytes; the
//! signature of a message is `v1,` followed by the base64 of
//! HMAC-SHA-256(secret bytes, `"{webhook-id}.{webhook-timestamp}.{body}"`),
//! sent in `webhook-signature` (space-separated when several secrets are
//! valid, during a rotation's grace period).
//!
//! Signing needs the secret itself, so storage keeps it encrypted
//! (AES-256-GCM) under a key derived from the server key ring for that
//! endpoint ([`SealedSecret`]): a copy of the database alone yields no
//! secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use zeroize::Zeroizing;

use crate::credentials::keyring::KeyRing;
use crate::credentials::{Redacted, Secret};
use crate::model::random::{RandomError, RandomSource, random_array};
use crate::storage::webhooks::SealedSecret;

/// The prefix of every webhook signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

const SEAL_DOMAIN: &str = "oauth-connect webhook secret v1";

/// A webhook signing secret (`whsec_…`). Shown once, when the endpoint is
/// created or its secret rotated; prints as `[redacted]`; zeroized on drop.
#[derive(Debug, Clone)]
pub struct WebhookSecret {
    /// The HMAC key: the random bytes.
    bytes: Redacted<Zeroizing<Vec<u8>>>,
    /// `whsec_` and their base64, as the receiver configures it.
    text: Secret,
}

impl WebhookSecret {
    /// A new random secret.
    pub(crate) fn generate(rng: &dyn RandomSource) -> Result<Self, RandomError> {
        let bytes = Zeroizing::new(random_array::<32>(rng)?);
        Ok(Self::from_bytes(bytes.to_vec()))
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        let text = Zeroizing::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(&bytes)));
        Self {
            bytes: Redacted::new(Zeroizing::new(bytes)),
            text: Secret::from(text),
        }
    }

    /// The secret as the receiver configures it (`whsec_…`).
    pub fn expose_secret(&self) -> &str {
        self.text.expose_secret()
    }

    /// The signature of a message, `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.bytes);
        let mut context = hmac::Context::with_key(&key);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }

    /// Encrypts the secret for storage under the current key of `keys`,
    /// bound to the endpoint `endpoint_id`.
    pub(crate) fn seal(
        &self,
        keys: &KeyRing,
        endpoint_id: &str,
        rng: &dyn RandomSource,
    ) -> Result<SealedSecret, SealError> {
        let key_id = keys.current_id();
        let key = aead_key(keys, key_id, endpoint_id)?;
        let nonce_bytes = random_array::<NONCE_LEN>(rng).map_err(|_| SealError)?;
        let mut data = self.bytes.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(endpoint_id.as_bytes()),
            &mut data,
        )
        .map_err(|_| SealError)?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&data);
        Ok(SealedSecret {
            key_id,
            ciphertext: sealed,
        })
    }

    /// Decrypts a stored secret of the endpoint `endpoint_id`.
    #[cfg_attr(not(any(feature = "webhooks", test)), allow(dead_code))]
    pub(crate) fn open(
        keys: &KeyRing,
        endpoint_id: &str,
        sealed: &SealedSecret,
    ) -> Result<Self, SealError> {
        let key = aead_key(keys, sealed.key_id, endpoint_id)?;
        if sealed.ciphertext.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, data) = sealed.ciphertext.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let mut data = Zeroizing::new(data.to_vec());
        let plain = key
            .open_in_place(nonce, Aad::from(endpoint_id.as_bytes()), &mut data)
            .map_err(|_| SealError)?;
        Ok(Self::from_bytes(plain.to_vec()))
    }
}

fn aead_key(keys: &KeyRing, key_id: u8, endpoint_id: &str) -> Result<LessSafeKey, SealError> {
    let derived = Zeroizing::new(
        keys.derive(key_id, SEAL_DOMAIN, &[endpoint_id.as_bytes()])
            .ok_or(SealError)?,
    );
    let unbound = UnboundKey::new(&AES_256_GCM, derived.as_ref()).map_err(|_| SealError)?;
    Ok(LessSafeKey::new(unbound))
}

/// A stored webhook secret could not be encrypted or decrypted (its key
/// was retired from the key ring, or the record was altered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the webhook secret cannot be sealed or opened with the key ring")]
pub struct SealError;

/// The `webhook-signature` header: one signature per valid secret.
#[cfg_attr(not(any(feature = "webhooks", test)), allow(dead_code))]
pub(crate) fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::random::SystemRandom;

    /// The example of the Standard Webhooks specification's reference
    /// libraries (secret, id, timestamp, body and the expected signature).
    #[test]
    fn standard_webhooks_reference_vector() {
        let secret =
            WebhookSecret::from_bytes(STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn sealed_secret_opens_only_for_its_endpoint_and_hides_the_secret() {
        let rng = SystemRandom::new();
        let keys = KeyRing::generate(&rng).unwrap();
        let secret = WebhookSecret::generate(&rng).unwrap();
        assert!(secret.expose_secret().starts_with("whsec_"));
        let sealed = secret.seal(&keys, "whk_1", &rng).unwrap();
        let raw = &secret.bytes[..];
        assert!(!sealed.ciphertext.windows(raw.len()).any(|w| w == raw));
        let opened = WebhookSecret::open(&keys, "whk_1", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), secret.expose_secret());
        assert_eq!(
            WebhookSecret::open(&keys, "whk_2", &sealed).unwrap_err(),
            SealError
        );
        assert_eq!(
            format!("{secret:?}"),
            r#"WebhookSecret { bytes: "[redacted]", text: "[redacted]" }"#
        );
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let rng = SystemRandom::new();
        let a = WebhookSecret::generate(&rng).unwrap();
        let b = WebhookSecret::generate(&rng).unwrap();
        let header = signature_header(&[a.clone(), b.clone()], "msg_1", 1, b"{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(
            parts,
            [a.sign("msg_1", 1, b"{}"), b.sign("msg_1", 1, b"{}")]
        );
    }
}
