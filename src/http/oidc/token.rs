//! The token endpoint (RFC 6749 §3.2): client authentication, the parsed request, and
//! [`exchange::exchange`] for the rest.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use super::form::OAuthForm;
use crate::clients::Client;
use crate::clients::auth::presented;
use crate::clock::Timestamp;
use crate::grants::exchange;
use crate::grants::tokens::TokenResponse;
use crate::http::error::OAuthJson;
use crate::protocol::params::Params;
use crate::protocol::token::TokenRequest;
use crate::state::AppState;

/// Authenticates the client of a form request.
pub async fn authenticate(state: &AppState, headers: &HeaderMap, params: &Params, now: Timestamp) -> Result<Arc<Client>, OAuthJson> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presented = presented(authorization, params)?;
    Ok(state.client_auth.authenticate(presented, now).await?)
}

/// `POST /token`.
#[instrument(skip_all)]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, OAuthForm(params): OAuthForm) -> Response {
    match run(&state, &headers, &params, state.clock.now()).await {
        Ok(tokens) => {
            let mut res = Json(tokens).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, params: &Params, now: Timestamp) -> Result<TokenResponse, OAuthJson> {
    let client = authenticate(state, headers, params, now).await?;
    let request = TokenRequest::parse(params)?;
    let env = exchange::Env {
        store: &state.store,
        ephemeral: &state.ephemeral,
        sessions: &state.sessions,
        tokens: &state.tokens,
        config: &state.config.tokens,
    };
    let (tokens, grant_type) = exchange::exchange(env, &client, request, now).await?;
    state.metrics.tokens.with_label_values(&[grant_type.as_str()]).inc();
    Ok(tokens)
}
