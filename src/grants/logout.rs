//! OpenID Connect Back-Channel Logout 1.0 (R-SES-5): when a session ends — logout, or every
//! session of an account at a password reset, a block or a deletion — each service that holds
//! a grant from it and registered a `backchannel_logout_uri` receives a signed logout token.
//! Tokens are built at once (the account may be about to disappear) and delivered in the
//! background, so a logout never waits for a slow service.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::tokens::TokenIssuer;
use crate::accounts::recovery::SessionsEnded;
use crate::clients::ClientDirectory;
use crate::clock::Timestamp;
use crate::ids::{AccountId, SessionId};
use crate::keys::Keys;
use crate::secret::random_token;
use crate::store::{Store, StoreError};

/// The event member every logout token carries (§2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid.
const TOKEN_SECONDS: i64 = 120;

/// Claims of a logout token (§2.4): never a `nonce`.
#[derive(Debug, Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    iat: Timestamp,
    exp: Timestamp,
    jti: String,
    sid: &'a str,
    events: Value,
}

/// Sends logout tokens.
#[derive(Clone)]
pub struct BackchannelLogout {
    store: Store,
    clients: ClientDirectory,
    tokens: TokenIssuer,
    keys: Keys,
    issuer: String,
    http: reqwest::Client,
}

impl BackchannelLogout {
    /// A sender for `issuer`.
    pub fn new(store: Store, clients: ClientDirectory, tokens: TokenIssuer, keys: Keys, issuer: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            // §2.8: the service answers, it does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            store,
            clients,
            tokens,
            keys,
            issuer,
            http,
        }
    }

    /// Session `sid` of the account ended; how many services will be told.
    pub async fn session_ended(&self, account_id: &AccountId, sid: &SessionId, now: Timestamp) -> Result<usize, StoreError> {
        let ended = SessionsEnded::read(&self.store, account_id, Some(sid), now).await?;
        self.tell(ended, now).await
    }

    /// Tells the services that held grants from sessions an account flow ended; how many will
    /// be told.
    pub async fn tell(&self, ended: SessionsEnded, now: Timestamp) -> Result<usize, StoreError> {
        let SessionsEnded { account_id, targets } = ended;
        let mut deliveries = Vec::new();
        for (client_id, sid) in targets {
            let Some(client) = self.clients.get(&client_id, now).await? else {
                continue;
            };
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            let claims = LogoutClaims {
                iss: &self.issuer,
                sub: self.tokens.subject(&client, &account_id),
                aud: client.id.as_str(),
                iat: now,
                exp: now + TOKEN_SECONDS,
                jti: random_token(16),
                sid: sid.as_str(),
                events: json!({ EVENT: {} }),
            };
            match self.keys.sign_logout_token(&claims) {
                Ok(token) => deliveries.push((client.id.clone(), uri, token)),
                Err(e) => tracing::error!(client_id = %client.id, error = %e, "cannot sign a logout token"),
            }
        }
        let n = deliveries.len();
        for (client_id, uri, token) in deliveries {
            let http = self.http.clone();
            tokio::spawn(async move {
                match http.post(&uri).form(&[("logout_token", token.as_str())]).send().await {
                    Ok(res) if res.status().is_success() => tracing::info!(%client_id, "back-channel logout delivered"),
                    Ok(res) => tracing::warn!(%client_id, status = res.status().as_u16(), "back-channel logout refused by the service"),
                    Err(e) => tracing::warn!(%client_id, error = %e, "back-channel logout not delivered"),
                }
            });
        }
        Ok(n)
    }
}
