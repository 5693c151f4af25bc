//! Connections — what a completed Connect session leaves — as the API shows
//! them: listed with filters, read, tags edited, revoked, and, for one a
//! web page made with a publishable key, attached to a customer by the
//! app's backend.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Conflict, ConnectProblem, Error, FieldError, Problem, Resource};
use crate::hooks::events::Event;
use crate::model::ids::{AppId, ConnectionId, CustomerId, WorkspaceId};
use crate::model::timestamp::rfc3339_ms;
use crate::registry::paging::{PageRequest, Paged};
use crate::server::AuthorizationServer;
use crate::storage::{
    AttachTarget, ConnectionAttach, ConnectionFilter, ConnectionRecord, ConnectionStatus, Storage,
    StorageErrorKind, TagEdit, TagUpdate,
};

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
    /// Made through a browser-created session (with a publishable key).
    pub browser_created: bool,
    /// For a browser-created connection, the `referenceId` the web page
    /// sent: an unverified label, never the connection's own.
    pub claimed_reference_id: Option<String>,
    /// When the app's backend attached this browser-created connection to
    /// one of its customers; `null` until then.
    #[serde(with = "crate::model::timestamp::rfc3339_ms_option")]
    pub attached_at: Option<OffsetDateTime>,
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
            claimed_reference_id: c.claimed_reference_id,
            attached_at: c.attached_at,
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
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Vec<String>>,
    /// Add these.
    #[serde(default, deserialize_with = "present")]
    pub add_tags: Option<Vec<String>>,
    /// Remove these.
    #[serde(default, deserialize_with = "present")]
    pub remove_tags: Option<Vec<String>>,
}

/// A field that may be left out but, when given, is an array: JSON `null`
/// is refused, as the OpenAPI document says.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(d).map(Some)
}

/// The body of `POST /v1/connections/{id}/attach`: the customer of the
/// app to attach a browser-created connection to, by exactly one of
/// `customerId` and `referenceId`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AttachConnection {
    /// A customer of the app, by id.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The app's customer with this reference id; if the app has none, the
    /// connection's own customer takes it.
    #[serde(default)]
    pub reference_id: Option<String>,
}

fn check_tag_list(
    tags: &[String],
    field: &'static str,
    max: usize,
) -> Result<Vec<String>, FieldError> {
    crate::connect::check_tags(tags, field, max)
}

