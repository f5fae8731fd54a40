//! Servicekonto: an OpenID Connect identity provider for a German state's service portal.
//!
//! `main` parses the command line and calls [`cli::run`]; tests build an [`state::AppState`]
//! and serve [`app`] on an ephemeral port.

pub mod accounts;
pub mod audit;
pub mod authorization;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod ephemeral;
pub mod federation;
pub mod fetch;
pub mod grants;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod orgs;
pub mod paths;
pub mod protocol;
pub mod proxies;
pub mod secret;
pub mod secrets;
pub mod server;
pub mod sessions;
pub mod sim;
pub mod staff;
pub mod state;
pub mod store;
pub mod templates;
pub mod trust;
pub mod upstream;

/// The HTTP application for a state.
pub fn app(state: state::AppState) -> axum::Router {
    http::router(state)
}
