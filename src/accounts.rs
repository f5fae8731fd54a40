//! Accounts of citizens (and later organisation users): who they are, how trusted their
//! identity is, and how they prove it; and what a citizen does with their own account
//! (registration, recovery, profile, email change, deletion) in the submodules.

pub mod eid;
pub mod links;
pub mod password;
pub mod profile;
pub mod recovery;
pub mod registration;
pub mod throttle;

use crate::audit::Event;
use crate::clock::Timestamp;
use crate::ids::AccountId;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::store::{Store, StoreError};
use crate::trust::TrustLevel;

pub use crate::model::account::{Account, AccountKind, Address};

/// What the self-service flows use besides their inputs: storage, sessions to end, mail to
/// send, and the URLs links in mails point to. Telling services about ended sessions is not
/// here: the flows return [`recovery::SessionsEnded`] and the caller tells them.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// Durable storage.
    pub store: &'a Store,
    /// Login sessions.
    pub sessions: &'a crate::sessions::Sessions,
    /// Outgoing mail.
    pub mailer: &'a crate::mail::Mailer,
    /// Absolute URLs for links.
    pub urls: &'a links::Urls,
    /// Limits on failed logins and on mails per address.
    pub throttle: &'a throttle::Throttle,
    /// The bounded password-hashing pool (R-SEC-1).
    pub hasher: &'a password::Hasher,
}

/// What an operator or a registration supplies to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login email.
    pub email: String,
    /// Chosen password (checked against R-REG-2).
    pub password: Secret<String>,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Whether the identity is verified (Servicekonto Plus).
    pub plus: bool,
    /// Date of birth (required for Plus).
    pub birthdate: Option<String>,
    /// Address (required for Plus).
    pub address: Option<Address>,
}

/// Why a login through an upstream (eID, ELSTER) opens no account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamRefusal {
    /// No account is linked to what the upstream vouched for.
    NotLinked,
    /// The linked account is blocked (R-SES-6).
    Blocked,
}

/// The account an upstream login found, refused when there is none or it is blocked; audited
/// as `action` either way.
pub async fn upstream_login_account(
    store: &Store,
    action: &str,
    account: Option<Account>,
    addr: &str,
    now: Timestamp,
) -> Result<Account, UpstreamRefusal> {
    let event = || Event::new(action, now).from(addr);
    let Some(account) = account else {
        event().outcome("not_linked").note(store).await;
        return Err(UpstreamRefusal::NotLinked);
    };
    if account.blocked_at.is_some() {
        event().by_account(&account.id).outcome("blocked").note(store).await;
        return Err(UpstreamRefusal::Blocked);
    }
    event().by_account(&account.id).note(store).await;
    Ok(account)
}

