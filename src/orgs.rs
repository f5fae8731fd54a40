//! Organisations (Servicekonto Business, PRODUCT §7): registration by an operator or the
//! pages, what their administrators may change, and what each user may use — decided here,
//! never in a handler (R-API-5).
//!
//! A user may use a service when their organisation's subscription to it is released, they
//! hold a grant of it (directly or through a group), and, for an administrator, the
//! organisation lets administrators use services (R-ORG-7, -8, -9). The roles are the union of
//! what the grants name, limited to the roles the service still defines.

use std::collections::BTreeSet;

use crate::accounts::recovery::SessionsEnded;
use crate::accounts::{self, Account, AccountError, AccountKind, Field, password};
use crate::audit::Event;
use crate::clients::{Admits, Client};
use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId, GroupId, OrgId};
use crate::mail::{MailKind, Mailer};
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::staff::{Role as StaffRole, Staff};
use crate::store::{Store, StoreError};

pub mod elster;
pub mod registration;

pub use crate::model::org::{Group, Membership, OrgAddress, OrgRole, Organisation, Subscription, SubscriptionState};

/// A field of the organisation forms, as the checks name it when they refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgField {
    /// The organisation's name (R-ORG-1).
    Name,
    /// Handelsregisternummer.
    TradeRegister,
    /// Street, house number, postal code or town (R-ORG-2).
    Address,
    /// House number (R-ORG-2).
    HouseNumber,
    /// PO box: 4–20 digits (R-ORG-2).
    PoBox,
    /// A user's email (R-ORG-3).
    Email,
    /// A group's name or description (R-ORG-9).
    GroupName,
    /// A role's name that no service could define.
    Roles,
}

impl OrgField {
    /// The form field's name.
    pub fn name(self) -> &'static str {
        match self {
            OrgField::Name => "name",
            OrgField::TradeRegister => "trade_register",
            OrgField::Address => "address",
            OrgField::HouseNumber => "house_number",
            OrgField::PoBox => "po_box",
            OrgField::Email => "email",
            OrgField::GroupName => "group_name",
            OrgField::Roles => "roles",
        }
    }
}

/// Why an organisation operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// A field breaks its rule.
    #[error("invalid {}", .0.name())]
    Invalid(OrgField),
    /// An account rule (email, password, names, phone) was broken.
    #[error(transparent)]
    Account(AccountError),
    /// No such organisation, user, group or subscription for this caller: a foreign id and an
    /// unknown one are told apart by nobody (R-API-5).
    #[error("not found")]
    NotFound,
    /// The service is not one organisations use.
    #[error("this service is not for organisations")]
    NotForOrganisations,
    /// The subscription is not released: the service cannot be granted yet (R-ORG-7).
    #[error("the service is not released for the organisation")]
    NotReleased,
    /// The organisation subscribed to the service already.
    #[error("already subscribed")]
    AlreadySubscribed,
    /// A role the service does not define.
    #[error("the service defines no role {0}")]
    UnknownRole(String),
    /// The organisation would keep no administrator (R-ORG-5).
    #[error("the last administrator cannot be deleted")]
    LastAdmin,
    /// An administrator needs a phone number (R-ORG-4): give one with the change of role.
    #[error("an administrator needs a phone number")]
    PhoneRequired,
    /// The stored version is not the one the change was based on.
    #[error("changed since it was read")]
    Stale,
    /// The field was taken from ELSTER and stays as it is (R-ELS-2).
    #[error("{} is locked: it comes from ELSTER", .0.name())]
    Locked(OrgField),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for OrgError {
    fn from(e: StoreError) -> Self {
        OrgError::Store(e)
    }
}

impl From<AccountError> for OrgError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(s) => OrgError::Store(s),
            other => OrgError::Account(other),
        }
    }
}

/// What registers an organisation with its first administrator.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    /// Name (R-ORG-1).
    pub name: String,
    /// Handelsregisternummer (optional).
    pub trade_register: Option<String>,
    /// Postal address.
    pub address: Option<OrgAddress>,
    /// PO box (optional).
    pub po_box: Option<String>,
    /// The administrator's email (R-ORG-3).
    pub admin_email: String,
    /// The administrator's password (R-REG-2).
    pub admin_password: Secret<String>,
    /// The administrator's given name.
    pub admin_given_name: String,
    /// The administrator's family name.
    pub admin_family_name: String,
    /// The administrator's phone number (required for administrators, R-ORG-4).
    pub admin_phone: String,
}

/// Checks an organisation's name (R-ORG-1): 1–40 characters, letters, digits and special
/// characters except `" < > { } [ ]`.
pub fn check_org_name(value: &str) -> Result<String, OrgError> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 || n > 40 || v.chars().any(|c| c.is_control() || "\"<>{}[]".contains(c)) {
        return Err(OrgError::Invalid(OrgField::Name));
    }
    Ok(v.to_string())
}