impl<S: Storage> AuthorizationServer<S> {
    /// A page of the workspace's connections (of `app`, when given)
    /// matching `filter`, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a page out of range; storage failures.
    pub async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        filter: ConnectionFilter,
        page: PageRequest,
    ) -> Result<Paged<Connection>, Error> {
        let offset = page.offset()?;
        let filter = ConnectionFilter {
            app_id: app.cloned().or(filter.app_id),
            ..filter
        };
        let listing = self
            .storage()
            .list_connections(workspace, &filter, offset, page.per_page)
            .await?;
        Ok(Paged::new(
            listing.items.into_iter().map(Connection::from).collect(),
            listing.total,
            page,
        ))
    }

    /// The connection `id` of `workspace` (and of `app`, when given).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; storage failures.
    pub async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Connection, Error> {
        self.storage()
            .get_connection(workspace, app, id)
            .await?
            .map(Connection::from)
            .ok_or(Error::NotFound(Resource::Connection))
    }

    /// Replaces, adds or removes a connection's tags, atomically.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming `tags`, `addTags` or `removeTags`
    /// (bounded count and length; at least one of them; at most
    /// [`max_connection_tags`](crate::AuthorizationServerBuilder::max_connection_tags),
    /// by default [`MAX_TAGS`](crate::connect::MAX_TAGS), in the result);
    /// `NotFound`.
    pub async fn update_connection_tags(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
        update: &ConnectionUpdate,
    ) -> Result<Connection, Error> {
        if update.tags.is_none() && update.add_tags.is_none() && update.remove_tags.is_none() {
            return Err(FieldError::new("tags", Problem::Required).into());
        }
        let max = self.config().max_connection_tags();
        let edit = TagEdit {
            replace: update
                .tags
                .as_deref()
                .map(|t| check_tag_list(t, "tags", max))
                .transpose()?,
            add: check_tag_list(
                update.add_tags.as_deref().unwrap_or_default(),
                "addTags",
                max,
            )?,
            remove: check_tag_list(
                update.remove_tags.as_deref().unwrap_or_default(),
                "removeTags",
                max,
            )?,
            max,
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
            TagUpdate::TooMany => Err(FieldError::new("tags", Problem::TooMany { max }).into()),
            TagUpdate::NotFound => Err(Resource::Connection.into()),
        }
    }

    /// Attaches a browser-created connection (of `app`, when given: an app's
    /// own credentials) to a customer of its app: the app's backend, having
    /// made sure who completed the web page's Connect flow, says the
    /// connection is that customer's (`POST /v1/connections/{id}/attach`).
    ///
    /// By `customerId`, the customer must be the connection's app's. By
    /// `referenceId`, the app's customer with it; if the app has none, the
    /// connection's own (browser-created) customer takes that reference id
    /// and stays. The connection takes the customer's id and reference id
    /// and an `attachedAt`; when it moves to another customer, its former,
    /// browser-created customer is deleted (unless another active
    /// connection holds it). All in one atomic storage step, reported by
    /// one [`Event::ConnectionAttached`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a body without exactly one of
    /// `customerId` and `referenceId`, a malformed one, or a customer the
    /// app does not have; [`Error::NotFound`] for an unknown
    /// connection (or another app's, or another workspace's);
    /// [`Conflict::NotAttachable`] for a revoked connection, one the
    /// app's backend made, or one attached already;
    /// [`Conflict::AlreadyConnected`] when the customer has an active
    /// connection for the same linked account;
    /// [`Conflict::Concurrent`] when a concurrent change won; storage
    /// failures. Nothing changes on any error.
    ///
    /// # Security
    ///
    /// This is the only way a connection a web page made reaches a stored
    /// customer: a decision of the app's backend, authenticated. The
    /// credentials the browser-created session issued (its tokens, its
    /// scoped key) keep the subject they were issued for, the connection's
    /// generated reference id: attaching never makes them speak for the
    /// customer. A session of the backend for the customer (update mode)
    /// replaces them.
    pub async fn attach_connection(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
        request: &AttachConnection,
    ) -> Result<Connection, Error> {
        const FIELDS: &str = "customerId and referenceId";
        let target = match (&request.customer_id, &request.reference_id) {
            (Some(customer), None) => {
                AttachTarget::Customer(CustomerId::parse(customer).map_err(|_| {
                    FieldError::new(
                        "customerId",
                        Problem::Connect(ConnectProblem::UnknownCustomer),
                    )
                })?)
            }
            (None, Some(reference)) => {
                AttachTarget::Reference(crate::connect::check_reference_id(reference)?)
            }
            _ => {
                return Err(FieldError::new(
                    "customerId",
                    Problem::ExactlyOneOf { fields: FIELDS },
                )
                .into());
            }
        };
        let attached = match self
            .storage()
            .attach_connection(workspace, app, id, &target, self.now())
            .await
        {
            Ok(ConnectionAttach::Attached(c)) => *c,
            Ok(ConnectionAttach::NotFound) => return Err(Resource::Connection.into()),
            Ok(ConnectionAttach::NotAttachable) => return Err(Conflict::NotAttachable.into()),
            Ok(ConnectionAttach::AlreadyConnected) => {
                return Err(Conflict::AlreadyConnected.into());
            }
            Ok(ConnectionAttach::UnknownCustomer) => {
                let field = match target {
                    AttachTarget::Customer(_) => "customerId",
                    AttachTarget::Reference(_) => "referenceId",
                };
                return Err(FieldError::new(
                    field,
                    Problem::Connect(ConnectProblem::UnknownCustomer),
                )
                .into());
            }
            Err(e) if e.kind() == StorageErrorKind::Conflict => {
                return Err(Conflict::Concurrent.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.config().events().emit(&Event::ConnectionAttached {
            workspace_id: attached.workspace_id.clone(),
            app_id: attached.app_id.clone(),
            connection_id: attached.id.clone(),
            customer_id: attached.customer_id.clone(),
        });
        Ok(Connection::from(attached))
    }

    /// Revokes a connection: its grant (so its tokens) and the scoped keys
    /// minted under that grant stop working at once (another connection of
    /// the same app and customer, another linked account, keeps its own).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or already revoked
    /// connection; storage failures.
    pub async fn revoke_connection(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Connection, Error> {
        let revoked = self
            .storage()
            .revoke_connection(workspace, app, id, self.now())
            .await?
            .ok_or(Error::NotFound(Resource::Connection))?;
        self.config().events().emit(&Event::ConnectionRevoked {
            workspace_id: workspace.clone(),
            connection_id: revoked.id.clone(),
        });
        Ok(Connection::from(revoked))
    }
}
