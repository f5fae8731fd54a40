//! The resource API under `/api/v1` (PRODUCT §9), set up once for every resource: [`Caller`]
//! checks our access token (signature, `typ`, issuer, audience, expiry, revocation) from the
//! `Authorization` header only, each operation names its scope and level; every error is RFC 9457
//! problem+json, with the RFC 6750 challenge and the RFC 9470 step-up where they apply; the
//! OpenAPI 3.1 document is generated from the types the handlers return.

pub mod error;
pub mod extract;
pub mod idempotent;
pub mod me;
pub mod openapi;
pub mod paging;
pub mod preconditions;

pub use error::{ApiError, Problem};
pub use extract::Caller;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::paths;
use crate::state::AppState;

/// The API's routes, to be nested under [`paths::API`]; anything else there is a problem 404.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::API_ME, get(me::me))
        .route(paths::API_OPENAPI, get(openapi::openapi))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(error::problems_only))
}
