//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2, OIDC Core §9) for the token,
//! revocation and introspection endpoints. Secrets are checked by HMAC in constant time; no
//! slow hash sits on this path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;
use tracing::instrument;

use super::{AuthMethod, Client, ClientDirectory};
use crate::clock::Timestamp;
use crate::ephemeral::Ephemeral;
use crate::fetch::Fetcher;
use crate::ids::ClientId;
use crate::keys::jws::{PublicKey, Unverified};
use crate::protocol::OAuthError;
use crate::protocol::params::Params;
use crate::secret::{KeyRing, Secret};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Allowed clock skew for assertion times.
const SKEW: i64 = 60;
/// Assertions may not live longer than this.
const MAX_ASSERTION_LIFETIME: i64 = 3600;

/// The credentials a request presents, before they are checked.
#[derive(Debug)]
pub enum Presented {
    /// `Authorization: Basic`.
    Basic { id: String, secret: Secret<String> },
    /// `client_id` + `client_secret` in the body.
    Post { id: String, secret: Secret<String> },
    /// `client_assertion` (private_key_jwt).
    Jwt { id: Option<String>, assertion: Secret<String> },
    /// Only `client_id`: a public client.
    Public { id: String },
}

fn form_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Reads the credentials from the `Authorization` header and the form; more than one
/// method in one request is an `invalid_request` (RFC 6749 §2.3).
pub fn presented(authorization: Option<&str>, params: &Params) -> Result<Presented, OAuthError> {
    let basic = match authorization {
        Some(h) => {
            let (scheme, value) = h.split_once(' ').unwrap_or((h, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client("unsupported Authorization scheme"));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            let (id, secret) = form_decode(id)
                .zip(form_decode(secret))
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?;
            Some(Presented::Basic {
                id,
                secret: Secret::new(secret),
            })
        }
        None => None,
    };
    let post = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let count = [basic.is_some(), post.is_some(), assertion.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if count > 1 {
        return Err(OAuthError::invalid_request("use exactly one client authentication method"));
    }
    let body_id = params.get("client_id").map(str::to_owned);
    if let Some(b) = basic {
        if let (Presented::Basic { id, .. }, Some(body)) = (&b, &body_id)
            && id != body
        {
            return Err(OAuthError::invalid_client("client_id differs from the authenticated client"));
        }
        return Ok(b);
    }
    if let Some(secret) = post {
        let id = body_id.ok_or_else(|| OAuthError::invalid_client("client_secret without client_id"))?;
        return Ok(Presented::Post {
            id,
            secret: Secret::new(secret.to_string()),
        });
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client("client_assertion_type must be jwt-bearer"));
        }
        return Ok(Presented::Jwt {
            id: body_id,
            assertion: Secret::new(assertion.to_string()),
        });
    }
    match body_id {
        Some(id) => Ok(Presented::Public { id }),
        None => Err(OAuthError::invalid_client("client authentication required")),
    }
}

/// Checks presented credentials against the registry.
#[derive(Clone)]
pub struct ClientAuthenticator {
    clients: ClientDirectory,
    pepper: KeyRing,
    ephemeral: Ephemeral,
    jwks: JwksCache,
    audiences: Arc<Vec<String>>,
}

impl ClientAuthenticator {
    /// `audiences` are the values a client assertion's `aud` may name (issuer, endpoints).
    pub fn new(clients: ClientDirectory, pepper: KeyRing, ephemeral: Ephemeral, audiences: Vec<String>) -> Self {
        Self {
            clients,
            pepper,
            ephemeral,
            jwks: JwksCache::default(),
            audiences: Arc::new(audiences),
        }
    }

    /// Whether `presented` is the client's secret. A hash made with an older pepper version is
    /// replaced by one under the current version, so a pepper rotation completes as the
    /// clients authenticate (R-SEC-7); a failed replacement only leaves the old hash in place.
    async fn secret_ok(&self, client: &Client, presented: &str) -> bool {
        let Some(stored) = &client.secret_hash else { return false };
        if !self.pepper.verify(presented.as_bytes(), stored) {
            return false;
        }
        if KeyRing::version_of(stored).is_some_and(|v| v < self.pepper.current()) {
            let renewed = self.pepper.tag(presented.as_bytes());
            if let Err(e) = self.clients.replace_secret_hash(&client.id, stored, &renewed).await {
                tracing::warn!(client_id = %client.id, error = %e, "could not re-tag the client secret with the current pepper");
            }
        }
        true
    }

