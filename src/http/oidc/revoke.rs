//! Token revocation (RFC 7009). Answers 200 for unknown tokens, so nothing is revealed;
//! revoking a refresh token revokes its whole grant, access tokens included (§2.1).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use super::form::OAuthForm;
use super::token::authenticate;
use crate::clock::Timestamp;
use crate::http::error::OAuthJson;
use crate::keys::jws::Unverified;
use crate::protocol::params::Params;
use crate::secret::sha256_b64;
use crate::state::AppState;

/// `POST /revoke`.
#[instrument(skip_all)]
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, OAuthForm(params): OAuthForm) -> Response {
    match run(&state, &headers, &params, state.clock.now()).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, params: &Params, now: Timestamp) -> Result<(), OAuthJson> {
    let client = authenticate(state, headers, params, now).await?;
    let token = params.require("token")?;
    let looks_like_jwt = Unverified::parse(token).is_ok();
    if looks_like_jwt {
        // Expired tokens need no revocation; `verify` still proves it is ours.
        if let Ok((_, claims)) = state.keys.verify(token, now) {
            let client_id = claims.get("client_id").and_then(|v| v.as_str());
            let jti = claims.get("jti").and_then(|v| v.as_str());
            let exp = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or(now);
            if let (Some(c), Some(jti)) = (client_id, jti)
                && c == client.id
                && exp > now
            {
                state.store.revoke_access_token(jti, exp).await?;
            }
        }
        return Ok(());
    }
    if let Some(grant) = state.store.refresh_token_grant(&sha256_b64(token.as_bytes()), now).await?
        && grant.client_id == client.id
    {
        state.store.revoke_grant(&grant.id, now).await?;
    }
    Ok(())
}
