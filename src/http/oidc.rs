//! The protocol endpoints of OpenID Connect and OAuth 2.0.

pub mod authorize;
pub mod discovery;
pub mod form;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::Router;
use axum::routing::get;

use crate::paths;
use crate::state::AppState;

/// Protocol routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::DISCOVERY, get(discovery::metadata))
        .route(paths::OAUTH_METADATA, get(discovery::metadata))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::AUTHORIZE, get(authorize::get).post(authorize::post))
        .route(paths::AUTHORIZE_RESUME, get(authorize::resume))
        .route(paths::TOKEN, axum::routing::post(token::token))
        .route(paths::USERINFO, get(userinfo::userinfo).post(userinfo::userinfo))
        .route(paths::REVOKE, axum::routing::post(revoke::revoke))
        .route(paths::INTROSPECT, axum::routing::post(introspect::introspect))
        .route(paths::LOGOUT, get(logout::logout).post(logout::logout))
}
