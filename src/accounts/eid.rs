//! Servicekonto Plus through the eID (R-EID-1, R-EID-3, R-EID-4): the data the eID service
//! returns, the upgrade that takes them over, the pseudonym link that enables eID login, and
//! the sync that refreshes the locked fields — re-linking a new card's pseudonym only when the
//! identity matches.

use serde_json::{Map, Value, json};

use super::recovery::SessionsEnded;
use super::{Account, AccountError, Address, Env};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::mail::MailKind;
use crate::model::account::EidIdentity;
use crate::protocol::authorize::Locale;
use crate::secret::hmac_b64;
use crate::sessions::Holder;
use crate::store::{Store, StoreError};
use crate::trust::{Method, TrustLevel};

pub use crate::model::account::{EidData, EidLink, Verification};

/// Why an eID flow failed.
#[derive(Debug, thiserror::Error)]
pub enum EidError {
    /// The answer lacks a data group we need.
    #[error("the eID answer lacks {0}")]
    Missing(&'static str),
    /// No account is linked to this pseudonym, or eID login is off.
    #[error("no account with eID login for this card")]
    NotLinked,
    /// The pseudonym is linked to another account.
    #[error("this card is linked to another account")]
    LinkedElsewhere,
    /// A new card whose identity does not match the profile (R-EID-4).
    #[error("the card's identity does not match the account")]
    Mismatch,
    /// The pseudonym was not transferred but is needed.
    #[error("the pseudonym was not transferred")]
    NoPseudonym,
    /// An upgrade was asked for an account that is Plus already: a new card reaches it only
    /// through the sync and its identity check (R-EID-4).
    #[error("the account is Servicekonto Plus already")]
    AlreadyPlus,
    /// The account behind the card is blocked (R-SES-6): no login until a password reset.
    #[error("the account is blocked")]
    Blocked,
    /// A registration with a card that already has an account (R-REG-5).
    #[error("this card already has an account")]
    AlreadyRegistered,
    /// Storage failed.
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl From<crate::ephemeral::EphemeralError> for EidError {
    fn from(e: crate::ephemeral::EphemeralError) -> Self {
        EidError::Account(e.into())
    }
}

impl From<super::UpstreamRefusal> for EidError {
    fn from(r: super::UpstreamRefusal) -> Self {
        match r {
            super::UpstreamRefusal::NotLinked => EidError::NotLinked,
            super::UpstreamRefusal::Blocked => EidError::Blocked,
        }
    }
}

impl From<crate::store::StoreError> for EidError {
    fn from(e: crate::store::StoreError) -> Self {
        EidError::Account(AccountError::Store(e))
    }
}

/// A claim's text, trimmed; `None` when missing or empty. Generous but bounded: upstream values
/// end up in pages and rows.
pub(crate) fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect())
}

/// Splits "Heidestraße 17" into street and house number (the card has them in one field).
pub(crate) fn split_street(s: &str) -> (String, String) {
    match s.rsplit_once(' ') {
        Some((street, number)) if number.chars().next().is_some_and(|c| c.is_ascii_digit()) => (street.to_string(), number.to_string()),
        _ => (s.to_string(), String::new()),
    }
}

impl EidData {
    /// Reads the eID claims of a verified ID token or userinfo answer.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<EidData, EidError> {
        let address = claims.get("address").and_then(Value::as_object).and_then(|a| {
            let (street, house_number) = split_street(a.get("street_address")?.as_str()?);
            Some(Address {
                street,
                house_number,
                postal_code: a.get("postal_code")?.as_str()?.to_string(),
                city: a.get("locality")?.as_str()?.to_string(),
                country: a.get("country").and_then(Value::as_str).unwrap_or("DE").to_string(),
            })
        });
        Ok(EidData {
            pseudonym: text(claims, "restricted_id"),
            given_names: text(claims, "given_name").ok_or(EidError::Missing("given names"))?,
            family_names: text(claims, "family_name").ok_or(EidError::Missing("family names"))?,
            birth_name: text(claims, "birth_family_name"),
            date_of_birth: text(claims, "birthdate").ok_or(EidError::Missing("date of birth"))?,
            place_of_birth: claims
                .get("place_of_birth")
                .and_then(|p| p.get("locality"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            address,
            nationality: claims
                .get("nationalities")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_owned),
            document_type: text(claims, "document_type"),
            academic_title: text(claims, "academic_title"),
        })
    }

