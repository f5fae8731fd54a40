//! Registration of a basic account (R-REG-1 … R-REG-4): the form is checked field by field, the
//! summary and consent happen on the pages, and "Servicekonto anlegen" stores a pending
//! registration whose emailed link completes it within 24 hours. An address that already has
//! an account gets the same answer on the page, and its owner a mail instead, so the form
//! reveals nothing about who is registered.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::eid::{self};
use super::links::{self, ACTIVATION_SECONDS};
use super::password::Hasher;
use super::throttle::{AddressAction, Throttle};
use super::{Account, AccountError, Env, Field, check_name, normalize_email, password};
use crate::audit::Event;
use crate::clock::Timestamp;
use crate::mail::MailKind;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::{Secret, random_token};
use crate::store::{Store, StoreError};

pub use crate::model::account::{EidIdentity, PendingRegistration};
use crate::model::org::OrgRegistration;

/// What the registration form carries.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationForm {
    /// Given name(s).
    #[serde(default)]
    pub given_name: String,
    /// Family name.
    #[serde(default)]
    pub family_name: String,
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Password.
    #[serde(default)]
    pub password: Secret<String>,
    /// Password, again.
    #[serde(default)]
    pub password_repeat: Secret<String>,
}

/// A checked form, the password already hashed: what the summary shows and "Back" restores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Normalised email.
    pub email: String,
    /// argon2id hash; the password itself is never kept.
    pub password_hash: Secret<String>,
    /// The identity from the eID, for a registration as Servicekonto Plus.
    #[serde(default)]
    pub identity: Option<EidIdentity>,
}

/// One field's problem: the field name and the catalog key explaining it.
pub type FieldError = (&'static str, &'static str);

