//! The authorization endpoint, and the browser's side of the transaction
//! ([`authorization::Transaction`]) that carries a request through login and consent. An invalid
//! client or redirect URI ends on an HTML page; every other outcome goes back to the client's
//! redirect URI with `state` and `iss` (RFC 9207).

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use crate::authorization::{self, MAX_TXN_BYTES, NotKept, Outcome, ProceedError, Step, Subject, Transaction, TxnError};
use crate::clients::{Admits, GrantType};
use crate::clock::Timestamp;
use crate::ephemeral::EphemeralError;
use crate::grants::decide::NotAdmitted;
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{Browser, Cookies, SESSION};
use crate::http::pages::Render;
use crate::ids::AccountId;
use crate::paths;
use crate::protocol::authorize::{self, Locale, ResponseMode, TargetError};
use crate::protocol::params::Params;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::secret::random_token;
use crate::sessions::Holder;
use crate::state::AppState;
use crate::trust::{Method, TrustLevel};

/// The session a transaction runs under: for a federation partner only one opened within the
/// transaction (no single sign-on in interoperable use, R-FED-4), else the browser's.
pub fn session_cookie<'a>(txn: &'a Transaction, cookies: &'a Cookies) -> Option<&'a str> {
    if txn.is_partner() {
        txn.own_session()
    } else {
        cookies.get(SESSION)
    }
}

/// Opens the session of a successful login. Within a partner's transaction it is kept in the
/// transaction (the caller saves it) and the browser's own session stays as it was; otherwise
/// it replaces the browser's session, and the cookie value to set is returned.
pub async fn open_session(
    state: &AppState,
    cookies: &Cookies,
    txn: Option<&mut Transaction>,
    account_id: &AccountId,
    level: TrustLevel,
    method: Method,
    now: Timestamp,
) -> Result<Option<String>, EphemeralError> {
    let (cookie, _) = state
        .sessions
        .create(Holder::Account(account_id.clone()), level, method, now)
        .await?;
    match txn.map(|t| &mut t.subject) {
        Some(Subject::Partner { own_session }) => {
            if let Some(old) = own_session.replace(cookie) {
                state.sessions.destroy(&old).await?;
            }
            Ok(None)
        }
        _ => {
            if let Some(old) = cookies.get(SESSION) {
                let _ = state.sessions.destroy(old).await;
            }
            Ok(Some(cookie))
        }
    }
}

/// The HTML page for a transaction that cannot go on.
pub fn txn_error_page(state: &AppState, err: TxnError, locale: Locale) -> Response {
    match err {
        TxnError::Unknown => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_txn_unknown", None),
        TxnError::OtherBrowser => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_txn_other_browser", None),
        TxnError::Unavailable(e) => {
            tracing::error!(error = %e, "ephemeral store failure");
            state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None)
        }
    }
}

/// `GET /authorize`.
pub async fn get(State(state): State<AppState>, cookies: Cookies, ClientAddr(addr): ClientAddr, RawQuery(query): RawQuery) -> Response {
    start(state, cookies, &addr, query.unwrap_or_default(), false).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-encoded body).
pub async fn post(State(state): State<AppState>, cookies: Cookies, ClientAddr(addr): ClientAddr, body: String) -> Response {
    start(state, cookies, &addr, body, true).await
}

