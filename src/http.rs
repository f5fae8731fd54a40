//! The HTTP edge: routes, security headers, and the mapping of domain results to responses.
//! Handlers extract, call the domain, and map; nothing here decides policy.

pub mod api;
pub mod client_addr;
pub mod cookies;
pub mod error;
pub mod federation;
pub mod oidc;
pub mod ops;
pub mod pages;
pub mod staff;
pub mod upstream;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::paths;
use crate::state::AppState;

/// The header that carries each request's id, in and out; error pages name it.
pub const REQUEST_ID: &str = "x-request-id";

/// Largest request body we read (forms and token requests are small).
const BODY_LIMIT: usize = 64 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let demo = state.config.demo_enabled();
    let mut router = Router::new()
        .merge(oidc::routes())
        .merge(pages::routes())
        .merge(upstream::routes())
        .merge(federation::routes())
        .merge(staff::routes(&state))
        .nest(paths::API, api::routes());
    if demo {
        router = router.merge(pages::demo::routes());
    }
    let request_id = HeaderName::from_static(REQUEST_ID);
    router
        .route(paths::STYLE, get(pages::style))
        .route(paths::HEALTHZ, get(ops::healthz))
        .route(paths::READYZ, get(ops::readyz))
        .route(paths::METRICS, get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(state.metrics.clone(), ops::track))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), pages::error_pages))
        .layer(middleware::from_fn_with_state(state.clone(), pages::remember_lang))
        .layer(middleware::from_fn_with_state(state.config.issuer_is_https(), security_headers))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The path only: queries carry state, hints and personal data.
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The strict policy every HTML page gets: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// HSTS on https issuers: a year, this host only (the operator's other subdomains are theirs
/// to decide).
const HSTS: &str = "max-age=31536000";

async fn security_headers(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    let is_html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
    }
    res
}
