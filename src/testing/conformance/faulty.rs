//! A store that fails on demand, for tests of a server over a broken
//! backend.

use time::OffsetDateTime;

use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, ClientId, GrantId, WorkspaceId};
use crate::model::ids::{ConnectionId, CustomerId, PublishableKeyId, ScopedKeyId};
use crate::model::origin::Origin;
use crate::registry::apps::OAuthApp;
use crate::storage::{
    AppChanges, AppRecord, CodeRecord, CodeRedemption, GrantRecord, RefreshRotation,
    SecretRotation, SessionCompletion, SessionDecision, SessionRecord, Storage, StorageErrorKind,
    TokenRecord,
};
use crate::storage::{
    ConnectionRecord, CustomerRecord, PublishableKeyInsert, PublishableKeyRecord, ScopedKeyRecord,
};

/// A store that fails on demand, wrapping a working one: for testing how a
/// server (or a host) behaves when its backend is down or loses a race.
///
/// Failures carry a source message naming an internal host, so a test can
/// also check that no storage detail reaches a response.
///
/// It also counts the calls of each method ([`calls`](Self::calls)), so a
/// test can show that a refused request never reached storage.
#[derive(Debug, Default)]
pub struct FaultyStore<S> {
    inner: S,
    fail_all: std::sync::Mutex<Option<StorageErrorKind>>,
    fail_method: std::sync::Mutex<Option<(&'static str, StorageErrorKind)>>,
    calls: std::sync::Mutex<std::collections::HashMap<&'static str, usize>>,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`; nothing fails until told to.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            fail_all: std::sync::Mutex::new(None),
            fail_method: std::sync::Mutex::new(None),
            calls: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// How many times the method named `method` was called (failed calls
    /// included) since the store was made.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Makes every call fail with `kind` (`None`: stop failing).
    pub fn fail_all(&self, kind: Option<StorageErrorKind>) {
        *self.fail_all.lock().unwrap() = kind;
    }

    /// Makes only calls of the method named `method` fail with `kind`.
    pub fn fail_method(&self, method: &'static str, kind: Option<StorageErrorKind>) {
        *self.fail_method.lock().unwrap() = kind.map(|k| (method, k));
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check(&self, method: &'static str) -> Result<(), crate::StorageError> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        let kind = (*self.fail_all.lock().unwrap()).or_else(|| {
            (*self.fail_method.lock().unwrap())
                .filter(|(m, _)| *m == method)
                .map(|(_, k)| k)
        });
        match kind {
            Some(kind) => Err(crate::StorageError::with_source(
                kind,
                "db01.internal:5432 refused connection",
            )),
            None => Ok(()),
        }
    }
}

/// Implements a storage trait for `FaultyStore` by delegation, each method
/// failing first when told to.
macro_rules! delegate {
    ($trait:path { $(async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)+ }) => {
        #[async_trait::async_trait]
        impl<S: Storage> $trait for FaultyStore<S> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, crate::StorageError> {
                    self.check(stringify!($name))?;
                    self.inner.$name($($arg),*).await
                }
            )+
        }
    };
}

delegate! {
    crate::storage::AppStore {
        async fn insert_app(&self, record: &AppRecord) -> ();
        async fn get_app(&self, workspace: &WorkspaceId, id: &AppId) -> Option<AppRecord>;
        async fn get_app_by_client_id(&self, client_id: &ClientId) -> Option<AppRecord>;
        async fn list_apps(&self, workspace: &WorkspaceId, offset: u64, limit: u32) -> crate::storage::Listing<OAuthApp>;
        async fn update_app(&self, workspace: &WorkspaceId, id: &AppId, changes: &AppChanges) -> Option<AppRecord>;
        async fn delete_app(&self, workspace: &WorkspaceId, id: &AppId) -> bool;
        async fn rotate_client_secret(&self, workspace: &WorkspaceId, id: &AppId, rotation: &SecretRotation) -> Option<AppRecord>;
        async fn origin_is_allowed(&self, origin: &Origin) -> bool;
    }
}

