//! Connect sessions: a service's backend creates a short-lived session for
//! one of its users; the user reviews and approves on the hosted page; the
//! service gets an authorization code (and, if it asked, a scoped key).
//!
//! A Connect session is a pushed authorization request (RFC 9126) with
//! Connect context: the same pending authorization as `/oauth/authorize`
//! makes, found by its Connect token, which therefore also works as a
//! `request_uri`. Completing it writes the customer, the grant, the code, the
//! connection and the scoped key in one atomic storage step.

pub(crate) mod browser;
pub(crate) mod connections;
pub(crate) mod customers;
pub(crate) mod input;
pub(crate) mod publishable_keys;
pub(crate) mod scoped_keys;
pub(crate) mod session;
pub(crate) mod steps;
pub(crate) mod view;

pub(crate) use input::MAX_TAGS;
pub use input::{CustomerInfoInput, LocationInput};
pub(crate) use input::{check_reference_id, check_tags};
pub(crate) use session::{CreatedConnectSession, NewConnectSession};

pub use crate::model::origin::{Origin, OriginError};
pub use crate::storage::connect::{ConnectMode, ConnectionStatus, CustomerInfo, Location};
pub use browser::{BROWSER_COOKIE, BROWSER_COOKIE_HOST, BrowserSecret};
pub use connections::{AttachConnection, Connection, ConnectionUpdate};
pub use customers::Customer;
pub use publishable_keys::{BrowserCaller, CreatedPublishableKey, PublishableKeyInfo};
pub use scoped_keys::{
    MintedScopedKey, NewScopedKey, ScopedKey, ScopedKeyError, ScopedKeyInfo, ScopedKeyPrincipal,
};
pub use steps::{
    ConnectStatus, EmbedCheck, LinkFormValues, LinkReturn, ProviderReturn, Step, StepAction,
    StepOutcome,
};
pub use view::{ProviderView, StepRefusal, StepView};

use time::{Duration, OffsetDateTime};

use crate::credentials::{AuthorizationCode, ConnectToken, Secret};
use crate::model::ids::{ConnectionId, CustomerId, GrantId, Subject};
use crate::model::random::RandomError;
use crate::model::scope::ScopeSet;
use crate::oauth::authorize::{ClientRedirect, ErrorPage};
use crate::registry::apps::OAuthApp;
use crate::server::AuthorizationServer;
use crate::storage::{
    CodeRecord, ConnectApproval, ConnectContext, ConnectionRecord, CustomerRecord, GrantRecord,
    ResponseMode, ScopedKeyDelivery, SessionCompletion, SessionDecision, SessionRecord, Storage,
    StorageError, StorageErrorKind,
};

/// What the hosted Connect page shows, for the crate's renderer or a host's
/// own.
///
/// `Debug` redacts the CSRF token (the Connect token redacts itself).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectPage {
    /// The session's Connect token; the form posts it back as `token`.
    pub session: ConnectToken,
    /// The CSRF token; the form posts it back as `csrf_token`.
    pub csrf_token: Secret,
    /// The app.
    pub app: OAuthApp,
    /// The name to show (the session's `clientName` or the app's name).
    pub client_name: String,
    /// The requested scopes.
    pub scopes: ScopeSet,
    /// The customer details to prefill.
    pub customer: CustomerInfo,
    /// Whether the customer form must be shown (something is missing).
    pub ask_customer: bool,
    /// `create` or `update`.
    pub mode: ConnectMode,
    /// The session's filters (JSON text), for a host's page.
    pub filters: Option<String>,
    /// Where the browser returns.
    pub redirect_url: String,
    /// When the session expires.
    pub expires_at: OffsetDateTime,
    /// Where the flow stands.
    pub flow: StepView,
    /// Set when the embed script opened the page (popup or modal): the
    /// page then reports to that window.
    pub embed: Option<crate::storage::ConnectEmbed>,
    /// The version of the flow's state shown (it changes with every step).
    pub step_version: u32,
    /// Whether the session is claimed (by this browser: another one would
    /// have got [`ErrorPage::OtherBrowser`]). Until its first form post
    /// claims it, the session can still be taken by another browser that
    /// posts first.
    pub claimed: bool,
    /// The language the session asked its pages in (`locale`), if any.
    pub locale: Option<String>,
    /// This browser's binding (the keyed hash of its secret, hex; not a
    /// secret: it cannot be turned back into the cookie). An embedded
    /// modal's link form posts it back as `binding`, for the provider
    /// sign-in window, which does not carry the iframe's cookie
    /// ([`connect_link_in_window`](AuthorizationServer::connect_link_in_window)).
    pub browser_binding: String,
}

