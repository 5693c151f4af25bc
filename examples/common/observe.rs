//! The examples' webhooks and metrics: the delivery worker (webhooks may
//! reach loopback, for the demo), and `GET /metrics` in the Prometheus text
//! format (`metrics-exporter-prometheus`), answered only with an admin key
//! (`Authorization: Bearer <admin key>`, as Prometheus sends a bearer
//! token).

use std::error::Error;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use oauth_connect::webhooks::WebhookWorker;
use oauth_connect::{AuthorizationServer, Storage};

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();
static WORKER: Mutex<Option<tokio::task::JoinHandle<()>>> = Mutex::new(None);

/// The upper bounds (seconds) of the duration histograms' buckets: from
/// 100 µs (a token request in memory) to 10 s (a storage timeout).
const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the Prometheus recorder behind the `metrics` facade (once per
/// process), with its upkeep every second.
///
/// The durations are Prometheus histograms (`_bucket`, `_sum`, `_count`,
/// as `docs/observability.md` names them), not summaries: a summary
/// feeds every sample into a quantile sketch at the upkeep, a few
/// thousand instructions each, which costs more than the request it
/// times and stalls the runtime's worker while a few seconds' samples go
/// in. A bucket is a few comparisons, and the upkeep drains every second,
/// so each drain stays short.
pub(crate) fn init_metrics() {
    if METRICS.get().is_some() {
        return;
    }
    let builder = match PrometheusBuilder::new().set_buckets(DURATION_BUCKETS) {
        Ok(builder) => builder,
        Err(error) => {
            tracing::warn!(%error, "no metrics: the duration buckets were refused");
            return;
        }
    };
    match builder.install_recorder() {
        Ok(handle) => {
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_secs(1));
                loop {
                    ticks.tick().await;
                    upkeep.run_upkeep();
                }
            });
            let _ = METRICS.set(handle);
        }
        Err(error) => tracing::warn!(%error, "no metrics: a recorder is installed already"),
    }
}

/// Starts the webhook delivery worker; it stops on the shutdown signal
/// after the sends in flight ([`stop_webhooks`] waits for it).
pub(crate) fn spawn_webhooks<S: Storage>(
    server: AuthorizationServer<S>,
) -> Result<(), Box<dyn Error>> {
    let worker = WebhookWorker::new(server)?;
    let task = tokio::spawn(worker.run(super::shutdown_signal()));
    if let Ok(mut slot) = WORKER.lock() {
        *slot = Some(task);
    }
    Ok(())
}

/// Waits for the webhook worker to finish its sends in flight.
pub(crate) async fn stop_webhooks() {
    let task = WORKER.lock().ok().and_then(|mut slot| slot.take());
    if let Some(task) = task {
        let _ = task.await;
    }
}

/// `GET /metrics`: the Prometheus text format, for a request with an
/// admin key (`Authorization: Bearer <admin key>`); 401 otherwise.
pub(crate) async fn metrics<S: Storage>(
    server: &AuthorizationServer<S>,
    headers: &http::HeaderMap,
) -> http::Response<Bytes> {
    let key = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let authorized = match key {
        Some(key) => server.authenticate_admin(key.trim()).await.is_ok(),
        None => false,
    };
    if !authorized {
        let mut refused = status(http::StatusCode::UNAUTHORIZED, "an admin key is required\n");
        refused.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return refused;
    }
    let text = METRICS
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    let mut response = http::Response::new(Bytes::from(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn status(code: http::StatusCode, text: &'static str) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from_static(text.as_bytes()));
    *response.status_mut() = code;
    response
}
