//! What a logged-in citizen changes themselves: profile fields (R-PRO-1, with the locked
//! fields of Plus accounts enforced here, not only in the page), electronic delivery
//! (R-PRO-4), password, email address (R-PRO-2), consents (R-SVC-3) and deletion (R-PRO-3).

use serde::Deserialize;
use serde_json::json;

use super::links::{self, EMAIL_CHANGE_SECONDS, LinkPurpose};
use super::recovery::{SessionsEnded, end_everything, end_sessions, password_changed_mail};
use super::throttle::Denied;
use super::{Account, AccountError, Address, Env, Field, check_address, check_date, check_name, normalize_email, password};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId};
use crate::mail::MailKind;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::sessions::Session;
use crate::store::{Store, StoreError};
use crate::trust::TrustLevel;

/// The profile form. Empty optional fields clear them; an address is all or nothing.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileForm {
    /// Academic title.
    #[serde(default)]
    pub title: String,
    /// Given name(s).
    #[serde(default)]
    pub given_name: String,
    /// Family name.
    #[serde(default)]
    pub family_name: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birthdate: String,
    /// Street.
    #[serde(default)]
    pub street: String,
    /// House number.
    #[serde(default)]
    pub house_number: String,
    /// Postal code.
    #[serde(default)]
    pub postal_code: String,
    /// Town.
    #[serde(default)]
    pub city: String,
    /// Country code.
    #[serde(default)]
    pub country: String,
    /// Phone number.
    #[serde(default)]
    pub phone_number: String,
    /// Consent to electronic delivery, when the box is ticked.
    #[serde(default)]
    pub delivery_consent: Option<String>,
}

fn optional(field: Field, v: &str) -> Result<Option<String>, AccountError> {
    if v.trim().is_empty() {
        Ok(None)
    } else {
        check_name(field, v).map(Some)
    }
}

/// Applies a profile edit. For Plus accounts the locked fields (title, names, date of birth,
/// address) must arrive unchanged — a forged POST that changes them is refused as a whole.
pub async fn update(store: &Store, account: &Account, form: ProfileForm, now: Timestamp) -> Result<Account, AccountError> {
    // The clerk decides on what they were shown: while a request is open, nothing changes.
    if store.upgrade_request(&account.id).await?.is_some() {
        return Err(AccountError::RequestOpen);
    }
    let title = optional(Field::Title, &form.title)?;
    let given_name = check_name(Field::GivenName, &form.given_name)?;
    let family_name = check_name(Field::FamilyName, &form.family_name)?;
    let birthdate = if form.birthdate.trim().is_empty() {
        None
    } else {
        Some(check_date(&form.birthdate, now)?)
    };
    let address_parts = [&form.street, &form.house_number, &form.postal_code, &form.city, &form.country];
    let address = if address_parts.iter().all(|p| p.trim().is_empty()) {
        None
    } else {
        Some(check_address(Address {
            street: form.street.clone(),
            house_number: form.house_number.clone(),
            postal_code: form.postal_code.clone(),
            city: form.city.clone(),
            country: form.country.trim().to_uppercase(),
        })?)
    };
    let phone_number = optional(Field::PhoneNumber, &form.phone_number)?
        .map(|p| super::check_phone(&p))
        .transpose()?;
    if account.level >= TrustLevel::Plus {
        for (field, same) in [
            (Field::Title, title == account.title),
            (Field::GivenName, given_name == account.given_name),
            (Field::FamilyName, family_name == account.family_name),
            (Field::Birthdate, birthdate == account.birthdate),
            (Field::Address, address == account.address),
        ] {
            if !same {
                return Err(AccountError::Locked(field));
            }
        }
    }
    let delivery_consent_at = match (form.delivery_consent.is_some(), account.delivery_consent_at) {
        (true, Some(t)) => Some(t),
        (true, None) => Some(now),
        (false, _) => None,
    };
    let updated = Account {
        title,
        given_name,
        family_name,
        birthdate,
        address,
        phone_number,
        delivery_consent_at,
        updated_at: now,
        ..account.clone()
    };
    store.update_profile(&updated).await?;
    Ok(updated)
}

/// Changes the password: the current one is required (checked and throttled like a login,
/// R-SEC-3), the new one follows R-REG-2; every other session and every refresh token end
/// (R-SEC-3), the session that made the change goes on, and a mail with a block link tells the
/// owner.
pub async fn change_password(
    env: Env<'_>,
    (account, signed_in): (&Account, (&str, &Session)),
    (current, new): (Secret<String>, Secret<String>),
    addr: &str,
    locale: Locale,
    now: Timestamp,
) -> Result<SessionsEnded, AccountError> {
    password::check_policy(new.expose())?;
    confirm_password(env, "password.change", account, current, addr, now).await?;
    let hash = env.hasher.hash(new).await?;
    env.store.set_password(&account.id, &hash, now).await?;
    let ended = end_sessions(env, &account.id, Some(signed_in), now).await?;
    Event::new("password.change", now)
        .by_account(&account.id)
        .from(addr)
        .note(env.store)
        .await;
    password_changed_mail(env, account, locale, now).await?;
    Ok(ended)
}

/// Checks the signed-in user's own password before a sensitive step (`action`), throttled like
/// a login; a refusal is audited under the step's name.
async fn confirm_password(
    env: Env<'_>,
    action: &str,
    account: &Account,
    password: Secret<String>,
    addr: &str,
    now: Timestamp,
) -> Result<(), AccountError> {
    let stored = Some(account.password_hash.clone());
    if let Err(denied) = env
        .throttle
        .check_password(env.hasher, &account.email, addr, password, stored, now)
        .await
    {
        let event = Event::new(action, now).by_account(&account.id).from(addr);
        denied.audit(env.store, event, "wrong_password").await;
        return Err(denied.into());
    }
    Ok(())
}

