//! The citizen's own pages: profile and electronic delivery (R-PRO-1, R-PRO-4), consents
//! (R-SVC-3), password change, email change (R-PRO-2) and deletion (R-PRO-3). Every page needs
//! a live session except the email confirmation, which asks for the old login instead.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::instrument;

use super::register::TokenQuery;
use super::{CheckedForm, Citizen, PageLocale, Render, failure_page, form_errors, format_time, merged, tell_services, unavailable};
use crate::accounts::links::LinkPurpose;
use crate::accounts::profile::{self, ProfileForm};
use crate::accounts::throttle::Denied;
use crate::accounts::{Account, AccountError, AccountKind, recovery};
use crate::clock::Timestamp;
use crate::grants::claims::consent_items;
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{self, Browser, Cookies, SESSION};
use crate::ids::{AccountId, ClientId};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::state::AppState;
use crate::trust::TrustLevel;

/// Routes of the profile.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::PROFILE, get(show).post(save))
        .route(paths::PROFILE_CONSENT_WITHDRAW, post(withdraw))
        .route(paths::PROFILE_PASSWORD, get(password_page).post(change_password))
        .route(paths::PROFILE_EMAIL, get(email_page).post(change_email))
        .route(paths::EMAIL_CONFIRM, get(email_confirm_page).post(email_confirm))
        .route(paths::PROFILE_DELETE, get(delete_page).post(delete))
        .route(paths::PROFILE_PLUS_REQUEST, get(plus_request_page).post(plus_request))
}

fn account_values(a: &Account) -> Value {
    let addr = a.address.as_ref();
    json!({
        "title": a.title.clone().unwrap_or_default(),
        "given_name": a.given_name,
        "family_name": a.family_name,
        "birthdate": a.birthdate.clone().unwrap_or_default(),
        "street": addr.map(|x| x.street.clone()).unwrap_or_default(),
        "house_number": addr.map(|x| x.house_number.clone()).unwrap_or_default(),
        "postal_code": addr.map(|x| x.postal_code.clone()).unwrap_or_default(),
        "city": addr.map(|x| x.city.clone()).unwrap_or_default(),
        "country": addr.map(|x| x.country.clone()).unwrap_or_default(),
        "phone_number": a.phone_number.clone().unwrap_or_default(),
        "delivery_consent": a.delivery_consent_at.is_some(),
    })
}

async fn consents(state: &AppState, account_id: &AccountId, locale: Locale, now: Timestamp) -> Result<Vec<Value>, Response> {
    let rows = state
        .store
        .consents_of(account_id)
        .await
        .map_err(|e| unavailable(state, locale, &e))?;
    let mut out = Vec::new();
    for (client_id, scope, granted_at) in rows {
        let name = match state.clients.get(&client_id, now).await {
            Ok(Some(c)) => c.name.clone(),
            _ => client_id.to_string(),
        };
        let claims = scope
            .iter()
            .filter_map(|s| s.strip_prefix("claim:"))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let items: Vec<String> = consent_items(&scope, claims.into_iter())
            .into_iter()
            .map(|c| state.pages.text(locale, &format!("claim_{c}")))
            .collect();
        out.push(json!({ "client_id": client_id, "name": name, "items": items, "granted_at": format_time(granted_at) }));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn profile_page(
    state: &AppState,
    cookies: &Cookies,
    account: &Account,
    values: Value,
    locale: Locale,
    status: StatusCode,
    notice: Option<&str>,
    errors: &[(&str, &str)],
) -> Response {
    let now = state.clock.now();
    let consents = match consents(state, &account.id, locale, now).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let browser = Browser::from_cookies(cookies);
    let organisation = account.kind == AccountKind::Organisation;
    // An organisation's user has an ELSTER certificate where a citizen has the eID and Plus.
    let (eid_link, plus_request, elster_link) = if organisation {
        match state.store.elster_link(&account.id).await {
            Ok(l) => (None, None, l),
            Err(e) => return unavailable(state, locale, &e),
        }
    } else {
        match (
            state.store.eid_link(&account.id).await,
            state.store.upgrade_request(&account.id).await,
        ) {
            (Ok(l), Ok(r)) => (l, r, None),
            (Err(e), _) | (_, Err(e)) => return unavailable(state, locale, &e),
        }
    };
    let ctx = merged(
        json!({
            "csrf": browser.csrf_token(&state.secrets.csrf_key),
            "email": account.email,
            "plus": account.level >= TrustLevel::Plus,
            "eid": state.upstreams.eid().map(|u| (u.id.clone(), u.display_name.clone())),
            "eid_linked": eid_link.is_some(),
            "eid_login": eid_link.is_some_and(|l| l.login_enabled),
            "plus_request_at": plus_request.map(|r| format_time(r.requested_at)),
            "organisation": organisation,
            "elster": state.upstreams.elster().map(|u| (u.id.clone(), u.display_name.clone())),
            "elster_linked_at": elster_link.map(|l| format_time(l.linked_at)),
            "form": values,
            "delivery_consent_at": account.delivery_consent_at.map(format_time),
            "consents": consents,
            "notice": notice.map(|k| state.pages.text(locale, k)),
        }),
        form_errors(&state.pages, locale, errors),
    );
    let mut res = state.pages.page(status, "pages/profile.html", locale, true, &ctx);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// Query of `GET /profile`.
#[derive(Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

/// The notices a redirect back to the profile may show.
fn notice_key(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "saved" => Some("profile_saved"),
        "password" => Some("password_changed_notice"),
        "email" => Some("email_change_sent"),
        "withdrawn" => Some("consent_withdrawn"),
        "synced" => Some("eid_synced"),
        "eid_off" => Some("eid_off_done"),
        "plus_request" => Some("plus_request_sent"),
        "elster_first" => Some("elster_first_done"),
        "elster_linked" => Some("elster_linked_done"),
        "elster_deleted" => Some("elster_deleted_done"),
        _ => None,
    }
}

/// `GET /profile`.
pub async fn show(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, .. }: Citizen,
    PageLocale(locale): PageLocale,
    Query(q): Query<ShowQuery>,
) -> Response {
    let values = account_values(&account);
    profile_page(
        &state,
        &cookies,
        &account,
        values,
        locale,
        StatusCode::OK,
        notice_key(q.done.as_deref()),
        &[],
    )
    .await
}

/// Form of `POST /profile`.
#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(flatten)]
    profile: ProfileForm,
}

