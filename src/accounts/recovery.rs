//! Getting back in, and locking others out: the forgotten-password link (R-SES-4) and the
//! block link every mail about a sensitive change carries (R-SES-6). A reset is the fresh
//! verification that lifts a block; both end every session and revoke every refresh token.

use serde_json::json;

use super::links::{self, LinkPurpose, RESET_SECONDS};
use super::throttle::{AddressAction, Throttle};
use super::{Account, AccountError, Env, normalize_email, password};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId, SessionId};
use crate::mail::MailKind;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::sessions::{Holder, Session};
use crate::store::{Store, StoreError};

/// Whether the client address `addr` may ask for another reset link this hour; the same check
/// for every address typed, made before the answer.
pub async fn admit_reset_request(throttle: &Throttle, addr: &str, now: Timestamp) -> Result<(), AccountError> {
    if throttle.allow_from(AddressAction::Reset, addr, now).await? {
        Ok(())
    } else {
        Err(AccountError::AddressLimit)
    }
}

/// Mails a reset link when `email` has an account; does nothing otherwise. The caller answers
/// the same either way (R-SES-4), before this runs.
pub async fn request_reset(env: Env<'_>, email: &str, locale: Locale, now: Timestamp) -> Result<(), AccountError> {
    let Env {
        store,
        mailer,
        urls,
        throttle,
        ..
    } = env;
    let Ok(email) = normalize_email(email) else { return Ok(()) };
    let Some(account) = store.account_by_email(&email).await? else {
        return Ok(());
    };
    if !throttle.allow_mail(&email, now).await? {
        tracing::warn!("reset mail limit reached for an account; nothing sent");
        return Ok(());
    }
    // Only the newest link works.
    store.delete_links(&account.id, LinkPurpose::Reset).await?;
    let token = links::issue(store, &account.id, LinkPurpose::Reset, None, RESET_SECONDS, now).await?;
    let ctx = json!({
        "given_name": account.given_name,
        "link": urls.with_token(paths::RESET, &token),
        "minutes": RESET_SECONDS / 60,
    });
    mailer.send(MailKind::PasswordReset, &account.email, locale, &ctx, now).await?;
    Ok(())
}

/// Whether a link of `purpose` is live (pages ask before they act).
pub async fn link_is_live(store: &Store, token: &str, purpose: LinkPurpose, now: Timestamp) -> Result<bool, AccountError> {
    if !links::plausible(token) {
        return Ok(false);
    }
    Ok(store.link(&links::token_hash(token), purpose, now).await?.is_some())
}

/// Sessions that ended, with the services that held grants from them (client id, `sid`): read
/// before the grants go, handed back to the caller, who tells the services (R-SES-5). The
/// account module does not send logout tokens itself.
#[must_use = "the services that held grants from these sessions must be told"]
#[derive(Debug, PartialEq, Eq)]
pub struct SessionsEnded {
    /// The account whose sessions ended.
    pub account_id: AccountId,
    /// Each service (client id) with the session (`sid`) its grant came from.
    pub targets: Vec<(ClientId, SessionId)>,
}

impl SessionsEnded {
    /// The services that hold a live grant from session `sid` of the account, or from any of its
    /// sessions.
    pub async fn read(store: &Store, account_id: &AccountId, sid: Option<&SessionId>, now: Timestamp) -> Result<SessionsEnded, StoreError> {
        Ok(SessionsEnded {
            account_id: account_id.clone(),
            targets: store.grant_sessions(account_id, sid, now).await?,
        })
    }
}

/// Everything that must happen when someone else may have had the account: no session and no
/// refresh token survives.
pub async fn end_everything(env: Env<'_>, account_id: &AccountId, now: Timestamp) -> Result<SessionsEnded, AccountError> {
    end_sessions(env, account_id, None, now).await
}

