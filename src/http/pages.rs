//! HTML pages for people: rendering (tera templates compiled into the binary, text from the
//! German and English message catalogs) and the pages that are not protocol endpoints.

pub mod consent;
pub mod demo;
pub mod login;
pub mod org_admin;
pub mod org_register;
pub mod password;
pub mod profile;
pub mod register;
pub mod services;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::REQUEST_ID;
use super::cookies::{Cookies, SESSION};
use crate::accounts::password::Busy;
use crate::accounts::recovery::SessionsEnded;
use crate::accounts::{Account, AccountError};
use crate::clock;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::sessions::{Lookup, Session};
use crate::state::AppState;
use crate::templates::{STYLE, Templates};

/// The page responses every handler builds from the templates.
pub trait Render {
    /// A full HTML response.
    fn page<C: Serialize>(&self, status: StatusCode, template: &str, locale: Locale, logged_in: bool, ctx: &C) -> Response;
    /// A page that only tells something (`title_key`, `text_key` from the catalog), with an
    /// optional link onwards (path, catalog key of its text).
    fn notice(&self, locale: Locale, title_key: &str, text_key: &str, link: Option<(&str, &str)>) -> Response;
    /// The page behind a mailed link: it explains and asks, and only its button (a POST to
    /// `action`) acts, so mail scanners that follow links use nothing up. `keys` are the
    /// catalog keys of title, text and button.
    fn confirm_link(&self, locale: Locale, keys: [&str; 3], action: &str, token: &str, csrf: &str) -> Response;
    /// An error page with a catalog message: a [`PageError`], rendered with the request's id.
    fn error(&self, status: StatusCode, locale: Locale, message_key: &str, detail: Option<String>) -> Response;
}

impl Render for Templates {
    fn page<C: Serialize>(&self, status: StatusCode, template: &str, locale: Locale, logged_in: bool, ctx: &C) -> Response {
        match self.render(template, locale, logged_in, ctx) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template, error = %e, "template rendering failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }

    fn notice(&self, locale: Locale, title_key: &str, text_key: &str, link: Option<(&str, &str)>) -> Response {
        let ctx = json!({
            "title": self.text(locale, title_key),
            "message": self.text(locale, text_key),
            "link_href": link.map(|(href, _)| href),
            "link_text": link.map(|(_, key)| self.text(locale, key)),
        });
        self.page(StatusCode::OK, "pages/notice.html", locale, false, &ctx)
    }

    fn confirm_link(&self, locale: Locale, keys: [&str; 3], action: &str, token: &str, csrf: &str) -> Response {
        let ctx = json!({
            "title": self.text(locale, keys[0]),
            "message": self.text(locale, keys[1]),
            "button": self.text(locale, keys[2]),
            "action": action,
            "token": token,
            "csrf": csrf,
        });
        self.page(StatusCode::OK, "pages/confirm_link.html", locale, false, &ctx)
    }

    fn error(&self, status: StatusCode, locale: Locale, message_key: &str, detail: Option<String>) -> Response {
        PageError {
            status,
            locale,
            message_key: message_key.to_owned(),
            detail,
        }
        .into_response()
    }
}

/// An error page for people, the web layer's one error type for them: the status and the
/// catalog's message. It leaves the handler as a response without a body; [`error_pages`]
/// renders it with the request's id, which the person can quote to the helpdesk, and keeps the
/// headers the handler set (`Retry-After`, cookies).
#[derive(Debug, Clone)]
pub struct PageError {
    /// The status.
    pub status: StatusCode,
    /// The page's language.
    pub locale: Locale,
    /// The catalog key of the message.
    pub message_key: String,
    /// More, already in the page's language.
    pub detail: Option<String>,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// Renders the [`PageError`] a handler answered with, naming the request id that
/// `SetRequestIdLayer` gave the request.
pub async fn error_pages(State(state): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // A reference-counted copy: every request passes here, few are errors.
    let request_id = req.headers().get(REQUEST_ID).cloned();
    let res = next.run(req).await;
    let Some(error) = res.extensions().get::<PageError>().cloned() else {
        return res;
    };
    let (mut parts, _) = res.into_parts();
    parts.extensions.remove::<PageError>();
    let ctx = json!({
        "message": state.pages.text(error.locale, &error.message_key),
        "detail": error.detail,
        "request_id": request_id.as_ref().and_then(|v| v.to_str().ok()),
    });
    let (page, body) = state
        .pages
        .page(error.status, "pages/error.html", error.locale, false, &ctx)
        .into_parts();
    parts.status = page.status;
    for (name, value) in &page.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// Tells the services about the sessions an account flow ended (R-SES-5). A failure is logged,
/// not shown: the change the user made stands, and their refresh tokens are revoked already.
pub async fn tell_services(state: &AppState, ended: SessionsEnded, now: clock::Timestamp) {
    if let Err(e) = state.backchannel.tell(ended, now).await {
        tracing::error!(error = %e, "could not look up the services to tell about the logout");
    }
}

/// A time as the pages show it: `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(t: clock::Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t.seconds())
        .ok()
        .and_then(|d| d.format(format).ok())
        .unwrap_or_default()
}

/// Non-protocol page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::HOME, get(home))
        .route(paths::ACCESSIBILITY, get(accessibility))
        .route(paths::SERVICES, get(services::show))
        .route(paths::LOGIN, get(login::show).post(login::submit))
        .route(paths::CONSENT, get(consent::show).post(consent::submit))
        .merge(register::routes())
        .merge(org_register::routes())
        .merge(org_admin::routes())
        .merge(password::routes())
        .merge(profile::routes())
}

/// Name of the cookie that remembers the language chosen with `?lang=` (a session cookie,
/// R-SES-3).
pub const LANG_COOKIE: &str = "sk_lang";

fn query_lang(query: Option<&str>) -> Option<Locale> {
    let q = query?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| Locale::from_ui_locales(&v))
}