delegate! {
    crate::storage::PublishableKeyStore {
        async fn insert_publishable_key(&self, key: &PublishableKeyRecord, max_active: u32) -> PublishableKeyInsert;
        async fn list_publishable_keys(&self, workspace: &WorkspaceId, app_id: &AppId) -> Vec<PublishableKeyRecord>;
        async fn revoke_publishable_key(&self, workspace: &WorkspaceId, app_id: &AppId, id: &PublishableKeyId) -> bool;
        async fn find_publishable_key(&self, hash: &CredentialHash) -> Option<PublishableKeyRecord>;
    }
}

delegate! {
    crate::storage::RateLimitStore {
        async fn count_rate_limit(&self, bucket: &CredentialHash, window_start: OffsetDateTime, window_end: OffsetDateTime) -> u32;
        async fn rate_limit_count(&self, bucket: &CredentialHash, window_start: OffsetDateTime) -> u32;
        async fn refund_rate_limit(&self, bucket: &CredentialHash, window_start: OffsetDateTime) -> ();
        async fn purge_rate_limits(&self, now: OffsetDateTime, limit: u32) -> u64;
    }
}

delegate! {
    crate::storage::AdminKeyStore {
        async fn insert_admin_key(&self, workspace: &WorkspaceId, hash: &CredentialHash, created_at: OffsetDateTime) -> ();
        async fn find_admin_key(&self, hash: &CredentialHash) -> Option<WorkspaceId>;
        async fn delete_admin_key(&self, hash: &CredentialHash) -> bool;
    }
}

delegate! {
    crate::storage::GrantStore {
        async fn insert_session(&self, session: &SessionRecord) -> ();
        async fn insert_pushed_session(&self, session: &SessionRecord, requester: &CredentialHash, max_pending: u32) -> ();
        async fn open_session(&self, hash: &CredentialHash, now: OffsetDateTime) -> Option<SessionRecord>;
        async fn complete_session(&self, hash: &CredentialHash, decision: &SessionDecision, now: OffsetDateTime) -> SessionCompletion;
        async fn get_code(&self, hash: &CredentialHash) -> Option<CodeRecord>;
        async fn redeem_code(&self, hash: &CredentialHash, tokens: &[TokenRecord], grant_expires_at: OffsetDateTime, now: OffsetDateTime) -> CodeRedemption;
        async fn insert_grant(&self, grant: &GrantRecord, tokens: &[TokenRecord]) -> ();
        async fn insert_code(&self, grant: &GrantRecord, code: &CodeRecord) -> ();
        async fn get_grant(&self, id: &GrantId) -> Option<GrantRecord>;
        async fn get_token(&self, hash: &CredentialHash) -> Option<TokenRecord>;
        async fn get_app_and_code(&self, client_id: &ClientId, hash: &CredentialHash) -> Option<crate::storage::Prefetched<CodeRecord>>;
        async fn get_app_and_token(&self, client_id: &ClientId, hash: &CredentialHash) -> Option<crate::storage::Prefetched<TokenRecord>>;
        async fn rotate_refresh_token(&self, hash: &CredentialHash, successors: &[TokenRecord], grant_expires_at: OffsetDateTime, replay_since: Option<OffsetDateTime>, now: OffsetDateTime) -> RefreshRotation;
        async fn revoke_token(&self, hash: &CredentialHash) -> bool;
        async fn revoke_grant(&self, id: &GrantId, now: OffsetDateTime) -> Option<crate::storage::GrantRevocation>;
        async fn revoke_code_grant(&self, hash: &CredentialHash, now: OffsetDateTime) -> Option<crate::storage::GrantRevocation>;
        async fn purge_expired(&self, now: OffsetDateTime, limit: u32, policy: &crate::storage::PurgePolicy) -> u64;
    }
}