/// Why an account could not be created or used.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The email is not a usable address (R-REG-1).
    #[error("invalid email address")]
    InvalidEmail,
    /// The password breaks R-REG-2.
    #[error("password rejected: {0}")]
    WeakPassword(#[from] password::PolicyViolation),
    /// A field is empty, too long or malformed.
    #[error("invalid {}", .0.name())]
    Invalid(Field),
    /// The new email address is the current one (R-PRO-2).
    #[error("the new email address is the current one")]
    SameEmail,
    /// A Servicekonto Plus needs a date of birth and an address.
    #[error("birthdate and address are required for Plus")]
    PlusNeedsBirthdateAndAddress,
    /// The account is a Servicekonto Plus already.
    #[error("the account is Plus already")]
    AlreadyPlus,
    /// The document the clerk saw is not one that confirms an identity, or its digits are
    /// malformed.
    #[error("invalid document")]
    InvalidDocument,
    /// No staff member has this username.
    #[error("no such staff member")]
    UnknownStaff,
    /// The email is already registered.
    #[error("email already registered")]
    EmailTaken,
    /// The account is blocked (R-SES-6).
    #[error("account blocked")]
    Blocked,
    /// A locked field of a Plus account was to be changed (R-PRO-1).
    #[error("{} is locked for Servicekonto Plus", .0.name())]
    Locked(Field),
    /// The link is unknown, used or expired.
    #[error("link unknown, used or expired")]
    LinkInvalid,
    /// Mail could not be queued.
    #[error(transparent)]
    Mail(crate::mail::MailError),
    /// A password check was refused before the hash (wait, lock) or the password was wrong.
    #[error(transparent)]
    Denied(throttle::Denied),
    /// Every password-hashing place is taken: 503 with `Retry-After` (R-SEC-1).
    #[error(transparent)]
    Busy(password::Busy),
    /// Hashing failed inside; never shown as the user's mistake.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// This client address has used up its registrations or resets for the hour.
    #[error("too many requests from this address")]
    AddressLimit,
    /// A Kundenzentrum request is open: the data being checked cannot change meanwhile.
    #[error("a Kundenzentrum request is open")]
    RequestOpen,
    /// The data changed since the clerk was shown them; nothing was decided.
    #[error("the data changed since they were shown")]
    Stale,
    /// The account is the last administrator of its organisation (R-ORG-5).
    #[error("the last administrator of an organisation cannot be deleted")]
    LastAdmin,
    /// A staff member has no second factor enrolled (R-SEC-4): an operator must enrol one.
    #[error("no second factor enrolled")]
    NoSecondFactor,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

/// A field of the account forms, as the checks name it when they refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Academic title.
    Title,
    /// Given name(s).
    GivenName,
    /// Family name.
    FamilyName,
    /// A staff member's full name.
    Name,
    /// A staff member's login name.
    Username,
    /// The email address.
    Email,
    /// Date of birth.
    Birthdate,
    /// The address as a whole (a locked field).
    Address,
    /// Street.
    Street,
    /// House number.
    HouseNumber,
    /// Postal code.
    PostalCode,
    /// Town.
    City,
    /// Country.
    Country,
    /// Phone number.
    PhoneNumber,
}

impl Field {
    /// The form field's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::GivenName => "given_name",
            Field::FamilyName => "family_name",
            Field::Name => "name",
            Field::Username => "username",
            Field::Email => "email",
            Field::Birthdate => "birthdate",
            Field::Address => "address",
            Field::Street => "street",
            Field::HouseNumber => "house_number",
            Field::PostalCode => "postal_code",
            Field::City => "city",
            Field::Country => "country",
            Field::PhoneNumber => "phone_number",
        }
    }

    /// The field's name with the catalog key of its problem, as a form shows it.
    pub fn error(self) -> (&'static str, &'static str) {
        (self.name(), self.message_key())
    }

    /// The catalog key that explains what the field needs.
    pub fn message_key(self) -> &'static str {
        match self {
            Field::Email => "field_email_invalid",
            Field::Birthdate => "field_date_invalid",
            Field::PhoneNumber => "field_phone_invalid",
            Field::Address | Field::Street | Field::HouseNumber | Field::PostalCode | Field::City | Field::Country => {
                "field_address_incomplete"
            }
            Field::Title | Field::GivenName | Field::FamilyName | Field::Name | Field::Username => "field_name_invalid",
        }
    }
}

impl From<password::HashError> for AccountError {
    fn from(e: password::HashError) -> Self {
        match e {
            password::HashError::Busy(b) => AccountError::Busy(b),
            password::HashError::Failed(e) => AccountError::Hashing(e),
        }
    }
}

impl From<throttle::Denied> for AccountError {
    fn from(d: throttle::Denied) -> Self {
        match d {
            throttle::Denied::Busy(b) => AccountError::Busy(b),
            throttle::Denied::Unavailable(e) => AccountError::Store(StoreError::Database(e)),
            d => AccountError::Denied(d),
        }
    }
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => AccountError::EmailTaken,
            other => AccountError::Store(other),
        }
    }
}

/// Normalises and checks an email address (R-REG-1): trimmed, lower-case, one `@`, a dotted
/// domain, no whitespace, no `<` or `>`, at most 254 characters.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim().to_lowercase();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty() && !domain.contains('@') && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            }
            None => false,
        };
    if ok { Ok(email) } else { Err(AccountError::InvalidEmail) }
}

