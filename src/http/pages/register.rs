//! Registration pages (R-REG-1 … R-REG-4): form → summary with consent → "check your mail" →
//! activation link. Between the steps the checked form waits in the ephemeral store, bound to
//! the browser; the password is kept only as its argon2id hash.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use super::{CheckedForm, PageLocale, failure_page, form_errors, merged, token_form, unavailable};
use crate::accounts::AccountError;
use crate::accounts::registration::{self, Draft, EidIdentity, RegistrationForm};
use crate::clock::Timestamp;
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{Browser, Cookies};
use crate::http::pages::Render;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::state::AppState;

/// How long a half-finished registration waits between its steps.
const DRAFT_SECONDS: i64 = 1800;

/// Routes of the registration.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTER, get(show).post(submit))
        .route(paths::REGISTER_SUMMARY, get(summary).post(decide))
        .route(paths::REGISTER_SENT, get(sent))
        .route(paths::ACTIVATE, get(activation_page).post(activate))
}

fn draft_key(browser: &Browser) -> String {
    format!("regdraft:{}", browser.binding())
}

fn identity_key(browser: &Browser) -> String {
    format!("regeid:{}", browser.binding())
}

/// Keeps the identity read from the eID for this browser's registration (R-REG-5).
pub async fn keep_identity(
    state: &AppState,
    browser: &Browser,
    identity: &EidIdentity,
    now: Timestamp,
) -> Result<(), crate::ephemeral::EphemeralError> {
    state
        .ephemeral
        .put_json(&identity_key(browser), identity, now + DRAFT_SECONDS, now)
        .await
}

async fn load_identity(state: &AppState, browser: &Browser, now: Timestamp) -> Option<EidIdentity> {
    state.ephemeral.get_json(&identity_key(browser), now).await.ok().flatten()
}

/// What the pages show of an identity from the eID.
fn identity_view(identity: Option<&EidIdentity>) -> serde_json::Value {
    match identity {
        Some(i) => {
            let d = &i.data;
            json!({
                "name": format!("{}{} {}", d.academic_title.as_deref().map(|t| format!("{t} ")).unwrap_or_default(), d.given_names, d.family_names),
                "birthdate": d.date_of_birth,
                "address": d.address.as_ref().map(|a| format!("{} {}, {} {}", a.street, a.house_number, a.postal_code, a.city)),
            })
        }
        None => serde_json::Value::Null,
    }
}

async fn load_draft(state: &AppState, browser: &Browser, now: Timestamp) -> Option<Draft> {
    state.ephemeral.get_json(&draft_key(browser), now).await.ok().flatten()
}

/// Query of `GET /register`.
#[derive(Deserialize)]
pub struct ShowQuery {
    back: Option<String>,
    /// Leave the registration with the eID and register with name, email and password only.
    plain: Option<String>,
}

/// The form page; `view` carries `form` (the values), `password_kept` and `identity`.
fn form_page(
    state: &AppState,
    browser: &Browser,
    locale: Locale,
    status: StatusCode,
    view: serde_json::Value,
    errors: &[(&str, &str)],
) -> Response {
    let ctx = merged(
        merged(
            json!({
                "csrf": browser.csrf_token(&state.secrets.csrf_key),
                "eid": state.upstreams.eid().map(|u| (u.id.clone(), u.display_name.clone())),
            }),
            view,
        ),
        form_errors(&state.pages, locale, errors),
    );
    let mut res = state.pages.page(status, "pages/register.html", locale, false, &ctx);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// `GET /register`.
pub async fn show(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale, Query(q): Query<ShowQuery>) -> Response {
    let browser = Browser::from_cookies(&cookies);
    let now = state.clock.now();
    if q.plain.is_some() {
        let _ = state.ephemeral.delete(&identity_key(&browser)).await;
    }
    let identity = load_identity(&state, &browser, now).await;
    let draft = match q.back {
        Some(_) => load_draft(&state, &browser, now).await,
        None => None,
    };
    let values = match &draft {
        Some(d) => json!({ "given_name": d.given_name, "family_name": d.family_name, "email": d.email }),
        None => json!({}),
    };
    let view = json!({ "form": values, "password_kept": draft.is_some(), "identity": identity_view(identity.as_ref()) });
    form_page(&state, &browser, locale, StatusCode::OK, view, &[])
}

/// Form of `POST /register`.
#[derive(Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Secret<String>,
    #[serde(default)]
    password_repeat: Secret<String>,
}

