//! The administration of one's organisation under `/org/` (R-ORG-4…11): its data and the
//! switch for administrators, its users (invite, grant services with roles, delete), its
//! subscriptions, and its deletion. Only an administrator of the organisation gets these pages;
//! every permission is decided in [`crate::orgs`], as for the API.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::instrument;

use super::{CheckedForm, PageLocale, Render, form_page, require_account, tell_services, unavailable};
use crate::accounts::AccountError;
use crate::clients::Client;
use crate::clock::Timestamp;
use crate::http::cookies::{Browser, Cookies};
use crate::ids::{AccountId, ClientId, GroupId};
use crate::orgs::{self, Admin, NewOrgUser, OrgError, OrgField, OrgRole, SubscriptionState};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::state::AppState;

/// Routes of the organisation's administration.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ORG_ADMIN, get(overview))
        .route(paths::ORG_SWITCH, post(switch))
        .route(paths::ORG_USERS_NEW, get(invite_page).post(invite))
        .route(paths::ORG_USERS_DELETE, post(delete_user))
        .route("/org/users/{user_id}", get(user_page).post(user_save))
        .route("/org/users/{user_id}/services", get(grants_page).post(grants))
        .route(paths::ORG_GROUPS, post(create_group))
        .route("/org/groups/{group_id}", get(group_page).post(group_save))
        .route(paths::ORG_SUBSCRIBE, post(subscribe))
        .route(paths::ORG_UNSUBSCRIBE, post(unsubscribe))
        .route(paths::ORG_DELETE, get(delete_page).post(delete_org))
}

/// The logged-in administrator of an organisation; anyone else logged in gets the 404 page, as
/// the API answers them (R-API-5).
pub struct OrgAdmin {
    /// Proof of the administration.
    pub admin: Admin,
    /// The browser.
    pub browser: Browser,
    /// When the request came.
    pub now: Timestamp,
}

impl axum::extract::FromRequestParts<AppState> for OrgAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(cookies) = Cookies::from_request_parts(parts, state).await;
        let Ok(PageLocale(locale)) = PageLocale::from_request_parts(parts, state).await;
        let now = state.clock.now();
        let (_, account) = require_account(state, &cookies, now, paths::ORG_ADMIN).await?;
        match orgs::administered(&state.store, &account.id).await {
            Ok(admin) => Ok(OrgAdmin {
                admin,
                browser: Browser::from_cookies(&cookies),
                now,
            }),
            Err(OrgError::NotFound) => Err(state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None)),
            Err(e) => Err(unavailable(state, locale, &e)),
        }
    }
}

/// The page for a refusal of the domain that no form field explains.
fn refused(state: &AppState, locale: Locale, e: &OrgError) -> Response {
    match e {
        OrgError::NotFound => state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
        OrgError::LastAdmin => state.pages.error(StatusCode::CONFLICT, locale, "err_last_admin", None),
        OrgError::NotReleased | OrgError::NotForOrganisations | OrgError::AlreadySubscribed | OrgError::UnknownRole(_) => {
            state.pages.error(StatusCode::CONFLICT, locale, "org_err_service", None)
        }
        OrgError::Invalid(_) | OrgError::Account(_) | OrgError::Locked(_) | OrgError::Stale | OrgError::PhoneRequired => {
            state.pages.error(StatusCode::BAD_REQUEST, locale, "err_form", None)
        }
        OrgError::Store(e) => unavailable(state, locale, e),
    }
}

async fn clients(state: &AppState) -> Result<Vec<Client>, crate::store::StoreError> {
    state.store.clients().await
}

/// Query of `GET /org/`.
#[derive(Deserialize)]
pub struct OverviewQuery {
    done: Option<String>,
}

