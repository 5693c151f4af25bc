//! The hosted Connect flow as a server-side step machine:
//! `terms` → `provider` → `link` → `customer` → `consent`, each skipped
//! when it has nothing to ask.
//!
//! The state of every step lives in the session (its Connect context); the
//! browser carries only the Connect token and a CSRF token. Every
//! transition is a compare-and-swap on the context's version
//! ([`ConnectStore::advance_connect`](crate::ConnectStore::advance_connect)),
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

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::Deserialize;
use zeroize::Zeroize as _;

use crate::connect::browser::{BrowserSecret, same_hash};
use crate::connect::input::CustomerInfoInput;
use crate::connect::view::CompleteError;
use crate::credentials::{ConnectToken, Redacted, RedactedUrl, Secret};
use crate::error::{FieldError, Problem};
use crate::hooks::events::Event;
use crate::hooks::link::{LinkContext, LinkError, LinkMethod, Provider};
use crate::model::random::random_array;
use crate::oauth::authorize::ErrorPage;
use crate::server::AuthorizationServer;
use crate::storage::{
    ConnectContext, ConnectEmbed, ConnectMode, CustomerInfo, EmbedMode, SessionRecord, StepAdvance,
    Storage,
};

const STATE_DOMAIN: &str = "connect/link_state";

pub use crate::connect::view::Step;

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

/// The values posted on a form link step (a username, a password, …): each
/// field's name and value, handed to the host's hook and never stored or
/// logged.
///
/// `Debug` shows the names only; the values are zeroized on drop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFormValues(Vec<(String, Secret)>);

impl LinkFormValues {
    /// The values of `pairs` (name, value).
    pub fn new<I, N, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(n, v)| (n.into(), Secret::new(v.into())))
                .collect(),
        )
    }

    /// The value posted for `name`, if any (the first one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.expose_secret())
    }

    /// The names posted, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }
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

/// Where a provider's return sends the browser
/// ([`AuthorizationServer::link_callback`]).
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

/// The session's filters, as the page narrows the catalogue with them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters {
    #[serde(default)]
    providers: Option<Vec<String>>,
    #[serde(default)]
    manufacturers: Option<Vec<String>>,
    #[serde(default)]
    categories: Option<Vec<String>>,
    #[serde(default)]
    device_types: Option<Vec<String>>,
}

/// Checks a session's `filters` against the catalogue: every named provider
/// and category must exist, and at least one provider must remain.
pub(crate) fn check_filters(
    catalogue: &[Provider],
    filters: Option<&serde_json::Value>,
) -> Result<(), FieldError> {
    let Some(value) = filters else {
        return Ok(());
    };
    // The keys the flow reads must be what they say (anything else in the
    // object is the host's, passed on untouched); a mistyped filter is a
    // 400, never silently ignored.
    for key in ["providers", "manufacturers", "categories", "deviceTypes"] {
        let Some(given) = value.get(key) else {
            continue;
        };
        let strings = given
            .as_array()
            .is_some_and(|items| items.iter().all(serde_json::Value::is_string));
        if !strings {
            return Err(FieldError::new(
                filter_field(key),
                Problem::NotAListOfStrings,
            ));
        }
    }
    for (key, alias) in [
        ("providers", "manufacturers"),
        ("categories", "deviceTypes"),
    ] {
        if value.get(key).is_some() && value.get(alias).is_some() {
            return Err(FieldError::new(
                filter_field(alias),
                Problem::DuplicateAlias,
            ));
        }
    }
    let parsed: Filters = serde_json::from_value(value.clone()).unwrap_or_default();
    let (ids, id_field) = match (&parsed.providers, &parsed.manufacturers) {
        (Some(ids), _) => (Some(ids), "filters.providers"),
        (None, Some(ids)) => (Some(ids), "filters.manufacturers"),
        (None, None) => (None, "filters.providers"),
    };
    let (categories, category_field) = match (&parsed.categories, &parsed.device_types) {
        (Some(c), _) => (Some(c), "filters.categories"),
        (None, Some(c)) => (Some(c), "filters.deviceTypes"),
        (None, None) => (None, "filters.categories"),
    };
    if let Some(ids) = ids {
        for (index, id) in ids.iter().enumerate() {
            if !catalogue.iter().any(|p| &p.id == id) {
                return Err(FieldError::at(id_field, index, Problem::UnknownProvider));
            }
        }
    }
    if let Some(categories) = categories {
        for (index, category) in categories.iter().enumerate() {
            if !catalogue.iter().any(|p| p.categories.contains(category)) {
                return Err(FieldError::at(
                    category_field,
                    index,
                    Problem::UnknownCategory,
                ));
            }
        }
    }
    if (ids.is_some() || categories.is_some()) && candidates(catalogue, Some(value)).is_empty() {
        return Err(FieldError::new("filters", Problem::NoProviderLeft));
    }
    Ok(())
}

