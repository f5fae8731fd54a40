//! What a user has allowed a client: the authorization decision, codes, tokens and the
//! claims they carry. Every function here takes `now` and returns domain values; the HTTP
//! layer only maps them.

pub mod access;
pub mod claims;
pub mod codes;
pub mod decide;
pub mod exchange;
pub mod logout;
pub mod revocation;
pub mod tokens;

use crate::protocol::claims::ClaimsRequest;
use crate::protocol::scope::Scopes;

pub use crate::model::grant::{FederatedLogin, Grant};

/// How long a federation partner's grants (per-transaction personal data) are kept at most
/// (R-FED-4, TR-03160-2: 7 days).
pub const PARTNER_RETENTION_SECONDS: i64 = 7 * 86_400;

/// The consent set for a request: its scopes plus one `claim:NAME` entry per claim asked for
/// by the claims parameter, so a consent covers exactly what was shown.
pub fn consent_set(scope: &Scopes, claims: &ClaimsRequest) -> Scopes {
    let extra: Vec<String> = claims
        .names()
        .filter(|n| claims::is_releasable(n))
        .map(|n| format!("claim:{n}"))
        .collect();
    scope.union(&extra.iter().map(String::as_str).collect())
}