/// Starts an email change (R-PRO-2): a confirmation link to the new address, a notice with a
/// block link to the old one. An address that already has an account gets the "already
/// registered" mail instead, so the form reveals no other account.
pub async fn request_email_change(
    env: Env<'_>,
    account: &Account,
    new_email: &str,
    locale: Locale,
    now: Timestamp,
) -> Result<(), AccountError> {
    let Env {
        store,
        mailer,
        urls,
        throttle,
        ..
    } = env;
    let new_email = normalize_email(new_email)?;
    if new_email == account.email {
        return Err(AccountError::SameEmail);
    }
    if !throttle.allow_mail(&new_email, now).await? {
        tracing::warn!("email-change mail limit reached for an address; nothing sent");
        return Ok(());
    }
    if let Some(other) = store.account_by_email(&new_email).await? {
        let ctx = json!({
            "given_name": other.given_name,
            "login_url": urls.page(paths::LOGIN),
            "forgot_url": urls.page(paths::FORGOT),
        });
        mailer.send(MailKind::AlreadyRegistered, &other.email, locale, &ctx, now).await?;
    } else {
        store.delete_links(&account.id, LinkPurpose::EmailChange).await?;
        let token = links::issue(
            store,
            &account.id,
            LinkPurpose::EmailChange,
            Some(new_email.clone()),
            EMAIL_CHANGE_SECONDS,
            now,
        )
        .await?;
        let ctx = json!({
            "given_name": account.given_name,
            "link": urls.with_token(paths::EMAIL_CONFIRM, &token),
            "hours": EMAIL_CHANGE_SECONDS / 3600,
        });
        mailer.send(MailKind::EmailChangeConfirm, &new_email, locale, &ctx, now).await?;
    }
    let ctx = json!({
        "given_name": account.given_name,
        "new_email": new_email,
        "block_link": urls.block_link(store, &account.id, now).await?,
    });
    mailer.send(MailKind::EmailChangeNotice, &account.email, locale, &ctx, now).await?;
    Ok(())
}

/// Completes an email change (R-PRO-2): the user proves the link came to them and logs in once
/// more with the **old** email and password (throttled like the login); from then on the new
/// address is the login name, and every session and refresh token of the account has ended.
pub async fn confirm_email_change(
    env: Env<'_>,
    token: &str,
    (old_email, password): (&str, Secret<String>),
    addr: &str,
    now: Timestamp,
) -> Result<(Account, SessionsEnded), AccountError> {
    let store = env.store;
    if !links::plausible(token) {
        return Err(AccountError::LinkInvalid);
    }
    let hash = links::token_hash(token);
    let link = store
        .link(&hash, LinkPurpose::EmailChange, now)
        .await?
        .ok_or(AccountError::LinkInvalid)?;
    let refused = || Event::new("email.change", now).account(Some(&link.account_id)).from(addr);
    let account = match super::check_password(env, old_email, password, addr, now).await {
        Ok(Some(account)) if account.id == link.account_id => account,
        Ok(_) => {
            refused().outcome("wrong_password").note(store).await;
            return Err(AccountError::Denied(Denied::WRONG));
        }
        Err(denied) => {
            denied.audit(store, refused(), "wrong_password").await;
            return Err(denied.into());
        }
    };
    if account.blocked_at.is_some() {
        return Err(AccountError::Blocked);
    }
    let link = store
        .take_link(&hash, LinkPurpose::EmailChange, now)
        .await?
        .ok_or(AccountError::LinkInvalid)?;
    let new_email = link.payload.ok_or(AccountError::LinkInvalid)?;
    store.set_email(&account.id, &new_email, now).await?;
    // R-SEC-3: a new login name, so every session and refresh token ends; the next login uses it.
    let ended = end_everything(env, &account.id, now).await?;
    Event::new("email.change", now).by_account(&account.id).from(addr).note(store).await;
    let account = Account {
        email: new_email,
        ..account
    };
    Ok((account, ended))
}

/// Withdraws consent for one service (R-SVC-3): its refresh tokens stop working at once.
pub async fn withdraw_consent(store: &Store, account_id: &AccountId, client_id: &ClientId, now: Timestamp) -> Result<bool, AccountError> {
    let had = store.delete_consent(account_id, client_id).await?;
    store.revoke_account_grants(account_id, Some(client_id), now).await?;
    Ok(had)
}

/// Deletes the account at once with everything it holds (R-PRO-3), after the password
/// confirms it (throttled like a login); the email is free for a new registration immediately.
pub async fn delete(
    env: Env<'_>,
    account: &Account,
    password: Secret<String>,
    addr: &str,
    locale: Locale,
    now: Timestamp,
) -> Result<SessionsEnded, AccountError> {
    // R-ORG-5: an administrator leaves only while another one stays.
    if env.store.is_last_admin(&account.id).await? {
        return Err(AccountError::LastAdmin);
    }
    confirm_password(env, "account.delete", account, password, addr, now).await?;
    let ended = end_everything(env, &account.id, now).await?;
    match env.store.delete_account(&account.id).await {
        // Another administrator left at the same moment.
        Err(StoreError::Conflict(_)) => return Err(AccountError::LastAdmin),
        other => other?,
    };
    Event::new("account.delete", now)
        .by_account(&account.id)
        .from(addr)
        .note(env.store)
        .await;
    let ctx = json!({ "given_name": account.given_name });
    env.mailer.send(MailKind::AccountDeleted, &account.email, locale, &ctx, now).await?;
    Ok(ended)
}
