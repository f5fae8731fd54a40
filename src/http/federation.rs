//! "Mit anderem Servicekonto" (R-FED-1, -2, -5): the list of Länder for a service that allows
//! it, the return from the chosen Land (its identity held in the transaction, never a local
//! account), and the way back to the service when the Land's answer cannot be used.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use super::cookies::{Browser, Cookies};
use super::oidc::authorize::{send_error, txn_error_page};
use super::pages::{CheckedForm, unavailable};
use crate::authorization::{self, Subject, Transaction};
use crate::clients::Client;
use crate::clock::Timestamp;
use crate::federation::{self, Refusal};
use crate::http::pages::Render;
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::state::AppState;
use crate::upstream::Identity;

/// How long the list of Länder waits for one Land's discovery before showing it unavailable.
const REACHABLE_WAIT: Duration = Duration::from_secs(3);

/// Routes of the login through other Länder.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::LOGIN_LAND, get(lands))
        .route(paths::LOGIN_LAND_ABORT, post(abort))
}

/// The transaction `id` and its client, when the client allows logins through other Länder
/// (R-FED-2); else the page to show.
pub async fn interop_txn(state: &AppState, id: &str, browser: &Browser, now: Timestamp) -> Result<(Transaction, Arc<Client>), Response> {
    let txn = authorization::load(&state.ephemeral, id, &browser.binding(), now)
        .await
        .map_err(|e| txn_error_page(state, e, Locale::De))?;
    let locale = txn.request.locale;
    match state.clients.get(&txn.request.client_id, now).await {
        Ok(Some(c)) if c.offers_interop() => Ok((txn, c)),
        Ok(_) => Err(state.pages.error(StatusCode::FORBIDDEN, locale, "err_interop_not_allowed", None)),
        Err(e) => Err(unavailable(state, locale, &e)),
    }
}

/// Query of `GET /login/land`.
#[derive(Deserialize)]
pub struct LandsQuery {
    txn: String,
}

/// `GET /login/land?txn=…`: the configured Länder, each with its name, logo text and issuer; a
/// Land whose discovery fails now is shown as unavailable (R-FED-5).
pub async fn lands(State(state): State<AppState>, cookies: Cookies, Query(q): Query<LandsQuery>) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let (txn, client) = match interop_txn(&state, &q.txn, &browser, now).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let mut checks = tokio::task::JoinSet::new();
    for (i, land) in state.upstreams.lands().enumerate() {
        let (upstreams, id) = (state.upstreams.clone(), land.id.clone());
        checks.spawn(async move { (i, upstreams.reachable(&id, REACHABLE_WAIT, now).await) });
    }
    let mut reachable = vec![false; checks.len()];
    while let Some(Ok((i, up))) = checks.join_next().await {
        reachable[i] = up;
    }
    let lands: Vec<_> = state
        .upstreams
        .lands()
        .zip(reachable)
        .map(|(land, available)| {
            json!({
                "id": land.id,
                "name": land.display_name,
                "logo": land.logo(),
                "issuer": land.issuer,
                "available": available,
            })
        })
        .collect();
    let ctx = json!({
        "csrf": browser.csrf_token(&state.secrets.csrf_key),
        "txn": q.txn,
        "client_name": client.name,
        "lands": lands,
    });
    let mut res = state
        .pages
        .page(StatusCode::OK, "pages/lands.html", txn.request.locale, false, &ctx);
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// Why the way back to the service is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortReason {
    /// The Land's level is too low for the service.
    Level,
    /// The user cancelled or declined.
    Cancel,
}

/// The page shown when a Land's answer cannot be used: it explains, and offers another way to
/// log in or the way back to the service.
pub fn refused(state: &AppState, browser: &Browser, txn_id: &str, locale: Locale, message: String, reason: AbortReason) -> Response {
    let ctx = json!({
        "csrf": browser.csrf_token(&state.secrets.csrf_key),
        "txn": txn_id,
        "message": message,
        "reason": if reason == AbortReason::Level { "level" } else { "cancel" },
    });
    let status = if reason == AbortReason::Level {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    state.pages.page(status, "pages/land_refused.html", locale, false, &ctx)
}

/// Finishes a login through another Land at our callback: checks the level against what the
/// service and the request need (never raising it, R-FED-3), keeps the identity in the
/// transaction and continues to the consent.
#[instrument(skip_all)]
pub async fn finish(state: &AppState, browser: &Browser, txn_id: &str, identity: &Identity, addr: &str) -> Response {
    let now = state.clock.now();
    let (mut txn, client) = match interop_txn(state, txn_id, browser, now).await {
        Ok(x) => x,
        Err(res) => return res,
    };
    let locale = txn.request.locale;
    let land = state
        .upstreams
        .get(&identity.upstream)
        .map(|u| u.display_name.clone())
        .unwrap_or_default();
    let fed = match federation::admit(&state.store, (&txn.request, &client), (identity, &land), addr, now).await {
        Ok(fed) => fed,
        Err(Refusal::Invalid) => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_upstream_invalid", None),
        Err(Refusal::LevelTooLow(fed)) => {
            state.metrics.logins.with_label_values(&["fed", "level"]).inc();
            let message = state
                .pages
                .text(locale, "land_level_too_low")
                .replace("{land}", &land)
                .replace("{level}", &state.pages.text(locale, &format!("level_{}", fed.level.name())));
            return refused(state, browser, txn_id, locale, message, AbortReason::Level);
        }
    };
    state.metrics.logins.with_label_values(&["fed", "success"]).inc();
    txn.subject = Subject::Federated { identity: fed };
    txn.fresh_login = true;
    txn.fresh_consent = false;
    match authorization::save(&state.ephemeral, Some(txn_id.to_string()), &txn, now).await {
        Ok(_) => Redirect::to(&format!("{}?txn={txn_id}", paths::AUTHORIZE_RESUME)).into_response(),
        Err(e) => unavailable(state, locale, &e),
    }
}

/// Form of `POST /login/land/abort`.
#[derive(Deserialize)]
pub struct AbortForm {
    txn: String,
    reason: AbortReason,
}

/// `POST /login/land/abort`: back to the service with `unmet_authentication_requirements`
/// (the Land's level was too low) or `access_denied` (the user cancelled).
pub async fn abort(State(state): State<AppState>, cookies: Cookies, CheckedForm(f): CheckedForm<AbortForm>) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let txn = match authorization::load(&state.ephemeral, &f.txn, &browser.binding(), now).await {
        Ok(t) => t,
        Err(e) => return txn_error_page(&state, e, Locale::De),
    };
    let (code, description) = match f.reason {
        AbortReason::Level => (
            OAuthErrorCode::UnmetAuthenticationRequirements,
            "the other Land's Servicekonto did not reach the level needed",
        ),
        AbortReason::Cancel => (OAuthErrorCode::AccessDenied, "the user cancelled the login"),
    };
    send_error(&state, Some(&f.txn), &txn, &OAuthError::new(code, description)).await
}