/// Checks a house number (R-ORG-2): 1–11 letters, digits, `-`, `/` or `.`, no spaces (`0`
/// where there is none; ranges like `12a-c` or `48-50`).
pub fn check_house_number(value: &str) -> Result<String, OrgError> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 || n > 11 || !v.chars().all(|c| c.is_ascii_alphanumeric() || "-/.".contains(c)) {
        return Err(OrgError::Invalid(OrgField::HouseNumber));
    }
    Ok(v.to_string())
}

/// Checks a PO box (R-ORG-2): 4–20 digits.
pub fn check_po_box(value: &str) -> Result<String, OrgError> {
    let v = value.trim();
    if !(4..=20).contains(&v.len()) || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(OrgError::Invalid(OrgField::PoBox));
    }
    Ok(v.to_string())
}

/// Checks an organisation user's email (R-ORG-3): a plain address in ASCII — no spaces, no
/// `< >`, no umlauts — as RFC 5321 has it: before the `@` at most 64 characters, dot-separated
/// atoms; after it dot-separated labels of letters, digits and inner `-`, each of 1–63. It holds
/// for employees too, as an employee may become an administrator. The login name is its lower
/// case.
pub fn check_user_email(value: &str) -> Result<String, OrgError> {
    const ATEXT: &[u8] = b"!#$%&'*+/=?^_`{|}~-";
    let atom = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || ATEXT.contains(&b));
    let label = |l: &str| {
        (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-') && !l.ends_with('-')
    };
    let plain = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            local.len() <= 64 && local.split('.').all(atom) && domain.split('.').count() >= 2 && domain.split('.').all(label)
        });
    if !plain {
        return Err(OrgError::Invalid(OrgField::Email));
    }
    accounts::normalize_email(value).map_err(|_| OrgError::Invalid(OrgField::Email))
}

pub(crate) fn check_trade_register(value: &str) -> Result<String, OrgError> {
    let v = value.trim();
    let n = v.chars().count();
    if n == 0 || n > 40 || !v.chars().all(|c| c.is_ascii_alphanumeric() || " ./-".contains(c)) {
        return Err(OrgError::Invalid(OrgField::TradeRegister));
    }
    Ok(v.to_string())
}

fn check_org_address(a: OrgAddress) -> Result<OrgAddress, OrgError> {
    let part = |v: &str| accounts::check_name(Field::Street, v).map_err(|_| OrgError::Invalid(OrgField::Address));
    Ok(OrgAddress {
        street: part(&a.street)?,
        house_number: check_house_number(&a.house_number)?,
        postal_code: part(&a.postal_code)?,
        city: part(&a.city)?,
    })
}

/// Registers an organisation with its first administrator, active at once (an operator's
/// `org add`; the pages add the activation link). Cheap checks come before the hash.
pub async fn create(
    store: &Store,
    hasher: &password::Hasher,
    new: NewOrganisation,
    now: Timestamp,
) -> Result<(Organisation, Account), OrgError> {
    let name = check_org_name(&new.name)?;
    let trade_register = new.trade_register.as_deref().map(check_trade_register).transpose()?;
    let address = new.address.map(check_org_address).transpose()?;
    let po_box = new.po_box.as_deref().map(check_po_box).transpose()?;
    let email = check_user_email(&new.admin_email)?;
    password::check_policy(new.admin_password.expose()).map_err(AccountError::from)?;
    let given_name = accounts::check_name(Field::GivenName, &new.admin_given_name)?;
    let family_name = accounts::check_name(Field::FamilyName, &new.admin_family_name)?;
    let phone = accounts::check_phone(&new.admin_phone)?;
    let hash = hasher.hash(new.admin_password).await.map_err(AccountError::from)?;
    let org = Organisation {
        id: OrgId::random(),
        name,
        trade_register,
        address,
        po_box,
        admins_use_services: false,
        elster_id: None,
        created_at: now,
        updated_at: now,
    };
    let admin = Account {
        kind: AccountKind::Organisation,
        phone_number: Some(phone),
        ..Account::citizen(email, hash, given_name, family_name, now)
    };
    store
        .insert_organisation(&org, &admin, None)
        .await
        .map_err(|e| OrgError::from(AccountError::from(e)))?;
    Ok((org, admin))
}

/// Proof that the caller may administer one organisation: made only by [`admin_of`] (an
/// administrator's account) or [`Admin::operator`] (the command line).
#[derive(Debug, Clone)]
pub struct Admin {
    org_id: OrgId,
}

impl Admin {
    /// An operator on the command line, who may administer any organisation.
    pub fn operator(org_id: OrgId) -> Admin {
        Admin { org_id }
    }

    /// The organisation administered.
    pub fn org_id(&self) -> &OrgId {
        &self.org_id
    }
}

