//! The hosted Connect flow as a server-side step machine:
//! `terms` → `provider` → `link` → `customer` → `consent`, each skipped
//! when it has nothing to ask.
//!
//! The state of every step lives in the session (its Connect context); the
//! browser carries only the Connect token and a CSRF token. Every
//! transition is a compare-and-swap on the context's version
//! ([`ConnectStore::advance_connect`](crate::storage::ConnectStore::advance_connect)),
//! so reloads, Back, a second tab or a post for a step already passed can
//! never skip, repeat or corrupt anything: a stale post just shows where the
//! flow stands.
//!
//! The redirect link's `state` is the Connect token sealed with
//! ChaCha20-Poly1305 under a key derived from the server key ring: the
//! callback recovers the session from it without a lookup table, the
//! provider never sees the token, and its keyed hash in the session makes it
//! single-use. The callback consumes it (one compare-and-swap) before the
//! host's hook exchanges the provider's code, so of two concurrent returns
//! one reaches the hook.
//!
//! # Security
//!
//! Every step is bound to the browser that claimed the session with its
//! first form post ([`crate::connect::browser`]): the page, its posts (their
//! CSRF token is derived from the browser's binding) and the provider's
//! callback must carry its [`BrowserSecret`]. A provider authorization URL forwarded to
//! someone else therefore links nothing: their browser's return is refused
//! (RFC 9700 §2.1, CSRF protection "securely bound to the user agent").

mod filters;
mod link;
mod status;

use crate::connect::browser::{BrowserSecret, same_hash};
use crate::connect::input::CustomerInfoInput;
use crate::connect::view::StepRefusal;
use crate::credentials::{ConnectToken, Redacted, RedactedUrl};
use crate::error::{ConnectProblem, FieldError, Problem};
use crate::hooks::link::{LinkMethod, Provider};
use crate::oauth::authorize::ErrorPage;
use crate::server::AuthorizationServer;
use crate::storage::{
    ConnectContext, ConnectEmbed, ConnectMode, CustomerInfo, SessionRecord, StepAdvance, Storage,
};

pub use crate::connect::view::Step;
pub use crate::hooks::link::LinkFormValues;
use crate::hooks::link::ProviderQuery;

/// What the user posted on the current step.
///
/// `Debug` shows a form link's field names, never their values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepAction {
    /// Accept the terms.
    AcceptTerms,
    /// Pick this provider.
    ChooseProvider(String),
    /// Go to the provider's authorization page (redirect links).
    StartLink,
    /// The form link's values (only the declared fields are kept).
    SubmitLink(LinkFormValues),
    /// Go back to the provider picker (after a failed link, say).
    ChangeProvider,
    /// The customer step's details.
    SubmitCustomer(Box<CustomerInfoInput>),
}

/// Where the browser goes after a step.
///
/// `Debug` shows a redirect's parameter names, not their values (the
/// provider's authorization URL carries the link's `state`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepOutcome {
    /// Show the flow again (`GET /connect?token=…`): the next step, or the
    /// same one with an error.
    Continue,
    /// Go to the provider's authorization page.
    Redirect(RedactedUrl),
}

/// A provider's return to `GET /connect/callback/{provider}`
/// ([`AuthorizationServer::connect_link_callback`]): its `state`, which the crate
/// checks, and the rest of its query (a code, an error, …), which the
/// provider's hook reads.
///
/// `Debug` redacts the state and every parameter.
#[derive(Debug, Clone, Default)]
pub struct ProviderReturn {
    state: Option<Redacted<String>>,
    params: ProviderQuery,
}

impl ProviderReturn {
    /// A return carrying `state` (`None` when the provider sent none).
    pub fn new(state: Option<String>) -> Self {
        Self {
            state: state.map(Redacted::new),
            params: ProviderQuery::new(),
        }
    }

