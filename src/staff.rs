//! Staff of the Servicekonto: Kundenzentrum clerks who confirm identities in person
//! (R-EID-2). Staff accounts are separate from citizens' accounts — another table, another
//! session cookie — so neither can reach the other's pages; every staff action is audited
//! (who, when, which account, outcome).

pub mod totp;

use crate::accounts::eid::Verification;
use crate::accounts::password::{self, Hasher};
use crate::accounts::throttle::{Denied, Throttle};
use crate::accounts::{Account, AccountError, Address, Field, check_address, check_date, check_name};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::ids::{AccountId, StaffId};
use crate::secret::{KeyRing, Secret};
use crate::store::{Store, StoreError};
use crate::trust::TrustLevel;
use totp::Enrollment;

pub use crate::model::staff::{Role, Staff, UpgradeRequest};

/// The clerk's decision.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The document matched: the account becomes Plus.
    Confirm {
        /// Document type seen (`ID`, `PP`, `AR`).
        document_type: String,
        /// Last characters of the document number, for the record.
        last_digits: String,
        /// [`shown_digest`] of the data the clerk was shown.
        digest: String,
    },
    /// It did not.
    Reject,
}

/// Creates a staff member with a second factor (R-SEC-4); the password follows R-REG-2. The
/// enrolment (seed URI and QR code) is returned to be shown once: only the sealed seed is kept.
pub async fn create(
    (store, hasher, totp_key): (&Store, &Hasher, &KeyRing),
    username: &str,
    password: Secret<String>,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<(Staff, Enrollment), AccountError> {
    let username = check_name(Field::Username, &username.to_lowercase())?;
    let name = check_name(Field::Name, name)?;
    password::check_policy(password.expose())?;
    let password_hash = hasher.hash(password).await?;
    let id = StaffId::random();
    let enrollment = totp::enroll(&username).ok_or(AccountError::Invalid(Field::Username))?;
    let staff = Staff {
        totp_secret: Some(totp_key.seal(id.as_str().as_bytes(), enrollment.seed.expose())),
        id,
        username,
        password_hash,
        name,
        role,
        created_at: now,
    };
    store.insert_staff(&staff).await?;
    Ok((staff, enrollment))
}

/// Enrols a new second factor for `username` (a lost or replaced phone): the old seed's codes
/// stop working at once.
pub async fn reset_totp((store, totp_key): (&Store, &KeyRing), username: &str) -> Result<Enrollment, AccountError> {
    let username = username.trim().to_lowercase();
    let staff = store.staff_by_username(&username).await?.ok_or(AccountError::UnknownStaff)?;
    let enrollment = totp::enroll(&username).ok_or(AccountError::Invalid(Field::Username))?;
    store
        .set_staff_totp(&username, &totp_key.seal(staff.id.as_str().as_bytes(), enrollment.seed.expose()))
        .await?;
    Ok(enrollment)
}

/// Checks a staff login from `addr`: the password, throttled like a citizen's (R-SEC-1; the same
/// cost whether or not the name exists), then the TOTP code of the enrolled seed (R-SEC-4),
/// throttled the same way under a key of its own and accepted once. Failures and the success
/// are audited.
pub async fn authenticate(
    (store, throttle, hasher, totp_key): (&Store, &Throttle, &Hasher, &KeyRing),
    username: &str,
    (password, code): (Secret<String>, Secret<String>),
    addr: &str,
    now: Timestamp,
) -> Result<Staff, AccountError> {
    let username = username.trim().to_lowercase();
    let staff = store.staff_by_username(&username).await?;
    let stored = staff.as_ref().map(|s| s.password_hash.clone());
    // The actor of a failed staff login is the name tried: a clerk's name is no secret, and an
    // attack on staff accounts is what this log is for.
    let event = || Event::new("staff.login", now).by_staff(&username).from(addr);
    if let Err(denied) = throttle
        .check_password(hasher, &format!("staff:{username}"), addr, password, stored, now)
        .await
    {
        denied.audit(store, event(), "wrong_password").await;
        return Err(denied.into());
    }
    let staff = staff.ok_or(AccountError::Denied(Denied::WRONG))?;
    let Some(seed) = staff
        .totp_secret
        .as_deref()
        .and_then(|sealed| totp_key.open(staff.id.as_str().as_bytes(), sealed))
    else {
        event().outcome("no_second_factor").note(store).await;
        return Err(AccountError::NoSecondFactor);
    };
    let check = async {
        match totp::matching_step(&seed, code.expose(), now) {
            Some(step) => store
                .take_totp_step(&staff.id, step)
                .await
                .map_err(|e| Denied::Unavailable(e.to_string())),
            None => Ok(false),
        }
    };
    if let Err(denied) = throttle.check_code(&format!("totp:staff:{username}"), addr, now, check).await {
        denied.audit(store, event(), "wrong_code").await;
        return Err(denied.into());
    }
    event().record(store).await?;
    Ok(staff)
}

/// A citizen asks for the in-person check (R-EID-2), giving date of birth and address.
pub async fn request_upgrade(
    store: &Store,
    account: &Account,
    birthdate: &str,
    address: Address,
    now: Timestamp,
) -> Result<(), AccountError> {
    if account.level >= TrustLevel::Plus {
        return Err(AccountError::AlreadyPlus);
    }
    let request = UpgradeRequest {
        account_id: account.id.clone(),
        birthdate: check_date(birthdate, now)?,
        address: check_address(address)?,
        requested_at: now,
    };
    store.put_upgrade_request(&request).await?;
    Ok(())
}

/// The requests waiting for a clerk, oldest first, each with the account it is for.
pub async fn requests_to_check(store: &Store) -> Result<Vec<(UpgradeRequest, Account)>, StoreError> {
    let mut found = Vec::new();
    for request in store.upgrade_requests().await? {
        if let Some(account) = store.account(&request.account_id).await? {
            found.push((request, account));
        }
    }
    Ok(found)
}

/// A request waiting for a clerk, with the account it is for.
pub async fn request_to_check(store: &Store, account_id: &AccountId) -> Result<Option<(UpgradeRequest, Account)>, StoreError> {
    match store.upgrade_request(account_id).await? {
        Some(request) => Ok(store.account(account_id).await?.map(|account| (request, account))),
        None => Ok(None),
    }
}

/// A clerk opens a request: the citizen's data are shown only once the view is in the audit log
/// (opening a citizen's data is a staff action too).
pub async fn open_request(
    store: &Store,
    staff: &Staff,
    account_id: &AccountId,
    now: Timestamp,
) -> Result<Option<(UpgradeRequest, Account)>, StoreError> {
    let Some(found) = request_to_check(store, account_id).await? else {
        return Ok(None);
    };
    Event::new("staff.view_request", now)
        .by_staff(&staff.username)
        .account(Some(account_id))
        .record(store)
        .await?;
    Ok(Some(found))
}

/// A clerk logs out (audited; the session itself is the caller's cookie).
pub async fn log_out(store: &Store, staff: &Staff, now: Timestamp) {
    Event::new("staff.logout", now).by_staff(&staff.username).note(store).await;
}

/// A digest of what the clerk is shown for a request (names, title, date of birth, address,
/// when it was asked): the confirmation carries it, so it confirms exactly what was seen.
pub fn shown_digest(account: &Account, request: &UpgradeRequest) -> String {
    let a = &request.address;
    let shown = serde_json::json!([
        account.id,
        account.title,
        account.given_name,
        account.family_name,
        request.birthdate,
        a.street,
        a.house_number,
        a.postal_code,
        a.city,
        a.country,
        request.requested_at,
    ]);
    crate::secret::sha256_b64(shown.to_string().as_bytes())
}

/// The clerk's decision on a request: confirmed, the account becomes Plus with the checked
/// date of birth and address and a verification by `kundenzentrum`; either way the request is
/// closed and the action audited. A confirmation whose digest is not that of the data now
/// stored decides nothing ([`AccountError::Stale`]).
pub async fn decide(
    store: &Store,
    staff: &Staff,
    account_id: &AccountId,
    decision: Decision,
    now: Timestamp,
) -> Result<Account, AccountError> {
    let request = store.upgrade_request(account_id).await?.ok_or(AccountError::LinkInvalid)?;
    let account = store.account(account_id).await?.ok_or(AccountError::LinkInvalid)?;
    match decision {
        Decision::Confirm {
            document_type,
            last_digits,
            digest,
        } => {
            if !crate::secret::constant_time_eq(digest.as_bytes(), shown_digest(&account, &request).as_bytes()) {
                return Err(AccountError::Stale);
            }
            let digits_ok = (2..=6).contains(&last_digits.len()) && last_digits.chars().all(|c| c.is_ascii_alphanumeric());
            if !matches!(document_type.as_str(), "ID" | "PP" | "AR") || !digits_ok {
                return Err(AccountError::InvalidDocument);
            }
            let updated = Account {
                level: TrustLevel::Plus,
                birthdate: Some(request.birthdate.clone()),
                address: Some(request.address.clone()),
                updated_at: now,
                ..account
            };
            let verification = Verification {
                method: "kundenzentrum".into(),
                verified_at: now,
                birth_name: None,
                place_of_birth: None,
                nationality: None,
                document_type: Some(document_type.clone()),
            };
            store.save_verified_identity(&updated, &verification, None).await?;
            store.delete_upgrade_request(account_id).await?;
            Event::new("staff.decide", now)
                .by_staff(&staff.username)
                .account(Some(account_id))
                .outcome("confirmed")
                .details(format!("document {document_type} …{last_digits}"))
                .record(store)
                .await?;
            Ok(updated)
        }
        Decision::Reject => {
            store.delete_upgrade_request(account_id).await?;
            Event::new("staff.decide", now)
                .by_staff(&staff.username)
                .account(Some(account_id))
                .outcome("rejected")
                .record(store)
                .await?;
            Ok(account)
        }
    }
}
