//! The organisation administration under `/api/v1/orgs/{org_id}` (PRODUCT §7, R-ORG-4…11):
//! scope `org:admin` on the token of an administrator of that very organisation; for anyone
//! else every path is a 404 (R-API-5). Every permission is decided in [`crate::orgs`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::JsonObject;
use super::paging::{Page, PageQuery, PageRequest};
use super::preconditions::{ETag, IfMatch, IfMatchHeader};
use super::{ApiError, Caller, Problem};
use crate::clients::Client;
use crate::clock;
use crate::ids::{AccountId, ClientId, GroupId, OrgId};
use crate::orgs::{self, Admin, OrgAddress, OrgChanges, OrgError, OrgRole, SubscriptionState};
use crate::protocol::scope::ORG_ADMIN;
use crate::state::AppState;
use crate::trust::TrustLevel;

/// The caller as administrator of `org_id`, or a 404 like for an unknown organisation.
async fn admin(state: &AppState, caller: &Caller, org_id: &str) -> Result<Admin, ApiError> {
    caller.require(ORG_ADMIN, TrustLevel::Basic)?;
    let Some(grant) = &caller.token.grant else {
        return Err(ApiError::NotFound);
    };
    orgs::admin_of(&state.store, &grant.account_id, &OrgId::from(org_id))
        .await
        .map_err(problem)
}

/// A registered service, or a 404.
async fn service(state: &AppState, caller: &Caller, client_id: &str) -> Result<Arc<Client>, ApiError> {
    if client_id.contains('\0') {
        return Err(ApiError::NotFound);
    }
    state
        .clients
        .get(&ClientId::from(client_id), caller.now)
        .await?
        .ok_or(ApiError::NotFound)
}

/// What every operation here can answer besides its own: a malformed request, no or a bad
/// token, a token without `org:admin`, nothing of that id for this caller, a passing outage.
#[derive(utoipa::IntoResponses)]
pub enum Refusals {
    /// A malformed request: a limit, a cursor, a body that is no JSON.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No token, or an invalid, expired or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token lacks the scope `org:admin`.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such organisation, or nothing of that id in it, for this caller (R-API-5).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// Try again shortly.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

fn problem(e: OrgError) -> ApiError {
    match e {
        OrgError::NotFound => ApiError::NotFound,
        OrgError::Invalid(f) => ApiError::Invalid(format!("{} is not valid", f.name())),
        OrgError::Locked(f) => ApiError::Conflict(format!("{} comes from ELSTER and cannot change", f.name())),
        OrgError::Account(crate::accounts::AccountError::EmailTaken) => {
            ApiError::Conflict("the email is the login name of another account".into())
        }
        OrgError::Account(a) => ApiError::Invalid(a.to_string()),
        e @ (OrgError::NotForOrganisations | OrgError::NotReleased | OrgError::AlreadySubscribed | OrgError::UnknownRole(_)) => {
            ApiError::Conflict(e.to_string())
        }
        OrgError::Stale => ApiError::PreconditionFailed,
        OrgError::LastAdmin | OrgError::PhoneRequired => ApiError::Conflict(e.to_string()),
        OrgError::Store(e) => e.into(),
    }
}

/// A postal address of an organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrgAddressView {
    /// Street (the town where there is no street).
    #[schema(max_length = 100, pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#)]
    pub street: String,
    /// House number: at most 11 letters, digits, `-`, `/` or `.`, no spaces, `0` where there is
    /// none.
    #[schema(max_length = 11, pattern = r#"^[A-Za-z0-9/.-]{1,11}$"#)]
    pub house_number: String,
    /// Postal code.
    #[schema(max_length = 100, pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#)]
    pub postal_code: String,
    /// Town.
    #[schema(max_length = 100, pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#)]
    pub city: String,
}

/// An organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    /// Its id, also the `org_id` claim.
    pub id: String,
    /// Its name, also the `org_name` claim.
    pub name: String,
    /// Handelsregisternummer.
    pub trade_register: Option<String>,
    /// Postal address.
    pub address: Option<OrgAddressView>,
    /// PO box: the preferred postal address when given.
    pub po_box: Option<String>,
    /// Whether administrators may use online services.
    pub admins_use_services: bool,
    /// Whether an ELSTER certificate was linked: name, register number and address are then
    /// read-only.
    pub elster_linked: bool,
}

