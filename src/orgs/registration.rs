//! Registration of an organisation on the pages, in four steps (R-ORG-1…3): the organisation's
//! data, the first administrator's access, the online services, then summary and consent. The
//! steps are checked here, every field's problem at once; the last one stores a pending
//! registration whose mailed link, valid 24 hours, opens the organisation with its
//! administrator. Like a citizen's registration, an address that has an account already gets
//! the same answer on the page and a mail to its owner instead (no enumeration).

use serde::{Deserialize, Serialize};

use super::elster::ElsterOrigin;
use super::{Admin, OrgAddress, OrgError, OrgField, Organisation, check_house_number, check_org_name, check_po_box, check_user_email};
use crate::accounts::password::Hasher;
use crate::accounts::registration::{self, Draft, FieldError, RegistrationForm};
use crate::accounts::throttle::Throttle;
use crate::accounts::{self, Account, AccountError, AccountKind, Env, Field};
use crate::audit::Event;
use crate::clients::{Admits, Client};
use crate::clock::Timestamp;
use crate::ids::{ClientId, OrgId};
use crate::model::org::OrgRegistration;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::store::{Store, StoreError};

/// Step 1: the organisation's data as the form carries it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DataForm {
    /// Name (R-ORG-1).
    #[serde(default)]
    pub name: String,
    /// Handelsregisternummer (optional).
    #[serde(default)]
    pub trade_register: String,
    /// Street, or the town where there is no street.
    #[serde(default)]
    pub street: String,
    /// House number, `0` where there is none.
    #[serde(default)]
    pub house_number: String,
    /// Postal code.
    #[serde(default)]
    pub postal_code: String,
    /// Town.
    #[serde(default)]
    pub city: String,
    /// PO box (optional).
    #[serde(default)]
    pub po_box: String,
}

/// Step 1 checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgData {
    /// Name.
    pub name: String,
    /// Handelsregisternummer.
    pub trade_register: Option<String>,
    /// Postal address.
    pub address: OrgAddress,
    /// PO box.
    pub po_box: Option<String>,
}

/// Step 2 checked: a citizen's registration draft (names, email, the password's hash) and what an
/// administrator gives beyond it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminDraft {
    /// Names, email, the password's hash.
    pub account: Draft,
    /// Phone number (R-ORG-4).
    pub phone_number: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birthdate: String,
}

/// What the registration has gathered so far, kept between the steps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OrgDraft {
    /// Step 1.
    pub data: Option<OrgData>,
    /// Step 2.
    pub admin: Option<AdminDraft>,
    /// Step 3 (possibly none).
    pub services: Option<Vec<ClientId>>,
    /// What ELSTER gave, when the registration started there (R-ELS-4): step 1's data are
    /// ELSTER's and locked.
    #[serde(default)]
    pub elster: Option<ElsterOrigin>,
}

impl OrgDraft {
    /// A registration that starts from ELSTER's data: step 1 filled in from them, locked but
    /// for the PO box; the rest as before.
    pub fn from_elster(origin: ElsterOrigin, before: OrgDraft) -> OrgDraft {
        let data = OrgData {
            name: origin.org.name.clone(),
            trade_register: origin.org.trade_register.clone(),
            address: origin.org.address.clone(),
            po_box: before.data.and_then(|d| d.po_box),
        };
        OrgDraft {
            data: Some(data),
            elster: Some(origin),
            ..before
        }
    }

    /// Step 1 from the form — or, for a registration with ELSTER, ELSTER's data with the form's
    /// PO box only (R-ELS-4: the rest is locked).
    pub fn check_data(&self, form: &DataForm) -> Result<OrgData, Vec<FieldError>> {
        let Some(origin) = &self.elster else { return check_data(form) };
        let po_box = match form.po_box.trim() {
            "" => None,
            p => Some(check_po_box(p).map_err(|_| vec![field_key(OrgField::PoBox)])?),
        };
        Ok(OrgData {
            name: origin.org.name.clone(),
            trade_register: origin.org.trade_register.clone(),
            address: origin.org.address.clone(),
            po_box,
        })
    }
}

fn field_key(field: OrgField) -> FieldError {
    let key = match field {
        OrgField::Name => "field_org_name_invalid",
        OrgField::TradeRegister => "field_trade_register_invalid",
        OrgField::HouseNumber => "field_house_number_invalid",
        OrgField::PoBox => "field_po_box_invalid",
        OrgField::Email => "field_org_email_invalid",
        OrgField::Address | OrgField::GroupName | OrgField::Roles => "field_name_invalid",
    };
    (field.name(), key)
}

