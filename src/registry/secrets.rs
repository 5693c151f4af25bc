//! Client secrets: rotation (with a grace period for the previous secret)
//! and client authentication (RFC 6749 §2.3).

use serde::de::{Deserializer, Error as _};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

use crate::credentials::ClientSecret;
use crate::error::{AuthFailure, Conflict, Error, FieldError, Problem, Resource};
use crate::model::app::OAuthApp;
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::timestamp::rfc3339_ms_option;
use crate::server::AuthorizationServer;
use crate::storage::{AppRecord, SecretRotation, Storage, StorageErrorKind};

/// The result of a secret rotation: the new secret, shown once.
#[derive(Debug)]
#[non_exhaustive]
pub struct RotatedSecret {
    /// The app's client id.
    pub client_id: ClientId,
    /// The new secret.
    pub client_secret: ClientSecret,
    /// Until when the previous secret keeps working; `None` when it stopped
    /// at once.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

impl Serialize for RotatedSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            client_id: &'a ClientId,
            client_secret: &'a str,
            #[serde(with = "rfc3339_ms_option", skip_serializing_if = "Option::is_none")]
            previous_secret_expires_at: Option<OffsetDateTime>,
        }
        Wire {
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
            previous_secret_expires_at: self.previous_secret_expires_at,
        }
        .serialize(s)
    }
}

/// A client that proved its identity (RFC 6749 §2.3), or a public client
/// that identified itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthenticatedClient {
    /// The client's app.
    pub app: OAuthApp,
    /// Whether a confidential client authenticated with its secret (false
    /// for a public client, which has none).
    pub authenticated: bool,
    /// Whether the secret used was the previous one, within its grace
    /// period; a hint to finish the rotation.
    pub used_previous_secret: bool,
}