fn org_view(o: orgs::Organisation) -> OrgView {
    OrgView {
        id: o.id.to_string(),
        name: o.name,
        trade_register: o.trade_register,
        address: o.address.map(|a| OrgAddressView {
            street: a.street,
            house_number: a.house_number,
            postal_code: a.postal_code,
            city: a.city,
        }),
        po_box: o.po_box,
        admins_use_services: o.admins_use_services,
        elster_linked: o.elster_id.is_some(),
    }
}

/// Changes to an organisation; absent fields stay, an empty text clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    /// A new name: 1–40 characters, no `" < > { } [ ]`.
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r#"^\s*[^\s"<>{}\[\]\x00-\x1f\x7f-\x9f][^"<>{}\[\]\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub name: Option<String>,
    /// A new Handelsregisternummer: letters, digits, spaces, `.`, `/`, `-` (empty: none).
    #[schema(max_length = 40, pattern = r#"^[A-Za-z0-9 ./-]*$"#)]
    pub trade_register: Option<String>,
    /// A new postal address.
    pub address: Option<OrgAddressView>,
    /// A new PO box, 4–20 digits (empty: none).
    #[schema(max_length = 20, pattern = r#"^([0-9]{4,20})?$"#)]
    pub po_box: Option<String>,
    /// Whether administrators may use online services.
    pub admins_use_services: Option<bool>,
}

/// Refuses a text longer than the document allows, before any trimming the domain does.
fn within(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::Invalid(format!("{field} has more than {max} characters"))),
        _ => Ok(()),
    }
}

fn json_ok<T: Serialize>(status: StatusCode, body: T) -> Response {
    (status, Json(body)).into_response()
}

fn with_etag<T: Serialize>(body: T) -> Response {
    let tag = ETag::of(&body);
    let mut res = json_ok(StatusCode::OK, body);
    tag.put(res.headers_mut());
    res
}

/// `GET /api/v1/orgs/{org_id}`.
#[utoipa::path(get, path = "/orgs/{org_id}", tag = "organisations", summary = "The organisation",
    params(("org_id" = String, Path, description = "The organisation's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "The organisation, with its `ETag`", body = OrgView),
        Refusals,
    ))]
pub async fn get_org(State(state): State<AppState>, caller: Caller, Path(org_id): Path<String>) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    Ok(with_etag(org_view(orgs::get(&state.store, &admin).await.map_err(problem)?)))
}

/// `PATCH /api/v1/orgs/{org_id}`.
#[utoipa::path(patch, path = "/orgs/{org_id}", tag = "organisations", summary = "Change the organisation's data or the switch for administrators",
    params(("org_id" = String, Path, description = "The organisation's id"),
        IfMatchHeader),
    request_body = OrgPatch,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "The changed organisation, with its new `ETag`", body = OrgView),
        Refusals,
        (status = 409, description = "A field that ELSTER gave cannot change", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The organisation changed since the `ETag` named", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    JsonObject(patch): JsonObject<OrgPatch>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let if_match = IfMatch::from_headers(&headers);
    within("name", patch.name.as_deref(), 40)?;
    within("trade_register", patch.trade_register.as_deref(), 40)?;
    within("po_box", patch.po_box.as_deref(), 20)?;
    if let Some(a) = &patch.address {
        for (field, value, max) in [
            ("street", &a.street, 100),
            ("house_number", &a.house_number, 11),
            ("postal_code", &a.postal_code, 100),
            ("city", &a.city, 100),
        ] {
            within(field, Some(value), max)?;
        }
    }
    let changes = OrgChanges {
        name: patch.name,
        trade_register: patch.trade_register,
        address: patch.address.map(|a| OrgAddress {
            street: a.street,
            house_number: a.house_number,
            postal_code: a.postal_code,
            city: a.city,
        }),
        po_box: patch.po_box,
        admins_use_services: patch.admins_use_services,
    };
    let current = |org: &orgs::Organisation| if_match.check(&ETag::of(&org_view(org.clone()))).is_ok();
    let org = orgs::update(&state.store, &admin, changes, current, caller.now)
        .await
        .map_err(problem)?;
    Ok(with_etag(org_view(org)))
}

/// `DELETE /api/v1/orgs/{org_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}", tag = "organisations",
    summary = "Delete the organisation at once and for good, with every user; its administrators are told by mail",
    params(("org_id" = String, Path, description = "The organisation's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
    ))]