    /// The verification record an eID yields.
    pub fn verification(&self, now: Timestamp) -> Verification {
        Verification {
            method: "eid".into(),
            verified_at: now,
            birth_name: self.birth_name.clone(),
            place_of_birth: self.place_of_birth.clone(),
            nationality: self.nationality.clone(),
            document_type: self.document_type.clone(),
        }
    }

    /// The account with the locked fields taken from the card and the level Plus.
    pub fn apply(&self, account: &Account, now: Timestamp) -> Account {
        Account {
            level: account.level.max(TrustLevel::Plus),
            title: self.academic_title.clone(),
            given_name: self.given_names.clone(),
            family_name: self.family_names.clone(),
            birthdate: Some(self.date_of_birth.clone()),
            address: self.address.clone().or_else(|| account.address.clone()),
            updated_at: now,
            ..account.clone()
        }
    }
}

/// The stored form of a pseudonym: keyed, so the database alone does not reveal it.
pub fn pseudonym_hash(key: &[u8], pseudonym: &str) -> String {
    hmac_b64(key, format!("eid-pseudonym|{pseudonym}").as_bytes())
}

/// The stored hash of the card's pseudonym, if it was transferred.
pub fn link_for(key: &[u8], data: &EidData) -> Option<String> {
    data.pseudonym.as_deref().map(|p| pseudonym_hash(key, p))
}

/// Refuses a pseudonym that is already linked to another account.
pub async fn ensure_not_elsewhere(store: &Store, account_id: &AccountId, hash: Option<&str>) -> Result<(), EidError> {
    if let Some(h) = hash
        && let Some((other, _)) = store.account_by_pseudonym(h).await?
        && other != *account_id
    {
        return Err(EidError::LinkedElsewhere);
    }
    Ok(())
}

/// Whether `account` may start an upgrade (R-EID-1): only below Plus. A Plus account's
/// identity is verified already; taking over another card's data without the sync's identity
/// check would let anyone with the password link their own card and log in as that person.
pub fn may_upgrade(account: &Account) -> Result<(), EidError> {
    if account.level >= TrustLevel::Plus {
        return Err(EidError::AlreadyPlus);
    }
    Ok(())
}

/// R-EID-1: takes the card's data over and makes the account Plus; with the pseudonym, eID
/// login is on. The caller then ends the account's sessions (log out, log in again). Refused
/// for an account that is Plus already (checked again here: it may have become Plus since the
/// upgrade started).
pub async fn upgrade(store: &Store, key: &[u8], account: &Account, data: &EidData, now: Timestamp) -> Result<Account, EidError> {
    may_upgrade(account)?;
    let hash = link_for(key, data);
    ensure_not_elsewhere(store, &account.id, hash.as_deref()).await?;
    let updated = data.apply(account, now);
    store
        .save_verified_identity(&updated, &data.verification(now), hash.as_deref())
        .await?;
    Ok(updated)
}

/// Logs in with the card (R-EID-3): the account linked to its pseudonym, with eID login on and
/// not blocked, at the level the eID reaches — `eid` for a verified account, never more than
/// the upstream's `upstream_level` says (R-ACR-1). Audited either way.
pub async fn login(
    store: &Store,
    key: &[u8],
    (data, upstream_level): (&EidData, TrustLevel),
    addr: &str,
    now: Timestamp,
) -> Result<(Account, TrustLevel), EidError> {
    let hash = link_for(key, data).ok_or(EidError::NoPseudonym)?;
    let account = match store.account_by_pseudonym(&hash).await? {
        Some((id, true)) => store.account(&id).await?,
        _ => None,
    };
    let account = super::upstream_login_account(store, "login.eid", account, addr, now).await?;
    let level = if account.level >= TrustLevel::Plus {
        upstream_level.min(Method::Eid.ceiling())
    } else {
        TrustLevel::Basic
    };
    Ok((account, level))
}

/// The card's identity for a registration as Servicekonto Plus (R-REG-5), without the pseudonym
/// itself; refused when the card already has an account.
pub async fn identity_for_registration(store: &Store, key: &[u8], data: EidData) -> Result<EidIdentity, EidError> {
    let link = link_for(key, &data);
    if let Some(h) = &link
        && store.account_by_pseudonym(h).await?.is_some()
    {
        return Err(EidError::AlreadyRegistered);
    }
    Ok(EidIdentity {
        data: EidData { pseudonym: None, ..data },
        link,
    })
}