async fn start(state: AppState, cookies: Cookies, addr: &str, input: String, via_post: bool) -> Response {
    let now = state.clock.now();
    let Ok(params) = Params::parse(&input) else {
        return state.pages.error(StatusCode::BAD_REQUEST, Locale::De, "err_malformed", None);
    };
    let locale = params.get("ui_locales").map(Locale::from_ui_locales).unwrap_or_default();
    let target = match authorize::parse_target(&params) {
        Ok(t) => t,
        Err(TargetError::MissingClient) => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_missing_client", None),
        Err(TargetError::MissingRedirectUri) => {
            return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_missing_redirect_uri", None);
        }
    };
    let client = match state.clients.get(&target.client_id, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_unknown_client", None),
        Err(e) => {
            tracing::error!(error = %e, "store failure");
            return state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None);
        }
    };
    // Exact string comparison (RFC 9700 §2.1): no normalisation, no prefix matching.
    if !client.redirect_uris.contains(&target.redirect_uri) {
        return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_bad_redirect_uri", None);
    }
    let redirect_uri = target.redirect_uri.clone();
    let request = match authorize::parse(&params, target, &client.scopes, client.is_public()) {
        Ok(r) => r,
        Err(e) => return respond(&state, &redirect_uri, e.response_mode, error_params(&e.error, e.state.as_deref())),
    };
    let deny = |error: OAuthError| {
        respond(
            &state,
            &request.redirect_uri,
            request.response_mode,
            error_params(&error, request.state.as_deref()),
        )
    };
    if !client.allows(GrantType::AuthorizationCode) {
        return deny(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    if let Some(hint) = &request.id_token_hint
        && state.tokens.verify_id_token_hint(hint, now).is_err()
    {
        return deny(OAuthError::invalid_request(
            "id_token_hint is not an ID token issued by this provider",
        ));
    }
    let txn = Transaction {
        request,
        browser: None,
        fresh_login: false,
        fresh_consent: false,
        expires_at: now + state.config.sessions.transaction_seconds,
        subject: if client.federation_partner {
            Subject::Partner { own_session: None }
        } else {
            Subject::Browser
        },
        withheld: Vec::new(),
        origin: Some(addr.to_string()),
    };
    if serde_json::to_vec(&txn).map_or(true, |t| t.len() > MAX_TXN_BYTES) {
        let error = OAuthError::invalid_request("the authorization request is too large");
        let r = &txn.request;
        return respond(&state, &r.redirect_uri, r.response_mode, error_params(&error, r.state.as_deref()));
    }
    if via_post {
        // A cross-site POST carries no SameSite=Lax cookies; continuing with a GET makes the
        // session visible again.
        return match authorization::keep(&state.ephemeral, &state.throttle, None, &txn, now).await {
            Ok(id) => Redirect::to(&format!("{}?txn={id}", paths::AUTHORIZE_RESUME)).into_response(),
            Err(NotKept::Limited) => send_error(&state, None, &txn, &authorization::too_many()).await,
            Err(NotKept::Unavailable(e)) => txn_error_page(&state, TxnError::Unavailable(e), locale),
        };
    }
    let browser = Browser::from_cookies(&cookies);
    let mut res = proceed(&state, None, txn, &cookies, &browser, now).await;
    browser.persist(res.headers_mut(), state.config.issuer_is_https());
    res
}

/// Query of `/authorize/resume`.
#[derive(Deserialize)]
pub struct ResumeQuery {
    txn: String,
}

/// `GET /authorize/resume?txn=…`: continues after login or consent.
pub async fn resume(State(state): State<AppState>, cookies: Cookies, Query(q): Query<ResumeQuery>) -> Response {
    let now = state.clock.now();
    let browser = Browser::from_cookies(&cookies);
    match authorization::load(&state.ephemeral, &q.txn, &browser.binding(), now).await {
        Ok(txn) => {
            let mut res = proceed(&state, Some(q.txn), txn, &cookies, &browser, now).await;
            browser.persist(res.headers_mut(), state.config.issuer_is_https());
            res
        }
        Err(e) => txn_error_page(&state, e, Locale::De),
    }
}

/// Runs the decision for a transaction ([`authorization::proceed`]) and answers accordingly.
/// The caller sends the browser cookie with the response (`Browser::persist`).
pub async fn proceed(
    state: &AppState,
    id: Option<String>,
    txn: Transaction,
    cookies: &Cookies,
    browser: &Browser,
    now: Timestamp,
) -> Response {
    let locale = txn.request.locale;
    let cookie = session_cookie(&txn, cookies).map(str::to_owned);
    let env = authorization::Env {
        clients: &state.clients,
        store: &state.store,
        sessions: &state.sessions,
        ephemeral: &state.ephemeral,
        throttle: &state.throttle,
        tokens: &state.tokens,
        eid_configured: state.upstreams.eid().is_some(),
        elster_configured: state.upstreams.elster().is_some(),
        code_seconds: state.config.tokens.code_seconds,
    };
    match authorization::proceed(env, id, txn, (cookie.as_deref(), &browser.binding()), now).await {
        Ok(Outcome::Code { code, txn }) => {
            let mut params = vec![("code", code)];
            if let Some(s) = &txn.request.state {
                params.push(("state", s.clone()));
            }
            params.push(("iss", state.config.issuer.clone()));
            respond(state, &txn.request.redirect_uri, txn.request.response_mode, params)
        }
        Ok(Outcome::Refused { error, txn, notice: None }) => respond(
            state,
            &txn.request.redirect_uri,
            txn.request.response_mode,
            error_params(&error, txn.request.state.as_deref()),
        ),
        Ok(Outcome::Refused {
            error,
            txn,
            notice: Some((why, service)),
        }) => not_admitted(state, &txn, &error, why, &service),
        Ok(Outcome::Ask { step, id, expired }) => {
            let page = match step {
                Step::Login => paths::LOGIN,
                Step::Consent => paths::CONSENT,
            };
            let expired = if expired { "&expired=1" } else { "" };
            Redirect::to(&format!("{page}?txn={id}{expired}")).into_response()
        }
        Err(ProceedError::UnknownClient) => state.pages.error(StatusCode::BAD_REQUEST, locale, "err_unknown_client", None),
        Err(ProceedError::Inconsistent) => state.pages.error(StatusCode::INTERNAL_SERVER_ERROR, locale, "err_internal", None),
        Err(ProceedError::Unavailable(e)) => {
            tracing::error!(error = %e, "backing store failure");
            state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None)
        }
    }
}