impl From<crate::mail::MailError> for AccountError {
    fn from(e: crate::mail::MailError) -> Self {
        AccountError::Mail(e)
    }
}

impl From<crate::ephemeral::EphemeralError> for AccountError {
    fn from(e: crate::ephemeral::EphemeralError) -> Self {
        AccountError::Store(StoreError::Database(e.to_string()))
    }
}

/// Checks a name-like field: trimmed, 1–100 characters, no control characters, no `<` or `>`.
pub fn check_name(field: Field, value: &str) -> Result<String, AccountError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 100 || v.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return Err(AccountError::Invalid(field));
    }
    Ok(v.to_string())
}

/// Checks a phone number: a name-like field of digits, spaces and `+ - / ( )` only.
pub fn check_phone(value: &str) -> Result<String, AccountError> {
    let v = check_name(Field::PhoneNumber, value)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '/' | '(' | ')'))
    {
        return Err(AccountError::Invalid(Field::PhoneNumber));
    }
    Ok(v)
}

/// Checks a date of birth: `YYYY-MM-DD`, a real date, not in the future.
pub fn check_date(value: &str, now: Timestamp) -> Result<String, AccountError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(value.trim(), format).map_err(|_| AccountError::Invalid(Field::Birthdate))?;
    let today = time::OffsetDateTime::from_unix_timestamp(now.seconds())
        .map(|t| t.date())
        .unwrap_or(date);
    if date > today || date.year() < 1880 {
        return Err(AccountError::Invalid(Field::Birthdate));
    }
    Ok(value.trim().to_string())
}

/// Checks an address; every part is required.
pub fn check_address(a: Address) -> Result<Address, AccountError> {
    Ok(Address {
        street: check_name(Field::Street, &a.street)?,
        house_number: check_name(Field::HouseNumber, &a.house_number)?,
        postal_code: check_name(Field::PostalCode, &a.postal_code)?,
        city: check_name(Field::City, &a.city)?,
        country: check_name(Field::Country, &a.country)?,
    })
}

/// What the account API shows of the account behind a user grant: the account and, for a
/// Servicekonto Plus, how its identity was verified. `None` when the account is gone.
pub async fn with_verification(store: &Store, account_id: &AccountId) -> Result<Option<(Account, Option<eid::Verification>)>, StoreError> {
    let Some(account) = store.account(account_id).await? else {
        return Ok(None);
    };
    let verification = match account.level >= TrustLevel::Plus {
        true => store.verification(account_id).await?,
        false => None,
    };
    Ok(Some((account, verification)))
}

/// Creates an active account. The password is checked against R-REG-2 and hashed with
/// argon2id in the bounded pool.
pub async fn create(store: &Store, hasher: &password::Hasher, new: NewAccount, now: Timestamp) -> Result<Account, AccountError> {
    let email = normalize_email(&new.email)?;
    password::check_policy(new.password.expose())?;
    let given_name = check_name(Field::GivenName, &new.given_name)?;
    let family_name = check_name(Field::FamilyName, &new.family_name)?;
    let birthdate = new.birthdate.as_deref().map(|d| check_date(d, now)).transpose()?;
    let address = new.address.map(check_address).transpose()?;
    if new.plus && (birthdate.is_none() || address.is_none()) {
        return Err(AccountError::PlusNeedsBirthdateAndAddress);
    }
    let password_hash = hasher.hash(new.password).await?;
    let account = Account {
        level: if new.plus { TrustLevel::Plus } else { TrustLevel::Basic },
        birthdate,
        address,
        ..Account::citizen(email, password_hash, given_name, family_name, now)
    };
    store.insert_account(&account).await?;
    Ok(account)
}

