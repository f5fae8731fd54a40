//! Short-lived shared state — login sessions, authorization codes, pending authorizations,
//! replay caches — behind one small trait. The in-process implementation is the embedded
//! default; a Redis one serves several nodes. Every item has a time to live, and single-use
//! items are taken atomically, so one redemption wins even under concurrency.

mod memory;
mod redis;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use memory::MemoryStore;
pub use redis::RedisStore;

use crate::clock::Timestamp;

/// A boxed future, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The ephemeral store could not be reached or answered nonsense.
#[derive(Debug, thiserror::Error)]
#[error("ephemeral store unavailable: {0}")]
pub struct EphemeralError(pub String);

/// Operations every backend provides. Values are opaque strings (JSON by convention);
/// `expires_at` is absolute, in the caller's clock.
pub trait EphemeralBackend: Send + Sync {
    /// Stores `value` under `key` until `expires_at`, replacing any earlier value.
    fn put(&self, key: String, value: String, expires_at: Timestamp, now: Timestamp) -> BoxFuture<'_, Result<(), EphemeralError>>;
    /// Stores only when `key` is absent or expired; `true` when stored.
    fn put_if_absent(
        &self,
        key: String,
        value: String,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<bool, EphemeralError>>;
    /// Reads a live value.
    fn get(&self, key: String, now: Timestamp) -> BoxFuture<'_, Result<Option<String>, EphemeralError>>;
    /// Reads and removes a live value in one step: of concurrent callers at most one gets it.
    fn take(&self, key: String, now: Timestamp) -> BoxFuture<'_, Result<Option<String>, EphemeralError>>;
    /// Removes a value.
    fn delete(&self, key: String) -> BoxFuture<'_, Result<(), EphemeralError>>;
}

/// A cheap, cloneable handle to the configured backend, with typed JSON helpers.
#[derive(Clone)]
pub struct Ephemeral(Arc<dyn EphemeralBackend>);

impl Ephemeral {
    /// The in-process default.
    pub fn memory() -> Self {
        Self(Arc::new(MemoryStore::default()))
    }

    /// A Redis store shared by several nodes.
    pub fn redis(store: RedisStore) -> Self {
        Self(Arc::new(store))
    }

    /// Stores a serialisable value.
    pub async fn put_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), EphemeralError> {
        let text = serde_json::to_string(value).map_err(|e| EphemeralError(e.to_string()))?;
        self.0.put(key.to_string(), text, expires_at, now).await
    }

    /// Reads a value stored with [`Ephemeral::put_json`]; unreadable values count as absent.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str, now: Timestamp) -> Result<Option<T>, EphemeralError> {
        Ok(self.0.get(key.to_string(), now).await?.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Takes a value stored with [`Ephemeral::put_json`] (single use).
    pub async fn take_json<T: serde::de::DeserializeOwned>(&self, key: &str, now: Timestamp) -> Result<Option<T>, EphemeralError> {
        Ok(self.0.take(key.to_string(), now).await?.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Records `key` once; `false` when it was already recorded (replay).
    pub async fn remember_once(&self, key: &str, expires_at: Timestamp, now: Timestamp) -> Result<bool, EphemeralError> {
        self.0.put_if_absent(key.to_string(), String::new(), expires_at, now).await
    }

    /// Removes a value.
    pub async fn delete(&self, key: &str) -> Result<(), EphemeralError> {
        self.0.delete(key.to_string()).await
    }
}
