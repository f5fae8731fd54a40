//! ELSTER for organisations (R-ELS-1…4): what an ELSTER login with an organisation
//! certificate says, linking a user's own certificate (the first link, by an administrator,
//! ties the organisation to its ELSTER id and locks the data ELSTER released), replacing and
//! deleting it, logging in with it, and registering an organisation from its ELSTER data.
//! Certificates are stored only as a keyed hash of their ELSTER account; citizens' accounts
//! never hold one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{OrgAddress, OrgRole, Organisation};
use crate::accounts::eid::{split_street, text};
use crate::accounts::{self, Account, AccountKind, UpstreamRefusal};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::secret::hmac_b64;
use crate::store::{Store, StoreError};
use crate::trust::{Method, TrustLevel};

/// Why an ELSTER flow was refused; every variant leaves everything stored as it was.
#[derive(Debug, thiserror::Error)]
pub enum ElsterError {
    /// The answer lacks something we need.
    #[error("the ELSTER answer lacks {0}")]
    Missing(&'static str),
    /// Citizens' accounts cannot use ELSTER (R-ELS-4).
    #[error("a citizen's account cannot use ELSTER")]
    Citizen,
    /// The organisation has no ELSTER link yet: the first one is an administrator's (R-ELS-1).
    #[error("the first ELSTER link must be made by an administrator")]
    FirstLinkByAdmin,
    /// The certificate belongs to another ELSTER organisation than the linked one (R-ELS-1).
    #[error("the certificate belongs to another organisation")]
    OtherOrganisation,
    /// The certificate is linked to another user (R-ELS-3).
    #[error("the certificate is linked to another user")]
    LinkedElsewhere,
    /// No user is linked to this certificate.
    #[error("no account is linked to this certificate")]
    NotLinked,
    /// The linked account is blocked (R-SES-6).
    #[error("the account is blocked")]
    Blocked,
    /// A registration for an organisation that is registered already, or with a certificate
    /// that is linked already.
    #[error("the organisation is registered already")]
    AlreadyRegistered,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UpstreamRefusal> for ElsterError {
    fn from(r: UpstreamRefusal) -> Self {
        match r {
            UpstreamRefusal::NotLinked => ElsterError::NotLinked,
            UpstreamRefusal::Blocked => ElsterError::Blocked,
        }
    }
}

/// The organisation's master data ELSTER released from the tax records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedOrg {
    /// Company or agency name.
    pub name: String,
    /// Register type and number, e.g. `HRB 12345`, where there is an entry.
    pub trade_register: Option<String>,
    /// Postal address.
    pub address: OrgAddress,
}

/// What an ELSTER login with an organisation certificate says.
#[derive(Debug, Clone)]
pub struct ElsterData {
    /// The certificate's account, as ELSTER names it to us (`sub`).
    pub account: String,
    /// The ELSTER organisation id.
    pub elster_org_id: String,
    /// The acting person's given name.
    pub given_name: Option<String>,
    /// Their family name.
    pub family_name: Option<String>,
    /// Their date of birth, `YYYY-MM-DD`.
    pub birthdate: Option<String>,
    /// The organisation's data, when the user released them.
    pub org: Option<ReleasedOrg>,
}

impl ElsterData {
    /// Reads the claims of a verified ELSTER ID token.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<ElsterData, ElsterError> {
        let org = text(claims, "org_name").and_then(|name| {
            let a = claims.get("address")?.as_object()?;
            let (street, house_number) = split_street(a.get("street_address")?.as_str()?);
            let trade_register = match (text(claims, "register_type"), text(claims, "register_number")) {
                (Some(t), Some(n)) => Some(format!("{t} {n}")),
                (None, Some(n)) => Some(n),
                _ => None,
            };
            Some(ReleasedOrg {
                name,
                trade_register,
                address: OrgAddress {
                    street,
                    // R-ORG-2: `0` where there is none.
                    house_number: if house_number.is_empty() { "0".into() } else { house_number },
                    postal_code: a.get("postal_code")?.as_str()?.to_string(),
                    city: a.get("locality")?.as_str()?.to_string(),
                },
            })
        });
        Ok(ElsterData {
            account: text(claims, "sub").ok_or(ElsterError::Missing("sub"))?,
            elster_org_id: text(claims, "elster_org_id").ok_or(ElsterError::Missing("elster_org_id"))?,
            given_name: text(claims, "given_name"),
            family_name: text(claims, "family_name"),
            birthdate: text(claims, "birthdate"),
            org,
        })
    }

    /// The stored form of the certificate: keyed, so the database alone does not reveal it.
    pub fn certificate_hash(&self, key: &[u8]) -> String {
        hmac_b64(key, format!("elster-certificate|{}", self.account).as_bytes())
    }
}

/// What a link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The organisation's first link: its data now come from ELSTER and are locked.
    First,
    /// A certificate of the already linked organisation.
    Added,
}

/// Whether `account` may use ELSTER at all: organisation users only (R-ELS-4).
pub fn may_use(account: &Account) -> Result<(), ElsterError> {
    match account.kind {
        AccountKind::Organisation => Ok(()),
        AccountKind::Citizen => Err(ElsterError::Citizen),
    }
}

