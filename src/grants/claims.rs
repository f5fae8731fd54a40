//! Which account data a client receives: by scope (OIDC Core §5.4) and by the claims
//! parameter (§5.5), and the `sub` it knows the account by (§8).

use serde_json::{Map, Value, json};

use crate::accounts::Account;
use crate::accounts::eid::Verification;
use crate::clients::{Client, SubjectType};
use crate::ids::AccountId;
use crate::orgs::Access;
use crate::protocol::claims::ClaimSpec;
pub use crate::protocol::scope::SCOPE_CLAIMS;
use crate::protocol::scope::{ACCOUNT, OFFLINE_ACCESS, ORG_ADMIN, Scopes};
use crate::secret::KeyRing;
use std::collections::BTreeMap;

/// Every user claim we can release (discovery's `claims_supported` adds the protocol ones).
pub fn user_claims() -> impl Iterator<Item = &'static str> {
    SCOPE_CLAIMS.iter().flat_map(|(_, c)| c.iter().copied())
}

/// Whether a claims-parameter entry names account data (protocol claims like `acr` are not
/// account data and need no consent line).
pub fn is_releasable(name: &str) -> bool {
    user_claims().any(|c| c == name)
}

/// The `sub` a client knows the account by: a keyed hash of sector and account for pairwise
/// clients, the account id for public ones.
pub fn subject(client: &Client, account_id: &AccountId, pairwise_key: &KeyRing) -> String {
    match client.subject_type {
        SubjectType::Public => account_id.to_string(),
        SubjectType::Pairwise => keyed_subject(client, pairwise_key, &format!("{}|{account_id}", client.sector())),
    }
}

/// A keyed hash under the client's version of the pairwise key. The client directory admits
/// no client whose version this node lacks; should one slip through, it gets an unguessable
/// value that names nobody rather than another person's subject.
fn keyed_subject(client: &Client, pairwise_key: &KeyRing, data: &str) -> String {
    pairwise_key
        .mac(client.subject_key_version, data.as_bytes())
        .unwrap_or_else(|| crate::secret::random_token(32))
}

/// Where released claim values come from: a local account, or what another Land asserted
/// (already in our claim names).
pub trait ClaimSource {
    /// The value of claim `name`, if there is one.
    fn claim(&self, name: &str) -> Option<Value>;
}

impl ClaimSource for Account {
    fn claim(&self, name: &str) -> Option<Value> {
        claim_value(self, name)
    }
}

impl ClaimSource for Map<String, Value> {
    fn claim(&self, name: &str) -> Option<Value> {
        self.get(name).filter(|v| !v.is_null()).cloned()
    }
}

/// Whether the user deselected `name` at a partner's consent (R-FED-4): a claim derived from a
/// deselected one (`name` from the names, `email_verified` from `email`) goes with it.
pub fn is_withheld(withheld: &[String], name: &str) -> bool {
    let base = name
        .strip_suffix("_verified")
        .or_else(|| name.strip_suffix("_at").filter(|b| *b != "updated"))
        .unwrap_or(name);
    withheld.iter().any(|w| w == name || w == base) || (name == "name" && withheld.iter().any(|w| w == "given_name" || w == "family_name"))
}

/// The `sub` a client knows a person logged in through another Land by: always a keyed hash
/// of sector, Land and the Land's subject, so no identifier of the other Land leaks and the same
/// person is recognised on the next login (R-FED-3).
pub fn federated_subject(client: &Client, upstream: &str, upstream_sub: &str, pairwise_key: &KeyRing) -> String {
    keyed_subject(client, pairwise_key, &format!("{}|fed|{upstream}|{upstream_sub}", client.sector()))
}

fn claim_value(account: &Account, name: &str) -> Option<Value> {
    Some(match name {
        "name" => json!(format!("{} {}", account.given_name, account.family_name)),
        "given_name" => json!(account.given_name),
        "family_name" => json!(account.family_name),
        "birthdate" => json!(account.birthdate.as_ref()?),
        "updated_at" => json!(account.updated_at),
        "email" => json!(account.email),
        "email_verified" => json!(account.email_verified),
        "address" => {
            let a = account.address.as_ref()?;
            json!({
                "formatted": format!("{} {}\n{} {}\n{}", a.street, a.house_number, a.postal_code, a.city, a.country),
                "street_address": format!("{} {}", a.street, a.house_number),
                "locality": a.city,
                "postal_code": a.postal_code,
                "country": a.country,
            })
        }
        "delivery_consent" => json!(account.delivery_consent_at.is_some()),
        "delivery_consent_at" => json!(account.delivery_consent_at?),
        "phone_number" => json!(account.phone_number.as_ref()?),
        "phone_number_verified" => {
            account.phone_number.as_ref()?;
            json!(false)
        }
        _ => return None,
    })
}

