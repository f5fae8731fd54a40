//! Layered configuration: built-in defaults < TOML file < environment variables.
//!
//! Every subcommand loads the same `Config`, so `serve`, `client add` and `keys rotate` agree on
//! the database and the keys directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The whole configuration of one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier, exactly as it appears in tokens and discovery.
    pub issuer: String,
    /// The socket address the HTTP server listens on.
    pub bind: String,
    /// `sqlite://…` (embedded default) or `postgres://…`.
    pub database_url: String,
    /// `redis://…` for ephemeral state shared by several nodes; in-process when absent.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several installations can share one Redis.
    pub redis_prefix: String,
    /// How long a Redis operation may take before the request fails with 503.
    pub redis_timeout_ms: u64,
    /// Directory with the signing keys (PEM, one file per key id), when no key-encryption key
    /// is configured.
    pub keys_dir: PathBuf,
    /// 32 bytes, base64url: when set, signing keys live in the database sealed with this key,
    /// shared by every node (docs/decisions/0010).
    pub key_encryption_key: Option<Secret<String>>,
    /// Directory where mails are written as `.eml` files when no SMTP server is configured.
    pub outbox_dir: PathBuf,
    /// Whether the demo relying party at `/demo` is served (only ever on loopback issuers).
    pub demo: bool,
    /// `json` for production logs, `text` for a terminal.
    pub log_format: LogFormat,
    /// Token lifetimes and algorithms.
    pub tokens: TokenConfig,
    /// Login-session timeouts.
    pub sessions: SessionConfig,
    /// Signing-key rotation and reloading.
    pub keys: KeysConfig,
    /// How long a node keeps a registered client in memory; changes made by the CLI reach
    /// running nodes within this time.
    pub client_cache_seconds: i64,
    /// After SIGTERM, how long in-flight requests may take before the process exits anyway.
    pub shutdown_grace_seconds: u64,
    /// How long a client may take to send a request's headers (also an idle keep-alive
    /// connection's limit), so slow clients cannot hold connections open.
    pub header_read_timeout_seconds: u64,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// How long a request waits for a database connection before it fails with 503.
    pub database_timeout_ms: u64,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// Throttling of failed logins.
    pub login_throttle: ThrottleConfig,
    /// The bounded password-hashing pool (R-SEC-1).
    pub password_hashing: HashingConfig,
    /// Header carrying the client's address when a trusted reverse proxy sets it (for example
    /// `x-forwarded-for`); believed only from `trusted_proxies`, and only its rightmost entry
    /// that is not itself a trusted proxy.
    pub client_ip_header: Option<String>,
    /// Addresses or CIDR networks of the reverse proxies whose `client_ip_header` is believed.
    pub trusted_proxies: Vec<String>,
    /// Upstream identity providers (`[[upstream]]`): the eID service, ELSTER, other Länder.
    pub upstream: Vec<UpstreamConfig>,
    /// Trust an upstream that says it is a simulator even on a non-loopback issuer (never in
    /// production).
    pub allow_simulators: bool,
    /// Server secrets (R-SEC-7), never stored in the database.
    pub secrets: SecretsConfig,
    /// The audit log (R-SEC-6).
    pub audit: AuditConfig,
    /// The staff pages.
    pub staff: StaffConfig,
}

/// Where the staff pages may be used from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffConfig {
    /// Addresses or CIDR networks (the Kundenzentren, the administration's network) that reach
    /// `/staff/`; empty: every network (R-SEC-4).
    pub networks: Vec<String>,
}

/// How long security events are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Days an event is kept before the purge removes it.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 365 }
    }
}

/// The server secrets, each a list of `VERSION:BASE64URL` entries (at least 32 bytes): the
/// highest version tags new values, older ones still verify. The environment variable
/// `SERVICEKONTO_SECRET_<NAME>` (entries separated by commas) overrides an entry here; a name
/// given nowhere is read from `file`, which the first start of an installation creates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Keys the HMAC that stores client secrets.
    pub client_secret_pepper: Vec<Secret<String>>,
    /// Derives pairwise subjects; a new version serves clients registered after it.
    pub pairwise_subject_key: Vec<Secret<String>>,
    /// Keys the HMAC of CSRF tokens.
    pub csrf_key: Vec<Secret<String>>,
    /// Derives the stored hash of eID card pseudonyms; exactly one version (the hash is all
    /// that is kept of a card, so it cannot be re-derived under a new key).
    pub eid_pseudonym_key: Vec<Secret<String>>,
    /// Seals the staff members' TOTP seeds in the database (R-SEC-4).
    pub staff_totp_key: Vec<Secret<String>>,
    /// Where names configured nowhere else are read from (the same keys as this table).
    pub file: PathBuf,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            client_secret_pepper: Vec::new(),
            pairwise_subject_key: Vec::new(),
            csrf_key: Vec::new(),
            eid_pseudonym_key: Vec::new(),
            staff_totp_key: Vec::new(),
            file: "data/secrets.toml".into(),
        }
    }
}

