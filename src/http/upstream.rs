//! Logins at upstream identity providers: `POST /upstream/{id}/start` sends the browser there,
//! `GET /upstream/{id}/callback` checks the answer and finishes what it was for — an eID login
//! (R-SES-1, R-EID-3, step-up R-ACR-3), the upgrade to Plus (R-EID-1) or the sync with the card
//! (R-EID-4), or a login through another Land (R-FED-1, finished in `federation`). Every
//! refusal is an HTML page and changes no account.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tracing::instrument;

use super::client_addr::ClientAddr;
use super::cookies::{self, Browser, Cookies, SESSION};
use super::federation::{self, AbortReason, interop_txn};
use super::oidc::authorize::txn_error_page;
use super::pages::login::logged_in;
use super::pages::{CheckedForm, Citizen, OnlyToken, PageLocale, require_account, tell_services, unavailable};
use crate::accounts::eid::{self, Applied, EidData, EidError};
use crate::authorization;
use crate::config::UpstreamKind;
use crate::http::pages::Render;
use crate::http::pages::org_register;
use crate::http::pages::register::keep_identity;
use crate::model::account::Account;
use crate::orgs::elster::{self, ElsterData, ElsterError, Linked};
use crate::paths;
use crate::protocol::authorize::Locale;
use crate::state::AppState;
use crate::trust::{Method, TrustLevel};
use crate::upstream::{CallbackParams, Identity, Pending, Purpose, UpstreamError};

/// Routes of the upstream logins.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::UPSTREAM_START, post(start))
        .route(paths::UPSTREAM_CALLBACK, get(callback))
        .route(paths::PROFILE_EID_OFF, post(eid_off))
        .route(paths::PROFILE_ELSTER_DELETE, post(elster_delete))
}

/// Form of `POST /upstream/{id}/start`.
#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    purpose: String,
    txn: Option<String>,
}

/// `POST /upstream/{id}/start`.
#[instrument(skip_all)]
pub async fn start(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Path(id): Path<String>,
    CheckedForm(f): CheckedForm<StartForm>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let (purpose, account_id) = match f.purpose.as_str() {
        "login" => {
            if let Some(txn) = &f.txn
                && let Err(e) = authorization::load(&state.ephemeral, txn, &browser.binding(), now).await
            {
                return txn_error_page(&state, e, locale);
            }
            (Purpose::Login { txn: f.txn.clone() }, None)
        }
        "register" => (Purpose::Register, None),
        "register_organisation" => (Purpose::RegisterOrganisation, None),
        "link_elster" => match require_account(&state, &cookies, now, paths::PROFILE).await {
            Ok((_, account)) => {
                if let Err(e) = elster::may_use(&account) {
                    return elster_refusal(&state, locale, &e);
                }
                (Purpose::LinkElster, Some(account.id))
            }
            Err(res) => return res,
        },
        "federate" => {
            // R-FED-2: only for a service that allows it.
            let Some(txn) = &f.txn else {
                return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None);
            };
            match interop_txn(&state, txn, &browser, now).await {
                Ok((t, client)) => {
                    let level = t.request.acr.required_level().map_or(client.min_level, |l| l.max(client.min_level));
                    (Purpose::Federate { txn: txn.clone(), level }, None)
                }
                Err(res) => return res,
            }
        }
        "upgrade" | "sync" => match require_account(&state, &cookies, now, paths::PROFILE).await {
            Ok((_, account)) => {
                let purpose = if f.purpose == "upgrade" { Purpose::Upgrade } else { Purpose::Sync };
                if purpose == Purpose::Upgrade
                    && let Err(e) = eid::may_upgrade(&account)
                {
                    return eid_refusal(&state, locale, &e);
                }
                (purpose, Some(account.id))
            }
            Err(res) => return res,
        },
        _ => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_malformed", None),
    };
    match state.upstreams.start(&id, purpose, account_id, browser.binding(), now).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(UpstreamError::Unknown) => state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
        Err(UpstreamError::Ephemeral(e)) => unavailable(&state, locale, &e),
        Err(e) => {
            tracing::error!(upstream = %id, error = %e, "upstream cannot be started");
            state.pages.error(StatusCode::BAD_GATEWAY, locale, "err_upstream_unavailable", None)
        }
    }
}

