//! Scoped keys: long-lived, revocable bearer credentials bound to one app,
//! one customer and a set of scopes within that customer's grant.
//!
//! A scoped key is self-verifying: `{prefix}{base64url(body ‖ mac)}{checksum}`
//! where `body` is a version byte, the signing key's id, the record id (16
//! random bytes), a nonce (16 random bytes) and the expiry, and `mac` is
//! HMAC-SHA-256 over prefix and body under the key ring's signing subkey.
//! Verification is a parse, one HMAC and then one storage read (for
//! revocation and the app's existence); a forged, tampered, truncated or
//! expired key never reaches storage.
//!
//! Nothing of the key is stored but its record (id, nonce, bindings); the key
//! text can be recomputed from the record only with the server key, which
//! can mint keys anyway. That is how the token endpoint can hand out, at the
//! code exchange, a key minted when the session completed.
//!
//! # Rotating the signing key
//!
//! Add a new [`ServerKey`](crate::credentials::ServerKey) to the ring and make it current
//! ([`KeyRing::set_current`](crate::KeyRing::set_current)): new keys are
//! signed with it, keys minted before still verify under the old one. When
//! no key signed by the old one should work any more (or they have all been
//! re-minted), [`KeyRing::retire`](crate::KeyRing::retire) it: they then
//! fail verification.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::credentials::{CHECKSUM_LEN, MAX_PRESENTED_LEN, all_base64url, checksum};
use crate::error::{AuthFailure, ConnectProblem, Error, FieldError, Problem};
use crate::model::ids::{AppId, ClientId, CustomerId, GrantId, ScopedKeyId, Subject, WorkspaceId};
use crate::model::random::{RandomError, random_array};
use crate::model::scope::ScopeSet;
use crate::model::timestamp::{rfc3339_ms, rfc3339_ms_option};
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::token::{Introspection, TokenError};
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{ScopedKeyInsert, ScopedKeyRecord, Storage, StorageError};

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 1 + 16 + 16 + 8;
const MAC_LEN: usize = 32;
/// `BODY_LEN + MAC_LEN` bytes in unpadded base64url.
const ENCODED_LEN: usize = ((BODY_LEN + MAC_LEN) * 8).div_ceil(6);
/// The MAC domain of scoped keys' signatures: short, so that the signed
/// input (domain, prefix, body) fits one SHA-256 block with the default
/// prefix.
const DOMAIN: &str = "sk";

/// The shortest and longest lifetime a minted key may ask for.
const MIN_LIFETIME: Duration = Duration::MINUTE;
const MAX_LIFETIME: Duration = Duration::days(3650);

/// What a presented scoped key's signature vouches for, before the storage
/// read: its record id, its nonce and the id of the key that signed it.
struct CheckedKey {
    id: [u8; 16],
    nonce: [u8; 16],
    signing_key_id: u8,
}

pub use crate::credentials::scoped_key::ScopedKey;

/// Why a scoped key was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScopedKeyError {
    /// Not a scoped key: wrong prefix, length or alphabet, or a checksum
    /// that does not match.
    #[error("malformed scoped key")]
    Malformed,
    /// The signature does not verify (tampered, forged, or signed by a
    /// retired key).
    #[error("the scoped key's signature does not verify")]
    BadSignature,
    /// Past its expiry.
    #[error("the scoped key has expired")]
    Expired,
    /// Revoked, unknown, its app deleted, or of another workspace.
    #[error("the scoped key was revoked or is unknown")]
    Revoked,
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// What a valid scoped key speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopedKeyPrincipal {
    /// The key's record id.
    pub key_id: ScopedKeyId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app it was minted for.
    pub app_id: AppId,
    /// The app's client id.
    pub client_id: ClientId,
    /// The customer it is bound to.
    pub customer_id: CustomerId,
    /// The customer's reference id.
    pub reference_id: String,
    /// Its scopes.
    pub scopes: ScopeSet,
    /// When minted.
    pub issued_at: OffsetDateTime,
    /// When it expires, if it does.
    pub expires_at: Option<OffsetDateTime>,
}

