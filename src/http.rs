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

use crate::state::AppState;

/// Route paths, in one place; discovery is built from them.
pub mod paths {
    /// OpenID Provider metadata.
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// OAuth 2.0 Authorization Server metadata (RFC 8414), the same document.
    pub const OAUTH_METADATA: &str = "/.well-known/oauth-authorization-server";
    /// JWK Set.
    pub const JWKS: &str = "/jwks";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/authorize";
    /// Continues an authorization after login or consent.
    pub const AUTHORIZE_RESUME: &str = "/authorize/resume";
    /// Token endpoint.
    pub const TOKEN: &str = "/token";
    /// The resource API's prefix (PRODUCT §9).
    pub const API: &str = crate::config::API_PATH;
    /// The caller's own account (`API` + this).
    pub const API_ME: &str = "/me";
    /// The OpenAPI document of the API (`API` + this).
    pub const API_OPENAPI: &str = "/openapi.json";
    /// Userinfo endpoint.
    pub const USERINFO: &str = "/userinfo";
    /// Revocation endpoint (RFC 7009).
    pub const REVOKE: &str = "/revoke";
    /// Introspection endpoint (RFC 7662).
    pub const INTROSPECT: &str = "/introspect";
    /// End-session endpoint (RP-Initiated Logout).
    pub const LOGOUT: &str = "/logout";
    /// Login page.
    pub const LOGIN: &str = "/login";
    /// Consent page.
    pub const CONSENT: &str = "/consent";
    /// Registration form (R-REG-1).
    pub const REGISTER: &str = "/register";
    /// Registration summary and consent (R-REG-3).
    pub const REGISTER_SUMMARY: &str = "/register/summary";
    /// "Check your mail" after registering.
    pub const REGISTER_SENT: &str = "/register/sent";
    /// Activation link target (R-REG-4).
    pub const ACTIVATE: &str = crate::accounts::links::ACTIVATE_PATH;
    /// Asks for a reset link (R-SES-4).
    pub const FORGOT: &str = crate::accounts::links::FORGOT_PATH;
    /// Reset link target.
    pub const RESET: &str = crate::accounts::links::RESET_PATH;
    /// Block link target (R-SES-6).
    pub const BLOCK: &str = crate::accounts::links::BLOCK_PATH;
    /// Profile (R-PRO-1, R-PRO-4, R-SVC-3).
    pub const PROFILE: &str = "/profile";
    /// Password change.
    pub const PROFILE_PASSWORD: &str = "/profile/password";
    /// Email change (R-PRO-2).
    pub const PROFILE_EMAIL: &str = "/profile/email";
    /// Email change confirmation link target.
    pub const EMAIL_CONFIRM: &str = crate::accounts::links::EMAIL_CONFIRM_PATH;
    /// Account deletion (R-PRO-3).
    pub const PROFILE_DELETE: &str = "/profile/delete";
    /// Starts a login at an upstream identity provider.
    pub const UPSTREAM_START: &str = "/upstream/{id}/start";
    /// Our redirect URI at an upstream identity provider.
    pub const UPSTREAM_CALLBACK: &str = "/upstream/{id}/callback";
    /// The list of Länder for a login through another Servicekonto (R-FED-1).
    pub const LOGIN_LAND: &str = "/login/land";
    /// Back to the service from a login through another Land.
    pub const LOGIN_LAND_ABORT: &str = "/login/land/abort";
    /// Switches eID login off (R-EID-3).
    pub const PROFILE_EID_OFF: &str = "/profile/eid/off";
    /// Staff login.
    pub const STAFF_LOGIN: &str = "/staff/login";
    /// Staff logout.
    pub const STAFF_LOGOUT: &str = "/staff/logout";
    /// Staff start page: open requests (R-EID-2).
    pub const STAFF_HOME: &str = "/staff/";
    /// One request and the clerk's decision.
    pub const STAFF_REQUEST: &str = "/staff/requests/{account_id}";
    /// A citizen asks for the in-person check (R-EID-2).
    pub const PROFILE_PLUS_REQUEST: &str = "/profile/plus-request";
    /// Withdraws a consent (R-SVC-3).
    pub const PROFILE_CONSENT_WITHDRAW: &str = "/profile/consents/withdraw";
    /// Start page.
    pub const HOME: &str = "/";
    /// Accessibility statement.
    pub const ACCESSIBILITY: &str = "/barrierefreiheit";
    /// Style sheet.
    pub const STYLE: &str = "/static/style.css";
    /// Demo relying party.
    pub const DEMO: &str = "/demo";
    /// Demo relying party's redirect URI.
    pub const DEMO_CALLBACK: &str = "/demo/callback";
    /// Liveness.
    pub const HEALTHZ: &str = "/healthz";
    /// Readiness.
    pub const READYZ: &str = "/readyz";
    /// Prometheus metrics.
    pub const METRICS: &str = "/metrics";
}

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
    let request_id = HeaderName::from_static("x-request-id");
    router
        .route(paths::STYLE, get(pages::style))
        .route(paths::HEALTHZ, get(ops::healthz))
        .route(paths::READYZ, get(ops::readyz))
        .route(paths::METRICS, get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(state.metrics.clone(), ops::track))
        .fallback(pages::not_found)
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
                        .get("x-request-id")
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