/// The names of the server secrets, as in `[secrets]` and `SERVICEKONTO_SECRET_<NAME>`.
pub const SECRET_NAMES: [&str; 5] = [
    "client_secret_pepper",
    "pairwise_subject_key",
    "csrf_key",
    "eid_pseudonym_key",
    "staff_totp_key",
];

impl SecretsConfig {
    /// The entries configured for `name`.
    pub fn entries(&self, name: &str) -> &[Secret<String>] {
        match name {
            "client_secret_pepper" => &self.client_secret_pepper,
            "pairwise_subject_key" => &self.pairwise_subject_key,
            "csrf_key" => &self.csrf_key,
            "eid_pseudonym_key" => &self.eid_pseudonym_key,
            "staff_totp_key" => &self.staff_totp_key,
            _ => &[],
        }
    }

    /// Mutable access to the entries of `name`.
    pub fn entries_mut(&mut self, name: &str) -> Option<&mut Vec<Secret<String>>> {
        match name {
            "client_secret_pepper" => Some(&mut self.client_secret_pepper),
            "pairwise_subject_key" => Some(&mut self.pairwise_subject_key),
            "csrf_key" => Some(&mut self.csrf_key),
            "eid_pseudonym_key" => Some(&mut self.eid_pseudonym_key),
            "staff_totp_key" => Some(&mut self.staff_totp_key),
            _ => None,
        }
    }
}

/// What an upstream identity provider is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// The eID service (online ID function).
    Eid,
    /// ELSTER (organisations).
    Elster,
    /// Another Land's Servicekonto.
    Land,
}

/// Client authentication at an upstream's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamAuth {
    /// HTTP Basic with `client_secret`.
    ClientSecretBasic,
    /// A JWT signed with our key (RFC 7523).
    PrivateKeyJwt,
}

/// One upstream OpenID Provider, reached through the connector; its redirect URI at our IdP
/// is `{issuer}/upstream/{id}/callback`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Unique id (lower-case letters, digits, `-`), part of the callback path.
    pub id: String,
    /// What it is for.
    pub kind: UpstreamKind,
    /// Name on the buttons.
    pub display_name: String,
    /// Short text shown as the Land's logo in the list of Länder (default: the initials of
    /// `display_name`).
    #[serde(default)]
    pub logo_text: Option<String>,
    /// Its issuer identifier (discovery is read from it).
    pub issuer: String,
    /// Our client id there.
    pub client_id: String,
    /// Our client secret there (`client_secret_basic`).
    pub client_secret: Option<Secret<String>>,
    /// Scopes to ask for (`openid` is always added).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How we authenticate at its token endpoint: `client_secret_basic` (with `client_secret`)
    /// or `private_key_jwt` (RFC 7523, signed with our signing key, which the upstream reads
    /// from our `/jwks`). Default: `client_secret_basic` when a secret is set, else
    /// `private_key_jwt`.
    #[serde(default)]
    pub auth_method: Option<UpstreamAuth>,
    /// Our claim name → the upstream's, for upstreams that name the data groups differently
    /// (e.g. `given_name = "GivenNames"`); names not listed are taken as they are.
    #[serde(default)]
    pub claim_map: std::collections::BTreeMap<String, String>,
    /// Upstream `acr` value → our level (`basic`, `plus`, `elster`, `eid`); values not listed
    /// count as `basic`. The eID service's BSI/eIDAS "high" values map to `eid` by default.
    #[serde(default)]
    pub acr_map: std::collections::BTreeMap<String, String>,
}

