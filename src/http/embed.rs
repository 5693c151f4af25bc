//! The pages that talk to another window: an embedded Connect page (its
//! steps, its result, its errors), the provider sign-in window of an
//! embedded page, and the `web_message` response of a plain authorization.
//!
//! The rules every one of them follows:
//!
//! - **One target origin.** A message goes to exactly one origin, that of
//!   the session's redirect URL (registered by the app), never `*`; a
//!   redirect URL without an `http(s)` origin gets no message (and the
//!   ordinary redirect instead).
//! - **The embed script's nonce** is in every Connect message, so the
//!   script accepts only what the window it opened says about its own
//!   opening.
//! - **No inline script.** The page loads `/connect/page/<version>.js` with
//!   its integrity and this response's CSP nonce (`script-src 'nonce-…'`:
//!   no other script, not even one of this origin, runs); what to post is
//!   in the element's `data-*` attributes.
//! - **COOP** is `unsafe-none` only where a popup must keep its opener (see
//!   [`response::keep_opener`]); everything else keeps `same-origin`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use serde_json::json;

use super::assets::ConnectScript;
use super::response;
use crate::http::ui;
use crate::model::random::random_array;
use crate::oauth::authorize::{ClientRedirect, ErrorPage};
use crate::server::AuthorizationServer;
use crate::storage::{ConnectEmbed, EmbedMode, Storage};

/// The `http(s)` origin of `url` (`https://app.example.com:8443`), if it
/// has one.
pub(super) fn web_origin(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// A fresh nonce for one response's `script-src`.
pub(super) fn csp_nonce<S: Storage>(server: &AuthorizationServer<S>) -> Option<String> {
    random_array::<16>(server.config().rng())
        .ok()
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
}

/// `path` under the issuer's path (`/upstream` + `/connect/…`).
pub(super) fn issuer_path<S: Storage>(server: &AuthorizationServer<S>, path: &str) -> String {
    format!(
        "{}{path}",
        server.config().issuer().path().trim_end_matches('/')
    )
}

/// The hosted pages' script, with `data`, loaded under `nonce`.
pub(super) fn page_script<'a, S: Storage>(
    server: &AuthorizationServer<S>,
    src: &'a mut String,
    nonce: &'a str,
    data: Vec<(&'static str, String)>,
) -> ui::PageScript<'a> {
    let script = ConnectScript::page();
    *src = issuer_path(server, &script.versioned_path);
    ui::PageScript {
        src,
        integrity: &script.integrity,
        nonce,
        data,
    }
}

/// Which window an embedded page reports to.
pub(super) fn target(mode: EmbedMode) -> String {
    match mode {
        EmbedMode::Popup => "opener",
        EmbedMode::Modal => "parent",
    }
    .to_owned()
}

/// A Connect message: `{type: "oauth-connect", v: 1, nonce, event, …}`.
pub(super) fn message(embed: &ConnectEmbed, event: &str, fields: serde_json::Value) -> String {
    let mut value = json!({
        "type": "oauth-connect",
        "v": 1,
        "nonce": embed.nonce,
        "event": event,
    });
    if let (Some(out), serde_json::Value::Object(more)) = (value.as_object_mut(), fields) {
        out.extend(more);
    }
    value.to_string()
}

/// The headers of an embedded page: its CSP (its script; framing by the
/// target origin only for a modal) and, for a popup, the COOP that keeps
/// its opener.
fn embedded_html(
    look: &ui::Look<'_>,
    status: StatusCode,
    html: String,
    nonce: &str,
    mode: EmbedMode,
    origin: &str,
) -> Response<Bytes> {
    let ancestors = match mode {
        EmbedMode::Modal => origin,
        EmbedMode::Popup => "'none'",
    };
    let csp = ui::content_security_policy(
        look,
        &[],
        ancestors,
        Some(&ui::ScriptPolicy {
            nonce,
            fetch_self: false,
        }),
        &[],
    );
    let page = response::html(status, html, &csp);
    match mode {
        EmbedMode::Popup => response::keep_opener(page),
        EmbedMode::Modal => page,
    }
}

