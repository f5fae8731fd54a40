//! A service's create carries an `Idempotency-Key` (R-API-4): [`IdempotencyKey`] takes it from
//! the request (required: a create without one is refused), and [`once`] runs the create only
//! for the key's first request — a retry gets the first answer again, marked
//! `Idempotent-Replayed: true`, on whichever node it lands (the key is in the store).

use std::future::Future;

use axum::body::{Body, to_bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::clock::Timestamp;
use crate::idempotency::{self, Begin};
use crate::model::idempotency::StoredAnswer;
use crate::store::Store;

/// The request header (draft-ietf-httpapi-idempotency-key-header).
pub const HEADER: &str = "idempotency-key";
/// The header that marks a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// The longest key taken.
const MAX_KEY: usize = 255;
/// The largest answer kept for replay.
const MAX_ANSWER: usize = 256 * 1024;

/// The create's `Idempotency-Key`: 1 to 255 visible ASCII characters (a UUID, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::BadRequest("a create needs exactly one Idempotency-Key header".into()));
        };
        // RFC 8941 sf-string: the value may come quoted.
        let text = value.to_str().unwrap_or_default().trim();
        let key = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
        if key.is_empty() || key.len() > MAX_KEY || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::BadRequest(format!(
                "the Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"
            )));
        }
        Ok(IdempotencyKey(key.to_owned()))
    }
}

/// Runs `create` for the first request with `key` from `caller` ([`super::Caller::idempotency_scope`])
/// whose operation and body give `fingerprint` ([`idempotency::fingerprint`]), and keeps
/// its answer; a retry gets that answer, a different request with the key 422, a retry while
/// the first still runs 409. An answer of 5xx (nothing was created) keeps nothing, so the retry
/// runs again.
pub async fn once<F>(store: &Store, caller: &str, key: &IdempotencyKey, fingerprint: &str, now: Timestamp, create: F) -> Response
where
    F: Future<Output = Response>,
{
    match idempotency::begin(store, caller, &key.0, fingerprint, now).await {
        Ok(Begin::Run) => {}
        Ok(Begin::Replay(answer)) => return replay(answer),
        Ok(Begin::InProgress) => return ApiError::KeyInUse.into_response(),
        Ok(Begin::Mismatch) => return ApiError::KeyReused.into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let res = create.await;
    if res.status().is_server_error() {
        if let Err(e) = idempotency::finish(store, caller, &key.0, None, now).await {
            tracing::error!(error = %e, "could not give an idempotency key back");
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    // The object exists now, so the key is never given back: an answer too large to keep (or a
    // body that broke off) is kept, and sent, as its status and `Location` only.
    let bytes = to_bytes(body, MAX_ANSWER).await.unwrap_or_else(|_| {
        tracing::error!("an answer too large to keep for idempotent replay; kept without its body");
        Default::default()
    });
    let header_text = |name: HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = StoredAnswer {
        status: parts.status.as_u16(),
        content_type: header_text(header::CONTENT_TYPE),
        location: header_text(header::LOCATION),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(e) = idempotency::finish(store, caller, &key.0, Some(&answer), now).await {
        // The object exists; a retry will find the key in progress until it is abandoned.
        tracing::error!(error = %e, "could not keep the answer of an idempotent create");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut res = (status, answer.body).into_response();
    let h = res.headers_mut();
    for (name, value) in [(header::CONTENT_TYPE, answer.content_type), (header::LOCATION, answer.location)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            h.insert(name, v);
        }
    }
    h.insert(HeaderName::from_static(REPLAYED), HeaderValue::from_static("true"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
