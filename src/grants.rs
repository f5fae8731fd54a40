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

use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::scope::Scopes;
use crate::store::{Store, StoreError};

pub use crate::model::grant::{FederatedLogin, Grant};

/// How long a federation partner's grants (per-transaction personal data) are kept at most
/// (R-FED-4, TR-03160-2: 7 days).
pub const PARTNER_RETENTION_SECONDS: i64 = 7 * 86_400;

/// The user allows the service what the request asks (R-SVC-3): the consent kept for the
/// account and client grows by it. A consent that cannot be read is never overwritten: the
/// failure is returned and nothing is written.
pub async fn give_consent(
    store: &Store,
    account_id: &AccountId,
    client_id: &ClientId,
    wanted: &Scopes,
    now: Timestamp,
) -> Result<Scopes, StoreError> {
    let earlier = store.consent(account_id, client_id).await?.unwrap_or_default();
    let given = earlier.union(wanted);
    store.save_consent(account_id, client_id, &given, now).await?;
    Ok(given)
}

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
