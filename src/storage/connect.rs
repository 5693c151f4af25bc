//! The Connect side of the storage contract: customers, connections and
//! scoped keys, and the Connect context of a session.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Listing, StorageError};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{
    AppId, ClientId, ConnectionId, CustomerId, GrantId, ScopedKeyId, WorkspaceId,
};
use crate::model::scope::ScopeSet;

/// A customer's postal location: all five fields, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Location {
    /// Street address.
    pub street_one: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Postal code.
    pub postal_code: String,
    /// Country.
    pub country: String,
}

/// What is known of a customer's contact details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CustomerInfo {
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Postal location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl CustomerInfo {
    /// Whether the customer form has nothing to ask: first and last name
    /// and e-mail are known. The same rule as the form's: those three are
    /// required, phone and location optional (a location is all five parts
    /// or none).
    pub fn is_complete(&self) -> bool {
        self.first_name.is_some() && self.last_name.is_some() && self.email.is_some()
    }
}

/// A customer record: created or updated when a Connect session completes.
///
/// A customer belongs to one app: the app whose Connect session created it.
/// Only that app's credentials, its sessions and the workspace's admins
/// reach it; another app of the workspace with the same reference id has a
/// customer of its own. Deleting the app deletes its customers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CustomerRecord {
    /// `cus_…`
    pub id: CustomerId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app it belongs to.
    pub app_id: AppId,
    /// The integrating service's id for its user (unique per app).
    pub reference_id: String,
    /// Contact details as last confirmed.
    pub info: CustomerInfo,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// Create a new Connect session, or update an existing grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectMode {
    /// The app holds no grant for this reference id yet.
    Create,
    /// The app already holds a grant for this reference id.
    Update,
}

/// How a Connect session delivers its scoped key, when it asked for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScopedKeyDelivery {
    /// In the token response of the code exchange (`scoped_key`), server to
    /// server. The default.
    TokenResponse,
    /// Also appended to the redirect URL (`scoped_key`), the pattern of
    /// hosted Connect products. Opt-in: a URL leaks into browser history,
    /// logs and `Referer` headers.
    Redirect,
}

/// How the embed script (`GET /connect/sdk.js`) shows a Connect session's
/// hosted page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedMode {
    /// A popup window: the page reports to `window.opener`.
    Popup,
    /// An iframe in an overlay: the page reports to `window.parent`.
    Modal,
}

impl EmbedMode {
    /// `popup` or `modal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Popup => "popup",
            Self::Modal => "modal",
        }
    }

    /// The mode named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "popup" => Some(Self::Popup),
            "modal" => Some(Self::Modal),
            _ => None,
        }
    }
}

/// The marker of a hosted page opened by the embed script: how it is shown
/// and the nonce the script generated for it, which every message the page
/// posts carries. Kept in the session's progress, so it survives the steps'
/// form posts and a provider's redirect (which drop the query string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConnectEmbed {
    /// Popup or modal.
    pub mode: EmbedMode,
    /// The script's nonce for this page: 22 to 128 characters of the
    /// base64url alphabet. Not a secret (the opening page knows it); it
    /// ties the page's messages to the one window that opened it.
    pub nonce: String,
}

impl ConnectEmbed {
    /// The shortest nonce (128 bits in base64url).
    pub const MIN_NONCE_LEN: usize = 22;
    /// The longest nonce.
    pub const MAX_NONCE_LEN: usize = 128;

    /// The marker for `mode` (`popup` or `modal`) and `nonce`, if both are
    /// well-formed.
    pub fn parse(mode: &str, nonce: &str) -> Option<Self> {
        let mode = EmbedMode::from_name(mode)?;
        let well_formed = (Self::MIN_NONCE_LEN..=Self::MAX_NONCE_LEN).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self {
            mode,
            nonce: nonce.to_owned(),
        })
    }
}

