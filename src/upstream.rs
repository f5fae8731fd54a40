//! The connector to upstream OpenID Providers (the eID service, ELSTER and other Länder's
//! Servicekonten), built on the `openidconnect` crate: discovery, code flow with PKCE, `state` and
//! `nonce` kept in the ephemeral store bound to the browser, RFC 9207 `iss` checked, and the ID
//! token fully validated (signature against the upstream's JWKS, `iss`, `aud`, `exp`, `nonce`).
//! A forged, replayed or mis-addressed answer ends in an error and changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::fetch::Fetcher;
use crate::ids::AccountId;
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Timestamp;
use crate::config::{Config, UpstreamAuth, UpstreamConfig, UpstreamKind};
use crate::ephemeral::{Ephemeral, EphemeralError};
use crate::secret::{b64_decode, random_token};
use crate::trust::TrustLevel;

/// The discovery member by which a development simulator marks itself: trusted on a loopback
/// issuer only, unless `allow_simulators` is set.
pub const SIMULATOR_MARKER: &str = "servicekonto_simulator";

/// How long a started upstream login may take.
const PENDING_SECONDS: i64 = 900;
/// How long discovery and keys are cached.
const METADATA_SECONDS: i64 = 600;

/// Why an upstream login failed; every variant leaves accounts untouched.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No such upstream in the configuration.
    #[error("unknown upstream")]
    Unknown,
    /// Its discovery or keys cannot be read, or it is a simulator we must not trust.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// The `state` is unknown, used or expired (a replay lands here).
    #[error("unknown or used state")]
    UnknownState,
    /// Started in another browser.
    #[error("started in another browser")]
    OtherBrowser,
    /// The answer came from, or names, another upstream than the one chosen (mix-up).
    #[error("answer from the wrong upstream")]
    WrongUpstream,
    /// The user cancelled or declined at the upstream; what the login was for.
    #[error("the user cancelled")]
    Declined(Purpose),
    /// The code exchange or the ID token failed a check.
    #[error("upstream answer refused: {0}")]
    Invalid(String),
    /// The ephemeral store failed.
    #[error(transparent)]
    Ephemeral(#[from] EphemeralError),
}

/// What the upstream login is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// Log in (within an authorization transaction when `txn` is set).
    Login {
        /// The authorization transaction to resume.
        txn: Option<String>,
    },
    /// Upgrade the logged-in account to Plus (R-EID-1).
    Upgrade,
    /// Refresh the locked fields from the card (R-EID-4).
    Sync,
    /// Register directly as Servicekonto Plus (R-REG-5).
    Register,
    /// Link the logged-in organisation user's ELSTER certificate (R-ELS-1, -3).
    LinkElster,
    /// Register an organisation from its ELSTER data (R-ELS-4).
    RegisterOrganisation,
    /// Log in through another Land's Servicekonto for an authorization transaction (R-FED-1).
    Federate {
        /// The authorization transaction to resume.
        txn: String,
        /// The level the service needs; asked of the Land, checked again on return.
        level: TrustLevel,
    },
}

impl Purpose {
    /// Whether this purpose is served by an upstream of `kind`.
    pub fn fits(&self, kind: UpstreamKind) -> bool {
        match self {
            Purpose::Login { .. } => matches!(kind, UpstreamKind::Eid | UpstreamKind::Elster),
            Purpose::Upgrade | Purpose::Sync | Purpose::Register => kind == UpstreamKind::Eid,
            Purpose::LinkElster | Purpose::RegisterOrganisation => kind == UpstreamKind::Elster,
            Purpose::Federate { .. } => kind == UpstreamKind::Land,
        }
    }
}

/// A started upstream login, kept under its `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// Which upstream.
    pub upstream: String,
    /// What for.
    pub purpose: Purpose,
    /// The account it is for (upgrade, sync, linking ELSTER).
    pub account_id: Option<AccountId>,
    /// The browser it belongs to.
    pub browser: String,
    nonce: String,
    pkce_verifier: String,
}

