//! Tracing (feature `tracing`) and metrics (feature `metrics`, through the
//! `metrics` crate's facade: the host installs a recorder such as
//! `metrics-exporter-prometheus`). Without the features every function here
//! is empty and compiles away.
//!
//! What is recorded names endpoints, app ids, client ids, grant types,
//! outcomes and durations, and never a credential, a code, a `state`, a
//! query string or personal data. The names are listed in
//! `docs/observability.md`:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `oauth_connect_http_requests_total` | counter | `endpoint`, `outcome` |
//! | `oauth_connect_http_request_duration_seconds` | histogram | `endpoint` |
//! | `oauth_connect_tokens_issued_total` | counter | `grant_type` |
//! | `oauth_connect_refresh_reuse_detected_total` | counter | |
//! | `oauth_connect_code_replay_detected_total` | counter | |
//! | `oauth_connect_authentication_failures_total` | counter | `reason` |
//! | `oauth_connect_rate_limited_total` | counter | `limit` |
//! | `oauth_connect_connect_steps_reached_total` | counter | `step` |
//! | `oauth_connect_connect_sessions_completed_total` | counter | `outcome` |
//! | `oauth_connect_connections_total` | counter | `change` |
//! | `oauth_connect_webhook_deliveries_total` | counter | `event`, `outcome` |
//! | `oauth_connect_webhook_delivery_duration_seconds` | histogram | `outcome` |
//! | `oauth_connect_storage_duration_seconds` | histogram | `backend`, `outcome` |

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::hooks::events::{Event, EventSink};

/// The endpoint a request path belongs to, as a fixed label (never the
/// path itself: it may hold ids, and the query never appears).
pub(crate) fn endpoint_name(path: &str) -> &'static str {
    // The client endpoints' exact paths first, without splitting.
    match path {
        "/oauth/token" => return "/oauth/token",
        "/oauth/introspect" => return "/oauth/introspect",
        "/oauth/revoke" => return "/oauth/revoke",
        _ => {}
    }
    let mut segments = path.trim_start_matches('/').split('/');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some("oauth"), Some("authorize"), ..) => "/oauth/authorize",
        (Some("oauth"), Some("token"), ..) => "/oauth/token",
        (Some("oauth"), Some("revoke"), ..) => "/oauth/revoke",
        (Some("oauth"), Some("introspect"), ..) => "/oauth/introspect",
        (Some("oauth"), Some("par"), ..) => "/oauth/par",
        (Some(".well-known"), ..) => "/.well-known/oauth-authorization-server",
        (Some("openapi.json"), ..) => "/openapi.json",
        (Some("connect"), None | Some(""), ..) => "/connect",
        (Some("connect"), Some("status"), ..) => "/connect/status",
        (Some("connect"), Some("callback"), ..) => "/connect/callback/{provider}",
        (Some("connect"), Some(_), ..) => "/connect/assets",
        (Some("v1"), Some("connect"), ..) => "/v1/connect/sessions",
        (Some("v1"), Some("scoped-keys"), ..) => "/v1/scoped-keys",
        (Some("v1"), Some("connections"), ..) => "/v1/connections",
        (Some("v1"), Some("customers"), ..) => "/v1/customers",
        (Some("v1"), Some("oauth-apps"), Some(_), Some("webhooks")) => {
            "/v1/oauth-apps/{id}/webhooks"
        }
        (Some("v1"), Some("oauth-apps"), ..) => "/v1/oauth-apps",
        _ => "other",
    }
}

/// The outcome label of an HTTP status.
#[cfg(test)]
pub(crate) fn outcome_of(status: u16) -> &'static str {
    OUTCOMES[outcome_index(status)]
}

/// One answered request.
#[allow(unused_variables)]
pub(crate) fn request(endpoint: &'static str, method: &str, status: u16, latency: Duration) {
    let outcome = OUTCOMES[outcome_index(status)];
    #[cfg(feature = "metrics")]
    match http_keys(endpoint) {
        Some(keys) => metrics::with_recorder(|recorder| {
            recorder
                .register_counter(&keys.requests[outcome_index(status)], &METADATA)
                .increment(1);
            recorder
                .register_histogram(&keys.duration, &METADATA)
                .record(latency.as_secs_f64());
        }),
        None => {
            metrics::counter!(REQUESTS_TOTAL, "endpoint" => endpoint, "outcome" => outcome)
                .increment(1);
            metrics::histogram!(REQUEST_DURATION, "endpoint" => endpoint)
                .record(latency.as_secs_f64());
        }
    }
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "oauth_connect::http",
        endpoint,
        method,
        status,
        outcome,
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request answered"
    );
}

