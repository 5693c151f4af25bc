//! The outbound HTTP client of webhooks, made safe to point at URLs chosen
//! by API callers:
//!
//! - no redirect is followed (a 3xx is a failed attempt);
//! - every address a name resolves to is checked, and private, loopback,
//!   link-local and reserved ones are refused unless the server allows
//!   them ([`WebhookDestinations`]); an IP-literal URL is checked the same
//!   way; the connection goes to a checked address only (the resolver
//!   hands the client nothing else), so a name cannot be rebound in
//!   between;
//! - no proxy from the environment;
//! - each request has a total timeout, and at most [`MAX_WEBHOOK_RESPONSE_BYTES`]
//!   of an answer are read (and thrown away: nothing of it is stored).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WebhookDestinations;

/// How much of an answer's body is read, at most.
pub const MAX_WEBHOOK_RESPONSE_BYTES: usize = 4096;

/// The default total time for one attempt.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The sender could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client cannot be built: {0}")]
pub struct SendError(String);

/// How one request went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// How long it took.
    pub latency: Duration,
    /// Why it failed, in a few words; `None` for a 2xx answer.
    pub error: Option<String>,
}

#[derive(Debug)]
struct CheckedResolver {
    allowed: WebhookDestinations,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "the host resolves to no address webhooks may reach (private, loopback, link-local or reserved)"
)]
struct Refused;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed.allows(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Sends webhook requests with the rules above. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allowed: WebhookDestinations,
}

impl WebhookSender {
    /// A sender that reaches public addresses, and those `allowed`, with
    /// [`DEFAULT_WEBHOOK_TIMEOUT`] per attempt.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the TLS backend cannot be set up.
    pub fn new(allowed: WebhookDestinations) -> Result<Self, SendError> {
        Self::with_timeout(allowed, DEFAULT_WEBHOOK_TIMEOUT)
    }

    /// The same with another total timeout per attempt.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the TLS backend cannot be set up.
    pub fn with_timeout(
        allowed: WebhookDestinations,
        timeout: Duration,
    ) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!(
                "oauth-connect-webhooks/",
                env!("CARGO_PKG_VERSION")
            ))
            .dns_resolver(Arc::new(CheckedResolver { allowed }))
            .build()
            .map_err(|e| SendError(e.to_string()))?;
        Ok(Self { client, allowed })
    }

    /// Posts `body` to `url` with `headers`.
    pub async fn post(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> SendOutcome {
        let started = Instant::now();
        let failed = |error: String, status: Option<u16>| SendOutcome {
            status,
            latency: started.elapsed(),
            error: Some(error),
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return failed("the URL does not parse".into(), None);
        };
        // The resolver is not asked for an IP-literal host: check it here.
        let literal: Option<IpAddr> = match parsed.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        if literal.is_some_and(|ip| !self.allowed.allows(ip)) {
            return failed(Refused.to_string(), None);
        }
        let mut request = self
            .client
            .post(parsed)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut response = match request.body(body).send().await {
            Ok(response) => response,
            Err(e) => return failed(describe(&e), None),
        };
        let status = response.status();
        // Read a little of the answer, at most MAX_WEBHOOK_RESPONSE_BYTES, then let
        // the rest go.
        let mut read = 0;
        while read < MAX_WEBHOOK_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        drop(response);
        let code = Some(status.as_u16());
        if status.is_success() {
            SendOutcome {
                status: code,
                latency: started.elapsed(),
                error: None,
            }
        } else if status.is_redirection() {
            failed(
                format!("HTTP {} (redirects are not followed)", status.as_u16()),
                code,
            )
        } else {
            failed(format!("HTTP {}", status.as_u16()), code)
        }
    }
}

/// A short description of a request failure, without the URL.
fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(e) = source {
        if e.is::<Refused>() {
            return Refused.to_string();
        }
        source = e.source();
    }
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
