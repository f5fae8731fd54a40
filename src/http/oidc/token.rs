//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §6; RFC 7636 §4.6; OIDC Core §3.1.3).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tracing::instrument;

use super::form::OAuthForm;
use crate::clients::auth::presented;
use crate::clients::{Client, GrantType};
use crate::clock::Timestamp;
use crate::federation;
use crate::grants::claims::release as release_claims;
use crate::grants::codes::{self, CodeRecord, CodeSubject, Presented, Redemption};
use crate::grants::tokens::TokenResponse;
use crate::grants::{FederatedLogin, Grant, PARTNER_RETENTION_SECONDS};
use crate::http::error::OAuthJson;
use crate::protocol::params::Params;
use crate::protocol::scope::{OFFLINE_ACCESS, Scopes};
use crate::protocol::token::TokenRequest;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::secret::{random_token, sha256_b64};
use crate::state::AppState;
use crate::store::RotateOutcome;

/// Authenticates the client of a form request.
pub async fn authenticate(state: &AppState, headers: &HeaderMap, params: &Params, now: Timestamp) -> Result<Arc<Client>, OAuthJson> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presented = presented(authorization, params)?;
    Ok(state.client_auth.authenticate(presented, now).await?)
}

/// `POST /token`.
#[instrument(skip_all)]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, OAuthForm(params): OAuthForm) -> Response {
    match exchange(&state, &headers, &params, state.clock.now()).await {
        Ok(tokens) => {
            let mut res = Json(tokens).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Err(e) => e.into_response(),
    }
}

fn unauthorized(grant: &str) -> OAuthJson {
    OAuthJson(OAuthError::new(
        OAuthErrorCode::UnauthorizedClient,
        format!("this client may not use {grant}"),
    ))
}

/// A token could not be signed: logged, and a `server_error` for the client.
fn signing_failed(e: crate::keys::KeyError) -> OAuthJson {
    tracing::error!(error = %e, "token signing failed");
    OAuthJson(OAuthError::server_error())
}

