//! Our access tokens at a resource (userinfo, introspection, the `/api/v1` operations): the
//! signature, `typ`, issuer, audience and expiry, then revocation of the token and of its grant
//! or federated login; and the userinfo and introspection answers built on that check.

use serde_json::{Map, Value, json};

use super::claims::{VERIFIED_CLAIMS, org_claims, release, verified_claims};
use super::tokens::{AccessClaims, TokenIssuer};
use super::{FederatedLogin, Grant};
use crate::accounts::AccountKind;
use crate::clients::Client;
use crate::clock::Timestamp;
use crate::keys::jws::Unverified;
use crate::orgs;
use crate::protocol::scope::Scopes;
use crate::secret::sha256_b64;
use crate::store::{Store, StoreError};
use crate::trust::TrustLevel;

/// An access token that verified and is neither expired nor revoked, with its grant.
pub struct ActiveToken {
    /// Its claims.
    pub claims: AccessClaims,
    /// The user grant, for user tokens of a local account.
    pub grant: Option<Grant>,
    /// The login through another Land, for its user tokens.
    pub federated: Option<FederatedLogin>,
}

impl ActiveToken {
    /// The scopes it was granted (none if the claim does not parse).
    pub fn scopes(&self) -> Scopes {
        Scopes::parse(&self.claims.scope).unwrap_or_default()
    }

    /// The level the user authenticated at (user tokens).
    pub fn level(&self) -> Option<TrustLevel> {
        self.claims.acr.as_deref().and_then(TrustLevel::parse)
    }
}

/// Why a token is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Invalid, expired or revoked: the caller needs a new token.
    #[error("the access token is invalid, expired or revoked")]
    Invalid,
    /// The store failed; the token may be fine.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks an access token presented at a resource of this provider.
pub async fn check(tokens: &TokenIssuer, store: &Store, token: &str, now: Timestamp) -> Result<ActiveToken, AccessError> {
    let claims = tokens.verify_access(token, now).map_err(|_| AccessError::Invalid)?;
    if store.access_token_revoked(&claims.jti).await? {
        return Err(AccessError::Invalid);
    }
    let grant = match &claims.gid {
        Some(gid) => match store.grant(gid).await? {
            Some(g) if g.revoked_at.is_none() => Some(g),
            _ => return Err(AccessError::Invalid),
        },
        None => None,
    };
    let federated = match &claims.fid {
        Some(fid) => Some(store.federated_login(fid, now).await?.ok_or(AccessError::Invalid)?),
        None => None,
    };
    Ok(ActiveToken { claims, grant, federated })
}

/// Why userinfo answers no claims for an active token.
#[derive(Debug, thiserror::Error)]
pub enum UserinfoError {
    /// The token does not carry `openid`, or stands for no person (a machine token).
    #[error("the token lacks the openid scope or stands for no person")]
    InsufficientScope,
    /// The account behind it is gone (or the token's scope unreadable): a new login is needed.
    #[error("the token stands for an account that is gone")]
    Invalid,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The claims userinfo releases for an active token (OIDC Core §5.3): what the grant allows of
/// the account, with how a Servicekonto Plus was verified (R-ACR-7); for a login through another
/// Land, only what the user consented to pass on (R-FED-3).
/// An organisation user's service is read through the client directory's cache, so their
/// userinfo costs one query more than a citizen's: the access (R-ORG-10).
pub async fn userinfo(
    (store, clients): (&Store, &crate::clients::ClientDirectory),
    active: ActiveToken,
    now: Timestamp,
) -> Result<Map<String, Value>, UserinfoError> {
    let scope = Scopes::parse(&active.claims.scope).map_err(|_| UserinfoError::Invalid)?;
    if !scope.contains("openid") {
        return Err(UserinfoError::InsufficientScope);
    }
    let sub = active.claims.sub;
    if let Some(login) = active.federated {
        let mut out = login.claims;
        out.insert("sub".into(), sub.into());
        return Ok(out);
    }
    let grant = active.grant.ok_or(UserinfoError::InsufficientScope)?;
    let account = store.account(&grant.account_id).await?.ok_or(UserinfoError::Invalid)?;
    let mut out = release(&account, &scope, &grant.claims.userinfo, &grant.withheld);
    if account.kind == AccountKind::Organisation {
        // The roles as they are now: a grant withdrawn since the token was issued ends it here.
        let client = clients.get(&grant.client_id, now).await?.ok_or(UserinfoError::Invalid)?;
        let access = orgs::access(store, &account.id, &client).await?.ok_or(UserinfoError::Invalid)?;
        out.extend(org_claims(&access));
    }
    if account.level >= TrustLevel::Plus {
        let verification = store.verification(&account.id).await?;
        if let Some(v) = verified_claims(&account, verification.as_ref(), &out) {
            out.insert(VERIFIED_CLAIMS.into(), v);
        }
    }
    out.insert("sub".into(), sub.into());
    Ok(out)
}

/// Introspection (RFC 7662) of `token` for the authenticated `client`: its own live access or
/// refresh token is described; anything else — another client's, unknown, expired, revoked,
/// or unreadable for an outage — is `{"active": false}`.
pub async fn introspect(tokens: &TokenIssuer, store: &Store, client: &Client, token: &str, now: Timestamp) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    if Unverified::parse(token).is_ok() {
        let Ok(active) = check(tokens, store, token, now).await else {
            return Ok(inactive);
        };
        let c = active.claims;
        if c.client_id != client.id {
            return Ok(inactive);
        }
        let mut v = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": c.scope,
            "client_id": c.client_id,
            "sub": c.sub,
            "aud": c.aud,
            "iss": c.iss,
            "jti": c.jti,
            "iat": c.iat,
            "exp": c.exp,
        });
        if let Some(acr) = c.acr {
            v["acr"] = acr.into();
        }
        if let Some(t) = c.auth_time {
            v["auth_time"] = t.into();
        }
        return Ok(v);
    }
    Ok(match store.refresh_token_grant(&sha256_b64(token.as_bytes()), now).await? {
        Some(grant) if grant.client_id == client.id && grant.revoked_at.is_none() => json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope.to_string(),
            "client_id": grant.client_id,
            "sub": tokens.subject(client, &grant.account_id),
            "iss": tokens.issuer(),
            "iat": grant.created_at,
            "exp": grant.expires_at,
            "acr": grant.acr,
            "auth_time": grant.auth_time,
        }),
        _ => inactive,
    })
}
