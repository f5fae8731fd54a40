//! Every API error as RFC 9457 problem+json, with the RFC 6750 challenge and the RFC 9470
//! step-up where they apply; the framework's own answers under `/api/v1` too.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::trust::TrustLevel;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `about:blank`: the status says what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for the developer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For token problems, the RFC 6750 / RFC 9470 error code also in `WWW-Authenticate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Why an API request is refused.
#[derive(Debug)]
pub enum ApiError {
    /// No token: a bare challenge (RFC 6750 §3.1).
    Unauthenticated,
    /// A malformed `Authorization` header, or a token outside it.
    InvalidRequest,
    /// The token is invalid, expired or revoked.
    InvalidToken,
    /// The token lacks the operation's scope.
    InsufficientScope(&'static str),
    /// The login behind the token is below the operation's level (RFC 9470).
    StepUp(TrustLevel),
    /// Nothing here for this caller: unknown, or somebody else's (R-API-5).
    NotFound,
    /// A malformed parameter (a cursor, a limit, an `Idempotency-Key`), said for the developer.
    BadRequest(String),
    /// `If-Match` names another version than the current one (RFC 9110 §13.1.1).
    PreconditionFailed,
    /// The request is well-formed but a value breaks a rule, said for the developer.
    Invalid(String),
    /// The request contradicts the resource's state, said for the developer.
    Conflict(String),
    /// The first request with this `Idempotency-Key` still runs.
    KeyInUse,
    /// The `Idempotency-Key` was used for a different request.
    KeyReused,
    /// A backing store failed.
    Unavailable,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        match self {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, None, "an access token is required".into()),
            ApiError::InvalidRequest => (
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                "send the token as `Authorization: Bearer …`, once".into(),
            ),
            ApiError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                "the access token is invalid, expired or revoked".into(),
            ),
            ApiError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                format!("this operation needs a user token with the scope {scope}"),
            ),
            ApiError::StepUp(level) => (
                StatusCode::UNAUTHORIZED,
                Some("insufficient_user_authentication"),
                format!("this operation needs a login at {}", level.acr()),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, None, "no such resource".into()),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, None, why.clone()),
            ApiError::Invalid(why) => (StatusCode::UNPROCESSABLE_ENTITY, None, why.clone()),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, None, why.clone()),
            ApiError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                None,
                "the resource changed since it was read; read it again".into(),
            ),
            ApiError::KeyInUse => (
                StatusCode::CONFLICT,
                None,
                "a request with this Idempotency-Key is still running; retry later".into(),
            ),
            ApiError::KeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                "this Idempotency-Key was used for a different request".into(),
            ),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, None, "try again shortly".into()),
        }
    }

    fn challenge(&self) -> Option<String> {
        let realm = "Bearer realm=\"servicekonto\"";
        Some(match self {
            ApiError::Unauthenticated => realm.to_string(),
            ApiError::InvalidRequest => format!("{realm}, error=\"invalid_request\""),
            ApiError::InvalidToken => format!("{realm}, error=\"invalid_token\""),
            ApiError::InsufficientScope(scope) => format!("{realm}, error=\"insufficient_scope\", scope=\"{scope}\""),
            ApiError::StepUp(level) => format!(
                "{realm}, error=\"insufficient_user_authentication\", acr_values=\"{}\"",
                level.acr()
            ),
            ApiError::NotFound
            | ApiError::BadRequest(_)
            | ApiError::Invalid(_)
            | ApiError::Conflict(_)
            | ApiError::PreconditionFailed
            | ApiError::KeyInUse
            | ApiError::KeyReused
            | ApiError::Unavailable => return None,
        })
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ApiError::Unavailable
    }
}

fn problem(status: StatusCode, error: Option<&str>, detail: Option<String>) -> Response {
    let body = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        error: error.map(str::to_owned),
    };
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, detail) = self.parts();
        let mut res = problem(status, error, Some(detail));
        if let Some(v) = self.challenge().and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if matches!(self, ApiError::Unavailable | ApiError::KeyInUse) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        res
    }
}

/// Whatever the framework answers by itself under `/api/v1` (a wrong method, a rejected
/// extractor) becomes problem+json too, its headers (`Allow`) kept.
pub async fn problems_only(request: Request, next: Next) -> Response {
    let res = next.run(request).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"));
    if res.status().is_success() || is_json {
        return res;
    }
    let (parts, _) = res.into_parts();
    let mut out = problem(parts.status, None, None);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