/// The error field of a filter key.
fn filter_field(key: &str) -> &'static str {
    match key {
        "providers" => "filters.providers",
        "manufacturers" => "filters.manufacturers",
        "categories" => "filters.categories",
        _ => "filters.deviceTypes",
    }
}

/// The providers a session may pick from.
fn candidates<'a>(
    catalogue: &'a [Provider],
    filters: Option<&serde_json::Value>,
) -> Vec<&'a Provider> {
    let parsed: Filters = filters
        .and_then(|f| serde_json::from_value(f.clone()).ok())
        .unwrap_or_default();
    let ids = parsed.providers.or(parsed.manufacturers);
    let categories = parsed.categories.or(parsed.device_types);
    catalogue
        .iter()
        .filter(|p| ids.as_ref().is_none_or(|ids| ids.contains(&p.id)))
        .filter(|p| {
            categories
                .as_ref()
                .is_none_or(|c| p.categories.iter().any(|pc| c.contains(pc)))
        })
        .collect()
}

fn filters_of(context: &ConnectContext) -> Option<serde_json::Value> {
    context
        .filters
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
}

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

    /// What the hook is told of the session; an error page when the key
    /// ring cannot derive the link secret (never a zero secret).
    fn link_context(
        &self,
        token: &ConnectToken,
        context: &ConnectContext,
        provider: &Provider,
    ) -> Result<LinkContext, ErrorPage> {
        let keys = self.config().keys();
        let secret = keys
            .derive(
                token.key_id(),
                "connect/link_secret",
                &[token.expose_secret().as_bytes(), provider.id.as_bytes()],
            )
            .ok_or(ErrorPage::TemporarilyUnavailable)?;
        Ok(LinkContext {
            provider: provider.id.clone(),
            reference_id: context.reference_id.clone(),
            callback_url: format!(
                "{}/connect/callback/{}",
                self.config().issuer_str(),
                provider.id
            ),
            link_secret: Redacted::new(secret),
        })
    }

    fn state_key(&self, key_id: u8) -> Option<LessSafeKey> {
        let raw = self.config().keys().derive(key_id, STATE_DOMAIN, &[])?;
        UnboundKey::new(&CHACHA20_POLY1305, &raw)
            .ok()
            .map(LessSafeKey::new)
    }

    /// Seals the Connect token into a link `state`.
    fn seal_state(&self, token: &ConnectToken) -> Option<String> {
        let kid = self.config().keys().current_id();
        let key = self.state_key(kid)?;
        let nonce = random_array::<12>(self.config().rng()).ok()?;
        let mut sealed = token.expose_secret().as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(STATE_DOMAIN),
            &mut sealed,
        )
        .ok()?;
        let mut raw = Vec::with_capacity(1 + 12 + sealed.len());
        raw.push(kid);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(raw))
    }

    /// The Connect token sealed in a link `state`, if it is authentic.
    fn open_state(&self, state: &str) -> Option<String> {
        if state.len() > 512 {
            return None;
        }
        let mut raw = URL_SAFE_NO_PAD.decode(state).ok()?;
        if raw.len() < 1 + 12 + 16 {
            return None;
        }
        let key = self.state_key(raw[0])?;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&raw[1..13]);
        let opened = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(STATE_DOMAIN),
                &mut raw[13..],
            )
            .ok()?;
        String::from_utf8(opened.to_vec()).ok()
    }

    /// The keyed hash (hex) of a link `state`; an error page when the key
    /// ring cannot make it (never an empty hash).
    fn state_hash(&self, token: &ConnectToken, state: &str) -> Result<String, ErrorPage> {
        self.config()
            .keys()
            .hash(token.key_id(), STATE_DOMAIN, &[state.as_bytes()])
            .map(|h| h.to_hex())
            .ok_or(ErrorPage::TemporarilyUnavailable)
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
    async fn claim_for(
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
    async fn csrf_refusal(&self, token: &str, hash: &str) -> CompleteError {
        let other = match self.open_session_handle(token).await {
            Ok((_, record)) => record
                .connect
                .as_deref()
                .and_then(|c| c.progress.browser.as_deref())
                .is_some_and(|bound| !same_hash(bound, hash)),
            Err(_) => false,
        };
        CompleteError::Page(if other {
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
    ) -> Result<(ConnectToken, SessionRecord), CompleteError> {
        let page = CompleteError::Page;
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
    async fn advance(
        &self,
        record: &SessionRecord,
        context: &ConnectContext,
        change: impl FnOnce(&mut ConnectContext),
    ) -> Result<bool, CompleteError> {
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
            Ok(StepAdvance::Closed) => Err(CompleteError::Page(ErrorPage::CompletedRequest)),
            Err(_) => Err(CompleteError::Page(ErrorPage::TemporarilyUnavailable)),
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
    /// [`CompleteError::Page`] for a bad CSRF token, another browser than
    /// the one the session is bound to, or an unknown, expired or completed
    /// session; [`CompleteError::Invalid`] for a field to correct;
    /// [`CompleteError::OutOfOrder`] for a stale post.
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
    ) -> Result<StepOutcome, CompleteError> {
        let page = CompleteError::Page;
        let (handle, record) = self.open_bound(token, csrf_token, browser).await?;
        let Some(context) = record.connect.as_deref() else {
            return Err(page(ErrorPage::UnknownRequest));
        };
        let known = self.known_customer(&record, context).await?;
        let current = self.current_step(context, &known);
        let changing_provider = posted == Step::Link && action == StepAction::ChangeProvider;
        if posted != current && !changing_provider {
            return Err(CompleteError::OutOfOrder);
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
                    return Err(CompleteError::Invalid(FieldError::new(
                        "provider",
                        Problem::UnknownProvider,
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
                    return Err(CompleteError::OutOfOrder);
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
                    .ok_or(CompleteError::OutOfOrder)?;
                let LinkMethod::Form(fields) = &provider.method else {
                    return Err(CompleteError::OutOfOrder);
                };
                let mut kept = Vec::with_capacity(fields.len());
                for field in fields {
                    match values.get(&field.name) {
                        Some(v) if !v.is_empty() => kept.push((field.name.clone(), v.to_owned())),
                        _ if field.required => {
                            return Err(CompleteError::Invalid(FieldError::new(
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
                for (_, value) in &mut kept {
                    value.zeroize();
                }
                self.record_link(&record, context, provider, result).await?
            }
            StepAction::SubmitCustomer(input) if current == Step::Customer => {
                let info = crate::connect::input::check_form_customer(&input)
                    .map_err(CompleteError::Invalid)?;
                self.advance(&record, context, |c| c.progress.customer = Some(info))
                    .await?
            }
            _ => return Err(CompleteError::OutOfOrder),
        };
        if applied {
            Ok(StepOutcome::Continue)
        } else {
            Err(CompleteError::OutOfOrder)
        }
    }

    /// Starts a redirect link: seals the session into a `state`, asks the
    /// hook for the provider's authorization URL and records the pending
    /// link (its state's hash and expiry, and `link_browser` when the
    /// provider's sign-in runs in a window that is not the bound browser's
    /// own cookie jar).
    async fn start_link(
        &self,
        handle: &ConnectToken,
        record: &SessionRecord,
        context: &ConnectContext,
        link_browser: Option<String>,
    ) -> Result<StepOutcome, CompleteError> {
        let page = CompleteError::Page;
        let provider = self
            .session_provider(context)
            .ok_or(CompleteError::OutOfOrder)?;
        if provider.method != LinkMethod::Redirect {
            return Err(CompleteError::OutOfOrder);
        }
        let state = self
            .seal_state(handle)
            .ok_or(page(ErrorPage::TemporarilyUnavailable))?;
        let link = self.link_context(handle, context, provider).map_err(page)?;
        let hash = self.state_hash(handle, &state).map_err(page)?;
        let url = match provider.hook.authorization_url(&link, &state).await {
            Ok(url) => url,
            Err(error) => {
                self.link_failed(provider, &error);
                let message = error.to_string();
                self.advance(record, context, |c| c.progress.link_error = Some(message))
                    .await?;
                return Ok(StepOutcome::Continue);
            }
        };
        let expires = (self.now() + self.config().lifetimes().connect_link).unix_timestamp();
        if !self
            .advance(record, context, |c| {
                c.progress.link_state = Some((hash, expires));
                c.progress.link_browser = link_browser;
                c.progress.link_error = None;
            })
            .await?
        {
            return Err(CompleteError::OutOfOrder);
        }
        Ok(StepOutcome::Redirect(RedactedUrl::new(url)))
    }

    /// Starts a redirect link from the provider sign-in window of an
    /// embedded modal page (`POST /connect`, `step=link`, `action=start`,
    /// in a window of its own): that window is a top-level browsing context,
    /// whose cookie jar is not the one of the modal's iframe (partitioned
    /// under the embedding site), so it does not carry the session's
    /// binding cookie. The form carries the iframe's binding instead
    /// (`binding`, the page's [`browser_binding`](crate::ConnectPage::browser_binding)),
    /// whose CSRF token must be the page's: the post claims the session
    /// for the iframe's browser if no browser has yet (this may be the
    /// flow's first state-changing request), or must come from the page of
    /// the browser that did. The window is bound by its own secret `window`:
    /// the provider's callback must come back to it.
    ///
    /// # Errors
    ///
    /// As [`connect_step`](Self::connect_step); [`ErrorPage::OtherBrowser`]
    /// for a session that is not an embedded modal one, or one another
    /// browser claimed.
    ///
    /// # Security
    ///
    /// The caller must have checked that the request is a same-origin one
    /// (its `Origin` is the issuer's, and `Sec-Fetch-Site`, when sent, is
    /// `same-origin`): a form post of the hosted page itself, which only
    /// the browser of `binding` was shown (its CSRF token is derived from
    /// that binding and checked here). A cross-site page cannot make such
    /// a request, so the provider's URL (and its callback) cannot be
    /// started in someone else's browser.
    pub async fn start_link_in_window(
        &self,
        token: &str,
        csrf_token: &str,
        binding: &str,
        window: &BrowserSecret,
    ) -> Result<StepOutcome, CompleteError> {
        let page = CompleteError::Page;
        let (handle, record) = self
            .open_session_handle(token)
            .await
            .map_err(|e| page(crate::connect::view::page_of(e)))?;
        let modal = record
            .connect
            .as_deref()
            .and_then(|c| c.progress.embed.as_ref())
            .is_some_and(|e| e.mode == EmbedMode::Modal);
        if !modal {
            return Err(page(ErrorPage::OtherBrowser));
        }
        let well_formed = binding.len() == 64 && binding.bytes().all(|b| b.is_ascii_hexdigit());
        if !(well_formed && self.check_connect_csrf(&handle, binding, csrf_token)) {
            return Err(self.csrf_refusal(token, binding).await);
        }
        let (handle, record) = self
            .claim_for(handle.expose_secret(), binding)
            .await
            .map_err(page)?;
        let context = record
            .connect
            .as_deref()
            .ok_or(page(ErrorPage::UnknownRequest))?;
        let known = self.known_customer(&record, context).await?;
        if self.current_step(context, &known) != Step::Link {
            return Err(CompleteError::OutOfOrder);
        }
        let window_hash = self
            .browser_hash(&handle, window)
            .ok_or(page(ErrorPage::TemporarilyUnavailable))?;
        self.start_link(&handle, &record, context, Some(window_hash))
            .await
    }

    fn link_failed(&self, provider: &Provider, error: &LinkError) {
        self.config().events().emit(&Event::LinkFailed {
            provider: provider.id.clone(),
            reason: error.reason(),
        });
    }

    async fn record_link(
        &self,
        record: &SessionRecord,
        context: &ConnectContext,
        provider: &Provider,
        result: Result<crate::LinkedAccount, LinkError>,
    ) -> Result<bool, CompleteError> {
        match result {
            Ok(mut account) => {
                account.provider.clone_from(&provider.id);
                self.advance(record, context, |c| {
                    c.progress.linked = Some(account);
                    c.progress.link_state = None;
                    c.progress.link_browser = None;
                    c.progress.link_error = None;
                })
                .await
            }
            Err(error) => {
                self.link_failed(provider, &error);
                let message = error.to_string();
                self.advance(record, context, |c| {
                    c.progress.link_state = None;
                    c.progress.link_browser = None;
                    c.progress.link_error = Some(message);
                })
                .await
            }
        }
    }

    /// Records that the embed script opened the session's hosted page
    /// (`GET /connect?token=…&embed=popup|modal&nonce=…`): from now on the
    /// page reports its steps and its result to that window, whatever
    /// the steps' form posts and a provider's redirect do to the URL.
    /// Opening it again (the script's next `open()`) replaces the marker.
    /// Like opening the page, it claims nothing: it checks only that no
    /// other browser than `browser` claimed the session.
    ///
    /// # Errors
    ///
    /// An [`ErrorPage`] for an unknown, expired or completed session, or
    /// [`ErrorPage::OtherBrowser`].
    pub async fn embed_connect(
        &self,
        token: &str,
        browser: &BrowserSecret,
        embed: &ConnectEmbed,
    ) -> Result<(), ErrorPage> {
        let mut bound = Some(self.view_as_browser(token, browser).await?.1);
        for _ in 0..3 {
            let record = match bound.take() {
                Some(record) => record,
                None => {
                    self.open_session_handle(token)
                        .await
                        .map_err(crate::connect::view::page_of)?
                        .1
                }
            };
            let context = record.connect.as_deref().ok_or(ErrorPage::UnknownRequest)?;
            if context.progress.embed.as_ref() == Some(embed) {
                return Ok(());
            }
            match self
                .advance(&record, context, |c| c.progress.embed = Some(embed.clone()))
                .await
            {
                Ok(true) => return Ok(()),
                // Another transition won: read again and retry.
                Ok(false) => {}
                Err(CompleteError::Page(page)) => return Err(page),
                Err(_) => return Err(ErrorPage::TemporarilyUnavailable),
            }
        }
        Err(ErrorPage::TemporarilyUnavailable)
    }

    /// Where a Connect session's flow stands (`GET /connect/status`): the
    /// embedded page polls it while the user signs in at a provider in
    /// another window.
    ///
    /// # Errors
    ///
    /// An [`ErrorPage`] for an unknown, expired or completed session.
    pub async fn connect_status(&self, token: &str) -> Result<ConnectStatus, ErrorPage> {
        Ok(self.status_and_session(token).await?.0)
    }

    /// [`connect_status`](Self::connect_status), and whether a page at
    /// `origin` (its `Origin` header) can show the hosted page in a modal:
    /// framed there, and reporting there ([`EmbedCheck`]). Reads nothing
    /// a holder of the token could not see on the page itself (its
    /// `frame-ancestors` and its redirect URL), and changes nothing: the
    /// session is not claimed for a browser.
    ///
    /// # Errors
    ///
    /// As [`connect_status`](Self::connect_status);
    /// [`ErrorPage::TemporarilyUnavailable`] when the app cannot be read.
    pub async fn connect_embed_check(
        &self,
        token: &str,
        origin: &str,
    ) -> Result<(ConnectStatus, EmbedCheck), ErrorPage> {
        let (status, record) = self.status_and_session(token).await?;
        let app = self
            .storage()
            .get_app(&record.workspace_id, &record.app_id)
            .await
            .map_err(|_| ErrorPage::TemporarilyUnavailable)?
            .ok_or(ErrorPage::UnknownRequest)?
            .app;
        let framable = self.config().frame_ancestors().iter().any(|a| a == origin)
            || app.allowed_origins.iter().any(|a| a.as_str() == origin);
        let messages = url::Url::parse(&record.redirect_uri)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .is_some_and(|url| url.origin().ascii_serialization() == origin);
        Ok((
            status,
            EmbedCheck {
                origin: origin.to_owned(),
                framable,
                messages,
            },
        ))
    }

    async fn status_and_session(
        &self,
        token: &str,
    ) -> Result<(ConnectStatus, SessionRecord), ErrorPage> {
        let (_, record) = self
            .open_session_handle(token)
            .await
            .map_err(crate::connect::view::page_of)?;
        let context = record.connect.as_deref().ok_or(ErrorPage::UnknownRequest)?;
        let known = self
            .known_customer(&record, context)
            .await
            .map_err(|e| match e {
                CompleteError::Page(page) => page,
                _ => ErrorPage::TemporarilyUnavailable,
            })?;
        let status = ConnectStatus {
            step: self.current_step(context, &known),
            version: context.step_version,
        };
        Ok((status, record))
    }

    /// The return from a provider's authorization page
    /// (`GET /connect/callback/{provider}`): checks that it comes back to
    /// the browser the session is bound to (or the window its link started
    /// in) and that its `state` is the session's pending one, consumes that
    /// state (one compare-and-swap, so of two concurrent returns only one
    /// goes on), hands the rest of the query to the provider's hook,
    /// records the linked account (or the failure) and says where to send
    /// the browser — back to the hosted page (or, for an embedded page,
    /// nowhere: its sign-in window closes).
    ///
    /// A return whose `state` was already used or came too late, while the
    /// session lives, links nothing and goes back to the page, which says
    /// why and offers to try again or exit ([`LinkReturn::linked`] false).
    ///
    /// # Errors
    ///
    /// [`ErrorPage::OtherBrowser`] for a return to another browser (a
    /// forwarded provider URL); [`ErrorPage::InvalidLinkState`] for a
    /// missing or forged `state` or another provider's; an [`ErrorPage`]
    /// for a session that is gone.
    pub async fn link_callback<N, V>(
        &self,
        provider_id: &str,
        query: &[(N, V)],
        browser: Option<&BrowserSecret>,
    ) -> Result<LinkReturn, ErrorPage>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        let state = query
            .iter()
            .find(|(n, _)| n.as_ref() == "state")
            .map(|(_, v)| v.as_ref())
            .ok_or(ErrorPage::InvalidLinkState)?;
        let token = self.open_state(state).ok_or(ErrorPage::InvalidLinkState)?;
        let mut consumed = None;
        for _ in 0..3 {
            let (handle, record) = self
                .open_session_handle(&token)
                .await
                .map_err(crate::connect::view::page_of)?;
            let context = record.connect.as_deref().ok_or(ErrorPage::UnknownRequest)?;
            let provider = self
                .session_provider(context)
                .filter(|p| p.id == provider_id);
            let presented = browser.and_then(|b| self.browser_hash(&handle, b));
            let progress = &context.progress;
            let own_browser = presented.as_deref().is_some_and(|hash| {
                [&progress.browser, &progress.link_browser]
                    .into_iter()
                    .flatten()
                    .any(|bound| same_hash(bound, hash))
            });
            if !own_browser {
                return Err(ErrorPage::OtherBrowser);
            }
            let expected = self.state_hash(&handle, state)?;
            let pending = progress
                .link_state
                .as_ref()
                .is_some_and(|(hash, _)| same_hash(hash, &expected));
            let in_time = progress
                .link_state
                .as_ref()
                .is_some_and(|(_, expires)| self.now().unix_timestamp() < *expires);
            // A return to another provider's callback than the session's.
            let provider = provider.ok_or(ErrorPage::InvalidLinkState)?;
            if !(pending && in_time) {
                let late = pending;
                return self.stale_return(&handle, &record, context, late).await;
            }
            // Single use: consume the state before anything else happens.
            if self
                .advance(&record, context, |c| {
                    c.progress.link_state = None;
                    c.progress.link_browser = None;
                })
                .await
                .map_err(|e| match e {
                    CompleteError::Page(page) => page,
                    _ => ErrorPage::TemporarilyUnavailable,
                })?
            {
                consumed = Some((handle, record.clone(), provider));
                break;
            }
            // Another request moved the flow first: look again.
        }
        let Some((handle, record, provider)) = consumed else {
            return Err(ErrorPage::TemporarilyUnavailable);
        };
        let context = record.connect.as_deref().ok_or(ErrorPage::UnknownRequest)?;
        let rest: Vec<(String, String)> = query
            .iter()
            .map(|(n, v)| (n.as_ref(), v.as_ref()))
            .filter(|(n, _)| *n != "state")
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let link = self.link_context(&handle, context, provider)?;
        let result = provider.hook.complete_redirect(&link, &rest).await;
        let linked = result.is_ok();
        // The context as the consumption left it.
        let mut after = context.clone();
        after.progress.link_state = None;
        after.progress.link_browser = None;
        after.step_version = context.step_version.wrapping_add(1);
        self.record_return(&token, &record, after, provider, result)
            .await?;
        Ok(LinkReturn {
            location: crate::model::redirect::append_query(
                &format!("{}/connect", self.config().issuer_str()),
                &[("token", handle.expose_secret())],
            ),
            linked,
            provider: provider.name.clone(),
            embed: context.progress.embed.clone(),
        })
    }

    /// Records what a redirect link's hook returned, from the context the
    /// state's consumption left (`after`); if another request moved the
    /// flow meanwhile, from the flow as it now is, as long as it still
    /// waits for this provider's link.
    async fn record_return(
        &self,
        token: &str,
        record: &SessionRecord,
        after: ConnectContext,
        provider: &Provider,
        result: Result<crate::LinkedAccount, LinkError>,
    ) -> Result<(), ErrorPage> {
        let page_of = |e: CompleteError| match e {
            CompleteError::Page(page) => page,
            _ => ErrorPage::TemporarilyUnavailable,
        };
        let mut current = (record.clone(), after);
        for _ in 0..3 {
            let (record, context) = &current;
            if self
                .record_link(record, context, provider, result.clone())
                .await
                .map_err(page_of)?
            {
                return Ok(());
            }
            let Ok((_, fresh)) = self.open_session_handle(token).await else {
                break;
            };
            let Some(context) = fresh.connect.as_deref().cloned() else {
                break;
            };
            let known = self
                .known_customer(&fresh, &context)
                .await
                .map_err(page_of)?;
            let waiting = self.current_step(&context, &known) == Step::Link
                && self
                    .session_provider(&context)
                    .is_some_and(|p| p.id == provider.id);
            if !waiting {
                // The user went elsewhere (another provider, say): the
                // result is dropped, nothing else changes.
                return Ok(());
            }
            current = (fresh, context);
        }
        Err(ErrorPage::TemporarilyUnavailable)
    }

    /// A provider's return that cannot link (its `state` was used already,
    /// or came too late) while the session lives: the link step, if the
    /// flow is still there, says so, and the page offers retry and exit.
    async fn stale_return(
        &self,
        handle: &ConnectToken,
        record: &SessionRecord,
        context: &ConnectContext,
        late: bool,
    ) -> Result<LinkReturn, ErrorPage> {
        let known = self
            .known_customer(record, context)
            .await
            .map_err(|e| match e {
                CompleteError::Page(page) => page,
                _ => ErrorPage::TemporarilyUnavailable,
            })?;
        let provider = self.session_provider(context);
        if self.current_step(context, &known) == Step::Link {
            let message = if late {
                "the sign-in took too long"
            } else {
                "the return from the provider was not expected or was already used"
            };
            let name = provider.map_or("the provider", |p| p.name.as_str());
            let message = format!("{name}: {message}");
            // A failure to record it only loses the message.
            let _ = self
                .advance(record, context, |c| {
                    c.progress.link_state = None;
                    c.progress.link_browser = None;
                    c.progress.link_error = Some(message);
                })
                .await;
        }
        Ok(LinkReturn {
            location: crate::model::redirect::append_query(
                &format!("{}/connect", self.config().issuer_str()),
                &[("token", handle.expose_secret())],
            ),
            linked: false,
            provider: provider.map_or_else(String::new, |p| p.name.clone()),
            embed: context.progress.embed.clone(),
        })
    }

    /// Everything the session knows of its customer: a stored customer's
    /// details, the session's `customerInfo`, and what the customer step
    /// confirmed.
    pub(crate) async fn known_customer(
        &self,
        record: &SessionRecord,
        context: &ConnectContext,
    ) -> Result<CustomerInfo, CompleteError> {
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
                .map_err(|_| CompleteError::Page(ErrorPage::TemporarilyUnavailable))?,
            _ => None,
        };
        Ok(crate::connect::input::merged(
            stored.as_ref().map(|c| &c.info),
            &context.customer_info,
        ))
    }

    /// The page data with the step machine's view, for `open_connect`.
    pub(crate) fn step_view(
        &self,
        context: &ConnectContext,
        known: &CustomerInfo,
        search: Option<&str>,
    ) -> crate::connect::view::StepView {
        let step = self.current_step(context, known);
        let candidates = self.session_candidates(context);
        let can_change = candidates.len() > 1;
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
        }
    }
}