/// The claims an organisation's user carries for one service (R-ORG-10): the organisation and
/// the roles granted for that service only.
pub fn org_claims(access: &Access) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("org_id".into(), json!(access.org_id));
    out.insert("org_name".into(), json!(access.org_name));
    out.insert("service_roles".into(), json!(access.roles));
    out
}

/// The organisation claims, for discovery's `claims_supported`.
pub const ORG_CLAIMS: &[&str] = &["org_id", "org_name", "service_roles"];

/// The claims a verification vouches for (the locked fields of a Plus account).
pub const VERIFIABLE: &[&str] = &["given_name", "family_name", "birthdate", "address"];

/// R-ACR-7 (OpenID Connect for Identity Assurance 1.0): of the claims released, those the
/// account's verification vouches for, with how, when and at what level they were verified —
/// so a service can tell self-entered data (top level) from verified data. `None` when the
/// account is not verified or none of them is released.
pub fn verified_claims(account: &Account, verification: Option<&Verification>, released: &Map<String, Value>) -> Option<Value> {
    let v = verification.filter(|_| account.level >= crate::trust::TrustLevel::Plus)?;
    let claims: Map<String, Value> = VERIFIABLE
        .iter()
        .filter_map(|n| released.get(*n).map(|c| ((*n).to_string(), c.clone())))
        .collect();
    if claims.is_empty() {
        return None;
    }
    let (assurance, method) = if v.method == "eid" {
        ("high", "eid")
    } else {
        ("substantial", "pipp")
    };
    let time = crate::clock::rfc3339(v.verified_at)?;
    let document = match v.document_type.as_deref() {
        Some("ID") | None => "idcard",
        Some("PP" | "P") => "passport",
        Some(_) => "residence_permit",
    };
    Some(json!({
        "verification": {
            "trust_framework": "eidas",
            "assurance_level": assurance,
            "time": time,
            "evidence": [{ "type": "document", "method": method, "time": time, "document_details": { "type": document } }],
        },
        "claims": claims,
    }))
}

/// Claims for the scopes granted plus those named in `requested` (a claims-parameter member),
/// leaving out what the source does not have and what the user withheld. A requested
/// `value`/`values` that the source's value does not match is left out too (OIDC Core §5.5.1).
pub fn release(
    source: &impl ClaimSource,
    scope: &Scopes,
    requested: &BTreeMap<String, Option<ClaimSpec>>,
    withheld: &[String],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (s, names) in SCOPE_CLAIMS {
        if scope.contains(s) {
            for n in *names {
                if is_withheld(withheld, n) {
                    continue;
                }
                if let Some(v) = source.claim(n) {
                    out.insert((*n).to_string(), v);
                }
            }
        }
    }
    for (name, spec) in requested {
        if !is_releasable(name) || is_withheld(withheld, name) {
            continue;
        }
        let Some(v) = source.claim(name) else { continue };
        let matches = match spec {
            Some(ClaimSpec { value: Some(want), .. }) => *want == v,
            Some(ClaimSpec { values: Some(wants), .. }) => wants.contains(&v),
            _ => true,
        };
        if matches {
            out.insert(name.clone(), v);
        } else {
            out.remove(name);
        }
    }
    out
}

/// The names of the data a consent shows, in display order.
pub fn consent_items(scope: &Scopes, requested: impl Iterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for (s, names) in SCOPE_CLAIMS {
        if scope.contains(s) {
            items.extend(
                names
                    .iter()
                    .filter(|n| !n.ends_with("_verified") && !n.ends_with("_at"))
                    .map(|n| n.to_string()),
            );
        }
    }
    for n in requested {
        if is_releasable(&n) && !n.ends_with("_verified") && !items.contains(&n) {
            items.push(n);
        }
    }
    // Not data but a permission the person gives: access while they are not logged in.
    if scope.contains(OFFLINE_ACCESS) {
        items.push(OFFLINE_ACCESS.to_string());
    }
    // The account API hands out what the account holds; the consent says so in one line.
    if scope.contains(ACCOUNT) {
        items.push(ACCOUNT.to_string());
    }
    if scope.contains(ORG_ADMIN) {
        items.push(ORG_ADMIN.to_string());
    }
    items
}

