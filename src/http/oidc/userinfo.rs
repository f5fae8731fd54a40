//! The userinfo endpoint (OIDC Core §5.3) with bearer tokens from the header or the form
//! body (RFC 6750 §2.1, §2.2; never the query, RFC 9700 §4.3.2).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::clock::Timestamp;
use crate::grants::access::{self, AccessError, ActiveToken, UserinfoError};
use crate::http::error::{BearerError, bearer_header};
use crate::protocol::params::Params;
use crate::state::AppState;

/// Checks an access token for userinfo and introspection, as a Bearer error.
pub async fn check_access_token(state: &AppState, token: &str, now: Timestamp) -> Result<ActiveToken, BearerError> {
    access::check(&state.tokens, &state.store, token, now).await.map_err(|e| match e {
        AccessError::Invalid => BearerError::InvalidToken,
        AccessError::Store(e) => {
            tracing::error!(error = %e, "store failure");
            BearerError::Unavailable
        }
    })
}

fn bearer_token(headers: &HeaderMap, method: &Method, body: &[u8]) -> Result<String, BearerError> {
    let from_header = bearer_header(headers)?.map(str::to_owned);
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = if *method == Method::POST && is_form {
        let text = std::str::from_utf8(body).map_err(|_| BearerError::InvalidRequest)?;
        Params::parse(text)
            .map_err(|_| BearerError::InvalidRequest)?
            .get("access_token")
            .map(str::to_owned)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing),
    }
}

/// `GET|POST /userinfo`.
pub async fn userinfo(State(state): State<AppState>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    match claims(&state, &method, &headers, &body, state.clock.now()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn claims(state: &AppState, method: &Method, headers: &HeaderMap, body: &[u8], now: Timestamp) -> Result<Value, BearerError> {
    let token = bearer_token(headers, method, body)?;
    let active = check_access_token(state, &token, now).await?;
    match access::userinfo((&state.store, &state.clients), active, now).await {
        Ok(claims) => Ok(Value::Object(claims)),
        Err(UserinfoError::InsufficientScope) => Err(BearerError::InsufficientScope),
        Err(UserinfoError::Invalid) => Err(BearerError::InvalidToken),
        Err(UserinfoError::Store(e)) => {
            tracing::error!(error = %e, "store failure");
            Err(BearerError::Unavailable)
        }
    }
}