/// The Connect part of a session: who it is for and what completing it
/// writes. Stored with the session (as JSON in a database backend).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConnectContext {
    /// The integrating service's id for its user. For a browser-created
    /// session, always one generated for it: what a web page says names no
    /// stored record.
    pub reference_id: String,
    /// For a browser-created session, the `referenceId` the web page sent:
    /// an unverified label, kept on the connection for the app's backend
    /// to read, never used to find or name a record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_reference_id: Option<String>,
    /// Tags for the connection.
    pub tags: Vec<String>,
    /// The name the page shows (defaults to the app's name).
    pub client_name: String,
    /// An existing customer the session is for.
    pub customer_id: Option<CustomerId>,
    /// Contact details to prefill.
    pub customer_info: CustomerInfo,
    /// Free-form filters for the page, as JSON text.
    pub filters: Option<String>,
    /// Create or update, as decided when the session was made.
    pub mode: ConnectMode,
    /// Whether completing also mints a scoped key, and how it is delivered.
    pub scoped_key: Option<ScopedKeyDelivery>,
    /// The scoped key's lifetime in seconds, if it expires.
    pub scoped_key_expires_in: Option<i64>,
    /// Made by a browser with a publishable key (not by the app's backend):
    /// it names no stored customer, and completing it creates a new
    /// customer and a new connection, never updating one.
    pub browser_created: bool,
    /// Where the hosted flow stands (its steps' state).
    #[serde(default)]
    pub progress: ConnectProgress,
    /// Bumped by every step transition; a transition applies only to the
    /// version it read (compare-and-swap), so two tabs never both advance.
    #[serde(default)]
    pub step_version: u32,
    /// The language the session asked its pages in (a BCP 47 tag, checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// The state of a Connect session's steps, kept server-side: the browser
/// carries only the Connect token and a CSRF token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConnectProgress {
    /// When the user accepted the host's terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_accepted: Option<i64>,
    /// The provider the user picked (or the only candidate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The browser the hosted page was opened in: the keyed hash (hex) of
    /// the secret in its binding cookie, set once, by the first opening
    /// (a compare-and-swap on the step version). Every later request of
    /// the flow must come from that browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// A pending redirect link: the keyed hash of its `state` (hex) and the
    /// Unix time it expires. Cleared when the callback consumes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_state: Option<(String, i64)>,
    /// The window a pending redirect link was started in, when that is not
    /// the bound browser's own cookie jar (an embedded modal page, whose
    /// cookie is partitioned under the embedding site, starts the
    /// provider's sign-in in a window of its own): the keyed hash (hex) of
    /// that window's binding secret. Cleared with `link_state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_browser: Option<String>,
    /// The account linked at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked: Option<LinkedAccount>,
    /// Why the last link attempt failed (shown to the user with retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_error: Option<String>,
    /// The customer details the user confirmed on the customer step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerInfo>,
    /// Set when the embed script opened the hosted page (popup or modal):
    /// the page then reports its progress and result to that window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embed: Option<ConnectEmbed>,
}

pub(crate) use crate::model::connect::LinkedAccount;

/// Active or revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    /// The grant is live.
    Active,
    /// Revoked: its grant, tokens and scoped keys no longer work.
    Revoked,
}

/// What a completed Connect session leaves: one app's live link to one
/// customer (by reference id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionRecord {
    /// `conn_…`
    pub id: ConnectionId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app.
    pub app_id: AppId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The customer's reference id.
    pub reference_id: String,
    /// The grant it holds.
    pub grant_id: GrantId,
    /// Tags.
    pub tags: Vec<String>,
    /// The provider and the account linked there, when the flow had a link
    /// step.
    pub linked: Option<LinkedAccount>,
    /// Active or revoked.
    pub status: ConnectionStatus,
    /// Made through a browser-created session.
    pub browser_created: bool,
    /// For a browser-created connection, the `referenceId` the web page
    /// claimed: an unverified label.
    pub claimed_reference_id: Option<String>,
    /// When the app's backend attached this browser-created connection to
    /// one of its customers ([`ConnectStore::attach_connection`]); `None`
    /// until then, and for every other connection.
    pub attached_at: Option<OffsetDateTime>,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// A scoped key's record. The key itself is never stored: it is the record's
