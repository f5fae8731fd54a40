//! A registered online service, as stored, with the names of its enums.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::ClientId;
use crate::model::account::AccountKind;
use crate::protocol::scope::Scopes;
use crate::trust::TrustLevel;

/// Client authentication methods at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// Secret in the form body.
    ClientSecretPost,
    /// RFC 7523 JWT signed with a key from the client's JWKS.
    PrivateKeyJwt,
    /// Public client (PKCE required).
    None,
}

impl AuthMethod {
    /// Every method.
    pub const ALL: &[AuthMethod] = &[
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    /// The registration name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// Whether the method uses a shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost)
    }
}

/// Grant types a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// Code flow.
    AuthorizationCode,
    /// Refresh tokens.
    RefreshToken,
    /// Machine tokens.
    ClientCredentials,
}

impl GrantType {
    /// Every grant type.
    pub const ALL: &[GrantType] = &[GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials];

    /// The registration name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

/// How `sub` is formed for this client (OIDC Core §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// A per-service pseudonym: services cannot link their users (default).
    Pairwise,
    /// The same `sub` for every service.
    Public,
}

impl SubjectType {
    /// Every subject type.
    pub const ALL: &[SubjectType] = &[SubjectType::Pairwise, SubjectType::Public];

    /// The registration name.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Pairwise => "pairwise",
            SubjectType::Public => "public",
        }
    }
}

/// Which kinds of account may use a service (R-SVC-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admits {
    /// Citizens only (the default).
    Citizen,
    /// Organisation users only.
    Organisation,
    /// Both.
    Any,
}

impl Admits {
    /// Every choice.
    pub const ALL: &[Admits] = &[Admits::Citizen, Admits::Organisation, Admits::Any];

    /// The registration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Admits::Citizen => "citizen",
            Admits::Organisation => "organisation",
            Admits::Any => "any",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// Whether an account of `kind` may use the service.
    pub fn admits(self, kind: AccountKind) -> bool {
        matches!(
            (self, kind),
            (Admits::Any, _) | (Admits::Citizen, AccountKind::Citizen) | (Admits::Organisation, AccountKind::Organisation)
        )
    }
}

/// A registered online service.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: ClientId,
    /// Display name on the consent page.
    pub name: String,
    /// HMAC of the secret, for secret-based methods.
    pub secret_hash: Option<String>,
    /// How it authenticates.
    pub auth_method: AuthMethod,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may request.
    pub scopes: Scopes,
    /// Minimum trust level (R-ACR-4).
    pub min_level: TrustLevel,
    /// Where its public keys are, for private_key_jwt.
    pub jwks_uri: Option<String>,
    /// Public or pairwise `sub`.
    pub subject_type: SubjectType,
    /// The version of the pairwise-subject key its subjects are derived with (R-SEC-7).
    pub subject_key_version: u32,
    /// Registered.
    pub created_at: Timestamp,
    /// Where logout tokens go when a session it relied on ends (Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Citizens may log in to it through another Land's Servicekonto (R-FED-2).
    pub allow_interop: bool,
    /// Another Land's Servicekonto: consent on every transfer, no single sign-on, data kept at
    /// most 7 days (R-FED-4).
    pub federation_partner: bool,
    /// Which kinds of account may use it (R-SVC-1).
    pub admits: Admits,
    /// Organisations may use it only once the Fachliche Leitstelle released it for them.
    pub requires_approval: bool,
    /// The roles it defines, which organisations grant to their users.
    pub roles: Vec<String>,
    /// What it does, for the catalogue (R-SVC-2).
    pub description: Option<String>,
    /// What it costs, for the catalogue.
    pub cost_note: Option<String>,
}

impl Client {
    /// Whether "Mit anderem Servicekonto" is offered for it: it allows that, and only citizens
    /// log in through another Land (R-FED-2).
    pub fn offers_interop(&self) -> bool {
        self.allow_interop && self.admits.admits(AccountKind::Citizen)
    }

    /// Whether people log in to it, so it belongs in the catalogue: it uses the code flow and
    /// is not another Land's Servicekonto.
    pub fn is_listed(&self) -> bool {
        self.allows(GrantType::AuthorizationCode) && !self.federation_partner
    }

    /// Whether the client has no credentials (PKCE is then mandatory).
    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    /// Whether it may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The sector whose users share pairwise identifiers: the redirect URIs' host when they all
    /// share one, else the client itself.
    pub fn sector(&self) -> String {
        let hosts: std::collections::BTreeSet<String> = self
            .redirect_uris
            .iter()
            .filter_map(|u| url::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_owned)))
            .collect();
        match (hosts.len(), hosts.into_iter().next()) {
            (1, Some(h)) => h,
            _ => format!("client:{}", self.id),
        }
    }
}

/// Stored forms of the enums, in one place for the repository.
pub mod stored {
    use super::*;

    /// The stored authentication method.
    pub fn auth_method(s: &str) -> Option<AuthMethod> {
        AuthMethod::parse(s)
    }

    /// The stored grant types (a JSON array).
    pub fn grant_types(json: &str) -> Option<Vec<GrantType>> {
        serde_json::from_str(json).ok()
    }

    /// The stored account kinds a client admits.
    pub fn admits(s: &str) -> Option<Admits> {
        Admits::parse(s)
    }

    /// The stored subject type.
    pub fn subject_type(s: &str) -> Option<SubjectType> {
        match s {
            "pairwise" => Some(SubjectType::Pairwise),
            "public" => Some(SubjectType::Public),
            _ => None,
        }
    }
}
