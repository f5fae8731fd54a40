//! Registration of an organisation (R-ORG-1…3) in four steps: organisation data →
//! administrator access → online services → summary and consent, then "check your mail" and the
//! activation link. Between the steps what was checked waits in the ephemeral store, bound to the
//! browser; the password only as its argon2id hash. Every check is in
//! [`crate::orgs::registration`].

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::instrument;

use super::register::TokenQuery;
use super::{CheckedForm, PageLocale, Render, failure_page, form_page, unavailable};
use crate::accounts::AccountError;
use crate::accounts::registration::RegistrationForm;
use crate::clients::Client;
use crate::clock::Timestamp;
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{Browser, Cookies};
use crate::orgs::OrgError;
use crate::orgs::elster::ElsterOrigin;
use crate::orgs::registration::{self as reg, AdminForm, DataForm, OrgDraft};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::state::AppState;

/// How long a half-finished registration waits between its steps.
const DRAFT_SECONDS: i64 = 1800;

/// Routes of the organisation's registration.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ORG_REGISTER, get(data_form).post(data_submit))
        .route(paths::ORG_REGISTER_ADMIN, get(admin_form).post(admin_submit))
        .route(paths::ORG_REGISTER_SERVICES, get(services_form).post(services_submit))
        .route(paths::ORG_REGISTER_SUMMARY, get(summary).post(decide))
        .route(paths::ORG_ACTIVATE, get(activation_page).post(activate))
}

fn draft_key(browser: &Browser) -> String {
    format!("orgdraft:{}", browser.binding())
}

async fn load(state: &AppState, browser: &Browser, now: Timestamp) -> OrgDraft {
    state
        .ephemeral
        .get_json(&draft_key(browser), now)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn save(state: &AppState, browser: &Browser, draft: &OrgDraft, next: &str, locale: Locale, now: Timestamp) -> Response {
    match state.ephemeral.put_json(&draft_key(browser), draft, now + DRAFT_SECONDS, now).await {
        Ok(()) => Redirect::to(next).into_response(),
        Err(e) => unavailable(state, locale, &e),
    }
}

/// After ELSTER vouched for an organisation (R-ELS-4): step 1 again, filled in from ELSTER's
/// data and locked, with what the browser had entered for the other steps kept.
pub async fn start_from_elster(state: &AppState, browser: &Browser, origin: ElsterOrigin, locale: Locale, now: Timestamp) -> Response {
    let draft = OrgDraft::from_elster(origin, load(state, browser, now).await);
    save(state, browser, &draft, paths::ORG_REGISTER, locale, now).await
}

/// Texts longer than a field takes are cut before they are shown again.
fn cut(v: &str, max: usize) -> String {
    v.chars().take(max).collect()
}

fn data_view(state: &AppState, f: &DataForm, draft: &OrgDraft) -> Value {
    // ELSTER's values stand as ELSTER gave them (R-ELS-4); the form's are cut to the fields.
    let n = |max: usize| if draft.elster.is_some() { usize::MAX } else { max };
    json!({ "form": {
        "name": cut(&f.name, n(40)), "trade_register": cut(&f.trade_register, n(40)), "street": cut(&f.street, n(100)),
        "house_number": cut(&f.house_number, n(11)), "postal_code": cut(&f.postal_code, n(100)), "city": cut(&f.city, n(100)),
        "po_box": cut(&f.po_box, 20),
    },
    "from_elster": draft.elster.is_some(),
    "elster": state.upstreams.elster().filter(|_| draft.elster.is_none()).map(|u| (u.id.clone(), u.display_name.clone())),
    })
}

fn form_of(d: &reg::OrgData) -> DataForm {
    DataForm {
        name: d.name.clone(),
        trade_register: d.trade_register.clone().unwrap_or_default(),
        street: d.address.street.clone(),
        house_number: d.address.house_number.clone(),
        postal_code: d.address.postal_code.clone(),
        city: d.address.city.clone(),
        po_box: d.po_box.clone().unwrap_or_default(),
    }
}

/// `GET /register/organisation`: step 1, the organisation's data.
pub async fn data_form(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, state.clock.now()).await;
    let form = draft.data.as_ref().map(form_of).unwrap_or_default();
    form_page(
        &state,
        &browser,
        ("pages/org_register.html", locale, false),
        StatusCode::OK,
        data_view(&state, &form, &draft),
        &[],
    )
}

/// `POST /register/organisation`.
#[instrument(skip_all)]
pub async fn data_submit(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(form): CheckedForm<DataForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, now).await;
    match draft.check_data(&form) {
        Ok(data) => {
            let draft = OrgDraft { data: Some(data), ..draft };
            save(&state, &browser, &draft, paths::ORG_REGISTER_ADMIN, locale, now).await
        }
        Err(errors) => {
            // ELSTER's values are shown as they are locked, whatever the form sent.
            let shown = match (&draft.elster, &draft.data) {
                (Some(_), Some(d)) => DataForm {
                    po_box: form.po_box.clone(),
                    ..form_of(d)
                },
                _ => form,
            };
            form_page(
                &state,
                &browser,
                ("pages/org_register.html", locale, false),
                StatusCode::BAD_REQUEST,
                data_view(&state, &shown, &draft),
                &errors,
            )
        }
    }
}

