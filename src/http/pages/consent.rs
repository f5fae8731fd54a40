//! The consent page (R-SVC-3): lists the data the service will receive; the answer is
//! remembered per service and data set.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use crate::clock;
use crate::grants::claims::consent_items;
use crate::grants::consent_set;
use crate::http::cookies::{Browser, Cookies, SESSION};
use crate::http::oidc::authorize::{end_txn, load_txn, respond, save_txn, txn_error_page};
use crate::http::paths;
use crate::protocol::OAuthErrorCode;
use crate::protocol::authorize::Locale;
use crate::sessions::Lookup;
use crate::state::AppState;

/// Query of `GET /consent`.
#[derive(Deserialize)]
pub struct ConsentQuery {
    txn: String,
}

fn resume(id: &str) -> Response {
    Redirect::to(&format!("{}?txn={id}", paths::AUTHORIZE_RESUME)).into_response()
}

/// `GET /consent`.
pub async fn show(State(state): State<AppState>, cookies: Cookies, Query(q): Query<ConsentQuery>) -> Response {
    let now = clock::now();
    let browser = Browser::from_cookies(&cookies);
    let txn = match load_txn(&state, &q.txn, &browser, now).await {
        Ok(t) => t,
        Err(e) => return txn_error_page(&state, e, Locale::De),
    };
    let locale = txn.request.locale;
    // Without a live session the decision sends the user to login first.
    if !matches!(state.sessions.load(cookies.get(SESSION), now).await, Ok(Lookup::Active(_))) {
        return resume(&q.txn);
    }
    let client = match state.clients.get(&txn.request.client_id, now).await {
        Ok(Some(c)) => c,
        _ => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_unknown_client", None),
    };
    let items: Vec<String> = consent_items(&txn.request.scope, txn.request.claims.names().map(str::to_owned))
        .into_iter()
        .map(|c| state.pages.text(locale, &format!("claim_{c}")))
        .collect();
    let ctx = json!({
        "csrf": browser.csrf_token(&state.csrf_key.0),
        "txn": q.txn,
        "client_name": client.name,
        "items": items,
    });
    state.pages.page(StatusCode::OK, "pages/consent.html", locale, true, &ctx)
}

/// Form of `POST /consent`.
#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: String,
    txn: String,
    decision: String,
}

/// `POST /consent`.
pub async fn submit(State(state): State<AppState>, cookies: Cookies, Form(form): Form<ConsentForm>) -> Response {
    let now = clock::now();
    let browser = Browser::from_cookies(&cookies);
    if !browser.csrf_ok(&state.csrf_key.0, &form.csrf) {
        return state.pages.error(StatusCode::FORBIDDEN, Locale::De, "err_csrf", None);
    }
    let mut txn = match load_txn(&state, &form.txn, &browser, now).await {
        Ok(t) => t,
        Err(e) => return txn_error_page(&state, e, Locale::De),
    };
    let locale = txn.request.locale;
    let session = match state.sessions.load(cookies.get(SESSION), now).await {
        Ok(Lookup::Active(s)) => s,
        _ => return resume(&form.txn),
    };
    match form.decision.as_str() {
        "allow" => {
            let wanted = consent_set(&txn.request.scope, &txn.request.claims);
            let earlier = state
                .store
                .consent(&session.account_id, &txn.request.client_id)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if let Err(e) = state
                .store
                .save_consent(&session.account_id, &txn.request.client_id, &earlier.union(&wanted), now)
                .await
            {
                tracing::error!(error = %e, "store failure");
                return state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None);
            }
            txn.fresh_consent = true;
            match save_txn(&state, Some(form.txn.clone()), &txn, now).await {
                Ok(_) => resume(&form.txn),
                Err(e) => {
                    tracing::error!(error = %e, "ephemeral store failure");
                    state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None)
                }
            }
        }
        "deny" => {
            end_txn(&state, &form.txn).await;
            let mut params = vec![
                ("error", OAuthErrorCode::AccessDenied.as_str().to_string()),
                ("error_description", "the user declined".to_string()),
            ];
            if let Some(s) = &txn.request.state {
                params.push(("state", s.clone()));
            }
            respond(&state, &txn.request.redirect_uri, txn.request.response_mode, params)
        }
        _ => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    }
}