impl<S: Storage> AuthorizationServer<S> {
    /// Gives a confidential app a new client secret.
    ///
    /// With `grace` of `None` or zero the old secret stops working at once;
    /// otherwise both work until `grace` has passed (zero-downtime rotation),
    /// then only the new one. `grace` is capped by
    /// [`max_secret_grace`](crate::AuthorizationServerBuilder::max_secret_grace).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming `gracePeriodSeconds` when out of
    /// range; [`Error::NotFound`]; [`Error::PublicApp`];
    /// [`Error::Conflict`] when a concurrent rotation won (nothing
    /// changed, and the secret it returned is the valid one).
    pub async fn rotate_client_secret(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        grace: Option<Duration>,
    ) -> Result<RotatedSecret, Error> {
        let config = self.config();
        let max = config.max_secret_grace();
        let grace = grace.filter(|g| !g.is_zero());
        if let Some(g) = grace
            && (g.is_negative() || g > max)
        {
            return Err(FieldError::new(
                "gracePeriodSeconds",
                Problem::OutOfRange {
                    min: 0,
                    max: u64::try_from(max.whole_seconds()).unwrap_or(0),
                },
            )
            .into());
        }
        let record = self
            .storage()
            .get_app(workspace, id)
            .await?
            .ok_or(Error::NotFound(Resource::App))?;
        let current = record.secret.ok_or(Error::PublicApp)?.current;
        let (secret, new_current) =
            ClientSecret::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        let now = self.now();
        let previous_valid_until = grace.map(|g| now + g);
        let rotation = SecretRotation {
            expected_current: current,
            new_current,
            previous_valid_until,
            updated_at: now,
        };
        match self
            .storage()
            .rotate_client_secret(workspace, id, &rotation)
            .await
        {
            Ok(Some(record)) => {
                config
                    .events()
                    .emit(&crate::hooks::events::Event::SecretRotated {
                        workspace_id: workspace.clone(),
                        app_id: id.clone(),
                        with_grace: previous_valid_until.is_some(),
                    });
                Ok(RotatedSecret {
                    client_id: record.app.client_id,
                    client_secret: secret,
                    previous_secret_expires_at: previous_valid_until,
                })
            }
            Ok(None) => Err(Error::NotFound(Resource::App)),
            Err(e) if e.kind() == StorageErrorKind::Conflict => {
                Err(Error::Conflict(Conflict::Concurrent))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Authenticates a client by id and secret (RFC 6749 §2.3.1).
    ///
    /// A confidential client must present its current secret, or its
    /// previous one within the grace period of a rotation. A public client
    /// presents no secret and is identified, not authenticated.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] with the [`AuthFailure`] (on the wire
    /// every case is `invalid_client`); storage failures.
    ///
    /// # Security
    ///
    /// The secret is checked for its prefix and checksum before any storage
    /// lookup, then compared as a keyed hash in constant time.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<AuthenticatedClient, Error> {
        self.authenticate_client_prefetched(client_id, secret, None, None)
            .await
    }

    /// The client id a lookup for [`authenticate_client`](Self::authenticate_client)
    /// would read, `None` when it would fail before any lookup for a
    /// malformed id (see [`is_well_formed_secret`](Self::is_well_formed_secret)
    /// for the secret).
    pub(crate) fn client_to_look_up(&self, client_id: &str) -> Option<ClientId> {
        let client_id = ClientId::parse(client_id).ok()?;
        client_id
            .as_str()
            .starts_with(self.config().prefixes().client_id())
            .then_some(client_id)
    }

    /// Whether a presented client secret (if any) could pass
    /// [`authenticate_client`](Self::authenticate_client): one that cannot
    /// fails before any lookup.
    pub(crate) fn is_well_formed_secret(&self, secret: Option<&str>) -> bool {
        secret.is_none_or(|s| ClientSecret::is_well_formed(self.config().prefixes(), s))
    }

    /// As [`authenticate_client`](Self::authenticate_client), with the id
    /// already checked when `checked` is `Some` (what
    /// [`client_to_look_up`](Self::client_to_look_up) gave for
    /// `client_id`) and the app's record already read when `prefetched` is
    /// `Some` (what `get_app_by_client_id` returned for that id).
    pub(crate) async fn authenticate_client_prefetched(
        &self,
        client_id: &str,
        secret: Option<&str>,
        checked: Option<ClientId>,
        prefetched: Option<Option<AppRecord>>,
    ) -> Result<AuthenticatedClient, Error> {
        let config = self.config();
        let client_id = match checked {
            Some(id) => id,
            None => {
                let id = ClientId::parse(client_id).map_err(|_| AuthFailure::UnknownClient)?;
                if !id.as_str().starts_with(config.prefixes().client_id()) {
                    return Err(AuthFailure::UnknownClient.into());
                }
                id
            }
        };
        // Checked (and hashed: no copy of the secret is made) before the
        // lookup: a mistyped secret costs no storage call. `Some(None)`: a
        // well-formed secret under a key no longer in the ring.
        let presented = secret
            .map(|s| {
                ClientSecret::hash_presented(config.prefixes(), config.keys(), s)
                    .map_err(|_| AuthFailure::InvalidSecret)
            })
            .transpose()?;
        let record = match prefetched {
            Some(record) => record,
            None => self.storage().get_app_by_client_id(&client_id).await?,
        }
        .ok_or(AuthFailure::UnknownClient)?;
        let state = match (&record.secret, &presented) {
            (None, None) => {
                return Ok(AuthenticatedClient {
                    app: record.app,
                    authenticated: false,
                    used_previous_secret: false,
                });
            }
            (None, Some(_)) => return Err(AuthFailure::UnexpectedSecret.into()),
            (Some(_), None) => return Err(AuthFailure::MissingSecret.into()),
            (Some(state), Some(_)) => state,
        };
        let hash = presented.flatten().ok_or(AuthFailure::InvalidSecret)?;
        let is_current = bool::from(hash.ct_eq(&state.current));
        let is_previous = state.previous.as_ref().is_some_and(|previous| {
            bool::from(hash.ct_eq(&previous.hash)) && self.now() < previous.valid_until
        });
        if is_current || is_previous {
            Ok(AuthenticatedClient {
                app: record.app,
                authenticated: true,
                used_previous_secret: !is_current,
            })
        } else {
            Err(AuthFailure::InvalidSecret.into())
        }
    }
}

impl<'de> Deserialize<'de> for RotateSecretRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Wire {
            // Left out: no grace; JSON `null` is refused, as the OpenAPI
            // document says (an integer).
            #[serde(default, deserialize_with = "present_integer")]
            grace_period_seconds: Option<i64>,
        }
        fn present_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            i64::deserialize(d).map(Some)
        }
        let wire = Wire::deserialize(d)?;
        match wire.grace_period_seconds {
            Some(s) if s < 0 => Err(D::Error::custom("gracePeriodSeconds must not be negative")),
            s => Ok(Self {
                grace_period: s.map(Duration::seconds),
            }),
        }
    }
}

/// The optional body of `POST /v1/oauth-apps/{id}/rotate-secret`:
/// `{ "gracePeriodSeconds": 3600 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotateSecretRequest {
    /// How long the old secret keeps working.
    pub grace_period: Option<Duration>,
}