/// The caller as administrator of `org_id`; anyone else — another organisation's
/// administrator, an employee, a citizen — gets `NotFound` (R-API-5).
pub async fn admin_of(store: &Store, caller: &AccountId, org_id: &OrgId) -> Result<Admin, OrgError> {
    match store.membership(caller).await? {
        Some(m) if m.org_id == *org_id && m.role == OrgRole::Admin => Ok(Admin { org_id: m.org_id }),
        _ => Err(OrgError::NotFound),
    }
}

/// The organisation `account_id` administers (the pages under `/org/`); `NotFound` for anyone
/// who administers none.
pub async fn administered(store: &Store, account_id: &AccountId) -> Result<Admin, OrgError> {
    match store.membership(account_id).await? {
        Some(m) if m.role == OrgRole::Admin => Ok(Admin { org_id: m.org_id }),
        _ => Err(OrgError::NotFound),
    }
}

/// A user of the administered organisation, or `NotFound`.
async fn own_user(store: &Store, admin: &Admin, user: &AccountId) -> Result<Membership, OrgError> {
    match store.membership(user).await? {
        Some(m) if m.org_id == admin.org_id => Ok(m),
        _ => Err(OrgError::NotFound),
    }
}

/// A group of the administered organisation, or `NotFound`.
async fn own_group(store: &Store, admin: &Admin, group: &GroupId) -> Result<Group, OrgError> {
    match store.group(group).await? {
        Some(g) if g.org_id == admin.org_id => Ok(g),
        _ => Err(OrgError::NotFound),
    }
}

/// Roles for a grant: each defined by the service (else `UnknownRole`: what the service
/// defines can change), each once, in the service's order.
fn check_roles(client: &Client, roles: &[String]) -> Result<Vec<String>, OrgError> {
    if !roles.iter().all(|r| crate::clients::is_role_name(r)) {
        return Err(OrgError::Invalid(OrgField::Roles));
    }
    let asked: BTreeSet<&str> = roles.iter().map(String::as_str).collect();
    if let Some(unknown) = asked.iter().find(|r| !client.roles.iter().any(|d| d == *r)) {
        return Err(OrgError::UnknownRole((*unknown).to_string()));
    }
    Ok(client.roles.iter().filter(|d| asked.contains(d.as_str())).cloned().collect())
}

/// The administered organisation's released subscription to `client`, or why not.
async fn released(store: &Store, admin: &Admin, client: &Client) -> Result<(), OrgError> {
    match store.subscription(&admin.org_id, &client.id).await? {
        Some(s) if s.state == SubscriptionState::Released => Ok(()),
        _ => Err(OrgError::NotReleased),
    }
}

/// Subscribes the organisation to a service (R-ORG-7): released at once, or pending until the
/// Fachliche Leitstelle approves when the service requires it.
pub async fn subscribe(store: &Store, admin: &Admin, client: &Client, now: Timestamp) -> Result<Subscription, OrgError> {
    if client.admits == Admits::Citizen || !client.is_listed() {
        return Err(OrgError::NotForOrganisations);
    }
    let pending = client.requires_approval;
    let s = Subscription {
        org_id: admin.org_id.clone(),
        client_id: client.id.clone(),
        state: if pending {
            SubscriptionState::Pending
        } else {
            SubscriptionState::Released
        },
        requested_at: now,
        decided_at: (!pending).then_some(now),
    };
    match store.insert_subscription(&s).await {
        Ok(()) => Ok(s),
        Err(StoreError::Conflict(_)) => Err(OrgError::AlreadySubscribed),
        Err(e) => Err(e.into()),
    }
}

/// Ends a subscription with every grant of the service in the organisation.
pub async fn unsubscribe(store: &Store, admin: &Admin, client_id: &ClientId) -> Result<(), OrgError> {
    if store.remove_subscription(&admin.org_id, client_id).await? {
        Ok(())
    } else {
        Err(OrgError::NotFound)
    }
}

/// The Fachliche Leitstelle releases a pending subscription.
pub async fn release(store: &Store, org_id: &OrgId, client_id: &ClientId, now: Timestamp) -> Result<(), OrgError> {
    if store.release_subscription(org_id, client_id, now).await? {
        Ok(())
    } else {
        Err(OrgError::NotFound)
    }
}

/// Switches whether administrators may use services (R-ORG-8).
pub async fn set_admins_use_services(store: &Store, admin: &Admin, on: bool, now: Timestamp) -> Result<(), OrgError> {
    if store.set_admins_use_services(&admin.org_id, on, now).await? {
        Ok(())
    } else {
        Err(OrgError::NotFound)
    }
}

/// Grants a released service to a user of the organisation directly, with `roles` (R-ORG-8).
pub async fn grant(store: &Store, admin: &Admin, user: &AccountId, client: &Client, roles: &[String]) -> Result<(), OrgError> {
    own_user(store, admin, user).await?;
    released(store, admin, client).await?;
    let roles = check_roles(client, roles)?;
    Ok(store.put_user_service(user, &client.id, &roles).await?)
}