/// The user's decision on the Connect page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectDecision {
    /// Approve (on the consent step, the last one).
    Approve,
    /// Deny: the app gets `access_denied`.
    Deny,
}

impl<S: Storage> AuthorizationServer<S> {
    /// The session behind a Connect token whatever its state (pending,
    /// completed or expired), for an embedded page's error report: where
    /// to send it and with which nonce. `None` when there is no such
    /// session (any more).
    pub(crate) async fn any_connect_session(&self, token: &str) -> Option<SessionRecord> {
        let config = self.config();
        let handle = ConnectToken::parse(config.prefixes(), token).ok()?;
        let hash = handle.hash(config.keys())?;
        let record = self
            .storage()
            .open_session(&hash, self.now())
            .await
            .ok()
            .flatten()?;
        record.connect.is_some().then_some(record)
    }

    /// Opens a Connect session's page (`GET /connect?token=…`, or
    /// `/oauth/authorize` with the token as `request_uri`) for `browser`;
    /// with a `search` (the page's `q`), the provider picker shows only the
    /// providers whose id, name or category matches it.
    ///
    /// Opening claims nothing (a `GET` may come from a link scanner or a
    /// chat unfurl): the session is claimed for a browser by its first
    /// form post ([`connect_step`](Self::connect_step),
    /// [`connect_complete`](Self::connect_complete)); once claimed, the
    /// page opens only for that browser. Until then every browser sees the
    /// page, each with a CSRF token of its own ([`ConnectPage::claimed`]
    /// says which case it is).
    ///
    /// # Errors
    ///
    /// An [`ErrorPage`] for an unknown, expired or completed session;
    /// [`ErrorPage::OtherBrowser`] for another browser than the one that
    /// claimed it.
    ///
    /// # Security
    ///
    /// `browser` is the secret of the request's binding cookie
    /// ([`browser_from_cookie`](Self::browser_from_cookie) with the value
    /// of the cookie [`browser_cookie_name`](Self::browser_cookie_name)),
    /// or, for a browser without a valid one, a new one
    /// ([`new_browser_secret`](Self::new_browser_secret)) to set
    /// ([`browser_cookie`](Self::browser_cookie)) with the page. A host
    /// rendering its own page must do the same: the page's CSRF token is
    /// bound to that browser, and the flow goes on only with its cookie.
    pub async fn connect_open(
        &self,
        token: &str,
        browser: &BrowserSecret,
        search: Option<&str>,
    ) -> Result<ConnectPage, ErrorPage> {
        let (session, record, browser_hash) = self.view_as_browser(token, browser).await?;
        let Some(connect) = record.connect.as_deref() else {
            return Err(ErrorPage::UnknownRequest);
        };
        let storage = self.storage();
        let app = storage
            .get_app(&record.workspace_id, &record.app_id)
            .await
            .map_err(|_| ErrorPage::TemporarilyUnavailable)?
            .ok_or(ErrorPage::UnknownRequest)?
            .app;
        let customer = self
            .known_customer(&record, connect)
            .await
            .map_err(|e| match e {
                StepRefusal::Page(page) => page,
                _ => ErrorPage::TemporarilyUnavailable,
            })?;
        let flow = self.step_view(connect, &customer, search);
        Ok(ConnectPage {
            flow,
            csrf_token: self
                .connect_csrf(&session, &browser_hash)
                .map(Secret::new)
                .ok_or(ErrorPage::TemporarilyUnavailable)?,
            session,
            app,
            client_name: connect.client_name.clone(),
            scopes: record.scopes.clone(),
            ask_customer: !customer.is_complete(),
            customer,
            mode: connect.mode,
            filters: connect.filters.clone(),
            redirect_url: record.redirect_uri.clone(),
            expires_at: record.expires_at,
            embed: connect.progress.embed.clone(),
            step_version: connect.step_version,
            claimed: connect.progress.browser.is_some(),
            locale: connect.locale.clone(),
            browser_binding: browser_hash,
        })
    }

