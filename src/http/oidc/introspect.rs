//! Token introspection (RFC 7662). A client learns about its own tokens only; anything else
//! is `{"active": false}`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::instrument;

use super::form::OAuthForm;
use super::token::authenticate;
use super::userinfo::check_access_token;
use crate::clock::Timestamp;
use crate::http::error::OAuthJson;
use crate::keys::jws::Unverified;
use crate::protocol::params::Params;
use crate::secret::sha256_b64;
use crate::state::AppState;

/// `POST /introspect`.
#[instrument(skip_all)]
pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, OAuthForm(params): OAuthForm) -> Response {
    match run(&state, &headers, &params, state.clock.now()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, params: &Params, now: Timestamp) -> Result<Value, OAuthJson> {
    let client = authenticate(state, headers, params, now).await?;
    let token = params.require("token")?;
    let inactive = json!({ "active": false });
    if Unverified::parse(token).is_ok() {
        let Ok(active) = check_access_token(state, token, now).await else {
            return Ok(inactive);
        };
        let c = active.claims;
        if c.client_id != client.id {
            return Ok(inactive);
        }
        let mut v = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": c.scope,
            "client_id": c.client_id,
            "sub": c.sub,
            "aud": c.aud,
            "iss": c.iss,
            "jti": c.jti,
            "iat": c.iat,
            "exp": c.exp,
        });
        if let Some(acr) = c.acr {
            v["acr"] = acr.into();
        }
        if let Some(t) = c.auth_time {
            v["auth_time"] = t.into();
        }
        return Ok(v);
    }
    match state.store.refresh_token_grant(&sha256_b64(token.as_bytes()), now).await? {
        Some(grant) if grant.client_id == client.id && grant.revoked_at.is_none() => Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope.to_string(),
            "client_id": grant.client_id,
            "sub": state.tokens.subject(&client, &grant.account_id),
            "iss": state.config.issuer,
            "iat": grant.created_at,
            "exp": grant.expires_at,
            "acr": grant.acr,
            "auth_time": grant.auth_time,
        })),
        _ => Ok(inactive),
    }
}