/// `GET /org/`: the organisation, its users and its subscriptions.
pub async fn overview(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let loaded = async {
        let org = orgs::get(&state.store, &admin).await?;
        let users = orgs::users(&state.store, &admin, None, 500).await?;
        let groups = orgs::groups(&state.store, &admin, None, 500).await?;
        let subscriptions = orgs::subscriptions(&state.store, &admin).await?;
        let all = clients(&state).await?;
        Ok::<_, OrgError>((org, users, groups, subscriptions, all))
    };
    let (org, users, groups, subscriptions, all) = match loaded.await {
        Ok(v) => v,
        Err(e) => return refused(&state, locale, &e),
    };
    let name_of = |id: &ClientId| {
        all.iter()
            .find(|c| c.id == *id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let subscribed: Vec<Value> = subscriptions
        .iter()
        .map(|s| {
            json!({
                "client_id": s.client_id.as_str(),
                "name": name_of(&s.client_id),
                "released": s.state == SubscriptionState::Released,
            })
        })
        .collect();
    let offered: Vec<Value> = orgs::registration::offered(&all)
        .into_iter()
        .filter(|c| !subscriptions.iter().any(|s| s.client_id == c.id))
        .map(|c| json!({ "client_id": c.id.as_str(), "name": c.name, "requires_approval": c.requires_approval }))
        .collect();
    let users: Vec<Value> = users
        .into_iter()
        .map(|u| {
            json!({
                "id": u.account.id.as_str(),
                "name": format!("{} {}", u.account.given_name, u.account.family_name),
                "email": u.account.email,
                "admin": u.role == OrgRole::Admin,
                "activated": u.account.email_verified,
            })
        })
        .collect();
    let address = org
        .address
        .as_ref()
        .map(|a| format!("{} {}, {} {}", a.street, a.house_number, a.postal_code, a.city));
    let notice = match q.done.as_deref() {
        Some("invited") => Some("org_notice_invited"),
        Some("deleted") => Some("org_notice_user_deleted"),
        Some("granted") => Some("org_notice_granted"),
        Some("subscribed") => Some("org_notice_subscribed"),
        Some("unsubscribed") => Some("org_notice_unsubscribed"),
        Some("switched") => Some("org_notice_switched"),
        Some("group_saved") => Some("org_notice_group_saved"),
        Some("group_deleted") => Some("org_notice_group_deleted"),
        _ => None,
    };
    let view = json!({
        "org": { "name": org.name, "trade_register": org.trade_register, "address": address, "po_box": org.po_box,
                 "admins_use_services": org.admins_use_services, "elster": org.elster_id.is_some() },
        "users": users,
        "groups": groups.iter().map(|g| json!({ "id": g.id.as_str(), "name": g.name, "description": g.description })).collect::<Vec<_>>(),
        "subscriptions": subscribed,
        "offered": offered,
        "notice": notice.map(|k| state.pages.text(locale, k)),
    });
    form_page(&state, &browser, ("pages/org_admin.html", locale, true), StatusCode::OK, view, &[])
}

/// Form of `POST /org/switch`.
#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    on: String,
}

/// `POST /org/switch`: administrators may, or may not, use online services (R-ORG-8).
#[instrument(skip_all)]
pub async fn switch(
    State(state): State<AppState>,
    OrgAdmin { admin, now, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<SwitchForm>,
) -> Response {
    match orgs::set_admins_use_services(&state.store, &admin, f.on == "yes", now).await {
        Ok(()) => Redirect::to(&format!("{}?done=switched", paths::ORG_ADMIN)).into_response(),
        Err(e) => refused(&state, locale, &e),
    }
}

/// The field of a user's form that a refusal belongs to, with the catalog key explaining it;
/// `None` when no field explains it.
fn user_field(e: &OrgError) -> Option<(&'static str, &'static str)> {
    Some(match e {
        OrgError::Invalid(OrgField::Email) => ("email", "field_org_email_invalid"),
        OrgError::Account(AccountError::EmailTaken) => ("email", "org_field_email_taken"),
        OrgError::PhoneRequired => ("phone_number", "org_field_phone_required"),
        OrgError::LastAdmin => ("role", "org_field_last_admin"),
        OrgError::Account(AccountError::Invalid(field)) => field.error(),
        _ => return None,
    })
}

/// Form of `POST /org/users/new`.
#[derive(Deserialize, Default)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    phone_number: String,
}

fn invite_view(f: &InviteForm) -> Value {
    let cut = |v: &str, n: usize| v.chars().take(n).collect::<String>();
    json!({ "form": {
        "email": cut(&f.email, 254), "given_name": cut(&f.given_name, 100), "family_name": cut(&f.family_name, 100),
        "phone_number": cut(&f.phone_number, 100), "admin": f.role == "admin",
    }})
}

/// `GET /org/users/new`.
pub async fn invite_page(State(state): State<AppState>, OrgAdmin { browser, .. }: OrgAdmin, PageLocale(locale): PageLocale) -> Response {
    form_page(
        &state,
        &browser,
        ("pages/org_invite.html", locale, true),
        StatusCode::OK,
        invite_view(&InviteForm::default()),
        &[],
    )
}

/// `POST /org/users/new`: creates the user, who gets a link valid 14 days (R-ORG-4).
#[instrument(skip_all)]
pub async fn invite(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, now }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<InviteForm>,
) -> Response {
    let role = if f.role == "admin" { OrgRole::Admin } else { OrgRole::Employee };
    let new = NewOrgUser {
        email: f.email.trim().to_string(),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        role,
        phone_number: Some(f.phone_number.clone()),
    };
    let field = match orgs::invite(state.account_env(), &admin, new, now).await {
        Ok(_) => return Redirect::to(&format!("{}?done=invited", paths::ORG_ADMIN)).into_response(),
        Err(e) => match user_field(&e) {
            Some(field) => field,
            None => return refused(&state, locale, &e),
        },
    };
    form_page(
        &state,
        &browser,
        ("pages/org_invite.html", locale, true),
        StatusCode::BAD_REQUEST,
        invite_view(&f),
        &[field],
    )
}

