//! Customers: the end users Connect sessions complete for, as the JSON API
//! shows them, with get, list and delete.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::RegistryError;
use crate::events::Event;
use crate::ids::{AppId, CustomerId, WorkspaceId};
use crate::registration::{Page, PageRequest};
use crate::server::AuthorizationServer;
use crate::storage::{ConnectionFilter, ConnectionStatus, CustomerRecord, Location, Storage};
use crate::timestamp::rfc3339_ms;

/// A customer as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Customer {
    /// `cus_…`
    pub id: CustomerId,
    /// The integrating service's id for its user.
    pub reference_id: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal location.
    pub location: Option<Location>,
    /// When created.
    #[serde(with = "rfc3339_ms")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "rfc3339_ms")]
    pub updated_at: OffsetDateTime,
}

impl From<CustomerRecord> for Customer {
    fn from(record: CustomerRecord) -> Self {
        let info = record.info;
        Self {
            id: record.id,
            reference_id: record.reference_id,
            first_name: info.first_name,
            last_name: info.last_name,
            email: info.email,
            phone: info.phone,
            location: info.location,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// Whether `app` holds an active connection to the customer.
    async fn app_connected(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        customer: &CustomerId,
    ) -> Result<bool, RegistryError> {
        let filter = ConnectionFilter {
            app_id: Some(app.clone()),
            customer_id: Some(customer.clone()),
            status: Some(ConnectionStatus::Active),
            ..ConnectionFilter::default()
        };
        let listing = self
            .storage()
            .list_connections(workspace, &filter, 0, 1)
            .await?;
        Ok(listing.total > 0)
    }

    /// The customer `id` of `workspace`; with `app` (an app's own
    /// credentials), only if that app holds an active connection to them.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] (also for another workspace's customer,
    /// or one the app is not connected to); storage failures.
    pub async fn get_customer(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<Customer, RegistryError> {
        let customer = self
            .storage()
            .get_customer(workspace, id)
            .await?
            .ok_or(RegistryError::NotFound)?;
        if let Some(app) = app
            && !self.app_connected(workspace, app, id).await?
        {
            return Err(RegistryError::NotFound);
        }
        Ok(Customer::from(customer))
    }

    /// A page of the workspace's customers, oldest first; with
    /// `reference_id`, only the customer that has it; with `app` (an app's
    /// own credentials), only the customers that app holds an active
    /// connection to.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] for a page out of range; storage failures.
    pub async fn list_customers(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        reference_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Customer>, RegistryError> {
        let offset = page.offset()?;
        let listing = self
            .storage()
            .list_customers(workspace, reference_id, app, offset, page.per_page)
            .await?;
        Ok(Page::new(
            listing.items.into_iter().map(Customer::from).collect(),
            listing.total,
            page,
        ))
    }

    /// Deletes a customer (a workspace admin, `app` `None`): atomically,
    /// the customer record goes, every connection of theirs is revoked
    /// with its grant (so its tokens stop working) and every scoped key of
    /// theirs is revoked.
    ///
    /// With `app` (an app's own credentials) only that app lets go of the
    /// customer: its active connections to them are revoked, with their
    /// grants, tokens and scoped keys, atomically; the customer record,
    /// which belongs to the workspace, and other apps' connections stay.
    ///
    /// Either way, one [`Event::ConnectionRevoked`] per revoked
    /// connection.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] (with `app`: also when the app holds no
    /// active connection to the customer); storage failures.
    pub async fn delete_customer(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<(), RegistryError> {
        let storage = self.storage();
        let revoked = match app {
            None => storage
                .delete_customer(workspace, id, self.now())
                .await?
                .ok_or(RegistryError::NotFound)?,
            Some(app) => {
                let revoked = storage
                    .revoke_customer_connections(workspace, app, id, self.now())
                    .await?;
                if revoked.is_empty() {
                    return Err(RegistryError::NotFound);
                }
                revoked
            }
        };
        for connection in revoked {
            self.config().events().emit(&Event::ConnectionRevoked {
                workspace_id: connection.workspace_id,
                connection_id: connection.id,
            });
        }
        Ok(())
    }
}