/// id and nonce signed under the server key ring.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopedKeyRecord {
    /// `sk_…`
    pub id: ScopedKeyId,
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
    /// The grant it belongs to: the grant of the connection it was minted
    /// for. The key lives no longer than that grant: revoking the grant
    /// (revoking the connection, deleting the customer, an update-mode
    /// approval replacing the grant, a replayed code) revokes the key.
    pub grant_id: GrantId,
    /// Its scopes (within the customer's grant).
    pub scopes: ScopeSet,
    /// A label for humans.
    pub label: Option<String>,
    /// 16 random bytes signed into the key.
    pub nonce: [u8; 16],
    /// The id of the signing key in the key ring.
    pub signing_key_id: u8,
    /// When minted.
    pub created_at: OffsetDateTime,
    /// When it expires, if it does.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked: as read from storage, the key's own revocation
    /// or else its grant's (see [`ConnectStore::get_scoped_key`]).
    pub revoked_at: Option<OffsetDateTime>,
}

/// The outcome of [`ConnectStore::insert_scoped_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopedKeyInsert {
    /// Stored.
    Inserted,
    /// Nothing stored: the key's app is gone, its grant is revoked or
    /// unknown, or no active connection of its app and customer holds that
    /// grant (revoked, or its customer deleted).
    NoLiveGrant,
}

/// What approving a Connect session writes besides the grant and code, in
/// the same atomic step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectApproval {
    /// The customer as confirmed. If a customer with this id exists it is
    /// updated; otherwise it is created — unless the app already has
    /// another customer with the same reference id, which is a `Conflict`.
    /// A customer with this id of another app or workspace, or with
    /// another reference id, is a `Conflict` too: an approval never
    /// reaches another app's customer.
    ///
    /// For a browser-created connection the customer must be new: a
    /// stored one with this id or with the app and reference id is a
    /// `Conflict`.
    pub customer: CustomerRecord,
    /// The connection. If the app has an active connection for the
    /// reference id and the same linked provider account (or, without a
    /// link step, for the reference id alone), it is updated in place: its
    /// id kept, its grant replaced and the old grant revoked with the
    /// scoped keys minted under it, its tags kept with this connection's
    /// tags added (the ones it lacks, in order, while it has fewer than
    /// [`max_tags`](Self::max_tags): tags edited since with the API are
    /// not lost). Otherwise this one is inserted.
    ///
    /// A browser-created connection (`browser_created`) never updates
    /// another: it is always inserted (an active connection in its place
    /// is a `Conflict`).
    pub connection: ConnectionRecord,
    /// A scoped key to mint with the grant (its `grant_id` is the new
    /// grant's).
    pub scoped_key: Option<ScopedKeyRecord>,
    /// The most tags a connection updated in place may reach by adding
    /// this connection's: the server's
    /// [`max_connection_tags`](crate::AuthorizationServerBuilder::max_connection_tags)
    /// (by default [`MAX_TAGS`](crate::connect::MAX_TAGS)). Its existing
    /// tags are never dropped, even beyond it.
    pub max_tags: usize,
}

/// Which connections a listing returns; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionFilter {
    /// Of this app.
    pub app_id: Option<AppId>,
    /// Of this customer.
    pub customer_id: Option<CustomerId>,
    /// For this reference id.
    pub reference_id: Option<String>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// Linked at this provider.
    pub provider: Option<String>,
    /// In this status.
    pub status: Option<ConnectionStatus>,
    /// Holding this grant.
    pub grant_id: Option<GrantId>,
}

/// A change to a connection's tags, applied atomically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagEdit {
    /// Replace all tags with these (before adding and removing).
    pub replace: Option<Vec<String>>,
    /// Add these (if absent).
    pub add: Vec<String>,
    /// Remove these (if present).
    pub remove: Vec<String>,
    /// The most tags the result may have.
    pub max: usize,
}

