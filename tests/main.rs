//! Integration tests: the real server on an ephemeral port, driven over HTTP. One binary with
//! modules keeps link time short.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api;
mod api_helpers;
mod audit;
mod authorize;
mod backchannel;
mod cli;
mod client_auth;
mod csrf;
mod eid;
mod elster;
mod faults;
mod federation;
mod flows;
mod fuzz;
mod hashing;
mod layering;
mod mail;
mod nodes;
mod ops;
mod org_api;
mod orgs;
mod profile;
mod recovery;
mod registration;
mod secrets;
mod services;
mod sessions;
mod staff;
mod store;
mod tokens;
