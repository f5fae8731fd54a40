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

use prometheus::IntCounter;

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
    /// Adds one to the counter at `key`, created with expiry `expires_at` when absent; returns
    /// the new value (rate-limit counters).
    fn incr(&self, key: String, expires_at: Timestamp, now: Timestamp) -> BoxFuture<'_, Result<i64, EphemeralError>>;
    /// Takes one back from a live counter above zero, keeping its expiry; creates nothing.
    fn decr(&self, key: String, now: Timestamp) -> BoxFuture<'_, Result<(), EphemeralError>>;
    /// Checks that the backend answers (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), EphemeralError>>;
}

/// A cheap, cloneable handle to the configured backend, with typed JSON helpers; failed
/// operations are counted for `/metrics`.
#[derive(Clone)]
pub struct Ephemeral {
    backend: Arc<dyn EphemeralBackend>,
    errors: IntCounter,
}

impl Ephemeral {
    /// A handle over `backend` counting failures in `errors`.
    pub fn new(backend: Arc<dyn EphemeralBackend>, errors: IntCounter) -> Self {
        Self { backend, errors }
    }

    /// The in-process default, with a counter of its own.
    pub fn memory() -> Self {
        #[allow(clippy::expect_used)]
        let errors = IntCounter::new("ephemeral_errors", "unregistered").expect("valid metric name");
        Self::new(Arc::new(MemoryStore::default()), errors)
    }

    fn counted<T>(&self, r: Result<T, EphemeralError>) -> Result<T, EphemeralError> {
        if r.is_err() {
            self.errors.inc();
        }
        r
    }

    /// Whether the backend answers.
    pub async fn ping(&self) -> Result<(), String> {
        let r = self.backend.ping().await;
        self.counted(r).map_err(|e| e.to_string())
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
        let r = self.backend.put(key.to_string(), text, expires_at, now).await;
        self.counted(r)
    }

    /// Reads a value stored with [`Ephemeral::put_json`]; unreadable values count as absent.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, key: &str, now: Timestamp) -> Result<Option<T>, EphemeralError> {
        let r = self.backend.get(key.to_string(), now).await;
        Ok(self.counted(r)?.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Takes a value stored with [`Ephemeral::put_json`] (single use).
    pub async fn take_json<T: serde::de::DeserializeOwned>(&self, key: &str, now: Timestamp) -> Result<Option<T>, EphemeralError> {
        let r = self.backend.take(key.to_string(), now).await;
        Ok(self.counted(r)?.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Records `key` once; `false` when it was already recorded (replay).
    pub async fn remember_once(&self, key: &str, expires_at: Timestamp, now: Timestamp) -> Result<bool, EphemeralError> {
        let r = self.backend.put_if_absent(key.to_string(), String::new(), expires_at, now).await;
        self.counted(r)
    }

    /// Counts one event in the window ending at `window_end`; the count so far in that window.
    pub async fn count(&self, key: &str, window_end: Timestamp, now: Timestamp) -> Result<i64, EphemeralError> {
        let r = self.backend.incr(key.to_string(), window_end, now).await;
        self.counted(r)
    }

    /// Takes back one event counted with [`Ephemeral::count`] (an attempt counted in advance
    /// that turned out well).
    pub async fn uncount(&self, key: &str, now: Timestamp) -> Result<(), EphemeralError> {
        let r = self.backend.decr(key.to_string(), now).await;
        self.counted(r)
    }

    /// Removes a value.
    pub async fn delete(&self, key: &str) -> Result<(), EphemeralError> {
        let r = self.backend.delete(key.to_string()).await;
        self.counted(r)
    }
}
