//! The node's Prometheus metrics: counted where things happen (requests, logins, tokens, the
//! ephemeral store), rendered by the operations endpoint.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

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

    /// One answered request: its route template, method, status and how long it took.
    pub fn request(&self, route: &str, method: &str, status: &str, seconds: f64) {
        self.latency.with_label_values(&[route]).observe(seconds);
        self.requests.with_label_values(&[route, method, status]).inc();
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}