    /// This return and its query parameter `name` (other than `state`)
    /// set to `value`, for the provider's hook.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds the query parameter `name` (other than `state`) as `value`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.params.insert(name, value);
    }

    /// The `state` the provider sent back.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref().map(String::as_str)
    }

    /// The rest of the query, as the provider's hook receives it.
    pub fn params(&self) -> &ProviderQuery {
        &self.params
    }
}

/// Where a provider's return sends the browser
/// ([`AuthorizationServer::connect_link_callback`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkReturn {
    /// The hosted page, at the step the flow now stands at.
    pub location: String,
    /// Whether the account was linked (else the page shows why not, with a
    /// retry).
    pub linked: bool,
    /// The provider's name.
    pub provider: String,
    /// The embed marker of a page opened by the embed script: its
    /// provider sign-in ran in a window of its own, which the return
    /// should close (the embedded page moves on by itself).
    pub embed: Option<ConnectEmbed>,
}

/// Where a Connect session's flow stands, for a page waiting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectStatus {
    /// The current step.
    pub step: Step,
    /// The version of the flow's state: it changes with every transition.
    pub version: u32,
}

/// What a web page at one origin can do with a Connect session's hosted
/// page ([`AuthorizationServer::connect_embed_check`]): the embed script
/// asks before it opens a modal, so that it knows, rather than guesses
/// from a silent frame, whether the modal can work.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmbedCheck {
    /// The page's origin, as its `Origin` header gave it.
    pub origin: String,
    /// Whether the hosted page lets that origin frame it: the origin is one
    /// of the server's
    /// [`frame_ancestors`](crate::AuthorizationServerBuilder::frame_ancestors)
    /// or of the app's `allowedOrigins` (the page's `frame-ancestors`).
    pub framable: bool,
    /// Whether the hosted pages post their messages (the steps, the
    /// result) to that origin: it is the origin of the session's redirect
    /// URL, the one target origin they use. A modal's result page is
    /// framable by that origin only.
    pub messages: bool,
}

impl EmbedCheck {
    /// Whether a modal at that origin can run the flow to its end: the page
    /// may be framed there and reports there.
    pub fn modal(&self) -> bool {
        self.framable && self.messages
    }
}

pub(crate) use filters::check_filters;
use filters::{candidates, filters_of};

impl<S: Storage> AuthorizationServer<S> {
    /// The providers this session may pick from.
    pub(crate) fn session_candidates(&self, context: &ConnectContext) -> Vec<&Provider> {
        candidates(self.config().providers(), filters_of(context).as_ref())
    }

    /// The provider chosen, or the only candidate.
    pub(crate) fn session_provider(&self, context: &ConnectContext) -> Option<&Provider> {
        let candidates = self.session_candidates(context);
        match &context.progress.provider {
            Some(id) => candidates.into_iter().find(|p| &p.id == id),
            None if candidates.len() == 1 => candidates.into_iter().next(),
            None => None,
        }
    }

    /// Where the flow of `context` stands, given what is known of the
    /// customer.
    pub(crate) fn current_step(&self, context: &ConnectContext, known: &CustomerInfo) -> Step {
        let config = self.config();
        let progress = &context.progress;
        if config.terms().is_some()
            && context.mode == ConnectMode::Create
            && progress.terms_accepted.is_none()
        {
            return Step::Terms;
        }
        if !config.providers().is_empty() {
            if self.session_provider(context).is_none() {
                return Step::Provider;
            }
            if progress.linked.is_none() {
                return Step::Link;
            }
        }
        if progress.customer.is_none() && !known.is_complete() {
            return Step::Customer;
        }
        Step::Consent
    }

