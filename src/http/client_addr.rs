//! The client's address for throttling: the socket's peer, or — behind a trusted reverse proxy
//! that the configuration names — the first entry of the header the proxy sets.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::state::AppState;

/// The client's address as text (`unknown` when the server runs without connect info).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if let Some(header) = &state.config.client_ip_header
            && let Some(v) = parts.headers.get(header.as_str()).and_then(|v| v.to_str().ok())
            && let Some(first) = v.split(',').next().map(str::trim).filter(|s| !s.is_empty() && s.len() <= 64)
        {
            return Ok(ClientAddr(first.to_string()));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".to_string());
        Ok(ClientAddr(peer))
    }
}
