//! The parameter binders that statements of more than one table use: the
//! Connect part of an approval (customer, connection, scoped key), written
//! by the approval's single statement in `grants.rs`, and a scoped key alone
//! (`connect.rs`).

use super::rows::{PgQuery, json_param};
use crate::model::scope::ScopeSet;
use crate::storage::{ConnectApproval, ConnectionStatus, ScopedKeyRecord, StorageError};

pub(super) fn status_text(status: ConnectionStatus) -> &'static str {
    match status {
        ConnectionStatus::Active => "active",
        ConnectionStatus::Revoked => "revoked",
    }
}

fn scope_texts(scopes: &ScopeSet) -> Vec<&str> {
    scopes.iter().map(|scope| scope.as_str()).collect()
}

/// Binds the fourteen columns of a scoped key, in [`scoped_key_columns!`]
/// order; all NULL for `None`.
pub(super) fn bind_scoped_key<'q>(
    query: PgQuery<'q>,
    key: Option<&'q ScopedKeyRecord>,
) -> PgQuery<'q> {
    query
        .bind(key.map(|k| k.id.as_str()))
        .bind(key.map(|k| k.workspace_id.as_str()))
        .bind(key.map(|k| k.app_id.as_str()))
        .bind(key.map(|k| k.client_id.as_str()))
        .bind(key.map(|k| k.customer_id.as_str()))
        .bind(key.map(|k| k.reference_id.as_str()))
        .bind(key.map(|k| scope_texts(&k.scopes)))
        .bind(key.and_then(|k| k.label.as_deref()))
        .bind(key.map(|k| k.nonce.as_slice()))
        .bind(key.map(|k| i16::from(k.signing_key_id)))
        .bind(key.map(|k| k.created_at))
        .bind(key.and_then(|k| k.expires_at))
        .bind(key.and_then(|k| k.revoked_at))
        .bind(key.map(|k| k.grant_id.as_str()))
}

/// Binds the Connect part of an approval, thirty-seven parameters: the
/// customer in [`customer_columns!`] order (`info` as JSON text), the
/// connection in [`connection_columns!`] order, and the scoped key (NULLs
/// when there is none) in [`scoped_key_columns!`] order.
pub(super) fn bind_approval<'q>(
    query: PgQuery<'q>,
    approval: &'q ConnectApproval,
) -> Result<PgQuery<'q>, StorageError> {
    let customer = &approval.customer;
    let connection = &approval.connection;
    let query = query
        .bind(customer.id.as_str())
        .bind(customer.workspace_id.as_str())
        .bind(customer.reference_id.as_str())
        .bind(json_param(&customer.info)?)
        .bind(customer.created_at)
        .bind(customer.updated_at)
        .bind(customer.app_id.as_str())
        .bind(connection.id.as_str())
        .bind(connection.workspace_id.as_str())
        .bind(connection.app_id.as_str())
        .bind(connection.customer_id.as_str())
        .bind(connection.reference_id.as_str())
        .bind(connection.grant_id.as_str())
        .bind(connection.tags.as_slice())
        .bind(status_text(connection.status))
        .bind(connection.browser_created)
        .bind(connection.created_at)
        .bind(connection.updated_at)
        .bind(connection.linked.as_ref().map(|l| l.provider.as_str()))
        .bind(
            connection
                .linked
                .as_ref()
                .map(|l| l.account_reference.as_str()),
        )
        .bind(connection.linked.as_ref().map(|l| l.label.as_str()))
        .bind(connection.claimed_reference_id.as_deref())
        .bind(connection.attached_at);
    // `$63`: the cap on the merged tags, an `int` for the array slice.
    let max_tags = i32::try_from(approval.max_tags).unwrap_or(i32::MAX);
    Ok(bind_scoped_key(query, approval.scoped_key.as_ref()).bind(max_tags))
}
