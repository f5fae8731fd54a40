//! Development simulators of upstream identity providers: real OpenID Providers with fixed test
//! identities, so the connector, the flows and their tests talk to a protocol peer over HTTP.
//! Never started unless asked for (`servicekonto sim …`), and marked in their discovery
//! document, so the IdP refuses to trust one on a non-loopback issuer unless
//! `allow_simulators` is set.

pub mod eid;
pub mod elster;
pub mod op;

/// Escapes text for HTML (the simulator's pages are plain strings, not templates).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