pub async fn delete_org(State(state): State<AppState>, caller: Caller, Path(org_id): Path<String>) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let ended = orgs::delete(state.account_env(), &admin, caller.now).await.map_err(problem)?;
    for e in ended {
        crate::http::pages::tell_services(&state, e, caller.now).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A service granted, with the roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceGrant {
    /// The service's `client_id`.
    pub client_id: String,
    /// The roles granted (possibly none).
    pub roles: Vec<String>,
}

fn role_names(body: Roles) -> Vec<String> {
    body.roles.into_iter().map(|r| r.0).collect()
}

fn grants(list: Vec<(ClientId, Vec<String>)>) -> Vec<ServiceGrant> {
    list.into_iter()
        .map(|(c, roles)| ServiceGrant {
            client_id: c.to_string(),
            roles,
        })
        .collect()
}

/// A user of the organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The user's id.
    pub id: String,
    /// The login email.
    pub email: String,
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Phone number (required for administrators).
    pub phone_number: Option<String>,
    /// `admin` or `employee`.
    pub role: String,
    /// The services granted to the user directly (in a single user's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceGrant>>,
}

fn user_view(u: orgs::OrgUser, services: Option<Vec<ServiceGrant>>) -> UserView {
    UserView {
        id: u.account.id.to_string(),
        email: u.account.email,
        given_name: u.account.given_name,
        family_name: u.account.family_name,
        phone_number: u.account.phone_number,
        role: match u.role {
            OrgRole::Admin => "admin",
            OrgRole::Employee => "employee",
        }
        .into(),
        services,
    }
}

/// A page of the organisation's users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users, by id.
    pub items: Vec<UserView>,
    /// Where the next page starts; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn page_limit(request: &PageRequest) -> u32 {
    request.limit + 1
}

/// `GET /api/v1/orgs/{org_id}/users`.
#[utoipa::path(get, path = "/orgs/{org_id}/users", tag = "organisations", summary = "The organisation's users",
    params(("org_id" = String, Path, description = "The organisation's id"), PageQuery),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        Refusals,
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<UserPage>, ApiError> {
    // Who asks comes first: to anyone but an administrator every path is the same 404.
    let admin = admin(&state, &caller, &org_id).await?;
    let request = page.checked()?;
    let users = orgs::users(&state.store, &admin, request.after.as_deref(), page_limit(&request))
        .await
        .map_err(problem)?;
    let page = Page::of(users, &request, |u| u.account.id.to_string());
    Ok(Json(UserPage {
        items: page.items.into_iter().map(|u| user_view(u, None)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `DELETE /api/v1/orgs/{org_id}/users/{user_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/users/{user_id}", tag = "organisations",
    summary = "Delete a user with all their permissions; they are told by mail",
    params(("org_id" = String, Path, description = "The organisation's id"), ("user_id" = String, Path, description = "The user's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
        (status = 409, description = "The last administrator cannot be deleted", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let ended = orgs::remove_user(state.account_env(), &admin, &AccountId::from(user_id.as_str()), caller.now)
        .await
        .map_err(problem)?;
    crate::http::pages::tell_services(&state, ended, caller.now).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/orgs/{org_id}/users/{user_id}`.
#[utoipa::path(get, path = "/orgs/{org_id}/users/{user_id}", tag = "organisations", summary = "One user with the services granted directly",
    params(("org_id" = String, Path, description = "The organisation's id"), ("user_id" = String, Path, description = "The user's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "The user", body = UserView),
        Refusals,
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let (user, services) = orgs::user(&state.store, &admin, &AccountId::from(user_id.as_str()))
        .await
        .map_err(problem)?;
    Ok(with_etag(user_view(user, Some(grants(services)))))
}

/// An administrator or an employee.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleChoice {
    /// An administrator: has a phone number (R-ORG-4).
    Admin,
    /// An employee.
    Employee,
}

impl From<RoleChoice> for OrgRole {
    fn from(r: RoleChoice) -> Self {
        match r {
            RoleChoice::Admin => OrgRole::Admin,
            RoleChoice::Employee => OrgRole::Employee,
        }
    }
}

/// The role `admin`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// An administrator.
    Admin,
}

/// The role `employee`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmployeeRole {
    /// An employee.
    Employee,
}

/// A new administrator, with a phone number (R-ORG-4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdmin {
    /// `admin`.
    pub role: AdminRole,
    /// The login email: a plain address in ASCII, no spaces, no umlauts (R-ORG-3).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Given name(s).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub given_name: String,
    /// Family name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub family_name: String,
    /// Phone number: digits, spaces and `+ - / ( )`.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9+()/-]([0-9+ ()/-]*[0-9+()/-])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub phone_number: String,
}

/// A new employee.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmployee {
    /// `employee`.
    pub role: EmployeeRole,
    /// The login email: a plain address in ASCII, no spaces, no umlauts (R-ORG-3).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Given name(s).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub given_name: String,
    /// Family name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub family_name: String,
    /// Phone number: digits, spaces and `+ - / ( )`; empty for none.
    #[schema(
        max_length = 100,
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*([0-9+()/-]([0-9+ ()/-]*[0-9+()/-])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"#
    )]
    pub phone_number: Option<String>,
}

