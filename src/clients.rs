//! Online services (OIDC clients, R-SVC-1): how they are registered and what they may do.

pub mod auth;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::clock::Timestamp;
use crate::ids::ClientId;
use crate::model::account::AccountKind;
use crate::protocol::scope::{self, Scopes};
use crate::secret::{KeyRing, Secret, random_token};
use crate::store::{Store, StoreError};
use crate::trust::TrustLevel;

pub use crate::model::client::{Admits, AuthMethod, Client, GrantType, SubjectType};

/// What an operator gives to register a client.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types (default: authorization_code, refresh_token).
    pub grant_types: Vec<GrantType>,
    /// Authentication method.
    pub auth_method: AuthMethod,
    /// JWKS URI for private_key_jwt.
    pub jwks_uri: Option<String>,
    /// Allowed scopes (default: all supported).
    pub scopes: Vec<String>,
    /// Minimum level.
    pub min_level: TrustLevel,
    /// Chosen client id (generated when absent).
    pub client_id: Option<String>,
    /// Chosen secret (generated when absent, for secret methods).
    pub secret: Option<Secret<String>>,
    /// Subject type.
    pub subject_type: SubjectType,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Allows logins through other Länder.
    pub allow_interop: bool,
    /// Is another Land's Servicekonto.
    pub federation_partner: bool,
    /// What it is and who may use it (R-SVC-1, R-SVC-2).
    pub offer: Offer,
}

/// What a service offers, and to whom: the catalogue's entry and the organisations' terms
/// (R-SVC-1, R-SVC-2).
#[derive(Debug, Clone)]
pub struct Offer {
    /// Which kinds of account may use it.
    pub admits: Admits,
    /// Organisations need the Fachliche Leitstelle's release.
    pub requires_approval: bool,
    /// The roles it defines.
    pub roles: Vec<String>,
    /// What it does.
    pub description: Option<String>,
    /// What it costs.
    pub cost_note: Option<String>,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            admits: Admits::Citizen,
            requires_approval: false,
            roles: Vec::new(),
            description: None,
            cost_note: None,
        }
    }
}

/// Whether `name` can name a role: 1–64 ASCII letters, digits and `-._:` (it reaches tokens
/// as it is).
pub fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
}

/// The most roles one service defines.
pub const MAX_ROLES: usize = 50;

/// Checks an offer and returns it with its texts trimmed (empty ones dropped).
fn check_offer(offer: Offer, allow_interop: bool, federation_partner: bool) -> Result<Offer, ClientError> {
    let invalid = |m: &str| Err(ClientError::Invalid(m.to_string()));
    let for_organisations = offer.admits.admits(AccountKind::Organisation);
    if offer.requires_approval && !for_organisations {
        return invalid("--requires-approval applies only to services that organisations use");
    }
    if !offer.roles.is_empty() && !for_organisations {
        return invalid("roles are granted by organisations: a citizens' service defines none");
    }
    if allow_interop && offer.admits == Admits::Organisation {
        return invalid("only citizens log in through other Länder: a service for organisations only cannot allow it");
    }
    if federation_partner && offer.admits != Admits::Citizen {
        return invalid("a federation partner logs in citizens only");
    }
    if offer.roles.len() > MAX_ROLES {
        return invalid("a service defines at most 50 roles");
    }
    let mut seen = std::collections::BTreeSet::new();
    for role in &offer.roles {
        if !is_role_name(role) {
            return Err(ClientError::Invalid(format!(
                "role {role}: 1-64 characters of letters, digits, '-', '.', '_' and ':'"
            )));
        }
        if !seen.insert(role.as_str()) {
            return Err(ClientError::Invalid(format!("role {role} is named twice")));
        }
    }
    let text = |value: Option<String>, max: usize, what: &str| -> Result<Option<String>, ClientError> {
        let value = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        match value {
            Some(v) if v.chars().count() > max || v.contains(['<', '>']) => Err(ClientError::Invalid(format!(
                "{what} must be at most {max} characters without < or >"
            ))),
            v => Ok(v),
        }
    };
    Ok(Offer {
        description: text(offer.description, 1000, "the description")?,
        cost_note: text(offer.cost_note, 200, "the cost note")?,
        ..offer
    })
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A value breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The client id exists.
    #[error("client id already registered")]
    Taken,
    /// No such client.
    #[error("no such client")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => ClientError::Taken,
            other => ClientError::Store(other),
        }
    }
}

