//! The login page (R-SES-1, email + password). Within an authorization it continues the
//! transaction; on its own it leads to the start page. Failures never reveal whether the
//! email is registered.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{CheckedForm, LANG_COOKIE, PageLocale, safe_next, unavailable, with_retry_after};
use crate::accounts::{self, AccountError};
use crate::authorization::{self, Subject, Transaction};
use crate::clients::Admits;
use crate::clock;
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{self, Browser, Cookies, SESSION};
use crate::http::oidc::authorize::{open_session, txn_error_page};
use crate::http::pages::Render;
use crate::ids::{AccountId, ClientId};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::state::AppState;
use crate::trust::{Method, TrustLevel, achieved_level};

fn eid_button(state: &AppState) -> Option<(String, String)> {
    state.upstreams.eid().map(|u| (u.id.clone(), u.display_name.clone()))
}

fn elster_button(state: &AppState) -> Option<(String, String)> {
    state.upstreams.elster().map(|u| (u.id.clone(), u.display_name.clone()))
}

/// Context of `pages/login.html`.
#[derive(Serialize)]
pub struct LoginPage {
    csrf: String,
    txn: Option<String>,
    client_name: Option<String>,
    email: String,
    error: Option<String>,
    expired: bool,
    next: Option<String>,
    /// The eID service's id and name, when one is configured.
    eid: Option<(String, String)>,
    /// The service demands the eID level (R-EID-5): the page says so and offers the eID first.
    eid_required: bool,
    /// ELSTER's id and name, when it is configured and the service admits organisations.
    elster: Option<(String, String)>,
    /// The service demands ELSTER's level (R-ELS-4): the page says so and offers ELSTER first.
    elster_required: bool,
    /// The service allows logins through other Länder and some are configured (R-FED-2).
    lands: bool,
    /// The service admits organisation users only (R-SVC-1): the page says so.
    organisations_only: bool,
}

/// Whether the login for `client_id` offers "Mit anderem Servicekonto" (R-FED-2).
async fn offers_lands(state: &AppState, client_id: &ClientId, now: clock::Timestamp) -> bool {
    state.upstreams.lands().next().is_some() && matches!(state.clients.get(client_id, now).await, Ok(Some(c)) if c.offers_interop())
}

/// Query of `GET /login`.
#[derive(Deserialize)]
pub struct LoginQuery {
    txn: Option<String>,
    expired: Option<String>,
    lang: Option<String>,
    next: Option<String>,
}

/// `GET /login`.
pub async fn show(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(page_locale): PageLocale,
    Query(q): Query<LoginQuery>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let mut page = LoginPage {
        csrf: browser.csrf_token(&state.secrets.csrf_key),
        txn: None,
        client_name: None,
        email: String::new(),
        error: None,
        expired: q.expired.is_some(),
        next: safe_next(q.next.as_deref()),
        eid: eid_button(&state),
        eid_required: false,
        elster: elster_button(&state),
        elster_required: false,
        lands: false,
        organisations_only: false,
    };
    let mut locale = q.lang.as_deref().map(Locale::from_ui_locales).unwrap_or(page_locale);
    if let Some(id) = q.txn {
        let txn = match authorization::load(&state.ephemeral, &id, &browser.binding(), now).await {
            Ok(t) => t,
            Err(e) => return txn_error_page(&state, e, locale),
        };
        locale = txn.request.locale;
        let client = state.clients.get(&txn.request.client_id, now).await.ok().flatten();
        page.client_name = client.as_ref().map(|c| c.name.clone());
        let admits = client.as_ref().map_or(Admits::Citizen, |c| c.admits);
        page.organisations_only = admits == Admits::Organisation;
        // The eID logs in citizens only, ELSTER organisations' users only (R-ELS-4).
        if page.organisations_only {
            page.eid = None;
        }
        if admits == Admits::Citizen {
            page.elster = None;
        }
        let needed = client.map(|c| c.min_level).max(txn.request.acr.required_level());
        page.eid_required = needed.is_some_and(|l| l >= TrustLevel::Eid);
        page.elster_required = page.elster.is_some() && needed == Some(TrustLevel::Elster);
        page.lands = offers_lands(&state, &txn.request.client_id, now).await;
        page.email = txn.request.login_hint.clone().unwrap_or_default();
        page.txn = Some(id);
    }
    let mut res = state.pages.page(StatusCode::OK, "pages/login.html", locale, false, &page);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    if locale != page_locale {
        // The service asked for this language (ui_locales): registration and recovery pages
        // reached from here keep it.
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(LANG_COOKIE, locale.tag(), state.config.issuer_is_https()),
        );
    }
    res
}