/// A new user of the organisation, who sets their own password through the mailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum NewUser {
    /// An administrator.
    Admin(NewAdmin),
    /// An employee.
    Employee(NewEmployee),
}

/// `POST /api/v1/orgs/{org_id}/users`.
#[utoipa::path(post, path = "/orgs/{org_id}/users", tag = "organisations",
    summary = "Create a user: they get a link, valid 14 days, to set their own password",
    params(("org_id" = String, Path, description = "The organisation's id")),
    request_body = NewUser,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 201, description = "The user, not yet activated", body = UserView),
        Refusals,
        (status = 409, description = "The email is another account's login name", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    JsonObject(body): JsonObject<NewUser>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let new = match body {
        NewUser::Admin(a) => orgs::NewOrgUser {
            email: a.email,
            given_name: a.given_name,
            family_name: a.family_name,
            role: OrgRole::Admin,
            phone_number: Some(a.phone_number),
        },
        NewUser::Employee(e) => orgs::NewOrgUser {
            email: e.email,
            given_name: e.given_name,
            family_name: e.family_name,
            role: OrgRole::Employee,
            phone_number: e.phone_number,
        },
    };
    within("given_name", Some(&new.given_name), 100)?;
    within("family_name", Some(&new.family_name), 100)?;
    within("phone_number", new.phone_number.as_deref(), 100)?;
    let user = orgs::invite(state.account_env(), &admin, new, caller.now).await.map_err(problem)?;
    Ok(json_ok(StatusCode::CREATED, user_view(user, Some(Vec::new()))))
}

/// Changes to a user; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// A new login email (R-ORG-6): it takes effect once confirmed through the link mailed to
    /// it; an invitation not yet used goes to the new address at once.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// New given name(s).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub given_name: Option<String>,
    /// A new family name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub family_name: Option<String>,
    /// A new phone number: digits, spaces and `+ - / ( )`.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[0-9+()/-]([0-9+ ()/-]*[0-9+()/-])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"#
    )]
    pub phone_number: Option<String>,
    /// A new role: an administrator needs a phone number, and the last administrator stays one.
    pub role: Option<RoleChoice>,
}

/// `PATCH /api/v1/orgs/{org_id}/users/{user_id}`.
#[utoipa::path(patch, path = "/orgs/{org_id}/users/{user_id}", tag = "organisations",
    summary = "Change a user's data, email or role",
    params(("org_id" = String, Path, description = "The organisation's id"), ("user_id" = String, Path, description = "The user's id"),
        IfMatchHeader),
    request_body = UserPatch,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "The user as changed (a new email shows once confirmed), with the new `ETag`", body = UserView),
        Refusals,
        (status = 409, description = "The last administrator cannot become an employee, an administrator needs a phone number, or the email is another invitation's", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed since the `ETag` named", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonObject(body): JsonObject<UserPatch>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let if_match = IfMatch::from_headers(&headers);
    within("given_name", body.given_name.as_deref(), 100)?;
    within("family_name", body.family_name.as_deref(), 100)?;
    within("phone_number", body.phone_number.as_deref(), 100)?;
    let changes = orgs::UserChanges {
        email: body.email,
        given_name: body.given_name,
        family_name: body.family_name,
        phone_number: body.phone_number,
        role: body.role.map(OrgRole::from),
    };
    let view = |(user, services): orgs::UserDetail| user_view(user, Some(grants(services)));
    let current = |d: &orgs::UserDetail| if_match.check(&ETag::of(&view(d.clone()))).is_ok();
    let detail = orgs::update_user(
        state.account_env(),
        &admin,
        &AccountId::from(user_id.as_str()),
        changes,
        current,
        caller.now,
    )
    .await
    .map_err(problem)?;
    Ok(with_etag(view(detail)))
}

