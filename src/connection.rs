//! Connections — what a completed Connect session leaves — as the API shows
//! them: listed with filters, read, tags edited, revoked.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{FieldError, Problem, RegistryError};
use crate::events::Event;
use crate::ids::{AppId, ConnectionId, CustomerId, WorkspaceId};
use crate::registration::{Page, PageRequest};
use crate::server::AuthorizationServer;
use crate::storage::{
    ConnectionFilter, ConnectionRecord, ConnectionStatus, Storage, TagEdit, TagUpdate,
};
use crate::timestamp::rfc3339_ms;

/// A connection as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Connection {
    /// `conn_…`
    pub id: ConnectionId,
    /// The app.
    pub app_id: AppId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The customer's reference id.
    pub reference_id: String,
    /// The provider linked, if the flow had a link step.
    pub provider: Option<String>,
    /// The linked account's opaque reference.
    pub account_reference: Option<String>,
    /// The linked account's label.
    pub account_label: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// `active` or `revoked`.
    pub status: ConnectionStatus,
    /// Made through a browser-created session.
    pub browser_created: bool,
    /// When created.
    #[serde(with = "rfc3339_ms")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "rfc3339_ms")]
    pub updated_at: OffsetDateTime,
}

impl From<ConnectionRecord> for Connection {
    fn from(c: ConnectionRecord) -> Self {
        let (provider, account_reference, account_label) = match c.linked {
            Some(l) => (Some(l.provider), Some(l.account_reference), Some(l.label)),
            None => (None, None, None),
        };
        Self {
            id: c.id,
            app_id: c.app_id,
            customer_id: c.customer_id,
            reference_id: c.reference_id,
            provider,
            account_reference,
            account_label,
            tags: c.tags,
            status: c.status,
            browser_created: c.browser_created,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The body of `PATCH /v1/connections/{id}`: replace the tags, or add and
/// remove some; at least one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ConnectionUpdate {
    /// Replace all tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Add these.
    #[serde(default)]
    pub add_tags: Option<Vec<String>>,
    /// Remove these.
    #[serde(default)]
    pub remove_tags: Option<Vec<String>>,
}

fn check_tag_list(tags: &[String], field: &'static str) -> Result<Vec<String>, FieldError> {
    crate::connect::check_tags(tags, field)
}

impl<S: Storage> AuthorizationServer<S> {
    /// A page of the workspace's connections (of `app`, when given)
    /// matching `filter`, oldest first.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] for a page out of range; storage failures.
    pub async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        filter: ConnectionFilter,
        page: PageRequest,
    ) -> Result<Page<Connection>, RegistryError> {
        let offset = page.offset()?;
        let filter = ConnectionFilter {
            app_id: app.cloned().or(filter.app_id),
            ..filter
        };
        let listing = self
            .storage()
            .list_connections(workspace, &filter, offset, page.per_page)
            .await?;
        Ok(Page::new(
            listing.items.into_iter().map(Connection::from).collect(),
            listing.total,
            page,
        ))
    }

    /// The connection `id` of `workspace` (and of `app`, when given).
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`]; storage failures.
    pub async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Connection, RegistryError> {
        self.storage()
            .get_connection(workspace, app, id)
            .await?
            .map(Connection::from)
            .ok_or(RegistryError::NotFound)
    }

    /// Replaces, adds or removes a connection's tags, atomically.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] naming `tags`, `addTags` or `removeTags`
    /// (bounded count and length; at least one of them; at most
    /// [`MAX_TAGS`](crate::MAX_TAGS) in the result); `NotFound`.
    pub async fn update_connection_tags(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
        update: &ConnectionUpdate,
    ) -> Result<Connection, RegistryError> {
        if update.tags.is_none() && update.add_tags.is_none() && update.remove_tags.is_none() {
            return Err(FieldError::new("tags", Problem::Required).into());
        }
        let edit = TagEdit {
            replace: update
                .tags
                .as_deref()
                .map(|t| check_tag_list(t, "tags"))
                .transpose()?,
            add: check_tag_list(update.add_tags.as_deref().unwrap_or_default(), "addTags")?,
            remove: check_tag_list(
                update.remove_tags.as_deref().unwrap_or_default(),
                "removeTags",
            )?,
            max: crate::MAX_TAGS,
        };
        match self
            .storage()
            .update_connection_tags(workspace, app, id, &edit, self.now())
            .await?
        {
            TagUpdate::Updated(c) => {
                self.config().events().emit(&Event::ConnectionUpdated {
                    workspace_id: workspace.clone(),
                    connection_id: c.id.clone(),
                });
                Ok(Connection::from(*c))
            }
            TagUpdate::TooMany => Err(FieldError::new(
                "tags",
                Problem::TooMany {
                    max: crate::MAX_TAGS,
                },
            )
            .into()),
            TagUpdate::NotFound => Err(RegistryError::NotFound),
        }
    }

    /// Revokes a connection: its grant (so its tokens) and the scoped keys
    /// minted under that grant stop working at once (another connection of
    /// the same app and customer, another linked account, keeps its own).
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] for an unknown or already revoked
    /// connection; storage failures.
    pub async fn revoke_connection(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Connection, RegistryError> {
        let revoked = self
            .storage()
            .revoke_connection(workspace, app, id, self.now())
            .await?
            .ok_or(RegistryError::NotFound)?;
        self.config().events().emit(&Event::ConnectionRevoked {
            workspace_id: workspace.clone(),
            connection_id: revoked.id.clone(),
        });
        Ok(Connection::from(revoked))
    }
}