/// A redirect URI must be absolute, without fragment, and https unless it points to the
/// loopback interface (RFC 9700 §2.1, RFC 8252 §7.3) or uses a private-use scheme of a native
/// app (RFC 8252 §7.1, which needs a dot in the scheme).
pub fn check_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let bad = |why: &str| Err(ClientError::Invalid(format!("redirect URI {uri}: {why}")));
    let Ok(parsed) = url::Url::parse(uri) else {
        return bad("not an absolute URI");
    };
    if parsed.fragment().is_some() {
        return bad("must not contain a fragment");
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => bad("http is only allowed for loopback addresses"),
        },
        s if s.contains('.') => Ok(()),
        _ => bad("scheme must be https, loopback http, or a reverse-domain private-use scheme"),
    }
}

/// A back-channel logout URI is where we POST ourselves: absolute http(s) without fragment,
/// https unless loopback (Back-Channel Logout 1.0 §2.2).
pub fn check_backchannel_uri(uri: &str) -> Result<(), ClientError> {
    check_redirect_uri(uri)?;
    match url::Url::parse(uri).map(|u| u.scheme().to_string()).as_deref() {
        Ok("https" | "http") => Ok(()),
        _ => Err(ClientError::Invalid(format!(
            "back-channel logout URI {uri}: must be https (or loopback http)"
        ))),
    }
}

/// Registers a client. Returns the client and, for secret-based methods, the secret in clear:
/// the only time it is ever visible.
pub async fn register(
    store: &Store,
    (pepper, subject_key): (&KeyRing, &KeyRing),
    new: NewClient,
    now: Timestamp,
) -> Result<(Client, Option<Secret<String>>), ClientError> {
    let invalid = |m: &str| Err(ClientError::Invalid(m.to_string()));
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.contains(['<', '>']) {
        return invalid("name must be 1-100 characters without < or >");
    }
    let grant_types = if new.grant_types.is_empty() {
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
    } else {
        new.grant_types
    };
    let uses_code = grant_types.contains(&GrantType::AuthorizationCode);
    if uses_code && new.redirect_uris.is_empty() {
        return invalid("at least one --redirect-uri is needed for authorization_code");
    }
    for uri in new.redirect_uris.iter().chain(&new.post_logout_redirect_uris) {
        check_redirect_uri(uri)?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        check_backchannel_uri(uri)?;
    }
    let offer = check_offer(new.offer, new.allow_interop, new.federation_partner)?;
    if new.allow_interop && new.federation_partner {
        // A partner's users are ours; sending them on to a third Land would chain federations.
        return invalid("a federation partner cannot also allow logins through other Länder");
    }
    if new.auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
        return invalid("public clients cannot use client_credentials");
    }
    match (&new.jwks_uri, new.auth_method) {
        (None, AuthMethod::PrivateKeyJwt) => return invalid("private_key_jwt needs --jwks-uri"),
        (Some(u), _) if !url::Url::parse(u).is_ok_and(|u| crate::fetch::allowed(&u)) => {
            return invalid("--jwks-uri must be an https URL (or http to a loopback address)");
        }
        _ => {}
    }
    if new.secret.is_some() && !new.auth_method.uses_secret() {
        return invalid("a secret is only used with client_secret_basic or client_secret_post");
    }
    if let Some(s) = &new.secret
        && (s.expose().len() < 32 || s.expose().len() > 256 || !s.expose().chars().all(|c| c.is_ascii_graphic()))
    {
        return invalid("a client secret must be 32-256 printable ASCII characters");
    }
    let scopes: Scopes = if new.scopes.is_empty() {
        scope::SUPPORTED.iter().copied().collect()
    } else {
        Scopes::parse(&new.scopes.join(" ")).map_err(ClientError::Invalid)?
    };
    let id = match new.client_id {
        Some(id) if !id.is_empty() && id.len() <= 100 && id.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)) => {
            ClientId::new(id)
        }
        Some(_) => return invalid("client id must be 1-100 unreserved characters"),
        None => ClientId::random(),
    };
    let secret = new
        .auth_method
        .uses_secret()
        .then(|| new.secret.unwrap_or_else(|| Secret::new(random_token(32))));
    let mut client = Client {
        id,
        name: name.to_string(),
        secret_hash: secret.as_ref().map(|s| pepper.tag(s.expose().as_bytes())),
        auth_method: new.auth_method,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        grant_types,
        scopes,
        min_level: new.min_level,
        jwks_uri: new.jwks_uri,
        subject_type: new.subject_type,
        subject_key_version: subject_key.current(),
        created_at: now,
        backchannel_logout_uri: new.backchannel_logout_uri,
        allow_interop: new.allow_interop,
        federation_partner: new.federation_partner,
        admits: offer.admits,
        requires_approval: offer.requires_approval,
        roles: offer.roles,
        description: offer.description,
        cost_note: offer.cost_note,
    };
    // The services of one sector share pairwise subjects, so a new one joins the version its
    // sector already uses rather than the newest.
    let sector = client.sector();
    if let Some(joined) = store.clients().await?.iter().find(|c| c.sector() == sector) {
        client.subject_key_version = joined.subject_key_version;
    }
    store.insert_client(&client).await?;
    Ok((client, secret))
}

