//! Our access tokens at a resource (userinfo, introspection, the `/api/v1` operations): the
//! signature, `typ`, issuer, audience and expiry, then revocation of the token and of its grant
//! or federated login.

use super::tokens::{AccessClaims, TokenIssuer};
use super::{FederatedLogin, Grant};
use crate::clock::Timestamp;
use crate::protocol::scope::Scopes;
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