impl UpstreamConfig {
    /// The logo text: `logo_text`, or up to three initials of the display name.
    pub fn logo(&self) -> String {
        self.logo_text.clone().unwrap_or_else(|| {
            self.display_name
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .filter(|c| c.is_alphanumeric())
                .take(3)
                .flat_map(char::to_uppercase)
                .collect()
        })
    }
}

/// Outgoing mail: SMTP when `smtp_host` is set, else `.eml` files in `outbox_dir`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Sender, e.g. `Servicekonto <noreply@servicekonto.example>`.
    pub from: String,
    /// SMTP server.
    pub smtp_host: Option<String>,
    /// SMTP port (default: 465 for `tls`, 587 for `starttls`, 25 for `none`).
    pub smtp_port: Option<u16>,
    /// Transport security.
    pub smtp_tls: SmtpTls,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// SMTP password (env `SERVICEKONTO_SMTP_PASSWORD`).
    pub smtp_password: Option<Secret<String>>,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// TLS from the first byte (port 465).
    Tls,
    /// STARTTLS, required (port 587).
    Starttls,
    /// Plain text; only for a relay on the same host.
    None,
}

/// Failed-login throttling, per account and per client address, counted in a window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleConfig {
    /// Length of the counting window in seconds.
    pub window_seconds: i64,
    /// Failures for one account before each further attempt must wait (1 s, doubling, ≤ 60 s).
    pub delay_after: i64,
    /// Failures for one account before logins to it are locked.
    pub lock_after: i64,
    /// How long a lock lasts.
    pub lock_seconds: i64,
    /// Failures from one client address (any accounts) before it is locked.
    pub address_lock_after: i64,
    /// Registrations one client address may submit per hour (each costs a password hash).
    pub registrations_per_hour: i64,
    /// Password resets (link requests and new passwords) one client address may submit per hour.
    pub resets_per_hour: i64,
    /// Registrations all addresses together may submit per hour (R-SEC-2).
    pub registrations_total_per_hour: i64,
    /// Authorization requests one client address may start per hour; each may keep a
    /// transaction for `sessions.transaction_seconds` (R-SEC-2).
    pub authorizations_per_hour: i64,
    /// Authorization requests all addresses together may start per hour (R-SEC-2).
    pub authorizations_total_per_hour: i64,
}

/// How many argon2id computations run at once and how many may wait (R-SEC-1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashingConfig {
    /// Computations at once, each on a thread of its own with its own 19 MiB; 0 means one per
    /// core.
    pub workers: usize,
    /// Computations that may wait for a worker; beyond them a login gets 503 with
    /// `Retry-After`. Absent: 32 per worker.
    pub queue: Option<usize>,
}

impl HashingConfig {
    /// The worker count with 0 resolved to the machine's cores.
    pub fn resolved_workers(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            n => n,
        }
    }

    /// The queue length with its default resolved.
    pub fn resolved_queue(&self) -> usize {
        self.queue.unwrap_or(32 * self.resolved_workers())
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "Servicekonto <noreply@servicekonto.example>".into(),
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
        }
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            window_seconds: 900,
            delay_after: 3,
            lock_after: 10,
            lock_seconds: 900,
            address_lock_after: 50,
            registrations_per_hour: 30,
            resets_per_hour: 30,
            registrations_total_per_hour: 5_000,
            authorizations_per_hour: 3_000,
            authorizations_total_per_hour: 300_000,
        }
    }
}

/// Lifetimes of the artefacts the token endpoint hands out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// Access-token lifetime in seconds (RFC 9068 JWT; short, since it is not looked up).
    pub access_token_seconds: i64,
    /// ID-token lifetime in seconds.
    pub id_token_seconds: i64,
    /// Refresh-token lifetime in seconds, counted from the login that started the grant.
    pub refresh_token_seconds: i64,
    /// Authorization-code lifetime in seconds (at most 60).
    pub code_seconds: i64,
    /// Signing algorithm of access tokens: `RS256` or `ES256`. ID tokens are always RS256.
    pub access_token_alg: SigningAlg,
}

