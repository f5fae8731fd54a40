//! Interoperable Servicekonten (PRODUCT §6, BSI TR-03160-2). Outbound, a citizen of another
//! Land logs in to one of our services through their own Land's Servicekonto: the identity that
//! Land asserts is held in the authorization transaction only — it never becomes a local
//! account — with its level mapped and never raised, and `amr` `fed` (R-FED-1, -3).
//! Inbound, another Land's Servicekonto is a client marked as federation partner (R-FED-4):
//! its transactions ask for consent every time, let the user withhold optional attributes, and
//! open no lasting session.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::grants::claims::is_releasable;
use crate::protocol::claims::ClaimsRequest;
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
            .filter(|t| *t <= now)
            .unwrap_or(now);
        // Only user data we know how to release, and how the Land verified it; the Land's
        // protocol claims stay behind.
        let claims = identity
            .claims
            .iter()
            .filter(|(k, v)| (is_releasable(k) || *k == VERIFIED) && !v.is_null())
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

const VERIFIED: &str = "verified_claims";

/// R-ACR-7 for a Land's identity: the Land's `verified_claims` (how and at what level it
/// verified the data), narrowed to the claims released with the same values; `None` when none
/// of them is released.
pub fn verified_claims(asserted: &Map<String, Value>, released: &Map<String, Value>) -> Option<Value> {
    let mut verified = asserted.get(VERIFIED)?.as_object()?.clone();
    let claims: Map<String, Value> = verified
        .get("claims")?
        .as_object()?
        .iter()
        .filter(|(k, v)| released.get(*k) == Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if claims.is_empty() {
        return None;
    }
    verified.insert("claims".into(), Value::Object(claims));
    Some(Value::Object(verified))
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
        let f = FederatedIdentity::from_upstream(&id, "Land B", 100).unwrap();
        assert_eq!(f.level, TrustLevel::Plus);
        assert_eq!(f.subject, "b-123");
        assert_eq!(f.auth_time, 50);
        assert_eq!(f.claims.len(), 1, "{:?}", f.claims);
        assert_eq!(f.claims["given_name"], "Ayşe");
        assert!(FederatedIdentity::from_upstream(&identity(TrustLevel::Basic, json!({})), "Land B", 100).is_none());
    }

    #[test]
    fn r_acr_7_a_lands_verification_travels_with_the_released_claims_only() {
        let asserted = json!({
            "given_name": "Ayşe", "family_name": "Yılmaz",
            "verified_claims": { "verification": { "trust_framework": "eidas" }, "claims": { "given_name": "Ayşe", "family_name": "Yılmaz" } },
        });
        let asserted = asserted.as_object().unwrap();
        let released = json!({ "given_name": "Ayşe" });
        let v = verified_claims(asserted, released.as_object().unwrap()).unwrap();
        assert_eq!(v["claims"], json!({ "given_name": "Ayşe" }));
        assert_eq!(v["verification"]["trust_framework"], "eidas");
        assert!(verified_claims(asserted, json!({ "email": "a@b" }).as_object().unwrap()).is_none());
    }

    #[test]
    fn r_fed_4_essential_claims_are_required_the_rest_optional() {
        let req = ClaimsRequest::parse(r#"{"userinfo":{"given_name":{"essential":true},"email":null,"acr":{"essential":true}}}"#).unwrap();
        assert_eq!(essential(&req), vec!["given_name".to_string()]);
    }
}
