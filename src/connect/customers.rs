//! Customers: the end users Connect sessions complete for, as the JSON API
//! shows them, with get, list and delete.
//!
//! # Isolation
//!
//! A customer belongs to the app whose Connect session created it. That
//! app's credentials read, list and delete it, that app's sessions name it
//! (`customerId`) or find it (`referenceId`), and its hosted pages show its
//! details; no other app of the workspace does any of these: to another app
//! it does not exist (404, or an unknown `customerId`), and the same
//! reference id there is another customer. Only workspace admin keys reach
//! every app's customers. Deleting an app deletes its customers.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Resource};
use crate::hooks::events::Event;
use crate::model::ids::{AppId, CustomerId, WorkspaceId};
use crate::model::timestamp::rfc3339_ms;
use crate::registry::paging::{PageRequest, Paged};
use crate::server::AuthorizationServer;
use crate::storage::{CustomerRecord, Location, Storage};

/// A customer as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Customer {
    /// `cus_…`
    pub id: CustomerId,
    /// The app it belongs to.
    pub app_id: AppId,
    /// The integrating service's id for its user (unique per app).
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
            app_id: record.app_id,
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
    /// The customer `id` of `workspace`; with `app` (an app's own
    /// credentials), only that app's.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (also for another workspace's or another
    /// app's customer); storage failures.
    pub async fn get_customer(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<Customer, Error> {
        self.storage()
            .get_customer(workspace, app, id)
            .await?
            .map(Customer::from)
            .ok_or(Error::NotFound(Resource::Customer))
    }

    /// A page of the workspace's customers, oldest first; with
    /// `reference_id`, only those that have it (one per app at most); with
    /// `app` (an app's own credentials), only that app's.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a page out of range; storage failures.
    pub async fn list_customers(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        reference_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<Customer>, Error> {
        let offset = page.offset()?;
        let listing = self
            .storage()
            .list_customers(workspace, reference_id, app, offset, page.per_page)
            .await?;
        Ok(Paged::new(
            listing.items.into_iter().map(Customer::from).collect(),
            listing.total,
            page,
        ))
    }

    /// Deletes a customer (with `app`, an app's own credentials: only one of
    /// that app's): atomically, the customer record goes, every connection
    /// of theirs is revoked with its grant (so its tokens stop working) and
    /// every scoped key of theirs is revoked. One
    /// [`Event::ConnectionRevoked`] per revoked connection.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (also for another workspace's or another
    /// app's customer); storage failures.
    pub async fn delete_customer(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<(), Error> {
        let revoked = self
            .storage()
            .delete_customer(workspace, app, id, self.now())
            .await?
            .ok_or(Error::NotFound(Resource::Customer))?;
        for connection in revoked {
            self.config().events().emit(&Event::ConnectionRevoked {
                workspace_id: connection.workspace_id,
                connection_id: connection.id,
            });
        }
        Ok(())
    }
}