fn profile_field_error(e: &AccountError) -> Option<(&'static str, &'static str)> {
    match e {
        AccountError::Locked(field) => Some((field.name(), "field_locked")),
        AccountError::RequestOpen => Some(("given_name", "field_request_open")),
        AccountError::Invalid(field) => Some(field.error()),
        _ => None,
    }
}

/// `POST /profile`: saves the profile (R-PRO-1) and the delivery consent (R-PRO-4).
#[instrument(skip_all)]
pub async fn save(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, now, .. }: Citizen,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<SaveForm>,
) -> Response {
    let p = &f.profile;
    let submitted = json!({
        "title": p.title, "given_name": p.given_name, "family_name": p.family_name, "birthdate": p.birthdate,
        "street": p.street, "house_number": p.house_number, "postal_code": p.postal_code, "city": p.city,
        "country": p.country, "phone_number": p.phone_number, "delivery_consent": p.delivery_consent.is_some(),
    });
    match profile::update(&state.store, &account, f.profile, now).await {
        Ok(_) => Redirect::to(&format!("{}?done=saved", paths::PROFILE)).into_response(),
        Err(e) => match profile_field_error(&e) {
            Some(err) => profile_page(&state, &cookies, &account, submitted, locale, StatusCode::BAD_REQUEST, None, &[err]).await,
            None => unavailable(&state, locale, &e),
        },
    }
}

/// Form of `POST /profile/consents/withdraw`.
#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    client_id: String,
}

/// `POST /profile/consents/withdraw` (R-SVC-3).
#[instrument(skip_all)]
pub async fn withdraw(
    State(state): State<AppState>,
    Citizen { account, now, .. }: Citizen,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<WithdrawForm>,
) -> Response {
    match profile::withdraw_consent(&state.store, &account.id, &ClientId::new(f.client_id), now).await {
        Ok(_) => Redirect::to(&format!("{}?done=withdrawn", paths::PROFILE)).into_response(),
        Err(e) => unavailable(&state, locale, &e),
    }
}