/// Withdraws a direct grant; what groups give stays (R-ORG-9).
pub async fn revoke(store: &Store, admin: &Admin, user: &AccountId, client_id: &ClientId) -> Result<(), OrgError> {
    own_user(store, admin, user).await?;
    if store.remove_user_service(user, client_id).await? {
        Ok(())
    } else {
        Err(OrgError::NotFound)
    }
}

/// Creates a group (R-ORG-9): a name of 1–100 characters, an optional description.
pub async fn create_group(store: &Store, admin: &Admin, name: &str, description: Option<&str>, now: Timestamp) -> Result<Group, OrgError> {
    let name = accounts::check_name(Field::Name, name).map_err(|_| OrgError::Invalid(OrgField::GroupName))?;
    let description = description.map(check_description).transpose()?.flatten();
    let group = Group {
        id: GroupId::random(),
        org_id: admin.org_id.clone(),
        name,
        description,
        created_at: now,
    };
    store.insert_group(&group).await?;
    Ok(group)
}

/// Deletes a group: exactly what came through it is revoked (R-ORG-9).
pub async fn delete_group(store: &Store, admin: &Admin, group: &GroupId) -> Result<(), OrgError> {
    own_group(store, admin, group).await?;
    store.delete_group(group).await?;
    Ok(())
}

/// Makes a user of the organisation a member of one of its groups.
pub async fn add_member(store: &Store, admin: &Admin, group: &GroupId, user: &AccountId) -> Result<(), OrgError> {
    own_group(store, admin, group).await?;
    own_user(store, admin, user).await?;
    Ok(store.put_group_member(group, user).await?)
}

/// Removes a member from a group.
pub async fn remove_member(store: &Store, admin: &Admin, group: &GroupId, user: &AccountId) -> Result<(), OrgError> {
    own_group(store, admin, group).await?;
    if store.remove_group_member(group, user).await? {
        Ok(())
    } else {
        Err(OrgError::NotFound)
    }
}

/// Grants a released service to a group, with `roles`.
pub async fn grant_to_group(store: &Store, admin: &Admin, group: &GroupId, client: &Client, roles: &[String]) -> Result<(), OrgError> {
    own_group(store, admin, group).await?;
    released(store, admin, client).await?;
    let roles = check_roles(client, roles)?;
    Ok(store.put_group_service(group, &client.id, &roles).await?)
}

/// Withdraws a service from a group.
pub async fn revoke_from_group(store: &Store, admin: &Admin, group: &GroupId, client_id: &ClientId) -> Result<(), OrgError> {
    own_group(store, admin, group).await?;
    if store.remove_group_service(group, client_id).await? {
        Ok(())
    } else {
        Err(OrgError::NotFound)
    }
}

/// The administered organisation.
pub async fn get(store: &Store, admin: &Admin) -> Result<Organisation, OrgError> {
    store.organisation(&admin.org_id).await?.ok_or(OrgError::NotFound)
}

/// Changes to an organisation's data; `None` leaves a field as it is, an empty text clears an
/// optional one.
#[derive(Debug, Clone, Default)]
pub struct OrgChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new Handelsregisternummer (empty: none).
    pub trade_register: Option<String>,
    /// A new address.
    pub address: Option<OrgAddress>,
    /// A new PO box (empty: none).
    pub po_box: Option<String>,
    /// Whether administrators may use services (R-ORG-8).
    pub admins_use_services: Option<bool>,
}

/// Changes the administered organisation's data (R-ORG-11); what ELSTER gave stays locked
/// (R-ELS-2). Every field is checked first, then `current` is asked whether the stored version
/// is the one the change is based on (`Stale` if not), and only then is anything stored.
pub async fn update(
    store: &Store,
    admin: &Admin,
    changes: OrgChanges,
    current: impl FnOnce(&Organisation) -> bool,
    now: Timestamp,
) -> Result<Organisation, OrgError> {
    let optional = |v: Option<String>, check: fn(&str) -> Result<String, OrgError>| -> Result<Option<Option<String>>, OrgError> {
        v.map(|v| Some(v.trim().to_string()).filter(|v| !v.is_empty()).map(|v| check(&v)).transpose())
            .transpose()
    };
    let name = changes.name.as_deref().map(check_org_name).transpose()?;
    let trade_register = optional(changes.trade_register, check_trade_register)?;
    let address = changes.address.map(check_org_address).transpose()?;
    let po_box = optional(changes.po_box, check_po_box)?;

    let mut org = get(store, admin).await?;
    if !current(&org) {
        return Err(OrgError::Stale);
    }
    let locked = org.elster_id.is_some();
    let refuse_if_locked = |field: OrgField| if locked { Err(OrgError::Locked(field)) } else { Ok(()) };
    if let Some(name) = name.filter(|n| *n != org.name) {
        refuse_if_locked(OrgField::Name)?;
        org.name = name;
    }
    if let Some(t) = trade_register.filter(|t| *t != org.trade_register) {
        refuse_if_locked(OrgField::TradeRegister)?;
        org.trade_register = t;
    }
    if let Some(a) = address.map(Some).filter(|a| *a != org.address) {
        refuse_if_locked(OrgField::Address)?;
        org.address = a;
    }
    if let Some(p) = po_box {
        org.po_box = p;
    }
    if let Some(on) = changes.admins_use_services {
        org.admins_use_services = on;
    }
    org.updated_at = now;
    store.update_organisation(&org).await?;
    Ok(org)
}

