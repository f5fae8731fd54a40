//! The data the store and the domain share: aggregates as stored, with their stored names. A
//! leaf below both (ARCHITECTURE, "The layers as rules" 2): it imports neither, so the store
//! needs no domain module and the domain modules re-export what they own.

pub mod account;
pub mod audit;
pub mod client;
pub mod grant;
pub mod idempotency;
pub mod mail;
pub mod org;
pub mod staff;
