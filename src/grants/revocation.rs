//! Token revocation (RFC 7009): the client revokes one of its own tokens. Unknown tokens, expired
//! ones and other clients' are left alone without saying so; revoking a refresh token revokes
//! its whole grant, access tokens included (§2.1).

use crate::clients::Client;
use crate::clock::Timestamp;
use crate::keys::Keys;
use crate::keys::jws::Unverified;
use crate::secret::sha256_b64;
use crate::store::{Store, StoreError};

/// Revokes `token` if it is a live access or refresh token of `client`.
pub async fn revoke(keys: &Keys, store: &Store, client: &Client, token: &str, now: Timestamp) -> Result<(), StoreError> {
    if Unverified::parse(token).is_ok() {
        // Expired tokens need no revocation; `verify` still proves it is ours.
        if let Ok((_, claims)) = keys.verify(token, now) {
            let client_id = claims.get("client_id").and_then(|v| v.as_str());
            let jti = claims.get("jti").and_then(|v| v.as_str());
            let exp = claims.get("exp").and_then(|v| v.as_i64()).map(Timestamp).unwrap_or(now);
            if let (Some(c), Some(jti)) = (client_id, jti)
                && client.id == *c
                && exp > now
            {
                store.revoke_access_token(jti, exp).await?;
            }
        }
        return Ok(());
    }
    if let Some(grant) = store.refresh_token_grant(&sha256_b64(token.as_bytes()), now).await?
        && grant.client_id == client.id
    {
        store.revoke_grant(&grant.id, now).await?;
    }
    Ok(())
}