/// The claim that says how data were verified (OpenID Connect for Identity Assurance).
pub const VERIFIED_CLAIMS: &str = "verified_claims";

/// R-ACR-7 for a Land's identity: the Land's `verified_claims` (how and at what level it
/// verified the data), narrowed to the claims released with the same values; `None` when none
/// of them is released.
pub fn land_verified_claims(asserted: &Map<String, Value>, released: &Map<String, Value>) -> Option<Value> {
    let mut verified = asserted.get(VERIFIED_CLAIMS)?.as_object()?.clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountKind, Address};
    use crate::clock::Timestamp;
    use crate::secret::Secret;
    use crate::trust::TrustLevel;

    fn account() -> Account {
        Account {
            id: "acc1".into(),
            email: "erika@example.de".into(),
            password_hash: Secret::new(String::new()),
            kind: AccountKind::Citizen,
            level: TrustLevel::Basic,
            given_name: "Erika".into(),
            family_name: "Mustermann".into(),
            birthdate: None,
            address: Some(Address {
                street: "Heidestraße".into(),
                house_number: "17".into(),
                postal_code: "51147".into(),
                city: "Köln".into(),
                country: "DE".into(),
            }),
            phone_number: None,
            email_verified: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            title: None,
            blocked_at: None,
            delivery_consent_at: None,
        }
    }

    #[test]
    fn scopes_release_their_claims_and_missing_data_stays_out() {
        let c = release(&account(), &Scopes::parse("openid email phone").unwrap(), &BTreeMap::new(), &[]);
        assert_eq!(c["email"], "erika@example.de");
        assert!(!c.contains_key("phone_number"));
        assert!(!c.contains_key("given_name"));
    }

    #[test]
    fn claims_parameter_adds_claims_and_honours_values() {
        let mut req = BTreeMap::new();
        req.insert("given_name".to_string(), None);
        req.insert(
            "family_name".to_string(),
            Some(ClaimSpec {
                value: Some(json!("Other")),
                ..Default::default()
            }),
        );
        let c = release(&account(), &Scopes::parse("openid").unwrap(), &req, &[]);
        assert_eq!(c["given_name"], "Erika");
        assert!(!c.contains_key("family_name"));
    }

    #[test]
    fn r_fed_4_withheld_attributes_and_what_derives_from_them_stay_out() {
        let scope = Scopes::parse("openid profile email address").unwrap();
        let c = release(&account(), &scope, &BTreeMap::new(), &["email".into(), "family_name".into()]);
        assert!(!c.contains_key("email") && !c.contains_key("email_verified"));
        assert!(!c.contains_key("family_name") && !c.contains_key("name"));
        assert_eq!(c["given_name"], "Erika");
        assert!(c.contains_key("address"));
    }

    #[test]
    fn a_federated_identity_releases_from_its_asserted_claims() {
        let mut asserted = Map::new();
        asserted.insert("given_name".into(), json!("Ayşe"));
        asserted.insert("email".into(), json!("ayse@land-b.example"));
        asserted.insert("birthdate".into(), Value::Null);
        let c = release(&asserted, &Scopes::parse("openid profile").unwrap(), &BTreeMap::new(), &[]);
        assert_eq!(c["given_name"], "Ayşe");
        assert!(!c.contains_key("email"), "email was not in scope");
        assert!(!c.contains_key("birthdate"), "null is no value");
    }

    #[test]
    fn r_acr_7_a_lands_verification_travels_with_the_released_claims_only() {
        let asserted = json!({
            "given_name": "Ayşe", "family_name": "Yılmaz",
            "verified_claims": { "verification": { "trust_framework": "eidas" }, "claims": { "given_name": "Ayşe", "family_name": "Yılmaz" } },
        });
        let asserted = asserted.as_object().unwrap();
        let released = json!({ "given_name": "Ayşe" });
        let v = land_verified_claims(asserted, released.as_object().unwrap()).unwrap();
        assert_eq!(v["claims"], json!({ "given_name": "Ayşe" }));
        assert_eq!(v["verification"]["trust_framework"], "eidas");
        assert!(land_verified_claims(asserted, json!({ "email": "a@b" }).as_object().unwrap()).is_none());
    }
}