/// A role's name as services define them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(pattern = r#"^[A-Za-z0-9._:-]{1,64}$"#)]
pub struct RoleName(pub String);

/// The roles of a grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// Roles the service defines (possibly none; one named twice counts once); one it does
    /// not define is a 409.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub roles: Vec<RoleName>,
}

/// `PUT /api/v1/orgs/{org_id}/users/{user_id}/services/{client_id}`.
#[utoipa::path(put, path = "/orgs/{org_id}/users/{user_id}/services/{client_id}", tag = "organisations",
    summary = "Grant a released service to a user directly, with roles",
    params(("org_id" = String, Path, description = "The organisation's id"), ("user_id" = String, Path, description = "The user's id"),
        ("client_id" = String, Path, description = "The service's client id")),
    request_body = Roles,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Granted (roles replaced)"),
        Refusals,
        (status = 409, description = "The service is not released for the organisation, or defines no such role", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name that cannot be a role's, or a body that is no object", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn grant_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id, client_id)): Path<(String, String, String)>,
    JsonObject(body): JsonObject<Roles>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let client = service(&state, &caller, &client_id).await?;
    orgs::grant(&state.store, &admin, &AccountId::from(user_id.as_str()), &client, &role_names(body))
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/orgs/{org_id}/users/{user_id}/services/{client_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/users/{user_id}/services/{client_id}", tag = "organisations",
    summary = "Withdraw a direct grant (what groups give stays)",
    params(("org_id" = String, Path, description = "The organisation's id"), ("user_id" = String, Path, description = "The user's id"),
        ("client_id" = String, Path, description = "The service's client id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Withdrawn"),
        Refusals,
    ))]
pub async fn revoke_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id, client_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    orgs::revoke(
        &state.store,
        &admin,
        &AccountId::from(user_id.as_str()),
        &ClientId::from(client_id.as_str()),
    )
    .await
    .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A group in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    /// The group's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its members' user ids (in a single group's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// Its services with their roles (in a single group's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceGrant>>,
}

fn group_view(d: orgs::GroupDetail) -> GroupView {
    GroupView {
        id: d.group.id.to_string(),
        name: d.group.name,
        description: d.group.description,
        members: Some(d.members.into_iter().map(|m| m.to_string()).collect()),
        services: Some(grants(d.services)),
    }
}

/// A page of the organisation's groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    /// The groups, by id.
    pub items: Vec<GroupView>,
    /// Where the next page starts; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A new group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Its name, 1–100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub name: String,
    /// Its description, at most 500 characters.
    #[schema(max_length = 500, pattern = r#"^[^<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"#)]
    pub description: Option<String>,
}

/// Changes to a group; absent fields stay, an empty description clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    /// A new name, 1–100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r#"^\s*[^\s<>\x00-\x1f\x7f-\x9f][^<>\x00-\x1f\x7f-\x9f]*$"#
    )]
    pub name: Option<String>,
    /// A new description, at most 500 characters.
    #[schema(max_length = 500, pattern = r#"^[^<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"#)]
    pub description: Option<String>,
}

/// `GET /api/v1/orgs/{org_id}/groups`.
#[utoipa::path(get, path = "/orgs/{org_id}/groups", tag = "organisations", summary = "The organisation's groups",
    params(("org_id" = String, Path, description = "The organisation's id"), PageQuery),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "A page of groups", body = GroupPage),
        Refusals,
    ))]