/// Checks step 1 (R-ORG-1, -2): every field's problem at once.
pub fn check_data(form: &DataForm) -> Result<OrgData, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut keep = |r: Result<String, OrgError>, field: FieldError| r.map_err(|_| errors.push(field)).ok();
    let name = keep(check_org_name(&form.name), field_key(OrgField::Name));
    let trade_register = match form.trade_register.trim() {
        "" => Some(None),
        t => keep(super::check_trade_register(t), field_key(OrgField::TradeRegister)).map(Some),
    };
    let part = |field: Field, v: &str| accounts::check_name(field, v).map_err(|_| OrgError::Invalid(OrgField::Address));
    let street = keep(part(Field::Street, &form.street), ("street", "field_name_invalid"));
    let house_number = keep(check_house_number(&form.house_number), field_key(OrgField::HouseNumber));
    let postal_code = keep(part(Field::PostalCode, &form.postal_code), ("postal_code", "field_name_invalid"));
    let city = keep(part(Field::City, &form.city), ("city", "field_name_invalid"));
    let po_box = match form.po_box.trim() {
        "" => Some(None),
        p => keep(check_po_box(p), field_key(OrgField::PoBox)).map(Some),
    };
    match (name, trade_register, street, house_number, postal_code, city, po_box) {
        (Some(name), Some(trade_register), Some(street), Some(house_number), Some(postal_code), Some(city), Some(po_box)) => Ok(OrgData {
            name,
            trade_register,
            address: OrgAddress {
                street,
                house_number,
                postal_code,
                city,
            },
            po_box,
        }),
        _ => Err(errors),
    }
}

/// Step 2: the administrator's access as the form carries it.
#[derive(Debug, Clone, Default)]
pub struct AdminForm {
    /// Names, email and password, as for a citizen.
    pub account: RegistrationForm,
    /// Phone number.
    pub phone_number: String,
    /// Date of birth.
    pub birthdate: String,
}

/// Whether someone born on `birthdate` (a checked date) is 18 or older on `now`.
fn adult(birthdate: &str, now: Timestamp) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (Ok(born), Ok(today)) = (
        time::Date::parse(birthdate, format),
        time::OffsetDateTime::from_unix_timestamp(now.seconds()).map(|t| t.date()),
    ) else {
        return false;
    };
    let years = today.year() - born.year();
    let birthday_passed = (today.month() as u8, today.day()) >= (born.month() as u8, born.day());
    years > 18 || (years == 18 && birthday_passed)
}

/// Checks step 2 (R-ORG-3, R-REG-2): the email as for every organisation user, the password
/// policy, names, phone number and an adult's date of birth. Only when every field passes is the
/// password hashed, within the address's hourly limit (R-SEC-1); `earlier` keeps the password
/// of a step the user came back to.
pub async fn check_admin(
    deps: (&Throttle, &Hasher),
    form: AdminForm,
    earlier: Option<&AdminDraft>,
    addr: &str,
    now: Timestamp,
) -> Result<Result<AdminDraft, Vec<FieldError>>, AccountError> {
    let mut found = Vec::new();
    if check_user_email(form.account.email.trim()).is_err() {
        found.push(field_key(OrgField::Email));
    }
    let phone = accounts::check_phone(&form.phone_number).map_err(|_| found.push(Field::PhoneNumber.error()));
    let birthdate = match accounts::check_date(&form.birthdate, now) {
        Ok(d) if adult(&d, now) => Some(d),
        Ok(_) => {
            found.push(("birthdate", "field_admin_adult"));
            None
        }
        Err(_) => {
            found.push(Field::Birthdate.error());
            None
        }
    };
    let mut account = form.account;
    account.email = account.email.trim().to_string();
    let draft = registration::check(deps, account, (earlier.map(|e| &e.account), None), found, addr, now).await?;
    Ok(draft.map(|account| AdminDraft {
        account,
        phone_number: phone.unwrap_or_default(),
        birthdate: birthdate.unwrap_or_default(),
    }))
}

/// The services an organisation can subscribe to at registration: listed ones that admit
/// organisations, in the catalogue's order.
pub fn offered(all: &[Client]) -> Vec<&Client> {
    crate::clients::catalogue(all, "")
        .into_iter()
        .filter(|c| c.admits != Admits::Citizen)
        .collect()
}

