//! The typed webhook API of [`AuthorizationServer`]: endpoints, their
//! secrets and deliveries.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::WebhookEventType;
use super::signing::{SealError, WebhookSecret};
use crate::config::{WebhookDestinations, is_loopback};
use crate::model::ids::{AppId, WorkspaceId};
use crate::model::random::{RandomError, random_array};
use crate::model::timestamp::rfc3339_ms;
use crate::server::AuthorizationServer;
use crate::storage::webhooks::{DeliveryRecord, EndpointChanges, EndpointRecord};
use crate::storage::{Storage, StorageError, StorageErrorKind};

/// The most endpoints one app may register.
pub const MAX_WEBHOOK_ENDPOINTS_PER_APP: usize = 16;

/// The longest endpoint URL accepted, in bytes.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;

/// The most deliveries `GET …/deliveries` lists.
pub(crate) const MAX_LISTED_DELIVERIES: u32 = 100;

/// Why a webhook API call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A field failed validation; nothing was written.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field, as the JSON API names it.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No such app, endpoint or delivery (another workspace's or app's is
    /// reported the same way).
    #[error("not found")]
    NotFound,
    /// The app has [`MAX_WEBHOOK_ENDPOINTS_PER_APP`] endpoints already.
    #[error("an app may have at most {MAX_WEBHOOK_ENDPOINTS_PER_APP} webhook endpoints")]
    TooMany,
    /// The backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The random source failed.
    #[error("{0}")]
    Random(#[from] RandomError),
    /// The secret could not be sealed or opened with the key ring.
    #[error("{0}")]
    Seal(#[from] SealError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> WebhookError {
    WebhookError::Invalid {
        field,
        message: message.into(),
    }
}

/// The body of `POST /v1/oauth-apps/{id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct NewWebhookEndpoint {
    /// Where messages are posted: `https://…`, or `http://` to a loopback
    /// address when the server allows loopback destinations.
    pub url: String,
    /// The event types to receive (names such as `connection.revoked`); at
    /// least one.
    pub events: Vec<String>,
}

impl NewWebhookEndpoint {
    /// An endpoint for `url` receiving `events`.
    pub fn new(url: impl Into<String>, events: Vec<String>) -> Self {
        Self {
            url: url.into(),
            events,
        }
    }
}

/// The body of `PATCH /v1/oauth-apps/{id}/webhooks/{whId}`; at least one
/// field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookEndpointUpdate {
    /// A new URL.
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<String>>,
    /// Enable or disable deliveries.
    pub enabled: Option<bool>,
}

/// A webhook endpoint as the API shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// `whk_…`.
    pub id: String,
    /// The app.
    pub app_id: AppId,
    /// Where messages are posted.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<WebhookEventType>,
    /// Whether deliveries are made (an endpoint failing for a day is
    /// disabled).
    pub enabled: bool,
    /// Created.
    #[serde(with = "rfc3339_ms")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "rfc3339_ms")]
    pub updated_at: OffsetDateTime,
}

