//! The authorization endpoint, and the browser's side of the transaction
//! ([`authorization::Transaction`]) that carries a request through login and consent. An invalid
//! client or redirect URI ends on an HTML page; every other outcome goes back to the client's
//! redirect URI with `state` and `iss` (RFC 9207).

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::authorization::{self, MAX_TXN_BYTES, NotKept, Transaction, TxnError};
use crate::clients::{Client, GrantType};
use crate::clock::Timestamp;
use crate::ephemeral::EphemeralError;
use crate::federation::FederatedIdentity;
use crate::grants::codes::{self, CodeRecord, CodeSubject, FederatedRelease};
use crate::grants::consent_set;
use crate::grants::decide::{Context, Decision, decide, decide_federated};
use crate::http::client_addr::ClientAddr;
use crate::http::cookies::{Browser, Cookies, SESSION};
use crate::http::pages::Render;
use crate::paths;
use crate::protocol::authorize::{self, Locale, ResponseMode, TargetError};
use crate::protocol::params::Params;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::secret::random_token;
use crate::sessions::Lookup;
use crate::state::AppState;
use crate::trust::{Method, TrustLevel};

/// The session a transaction runs under: for a federation partner only one opened within the
/// transaction (no single sign-on in interoperable use, R-FED-4), else the browser's.
pub fn session_cookie<'a>(txn: &'a Transaction, cookies: &'a Cookies) -> Option<&'a str> {
    if txn.partner {
        txn.own_session.as_deref()
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
    account_id: &str,
    level: TrustLevel,
    method: Method,
    now: Timestamp,
) -> Result<Option<String>, EphemeralError> {
    let (cookie, _) = state.sessions.create(account_id, level, method, now).await?;
    match txn {
        Some(t) if t.partner => {
            if let Some(old) = t.own_session.replace(cookie) {
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

/// Ends a transaction that reached its answer, with a partner's session opened for it.
pub async fn close_txn(state: &AppState, id: Option<&str>, txn: &Transaction) {
    if let Some(id) = id {
        authorization::end(&state.ephemeral, id).await;
    }
    if let Some(own) = &txn.own_session
        && let Err(e) = state.sessions.destroy(own).await
    {
        tracing::warn!(error = %e, "could not end a federation partner's session");
    }
}

/// The client's answer when a new transaction was not kept for the limits.
fn too_many() -> OAuthError {
    OAuthError::new(
        OAuthErrorCode::TemporarilyUnavailable,
        "too many authorization requests; try again later",
    )
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
        partner: client.federation_partner,
        own_session: None,
        federated: None,
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
            Err(NotKept::Limited) => send_error(&state, None, &txn, &too_many()).await,
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

/// Runs the decision for a transaction and answers accordingly.
/// The caller sends the browser cookie with the response (`Browser::persist`).
pub async fn proceed(
    state: &AppState,
    id: Option<String>,
    mut txn: Transaction,
    cookies: &Cookies,
    browser: &Browser,
    now: Timestamp,
) -> Response {
    let locale = txn.request.locale;
    let unavailable = |what: &dyn std::fmt::Display| {
        tracing::error!(error = %what, "backing store failure");
        state.pages.error(StatusCode::SERVICE_UNAVAILABLE, locale, "err_unavailable", None)
    };
    let client = match state.clients.get(&txn.request.client_id, now).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.pages.error(StatusCode::BAD_REQUEST, locale, "err_unknown_client", None),
        Err(e) => return unavailable(&e),
    };
    if let Some(fed) = txn.federated.clone() {
        return proceed_federated(state, id, txn, &client, &fed, now).await;
    }
    let lookup = match state.sessions.load(session_cookie(&txn, cookies), now).await {
        Ok(l) => l,
        Err(e) => return unavailable(&e),
    };
    let expired = matches!(lookup, Lookup::Expired);
    let session = match lookup {
        Lookup::Active(s) => match state.store.account(&s.account_id).await {
            Ok(Some(a)) => Some((s, a)),
            Ok(None) => None,
            Err(e) => return unavailable(&e),
        },
        _ => None,
    };
    let stored_consent = match &session {
        // A partner asks for consent on every transfer (R-FED-4).
        Some(_) if txn.partner => None,
        Some((_, a)) => match state.store.consent(&a.id, &client.id).await {
            Ok(c) => c,
            Err(e) => return unavailable(&e),
        },
        None => None,
    };
    let hint_matches = match (&txn.request.id_token_hint, &session) {
        (Some(hint), Some((_, account))) => Some(
            state
                .tokens
                .verify_id_token_hint(hint, now)
                .is_ok_and(|h| h.aud.contains(&client.id) && h.sub == state.tokens.subject(&client, &account.id)),
        ),
        _ => None,
    };
    // Whether a step-up through the eID is possible matters only when the session is below
    // what the request or the service needs; the lookup stays off the common path.
    let needed = txn
        .request
        .acr
        .required_level()
        .map_or(client.min_level, |l| l.max(client.min_level));
    let eid_login = match (&session, state.upstreams.eid()) {
        (Some((s, a)), Some(_)) if s.level < needed => match state.store.eid_login_enabled(&a.id).await {
            Ok(on) => on,
            Err(e) => return unavailable(&e),
        },
        _ => false,
    };
    let consent_needed = consent_set(&txn.request.scope, &txn.request.claims);
    let ctx = Context {
        eid_login,
        session: session.as_ref().map(|(s, a)| (s, a)),
        fresh_login: txn.fresh_login,
        fresh_consent: txn.fresh_consent,
        stored_consent: stored_consent.as_ref(),
        consent_needed: &consent_needed,
        hint_matches,
    };
    let decision = decide(&txn.request, &client, &ctx, now);
    match decision {
        Decision::Login(_) | Decision::Consent => {
            let page = if matches!(decision, Decision::Consent) {
                paths::CONSENT
            } else {
                paths::LOGIN
            };
            txn.browser.get_or_insert_with(|| browser.binding());
            match authorization::keep(&state.ephemeral, &state.throttle, id, &txn, now).await {
                Ok(id) => {
                    let expired = if expired && page == paths::LOGIN { "&expired=1" } else { "" };
                    Redirect::to(&format!("{page}?txn={id}{expired}")).into_response()
                }
                Err(NotKept::Limited) => send_error(state, None, &txn, &too_many()).await,
                Err(NotKept::Unavailable(e)) => unavailable(&e),
            }
        }
        Decision::Deny(error) => send_error(state, id.as_deref(), &txn, &error).await,
        Decision::Issue { acr } => {
            let Some((session, account)) = &session else {
                return state.pages.error(StatusCode::INTERNAL_SERVER_ERROR, locale, "err_internal", None);
            };
            let record = code_record(
                &txn,
                CodeSubject::Account {
                    account_id: account.id.clone(),
                },
                acr,
                session.amr(),
                session.auth_time,
                session.sid.clone(),
            );
            send_code(state, id.as_deref(), &txn, &record, now).await
        }
    }
}

/// `proceed` for a person logged in through another Land (R-FED-1, -3).
async fn proceed_federated(
    state: &AppState,
    id: Option<String>,
    txn: Transaction,
    client: &Client,
    fed: &FederatedIdentity,
    now: Timestamp,
) -> Response {
    let sub = state.tokens.federated_subject(client, &fed.upstream, &fed.subject);
    let hint_names_other = txn
        .request
        .id_token_hint
        .as_deref()
        .is_some_and(|hint| state.tokens.verify_id_token_hint(hint, now).map_or(true, |h| h.sub != sub));
    let decision = if hint_names_other {
        Decision::Deny(OAuthError::new(
            OAuthErrorCode::LoginRequired,
            "the person logged in is not the one named by id_token_hint",
        ))
    } else {
        decide_federated(&txn.request, client, fed.level, txn.fresh_consent)
    };
    match decision {
        Decision::Issue { acr } => {
            let release = FederatedRelease {
                upstream: fed.upstream.clone(),
                sub,
                claims: fed.claims.clone(),
            };
            let amr = vec![Method::Fed.amr().to_string()];
            let record = code_record(
                &txn,
                CodeSubject::Federated(Box::new(release)),
                acr,
                amr,
                fed.auth_time,
                String::new(),
            );
            send_code(state, id.as_deref(), &txn, &record, now).await
        }
        Decision::Deny(error) => send_error(state, id.as_deref(), &txn, &error).await,
        Decision::Consent | Decision::Login(_) => match authorization::keep(&state.ephemeral, &state.throttle, id, &txn, now).await {
            Ok(id) => Redirect::to(&format!("{}?txn={id}", paths::CONSENT)).into_response(),
            Err(NotKept::Limited) => send_error(state, None, &txn, &too_many()).await,
            Err(NotKept::Unavailable(e)) => txn_error_page(state, TxnError::Unavailable(e), txn.request.locale),
        },
    }
}

fn code_record(txn: &Transaction, subject: CodeSubject, acr: String, amr: Vec<String>, auth_time: Timestamp, sid: String) -> CodeRecord {
    let request = &txn.request;
    CodeRecord {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        subject,
        scope: request.scope.clone(),
        claims: request.claims.clone(),
        acr,
        amr,
        auth_time,
        sid,
        withheld: txn.withheld.clone(),
        // Set by `codes::issue`.
        expires_at: 0,
    }
}

/// Sends an error to the client, ending the transaction.
pub async fn send_error(state: &AppState, id: Option<&str>, txn: &Transaction, error: &OAuthError) -> Response {
    close_txn(state, id, txn).await;
    respond(
        state,
        &txn.request.redirect_uri,
        txn.request.response_mode,
        error_params(error, txn.request.state.as_deref()),
    )
}

/// Issues the code and sends it to the client, ending the transaction.
async fn send_code(state: &AppState, id: Option<&str>, txn: &Transaction, record: &CodeRecord, now: Timestamp) -> Response {
    let code = match codes::issue(&state.ephemeral, record, state.config.tokens.code_seconds, now).await {
        Ok(c) => c,
        Err(e) => return txn_error_page(state, TxnError::Unavailable(e), txn.request.locale),
    };
    close_txn(state, id, txn).await;
    let mut params = vec![("code", code)];
    if let Some(s) = &txn.request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.config.issuer.clone()));
    respond(state, &txn.request.redirect_uri, txn.request.response_mode, params)
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

/// Sends authorization-response parameters to the client's redirect URI, adding `iss`.
pub fn respond(state: &AppState, redirect_uri: &str, mode: ResponseMode, mut params: Vec<(&'static str, String)>) -> Response {
    if !params.iter().any(|(k, _)| *k == "iss") {
        params.push(("iss", state.config.issuer.clone()));
    }
    match mode {
        ResponseMode::Query => match url::Url::parse(redirect_uri) {
            Ok(mut url) => {
                url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
                Redirect::to(url.as_str()).into_response()
            }
            Err(_) => state.pages.error(StatusCode::BAD_REQUEST, Locale::De, "err_bad_redirect_uri", None),
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