/// `POST /register`: checks the form and shows the summary.
#[instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<SubmitForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let earlier = load_draft(&state, &browser, now).await;
    let identity = load_identity(&state, &browser, now).await;
    let values = json!({
        "given_name": f.given_name.chars().take(100).collect::<String>(),
        "family_name": f.family_name.chars().take(100).collect::<String>(),
        "email": f.email.chars().take(254).collect::<String>(),
    });
    let form = RegistrationForm {
        given_name: f.given_name,
        family_name: f.family_name,
        email: f.email,
        password: f.password,
        password_repeat: f.password_repeat,
    };
    let deps = (&state.throttle, &state.hasher);
    match registration::check(deps, form, (earlier.as_ref(), identity.clone()), Vec::new(), &addr, now).await {
        Err(e) => failure_page(&state, locale, &e),
        Ok(Ok(draft)) => match state
            .ephemeral
            .put_json(&draft_key(&browser), &draft, now + DRAFT_SECONDS, now)
            .await
        {
            Ok(()) => Redirect::to(paths::REGISTER_SUMMARY).into_response(),
            Err(e) => unavailable(&state, locale, &e),
        },
        Ok(Err(errors)) => {
            let view = json!({ "form": values, "password_kept": earlier.is_some(), "identity": identity_view(identity.as_ref()) });
            form_page(&state, &browser, locale, StatusCode::BAD_REQUEST, view, &errors)
        }
    }
}

fn summary_page(
    state: &AppState,
    browser: &Browser,
    draft: &Draft,
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    let ctx = merged(
        json!({
            "csrf": browser.csrf_token(&state.secrets.csrf_key),
            "given_name": draft.given_name,
            "family_name": draft.family_name,
            "email": draft.email,
            "identity": identity_view(draft.identity.as_ref()),
        }),
        form_errors(&state.pages, locale, errors),
    );
    state.pages.page(status, "pages/register_summary.html", locale, false, &ctx)
}

/// `GET /register/summary` (R-REG-3).
pub async fn summary(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match load_draft(&state, &browser, state.clock.now()).await {
        Some(d) => summary_page(&state, &browser, &d, locale, StatusCode::OK, &[]),
        None => Redirect::to(paths::REGISTER).into_response(),
    }
}

/// Form of `POST /register/summary`.
#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    action: String,
    consent: Option<String>,
}

/// `POST /register/summary`: back to the form, or create the registration.
#[instrument(skip_all)]
pub async fn decide(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<DecideForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let Some(draft) = load_draft(&state, &browser, now).await else {
        return Redirect::to(paths::REGISTER).into_response();
    };
    match f.action.as_str() {
        "back" => Redirect::to(&format!("{}?back=1", paths::REGISTER)).into_response(),
        "create" if f.consent.is_none() => summary_page(
            &state,
            &browser,
            &draft,
            locale,
            StatusCode::BAD_REQUEST,
            &[("consent", "field_consent_required")],
        ),
        "create" => {
            if let Err(e) = registration::submit(state.account_env(), draft, None, locale, now).await {
                return unavailable(&state, locale, &e);
            }
            let _ = state.ephemeral.delete(&draft_key(&browser)).await;
            let _ = state.ephemeral.delete(&identity_key(&browser)).await;
            Redirect::to(paths::REGISTER_SENT).into_response()
        }
        _ => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    }
}

/// `GET /register/sent`: the same answer for new and already registered addresses.
pub async fn sent(State(state): State<AppState>, PageLocale(locale): PageLocale) -> Response {
    state.pages.notice(locale, "register_sent_title", "register_sent_text", None)
}

/// Query of a link target.
#[derive(Deserialize)]
pub struct TokenQuery {
    /// The link's token.
    #[serde(default)]
    pub token: String,
}

/// `GET /register/activate?token=…`: asks before it activates.
pub async fn activation_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Query(q): Query<TokenQuery>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match registration::is_pending(&state.store, &q.token, false, state.clock.now()).await {
        Ok(true) => activate_form(&state, &browser, &q.token, locale, StatusCode::OK, &[]),
        Ok(false) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_activation_link", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}

/// Form of a link confirmation.
#[derive(Deserialize)]
pub struct TokenForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// The link's token.
    #[serde(default)]
    pub token: String,
}

/// The activation form: the link's token and the password chosen at registration.
fn activate_form(
    state: &AppState,
    browser: &Browser,
    token: &str,
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    token_form(state, browser, ("pages/activate.html", token), locale, status, errors)
}

/// Form of `POST /register/activate`.
#[derive(Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: Secret<String>,
}

/// `POST /register/activate`: opens the account (R-REG-4) for whoever knows its password.
#[instrument(skip_all)]
pub async fn activate(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(f): CheckedForm<ActivateForm>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match registration::activate((&state.store, &state.hasher), &f.token, f.password, state.clock.now()).await {
        Ok(_) => state
            .pages
            .notice(locale, "activated_title", "activated_text", Some((paths::LOGIN, "login_title"))),
        Err(AccountError::Denied(_)) => activate_form(
            &state,
            &browser,
            &f.token,
            locale,
            StatusCode::UNAUTHORIZED,
            &[("password", "activate_password_wrong")],
        ),
        Err(AccountError::LinkInvalid) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_activation_link", None),
        Err(AccountError::EmailTaken) => state.pages.error(StatusCode::CONFLICT, locale, "err_already_active", None),
        Err(e) => failure_page(&state, locale, &e),
    }
}