/// The outcome labels, in the order of [`outcome_index`].
const OUTCOMES: [&str; 6] = [
    "success",
    "redirect",
    "unauthorized",
    "rate_limited",
    "client_error",
    "server_error",
];

/// The index in [`OUTCOMES`] of an HTTP status's outcome.
fn outcome_index(status: u16) -> usize {
    match status {
        200..=299 => 0,
        300..=399 => 1,
        401 | 403 => 2,
        429 => 3,
        400..=499 => 4,
        _ => 5,
    }
}

#[cfg(feature = "metrics")]
const REQUESTS_TOTAL: &str = "oauth_connect_http_requests_total";
#[cfg(feature = "metrics")]
const REQUEST_DURATION: &str = "oauth_connect_http_request_duration_seconds";

/// What the `metrics` macros give a metric registered in this module: its
/// target and module, at the `INFO` level.
#[cfg(feature = "metrics")]
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The keys of one endpoint's request metrics, built at compile time: a
/// key whose labels are only known at run time is a vector allocated and
/// a hash computed on every request, where a static key carries its hash.
#[cfg(feature = "metrics")]
struct HttpKeys {
    /// `oauth_connect_http_requests_total` by outcome, as [`OUTCOMES`].
    requests: [metrics::Key; 6],
    /// `oauth_connect_http_request_duration_seconds`.
    duration: metrics::Key,
}

/// The static key of a metric with the labels given, all literals.
#[cfg(feature = "metrics")]
macro_rules! static_key {
    ($name:expr, $($label:literal => $value:literal),+) => {{
        static LABELS: &[metrics::Label] =
            &[$(metrics::Label::from_static_parts($label, $value)),+];
        metrics::Key::from_static_parts($name, LABELS)
    }};
}

/// [`ENDPOINTS`] and, with the `metrics` feature, `http_keys`: the keys of
/// each endpoint label [`endpoint_name`] gives.
macro_rules! endpoints {
    ($($endpoint:literal),+ $(,)?) => {
        /// Every label [`endpoint_name`] gives.
        #[cfg(test)]
        const ENDPOINTS: &[&str] = &[$($endpoint),+];

        /// The static keys of `endpoint`'s request metrics (`None` for a
        /// label not listed: never, the tests check).
        #[cfg(feature = "metrics")]
        fn http_keys(endpoint: &str) -> Option<&'static HttpKeys> {
            match endpoint {
                $($endpoint => {
                    static KEYS: HttpKeys = HttpKeys {
                        requests: [
                            static_key!(REQUESTS_TOTAL, "endpoint" => $endpoint, "outcome" => "success"),
                            static_key!(REQUESTS_TOTAL, "endpoint" => $endpoint, "outcome" => "redirect"),
                            static_key!(REQUESTS_TOTAL, "endpoint" => $endpoint, "outcome" => "unauthorized"),
                            static_key!(REQUESTS_TOTAL, "endpoint" => $endpoint, "outcome" => "rate_limited"),
                            static_key!(REQUESTS_TOTAL, "endpoint" => $endpoint, "outcome" => "client_error"),
                            static_key!(REQUESTS_TOTAL, "endpoint" => $endpoint, "outcome" => "server_error"),
                        ],
                        duration: static_key!(REQUEST_DURATION, "endpoint" => $endpoint),
                    };
                    Some(&KEYS)
                })+
                _ => None,
            }
        }
    };
}

endpoints!(
    "/oauth/authorize",
    "/oauth/token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/par",
    "/.well-known/oauth-authorization-server",
    "/openapi.json",
    "/connect",
    "/connect/status",
    "/connect/callback/{provider}",
    "/connect/assets",
    "/v1/connect/sessions",
    "/v1/scoped-keys",
    "/v1/connections",
    "/v1/customers",
    "/v1/oauth-apps/{id}/webhooks",
    "/v1/oauth-apps",
    "other",
);

/// The span a request's work runs in.
#[cfg(feature = "tracing")]
pub(crate) fn request_span(endpoint: &'static str, method: &str) -> tracing::Span {
    tracing::info_span!(target: "oauth_connect::http", "request", endpoint, method)
}

/// The hosted Connect page reached a step.
#[allow(unused_variables)]
pub(crate) fn connect_step(step: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("oauth_connect_connect_steps_reached_total", "step" => step).increment(1);
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "oauth_connect::connect", step, "Connect step reached");
}

