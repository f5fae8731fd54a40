//! RP-Initiated Logout 1.0 (R-SES-3): ends the login session and, when the client named a
//! registered `post_logout_redirect_uri`, sends the browser back with `state`. A valid
//! `id_token_hint` for the current session logs out at once; otherwise the user confirms.

use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use crate::http::cookies::{self, Browser, Cookies, SESSION};
use crate::http::pages::Render;
use crate::ids::ClientId;
use crate::protocol::authorize::Locale;
use crate::protocol::params::Params;
use crate::sessions::Lookup;
use crate::state::AppState;

/// `GET|POST /logout`.
pub async fn logout(State(state): State<AppState>, method: Method, cookies: Cookies, RawQuery(query): RawQuery, body: String) -> Response {
    let now = state.clock.now();
    let input = if method == Method::POST { body } else { query.unwrap_or_default() };
    let Ok(params) = Params::parse(&input) else {
        return state.pages.error(StatusCode::BAD_REQUEST, Locale::De, "err_malformed", None);
    };
    let locale = params.get("ui_locales").map(Locale::from_ui_locales).unwrap_or_default();
    let error = |key: &str| state.pages.error(StatusCode::BAD_REQUEST, locale, key, None);

    let hint = match params.get("id_token_hint") {
        Some(h) => match state.tokens.verify_id_token_hint(h, now) {
            Ok(hint) => Some(hint),
            Err(_) => return error("err_bad_id_token_hint"),
        },
        None => None,
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(h)) if !h.aud.iter().any(|a| a == id) => return error("err_bad_id_token_hint"),
        (Some(id), _) => Some(ClientId::new(id)),
        (None, Some(h)) => h.aud.first().map(ClientId::new),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => match state.clients.get(id, now).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "store failure");
                return state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None);
            }
        },
        None => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        Some(uri) => match &client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|u| u == uri) => Some(uri.to_string()),
            _ => return error("err_bad_post_logout_uri"),
        },
        None => None,
    };

    let session_cookie = cookies.get(SESSION);
    let session = match state.sessions.load(session_cookie, now).await {
        Ok(Lookup::Active(s)) => Some(s),
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "ephemeral store failure");
            return state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None);
        }
    };
    let browser = Browser::from_cookies(&cookies);
    if let Some(session) = &session {
        let hint_is_this_session = match (&hint, &client) {
            (Some(h), Some(c)) => {
                h.sid.as_ref() == Some(&session.sid) || session.account_id().is_some_and(|a| h.sub == state.tokens.subject(c, a))
            }
            _ => false,
        };
        let confirmed = method == Method::POST
            && params.get("confirm") == Some("yes")
            && params.get("csrf").is_some_and(|t| browser.csrf_ok(&state.secrets.csrf_key, t));
        if !hint_is_this_session && !confirmed {
            let mut res = state.pages.page(
                StatusCode::OK,
                "pages/logout.html",
                locale,
                true,
                &json!({
                    "csrf": browser.csrf_token(&state.secrets.csrf_key),
                    "client_id": client_id,
                    "post_logout_redirect_uri": redirect,
                    "state": params.get("state"),
                }),
            );
            browser.persist(res.headers_mut(), state.config.issuer_is_https());
            return res;
        }
        if let Some(cookie) = session_cookie
            && let Err(e) = state.sessions.destroy(cookie).await
        {
            tracing::error!(error = %e, "ephemeral store failure");
            return state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None);
        }
        // R-SES-5: every service that relied on this session is told.
        if let Some(account_id) = session.account_id()
            && let Err(e) = state.backchannel.session_ended(account_id, &session.sid, now).await
        {
            tracing::error!(error = %e, "could not look up the services to tell about the logout");
        }
    }
    let mut res = match redirect {
        Some(uri) => match url::Url::parse(&uri) {
            Ok(mut url) => {
                if let Some(s) = params.get("state") {
                    url.query_pairs_mut().append_pair("state", s);
                }
                Redirect::to(url.as_str()).into_response()
            }
            Err(_) => return error("err_bad_post_logout_uri"),
        },
        None => state.pages.page(StatusCode::OK, "pages/logged_out.html", locale, false, &json!({})),
    };
    res.headers_mut()
        .append(header::SET_COOKIE, cookies::clear(SESSION, state.config.issuer_is_https()));
    res
}