/// Timeouts of the login session (R-SES-2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// The session ends after this many seconds without activity.
    pub idle_seconds: i64,
    /// The session ends this many seconds after login, whatever the activity.
    pub absolute_seconds: i64,
    /// How long a started authorization may wait for login and consent.
    pub transaction_seconds: i64,
    /// R-ACR-6 (TR-03160-1 table 2): an eID authentication counts as `eid` for this long …
    pub eid_seconds: i64,
    /// … and for this long without activity; afterwards the session counts one level lower.
    pub eid_idle_seconds: i64,
    /// The same for an ELSTER authentication (`elster`).
    pub elster_seconds: i64,
    /// Idle limit of an ELSTER authentication.
    pub elster_idle_seconds: i64,
}

/// How signing keys are watched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// How often a running node looks for keys added by `keys rotate`.
    pub reload_seconds: u64,
}

/// JWS algorithms we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl SigningAlg {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:8080".into(),
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/servicekonto.db".into(),
            redis_url: None,
            redis_prefix: "servicekonto:".into(),
            redis_timeout_ms: 2000,
            keys_dir: "keys".into(),
            key_encryption_key: None,
            outbox_dir: "data/outbox".into(),
            demo: true,
            log_format: LogFormat::Text,
            tokens: TokenConfig::default(),
            sessions: SessionConfig::default(),
            keys: KeysConfig::default(),
            client_cache_seconds: 10,
            shutdown_grace_seconds: 10,
            header_read_timeout_seconds: 10,
            max_connections: 4096,
            database_timeout_ms: 3000,
            mail: MailConfig::default(),
            login_throttle: ThrottleConfig::default(),
            password_hashing: HashingConfig::default(),
            client_ip_header: None,
            trusted_proxies: Vec::new(),
            upstream: Vec::new(),
            allow_simulators: false,
            secrets: SecretsConfig::default(),
            audit: AuditConfig::default(),
            staff: StaffConfig::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_token_seconds: 300,
            id_token_seconds: 300,
            refresh_token_seconds: 30 * 24 * 3600,
            code_seconds: 60,
            access_token_alg: SigningAlg::RS256,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_seconds: 20 * 60,
            absolute_seconds: 12 * 3600,
            transaction_seconds: 30 * 60,
            eid_seconds: 30 * 60,
            eid_idle_seconds: 5 * 60,
            elster_seconds: 2 * 3600,
            elster_idle_seconds: 30 * 60,
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self { reload_seconds: 10 }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is not valid TOML for this schema.
    #[error("invalid configuration file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    /// A value breaks a rule.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads defaults, then `file` if given, then the environment (`SERVICEKONTO_*`).
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, |k| std::env::var(k).ok())
    }

    /// As [`Config::load`], with the environment passed in (tests).
    pub fn load_with_env(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })?
            }
            None => Config::default(),
        };
        if let Some(v) = env("SERVICEKONTO_ISSUER") {
            config.issuer = v;
        }
        if let Some(v) = env("SERVICEKONTO_BIND") {
            config.bind = v;
        }
        if let Some(v) = env("SERVICEKONTO_DATABASE_URL") {
            config.database_url = v;
        }
        if let Some(v) = env("SERVICEKONTO_REDIS_URL") {
            config.redis_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("SERVICEKONTO_REDIS_PREFIX") {
            config.redis_prefix = v;
        }
        if let Some(v) = env("SERVICEKONTO_KEY_ENCRYPTION_KEY") {
            config.key_encryption_key = Some(Secret::new(v)).filter(|v| !v.expose().is_empty());
        }
        if let Some(v) = env("SERVICEKONTO_KEYS_DIR") {
            config.keys_dir = v.into();
        }
        if let Some(v) = env("SERVICEKONTO_OUTBOX_DIR") {
            config.outbox_dir = v.into();
        }
        if let Some(v) = env("SERVICEKONTO_SECRETS_FILE") {
            config.secrets.file = v.into();
        }
        if let Some(v) = env("SERVICEKONTO_SMTP_PASSWORD") {
            config.mail.smtp_password = Some(Secret::new(v)).filter(|v| !v.expose().is_empty());
        }
        for name in SECRET_NAMES {
            if let Some(v) = env(&format!("SERVICEKONTO_SECRET_{}", name.to_ascii_uppercase()))
                && let Some(entries) = config.secrets.entries_mut(name)
            {
                *entries = v
                    .split(',')
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| Secret::new(e.trim().to_string()))
                    .collect();
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let issuer = url::Url::parse(&self.issuer).map_err(|e| ConfigError::Invalid(format!("issuer {:?}: {e}", self.issuer)))?;
        if issuer.query().is_some() || issuer.fragment().is_some() || self.issuer.ends_with('/') {
            return Err(ConfigError::Invalid("issuer must have no query, fragment or trailing slash".into()));
        }
        if issuer.scheme() != "https" && !self.issuer_is_loopback() {
            return Err(ConfigError::Invalid("issuer must use https unless it is a loopback address".into()));
        }
        if self.key_encryption_key().is_some_and(|k| k.is_err()) {
            return Err(ConfigError::Invalid("key_encryption_key must be 32 bytes in base64url".into()));
        }
        if self.header_read_timeout_seconds == 0 || self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "header_read_timeout_seconds and max_connections must be positive".into(),
            ));
        }
        for name in SECRET_NAMES {
            let entries = self.secrets.entries(name);
            if !entries.is_empty() {
                crate::secret::KeyRing::parse(entries).map_err(|e| ConfigError::Invalid(format!("secrets.{name}: {e}")))?;
            }
        }
        if self.secrets.eid_pseudonym_key.len() > 1 {
            return Err(ConfigError::Invalid(
                "secrets.eid_pseudonym_key takes one version: card pseudonyms are kept only as its hash".into(),
            ));
        }
        crate::proxies::Networks::parse(&self.staff.networks).map_err(|e| ConfigError::Invalid(format!("staff.networks: {e}")))?;
        if !(1..=3650).contains(&self.audit.retention_days) {
            return Err(ConfigError::Invalid("audit.retention_days must be 1..=3650".into()));
        }
        if !(1..=60).contains(&self.tokens.code_seconds) {
            return Err(ConfigError::Invalid("tokens.code_seconds must be 1..=60".into()));
        }
        for (name, v) in [
            ("tokens.access_token_seconds", self.tokens.access_token_seconds),
            ("tokens.id_token_seconds", self.tokens.id_token_seconds),
            ("tokens.refresh_token_seconds", self.tokens.refresh_token_seconds),
            ("sessions.idle_seconds", self.sessions.idle_seconds),
            ("sessions.absolute_seconds", self.sessions.absolute_seconds),
            ("sessions.transaction_seconds", self.sessions.transaction_seconds),
            ("sessions.eid_seconds", self.sessions.eid_seconds),
            ("sessions.eid_idle_seconds", self.sessions.eid_idle_seconds),
            ("sessions.elster_seconds", self.sessions.elster_seconds),
            ("sessions.elster_idle_seconds", self.sessions.elster_idle_seconds),
            ("login_throttle.window_seconds", self.login_throttle.window_seconds),
            ("login_throttle.delay_after", self.login_throttle.delay_after),
            ("login_throttle.lock_after", self.login_throttle.lock_after),
            ("login_throttle.lock_seconds", self.login_throttle.lock_seconds),
            ("login_throttle.address_lock_after", self.login_throttle.address_lock_after),
            ("login_throttle.registrations_per_hour", self.login_throttle.registrations_per_hour),
            ("login_throttle.resets_per_hour", self.login_throttle.resets_per_hour),
            (
                "login_throttle.registrations_total_per_hour",
                self.login_throttle.registrations_total_per_hour,
            ),
            (
                "login_throttle.authorizations_per_hour",
                self.login_throttle.authorizations_per_hour,
            ),
            (
                "login_throttle.authorizations_total_per_hour",
                self.login_throttle.authorizations_total_per_hour,
            ),
        ] {
            if v <= 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for u in &self.upstream {
            let id_ok =
                !u.id.is_empty() && u.id.len() <= 32 && u.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !id_ok || !ids.insert(u.id.clone()) {
                return Err(ConfigError::Invalid(format!("upstream id {:?} must be unique: a-z, 0-9, -", u.id)));
            }
            if url::Url::parse(&u.issuer).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "upstream {}: issuer {:?} is not a URL",
                    u.id, u.issuer
                )));
            }
            if u.auth_method == Some(UpstreamAuth::ClientSecretBasic) && u.client_secret.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "upstream {}: client_secret_basic needs client_secret",
                    u.id
                )));
            }
            if let Some((v, _)) = u.acr_map.iter().find(|(_, l)| crate::trust::TrustLevel::parse(l).is_none()) {
                return Err(ConfigError::Invalid(format!("upstream {}: acr_map {v:?} names no level", u.id)));
            }
        }
        crate::proxies::TrustedProxies::new(self.client_ip_header.as_deref(), &self.trusted_proxies).map_err(ConfigError::Invalid)?;
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::Invalid(format!("mail.from {:?} is not a mailbox", self.mail.from)));
        }
        Ok(())
    }

    /// How long a request waits for a database connection.
    pub fn database_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database_timeout_ms)
    }

    /// The key-encryption key's bytes, if one is configured.
    pub fn key_encryption_key(&self) -> Option<Result<Vec<u8>, ()>> {
        self.key_encryption_key.as_ref().map(|k| {
            crate::secret::b64_decode(k.expose().trim_end_matches('='))
                .filter(|b| b.len() == 32)
                .ok_or(())
        })
    }

    /// Whether the issuer's host is a loopback address (development and tests).
    pub fn issuer_is_loopback(&self) -> bool {
        match url::Url::parse(&self.issuer).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// Whether the issuer is served over https (then cookies are `Secure`).
    pub fn issuer_is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Whether `/demo` is served: asked for, and only on a loopback issuer.
    pub fn demo_enabled(&self) -> bool {
        self.demo && self.issuer_is_loopback()
    }

    /// An absolute URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The resource API's base URL, also the audience its tokens must name (R-API-2).
    pub fn api_url(&self) -> String {
        self.url(crate::paths::API)
    }

    /// How long a retired signing key must stay published: the longest lifetime of a token it
    /// may have signed, plus clock skew.
    pub fn key_retention_seconds(&self) -> i64 {
        self.tokens.access_token_seconds.max(self.tokens.id_token_seconds) + 300
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_install() {
        let c = Config::load_with_env(None, |_| None).unwrap();
        assert_eq!(c.issuer, "http://localhost:8080");
        assert_eq!(c.database_url, "sqlite://data/servicekonto.db");
        assert!(c.demo_enabled());
    }

    #[test]
    fn environment_overrides_file() {
        let dir = std::env::temp_dir().join(format!("sk-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "issuer = \"https://idp.example\"\nbind = \"0.0.0.0:1\"\n[tokens]\naccess_token_seconds = 120\n",
        )
        .unwrap();
        let c = Config::load_with_env(Some(&file), |k| (k == "SERVICEKONTO_BIND").then(|| "127.0.0.1:9".to_string())).unwrap();
        assert_eq!(c.issuer, "https://idp.example");
        assert_eq!(c.bind, "127.0.0.1:9");
        assert_eq!(c.tokens.access_token_seconds, 120);
        assert_eq!(c.tokens.id_token_seconds, 300);
        assert!(!c.demo_enabled());
    }

    #[test]
    fn r_sec_7_secrets_come_from_the_environment_with_versions_and_must_be_well_formed() {
        let good = format!("2:{},1:{}A", "A".repeat(43), "B".repeat(42));
        let c = Config::load_with_env(None, |k| (k == "SERVICEKONTO_SECRET_CSRF_KEY").then(|| good.clone())).unwrap();
        assert_eq!(c.secrets.csrf_key.len(), 2);
        assert!(format!("{c:?}").contains("redacted") && !format!("{c:?}").contains(&"A".repeat(43)));
        for bad in ["1:short", "x:AAAA", "nocolon"] {
            let r = Config::load_with_env(None, |k| (k == "SERVICEKONTO_SECRET_PAIRWISE_SUBJECT_KEY").then(|| bad.to_string()));
            assert!(
                matches!(r, Err(ConfigError::Invalid(m)) if m.contains("pairwise_subject_key")),
                "{bad}"
            );
        }
        let two = format!("1:{},2:{}A", "A".repeat(43), "B".repeat(42));
        assert!(Config::load_with_env(None, |k| (k == "SERVICEKONTO_SECRET_EID_PSEUDONYM_KEY").then(|| two.clone())).is_err());
    }

    #[test]
    fn rejects_plain_http_on_public_hosts_and_unknown_keys() {
        assert!(Config::load_with_env(None, |k| (k == "SERVICEKONTO_ISSUER").then(|| "http://idp.example".into())).is_err());
        let dir = std::env::temp_dir().join(format!("sk-config2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "isuer = \"typo\"\n").unwrap();
        assert!(matches!(
            Config::load_with_env(Some(&file), |_| None),
            Err(ConfigError::Parse { .. })
        ));
    }
}