/// The end of an embedded Connect flow: the page posts the one result
/// message (success, or the user's exit) to the window that opened it, or
/// falls back to the ordinary redirect when that window is gone (and
/// without JavaScript).
///
/// `exit_reason` is the `onExit` reason of a denial: `denied` on the
/// consent step, `user-cancelled` for the Exit button of an earlier step.
pub(super) fn connect_result<S: Storage>(
    server: &AuthorizationServer<S>,
    look: &ui::Look<'_>,
    to: &ClientRedirect,
    embed: &ConnectEmbed,
    exit_reason: &str,
) -> Response<Bytes> {
    let (Some(origin), Some(nonce)) = (web_origin(&to.redirect_uri), csp_nonce(server)) else {
        return response::see_other(&to.location);
    };
    let (text, body) = match to.param("code") {
        Some(code) => {
            let mut fields = json!({ "code": code, "iss": to.param("iss") });
            if let Some(state) = to.param("state") {
                fields["state"] = json!(state);
            }
            if let Some(key) = to.param("scoped_key") {
                fields["scopedKey"] = json!(key);
            }
            (
                ("result.connected.title", "result.connected"),
                message(embed, "success", fields),
            )
        }
        None => (
            ("result.not_connected.title", "result.not_connected"),
            message(embed, "exit", json!({ "reason": exit_reason })),
        ),
    };
    let mut src = String::new();
    let script = page_script(
        server,
        &mut src,
        &nonce,
        vec![
            ("target", target(embed.mode)),
            ("target-origin", origin.clone()),
            ("message", body),
            ("fallback", to.location.as_str().to_owned()),
        ],
    );
    let html = ui::message_page(
        look,
        &ui::MessagePage {
            title: look.t(text.0),
            lead: look.t(text.1),
            gone: "",
            fallback: Some(&to.location),
            no_script: "",
            script,
        },
    );
    embedded_html(look, StatusCode::OK, html, &nonce, embed.mode, &origin)
}

/// The error type the embed script reports for a page.
fn error_type(page: ErrorPage) -> &'static str {
    match page {
        ErrorPage::ExpiredRequest => "session-expired",
        ErrorPage::CompletedRequest => "session-used",
        ErrorPage::TemporarilyUnavailable => "server-error",
        // The session was claimed by the browser that took its first step
        // (RFC 9700 §2.1): this one may not continue it.
        ErrorPage::OtherBrowser => "session-other-browser",
        _ => "session-invalid",
    }
}