/// An organisation's user as its administrators see them.
#[derive(Debug, Clone)]
pub struct OrgUser {
    /// The account.
    pub account: Account,
    /// Administrator or employee.
    pub role: OrgRole,
}

/// A page of the organisation's users, by id, after `after`.
pub async fn users(store: &Store, admin: &Admin, after: Option<&str>, limit: u32) -> Result<Vec<OrgUser>, OrgError> {
    let rows = store.org_users(&admin.org_id, after.unwrap_or(""), limit).await?;
    Ok(rows.into_iter().map(|(account, role)| OrgUser { account, role }).collect())
}

/// A user with the services granted to them directly, with their roles.
pub type UserDetail = (OrgUser, Vec<(ClientId, Vec<String>)>);

/// One user of the organisation with the services granted to them directly.
pub async fn user(store: &Store, admin: &Admin, id: &AccountId) -> Result<UserDetail, OrgError> {
    let (account, role) = store.org_user(&admin.org_id, id).await?.ok_or(OrgError::NotFound)?;
    let services = store.user_services(id).await?;
    Ok((OrgUser { account, role }, services))
}

/// How long an invitation to an organisation works, and an unactivated user is kept (R-ORG-4).
pub const INVITE_SECONDS: i64 = 14 * 24 * 3600;

/// A user an administrator creates.
#[derive(Debug, Clone)]
pub struct NewOrgUser {
    /// Their email, the login name.
    pub email: String,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Administrator or employee.
    pub role: OrgRole,
    /// Phone number: required for administrators (R-ORG-4).
    pub phone_number: Option<String>,
}

/// Creates a user of the organisation (R-ORG-4): an account nobody can log in to yet, and a
/// mail with a link, valid 14 days, through which they set their own password (R-REG-2); unused,
/// the account is purged. An administrator needs a phone number and an email in ASCII (R-ORG-3).
pub async fn invite(env: accounts::Env<'_>, admin: &Admin, new: NewOrgUser, now: Timestamp) -> Result<OrgUser, OrgError> {
    let org = get(env.store, admin).await?;
    let email = check_user_email(&new.email)?;
    let given_name = accounts::check_name(Field::GivenName, &new.given_name)?;
    let family_name = accounts::check_name(Field::FamilyName, &new.family_name)?;
    let phone = match (new.phone_number.as_deref().map(str::trim).filter(|p| !p.is_empty()), new.role) {
        (Some(p), _) => Some(accounts::check_phone(p)?),
        (None, OrgRole::Admin) => return Err(OrgError::PhoneRequired),
        (None, OrgRole::Employee) => None,
    };
    // A password nobody knows: the account is usable only once its owner sets one.
    let unknown = env
        .hasher
        .hash(Secret::new(crate::secret::random_token(32)))
        .await
        .map_err(AccountError::from)?;
    let account = Account {
        kind: AccountKind::Organisation,
        phone_number: phone,
        email_verified: false,
        ..Account::citizen(email, unknown, given_name, family_name, now)
    };
    env.store
        .insert_org_user(&account, &admin.org_id, new.role)
        .await
        .map_err(|e| OrgError::from(AccountError::from(e)))?;
    send_invitation(env, &org, &account, now).await?;
    Event::new("org.user_add", now)
        .account(Some(&account.id))
        .details(format!("{} as {}", admin.org_id, new.role.as_str()))
        .note(env.store)
        .await;
    Ok(OrgUser { account, role: new.role })
}

/// Mails the password link of an invitation (R-ORG-4), valid 14 days.
async fn send_invitation(env: accounts::Env<'_>, org: &Organisation, account: &Account, now: Timestamp) -> Result<(), OrgError> {
    let token = accounts::links::issue(
        env.store,
        &account.id,
        accounts::links::LinkPurpose::Reset,
        None,
        INVITE_SECONDS,
        now,
    )
    .await?;
    let ctx = serde_json::json!({
        "given_name": account.given_name,
        "org_name": org.name,
        "link": env.urls.with_token(crate::paths::RESET, &token),
    });
    env.mailer
        .send(MailKind::OrgInvite, &account.email, Locale::De, &ctx, now)
        .await
        .map_err(AccountError::from)?;
    Ok(())
}

/// Changes to a user of the organisation; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// A new email: confirmed by the new address before it becomes the login name (R-ORG-6).
    pub email: Option<String>,
    /// New given name(s).
    pub given_name: Option<String>,
    /// A new family name.
    pub family_name: Option<String>,
    /// A new phone number.
    pub phone_number: Option<String>,
    /// A new role.
    pub role: Option<OrgRole>,
}

