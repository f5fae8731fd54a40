//! Forgotten password (R-SES-4) and the block link (R-SES-6). The forgot form answers the same
//! whether or not the address is registered; link pages ask before they act, so a mail scanner
//! following links uses nothing up.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use super::register::{TokenForm, TokenQuery};
use super::{CheckedForm, PageLocale, Render, failure_page, form_errors, merged, tell_services, token_form, unavailable};
use crate::accounts::AccountError;
use crate::accounts::links::LinkPurpose;
use crate::accounts::recovery;
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{Browser, Cookies};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::secret::Secret;
use crate::state::AppState;

/// Routes of recovery and blocking.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::FORGOT, get(forgot_page).post(forgot))
        .route(paths::RESET, get(reset_page).post(reset))
        .route(paths::BLOCK, get(block_page).post(block))
}

fn with_browser(state: &AppState, browser: &Browser, mut res: Response) -> Response {
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// `GET /password/forgot`.
pub async fn forgot_page(State(state): State<AppState>, cookies: Cookies, PageLocale(locale): PageLocale) -> Response {
    let browser = Browser::from_cookies(&cookies);
    let ctx = merged(
        json!({ "csrf": browser.csrf_token(&state.secrets.csrf_key), "email": "" }),
        form_errors(&state.pages, locale, &[]),
    );
    let res = state.pages.page(StatusCode::OK, "pages/forgot.html", locale, false, &ctx);
    with_browser(&state, &browser, res)
}

/// Form of `POST /password/forgot`.
#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// `POST /password/forgot`: mails a link when the address is registered; answers the same
/// either way.
#[instrument(skip_all)]
pub async fn forgot(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<ForgotForm>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    if crate::accounts::normalize_email(&f.email).is_err() {
        let ctx = merged(
            json!({ "csrf": browser.csrf_token(&state.secrets.csrf_key), "email": f.email.chars().take(254).collect::<String>() }),
            form_errors(&state.pages, locale, &[("email", "field_email_invalid")]),
        );
        return state.pages.page(StatusCode::BAD_REQUEST, "pages/forgot.html", locale, false, &ctx);
    }
    let now = state.clock.now();
    if let Err(e) = recovery::admit_reset_request(&state.throttle, &addr, now).await {
        return failure_page(&state, locale, &e);
    }
    // R-SES-4: the answer leaves before the work, which differs for known and unknown
    // addresses (a lookup, a link, a mail) in time and in how it can fail.
    let worker = state.clone();
    tokio::spawn(async move {
        if let Err(e) = recovery::request_reset(worker.account_env(), &f.email, locale, now).await {
            tracing::error!(error = %e, "a reset request could not be carried out");
        }
    });
    state.pages.notice(locale, "forgot_sent_title", "forgot_sent_text", None)
}

fn reset_form(state: &AppState, browser: &Browser, token: &str, locale: Locale, status: StatusCode, errors: &[(&str, &str)]) -> Response {
    token_form(state, browser, ("pages/reset.html", token), locale, status, errors)
}

/// `GET /password/reset?token=…`.
pub async fn reset_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Query(q): Query<TokenQuery>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match recovery::link_is_live(&state.store, &q.token, LinkPurpose::Reset, state.clock.now()).await {
        Ok(true) => reset_form(&state, &browser, &q.token, locale, StatusCode::OK, &[]),
        Ok(false) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_reset_link", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}

/// Form of `POST /password/reset`.
#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: Secret<String>,
    #[serde(default)]
    password_repeat: Secret<String>,
}

/// `POST /password/reset`: sets the new password, ends every session, revokes refresh tokens.
#[instrument(skip_all)]
pub async fn reset(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    ClientAddr(addr): ClientAddr,
    CheckedForm(f): CheckedForm<ResetForm>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    if f.password.expose() != f.password_repeat.expose() {
        return reset_form(
            &state,
            &browser,
            &f.token,
            locale,
            StatusCode::BAD_REQUEST,
            &[("password_repeat", "field_password_mismatch")],
        );
    }
    let now = state.clock.now();
    match recovery::reset_password(state.account_env(), &f.token, f.password, &addr, locale, now).await {
        Ok((_, ended)) => {
            tell_services(&state, ended, now).await;
            state
                .pages
                .notice(locale, "reset_done_title", "reset_done_text", Some((paths::LOGIN, "login_title")))
        }
        Err(AccountError::WeakPassword(v)) => reset_form(
            &state,
            &browser,
            &f.token,
            locale,
            StatusCode::BAD_REQUEST,
            &[("password", v.message_key())],
        ),
        Err(AccountError::LinkInvalid) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_reset_link", None),
        Err(e) => failure_page(&state, locale, &e),
    }
}

/// `GET /block?token=…`.
pub async fn block_page(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Query(q): Query<TokenQuery>,
) -> Response {
    let browser = Browser::from_cookies(&cookies);
    match recovery::link_is_live(&state.store, &q.token, LinkPurpose::Block, state.clock.now()).await {
        Ok(true) => {
            let csrf = browser.csrf_token(&state.secrets.csrf_key);
            let res = state
                .pages
                .confirm_link(locale, ["block_title", "block_text", "block_submit"], paths::BLOCK, &q.token, &csrf);
            with_browser(&state, &browser, res)
        }
        Ok(false) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_block_link", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}

/// `POST /block`: blocks the account at once (R-SES-6).
#[instrument(skip_all)]
pub async fn block(State(state): State<AppState>, PageLocale(locale): PageLocale, CheckedForm(f): CheckedForm<TokenForm>) -> Response {
    let now = state.clock.now();
    match recovery::block(state.account_env(), &f.token, locale, now).await {
        Ok(ended) => {
            tell_services(&state, ended, now).await;
            state
                .pages
                .notice(locale, "blocked_title", "blocked_text", Some((paths::FORGOT, "forgot_title")))
        }
        Err(AccountError::LinkInvalid) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_block_link", None),
        Err(e) => unavailable(&state, locale, &e),
    }
}
