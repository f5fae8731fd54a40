//! Staff pages under `/staff/` (R-EID-2): login with its own session cookie, the list of open
//! requests for an in-person identity check, and the clerk's decision. A citizen's session
//! opens none of these pages, and a staff session opens no citizen page.

use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use super::client_addr::ClientAddr;
use super::cookies::{self, Browser, Cookies, STAFF_SESSION};
use super::pages::{CheckedForm, OnlyToken, PageLocale, form_errors, format_time, merged, unavailable, with_retry_after};
use crate::accounts::{Account, AccountError};
use crate::http::pages::Render;
use crate::ids::{AccountId, ClientId, OrgId};
use crate::orgs::{self, OrgError};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::sessions::{Holder, Lookup};
use crate::staff::{self, Decision, Role, Staff, UpgradeRequest};
use crate::state::AppState;
use crate::store::StoreError;
use crate::trust::{Method, TrustLevel};

/// Routes of the staff pages, answered only from the configured networks.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(paths::STAFF_LOGIN, get(login_page).post(login))
        .route(paths::STAFF_LOGOUT, post(logout))
        .route(paths::STAFF_HOME, get(home))
        .route(paths::STAFF_REQUEST, get(request_page).post(decide))
        .route(paths::STAFF_SUBSCRIPTION, get(subscription_page).post(decide_subscription))
        .route_layer(middleware::from_fn_with_state(state.clone(), only_from_staff_networks))
}

/// Refuses every staff page to a client outside `[staff] networks` (R-SEC-4), before any
/// login form or session is looked at.
async fn only_from_staff_networks(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    PageLocale(locale): PageLocale,
    request: Request,
    next: Next,
) -> Response {
    match &state.staff_networks {
        Some(networks) if !networks.contains(&addr) => state.pages.error(StatusCode::FORBIDDEN, locale, "err_staff_network", None),
        _ => next.run(request).await,
    }
}

/// The logged-in staff member with `role` (any role with `None`), or the response that refuses.
async fn require_staff(state: &AppState, cookies: &Cookies, role: Option<Role>, locale: Locale) -> Result<Staff, Response> {
    let now = state.clock.now();
    let to_login = || Redirect::to(paths::STAFF_LOGIN).into_response();
    let session = match state.sessions.load(cookies.get(STAFF_SESSION), now).await {
        Ok(Lookup::Active(s)) => s,
        Ok(_) => return Err(to_login()),
        Err(e) => return Err(unavailable(state, locale, &e)),
    };
    let Some(id) = session.staff_id() else {
        return Err(to_login());
    };
    match state.store.staff(id).await {
        Ok(Some(s)) if role.is_none_or(|r| r == s.role) => Ok(s),
        Ok(Some(_)) => Err(state.pages.error(StatusCode::FORBIDDEN, locale, "err_staff_role", None)),
        Ok(None) => Err(to_login()),
        Err(e) => Err(unavailable(state, locale, &e)),
    }
}

/// The signed-in Kundenzentrum clerk of a staff page (R-EID-2). Without a staff session the
/// browser goes to the staff login; a member with another role is refused.
pub struct Clerk(pub Staff);

impl FromRequestParts<AppState> for Clerk {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(cookies) = Cookies::from_request_parts(parts, state).await;
        let Ok(PageLocale(locale)) = PageLocale::from_request_parts(parts, state).await;
        require_staff(state, &cookies, Some(Role::Kundenzentrum), locale).await.map(Clerk)
    }
}

/// The signed-in member of the Fachliche Leitstelle (R-ORG-7); like [`Clerk`] otherwise.
pub struct Leitstelle(pub Staff);

impl FromRequestParts<AppState> for Leitstelle {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(cookies) = Cookies::from_request_parts(parts, state).await;
        let Ok(PageLocale(locale)) = PageLocale::from_request_parts(parts, state).await;
        require_staff(state, &cookies, Some(Role::Leitstelle), locale).await.map(Leitstelle)
    }
}

fn login_form(state: &AppState, browser: &Browser, locale: Locale, status: StatusCode, username: &str, error: Option<&str>) -> Response {
    let errors: Vec<(&str, &str)> = error.map(|k| vec![("username", k)]).unwrap_or_default();
    let ctx = merged(
        json!({ "csrf": browser.csrf_token(&state.secrets.csrf_key), "username": username, "staff_nav": true }),
        form_errors(&state.pages, locale, &errors),
    );
    let mut res = state.pages.page(status, "pages/staff_login.html", locale, false, &ctx);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// `GET /staff/login`.
pub async fn login_page(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    login_form(&state, &Browser::from_cookies(&cookies), locale, StatusCode::OK, "", None)
}

/// Form of `POST /staff/login`.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: Secret<String>,
    /// The TOTP code (R-SEC-4).
    #[serde(default)]
    code: Secret<String>,
}