fn simple_form(
    state: &AppState,
    cookies: &Cookies,
    template: &str,
    locale: Locale,
    status: StatusCode,
    extra: Value,
    errors: &[(&str, &str)],
) -> Response {
    let browser = Browser::from_cookies(cookies);
    let ctx = merged(
        merged(json!({ "csrf": browser.csrf_token(&state.secrets.csrf_key) }), extra),
        form_errors(&state.pages, locale, errors),
    );
    let mut res = state.pages.page(status, template, locale, true, &ctx);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// `GET /profile/password`.
pub async fn password_page(State(state): State<AppState>, cookies: Cookies, _citizen: Citizen, PageLocale(locale): PageLocale) -> Response {
    simple_form(
        &state,
        &cookies,
        "pages/password_change.html",
        locale,
        StatusCode::OK,
        json!({}),
        &[],
    )
}

/// Form of `POST /profile/password`.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: Secret<String>,
    #[serde(default)]
    password: Secret<String>,
    #[serde(default)]
    password_repeat: Secret<String>,
}

/// `POST /profile/password`.
#[instrument(skip_all)]
pub async fn change_password(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { session, account, now }: Citizen,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<PasswordForm>,
) -> Response {
    let cookie = cookies.get(SESSION).unwrap_or_default().to_string();
    let retry = |err: (&str, &str)| {
        simple_form(
            &state,
            &cookies,
            "pages/password_change.html",
            locale,
            StatusCode::BAD_REQUEST,
            json!({}),
            &[err],
        )
    };
    if f.password.expose() != f.password_repeat.expose() {
        return retry(("password_repeat", "field_password_mismatch"));
    }
    let signed_in = (&account, (cookie.as_str(), &session));
    match profile::change_password(state.account_env(), signed_in, (f.current, f.password), &addr, locale, now).await {
        Ok(ended) => {
            tell_services(&state, ended, now).await;
            Redirect::to(&format!("{}?done=password", paths::PROFILE)).into_response()
        }
        Err(AccountError::WeakPassword(v)) => retry(("password", v.message_key())),
        Err(AccountError::Denied(d)) => retry(("current", current_password_key(&d))),
        Err(e) => failure_page(&state, locale, &e),
    }
}

/// `GET /profile/email`.
pub async fn email_page(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, .. }: Citizen,
    PageLocale(locale): PageLocale,
) -> Response {
    simple_form(
        &state,
        &cookies,
        "pages/email_change.html",
        locale,
        StatusCode::OK,
        json!({ "current_email": account.email }),
        &[],
    )
}

/// Form of `POST /profile/email`.
#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    email_repeat: String,
}

/// `POST /profile/email`: starts the change (R-PRO-2).
#[instrument(skip_all)]
pub async fn change_email(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, now, .. }: Citizen,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<EmailForm>,
) -> Response {
    let values = json!({
        "current_email": account.email,
        "email": f.email.chars().take(254).collect::<String>(),
        "email_repeat": f.email_repeat.chars().take(254).collect::<String>(),
    });
    let retry = |err: (&str, &str)| {
        simple_form(
            &state,
            &cookies,
            "pages/email_change.html",
            locale,
            StatusCode::BAD_REQUEST,
            values.clone(),
            &[err],
        )
    };
    if f.email.trim().to_lowercase() != f.email_repeat.trim().to_lowercase() {
        return retry(("email_repeat", "field_email_mismatch"));
    }
    match profile::request_email_change(state.account_env(), &account, &f.email, locale, now).await {
        Ok(()) => Redirect::to(&format!("{}?done=email", paths::PROFILE)).into_response(),
        Err(AccountError::InvalidEmail) => retry(("email", "field_email_invalid")),
        Err(AccountError::SameEmail) => retry(("email", "field_email_same")),
        Err(e) => unavailable(&state, locale, &e),
    }
}

fn confirm_form(
    state: &AppState,
    cookies: &Cookies,
    token: &str,
    email: &str,
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    simple_form(
        state,
        cookies,
        "pages/email_confirm.html",
        locale,
        status,
        json!({ "token": token, "email": email }),
        errors,
    )
}

