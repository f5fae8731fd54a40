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
pub mod orgs;
pub mod paging;
pub mod preconditions;

pub use error::{ApiError, Problem};
pub use extract::Caller;

use axum::Router;
use axum::middleware;
use axum::routing::{get, put};

use crate::paths;
use crate::state::AppState;

/// No id holds a NUL, and PostgreSQL refuses one in text: such a path names nothing.
async fn no_nul_in_path(request: axum::extract::Request, next: middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.uri().path().to_ascii_lowercase().contains("%00") {
        return ApiError::NotFound.into_response();
    }
    next.run(request).await
}

/// The API's routes, to be nested under [`paths::API`]; anything else there is a problem 404.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::API_ME, get(me::me))
        .route("/orgs/{org_id}", get(orgs::get_org).patch(orgs::patch_org).delete(orgs::delete_org))
        .route("/orgs/{org_id}/users", get(orgs::list_users).post(orgs::create_user))
        .route(
            "/orgs/{org_id}/users/{user_id}",
            get(orgs::get_user).patch(orgs::patch_user).delete(orgs::delete_user),
        )
        .route(
            "/orgs/{org_id}/users/{user_id}/services/{client_id}",
            put(orgs::grant_user).delete(orgs::revoke_user),
        )
        .route("/orgs/{org_id}/groups", get(orgs::list_groups).post(orgs::create_group))
        .route(
            "/orgs/{org_id}/groups/{group_id}",
            get(orgs::get_group).patch(orgs::patch_group).delete(orgs::delete_group),
        )
        .route(
            "/orgs/{org_id}/groups/{group_id}/members/{user_id}",
            put(orgs::add_member).delete(orgs::remove_member),
        )
        .route(
            "/orgs/{org_id}/groups/{group_id}/services/{client_id}",
            put(orgs::grant_group).delete(orgs::revoke_group),
        )
        .route("/orgs/{org_id}/services", get(orgs::list_subscriptions).post(orgs::subscribe))
        .route("/orgs/{org_id}/services/{client_id}", axum::routing::delete(orgs::unsubscribe))
        .route(paths::API_OPENAPI, get(openapi::openapi))
        .fallback(|| async { ApiError::NotFound })
        .layer(middleware::from_fn(no_nul_in_path))
        .layer(middleware::from_fn(error::problems_only))
}