/// Form of `POST /login`.
#[derive(Deserialize)]
pub struct LoginForm {
    txn: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Secret<String>,
    next: Option<String>,
}

/// `POST /login`.
#[instrument(skip_all)]
pub async fn submit(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(page_locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(form): CheckedForm<LoginForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let txn = match &form.txn {
        Some(id) => match authorization::load(&state.ephemeral, id, &browser.binding(), now).await {
            Ok(t) => Some((id.clone(), t)),
            Err(e) => return txn_error_page(&state, e, Locale::De),
        },
        None => None,
    };
    let locale = txn.as_ref().map(|(_, t)| t.request.locale).unwrap_or(page_locale);
    let next = safe_next(form.next.as_deref());
    let lands = match &txn {
        Some((_, t)) => offers_lands(&state, &t.request.client_id, now).await,
        None => false,
    };
    let admits = match &txn {
        Some((_, t)) => match state.clients.get(&t.request.client_id, now).await {
            Ok(Some(c)) => Some(c.admits),
            _ => None,
        },
        None => None,
    };
    let organisations_only = admits == Some(Admits::Organisation);
    let retry = |status: StatusCode, key: &str| {
        let page = LoginPage {
            csrf: browser.csrf_token(&state.secrets.csrf_key),
            txn: form.txn.clone(),
            client_name: None,
            email: form.email.chars().take(254).collect(),
            error: Some(state.pages.text(locale, key)),
            expired: false,
            next: next.clone(),
            eid: eid_button(&state).filter(|_| !organisations_only),
            eid_required: false,
            elster: elster_button(&state).filter(|_| admits != Some(Admits::Citizen)),
            elster_required: false,
            lands,
            organisations_only,
        };
        state.pages.page(status, "pages/login.html", locale, false, &page)
    };
    if form.email.trim().is_empty() || form.password.expose().is_empty() {
        return retry(StatusCode::UNAUTHORIZED, "login_missing");
    }
    let result = accounts::log_in(state.account_env(), &form.email, form.password, &addr, locale, now).await;
    let outcome = match &result {
        Ok(_) => "success",
        Err(AccountError::Denied(d)) => d.outcome(),
        Err(AccountError::Blocked) => "blocked",
        Err(AccountError::Busy(_)) => "busy",
        Err(_) => "error",
    };
    state.metrics.logins.with_label_values(&["pwd", outcome]).inc();
    let account = match result {
        Ok(a) => a,
        Err(AccountError::Denied(d)) => return retry(StatusCode::UNAUTHORIZED, d.message_key()),
        Err(AccountError::Blocked) => return retry(StatusCode::UNAUTHORIZED, "login_blocked"),
        // The form again, the email kept: the person only has to send it once more.
        Err(AccountError::Busy(b)) => return with_retry_after(retry(StatusCode::SERVICE_UNAVAILABLE, "login_busy"), b),
        Err(e) => return unavailable(&state, locale, &e),
    };
    let level = achieved_level(account.level, Method::Pwd);
    logged_in(&state, &cookies, txn, (&account.id, level, Method::Pwd), next, now, locale).await
}

/// After a successful login (password or eID): opens the session and continues the
/// transaction, or goes to `next` (the start page without one).
pub async fn logged_in(
    state: &AppState,
    cookies: &Cookies,
    txn: Option<(String, Transaction)>,
    (account_id, level, method): (&AccountId, TrustLevel, Method),
    next: Option<String>,
    now: clock::Timestamp,
    locale: Locale,
) -> Response {
    let (target, cookie) = match txn {
        Some((id, mut t)) => {
            let cookie = match open_session(state, cookies, Some(&mut t), account_id, level, method, now).await {
                Ok(c) => c,
                Err(e) => return unavailable(state, locale, &e),
            };
            t.fresh_login = true;
            // A local login replaces a Land's identity chosen earlier in this transaction.
            if t.federated().is_some() {
                t.subject = Subject::Browser;
            }
            if let Err(e) = authorization::save(&state.ephemeral, Some(id.clone()), &t, now).await {
                return unavailable(state, locale, &e);
            }
            (format!("{}?txn={id}", paths::AUTHORIZE_RESUME), cookie)
        }
        None => match open_session(state, cookies, None, account_id, level, method, now).await {
            Ok(cookie) => (next.unwrap_or_else(|| paths::HOME.to_string()), cookie),
            Err(e) => return unavailable(state, locale, &e),
        },
    };
    let mut res = Redirect::to(&target).into_response();
    if let Some(cookie) = cookie {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(SESSION, &cookie, state.config.issuer_is_https()));
    }
    res
}