/// Changes a user's data and role (R-ORG-6). Every field is checked first, then `current` is
/// asked whether the stored user is the version the change is based on (`Stale` if not). An
/// administrator needs a phone number; the last activated administrator stays one (R-ORG-5).
/// A new email of an activated user is confirmed by the new address like a citizen's (R-PRO-2:
/// a link there, a notice to the old one, and no word on whether the address is taken); an
/// invitation not yet used simply goes to the new address instead.
pub async fn update_user(
    env: accounts::Env<'_>,
    admin: &Admin,
    id: &AccountId,
    changes: UserChanges,
    current: impl FnOnce(&UserDetail) -> bool,
    now: Timestamp,
) -> Result<UserDetail, OrgError> {
    let email = changes.email.as_deref().map(check_user_email).transpose()?;
    let given_name = changes
        .given_name
        .as_deref()
        .map(|v| accounts::check_name(Field::GivenName, v))
        .transpose()?;
    let family_name = changes
        .family_name
        .as_deref()
        .map(|v| accounts::check_name(Field::FamilyName, v))
        .transpose()?;
    let phone = changes.phone_number.as_deref().map(accounts::check_phone).transpose()?;
    let org = get(env.store, admin).await?;
    let stored = user(env.store, admin, id).await?;
    if !current(&stored) {
        return Err(OrgError::Stale);
    }
    let (
        OrgUser {
            account: before,
            role: was,
        },
        services,
    ) = stored;
    let role = changes.role.unwrap_or(was);
    let mut account = Account {
        given_name: given_name.unwrap_or(before.given_name.clone()),
        family_name: family_name.unwrap_or(before.family_name.clone()),
        phone_number: phone.or(before.phone_number.clone()),
        updated_at: now,
        ..before.clone()
    };
    if role == OrgRole::Admin && account.phone_number.is_none() {
        return Err(OrgError::PhoneRequired);
    }
    if was == OrgRole::Admin && role == OrgRole::Employee && env.store.is_last_admin(id).await? {
        return Err(OrgError::LastAdmin);
    }
    match env.store.update_org_user(&account, role).await {
        Err(StoreError::Conflict(_)) => return Err(OrgError::LastAdmin),
        other => other?,
    }
    if let Some(email) = email.filter(|e| *e != account.email) {
        if account.email_verified {
            accounts::profile::request_email_change(env, &account, &email, Locale::De, now).await?;
        } else {
            env.store
                .set_invited_email(id, &email, now)
                .await
                .map_err(|e| OrgError::from(AccountError::from(e)))?;
            env.store.delete_links(id, accounts::links::LinkPurpose::Reset).await?;
            account.email = email;
            send_invitation(env, &org, &account, now).await?;
        }
    }
    Event::new("org.user_change", now)
        .account(Some(id))
        .details(format!("{} as {}", admin.org_id, role.as_str()))
        .note(env.store)
        .await;
    Ok((OrgUser { account, role }, services))
}

/// Deletes the organisation at once and for good (R-ORG-11): every administrator and user with
/// everything they hold; the administrators who activated their access are told by mail, the
/// other users are not. What services must hear of the ended sessions is returned.
pub async fn delete(env: accounts::Env<'_>, admin: &Admin, now: Timestamp) -> Result<Vec<SessionsEnded>, OrgError> {
    let org = get(env.store, admin).await?;
    let users = env.store.org_users(&org.id, "", u32::MAX).await?;
    let mut ended = Vec::with_capacity(users.len());
    for (account, _) in &users {
        ended.push(accounts::recovery::end_everything(env, &account.id, now).await?);
    }
    env.store.delete_organisation(&org.id).await?;
    Event::new("org.delete", now)
        .details(format!("{} with {} users", org.id, users.len()))
        .note(env.store)
        .await;
    for (account, _) in users.iter().filter(|(a, role)| *role == OrgRole::Admin && a.email_verified) {
        let ctx = serde_json::json!({ "given_name": account.given_name, "org_name": org.name });
        env.mailer
            .send(MailKind::OrgDeleted, &account.email, Locale::De, &ctx, now)
            .await
            .map_err(AccountError::from)?;
    }
    Ok(ended)
}