impl ScopedKeyPrincipal {
    /// `Ok` when the key belongs to `workspace`; a key of another workspace
    /// is refused like a revoked one
    /// (`server.verify_scoped_key(key).await?.require_workspace(&ws)?`).
    /// [`BearerPrincipal::require_workspace`](crate::BearerPrincipal::require_workspace)
    /// is the same check for any bearer credential.
    ///
    /// # Errors
    ///
    /// [`ScopedKeyError::Revoked`].
    pub fn require_workspace(&self, workspace: &WorkspaceId) -> Result<&Self, ScopedKeyError> {
        if &self.workspace_id == workspace {
            Ok(self)
        } else {
            Err(ScopedKeyError::Revoked)
        }
    }
}

/// A request to mint a scoped key (`POST /v1/scoped-keys`): for a customer
/// (by `customerId` or `referenceId`) the app holds a grant for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct NewScopedKey {
    /// The customer.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Or the customer's reference id.
    #[serde(default)]
    pub reference_id: Option<String>,
    /// Scopes within the customer's grant; default: all of the grant's.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Lifetime in seconds (60 s to 10 years); default: no expiry.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// A label for humans (at most 255 characters).
    #[serde(default)]
    pub label: Option<String>,
}

/// A scoped key's metadata, as the API lists it (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScopedKeyInfo {
    /// `sk_…`
    pub id: ScopedKeyId,
    /// The app.
    pub app_id: AppId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The customer's reference id.
    pub reference_id: String,
    /// Its scopes.
    pub scopes: ScopeSet,
    /// Its label.
    pub label: Option<String>,
    /// When minted.
    #[serde(with = "rfc3339_ms")]
    pub created_at: OffsetDateTime,
    /// When it expires.
    #[serde(with = "rfc3339_ms_option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "rfc3339_ms_option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<&ScopedKeyRecord> for ScopedKeyInfo {
    fn from(record: &ScopedKeyRecord) -> Self {
        Self {
            id: record.id.clone(),
            app_id: record.app_id.clone(),
            customer_id: record.customer_id.clone(),
            reference_id: record.reference_id.clone(),
            scopes: record.scopes.clone(),
            label: record.label.clone(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// A newly minted scoped key: its text (shown once) and metadata.
#[derive(Debug)]
#[non_exhaustive]
pub struct MintedScopedKey {
    /// The key.
    pub key: ScopedKey,
    /// Its metadata.
    pub info: ScopedKeyInfo,
}

impl Serialize for MintedScopedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            scoped_key: &'a str,
            #[serde(flatten)]
            info: &'a ScopedKeyInfo,
        }
        Wire {
            scoped_key: self.key.expose_secret(),
            info: &self.info,
        }
        .serialize(s)
    }
}

/// `{prefix}{base64url(raw)}{checksum}`: the key text of `raw` (body and
/// MAC).
fn encode_key(prefix: &str, raw: &[u8]) -> Option<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::with_capacity(
        prefix.len() + ENCODED_LEN + CHECKSUM_LEN,
    ));
    text.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(raw, &mut text);
    let sum = checksum(prefix.as_bytes(), text.as_bytes().get(prefix.len()..)?);
    URL_SAFE_NO_PAD.encode_string(sum, &mut text);
    Some(text)
}

fn body_of(record: &ScopedKeyRecord) -> Option<[u8; BODY_LEN]> {
    let id = record.id.to_bytes()?;
    let expires = record.expires_at.map_or(0, OffsetDateTime::unix_timestamp);
    let mut body = [0u8; BODY_LEN];
    body[0] = VERSION;
    body[1] = record.signing_key_id;
    body[2..18].copy_from_slice(&id);
    body[18..34].copy_from_slice(&record.nonce);
    body[34..42].copy_from_slice(&expires.to_be_bytes());
    Some(body)
}

impl<S: Storage> AuthorizationServer<S> {
    /// The key text of `record`: its body signed under the key ring.
    pub(crate) fn scoped_key_text(&self, record: &ScopedKeyRecord) -> Option<ScopedKey> {
        let config = self.config();
        let prefix = config.prefixes().scoped_key();
        let body = body_of(record)?;
        let mac = config
            .keys()
            .sign(record.signing_key_id, DOMAIN, &[prefix.as_bytes(), &body])?;
        let mut raw = Zeroizing::new([0u8; BODY_LEN + MAC_LEN]);
        raw[..BODY_LEN].copy_from_slice(&body);
        raw[BODY_LEN..].copy_from_slice(&mac);
        encode_key(prefix, raw.as_slice())
            .map(|text| ScopedKey(crate::credentials::Secret::from(text)))
    }