    /// The session as `browser` may see it (a `GET` of its page): its
    /// handle, the session, and the browser's hash. Claims nothing: a
    /// session no browser has claimed yet is shown to any (a link scanner,
    /// a chat unfurl, the user's browser), each with a CSRF token of its
    /// own; one claimed by another browser is refused.
    ///
    /// # Errors
    ///
    /// [`ErrorPage::OtherBrowser`] for another browser than the one that
    /// claimed the session; an [`ErrorPage`] for an unknown, expired or
    /// completed session.
    pub(crate) async fn view_as_browser(
        &self,
        token: &str,
        browser: &BrowserSecret,
    ) -> Result<(ConnectToken, SessionRecord, String), ErrorPage> {
        let (handle, record) = self
            .open_session_handle(token)
            .await
            .map_err(crate::connect::view::page_of)?;
        let context = record.connect.as_deref().ok_or(ErrorPage::UnknownRequest)?;
        let hash = self
            .browser_hash(&handle, browser)
            .ok_or(ErrorPage::TemporarilyUnavailable)?;
        match context.progress.browser.as_deref() {
            Some(bound) if !same_hash(bound, &hash) => Err(ErrorPage::OtherBrowser),
            _ => Ok((handle, record, hash)),
        }
    }

    /// Claims the session for the browser whose hash is `hash`, if no
    /// browser has yet (a compare-and-swap: of two browsers posting at
    /// once, one wins), or checks that it is the browser that did. The
    /// session as it now is, and its handle.
    ///
    /// Only a state-changing request claims: a form post of the page
    /// whose CSRF token, derived from that browser's hash, the caller has
    /// checked.
    ///
    /// # Errors
    ///
    /// [`ErrorPage::OtherBrowser`] for another browser; an [`ErrorPage`]
    /// for an unknown, expired or completed session.
    pub(super) async fn claim_for(
        &self,
        token: &str,
        hash: &str,
    ) -> Result<(ConnectToken, SessionRecord), ErrorPage> {
        let (handle, mut record) = self
            .open_session_handle(token)
            .await
            .map_err(crate::connect::view::page_of)?;
        for _ in 0..3 {
            let context = record.connect.as_deref().ok_or(ErrorPage::UnknownRequest)?;
            match context.progress.browser.as_deref() {
                Some(bound) if same_hash(bound, hash) => return Ok((handle, record)),
                Some(_) => return Err(ErrorPage::OtherBrowser),
                None => {}
            }
            let mut claimed = context.clone();
            claimed.progress.browser = Some(hash.to_owned());
            claimed.step_version = context.step_version.wrapping_add(1);
            match self
                .storage()
                .advance_connect(&record.hash, context.step_version, &claimed, self.now())
                .await
            {
                // Claimed: the session as the claim left it.
                Ok(StepAdvance::Advanced) => {
                    record.connect = Some(Box::new(claimed));
                    return Ok((handle, record));
                }
                // Another request moved the flow first (perhaps another
                // browser's claim): look again at the session as it is.
                Ok(StepAdvance::Stale(now)) => record = *now,
                Ok(StepAdvance::Closed) => return Err(ErrorPage::CompletedRequest),
                Err(_) => return Err(ErrorPage::TemporarilyUnavailable),
            }
        }
        Err(ErrorPage::TemporarilyUnavailable)
    }

    /// A post whose CSRF token is not the one of this browser's page: from
    /// another browser (the session is bound to a different one), or a
    /// stale or forged form.
    pub(super) async fn csrf_refusal(&self, token: &str, hash: &str) -> StepRefusal {
        let other = match self.open_session_handle(token).await {
            Ok((_, record)) => record
                .connect
                .as_deref()
                .and_then(|c| c.progress.browser.as_deref())
                .is_some_and(|bound| !same_hash(bound, hash)),
            Err(_) => false,
        };
        StepRefusal::Page(if other {
            ErrorPage::OtherBrowser
        } else {
            ErrorPage::InvalidCsrfToken
        })
    }