    /// Completes a Connect session (`POST /connect`): approve writes the
    /// customer, the grant, the code, the connection and any scoped key in
    /// one atomic step and redirects with `code`, `state` and `iss`; deny
    /// redirects with `error=access_denied`. Single use: of two tabs, one
    /// completes and the other gets a page saying it is done.
    ///
    /// # Errors
    ///
    /// [`StepRefusal::Page`] for a bad CSRF token, another browser than
    /// the one the session is bound to, or an unknown, expired or completed
    /// session; [`StepRefusal::Invalid`] for a customer field to correct
    /// (nothing was written).
    ///
    /// # Security
    ///
    /// `browser` is the secret of the request's binding cookie
    /// ([`browser_from_cookie`](Self::browser_from_cookie)); the CSRF token
    /// must be the one of the page shown to that browser. A first post
    /// (deny from the first step) claims the session for it.
    pub async fn connect_complete(
        &self,
        token: &str,
        csrf_token: &str,
        browser: &BrowserSecret,
        decision: ConnectDecision,
    ) -> Result<ClientRedirect, StepRefusal> {
        let page = StepRefusal::Page;
        let config = self.config();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (handle, record) = self.open_bound(token, csrf_token, browser).await?;
            let hash = handle
                .hash(config.keys())
                .ok_or(page(ErrorPage::UnknownRequest))?;
            let Some(connect) = record.connect.as_deref() else {
                return Err(page(ErrorPage::UnknownRequest));
            };
            let (stored, code, scoped_key) = match &decision {
                ConnectDecision::Deny => (SessionDecision::Deny, None, None),
                ConnectDecision::Approve => {
                    let info = self.known_customer(&record, connect).await?;
                    // Approval is the last step: everything before it is done.
                    if self.current_step(connect, &info) != crate::connect::view::Step::Consent {
                        return Err(StepRefusal::OutOfOrder);
                    }
                    let (approval, code, key) = self
                        .connect_approval(&record, connect, info)
                        .await
                        .map_err(|_| page(ErrorPage::TemporarilyUnavailable))?;
                    (approval, Some(code), key)
                }
            };
            match self
                .storage()
                .complete_session(&hash, &stored, self.now())
                .await
            {
                Ok(SessionCompletion::Completed(_)) => {
                    let outcome = match &stored {
                        SessionDecision::Deny => "denied",
                        SessionDecision::Approve { .. } => "approved",
                    };
                    crate::telemetry::connect_completed(record.client_id.as_str(), outcome);
                    if let SessionDecision::Approve {
                        connect: Some(approval),
                        ..
                    } = &stored
                    {
                        self.connection_event(&approval.connection).await;
                    }
                }
                Ok(SessionCompletion::AlreadyCompleted(_)) => {
                    return Err(page(ErrorPage::CompletedRequest));
                }
                Ok(SessionCompletion::Expired) => return Err(page(ErrorPage::ExpiredRequest)),
                Ok(SessionCompletion::NotFound) => return Err(page(ErrorPage::UnknownRequest)),
                // A concurrent session made the same customer first: read
                // again and update theirs.
                Err(e) if e.kind() == StorageErrorKind::Conflict && attempts < 3 => continue,
                Err(_) => return Err(page(ErrorPage::TemporarilyUnavailable)),
            }
            let mut params: Vec<(&str, &str)> = Vec::new();
            match &code {
                Some(code) => params.push(("code", code.expose_secret())),
                None => {
                    params.push(("error", "access_denied"));
                    params.push(("error_description", "the user denied the request"));
                }
            }
            if let Some(state) = record.state.as_deref().map(String::as_str) {
                params.push(("state", state));
            }
            params.push(("iss", config.issuer_str()));
            if let (Some(key), Some(ScopedKeyDelivery::Redirect)) =
                (&scoped_key, connect.scoped_key)
            {
                params.push(("scoped_key", key.expose_secret()));
            }
            let mut to = ClientRedirect::new(&record.redirect_uri, &params, ResponseMode::Query);
            to.embed.clone_from(&connect.progress.embed);
            return Ok(to);
        }
    }

    /// Reports the connection an approval wrote: created (the proposed id
    /// was stored) or updated (an existing one was updated in place and now
    /// holds the approval's grant).
    async fn connection_event(&self, proposed: &ConnectionRecord) {
        let filter = crate::storage::ConnectionFilter {
            app_id: Some(proposed.app_id.clone()),
            grant_id: Some(proposed.grant_id.clone()),
            ..crate::storage::ConnectionFilter::default()
        };
        let stored = self
            .storage()
            .list_connections(&proposed.workspace_id, &filter, 0, 1)
            .await
            .ok()
            .and_then(|listing| listing.items.into_iter().next());
        let event = match stored {
            Some(c) if c.id != proposed.id => crate::hooks::events::Event::ConnectionUpdated {
                workspace_id: c.workspace_id,
                connection_id: c.id,
            },
            _ => crate::hooks::events::Event::ConnectionCreated {
                workspace_id: proposed.workspace_id.clone(),
                app_id: proposed.app_id.clone(),
                connection_id: proposed.id.clone(),
                reference_id: proposed.reference_id.clone(),
            },
        };
        self.config().events().emit(&event);
    }

    /// Everything an approval writes, and the code and scoped key to hand out.
    async fn connect_approval(
        &self,
        record: &SessionRecord,
        connect: &ConnectContext,
        info: CustomerInfo,
    ) -> Result<(SessionDecision, AuthorizationCode, Option<ScopedKey>), crate::error::Error> {
        let config = self.config();
        let storage = self.storage();
        let now = self.now();
        let ws = &record.workspace_id;
        let app_id = &record.app_id;
        // Only the app's own customer; none for a browser-created session,
        // which always makes a new one.
        let existing = match &connect.customer_id {
            Some(id) if !connect.browser_created => {
                storage.get_customer(ws, Some(app_id), id).await?
            }
            _ => None,
        };
        let existing = match existing {
            Some(c) => Some(c),
            None if connect.browser_created => None,
            None => {
                storage
                    .find_customer(ws, app_id, &connect.reference_id)
                    .await?
            }
        };
        let customer = CustomerRecord {
            id: match &existing {
                Some(c) => c.id.clone(),
                None => CustomerId::generate(config.rng())?,
            },
            workspace_id: ws.clone(),
            app_id: app_id.clone(),
            reference_id: connect.reference_id.clone(),
            info,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
        };
        let subject = Subject::parse(&connect.reference_id)
            .map_err(|_| StorageError::new(StorageErrorKind::Corrupt))?;
        let grant = GrantRecord {
            id: GrantId::generate(config.rng())?,
            workspace_id: ws.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            subject: Some(subject.clone()),
            scopes: record.scopes.clone(),
            created_at: now,
            // A connection's grant lives as long as the connection.
            expires_at: None,
            revoked_at: None,
        };
        let app = storage
            .get_app(ws, &record.app_id)
            .await?
            .ok_or(StorageError::new(StorageErrorKind::NotFound))?
            .app;
        let scoped_key = match connect.scoped_key {
            None => None,
            Some(_) => Some(self.new_scoped_key_record(
                &app,
                customer.id.clone(),
                connect.reference_id.clone(),
                grant.id.clone(),
                record.scopes.clone(),
                Some("Connect".to_owned()),
                connect.scoped_key_expires_in.map(Duration::seconds),
            )?),
        };
        let key_text = match &scoped_key {
            Some(k) => Some(self.scoped_key_text(k).ok_or(RandomError)?),
            None => None,
        };
        let (code, code_hash) =
            AuthorizationCode::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        let code_record = CodeRecord {
            hash: code_hash,
            grant_id: grant.id.clone(),
            workspace_id: ws.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            redirect_uri: record.redirect_uri.clone(),
            redirect_uri_in_request: false,
            code_challenge: record.code_challenge.clone(),
            scopes: record.scopes.clone(),
            subject,
            issued_at: now,
            expires_at: now + config.lifetimes().code,
            redeemed_at: None,
            scoped_key_id: scoped_key.as_ref().map(|k| k.id.clone()),
        };
        let connection = ConnectionRecord {
            id: ConnectionId::generate(config.rng())?,
            workspace_id: ws.clone(),
            app_id: record.app_id.clone(),
            customer_id: customer.id.clone(),
            reference_id: connect.reference_id.clone(),
            grant_id: grant.id.clone(),
            tags: connect.tags.clone(),
            linked: connect.progress.linked.clone(),
            status: ConnectionStatus::Active,
            browser_created: connect.browser_created,
            claimed_reference_id: connect.claimed_reference_id.clone(),
            attached_at: None,
            created_at: now,
            updated_at: now,
        };
        let decision = SessionDecision::Approve {
            grant: Box::new(grant),
            code: Box::new(code_record),
            connect: Some(Box::new(ConnectApproval {
                customer,
                connection,
                scoped_key,
                max_tags: config.max_connection_tags(),
            })),
        };
        Ok((decision, code, key_text))
    }
}