fn refusal(state: &AppState, locale: Locale, e: &UpstreamError) -> Response {
    let (status, key) = match e {
        UpstreamError::Unknown => (StatusCode::NOT_FOUND, "err_not_found"),
        UpstreamError::Unavailable(_) => (StatusCode::BAD_GATEWAY, "err_upstream_unavailable"),
        UpstreamError::UnknownState => (StatusCode::BAD_REQUEST, "err_upstream_state"),
        UpstreamError::OtherBrowser => (StatusCode::BAD_REQUEST, "err_txn_other_browser"),
        UpstreamError::WrongUpstream => (StatusCode::BAD_REQUEST, "err_upstream_mixup"),
        UpstreamError::Declined(_) => (StatusCode::OK, "err_upstream_declined"),
        UpstreamError::Invalid(_) => (StatusCode::BAD_REQUEST, "err_upstream_invalid"),
        UpstreamError::Ephemeral(_) => (StatusCode::SERVICE_UNAVAILABLE, "err_unavailable"),
    };
    tracing::warn!(error = %e, "upstream answer refused");
    state.pages.error(status, locale, key, None)
}

fn eid_refusal(state: &AppState, locale: Locale, e: &EidError) -> Response {
    let (status, key) = match e {
        EidError::NotLinked => (StatusCode::FORBIDDEN, "err_eid_not_linked"),
        EidError::LinkedElsewhere => (StatusCode::CONFLICT, "err_eid_linked_elsewhere"),
        EidError::Mismatch => (StatusCode::CONFLICT, "err_eid_mismatch"),
        EidError::NoPseudonym => (StatusCode::BAD_REQUEST, "err_eid_no_pseudonym"),
        EidError::AlreadyPlus => (StatusCode::CONFLICT, "err_eid_already_plus"),
        EidError::Blocked => (StatusCode::FORBIDDEN, "login_blocked"),
        EidError::AlreadyRegistered => (StatusCode::CONFLICT, "err_eid_already_registered"),
        EidError::Missing(_) => (StatusCode::BAD_REQUEST, "err_upstream_invalid"),
        EidError::Account(inner) => return unavailable(state, locale, inner),
    };
    state.pages.error(status, locale, key, None)
}

fn elster_refusal(state: &AppState, locale: Locale, e: &ElsterError) -> Response {
    let (status, key) = match e {
        ElsterError::Missing(_) => (StatusCode::BAD_REQUEST, "err_elster_no_org_data"),
        ElsterError::Citizen => (StatusCode::FORBIDDEN, "err_elster_citizen"),
        ElsterError::FirstLinkByAdmin => (StatusCode::FORBIDDEN, "err_elster_first_by_admin"),
        ElsterError::OtherOrganisation => (StatusCode::CONFLICT, "err_elster_other_org"),
        ElsterError::LinkedElsewhere => (StatusCode::CONFLICT, "err_elster_linked_elsewhere"),
        ElsterError::NotLinked => (StatusCode::FORBIDDEN, "err_elster_not_linked"),
        ElsterError::Blocked => (StatusCode::FORBIDDEN, "login_blocked"),
        ElsterError::AlreadyRegistered => (StatusCode::CONFLICT, "err_elster_registered"),
        ElsterError::Store(inner) => return unavailable(state, locale, inner),
    };
    state.pages.error(status, locale, key, None)
}

/// `GET /upstream/{id}/callback`.
#[instrument(skip_all)]
pub async fn callback(
    State(state): State<AppState>,
    cookies: Cookies,
    PageLocale(locale): PageLocale,
    Path(id): Path<String>,
    ClientAddr(addr): ClientAddr,
    Query(params): Query<CallbackParams>,
) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    let (pending, identity) = match state.upstreams.finish(&id, &params, &browser.binding(), now).await {
        Ok(x) => x,
        Err(UpstreamError::Declined(Purpose::Federate { txn, .. })) => {
            let land = state.upstreams.get(&id).map(|u| u.display_name.clone()).unwrap_or_default();
            let message = state.pages.text(locale, "land_declined").replace("{land}", &land);
            return federation::refused(&state, &browser, &txn, locale, message, AbortReason::Cancel);
        }
        Err(e) => return refusal(&state, locale, &e),
    };
    if let Purpose::Federate { txn, .. } = &pending.purpose {
        return federation::finish(&state, &browser, txn, &identity, &addr).await;
    }
    // Verifying an identity (register, upgrade, sync, an ELSTER link) needs at least
    // "substanziell" from the upstream; a login takes whatever level it reports (R-ACR-1).
    if !matches!(pending.purpose, Purpose::Login { .. }) && identity.level < TrustLevel::Elster {
        tracing::warn!(upstream = %id, level = identity.level.name(), "upstream level too low to verify an identity");
        return state.pages.error(StatusCode::FORBIDDEN, locale, "err_upstream_level", None);
    }
    let at = Callback {
        state: &state,
        cookies: &cookies,
        browser: &browser,
        locale,
        addr: &addr,
        now,
    };
    match identity.kind {
        UpstreamKind::Eid => eid_finish(at, pending, &identity).await,
        UpstreamKind::Elster => elster_finish(at, pending, &identity).await,
        UpstreamKind::Land => state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None),
    }
}

