//! The token endpoint's use case (RFC 6749 §4.1.3, §4.4, §6; RFC 7636 §4.6; OIDC Core §3.1.3):
//! an authenticated client's parsed request in, tokens or the reason why not out. Codes are
//! redeemed once (a replay revokes what the first use got), refresh tokens rotate (a reuse
//! revokes the grant), and an outage uses nothing up.

use super::claims::{land_verified_claims, release as release_claims};
use super::codes::{self, CodeRecord, CodeSubject, Presented, Redemption};
use super::tokens::{TokenIssuer, TokenResponse};
use super::{FederatedLogin, Grant, PARTNER_RETENTION_SECONDS};
use crate::accounts::{Account, AccountKind};
use crate::clients::{Client, GrantType};
use crate::clock::Timestamp;
use crate::config::TokenConfig;
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::ids::{AccountId, GrantId};
use crate::keys::KeyError;
use crate::orgs::{self, Access};
use crate::protocol::scope::{self, OFFLINE_ACCESS, Scopes};
use crate::protocol::token::TokenRequest;
use crate::protocol::{OAuthError, OAuthErrorCode};
use crate::secret::{random_token, sha256_b64};
use crate::sessions::Sessions;
use crate::store::{RotateOutcome, Store, StoreError};

/// What an exchange uses besides the request.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// Grants, refresh tokens, accounts.
    pub store: &'a Store,
    /// Codes.
    pub ephemeral: &'a Ephemeral,
    /// Login sessions (a refresh token without `offline_access` lives as long as its session).
    pub sessions: &'a Sessions,
    /// Signs the tokens.
    pub tokens: &'a TokenIssuer,
    /// Lifetimes.
    pub config: &'a TokenConfig,
}

/// Why no tokens were issued.
#[derive(Debug)]
pub enum ExchangeError {
    /// The request is refused, as the client is told.
    Refused(OAuthError),
    /// The database failed.
    Store(StoreError),
    /// The ephemeral store failed.
    Ephemeral(EphemeralError),
    /// A token could not be signed.
    Signing(KeyError),
}

impl From<OAuthError> for ExchangeError {
    fn from(e: OAuthError) -> Self {
        ExchangeError::Refused(e)
    }
}

impl From<StoreError> for ExchangeError {
    fn from(e: StoreError) -> Self {
        ExchangeError::Store(e)
    }
}

impl From<EphemeralError> for ExchangeError {
    fn from(e: EphemeralError) -> Self {
        ExchangeError::Ephemeral(e)
    }
}

impl From<KeyError> for ExchangeError {
    fn from(e: KeyError) -> Self {
        ExchangeError::Signing(e)
    }
}

fn unauthorized(grant: &str) -> ExchangeError {
    OAuthError::new(OAuthErrorCode::UnauthorizedClient, format!("this client may not use {grant}")).into()
}

/// Exchanges `request` of the authenticated `client` for tokens; also names the grant type, for
/// the metrics.
pub async fn exchange(
    env: Env<'_>,
    client: &Client,
    request: TokenRequest,
    now: Timestamp,
) -> Result<(TokenResponse, GrantType), ExchangeError> {
    match request {
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
            let (record, grant_id) = match codes::redeem(env.ephemeral, code.expose(), presented, now).await? {
                Redemption::Fresh(record, grant_id) => (record, grant_id),
                Redemption::Replayed(grant_id) => {
                    env.store.revoke_grant(&grant_id, now).await?;
                    tracing::warn!(client_id = %client.id, "authorization code replayed; grant revoked");
                    return Err(OAuthError::invalid_grant("the code was already used; tokens issued for it are revoked").into());
                }
                Redemption::Refused(why) => return Err(OAuthError::invalid_grant(why.to_string()).into()),
                Redemption::Unknown => return Err(OAuthError::invalid_grant("the code is invalid or expired").into()),
            };
            let issued = issue_for_code(env, client, &record, grant_id, now).await;
            if let Err(ExchangeError::Store(_) | ExchangeError::Ephemeral(_)) = &issued {
                // An outage uses nothing up: the client's retry after it gets its tokens.
                codes::restore(env.ephemeral, code.expose(), &record, now).await?;
            }
            Ok((issued?, GrantType::AuthorizationCode))
        }
        TokenRequest::RefreshToken { refresh_token, scope } => {
            if !client.allows(GrantType::RefreshToken) {
                return Err(unauthorized("refresh_token"));
            }
            let new = random_token(32);
            let old_hash = sha256_b64(refresh_token.expose().as_bytes());
            // A refused request must not spend the token, so scope and session are checked first.
            if let Some(current) = env.store.refresh_token_grant(&old_hash, now).await?
                && current.client_id == client.id
            {
                if scope.as_ref().is_some_and(|requested| !requested.is_subset(&current.scope)) {
                    return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "a refresh cannot widen the granted scope").into());
                }
                // Without offline_access (OIDC Core §11) a refresh token lives only as long as
                // the login session it was issued in.
                if !current.scope.contains(OFFLINE_ACCESS) && !env.sessions.is_alive(&current.sid, now).await? {
                    return Err(OAuthError::invalid_grant("the login session of this refresh token has ended").into());
                }
            }
            let mut grant = match env
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
            let account = usable_account(env.store, &grant.account_id).await?;
            let org = org_access(env.store, &account, client).await?;
            let tokens = env
                .tokens
                .for_grant(&grant, client, (&account, org.as_ref()), None, Some(new), now)?;
            Ok((tokens, GrantType::RefreshToken))
        }
        TokenRequest::ClientCredentials { scope } => {
            if !client.allows(GrantType::ClientCredentials) {
                return Err(unauthorized("client_credentials"));
            }
            let scope = scope.unwrap_or_default();
            let user_scopes: Scopes = scope::SUPPORTED.iter().copied().collect();
            if !scope.is_subset(&client.scopes) || scope.iter().any(|s| user_scopes.contains(s)) {
                return Err(OAuthError::new(OAuthErrorCode::InvalidScope, "scope not allowed for client credentials").into());
            }
            Ok((env.tokens.for_client(client, &scope, now)?, GrantType::ClientCredentials))
        }
    }
}

