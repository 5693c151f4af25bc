//! What the framework adapters (features `axum` and `actix`) share: the
//! options, reading a capped body within a time limit, the answers to a
//! body that is too large, too slow or unreadable, and the issuer-path
//! prefix taken off the request's path.

use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HeaderValue};
use http::{Response, StatusCode, Uri};

use crate::http::MAX_BODY_BYTES;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// How long an adapter waits for a request body by default: 30 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The options of the framework adapters (`oauth_connect::axum::router_with`,
/// `oauth_connect::actix::configure_with`).
///
/// The body cap is always [`MAX_BODY_BYTES`]: a larger body is answered
/// 413 without reading it further.
///
/// ```
/// use std::time::Duration;
/// use oauth_connect::AdapterOptions;
///
/// let options = AdapterOptions::default().body_timeout(Duration::from_secs(10));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdapterOptions {
    body_timeout: Duration,
}

impl Default for AdapterOptions {
    fn default() -> Self {
        Self {
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

impl AdapterOptions {
    /// A request body must arrive whole within this of the handler starting
    /// to read it (default [`DEFAULT_BODY_TIMEOUT`]); a slower one is
    /// answered 408 with `Connection: close` (RFC 9110 §15.5.9), so a
    /// client trickling its body cannot hold a request open.
    #[must_use]
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// The body timeout.
    pub fn get_body_timeout(&self) -> Duration {
        self.body_timeout
    }
}

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// Over [`MAX_BODY_BYTES`].
    TooLarge,
    /// The connection failed or the body was malformed.
    Unreadable,
}

/// Reads a body through `read` within the options' body timeout, or the
/// answer to send instead (413, 400, or 408 with `Connection: close`).
///
/// A body that has arrived whole with its head (a token request's, most
/// often) is read without arming the timer: the read is polled once
/// first, and timed only when it has to wait.
pub(crate) async fn read_body(
    options: &AdapterOptions,
    read: impl Future<Output = Result<Bytes, BodyError>>,
) -> Result<Bytes, Response<Bytes>> {
    let mut read = std::pin::pin!(read);
    let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    let read = match first {
        Poll::Ready(read) => Ok(read),
        Poll::Pending => tokio::time::timeout(options.body_timeout, read).await,
    };
    match read {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(BodyError::TooLarge)) => Err(too_large()),
        Ok(Err(BodyError::Unreadable)) => Err(bad_request()),
        Err(_) => Err(timed_out(options.body_timeout)),
    }
}

/// 413 for a body over [`MAX_BODY_BYTES`] (RFC 9110 §15.5.14), with
/// `Connection: close`: the rest of the body is not read. The adapters
/// read at most one byte more than the cap, whatever `Content-Length` says.
pub(crate) fn too_large() -> Response<Bytes> {
    let answer = crate::http::api_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
    );
    with_close(answer)
}

/// 400 for a request that cannot be read or rebuilt.
pub(crate) fn bad_request() -> Response<Bytes> {
    crate::http::api_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "malformed request",
    )
}

/// 408 with `Connection: close` (RFC 9110 §15.5.9).
fn timed_out(timeout: Duration) -> Response<Bytes> {
    let answer = crate::http::api_error(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        &format!(
            "the request body did not arrive within {} s",
            timeout.as_secs()
        ),
    );
    with_close(answer)
}

fn with_close(mut answer: Response<Bytes>) -> Response<Bytes> {
    answer
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    answer
}

/// `uri` as [`AuthorizationServer::handle`] routes it: without the path of
/// the server's issuer when it starts with it (`/auth/oauth/token` →
/// `/oauth/token` for the issuer `https://host/auth`), else unchanged (a
/// framework or proxy that took the prefix off already).
pub(crate) fn routed_uri<S: Storage>(server: &AuthorizationServer<S>, uri: &Uri) -> Uri {
    let prefix = server.config().issuer().path().trim_end_matches('/');
    if prefix.is_empty() {
        return uri.clone();
    }
    let Some(rest) = uri.path().strip_prefix(prefix) else {
        return uri.clone();
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return uri.clone();
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    Uri::try_from(path_and_query).unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    fn server(issuer: &str) -> AuthorizationServer<MemoryStore> {
        AuthorizationServer::builder(MemoryStore::new())
            .issuer(issuer)
            .build()
            .unwrap()
    }

    #[test]
    fn the_issuer_path_comes_off_at_a_segment_boundary() {
        let mounted = server("https://host.example/auth");
        let routed = |uri: &str| routed_uri(&mounted, &uri.parse().unwrap()).to_string();
        assert_eq!(routed("/auth/oauth/token"), "/oauth/token");
        assert_eq!(
            routed("/auth/oauth/authorize?client_id=a&state=b"),
            "/oauth/authorize?client_id=a&state=b"
        );
        assert_eq!(routed("/auth"), "/");
        // Not the prefix: another segment that starts alike, or a path a
        // framework already stripped.
        assert_eq!(routed("/authx/oauth/token"), "/authx/oauth/token");
        assert_eq!(routed("/oauth/token"), "/oauth/token");
        let root = server("https://host.example");
        assert_eq!(
            routed_uri(&root, &"/oauth/token?x=1".parse().unwrap()).to_string(),
            "/oauth/token?x=1"
        );
    }

    #[test]
    fn the_413_closes_the_connection() {
        let answer = too_large();
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer.headers()[CONNECTION], "close");
    }
}