pub async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<GroupPage>, ApiError> {
    // Who asks comes first: to anyone but an administrator every path is the same 404.
    let admin = admin(&state, &caller, &org_id).await?;
    let request = page.checked()?;
    let list = orgs::groups(&state.store, &admin, request.after.as_deref(), page_limit(&request))
        .await
        .map_err(problem)?;
    let page = Page::of(list, &request, |g| g.id.to_string());
    Ok(Json(GroupPage {
        items: page
            .items
            .into_iter()
            .map(|g| GroupView {
                id: g.id.to_string(),
                name: g.name,
                description: g.description,
                members: None,
                services: None,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `POST /api/v1/orgs/{org_id}/groups`.
#[utoipa::path(post, path = "/orgs/{org_id}/groups", tag = "organisations", summary = "Create a group",
    params(("org_id" = String, Path, description = "The organisation's id")),
    request_body = NewGroup,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 201, description = "The group", body = GroupView),
        Refusals,
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    JsonObject(body): JsonObject<NewGroup>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    within("name", Some(&body.name), 100)?;
    within("description", body.description.as_deref(), 500)?;
    let group = orgs::create_group(&state.store, &admin, &body.name, body.description.as_deref(), caller.now)
        .await
        .map_err(problem)?;
    let detail = orgs::group(&state.store, &admin, &group.id).await.map_err(problem)?;
    Ok(json_ok(StatusCode::CREATED, group_view(detail)))
}

/// `GET /api/v1/orgs/{org_id}/groups/{group_id}`.
#[utoipa::path(get, path = "/orgs/{org_id}/groups/{group_id}", tag = "organisations", summary = "One group with its members and services",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "The group", body = GroupView),
        Refusals,
    ))]
pub async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let detail = orgs::group(&state.store, &admin, &GroupId::from(group_id.as_str()))
        .await
        .map_err(problem)?;
    Ok(with_etag(group_view(detail)))
}

/// `PATCH /api/v1/orgs/{org_id}/groups/{group_id}`.
#[utoipa::path(patch, path = "/orgs/{org_id}/groups/{group_id}", tag = "organisations", summary = "Rename a group or change its description",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id"),
        IfMatchHeader),
    request_body = GroupPatch,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "The changed group", body = GroupView),
        Refusals,
        (status = 412, description = "The group changed since the `ETag` named", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonObject(body): JsonObject<GroupPatch>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let if_match = IfMatch::from_headers(&headers);
    within("name", body.name.as_deref(), 100)?;
    within("description", body.description.as_deref(), 500)?;
    let id = GroupId::from(group_id.as_str());
    let current = |d: &orgs::GroupDetail| if_match.check(&ETag::of(&group_view(d.clone()))).is_ok();
    let detail = orgs::update_group(
        &state.store,
        &admin,
        &id,
        (body.name.as_deref(), body.description.as_deref()),
        current,
    )
    .await
    .map_err(problem)?;
    Ok(with_etag(group_view(detail)))
}

/// `DELETE /api/v1/orgs/{org_id}/groups/{group_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/groups/{group_id}", tag = "organisations",
    summary = "Delete a group: exactly what came through it is revoked",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Deleted"),
        Refusals,
    ))]
pub async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    orgs::delete_group(&state.store, &admin, &GroupId::from(group_id.as_str()))
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/orgs/{org_id}/groups/{group_id}/members/{user_id}`.
#[utoipa::path(put, path = "/orgs/{org_id}/groups/{group_id}/members/{user_id}", tag = "organisations", summary = "Make a user a member of a group",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id"),
        ("user_id" = String, Path, description = "The user's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "A member (again: no change)"),
        Refusals,
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id, user_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    orgs::add_member(
        &state.store,
        &admin,
        &GroupId::from(group_id.as_str()),
        &AccountId::from(user_id.as_str()),
    )
    .await
    .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/orgs/{org_id}/groups/{group_id}/members/{user_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/groups/{group_id}/members/{user_id}", tag = "organisations",
    summary = "Take a user out of a group: what came through it is revoked",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id"),
        ("user_id" = String, Path, description = "The user's id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "No longer a member"),
        Refusals,
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id, user_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    orgs::remove_member(
        &state.store,
        &admin,
        &GroupId::from(group_id.as_str()),
        &AccountId::from(user_id.as_str()),
    )
    .await
    .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/orgs/{org_id}/groups/{group_id}/services/{client_id}`.
#[utoipa::path(put, path = "/orgs/{org_id}/groups/{group_id}/services/{client_id}", tag = "organisations",
    summary = "Grant a released service to a group, with roles",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id"),
        ("client_id" = String, Path, description = "The service's client id")),
    request_body = Roles,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Granted (roles replaced)"),
        Refusals,
        (status = 409, description = "The service is not released for the organisation, or defines no such role", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A name that cannot be a role's, or a body that is no object", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn grant_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id, client_id)): Path<(String, String, String)>,
    JsonObject(body): JsonObject<Roles>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let client = service(&state, &caller, &client_id).await?;
    orgs::grant_to_group(&state.store, &admin, &GroupId::from(group_id.as_str()), &client, &role_names(body))
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/orgs/{org_id}/groups/{group_id}/services/{client_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/groups/{group_id}/services/{client_id}", tag = "organisations",
    summary = "Withdraw a service from a group",
    params(("org_id" = String, Path, description = "The organisation's id"), ("group_id" = String, Path, description = "The group's id"),
        ("client_id" = String, Path, description = "The service's client id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Withdrawn"),
        Refusals,
    ))]
