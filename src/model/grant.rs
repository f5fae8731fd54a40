//! A redeemed authorization, and what a login through another Land released.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::{AccountId, ClientId, GrantId, SessionId};
use crate::protocol::claims::ClaimsRequest;
use crate::protocol::scope::Scopes;
use crate::trust::{Acr, Method};

/// One redeemed authorization: the subject of refresh tokens and the anchor of access-token
/// revocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// Id (also the `gid` claim of access tokens).
    pub id: GrantId,
    /// The account.
    pub account_id: AccountId,
    /// The client.
    pub client_id: ClientId,
    /// Granted scopes.
    pub scope: Scopes,
    /// The claims parameter of the authorization request.
    pub claims: ClaimsRequest,
    /// The `acr` reported in the ID token.
    pub acr: Acr,
    /// The `amr` values.
    pub amr: Vec<Method>,
    /// Time of the authentication.
    pub auth_time: Timestamp,
    /// Login session id (the ID token's `sid`).
    pub sid: SessionId,
    /// Created.
    pub created_at: Timestamp,
    /// When its refresh tokens stop working.
    pub expires_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Attributes the user deselected at a federation partner's consent (R-FED-4).
    pub withheld: Vec<String>,
}

/// What a login through another Land released to a service (R-FED-3): no local account
/// stands behind it, so the released claims are kept, only until its access tokens expire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedLogin {
    /// Id (the `fid` claim of its access tokens).
    pub id: String,
    /// The service.
    pub client_id: ClientId,
    /// The Land it came through (upstream id).
    pub upstream: String,
    /// The `sub` the service knows the person by.
    pub sub: String,
    /// The claims released to userinfo.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// The `acr` reported.
    pub acr: Acr,
    /// Created.
    pub created_at: Timestamp,
    /// When its access tokens expire and it is purged.
    pub expires_at: Timestamp,
}