    /// A new scoped-key record (not yet stored) with fresh id and nonce,
    /// signed by the ring's current key.
    #[allow(clippy::too_many_arguments)] // every field of the record
    pub(crate) fn new_scoped_key_record(
        &self,
        app: &crate::OAuthApp,
        customer_id: CustomerId,
        reference_id: String,
        grant_id: GrantId,
        scopes: ScopeSet,
        label: Option<String>,
        lifetime: Option<Duration>,
    ) -> Result<ScopedKeyRecord, RandomError> {
        let config = self.config();
        let now = self.now();
        Ok(ScopedKeyRecord {
            id: ScopedKeyId::from_bytes(&random_array::<16>(config.rng())?),
            workspace_id: app.workspace_id.clone(),
            app_id: app.id.clone(),
            client_id: app.client_id.clone(),
            customer_id,
            reference_id,
            grant_id,
            scopes,
            label,
            nonce: random_array::<16>(config.rng())?,
            signing_key_id: config.keys().current_id(),
            created_at: now,
            // Whole seconds: the key carries its expiry as a Unix time.
            expires_at: lifetime
                .map(|l| now + l)
                .map(|at| at.replace_nanosecond(0).unwrap_or(at)),
            revoked_at: None,
        })
    }

    /// Verifies a scoped key: format and checksum, the signature (one HMAC),
    /// the expiry, and then — only for a key that passed all of that — one
    /// storage read for revocation and the app's existence.
    ///
    /// # Errors
    ///
    /// A [`ScopedKeyError`] saying why.
    ///
    /// # Security
    ///
    /// The signature is checked in constant time; nothing about the key
    /// reaches storage before it verifies.
    pub async fn verify_scoped_key(
        &self,
        presented: &str,
    ) -> Result<ScopedKeyPrincipal, ScopedKeyError> {
        // Everything before the storage read is synchronous, so that none of
        // the decoded key is kept (or copied) in the future's state.
        let checked = self.check_scoped_key(presented)?;
        let record = self
            .storage()
            .get_scoped_key(&ScopedKeyId::from_bytes(&checked.id))
            .await?
            .ok_or(ScopedKeyError::Revoked)?;
        let nonce_matches = bool::from(record.nonce.as_slice().ct_eq(&checked.nonce));
        if !nonce_matches
            || record.signing_key_id != checked.signing_key_id
            || record.revoked_at.is_some()
        {
            return Err(ScopedKeyError::Revoked);
        }
        Ok(ScopedKeyPrincipal {
            key_id: record.id,
            workspace_id: record.workspace_id,
            app_id: record.app_id,
            client_id: record.client_id,
            customer_id: record.customer_id,
            reference_id: record.reference_id,
            scopes: record.scopes,
            issued_at: record.created_at,
            expires_at: record.expires_at,
        })
    }