/// Form of step 2.
#[derive(Deserialize)]
pub struct AdminFields {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    birthdate: String,
    #[serde(default)]
    password: Secret<String>,
    #[serde(default)]
    password_repeat: Secret<String>,
}

fn admin_view(values: Value, password_kept: bool) -> Value {
    json!({ "form": values, "password_kept": password_kept })
}

/// `GET /register/organisation/admin`: step 2, the administrator's access.
pub async fn admin_form(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, state.clock.now()).await;
    if draft.data.is_none() {
        return Redirect::to(paths::ORG_REGISTER).into_response();
    }
    let values = match (&draft.admin, &draft.elster) {
        (Some(a), _) => json!({
            "given_name": a.account.given_name, "family_name": a.account.family_name, "email": a.account.email,
            "phone_number": a.phone_number, "birthdate": a.birthdate,
        }),
        // The person ELSTER named, to pre-fill (they may register someone else as administrator).
        (None, Some(e)) => json!({ "given_name": e.given_name, "family_name": e.family_name, "birthdate": e.birthdate }),
        (None, None) => json!({}),
    };
    let view = admin_view(values, draft.admin.is_some());
    form_page(
        &state,
        &browser,
        ("pages/org_register_admin.html", locale, false),
        StatusCode::OK,
        view,
        &[],
    )
}

/// `POST /register/organisation/admin`.
#[instrument(skip_all)]
pub async fn admin_submit(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<AdminFields>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, now).await;
    if draft.data.is_none() {
        return Redirect::to(paths::ORG_REGISTER).into_response();
    }
    let values = json!({
        "given_name": cut(&f.given_name, 100), "family_name": cut(&f.family_name, 100), "email": cut(&f.email, 254),
        "phone_number": cut(&f.phone_number, 100), "birthdate": cut(&f.birthdate, 10),
    });
    let form = AdminForm {
        account: RegistrationForm {
            given_name: f.given_name,
            family_name: f.family_name,
            email: f.email,
            password: f.password,
            password_repeat: f.password_repeat,
        },
        phone_number: f.phone_number,
        birthdate: f.birthdate,
    };
    let deps = (&state.throttle, &state.hasher);
    match reg::check_admin(deps, form, draft.admin.as_ref(), &addr, now).await {
        Err(e) => failure_page(&state, locale, &e),
        Ok(Ok(admin)) => {
            let draft = OrgDraft {
                admin: Some(admin),
                ..draft
            };
            save(&state, &browser, &draft, paths::ORG_REGISTER_SERVICES, locale, now).await
        }
        Ok(Err(errors)) => {
            let view = admin_view(values, draft.admin.is_some());
            form_page(
                &state,
                &browser,
                ("pages/org_register_admin.html", locale, false),
                StatusCode::BAD_REQUEST,
                view,
                &errors,
            )
        }
    }
}

fn service_entries(state: &AppState, locale: Locale, all: &[Client], chosen: &[String]) -> Vec<Value> {
    reg::offered(all)
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id.as_str(),
                "name": c.name,
                "description": c.description,
                "cost_note": c.cost_note,
                "requires_approval": c.requires_approval,
                "checked": chosen.iter().any(|id| id == c.id.as_str()),
                "level": state.pages.text(locale, &format!("level_{}", c.min_level.name())),
            })
        })
        .collect()
}

async fn services_page(state: &AppState, browser: &Browser, locale: Locale, chosen: &[String]) -> Response {
    match state.store.clients().await {
        Ok(all) => {
            let view = json!({ "services": service_entries(state, locale, &all, chosen) });
            form_page(
                state,
                browser,
                ("pages/org_register_services.html", locale, false),
                StatusCode::OK,
                view,
                &[],
            )
        }
        Err(e) => unavailable(state, locale, &e),
    }
}

/// `GET /register/organisation/services`: step 3, the online services to subscribe to.
pub async fn services_form(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, state.clock.now()).await;
    if draft.admin.is_none() {
        return Redirect::to(paths::ORG_REGISTER_ADMIN).into_response();
    }
    let chosen: Vec<String> = draft.services.unwrap_or_default().iter().map(|c| c.to_string()).collect();
    services_page(&state, &browser, locale, &chosen).await
}

/// `POST /register/organisation/services`: one box `service.<client_id>` per service.
#[instrument(skip_all)]
pub async fn services_submit(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(fields): CheckedForm<BTreeMap<String, String>>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, now).await;
    if draft.admin.is_none() {
        return Redirect::to(paths::ORG_REGISTER_ADMIN).into_response();
    }
    if fields.get("action").map(String::as_str) == Some("back") {
        return Redirect::to(paths::ORG_REGISTER_ADMIN).into_response();
    }
    let chosen: Vec<String> = fields
        .keys()
        .filter_map(|k| k.strip_prefix("service."))
        .map(str::to_owned)
        .collect();
    let all = match state.store.clients().await {
        Ok(all) => all,
        Err(e) => return unavailable(&state, locale, &e),
    };
    let draft = OrgDraft {
        services: Some(reg::check_services(&all, &chosen)),
        ..draft
    };
    save(&state, &browser, &draft, paths::ORG_REGISTER_SUMMARY, locale, now).await
}