/// The language of a page outside an authorization: `?lang=`, else the remembered choice,
/// else German.
#[derive(Debug, Clone, Copy)]
pub struct PageLocale(pub Locale);

impl<S> axum::extract::FromRequestParts<S> for PageLocale
where
    S: Send + Sync,
    Arc<crate::config::Config>: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(l) = query_lang(parts.uri.query()) {
            return Ok(PageLocale(l));
        }
        let cookies = Cookies::from_request_parts(parts, state).await?;
        Ok(PageLocale(
            cookies.get(LANG_COOKIE).map(Locale::from_ui_locales).unwrap_or_default(),
        ))
    }
}

/// Remembers `?lang=` in a session cookie, so the following pages and forms keep the language.
pub async fn remember_lang(State(state): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let lang = query_lang(req.uri().query());
    let mut res = next.run(req).await;
    if let Some(l) = lang {
        res.headers_mut().append(
            header::SET_COOKIE,
            super::cookies::set(LANG_COOKIE, l.tag(), state.config.issuer_is_https()),
        );
    }
    res
}

/// The form's problems for a template: `errors` (field → message, shown at the field) and
/// `error_list` (the summary at the top, each entry linking to its field).
pub fn form_errors(pages: &Templates, locale: Locale, errors: &[(&str, &str)]) -> Value {
    let mut by_field = serde_json::Map::new();
    let mut list = Vec::new();
    for (field, key) in errors {
        let message = pages.text(locale, key);
        by_field.entry(field.to_string()).or_insert_with(|| message.clone().into());
        list.push(json!([field, message]));
    }
    json!({ "errors": by_field, "error_list": list })
}

/// Merges two JSON objects (a page context and its form errors).
pub fn merged(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

/// The signed-in citizen of a profile page, and the time of the request (read once). Without a
/// live session the browser is sent to log in first and comes back to the page it asked for (or
/// to the profile, for a form that has no page of its own).
pub struct Citizen {
    /// The login session.
    pub session: Session,
    /// Its account.
    pub account: Account,
    /// When the request came.
    pub now: clock::Timestamp,
}

impl axum::extract::FromRequestParts<AppState> for Citizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(cookies) = Cookies::from_request_parts(parts, state).await;
        let path = parts.uri.path();
        let pages = [
            paths::PROFILE,
            paths::PROFILE_PASSWORD,
            paths::PROFILE_EMAIL,
            paths::PROFILE_DELETE,
            paths::PROFILE_PLUS_REQUEST,
        ];
        let back_to = pages.into_iter().find(|p| *p == path).unwrap_or(paths::PROFILE);
        let now = state.clock.now();
        let (session, account) = require_account(state, &cookies, now, back_to).await?;
        Ok(Citizen { session, account, now })
    }
}

/// The logged-in account, or the response that sends the browser to log in first (with the
/// "session expired" notice when that is what happened, R-SES-2).
pub async fn require_account(
    state: &AppState,
    cookies: &Cookies,
    now: clock::Timestamp,
    back_to: &str,
) -> Result<(Session, Account), Response> {
    let login = |expired: bool| {
        let mut target = format!(
            "{}?next={}",
            paths::LOGIN,
            url::form_urlencoded::byte_serialize(back_to.as_bytes()).collect::<String>()
        );
        if expired {
            target.push_str("&expired=1");
        }
        Redirect::to(&target).into_response()
    };
    let session = match state.sessions.load(cookies.get(SESSION), now).await {
        Ok(Lookup::Active(s)) => s,
        Ok(Lookup::Expired) => return Err(login(true)),
        Ok(Lookup::None) => return Err(login(false)),
        Err(e) => {
            tracing::error!(error = %e, "ephemeral store failure");
            return Err(state
                .pages
                .error(StatusCode::SERVICE_UNAVAILABLE, Locale::De, "err_unavailable", None));
        }
    };
    let Some(account_id) = session.account_id() else {
        return Err(login(false));
    };
    match state.store.account(account_id).await {
        Ok(Some(a)) if a.blocked_at.is_none() => Ok((session, a)),
        Ok(_) => Err(login(false)),
        Err(e) => {
            tracing::error!(error = %e, "store failure");
            Err(state
                .pages
                .error(StatusCode::SERVICE_UNAVAILABLE, Locale::De, "err_unavailable", None))
        }
    }
}

