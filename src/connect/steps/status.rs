//! Where a flow stands, for the embed script: its marker, the status a
//! waiting page polls, and the check before a modal opens.

use crate::connect::browser::BrowserSecret;
use crate::connect::view::CompleteError;
use crate::oauth::authorize::ErrorPage;
use crate::server::AuthorizationServer;
use crate::storage::{ConnectEmbed, SessionRecord, Storage};

use super::*;

impl<S: Storage> AuthorizationServer<S> {
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
    pub async fn connect_embed(
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

    pub(super) async fn status_and_session(
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
}