/// An error page of the hosted Connect flow, in the session's language,
/// with a way back to the app (its redirect URL with `error=access_denied`)
/// when the session is known. For a page opened by the embed script (the
/// marker in the query, `query_embed`, or the one stored with the session)
/// it also posts the error to that window. A session that no longer exists
/// has no redirect URL: the page offers the host's help link instead.
pub(super) async fn connect_error<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    token: &str,
    query_embed: Option<&ConnectEmbed>,
    page: ErrorPage,
) -> Response<Bytes> {
    let record = server.any_connect_session(token).await;
    let context = record.as_ref().and_then(|r| r.connect.as_deref());
    let stored = context.and_then(|c| c.progress.embed.clone());
    let locale = context.and_then(|c| c.locale.as_deref());
    let back_url = record.as_ref().map(|r| {
        let mut params = vec![("error", "access_denied")];
        if let Some(state) = r.state.as_deref() {
            params.push(("state", state));
        }
        params.push(("iss", server.config().issuer_str()));
        crate::model::redirect::append_query(&r.redirect_uri, &params)
    });
    let back = back_url.as_deref().map(|url| ui::pages::WayBack {
        url,
        app_name: context.map(|c| c.client_name.as_str()),
    });
    let embed = query_embed.cloned().or(stored);
    let origin = record.as_ref().and_then(|r| web_origin(&r.redirect_uri));
    let (Some(embed), Some(origin), Some(nonce)) = (embed, origin, csp_nonce(server)) else {
        return super::browser::branded_error_page(server, headers, locale, page, back.as_ref());
    };
    let config = server.config();
    let lang = ui::language(config, locale, headers);
    let look = ui::Look {
        config,
        lang: &lang,
        app_logo: None,
    };
    let status = StatusCode::from_u16(page.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut src = String::new();
    let script = page_script(
        server,
        &mut src,
        &nonce,
        vec![
            ("target", target(embed.mode)),
            ("target-origin", origin.clone()),
            (
                "message",
                message(
                    &embed,
                    "error",
                    json!({ "error": error_type(page), "reason": page.message() }),
                ),
            ),
        ],
    );
    let html = ui::error_page_with(&look, page, back.as_ref(), &ui::page_script(&script));
    embedded_html(&look, status, html, &nonce, embed.mode, &origin)
}

/// The provider sign-in window of an embedded page, back from the
/// provider: it says how it went and closes itself (the embedded page
/// moves on by itself).
pub(super) fn link_window_return<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    locale: Option<&str>,
    provider: &str,
    linked: bool,
) -> Response<Bytes> {
    let Some(nonce) = csp_nonce(server) else {
        return super::browser::error_page(ErrorPage::TemporarilyUnavailable);
    };
    let config = server.config();
    let lang = ui::language(config, locale, headers);
    let look = ui::Look {
        config,
        lang: &lang,
        app_logo: None,
    };
    let (title, lead) = if linked {
        ("window.linked.title", "window.linked")
    } else {
        ("window.failed.title", "window.failed")
    };
    let title = look.tf(title, &[("provider", provider)]);
    let mut src = String::new();
    let script = page_script(server, &mut src, &nonce, vec![("close", "1".to_owned())]);
    let html = ui::pages::script_page(&look, &title, look.t(lead), &ui::page_script(&script));
    let csp = ui::content_security_policy(
        &look,
        &[],
        "'none'",
        Some(&ui::ScriptPolicy {
            nonce: &nonce,
            fetch_self: false,
        }),
        &[],
    );
    response::html(StatusCode::OK, html, &csp)
}

/// The `web_message` response of a plain authorization (the OAuth 2.0 Web
/// Message Response Mode draft): a page that posts `{type:
/// "authorization_response", response: {…}}` to its opener, with the
/// redirect URI's origin as the target origin. No fallback: a client that
/// asked for `web_message` listens for the message, not at its redirect
/// URI.
pub(super) fn web_message<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &HeaderMap,
    to: &ClientRedirect,
) -> Response<Bytes> {
    let (Some(origin), Some(nonce)) = (web_origin(&to.redirect_uri), csp_nonce(server)) else {
        return super::browser::error_page(ErrorPage::TemporarilyUnavailable);
    };
    let response: serde_json::Map<String, serde_json::Value> = to
        .params
        .iter()
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    let body = json!({ "type": "authorization_response", "response": response }).to_string();
    let mut src = String::new();
    let script = page_script(
        server,
        &mut src,
        &nonce,
        vec![
            ("target", "opener".to_owned()),
            ("target-origin", origin),
            ("message", body),
        ],
    );
    let config = server.config();
    let lang = ui::language(config, None, headers);
    let look = ui::Look {
        config,
        lang: &lang,
        app_logo: None,
    };
    let html = ui::message_page(
        &look,
        &ui::MessagePage {
            title: look.t("message.title"),
            lead: look.t("message.sent"),
            gone: look.t("message.gone"),
            fallback: None,
            no_script: look.t("message.no_script"),
            script,
        },
    );
    let csp = ui::content_security_policy(
        &look,
        &[],
        "'none'",
        Some(&ui::ScriptPolicy {
            nonce: &nonce,
            fetch_self: false,
        }),
        &[],
    );
    response::keep_opener(response::html(StatusCode::OK, html, &csp))
}
