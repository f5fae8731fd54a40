//! Error responses per audience: OAuth JSON for clients (RFC 6749 §5.2), Bearer challenges
//! for resource requests (RFC 6750 §3). HTML error pages for people are rendered by
//! [`super::pages::Render::error`].

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ephemeral::EphemeralError;
use crate::grants::exchange::ExchangeError;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::store::StoreError;

/// An OAuth error as a JSON response with the status RFC 6749 §5.2 asks for.
#[derive(Debug)]
pub struct OAuthJson(pub OAuthError);

impl From<OAuthError> for OAuthJson {
    fn from(e: OAuthError) -> Self {
        OAuthJson(e)
    }
}

impl From<StoreError> for OAuthJson {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        OAuthJson(OAuthError::unavailable())
    }
}

impl From<EphemeralError> for OAuthJson {
    fn from(e: EphemeralError) -> Self {
        tracing::error!(error = %e, "ephemeral store failure");
        OAuthJson(OAuthError::unavailable())
    }
}

impl From<ExchangeError> for OAuthJson {
    fn from(e: ExchangeError) -> Self {
        match e {
            ExchangeError::Refused(e) => OAuthJson(e),
            ExchangeError::Store(e) => e.into(),
            ExchangeError::Ephemeral(e) => e.into(),
            ExchangeError::Signing(e) => {
                tracing::error!(error = %e, "token signing failed");
                OAuthJson(OAuthError::server_error())
            }
        }
    }
}

impl IntoResponse for OAuthJson {
    fn into_response(self) -> Response {
        let status = match self.0.code {
            OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut res = (
            status,
            Json(json!({"error": self.0.code.as_str(), "error_description": self.0.description})),
        )
            .into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"servicekonto\""));
        }
        res
    }
}

/// A refused bearer request (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No token presented: a bare challenge without error code.
    Missing,
    /// Token malformed, sent in two ways, or in the query.
    InvalidRequest,
    /// Token invalid, expired or revoked.
    InvalidToken,
    /// Token lacks the `openid` scope.
    InsufficientScope,
    /// A backing store failed.
    Unavailable,
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1): `None` without the header;
/// a header sent twice, another scheme or an empty token is `InvalidRequest`.
pub fn bearer_header(headers: &axum::http::HeaderMap) -> Result<Option<&str>, BearerError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Ok(None),
        (Some(v), None) => v.to_str().map_err(|_| BearerError::InvalidRequest)?,
        (Some(_), Some(_)) => return Err(BearerError::InvalidRequest),
    };
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::InvalidRequest)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(BearerError::InvalidRequest);
    }
    Ok(Some(token.trim()))
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, challenge) = match self {
            BearerError::Missing => (StatusCode::UNAUTHORIZED, "Bearer realm=\"servicekonto\"".to_string()),
            BearerError::InvalidRequest => (StatusCode::BAD_REQUEST, "Bearer realm=\"servicekonto\", error=\"invalid_request\"".to_string()),
            BearerError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "Bearer realm=\"servicekonto\", error=\"invalid_token\", error_description=\"the access token is invalid, expired or revoked\"".to_string(),
            ),
            BearerError::InsufficientScope => (StatusCode::FORBIDDEN, "Bearer realm=\"servicekonto\", error=\"insufficient_scope\", scope=\"openid\"".to_string()),
            BearerError::Unavailable => return OAuthJson(OAuthError::unavailable()).into_response(),
        };
        let mut res = status.into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}
