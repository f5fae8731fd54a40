//! Interoperable Servicekonten (PRODUCT §6, BSI TR-03160-2). Outbound, a citizen of another
//! Land logs in to one of our services through their own Land's Servicekonto: the identity that
//! Land asserts is held in the authorization transaction only — it never becomes a local
//! account — with its level mapped and never raised, and `amr` `fed` (R-FED-1, -3).
//! Inbound, another Land's Servicekonto is a client marked as federation partner (R-FED-4):
//! its transactions ask for consent every time, let the user withhold optional attributes, and
//! open no lasting session.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audit::Event;
use crate::clients::Client;
use crate::clock::Timestamp;
use crate::grants::claims::{VERIFIED_CLAIMS, is_releasable};
use crate::grants::decide::{Decision, decide_federated};
use crate::protocol::authorize::AuthorizeRequest;
use crate::protocol::claims::ClaimsRequest;
use crate::store::Store;
use crate::trust::{Method, TrustLevel};
use crate::upstream::Identity;

/// What another Land asserted about a person, held in the authorization transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedIdentity {
    /// The Land (upstream id).
    pub upstream: String,
    /// Its name, for the consent page.
    pub land: String,
    /// The Land's `sub` for the person.
    pub subject: String,
    /// The level, mapped and never raised (R-FED-3).
    pub level: TrustLevel,
    /// The Land's claims that we can pass on, in our names.
    pub claims: Map<String, Value>,
    /// When the person authenticated at the Land.
    pub auth_time: Timestamp,
}

impl FederatedIdentity {
    /// The identity in a checked upstream answer; `None` without a subject.
    pub fn from_upstream(identity: &Identity, land: &str, now: Timestamp) -> Option<FederatedIdentity> {
        let subject = identity.claims.get("sub")?.as_str()?.to_string();
        let auth_time = identity
            .claims
            .get("auth_time")
            .and_then(Value::as_i64)
            .map(Timestamp)
            .filter(|t| *t <= now)
            .unwrap_or(now);
        // Only user data we know how to release, and how the Land verified it; the Land's
        // protocol claims stay behind.
        let claims = identity
            .claims
            .iter()
            .filter(|(k, v)| (is_releasable(k) || *k == VERIFIED_CLAIMS) && !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(FederatedIdentity {
            upstream: identity.upstream.clone(),
            land: land.to_string(),
            subject,
            level: identity.level.min(Method::Fed.ceiling()),
            claims,
            auth_time,
        })
    }
}

/// Why a Land's answer logs nobody in.
#[derive(Debug)]
pub enum Refusal {
    /// The answer names no subject.
    Invalid,
    /// The Land's level is below what the service or the request needs (R-FED-3); the
    /// identity, to say which level it had.
    LevelTooLow(Box<FederatedIdentity>),
}

/// Admits a login through another Land (`land`, its display name) for an authorization request:
/// the identity must name a subject and its level, never raised, must meet what the service and
/// the request need (R-FED-1, -3). Audited either way.
pub async fn admit(
    store: &Store,
    (request, client): (&AuthorizeRequest, &Client),
    (identity, land): (&Identity, &str),
    addr: &str,
    now: Timestamp,
) -> Result<FederatedIdentity, Refusal> {
    let fed = FederatedIdentity::from_upstream(identity, land, now).ok_or(Refusal::Invalid)?;
    let event = Event::new("login.federated", now)
        .from(addr)
        .details(format!("upstream {} for client {}", fed.upstream, client.id));
    if let Decision::Deny(e) = decide_federated(request, client, fed.level, true) {
        event.outcome("level_too_low").note(store).await;
        tracing::info!(upstream = %fed.upstream, level = fed.level.name(), reason = %e.description, "federated login below the level needed");
        return Err(Refusal::LevelTooLow(Box::new(fed)));
    }
    event.note(store).await;
    Ok(fed)
}

/// The attributes a partner's request marks essential (OIDC Core §5.5.1): shown at the
/// consent, but not deselectable (R-FED-4). Everything else asked for is optional.
pub fn essential(claims: &ClaimsRequest) -> Vec<String> {
    claims
        .id_token
        .iter()
        .chain(claims.userinfo.iter())
        .filter(|(n, spec)| is_releasable(n) && spec.as_ref().and_then(|s| s.essential).unwrap_or(false))
        .map(|(n, _)| n.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpstreamKind;
    use serde_json::json;

    fn identity(level: TrustLevel, claims: Value) -> Identity {
        Identity {
            upstream: "land-b".into(),
            kind: UpstreamKind::Land,
            level,
            claims: claims.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn r_fed_3_the_asserted_level_is_kept_and_only_user_data_is_taken() {
        let id = identity(
            TrustLevel::Plus,
            json!({ "sub": "b-123", "iss": "https://b", "nonce": "n", "given_name": "Ayşe", "auth_time": 50, "birthdate": null }),
        );
        let f = FederatedIdentity::from_upstream(&id, "Land B", Timestamp(100)).unwrap();
        assert_eq!(f.level, TrustLevel::Plus);
        assert_eq!(f.subject, "b-123");
        assert_eq!(f.auth_time, Timestamp(50));
        assert_eq!(f.claims.len(), 1, "{:?}", f.claims);
        assert_eq!(f.claims["given_name"], "Ayşe");
        assert!(FederatedIdentity::from_upstream(&identity(TrustLevel::Basic, json!({})), "Land B", Timestamp(100)).is_none());
    }

    #[test]
    fn r_fed_4_essential_claims_are_required_the_rest_optional() {
        let req = ClaimsRequest::parse(r#"{"userinfo":{"given_name":{"essential":true},"email":null,"acr":{"essential":true}}}"#).unwrap();
        assert_eq!(essential(&req), vec!["given_name".to_string()]);
    }
}
