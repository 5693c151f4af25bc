//! The link step: the provider's own authorization page (its `state` sealed
//! from the Connect token, single use) or the host's form, and the
//! provider's return.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::connect::browser::{BrowserSecret, same_hash};
use crate::connect::view::StepRefusal;
use crate::credentials::{ConnectToken, Redacted, RedactedUrl};
use crate::hooks::events::Event;
use crate::hooks::link::{LinkContext, LinkError, LinkMethod, Provider};
use crate::model::random::random_array;
use crate::oauth::authorize::ErrorPage;
use crate::server::AuthorizationServer;
use crate::storage::{ConnectContext, EmbedMode, SessionRecord, Storage};

use super::*;

const STATE_DOMAIN: &str = "connect/link_state";

impl<S: Storage> AuthorizationServer<S> {
    /// What the hook is told of the session; an error page when the key
    /// ring cannot derive the link secret (never a zero secret).
    pub(super) fn link_context(
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

    pub(super) fn state_key(&self, key_id: u8) -> Option<LessSafeKey> {
        let raw = self.config().keys().derive(key_id, STATE_DOMAIN, &[])?;
        UnboundKey::new(&CHACHA20_POLY1305, &raw)
            .ok()
            .map(LessSafeKey::new)
    }

    /// Seals the Connect token into a link `state`.
    pub(super) fn seal_state(&self, token: &ConnectToken) -> Option<String> {
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
    pub(super) fn open_state(&self, state: &str) -> Option<String> {
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
    pub(super) fn state_hash(
        &self,
        token: &ConnectToken,
        state: &str,
    ) -> Result<String, ErrorPage> {
        self.config()
            .keys()
            .hash(token.key_id(), STATE_DOMAIN, &[state.as_bytes()])
            .map(|h| h.to_hex())
            .ok_or(ErrorPage::TemporarilyUnavailable)
    }

    /// Starts a redirect link: seals the session into a `state`, asks the
    /// hook for the provider's authorization URL and records the pending
    /// link (its state's hash and expiry, and `link_browser` when the
    /// provider's sign-in runs in a window that is not the bound browser's
    /// own cookie jar).
    pub(super) async fn start_link(
        &self,
        handle: &ConnectToken,
        record: &SessionRecord,
        context: &ConnectContext,
        link_browser: Option<String>,
    ) -> Result<StepOutcome, StepRefusal> {
        let page = StepRefusal::Page;
        let provider = self
            .session_provider(context)
            .ok_or(StepRefusal::OutOfOrder)?;
        if provider.method != LinkMethod::Redirect {
            return Err(StepRefusal::OutOfOrder);
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
            return Err(StepRefusal::OutOfOrder);
        }
        Ok(StepOutcome::Redirect(RedactedUrl::new(url)))
    }

    /// Starts a redirect link from the provider sign-in window of an
    /// embedded modal page (`POST /connect`, `step=link`, `action=start`,
    /// in a window of its own): that window is a top-level browsing context,
    /// whose cookie jar is not the one of the modal's iframe (partitioned
    /// under the embedding site), so it does not carry the session's
    /// binding cookie. The form carries the iframe's binding instead
    /// (`binding`, the page's [`browser_binding`](crate::connect::ConnectPage::browser_binding)),
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
    pub async fn connect_link_in_window(
        &self,
        token: &str,
        csrf_token: &str,
        binding: &str,
        window: &BrowserSecret,
    ) -> Result<StepOutcome, StepRefusal> {
        let page = StepRefusal::Page;
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
            return Err(StepRefusal::OutOfOrder);
        }
        let window_hash = self
            .browser_hash(&handle, window)
            .ok_or(page(ErrorPage::TemporarilyUnavailable))?;
        self.start_link(&handle, &record, context, Some(window_hash))
            .await
    }

    pub(super) fn link_failed(&self, provider: &Provider, error: &LinkError) {
        self.config().events().emit(&Event::LinkFailed {
            provider: provider.id.clone(),
            reason: error.reason(),
        });
    }

    pub(super) async fn record_link(
        &self,
        record: &SessionRecord,
        context: &ConnectContext,
        provider: &Provider,
        result: Result<crate::storage::LinkedAccount, LinkError>,
    ) -> Result<bool, StepRefusal> {
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
    pub async fn connect_link_callback(
        &self,
        provider_id: &str,
        query: &ProviderReturn,
        browser: Option<&BrowserSecret>,
    ) -> Result<LinkReturn, ErrorPage> {
        let state = query.state().ok_or(ErrorPage::InvalidLinkState)?;
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
                    StepRefusal::Page(page) => page,
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
        let link = self.link_context(&handle, context, provider)?;
        let result = provider.hook.complete_redirect(&link, query.params()).await;
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
    pub(super) async fn record_return(
        &self,
        token: &str,
        record: &SessionRecord,
        after: ConnectContext,
        provider: &Provider,
        result: Result<crate::storage::LinkedAccount, LinkError>,
    ) -> Result<(), ErrorPage> {
        let page_of = |e: StepRefusal| match e {
            StepRefusal::Page(page) => page,
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
    pub(super) async fn stale_return(
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
                StepRefusal::Page(page) => page,
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
}