pub async fn revoke_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, group_id, client_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    orgs::revoke_from_group(
        &state.store,
        &admin,
        &GroupId::from(group_id.as_str()),
        &ClientId::from(client_id.as_str()),
    )
    .await
    .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A subscription to a service.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// The service's client id; also the subscription's id in its path.
    pub id: String,
    /// The service's name.
    pub name: String,
    /// `released`, or `pending` until the Fachliche Leitstelle approves.
    pub state: String,
    /// When the organisation subscribed (RFC 3339).
    pub requested_at: String,
    /// When it was released (RFC 3339).
    pub decided_at: Option<String>,
}

fn subscription_view(s: orgs::Subscription, name: String) -> SubscriptionView {
    SubscriptionView {
        id: s.client_id.to_string(),
        name,
        state: match s.state {
            SubscriptionState::Released => "released",
            SubscriptionState::Pending => "pending",
        }
        .into(),
        requested_at: clock::rfc3339(s.requested_at).unwrap_or_default(),
        decided_at: s.decided_at.and_then(clock::rfc3339),
    }
}

/// The organisation's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionPage {
    /// The subscriptions, by service.
    pub items: Vec<SubscriptionView>,
    /// Where the next page starts; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A subscription to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The service's client id.
    #[schema(min_length = 1, max_length = 100)]
    pub client_id: String,
}

/// `GET /api/v1/orgs/{org_id}/services`.
#[utoipa::path(get, path = "/orgs/{org_id}/services", tag = "organisations", summary = "The organisation's subscriptions",
    params(("org_id" = String, Path, description = "The organisation's id"), PageQuery),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 200, description = "A page of subscriptions", body = SubscriptionPage),
        Refusals,
    ))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<SubscriptionPage>, ApiError> {
    // Who asks comes first: to anyone but an administrator every path is the same 404.
    let admin = admin(&state, &caller, &org_id).await?;
    let request = page.checked()?;
    let after = request.after.clone().unwrap_or_default();
    let all: Vec<_> = orgs::subscriptions(&state.store, &admin)
        .await
        .map_err(problem)?
        .into_iter()
        .filter(|s| s.client_id.as_str() > after.as_str())
        .take(page_limit(&request) as usize)
        .collect();
    let page = Page::of(all, &request, |s| s.client_id.to_string());
    let mut items = Vec::with_capacity(page.items.len());
    for s in page.items {
        let name = service(&state, &caller, s.client_id.as_str())
            .await
            .map(|c| c.name.clone())
            .unwrap_or_default();
        items.push(subscription_view(s, name));
    }
    Ok(Json(SubscriptionPage {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// `POST /api/v1/orgs/{org_id}/services`.
#[utoipa::path(post, path = "/orgs/{org_id}/services", tag = "organisations",
    summary = "Subscribe to a service: released at once, or pending until the Fachliche Leitstelle approves",
    params(("org_id" = String, Path, description = "The organisation's id")),
    request_body = NewSubscription,
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 201, description = "The subscription", body = SubscriptionView),
        Refusals,
        (status = 409, description = "Subscribed already, or the service is not for organisations", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A value breaks its rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    JsonObject(body): JsonObject<NewSubscription>,
) -> Result<Response, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    let client = service(&state, &caller, &body.client_id).await?;
    let s = orgs::subscribe(&state.store, &admin, &client, caller.now).await.map_err(problem)?;
    Ok(json_ok(StatusCode::CREATED, subscription_view(s, client.name.clone())))
}

/// `DELETE /api/v1/orgs/{org_id}/services/{client_id}`.
#[utoipa::path(delete, path = "/orgs/{org_id}/services/{client_id}", tag = "organisations",
    summary = "Unsubscribe: every grant of the service in the organisation goes with it",
    params(("org_id" = String, Path, description = "The organisation's id"), ("client_id" = String, Path, description = "The service's client id")),
    security(("bearer" = ["org:admin"])),
    responses(
        (status = 204, description = "Unsubscribed"),
        Refusals,
    ))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, client_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let admin = admin(&state, &caller, &org_id).await?;
    orgs::unsubscribe(&state.store, &admin, &ClientId::from(client_id.as_str()))
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}