    /// Authenticates; every failure is `invalid_client` without saying which part failed.
    #[instrument(skip_all)]
    pub async fn authenticate(&self, presented: Presented, now: Timestamp) -> Result<Arc<Client>, OAuthError> {
        let unknown = || OAuthError::invalid_client("client authentication failed");
        let load = |id: String| async move {
            self.clients
                .get(&ClientId::new(id), now)
                .await
                .map_err(|_| OAuthError::unavailable())?
                .ok_or_else(unknown)
        };
        match presented {
            Presented::Basic { id, secret } => {
                let client = load(id).await?;
                let ok = client.auth_method == AuthMethod::ClientSecretBasic && self.secret_ok(&client, secret.expose()).await;
                ok.then_some(client).ok_or_else(unknown)
            }
            Presented::Post { id, secret } => {
                let client = load(id).await?;
                let ok = client.auth_method == AuthMethod::ClientSecretPost && self.secret_ok(&client, secret.expose()).await;
                ok.then_some(client).ok_or_else(unknown)
            }
            Presented::Public { id } => {
                let client = load(id).await?;
                client.is_public().then_some(client).ok_or_else(unknown)
            }
            Presented::Jwt { id, assertion } => {
                let parsed = Unverified::parse(assertion.expose()).map_err(|_| unknown())?;
                let iss = parsed
                    .claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(unknown)?;
                if id.as_ref().is_some_and(|id| *id != iss) {
                    return Err(unknown());
                }
                let client = load(iss.clone()).await?;
                if client.auth_method != AuthMethod::PrivateKeyJwt {
                    return Err(unknown());
                }
                let jwks_uri = client.jwks_uri.clone().ok_or_else(unknown)?;
                let kid = parsed.kid().map(str::to_owned);
                let keys = self.jwks.keys(&jwks_uri, kid.as_deref(), now).await.map_err(|_| unknown())?;
                let claims = keys
                    .iter()
                    .filter(|(k, _)| kid.is_none() || k.as_deref() == kid.as_deref())
                    .find_map(|(_, key)| Unverified::parse(assertion.expose()).ok()?.verify(key).ok())
                    .ok_or_else(unknown)?;
                self.check_assertion(&client.id, &claims, now).await?;
                Ok(client)
            }
        }
    }

    async fn check_assertion(&self, client_id: &ClientId, claims: &Value, now: Timestamp) -> Result<(), OAuthError> {
        let bad = |why: &str| OAuthError::invalid_client(format!("client assertion {why}"));
        let s = |name: &str| claims.get(name).and_then(Value::as_str);
        if s("iss") != Some(client_id.as_str()) || s("sub") != Some(client_id.as_str()) {
            return Err(bad("iss and sub must be the client_id"));
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => self.audiences.contains(a),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(|a| self.audiences.iter().any(|x| x == a)),
            _ => false,
        };
        if !aud_ok {
            return Err(bad("is not addressed to this server"));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .map(Timestamp)
            .ok_or_else(|| bad("has no exp"))?;
        if exp + SKEW < now || exp > now + MAX_ASSERTION_LIFETIME {
            return Err(bad("is expired or lives too long"));
        }
        if claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| Timestamp(nbf) > now + SKEW)
        {
            return Err(bad("is not yet valid"));
        }
        let jti = s("jti")
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| bad("has no jti"))?;
        let fresh = self
            .ephemeral
            .remember_once(&format!("jti:{client_id}:{jti}"), exp + SKEW, now)
            .await
            .map_err(|_| OAuthError::unavailable())?;
        if !fresh {
            return Err(bad("was already used (jti replay)"));
        }
        Ok(())
    }
}

/// Clients' JWK Sets, fetched on demand and kept a few minutes; an unknown `kid` triggers a
/// refetch (the client rotated), at most every few seconds.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Mutex<HashMap<String, (Timestamp, KeyList)>>>,
    fetch: Fetcher,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            fetch: Fetcher::new(Duration::from_secs(5)),
        }
    }
}

type KeyList = Vec<(Option<String>, PublicKey)>;

impl JwksCache {
    const TTL: i64 = 300;
    const MIN_REFETCH: i64 = 5;

    async fn keys(&self, uri: &str, kid: Option<&str>, now: Timestamp) -> Result<KeyList, String> {
        let cached = self.inner.lock().ok().and_then(|m| m.get(uri).cloned());
        if let Some((fetched, keys)) = &cached {
            let has_kid = kid.is_none_or(|k| keys.iter().any(|(id, _)| id.as_deref() == Some(k)));
            if now - *fetched < Self::TTL && (has_kid || now - *fetched < Self::MIN_REFETCH) {
                return Ok(keys.clone());
            }
        }
        let keys = fetch_jwks(&self.fetch, uri).await?;
        if let Ok(mut m) = self.inner.lock() {
            m.insert(uri.to_string(), (now, keys.clone()));
        }
        Ok(keys)
    }
}

async fn fetch_jwks(fetch: &Fetcher, uri: &str) -> Result<KeyList, String> {
    let doc = fetch.get_json(uri, None).await.map_err(|e| e.to_string())?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or("no keys member")?;
    Ok(keys
        .iter()
        .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
        .filter_map(|k| Some((k.get("kid").and_then(Value::as_str).map(str::to_owned), PublicKey::from_jwk(k)?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::OAuthErrorCode;

    #[test]
    fn basic_credentials_are_form_decoded_and_methods_exclusive() {
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("my%20client:s%3Acret"));
        match presented(Some(&header), &Params::default()).unwrap() {
            Presented::Basic { id, secret } => {
                assert_eq!(id, "my client");
                assert_eq!(secret.expose(), "s:cret");
            }
            other => panic!("{other:?}"),
        }
        let both = Params::parse("client_id=my%20client&client_secret=x").unwrap();
        assert_eq!(presented(Some(&header), &both).unwrap_err().code, OAuthErrorCode::InvalidRequest);
        assert!(presented(None, &Params::default()).is_err());
    }
}