    /// Opens a session for a form post of `browser`: the CSRF token must
    /// be the one of the page shown to that browser; the post claims the
    /// session for it if no browser has yet (the first state-changing
    /// request does), and must otherwise come from the browser that did.
    pub(crate) async fn open_bound(
        &self,
        token: &str,
        csrf_token: &str,
        browser: &BrowserSecret,
    ) -> Result<(ConnectToken, SessionRecord), StepRefusal> {
        let page = StepRefusal::Page;
        let handle = ConnectToken::parse(self.config().prefixes(), token)
            .map_err(|_| page(ErrorPage::UnknownRequest))?;
        let hash = self
            .browser_hash(&handle, browser)
            .ok_or(page(ErrorPage::TemporarilyUnavailable))?;
        if !self.check_connect_csrf(&handle, &hash, csrf_token) {
            return Err(self.csrf_refusal(token, &hash).await);
        }
        self.claim_for(handle.expose_secret(), &hash)
            .await
            .map_err(page)
    }

    /// Applies `change` to the session's context if it still is at
    /// `version`: true when applied, false when another transition won.
    pub(super) async fn advance(
        &self,
        record: &SessionRecord,
        context: &ConnectContext,
        change: impl FnOnce(&mut ConnectContext),
    ) -> Result<bool, StepRefusal> {
        let mut next = context.clone();
        change(&mut next);
        next.step_version = context.step_version.wrapping_add(1);
        match self
            .storage()
            .advance_connect(&record.hash, context.step_version, &next, self.now())
            .await
        {
            Ok(StepAdvance::Advanced) => Ok(true),
            Ok(StepAdvance::Stale(_)) => Ok(false),
            Ok(StepAdvance::Closed) => Err(StepRefusal::Page(ErrorPage::CompletedRequest)),
            Err(_) => Err(StepRefusal::Page(ErrorPage::TemporarilyUnavailable)),
        }
    }

    /// Takes one step of the hosted flow (`POST /connect` with `step`).
    ///
    /// A post for another step than the current one (a reload, Back, a
    /// second tab) changes nothing: the page then shows where the flow
    /// stands.
    ///
    /// # Errors
    ///
    /// [`StepRefusal::Page`] for a bad CSRF token, another browser than
    /// the one the session is bound to, or an unknown, expired or completed
    /// session; [`StepRefusal::Invalid`] for a field to correct;
    /// [`StepRefusal::OutOfOrder`] for a stale post.
    ///
    /// # Security
    ///
    /// `browser` is the secret of the request's binding cookie
    /// ([`browser_from_cookie`](Self::browser_from_cookie)); a request
    /// without one is from another browser and must not get this far. The
    /// first post claims the session for `browser`.
    pub async fn connect_step(
        &self,
        token: &str,
        csrf_token: &str,
        browser: &BrowserSecret,
        posted: Step,
        action: StepAction,
    ) -> Result<StepOutcome, StepRefusal> {
        let page = StepRefusal::Page;
        let (handle, record) = self.open_bound(token, csrf_token, browser).await?;
        let Some(context) = record.connect.as_deref() else {
            return Err(page(ErrorPage::UnknownRequest));
        };
        let known = self.known_customer(&record, context).await?;
        let current = self.current_step(context, &known);
        let changing_provider = posted == Step::Link && action == StepAction::ChangeProvider;
        if posted != current && !changing_provider {
            return Err(StepRefusal::OutOfOrder);
        }
        let now = self.now();
        let applied = match action {
            StepAction::AcceptTerms if current == Step::Terms => {
                self.advance(&record, context, |c| {
                    c.progress.terms_accepted = Some(now.unix_timestamp())
                })
                .await?
            }
            StepAction::ChooseProvider(id) if current == Step::Provider => {
                if !self.session_candidates(context).iter().any(|p| p.id == id) {
                    return Err(StepRefusal::Invalid(FieldError::new(
                        "provider",
                        Problem::Connect(ConnectProblem::UnknownProvider),
                    )));
                }
                self.advance(&record, context, |c| {
                    c.progress.provider = Some(id);
                    c.progress.link_error = None;
                })
                .await?
            }
            StepAction::ChangeProvider => {
                if self.session_candidates(context).len() < 2 || current != Step::Link {
                    return Err(StepRefusal::OutOfOrder);
                }
                self.advance(&record, context, |c| {
                    c.progress.provider = None;
                    c.progress.link_state = None;
                    c.progress.link_browser = None;
                    c.progress.link_error = None;
                })
                .await?
            }
            StepAction::StartLink if current == Step::Link => {
                return self.start_link(&handle, &record, context, None).await;
            }
            StepAction::SubmitLink(values) if current == Step::Link => {
                let provider = self
                    .session_provider(context)
                    .ok_or(StepRefusal::OutOfOrder)?;
                let LinkMethod::Form(fields) = &provider.method else {
                    return Err(StepRefusal::OutOfOrder);
                };
                let mut kept = LinkFormValues::new();
                for field in fields {
                    match values.get(&field.name) {
                        Some(v) if !v.is_empty() => kept.insert(field.name.clone(), v),
                        _ if field.required => {
                            return Err(StepRefusal::Invalid(FieldError::new(
                                "link",
                                Problem::Required,
                            )));
                        }
                        _ => {}
                    }
                }
                drop(values);
                let link = self
                    .link_context(&handle, context, provider)
                    .map_err(page)?;
                let result = provider.hook.complete_form(&link, &kept).await;
                drop(kept); // zeroizes the values
                self.record_link(&record, context, provider, result).await?
            }
            StepAction::SubmitCustomer(input) if current == Step::Customer => {
                let info = crate::connect::input::check_form_customer(&input)
                    .map_err(StepRefusal::Invalid)?;
                self.advance(&record, context, |c| c.progress.customer = Some(info))
                    .await?
            }
            _ => return Err(StepRefusal::OutOfOrder),
        };
        if applied {
            Ok(StepOutcome::Continue)
        } else {
            Err(StepRefusal::OutOfOrder)
        }
    }