/// Links the certificate ELSTER just vouched for to `account`, replacing the one it had
/// (R-ELS-1…3).
pub async fn link(
    store: &Store,
    key: &[u8],
    account: &Account,
    data: &ElsterData,
    addr: &str,
    now: Timestamp,
) -> Result<Linked, ElsterError> {
    let event = || Event::new("elster.link", now).by_account(&account.id).from(addr);
    may_use(account)?;
    let membership = store.membership(&account.id).await?.ok_or(ElsterError::Citizen)?;
    let hash = data.certificate_hash(key);
    if store.account_by_certificate(&hash).await?.is_some_and(|other| other != account.id) {
        event().outcome("linked_elsewhere").note(store).await;
        return Err(ElsterError::LinkedElsewhere);
    }
    let org = store.organisation(&membership.org_id).await?.ok_or(ElsterError::Citizen)?;
    let (first, linked) = match &org.elster_id {
        Some(id) if *id == data.elster_org_id => (None, Linked::Added),
        Some(_) => {
            event().outcome("other_organisation").note(store).await;
            return Err(ElsterError::OtherOrganisation);
        }
        None if membership.role != OrgRole::Admin => return Err(ElsterError::FirstLinkByAdmin),
        None => {
            // R-ELS-2: the data come from ELSTER, so the first link needs them released.
            let released = data.org.clone().ok_or(ElsterError::Missing("the organisation's data"))?;
            let updated = Organisation {
                name: released.name,
                trade_register: released.trade_register,
                address: Some(released.address),
                ..org
            };
            (Some(updated), Linked::First)
        }
    };
    match store
        .link_elster(&account.id, (&hash, &data.elster_org_id), first.as_ref(), now)
        .await
    {
        Ok(()) => {}
        // The same certificate, or a first link, won by another request meanwhile.
        Err(StoreError::Conflict(_)) => return Err(ElsterError::LinkedElsewhere),
        Err(e) => return Err(e.into()),
    }
    let outcome = if linked == Linked::First { "first" } else { "success" };
    event().outcome(outcome).details(data.elster_org_id.clone()).note(store).await;
    Ok(linked)
}

/// Deletes `account`'s certificate link (R-ELS-3): ELSTER login is gone for it; the
/// organisation's data stay locked (R-ELS-2).
pub async fn unlink(store: &Store, account: &Account, addr: &str, now: Timestamp) -> Result<(), ElsterError> {
    if store.delete_elster_link(&account.id).await? {
        Event::new("elster.unlink", now)
            .by_account(&account.id)
            .from(addr)
            .note(store)
            .await;
    }
    Ok(())
}

/// Logs in with a certificate (R-ELS-4): the account linked to it, not blocked, at the level
/// ELSTER reaches — never more than the upstream's `upstream_level` says (R-ACR-1). Audited
/// either way.
pub async fn login(
    store: &Store,
    key: &[u8],
    (data, upstream_level): (&ElsterData, TrustLevel),
    addr: &str,
    now: Timestamp,
) -> Result<(Account, TrustLevel), ElsterError> {
    let account = match store.account_by_certificate(&data.certificate_hash(key)).await? {
        Some(id) => store.account(&id).await?,
        None => None,
    };
    let organisations = account.filter(|a| a.kind == AccountKind::Organisation);
    let account = accounts::upstream_login_account(store, "login.elster", organisations, addr, now).await?;
    Ok((account, upstream_level.min(Method::Elster.ceiling())))
}

/// What ELSTER gave a registration of an organisation (R-ELS-4): its data, locked on the
/// form, and the certificate that becomes its administrator's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElsterOrigin {
    /// The ELSTER organisation id.
    pub elster_org_id: String,
    /// The administrator's certificate, hashed.
    pub certificate_hash: String,
    /// The organisation's data.
    pub org: ReleasedOrg,
    /// The acting person's given name, to pre-fill.
    pub given_name: Option<String>,
    /// Their family name.
    pub family_name: Option<String>,
    /// Their date of birth, `YYYY-MM-DD`.
    pub birthdate: Option<String>,
}

/// The ELSTER data for registering an organisation: refused when ELSTER released no
/// organisation data, when the organisation is registered already, or when the certificate is
/// linked to someone.
pub async fn identity_for_registration(store: &Store, key: &[u8], data: ElsterData) -> Result<ElsterOrigin, ElsterError> {
    let org = data.org.clone().ok_or(ElsterError::Missing("the organisation's data"))?;
    let hash = data.certificate_hash(key);
    if store.organisation_by_elster_id(&data.elster_org_id).await?.is_some() || store.account_by_certificate(&hash).await?.is_some() {
        return Err(ElsterError::AlreadyRegistered);
    }
    Ok(ElsterOrigin {
        elster_org_id: data.elster_org_id,
        certificate_hash: hash,
        org,
        given_name: data.given_name,
        family_name: data.family_name,
        birthdate: data.birthdate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r_els_2_the_released_data_become_the_organisations_name_register_number_and_address() {
        let claims = json!({
            "sub": "abc", "elster_org_id": "EL-1", "org_name": "Musterbau GmbH", "register_type": "HRB",
            "register_number": "12345",
            "address": { "street_address": "Industriestraße 12", "postal_code": "50667", "locality": "Köln" },
        });
        let d = ElsterData::from_claims(claims.as_object().unwrap()).unwrap();
        let org = d.org.unwrap();
        assert_eq!(org.trade_register.as_deref(), Some("HRB 12345"));
        assert_eq!(
            (org.address.street.as_str(), org.address.house_number.as_str()),
            ("Industriestraße", "12")
        );
        let bare = json!({ "sub": "abc", "elster_org_id": "EL-1" });
        assert!(ElsterData::from_claims(bare.as_object().unwrap()).unwrap().org.is_none());
        let no_org_id = json!({ "sub": "abc" });
        assert!(matches!(
            ElsterData::from_claims(no_org_id.as_object().unwrap()),
            Err(ElsterError::Missing("elster_org_id"))
        ));
    }
}