    /// The format, checksum, signature and expiry of a presented scoped key;
    /// what the storage read then needs.
    fn check_scoped_key(&self, presented: &str) -> Result<CheckedKey, ScopedKeyError> {
        let config = self.config();
        let prefix = config.prefixes().scoped_key();
        if presented.len() > MAX_PRESENTED_LEN {
            return Err(ScopedKeyError::Malformed);
        }
        let rest = presented
            .strip_prefix(prefix)
            .ok_or(ScopedKeyError::Malformed)?
            .as_bytes();
        if rest.len() != ENCODED_LEN + CHECKSUM_LEN || !all_base64url(rest) {
            return Err(ScopedKeyError::Malformed);
        }
        let (encoded, sum) = rest.split_at(ENCODED_LEN);
        let mut expected = [0u8; CHECKSUM_LEN];
        URL_SAFE_NO_PAD
            .encode_slice(checksum(prefix.as_bytes(), encoded), &mut expected)
            .map_err(|_| ScopedKeyError::Malformed)?;
        if expected.as_slice() != sum {
            return Err(ScopedKeyError::Malformed);
        }
        let mut raw = Zeroizing::new([0u8; BODY_LEN + MAC_LEN + 2]);
        let len = URL_SAFE_NO_PAD
            .decode_slice(encoded, raw.as_mut_slice())
            .map_err(|_| ScopedKeyError::Malformed)?;
        if len != BODY_LEN + MAC_LEN {
            return Err(ScopedKeyError::Malformed);
        }
        let (body, mac) = raw[..len].split_at(BODY_LEN);
        if body[0] != VERSION {
            return Err(ScopedKeyError::Malformed);
        }
        let signing_key_id = body[1];
        if !config
            .keys()
            .verify(signing_key_id, DOMAIN, &[prefix.as_bytes(), body], mac)
        {
            return Err(ScopedKeyError::BadSignature);
        }
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&body[34..42]);
        let expiry = i64::from_be_bytes(expiry);
        if expiry != 0 && self.now().unix_timestamp() >= expiry {
            return Err(ScopedKeyError::Expired);
        }
        let mut checked = CheckedKey {
            id: [0u8; 16],
            nonce: [0u8; 16],
            signing_key_id,
        };
        checked.id.copy_from_slice(&body[2..18]);
        checked.nonce.copy_from_slice(&body[18..34]);
        Ok(checked)
    }

    /// Mints a scoped key for a customer the client's app holds a grant for
    /// (`POST /v1/scoped-keys`). The key is returned once.
    ///
    /// The key belongs to the grant of the app's connection to the customer
    /// (the most recently changed active one, when several linked accounts
    /// are connected): revoking that connection, or its grant, revokes the
    /// key. Storage writes it only if that connection is still active, its
    /// grant live and the app present at that moment (one atomic step), so
    /// a key is never minted for a connection, customer or app being
    /// revoked or deleted concurrently.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field: no customer given, an unknown
    /// customer, no active grant of this app for them (also when it was
    /// revoked while minting), scopes beyond the grant, a lifetime out of
    /// range, a label too long; [`AuthFailure::ConfidentialClientRequired`].
    pub async fn mint_scoped_key(
        &self,
        client: &AuthenticatedClient,
        request: &NewScopedKey,
    ) -> Result<MintedScopedKey, Error> {
        if !client.authenticated {
            return Err(AuthFailure::ConfidentialClientRequired.into());
        }
        let app = &client.app;
        let ws = &app.workspace_id;
        let storage = self.storage();
        let customer =
            match (&request.customer_id, &request.reference_id) {
                (Some(id), reference) => {
                    let id = CustomerId::parse(id).map_err(|_| {
                        FieldError::new(
                            "customerId",
                            Problem::Connect(ConnectProblem::UnknownCustomer),
                        )
                    })?;
                    let customer = storage.get_customer(ws, Some(&app.id), &id).await?.ok_or(
                        FieldError::new(
                            "customerId",
                            Problem::Connect(ConnectProblem::UnknownCustomer),
                        ),
                    )?;
                    if reference
                        .as_ref()
                        .is_some_and(|r| *r != customer.reference_id)
                    {
                        return Err(FieldError::new("referenceId", Problem::Mismatch).into());
                    }
                    customer
                }
                (None, Some(reference)) => storage
                    .find_customer(ws, &app.id, reference)
                    .await?
                    .ok_or(FieldError::new(
                        "referenceId",
                        Problem::Connect(ConnectProblem::UnknownCustomer),
                    ))?,
                (None, None) => return Err(FieldError::new("customerId", Problem::Required).into()),
            };
        let connection = storage
            .find_connection(&app.id, &customer.reference_id)
            .await?
            .ok_or(FieldError::new(
                "customerId",
                Problem::Connect(ConnectProblem::NoGrant),
            ))?;
        let grant = storage
            .get_grant(&connection.grant_id)
            .await?
            .filter(|g| g.revoked_at.is_none())
            .ok_or(FieldError::new(
                "customerId",
                Problem::Connect(ConnectProblem::NoGrant),
            ))?;
        let scopes = match &request.scopes {
            None => grant.scopes.clone(),
            Some(tokens) => {
                let set = ScopeSet::from_tokens(tokens)
                    .map_err(|e| FieldError::new("scopes", e.into()))?;
                if set.is_empty() {
                    return Err(FieldError::new("scopes", Problem::TooFew { min: 1 }).into());
                }
                if !set.is_subset_of(&grant.scopes) {
                    return Err(FieldError::new("scopes", Problem::ScopeNotAllowed).into());
                }
                set
            }
        };
        let lifetime = match request.expires_in {
            None => None,
            Some(seconds) => {
                let lifetime = Duration::seconds(seconds);
                if lifetime < MIN_LIFETIME || lifetime > MAX_LIFETIME {
                    return Err(FieldError::new(
                        "expiresIn",
                        Problem::OutOfRange {
                            min: 60,
                            max: MAX_LIFETIME.whole_seconds().unsigned_abs(),
                        },
                    )
                    .into());
                }
                Some(lifetime)
            }
        };
        if let Some(label) = &request.label
            && (label.chars().count() > 255 || label.chars().any(char::is_control))
        {
            return Err(FieldError::new("label", Problem::TooLong { max: 255 }).into());
        }
        let record = self.new_scoped_key_record(
            app,
            customer.id.clone(),
            customer.reference_id.clone(),
            grant.id.clone(),
            scopes,
            request.label.clone(),
            lifetime,
        )?;
        let key = self.scoped_key_text(&record).ok_or(RandomError)?;
        match storage.insert_scoped_key(&record).await? {
            ScopedKeyInsert::Inserted => {}
            // Revoked (or its app deleted) since it was read above.
            _ => {
                return Err(FieldError::new(
                    "customerId",
                    Problem::Connect(ConnectProblem::NoGrant),
                )
                .into());
            }
        }
        Ok(MintedScopedKey {
            key,
            info: ScopedKeyInfo::from(&record),
        })
    }

    /// Revokes one of the client's app's scoped keys. `false` when there is
    /// no such live key of this app.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub async fn revoke_scoped_key(
        &self,
        client: &AuthenticatedClient,
        id: &ScopedKeyId,
    ) -> Result<bool, StorageError> {
        let app = &client.app;
        self.storage()
            .revoke_scoped_key(&app.workspace_id, &app.id, id, self.now())
            .await
    }

    /// Revokes every live scoped key of a customer; how many.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub async fn revoke_customer_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        customer: &CustomerId,
    ) -> Result<u64, StorageError> {
        self.storage()
            .revoke_customer_scoped_keys(workspace, customer, self.now())
            .await
    }

    /// A page of scoped-key metadata in a workspace, optionally of one app
    /// and/or one customer.
    ///
    /// # Errors
    ///
    /// [`FieldError`] for a page out of range; storage failures.
    pub async fn list_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        customer: Option<&CustomerId>,
        page: crate::PageRequest,
    ) -> Result<crate::Paged<ScopedKeyInfo>, Error> {
        let offset = page.offset()?;
        let listing = self
            .storage()
            .list_scoped_keys(workspace, app, customer, offset, page.per_page)
            .await?;
        Ok(crate::Paged::new(
            listing.items.iter().map(ScopedKeyInfo::from).collect(),
            listing.total,
            page,
        ))
    }

    /// A scoped key presented at the revocation endpoint: revoked when it
    /// verifies and belongs to the calling client's app; an invalid,
    /// expired or already revoked key succeeds silently (RFC 7009 §2.2);
    /// another client's key is refused and stays valid.
    pub(crate) async fn revoke_presented_scoped_key(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<(), TokenError> {
        let key = match self.verify_scoped_key(token).await {
            Ok(key) => key,
            Err(ScopedKeyError::Storage(e)) => return Err(e.into()),
            Err(_) => return Ok(()),
        };
        if key.client_id != client.app.client_id {
            return Err(TokenError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the token was issued to another client",
            ));
        }
        self.revoke_scoped_key(client, &key.key_id).await?;
        Ok(())
    }

    /// A scoped key presented at the introspection endpoint (RFC 7662
    /// §2.2): active when it verifies and belongs to the calling client's
    /// app; anything else is `{"active": false}`.
    pub(crate) async fn introspect_scoped_key(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<Introspection, TokenError> {
        match self.verify_scoped_key(token).await {
            Ok(key) if key.client_id == client.app.client_id => Ok(Introspection {
                active: true,
                scope: Some(key.scopes.to_param()),
                client_id: Some(key.client_id),
                sub: Subject::parse(&key.reference_id).ok(),
                exp: key.expires_at.map(OffsetDateTime::unix_timestamp),
                iat: Some(key.issued_at.unix_timestamp()),
                token_type: Some("scoped_key"),
                iss: Some(self.config().issuer_str().to_owned()),
            }),
            Err(ScopedKeyError::Storage(e)) => Err(e.into()),
            Ok(_) | Err(_) => Ok(Introspection::inactive()),
        }
    }
}

#[cfg(test)]
mod tests;