/// `POST /staff/login`.
#[instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<LoginForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let username: String = f.username.chars().take(100).collect();
    let retry = |status: StatusCode, key: &str| login_form(&state, &browser, locale, status, &username, Some(key));
    let deps = (&state.store, &state.throttle, &state.hasher, &state.secrets.staff_totp_key);
    let member = match staff::authenticate(deps, &username, (f.password, f.code), &addr, now).await {
        Ok(s) => s,
        // One message for a wrong name, password or code: the form tells nobody which was right.
        Err(AccountError::Denied(d)) if d.message_key() == "login_failed" => return retry(StatusCode::UNAUTHORIZED, "staff_login_failed"),
        Err(AccountError::Denied(d)) => return retry(StatusCode::UNAUTHORIZED, d.message_key()),
        Err(AccountError::NoSecondFactor) => return retry(StatusCode::FORBIDDEN, "staff_no_second_factor"),
        Err(AccountError::Busy(b)) => return with_retry_after(retry(StatusCode::SERVICE_UNAVAILABLE, "login_busy"), b),
        Err(e) => return unavailable(&state, locale, &e),
    };
    let (cookie, _) = match state
        .sessions
        .create(Holder::Staff(member.id.clone()), TrustLevel::Basic, Method::Pwd, now)
        .await
    {
        Ok(s) => s,
        Err(e) => return unavailable(&state, locale, &e),
    };
    let mut res = Redirect::to(paths::STAFF_HOME).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(STAFF_SESSION, &cookie, state.config.issuer_is_https()),
    );
    res
}

/// `POST /staff/logout`.
pub async fn logout(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    CheckedForm(_): CheckedForm<OnlyToken>,
) -> Response {
    // Whoever holds the session is logged out; the audit names them if they still are staff.
    if let Ok(member) = require_staff(&state, &cookies, None, locale).await {
        staff::log_out(&state.store, &member, state.clock.now()).await;
    }
    if let Some(c) = cookies.get(STAFF_SESSION) {
        let _ = state.sessions.destroy(c).await;
    }
    let mut res = Redirect::to(paths::STAFF_LOGIN).into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, cookies::clear(STAFF_SESSION, state.config.issuer_is_https()));
    res
}

/// `GET /staff/`: the start page of the member's role.
pub async fn home(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    match require_staff(&state, &cookies, None, locale).await {
        Ok(member) if member.role == Role::Kundenzentrum => requests(&state, &cookies, locale, member).await,
        Ok(member) => subscriptions(&state, &cookies, locale, member).await,
        Err(res) => res,
    }
}

/// The Kundenzentrum's start page: the open requests.
async fn requests(state: &AppState, cookies: &Cookies, locale: Locale, member: Staff) -> Response {
    let list = match staff::requests_to_check(&state.store).await {
        Ok(l) => l,
        Err(e) => return unavailable(state, locale, &e),
    };
    let rows: Vec<_> = list
        .iter()
        .map(|(r, a)| json!({ "account_id": a.id, "name": format!("{} {}", a.given_name, a.family_name), "birthdate": r.birthdate }))
        .collect();
    let ctx = json!({
        "csrf": Browser::from_cookies(cookies).csrf_token(&state.secrets.csrf_key),
        "staff_name": member.name,
        "staff_nav": true,
        "requests": rows,
    });
    state.pages.page(StatusCode::OK, "pages/staff_requests.html", locale, false, &ctx)
}

/// The request page for what `found` holds: a request and its account, none, or a failed read.
fn request_view(
    state: &AppState,
    cookies: &Cookies,
    found: Result<Option<(UpgradeRequest, Account)>, StoreError>,
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    let (request, account) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
        Err(e) => return unavailable(state, locale, &e),
    };
    let a = &request.address;
    let ctx = merged(
        json!({
            "csrf": Browser::from_cookies(cookies).csrf_token(&state.secrets.csrf_key),
            "account_id": account.id,
            "staff_nav": true,
            "title": account.title,
            "given_name": account.given_name,
            "family_name": account.family_name,
            "birthdate": request.birthdate,
            "address": format!("{} {}, {} {}, {}", a.street, a.house_number, a.postal_code, a.city, a.country),
            "digest": staff::shown_digest(&account, &request),
        }),
        form_errors(&state.pages, locale, errors),
    );
    state.pages.page(status, "pages/staff_request.html", locale, false, &ctx)
}

/// `GET /staff/requests/{account_id}`.
pub async fn request_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Clerk(member): Clerk,
    Path(account_id): Path<AccountId>,
) -> Response {
    let found = staff::open_request(&state.store, &member, &account_id, state.clock.now()).await;
    request_view(&state, &cookies, found, locale, StatusCode::OK, &[])
}

/// Form of the clerk's decision.
#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    document_type: String,
    #[serde(default)]
    last_digits: String,
    #[serde(default)]
    digest: String,
}

