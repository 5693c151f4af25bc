//! Customers: the end users Connect sessions complete for, as the JSON API
//! shows them, with get, list and delete.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::RegistryError;
use crate::ids::{CustomerId, WorkspaceId};
use crate::registration::{Page, PageRequest};
use crate::server::AuthorizationServer;
use crate::storage::{CustomerRecord, Location, Storage};
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
    /// The customer `id` of `workspace`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] (also for another workspace's customer);
    /// storage failures.
    pub async fn get_customer(
        &self,
        workspace: &WorkspaceId,
        id: &CustomerId,
    ) -> Result<Customer, RegistryError> {
        self.storage()
            .get_customer(workspace, id)
            .await?
            .map(Customer::from)
            .ok_or(RegistryError::NotFound)
    }

    /// A page of the workspace's customers, oldest first; with
    /// `reference_id`, only the customer that has it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] for a page out of range; storage failures.
    pub async fn list_customers(
        &self,
        workspace: &WorkspaceId,
        reference_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Customer>, RegistryError> {
        let offset = page.offset()?;
        let listing = self
            .storage()
            .list_customers(workspace, reference_id, offset, page.per_page)
            .await?;
        Ok(Page::new(
            listing.items.into_iter().map(Customer::from).collect(),
            listing.total,
            page,
        ))
    }

    /// Deletes a customer. Atomically, every connection of theirs is revoked
    /// with its grant (so its tokens stop working) and every scoped key of
    /// theirs is revoked.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`]; storage failures.
    pub async fn delete_customer(
        &self,
        workspace: &WorkspaceId,
        id: &CustomerId,
    ) -> Result<(), RegistryError> {
        if self
            .storage()
            .delete_customer(workspace, id, self.now())
            .await?
        {
            Ok(())
        } else {
            Err(RegistryError::NotFound)
        }
    }
}