/// The account a code or refresh token stands for, if it may still get tokens: it exists and
/// is not blocked (R-SES-6, R-SEC-3: a code issued just before a block is worthless after it).
async fn usable_account(state: &AppState, account_id: &str) -> Result<crate::accounts::Account, OAuthJson> {
    let account = state
        .store
        .account(account_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    if account.blocked_at.is_some() {
        return Err(OAuthError::invalid_grant("the account is blocked").into());
    }
    Ok(account)
}

/// Issues the tokens for a redeemed code: a grant for an account (with its refresh token), or
/// the federated login's row for a person from another Land.
async fn issue_for_code(
    state: &AppState,
    client: &Client,
    record: &CodeRecord,
    grant_id: String,
    now: Timestamp,
) -> Result<TokenResponse, OAuthJson> {
    let account_id = match &record.subject {
        CodeSubject::Account { account_id } => account_id,
        CodeSubject::Federated(release) => {
            let mut claims = release_claims(&release.claims, &record.scope, &record.claims.userinfo, &record.withheld);
            if let Some(v) = federation::verified_claims(&release.claims, &claims) {
                claims.insert("verified_claims".into(), v);
            }
            let login = FederatedLogin {
                id: grant_id,
                client_id: client.id.clone(),
                upstream: release.upstream.clone(),
                sub: release.sub.clone(),
                claims,
                acr: record.acr.clone(),
                created_at: now,
                expires_at: now + state.config.tokens.access_token_seconds,
            };
            state.store.insert_federated_login(&login).await?;
            return state
                .tokens
                .for_federated(&login, record, release, client, now)
                .map_err(signing_failed);
        }
    };
    let account = usable_account(state, account_id).await?;
    let grant = Grant {
        id: grant_id,
        account_id: account.id.clone(),
        client_id: client.id.clone(),
        scope: record.scope.clone(),
        claims: record.claims.clone(),
        acr: record.acr.clone(),
        amr: record.amr.clone(),
        auth_time: record.auth_time,
        sid: record.sid.clone(),
        created_at: now,
        // A partner's grant is per-transaction personal data (R-FED-4).
        expires_at: now
            + if client.federation_partner {
                state.config.tokens.refresh_token_seconds.min(PARTNER_RETENTION_SECONDS)
            } else {
                state.config.tokens.refresh_token_seconds
            },
        revoked_at: None,
        withheld: record.withheld.clone(),
    };
    let refresh = client.allows(GrantType::RefreshToken).then(|| random_token(32));
    state
        .store
        .insert_grant(&grant, refresh.as_deref().map(|r| sha256_b64(r.as_bytes())).as_deref())
        .await?;
    state
        .tokens
        .for_grant(&grant, client, &account, record.nonce.as_deref(), refresh, now)
        .map_err(signing_failed)
}

async fn exchange(state: &AppState, headers: &HeaderMap, params: &Params, now: Timestamp) -> Result<TokenResponse, OAuthJson> {
    let client = authenticate(state, headers, params, now).await?;
    match TokenRequest::parse(params)? {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            if !client.allows(GrantType::AuthorizationCode) {
                return Err(unauthorized("authorization_code"));
            }
            let presented = Presented {
                client_id: &client.id,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_ref().map(|v| v.expose().as_str()),
            };
            let (record, grant_id) = match codes::redeem(&state.ephemeral, code.expose(), presented, now).await? {
                Redemption::Fresh(record, grant_id) => (record, grant_id),
                Redemption::Replayed(grant_id) => {
                    state.store.revoke_grant(&grant_id, now).await?;
                    tracing::warn!(client_id = %client.id, "authorization code replayed; grant revoked");
                    return Err(OAuthError::invalid_grant("the code was already used; tokens issued for it are revoked").into());
                }
                Redemption::Refused(why) => return Err(OAuthError::invalid_grant(why.to_string()).into()),
                Redemption::Unknown => return Err(OAuthError::invalid_grant("the code is invalid or expired").into()),
            };
            let issued = issue_for_code(state, &client, &record, grant_id, now).await;
            if let Err(OAuthJson(e)) = &issued
                && e.code == OAuthErrorCode::TemporarilyUnavailable
            {
                // An outage uses nothing up: the client's retry after it gets its tokens.
                codes::restore(&state.ephemeral, code.expose(), &record, now).await?;
            }
            issued.inspect(|_| state.metrics.tokens.with_label_values(&["authorization_code"]).inc())
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            if !client.allows(GrantType::RefreshToken) {
                return Err(unauthorized("refresh_token"));
            }
            let new = random_token(32);
            let old_hash = sha256_b64(refresh_token.expose().as_bytes());
            // A refused request must not spend the token, so scope and session are checked first.
            if let Some(current) = state.store.refresh_token_grant(&old_hash, now).await?
                && current.client_id == client.id
            {
                if scope.as_ref().is_some_and(|requested| !requested.is_subset(&current.scope)) {
                    return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "a refresh cannot widen the granted scope").into());
                }
                // Without offline_access (OIDC Core §11) a refresh token lives only as long as
                // the login session it was issued in.
                if !current.scope.contains(OFFLINE_ACCESS) && !state.sessions.is_alive(&current.sid, now).await? {
                    return Err(OAuthError::invalid_grant("the login session of this refresh token has ended").into());
                }
            }
            let mut grant = match state
                .store
                .rotate_refresh(&old_hash, &sha256_b64(new.as_bytes()), &client.id, now)
                .await?
            {
                RotateOutcome::Rotated(g) => *g,
                RotateOutcome::Reused => {
                    tracing::warn!(client_id = %client.id, "refresh token reused; grant revoked");
                    return Err(OAuthError::invalid_grant("the refresh token was already used; the grant is revoked").into());
                }
                RotateOutcome::Invalid => return Err(OAuthError::invalid_grant("the refresh token is invalid, expired or revoked").into()),
            };
            if let Some(s) = scope.filter(|s| s.is_subset(&grant.scope)) {
                grant.scope = s;
            }
            let account = usable_account(state, &grant.account_id).await?;
            state
                .tokens
                .for_grant(&grant, &client, &account, None, Some(new), now)
                .map_err(signing_failed)
                .inspect(|_| state.metrics.tokens.with_label_values(&["refresh_token"]).inc())
        }
        TokenRequest::ClientCredentials { scope } => {
            if !client.allows(GrantType::ClientCredentials) {
                return Err(unauthorized("client_credentials"));
            }
            let scope = scope.unwrap_or_default();
            let user_scopes: Scopes = crate::protocol::scope::SUPPORTED.iter().copied().collect();
            if !scope.is_subset(&client.scopes) || scope.iter().any(|s| user_scopes.contains(s)) {
                return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "scope not allowed for client credentials").into());
            }
            state
                .tokens
                .for_client(&client, &scope, now)
                .map_err(signing_failed)
                .inspect(|_| state.metrics.tokens.with_label_values(&["client_credentials"]).inc())
        }
    }
}