/// What a checked upstream answer says.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Which upstream.
    pub upstream: String,
    /// Its kind.
    pub kind: UpstreamKind,
    /// The level its `acr` maps to.
    pub level: TrustLevel,
    /// The verified ID-token claims.
    pub claims: Map<String, Value>,
}

#[derive(Clone)]
struct Discovered {
    metadata: CoreProviderMetadata,
    iss_parameter: bool,
    fetched_at: Timestamp,
}

/// The configured upstreams and their cached discovery.
#[derive(Clone)]
pub struct Upstreams {
    configs: Arc<Vec<UpstreamConfig>>,
    issuer: String,
    allow_simulators: bool,
    ephemeral: Ephemeral,
    keys: crate::keys::Keys,
    fetch: Fetcher,
    cache: Arc<Mutex<HashMap<String, Discovered>>>,
    /// When an upstream last failed `reachable`, so a Land that is down does not make every
    /// view of the list of Länder wait for it again.
    down: Arc<Mutex<HashMap<String, Timestamp>>>,
}

/// How long an upstream that failed `reachable` is shown as unavailable without asking again.
const DOWN_SECONDS: i64 = 30;

fn pending_key(state: &str) -> String {
    format!("upstream:{state}")
}

fn is_loopback(issuer: &str) -> bool {
    url::Url::parse(issuer).is_ok_and(|u| crate::fetch::is_loopback(&u))
}

impl Upstreams {
    /// The upstreams of `config`.
    pub fn new(config: &Config, ephemeral: Ephemeral, keys: crate::keys::Keys) -> Self {
        Self {
            configs: Arc::new(config.upstream.clone()),
            issuer: config.issuer.clone(),
            allow_simulators: config.allow_simulators,
            ephemeral,
            keys,
            fetch: Fetcher::new(std::time::Duration::from_secs(10)).allowing_plain_http(config.allow_simulators),
            cache: Arc::new(Mutex::new(HashMap::new())),
            down: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// An upstream by id.
    pub fn get(&self, id: &str) -> Option<&UpstreamConfig> {
        self.configs.iter().find(|u| u.id == id)
    }

    /// The eID service, if one is configured.
    pub fn eid(&self) -> Option<&UpstreamConfig> {
        self.configs.iter().find(|u| u.kind == UpstreamKind::Eid)
    }

    /// ELSTER, if it is configured.
    pub fn elster(&self) -> Option<&UpstreamConfig> {
        self.configs.iter().find(|u| u.kind == UpstreamKind::Elster)
    }

    /// The other Länder (R-FED-5), in configuration order.
    pub fn lands(&self) -> impl Iterator<Item = &UpstreamConfig> {
        self.configs.iter().filter(|u| u.kind == UpstreamKind::Land)
    }

    /// Whether upstream `id` answers discovery now, within `wait`. A Land that is down is shown
    /// as unavailable rather than failing the page for everyone (R-FED-5).
    pub async fn reachable(&self, id: &str, wait: std::time::Duration, now: Timestamp) -> bool {
        let Some(cfg) = self.get(id) else { return false };
        if let Ok(down) = self.down.lock()
            && down.get(id).is_some_and(|at| now - *at < DOWN_SECONDS)
        {
            return false;
        }
        let up = matches!(tokio::time::timeout(wait, self.discover(cfg, now)).await, Ok(Ok(_)));
        if let Ok(mut down) = self.down.lock() {
            if up {
                down.remove(id);
            } else {
                down.insert(id.to_string(), now);
            }
        }
        up
    }

    /// Our redirect URI at an upstream.
    pub fn redirect_uri(&self, id: &str) -> String {
        format!("{}/upstream/{id}/callback", self.issuer)
    }

    async fn discover(&self, cfg: &UpstreamConfig, now: Timestamp) -> Result<Discovered, UpstreamError> {
        if let Ok(cache) = self.cache.lock()
            && let Some(d) = cache.get(&cfg.id)
            && now - d.fetched_at < METADATA_SECONDS
        {
            return Ok(d.clone());
        }
        let unavailable = |e: String| UpstreamError::Unavailable(format!("{}: {e}", cfg.id));
        let discovery = format!("{}/.well-known/openid-configuration", cfg.issuer.trim_end_matches('/'));
        let raw = self
            .fetch
            .get_json(&discovery, None)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if raw.get(SIMULATOR_MARKER) == Some(&Value::Bool(true)) && !is_loopback(&cfg.issuer) && !self.allow_simulators {
            return Err(unavailable(
                "a simulator on a non-loopback issuer; set allow_simulators to trust it".into(),
            ));
        }
        let issuer = IssuerUrl::new(cfg.issuer.clone()).map_err(|e| unavailable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.fetch.oidc())
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let d = Discovered {
            metadata,
            iss_parameter: raw.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true)),
            fetched_at: now,
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(cfg.id.clone(), d.clone());
        }
        Ok(d)
    }