/// `GET /profile/email/confirm?token=…`: asks for the old login once more.
pub async fn email_confirm_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Query(q): Query<TokenQuery>,
) -> Response {
    match recovery::link_is_live(&state.store, &q.token, LinkPurpose::EmailChange, state.clock.now()).await {
        Ok(true) => confirm_form(&state, &cookies, &q.token, "", locale, StatusCode::OK, &[]),
        Ok(false) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_email_link", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}

/// Form of `POST /profile/email/confirm`.
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Secret<String>,
}

/// `POST /profile/email/confirm`: with the old email and password, the new address becomes
/// the login name (R-PRO-2).
#[instrument(skip_all)]
pub async fn email_confirm(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<ConfirmForm>,
) -> Response {
    let now = state.clock.now();
    let email: String = f.email.chars().take(254).collect();
    let retry = |key: &str| {
        confirm_form(
            &state,
            &cookies,
            &f.token,
            &email,
            locale,
            StatusCode::UNAUTHORIZED,
            &[("email", key)],
        )
    };
    match profile::confirm_email_change(state.account_env(), &f.token, (&f.email, f.password), &addr, now).await {
        Ok((_, ended)) => {
            tell_services(&state, ended, now).await;
            state.pages.notice(
                locale,
                "email_changed_title",
                "email_changed_text",
                Some((paths::PROFILE, "profile_title")),
            )
        }
        Err(AccountError::Denied(d)) => retry(d.message_key()),
        Err(AccountError::Blocked) => retry("login_failed"),
        Err(AccountError::LinkInvalid) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_email_link", None),
        Err(AccountError::EmailTaken) => state.pages.error(StatusCode::CONFLICT, locale, "err_email_taken", None),
        Err(e) => failure_page(&state, locale, &e),
    }
}

/// `GET /profile/delete`.
pub async fn delete_page(State(state): State<AppState>, cookies: Cookies, _citizen: Citizen, PageLocale(locale): PageLocale) -> Response {
    simple_form(&state, &cookies, "pages/delete.html", locale, StatusCode::OK, json!({}), &[])
}

/// Form of `POST /profile/delete`.
#[derive(Deserialize)]
pub struct DeleteForm {
    confirm: Option<String>,
    #[serde(default)]
    password: Secret<String>,
}

/// `POST /profile/delete`: deletes the account at once (R-PRO-3).
#[instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, now, .. }: Citizen,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<DeleteForm>,
) -> Response {
    let retry = |err: (&str, &str)| {
        simple_form(
            &state,
            &cookies,
            "pages/delete.html",
            locale,
            StatusCode::BAD_REQUEST,
            json!({}),
            &[err],
        )
    };
    if f.confirm.is_none() {
        return retry(("confirm", "field_delete_confirm"));
    }
    match profile::delete(state.account_env(), &account, f.password, &addr, locale, now).await {
        Ok(ended) => {
            tell_services(&state, ended, now).await;
            let mut res = state.pages.notice(locale, "deleted_title", "deleted_text", None);
            res.headers_mut()
                .append(header::SET_COOKIE, cookies::clear(SESSION, state.config.issuer_is_https()));
            res
        }
        Err(AccountError::Denied(d)) => retry(("password", current_password_key(&d))),
        Err(e) => failure_page(&state, locale, &e),
    }
}

/// What the field of the current password says when it was not accepted.
fn current_password_key(denied: &Denied) -> &'static str {
    match denied {
        Denied::Wrong { newly_locked: false } => "field_current_password_wrong",
        d => d.message_key(),
    }
}

/// `GET /profile/plus-request`: date of birth and address for the in-person check (R-EID-2).
pub async fn plus_request_page(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, .. }: Citizen,
    PageLocale(locale): PageLocale,
) -> Response {
    let values = account_values(&account);
    simple_form(
        &state,
        &cookies,
        "pages/plus_request.html",
        locale,
        StatusCode::OK,
        json!({ "form": values }),
        &[],
    )
}

/// `POST /profile/plus-request`.
#[instrument(skip_all)]
pub async fn plus_request(
    State(state): State<AppState>,
    cookies: Cookies,
    Citizen { account, now, .. }: Citizen,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<SaveForm>,
) -> Response {
    let p = f.profile;
    let address = crate::accounts::Address {
        street: p.street.clone(),
        house_number: p.house_number.clone(),
        postal_code: p.postal_code.clone(),
        city: p.city.clone(),
        country: p.country.trim().to_uppercase(),
    };
    let values = json!({
        "birthdate": p.birthdate, "street": p.street, "house_number": p.house_number,
        "postal_code": p.postal_code, "city": p.city, "country": p.country,
    });
    match crate::staff::request_upgrade(&state.store, &account, &p.birthdate, address, now).await {
        Ok(()) => Redirect::to(&format!("{}?done=plus_request", paths::PROFILE)).into_response(),
        Err(AccountError::AlreadyPlus) => state.pages.error(StatusCode::CONFLICT, locale, "err_already_plus", None),
        Err(e) => match profile_field_error(&e) {
            Some(err) => simple_form(
                &state,
                &cookies,
                "pages/plus_request.html",
                locale,
                StatusCode::BAD_REQUEST,
                json!({ "form": values }),
                &[err],
            ),
            None => unavailable(&state, locale, &e),
        },
    }
}