/// Deletes a user of the organisation with everything they hold (R-ORG-5): never the last
/// administrator (an administrator deletes themselves only while another one stays); the user
/// is told by mail. What services must hear of the ended sessions is returned.
pub async fn remove_user(env: accounts::Env<'_>, admin: &Admin, user: &AccountId, now: Timestamp) -> Result<SessionsEnded, OrgError> {
    let org = get(env.store, admin).await?;
    let (account, _) = env.store.org_user(&admin.org_id, user).await?.ok_or(OrgError::NotFound)?;
    if env.store.is_last_admin(user).await? {
        return Err(OrgError::LastAdmin);
    }
    let ended = accounts::recovery::end_everything(env, user, now).await?;
    match env.store.delete_account(user).await {
        Err(StoreError::Conflict(_)) => return Err(OrgError::LastAdmin),
        other => other?,
    };
    Event::new("org.user_delete", now)
        .account(Some(user))
        .details(admin.org_id.to_string())
        .note(env.store)
        .await;
    let ctx = serde_json::json!({ "given_name": account.given_name, "org_name": org.name });
    env.mailer
        .send(MailKind::OrgUserDeleted, &account.email, Locale::De, &ctx, now)
        .await
        .map_err(AccountError::from)?;
    Ok(ended)
}

/// Purges the organisations' users who never used their invitation (R-ORG-4).
pub async fn purge_unactivated(store: &Store, now: Timestamp) -> Result<u64, StoreError> {
    store.purge_unactivated_org_users(now - INVITE_SECONDS).await
}

/// A group with its members and services.
#[derive(Debug, Clone)]
pub struct GroupDetail {
    /// The group.
    pub group: Group,
    /// Its members.
    pub members: Vec<AccountId>,
    /// Its services with their roles.
    pub services: Vec<(ClientId, Vec<String>)>,
}

/// A page of the organisation's groups, by id, after `after`.
pub async fn groups(store: &Store, admin: &Admin, after: Option<&str>, limit: u32) -> Result<Vec<Group>, OrgError> {
    Ok(store.groups_page(&admin.org_id, after.unwrap_or(""), limit).await?)
}

/// One group of the organisation with its members and services.
pub async fn group(store: &Store, admin: &Admin, id: &GroupId) -> Result<GroupDetail, OrgError> {
    let group = own_group(store, admin, id).await?;
    let members = store.group_members(id).await?;
    let services = store.group_services(id).await?;
    Ok(GroupDetail { group, members, services })
}

/// Renames a group or changes its description (an empty one clears it): checked first, then
/// `current` is asked whether the stored version is the one the change is based on.
pub async fn update_group(
    store: &Store,
    admin: &Admin,
    id: &GroupId,
    (name, description): (Option<&str>, Option<&str>),
    current: impl FnOnce(&GroupDetail) -> bool,
) -> Result<GroupDetail, OrgError> {
    let name = name
        .map(|n| accounts::check_name(Field::Name, n).map_err(|_| OrgError::Invalid(OrgField::GroupName)))
        .transpose()?;
    let description = description.map(check_description).transpose()?;
    let detail = self::group(store, admin, id).await?;
    if !current(&detail) {
        return Err(OrgError::Stale);
    }
    let mut group = detail.group;
    if let Some(name) = name {
        group.name = name;
    }
    if let Some(d) = description {
        group.description = d;
    }
    store.update_group(&group).await?;
    self::group(store, admin, id).await
}

fn check_description(d: &str) -> Result<Option<String>, OrgError> {
    match Some(d.trim()).filter(|d| !d.is_empty()) {
        Some(d)
            if d.chars().count() > 500
                || d.chars()
                    .any(|c| matches!(c, '<' | '>') || (c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r'))) =>
        {
            Err(OrgError::Invalid(OrgField::GroupName))
        }
        d => Ok(d.map(str::to_string)),
    }
}

/// The organisation's subscriptions, by service.
pub async fn subscriptions(store: &Store, admin: &Admin) -> Result<Vec<Subscription>, OrgError> {
    Ok(store.subscriptions(&admin.org_id).await?)
}

/// A subscription waiting for the Fachliche Leitstelle, with its organisation.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The subscription.
    pub subscription: Subscription,
    /// The organisation that asks.
    pub org: Organisation,
}

/// The Fachliche Leitstelle's work list: every pending subscription, oldest first. Only a
/// member of the Leitstelle sees it.
pub async fn pending(store: &Store, member: &Staff) -> Result<Vec<Pending>, OrgError> {
    if member.role != StaffRole::Leitstelle {
        return Err(OrgError::NotFound);
    }
    let pending = store.pending_subscriptions().await?;
    Ok(pending
        .into_iter()
        .map(|(subscription, org)| Pending { subscription, org })
        .collect())
}

/// One pending subscription, for the Leitstelle's decision page.
pub async fn pending_one(store: &Store, member: &Staff, org_id: &OrgId, client_id: &ClientId) -> Result<Pending, OrgError> {
    if member.role != StaffRole::Leitstelle {
        return Err(OrgError::NotFound);
    }
    match store.subscription(org_id, client_id).await? {
        Some(subscription) if subscription.state == SubscriptionState::Pending => {
            let org = store.organisation(org_id).await?.ok_or(OrgError::NotFound)?;
            Ok(Pending { subscription, org })
        }
        _ => Err(OrgError::NotFound),
    }
}

/// The Fachliche Leitstelle releases (`approve`) or refuses a pending subscription (R-ORG-7):
/// audited under the member's name, and the organisation's administrators are told by mail.
/// A refused subscription is gone; the organisation may ask again.
pub async fn decide_subscription(
    (store, mailer): (&Store, &Mailer),
    member: &Staff,
    (org_id, client): (&OrgId, &Client),
    approve: bool,
    now: Timestamp,
) -> Result<(), OrgError> {
    let found = pending_one(store, member, org_id, &client.id).await?;
    let done = if approve {
        store.release_subscription(org_id, &client.id, now).await?
    } else {
        store.remove_subscription(org_id, &client.id).await?
    };
    if !done {
        // Another member decided at the same moment.
        return Err(OrgError::NotFound);
    }
    Event::new(if approve { "leitstelle.approve" } else { "leitstelle.reject" }, now)
        .by_staff(&member.username)
        .details(format!("{org_id} {}", client.id))
        .note(store)
        .await;
    let mut after = String::new();
    loop {
        let page = store.org_users(org_id, &after, 100).await?;
        for (admin, _) in page.iter().filter(|(_, role)| *role == OrgRole::Admin) {
            let ctx = serde_json::json!({
                "given_name": admin.given_name,
                "approved": approve,
                "service": client.name,
                "org_name": found.org.name,
            });
            mailer
                .send(MailKind::SubscriptionDecided, &admin.email, Locale::De, &ctx, now)
                .await
                .map_err(|e| OrgError::Store(StoreError::Database(e.to_string())))?;
        }
        match page.last() {
            Some((last, _)) if page.len() == 100 => after = last.id.to_string(),
            _ => break,
        }
    }
    Ok(())
}

/// What an organisation user may do at one service: the `org_id`, `org_name` and
/// `service_roles` claims (R-ORG-10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The organisation.
    pub org_id: OrgId,
    /// Its name.
    pub org_name: String,
    /// The roles granted for this service, in the service's order (possibly none).
    pub roles: Vec<String>,
}