/// The longest search the catalogue takes.
pub const MAX_SEARCH: usize = 100;

/// The catalogue (R-SVC-2): the services people log in to whose name or description holds
/// every word of `search` (ignoring case), by name.
pub fn catalogue<'a>(all: &'a [Client], search: &str) -> Vec<&'a Client> {
    let words: Vec<String> = search.split_whitespace().map(str::to_lowercase).collect();
    let mut found: Vec<&Client> = all
        .iter()
        .filter(|c| c.is_listed())
        .filter(|c| {
            let text = format!("{} {}", c.name, c.description.as_deref().unwrap_or("")).to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .collect();
    found.sort_by_cached_key(|c| (c.name.to_lowercase(), c.id.to_string()));
    found
}

/// Registered clients as the protocol endpoints read them: from the database, kept in memory
/// for `ttl` seconds, so the token endpoint does no SQL for the client on every request. A
/// change made by another process (`client remove`) reaches a running node within `ttl`.
#[derive(Clone)]
pub struct ClientDirectory {
    store: Store,
    cache: Arc<RwLock<HashMap<ClientId, Cached>>>,
    ttl: i64,
    subject_key: KeyRing,
}

/// A client and when it was read.
type Cached = (Timestamp, Arc<Client>);

/// More distinct clients than this and the cache starts over (a bound, not an expected size).
const CACHE_LIMIT: usize = 10_000;

impl ClientDirectory {
    /// A directory over `store` caching each client for `ttl` seconds (0: no caching);
    /// `subject_key` is the node's pairwise-subject key ring.
    pub fn new(store: Store, ttl: i64, subject_key: KeyRing) -> Self {
        Self {
            store,
            cache: Arc::default(),
            ttl,
            subject_key,
        }
    }

    /// The client with this id.
    pub async fn get(&self, id: &ClientId, now: Timestamp) -> Result<Option<Arc<Client>>, StoreError> {
        if let Ok(cache) = self.cache.read()
            && let Some((fetched, client)) = cache.get(id)
            && now - *fetched < self.ttl
        {
            return Ok(Some(client.clone()));
        }
        let Some(client) = self.store.client(id).await?.map(Arc::new) else {
            self.forget(id);
            return Ok(None);
        };
        if !self.subject_key.has(client.subject_key_version) {
            // Registered by a node with a newer key version: this one cannot form its subjects,
            // and a wrong `sub` would be worse than no answer.
            tracing::error!(
                client_id = id.as_str(),
                version = client.subject_key_version,
                "client needs a pairwise_subject_key version this node lacks"
            );
            return Ok(None);
        }
        if self.ttl > 0
            && let Ok(mut cache) = self.cache.write()
        {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(id.clone(), (now, client.clone()));
        }
        Ok(Some(client))
    }

    /// Replaces a client's secret hash by `renewed` if it is still `stored` (a pepper rotation).
    pub async fn replace_secret_hash(&self, id: &ClientId, stored: &str, renewed: &str) -> Result<(), StoreError> {
        self.store.replace_client_secret_hash(id, stored, renewed).await?;
        self.forget(id);
        Ok(())
    }

    /// Drops a cached client (after a change made by this process).
    pub fn forget(&self, id: &ClientId) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_the_security_bcp() {
        for ok in [
            "https://rp.example/cb",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "de.land.app:/cb",
            "https://rp.example/cb?x=1",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in ["http://rp.example/cb", "https://rp.example/cb#frag", "/relative", "myapp:/cb"] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