/// A form posted from one of our pages in this browser: its `csrf` field is checked against
/// the browser cookie before the handler runs, so a forged, missing or foreign token gets the
/// 403 page and nothing else happens. One check for every state-changing form.
pub struct CheckedForm<T>(pub T);

/// A form with nothing but its CSRF token (logout, switching something off).
#[derive(serde::Deserialize)]
pub struct OnlyToken {}

#[derive(serde::Deserialize, Default)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for CheckedForm<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &AppState) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = request.into_parts();
        let Ok(PageLocale(locale)) = PageLocale::from_request_parts(&mut parts, state).await;
        let Ok(cookies) = Cookies::from_request_parts(&mut parts, state).await;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let refused = || state.pages.error(StatusCode::FORBIDDEN, locale, "err_csrf", None);
        let bytes = axum::body::Bytes::from_request(axum::extract::Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let token: CsrfField = if is_form {
            serde_urlencoded::from_bytes(&bytes).unwrap_or_default()
        } else {
            CsrfField::default()
        };
        if !super::cookies::Browser::from_cookies(&cookies).csrf_ok(&state.secrets.csrf_key, &token.csrf) {
            return Err(refused());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CheckedForm)
            .map_err(|_| state.pages.error(StatusCode::BAD_REQUEST, locale, "err_form", None))
    }
}

/// Where a login outside an authorization may continue: a path of ours, nothing else (no
/// open redirect).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?;
    let ok = n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 200 && !n.chars().any(char::is_control);
    ok.then(|| n.to_string())
}

/// A page with a form: the browser's CSRF token, the page's `view` and the fields' problems;
/// the browser cookie is kept.
pub fn form_page(
    state: &AppState,
    browser: &super::cookies::Browser,
    (template, locale, logged_in): (&str, Locale, bool),
    status: StatusCode,
    view: Value,
    errors: &[(&str, &str)],
) -> Response {
    let ctx = merged(
        merged(json!({ "csrf": browser.csrf_token(&state.secrets.csrf_key) }), view),
        form_errors(&state.pages, locale, errors),
    );
    let mut res = state.pages.page(status, template, locale, logged_in, &ctx);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// A form that carries a link's token (password reset, activation), with its field errors.
pub fn token_form(
    state: &AppState,
    browser: &super::cookies::Browser,
    (template, token): (&str, &str),
    locale: Locale,
    status: StatusCode,
    errors: &[(&str, &str)],
) -> Response {
    form_page(state, browser, (template, locale, false), status, json!({ "token": token }), errors)
}

/// The page for a backing store that failed.
pub fn unavailable(state: &AppState, locale: Locale, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "backing store failure");
    state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None)
}

/// Says when to come back to a 503 that a full password-hashing pool caused (R-SEC-1).
pub fn with_retry_after(mut res: Response, busy: Busy) -> Response {
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(busy.retry_after));
    res
}

/// The page for a failure that is not the form's fault: 503 with `Retry-After` for a full
/// hashing pool (the person sends the form again), 429 for an address over its hourly limit,
/// the outage page otherwise.
pub fn failure_page(state: &AppState, locale: Locale, error: &AccountError) -> Response {
    match error {
        AccountError::Busy(b) => with_retry_after(state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_busy", None), *b),
        AccountError::AddressLimit => state.pages.error(StatusCode::TOO_MANY_REQUESTS, locale, "err_address_limit", None),
        AccountError::LastAdmin => state.pages.error(StatusCode::CONFLICT, locale, "err_last_admin", None),
        e => unavailable(state, locale, e),
    }
}

async fn home(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let now = state.clock.now();
    let (account, expired) = match state.sessions.load(cookies.get(SESSION), now).await {
        Ok(Lookup::Active(s)) => match s.account_id() {
            Some(id) => (state.store.account(id).await.ok().flatten(), false),
            None => (None, false),
        },
        Ok(Lookup::Expired) => (None, true),
        _ => (None, false),
    };
    if expired {
        return Redirect::to(&format!("{}?expired=1", paths::LOGIN)).into_response();
    }
    // An organisation's administrator finds the administration from here.
    let administers = match &account {
        Some(a) if a.kind == crate::accounts::AccountKind::Organisation => crate::orgs::administered(&state.store, &a.id).await.is_ok(),
        _ => false,
    };
    state.pages.page(
        StatusCode::OK,
        "pages/home.html",
        locale,
        account.is_some(),
        &json!({ "email": account.map(|a| a.email), "administers": administers, "demo": state.config.demo_enabled() }),
    )
}

async fn accessibility(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let logged_in = matches!(
        state.sessions.load(cookies.get(SESSION), state.clock.now()).await,
        Ok(Lookup::Active(_))
    );
    state
        .pages
        .page(StatusCode::OK, "pages/accessibility.html", locale, logged_in, &json!({}))
}

/// `GET /static/style.css`.
pub async fn style() -> Response {
    let mut res = STYLE.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

/// Any unknown path.
pub async fn not_found(State(state): State<AppState>) -> Response {
    state.pages.error(StatusCode::NOT_FOUND, Locale::De, "err_not_found", None)
}
