//! Operations endpoints: liveness, readiness (database and ephemeral store reachable) and
//! Prometheus metrics, plus the middleware that counts and times every request.

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::metrics::Metrics;
use crate::state::AppState;

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
    metrics.request(&route, &method, res.status().as_str(), start.elapsed().as_secs_f64());
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