/// Form of `POST /org/users/{user_id}`.
#[derive(Deserialize, Default)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    phone_number: String,
}

fn user_view(id: &str, f: &UserForm, notice: Option<String>) -> Value {
    let cut = |v: &str, n: usize| v.chars().take(n).collect::<String>();
    json!({
        "user": { "id": id },
        "form": {
            "email": cut(&f.email, 254), "given_name": cut(&f.given_name, 100), "family_name": cut(&f.family_name, 100),
            "phone_number": cut(&f.phone_number, 100), "admin": f.role == "admin",
        },
        "notice": notice,
    })
}

/// Query of `GET /org/users/{user_id}`.
#[derive(Deserialize)]
pub struct UserQuery {
    done: Option<String>,
}

/// `GET /org/users/{user_id}`: a user's data, email and role to change (R-ORG-6).
pub async fn user_page(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Path(user_id): Path<String>,
    Query(q): Query<UserQuery>,
) -> Response {
    let (user, _) = match orgs::user(&state.store, &admin, &AccountId::from(user_id.as_str())).await {
        Ok(d) => d,
        Err(e) => return refused(&state, locale, &e),
    };
    let a = &user.account;
    let form = UserForm {
        email: a.email.clone(),
        given_name: a.given_name.clone(),
        family_name: a.family_name.clone(),
        role: user.role.as_str().to_string(),
        phone_number: a.phone_number.clone().unwrap_or_default(),
    };
    let notice = q.done.is_some().then(|| state.pages.text(locale, "org_notice_user_saved"));
    let view = user_view(a.id.as_str(), &form, notice);
    form_page(&state, &browser, ("pages/org_user.html", locale, true), StatusCode::OK, view, &[])
}

/// `POST /org/users/{user_id}`: saves names, phone and role; a new email is confirmed by the new
/// address first (or, for an invitation not yet used, the invitation moves to it).
#[instrument(skip_all)]
pub async fn user_save(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, now }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Path(user_id): Path<String>,
    CheckedForm(f): CheckedForm<UserForm>,
) -> Response {
    let changes = orgs::UserChanges {
        email: Some(f.email.trim().to_string()),
        given_name: Some(f.given_name.clone()),
        family_name: Some(f.family_name.clone()),
        phone_number: Some(f.phone_number.clone()).filter(|p| !p.trim().is_empty()),
        role: Some(if f.role == "admin" { OrgRole::Admin } else { OrgRole::Employee }),
    };
    let id = AccountId::from(user_id.as_str());
    let field = match orgs::update_user(state.account_env(), &admin, &id, changes, |_| true, now).await {
        Ok(_) => return Redirect::to(&format!("/org/users/{id}?done=saved")).into_response(),
        Err(e) => match user_field(&e) {
            Some(field) => field,
            None => return refused(&state, locale, &e),
        },
    };
    let view = user_view(id.as_str(), &f, None);
    form_page(
        &state,
        &browser,
        ("pages/org_user.html", locale, true),
        StatusCode::BAD_REQUEST,
        view,
        &[field],
    )
}

