//! The consent page (R-SVC-3): lists the data the service will receive; the answer is
//! remembered per service and data set. For a person logged in through another Land it shows
//! the values that will be passed on and is asked on every transfer (R-FED-1); for a federation
//! partner it is asked on every transfer too, and optional attributes can be deselected
//! (R-FED-4). Neither of those is remembered.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::unavailable;
use crate::authorization::{self, Transaction};
use crate::federation::essential;
use crate::grants::claims::{ClaimSource, consent_items, release};
use crate::grants::{consent_set, give_consent};
use crate::http::cookies::{Browser, Cookies};
use crate::http::oidc::authorize::{send_error, session_cookie, txn_error_page};
use crate::http::pages::Render;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::sessions::{Lookup, Session};
use crate::state::AppState;

/// Query of `GET /consent`.
#[derive(Deserialize)]
pub struct ConsentQuery {
    txn: String,
}

fn resume(id: &str) -> Response {
    Redirect::to(&format!("{}?txn={id}", paths::AUTHORIZE_RESUME)).into_response()
}

/// The claim names the consent lists for a transaction.
fn items(txn: &Transaction) -> Vec<String> {
    consent_items(&txn.request.scope, txn.request.claims.names().map(str::to_owned))
}

/// The values the request releases from `source`, at userinfo or in the ID token.
fn passed_on(source: &impl ClaimSource, txn: &Transaction) -> Map<String, Value> {
    let mut out = release(source, &txn.request.scope, &txn.request.claims.userinfo, &[]);
    out.extend(release(source, &Default::default(), &txn.request.claims.id_token, &[]));
    out
}

/// A claim value as a person reads it.
fn readable(state: &AppState, locale: Locale, v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => state.pages.text(locale, if *b { "yes" } else { "no" }),
        Value::Object(o) => match o.get("formatted").and_then(Value::as_str) {
            Some(f) => f.replace('\n', ", "),
            None => o.values().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
        },
        other => other.to_string(),
    }
}

/// `GET /consent`.
pub async fn show(State(state): State<AppState>, cookies: Cookies, Query(q): Query<ConsentQuery>) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let txn = match authorization::load(&state.ephemeral, &q.txn, &browser.binding(), now).await {
        Ok(t) => t,
        Err(e) => return txn_error_page(&state, e, Locale::De),
    };
    let locale = txn.request.locale;
    // Without a live session (or a Land's identity) the decision sends the user to login first.
    let session = match state.sessions.load(session_cookie(&txn, &cookies), now).await {
        Ok(Lookup::Active(s)) => Some(s),
        _ if txn.federated().is_some() => None,
        _ => return resume(&q.txn),
    };
    let client = match state.clients.get(&txn.request.client_id, now).await {
        Ok(Some(c)) => c,
        _ => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_unknown_client", None),
    };
    let label = |c: &str| state.pages.text(locale, &format!("claim_{c}"));
    let (items, land): (Vec<Value>, Option<String>) = match txn.federated() {
        Some(fed) => {
            let values = passed_on(&fed.claims, &txn);
            let items = items(&txn)
                .into_iter()
                .filter_map(|c| {
                    let shown = if c == "name" && !values.contains_key("name") {
                        None
                    } else {
                        values.get(&c).map(|v| readable(&state, locale, v))
                    };
                    shown.map(|v| json!({ "key": c, "label": label(&c), "value": v }))
                })
                .collect();
            (items, Some(fed.land.clone()))
        }
        None => {
            // A partner's consent shows the values another Land will receive (R-FED-4).
            let account = match (session.as_ref().and_then(Session::account_id), txn.is_partner()) {
                (Some(id), true) => match state.store.account(id).await {
                    Ok(a) => a,
                    Err(e) => return unavailable(&state, locale, &e),
                },
                _ => None,
            };
            let values = account.map(|a| passed_on(&a, &txn));
            let required = essential(&txn.request.claims);
            let items = items(&txn)
                .into_iter()
                .map(|c| {
                    let value = values.as_ref().and_then(|v| v.get(&c)).map(|v| readable(&state, locale, v));
                    json!({ "key": c, "label": label(&c), "required": required.contains(&c), "value": value })
                })
                .collect();
            (items, None)
        }
    };
    let ctx = json!({
        "csrf": browser.csrf_token(&state.secrets.csrf_key),
        "txn": q.txn,
        "client_name": client.name,
        "items": items,
        "land": land,
        "choose": txn.is_partner(),
    });
    state
        .pages
        .page(StatusCode::OK, "pages/consent.html", locale, txn.federated().is_none(), &ctx)
}

/// `POST /consent`: `csrf`, `txn`, `decision` (`allow`/`deny`) and, at a partner's consent,
/// `attr_NAME=on` for each optional attribute left selected.
pub async fn submit(State(state): State<AppState>, cookies: Cookies, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let now = state.clock.now();
    let form: BTreeMap<&str, &str> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let field = |k: &str| form.get(k).copied().unwrap_or_default();
    let browser = Browser::from_cookies(&cookies);
    if !browser.csrf_ok(&state.secrets.csrf_key, field("csrf")) {
        return state.pages.error(StatusCode::FORBIDDEN, Locale::De, "err_csrf", None);
    }
    let id = field("txn").to_string();
    let mut txn = match authorization::load(&state.ephemeral, &id, &browser.binding(), now).await {
        Ok(t) => t,
        Err(e) => return txn_error_page(&state, e, Locale::De),
    };
    let locale = txn.request.locale;
    let session = if txn.federated().is_some() {
        None
    } else {
        match state.sessions.load(session_cookie(&txn, &cookies), now).await {
            Ok(Lookup::Active(s)) => Some(s),
            _ => return resume(&id),
        }
    };
    match field("decision") {
        "allow" => {
            if txn.is_partner() {
                // R-FED-4: what the user deselected is never released; nothing is remembered.
                let required = essential(&txn.request.claims);
                txn.withheld = items(&txn)
                    .into_iter()
                    .filter(|c| !required.contains(c) && field(&format!("attr_{c}")) != "on")
                    .collect();
            } else if let Some(account_id) = session.as_ref().and_then(Session::account_id) {
                let wanted = consent_set(&txn.request.scope, &txn.request.claims);
                if let Err(e) = give_consent(&state.store, account_id, &txn.request.client_id, &wanted, now).await {
                    return unavailable(&state, locale, &e);
                }
            }
            txn.fresh_consent = true;
            match authorization::save(&state.ephemeral, Some(id.clone()), &txn, now).await {
                Ok(_) => resume(&id),
                Err(e) => unavailable(&state, locale, &e),
            }
        }
        "deny" => {
            // Nothing is stored: the transaction, a Land's identity in it and a partner's
            // session end here.
            send_error(
                &state,
                Some(&id),
                &txn,
                &OAuthError::new(OAuthErrorCode::AccessDenied, "the user declined"),
            )
            .await
        }
        _ => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    }
}