impl TagEdit {
    /// The tags after the edit, or `None` when more than `max`.
    pub fn apply(&self, tags: &[String]) -> Option<Vec<String>> {
        let mut out: Vec<String> = self.replace.clone().unwrap_or_else(|| tags.to_vec());
        for tag in &self.add {
            if !out.contains(tag) {
                out.push(tag.clone());
            }
        }
        out.retain(|t| !self.remove.contains(t));
        (out.len() <= self.max).then_some(out)
    }
}

/// The outcome of [`ConnectStore::update_connection_tags`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TagUpdate {
    /// Applied; the connection as it now is.
    Updated(Box<ConnectionRecord>),
    /// The result would exceed the maximum; nothing changed.
    TooMany,
    /// No such connection (in this workspace, of this app if given).
    NotFound,
}

/// The customer a browser-created connection is attached to
/// ([`ConnectStore::attach_connection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttachTarget {
    /// A customer of the connection's app, by id.
    Customer(CustomerId),
    /// The connection's app's customer with this reference id; if the app
    /// has none, the connection's own (browser-created) customer takes
    /// this reference id.
    Reference(String),
}

/// The outcome of [`ConnectStore::attach_connection`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionAttach {
    /// Attached; the connection as it now is.
    Attached(Box<ConnectionRecord>),
    /// No such connection (in this workspace, of this app if given);
    /// nothing changed.
    NotFound,
    /// The connection is revoked, was not browser-created, or is attached
    /// already; nothing changed.
    NotAttachable,
    /// The target names no customer of the connection's app; nothing
    /// changed.
    UnknownCustomer,
    /// The target customer already has an active connection of the app
    /// for the same linked provider account (or, without a link, one at
    /// all); nothing changed.
    AlreadyConnected,
}

/// The outcome of [`ConnectStore::advance_connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepAdvance {
    /// Applied.
    Advanced,
    /// Another transition applied first; nothing changed. The session as it
    /// now is.
    Stale(Box<super::SessionRecord>),
    /// Completed, expired, unknown, or not a Connect session.
    Closed,
}

/// Storage of customers, connections and scoped keys.
#[async_trait]
pub trait ConnectStore: Send + Sync {
    /// The customer `id` of `workspace` (and of `app_id`, when given: an
    /// app reaches only its own customers).
    async fn get_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<Option<CustomerRecord>, StorageError>;