    /// Everything the session knows of its customer: a stored customer's
    /// details, the session's `customerInfo`, and what the customer step
    /// confirmed.
    pub(crate) async fn known_customer(
        &self,
        record: &SessionRecord,
        context: &ConnectContext,
    ) -> Result<CustomerInfo, StepRefusal> {
        if let Some(confirmed) = &context.progress.customer {
            return Ok(confirmed.clone());
        }
        // Only the app's own customer, and never for a browser-created
        // session (which names none).
        let stored = match &context.customer_id {
            Some(id) if !context.browser_created => self
                .storage()
                .get_customer(&record.workspace_id, Some(&record.app_id), id)
                .await
                .map_err(|_| StepRefusal::Page(ErrorPage::TemporarilyUnavailable))?,
            _ => None,
        };
        Ok(crate::connect::input::merged(
            stored.as_ref().map(|c| &c.info),
            &context.customer_info,
        ))
    }

    /// The page data with the step machine's view, for `connect_open`.
    pub(crate) fn step_view(
        &self,
        context: &ConnectContext,
        known: &CustomerInfo,
        search: Option<&str>,
    ) -> crate::connect::view::StepView {
        let step = self.current_step(context, known);
        let candidates = self.session_candidates(context);
        let can_change = candidates.len() > 1;
        let config = self.config();
        let catalogue = !config.providers().is_empty();
        let steps = [
            (
                Step::Terms,
                config.terms().is_some() && context.mode == ConnectMode::Create,
            ),
            (Step::Provider, catalogue && can_change),
            (Step::Link, catalogue),
            (
                Step::Customer,
                context.progress.customer.is_some() || !known.is_complete(),
            ),
            (Step::Consent, true),
        ]
        .into_iter()
        .filter_map(|(step, shown)| shown.then_some(step))
        .collect();
        crate::connect::view::StepView {
            step,
            providers: candidates
                .into_iter()
                .filter(|p| search.is_none_or(|q| p.matches(q)))
                .map(crate::connect::view::ProviderView::from)
                .collect(),
            provider: self
                .session_provider(context)
                .map(crate::connect::view::ProviderView::from),
            can_change_provider: can_change,
            link_error: context.progress.link_error.clone(),
            linked: context.progress.linked.clone(),
            terms: self.config().terms().cloned(),
            steps,
        }
    }
}