/// A Connect session was decided: `approved` or `denied`.
#[allow(unused_variables)]
pub(crate) fn connect_completed(client_id: &str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("oauth_connect_connect_sessions_completed_total", "outcome" => outcome)
        .increment(1);
    #[cfg(feature = "tracing")]
    tracing::info!(target: "oauth_connect::connect", client_id, outcome, "Connect session decided");
}

/// One webhook delivery attempt.
#[allow(unused_variables)]
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) fn webhook_delivery(
    app_id: &str,
    event: &'static str,
    outcome: &'static str,
    status: Option<u16>,
    latency: Duration,
) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("oauth_connect_webhook_deliveries_total",
            "event" => event, "outcome" => outcome)
        .increment(1);
        metrics::histogram!("oauth_connect_webhook_delivery_duration_seconds",
            "outcome" => outcome)
        .record(latency.as_secs_f64());
    }
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "oauth_connect::webhooks",
        app_id,
        event,
        outcome,
        status,
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "webhook delivery attempted"
    );
}

/// The delivery worker could not reach storage; `kind` is the storage
/// error's kind (telemetry sits below storage and takes no storage type).
#[allow(unused_variables)]
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) fn webhook_poll_failed(kind: impl std::fmt::Display) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "oauth_connect::webhooks", kind = %kind, "webhook storage call failed");
}

/// One storage statement.
#[allow(unused_variables)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn storage(backend: &'static str, ok: bool, latency: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("oauth_connect_storage_duration_seconds",
        "backend" => backend, "outcome" => if ok { "ok" } else { "error" })
    .record(latency.as_secs_f64());
}

/// Records metrics and tracing events for every [`Event`], then hands it to
/// the host's sink.
pub(crate) struct Observed(pub(crate) Arc<dyn EventSink>);

/// Written by hand: a transparent wrapper, it prints as the host's sink.
impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl EventSink for Observed {
    fn emit(&self, event: &Event) {
        observe(event);
        self.0.emit(event);
    }
}

/// Wraps the host's sink when a telemetry feature is on.
pub(crate) fn wrap(sink: Arc<dyn EventSink>) -> Arc<dyn EventSink> {
    if cfg!(any(feature = "tracing", feature = "metrics")) {
        Arc::new(Observed(sink))
    } else {
        sink
    }
}