    /// The customer of app `app_id` in `workspace` with this reference id
    /// (reference ids are unique per app).
    async fn find_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        reference_id: &str,
    ) -> Result<Option<CustomerRecord>, StorageError>;

    /// A page of the workspace's customers, oldest first, optionally only
    /// those with `reference_id` (one per app at most), and with `app_id`
    /// only that app's (what an app's own credentials may see).
    async fn list_customers(
        &self,
        workspace: &WorkspaceId,
        reference_id: Option<&str>,
        app_id: Option<&AppId>,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<CustomerRecord>, StorageError>;

    /// Deletes the customer (of `app_id`, when given) and, atomically,
    /// revokes every active connection of theirs (with its grant) and
    /// every scoped key of theirs. `None` if unknown (or another app's);
    /// else the connections it revoked, as they now are.
    async fn delete_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<ConnectionRecord>>, StorageError>;

    /// Attaches the browser-created connection `id` (of `workspace`, and of
    /// `app_id` when given) to a customer of its app, atomically: the app's
    /// backend deciding that what a web page connected is its customer's.
    ///
    /// Only an active, browser-created connection not yet attached is
    /// attached. The connection takes the target customer's id and
    /// reference id and `attached_at` = `now`; the scoped keys minted under
    /// its grant take the customer's id (their reference id, the subject
    /// they were minted for, stays: attaching never makes a credential the
    /// browser got speak for the customer). A [`AttachTarget::Reference`]
    /// the app has no customer for renames the connection's own customer
    /// instead. When the connection moves to another customer, its former
    /// (browser-created) customer is deleted if no other active connection
    /// holds it. An active connection of the app for the target's reference
    /// id and the same linked account refuses the attachment.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`](super::StorageErrorKind::Conflict)
    /// when a concurrent change took the target's reference id or linked
    /// account first; nothing is written.
    async fn attach_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        to: &AttachTarget,
        now: OffsetDateTime,
    ) -> Result<ConnectionAttach, StorageError>;

    /// Applies a step transition to a pending, unexpired Connect session if
    /// its `step_version` is still `expected_version`: the stored context
    /// becomes `context` (whose version the caller set to
    /// `expected_version + 1`). Of concurrent transitions from one version,
    /// exactly one applies.
    async fn advance_connect(
        &self,
        hash: &CredentialHash,
        expected_version: u32,
        context: &ConnectContext,
        now: OffsetDateTime,
    ) -> Result<StepAdvance, StorageError>;

    /// The app's active connection for `reference_id`, if any (the most
    /// recently changed one when several providers are linked).
    async fn find_connection(
        &self,
        app_id: &AppId,
        reference_id: &str,
    ) -> Result<Option<ConnectionRecord>, StorageError>;

    /// A page of the workspace's connections matching `filter`, oldest
    /// first.
    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<ConnectionRecord>, StorageError>;

    /// The connection `id` of `workspace` (and of `app_id`, when given).
    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRecord>, StorageError>;

    /// Edits a connection's tags atomically (a read-modify-write in one
    /// step, so concurrent edits never lose one another).
    async fn update_connection_tags(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        edit: &TagEdit,
        now: OffsetDateTime,
    ) -> Result<TagUpdate, StorageError>;

    /// Revokes an active connection and, atomically, its grant (so its
    /// tokens stop working) and the scoped keys minted under that grant
    /// (another connection's keys, of the same app and customer, keep
    /// working). `None` if unknown or already revoked.
    async fn revoke_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<ConnectionRecord>, StorageError>;

    /// Mints a scoped key: stores it only if, at that moment, its app
    /// exists, its grant is live (stored, not revoked) and an active
    /// connection of its app and customer holds that grant, all checked and
    /// written in one atomic step, so that no key is ever minted for a
    /// connection, customer or app being revoked or deleted concurrently.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`](super::StorageErrorKind::Conflict)
    /// when a key with this id exists; nothing is written.
    async fn insert_scoped_key(
        &self,
        key: &ScopedKeyRecord,
    ) -> Result<ScopedKeyInsert, StorageError>;

    /// The scoped key record `id`, revoked or not; `None` if unknown or its
    /// app was deleted. One read, the whole of a key's verification in
    /// storage: its `revoked_at` is the key's own revocation time, or else
    /// its grant's, so a key dies with its grant whichever way the grant
    /// was revoked (a refresh token's reuse, RFC 7009 revocation of the
    /// grant, …); a key whose grant is no longer stored (purged after its
    /// revocation) reads as revoked at its creation time, the grant's time
    /// being lost.
    async fn get_scoped_key(
        &self,
        id: &ScopedKeyId,
    ) -> Result<Option<ScopedKeyRecord>, StorageError>;

    /// A page of the workspace's scoped keys (metadata), optionally of one
    /// app and/or one customer, oldest first; `revoked_at` as
    /// [`get_scoped_key`](Self::get_scoped_key) reads it.
    async fn list_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        customer_id: Option<&CustomerId>,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<ScopedKeyRecord>, StorageError>;

    /// Revokes a scoped key of `app_id` in `workspace`. `false` if unknown,
    /// another app's, or already revoked.
    async fn revoke_scoped_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        id: &ScopedKeyId,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError>;

    /// Revokes every live scoped key of a customer; how many.
    async fn revoke_customer_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        customer_id: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError>;
}
