//! The body of a client's POST to the token, introspection and revocation endpoints, parsed once:
//! `application/x-www-form-urlencoded` (RFC 6749 §3.2), UTF-8, within the body limit, no
//! parameter twice. Whatever is wrong with it is an OAuth JSON error, never the framework's
//! plain-text answer.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

use crate::http::error::OAuthJson;
use crate::protocol::OAuthError;
use crate::protocol::params::Params;

/// The parsed form of a client request.
pub struct OAuthForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthJson;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(OAuthJson(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            OAuthJson(OAuthError::invalid_request(format!(
                "the body could not be read: {}",
                e.body_text()
            )))
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| OAuthJson(OAuthError::invalid_request("the body is not UTF-8")))?;
        Ok(OAuthForm(Params::parse(text)?))
    }
}