async fn summary_page(
    state: &AppState,
    browser: &Browser,
    draft: &OrgDraft,
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    let (Some(data), Some(admin)) = (&draft.data, &draft.admin) else {
        return Redirect::to(paths::ORG_REGISTER).into_response();
    };
    let all = match state.store.clients().await {
        Ok(all) => all,
        Err(e) => return unavailable(state, locale, &e),
    };
    let chosen: Vec<String> = draft.services.iter().flatten().map(|c| c.to_string()).collect();
    let services: Vec<Value> = service_entries(state, locale, &all, &chosen)
        .into_iter()
        .filter(|s| s["checked"] == true)
        .collect();
    let a = &data.address;
    let view = json!({
        "org": {
            "name": data.name, "trade_register": data.trade_register, "po_box": data.po_box,
            "address": format!("{} {}, {} {}", a.street, a.house_number, a.postal_code, a.city),
        },
        "admin": {
            "name": format!("{} {}", admin.account.given_name, admin.account.family_name), "email": admin.account.email,
            "phone_number": admin.phone_number, "birthdate": admin.birthdate,
        },
        "services": services,
    });
    form_page(
        state,
        browser,
        ("pages/org_register_summary.html", locale, false),
        status,
        view,
        errors,
    )
}

/// `GET /register/organisation/summary`: step 4, everything once more, and the consent.
pub async fn summary(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, state.clock.now()).await;
    if draft.services.is_none() {
        return Redirect::to(paths::ORG_REGISTER_SERVICES).into_response();
    }
    summary_page(&state, &browser, &draft, locale, StatusCode::OK, &[]).await
}

/// Form of step 4.
#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    action: String,
    consent: Option<String>,
}

/// `POST /register/organisation/summary`: back, or register.
#[instrument(skip_all)]
pub async fn decide(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<DecideForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let draft = load(&state, &browser, now).await;
    let (Some(data), Some(admin), Some(services)) = (draft.data.clone(), draft.admin.clone(), draft.services.clone()) else {
        return Redirect::to(paths::ORG_REGISTER).into_response();
    };
    match f.action.as_str() {
        "back" => Redirect::to(paths::ORG_REGISTER_SERVICES).into_response(),
        "create" if f.consent.is_none() => {
            summary_page(
                &state,
                &browser,
                &draft,
                locale,
                StatusCode::BAD_REQUEST,
                &[("consent", "field_consent_required")],
            )
            .await
        }
        "create" => {
            if let Err(e) = reg::submit(state.account_env(), (data, admin, services), draft.elster.as_ref(), locale, now).await {
                return unavailable(&state, locale, &e);
            }
            let _ = state.ephemeral.delete(&draft_key(&browser)).await;
            Redirect::to(paths::REGISTER_SENT).into_response()
        }
        _ => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    }
}

fn activate_form(
    state: &AppState,
    browser: &Browser,
    token: &str,
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    let view = json!({ "token": token, "action": paths::ORG_ACTIVATE });
    form_page(state, browser, ("pages/activate.html", locale, false), status, view, errors)
}

/// `GET /register/organisation/activate?token=…`: asks before it activates.
pub async fn activation_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Query(q): Query<TokenQuery>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match crate::accounts::registration::is_pending(&state.store, &q.token, true, state.clock.now()).await {
        Ok(true) => activate_form(&state, &browser, &q.token, locale, StatusCode::OK, &[]),
        Ok(false) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_activation_link", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}

/// Form of `POST /register/organisation/activate`.
#[derive(Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: Secret<String>,
}

/// `POST /register/organisation/activate`: opens the organisation for whoever knows the
/// administrator's password.
#[instrument(skip_all)]
pub async fn activate(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<ActivateForm>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match reg::activate((&state.store, &state.hasher), &f.token, f.password, state.clock.now()).await {
        Ok(_) => state.pages.notice(
            locale,
            "org_activated_title",
            "org_activated_text",
            Some((paths::LOGIN, "login_title")),
        ),
        Err(OrgError::Account(AccountError::Denied(_))) => activate_form(
            &state,
            &browser,
            &f.token,
            locale,
            StatusCode::UNAUTHORIZED,
            &[("password", "activate_password_wrong")],
        ),
        Err(OrgError::Account(AccountError::LinkInvalid)) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_activation_link", None),
        Err(OrgError::Account(AccountError::EmailTaken)) => state.pages.error(StatusCode::CONFLICT, locale, "err_already_active", None),
        Err(OrgError::Account(e)) => failure_page(&state, locale, &e),
        Err(e) => unavailable(&state, locale, &e),
    }
}