/// Sends an error to the client, ending the transaction.
pub async fn send_error(state: &AppState, id: Option<&str>, txn: &Transaction, error: &OAuthError) -> Response {
    authorization::close(&state.ephemeral, &state.sessions, id, txn).await;
    respond(
        state,
        &txn.request.redirect_uri,
        txn.request.response_mode,
        error_params(error, txn.request.state.as_deref()),
    )
}

fn error_params(error: &OAuthError, state: Option<&str>) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("error", error.code.as_str().to_string()),
        ("error_description", error.description.clone()),
    ];
    if let Some(s) = state {
        p.push(("state", s.to_string()));
    }
    p
}

/// The page that tells the person why they cannot use the service with this account
/// (R-SVC-1); its button takes the error to the client, in the request's response mode.
fn not_admitted(state: &AppState, txn: &Transaction, error: &OAuthError, why: NotAdmitted, service: &str) -> Response {
    let r = &txn.request;
    let params = with_iss(state, error_params(error, r.state.as_deref()));
    let back = match r.response_mode {
        ResponseMode::Query => match query_url(&r.redirect_uri, &params) {
            Some(url) => json!({ "href": url.as_str() }),
            None => return state.pages.error(StatusCode::BAD_REQUEST, r.locale, "err_bad_redirect_uri", None),
        },
        ResponseMode::FormPost => json!({ "action": r.redirect_uri, "fields": params }),
    };
    let message = match why {
        NotAdmitted::AccountKind(Admits::Organisation) => "not_admitted_organisations_only",
        NotAdmitted::AccountKind(Admits::Citizen) => "not_admitted_citizens_only",
        NotAdmitted::AccountKind(Admits::Any) => "not_admitted_account",
        NotAdmitted::NotGranted => "not_admitted_not_granted",
    };
    let ctx = json!({ "service": service, "message": state.pages.text(r.locale, message), "back": back });
    state
        .pages
        .page(StatusCode::FORBIDDEN, "pages/not_admitted.html", r.locale, true, &ctx)
}

fn with_iss(state: &AppState, mut params: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    if !params.iter().any(|(k, _)| *k == "iss") {
        params.push(("iss", state.config.issuer.clone()));
    }
    params
}

/// The redirect URI with the response parameters added to its query.
fn query_url(redirect_uri: &str, params: &[(&'static str, String)]) -> Option<url::Url> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    Some(url)
}

/// Sends authorization-response parameters to the client's redirect URI, adding `iss`.
pub fn respond(state: &AppState, redirect_uri: &str, mode: ResponseMode, params: Vec<(&'static str, String)>) -> Response {
    let params = with_iss(state, params);
    match mode {
        ResponseMode::Query => match query_url(redirect_uri, &params) {
            Some(url) => Redirect::to(url.as_str()).into_response(),
            None => state.pages.error(StatusCode::BAD_REQUEST, Locale::De, "err_bad_redirect_uri", None),
        },
        ResponseMode::FormPost => {
            let nonce = random_token(16);
            let fields: Vec<(String, String)> = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let mut res = state.pages.page(
                StatusCode::OK,
                "pages/form_post.html",
                Locale::De,
                false,
                &serde_json::json!({ "action": redirect_uri, "fields": fields, "nonce": nonce }),
            );
            let csp = format!("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'");
            if let Ok(v) = HeaderValue::from_str(&csp) {
                res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            res
        }
    }
}
