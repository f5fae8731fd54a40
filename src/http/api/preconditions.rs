//! Updates may carry `If-Match` (R-API-4, RFC 9110 §13.1.1): a resource's representation has a
//! strong [`ETag`]; an update whose `If-Match` names no current tag changes nothing and answers
//! 412, so two clients cannot overwrite each other's change unseen. Without `If-Match` the update
//! goes ahead.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::ApiError;
use crate::secret::sha256_b64;

/// A strong entity tag of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of `representation`: a digest of its JSON, so any change of what a client sees
    /// changes it.
    pub fn of<T: Serialize>(representation: &T) -> ETag {
        let json = serde_json::to_vec(representation).unwrap_or_default();
        ETag(format!("\"{}\"", &sha256_b64(&json)[..27]))
    }

    /// The header value, quotes included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Sets `ETag` on a response's headers.
    pub fn put(&self, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.0) {
            headers.insert(header::ETAG, v);
        }
    }
}

/// The request's `If-Match`: absent, `*`, or the tags it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No `If-Match`: the update is unconditional.
    Absent,
    /// `*`: any current representation.
    Any,
    /// These tags, as sent.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Reads the `If-Match` fields of `headers`. What is not an entity tag (a weak tag, a
    /// malformed item, bytes that are not text) can never match: such a precondition fails with
    /// 412 rather than being ignored or refused as malformed.
    pub fn from_headers(headers: &HeaderMap) -> IfMatch {
        if !headers.contains_key(header::IF_MATCH) {
            return IfMatch::Absent;
        }
        let mut tags = Vec::new();
        for value in headers.get_all(header::IF_MATCH) {
            let Ok(text) = value.to_str() else { continue };
            for item in text.split(',').map(str::trim) {
                if item == "*" {
                    return IfMatch::Any;
                }
                if item.len() >= 2 && item.starts_with('"') && item.ends_with('"') {
                    tags.push(item.to_owned());
                }
            }
        }
        IfMatch::Tags(tags)
    }

    /// Lets the update go ahead on `current`, or refuses it with 412.
    pub fn check(&self, current: &ETag) -> Result<(), ApiError> {
        match self {
            IfMatch::Absent | IfMatch::Any => Ok(()),
            IfMatch::Tags(tags) if tags.iter().any(|t| t == current.as_str()) => Ok(()),
            IfMatch::Tags(_) => Err(ApiError::PreconditionFailed),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(IfMatch::from_headers(&parts.headers))
    }
}

/// The `If-Match` header as the OpenAPI document describes it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The `ETag` the change is based on: `*` or quoted entity tags. What names no current
    /// version (another version, a weak tag, anything that is no entity tag) is a 412.
    #[serde(rename = "If-Match")]
    #[param(nullable = false)]
    pub if_match: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn r_api_4_if_match_lets_an_update_go_ahead_only_on_the_current_version() {
        let current = ETag::of(&serde_json::json!({ "subject": "Antrag", "version": 2 }));
        let older = ETag::of(&serde_json::json!({ "subject": "Antrag", "version": 1 }));
        assert_ne!(current, older);
        assert!(current.as_str().starts_with('"') && current.as_str().ends_with('"'));
        let ok = |h: &[&str]| IfMatch::from_headers(&headers(h)).check(&current);
        assert!(ok(&[]).is_ok(), "no If-Match: unconditional");
        assert!(ok(&["*"]).is_ok());
        assert!(ok(&[current.as_str()]).is_ok());
        assert!(ok(&[&format!("{}, {}", older.as_str(), current.as_str())]).is_ok());
        assert!(ok(&[older.as_str(), current.as_str()]).is_ok(), "several fields");
        assert!(matches!(ok(&[older.as_str()]), Err(ApiError::PreconditionFailed)));
        assert!(
            matches!(ok(&[&format!("W/{}", current.as_str())]), Err(ApiError::PreconditionFailed)),
            "a weak tag never matches strongly"
        );
        for never in ["abc", " , ", "{}", ""] {
            assert!(
                matches!(ok(&[never]), Err(ApiError::PreconditionFailed)),
                "{never:?} can never match"
            );
        }
    }
}