/// Checks the form (R-REG-1, R-REG-2) and reports every field's problem at once (the inner
/// error). `earlier` is the draft the user went back from: an empty password keeps its
/// password. With an identity from the eID (R-REG-5) the names are the card's, whatever the
/// form says. Only a form without problems costs a hash, and only within the address's hourly
/// limit (R-SEC-1); a full pool or that limit is the outer error.
///
/// `found` are the problems the caller's own checks found in fields of its own (an
/// organisation's registration asks more); with any of them nothing is hashed either.
pub async fn check(
    (throttle, hasher): (&Throttle, &Hasher),
    mut form: RegistrationForm,
    (earlier, identity): (Option<&Draft>, Option<EidIdentity>),
    found: Vec<FieldError>,
    addr: &str,
    now: Timestamp,
) -> Result<Result<Draft, Vec<FieldError>>, AccountError> {
    if let Some(id) = &identity {
        form.given_name = id.data.given_names.clone();
        form.family_name = id.data.family_names.clone();
    }
    let mut errors = found;
    let given_name = check_name(Field::GivenName, &form.given_name).map_err(|_| errors.push(Field::GivenName.error()));
    let family_name = check_name(Field::FamilyName, &form.family_name).map_err(|_| errors.push(Field::FamilyName.error()));
    let email = normalize_email(&form.email).map_err(|_| errors.push(Field::Email.error()));
    let keep = earlier.filter(|_| form.password.expose().is_empty() && form.password_repeat.expose().is_empty());
    if keep.is_none() {
        if let Err(v) = password::check_policy(form.password.expose()) {
            errors.push(("password", v.message_key()));
        } else if form.password.expose() != form.password_repeat.expose() {
            errors.push(("password_repeat", "field_password_mismatch"));
        }
    }
    let (Ok(given_name), Ok(family_name), Ok(email), true) = (given_name, family_name, email, errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let password_hash = match keep {
        Some(d) => d.password_hash.clone(),
        None => {
            if !throttle.allow_from(AddressAction::Register, addr, now).await? {
                return Err(AccountError::AddressLimit);
            }
            hasher.hash(form.password).await?
        }
    };
    Ok(Ok(Draft {
        given_name,
        family_name,
        email,
        password_hash,
        identity,
    }))
}

/// "Servicekonto anlegen": stores the pending registration and mails its link — or, when the
/// address already has an account, mails its owner. The caller shows the same page either way.
/// With `organisation`, the link opens that organisation with the registrant as its first
/// administrator (R-ORG-1…3).
pub async fn submit(
    env: Env<'_>,
    draft: Draft,
    organisation: Option<OrgRegistration>,
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
    if !throttle.allow_mail(&draft.email, now).await? {
        tracing::warn!("registration mail limit reached for an address; nothing sent");
        return Ok(());
    }
    if let Some(existing) = store.account_by_email(&draft.email).await? {
        let ctx = json!({
            "given_name": existing.given_name,
            "login_url": urls.page(paths::LOGIN),
            "forgot_url": urls.page(paths::FORGOT),
        });
        mailer.send(MailKind::AlreadyRegistered, &existing.email, locale, &ctx, now).await?;
        return Ok(());
    }
    let token = random_token(32);
    let pending = PendingRegistration {
        id: random_token(12),
        token_hash: links::token_hash(&token),
        email: draft.email,
        password_hash: draft.password_hash,
        given_name: draft.given_name,
        family_name: draft.family_name,
        locale: locale.tag().to_string(),
        identity: draft.identity,
        created_at: now,
        expires_at: now + ACTIVATION_SECONDS,
        organisation,
    };
    store.put_registration(&pending).await?;
    let path = match pending.organisation {
        Some(_) => paths::ORG_ACTIVATE,
        None => paths::ACTIVATE,
    };
    let ctx = json!({
        "given_name": pending.given_name,
        "link": urls.with_token(path, &token),
        "hours": ACTIVATION_SECONDS / 3600,
    });
    mailer.send(MailKind::Activation, &pending.email, locale, &ctx, now).await?;
    Ok(())
}

/// Opens the account behind an activation link (R-REG-4) for the person who knows the password
/// chosen at registration. The link proves the mailbox, the password the registrant: a second
/// registration of someone's address by somebody else ends in a link its owner cannot use with
/// their own password, so no account ever opens with a stranger's password. A wrong password
/// leaves the registration waiting. The link works once; an expired or used link, or an address
/// registered meanwhile, is refused. A registration with an eID identity opens a Servicekonto
/// Plus with the card's data and, with the pseudonym, eID login (R-REG-5).
pub async fn activate(
    (store, hasher): (&Store, &Hasher),
    token: &str,
    password: Secret<String>,
    now: Timestamp,
) -> Result<Account, AccountError> {
    let pending = take_verified((store, hasher), token, password, false, now).await?;
    let identity = pending.identity.clone();
    let account = Account::citizen(pending.email, pending.password_hash, pending.given_name, pending.family_name, now);
    let activated = || Event::new("account.activate", now).by_account(&account.id);
    let Some(identity) = identity else {
        store.insert_account(&account).await?;
        activated().note(store).await;
        return Ok(account);
    };
    if let Err(e) = eid::ensure_not_elsewhere(store, &account.id, identity.link.as_deref()).await {
        tracing::warn!(error = %e, "registration with a card linked meanwhile to another account");
        return Err(AccountError::EmailTaken);
    }
    let plus = identity.data.apply(&account, now);
    store.insert_account(&account).await?;
    store
        .save_verified_identity(&plus, &identity.data.verification(now), identity.link.as_deref())
        .await?;
    activated().details("servicekonto plus by eid").note(store).await;
    Ok(plus)
}

/// Whether an activation link is live for a registration of a citizen or (`organisation`) of
/// an organisation, each kind with its own page (which asks before it activates, so a mail
/// scanner that follows links does not use it up).
pub async fn is_pending(store: &Store, token: &str, organisation: bool, now: Timestamp) -> Result<bool, StoreError> {
    if !links::plausible(token) {
        return Ok(false);
    }
    let pending = store.registration_pending(&links::token_hash(token), now).await?;
    Ok(pending.is_some_and(|p| p.organisation.is_some() == organisation))
}

/// Takes the registration behind a live link of the given kind for the person who knows its
/// password (R-REG-4); a wrong password leaves it waiting, and the link works once.
pub async fn take_verified(
    (store, hasher): (&Store, &Hasher),
    token: &str,
    password: Secret<String>,
    organisation: bool,
    now: Timestamp,
) -> Result<PendingRegistration, AccountError> {
    if !links::plausible(token) {
        return Err(AccountError::LinkInvalid);
    }
    let waiting = store
        .registration_pending(&links::token_hash(token), now)
        .await?
        .filter(|p| p.organisation.is_some() == organisation)
        .ok_or(AccountError::LinkInvalid)?;
    if !hasher.verify(password, Some(waiting.password_hash)).await? {
        return Err(AccountError::Denied(super::throttle::Denied::WRONG));
    }
    store
        .take_registration(&links::token_hash(token), now)
        .await?
        .ok_or(AccountError::LinkInvalid)
}

/// Deletes expired registrations (R-REG-4: afterwards the email can register again).
pub async fn purge(store: &Store, now: Timestamp) -> Result<u64, StoreError> {
    Ok(store.purge_registrations(now).await? + store.purge_links(now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ThrottleConfig;
    use crate::ephemeral::Ephemeral;

    /// What a check needs: a throttle in memory and a one-worker pool without a queue.
    struct Fixture {
        throttle: Throttle,
        hasher: Hasher,
    }

    impl Fixture {
        async fn new() -> Fixture {
            Fixture {
                throttle: Throttle::new(Ephemeral::memory(), ThrottleConfig::default()),
                hasher: Hasher::new(1, 0),
            }
        }

        fn deps(&self) -> (&Throttle, &Hasher) {
            (&self.throttle, &self.hasher)
        }
    }

    fn form(password: &str, repeat: &str) -> RegistrationForm {
        RegistrationForm {
            given_name: "Erika".into(),
            family_name: "Mustermann".into(),
            email: "Erika@Example.de".into(),
            password: Secret::new(password.into()),
            password_repeat: Secret::new(repeat.into()),
        }
    }

    async fn checked(f: &Fixture, form: RegistrationForm, earlier: Option<&Draft>) -> Result<Draft, Vec<FieldError>> {
        check(f.deps(), form, (earlier, None), Vec::new(), "192.0.2.1", Timestamp(0))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn r_reg_1_only_name_email_and_password_are_needed() {
        let f = Fixture::new().await;
        let d = checked(&f, form("ABab1234", "ABab1234"), None).await.unwrap();
        assert_eq!(d.email, "erika@example.de");
        assert!(d.password_hash.expose().starts_with("$argon2id$"));
    }

    #[tokio::test]
    async fn r_reg_2_the_form_names_every_broken_rule() {
        let fx = Fixture::new().await;
        let mut f = form("abc", "abc");
        f.given_name = " ".into();
        f.email = "a<b@example.de".into();
        let errors = checked(&fx, f, None).await.unwrap_err();
        assert_eq!(
            errors,
            vec![
                ("given_name", "field_name_invalid"),
                ("email", "field_email_invalid"),
                ("password", "password_too_short")
            ]
        );
        let errors = checked(&fx, form("ABab1234", "ABab1235"), None).await.unwrap_err();
        assert_eq!(errors, vec![("password_repeat", "field_password_mismatch")]);
    }

    #[tokio::test]
    async fn r_reg_3_going_back_keeps_the_password_when_left_empty() {
        let f = Fixture::new().await;
        let d = checked(&f, form("ABab1234", "ABab1234"), None).await.unwrap();
        let again = checked(&f, form("", ""), Some(&d)).await.unwrap();
        assert_eq!(again.password_hash.expose(), d.password_hash.expose());
        assert!(checked(&f, form("", ""), None).await.is_err());
    }

    #[tokio::test]
    async fn r_sec_1_a_form_with_problems_costs_no_hash_and_a_full_pool_no_field_error() {
        let f = Fixture::new().await;
        let held = f.hasher.reserve().unwrap();
        // A broken form is answered with its field errors although the pool is full.
        assert!(checked(&f, form("abc", "abc"), None).await.is_err());
        let r = check(
            f.deps(),
            form("ABab1234", "ABab1234"),
            (None, None),
            Vec::new(),
            "192.0.2.1",
            Timestamp(0),
        )
        .await;
        assert!(matches!(r, Err(AccountError::Busy(_))), "{r:?}");
        drop(held);
        assert!(checked(&f, form("ABab1234", "ABab1234"), None).await.is_ok());
    }
}
