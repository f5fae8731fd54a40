//! Token revocation (RFC 7009): answers 200 for unknown tokens, so nothing is revealed; the
//! revoking is [`revocation::revoke`].

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use super::form::OAuthForm;
use super::token::authenticate;
use crate::clock::Timestamp;
use crate::grants::revocation;
use crate::http::error::OAuthJson;
use crate::protocol::params::Params;
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
    Ok(revocation::revoke(&state.keys, &state.store, &client, token, now).await?)
}
