//! Operations endpoints: liveness, readiness (database and ephemeral store reachable) and
//! Prometheus metrics, plus the middleware that counts and times every request.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};
use serde_json::json;

use crate::state::AppState;

/// The node's metrics, in a registry of its own (no process-wide singleton).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Logins by method and outcome.
    pub logins: IntCounterVec,
    /// Tokens issued by grant type.
    pub tokens: IntCounterVec,
    /// Failed ephemeral-store operations.
    pub ephemeral_errors: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("servicekonto".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route, method and status"),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new("logins_total", "Login attempts by method and outcome"),
            &["method", "outcome"],
        )?;
        let tokens = IntCounterVec::new(Opts::new("tokens_issued_total", "Token responses by grant type"), &["grant_type"])?;
        let ephemeral_errors = IntCounter::new("ephemeral_store_errors_total", "Failed ephemeral-store operations")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(ephemeral_errors.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            logins,
            tokens,
            ephemeral_errors,
        })
    }

    fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// Counts and times requests by their route template (never the raw path, which would let
/// clients create unbounded label values).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(start.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[route.as_str(), method.as_str(), res.status().as_str()])
        .inc();
    res
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /readyz`: the database and the ephemeral store answer; 503 names what does not.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await;
    let ephemeral = state.ephemeral.ping().await;
    let word = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "unavailable" };
    let body = json!({ "database": word(&database), "ephemeral": word(&ephemeral) });
    for (what, r) in [("database", &database), ("ephemeral store", &ephemeral)] {
        if let Err(e) = r {
            tracing::warn!(error = %e, "readiness: {what} unavailable");
        }
    }
    let status = if database.is_ok() && ephemeral.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(metrics): State<Metrics>) -> Response {
    let mut res = metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