/// What `account_id` may do at `client` (one store round trip): `None` when it is not an
/// organisation's user or may not use the service.
pub async fn access(store: &Store, account_id: &AccountId, client: &Client) -> Result<Option<Access>, StoreError> {
    Ok(store.org_access(account_id, &client.id).await?.and_then(|rows| {
        let usable = client.admits != Admits::Citizen
            && rows.subscription == Some(SubscriptionState::Released)
            && (rows.role == OrgRole::Employee || rows.admins_use_services)
            && !rows.grants.is_empty();
        usable.then(|| {
            let granted: BTreeSet<&str> = rows.grants.iter().flatten().map(String::as_str).collect();
            Access {
                org_id: rows.org_id,
                org_name: rows.org_name,
                roles: client.roles.iter().filter(|r| granted.contains(r.as_str())).cloned().collect(),
            }
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_org_1_an_organisation_name_has_1_to_40_characters_without_quotes_angles_or_brackets() {
        for ok in ["Müller & Söhne GmbH", "A", "Stadtwerke Köln-Süd (AöR) #1 §2", &"x".repeat(40)] {
            assert!(check_org_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "  ", &"x".repeat(41), "\"Quote\" AG", "<b>", "{x}", "[y]", "a\u{7}b"] {
            assert!(matches!(check_org_name(bad), Err(OrgError::Invalid(OrgField::Name))), "{bad}");
        }
    }

    #[test]
    fn r_org_2_house_numbers_have_at_most_11_characters_without_spaces_and_po_boxes_4_to_20_digits() {
        for ok in ["0", "12a-c", "48-50", "17", "123456789ab"] {
            assert!(check_house_number(ok).is_ok(), "{ok}");
        }
        for bad in ["", "12 a", "123456789abc", "1<"] {
            assert!(check_house_number(bad).is_err(), "{bad}");
        }
        for ok in ["1234", "12345678901234567890"] {
            assert!(check_po_box(ok).is_ok(), "{ok}");
        }
        for bad in ["123", "123456789012345678901", "12a4", ""] {
            assert!(check_po_box(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn r_org_3_a_users_email_has_no_spaces_angles_or_umlauts() {
        assert_eq!(check_user_email("Admin@Firma.de").unwrap(), "admin@firma.de");
        assert_eq!(check_user_email("a.b+c@x-y.z.de").unwrap(), "a.b+c@x-y.z.de");
        let long_local = format!("{}@firma.de", "a".repeat(65));
        for bad in [
            "müller@firma.de",
            "a b@firma.de",
            " admin@firma.de",
            "<a>@firma.de",
            "admin@fürma.de",
            "keine-adresse",
            "a@b",
            "a@b..de",
            "a@@b.de",
            "@b.de",
            "a..b@firma.de",
            ".a@firma.de",
            "a.@firma.de",
            "a@-firma.de",
            "a@firma-.de",
            "a@firma_x.de",
            &long_local,
        ] {
            assert!(matches!(check_user_email(bad), Err(OrgError::Invalid(OrgField::Email))), "{bad}");
        }
    }
}