    /// Starts a login at upstream `id`; returns the URL to send the browser to.
    pub async fn start(
        &self,
        id: &str,
        purpose: Purpose,
        account_id: Option<AccountId>,
        browser: String,
        now: Timestamp,
    ) -> Result<String, UpstreamError> {
        let cfg = self.get(id).ok_or(UpstreamError::Unknown)?;
        if !purpose.fits(cfg.kind) {
            return Err(UpstreamError::Unknown);
        }
        let d = self.discover(cfg, now).await?;
        let redirect = RedirectUrl::new(self.redirect_uri(id)).map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        let client = CoreClient::from_provider_metadata(
            d.metadata,
            ClientId::new(cfg.client_id.clone()),
            cfg.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().clone())),
        )
        .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                || CsrfToken::new(random_token(24)),
                || Nonce::new(random_token(24)),
            )
            .set_pkce_challenge(challenge);
        for s in &cfg.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        if let Purpose::Federate { level, .. } = &purpose {
            // TR-03160-2: every interoperable login authenticates anew (ForceAuthn) and names
            // the level needed.
            request = request.add_prompt(CoreAuthPrompt::Login);
            for acr in acr_values_for(cfg, *level) {
                request = request.add_auth_context_value(AuthenticationContextClass::new(acr));
            }
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            upstream: id.to_string(),
            purpose,
            account_id,
            browser,
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        self.ephemeral
            .put_json(&pending_key(state.secret()), &pending, now + PENDING_SECONDS, now)
            .await?;
        Ok(url.to_string())
    }

    /// Checks the answer at our callback for upstream `id`: the `state` is used up first, so a
    /// replayed answer finds nothing.
    pub async fn finish(
        &self,
        id: &str,
        params: &CallbackParams,
        browser: &str,
        now: Timestamp,
    ) -> Result<(Pending, Identity), UpstreamError> {
        let cfg = self.get(id).ok_or(UpstreamError::Unknown)?;
        let state = params
            .state
            .as_deref()
            .filter(|s| s.len() <= 64)
            .ok_or(UpstreamError::UnknownState)?;
        let pending: Pending = self
            .ephemeral
            .take_json(&pending_key(state), now)
            .await?
            .ok_or(UpstreamError::UnknownState)?;
        if pending.upstream != id {
            return Err(UpstreamError::WrongUpstream);
        }
        if pending.browser != browser {
            return Err(UpstreamError::OtherBrowser);
        }
        let d = self.discover(cfg, now).await?;
        // RFC 9207: the answer names its issuer; it must be the one we sent the user to.
        match params.iss.as_deref() {
            Some(iss) if iss != d.metadata.issuer().as_str() => return Err(UpstreamError::WrongUpstream),
            None if d.iss_parameter => return Err(UpstreamError::WrongUpstream),
            _ => {}
        }
        if params.error.is_some() {
            return Err(UpstreamError::Declined(pending.purpose));
        }
        let code = params.code.clone().ok_or_else(|| UpstreamError::Invalid("no code".into()))?;
        let redirect = RedirectUrl::new(self.redirect_uri(id)).map_err(|e| UpstreamError::Invalid(e.to_string()))?;
        let private_key_jwt =
            cfg.auth_method == Some(UpstreamAuth::PrivateKeyJwt) || (cfg.auth_method.is_none() && cfg.client_secret.is_none());
        let token_endpoint = d.metadata.token_endpoint().map(|u| u.as_str().to_string());
        let userinfo_endpoint = d.metadata.userinfo_endpoint().map(|u| u.url().clone());
        let secret = (!private_key_jwt)
            .then(|| cfg.client_secret.as_ref().map(|s| ClientSecret::new(s.expose().clone())))
            .flatten();
        let client =
            CoreClient::from_provider_metadata(d.metadata, ClientId::new(cfg.client_id.clone()), secret).set_redirect_uri(redirect);
        let invalid = |e: String| UpstreamError::Invalid(e);
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| invalid(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        if private_key_jwt {
            // RFC 7523 §2.2: iss and sub are our client id, aud the token endpoint.
            let aud = token_endpoint.ok_or_else(|| invalid("no token endpoint".into()))?;
            let assertion = self
                .keys
                .sign_client_assertion(&serde_json::json!({
                    "iss": cfg.client_id, "sub": cfg.client_id, "aud": aud,
                    "jti": random_token(16), "iat": now, "exp": now + 60,
                }))
                .map_err(|e| invalid(e.to_string()))?;
            exchange = exchange
                .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .add_extra_param("client_assertion", assertion);
        }
        let tokens = exchange
            .request_async(&self.fetch.oidc())
            .await
            .map_err(|e| invalid(format!("code exchange: {e}")))?;
        let id_token = tokens.id_token().ok_or_else(|| invalid("no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let checked = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| invalid(format!("ID token: {e}")))?;
        let acr = checked.auth_context_ref().map(|a| a.as_str().to_string());
        // The token verified: its payload is now safe to read for the claims the crate does not
        // model (the eID data groups).
        let raw = id_token.to_string();
        let mut claims: Map<String, Value> = raw
            .split('.')
            .nth(1)
            .and_then(b64_decode)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| invalid("unreadable ID token payload".into()))?;
        if cfg.kind == UpstreamKind::Land
            && let Some(endpoint) = userinfo_endpoint
        {
            // A Servicekonto releases scope claims at userinfo (OIDC Core §5.4); the ID token
            // vouches for whom they belong to (§5.3.2: the `sub` must match).
            let info = self.userinfo(endpoint, tokens.access_token().secret()).await?;
            if info.get("sub") != claims.get("sub") {
                return Err(invalid("userinfo names another subject".into()));
            }
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        // The upstream's names for the data groups, renamed to ours.
        for (ours, theirs) in &cfg.claim_map {
            if let Some(v) = claims.remove(theirs) {
                claims.insert(ours.clone(), v);
            }
        }
        let level = asserted_level(cfg, acr.as_deref());
        Ok((
            pending,
            Identity {
                upstream: id.to_string(),
                kind: cfg.kind,
                level,
                claims,
            },
        ))
    }
}

impl Upstreams {
    async fn userinfo(&self, endpoint: url::Url, access_token: &str) -> Result<Map<String, Value>, UpstreamError> {
        let invalid = |e: String| UpstreamError::Invalid(format!("userinfo: {e}"));
        match self.fetch.get_json(endpoint.as_str(), Some(access_token)).await {
            Ok(Value::Object(claims)) => Ok(claims),
            Ok(_) => Err(invalid("not a JSON object".into())),
            Err(e) => Err(invalid(e.to_string())),
        }
    }
}

/// The level an upstream's `acr` stands for (R-FED-3, never raised): with an `acr_map`, only
/// what the map names — a value it does not name counts as basic, even one that looks like our
/// own vocabulary (an upstream with its own vocabulary could otherwise claim any of ours);
/// without one, our vocabulary (a Servicekonto speaks it). A missing `acr` is basic.
fn asserted_level(cfg: &UpstreamConfig, acr: Option<&str>) -> TrustLevel {
    let Some(acr) = acr else { return TrustLevel::Basic };
    let level = if cfg.acr_map.is_empty() {
        TrustLevel::parse(acr)
    } else {
        cfg.acr_map.get(acr).and_then(|l| TrustLevel::parse(l))
    };
    level.unwrap_or(TrustLevel::Basic)
}

/// The `acr` values to ask a Land for, those that reach `level`: the Land's values from
/// `acr_map`, or ours (a Servicekonto speaks the same vocabulary). Always some, even for
/// `basic`: an OP may leave `acr` out of an ID token nobody asked it for, and a missing `acr`
/// counts as `basic` (never raised).
fn acr_values_for(cfg: &UpstreamConfig, level: TrustLevel) -> Vec<String> {
    if cfg.acr_map.is_empty() {
        return [TrustLevel::Basic, TrustLevel::Plus, TrustLevel::Eid]
            .into_iter()
            .filter(|l| *l >= level)
            .map(|l| l.acr().to_string())
            .collect();
    }
    cfg.acr_map
        .iter()
        .filter(|(_, l)| TrustLevel::parse(l).is_some_and(|l| l >= level))
        .map(|(v, _)| v.clone())
        .collect()
}

/// The query at our callback.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    /// Authorization code.
    pub code: Option<String>,
    /// Our state.
    pub state: Option<String>,
    /// RFC 9207 issuer.
    pub iss: Option<String>,
    /// Error code, when the user cancelled or the upstream refused.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn land(acr_map: &[(&str, &str)]) -> UpstreamConfig {
        UpstreamConfig {
            id: "land-c".into(),
            kind: UpstreamKind::Land,
            display_name: "Land C".into(),
            logo_text: None,
            issuer: "https://c.example".into(),
            client_id: "sk".into(),
            client_secret: None,
            scopes: vec![],
            acr_map: acr_map.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            auth_method: None,
            claim_map: Default::default(),
        }
    }

    #[test]
    fn r_fed_3_an_acr_the_configured_map_does_not_name_counts_as_basic() {
        let c = land(&[("https://c/loa/plus", "plus")]);
        assert_eq!(asserted_level(&c, Some("https://c/loa/plus")), TrustLevel::Plus);
        assert_eq!(asserted_level(&c, Some("urn:servicekonto:acr:eid")), TrustLevel::Basic);
        assert_eq!(asserted_level(&c, Some("eid")), TrustLevel::Basic);
        assert_eq!(asserted_level(&c, Some("https://c/loa/unknown")), TrustLevel::Basic);
        assert_eq!(asserted_level(&c, None), TrustLevel::Basic);
        let ours = land(&[]);
        assert_eq!(asserted_level(&ours, Some("urn:servicekonto:acr:plus")), TrustLevel::Plus);
        assert_eq!(asserted_level(&ours, Some("https://elsewhere/loa")), TrustLevel::Basic);
        assert_eq!(asserted_level(&ours, None), TrustLevel::Basic);
    }

    #[test]
    fn r_fed_3_a_land_is_asked_for_the_levels_that_reach_what_the_service_needs() {
        let ours = land(&[]);
        assert_eq!(
            acr_values_for(&ours, TrustLevel::Plus),
            vec!["urn:servicekonto:acr:plus", "urn:servicekonto:acr:eid"]
        );
        assert_eq!(acr_values_for(&ours, TrustLevel::Basic).len(), 3, "asked even for basic");
        let c = land(&[("https://c/loa/basis", "basic"), ("https://c/loa/plus", "plus")]);
        assert_eq!(acr_values_for(&c, TrustLevel::Plus), vec!["https://c/loa/plus"]);
        assert!(acr_values_for(&c, TrustLevel::Eid).is_empty());
    }
}
