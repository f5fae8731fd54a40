//! Token minting and checking: ID tokens (OIDC Core §2, RS256), access tokens as JWTs
//! (RFC 9068, `typ: at+jwt`) and refresh tokens (opaque, stored hashed).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::claims::{org_claims, release, subject};
use super::codes::{CodeRecord, FederatedRelease};
use super::{FederatedLogin, Grant};
use crate::accounts::Account;
use crate::clients::Client;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::ids::{AccountId, ClientId, GrantId, SessionId};
use crate::keys::{KeyError, Keys};
use crate::orgs::Access;
use crate::protocol::scope::Scopes;
use crate::secret::{KeyRing, b64, random_token};
use crate::trust::{Acr, Method};

/// The token endpoint's success response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// New refresh token, if the client may refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// ID token, for `openid` requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Granted scope.
    pub scope: String,
}

/// Claims of our access tokens (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user's `sub` for this client, or the client id for client-credentials tokens.
    pub sub: String,
    /// The resources: this provider (userinfo, introspection) and its API (`/api/v1`). Tokens
    /// issued before the API named only the provider, as a string.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// Granted scopes.
    pub scope: String,
    /// Unique id, for revocation.
    pub jti: String,
    /// Issued at.
    pub iat: Timestamp,
    /// Expires at.
    pub exp: Timestamp,
    /// Authentication time (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<Timestamp>,
    /// Level (user tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The grant it belongs to (user tokens); revoking the grant revokes the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<GrantId>,
    /// The login through another Land it belongs to (R-FED-3); gone when that is purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<String>,
}

/// Why a bearer token is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours, or tampered with.
    #[error("invalid token")]
    Invalid,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
}

/// What an `id_token_hint` tells once its signature checks out.
#[derive(Debug, Clone)]
pub struct IdTokenHint {
    /// `sub`.
    pub sub: String,
    /// The client(s) it was issued to.
    pub aud: Vec<String>,
    /// Login session.
    pub sid: Option<SessionId>,
}

/// What user tokens say, for a grant or a federated login.
struct UserTokens<'a> {
    sub: String,
    scope: &'a Scopes,
    acr: Acr,
    amr: &'a [Method],
    auth_time: Timestamp,
    sid: Option<&'a SessionId>,
    id_claims: Map<String, Value>,
    gid: Option<GrantId>,
    fid: Option<String>,
    nonce: Option<&'a str>,
    refresh_token: Option<String>,
}

/// Mints and checks tokens with the node's keys.
#[derive(Clone)]
pub struct TokenIssuer {
    config: Arc<Config>,
    keys: Keys,
    pairwise_key: KeyRing,
}

/// An `aud` claim as RFC 7519 §4.1.3 allows it: one string or a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(d)? {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

/// `at_hash` (OIDC Core §3.1.3.6): left half of SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    b64(&digest.as_ref()[..16])
}

impl TokenIssuer {
    /// An issuer over the configuration and keys; `pairwise_key` derives pairwise subjects.
    pub fn new(config: Arc<Config>, keys: Keys, pairwise_key: KeyRing) -> Self {
        Self {
            config,
            keys,
            pairwise_key,
        }
    }

    /// The audiences of every access token: the provider and its API.
    fn audiences(&self) -> Vec<String> {
        vec![self.config.issuer.clone(), self.config.api_url()]
    }

    /// The issuer the tokens name.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Whether an access token names the API among its audiences (R-API-2).
    pub fn is_for_api(&self, claims: &AccessClaims) -> bool {
        claims.aud.contains(&self.config.api_url())
    }

    /// The `sub` a client knows an account by.
    pub fn subject(&self, client: &Client, account_id: &AccountId) -> String {
        subject(client, account_id, &self.pairwise_key)
    }

    /// The `sub` a client knows a person logged in through another Land by.
    pub fn federated_subject(&self, client: &Client, upstream: &str, upstream_sub: &str) -> String {
        super::claims::federated_subject(client, upstream, upstream_sub, &self.pairwise_key)
    }

    /// Tokens for a user grant, for the grant's scope. `nonce` only on the first issue (code
    /// redemption).
    pub fn for_grant(
        &self,
        grant: &Grant,
        client: &Client,
        (account, org): (&Account, Option<&Access>),
        nonce: Option<&str>,
        refresh_token: Option<String>,
        now: Timestamp,
    ) -> Result<TokenResponse, KeyError> {
        let mut id_claims = release(account, &Scopes::default(), &grant.claims.id_token, &grant.withheld);
        if let Some(org) = org {
            id_claims.extend(org_claims(org));
        }
        self.user_tokens(
            client,
            UserTokens {
                sub: self.subject(client, &account.id),
                scope: &grant.scope,
                acr: grant.acr,
                amr: &grant.amr,
                auth_time: grant.auth_time,
                sid: Some(&grant.sid),
                id_claims,
                gid: Some(grant.id.clone()),
                fid: None,
                nonce,
                refresh_token,
            },
            now,
        )
    }

