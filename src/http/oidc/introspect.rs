//! Token introspection (RFC 7662): the client authenticates, [`access::introspect`] answers. A
//! client learns about its own tokens only; anything else is `{"active": false}`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tracing::instrument;

use super::form::OAuthForm;
use super::token::authenticate;
use crate::clock::Timestamp;
use crate::grants::access;
use crate::http::error::OAuthJson;
use crate::protocol::params::Params;
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
    Ok(access::introspect(&state.tokens, &state.store, &client, token, now).await?)
}