/// Checks the password of the account behind `login`, typed at `addr`, throttled like every
/// password check (R-SEC-1, R-SEC-3). Unknown logins cost the same argon2 work as known ones,
/// so timing does not reveal whether an account exists.
pub async fn check_password(
    env: Env<'_>,
    login: &str,
    password: Secret<String>,
    addr: &str,
    now: Timestamp,
) -> Result<Option<Account>, throttle::Denied> {
    let account = match normalize_email(login) {
        Ok(e) => env
            .store
            .account_by_email(&e)
            .await
            .map_err(|e| throttle::Denied::Unavailable(e.to_string()))?,
        Err(_) => None,
    };
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    env.throttle.check_password(env.hasher, login, addr, password, stored, now).await?;
    Ok(account)
}

/// Logs in with email and password (R-SES-1): throttled, refused for blocked accounts
/// (R-SES-6); the owner of a name that just got locked is told by mail.
pub async fn log_in(
    env: Env<'_>,
    login: &str,
    password: Secret<String>,
    addr: &str,
    locale: Locale,
    now: Timestamp,
) -> Result<Account, AccountError> {
    let event = || Event::new("login.password", now).from(addr);
    match check_password(env, login, password, addr, now).await {
        Ok(Some(account)) if account.blocked_at.is_some() => {
            event().by_account(&account.id).outcome("blocked").note(env.store).await;
            Err(AccountError::Blocked)
        }
        Ok(Some(account)) => {
            event().by_account(&account.id).note(env.store).await;
            Ok(account)
        }
        Ok(None) => Err(AccountError::Denied(throttle::Denied::WRONG)),
        Err(denied) => {
            if denied.is_refusal() {
                let target = account_for_login(env, login).await;
                let event = event().account(target.as_ref().map(|a| &a.id));
                denied.audit(env.store, event, "wrong_password").await;
                if denied.newly_locked()
                    && let Some(account) = &target
                {
                    tell_owner_of_lock(env, account, locale, now).await;
                }
            }
            Err(denied.into())
        }
    }
}

/// The account a login name belongs to, if any (for the audit log and the lock notice).
async fn account_for_login(env: Env<'_>, login: &str) -> Option<Account> {
    let email = normalize_email(login).ok()?;
    env.store.account_by_email(&email).await.ok().flatten()
}

/// Mails the owner of a name that just got locked.
async fn tell_owner_of_lock(env: Env<'_>, account: &Account, locale: Locale, now: Timestamp) {
    let ctx = serde_json::json!({
        "given_name": account.given_name,
        "forgot_url": env.urls.page(paths::FORGOT),
    });
    if let Err(e) = env
        .mailer
        .send(crate::mail::MailKind::LoginLocked, &account.email, locale, &ctx, now)
        .await
    {
        tracing::error!(error = %e, "could not queue the lock notice");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_pro_1_a_refused_field_names_itself_and_what_it_needs() {
        let address = Address {
            street: "Heidestraße".into(),
            house_number: "17".into(),
            postal_code: "51147".into(),
            city: " ".into(),
            country: "DE".into(),
        };
        assert!(matches!(check_address(address), Err(AccountError::Invalid(Field::City))));
        assert_eq!(Field::City.error(), ("city", "field_address_incomplete"));
        assert!(matches!(
            check_name(Field::GivenName, "<b>"),
            Err(AccountError::Invalid(Field::GivenName))
        ));
        assert_eq!(Field::GivenName.error(), ("given_name", "field_name_invalid"));
        assert!(matches!(
            check_date("2999-01-01", Timestamp(0)),
            Err(AccountError::Invalid(Field::Birthdate))
        ));
        assert_eq!(Field::Birthdate.error(), ("birthdate", "field_date_invalid"));
        assert_eq!(Field::PhoneNumber.error(), ("phone_number", "field_phone_invalid"));
    }

    #[test]
    fn r_reg_1_email_is_normalised_and_refuses_angle_brackets() {
        assert_eq!(
            normalize_email("  Erika.Mustermann@Example.DE ").unwrap(),
            "erika.mustermann@example.de"
        );
        for bad in [
            "a<b@example.de",
            "ab@exa>mple.de",
            "no-at.example.de",
            "a@b",
            "a b@example.de",
            "@example.de",
            "a@@example.de",
            "a@example.de.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