/// Form of `POST /org/users/delete`.
#[derive(Deserialize)]
pub struct DeleteUserForm {
    #[serde(default)]
    user_id: String,
}

/// `POST /org/users/delete`: deletes a user, never the last administrator (R-ORG-5).
#[instrument(skip_all)]
pub async fn delete_user(
    State(state): State<AppState>,
    OrgAdmin { admin, now, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<DeleteUserForm>,
) -> Response {
    match orgs::remove_user(state.account_env(), &admin, &AccountId::from(f.user_id.as_str()), now).await {
        Ok(ended) => {
            tell_services(&state, ended, now).await;
            Redirect::to(&format!("{}?done=deleted", paths::ORG_ADMIN)).into_response()
        }
        Err(e) => refused(&state, locale, &e),
    }
}

/// The organisation's released services (R-ORG-7: only these can be assigned).
fn released<'a>(subscriptions: &[orgs::Subscription], all: &'a [Client]) -> Vec<&'a Client> {
    subscriptions
        .iter()
        .filter(|s| s.state == SubscriptionState::Released)
        .filter_map(|s| all.iter().find(|c| c.id == s.client_id))
        .collect()
}

/// The boxes of the released services: `grant.<client_id>` and `role.<client_id>.<role>`,
/// ticked where `granted` holds the service.
fn choices(services: &[&Client], granted: &[(ClientId, Vec<String>)]) -> Vec<Value> {
    services
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let roles = granted.iter().find(|(id, _)| *id == c.id).map(|(_, r)| r);
            json!({
                "n": i,
                "client_id": c.id.as_str(),
                "name": c.name,
                "granted": roles.is_some(),
                "roles": c.roles.iter().enumerate().map(|(j, r)| json!({
                    "n": j, "name": r, "granted": roles.is_some_and(|g| g.contains(r)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// What the ticked boxes ask for `client`: its roles when it is to be granted, `None` when not.
fn chosen(fields: &BTreeMap<String, String>, client: &Client) -> Option<Vec<String>> {
    fields.contains_key(&format!("grant.{}", client.id)).then(|| {
        client
            .roles
            .iter()
            .filter(|r| fields.contains_key(&format!("role.{}.{r}", client.id)))
            .cloned()
            .collect()
    })
}

/// `GET /org/users/{user_id}/services`: the released services, granted or not, with roles.
pub async fn grants_page(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Path(user_id): Path<String>,
) -> Response {
    let loaded = async {
        let detail = orgs::user(&state.store, &admin, &AccountId::from(user_id.as_str())).await?;
        let subscriptions = orgs::subscriptions(&state.store, &admin).await?;
        Ok::<_, OrgError>((detail, subscriptions, clients(&state).await?))
    };
    let ((user, granted), subscriptions, all) = match loaded.await {
        Ok(v) => v,
        Err(e) => return refused(&state, locale, &e),
    };
    let view = json!({
        "user": { "id": user.account.id.as_str(), "name": format!("{} {}", user.account.given_name, user.account.family_name) },
        "services": choices(&released(&subscriptions, &all), &granted),
    });
    form_page(
        &state,
        &browser,
        ("pages/org_user_services.html", locale, true),
        StatusCode::OK,
        view,
        &[],
    )
}

/// `POST /org/users/{user_id}/services`: grants what is ticked with its roles and withdraws
/// what is not (direct grants only: what groups give stays, R-ORG-9).
#[instrument(skip_all)]
pub async fn grants(
    State(state): State<AppState>,
    OrgAdmin { admin, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Path(user_id): Path<String>,
    CheckedForm(fields): CheckedForm<BTreeMap<String, String>>,
) -> Response {
    let user = AccountId::from(user_id.as_str());
    let applied = async {
        let (_, granted) = orgs::user(&state.store, &admin, &user).await?;
        let all = clients(&state).await?;
        for client in released(&orgs::subscriptions(&state.store, &admin).await?, &all) {
            match chosen(&fields, client) {
                Some(roles) => orgs::grant(&state.store, &admin, &user, client, &roles).await?,
                None if granted.iter().any(|(id, _)| *id == client.id) => orgs::revoke(&state.store, &admin, &user, &client.id).await?,
                None => {}
            }
        }
        Ok::<_, OrgError>(())
    };
    match applied.await {
        Ok(()) => Redirect::to(&format!("{}?done=granted", paths::ORG_ADMIN)).into_response(),
        Err(e) => refused(&state, locale, &e),
    }
}

/// Form of `POST /org/groups`.
#[derive(Deserialize)]
pub struct NewGroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /org/groups`: a new group (R-ORG-9), then its page.
#[instrument(skip_all)]
pub async fn create_group(
    State(state): State<AppState>,
    OrgAdmin { admin, now, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<NewGroupForm>,
) -> Response {
    let description = Some(f.description.trim()).filter(|d| !d.is_empty());
    match orgs::create_group(&state.store, &admin, &f.name, description, now).await {
        Ok(g) => Redirect::to(&format!("/org/groups/{}", g.id)).into_response(),
        Err(OrgError::Invalid(_)) => state.pages.error(StatusCode::BAD_REQUEST, locale, "org_err_group_name", None),
        Err(e) => refused(&state, locale, &e),
    }
}

/// `GET /org/groups/{group_id}`: members and services (with roles) by switches.
pub async fn group_page(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Path(group_id): Path<String>,
) -> Response {
    let loaded = async {
        let detail = orgs::group(&state.store, &admin, &GroupId::from(group_id.as_str())).await?;
        let users = orgs::users(&state.store, &admin, None, 500).await?;
        let subscriptions = orgs::subscriptions(&state.store, &admin).await?;
        Ok::<_, OrgError>((detail, users, subscriptions, clients(&state).await?))
    };
    let (detail, users, subscriptions, all) = match loaded.await {
        Ok(v) => v,
        Err(e) => return refused(&state, locale, &e),
    };
    let members: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            json!({
                "n": i, "id": u.account.id.as_str(),
                "name": format!("{} {}", u.account.given_name, u.account.family_name),
                "member": detail.members.contains(&u.account.id),
            })
        })
        .collect();
    let view = json!({
        "group": { "id": detail.group.id.as_str(), "name": detail.group.name, "description": detail.group.description },
        "members": members,
        "services": choices(&released(&subscriptions, &all), &detail.services),
    });
    form_page(&state, &browser, ("pages/org_group.html", locale, true), StatusCode::OK, view, &[])
}

/// `POST /org/groups/{group_id}`: members `member.<user_id>` and services as on a user's page;
/// what is taken away revokes exactly what came through the group (R-ORG-9). With
/// `action=delete` (and the box that confirms it) the group goes.
#[instrument(skip_all)]
pub async fn group_save(
    State(state): State<AppState>,
    OrgAdmin { admin, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    Path(group_id): Path<String>,
    CheckedForm(fields): CheckedForm<BTreeMap<String, String>>,
) -> Response {
    let id = GroupId::from(group_id.as_str());
    if fields.get("action").map(String::as_str) == Some("delete") {
        if !fields.contains_key("confirm") {
            return state.pages.error(StatusCode::BAD_REQUEST, locale, "org_err_confirm", None);
        }
        return match orgs::delete_group(&state.store, &admin, &id).await {
            Ok(()) => Redirect::to(&format!("{}?done=group_deleted", paths::ORG_ADMIN)).into_response(),
            Err(e) => refused(&state, locale, &e),
        };
    }
    let applied = async {
        let detail = orgs::group(&state.store, &admin, &id).await?;
        // The boxes ticked name the members; the domain refuses anyone not of this organisation.
        // All of them are checked before anything changes, so a forged box changes nothing.
        let wanted: Vec<AccountId> = fields
            .keys()
            .filter_map(|k| k.strip_prefix("member."))
            .map(AccountId::from)
            .collect();
        let joining: Vec<&AccountId> = wanted.iter().filter(|u| !detail.members.contains(u)).collect();
        for user in &joining {
            orgs::user(&state.store, &admin, user).await?;
        }
        for user in joining {
            orgs::add_member(&state.store, &admin, &id, user).await?;
        }
        for user in detail.members.iter().filter(|m| !wanted.contains(m)) {
            orgs::remove_member(&state.store, &admin, &id, user).await?;
        }
        let all = clients(&state).await?;
        for client in released(&orgs::subscriptions(&state.store, &admin).await?, &all) {
            match chosen(&fields, client) {
                Some(roles) => orgs::grant_to_group(&state.store, &admin, &id, client, &roles).await?,
                None if detail.services.iter().any(|(c, _)| *c == client.id) => {
                    orgs::revoke_from_group(&state.store, &admin, &id, &client.id).await?
                }
                None => {}
            }
        }
        Ok::<_, OrgError>(())
    };
    match applied.await {
        Ok(()) => Redirect::to(&format!("{}?done=group_saved", paths::ORG_ADMIN)).into_response(),
        Err(e) => refused(&state, locale, &e),
    }
}

/// Form naming one service.
#[derive(Deserialize)]
pub struct ServiceForm {
    #[serde(default)]
    client_id: String,
    confirm: Option<String>,
}

/// `POST /org/services/subscribe` (R-ORG-7): released at once or pending for the Leitstelle.
#[instrument(skip_all)]
pub async fn subscribe(
    State(state): State<AppState>,
    OrgAdmin { admin, now, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<ServiceForm>,
) -> Response {
    let client = match state.clients.get(&ClientId::from(f.client_id.as_str()), now).await {
        Ok(Some(c)) => c,
        Ok(None) => return refused(&state, locale, &OrgError::NotFound),
        Err(e) => return unavailable(&state, locale, &e),
    };
    match orgs::subscribe(&state.store, &admin, &client, now).await {
        Ok(_) => Redirect::to(&format!("{}?done=subscribed", paths::ORG_ADMIN)).into_response(),
        Err(e) => refused(&state, locale, &e),
    }
}

/// `POST /org/services/unsubscribe`, with the box that confirms it (R-ORG-7): its grants go.
#[instrument(skip_all)]
pub async fn unsubscribe(
    State(state): State<AppState>,
    OrgAdmin { admin, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<ServiceForm>,
) -> Response {
    if f.confirm.is_none() {
        return state.pages.error(StatusCode::BAD_REQUEST, locale, "org_err_confirm", None);
    }
    match orgs::unsubscribe(&state.store, &admin, &ClientId::from(f.client_id.as_str())).await {
        Ok(()) => Redirect::to(&format!("{}?done=unsubscribed", paths::ORG_ADMIN)).into_response(),
        Err(e) => refused(&state, locale, &e),
    }
}

/// `GET /org/delete`: what deleting the organisation means, and the box that confirms it.
pub async fn delete_page(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, .. }: OrgAdmin,
    PageLocale(locale): PageLocale,
) -> Response {
    match orgs::get(&state.store, &admin).await {
        Ok(org) => form_page(
            &state,
            &browser,
            ("pages/org_delete.html", locale, true),
            StatusCode::OK,
            json!({ "org_name": org.name }),
            &[],
        ),
        Err(e) => refused(&state, locale, &e),
    }
}

/// Form of `POST /org/delete`.
#[derive(Deserialize)]
pub struct DeleteOrgForm {
    confirm: Option<String>,
}

/// `POST /org/delete` (R-ORG-11): at once and for good, every user with it.
#[instrument(skip_all)]
pub async fn delete_org(
    State(state): State<AppState>,
    OrgAdmin { admin, browser, now }: OrgAdmin,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<DeleteOrgForm>,
) -> Response {
    if f.confirm.is_none() {
        let name = orgs::get(&state.store, &admin).await.map(|o| o.name).unwrap_or_default();
        return form_page(
            &state,
            &browser,
            ("pages/org_delete.html", locale, true),
            StatusCode::BAD_REQUEST,
            json!({ "org_name": name }),
            &[("confirm", "org_field_delete_confirm")],
        );
    }
    match orgs::delete(state.account_env(), &admin, now).await {
        Ok(ended) => {
            for e in ended {
                tell_services(&state, e, now).await;
            }
            state.pages.notice(locale, "org_deleted_title", "org_deleted_text", None)
        }
        Err(e) => refused(&state, locale, &e),
    }
}