/// `oauth_connect_tokens_issued_total` for `grant_type`: a static key for
/// the grant types the server issues for (one per token request).
#[cfg(feature = "metrics")]
fn tokens_issued(grant_type: &'static str) {
    const NAME: &str = "oauth_connect_tokens_issued_total";
    static CLIENT_CREDENTIALS: metrics::Key =
        static_key!(NAME, "grant_type" => "client_credentials");
    static AUTHORIZATION_CODE: metrics::Key =
        static_key!(NAME, "grant_type" => "authorization_code");
    static REFRESH_TOKEN: metrics::Key = static_key!(NAME, "grant_type" => "refresh_token");
    let key = match grant_type {
        "client_credentials" => &CLIENT_CREDENTIALS,
        "authorization_code" => &AUTHORIZATION_CODE,
        "refresh_token" => &REFRESH_TOKEN,
        _ => {
            metrics::counter!(NAME, "grant_type" => grant_type).increment(1);
            return;
        }
    };
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

#[allow(unused_variables)]
fn observe(event: &Event) {
    match event {
        Event::TokenIssued {
            client_id,
            grant_type,
            ..
        } => {
            #[cfg(feature = "metrics")]
            tokens_issued(grant_type);
            #[cfg(feature = "tracing")]
            tracing::info!(target: "oauth_connect::token", client_id = client_id.as_str(), grant_type, "tokens issued");
        }
        Event::RefreshReuseDetected { client_id } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_refresh_reuse_detected_total").increment(1);
            #[cfg(feature = "tracing")]
            tracing::warn!(target: "oauth_connect::token", client_id = client_id.as_str(), "refresh token reuse detected; family revoked");
        }
        Event::CodeReplayDetected { client_id } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_code_replay_detected_total").increment(1);
            #[cfg(feature = "tracing")]
            tracing::warn!(target: "oauth_connect::token", client_id = client_id.as_str(), "authorization code replay detected");
        }
        Event::ClientAuthenticationFailed { client_id, reason } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_authentication_failures_total", "reason" => *reason)
                .increment(1);
            #[cfg(feature = "tracing")]
            tracing::info!(target: "oauth_connect::auth", client_id = client_id.as_ref().map(|c| c.as_str()), reason, "client authentication failed");
        }
        Event::RateLimited { limit, .. } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_rate_limited_total", "limit" => *limit).increment(1);
            #[cfg(feature = "tracing")]
            tracing::info!(target: "oauth_connect::limits", limit, "request refused by a limit");
        }
        Event::ConnectionCreated { app_id, .. } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_connections_total", "change" => "created")
                .increment(1);
            #[cfg(feature = "tracing")]
            tracing::info!(target: "oauth_connect::connect", app_id = app_id.as_str(), "connection created");
        }
        Event::ConnectionUpdated { .. } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_connections_total", "change" => "updated")
                .increment(1);
        }
        Event::ConnectionRevoked { .. } => {
            #[cfg(feature = "metrics")]
            metrics::counter!("oauth_connect_connections_total", "change" => "revoked")
                .increment(1);
        }
        Event::SecretRotated { app_id, .. } => {
            #[cfg(feature = "tracing")]
            tracing::info!(target: "oauth_connect::registry", app_id = app_id.as_str(), "client secret rotated");
        }
        Event::AppDeleted { app_id, .. } => {
            #[cfg(feature = "tracing")]
            tracing::info!(target: "oauth_connect::registry", app_id = app_id.as_str(), "app deleted");
        }
        Event::WebhookEndpointDisabled {
            app_id,
            endpoint_id,
            ..
        } => {
            #[cfg(feature = "tracing")]
            tracing::warn!(target: "oauth_connect::webhooks", app_id = app_id.as_str(), endpoint_id, "webhook endpoint disabled after a day of failures");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_fixed_labels_without_ids_or_queries() {
        assert_eq!(endpoint_name("/oauth/token"), "/oauth/token");
        assert_eq!(endpoint_name("/connect"), "/connect");
        assert_eq!(
            endpoint_name("/v1/oauth-apps/oauth_0123/webhooks/whk_1/deliveries"),
            "/v1/oauth-apps/{id}/webhooks"
        );
        assert_eq!(endpoint_name("/v1/oauth-apps/oauth_0123"), "/v1/oauth-apps");
        assert_eq!(endpoint_name("/v1/connections/conn_1"), "/v1/connections");
        assert_eq!(endpoint_name("/nowhere"), "other");
    }

    #[test]
    fn every_endpoint_label_is_listed() {
        for path in [
            "/oauth/authorize",
            "/oauth/token",
            "/oauth/revoke",
            "/oauth/introspect",
            "/oauth/par",
            "/.well-known/oauth-authorization-server",
            "/openapi.json",
            "/connect",
            "/connect/status",
            "/connect/callback/github",
            "/connect/sdk.js",
            "/v1/connect/sessions",
            "/v1/scoped-keys/sk_1",
            "/v1/connections",
            "/v1/customers/c_1",
            "/v1/oauth-apps/oauth_1/webhooks",
            "/v1/oauth-apps",
            "/nowhere",
        ] {
            assert!(ENDPOINTS.contains(&endpoint_name(path)), "{path}");
        }
    }

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(outcome_of(200), "success");
        assert_eq!(outcome_of(303), "redirect");
        assert_eq!(outcome_of(401), "unauthorized");
        assert_eq!(outcome_of(403), "unauthorized");
        assert_eq!(outcome_of(429), "rate_limited");
        assert_eq!(outcome_of(400), "client_error");
        assert_eq!(outcome_of(503), "server_error");
    }

    /// The static keys are the keys the `metrics` macros would build:
    /// the same name and labels, in the same order, hence the same hash.
    #[cfg(feature = "metrics")]
    #[test]
    fn the_static_request_keys_are_the_macros_keys() {
        for endpoint in ENDPOINTS {
            let keys = http_keys(endpoint).expect(endpoint);
            for (index, outcome) in OUTCOMES.iter().enumerate() {
                let built = metrics::Key::from_parts(
                    REQUESTS_TOTAL,
                    vec![
                        metrics::Label::new("endpoint", *endpoint),
                        metrics::Label::new("outcome", *outcome),
                    ],
                );
                assert_eq!(keys.requests[index], built);
                assert_eq!(keys.requests[index].get_hash(), built.get_hash());
            }
            let built = metrics::Key::from_parts(
                REQUEST_DURATION,
                vec![metrics::Label::new("endpoint", *endpoint)],
            );
            assert_eq!(keys.duration, built);
        }
        assert!(http_keys("/elsewhere").is_none());
    }
}
