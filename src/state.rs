//! The one application state, built at start-up and narrowed per handler with `FromRef`.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;

use crate::accounts::links::Urls;
use crate::accounts::password::Hasher;
use crate::accounts::throttle::Throttle;
use crate::clients::ClientDirectory;
use crate::clients::auth::ClientAuthenticator;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::ephemeral::{Ephemeral, EphemeralBackend, EphemeralError, MemoryStore, RedisStore};
use crate::grants::logout::BackchannelLogout;
use crate::grants::tokens::TokenIssuer;
use crate::keys::{KeyError, KeySource, Keys};
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::paths;
use crate::proxies::{Networks, TrustedProxies};
use crate::secrets::ServerSecrets;
use crate::sessions::Sessions;
use crate::store::{Store, StoreError};
use crate::templates::Templates;

/// Everything a request may need, shared: axum clones the state for every middleware, route
/// and extractor of every request, so a clone is one reference count, not a copy of the
/// configuration's strings and maps.
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// The parts a handler or extractor takes on its own (`State<Keys>`, …).
macro_rules! narrow {
    ($($field:ident: $ty:ty),*) => {$(
        impl FromRef<AppState> for $ty {
            fn from_ref(state: &AppState) -> $ty {
                state.$field.clone()
            }
        }
    )*};
}
narrow!(config: Arc<Config>, keys: Keys, metrics: Metrics, clock: crate::clock::Clock);

/// What [`AppState`] holds.
pub struct App {
    /// Configuration.
    pub config: Arc<Config>,
    /// Durable storage.
    pub store: Store,
    /// Short-lived shared state.
    pub ephemeral: Ephemeral,
    /// Signing keys.
    pub keys: Keys,
    /// Login sessions.
    pub sessions: Sessions,
    /// Token minting and checking.
    pub tokens: TokenIssuer,
    /// Registered clients, cached.
    pub clients: ClientDirectory,
    /// Client authentication.
    pub client_auth: ClientAuthenticator,
    /// HTML rendering.
    pub pages: Templates,
    /// The clock every request reads once.
    pub clock: crate::clock::Clock,
    /// Server secrets (R-SEC-7): CSRF key, eID pseudonym key, pepper, pairwise key.
    pub secrets: ServerSecrets,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Outgoing mail.
    pub mailer: Mailer,
    /// Failed-login throttle.
    pub throttle: Throttle,
    /// The bounded password-hashing pool (R-SEC-1).
    pub hasher: Hasher,
    /// The reverse proxies whose client-address header is believed.
    pub proxies: TrustedProxies,
    /// The networks the staff pages answer, when limited (R-SEC-4).
    pub staff_networks: Option<Networks>,
    /// Absolute URLs for links in mails.
    pub urls: Urls,
    /// Back-channel logout to services.
    pub backchannel: BackchannelLogout,
    /// Upstream identity providers (eID service).
    pub upstreams: crate::upstream::Upstreams,
}

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Database trouble.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key trouble.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Redis trouble.
    #[error(transparent)]
    Ephemeral(#[from] EphemeralError),
    /// Server secrets missing, changed or malformed (R-SEC-7).
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretError),
    /// Template or metrics set-up trouble.
    #[error("start-up: {0}")]
    Templates(String),
}

/// Where the configuration puts the signing keys: sealed in the database when a
/// key-encryption key is set, else files in `keys_dir`.
pub fn key_source(config: &Config, store: &Store) -> Result<KeySource, KeyError> {
    match config.key_encryption_key() {
        Some(Ok(kek)) => KeySource::database(store.clone(), &kek),
        Some(Err(())) => Err(KeyError::Invalid(
            "key_encryption_key".into(),
            "must be 32 bytes in base64url".into(),
        )),
        None => Ok(KeySource::Dir(config.keys_dir.clone())),
    }
}

impl AppState {
    /// What the self-service flows of `accounts` use.
    pub fn account_env(&self) -> crate::accounts::Env<'_> {
        crate::accounts::Env {
            store: &self.store,
            sessions: &self.sessions,
            mailer: &self.mailer,
            urls: &self.urls,
            throttle: &self.throttle,
            hasher: &self.hasher,
        }
    }

    /// Connects storage, applies migrations, loads or creates keys and server secrets.
    pub async fn build(config: Config, now: Timestamp) -> Result<AppState, StartError> {
        let config = Arc::new(config);
        let clock = crate::clock::Clock::system();
        let store = Store::connect(&config.database_url, config.database_timeout()).await?;
        store.migrate().await?;
        let metrics = Metrics::new().map_err(|e| StartError::Templates(e.to_string()))?;
        let backend: Arc<dyn EphemeralBackend> = match &config.redis_url {
            Some(url) => {
                let timeout = std::time::Duration::from_millis(config.redis_timeout_ms);
                Arc::new(RedisStore::connect(url, &config.redis_prefix, timeout).await?)
            }
            None => Arc::new(MemoryStore::default()),
        };
        let ephemeral = Ephemeral::new(backend, metrics.ephemeral_errors.clone());
        let keys = Keys::open(
            key_source(&config, &store)?,
            config.tokens.access_token_alg,
            config.key_retention_seconds(),
            now,
        )
        .await?;
        let secrets = ServerSecrets::load(&config.secrets, &store, now).await?;
        let audiences = vec![
            config.issuer.clone(),
            config.url(paths::TOKEN),
            config.url(paths::REVOKE),
            config.url(paths::INTROSPECT),
        ];
        let clients = ClientDirectory::new(store.clone(), config.client_cache_seconds, secrets.pairwise_subject_key.clone());
        let pages = Templates::load().map_err(StartError::Templates)?;
        let mailer = Mailer::new(&config, store.clone(), pages.clone()).map_err(StartError::Templates)?;
        let tokens = TokenIssuer::new(config.clone(), keys.clone(), secrets.pairwise_subject_key.clone());
        let backchannel = BackchannelLogout::new(store.clone(), clients.clone(), tokens.clone(), keys.clone(), config.issuer.clone());
        Ok(AppState(Arc::new(App {
            upstreams: crate::upstream::Upstreams::new(&config, ephemeral.clone(), keys.clone()),
            backchannel,
            mailer,
            throttle: Throttle::new(ephemeral.clone(), config.login_throttle.clone()),
            hasher: Hasher::from_config(&config.password_hashing),
            staff_networks: match config.staff.networks.is_empty() {
                true => None,
                false => Some(Networks::parse(&config.staff.networks).map_err(StartError::Templates)?),
            },
            proxies: TrustedProxies::new(config.client_ip_header.as_deref(), &config.trusted_proxies).map_err(StartError::Templates)?,
            urls: Urls::new(&config.issuer),
            sessions: Sessions::new(ephemeral.clone(), config.sessions.clone(), clock.clone()),
            tokens,
            client_auth: ClientAuthenticator::new(clients.clone(), secrets.client_secret_pepper.clone(), ephemeral.clone(), audiences),
            clients,
            pages,
            clock,
            secrets,
            metrics,
            config,
            store,
            ephemeral,
            keys,
        })))
    }
}