/// After a credential changed (R-SEC-3): every session but the one that made the change (`keep`:
/// its cookie and session) and every refresh token end; what the services must be told
/// (R-SES-5) is returned.
pub async fn end_sessions(
    env: Env<'_>,
    account_id: &AccountId,
    keep: Option<(&str, &Session)>,
    now: Timestamp,
) -> Result<SessionsEnded, AccountError> {
    // Before the grants go: they name the services to tell.
    let ended = SessionsEnded::read(env.store, account_id, None, now).await?;
    env.store.revoke_account_grants(account_id, None, now).await?;
    match keep {
        Some((cookie, session)) => env.sessions.end_others(cookie, session, now).await?,
        None => env.sessions.end_all(&Holder::Account(account_id.clone()), now).await?,
    }
    Ok(ended)
}

/// Sets a new password through a reset link (R-SES-4). The cheap checks come first (R-SEC-1):
/// the policy, the address's hourly limit and the link's validity, so neither a rejected
/// password nor a dead link costs a hash; the link is used only once the hash is made, so a
/// full hashing pool leaves it working.
pub async fn reset_password(
    env: Env<'_>,
    token: &str,
    new: Secret<String>,
    addr: &str,
    locale: Locale,
    now: Timestamp,
) -> Result<(Account, SessionsEnded), AccountError> {
    let store = env.store;
    password::check_policy(new.expose())?;
    if !link_is_live(store, token, LinkPurpose::Reset, now).await? {
        return Err(AccountError::LinkInvalid);
    }
    admit_reset_request(env.throttle, addr, now).await?;
    let hash = env.hasher.hash(new).await?;
    let link = store
        .take_link(&links::token_hash(token), LinkPurpose::Reset, now)
        .await?
        .ok_or(AccountError::LinkInvalid)?;
    let account = store.account(&link.account_id).await?.ok_or(AccountError::LinkInvalid)?;
    store.set_password(&account.id, &hash, now).await?;
    // The link came by mail: the address is the owner's (an invited organisation user's
    // activation, R-ORG-4).
    store.confirm_email(&account.id).await?;
    let ended = end_everything(env, &account.id, now).await?;
    Event::new("password.reset", now)
        .by_account(&account.id)
        .from(addr)
        .note(store)
        .await;
    password_changed_mail(env, &account, locale, now).await?;
    Ok((account, ended))
}

/// The notice after a password change, with a block link (R-SES-6).
pub async fn password_changed_mail(env: Env<'_>, account: &Account, locale: Locale, now: Timestamp) -> Result<(), AccountError> {
    let ctx = json!({
        "given_name": account.given_name,
        "block_link": env.urls.block_link(env.store, &account.id, now).await?,
    });
    env.mailer
        .send(MailKind::PasswordChanged, &account.email, locale, &ctx, now)
        .await?;
    Ok(())
}

/// Blocks the account behind a block link at once (R-SES-6): no login until a password reset.
pub async fn block(env: Env<'_>, token: &str, locale: Locale, now: Timestamp) -> Result<SessionsEnded, AccountError> {
    let Env { store, mailer, urls, .. } = env;
    if !links::plausible(token) {
        return Err(AccountError::LinkInvalid);
    }
    let link = store
        .take_link(&links::token_hash(token), LinkPurpose::Block, now)
        .await?
        .ok_or(AccountError::LinkInvalid)?;
    let account = store.account(&link.account_id).await?.ok_or(AccountError::LinkInvalid)?;
    store.block_account(&account.id, now).await?;
    let ended = end_everything(env, &account.id, now).await?;
    Event::new("account.block", now)
        .by_account(&account.id)
        .details("blocked by its owner's link")
        .note(store)
        .await;
    let ctx = json!({
        "given_name": account.given_name,
        "forgot_url": urls.page(paths::FORGOT),
    });
    mailer.send(MailKind::AccountBlocked, &account.email, locale, &ctx, now).await?;
    Ok(ended)
}