    /// Tokens for a login through another Land (R-FED-3): no session and no refresh token, and
    /// `amr` is `fed`.
    pub fn for_federated(
        &self,
        login: &FederatedLogin,
        record: &CodeRecord,
        federated: &FederatedRelease,
        client: &Client,
        now: Timestamp,
    ) -> Result<TokenResponse, KeyError> {
        self.user_tokens(
            client,
            UserTokens {
                sub: login.sub.clone(),
                scope: &record.scope,
                acr: login.acr,
                amr: &record.amr,
                auth_time: record.auth_time,
                sid: None,
                id_claims: release(&federated.claims, &Scopes::default(), &record.claims.id_token, &record.withheld),
                gid: None,
                fid: Some(login.id.clone()),
                nonce: record.nonce.as_deref(),
                refresh_token: None,
            },
            now,
        )
    }

    fn user_tokens(&self, client: &Client, t: UserTokens<'_>, now: Timestamp) -> Result<TokenResponse, KeyError> {
        let access = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: t.sub.clone(),
            aud: self.audiences(),
            client_id: client.id.clone(),
            scope: t.scope.to_string(),
            jti: random_token(16),
            iat: now,
            exp: now + self.config.tokens.access_token_seconds,
            auth_time: Some(t.auth_time),
            acr: Some(t.acr.to_string()),
            gid: t.gid,
            fid: t.fid,
        };
        let access_token = self.keys.sign_access_token(&access)?;
        let id_token = if t.scope.contains("openid") {
            let mut claims = t.id_claims;
            let mut put = |k: &str, v: Value| {
                claims.insert(k.to_string(), v);
            };
            put("iss", self.config.issuer.clone().into());
            put("sub", t.sub.into());
            put("aud", client.id.as_str().into());
            put("azp", client.id.as_str().into());
            put("exp", (now + self.config.tokens.id_token_seconds).into());
            put("iat", now.into());
            put("auth_time", t.auth_time.into());
            put("acr", t.acr.as_str().into());
            put("amr", t.amr.iter().map(|m| Value::from(m.amr())).collect::<Vec<_>>().into());
            if let Some(sid) = t.sid {
                put("sid", sid.as_str().into());
            }
            put("at_hash", at_hash(&access_token).into());
            if let Some(n) = t.nonce {
                put("nonce", n.into());
            }
            Some(self.keys.sign_id_token(&claims)?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.config.tokens.access_token_seconds,
            refresh_token: t.refresh_token,
            id_token,
            scope: t.scope.to_string(),
        })
    }

    /// A client-credentials token: the client acts for itself.
    pub fn for_client(&self, client: &Client, scope: &Scopes, now: Timestamp) -> Result<TokenResponse, KeyError> {
        let access = AccessClaims {
            iss: self.config.issuer.clone(),
            sub: client.id.to_string(),
            aud: self.audiences(),
            client_id: client.id.clone(),
            scope: scope.to_string(),
            jti: random_token(16),
            iat: now,
            exp: now + self.config.tokens.access_token_seconds,
            auth_time: None,
            acr: None,
            gid: None,
            fid: None,
        };
        Ok(TokenResponse {
            access_token: self.keys.sign_access_token(&access)?,
            token_type: "Bearer",
            expires_in: self.config.tokens.access_token_seconds,
            refresh_token: None,
            id_token: None,
            scope: scope.to_string(),
        })
    }

    /// Checks signature, `typ`, issuer, audience and expiry of an access token. Revocation is
    /// the caller's to check (it needs the store).
    pub fn verify_access(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError> {
        let (typ, claims) = self.keys.verify(token, now).map_err(|_| TokenError::Invalid)?;
        if typ.as_deref() != Some("at+jwt") {
            return Err(TokenError::Invalid);
        }
        let claims: AccessClaims = serde_json::from_value(claims).map_err(|_| TokenError::Invalid)?;
        if claims.iss != self.config.issuer || !claims.aud.contains(&self.config.issuer) {
            return Err(TokenError::Invalid);
        }
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Checks an ID token we issued, ignoring expiry (a hint may be old, OIDC Core §3.1.2.1).
    pub fn verify_id_token_hint(&self, token: &str, now: Timestamp) -> Result<IdTokenHint, TokenError> {
        let (typ, claims) = self.keys.verify(token, now).map_err(|_| TokenError::Invalid)?;
        if typ.as_deref().is_some_and(|t| t != "JWT") || claims.get("iss").and_then(Value::as_str) != Some(&self.config.issuer) {
            return Err(TokenError::Invalid);
        }
        let sub = claims.get("sub").and_then(Value::as_str).ok_or(TokenError::Invalid)?.to_string();
        let aud = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => return Err(TokenError::Invalid),
        };
        Ok(IdTokenHint {
            sub,
            aud,
            sid: claims.get("sid").and_then(Value::as_str).map(SessionId::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_example_construction() {
        // Left-most 128 bits of SHA-256, base64url: 22 characters.
        let h = at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(h.len(), 22);
        assert_eq!(h, at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"));
    }

    #[test]
    fn an_access_token_audience_reads_as_one_string_or_a_list() {
        let claims = |aud: &str| {
            serde_json::from_str::<AccessClaims>(&format!(
                r#"{{"iss":"i","sub":"s","aud":{aud},"client_id":"c","scope":"openid","jti":"j","iat":1,"exp":2}}"#
            ))
            .unwrap()
            .aud
        };
        assert_eq!(claims(r#""https://idp.example""#), ["https://idp.example"]);
        assert_eq!(claims(r#"["a","b"]"#), ["a", "b"]);
    }
}
