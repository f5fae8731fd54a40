//! The caller of an operation: our access token from the `Authorization` header only, checked
//! (signature, `typ`, issuer, audience, expiry, revocation), with the operation's scope and level.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::ApiError;
use crate::clock::Timestamp;
use crate::grants::access::{self, AccessError, ActiveToken};
use crate::http::error::bearer_header;
use crate::state::AppState;
use crate::trust::TrustLevel;

/// The caller of an operation: a checked access token, and the time of the request.
pub struct Caller {
    /// The token, verified and not revoked.
    pub token: ActiveToken,
    /// When the request came (read once).
    pub now: Timestamp,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // RFC 9700 §4.3.2: never a token in the query, not even beside a header.
        if parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")))
        {
            return Err(ApiError::InvalidRequest);
        }
        let token = bearer_header(&parts.headers)
            .map_err(|_| ApiError::InvalidRequest)?
            .ok_or(ApiError::Unauthenticated)?;
        let now = state.clock.now();
        let token = access::check(&state.tokens, &state.store, token, now).await.map_err(|e| match e {
            AccessError::Invalid => ApiError::InvalidToken,
            AccessError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::Unavailable
            }
        })?;
        if !state.tokens.is_for_api(&token.claims) {
            return Err(ApiError::InvalidToken);
        }
        Ok(Caller { token, now })
    }
}

impl Caller {
    /// Refuses the caller unless the token carries `scope` and its login reached `level`.
    pub fn require(&self, scope: &'static str, level: TrustLevel) -> Result<(), ApiError> {
        if !self.token.scopes().contains(scope) {
            return Err(ApiError::InsufficientScope(scope));
        }
        if self.token.level().unwrap_or(TrustLevel::Basic) < level {
            return Err(ApiError::StepUp(level));
        }
        Ok(())
    }

    /// Whose `Idempotency-Key`s these are ([`super::idempotent::once`]): the service and the
    /// person its token stands for, so two services, or one service for two people, never
    /// share a key.
    pub fn idempotency_scope(&self) -> String {
        format!("{}|{}", self.token.claims.client_id, self.token.claims.sub)
    }
}

/// A JSON body that is an object, read into `T`. serde would also read a struct from an array
/// of its fields, which no operation's document allows; a body that is no object, or an object
/// `T` refuses, is a 422 (a malformed one a 400, from axum).
pub struct JsonObject<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonObject<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = axum::response::Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let axum::Json(object) = axum::Json::<serde_json::Map<String, serde_json::Value>>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_value(serde_json::Value::Object(object))
            .map(JsonObject)
            .map_err(|e| ApiError::Invalid(format!("the body: {e}")).into_response())
    }
}