/// What finishing an upstream login at the callback works with.
#[derive(Clone, Copy)]
struct Callback<'a> {
    state: &'a AppState,
    cookies: &'a Cookies,
    browser: &'a Browser,
    locale: Locale,
    addr: &'a str,
    now: crate::clock::Timestamp,
}

impl Callback<'_> {
    /// The authorization transaction a login resumes, or the page saying why it cannot.
    async fn txn(&self, txn: Option<String>) -> Result<Option<(String, authorization::Transaction)>, Response> {
        match txn {
            Some(txn_id) => match authorization::load(&self.state.ephemeral, &txn_id, &self.browser.binding(), self.now).await {
                Ok(t) => Ok(Some((txn_id, t))),
                Err(e) => Err(txn_error_page(self.state, e, self.locale)),
            },
            None => Ok(None),
        }
    }

    /// Finishes a login through the upstream with `method`: counts it, and on success opens the
    /// session and resumes the transaction `txn`; a refusal is `refused`'s page.
    async fn logged_in<E>(
        &self,
        txn: Option<String>,
        method: Method,
        result: Result<(Account, TrustLevel), E>,
        refused: impl FnOnce(&E) -> Response,
    ) -> Response {
        let outcome = if result.is_ok() { "success" } else { "failure" };
        self.state.metrics.logins.with_label_values(&[method.amr(), outcome]).inc();
        let (account, level) = match result {
            Ok(x) => x,
            Err(e) => return refused(&e),
        };
        let txn = match self.txn(txn).await {
            Ok(t) => t,
            Err(res) => return res,
        };
        logged_in(
            self.state,
            self.cookies,
            txn,
            (&account.id, level, method),
            None,
            self.now,
            self.locale,
        )
        .await
    }

    /// The logged-in account the upstream login was started for, or the page saying why not.
    async fn account_of(&self, pending: &Pending) -> Result<Account, Response> {
        match require_account(self.state, self.cookies, self.now, paths::PROFILE).await {
            Ok((_, a)) if Some(&a.id) == pending.account_id.as_ref() => Ok(a),
            Ok(_) => Err(self
                .state
                .pages
                .error(StatusCode::FORBIDDEN, self.locale, "err_upstream_state", None)),
            Err(res) => Err(res),
        }
    }
}

/// An ELSTER answer: a login (R-ELS-4), a link of the user's certificate (R-ELS-1…3), or the
/// start of an organisation's registration.
async fn elster_finish(at: Callback<'_>, pending: Pending, identity: &Identity) -> Response {
    let Callback { state, locale, now, .. } = at;
    let data = match ElsterData::from_claims(&identity.claims) {
        Ok(d) => d,
        Err(e) => return elster_refusal(state, locale, &e),
    };
    let key = state.secrets.eid_pseudonym_key.current_key();
    match pending.purpose {
        Purpose::Login { txn } => {
            let result = elster::login(&state.store, key, (&data, identity.level), at.addr, now).await;
            at.logged_in(txn, Method::Elster, result, |e| elster_refusal(state, locale, e))
                .await
        }
        Purpose::LinkElster => {
            let account = match at.account_of(&pending).await {
                Ok(a) => a,
                Err(res) => return res,
            };
            match elster::link(&state.store, key, &account, &data, at.addr, now).await {
                Ok(Linked::First) => Redirect::to(&format!("{}?done=elster_first", paths::PROFILE)).into_response(),
                Ok(Linked::Added) => Redirect::to(&format!("{}?done=elster_linked", paths::PROFILE)).into_response(),
                Err(e) => elster_refusal(state, locale, &e),
            }
        }
        Purpose::RegisterOrganisation => match elster::identity_for_registration(&state.store, key, data).await {
            Ok(origin) => org_register::start_from_elster(state, at.browser, origin, locale, now).await,
            Err(e) => elster_refusal(state, locale, &e),
        },
        Purpose::Upgrade | Purpose::Sync | Purpose::Register | Purpose::Federate { .. } => {
            state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None)
        }
    }
}