/// `POST /staff/requests/{account_id}`: confirm or reject, audited.
#[instrument(skip_all)]
pub async fn decide(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Path(account_id): Path<AccountId>,
    CheckedForm(f): CheckedForm<DecideForm>,
) -> Response {
    // Not the Clerk extractor: a forged form is refused before anything about the session is
    // told, and the form is the last extractor.
    let member = match require_staff(&state, &cookies, Some(Role::Kundenzentrum), locale).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let decision = match f.outcome.as_str() {
        "confirm" => Decision::Confirm {
            document_type: f.document_type,
            last_digits: f.last_digits.trim().to_string(),
            digest: f.digest,
        },
        "reject" => Decision::Reject,
        _ => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    };
    match staff::decide(&state.store, &member, &account_id, decision, state.clock.now()).await {
        Ok(_) => Redirect::to(paths::STAFF_HOME).into_response(),
        Err(AccountError::InvalidDocument) => {
            let found = staff::request_to_check(&state.store, &account_id).await;
            request_view(
                &state,
                &cookies,
                found,
                locale,
                StatusCode::BAD_REQUEST,
                &[("last_digits", "field_document_invalid")],
            )
        }
        Err(AccountError::Stale) => {
            // Shown again as it is now, for a fresh look.
            let found = staff::request_to_check(&state.store, &account_id).await;
            request_view(
                &state,
                &cookies,
                found,
                locale,
                StatusCode::CONFLICT,
                &[("last_digits", "staff_data_changed")],
            )
        }
        Err(AccountError::LinkInvalid) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}

fn org_problem(state: &AppState, locale: Locale, e: &OrgError) -> Response {
    match e {
        OrgError::Store(e) => unavailable(state, locale, e),
        _ => state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
    }
}

/// The Fachliche Leitstelle's start page: the subscriptions waiting for a release (R-ORG-7).
async fn subscriptions(state: &AppState, cookies: &Cookies, locale: Locale, member: Staff) -> Response {
    let now = state.clock.now();
    let pending = match orgs::pending(&state.store, &member).await {
        Ok(p) => p,
        Err(e) => return org_problem(state, locale, &e),
    };
    let mut rows = Vec::with_capacity(pending.len());
    for p in pending {
        let service = match state.clients.get(&p.subscription.client_id, now).await {
            Ok(c) => c.map(|c| c.name.clone()).unwrap_or_default(),
            Err(e) => return unavailable(state, locale, &e),
        };
        rows.push(json!({
            "org_id": p.org.id,
            "org_name": p.org.name,
            "client_id": p.subscription.client_id,
            "service": service,
            "requested_at": format_time(p.subscription.requested_at),
        }));
    }
    let ctx = json!({
        "csrf": Browser::from_cookies(cookies).csrf_token(&state.secrets.csrf_key),
        "staff_name": member.name,
        "staff_nav": true,
        "pending": rows,
    });
    state
        .pages
        .page(StatusCode::OK, "pages/staff_subscriptions.html", locale, false, &ctx)
}

/// `GET /staff/subscriptions/{org_id}/{client_id}`: one pending subscription and the decision.
pub async fn subscription_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Leitstelle(member): Leitstelle,
    Path((org_id, client_id)): Path<(OrgId, ClientId)>,
) -> Response {
    let now = state.clock.now();
    let p = match orgs::pending_one(&state.store, &member, &org_id, &client_id).await {
        Ok(p) => p,
        Err(e) => return org_problem(&state, locale, &e),
    };
    let service = match state.clients.get(&client_id, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
        Err(e) => return unavailable(&state, locale, &e),
    };
    let ctx = json!({
        "csrf": Browser::from_cookies(&cookies).csrf_token(&state.secrets.csrf_key),
        "staff_nav": true,
        "org_id": p.org.id,
        "client_id": client_id,
        "org_name": p.org.name,
        "trade_register": p.org.trade_register,
        "org_address": p.org.address.map(|a| format!("{} {}, {} {}", a.street, a.house_number, a.postal_code, a.city)),
        "service": service.name,
        "service_description": service.description,
        "requested_at": format_time(p.subscription.requested_at),
    });
    state
        .pages
        .page(StatusCode::OK, "pages/staff_subscription.html", locale, false, &ctx)
}

/// Form of the Leitstelle's decision.
#[derive(Deserialize)]
pub struct SubscriptionDecisionForm {
    #[serde(default)]
    outcome: String,
}

/// `POST /staff/subscriptions/{org_id}/{client_id}`: release or refuse, audited, the
/// administrators told by mail.
#[instrument(skip_all)]
pub async fn decide_subscription(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Path((org_id, client_id)): Path<(OrgId, ClientId)>,
    CheckedForm(f): CheckedForm<SubscriptionDecisionForm>,
) -> Response {
    // As for the clerk's decision: the CSRF check first, then the session.
    let member = match require_staff(&state, &cookies, Some(Role::Leitstelle), locale).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let approve = match f.outcome.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    };
    let now = state.clock.now();
    let service = match state.clients.get(&client_id, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
        Err(e) => return unavailable(&state, locale, &e),
    };
    match orgs::decide_subscription((&state.store, &state.mailer), &member, (&org_id, &service), approve, now).await {
        Ok(()) => Redirect::to(paths::STAFF_HOME).into_response(),
        Err(e) => org_problem(&state, locale, &e),
    }
}