/// What an upgrade or a sync of the signed-in account did.
#[derive(Debug)]
pub enum Applied {
    /// The locked fields were refreshed from the card (a new card re-linked).
    Synced,
    /// The account became Servicekonto Plus; its sessions ended (R-EID-1: the user logs in
    /// again), and the services that relied on them are to be told (R-SES-5).
    Upgraded(SessionsEnded),
}

/// Upgrades the signed-in `account` with the card (`upgrade`), or syncs it (R-EID-1, R-EID-4).
/// A new pseudonym link is a sensitive change: its owner gets a mail with a block link
/// (R-SES-6).
pub async fn upgrade_or_sync(
    env: Env<'_>,
    key: &[u8],
    (account, data): (&Account, &EidData),
    upgrade_it: bool,
    locale: Locale,
    now: Timestamp,
) -> Result<Applied, EidError> {
    let relinked = if upgrade_it {
        upgrade(env.store, key, account, data, now).await?;
        data.pseudonym.is_some()
    } else {
        sync(env.store, key, account, data, now).await? == Synced::Relinked
    };
    if relinked {
        let block = env.urls.block_link(env.store, &account.id, now).await;
        let ctx = json!({ "given_name": account.given_name, "block_link": block.unwrap_or_default() });
        if let Err(e) = env.mailer.send(MailKind::EidLinked, &account.email, locale, &ctx, now).await {
            tracing::error!(error = %e, "could not queue the eID link notice");
        }
    }
    if !upgrade_it {
        return Ok(Applied::Synced);
    }
    let ended = SessionsEnded::read(env.store, &account.id, None, now).await?;
    env.sessions.end_all(&Holder::Account(account.id.clone()), now).await?;
    Ok(Applied::Upgraded(ended))
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Same card: the locked fields were refreshed.
    Refreshed,
    /// A new card of the same person: re-linked and refreshed.
    Relinked,
}

/// Switches eID login off at the owner's request (R-EID-3), audited; a new sync switches it on
/// again.
pub async fn disable_login(store: &Store, account_id: &AccountId, addr: &str, now: Timestamp) -> Result<(), StoreError> {
    store.disable_eid_login(account_id).await?;
    Event::new("eid.login_off", now).by_account(account_id).from(addr).note(store).await;
    Ok(())
}

/// R-EID-4: refreshes the locked fields from the card. A different pseudonym (a new card) is
/// re-linked only when given names, family name, birth name and date and place of birth all
/// match what is stored; otherwise nothing changes. Also switches eID login on again (R-EID-3).
pub async fn sync(store: &Store, key: &[u8], account: &Account, data: &EidData, now: Timestamp) -> Result<Synced, EidError> {
    if account.level < TrustLevel::Plus {
        // A basic account becomes Plus only through the upgrade, which logs the user out.
        return Err(EidError::NotLinked);
    }
    let hash = link_for(key, data).ok_or(EidError::NoPseudonym)?;
    ensure_not_elsewhere(store, &account.id, Some(&hash)).await?;
    let link = store.eid_link(&account.id).await?;
    let outcome = match &link {
        Some(l) if l.pseudonym_hash == hash => Synced::Refreshed,
        _ => {
            let v = store.verification(&account.id).await?;
            let same = data.given_names == account.given_name
                && data.family_names == account.family_name
                && Some(&data.date_of_birth) == account.birthdate.as_ref()
                // A Kundenzentrum check records no birth name or place of birth: what is not
                // recorded cannot differ.
                && v.as_ref().is_none_or(|v| {
                    (v.birth_name.is_none() || v.birth_name == data.birth_name)
                        && (v.place_of_birth.is_none() || v.place_of_birth == data.place_of_birth)
                });
            if !same {
                return Err(EidError::Mismatch);
            }
            Synced::Relinked
        }
    };
    let updated = data.apply(account, now);
    store.save_verified_identity(&updated, &data.verification(now), Some(&hash)).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streets_and_house_numbers_are_split() {
        assert_eq!(split_street("Heidestraße 17"), ("Heidestraße".into(), "17".into()));
        assert_eq!(split_street("Am Markt 3a"), ("Am Markt".into(), "3a".into()));
        assert_eq!(split_street("Hauptstraße"), ("Hauptstraße".into(), String::new()));
    }
}