impl From<&EndpointRecord> for WebhookEndpoint {
    fn from(r: &EndpointRecord) -> Self {
        Self {
            id: r.id.clone(),
            app_id: r.app_id.clone(),
            url: r.url.clone(),
            events: r.events.clone(),
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new endpoint with its signing secret, shown only here.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`).
    #[serde(serialize_with = "expose")]
    pub secret: WebhookSecret,
}

/// A rotated endpoint secret, shown only here.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotatedWebhookSecret {
    /// The new signing secret (`whsec_…`).
    #[serde(serialize_with = "expose")]
    pub secret: WebhookSecret,
    /// Until when the previous secret also signs every message.
    #[serde(
        with = "crate::model::timestamp::rfc3339_ms_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

fn expose<S: serde::Serializer>(secret: &WebhookSecret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

/// Validates an endpoint URL against the destinations allowed.
pub(crate) fn check_url(raw: &str, allowed: WebhookDestinations) -> Result<String, WebhookError> {
    if raw.len() > MAX_WEBHOOK_URL_LEN {
        return Err(invalid(
            "url",
            format!("must be at most {MAX_WEBHOOK_URL_LEN} bytes"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|_| invalid("url", "must be an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url", "must not contain credentials"));
    }
    if url.fragment().is_some() {
        return Err(invalid("url", "must not have a fragment"));
    }
    let host = url
        .host()
        .ok_or_else(|| invalid("url", "must have a host"))?;
    let literal: Option<IpAddr> = match &host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(*v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(*v6)),
        url::Host::Domain(_) => None,
    };
    let loopback_name = matches!(&host, url::Host::Domain(d)
        if d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost"));
    let loopback = loopback_name || literal.is_some_and(is_loopback);
    if loopback && !allowed.loopback {
        return Err(invalid(
            "url",
            "points at a loopback address, which this server does not allow",
        ));
    }
    if let Some(ip) = literal
        && !loopback
        && !allowed.allows(ip)
    {
        return Err(invalid(
            "url",
            "points at a private, link-local or reserved address, which this server does not allow",
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(invalid(
                "url",
                "must use https (plain http only to a loopback address, when allowed)",
            ));
        }
        _ => return Err(invalid("url", "must be an https URL")),
    }
    Ok(url.to_string())
}

fn parse_events(names: &[String]) -> Result<Vec<WebhookEventType>, WebhookError> {
    if names.is_empty() {
        return Err(invalid("events", "must name at least one event type"));
    }
    let mut events = Vec::with_capacity(names.len());
    for name in names {
        let t = WebhookEventType::parse(name)
            .ok_or_else(|| invalid("events", "names an unknown event type"))?;
        if !events.contains(&t) {
            events.push(t);
        }
    }
    events.sort();
    Ok(events)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S: Storage> AuthorizationServer<S> {
    async fn webhook_app(&self, workspace: &WorkspaceId, app: &AppId) -> Result<(), WebhookError> {
        match self.storage().get_app(workspace, app).await? {
            Some(_) => Ok(()),
            None => Err(WebhookError::NotFound),
        }
    }

    /// Registers a webhook endpoint for an app; the answer carries its
    /// signing secret, shown only here.
    ///
    /// # Errors
    ///
    /// [`WebhookError::Invalid`] for a bad URL (not `https`, a private
    /// destination the server does not allow, credentials in it) or event
    /// list; [`WebhookError::NotFound`] for an unknown app;
    /// [`WebhookError::TooMany`].
    ///
    /// # Security
    ///
    /// Storage keeps the secret encrypted under the server key ring.
    pub async fn create_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        new: &NewWebhookEndpoint,
    ) -> Result<CreatedWebhookEndpoint, WebhookError> {
        let config = self.config();
        let url = check_url(&new.url, config.webhook_destinations())?;
        let events = parse_events(&new.events)?;
        self.webhook_app(workspace, app).await?;
        let rng = config.rng();
        let id = format!("whk_{}", hex(&random_array::<16>(rng)?));
        let secret = WebhookSecret::generate(rng)?;
        let now = crate::model::timestamp::truncate_ms(self.now());
        let record = EndpointRecord {
            secret: secret.seal(config.keys(), &id, rng)?,
            id,
            workspace_id: workspace.clone(),
            app_id: app.clone(),
            url,
            events,
            enabled: true,
            previous_secret: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        match self
            .storage()
            .insert_webhook_endpoint(&record, MAX_WEBHOOK_ENDPOINTS_PER_APP)
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind() == StorageErrorKind::Conflict => return Err(WebhookError::TooMany),
            Err(e) => return Err(e.into()),
        }
        Ok(CreatedWebhookEndpoint {
            endpoint: WebhookEndpoint::from(&record),
            secret,
        })
    }

    /// The app's webhook endpoints, oldest first.
    ///
    /// # Errors
    ///
    /// [`WebhookError::NotFound`] for an unknown app; storage failures.
    pub async fn list_webhook_endpoints(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
    ) -> Result<Vec<WebhookEndpoint>, WebhookError> {
        self.webhook_app(workspace, app).await?;
        let list = self
            .storage()
            .list_webhook_endpoints(workspace, app)
            .await?;
        Ok(list.iter().map(WebhookEndpoint::from).collect())
    }

    /// One webhook endpoint of the app.
    ///
    /// # Errors
    ///
    /// [`WebhookError::NotFound`]; storage failures.
    pub async fn get_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<WebhookEndpoint, WebhookError> {
        self.storage()
            .get_webhook_endpoint(workspace, app, id)
            .await?
            .map(|r| WebhookEndpoint::from(&r))
            .ok_or(WebhookError::NotFound)
    }

    /// Changes an endpoint's URL, event types or whether it is enabled.
    ///
    /// # Errors
    ///
    /// [`WebhookError::Invalid`] (also for an update that changes
    /// nothing); [`WebhookError::NotFound`]; storage failures.
    pub async fn update_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
        update: &WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint, WebhookError> {
        if update.url.is_none() && update.events.is_none() && update.enabled.is_none() {
            return Err(invalid(
                "body",
                "at least one of url, events, enabled is required",
            ));
        }
        let url = match &update.url {
            Some(url) => Some(check_url(url, self.config().webhook_destinations())?),
            None => None,
        };
        let events = match &update.events {
            Some(names) => Some(parse_events(names)?),
            None => None,
        };
        let changes = EndpointChanges {
            url,
            events,
            enabled: update.enabled,
            secret: None,
            updated_at: crate::model::timestamp::truncate_ms(self.now()),
        };
        self.storage()
            .update_webhook_endpoint(workspace, app, id, &changes)
            .await?
            .map(|r| WebhookEndpoint::from(&r))
            .ok_or(WebhookError::NotFound)
    }

    /// Deletes an endpoint and its deliveries.
    ///
    /// # Errors
    ///
    /// [`WebhookError::NotFound`]; storage failures.
    pub async fn delete_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<(), WebhookError> {
        if self
            .storage()
            .delete_webhook_endpoint(workspace, app, id)
            .await?
        {
            Ok(())
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// Gives an endpoint a new signing secret. With a grace period (at
    /// most the server's [maximum secret
    /// grace](crate::AuthorizationServerBuilder::max_secret_grace)) the old
    /// secret keeps signing too until it ends: each message then carries
    /// both signatures.
    ///
    /// # Errors
    ///
    /// [`WebhookError::Invalid`] for a grace period out of range;
    /// [`WebhookError::NotFound`]; storage failures.
    pub async fn rotate_webhook_secret(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
        grace: Option<Duration>,
    ) -> Result<RotatedWebhookSecret, WebhookError> {
        let config = self.config();
        if let Some(grace) = grace
            && (grace.is_negative() || grace > config.max_secret_grace())
        {
            return Err(invalid(
                "gracePeriodSeconds",
                format!(
                    "must be between 0 and {}",
                    config.max_secret_grace().whole_seconds()
                ),
            ));
        }
        let now = crate::model::timestamp::truncate_ms(self.now());
        let until = grace.filter(|g| g.is_positive()).map(|g| now + g);
        let secret = WebhookSecret::generate(config.rng())?;
        let changes = EndpointChanges {
            url: None,
            events: None,
            enabled: None,
            secret: Some((secret.seal(config.keys(), id, config.rng())?, until)),
            updated_at: now,
        };
        match self
            .storage()
            .update_webhook_endpoint(workspace, app, id, &changes)
            .await?
        {
            Some(_) => Ok(RotatedWebhookSecret {
                secret,
                previous_secret_expires_at: until,
            }),
            None => Err(WebhookError::NotFound),
        }
    }

    /// The endpoint's most recent deliveries, newest first (at most 100).
    ///
    /// # Errors
    ///
    /// [`WebhookError::NotFound`]; storage failures.
    pub async fn list_webhook_deliveries(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
    ) -> Result<Vec<DeliveryRecord>, WebhookError> {
        self.get_webhook_endpoint(workspace, app, endpoint).await?;
        Ok(self
            .storage()
            .list_webhook_deliveries(workspace, app, endpoint, MAX_LISTED_DELIVERIES)
            .await?)
    }

    /// Makes a delivery due again now, whatever its status (a receiver
    /// that was fixed asks for a failed message again).
    ///
    /// # Errors
    ///
    /// [`WebhookError::NotFound`]; storage failures.
    pub async fn retry_webhook_delivery(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        delivery: &str,
    ) -> Result<DeliveryRecord, WebhookError> {
        let now = self.now();
        self.storage()
            .retry_webhook_delivery(workspace, app, endpoint, delivery, now)
            .await?
            .ok_or(WebhookError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_urls_are_refused_by_default() {
        let public = WebhookDestinations::public_only();
        for url in [
            "https://10.0.0.5/hook",
            "https://192.168.1.1/hook",
            "https://172.16.0.1/hook",
            "https://169.254.169.254/latest",
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://[fe80::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://localhost/hook",
            "https://100.64.0.1/hook",
            "https://0.0.0.0/hook",
        ] {
            assert!(
                matches!(
                    check_url(url, public),
                    Err(WebhookError::Invalid { field: "url", .. })
                ),
                "{url}"
            );
        }
        assert!(check_url("https://hooks.example.com/x", public).is_ok());
        assert!(check_url("https://93.184.216.34/x", public).is_ok());
    }

    #[test]
    fn http_only_to_loopback_when_allowed() {
        let demo = WebhookDestinations::with_loopback();
        assert!(check_url("http://127.0.0.1:8080/hook", demo).is_ok());
        assert!(check_url("http://localhost:8080/hook", demo).is_ok());
        assert!(check_url("http://hooks.example.com/x", demo).is_err());
        assert!(check_url("https://10.1.2.3/x", demo).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/x", demo).is_err());
        assert!(check_url("ftp://hooks.example.com/x", demo).is_err());
        let private = WebhookDestinations {
            loopback: false,
            private: true,
        };
        assert!(check_url("https://10.1.2.3/x", private).is_ok());
        assert!(check_url("http://10.1.2.3/x", private).is_err());
    }

    #[test]
    fn events_are_checked_and_deduplicated() {
        let names = vec![
            "connection.revoked".to_owned(),
            "connection.revoked".to_owned(),
        ];
        assert_eq!(
            parse_events(&names).unwrap(),
            [WebhookEventType::ConnectionRevoked]
        );
        assert!(parse_events(&[]).is_err());
        assert!(parse_events(&["nope".to_owned()]).is_err());
    }
}