/// Step 3: of the ids chosen, those of offered services, each once, in the catalogue's order.
pub fn check_services(all: &[Client], chosen: &[String]) -> Vec<ClientId> {
    offered(all)
        .into_iter()
        .filter(|c| chosen.iter().any(|id| *id == c.id.as_str()))
        .map(|c| c.id.clone())
        .collect()
}

/// Step 4, "Organisation registrieren": stores the pending registration and mails its link, valid
/// 24 hours — or, when the address has an account already, mails its owner. The page is the same
/// either way.
pub async fn submit(
    env: Env<'_>,
    (data, admin, services): (OrgData, AdminDraft, Vec<ClientId>),
    elster: Option<&ElsterOrigin>,
    locale: Locale,
    now: Timestamp,
) -> Result<(), AccountError> {
    let organisation = OrgRegistration {
        name: data.name,
        trade_register: data.trade_register,
        address: data.address,
        po_box: data.po_box,
        phone_number: admin.phone_number,
        birthdate: admin.birthdate,
        services,
        elster: elster.map(|e| (e.elster_org_id.clone(), e.certificate_hash.clone())),
    };
    registration::submit(env, admin.account, Some(organisation), locale, now).await
}

/// Opens the organisation behind a registration link for the person who knows the password
/// chosen at registration (R-REG-4 as for citizens): the organisation, its first administrator
/// (activated), and the subscriptions chosen — released at once or waiting for the Fachliche
/// Leitstelle (R-ORG-7). A service no longer offered is left out.
pub async fn activate(
    (store, hasher): (&Store, &Hasher),
    token: &str,
    password: Secret<String>,
    now: Timestamp,
) -> Result<(Organisation, Account), OrgError> {
    let pending = registration::take_verified((store, hasher), token, password, true, now).await?;
    let reg = pending.organisation.ok_or(AccountError::LinkInvalid)?;
    let org = Organisation {
        id: OrgId::random(),
        name: reg.name,
        trade_register: reg.trade_register,
        address: Some(reg.address),
        po_box: reg.po_box,
        admins_use_services: false,
        elster_id: reg.elster.as_ref().map(|(id, _)| id.clone()),
        created_at: now,
        updated_at: now,
    };
    let admin = Account {
        kind: AccountKind::Organisation,
        phone_number: Some(reg.phone_number),
        birthdate: Some(reg.birthdate),
        ..Account::citizen(pending.email, pending.password_hash, pending.given_name, pending.family_name, now)
    };
    let certificate = reg.elster.as_ref().map(|(_, hash)| hash.as_str());
    store.insert_organisation(&org, &admin, certificate).await.map_err(|e| match e {
        // The address, or the ELSTER organisation or certificate, was taken meanwhile.
        StoreError::Conflict(_) => OrgError::Account(AccountError::EmailTaken),
        other => OrgError::Store(other),
    })?;
    let operator = Admin::operator(org.id.clone());
    for id in &reg.services {
        let Some(client) = store.client(id).await? else { continue };
        match super::subscribe(store, &operator, &client, now).await {
            Ok(_) | Err(OrgError::NotForOrganisations | OrgError::AlreadySubscribed) => {}
            Err(e) => return Err(e),
        }
    }
    Event::new("org.register", now)
        .by_account(&admin.id)
        .details(org.id.to_string())
        .note(store)
        .await;
    Ok((org, admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> DataForm {
        DataForm {
            name: "Müller & Söhne GmbH".into(),
            trade_register: "HRB 4711".into(),
            street: "Hauptstraße".into(),
            house_number: "12a-c".into(),
            postal_code: "50667".into(),
            city: "Köln".into(),
            po_box: String::new(),
        }
    }

    #[test]
    fn r_org_1_r_org_2_step_one_names_every_broken_field_at_once() {
        let ok = check_data(&form()).unwrap();
        assert_eq!((ok.trade_register.as_deref(), ok.po_box.as_deref()), (Some("HRB 4711"), None));
        let bad = DataForm {
            name: "<Böse> AG".into(),
            house_number: "12 a".into(),
            po_box: "123".into(),
            city: String::new(),
            ..form()
        };
        let errors = check_data(&bad).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.0).collect();
        assert_eq!(fields, ["name", "house_number", "city", "po_box"]);
    }

    #[test]
    fn r_org_3_an_administrator_is_18_on_the_day() {
        let now = Timestamp(time::macros::datetime!(2026-12-03 12:00 UTC).unix_timestamp());
        assert!(adult("2008-12-03", now));
        assert!(adult("1960-01-01", now));
        assert!(!adult("2008-12-04", now));
        assert!(!adult("2010-01-01", now));
    }
}