delegate! {
    crate::webhooks::WebhookStore {
        async fn insert_webhook_endpoint(&self, endpoint: &crate::webhooks::EndpointRecord, max_per_app: usize) -> ();
        async fn list_webhook_endpoints(&self, workspace: &WorkspaceId, app: &AppId) -> Vec<crate::webhooks::EndpointRecord>;
        async fn get_webhook_endpoint(&self, workspace: &WorkspaceId, app: &AppId, id: &str) -> Option<crate::webhooks::EndpointRecord>;
        async fn update_webhook_endpoint(&self, workspace: &WorkspaceId, app: &AppId, id: &str, changes: &crate::webhooks::EndpointChanges) -> Option<crate::webhooks::EndpointRecord>;
        async fn delete_webhook_endpoint(&self, workspace: &WorkspaceId, app: &AppId, id: &str) -> bool;
        async fn record_webhook_event(&self, event: &crate::webhooks::WebhookEvent) -> u64;
        async fn claim_webhook_deliveries(&self, now: OffsetDateTime, lease: time::Duration, limit: u32) -> Vec<crate::webhooks::ClaimedDelivery>;
        async fn finish_webhook_attempt(&self, delivery_id: &str, result: &crate::webhooks::AttemptResult) -> ();
        async fn list_webhook_deliveries(&self, workspace: &WorkspaceId, app: &AppId, endpoint: &str, limit: u32) -> Vec<crate::webhooks::DeliveryRecord>;
        async fn retry_webhook_delivery(&self, workspace: &WorkspaceId, app: &AppId, endpoint: &str, delivery: &str, now: OffsetDateTime) -> Option<crate::webhooks::DeliveryRecord>;
    }
}

delegate! {
    crate::storage::ConnectStore {
        async fn get_customer(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &CustomerId) -> Option<CustomerRecord>;
        async fn find_customer(&self, workspace: &WorkspaceId, app_id: &AppId, reference_id: &str) -> Option<CustomerRecord>;
        async fn list_customers(&self, workspace: &WorkspaceId, reference_id: Option<&str>, app_id: Option<&AppId>, offset: u64, limit: u32) -> crate::storage::Listing<CustomerRecord>;
        async fn delete_customer(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &CustomerId, now: OffsetDateTime) -> Option<Vec<ConnectionRecord>>;
        async fn attach_connection(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId, to: &crate::storage::AttachTarget, now: OffsetDateTime) -> crate::storage::ConnectionAttach;
        async fn advance_connect(&self, hash: &CredentialHash, expected_version: u32, context: &crate::storage::ConnectContext, now: OffsetDateTime) -> crate::storage::StepAdvance;
        async fn find_connection(&self, app_id: &AppId, reference_id: &str) -> Option<ConnectionRecord>;
        async fn list_connections(&self, workspace: &WorkspaceId, filter: &crate::storage::ConnectionFilter, offset: u64, limit: u32) -> crate::storage::Listing<ConnectionRecord>;
        async fn get_connection(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId) -> Option<ConnectionRecord>;
        async fn update_connection_tags(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId, edit: &crate::storage::TagEdit, now: OffsetDateTime) -> crate::storage::TagUpdate;
        async fn revoke_connection(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId, now: OffsetDateTime) -> Option<ConnectionRecord>;
        async fn insert_scoped_key(&self, key: &ScopedKeyRecord) -> crate::storage::ScopedKeyInsert;
        async fn get_scoped_key(&self, id: &ScopedKeyId) -> Option<ScopedKeyRecord>;
        async fn list_scoped_keys(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, customer_id: Option<&CustomerId>, offset: u64, limit: u32) -> crate::storage::Listing<ScopedKeyRecord>;
        async fn revoke_scoped_key(&self, workspace: &WorkspaceId, app_id: &AppId, id: &ScopedKeyId, now: OffsetDateTime) -> bool;
        async fn revoke_customer_scoped_keys(&self, workspace: &WorkspaceId, customer_id: &CustomerId, now: OffsetDateTime) -> u64;
    }
}