/// The account a code or refresh token stands for, if it may still get tokens: it exists and
/// is not blocked (R-SES-6, R-SEC-3: a code issued just before a block is worthless after it).
async fn usable_account(store: &Store, account_id: &AccountId) -> Result<Account, ExchangeError> {
    let account = store
        .account(account_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    if account.blocked_at.is_some() {
        return Err(OAuthError::invalid_grant("the account is blocked").into());
    }
    Ok(account)
}

/// What an organisation's user may do at `client` now (R-ORG-8, -10): a grant withdrawn since
/// the login stops the code and the refresh token; `None` for a citizen.
async fn org_access(store: &Store, account: &Account, client: &Client) -> Result<Option<Access>, ExchangeError> {
    if account.kind != AccountKind::Organisation {
        return Ok(None);
    }
    match orgs::access(store, &account.id, client).await? {
        Some(access) => Ok(Some(access)),
        None => Err(OAuthError::invalid_grant("the user's organisation no longer grants them this service").into()),
    }
}

/// Issues the tokens for a redeemed code: a grant for an account (with its refresh token), or
/// the federated login's row for a person from another Land.
async fn issue_for_code(
    env: Env<'_>,
    client: &Client,
    record: &CodeRecord,
    grant_id: GrantId,
    now: Timestamp,
) -> Result<TokenResponse, ExchangeError> {
    let account_id = match &record.subject {
        CodeSubject::Account { account_id } => account_id,
        CodeSubject::Federated(release) => {
            let mut claims = release_claims(&release.claims, &record.scope, &record.claims.userinfo, &record.withheld);
            if let Some(v) = land_verified_claims(&release.claims, &claims) {
                claims.insert("verified_claims".into(), v);
            }
            let login = FederatedLogin {
                id: grant_id.to_string(),
                client_id: client.id.clone(),
                upstream: release.upstream.clone(),
                sub: release.sub.clone(),
                claims,
                acr: record.acr,
                created_at: now,
                expires_at: now + env.config.access_token_seconds,
            };
            env.store.insert_federated_login(&login).await?;
            return Ok(env.tokens.for_federated(&login, record, release, client, now)?);
        }
    };
    // A code for an account is always issued in a session.
    let sid = record
        .sid
        .clone()
        .ok_or_else(|| OAuthError::invalid_grant("the code is invalid or expired"))?;
    let account = usable_account(env.store, account_id).await?;
    let org = org_access(env.store, &account, client).await?;
    let grant = Grant {
        id: grant_id,
        account_id: account.id.clone(),
        client_id: client.id.clone(),
        scope: record.scope.clone(),
        claims: record.claims.clone(),
        acr: record.acr,
        amr: record.amr.clone(),
        auth_time: record.auth_time,
        sid,
        created_at: now,
        // A partner's grant is per-transaction personal data (R-FED-4).
        expires_at: now
            + if client.federation_partner {
                env.config.refresh_token_seconds.min(PARTNER_RETENTION_SECONDS)
            } else {
                env.config.refresh_token_seconds
            },
        revoked_at: None,
        withheld: record.withheld.clone(),
    };
    let refresh = client.allows(GrantType::RefreshToken).then(|| random_token(32));
    env.store
        .insert_grant(&grant, refresh.as_deref().map(|r| sha256_b64(r.as_bytes())).as_deref())
        .await?;
    Ok(env
        .tokens
        .for_grant(&grant, client, (&account, org.as_ref()), record.nonce.as_deref(), refresh, now)?)
}