/// An eID answer: a login (R-EID-3), a registration as Plus (R-REG-5), the upgrade (R-EID-1)
/// or the sync (R-EID-4).
async fn eid_finish(at: Callback<'_>, pending: Pending, identity: &Identity) -> Response {
    let Callback {
        state,
        browser,
        locale,
        addr,
        now,
        ..
    } = at;
    let data = match EidData::from_claims(&identity.claims) {
        Ok(d) => d,
        Err(e) => return eid_refusal(state, locale, &e),
    };
    let key = state.secrets.eid_pseudonym_key.current_key();
    match pending.purpose {
        Purpose::Federate { .. } | Purpose::LinkElster | Purpose::RegisterOrganisation => {
            state.pages.error(StatusCode::NOT_FOUND, locale, "err_not_found", None)
        }
        Purpose::Register => {
            // R-REG-5: the card's identity waits for the rest of the registration form.
            let identity = match eid::identity_for_registration(&state.store, key, data).await {
                Ok(i) => i,
                Err(e) => return eid_refusal(state, locale, &e),
            };
            match keep_identity(state, browser, &identity, now).await {
                Ok(()) => Redirect::to(paths::REGISTER).into_response(),
                Err(e) => unavailable(state, locale, &e),
            }
        }
        Purpose::Login { txn } => {
            let result = eid::login(&state.store, key, (&data, identity.level), addr, now).await;
            at.logged_in(txn, Method::Eid, result, |e| eid_refusal(state, locale, e)).await
        }
        Purpose::Upgrade | Purpose::Sync => {
            let account = match at.account_of(&pending).await {
                Ok(a) => a,
                Err(res) => return res,
            };
            let upgrade = pending.purpose == Purpose::Upgrade;
            match eid::upgrade_or_sync(state.account_env(), key, (&account, &data), upgrade, locale, now).await {
                Ok(Applied::Synced) => Redirect::to(&format!("{}?done=synced", paths::PROFILE)).into_response(),
                Ok(Applied::Upgraded(ended)) => {
                    tell_services(state, ended, now).await;
                    let mut res = state
                        .pages
                        .notice(locale, "upgraded_title", "upgraded_text", Some((paths::LOGIN, "login_title")));
                    res.headers_mut()
                        .append(header::SET_COOKIE, cookies::clear(SESSION, state.config.issuer_is_https()));
                    res
                }
                Err(e) => eid_refusal(state, locale, &e),
            }
        }
    }
}

/// `POST /profile/elster/delete`: deletes the user's ELSTER certificate link (R-ELS-3); the
/// organisation's data stay locked.
pub async fn elster_delete(
    State(state): State<AppState>,
    Citizen { account, now, .. }: Citizen,
    ClientAddr(addr): ClientAddr,
    PageLocale(locale): PageLocale,
    CheckedForm(_): CheckedForm<OnlyToken>,
) -> Response {
    match elster::unlink(&state.store, &account, &addr, now).await {
        Ok(()) => Redirect::to(&format!("{}?done=elster_deleted", paths::PROFILE)).into_response(),
        Err(e) => elster_refusal(&state, locale, &e),
    }
}

/// `POST /profile/eid/off`: switches eID login off (R-EID-3); a new sync switches it on again.
pub async fn eid_off(
    State(state): State<AppState>,
    Citizen { account, now, .. }: Citizen,
    ClientAddr(addr): ClientAddr,
    PageLocale(locale): PageLocale,
    CheckedForm(_): CheckedForm<OnlyToken>,
) -> Response {
    match eid::disable_login(&state.store, &account.id, &addr, now).await {
        Ok(()) => Redirect::to(&format!("{}?done=eid_off", paths::PROFILE)).into_response(),
        Err(e) => unavailable(&state, locale, &e),
    }
}
