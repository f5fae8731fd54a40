//! The client's address for throttling: the socket's peer, or what the trusted proxies in front
//! of it say ([`crate::proxies`]).

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
        let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) else {
            return Ok(ClientAddr("unknown".to_string()));
        };
        let proxies = &state.proxies;
        let header = proxies.header().and_then(|h| parts.headers.get(h)).and_then(|v| v.to_str().ok());
        Ok(ClientAddr(proxies.client(peer, header)))
    }
}
